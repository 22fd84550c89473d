/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The backup side of replication: the replicas a node holds of other
 * nodes' logs (core/replica.h), one per primary, in the module's memory,
 * charged to the node's memory limit and each bounded by replica_max_mb.
 * The REPL ops (wire.h "Replication") reach them from authenticated peer
 * connections only (request.c); the control plane fences a primary and
 * lists the replicas over netlink (repl_nl.c).
 *
 * node->replica_lock (mutex) guards the list and every replica's contents.
 *
 * Recovery (issue 12 item 4, recovery.h) uses them so: the control plane
 * fences the dead primary at its backups (repl-fence with a new epoch), so
 * nothing more is appended; each recovering node, one of the dead node's
 * backups given some of its tablets, reads its own replica from base to
 * end with that epoch (skv_replica_copy(), in chunks) and replays the
 * records of each tablet into a side log with skv_replay_records(): the
 * newest version of a key wins, tombstones shadow older copies, and the
 * version counter is raised past what it read.  Every acknowledged write
 * is in every backup; records past the shorter replica's end were never
 * acknowledged and may be replayed or not.  A replica made after the
 * primary had written older records holds them only once the primary has
 * re-replicated its store into it (it is whole, core/replica.h); until
 * then it is refused for recovery (-EAGAIN), so a tablet is never rebuilt
 * without them.  Not built yet: reading a replica from another node
 * (REPL_READ) to spread the work over more recovering nodes than backups.
 */
#ifndef SKV_REPL_BACKUP_H
#define SKV_REPL_BACKUP_H

#include <linux/types.h>

struct skv_node;
struct skv_conn;
struct skv_hdr;
struct sk_buff;
struct netlink_callback;

/* Module parameter (main.c): the bound of one replica, in MiB. */
extern unsigned int skv_replica_max_mb;

void skv_replicas_init(struct skv_node *node);
/* Namespace exit, before the store goes: free every replica. */
void skv_replicas_exit(struct skv_node *node);

/* REPL_OPEN, REPL_WRITE, REPL_READ from a peer: 0 or -ENOMEM. */
int skv_replica_request(struct skv_conn *c, const struct skv_hdr *h,
			const u8 *body, u32 len);

/*
 * Raise the epoch required of primary_id (a replica is made if none;
 * -ENOSPC if the node holds replicas of SKV_MAX_REPLICAS primaries).
 */
int skv_replica_fence_primary(struct skv_node *node, u64 primary_id,
			      u64 epoch);
/*
 * Copy whole records of primary_id's replica from *pos into dst, as
 * skv_replica_read() (dst holds max(cap, SKV_REC_MAX_LEN) bytes), under
 * replica_lock; *pos moves past them.  *pos U64_MAX starts at its base
 * and fences it at epoch first (the primary appends nothing more).
 * Returns the bytes copied (0 at its end), or -ENOENT (no replica),
 * -ESTALE (epoch older than the replica's), -ENODATA (the primary never
 * opened it), -EAGAIN (it is not whole: it lacks records older than its
 * base that the primary has not re-replicated yet), -EINVAL (*pos not a
 * record boundary of it).
 */
long skv_replica_copy(struct skv_node *node, u64 primary_id, u64 epoch,
		      u64 *pos, u8 *dst, u32 cap);
/* The replica-get dump. */
int skv_replica_dump(struct skv_node *node, struct sk_buff *skb,
		     struct netlink_callback *cb);

#endif /* SKV_REPL_BACKUP_H */
