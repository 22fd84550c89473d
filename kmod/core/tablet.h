/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tables and tablets.  The map is an immutable sorted array replaced as a
 * whole under the control mutex and published with RCU; data operations
 * look it up under RCU without locks.  A change returns only after a grace
 * period, so no data operation that saw the old map is still running: a
 * tablet moved out of service has no write in flight on return.
 */
#ifndef SKV_CORE_TABLET_H
#define SKV_CORE_TABLET_H

#include "store.h"

/*
 * Copy the tablet holding (table_id, hash) into *out.  Returns 0,
 * -ENOENT if the table is unknown, -ERANGE if no tablet holds the hash.
 * Atomic-safe.
 */
int skv_tablet_lookup(struct skv_store *s, u64 table_id, u64 hash,
		      struct skv_tablet_info *out);

/*
 * Mark the tablet (exact range) as copied out, or no longer: a NORMAL
 * tablet whose data a push migration copies while it keeps serving.  Its
 * tombstones must stay (the cleaner asks skv_tmap_tombstones_may_go()):
 * a key deleted during the copy would otherwise come back at the target
 * from the copy pulled before.  -ENOENT if no such tablet.
 */
int skv_tablet_set_copied_out(struct skv_store *s, u64 table_id,
			      u64 start_hash, u64 end_hash, bool on);

/*
 * May the tombstones of (table_id, hash) go, as far as the map is
 * concerned: its tablet is NORMAL and not copied out (a migration or a
 * recovery could otherwise bring an older copy back)?  Under RCU.
 */
bool skv_tmap_tombstones_may_go(struct skv_store *s, u64 table_id, u64 hash);

#endif /* SKV_CORE_TABLET_H */
