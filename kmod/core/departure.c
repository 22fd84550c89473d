// SPDX-License-Identifier: GPL-2.0
/* Departures of a range from a replication stream (departure.h). */
#include "departure.h"

void skv_departures_init(struct skv_departures *d, u64 table_id,
			 u64 start_hash, u64 end_hash)
{
	memset(d, 0, sizeof(*d));
	d->table_id = table_id;
	d->start_hash = start_hash;
	d->end_hash = end_hash;
}

void skv_departures_destroy(struct skv_departures *d)
{
	skv_vfree(d->spans);
	d->spans = NULL;
	d->n = 0;
	d->cap = 0;
}

/* Room for two more spans (a new one may split an old one in two). */
static int skv_departures_room(struct skv_departures *d)
{
	struct skv_departure_span *spans;
	u32 cap;

	if (d->n + 2 <= d->cap)
		return 0;
	if (d->n + 2 > SKV_DEPARTURES_MAX)
		return -ENOSPC;
	cap = d->cap ? min(d->cap * 2, SKV_DEPARTURES_MAX) : 16;
	spans = skv_valloc(cap * sizeof(*spans));
	if (!spans)
		return -ENOMEM;
	if (d->n)
		memcpy(spans, d->spans, d->n * sizeof(*spans));
	skv_vfree(d->spans);
	d->spans = spans;
	d->cap = cap;
	return 0;
}

int skv_departures_add(struct skv_departures *d, u64 table_id,
		       u64 start_hash, u64 end_hash, u64 pos)
{
	struct skv_departure_span *sp, left = {}, right = {};
	bool has_left = false, has_right = false;
	u32 first, last, keep, i;
	int err;

	if (table_id != d->table_id || end_hash < d->start_hash ||
	    start_hash > d->end_hash)
		return 0;
	start_hash = max(start_hash, d->start_hash);
	end_hash = min(end_hash, d->end_hash);
	err = skv_departures_room(d);
	if (err)
		return err;
	sp = d->spans;
	/* [first, last): the spans that overlap the new one. */
	for (first = 0; first < d->n && sp[first].end_hash < start_hash;
	     first++)
		;
	for (last = first; last < d->n && sp[last].start_hash <= end_hash;
	     last++)
		;
	/* The later departure wins where they overlap; the rest stays. */
	if (first < last && sp[first].start_hash < start_hash) {
		left = sp[first];
		left.end_hash = start_hash - 1;
		has_left = true;
	}
	if (first < last && sp[last - 1].end_hash > end_hash) {
		right = sp[last - 1];
		right.start_hash = end_hash + 1;
		has_right = true;
	}
	keep = has_left + 1 + has_right;
	/* Move the spans after the overlap to their new place. */
	memmove(&sp[first + keep], &sp[last], (d->n - last) * sizeof(*sp));
	d->n = d->n - (last - first) + keep;
	i = first;
	if (has_left)
		sp[i++] = left;
	sp[i].start_hash = start_hash;
	sp[i].end_hash = end_hash;
	sp[i].pos = pos;
	if (has_right)
		sp[i + 1] = right;
	return 0;
}

bool skv_departed(const struct skv_departures *d, u64 pos, u64 hash)
{
	u32 lo = 0, hi = d->n;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		const struct skv_departure_span *sp = &d->spans[mid];

		if (hash < sp->start_hash)
			hi = mid;
		else if (hash > sp->end_hash)
			lo = mid + 1;
		else
			return pos < sp->pos;
	}
	return false;
}
