/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Replication streams and replicas (the portable part of replication).
 *
 * A primary's replication stream is the sequence of records (record.h,
 * checksums included) it appended for its own client writes, numbered by
 * byte position from 0.  struct skv_rstream holds a window [base, end) of
 * such a stream in fixed chunks: the primary's queue of records not yet
 * held by every backup, and a backup's replica of a primary.  Chunks of a
 * stream with a store are charged to that store's memory limit
 * (skv_store_mem_charge()); a stream without one is bounded by its owner.
 *
 * A replica is what a backup keeps of one primary: its stream from base
 * (the position the primary opened it at) to end, and the newest epoch
 * it has been told for that primary (by the primary's OPEN or by a fence
 * from the control plane).  Every op names an epoch; one older than that
 * is refused (SKV_S_NOT_BACKUP), so a primary that was fenced can no
 * longer have a write acknowledged.  WRITE is idempotent: bytes the
 * replica already holds are skipped, so a primary may resend after a
 * reconnect.  A write is taken whole or not at all: every record is
 * parsed and its crc checked first, and the replica's bound (max_bytes)
 * and the store's memory limit are checked before anything is appended
 * (SKV_S_BACKUP_FULL).  The caller serialises calls on one replica.
 */
#ifndef SKV_CORE_REPLICA_H
#define SKV_CORE_REPLICA_H

#include "store.h"

/* Bytes per chunk of a stream. */
#define SKV_RSTREAM_CHUNK	(256u << 10)

struct skv_rstream {
	struct skv_store *store;	/* charged for chunks, or NULL */
	u64 start;		/* position of chunks[0][0], chunk-aligned from base */
	u64 base;		/* first position held */
	u64 end;		/* position after the last byte held */
	u8 **chunks;
	u32 nchunks;		/* allocated */
	u32 slots;		/* size of chunks[] */
};

void skv_rstream_init(struct skv_rstream *st, struct skv_store *store,
		      u64 base);
void skv_rstream_destroy(struct skv_rstream *st);
/* Drop everything and hold nothing from pos on. */
void skv_rstream_reset(struct skv_rstream *st, u64 pos);
/*
 * Make room for n more bytes at end (allocating and charging chunks):
 * 0, or -ENOSPC (memory limit) / -ENOMEM; nothing changes on error.
 */
int skv_rstream_reserve(struct skv_rstream *st, u32 n);
/* Append n bytes at end; the room must have been reserved. */
void skv_rstream_append(struct skv_rstream *st, const void *src, u32 n);
/*
 * A pointer to n contiguous bytes at end (reserved room), or NULL if
 * they would cross a chunk: then write them elsewhere and append.
 */
u8 *skv_rstream_tail(struct skv_rstream *st, u32 n);
/* Copy n bytes from pos (within [base, end)) to dst. */
void skv_rstream_read(const struct skv_rstream *st, u64 pos, void *dst,
		      u32 n);
/* Forget the bytes before pos (base <= pos <= end), freeing whole chunks. */
void skv_rstream_trim(struct skv_rstream *st, u64 pos);
/* Bytes of chunks allocated. */
static inline u64 skv_rstream_mem(const struct skv_rstream *st)
{
	return (u64)st->nchunks * SKV_RSTREAM_CHUNK;
}

struct skv_replica {
	u64 primary_id;
	u64 epoch;		/* newest epoch told for the primary */
	bool opened;		/* the primary has opened it (holds a stream) */
	u64 records;		/* records held */
	/* The primary's newest whole mark within it (wire.h); U64_MAX: none. */
	u64 whole_from, whole_to;
	struct skv_rstream st;
};

/* OPEN flag (wire.h SKV_REPL_F_CREATE): the primary's first OPEN of it. */
#define SKV_REPLICA_CREATE	0x1

void skv_replica_init(struct skv_replica *r, struct skv_store *store,
		      u64 primary_id);
void skv_replica_destroy(struct skv_replica *r);

/*
 * The primary opens (or reopens, after a reconnect) its replica at start.
 * A reopen (no CREATE) of a replica not opened, or of one the fence has
 * moved past, gets NOT_BACKUP: this backup lost or refuses the stream.
 * With CREATE it starts empty at start; otherwise it is kept and *base,
 * *end say what it holds (the primary resumes at *end).  Returns an enum
 * skv_status.
 */
int skv_replica_open(struct skv_replica *r, u64 epoch, u64 start, u32 flags,
		     u64 *base, u64 *end);
/*
 * Records (len bytes, whole records) at stream position offset.  OK with
 * *end the new end; BAD_REQUEST for malformed records or a gap (offset
 * past end); NOT_BACKUP (stale epoch, not opened); BACKUP_FULL when
 * end - base would pass max_bytes or memory ran out.
 */
int skv_replica_write(struct skv_replica *r, u64 epoch, u64 offset,
		      const u8 *recs, u32 len, u64 max_bytes, u64 *end);
/*
 * Whole records from offset (a record boundary in [base, end]) into dst,
 * at most cap bytes but at least one record if any (dst must hold
 * max(cap, SKV_REC_MAX_LEN) bytes).  Returns the bytes copied (*next = offset + that), or
 * a negative status: -SKV_S_NOT_BACKUP, -SKV_S_BAD_REQUEST (offset
 * outside the replica, or bytes there no record could have: a peer named
 * a position inside one).
 */
long skv_replica_read(struct skv_replica *r, u64 epoch, u64 offset, u8 *dst,
		      u32 cap, u64 *next);
/*
 * The primary's whole mark (wire.h WRITE): kept if the replica holds its
 * start (a newer one replaces an older one).
 */
void skv_replica_mark(struct skv_replica *r, u64 whole_from, u64 whole_to);
/* Does it hold every record live at its primary (a whole mark's span)? */
bool skv_replica_whole(const struct skv_replica *r);
/* Raise the epoch (never lowers). */
void skv_replica_fence(struct skv_replica *r, u64 epoch);

#endif /* SKV_CORE_REPLICA_H */
