/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Cursor scan of a table's hash range, for migration pulls.
 *
 * The cursor is a hash value, not a position in the index, so it stays
 * exact while entries are inserted, removed or relocated by the cleaner.
 * A call visits the live records (objects and tombstones) of table_id with
 * start_hash <= key_hash <= end_hash and key_hash >= cursor, in hash order,
 * one stripe lock at a time.  Records with the same key hash form a group
 * that is never split across calls.  A group is visited if it is the
 * call's first or if it keeps the call within budget bytes, so only a
 * first group larger than the budget goes over it.  Every record that is
 * live for the whole scan is visited exactly once over the calls.
 */
#ifndef SKV_CORE_SCAN_H
#define SKV_CORE_SCAN_H

#include "store.h"
#include "record.h"

/*
 * Called for each record, a pointer into log memory valid only during the
 * call; runs under RCU and a bucket lock so must not sleep.  A negative
 * return stops the scan and is returned by skv_scan().
 */
typedef int (*skv_scan_fn)(void *arg, const void *rec, u32 len);

/*
 * Returns the bytes visited, or a negative errno.  *next is the cursor for
 * the next call; *done is true once the range is finished.  Atomic-safe
 * if fn is.
 */
long skv_scan(struct skv_store *s, u64 table_id, u64 start_hash, u64 end_hash,
	      u64 cursor, u32 budget, skv_scan_fn fn, void *arg, u64 *next,
	      bool *done);

/*
 * The same walk, writing a batch (struct skv_batch_hdr then the records,
 * as a pull reply carries them) into buf.  Returns the bytes written, or
 * -EMSGSIZE if the first group alone does not fit (buf_len >=
 * sizeof(struct skv_batch_hdr) + SKV_REC_MAX_LEN always fits a group of
 * one).
 */
long skv_scan_serialize(struct skv_store *s, u64 table_id, u64 start_hash,
			u64 end_hash, u64 cursor, void *buf, u32 buf_len,
			u64 *next, bool *done);

/*
 * skv_scan_serialize() keeping only records with version > min_version
 * (0 keeps all): the catch-up pulls of the push baseline and the
 * push-back of an aborted migration.  The walk and its cost are the same.
 */
long skv_scan_serialize_since(struct skv_store *s, u64 table_id,
			      u64 start_hash, u64 end_hash, u64 cursor,
			      u64 min_version, void *buf, u32 buf_len,
			      u64 *next, bool *done);

/*
 * Zero-copy for large records (RAMCloud's transports splice only pieces
 * over 500 bytes: a small one costs less to copy than to reference).  A
 * record of at least min_len bytes is offered to take(arg, rec, len, at)
 * before it is copied: 0 means the caller has pinned rec and will send
 * it from the log, in the batch right before the byte at offset at of
 * the records written to buf; nonzero, and it is copied.  take() runs
 * under RCU and a bucket lock, so must not sleep.
 */
struct skv_ser_splice {
	u32 min_len;
	int (*take)(void *arg, const void *rec, u32 len, u32 at);
	void *arg;
};

/*
 * skv_scan_serialize_since() with records left in the log as splice
 * takes them: returns the bytes of the whole batch, the spliced records
 * included (what buf holds is that less what take() accepted).  On an
 * error the caller drops what take() accepted.
 */
long skv_scan_serialize_spliced(struct skv_store *s, u64 table_id,
				u64 start_hash, u64 end_hash, u64 cursor,
				u64 min_version, void *buf, u32 buf_len,
				const struct skv_ser_splice *splice,
				u64 *next, bool *done);

/*
 * A priority pull's batch: every live record of table_id whose key hash
 * is one of hashes[0..n-1], written as one batch into buf.  Stops before
 * the first hash whose records do not all fit; *resolved is the number of
 * hashes complete in the batch.  Returns the bytes written (a batch
 * header at least), or a negative errno.  Atomic-safe.
 */
long skv_collect_hashes(struct skv_store *s, u64 table_id, const u64 *hashes,
			u32 n, void *buf, u32 buf_len, u32 *resolved);

#endif /* SKV_CORE_SCAN_H */
