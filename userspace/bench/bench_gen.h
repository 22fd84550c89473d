/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Workload generation for steadykv-bench: a per-thread PRNG, YCSB's
 * scrambled zipfian key chooser, the open-loop send schedule, and keys.
 */
#ifndef BENCH_GEN_H
#define BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

/* xoshiro256** seeded by splitmix64: one per thread. */
struct rng {
	uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
double rng_double(struct rng *r);	/* [0, 1) */

/*
 * YCSB's ZipfianGenerator over [0, items) with skew theta (0 <= theta < 1;
 * 0 is uniform), and ScrambledZipfianGenerator on top: the rank drawn is
 * spread over the key space by FNV-1a 64 (YCSB's fnvhash64) modulo items,
 * so the hot keys are not neighbours (and land in every tablet).
 */
struct zipf {
	uint64_t items;
	double theta, alpha, zetan, eta, half_pow_theta;
};

/* 0, or -1 if the parameters are out of range. */
int zipf_init(struct zipf *z, uint64_t items, double theta);
uint64_t zipf_rank(const struct zipf *z, struct rng *r);	/* unscrambled */
uint64_t zipf_next(const struct zipf *z, struct rng *r);	/* scrambled */
uint64_t fnv64(uint64_t v);
double zipf_zeta(uint64_t n, double theta);

/*
 * Open-loop schedule: intended send times, uniform spacing or Poisson
 * arrivals (exponential gaps) at rate per second.  Times in ns from any
 * origin; the schedule never looks at the clock, so a slow system does not
 * slow it down (no coordinated omission).
 */
struct sched {
	double gap_ns;		/* mean gap */
	int poisson;
	double next;		/* ns, double so tiny gaps do not round away */
};

void sched_init(struct sched *s, double rate, int poisson, uint64_t start_ns);
/* The next intended send time, then advance. */
uint64_t sched_next(struct sched *s, struct rng *r);
static inline uint64_t sched_peek(const struct sched *s)
{
	return (uint64_t)s->next;
}

/* "user" + the index zero-padded to key_size bytes; -1 if it cannot fit. */
int make_key(char *buf, size_t key_size, uint64_t idx);

#endif
