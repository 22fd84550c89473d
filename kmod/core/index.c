// SPDX-License-Identifier: GPL-2.0
/* The hash index (index.h). */
#include "index.h"

int skv_index_init(struct skv_index *ix, u32 log2)
{
	u64 nb = 1ull << log2;
	u32 nlocks = min_t(u64, nb, SKV_INDEX_MAX_LOCKS);
	u32 i;

	ix->log2 = log2;
	ix->lock_mask = nlocks - 1;
	ix->buckets = skv_vzalloc(nb * sizeof(*ix->buckets));
	if (!ix->buckets)
		return -ENOMEM;
	ix->locks = skv_valloc(nlocks * sizeof(*ix->locks));
	if (!ix->locks) {
		skv_vfree(ix->buckets);
		ix->buckets = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < nlocks; i++)
		skv_spin_init(&ix->locks[i]);
	skv_atomic64_set(&ix->bytes, nb * sizeof(*ix->buckets) +
			 (u64)nlocks * sizeof(*ix->locks));
	return 0;
}

/* No reader or writer is left: free every entry at once. */
void skv_index_destroy(struct skv_index *ix)
{
	u64 nb = 1ull << ix->log2, b;
	struct skv_entry *e, *next;
	u32 i;

	if (!ix->buckets)
		return;
	for (b = 0; b < nb; b++) {
		for (e = rcu_access_pointer(ix->buckets[b]); e; e = next) {
			next = rcu_access_pointer(e->next);
			skv_free(e);
		}
		/* Up to 2^26 buckets. */
		if ((b & 1023) == 1023)
			skv_cond_resched();
	}
	for (i = 0; i <= ix->lock_mask; i++)
		skv_spin_destroy(&ix->locks[i]);
	skv_vfree(ix->locks);
	skv_vfree(ix->buckets);
	ix->buckets = NULL;
}

/*
 * Find the entry of (table_id, key) in bucket b.  Under RCU (readers) or
 * under the bucket lock inside an RCU section (writers).
 */
struct skv_entry *skv_index_find(struct skv_index *ix, u64 b, u64 table_id,
				 u64 hash, const void *key, u32 key_len)
{
	struct skv_entry *e;

	for (e = rcu_dereference(ix->buckets[b]); e;
	     e = rcu_dereference(e->next)) {
		if (e->key_hash < hash)
			continue;
		if (e->key_hash > hash)
			break;
		if (e->table_id == table_id && e->key_len == key_len &&
		    (!key_len || !memcmp(e->key, key, key_len)))
			return e;
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

/* Link e in hash order.  Under the bucket lock. */
void skv_index_insert(struct skv_index *ix, u64 b, struct skv_entry *e)
{
	struct skv_entry __rcu **pp = &ix->buckets[b];
	struct skv_entry *cur;

	for (cur = rcu_dereference(*pp); cur && cur->key_hash <= e->key_hash;
	     cur = rcu_dereference(*pp))
		pp = &cur->next;
	RCU_INIT_POINTER(e->next, cur);
	rcu_assign_pointer(*pp, e);
	skv_atomic64_add(skv_entry_bytes(e), &ix->bytes);
}

/*
 * Unlink e.  Under the bucket lock.  e->next stays valid for readers that
 * are on e; the caller frees e after a grace period.
 */
void skv_index_remove(struct skv_index *ix, u64 b, struct skv_entry *e)
{
	struct skv_entry __rcu **pp = &ix->buckets[b];
	struct skv_entry *cur;

	for (cur = rcu_dereference(*pp); cur; cur = rcu_dereference(*pp)) {
		if (cur == e) {
			rcu_assign_pointer(*pp, rcu_dereference(e->next));
			skv_atomic64_sub(skv_entry_bytes(e), &ix->bytes);
			return;
		}
		pp = &cur->next;
	}
	WARN_ON_ONCE(1);
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
