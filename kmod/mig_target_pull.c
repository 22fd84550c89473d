// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration, target side: the pull workers (one per pull in
 * flight, each on its own connection and side log, pulling the least
 * advanced free partition) and the priority pullers (the hashes clients
 * wait for, in batches).  A pass runs them over the whole range once.
 * See mig_target.c for the whole.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/unaligned.h>
#include <uapi/linux/steadykv.h>

#include "node.h"
#include "mig_target.h"
#include "mig_target_int.h"
#include "peer.h"
#include "log.h"
#include "record.h"
#include "replay.h"
#include "repl_primary.h"
#include "trace.h"

/* Progress notifications at most this often. */
#define SKV_MIG_NTF_INTERVAL	(HZ / 10)
/* Nice level of the pull workers (clients' threads run at 0). */
#define SKV_MIG_WORKER_NICE	10

static struct skv_mig_part *skv_tgt_pick(struct skv_mig *m)
{
	struct skv_mig_part *best = NULL, *pt;
	u32 i;

	mutex_lock(&m->part_lock);
	for (i = 0; i < m->nparts; i++) {
		pt = &m->parts[i];
		if (pt->busy || pt->done)
			continue;
		if (!best || READ_ONCE(pt->cursor) - pt->start <
			     READ_ONCE(best->cursor) - best->start)
			best = pt;
	}
	if (best)
		best->busy = true;
	mutex_unlock(&m->part_lock);
	return best;
}

static void skv_tgt_unpick(struct skv_mig *m, struct skv_mig_part *pt)
{
	mutex_lock(&m->part_lock);
	pt->busy = false;
	mutex_unlock(&m->part_lock);
}

/* Largest PULL reply body: the budget, plus one group over it. */
static u32 skv_tgt_pull_max(u32 budget)
{
	return sizeof(struct skv_pull_reply) + sizeof(struct skv_batch_hdr) +
	       budget + SKV_REC_MAX_LEN;
}

/* Account a replayed batch. */
static void skv_tgt_count(struct skv_mig *m, u32 len,
			  const struct skv_replay_stats *st)
{
	atomic64_add(len, &m->bytes_pulled);
	atomic64_add(st->records, &m->records_pulled);
	atomic64_add(st->applied, &m->records_replayed);
	atomic64_add(st->skipped, &m->records_skipped);
}

/*
 * Send a pull of kind what ("pull", "priority pull").  0 once the source
 * answered OK (the reply in w->peer), or a negative errno: the failure
 * is recorded unless the thread was told to stop (-ESHUTDOWN).
 */
static int skv_tgt_pull_call(struct skv_mig_worker *w, const char *what,
			     u8 op, const void *req, u32 req_len, u32 max_body)
{
	struct skv_mig *m = w->m;
	int ret;

	w->call_ns = ktime_get_ns();
	ret = skv_tgt_call(m, &w->peer, op, req, req_len, NULL, 0, max_body);
	w->call_ns = ktime_get_ns() - w->call_ns;
	if (ret == -ESHUTDOWN)
		return ret;
	if (ret < 0) {
		skv_tgt_fail(m, -ret, "%s: source connection lost (%d)", what,
			     ret);
		return ret;
	}
	if (ret != SKV_S_OK) {
		skv_tgt_fail(m, EREMOTEIO, "the source answered %s to a %s",
			     skv_tgt_status_name(ret), what);
		return -EREMOTEIO;
	}
	return 0;
}

/*
 * What a pull of [start, end] of the range may bring: records of the
 * table in that part, and, once the source froze the range (always but in
 * the push baseline's first pass), none newer than its safe version;
 * before that, none past the version ceiling (replay refuses those too).
 */
static void skv_tgt_bounds(struct skv_mig *m, u64 start, u64 end,
			   struct skv_replay_bounds *b)
{
	bool copying = m->p.mode == STEADYKV_MIGRATION_MODE_PUSH &&
		       READ_ONCE(m->state) == STEADYKV_MIGRATION_STATE_PULLING;

	*b = (struct skv_replay_bounds) {
		.table_id = m->p.table_id,
		.start_hash = start,
		.end_hash = end,
		.max_version = copying ? SKV_VERSION_MAX :
			       READ_ONCE(m->safe_version),
	};
}

/*
 * Replay the batch of the pull reply in w->peer (its head checked by the
 * caller) if every record lies inside b, and account it; batch names it
 * in the error message.
 */
static int skv_tgt_pull_replay(struct skv_mig_worker *w, const char *batch,
			       const struct skv_replay_bounds *b)
{
	const u32 rl = sizeof(struct skv_pull_reply);
	struct skv_replay_stats st = {};
	struct skv_mig *m = w->m;
	struct skv_peer *peer = &w->peer;
	int ret;

	ret = skv_replay_batch(skv_node_store(m->node), w->sl, peer->buf + rl,
			       peer->len - rl, b, &st);
	if (ret == -ENOSPC) {
		skv_tgt_fail(m, ENOSPC, "no memory left here to replay into");
		return ret;
	}
	if (ret == -ERANGE) {
		skv_tgt_fail(m, EPROTO,
			     "the source sent a record outside the %s asked for",
			     batch);
		return ret;
	}
	if (ret) {
		skv_tgt_fail(m, -ret, "bad %s from the source (%d)", batch, ret);
		return ret;
	}
	/*
	 * The baseline without lineage: the batch is at the backups before
	 * the next pull (Rocksteady defers this to after the migration).
	 */
	if (m->p.mode == STEADYKV_MIGRATION_MODE_REPLICATED &&
	    peer->len > rl + sizeof(struct skv_batch_hdr)) {
		ret = skv_repl_hold(m->node,
				    peer->buf + rl + sizeof(struct skv_batch_hdr),
				    peer->len - rl - sizeof(struct skv_batch_hdr));
		if (ret) {
			skv_tgt_fail(m, -ret,
				     "the backups did not take a pulled %s (%d)",
				     batch, ret);
			return ret;
		}
	}
	skv_tgt_count(m, peer->len, &st);
	trace_skv_mig_pull(m->p.id, b->nhashes, peer->len, st.records, w->call_ns);
	trace_skv_mig_replay(m->p.id, st.records, st.applied, st.skipped);
	return 0;
}

/* One PULL of a partition and the replay of its batch. */
static int skv_tgt_pull_part(struct skv_mig_worker *w, struct skv_mig_part *pt)
{
	struct skv_mig *m = w->m;
	const u32 rl = sizeof(struct skv_pull_reply);
	struct skv_pull_req req = {};
	struct skv_peer *peer = &w->peer;
	u64 cursor = pt->cursor, next;
	struct skv_replay_bounds b;
	u32 resolved, budget;
	int ret;

	req.migration_id = cpu_to_le64(m->p.id);
	req.table_id = cpu_to_le64(m->p.table_id);
	req.start_hash = cpu_to_le64(pt->start);
	req.end_hash = cpu_to_le64(pt->end);
	req.cursor = cpu_to_le64(cursor);
	req.min_version = cpu_to_le64(m->min_version);
	budget = min(READ_ONCE(m->pace_budget), SKV_MAX_PULL_BUDGET);
	req.budget = cpu_to_le32(budget);

	ret = skv_tgt_pull_call(w, "pull", SKV_OP_MIG_PULL, &req, sizeof(req),
				skv_tgt_pull_max(budget));
	if (ret)
		return ret;
	if (peer->len < rl)
		goto bad;
	skv_tgt_pace_source(m, peer->buf);
	next = get_unaligned_le64(peer->buf);
	resolved = get_unaligned_le32(peer->buf + 8);
	if (resolved > 1 ||
	    (!resolved && (next <= cursor || next > pt->end)))
		goto bad;
	skv_tgt_bounds(m, cursor, pt->end, &b);
	ret = skv_tgt_pull_replay(w, "batch", &b);
	if (ret)
		return ret;
	atomic64_inc(&m->pulls);
	if (resolved) {
		/* Pairs with the acquire in skv_tgt_hash_resolved(). */
		smp_store_release(&pt->done, true);
		atomic_inc(&m->parts_done);
		wake_up_all(&m->wq);
	} else {
		/* Pairs with the acquire in skv_tgt_hash_resolved(). */
		smp_store_release(&pt->cursor, next);
	}
	skv_tgt_wake_parked(m->node);
	return 0;
bad:
	skv_tgt_fail(m, EPROTO, "malformed pull reply from the source");
	return -EPROTO;
}

/* The pass has nothing left to do, or must stop. */
static bool skv_tgt_pass_over(struct skv_mig *m)
{
	return atomic_read(&m->parts_done) == m->nparts ||
	       READ_ONCE(m->failing) || READ_ONCE(m->cancel) ||
	       skv_tgt_stopping(m);
}

/*
 * Paced: at most pace_depth workers pull at once, whichever they are (a
 * worker that found nothing to pick has ended: with pulls allowed only
 * to the first pace_depth workers, a depth of 1 and worker 0 ended
 * stalled the migration).
 */
static bool skv_tgt_slot_get(struct skv_mig *m)
{
	if (atomic_inc_return(&m->pulling) <= READ_ONCE(m->pace_depth))
		return true;
	atomic_dec(&m->pulling);
	return false;
}

static void skv_tgt_slot_put(struct skv_mig *m)
{
	atomic_dec(&m->pulling);
	/* The slot freed before the waiters are read (skv_tgt_slot_wait). */
	smp_mb__after_atomic();
	if (atomic_read(&m->slot_waiters))
		wake_up_all(&m->wq);
}

static void skv_tgt_slot_wait(struct skv_mig *m)
{
	atomic_inc(&m->slot_waiters);
	/* Counted before the slots are read: a put then sees us and wakes. */
	smp_mb__after_atomic();
	wait_event_interruptible_timeout(m->wq,
		atomic_read(&m->pulling) < READ_ONCE(m->pace_depth) ||
		skv_tgt_pass_over(m), HZ);
	atomic_dec(&m->slot_waiters);
}

static int skv_tgt_worker_thread(void *arg)
{
	struct skv_mig_worker *w = arg;
	struct skv_mig *m = w->m;
	struct skv_mig_part *pt;
	int err;

	set_user_nice(current, SKV_MIG_WORKER_NICE);
	while (!skv_tgt_stopping(m)) {
		if (!skv_tgt_slot_get(m)) {
			skv_tgt_slot_wait(m);
			if (skv_tgt_pass_over(m))
				break;
			continue;
		}
		pt = skv_tgt_pick(m);
		if (!pt) {
			skv_tgt_slot_put(m);
			break;	/* the rest is being pulled, or done */
		}
		err = skv_tgt_pull_part(w, pt);
		skv_tgt_unpick(m, pt);
		skv_tgt_slot_put(m);
		if (err)
			break;
		cond_resched();
	}
	return 0;
}

/* ---- the priority pullers ---------------------------------------------- */

/*
 * Take up to SKV_MIG_PRIO_BATCH pending hashes not resolved meanwhile
 * into p's pull.
 */
static u32 skv_tgt_prio_take(struct skv_mig *m, struct skv_mig_prio *p)
{
	u32 i, n = 0, keep = 0;
	u64 h;

	spin_lock(&m->lock);
	for (i = 0; i < m->npending; i++) {
		h = m->pending[i];
		if (skv_tgt_hash_resolved(m, h))
			continue;
		if (n < SKV_MIG_PRIO_BATCH)
			p->hashes[n++] = h;
		else
			m->pending[keep++] = h;
	}
	m->npending = keep;
	p->n = n;
	spin_unlock(&m->lock);
	return n;
}

static int skv_tgt_prio_pull(struct skv_mig_prio *p, u8 *req, u32 n)
{
	struct skv_mig_worker *w = &p->w;
	struct skv_mig *m = w->m;
	struct skv_prio_pull_req *pr = (struct skv_prio_pull_req *)req;
	const u32 rl = sizeof(struct skv_pull_reply);
	struct skv_peer *peer = &w->peer;
	struct skv_replay_bounds b;
	u32 i, resolved, rtt, avg;
	ktime_t t0;
	int ret;

	memset(pr, 0, sizeof(*pr));
	pr->migration_id = cpu_to_le64(m->p.id);
	pr->table_id = cpu_to_le64(m->p.table_id);
	pr->count = cpu_to_le16(n);
	for (i = 0; i < n; i++)
		put_unaligned_le64(p->hashes[i],
				   req + sizeof(*pr) + i * sizeof(__le64));

	t0 = ktime_get();
	ret = skv_tgt_pull_call(w, "priority pull", SKV_OP_MIG_PRIORITY_PULL,
				req, sizeof(*pr) + n * sizeof(__le64),
				SKV_MAX_BODY_LEN);
	if (ret)
		return ret;
	if (peer->len < rl)
		goto bad;
	skv_tgt_pace_source(m, peer->buf);
	resolved = get_unaligned_le32(peer->buf + 8);
	if (resolved > n)
		goto bad;
	skv_tgt_bounds(m, m->p.start_hash, m->p.end_hash, &b);
	b.hashes = p->hashes;
	b.nhashes = n;
	ret = skv_tgt_pull_replay(w, "priority batch", &b);
	if (ret)
		return ret;
	/*
	 * The retry hint: 7/8 of the old average plus 1/8 of this pull (two
	 * pullers may lose one's update: harmless for an average).
	 */
	rtt = min_t(s64, ktime_us_delta(ktime_get(), t0), SKV_MIG_RETRY_US_MAX);
	avg = READ_ONCE(m->prio_rtt_us);
	WRITE_ONCE(m->prio_rtt_us, avg - avg / 8 + rtt / 8);
	atomic64_inc(&m->prio_pulls);
	atomic64_add(resolved, &m->prio_keys);

	/* After the replay: a resolved hash must find its records. */
	spin_lock(&m->lock);
	for (i = 0; i < resolved; i++)
		skv_tgt_add_resolved(m, p->hashes[i]);
	/* The rest go back (unless the source made no progress at all). */
	for (i = resolved; resolved && i < n; i++)
		if (m->npending < SKV_MIG_PRIO_PENDING)
			m->pending[m->npending++] = p->hashes[i];
	p->n = 0;
	spin_unlock(&m->lock);
	skv_tgt_wake_parked(m->node);
	return 0;
bad:
	skv_tgt_fail(m, EPROTO, "malformed priority pull reply");
	return -EPROTO;
}

static int skv_tgt_prio_thread(void *arg)
{
	struct skv_mig_prio *p = container_of(arg, struct skv_mig_prio, w);
	struct skv_mig *m = p->w.m;
	u8 *req;
	u32 n;

	req = kmalloc(sizeof(struct skv_prio_pull_req) +
		      SKV_MIG_PRIO_BATCH * sizeof(__le64), GFP_KERNEL);
	if (!req) {
		skv_tgt_fail(m, ENOMEM, "out of memory");
		return 0;
	}
	while (!skv_tgt_stopping(m)) {
		wait_event_interruptible_timeout(m->prio_wq,
						 READ_ONCE(m->npending) ||
						 skv_tgt_stopping(m), HZ);
		if (skv_tgt_stopping(m))
			break;
		n = skv_tgt_prio_take(m, p);
		if (n && skv_tgt_prio_pull(p, req, n))
			break;
	}
	kfree(req);
	return 0;
}

/* ---- starting and stopping the pulls ----------------------------------- */

static int skv_tgt_worker_start(struct skv_mig *m, struct skv_mig_worker *w,
				int (*fn)(void *), const char *kind, int idx)
{
	struct skv_store *s = skv_node_store(m->node);
	struct task_struct *task;
	int err;

	w->m = m;
	w->idx = idx;
	skv_peer_init(&w->peer, m->node->net, m->p.addr, m->p.addr_len,
		      m->p.port);
	err = skv_sidelog_create(s, &w->sl);
	if (err)
		goto err_peer;
	task = kthread_create(fn, w, "skv-%s%llu.%d", kind, m->p.id, idx);
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		goto err_sl;
	}
	w->task = get_task_struct(task);
	wake_up_process(task);
	return 0;

err_sl:
	skv_sidelog_destroy(s, w->sl);
	w->sl = NULL;
err_peer:
	skv_peer_destroy(&w->peer);
	return err;
}

/* Stop a worker (wake it from its socket first) and free what it had. */
static void skv_tgt_worker_stop(struct skv_mig *m, struct skv_mig_worker *w)
{
	if (!w->task)
		return;
	skv_peer_shutdown(&w->peer);
	wake_up_all(&m->wq);
	wake_up_all(&m->prio_wq);
	kthread_stop(w->task);
	put_task_struct(w->task);
	w->task = NULL;
	skv_peer_destroy(&w->peer);
	/* Splices what it replayed into the main log. */
	skv_sidelog_destroy(skv_node_store(m->node), w->sl);
	w->sl = NULL;
}

void skv_tgt_workers_stop(struct skv_mig *m)
{
	u32 i;

	for (i = 0; i < m->p.inflight; i++)
		skv_tgt_worker_stop(m, &m->workers[i]);
	for (i = 0; i < SKV_MIG_PRIO_PULLERS; i++)
		skv_tgt_worker_stop(m, &m->prio[i].w);
}

/*
 * Pull the whole range once (every partition from its start), with
 * priority pulls if asked.  Notifies progress at most every 100 ms.
 */
int skv_tgt_pass(struct skv_mig *m, bool prio)
{
	u32 i, nprio, n = min(m->p.inflight, m->nparts);
	unsigned long paced = jiffies, pace_every = SKV_MIG_PACE_FIRST;
	u64 seen = 0, pulls;
	int err, ret;

	skv_tgt_parts_reset(m);
	skv_tgt_pace_start(m);
	nprio = prio ? clamp(READ_ONCE(skv_mig_prio_pullers), 1u,
			     (u32)SKV_MIG_PRIO_PULLERS) : 0;
	for (i = 0; i < nprio; i++) {
		err = skv_tgt_worker_start(m, &m->prio[i].w,
					   skv_tgt_prio_thread, "prio", i);
		if (err) {
			skv_tgt_fail(m, -err,
				     "cannot start the priority pullers (%d)",
				     err);
			skv_tgt_workers_stop(m);
			return SKV_PASS_FAILED;
		}
	}
	for (i = 0; i < n; i++) {
		err = skv_tgt_worker_start(m, &m->workers[i],
					   skv_tgt_worker_thread, "pull", i);
		if (err) {
			skv_tgt_fail(m, -err, "cannot start pull workers (%d)",
				     err);
			break;
		}
	}

	for (;;) {
		wait_event_interruptible_timeout(m->wq, skv_tgt_pass_over(m),
						 min(SKV_MIG_NTF_INTERVAL,
						     pace_every));
		if (skv_tgt_pass_over(m))
			break;
		if (time_after_eq(jiffies, paced + pace_every)) {
			paced = jiffies;
			if (skv_tgt_pace(m))
				pace_every = SKV_MIG_PACE_EVERY;
		}
		pulls = atomic64_read(&m->pulls) + atomic64_read(&m->prio_pulls);
		if (pulls != seen &&
		    time_after_eq(jiffies, m->last_ntf + SKV_MIG_NTF_INTERVAL)) {
			seen = pulls;
			skv_tgt_announce(m);
		}
	}
	skv_tgt_workers_stop(m);

	if (skv_tgt_stopping(m))
		ret = SKV_PASS_STOPPED;
	else if (READ_ONCE(m->failing))
		ret = SKV_PASS_FAILED;
	else if (atomic_read(&m->parts_done) == m->nparts)
		ret = SKV_PASS_DONE;	/* a late cancel: too late to matter */
	else
		ret = SKV_PASS_CANCELLED;
	return ret;
}

