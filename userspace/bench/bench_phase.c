// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykv-bench's phases (bench_core.h): start the threads, collect their
 * stats every --interval-ms into the timeline's rows, read the marks that
 * divide the run into idle / during / after, and join the threads.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bench_core.h"

const char *const bench_phase_names[PH_N] = { "idle", "during", "after" };

struct markfile {
	FILE *f;
	char part[256];
	size_t plen;
};

static void add_mark(struct result *res, uint64_t real, const char *label)
{
	if (res->nmarks == res->marks_cap) {
		size_t cap = res->marks_cap ? res->marks_cap * 2 : 16;
		struct mark *m = realloc(res->marks, cap * sizeof(*m));

		if (!m)
			return;
		res->marks = m;
		res->marks_cap = cap;
	}
	res->marks[res->nmarks].real = real;
	snprintf(res->marks[res->nmarks].label, sizeof(res->marks[0].label), "%s", label);
	res->nmarks++;
	if (!O.quiet)
		fprintf(stderr, "steadykv-bench: mark %s at %+.3f s\n", label,
			((double)real - (double)res->start_real) / 1e9);
}

/* Read the complete lines added to the mark file since the last call. */
static void poll_marks(struct markfile *mf, struct result *res)
{
	int ch;

	if (!O.mark_file)
		return;
	if (!mf->f) {
		mf->f = fopen(O.mark_file, "r");
		if (!mf->f)
			return;
	}
	clearerr(mf->f);
	while ((ch = fgetc(mf->f)) != EOF) {
		unsigned long long ts;
		char label[48];

		if (ch != '\n') {
			if (mf->plen < sizeof(mf->part) - 1)
				mf->part[mf->plen++] = (char)ch;
			continue;
		}
		mf->part[mf->plen] = 0;
		mf->plen = 0;
		if (sscanf(mf->part, "%llu %47s", &ts, label) == 2)
			add_mark(res, ts, label);
	}
}

/* The phase of an instant (CLOCK_REALTIME ns) by the marks known. */
static int phase_of(const struct result *res, uint64_t real)
{
	uint64_t first = UINT64_MAX, start = UINT64_MAX, end = UINT64_MAX;
	size_t i;

	for (i = 0; i < res->nmarks; i++) {
		const struct mark *m = &res->marks[i];

		if (m->real < first)
			first = m->real;
		if (!strcmp(m->label, "migration-start") && start == UINT64_MAX)
			start = m->real;
		if (!strcmp(m->label, "migration-end") && start != UINT64_MAX &&
		    m->real >= start && end == UINT64_MAX)
			end = m->real;
	}
	if (real < first)
		return PH_IDLE;
	if (end != UINT64_MAX && real >= end)
		return PH_AFTER;
	if (start != UINT64_MAX && real >= start)
		return PH_DURING;
	return res->nmarks ? -1 : PH_IDLE;	/* between other marks: none */
}

/*
 * Interval statistics wait this many ticks before they are given a phase,
 * so that a mark written a little late still classifies them.  An interval
 * belongs to the phase of its midpoint.
 */
#define PHASE_LAG 16

struct pending_iv {
	struct stats s;
	uint64_t mid_real;
};

/* One interval's row of the timeline, from the stats of all threads. */
static void add_row(struct result *res, const struct stats *acc, double t_s, enum mode mode)
{
	struct row row;
	int j;

	memset(&row, 0, sizeof(row));
	row.t_s = t_s;
	row.ops = acc->ops;
	row.errors = acc->errors;
	row.redirects = acc->redirects;
	row.retries = acc->retries;
	row.p50 = hist_quantile(&acc->h, 0.5);
	row.p99 = hist_quantile(&acc->h, 0.99);
	row.p999 = hist_quantile(&acc->h, 0.999);
	row.max = acc->h.count ? acc->h.max : 0;
	for (j = 0; j < BENCH_MAX_NODES; j++)
		row.node_ops[j] = acc->node_ops[j];
	if (res->nrows == res->rows_cap) {
		size_t cap = res->rows_cap ? res->rows_cap * 2 : 256;
		struct row *nr = realloc(res->rows, cap * sizeof(*nr));

		if (nr) {
			res->rows = nr;
			res->rows_cap = cap;
		}
	}
	if (res->nrows < res->rows_cap)
		res->rows[res->nrows++] = row;
	if (!O.quiet && mode != MODE_LOAD &&
	    (res->nrows * O.interval_ms) % 1000 < O.interval_ms)
		fprintf(stderr, "  %6.1f s  %8.0f ops/s  p50 %8.1f us  p99.9 %9.1f us  err %llu\n",
			row.t_s, (double)row.ops * 1000.0 / O.interval_ms,
			(double)row.p50 / 1e3, (double)row.p999 / 1e3,
			(unsigned long long)row.errors);
}

/* Give an interval's stats to the phase of its midpoint, if it has one. */
static void add_to_phase(struct result *res, const struct pending_iv *iv)
{
	int ph = phase_of(res, iv->mid_real);

	if (ph >= 0) {
		bench_stats_merge(&res->phase[ph], &iv->s);
		res->phase_secs[ph] += O.interval_ms / 1000.0;
	}
}

/* Every interval until all threads are done: rows, and phases PHASE_LAG ticks late. */
static void collect(struct thr *thr, struct result *res, struct markfile *mf,
		    struct pending_iv *lag, struct stats *acc, enum mode mode, uint64_t start)
{
	uint64_t interval = (uint64_t)O.interval_ms * 1000000ull, tick;
	size_t nlag = 0, k;
	bool done = false;

	for (tick = start + interval; !done; tick += interval) {
		int i, running = 0;

		bench_sleep_until(tick);
		poll_marks(mf, res);
		bench_stats_reset(acc);
		for (i = 0; i < O.threads; i++) {
			pthread_mutex_lock(&thr[i].lock);
			bench_stats_merge(acc, &thr[i].cur);
			bench_stats_reset(&thr[i].cur);
			running += !thr[i].finished;
			pthread_mutex_unlock(&thr[i].lock);
		}
		done = !running;
		bench_stats_merge(&res->total, acc);
		add_row(res, acc, (double)(tick - start) / 1e9, mode);
		if (nlag == PHASE_LAG) {
			add_to_phase(res, &lag[0]);
			memmove(lag, lag + 1, (PHASE_LAG - 1) * sizeof(*lag));
			nlag--;
		}
		lag[nlag].s = *acc;
		lag[nlag].mid_real = res->start_real + (tick - start) - interval / 2;
		nlag++;
	}
	poll_marks(mf, res);
	for (k = 0; k < nlag; k++)
		add_to_phase(res, &lag[k]);
}

/*
 * After a phase's threads connected: say how it went (when there are many,
 * or asked to hold) and, the first time, hold them open --hold-s seconds.
 */
static void connected(struct thr *thr, uint64_t t0)
{
	static bool held;
	int i, ok = 0, failed = 0;

	for (i = 0; i < O.threads; i++) {
		ok += thr[i].conn_ok;
		failed += thr[i].conn_failed;
	}
	if (O.hold_s > 0 || (!O.quiet && ok + failed > 64))
		printf("connected %d of %d connections in %.2f s\n", ok, ok + failed,
		       (double)(bench_mono_ns() - t0) / 1e9);
	if (O.hold_s > 0 && !held) {
		held = true;
		printf("holding %d connections open for %.1f s\n", ok, O.hold_s);
		fflush(stdout);
		for (uint64_t until = bench_mono_ns() + (uint64_t)(O.hold_s * 1e9);
		     !stop_flag && bench_mono_ns() < until;)
			bench_sleep_until(bench_mono_ns() + 100000000ull);
		printf("hold over\n");
	}
	fflush(stdout);
}

int bench_run_phase(enum mode mode, double secs, double rate, struct result *res)
{
	struct thr *thr = calloc((size_t)O.threads, sizeof(*thr));
	struct pending_iv *lag = calloc(PHASE_LAG, sizeof(*lag));
	struct stats *acc = malloc(sizeof(*acc));
	struct markfile mf = { 0 };
	uint64_t start, end;
	int i, ret = -1;

	if (!thr || !lag || !acc)
		goto out;
	memset(res, 0, sizeof(*res));
	bench_stats_reset(&res->total);
	for (i = 0; i < PH_N; i++)
		bench_stats_reset(&res->phase[i]);
	/* connect first: thousands of connections take a while */
	start = bench_mono_ns();
	for (i = 0; i < O.threads; i++)
		bench_thr_setup(&thr[i], i, mode);
	connected(thr, start);
	start = bench_mono_ns() + 100000000ull;	/* 100 ms to set up */
	end = mode == MODE_LOAD ? UINT64_MAX : start + (uint64_t)(secs * 1e9);
	res->start_mono = start;
	res->start_real = bench_real_ns() + (start - bench_mono_ns());
	if (mode == MODE_OPEN && O.phase_start_s >= 0) {
		add_mark(res, res->start_real + (uint64_t)(O.phase_start_s * 1e9),
			 "migration-start");
		if (O.phase_end_s >= 0)
			add_mark(res, res->start_real + (uint64_t)(O.phase_end_s * 1e9),
				 "migration-end");
	}

	for (i = 0; i < O.threads; i++)
		bench_thr_arm(&thr[i], start, end, rate);
	for (i = 0; i < O.threads; i++)
		if (bench_thr_start(&thr[i])) {
			fprintf(stderr, "steadykv-bench: pthread_create failed\n");
			exit(1);
		}
	collect(thr, res, &mf, lag, acc, mode, start);
	for (i = 0; i < O.threads; i++) {
		struct thr *t = &thr[i];

		pthread_join(t->th, NULL);
		bench_stats_merge(&res->total, &t->cur);	/* the last words */
		if (t->end == UINT64_MAX || stop_flag)
			res->secs = (double)(bench_mono_ns() - start) / 1e9;
		bench_thr_teardown(t);
	}
	if (!res->secs)
		res->secs = secs;
	if (mode == MODE_LOAD)
		res->secs = (double)(bench_mono_ns() - start) / 1e9;
	ret = 0;
out:
	if (mf.f)
		fclose(mf.f);
	free(thr);
	free(lag);
	free(acc);
	return ret;
}
