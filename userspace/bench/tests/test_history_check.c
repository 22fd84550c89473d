// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host tests of the history checker (history_check.c): hand-made histories
 * with and without each kind of violation, so the checker is shown able to
 * fail as well as to pass.
 */
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "history_check.h"
#include "steadykv.h"

struct hist {
	struct hc_event ev[64];
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
	final_read(&h, 1, SKV_E_NOT_FOUND, 0, 0);
	/* A deleted key back from the dead. */
	op(&h, 2, HC_PUT, 0, 10, SKV_OK, 0, 4, 301);
	op(&h, 2, HC_DELETE, 20, 30, SKV_OK, 0, 5, 0);
	final_read(&h, 2, SKV_OK, 4, 301);
	/* Key 3: no final read at all. */
	op(&h, 3, HC_PUT, 0, 10, SKV_OK, 0, 6, 401);
	ASSERT_EQ(0, check(&h, 5));	/* key 4: untouched, no final read either */
	ASSERT_EQ(5u, h.rep.by_kind[HC_LOST_WRITE]);
	/* The final reads are reads too: each was also stale. */
	ASSERT_EQ(3u, h.rep.by_kind[HC_STALE_READ]);
	ASSERT_EQ(0u, h.rep.by_kind[HC_BAD_VALUE]);
	ASSERT_EQ(8u, h.rep.violations);
}

TEST(final_read_failure_is_a_violation)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	final_read(&h, 0, SKV_E_TIMEOUT, 0, 0);
	ASSERT_EQ(0, check(&h, 1));
	ASSERT_EQ(1u, h.rep.by_kind[HC_LOST_WRITE]);
}

TEST(stale_read_is_found)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_PUT, 20, 30, SKV_OK, 0, 2, 102);
	op(&h, 0, HC_GET, 40, 50, SKV_OK, 0, 1, 101);		/* stale */
	op(&h, 0, HC_GET, 25, 50, SKV_OK, 0, 1, 101);		/* overlaps: fine */
	/* NOT_FOUND after an acknowledged PUT, no DELETE. */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 3, 201);
	op(&h, 1, HC_GET, 20, 30, SKV_E_NOT_FOUND, 0, 0, 0);	/* stale */
	/* NOT_FOUND whose tombstone is older than an acknowledged write. */
	op(&h, 2, HC_DELETE, 0, 10, SKV_OK, 0, 4, 0);
	op(&h, 2, HC_DELETE, 20, 30, SKV_E_NOT_FOUND, 0, 4, 0);	/* refused */
	op(&h, 2, HC_PUT, 40, 50, SKV_OK, 0, 6, 301);
	op(&h, 2, HC_DELETE, 60, 70, SKV_OK, 0, 7, 0);
	op(&h, 2, HC_GET, 80, 90, SKV_E_NOT_FOUND, 0, 4, 0);	/* stale */
	ASSERT_EQ(0, check(&h, 3));
	ASSERT_EQ(3u, h.rep.by_kind[HC_STALE_READ]);
	ASSERT_EQ(3u, h.rep.violations);
}

TEST(bad_value_is_found)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	op(&h, 0, HC_GET, 20, 30, SKV_OK, 0, 1, 999);		/* nobody wrote 999 */
	op(&h, 0, HC_GET, 20, 30, SKV_OK, 0, 1, 0);		/* unparsable value */
	op(&h, 0, HC_PUT, 40, 50, SKV_E_VERSION_MISMATCH, 7, 1, 102);
	op(&h, 0, HC_GET, 60, 70, SKV_OK, 0, 8, 102);		/* a refused write's value */
	op(&h, 0, HC_GET, 80, 90, SKV_OK, 0, 9, 103);		/* from the future */
	op(&h, 0, HC_PUT, 95, 99, SKV_OK, 0, 9, 103);
	op(&h, 0, HC_GET, 100, 110, SKV_OK, 0, 10, 103);	/* value and version disagree */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 2, 201);
	op(&h, 0, HC_GET, 120, 130, SKV_OK, 0, 2, 201);		/* another key's value */
	ASSERT_EQ(0, check(&h, 2));
	ASSERT_EQ(6u, h.rep.by_kind[HC_BAD_VALUE]);
	ASSERT_EQ(6u, h.rep.violations);
}

TEST(ambiguous_writes_are_unknown)
{
	struct hist h = { .n = 0 };
	struct hc_event *e;

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 1, 101);
	/* Applied, then the connection broke; the resend found v2 and failed. */
	e = op(&h, 0, HC_PUT, 20, 30, SKV_E_VERSION_MISMATCH, 1, 2, 102);
	e->ambiguous = true;
	op(&h, 0, HC_GET, 40, 50, SKV_OK, 0, 2, 102);
	/* Applied twice (v3 then v4) when resent; acknowledged as v4. */
	e = op(&h, 0, HC_PUT, 60, 70, SKV_OK, 0, 4, 103);
	e->ambiguous = true;
	op(&h, 0, HC_GET, 62, 68, SKV_OK, 0, 3, 103);
	final_read(&h, 0, SKV_OK, 4, 103);
	ASSERT_EQ(0, check(&h, 1));
	ASSERT_EQ(0u, h.rep.violations);
	ASSERT_EQ(HC_UNKNOWN, hc_outcome(&h.ev[1]));
	ASSERT_EQ(HC_ACKED, hc_outcome(&h.ev[3]));
	h.ev[1].ambiguous = false;
	ASSERT_EQ(HC_REFUSED, hc_outcome(&h.ev[1]));
}

TEST(version_order_is_checked)
{
	struct hist h = { .n = 0 };

	op(&h, 0, HC_PUT, 0, 10, SKV_OK, 0, 5, 101);
	op(&h, 0, HC_PUT, 20, 30, SKV_OK, 0, 3, 102);		/* after, but lower */
	op(&h, 1, HC_PUT, 0, 10, SKV_OK, 0, 6, 201);
	op(&h, 1, HC_DELETE, 5, 15, SKV_OK, 0, 6, 0);		/* same version */
	op(&h, 2, HC_PUT, 0, 30, SKV_OK, 0, 8, 301);
	op(&h, 2, HC_PUT, 10, 20, SKV_OK, 0, 7, 302);		/* concurrent: fine */
	ASSERT_EQ(0, check(&h, 3));
	ASSERT_EQ(2u, h.rep.by_kind[HC_VERSION_ORDER]);
	ASSERT_EQ(2u, h.rep.violations);
}

TEST(conditional_writes_are_checked)
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
	/* Refused ones say nothing. */
	op(&h, 2, HC_PUT, 0, 10, SKV_OK, 0, 8, 301);
	op(&h, 2, HC_PUT, 20, 30, SKV_OK, 8, 9, 302);
	op(&h, 2, HC_PUT, 21, 31, SKV_E_VERSION_MISMATCH, 8, 9, 303);
	op(&h, 2, HC_DELETE, 22, 32, SKV_E_VERSION_MISMATCH, 8, 9, 0);
	ASSERT_EQ(0, check(&h, 3));
	ASSERT_EQ(3u, h.rep.by_kind[HC_CONDITIONAL]);	/* the duplicate, two in-betweens */
	ASSERT_EQ(3u, h.rep.violations);
}

TEST_HARNESS_MAIN
