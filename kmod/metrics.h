/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-node request counters: replies by opcode and status, and a log2
 * histogram of each opcode's service time, per CPU (no shared cache line
 * on the request path), summed by the metrics-get dump.  The module's
 * tracepoints (trace.h) are defined in metrics.c.
 */
#ifndef SKV_METRICS_H
#define SKV_METRICS_H

#include <linux/types.h>
#include <steadykv/wire.h>

struct skv_node;
struct skv_conn;

/* Index i: 2^(i-1) <= ns < 2^i; the last one holds every longer time. */
#define SKV_METRICS_LAT_BUCKETS	32
/* skv_conn.reply_status before a reply is queued. */
#define SKV_METRICS_NO_REPLY	0xff

/* Index 0 holds opcodes the node does not know (0 is no opcode). */
struct skv_metrics_cpu {
	u64 replies[SKV_OP_MAX][SKV_S_MAX];
	u64 lat[SKV_OP_MAX][SKV_METRICS_LAT_BUCKETS];
	u64 lat_sum_ns[SKV_OP_MAX];
};

/* node->metrics, if not yet there.  Caller holds node->lock.  0 or -ENOMEM. */
int skv_metrics_init(struct skv_node *node);
/* At namespace exit, once no connection is left. */
void skv_metrics_free(struct skv_node *node);
/* skv_request_handle(), counted and timed. */
int skv_metrics_handle(struct skv_conn *c, const struct skv_hdr *h,
		       const u8 *body, u32 body_len);

#endif /* SKV_METRICS_H */
