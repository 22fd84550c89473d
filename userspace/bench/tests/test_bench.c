// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host tests of steadykv-bench's building blocks (TAP): the histogram's
 * percentiles against known distributions, YCSB's zipfian skew, the
 * schedule's spacing, the key format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_gen.h"
#include "bench_hist.h"

static int failed, n_test;

static void ok(int cond, const char *fmt, double a, double b)
{
	n_test++;
	printf("%s %d - ", cond ? "ok" : "not ok", n_test);
	printf(fmt, a, b);
	printf("\n");
	if (!cond)
		failed++;
}

static int close_rel(double got, double want, double tol)
{
	return fabs(got - want) <= tol * fabs(want);
}

static void test_hist_buckets(void)
{
	uint64_t v, lo, hi;
	int bad = 0;

	for (v = 1; v < HIST_MAX_NS; v += v / 97 + 1) {
		unsigned int i = hist_index(v);

		hist_bucket_range(i, &lo, &hi);
		if (i >= HIST_BUCKETS || v < lo || v > hi || (double)(hi - lo) > lo / 63.0)
			bad++;
		if (i && hist_index(lo - 1) != i - 1)	/* contiguous */
			bad++;
	}
	ok(!bad, "hist: every value in its bucket, buckets contiguous, width <= 1/64 (%g bad, %g)",
	   bad, 0);
	ok(hist_index(HIST_MAX_NS * 10) == HIST_BUCKETS - 1 ||
	   hist_index(HIST_MAX_NS * 10) == hist_index(HIST_MAX_NS),
	   "hist: values over 60 s land in the top bucket (%g, %g)",
	   hist_index(HIST_MAX_NS * 10), HIST_BUCKETS - 1);
}

static void test_hist_uniform(void)
{
	struct hist *h = malloc(sizeof(*h)), *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	uint64_t i;
	int k;

	hist_reset(h);
	hist_reset(a);
	hist_reset(b);
	/* 1 us .. 100 ms, uniform */
	for (i = 1; i <= 100000; i++) {
		hist_record(h, i * 1000);
		hist_record(i % 2 ? a : b, i * 1000);
	}
	for (k = 0; k < 4; k++)
		ok(close_rel((double)hist_quantile(h, qs[k]), qs[k] * 1e8, 0.01),
		   "hist uniform: quantile %g within 1%% of %g ns", qs[k], qs[k] * 1e8);
	ok(h->min == 1000 && h->max == 100000000, "hist: exact min %g and max %g",
	   (double)h->min, (double)h->max);
	ok(close_rel(hist_mean(h), 50000500.0, 1e-9), "hist: mean %g == %g", hist_mean(h),
	   50000500.0);
	hist_merge(a, b);
	for (k = 0; k < 4; k++)
		ok(hist_quantile(a, qs[k]) == hist_quantile(h, qs[k]),
		   "hist merge: quantile %g of the halves merged == %g of the whole",
		   qs[k], qs[k]);
	ok(a->count == h->count, "hist merge: count %g == %g", (double)a->count,
	   (double)h->count);
	free(h);
	free(a);
	free(b);
}

static void test_hist_exponential(void)
{
	struct hist *h = malloc(sizeof(*h));
	const double qs[] = { 0.5, 0.99, 0.999 };
	struct rng r;
	int i, k;

	hist_reset(h);
	rng_seed(&r, 7);
	/* exponential, mean 50 us: quantile q is -ln(1-q) * mean */
	for (i = 0; i < 2000000; i++)
		hist_record(h, (uint64_t)(-log(1 - rng_double(&r)) * 50000.0));
	for (k = 0; k < 3; k++) {
		double want = -log(1 - qs[k]) * 50000.0;

		ok(close_rel((double)hist_quantile(h, qs[k]), want, 0.03),
		   "hist exponential: quantile %g within 3%% of %g ns", qs[k], want);
	}
	hist_reset(h);
	ok(hist_quantile(h, 0.99) == 0 && hist_mean(h) == 0,
	   "hist: empty gives 0 (%g, %g)", 0, 0);
	free(h);
}

static void test_zipf(void)
{
	const uint64_t n = 1000;
	const int draws = 2000000;
	unsigned int *cnt = calloc(n, sizeof(*cnt)), *scnt = calloc(n, sizeof(*scnt));
	struct zipf z;
	struct rng r;
	unsigned int top = 0;
	double zetan = zipf_zeta(n, 0.99);
	uint64_t i;
	int bad = 0;

	ok(zipf_init(&z, n, 0.99) == 0, "zipf: init (n %g, theta %g)", (double)n, 0.99);
	ok(zipf_init(&z, n, 1.0) < 0, "zipf: theta %g refused (%g)", 1.0, 0);
	zipf_init(&z, n, 0.99);
	rng_seed(&r, 3);
	for (i = 0; i < (uint64_t)draws; i++) {
		uint64_t rank = zipf_rank(&z, &r), k = fnv64(rank) % n;

		if (rank >= n)
			bad++;
		else
			cnt[rank]++;
		scnt[k]++;
	}
	ok(!bad, "zipf: ranks in range (%g out, %g)", bad, 0);
	/* P(rank 0) = 1/zeta(n), P(rank 1) = 1/(2^theta zeta(n)) */
	ok(close_rel((double)cnt[0] / draws, 1 / zetan, 0.03),
	   "zipf: rank 0 frequency %g ~ 1/zeta(n) = %g", (double)cnt[0] / draws, 1 / zetan);
	ok(close_rel((double)cnt[1] / draws, 1 / (pow(2, 0.99) * zetan), 0.05),
	   "zipf: rank 1 frequency %g ~ %g", (double)cnt[1] / draws,
	   1 / (pow(2, 0.99) * zetan));
	ok((double)(cnt[0] + cnt[1] + cnt[2] + cnt[3] + cnt[4]) / draws > 0.25,
	   "zipf: top 5 ranks take %g of the draws (> %g)",
	   (double)(cnt[0] + cnt[1] + cnt[2] + cnt[3] + cnt[4]) / draws, 0.25);
	for (i = 0; i < n; i++)
		if (scnt[i] > top)
			top = scnt[i];
	ok(top >= cnt[0] && scnt[fnv64(0) % n] >= cnt[0],
	   "zipf scrambled: the hottest key (%g draws) is rank 0's (%g)", top, cnt[0]);
	ok(fnv64(0) % n != 0 || fnv64(1) % n != 1,
	   "zipf scrambled: ranks are spread (%g, %g)", (double)(fnv64(0) % n),
	   (double)(fnv64(1) % n));
	/* theta 0: uniform */
	zipf_init(&z, n, 0);
	memset(cnt, 0, n * sizeof(*cnt));
	for (i = 0; i < (uint64_t)draws; i++)
		cnt[zipf_rank(&z, &r)]++;
	top = 0;
	for (i = 0; i < n; i++)
		if (cnt[i] > top)
			top = cnt[i];
	ok(top < 1.2 * draws / n, "zipf theta 0: the most drawn rank has %g < %g",
	   top, 1.2 * draws / n);
	free(cnt);
	free(scnt);
}

static void test_sched(void)
{
	struct sched s;
	struct rng r;
	double sum = 0, sum2 = 0;
	uint64_t prev, t;
	int i, bad = 0;
	const int n = 200000;

	rng_seed(&r, 5);
	sched_init(&s, 300000, 0, 1000);	/* 3333.33 ns apart */
	prev = sched_next(&s, &r);
	ok(prev == 1000, "sched: starts at the start (%g, %g)", (double)prev, 1000);
	for (i = 1; i <= 3000; i++) {
		t = sched_next(&s, &r);
		if (t - prev < 3333 || t - prev > 3334)
			bad++;
		prev = t;
	}
	ok(!bad && close_rel((double)(prev - 1000), 3000 * 1e9 / 300000, 1e-6),
	   "sched uniform: even gaps, 3000 sends in %g ns (%g)", (double)(prev - 1000),
	   3000 * 1e9 / 300000);
	sched_init(&s, 100000, 1, 0);
	prev = sched_next(&s, &r);
	for (i = 0; i < n; i++) {
		double g;

		t = sched_next(&s, &r);
		g = (double)(t - prev);
		sum += g;
		sum2 += g * g;
		prev = t;
	}
	ok(close_rel(sum / n, 10000, 0.02), "sched poisson: mean gap %g ~ %g ns", sum / n, 10000);
	ok(close_rel(sqrt(sum2 / n - (sum / n) * (sum / n)) / (sum / n), 1, 0.03),
	   "sched poisson: coefficient of variation %g ~ %g",
	   sqrt(sum2 / n - (sum / n) * (sum / n)) / (sum / n), 1);
}

static void test_keys(void)
{
	char k[64];
	int r = make_key(k, 30, 42);

	ok(r == 0 && strlen(k) == 30 && !strcmp(k, "user00000000000000000000000042"),
	   "keys: 30 bytes, user + zero-padded (%g, %g)", (double)strlen(k), 30);
	ok(make_key(k, 6, 123) < 0 && make_key(k, 6, 99) == 0,
	   "keys: refused when the number does not fit (%g, %g)", 6, 123);
}

int main(void)
{
	printf("TAP version 13\n");
	test_hist_buckets();
	test_hist_uniform();
	test_hist_exponential();
	test_zipf();
	test_sched();
	test_keys();
	printf("1..%d\n", n_test);
	printf("# %d passed, %d failed\n", n_test - failed, failed);
	return failed ? 1 : 0;
}
