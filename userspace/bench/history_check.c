// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The linearizability checker (history_check.h), first half: per key, the
 * writes that took effect, ordered by version (acknowledged ones, then
 * unknown-outcome ones that answers explain), and the store's rules along
 * that order (passes 1-4); history_order.c places every operation and
 * checks real time (passes 5-6).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_check_int.h"

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
const char *hc_desc(char *buf, size_t len, const struct hc_event *e)
{
	char exp[32] = "";

	if (e->expect)
		snprintf(exp, sizeof(exp), " (expect v%llu)", (unsigned long long)e->expect);
	snprintf(buf, len, "%s%s of client %u [%.0f..%.0f us] %s v%llu", op_name(e), exp,
		 e->client, (double)e->invoke_ns / 1000.0, (double)e->complete_ns / 1000.0,
		 skv_code_name(e->status), (unsigned long long)e->version);
	return buf;
}

/* Count every violation; keep the text of the first one of each bad key. */
void hc_violation(struct ctx *x, enum hc_kind kind, const char *fmt, ...)
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

int hc_cmp_u64(uint64_t a, uint64_t b)
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
		return hc_cmp_u64(ev[i].invoke_ns, ev[j].invoke_ns);
	return hc_cmp_u64(i, j);
}

static int by_value(const void *a, const void *b, void *arg)
{
	const struct hc_event *ev = arg;

	return hc_cmp_u64(ev[*(const uint32_t *)a].value, ev[*(const uint32_t *)b].value);
}

/* Answers by the version they name, then by completion. */
static int by_version(const void *a, const void *b, void *arg)
{
	const struct hc_event *ev = arg;
	const struct hc_event *x = &ev[*(const uint32_t *)a], *y = &ev[*(const uint32_t *)b];

	if (x->version != y->version)
		return hc_cmp_u64(x->version, y->version);
	return hc_cmp_u64(x->complete_ns, y->complete_ns);
}

static int wr_cmp(const void *a, const void *b)
{
	const struct wr *x = a, *y = b;

	if (x->version != y->version)
		return hc_cmp_u64(x->version, y->version);
	if (x->ev != y->ev)
		return hc_cmp_u64(x->ev, y->ev);
	return (int)x->open - (int)y->open;
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
const struct wr *hc_write_at(const struct ctx *x, uint64_t v, size_t n)
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
const struct cand *hc_pick_cand(const struct ctx *x, const struct cand *c, size_t nc,
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

	return hc_cmp_u64(x->pos, y->pos);
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

void hc_take_cand(struct ctx *x, const struct cand *c, uint64_t version)
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
			hc_violation(x, HC_BAD_VALUE, "%s returned a value no PUT of this key wrote",
				  hc_desc(b, sizeof(b), r));
			continue;
		}
		o = hc_outcome(w);
		if (o == HC_REFUSED) {
			x->flags[k[i]] |= F_BAD;
			hc_violation(x, HC_BAD_VALUE, "%s returned the value of the refused %s",
				  hc_desc(b, sizeof(b), r), hc_desc(a, sizeof(a), w));
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
			hc_violation(x, HC_BAD_VALUE, "%s returned the value of %s at another version",
				  hc_desc(b, sizeof(b), r), hc_desc(a, sizeof(a), w));
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
		const struct wr *w = hc_write_at(x, e->version, sorted);
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
		u = w ? NULL : hc_pick_cand(x, c, nc, first_done);
		if (u) {
			hc_take_cand(x, u, e->version);
			add_write(x, e->version, u->ev, true);
			continue;
		}
		for (size_t m = i; m < j; m++)
			x->flags[x->obs[m]] |= F_BAD;
		if (w)
			hc_violation(x, HC_UNEXPLAINED, "%s names v%llu, which %s made",
				  hc_desc(b, sizeof(b), e), (unsigned long long)e->version,
				  hc_desc(a, sizeof(a), &x->ev[w->ev]));
		else
			hc_violation(x, HC_UNEXPLAINED, "%s names v%llu, which no %s made",
				  hc_desc(b, sizeof(b), e), (unsigned long long)e->version,
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
			hc_violation(x, HC_COND_REFUSED, "%s refused although the current version was the one expected",
				  hc_desc(b, sizeof(b), e));
		}
	}
	for (size_t i = 0; i < x->nw; i++) {
		const struct wr *w = &x->w[i], *prev = i ? &x->w[i - 1] : NULL;
		const struct hc_event *e = &x->ev[w->ev];
		uint64_t cur;

		if (prev && prev->version == w->version) {
			hc_violation(x, HC_VERSION_ORDER, "%s and %s both took effect as v%llu",
				  hc_desc(a, sizeof(a), &x->ev[prev->ev]), hc_desc(b, sizeof(b), e),
				  (unsigned long long)w->version);
			continue;
		}
		if (!e->expect || w->open)
			continue;
		/* A deleted key's version, for expectations, is 0. */
		cur = prev && x->ev[prev->ev].op == HC_PUT ? prev->version : 0;
		if (cur != e->expect) {
			if (prev)
				hc_violation(x, HC_COND_ACCEPTED, "%s succeeded, but the write before it was %s",
					  hc_desc(b, sizeof(b), e), hc_desc(a, sizeof(a), &x->ev[prev->ev]));
			else
				hc_violation(x, HC_COND_ACCEPTED, "%s succeeded on a key never written",
					  hc_desc(b, sizeof(b), e));
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
			hc_violation(x, HC_LOST_WRITE, "%s failed", hc_desc(b, sizeof(b), e));
		return;
	}
	if (have_final)
		hc_violation(x, HC_LOST_WRITE, "no final read");
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
	hc_make_items(x, k, n);
	hc_sweep(x);
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
		hc_violation(x, HC_LOST_WRITE, "no final read");
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
