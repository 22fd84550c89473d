// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator protocol's blocking client (see coord_proto.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* SOCK_CLOEXEC, SOCK_NONBLOCK */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coord_proto.h"
#include "../common/auth_key.h"
#include "../common/parse.h"

/* ---- blocking I/O ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events until @deadline (ms, <0: forever). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int left = -1, n;

		if (deadline >= 0) {
			int64_t d = deadline - now_ms();

			if (d <= 0)
				return -ETIMEDOUT;
			left = d > 1000000 ? 1000000 : (int)d;
		}
		n = poll(&pfd, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/*
 * Move all @len bytes through @fd in the direction @events says (POLLOUT:
 * send, POLLIN: receive), waiting while the socket is not ready, until
 * @deadline.
 */
static int xfer_full(int fd, uint8_t *p, size_t len, short events,
		     int64_t deadline)
{
	while (len) {
		ssize_t n = events == POLLOUT ?
			send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT) :
			recv(fd, p, len, MSG_DONTWAIT);

		if (n == 0 && events == POLLIN)
			return -ECONNRESET;
		if (n < 0) {
			int ret;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			ret = wait_fd(fd, events, deadline);
			if (ret)
				return ret;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int coord_write_all(int fd, const void *data, size_t len, int timeout_ms)
{
	/* send() does not write through the pointer; the cast is for sharing. */
	return xfer_full(fd, (uint8_t *)data, len, POLLOUT,
			 deadline_of(timeout_ms));
}

static int read_full(int fd, uint8_t *p, size_t len, int64_t deadline)
{
	return xfer_full(fd, p, len, POLLIN, deadline);
}

int coord_read_frame(int fd, int timeout_ms, struct coord_hdr *h,
		     uint8_t **body)
{
	int64_t deadline = deadline_of(timeout_ms);
	uint8_t raw[COORD_HDR_LEN];
	uint8_t *b = NULL;
	int ret;

	*body = NULL;
	ret = read_full(fd, raw, sizeof(raw), deadline);
	if (ret)
		return ret;
	if (coord_hdr_decode(raw, h))
		return -EBADMSG;
	if (h->body_len) {
		b = malloc(h->body_len);
		if (!b)
			return -ENOMEM;
		ret = read_full(fd, b, h->body_len, deadline);
		if (ret) {
			free(b);
			return ret;
		}
	}
	*body = b;
	return 0;
}

int coord_resolve_tcp(const char *host, uint16_t port, bool passive,
		      struct addrinfo **res)
{
	struct addrinfo hints;
	char port_s[8];

	snprintf(port_s, sizeof(port_s), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	return getaddrinfo(host, port_s, &hints, res);
}

int coord_client_connect(struct coord_client *c, const char *hostport,
			 int timeout_ms)
{
	struct addrinfo *res = NULL, *ai;
	char host[256];
	uint16_t port;
	int ret, fd = -1, one = 1;

	c->fd = -1;
	c->next_id = 1;
	c->timeout_ms = 5000;
	c->err[0] = '\0';
	if (parse_hostport(hostport, host, sizeof(host), &port)) {
		snprintf(c->err, sizeof(c->err), "bad address '%.200s' (HOST:PORT)",
			 hostport);
		return -EINVAL;
	}
	ret = coord_resolve_tcp(host, port, false, &res);
	if (ret) {
		snprintf(c->err, sizeof(c->err), "%.200s: %s", host,
			 gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	ret = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		int64_t deadline = deadline_of(timeout_ms);
		socklen_t sl = sizeof(int);
		int soerr = 0;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			ret = -errno;
			close(fd);
			fd = -1;
			continue;
		}
		ret = wait_fd(fd, POLLOUT, deadline);
		if (!ret && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
			ret = -errno;
		else if (!ret && soerr)
			ret = -soerr;
		if (!ret)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(c->err, sizeof(c->err), "connect %.200s: %s", hostport,
			 strerror(-ret));
		return ret;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	return 0;
}

void coord_client_close(struct coord_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void coord_reply_free(struct coord_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

int coord_client_call(struct coord_client *c, uint8_t opcode,
		      const void *body, size_t len, struct coord_reply *r)
{
	struct coord_buf out;
	uint64_t id;
	int ret;

	r->status = 0;
	r->body = NULL;
	r->len = 0;
	c->err[0] = '\0';
	if (c->fd < 0) {
		snprintf(c->err, sizeof(c->err), "not connected");
		return -ENOTCONN;
	}
	id = c->next_id++;
	coord_buf_init(&out);
	ret = coord_frame_append(&out, opcode, 0, 0, id, body, len);
	if (!ret)
		ret = coord_write_all(c->fd, out.p, out.len, c->timeout_ms);
	coord_buf_free(&out);
	while (!ret) {
		struct coord_hdr h;
		uint8_t *b;

		ret = coord_read_frame(c->fd, c->timeout_ms, &h, &b);
		if (ret)
			break;
		if (!(h.flags & SKV_COORD_F_REPLY)) {
			free(b);	/* a request for a node daemon: not ours */
			continue;
		}
		if (h.request_id != id || h.opcode != opcode) {
			free(b);
			ret = -EBADMSG;
			break;
		}
		r->status = h.status;
		r->body = b;
		r->len = h.body_len;
		if (h.status)
			snprintf(c->err, sizeof(c->err), "%s",
				 coord_error_msg(h.status, b, h.body_len));
		return 0;
	}
	snprintf(c->err, sizeof(c->err), "coordinator: %s",
		 ret == -EBADMSG ? "malformed reply" : strerror(-ret));
	coord_client_close(c);
	return ret;
}

int coord_client_auth(struct coord_client *c, const struct skv_auth_key *k,
		      int role)
{
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	struct coord_reply r;
	struct coord_buf b;
	int ret;

	if (skv_auth_hello_init(&hello, k, (enum skv_auth_role)role)) {
		snprintf(c->err, sizeof(c->err), "no randomness for a nonce");
		return -EIO;
	}
	coord_buf_init(&b);
	ret = coord_auth_hello_encode(&b, &hello);
	if (!ret)
		ret = coord_client_call(c, SKV_COORD_OP_AUTH_HELLO, b.p, b.len, &r);
	coord_buf_free(&b);
	if (ret)
		return ret;
	if (r.status) {
		ret = -r.status;
		coord_reply_free(&r);
		return ret;
	}
	ret = coord_auth_challenge_decode(r.body, r.len, &ch);
	coord_reply_free(&r);
	if (ret || !skv_auth_initiator_prove(k, &hello, &ch, &proof)) {
		snprintf(c->err, sizeof(c->err), "the coordinator did not prove "
			 "the key: a different key, or not the coordinator");
		coord_client_close(c);
		return -EKEYREJECTED;
	}
	coord_buf_init(&b);
	ret = coord_auth_proof_encode(&b, &proof);
	if (!ret)
		ret = coord_client_call(c, SKV_COORD_OP_AUTH_PROOF, b.p, b.len, &r);
	coord_buf_free(&b);
	if (ret)
		return ret;
	ret = -r.status;
	coord_reply_free(&r);
	return ret;
}
