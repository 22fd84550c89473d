// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host tests of the linearizability checker (history_check.c): hand-made
 * histories with and without each kind of anomaly, so the checker is shown
 * able to fail as well as to pass: overlapping operations that can be
 * ordered must pass, one history per anomaly must fail with its kind.
 */
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "history_check.h"
#include "steadykv.h"

struct hist {
	struct hc_event ev[96];
	size_t n;
	struct hc_report rep;
};

/* One event; times in microseconds for readability. */
static struct hc_event *op(struct hist *h, uint32_t key, uint8_t o, uint64_t inv_us,
			   uint64_t comp_us, int status, uint64_t expect, uint64_t version,
			   uint64_t value)
{
	struct hc_event *e = &h->ev[h->n++];

	memset(e, 0, sizeof(*e));
	e->key = key;
	e->op = o;
	e->invoke_ns = inv_us * 1000;
	e->complete_ns = comp_us * 1000;
	e->status = status;
	e->expect = expect;
	e->version = version;
	e->value = value;
	return e;
}

static struct hc_event *final_read(struct hist *h, uint32_t key, int status, uint64_t version,
				   uint64_t value)
{
	struct hc_event *e = op(h, key, HC_GET, 100000, 100001, status, 0, version, value);

	e->final = true;
	return e;
}

static void dump(const struct hc_report *r)
{
	for (size_t i = 0; i < r->nr_details; i++)
		fprintf(stderr, "#   %s: %s\n", hc_kind_name(r->details[i].kind),
			r->details[i].msg);
}

static int check(struct hist *h, uint32_t nkeys)
{
	int rc = hc_check(h->ev, h->n, nkeys, &h->rep);

	dump(&h->rep);
	return rc;
}

/* The history has exactly `count` violations, all of kind k. */
static bool only(const struct hist *h, enum hc_kind k, size_t count)
{
	return h->rep.violations == count && h->rep.by_kind[k] == count;
}

static struct hc_event *unknown(struct hc_event *e)
{
	e->ambiguous = true;
	return e;
}

/* A clean history of two keys: sequential and overlapping operations. */
static void clean(struct hist *h)
{
	/* key 0 */
	op(h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);		/* preload */
	op(h, 0, HC_GET, 20, 30, SKV_OK, 0, 1, 101);
	op(h, 0, HC_PUT, 40, 50, SKV_OK, 0, 2, 102);
	op(h, 0, HC_GET, 45, 60, SKV_OK, 0, 1, 101);		/* overlaps the PUT: old is fine */
	op(h, 0, HC_PUT, 70, 80, SKV_OK, 2, 3, 103);		/* conditional on v2 */
	op(h, 0, HC_PUT, 72, 82, SKV_E_VERSION_MISMATCH, 2, 3, 104);	/* lost the race */
	op(h, 0, HC_GET, 90, 95, SKV_OK, 0, 3, 103);
	op(h, 0, HC_DELETE, 100, 110, SKV_OK, 3, 4, 0);	/* conditional delete */
	op(h, 0, HC_GET, 120, 130, SKV_E_NOT_FOUND, 0, 4, 0);
	op(h, 0, HC_GET, 121, 131, SKV_E_NOT_FOUND, 0, 0, 0);	/* tombstone gone: 0 */
	op(h, 0, HC_PUT, 140, 5000, SKV_E_TIMEOUT, 0, 0, 105);	/* unknown outcome... */
	final_read(h, 0, SKV_OK, 9, 105);			/* ...it landed */
	/* key 1 */
	op(h, 1, HC_PUT, 0, 10, SKV_OK, 0, 5, 201);
	op(h, 1, HC_DELETE, 20, 30, SKV_E_NOT_OWNER, 0, 0, 0);	/* refused */
	op(h, 1, HC_GET, 40, 50, SKV_OK, 0, 5, 201);
	op(h, 1, HC_DELETE, 60, 6000, SKV_E_TIMEOUT, 0, 0, 0);	/* unknown... */
	op(h, 1, HC_GET, 70, 80, SKV_E_NOT_FOUND, 0, 0, 0);	/* ...but it did land */
	final_read(h, 1, SKV_E_NOT_FOUND, 0, 0);
}

TEST(clean_history_passes)
{
	struct hist h = { .n = 0 };

	clean(&h);
	ASSERT_EQ(0, check(&h, 2));
	ASSERT_EQ(h.n, h.rep.events);
	ASSERT_EQ(0u, h.rep.violations);
	ASSERT_EQ(0u, h.rep.bad_keys);
}

/* Overlapping operations that some order of places explains. */
TEST(overlapping_linearizable_histories_pass)
{
	struct hist h = { .n = 0 };

	/* key 0: two overlapping PUTs; reads inside them see either, in one order. */
	op(&h, 0, HC_PUT, 0, 100, SKV_OK, 0, 2, 101);
	op(&h, 0, HC_PUT, 10, 90, SKV_OK, 0, 1, 102);		/* acked lower: took effect first */
	op(&h, 0, HC_GET, 5, 20, SKV_E_NOT_FOUND, 0, 0, 0);	/* before both */
	op(&h, 0, HC_GET, 15, 30, SKV_OK, 0, 1, 102);
	op(&h, 0, HC_GET, 40, 50, SKV_OK, 0, 1, 102);		/* still v1 */
	op(&h, 0, HC_MGET, 45, 95, SKV_OK, 0, 2, 101);		/* v2 landed while it ran */
	op(&h, 0, HC_GET, 60, 200, SKV_OK, 0, 1, 102);		/* began before the MGET ended */
	op(&h, 0, HC_PUT, 110, 120, SKV_OK, 2, 3, 103);	/* conditional on v2 */
	op(&h, 0, HC_DELETE, 111, 130, SKV_E_VERSION_MISMATCH, 2, 3, 0);
	op(&h, 0, HC_DELETE, 112, 121, SKV_E_VERSION_MISMATCH, 1, 2, 0);	/* saw v2 */
	op(&h, 0, HC_DELETE, 140, 150, SKV_OK, 3, 4, 0);
	op(&h, 0, HC_PUT, 141, 160, SKV_E_VERSION_MISMATCH, 3, 0, 104);	/* deleted: 0 */
	op(&h, 0, HC_DELETE, 155, 165, SKV_E_NOT_FOUND, 0, 4, 0);
	final_read(&h, 0, SKV_E_NOT_FOUND, 4, 0);
	/* key 1: an unknown PUT nobody saw never happened; one a mismatch names did. */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 5, 201);
	op(&h, 1, HC_PUT, 20, 30, SKV_E_TIMEOUT, 0, 0, 202);
	op(&h, 1, HC_GET, 40, 50, SKV_OK, 0, 5, 201);
	unknown(op(&h, 1, HC_PUT, 60, 70, SKV_E_IO, 0, 0, 203));
	op(&h, 1, HC_PUT, 80, 90, SKV_E_VERSION_MISMATCH, 5, 9, 204);	/* v9: 203's */
	op(&h, 1, HC_MGET, 95, 99, SKV_OK, 0, 9, 203);
	final_read(&h, 1, SKV_OK, 9, 203);
	/* key 2: an unknown DELETE explains NOT_FOUND with no tombstone, after a read of v6. */
	op(&h, 2, HC_PUT, 0, 10, SKV_OK, 0, 6, 301);
	op(&h, 2, HC_DELETE, 20, 1000, SKV_E_TIMEOUT, 0, 0, 0);
	op(&h, 2, HC_GET, 25, 35, SKV_OK, 0, 6, 301);
	op(&h, 2, HC_GET, 40, 50, SKV_E_NOT_FOUND, 0, 0, 0);
	op(&h, 2, HC_PUT, 60, 70, SKV_OK, 0, 8, 302);
	final_read(&h, 2, SKV_OK, 8, 302);
	/* key 3: a DELETE begun while a read ran explains it; two unknown ones, two tombstones. */
	op(&h, 3, HC_PUT, 0, 10, SKV_OK, 0, 20, 401);
	op(&h, 3, HC_PUT, 20, 30, SKV_E_VERSION_MISMATCH, 20, 0, 402);	/* deleted meanwhile */
	op(&h, 3, HC_DELETE, 25, 9000, SKV_E_TIMEOUT, 0, 0, 0);
	op(&h, 3, HC_PUT, 40, 50, SKV_OK, 0, 22, 403);
	op(&h, 3, HC_DELETE, 60, 9000, SKV_E_TIMEOUT, 0, 0, 0);
	op(&h, 3, HC_GET, 70, 80, SKV_E_NOT_FOUND, 0, 23, 0);
	op(&h, 3, HC_DELETE, 90, 9000, SKV_E_TIMEOUT, 0, 0, 0);	/* never landed */
	final_read(&h, 3, SKV_E_NOT_FOUND, 23, 0);
	ASSERT_EQ(0, check(&h, 4));
	ASSERT_EQ(0u, h.rep.violations);
}

TEST(bad_input_is_refused)
{
	struct hist h = { .n = 0 };

	op(&h, 3, HC_GET, 0, 1, SKV_OK, 0, 0, 0);
	ASSERT_EQ(-1, hc_check(h.ev, h.n, 3, &h.rep));
	h.ev[0].key = 0;
	h.ev[0].op = 7;
	ASSERT_EQ(-1, hc_check(h.ev, h.n, 3, &h.rep));
}

TEST(lost_write_is_found)
{
	struct hist h = { .n = 0 };

	/* Final state older than the last acknowledged write. */
	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_PUT, 20, 30, SKV_OK, 0, 2, 102);
	final_read(&h, 0, SKV_OK, 1, 101);
	/* An acknowledged PUT gone, no DELETE anywhere. */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 3, 201);
	op(&h, 1, HC_GET, 20, 30, SKV_E_NOT_FOUND, 0, 0, 0);
	final_read(&h, 1, SKV_E_NOT_FOUND, 0, 0);
	ASSERT_EQ(0, check(&h, 2));
	ASSERT_TRUE(only(&h, HC_LOST_WRITE, 3));
	ASSERT_EQ(2u, h.rep.bad_keys);
	ASSERT_EQ(2u, h.rep.nr_details);	/* the first of each bad key */
	ASSERT_NE(NULL, strstr(h.rep.details[0].msg, "PUT of client 0 [20..30 us] OK v2"));
}

TEST(missing_or_failed_final_read_is_a_violation)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	final_read(&h, 0, SKV_E_TIMEOUT, 0, 0);
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 2, 201);		/* no final read */
	ASSERT_EQ(0, check(&h, 3));				/* key 2: untouched, none either */
	ASSERT_TRUE(only(&h, HC_LOST_WRITE, 3));
}

TEST(resurrected_delete_is_found)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 4, 101);
	op(&h, 0, HC_DELETE, 20, 30, SKV_OK, 0, 5, 0);
	final_read(&h, 0, SKV_OK, 4, 101);
	ASSERT_EQ(0, check(&h, 1));
	ASSERT_TRUE(only(&h, HC_RESURRECTED, 1));
}

TEST(read_older_than_a_finished_read_is_found)
{
	struct hist h = { .n = 0 };

	/* The second PUT is still running: only the earlier read orders them. */
	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_PUT, 20, 100, SKV_OK, 0, 2, 102);
	op(&h, 0, HC_GET, 30, 40, SKV_OK, 0, 2, 102);
	op(&h, 0, HC_MGET, 50, 60, SKV_OK, 0, 1, 101);		/* older: stale */
	op(&h, 0, HC_GET, 35, 60, SKV_OK, 0, 1, 101);		/* overlaps: fine */
	/* A tombstone older than one a finished read saw. */
	op(&h, 1, HC_DELETE, 0, 10, SKV_OK, 0, 3, 0);
	op(&h, 1, HC_PUT, 20, 100, SKV_OK, 0, 6, 201);
	op(&h, 1, HC_DELETE, 25, 100, SKV_OK, 0, 7, 0);
	op(&h, 1, HC_GET, 30, 40, SKV_E_NOT_FOUND, 0, 7, 0);
	op(&h, 1, HC_GET, 50, 60, SKV_E_NOT_FOUND, 0, 3, 0);	/* stale */
	ASSERT_EQ(0, check(&h, 2));
	ASSERT_TRUE(only(&h, HC_STALE_READ, 2));
}

TEST(write_acked_below_a_version_already_seen_is_found)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_PUT, 20, 100, SKV_OK, 0, 5, 102);
	op(&h, 0, HC_GET, 30, 40, SKV_OK, 0, 5, 102);
	op(&h, 0, HC_PUT, 50, 60, SKV_OK, 0, 3, 103);		/* after the read of v5 */
	/* Acked after an acknowledged write, but lower. */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 8, 201);
	op(&h, 1, HC_PUT, 20, 30, SKV_OK, 0, 7, 202);
	/* Two writes, one version. */
	op(&h, 2, HC_PUT, 0, 10, SKV_OK, 0, 9, 301);
	op(&h, 2, HC_DELETE, 5, 15, SKV_OK, 0, 9, 0);
	ASSERT_EQ(0, check(&h, 3));
	ASSERT_TRUE(only(&h, HC_VERSION_ORDER, 3));
}

TEST(unknown_write_seen_then_vanished_is_found)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_PUT, 20, 30, SKV_E_TIMEOUT, 0, 0, 102);	/* unknown */
	op(&h, 0, HC_GET, 40, 50, SKV_OK, 0, 7, 102);		/* it landed */
	op(&h, 0, HC_GET, 60, 70, SKV_OK, 0, 1, 101);		/* and is gone */
	/* An unknown DELETE a read saw, then the value is back. */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 2, 201);
	op(&h, 1, HC_DELETE, 20, 30, SKV_E_CLOSED, 0, 0, 0);
	op(&h, 1, HC_GET, 40, 50, SKV_E_NOT_FOUND, 0, 3, 0);
	op(&h, 1, HC_GET, 60, 70, SKV_OK, 0, 2, 201);
	ASSERT_EQ(0, check(&h, 2));
	ASSERT_TRUE(only(&h, HC_VANISHED, 2));
}

TEST(version_nothing_explains_is_found)
{
	struct hist h = { .n = 0 };

	/* VERSION_MISMATCH naming v4: no PUT made it, no unknown one could. */
	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_PUT, 20, 30, SKV_E_VERSION_MISMATCH, 1, 4, 102);
	/* A current version that is a tombstone's (a deleted key's is 0). */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 5, 201);
	op(&h, 1, HC_DELETE, 20, 30, SKV_OK, 0, 6, 0);
	op(&h, 1, HC_PUT, 40, 50, SKV_E_VERSION_MISMATCH, 5, 6, 202);
	/* A tombstone no DELETE made; the unknown DELETE began too late. */
	op(&h, 2, HC_PUT, 0, 10, SKV_OK, 0, 7, 301);
	op(&h, 2, HC_GET, 20, 30, SKV_E_NOT_FOUND, 0, 8, 0);
	op(&h, 2, HC_DELETE, 40, 50, SKV_E_TIMEOUT, 0, 0, 0);
	ASSERT_EQ(0, check(&h, 3));
	ASSERT_TRUE(only(&h, HC_UNEXPLAINED, 3));
}

TEST(bad_value_is_found)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_GET, 20, 30, SKV_OK, 0, 1, 999);		/* nobody wrote 999 */
	op(&h, 0, HC_GET, 20, 30, SKV_OK, 0, 1, 0);		/* unparsable value */
	op(&h, 0, HC_PUT, 40, 50, SKV_E_NOT_OWNER, 0, 0, 102);
	op(&h, 0, HC_GET, 60, 70, SKV_OK, 0, 8, 102);		/* a refused write's value */
	op(&h, 0, HC_GET, 80, 90, SKV_OK, 0, 9, 103);		/* from the future */
	op(&h, 0, HC_PUT, 95, 99, SKV_OK, 0, 9, 103);
	op(&h, 0, HC_GET, 100, 110, SKV_OK, 0, 10, 103);	/* value and version disagree */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 2, 201);
	op(&h, 0, HC_GET, 120, 130, SKV_OK, 0, 2, 201);		/* another key's value */
	ASSERT_EQ(0, check(&h, 2));
	ASSERT_TRUE(only(&h, HC_BAD_VALUE, 6));
	ASSERT_EQ(1u, h.rep.bad_keys);
	ASSERT_EQ(1u, h.rep.nr_details);
}

TEST(ambiguous_writes_are_unknown)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	/* Applied, then the connection broke; the resend found v2 and failed. */
	unknown(op(&h, 0, HC_PUT, 20, 30, SKV_E_VERSION_MISMATCH, 1, 2, 102));
	op(&h, 0, HC_GET, 40, 50, SKV_OK, 0, 2, 102);
	/* Applied twice (v3 then v4) when resent; acknowledged as v4. */
	unknown(op(&h, 0, HC_PUT, 60, 70, SKV_OK, 0, 4, 103));
	op(&h, 0, HC_GET, 62, 68, SKV_OK, 0, 3, 103);
	final_read(&h, 0, SKV_OK, 4, 103);
	ASSERT_EQ(0, check(&h, 1));
	ASSERT_EQ(0u, h.rep.violations);
	ASSERT_EQ(HC_UNKNOWN, hc_outcome(&h.ev[1]));
	ASSERT_EQ(HC_ACKED, hc_outcome(&h.ev[3]));
	h.ev[1].ambiguous = false;
	ASSERT_EQ(HC_REFUSED, hc_outcome(&h.ev[1]));
}

TEST(conditional_write_refused_when_it_should_have_won_is_found)
{
	struct hist h = { .n = 0 };

	/* The mismatch names the version expected. */
	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_PUT, 20, 30, SKV_E_VERSION_MISMATCH, 1, 1, 102);
	/* The mismatch names a version overwritten before it began. */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 2, 201);
	op(&h, 1, HC_PUT, 12, 15, SKV_OK, 0, 3, 202);
	op(&h, 1, HC_PUT, 20, 30, SKV_E_VERSION_MISMATCH, 3, 2, 203);
	ASSERT_EQ(0, check(&h, 2));
	ASSERT_TRUE(only(&h, HC_COND_REFUSED, 2));
}

TEST(conditional_write_accepted_when_it_should_have_lost_is_found)
{
	struct hist h = { .n = 0 };

	/* Two winners for one expected version. */
	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 2, 101);
	op(&h, 0, HC_PUT, 20, 30, SKV_OK, 2, 3, 102);
	op(&h, 0, HC_DELETE, 21, 31, SKV_OK, 2, 4, 0);
	/* A winner although another write came in between. */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 5, 201);
	op(&h, 1, HC_PUT, 20, 30, SKV_OK, 0, 6, 202);
	op(&h, 1, HC_PUT, 25, 40, SKV_OK, 5, 7, 203);
	/* A winner on a deleted key (whose version is 0, not the tombstone's). */
	op(&h, 2, HC_PUT, 0, 10, SKV_OK, 0, 8, 301);
	op(&h, 2, HC_DELETE, 20, 30, SKV_OK, 0, 9, 0);
	op(&h, 2, HC_PUT, 40, 50, SKV_OK, 9, 10, 302);
	/* Refused ones that lost the race are fine. */
	op(&h, 3, HC_PUT, 0, 10, SKV_OK, 0, 11, 401);
	op(&h, 3, HC_PUT, 20, 30, SKV_OK, 11, 12, 402);
	op(&h, 3, HC_PUT, 21, 31, SKV_E_VERSION_MISMATCH, 11, 12, 403);
	op(&h, 3, HC_DELETE, 22, 32, SKV_E_VERSION_MISMATCH, 11, 12, 0);
	ASSERT_EQ(0, check(&h, 4));
	ASSERT_TRUE(only(&h, HC_COND_ACCEPTED, 3));
}

TEST_HARNESS_MAIN
