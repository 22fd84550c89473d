// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Connections: connect with a timeout, and the I/O engine that moves
 * queued requests out and replies in.  The socket is non-blocking and every
 * wait is a poll() bounded by the connection's timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

void skv_set_msg(struct skv_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
}

/* Record a connection error: it sticks, the stream is no longer trusted. */
int skv_fail(struct skv_conn *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->err)
		return c->err;
	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	c->err = code;
	return code;
}

bool skv_buf_reserve(struct skv_buf *b, size_t extra)
{
	size_t live = b->len - b->off;
	size_t want;
	uint8_t *p;

	if (b->cap - b->len >= extra)
		return true;
	/* Compact first: cheaper than growing, and keeps buffers bounded. */
	if (b->off) {
		memmove(b->data, b->data + b->off, live);
		b->off = 0;
		b->len = live;
		if (b->cap - b->len >= extra)
			return true;
	}
	want = b->cap ? b->cap : 4096;
	while (want - live < extra) {
		if (want > SIZE_MAX / 2)
			return false;
		want *= 2;
	}
	p = realloc(b->data, want);
	if (!p)
		return false;
	b->data = p;
	b->cap = want;
	return true;
}

void skv_drop_consumed(struct skv_conn *c)
{
	c->in.off += c->consume;
	c->consume = 0;
	if (c->in.off == c->in.len)
		c->in.off = c->in.len = 0;
}

static int io_error(struct skv_conn *c, const char *what, int e)
{
	if (e == EPIPE || e == ECONNRESET)
		return skv_fail(c, SKV_E_CLOSED, "%s: %s", what, strerror(e));
	return skv_fail(c, SKV_E_IO, "%s: %s", what, strerror(e));
}

static int do_send(struct skv_conn *c)
{
	struct skv_buf *b = &c->out;

	while (b->off < b->len) {
		ssize_t n = send(c->fd, b->data + b->off, b->len - b->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return io_error(c, "send", errno);
		}
		b->off += (size_t)n;
	}
	if (b->off == b->len)
		b->off = b->len = 0;
	return 0;
}

static int do_recv(struct skv_conn *c)
{
	struct skv_buf *b = &c->in;

	while (b->len < b->cap) {
		ssize_t n = recv(c->fd, b->data + b->len, b->cap - b->len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return io_error(c, "recv", errno);
		}
		if (n == 0) {
			c->eof = true;
			break;
		}
		b->len += (size_t)n;
	}
	return 0;
}

/*
 * Move bytes until either `need` unparsed bytes are buffered (need > 0), or
 * (need == 0) everything queued is sent.  Sending continues while waiting
 * for replies, and replies are read while sending, so a long pipeline never
 * deadlocks with both sides blocked on full socket buffers.  With need == 0,
 * reading only fills the space the buffer already has; when that is full and
 * the socket takes no more, return early and let skv_pipe_next() finish.
 */
int skv_pump(struct skv_conn *c, size_t need)
{
	if (c->err)
		return c->err;
	if (need) {
		size_t live = c->in.len - c->in.off;

		if (live < need && !skv_buf_reserve(&c->in, need - live))
			return skv_fail(c, SKV_E_NOMEM, "no memory for a %zu byte reply", need);
	}
	for (;;) {
		struct pollfd pfd = { .fd = c->fd };
		size_t live = c->in.len - c->in.off;
		int rc, wait;

		if (need && live >= need)
			return 0;
		if (!need && c->out.off == c->out.len)
			return 0;
		if (need && c->eof) {
			if (live)
				return skv_fail(c, SKV_E_PROTO,
						"connection closed mid-reply (%zu of %zu bytes)",
						live, need);
			return skv_fail(c, SKV_E_CLOSED, "connection closed by peer");
		}

		if (c->out.off < c->out.len)
			pfd.events |= POLLOUT;
		if (!c->eof) {
			if (c->in.len == c->in.cap && c->in.off)
				skv_buf_reserve(&c->in, 1);	/* compacts, never grows here */
			if (c->in.len < c->in.cap)
				pfd.events |= POLLIN;
		}
		/*
		 * Flushing with no room left to read replies into: waiting for
		 * the socket to drain could wait on ourselves, so push only what
		 * fits now and leave the rest to skv_pipe_next().
		 */
		wait = !need && !(pfd.events & POLLIN) ? 0 : c->timeout_ms;

		rc = poll(&pfd, 1, wait);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return io_error(c, "poll", errno);
		}
		if (rc == 0 && !wait)
			return 0;
		if (rc == 0)
			return skv_fail(c, SKV_E_TIMEOUT, "no progress in %d ms", c->timeout_ms);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			rc = do_recv(c);
			if (rc)
				return rc;
		}
		if (pfd.revents & (POLLOUT | POLLERR)) {
			rc = do_send(c);
			if (rc)
				return rc;
		}
		if (pfd.revents & POLLNVAL)
			return skv_fail(c, SKV_E_IO, "socket is not open");
	}
}

static int conn_alloc(int fd, const struct skv_opts *opts, struct skv_conn **out)
{
	struct skv_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return SKV_E_NOMEM;
	c->fd = fd;
	c->timeout_ms = SKV_DEFAULT_TIMEOUT_MS;
	c->max_pending = SKV_DEFAULT_MAX_PENDING;
	c->max_queued = SKV_DEFAULT_MAX_QUEUED;
	c->next_id = 1;
	if (opts) {
		if (opts->timeout_ms)
			c->timeout_ms = opts->timeout_ms < 0 ? -1 : opts->timeout_ms;
		if (opts->max_pending)
			c->max_pending = opts->max_pending;
		if (opts->max_queued_bytes)
			c->max_queued = opts->max_queued_bytes;
	}
	c->pending = calloc(c->max_pending, sizeof(*c->pending));
	c->in.data = malloc(SKV_RBUF_MIN);
	if (!c->pending || !c->in.data) {
		free(c->pending);
		free(c->in.data);
		free(c);
		return SKV_E_NOMEM;
	}
	c->in.cap = SKV_RBUF_MIN;
	*out = c;
	return SKV_OK;
}

/* opts.client_key: prove it on the new connection, or close it. */
static int conn_authenticate(const struct skv_opts *opts, struct skv_conn **conn)
{
	int rc;

	if (!opts || !opts->client_key)
		return SKV_OK;
	rc = skv_authenticate(*conn, opts->client_key);
	if (rc) {
		skv_close(*conn);
		*conn = NULL;
	}
	return rc;
}

int skv_conn_from_fd(int fd, const struct skv_opts *opts, struct skv_conn **conn)
{
	int fl;
	int rc;

	*conn = NULL;
	if (fd < 0)
		return SKV_E_INVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return SKV_E_INVAL;
	rc = conn_alloc(fd, opts, conn);
	if (rc) {
		close(fd);
		return rc;
	}
	return conn_authenticate(opts, conn);
}

/* Non-blocking connect bounded by timeout_ms; returns 0 or an errno. */
static int connect_one(const struct addrinfo *ai, int timeout_ms, int *fdp)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, e = 0, one = 1, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			e = errno;
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do {
			rc = poll(&pfd, 1, timeout_ms);
		} while (rc < 0 && errno == EINTR);
		if (rc <= 0) {
			e = rc == 0 ? ETIMEDOUT : errno;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			e = errno;
		if (e)
			goto fail;
	}
	/* Small requests must not wait for Nagle: latency is the point. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return e;
}

int skv_connect_opts(const char *host, uint16_t port, const struct skv_opts *opts,
		     struct skv_conn **conn)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG,
	};
	struct addrinfo *res, *ai;
	int timeout_ms = SKV_DEFAULT_TIMEOUT_MS;
	char service[8];
	int fd = -1, e = 0, rc;

	if (!conn)
		return SKV_E_INVAL;
	*conn = NULL;
	if (!host || !*host || !port)
		return SKV_E_INVAL;
	if (opts && opts->timeout_ms)
		timeout_ms = opts->timeout_ms < 0 ? -1 : opts->timeout_ms;
	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
		/* AI_ADDRCONFIG hides ::1 on hosts with only loopback IPv6. */
		hints.ai_flags &= ~AI_ADDRCONFIG;
		rc = getaddrinfo(host, service, &hints, &res);
	}
	if (rc)
		return rc == EAI_MEMORY ? SKV_E_NOMEM : SKV_E_RESOLVE;
	for (ai = res; ai; ai = ai->ai_next) {
		e = connect_one(ai, timeout_ms, &fd);
		if (!e)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = e;
		return e == ETIMEDOUT ? SKV_E_TIMEOUT : SKV_E_CONNECT;
	}
	rc = conn_alloc(fd, opts, conn);
	if (rc) {
		close(fd);
		return rc;
	}
	return conn_authenticate(opts, conn);
}

int skv_connect(const char *host, uint16_t port, struct skv_conn **conn)
{
	return skv_connect_opts(host, port, NULL, conn);
}

void skv_close(struct skv_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->pending);
	free(c->out.data);
	free(c->in.data);
	free(c->items);
	free(c);
}

void skv_set_timeout(struct skv_conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms == 0 ? SKV_DEFAULT_TIMEOUT_MS :
			timeout_ms < 0 ? -1 : timeout_ms;
}

int skv_conn_fd(const struct skv_conn *c)
{
	return c->fd;
}

const char *skv_conn_errmsg(const struct skv_conn *c)
{
	return c->errmsg;
}

uint32_t skv_conn_retry_us(const struct skv_conn *c)
{
	return c->retry_us;
}

void skv_conn_set_epoch(struct skv_conn *c, uint64_t epoch)
{
	/* The wire carries 32 bits: map versions stay below 2^32. */
	c->epoch = (uint32_t)epoch;
}

/* ---- raw access for tests ---- */

static int raw_ready(struct skv_conn *c)
{
	if (c->count)
		return SKV_E_BUSY;
	skv_drop_consumed(c);
	return 0;
}

/* Waits up to the connection's timeout for @events; EINTR is not an error. */
static int raw_wait(struct skv_conn *c, short events)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int rc = poll(&pfd, 1, c->timeout_ms);

	if (rc == 0)
		return SKV_E_TIMEOUT;
	if (rc < 0 && errno != EINTR)
		return SKV_E_IO;
	return 0;
}

int skv_send_raw(struct skv_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int rc = raw_ready(c);

	if (rc)
		return rc;
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return errno == EPIPE || errno == ECONNRESET ? SKV_E_CLOSED : SKV_E_IO;
		rc = raw_wait(c, POLLOUT);
		if (rc)
			return rc;
	}
	return 0;
}

int skv_recv_raw(struct skv_conn *c, void *buf, size_t len)
{
	uint8_t *p = buf;
	int rc = raw_ready(c);

	if (rc)
		return rc;
	/* Bytes the engine read ahead come first. */
	if (c->in.len > c->in.off) {
		size_t n = c->in.len - c->in.off;

		if (n > len)
			n = len;
		memcpy(p, c->in.data + c->in.off, n);
		c->in.off += n;
		p += n;
		len -= n;
	}
	while (len) {
		ssize_t n;

		if (c->eof)
			return SKV_E_CLOSED;
		n = recv(c->fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0) {
			c->eof = true;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return SKV_E_CLOSED;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return SKV_E_IO;
		rc = raw_wait(c, POLLIN);
		if (rc)
			return rc;
	}
	return 0;
}
