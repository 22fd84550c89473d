/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Departures of a range from a replication stream (SKV_REC_DEPARTURE,
 * include/steadykv/record.h), as a recovery needs them: for each hash of
 * the range it rebuilds, the stream position of the last departure that
 * covers it.  A record of the stream before that position belongs to an
 * earlier stay of the range on the primary: the range left (and its keys
 * may have been deleted elsewhere since), so replaying it could bring a
 * deleted key back.
 *
 * Built in one pass over the stream (positions only grow), then asked per
 * record.  Held as disjoint spans sorted by hash, clipped to the range.
 */
#ifndef SKV_CORE_DEPARTURE_H
#define SKV_CORE_DEPARTURE_H

#include "skv_shim.h"

/* Spans held at most: -ENOSPC past it. */
#define SKV_DEPARTURES_MAX	65536u

struct skv_departure_span {
	u64 start_hash, end_hash;
	u64 pos;		/* stream position after the departure record */
};

struct skv_departures {
	u64 table_id, start_hash, end_hash;	/* the range asked about */
	struct skv_departure_span *spans;
	u32 n, cap;
};

void skv_departures_init(struct skv_departures *d, u64 table_id,
			 u64 start_hash, u64 end_hash);
void skv_departures_destroy(struct skv_departures *d);
/*
 * A departure of table_id's [start_hash, end_hash], its record ending at
 * stream position pos (not below any added before).  0, -ENOMEM or
 * -ENOSPC.
 */
int skv_departures_add(struct skv_departures *d, u64 table_id,
		       u64 start_hash, u64 end_hash, u64 pos);
/* Did a departure after stream position pos cover hash? */
bool skv_departed(const struct skv_departures *d, u64 pos, u64 hash);

#endif /* SKV_CORE_DEPARTURE_H */
