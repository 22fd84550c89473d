// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykv-bench driver for steadykv (include/steadykv/wire.h).
 *
 * The hot path encodes and parses the wire format itself (no copies, no
 * per-request allocation); routing uses libsteadykv's cluster client
 * (skv_cluster_owner over the coordinator's map, one struct skv_cluster per
 * thread as it is not thread safe), or one fixed node with --node.
 * NOT_OWNER: the thread fetches the map again (at most once per
 * cfg->refresh_min_us) and resends to the owner it now names; if that is
 * still the node that refused, it waits 1 ms (the core's retry) so a map
 * that lags the node does not burn the redirect budget.
 */
#include <endian.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "steadykv.h"
#include "steadykv_bench.h"
#ifdef BENCH_HAVE_CLUSTER
#include "steadykv_cluster.h"
#endif

#define HDR_LEN	sizeof(struct skv_hdr)

static bool use_coord;

#ifdef BENCH_HAVE_CLUSTER
#define ID_CACHE 64

struct skv_ts {
	struct skv_cluster *cl;
	uint64_t table;
	uint64_t last_refresh_ns;
	uint32_t refresh_min_us;
	int ncache;
	struct { uint32_t id; int idx; } cache[ID_CACHE];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int open_cluster(const struct bench_cfg *cfg, struct skv_cluster **cl)
{
	char host[BENCH_ADDR_MAX];
	uint16_t port;
	int err;

	if (parse_hostport(cfg->coord, host, sizeof(host), &port)) {
		fprintf(stderr, "steadykv-bench: bad --coord '%s'\n", cfg->coord);
		return -1;
	}
	err = skv_cluster_open(host, port, NULL, cl);
	if (err) {
		fprintf(stderr, "steadykv-bench: coordinator %s: %s\n", cfg->coord,
			skv_strerror(err));
		return -1;
	}
	return 0;
}

/* Node index of the owner of hash by this map, or -1. */
static int owner_idx(struct skv_ts *s, uint64_t khash)
{
	char addr[BENCH_ADDR_MAX];
	uint32_t id;
	int i, idx;

	if (skv_cluster_owner(s->cl, s->table, khash, &id, addr, sizeof(addr)))
		return -1;
	for (i = 0; i < s->ncache; i++)
		if (s->cache[i].id == id)
			return s->cache[i].idx;
	idx = bench_node_add(addr, id, true);
	if (idx >= 0 && s->ncache < ID_CACHE) {
		s->cache[s->ncache].id = id;
		s->cache[s->ncache++].idx = idx;
	}
	return idx;
}
#endif

static int skv_setup(struct bench_cfg *cfg)
{
	use_coord = cfg->coord[0] != 0;
	if (!use_coord)
		return bench_node_add(cfg->seeds[0], 0, false) < 0 ? -1 : 0;
#ifdef BENCH_HAVE_CLUSTER
	{
		struct skv_ts s = { .table = cfg->table };
		uint64_t i;

		if (open_cluster(cfg, &s.cl))
			return -1;
		/* find the nodes now, for the connections and the columns */
		for (i = 0; i < 4096; i++)
			owner_idx(&s, i << 52 | i);
		skv_cluster_close(s.cl);
		if (!bench_node_count())
			fprintf(stderr, "steadykv-bench: table %llu is not in the map\n",
				(unsigned long long)cfg->table);
		return 0;
	}
#else
	fprintf(stderr, "steadykv-bench: built without the cluster client (lib/cluster.c)\n");
	return -1;
#endif
}

static void *skv_thread_init(struct bench_cfg *cfg, int tid)
{
	(void)tid;
#ifdef BENCH_HAVE_CLUSTER
	if (use_coord) {
		struct skv_ts *s = calloc(1, sizeof(*s));

		if (!s || open_cluster(cfg, &s->cl)) {
			free(s);
			exit(1);
		}
		s->table = cfg->table;
		s->refresh_min_us = cfg->refresh_min_us;
		return s;
	}
#else
	(void)cfg;
#endif
	return NULL;
}

static void skv_thread_fini(void *ts)
{
#ifdef BENCH_HAVE_CLUSTER
	struct skv_ts *s = ts;

	if (s)
		skv_cluster_close(s->cl);
	free(s);
#else
	(void)ts;
#endif
}

static int skv_route(void *ts, const char *key, size_t klen, uint64_t khash)
{
	(void)key;
	(void)klen;
#ifdef BENCH_HAVE_CLUSTER
	if (ts)
		return owner_idx(ts, khash);
#else
	(void)ts;
	(void)khash;
#endif
	return 0;
}

static int skv_redirect(void *ts, const struct bench_reply *r, const char *key,
			size_t klen, uint64_t khash)
{
	(void)key;
	(void)klen;
#ifdef BENCH_HAVE_CLUSTER
	struct skv_ts *s = ts;
	uint64_t now = now_ns();
	int idx;

	if (!s)
		return -1;
	if (now - s->last_refresh_ns >= (uint64_t)s->refresh_min_us * 1000) {
		s->last_refresh_ns = now;
		if (!skv_cluster_refresh(s->cl))
			s->ncache = 0;	/* ids may have new addresses */
	}
	idx = owner_idx(s, khash);
	return idx == r->from ? -1 : idx;
#else
	(void)ts;
	(void)r;
	(void)khash;
	return -1;
#endif
}

static int skv_encode(struct bench_cfg *cfg, struct buf *out, enum bench_op op,
		      const char *key, size_t klen, uint64_t id, bool asking)
{
	size_t body = op == BOP_READ ? sizeof(struct skv_key_req) + klen
				     : sizeof(struct skv_put_req) + klen + cfg->value_size;
	struct skv_hdr h = {
		.magic = htole16(SKV_WIRE_MAGIC),
		.version = SKV_WIRE_VERSION,
		.opcode = op == BOP_READ ? SKV_OP_GET : SKV_OP_PUT,
		.request_id = htole64(id),
		.body_len = htole32((uint32_t)body),
	};
	char *p;

	(void)asking;
	if (buf_reserve(out, HDR_LEN + body))
		return -1;
	p = out->p + out->len;
	memcpy(p, &h, HDR_LEN);
	p += HDR_LEN;
	if (op == BOP_READ) {
		struct skv_key_req k = {
			.table_id = htole64(cfg->table),
			.key_len = htole16((uint16_t)klen),
		};

		memcpy(p, &k, sizeof(k));
		memcpy(p + sizeof(k), key, klen);
	} else {
		struct skv_put_req k = {
			.table_id = htole64(cfg->table),
			.key_len = htole16((uint16_t)klen),
			.value_len = htole32((uint32_t)cfg->value_size),
		};

		memcpy(p, &k, sizeof(k));
		memcpy(p + sizeof(k), key, klen);
		memcpy(p + sizeof(k) + klen, cfg->value, cfg->value_size);
	}
	out->len += HDR_LEN + body;
	return 1;
}

static int skv_parse(void *cs, struct buf *in, const struct pend *head,
		     struct bench_reply *r)
{
	const char *p = in->p + in->off;
	size_t avail = in->len - in->off;
	uint8_t want = head->op == BOP_READ ? SKV_OP_GET : SKV_OP_PUT;
	struct skv_hdr h;
	uint32_t blen;

	(void)cs;
	if (avail < HDR_LEN)
		return 0;
	memcpy(&h, p, HDR_LEN);
	blen = le32toh(h.body_len);
	if (le16toh(h.magic) != SKV_WIRE_MAGIC || h.version != SKV_WIRE_VERSION ||
	    !(h.flags & SKV_F_REPLY) || blen > SKV_MAX_BODY_LEN + 4096) {
		snprintf(r->msg, sizeof(r->msg), "bad reply header");
		return -1;
	}
	if (le64toh(h.request_id) != head->id || h.opcode != want) {
		snprintf(r->msg, sizeof(r->msg), "reply for id %llu op %u, expected id %llu op %u",
			 (unsigned long long)le64toh(h.request_id), h.opcode,
			 (unsigned long long)head->id, want);
		return -1;
	}
	if (avail < HDR_LEN + blen)
		return 0;
	switch (h.status) {
	case SKV_S_OK:
		r->kind = RK_OK;
		break;
	case SKV_S_NOT_FOUND:
		r->kind = RK_MISS;
		break;
	case SKV_S_NOT_OWNER:
		r->kind = use_coord ? RK_REDIRECT : RK_ERROR;
		snprintf(r->msg, sizeof(r->msg), "NOT_OWNER");
		break;
	case SKV_S_RETRY: {
		struct skv_retry_reply rr;

		r->kind = RK_RETRY;
		if (blen >= sizeof(rr)) {
			memcpy(&rr, p + HDR_LEN, sizeof(rr));
			r->retry_us = le32toh(rr.retry_us);
		}
		break;
	}
	default:
		r->kind = RK_ERROR;
		snprintf(r->msg, sizeof(r->msg), "%s", skv_code_name(-(int)h.status));
		break;
	}
	buf_consume(in, HDR_LEN + blen);
	return 1;
}

/*
 * --client-key: the challenge-response with libsteadykv on a copy of the
 * fd, before the connection carries any request (so nothing is read ahead).
 */
static atomic_bool auth_failure_said;

static int skv_conn_auth(struct bench_cfg *cfg, int fd)
{
	struct skv_conn *c;
	int dfd, rc;

	if (!cfg->client_key)
		return 0;
	dfd = dup(fd);
	if (dfd < 0 || skv_conn_from_fd(dfd, NULL, &c))
		return -1;
	rc = skv_authenticate(c, cfg->client_key);
	/* Said once: every connection would fail the same way. */
	if (rc && !atomic_exchange(&auth_failure_said, true))
		fprintf(stderr, "steadykv-bench: %s\n", skv_conn_errmsg(c));
	skv_close(c);
	return rc ? -1 : 0;
}

const struct bench_driver bench_drv_skv = {
	.name = "steadykv",
	.setup = skv_setup,
	.thread_init = skv_thread_init,
	.thread_fini = skv_thread_fini,
	.route = skv_route,
	.encode = skv_encode,
	.parse = skv_parse,
	.redirect = skv_redirect,
	.conn_auth = skv_conn_auth,
};
