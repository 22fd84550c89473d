// SPDX-License-Identifier: GPL-2.0
/*
 * Host benchmark of the store core: append (PUT), lookup (GET), scan into
 * pull batches and replay of those batches, for 30-byte keys and 100-byte
 * values (176-byte records), printed beside memcpy bandwidth measured in
 * the same run (the ceiling for anything that copies records).  One
 * thread, timed by its CPU time; plain text.  Each store starts with the default index size and
 * grows it as keys arrive.
 *
 *   bench_core [records...]     default 100000 1000000 10000000
 *
 * The GET loops read their keys in sequence from an array in lookup
 * order, as a node reads requests from its receive buffer.  `make bench`
 * runs it on transparent huge pages (the Makefile says why).
 *
 * The summary compares each size with the first (issue 13: GET and
 * replay at 10^7 records at least 0.7x the 10^5 figures) and with the
 * targets of one native core: replay >= 1 GB/s and >= memcpy/15, scan
 * >= 2 GB/s and >= memcpy/8, GET >= 10 M/s.  Beside GET it runs a memory
 * peer (memory_peer()): the same three dependent loads per lookup over
 * the same footprint with no index code, the floor a GET of this layout
 * stands on at each size; beside the scan, its like for a scan
 * (scan_peer_rate()).  The scan writes each batch over the last, as the
 * source writes each pull's reply into its connection's output buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "store.h"
#include "record.h"
#include "log.h"
#include "scan.h"
#include "replay.h"
#include <steadykv/wire.h>

#define KLEN	30
#define VLEN	100
#define MAX_RUNS	8

struct figures {
	u64 n;
	double put, get, get_multi, scan, replay, skipped, get_after;	/* per s */
	double peer, peer_dep;	/* memory_peer() lookups per s */
	double scan_peer_mbs;	/* scan_peer_rate() */
	double scan_mbs, replay_mbs;
};

static double memcpy_mbs, memcpy_piece_mbs;
static u64 sink;

/*
 * The thread's CPU time: on a shared machine the time others run in is
 * left out (their use of caches and memory bandwidth is not).
 */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *keys;	/* precomputed, so formatting is not measured */
/*
 * The keys in lookup (random) order, read in sequence as a node reads
 * requests from its receive buffer: a GET pays for finding the key in the
 * store, not for fetching it from a random place in an array as large as
 * the store's keys (300 MB at 10^7, a cache and TLB miss per lookup).
 */
static char *lookup_keys;

/* a[0..n) in random order (Fisher-Yates; rand() as seeded). */
static void shuffle(u64 *a, u64 n)
{
	u64 i, j, x;

	for (i = n - 1; n && i > 0; i--) {
		j = ((u64)rand() << 31 ^ rand()) % (i + 1);
		x = a[i];
		a[i] = a[j];
		a[j] = x;
	}
}

static void key_make(u64 i, char *k)
{
	char tmp[40];

	snprintf(tmp, sizeof(tmp), "user%026llu", (unsigned long long)i);
	memcpy(k, tmp, KLEN);
}

static const char *key_of(u64 i)
{
	return keys + i * KLEN;
}

static struct skv_store *mk(u64 n)
{
	/* Room for every record twice (overwrite) and its index entry. */
	struct skv_store_config cfg = {
		.segment_size = 1u << 20,
		.mem_limit = n * 2 * 512 + (256ull << 20),
	};
	struct skv_tablet_info t = { 1, 0, U64_MAX, SKV_TABLET_NORMAL };
	struct skv_store *s;

	if (skv_store_create(&cfg, &s) || skv_table_add(s, 1) ||
	    skv_tablet_add(s, &t)) {
		fprintf(stderr, "store create failed\n");
		exit(1);
	}
	return s;
}

static double line(const char *what, u64 n, double secs, u64 bytes)
{
	printf("  %-26s %10.0f records/s  %8.1f MB/s  (%llu records, %.3f s)\n",
	       what, n / secs, bytes / secs / 1e6, (unsigned long long)n, secs);
	return n / secs;
}

static void die(const char *what, u64 i, int r)
{
	fprintf(stderr, "%s failed at record %llu: %d\n", what,
		(unsigned long long)i, r);
	exit(1);
}

static void put_all(struct skv_store *s, u64 n)
{
	char v[VLEN];
	u64 i, ver;
	int r;

	memset(v, 'x', VLEN);
	for (i = 0; i < n; i++) {
		memcpy(v, key_of(i), 8);
		r = skv_store_put(s, 1, key_of(i), KLEN,
				  skv_key_hash(key_of(i), KLEN), v, VLEN, 0,
				  &ver);
		if (r != SKV_S_OK)
			die("put", i, r);
	}
}

/*
 * A small store's pass takes tens of milliseconds, where one hiccup of a
 * shared machine moves the figure by half: lookups and scans repeat their
 * pass until they have run this long, and report the mean.
 */
#define MIN_SECS	0.5

/* One GET of every key, in lookup order. */
static void get_pass(struct skv_store *s, u64 n)
{
	char out[VLEN];
	u64 i, ver;
	u32 vlen;
	int r;

	for (i = 0; i < n; i++) {
		const char *k = lookup_keys + i * KLEN;

		r = skv_store_get(s, 1, k, KLEN, skv_key_hash(k, KLEN), out,
				  sizeof(out), &vlen, &ver);
		if (r != SKV_S_OK)
			die("get", i, r);
		sink += out[0];
	}
}

/*
 * The same lookups as MULTI-GETs of the most keys one may carry, each
 * with a rolling prefetch (skv_store_lookahead()), as the node serves
 * them.
 */
static void get_multi_pass(struct skv_store *s, u64 n)
{
	u64 ring[SKV_LOOKAHEAD_RING], i, j, m, hashed, ver;
	const char *k;
	char out[VLEN];
	u32 vlen;
	int r;

	for (i = 0; i < n; i += m) {
		m = n - i < SKV_MAX_MULTI_KEYS ? n - i : SKV_MAX_MULTI_KEYS;
		for (j = 0, hashed = 0; j < m; j++) {
			for (; hashed < m && hashed < j + SKV_LOOKAHEAD_KEYS;
			     hashed++) {
				k = lookup_keys + (i + hashed) * KLEN;
				ring[hashed % SKV_LOOKAHEAD_RING] =
					skv_key_hash(k, KLEN);
			}
			skv_store_lookahead(s, ring, m, j);
			k = lookup_keys + (i + j) * KLEN;
			r = skv_store_get(s, 1, k, KLEN,
					  ring[j % SKV_LOOKAHEAD_RING], out,
					  sizeof(out), &vlen, &ver);
			if (r != SKV_S_OK)
				die("get (multi)", i + j, r);
			sink += out[0];
		}
	}
}

/* pass over n keys, repeated for MIN_SECS; prints and returns GETs/s. */
static double get_rate(struct skv_store *s, u64 n,
		       void (*pass)(struct skv_store *, u64), const char *what)
{
	double t0 = now();
	u64 done = 0;

	do {
		pass(s, n);
		done += n;
	} while (now() - t0 < MIN_SECS);
	return line(what, done, now() - t0, done * (KLEN + VLEN));
}

/*
 * The memory's share of a GET: lookups with the store's three dependent
 * loads (a bucket slot, the index entry it leads to, that entry's record,
 * whose value is copied out) over its footprint (8-byte slots for the
 * next power of two of n buckets, 128-byte entries allocated in insertion
 * order, 176-byte records in log order), keys in the same lookup order,
 * and none of its logic: no hashing, walking or compares.  Run twice:
 * lookups overlapped as the CPU pleases (what the memory delivers to
 * batched GETs), and one at a time, each lookup's address waiting for the
 * last one's value (as single GETs, too long for the CPU to overlap, in
 * effect are).  What the peer loses from one size to the next is what the
 * caches and the TLB lose, which no code with three dependent loads per
 * lookup can win back.
 */
struct peer_entry {
	u64 rec_off;
	u8 pad[120];
};

static volatile u64 peer_zero;	/* 0, unknown to the compiler */

/*
 * The peer's lookups for MIN_SECS, per s.  chain: each lookup's bucket
 * also depends on the last value read (through a 0 the compiler cannot
 * see), so no two overlap.  Inlined, so each loop is built for its case.
 */
static inline __attribute__((always_inline)) double
peer_rate(u64 n, const u64 *slots, const u64 *bucket_of,
	  const struct peer_entry *ents, const u8 *recs, bool chain)
{
	u8 z = chain ? peer_zero : 0, out[VLEN] = { 0 };
	double t0 = now();
	u64 i, done = 0;

	do {
		for (i = 0; i < n; i++) {
			u64 b = chain ? bucket_of[i] ^ (out[0] & z) :
					bucket_of[i];
			const struct peer_entry *e = &ents[slots[b]];

			memcpy(out, recs + e->rec_off + SKV_REC_HDR_LEN + KLEN,
			       VLEN);
			sink += out[1];
		}
		done += n;
	} while (now() - t0 < MIN_SECS);
	return line(chain ? "memory peer, one at a time" :
			    "memory peer, overlapped",
		    done, now() - t0, done * VLEN);
}

#define PEER_NONE	UINT64_MAX	/* an empty bucket's slot */
#define PEER_AHEAD	16	/* buckets the scan peer prefetches ahead */

/*
 * The memory's share of a scan: every bucket in order, the entry its slot
 * leads to, that entry's whole record copied into a 64 KiB buffer written
 * over and over (the reply buffer), with entries and records prefetched
 * ahead; no walking, locks, compares or checksum, and one key per
 * bucket (no chains): a generous floor.  MB/s for MIN_SECS.
 */
static double scan_peer_rate(u64 n, u64 nb, const u64 *slots,
			     const struct peer_entry *ents, const u8 *recs)
{
	size_t rec = skv_rec_len(KLEN, VLEN), cap = 64u << 10, off = 0, l;
	u8 *buf = malloc(cap);
	double t0 = now();
	u64 b, done = 0;

	if (!buf)
		die("scan peer (malloc)", cap, -ENOMEM);
	memset(buf, 0, cap);
	do {
		for (b = 0; b < nb; b++) {
			u64 e2 = b + PEER_AHEAD < nb ? slots[b + PEER_AHEAD] :
						      PEER_NONE;
			u64 e1 = b + PEER_AHEAD / 2 < nb ?
					 slots[b + PEER_AHEAD / 2] : PEER_NONE;

			if (e2 != PEER_NONE)
				__builtin_prefetch(&ents[e2]);
			for (l = 0; e1 != PEER_NONE && l < rec + 64; l += 64)
				__builtin_prefetch(recs + ents[e1].rec_off + l);
			if (slots[b] == PEER_NONE)
				continue;
			if (off + rec > cap)
				off = 0;
			memcpy(buf + off, recs + ents[slots[b]].rec_off, rec);
			off += rec;
		}
		done += n;
	} while (now() - t0 < MIN_SECS);
	sink += buf[1];
	free(buf);
	return line("scan peer (bucket order)", done, now() - t0,
		    done * rec) * rec / 1e6;
}

static void memory_peer(u64 n, const u64 *order, struct figures *f)
{
	size_t rec = skv_rec_len(KLEN, VLEN);
	u64 nb = 1, i, j, *slots, *perm, *bucket_of;
	struct peer_entry *ents;
	u8 *recs;

	while (nb < n)
		nb <<= 1;
	slots = malloc(nb * sizeof(*slots));
	perm = malloc(nb * sizeof(*perm));
	bucket_of = malloc(n * sizeof(*bucket_of));
	ents = malloc(n * sizeof(*ents));
	recs = malloc(n * rec);
	if (!slots || !perm || !bucket_of || !ents || !recs)
		die("memory peer (malloc)", n, -ENOMEM);
	/* Key j (the j-th inserted) in a random bucket of its own. */
	for (i = 0; i < nb; i++)
		perm[i] = i;
	shuffle(perm, nb);
	for (i = 0; i < nb; i++)
		slots[i] = PEER_NONE;
	memset(recs, 'x', n * rec);
	for (j = 0; j < n; j++) {
		slots[perm[j]] = j;
		ents[j].rec_off = j * rec;
		memset(ents[j].pad, 0, sizeof(ents[j].pad));
	}
	for (i = 0; i < n; i++)
		bucket_of[i] = perm[order[i]];
	free(perm);
	f->peer = peer_rate(n, slots, bucket_of, ents, recs, false);
	f->peer_dep = peer_rate(n, slots, bucket_of, ents, recs, true);
	f->scan_peer_mbs = scan_peer_rate(n, nb, slots, ents, recs);
	free(recs);
	free(ents);
	free(bucket_of);
	free(slots);
}

/*
 * One scan of table 1 into batches of cap bytes: into bufs[0] each time,
 * or (keep) into bufs[i] for batch i, blen[i] its length.  Returns the
 * bytes written; *batches is how many.
 */
static u64 scan_pass(struct skv_store *s, u8 **bufs, size_t *blen, u64 maxb,
		     u32 cap, bool keep, u64 *batches)
{
	u64 cur = 0, bytes = 0, b = 0;
	bool done = false;

	while (!done) {
		long got;

		if (b == maxb)
			die("scan (too many batches)", b, 0);
		got = skv_scan_serialize(s, 1, 0, U64_MAX, cur,
					 bufs[keep ? b : 0], cap, &cur, &done);
		if (got < 0)
			die("scan", b, got);
		blen[b++] = got;
		bytes += got;
	}
	*batches = b;
	return bytes;
}

static void run(u64 n, struct figures *f)
{
	u64 rec = skv_rec_len(KLEN, VLEN), batches = 0, bbytes = 0, i;
	u64 scanned = 0, passes = 0;
	u64 maxb = n * rec / (60u << 10) + 64, *order;
	struct skv_replay_stats rs;
	struct skv_store *s, *d;
	struct skv_sidelog *sl;
	u32 cap = 64u << 10;
	size_t *blen;
	double t0, t;
	u64 applied = 0;
	u8 **bufs;

	printf("%llu records, key %d B, value %d B, record %llu B in the log\n",
	       (unsigned long long)n, KLEN, VLEN, (unsigned long long)rec);
	memset(f, 0, sizeof(*f));
	f->n = n;
	keys = malloc(n * KLEN);
	order = malloc(n * sizeof(*order));
	if (!keys || !order)
		die("malloc", 0, -ENOMEM);
	for (i = 0; i < n; i++) {
		char tmp[KLEN];

		key_make(i, tmp);
		memcpy(keys + i * KLEN, tmp, KLEN);
		order[i] = i;
	}
	srand(7);
	shuffle(order, n);
	lookup_keys = malloc(n * KLEN);
	if (!lookup_keys)
		die("malloc", 0, -ENOMEM);
	for (i = 0; i < n; i++)
		memcpy(lookup_keys + i * KLEN, key_of(order[i]), KLEN);

	s = mk(n);
	t0 = now();
	put_all(s, n);
	f->put = line("put (append)", n, now() - t0, n * rec);
	f->get = get_rate(s, n, get_pass, "get (random order)");
	f->get_multi = get_rate(s, n, get_multi_pass, "get (MULTI-GET of 256)");
	t0 = now();
	put_all(s, n);
	line("put (overwrite)", n, now() - t0, n * rec);

	/*
	 * Scan the table into 64 KiB pull batches, each written over the
	 * last as the source writes each pull's reply into its connection's
	 * output buffer; then once more, untimed, into a buffer per batch:
	 * the replay's input.  Buffers are mapped before the clock starts,
	 * as the source's are (page faults on fresh memory cost more than
	 * the scan on some hosts).
	 */
	bufs = calloc(maxb, sizeof(*bufs));
	blen = calloc(maxb, sizeof(*blen));
	for (i = 0; i < maxb; i++) {
		bufs[i] = malloc(cap);
		if (!bufs[i])
			die("scan (out of memory)", i, 0);
		memset(bufs[i], 0, cap);
	}
	t0 = now();
	do {
		scanned += scan_pass(s, bufs, blen, maxb, cap, false, &batches);
		passes++;
	} while (now() - t0 < MIN_SECS);
	t = now() - t0;
	bbytes = scan_pass(s, bufs, blen, maxb, cap, true, &batches);
	f->scan = line("scan (64 KiB batches)", n * passes, t, scanned);
	f->scan_mbs = scanned / t / 1e6;
	/* The source is done with: keep the peak memory down. */
	skv_store_destroy(s);

	/* Into a fresh store each pass; the last one is kept. */
	t = 0;
	passes = 0;
	d = NULL;
	do {
		if (d)
			skv_store_destroy(d);
		d = mk(n);
		skv_sidelog_create(d, &sl);
		applied = 0;
		t0 = now();
		for (i = 0; i < batches; i++) {
			int r = skv_replay_batch(d, sl, bufs[i], blen[i], NULL,
						 &rs);

			if (r)
				die("replay", i, r);
			applied += rs.applied;
		}
		t += now() - t0;
		passes++;
		if (applied != n)
			die("replay (applied count)", applied, 0);
		skv_sidelog_destroy(d, sl);
	} while (t < MIN_SECS);
	f->replay = line("replay (verify + apply)", n * passes, t,
			 bbytes * passes);
	f->replay_mbs = bbytes * passes / t / 1e6;
	/* Replay again: every record is older or equal, all skipped. */
	skv_sidelog_create(d, &sl);
	t0 = now();
	for (i = 0; i < batches; i++)
		skv_replay_batch(d, sl, bufs[i], blen[i], NULL, &rs);
	f->skipped = line("replay (all skipped)", n, now() - t0, bbytes);
	skv_sidelog_destroy(d, sl);
	f->get_after = get_rate(d, n, get_pass, "get after replay");

	for (i = 0; i < maxb; i++)
		free(bufs[i]);
	free(bufs);
	free(blen);
	free(lookup_keys);
	free(keys);
	skv_store_destroy(d);
	memory_peer(n, order, f);
	free(order);
}

static void measure_memcpy(void)
{
	size_t mlen = 64u << 20, rec = skv_rec_len(KLEN, VLEN), i;
	u8 *src = malloc(mlen), *dst = malloc(mlen);
	double t0, t = 1e9;
	int r;

	/* 64 MiB buffers, best of 5. */
	memset(src, 1, mlen);
	memset(dst, 2, mlen);
	for (r = 0; r < 5; r++) {
		t0 = now();
		memcpy(dst, src, mlen);
		t0 = now() - t0;
		if (t0 < t)
			t = t0;
		sink += dst[r * 4096];
	}
	memcpy_mbs = mlen / t / 1e6;
	printf("memcpy (64 MiB buffers)      %8.1f MB/s\n", memcpy_mbs);
	/* In record-sized pieces, as replay copies. */
	t0 = now();
	for (i = 0; i + rec <= mlen; i += rec)
		memcpy(dst + i, src + (i ^ 4096) % (mlen - rec), rec);
	t = now() - t0;
	memcpy_piece_mbs = mlen / t / 1e6;
	printf("memcpy (%zu-byte pieces)    %8.1f MB/s\n", rec,
	       memcpy_piece_mbs);
	free(src);
	free(dst);
}

static const char *meets(bool ok)
{
	return ok ? "yes" : "NO";
}

static void summary(const struct figures *f, int nf)
{
	const struct figures *b = &f[0];
	int i;

	printf("\nsummary, memcpy %.1f MB/s (x: of the %llu-record run)\n",
	       memcpy_mbs, (unsigned long long)b->n);
	printf("%10s %8s %5s %8s %5s %8s %8s %5s %8s %8s\n", "records",
	       "get", "x", "get MG", "x", "replay", "memcpy/", "x", "scan",
	       "memcpy/");
	printf("%10s %8s %5s %8s %5s %8s %8s %5s %8s %8s\n", "", "M/s", "",
	       "M/s", "", "MB/s", "replay", "", "MB/s", "scan");
	for (i = 0; i < nf; i++)
		printf("%10llu %8.2f %5.2f %8.2f %5.2f %8.1f %8.1f %5.2f %8.1f %8.1f\n",
		       (unsigned long long)f[i].n, f[i].get / 1e6,
		       f[i].get / b->get, f[i].get_multi / 1e6,
		       f[i].get_multi / b->get_multi, f[i].replay_mbs,
		       memcpy_mbs / f[i].replay_mbs,
		       f[i].replay_mbs / b->replay_mbs, f[i].scan_mbs,
		       memcpy_mbs / f[i].scan_mbs);
	printf("the memory peers (the store's footprint and loads, no index code; GET: three dependent loads; scan: buckets in order, records copied):\n");
	printf("%10s %10s %5s %8s %10s %5s %8s %9s %6s\n", "records",
	       "one at a", "x", "get/", "overlapped", "x", "get MG/",
	       "scan peer", "scan/");
	printf("%10s %10s %5s %8s %10s %5s %8s %9s %6s\n", "", "time M/s", "",
	       "peer", "M/s", "", "peer", "MB/s", "peer");
	for (i = 0; i < nf; i++)
		printf("%10llu %10.2f %5.2f %8.2f %10.2f %5.2f %8.2f %9.1f %6.2f\n",
		       (unsigned long long)f[i].n, f[i].peer_dep / 1e6,
		       f[i].peer_dep / b->peer_dep, f[i].get / f[i].peer_dep,
		       f[i].peer / 1e6, f[i].peer / b->peer,
		       f[i].get_multi / f[i].peer, f[i].scan_peer_mbs,
		       f[i].scan_mbs / f[i].scan_peer_mbs);
	printf("targets at %llu records: replay >= 1000 MB/s %s, >= memcpy/15 %s; scan >= 2000 MB/s %s, >= memcpy/8 %s; get >= 10 M/s %s (MULTI-GET %s)\n",
	       (unsigned long long)b->n, meets(b->replay_mbs >= 1000),
	       meets(b->replay_mbs * 15 >= memcpy_mbs),
	       meets(b->scan_mbs >= 2000), meets(b->scan_mbs * 8 >= memcpy_mbs),
	       meets(b->get >= 10e6), meets(b->get_multi >= 10e6));
	/*
	 * What sending pulled records straight from the log pages would
	 * save the source: the record copies into the reply buffer and the
	 * socket's copy of that buffer, each as a share of the scan's time.
	 */
	printf("zero-copy pulls would save at most: record copies %.1f%%, the send's copy %.1f%% of a pull scan's CPU\n",
	       100 * b->scan_mbs / memcpy_piece_mbs,
	       100 * b->scan_mbs / memcpy_mbs);
	for (i = 1; i < nf; i++)
		printf("flat at %llu records: get %.2fx %s (MULTI-GET %.2fx %s), replay %.2fx %s (>= 0.7x); the memory peer %.2fx one at a time, %.2fx overlapped\n",
		       (unsigned long long)f[i].n, f[i].get / b->get,
		       meets(f[i].get >= 0.7 * b->get),
		       f[i].get_multi / b->get_multi,
		       meets(f[i].get_multi >= 0.7 * b->get_multi),
		       f[i].replay_mbs / b->replay_mbs,
		       meets(f[i].replay_mbs >= 0.7 * b->replay_mbs),
		       f[i].peer_dep / b->peer_dep, f[i].peer / b->peer);
}

int main(int argc, char **argv)
{
	u64 sizes[MAX_RUNS] = { 100000, 1000000, 10000000 };
	struct figures f[MAX_RUNS];
	const char *tunables;
	int i, nf = 3;

	if (argc > 1) {
		nf = 0;
		for (i = 1; i < argc && nf < MAX_RUNS; i++)
			sizes[nf++] = strtoull(argv[i], NULL, 0);
	}
	skv_thread_online();
	tunables = getenv("GLIBC_TUNABLES");
	printf("memory: %s\n", tunables && strstr(tunables, "malloc.hugetlb=1") ?
	       "transparent huge pages (glibc.malloc.hugetlb=1), as the module's direct map" :
	       "4 KiB pages (run with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 to model the module's huge mappings)");
	measure_memcpy();
	for (i = 0; i < nf; i++)
		run(sizes[i], &f[i]);
	summary(f, nf);
	return sink == 42 ? 1 : 0;
}
