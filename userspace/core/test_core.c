// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the store core on the host (kselftest harness, TAP):
 * checksums, records, get/put/delete semantics, versions, ownership,
 * memory limit, cleaner, tombstone rule, segment certificates, scan,
 * replay and side logs.
 */
#include "test_util.h"
#include "kselftest_harness.h"
#ifdef DBG
#include "/tmp/dbg.h"
#endif

/* crc32c a bit at a time: the definition the library's is checked on. */
static u32 crc32c_bitwise(u32 crc, const void *p, size_t len)
{
	const u8 *b = p;
	int k;

	while (len--) {
		crc ^= *b++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return crc;
}

#define SEG64K		(64u << 10)

FIXTURE(st) {
	struct skv_store *s;
};

FIXTURE_SETUP(st)
{
	skv_thread_online();
	self->s = store_new(SEG64K, 64ull << 20, 12);
	ASSERT_NE(NULL, self->s);
}

FIXTURE_TEARDOWN(st)
{
	skv_store_destroy(self->s);
	skv_thread_offline();
}

TEST(crc32c_and_xxh64_vectors)
{
	static const char v[] = "123456789";
	static u8 buf[64u << 10];	/* as long as a pull batch */
	u32 i, len;

	ASSERT_EQ(0xE3069283u, skv_crc32c_std(v, 9));
	ASSERT_EQ(0xE3069283u, ~crc32c_bitwise(~0u, v, 9));
	/* 32 bytes of zeros: RFC 3720 B.4. */
	memset(buf, 0, 32);
	ASSERT_EQ(0x8A9136AAu, skv_crc32c_std(buf, 32));
	memset(buf, 0xff, 32);
	ASSERT_EQ(0x62A8AB43u, skv_crc32c_std(buf, 32));
	srand(1);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = rand();
	for (len = 0; len < 200; len++)
		ASSERT_EQ(crc32c_bitwise(~0u, buf + len % 7, len * 13),
			  skv_crc32c(~0u, buf + len % 7, len * 13));
	/* Long buffers, where the library runs several streams. */
	for (len = 8192; len <= sizeof(buf) - 8; len *= 2)
		ASSERT_EQ(crc32c_bitwise(~0u, buf + 3, len + 5),
			  skv_crc32c(~0u, buf + 3, len + 5));
	/* Chaining equals one pass. */
	ASSERT_EQ(skv_crc32c(skv_crc32c(~0u, buf, 100), buf + 100, 300),
		  skv_crc32c(~0u, buf, 400));
	ASSERT_EQ(0xEF46DB3751D8E999ull, skv_key_hash("", 0));
}

TEST(record_roundtrip_and_corruption)
{
	u8 rec[256], bad[256];
	struct skv_rec_view v;
	const char *key = "hello", *val = "world!";
	u32 len = skv_rec_len(5, 6), i, bit;

	ASSERT_EQ(56u, len);
	skv_rec_write(rec, SKV_REC_OBJECT, 7, skv_key_hash(key, 5), 42, key, 5,
		      val, 6, skv_rec_payload_crc(key, 5, val, 6));
	ASSERT_EQ(0, skv_rec_parse(rec, len, SKV_PARSE_CHECK_HASH, &v));
	ASSERT_EQ(SKV_REC_OBJECT, v.type);
	ASSERT_EQ(7u, v.table_id);
	ASSERT_EQ(42u, v.version);
	ASSERT_EQ(5u, v.key_len);
	ASSERT_EQ(6u, v.value_len);
	ASSERT_EQ(len, v.len);
	ASSERT_EQ(0, memcmp(v.key, key, 5));
	ASSERT_EQ(0, memcmp(v.value, val, 6));
	/* Every truncation is caught as such. */
	for (i = 0; i < len; i++)
		ASSERT_EQ(-EINVAL, skv_rec_parse(rec, i, 0, &v));
	/* Every single bit flip is caught. */
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			int r;

			memcpy(bad, rec, len);
			bad[i] ^= 1u << bit;
			r = skv_rec_parse(bad, len, SKV_PARSE_CHECK_HASH, &v);
			ASSERT_TRUE(r == -EBADMSG || r == -EINVAL);
		}
	}
	/* A right crc over a wrong key hash is caught by the hash check. */
	skv_rec_write(rec, SKV_REC_TOMBSTONE, 7, 12345, 43, key, 5, NULL, 0,
		      skv_rec_payload_crc(key, 5, NULL, 0));
	ASSERT_EQ(0, skv_rec_parse(rec, skv_rec_len(5, 0), 0, &v));
	ASSERT_EQ(SKV_REC_TOMBSTONE, v.type);
	ASSERT_EQ(-EBADMSG, skv_rec_parse(rec, skv_rec_len(5, 0),
					  SKV_PARSE_CHECK_HASH, &v));
}

TEST_F(st, put_get_delete_versions)
{
	struct skv_store *s = self->s;
	char buf[4096];
	u64 v1, v2, v3, v4, ver;
	u32 len;

	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, T1, 1, buf, sizeof(buf), &len, &ver));
	ASSERT_EQ(0u, ver);
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 1, 1, 100, 0, &v1));
	ASSERT_EQ(SKV_S_OK, get_i(s, T1, 1, buf, sizeof(buf), &len, &ver));
	ASSERT_EQ(v1, ver);
	ASSERT_TRUE(val_is(buf, len, 1, 1, 100));
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 1, 2, 300, 0, &v2));
	ASSERT_GT(v2, v1);
	ASSERT_EQ(SKV_S_OK, get_i(s, T1, 1, buf, sizeof(buf), &len, &ver));
	ASSERT_EQ(v2, ver);
	ASSERT_TRUE(val_is(buf, len, 1, 2, 300));
	/* Value too big for the caller's buffer: size needed is reported. */
	ASSERT_EQ(SKV_S_TOO_BIG, get_i(s, T1, 1, buf, 10, &len, &ver));
	ASSERT_EQ(300u, len);
	ASSERT_EQ(SKV_S_OK, del_i(s, T1, 1, 0, &v3));
	ASSERT_GT(v3, v2);
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, T1, 1, buf, sizeof(buf), &len, &ver));
	ASSERT_EQ(v3, ver);
	/* Deleting a deleted key writes nothing. */
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(s, T1, 1, 0, &ver));
	ASSERT_EQ(v3, ver);
	ASSERT_EQ(v3, skv_store_version(s));
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 1, 4, 50, 0, &v4));
	ASSERT_GT(v4, v3);
	ASSERT_EQ(SKV_S_OK, get_i(s, T1, 1, buf, sizeof(buf), &len, &ver));
	ASSERT_TRUE(val_is(buf, len, 1, 4, 50));
	/* Empty values and tables apart. */
	ASSERT_EQ(SKV_S_OK, skv_store_put(s, T1, "e", 1, skv_key_hash("e", 1), "", 0,
				    0, &ver));
	ASSERT_EQ(SKV_S_OK, skv_store_get(s, T1, "e", 1, skv_key_hash("e", 1), buf,
				    sizeof(buf), &len, &ver));
	ASSERT_EQ(0u, len);
	/* Limits. */
	ASSERT_EQ(SKV_S_TOO_BIG, skv_store_put(s, T1, buf, SKV_MAX_KEY_LEN + 1, 0,
					 "", 0, 0, &ver));
	ASSERT_EQ(SKV_S_TOO_BIG, skv_store_put(s, T1, "k", 1, skv_key_hash("k", 1),
					 buf, SEG64K, 0, &ver));
	/* Raising the version floor never lowers it. */
	skv_store_raise_version(s, 1000);
	ASSERT_EQ(1000u, skv_store_version(s));
	skv_store_raise_version(s, 10);
	ASSERT_EQ(1000u, skv_store_version(s));
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 1, 5, 50, 0, &ver));
	ASSERT_EQ(1001u, ver);
	ASSERT_EQ(2u, stats_of(s).objects);
	ASSERT_EQ(0u, stats_of(s).tombstones);
}

/*
 * A rolling prefetch over more lookups than its ring holds (so the ring
 * wraps), with keys of two tables that share a hash, keys never
 * written, a deleted key, the hashes at both ends and a value too big
 * for its buffer: each GET after skv_store_lookahead() answers as ever,
 * and ASan sees no read of anything not there.
 */
TEST_F(st, lookahead_then_get_answers_as_get)
{
	const u32 n = 3 * SKV_LOOKAHEAD_RING + 5;
	struct skv_store *s = self->s;
	struct skv_tablet_info t = { T1 + 1, 0, U64_MAX, SKV_TABLET_NORMAL };
	u64 ring[SKV_LOOKAHEAD_RING], hash[3 * SKV_LOOKAHEAD_RING + 5];
	u64 written[3 * SKV_LOOKAHEAD_RING + 5], ver, table;
	u32 i, j, hashed = 0, len;
	char key[8], src[16], val[8];

	ASSERT_EQ(0, skv_table_add(s, T1 + 1));
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%03u", i);
		snprintf(src, sizeof(src), "%sabcd", key);
		/* Keys 10-15 share one hash, in tables T1 and T1 + 1. */
		hash[i] = i >= 10 && i < 16 ? 0x4000000000000000ull :
			  i == 20 ? 0 : i == 21 ? ~0ull : skv_key_hash(key, 4);
		written[i] = 0;
		if (i % 3 == 2)
			continue;	/* never written */
		ASSERT_EQ(SKV_S_OK, skv_store_put(s, T1 + i % 2, key, 4,
						  hash[i], src, 4 + i % 5, 0,
						  &written[i]));
	}
	ASSERT_EQ(SKV_S_OK, skv_store_delete(s, T1 + 1, "k013", 4, hash[13], 0,
					     &written[13]));
	for (i = 0; i < n; i++) {
		for (; hashed < n && hashed < i + SKV_LOOKAHEAD_KEYS; hashed++)
			ring[hashed % SKV_LOOKAHEAD_RING] = hash[hashed];
		skv_store_lookahead(s, ring, n, i);
		snprintf(key, sizeof(key), "k%03u", i);
		snprintf(src, sizeof(src), "%sabcd", key);
		j = i % SKV_LOOKAHEAD_RING;
		table = T1 + i % 2;
		/* Key 7's buffer is too small for its 6 bytes. */
		ASSERT_EQ(i % 3 == 2 || i == 13 ? SKV_S_NOT_FOUND :
			  i == 7 ? SKV_S_TOO_BIG : SKV_S_OK,
			  skv_store_get(s, table, key, 4, ring[j], val,
					i == 7 ? 2 : sizeof(val), &len, &ver));
		/* A deleted key reports its tombstone's version. */
		ASSERT_EQ(written[i], ver);
		if (i % 3 != 2 && i != 13) {
			ASSERT_EQ(4 + i % 5, len);
			if (i != 7)
				ASSERT_EQ(0, memcmp(src, val, len));
		}
	}
}

TEST_F(st, conditional_put_delete)
{
	struct skv_store *s = self->s;
	u64 v1, v2, ver;

	/* Missing key has version 0: a non-zero expectation fails. */
	ASSERT_EQ(SKV_S_VERSION_MISMATCH, put_i(s, T1, 9, 1, 10, 5, &ver));
	ASSERT_EQ(0u, ver);
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 9, 1, 10, 0, &v1));
	ASSERT_EQ(SKV_S_VERSION_MISMATCH, put_i(s, T1, 9, 2, 10, v1 + 1, &ver));
	ASSERT_EQ(v1, ver);
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 9, 2, 10, v1, &v2));
	ASSERT_EQ(SKV_S_VERSION_MISMATCH, del_i(s, T1, 9, v1, &ver));
	ASSERT_EQ(v2, ver);
	ASSERT_EQ(SKV_S_OK, del_i(s, T1, 9, v2, &ver));
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(s, T1, 9, v2, &ver));
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(s, T1, 10, 0, &ver));
	ASSERT_EQ(0u, ver);
	/* A deleted key is missing for expectations too. */
	ASSERT_EQ(SKV_S_VERSION_MISMATCH, put_i(s, T1, 9, 3, 10, v2, &ver));
	ASSERT_EQ(0u, ver);
}

/* A drop hook that records its calls and answers err. */
struct test_hook {
	struct skv_drop_hook hook;
	int err, calls;
	u64 table_id, start_hash, end_hash;
};

static int test_hook_before(struct skv_drop_hook *h, u64 table_id,
			    u64 start_hash, u64 end_hash)
{
	struct test_hook *t = (struct test_hook *)h;

	t->calls++;
	t->table_id = table_id;
	t->start_hash = start_hash;
	t->end_hash = end_hash;
	return t->err;
}

/*
 * A delete's hook runs once the delete is sure (not for a range that is
 * not a tablet), with the range; its error stops the delete, data kept.
 */
TEST_F(st, drop_hook_before_the_data_goes)
{
	struct skv_tablet_info t = { 2, 0, U64_MAX, SKV_TABLET_NORMAL };
	struct test_hook h = { .hook.before = test_hook_before };
	struct skv_store *s = self->s;
	char buf[64];
	u32 len;
	u64 ver;

	ASSERT_EQ(0, skv_table_add(s, 2));
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	ASSERT_EQ(SKV_S_OK, put_i(s, 2, 1, 1, 10, 0, &ver));
	ASSERT_EQ(-ENOENT, skv_tablet_del_hooked(s, 2, 0, 5, &h.hook));
	ASSERT_EQ(-ENOENT, skv_table_del_hooked(s, 3, &h.hook));
	ASSERT_EQ(0, h.calls);
	h.err = -ENOMEM;
	ASSERT_EQ(-ENOMEM, skv_tablet_del_hooked(s, 2, 0, U64_MAX, &h.hook));
	ASSERT_EQ(-ENOMEM, skv_table_del_hooked(s, 2, &h.hook));
	ASSERT_EQ(2, h.calls);
	ASSERT_EQ(SKV_S_OK, get_i(s, 2, 1, buf, 64, &len, &ver));
	h.err = 0;
	ASSERT_EQ(0, skv_tablet_del_hooked(s, 2, 0, U64_MAX, &h.hook));
	ASSERT_EQ(3, h.calls);
	ASSERT_EQ(2u, h.table_id);
	ASSERT_EQ(0u, h.start_hash);
	ASSERT_EQ(U64_MAX, h.end_hash);
	ASSERT_EQ(SKV_S_NOT_OWNER, get_i(s, 2, 1, buf, 64, &len, &ver));
	ASSERT_EQ(0, skv_table_del_hooked(s, 2, &h.hook));
	ASSERT_EQ(4, h.calls);
	ASSERT_EQ(SKV_S_UNKNOWN_TABLE, get_i(s, 2, 1, buf, 64, &len, &ver));
}

TEST_F(st, ownership_and_tablets)
{
	struct skv_store *s = self->s;
	struct skv_tablet_info t = { 2, 0, (1ull << 63) - 1, SKV_TABLET_NORMAL };
	struct skv_tablet_info list[8], info;
	char k[32], buf[64];
	u64 ver, h, ids[4];
	u32 kl, len;
	int i, hi = -1, lo = -1;

	ASSERT_EQ(SKV_S_UNKNOWN_TABLE, put_i(s, 2, 1, 1, 10, 0, &ver));
	ASSERT_EQ(SKV_S_UNKNOWN_TABLE, get_i(s, 2, 1, buf, 64, &len, &ver));
	ASSERT_EQ(-ENOENT, skv_tablet_add(s, &t));
	ASSERT_EQ(0, skv_table_add(s, 2));
	ASSERT_EQ(-EEXIST, skv_table_add(s, 2));
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	t.start_hash = 5;
	ASSERT_EQ(-EEXIST, skv_tablet_add(s, &t));
	t.start_hash = 10;
	t.end_hash = 5;
	ASSERT_EQ(-EINVAL, skv_tablet_add(s, &t));
	/* Find one key in each half of the hash space. */
	for (i = 0; i < 64 && (hi < 0 || lo < 0); i++) {
		kl = key_of(i, k);
		h = skv_key_hash(k, kl);
		if (h >> 63)
			hi = i;
		else
			lo = i;
	}
	ASSERT_EQ(SKV_S_OK, put_i(s, 2, lo, 1, 10, 0, &ver));
	ASSERT_EQ(SKV_S_NOT_OWNER, put_i(s, 2, hi, 1, 10, 0, &ver));
	ASSERT_EQ(SKV_S_NOT_OWNER, get_i(s, 2, hi, buf, 64, &len, &ver));
	ASSERT_EQ(SKV_S_NOT_OWNER, del_i(s, 2, hi, 0, &ver));
	ASSERT_EQ(0, skv_tablet_set_state(s, 2, 0, (1ull << 63) - 1,
					  SKV_TABLET_MIGRATING_OUT));
	ASSERT_EQ(SKV_S_NOT_OWNER, get_i(s, 2, lo, buf, 64, &len, &ver));
	ASSERT_EQ(SKV_S_NOT_OWNER, put_i(s, 2, lo, 1, 10, 0, &ver));
	ASSERT_EQ(0, skv_tablet_set_state(s, 2, 0, (1ull << 63) - 1,
					  SKV_TABLET_RECOVERING));
	ASSERT_EQ(SKV_S_NOT_OWNER, get_i(s, 2, lo, buf, 64, &len, &ver));
	ASSERT_EQ(0, skv_tablet_set_state(s, 2, 0, (1ull << 63) - 1,
					  SKV_TABLET_MIGRATING_IN));
	ASSERT_EQ(SKV_S_OK, get_i(s, 2, lo, buf, 64, &len, &ver));
	ASSERT_TRUE(val_is(buf, len, lo, 1, 10));
	ASSERT_EQ(-ENOENT, skv_tablet_set_state(s, 2, 0, 5,
						SKV_TABLET_NORMAL));
	ASSERT_EQ(0, skv_tablet_lookup(s, 2, 17, &info));
	ASSERT_EQ(SKV_TABLET_MIGRATING_IN, info.state);
	ASSERT_EQ(-ERANGE, skv_tablet_lookup(s, 2, 1ull << 63, &info));
	ASSERT_EQ(-ENOENT, skv_tablet_lookup(s, 3, 17, &info));
	/* The other half as a second tablet. */
	t.start_hash = 1ull << 63;
	t.end_hash = U64_MAX;
	t.state = SKV_TABLET_NORMAL;
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	ASSERT_EQ(SKV_S_OK, put_i(s, 2, hi, 1, 10, 0, &ver));
	ASSERT_EQ(2, skv_tables_list(s, 0, ids, 4));
	ASSERT_EQ(T1, ids[0]);
	ASSERT_EQ(2u, ids[1]);
	ASSERT_EQ(3, skv_tablets_list(s, 0, list, 8));
	ASSERT_EQ(1, skv_tablets_list(s, 2, list, 8));
	ASSERT_EQ(1ull << 63, list[0].start_hash);
	/* Dropping a tablet drops its data only. */
	ASSERT_EQ(2u, stats_of(s).objects);
	ASSERT_EQ(-ENOENT, skv_tablet_del(s, 2, 1ull << 63, U64_MAX - 1));
	ASSERT_EQ(0, skv_tablet_del(s, 2, 1ull << 63, U64_MAX));
	ASSERT_EQ(1u, stats_of(s).objects);
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, 2, hi, buf, 64, &len, &ver));
	ASSERT_EQ(SKV_S_OK, get_i(s, 2, lo, buf, 64, &len, &ver));
	/* Dropping the table drops the rest. */
	ASSERT_EQ(0, skv_table_del(s, 2));
	ASSERT_EQ(-ENOENT, skv_table_del(s, 2));
	ASSERT_EQ(0u, stats_of(s).objects);
	ASSERT_EQ(0u, stats_of(s).live_bytes);
	ASSERT_EQ(SKV_S_UNKNOWN_TABLE, get_i(s, 2, lo, buf, 64, &len, &ver));
	ASSERT_EQ(0, skv_table_add(s, 2));
	t.start_hash = 0;
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, 2, lo, buf, 64, &len, &ver));
	ASSERT_EQ(1, skv_tablets_list(s, 1, list, 8));
	ASSERT_EQ(2u, list[0].table_id);
	/* The dropped data is reclaimed by the cleaner. */
	ASSERT_EQ(SKV_S_OK, put_i(s, 2, lo, 7, 10, 0, &ver));
	ASSERT_EQ(SKV_S_OK, get_i(s, 2, lo, buf, 64, &len, &ver));
	ASSERT_TRUE(val_is(buf, len, lo, 7, 10));
}

/* requests of the tablet listed at pos. */
static u64 tablet_requests(struct skv_store *s, u32 pos)
{
	struct skv_tablet_info t;

	if (skv_tablets_list(s, pos, &t, 1) != 1)
		return ~0ull;
	return skv_atomic64_read(&t.requests);
}

/*
 * A tablet's request count: each skv_tablet_count of a hash it holds;
 * kept while it keeps its range (state changes, other tablets added or
 * removed), from 0 when its range changes (a split).
 */
TEST_F(st, tablet_request_counts)
{
	struct skv_store *s = self->s;
	struct skv_tablet_info t = { 2, 0, (1ull << 63) - 1, SKV_TABLET_NORMAL };
	int i;

	ASSERT_EQ(0, skv_table_add(s, 2));
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	skv_atomic64_set(&t.requests, 99);	/* the caller's count is not taken */
	t.start_hash = 1ull << 63;
	t.end_hash = U64_MAX;
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	/* Positions: T1's tablet, then table 2's two halves. */
	ASSERT_EQ(0u, tablet_requests(s, 1));
	ASSERT_EQ(0u, tablet_requests(s, 2));
	for (i = 0; i < 5; i++)
		skv_tablet_count(s, 2, 17);
	skv_tablet_count(s, 2, U64_MAX);
	skv_tablet_count(s, 3, 17);		/* no such table: nothing */
	ASSERT_EQ(5u, tablet_requests(s, 1));
	ASSERT_EQ(1u, tablet_requests(s, 2));
	ASSERT_EQ(0, skv_tablet_set_state(s, 2, 0, (1ull << 63) - 1,
					  SKV_TABLET_MIGRATING_OUT));
	ASSERT_EQ(0, skv_table_add(s, 3));
	ASSERT_EQ(5u, tablet_requests(s, 1));
	ASSERT_EQ(1u, tablet_requests(s, 2));
	ASSERT_EQ(0, skv_tablet_split(s, 2, 1ull << 62));
	ASSERT_EQ(0u, tablet_requests(s, 1));
	ASSERT_EQ(0u, tablet_requests(s, 2));
	ASSERT_EQ(1u, tablet_requests(s, 3));
	ASSERT_EQ(0, skv_tablet_del(s, 2, 0, (1ull << 62) - 1));
	ASSERT_EQ(1u, tablet_requests(s, 2));
}

/* A resolver that says yes for one hash only (arg points at it). */
static bool resolve_one(void *arg, u64 table_id, u64 key_hash)
{
	return key_hash == *(u64 *)arg;
}

TEST_F(st, migrating_in_semantics)
{
	struct skv_store *s = self->s;
	struct skv_tablet_info t = { 3, 0, U64_MAX, SKV_TABLET_MIGRATING_IN };
	char buf[64], k[32];
	u64 ver, v1, h4;
	u32 len;

	ASSERT_EQ(0, skv_table_add(s, 3));
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	/* A key not arrived yet: reads, deletes, conditional writes wait. */
	ASSERT_EQ(SKV_S_RETRY, get_i(s, 3, 1, buf, 64, &len, &ver));
	ASSERT_EQ(SKV_S_RETRY, put_i(s, 3, 1, 1, 10, 77, &ver));
	ASSERT_EQ(SKV_S_RETRY, del_i(s, 3, 1, 77, &ver));
	ASSERT_EQ(SKV_S_RETRY, del_i(s, 3, 1, 0, &ver));
	ASSERT_EQ(0u, stats_of(s).tombstones);
	/* An unconditional PUT is applied; the key is then decided here. */
	ASSERT_EQ(SKV_S_OK, put_i(s, 3, 1, 1, 10, 0, &v1));
	ASSERT_EQ(SKV_S_OK, get_i(s, 3, 1, buf, 64, &len, &ver));
	ASSERT_EQ(v1, ver);
	ASSERT_EQ(SKV_S_VERSION_MISMATCH, put_i(s, 3, 1, 2, 10, 77, &ver));
	ASSERT_EQ(v1, ver);
	ASSERT_EQ(SKV_S_OK, put_i(s, 3, 1, 2, 10, v1, &v1));
	ASSERT_EQ(SKV_S_OK, del_i(s, 3, 1, 0, &v1));
	/* A tombstone here decides too. */
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, 3, 1, buf, 64, &len, &ver));
	ASSERT_EQ(v1, ver);
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(s, 3, 1, 0, &ver));
	ASSERT_EQ(SKV_S_VERSION_MISMATCH, put_i(s, 3, 1, 1, 10, 5, &ver));
	/* A resolved key is served as in NORMAL: absent is NOT_FOUND. */
	h4 = skv_key_hash(k, key_of(4, k));
	skv_store_set_resolver(s, resolve_one, &h4);
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, 3, 4, buf, 64, &len, &ver));
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(s, 3, 4, 0, &ver));
	ASSERT_EQ(SKV_S_VERSION_MISMATCH, put_i(s, 3, 4, 1, 10, 9, &ver));
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(s, 3, 4, 9, &ver));
	ASSERT_EQ(SKV_S_RETRY, get_i(s, 3, 5, buf, 64, &len, &ver));
	/* Cleared: unresolved again.  NORMAL: no resolver is asked. */
	skv_store_set_resolver(s, NULL, NULL);
	ASSERT_EQ(SKV_S_RETRY, get_i(s, 3, 4, buf, 64, &len, &ver));
	ASSERT_EQ(0, skv_tablet_set_state(s, 3, 0, U64_MAX,
					  SKV_TABLET_NORMAL));
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, 3, 4, buf, 64, &len, &ver));
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(s, 3, 4, 0, &ver));
}

static void fill_seg(struct skv_store *s, u64 base, u32 n, u32 vlen)
{
	u64 ver;
	u32 i;

	for (i = 0; i < n; i++)
		put_i(s, T1, base + i, 1, vlen, 0, &ver);
}

TEST(memory_limit_and_reclaim)
{
	struct skv_store *s;
	struct skv_store_stats a, b;
	char buf[4096];
	u64 ver, n, i;
	u32 len;
	int r;

	skv_thread_online();
	/* 8 segments of 64 KiB: 6 for writers, 2 kept for the cleaner. */
	s = store_new(SEG64K, 8 * SEG64K, 10);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(-EINVAL, skv_store_set_mem_limit(s, 3 * SEG64K));
	for (n = 0;; n++) {
		r = put_i(s, T1, n, 1, 1000, 0, &ver);
		if (r != SKV_S_OK)
			break;
	}
	ASSERT_EQ(SKV_S_NO_SPACE, r);
	a = stats_of(s);
	ASSERT_LE(a.mem_used, a.mem_limit);
	/* Everything counts, the index too: writers stop within a segment of 6. */
	ASSERT_EQ(a.mem_used, a.mem_log + a.mem_side_logs + a.mem_index + a.mem_tablets);
	ASSERT_LE(a.mem_used, 6 * SEG64K);
	ASSERT_GT(a.mem_used + SEG64K, 6 * SEG64K);
	ASSERT_GE(a.mem_index, n * 16);		/* an entry per key, each more than 16 B */
	ASSERT_LT(0, a.mem_tablets);
	ASSERT_GE(a.no_space_errors, 1u);
	ASSERT_EQ(n, a.objects);
	ASSERT_GT(n, 200u);	/* most of the room holds records, the index the rest */
	/* Reads keep working. */
	for (i = 0; i < n; i++) {
		ASSERT_EQ(SKV_S_OK, get_i(s, T1, i, buf, sizeof(buf), &len, &ver));
		ASSERT_TRUE(val_is(buf, len, i, 1, 1000));
	}
	/* Deletes need room for tombstones too: the cleaner has none to
	 * gain yet, so free some by deleting while space lasts. */
	for (i = 0; i < n; i += 1) {
		if (i % 4 == 0)
			continue;
		r = del_i(s, T1, i, 0, &ver);
		if (r == SKV_S_NO_SPACE) {
			ASSERT_GT(skv_cleaner_run(s, 16), 0);
			r = del_i(s, T1, i, 0, &ver);
		}
		ASSERT_EQ(SKV_S_OK, r);
	}
	b = stats_of(s);
	clean_all(s);
	b = stats_of(s);
	ASSERT_LT(b.mem_used, a.mem_used);
	ASSERT_GE(b.cleaner_segments_freed, 3u);
	/* Writes succeed again, and everything reads back right. */
	for (i = n; i < n + 100; i++)
		ASSERT_EQ(SKV_S_OK, put_i(s, T1, i, 2, 1000, 0, &ver));
	for (i = 0; i < n + 100; i++) {
		r = get_i(s, T1, i, buf, sizeof(buf), &len, &ver);
		if (i >= n) {
			ASSERT_EQ(SKV_S_OK, r);
			ASSERT_TRUE(val_is(buf, len, i, 2, 1000));
		} else if (i % 4 == 0) {
			ASSERT_EQ(SKV_S_OK, r);
			ASSERT_TRUE(val_is(buf, len, i, 1, 1000));
		} else {
			ASSERT_EQ(SKV_S_NOT_FOUND, r);
		}
	}
	skv_store_destroy(s);
	skv_thread_offline();
}

/*
 * Tablets are capped: splits and adds past max_tablets are refused with
 * -ENOSPC and leave the map as it was; the map's memory is counted.
 */
TEST(tablet_cap_and_map_memory)
{
	struct skv_store_config cfg = {
		.segment_size = SEG64K, .index_buckets_log2 = 10,
		.mem_limit = 8 * SEG64K, .max_tablets = 8,
	};
	struct skv_tablet_info t = { T1, 0, U64_MAX, SKV_TABLET_NORMAL };
	struct skv_store_stats a, b;
	struct skv_store *s;
	u64 at;
	int i;

	skv_thread_online();
	ASSERT_EQ(0, skv_store_create(&cfg, &s));
	ASSERT_EQ(0, skv_table_add(s, T1));
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	a = stats_of(s);
	ASSERT_EQ(8u, a.max_tablets);
	for (i = 1; i < 8; i++)
		ASSERT_EQ(0, skv_tablet_split(s, T1, (u64)i << 40));
	b = stats_of(s);
	ASSERT_EQ(b.mem_tablets, a.mem_tablets + 7 * sizeof(struct skv_tablet_info));
	ASSERT_EQ(b.mem_used, a.mem_used + 7 * sizeof(struct skv_tablet_info));
	at = 100ull << 40;
	ASSERT_EQ(-ENOSPC, skv_tablet_split(s, T1, at));
	ASSERT_EQ(0, skv_table_add(s, T1 + 1));
	t.table_id = T1 + 1;
	ASSERT_EQ(-ENOSPC, skv_tablet_add(s, &t));
	ASSERT_EQ(8, skv_tablets_list(s, 0, (struct skv_tablet_info[9]){}, 9));
	/* A deleted tablet makes room again. */
	ASSERT_EQ(0, skv_tablet_del(s, T1, 7ull << 40, U64_MAX));
	ASSERT_EQ(0, skv_tablet_add(s, &t));
	skv_store_destroy(s);
	skv_thread_offline();
}

TEST_F(st, cleaner_reclaims_and_keeps_newest)
{
	struct skv_store *s = self->s;
	struct skv_store_stats a, b;
	char buf[4096];
	u64 ver, i, g;
	u32 len;

	for (g = 1; g <= 5; g++)
		for (i = 0; i < 2000; i++)
			ASSERT_EQ(SKV_S_OK, put_i(s, T1, i, g, 200, 0, &ver));
	for (i = 0; i < 2000; i += 3)
		ASSERT_EQ(SKV_S_OK, del_i(s, T1, i, 0, &ver));
	a = stats_of(s);
	ASSERT_GT(clean_all(s), 0);
	b = stats_of(s);
	ASSERT_LT(b.mem_used, a.mem_used / 2);
	ASSERT_EQ(a.live_bytes - b.tombstones_dropped * skv_rec_len(30, 0),
		  b.live_bytes);
	ASSERT_GT(b.cleaner_bytes_relocated, 0u);
	ASSERT_GT(b.tombstones_dropped, 0u);
	for (i = 0; i < 2000; i++) {
		int r = get_i(s, T1, i, buf, sizeof(buf), &len, &ver);

		if (i % 3 == 0) {
			ASSERT_EQ(SKV_S_NOT_FOUND, r);
		} else {
			ASSERT_EQ(SKV_S_OK, r);
			ASSERT_TRUE(val_is(buf, len, i, 5, 200));
		}
	}
	ASSERT_FALSE(skv_cleaner_wanted(s));
}

/*
 * The tombstone rule: a tombstone stays while an older copy of its key is
 * in the log (or its tablet migrates) and goes once none is.
 */
TEST_F(st, tombstone_kept_while_older_copy_exists)
{
	struct skv_store *s = self->s;
	struct skv_store_stats st;
	char buf[64];
	u64 ver, vdel, i, k = 1000000;
	u32 len, per_seg = SEG64K / skv_rec_len(30, 200);

	/* Segment A: k's object plus fillers that stay live. */
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, k, 1, 200, 0, &ver));
	fill_seg(s, 0, per_seg + 5, 200);
	/* Segment B: k's tombstone plus fillers overwritten later. */
	ASSERT_EQ(SKV_S_OK, del_i(s, T1, k, 0, &vdel));
	fill_seg(s, 10000, per_seg + 5, 200);
	fill_seg(s, 10000, per_seg + 5, 200);
	fill_seg(s, 10000, per_seg + 5, 200);
	/* Clean everything but A: the tombstone must survive. */
	for (i = 0; i < 10; i++)
		skv_cleaner_run(s, 4);
	st = stats_of(s);
	ASSERT_GT(st.cleaner_segments_freed, 0u);
	ASSERT_EQ(0u, st.tombstones_dropped);
	ASSERT_EQ(1u, st.tombstones);
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, T1, k, buf, 64, &len, &ver));
	ASSERT_EQ(vdel, ver);
	/* Kill A's fillers too, but with the tablet migrating: kept. */
	for (i = 0; i < per_seg + 5; i++)
		ASSERT_EQ(SKV_S_OK, del_i(s, T1, i, 0, &ver));
	ASSERT_EQ(0, skv_tablet_set_state(s, T1, 0, U64_MAX,
					  SKV_TABLET_MIGRATING_IN));
	clean_all(s);
	st = stats_of(s);
	ASSERT_EQ(0u, st.tombstones_dropped);
	ASSERT_EQ(per_seg + 6, st.tombstones);
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, T1, k, buf, 64, &len, &ver));
	ASSERT_EQ(vdel, ver);
	/* Back to normal: no older copy is left, so they all go. */
	ASSERT_EQ(0, skv_tablet_set_state(s, T1, 0, U64_MAX,
					  SKV_TABLET_NORMAL));
	for (i = 0; i < 10; i++) {
		/* Overwrites age every old segment out of the log. */
		fill_seg(s, 10000, per_seg + 5, 200);
		fill_seg(s, 20000, per_seg, 200);
		clean_all(s);
	}
	st = stats_of(s);
#ifdef DBG
	dump_segs(s);
#endif
	ASSERT_EQ(per_seg + 6, st.tombstones_dropped);
	ASSERT_EQ(0u, st.tombstones);
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, T1, k, buf, 64, &len, &ver));
	ASSERT_EQ(0u, ver);
}

/* Keys 0..n-1 written then deleted, then two segments of other keys. */
static int put_del_fill(struct skv_store *s, u64 n)
{
	u64 ver, i;

	for (i = 0; i < n; i++)
		if (put_i(s, T1, i, 1, 200, 0, &ver) != SKV_S_OK)
			return -1;
	for (i = 0; i < n; i++)
		if (del_i(s, T1, i, 0, &ver) != SKV_S_OK)
			return -1;
	fill_seg(s, 1000, 400, 200);
	fill_seg(s, 1000, 400, 200);
	return 0;
}

/*
 * A push migration copies a NORMAL tablet while it keeps serving: its
 * tombstones stay until the copy is over (a key deleted during the copy
 * must not come back at the target from the copy pulled before).
 */
TEST_F(st, tombstones_kept_while_copied_out)
{
	struct skv_store *s = self->s;

	ASSERT_EQ(0, skv_tablet_set_copied_out(s, T1, 0, U64_MAX, true));
	ASSERT_EQ(0, put_del_fill(s, 100));
	clean_all(s);
	ASSERT_EQ(0u, stats_of(s).tombstones_dropped);
	ASSERT_EQ(100u, stats_of(s).tombstones);
	/* The copy is over (the migration aborted): they may go. */
	ASSERT_EQ(0, skv_tablet_set_copied_out(s, T1, 0, U64_MAX, false));
	fill_seg(s, 1000, 400, 200);
	clean_all(s);
	ASSERT_EQ(100u, stats_of(s).tombstones_dropped);
	ASSERT_EQ(0u, stats_of(s).tombstones);
	ASSERT_EQ(-ENOENT, skv_tablet_set_copied_out(s, T1, 0, 5, true));
}

TEST_F(st, same_segment_tombstone_dropped_in_one_pass)
{
	struct skv_store *s = self->s;

	ASSERT_EQ(0, put_del_fill(s, 100));
	clean_all(s);
	ASSERT_EQ(100u, stats_of(s).tombstones_dropped);
	ASSERT_EQ(0u, stats_of(s).tombstones);
}

TEST_F(st, segment_certificate)
{
	struct skv_store *s = self->s;
	struct skv_seg_cert cert, c2;
	struct skv_replay_stats rs;
	struct skv_store *s2;
	struct skv_sidelog *sl;
	u8 *buf = malloc(SEG64K), *bad = malloc(SEG64K);
	char val[4096];
	u64 ver, id, i;
	long n;
	u32 len;

	ASSERT_EQ(-ENOENT, skv_log_segment_copy(s, 0, buf, SEG64K, &cert));
	fill_seg(s, 0, 600, 200);
	n = skv_log_segment_copy(s, 0, buf, SEG64K, &cert);
	ASSERT_GT(n, 1000);
	ASSERT_EQ(-ENOSPC, skv_log_segment_copy(s, 0, buf, 100, &c2));
	ASSERT_EQ(0, skv_segment_verify(buf, n, &cert, &id));
	ASSERT_EQ(1u, id);
	/* A flipped byte anywhere is caught by the certificate. */
	for (i = 0; i < (u64)n; i += 97) {
		memcpy(bad, buf, n);
		bad[i] ^= 0x40;
		ASSERT_EQ(-EBADMSG, skv_segment_verify(bad, n, &cert, NULL));
	}
	/* A copy shorter than the certificate says is truncated. */
	ASSERT_EQ(-EINVAL, skv_segment_verify(buf, n - 8, &cert, NULL));
	/* Replay of a corrupt copy is refused and changes nothing. */
	s2 = store_new(SEG64K, 16ull << 20, 10);
	ASSERT_NE(NULL, s2);
	ASSERT_EQ(0, skv_sidelog_create(s2, &sl));
	memcpy(bad, buf, n);
	bad[n / 2] ^= 1;
	ASSERT_EQ(-EBADMSG, skv_replay_segment(s2, sl, bad, n, &cert, &rs));
	ASSERT_EQ(0u, stats_of(s2).objects);
	ASSERT_EQ(0, skv_replay_segment(s2, sl, buf, n, &cert, &rs));
	ASSERT_EQ(rs.records, rs.applied);
	ASSERT_GT(rs.applied, 100u);
	ASSERT_EQ(rs.applied, stats_of(s2).objects);
	for (i = 0; i < rs.applied; i++) {
		ASSERT_EQ(SKV_S_OK, get_i(s2, T1, i, val, sizeof(val), &len, &ver));
		ASSERT_TRUE(val_is(val, len, i, 1, 200));
	}
	skv_sidelog_destroy(s2, sl);
	skv_store_destroy(s2);
	free(buf);
	free(bad);
}

struct scan_count {
	u32 *seen;
	u64 nkeys;
	u64 last_hash;
	u32 records;
	u32 bad;
};

static int count_rec(void *arg, const void *rec, u32 len)
{
	struct scan_count *c = arg;
	struct skv_rec_view v;
	unsigned long long i;

	if (skv_rec_parse(rec, len, SKV_PARSE_CHECK_HASH, &v) || v.len != len) {
		c->bad++;
		return 0;
	}
	if (v.key_hash < c->last_hash)
		c->bad++;
	c->last_hash = v.key_hash;
	c->records++;
	if (key_id(&v, &i) == 1 && i < c->nkeys)
		c->seen[i]++;
	return 0;
}

TEST_F(st, scan_exactly_once_in_hash_order)
{
	struct skv_store *s = self->s;
	u64 n = 3000, i, ver, cur = 0, start = 1ull << 62, end = 3ull << 62;
	struct scan_count c = { 0 };
	char k[32];
	bool done = false;
	u32 calls = 0, expect = 0;
	long r;

	c.seen = calloc(n, sizeof(u32));
	c.nkeys = n;
	for (i = 0; i < n; i++)
		ASSERT_EQ(SKV_S_OK, put_i(s, T1, i, 1, 100, 0, &ver));
	for (i = 0; i < n; i += 10)
		ASSERT_EQ(SKV_S_OK, del_i(s, T1, i, 0, &ver));
	while (!done) {
		r = skv_scan(s, T1, start, end, cur, 2000, count_rec, &c, &cur,
			     &done);
		ASSERT_GE(r, 0);
		ASSERT_LE(r, 2000);
		calls++;
	}
	ASSERT_GT(calls, 10u);
	ASSERT_EQ(0u, c.bad);
	for (i = 0; i < n; i++) {
		u64 h = skv_key_hash(k, key_of(i, k));

		if (h >= start && h <= end) {
			ASSERT_EQ(1u, c.seen[i]);
			expect++;
		} else {
			ASSERT_EQ(0u, c.seen[i]);
		}
	}
	ASSERT_EQ(expect, c.records);
	free(c.seen);
}

TEST_F(st, scan_serialize_replay_and_splice)
{
	struct skv_store *s = self->s, *d;
	struct skv_replay_stats rs, tot = { 0 };
	struct skv_store_stats a, b;
	struct skv_sidelog *sl;
	struct skv_seg_cert cert;
	u32 bufsz = 20000, len;
	u8 *buf = malloc(bufsz), *seg = malloc(SEG64K);
	u64 i, ver, cur = 0, vdst, n = 2000;
	char val[4096];
	bool done = false;
	long r;

	for (i = 0; i < n; i++)
		ASSERT_EQ(SKV_S_OK, put_i(s, T1, i, 1, 100, 0, &ver));
	for (i = 0; i < n; i += 5)
		ASSERT_EQ(SKV_S_OK, del_i(s, T1, i, 0, &ver));
	d = store_new(SEG64K, 64ull << 20, 14);
	ASSERT_NE(NULL, d);
	/* The target takes writes newer than anything the source holds. */
	skv_store_raise_version(d, skv_store_version(s));
	ASSERT_EQ(SKV_S_OK, put_i(d, T1, 1, 9, 100, 0, &vdst));	/* newer */
	ASSERT_EQ(SKV_S_OK, put_i(d, T1, 2, 9, 100, 0, &ver));
	ASSERT_EQ(SKV_S_OK, del_i(d, T1, 2, 0, &ver));		/* newer */
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(d, T1, 3, 0, &ver));
	a = stats_of(d);
	ASSERT_EQ(0, skv_sidelog_create(d, &sl));
	while (!done) {
		r = skv_scan_serialize(s, T1, 0, U64_MAX, cur, buf, bufsz,
				       &cur, &done);
		ASSERT_GT(r, 0);
		ASSERT_LE(r, bufsz);
		/*
		 * Corruption or truncation is refused whole: a flipped bit in
		 * the last byte (padding), in the first record's payload (its
		 * crc: a batch has no checksum of its own), in the batch's
		 * reserved field.
		 */
		buf[r - 1] ^= 1;
		ASSERT_EQ(-EBADMSG, skv_replay_batch(d, sl, buf, r, NULL, &rs));
		buf[r - 1] ^= 1;
		if (r > (long)sizeof(struct skv_batch_hdr)) {
			struct skv_rec_hdr *rh = (struct skv_rec_hdr *)
				(buf + sizeof(struct skv_batch_hdr));
			u8 *last = (u8 *)rh + SKV_REC_HDR_LEN - 1 +
				   le16_to_cpu(rh->key_len) +
				   le32_to_cpu(rh->value_len);

			*last ^= 0x10;
			ASSERT_EQ(-EBADMSG,
				  skv_replay_batch(d, sl, buf, r, NULL, &rs));
			*last ^= 0x10;
		}
		((struct skv_batch_hdr *)buf)->reserved = cpu_to_le32(1);
		ASSERT_EQ(-EBADMSG, skv_replay_batch(d, sl, buf, r, NULL, &rs));
		((struct skv_batch_hdr *)buf)->reserved = 0;
		ASSERT_EQ(-EINVAL, skv_replay_batch(d, sl, buf, r - 8, NULL, &rs));
		/* A record outside what was asked for refuses the batch. */
		if (r > (long)sizeof(struct skv_batch_hdr)) {
			struct skv_replay_bounds bd = {
				.table_id = T1, .start_hash = 0,
				.end_hash = U64_MAX, .min_version = 0,
				.max_version = skv_store_version(s),
			};

			bd.table_id = T1 + 1;
			ASSERT_EQ(-ERANGE, skv_replay_batch(d, sl, buf, r, &bd, &rs));
			bd.table_id = T1;
			bd.max_version = 1;
			ASSERT_EQ(-ERANGE, skv_replay_batch(d, sl, buf, r, &bd, &rs));
			bd.max_version = skv_store_version(s);
			bd.start_hash = U64_MAX;
			ASSERT_EQ(-ERANGE, skv_replay_batch(d, sl, buf, r, &bd, &rs));
			bd.start_hash = 0;
			bd.hashes = &bd.start_hash;	/* hash 0: in no record */
			bd.nhashes = 1;
			ASSERT_EQ(-ERANGE, skv_replay_batch(d, sl, buf, r, &bd, &rs));
			bd.nhashes = 0;
			ASSERT_EQ(0, skv_replay_batch(d, sl, buf, r, &bd, &rs));
		} else {
			ASSERT_EQ(0, skv_replay_batch(d, sl, buf, r, NULL, &rs));
		}
		tot.records += rs.records;
		tot.applied += rs.applied;
		tot.skipped += rs.skipped;
	}
	ASSERT_EQ(n, tot.records);
	ASSERT_EQ(2u, tot.skipped);
	/* Replay the same batches again: all skipped, nothing resurrects. */
	ASSERT_EQ(0, skv_replay_batch(d, sl, buf, r, NULL, &rs));
	ASSERT_EQ(0u, rs.applied);
	for (i = 0; i < n; i++) {
		int ret = get_i(d, T1, i, val, sizeof(val), &len, &ver);

		if (i == 1) {
			ASSERT_EQ(SKV_S_OK, ret);
			ASSERT_TRUE(val_is(val, len, 1, 9, 100));
			ASSERT_EQ(vdst, ver);
		} else if (i == 2 || i % 5 == 0) {
			ASSERT_EQ(SKV_S_NOT_FOUND, ret);
			ASSERT_NE(0u, ver);
		} else {
			ASSERT_EQ(SKV_S_OK, ret);
			ASSERT_TRUE(val_is(val, len, i, 1, 100));
		}
	}
	/* Side log memory is accounted; splicing puts it in the log. */
	b = stats_of(d);
	ASSERT_GT(b.mem_used, a.mem_used);
	ASSERT_EQ(0u, a.mem_side_logs);
	ASSERT_LT(0u, b.mem_side_logs);
	ASSERT_GT(b.mem_index, a.mem_index);	/* the replayed keys' entries */
	ASSERT_EQ(-ENOENT, skv_log_segment_copy(d, 0, seg, SEG64K, &cert));
	ASSERT_GT(skv_sidelog_splice(d, sl), 0);
	ASSERT_GT(skv_log_segment_copy(d, 0, seg, SEG64K, &cert), 0);
	ASSERT_EQ(b.mem_used, stats_of(d).mem_used);
	ASSERT_EQ(0u, stats_of(d).mem_side_logs);
	ASSERT_EQ(b.mem_log + b.mem_side_logs, stats_of(d).mem_log);
	ASSERT_EQ(b.live_bytes, stats_of(d).live_bytes);
	/* Versions at the target moved past everything replayed. */
	ASSERT_GE(skv_store_version(d), skv_store_version(s));
	skv_sidelog_destroy(d, sl);
	/* The spliced segments are cleanable like any other. */
	for (i = 0; i < n; i++)
		put_i(d, T1, i, 3, 100, 0, &ver);
	ASSERT_GT(clean_all(d), 0);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(SKV_S_OK, get_i(d, T1, i, val, sizeof(val), &len, &ver));
		ASSERT_TRUE(val_is(val, len, i, 3, 100));
	}
	skv_store_destroy(d);
	free(buf);
	free(seg);
}

/* What a splice hook was offered and took (scan.h). */
struct splice_log {
	u32 min_len;
	u32 offers;
	u32 small;		/* offers under min_len: must be none */
	u32 n;			/* taken */
	const void *rec[64];
	u32 len[64];
	u32 at[64];
};

/* Takes two offers of three, so both ways show in one batch. */
static int splice_take(void *arg, const void *rec, u32 len, u32 at)
{
	struct splice_log *l = arg;

	if (len < l->min_len)
		l->small++;
	if (l->n == 64 || l->offers++ % 3 == 2)
		return -ENOSPC;
	l->rec[l->n] = rec;
	l->len[l->n] = len;
	l->at[l->n++] = at;
	return 0;
}

/*
 * A batch with its large records left in the log, put back together from
 * what buf holds and the pieces taken, is the batch a plain serialize
 * writes, call after call.
 */
TEST_F(st, scan_serialize_spliced_matches_copied)
{
	struct skv_store *s = self->s;
	struct splice_log l = { .min_len = 1000 };
	struct skv_ser_splice zs = {
		.min_len = 1000, .take = splice_take, .arg = &l,
	};
	const u32 bufsz = 20000, hl = sizeof(struct skv_batch_hdr);
	u8 *plain = malloc(bufsz), *sp = malloc(bufsz), *whole = malloc(bufsz);
	u64 i, ver, cur = 0, next_p, next_s;
	bool done = false, done_p, done_s;
	u32 taken = 0, off, w, k;
	long rp, rs;

	for (i = 0; i < 400; i++)
		ASSERT_EQ(SKV_S_OK, put_i(s, T1, i, 1, i % 2 ? 2000 : 100, 0,
					  &ver));
	while (!done) {
		rp = skv_scan_serialize(s, T1, 0, U64_MAX, cur, plain, bufsz,
					&next_p, &done_p);
		l.n = 0;
		rs = skv_scan_serialize_spliced(s, T1, 0, U64_MAX, cur, 0, sp,
						bufsz, &zs, &next_s, &done_s);
		ASSERT_GT(rp, (long)hl);
		ASSERT_EQ(rp, rs);
		ASSERT_EQ(next_p, next_s);
		ASSERT_EQ(done_p, done_s);
		/* buf's records, each piece inserted before the byte at its at. */
		memcpy(whole, sp, hl);
		for (off = 0, w = hl, k = 0; w < (u32)rs; ) {
			if (k < l.n && l.at[k] == off) {
				ASSERT_LE(l.min_len, l.len[k]);
				memcpy(whole + w, l.rec[k], l.len[k]);
				w += l.len[k++];
				continue;
			}
			ASSERT_LT(hl + off, (u32)rs);
			whole[w++] = sp[hl + off++];
		}
		ASSERT_EQ(l.n, k);
		ASSERT_EQ(0, memcmp(plain, whole, rp));
		taken += l.n;
		cur = next_p;
		done = done_p;
	}
	/* Some large records were taken, some copied after a refusal. */
	ASSERT_EQ(0u, l.small);
	ASSERT_LT(0u, taken);
	ASSERT_LT(taken, 200u);
	free(plain);
	free(sp);
	free(whole);
}

TEST_F(st, replay_version_rules)
{
	struct skv_store *s = self->s;
	struct skv_replay_stats rs;
	struct skv_sidelog *sl;
	u8 recs[1024];
	char k[32], val[64];
	u32 kl = key_of(77, k), off = 0, len;
	u64 h = skv_key_hash(k, kl), ver;

	ASSERT_EQ(0, skv_sidelog_create(s, &sl));
	/* tombstone@50, then object@40 (older), object@60 (newer). */
	skv_rec_write(recs + off, SKV_REC_TOMBSTONE, T1, h, 50, k, kl, NULL, 0,
		      skv_rec_payload_crc(k, kl, NULL, 0));
	off += skv_rec_len(kl, 0);
	skv_rec_write(recs + off, SKV_REC_OBJECT, T1, h, 40, k, kl, "old", 3,
		      skv_rec_payload_crc(k, kl, "old", 3));
	off += skv_rec_len(kl, 3);
	ASSERT_EQ(0, skv_replay_records(s, sl, recs, off, &rs));
	ASSERT_EQ(2u, rs.records);
	ASSERT_EQ(1u, rs.applied);
	ASSERT_EQ(1u, rs.skipped);
	ASSERT_EQ(SKV_S_NOT_FOUND,
		  skv_store_get(s, T1, k, kl, h, val, 64, &len, &ver));
	ASSERT_EQ(50u, ver);
	ASSERT_GE(skv_store_version(s), 50u);
	skv_rec_write(recs, SKV_REC_OBJECT, T1, h, 60, k, kl, "new", 3,
		      skv_rec_payload_crc(k, kl, "new", 3));
	ASSERT_EQ(0, skv_replay_records(s, sl, recs, skv_rec_len(kl, 3), &rs));
	ASSERT_EQ(1u, rs.applied);
	ASSERT_EQ(SKV_S_OK, skv_store_get(s, T1, k, kl, h, val, 64, &len, &ver));
	ASSERT_EQ(60u, ver);
	ASSERT_EQ(0, memcmp(val, "new", 3));
	/* Same version again: skipped. */
	ASSERT_EQ(0, skv_replay_records(s, sl, recs, skv_rec_len(kl, 3), &rs));
	ASSERT_EQ(1u, rs.skipped);
	/* Foreign table: ignored.  Truncated input: refused. */
	skv_rec_write(recs, SKV_REC_OBJECT, 99, h, 70, k, kl, "x", 1,
		      skv_rec_payload_crc(k, kl, "x", 1));
	ASSERT_EQ(0, skv_replay_records(s, sl, recs, skv_rec_len(kl, 1), &rs));
	ASSERT_EQ(1u, rs.foreign);
	ASSERT_EQ(-EINVAL, skv_replay_records(s, sl, recs, skv_rec_len(kl, 1) - 1,
					      &rs));
	ASSERT_EQ(0u, rs.applied);
	skv_sidelog_destroy(s, sl);
	/* Tombstone, then the cleaner: the replayed tombstone has no older
	 * copy here, the objects it shadowed were never written. */
	ASSERT_EQ(SKV_S_OK, skv_store_get(s, T1, k, kl, h, val, 64, &len, &ver));
}

/* Record of key i at version ver into p; returns its length. */
static u32 rec_i(u8 *p, u64 i, u64 ver)
{
	char k[32];
	u32 kl = key_of(i, k);

	skv_rec_write(p, SKV_REC_OBJECT, T1, skv_key_hash(k, kl), ver, k, kl,
		      "v", 1, skv_rec_payload_crc(k, kl, "v", 1));
	return skv_rec_len(kl, 1);
}

TEST_F(st, version_ceiling_never_wraps)
{
	struct skv_replay_bounds any = {
		.table_id = T1, .end_hash = U64_MAX, .max_version = U64_MAX,
	};
	struct skv_store *s = self->s;
	struct skv_batch_hdr *bh;
	struct skv_replay_stats rs;
	struct skv_sidelog *sl;
	u8 buf[1024], *recs = buf + sizeof(*bh);
	u64 v1, ver;
	char val[64];
	u32 off, len;

	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 1, 1, 10, 0, &v1));
	/* A floor past the ceiling is refused and changes nothing. */
	ASSERT_EQ(-ERANGE, skv_store_raise_version(s, SKV_VERSION_MAX + 1));
	ASSERT_EQ(-ERANGE, skv_store_raise_version(s, U64_MAX - 1));
	ASSERT_EQ(v1, skv_store_version(s));
	/* So are replayed records past it, whole, plain or in a batch. */
	ASSERT_EQ(0, skv_sidelog_create(s, &sl));
	off = rec_i(recs, 2, 5);
	off += rec_i(recs + off, 3, U64_MAX - 1);
	ASSERT_EQ(-ERANGE, skv_replay_records(s, sl, recs, off, &rs));
	bh = (struct skv_batch_hdr *)buf;
	bh->magic = cpu_to_le32(SKV_BATCH_MAGIC);
	bh->count = cpu_to_le32(2);
	bh->len = cpu_to_le32(off);
	bh->reserved = 0;
	ASSERT_EQ(-ERANGE, skv_replay_batch(s, sl, buf, sizeof(*bh) + off,
					    NULL, &rs));
	ASSERT_EQ(-ERANGE, skv_replay_batch(s, sl, buf, sizeof(*bh) + off,
					    &any, &rs));
	ASSERT_EQ(0u, rs.applied);
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, T1, 2, val, sizeof(val), &len, &ver));
	ASSERT_EQ(0u, ver);
	ASSERT_EQ(v1, skv_store_version(s));
	/* At the ceiling itself a record is taken. */
	off = rec_i(recs, 2, SKV_VERSION_MAX - 1);
	ASSERT_EQ(0, skv_replay_records(s, sl, recs, off, &rs));
	ASSERT_EQ(1u, rs.applied);
	skv_sidelog_destroy(s, sl);
	ASSERT_EQ(SKV_VERSION_MAX - 1, skv_store_version(s));

	/* The last version is handed out, then writes get a clear status. */
	ASSERT_EQ(SKV_S_OK, put_i(s, T1, 1, 2, 10, 0, &ver));
	ASSERT_EQ(SKV_VERSION_MAX, ver);
	ASSERT_EQ(SKV_S_VERSION_LIMIT, put_i(s, T1, 1, 3, 10, 0, &ver));
	ASSERT_EQ(SKV_S_VERSION_LIMIT, put_i(s, T1, 4, 3, 10, 0, &ver));
	ASSERT_EQ(SKV_S_VERSION_LIMIT, del_i(s, T1, 1, 0, &ver));
	ASSERT_EQ(SKV_S_VERSION_LIMIT,
		  put_i(s, T1, 1, 3, 10, SKV_VERSION_MAX, &ver));
	/* What needs no version is decided as before. */
	ASSERT_EQ(SKV_S_VERSION_MISMATCH, put_i(s, T1, 1, 3, 10, 5, &ver));
	ASSERT_EQ(SKV_VERSION_MAX, ver);
	ASSERT_EQ(SKV_S_NOT_FOUND, del_i(s, T1, 4, 0, &ver));
	ASSERT_EQ(SKV_VERSION_MAX, skv_store_version(s));
	ASSERT_EQ(SKV_S_OK, get_i(s, T1, 1, val, sizeof(val), &len, &ver));
	ASSERT_EQ(SKV_VERSION_MAX, ver);
	ASSERT_TRUE(val_is(val, len, 1, 2, 10));
	ASSERT_EQ(SKV_S_NOT_FOUND, get_i(s, T1, 4, val, sizeof(val), &len, &ver));
	ASSERT_EQ(2u, stats_of(s).objects);
}

TEST_HARNESS_MAIN
