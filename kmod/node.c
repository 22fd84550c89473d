// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv nodes: one per network namespace, through pernet_operations
 * and net_generic().
 *
 * The store is created on first use (listen-start, node-set, table or
 * tablet add), not in the pernet init: every namespace the system creates
 * would otherwise pay for an index it never uses.  Nothing but those
 * commands is needed to make a namespace serve.
 *
 * Namespace exit, in order: refuse new work (dying), stop the listener
 * (no new connections), reset and stop every connection and wait for its
 * thread, cancel the cleaner, destroy the store.  No netlink request can
 * run for a namespace during its exit: the requesting socket holds the
 * namespace.
 */
#include <linux/random.h>
#include <linux/kernel.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <net/netlink.h>

#include "node.h"
#include "auth.h"
#include "conn.h"
#include "transport.h"
#include "mig_source.h"
#include "mig_target.h"
#include "metrics.h"
#include "trace.h"
#include "repl_primary.h"
#include "repl_backup.h"

/* Segments the cleaner may process per pass, and passes per run. */
#define SKV_CLEANER_SEGMENTS	8
#define SKV_CLEANER_PASSES	16
/* After a pass that freed nothing, leave the cleaner idle this long. */
#define SKV_CLEANER_BACKOFF	(HZ / 10)

unsigned int skv_net_id __read_mostly;

void skv_node_store_config(struct skv_store_config *cfg)
{
	cfg->segment_size = skv_segment_size;
	cfg->index_buckets_log2 = skv_index_buckets_log2;
	cfg->mem_limit = (u64)skv_mem_limit_mb << 20;
	cfg->max_tablets = READ_ONCE(skv_max_tablets);
}

int skv_node_store_get(struct skv_node *node, struct netlink_ext_ack *extack,
		       struct skv_store **out)
{
	struct skv_store_config cfg;
	struct skv_store *s;
	int err;

	lockdep_assert_held(&node->lock);
	s = node->store;
	if (!s) {
		skv_node_store_config(&cfg);
		err = skv_metrics_init(node);
		if (!err)
			err = skv_store_create(&cfg, &s);
		if (err) {
			NL_SET_ERR_MSG_FMT_MOD(extack,
					       "cannot create the store (%d)",
					       err);
			return err;
		}
		/* Pairs with the acquire in skv_node_store(). */
		smp_store_release(&node->store, s);
	}
	*out = s;
	return 0;
}

void skv_node_kick_cleaner(struct skv_node *node)
{
	struct skv_store *s = skv_node_store(node);

	if (!s || READ_ONCE(node->dying) ||
	    time_before(jiffies, READ_ONCE(node->cleaner_idle_until)))
		return;
	if (skv_cleaner_wanted(s))
		queue_delayed_work(skv_wq, &node->cleaner_work, 0);
}

static void skv_cleaner_work(struct work_struct *work)
{
	struct skv_node *node = container_of(to_delayed_work(work),
					     struct skv_node, cleaner_work);
	struct skv_store *s = skv_node_store(node);
	long freed = 0;
	int i;

	if (!s)
		return;
	for (i = 0; i < SKV_CLEANER_PASSES && skv_cleaner_wanted(s); i++) {
		freed = skv_cleaner_run(s, SKV_CLEANER_SEGMENTS);
		trace_skv_cleaner_pass(freed, SKV_CLEANER_SEGMENTS);
		if (freed <= 0)
			break;
		cond_resched();
	}
	if (freed <= 0) {
		/* Nothing to gain now: do not rerun on every write. */
		WRITE_ONCE(node->cleaner_idle_until,
			   jiffies + SKV_CLEANER_BACKOFF);
		return;
	}
	/* Still behind after a full run: continue, letting others in. */
	if (!READ_ONCE(node->dying) && skv_cleaner_wanted(s))
		queue_delayed_work(skv_wq, &node->cleaner_work, 1);
}

static int __net_init skv_net_init(struct net *net)
{
	struct skv_node *node = skv_node(net);

	/* net_generic() memory is zeroed. */
	node->net = net;
	mutex_init(&node->lock);
	node->map_gen = 1;	/* 0 would disable the dump consistency check */
	node->incarnation = get_random_u64() | 1;
	spin_lock_init(&node->conn_lock);
	spin_lock_init(&node->lat_window.lock);
	INIT_LIST_HEAD(&node->conns);
	atomic_set(&node->nconns, 0);
	INIT_WORK(&node->reap_work, skv_conn_reap_work);
	INIT_DELAYED_WORK(&node->conn_sweep, skv_conn_sweep_work);
	INIT_DELAYED_WORK(&node->cleaner_work, skv_cleaner_work);
	node->cleaner_idle_until = jiffies;
	atomic64_set(&node->requests, 0);
	atomic64_set(&node->bad_requests, 0);
	atomic64_set(&node->pull_bytes_copied, 0);
	atomic64_set(&node->pull_bytes_spliced, 0);
	skv_src_init(node);
	skv_tgt_node_init(node);
	skv_repl_node_init(node);
	skv_replicas_init(node);
	INIT_LIST_HEAD(&node->recoveries);
	return 0;
}

static void __net_exit skv_net_exit(struct net *net)
{
	struct skv_node *node = skv_node(net);
	struct skv_listener *l;

	mutex_lock(&node->lock);
	WRITE_ONCE(node->dying, true);
	l = node->listener;
	node->listener = NULL;
	mutex_unlock(&node->lock);

	if (l)
		skv_tcp_listen_stop(l);
	skv_conns_stop(node);
	/* No connection waits for the backups any more. */
	skv_repl_node_exit(node);
	/* Incoming migrations use the store; no connection asks them now. */
	skv_tgt_stop_all(node);
	/* Connections kick the cleaner: they are gone, and dying is set. */
	cancel_delayed_work_sync(&node->cleaner_work);
	skv_src_exit(node);
	/* Nothing authenticates any more: drop (and wipe) the keys. */
	mutex_lock(&node->lock);
	skv_auth_node_exit(node);
	mutex_unlock(&node->lock);
	/* Replicas are charged to the store: free them first. */
	skv_replicas_exit(node);
	if (node->store) {
		skv_store_destroy(node->store);
		node->store = NULL;
	}
	skv_metrics_free(node);
	WARN_ON_ONCE(atomic_read(&node->nconns));
	mutex_destroy(&node->lock);
}

struct pernet_operations skv_net_ops = {
	.init	= skv_net_init,
	.exit	= skv_net_exit,
	.id	= &skv_net_id,
	.size	= sizeof(struct skv_node),
};
