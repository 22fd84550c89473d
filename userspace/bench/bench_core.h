/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * steadykv-bench's core, shared by its files (the drivers see only
 * steadykv_bench.h): the options, a thread's event loop and connections
 * (bench_loop.c), the phases with their ticks and marks (bench_phase.c),
 * the output (bench_out.c) and main (steadykv_bench.c).
 */
#ifndef STEADYKV_BENCH_CORE_H
#define STEADYKV_BENCH_CORE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench_gen.h"
#include "bench_hist.h"
#include "steadykv.h"
#include "steadykv_bench.h"

#define NO_SLOT		UINT32_MAX

/* ---- options and state ---- */

enum mode { MODE_OPEN, MODE_CLOSED, MODE_LOAD };

struct opts {
	struct bench_cfg cfg;
	int threads, conns;
	double rate, rate_frac;
	int poisson;
	double duration_s, capacity_s, drain_s;
	unsigned int depth;
	unsigned int interval_ms;
	uint32_t max_outstanding;
	uint64_t seed;
	int load, run, capacity, quiet;
	const char *timeline, *json, *mark_file;
	double phase_start_s, phase_end_s;	/* --phases; <0 when unset */
	double hold_s;		/* --hold-s: the first phase's connections idle first */
	const char *workload;
};

/* The options (steadykv_bench.c fills them), a signal's stop, the key distribution. */
extern struct opts O;
extern volatile sig_atomic_t stop_flag;
extern const struct zipf *g_zipf;

struct stats {
	struct hist h;
	uint64_t ops, errors, misses, redirects, retries, unsent;
	uint64_t node_ops[BENCH_MAX_NODES];
};

void bench_stats_reset(struct stats *s);
void bench_stats_merge(struct stats *d, const struct stats *s);

struct req {
	uint64_t intended;	/* ns, monotonic */
	uint64_t keyidx, khash;
	uint32_t next_free;
	uint16_t redirects;
	int8_t ask_node;	/* >= 0: send ASKING + the request there once */
	uint8_t op;
	uint8_t node;		/* where it was last sent */
};

struct conn {
	int fd;			/* -1: not connected */
	int node;
	bool dirty, want_out;
	bool connecting;	/* up front: the handshake is under way */
	uint64_t down_until;	/* ns: do not reconnect before */
	struct buf out, in;
	struct pend *q;		/* ring of replies awaited */
	uint32_t qhead, qlen, qcap;
	void *cs;
};

struct timer {
	uint64_t t;
	uint32_t slot;
};

struct thr {
	int tid;
	pthread_t th;
	enum mode mode;
	struct rng rng;
	struct sched sched;
	const struct zipf *zipf;
	void *ts;
	int epfd;
	int nc;			/* connections per node in this thread */
	int conn_ok, conn_failed;	/* connected up front, or not */
	size_t read_chunk;	/* room made in an input buffer per recv */
	struct conn *conns[BENCH_MAX_NODES];
	unsigned int rr[BENCH_MAX_NODES];
	struct conn **dirty;
	int ndirty;
	struct req *reqs;
	uint32_t nreqs, free_head, inflight;
	struct timer *heap;
	uint32_t nheap;
	uint64_t next_id;
	uint64_t start, end;	/* ns: issue from start until end */
	uint64_t load_next;	/* MODE_LOAD: next record index */
	uint32_t limit;		/* closed loop: outstanding requests */
	bool issuing;
	bool finished;		/* the thread has returned (under lock) */
	uint64_t stopped;	/* ns: when issuing stopped, for the drain */
	int errmsgs;
	pthread_mutex_t lock;	/* guards cur */
	struct stats cur;
	char key[SKV_MAX_KEY_LEN + 1];
};

uint64_t bench_mono_ns(void);
uint64_t bench_real_ns(void);
void bench_sleep_until(uint64_t t);

/* ---- a thread (bench_loop.c) ---- */

/*
 * Thread i of a phase in mode, its connections opened up front (counted
 * in conn_ok and conn_failed).  Exits on out of memory.
 */
void bench_thr_setup(struct thr *t, int i, enum mode mode);
/* Then: issue from start until end (open loop: rate ops/s over all threads). */
void bench_thr_arm(struct thr *t, uint64_t start, uint64_t end, double rate);
/* Run the thread; pthread_create()'s result. */
int bench_thr_start(struct thr *t);
/* After pthread_join: close and free what setup and the loop made. */
void bench_thr_teardown(struct thr *t);

/* ---- phases (bench_phase.c) ---- */

struct row {
	double t_s;
	uint64_t ops, errors, redirects, retries;
	uint64_t p50, p99, p999, max;
	uint64_t node_ops[BENCH_MAX_NODES];
};

struct mark {
	uint64_t real;
	char label[48];
};

enum { PH_IDLE, PH_DURING, PH_AFTER, PH_N };
extern const char *const bench_phase_names[PH_N];

struct result {
	struct stats total;
	double secs;		/* of issuing */
	uint64_t start_mono, start_real;
	struct row *rows;
	size_t nrows, rows_cap;
	struct stats phase[PH_N];
	double phase_secs[PH_N];	/* whole intervals given to each phase */
	struct mark *marks;
	size_t nmarks, marks_cap;
};

int bench_run_phase(enum mode mode, double secs, double rate, struct result *res);

/* ---- output (bench_out.c) ---- */

struct summary {
	bool have_load, have_cap, have_run;
	struct result load, cap, run;
	double cap_ops, rate;
};

void bench_print_lat(FILE *f, const char *name, const struct stats *s, double secs);
int bench_write_timeline(const char *path, const struct result *res);
int bench_write_json(const char *path, const struct summary *sm);

#endif /* STEADYKV_BENCH_CORE_H */
