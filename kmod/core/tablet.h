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

#endif /* SKV_CORE_TABLET_H */
