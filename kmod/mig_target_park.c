// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration, target side: a GET for a key still at the source
 * is parked until its priority pull lands, instead of being answered
 * RETRY at once.  RETRY costs the client a round trip and a backoff that
 * must guess the pull's time (too short: RETRY again; too long: time
 * lost); a parked GET is answered the moment its key is replayed here.
 *
 * The connection stops at that frame: the replies before it are sent,
 * the requests behind it wait, as they wait behind a write whose backups
 * have not acked.  It waits on node->mig_parked, whose wakers (a priority
 * pull or a bulk pull replayed, a migration stopping) run the connections
 * whose key the store now resolves; the frame is then handled again.  A
 * timer bounds the wait at mig_park_ms, after which the GET gets the RETRY
 * of old.  A GET with requests behind it in the connection's input gets
 * RETRY at once, so that a pipelined batch is not served one priority
 * pull at a time (its keys' pulls go out together; parking those too
 * measured a worse tail in make demo).  Only GETs park: a
 * DELETE or conditional PUT answered RETRY has already reserved its place
 * in the replication stream (repl_primary.c).
 */
#include <linux/kernel.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/wait.h>

#include "node.h"
#include "conn.h"
#include "mig_target.h"
#include "mig_target_int.h"

/* Woken: under node->mig_parked's lock, any context. */
static int skv_tgt_park_woken(struct wait_queue_entry *w, unsigned int mode,
			      int sync, void *key)
{
	struct skv_conn *c = w->private;

	if (!skv_tgt_resolved(c->node, c->park_table, c->park_hash))
		return 0;
	list_del_init(&w->entry);
	skv_conn_kick(c);
	return 1;
}

void skv_tgt_park_init(struct skv_conn *c)
{
	init_waitqueue_func_entry(&c->park_wait, skv_tgt_park_woken);
	INIT_LIST_HEAD(&c->park_wait.entry);	/* empty: not on the queue */
	c->park_wait.private = c;
}

bool skv_tgt_park(struct skv_conn *c, u64 table_id, u64 key_hash)
{
	struct wait_queue_head *wq = &c->node->mig_parked;
	unsigned int ms = READ_ONCE(skv_mig_park_ms);
	unsigned long flags;

	/* Requests behind it would wait too: RETRY lets them go first. */
	if (!ms || c->pipelined)
		return false;
	/* Its wait is over: answered RETRY, then skv_tgt_park_answered(). */
	if (c->park_until && !time_before(jiffies, c->park_until))
		return false;
	if (!skv_tgt_want_key(c->node, table_id, key_hash, true))
		return false;
	if (!c->park_until) {
		/* 0 means "not parked": a deadline that lands on it is +1. */
		c->park_until = (jiffies + msecs_to_jiffies(ms)) ?: 1;
		c->park_since_ns = ktime_get_ns();
	}
	spin_lock_irqsave(&wq->lock, flags);
	c->park_table = table_id;
	c->park_hash = key_hash;
	if (list_empty(&c->park_wait.entry))
		__add_wait_queue_entry_tail(wq, &c->park_wait);
	spin_unlock_irqrestore(&wq->lock, flags);
	c->parked = true;
	skv_conn_kick_at(c, c->park_until);
	/*
	 * Resolved before the entry was on the queue: its waker missed it.
	 * Pairs with the barrier in skv_tgt_wake_parked()'s wq_has_sleeper().
	 */
	smp_mb();
	if (skv_tgt_resolved(c->node, table_id, key_hash))
		skv_conn_kick(c);
	return true;
}

void skv_tgt_unpark(struct skv_conn *c)
{
	struct wait_queue_head *wq = &c->node->mig_parked;
	unsigned long flags;

	c->parked = false;
	spin_lock_irqsave(&wq->lock, flags);
	if (!list_empty(&c->park_wait.entry))
		list_del_init(&c->park_wait.entry);
	spin_unlock_irqrestore(&wq->lock, flags);
}

void skv_tgt_park_answered(struct skv_conn *c)
{
	c->park_until = 0;
	c->park_since_ns = 0;
}

void skv_tgt_wake_parked(struct skv_node *node)
{
	/* The resolved state was published before: wq_has_sleeper() orders. */
	if (wq_has_sleeper(&node->mig_parked))
		wake_up_all(&node->mig_parked);
}
