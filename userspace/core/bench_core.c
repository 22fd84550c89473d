// SPDX-License-Identifier: GPL-2.0
/*
 * Host benchmark of the store core: append (PUT), lookup (GET), scan into
 * pull batches and replay of those batches, for 30-byte keys and 100-byte
 * values, printed beside memcpy bandwidth measured in the same run (the
 * ceiling for anything that copies records).  One thread; plain text.
 *
 *   bench_core [records]     default 300000
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

#define KLEN	30
#define VLEN	100

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *keys;	/* precomputed, so formatting is not measured */

static void key_make(u64 i, char *k)
{
	char tmp[40];

	snprintf(tmp, sizeof(tmp), "user%026llu", (unsigned long long)i);
	memcpy(k, tmp, KLEN);
}

static void key_of(u64 i, char *k)
{
	memcpy(k, keys + i * KLEN, KLEN);
}

static struct skv_store *mk(void)
{
	struct skv_store_config cfg = { 1u << 20, 20, 1ull << 30 };
	struct skv_tablet_info t = { 1, 0, U64_MAX, SKV_TABLET_NORMAL };
	struct skv_store *s;

	if (skv_store_create(&cfg, &s) || skv_table_add(s, 1) ||
	    skv_tablet_add(s, &t)) {
		fprintf(stderr, "store create failed\n");
		exit(1);
	}
	return s;
}

static void line(const char *what, u64 n, double secs, u64 bytes)
{
	printf("%-28s %10.0f records/s  %8.1f MB/s  (%llu records, %.3f s)\n",
	       what, n / secs, bytes / secs / 1e6, (unsigned long long)n, secs);
}

int main(int argc, char **argv)
{
	u64 n = argc > 1 ? strtoull(argv[1], NULL, 0) : 300000, i, ver, sink = 0;
	u64 rec = skv_rec_len(KLEN, VLEN), batches = 0, bbytes = 0;
	u32 cap = 64u << 10, vlen;
	struct skv_replay_stats rs, tot = { 0 };
	struct skv_store *s, *d;
	struct skv_sidelog *sl;
	char k[KLEN], v[VLEN], out[VLEN];
	u8 **bufs;
	size_t mlen = 64u << 20, *blen;
	u8 *src, *dst;
	double t0, t;
	bool done = false;
	u64 cur = 0, *order;
	int r;

	skv_thread_online();
	/* memcpy bandwidth: 64 MiB buffers, best of 5. */
	src = malloc(mlen);
	dst = malloc(mlen);
	memset(src, 1, mlen);
	memset(dst, 2, mlen);
	t = 1e9;
	for (r = 0; r < 5; r++) {
		t0 = now();
		memcpy(dst, src, mlen);
		t0 = now() - t0;
		if (t0 < t)
			t = t0;
		sink += dst[r * 4096];
	}
	printf("memcpy (64 MiB buffers)      %8.1f MB/s\n", mlen / t / 1e6);
	/* memcpy in record-sized pieces, as replay copies. */
	t0 = now();
	for (i = 0; i + rec <= mlen; i += rec)
		memcpy(dst + i, src + (i ^ 4096) % (mlen - rec), rec);
	t = now() - t0;
	printf("memcpy (%llu-byte pieces)    %8.1f MB/s\n",
	       (unsigned long long)rec, mlen / t / 1e6);
	free(src);
	free(dst);

	printf("records: %llu, key %d B, value %d B, record %llu B in the log\n",
	       (unsigned long long)n, KLEN, VLEN, (unsigned long long)rec);
	keys = malloc(n * KLEN);
	for (i = 0; i < n; i++)
		key_make(i, keys + i * KLEN);
	s = mk();
	memset(v, 'x', VLEN);
	t0 = now();
	for (i = 0; i < n; i++) {
		key_of(i, k);
		memcpy(v, k, 8);
		if (skv_store_put(s, 1, k, KLEN, skv_key_hash(k, KLEN), v, VLEN, 0,
			    &ver) != SKV_S_OK) {
			fprintf(stderr, "put failed\n");
			return 1;
		}
	}
	line("put (append)", n, now() - t0, n * rec);

	order = malloc(n * sizeof(*order));
	for (i = 0; i < n; i++)
		order[i] = i;
	srand(7);
	for (i = n - 1; i > 0; i--) {
		u64 j = ((u64)rand() << 31 ^ rand()) % (i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		key_of(order[i], k);
		if (skv_store_get(s, 1, k, KLEN, skv_key_hash(k, KLEN), out,
			    sizeof(out), &vlen, &ver) != SKV_S_OK) {
			fprintf(stderr, "get failed\n");
			return 1;
		}
		sink += out[0];
	}
	line("get (random order)", n, now() - t0, n * (KLEN + VLEN));

	t0 = now();
	for (i = 0; i < n; i++) {
		key_of(i, k);
		memcpy(v, k, 8);
		skv_store_put(s, 1, k, KLEN, skv_key_hash(k, KLEN), v, VLEN, 0, &ver);
	}
	line("put (overwrite)", n, now() - t0, n * rec);

	/* Scan the table into 64 KiB pull batches. */
	bufs = calloc(n / 100 + 64, sizeof(*bufs));
	blen = calloc(n / 100 + 64, sizeof(*blen));
	t0 = now();
	while (!done) {
		long got;

		bufs[batches] = malloc(cap);
		got = skv_scan_serialize(s, 1, 0, U64_MAX, cur,
					 bufs[batches], cap, &cur, &done);
		if (got < 0) {
			fprintf(stderr, "scan failed\n");
			return 1;
		}
		blen[batches] = got;
		bbytes += got;
		batches++;
	}
	line("scan (64 KiB batches)", n, now() - t0, bbytes);

	d = mk();
	skv_sidelog_create(d, &sl);
	t0 = now();
	for (i = 0; i < batches; i++) {
		if (skv_replay_batch(d, sl, bufs[i], blen[i], NULL, &rs)) {
			fprintf(stderr, "replay failed\n");
			return 1;
		}
		tot.applied += rs.applied;
	}
	t = now() - t0;
	line("replay (verify + apply)", tot.applied, t, bbytes);
	skv_sidelog_destroy(d, sl);
	/* Replay again: every record is older or equal, all skipped. */
	skv_sidelog_create(d, &sl);
	t0 = now();
	for (i = 0; i < batches; i++)
		skv_replay_batch(d, sl, bufs[i], blen[i], NULL, &rs);
	line("replay (all skipped)", n, now() - t0, bbytes);
	skv_sidelog_destroy(d, sl);

	t0 = now();
	for (i = 0; i < n; i += 1) {
		key_of(order[i], k);
		skv_store_get(d, 1, k, KLEN, skv_key_hash(k, KLEN), out, sizeof(out),
			&vlen, &ver);
	}
	line("get after replay", n, now() - t0, n * (KLEN + VLEN));

	t0 = now();
	for (i = 0; i < batches; i++)
		sink += skv_crc32c(~0u, bufs[i], blen[i]);
	t = now() - t0;
	printf("crc32c over the batches       %8.1f MB/s\n", bbytes / t / 1e6);
	for (i = 0; i < batches; i++)
		free(bufs[i]);
	free(bufs);
	free(blen);
	free(order);
	free(keys);
	skv_store_destroy(s);
	skv_store_destroy(d);
	return sink == 42 ? 1 : 0;
}
