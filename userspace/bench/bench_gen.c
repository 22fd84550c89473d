// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Workload generation: see bench_gen.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench_gen.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

double rng_double(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

double zipf_zeta(uint64_t n, double theta)
{
	double sum = 0;
	uint64_t i;

	for (i = 1; i <= n; i++)
		sum += 1.0 / pow((double)i, theta);
	return sum;
}

int zipf_init(struct zipf *z, uint64_t items, double theta)
{
	double zeta2;

	if (!items || theta < 0 || theta >= 1)
		return -1;
	memset(z, 0, sizeof(*z));
	z->items = items;
	z->theta = theta;
	z->alpha = 1.0 / (1.0 - theta);
	/* O(items), as YCSB does: about 1 s per 100 M items */
	z->zetan = zipf_zeta(items, theta);
	zeta2 = zipf_zeta(2, theta);
	z->half_pow_theta = 1.0 + pow(0.5, theta);
	if (items > 2)
		z->eta = (1.0 - pow(2.0 / (double)items, 1.0 - theta)) /
			 (1.0 - zeta2 / z->zetan);
	return 0;
}

uint64_t zipf_rank(const struct zipf *z, struct rng *r)
{
	double u = rng_double(r), uz = u * z->zetan;
	uint64_t v;

	if (uz < 1.0 || z->items == 1)
		return 0;
	if (uz < z->half_pow_theta || z->items == 2)
		return 1;
	v = (uint64_t)((double)z->items * pow(z->eta * u - z->eta + 1.0, z->alpha));
	return v < z->items ? v : z->items - 1;
}

/* YCSB Utils.fnvhash64: FNV-1a over the 8 bytes, low byte first. */
uint64_t fnv64(uint64_t v)
{
	uint64_t h = 0xcbf29ce484222325ull;
	int i;

	for (i = 0; i < 8; i++) {
		h ^= v & 0xff;
		h *= 1099511628211ull;
		v >>= 8;
	}
	/* YCSB takes Math.abs of the signed value */
	return (int64_t)h < 0 ? (uint64_t)(-(int64_t)h) : h;
}

uint64_t zipf_next(const struct zipf *z, struct rng *r)
{
	return fnv64(zipf_rank(z, r)) % z->items;
}

void sched_init(struct sched *s, double rate, int poisson, uint64_t start_ns)
{
	s->gap_ns = 1e9 / rate;
	s->poisson = poisson;
	s->next = (double)start_ns;
}

uint64_t sched_next(struct sched *s, struct rng *r)
{
	uint64_t t = (uint64_t)s->next;

	if (s->poisson)
		s->next += -log(1.0 - rng_double(r)) * s->gap_ns;
	else
		s->next += s->gap_ns;
	return t;
}

int make_key(char *buf, size_t key_size, uint64_t idx)
{
	int n;

	if (key_size < 5)
		return -1;
	n = snprintf(buf, key_size + 1, "user%0*llu", (int)(key_size - 4),
		     (unsigned long long)idx);
	return n == (int)key_size ? 0 : -1;
}
