// SPDX-License-Identifier: GPL-2.0
/*
 * Data plane of one node: round trips and versions, conditional writes,
 * multi-get, the size limits, pipelining, ownership (tablets, tablet
 * states, unknown tables) and the node statistics that move with traffic.
 * Each test runs in its own network namespace (see st_harness.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "st_harness.h"
#include "steadykv.h"	/* libsteadykv: skv_key_hash */

/* The library's key hash, the one clients route with. */
static uint64_t lib_hash(const void *key, size_t len)
{
	return skv_key_hash(key, len);
}

static void fill_random(void *buf, size_t len, unsigned int seed)
{
	uint8_t *p = buf;
	size_t i;

	srandom(seed);
	for (i = 0; i < len; i++)
		p[i] = random();
}

TEST_F(node, put_get_delete_versions)
{
	uint64_t v1, v2, v3, v4, v;
	char *val;

	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "k", &val, &v));
	EXPECT_EQ(0, v);

	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "k", "one", 0, &v1));
	ASSERT_LT(0, v1);
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, "k", &val, &v));
	EXPECT_STREQ("one", val);
	EXPECT_EQ(v1, v);
	free(val);

	/* Every write gets a higher version; get returns the last put's. */
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "k", "two", 0, &v2));
	ASSERT_LT(v1, v2);
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, "k", &val, &v));
	EXPECT_STREQ("two", val);
	EXPECT_EQ(v2, v);
	free(val);

	/* Delete: a tombstone with a higher version; then NOT_FOUND. */
	ASSERT_ST(SKV_S_OK, st_dels(self->fd, ST_TABLE, "k", 0, &v3));
	ASSERT_LT(v2, v3);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "k", &val, &v));
	/* NOT_FOUND carries the tombstone's version, or 0. */
	EXPECT_TRUE(v == v3 || v == 0) TH_LOG("NOT_FOUND version %llu, tombstone %llu",
					      (unsigned long long)v, (unsigned long long)v3);
	/* Deleting again finds nothing. */
	ASSERT_ST(SKV_S_NOT_FOUND, st_dels(self->fd, ST_TABLE, "k", 0, &v));

	/* Re-put after delete: a version above the tombstone's. */
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "k", "three", 0, &v4));
	ASSERT_LT(v3, v4);
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, "k", &val, &v));
	EXPECT_STREQ("three", val);
	EXPECT_EQ(v4, v);
	free(val);
}

/* Versions are node-wide: they increase across keys and tables. */
TEST_F(node, versions_increase_across_keys_and_tables)
{
	struct sknl_err res;
	uint64_t last = 0, v;
	char key[32];
	int i;

	ASSERT_NL_OK(sknl_table_add(&self->nl, 2, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 2, 0, UINT64_MAX, -1, &res), &res);
	for (i = 0; i < 40; i++) {
		uint64_t table = 1 + i % 2;

		snprintf(key, sizeof(key), "key-%d", i % 7);
		ASSERT_ST(SKV_S_OK, st_puts(self->fd, table, key, "x", 0, &v));
		ASSERT_LT(last, v) TH_LOG("put %d: version %llu after %llu", i,
					  (unsigned long long)v, (unsigned long long)last);
		last = v;
		if (i % 5 == 4) {
			ASSERT_ST(SKV_S_OK, st_dels(self->fd, table, key, 0, &v));
			ASSERT_LT(last, v) TH_LOG("delete %d: version %llu after %llu", i,
						  (unsigned long long)v, (unsigned long long)last);
			last = v;
		}
	}
}

TEST_F(node, conditional_put)
{
	uint64_t v1, v2, v3, v;
	char *val;

	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "c", "a", 0, &v1));
	/* Matching expectation: written, new version. */
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "c", "b", v1, &v2));
	ASSERT_LT(v1, v2);
	/* Stale expectation: refused, the current version returned, no change. */
	ASSERT_ST(SKV_S_VERSION_MISMATCH, st_puts(self->fd, ST_TABLE, "c", "X", v1, &v));
	EXPECT_EQ(v2, v);
	ASSERT_ST(SKV_S_VERSION_MISMATCH,
		  st_puts(self->fd, ST_TABLE, "c", "X", v2 + 1000, &v));
	EXPECT_EQ(v2, v);
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, "c", &val, &v));
	EXPECT_STREQ("b", val);
	EXPECT_EQ(v2, v);
	free(val);
	/* A refused write hands out no version: the next write is v2 < v3. */
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "c", "d", v2, &v3));
	ASSERT_LT(v2, v3);

	/* A missing key has version 0: any non-zero expectation fails. */
	ASSERT_ST(SKV_S_VERSION_MISMATCH, st_puts(self->fd, ST_TABLE, "nokey", "X", 5, &v));
	EXPECT_EQ(0, v);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "nokey", &val, &v));

	/* A deleted key is missing too. */
	ASSERT_ST(SKV_S_OK, st_dels(self->fd, ST_TABLE, "c", 0, &v));
	ASSERT_ST(SKV_S_VERSION_MISMATCH, st_puts(self->fd, ST_TABLE, "c", "X", v3, &v));
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "c", &val, &v));
}

TEST_F(node, conditional_delete)
{
	uint64_t v1, v2, v;
	char *val;

	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "d", "a", 0, &v1));
	/* Wrong expectation: refused with the current version, key kept. */
	ASSERT_ST(SKV_S_VERSION_MISMATCH, st_dels(self->fd, ST_TABLE, "d", v1 + 7, &v));
	EXPECT_EQ(v1, v);
	ASSERT_ST(SKV_S_VERSION_MISMATCH, st_dels(self->fd, ST_TABLE, "d", v1 - 1 ? v1 - 1 : 99, &v));
	EXPECT_EQ(v1, v);
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, "d", &val, &v));
	EXPECT_STREQ("a", val);
	EXPECT_EQ(v1, v);
	free(val);
	/* Right expectation: deleted. */
	ASSERT_ST(SKV_S_OK, st_dels(self->fd, ST_TABLE, "d", v1, &v2));
	ASSERT_LT(v1, v2);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "d", &val, &v));
}

/* A delete of a missing key writes nothing: no version is handed out. */
TEST_F(node, delete_missing_writes_nothing)
{
	struct sknl_node a, b;
	uint64_t v, v2;

	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "present", "p", 0, &v));
	ASSERT_EQ(0, sknl_node_get(&self->nl, &a, NULL));
	ASSERT_TRUE(SKNL_NODE_HAS(&a, STEADYKV_A_NODE_VERSION));
	EXPECT_EQ(v, a.val[STEADYKV_A_NODE_VERSION]);
	ASSERT_ST(SKV_S_NOT_FOUND, st_dels(self->fd, ST_TABLE, "absent", 0, &v2));
	ASSERT_EQ(0, sknl_node_get(&self->nl, &b, NULL));
	EXPECT_EQ(a.val[STEADYKV_A_NODE_VERSION], b.val[STEADYKV_A_NODE_VERSION]);
	EXPECT_EQ(a.val[STEADYKV_A_NODE_OBJECTS], b.val[STEADYKV_A_NODE_OBJECTS]);
}

TEST_F(node, multi_get_present_and_absent)
{
	const char *keys[] = { "ma", "missing-1", "mb", "md", "mc", "missing-2" };
	uint64_t va, vb, vc, v;
	struct st_item it[6];
	struct st_reply r;

	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "ma", "alpha", 0, &va));
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "mb", "", 0, &vb));
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "mc", "gamma-gamma", 0, &vc));
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "md", "deleted", 0, &v));
	ASSERT_ST(SKV_S_OK, st_dels(self->fd, ST_TABLE, "md", 0, &v));

	ASSERT_ST(SKV_S_OK, st_mget(self->fd, ST_TABLE, keys, 6, &r, it));
	/* In request order. */
	ASSERT_EQ(SKV_S_OK, it[0].status);
	EXPECT_EQ(va, it[0].version);
	ASSERT_EQ(5, it[0].value_len);
	EXPECT_EQ(0, memcmp(it[0].value, "alpha", 5));

	EXPECT_EQ(SKV_S_NOT_FOUND, it[1].status);
	EXPECT_EQ(0, it[1].value_len);

	ASSERT_EQ(SKV_S_OK, it[2].status);
	EXPECT_EQ(vb, it[2].version);
	EXPECT_EQ(0, it[2].value_len);

	EXPECT_EQ(SKV_S_NOT_FOUND, it[3].status);
	EXPECT_EQ(0, it[3].value_len);

	ASSERT_EQ(SKV_S_OK, it[4].status);
	EXPECT_EQ(vc, it[4].version);
	ASSERT_EQ(11, it[4].value_len);
	EXPECT_EQ(0, memcmp(it[4].value, "gamma-gamma", 11));

	EXPECT_EQ(SKV_S_NOT_FOUND, it[5].status);
	st_reply_free(&r);

	/* Up to SKV_MAX_MULTI_KEYS keys in one request. */
	{
		static char names[SKV_MAX_MULTI_KEYS][16];
		const char *many[SKV_MAX_MULTI_KEYS];
		static struct st_item items[SKV_MAX_MULTI_KEYS];
		unsigned int i;

		for (i = 0; i < SKV_MAX_MULTI_KEYS; i++) {
			snprintf(names[i], sizeof(names[i]), "mk%u", i);
			many[i] = names[i];
			if (i % 3 == 0)
				ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, names[i],
							    names[i], 0, &v));
		}
		ASSERT_ST(SKV_S_OK, st_mget(self->fd, ST_TABLE, many,
					    SKV_MAX_MULTI_KEYS, &r, items));
		for (i = 0; i < SKV_MAX_MULTI_KEYS; i++) {
			if (i % 3 == 0) {
				ASSERT_EQ(SKV_S_OK, items[i].status) TH_LOG("key %u", i);
				ASSERT_EQ(strlen(names[i]), items[i].value_len);
				ASSERT_EQ(0, memcmp(items[i].value, names[i], items[i].value_len));
			} else {
				ASSERT_EQ(SKV_S_NOT_FOUND, items[i].status) TH_LOG("key %u", i);
			}
		}
		st_reply_free(&r);
	}
}

/* A key of exactly SKV_MAX_KEY_LEN bytes, binary (NULs included). */
TEST_F(node, max_key_len)
{
	static uint8_t key[SKV_MAX_KEY_LEN], key2[SKV_MAX_KEY_LEN];
	uint64_t v1, v;
	uint32_t vlen;
	uint8_t *val;

	fill_random(key, sizeof(key), 1);
	key[0] = 0;
	key[SKV_MAX_KEY_LEN / 2] = 0;
	memcpy(key2, key, sizeof(key));
	key2[SKV_MAX_KEY_LEN - 1] ^= 0x55;	/* differs only in the last byte */

	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, key, sizeof(key), "big-key", 7, 0, &v1));
	ASSERT_ST(SKV_S_NOT_FOUND, st_get(self->fd, ST_TABLE, key2, sizeof(key2), &val, &vlen, &v));
	ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, key, sizeof(key), &val, &vlen, &v));
	EXPECT_EQ(v1, v);
	ASSERT_EQ(7, vlen);
	EXPECT_EQ(0, memcmp(val, "big-key", 7));
	free(val);
	/* A prefix of the key is another key. */
	ASSERT_ST(SKV_S_NOT_FOUND, st_get(self->fd, ST_TABLE, key, sizeof(key) - 1, &val, &vlen, &v));
	ASSERT_ST(SKV_S_OK, st_del(self->fd, ST_TABLE, key, sizeof(key), 0, &v));
	ASSERT_ST(SKV_S_NOT_FOUND, st_get(self->fd, ST_TABLE, key, sizeof(key), &val, &vlen, &v));
}

/* A value of exactly SKV_MAX_VALUE_LEN bytes comes back byte for byte. */
TEST_F_TIMEOUT(node, max_value_len, 90)
{
	uint8_t *big = malloc(SKV_MAX_VALUE_LEN), *val;
	const char *keys[] = { "big-value" };
	struct st_item it[1];
	struct st_reply r;
	uint64_t v1, v;
	uint32_t vlen;

	ASSERT_NE(NULL, big);
	fill_random(big, SKV_MAX_VALUE_LEN, 2);
	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "big-value", 9, big,
				   SKV_MAX_VALUE_LEN, 0, &v1));
	ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, "big-value", 9, &val, &vlen, &v));
	EXPECT_EQ(v1, v);
	ASSERT_EQ(SKV_MAX_VALUE_LEN, vlen);
	EXPECT_EQ(0, memcmp(val, big, SKV_MAX_VALUE_LEN));
	free(val);
	ASSERT_ST(SKV_S_OK, st_mget(self->fd, ST_TABLE, keys, 1, &r, it));
	ASSERT_EQ(SKV_S_OK, it[0].status);
	ASSERT_EQ(SKV_MAX_VALUE_LEN, it[0].value_len);
	EXPECT_EQ(0, memcmp(it[0].value, big, SKV_MAX_VALUE_LEN));
	st_reply_free(&r);
	/* Overwrite with a small one: the old bytes are gone. */
	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "big-value", 9, "s", 1, v1, &v));
	ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, "big-value", 9, &val, &vlen, &v));
	ASSERT_EQ(1, vlen);
	EXPECT_EQ('s', val[0]);
	free(val);
	free(big);
}

/*
 * A MULTI-GET reply is capped at SKV_MAX_BODY_LEN: of two maximal values the
 * second no longer fits and gets TOO_BIG without a value; a GET fetches it.
 */
TEST_F_TIMEOUT(node, multi_get_reply_cap, 90)
{
	const char *keys[3] = { "cap-a", "cap-small", "cap-b" };
	uint8_t *big = malloc(SKV_MAX_VALUE_LEN), *val;
	struct st_item it[3];
	struct st_reply r;
	uint64_t va, vb, v;
	uint32_t vlen;

	ASSERT_NE(NULL, big);
	memset(big, 'A', SKV_MAX_VALUE_LEN);
	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "cap-a", 5, big, SKV_MAX_VALUE_LEN, 0, &va));
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "cap-small", "small", 0, &v));
	memset(big, 'B', SKV_MAX_VALUE_LEN);
	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "cap-b", 5, big, SKV_MAX_VALUE_LEN, 0, &vb));

	ASSERT_ST(SKV_S_OK, st_mget(self->fd, ST_TABLE, keys, 3, &r, it));
	EXPECT_GE(SKV_MAX_BODY_LEN, r.len);
	ASSERT_EQ(SKV_S_OK, it[0].status);
	ASSERT_EQ(SKV_MAX_VALUE_LEN, it[0].value_len);
	EXPECT_EQ('A', it[0].value[SKV_MAX_VALUE_LEN - 1]);
	EXPECT_EQ(va, it[0].version);
	ASSERT_EQ(SKV_S_OK, it[1].status);
	ASSERT_EQ(5, it[1].value_len);
	EXPECT_EQ(0, memcmp(it[1].value, "small", 5));
	EXPECT_EQ(SKV_S_TOO_BIG, it[2].status);
	EXPECT_EQ(0, it[2].value_len);
	st_reply_free(&r);
	ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, "cap-b", 5, &val, &vlen, &v));
	ASSERT_EQ(SKV_MAX_VALUE_LEN, vlen);
	EXPECT_EQ('B', val[0]);
	EXPECT_EQ(vb, v);
	free(val);
	free(big);
	/* The connection is in step after the large reply. */
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
}

/* An empty value is a value: OK with length 0, not NOT_FOUND. */
TEST_F(node, empty_value)
{
	uint64_t v1, v;
	uint32_t vlen = 99;
	uint8_t *val;

	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "empty", 5, "", 0, 0, &v1));
	ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, "empty", 5, &val, &vlen, &v));
	EXPECT_EQ(0, vlen);
	EXPECT_EQ(v1, v);
	free(val);
	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "empty", 5, "now-full", 8, v1, &v));
	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "empty", 5, "", 0, v, &v));
	ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, "empty", 5, &val, &vlen, &v1));
	EXPECT_EQ(0, vlen);
	EXPECT_EQ(v, v1);
	free(val);
}

/* Values that grow and shrink under one key, each read back intact. */
TEST_F(node, overwrite_changes_size)
{
	static const uint32_t sizes[] = { 1, 100000, 3, 4096, 0, 65536, 17 };
	uint8_t *buf = malloc(100000), *val;
	uint64_t v, last = 0;
	uint32_t vlen;
	unsigned int i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill_random(buf, sizes[i], 10 + i);
		ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "resize", 6, buf, sizes[i], 0, &v));
		ASSERT_LT(last, v);
		last = v;
		ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, "resize", 6, &val, &vlen, &v));
		ASSERT_EQ(sizes[i], vlen);
		EXPECT_EQ(0, memcmp(val, buf, vlen));
		free(val);
	}
	free(buf);
}

/* ---- pipelining ---- */

#define NOPS 1000
#define NKEYS 40

/* P_GET_BAD: a GET whose body is malformed (a reserved field set). */
enum { P_PUT, P_GET, P_DEL, P_PUT_BAD, P_DEL_BAD, P_MGET, P_PING, P_GET_BAD };

struct pop {
	int kind;
	int key, key2, key3;	/* key indices */
	char val[64];
	/* results */
	int status;
	uint64_t version;
	char got[64];
	int got_len;
	int mstatus[3];
	uint64_t mversion[3];
	char mval[3][64];
};

static void key_name(char *buf, int i)
{
	sprintf(buf, "pk-%d", i);
}

/*
 * Generate ops whose statuses are deterministic (presence is tracked);
 * malformed GETs only where frames are built by hand (raw).
 */
static void gen_ops(struct pop *ops, unsigned int seed, bool raw)
{
	int present[NKEYS] = { 0 };
	int i, r;

	srandom(seed);
	for (i = 0; i < NOPS; i++) {
		struct pop *o = &ops[i];

		memset(o, 0, sizeof(*o));
		o->key = random() % NKEYS;
		o->key2 = random() % NKEYS;
		o->key3 = random() % NKEYS;
		r = random() % 100;
		if (r < 40)
			o->kind = P_PUT;
		else if (r < 65)
			o->kind = P_GET;
		else if (r < 80)
			o->kind = P_DEL;
		else if (r < 85)
			o->kind = present[o->key] ? P_PUT_BAD : P_GET;
		else if (r < 90)
			o->kind = present[o->key] ? P_DEL_BAD : P_GET;
		else if (r < 95)
			o->kind = P_MGET;
		else if (r < 97 || !raw)
			o->kind = P_PING;
		else
			o->kind = P_GET_BAD;
		snprintf(o->val, sizeof(o->val), "v%d-%.*s", i, (int)(random() % 40),
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		if (o->kind == P_PUT)
			present[o->key] = 1;
		if (o->kind == P_DEL)
			present[o->key] = 0;
	}
}

static size_t build_op(uint8_t *f, const struct pop *o, uint64_t id, uint64_t table)
{
	char k[3][16];
	const char *ks[3] = { k[0], k[1], k[2] };

	key_name(k[0], o->key);
	key_name(k[1], o->key2);
	key_name(k[2], o->key3);
	switch (o->kind) {
	case P_PUT:
		return st_build_put(f, id, table, k[0], strlen(k[0]), o->val, strlen(o->val), 0);
	case P_PUT_BAD:
		return st_build_put(f, id, table, k[0], strlen(k[0]), o->val, strlen(o->val),
				    1ull << 62);
	case P_GET:
		return st_build_key(f, SKV_OP_GET, id, table, k[0], strlen(k[0]), 0);
	case P_DEL:
		return st_build_key(f, SKV_OP_DELETE, id, table, k[0], strlen(k[0]), 0);
	case P_DEL_BAD:
		return st_build_key(f, SKV_OP_DELETE, id, table, k[0], strlen(k[0]), 1ull << 62);
	case P_MGET:
		return st_build_mget(f, id, table, ks, 3);
	case P_GET_BAD: {
		size_t n = st_build_key(f, SKV_OP_GET, id, table, k[0],
					strlen(k[0]), 0);

		f[sizeof(struct skv_hdr) + offsetof(struct skv_key_req, reserved)] = 1;
		return n;
	}
	default:
		return st_build_ping(f, id);
	}
}

static const uint8_t opcode_of[] = {
	[P_PUT] = SKV_OP_PUT, [P_GET] = SKV_OP_GET, [P_DEL] = SKV_OP_DELETE,
	[P_PUT_BAD] = SKV_OP_PUT, [P_DEL_BAD] = SKV_OP_DELETE,
	[P_MGET] = SKV_OP_MULTI_GET, [P_PING] = SKV_OP_PING,
	[P_GET_BAD] = SKV_OP_GET,
};

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Decode reply r of op o into o's result fields; "" on success, else why not. */
static const char *take_reply(struct pop *o, const struct st_reply *r)
{
	static char why[160];

	o->status = r->h.status;
	o->version = r->len >= 8 ? le64(r->body) : 0;
	if (o->kind == P_GET && o->status == SKV_S_OK) {
		uint32_t l = r->len >= 16 ? (uint32_t)le64(r->body + 8) : 0;

		if (r->len < 16 || r->len != 16 + l || l >= sizeof(o->got))
			return "bad GET reply body";
		memcpy(o->got, r->body + 16, l);
		o->got_len = l;
	}
	if (o->kind == P_MGET && o->status == SKV_S_OK) {
		struct st_item it[3];
		int i;

		if (st_parse_mget(r, it, 3) != 3) {
			snprintf(why, sizeof(why), "bad MULTI-GET reply: %s", st_last_error);
			return why;
		}
		for (i = 0; i < 3; i++) {
			o->mstatus[i] = it[i].status;
			o->mversion[i] = it[i].version;
			if (it[i].value_len >= sizeof(o->mval[i]))
				return "MULTI-GET value too long";
			memcpy(o->mval[i], it[i].value, it[i].value_len);
		}
	}
	return "";
}

/*
 * Check results against a model of sequential execution: statuses follow
 * from presence; values from the last put; versions strictly increase over
 * writes, and reads return the version of the key's last write.
 */
static const char *check_model(const struct pop *ops)
{
	static char why[200];
	struct { int present; const char *val; uint64_t ver; } m[NKEYS] = { 0 };
	uint64_t last = 0;
	int i, j;

	for (i = 0; i < NOPS; i++) {
		const struct pop *o = &ops[i];
		int want, keys[3] = { o->key, o->key2, o->key3 };

#define BAD(fmt, ...) do { snprintf(why, sizeof(why), "op %d: " fmt, i, ##__VA_ARGS__); return why; } while (0)
		switch (o->kind) {
		case P_PUT:
			if (o->status != SKV_S_OK)
				BAD("PUT status %s", st_status_name(o->status));
			if (o->version <= last)
				BAD("PUT version %llu not above %llu",
				    (unsigned long long)o->version, (unsigned long long)last);
			last = o->version;
			m[o->key].present = 1;
			m[o->key].val = o->val;
			m[o->key].ver = o->version;
			break;
		case P_DEL:
			want = m[o->key].present ? SKV_S_OK : SKV_S_NOT_FOUND;
			if (o->status != want)
				BAD("DELETE status %s, want %s", st_status_name(o->status),
				    st_status_name(want));
			if (want == SKV_S_OK) {
				if (o->version <= last)
					BAD("DELETE version %llu not above %llu",
					    (unsigned long long)o->version,
					    (unsigned long long)last);
				last = o->version;
				m[o->key].present = 0;
			}
			break;
		case P_PUT_BAD:
		case P_DEL_BAD:
			if (o->status != SKV_S_VERSION_MISMATCH)
				BAD("conditional write status %s, want VERSION_MISMATCH",
				    st_status_name(o->status));
			if (o->version != m[o->key].ver)
				BAD("VERSION_MISMATCH version %llu, current %llu",
				    (unsigned long long)o->version,
				    (unsigned long long)m[o->key].ver);
			break;
		case P_GET:
			want = m[o->key].present ? SKV_S_OK : SKV_S_NOT_FOUND;
			if (o->status != want)
				BAD("GET status %s, want %s", st_status_name(o->status),
				    st_status_name(want));
			if (want == SKV_S_OK &&
			    (o->version != m[o->key].ver ||
			     o->got_len != (int)strlen(m[o->key].val) ||
			     memcmp(o->got, m[o->key].val, o->got_len)))
				BAD("GET returned \"%.*s\"@%llu, want \"%s\"@%llu", o->got_len,
				    o->got, (unsigned long long)o->version, m[o->key].val,
				    (unsigned long long)m[o->key].ver);
			break;
		case P_GET_BAD:
			if (o->status != SKV_S_BAD_REQUEST)
				BAD("malformed GET status %s, want BAD_REQUEST",
				    st_status_name(o->status));
			break;
		case P_MGET:
			if (o->status != SKV_S_OK)
				BAD("MULTI-GET status %s", st_status_name(o->status));
			for (j = 0; j < 3; j++) {
				int k = keys[j];

				want = m[k].present ? SKV_S_OK : SKV_S_NOT_FOUND;
				if (o->mstatus[j] != want)
					BAD("MULTI-GET item %d status %s, want %s", j,
					    st_status_name(o->mstatus[j]), st_status_name(want));
				if (want == SKV_S_OK &&
				    (o->mversion[j] != m[k].ver || strcmp(o->mval[j], m[k].val)))
					BAD("MULTI-GET item %d \"%s\"@%llu, want \"%s\"@%llu", j,
					    o->mval[j], (unsigned long long)o->mversion[j],
					    m[k].val, (unsigned long long)m[k].ver);
			}
			break;
		case P_PING:
			if (o->status != SKV_S_OK)
				BAD("PING status %s", st_status_name(o->status));
			break;
		}
#undef BAD
	}
	return "";
}

/* Send every op before reading any reply; read and match replies in order. */
static const char *run_pipelined(int fd, struct pop *ops, uint64_t table)
{
	static char why[200];
	uint8_t *buf = malloc(NOPS * 256), *p = buf;
	const uint64_t base = 0xfeed000000000000ull;
	struct st_reply r;
	const char *w;
	int i;

	for (i = 0; i < NOPS; i++)
		p += build_op(p, &ops[i], base + i * 7919, table);
	if (st_send_all(fd, buf, p - buf)) {
		snprintf(why, sizeof(why), "sending %zu bytes of requests: %s",
			 (size_t)(p - buf), st_last_error);
		free(buf);
		return why;
	}
	free(buf);
	for (i = 0; i < NOPS; i++) {
		int ret = st_recv_reply(fd, &r);

		if (ret) {
			snprintf(why, sizeof(why), "reply %d: %s", i, st_last_error);
			return why;
		}
		if (r.h.request_id != base + i * 7919) {
			snprintf(why, sizeof(why), "reply %d: id 0x%llx, want 0x%llx (out of order?)",
				 i, (unsigned long long)r.h.request_id,
				 (unsigned long long)(base + i * 7919));
			st_reply_free(&r);
			return why;
		}
		if (r.h.opcode != opcode_of[ops[i].kind]) {
			snprintf(why, sizeof(why), "reply %d: opcode %u, want %u", i,
				 r.h.opcode, opcode_of[ops[i].kind]);
			st_reply_free(&r);
			return why;
		}
		w = take_reply(&ops[i], &r);
		st_reply_free(&r);
		if (*w) {
			snprintf(why, sizeof(why), "reply %d: %s", i, w);
			return why;
		}
	}
	/* Nothing more may arrive. */
	if (!st_is_open_quiet(fd, 200))
		return "extra bytes after the last reply";
	return "";
}

static const char *run_sequential(int fd, struct pop *ops, uint64_t table)
{
	static char why[200];
	uint8_t f[256];
	struct st_reply r;
	const char *w;
	int i;

	for (i = 0; i < NOPS; i++) {
		size_t len = build_op(f, &ops[i], i + 1, table);

		if (st_send_all(fd, f, len) || st_recv_reply(fd, &r)) {
			snprintf(why, sizeof(why), "op %d: %s", i, st_last_error);
			return why;
		}
		if (r.h.request_id != (uint64_t)i + 1) {
			st_reply_free(&r);
			return "wrong request id";
		}
		w = take_reply(&ops[i], &r);
		st_reply_free(&r);
		if (*w)
			return w;
	}
	return "";
}

TEST_F_TIMEOUT(node, pipeline_1000_mixed, 180)
{
	struct pop *ops = calloc(NOPS, sizeof(*ops));
	const char *why;

	ASSERT_NE(NULL, ops);
	gen_ops(ops, 42, true);
	why = run_pipelined(self->fd, ops, ST_TABLE);
	ASSERT_STREQ("", why);
	why = check_model(ops);
	ASSERT_STREQ("", why);
	/* The connection is still in step. */
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	free(ops);
}

/* The same operations pipelined and one at a time give the same results. */
TEST_F_TIMEOUT(node, pipeline_equals_sequential, 240)
{
	struct pop *a = calloc(NOPS, sizeof(*a)), *b = calloc(NOPS, sizeof(*b));
	struct sknl_err res;
	const char *why;
	int i, fd2;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NL_OK(sknl_table_add(&self->nl, 2, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 2, 0, UINT64_MAX, -1, &res), &res);
	ASSERT_NL_OK(sknl_table_add(&self->nl, 3, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 3, 0, UINT64_MAX, -1, &res), &res);
	gen_ops(a, 7, true);
	gen_ops(b, 7, true);
	why = run_sequential(self->fd, a, 2);
	ASSERT_STREQ("", why);
	why = check_model(a);
	ASSERT_STREQ("", why);
	fd2 = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd2);
	why = run_pipelined(fd2, b, 3);
	ASSERT_STREQ("", why);
	why = check_model(b);
	ASSERT_STREQ("", why);
	for (i = 0; i < NOPS; i++) {
		ASSERT_EQ(a[i].status, b[i].status) TH_LOG("op %d", i);
		ASSERT_EQ(a[i].got_len, b[i].got_len) TH_LOG("op %d", i);
		ASSERT_EQ(0, memcmp(a[i].got, b[i].got, a[i].got_len));
		ASSERT_EQ(0, memcmp(a[i].mstatus, b[i].mstatus, sizeof(a[i].mstatus)));
		ASSERT_EQ(0, memcmp(a[i].mval, b[i].mval, sizeof(a[i].mval)));
	}
	close(fd2);
	free(a);
	free(b);
}

/* Two connections pipelining at once each get their own replies in order. */
TEST_F_TIMEOUT(node, pipeline_two_connections, 240)
{
	struct pop *a = calloc(NOPS, sizeof(*a)), *b = calloc(NOPS, sizeof(*b));
	struct sknl_err res;
	const char *why;
	int fd2, status;
	pid_t pid;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_NL_OK(sknl_table_add(&self->nl, 2, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 2, 0, UINT64_MAX, -1, &res), &res);
	gen_ops(a, 11, true);
	gen_ops(b, 12, true);
	fd2 = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd2);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		why = run_pipelined(fd2, b, 2);
		if (!*why)
			why = check_model(b);
		if (*why)
			fprintf(stderr, "# second connection: %s\n", why);
		_exit(*why ? 1 : 0);
	}
	why = run_pipelined(self->fd, a, ST_TABLE);
	ASSERT_STREQ("", why);
	why = check_model(a);
	ASSERT_STREQ("", why);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd2);
	free(a);
	free(b);
}

/* ---- the same through libsteadykv ---- */

TEST_F(node, lib_roundtrip)
{
	static char bigkey[SKV_MAX_KEY_LEN + 1];
	const void *keys[3] = { "la", "lb", "lc" };
	const size_t lens[3] = { 2, 2, 2 };
	struct skv_item *items;
	struct skv_conn *c;
	uint64_t v1, v2, v;
	size_t vlen;
	void *val;

	ASSERT_EQ(SKV_OK, skv_connect(ST_ADDR, ST_PORT, &c));
	ASSERT_EQ(SKV_OK, skv_ping(c));
	ASSERT_EQ(SKV_OK, skv_put(c, ST_TABLE, "la", 2, "one", 3, 0, &v1));
	ASSERT_EQ(SKV_OK, skv_get(c, ST_TABLE, "la", 2, &val, &vlen, &v));
	ASSERT_EQ(3, vlen);
	EXPECT_EQ(0, memcmp(val, "one", 3));
	EXPECT_EQ(v1, v);
	free(val);
	ASSERT_EQ(SKV_E_VERSION_MISMATCH, skv_put(c, ST_TABLE, "la", 2, "x", 1, v1 + 1, &v));
	EXPECT_EQ(v1, v);
	ASSERT_EQ(SKV_OK, skv_put(c, ST_TABLE, "lc", 2, "three", 5, 0, &v2));
	ASSERT_LT(v1, v2);
	ASSERT_EQ(SKV_OK, skv_multi_get(c, ST_TABLE, 3, keys, lens, &items));
	EXPECT_EQ(SKV_OK, items[0].status);
	EXPECT_EQ(v1, items[0].version);
	EXPECT_EQ(SKV_E_NOT_FOUND, items[1].status);
	EXPECT_EQ(SKV_OK, items[2].status);
	ASSERT_EQ(5, items[2].value_len);
	EXPECT_EQ(0, memcmp(items[2].value, "three", 5));
	free(items);
	ASSERT_EQ(SKV_OK, skv_delete(c, ST_TABLE, "la", 2, v1, &v));
	ASSERT_LT(v2, v);
	ASSERT_EQ(SKV_E_NOT_FOUND, skv_get(c, ST_TABLE, "la", 2, &val, &vlen, &v));
	ASSERT_EQ(SKV_E_UNKNOWN_TABLE, skv_get(c, 999, "la", 2, &val, &vlen, &v));
	/* Over the node's limits: the node answers TOO_BIG, the connection lives. */
	memset(bigkey, 'q', sizeof(bigkey));
	ASSERT_EQ(SKV_E_TOO_BIG, skv_put(c, ST_TABLE, bigkey, sizeof(bigkey), "v", 1, 0, &v));
	ASSERT_EQ(SKV_OK, skv_ping(c));
	skv_close(c);
}

/* 1000 mixed requests queued through the library's pipeline, then collected. */
TEST_F_TIMEOUT(node, lib_pipeline_1000, 180)
{
	struct pop *ops = calloc(NOPS, sizeof(*ops));
	struct skv_result res;
	struct skv_conn *c;
	const char *why;
	int i, j, ret;

	ASSERT_NE(NULL, ops);
	gen_ops(ops, 99, false);
	ASSERT_EQ(SKV_OK, skv_connect(ST_ADDR, ST_PORT, &c));
	for (i = 0; i < NOPS; i++) {
		struct pop *o = &ops[i];
		char k[3][16];
		const void *ks[3] = { k[0], k[1], k[2] };
		size_t kl[3];

		key_name(k[0], o->key);
		key_name(k[1], o->key2);
		key_name(k[2], o->key3);
		for (j = 0; j < 3; j++)
			kl[j] = strlen(k[j]);
		switch (o->kind) {
		case P_PUT:
		case P_PUT_BAD:
			ret = skv_pipe_put(c, ST_TABLE, k[0], kl[0], o->val, strlen(o->val),
					   o->kind == P_PUT ? 0 : 1ull << 62, i);
			break;
		case P_GET:
			ret = skv_pipe_get(c, ST_TABLE, k[0], kl[0], i);
			break;
		case P_DEL:
		case P_DEL_BAD:
			ret = skv_pipe_delete(c, ST_TABLE, k[0], kl[0],
					      o->kind == P_DEL ? 0 : 1ull << 62, i);
			break;
		case P_MGET:
			ret = skv_pipe_multi_get(c, ST_TABLE, 3, ks, kl, i);
			break;
		default:
			ret = skv_pipe_ping(c, i);
		}
		ASSERT_EQ(SKV_OK, ret) TH_LOG("queue %d: %s", i, skv_strerror(ret));
	}
	ASSERT_EQ(NOPS, skv_pipe_pending(c));
	ASSERT_EQ(SKV_OK, skv_pipe_flush(c)) TH_LOG("%s", skv_conn_errmsg(c));
	for (i = 0; i < NOPS; i++) {
		struct pop *o = &ops[i];

		ret = skv_pipe_next(c, &res);
		ASSERT_EQ(SKV_OK, ret) TH_LOG("reply %d: %s (%s)", i, skv_strerror(ret),
					      skv_conn_errmsg(c));
		ASSERT_EQ((uint64_t)i, res.cookie);
		ASSERT_EQ(opcode_of[o->kind], res.opcode);
		o->status = -res.status;
		o->version = res.version;
		if (o->kind == P_GET && res.status == SKV_OK) {
			ASSERT_GT(sizeof(o->got), res.value_len);
			memcpy(o->got, res.value, res.value_len);
			o->got_len = res.value_len;
		}
		if (o->kind == P_MGET && res.status == SKV_OK) {
			ASSERT_EQ(3, res.item_count);
			for (j = 0; j < 3; j++) {
				o->mstatus[j] = -res.items[j].status;
				o->mversion[j] = res.items[j].version;
				ASSERT_GT(sizeof(o->mval[j]), res.items[j].value_len);
				memcpy(o->mval[j], res.items[j].value, res.items[j].value_len);
			}
		}
	}
	ASSERT_EQ(SKV_E_EMPTY, skv_pipe_next(c, &res));
	why = check_model(ops);
	ASSERT_STREQ("", why);
	skv_close(c);
	free(ops);
}

/* ---- ownership ---- */

/* The library's hash is xxh64 with seed 0, as wire.h says. */
TEST(lib_key_hash_is_xxh64)
{
	static const char *keys[] = { "", "a", "hello", "steadykv", "0123456789abcdef0123456789" };
	unsigned int i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *k = keys[i];

		EXPECT_EQ(st_xxh64(k, strlen(k)), lib_hash(k, strlen(k)))
			TH_LOG("key number %u", i);
	}
}

/* A node owning the lower half of table 5's hash space. */
TEST_F(node, not_owner_outside_tablets)
{
	char lo1[32], lo2[32], hi1[32], hi2[32], *val;
	const char *keys[4] = { lo1, hi1, lo2, hi2 };
	struct sknl_err res;
	struct st_item it[4];
	struct st_reply r;
	uint64_t v;

	ASSERT_NL_OK(sknl_table_add(&self->nl, 5, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 5, 0, (1ull << 63) - 1, -1, &res), &res);
	st_key_on_side(lo1, sizeof(lo1), "low-a", 0, lib_hash);
	st_key_on_side(lo2, sizeof(lo2), "low-b", 0, lib_hash);
	st_key_on_side(hi1, sizeof(hi1), "high-a", 1, lib_hash);
	st_key_on_side(hi2, sizeof(hi2), "high-b", 1, lib_hash);

	ASSERT_ST(SKV_S_OK, st_puts(self->fd, 5, lo1, "L1", 0, &v));
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, 5, lo2, &val, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_puts(self->fd, 5, hi1, "H1", 0, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, 5, hi1, &val, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_dels(self->fd, 5, hi2, 0, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_puts(self->fd, 5, hi2, "H2", 3, &v));

	/* Multi-get: per-key NOT_OWNER, the owned keys answered. */
	ASSERT_ST(SKV_S_OK, st_mget(self->fd, 5, keys, 4, &r, it));
	EXPECT_EQ(SKV_S_OK, it[0].status);
	EXPECT_EQ(SKV_S_NOT_OWNER, it[1].status);
	EXPECT_EQ(SKV_S_NOT_FOUND, it[2].status);
	EXPECT_EQ(SKV_S_NOT_OWNER, it[3].status);
	st_reply_free(&r);

	/* The same key in table 1 (whole space) is fine: ownership is per table. */
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, hi1, "H1", 0, &v));

	/* Adding the upper half makes the high keys owned. */
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 5, 1ull << 63, UINT64_MAX, -1, &res), &res);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, 5, hi1, &val, &v));
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, 5, hi1, "H1", 0, &v));
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, 5, hi1, &val, &v));
	EXPECT_STREQ("H1", val);
	free(val);
}

/* Tablet bounds are inclusive, to the exact hash. */
TEST_F(node, tablet_bounds_inclusive)
{
	const char *key = "edge-key";
	uint64_t h = lib_hash(key, strlen(key)), v;
	struct sknl_err res;
	char *val;

	ASSERT_LT(0, h);
	ASSERT_GT(UINT64_MAX, h);
	ASSERT_NL_OK(sknl_table_add(&self->nl, 6, &res), &res);
	/* Everything but the key's hash. */
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 6, 0, h - 1, -1, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 6, h + 1, UINT64_MAX, -1, &res), &res);
	ASSERT_ST(SKV_S_NOT_OWNER, st_puts(self->fd, 6, key, "x", 0, &v));
	/* A one-hash tablet [h, h]. */
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 6, h, h, -1, &res), &res);
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, 6, key, "x", 0, &v));
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, 6, key, &val, &v));
	free(val);
	/* Removing it removes ownership again. */
	ASSERT_NL_OK(sknl_tablet_del(&self->nl, 6, h, h, &res), &res);
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, 6, key, &val, &v));
}

TEST_F(node, unknown_table)
{
	const char *keys[] = { "a", "b" };
	struct sknl_err res;
	struct st_reply r;
	struct st_item it[2];
	uint64_t v;
	char *val;
	int st;

	ASSERT_ST(SKV_S_UNKNOWN_TABLE, st_puts(self->fd, 999, "a", "x", 0, &v));
	ASSERT_ST(SKV_S_UNKNOWN_TABLE, st_gets(self->fd, 999, "a", &val, &v));
	ASSERT_ST(SKV_S_UNKNOWN_TABLE, st_dels(self->fd, 999, "a", 0, &v));
	/*
	 * MULTI-GET: either the whole request gets UNKNOWN_TABLE, or (status
	 * OK) every key does.
	 */
	st = st_mget(self->fd, 999, keys, 2, &r, it);
	ASSERT_TRUE(st == SKV_S_UNKNOWN_TABLE || st == SKV_S_OK)
		TH_LOG("MULTI-GET on an unknown table: %s (%s)", st_status_name(st), st_last_error);
	if (st == SKV_S_OK) {
		EXPECT_EQ(SKV_S_UNKNOWN_TABLE, it[0].status);
		EXPECT_EQ(SKV_S_UNKNOWN_TABLE, it[1].status);
	}
	st_reply_free(&r);
	ASSERT_ST(SKV_S_UNKNOWN_TABLE, st_puts(self->fd, UINT64_MAX, "a", "x", 0, &v));
	ASSERT_ST(SKV_S_UNKNOWN_TABLE, st_puts(self->fd, 0, "a", "x", 0, &v));
	/* A known table with no tablets owns nothing. */
	ASSERT_NL_OK(sknl_table_add(&self->nl, 999, &res), &res);
	ASSERT_ST(SKV_S_NOT_OWNER, st_puts(self->fd, 999, "a", "x", 0, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, 999, "a", &val, &v));
	/* The connection survived all of it. */
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
}

/* Tablets migrating out or recovering are not served; back to normal, they are. */
TEST_F(node, tablet_states_not_served)
{
	const uint64_t q = 1ull << 62;
	char k0[32], k1[32], k2[32], *val;
	struct sknl_err res;
	uint64_t v0, v;
	int i;

	ASSERT_NL_OK(sknl_table_add(&self->nl, 7, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 7, 0, q - 1, STEADYKV_TABLET_STATE_NORMAL, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 7, q, 2 * q - 1,
				      STEADYKV_TABLET_STATE_MIGRATING_OUT, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 7, 2 * q, UINT64_MAX,
				      STEADYKV_TABLET_STATE_RECOVERING, &res), &res);
	/* Keys in each quarter-ish range. */
	for (i = 0;; i++) {
		snprintf(k0, sizeof(k0), "s0-%d", i);
		if (lib_hash(k0, strlen(k0)) < q)
			break;
	}
	for (i = 0;; i++) {
		uint64_t h;

		snprintf(k1, sizeof(k1), "s1-%d", i);
		h = lib_hash(k1, strlen(k1));
		if (h >= q && h < 2 * q)
			break;
	}
	for (i = 0;; i++) {
		snprintf(k2, sizeof(k2), "s2-%d", i);
		if (lib_hash(k2, strlen(k2)) >= 2 * q)
			break;
	}
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, 7, k0, "zero", 0, &v0));
	ASSERT_ST(SKV_S_NOT_OWNER, st_puts(self->fd, 7, k1, "one", 0, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, 7, k1, &val, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_dels(self->fd, 7, k1, 0, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_puts(self->fd, 7, k2, "two", 0, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, 7, k2, &val, &v));

	/* Migrating-out -> normal: served. */
	ASSERT_NL_OK(sknl_tablet_set(&self->nl, 7, q, 2 * q - 1,
				      STEADYKV_TABLET_STATE_NORMAL, &res), &res);
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, 7, k1, "one", 0, &v));

	/* A served tablet with data set to recovering: not served, data kept. */
	ASSERT_NL_OK(sknl_tablet_set(&self->nl, 7, 0, q - 1,
				      STEADYKV_TABLET_STATE_RECOVERING, &res), &res);
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, 7, k0, &val, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_puts(self->fd, 7, k0, "new", 0, &v));
	ASSERT_NL_OK(sknl_tablet_set(&self->nl, 7, 0, q - 1,
				      STEADYKV_TABLET_STATE_MIGRATING_OUT, &res), &res);
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, 7, k0, &val, &v));
	ASSERT_NL_OK(sknl_tablet_set(&self->nl, 7, 0, q - 1,
				      STEADYKV_TABLET_STATE_NORMAL, &res), &res);
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, 7, k0, &val, &v));
	EXPECT_STREQ("zero", val);
	EXPECT_EQ(v0, v);
	free(val);
}

TEST_F(node, table_del_drops_data)
{
	struct sknl_err res;
	uint64_t v;
	char *val;

	ASSERT_NL_OK(sknl_table_add(&self->nl, 8, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 8, 0, UINT64_MAX, -1, &res), &res);
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, 8, "t8", "data", 0, &v));
	ASSERT_NL_OK(sknl_table_del(&self->nl, 8, &res), &res);
	ASSERT_ST(SKV_S_UNKNOWN_TABLE, st_gets(self->fd, 8, "t8", &val, &v));
	ASSERT_NL_OK(sknl_table_add(&self->nl, 8, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 8, 0, UINT64_MAX, -1, &res), &res);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, 8, "t8", &val, &v));
	/* Table 1 was not touched. */
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, tablet_del_drops_data)
{
	struct sknl_err res;
	uint64_t v;
	char *val;

	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "td", "data", 0, &v));
	ASSERT_NL_OK(sknl_tablet_del(&self->nl, ST_TABLE, 0, UINT64_MAX, &res), &res);
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, ST_TABLE, "td", &val, &v));
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, ST_TABLE, 0, UINT64_MAX, -1, &res), &res);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "td", &val, &v));
}

/* ---- concurrency and the cleaner ---- */

/*
 * Four writers on the same ten keys at once: every write gets its own
 * version (no two alike), and each key ends with the value and version of
 * its highest-versioned write.
 */
TEST_F_TIMEOUT(node, concurrent_writers_unique_versions, 180)
{
	enum { W = 4, N = 300, K = 10 };
	uint64_t *vers = mmap(NULL, W * N * sizeof(uint64_t), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int w, i, j, status;
	pid_t pids[W];

	ASSERT_NE(MAP_FAILED, vers);
	for (w = 0; w < W; w++) {
		pids[w] = fork();
		ASSERT_LE(0, pids[w]);
		if (pids[w] == 0) {
			int fd = st_connect(ST_ADDR, ST_PORT);
			char key[16], val[32];

			if (fd < 0)
				_exit(2);
			for (i = 0; i < N; i++) {
				snprintf(key, sizeof(key), "cw-%d", i % K);
				snprintf(val, sizeof(val), "w%d-i%d", w, i);
				if (st_puts(fd, ST_TABLE, key, val, 0, &vers[w * N + i]) != SKV_S_OK)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (w = 0; w < W; w++) {
		ASSERT_EQ(pids[w], waitpid(pids[w], &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("writer %d failed (status 0x%x)", w, status);
	}
	/* Unique versions. */
	for (i = 0; i < W * N; i++)
		for (j = i + 1; j < W * N; j++)
			ASSERT_NE(vers[i], vers[j]) TH_LOG("writes %d and %d share version %llu",
							   i, j, (unsigned long long)vers[i]);
	/* Last writer wins, by version. */
	for (j = 0; j < K; j++) {
		uint64_t best = 0, v;
		int bw = -1, bi = -1;
		char key[16], want[32], *val;

		for (w = 0; w < W; w++)
			for (i = j; i < N; i += K)
				if (vers[w * N + i] > best) {
					best = vers[w * N + i];
					bw = w;
					bi = i;
				}
		snprintf(key, sizeof(key), "cw-%d", j);
		snprintf(want, sizeof(want), "w%d-i%d", bw, bi);
		ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, key, &val, &v));
		EXPECT_EQ(best, v);
		EXPECT_STREQ(want, val);
		free(val);
	}
	munmap(vers, W * N * sizeof(uint64_t));
}

/*
 * Readers racing a writer that keeps replacing a large value: every read
 * returns one whole value (all bytes from the same write), never a mix.
 */
TEST_F_TIMEOUT(node, readers_never_see_torn_values, 180)
{
	enum { SIZE = 100000, WRITES = 150 };
	static uint8_t buf[SIZE];
	int status, i, fd2, torn = 0, reads = 0;
	pid_t pid;

	memset(buf, 0, SIZE);
	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "torn", 4, buf, SIZE, 0, NULL));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = st_connect(ST_ADDR, ST_PORT);

		if (fd < 0)
			_exit(2);
		for (i = 1; i <= WRITES; i++) {
			memset(buf, i, SIZE - (i % 7) * 1000);	/* sizes vary too */
			if (st_put(fd, ST_TABLE, "torn", 4, buf, SIZE - (i % 7) * 1000, 0,
				   NULL) != SKV_S_OK)
				_exit(1);
		}
		_exit(0);
	}
	fd2 = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd2);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		uint8_t *val;
		uint32_t vlen, j;
		uint64_t v;

		ASSERT_ST(SKV_S_OK, st_get(fd2, ST_TABLE, "torn", 4, &val, &vlen, &v));
		reads++;
		for (j = 1; j < vlen; j++)
			if (val[j] != val[0])
				break;
		if (j < vlen || (val[0] && vlen != SIZE - (val[0] % 7) * 1000u))
			torn++;
		free(val);
	}
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	TH_LOG("%d reads during %d writes", reads, WRITES);
	EXPECT_EQ(0, torn) TH_LOG("%d of %d reads returned a torn value", torn, reads);
	close(fd2);
}

/*
 * Overwrites far beyond the memory limit: the cleaner reclaims the dead
 * versions, writes keep succeeding (NO_SPACE/RETRY at most transiently),
 * and every key reads back its last value.
 */
TEST_F_TIMEOUT(node, cleaner_reclaims_overwrites, 300)
{
	enum { KEYS = 32, ROUNDS = 16, SIZE = 32 * 1024 };	/* 16 MiB written, 1 MiB live */
	static uint8_t buf[SIZE];
	struct sknl_node ni;
	struct sknl_err res;
	int r, k, st, tries, transient = 0;
	char key[16];
	uint8_t *val;
	uint32_t vlen;
	uint64_t v;

	ASSERT_NL_OK(sknl_node_set_mem_limit(&self->nl, 8ull << 20, &res), &res);
	for (r = 0; r < ROUNDS; r++) {
		for (k = 0; k < KEYS; k++) {
			snprintf(key, sizeof(key), "cl-%d", k);
			memset(buf, r * KEYS + k, SIZE);
			for (tries = 0; tries < 200; tries++) {
				st = st_put(self->fd, ST_TABLE, key, strlen(key), buf, SIZE, 0, &v);
				if (st != SKV_S_NO_SPACE && st != SKV_S_RETRY)
					break;
				transient++;
				usleep(20000);
			}
			ASSERT_EQ(SKV_S_OK, st) TH_LOG("round %d key %d: %s after %d tries (%s)",
						       r, k, st_status_name(st), tries, st_last_error);
		}
	}
	for (k = 0; k < KEYS; k++) {
		snprintf(key, sizeof(key), "cl-%d", k);
		ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, key, strlen(key), &val, &vlen, &v));
		ASSERT_EQ(SIZE, vlen);
		EXPECT_EQ((uint8_t)((ROUNDS - 1) * KEYS + k), val[0]);
		EXPECT_EQ((uint8_t)((ROUNDS - 1) * KEYS + k), val[SIZE - 1]);
		free(val);
	}
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	TH_LOG("%d transient NO_SPACE/RETRY; cleaner passes %llu, segments freed %llu, "
	       "mem used %llu", transient,
	       (unsigned long long)ni.val[STEADYKV_A_NODE_CLEANER_PASSES],
	       (unsigned long long)ni.val[STEADYKV_A_NODE_CLEANER_SEGMENTS_FREED],
	       (unsigned long long)ni.val[STEADYKV_A_NODE_MEM_USED]);
	EXPECT_LT(0, ni.val[STEADYKV_A_NODE_CLEANER_PASSES]);
	EXPECT_LT(0, ni.val[STEADYKV_A_NODE_CLEANER_SEGMENTS_FREED]);
	EXPECT_GE(8ull << 20, ni.val[STEADYKV_A_NODE_MEM_USED]);
	EXPECT_EQ(KEYS, ni.val[STEADYKV_A_NODE_OBJECTS]);
}

/*
 * Tables and tablets deleted and re-added while clients hammer them: every
 * answer is one a client can get (OK, NOT_FOUND, NOT_OWNER, UNKNOWN_TABLE),
 * the connections survive, nothing crashes.
 */
TEST_F_TIMEOUT(node, map_changes_under_load, 240)
{
	enum { CLIENTS = 3, CYCLES = 30 };
	struct sknl_err res;
	pid_t pids[CLIENTS];
	int c, i, status;
	volatile int *stop = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t parent = getpid();

	ASSERT_NE(MAP_FAILED, stop);
	*stop = 0;
	ASSERT_NL_OK(sknl_table_add(&self->nl, 9, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 9, 0, UINT64_MAX, -1, &res), &res);
	for (c = 0; c < CLIENTS; c++) {
		pids[c] = fork();
		ASSERT_LE(0, pids[c]);
		if (pids[c] == 0) {
			int fd, n = 0;
			const char *keys[3] = { "ml-1", "ml-2", "ml-3" };
			char key[16], *val;
			struct st_item it[3];
			struct st_reply r;
			uint64_t v;

			/*
			 * A failed assertion below ends the test without
			 * setting *stop: die with it, or loop on for ever.
			 */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
				_exit(2);
			fd = st_connect(ST_ADDR, ST_PORT);
			if (fd < 0)
				_exit(2);
			while (!*stop) {
				int st[3];

				snprintf(key, sizeof(key), "ml-%d", n++ % 3 + 1);
				st[0] = st_puts(fd, 9, key, "value-value-value", 0, &v);
				st[1] = st_gets(fd, 9, key, &val, &v);
				free(val);
				st[2] = st_mget(fd, 9, keys, 3, &r, it);
				if (st[2] == SKV_S_OK)
					st_reply_free(&r);
				for (i = 0; i < 3; i++) {
					if (st[i] != SKV_S_OK && st[i] != SKV_S_NOT_FOUND &&
					    st[i] != SKV_S_NOT_OWNER && st[i] != SKV_S_UNKNOWN_TABLE) {
						printf("# client %d: %s (%s)\n", c,
						       st_status_name(st[i]), st_last_error);
						_exit(1);
					}
				}
			}
			_exit(st_ping(fd) == SKV_S_OK ? 0 : 3);
		}
	}
	for (i = 0; i < CYCLES; i++) {
		ASSERT_NL_OK(sknl_tablet_del(&self->nl, 9, 0, UINT64_MAX, &res), &res);
		ASSERT_NL_OK(sknl_tablet_add(&self->nl, 9, 0, UINT64_MAX, -1, &res), &res);
		ASSERT_NL_OK(sknl_tablet_set(&self->nl, 9, 0, UINT64_MAX,
					      STEADYKV_TABLET_STATE_MIGRATING_OUT, &res), &res);
		ASSERT_NL_OK(sknl_tablet_set(&self->nl, 9, 0, UINT64_MAX,
					      STEADYKV_TABLET_STATE_NORMAL, &res), &res);
		ASSERT_NL_OK(sknl_table_del(&self->nl, 9, &res), &res);
		ASSERT_NL_OK(sknl_table_add(&self->nl, 9, &res), &res);
		ASSERT_NL_OK(sknl_tablet_add(&self->nl, 9, 0, UINT64_MAX, -1, &res), &res);
	}
	*stop = 1;
	for (c = 0; c < CLIENTS; c++) {
		ASSERT_EQ(pids[c], waitpid(pids[c], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("client %d ended with status 0x%x", c, status);
	}
	ASSERT_SERVES(ST_PORT);
}

/* ---- statistics ---- */

TEST_F(node, node_stats_move)
{
	struct sknl_node a, b;
	uint64_t v, last = 0;
	char key[32], *val;
	int i, fds[3];
	uint8_t bad[sizeof(struct skv_hdr) + 8];
	struct st_reply r;

	ASSERT_EQ(0, sknl_node_get(&self->nl, &a, NULL));
	ASSERT_TRUE(SKNL_NODE_HAS(&a, STEADYKV_A_NODE_LISTENING));
	EXPECT_EQ(1, a.val[STEADYKV_A_NODE_LISTENING]);
	EXPECT_EQ(ST_PORT, a.val[STEADYKV_A_NODE_LISTEN_PORT]);
	ASSERT_EQ(4, a.listen_addr_len);
	EXPECT_EQ(0, memcmp(a.listen_addr, "\x7f\0\0\x01", 4));
	ASSERT_TRUE(SKNL_NODE_HAS(&a, STEADYKV_A_NODE_REQUESTS));
	ASSERT_TRUE(SKNL_NODE_HAS(&a, STEADYKV_A_NODE_OBJECTS));
	ASSERT_TRUE(SKNL_NODE_HAS(&a, STEADYKV_A_NODE_MEM_LIMIT));
	EXPECT_LT(0, a.val[STEADYKV_A_NODE_MEM_LIMIT]);
	EXPECT_EQ(0, a.val[STEADYKV_A_NODE_OBJECTS]);

	/* 30 puts of distinct keys, 10 deletes, 10 gets, 5 pings = 55 requests. */
	for (i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "stat-%d", i);
		ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, key, "0123456789", 0, &last));
	}
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "stat-%d", i);
		ASSERT_ST(SKV_S_OK, st_dels(self->fd, ST_TABLE, key, 0, &last));
		ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, key, &val, &v));
	}
	for (i = 0; i < 5; i++)
		ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_EQ(0, sknl_node_get(&self->nl, &b, NULL));
	EXPECT_EQ(a.val[STEADYKV_A_NODE_REQUESTS] + 55, b.val[STEADYKV_A_NODE_REQUESTS]);
	EXPECT_EQ(20, b.val[STEADYKV_A_NODE_OBJECTS]);
	EXPECT_EQ(last, b.val[STEADYKV_A_NODE_VERSION]);
	EXPECT_LE(a.val[STEADYKV_A_NODE_MEM_USED], b.val[STEADYKV_A_NODE_MEM_USED]);
	EXPECT_LT(a.val[STEADYKV_A_NODE_LIVE_BYTES], b.val[STEADYKV_A_NODE_LIVE_BYTES]);
	EXPECT_LT(0, b.val[STEADYKV_A_NODE_MEM_USED]);
	EXPECT_EQ(a.val[STEADYKV_A_NODE_BAD_REQUESTS], b.val[STEADYKV_A_NODE_BAD_REQUESTS]);

	/* A malformed request is counted as bad (GET body shorter than its struct). */
	st_hdr(bad, SKV_OP_GET, 77, 8);
	memset(bad + sizeof(struct skv_hdr), 0, 8);
	ASSERT_EQ(0, st_send_all(self->fd, bad, sizeof(bad)));
	ASSERT_EQ(0, st_recv_reply(self->fd, &r));
	EXPECT_EQ(SKV_S_BAD_REQUEST, r.h.status);
	st_reply_free(&r);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &a, NULL));
	EXPECT_EQ(b.val[STEADYKV_A_NODE_BAD_REQUESTS] + 1, a.val[STEADYKV_A_NODE_BAD_REQUESTS]);

	/* Open connections are counted, and uncounted when closed. */
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 10000)) TH_LOG("connections != 1");
	for (i = 0; i < 3; i++) {
		fds[i] = st_connect(ST_ADDR, ST_PORT);
		ASSERT_LE(0, fds[i]);
		ASSERT_ST(SKV_S_OK, st_ping(fds[i]));
	}
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 4, 10000)) TH_LOG("connections != 4");
	for (i = 0; i < 3; i++)
		close(fds[i]);
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 10000)) TH_LOG("connections != 1 after close");
}

TEST_F_TIMEOUT(node, mem_limit_set_and_enforced, 120)
{
	struct sknl_node ni;
	struct sknl_err res;
	uint8_t *big = malloc(64 * 1024), *val;
	uint64_t v, limit = 8ull << 20;
	int i, st = SKV_S_OK, nospace = 0, stored = 0;
	char key[32];
	uint32_t vlen;

	ASSERT_NE(NULL, big);
	memset(big, 0xab, 64 * 1024);
	ASSERT_NL_OK(sknl_node_set_mem_limit(&self->nl, limit, &res), &res);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(limit, ni.val[STEADYKV_A_NODE_MEM_LIMIT]);
	/* 16 MiB of live data against an 8 MiB limit: NO_SPACE, not a crash. */
	for (i = 0; i < 256; i++) {
		snprintf(key, sizeof(key), "fill-%d", i);
		st = st_put(self->fd, ST_TABLE, key, strlen(key), big, 64 * 1024, 0, &v);
		ASSERT_TRUE(st == SKV_S_OK || st == SKV_S_NO_SPACE)
			TH_LOG("put %d: %s (%s)", i, st_status_name(st), st_last_error);
		if (st == SKV_S_NO_SPACE)
			nospace++;
		else
			stored = i + 1;
	}
	EXPECT_LT(0, nospace);
	EXPECT_LT(0, stored);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_GE(limit, ni.val[STEADYKV_A_NODE_MEM_USED]);
	EXPECT_LE((uint64_t)nospace, ni.val[STEADYKV_A_NODE_NO_SPACE_ERRORS]);
	/* What was stored is still readable. */
	ASSERT_ST(SKV_S_OK, st_get(self->fd, ST_TABLE, "fill-0", 6, &val, &vlen, &v));
	EXPECT_EQ(64 * 1024, vlen);
	free(val);
	free(big);
}

TEST_HARNESS_MAIN
