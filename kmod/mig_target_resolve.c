// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration, target side: the partitions of the range, the set
 * of hashes priority pulls resolved, and the resolver the store asks
 * (atomic context) whether a key of a MIGRATING_IN tablet has arrived.
 * See mig_target.c for the whole.
 */
#include <linux/kernel.h>
#include <linux/rculist.h>
#include <linux/math64.h>
#include <linux/ktime.h>
#include <uapi/linux/steadykv.h>

#include "node.h"
#include "mig_target.h"
#include "mig_target_int.h"

/* Split the range into equal parts (sizes differ by at most one). */
void skv_tgt_parts_reset(struct skv_mig *m)
{
	u64 span = m->p.end_hash - m->p.start_hash, q, r, b, len;
	u32 n = m->nparts, i;

	q = div64_u64_rem(span, n, &r);
	b = m->p.start_hash;
	for (i = 0; i < n; i++) {
		len = q + (i <= r ? 1 : 0);
		m->parts[i].start = b;
		m->parts[i].end = i == n - 1 ? m->p.end_hash : b + len - 1;
		m->parts[i].cursor = b;
		m->parts[i].done = false;
		m->parts[i].busy = false;
		b += len;
	}
	atomic_set(&m->parts_done, 0);
}

static struct skv_mig_part *skv_tgt_part_of(struct skv_mig *m, u64 hash)
{
	u32 lo = 0, hi = m->nparts - 1, mid;

	while (lo < hi) {
		mid = (lo + hi + 1) / 2;
		if (m->parts[mid].start <= hash)
			lo = mid;
		else
			hi = mid - 1;
	}
	return &m->parts[lo];
}

static u32 skv_tgt_slot(u64 hash)
{
	/* Tablets share high bits: index by the low ones. */
	return (u32)(hash ^ (hash >> 32));
}

/* Atomic-safe. */
static bool skv_tgt_in_resolved(struct skv_mig *m, u64 hash)
{
	u32 mask, i, n;
	u64 v;

	if (!m->resolved)
		return false;
	if (!hash) {
		/* Pairs with the release in skv_tgt_add_resolved(). */
		return smp_load_acquire(&m->resolved_zero);
	}
	mask = m->resolved_slots - 1;
	for (i = skv_tgt_slot(hash) & mask, n = 0; n < m->resolved_slots;
	     i = (i + 1) & mask, n++) {
		/* Pairs with the release in skv_tgt_add_resolved(). */
		v = smp_load_acquire(&m->resolved[i]);
		if (!v)
			return false;
		if (v == hash)
			return true;
	}
	return false;
}

/* Under m->lock.  False if the set is full (the bulk pull will come). */
bool skv_tgt_add_resolved(struct skv_mig *m, u64 hash)
{
	u32 mask = m->resolved_slots - 1, i;

	if (!hash) {
		/* Pairs with the acquire in skv_tgt_in_resolved(). */
		smp_store_release(&m->resolved_zero, true);
		return true;
	}
	if (m->nresolved >= m->resolved_slots / 4 * 3)
		return false;
	for (i = skv_tgt_slot(hash) & mask;; i = (i + 1) & mask) {
		if (m->resolved[i] == hash)
			return true;
		if (!m->resolved[i])
			break;
	}
	/* Pairs with the acquire in skv_tgt_in_resolved(). */
	smp_store_release(&m->resolved[i], hash);
	m->nresolved++;
	return true;
}

/* Has every record of hash been replayed here?  Atomic-safe. */
bool skv_tgt_hash_resolved(struct skv_mig *m, u64 hash)
{
	struct skv_mig_part *part = skv_tgt_part_of(m, hash);

	/* Pairs with the release in skv_tgt_pull_part(). */
	if (smp_load_acquire(&part->done))
		return true;
	/* Pairs with the release in skv_tgt_pull_part(). */
	if (hash < smp_load_acquire(&part->cursor))
		return true;
	return skv_tgt_in_resolved(m, hash);
}

/* The active migration of (table_id, hash), under RCU. */
static struct skv_mig *skv_tgt_of(struct skv_node *node, u64 table_id,
				  u64 hash)
{
	struct skv_mig *m;

	list_for_each_entry_rcu(m, &node->migs, list) {
		/* Pairs with the release in skv_tgt_set_active(). */
		if (smp_load_acquire(&m->active) &&
		    m->p.table_id == table_id && hash >= m->p.start_hash &&
		    hash <= m->p.end_hash)
			return m;
	}
	return NULL;
}

/*
 * The store's resolver (store.h): called under RCU, maybe under a bucket
 * spinlock.  A hash of no active migration is resolved: a MIGRATING_IN
 * tablet whose migration stopped serves what it has.
 */
bool skv_tgt_resolved(void *arg, u64 table_id, u64 key_hash)
{
	struct skv_node *node = arg;
	struct skv_mig *m;
	bool ret = true;

	rcu_read_lock();
	m = skv_tgt_of(node, table_id, key_hash);
	if (m)
		ret = skv_tgt_hash_resolved(m, key_hash);
	rcu_read_unlock();
	return ret;
}

void skv_tgt_set_active(struct skv_mig *m, bool on)
{
	/* Pairs with the acquire in skv_tgt_of(). */
	smp_store_release(&m->active, on);
	/*
	 * Off: no resolver or want_key call still uses m's sets after this.
	 * Expedited: parked requests wait for it, and it happens once a
	 * migration.
	 */
	if (!on) {
		synchronize_rcu_expedited();
		/* Its keys are resolved now: the store answers them. */
		skv_tgt_wake_parked(m->node);
	}
}

static bool skv_tgt_pending_has(struct skv_mig *m, u64 hash)
{
	u32 i, j;

	for (i = 0; i < m->npending; i++)
		if (m->pending[i] == hash)
			return true;
	for (j = 0; j < SKV_MIG_PRIO_PULLERS; j++)
		for (i = 0; i < m->prio[j].n; i++)
			if (m->prio[j].hashes[i] == hash)
				return true;
	return false;
}

/*
 * Ask for a priority pull of key_hash; returns the retry_us to tell the
 * client (see SKV_MIG_RETRY_US), or 0 if no migration brings that key
 * (nor, for a parked GET, if the pending queue is full).
 */
u32 skv_tgt_want_key(struct skv_node *node, u64 table_id, u64 key_hash,
		     bool parked)
{
	struct skv_mig *m;
	bool wake = false, asked;
	u32 retry_us = 0;

	if (list_empty(&node->migs))
		return 0;
	rcu_read_lock();
	m = skv_tgt_of(node, table_id, key_hash);
	if (m && m->pending &&
	    READ_ONCE(m->state) == STEADYKV_MIGRATION_STATE_PULLING &&
	    !skv_tgt_hash_resolved(m, key_hash)) {
		if (!parked)
			atomic64_inc(&m->client_retries);
		spin_lock(&m->lock);
		asked = skv_tgt_pending_has(m, key_hash);
		if (!asked && m->npending < SKV_MIG_PRIO_PENDING) {
			m->pending[m->npending++] = key_hash;
			wake = asked = true;
		}
		spin_unlock(&m->lock);
		if (wake)
			wake_up(&m->prio_wq);
		retry_us = clamp(READ_ONCE(m->prio_rtt_us), SKV_MIG_RETRY_US,
				 SKV_MIG_RETRY_US_MAX);
		/* No pull will bring it soon: a parked GET would wait in vain. */
		if (parked && !asked)
			retry_us = 0;
	}
	rcu_read_unlock();
	return retry_us;
}

u32 skv_tgt_permille(struct skv_mig *m)
{
	u64 sum = 0, len;
	u32 i;

	if (READ_ONCE(m->ended))
		return m->end_permille;
	if (!m->parts)
		return 0;
	for (i = 0; i < m->nparts; i++) {
		struct skv_mig_part *pt = &m->parts[i];

		len = pt->end - pt->start;
		/* Pairs with the release in skv_tgt_pull_part(). */
		if (smp_load_acquire(&pt->done))
			sum += 1000;
		else if (len)
			sum += mul_u64_u64_div_u64(READ_ONCE(pt->cursor) -
						   pt->start, 1000, len);
	}
	return min_t(u64, sum / m->nparts, 1000);
}

u64 skv_tgt_elapsed_us(struct skv_mig *m)
{
	if (READ_ONCE(m->ended))
		return m->elapsed_us;
	return ktime_us_delta(ktime_get(), m->t_start);
}
