/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the host tests of the store core. */
#ifndef SKV_TEST_UTIL_H
#define SKV_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "store.h"
#include "record.h"
#include "log.h"
#include "scan.h"
#include "replay.h"
#include "tablet.h"

#define T1 1ull

static inline bool test_small(void)
{
	return getenv("SKV_TEST_SMALL") != NULL;
}

static inline struct skv_store *store_new(u32 seg_size, u64 limit, u32 log2)
{
	struct skv_store_config cfg = {
		.segment_size = seg_size,
		.index_buckets_log2 = log2,
		.mem_limit = limit,
	};
	struct skv_tablet_info t = { T1, 0, U64_MAX, SKV_TABLET_NORMAL };
	struct skv_store *s;

	if (skv_store_create(&cfg, &s))
		return NULL;
	if (skv_table_add(s, T1) || skv_tablet_add(s, &t)) {
		skv_store_destroy(s);
		return NULL;
	}
	return s;
}

/* Key i: 30 bytes, like the paper's workload. */
static inline u32 key_of(u64 i, char *buf)
{
	snprintf(buf, 31, "key-%026llu", (unsigned long long)i);
	return 30;
}

/* A value that names its key and a generation, so readers can check it. */
static inline u32 val_of(u64 i, u64 gen, u32 len, char *buf)
{
	u32 n;

	n = snprintf(buf, len + 1, "v%llu/%llu/", (unsigned long long)i,
		     (unsigned long long)gen);
	for (; n < len; n++)
		buf[n] = 'a' + (i + gen + n) % 26;
	return len;
}

static inline int put_i(struct skv_store *s, u64 table, u64 i, u64 gen,
			u32 vlen, u64 expect, u64 *ver)
{
	char k[32], v[4096];
	u32 kl = key_of(i, k);

	val_of(i, gen, vlen, v);
	return skv_store_put(s, table, k, kl, skv_key_hash(k, kl), v, vlen, expect,
		       ver);
}

static inline int del_i(struct skv_store *s, u64 table, u64 i, u64 expect,
			u64 *ver)
{
	char k[32];
	u32 kl = key_of(i, k);

	return skv_store_delete(s, table, k, kl, skv_key_hash(k, kl), expect, ver);
}

static inline int get_i(struct skv_store *s, u64 table, u64 i, char *buf,
			u32 cap, u32 *vlen, u64 *ver)
{
	char k[32];
	u32 kl = key_of(i, k);

	return skv_store_get(s, table, k, kl, skv_key_hash(k, kl), buf, cap, vlen,
		       ver);
}

/* Does buf hold exactly value (i, gen)? */
static inline bool val_is(const char *buf, u32 len, u64 i, u64 gen, u32 vlen)
{
	char want[4096];

	if (len != vlen)
		return false;
	val_of(i, gen, vlen, want);
	return !memcmp(buf, want, len);
}

/* Parse the (i, gen) a value names; false if it is not a value of ours. */
static inline bool val_parse(const char *buf, u32 len, u64 *i, u64 *gen)
{
	unsigned long long a, b;
	char tmp[64];

	if (len < 4 || len > 4096)
		return false;
	memcpy(tmp, buf, len < 63 ? len : 63);
	tmp[len < 63 ? len : 63] = 0;
	if (sscanf(tmp, "v%llu/%llu/", &a, &b) != 2)
		return false;
	*i = a;
	*gen = b;
	return val_is(buf, len, a, b, len);
}

/* The id a record's key names (keys are not NUL-terminated). */
static inline int key_id(const struct skv_rec_view *v, unsigned long long *i)
{
	char k[64];
	u32 n = v->key_len < 63 ? v->key_len : 63;

	memcpy(k, v->key, n);
	k[n] = 0;
	return sscanf(k, "key-%26llu", i);
}

static inline struct skv_store_stats stats_of(struct skv_store *s)
{
	struct skv_store_stats st;

	skv_store_get_stats(s, &st);
	return st;
}

/* Run the cleaner until it frees nothing more (bounded). */
static inline long clean_all(struct skv_store *s)
{
	long total = 0, r;
	int i;

	for (i = 0; i < 1000; i++) {
		r = skv_cleaner_run(s, 64);
		if (r <= 0)
			break;
		total += r;
	}
	return total;
}

#endif /* SKV_TEST_UTIL_H */
