// SPDX-License-Identifier: GPL-2.0
/* The hash index (index.h). */
#include "index.h"

/* Slots in the list are marked by the low bit of the pointer to them. */
static inline bool skv_is_slot(const struct skv_entry *p)
{
	return (uintptr_t)p & 1;
}

static inline struct skv_entry __rcu **skv_slot_ptr(const struct skv_entry *p)
{
	return (struct skv_entry __rcu **)((uintptr_t)p & ~(uintptr_t)1);
}

static inline struct skv_entry *skv_slot_mark(struct skv_entry __rcu **slot)
{
	return (struct skv_entry *)((uintptr_t)slot | 1);
}

static inline u64 skv_level_slots(const struct skv_index *ix, u32 level)
{
	return 1ull << (ix->base_log2 + (level ? level - 1 : 0));
}

/* The geometry to walk with: under RCU, or the bucket lock inside it. */
static inline const struct skv_index_geom *skv_geom(struct skv_index *ix)
{
	return rcu_dereference(ix->geom);
}

/*
 * The slot of the bucket of hash at the resolution of g: level 0's if the
 * k low bits of the bucket are zero, else an odd bucket of resolution
 * log2 - t, linked by that level.  Without branches: which case a random
 * hash falls in is a coin toss the CPU would guess wrong half the time.
 */
static struct skv_entry __rcu **skv_slot_of(const struct skv_index *ix,
					    const struct skv_index_geom *g,
					    u64 hash)
{
	u32 k = g->log2 - ix->base_log2;
	u64 b = hash >> (64 - g->log2);
	u32 t = __builtin_ctzll(b | 1ull << k);

	return &g->levels[k - t][b >> (t + (t != k))];
}

/* The first key hash of the bucket whose slot is slot. */
static u64 skv_slot_hash(const struct skv_index *ix,
			 const struct skv_index_geom *g,
			 struct skv_entry __rcu **slot)
{
	u32 j;

	for (j = SKV_INDEX_LEVELS; j-- > 0;) {
		struct skv_entry __rcu **lv = g->levels[j];
		u64 idx;

		if (!lv || slot < lv || slot >= lv + skv_level_slots(ix, j))
			continue;
		idx = slot - lv;
		if (!j)
			return idx << (64 - ix->base_log2);
		return (idx << 1 | 1) << (64 - ix->base_log2 - j);
	}
	WARN_ON_ONCE(1);
	return U64_MAX;
}

/*
 * Does the bucket of slot start past hash?  Mostly slot is the next
 * bucket's at g's resolution, known without searching the levels.
 */
static bool skv_slot_after(const struct skv_index *ix,
			   const struct skv_index_geom *g,
			   struct skv_entry __rcu **slot, u64 hash)
{
	u32 shift = 64 - g->log2;
	u64 b = hash >> shift;

	if (b + 1 < 1ull << g->log2 &&
	    slot == skv_slot_of(ix, g, (b + 1) << shift))
		return true;
	return skv_slot_hash(ix, g, slot) > hash;
}

int skv_index_init(struct skv_index *ix, u32 log2)
{
	u32 nlocks = 1u << SKV_INDEX_LOCK_BITS, i;
	struct skv_entry __rcu **lv;
	struct skv_index_geom *g;
	u64 nb, b;

	memset(ix, 0, sizeof(*ix));
	log2 = max(log2, SKV_INDEX_LOCK_BITS);
	nb = 1ull << log2;
	ix->base_log2 = log2;
	lv = skv_valloc(nb * sizeof(*lv));
	if (!lv)
		return -ENOMEM;
	ix->locks = skv_valloc(nlocks * sizeof(*ix->locks));
	if (!ix->locks) {
		skv_vfree(lv);
		return -ENOMEM;
	}
	for (i = 0; i < nlocks; i++)
		skv_spin_init(&ix->locks[i]);
	/* Empty buckets: each slot leads to the next one. */
	for (b = 0; b + 1 < nb; b++)
		RCU_INIT_POINTER(lv[b], skv_slot_mark(&lv[b + 1]));
	RCU_INIT_POINTER(lv[nb - 1], NULL);
	g = &ix->geoms[ix->ngeoms++];
	g->log2 = log2;
	g->levels[0] = lv;
	RCU_INIT_POINTER(ix->geom, g);
	ix->grow_at = nb;
	skv_atomic64_set(&ix->bytes, nb * sizeof(*lv) +
			 (u64)nlocks * sizeof(*ix->locks));
	return 0;
}

/* No reader or writer is left: free every entry at once. */
void skv_index_destroy(struct skv_index *ix)
{
	const struct skv_index_geom *g;
	struct skv_entry *p, *next;
	u64 n = 0;
	u32 j;

	if (!ix->locks)
		return;
	g = rcu_access_pointer(ix->geom);
	for (p = rcu_access_pointer(g->levels[0][0]); p; p = next) {
		if (skv_is_slot(p)) {
			next = rcu_access_pointer(*skv_slot_ptr(p));
			continue;
		}
		next = rcu_access_pointer(p->next);
		skv_free(p);
		if ((++n & 1023) == 0)
			skv_cond_resched();
	}
	for (j = 0; j < SKV_INDEX_LEVELS; j++)
		skv_vfree(g->levels[j]);
	for (j = 0; j < 1u << SKV_INDEX_LOCK_BITS; j++)
		skv_spin_destroy(&ix->locks[j]);
	skv_vfree(ix->locks);
	ix->locks = NULL;
}

/* Does e hold (table_id, key)?  e->key_hash is known to match. */
static bool skv_entry_is(const struct skv_entry *e, u64 table_id,
			 const void *key, u32 key_len)
{
	const u8 *rec;

	if (e->table_id != table_id || e->key_len != key_len)
		return false;
	if (!key_len)
		return true;
	/* The live record's key: a GET reads that line anyway. */
	rec = rcu_dereference(e->rec);
	return !memcmp(rec ? rec + SKV_REC_HDR_LEN : e->key, key, key_len);
}

struct skv_entry *skv_index_find(struct skv_index *ix, u64 b, u64 table_id,
				 u64 hash, const void *key, u32 key_len)
{
	const struct skv_index_geom *g = skv_geom(ix);
	struct skv_entry __rcu **slot = skv_slot_of(ix, g, hash);
	struct skv_entry *p;

	for (p = rcu_dereference(*slot); p;) {
		if (skv_is_slot(p)) {
			/* Another bucket, or one a growth step is adding. */
			slot = skv_slot_ptr(p);
			if (skv_slot_after(ix, g, slot, hash))
				return NULL;
			p = rcu_dereference(*slot);
			continue;
		}
		if (p->key_hash > hash)
			return NULL;
		if (p->key_hash == hash &&
		    skv_entry_is(p, table_id, key, key_len))
			return p;
		p = rcu_dereference(p->next);
	}
	return NULL;
}

/*
 * Lockless hint: is there an entry for the key?  Writers use it to
 * allocate a new key's entry before they take the bucket lock.
 */
bool skv_index_has(struct skv_index *ix, u64 b, u64 table_id, u64 hash,
		   const void *key, u32 key_len)
{
	bool ret;

	skv_rcu_read_lock();
	ret = skv_index_find(ix, b, table_id, hash, key, key_len);
	skv_rcu_read_unlock();
	return ret;
}

/* The first node in the bucket of slot, or NULL if it is empty. */
static struct skv_entry *skv_slot_first(struct skv_entry __rcu **slot)
{
	struct skv_entry *p = rcu_dereference(*slot);

	return p && !skv_is_slot(p) ? p : NULL;
}

static struct skv_entry *skv_bucket_first(struct skv_index *ix,
					  const struct skv_index_geom *g,
					  u64 hash)
{
	return skv_slot_first(skv_slot_of(ix, g, hash));
}

/*
 * The fields lookups and walks read of an entry, from next to key_len:
 * one line where an entry starts on one (kmalloc-128), two where an
 * allocator with smaller alignment, or a debug build's red zones, put it.
 */
static void skv_entry_prefetch(const struct skv_entry *e)
{
	__builtin_prefetch(e);
	__builtin_prefetch(&e->key_len);
}

void skv_index_prefetch(struct skv_index *ix, u64 hash, int stage)
{
	const struct skv_index_geom *g = skv_geom(ix);
	struct skv_entry *e;
	const u8 *rec;

	if (stage == SKV_PREFETCH_SLOT) {
		__builtin_prefetch(skv_slot_of(ix, g, hash));
		return;
	}
	e = skv_bucket_first(ix, g, hash);
	if (stage == SKV_PREFETCH_ENTRY) {
		if (e)
			skv_entry_prefetch(e);
		return;
	}
	if (stage == SKV_PREFETCH_NEXT) {
		/* Up to one bucket in four has a second entry. */
		if (e && e->key_hash < hash) {
			e = rcu_dereference(e->next);
			if (e && !skv_is_slot(e))
				skv_entry_prefetch(e);
		}
		return;
	}
	/*
	 * The record of the bucket's first entry with the hash: no key is
	 * compared, so this stage does not wait for the record's load.
	 */
	while (e && !skv_is_slot(e) && e->key_hash < hash)
		e = rcu_dereference(e->next);
	if (e && !skv_is_slot(e) && e->key_hash == hash) {
		rec = rcu_dereference(e->rec);
		if (rec)
			skv_rec_prefetch(rec);
	}
}

/*
 * The records of a bucket's first two entries, e and the one after it:
 * the entries the stages before fetched.  Two, not the whole chain, so
 * a call's work stays bounded (keys of many tables can share a hash).
 */
static void skv_prefetch_recs(struct skv_entry *e)
{
	const u8 *rec;
	int i;

	for (i = 0; i < 2 && e && !skv_is_slot(e); i++) {
		rec = rcu_dereference(e->rec);
		if (rec)
			skv_rec_prefetch(rec);
		e = rcu_dereference(e->next);
	}
}

/*
 * Each bucket is prefetched in SKV_WALK_STAGES stages, SKV_WALK_AHEAD
 * buckets apart, so each stage finds in cache what the one before
 * fetched: the slot, the bucket's first entry, the entry after it (up to
 * one bucket in four has a second), then their records.  The first stage
 * keeps each slot's address for the others.  At most SKV_WALK_STAGES *
 * SKV_WALK_AHEAD buckets per stage and call.
 */
void skv_index_prefetch_walk(struct skv_index *ix, struct skv_walk_ahead *w,
			     u64 hash)
{
	const struct skv_index_geom *g = skv_geom(ix);
	u32 shift = 64 - g->log2, i;
	u64 b = hash >> shift, nb = 1ull << g->log2, end;

	BUILD_BUG_ON(SKV_WALK_SLOTS & (SKV_WALK_SLOTS - 1));
	if (w->log2 != g->log2) {
		/* First call, or the index grew: buckets are renumbered. */
		w->log2 = g->log2;
		for (i = 0; i < SKV_WALK_STAGES; i++)
			w->next[i] = b;
	}
	for (i = 0; i < SKV_WALK_STAGES; i++) {
		u64 *at = &w->next[i];

		end = min(b + (SKV_WALK_STAGES - i) * SKV_WALK_AHEAD, nb);
		if (*at < b)
			*at = b;
		for (; *at < end; (*at)++) {
			struct skv_entry __rcu ***slot;
			struct skv_entry *e;

			slot = &w->slot[(u32)*at & (SKV_WALK_SLOTS - 1)];
			if (!i) {
				*slot = skv_slot_of(ix, g, *at << shift);
				__builtin_prefetch(*slot);
				continue;
			}
			e = skv_slot_first(*slot);
			if (e && i == 2)
				e = rcu_dereference(e->next);
			if (!e || skv_is_slot(e))
				continue;
			if (i < SKV_WALK_STAGES - 1)
				skv_entry_prefetch(e);
			else
				skv_prefetch_recs(e);
		}
	}
}

struct skv_entry *skv_index_seek(struct skv_index *ix, u64 hash, u64 end,
				 u64 *resume)
{
	const struct skv_index_geom *g = skv_geom(ix);
	struct skv_entry __rcu **slot = skv_slot_of(ix, g, hash);
	struct skv_entry *p;
	u32 passed = 0;
	u64 at;

	*resume = 0;
	for (p = rcu_dereference(*slot); p;) {
		if (skv_is_slot(p)) {
			slot = skv_slot_ptr(p);
			at = skv_slot_hash(ix, g, slot);
			if (at > end)
				return NULL;
			if (++passed >= SKV_INDEX_SEEK_MAX && at > hash) {
				*resume = at;
				return NULL;
			}
			p = rcu_dereference(*slot);
			continue;
		}
		if (p->key_hash > end)
			return NULL;
		if (p->key_hash >= hash)
			return p;
		p = rcu_dereference(p->next);
	}
	return NULL;
}

int skv_index_lock_first(struct skv_index *ix, u64 *hash, u64 end,
			 struct skv_entry **ep, u64 *stripe)
{
	struct skv_entry *e;
	u64 resume;

	skv_rcu_read_lock();
	e = skv_index_seek(ix, *hash, end, &resume);
	if (!e)
		goto none;
	*stripe = skv_bucket_of(ix, e->key_hash);
	skv_spin_lock(skv_bucket_lock(ix, *stripe));
	/* Again under the lock: e may have gone meanwhile. */
	e = skv_index_seek(ix, e->key_hash, end, &resume);
	if (e && skv_bucket_of(ix, e->key_hash) == *stripe) {
		*ep = e;
		return 1;
	}
	skv_spin_unlock(skv_bucket_lock(ix, *stripe));
	if (e) {
		/* It went and the next one is in another stripe. */
		*hash = e->key_hash;
		goto again;
	}
none:
	if (!resume) {
		skv_rcu_read_unlock();
		return 0;
	}
	*hash = resume;
again:
	skv_rcu_read_unlock();
	return -EAGAIN;
}

void skv_index_unlock(struct skv_index *ix, u64 stripe)
{
	skv_spin_unlock(skv_bucket_lock(ix, stripe));
	skv_rcu_read_unlock();
}

struct skv_entry *skv_index_next(struct skv_index *ix, struct skv_entry *e)
{
	struct skv_entry *p = rcu_dereference(e->next);

	while (p && skv_is_slot(p))
		p = rcu_dereference(*skv_slot_ptr(p));
	return p;
}

/*
 * Where an entry with this hash goes: the link after every node not above
 * it in its bucket.  Under the stripe lock.
 */
static struct skv_entry __rcu **
skv_index_link_of(struct skv_index *ix, const struct skv_index_geom *g,
		  u64 hash)
{
	struct skv_entry __rcu **pp = skv_slot_of(ix, g, hash);
	struct skv_entry *cur;

	for (cur = rcu_dereference(*pp); cur; cur = rcu_dereference(*pp)) {
		if (skv_is_slot(cur)) {
			if (skv_slot_after(ix, g, skv_slot_ptr(cur), hash))
				break;
			pp = skv_slot_ptr(cur);
			continue;
		}
		if (cur->key_hash > hash)
			break;
		pp = &cur->next;
	}
	return pp;
}

/* Link e in hash order.  Under the bucket lock. */
void skv_index_insert(struct skv_index *ix, u64 b, struct skv_entry *e)
{
	struct skv_entry __rcu **pp;

	pp = skv_index_link_of(ix, skv_geom(ix), e->key_hash);
	RCU_INIT_POINTER(e->next, rcu_dereference(*pp));
	rcu_assign_pointer(*pp, e);
	skv_atomic64_add(skv_entry_bytes(e), &ix->bytes);
	skv_atomic64_inc(&ix->entries);
}

/*
 * Unlink e.  Under the bucket lock.  e->next stays valid for readers that
 * are on e; the caller frees e after a grace period.
 */
void skv_index_remove(struct skv_index *ix, u64 b, struct skv_entry *e)
{
	struct skv_entry __rcu **pp;
	struct skv_entry *cur;

	pp = skv_slot_of(ix, skv_geom(ix), e->key_hash);
	for (cur = rcu_dereference(*pp); cur; cur = rcu_dereference(*pp)) {
		if (cur == e) {
			rcu_assign_pointer(*pp, rcu_dereference(e->next));
			skv_atomic64_sub(skv_entry_bytes(e), &ix->bytes);
			skv_atomic64_dec(&ix->entries);
			return;
		}
		pp = skv_is_slot(cur) ? skv_slot_ptr(cur) : &cur->next;
	}
	WARN_ON_ONCE(1);
}

/*
 * Growth.  A step doubles the resolution from L to L + 1: it allocates the
 * slots of the new odd buckets (level L + 1 - base_log2), publishes a
 * geometry with them and waits a grace period (so every reader can place
 * them), links each into the list where its hash range starts (under that
 * stripe's lock, in chunks, by whichever writer claims the next chunk),
 * then publishes L + 1.  Entries never move and the list stays in hash
 * order, so readers at L keep finding everything (a new slot inside their
 * bucket is walked past), and so do scans and migration cursors.  If the
 * slots cannot be had (memory limit or allocation), the index stays as it
 * is and tries again after a quarter more entries.
 */
#define SKV_INDEX_SPLIT_CHUNK	64u

/* Publish a copy of the current geometry, at resolution log2 or with lv. */
static void skv_index_publish(struct skv_index *ix, u32 log2,
			      struct skv_entry __rcu **lv)
{
	const struct skv_index_geom *cur = rcu_access_pointer(ix->geom);
	struct skv_index_geom *g = &ix->geoms[ix->ngeoms++];

	*g = *cur;
	if (lv)
		g->levels[log2 + 1 - ix->base_log2] = lv;
	else
		g->log2 = log2;
	rcu_assign_pointer(ix->geom, g);
}

static bool skv_index_step_start(struct skv_store *s, u32 log2)
{
	struct skv_index *ix = &s->index;
	u64 nb = 1ull << log2, bytes = nb * sizeof(struct skv_entry *);
	struct skv_entry __rcu **lv;

	if (log2 >= SKV_INDEX_MAX_LOG2)
		return false;
	if (skv_mem_total(s) + bytes > skv_tier_limit(s, SKV_ALLOC_WRITE))
		return false;
	lv = skv_valloc_try(bytes);
	if (!lv)
		return false;
	skv_atomic64_add(bytes, &ix->bytes);
	skv_index_publish(ix, log2, lv);
	/* No reader is left with a geometry that lacks the new slots. */
	skv_synchronize_rcu();
	ix->split_next = 0;
	ix->splitting = true;
	/* Every writer that inserts helps until the step is done. */
	WRITE_ONCE(ix->grow_at, 0);
	return true;
}

/*
 * Link the slots of resolution log2 + 1 inside buckets [b, end) of log2,
 * taking each stripe's lock once.  Inside a bucket being split there is
 * no other slot: the walk stops at the first entry of the new bucket or
 * at the next bucket's slot.
 */
static void skv_index_split(struct skv_index *ix, u32 log2, u64 b, u64 end)
{
	u32 shift = 64 - log2;
	const struct skv_index_geom *g;
	struct skv_entry __rcu **pp, **lv;
	struct skv_entry *cur;
	u64 stripe, start;

	skv_rcu_read_lock();
	g = skv_geom(ix);
	lv = g->levels[log2 + 1 - ix->base_log2];
	while (b < end) {
		stripe = skv_bucket_of(ix, b << shift);
		skv_spin_lock(skv_bucket_lock(ix, stripe));
		for (; b < end && skv_bucket_of(ix, b << shift) == stripe; b++) {
			start = (b << 1 | 1) << (shift - 1);
			pp = skv_slot_of(ix, g, b << shift);
			for (cur = rcu_dereference(*pp);
			     cur && !skv_is_slot(cur) && cur->key_hash < start;
			     cur = rcu_dereference(*pp))
				pp = &cur->next;
			RCU_INIT_POINTER(lv[b], cur);
			rcu_assign_pointer(*pp, skv_slot_mark(&lv[b]));
		}
		skv_spin_unlock(skv_bucket_lock(ix, stripe));
	}
	skv_rcu_read_unlock();
}

void skv_index_grow(struct skv_store *s)
{
	struct skv_index *ix = &s->index;
	u64 n = skv_atomic64_read(&ix->entries), nb, end;
	u32 log2;

	/* One grower at a time; the others go on with their writes. */
	if (skv_atomic64_cmpxchg(&ix->grow_busy, 0, 1) != 0)
		return;
	log2 = rcu_access_pointer(ix->geom)->log2;
	nb = 1ull << log2;
	if (!ix->splitting) {
		if (n <= nb)
			goto out;
		if (!skv_index_step_start(s, log2)) {
			WRITE_ONCE(ix->grow_at, n + n / 4);
			goto out;
		}
	}
	end = min(ix->split_next + SKV_INDEX_SPLIT_CHUNK, nb);
	skv_index_split(ix, log2, ix->split_next, end);
	ix->split_next = end;
	if (ix->split_next == nb) {
		skv_index_publish(ix, log2 + 1, NULL);
		ix->splitting = false;
		WRITE_ONCE(ix->grow_at, nb << 1);
	}
out:
	skv_atomic64_cmpxchg(&ix->grow_busy, 1, 0);
}

struct skv_entry *skv_entry_alloc(u64 table_id, u64 hash, const void *key,
				  u32 key_len)
{
	struct skv_entry *e = skv_alloc(sizeof(*e) + key_len);

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->table_id = table_id;
	e->key_hash = hash;
	e->key_len = key_len;
	if (key_len)
		memcpy(e->key, key, key_len);
	return e;
}

/* Account for e's live record becoming a dead copy; rec is left alone. */
static void skv_entry_retire(struct skv_store *s, struct skv_entry *e)
{
	if (!rcu_access_pointer(e->rec))
		return;
	skv_atomic64_sub(e->rec_len, &e->seg->live);
	skv_atomic64_sub(e->rec_len, &s->live_bytes);
	if (e->type == SKV_REC_TOMBSTONE)
		skv_atomic64_dec(&s->tombstones);
	else
		skv_atomic64_dec(&s->objects);
	e->dead_copies++;
}

/* Drop e's live record from the live set: e becomes a ghost. */
void skv_entry_unlive(struct skv_store *s, struct skv_entry *e)
{
	skv_entry_retire(s, e);
	e->seg = NULL;
	rcu_assign_pointer(e->rec, NULL);
}

/*
 * Point e at a new live record rec (len bytes in seg); the old one, if
 * any, becomes a dead copy.  Under the bucket lock.
 */
void skv_entry_set(struct skv_store *s, struct skv_entry *e,
		   struct skv_segment *seg, const u8 *rec, u32 len, u8 type,
		   u64 version)
{
	skv_entry_retire(s, e);
	e->seg = seg;
	e->rec_len = len;
	e->type = type;
	e->version = version;
	skv_atomic64_add(len, &seg->live);
	skv_atomic64_add(len, &s->live_bytes);
	if (type == SKV_REC_TOMBSTONE)
		skv_atomic64_inc(&s->tombstones);
	else
		skv_atomic64_inc(&s->objects);
	rcu_assign_pointer(e->rec, rec);
}

void skv_index_unlive_range(struct skv_store *s, u64 table_id, u64 start,
			    u64 end)
{
	struct skv_index *ix = &s->index;
	struct skv_entry *e;
	u64 h = start, b, last;
	int r;

	while ((r = skv_index_lock_first(ix, &h, end, &e, &b))) {
		if (r < 0) {
			skv_cond_resched();
			continue;
		}
		last = min(skv_stripe_last(b), end);
		for (; e && e->key_hash <= last; e = skv_index_next(ix, e))
			if (e->table_id == table_id)
				skv_entry_unlive(s, e);
		skv_index_unlock(ix, b);
		if (last == end)
			return;
		h = last + 1;
		skv_cond_resched();
	}
}
