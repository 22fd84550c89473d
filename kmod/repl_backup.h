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
 * Recovery (issue 12 item 4, not built yet) would use them so: the control
 * plane fences the dead primary at each of its backups (repl-fence with a
 * new epoch), so nothing more is appended; each recovering node, given
 * some of the dead node's tablets (RECOVERING), READs the replica from its
 * base to its end with that epoch, from either backup (every acknowledged
 * write is in both; records past the shorter one's end were never
 * acknowledged and may be replayed or not), several recovering nodes and
 * backups in parallel, and replays each reply into a side log with
 * skv_replay_records(): records of keys outside its tablets are ignored,
 * the newest version of a key wins whatever the order, tombstones shadow
 * older copies, and the version counter is raised past what it replayed.
 * Then it splices the side log, serves the tablets (NORMAL) and
 * re-replicates them: the replayed records are not in its own stream
 * (only client writes are), so a scan of the tablets (scan.h) is appended
 * to it, behind normal writes, before the coordinator drops the dead
 * node's replicas (a repl-set of their primaries elsewhere, then freeing).
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

/* Raise the epoch required of primary_id (a replica is made if none). */
int skv_replica_fence_primary(struct skv_node *node, u64 primary_id,
			      u64 epoch);
/* The replica-get dump. */
int skv_replica_dump(struct skv_node *node, struct sk_buff *skb,
		     struct netlink_callback *cb);

#endif /* SKV_REPL_BACKUP_H */
