// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration, target side: the engine that pulls a tablet from
 * its source (Rocksteady, SOSP'17), driven by netlink migrate-start.
 *
 * Each migration has a controller thread running its state machine:
 *
 *   preparing -> pulling -> re-replicating -> done     (rocksteady)
 *   preparing -> pulling -> catching-up -> re-replicating -> done   (push)
 *   preparing -> pulling -> done          (the replicated baseline)
 *   preparing -> failed                  (nothing changed anywhere)
 *   pulling -> rolling-back -> cancelled | failed      (cancel, error)
 *   re-replicating -> failed          (backups lost: the range stays)
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
 * connections (nice 0) win the CPU whenever both want it.
 *
 * The store asks our resolver (atomic context) whether a key of the
 * MIGRATING_IN tablet has arrived: yes if its partition's replayed cursor
 * passed it, the partition is done, or a priority pull resolved it.  A
 * client asking for an unresolved key gets RETRY and its hash goes to the
 * priority pullers (skv_tgt_want_key(); mig_prio_pullers of them), each
 * of which batches up to 64 hashes in one PRIORITY_PULL at a time,
 * replays the answer, then marks the hashes resolved; a key the source
 * has nothing of is thus resolved (NOT_FOUND) promptly.
 *
 * Before END (both modes), the target hands every record of the range
 * to its backups (skv_tgt_rereplicate(): migrated records were replayed
 * here, not replicated; every key is served meanwhile, and the copy goes
 * behind client writes), so the source frees its copy only once the
 * range survives a crash of this node; if the backups do not take it,
 * the migration fails with the range kept here and no END sent.
 *
 * Failure after ownership moved, or cancel: the tablet goes MIGRATING_OUT
 * here (not served; the store waits for writes in flight), the records
 * written here (version above the safe version) go back with PUSH_BACK,
 * END with ABORT hands the range back, and the tablet is deleted here.
 * A push-back the source refuses (NO_SPACE, BUSY, ...) or does not
 * answer is retried with the range frozen here for up to mig_retry_ms
 * (a module parameter); so is an END whose reply never came (the source
 * may have served the range again since: this node must not).  Past that
 * the migration fails with the range frozen here and the error EUCLEAN
 * (needs recovery): nothing is lost, no two nodes serve it, and keys
 * never pulled are not read as absent here.  The controller then stays,
 * the migration frozen, for the coordinator's decision: with both nodes
 * up it sends abort (migrate-decide, skv_tgt_release()), and the hand-back
 * is tried again; once the source serves the range the migration's error
 * is EREMOTE.  A source that died is noticed by the coordinator, which
 * has the range completed here (lineage, below).
 * Every op carries the migration's epoch (the node's when it started).
 * A PREPARE that the source may have applied but never answered is
 * undone with an END abort, so the range is not left frozen there.
 *
 * Namespace exit (and rmmod) stops every migration where it is: threads
 * stopped after their sockets are shut down, tablets left as they are.
 *
 * Lineage: if the source dies after ownership moved, the coordinator has
 * the range recovered here (recovery.c): skv_tgt_source_lost() makes the
 * migration stop without END and leave the tablet to the recovery, which
 * replays the source's replica over what is here and serves the range.
 *
 * This file: the controller (the state machine), the calls to the source
 * and the lifecycle.  mig_target_resolve.c holds the partitions, the
 * resolved set and the resolver; mig_target_pull.c the pull workers and
 * the priority pullers.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/rculist.h>
#include <linux/unaligned.h>
#include <net/netlink.h>
#include <uapi/linux/steadykv.h>
#include <steadykv/migration.h>

#include "node.h"
#include "mig_target.h"
#include "mig_source.h"
#include "peer.h"
#include "log.h"
#include "record.h"
#include "replay.h"
#include "trace.h"
#include "scan.h"
#include "mig_target_int.h"
#include "repl_primary.h"
#include "faults.h"

/* Slots of the resolved set (u64 each); at most 3/4 are used. */
#define SKV_MIG_RESOLVED_SLOTS	16384

/* Reconnect attempts of a failed call, and the pause before each. */
static const unsigned int skv_tgt_backoff_ms[] = { 0, 100, 400, 1600 };

/*
 * The pause between tries of the re-replication before END, doubling:
 * a backup that died is replaced only once the control plane declares it
 * dead (seconds), and failing the migration then would leave the range
 * needing recovery with every record here.
 */
#define SKV_MIG_REREPL_PAUSE_MIN_MS	250u
#define SKV_MIG_REREPL_PAUSE_MAX_MS	4000u

const char *skv_tgt_status_name(int st)
{
	const struct skv_status_info *si = st >= 0 ? skv_status_info(st) : NULL;

	return si ? si->name : "?";
}

/* How many of the first len bytes of s are printable ASCII (for %.*s). */
static int skv_tgt_printable(const u8 *s, u32 len)
{
	u32 i;

	len = min(len, 120u);
	for (i = 0; i < len && s[i] >= 0x20 && s[i] < 0x7f; i++)
		;
	return i;
}

/* Record the first error (or, with force, this one). */
static __printf(4, 5)
void skv_tgt_set_err(struct skv_mig *m, int err, bool force,
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
void skv_tgt_fail(struct skv_mig *m, int err, const char *fmt, ...)
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
bool skv_tgt_stopping(struct skv_mig *m)
{
	if (kthread_should_stop() || READ_ONCE(m->abandon) ||
	    READ_ONCE(m->source_lost))
		return true;
	/* Workers also stop on a failure; the controller handles it. */
	return current != m->task && READ_ONCE(m->failing);
}

/* Sleep ms unless told to stop; true if told to stop. */
static bool skv_tgt_nap(struct skv_mig *m, unsigned int ms)
{
	wait_event_interruptible_timeout(m->wq, skv_tgt_stopping(m),
					 msecs_to_jiffies(ms));
	return skv_tgt_stopping(m);
}

/* The migration's reason now, kept over a retry's own message. */
struct skv_tgt_reason {
	int err;
	char why[sizeof(((struct skv_mig *)NULL)->errmsg)];
};

static void skv_tgt_reason_save(struct skv_mig *m, struct skv_tgt_reason *r)
{
	spin_lock(&m->lock);
	r->err = m->err;
	strscpy(r->why, m->errmsg, sizeof(r->why));
	spin_unlock(&m->lock);
}

/* The retry went through: the reason before it stands again. */
static void skv_tgt_reason_restore(struct skv_mig *m,
				   const struct skv_tgt_reason *r)
{
	skv_tgt_set_err(m, r->err, true, "%s", r->why);
	skv_tgt_announce(m);
}

/* Record why the migration stops without END (see skv_tgt_stopping()). */
static void skv_tgt_set_stopped(struct skv_mig *m)
{
	if (READ_ONCE(m->source_lost))
		skv_tgt_set_err(m, ECANCELED, true,
				"stopped: the source died; the range is recovered here from its replicas");
	else
		skv_tgt_set_err(m, ESHUTDOWN, true,
				"stopped: node shutting down");
}

/*
 * A call with reconnects: a lost connection is retried a few times with
 * backoff (every migration op can be repeated: pulls resume from their
 * cursor, replays and push-backs skip what they already have).  Returns
 * the reply status, or a negative errno.
 */
int skv_tgt_call(struct skv_mig *m, struct skv_peer *peer, u8 op,
			const void *head, u32 head_len, const void *tail,
			u32 tail_len, u32 max_body)
{
	int ret = -ESHUTDOWN;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(skv_tgt_backoff_ms); i++) {
		if (i && skv_tgt_nap(m, skv_tgt_backoff_ms[i]))
			return -ESHUTDOWN;
		if (skv_tgt_stopping(m))
			return -ESHUTDOWN;
		ret = skv_peer_call(peer, op, head, head_len, tail, tail_len,
				    max_body);
		if (ret >= 0 || ret == -ESHUTDOWN || ret == -ENOMEM ||
		    ret == -EPROTO || ret == -EKEYREJECTED || ret == -ENOKEY)
			return ret;
	}
	return ret;
}

static void skv_tgt_range_req(struct skv_mig *m, struct skv_mig_range_req *r,
			      u32 flags)
{
	memset(r, 0, sizeof(*r));
	r->migration_id = cpu_to_le64(m->p.id);
	r->table_id = cpu_to_le64(m->p.table_id);
	r->start_hash = cpu_to_le64(m->p.start_hash);
	r->end_hash = cpu_to_le64(m->p.end_hash);
	r->flags = cpu_to_le32(flags);
	r->epoch = cpu_to_le32(m->epoch);
}

/* ---- state changes ----------------------------------------------------- */

/* Tell the events group where m is (and when it last did). */
void skv_tgt_announce(struct skv_mig *m)
{
	m->last_ntf = jiffies;
	skv_tgt_notify(m);
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
		m->end_permille = skv_tgt_permille(m);
		m->elapsed_us = ktime_us_delta(ktime_get(), m->t_start);
	}
	trace_skv_mig_phase(m->p.id, m->state, state);
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

#define SKV_MIG_TABLET_ADD	0
#define SKV_MIG_TABLET_SET	1
#define SKV_MIG_TABLET_DEL	2

/* A tablet change here, under node->lock (ordered with netlink's). */
static int skv_tgt_tablet(struct skv_mig *m, int op, u32 state)
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
	/* Recovery took the tablet (skv_tgt_source_lost()): hands off. */
	if (m->source_lost) {
		mutex_unlock(&node->lock);
		return -ESTALE;
	}
	/* Every change copies the map (and a delete queues a departure). */
	if (should_fail(&skv_fail_tgt_tablet, 1)) {
		mutex_unlock(&node->lock);
		return -ENOMEM;
	}
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
		err = skv_repl_tablet_del(node, s, t.table_id,
					  t.start_hash, t.end_hash);
		break;
	}
	if (!err) {
		node->map_gen++;
		trace_skv_ownership(m->p.id, t.table_id, t.start_hash, t.end_hash,
				    op == SKV_MIG_TABLET_DEL ? SKV_TRACE_TABLET_GONE : state);
	}
	mutex_unlock(&node->lock);
	return err;
}

/*
 * A tablet change the migration cannot go without: stop serving before a
 * hand-back, delete after it, serve once every record is here.  Only
 * memory fails it (the copy of the map, a departure record), and giving
 * up would leave the range frozen at both nodes, served by neither, or a
 * dead entry here that refuses the range's next migration: try again
 * until it goes through or the migration is told to stop (-ESHUTDOWN).
 */
static int skv_tgt_tablet_must(struct skv_mig *m, int op, u32 state)
{
	struct skv_tgt_reason before;
	unsigned int ms = 10;
	int err;

	err = skv_tgt_tablet(m, op, state);
	if (err != -ENOMEM)
		return err;
	skv_tgt_reason_save(m, &before);
	skv_tgt_set_err(m, ENOMEM, true,
			"no memory to change the tablet map here, retrying");
	skv_tgt_announce(m);
	pr_warn("steadykv: migration %llu: no memory to change the tablet map, retrying\n",
		m->p.id);
	do {
		if (skv_tgt_nap(m, ms))
			return -ESHUTDOWN;
		ms = min(ms * 2, 1000u);
		err = skv_tgt_tablet(m, op, state);
	} while (err == -ENOMEM);
	skv_tgt_reason_restore(m, &before);
	return err;
}

/* ---- the controller ----------------------------------------------------- */

/* PREPARE.  0 with *safe, or a negative errno (the reason recorded). */
static int skv_tgt_prepare(struct skv_mig *m, u32 flags, u64 *safe)
{
	struct skv_mig_range_req req;
	int ret;

	skv_tgt_range_req(m, &req, flags);
	ret = skv_tgt_call(m, &m->peer, SKV_OP_MIG_PREPARE, &req, sizeof(req),
			   NULL, 0, SKV_MAX_BODY_LEN);
	if (ret == -ESHUTDOWN)
		return ret;
	if (ret == -EKEYREJECTED || ret == -ENOKEY) {
		skv_tgt_set_err(m, -ret, false, ret == -ENOKEY ?
				"no cluster key on this node" :
				"the source refused authentication (cluster keys differ)");
		return ret;
	}
	if (ret < 0) {
		skv_tgt_set_err(m, -ret, false,
				"cannot reach the source (%d)", ret);
		return ret;
	}
	if (ret != SKV_S_OK) {
		/* A BUSY says why (wire.h); printable text only. */
		skv_tgt_set_err(m, ret == SKV_S_BUSY ? EBUSY : EREMOTEIO,
				false, "the source refused to prepare: %s%s%.*s",
				skv_tgt_status_name(ret),
				m->peer.len ? ": " : "",
				skv_tgt_printable(m->peer.buf, m->peer.len),
				m->peer.buf);
		return -EREMOTEIO;
	}
	if (m->peer.len < sizeof(struct skv_mig_prepare_reply)) {
		skv_tgt_set_err(m, EPROTO, false,
				"malformed prepare reply from the source");
		return -EPROTO;
	}
	*safe = get_unaligned_le64(m->peer.buf);
	/* Our counter is raised to it: it must leave room for our writes. */
	if (*safe > SKV_VERSION_MAX) {
		skv_tgt_set_err(m, ERANGE, false,
				"the source's safe version %llu is past the version ceiling",
				*safe);
		return -ERANGE;
	}
	return 0;
}

/* END with ABORT: the reply's status, or a negative errno. */
static int skv_tgt_end_abort(struct skv_mig *m)
{
	struct skv_mig_range_req req;

	skv_tgt_range_req(m, &req, SKV_MIG_F_ABORT);
	return skv_tgt_call(m, &m->peer, SKV_OP_MIG_END, &req, sizeof(req),
			    NULL, 0, SKV_MAX_BODY_LEN);
}

/*
 * A PREPARE whose answer never came (or came malformed) may have frozen
 * the range at the source: hand it back there.  NO_MIGRATION says it
 * never arrived.  If the source cannot be reached, the range may stay
 * frozen there until the coordinator ends the migration at the source.
 */
static int skv_tgt_end_call(struct skv_mig *m, u32 flags);

static void skv_tgt_undo_prepare(struct skv_mig *m)
{
	int ret = skv_tgt_end_call(m, SKV_MIG_F_ABORT);

	if (ret < 0)
		skv_tgt_set_err(m, EHOSTUNREACH, true,
				"no answer to prepare nor to its abort: the source may hold the range frozen until the coordinator ends the migration there");
}

/*
 * END (flags: commit or abort), sent again for mig_retry_ms while the
 * source answers NO_SPACE (no memory for its map; it may have later).
 * The reply status, or a negative errno.
 */
static int skv_tgt_end_call(struct skv_mig *m, u32 flags)
{
	unsigned long deadline = jiffies +
				 msecs_to_jiffies(READ_ONCE(skv_mig_retry_ms));
	struct skv_mig_range_req req;
	unsigned int ms = 10;
	int ret;

	skv_tgt_range_req(m, &req, flags);
	for (;;) {
		ret = skv_tgt_call(m, &m->peer, SKV_OP_MIG_END, &req,
				   sizeof(req), NULL, 0, SKV_MAX_BODY_LEN);
		if (ret != SKV_S_NO_SPACE || time_after(jiffies, deadline))
			return ret;
		if (skv_tgt_nap(m, ms))
			return -ESHUTDOWN;
		ms = min(ms * 2, 1000u);
	}
}

/* END (commit or abort).  0, or a negative errno. */
static int skv_tgt_end(struct skv_mig *m, u32 flags)
{
	int ret = skv_tgt_end_call(m, flags);

	if (ret == SKV_S_OK)
		return 0;
	return ret < 0 ? ret : -EREMOTEIO;
}

/*
 * Send the records written here (newer than the safe version) back to
 * the source.  The tablet is MIGRATING_OUT: nothing is written meanwhile,
 * so none of them is newer than our counter now, which bounds them.
 * 0, a refusal's status (positive), or a negative errno.
 */
static int skv_tgt_push_back(struct skv_mig *m)
{
	struct skv_store *s = skv_node_store(m->node);
	const u32 hl = sizeof(struct skv_push_back_req);
	u32 cap = SKV_MAX_BODY_LEN - hl;
	struct skv_push_back_req req;
	u64 cursor = m->p.start_hash, next = 0;
	bool done = false;
	long n;
	u8 *buf;
	int ret = 0;

	buf = kvmalloc(cap, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	skv_tgt_range_req(m, &req.range, 0);
	req.max_version = cpu_to_le64(skv_store_version(s));
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
			ret = skv_tgt_call(m, &m->peer, SKV_OP_MIG_PUSH_BACK,
					   &req, hl, buf, n, SKV_MAX_BODY_LEN);
			if (ret)
				break;
		}
		cursor = next;
		cond_resched();
	}
	kvfree(buf);
	return ret;
}

/* The migration ended: record it, free what only a running one needs. */
static void skv_tgt_finish(struct skv_mig *m, u32 state)
{
	skv_tgt_workers_stop(m);
	if (READ_ONCE(m->active))
		skv_tgt_set_active(m, false);
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
 * Repeat step (the push-back, or the END abort) while it fails with a
 * status in retry (a bit per status) or, with lost, a lost connection,
 * until deadline (jiffies).  Every step may be repeated (wire.h).  0,
 * or what the last try returned.
 */
static int skv_tgt_retry(struct skv_mig *m, int (*step)(struct skv_mig *m),
			 u32 retry, bool lost, unsigned long deadline)
{
	struct skv_tgt_reason before;
	unsigned int ms = 100;
	bool retried = false;
	int ret;

	for (;;) {
		ret = step(m);
		if (!ret && retried)
			skv_tgt_reason_restore(m, &before);
		if (!ret || ret == -ESHUTDOWN || ret == -EMSGSIZE)
			return ret;
		if (ret > 0 ? !(retry & BIT(ret)) : !lost)
			return ret;
		if (!retried)
			skv_tgt_reason_save(m, &before);
		retried = true;
		skv_tgt_set_err(m, ret > 0 ? EREMOTEIO : -ret, true,
				"rolling back, the range frozen here: %s%s, retrying",
				ret > 0 ? "the source answered " : "no answer from the source",
				ret > 0 ? skv_tgt_status_name(ret) : "");
		skv_tgt_announce(m);
		if (time_after(jiffies, deadline))
			return ret;
		if (skv_tgt_nap(m, ms))
			return -ESHUTDOWN;
		ms = min(ms * 2, 2000u);
	}
}

/* Statuses of a source that may take the push-back later. */
#define SKV_TGT_PUSH_RETRY \
	(BIT(SKV_S_NO_SPACE) | BIT(SKV_S_BUSY) | BIT(SKV_S_RETRY) | \
	 BIT(SKV_S_INTERNAL))

/*
 * Hand the range back to the source: stop serving it here (waiting for
 * the writes in flight), push back the records written here (served:
 * the tablet was served, so writes may have been accepted), END with
 * ABORT.  A refusal or no answer is retried for mig_retry_ms with the
 * range frozen at both nodes, never served here again with keys not
 * pulled reading as absent.  0 (the source serves the range again; 1 if
 * then deleting the tablet here failed, recorded), or a negative errno
 * with *why set: -ESHUTDOWN (told to stop), -ESTALE
 * (recovery took the tablet), -EUCLEAN (frozen at both: *why and the
 * status in *status say why), -EHOSTUNREACH (nothing was served here:
 * the range is only at the source).
 */
static int skv_tgt_hand_back(struct skv_mig *m, bool served,
			     const char **why, int *status)
{
	unsigned long deadline;
	int err;

	*status = 0;
	if (served) {
		/* Stops serving; waits for the writes in flight. */
		err = skv_tgt_tablet_must(m, SKV_MIG_TABLET_SET,
					  SKV_TABLET_MIGRATING_OUT);
		if (err == -ESTALE || err == -ESHUTDOWN)
			return err;
		if (err) {
			*why = "cannot stop serving the tablet";
			return -EUCLEAN;
		}
	}
	/* From now: stopping to serve may have waited for memory. */
	deadline = jiffies + msecs_to_jiffies(READ_ONCE(skv_mig_retry_ms));
	if (served) {
		if (READ_ONCE(m->active))
			skv_tgt_set_active(m, false);
		err = skv_tgt_retry(m, skv_tgt_push_back, SKV_TGT_PUSH_RETRY,
				    true, deadline);
		if (err == -ESHUTDOWN)
			return err;
		if (err) {
			*status = max(err, 0);
			*why = err > 0 ? "the source refused the push-back: " :
			       err == -EMSGSIZE ? "a record too big to push back" :
			       "the source did not answer the push-back";
			return -EUCLEAN;
		}
	}
	/* The source may have served the range again: never serve it here. */
	err = skv_tgt_retry(m, skv_tgt_end_abort, BIT(SKV_S_NO_SPACE), served,
			    deadline);
	if (err == -ESHUTDOWN)
		return err;
	if (err && served) {
		*status = max(err, 0);
		*why = err > 0 ? "the source refused the end: " :
		       "the source did not confirm the end";
		return -EUCLEAN;
	}
	if (err) {
		*why = "source unreachable: the range stays frozen there until the coordinator's decision";
		return -EHOSTUNREACH;
	}
	err = skv_tgt_tablet_must(m, SKV_MIG_TABLET_DEL, 0);
	if (err)
		skv_tgt_set_err(m, -err, true,
				"range handed back, but deleting it here failed (%d)",
				err);
	return err ? 1 : 0;
}

/* Frozen at both nodes (EUCLEAN): why, and the source's status if any. */
static void skv_tgt_set_frozen(struct skv_mig *m, const char *why, int status)
{
	skv_tgt_set_err(m, EUCLEAN, true,
			"%s%s: the range stays frozen here and at the source, nothing lost: tablet needs recovery",
			why, status ? skv_tgt_status_name(status) : "");
	/*
	 * EUCLEAN: the coordinator keeps this node the owner and its
	 * lineage record, and decides (skv_tgt_release()).
	 */
	WRITE_ONCE(m->frozen, true);
}

/*
 * Give the range back.  served: the tablet was served here
 * (MIGRATING_IN), so writes may have been accepted and go back first.
 */
static void skv_tgt_rollback(struct skv_mig *m, bool served)
{
	bool cancelled = READ_ONCE(m->cancel) && !READ_ONCE(m->failing);
	const char *why = "";
	int err, status;

	skv_tgt_change_state(m, STEADYKV_MIGRATION_STATE_ROLLING_BACK);
	skv_peer_close(&m->peer);	/* see skv_tgt_run() */
	err = skv_tgt_hand_back(m, served, &why, &status);
	switch (err) {
	case 0:
	case 1:
		break;
	case -ESHUTDOWN:
	case -ESTALE:		/* recovery took the tablet */
		skv_tgt_set_stopped(m);
		break;
	case -EUCLEAN:
		skv_tgt_set_frozen(m, why, status);
		break;
	default:
		skv_tgt_set_err(m, -err, true, "%s", why);
		break;
	}
	skv_tgt_finish(m, cancelled && !err ?
		       STEADYKV_MIGRATION_STATE_CANCELLED :
		       STEADYKV_MIGRATION_STATE_FAILED);
}

/* After a pass: continue (0), or the migration ended here (1). */
static int skv_tgt_after_pass(struct skv_mig *m, int pass, bool served)
{
	switch (pass) {
	case SKV_PASS_DONE:
		return 0;
	case SKV_PASS_STOPPED:
		skv_tgt_set_stopped(m);
		skv_tgt_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
		return 1;
	default:
		skv_tgt_rollback(m, served);
		return 1;
	}
}

/*
 * Every record of the range is here, none of the migrated ones in this
 * node's replication stream (replays are not replicated): hand them to
 * the backups before END lets the source free its copy, or a crash of
 * this node would lose every key not rewritten here.  Client writes go
 * on meanwhile (replay keeps the newest version).  A failure (the
 * coordinator may be switching backups) is retried for up to
 * mig_retry_ms; then the migration fails with the range kept here
 * and no END sent, so the source keeps its copy and the coordinator its
 * lineage record (EUCLEAN: needs recovery).  0, or 1 if the migration ended here.
 */
static int skv_tgt_rereplicate(struct skv_mig *m)
{
	struct skv_store *s = skv_node_store(m->node);
	unsigned long give_up = jiffies +
				msecs_to_jiffies(READ_ONCE(skv_mig_retry_ms));
	u64 t0 = ktime_get_ns(), bytes = 0;
	unsigned int i, pause = 0;
	int err = 0;

	skv_tgt_change_state(m, STEADYKV_MIGRATION_STATE_RE_REPLICATING);
	for (i = 0; ; i++) {
		if (pause && skv_tgt_nap(m, pause))
			break;
		if (skv_tgt_stopping(m))
			break;
		err = skv_repl_hold_range(m->node, s, SKV_REPL_BEHIND_WRITES,
					  m->p.table_id, m->p.start_hash,
					  m->p.end_hash, &bytes);
		/* Namespace exit drops the backups first: nothing is held. */
		if (READ_ONCE(m->node->dying)) {
			err = -ESHUTDOWN;
			break;
		}
		if (!err) {
			pr_info("steadykv: migration %llu: re-replicated %llu bytes of the range to the backups in %llu ms\n",
				m->p.id, bytes,
				div_u64(ktime_get_ns() - t0, NSEC_PER_MSEC));
			return 0;
		}
		pr_warn("steadykv: migration %llu: re-replication try %u failed (%d)\n",
			m->p.id, i + 1, err);
		if ((err != -EAGAIN && err != -ETIMEDOUT) ||
		    time_after(jiffies, give_up))
			break;
		pause = clamp(pause * 2, SKV_MIG_REREPL_PAUSE_MIN_MS,
			      SKV_MIG_REREPL_PAUSE_MAX_MS);
	}
	if (err == -ESHUTDOWN || skv_tgt_stopping(m)) {
		skv_tgt_set_stopped(m);
	} else {
		skv_tgt_set_err(m, EUCLEAN, true,
				"the backups did not take the migrated range (%d): kept here, no end sent, the source keeps its copy: tablet needs recovery",
				err);
		WRITE_ONCE(m->frozen, true);
		/* Every record is here: serve them all. */
		skv_tgt_tablet_must(m, SKV_MIG_TABLET_SET, SKV_TABLET_NORMAL);
	}
	skv_tgt_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
	return 1;
}

static void skv_tgt_run(struct skv_mig *m)
{
	bool push = m->p.mode == STEADYKV_MIGRATION_MODE_PUSH;
	struct skv_store *s = skv_node_store(m->node);
	u64 safe = 0;
	int err;

	skv_tgt_announce(m);	/* preparing, since its creation */
	err = skv_tgt_prepare(m, push ? SKV_MIG_F_KEEP_OWNER : 0, &safe);
	if (err) {
		if (err == -ESHUTDOWN)
			skv_tgt_set_stopped(m);
		else if (err != -EREMOTEIO && err != -EKEYREJECTED &&
			 err != -ENOKEY)
			skv_tgt_undo_prepare(m);
		skv_tgt_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
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
		err = skv_tgt_end(m, SKV_MIG_F_ABORT);
		if (err)
			skv_tgt_set_err(m, EHOSTUNREACH, true,
					"cancelled, but the source did not take the range back (%d)",
					err);
		skv_tgt_finish(m, err ? STEADYKV_MIGRATION_STATE_FAILED :
			       STEADYKV_MIGRATION_STATE_CANCELLED);
		return;
	}

	/* Every write accepted here from now on is newer than the source's. */
	if (!push) {
		skv_store_raise_version(s, safe);
		/* Before the tablet exists: the resolver covers it at once. */
		skv_tgt_set_active(m, true);
	}
	err = skv_tgt_tablet(m, SKV_MIG_TABLET_ADD,
			     push ? SKV_TABLET_RECOVERING :
			     SKV_TABLET_MIGRATING_IN);
	if (err) {
		skv_tgt_set_err(m, -err, false,
				"cannot add the tablet here (%d)", err);
		if (!push)
			skv_tgt_set_active(m, false);
		skv_tgt_end(m, SKV_MIG_F_ABORT);
		skv_tgt_finish(m, STEADYKV_MIGRATION_STATE_FAILED);
		return;
	}
	if (!push)
		m->owned_us = ktime_us_delta(ktime_get(), m->t_start);
	skv_tgt_change_state(m, STEADYKV_MIGRATION_STATE_PULLING);

	if (skv_tgt_after_pass(m, skv_tgt_pass(m, !push && m->p.prio), !push))
		return;

	if (push) {
		/* Freeze the range at the source; copy what changed since. */
		err = skv_tgt_prepare(m, 0, &safe);
		if (err) {
			skv_tgt_fail(m, -err, "second prepare failed (%d)", err);
			skv_tgt_after_pass(m, err == -ESHUTDOWN ?
					   SKV_PASS_STOPPED : SKV_PASS_FAILED,
					   false);
			return;
		}
		skv_store_raise_version(s, safe);
		m->safe_version = safe;
		m->min_version = m->first_safe;
		skv_tgt_change_state(m, STEADYKV_MIGRATION_STATE_CATCHING_UP);
		if (skv_tgt_after_pass(m, skv_tgt_pass(m, false), false))
			return;
		err = skv_tgt_tablet_must(m, SKV_MIG_TABLET_SET,
					  SKV_TABLET_NORMAL);
		m->owned_us = ktime_us_delta(ktime_get(), m->t_start);
		if (err) {
			skv_tgt_fail(m, -err, "cannot set the tablet normal (%d)",
				     err);
			skv_tgt_rollback(m, false);
			return;
		}
	}
	/* The replicated baseline handed every pulled batch over already. */
	if (m->p.mode != STEADYKV_MIGRATION_MODE_REPLICATED &&
	    skv_tgt_rereplicate(m))
		return;
	err = skv_tgt_end(m, 0);
	if (!push)
		skv_tgt_tablet_must(m, SKV_MIG_TABLET_SET, SKV_TABLET_NORMAL);
	/* Every record is here and served: done, even if END got lost. */
	if (err)
		skv_tgt_set_err(m, 0, true,
				"the source did not acknowledge the end (%d): it may still hold its copy",
				err);
	skv_tgt_finish(m, STEADYKV_MIGRATION_STATE_DONE);
}

/*
 * The coordinator decided to abort a migration that ended frozen: hand
 * the range back (skv_tgt_hand_back(), retried for mig_retry_ms as in a
 * rollback).  The migration stays failed; its error tells the outcome:
 * EREMOTE once the source serves the range again (the coordinator then
 * makes it the owner), EUCLEAN while it stays frozen.  Returns whether
 * the range left this node (or the migration must stop).
 */
static bool skv_tgt_release_run(struct skv_mig *m)
{
	const char *why = "";
	int err, status;

	skv_tgt_set_err(m, EUCLEAN, true,
			"frozen: handing the range back to the source, as the coordinator decided");
	skv_tgt_announce(m);
	err = skv_tgt_hand_back(m, true, &why, &status);
	skv_peer_close(&m->peer);
	if (err == -ESHUTDOWN || err == -ESTALE)
		return true;
	if (err < 0) {
		skv_tgt_set_frozen(m, why, status);
		skv_tgt_announce(m);
		return false;
	}
	WRITE_ONCE(m->frozen, false);
	skv_tgt_set_err(m, EREMOTE, true,
			"was frozen; handed back to the source (every write taken here with it) on the coordinator's decision%s",
			err ? ", but deleting the tablet here failed" : "");
	skv_tgt_announce(m);
	pr_info("steadykv: migration %llu: the frozen range was handed back to the source\n",
		m->p.id);
	return true;
}

/* The controller of a migration that ended frozen awaits a decision. */
static void skv_tgt_await_release(struct skv_mig *m)
{
	bool done;

	while (READ_ONCE(m->frozen)) {
		wait_event_idle(m->wq, skv_tgt_stopping(m) ||
				READ_ONCE(m->release));
		if (skv_tgt_stopping(m))
			break;
		WRITE_ONCE(m->releasing, true);
		done = skv_tgt_release_run(m);
		WRITE_ONCE(m->releasing, false);
		if (done)
			break;
		WRITE_ONCE(m->release, false);
	}
	/* Recovery took the range here: nothing left to decide. */
	if (READ_ONCE(m->source_lost))
		WRITE_ONCE(m->frozen, false);
}

static int skv_tgt_thread(void *arg)
{
	struct skv_mig *m = arg;

	skv_tgt_run(m);
	skv_tgt_await_release(m);
	/* kthread_stop() (prune or namespace exit) reaps us. */
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void skv_tgt_free(struct skv_mig *m)
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

void skv_tgt_node_init(struct skv_node *node)
{
	INIT_LIST_HEAD(&node->migs);
	init_waitqueue_head(&node->mig_parked);
}

struct skv_mig *skv_tgt_find(struct skv_node *node, u64 id)
{
	struct skv_mig *m;

	lockdep_assert_held(&node->lock);
	list_for_each_entry(m, &node->migs, list)
		if (m->p.id == id)
			return m;
	return NULL;
}

/* Drop the oldest ended migrations past SKV_MIG_KEEP_ENDED. */
static void skv_tgt_prune(struct skv_node *node)
{
	struct skv_mig *m, *tmp;
	LIST_HEAD(gone);

	lockdep_assert_held(&node->lock);
	list_for_each_entry_safe_reverse(m, tmp, &node->migs, list) {
		if (node->migs_ended <= SKV_MIG_KEEP_ENDED)
			break;
		/* A frozen one's controller awaits the coordinator. */
		if (!m->ended || READ_ONCE(m->frozen))
			continue;
		list_del_rcu(&m->list);
		list_add(&m->list, &gone);
		node->migs_ended--;
	}
	if (list_empty(&gone))
		return;
	/* Expedited: node->lock is held, and the new migration waits on it. */
	synchronize_rcu_expedited();
	list_for_each_entry_safe(m, tmp, &gone, list)
		skv_tgt_free(m);
}

static bool skv_tgt_overlaps_tablet(struct skv_store *s,
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

int skv_tgt_start(struct skv_node *node, const struct skv_mig_params *p,
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
	if (skv_tgt_find(node, p->id)) {
		NL_SET_ERR_MSG_MOD(extack, "a migration with this id exists");
		return -EEXIST;
	}
	if (skv_mig_active(node) >= SKV_MIG_MAX_ACTIVE) {
		NL_SET_ERR_MSG_FMT_MOD(extack,
				       "this node takes part in %u migrations, the most it allows at once",
				       SKV_MIG_MAX_ACTIVE);
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
	if (skv_tgt_overlaps_tablet(s, p)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "the range overlaps a tablet of this node");
		return -EBUSY;
	}

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		goto nomem;
	m->node = node;
	m->p = *p;
	m->epoch = (u32)skv_node_epoch(node);
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
	skv_tgt_parts_reset(m);
	if (p->prio && p->mode != STEADYKV_MIGRATION_MODE_PUSH) {
		m->pending = kcalloc(SKV_MIG_PRIO_PENDING, sizeof(u64),
				     GFP_KERNEL);
		m->resolved_slots = SKV_MIG_RESOLVED_SLOTS;
		m->resolved = kvcalloc(m->resolved_slots, sizeof(u64),
				       GFP_KERNEL);
		if (!m->pending || !m->resolved)
			goto err_free;
	}

	if (!node->mig_resolver) {
		skv_store_set_resolver(s, skv_tgt_resolved, node);
		node->mig_resolver = true;
	}

	task = kthread_create(skv_tgt_thread, m, "skv-mig%llu", p->id);
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		NL_SET_ERR_MSG_MOD(extack, "cannot start the migration thread");
		goto err_free_err;
	}
	m->task = get_task_struct(task);
	list_add_rcu(&m->list, &node->migs);
	node->migs_running++;
	wake_up_process(task);
	skv_tgt_prune(node);
	return 0;

nomem:
	NL_SET_ERR_MSG_MOD(extack, "out of memory");
	return -ENOMEM;
err_free:
	err = -ENOMEM;
	NL_SET_ERR_MSG_MOD(extack, "out of memory");
err_free_err:
	skv_tgt_free(m);
	return err;
}

int skv_tgt_release(struct skv_mig *m, bool abort,
		    struct netlink_ext_ack *extack)
{
	lockdep_assert_held(&m->node->lock);
	if (!READ_ONCE(m->ended)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "the migration still runs here: it decides itself");
		return -EBUSY;
	}
	if (READ_ONCE(m->err) == EREMOTE && !READ_ONCE(m->frozen)) {
		/* Handed back already: say so again (a report may be lost). */
		skv_tgt_announce(m);
		return 0;
	}
	if (!READ_ONCE(m->frozen) || READ_ONCE(m->source_lost)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "the migration did not end with the range frozen here");
		return -EINVAL;
	}
	if (!abort) {
		NL_SET_ERR_MSG_MOD(extack,
				   "a range frozen here can only be handed back (abort)");
		return -EINVAL;
	}
	if (READ_ONCE(m->release)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "the range is being handed back already");
		return -EBUSY;
	}
	WRITE_ONCE(m->release, true);
	wake_up_all(&m->wq);
	return 0;
}

int skv_tgt_cancel(struct skv_mig *m)
{
	if (READ_ONCE(m->ended))
		return -EALREADY;
	WRITE_ONCE(m->cancel, true);
	wake_up_all(&m->wq);
	return 0;
}

int skv_tgt_source_lost(struct skv_node *node, u64 table_id, u64 start_hash,
			u64 end_hash)
{
	struct skv_mig *m;
	int err;

	lockdep_assert_held(&node->lock);
	/* Newest first: the migration that brought the tablet here. */
	list_for_each_entry(m, &node->migs, list) {
		if (m->p.table_id != table_id || m->p.start_hash != start_hash ||
		    m->p.end_hash != end_hash)
			continue;
		WRITE_ONCE(m->source_lost, true);
		if (m->ended) {
			/* A frozen one's controller may be handing it back. */
			wake_up_all(&m->wq);
			return READ_ONCE(m->releasing) ? -EAGAIN : 0;
		}
		/*
		 * Its threads stop at their next check (calls to the dead
		 * source fail fast), then it ends failed without END; until
		 * the range is rebuilt nobody is served from a partial copy.
		 */
		wake_up_all(&m->wq);
		wake_up_all(&m->prio_wq);
		err = skv_tablet_set_state(skv_node_store(node), table_id,
					   start_hash, end_hash,
					   SKV_TABLET_RECOVERING);
		if (!err)
			node->map_gen++;
		return -EAGAIN;
	}
	return -ENOENT;
}

void skv_tgt_stop_all(struct skv_node *node)
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
		skv_tgt_free(m);
	}
	node->migs_running = 0;
	node->migs_ended = 0;
}
