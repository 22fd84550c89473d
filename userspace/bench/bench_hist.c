// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Log-linear latency histogram: see bench_hist.h. */
#include <string.h>

#include "bench_hist.h"

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned int hist_index(uint64_t ns)
{
	unsigned int k;

	if (ns > HIST_MAX_NS)
		ns = HIST_MAX_NS;
	if (ns < HIST_SUB)
		return (unsigned int)ns;
	k = 63u - (unsigned int)__builtin_clzll(ns);	/* ns in [2^k, 2^(k+1)) */
	return (k - HIST_SUB_BITS + 1) * HIST_SUB +
	       (unsigned int)((ns >> (k - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

void hist_bucket_range(unsigned int idx, uint64_t *lo, uint64_t *hi)
{
	unsigned int oct = idx / HIST_SUB, sub = idx % HIST_SUB, k;

	if (oct == 0) {
		*lo = *hi = idx;
		return;
	}
	k = oct + HIST_SUB_BITS - 1;
	*lo = (1ull << k) + ((uint64_t)sub << (k - HIST_SUB_BITS));
	*hi = *lo + (1ull << (k - HIST_SUB_BITS)) - 1;
}

void hist_record(struct hist *h, uint64_t ns)
{
	h->c[hist_index(ns)]++;
	h->count++;
	h->sum += (double)ns;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_BUCKETS; i++)
		dst->c[i] += src->c[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, lo, hi, v;
	unsigned int i;

	if (!h->count)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	/* the smallest value with at least q of the samples at or below it */
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->c[i];
		if (seen >= rank)
			break;
	}
	if (i == HIST_BUCKETS)
		return h->max;
	hist_bucket_range(i, &lo, &hi);
	v = lo + (hi - lo) / 2;
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

double hist_mean(const struct hist *h)
{
	return h->count ? h->sum / (double)h->count : 0;
}
