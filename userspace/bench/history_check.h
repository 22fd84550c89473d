/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The linearizability checker of the migration tests (skv-history): given
 * every operation clients ran on a set of keys, with its invoke and
 * completion times and its answer, decide per key whether the history is
 * linearizable in real time against a register with versions.
 *
 * The store gives every write that takes effect a version of its own, and
 * a key's versions grow in the order its writes take effect; every answer
 * names a version (a PUT's or DELETE's new one, the version a GET read,
 * the tombstone of NOT_FOUND, the current version of VERSION_MISMATCH, 0
 * for "deleted, no tombstone left").  So the order of the writes is given,
 * and the checker only has to
 *   1. find the write behind every version an answer names: an
 *      acknowledged write, or one whose outcome is unknown (timeout, lost
 *      connection, resent after a reconnect: it may take effect at any
 *      point after its invoke, or never; it took effect if an answer shows
 *      its value or, failing any other explanation, its version);
 *   2. check the store's rules along that order: a read at version v
 *      returns the value written at v; a conditional write succeeds only
 *      when the write before it carries the expected version, and is
 *      refused (VERSION_MISMATCH) only when the current version differs;
 *   3. check real time: every operation takes a place in the order (a
 *      write at its version, a read just after the write it read, a read
 *      of "deleted, version 0" after any delete or an unknown-outcome
 *      DELETE it can place there), and an operation that completed before
 *      another was invoked must not be placed after it.
 * Each anomaly has its kind (enum hc_kind).  The report counts them all
 * and keeps the text of the first one of each bad key (up to
 * HC_MAX_DETAILS keys).  O(n log n): pure computation over an array.
 */
#ifndef SKV_HISTORY_CHECK_H
#define SKV_HISTORY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HC_MGET: one key's item of a MULTI-GET (a read like GET). */
enum hc_op { HC_GET, HC_PUT, HC_DELETE, HC_MGET, HC_NR_OPS };

/* How a write ended, from its status (see hc_outcome()). */
enum hc_outcome {
	HC_ACKED,	/* SKV_OK: applied */
	HC_REFUSED,	/* a status from the node: not applied */
	HC_UNKNOWN,	/* timeout, connection error, or resent after one */
};

struct hc_event {
	uint64_t invoke_ns;	/* CLOCK_MONOTONIC before the call */
	uint64_t complete_ns;	/* and after it returned */
	uint32_t client;
	uint32_t key;		/* index, < nkeys */
	uint8_t op;		/* enum hc_op */
	bool final;		/* the read of every key after all clients stopped */
	bool ambiguous;		/* the client reconnected and resent during the call */
	int status;		/* enum skv_code */
	uint64_t expect;	/* conditional writes: the expected version; 0 otherwise */
	/*
	 * Version from the answer: a write's new version (OK), a read's
	 * value version (OK), the tombstone's version (NOT_FOUND, may be 0),
	 * the current version (VERSION_MISMATCH, 0 if deleted).
	 */
	uint64_t version;
	/*
	 * PUT: the unique id of the value written (never 0).  GET OK: the id
	 * of the value read, 0 if it was not a value any client writes.
	 */
	uint64_t value;
};

enum hc_kind {
	HC_LOST_WRITE,		/* a read older than an acknowledged PUT before it; no final read */
	HC_RESURRECTED,		/* a read of a value older than an acknowledged DELETE before it */
	HC_STALE_READ,		/* a read older than a read that finished before it began */
	HC_VANISHED,		/* an unknown-outcome write a read saw, gone for a later read */
	HC_BAD_VALUE,		/* a value nobody wrote, a refused write's, one begun later */
	HC_UNEXPLAINED,		/* a version no write explains (tombstone, VERSION_MISMATCH) */
	HC_VERSION_ORDER,	/* a write acked below a version seen before it began; shared versions */
	HC_COND_REFUSED,	/* a conditional write refused when it should have won */
	HC_COND_ACCEPTED,	/* a conditional write accepted when it should have lost */
	HC_NR_KINDS,
};

#define HC_MAX_DETAILS	64	/* bad keys whose first violation is kept as text */

struct hc_violation {
	enum hc_kind kind;
	uint32_t key;
	char msg[320];
};

struct hc_report {
	size_t events;
	size_t violations;			/* all of them */
	size_t bad_keys;
	size_t by_kind[HC_NR_KINDS];
	size_t nr_details;
	struct hc_violation details[HC_MAX_DETAILS];	/* first of each bad key */
};

const char *hc_kind_name(enum hc_kind k);
/* One line on what a kind means (for TAP output). */
const char *hc_kind_what(enum hc_kind k);
enum hc_outcome hc_outcome(const struct hc_event *e);

/*
 * Check n events over keys 0..nkeys-1.  Returns 0 when it could check
 * (rep says what it found), -1 on bad input (a key out of range, an unknown
 * op) or out of memory.  ev is not modified.
 */
int hc_check(const struct hc_event *ev, size_t n, uint32_t nkeys, struct hc_report *rep);

#endif /* SKV_HISTORY_CHECK_H */
