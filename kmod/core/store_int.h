/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of the store core shared by its .c files: segments, the log,
 * index entries, the tablet map and the store itself.
 *
 * Lock order: tablet map RCU -> bucket lock -> log lock.  The cleaner
 * mutex and the control mutex are outermost and may sleep.
 */
#ifndef SKV_CORE_STORE_INT_H
#define SKV_CORE_STORE_INT_H

#include "store.h"
#include "record.h"
#include "log.h"

enum skv_seg_state {
	SKV_SEG_HEAD = 1,	/* main log head, being appended */
	SKV_SEG_SIDE,		/* owned by a side log, being appended */
	SKV_SEG_SURVIVOR,	/* owned by the cleaner, being filled */
	SKV_SEG_CLOSED,		/* in the main log, immutable */
	SKV_SEG_VICTIM,		/* chosen by the cleaner, to be freed */
};

struct skv_segment {
	struct list_head node;
	u8 *data;
	u64 id;
	u32 size;
	u32 used;		/* bytes appended; READ_ONCE outside the owner */
	u32 max_rec;		/* largest record appended */
	u32 state;		/* enum skv_seg_state, under the log lock */
	skv_atomic64_t live;	/* bytes of live records */
};

struct skv_log {
	skv_spinlock_t lock;
	struct list_head segs;	/* main log segments, head included */
	struct skv_segment *head;
	struct skv_segment *spare;	/* allocated ahead, outside the lock */
};

struct skv_sidelog {
	struct list_head segs;
	struct skv_segment *cur;
};

/*
 * The index's lock stripes: the top SKV_INDEX_LOCK_BITS bits of a key
 * hash.  Buckets are never coarser (base_log2 >= SKV_INDEX_LOCK_BITS),
 * so every change to the list stays inside one stripe.
 */
#define SKV_INDEX_LOCK_BITS	10u
#define SKV_INDEX_MAX_LOG2	28u
#define SKV_INDEX_LEVELS	(SKV_INDEX_MAX_LOG2 - SKV_INDEX_LOCK_BITS + 1)

/*
 * An index entry: one per (table id, key) that has records in the log.
 * rec is the live record (object or tombstone), or NULL for a "ghost":
 * an entry whose data was dropped (tablet deleted) but which still counts
 * dead copies in the log.  dead_copies is the number of superseded copies
 * of this key still in the log; the entry is freed once it is a ghost
 * with no dead copies left.  Everything but rec, next and the key is
 * written and read under the bucket lock.
 */
struct skv_entry {
	struct skv_entry __rcu *next;
	u64 key_hash;
	u64 table_id;
	const u8 __rcu *rec;
	struct skv_segment *seg;	/* holds rec */
	u64 version;			/* of rec */
	u32 dead_copies;
	u32 rec_len;
	u16 key_len;
	u8 type;			/* of rec */
	skv_rcu_head rcu;
	u8 key[];
};

/*
 * The index (index.h): one list of every entry in key-hash order, with
 * bucket slots as shortcuts into it.  Slots are never moved or freed
 * before the index is: level 0 has 1 << base_log2 of them, level j > 0
 * the 1 << (base_log2 + j - 1) odd buckets of resolution base_log2 + j.
 * A geometry is what a reader needs to walk: the resolution it starts at
 * and every level whose slots it may meet.  Each is filled once, then
 * published (RCU) and never changed.
 */
struct skv_index_geom {
	u32 log2;
	struct skv_entry __rcu **levels[SKV_INDEX_LEVELS];
};

struct skv_index {
	struct skv_index_geom __rcu *geom;
	struct skv_index_geom geoms[2 * SKV_INDEX_LEVELS];
	u32 ngeoms;
	u32 base_log2;
	skv_spinlock_t *locks;		/* 1 << SKV_INDEX_LOCK_BITS */
	skv_atomic64_t bytes;		/* slots, locks and linked entries */
	skv_atomic64_t entries;		/* linked */
	/* Growth (index.c): whoever sets grow_busy does the next chunk. */
	skv_atomic64_t grow_busy;
	u64 grow_at;			/* READ_ONCE: grow past this many */
	u64 split_next;			/* buckets of the step split so far */
	bool splitting;			/* a step is linking its slots */
};

struct skv_tmap {
	u64 bytes;			/* of this allocation */
	u32 ntables;
	u32 ntablets;
	u64 *tables;			/* sorted */
	struct skv_tablet_info *tablets;	/* sorted by table, start */
};

/* A resolver and its argument, published together (skv_store_set_resolver). */
struct skv_resolver {
	skv_resolved_fn fn;
	void *arg;
};

struct skv_store {
	u32 seg_size;
	u32 reserve_segs;		/* kept back for the cleaner */
	u64 mem_limit;			/* READ_ONCE; held to skv_mem_total() */
	skv_atomic64_t mem_used;	/* bytes of segments, side logs' too */
	skv_atomic64_t mem_side;	/* of them in side logs */
	skv_atomic64_t mem_tablets;	/* the current tablet map */
	skv_atomic64_t mem_replicas;	/* skv_store_mem_charge(): replicas */
	u32 max_tablets;
	skv_atomic64_t nsegs;
	skv_atomic64_t next_seg_id;
	skv_atomic64_t version;
	skv_atomic64_t live_bytes;
	skv_atomic64_t objects;
	skv_atomic64_t tombstones;
	skv_atomic64_t cleaner_passes;
	skv_atomic64_t cleaner_freed;
	skv_atomic64_t cleaner_relocated;
	skv_atomic64_t tombstones_dropped;
	skv_atomic64_t no_space;
	bool version_limit_logged;	/* the ceiling was reported */
	struct skv_log log;
	struct skv_index index;
	struct skv_tmap __rcu *tmap;
	skv_mutex_t ctl_lock;		/* tablet map changes */
	skv_mutex_t cleaner_lock;	/* one cleaner pass at a time */
	/*
	 * The resolver of MIGRATING_IN keys: NULL or one of res_slot[],
	 * RCU.  A change fills the slot not in use, publishes it and waits
	 * a grace period (under ctl_lock), so the other slot is free again.
	 */
	struct skv_resolver __rcu *resolver;
	struct skv_resolver res_slot[2];
};

/*
 * Who may allocate a segment how close to mem_limit: writes stop two
 * segments short of it, deletes (whose tombstones let the cleaner free
 * more) one, the cleaner may use all of it, so it can always relocate
 * into a survivor and make progress.
 */
enum skv_alloc_tier {
	SKV_ALLOC_WRITE = 0,
	SKV_ALLOC_DELETE = 1,
	SKV_ALLOC_CLEANER = 2,
};

/*
 * Every byte the store has allocated, held to mem_limit: segments (log,
 * side logs, the cleaner's survivors), the index (buckets, locks,
 * entries) and the tablet map.  Checked where segments are allocated:
 * an index entry comes with a record, so entries overshoot the limit by
 * at most those of one segment's records.
 */
static inline u64 skv_mem_beside_segs(struct skv_store *s)
{
	return skv_atomic64_read(&s->index.bytes) +
	       skv_atomic64_read(&s->mem_tablets) +
	       skv_atomic64_read(&s->mem_replicas);
}

static inline u64 skv_mem_total(struct skv_store *s)
{
	return skv_atomic64_read(&s->mem_used) + skv_mem_beside_segs(s);
}

/* Bytes an entry is charged: what was asked of the allocator. */
static inline u64 skv_entry_bytes(const struct skv_entry *e)
{
	return sizeof(*e) + e->key_len;
}

/* log.c */
/* Most memory in all (skv_mem_total()) at which tier may add a segment. */
u64 skv_tier_limit(struct skv_store *s, enum skv_alloc_tier tier);
struct skv_segment *skv_seg_alloc(struct skv_store *s,
				  enum skv_alloc_tier tier);
void skv_seg_free(struct skv_store *s, struct skv_segment *seg);
static inline u32 skv_seg_room(const struct skv_segment *seg)
{
	return seg->size - seg->used;
}

/* Append len bytes at seg (the caller owns it and checked room). */
static inline u8 *skv_seg_append(struct skv_segment *seg, u32 len)
{
	u8 *p = seg->data + seg->used;

	WRITE_ONCE(seg->used, seg->used + len);
	if (len > seg->max_rec)
		seg->max_rec = len;
	return p;
}

int skv_log_init(struct skv_store *s);
void skv_log_destroy(struct skv_store *s);
int skv_log_ensure_space(struct skv_store *s, u32 len,
			 enum skv_alloc_tier tier);
u8 *skv_log_reserve_locked(struct skv_store *s, u32 len,
			   enum skv_alloc_tier tier, struct skv_segment **segp,
			   bool *no_space);
int skv_sidelog_ensure_space(struct skv_store *s, struct skv_sidelog *sl,
			     u32 len);

/* index.c */
int skv_index_init(struct skv_index *ix, u32 log2);
void skv_index_destroy(struct skv_index *ix);

/* The lock stripe of a key hash (every bucket lies inside one). */
static inline u64 skv_bucket_of(const struct skv_index *ix, u64 hash)
{
	return hash >> (64 - SKV_INDEX_LOCK_BITS);
}

/* The last key hash of stripe b. */
static inline u64 skv_stripe_last(u64 b)
{
	return ((b + 1) << (64 - SKV_INDEX_LOCK_BITS)) - 1;
}

static inline skv_spinlock_t *skv_bucket_lock(struct skv_index *ix, u64 b)
{
	return &ix->locks[b];
}

/*
 * Lookups, under RCU (readers) or under the stripe lock b of hash inside
 * an RCU section (writers).
 */
struct skv_entry *skv_index_find(struct skv_index *ix, u64 b, u64 table_id,
				 u64 hash, const void *key, u32 key_len);
bool skv_index_has(struct skv_index *ix, u64 b, u64 table_id, u64 hash,
		   const void *key, u32 key_len);
/*
 * Hints for a run of lookups, under RCU: the slot of hash's bucket, then
 * (some lookups later, once each is in cache) the first entry it leads
 * to, the entry after it if the hash lies past the first, then the
 * record of the entry with the hash.
 */
enum {
	SKV_PREFETCH_SLOT,
	SKV_PREFETCH_ENTRY,
	SKV_PREFETCH_NEXT,
	SKV_PREFETCH_RECORD,
	SKV_PREFETCH_STAGES
};
void skv_index_prefetch(struct skv_index *ix, u64 hash, int stage);
/*
 * Hints for a walk in hash order, under RCU: at each hash walked, what
 * comes next.  w starts zeroed and is the walk's: where each prefetch
 * stage has reached, and the slots of the buckets ahead.  It may be kept
 * across RCU sections: slots are not freed before the index is.
 */
#define SKV_WALK_STAGES	4
#define SKV_WALK_AHEAD	4	/* buckets from one stage to the next */
#define SKV_WALK_SLOTS	(SKV_WALK_STAGES * SKV_WALK_AHEAD)	/* a power of two */
struct skv_walk_ahead {
	u32 log2;
	u64 next[SKV_WALK_STAGES];
	struct skv_entry __rcu **slot[SKV_WALK_SLOTS];
};
void skv_index_prefetch_walk(struct skv_index *ix, struct skv_walk_ahead *w,
			     u64 hash);
/*
 * Under RCU: the first entry with key hash in [hash, end], or NULL.  Gives
 * up after passing SKV_INDEX_SEEK_MAX empty buckets, then returns NULL
 * with *resume set to where to go on (else *resume = 0 and none is left).
 */
#define SKV_INDEX_SEEK_MAX	4096u
struct skv_entry *skv_index_seek(struct skv_index *ix, u64 hash, u64 end,
				 u64 *resume);
/*
 * The first entry with key hash in [*hash, end], returned in *ep under
 * RCU and its stripe's lock (stripe *stripe, skv_index_unlock()): 1.  0
 * if there is none; -EAGAIN (nothing held) if the caller should maybe
 * reschedule and call again from the updated *hash.
 */
int skv_index_lock_first(struct skv_index *ix, u64 *hash, u64 end,
			 struct skv_entry **ep, u64 *stripe);
void skv_index_unlock(struct skv_index *ix, u64 stripe);
/* The entry after e in hash order, or NULL (under RCU). */
struct skv_entry *skv_index_next(struct skv_index *ix, struct skv_entry *e);
void skv_index_insert(struct skv_index *ix, u64 b, struct skv_entry *e);
void skv_index_remove(struct skv_index *ix, u64 b, struct skv_entry *e);
/*
 * Grow the index by a step if it holds more entries than buckets.  Called
 * by writers after an insert, outside any lock and RCU section; may sleep.
 */
void skv_index_grow(struct skv_store *s);
static inline void skv_index_maybe_grow(struct skv_store *s)
{
	if ((u64)skv_atomic64_read(&s->index.entries) >
	    READ_ONCE(s->index.grow_at))
		skv_index_grow(s);
}

struct skv_entry *skv_entry_alloc(u64 table_id, u64 hash, const void *key,
				  u32 key_len);
void skv_entry_set(struct skv_store *s, struct skv_entry *e,
		   struct skv_segment *seg, const u8 *rec, u32 len, u8 type,
		   u64 version);
void skv_entry_unlive(struct skv_store *s, struct skv_entry *e);
/* Every live record of table_id in [start, end] leaves the live set. */
void skv_index_unlive_range(struct skv_store *s, u64 table_id, u64 start,
			    u64 end);

/* tablet.c */
int skv_tmap_init(struct skv_store *s);
void skv_tmap_destroy(struct skv_store *s);
/* Under RCU: SKV_S_OK with *state, SKV_S_UNKNOWN_TABLE or SKV_S_NOT_OWNER. */
int skv_tmap_lookup(struct skv_store *s, u64 table_id, u64 hash, u32 *state);

/* store.c */
int skv_version_raise(struct skv_store *s, u64 floor);

#endif /* SKV_CORE_STORE_INT_H */
