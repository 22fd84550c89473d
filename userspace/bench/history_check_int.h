/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The checker's insides, shared by its two halves: history_check.c finds
 * the writes behind the versions and checks the store's rules along them
 * (passes 1-4); history_order.c places every operation and checks real
 * time (passes 5-6).
 *
 * Places: 4 per version v.  The write of v at 4v, reads of v at 4v+1, an
 * unknown-outcome DELETE placed after v (to explain a "deleted, version 0"
 * read) at 4v+2, reads of that deleted state at 4v+3.
 */
#ifndef SKV_HISTORY_CHECK_INT_H
#define SKV_HISTORY_CHECK_INT_H

#include "history_check.h"
#include "steadykv.h"

#define NONE		UINT32_MAX
#define OPEN_END	UINT64_MAX	/* may take effect any time after its invoke */

/* Per-event flags. */
#define F_BAD		0x01	/* an answer already reported: not placed */
#define F_USED		0x02	/* an unknown-outcome write already given a version */

/* A write that took effect, at its version. */
struct wr {
	uint64_t version;
	uint32_t ev;
	bool open;	/* not acknowledged at this version: no completion time */
};

enum role { R_WRITE, R_READ, R_MISMATCH };

/* An operation's place in the key's order. */
struct item {
	uint64_t invoke, complete;	/* complete OPEN_END: never completes */
	uint64_t pos;
	uint32_t ev;
	uint32_t writer;	/* reads: the event that wrote what they read, NONE if not known */
	uint8_t role;		/* enum role */
	bool flex;		/* a read of "deleted, version 0": placed when it completes */
	bool writer_open;	/* reads: that write was not acknowledged */
	uint64_t lower_at;	/* flex: the furthest place completed before its invoke */
	uint32_t far_at;	/* flex: the item there, NONE if none */
};

/* A place an answer names outright, and when that answer came. */
struct fixed {
	uint64_t pos;
	uint64_t first_done;	/* the earliest completion at this place or after */
};

/* An unknown-outcome write that answers may explain. */
struct cand {
	uint64_t invoke;
	uint64_t lower;		/* the sweep: furthest place completed before its invoke */
	uint32_t ev;
};

struct ctx {
	const struct hc_event *ev;
	struct hc_report *rep;
	uint32_t *vals;		/* indices of PUTs, sorted by value id */
	size_t nvals;
	uint8_t *flags;		/* F_*, per event */
	uint64_t *attr;		/* unknown-outcome writes: the version given */
	/* Per-key scratch, sized for the largest key. */
	uint32_t key;
	bool key_bad;
	struct wr *w;
	size_t nw;
	struct item *it;
	size_t nit;
	uint32_t *obs;		/* answers to explain */
	uint32_t *done;		/* items in completion order */
	uint64_t *deleted;	/* places of deleted states, ascending */
	uint64_t *inserted;	/* places of reads of DELETEs the sweep placed, ascending */
	size_t ninserted;
	struct cand *cdel, *cput;
	size_t ncdel, ncput;
	struct fixed *fixed;	/* places answers name outright, by place */
	size_t nfixed;
};

static inline bool is_write(const struct hc_event *e)
{
	return e->op == HC_PUT || e->op == HC_DELETE;
}

static inline bool is_read(const struct hc_event *e)
{
	return e->op == HC_GET || e->op == HC_MGET;
}

static inline bool is_mismatch(const struct hc_event *e)
{
	return is_write(e) && e->expect && e->status == SKV_E_VERSION_MISMATCH;
}

/* An answer that names a deleted state: a read's or a DELETE's NOT_FOUND. */
static inline bool is_not_found(const struct hc_event *e)
{
	return (is_read(e) || e->op == HC_DELETE) && e->status == SKV_E_NOT_FOUND;
}

int hc_cmp_u64(uint64_t a, uint64_t b);
/* "conditional PUT (expect v3) of client 3 [120..130 us] OK v7" */
const char *hc_desc(char *buf, size_t len, const struct hc_event *e);
/* Count every violation; keep the text of the first one of each bad key. */
void hc_violation(struct ctx *x, enum hc_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The write that took effect as version v among the first n of W (sorted), or NULL. */
const struct wr *hc_write_at(const struct ctx *x, uint64_t v, size_t n);
/*
 * The unknown-outcome write of c[] (by invoke) to give a version: the
 * latest one begun before `before` that may still take one.
 */
const struct cand *hc_pick_cand(const struct ctx *x, const struct cand *c, size_t nc,
				uint64_t before);
void hc_take_cand(struct ctx *x, const struct cand *c, uint64_t version);

/* Passes 5 and 6 (history_order.c). */
void hc_make_items(struct ctx *x, const uint32_t *k, size_t n);
void hc_sweep(struct ctx *x);

#endif /* SKV_HISTORY_CHECK_INT_H */
