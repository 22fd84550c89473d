// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv: an in-memory key-value store in the kernel, one node per
 * network namespace, served over TCP (wire.h) and configured over the
 * "steadykv" generic netlink family.
 *
 * Init order: the workqueue, the pernet operations (a node in every
 * namespace), then the netlink family last, so no request can reach a
 * half-built module.  Exit runs the same steps in exactly the reverse
 * order: unregistering the family waits for requests in flight, the
 * pernet exits stop every listener and connection, and the workqueue is
 * destroyed only after nothing can queue onto it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/workqueue.h>
#include <linux/log2.h>
#include <net/net_namespace.h>

#include "node.h"
#include "netlink.h"
#include "conn.h"
#include "peer.h"
#include "repl_primary.h"
#include "faults.h"

unsigned int skv_segment_size = SKV_DEFAULT_SEGMENT_SIZE;
module_param_named(segment_size, skv_segment_size, uint, 0444);
MODULE_PARM_DESC(segment_size,
		 "Bytes per log segment, a power of two, 64 KiB to 64 MiB (default 1 MiB)");

unsigned int skv_index_buckets_log2 = SKV_DEFAULT_BUCKETS_LOG2;
module_param_named(index_buckets_log2, skv_index_buckets_log2, uint, 0444);
MODULE_PARM_DESC(index_buckets_log2,
		 "log2 of the index buckets of each node, 10 to 26 (default 16)");

unsigned int skv_mem_limit_mb = SKV_DEFAULT_MEM_LIMIT >> 20;
module_param_named(mem_limit_mb, skv_mem_limit_mb, uint, 0444);
MODULE_PARM_DESC(mem_limit_mb,
		 "Initial log memory limit of each node in MiB, at least 4 segments (default 256)");

/* A parameter writable at run time (read where it is used). */
#define SKV_RW_PARAM(name, def, desc)					\
	unsigned int skv_##name = def;					\
	module_param_named(name, skv_##name, uint, 0644);		\
	MODULE_PARM_DESC(name, desc)

SKV_RW_PARAM(max_tablets, SKV_DEFAULT_MAX_TABLETS,
	     "Most tablets of a node, read when its store is created; PREPARE and tablet-add past it are refused (default 4096)");
SKV_RW_PARAM(max_connections, 10240,
	     "Most open connections per node, peers included (default 10240)");
SKV_RW_PARAM(max_connections_per_addr, 128,
	     "Most connections from one source address, authenticated peers aside; 0: no cap (default 128)");
SKV_RW_PARAM(peer_connections, 32,
	     "Slots of max_connections kept for node-to-node peers (default 32)");
SKV_RW_PARAM(idle_timeout_s, 300,
	     "Close a connection with no request in progress after this many seconds; 0: never (default 300)");
SKV_RW_PARAM(frame_timeout_s, 30,
	     "A request frame must arrive whole within this many seconds of its first byte; 0: no limit (default 30)");
SKV_RW_PARAM(reply_timeout_s, 30,
	     "A batch of replies must be taken by the client within this many seconds; 0: no limit (default 30)");
SKV_RW_PARAM(conn_buffers_mb, 512,
	     "Most memory of one node's connection buffers, in MiB; a connection whose buffer would grow past it is closed, authenticated peers aside; 0: no limit (default 512)");

SKV_RW_PARAM(peer_call_timeout_s, 30,
	     "A node-to-node call (request sent, reply received) must end within this many seconds; at least 1 (default 30)");

SKV_RW_PARAM(pull_splice_min, 0,
	     "A pulled record of at least this many bytes is sent from the source's log pages, not copied; 0: always copied (default 0: make bench-pull)");
SKV_RW_PARAM(mig_retry_ms, 60000,
	     "After ownership moved, a migration retries a push-back or END the source refused or did not answer, and the re-replication its backups did not take, this long before it fails with the range frozen (needs recovery) (default 60000)");

SKV_RW_PARAM(mig_park_ms, 100,
	     "A GET for a key still on its way here by a migration waits this long for it (its priority pull) before it is answered RETRY; 0: RETRY at once (default 100)");

SKV_RW_PARAM(mig_pace, 1,
	     "Pace a migration's bulk pulls by client latency here and at the source (1), or run every pull in flight from the start (0) (default 1)");
SKV_RW_PARAM(mig_prio_pullers, 2,
	     "Priority pulls a migration keeps in flight for the keys clients wait for, 1 to 4 (default 2)");
SKV_RW_PARAM(mig_latency_goal_us, 0,
	     "The client p99.9 a paced migration keeps to, in us; 0: twice the lowest seen during the migration (default 0)");
SKV_RW_PARAM(mig_idle_pull_kb, 256,
	     "What a paced migration's bulk pull asks for, in KiB, while neither end has client load, if its pull budget is less; 0: the pull budget always (default 256)");

SKV_RW_PARAM(replica_max_mb, 64,
	     "Most memory of one replica of another node's log, in MiB; a write past it gets BACKUP_FULL (default 64)");
SKV_RW_PARAM(repl_timeout_ms, 5000,
	     "A write waits this long for its backups before the backups behind are taken as lost (default 5000)");

struct workqueue_struct *skv_wq;

static int __init skv_check_params(void)
{
	u64 limit = (u64)skv_mem_limit_mb << 20;

	if (!is_power_of_2(skv_segment_size) ||
	    skv_segment_size < (64u << 10) || skv_segment_size > (64u << 20)) {
		pr_err("segment_size %u: need a power of two, 64 KiB to 64 MiB\n",
		       skv_segment_size);
		return -EINVAL;
	}
	if (skv_index_buckets_log2 < 10 || skv_index_buckets_log2 > 26) {
		pr_err("index_buckets_log2 %u: need 10 to 26\n",
		       skv_index_buckets_log2);
		return -EINVAL;
	}
	if (limit < 4ull * skv_segment_size) {
		pr_err("mem_limit_mb %u: need at least 4 segments\n",
		       skv_mem_limit_mb);
		return -EINVAL;
	}
	return 0;
}

static int __init skv_init(void)
{
	int err;

	err = skv_check_params();
	if (err)
		return err;

	skv_wq = alloc_workqueue("steadykv", WQ_UNBOUND, 0);
	if (!skv_wq)
		return -ENOMEM;
	err = skv_conns_init();
	if (err)
		goto err_wq;

	err = register_pernet_subsys(&skv_net_ops);
	if (err)
		goto err_conns;

	err = skv_netlink_init();
	if (err)
		goto err_pernet;

	skv_faults_init();
	return 0;

err_pernet:
	unregister_pernet_subsys(&skv_net_ops);
err_conns:
	skv_conns_exit();
err_wq:
	destroy_workqueue(skv_wq);
	return err;
}

static void __exit skv_exit(void)
{
	skv_faults_exit();
	skv_netlink_exit();
	unregister_pernet_subsys(&skv_net_ops);
	skv_conns_exit();
	destroy_workqueue(skv_wq);
}

module_init(skv_init);
module_exit(skv_exit);

MODULE_DESCRIPTION("steadykv: in-kernel key-value store node");
MODULE_LICENSE("GPL");
/* The store core checksums its log records with crc32c. */
MODULE_SOFTDEP("pre: libcrc32c");
