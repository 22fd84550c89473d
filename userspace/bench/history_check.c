// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The history checker (history_check.h).  Per key: events in invoke order,
 * acknowledged writes swept in completion order so that "the newest write
 * acknowledged before time t" is a running maximum of versions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history_check.h"
#include "steadykv.h"

const char *hc_kind_name(enum hc_kind k)
{
	switch (k) {
	case HC_LOST_WRITE:
		return "lost-write";
	case HC_STALE_READ:
		return "stale-read";
	case HC_BAD_VALUE:
		return "bad-value";
	case HC_VERSION_ORDER:
		return "version-order";
	case HC_CONDITIONAL:
		return "conditional";
	default:
		return "?";
	}
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

struct ctx {
	const struct hc_event *ev;
	struct hc_report *rep;
	uint32_t *vals;		/* indices of PUTs, sorted by value id */
	size_t nvals;
	/* Per-key scratch (indices into ev). */
	uint32_t *acked_by_complete;
	uint32_t *acked_by_version;
	uint32_t *cond;
	size_t nacked, ncond;
};

static void violation(struct ctx *x, enum hc_kind kind, uint32_t key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void violation(struct ctx *x, enum hc_kind kind, uint32_t key, const char *fmt, ...)
{
	struct hc_report *r = x->rep;
	va_list ap;

	r->violations++;
	r->by_kind[kind]++;
	if (r->nr_details == HC_MAX_DETAILS)
		return;
	r->details[r->nr_details].kind = kind;
	r->details[r->nr_details].key = key;
	va_start(ap, fmt);
	vsnprintf(r->details[r->nr_details].msg, sizeof(r->details[0].msg), fmt, ap);
	va_end(ap);
	r->nr_details++;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int by_key_invoke(const void *a, const void *b, void *arg)
{
	const struct hc_event *sort_ev = arg;

	const struct hc_event *x = &sort_ev[*(const uint32_t *)a];
	const struct hc_event *y = &sort_ev[*(const uint32_t *)b];

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->invoke_ns != y->invoke_ns)
		return cmp_u64(x->invoke_ns, y->invoke_ns);
	return cmp_u64(*(const uint32_t *)a, *(const uint32_t *)b);
}

static int by_value(const void *a, const void *b, void *arg)
{
	const struct hc_event *sort_ev = arg;

	return cmp_u64(sort_ev[*(const uint32_t *)a].value, sort_ev[*(const uint32_t *)b].value);
}

static int by_complete(const void *a, const void *b, void *arg)
{
	const struct hc_event *sort_ev = arg;

	return cmp_u64(sort_ev[*(const uint32_t *)a].complete_ns,
		       sort_ev[*(const uint32_t *)b].complete_ns);
}

static int by_version(const void *a, const void *b, void *arg)
{
	const struct hc_event *sort_ev = arg;

	return cmp_u64(sort_ev[*(const uint32_t *)a].version,
		       sort_ev[*(const uint32_t *)b].version);
}

static int by_expect(const void *a, const void *b, void *arg)
{
	const struct hc_event *sort_ev = arg;

	return cmp_u64(sort_ev[*(const uint32_t *)a].expect,
		       sort_ev[*(const uint32_t *)b].expect);
}

static const struct hc_event *writer_of(const struct ctx *x, uint64_t value)
{
	size_t lo = 0, hi = x->nvals;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->ev[x->vals[mid]].value < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->nvals && x->ev[x->vals[lo]].value == value)
		return &x->ev[x->vals[lo]];
	return NULL;
}

static bool is_write(const struct hc_event *e)
{
	return e->op == HC_PUT || e->op == HC_DELETE;
}

static const char *op_name(const struct hc_event *e)
{
	if (e->op == HC_GET)
		return e->final ? "final GET" : "GET";
	if (e->op == HC_PUT)
		return e->expect ? "conditional PUT" : "PUT";
	return e->expect ? "conditional DELETE" : "DELETE";
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/*
 * A DELETE that may have removed the key after write w: acknowledged with
 * a higher version, or of unknown outcome and not over before w began;
 * and begun before the read r ended.
 */
static bool later_delete(const struct ctx *x, const uint32_t *k, size_t n,
			 const struct hc_event *w, const struct hc_event *r)
{
	for (size_t i = 0; i < n; i++) {
		const struct hc_event *d = &x->ev[k[i]];
		enum hc_outcome o = hc_outcome(d);

		if (d->op != HC_DELETE || d->invoke_ns >= r->complete_ns)
			continue;
		if (o == HC_ACKED && d->version > w->version)
			return true;
		if (o == HC_UNKNOWN && d->complete_ns > w->invoke_ns)
			return true;
	}
	return false;
}

/* (b) for one read r, given W* (newest acked write completed before r began). */
static void check_read(struct ctx *x, const uint32_t *k, size_t n,
		       const struct hc_event *r, const struct hc_event *wst)
{
	uint32_t key = r->key;

	if (r->status == SKV_OK) {
		const struct hc_event *w = r->value ? writer_of(x, r->value) : NULL;

		if (!w || w->key != key) {
			violation(x, HC_BAD_VALUE, key,
				  "key %u: %s at %.0f us returned v%llu with a value no PUT of this key wrote",
				  key, op_name(r), us(r->invoke_ns), (unsigned long long)r->version);
			return;
		}
		if (hc_outcome(w) == HC_REFUSED)
			violation(x, HC_BAD_VALUE, key,
				  "key %u: %s returned the value of a %s that was refused (%s)",
				  key, op_name(r), op_name(w), skv_code_name(w->status));
		else if (w->invoke_ns >= r->complete_ns)
			violation(x, HC_BAD_VALUE, key,
				  "key %u: %s ending at %.0f us returned the value of a PUT begun later",
				  key, op_name(r), us(r->complete_ns));
		/* A resent write may have landed twice: the first copy is older. */
		else if (hc_outcome(w) == HC_ACKED &&
			 (w->ambiguous ? r->version > w->version : r->version != w->version))
			violation(x, HC_BAD_VALUE, key,
				  "key %u: %s returned v%llu for a value written as v%llu",
				  key, op_name(r), (unsigned long long)r->version,
				  (unsigned long long)w->version);
		if (wst && r->version < wst->version)
			violation(x, HC_STALE_READ, key,
				  "key %u: %s at %.0f us returned v%llu, older than %s v%llu acknowledged at %.0f us",
				  key, op_name(r), us(r->invoke_ns), (unsigned long long)r->version,
				  op_name(wst), (unsigned long long)wst->version,
				  us(wst->complete_ns));
		return;
	}
	if (r->status != SKV_E_NOT_FOUND || !wst)
		return;		/* failed reads say nothing */
	if (r->version && r->version < wst->version)
		violation(x, HC_STALE_READ, key,
			  "key %u: %s at %.0f us: NOT_FOUND with tombstone v%llu, older than %s v%llu",
			  key, op_name(r), us(r->invoke_ns), (unsigned long long)r->version,
			  op_name(wst), (unsigned long long)wst->version);
	else if (wst->op == HC_PUT && !later_delete(x, k, n, wst, r))
		violation(x, HC_STALE_READ, key,
			  "key %u: %s at %.0f us: NOT_FOUND after %s v%llu acknowledged at %.0f us, and no later DELETE",
			  key, op_name(r), us(r->invoke_ns), op_name(wst),
			  (unsigned long long)wst->version, us(wst->complete_ns));
}

/* (a) the final read fin against amax, the acked write with the highest version. */
static void check_final(struct ctx *x, const uint32_t *k, size_t n,
			const struct hc_event *fin, const struct hc_event *amax)
{
	uint32_t key = fin->key;

	if (fin->status != SKV_OK && fin->status != SKV_E_NOT_FOUND) {
		violation(x, HC_LOST_WRITE, key, "key %u: final read failed: %s", key,
			  skv_code_name(fin->status));
		return;
	}
	if (!amax)
		return;
	if (fin->status == SKV_OK) {
		const struct hc_event *w = fin->value ? writer_of(x, fin->value) : NULL;

		if (fin->version < amax->version)
			violation(x, HC_LOST_WRITE, key,
				  "key %u: final state v%llu, but %s v%llu was acknowledged",
				  key, (unsigned long long)fin->version, op_name(amax),
				  (unsigned long long)amax->version);
		else if (fin->version == amax->version && w != amax)
			violation(x, HC_LOST_WRITE, key,
				  "key %u: final state v%llu is not the value %s v%llu wrote",
				  key, (unsigned long long)fin->version, op_name(amax),
				  (unsigned long long)amax->version);
		return;
	}
	/* NOT_FOUND: fine after a DELETE, or if a DELETE of unknown outcome may follow amax. */
	if (fin->version && fin->version < amax->version)
		violation(x, HC_LOST_WRITE, key,
			  "key %u: final state deleted at v%llu, but %s v%llu was acknowledged",
			  key, (unsigned long long)fin->version, op_name(amax),
			  (unsigned long long)amax->version);
	else if (amax->op == HC_PUT && !later_delete(x, k, n, amax, fin))
		violation(x, HC_LOST_WRITE, key,
			  "key %u: final state NOT_FOUND, but %s v%llu was acknowledged last",
			  key, op_name(amax), (unsigned long long)amax->version);
}

static void check_key(struct ctx *x, const uint32_t *k, size_t n, bool have_final)
{
	const struct hc_event *ev = x->ev;
	const struct hc_event *wst = NULL, *amax = NULL, *fin = NULL;
	uint32_t key = ev[k[0]].key;
	size_t done = 0;

	x->nacked = 0;
	x->ncond = 0;
	for (size_t i = 0; i < n; i++) {
		const struct hc_event *e = &ev[k[i]];

		if (e->final && e->op == HC_GET)
			fin = e;
		if (!is_write(e) || hc_outcome(e) != HC_ACKED)
			continue;
		x->acked_by_complete[x->nacked] = k[i];
		x->acked_by_version[x->nacked++] = k[i];
		if (e->expect)
			x->cond[x->ncond++] = k[i];
	}
	qsort_r(x->acked_by_complete, x->nacked, sizeof(uint32_t), by_complete, (void *)ev);
	qsort_r(x->acked_by_version, x->nacked, sizeof(uint32_t), by_version, (void *)ev);
	qsort_r(x->cond, x->ncond, sizeof(uint32_t), by_expect, (void *)ev);
	if (x->nacked)
		amax = &ev[x->acked_by_version[x->nacked - 1]];

	/* (c) distinct versions... */
	for (size_t i = 1; i < x->nacked; i++) {
		const struct hc_event *a = &ev[x->acked_by_version[i - 1]];
		const struct hc_event *b = &ev[x->acked_by_version[i]];

		if (a->version == b->version)
			violation(x, HC_VERSION_ORDER, key,
				  "key %u: %s and %s both acknowledged as v%llu", key,
				  op_name(a), op_name(b), (unsigned long long)a->version);
	}
	/* (d) one winner per expected version, and nothing acked in between. */
	for (size_t i = 0; i < x->ncond; i++) {
		const struct hc_event *c = &ev[x->cond[i]];
		size_t lo = 0, hi = x->nacked;

		if (i && ev[x->cond[i - 1]].expect == c->expect)
			violation(x, HC_CONDITIONAL, key,
				  "key %u: two conditional writes expecting v%llu both succeeded (v%llu, v%llu)",
				  key, (unsigned long long)c->expect,
				  (unsigned long long)ev[x->cond[i - 1]].version,
				  (unsigned long long)c->version);
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (ev[x->acked_by_version[mid]].version <= c->expect)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < x->nacked && ev[x->acked_by_version[lo]].version < c->version)
			violation(x, HC_CONDITIONAL, key,
				  "key %u: %s expecting v%llu succeeded as v%llu, but %s v%llu came in between",
				  key, op_name(c), (unsigned long long)c->expect,
				  (unsigned long long)c->version,
				  op_name(&ev[x->acked_by_version[lo]]),
				  (unsigned long long)ev[x->acked_by_version[lo]].version);
	}
	/* Sweep in invoke order: (c) real-time order, (b) reads. */
	for (size_t i = 0; i < n; i++) {
		const struct hc_event *e = &ev[k[i]];

		while (done < x->nacked &&
		       ev[x->acked_by_complete[done]].complete_ns < e->invoke_ns) {
			const struct hc_event *w = &ev[x->acked_by_complete[done++]];

			if (!wst || w->version > wst->version)
				wst = w;
		}
		if (e->op == HC_GET) {
			check_read(x, k, n, e, wst);
		} else if (hc_outcome(e) == HC_ACKED && wst && wst->version >= e->version) {
			violation(x, HC_VERSION_ORDER, key,
				  "key %u: %s at %.0f us acknowledged as v%llu, but %s v%llu had completed before it began",
				  key, op_name(e), us(e->invoke_ns), (unsigned long long)e->version,
				  op_name(wst), (unsigned long long)wst->version);
		}
	}
	/* (a) */
	if (fin)
		check_final(x, k, n, fin, amax);
	else if (have_final)
		violation(x, HC_LOST_WRITE, key, "key %u: no final read", key);
}

int hc_check(const struct hc_event *ev, size_t n, uint32_t nkeys, struct hc_report *rep)
{
	struct ctx x = { .ev = ev, .rep = rep };
	uint32_t *idx = NULL;
	bool have_final = false;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	rep->events = n;
	if (n > UINT32_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].key >= nkeys || ev[i].op > HC_DELETE)
			return -1;
		have_final |= ev[i].final;
	}
	idx = malloc((n ? n : 1) * sizeof(*idx));
	x.vals = malloc((n ? n : 1) * sizeof(*x.vals));
	x.acked_by_complete = malloc((n ? n : 1) * sizeof(uint32_t));
	x.acked_by_version = malloc((n ? n : 1) * sizeof(uint32_t));
	x.cond = malloc((n ? n : 1) * sizeof(uint32_t));
	if (!idx || !x.vals || !x.acked_by_complete || !x.acked_by_version || !x.cond)
		goto out;
	for (size_t i = 0; i < n; i++) {
		idx[i] = (uint32_t)i;
		if (ev[i].op == HC_PUT && ev[i].value)
			x.vals[x.nvals++] = (uint32_t)i;
	}
	qsort_r(idx, n, sizeof(*idx), by_key_invoke, (void *)ev);
	qsort_r(x.vals, x.nvals, sizeof(*x.vals), by_value, (void *)ev);

	for (size_t a = 0; a < n; ) {
		size_t b = a;

		while (b < n && ev[idx[b]].key == ev[idx[a]].key)
			b++;
		check_key(&x, idx + a, b - a, have_final);
		a = b;
	}
	/* Keys nobody touched still need their final read once there are finals. */
	if (have_final) {
		uint8_t *seen = calloc(nkeys ? nkeys : 1, 1);

		if (!seen)
			goto out;
		for (size_t i = 0; i < n; i++)
			seen[ev[i].key] = 1;
		for (uint32_t k = 0; k < nkeys; k++)
			if (!seen[k])
				violation(&x, HC_LOST_WRITE, k, "key %u: no final read", k);
		free(seen);
	}
	rc = 0;
out:
	free(idx);
	free(x.vals);
	free(x.acked_by_complete);
	free(x.acked_by_version);
	free(x.cond);
	return rc;
}
