/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The history checker of the migration tests (skv-history): given every
 * operation clients ran on a set of keys, with its invoke and completion
 * times and its answer, assert per key that
 *   (a) the final state is the acknowledged write with the highest version
 *       (or a write whose outcome is unknown): no acknowledged write lost,
 *       deleted keys stay deleted;
 *   (b) no read returns something older than the newest write acknowledged
 *       before the read was invoked, nor a value nobody wrote (or a write
 *       that was refused, or one invoked after the read completed);
 *   (c) acknowledged writes get strictly increasing versions in real-time
 *       order (and no two share one);
 *   (d) a conditional write succeeds only if its expected version was the
 *       key's current one: no two acknowledged conditional writes expect
 *       the same version, and no acknowledged write's version lies between
 *       the expected version and the new one.
 * Pure computation over an array: the host tests feed it hand-made
 * histories with and without each violation.
 */
#ifndef SKV_HISTORY_CHECK_H
#define SKV_HISTORY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hc_op { HC_GET, HC_PUT, HC_DELETE };

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
	 * value version (OK) or tombstone version (NOT_FOUND, may be 0).
	 */
	uint64_t version;
	/*
	 * PUT: the unique id of the value written (never 0).  GET OK: the id
	 * of the value read, 0 if it was not a value any client writes.
	 */
	uint64_t value;
};

enum hc_kind {
	HC_LOST_WRITE,		/* (a) */
	HC_STALE_READ,		/* (b) */
	HC_BAD_VALUE,		/* (b) a value nobody wrote, or out of its time */
	HC_VERSION_ORDER,	/* (c) */
	HC_CONDITIONAL,		/* (d) */
	HC_NR_KINDS,
};

#define HC_MAX_DETAILS	64	/* violations kept with their text */

struct hc_violation {
	enum hc_kind kind;
	uint32_t key;
	char msg[240];
};

struct hc_report {
	size_t events;
	size_t violations;			/* all of them */
	size_t by_kind[HC_NR_KINDS];
	size_t nr_details;
	struct hc_violation details[HC_MAX_DETAILS];	/* the first ones */
};

const char *hc_kind_name(enum hc_kind k);
enum hc_outcome hc_outcome(const struct hc_event *e);

/*
 * Check n events over keys 0..nkeys-1.  Returns 0 when it could check
 * (rep says what it found), -1 on bad input (a key out of range, an unknown
 * op) or out of memory.  ev is not modified.
 */
int hc_check(const struct hc_event *ev, size_t n, uint32_t nkeys, struct hc_report *rep);

#endif /* SKV_HISTORY_CHECK_H */
