/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A log-linear latency histogram (HdrHistogram-like), values in ns.
 *
 * Values below 64 ns are counted exactly; above, each power-of-two octave
 * [2^k, 2^(k+1)) is split into 64 equal sub-buckets, so a bucket is at most
 * 1/64 (1.6%) of its values wide and the midpoint reported is within 0.8%.
 * The top bucket covers 60 s (values above it are counted there; max keeps
 * the true value).  Histograms of the same layout merge by adding counts.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	6
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_MAX_NS	60000000000ull		/* 60 s */
/* octaves 6..35 (2^35 ns = 34 s; 2^36 > 60 s) plus the linear first 64 */
#define HIST_BUCKETS	((36 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t min, max;	/* ns; min is UINT64_MAX when empty */
	double sum;		/* ns, for the mean */
	uint64_t c[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_record(struct hist *h, uint64_t ns);
void hist_merge(struct hist *dst, const struct hist *src);
/* Value at quantile q (0..1) in ns: the midpoint of its bucket, clamped to min/max; 0 if empty. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);
/* For tests: the bucket of a value and the bucket's [lo, hi] range. */
unsigned int hist_index(uint64_t ns);
void hist_bucket_range(unsigned int idx, uint64_t *lo, uint64_t *hi);

#endif
