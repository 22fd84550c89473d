// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration, target side: pacing the bulk pulls by the clients'
 * latency, in the manner of DRBD's resync controller and of LEDBAT.
 *
 * Every SKV_MIG_PACE_EVERY the pass asks for a step.  Its signal is the
 * higher of the client p99.9 here and at the source (the source sends
 * its own in every pull reply), each over its last window (metrics.c).
 * The pulls allowed in flight (the depth, 1 to the migration's
 * pulls-in-flight) then go:
 *   - no figure yet at either end (its first window has not closed):
 *     kept, so a migration starts at one pull until it knows its load;
 *   - no client load at either end: doubled, up to all of them (as fast
 *     as the link and the replay allow);
 *   - the signal above the goal: halved (at least one pull goes on, so
 *     the migration always ends);
 *   - else one more.
 * The goal is mig_latency_goal_us, or twice the base: the lowest signal
 * seen in this migration, which creeps up by 1/32 a step so that a new
 * regime of load (or a lucky early window) does not pin it for good.
 * Priority pulls are not paced: a client waits for each.
 */
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/wait.h>
#include <linux/unaligned.h>

#include "node.h"
#include "metrics.h"
#include "mig_target.h"
#include "mig_target_int.h"
#include "trace.h"

void skv_tgt_pace_start(struct skv_mig *m)
{
	m->pace_base_us = 0;
	WRITE_ONCE(m->pace_p999_us, 0);
	WRITE_ONCE(m->src_p999_us, SKV_P999_UNKNOWN);
	WRITE_ONCE(m->pace_depth, READ_ONCE(skv_mig_pace) ? 1 : m->p.inflight);
}

/*
 * The goal for a step whose signal is not 0.  The base is the lowest
 * signal seen, creeping up by 1/32 a step; only such steps move it, so it
 * stays near the signals seen however long a migration idles.
 */
static u64 skv_tgt_pace_goal(struct skv_mig *m, u32 signal)
{
	u32 goal = READ_ONCE(skv_mig_latency_goal_us);
	u64 base = m->pace_base_us;

	if (!base || signal < base)
		base = signal;
	else
		base = min_t(u64, base + max_t(u64, base / 32, 1), U32_MAX);
	m->pace_base_us = base;
	return goal ?: 2 * base;
}

void skv_tgt_pace(struct skv_mig *m)
{
	u32 all = m->p.inflight, depth = READ_ONCE(m->pace_depth), next;
	u32 here = skv_metrics_client_p999_us(m->node);
	u32 there = READ_ONCE(m->src_p999_us);
	u32 signal = max(here, there);

	if (!READ_ONCE(skv_mig_pace))
		next = all;
	else if (here == SKV_P999_UNKNOWN || there == SKV_P999_UNKNOWN)
		return;
	else if (!signal)
		next = min(2 * depth, all);
	else if (signal > skv_tgt_pace_goal(m, signal))
		next = max(depth / 2, 1u);
	else
		next = min(depth + 1, all);
	WRITE_ONCE(m->pace_p999_us, signal);
	if (next == depth)
		return;
	WRITE_ONCE(m->pace_depth, next);
	trace_skv_mig_pace(m->p.id, here, there, next);
	if (next > depth)
		wake_up_all(&m->wq);
}

void skv_tgt_pace_source(struct skv_mig *m, const u8 *reply)
{
	WRITE_ONCE(m->src_p999_us,
		   get_unaligned_le32(reply + offsetof(struct skv_pull_reply,
						       client_p999_us)));
}
