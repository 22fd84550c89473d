/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the guest fuzzers (fuzz_wire.c, fuzz_netlink.c, fake_source.c):
 * a seeded generator, so that a seed names a run, and little-endian field
 * access into wire buffers.
 */
#ifndef SKV_FUZZ_UTIL_H
#define SKV_FUZZ_UTIL_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

/* xorshift64*: the state must not be 0 (fz_seed() sees to it). */
static uint64_t fz_state = 1;

static inline void fz_seed(uint64_t seed)
{
	fz_state = seed ? seed : 1;
}

static inline uint64_t rnd(void)
{
	fz_state ^= fz_state >> 12;
	fz_state ^= fz_state << 25;
	fz_state ^= fz_state >> 27;
	return fz_state * 0x2545F4914F6CDD1Dull;
}

/* Uniform enough in [0, n); 0 when n is 0. */
static inline uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

#endif /* SKV_FUZZ_UTIL_H */
