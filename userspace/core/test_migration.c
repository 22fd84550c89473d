// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of the store core's migration pieces: tablet split, the
 * MIGRATING_IN resolver, filtered pulls (skv_scan_serialize_since),
 * priority pulls (skv_collect_hashes), and an end-to-end simulation of a
 * Rocksteady migration between two stores in one process: writers on the
 * source until "prepare", then on the target while puller threads replay
 * partitions into side logs and clients' RETRYs trigger priority pulls.
 */
#include <sched.h>
#include <unistd.h>
#include "test_util.h"
#include "kselftest_harness.h"

#define SEG64K		(64u << 10)
#define HALF		(1ull << 63)

static u64 rnd(u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static u64 hash_i(u64 i)
{
	char k[32];

	return skv_key_hash(k, key_of(i, k));
}

/* Walk a batch: calls cb for every record; returns the count or -1. */
static int batch_walk(const u8 *buf, long n,
		      void (*cb)(void *, const struct skv_rec_view *),
		      void *arg)
{
	const u8 *recs;
	u32 rlen, count, off;
	struct skv_rec_view v;

	if (skv_batch_verify(buf, n, SKV_PARSE_CHECK_HASH, &recs, &rlen,
			     &count))
		return -1;
	for (off = 0; off < rlen; off += v.len) {
		skv_rec_view_trusted(recs + off, &v);
		if (cb)
			cb(arg, &v);
	}
	return count;
}

TEST(tablet_split)
{
	struct skv_store *s = store_new(SEG64K, 16ull << 20, 10);
	struct skv_tablet_info l[4], info;
	char buf[64];
	u64 i, ver;
	u32 len;

	ASSERT_NE(NULL, s);
	skv_thread_online();
	for (i = 0; i < 200; i++)
		ASSERT_EQ(SKV_S_OK, put_i(s, T1, i, 1, 20, 0, &ver));
	ASSERT_EQ(-ENOENT, skv_tablet_split(s, 9, 5));
	ASSERT_EQ(-EINVAL, skv_tablet_split(s, T1, 0));
	ASSERT_EQ(0, skv_tablet_split(s, T1, HALF));
	ASSERT_EQ(-EINVAL, skv_tablet_split(s, T1, HALF));
	ASSERT_EQ(0, skv_tablet_split(s, T1, HALF + 100));
	ASSERT_EQ(3, skv_tablets_list(s, 0, l, 4));
	ASSERT_EQ(0u, l[0].start_hash);
	ASSERT_EQ(HALF - 1, l[0].end_hash);
	ASSERT_EQ(HALF, l[1].start_hash);
	ASSERT_EQ(HALF + 99, l[1].end_hash);
	ASSERT_EQ(HALF + 100, l[2].start_hash);
	ASSERT_EQ(U64_MAX, l[2].end_hash);
	/* Data stays; each part changes state on its own. */
	ASSERT_EQ(200u, stats_of(s).objects);
	ASSERT_EQ(0, skv_tablet_set_state(s, T1, HALF + 100, U64_MAX,
					  SKV_TABLET_MIGRATING_OUT));
	for (i = 0; i < 200; i++) {
		int r = get_i(s, T1, i, buf, 64, &len, &ver);

		ASSERT_EQ(hash_i(i) >= HALF + 100 ? SKV_S_NOT_OWNER : SKV_S_OK,
			  r);
	}
	ASSERT_EQ(0, skv_tablet_lookup(s, T1, U64_MAX, &info));
	ASSERT_EQ(SKV_TABLET_MIGRATING_OUT, info.state);
	ASSERT_EQ(0, skv_tablet_lookup(s, T1, HALF, &info));
	ASSERT_EQ(SKV_TABLET_NORMAL, info.state);
	/* A hole: no tablet holds the hash. */
	ASSERT_EQ(0, skv_tablet_del(s, T1, HALF, HALF + 99));
	ASSERT_EQ(-ERANGE, skv_tablet_split(s, T1, HALF + 5));
	skv_store_destroy(s);
	skv_thread_offline();
}

struct since_ctx {
	u64 min_version;
	u32 bad;
	u32 n;
};

static void since_cb(void *arg, const struct skv_rec_view *v)
{
	struct since_ctx *c = arg;

	c->n++;
	if (v->version <= c->min_version)
		c->bad++;
}

TEST(serialize_since_filters_by_version)
{
	struct skv_store *s = store_new(SEG64K, 16ull << 20, 10);
	struct since_ctx c = { 0 };
	u32 cap = 4096, total_all = 0, calls = 0;
	u8 *buf = malloc(cap);
	u64 i, ver, mid, cur;
	bool done;
	long n;

	ASSERT_NE(NULL, s);
	skv_thread_online();
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(SKV_S_OK, put_i(s, T1, i, 1, 30, 0, &ver));
	mid = skv_store_version(s);
	for (i = 0; i < 1000; i += 10)
		ASSERT_EQ(SKV_S_OK, put_i(s, T1, i, 2, 30, 0, &ver));
	for (i = 5; i < 1000; i += 10)
		ASSERT_EQ(SKV_S_OK, del_i(s, T1, i, 0, &ver));
	/* min_version 0 is the plain serializer. */
	for (cur = 0, done = false; !done; calls++) {
		n = skv_scan_serialize_since(s, T1, 0, U64_MAX, cur, 0, buf,
					     cap, &cur, &done);
		ASSERT_GT(n, 0);
		total_all += batch_walk(buf, n, NULL, NULL);
	}
	ASSERT_EQ(1000u, total_all);
	ASSERT_GT(calls, 5u);
	/* Only the 200 newer records, with the same number of calls. */
	c.min_version = mid;
	for (cur = 0, done = false; !done; calls--) {
		n = skv_scan_serialize_since(s, T1, 0, U64_MAX, cur, mid, buf,
					     cap, &cur, &done);
		ASSERT_GT(n, 0);
		ASSERT_LE(0, batch_walk(buf, n, since_cb, &c));
	}
	ASSERT_EQ(0u, calls);
	ASSERT_EQ(200u, c.n);
	ASSERT_EQ(0u, c.bad);
	/* Nothing newer than the last version: empty batches, done. */
	n = skv_scan_serialize_since(s, T1, 0, U64_MAX, 0,
				     skv_store_version(s), buf, cap, &cur,
				     &done);
	ASSERT_EQ((long)sizeof(struct skv_batch_hdr), n);
	/* Too small for even a header. */
	ASSERT_EQ(-EMSGSIZE, skv_scan_serialize_since(s, T1, 0, U64_MAX, 0, 0,
						      buf, 8, &cur, &done));
	free(buf);
	skv_store_destroy(s);
	skv_thread_offline();
}

TEST(collect_hashes)
{
	struct skv_store *s = store_new(SEG64K, 16ull << 20, 10);
	struct skv_store *d = store_new(SEG64K, 16ull << 20, 10);
	struct skv_replay_stats rs;
	struct skv_sidelog *sl;
	u64 h[6], ver;
	u32 res, len, cap = 8192;
	u8 *buf = malloc(cap);
	char v[64];
	long n;

	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, d);
	skv_thread_online();
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 1, 1, 40, 0, &ver));
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 2, 1, 40, 0, &ver));
	ASSERT_EQ(SKV_S_OK, del_i(s, T1, 2, 0, &ver));
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 3, 1, 3000, 0, &ver));
	h[0] = hash_i(1);
	h[1] = hash_i(2);
	h[2] = hash_i(99);	/* absent: resolved, nothing sent */
	h[3] = hash_i(1);	/* twice: sent once */
	h[4] = hash_i(3);
	h[5] = hash_i(3);
	n = skv_collect_hashes(s, T1, h, 6, buf, cap, &res);
	ASSERT_EQ(6u, res);
	ASSERT_EQ(3, batch_walk(buf, n, NULL, NULL));
	/* A small buffer stops before the first hash that does not fit. */
	n = skv_collect_hashes(s, T1, h + 2, 3, buf, 200, &res);
	ASSERT_EQ(2u, res);
	ASSERT_EQ(1, batch_walk(buf, n, NULL, NULL));
	n = skv_collect_hashes(s, T1, h + 4, 1, buf, 200, &res);
	ASSERT_EQ(0u, res);
	ASSERT_EQ((long)sizeof(struct skv_batch_hdr), n);
	ASSERT_EQ(-EMSGSIZE, skv_collect_hashes(s, T1, h, 1, buf, 4, &res));
	/* Another table holds nothing of these. */
	n = skv_collect_hashes(s, 2, h, 3, buf, cap, &res);
	ASSERT_EQ(3u, res);
	ASSERT_EQ(0, batch_walk(buf, n, NULL, NULL));
	/* Replayed at a target the keys are there, the tombstone too. */
	n = skv_collect_hashes(s, T1, h, 6, buf, cap, &res);
	ASSERT_EQ(0, skv_sidelog_create(d, &sl));
	ASSERT_EQ(0, skv_replay_batch(d, sl, buf, n, NULL, &rs));
	ASSERT_EQ(3u, rs.applied);
	skv_sidelog_destroy(d, sl);
	ASSERT_EQ(SKV_S_OK, get_i(d, T1, 1, v, 64, &len, &ver));
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(d, T1, 2, v, 64, &len, &ver));
	ASSERT_NE(0u, ver);
	free(buf);
	skv_store_destroy(s);
	skv_store_destroy(d);
	skv_thread_offline();
}

/* ---------------------------------------------------------------------- */
/* End-to-end simulation of one migration between two stores.             */

#define NPART		8
#define PRIO_SLOTS	(1u << 16)	/* more than the keys of the range */
#define NWRITERS	3
#define NPULLERS	2

struct key_model {
	u64 gen;	/* 0: absent or deleted */
	u64 ver;	/* last acknowledged version (object or tombstone) */
	u32 vlen;
	bool on_b;	/* the key's range moved: use the target */
};

struct sim {
	struct skv_store *a, *b;
	u64 nkeys;
	u64 rstart, rend;	/* the migrating range */
	struct key_model *m;
	/* Pull partitions: [pstart[p], pend[p]], resolved below cursor[p]. */
	u64 pstart[NPART], pend[NPART];
	u64 cursor[NPART];	/* atomics */
	int pdone[NPART];	/* atomics */
	int next_part;		/* atomic: the next partition to pull */
	u64 prio[PRIO_SLOTS];	/* priority-pulled hashes + 1, 0 = empty */
	int prepared;		/* atomic: A froze the range */
	int b_ready;		/* atomic: B took the range */
	int stop;		/* atomic */
	/* results */
	u64 errors, retries, prio_pulls, b_ops, a_ops, pulled;
	int puller_err;
};

static bool sim_prio_has(struct sim *s, u64 h)
{
	u32 i = (u32)(h >> 48) & (PRIO_SLOTS - 1);
	u64 v;

	for (;; i = (i + 1) & (PRIO_SLOTS - 1)) {
		v = __atomic_load_n(&s->prio[i], __ATOMIC_ACQUIRE);
		if (!v)
			return false;
		if (v == h + 1)
			return true;
	}
}

/* Publish h as resolved (after its replay finished): release. */
static void sim_prio_add(struct sim *s, u64 h)
{
	u32 i = (u32)(h >> 48) & (PRIO_SLOTS - 1);
	u64 zero, v;

	for (;; i = (i + 1) & (PRIO_SLOTS - 1)) {
		v = __atomic_load_n(&s->prio[i], __ATOMIC_ACQUIRE);
		if (v == h + 1)
			return;
		if (v)
			continue;
		zero = 0;
		if (__atomic_compare_exchange_n(&s->prio[i], &zero, h + 1,
						false, __ATOMIC_RELEASE,
						__ATOMIC_ACQUIRE))
			return;
		if (zero == h + 1)
			return;
	}
}

/* The resolver: atomic-safe, lock-free, does not call into the store. */
static bool sim_resolved(void *arg, u64 table_id, u64 h)
{
	struct sim *s = arg;
	u32 p;

	if (table_id != T1 || h < s->rstart || h > s->rend)
		return true;
	for (p = 0; p < NPART && h > s->pend[p]; p++)
		;
	if (__atomic_load_n(&s->pdone[p], __ATOMIC_ACQUIRE) ||
	    h < __atomic_load_n(&s->cursor[p], __ATOMIC_ACQUIRE))
		return true;
	return sim_prio_has(s, h);
}

static void sim_err(struct sim *s, const char *what, u64 i, int r)
{
	if (__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED) < 10)
		fprintf(stderr, "# sim error: %s key %llu status %d\n", what,
			(unsigned long long)i, r);
}

static bool in_range(struct sim *s, u64 i)
{
	u64 h = hash_i(i);

	return h >= s->rstart && h <= s->rend;
}

/* A client's priority pull of key i's hash, replayed into B. */
static void sim_priority_pull(struct sim *s, struct skv_sidelog *sl, u64 i,
			      u8 *buf, u32 cap)
{
	struct skv_replay_stats rs;
	u64 h = hash_i(i);
	u32 res;
	long n;

	n = skv_collect_hashes(s->a, T1, &h, 1, buf, cap, &res);
	if (n < 0 || res != 1) {
		sim_err(s, "collect", i, (int)n);
		return;
	}
	if (skv_replay_batch(s->b, sl, buf, n, NULL, &rs)) {
		sim_err(s, "prio replay", i, 0);
		return;
	}
	sim_prio_add(s, h);
	__atomic_add_fetch(&s->prio_pulls, 1, __ATOMIC_RELAXED);
}

/*
 * One operation on key i (owned by this writer only, so the model is
 * exact): returns the store's status, checked against the model.
 */
static int sim_op(struct sim *s, struct skv_store *st, u64 i, u64 *x,
		  u64 *gen)
{
	struct key_model *k = &s->m[i];
	u32 op = rnd(x) % 10, len, vlen = 20 + rnd(x) % 200;
	char buf[4096];
	u64 ver = 0, expect;
	int r;

	if (op < 3) {		/* GET */
		r = get_i(st, T1, i, buf, sizeof(buf), &len, &ver);
		if (r == SKV_S_OK && (!k->gen || ver != k->ver ||
				      !val_is(buf, len, i, k->gen, k->vlen)))
			sim_err(s, "get value", i, r);
		if (r == SKV_S_NOT_FOUND && k->gen)
			sim_err(s, "get lost", i, r);
		return r;
	}
	if (op < 6) {		/* PUT, conditional half of the time */
		expect = op == 5 ? k->gen ? k->ver : 0 : 0;
		if (op == 4 && k->gen)
			expect = k->ver + 1000000;	/* a stale guess */
		(*gen)++;
		r = put_i(st, T1, i, *gen, vlen, expect, &ver);
		if (r == SKV_S_OK) {
			if (ver <= k->ver)
				sim_err(s, "put version", i, r);
			k->gen = *gen;
			k->ver = ver;
			k->vlen = vlen;
		} else if (r == SKV_S_VERSION_MISMATCH) {
			if (!(op == 4 && k->gen) || ver != k->ver)
				sim_err(s, "put mismatch", i, r);
		}
		return r;
	}
	/* DELETE, conditional half of the time */
	expect = op >= 8 && k->gen ? k->ver : 0;
	r = del_i(st, T1, i, expect, &ver);
	if (r == SKV_S_OK) {
		if (!k->gen || ver <= k->ver)
			sim_err(s, "delete", i, r);
		k->gen = 0;
		k->ver = ver;
	} else if (r == SKV_S_NOT_FOUND) {
		if (k->gen)
			sim_err(s, "delete not found", i, r);
	}
	return r;
}

struct sim_warg {
	struct sim *s;
	u32 id;
};

static bool sim_stopped(struct sim *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE);
}

static void *sim_writer(void *arg)
{
	struct sim_warg *w = arg;
	struct sim *s = w->s;
	u64 x = 0x9e3779b97f4a7c15ull * (w->id + 3), i, gen = 1000;
	u32 cap = sizeof(struct skv_batch_hdr) + 8192;
	u8 *buf = malloc(cap);
	struct skv_sidelog *sl = NULL;
	int r;

	skv_thread_online();
	while (!sim_stopped(s)) {
		struct skv_store *st;

		i = rnd(&x) % s->nkeys;
		i -= i % NWRITERS;
		i += w->id;
		if (i >= s->nkeys)
			continue;
		if (s->m[i].on_b && !__atomic_load_n(&s->b_ready,
						      __ATOMIC_ACQUIRE)) {
			sched_yield();
			continue;
		}
		st = s->m[i].on_b ? s->b : s->a;
		r = sim_op(s, st, i, &x, &gen);
		if (st == s->a)
			__atomic_add_fetch(&s->a_ops, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&s->b_ops, 1, __ATOMIC_RELAXED);
		switch (r) {
		case SKV_S_NOT_OWNER:
			/* A froze the range: its keys are the target's now. */
			if (st != s->a || !in_range(s, i) ||
			    !__atomic_load_n(&s->prepared, __ATOMIC_ACQUIRE))
				sim_err(s, "not owner", i, r);
			s->m[i].on_b = true;
			break;
		case SKV_S_RETRY:
			if (st != s->b)
				sim_err(s, "retry at source", i, r);
			__atomic_add_fetch(&s->retries, 1, __ATOMIC_RELAXED);
			if (!sl && skv_sidelog_create(s->b, &sl)) {
				sim_err(s, "sidelog", i, r);
				break;
			}
			sim_priority_pull(s, sl, i, buf, cap);
			/* Now resolved: the same op cannot RETRY again. */
			r = sim_op(s, st, i, &x, &gen);
			if (r == SKV_S_RETRY)
				sim_err(s, "retry after priority pull", i, r);
			break;
		case SKV_S_OK:
		case SKV_S_NOT_FOUND:
		case SKV_S_VERSION_MISMATCH:
			break;
		default:
			sim_err(s, "status", i, r);
		}
	}
	if (sl)
		skv_sidelog_destroy(s->b, sl);
	free(buf);
	skv_thread_offline();
	return NULL;
}

/* Pullers: take partitions in turn, pull and replay them into side logs. */
static void *sim_puller(void *arg)
{
	struct sim *s = arg;
	u32 cap = sizeof(struct skv_batch_hdr) + 6000;
	u8 *buf = malloc(cap);
	struct skv_replay_stats rs;
	struct skv_sidelog *sl;
	u64 x = 88172645463325252ull;
	int p, ret;

	skv_thread_online();
	ret = skv_sidelog_create(s->b, &sl);
	while (!ret) {
		u64 cur, next;
		bool done = false;
		long n;

		p = __atomic_fetch_add(&s->next_part, 1, __ATOMIC_RELAXED);
		if (p >= NPART)
			break;
		cur = s->pstart[p];
		while (!done) {
			n = skv_scan_serialize_since(s->a, T1, s->pstart[p],
						     s->pend[p], cur, 0, buf,
						     cap, &next, &done);
			if (n < 0) {
				ret = (int)n;
				break;
			}
			ret = skv_replay_batch(s->b, sl, buf, n, NULL, &rs);
			if (ret)
				break;
			__atomic_add_fetch(&s->pulled, rs.records,
					   __ATOMIC_RELAXED);
			/* Replayed: hashes below next are resolved. */
			__atomic_store_n(&s->cursor[p], next,
					 __ATOMIC_RELEASE);
			cur = next;
			/* Let the clients' priority pulls overtake us. */
			if (rnd(&x) % 4 == 0)
				usleep(1000);
		}
		if (!ret)
			__atomic_store_n(&s->pdone[p], 1, __ATOMIC_RELEASE);
	}
	if (sl)
		skv_sidelog_destroy(s->b, sl);
	if (ret)
		__atomic_store_n(&s->puller_err, ret, __ATOMIC_RELAXED);
	free(buf);
	skv_thread_offline();
	return NULL;
}

static void *sim_cleaner(void *arg)
{
	struct sim *s = arg;

	skv_thread_online();
	while (!sim_stopped(s)) {
		skv_cleaner_run(s->a, 8);
		if (__atomic_load_n(&s->b_ready, __ATOMIC_ACQUIRE))
			skv_cleaner_run(s->b, 8);
		usleep(2000);
	}
	skv_thread_offline();
	return NULL;
}

TEST(migration_simulation)
{
	struct sim *s = calloc(1, sizeof(*s));
	struct skv_tablet_info t;
	pthread_t wt[NWRITERS], pt[NPULLERS], ct;
	struct sim_warg wa[NWRITERS];
	u64 i, ver, safe, width;
	char buf[4096];
	u32 len, p;
	int k, r;

	ASSERT_NE(NULL, s);
	skv_thread_online();
	s->nkeys = test_small() ? 3000 : 20000;
	s->m = calloc(s->nkeys, sizeof(*s->m));
	s->a = store_new(SEG64K, 64ull << 20, 12);
	ASSERT_NE(NULL, s->a);
	/* The migrating range: a quarter of the hash space, in the middle. */
	s->rstart = 1ull << 62;
	s->rend = (1ull << 62) * 2 - 1;
	width = (s->rend - s->rstart) / NPART + 1;
	for (p = 0; p < NPART; p++) {
		s->pstart[p] = s->rstart + p * width;
		s->pend[p] = p == NPART - 1 ? s->rend :
			     s->pstart[p] + width - 1;
		s->cursor[p] = s->pstart[p];
	}
	for (i = 0; i < s->nkeys; i++) {
		ASSERT_EQ(SKV_S_OK, put_i(s->a, T1, i, 1, 100, 0, &ver));
		s->m[i] = (struct key_model){ 1, ver, 100, false };
	}
	for (i = 0; i < s->nkeys; i += 9) {
		ASSERT_EQ(SKV_S_OK, del_i(s->a, T1, i, 0, &ver));
		s->m[i].gen = 0;
		s->m[i].ver = ver;
	}
	/* Writers and the cleaners run on A for a while. */
	for (k = 0; k < NWRITERS; k++) {
		wa[k] = (struct sim_warg){ s, k };
		pthread_create(&wt[k], NULL, sim_writer, &wa[k]);
	}
	pthread_create(&ct, NULL, sim_cleaner, s);
	usleep(test_small() ? 100000 : 400000);

	/* Prepare: the range becomes a tablet of its own and freezes. */
	ASSERT_EQ(0, skv_tablet_split(s->a, T1, s->rstart));
	ASSERT_EQ(0, skv_tablet_split(s->a, T1, s->rend + 1));
	__atomic_store_n(&s->prepared, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, skv_tablet_set_state(s->a, T1, s->rstart, s->rend,
					  SKV_TABLET_MIGRATING_OUT));
	safe = skv_store_version(s->a);

	/* The target: versions above the source's, then ownership. */
	s->b = store_new(SEG64K, 64ull << 20, 13);
	ASSERT_NE(NULL, s->b);
	ASSERT_EQ(0, skv_tablet_del(s->b, T1, 0, U64_MAX));
	skv_store_raise_version(s->b, safe);
	skv_store_set_resolver(s->b, sim_resolved, s);
	t = (struct skv_tablet_info){ T1, s->rstart, s->rend,
				      SKV_TABLET_MIGRATING_IN };
	ASSERT_EQ(0, skv_tablet_add(s->b, &t));
	__atomic_store_n(&s->b_ready, 1, __ATOMIC_RELEASE);

	for (k = 0; k < NPULLERS; k++)
		pthread_create(&pt[k], NULL, sim_puller, s);
	for (k = 0; k < NPULLERS; k++) {
		pthread_join(pt[k], NULL);
		ASSERT_EQ(0, s->puller_err);
	}
	/* Every partition is in: the tablet is the target's alone. */
	ASSERT_EQ(0, skv_tablet_set_state(s->b, T1, s->rstart, s->rend,
					  SKV_TABLET_NORMAL));
	skv_store_set_resolver(s->b, NULL, NULL);
	usleep(test_small() ? 50000 : 200000);
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	for (k = 0; k < NWRITERS; k++)
		pthread_join(wt[k], NULL);
	pthread_join(ct, NULL);
	/* Commit: the source drops its copy. */
	ASSERT_EQ(0, skv_tablet_del(s->a, T1, s->rstart, s->rend));

	TH_LOG("a ops %llu b ops %llu retries %llu prio pulls %llu pulled %llu",
	       (unsigned long long)s->a_ops, (unsigned long long)s->b_ops,
	       (unsigned long long)s->retries,
	       (unsigned long long)s->prio_pulls,
	       (unsigned long long)s->pulled);
	ASSERT_EQ(0u, s->errors);
	for (k = 0; k < 2; k++) {
		for (i = 0; i < s->nkeys; i++) {
			bool in = in_range(s, i);
			struct skv_store *st = in ? s->b : s->a;
			struct key_model *m = &s->m[i];

			r = get_i(st, T1, i, buf, sizeof(buf), &len, &ver);
			if (m->gen) {
				ASSERT_EQ(SKV_S_OK, r);
				ASSERT_EQ(m->ver, ver);
				ASSERT_TRUE(val_is(buf, len, i, m->gen,
						   m->vlen));
			} else {
				ASSERT_EQ(SKV_S_NOT_FOUND, r);
			}
			r = get_i(in ? s->a : s->b, T1, i, buf, sizeof(buf),
				  &len, &ver);
			ASSERT_EQ(SKV_S_NOT_OWNER, r);
		}
		/* Again after the cleaners packed both logs. */
		clean_all(s->a);
		clean_all(s->b);
	}
	ASSERT_GT(s->b_ops, 0u);
	skv_store_destroy(s->a);
	skv_store_destroy(s->b);
	free(s->m);
	free(s);
	skv_thread_offline();
}

TEST_HARNESS_MAIN
