// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host tests of the cluster client (steadykv_cluster.h): a fake coordinator
 * and two fake nodes on loopback threads.  Routing by hash, NOT_OWNER then a
 * new map, RETRY, reconnects, deadlines, and malformed maps, which must be
 * errors and never crashes (built with ASan and UBSan).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "coord_map.h"
#include "fake_server.h"
#include "steadykv_cluster.h"

#define HALF		0x8000000000000000ull

/* ---- the fake coordinator: serves maps[min(fetches, n - 1)] ---- */

struct coord {
	struct fake_listener srv;
	bool started;
	pthread_mutex_t lock;	/* the fields below; its threads read them */
	uint8_t *maps[4];
	uint32_t map_len[4];
	int nmaps;
	int fetches;
	uint16_t status;	/* answer every GET_MAP with this errno */
};

static int coord_handler(struct fake_server *s, const struct fake_req *req)
{
	struct coord *co = s->arg;
	int i;

	pthread_mutex_lock(&co->lock);
	i = co->fetches < co->nmaps ? co->fetches : co->nmaps - 1;
	co->fetches++;
	if (co->status)
		fake_reply(s, req, co->status, "no map", 7);
	else
		fake_reply(s, req, 0, co->maps[i], co->map_len[i]);
	pthread_mutex_unlock(&co->lock);
	return 0;
}

/* ---- map encoding ---- */

struct tdesc {
	uint64_t table, start, end;
	uint32_t owner;
};

static uint8_t *enc_map(uint64_t version, int nn, const uint32_t *ids,
			const char *const *addrs, int nt, const struct tdesc *t,
			uint32_t *len)
{
	size_t l = 16 + (size_t)nn * 136 + (size_t)nt * 40;
	uint8_t *b = calloc(1, l);
	uint8_t *p;

	if (!b)
		abort();
	p = b + 16;
	skv_put_le64(b, version);
	skv_put_le32(b + 8, (uint32_t)nn);
	skv_put_le32(b + 12, (uint32_t)nt);
	for (int i = 0; i < nn; i++, p += 136) {
		skv_put_le32(p, ids[i]);
		snprintf((char *)p + 8, 128, "%s", addrs[i]);
	}
	for (int i = 0; i < nt; i++, p += 40) {
		skv_put_le64(p, t[i].table);
		skv_put_le64(p + 8, t[i].start);
		skv_put_le64(p + 16, t[i].end);
		skv_put_le32(p + 24, t[i].owner);
	}
	*len = (uint32_t)l;
	return b;
}

/* ---- fake nodes ---- */

struct node {
	struct fake_listener srv;
	pthread_mutex_t lock;	/* the fields below; its threads write them */
	uint32_t id;
	char addr[64];
	struct fake_store *st;
	uint64_t lo, hi;	/* table 1 hashes it owns; lo > hi: none */
	int retry_first;	/* answer RETRY to this many requests first */
	uint32_t retry_us;
	int close_first;	/* close the connection on this many requests first */
	bool hang;		/* never answer */
	uint32_t epoch;		/* requests stamped older: STALE_EPOCH */
	uint32_t last_epoch;	/* of the last request */
	int puts, not_owner, stale, requests;
};

static int node_handler(struct fake_server *s, const struct fake_req *req)
{
	struct node *n = s->arg;
	/* The same connection, with the store as arg for its handler. */
	struct fake_server fs = { .fd = s->fd, .listen_fd = -1, .arg = n->st };
	const uint8_t *body = req->body;
	uint32_t len = req->body_len;
	int stop = 0;

	pthread_mutex_lock(&n->lock);
	n->requests++;
	n->last_epoch = req->epoch;
	if (n->hang) {
		/* say nothing */
	} else if (req->epoch && req->epoch < n->epoch) {
		n->stale++;
		fake_reply(&fs, req, SKV_S_STALE_EPOCH, NULL, 0);
	} else if (n->close_first > 0) {
		n->close_first--;
		stop = 1;
	} else if (n->retry_first > 0) {
		uint8_t rb[8] = { 0 };

		n->retry_first--;
		skv_put_le32(rb, n->retry_us);
		fake_reply(&fs, req, SKV_S_RETRY, rb, 8);
	} else if (len >= 24 && skv_get_le64(body) == 1 &&
		   (req->opcode == SKV_OP_GET || req->opcode == SKV_OP_PUT ||
		    req->opcode == SKV_OP_DELETE) &&
		   len - 24 >= skv_get_le16(body + 16)) {
		uint64_t hash = skv_key_hash(body + 24, skv_get_le16(body + 16));

		if (n->lo > n->hi || hash < n->lo || hash > n->hi) {
			n->not_owner++;
			fake_reply(&fs, req, SKV_S_NOT_OWNER, NULL, 0);
		} else {
			if (req->opcode == SKV_OP_PUT)
				n->puts++;
			fake_store_handler(&fs, req);
		}
	} else {
		fake_store_handler(&fs, req);
	}
	pthread_mutex_unlock(&n->lock);
	return stop;
}

static void node_start(struct node *n, uint32_t id, uint64_t lo, uint64_t hi)
{
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->lo = lo;
	n->hi = hi;
	n->st = fake_store_new();
	pthread_mutex_init(&n->lock, NULL);
	if (fake_listen(&n->srv, 0, node_handler, n, 0, false))
		abort();
	snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%u", n->srv.port);
}

static void node_stop(struct node *n)
{
	fake_listen_stop(&n->srv);
	pthread_mutex_destroy(&n->lock);
	fake_store_free(n->st);
}

/* Accessors under the node's lock (its threads write these). */
static int node_get(struct node *n, const int *field)
{
	int v;

	pthread_mutex_lock(&n->lock);
	v = *field;
	pthread_mutex_unlock(&n->lock);
	return v;
}

static void coord_start(struct coord *co)
{
	if (fake_listen(&co->srv, 0, coord_handler, co, 0, true))
		abort();
	co->started = true;
}

static void coord_stop(struct coord *co)
{
	if (co->started)
		fake_listen_stop(&co->srv);
	pthread_mutex_destroy(&co->lock);
	for (int i = 0; i < co->nmaps; i++)
		free(co->maps[i]);
}

static void coord_add_map(struct coord *co, uint64_t version, int nn, struct node **nodes,
			  int nt, const struct tdesc *t)
{
	uint32_t ids[4];
	const char *addrs[4];

	for (int i = 0; i < nn; i++) {
		ids[i] = nodes[i]->id;
		addrs[i] = nodes[i]->addr;
	}
	co->maps[co->nmaps] = enc_map(version, nn, ids, addrs, nt, t,
				      &co->map_len[co->nmaps]);
	co->nmaps++;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fixture: coordinator + nodes 1 and 2 ---- */

FIXTURE(cl) {
	struct coord co;
	struct node n1, n2;
	struct node *both[2];
	struct skv_cluster *c;
};

FIXTURE_SETUP(cl)
{
	memset(&self->co, 0, sizeof(self->co));
	pthread_mutex_init(&self->co.lock, NULL);
	node_start(&self->n1, 1, 0, HALF - 1);
	node_start(&self->n2, 2, HALF, UINT64_MAX);
	self->both[0] = &self->n1;
	self->both[1] = &self->n2;
	self->c = NULL;
}

FIXTURE_TEARDOWN(cl)
{
	skv_cluster_close(self->c);
	coord_stop(&self->co);
	node_stop(&self->n1);
	node_stop(&self->n2);
}

static const struct tdesc split_map[] = {
	{ 1, 0, HALF - 1, 1 }, { 1, HALF, UINT64_MAX, 2 },
};
static const struct tdesc all_on_1[] = { { 1, 0, UINT64_MAX, 1 } };
static const struct tdesc all_on_2[] = { { 1, 0, UINT64_MAX, 2 } };

static int open_cl(struct coord *co, int timeout_ms, struct skv_cluster **c)
{
	struct skv_opts o = { .timeout_ms = timeout_ms };

	return skv_cluster_open("127.0.0.1", co->srv.port, &o, c);
}

TEST_F(cl, routes_by_hash)
{
	struct skv_cluster_stats st;
	char key[16], addr[SKV_COORD_ADDR_MAX];
	uint32_t id;
	int err;

	coord_add_map(&self->co, 7, 2, self->both, 2, split_map);
	coord_start(&self->co);
	ASSERT_EQ(0, open_cl(&self->co, 2000, &self->c));
	for (int i = 0; i < 64; i++) {
		uint64_t v, h;

		snprintf(key, sizeof(key), "key-%d", i);
		h = skv_key_hash(key, strlen(key));
		ASSERT_EQ(SKV_OK, skv_cluster_put(self->c, 1, key, strlen(key), key,
						  strlen(key), 0, &v));
		ASSERT_EQ(0, skv_cluster_owner(self->c, 1, h, &id, addr, sizeof(addr)));
		ASSERT_EQ(h < HALF ? 1u : 2u, id);
		ASSERT_STREQ(h < HALF ? self->n1.addr : self->n2.addr, addr);
		ASSERT_NE(NULL, skv_cluster_conn_for(self->c, 1, h, &id, &err));
		ASSERT_EQ(0, err);
	}
	for (int i = 0; i < 64; i++) {
		void *val;
		size_t len;
		uint64_t v;

		snprintf(key, sizeof(key), "key-%d", i);
		ASSERT_EQ(SKV_OK, skv_cluster_get(self->c, 1, key, strlen(key), &val, &len, &v));
		ASSERT_EQ(strlen(key), len);
		ASSERT_EQ(0, memcmp(val, key, len));
		free(val);
	}
	ASSERT_EQ(SKV_OK, skv_cluster_delete(self->c, 1, "key-1", 5, 0, NULL));
	{
		void *val;

		ASSERT_EQ(SKV_E_NOT_FOUND, skv_cluster_get(self->c, 1, "key-1", 5, &val,
							   NULL, NULL));
		ASSERT_EQ(NULL, val);
	}
	/* Both nodes got a share; nobody said NOT_OWNER. */
	ASSERT_LT(0, node_get(&self->n1, &self->n1.puts));
	ASSERT_LT(0, node_get(&self->n2, &self->n2.puts));
	ASSERT_EQ(64, node_get(&self->n1, &self->n1.puts) + node_get(&self->n2, &self->n2.puts));
	ASSERT_EQ(0, node_get(&self->n1, &self->n1.not_owner));
	ASSERT_EQ(0, node_get(&self->n2, &self->n2.not_owner));
	skv_cluster_get_stats(self->c, &st);
	ASSERT_EQ(7u, st.map_version);
	ASSERT_EQ(1u, st.map_fetches);
	ASSERT_EQ(0u, st.not_owner);
	ASSERT_EQ(0u, st.retries);
	/* Tables not in the map, and a too-short address buffer. */
	ASSERT_EQ(SKV_E_UNKNOWN_TABLE, skv_cluster_put(self->c, 9, "k", 1, "v", 1, 0, NULL));
	ASSERT_EQ(SKV_E_UNKNOWN_TABLE, skv_cluster_owner(self->c, 9, 0, &id, NULL, 0));
	ASSERT_EQ(SKV_E_INVAL, skv_cluster_owner(self->c, 1, 0, &id, addr, 4));
}

TEST_F(cl, not_owner_then_new_map_goes_to_new_owner)
{
	struct skv_cluster_stats st;
	void *val;

	/* The coordinator's first map still says node 1; node 1 has let go. */
	self->n1.lo = 1;
	self->n1.hi = 0;
	self->n2.lo = 0;
	coord_add_map(&self->co, 1, 2, self->both, 1, all_on_1);
	coord_add_map(&self->co, 2, 2, self->both, 1, all_on_2);
	coord_start(&self->co);
	ASSERT_EQ(0, open_cl(&self->co, 2000, &self->c));
	ASSERT_EQ(SKV_OK, skv_cluster_put(self->c, 1, "moved", 5, "x", 1, 0, NULL));
	ASSERT_EQ(1, node_get(&self->n1, &self->n1.not_owner));
	ASSERT_EQ(1, node_get(&self->n2, &self->n2.puts));
	skv_cluster_get_stats(self->c, &st);
	ASSERT_EQ(2u, st.map_version);
	ASSERT_EQ(2u, st.map_fetches);
	ASSERT_EQ(1u, st.not_owner);
	/* Later calls go straight to node 2. */
	ASSERT_EQ(SKV_OK, skv_cluster_get(self->c, 1, "moved", 5, &val, NULL, NULL));
	free(val);
	ASSERT_EQ(1, node_get(&self->n1, &self->n1.requests));
}

/*
 * Requests carry the map's version (wire.h "Epochs"); a node that knows a
 * newer epoch refuses them, and the client fetches the map and resends.
 */
TEST_F(cl, stale_epoch_refreshes_the_map_and_resends)
{
	struct skv_cluster_stats st;

	self->n1.hi = UINT64_MAX;	/* node 1 owns it all */
	self->n1.epoch = 5;
	coord_add_map(&self->co, 3, 2, self->both, 1, all_on_1);
	coord_add_map(&self->co, 5, 2, self->both, 1, all_on_1);
	coord_start(&self->co);
	ASSERT_EQ(0, open_cl(&self->co, 2000, &self->c));
	ASSERT_EQ(SKV_OK, skv_cluster_put(self->c, 1, "epoch", 5, "x", 1, 0, NULL));
	ASSERT_EQ(1, node_get(&self->n1, &self->n1.stale));
	ASSERT_EQ(1, node_get(&self->n1, &self->n1.puts));
	pthread_mutex_lock(&self->n1.lock);
	ASSERT_EQ(5u, self->n1.last_epoch);
	pthread_mutex_unlock(&self->n1.lock);
	skv_cluster_get_stats(self->c, &st);
	ASSERT_EQ(5u, st.map_version);
	ASSERT_EQ(2u, st.map_fetches);
}

TEST_F(cl, not_owner_from_same_map_backs_off_then_follows)
{
	struct skv_cluster_stats st;
	long t0;

	/* The map lags: three fetches still say node 1, the fourth node 2. */
	self->n1.lo = 1;
	self->n1.hi = 0;
	self->n2.lo = 0;
	for (int v = 0; v < 3; v++)
		coord_add_map(&self->co, 1, 2, self->both, 1, all_on_1);
	coord_add_map(&self->co, 2, 2, self->both, 1, all_on_2);
	coord_start(&self->co);
	ASSERT_EQ(0, open_cl(&self->co, 3000, &self->c));
	t0 = now_ms();
	ASSERT_EQ(SKV_OK, skv_cluster_put(self->c, 1, "lag", 3, "x", 1, 0, NULL));
	ASSERT_LT(now_ms() - t0, 1000);
	skv_cluster_get_stats(self->c, &st);
	ASSERT_EQ(2u, st.map_version);
	ASSERT_LE(3u, st.not_owner);
	ASSERT_EQ(4u, st.map_fetches);
	ASSERT_EQ((int)st.not_owner, node_get(&self->n1, &self->n1.not_owner));
}

TEST_F(cl, retry_is_honoured_and_clamped)
{
	struct skv_cluster_stats st;

	coord_add_map(&self->co, 1, 2, self->both, 2, split_map);
	coord_start(&self->co);
	ASSERT_EQ(0, open_cl(&self->co, 5000, &self->c));
	/* key "a": find its node and make it ask for two retries of 5 ms. */
	{
		long t0, dt;
		struct node *n = skv_key_hash("a", 1) < HALF ? &self->n1 : &self->n2;

		pthread_mutex_lock(&n->lock);
		n->retry_first = 2;
		n->retry_us = 5000;
		pthread_mutex_unlock(&n->lock);
		t0 = now_ms();
		ASSERT_EQ(SKV_OK, skv_cluster_put(self->c, 1, "a", 1, "v", 1, 0, NULL));
		dt = now_ms() - t0;
		ASSERT_LE(10, dt);
		skv_cluster_get_stats(self->c, &st);
		ASSERT_EQ(2u, st.retries);

		/* 10 s asked for: clamped to 10 ms per retry. */
		pthread_mutex_lock(&n->lock);
		n->retry_first = 3;
		n->retry_us = 10000000;
		pthread_mutex_unlock(&n->lock);
		t0 = now_ms();
		ASSERT_EQ(SKV_OK, skv_cluster_put(self->c, 1, "a", 1, "w", 1, 0, NULL));
		dt = now_ms() - t0;
		ASSERT_LE(30, dt);
		ASSERT_GT(1000, dt);
		skv_cluster_get_stats(self->c, &st);
		ASSERT_EQ(5u, st.retries);
	}
}

TEST_F(cl, broken_connection_reconnects_and_resends)
{
	struct skv_cluster_stats st;
	void *val;

	self->n1.close_first = 1;
	self->n2.close_first = 1;
	coord_add_map(&self->co, 1, 2, self->both, 2, split_map);
	coord_start(&self->co);
	ASSERT_EQ(0, open_cl(&self->co, 2000, &self->c));
	ASSERT_EQ(SKV_OK, skv_cluster_put(self->c, 1, "k", 1, "v", 1, 0, NULL));
	ASSERT_EQ(SKV_OK, skv_cluster_get(self->c, 1, "k", 1, &val, NULL, NULL));
	free(val);
	skv_cluster_get_stats(self->c, &st);
	ASSERT_EQ(1u, st.reconnects);
}

/*
 * Each call gives up at its 300 ms deadline, not later: well before the
 * default 5000 ms (DEADLINE_LATE_MS leaves a loaded host room; 900 once
 * failed at 83% host CPU).
 */
#define DEADLINE_LATE_MS 2500
TEST_F(cl, deadline_is_respected)
{
	struct skv_opts o = { .timeout_ms = 300 };
	long t0, dt;
	void *val;

	/* Node 1 owns by the map but refuses everything; the map never moves. */
	self->n1.lo = 1;
	self->n1.hi = 0;
	coord_add_map(&self->co, 1, 2, self->both, 1, all_on_1);
	coord_start(&self->co);
	ASSERT_EQ(0, skv_cluster_open("127.0.0.1", self->co.srv.port, &o, &self->c));
	t0 = now_ms();
	ASSERT_EQ(SKV_E_NOT_OWNER, skv_cluster_put(self->c, 1, "k", 1, "v", 1, 0, NULL));
	dt = now_ms() - t0;
	ASSERT_LE(299, dt);
	ASSERT_GT(DEADLINE_LATE_MS, dt);
	/* Rate-limited refreshes: not one fetch per NOT_OWNER reply. */
	{
		struct skv_cluster_stats st;

		skv_cluster_get_stats(self->c, &st);
		TH_LOG("%llu NOT_OWNER, %llu fetches", (unsigned long long)st.not_owner,
		       (unsigned long long)st.map_fetches);
		ASSERT_LT(10u, st.not_owner);
		ASSERT_GE(400u, st.map_fetches);
	}

	/* RETRY forever. */
	pthread_mutex_lock(&self->n1.lock);
	self->n1.lo = 0;
	self->n1.hi = UINT64_MAX;
	self->n1.retry_first = 1 << 30;
	self->n1.retry_us = 1000;
	pthread_mutex_unlock(&self->n1.lock);
	t0 = now_ms();
	ASSERT_EQ(SKV_E_RETRY, skv_cluster_get(self->c, 1, "k", 1, &val, NULL, NULL));
	dt = now_ms() - t0;
	ASSERT_LE(299, dt);
	ASSERT_GT(DEADLINE_LATE_MS, dt);

	/* A node that never answers. */
	pthread_mutex_lock(&self->n1.lock);
	self->n1.hang = true;
	pthread_mutex_unlock(&self->n1.lock);
	t0 = now_ms();
	ASSERT_EQ(SKV_E_TIMEOUT, skv_cluster_delete(self->c, 1, "k", 1, 0, NULL));
	dt = now_ms() - t0;
	ASSERT_LE(299, dt);
	ASSERT_GT(DEADLINE_LATE_MS, dt);
}

TEST_F(cl, coordinator_errors)
{
	struct skv_cluster *c = (struct skv_cluster *)1;
	const char *bad_addr[] = { "nohost" };
	uint32_t id = 1, len;
	struct tdesc t = { 1, 0, UINT64_MAX, 1 };

	/* A refusal with a message. */
	self->co.status = ENOENT;
	coord_add_map(&self->co, 1, 2, self->both, 1, all_on_1);
	coord_start(&self->co);
	ASSERT_EQ(SKV_E_PROTO, open_cl(&self->co, 1000, &c));
	ASSERT_EQ(NULL, c);
	/* A malformed map. */
	pthread_mutex_lock(&self->co.lock);
	self->co.status = 0;
	free(self->co.maps[0]);
	self->co.maps[0] = enc_map(1, 1, &id, bad_addr, 1, &t, &len);
	self->co.map_len[0] = len;
	pthread_mutex_unlock(&self->co.lock);
	ASSERT_EQ(SKV_E_PROTO, open_cl(&self->co, 1000, &c));
	ASSERT_EQ(NULL, c);
	/* Nobody listening. */
	ASSERT_NE(0, skv_cluster_open("127.0.0.1", 1, NULL, &c));
	ASSERT_EQ(NULL, c);
	ASSERT_EQ(SKV_E_INVAL, skv_cluster_open(NULL, 1, NULL, &c));
}

/* A leader and its standbys: a list is tried in turn, from the first. */
TEST_F(cl, coordinator_list_tries_each_in_turn)
{
	struct skv_cluster *c = (struct skv_cluster *)1;
	char list[64];
	uint64_t v;

	coord_add_map(&self->co, 7, 2, self->both, 2, split_map);
	coord_start(&self->co);
	/* Port 1: nobody listens (a standby does not until elected). */
	snprintf(list, sizeof(list), "127.0.0.1:1,127.0.0.1:%u", self->co.srv.port);
	ASSERT_EQ(0, skv_cluster_open_list(list, NULL, &self->c));
	ASSERT_EQ(SKV_OK, skv_cluster_put(self->c, 1, "k", 1, "v", 1, 0, &v));
	ASSERT_EQ(SKV_E_INVAL, skv_cluster_open_list("127.0.0.1:1,,x:2", NULL, &c));
	ASSERT_EQ(NULL, c);
	ASSERT_EQ(SKV_E_INVAL, skv_cluster_open_list("127.0.0.1:1,nohost", NULL, &c));
	ASSERT_NE(0, skv_cluster_open_list("127.0.0.1:1,127.0.0.1:1", NULL, &c));
	ASSERT_EQ(NULL, c);
}

/* ---- the decoder, directly ---- */

static int decode(uint64_t version, int nn, const uint32_t *ids, const char *const *addrs,
		  int nt, const struct tdesc *t, struct skv_map *m, char *err)
{
	uint32_t len;
	uint8_t *b = enc_map(version, nn, ids, addrs, nt, t, &len);
	int rc = skv_map_decode(b, len, m, err, 128);

	free(b);
	return rc;
}

TEST(map_decode_accepts_good_maps)
{
	static const uint32_t ids[] = { 3, 5 };
	static const char *const addrs[] = { "10.0.0.1:7000", "[::1]:7001" };
	static const struct tdesc t[] = {
		{ 1, 0, 99, 3 }, { 1, 100, UINT64_MAX, 5 },
		{ 4, 0, UINT64_MAX, 5 },
		{ 6, 0, 0, 5 }, { 6, 1, UINT64_MAX - 1, 3 }, { 6, UINT64_MAX, UINT64_MAX, 5 },
	};
	struct skv_map m = { 0 };
	char err[128] = "";
	const struct skv_map_tablet *f;

	ASSERT_EQ(0, decode(42, 2, ids, addrs, 6, t, &m, err)) {
		TH_LOG("%s", err);
	}
	ASSERT_EQ(42u, m.version);
	ASSERT_EQ(2u, m.nr_nodes);
	ASSERT_STREQ("::1", m.nodes[1].host);
	ASSERT_EQ(7001, m.nodes[1].port);
	ASSERT_STREQ("10.0.0.1", m.nodes[0].host);
	f = skv_map_find(&m, 1, 99);
	ASSERT_EQ(3u, f->owner);
	ASSERT_EQ(5u, skv_map_find(&m, 1, 100)->owner);
	ASSERT_EQ(5u, skv_map_find(&m, 4, 12345)->owner);
	ASSERT_EQ(5u, skv_map_find(&m, 6, 0)->owner);
	ASSERT_EQ(3u, skv_map_find(&m, 6, 1)->owner);
	ASSERT_EQ(5u, skv_map_find(&m, 6, UINT64_MAX)->owner);
	ASSERT_EQ(NULL, skv_map_find(&m, 0, 5));
	ASSERT_EQ(NULL, skv_map_find(&m, 2, 5));
	ASSERT_EQ(NULL, skv_map_find(&m, 7, 5));
	skv_map_free(&m);
	/* An empty map is a map. */
	ASSERT_EQ(0, decode(1, 0, NULL, NULL, 0, NULL, &m, err));
	ASSERT_EQ(NULL, skv_map_find(&m, 1, 5));
	skv_map_free(&m);
}

TEST(map_decode_rejects_bad_maps)
{
	static const uint32_t ids[] = { 3, 5 }, dup[] = { 3, 3 };
	static const char *const good[] = { "h1:1", "h2:2" };
	static const char *const bad_addrs[][2] = {
		{ "h1", "h2:2" }, { "h1:", "h2:2" }, { "h1:0", "h2:2" }, { "h1:65536", "h2:2" },
		{ ":7", "h2:2" }, { "::1:7", "h2:2" }, { "h1:7x", "h2:2" }, { "[]:7", "h2:2" },
	};
	static const struct tdesc bad_tablets[][2] = {
		{ { 1, 1, UINT64_MAX, 3 }, { 2, 0, UINT64_MAX, 3 } },	/* not from 0 */
		{ { 1, 0, 10, 3 }, { 2, 0, UINT64_MAX, 3 } },		/* not to the top */
		{ { 1, 0, 10, 3 }, { 1, 12, UINT64_MAX, 3 } },		/* gap */
		{ { 1, 0, 10, 3 }, { 1, 10, UINT64_MAX, 3 } },		/* overlap */
		{ { 1, 0, UINT64_MAX, 3 }, { 1, 0, UINT64_MAX, 3 } },	/* twice */
		{ { 2, 0, UINT64_MAX, 3 }, { 1, 0, UINT64_MAX, 3 } },	/* unsorted */
		{ { 1, 0, 10, 3 }, { 1, 11, UINT64_MAX, 9 } },		/* unknown owner */
		{ { 1, 11, UINT64_MAX, 3 }, { 1, 0, 10, 3 } },		/* unsorted in a table */
		{ { 1, 0, UINT64_MAX, 3 }, { 1, 5, 4, 3 } },		/* start > end */
	};
	struct skv_map m = { 0 };
	char err[128];
	uint8_t *b, node_nul[136];
	uint32_t len;

	for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
		ASSERT_EQ(SKV_E_PROTO, decode(1, 2, ids, bad_addrs[i], 1,
					      &bad_tablets[0][1], &m, err)) {
			TH_LOG("%s accepted", bad_addrs[i][0]);
		}
		TH_LOG("%s: %s", bad_addrs[i][0], err);
	}
	ASSERT_EQ(SKV_E_PROTO, decode(1, 2, dup, good, 0, NULL, &m, err));
	for (size_t i = 0; i < sizeof(bad_tablets) / sizeof(bad_tablets[0]); i++) {
		ASSERT_EQ(SKV_E_PROTO, decode(1, 2, ids, good, 2, bad_tablets[i], &m, err)) {
			TH_LOG("case %zu accepted", i);
		}
		TH_LOG("case %zu: %s", i, err);
	}

	/* Lengths: every count against the body. */
	b = enc_map(1, 2, ids, good, 1, all_on_1, &len);
	ASSERT_EQ(SKV_E_PROTO, skv_map_decode(b, 15, &m, err, sizeof(err)));
	ASSERT_EQ(SKV_E_PROTO, skv_map_decode(b, len - 1, &m, err, sizeof(err)));
	skv_put_le32(b + 8, 0xffffffffu);
	ASSERT_EQ(SKV_E_PROTO, skv_map_decode(b, len, &m, err, sizeof(err)));
	TH_LOG("%s", err);
	skv_put_le32(b + 8, 2);
	skv_put_le32(b + 12, 0x40000000u);
	ASSERT_EQ(SKV_E_PROTO, skv_map_decode(b, len, &m, err, sizeof(err)));
	skv_put_le32(b + 12, 1);
	/* Owner 3 exists, so a good body decodes... */
	skv_put_le32(b + 16 + 2 * 136 + 24, 3);
	ASSERT_EQ(0, skv_map_decode(b, len, &m, err, sizeof(err))) {
		TH_LOG("%s", err);
	}
	skv_map_free(&m);
	/* ...but not with a trailing byte, or an unterminated address. */
	{
		uint8_t *b2 = calloc(1, len + 1);

		ASSERT_NE(NULL, b2);
		memcpy(b2, b, len);
		ASSERT_EQ(SKV_E_PROTO, skv_map_decode(b2, len + 1, &m, err, sizeof(err)));
		free(b2);
	}
	memset(node_nul, 'a', sizeof(node_nul));
	memcpy(b + 16 + 8, node_nul, 128);
	ASSERT_EQ(SKV_E_PROTO, skv_map_decode(b, len, &m, err, sizeof(err)));
	TH_LOG("%s", err);
	free(b);
}

TEST(map_decode_random_damage_never_crashes)
{
	static const uint32_t ids[] = { 3, 5 };
	static const char *const addrs[] = { "h1:1", "h2:2" };
	static const struct tdesc t[] = { { 1, 0, 99, 3 }, { 1, 100, UINT64_MAX, 5 } };
	unsigned int seed = 12345, ok = 0;
	uint32_t len;
	uint8_t *good = enc_map(9, 2, ids, addrs, 2, t, &len);
	uint8_t *b = malloc(len);

	ASSERT_NE(NULL, b);
	for (int i = 0; i < 20000; i++) {
		struct skv_map m = { 0 };
		size_t l = len;

		memcpy(b, good, len);
		for (int k = rand_r(&seed) % 4; k >= 0; k--)
			b[rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
		if (rand_r(&seed) % 8 == 0)
			l = (size_t)rand_r(&seed) % len;
		if (skv_map_decode(b, l, &m, NULL, 0) == 0) {
			ok++;
			/* Whatever was accepted is consistent: every hash has a tablet. */
			for (uint32_t j = 0; j < m.nr_tablets; j++)
				ASSERT_NE(NULL, skv_map_find(&m, m.tablets[j].table_id, seed));
			skv_map_free(&m);
		}
	}
	TH_LOG("%u damaged maps still valid", ok);
	free(b);
	free(good);
}

TEST_HARNESS_MAIN
