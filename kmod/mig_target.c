// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration, target side: the engine that pulls a tablet from
 * its source (Rocksteady, SOSP'17), driven by netlink migrate-start.
 *
 * Each migration has a controller thread running its state machine:
 *
 *   preparing -> pulling -> done                       (rocksteady)
 *   preparing -> pulling -> catching-up -> done        (push baseline)
 *   preparing -> failed                  (nothing changed anywhere)
 *   pulling -> rolling-back -> cancelled | failed      (cancel, error)
 *
 * Rocksteady mode: PREPARE makes the source stop serving the range and
 * give its safe version; the version counter here is raised above it
 * before the tablet is added here MIGRATING_IN, so every write accepted
 * here is newer than any copy in flight.  The range is split into equal
 * hash partitions; pull workers (one per pull in flight, each with its
 * own connection and side log) repeatedly take the least-advanced free
 * partition, PULL from its cursor, replay the batch and publish the new
 * cursor.  Pull of one partition overlaps replay of others.  Workers run
 * at nice 10: this is how migration yields to client requests here, the
 * connection threads (nice 0) win the CPU whenever both want it.
 *
 * The store asks our resolver (atomic context) whether a key of the
 * MIGRATING_IN tablet has arrived: yes if its partition's replayed cursor
 * passed it, the partition is done, or a priority pull resolved it.  A
 * client asking for an unresolved key gets RETRY and its hash goes to the
 * priority puller (skv_mig_want_key()), which batches up to 64 hashes in
 * one PRIORITY_PULL at a time, replays the answer, then marks the hashes
 * resolved; a key the source has nothing of is thus resolved (NOT_FOUND)
 * promptly.
 *
 * Failure after ownership moved, or cancel: the tablet goes MIGRATING_OUT
 * here (not served; the store waits for writes in flight), the records
 * written here (version above the safe version) go back with PUSH_BACK,
 * END with ABORT hands the range back, and the tablet is deleted here.
 * If the source cannot be reached for that, the tablet is set back to
 * MIGRATING_IN here and keeps serving what it has (nothing is resolved
 * any more, so keys not pulled read as absent): the state is failed, with
 * "source unreachable: tablet needs recovery".
 *
 * Namespace exit (and rmmod) stops every migration where it is: threads
 * stopped after their sockets are shut down, tablets left as they are.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/rculist.h>
#include <linux/math64.h>
#include <linux/unaligned.h>
#include <net/netlink.h>
#include <uapi/linux/steadykv.h>
#include <steadykv/migration.h>

#include "node.h"
#include "mig_target.h"
#include "peer.h"
#include "log.h"
#include "record.h"
#include "replay.h"
#include "scan.h"

/* Reconnect attempts of a failed call, and the pause before each. */
static const unsigned int skv_mig_backoff_ms[] = { 0, 100, 400, 1600 };

/* Slots of the resolved set (u64 each); at most 3/4 are used. */
#define SKV_MIG_RESOLVED_SLOTS	16384
/* Progress notifications at most this often. */
#define SKV_MIG_NTF_INTERVAL	(HZ / 10)
/* Nice level of the pull workers (clients' threads run at 0). */
#define SKV_MIG_WORKER_NICE	10

static const char *const skv_status_names[SKV_S_MAX] = {
	[SKV_S_OK] = "OK", [SKV_S_NOT_FOUND] = "NOT_FOUND",
	[SKV_S_NOT_OWNER] = "NOT_OWNER", [SKV_S_RETRY] = "RETRY",
	[SKV_S_NO_SPACE] = "NO_SPACE", [SKV_S_BAD_REQUEST] = "BAD_REQUEST",
	[SKV_S_VERSION_MISMATCH] = "VERSION_MISMATCH",
	[SKV_S_TOO_BIG] = "TOO_BIG", [SKV_S_UNKNOWN_OP] = "UNKNOWN_OP",
	[SKV_S_UNKNOWN_TABLE] = "UNKNOWN_TABLE", [SKV_S_INTERNAL] = "INTERNAL",
	[SKV_S_BUSY] = "BUSY", [SKV_S_NO_MIGRATION] = "NO_MIGRATION",
};

static const char *skv_status_name(int st)
{
	return st >= 0 && st < SKV_S_MAX && skv_status_names[st] ?
	       skv_status_names[st] : "?";
}

/* Record the first error (or, with force, this one). */
static __printf(4, 5)
void skv_mig_set_err(struct skv_mig *m, int err, bool force,
		     const char *fmt, ...)
{
	va_list ap;

	spin_lock(&m->lock);
	if (!m->err || force) {
		m->err = err;
		va_start(ap, fmt);
		vsnprintf(m->errmsg, sizeof(m->errmsg), fmt, ap);
		va_end(ap);
	}
	spin_unlock(&m->lock);
}

/* A worker's failure: record it and wake the controller. */
static __printf(3, 4)
void skv_mig_fail(struct skv_mig *m, int err, const char *fmt, ...)
{
	va_list ap;

	spin_lock(&m->lock);
	if (!m->err) {
		m->err = err;
		va_start(ap, fmt);
		vsnprintf(m->errmsg, sizeof(m->errmsg), fmt, ap);
		va_end(ap);
	}
	spin_unlock(&m->lock);
	WRITE_ONCE(m->failing, true);
	wake_up_all(&m->wq);
}

/* Should the calling migration thread stop what it does? */
static bool skv_mig_stopping(struct skv_mig *m)
{
	if (kthread_should_stop() || READ_ONCE(m->abandon))
		return true;
	/* Workers also stop on a failure; the controller handles it. */
	return current != m->task && READ_ONCE(m->failing);
}

/* Sleep ms unless told to stop; true if told to stop. */
static bool skv_mig_nap(struct skv_mig *m, unsigned int ms)
{
	wait_event_interruptible_timeout(m->wq, skv_mig_stopping(m),
					 msecs_to_jiffies(ms));
	return skv_mig_stopping(m);
}

/*
 * A call with reconnects: a lost connection is retried a few times with
 * backoff (every migration op can be repeated: pulls resume from their
 * cursor, replays and push-backs skip what they already have).  Returns
 * the reply status, or a negative errno.
 */
static int skv_mig_call(struct skv_mig *m, struct skv_peer *peer, u8 op,
			const void *head, u32 head_len, const void *tail,
			u32 tail_len, u32 max_body)
{
	int ret = -ESHUTDOWN;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(skv_mig_backoff_ms); i++) {
		if (i && skv_mig_nap(m, skv_mig_backoff_ms[i]))
			return -ESHUTDOWN;
		if (skv_mig_stopping(m))
			return -ESHUTDOWN;
		ret = skv_peer_call(peer, op, head, head_len, tail, tail_len,
				    max_body);
		if (ret >= 0 || ret == -ESHUTDOWN || ret == -ENOMEM ||
		    ret == -EPROTO)
			return ret;
	}
	return ret;
}

static void skv_mig_range_req(struct skv_mig *m, struct skv_mig_range_req *r,
			      u32 flags)
{
	memset(r, 0, sizeof(*r));
	r->migration_id = cpu_to_le64(m->p.id);
	r->table_id = cpu_to_le64(m->p.table_id);
	r->start_hash = cpu_to_le64(m->p.start_hash);
	r->end_hash = cpu_to_le64(m->p.end_hash);
	r->flags = cpu_to_le32(flags);
}

/* ---- partitions, the resolved set and the resolver -------------------- */

/* Split the range into equal parts (sizes differ by at most one). */
static void skv_mig_parts_reset(struct skv_mig *m)
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

static struct skv_mig_part *skv_mig_part_of(struct skv_mig *m, u64 hash)
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

static u32 skv_mig_slot(u64 hash)
{
	/* Tablets share high bits: index by the low ones. */
	return (u32)(hash ^ (hash >> 32));
}

/* Atomic-safe. */
static bool skv_mig_in_resolved(struct skv_mig *m, u64 hash)
{
	u32 mask, i, n;
	u64 v;

	if (!m->resolved)
		return false;
	if (!hash) {
		/* Pairs with the release in skv_mig_add_resolved(). */
		return smp_load_acquire(&m->resolved_zero);
	}
	mask = m->resolved_slots - 1;
	for (i = skv_mig_slot(hash) & mask, n = 0; n < m->resolved_slots;
	     i = (i + 1) & mask, n++) {
		/* Pairs with the release in skv_mig_add_resolved(). */
		v = smp_load_acquire(&m->resolved[i]);
		if (!v)
			return false;
		if (v == hash)
			return true;
	}
	return false;
}

/* Under m->lock.  False if the set is full (the bulk pull will come). */
static bool skv_mig_add_resolved(struct skv_mig *m, u64 hash)
{
	u32 mask = m->resolved_slots - 1, i;

	if (!hash) {
		/* Pairs with the acquire in skv_mig_in_resolved(). */
		smp_store_release(&m->resolved_zero, true);
		return true;
	}
	if (m->nresolved >= m->resolved_slots / 4 * 3)
		return false;
	for (i = skv_mig_slot(hash) & mask;; i = (i + 1) & mask) {
		if (m->resolved[i] == hash)
			return true;
		if (!m->resolved[i])
			break;
	}
	/* Pairs with the acquire in skv_mig_in_resolved(). */
	smp_store_release(&m->resolved[i], hash);
	m->nresolved++;
	return true;
}

/* Has every record of hash been replayed here?  Atomic-safe. */
static bool skv_mig_hash_resolved(struct skv_mig *m, u64 hash)
{
	struct skv_mig_part *part = skv_mig_part_of(m, hash);

	/* Pairs with the release in skv_mig_pull_part(). */
	if (smp_load_acquire(&part->done))
		return true;
	/* Pairs with the release in skv_mig_pull_part(). */
	if (hash < smp_load_acquire(&part->cursor))
		return true;
	return skv_mig_in_resolved(m, hash);
}

/* The active migration of (table_id, hash), under RCU. */
static struct skv_mig *skv_mig_of(struct skv_node *node, u64 table_id,
				  u64 hash)
{
	struct skv_mig *m;

	list_for_each_entry_rcu(m, &node->migs, list) {
		/* Pairs with the release in skv_mig_set_active(). */
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
static bool skv_mig_resolved(void *arg, u64 table_id, u64 key_hash)
{
	struct skv_node *node = arg;
	struct skv_mig *m;
	bool ret = true;

	rcu_read_lock();
	m = skv_mig_of(node, table_id, key_hash);
	if (m)
		ret = skv_mig_hash_resolved(m, key_hash);
	rcu_read_unlock();
	return ret;
}

static void skv_mig_set_active(struct skv_mig *m, bool on)
{
	/* Pairs with the acquire in skv_mig_of(). */
	smp_store_release(&m->active, on);
	/* Off: no resolver or want_key call still uses m's sets after this. */
	if (!on)
		synchronize_rcu();
}

static bool skv_mig_pending_has(struct skv_mig *m, u64 hash)
{
	u32 i;

	for (i = 0; i < m->npending; i++)
		if (m->pending[i] == hash)
			return true;
	for (i = 0; i < m->ninflight; i++)
		if (m->inflight_hashes[i] == hash)
			return true;
	return false;
}

/*
 * Ask for a priority pull of key_hash; returns the retry_us to tell the
 * client (see SKV_MIG_RETRY_US), or 0 if no migration brings that key.
 */
u32 skv_mig_want_key(struct skv_node *node, u64 table_id, u64 key_hash)
{
	struct skv_mig *m;
	bool wake = false;
	u32 retry_us = 0;

	if (list_empty(&node->migs))
		return 0;
	rcu_read_lock();
	m = skv_mig_of(node, table_id, key_hash);
	if (m && m->pending &&
	    READ_ONCE(m->state) == STEADYKV_MIGRATION_STATE_PULLING &&
	    !skv_mig_hash_resolved(m, key_hash)) {
		spin_lock(&m->lock);
		if (!skv_mig_pending_has(m, key_hash) &&
		    m->npending < SKV_MIG_PRIO_PENDING) {
			m->pending[m->npending++] = key_hash;
			wake = true;
		}
		spin_unlock(&m->lock);
		if (wake)
			wake_up(&m->prio_wq);
		retry_us = clamp(READ_ONCE(m->prio_rtt_us), SKV_MIG_RETRY_US,
				 SKV_MIG_RETRY_US_MAX);
	}
	rcu_read_unlock();
	return retry_us;
}

u32 skv_mig_permille(struct skv_mig *m)
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
		/* Pairs with the release in skv_mig_pull_part(). */
		if (smp_load_acquire(&pt->done))
			sum += 1000;
		else if (len)
			sum += mul_u64_u64_div_u64(READ_ONCE(pt->cursor) -
						   pt->start, 1000, len);
	}
	return min_t(u64, sum / m->nparts, 1000);
}

u64 skv_mig_elapsed_us(struct skv_mig *m)
{
	if (READ_ONCE(m->ended))
		return m->elapsed_us;
	return ktime_us_delta(ktime_get(), m->t_start);
}

/* ---- state changes ----------------------------------------------------- */

/* Tell the events group where m is (and when it last did). */
static void skv_tgt_announce(struct skv_mig *m)
{
	m->last_ntf = jiffies;
	skv_mig_notify(m);
}

/*
 * Every phase change of a migration, on its controller thread.  The
 * creation phase (preparing) is not a change; each change must be one
 * legal step (an illegal one is a bug: warned about and refused, the
 * phase stays).  A final phase ends the migration: its progress and
 * duration freeze and it leaves the running count, under node->lock with
 * the phase so that netlink sees them together.  An abandoned
 * migration's end is not announced: its namespace is going away.
 * 0, or -EINVAL if refused.
 */
static int skv_tgt_change_state(struct skv_mig *m, u32 state)
{
	struct skv_node *node = m->node;
	bool final = skv_mig_state_final(state);

	mutex_lock(&node->lock);
	if (WARN_ON_ONCE(!skv_mig_state_step_ok(m->state, state))) {
		mutex_unlock(&node->lock);
		return -EINVAL;
	}
	if (final) {
		m->end_permille = skv_mig_permille(m);
		m->elapsed_us = ktime_us_delta(ktime_get(), m->t_start);
	}
	WRITE_ONCE(m->state, state);
	if (final) {
		WRITE_ONCE(m->ended, true);
		node->migs_running--;
		node->migs_ended++;
	}
	mutex_unlock(&node->lock);

	if (!final || !READ_ONCE(m->abandon))
		skv_tgt_announce(m);
	return 0;
}

/* A tablet change here, under node->lock (ordered with netlink's). */
static int skv_mig_tablet(struct skv_mig *m, int op, u32 state)
{
	struct skv_node *node = m->node;
	struct skv_store *s = skv_node_store(node);
	struct skv_tablet_info t = {
		.table_id = m->p.table_id,
		.start_hash = m->p.start_hash,
		.end_hash = m->p.end_hash,
		.state = state,
	};
	int err;

	mutex_lock(&node->lock);
	switch (op) {
	case 0:		/* add, with its table if missing */
		err = skv_table_add(s, t.table_id);
		if (err && err != -EEXIST)
			break;
		err = skv_tablet_add(s, &t);
		break;
	case 1:
		err = skv_tablet_set_state(s, t.table_id, t.start_hash,
					   t.end_hash, state);
		break;
	default:
		err = skv_tablet_del(s, t.table_id, t.start_hash, t.end_hash);
		break;
	}
	if (!err)
		node->map_gen++;
	mutex_unlock(&node->lock);
	return err;
}

#define SKV_MIG_TABLET_ADD	0
#define SKV_MIG_TABLET_SET	1
#define SKV_MIG_TABLET_DEL	2

/* ---- pull workers ------------------------------------------------------ */

static struct skv_mig_part *skv_mig_pick(struct skv_mig *m)
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

static void skv_mig_unpick(struct skv_mig *m, struct skv_mig_part *pt)
{
	mutex_lock(&m->part_lock);
	pt->busy = false;
	mutex_unlock(&m->part_lock);
}

/* Largest PULL reply body: the budget, plus one group over it. */
static u32 skv_mig_pull_max(struct skv_mig *m)
{
	return sizeof(struct skv_pull_reply) + sizeof(struct skv_batch_hdr) +
	       min(m->p.budget, SKV_MAX_PULL_BUDGET) + SKV_REC_MAX_LEN;
}

/* Account a replayed batch. */
static void skv_mig_count(struct skv_mig *m, u32 len,
			  const struct skv_replay_stats *st)
{
	atomic64_add(len, &m->bytes_pulled);
	atomic64_add(st->records, &m->records_pulled);
	atomic64_add(st->applied, &m->records_replayed);
	atomic64_add(st->skipped, &m->records_skipped);
}

/* One PULL of a partition and the replay of its batch. */
static int skv_mig_pull_part(struct skv_mig_worker *w, struct skv_mig_part *pt)
{
	struct skv_mig *m = w->m;
	struct skv_store *s = skv_node_store(m->node);
	const u32 rl = sizeof(struct skv_pull_reply);
	struct skv_replay_stats st = {};
	struct skv_pull_req req = {};
	struct skv_peer *peer = &w->peer;
	u64 cursor = pt->cursor, next;
	u32 resolved;
	int ret;

	req.migration_id = cpu_to_le64(m->p.id);
	req.table_id = cpu_to_le64(m->p.table_id);
	req.start_hash = cpu_to_le64(pt->start);
	req.end_hash = cpu_to_le64(pt->end);
	req.cursor = cpu_to_le64(cursor);
	req.min_version = cpu_to_le64(m->min_version);
	req.budget = cpu_to_le32(min(m->p.budget, SKV_MAX_PULL_BUDGET));

	ret = skv_mig_call(m, peer, SKV_OP_MIG_PULL, &req, sizeof(req), NULL,
			   0, skv_mig_pull_max(m));
	if (ret == -ESHUTDOWN)
		return ret;
	if (ret < 0) {
		skv_mig_fail(m, -ret, "pull: source connection lost (%d)", ret);
		return ret;
	}
	if (ret != SKV_S_OK) {
		skv_mig_fail(m, EREMOTEIO, "the source answered %s to a pull",
			     skv_status_name(ret));
		return -EREMOTEIO;
	}
	if (peer->len < rl)
		goto bad;
	next = get_unaligned_le64(peer->buf);
	resolved = get_unaligned_le32(peer->buf + 8);
	if (resolved > 1 ||
	    (!resolved && (next <= cursor || next > pt->end)))
		goto bad;
	ret = skv_replay_batch(s, w->sl, peer->buf + rl, peer->len - rl, &st);
	if (ret == -ENOSPC) {
		skv_mig_fail(m, ENOSPC, "no memory left here to replay into");
		return ret;
	}
	if (ret) {
		skv_mig_fail(m, -ret, "bad batch from the source (%d)", ret);
		return ret;
	}
	skv_mig_count(m, peer->len, &st);
	atomic64_inc(&m->pulls);
	if (resolved) {
		/* Pairs with the acquire in skv_mig_hash_resolved(). */
		smp_store_release(&pt->done, true);
		atomic_inc(&m->parts_done);
		wake_up_all(&m->wq);
	} else {
		/* Pairs with the acquire in skv_mig_hash_resolved(). */
		smp_store_release(&pt->cursor, next);
	}
	return 0;
bad:
	skv_mig_fail(m, EPROTO, "malformed pull reply from the source");
	return -EPROTO;
}

static int skv_mig_worker_thread(void *arg)
{
	struct skv_mig_worker *w = arg;
	struct skv_mig *m = w->m;
	struct skv_mig_part *pt;
	int err;

	set_user_nice(current, SKV_MIG_WORKER_NICE);
	while (!skv_mig_stopping(m)) {
		pt = skv_mig_pick(m);
		if (!pt)
			break;	/* the rest is being pulled, or done */
		err = skv_mig_pull_part(w, pt);
		skv_mig_unpick(m, pt);
		if (err)
			break;
		cond_resched();
	}
	return 0;
}

/* ---- the priority puller ----------------------------------------------- */

/* Take up to SKV_MIG_PRIO_BATCH pending hashes not resolved meanwhile. */
static u32 skv_mig_prio_take(struct skv_mig *m)
{
	u32 i, n = 0, keep = 0;
	u64 h;

	spin_lock(&m->lock);
	for (i = 0; i < m->npending; i++) {
		h = m->pending[i];
		if (skv_mig_hash_resolved(m, h))
			continue;
		if (n < SKV_MIG_PRIO_BATCH)
			m->inflight_hashes[n++] = h;
		else
			m->pending[keep++] = h;
	}
	m->npending = keep;
	m->ninflight = n;
	spin_unlock(&m->lock);
	return n;
}

static int skv_mig_prio_pull(struct skv_mig_worker *w, u8 *req, u32 n)
{
	struct skv_mig *m = w->m;
	struct skv_store *s = skv_node_store(m->node);
	struct skv_prio_pull_req *pr = (struct skv_prio_pull_req *)req;
	const u32 rl = sizeof(struct skv_pull_reply);
	struct skv_replay_stats st = {};
	struct skv_peer *peer = &w->peer;
	u32 i, resolved, rtt;
	ktime_t t0;
	int ret;

	memset(pr, 0, sizeof(*pr));
	pr->migration_id = cpu_to_le64(m->p.id);
	pr->table_id = cpu_to_le64(m->p.table_id);
	pr->count = cpu_to_le16(n);
	for (i = 0; i < n; i++)
		put_unaligned_le64(m->inflight_hashes[i],
				   req + sizeof(*pr) + i * sizeof(__le64));

	t0 = ktime_get();
	ret = skv_mig_call(m, peer, SKV_OP_MIG_PRIORITY_PULL, req,
			   sizeof(*pr) + n * sizeof(__le64), NULL, 0,
			   SKV_MAX_BODY_LEN);
	if (ret == -ESHUTDOWN)
		return ret;
	if (ret < 0) {
		skv_mig_fail(m, -ret,
			     "priority pull: source connection lost (%d)", ret);
		return ret;
	}
	if (ret != SKV_S_OK) {
		skv_mig_fail(m, EREMOTEIO,
			     "the source answered %s to a priority pull",
			     skv_status_name(ret));
		return -EREMOTEIO;
	}
	if (peer->len < rl)
		goto bad;
	resolved = get_unaligned_le32(peer->buf + 8);
	if (resolved > n)
		goto bad;
	ret = skv_replay_batch(s, w->sl, peer->buf + rl, peer->len - rl, &st);
	if (ret == -ENOSPC) {
		skv_mig_fail(m, ENOSPC, "no memory left here to replay into");
		return ret;
	}
	if (ret) {
		skv_mig_fail(m, -ret, "bad priority batch from the source (%d)",
			     ret);
		return ret;
	}
	skv_mig_count(m, peer->len, &st);
	/* The retry hint: 7/8 of the old average plus 1/8 of this pull. */
	rtt = min_t(s64, ktime_us_delta(ktime_get(), t0), SKV_MIG_RETRY_US_MAX);
	WRITE_ONCE(m->prio_rtt_us, m->prio_rtt_us - m->prio_rtt_us / 8 + rtt / 8);
	atomic64_inc(&m->prio_pulls);
	atomic64_add(resolved, &m->prio_keys);

	/* After the replay: a resolved hash must find its records. */
	spin_lock(&m->lock);
	for (i = 0; i < resolved; i++)
		skv_mig_add_resolved(m, m->inflight_hashes[i]);
	/* The rest go back (unless the source made no progress at all). */
	for (i = resolved; resolved && i < n; i++)
		if (m->npending < SKV_MIG_PRIO_PENDING)
			m->pending[m->npending++] = m->inflight_hashes[i];
	m->ninflight = 0;
	spin_unlock(&m->lock);
	return 0;
bad:
	skv_mig_fail(m, EPROTO, "malformed priority pull reply");
	return -EPROTO;
}

static int skv_mig_prio_thread(void *arg)
{
	struct skv_mig_worker *w = arg;
	struct skv_mig *m = w->m;
	u8 *req;
	u32 n;

	req = kmalloc(sizeof(struct skv_prio_pull_req) +
		      SKV_MIG_PRIO_BATCH * sizeof(__le64), GFP_KERNEL);
	if (!req) {
		skv_mig_fail(m, ENOMEM, "out of memory");
		return 0;
	}
	while (!skv_mig_stopping(m)) {
		wait_event_interruptible_timeout(m->prio_wq,
						 READ_ONCE(m->npending) ||
						 skv_mig_stopping(m), HZ);
		if (skv_mig_stopping(m))
			break;
		n = skv_mig_prio_take(m);
		if (n && skv_mig_prio_pull(w, req, n))
			break;
	}
	kfree(req);
	return 0;
}

/* ---- starting and stopping the pulls ----------------------------------- */

static int skv_mig_worker_start(struct skv_mig *m, struct skv_mig_worker *w,
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
static void skv_mig_worker_stop(struct skv_mig *m, struct skv_mig_worker *w)
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

static void skv_mig_workers_stop(struct skv_mig *m)
{
	u32 i;

	for (i = 0; i < m->p.inflight; i++)
		skv_mig_worker_stop(m, &m->workers[i]);
	skv_mig_worker_stop(m, &m->prio_w);
}

/* Outcome of a pass of pulls. */
enum { SKV_PASS_DONE, SKV_PASS_FAILED, SKV_PASS_CANCELLED, SKV_PASS_STOPPED };

static bool skv_mig_pass_over(struct skv_mig *m)
{
	return atomic_read(&m->parts_done) == m->nparts ||
	       READ_ONCE(m->failing) || READ_ONCE(m->cancel) ||
	       skv_mig_stopping(m);
}

/*
 * Pull the whole range once (every partition from its start), with
 * priority pulls if asked.  Notifies progress at most every 100 ms.
 */
static int skv_mig_pass(struct skv_mig *m, bool prio)
{
	u32 i, n = min(m->p.inflight, m->nparts);
	u64 seen = 0, pulls;
	int err, ret;

	skv_mig_parts_reset(m);
	if (prio) {
		err = skv_mig_worker_start(m, &m->prio_w, skv_mig_prio_thread,
					   "prio", 0);
		if (err) {
			skv_mig_fail(m, -err,
				     "cannot start the priority puller (%d)",
				     err);
			return SKV_PASS_FAILED;
		}
	}
	for (i = 0; i < n; i++) {
		err = skv_mig_worker_start(m, &m->workers[i],
					   skv_mig_worker_thread, "pull", i);
		if (err) {
			skv_mig_fail(m, -err, "cannot start pull workers (%d)",
				     err);
			break;
		}
	}

	for (;;) {
		wait_event_interruptible_timeout(m->wq, skv_mig_pass_over(m),
						 SKV_MIG_NTF_INTERVAL);
		if (skv_mig_pass_over(m))
			break;
		pulls = atomic64_read(&m->pulls) + atomic64_read(&m->prio_pulls);
		if (pulls != seen &&
		    time_after_eq(jiffies, m->last_ntf + SKV_MIG_NTF_INTERVAL)) {
			seen = pulls;
			skv_tgt_announce(m);
		}
	}
	skv_mig_workers_stop(m);

	if (skv_mig_stopping(m))
		ret = SKV_PASS_STOPPED;
	else if (READ_ONCE(m->failing))
		ret = SKV_PASS_FAILED;
	else if (atomic_read(&m->parts_done) == m->nparts)
		ret = SKV_PASS_DONE;	/* a late cancel: too late to matter */
	else
		ret = SKV_PASS_CANCELLED;
	return ret;
}

/* ---- the controller ----------------------------------------------------- */

/* PREPARE.  0 with *safe, or a negative errno (the reason recorded). */
static int skv_mig_prepare(struct skv_mig *m, u32 flags, u64 *safe)
{
	struct skv_mig_range_req req;
	int ret;

	skv_mig_range_req(m, &req, flags);
	ret = skv_mig_call(m, &m->peer, SKV_OP_MIG_PREPARE, &req, sizeof(req),
			   NULL, 0, SKV_MAX_BODY_LEN);
	if (ret == -ESHUTDOWN)
		return ret;
	if (ret < 0) {
		skv_mig_set_err(m, -ret, false,
				"cannot reach the source (%d)", ret);
		return ret;
	}
	if (ret != SKV_S_OK) {
		skv_mig_set_err(m, ret == SKV_S_BUSY ? EBUSY : EREMOTEIO,
				false, "the source refused to prepare: %s",
				skv_status_name(ret));
		return -EREMOTEIO;
	}
	if (m->peer.len < sizeof(struct skv_mig_prepare_reply)) {
		skv_mig_set_err(m, EPROTO, false,
				"malformed prepare reply from the source");
		return -EPROTO;
	}
	*safe = get_unaligned_le64(m->peer.buf);
	return 0;
}

/* END (commit or abort).  0, or a negative errno. */
static int skv_mig_end(struct skv_mig *m, u32 flags)
{
	struct skv_mig_range_req req;
	int ret;

	skv_mig_range_req(m, &req, flags);
	ret = skv_mig_call(m, &m->peer, SKV_OP_MIG_END, &req, sizeof(req),
			   NULL, 0, SKV_MAX_BODY_LEN);
	if (ret == SKV_S_OK)
		return 0;
	return ret < 0 ? ret : -EREMOTEIO;
}

/*
 * Send the records written here (newer than the safe version) back to
 * the source.  The tablet is MIGRATING_OUT: nothing is written meanwhile.
 */
static int skv_mig_push_back(struct skv_mig *m)
{
	struct skv_store *s = skv_node_store(m->node);
	const u32 hl = sizeof(struct skv_mig_range_req);
	u32 cap = SKV_MAX_BODY_LEN - hl;
	struct skv_mig_range_req req;
	u64 cursor = m->p.start_hash, next = 0;
	bool done = false;
	long n;
	u8 *buf;
	int ret = 0;

	buf = kvmalloc(cap, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	skv_mig_range_req(m, &req, 0);
	while (!done) {
		n = skv_scan_serialize_since(s, m->p.table_id, m->p.start_hash,
					     m->p.end_hash, cursor,
					     m->safe_version, buf, cap, &next,
					     &done);
		if (n < 0) {
			ret = n;
			break;
		}
		if (n >= sizeof(struct skv_batch_hdr) &&
		    get_unaligned_le32(buf + offsetof(struct skv_batch_hdr,
						      count))) {
			ret = skv_mig_call(m, &m->peer, SKV_OP_MIG_PUSH_BACK,
					   &req, hl, buf, n, SKV_MAX_BODY_LEN);
			if (ret) {
				ret = ret < 0 ? ret : -EREMOTEIO;
				break;
			}
		}
		cursor = next;
		cond_resched();
	}
	kvfree(buf);
	return ret;
}

/* The migration ended: record it, free what only a running one needs. */
static void skv_mig_finish(struct skv_mig *m, u32 state)
{
	skv_mig_workers_stop(m);
	if (READ_ONCE(m->active))
		skv_mig_set_active(m, false);
	skv_peer_close(&m->peer);

	/* A refused end (a bug, warned about) still ends it, as failed. */
	if (skv_tgt_change_state(m, state))
		skv_tgt_change_state(m, STEADYKV_MIGRATION_STATE_FAILED);

	/* Nobody reads these once ended (and not active). */
	kvfree(m->resolved);
	m->resolved = NULL;
	kfree(m->pending);
	m->pending = NULL;
	kfree(m->parts);
	m->parts = NULL;
}

/*
 * Give the range back.  served: the tablet was served here
 * (MIGRATING_IN), so writes may have been accepted and go back first.
 */
static void skv_mig_rollback(struct skv_mig *m, bool served)
{
	bool cancelled = READ_ONCE(m->cancel) && !READ_ONCE(m->failing);
	int err;

	skv_tgt_change_state(m, STEADYKV_MIGRATION_STATE_ROLLING_BACK);
	skv_peer_close(&m->peer);	/* see skv_mig_run() */
	if (served) {
		/* Stops serving; waits for the writes in flight. */
		err = skv_mig_tablet(m, SKV_MIG_TABLET_SET,
				     SKV_TABLET_MIGRATING_OUT);
		if (err) {
			skv_mig_set_err(m, -err, true,
					"cannot stop serving the tablet (%d): tablet needs recovery",
					err);
			goto stuck;
		}
		skv_mig_set_active(m, false);
		err = skv_mig_push_back(m);
		if (err)
			goto unreachable;
	}
	err = skv_mig_end(m, SKV_MIG_F_ABORT);
	if (err)
		goto unreachable;
	err = skv_mig_tablet(m, SKV_MIG_TABLET_DEL, 0);
	if (err)
		skv_mig_set_err(m, -err, true,
				"range handed back, but deleting it here failed (%d)",
				err);
	skv_mig_finish(m, cancelled && !err ?
		       STEADYKV_MIGRATION_STATE_CANCELLED :
		       STEADYKV_MIGRATION_STATE_FAILED);
	return;

unreachable:
	if (err == -ESHUTDOWN)
		goto stopped;
	skv_mig_set_err(m, err == -EMSGSIZE ? EMSGSIZE : EHOSTUNREACH, true,
			err == -EMSGSIZE ?
			"a record is too big to push back: tablet needs recovery" :
			"source unreachable: tablet needs recovery");
	/* Keep serving what we have (nothing is resolved any more). */
	if (served)
		skv_mig_tablet(m, SKV_MIG_TABLET_SET, SKV_TABLET_MIGRATING_IN);
stuck:
	skv_mig_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
	return;
stopped:
	skv_mig_set_err(m, ESHUTDOWN, true, "stopped: node shutting down");
	skv_mig_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
}

/* After a pass: continue (0), or the migration ended here (1). */
static int skv_mig_after_pass(struct skv_mig *m, int pass, bool served)
{
	switch (pass) {
	case SKV_PASS_DONE:
		return 0;
	case SKV_PASS_STOPPED:
		skv_mig_set_err(m, ESHUTDOWN, true,
				"stopped: node shutting down");
		skv_mig_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
		return 1;
	default:
		skv_mig_rollback(m, served);
		return 1;
	}
}

static void skv_mig_run(struct skv_mig *m)
{
	bool push = m->p.mode == STEADYKV_MIGRATION_MODE_PUSH;
	struct skv_store *s = skv_node_store(m->node);
	u64 safe = 0;
	int err;

	skv_tgt_announce(m);	/* preparing, since its creation */
	err = skv_mig_prepare(m, push ? SKV_MIG_F_KEEP_OWNER : 0, &safe);
	if (err) {
		if (err == -ESHUTDOWN)
			skv_mig_set_err(m, ESHUTDOWN, true,
					"stopped: node shutting down");
		skv_mig_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
		return;
	}
	m->safe_version = safe;
	m->first_safe = safe;
	/*
	 * Idle through the pulls: reconnect for the next call rather than
	 * find a stale connection then (a dead source would cost an I/O
	 * timeout before the retries).
	 */
	skv_peer_close(&m->peer);
	if (READ_ONCE(m->cancel)) {
		/* Nothing here yet: just hand the range back. */
		err = skv_mig_end(m, SKV_MIG_F_ABORT);
		if (err)
			skv_mig_set_err(m, EHOSTUNREACH, true,
					"cancelled, but the source did not take the range back (%d)",
					err);
		skv_mig_finish(m, err ? STEADYKV_MIGRATION_STATE_FAILED :
			       STEADYKV_MIGRATION_STATE_CANCELLED);
		return;
	}

	/* Every write accepted here from now on is newer than the source's. */
	if (!push) {
		skv_store_raise_version(s, safe);
		/* Before the tablet exists: the resolver covers it at once. */
		skv_mig_set_active(m, true);
	}
	err = skv_mig_tablet(m, SKV_MIG_TABLET_ADD,
			     push ? SKV_TABLET_RECOVERING :
			     SKV_TABLET_MIGRATING_IN);
	if (err) {
		skv_mig_set_err(m, -err, false,
				"cannot add the tablet here (%d)", err);
		if (!push)
			skv_mig_set_active(m, false);
		skv_mig_end(m, SKV_MIG_F_ABORT);
		skv_mig_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
		return;
	}
	if (!push)
		m->owned_us = ktime_us_delta(ktime_get(), m->t_start);
	skv_tgt_change_state(m, STEADYKV_MIGRATION_STATE_PULLING);

	if (skv_mig_after_pass(m, skv_mig_pass(m, !push && m->p.prio), !push))
		return;

	if (push) {
		/* Freeze the range at the source; copy what changed since. */
		err = skv_mig_prepare(m, 0, &safe);
		if (err) {
			skv_mig_fail(m, -err, "second prepare failed (%d)", err);
			skv_mig_after_pass(m, err == -ESHUTDOWN ?
					   SKV_PASS_STOPPED : SKV_PASS_FAILED,
					   false);
			return;
		}
		skv_store_raise_version(s, safe);
		m->safe_version = safe;
		m->min_version = m->first_safe;
		skv_tgt_change_state(m, STEADYKV_MIGRATION_STATE_CATCHING_UP);
		if (skv_mig_after_pass(m, skv_mig_pass(m, false), false))
			return;
		err = skv_mig_tablet(m, SKV_MIG_TABLET_SET, SKV_TABLET_NORMAL);
		m->owned_us = ktime_us_delta(ktime_get(), m->t_start);
		if (err) {
			skv_mig_fail(m, -err, "cannot set the tablet normal (%d)",
				     err);
			skv_mig_rollback(m, false);
			return;
		}
		err = skv_mig_end(m, 0);
	} else {
		err = skv_mig_end(m, 0);
		skv_mig_tablet(m, SKV_MIG_TABLET_SET, SKV_TABLET_NORMAL);
	}
	/* Every record is here and served: done, even if END got lost. */
	if (err)
		skv_mig_set_err(m, 0, true,
				"the source did not acknowledge the end (%d): it may still hold its copy",
				err);
	skv_mig_finish(m, STEADYKV_MIGRATION_STATE_DONE);
}

static int skv_mig_thread(void *arg)
{
	struct skv_mig *m = arg;

	skv_mig_run(m);
	/* kthread_stop() (prune or namespace exit) reaps us. */
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void skv_mig_free(struct skv_mig *m)
{
	if (m->task) {
		kthread_stop(m->task);
		put_task_struct(m->task);
	}
	skv_peer_destroy(&m->peer);
	kvfree(m->resolved);
	kfree(m->pending);
	kfree(m->parts);
	kfree(m->workers);
	mutex_destroy(&m->part_lock);
	kfree(m);
}

void skv_mig_node_init(struct skv_node *node)
{
	INIT_LIST_HEAD(&node->migs);
}

struct skv_mig *skv_mig_find(struct skv_node *node, u64 id)
{
	struct skv_mig *m;

	lockdep_assert_held(&node->lock);
	list_for_each_entry(m, &node->migs, list)
		if (m->p.id == id)
			return m;
	return NULL;
}

/* Drop the oldest ended migrations past SKV_MIG_KEEP_ENDED. */
static void skv_mig_prune(struct skv_node *node)
{
	struct skv_mig *m, *tmp;
	LIST_HEAD(gone);

	lockdep_assert_held(&node->lock);
	list_for_each_entry_safe_reverse(m, tmp, &node->migs, list) {
		if (node->migs_ended <= SKV_MIG_KEEP_ENDED)
			break;
		if (!m->ended)
			continue;
		list_del_rcu(&m->list);
		list_add(&m->list, &gone);
		node->migs_ended--;
	}
	if (list_empty(&gone))
		return;
	synchronize_rcu();
	list_for_each_entry_safe(m, tmp, &gone, list)
		skv_mig_free(m);
}

static bool skv_mig_overlaps_tablet(struct skv_store *s,
				    const struct skv_mig_params *p)
{
	struct skv_tablet_info *ts;
	bool hit = false;
	u32 pos = 0;
	int n, i;

	ts = kmalloc_array(32, sizeof(*ts), GFP_KERNEL);
	if (!ts)
		return true;	/* cannot tell: refuse */
	while (!hit && (n = skv_tablets_list(s, pos, ts, 32)) > 0) {
		for (i = 0; i < n; i++)
			if (ts[i].table_id == p->table_id &&
			    ts[i].start_hash <= p->end_hash &&
			    ts[i].end_hash >= p->start_hash)
				hit = true;
		pos += n;
	}
	kfree(ts);
	return hit;
}

int skv_mig_start(struct skv_node *node, const struct skv_mig_params *p,
		  struct netlink_ext_ack *extack)
{
	struct task_struct *task;
	struct skv_store *s;
	struct skv_mig *m, *o;
	u64 span;
	int err;

	lockdep_assert_held(&node->lock);
	if (node->dying)
		return -ENODEV;
	err = skv_node_store_get(node, extack, &s);
	if (err)
		return err;
	if (skv_mig_find(node, p->id)) {
		NL_SET_ERR_MSG_MOD(extack, "a migration with this id exists");
		return -EEXIST;
	}
	if (node->migs_running >= SKV_MIG_MAX_RUNNING) {
		NL_SET_ERR_MSG_MOD(extack, "too many migrations in progress");
		return -EBUSY;
	}
	list_for_each_entry(o, &node->migs, list) {
		if (!o->ended && o->p.table_id == p->table_id &&
		    o->p.start_hash <= p->end_hash &&
		    o->p.end_hash >= p->start_hash) {
			NL_SET_ERR_MSG_FMT_MOD(extack,
					       "the range overlaps migration %llu in progress",
					       o->p.id);
			return -EBUSY;
		}
	}
	if (skv_mig_overlaps_tablet(s, p)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "the range overlaps a tablet of this node");
		return -EBUSY;
	}

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		goto nomem;
	m->node = node;
	m->p = *p;
	spin_lock_init(&m->lock);
	mutex_init(&m->part_lock);
	init_waitqueue_head(&m->wq);
	init_waitqueue_head(&m->prio_wq);
	m->state = STEADYKV_MIGRATION_STATE_PREPARING;
	m->t_start = ktime_get();
	m->last_ntf = jiffies;
	skv_peer_init(&m->peer, node->net, p->addr, p->addr_len, p->port);

	/* No more partitions than hashes in the range. */
	span = p->end_hash - p->start_hash;
	m->nparts = span < p->partitions - 1 ? (u32)span + 1 : p->partitions;
	m->parts = kcalloc(m->nparts, sizeof(*m->parts), GFP_KERNEL);
	m->workers = kcalloc(p->inflight, sizeof(*m->workers), GFP_KERNEL);
	if (!m->parts || !m->workers)
		goto err_free;
	skv_mig_parts_reset(m);
	if (p->prio && p->mode == STEADYKV_MIGRATION_MODE_ROCKSTEADY) {
		m->pending = kcalloc(SKV_MIG_PRIO_PENDING, sizeof(u64),
				     GFP_KERNEL);
		m->resolved_slots = SKV_MIG_RESOLVED_SLOTS;
		m->resolved = kvcalloc(m->resolved_slots, sizeof(u64),
				       GFP_KERNEL);
		if (!m->pending || !m->resolved)
			goto err_free;
	}

	if (!node->mig_resolver) {
		skv_store_set_resolver(s, skv_mig_resolved, node);
		node->mig_resolver = true;
	}

	task = kthread_create(skv_mig_thread, m, "skv-mig%llu", p->id);
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		NL_SET_ERR_MSG_MOD(extack, "cannot start the migration thread");
		goto err_free_err;
	}
	m->task = get_task_struct(task);
	list_add_rcu(&m->list, &node->migs);
	node->migs_running++;
	wake_up_process(task);
	skv_mig_prune(node);
	return 0;

nomem:
	NL_SET_ERR_MSG_MOD(extack, "out of memory");
	return -ENOMEM;
err_free:
	err = -ENOMEM;
	NL_SET_ERR_MSG_MOD(extack, "out of memory");
err_free_err:
	skv_mig_free(m);
	return err;
}

int skv_mig_cancel(struct skv_mig *m)
{
	if (READ_ONCE(m->ended))
		return -EALREADY;
	WRITE_ONCE(m->cancel, true);
	wake_up_all(&m->wq);
	return 0;
}

void skv_migs_stop(struct skv_node *node)
{
	struct skv_store *s = skv_node_store(node);
	struct skv_mig *m, *tmp;

	mutex_lock(&node->lock);
	list_for_each_entry(m, &node->migs, list) {
		WRITE_ONCE(m->abandon, true);
		skv_peer_shutdown(&m->peer);
		wake_up_all(&m->wq);
		wake_up_all(&m->prio_wq);
	}
	mutex_unlock(&node->lock);

	/*
	 * Controllers take node->lock to end: stop them without it.  No one
	 * else changes the list during the namespace exit.
	 */
	list_for_each_entry(m, &node->migs, list) {
		kthread_stop(m->task);
		put_task_struct(m->task);
		m->task = NULL;
	}
	if (s && node->mig_resolver) {
		skv_store_set_resolver(s, NULL, NULL);
		node->mig_resolver = false;
	}
	list_for_each_entry_safe(m, tmp, &node->migs, list) {
		list_del_rcu(&m->list);
		skv_mig_free(m);
	}
	node->migs_running = 0;
	node->migs_ended = 0;
}
