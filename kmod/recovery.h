/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crash recovery (issue 12 item 4): a node rebuilds a tablet of a dead
 * primary from the replica of that primary's log it holds as a backup
 * (repl_backup.h), on the control plane's repl-recover.
 *
 * The tablet is added RECOVERING (clients get NOT_OWNER and ask the
 * coordinator again), the replica is read in chunks of
 * SKV_RECOVER_CHUNK under replica_lock (never held across a replay),
 * each chunk's records of the tablet are replayed into one side log
 * (core/replay.h: the newest version of a key wins, tombstones shadow),
 * the version counter is raised past every version the replica holds,
 * the side log is spliced, the tablet's records are handed to this
 * node's backups (repl_primary.h skv_repl_hold_range: the side log is in
 * no stream) and only then is the tablet served (NORMAL).
 *
 * It runs synchronously in the netlink handler (the family has
 * parallel_ops), under node->lock except for the replay and the hand-over
 * to the backups (recovery.c skv_recover_rebuild: the node daemon's other
 * control calls, its heartbeats behind them, must not wait for those);
 * the work is bounded by the replica's bound (replica_max_mb) and yields
 * (cond_resched) between chunks and every 256 records replayed.  The
 * caller (the node daemon, on the coordinator's command) waits for the
 * answer, which is what the coordinator needs before it moves the tablet
 * in the map.
 *
 * Lineage: if this node is the source of a migration that holds exactly
 * that range frozen here (MIGRATING_OUT: the target, the dead primary,
 * died before END), the replica is replayed over the copy instead, the
 * range re-replicated, and the migration ended as aborted: the range is
 * served here again (recovery.c skv_recover_over_copy).  If an incoming
 * migration brought exactly that range here (its source, the dead
 * primary, died mid-pull), the migration is stopped without END
 * (-EAGAIN until it has ended: ask again), the replica replayed over
 * what was pulled and written here, the range re-replicated and served
 * here (NORMAL).
 *
 * Re-replication makes the recovered tablet as durable as the node's own
 * writes: a failure there (the backups down or too slow) fails the
 * recovery, and the coordinator tries again.
 */
#ifndef SKV_RECOVERY_H
#define SKV_RECOVERY_H

#include <linux/types.h>

/* Bytes of replica read per chunk (or one record, if larger). */
#define SKV_RECOVER_CHUNK	(256u << 10)

struct skv_node;
struct skv_tablet_info;
struct netlink_ext_ack;

struct skv_recover_stats {
	u64 records;		/* records of the replica read */
	u64 applied;		/* of them, replayed into the tablet */
	u64 bytes;		/* bytes of the replica read */
	u64 ns;			/* time taken, less lease_ns */
	u64 lease_ns;		/* waiting out the primary's read lease */
};

/*
 * Rebuild tablet t (its range; state ignored) from the replica of
 * primary_id, read with epoch.  Caller holds node->lock (dropped and
 * taken again meanwhile).  0 (also when
 * the tablet is served here already: nothing is done), or a negative
 * errno with extack set; on error the tablet (and the table, if this
 * made it) is removed again.
 */
int skv_recover_tablet(struct skv_node *node, u64 primary_id, u64 epoch,
		       const struct skv_tablet_info *t,
		       struct skv_recover_stats *st,
		       struct netlink_ext_ack *extack);

/*
 * Is a recovery rebuilding a range of table_id that overlaps
 * [start_hash, end_hash] (without node->lock: see recovery.c)?  Control
 * ops that would delete it refuse (-EBUSY) meanwhile.  Caller holds
 * node->lock.
 */
bool skv_recovering(struct skv_node *node, u64 table_id, u64 start_hash,
		    u64 end_hash);

#endif /* SKV_RECOVERY_H */
