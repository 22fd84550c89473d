// SPDX-License-Identifier: GPL-2.0
/* Helpers for the steadykv selftests; see skv_util.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <netlink/socket.h>
#include <xxhash.h>

#include "skv_util.h"
#include "steadykv.h"

char st_last_error[256];

static void seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st_last_error, sizeof(st_last_error), fmt, ap);
	va_end(ap);
}

uint64_t st_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- little-endian accessors ---- */

static void put16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v); put16(p + 2, v >> 16); }
static void put64(uint8_t *p, uint64_t v) { put32(p, v); put32(p + 4, v >> 32); }
static uint16_t get16(const uint8_t *p) { return p[0] | (uint16_t)p[1] << 8; }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ---- sockets ---- */

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int st_connect(const char *ip, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1;

	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		seterr("bad address %s", ip);
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		seterr("socket: %s", strerror(errno));
		return -1;
	}
	set_timeouts(fd, ST_IO_TIMEOUT_MS);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		seterr("connect %s:%u: %s", ip, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int st_connect_wait(const char *ip, uint16_t port, int timeout_ms)
{
	uint64_t end = st_now_ms() + timeout_ms;
	int fd;

	for (;;) {
		fd = st_connect(ip, port);
		if (fd >= 0 || st_now_ms() > end)
			return fd;
		usleep(20000);
	}
}

int st_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			seterr("send: %s", n < 0 ? strerror(errno) : "short");
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int st_recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, p + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
			seterr("connection closed after %zu of %zu bytes", got, len);
			return 1;
		}
		if (n < 0) {
			seterr("recv: %s", strerror(errno));
			return -1;
		}
		got += n;
	}
	return 0;
}

void st_close_rst(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

int st_wait_closed(int fd, int timeout_ms)
{
	uint64_t end = st_now_ms() + timeout_ms;
	char buf[4096];

	for (;;) {
		int left = (int)(end - st_now_ms());
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if ((int64_t)(end - st_now_ms()) <= 0)
			return 0;
		if (poll(&p, 1, left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return 1;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return 1;	/* reset */
	}
}

int st_is_open_quiet(int fd, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, wait_ms) == 0;
}

/* ---- frames ---- */

size_t st_hdr(void *buf, uint8_t opcode, uint64_t id, uint32_t body_len)
{
	uint8_t *p = buf;

	memset(p, 0, sizeof(struct skv_hdr));
	put16(p + 0, SKV_WIRE_MAGIC);
	p[2] = SKV_WIRE_VERSION;
	p[3] = opcode;
	put64(p + 8, id);
	put32(p + 16, body_len);
	return sizeof(struct skv_hdr);
}

size_t st_build_range(void *buf, uint8_t op, uint64_t req_id, uint64_t mig_id,
		      uint64_t table, uint64_t start, uint64_t end, uint32_t flags,
		      uint32_t extra)
{
	uint8_t *p = (uint8_t *)buf + sizeof(struct skv_hdr);

	st_hdr(buf, op, req_id, sizeof(struct skv_mig_range_req) + extra);
	memset(p, 0, sizeof(struct skv_mig_range_req));
	put64(p, mig_id);
	put64(p + 8, table);
	put64(p + 16, start);
	put64(p + 24, end);
	put32(p + 32, flags);
	return sizeof(struct skv_hdr) + sizeof(struct skv_mig_range_req);
}

size_t st_build_pull(void *buf, uint64_t req_id, uint64_t mig_id, uint64_t table,
		     uint64_t start, uint64_t end, uint64_t cursor, uint64_t min_version,
		     uint32_t budget)
{
	uint8_t *p = (uint8_t *)buf + sizeof(struct skv_hdr);

	st_hdr(buf, SKV_OP_MIG_PULL, req_id, sizeof(struct skv_pull_req));
	memset(p, 0, sizeof(struct skv_pull_req));
	put64(p, mig_id);
	put64(p + 8, table);
	put64(p + 16, start);
	put64(p + 24, end);
	put64(p + 32, cursor);
	put64(p + 40, min_version);
	put32(p + 48, budget);
	return sizeof(struct skv_hdr) + sizeof(struct skv_pull_req);
}

size_t st_build_ping(void *buf, uint64_t id)
{
	return st_hdr(buf, SKV_OP_PING, id, 0);
}

size_t st_build_put(void *buf, uint64_t id, uint64_t table, const void *key,
		    uint16_t klen, const void *val, uint32_t vlen, uint64_t expect)
{
	uint8_t *p = (uint8_t *)buf + sizeof(struct skv_hdr);
	uint32_t body = sizeof(struct skv_put_req) + klen + vlen;

	st_hdr(buf, SKV_OP_PUT, id, body);
	memset(p, 0, sizeof(struct skv_put_req));
	put64(p, table);
	put64(p + 8, expect);
	put16(p + 16, klen);
	put32(p + 20, vlen);
	p += sizeof(struct skv_put_req);
	if (klen)
		memcpy(p, key, klen);
	if (vlen)
		memcpy(p + klen, val, vlen);
	return sizeof(struct skv_hdr) + body;
}

size_t st_build_key(void *buf, uint8_t op, uint64_t id, uint64_t table,
		    const void *key, uint16_t klen, uint64_t expect)
{
	uint8_t *p = (uint8_t *)buf + sizeof(struct skv_hdr);
	uint32_t body = sizeof(struct skv_key_req) + klen;

	st_hdr(buf, op, id, body);
	memset(p, 0, sizeof(struct skv_key_req));
	put64(p, table);
	put64(p + 8, expect);
	put16(p + 16, klen);
	if (klen)
		memcpy(p + sizeof(struct skv_key_req), key, klen);
	return sizeof(struct skv_hdr) + body;
}

size_t st_build_mget(void *buf, uint64_t id, uint64_t table,
		     const char *const *keys, unsigned int n)
{
	uint8_t *p = (uint8_t *)buf + sizeof(struct skv_hdr);
	uint8_t *b = p;
	unsigned int i;

	memset(p, 0, sizeof(struct skv_multi_req));
	put64(p, table);
	put16(p + 8, n);
	p += sizeof(struct skv_multi_req);
	for (i = 0; i < n; i++) {
		size_t l = strlen(keys[i]);

		put16(p, l);
		memcpy(p + 2, keys[i], l);
		p += 2 + l;
	}
	st_hdr(buf, SKV_OP_MULTI_GET, id, p - b);
	return p - (uint8_t *)buf;
}

int st_recv_reply(int fd, struct st_reply *r)
{
	uint8_t h[sizeof(struct skv_hdr)];
	int ret;

	memset(r, 0, sizeof(*r));
	ret = st_recv_all(fd, h, sizeof(h));
	if (ret)
		return ret;
	r->h.magic = get16(h);
	r->h.version = h[2];
	r->h.opcode = h[3];
	r->h.flags = h[4];
	r->h.status = h[5];
	r->h.reserved = get16(h + 6);
	r->h.request_id = get64(h + 8);
	r->h.body_len = get32(h + 16);
	r->h.epoch = get32(h + 20);
	if (r->h.magic != SKV_WIRE_MAGIC || r->h.version != SKV_WIRE_VERSION) {
		seterr("reply with magic 0x%x version %u", r->h.magic, r->h.version);
		return -1;
	}
	if (!(r->h.flags & SKV_F_REPLY)) {
		seterr("reply without SKV_F_REPLY (flags 0x%x)", r->h.flags);
		return -1;
	}
	if (r->h.reserved || r->h.epoch) {
		seterr("reply with non-zero reserved fields");
		return -1;
	}
	if (r->h.body_len > SKV_MAX_BODY_LEN + 4096) {
		seterr("reply body_len %u too large", r->h.body_len);
		return -1;
	}
	r->len = r->h.body_len;
	if (!r->len)
		return 0;
	r->body = malloc(r->len);
	if (!r->body) {
		seterr("out of memory");
		return -1;
	}
	ret = st_recv_all(fd, r->body, r->len);
	if (ret) {
		free(r->body);
		r->body = NULL;
		seterr("reply body truncated");
		return -1;
	}
	return 0;
}

void st_reply_free(struct st_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

static uint64_t next_id = 0x5eed000000000000ull;

/*
 * Read the reply to request @id (opcode @op): the reply's status, or -1
 * when the connection closed, or the reply is malformed or echoes another
 * id or opcode (reason in st_last_error).
 */
static int recv_reply_for(int fd, uint64_t id, uint8_t op, struct st_reply *r)
{
	int ret = st_recv_reply(fd, r);

	if (ret) {
		if (ret > 0)
			seterr("connection closed instead of a reply");
		return -1;
	}
	if (r->h.request_id != id) {
		seterr("reply id 0x%llx, request id 0x%llx",
		       (unsigned long long)r->h.request_id, (unsigned long long)id);
		st_reply_free(r);
		return -1;
	}
	if (r->h.opcode != op) {
		seterr("reply opcode %u, request opcode %u", r->h.opcode, op);
		st_reply_free(r);
		return -1;
	}
	return r->h.status;
}

/* Send a frame and read its reply; checks the echoed id and opcode. */
static int roundtrip(int fd, const void *frame, size_t len, struct st_reply *r)
{
	if (st_send_all(fd, frame, len))
		return -1;
	return recv_reply_for(fd, get64((const uint8_t *)frame + 8),
			      ((const uint8_t *)frame)[3], r);
}

int st_ping(int fd)
{
	uint8_t f[sizeof(struct skv_hdr)];
	struct st_reply r;
	int st;

	st_build_ping(f, ++next_id);
	st = roundtrip(fd, f, sizeof(f), &r);
	if (st >= 0 && r.len) {
		seterr("ping reply has a %u-byte body", r.len);
		st = -1;
	}
	if (st >= 0)
		st_reply_free(&r);
	return st;
}

static uint64_t ver_of(const struct st_reply *r)
{
	return r->len >= 8 ? get64(r->body) : 0;
}

/*
 * Sends a PUT or DELETE frame @f (which it frees) and reads its reply,
 * whose body is the version (*@ver) when it is OK or VERSION_MISMATCH.
 */
static int write_roundtrip(int fd, uint8_t *f, size_t len, const char *op,
			   uint64_t *ver)
{
	struct st_reply r;
	int st;

	st = roundtrip(fd, f, len, &r);
	free(f);
	if (st < 0)
		return st;
	if (ver)
		*ver = ver_of(&r);
	if ((st == SKV_S_OK || st == SKV_S_VERSION_MISMATCH) && r.len != 8) {
		seterr("%s reply (status %d) body of %u bytes, want 8", op, st, r.len);
		st = -1;
	}
	st_reply_free(&r);
	return st;
}

int st_put(int fd, uint64_t table, const void *key, size_t klen,
	   const void *val, size_t vlen, uint64_t expect, uint64_t *ver)
{
	uint8_t *f = malloc(ST_FRAME_MAX(klen, vlen));
	size_t len;

	if (!f)
		return -1;
	len = st_build_put(f, ++next_id, table, key, klen, val, vlen, expect);
	return write_roundtrip(fd, f, len, "PUT", ver);
}

int st_puts(int fd, uint64_t table, const char *key, const char *val,
	    uint64_t expect, uint64_t *ver)
{
	return st_put(fd, table, key, strlen(key), val, strlen(val), expect, ver);
}

/*
 * The answer to a GET in @r (freed here): its status, and with OK the value
 * (*@val, malloc'ed and NUL-terminated) and version; -1 if malformed.
 */
int st_parse_get(struct st_reply *r, uint8_t **val, uint32_t *vlen, uint64_t *ver)
{
	int st = r->h.status;

	if (ver)
		*ver = ver_of(r);
	if (st == SKV_S_OK) {
		uint32_t l;

		if (r->len < sizeof(struct skv_val_reply)) {
			seterr("GET reply body of %u bytes", r->len);
			st_reply_free(r);
			return -1;
		}
		l = get32(r->body + 8);
		if (r->len != sizeof(struct skv_val_reply) + l) {
			seterr("GET reply value_len %u, body %u", l, r->len);
			st_reply_free(r);
			return -1;
		}
		if (vlen)
			*vlen = l;
		if (val) {
			*val = malloc(l + 1);
			memcpy(*val, r->body + sizeof(struct skv_val_reply), l);
			(*val)[l] = 0;
		}
	} else if (st == SKV_S_NOT_FOUND && r->len != 8) {
		seterr("GET NOT_FOUND reply body of %u bytes, want 8", r->len);
		st = -1;
	}
	st_reply_free(r);
	return st;
}

int st_get(int fd, uint64_t table, const void *key, size_t klen,
	   uint8_t **val, uint32_t *vlen, uint64_t *ver)
{
	uint8_t *f = malloc(ST_FRAME_MAX(klen, 0));
	struct st_reply r;
	size_t len;
	int st;

	if (!f)
		return -1;
	if (val)
		*val = NULL;
	if (vlen)
		*vlen = 0;
	len = st_build_key(f, SKV_OP_GET, ++next_id, table, key, klen, 0);
	st = roundtrip(fd, f, len, &r);
	free(f);
	if (st < 0)
		return st;
	return st_parse_get(&r, val, vlen, ver);
}

int st_get_many(int fd, uint64_t table, struct st_get_item *it, unsigned int n)
{
	uint8_t *f = malloc((size_t)n * ST_FRAME_MAX(SKV_MAX_KEY_LEN, 0)), *p = f;
	uint64_t first = next_id + 1;
	struct st_reply r;
	unsigned int i;
	int ret;

	if (!f || !n) {
		free(f);
		return n ? -1 : 0;
	}
	for (i = 0; i < n; i++) {
		it[i].val = NULL;
		it[i].vlen = 0;
		p += st_build_key(p, SKV_OP_GET, ++next_id, table, it[i].key, it[i].klen, 0);
	}
	ret = st_send_all(fd, f, p - f);
	free(f);
	if (ret)
		return -1;
	for (i = 0; i < n; i++) {
		if (recv_reply_for(fd, first + i, SKV_OP_GET, &r) < 0)
			return -1;
		it[i].status = st_parse_get(&r, &it[i].val, &it[i].vlen, &it[i].ver);
		if (it[i].status < 0)
			return -1;
	}
	return 0;
}

int st_gets(int fd, uint64_t table, const char *key, char **val, uint64_t *ver)
{
	return st_get(fd, table, key, strlen(key), (uint8_t **)val, NULL, ver);
}

int st_del(int fd, uint64_t table, const void *key, size_t klen,
	   uint64_t expect, uint64_t *ver)
{
	uint8_t *f = malloc(ST_FRAME_MAX(klen, 0));
	size_t len;

	if (!f)
		return -1;
	len = st_build_key(f, SKV_OP_DELETE, ++next_id, table, key, klen, expect);
	return write_roundtrip(fd, f, len, "DELETE", ver);
}

int st_dels(int fd, uint64_t table, const char *key, uint64_t expect, uint64_t *ver)
{
	return st_del(fd, table, key, strlen(key), expect, ver);
}

int st_parse_mget(const struct st_reply *r, struct st_item *items, unsigned int n)
{
	const uint8_t *p = r->body, *end = r->body + r->len;
	unsigned int count, i;

	if (r->len < sizeof(struct skv_multi_reply)) {
		seterr("MULTI-GET reply body of %u bytes", r->len);
		return -1;
	}
	count = get16(p);
	p += sizeof(struct skv_multi_reply);
	if (count > n) {
		seterr("MULTI-GET reply has %u items, expected at most %u", count, n);
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (end - p < (long)sizeof(struct skv_multi_item)) {
			seterr("MULTI-GET item %u truncated", i);
			return -1;
		}
		items[i].status = p[0];
		items[i].value_len = get32(p + 4);
		items[i].version = get64(p + 8);
		p += sizeof(struct skv_multi_item);
		if (end - p < (long)items[i].value_len) {
			seterr("MULTI-GET item %u value truncated", i);
			return -1;
		}
		items[i].value = p;
		p += items[i].value_len;
	}
	if (p != end) {
		seterr("MULTI-GET reply has %ld trailing bytes", (long)(end - p));
		return -1;
	}
	return count;
}

int st_mget(int fd, uint64_t table, const char *const *keys, unsigned int n,
	    struct st_reply *r, struct st_item *items)
{
	size_t cap = sizeof(struct skv_hdr) + sizeof(struct skv_multi_req);
	unsigned int i;
	uint8_t *f;
	int st;

	for (i = 0; i < n; i++)
		cap += 2 + strlen(keys[i]);
	f = malloc(cap);
	if (!f)
		return -1;
	st = roundtrip(fd, f, st_build_mget(f, ++next_id, table, keys, n), r);
	free(f);
	if (st != SKV_S_OK)
		return st;
	if (st_parse_mget(r, items, n) != (int)n) {
		if (!st_last_error[0])
			seterr("MULTI-GET reply count differs from request");
		st_reply_free(r);
		return -1;
	}
	return st;
}

int st_node_serves(const char *ip, uint16_t port, uint64_t table)
{
	char key[64], val[64], *got = NULL;
	uint64_t v1 = 0, v2 = 0;
	int fd, st;

	snprintf(key, sizeof(key), "alive-%llu-%d", (unsigned long long)st_now_ms(), getpid());
	snprintf(val, sizeof(val), "v-%s", key);
	fd = st_connect(ip, port);
	if (fd < 0)
		return -1;
	st = st_ping(fd);
	if (st != SKV_S_OK) {
		if (st > 0)
			seterr("PING status %d", st);
		goto fail;
	}
	st = st_puts(fd, table, key, val, 0, &v1);
	if (st != SKV_S_OK) {
		if (st > 0)
			seterr("PUT status %s", st_status_name(st));
		goto fail;
	}
	st = st_gets(fd, table, key, &got, &v2);
	if (st != SKV_S_OK || strcmp(got, val) || v1 != v2) {
		if (st >= 0)
			seterr("GET status %s after PUT", st_status_name(st));
		free(got);
		goto fail;
	}
	free(got);
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

uint64_t st_xxh64(const void *key, size_t len)
{
	return XXH64(key, len, SKV_KEY_HASH_SEED);
}

void st_key_on_side(char *buf, size_t cap, const char *prefix, int want_high,
		    uint64_t (*hash)(const void *, size_t))
{
	unsigned int i;

	for (i = 0;; i++) {
		snprintf(buf, cap, "%s-%u", prefix, i);
		if (!!(hash(buf, strlen(buf)) >> 63) == !!want_high)
			return;
	}
}

const char *st_status_name(int status)
{
	/* libsteadykv names the node's statuses as its codes: code == -status. */
	return status < 0 ? "transport-error" : skv_code_name(-status);
}

/* ---- generic netlink: libskvnl, with the selftests' socket options ---- */

static void nl_log(const char *line)
{
	printf("# sknl: %s\n", line);
}

int st_nl_open(struct sknl *nl)
{
	struct timeval tv = { .tv_sec = ST_IO_TIMEOUT_MS / 1000 };
	struct sknl_err err;
	int one = 1, fd;

	sknl_set_log(nl_log);
	if (sknl_open_err(nl, &err))
		return -err.error;
	fd = nl_socket_get_fd(nl->sk);
	setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

int st_nl_events_open(struct sknl *ev, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };

	sknl_set_log(nl_log);
	if (sknl_events_open(ev, 1 << 20, false))
		return -ENOENT;
	setsockopt(sknl_events_fd(ev), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

int st_nl_listen(struct sknl *nl, const char *ip, uint16_t port, struct sknl_err *err)
{
	uint8_t addr[16];
	int alen;

	if (sknl_addr_parse(ip, addr, &alen))
		return sknl_err_local(err, EINVAL, "not an address: %s", ip);
	return sknl_listen_start(nl, addr, alen, port, err);
}

int st_nl_tables(struct sknl *nl, uint64_t *ids, int max)
{
	struct sknl_table *v;
	size_t n;
	int err = sknl_table_dump(nl, &v, &n, NULL);

	if (err)
		return err;
	for (size_t i = 0; i < n && i < (size_t)max; i++)
		ids[i] = v[i].id;
	free(v);
	return (int)n;
}

int st_nl_tablets(struct sknl *nl, struct sknl_tablet *t, int max)
{
	struct sknl_tablet *v;
	size_t n;
	int err = sknl_tablet_dump(nl, &v, &n, NULL);

	if (err)
		return err;
	memcpy(t, v, (n < (size_t)max ? n : (size_t)max) * sizeof(*t));
	free(v);
	return (int)n;
}

int st_nl_wait_connections(struct sknl *nl, uint64_t want, int timeout_ms)
{
	uint64_t end = st_now_ms() + timeout_ms;
	struct sknl_node ni;

	do {
		if (sknl_node_get(nl, &ni, NULL) == 0 &&
		    ni.val[STEADYKV_A_NODE_CONNECTIONS] == want)
			return 0;
		usleep(20000);
	} while (st_now_ms() < end);
	return -1;
}

/* ---- namespaces ---- */

int st_new_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

const struct skv_auth_key *st_cluster_key(void)
{
	static struct skv_auth_key key;
	const char *path = getenv("STEADYKV_CLUSTER_KEY");
	uint8_t secret[SKV_AUTH_KEY_MIN_LEN];
	char why[512];

	if (key.len)
		return &key;
	if (path && *path) {
		if (skv_auth_key_load(&key, path, why, sizeof(why))) {
			seterr("%s", why);
			return NULL;
		}
		return &key;
	}
	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret) ||
	    skv_auth_key_set(&key, secret, sizeof(secret))) {
		seterr("no randomness for a key");
		return NULL;
	}
	return &key;
}

/* One request, its reply: the status, body copied to out (exactly len). */
static int st_auth_step(int fd, uint8_t op, const void *body, uint32_t len,
			void *out, uint32_t out_len)
{
	uint8_t frame[sizeof(struct skv_hdr) + 64];
	struct st_reply r;
	int st;

	st_hdr(frame, op, 0x5a17, len);
	memcpy(frame + sizeof(struct skv_hdr), body, len);
	if (st_send_all(fd, frame, sizeof(struct skv_hdr) + len) ||
	    st_recv_reply(fd, &r)) {
		seterr("auth: no reply to opcode %u", op);
		return -1;
	}
	st = r.h.status;
	if (st == SKV_S_OK && r.len != out_len) {
		seterr("auth: reply of %u bytes to opcode %u", r.len, op);
		st = -1;
	} else if (st == SKV_S_OK && out_len) {
		memcpy(out, r.body, out_len);
	}
	st_reply_free(&r);
	return st;
}

int st_auth_hello(int fd, const struct skv_auth_hello *hello,
		  struct skv_auth_challenge *ch)
{
	return st_auth_step(fd, SKV_OP_AUTH_HELLO, hello, sizeof(*hello), ch,
			    sizeof(*ch));
}

int st_auth_proof(int fd, const struct skv_auth_proof *proof)
{
	return st_auth_step(fd, SKV_OP_AUTH_PROOF, proof, sizeof(*proof), NULL, 0);
}

int st_auth(int fd, const struct skv_auth_key *k)
{
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	int st;

	if (!k || skv_auth_hello_init(&hello, k, SKV_AUTH_ROLE_PEER)) {
		seterr("auth: no key");
		return -1;
	}
	st = st_auth_hello(fd, &hello, &ch);
	if (st != SKV_S_OK)
		return st;
	if (!skv_auth_initiator_prove(k, &hello, &ch, &proof)) {
		seterr("auth: the node did not prove the key");
		return -1;
	}
	return st_auth_proof(fd, &proof);
}

int st_nl_set_keys(struct sknl *nl, const struct skv_auth_key *cur,
		   const struct skv_auth_key *prev, struct sknl_err *err)
{
	struct sknl_auth auth = {
		.cur = cur->secret, .cur_len = cur->len,
		.prev = prev ? prev->secret : NULL, .prev_len = prev ? prev->len : 0,
		.insecure = -1,
	};

	return sknl_auth_set(nl, &auth, err);
}

int st_node_start(struct sknl *nl, uint16_t port)
{
	const struct skv_auth_key *key = st_cluster_key();
	struct sknl_err err;
	int fd;

	if (!key)
		return -1;
	if (st_nl_set_keys(nl, key, NULL, &err)) {
		seterr("auth-set: %s (%s)", strerror(err.error), err.msg);
		return -1;
	}
	if (st_nl_listen(nl, ST_ADDR, port, &err)) {
		seterr("listen-start: %s (%s)", strerror(err.error), err.msg);
		return -1;
	}
	if (sknl_table_add(nl, ST_TABLE, &err)) {
		seterr("table-add: %s (%s)", strerror(err.error), err.msg);
		return -1;
	}
	if (sknl_tablet_add(nl, ST_TABLE, 0, UINT64_MAX, -1, &err)) {
		seterr("tablet-add: %s (%s)", strerror(err.error), err.msg);
		return -1;
	}
	fd = st_connect_wait(ST_ADDR, port, 10000);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int st_drop_privileges(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	int cap;

	/* No bounding or ambient set to regain anything from. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (cap = 0; cap <= 63; cap++)
		prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	if (setgroups(0, NULL))
		return -errno;
	if (setresgid(65534, 65534, 65534))
		return -errno;
	if (setresuid(65534, 65534, 65534))
		return -errno;
	/* Going from uid 0 to non-zero clears them already; make sure. */
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}
