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
