// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The linearizability checker (history_check.h).  Per key, in passes:
 * the writes that took effect, ordered by version (acknowledged ones, then
 * unknown-outcome ones that answers explain); the store's rules along that
 * order; then one sweep in invoke order that places every operation and
 * compares it with the furthest place of the operations completed before
 * it began.
 *
 * Places: 4 per version v.  The write of v at 4v, reads of v at 4v+1, an
 * unknown-outcome DELETE placed after v (to explain a "deleted, version 0"
 * read) at 4v+2, reads of that deleted state at 4v+3.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_check.h"
#include "steadykv.h"

#define NONE		UINT32_MAX
#define OPEN_END	UINT64_MAX	/* may take effect any time after its invoke */

/* Per-event flags. */
#define F_BAD		0x01	/* an answer already reported: not placed */
#define F_USED		0x02	/* an unknown-outcome write already given a version */

static const struct {
	const char *name, *what;
} kinds[HC_NR_KINDS] = {
	[HC_LOST_WRITE] = { "lost-write",
		"no read older than an acknowledged PUT before it; a final read of each key" },
	[HC_RESURRECTED] = { "resurrected-delete",
		"no read of a value older than an acknowledged DELETE before it" },
	[HC_STALE_READ] = { "stale-read", "no read older than a read finished before it began" },
	[HC_VANISHED] = { "vanished-write",
		"an unknown-outcome write a read saw does not vanish later" },
	[HC_BAD_VALUE] = { "bad-value",
		"every value read was written at its version, and before the read ended" },
	[HC_UNEXPLAINED] = { "unexplained-version",
		"every tombstone and VERSION_MISMATCH version is one a write made" },
	[HC_VERSION_ORDER] = { "version-order",
		"versions of writes are unique and grow in real-time order" },
	[HC_COND_REFUSED] = { "conditional-refused",
		"a conditional write is refused only when the current version differs" },
	[HC_COND_ACCEPTED] = { "conditional-accepted",
		"a conditional write succeeds only on the version it expects" },
};

const char *hc_kind_name(enum hc_kind k)
{
	return (unsigned int)k < HC_NR_KINDS ? kinds[k].name : "?";
}

const char *hc_kind_what(enum hc_kind k)
{
	return (unsigned int)k < HC_NR_KINDS ? kinds[k].what : "?";
}

enum hc_outcome hc_outcome(const struct hc_event *e)
{
	if (e->status == SKV_OK)
		return HC_ACKED;
	if (e->ambiguous)
		return HC_UNKNOWN;
	/* The node's statuses (and local refusals before sending) were not applied. */
	if (e->status > -100 || e->status == SKV_E_INVAL)
		return HC_REFUSED;
	return HC_UNKNOWN;
}

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

static bool is_write(const struct hc_event *e)
{
	return e->op == HC_PUT || e->op == HC_DELETE;
}

static bool is_read(const struct hc_event *e)
{
	return e->op == HC_GET || e->op == HC_MGET;
}

static bool is_mismatch(const struct hc_event *e)
{
	return is_write(e) && e->expect && e->status == SKV_E_VERSION_MISMATCH;
}

/* An answer that names a deleted state: a read's or a DELETE's NOT_FOUND. */
static bool is_not_found(const struct hc_event *e)
{
	return (is_read(e) || e->op == HC_DELETE) && e->status == SKV_E_NOT_FOUND;
}

static const char *op_name(const struct hc_event *e)
{
	switch (e->op) {
	case HC_GET:
		return e->final ? "final GET" : "GET";
	case HC_MGET:
		return "MULTI-GET item";
	case HC_PUT:
		return e->expect ? "conditional PUT" : "PUT";
	default:
		return e->expect ? "conditional DELETE" : "DELETE";
	}
}

/* "conditional PUT of client 3 [120..130 us] OK v7" */
static const char *desc(char *buf, size_t len, const struct hc_event *e)
{
	char exp[32] = "";

	if (e->expect)
		snprintf(exp, sizeof(exp), " (expect v%llu)", (unsigned long long)e->expect);
	snprintf(buf, len, "%s%s of client %u [%.0f..%.0f us] %s v%llu", op_name(e), exp,
		 e->client, (double)e->invoke_ns / 1000.0, (double)e->complete_ns / 1000.0,
		 skv_code_name(e->status), (unsigned long long)e->version);
	return buf;
}

static void violation(struct ctx *x, enum hc_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Count every violation; keep the text of the first one of each bad key. */
static void violation(struct ctx *x, enum hc_kind kind, const char *fmt, ...)
{
	struct hc_report *r = x->rep;
	struct hc_violation *d;
	va_list ap;
	int len;

	r->violations++;
	r->by_kind[kind]++;
	if (x->key_bad)
		return;
	x->key_bad = true;
	r->bad_keys++;
	if (r->nr_details == HC_MAX_DETAILS)
		return;
	d = &r->details[r->nr_details++];
	d->kind = kind;
	d->key = x->key;
	len = snprintf(d->msg, sizeof(d->msg), "key %u: ", x->key);
	va_start(ap, fmt);
	vsnprintf(d->msg + len, sizeof(d->msg) - (size_t)len, fmt, ap);
	va_end(ap);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int by_key_invoke(const void *a, const void *b, void *arg)
{
	const struct hc_event *ev = arg;
	uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;

	if (ev[i].key != ev[j].key)
		return ev[i].key < ev[j].key ? -1 : 1;
	if (ev[i].invoke_ns != ev[j].invoke_ns)
		return cmp_u64(ev[i].invoke_ns, ev[j].invoke_ns);
	return cmp_u64(i, j);
}

static int by_value(const void *a, const void *b, void *arg)
{
	const struct hc_event *ev = arg;

	return cmp_u64(ev[*(const uint32_t *)a].value, ev[*(const uint32_t *)b].value);
}

/* Answers by the version they name, then by completion. */
static int by_version(const void *a, const void *b, void *arg)
{
	const struct hc_event *ev = arg;
	const struct hc_event *x = &ev[*(const uint32_t *)a], *y = &ev[*(const uint32_t *)b];

	if (x->version != y->version)
		return cmp_u64(x->version, y->version);
	return cmp_u64(x->complete_ns, y->complete_ns);
}

static int wr_cmp(const void *a, const void *b)
{
	const struct wr *x = a, *y = b;

	if (x->version != y->version)
		return cmp_u64(x->version, y->version);
	if (x->ev != y->ev)
		return cmp_u64(x->ev, y->ev);
	return (int)x->open - (int)y->open;
}

static int item_by_invoke(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->invoke != y->invoke)
		return cmp_u64(x->invoke, y->invoke);
	return cmp_u64(x->ev, y->ev);
}

static int done_by_complete(const void *a, const void *b, void *arg)
{
	const struct item *it = arg;

	return cmp_u64(it[*(const uint32_t *)a].complete, it[*(const uint32_t *)b].complete);
}

static const struct hc_event *writer_of(const struct ctx *x, uint64_t value, uint32_t *idx)
{
	size_t lo = 0, hi = x->nvals;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->ev[x->vals[mid]].value < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->nvals && x->ev[x->vals[lo]].value == value) {
		*idx = x->vals[lo];
		return &x->ev[*idx];
	}
	return NULL;
}

/* The write that took effect as version v among the first n of W (sorted), or NULL. */
static const struct wr *write_at(const struct ctx *x, uint64_t v, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->w[mid].version < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && x->w[lo].version == v ? &x->w[lo] : NULL;
}

static void add_write(struct ctx *x, uint64_t version, uint32_t ev, bool open)
{
	x->w[x->nw++] = (struct wr){ .version = version, .ev = ev, .open = open };
}

/* Sort W, one entry per (version, event): a read may explain the same write many times. */
static void sort_writes(struct ctx *x)
{
	size_t out = 0;

	qsort(x->w, x->nw, sizeof(*x->w), wr_cmp);
	for (size_t i = 0; i < x->nw; i++) {
		if (out && x->w[out - 1].version == x->w[i].version &&
		    x->w[out - 1].ev == x->w[i].ev)
			continue;
		x->w[out++] = x->w[i];
	}
	x->nw = out;
}

/* Unknown-outcome writes of op, in invoke order (k is). */
static size_t collect_cands(struct ctx *x, const uint32_t *k, size_t n, uint8_t op,
			    struct cand *c)
{
	size_t nc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct hc_event *e = &x->ev[k[i]];
		enum hc_outcome o = hc_outcome(e);

		if (e->op != op || o == HC_REFUSED || (o == HC_ACKED && !e->ambiguous))
			continue;
		c[nc++] = (struct cand){ .invoke = e->invoke_ns, .ev = k[i] };
	}
	return nc;
}

static bool cand_free(const struct ctx *x, const struct cand *c)
{
	return x->ev[c->ev].ambiguous || !(x->flags[c->ev] & F_USED);
}

/*
 * The unknown-outcome write of c[] (by invoke) to give a version: the
 * latest one begun before `before` that may still take one (a resent one
 * may have landed more than once), so that earlier ones, which can
 * explain more, stay free.
 */
static const struct cand *pick_cand(const struct ctx *x, const struct cand *c, size_t nc,
				    uint64_t before)
{
	size_t lo = 0, hi = nc;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c[mid].invoke < before)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo-- > 0)
		if (cand_free(x, &c[lo]))
			return &c[lo];
	return NULL;
}

static int fixed_by_pos(const void *a, const void *b)
{
	const struct fixed *x = a, *y = b;

	return cmp_u64(x->pos, y->pos);
}

/*
 * The places that answers name outright (acknowledged writes, reads of a
 * version), so that a write given version v must begin before any of them
 * beyond 4v has completed.
 */
static void collect_fixed(struct ctx *x, const uint32_t *k, size_t n)
{
	x->nfixed = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hc_event *e = &x->ev[k[i]];
		uint64_t pos;

		if (!e->version)
			continue;
		if (is_write(e) && hc_outcome(e) == HC_ACKED)
			pos = 4 * e->version;
		else if ((is_read(e) && e->status == SKV_OK) || is_not_found(e) || is_mismatch(e))
			pos = 4 * e->version + 1;
		else
			continue;
		x->fixed[x->nfixed++] = (struct fixed){ .pos = pos, .first_done = e->complete_ns };
	}
	qsort(x->fixed, x->nfixed, sizeof(*x->fixed), fixed_by_pos);
	for (size_t i = x->nfixed - (x->nfixed > 0); i-- > 0; )
		if (x->fixed[i + 1].first_done < x->fixed[i].first_done)
			x->fixed[i].first_done = x->fixed[i + 1].first_done;
}

/* The earliest completion of an answer placed after pos (OPEN_END if none). */
static uint64_t done_after(const struct ctx *x, uint64_t pos)
{
	size_t lo = 0, hi = x->nfixed;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->fixed[mid].pos <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->nfixed ? x->fixed[lo].first_done : OPEN_END;
}

static void take_cand(struct ctx *x, const struct cand *c, uint64_t version)
{
	x->flags[c->ev] |= F_USED;
	x->attr[c->ev] = version;
}

/* Pass 1: acknowledged writes, and the unknown-outcome PUTs whose value a read returned. */
static void explain_values(struct ctx *x, const uint32_t *k, size_t n)
{
	char a[160], b[160];

	for (size_t i = 0; i < n; i++) {
		const struct hc_event *e = &x->ev[k[i]];

		if (is_write(e) && hc_outcome(e) == HC_ACKED && e->version)
			add_write(x, e->version, k[i], false);
	}
	for (size_t i = 0; i < n; i++) {
		const struct hc_event *r = &x->ev[k[i]], *w;
		uint32_t wi = NONE;
		enum hc_outcome o;

		if (!is_read(r) || r->status != SKV_OK)
			continue;
		w = r->value ? writer_of(x, r->value, &wi) : NULL;
		if (!w || w->key != x->key) {
			x->flags[k[i]] |= F_BAD;
			violation(x, HC_BAD_VALUE, "%s returned a value no PUT of this key wrote",
				  desc(b, sizeof(b), r));
			continue;
		}
		o = hc_outcome(w);
		if (o == HC_REFUSED) {
			x->flags[k[i]] |= F_BAD;
			violation(x, HC_BAD_VALUE, "%s returned the value of the refused %s",
				  desc(b, sizeof(b), r), desc(a, sizeof(a), w));
		} else if (o == HC_ACKED && r->version == w->version) {
			continue;
		} else if (w->ambiguous) {
			/* Resent: each copy may have landed with a version of its own. */
			add_write(x, r->version, wi, true);
		} else if (o == HC_UNKNOWN && !(x->flags[wi] & F_USED)) {
			x->flags[wi] |= F_USED;
			x->attr[wi] = r->version;
			add_write(x, r->version, wi, true);
		} else if (o == HC_UNKNOWN && x->attr[wi] == r->version) {
			continue;
		} else {
			x->flags[k[i]] |= F_BAD;
			violation(x, HC_BAD_VALUE, "%s returned the value of %s at another version",
				  desc(b, sizeof(b), r), desc(a, sizeof(a), w));
		}
	}
	sort_writes(x);
}

/*
 * Passes 2 and 3: the versions answers name without a value (tombstones of
 * NOT_FOUND, the current version of VERSION_MISMATCH) must be writes of
 * op (DELETE, PUT): known ones, or unknown-outcome ones begun before the
 * first answer naming the version ended.
 */
static void explain_versions(struct ctx *x, const uint32_t *k, size_t n, uint8_t op)
{
	const struct cand *c = op == HC_DELETE ? x->cdel : x->cput;
	size_t nc = op == HC_DELETE ? x->ncdel : x->ncput, nobs = 0;
	size_t sorted = x->nw;	/* what this pass adds goes after, unsorted */
	char a[160], b[160];

	for (size_t i = 0; i < n; i++) {
		const struct hc_event *e = &x->ev[k[i]];

		if (!e->version || (x->flags[k[i]] & F_BAD))
			continue;
		if (op == HC_DELETE ? is_not_found(e) : is_mismatch(e))
			x->obs[nobs++] = k[i];
	}
	qsort_r(x->obs, nobs, sizeof(*x->obs), by_version, (void *)x->ev);
	for (size_t i = 0, j; i < nobs; i = j) {
		const struct hc_event *e = &x->ev[x->obs[i]];
		const struct wr *w = write_at(x, e->version, sorted);
		const struct cand *u;
		uint64_t first_done = e->complete_ns;

		for (j = i; j < nobs && x->ev[x->obs[j]].version == e->version; j++)
			if (x->ev[x->obs[j]].complete_ns < first_done)
				first_done = x->ev[x->obs[j]].complete_ns;
		if (w && x->ev[w->ev].op == op)
			continue;
		/* Begun before the first answer naming it ended, and before one beyond it. */
		if (done_after(x, 4 * e->version) < first_done)
			first_done = done_after(x, 4 * e->version) + 1;
		u = w ? NULL : pick_cand(x, c, nc, first_done);
		if (u) {
			take_cand(x, u, e->version);
			add_write(x, e->version, u->ev, true);
			continue;
		}
		for (size_t m = i; m < j; m++)
			x->flags[x->obs[m]] |= F_BAD;
		if (w)
			violation(x, HC_UNEXPLAINED, "%s names v%llu, which %s made",
				  desc(b, sizeof(b), e), (unsigned long long)e->version,
				  desc(a, sizeof(a), &x->ev[w->ev]));
		else
			violation(x, HC_UNEXPLAINED, "%s names v%llu, which no %s made",
				  desc(b, sizeof(b), e), (unsigned long long)e->version,
				  op == HC_DELETE ? "DELETE" : "PUT");
	}
	sort_writes(x);
}

/* Pass 4: one write per version; conditional writes against the write before them. */
static void check_writes(struct ctx *x, const uint32_t *k, size_t n)
{
	char a[160], b[160];

	for (size_t i = 0; i < n; i++) {
		const struct hc_event *e = &x->ev[k[i]];

		if (is_mismatch(e) && e->version == e->expect) {
			x->flags[k[i]] |= F_BAD;
			violation(x, HC_COND_REFUSED, "%s refused although the current version was the one expected",
				  desc(b, sizeof(b), e));
		}
	}
	for (size_t i = 0; i < x->nw; i++) {
		const struct wr *w = &x->w[i], *prev = i ? &x->w[i - 1] : NULL;
		const struct hc_event *e = &x->ev[w->ev];
		uint64_t cur;

		if (prev && prev->version == w->version) {
			violation(x, HC_VERSION_ORDER, "%s and %s both took effect as v%llu",
				  desc(a, sizeof(a), &x->ev[prev->ev]), desc(b, sizeof(b), e),
				  (unsigned long long)w->version);
			continue;
		}
		if (!e->expect || w->open)
			continue;
		/* A deleted key's version, for expectations, is 0. */
		cur = prev && x->ev[prev->ev].op == HC_PUT ? prev->version : 0;
		if (cur != e->expect) {
			if (prev)
				violation(x, HC_COND_ACCEPTED, "%s succeeded, but the write before it was %s",
					  desc(b, sizeof(b), e), desc(a, sizeof(a), &x->ev[prev->ev]));
			else
				violation(x, HC_COND_ACCEPTED, "%s succeeded on a key never written",
					  desc(b, sizeof(b), e));
		}
	}
}

/* Pass 5: every write and every answer that names a version, as an item. */
static void make_items(struct ctx *x, const uint32_t *k, size_t n)
{
	size_t nd = 0;

	x->nit = 0;
	x->deleted[nd++] = 1;	/* before the first write: deleted, version 0 */
	for (size_t i = 0; i < x->nw; i++) {
		const struct wr *w = &x->w[i];
		const struct hc_event *e = &x->ev[w->ev];

		x->it[x->nit++] = (struct item){
			.invoke = e->invoke_ns, .complete = w->open ? OPEN_END : e->complete_ns,
			.pos = 4 * w->version, .ev = w->ev, .writer = NONE, .role = R_WRITE,
		};
		if (e->op == HC_DELETE)
			x->deleted[nd++] = 4 * w->version + 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct hc_event *e = &x->ev[k[i]];
		struct item it = { .invoke = e->invoke_ns, .complete = e->complete_ns,
				   .ev = k[i], .writer = NONE, .role = R_READ };
		const struct wr *w;

		if (x->flags[k[i]] & F_BAD)
			continue;
		if (is_mismatch(e))
			it.role = R_MISMATCH;
		else if (!(is_read(e) && e->status == SKV_OK) && !is_not_found(e))
			continue;
		if (!e->version) {
			it.flex = true;
		} else {
			w = write_at(x, e->version, x->nw);
			if (!w)
				continue;	/* reported */
			it.pos = 4 * e->version + 1;
			it.writer = w->ev;
			it.writer_open = w->open;
		}
		x->it[x->nit++] = it;
	}
	x->deleted[nd] = OPEN_END;
}

/* Smallest a[] >= v in the ascending, OPEN_END-terminated a[]. */
static uint64_t ceil_of(const uint64_t *a, size_t n, uint64_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n ? a[lo] : OPEN_END;
}

static enum hc_kind order_kind(const struct ctx *x, const struct item *a, const struct item *b)
{
	const struct hc_event *ea = &x->ev[a->ev], *eb = &x->ev[b->ev];

	if (a->role == R_MISMATCH || b->role == R_MISMATCH)
		return HC_COND_REFUSED;
	if (b->role == R_WRITE)
		return a->role == R_READ && a->writer == b->ev ? HC_BAD_VALUE : HC_VERSION_ORDER;
	if (a->role == R_WRITE && ea->op == HC_PUT)
		return HC_LOST_WRITE;
	if (a->role == R_WRITE)
		return eb->status == SKV_OK ? HC_RESURRECTED : HC_STALE_READ;
	return a->writer_open ? HC_VANISHED : HC_STALE_READ;
}

/* b is placed before a, but a completed before b began. */
static void order_violation(struct ctx *x, const struct item *a, const struct item *b)
{
	enum hc_kind kind = order_kind(x, a, b);
	char da[160], db[160];

	desc(da, sizeof(da), &x->ev[a->ev]);
	desc(db, sizeof(db), &x->ev[b->ev]);
	if (kind == HC_BAD_VALUE)
		violation(x, kind, "%s returned the value of %s, which began after it completed",
			  da, db);
	else if (b->flex)
		violation(x, kind, "%s found the key deleted, but nothing deleted it after %s, which completed before it began",
			  db, da);
	else
		violation(x, kind, "%s is older than %s, which completed before it began", db, da);
}

/* The place of the first write after `lower` (OPEN_END if none). */
static uint64_t next_write(const struct ctx *x, uint64_t lower)
{
	size_t lo = 0, hi = x->nw;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (4 * x->w[mid].version <= lower)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->nw ? 4 * x->w[lo].version : OPEN_END;
}

/*
 * A place for a read of "deleted, version 0" at or after `lower`: the
 * nearest known deleted state if no write comes first, else one that an
 * unknown-outcome DELETE begun before the read makes (placed at 4v+2, its
 * readers at 4v+3; it takes effect once), else the nearest known one.
 * nbegun: how many of x->cdel began before the read; nd: places in
 * x->deleted.
 */
static uint64_t place_deleted(struct ctx *x, size_t nd, size_t nbegun, uint64_t lower)
{
	uint64_t best = ceil_of(x->deleted, nd, lower);
	uint64_t ins = ceil_of(x->inserted, x->ninserted, lower);
	const struct cand *u;
	uint64_t at;
	size_t i;

	if (ins < best)
		best = ins;
	if (best < next_write(x, lower))
		return best;
	u = pick_cand(x, x->cdel, nbegun, OPEN_END);
	if (!u)
		return best;
	at = lower > u->lower + 1 ? lower - 1 : u->lower;
	at += (6 - at % 4) % 4;		/* the next place 4v+2 */
	if (at + 1 >= best)
		return best;
	take_cand(x, u, 0);
	for (i = x->ninserted++; i && x->inserted[i - 1] > at + 1; i--)
		x->inserted[i] = x->inserted[i - 1];
	x->inserted[i] = at + 1;
	return at + 1;
}

/*
 * Pass 6: real time.  Events in time order (at equal times invokes first,
 * since only what completed before an invoke orders it): an item's invoke
 * compares its place with the furthest place completed so far; a read of
 * "deleted, version 0" takes its place when it completes, once every
 * unknown-outcome DELETE that may explain it has begun.
 */
static void sweep(struct ctx *x)
{
	size_t ndone = 0, d = 0, cb = 0, nd = 0, i = 0;
	uint32_t far = NONE;
	uint64_t lower = 0;

	while (x->deleted[nd] != OPEN_END)
		nd++;
	x->ninserted = 0;
	qsort(x->it, x->nit, sizeof(*x->it), item_by_invoke);
	for (size_t j = 0; j < x->nit; j++)
		if (x->it[j].complete != OPEN_END)
			x->done[ndone++] = (uint32_t)j;
	qsort_r(x->done, ndone, sizeof(*x->done), done_by_complete, x->it);
	while (i < x->nit || d < ndone) {
		uint64_t t_inv = i < x->nit ? x->it[i].invoke : OPEN_END;
		uint64_t t_cand = cb < x->ncdel ? x->cdel[cb].invoke : OPEN_END;
		uint64_t t_done = d < ndone ? x->it[x->done[d]].complete : OPEN_END;
		struct item *a;

		if (cb < x->ncdel && t_cand <= t_inv && t_cand <= t_done) {
			x->cdel[cb++].lower = lower;
			continue;
		}
		if (i < x->nit && t_inv <= t_done) {
			struct item *b = &x->it[i++];

			if (b->flex) {
				b->lower_at = lower;
				b->far_at = far;
			} else if (far != NONE && b->pos < lower) {
				order_violation(x, &x->it[far], b);
			}
			continue;
		}
		a = &x->it[x->done[d++]];
		if (a->flex) {
			uint64_t at = place_deleted(x, nd, cb, a->lower_at);

			a->pos = at == OPEN_END ? a->lower_at : at;
			if (at == OPEN_END && a->far_at != NONE)
				order_violation(x, &x->it[a->far_at], a);
		}
		if (a->pos > lower) {	/* ties: keep the first */
			far = (uint32_t)(a - x->it);
			lower = a->pos;
		}
	}
}

static void check_final(struct ctx *x, const uint32_t *k, size_t n, bool have_final)
{
	char b[160];

	for (size_t i = n; i-- > 0; ) {
		const struct hc_event *e = &x->ev[k[i]];

		if (!e->final || !is_read(e))
			continue;
		if (e->status != SKV_OK && e->status != SKV_E_NOT_FOUND)
			violation(x, HC_LOST_WRITE, "%s failed", desc(b, sizeof(b), e));
		return;
	}
	if (have_final)
		violation(x, HC_LOST_WRITE, "no final read");
}

static void check_key(struct ctx *x, const uint32_t *k, size_t n, bool have_final)
{
	x->key = x->ev[k[0]].key;
	x->key_bad = false;
	x->nw = 0;
	x->ncdel = collect_cands(x, k, n, HC_DELETE, x->cdel);
	x->ncput = collect_cands(x, k, n, HC_PUT, x->cput);
	collect_fixed(x, k, n);
	explain_values(x, k, n);
	explain_versions(x, k, n, HC_DELETE);
	explain_versions(x, k, n, HC_PUT);
	check_writes(x, k, n);
	make_items(x, k, n);
	sweep(x);
	check_final(x, k, n, have_final);
}

static void free_scratch(struct ctx *x)
{
	free(x->vals);
	free(x->flags);
	free(x->attr);
	free(x->w);
	free(x->it);
	free(x->obs);
	free(x->done);
	free(x->deleted);
	free(x->inserted);
	free(x->cdel);
	free(x->cput);
	free(x->fixed);
}

/* Scratch for n events, the largest key having m of them. */
static int alloc_scratch(struct ctx *x, size_t n, size_t m)
{
	x->vals = malloc((n + 1) * sizeof(*x->vals));
	x->flags = calloc(n + 1, sizeof(*x->flags));
	x->attr = calloc(n + 1, sizeof(*x->attr));
	x->w = malloc((m + 1) * sizeof(*x->w));
	x->it = malloc((2 * m + 1) * sizeof(*x->it));
	x->obs = malloc((m + 1) * sizeof(*x->obs));
	x->done = malloc((2 * m + 1) * sizeof(*x->done));
	x->deleted = malloc((m + 2) * sizeof(*x->deleted));
	x->inserted = malloc((2 * m + 2) * sizeof(*x->inserted));
	x->cdel = malloc((m + 1) * sizeof(*x->cdel));
	x->cput = malloc((m + 1) * sizeof(*x->cput));
	x->fixed = malloc((m + 1) * sizeof(*x->fixed));
	if (!x->vals || !x->flags || !x->attr || !x->w || !x->it || !x->obs || !x->done ||
	    !x->deleted || !x->inserted || !x->cdel || !x->cput || !x->fixed)
		return -1;
	return 0;
}

/* Keys nobody touched still need their final read once there are finals. */
static int check_untouched(struct ctx *x, const struct hc_event *ev, size_t n, uint32_t nkeys)
{
	uint8_t *seen = calloc(nkeys ? nkeys : 1, 1);

	if (!seen)
		return -1;
	for (size_t i = 0; i < n; i++)
		seen[ev[i].key] = 1;
	for (uint32_t k = 0; k < nkeys; k++) {
		if (seen[k])
			continue;
		x->key = k;
		x->key_bad = false;
		violation(x, HC_LOST_WRITE, "no final read");
	}
	free(seen);
	return 0;
}

int hc_check(const struct hc_event *ev, size_t n, uint32_t nkeys, struct hc_report *rep)
{
	struct ctx x = { .ev = ev, .rep = rep };
	uint32_t *idx = NULL;
	bool have_final = false;
	size_t m = 0;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	rep->events = n;
	if (n >= UINT32_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].key >= nkeys || ev[i].op >= HC_NR_OPS)
			return -1;
		have_final |= ev[i].final;
	}
	idx = malloc((n + 1) * sizeof(*idx));
	if (!idx)
		return -1;
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, n, sizeof(*idx), by_key_invoke, (void *)ev);
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a; b < n && ev[idx[b]].key == ev[idx[a]].key; b++)
			;
		if (b - a > m)
			m = b - a;
	}
	if (alloc_scratch(&x, n, m))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (ev[i].op == HC_PUT && ev[i].value)
			x.vals[x.nvals++] = (uint32_t)i;
	qsort_r(x.vals, x.nvals, sizeof(*x.vals), by_value, (void *)ev);
	for (size_t a = 0, b; a < n; a = b) {
		for (b = a; b < n && ev[idx[b]].key == ev[idx[a]].key; b++)
			;
		check_key(&x, idx + a, b - a, have_final);
	}
	if (have_final && check_untouched(&x, ev, n, nkeys))
		goto out;
	rc = 0;
out:
	free(idx);
	free_scratch(&x);
	return rc;
}
