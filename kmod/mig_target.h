/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The target side of a migration (Rocksteady): the engine that pulls a
 * tablet from its source once netlink migrate-start arrives
 * (mig_target.c, mig_target_resolve.c, mig_target_pull.c).
 *
 * One struct skv_mig per migration, in the node's list (node->migs,
 * newest first): the ones running, and the newest ended ones kept for
 * status.  Each running migration has a controller thread (the state
 * machine), pull workers (one per pull in flight) and priority pullers.
 *
 * Locking:
 *   node->lock      list membership, start/cancel, tablet changes
 *   RCU             the resolver and skv_tgt_want_key() walk node->migs
 *   m->lock (spin)  error message, pending and in-flight priority hashes,
 *                   inserts into the resolved set
 *   m->part_lock    which partition a worker pulls (busy flags)
 */
#ifndef SKV_MIG_TARGET_H
#define SKV_MIG_TARGET_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/atomic.h>
#include <linux/ktime.h>

#include "peer.h"

struct skv_node;
struct skv_conn;
struct skv_sidelog;
struct netlink_ext_ack;

/*
 * retry_us of a RETRY reply for a key still on its way here (a lone GET
 * is parked instead, see skv_tgt_park(); a request with others behind it
 * in its connection is not, so as not to block them).  The hint
 * is the time a priority pull takes now (a moving average, measured by
 * the puller), so most retries find the key and a slow link or a busy
 * source does not turn waiting clients into a storm of retries; 100 us
 * (Rocksteady's 50-100 us) is the floor, 10 ms the ceiling.
 */
#define SKV_MIG_RETRY_US	100u
#define SKV_MIG_RETRY_US_MAX	10000u

/* Ended migrations kept for migrate-get (running ones: mig_source.h). */
#define SKV_MIG_KEEP_ENDED	32
/*
 * Hashes per PRIORITY_PULL.  Rocksteady batches up to 16 with a 10 us
 * round trip; ours are far slower (TCP, and a whole ms in a TCG guest), so
 * a batch takes as many as the wire allows to keep up with clients.
 */
#define SKV_MIG_PRIO_BATCH	SKV_MAX_PRIO_HASHES
/* Pending priority hashes (deduplicated); more are dropped (retried). */
#define SKV_MIG_PRIO_PENDING	1024
/*
 * Most priority pulls in flight (mig_prio_pullers, read when a pass
 * starts), each of a batch of pending hashes: clients of the moved range
 * arrive all at once when ownership moves, with thousands of keys to
 * fetch in the first second.
 */
#define SKV_MIG_PRIO_PULLERS	4

struct skv_mig_params {
	u64 id;
	u64 table_id;
	u64 start_hash;
	u64 end_hash;
	u8 addr[16];
	u32 addr_len;
	u16 port;
	u32 mode;		/* enum steadykv_migration_mode */
	u32 partitions;
	u32 inflight;
	u32 budget;
	bool prio;
};

struct skv_mig_part {
	u64 start;
	u64 end;
	u64 cursor;		/* below it all is replayed (release/acquire) */
	bool done;		/* all replayed (release/acquire) */
	bool busy;		/* a worker pulls it (part_lock) */
};

struct skv_mig;

struct skv_mig_worker {
	struct skv_mig *m;
	struct task_struct *task;
	struct skv_peer peer;
	struct skv_sidelog *sl;
	int idx;
	u64 call_ns;			/* the last pull's round trip */
};

/* A priority puller and the hashes of its pull in flight (m->lock). */
struct skv_mig_prio {
	struct skv_mig_worker w;
	u64 hashes[SKV_MIG_PRIO_BATCH];
	u32 n;
};

struct skv_mig {
	struct list_head list;		/* node->migs */
	struct skv_node *node;
	struct skv_mig_params p;	/* immutable */

	u32 state;			/* enum steadykv_migration_state */
	bool active;			/* the resolver consults it */
	bool ended;
	bool cancel;			/* migrate-cancel asked */
	bool abandon;			/* namespace exit: stop, leave tablet */
	bool source_lost;		/* recovery took the tablet (node->lock) */
	bool failing;			/* a worker failed */
	/*
	 * Ended with the range frozen here and at the source (EUCLEAN): the
	 * controller stays to hand it back when the coordinator decides
	 * (skv_tgt_release()); such a migration is not pruned.
	 */
	bool frozen;
	bool release;			/* the coordinator's decision came */
	bool releasing;			/* its controller hands it back */
	spinlock_t lock;
	int err;			/* positive errno */
	char errmsg[160];

	u64 safe_version;		/* of the PREPARE that moved ownership */
	u64 first_safe;			/* push mode: of the first PREPARE */
	u32 epoch;			/* the node's at the start: on every op */
	u64 min_version;		/* of the pulls running */
	ktime_t t_start;
	u64 elapsed_us;			/* set when ended */
	u64 owned_us;
	u32 end_permille;		/* set when ended */
	unsigned long last_ntf;		/* jiffies */

	atomic64_t bytes_pulled;
	atomic64_t records_pulled;
	atomic64_t records_replayed;
	atomic64_t records_skipped;
	atomic64_t pulls;
	atomic64_t prio_pulls;
	u32 prio_rtt_us;		/* moving average of a priority pull */
	atomic64_t prio_keys;
	atomic64_t client_retries;	/* RETRY replies for keys still away */
	atomic_t parts_done;
	atomic_t workers_running;

	/* Pacing (mig_target_pace.c): the pass loop writes, others read. */
	u32 pace_depth;			/* bulk pulls allowed in flight */
	u32 pace_budget;		/* bytes a bulk pull asks for */
	atomic_t pulling;		/* workers holding a pull slot */
	atomic_t slot_waiters;		/* workers waiting for one */
	u32 pace_p999_us;		/* the signal of the last step */
	u32 pace_base_us;		/* the lowest signal, creeping up */
	u32 src_p999_us;		/* the source's, from its last reply */

	u32 nparts;
	struct skv_mig_part *parts;
	struct mutex part_lock;
	wait_queue_head_t wq;		/* the controller waits here */

	struct task_struct *task;	/* controller, referenced */
	struct skv_peer peer;		/* controller's */
	struct skv_mig_worker *workers;	/* p.inflight of them */
	struct skv_mig_prio prio[SKV_MIG_PRIO_PULLERS];
	bool prio_running;

	/* Priority pulls. */
	wait_queue_head_t prio_wq;
	u64 *pending;			/* SKV_MIG_PRIO_PENDING */
	u32 npending;
	/* Resolved by priority pulls: open addressing, written once. */
	u64 *resolved;
	u32 resolved_slots;		/* power of two */
	u32 nresolved;
	bool resolved_zero;		/* hash 0 (0 marks an empty slot) */
};

void skv_tgt_node_init(struct skv_node *node);
/* Namespace exit: stop every migration (tablets left as they are), free. */
void skv_tgt_stop_all(struct skv_node *node);

/* Caller holds node->lock; params checked (ranges, lengths). */
int skv_tgt_start(struct skv_node *node, const struct skv_mig_params *p,
		  struct netlink_ext_ack *extack);
/* Caller holds node->lock. */
struct skv_mig *skv_tgt_find(struct skv_node *node, u64 id);
int skv_tgt_cancel(struct skv_mig *m);

/*
 * The coordinator's decision for a migration that ended frozen (EUCLEAN,
 * both nodes up): abort, i.e. hand the range back to the source with
 * every write taken here (push-back, END abort), on the migration's
 * controller.  0 if started or already handed back (announced again),
 * -EBUSY if the migration still runs or a release runs, -EINVAL if it is
 * not frozen here or the decision is commit.  Caller holds node->lock.
 */
int skv_tgt_release(struct skv_mig *m, bool abort,
		    struct netlink_ext_ack *extack);

/*
 * Lineage: recovery (recovery.c) of exactly [start_hash, end_hash] of
 * table_id, which an incoming migration brought here, for the primary
 * the coordinator names as its source (dead after ownership moved).  The
 * newest migration of that range is told to stop without END and never
 * to change the tablet again.  0 if it has ended (none of its threads
 * touches the store any more), -EAGAIN if it still runs (the tablet set
 * RECOVERING: not served until rebuilt; ask again), -ENOENT if no
 * migration brought the range here.  Caller holds node->lock.
 */
int skv_tgt_source_lost(struct skv_node *node, u64 table_id, u64 start_hash,
			u64 end_hash);

/*
 * A client asked for a key of a MIGRATING_IN tablet the store could not
 * resolve: queue a priority pull of its hash.  Returns the retry_us to
 * give the client (0: no migration brings it).  parked: the request waits
 * for the key rather than being answered RETRY (not counted as one; 0
 * also when no priority pull of it could be queued).  Any context; cheap.
 */
u32 skv_tgt_want_key(struct skv_node *node, u64 table_id, u64 key_hash,
		     bool parked);

/*
 * Parking (mig_target_park.c): a GET the store answered RETRY for a key
 * that a migration brings waits for it instead, at most mig_park_ms.
 * skv_tgt_park() returns true if c's frame is parked (no reply queued: it
 * is handled again when c runs next; the key's priority pull is asked
 * for), false if it is to be answered RETRY (parking off, requests behind
 * it, no migration brings the key, or its wait is over).  Process context
 * (c's run).
 */
extern unsigned int skv_mig_park_ms;
void skv_tgt_park_init(struct skv_conn *c);
bool skv_tgt_park(struct skv_conn *c, u64 table_id, u64 key_hash);
/* Before the parked frame is handled again, and when c is freed. */
void skv_tgt_unpark(struct skv_conn *c);
/* c's parked frame got its reply. */
void skv_tgt_park_answered(struct skv_conn *c);
/* Keys may have been resolved or a migration stopped: any context. */
void skv_tgt_wake_parked(struct skv_node *node);

/*
 * Pacing's parameters (main.c): on/off, the goal (0: 2x the base), and
 * the pull size with no client load (0: the migration's budget).
 */
extern unsigned int skv_mig_pace;
extern unsigned int skv_mig_prio_pullers;
extern unsigned int skv_mig_latency_goal_us;
extern unsigned int skv_mig_idle_pull_kb;

/* State and progress snapshot helpers for netlink (mig_netlink.c). */
u32 skv_tgt_permille(struct skv_mig *m);
u64 skv_tgt_elapsed_us(struct skv_mig *m);
/* Announce m on the events group (mig_netlink.c).  Process context. */
void skv_tgt_notify(struct skv_mig *m);

#endif /* SKV_MIG_TARGET_H */
