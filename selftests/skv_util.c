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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <xxhash.h>

#include "skv_util.h"

#include "../userspace/common/mig_names.h"

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
	r->h.reserved2 = get32(h + 20);
	if (r->h.magic != SKV_WIRE_MAGIC || r->h.version != SKV_WIRE_VERSION) {
		seterr("reply with magic 0x%x version %u", r->h.magic, r->h.version);
		return -1;
	}
	if (!(r->h.flags & SKV_F_REPLY)) {
		seterr("reply without SKV_F_REPLY (flags 0x%x)", r->h.flags);
		return -1;
	}
	if (r->h.reserved || r->h.reserved2) {
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

/* Send a frame and read its reply; checks the echoed id and opcode. */
static int roundtrip(int fd, const void *frame, size_t len, struct st_reply *r)
{
	uint64_t id = get64((const uint8_t *)frame + 8);
	uint8_t op = ((const uint8_t *)frame)[3];
	int ret;

	if (st_send_all(fd, frame, len))
		return -1;
	ret = st_recv_reply(fd, r);
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

int st_put(int fd, uint64_t table, const void *key, size_t klen,
	   const void *val, size_t vlen, uint64_t expect, uint64_t *ver)
{
	uint8_t *f = malloc(ST_FRAME_MAX(klen, vlen));
	struct st_reply r;
	size_t len;
	int st;

	if (!f)
		return -1;
	len = st_build_put(f, ++next_id, table, key, klen, val, vlen, expect);
	st = roundtrip(fd, f, len, &r);
	free(f);
	if (st < 0)
		return st;
	if (ver)
		*ver = ver_of(&r);
	if ((st == SKV_S_OK || st == SKV_S_VERSION_MISMATCH) && r.len != 8) {
		seterr("PUT reply (status %d) body of %u bytes, want 8", st, r.len);
		st = -1;
	}
	st_reply_free(&r);
	return st;
}

int st_puts(int fd, uint64_t table, const char *key, const char *val,
	    uint64_t expect, uint64_t *ver)
{
	return st_put(fd, table, key, strlen(key), val, strlen(val), expect, ver);
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
	if (ver)
		*ver = ver_of(&r);
	if (st == SKV_S_OK) {
		uint32_t l;

		if (r.len < sizeof(struct skv_val_reply)) {
			seterr("GET reply body of %u bytes", r.len);
			st_reply_free(&r);
			return -1;
		}
		l = get32(r.body + 8);
		if (r.len != sizeof(struct skv_val_reply) + l) {
			seterr("GET reply value_len %u, body %u", l, r.len);
			st_reply_free(&r);
			return -1;
		}
		if (vlen)
			*vlen = l;
		if (val) {
			*val = malloc(l + 1);
			memcpy(*val, r.body + sizeof(struct skv_val_reply), l);
			(*val)[l] = 0;
		}
	} else if (st == SKV_S_NOT_FOUND && r.len != 8) {
		seterr("GET NOT_FOUND reply body of %u bytes, want 8", r.len);
		st = -1;
	}
	st_reply_free(&r);
	return st;
}

int st_gets(int fd, uint64_t table, const char *key, char **val, uint64_t *ver)
{
	return st_get(fd, table, key, strlen(key), (uint8_t **)val, NULL, ver);
}

int st_del(int fd, uint64_t table, const void *key, size_t klen,
	   uint64_t expect, uint64_t *ver)
{
	uint8_t *f = malloc(ST_FRAME_MAX(klen, 0));
	struct st_reply r;
	size_t len;
	int st;

	if (!f)
		return -1;
	len = st_build_key(f, SKV_OP_DELETE, ++next_id, table, key, klen, expect);
	st = roundtrip(fd, f, len, &r);
	free(f);
	if (st < 0)
		return st;
	if (ver)
		*ver = ver_of(&r);
	if ((st == SKV_S_OK || st == SKV_S_VERSION_MISMATCH) && r.len != 8) {
		seterr("DELETE reply (status %d) body of %u bytes, want 8", st, r.len);
		st = -1;
	}
	st_reply_free(&r);
	return st;
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
	static const char *const names[] = {
		"OK", "NOT_FOUND", "NOT_OWNER", "RETRY", "NO_SPACE", "BAD_REQUEST",
		"VERSION_MISMATCH", "TOO_BIG", "UNKNOWN_OP", "UNKNOWN_TABLE", "INTERNAL",
	};

	if (status < 0)
		return "transport-error";
	if (status < (int)(sizeof(names) / sizeof(names[0])))
		return names[status];
	return "?";
}

/* ---- generic netlink ---- */

int st_nl_open(struct st_nl *nl)
{
	int one = 1, rcvbuf = 1 << 20;
	struct timeval tv = { .tv_sec = ST_IO_TIMEOUT_MS / 1000 };

	memset(nl, 0, sizeof(*nl));
	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return -ENOMEM;
	if (genl_connect(nl->sk)) {
		nl_socket_free(nl->sk);
		nl->sk = NULL;
		return -ECONNREFUSED;
	}
	nl->fd = nl_socket_get_fd(nl->sk);
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	nl->family = genl_ctrl_resolve(nl->sk, STEADYKV_FAMILY_NAME);
	if (nl->family < 0) {
		int err = nl->family;

		nl_socket_free(nl->sk);
		nl->sk = NULL;
		return err == -NLE_OBJ_NOTFOUND ? -ENOENT : -EIO;
	}
	return 0;
}

void st_nl_close(struct st_nl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

struct nl_msg *st_nl_msg(struct st_nl *nl, uint8_t cmd, int extra_flags)
{
	struct nl_msg *m = nlmsg_alloc();

	if (!m)
		return NULL;
	if (!genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
			 NLM_F_REQUEST | NLM_F_ACK | extra_flags, cmd,
			 STEADYKV_FAMILY_VERSION)) {
		nlmsg_free(m);
		return NULL;
	}
	return m;
}

static void parse_ext_ack(struct nlmsghdr *nlh, struct st_nl_res *res)
{
	struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t off = sizeof(*e);
	struct nlattr *a;
	int rem;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (NLMSG_HDRLEN + off > nlh->nlmsg_len)
		return;
	a = (struct nlattr *)((char *)e + NLMSG_ALIGN(off));
	rem = nlh->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(off);
	for (; rem >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= rem;
	     rem -= NLA_ALIGN(a->nla_len),
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
		int len = a->nla_len - NLA_HDRLEN;
		char *d = (char *)a + NLA_HDRLEN;

		switch (a->nla_type & NLA_TYPE_MASK) {
		case NLMSGERR_ATTR_MSG:
			if (len > (int)sizeof(res->msg) - 1)
				len = sizeof(res->msg) - 1;
			memcpy(res->msg, d, len);
			res->msg[len] = 0;
			break;
		case NLMSGERR_ATTR_MISS_TYPE:
			if (len >= 4)
				memcpy(&res->miss_type, d, 4);
			break;
		case NLMSGERR_ATTR_OFFS:
			res->has_offs = 1;
			break;
		}
	}
}

/* NLMSG_DONE of a failed dump: int error, then TLVs if NLM_F_ACK_TLVS. */
static void parse_done_ext_ack(struct nlmsghdr *nlh, struct st_nl_res *res)
{
	struct nlattr *a;
	int rem;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	a = (struct nlattr *)((char *)NLMSG_DATA(nlh) + NLMSG_ALIGN(sizeof(int)));
	rem = nlh->nlmsg_len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(int));
	for (; rem >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= rem;
	     rem -= NLA_ALIGN(a->nla_len),
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
			int len = a->nla_len - NLA_HDRLEN;

			if (len > (int)sizeof(res->msg) - 1)
				len = sizeof(res->msg) - 1;
			memcpy(res->msg, (char *)a + NLA_HDRLEN, len);
			res->msg[len] = 0;
		}
	}
}

int st_nl_xfer(struct st_nl *nl, struct nl_msg *m, st_nl_cb cb, void *arg,
	       struct st_nl_res *res)
{
	struct st_nl_res local;
	static char buf[65536];
	uint32_t seq;
	int ret;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	res->miss_type = -1;
	if (!m)
		return res->err = -ENOMEM;
	ret = nl_send_auto(nl->sk, m);
	seq = nlmsg_hdr(m)->nlmsg_seq;
	nlmsg_free(m);
	if (ret < 0)
		return res->err = -EIO;
	for (;;) {
		ssize_t n = recv(nl->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return res->err = -errno;	/* EAGAIN: timed out */
		for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != seq)
				continue;	/* stale */
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nlh);

				res->err = e->error;
				parse_ext_ack(nlh, res);
				return res->err;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				int err = 0;

				if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int))
					memcpy(&err, NLMSG_DATA(nlh), sizeof(int));
				/* A dump's end; no ack follows it. */
				res->err = err;
				if (err)
					parse_done_ext_ack(nlh, res);
				return err;
			}
			res->nmsgs++;
			if (cb)
				cb(nlh, arg);
		}
	}
}

static int simple(struct st_nl *nl, struct nl_msg *m, struct st_nl_res *res)
{
	return st_nl_xfer(nl, m, NULL, NULL, res);
}

int st_nl_listen(struct st_nl *nl, const char *ip, uint16_t port, struct st_nl_res *res)
{
	struct nl_msg *m = st_nl_msg(nl, STEADYKV_CMD_LISTEN_START, 0);
	struct in_addr a;

	if (m) {
		inet_pton(AF_INET, ip, &a);
		nla_put(m, STEADYKV_A_NODE_LISTEN_ADDR, 4, &a);
		nla_put_u16(m, STEADYKV_A_NODE_LISTEN_PORT, port);
	}
	return simple(nl, m, res);
}

int st_nl_listen_stop(struct st_nl *nl, struct st_nl_res *res)
{
	return simple(nl, st_nl_msg(nl, STEADYKV_CMD_LISTEN_STOP, 0), res);
}

static int table_cmd(struct st_nl *nl, uint8_t cmd, uint64_t id, struct st_nl_res *res)
{
	struct nl_msg *m = st_nl_msg(nl, cmd, 0);

	if (m)
		nla_put_u64(m, STEADYKV_A_TABLE_ID, id);
	return simple(nl, m, res);
}

int st_nl_table_add(struct st_nl *nl, uint64_t id, struct st_nl_res *res)
{
	return table_cmd(nl, STEADYKV_CMD_TABLE_ADD, id, res);
}

int st_nl_table_del(struct st_nl *nl, uint64_t id, struct st_nl_res *res)
{
	return table_cmd(nl, STEADYKV_CMD_TABLE_DEL, id, res);
}

static int tablet_cmd(struct st_nl *nl, uint8_t cmd, uint64_t table, uint64_t start,
		      uint64_t end, int state, struct st_nl_res *res)
{
	struct nl_msg *m = st_nl_msg(nl, cmd, 0);

	if (m) {
		nla_put_u64(m, STEADYKV_A_TABLET_TABLE_ID, table);
		nla_put_u64(m, STEADYKV_A_TABLET_START_HASH, start);
		nla_put_u64(m, STEADYKV_A_TABLET_END_HASH, end);
		if (state >= 0)
			nla_put_u32(m, STEADYKV_A_TABLET_STATE, state);
	}
	return simple(nl, m, res);
}

int st_nl_tablet_add(struct st_nl *nl, uint64_t table, uint64_t start, uint64_t end,
		     int state, struct st_nl_res *res)
{
	return tablet_cmd(nl, STEADYKV_CMD_TABLET_ADD, table, start, end, state, res);
}

int st_nl_tablet_del(struct st_nl *nl, uint64_t table, uint64_t start, uint64_t end,
		     struct st_nl_res *res)
{
	return tablet_cmd(nl, STEADYKV_CMD_TABLET_DEL, table, start, end, -1, res);
}

int st_nl_tablet_set(struct st_nl *nl, uint64_t table, uint64_t start, uint64_t end,
		     int state, struct st_nl_res *res)
{
	return tablet_cmd(nl, STEADYKV_CMD_TABLET_SET, table, start, end, state, res);
}

int st_nl_mem_limit(struct st_nl *nl, uint64_t bytes, struct st_nl_res *res)
{
	struct nl_msg *m = st_nl_msg(nl, STEADYKV_CMD_NODE_SET, 0);

	if (m)
		nla_put_u64(m, STEADYKV_A_NODE_MEM_LIMIT, bytes);
	return simple(nl, m, res);
}

static uint64_t nla_uint(struct nlattr *a)
{
	switch (nla_len(a)) {
	case 1: return nla_get_u8(a);
	case 2: return nla_get_u16(a);
	case 4: return nla_get_u32(a);
	case 8: return nla_get_u64(a);
	}
	return 0;
}

static void node_cb(struct nlmsghdr *nlh, void *arg)
{
	struct st_node_info *ni = arg;
	struct nlattr *tb[STEADYKV_A_NODE_MAX + 1];
	int i;

	if (genlmsg_parse(nlh, 0, tb, STEADYKV_A_NODE_MAX, NULL))
		return;
	for (i = 1; i <= STEADYKV_A_NODE_MAX; i++) {
		if (!tb[i])
			continue;
		ni->have[i] = 1;
		if (i == STEADYKV_A_NODE_LISTEN_ADDR) {
			ni->addr_len = nla_len(tb[i]) > 16 ? 16 : nla_len(tb[i]);
			memcpy(ni->addr, nla_data(tb[i]), ni->addr_len);
		} else {
			ni->val[i] = nla_uint(tb[i]);
		}
	}
}

int st_nl_node_get(struct st_nl *nl, struct st_node_info *ni, struct st_nl_res *res)
{
	struct st_nl_res local;
	int err;

	if (!res)
		res = &local;
	memset(ni, 0, sizeof(*ni));
	err = st_nl_xfer(nl, st_nl_msg(nl, STEADYKV_CMD_NODE_GET, 0), node_cb, ni, res);
	if (!err && res->nmsgs != 1)
		return -EPROTO;
	return err;
}

struct dump_ctx {
	void *out;
	int n, max;
};

static void tables_cb(struct nlmsghdr *nlh, void *arg)
{
	struct dump_ctx *c = arg;
	struct nlattr *tb[STEADYKV_A_TABLE_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, STEADYKV_A_TABLE_MAX, NULL) || !tb[STEADYKV_A_TABLE_ID])
		return;
	if (c->n < c->max)
		((uint64_t *)c->out)[c->n] = nla_get_u64(tb[STEADYKV_A_TABLE_ID]);
	c->n++;
}

int st_nl_tables(struct st_nl *nl, uint64_t *ids, int max)
{
	struct dump_ctx c = { .out = ids, .max = max };
	int err = st_nl_xfer(nl, st_nl_msg(nl, STEADYKV_CMD_TABLE_GET, NLM_F_DUMP),
			     tables_cb, &c, NULL);

	return err ? err : c.n;
}

static void tablets_cb(struct nlmsghdr *nlh, void *arg)
{
	struct dump_ctx *c = arg;
	struct nlattr *tb[STEADYKV_A_TABLET_MAX + 1];
	struct st_tablet *t;

	if (genlmsg_parse(nlh, 0, tb, STEADYKV_A_TABLET_MAX, NULL))
		return;
	if (c->n < c->max) {
		t = &((struct st_tablet *)c->out)[c->n];
		memset(t, 0, sizeof(*t));
		if (tb[STEADYKV_A_TABLET_TABLE_ID])
			t->table = nla_get_u64(tb[STEADYKV_A_TABLET_TABLE_ID]);
		if (tb[STEADYKV_A_TABLET_START_HASH])
			t->start = nla_get_u64(tb[STEADYKV_A_TABLET_START_HASH]);
		if (tb[STEADYKV_A_TABLET_END_HASH])
			t->end = nla_get_u64(tb[STEADYKV_A_TABLET_END_HASH]);
		if (tb[STEADYKV_A_TABLET_STATE]) {
			t->state = nla_get_u32(tb[STEADYKV_A_TABLET_STATE]);
			t->has_state = 1;
		}
	}
	c->n++;
}

int st_nl_tablets(struct st_nl *nl, struct st_tablet *t, int max)
{
	struct dump_ctx c = { .out = t, .max = max };
	int err = st_nl_xfer(nl, st_nl_msg(nl, STEADYKV_CMD_TABLET_GET, NLM_F_DUMP),
			     tablets_cb, &c, NULL);

	return err ? err : c.n;
}

/* ---- migrations ---- */

int st_nl_migrate_start(struct st_nl *nl, const struct st_mig_req *r,
			struct st_nl_res *res)
{
	struct nl_msg *m = st_nl_msg(nl, STEADYKV_CMD_MIGRATE_START, 0);
	struct in6_addr a6;
	struct in_addr a4;

	if (m) {
		nla_put_u64(m, STEADYKV_A_MIGRATION_ID, r->id);
		nla_put_u64(m, STEADYKV_A_MIGRATION_TABLE_ID, r->table);
		nla_put_u64(m, STEADYKV_A_MIGRATION_START_HASH, r->start);
		nla_put_u64(m, STEADYKV_A_MIGRATION_END_HASH, r->end);
		if (inet_pton(AF_INET, r->addr, &a4) == 1)
			nla_put(m, STEADYKV_A_MIGRATION_SOURCE_ADDR, 4, &a4);
		else if (inet_pton(AF_INET6, r->addr, &a6) == 1)
			nla_put(m, STEADYKV_A_MIGRATION_SOURCE_ADDR, 16, &a6);
		nla_put_u16(m, STEADYKV_A_MIGRATION_SOURCE_PORT, r->port);
		if (r->mode >= 0)
			nla_put_u32(m, STEADYKV_A_MIGRATION_MODE, r->mode);
		if (r->partitions >= 0)
			nla_put_u32(m, STEADYKV_A_MIGRATION_PARTITIONS, r->partitions);
		if (r->inflight >= 0)
			nla_put_u32(m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT, r->inflight);
		if (r->budget >= 0)
			nla_put_u32(m, STEADYKV_A_MIGRATION_PULL_BUDGET, r->budget);
		if (r->prio >= 0)
			nla_put_u8(m, STEADYKV_A_MIGRATION_PRIORITY_PULLS, r->prio);
	}
	return simple(nl, m, res);
}

int st_nl_migrate_cancel(struct st_nl *nl, uint64_t id, struct st_nl_res *res)
{
	struct nl_msg *m = st_nl_msg(nl, STEADYKV_CMD_MIGRATE_CANCEL, 0);

	if (m)
		nla_put_u64(m, STEADYKV_A_MIGRATION_ID, id);
	return simple(nl, m, res);
}

void st_mig_parse(struct nlmsghdr *nlh, struct st_mig *mi)
{
	struct nlattr *tb[STEADYKV_A_MIGRATION_MAX + 1];
	int i;

	if (genlmsg_parse(nlh, 0, tb, STEADYKV_A_MIGRATION_MAX, NULL))
		return;
	for (i = 1; i <= STEADYKV_A_MIGRATION_MAX; i++) {
		if (!tb[i])
			continue;
		mi->have[i] = 1;
		if (i == STEADYKV_A_MIGRATION_ERROR_MSG)
			snprintf(mi->msg, sizeof(mi->msg), "%.*s", nla_len(tb[i]),
				 (const char *)nla_data(tb[i]));
		else if (i != STEADYKV_A_MIGRATION_SOURCE_ADDR)
			mi->val[i] = nla_uint(tb[i]);
	}
}

static void mig_cb(struct nlmsghdr *nlh, void *arg)
{
	st_mig_parse(nlh, arg);
}

int st_nl_migrate_get(struct st_nl *nl, uint64_t id, struct st_mig *out,
		      struct st_nl_res *res)
{
	struct nl_msg *m = st_nl_msg(nl, STEADYKV_CMD_MIGRATE_GET, 0);
	struct st_nl_res local;

	if (!res)
		res = &local;
	memset(out, 0, sizeof(*out));
	if (m)
		nla_put_u64(m, STEADYKV_A_MIGRATION_ID, id);
	return st_nl_xfer(nl, m, mig_cb, out, res);
}

const char *st_mig_state_name(uint64_t state)
{
	const char *name = state <= UINT32_MAX ? skv_mig_state_name(state) : NULL;

	return name ? name : "?";
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

int st_node_start(struct st_nl *nl, uint16_t port)
{
	struct st_nl_res res;
	int fd;

	if (st_nl_listen(nl, ST_ADDR, port, &res)) {
		seterr("listen-start: %s (%s)", strerror(-res.err), res.msg);
		return -1;
	}
	if (st_nl_table_add(nl, ST_TABLE, &res)) {
		seterr("table-add: %s (%s)", strerror(-res.err), res.msg);
		return -1;
	}
	if (st_nl_tablet_add(nl, ST_TABLE, 0, UINT64_MAX, -1, &res)) {
		seterr("tablet-add: %s (%s)", strerror(-res.err), res.msg);
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
