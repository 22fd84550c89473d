// SPDX-License-Identifier: GPL-2.0
/*
 * The object manager: store lifecycle, GET/PUT/DELETE and versions.
 *
 * A write checks the payload crc before taking any lock, makes sure the
 * log has room (which may allocate, so may sleep), then under RCU checks
 * ownership, takes the bucket lock, decides, takes the version and
 * appends under the log lock, and publishes the new record in the index.
 * Holding RCU across the whole write lets a tablet change wait for writes
 * in flight with one grace period.
 */
#include "store_int.h"
#include "index.h"

#define SKV_MIN_SEGMENT_SIZE	(64u << 10)
#define SKV_MAX_SEGMENT_SIZE	(64u << 20)
#define SKV_RESERVE_SEGS	2u
#define SKV_MIN_SEGS		4u

u64 skv_key_hash(const void *key, u32 key_len)
{
	return skv_xxh64(key, key_len, SKV_KEY_HASH_SEED);
}

int skv_store_create(const struct skv_store_config *cfg, struct skv_store **out)
{
	u32 seg_size = cfg && cfg->segment_size ? cfg->segment_size :
		       SKV_DEFAULT_SEGMENT_SIZE;
	u32 log2 = cfg && cfg->index_buckets_log2 ? cfg->index_buckets_log2 :
		   SKV_DEFAULT_BUCKETS_LOG2;
	u64 limit = cfg && cfg->mem_limit ? cfg->mem_limit :
		    SKV_DEFAULT_MEM_LIMIT;
	struct skv_store *s;
	int ret;

	if (seg_size < SKV_MIN_SEGMENT_SIZE || seg_size > SKV_MAX_SEGMENT_SIZE ||
	    (seg_size & (seg_size - 1)))
		return -EINVAL;
	if (log2 < 10 || log2 > 26)
		return -EINVAL;
	if (limit < (u64)SKV_MIN_SEGS * seg_size)
		return -EINVAL;
	s = skv_zalloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->seg_size = seg_size;
	s->reserve_segs = SKV_RESERVE_SEGS;
	s->mem_limit = limit;
	s->max_tablets = cfg && cfg->max_tablets ? cfg->max_tablets :
			 SKV_DEFAULT_MAX_TABLETS;
	ret = skv_index_init(&s->index, log2);
	if (ret)
		goto free_store;
	ret = skv_tmap_init(s);
	if (ret)
		goto free_index;
	skv_log_init(s);
	skv_mutex_init(&s->cleaner_lock);
	*out = s;
	return 0;

free_index:
	skv_index_destroy(&s->index);
free_store:
	skv_free(s);
	return ret;
}

void skv_store_destroy(struct skv_store *s)
{
	if (!s)
		return;
	/* Entries freed by RCU callbacks must be gone before we return. */
	skv_rcu_barrier();
	skv_index_destroy(&s->index);
	skv_log_destroy(s);
	skv_tmap_destroy(s);
	skv_mutex_destroy(&s->cleaner_lock);
	skv_free(s);
}

int skv_store_set_mem_limit(struct skv_store *s, u64 bytes)
{
	if (bytes < (u64)SKV_MIN_SEGS * s->seg_size)
		return -EINVAL;
	WRITE_ONCE(s->mem_limit, bytes);
	return 0;
}

void skv_store_get_stats(struct skv_store *s, struct skv_store_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->mem_limit = READ_ONCE(s->mem_limit);
	st->mem_side_logs = skv_atomic64_read(&s->mem_side);
	st->mem_log = skv_atomic64_read(&s->mem_used) - st->mem_side_logs;
	st->mem_index = skv_atomic64_read(&s->index.bytes);
	st->mem_tablets = skv_atomic64_read(&s->mem_tablets);
	st->mem_replicas = skv_atomic64_read(&s->mem_replicas);
	st->mem_used = st->mem_log + st->mem_side_logs + st->mem_index +
		       st->mem_tablets + st->mem_replicas;
	st->max_tablets = s->max_tablets;
	st->live_bytes = skv_atomic64_read(&s->live_bytes);
	st->segments = skv_atomic64_read(&s->nsegs);
	st->objects = skv_atomic64_read(&s->objects);
	st->tombstones = skv_atomic64_read(&s->tombstones);
	st->version = skv_atomic64_read(&s->version);
	st->cleaner_passes = skv_atomic64_read(&s->cleaner_passes);
	st->cleaner_segments_freed = skv_atomic64_read(&s->cleaner_freed);
	st->cleaner_bytes_relocated = skv_atomic64_read(&s->cleaner_relocated);
	st->tombstones_dropped = skv_atomic64_read(&s->tombstones_dropped);
	st->no_space_errors = skv_atomic64_read(&s->no_space);
}

int skv_store_mem_charge(struct skv_store *s, u64 bytes)
{
	skv_atomic64_add(bytes, &s->mem_replicas);
	if (skv_mem_total(s) > skv_tier_limit(s, SKV_ALLOC_WRITE)) {
		skv_atomic64_sub(bytes, &s->mem_replicas);
		return -ENOSPC;
	}
	return 0;
}

void skv_store_mem_uncharge(struct skv_store *s, u64 bytes)
{
	skv_atomic64_sub(bytes, &s->mem_replicas);
}

u64 skv_store_version(struct skv_store *s)
{
	return skv_atomic64_read(&s->version);
}

int skv_version_raise(struct skv_store *s, u64 floor)
{
	s64 cur = skv_atomic64_read(&s->version);

	if (floor > SKV_VERSION_MAX)
		return -ERANGE;
	while ((u64)cur < floor) {
		s64 old = skv_atomic64_cmpxchg(&s->version, cur, floor);

		if (old == cur)
			break;
		cur = old;
	}
	return 0;
}

int skv_store_raise_version(struct skv_store *s, u64 floor)
{
	return skv_version_raise(s, floor);
}

/*
 * The next version, or 0 if it would pass SKV_VERSION_MAX.  Writers take
 * it under the log lock; a raise may run beside them, hence the cmpxchg.
 */
static u64 skv_version_next(struct skv_store *s)
{
	s64 cur = skv_atomic64_read(&s->version), old;

	while ((u64)cur < SKV_VERSION_MAX) {
		old = skv_atomic64_cmpxchg(&s->version, cur, cur + 1);
		if (old == cur)
			return (u64)cur + 1;
		cur = old;
	}
	if (!READ_ONCE(s->version_limit_logged)) {
		WRITE_ONCE(s->version_limit_logged, true);
		pr_warn("steadykv store: the version counter reached its ceiling %llu: writes are refused (VERSION_LIMIT)\n",
			(unsigned long long)SKV_VERSION_MAX);
	}
	return 0;
}

static bool skv_served(u32 state)
{
	return state == SKV_TABLET_NORMAL || state == SKV_TABLET_MIGRATING_IN;
}

void skv_store_set_resolver(struct skv_store *s, skv_resolved_fn fn, void *arg)
{
	struct skv_resolver *cur, *r = NULL;

	skv_mutex_lock(&s->ctl_lock);
	cur = rcu_dereference_protected(s->resolver, 1);
	if (fn) {
		/* The slot not in use: no reader has it since the last wait. */
		r = cur == &s->res_slot[0] ? &s->res_slot[1] : &s->res_slot[0];
		r->fn = fn;
		r->arg = arg;
	}
	rcu_assign_pointer(s->resolver, r);
	skv_synchronize_rcu();
	skv_mutex_unlock(&s->ctl_lock);
}

/*
 * Is (table_id, key_hash) of a MIGRATING_IN tablet resolved?  Under RCU.
 * Asked before the key is looked up: the resolver says yes only after
 * the replay of the key's records finished (and released its bucket
 * lock), so a lookup that follows sees what was replayed.  The acquire
 * in rcu_dereference() and the resolver's own acquire order the two.
 */
static bool skv_resolved(struct skv_store *s, u64 table_id, u64 key_hash)
{
	struct skv_resolver *r = rcu_dereference(s->resolver);

	return r && r->fn(r->arg, table_id, key_hash);
}

int skv_store_get(struct skv_store *s, u64 table_id, const void *key,
		  u32 key_len, u64 key_hash, void *buf, u32 buf_len,
		  u32 *value_len, u64 *version)
{
	struct skv_index *ix = &s->index;
	struct skv_rec_view v;
	struct skv_entry *e;
	bool unresolved;
	const u8 *rec;
	u32 state;
	int ret;

	*value_len = 0;
	*version = 0;
	if (key_len > SKV_MAX_KEY_LEN)
		return SKV_S_TOO_BIG;
	skv_rcu_read_lock();
	ret = skv_tmap_lookup(s, table_id, key_hash, &state);
	if (ret == SKV_S_OK && !skv_served(state))
		ret = SKV_S_NOT_OWNER;
	if (ret != SKV_S_OK)
		goto out;
	/* Before the lookup: see skv_resolved(). */
	unresolved = state == SKV_TABLET_MIGRATING_IN &&
		     !skv_resolved(s, table_id, key_hash);
	e = skv_index_find(ix, skv_bucket_of(ix, key_hash), table_id, key_hash,
			   key, key_len);
	rec = e ? rcu_dereference(e->rec) : NULL;
	if (!rec) {
		/* Not here yet, maybe still at the source. */
		ret = unresolved ? SKV_S_RETRY : SKV_S_NOT_FOUND;
		goto out;
	}
	skv_rec_view_trusted(rec, &v);
	*version = v.version;
	if (v.type == SKV_REC_TOMBSTONE) {
		ret = SKV_S_NOT_FOUND;
		goto out;
	}
	*value_len = v.value_len;
	if (v.value_len > buf_len) {
		ret = SKV_S_TOO_BIG;
		goto out;
	}
	memcpy(buf, v.value, v.value_len);
out:
	skv_rcu_read_unlock();
	return ret;
}

void skv_store_lookahead(struct skv_store *s, const u64 *ring, u32 n, u32 i)
{
	const u32 step = SKV_LOOKAHEAD_STEP;
	u32 stage, ahead, j;

	BUILD_BUG_ON(SKV_LOOKAHEAD_KEYS !=
		     (SKV_PREFETCH_STAGES + 1) * SKV_LOOKAHEAD_STEP);
	BUILD_BUG_ON(SKV_LOOKAHEAD_KEYS > SKV_LOOKAHEAD_RING);
	BUILD_BUG_ON(SKV_LOOKAHEAD_RING & (SKV_LOOKAHEAD_RING - 1));
	if (i % step)
		return;
	skv_rcu_read_lock();
	for (stage = 0; stage < SKV_PREFETCH_STAGES; stage++) {
		ahead = (SKV_PREFETCH_STAGES - stage) * step;
		/* At the run's start, the lookups before as well. */
		for (j = i ? i + ahead : 0; j < i + ahead + step && j < n; j++)
			skv_index_prefetch(&s->index,
					   ring[j % SKV_LOOKAHEAD_RING], stage);
	}
	skv_rcu_read_unlock();
}

enum skv_write_op {
	SKV_WRITE_PUT,
	SKV_WRITE_DELETE,
};

/*
 * The write path of PUT and DELETE.  May sleep (segment and entry
 * allocation), but never while holding a lock or inside RCU.
 */
static int skv_write(struct skv_store *s, enum skv_write_op op, u64 table_id,
		     const void *key, u32 key_len, u64 key_hash,
		     const void *value, u32 value_len, u64 expect_version,
		     u64 *version)
{
	u8 type = op == SKV_WRITE_PUT ? SKV_REC_OBJECT : SKV_REC_TOMBSTONE;
	enum skv_alloc_tier tier = op == SKV_WRITE_PUT ? SKV_ALLOC_WRITE :
				   SKV_ALLOC_DELETE;
	struct skv_index *ix = &s->index;
	u64 b = skv_bucket_of(ix, key_hash);
	struct skv_entry *e, *newe = NULL;
	struct skv_segment *seg;
	u32 len, crc, state;
	u64 cur, ver;
	bool have, no_space, unresolved;
	u8 *dst;
	int ret;

	skv_might_sleep();
	*version = 0;
	if (key_len > SKV_MAX_KEY_LEN || value_len > SKV_MAX_VALUE_LEN)
		return SKV_S_TOO_BIG;
	len = skv_rec_len(key_len, value_len);
	if (len > s->seg_size - SKV_SEG_HDR_LEN)
		return SKV_S_TOO_BIG;
	crc = skv_rec_payload_crc(key, key_len, value, value_len);
	/* A new key needs an entry: allocate it before any lock. */
	if (!skv_index_has(ix, b, table_id, key_hash, key, key_len)) {
		newe = skv_entry_alloc(table_id, key_hash, key, key_len);
		if (!newe) {
			skv_atomic64_inc(&s->no_space);
			return SKV_S_NO_SPACE;
		}
	}
retry:
	if (skv_log_ensure_space(s, len, tier)) {
		/* Not our key is the better answer than no space. */
		skv_rcu_read_lock();
		ret = skv_tmap_lookup(s, table_id, key_hash, &state);
		skv_rcu_read_unlock();
		if (ret == SKV_S_OK && !skv_served(state))
			ret = SKV_S_NOT_OWNER;
		if (ret == SKV_S_OK) {
			skv_atomic64_inc(&s->no_space);
			ret = SKV_S_NO_SPACE;
		}
		goto out;
	}
	skv_rcu_read_lock();
	ret = skv_tmap_lookup(s, table_id, key_hash, &state);
	if (ret == SKV_S_OK && !skv_served(state))
		ret = SKV_S_NOT_OWNER;
	if (ret != SKV_S_OK)
		goto out_rcu;
	skv_spin_lock(skv_bucket_lock(ix, b));
	/* Before the lookup: see skv_resolved(). */
	unresolved = state == SKV_TABLET_MIGRATING_IN &&
		     !skv_resolved(s, table_id, key_hash);
	e = skv_index_find(ix, b, table_id, key_hash, key, key_len);
	have = e && rcu_access_pointer(e->rec);
	/* A deleted key is missing: its version for expectations is 0. */
	cur = have && e->type == SKV_REC_OBJECT ? e->version : 0;
	/*
	 * While a tablet migrates in, a key we hold nothing of may still be
	 * at the source: a conditional write or a delete cannot be decided
	 * until it arrives (or is known absent).  An unconditional PUT can:
	 * its version is above the source's safe version, so the replay of
	 * any copy in flight skips that copy.
	 */
	if (!have && unresolved &&
	    (op == SKV_WRITE_DELETE || expect_version)) {
		ret = SKV_S_RETRY;
		goto out_unlock;
	}
	if (op == SKV_WRITE_DELETE && !cur) {
		*version = have ? e->version : 0;
		ret = SKV_S_NOT_FOUND;
		goto out_unlock;
	}
	if (expect_version && cur != expect_version) {
		*version = cur;
		ret = SKV_S_VERSION_MISMATCH;
		goto out_unlock;
	}
	if (!e && !newe) {
		/* Allocate outside the locks, then decide again. */
		skv_spin_unlock(skv_bucket_lock(ix, b));
		skv_rcu_read_unlock();
		newe = skv_entry_alloc(table_id, key_hash, key, key_len);
		if (!newe) {
			skv_atomic64_inc(&s->no_space);
			return SKV_S_NO_SPACE;
		}
		goto retry;
	}
	skv_spin_lock(&s->log.lock);
	ver = skv_version_next(s);
	if (!ver) {
		skv_spin_unlock(&s->log.lock);
		ret = SKV_S_VERSION_LIMIT;
		goto out_unlock;
	}
	dst = skv_log_reserve_locked(s, len, tier, &seg, &no_space);
	if (!dst) {
		skv_spin_unlock(&s->log.lock);
		if (no_space) {
			skv_atomic64_inc(&s->no_space);
			ret = SKV_S_NO_SPACE;
			goto out_unlock;
		}
		/* A racing writer took the spare: make another one. */
		skv_spin_unlock(skv_bucket_lock(ix, b));
		skv_rcu_read_unlock();
		goto retry;
	}
	skv_rec_write(dst, type, table_id, key_hash, ver, key, key_len, value,
		      value_len, crc);
	skv_spin_unlock(&s->log.lock);
	if (!e) {
		e = newe;
		newe = NULL;
		skv_index_insert(ix, b, e);
	}
	skv_entry_set(s, e, seg, dst, len, type, ver);
	*version = ver;
	ret = SKV_S_OK;
out_unlock:
	skv_spin_unlock(skv_bucket_lock(ix, b));
out_rcu:
	skv_rcu_read_unlock();
out:
	skv_free(newe);
	skv_index_maybe_grow(s);
	return ret;
}

int skv_store_put(struct skv_store *s, u64 table_id, const void *key,
		  u32 key_len, u64 key_hash, const void *value, u32 value_len,
		  u64 expect_version, u64 *version)
{
	return skv_write(s, SKV_WRITE_PUT, table_id, key, key_len, key_hash,
			 value, value_len, expect_version, version);
}

int skv_store_delete(struct skv_store *s, u64 table_id, const void *key,
		     u32 key_len, u64 key_hash, u64 expect_version,
		     u64 *version)
{
	return skv_write(s, SKV_WRITE_DELETE, table_id, key, key_len, key_hash,
			 NULL, 0, expect_version, version);
}
