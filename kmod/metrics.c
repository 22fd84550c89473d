// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv metrics: the per-node request counters and service-time
 * histograms (metrics.h) and their netlink dump (metrics-get); the home
 * of the module's tracepoints (trace.h).
 */
#include <linux/kernel.h>
#include <linux/percpu.h>
#include <linux/bitops.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "node.h"
#include "conn.h"
#include "request.h"
#include "netlink.h"
#include "nl-gen.h"
#include "metrics.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static_assert((int)STEADYKV_A_METRICS_PAD == (int)STEADYKV_A_NODE_PAD);

int skv_metrics_init(struct skv_node *node)
{
	struct skv_metrics_cpu __percpu *pm;

	lockdep_assert_held(&node->lock);
	if (node->metrics)
		return 0;
	pm = alloc_percpu(struct skv_metrics_cpu);
	if (!pm)
		return -ENOMEM;
	/* Published before any connection can count (listen follows). */
	WRITE_ONCE(node->metrics, pm);
	return 0;
}

void skv_metrics_free(struct skv_node *node)
{
	free_percpu(node->metrics);
	node->metrics = NULL;
}

static void skv_metrics_count(struct skv_metrics_cpu __percpu *pm, u8 op,
			      u8 status, u64 ns)
{
	u32 b = min_t(u32, fls64(ns), SKV_METRICS_LAT_BUCKETS - 1);

	if (op >= SKV_OP_MAX)
		op = 0;
	if (status >= SKV_S_MAX)
		status = SKV_S_INTERNAL;
	/* Per-CPU adds are safe against preemption (this_cpu_*). */
	this_cpu_inc(pm->replies[op][status]);
	this_cpu_inc(pm->lat[op][b]);
	this_cpu_add(pm->lat_sum_ns[op], ns);
}

int skv_metrics_handle(struct skv_conn *c, const struct skv_hdr *h,
		       const u8 *body, u32 body_len)
{
	struct skv_metrics_cpu __percpu *pm = READ_ONCE(c->node->metrics);
	/*
	 * From when its bytes came in (a GET parked for a migrating key: its
	 * first try), so waiting for a worker counts.
	 */
	u64 t0 = c->park_since_ns ?: c->in_ns ?: ktime_get_ns();
	int err;

	c->reply_status = SKV_METRICS_NO_REPLY;
	err = skv_request_handle(c, h, body, body_len);
	/* No reply queued: the connection closes on err. */
	if (c->reply_status == SKV_METRICS_NO_REPLY)
		return err;
	if (pm)
		skv_metrics_count(pm, h->opcode, c->reply_status,
				  ktime_get_ns() - t0);
	if (SKV_STATUS_IS_ERROR(c->reply_status))
		trace_skv_request_error(h->opcode, c->reply_status,
					le64_to_cpu(h->request_id));
	return err;
}

/* The ops clients send, whose latency the migration's pacing protects. */
static const u8 skv_client_ops[] = {
	SKV_OP_PING, SKV_OP_GET, SKV_OP_PUT, SKV_OP_DELETE, SKV_OP_MULTI_GET,
};

/* The client ops' latency histogram summed over CPUs. */
static void skv_metrics_client_lat(struct skv_metrics_cpu __percpu *pm,
				   u64 *lat)
{
	int cpu, i, k;

	memset(lat, 0, SKV_METRICS_LAT_BUCKETS * sizeof(*lat));
	for_each_possible_cpu(cpu) {
		const struct skv_metrics_cpu *m = per_cpu_ptr(pm, cpu);

		for (k = 0; k < ARRAY_SIZE(skv_client_ops); k++)
			for (i = 0; i < SKV_METRICS_LAT_BUCKETS; i++)
				lat[i] += READ_ONCE(m->lat[skv_client_ops[k]][i]);
	}
}

/*
 * p99.9 of the histogram now - then, in us (at least 1), interpolated in
 * its log2 bucket; 0 with fewer than SKV_LAT_WINDOW_MIN_OPS samples.
 */
static u32 skv_metrics_p999_us(const u64 *now, const u64 *then)
{
	u64 n = 0, rank, seen = 0, d, lo, ns;
	int i;

	for (i = 0; i < SKV_METRICS_LAT_BUCKETS; i++)
		n += now[i] - then[i];
	if (n < SKV_LAT_WINDOW_MIN_OPS)
		return 0;
	rank = n - n / 1000;	/* the rank-th smallest, 1-based */
	for (i = 0; i < SKV_METRICS_LAT_BUCKETS - 1; i++) {
		d = now[i] - then[i];
		if (seen + d >= rank)
			break;
		seen += d;
	}
	/* Bucket i holds [2^(i-1), 2^i) ns: place the rank linearly in it. */
	lo = i ? 1ull << (i - 1) : 0;
	d = now[i] - then[i];
	ns = lo + (d ? div64_u64(lo * (rank - seen), d) : lo);
	return clamp_t(u64, ns / NSEC_PER_USEC, 1, SKV_P999_UNKNOWN - 1);
}

u32 skv_metrics_client_p999_us(struct skv_node *node)
{
	struct skv_metrics_cpu __percpu *pm = READ_ONCE(node->metrics);
	struct skv_lat_window *w = &node->lat_window;
	u64 lat[SKV_METRICS_LAT_BUCKETS], now = ktime_get_ns();
	unsigned long flags;
	bool idle = false;
	u32 ret;

	if (!pm)
		return 0;
	spin_lock_irqsave(&w->lock, flags);
	if (!w->start_ns || now - w->start_ns >= SKV_LAT_WINDOW_NS) {
		skv_metrics_client_lat(pm, lat);
		/* A first or stale window only opens one: nothing to tell yet. */
		if (!w->start_ns || now - w->start_ns >= SKV_LAT_WINDOW_STALE_NS)
			w->p999_us = SKV_P999_UNKNOWN;
		else
			w->p999_us = skv_metrics_p999_us(lat, w->lat);
		memcpy(w->lat, lat, sizeof(lat));
		w->start_ns = now;
	} else if (w->p999_us == SKV_P999_UNKNOWN &&
		   now - w->start_ns >= SKV_LAT_WINDOW_IDLE_NS) {
		skv_metrics_client_lat(pm, lat);
		/* Not one client reply since the window opened: idle. */
		idle = !memcmp(lat, w->lat, sizeof(lat));
	}
	ret = idle ? 0 : w->p999_us;
	spin_unlock_irqrestore(&w->lock, flags);
	return ret;
}

/* op's counters summed over CPUs; false if it never replied. */
static bool skv_metrics_sum(struct skv_metrics_cpu __percpu *pm, u8 op,
			    u64 *replies, u64 *lat, u64 *lat_sum)
{
	u64 total = 0;
	int cpu, i;

	memset(replies, 0, SKV_S_MAX * sizeof(*replies));
	memset(lat, 0, SKV_METRICS_LAT_BUCKETS * sizeof(*lat));
	*lat_sum = 0;
	for_each_possible_cpu(cpu) {
		const struct skv_metrics_cpu *m = per_cpu_ptr(pm, cpu);

		for (i = 0; i < SKV_S_MAX; i++)
			replies[i] += READ_ONCE(m->replies[op][i]);
		for (i = 0; i < SKV_METRICS_LAT_BUCKETS; i++)
			lat[i] += READ_ONCE(m->lat[op][i]);
		*lat_sum += READ_ONCE(m->lat_sum_ns[op]);
	}
	for (i = 0; i < SKV_S_MAX; i++)
		total += replies[i];
	return total;
}

/* One message per opcode that replied; cb->args[0]: the next opcode. */
int steadykv_nl_metrics_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	struct skv_node *node = skv_node(sock_net(skb->sk));
	struct skv_metrics_cpu __percpu *pm;
	u64 replies[SKV_S_MAX], lat[SKV_METRICS_LAT_BUCKETS], lat_sum;
	u32 op = cb->args[0];
	void *hdr;

	mutex_lock(&node->lock);
	pm = node->metrics;
	for (; pm && op < SKV_OP_MAX; op++) {
		if (!skv_metrics_sum(pm, op, replies, lat, &lat_sum))
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &steadykv_nl_family,
				  NLM_F_MULTI, STEADYKV_CMD_METRICS_GET);
		if (!hdr)
			break;
		if (nla_put_u32(skb, STEADYKV_A_METRICS_OP, op) ||
		    nla_put(skb, STEADYKV_A_METRICS_STATUS_COUNTS,
			    sizeof(replies), replies) ||
		    nla_put(skb, STEADYKV_A_METRICS_LATENCY_BUCKETS,
			    sizeof(lat), lat) ||
		    skv_nl_put_u64(skb, STEADYKV_A_METRICS_LATENCY_SUM_NS,
				   lat_sum)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	mutex_unlock(&node->lock);
	cb->args[0] = op;
	return skb->len;
}
