// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration, target side: pacing the bulk pulls by the clients'
 * latency, in the manner of DRBD's resync controller and of LEDBAT.
 *
 * Every SKV_MIG_PACE_EVERY (SKV_MIG_PACE_FIRST until it has had both
 * figures) the pass asks for a step.  Its signal is the higher of the
 * client p99.9 here and at the source (the source sends its own in every
 * pull reply), each over its last window (metrics.c).
 * The pulls allowed in flight (the depth, 1 to the migration's
 * pulls-in-flight) then go:
 *   - no figure yet at either end (its first window has not closed,
 *     and has seen client requests, or is not SKV_LAT_WINDOW_IDLE_NS
 *     old): kept, so a migration starts at one pull until it knows its
 *     load;
 *   - no client load at either end: all of them at once, each asking
 *     for mig_idle_pull_kb if the migration's pull-budget is less (as
 *     fast as the link and the replay allow: no one waits, and fewer,
 *     larger pulls cost less per byte: with every pull in flight in the
 *     TCG guest, pulls of 256 KiB moved 1.27x the data per second of
 *     20 KiB ones, and 1 MiB ones no more than 256 KiB);
 *   - the signal above the goal: halved (at least one pull goes on, so
 *     the migration always ends);
 *   - else one more.
 * With any client load a pull asks for the migration's pull-budget: a
 * larger one holds the source's worker longer while clients wait.
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
	WRITE_ONCE(m->pace_budget, m->p.budget);
	/*
	 * Open this node's window now (the source's opens at the first
	 * pull), so the first step, SKV_MIG_PACE_EVERY from here, has both
	 * figures rather than only learning that one window has begun.
	 */
	skv_metrics_client_p999_us(m->node);
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

bool skv_tgt_pace(struct skv_mig *m)
{
	u32 all = m->p.inflight, depth = READ_ONCE(m->pace_depth), next;
	u32 here = skv_metrics_client_p999_us(m->node);
	u32 there = READ_ONCE(m->src_p999_us);
	u32 signal = max(here, there), budget = m->p.budget;

	if (!READ_ONCE(skv_mig_pace)) {
		next = all;
	} else if (here == SKV_P999_UNKNOWN || there == SKV_P999_UNKNOWN) {
		return false;
	} else if (!signal) {
		next = all;
		budget = max(budget, min(READ_ONCE(skv_mig_idle_pull_kb),
					 SKV_MAX_PULL_BUDGET / 1024) * 1024);
	} else if (signal > skv_tgt_pace_goal(m, signal)) {
		next = max(depth / 2, 1u);
	} else {
		next = min(depth + 1, all);
	}
	WRITE_ONCE(m->pace_p999_us, signal);
	WRITE_ONCE(m->pace_budget, budget);
	if (next != depth) {
		WRITE_ONCE(m->pace_depth, next);
		trace_skv_mig_pace(m->p.id, here, there, next);
		if (next > depth)
			wake_up_all(&m->wq);
	}
	return true;
}

void skv_tgt_pace_source(struct skv_mig *m, const u8 *reply)
{
	WRITE_ONCE(m->src_p999_us,
		   get_unaligned_le32(reply + offsetof(struct skv_pull_reply,
						       client_p999_us)));
}
