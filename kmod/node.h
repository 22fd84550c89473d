/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A steadykv node: one per network namespace (net_generic), holding the
 * namespace's store, its listener and its client connections.
 *
 * Locking:
 *   node->lock (mutex)      control path: store creation, listener start
 *                           and stop, every netlink change (so changes and
 *                           their events are ordered), map_gen.
 *   node->conn_lock (spin)  the connection list and conns_closing.
 *   node->store             set once under node->lock (release store), read
 *                           with skv_node_store() (acquire); destroyed only
 *                           in the pernet exit, when nothing else runs.
 */
#ifndef SKV_NODE_H
#define SKV_NODE_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/list.h>
#include <linux/atomic.h>
#include <linux/workqueue.h>
#include <linux/wait.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "store.h"
#include "mig_source.h"
#include "metrics.h"

struct skv_listener;
struct skv_auth_keys;
struct skv_client_keys;
struct skv_metrics_cpu;
struct skv_repl;
struct netlink_ext_ack;

/* What happened to connections: accepted, refused by which cap, closed by which deadline. */
struct skv_conn_stats {
	atomic64_t accepted;
	atomic64_t refused_full;	/* max_connections */
	atomic64_t refused_addr;	/* max_connections_per_addr */
	atomic64_t refused_share;	/* over the client share, not a peer */
	atomic64_t closed_idle;		/* idle_timeout_s */
	atomic64_t closed_frame;	/* frame_timeout_s */
	atomic64_t closed_reply;	/* reply_timeout_s */
	atomic64_t closed_buffers;	/* conn_buffers_mb */
	atomic64_t buffers;		/* bytes of their ibuf and obuf */
};

struct skv_node {
	struct net *net;
	struct mutex lock;		/* control path, see above */
	struct skv_store *store;	/* NULL until first needed */
	struct skv_listener *listener;	/* NULL when not listening */
	u8 listen_addr[16];
	u32 listen_addr_len;		/* 4 or 16 while listening */
	u16 listen_port;
	u64 map_gen;			/* bumped on every table/tablet change */
	bool dying;			/* pernet exit has begun */

	spinlock_t conn_lock;		/* conns, conns_closing, conn->dead */
	struct list_head conns;		/* struct skv_conn.list */
	bool conns_closing;		/* no new connections; reaper idle */
	atomic_t nconns;		/* open connections (slots taken) */
	u32 nclients;			/* of them in the client share; conn_lock */
	struct skv_conn_stats conn_stats;
	struct work_struct reap_work;	/* reaps connections that ended */
	struct delayed_work conn_sweep;	/* connections' deadlines (conn.c) */

	struct delayed_work cleaner_work;
	unsigned long cleaner_idle_until; /* jiffies; after a pass freed nothing */

	atomic64_t requests;
	/* Bytes of records served to pulls, copied or from log pages. */
	atomic64_t pull_bytes_copied;
	atomic64_t pull_bytes_spliced;
	atomic64_t bad_requests;
	/* Replies and service times (metrics.h); set with the store. */
	struct skv_metrics_cpu __percpu *metrics;
	struct skv_lat_window lat_window;

	/* Outgoing migrations (mig_source.c) */
	spinlock_t mig_out_lock;	/* the list; changes also hold lock */
	struct list_head mig_out;	/* struct skv_mig_out.list */
	struct skv_mig_ended mig_ended[SKV_MIG_ENDED_KEEP]; /* ring; lock */
	u32 mig_ended_next;		/* the oldest slot, overwritten next */
	struct skv_mig_fault mig_fault;	/* test knob; mig_out_lock */

	/* The highest epoch learned (wire.h "Epochs"): skv_node_epoch(). */
	atomic64_t epoch;
	/*
	 * Drawn when the node began, never 0; its data lives no longer than
	 * it, so a change tells the coordinator the data is gone (netlink
	 * node-get "incarnation").
	 */
	u64 incarnation;

	/* Incoming migrations (mig_target.c) */
	struct list_head migs;		/* struct skv_mig.list; RCU, node->lock */
	u32 migs_running;		/* not ended; under node->lock */
	u32 migs_ended;			/* ended, kept for status */
	bool mig_resolver;		/* the store's resolver is ours */
	wait_queue_head_t mig_parked;	/* GETs parked (mig_target_park.c) */

	/* Replication (repl_primary.c): RCU, replaced under lock. */
	struct skv_repl __rcu *repl;	/* NULL: no backups (R = 0) */
	u64 repl_pos;			/* where the next stream starts; lock */
	/* Replicas of other nodes' logs (repl_backup.c) */
	struct mutex replica_lock;	/* the list and every replica */
	struct list_head replicas;	/* struct skv_node_replica.list */
	/* Tablets being rebuilt (recovery.c), without lock; list under it */
	struct list_head recoveries;	/* struct skv_recovering.list */

	/* Cluster keys (auth.c): RCU, replaced under lock. */
	struct skv_auth_keys __rcu *auth_keys;
	bool auth_insecure;		/* set under lock, read lockless */

	/* Client keys (auth_client.c): RCU, replaced under lock. */
	struct skv_client_keys __rcu *client_keys;
	bool client_auth_required;	/* set under lock, read lockless */
};

/* Module parameters (main.c). */
extern unsigned int skv_segment_size;
extern unsigned int skv_index_buckets_log2;
extern unsigned int skv_mem_limit_mb;
extern unsigned int skv_max_tablets;
extern unsigned int skv_max_connections;
extern unsigned int skv_max_connections_per_addr;
extern unsigned int skv_peer_connections;
extern unsigned int skv_idle_timeout_s;
extern unsigned int skv_frame_timeout_s;
extern unsigned int skv_reply_timeout_s;
extern unsigned int skv_conn_buffers_mb;
extern unsigned int skv_mig_retry_ms;
extern unsigned int skv_pull_splice_min;

extern unsigned int skv_net_id;
extern struct workqueue_struct *skv_wq;
extern struct pernet_operations skv_net_ops;

static inline struct skv_node *skv_node(const struct net *net)
{
	return net_generic(net, skv_net_id);
}

/* The node's store, or NULL if no change op has created it yet. */
static inline struct skv_store *skv_node_store(struct skv_node *node)
{
	/* Pairs with smp_store_release() in skv_node_store_get(). */
	return smp_load_acquire(&node->store);
}

/* The store config the module parameters describe. */
void skv_node_store_config(struct skv_store_config *cfg);

/* The node's store, created on first use.  Caller holds node->lock. */
int skv_node_store_get(struct skv_node *node, struct netlink_ext_ack *extack,
		       struct skv_store **out);

/*
 * The node's epoch (wire.h "Epochs"): the newest ownership change it
 * knows of.  Anything that stamps a node-to-node op with this node's
 * epoch (migration, replication) reads it here.  Any context.
 */
static inline u64 skv_node_epoch(struct skv_node *node)
{
	return atomic64_read(&node->epoch);
}

/* Learn epoch: the node's epoch only moves forward.  Any context. */
static inline void skv_node_learn_epoch(struct skv_node *node, u64 epoch)
{
	s64 cur = atomic64_read(&node->epoch);

	while ((u64)cur < epoch &&
	       !atomic64_try_cmpxchg(&node->epoch, &cur, epoch))
		;
}

/*
 * Is a request stamped with epoch (32 bits, wire.h) older than what the
 * node knows?  0 is no epoch: never stale.
 */
static inline bool skv_node_epoch_stale(struct skv_node *node, u32 epoch)
{
	return epoch && epoch < (u32)skv_node_epoch(node);
}

/* Queue a cleaner pass if the store wants one (cheap; any context). */
void skv_node_kick_cleaner(struct skv_node *node);

#endif /* SKV_NODE_H */
