// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency tests of the store core: the cleaner with writers, deleters
 * and readers against a model; the cursor scan while keys churn and the
 * cleaner moves records; replay workers and side logs racing with client
 * writes.  Run them under ThreadSanitizer (make test-tsan) and ASan.
 */
#include <sched.h>
#include <time.h>
#include "test_util.h"
#include "kselftest_harness.h"
#include "store_int.h"

#define SEG64K		(64u << 10)

static double run_secs(void)
{
	return test_small() ? 0.4 : 2.0;
}

static u64 rnd(u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

struct model {
	u64 gen;	/* 0: missing or deleted */
	u64 ver;
	u32 vlen;
};

struct ctx {
	struct skv_store *s;
	u64 nkeys;
	u32 nwriters;
	struct model *m;
	int stop;
	/* results */
	u64 writes, reads, no_space, errors, errors2, cleaner_runs;
	u64 max_mem;
	u64 dup, bad_scan, scans;
	u64 base;		/* first key id of stable keys in scans */
	u32 id;
};

static bool stopped(struct ctx *c)
{
	return __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE);
}

struct warg {
	struct ctx *c;
	u32 id;
};

static void *writer(void *arg)
{
	struct warg *w = arg;
	struct ctx *c = w->c;
	u64 x = 0x9e3779b97f4a7c15ull * (w->id + 1), i, ver, gen = 1;
	int r;

	skv_thread_online();
	while (!stopped(c)) {
		i = rnd(&x) % c->nkeys;
		i -= i % c->nwriters;
		i += w->id;
		if (i >= c->nkeys)
			continue;
		if (rnd(&x) % 5 == 0) {
			r = del_i(c->s, T1, i, 0, &ver);
			if (r == SKV_S_OK) {
				c->m[i].gen = 0;
				c->m[i].ver = ver;
			} else if (r == SKV_S_NOT_FOUND) {
				if (c->m[i].gen)
					__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
			} else if (r == SKV_S_NO_SPACE) {
				__atomic_add_fetch(&c->no_space, 1, __ATOMIC_RELAXED);
				sched_yield();
			} else {
				__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
			}
		} else {
			u32 vlen = 50 + rnd(&x) % 400;

			gen++;
			r = put_i(c->s, T1, i, gen, vlen, 0, &ver);
			if (r == SKV_S_OK) {
				if (ver <= c->m[i].ver)
					__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
				c->m[i].gen = gen;
				c->m[i].ver = ver;
				c->m[i].vlen = vlen;
			} else if (r == SKV_S_NO_SPACE) {
				__atomic_add_fetch(&c->no_space, 1, __ATOMIC_RELAXED);
				sched_yield();
			} else {
				__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
			}
		}
		__atomic_add_fetch(&c->writes, 1, __ATOMIC_RELAXED);
	}
	skv_thread_offline();
	return NULL;
}

/* Readers check every value they see names its key, and versions of a key never go back. */
static void *reader(void *arg)
{
	struct warg *w = arg;
	struct ctx *c = w->c;
	u64 *seen = calloc(c->nkeys, sizeof(u64));
	u64 x = 0x1234567ull * (w->id + 7), i, ver, vi, vg;
	char buf[4096];
	u32 len;
	int r;

	skv_thread_online();
	while (!stopped(c)) {
		i = rnd(&x) % c->nkeys;
		r = get_i(c->s, T1, i, buf, sizeof(buf), &len, &ver);
		if (r == SKV_S_OK) {
			if (!val_parse(buf, len, &vi, &vg) || vi != i)
				__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
		} else if (r != SKV_S_NOT_FOUND) {
			__atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
		}
		/* A dropped tombstone reads as version 0: not a step back. */
		if (ver && ver < seen[i])
			__atomic_add_fetch(&c->errors2, 1, __ATOMIC_RELAXED);
		if (ver)
			seen[i] = ver;
		__atomic_add_fetch(&c->reads, 1, __ATOMIC_RELAXED);
	}
	skv_thread_offline();
	free(seen);
	return NULL;
}

static void *cleaner(void *arg)
{
	struct ctx *c = arg;
	struct skv_store_stats st;

	skv_thread_online();
	while (!stopped(c)) {
		if (skv_cleaner_run(c->s, 8) <= 0)
			sched_yield();
		c->cleaner_runs++;
		skv_store_get_stats(c->s, &st);
		if (st.mem_used > c->max_mem)
			c->max_mem = st.mem_used;
	}
	skv_thread_offline();
	return NULL;
}

static void run_threads(struct ctx *c, int nw, void *(*wf)(void *), int nr,
			void *(*rf)(void *), bool clean, double secs)
{
	pthread_t t[16], ct;
	struct warg a[16];
	int i, n = 0;

	__atomic_store_n(&c->stop, 0, __ATOMIC_RELEASE);
	for (i = 0; i < nw; i++, n++) {
		a[n].c = c;
		a[n].id = i;
		pthread_create(&t[n], NULL, wf, &a[n]);
	}
	for (i = 0; i < nr; i++, n++) {
		a[n].c = c;
		a[n].id = i;
		pthread_create(&t[n], NULL, rf, &a[n]);
	}
	if (clean)
		pthread_create(&ct, NULL, cleaner, c);
	usleep((useconds_t)(secs * 1e6));
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	if (clean)
		pthread_join(ct, NULL);
}

static int check_model(struct ctx *c)
{
	char buf[4096];
	u64 i, ver;
	u32 len;
	int r, bad = 0;

	for (i = 0; i < c->nkeys; i++) {
		r = get_i(c->s, T1, i, buf, sizeof(buf), &len, &ver);
		if (c->m[i].gen) {
			if (r != SKV_S_OK || ver != c->m[i].ver ||
			    !val_is(buf, len, i, c->m[i].gen, c->m[i].vlen))
				bad++;
		} else {
			if (r != SKV_S_NOT_FOUND || ver > c->m[i].ver)
				bad++;
		}
	}
	return bad;
}

TEST(cleaner_with_writers_deleters_readers)
{
	struct ctx c = { 0 };
	struct skv_store_stats a, b;
	u64 limit = 6ull << 20;

	skv_thread_online();
	c.nkeys = 4000;
	c.nwriters = 3;
	c.m = calloc(c.nkeys, sizeof(*c.m));
	c.s = store_new(SEG64K, limit, 12);
	ASSERT_NE(NULL, c.s);
	run_threads(&c, 3, writer, 2, reader, true, run_secs());
	a = stats_of(c.s);
	TH_LOG("writes %llu reads %llu no_space %llu cleaner passes %llu freed %llu relocated %llu dropped %llu max_mem %llu",
	       (unsigned long long)c.writes, (unsigned long long)c.reads,
	       (unsigned long long)c.no_space,
	       (unsigned long long)a.cleaner_passes,
	       (unsigned long long)a.cleaner_segments_freed,
	       (unsigned long long)a.cleaner_bytes_relocated,
	       (unsigned long long)a.tombstones_dropped,
	       (unsigned long long)c.max_mem);
	ASSERT_EQ(0u, c.errors);
	ASSERT_EQ(0u, c.errors2);
	ASSERT_LE(c.max_mem, limit);
	ASSERT_GT(a.cleaner_segments_freed, 10u);
	ASSERT_EQ(0, check_model(&c));
	/* Overwrite all, then clean: memory shrinks to about the live set. */
	for (u64 i = 0; i < c.nkeys; i += 2) {
		u64 ver;

		if (put_i(c.s, T1, i, 1, 100, 0, &ver) == SKV_S_OK) {
			c.m[i].gen = 1;
			c.m[i].ver = ver;
			c.m[i].vlen = 100;
		}
	}
	a = stats_of(c.s);
	clean_all(c.s);
	b = stats_of(c.s);
	TH_LOG("mem_used before %llu after %llu live %llu",
	       (unsigned long long)a.mem_used, (unsigned long long)b.mem_used,
	       (unsigned long long)b.live_bytes);
	ASSERT_LT(b.mem_used, a.mem_used);
	ASSERT_LT(b.mem_used, b.live_bytes * 2 + 4 * SEG64K);
	ASSERT_EQ(0, check_model(&c));
	skv_store_destroy(c.s);
	free(c.m);
	skv_thread_offline();
}

/* Churn: keys [base, base + n) appear and disappear, stable keys are overwritten. */
static void *churner(void *arg)
{
	struct warg *w = arg;
	struct ctx *c = w->c;
	u64 x = 0xabcdefull * (w->id + 3), i, ver, gen = 1;

	skv_thread_online();
	while (!stopped(c)) {
		u64 r = rnd(&x);

		if (w->id == 0) {
			/* Overwrite stable keys: they exist throughout. */
			i = r % c->nkeys;
			put_i(c->s, T1, i, ++gen, 50 + r % 200, 0, &ver);
		} else {
			i = c->base + (r >> 8) % 5000;
			if (r & 1)
				put_i(c->s, T1, i, ++gen, 80, 0, &ver);
			else
				del_i(c->s, T1, i, 0, &ver);
		}
	}
	skv_thread_offline();
	return NULL;
}

struct scan_ctx {
	u8 *seen_stable;
	u8 *seen_churn;
	struct ctx *c;
	u64 last_hash;
	u64 dup;
	u64 order;
};

static int scan_cb(void *arg, const void *rec, u32 len)
{
	struct scan_ctx *sc = arg;
	struct skv_rec_view v;
	unsigned long long i;

	if (skv_rec_parse(rec, len, SKV_PARSE_CHECK_HASH, &v)) {
		sc->order++;
		return 0;
	}
	if (v.key_hash < sc->last_hash)
		sc->order++;
	sc->last_hash = v.key_hash;
	if (key_id(&v, &i) != 1) {
		sc->order++;
		return 0;
	}
	if (i < sc->c->nkeys) {
		if (sc->seen_stable[i]++)
			sc->dup++;
	} else if (i >= sc->c->base && i < sc->c->base + 5000) {
		if (sc->seen_churn[i - sc->c->base]++)
			sc->dup++;
	}
	return 0;
}

static void *scanner(void *arg)
{
	struct warg *w = arg;
	struct ctx *c = w->c;
	struct scan_ctx sc = { 0 };
	u64 cur, i;
	bool done;
	long r;

	skv_thread_online();
	sc.c = c;
	sc.seen_stable = calloc(c->nkeys, 1);
	sc.seen_churn = calloc(5000, 1);
	while (!stopped(c)) {
		memset(sc.seen_stable, 0, c->nkeys);
		memset(sc.seen_churn, 0, 5000);
		sc.last_hash = 0;
		cur = 0;
		done = false;
		while (!done) {
			r = skv_scan(c->s, T1, 0, U64_MAX, cur, 1500, scan_cb,
				     &sc, &cur, &done);
			if (r < 0) {
				c->bad_scan++;
				break;
			}
		}
		for (i = 0; i < c->nkeys; i++)
			if (sc.seen_stable[i] != 1)
				c->bad_scan++;
		c->scans++;
	}
	c->dup += sc.dup;
	c->bad_scan += sc.order;
	free(sc.seen_stable);
	free(sc.seen_churn);
	skv_thread_offline();
	return NULL;
}

TEST(scan_exactly_once_while_churning_and_cleaning)
{
	struct ctx c = { 0 };
	u64 i, ver;

	skv_thread_online();
	c.nkeys = 3000;
	c.base = 1000000;
	c.s = store_new(SEG64K, 16ull << 20, 10);
	ASSERT_NE(NULL, c.s);
	for (i = 0; i < c.nkeys; i++)
		ASSERT_EQ(SKV_S_OK, put_i(c.s, T1, i, 1, 100, 0, &ver));
	run_threads(&c, 2, churner, 1, scanner, true, run_secs());
	TH_LOG("scans %llu dup %llu bad %llu cleaner freed %llu",
	       (unsigned long long)c.scans, (unsigned long long)c.dup,
	       (unsigned long long)c.bad_scan,
	       (unsigned long long)stats_of(c.s).cleaner_segments_freed);
	ASSERT_GT(c.scans, 0u);
	ASSERT_EQ(0u, c.dup);
	ASSERT_EQ(0u, c.bad_scan);
	ASSERT_GT(stats_of(c.s).cleaner_segments_freed, 0u);
	skv_store_destroy(c.s);
	skv_thread_offline();
}

/* Replay workers: each pulls one half of the hash space into its own side log. */
struct rarg {
	struct skv_store *src, *dst;
	u64 start, end;
	int ret;
	u32 applied;
};

static void *replayer(void *arg)
{
	struct rarg *r = arg;
	struct skv_replay_stats rs;
	struct skv_sidelog *sl;
	u32 cap = 20000;
	u8 *buf = malloc(cap);
	u64 cur = r->start;
	bool done = false;
	long n;

	skv_thread_online();
	r->ret = skv_sidelog_create(r->dst, &sl);
	while (!r->ret && !done) {
		n = skv_scan_serialize(r->src, T1, r->start, r->end, cur, buf,
				       cap, &cur, &done);
		if (n < 0) {
			r->ret = n;
			break;
		}
		r->ret = skv_replay_batch(r->dst, sl, buf, n, NULL, &rs);
		r->applied += rs.applied;
	}
	if (sl)
		skv_sidelog_destroy(r->dst, sl);
	free(buf);
	skv_thread_offline();
	return NULL;
}

TEST(replay_workers_race_client_writes)
{
	struct skv_store *src, *dst;
	struct rarg ra[2];
	pthread_t t[2];
	u64 n = 20000, i, ver, *wver;
	char buf[4096];
	u32 len;
	int k;

	skv_thread_online();
	src = store_new(SEG64K, 64ull << 20, 12);
	dst = store_new(SEG64K, 64ull << 20, 14);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, skv_tablet_set_state(dst, T1, 0, U64_MAX,
					  SKV_TABLET_MIGRATING_IN));
	for (i = 0; i < n; i++)
		ASSERT_EQ(SKV_S_OK, put_i(src, T1, i, 1, 100, 0, &ver));
	for (i = 0; i < n; i += 7)
		ASSERT_EQ(SKV_S_OK, del_i(src, T1, i, 0, &ver));
	skv_store_raise_version(dst, skv_store_version(src));
	wver = calloc(n, sizeof(u64));
	for (k = 0; k < 2; k++) {
		ra[k] = (struct rarg){ src, dst, k ? 1ull << 63 : 0,
				       k ? U64_MAX : (1ull << 63) - 1, 0, 0 };
		pthread_create(&t[k], NULL, replayer, &ra[k]);
	}
	/* Client writes at the target while data arrives: they win. */
	for (i = 3; i < n; i += 11) {
		if (i % 2) {
			ASSERT_EQ(SKV_S_OK, put_i(dst, T1, i, 2, 60, 0, &wver[i]));
		} else {
			/*
			 * RETRY until the key (object or tombstone) has
			 * arrived: there is no resolver here; NOT_FOUND if
			 * its tombstone arrived.
			 */
			int r;

			while ((r = del_i(dst, T1, i, 0, &wver[i])) ==
			       SKV_S_RETRY)
				sched_yield();

			ASSERT_TRUE(r == SKV_S_OK || r == SKV_S_NOT_FOUND);
		}
	}
	for (k = 0; k < 2; k++) {
		pthread_join(t[k], NULL);
		ASSERT_EQ(0, ra[k].ret);
	}
	ASSERT_EQ(0, skv_tablet_set_state(dst, T1, 0, U64_MAX,
					  SKV_TABLET_NORMAL));
	for (k = 0; k < 2; k++) {
		for (i = 0; i < n; i++) {
			int r = get_i(dst, T1, i, buf, sizeof(buf), &len, &ver);

			if (i % 11 == 3 && i % 2) {
				ASSERT_EQ(SKV_S_OK, r);
				ASSERT_EQ(wver[i], ver);
				ASSERT_TRUE(val_is(buf, len, i, 2, 60));
			} else if (i % 11 == 3 || i % 7 == 0) {
				ASSERT_EQ(SKV_S_NOT_FOUND, r);
			} else {
				ASSERT_EQ(SKV_S_OK, r);
				ASSERT_TRUE(val_is(buf, len, i, 1, 100));
			}
		}
		/* Second round: after the cleaner packed the spliced logs. */
		for (i = 0; i < n; i += 2)
			if (i % 11 != 3 && i % 7) {
				ASSERT_EQ(SKV_S_OK, put_i(dst, T1, i, 1, 100, 0, &ver));
			}
		clean_all(dst);
	}
	TH_LOG("applied %u + %u, dst segments freed %llu", ra[0].applied,
	       ra[1].applied,
	       (unsigned long long)stats_of(dst).cleaner_segments_freed);
	ASSERT_GT(stats_of(dst).cleaner_segments_freed, 0u);
	free(wver);
	skv_store_destroy(src);
	skv_store_destroy(dst);
	skv_thread_offline();
}

/*
 * The index grows (from 2^10 buckets) while writers add keys, readers
 * look up keys already written and a scanner walks the whole table with
 * its hash cursor: every key written before a lookup is found, and every
 * scan sees each key written before it started exactly once.
 */
struct grow_ctx {
	struct skv_store *s;
	u64 base;		/* keys [0, base) are there from the start */
	u64 per_writer;
	u64 done[2];		/* keys written by each writer so far */
	int stop;
	u64 errors, lookups, scans;
	u8 *seen;		/* per key, in the current scan */
};

static u64 grow_key(u32 w, u64 i, u64 base, u64 per)
{
	return base + w * per + i;
}

struct grow_warg {
	struct grow_ctx *g;
	u32 id;
};

static void *grow_writer(void *arg)
{
	struct grow_warg *wa = arg;
	struct grow_ctx *g = wa->g;
	u64 i, ver;

	skv_thread_online();
	for (i = 0; i < g->per_writer; i++) {
		if (put_i(g->s, T1, grow_key(wa->id, i, g->base, g->per_writer),
			  1, 20, 0, &ver) != SKV_S_OK)
			__atomic_add_fetch(&g->errors, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&g->done[wa->id], i + 1, __ATOMIC_RELEASE);
	}
	skv_thread_offline();
	return NULL;
}

static void *grow_reader(void *arg)
{
	struct grow_ctx *g = arg;
	u64 x = 88172645463325252ull, k, n, ver;
	char buf[64];
	u32 len, w;

	skv_thread_online();
	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
		w = rnd(&x) % 3;
		if (w == 2) {
			k = rnd(&x) % g->base;
		} else {
			n = __atomic_load_n(&g->done[w], __ATOMIC_ACQUIRE);
			if (!n)
				continue;
			k = grow_key(w, rnd(&x) % n, g->base, g->per_writer);
		}
		if (get_i(g->s, T1, k, buf, sizeof(buf), &len, &ver) != SKV_S_OK)
			__atomic_add_fetch(&g->errors, 1, __ATOMIC_RELAXED);
		g->lookups++;
	}
	skv_thread_offline();
	return NULL;
}

struct grow_scan {
	struct grow_ctx *g;
	u64 last_hash;
	u64 bad;
};

static int grow_scan_rec(void *arg, const void *rec, u32 len)
{
	struct grow_scan *sc = arg;
	struct skv_rec_view v;
	u64 k;

	skv_rec_view_trusted(rec, &v);
	if (v.key_hash < sc->last_hash)
		sc->bad++;
	sc->last_hash = v.key_hash;
	k = strtoull((const char *)v.key + 4, NULL, 10);
	if (k < sc->g->base && sc->g->seen[k]++)
		sc->bad++;
	return 0;
}

static void *grow_scanner(void *arg)
{
	struct grow_ctx *g = arg;
	struct grow_scan sc = { .g = g };
	u64 cur, k, next;
	bool done;
	long r;

	skv_thread_online();
	/* At least one whole scan, however fast the writers are. */
	while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE) || !g->scans) {
		memset(g->seen, 0, g->base);
		sc.last_hash = 0;
		for (cur = 0, done = false; !done; cur = next) {
			r = skv_scan(g->s, T1, 0, U64_MAX, cur, 4096,
				     grow_scan_rec, &sc, &next, &done);
			if (r < 0)
				sc.bad++;
		}
		for (k = 0; k < g->base; k++)
			if (g->seen[k] != 1)
				sc.bad++;
		g->scans++;
	}
	__atomic_add_fetch(&g->errors, sc.bad, __ATOMIC_RELAXED);
	skv_thread_offline();
	return NULL;
}

TEST(index_grows_under_readers_and_scans)
{
	struct grow_ctx g = { 0 };
	struct grow_warg wa[2];
	pthread_t tw[2], tr, ts;
	char buf[64];
	u64 i, ver;
	u32 len;

	skv_thread_online();
	g.base = 2000;
	g.per_writer = test_small() ? 10000 : 60000;
	g.seen = calloc(g.base, 1);
	g.s = store_new(SEG64K, 1ull << 30, 10);
	ASSERT_NE(NULL, g.s);
	for (i = 0; i < g.base; i++)
		ASSERT_EQ(SKV_S_OK, put_i(g.s, T1, i, 1, 20, 0, &ver));
	ASSERT_EQ(0, pthread_create(&tr, NULL, grow_reader, &g));
	ASSERT_EQ(0, pthread_create(&ts, NULL, grow_scanner, &g));
	for (i = 0; i < 2; i++) {
		wa[i].g = &g;
		wa[i].id = i;
		ASSERT_EQ(0, pthread_create(&tw[i], NULL, grow_writer, &wa[i]));
	}
	for (i = 0; i < 2; i++)
		pthread_join(tw[i], NULL);
	__atomic_store_n(&g.stop, 1, __ATOMIC_RELEASE);
	pthread_join(tr, NULL);
	pthread_join(ts, NULL);
	TH_LOG("lookups %llu scans %llu index 2^%u buckets",
	       (unsigned long long)g.lookups, (unsigned long long)g.scans,
	       rcu_access_pointer(g.s->index.geom)->log2);
	ASSERT_EQ(0u, g.errors);
	ASSERT_GT(g.scans, 0u);
	/* It grew with the keys: no more than two per bucket. */
	ASSERT_GE(2ull << rcu_access_pointer(g.s->index.geom)->log2,
		  g.base + 2 * g.per_writer);
	for (i = 0; i < g.base + 2 * g.per_writer; i++)
		ASSERT_EQ(SKV_S_OK, get_i(g.s, T1, i, buf, sizeof(buf), &len,
					  &ver));
	skv_store_destroy(g.s);
	free(g.seen);
	skv_thread_offline();
}

TEST_HARNESS_MAIN
