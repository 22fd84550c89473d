/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The steadykv store: the public API of the portable core.
 *
 * The same sources build into the kernel module and into a host library
 * (see skv_shim.h), so everything here is plain C over the shim.  The store
 * owns: the log (segments of records), the hash index ordered by key hash,
 * the node-wide version counter, the table/tablet ownership map and the
 * cleaner.  It does not know about sockets or netlink.
 *
 * Calling context: every function may sleep unless marked "atomic-safe".
 * Data operations may be called concurrently from any number of threads;
 * readers never take a lock.  GET is atomic-safe.  PUT and DELETE may
 * sleep (process context only): when the log head is full they allocate
 * the next segment (kvmalloc, GFP_KERNEL) before taking any lock, and a
 * new key's index entry likewise; they never sleep under a lock or RCU.
 *
 * Return values: data operations return an enum skv_status (wire.h);
 * control operations return 0 or a negative errno.
 */
#ifndef SKV_CORE_STORE_H
#define SKV_CORE_STORE_H

#include "skv_shim.h"
#include "../../include/steadykv/wire.h"

struct skv_store;

struct skv_store_config {
	u32 segment_size;	/* bytes per segment; power of two, 64 KiB..64 MiB */
	u32 index_buckets_log2;	/* index starts with 1 << this many buckets (10..26) */
	u64 mem_limit;		/* most bytes of memory (skv_store_stats); 0 = default */
	u32 max_tablets;	/* most tablets; 0 = default */
};

#define SKV_DEFAULT_SEGMENT_SIZE	(1u << 20)
#define SKV_DEFAULT_BUCKETS_LOG2	16
#define SKV_DEFAULT_MEM_LIMIT		(256ull << 20)
/* Each tablet map change copies the map: bounded so it stays cheap. */
#define SKV_DEFAULT_MAX_TABLETS		4096

/* State of a tablet on this node, as the migration protocol moves it. */
enum skv_tablet_state {
	SKV_TABLET_NORMAL = 0,		/* owned, served */
	SKV_TABLET_MIGRATING_IN = 1,	/* owned, data still arriving */
	SKV_TABLET_MIGRATING_OUT = 2,	/* no longer owned, data being pulled */
	SKV_TABLET_RECOVERING = 3,	/* owned, being rebuilt; not served */
};

struct skv_tablet_info {
	u64 table_id;
	u64 start_hash;		/* inclusive */
	u64 end_hash;		/* inclusive */
	u32 state;		/* enum skv_tablet_state */
	/* Data requests that found it (skv_tablet_count) since it got this range. */
	skv_atomic64_t requests;
	bool copied_out;	/* NORMAL, with a copy going out (tablet.h) */
};

struct skv_store_stats {
	u64 mem_limit;			/* bytes */
	/* mem_used = mem_log + mem_side_logs + mem_index + mem_tablets + mem_replicas */
	u64 mem_used;			/* bytes allocated, held to mem_limit */
	u64 mem_log;			/* segments of the main log (and cleaner) */
	u64 mem_side_logs;		/* segments of side logs */
	u64 mem_index;			/* index buckets, locks and entries */
	u64 mem_tablets;		/* the table and tablet map */
	u64 mem_replicas;		/* replicas of other nodes' logs */
	u32 max_tablets;
	u64 live_bytes;			/* bytes of live records */
	u64 segments;			/* allocated segments */
	u64 objects;			/* live objects */
	u64 tombstones;			/* tombstones in the index */
	u64 version;			/* last version handed out */
	u64 cleaner_passes;
	u64 cleaner_segments_freed;
	u64 cleaner_bytes_relocated;
	u64 tombstones_dropped;
	u64 no_space_errors;
};

/* Lifecycle. */
int skv_store_create(const struct skv_store_config *cfg, struct skv_store **out);
void skv_store_destroy(struct skv_store *s);
/*
 * -EINVAL if < 4 segments.  Writes stop 2 segments short of the limit,
 * deletes 1 segment short; the rest is the cleaner's reserve.
 */
int skv_store_set_mem_limit(struct skv_store *s, u64 bytes);
void skv_store_get_stats(struct skv_store *s, struct skv_store_stats *st);
/*
 * Memory held for the store's node outside the store (replicas of other
 * nodes' logs, replica.h), counted in mem_used and held to the limit
 * writes have (2 segments short): 0, or -ENOSPC and nothing charged.
 */
int skv_store_mem_charge(struct skv_store *s, u64 bytes);
void skv_store_mem_uncharge(struct skv_store *s, u64 bytes);

/* Hash of a key: xxh64(key, len, SKV_KEY_HASH_SEED).  Atomic-safe. */
u64 skv_key_hash(const void *key, u32 key_len);

/* Tables and tablets.  Tablets of one table never overlap. */
int skv_table_add(struct skv_store *s, u64 table_id);		/* -EEXIST */
int skv_table_del(struct skv_store *s, u64 table_id);		/* -ENOENT; drops its data */
/* -ENOENT (table), -EEXIST (overlap), -EINVAL, -ENOSPC (max_tablets) */
int skv_tablet_add(struct skv_store *s, const struct skv_tablet_info *t);
int skv_tablet_del(struct skv_store *s, u64 table_id, u64 start_hash, u64 end_hash); /* exact match; drops its data */
/*
 * Called by the two below once their delete can no longer fail, before
 * the range's data is dropped (under the store's control lock: it may
 * sleep, but must not call back into the store's tables); an error stops
 * the delete, nothing changed.  For a table, the range is [0, U64_MAX].
 */
struct skv_drop_hook {
	int (*before)(struct skv_drop_hook *h, u64 table_id, u64 start_hash,
		      u64 end_hash);
};
int skv_table_del_hooked(struct skv_store *s, u64 table_id,
			 struct skv_drop_hook *hook);
int skv_tablet_del_hooked(struct skv_store *s, u64 table_id, u64 start_hash,
			  u64 end_hash, struct skv_drop_hook *hook);
int skv_tablet_set_state(struct skv_store *s, u64 table_id, u64 start_hash,
			 u64 end_hash, enum skv_tablet_state state);
/*
 * Split the tablet holding hash at into [start, at - 1] and [at, end],
 * both in its state, keeping the data.  -ENOENT (table), -ERANGE (no
 * tablet holds at), -EINVAL if at already starts a tablet, -ENOSPC at
 * max_tablets.
 */
int skv_tablet_split(struct skv_store *s, u64 table_id, u64 at);
/*
 * Copy up to max table ids / tablets, starting at index pos, into out.
 * Returns the number copied (0 at the end).  For netlink dumps.
 */
int skv_tables_list(struct skv_store *s, u32 pos, u64 *out, u32 max);
int skv_tablets_list(struct skv_store *s, u32 pos, struct skv_tablet_info *out, u32 max);
/*
 * Count a data request for the tablet holding (table_id, hash), if any
 * (its requests counter).  Atomic-safe.
 */
void skv_tablet_count(struct skv_store *s, u64 table_id, u64 hash);

/*
 * Data operations.  key_hash must be skv_key_hash(key, key_len).  They
 * check ownership: a key in no tablet of the table, or in a tablet not
 * served here (MIGRATING_OUT, RECOVERING), gives SKV_S_NOT_OWNER; an
 * unknown table gives SKV_S_UNKNOWN_TABLE.  GET is atomic-safe; PUT and
 * DELETE may sleep (see above).
 *
 * In a MIGRATING_IN tablet a key this node holds nothing of (no object,
 * no tombstone) may still be on its way from the source, unless the
 * store's resolver (below) says its hash is resolved.  For an unresolved
 * key GET, DELETE and a conditional PUT (expect_version != 0) give
 * SKV_S_RETRY (the caller asks for a priority pull of the hash); an
 * unconditional PUT is applied (its version is newer than any copy in
 * flight, so replay will skip that copy).  A resolved key, or any key
 * this node holds an object or tombstone of, is served as in a NORMAL
 * tablet, so answers are those the source would have given.
 */

/*
 * The resolver: true if every record the source has of (table_id,
 * key_hash) has been replayed here (or the source has none).  The store
 * asks it before it looks the key up, so a replay that finished before
 * the resolver said yes is seen.  Called under RCU, possibly under a
 * bucket spinlock: must be atomic-safe and must not call into the store.
 * Without a resolver every key of a MIGRATING_IN tablet is unresolved.
 * Set or cleared (fn NULL) by the caller of the control path; a change
 * waits for a grace period, so no call to the old resolver runs after.
 */
typedef bool (*skv_resolved_fn)(void *arg, u64 table_id, u64 key_hash);
void skv_store_set_resolver(struct skv_store *s, skv_resolved_fn fn, void *arg);

/*
 * GET: copies the value into buf (capacity buf_len) and sets *value_len and
 * *version.  If the value does not fit, returns SKV_S_TOO_BIG with
 * *value_len set to the size needed.  NOT_FOUND sets *version to the
 * tombstone's version, or 0.
 */
int skv_store_get(struct skv_store *s, u64 table_id, const void *key,
		  u32 key_len, u64 key_hash, void *buf, u32 buf_len,
		  u32 *value_len, u64 *version);

/*
 * A rolling prefetch over a run of n lookups (a MULTI-GET's keys, the
 * GETs among pipelined frames): at every SKV_LOOKAHEAD_STEP-th lookup i,
 * skv_store_lookahead() runs each prefetch stage (a slot, an entry, the
 * entry after it, a record) over the STEP lookups of its distance ahead:
 * slots at i + 4 * STEP, records at i + STEP (at i == 0 every stage over
 * all lookups up to there), so each stage finds in cache what the stage
 * before fetched a step earlier instead of waiting on it.  The caller
 * calls it before every lookup, in order, and keeps the hash of lookup
 * j in ring[j % SKV_LOOKAHEAD_RING] for every j from i to i +
 * SKV_LOOKAHEAD_KEYS - 1 (below n).  Reads only; atomic-safe.
 */
#define SKV_LOOKAHEAD_STEP	2u
#define SKV_LOOKAHEAD_KEYS	(5 * SKV_LOOKAHEAD_STEP)
#define SKV_LOOKAHEAD_RING	16u	/* at least KEYS, a power of two */
void skv_store_lookahead(struct skv_store *s, const u64 *ring, u32 n, u32 i);

/*
 * PUT: expect_version 0 writes unconditionally; otherwise the key's current
 * version must equal expect_version (a missing key has version 0, so a
 * non-zero expectation on a missing key fails) or the result is
 * SKV_S_VERSION_MISMATCH with *version = the current version.  On success
 * *version is the new version.  SKV_S_NO_SPACE when memory is exhausted,
 * SKV_S_VERSION_LIMIT when the version counter is at SKV_VERSION_MAX.
 */
int skv_store_put(struct skv_store *s, u64 table_id, const void *key,
		  u32 key_len, u64 key_hash, const void *value, u32 value_len,
		  u64 expect_version, u64 *version);

/*
 * DELETE: writes a tombstone.  SKV_S_NOT_FOUND (and writes nothing) if the
 * key does not exist; expect_version as for PUT.  *version is the
 * tombstone's version.
 */
int skv_store_delete(struct skv_store *s, u64 table_id, const void *key,
		     u32 key_len, u64 key_hash, u64 expect_version,
		     u64 *version);

/*
 * Versions: the last version handed out, and raising its floor (never
 * lowers; -ERANGE, and nothing changes, for a floor past SKV_VERSION_MAX,
 * wire.h).
 */
u64 skv_store_version(struct skv_store *s);
int skv_store_raise_version(struct skv_store *s, u64 floor);

/*
 * Cleaner: one pass over the segments with the lowest live fraction;
 * relocates live records, drops tombstones no older copy needs, frees
 * segments.  Returns bytes freed (net of the survivor segments it filled)
 * or a negative errno; 0 when no pass would gain a segment.  max_segments
 * 0 means 16.  Called by the module's cleaner worker and by host tests.
 * Never blocks readers.  Process context (synchronize_rcu()).
 */
long skv_cleaner_run(struct skv_store *s, u32 max_segments);
/* True when the cleaner has work worth doing (memory pressure and dead bytes). */
bool skv_cleaner_wanted(struct skv_store *s);

#endif /* SKV_CORE_STORE_H */
