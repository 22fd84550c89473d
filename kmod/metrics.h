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
#include <linux/spinlock.h>
#include <linux/time64.h>
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

/*
 * The clients' latency over a recent window (the migration's pacing reads
 * it): the service times of client ops counted since the window began.
 */
struct skv_lat_window {
	spinlock_t lock;
	u64 start_ns;			/* 0: none yet */
	u64 lat[SKV_METRICS_LAT_BUCKETS];	/* the sums at start_ns */
	u32 p999_us;			/* of the last window closed */
};

/*
 * Shortest window, and fewest client replies in one to tell a latency.
 * A window left open longer than SKV_LAT_WINDOW_STALE_NS (nobody asked:
 * no migration ran) tells of a time long gone; it is reopened instead.
 */
#define SKV_LAT_WINDOW_NS	(100 * NSEC_PER_MSEC)
#define SKV_LAT_WINDOW_STALE_NS	(10 * SKV_LAT_WINDOW_NS)
#define SKV_LAT_WINDOW_MIN_OPS	20
/*
 * A first window with no client reply at all this long tells idle at
 * once: a node nobody asks needs no whole window to say so, and an
 * unloaded migration goes to full speed that much sooner.
 */
#define SKV_LAT_WINDOW_IDLE_NS	(SKV_LAT_WINDOW_NS / 4)

/*
 * The p99.9 of the node's client requests (PING, GET, PUT, DELETE and
 * MULTI_GET, from the wake-up that brought one to its reply) in the last
 * window of at least SKV_LAT_WINDOW_NS, in us, at least 1; 0 if that
 * window had fewer than SKV_LAT_WINDOW_MIN_OPS replies (idle: nothing to
 * protect); SKV_P999_UNKNOWN while no window has closed since the first
 * call or since one went stale (a migration's first steps: no figure yet),
 * but 0 once that first window is SKV_LAT_WINDOW_IDLE_NS old without one.
 * A call closes the window when it is long enough.  Any context.
 */
u32 skv_metrics_client_p999_us(struct skv_node *node);

/* node->metrics, if not yet there.  Caller holds node->lock.  0 or -ENOMEM. */
int skv_metrics_init(struct skv_node *node);
/* At namespace exit, once no connection is left. */
void skv_metrics_free(struct skv_node *node);
/* skv_request_handle(), counted and timed. */
int skv_metrics_handle(struct skv_conn *c, const struct skv_hdr *h,
		       const u8 *body, u32 body_len);

#endif /* SKV_METRICS_H */
