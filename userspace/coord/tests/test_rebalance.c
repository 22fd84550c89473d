// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The rebalancing policy (coord_rebalance.c), a pure function: load
 * figures and a clock in, a decision out.  No timing, no sockets.
 */
#include <stdint.h>
#include <string.h>

#include "kselftest_harness.h"
#include "coord_rebalance.h"

#define HOLD	3000
#define COOL	10000
#define HALF	0x8000000000000000ull

static const struct rebalance_opts opts = {
	.mode = REBALANCE_ON, .share = 0.5, .hold_ms = HOLD, .cooldown_ms = COOL,
};

static void nodes3(struct rb_node n[3], double r1, double r2, double r3)
{
	memset(n, 0, 3 * sizeof(*n));
	for (int i = 0; i < 3; i++) {
		n[i].id = (uint32_t)i + 1;
		n[i].up = true;
	}
	n[0].rate = r1;
	n[1].rate = r2;
	n[2].rate = r3;
}

static struct rb_tablet tab(uint32_t owner, uint64_t start, uint64_t end, double rate)
{
	return (struct rb_tablet){ .table_id = 1, .start = start, .end = end,
				   .owner = owner, .rate = rate, .movable = true };
}

/* Call at @t0, then once the hold is over: the second verdict. */
static enum rb_verdict after_hold_opts(const struct rebalance_opts *o, struct rb_state *s,
				       const struct rb_node *n, size_t nn,
				       const struct rb_tablet *t, size_t nt, int64_t t0,
				       struct rb_decision *d)
{
	rebalance_decide(o, s, n, nn, t, nt, t0, d);
	return rebalance_decide(o, s, n, nn, t, nt, t0 + HOLD, d);
}

static enum rb_verdict after_hold(struct rb_state *s, const struct rb_node *n, size_t nn,
				  const struct rb_tablet *t, size_t nt, int64_t t0,
				  struct rb_decision *d)
{
	return after_hold_opts(&opts, s, n, nn, t, nt, t0, d);
}

TEST(balanced_or_too_little_load)
{
	struct rb_state s = { 0 };
	struct rb_decision d;
	struct rb_node n[3];
	struct rb_tablet t = tab(1, 0, UINT64_MAX, 100);

	nodes3(n, 100, 100, 100);
	ASSERT_EQ((int)RB_BALANCED, (int)rebalance_decide(&opts, &s, n, 3, &t, 1, 1000, &d));
	ASSERT_EQ(0u, s.hot_node);
	/* 100% on one node, but below REBALANCE_MIN_RATE. */
	nodes3(n, REBALANCE_MIN_RATE - 1, 0, 0);
	t.rate = n[0].rate;
	ASSERT_EQ((int)RB_BALANCED, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
	/* Exactly the share is not over it. */
	nodes3(n, 100, 50, 50);
	ASSERT_EQ((int)RB_BALANCED, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
}

TEST(hot_only_after_the_hold)
{
	struct rb_state s = { 0 };
	struct rb_decision d;
	struct rb_node n[3];
	struct rb_tablet t[2] = { tab(1, 0, 99, 500), tab(1, 100, 199, 400) };

	nodes3(n, 900, 50, 50);
	ASSERT_EQ((int)RB_WAIT, (int)rebalance_decide(&opts, &s, n, 3, t, 2, 1000, &d));
	ASSERT_EQ(1u, d.src);
	ASSERT_EQ(1u, s.hot_node);
	ASSERT_EQ((int)RB_WAIT, (int)rebalance_decide(&opts, &s, n, 3, t, 2, 1000 + HOLD - 1, &d));
	/* Balanced for a moment: the hold starts again. */
	nodes3(n, 400, 300, 300);
	ASSERT_EQ((int)RB_BALANCED, (int)rebalance_decide(&opts, &s, n, 3, t, 2, 1000 + HOLD, &d));
	nodes3(n, 900, 50, 50);
	ASSERT_EQ((int)RB_WAIT, (int)rebalance_decide(&opts, &s, n, 3, t, 2, 1000 + HOLD + 1, &d));
	ASSERT_EQ((int)RB_MOVE, (int)rebalance_decide(&opts, &s, n, 3, t, 2, 1000 + 2 * HOLD + 1, &d));
}

/* One tablet carries it all: its upper half moves to the idle node. */
TEST(one_hot_tablet_is_split_at_its_median_hash)
{
	struct rb_state s = { 0 };
	struct rb_decision d;
	struct rb_node n[3];
	struct rb_tablet t = tab(1, 0, UINT64_MAX, 1000);

	nodes3(n, 1000, 0, 0);
	ASSERT_EQ((int)RB_MOVE, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
	ASSERT_EQ(1u, d.src);
	ASSERT_EQ(2u, d.dst);	/* the least loaded, lowest id on a tie */
	ASSERT_TRUE(d.split);
	ASSERT_EQ(HALF, d.start);
	ASSERT_EQ(UINT64_MAX, d.end);
	ASSERT_EQ(500, (int)d.moved_rate);
	ASSERT_EQ(0u, s.hot_node);
	ASSERT_EQ(1000 + HOLD, s.last_move_ms);
	/* A busy target gives way to the next one. */
	n[1].busy = true;
	ASSERT_EQ((int)RB_MOVE, (int)after_hold(&s, n, 3, &t, 1, 1000 + HOLD + COOL, &d));
	ASSERT_EQ(3u, d.dst);
	/* The fraction moved is want / rate of the tablet's hashes. */
	n[1].busy = false;
	n[2].rate = 200;
	t.start = 0;
	t.end = (1ull << 40) - 1;
	ASSERT_EQ((int)RB_MOVE, (int)after_hold(&s, n, 3, &t, 1, 100000, &d));
	ASSERT_EQ(2u, d.dst);	/* 0 < 200 */
	ASSERT_EQ(1ull << 39, d.start);	/* (1000 - 0) / 2 = 500: half of it */
}

TEST(a_tablet_below_the_gap_moves_whole)
{
	struct rb_state s = { 0 };
	struct rb_decision d;
	struct rb_node n[3];
	struct rb_tablet t[4] = {
		tab(1, 0, 99, 400), tab(1, 100, 199, 300), tab(1, 200, 299, 200),
		tab(2, 300, 399, 50),
	};

	nodes3(n, 900, 50, 100);
	/* want = (900 - 50) / 2 = 425: the busiest tablet at most that. */
	ASSERT_EQ((int)RB_MOVE, (int)after_hold(&s, n, 3, t, 4, 1000, &d));
	ASSERT_FALSE(d.split);
	ASSERT_EQ(2u, d.dst);
	ASSERT_EQ(0u, d.start);
	ASSERT_EQ(99u, d.end);
	ASSERT_EQ(400, (int)d.moved_rate);
	/* Not movable (migrating, lost): the next one. */
	t[0].movable = false;
	ASSERT_EQ((int)RB_MOVE, (int)after_hold(&s, n, 3, t, 4, 1000 + HOLD + COOL, &d));
	ASSERT_EQ(100u, d.start);
	t[1].movable = false;
	t[2].movable = false;
	ASSERT_EQ((int)RB_WAIT, (int)after_hold(&s, n, 3, t, 4, 1000 + 2 * (HOLD + COOL), &d));
	ASSERT_STREQ("no range of the hot node worth moving", d.why);
}

TEST(narrow_tablets_move_whole_only_if_it_helps)
{
	struct rb_state s = { 0 };
	struct rb_decision d;
	struct rb_node n[3];
	struct rb_tablet t = tab(1, 0, REBALANCE_MIN_SPLIT_WIDTH - 2, 900);

	/* One hot key's tablet: moving it only moves the hot spot. */
	nodes3(n, 900, 0, 0);
	ASSERT_EQ((int)RB_WAIT, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
	/* With the rest of the load elsewhere on the node, it helps. */
	memset(&s, 0, sizeof(s));
	nodes3(n, 1200, 0, 0);
	ASSERT_EQ((int)RB_MOVE, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
	ASSERT_FALSE(d.split);
	ASSERT_EQ(0u, d.start);
}

TEST(limits_cooldown_busy_nodes_no_target)
{
	struct rb_state s = { 0 };
	struct rb_decision d;
	struct rb_node n[3];
	struct rb_tablet t = tab(1, 0, UINT64_MAX, 1000);

	nodes3(n, 1000, 0, 0);
	ASSERT_EQ((int)RB_MOVE, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
	/* The next move waits for the cool-down, counted from the last. */
	ASSERT_EQ((int)RB_WAIT, (int)after_hold(&s, n, 3, &t, 1, 1000 + HOLD, &d));
	ASSERT_STREQ("cool-down after the last move", d.why);
	ASSERT_EQ((int)RB_WAIT, (int)rebalance_decide(&opts, &s, n, 3, &t, 1,
					    1000 + HOLD + COOL - 1, &d));
	ASSERT_EQ((int)RB_MOVE, (int)rebalance_decide(&opts, &s, n, 3, &t, 1, 1000 + HOLD + COOL, &d));
	/* One migration at a time per node. */
	memset(&s, 0, sizeof(s));
	n[0].busy = true;
	ASSERT_EQ((int)RB_WAIT, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
	ASSERT_STREQ("the hot node takes part in a migration", d.why);
	n[0].busy = false;
	n[1].busy = true;
	n[2].up = false;
	ASSERT_EQ((int)RB_WAIT, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
	ASSERT_STREQ("no node up and free to take a range", d.why);
	n[2].up = true;
	ASSERT_EQ((int)RB_MOVE, (int)after_hold(&s, n, 3, &t, 1, 1000, &d));
	ASSERT_EQ(3u, d.dst);
}

/*
 * Convergence on a model with load uniform over the hashes: the moves
 * the policy makes, applied, end in balance within a few moves, and the
 * hot node's rate never grows.
 */
TEST(moves_converge_without_bouncing)
{
	struct rebalance_opts o = opts;
	struct rb_tablet t[16];
	struct rb_node n[3];
	struct rb_state s = { 0 };
	struct rb_decision d;
	const double total = 3000;
	int64_t now = 1000;
	size_t nt = 1, i;
	int moves = 0;
	double prev_max = total;

	o.share = 0.4;	/* three moves: halves, then a quarter */
	t[0] = tab(1, 0, UINT64_MAX, total);
	for (;;) {
		double r[3] = { 0, 0, 0 }, max = 0;
		enum rb_verdict v;

		for (i = 0; i < nt; i++)
			r[t[i].owner - 1] += t[i].rate;
		nodes3(n, r[0], r[1], r[2]);
		for (i = 0; i < 3; i++)
			max = r[i] > max ? r[i] : max;
		ASSERT_LE(max, prev_max + 1e-6);
		prev_max = max;
		v = after_hold_opts(&o, &s, n, 3, t, nt, now, &d);
		now += HOLD + COOL;
		if (v == RB_BALANCED)
			break;
		ASSERT_EQ((int)RB_MOVE, (int)v);
		ASSERT_LT(++moves, 6);
		for (i = 0; i < nt; i++)
			if (t[i].start <= d.start && d.end <= t[i].end)
				break;
		ASSERT_LT(i, nt);
		if (d.split) {
			double part = (double)(d.end - d.start) + 1;
			double whole = (double)(t[i].end - t[i].start) + 1;

			ASSERT_LT(nt, 16u);
			t[nt] = tab(d.dst, d.start, d.end, t[i].rate * part / whole);
			t[i].end = d.start - 1;
			t[i].rate -= t[nt].rate;
			nt++;
		} else {
			t[i].owner = d.dst;
		}
	}
	ASSERT_EQ(3, moves);
	ASSERT_LE(prev_max, o.share * total);
}

TEST(mode_names)
{
	enum rebalance_mode m;

	ASSERT_EQ(0, rebalance_mode_parse("on", &m));
	ASSERT_EQ((int)REBALANCE_ON, (int)m);
	ASSERT_EQ(0, rebalance_mode_parse("dry-run", &m));
	ASSERT_EQ((int)REBALANCE_DRY_RUN, (int)m);
	ASSERT_EQ(0, rebalance_mode_parse("off", &m));
	ASSERT_EQ((int)REBALANCE_OFF, (int)m);
	ASSERT_EQ(-1, rebalance_mode_parse("yes", &m));
}

TEST_HARNESS_MAIN
