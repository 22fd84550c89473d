// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of replication streams and replicas (core/replica.h) on the
 * host: chunked streams (append across chunks, trim, memory charged to
 * the store), a replica's epochs (open, fence), idempotent writes,
 * refusals (gap, malformed record, bound, memory limit), reads in whole
 * records, and recovery: a replica's records replayed into a fresh store
 * give back the primary's data (newest version wins, tombstones kept).
 * Departure records (a range leaving the primary): only a stream takes
 * them, and the departures a recovery gathers say which records an
 * earlier stay of the range left behind (core/departure.h).
 */
#include "test_util.h"
#include "replica.h"
#include "departure.h"
#include "kselftest_harness.h"

#define SEG64K		(64u << 10)

/* Append record (type, key i, version v, value of len bytes) to buf. */
static u32 rec_put(u8 *buf, u8 type, u64 i, u64 v, u32 vlen)
{
	char key[32], val[4096];
	u32 klen = key_of(i, key);

	val_of(i, v, vlen, val);
	skv_rec_write(buf, type, T1, skv_key_hash(key, klen), v, key, klen,
		      type == SKV_REC_OBJECT ? val : NULL,
		      type == SKV_REC_OBJECT ? vlen : 0,
		      skv_rec_payload_crc(key, klen,
					  type == SKV_REC_OBJECT ? val : NULL,
					  type == SKV_REC_OBJECT ? vlen : 0));
	return skv_rec_len(klen, type == SKV_REC_OBJECT ? vlen : 0);
}

FIXTURE(rp) {
	struct skv_store *s;
	struct skv_replica r;
};

FIXTURE_SETUP(rp)
{
	skv_thread_online();
	self->s = store_new(SEG64K, 64ull << 20, 12);
	ASSERT_NE(NULL, self->s);
	skv_replica_init(&self->r, self->s, 7);
}

FIXTURE_TEARDOWN(rp)
{
	skv_replica_destroy(&self->r);
	skv_store_destroy(self->s);
	skv_thread_offline();
}

TEST(rstream_chunks_and_trim)
{
	static u8 in[3 * SKV_RSTREAM_CHUNK], out[sizeof(in)];
	struct skv_rstream st;
	u32 i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (u8)(i * 7 + i / 251);
	skv_rstream_init(&st, NULL, 1000);
	/* Appends of odd sizes cross chunk boundaries. */
	for (i = 0; i < sizeof(in);) {
		u32 n = i + 100003 < sizeof(in) ? 100003 : sizeof(in) - i;

		ASSERT_EQ(0, skv_rstream_reserve(&st, n));
		skv_rstream_append(&st, in + i, n);
		i += n;
	}
	ASSERT_EQ(1000 + sizeof(in), st.end);
	skv_rstream_read(&st, 1000, out, sizeof(out));
	ASSERT_EQ(0, memcmp(in, out, sizeof(in)));
	/* Trimming frees whole chunks only; what is left reads the same. */
	skv_rstream_trim(&st, 1000 + SKV_RSTREAM_CHUNK + 5);
	ASSERT_EQ(2, st.nchunks);
	skv_rstream_read(&st, st.base, out, (u32)(st.end - st.base));
	ASSERT_EQ(0, memcmp(in + SKV_RSTREAM_CHUNK + 5, out, st.end - st.base));
	skv_rstream_trim(&st, st.end);
	ASSERT_GE(1, st.nchunks);
	skv_rstream_destroy(&st);
}

TEST_F(rp, epochs_open_fence)
{
	u64 base, end;

	/* A reopen of a replica never opened: it was lost, never pretend. */
	ASSERT_EQ(SKV_S_NOT_BACKUP, skv_replica_open(&self->r, 1, 0, 0, &base, &end));
	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 1, 500, SKV_REPLICA_CREATE,
					     &base, &end));
	ASSERT_EQ(500, base);
	ASSERT_EQ(500, end);
	skv_replica_fence(&self->r, 3);
	skv_replica_fence(&self->r, 2);		/* never lowers */
	ASSERT_EQ(3, self->r.epoch);
	ASSERT_EQ(SKV_S_STALE_EPOCH, skv_replica_open(&self->r, 2, 500, 0, &base, &end));
	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 3, 500, 0, &base, &end));
	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 4, 500, 0, &base, &end));
	ASSERT_EQ(4, self->r.epoch);
}

/* Whole: a mark within the replica whose span it holds; CREATE forgets it. */
TEST_F(rp, whole_mark)
{
	static u8 buf[4096];
	u64 base, end;
	u32 a;

	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 1, 500, SKV_REPLICA_CREATE, &base, &end));
	ASSERT_FALSE(skv_replica_whole(&self->r));
	a = rec_put(buf, SKV_REC_OBJECT, 1, 10, 100);
	/* Older than the replica: its older records are not here. */
	skv_replica_mark(&self->r, 400, 400);
	ASSERT_FALSE(skv_replica_whole(&self->r));
	skv_replica_mark(&self->r, UINT64_MAX, 0);
	skv_replica_mark(&self->r, 600, 599);
	ASSERT_FALSE(skv_replica_whole(&self->r));
	/* A span not held yet: whole once it is. */
	skv_replica_mark(&self->r, 500, 500 + a);
	ASSERT_FALSE(skv_replica_whole(&self->r));
	ASSERT_EQ(SKV_S_OK, skv_replica_write(&self->r, 1, 500, buf, a, 1 << 20, &end));
	ASSERT_TRUE(skv_replica_whole(&self->r));
	/* An older mark does not replace a newer one. */
	skv_replica_mark(&self->r, 500 + a, 500 + a);
	skv_replica_mark(&self->r, 500, 500);
	ASSERT_EQ(500 + a, self->r.whole_from);
	ASSERT_TRUE(skv_replica_whole(&self->r));
	/* Reopened without CREATE: kept.  Made afresh: not whole. */
	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 1, 500, 0, &base, &end));
	ASSERT_TRUE(skv_replica_whole(&self->r));
	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 1, 500, SKV_REPLICA_CREATE, &base, &end));
	ASSERT_FALSE(skv_replica_whole(&self->r));
}

TEST_F(rp, write_idempotent_and_refusals)
{
	static u8 buf[64 << 10];
	u64 base, end;
	u32 a, b, len;

	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 1, 0, SKV_REPLICA_CREATE, &base, &end));
	a = rec_put(buf, SKV_REC_OBJECT, 1, 10, 100);
	b = rec_put(buf + a, SKV_REC_TOMBSTONE, 2, 11, 0);
	len = a + b;
	ASSERT_EQ(SKV_S_STALE_EPOCH, skv_replica_write(&self->r, 0, 0, buf, len, 1 << 20, &end));
	ASSERT_EQ(SKV_S_OK, skv_replica_write(&self->r, 1, 0, buf, a, 1 << 20, &end));
	ASSERT_EQ(a, end);
	/* A resend overlapping what is held: only the new record is taken. */
	ASSERT_EQ(SKV_S_OK, skv_replica_write(&self->r, 1, 0, buf, len, 1 << 20, &end));
	ASSERT_EQ(len, end);
	ASSERT_EQ(2, self->r.records);
	ASSERT_EQ(SKV_S_OK, skv_replica_write(&self->r, 1, 0, buf, len, 1 << 20, &end));
	ASSERT_EQ(2, self->r.records);
	/* A gap, and a write starting inside a record. */
	ASSERT_EQ(SKV_S_BAD_REQUEST, skv_replica_write(&self->r, 1, len + 8, buf, a, 1 << 20, &end));
	ASSERT_EQ(SKV_S_BAD_REQUEST, skv_replica_write(&self->r, 1, 8, buf, len, 1 << 20, &end));
	/* A corrupt record: nothing of the batch is taken. */
	rec_put(buf + len, SKV_REC_OBJECT, 3, 12, 50);
	a = rec_put(buf + len + 200, SKV_REC_OBJECT, 4, 13, 50);
	memcpy(buf + len + 200 + a, buf + len, a);
	buf[len + 200 + a + 45] ^= 1;
	ASSERT_EQ(SKV_S_BAD_REQUEST, skv_replica_write(&self->r, 1, len, buf + len + 200, 2 * a,
						      1 << 20, &end));
	ASSERT_EQ(len, self->r.st.end);
	/* Past the bound: BACKUP_FULL, nothing taken. */
	ASSERT_EQ(SKV_S_BACKUP_FULL, skv_replica_write(&self->r, 1, len, buf + len + 200, a,
						      len + a - 1, &end));
	ASSERT_EQ(SKV_S_OK, skv_replica_write(&self->r, 1, len, buf + len + 200, a,
					      len + a, &end));
	/* The fence refuses the old epoch from now on. */
	skv_replica_fence(&self->r, 2);
	ASSERT_EQ(SKV_S_STALE_EPOCH, skv_replica_write(&self->r, 1, end, buf, b, 1 << 20, &end));
}

TEST_F(rp, memory_charged_and_limited)
{
	struct skv_store_stats st;
	struct skv_store *small;
	struct skv_replica r;
	static u8 buf[8192];
	u64 base, end, pos = 0;
	u32 len, n = 0;
	int ret;

	/* 4 segments of 64 KiB: writes may use 2, so one chunk is too much. */
	small = store_new(SEG64K, 4 * SEG64K + (1 << 20), 10);
	ASSERT_NE(NULL, small);
	skv_replica_init(&r, small, 1);
	ASSERT_EQ(SKV_S_OK, skv_replica_open(&r, 1, 0, SKV_REPLICA_CREATE, &base, &end));
	len = rec_put(buf, SKV_REC_OBJECT, 1, 1, 4000);
	for (;;) {
		ret = skv_replica_write(&r, 1, pos, buf, len, 1ull << 40, &end);
		if (ret != SKV_S_OK)
			break;
		pos = end;
		n++;
		ASSERT_GT(100000, n);
	}
	ASSERT_EQ(SKV_S_BACKUP_FULL, ret);
	skv_store_get_stats(small, &st);
	ASSERT_EQ(skv_rstream_mem(&r.st), st.mem_replicas);
	ASSERT_GE(st.mem_limit, st.mem_used);
	ASSERT_LT(0, n);
	skv_replica_destroy(&r);
	skv_store_get_stats(small, &st);
	ASSERT_EQ(0, st.mem_replicas);
	skv_store_destroy(small);
}

/* Recovery: a replica's records, read back and replayed, give the data. */
TEST_F(rp, read_and_replay)
{
	static u8 buf[256 << 10], got[256 << 10];
	struct skv_replay_stats rs;
	struct skv_sidelog *sl;
	struct skv_store *fresh;
	u64 base, end, next, off;
	u32 len = 0, i, vlen;
	long n;
	char key[32], val[4096];

	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 1, 0, SKV_REPLICA_CREATE, &base, &end));
	/* Keys 0..99, then newer versions of the even ones, then 3 deleted. */
	for (i = 0; i < 100; i++)
		len += rec_put(buf + len, SKV_REC_OBJECT, i, 1 + i, 300);
	for (i = 0; i < 100; i += 2)
		len += rec_put(buf + len, SKV_REC_OBJECT, i, 1000 + i, 200);
	len += rec_put(buf + len, SKV_REC_TOMBSTONE, 3, 5000, 0);
	ASSERT_EQ(SKV_S_OK, skv_replica_write(&self->r, 1, 0, buf, len, 1 << 20, &end));

	fresh = store_new(SEG64K, 64ull << 20, 12);
	ASSERT_NE(NULL, fresh);
	ASSERT_EQ(0, skv_sidelog_create(fresh, &sl));
	/* Read in small budgets, replaying the oldest first would not matter. */
	for (off = 0; off < end; off = next) {
		n = skv_replica_read(&self->r, 1, off, got, 4096, &next);
		ASSERT_LT(0, n);
		ASSERT_EQ(off + n, next);
		ASSERT_EQ(0, skv_replay_records(fresh, sl, got, n, &rs));
	}
	ASSERT_EQ(-SKV_S_STALE_EPOCH, skv_replica_read(&self->r, 0, 0, got, 4096, &next));
	ASSERT_EQ(-SKV_S_BAD_REQUEST, skv_replica_read(&self->r, 1, 8, got, 4096, &next));
	skv_sidelog_destroy(fresh, sl);
	for (i = 0; i < 100; i++) {
		u32 klen = key_of(i, key);
		u64 ver;
		int st = skv_store_get(fresh, T1, key, klen, skv_key_hash(key, klen),
				       got, sizeof(got), &vlen, &ver);

		if (i == 3) {
			ASSERT_EQ(SKV_S_NOT_FOUND, st);
			continue;
		}
		ASSERT_EQ(SKV_S_OK, st);
		ASSERT_EQ(i % 2 ? 1 + i : 1000 + i, ver);
		ASSERT_EQ(val_of(i, ver, i % 2 ? 300 : 200, val), vlen);
		ASSERT_EQ(0, memcmp(val, got, vlen));
	}
	skv_store_destroy(fresh);
}

/*
 * A peer may ask for any position (REPL_READ): one inside a record, where
 * the value holds bytes that look like a header, must be refused before
 * its lengths size a copy (one past the largest record overran the
 * reply buffer; one whose length wraps to 0 never advanced).
 */
TEST_F(rp, read_inside_a_record_refused)
{
	static u8 buf[2 << 20], got[2 << 20];
	static const u32 fake_value_len[] = { 1u << 20, 0xffffffd8u };
	const u32 limit = SKV_REC_MAX_LEN;
	struct skv_rec_hdr fake = { .type = SKV_REC_OBJECT,
				    .key_len = cpu_to_le16(10) };
	u64 base, end, next, at;
	u32 len = 0, i, k;
	char key[32], val[4096];

	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 1, 0, SKV_REPLICA_CREATE, &base, &end));
	for (i = 0; len + 8192 < sizeof(buf) - 8192; i++) {
		u32 klen = key_of(i, key);

		memset(val, 'v', sizeof(val));
		fake.value_len = cpu_to_le32(fake_value_len[i % 2]);
		memcpy(val, &fake, sizeof(fake));
		skv_rec_write(buf + len, SKV_REC_OBJECT, T1, skv_key_hash(key, klen), 1 + i,
			      key, klen, val, sizeof(val),
			      skv_rec_payload_crc(key, klen, val, sizeof(val)));
		len += skv_rec_len(klen, sizeof(val));
	}
	ASSERT_EQ(SKV_S_OK, skv_replica_write(&self->r, 1, 0, buf, len, 4u << 20, &end));
	for (k = 0; k < 2; k++) {
		/* The value of record k starts after its header and key. */
		at = (u64)k * skv_rec_len(key_of(0, key), sizeof(val)) + SKV_REC_HDR_LEN +
		     key_of(k, key);
		memset(got, 0x5a, sizeof(got));
		ASSERT_EQ(-SKV_S_BAD_REQUEST,
			  skv_replica_read(&self->r, 1, at, got, 4096, &next));
		for (i = limit; i < sizeof(got); i++)
			ASSERT_EQ(0x5a, got[i]);
	}
	/* From a boundary the same bytes read back as they were written. */
	ASSERT_LT(0, skv_replica_read(&self->r, 1, 0, got, 4096, &next));
	ASSERT_EQ(0, memcmp(buf, got, next));
}

/* A departure record: a stream's only, checked, its range read back. */
TEST_F(rp, departure_record)
{
	static u8 buf[4096];
	struct skv_rec_view v;
	u64 base, end, lo, hi;
	u32 a = SKV_REC_DEPARTURE_LEN, len;

	skv_rec_write_departure(buf, T1, 100, 200);
	ASSERT_EQ(0, skv_rec_parse(buf, a, SKV_PARSE_CHECK_HASH | SKV_PARSE_STREAM, &v));
	ASSERT_EQ(SKV_REC_DEPARTURE, v.type);
	ASSERT_EQ(a, v.len);
	ASSERT_EQ(T1, v.table_id);
	skv_rec_departure_range(&v, &lo, &hi);
	ASSERT_EQ(100, lo);
	ASSERT_EQ(200, hi);
	/* Anywhere but a stream (a log, a batch, a replay) it is malformed. */
	ASSERT_EQ(-EBADMSG, skv_rec_parse(buf, a, SKV_PARSE_CHECK_HASH, &v));
	ASSERT_EQ(-EBADMSG, skv_rec_parse(buf, a, 0, &v));
	/* A backwards range is malformed. */
	skv_rec_write_departure(buf + a, T1, 201, 200);
	ASSERT_EQ(-EBADMSG, skv_rec_parse(buf + a, a, SKV_PARSE_STREAM, &v));
	/* A replica takes it between writes, and reads it back. */
	ASSERT_EQ(SKV_S_OK, skv_replica_open(&self->r, 1, 0, SKV_REPLICA_CREATE, &base, &end));
	len = a + rec_put(buf + a, SKV_REC_OBJECT, 1, 10, 100);
	ASSERT_EQ(SKV_S_OK, skv_replica_write(&self->r, 1, 0, buf, len, 1 << 20, &end));
	ASSERT_EQ(len, end);
	ASSERT_EQ(2, self->r.records);
	/* A departure of a stream-only type with a value is refused. */
	skv_rec_write(buf + len, SKV_REC_DEPARTURE, T1, 0, 0, "0123456789abcdef", 16, "x", 1,
		      skv_rec_payload_crc("0123456789abcdef", 16, "x", 1));
	ASSERT_EQ(-EBADMSG, skv_rec_parse(buf + len, skv_rec_len(16, 1), SKV_PARSE_STREAM, &v));
}

/* Which records a recovery of [1000, 1999] of table 1 skips. */
TEST(departures_spans)
{
	struct skv_departures d;

	skv_departures_init(&d, T1, 1000, 1999);
	/* Nothing departed: every record counts. */
	ASSERT_FALSE(skv_departed(&d, 0, 1500));
	/* Another table's departure, or one outside the range: ignored. */
	ASSERT_EQ(0, skv_departures_add(&d, T1 + 1, 0, U64_MAX, 50));
	ASSERT_EQ(0, skv_departures_add(&d, T1, 3000, 4000, 60));
	ASSERT_EQ(0, d.n);
	/* [1200, 1299] left at 100: its records before 100 are skipped. */
	ASSERT_EQ(0, skv_departures_add(&d, T1, 1200, 1299, 100));
	ASSERT_TRUE(skv_departed(&d, 99, 1200));
	ASSERT_TRUE(skv_departed(&d, 0, 1299));
	ASSERT_FALSE(skv_departed(&d, 100, 1250));	/* after it */
	ASSERT_FALSE(skv_departed(&d, 99, 1199));	/* outside it */
	ASSERT_FALSE(skv_departed(&d, 99, 1300));
	/* The whole table left at 200 (clipped to the range). */
	ASSERT_EQ(0, skv_departures_add(&d, T1, 0, U64_MAX, 200));
	ASSERT_EQ(1, d.n);
	ASSERT_TRUE(skv_departed(&d, 150, 1000));
	ASSERT_TRUE(skv_departed(&d, 199, 1999));
	ASSERT_FALSE(skv_departed(&d, 200, 1500));
	/* A later departure inside it splits it; the later one wins there. */
	ASSERT_EQ(0, skv_departures_add(&d, T1, 1400, 1499, 300));
	ASSERT_EQ(3, d.n);
	ASSERT_TRUE(skv_departed(&d, 250, 1450));
	ASSERT_FALSE(skv_departed(&d, 250, 1399));
	ASSERT_TRUE(skv_departed(&d, 199, 1399));
	ASSERT_FALSE(skv_departed(&d, 250, 1500));
	/* One over the end of two spans. */
	ASSERT_EQ(0, skv_departures_add(&d, T1, 1450, 1600, 400));
	ASSERT_EQ(4, d.n);
	ASSERT_TRUE(skv_departed(&d, 350, 1450));
	ASSERT_TRUE(skv_departed(&d, 250, 1449));
	ASSERT_FALSE(skv_departed(&d, 300, 1449));
	ASSERT_TRUE(skv_departed(&d, 399, 1600));
	ASSERT_FALSE(skv_departed(&d, 250, 1601));
	skv_departures_destroy(&d);
}

/* Many departures: held within SKV_DEPARTURES_MAX spans, then refused. */
TEST(departures_bounded)
{
	struct skv_departures d;
	u64 i;
	int err = 0;

	skv_departures_init(&d, T1, 0, U64_MAX);
	for (i = 0; !err; i++)
		err = skv_departures_add(&d, T1, 4 * i, 4 * i + 1, 10 + i);
	ASSERT_EQ(-ENOSPC, err);
	ASSERT_LE(d.n, SKV_DEPARTURES_MAX);
	ASSERT_TRUE(skv_departed(&d, 9 + 1000, 4 * 1000));
	ASSERT_FALSE(skv_departed(&d, 9 + 1000, 4 * 1000 + 2));
	skv_departures_destroy(&d);
}

TEST_HARNESS_MAIN
