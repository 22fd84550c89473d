// SPDX-License-Identifier: GPL-2.0
/*
 * The source side of a migration, spoken byte by byte on the wire
 * (wire.h "Migration"): PREPARE (split, freeze, keep-owner then freeze,
 * idempotence), PULL to completion (every record once, checksums good,
 * version filter), PRIORITY_PULL of present and absent keys, END commit
 * (data gone) and abort (served again, pushed-back writes visible), and
 * malformed requests.  The test plays the target on a connection of its
 * own, and a client on the fixture's connection.
 *
 * Then the attacks of issue 11: another peer (another source address)
 * naming a live migration or guessing an id, for every op; more
 * migrations than a node takes part in at once; forged versions by
 * push-back (2^64-2, above the target's counter, at the ceiling) and the
 * node's counter at its ceiling.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include <steadykv/record.h>

#include "st_harness.h"

/* The record and batch layout the source must produce (record.h). */
#define REC_OFF(field)		offsetof(struct skv_rec_hdr, field)
#define BATCH_OFF(field)	offsetof(struct skv_batch_hdr, field)
#define BATCH_HDR		((uint32_t)sizeof(struct skv_batch_hdr))

#define HALF		(1ull << 63)
/* A migration id as the coordinator picks them: random, 64 bits. */
#define MIG		0x9e3779b97f4a7c15ull
/* Another peer of the node: a second loopback address. */
#define OTHER_ADDR	"127.0.0.2"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* crc32c (Castagnoli), raw: no pre/post inversion. */
static uint32_t crc32c_raw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return crc;
}

/* Send one frame, read its reply: the reply's status, or -1. */
static int xfer(int fd, const void *frame, size_t len, struct st_reply *r)
{
	memset(r, 0, sizeof(*r));
	if (st_send_all(fd, frame, len))
		return -1;
	if (st_recv_reply(fd, r))
		return -1;
	return r->h.status;
}

/* A bare-status exchange (the reply body is dropped). */
static int xfer_st(int fd, const void *frame, size_t len)
{
	struct st_reply r;
	int st = xfer(fd, frame, len, &r);

	st_reply_free(&r);
	return st;
}

static size_t build_range(uint8_t *buf, uint8_t op, uint64_t id,
			  uint64_t table, uint64_t start, uint64_t end,
			  uint32_t flags, uint32_t extra)
{
	return st_build_range(buf, op, 1, id, table, start, end, flags, extra);
}

/* The reason text of the last BUSY answer to a PREPARE. */
static char busy_reason[256];

/*
 * PREPARE; *safe gets the safe version of an OK reply.  Only BUSY carries
 * a body (its reason, printable text, into busy_reason).
 */
static int prepare(int fd, uint64_t id, uint64_t table, uint64_t start,
		   uint64_t end, uint32_t flags, uint64_t *safe)
{
	uint8_t buf[128];
	struct st_reply r;
	size_t n = build_range(buf, SKV_OP_MIG_PREPARE, id, table, start, end,
			       flags, 0);
	int st = xfer(fd, buf, n, &r);
	uint32_t i;

	*safe = 0;
	busy_reason[0] = 0;
	if (st == SKV_S_OK) {
		if (r.len != sizeof(struct skv_mig_prepare_reply))
			st = -1;
		else
			*safe = get64(r.body);
	} else if (st == SKV_S_BUSY) {
		for (i = 0; i < r.len; i++)
			if (r.body[i] < 0x20 || r.body[i] >= 0x7f)
				st = -1;
		if (!r.len || r.len >= sizeof(busy_reason))
			st = -1;
		else
			snprintf(busy_reason, sizeof(busy_reason), "%.*s",
				 (int)r.len, (const char *)r.body);
	} else if (st > 0 && r.len) {
		st = -1;
	}
	st_reply_free(&r);
	return st;
}

static int end_mig(int fd, uint64_t id, uint64_t table, uint64_t start,
		   uint64_t end, uint32_t flags)
{
	uint8_t buf[128];
	size_t n = build_range(buf, SKV_OP_MIG_END, id, table, start, end,
			       flags, 0);

	return xfer_st(fd, buf, n);
}

/* MIG_STATUS of migration id: the status; *where and *safe of an OK. */
static int mig_status(int fd, uint64_t id, uint32_t *where, uint64_t *safe)
{
	uint8_t buf[128];
	struct st_reply r;
	size_t n = build_range(buf, SKV_OP_MIG_STATUS, id, ST_TABLE, 0, 0, 0, 0);
	int st = xfer(fd, buf, n, &r);

	if (st == SKV_S_OK) {
		if (r.len != sizeof(struct skv_mig_status_reply)) {
			st = -1;
		} else {
			*safe = get64(r.body);
			*where = get32(r.body + 8);
		}
	}
	st_reply_free(&r);
	return st;
}

static size_t build_pull(uint8_t *buf, uint64_t id, uint64_t table,
			 uint64_t start, uint64_t end, uint64_t cursor,
			 uint64_t min_version, uint32_t budget)
{
	return st_build_pull(buf, 2, id, table, start, end, cursor, min_version,
			     budget);
}

/* What the test knows of a key, and how often a pull delivered it. */
struct key_exp {
	char key[40];
	uint64_t version;	/* acknowledged version */
	uint32_t vlen;		/* 0 with tombstone set */
	int tombstone;
	int seen;
};

struct pull_acc {
	struct key_exp *keys;
	int nkeys;
	int records;
	int unknown;		/* records of keys we did not write */
	int wrong;		/* version, type or value not as written */
	uint64_t last_hash;
	int unordered;
	uint32_t budget;	/* of the pulls */
	int over_budget;	/* batches of 2+ records over it */
};

static uint8_t val_byte(const char *key, uint32_t i)
{
	return (uint8_t)(key[4] + key[5] * 7 + i * 13);
}

/*
 * Check a batch (magic, length, reserved field, every record's crc, key
 * hash and padding) and account its records.  Returns the
 * record count, or -1 with st_last_error set.
 */
static int check_batch(const uint8_t *b, uint32_t len, struct pull_acc *acc)
{
	uint32_t count, blen, off, n = 0;

	if (len < BATCH_HDR || get32(b) != SKV_BATCH_MAGIC)
		return snprintf(st_last_error, 256, "bad batch header"), -1;
	count = get32(b + BATCH_OFF(count));
	blen = get32(b + BATCH_OFF(len));
	if (blen != len - BATCH_HDR)
		return snprintf(st_last_error, 256, "batch len %u of %u", blen,
				len - BATCH_HDR), -1;
	if (get32(b + BATCH_OFF(reserved)))
		return snprintf(st_last_error, 256, "batch reserved field not 0"), -1;
	for (off = BATCH_HDR; off < len; n++) {
		const uint8_t *r = b + off;
		uint32_t klen, vlen, rlen, crc, i;
		uint64_t hash, ver;
		int k;

		if (len - off < SKV_REC_HDR_LEN)
			return snprintf(st_last_error, 256, "short record"), -1;
		klen = get16(r + REC_OFF(key_len));
		vlen = get32(r + REC_OFF(value_len));
		hash = get64(r + REC_OFF(key_hash));
		ver = get64(r + REC_OFF(version));
		rlen = SKV_REC_LEN(klen, vlen);
		if (rlen > len - off)
			return snprintf(st_last_error, 256, "record past batch"), -1;
		crc = crc32c_raw(~0u, r + SKV_REC_HDR_LEN, klen + vlen);
		crc = ~crc32c_raw(crc, r + REC_OFF(type), SKV_REC_HDR_LEN - REC_OFF(type));
		if (crc != get32(r))
			return snprintf(st_last_error, 256, "record crc"), -1;
		if (hash != st_xxh64(r + SKV_REC_HDR_LEN, klen))
			return snprintf(st_last_error, 256, "record hash"), -1;
		for (i = SKV_REC_HDR_LEN + klen + vlen; i < rlen; i++)
			if (r[i])
				return snprintf(st_last_error, 256, "padding"), -1;
		off += rlen;
		acc->records++;
		if (hash < acc->last_hash)
			acc->unordered++;
		acc->last_hash = hash;
		for (k = 0; k < acc->nkeys; k++)
			if (strlen(acc->keys[k].key) == klen &&
			    !memcmp(acc->keys[k].key, r + SKV_REC_HDR_LEN, klen))
				break;
		if (k == acc->nkeys) {
			acc->unknown++;
			continue;
		}
		acc->keys[k].seen++;
		if (ver != acc->keys[k].version ||
		    (r[REC_OFF(type)] == SKV_REC_TOMBSTONE) != acc->keys[k].tombstone ||
		    vlen != acc->keys[k].vlen)
			acc->wrong++;
		for (i = 0; i < vlen; i++)
			if (r[SKV_REC_HDR_LEN + klen + i] != val_byte(acc->keys[k].key, i)) {
				acc->wrong++;
				break;
			}
	}
	if (n != count)
		return snprintf(st_last_error, 256, "count %u, %u records",
				count, n), -1;
	/* Only a first group larger than the budget goes over it. */
	if (acc->budget && n > 1 && blen > acc->budget)
		acc->over_budget++;
	return n;
}

/*
 * Pull [start, end] of migration id to the end with budget; returns the
 * number of calls, or -1.
 */
static int pull_all(int fd, uint64_t id, uint64_t table, uint64_t start,
		    uint64_t end, uint64_t min_version, uint32_t budget,
		    struct pull_acc *acc)
{
	uint64_t cursor = start;
	uint8_t buf[128];
	struct st_reply r;
	int calls = 0, st;

	acc->last_hash = 0;
	acc->budget = budget < 1024 ? 1024 : budget > (1u << 20) ? 1u << 20 :
		      budget;
	for (;;) {
		size_t n = build_pull(buf, id, table, start, end, cursor,
				      min_version, budget);

		st = xfer(fd, buf, n, &r);
		calls++;
		if (st != SKV_S_OK || r.len < 16 ||
		    check_batch(r.body + 16, r.len - 16, acc) < 0) {
			if (!st_last_error[0])
				snprintf(st_last_error, 256, "pull status %s",
					 st_status_name(st));
			st_reply_free(&r);
			return -1;
		}
		cursor = get64(r.body);
		st = get32(r.body + 8);
		st_reply_free(&r);
		if (st)
			return calls;
		if (calls > 100000)
			return -1;
	}
}

/* Put a key whose value is vlen bytes of val_byte(). */
static int put_key(int fd, struct key_exp *k, uint32_t vlen)
{
	uint8_t *v = malloc(vlen + 1);
	uint32_t i;
	int st;

	for (i = 0; i < vlen; i++)
		v[i] = val_byte(k->key, i);
	st = st_put(fd, ST_TABLE, k->key, strlen(k->key), v, vlen, 0,
		    &k->version);
	free(v);
	k->vlen = vlen;
	k->tombstone = 0;
	return st;
}

static int del_key(int fd, struct key_exp *k)
{
	int st = st_del(fd, ST_TABLE, k->key, strlen(k->key), 0,
			&k->version);

	k->vlen = 0;
	k->tombstone = 1;
	return st;
}

static uint64_t khash(const struct key_exp *k)
{
	return st_xxh64(k->key, strlen(k->key));
}

/* Key n, with its hash inside [lo, hi]. */
static void key_in(struct key_exp *k, const char *prefix, int n, uint64_t lo,
		   uint64_t hi)
{
	int i;

	for (i = 0;; i++) {
		snprintf(k->key, sizeof(k->key), "%s-%d-%d", prefix, n, i);
		if (khash(k) >= lo && khash(k) <= hi)
			return;
	}
}

FIXTURE(mig) {
	struct sknl nl;
	int fd;		/* a client */
	int mfd;	/* the target */
};

FIXTURE_SETUP(mig)
{
	ASSERT_EQ(0, st_new_netns());
	ASSERT_EQ(0, st_nl_open(&self->nl));
	ASSERT_EQ(0, st_node_start(&self->nl, ST_PORT)) TH_LOG("%s", st_last_error);
	self->fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, self->fd);
	self->mfd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, self->mfd);
	/* The target is a peer: it proves the cluster key first. */
	ASSERT_EQ(SKV_S_OK, st_auth(self->mfd, st_cluster_key()))
		TH_LOG("%s", st_last_error);
}

FIXTURE_TEARDOWN(mig)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->mfd >= 0)
		close(self->mfd);
	sknl_close(&self->nl);
}

#define NKEYS 400

TEST_F_TIMEOUT(mig, prepare_pull_all_exactly_once, 240)
{
	struct key_exp *k = calloc(NKEYS, sizeof(*k));
	struct pull_acc acc = { .keys = k, .nkeys = NKEYS };
	uint64_t safe, top = 0, v;
	int i, calls, calls2;
	char *val;

	for (i = 0; i < NKEYS; i++) {
		snprintf(k[i].key, sizeof(k[i].key), "key-%d", i);
		/* One value far over the budget: its group goes alone. */
		ASSERT_ST(SKV_S_OK, put_key(self->fd, &k[i],
					    i == 5 ? 200000 : 10 + i % 300));
	}
	for (i = 0; i < NKEYS; i += 10)
		ASSERT_ST(SKV_S_OK, del_key(self->fd, &k[i]));
	for (i = 0; i < NKEYS; i++)
		top = k[i].version > top ? k[i].version : top;

	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX, 0,
				    &safe));
	ASSERT_LE(top, safe);
	/* Frozen: the client is told to go elsewhere. */
	ASSERT_ST(SKV_S_NOT_OWNER, st_puts(self->fd, ST_TABLE, "key-1", "x", 0, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, ST_TABLE, "key-1", &val, &v));
	ASSERT_ST(SKV_S_NOT_OWNER, st_dels(self->fd, ST_TABLE, "key-2", 0, &v));

	calls = pull_all(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX, 0, 4096, &acc);
	ASSERT_LT(0, calls) TH_LOG("%s", st_last_error);
	ASSERT_LT(5, calls);
	ASSERT_EQ(0, acc.over_budget);
	ASSERT_EQ(NKEYS, acc.records);
	ASSERT_EQ(0, acc.unknown);
	ASSERT_EQ(0, acc.wrong);
	ASSERT_EQ(0, acc.unordered);
	for (i = 0; i < NKEYS; i++)
		ASSERT_EQ(1, k[i].seen) TH_LOG("key-%d", i);

	/* Two parts with the largest budget: the same records again. */
	for (i = 0; i < NKEYS; i++)
		k[i].seen = 0;
	acc.records = 0;
	calls = pull_all(self->mfd, MIG, ST_TABLE, 0, HALF - 1, 0, 1u << 30, &acc);
	calls2 = pull_all(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX, 0, 1u << 30,
			  &acc);
	ASSERT_LT(0, calls);
	ASSERT_LT(0, calls2);
	ASSERT_EQ(NKEYS, acc.records);
	for (i = 0; i < NKEYS; i++)
		ASSERT_EQ(1, k[i].seen);
	ASSERT_EQ(0, acc.wrong);
	/* A budget under 1 KiB is raised to it; still correct. */
	for (i = 0; i < NKEYS; i++)
		k[i].seen = 0;
	acc.records = 0;
	calls = pull_all(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX, 0, 1, &acc);
	ASSERT_LT(0, calls);
	TH_LOG("pulls at 1 KiB: %d", calls);
	ASSERT_EQ(NKEYS, acc.records);
	ASSERT_EQ(0, acc.over_budget);
	ASSERT_EQ(0, acc.wrong);
	free(k);
}

TEST_F(mig, prepare_splits_only_the_range)
{
	struct sknl_tablet t[8];
	struct key_exp in, out;
	uint64_t safe, safe2, v;
	int n;

	key_in(&in, "in", 0, HALF, HALF + (HALF >> 1) - 1);
	key_in(&out, "out", 0, 0, HALF - 1);
	ASSERT_ST(SKV_S_OK, put_key(self->fd, &in, 10));
	ASSERT_ST(SKV_S_OK, put_key(self->fd, &out, 10));
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF,
				    HALF + (HALF >> 1) - 1, 0, &safe));
	n = st_nl_tablets(&self->nl, t, 8);
	ASSERT_EQ(3, n);
	ASSERT_EQ(HALF - 1, t[0].end_hash);
	ASSERT_EQ(STEADYKV_TABLET_STATE_NORMAL, t[0].state);
	ASSERT_EQ(HALF, t[1].start_hash);
	ASSERT_EQ(HALF + (HALF >> 1) - 1, t[1].end_hash);
	ASSERT_EQ(STEADYKV_TABLET_STATE_MIGRATING_OUT, t[1].state);
	ASSERT_EQ(STEADYKV_TABLET_STATE_NORMAL, t[2].state);
	ASSERT_ST(SKV_S_NOT_OWNER, put_key(self->fd, &in, 10));
	ASSERT_ST(SKV_S_OK, put_key(self->fd, &out, 12));
	/* Again: the same answer. */
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF,
				    HALF + (HALF >> 1) - 1, 0, &safe2));
	ASSERT_EQ(safe, safe2);
	/* The id with another range; another id over a migrating range. */
	ASSERT_ST(SKV_S_BUSY, prepare(self->mfd, MIG, ST_TABLE, HALF,
				      UINT64_MAX, 0, &v));
	ASSERT_ST(SKV_S_BUSY, prepare(self->mfd, MIG + 1, ST_TABLE, HALF,
				      HALF + 5, 0, &v));
	/* A range over two tablets. */
	ASSERT_ST(SKV_S_BUSY, prepare(self->mfd, MIG + 2, ST_TABLE, 0, HALF + 1,
				      0, &v));
	ASSERT_ST(SKV_S_OK, st_ping(self->mfd));
}

TEST_F(mig, keep_owner_then_freeze)
{
	struct key_exp k[40];
	struct pull_acc acc = { .keys = k, .nkeys = 40 };
	uint64_t safe1, safe2, v;
	int i;

	memset(k, 0, sizeof(k));
	for (i = 0; i < 40; i++) {
		snprintf(k[i].key, sizeof(k[i].key), "ko-%d", i);
		ASSERT_ST(SKV_S_OK, put_key(self->fd, &k[i], 50));
	}
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX,
				    SKV_MIG_F_KEEP_OWNER, &safe1));
	ASSERT_LE(k[39].version, safe1);
	/* Still the owner: a baseline pull while clients write on. */
	ASSERT_LT(0, pull_all(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX, 0, 2048,
			      &acc));
	ASSERT_EQ(40, acc.records);
	for (i = 0; i < 10; i++)
		ASSERT_ST(SKV_S_OK, put_key(self->fd, &k[i], 60));
	ASSERT_ST(SKV_S_OK, del_key(self->fd, &k[10]));
	/* Commit before the freeze would lose writes: refused. */
	ASSERT_ST(SKV_S_BUSY, end_mig(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX, 0));
	/* Freeze: a new safe version; the catch-up has the 11 new writes. */
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX, 0,
				    &safe2));
	ASSERT_LE(k[10].version, safe2);
	ASSERT_LT(safe1, safe2);
	ASSERT_ST(SKV_S_NOT_OWNER, put_key(self->fd, &k[20], 60));
	k[20].vlen = 50;
	k[20].tombstone = 0;
	for (i = 0; i < 40; i++)
		k[i].seen = 0;
	acc.records = 0;
	ASSERT_LT(0, pull_all(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX, safe1,
			      2048, &acc));
	ASSERT_EQ(11, acc.records);
	ASSERT_EQ(0, acc.wrong);
	for (i = 0; i < 11; i++)
		ASSERT_EQ(1, k[i].seen);
	/* Prepare again, frozen: the same safe version. */
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, 0, UINT64_MAX, 0,
				    &v));
	ASSERT_EQ(safe2, v);
}

static size_t build_prio(uint8_t *buf, uint64_t id, uint64_t table,
			 const uint64_t *h, unsigned int n, unsigned int count)
{
	uint8_t *p = buf + sizeof(struct skv_hdr);
	unsigned int i;

	st_hdr(buf, SKV_OP_MIG_PRIORITY_PULL, 3,
	       sizeof(struct skv_prio_pull_req) + 8 * n);
	memset(p, 0, sizeof(struct skv_prio_pull_req));
	put64(p, id);
	put64(p + 8, table);
	put16(p + 16, count);
	for (i = 0; i < n; i++)
		put64(p + 24 + 8 * i, h[i]);
	return sizeof(struct skv_hdr) + sizeof(struct skv_prio_pull_req) + 8 * n;
}

TEST_F(mig, priority_pull_present_and_absent)
{
	struct key_exp k[4];
	struct pull_acc acc = { .keys = k, .nkeys = 3 };
	uint8_t buf[1024];
	uint64_t h[70], safe;
	struct st_reply r;
	size_t n;
	int i;

	memset(k, 0, sizeof(k));
	for (i = 0; i < 4; i++)
		key_in(&k[i], "prio", i, HALF, UINT64_MAX);
	ASSERT_ST(SKV_S_OK, put_key(self->fd, &k[0], 100));
	ASSERT_ST(SKV_S_OK, put_key(self->fd, &k[1], 3000));
	ASSERT_ST(SKV_S_OK, put_key(self->fd, &k[2], 10));
	ASSERT_ST(SKV_S_OK, del_key(self->fd, &k[2]));
	/* k[3] never written: absent at the source. */
	for (i = 0; i < 4; i++)
		h[i] = khash(&k[i]);

	n = build_prio(buf, MIG, ST_TABLE, h, 4, 4);
	ASSERT_ST(SKV_S_NO_MIGRATION, xfer_st(self->mfd, buf, n));
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &safe));
	ASSERT_ST(SKV_S_OK, xfer(self->mfd, buf, n, &r));
	ASSERT_LE(32, r.len);
	ASSERT_EQ(4, get32(r.body + 8));
	ASSERT_EQ(3, check_batch(r.body + 16, r.len - 16, &acc)) TH_LOG("%s", st_last_error);
	ASSERT_EQ(0, acc.wrong);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(1, k[i].seen);
	st_reply_free(&r);
	/* Only the absent key: resolved, nothing sent. */
	n = build_prio(buf, MIG, ST_TABLE, h + 3, 1, 1);
	ASSERT_ST(SKV_S_OK, xfer(self->mfd, buf, n, &r));
	ASSERT_EQ(1, get32(r.body + 8));
	ASSERT_EQ(0, get32(r.body + 16 + 4));
	st_reply_free(&r);

	/* Bad: no hash, too many, count and length apart, out of range. */
	for (i = 0; i < 70; i++)
		h[i] = HALF + i;
	n = build_prio(buf, MIG, ST_TABLE, h, 0, 0);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_prio(buf, MIG, ST_TABLE, h, 65, 65);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_prio(buf, MIG, ST_TABLE, h, 3, 2);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_prio(buf, MIG, ST_TABLE, h, 2, 3);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	h[1] = 5;
	n = build_prio(buf, MIG, ST_TABLE, h, 2, 2);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_prio(buf, MIG, ST_TABLE + 1, h, 1, 1);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_prio(buf, MIG, ST_TABLE, h, 1, 1);
	buf[sizeof(struct skv_hdr) + 18] = 1;	/* reserved */
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	/* The largest count is fine. */
	n = build_prio(buf, MIG, ST_TABLE, h + 2, 64, 64);
	ASSERT_ST(SKV_S_OK, xfer_st(self->mfd, buf, n));
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
}

TEST_F(mig, end_commit_drops_the_data)
{
	struct key_exp k;
	struct sknl_err res;
	uint64_t safe, v;
	uint8_t buf[128];
	uint32_t where;
	size_t n;
	char *val;

	key_in(&k, "commit", 0, HALF, UINT64_MAX);
	ASSERT_ST(SKV_S_OK, put_key(self->fd, &k, 30));
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &safe));
	/* END must name the range exactly. */
	ASSERT_ST(SKV_S_BAD_REQUEST, end_mig(self->mfd, MIG, ST_TABLE, HALF + 1,
					     UINT64_MAX, 0));
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX, 0));
	ASSERT_EQ(1, st_nl_tablets(&self->nl, (struct sknl_tablet[4]){}, 4));
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, ST_TABLE, k.key, &val, &v));
	/*
	 * Ended, and remembered (the reply may have been lost): the same END
	 * is OK again, the other one and a late PREPARE are STALE_EPOCH.
	 */
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX, 0));
	ASSERT_ST(SKV_S_STALE_EPOCH, end_mig(self->mfd, MIG, ST_TABLE, HALF,
					     UINT64_MAX, SKV_MIG_F_ABORT));
	ASSERT_ST(SKV_S_STALE_EPOCH, prepare(self->mfd, MIG, ST_TABLE, HALF,
					     UINT64_MAX, 0, &v));
	ASSERT_ST(SKV_S_OK, mig_status(self->mfd, MIG, &where, &v));
	EXPECT_EQ(SKV_MIG_ENDED_COMMIT, where);
	EXPECT_EQ(safe, v);
	n = build_pull(buf, MIG, ST_TABLE, HALF, UINT64_MAX, 0, 0, 4096);
	ASSERT_ST(SKV_S_NO_MIGRATION, xfer_st(self->mfd, buf, n));
	/* The data is gone: the range back is empty. */
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, ST_TABLE, HALF, UINT64_MAX, -1,
				      &res), &res);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, k.key, &val, &v));
}

/* A record as the log holds it: header, key, value, zero padding. */
static size_t build_rec(uint8_t *p, int tombstone, uint64_t table,
			const char *key, const uint8_t *val, uint32_t vlen,
			uint64_t version)
{
	uint32_t klen = strlen(key), len = SKV_REC_LEN(klen, vlen), crc;

	memset(p, 0, len);
	p[REC_OFF(type)] = tombstone ? SKV_REC_TOMBSTONE : SKV_REC_OBJECT;
	put16(p + REC_OFF(key_len), klen);
	put32(p + REC_OFF(value_len), vlen);
	put64(p + REC_OFF(table_id), table);
	put64(p + REC_OFF(key_hash), st_xxh64(key, klen));
	put64(p + REC_OFF(version), version);
	memcpy(p + SKV_REC_HDR_LEN, key, klen);
	memcpy(p + SKV_REC_HDR_LEN + klen, val, vlen);
	crc = crc32c_raw(~0u, p + SKV_REC_HDR_LEN, klen + vlen);
	put32(p, ~crc32c_raw(crc, p + REC_OFF(type), SKV_REC_HDR_LEN - REC_OFF(type)));
	return len;
}

/*
 * PUSH_BACK frame of migration id with the given records, from a target
 * whose version counter is max_version.
 */
static size_t build_push_max(uint8_t *buf, uint64_t id, uint64_t start,
			     uint64_t end, const uint8_t *recs, uint32_t rlen,
			     uint32_t count, uint64_t max_version)
{
	const uint32_t extra = sizeof(struct skv_push_back_req) -
			       sizeof(struct skv_mig_range_req);
	size_t n = build_range(buf, SKV_OP_MIG_PUSH_BACK, id, ST_TABLE, start,
			       end, 0, extra + BATCH_HDR + rlen);
	uint8_t *b;

	put64(buf + n, max_version);
	n += extra;
	b = buf + n;

	put32(b, SKV_BATCH_MAGIC);
	put32(b + BATCH_OFF(count), count);
	put32(b + BATCH_OFF(len), rlen);
	put32(b + BATCH_OFF(reserved), 0);
	memcpy(b + BATCH_HDR, recs, rlen);
	return n + BATCH_HDR + rlen;
}

/* The same from a target whose counter is far above the records. */
static size_t build_push(uint8_t *buf, uint64_t id, uint64_t start,
			 uint64_t end, const uint8_t *recs, uint32_t rlen,
			 uint32_t count)
{
	return build_push_max(buf, id, start, end, recs, rlen, count,
			      1ull << 40);
}

TEST_F(mig, end_abort_serves_again_with_pushed_back_writes)
{
	struct key_exp a, b, c, o;
	uint8_t recs[1024], frame[2048], val[64];
	uint64_t safe, v;
	uint32_t rlen, where;
	size_t n;
	char *got;

	key_in(&a, "abort", 0, HALF, UINT64_MAX);
	key_in(&b, "abort", 1, HALF, UINT64_MAX);
	key_in(&c, "abort", 2, HALF, UINT64_MAX);
	key_in(&o, "other", 0, 0, HALF - 1);
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, a.key, "old-a", 0, &v));
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, b.key, "old-b", 0, &v));

	/* The target's writes, newer than the safe version. */
	memcpy(val, "new-a", 5);
	rlen = build_rec(recs, 0, ST_TABLE, a.key, val, 5, 1000000);
	rlen += build_rec(recs + rlen, 1, ST_TABLE, b.key, NULL, 0, 1000001);
	memcpy(val, "new-c", 5);
	rlen += build_rec(recs + rlen, 0, ST_TABLE, c.key, val, 5, 1000002);
	n = build_push(frame, MIG, HALF, UINT64_MAX, recs, rlen, 3);
	ASSERT_ST(SKV_S_NO_MIGRATION, xfer_st(self->mfd, frame, n));

	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &safe));
	ASSERT_LT(safe, 1000000);
	/* A corrupt batch and a record outside the range are refused. */
	frame[n - 1] ^= 1;
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, frame, n));
	frame[n - 1] ^= 1;
	{
		uint8_t bad[256], bframe[512];
		uint32_t bl = build_rec(bad, 0, ST_TABLE, o.key, val, 5, 1000003);
		size_t bn = build_push(bframe, MIG, HALF, UINT64_MAX, bad, bl, 1);

		ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, bframe, bn));
		/* So is one no newer than the safe version. */
		bl = build_rec(bad, 0, ST_TABLE, a.key, val, 5, safe);
		bn = build_push(bframe, MIG, HALF, UINT64_MAX, bad, bl, 1);
		ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, bframe, bn));
		/* The range must be the migration's. */
		bn = build_push(bframe, MIG, HALF + 1, UINT64_MAX, bad, 0, 0);
		ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, bframe, bn));
	}
	ASSERT_ST(SKV_S_OK, xfer_st(self->mfd, frame, n));
	/* Still frozen until the abort. */
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, ST_TABLE, a.key, &got, &v));
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    SKV_MIG_F_ABORT));
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, a.key, &got, &v));
	EXPECT_STREQ("new-a", got);
	EXPECT_EQ(1000000, v);
	free(got);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, b.key, &got, &v));
	EXPECT_EQ(1000001, v);
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, c.key, &got, &v));
	EXPECT_STREQ("new-c", got);
	free(got);
	/* Writes go on above the pushed-back versions. */
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, a.key, "newer", 0, &v));
	ASSERT_LT(1000002, v);
	/*
	 * Ended: a repeated push-back and abort are OK and change nothing
	 * (their replies may have been lost); a commit is STALE_EPOCH.
	 */
	ASSERT_ST(SKV_S_OK, xfer_st(self->mfd, frame, n));
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF,
				    UINT64_MAX, SKV_MIG_F_ABORT));
	ASSERT_ST(SKV_S_STALE_EPOCH, end_mig(self->mfd, MIG, ST_TABLE, HALF,
					     UINT64_MAX, 0));
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, a.key, &got, &v));
	EXPECT_STREQ("newer", got);
	free(got);
	ASSERT_ST(SKV_S_OK, mig_status(self->mfd, MIG, &where, &v));
	EXPECT_EQ(SKV_MIG_ENDED_ABORT, where);
}

TEST_F(mig, bad_requests)
{
	struct sknl_err res;
	uint8_t buf[256];
	uint64_t v;
	size_t n;

	/* PREPARE: lengths, reserved, flags, id 0, start > end. */
	n = build_range(buf, SKV_OP_MIG_PREPARE, MIG, ST_TABLE, 0, 10, 0, 0);
	put32(buf + 16, 39);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n - 1));
	put32(buf + 16, 41);
	buf[n] = 0;
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n + 1));
	/* Planned before an ownership change the node knows of: stale. */
	ASSERT_NL_OK(sknl_node_learn_epoch(&self->nl, 7, &res), &res);
	n = build_range(buf, SKV_OP_MIG_PREPARE, MIG, ST_TABLE, 0, 10, 0, 0);
	put32(buf + sizeof(struct skv_hdr) + 36, 6);
	ASSERT_ST(SKV_S_STALE_EPOCH, xfer_st(self->mfd, buf, n));
	ASSERT_ST(SKV_S_BAD_REQUEST, prepare(self->mfd, MIG, ST_TABLE, 0, 10,
					     0x80, &v));
	ASSERT_ST(SKV_S_BAD_REQUEST, prepare(self->mfd, MIG, ST_TABLE, 0, 10,
					     SKV_MIG_F_ABORT, &v));
	ASSERT_ST(SKV_S_BAD_REQUEST, prepare(self->mfd, 0, ST_TABLE, 0, 10, 0, &v));
	ASSERT_ST(SKV_S_BAD_REQUEST, prepare(self->mfd, MIG, ST_TABLE, 10, 9, 0, &v));
	/* Unknown table; a table without a tablet there. */
	ASSERT_ST(SKV_S_UNKNOWN_TABLE, prepare(self->mfd, MIG, 99, 0, 10, 0, &v));
	ASSERT_NL_OK(sknl_table_add(&self->nl, 2, &res), &res);
	ASSERT_ST(SKV_S_NOT_OWNER, prepare(self->mfd, MIG, 2, 0, 10, 0, &v));
	/* A range over two tablets. */
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 2, 0, 99, -1, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 2, 100, UINT64_MAX, -1, &res),
		     &res);
	ASSERT_ST(SKV_S_BUSY, prepare(self->mfd, MIG, 2, 50, 150, 0, &v));
	/* A tablet not NORMAL. */
	ASSERT_NL_OK(sknl_tablet_set(&self->nl, 2, 0, 99,
				      STEADYKV_TABLET_STATE_RECOVERING, &res),
		     &res);
	ASSERT_ST(SKV_S_BUSY, prepare(self->mfd, MIG, 2, 10, 20, 0, &v));

	/* PULL, END before any PREPARE. */
	n = build_pull(buf, MIG, ST_TABLE, 0, UINT64_MAX, 0, 0, 4096);
	ASSERT_ST(SKV_S_NO_MIGRATION, xfer_st(self->mfd, buf, n));
	ASSERT_ST(SKV_S_NO_MIGRATION, end_mig(self->mfd, MIG, ST_TABLE, 0,
					      UINT64_MAX, 0));
	ASSERT_ST(SKV_S_NO_MIGRATION, end_mig(self->mfd, MIG, ST_TABLE, 0,
					      UINT64_MAX, SKV_MIG_F_ABORT));
	ASSERT_ST(SKV_S_BAD_REQUEST, end_mig(self->mfd, MIG, ST_TABLE, 0,
					     UINT64_MAX, SKV_MIG_F_KEEP_OWNER));

	/* PULL: lengths, reserved, a part outside the migration. */
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &v));
	n = build_pull(buf, MIG, ST_TABLE, HALF, UINT64_MAX, 0, 0, 4096);
	put32(buf + 16, 55);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n - 1));
	n = build_pull(buf, MIG, ST_TABLE, HALF, UINT64_MAX, 0, 0, 4096);
	buf[n - 1] = 1;
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_pull(buf, MIG, ST_TABLE, 0, UINT64_MAX, 0, 0, 4096);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_pull(buf, MIG, 2, HALF, UINT64_MAX, 0, 0, 4096);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_pull(buf, MIG, ST_TABLE, HALF + 10, HALF + 9, 0, 0, 4096);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_pull(buf, MIG + 1, ST_TABLE, HALF, UINT64_MAX, 0, 0, 4096);
	ASSERT_ST(SKV_S_NO_MIGRATION, xfer_st(self->mfd, buf, n));
	/* END and PUSH_BACK lengths. */
	n = build_range(buf, SKV_OP_MIG_END, MIG, ST_TABLE, HALF, UINT64_MAX, 0, 0);
	put32(buf + 16, 32);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n - 8));
	n = build_range(buf, SKV_OP_MIG_PUSH_BACK, MIG, ST_TABLE, HALF,
			UINT64_MAX, 0, 0);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n));
	n = build_range(buf, SKV_OP_MIG_PUSH_BACK, MIG, ST_TABLE, HALF,
			UINT64_MAX, 0, 10);
	memset(buf + n, 0, 10);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, buf, n + 10));
	/* Everything still works. */
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    SKV_MIG_F_ABORT));
	ASSERT_ST(SKV_S_OK, st_ping(self->mfd));
	ASSERT_SERVES(ST_PORT);
}

/* A connection to the node from another source address: another peer. */
static int connect_from(const char *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(ST_PORT) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 30 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (inet_pton(AF_INET, src, &me.sin_addr) != 1 ||
	    inet_pton(AF_INET, ST_ADDR, &sa.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(st_last_error, 256, "connect from %s: %s", src,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static uint64_t node_stat(struct __test_metadata *_metadata, struct sknl *nl,
			  int attr)
{
	struct sknl_node n;

	memset(&n, 0, sizeof(n));
	EXPECT_EQ(0, sknl_node_get(nl, &n, NULL));
	return n.val[attr];
}

/*
 * The op (a frame of migration id) as another peer sends it: NO_MIGRATION
 * with no body, exactly as for an id nobody uses.
 */
static int foreign_op(int fd, const uint8_t *frame, size_t n)
{
	struct st_reply r;
	int st = xfer(fd, frame, n, &r);

	if (st == SKV_S_NO_MIGRATION && r.len)
		st = -1;
	st_reply_free(&r);
	return st;
}

TEST_F(mig, another_peer_is_refused_for_each_op)
{
	static const uint64_t guesses[] = { MIG, MIG + 1, 1, 2, UINT64_MAX };
	uint8_t frame[2048], recs[256], val[8] = "forged";
	struct key_exp k;
	uint64_t safe, safe2, v, h, bad0, bad1;
	uint32_t rlen;
	unsigned int i;
	size_t n;
	char *got;
	int ofd;

	key_in(&k, "peer", 0, HALF, UINT64_MAX);
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, k.key, "mine", 0, &v));
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &safe));
	ofd = connect_from(OTHER_ADDR);
	ASSERT_LE(0, ofd) TH_LOG("%s", st_last_error);
	/* A peer with the cluster key: only the binding can refuse it. */
	ASSERT_ST(SKV_S_OK, st_auth(ofd, st_cluster_key()));
	bad0 = node_stat(_metadata, &self->nl, STEADYKV_A_NODE_BAD_REQUESTS);

	h = khash(&k);
	rlen = build_rec(recs, 0, ST_TABLE, k.key, val, 6, safe + 1);
	for (i = 0; i < sizeof(guesses) / sizeof(guesses[0]); i++) {
		uint64_t id = guesses[i];

		st_ctx = "another peer";
		n = build_pull(frame, id, ST_TABLE, HALF, UINT64_MAX, HALF, 0,
			       4096);
		ASSERT_ST(SKV_S_NO_MIGRATION, foreign_op(ofd, frame, n));
		n = build_prio(frame, id, ST_TABLE, &h, 1, 1);
		ASSERT_ST(SKV_S_NO_MIGRATION, foreign_op(ofd, frame, n));
		n = build_push(frame, id, HALF, UINT64_MAX, recs, rlen, 1);
		ASSERT_ST(SKV_S_NO_MIGRATION, foreign_op(ofd, frame, n));
		n = build_range(frame, SKV_OP_MIG_END, id, ST_TABLE, HALF,
				UINT64_MAX, SKV_MIG_F_ABORT, 0);
		ASSERT_ST(SKV_S_NO_MIGRATION, foreign_op(ofd, frame, n));
		n = build_range(frame, SKV_OP_MIG_END, id, ST_TABLE, HALF,
				UINT64_MAX, 0, 0);
		ASSERT_ST(SKV_S_NO_MIGRATION, foreign_op(ofd, frame, n));
		/* The owner guessing ids gets the same answer. */
		st_ctx = "the owner, a wrong id";
		if (id != MIG) {
			n = build_pull(frame, id, ST_TABLE, HALF, UINT64_MAX,
				       HALF, 0, 4096);
			ASSERT_ST(SKV_S_NO_MIGRATION,
				  foreign_op(self->mfd, frame, n));
		}
	}
	st_ctx = "";
	/* Each try at the live migration's id was counted as bad. */
	bad1 = node_stat(_metadata, &self->nl, STEADYKV_A_NODE_BAD_REQUESTS);
	ASSERT_EQ(bad0 + 5, bad1);
	/* Its PREPARE of the same range is busy, and takes nothing over. */
	ASSERT_ST(SKV_S_BUSY, prepare(ofd, MIG, ST_TABLE, HALF, UINT64_MAX, 0,
				      &v));
	TH_LOG("another peer's PREPARE: BUSY \"%s\"", busy_reason);

	/* Nothing happened: frozen still, the owner's migration intact. */
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, ST_TABLE, k.key, &got, &v));
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &safe2));
	ASSERT_EQ(safe, safe2);
	n = build_pull(frame, MIG, ST_TABLE, HALF, UINT64_MAX, HALF, 0, 4096);
	ASSERT_ST(SKV_S_OK, xfer_st(self->mfd, frame, n));
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    SKV_MIG_F_ABORT));
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, k.key, &got, &v));
	EXPECT_STREQ("mine", got);
	free(got);
	ASSERT_EQ(safe, node_stat(_metadata, &self->nl,
				  STEADYKV_A_NODE_VERSION));
	close(ofd);
}

TEST_F(mig, migrations_are_capped)
{
	struct skv_migration m = {
		.table_id = 2, .start_hash = 0, .end_hash = 99,
	};
	struct sknl_err res;
	uint64_t v, id, step = HALF / SKV_MIG_MAX_ACTIVE;
	int i;

	/* Every one a range of its own, prepared by one target. */
	for (i = 0; i < SKV_MIG_MAX_ACTIVE; i++) {
		id = MIG ^ (uint64_t)i << 32;
		ASSERT_EQ(SKV_S_OK, prepare(self->mfd, id, ST_TABLE, i * step,
					    i * step + 9, 0, &v))
			TH_LOG("migration %d refused", i);
	}
	/* One more, from the same or another peer: BUSY, saying why. */
	ASSERT_ST(SKV_S_BUSY, prepare(self->mfd, MIG + 1, ST_TABLE, HALF + 10,
				      HALF + 19, 0, &v));
	TH_LOG("PREPARE over the cap: BUSY \"%s\"", busy_reason);
	ASSERT_NE(NULL, strstr(busy_reason, "most migrations"));
	/* As a target too: migrate-start is refused, with a message. */
	m.id = MIG + 2;
	SKV_MIG_SET(&m, STEADYKV_A_MIGRATION_ID);
	SKV_MIG_SET(&m, STEADYKV_A_MIGRATION_TABLE_ID);
	SKV_MIG_SET(&m, STEADYKV_A_MIGRATION_START_HASH);
	SKV_MIG_SET(&m, STEADYKV_A_MIGRATION_END_HASH);
	SKV_MIG_SET(&m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
	SKV_MIG_SET(&m, STEADYKV_A_MIGRATION_SOURCE_PORT);
	snprintf(m.source, sizeof(m.source), "127.0.0.9:%u", ST_PORT);
	ASSERT_NL_ERR_MSG(-EBUSY, sknl_migrate_start(&self->nl, &m, &res), &res);
	/* One ends: room for one more, and only one. */
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, 0, 9,
				    SKV_MIG_F_ABORT));
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG + 1, ST_TABLE, HALF + 10,
				    HALF + 19, 0, &v));
	ASSERT_ST(SKV_S_BUSY, prepare(self->mfd, MIG + 3, ST_TABLE, HALF + 30,
				      HALF + 39, 0, &v));
	/* A PREPARE again of one it holds is no new migration: fine. */
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG + 1, ST_TABLE, HALF + 10,
				    HALF + 19, 0, &v));
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
}

/* A new peer connection to the node, authenticated. */
static int peer_connect(void)
{
	int fd = st_connect(ST_ADDR, ST_PORT);

	if (fd >= 0 && st_auth(fd, st_cluster_key()) != SKV_S_OK) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The fault knob drops the reply to a PREPARE and to an END: each op ran,
 * the connection closed, and the same op again on a new connection gets
 * the same answer (what a target does after a lost reply).  MIG_STATUS
 * tells each phase.  Stamped requests: one older than the node's epoch
 * is STALE_EPOCH, a newer one and one with no epoch are served.
 */
TEST_F(mig, lost_replies_and_repeated_steps)
{
	struct sknl_mig_fault f = { .op = SKV_OP_MIG_PREPARE,
				    .mode = STEADYKV_MIG_FAULT_MODE_DROP_REPLY,
				    .count = 1 };
	struct sknl_err res;
	struct key_exp k;
	struct st_reply r;
	uint64_t safe, v;
	uint8_t buf[128];
	uint32_t where;
	char *val;
	size_t n;

	key_in(&k, "lost", 0, HALF, UINT64_MAX);
	ASSERT_ST(SKV_S_OK, put_key(self->fd, &k, 30));
	ASSERT_ST(SKV_S_OK, mig_status(self->mfd, MIG, &where, &v));
	EXPECT_EQ(SKV_MIG_UNKNOWN, where);
	ASSERT_NL_OK(sknl_node_set_mig_fault(&self->nl, &f, &res), &res);
	ASSERT_GT(0, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX, 0, &safe));
	close(self->mfd);
	/* It ran: the range is frozen. */
	ASSERT_ST(SKV_S_NOT_OWNER, st_gets(self->fd, ST_TABLE, k.key, &val, &v));
	self->mfd = peer_connect();
	ASSERT_LE(0, self->mfd);
	ASSERT_ST(SKV_S_OK, mig_status(self->mfd, MIG, &where, &v));
	EXPECT_EQ(SKV_MIG_FROZEN, where);
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &safe));
	EXPECT_EQ(v, safe);

	f.op = SKV_OP_MIG_END;
	ASSERT_NL_OK(sknl_node_set_mig_fault(&self->nl, &f, &res), &res);
	ASSERT_GT(0, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
			     SKV_MIG_F_ABORT));
	close(self->mfd);
	/* It ran: the range is served again. */
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, k.key, &val, &v));
	free(val);
	self->mfd = peer_connect();
	ASSERT_LE(0, self->mfd);
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    SKV_MIG_F_ABORT));
	ASSERT_ST(SKV_S_OK, mig_status(self->mfd, MIG, &where, &v));
	EXPECT_EQ(SKV_MIG_ENDED_ABORT, where);
	/* A late PREPARE of it cannot freeze the range again. */
	ASSERT_ST(SKV_S_STALE_EPOCH, prepare(self->mfd, MIG, ST_TABLE, HALF,
					     UINT64_MAX, 0, &v));
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, k.key, &val, &v));
	free(val);

	/* A refusal: the op does not run. */
	f.op = SKV_OP_MIG_PREPARE;
	f.mode = STEADYKV_MIG_FAULT_MODE_REFUSE;
	f.status = SKV_S_NO_SPACE;
	ASSERT_NL_OK(sknl_node_set_mig_fault(&self->nl, &f, &res), &res);
	ASSERT_ST(SKV_S_NO_SPACE, prepare(self->mfd, MIG + 1, ST_TABLE, HALF,
					  UINT64_MAX, 0, &v));
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, k.key, &val, &v));
	free(val);
	f.status = SKV_S_MAX;
	ASSERT_NE(0, sknl_node_set_mig_fault(&self->nl, &f, &res));

	/* Epochs: a map older than the node's is refused. */
	ASSERT_NL_OK(sknl_node_learn_epoch(&self->nl, 9, &res), &res);
	ASSERT_NL_OK(sknl_node_learn_epoch(&self->nl, 3, &res), &res);
	n = st_build_key(buf, SKV_OP_GET, 5, ST_TABLE, k.key, strlen(k.key), 0);
	put32(buf + 20, 8);
	ASSERT_EQ(0, st_send_all(self->fd, buf, n));
	ASSERT_EQ(0, st_recv_reply(self->fd, &r));
	EXPECT_EQ(SKV_S_STALE_EPOCH, r.h.status);
	st_reply_free(&r);
	put32(buf + 20, 9);
	ASSERT_EQ(0, st_send_all(self->fd, buf, n));
	ASSERT_EQ(0, st_recv_reply(self->fd, &r));
	EXPECT_EQ(SKV_S_OK, r.h.status);
	st_reply_free(&r);
}

/* Put, delete and conditionally write key k: each must work. */
static int writes_work(struct __test_metadata *_metadata, int fd,
		       struct key_exp *k, uint64_t floor)
{
	uint64_t v1, v2, v3, v;
	char *got;

	ASSERT_ST(SKV_S_OK, st_puts(fd, ST_TABLE, k->key, "one", 0, &v1));
	ASSERT_LT(floor, v1);
	ASSERT_ST(SKV_S_OK, st_puts(fd, ST_TABLE, k->key, "two", v1, &v2));
	ASSERT_LT(v1, v2);
	ASSERT_ST(SKV_S_VERSION_MISMATCH, st_puts(fd, ST_TABLE, k->key, "x", v1,
						  &v));
	ASSERT_EQ(v2, v);
	ASSERT_ST(SKV_S_OK, st_gets(fd, ST_TABLE, k->key, &got, &v));
	EXPECT_STREQ("two", got);
	free(got);
	ASSERT_EQ(v2, v);
	ASSERT_ST(SKV_S_VERSION_MISMATCH, st_dels(fd, ST_TABLE, k->key, v1, &v));
	ASSERT_ST(SKV_S_OK, st_dels(fd, ST_TABLE, k->key, v2, &v3));
	ASSERT_LT(v2, v3);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(fd, ST_TABLE, k->key, &got, &v));
	ASSERT_EQ(v3, v);
	ASSERT_ST(SKV_S_NOT_FOUND, st_dels(fd, ST_TABLE, k->key, 0, &v));
	return 0;
}

/*
 * The attack of issue 11: PREPARE, a PUSH_BACK at 2^64-2, END with
 * ABORT.  Refused; the counter does not move and every kind of write
 * still works afterwards.
 */
TEST_F(mig, forged_version_by_push_back_is_refused)
{
	uint8_t recs[512], frame[2048], val[8] = "forged";
	struct key_exp k, o;
	uint64_t safe, v, ver0;
	uint32_t rlen;
	size_t n;
	char *got;

	key_in(&k, "forge", 0, HALF, UINT64_MAX);
	key_in(&o, "forge", 1, HALF, UINT64_MAX);
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, k.key, "real", 0, &v));
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &safe));
	ver0 = node_stat(_metadata, &self->nl, STEADYKV_A_NODE_VERSION);
	ASSERT_EQ(safe, ver0);

	/* 2^64-2, whatever counter the target claims. */
	rlen = build_rec(recs, 0, ST_TABLE, k.key, val, 6, UINT64_MAX - 1);
	n = build_push_max(frame, MIG, HALF, UINT64_MAX, recs, rlen, 1,
			   UINT64_MAX);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, frame, n));
	n = build_push_max(frame, MIG, HALF, UINT64_MAX, recs, rlen, 1,
			   UINT64_MAX - 1);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, frame, n));
	/* Just past the ceiling, and in a batch with a good record. */
	rlen = build_rec(recs, 0, ST_TABLE, o.key, val, 6, safe + 1);
	rlen += build_rec(recs + rlen, 0, ST_TABLE, k.key, val, 6,
			  SKV_VERSION_MAX + 1);
	n = build_push_max(frame, MIG, HALF, UINT64_MAX, recs, rlen, 2,
			   UINT64_MAX);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, frame, n));
	/* Above the counter the target sent. */
	rlen = build_rec(recs, 0, ST_TABLE, k.key, val, 6, safe + 10);
	n = build_push_max(frame, MIG, HALF, UINT64_MAX, recs, rlen, 1,
			   safe + 9);
	ASSERT_ST(SKV_S_BAD_REQUEST, xfer_st(self->mfd, frame, n));
	ASSERT_EQ(ver0, node_stat(_metadata, &self->nl,
				  STEADYKV_A_NODE_VERSION));
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    SKV_MIG_F_ABORT));

	/* Nothing was applied; the counter is where it was. */
	ASSERT_EQ(ver0, node_stat(_metadata, &self->nl,
				  STEADYKV_A_NODE_VERSION));
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, k.key, &got, &v));
	EXPECT_STREQ("real", got);
	free(got);
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, o.key, &got, &v));
	ASSERT_EQ(0, writes_work(_metadata, self->fd, &k, ver0));
	ASSERT_EQ(0, writes_work(_metadata, self->fd, &o, ver0));
	ASSERT_GT(1ull << 32, node_stat(_metadata, &self->nl,
					STEADYKV_A_NODE_VERSION));
}

/*
 * A push-back inside every bound may bring the counter near the ceiling:
 * the last versions are handed out, then writes get VERSION_LIMIT, and
 * the counter never wraps.
 */
TEST_F(mig, counter_at_the_ceiling_refuses_writes)
{
	uint8_t recs[512], frame[2048], val[8] = "late";
	struct key_exp k, o;
	uint64_t safe, v;
	uint32_t rlen;
	size_t n;
	char *got;
	int fd;

	key_in(&k, "ceil", 0, HALF, UINT64_MAX);
	key_in(&o, "ceil", 1, 0, HALF - 1);
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, o.key, "low", 0, &v));
	ASSERT_ST(SKV_S_OK, prepare(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    0, &safe));
	rlen = build_rec(recs, 0, ST_TABLE, k.key, val, 4, SKV_VERSION_MAX - 1);
	n = build_push_max(frame, MIG, HALF, UINT64_MAX, recs, rlen, 1,
			   SKV_VERSION_MAX - 1);
	ASSERT_ST(SKV_S_OK, xfer_st(self->mfd, frame, n));
	ASSERT_ST(SKV_S_OK, end_mig(self->mfd, MIG, ST_TABLE, HALF, UINT64_MAX,
				    SKV_MIG_F_ABORT));
	ASSERT_EQ(SKV_VERSION_MAX - 1,
		  node_stat(_metadata, &self->nl, STEADYKV_A_NODE_VERSION));
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, o.key, "last", 0, &v));
	ASSERT_EQ(SKV_VERSION_MAX, v);
	ASSERT_ST(SKV_S_VERSION_LIMIT, st_puts(self->fd, ST_TABLE, o.key, "x", 0,
					       &v));
	ASSERT_ST(SKV_S_VERSION_LIMIT, st_puts(self->fd, ST_TABLE, k.key, "x",
					       SKV_VERSION_MAX - 1, &v));
	ASSERT_ST(SKV_S_VERSION_LIMIT, st_dels(self->fd, ST_TABLE, k.key, 0, &v));
	ASSERT_EQ(SKV_VERSION_MAX,
		  node_stat(_metadata, &self->nl, STEADYKV_A_NODE_VERSION));
	/* Reads go on, with the versions written. */
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, o.key, &got, &v));
	EXPECT_STREQ("last", got);
	free(got);
	ASSERT_EQ(SKV_VERSION_MAX, v);
	ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, k.key, &got, &v));
	EXPECT_STREQ("late", got);
	free(got);
	ASSERT_EQ(SKV_VERSION_MAX - 1, v);
	/* A new client is served too (it may read, not write). */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	ASSERT_ST(SKV_S_OK, st_gets(fd, ST_TABLE, o.key, &got, &v));
	free(got);
	ASSERT_ST(SKV_S_VERSION_LIMIT, st_puts(fd, ST_TABLE, o.key, "y", 0, &v));
	close(fd);
}

TEST_HARNESS_MAIN
