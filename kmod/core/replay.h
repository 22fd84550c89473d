/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Replay of records (a pull reply's batch, or a whole segment copy after
 * its certificate checks out) into a side log.
 *
 * The input is verified in full first (lengths, crc of each record, key
 * hash), so corrupt or truncated input is rejected with -EBADMSG or
 * -EINVAL before anything is applied, and so is input with a version past
 * SKV_VERSION_MAX (-ERANGE).  Then each record is applied on its
 * own: it goes into the side log and the index only if the store does not
 * already hold its key at the same or a newer version (object or
 * tombstone), so replay never resurrects a deleted key and a replayed
 * tombstone shadows older copies.  Records of keys in no tablet of ours
 * are ignored.  If memory runs out part way (-ENOSPC) the records applied
 * so far stay, each one complete: the store is consistent.  The version
 * counter is raised to the newest version replayed.
 *
 * A side log belongs to one worker at a time; replays may sleep.
 */
#ifndef SKV_CORE_REPLAY_H
#define SKV_CORE_REPLAY_H

#include "store.h"
#include "log.h"

struct skv_replay_stats {
	u32 records;		/* records in the input */
	u32 applied;		/* inserted into the side log and index */
	u32 skipped;		/* store already had the key as new or newer */
	u32 foreign;		/* key in no tablet here: ignored */
};

/* A plain run of records, len bytes. */
int skv_replay_records(struct skv_store *s, struct skv_sidelog *sl,
		       const void *buf, size_t len, struct skv_replay_stats *st);
/*
 * What a batch from another node may hold: records of table_id whose key
 * hash lies in [start_hash, end_hash] (and, if nhashes, is one of
 * hashes[]) and whose version lies in [min_version, max_version].  A
 * migration sets them from what it asked for and the versions it knows,
 * so a faulty or hostile peer cannot write outside them.
 */
struct skv_replay_bounds {
	u64 table_id;
	u64 start_hash;
	u64 end_hash;
	u64 min_version;
	u64 max_version;
	const u64 *hashes;
	u32 nhashes;
};

/*
 * A batch: struct skv_batch_hdr then its records (skv_scan_serialize()).
 * With bounds (may be NULL), a batch with any record outside them is
 * refused whole (-ERANGE) before anything is applied.
 */
int skv_replay_batch(struct skv_store *s, struct skv_sidelog *sl,
		     const void *buf, size_t len,
		     const struct skv_replay_bounds *bounds,
		     struct skv_replay_stats *st);
/* A copy of a segment, verified against its certificate first. */
int skv_replay_segment(struct skv_store *s, struct skv_sidelog *sl,
		       const void *buf, size_t len,
		       const struct skv_seg_cert *cert,
		       struct skv_replay_stats *st);

#endif /* SKV_CORE_REPLAY_H */
