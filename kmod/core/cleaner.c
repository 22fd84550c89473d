// SPDX-License-Identifier: GPL-2.0
/*
 * The cleaner: picks closed segments with the lowest live fraction,
 * relocates their live records into survivor segments, drops tombstones no
 * older copy needs, and frees the victims after a grace period.
 *
 * Survivors are allocated before any record moves, enough for the victims'
 * live bytes packed in order (next fit), so a pass never has to allocate
 * under a lock and never stops half way.  Records move under their bucket
 * lock and only if the index still points at the old copy.
 *
 * Dead copies: every record of a key in the log is either the entry's live
 * record or counted in entry->dead_copies.  When a victim is freed each of
 * its dead records takes one off its key's count.  A tombstone may go once
 * its count is zero (no older copy of the key is left anywhere in the log)
 * and its tablet is NORMAL and not copied out by a push migration (a
 * migration or recovery could otherwise bring an older copy back).  Tombstones are handled after every object of the
 * pass's victims, so older copies freed by the same pass already count.
 */
#include "store_int.h"
#include "index.h"
#include "tablet.h"

struct skv_victim {
	struct skv_segment *seg;
	u64 live;
	bool keep;		/* could not be emptied: stays in the log */
};

struct skv_clean {
	struct skv_store *s;
	struct skv_victim *v;
	u32 nv;
	struct list_head spare;	/* survivors allocated, not yet used */
	struct list_head used;	/* survivors written to */
	struct skv_segment *cur;
	u64 relocated;
	u64 dropped;
};

/* Survivors needed to pack live bytes, records at most max_rec each. */
static u64 skv_survivors_needed(u64 live, u32 max_rec, u32 usable)
{
	u64 pairs, fill;

	if (!live)
		return 0;
	/* Next fit: two neighbouring survivors hold more than one's room. */
	pairs = 2 * ((live + usable - 1) / usable) - 1;
	/* And every survivor but the last is filled past usable - max_rec. */
	if (max_rec >= usable)
		return pairs;
	fill = (live + (usable - max_rec) - 1) / (usable - max_rec);
	return min(pairs, fill);
}

static u8 *skv_survivor_take(struct skv_clean *c, u32 len)
{
	struct skv_segment *seg = c->cur;

	if (!seg || skv_seg_room(seg) < len) {
		if (list_empty(&c->spare))
			return NULL;
		seg = list_first_entry(&c->spare, struct skv_segment, node);
		list_del(&seg->node);
		list_add_tail(&seg->node, &c->used);
		c->cur = seg;
	}
	return skv_seg_append(seg, len);
}

/* May a live tombstone go?  Under RCU and the bucket lock. */
static bool skv_tombstone_droppable(struct skv_store *s, struct skv_entry *e)
{
	if (e->dead_copies)
		return false;
	return skv_tmap_tombstones_may_go(s, e->table_id, e->key_hash);
}

/*
 * Handle one record of a victim: relocate it if live, drop it if it is a
 * droppable tombstone, else count its dead copy out.  Returns false if a
 * live record could not be moved (no survivor room: a bug).
 */
static bool skv_clean_record(struct skv_clean *c, struct skv_victim *vi,
			     const u8 *rec)
{
	struct skv_store *s = c->s;
	struct skv_index *ix = &s->index;
	struct skv_rec_view v;
	struct skv_entry *e;
	bool ok = true;
	u64 b;
	u8 *dst;

	skv_rec_view_trusted(rec, &v);
	b = skv_bucket_of(ix, v.key_hash);
	skv_rcu_read_lock();
	skv_spin_lock(skv_bucket_lock(ix, b));
	e = skv_index_find(ix, b, v.table_id, v.key_hash, v.key, v.key_len);
	if (e && rcu_access_pointer(e->rec) == rec) {
		if (v.type == SKV_REC_TOMBSTONE &&
		    skv_tombstone_droppable(s, e)) {
			skv_atomic64_sub(v.len, &vi->seg->live);
			skv_atomic64_sub(v.len, &s->live_bytes);
			skv_atomic64_dec(&s->tombstones);
			skv_index_remove(ix, b, e);
			skv_free_rcu(e, rcu);
			c->dropped++;
			goto unlock;
		}
		dst = skv_survivor_take(c, v.len);
		if (WARN_ON_ONCE(!dst)) {
			ok = false;
			goto unlock;
		}
		memcpy(dst, rec, v.len);
		skv_atomic64_add(v.len, &c->cur->live);
		skv_atomic64_sub(v.len, &vi->seg->live);
		e->seg = c->cur;
		rcu_assign_pointer(e->rec, dst);
		c->relocated += v.len;
		goto unlock;
	}
	/* A dead copy leaves the log with its segment. */
	if (WARN_ON_ONCE(!e || !e->dead_copies))
		goto unlock;
	e->dead_copies--;
	if (!e->dead_copies && !rcu_access_pointer(e->rec)) {
		skv_index_remove(ix, b, e);
		skv_free_rcu(e, rcu);
	}
unlock:
	skv_spin_unlock(skv_bucket_lock(ix, b));
	skv_rcu_read_unlock();
	return ok;
}

static void skv_clean_victim(struct skv_clean *c, struct skv_victim *vi,
			     u8 type)
{
	struct skv_segment *seg = vi->seg;
	u32 off, n = 0;

	for (off = SKV_SEG_HDR_LEN; off < seg->used;) {
		const u8 *rec = seg->data + off;
		struct skv_rec_view v;

		skv_rec_view_trusted(rec, &v);
		off += v.len;
		if (v.type != type)
			continue;
		if (!skv_clean_record(c, vi, rec))
			vi->keep = true;
		if (++n % 256 == 0)
			skv_cond_resched();
	}
}

/*
 * Pick victims under the log lock: closed segments with dead bytes, lowest
 * live fraction first, as many as fit the survivors we may allocate while
 * still freeing more segments than the survivors take.
 */
static u32 skv_pick_victims(struct skv_clean *c, u32 max, u32 cap)
{
	struct skv_store *s = c->s;
	const u32 usable = s->seg_size - SKV_SEG_HDR_LEN;
	u64 limit = READ_ONCE(s->mem_limit), used, avail, live = 0, need;
	struct skv_segment *seg;
	u32 n = 0, i, j, best = 0, max_rec = 0;
	long gain, best_gain = 0;

	used = skv_mem_total(s);
	avail = used < limit ? (limit - used) / s->seg_size : 0;
	skv_spin_lock(&s->log.lock);
	list_for_each_entry(seg, &s->log.segs, node) {
		u64 l = skv_atomic64_read(&seg->live);

		/* Anything not full of live records may be packed tighter. */
		if (seg->state != SKV_SEG_CLOSED || l >= usable - usable / 16)
			continue;
		if (n < cap) {
			c->v[n].seg = seg;
			c->v[n].live = l;
			c->v[n].keep = false;
			n++;
			continue;
		}
		/* Full: replace the fullest candidate if this one is emptier. */
		for (i = 0, j = 0; i < n; i++)
			if (c->v[i].live > c->v[j].live)
				j = i;
		if (l < c->v[j].live) {
			c->v[j].seg = seg;
			c->v[j].live = l;
		}
	}
	/* Selection sort of the max emptiest to the front. */
	for (i = 0; i < n && i < max; i++) {
		struct skv_victim t;

		for (j = i + 1; j < n; j++) {
			if (c->v[j].live < c->v[i].live) {
				t = c->v[i];
				c->v[i] = c->v[j];
				c->v[j] = t;
			}
		}
		live += c->v[i].live;
		max_rec = max(max_rec, c->v[i].seg->max_rec);
		need = skv_survivors_needed(live, max_rec, usable);
		if (need > avail)
			break;
		gain = (long)(i + 1) - (long)need;
		if (gain > best_gain) {
			best_gain = gain;
			best = i + 1;
		}
	}
	for (i = 0; i < best; i++)
		c->v[i].seg->state = SKV_SEG_VICTIM;
	skv_spin_unlock(&s->log.lock);
	return best;
}

static void skv_unpick(struct skv_clean *c, u32 from)
{
	u32 i;

	skv_spin_lock(&c->s->log.lock);
	for (i = from; i < c->nv; i++)
		c->v[i].seg->state = SKV_SEG_CLOSED;
	skv_spin_unlock(&c->s->log.lock);
	c->nv = from;
}

long skv_cleaner_run(struct skv_store *s, u32 max_segments)
{
	u32 usable = s->seg_size - SKV_SEG_HDR_LEN;
	struct skv_segment *seg, *tmp;
	struct skv_clean c = { .s = s };
	u64 need, live = 0, have = 0;
	u32 i, cap, max_rec = 0, nused = 0, freed = 0;
	long ret;

	skv_might_sleep();
	if (!max_segments)
		max_segments = 16;
	INIT_LIST_HEAD(&c.spare);
	INIT_LIST_HEAD(&c.used);
	skv_mutex_lock(&s->cleaner_lock);
	cap = max_t(u64, skv_atomic64_read(&s->nsegs), 1) + 16;
	c.v = skv_valloc(cap * sizeof(*c.v));
	if (!c.v) {
		ret = -ENOMEM;
		goto out;
	}
	c.nv = skv_pick_victims(&c, max_segments, cap);
	for (i = 0; i < c.nv; i++) {
		live += c.v[i].live;
		max_rec = max(max_rec, c.v[i].seg->max_rec);
	}
	need = skv_survivors_needed(live, max_rec, usable);
	while (have < need) {
		seg = skv_seg_alloc(s, SKV_ALLOC_CLEANER);
		if (!seg)
			break;
		seg->state = SKV_SEG_SURVIVOR;
		list_add_tail(&seg->node, &c.spare);
		have++;
	}
	/* Fewer survivors than hoped: clean fewer victims. */
	while (c.nv && have < need) {
		skv_unpick(&c, c.nv - 1);
		live -= c.v[c.nv].live;
		need = skv_survivors_needed(live, max_rec, usable);
	}
	if (c.nv <= need) {
		skv_unpick(&c, 0);
		ret = 0;
		goto free_spare;
	}
	for (i = 0; i < c.nv; i++)
		skv_clean_victim(&c, &c.v[i], SKV_REC_OBJECT);
	for (i = 0; i < c.nv; i++)
		skv_clean_victim(&c, &c.v[i], SKV_REC_TOMBSTONE);

	skv_spin_lock(&s->log.lock);
	for (i = 0; i < c.nv; i++) {
		if (c.v[i].keep)
			c.v[i].seg->state = SKV_SEG_CLOSED;
		else
			list_del(&c.v[i].seg->node);
	}
	list_for_each_entry_safe(seg, tmp, &c.used, node) {
		list_del(&seg->node);
		seg->state = SKV_SEG_CLOSED;
		list_add_tail(&seg->node, &s->log.segs);
		nused++;
	}
	skv_spin_unlock(&s->log.lock);
	/* Readers may still be on the victims' records. */
	skv_synchronize_rcu();
	for (i = 0; i < c.nv; i++) {
		if (!c.v[i].keep) {
			skv_seg_free(s, c.v[i].seg);
			freed++;
		}
	}
	skv_atomic64_inc(&s->cleaner_passes);
	skv_atomic64_add(freed, &s->cleaner_freed);
	skv_atomic64_add(c.relocated, &s->cleaner_relocated);
	skv_atomic64_add(c.dropped, &s->tombstones_dropped);
	ret = freed > nused ? (long)(freed - nused) * s->seg_size : 0;
free_spare:
	list_for_each_entry_safe(seg, tmp, &c.spare, node) {
		list_del(&seg->node);
		skv_seg_free(s, seg);	/* never published */
	}
out:
	skv_vfree(c.v);
	skv_mutex_unlock(&s->cleaner_lock);
	return ret;
}

/*
 * Worth a pass: memory above 3/4 of the limit, or so near the writers'
 * share that their next segment would be refused (the index and tablet
 * map count too, so that can come first), and at least two segments'
 * worth of room (dead or never filled) in closed segments.
 */
bool skv_cleaner_wanted(struct skv_store *s)
{
	u64 limit = READ_ONCE(s->mem_limit), dead = 0;
	u64 used = skv_mem_total(s);
	struct skv_segment *seg;

	if (used * 4 < limit * 3 &&
	    used + s->seg_size <= skv_tier_limit(s, SKV_ALLOC_WRITE))
		return false;
	skv_spin_lock(&s->log.lock);
	list_for_each_entry(seg, &s->log.segs, node) {
		if (seg->state == SKV_SEG_CLOSED)
			dead += seg->size - SKV_SEG_HDR_LEN -
				skv_atomic64_read(&seg->live);
	}
	skv_spin_unlock(&s->log.lock);
	return dead >= 2ull * s->seg_size;
}
