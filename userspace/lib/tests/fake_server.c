// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The fake node of the host tests: framing, replies, listeners and a store. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_server.h"
#include <steadykv/coord.h>

/* Tests fail loudly on broken plumbing rather than hang. */
static __attribute__((noreturn)) void die(const char *what)
{
	perror(what);
	abort();
}

int fake_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void fake_send(struct fake_server *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* client gone: its test will say so */
		p += n;
		len -= (size_t)n;
	}
}

void fake_hdr(uint8_t *h, uint8_t opcode, uint8_t flags, uint8_t status,
	      uint64_t id, uint32_t body_len)
{
	memset(h, 0, SKV_HDR_LEN);
	skv_put_le16(h, SKV_WIRE_MAGIC);
	h[2] = SKV_WIRE_VERSION;
	h[3] = opcode;
	h[4] = flags;
	h[5] = status;
	skv_put_le64(h + 8, id);
	skv_put_le32(h + 16, body_len);
}

void fake_reply(struct fake_server *s, const struct fake_req *req, uint8_t status,
		const void *body, uint32_t len)
{
	uint8_t h[SKV_HDR_LEN];

	fake_hdr(h, req->opcode, SKV_F_REPLY, status, req->id, len);
	if (s->coord) {
		/* Same layout but the magic and a 16-bit status (an errno). */
		skv_put_le16(h, SKV_COORD_MAGIC);
		h[2] = SKV_COORD_VERSION;
		h[4] = SKV_COORD_F_REPLY;
		h[5] = 0;
		skv_put_le16(h + 6, status);
	}
	fake_send(s, h, sizeof(h));
	if (len)
		fake_send(s, body, len);
}

static void *serve(void *arg)
{
	struct fake_server *s = arg;
	uint8_t h[SKV_HDR_LEN];

	if (s->listen_fd >= 0) {
		s->fd = accept(s->listen_fd, NULL, NULL);
		if (s->fd < 0)
			return NULL;
	}
	while (fake_read_full(s->fd, h, sizeof(h)) == 0) {
		struct fake_req req = {
			.opcode = h[3], .flags = h[4], .status = h[5],
			.reserved = skv_get_le16(h + 6), .id = skv_get_le64(h + 8),
			.body_len = skv_get_le32(h + 16), .epoch = skv_get_le32(h + 20),
		};
		int stop;

		/* Like the node: a bad header or oversized body ends the connection. */
		if (skv_get_le16(h) != (s->coord ? SKV_COORD_MAGIC : SKV_WIRE_MAGIC) ||
		    h[2] != (s->coord ? SKV_COORD_VERSION : SKV_WIRE_VERSION) ||
		    req.flags || req.status || req.reserved ||
		    req.body_len > SKV_MAX_BODY_LEN) {
			s->bad++;
			break;
		}
		req.body = malloc(req.body_len ? req.body_len : 1);
		if (!req.body)
			die("malloc");
		if (fake_read_full(s->fd, req.body, req.body_len)) {
			free(req.body);
			break;
		}
		s->served++;
		stop = s->handler(s, &req);
		free(req.body);
		if (stop)
			break;
	}
	shutdown(s->fd, SHUT_RDWR);
	if (s->listener) {
		/* Closed here so the peer sees it now; s stays for its joiner. */
		pthread_mutex_lock(&s->listener->lock);
		close(s->fd);
		s->fd = -1;
		pthread_mutex_unlock(&s->listener->lock);
	}
	return NULL;
}

void fake_start_pair(struct fake_server *s, fake_handler_t h, void *arg, int *client_fd)
{
	int sv[2];

	memset(s, 0, sizeof(*s));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	s->fd = sv[1];
	s->listen_fd = -1;
	s->handler = h;
	s->arg = arg;
	*client_fd = sv[0];
	if (pthread_create(&s->thread, NULL, serve, s))
		die("pthread_create");
}

int fake_start_tcp(struct fake_server *s, fake_handler_t h, void *arg, int family,
		   uint16_t *port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len = sizeof(ss);
	int fd;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->handler = h;
	s->arg = arg;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_addr = in6addr_loopback;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, family == AF_INET ?
		 sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) ||
	    listen(fd, 1) || getsockname(fd, (struct sockaddr *)&ss, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
		      ((struct sockaddr_in6 *)&ss)->sin6_port);
	s->listen_fd = fd;
	if (pthread_create(&s->thread, NULL, serve, s))
		die("pthread_create");
	return 0;
}

void fake_stop(struct fake_server *s)
{
	if (s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	if (s->fd >= 0)
		close(s->fd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
}

/* Join and free the connections that ended (all of them once they are shut down). */
static void reap(struct fake_listener *l, bool all)
{
	struct fake_server **pp = &l->conns, *s;

	pthread_mutex_lock(&l->lock);
	while ((s = *pp)) {
		if (!all && s->fd >= 0) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		/* An ended thread has only its return left: the join is short. */
		pthread_mutex_unlock(&l->lock);
		pthread_join(s->thread, NULL);
		free(s);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
}

static void *accept_loop(void *arg)
{
	struct fake_listener *l = arg;

	for (;;) {
		int fd, one = 1;
		struct fake_server *s;

		reap(l, false);
		fd = accept(l->fd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;	/* fake_listen_stop() shut the listener */
		}
		/* Replies go out as header then body: no Nagle wait between them. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		s = calloc(1, sizeof(*s));
		if (!s)
			die("calloc");
		*s = (struct fake_server){ .fd = fd, .listen_fd = -1, .handler = l->handler,
					   .arg = l->arg, .tag = l->tag, .coord = l->coord,
					   .listener = l };
		/* Linked under the lock the thread's ending takes: no race on s. */
		pthread_mutex_lock(&l->lock);
		s->next = l->conns;
		if (pthread_create(&s->thread, NULL, serve, s)) {
			close(fd);
			free(s);
		} else {
			l->conns = s;
		}
		pthread_mutex_unlock(&l->lock);
	}
}

int fake_listen(struct fake_listener *l, uint16_t port, fake_handler_t h, void *arg,
		int tag, bool coord)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1;

	*l = (struct fake_listener){ .handler = h, .arg = arg, .tag = tag, .coord = coord };
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -1;
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->fd, (struct sockaddr *)&a, sizeof(a)) || listen(l->fd, 128) ||
	    getsockname(l->fd, (struct sockaddr *)&a, &alen)) {
		close(l->fd);
		return -1;
	}
	l->port = ntohs(a.sin_port);
	pthread_mutex_init(&l->lock, NULL);
	if (pthread_create(&l->thread, NULL, accept_loop, l)) {
		pthread_mutex_destroy(&l->lock);
		close(l->fd);
		return -1;
	}
	return 0;
}

void fake_listen_stop(struct fake_listener *l)
{
	struct fake_server *s;

	/* Wakes accept(); once the acceptor is joined nothing adds a connection. */
	shutdown(l->fd, SHUT_RDWR);
	pthread_join(l->thread, NULL);
	close(l->fd);
	pthread_mutex_lock(&l->lock);
	for (s = l->conns; s; s = s->next)
		if (s->fd >= 0)
			shutdown(s->fd, SHUT_RDWR);
	pthread_mutex_unlock(&l->lock);
	reap(l, true);
	pthread_mutex_destroy(&l->lock);
}

/* ---- the store ---- */

struct entry {
	struct entry *next;	/* hash chain */
	uint8_t *key;
	uint16_t key_len;
	bool live;
	uint64_t version;
	uint8_t *value;
	uint32_t value_len;
	/* The state before the last write: what a stale read answers. */
	bool prev_live;
	uint64_t prev_version;
	uint8_t *prev_value;
	uint32_t prev_value_len;
};

struct fake_store {
	pthread_mutex_t lock;
	struct entry **buckets;
	size_t nbuckets, n;
	uint64_t version;
	unsigned int stale_every, lose_every;
	unsigned long stale_count, lose_count;
};

struct fake_store *fake_store_new(void)
{
	struct fake_store *st = calloc(1, sizeof(*st));

	if (!st)
		die("calloc");
	pthread_mutex_init(&st->lock, NULL);
	st->nbuckets = 64;
	st->buckets = calloc(st->nbuckets, sizeof(*st->buckets));
	if (!st->buckets)
		die("calloc");
	return st;
}

void fake_store_set_faults(struct fake_store *st, unsigned int stale_every,
			   unsigned int lose_every)
{
	st->stale_every = stale_every;
	st->lose_every = lose_every;
}

void fake_store_free(struct fake_store *st)
{
	for (size_t b = 0; b < st->nbuckets; b++) {
		for (struct entry *e = st->buckets[b], *next; e; e = next) {
			next = e->next;
			free(e->key);
			free(e->value);
			free(e->prev_value);
			free(e);
		}
	}
	free(st->buckets);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static size_t bucket_of(const struct fake_store *st, const uint8_t *key, uint16_t len)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (uint16_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return (size_t)(h % st->nbuckets);
}

static void grow(struct fake_store *st)
{
	size_t old = st->nbuckets;
	struct entry **ob = st->buckets;

	st->nbuckets *= 4;
	st->buckets = calloc(st->nbuckets, sizeof(*st->buckets));
	if (!st->buckets)
		die("calloc");
	for (size_t b = 0; b < old; b++) {
		for (struct entry *e = ob[b], *next; e; e = next) {
			size_t nb = bucket_of(st, e->key, e->key_len);

			next = e->next;
			e->next = st->buckets[nb];
			st->buckets[nb] = e;
		}
	}
	free(ob);
}

static struct entry *lookup(struct fake_store *st, const uint8_t *key, uint16_t len,
			    bool create)
{
	size_t b = bucket_of(st, key, len);
	struct entry *e;

	for (e = st->buckets[b]; e; e = e->next)
		if (e->key_len == len && !memcmp(e->key, key, len))
			return e;
	if (!create)
		return NULL;
	if (st->n >= 2 * st->nbuckets) {
		grow(st);
		b = bucket_of(st, key, len);
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->key = malloc(len ? len : 1)))
		die("calloc");
	memcpy(e->key, key, len);
	e->key_len = len;
	e->next = st->buckets[b];
	st->buckets[b] = e;
	st->n++;
	return e;
}

/* A write: the current state becomes the previous one. */
static void set_entry(struct fake_store *st, struct entry *e, bool live, const uint8_t *value,
		      uint32_t len)
{
	free(e->prev_value);
	e->prev_live = e->live;
	e->prev_version = e->version;
	e->prev_value = e->value;
	e->prev_value_len = e->value_len;
	e->value = NULL;
	e->value_len = 0;
	if (live) {
		e->value = malloc(len ? len : 1);
		if (!e->value)
			die("malloc");
		memcpy(e->value, value, len);
		e->value_len = len;
	}
	e->live = live;
	e->version = ++st->version;
}

static void reply_ver(struct fake_server *s, const struct fake_req *req, uint8_t status,
		      uint64_t version)
{
	uint8_t b[8];

	skv_put_le64(b, version);
	fake_reply(s, req, status, b, sizeof(b));
}

static void do_get(struct fake_server *s, struct fake_store *st, const struct fake_req *req,
		   struct entry *e)
{
	bool live = e && e->live;
	uint64_t version = e ? e->version : 0;
	const uint8_t *value = e ? e->value : NULL;
	uint32_t len = e ? e->value_len : 0;
	uint8_t *b;

	if (e && e->prev_version && st->stale_every &&
	    ++st->stale_count % st->stale_every == 0) {
		live = e->prev_live;
		version = e->prev_version;
		value = e->prev_value;
		len = e->prev_value_len;
	}
	if (!live) {
		reply_ver(s, req, SKV_S_NOT_FOUND, version);
		return;
	}
	b = malloc(16 + len);
	if (!b)
		die("malloc");
	memset(b, 0, 16);
	skv_put_le64(b, version);
	skv_put_le32(b + 8, len);
	memcpy(b + 16, value, len);
	fake_reply(s, req, SKV_S_OK, b, 16 + len);
	free(b);
}

static void do_multi(struct fake_server *s, struct fake_store *st, const struct fake_req *req)
{
	const uint8_t *p = req->body + 16, *end = req->body + req->body_len;
	uint16_t count = skv_get_le16(req->body + 8);
	size_t cap = 8, len = 8;
	uint8_t *b = calloc(1, cap);

	if (!b)
		die("calloc");
	skv_put_le16(b, count);
	for (unsigned int i = 0; i < count; i++) {
		struct entry *e;
		uint16_t kl;
		uint32_t vl;

		if (end - p < 2 || end - p - 2 < skv_get_le16(p)) {
			s->bad++;
			free(b);
			fake_reply(s, req, SKV_S_BAD_REQUEST, NULL, 0);
			return;
		}
		kl = skv_get_le16(p);
		e = lookup(st, p + 2, kl, false);
		p += 2 + kl;
		vl = e && e->live ? e->value_len : 0;
		if (len + 16 + vl > cap) {
			cap = (len + 16 + vl) * 2;
			b = realloc(b, cap);
			if (!b)
				die("realloc");
		}
		memset(b + len, 0, 16);
		b[len] = e && e->live ? SKV_S_OK : SKV_S_NOT_FOUND;
		skv_put_le32(b + len + 4, vl);
		skv_put_le64(b + len + 8, e ? e->version : 0);
		if (vl)
			memcpy(b + len + 16, e->value, vl);
		len += 16 + vl;
	}
	if (p != end)
		s->bad++;
	fake_reply(s, req, SKV_S_OK, b, (uint32_t)len);
	free(b);
}

static void store_op(struct fake_server *s, struct fake_store *st, const struct fake_req *req,
		     uint64_t expect, uint16_t kl, uint32_t vl);

int fake_store_handler(struct fake_server *s, const struct fake_req *req)
{
	struct fake_store *st = s->arg;
	const uint8_t *b = req->body;
	uint64_t table, expect;
	uint16_t kl;
	uint32_t vl = 0;

	switch (req->opcode) {
	case SKV_OP_PING:
		if (req->body_len)
			s->bad++;
		fake_reply(s, req, SKV_S_OK, NULL, 0);
		return 0;
	case SKV_OP_GET:
	case SKV_OP_DELETE:
	case SKV_OP_PUT:
	case SKV_OP_MULTI_GET:
		break;
	default:
		fake_reply(s, req, SKV_S_UNKNOWN_OP, NULL, 0);
		return 0;
	}
	if (req->body_len < 16) {
		s->bad++;
		fake_reply(s, req, SKV_S_BAD_REQUEST, NULL, 0);
		return 0;
	}
	table = skv_get_le64(b);
	if (table != 1) {
		fake_reply(s, req, SKV_S_UNKNOWN_TABLE, NULL, 0);
		return 0;
	}
	if (req->opcode == SKV_OP_MULTI_GET) {
		pthread_mutex_lock(&st->lock);
		do_multi(s, st, req);
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	expect = skv_get_le64(b + 8);
	kl = skv_get_le16(b + 16);
	if (req->opcode == SKV_OP_PUT)
		vl = skv_get_le32(b + 20);
	/* The whole body must be exactly the fixed part, the key, the value. */
	if (req->body_len < 24 || req->body_len - 24 != (uint64_t)kl + vl) {
		s->bad++;
		fake_reply(s, req, SKV_S_BAD_REQUEST, NULL, 0);
		return 0;
	}
	if (kl > SKV_MAX_KEY_LEN || vl > SKV_MAX_VALUE_LEN) {
		fake_reply(s, req, SKV_S_TOO_BIG, NULL, 0);
		return 0;
	}
	pthread_mutex_lock(&st->lock);
	store_op(s, st, req, expect, kl, vl);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

/* GET, PUT or DELETE of a well-formed request, under the store's lock. */
static void store_op(struct fake_server *s, struct fake_store *st, const struct fake_req *req,
		     uint64_t expect, uint16_t kl, uint32_t vl)
{
	const uint8_t *b = req->body;
	struct entry *e = lookup(st, b + 24, kl, req->opcode == SKV_OP_PUT);

	switch (req->opcode) {
	case SKV_OP_GET:
		do_get(s, st, req, e);
		break;
	case SKV_OP_PUT:
		if (!e) {	/* lookup() creates it: for the analyzer */
			fake_reply(s, req, SKV_S_NO_SPACE, NULL, 0);
			break;
		}
		if (expect && expect != (e->live ? e->version : 0)) {
			reply_ver(s, req, SKV_S_VERSION_MISMATCH, e->live ? e->version : 0);
			break;
		}
		if (!expect && st->lose_every && ++st->lose_count % st->lose_every == 0) {
			reply_ver(s, req, SKV_S_OK, ++st->version);	/* and forget it */
			break;
		}
		set_entry(st, e, true, b + 24 + kl, vl);
		reply_ver(s, req, SKV_S_OK, e->version);
		break;
	case SKV_OP_DELETE:
		if (!e || !e->live) {
			reply_ver(s, req, SKV_S_NOT_FOUND, e ? e->version : 0);
			break;
		}
		if (expect && expect != e->version) {
			reply_ver(s, req, SKV_S_VERSION_MISMATCH, e->version);
			break;
		}
		set_entry(st, e, false, NULL, 0);
		reply_ver(s, req, SKV_S_OK, e->version);
		break;
	}
}
