// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The checker's second half (history_check_int.h): every operation as an
 * item with its place in the key's order, then one sweep in time order
 * that compares each item with the furthest place completed before it
 * began.
 */
#include <stdlib.h>
#include <string.h>

#include "history_check_int.h"

static int item_by_invoke(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->invoke != y->invoke)
		return hc_cmp_u64(x->invoke, y->invoke);
	return hc_cmp_u64(x->ev, y->ev);
}

static int done_by_complete(const void *a, const void *b, void *arg)
{
	const struct item *it = arg;

	return hc_cmp_u64(it[*(const uint32_t *)a].complete, it[*(const uint32_t *)b].complete);
}

/* Pass 5: every write and every answer that names a version, as an item. */
void hc_make_items(struct ctx *x, const uint32_t *k, size_t n)
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
			w = hc_write_at(x, e->version, x->nw);
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

	hc_desc(da, sizeof(da), &x->ev[a->ev]);
	hc_desc(db, sizeof(db), &x->ev[b->ev]);
	if (kind == HC_BAD_VALUE)
		hc_violation(x, kind, "%s returned the value of %s, which began after it completed",
			  da, db);
	else if (b->flex)
		hc_violation(x, kind, "%s found the key deleted, but nothing deleted it after %s, which completed before it began",
			  db, da);
	else
		hc_violation(x, kind, "%s is older than %s, which completed before it began", db, da);
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
	u = hc_pick_cand(x, x->cdel, nbegun, OPEN_END);
	if (!u)
		return best;
	at = lower > u->lower + 1 ? lower - 1 : u->lower;
	at += (6 - at % 4) % 4;		/* the next place 4v+2 */
	if (at + 1 >= best)
		return best;
	hc_take_cand(x, u, 0);
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
void hc_sweep(struct ctx *x)
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

