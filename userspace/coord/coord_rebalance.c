// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Automatic rebalancing: the coordinator moves load away from a node that
 * carries too much of it (steadykvd --coordinator --rebalance on).
 *
 * Figures: every node daemon sends its module's per-tablet request
 * counters (NODE_LOAD, coord.h) each heartbeat interval.  A rate is the
 * difference of two readings at least REBALANCE_WINDOW_MS apart over the
 * node's own clock; a tablet that is new or whose counter went back (its
 * range changed) has no rate until its next window, and its node has no
 * figures until then.  A node's rate is the sum of its tablets'.  Figures older than REBALANCE_STALE_MS are stale;
 * the policy runs only while every node that is up has fresh ones.
 *
 * The policy (rebalance_decide, pure: tests give it figures and a clock):
 *   - the node with the highest rate is hot when it carries more than
 *     --rebalance-share of the cluster's rate (and the cluster serves at
 *     least REBALANCE_MIN_RATE requests/s), and stays hot for
 *     --rebalance-hold-ms;
 *   - no move sooner than --rebalance-cooldown-ms after the last one, and
 *     one migration at a time per node: neither the hot node nor the
 *     target may take part in a migration in progress (anyone's);
 *   - the target is the least-loaded node that is up and free (the lowest
 *     id on a tie);
 *   - what to move: want = (hot - target) / 2, the amount that evens the
 *     two out.  The hot node's busiest tablet whose rate is at most want
 *     moves whole.  If every tablet carries more than want (one tablet
 *     carries most of it), the hottest is split: the module counts per
 *     tablet only, so the load is taken as uniform over the tablet's
 *     hashes (keys are placed by hash), and the tablet's upper part with
 *     the fraction want / rate of its hashes moves; with an idle target
 *     that is the half above the load's median hash under that
 *     assumption.  A zipfian hot key makes the real share differ: the
 *     next round (after the cool-down) corrects what remains.  A tablet
 *     narrower than REBALANCE_MIN_SPLIT_WIDTH moves whole, and only if
 *     that lowers the hot node below where it was.  A move expected to
 *     take less than REBALANCE_MIN_MOVE_SHARE of the cluster's load is
 *     not made.
 * Each move takes at most half of the gap between the hot node and the
 * target, so the target never ends above the hot node: moves do not
 * bounce a range back and forth.
 *
 * The move is a Rocksteady migration started as MIGRATE would
 * (coord_mig_start: the map splits to make the range a tablet), logged as
 * "rebalance: ... migration ID".  --rebalance dry-run logs the same
 * decision ("would move") and starts nothing; the cool-down applies to it
 * too, so it logs once per cool-down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"
#include "coord_rebalance.h"

#define REBALANCE_WINDOW_MS	1000
#define REBALANCE_STALE_MS	3000
#define REBALANCE_TICK_MS	500

int rebalance_mode_parse(const char *s, enum rebalance_mode *mode)
{
	if (!strcmp(s, "off"))
		*mode = REBALANCE_OFF;
	else if (!strcmp(s, "dry-run"))
		*mode = REBALANCE_DRY_RUN;
	else if (!strcmp(s, "on"))
		*mode = REBALANCE_ON;
	else
		return -1;
	return 0;
}

static enum rb_verdict rb_wait(struct rb_decision *d, const char *why)
{
	d->verdict = RB_WAIT;
	d->why = why;
	return RB_WAIT;
}

/* The least-loaded node that is up and free, other than @hot. */
static const struct rb_node *rb_target(const struct rb_node *nodes, size_t n,
				       const struct rb_node *hot)
{
	const struct rb_node *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct rb_node *x = &nodes[i];

		if (x == hot || !x->up || x->busy)
			continue;
		if (!best || x->rate < best->rate ||
		    (x->rate == best->rate && x->id < best->id))
			best = x;
	}
	return best;
}

/* Pick the range to move off @hot (see the top of the file). */
static bool rb_pick(const struct rb_tablet *tablets, size_t n,
		    const struct rb_node *hot, const struct rb_node *dst,
		    struct rb_decision *d)
{
	const struct rb_tablet *whole = NULL, *hottest = NULL, *t;
	double want = (hot->rate - dst->rate) / 2;
	size_t i;

	for (i = 0; i < n; i++) {
		t = &tablets[i];
		if (t->owner != hot->id || !t->movable || t->rate <= 0)
			continue;
		if (t->rate <= want && (!whole || t->rate > whole->rate))
			whole = t;
		if (!hottest || t->rate > hottest->rate)
			hottest = t;
	}
	t = whole ? whole : hottest;
	if (!t)
		return false;
	d->table_id = t->table_id;
	d->start = t->start;
	d->end = t->end;
	d->tablet_rate = t->rate;
	d->moved_rate = t->rate;
	if (whole)
		return true;
	if (t->end - t->start >= REBALANCE_MIN_SPLIT_WIDTH) {
		long double hashes = (long double)(t->end - t->start) + 1;
		long double part = hashes * (want / t->rate);

		/* A part of at least one hash, and not the whole (rounding). */
		if (part < 1 || part >= hashes)
			return false;
		d->start = t->end - ((uint64_t)part - 1);
		d->moved_rate = want;
		d->split = true;
		return true;
	}
	/* Too narrow to split: whole, if the hot node ends up lower for it. */
	return dst->rate + t->rate < hot->rate;
}

enum rb_verdict rebalance_decide(const struct rebalance_opts *o, struct rb_state *s,
				 const struct rb_node *nodes, size_t nr_nodes,
				 const struct rb_tablet *tablets, size_t nr_tablets,
				 int64_t now_ms, struct rb_decision *d)
{
	const struct rb_node *hot = NULL, *dst;
	size_t i;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < nr_nodes; i++) {
		d->total_rate += nodes[i].rate;
		if (!hot || nodes[i].rate > hot->rate)
			hot = &nodes[i];
	}
	if (!hot || d->total_rate < REBALANCE_MIN_RATE ||
	    hot->rate <= o->share * d->total_rate) {
		s->hot_node = 0;
		d->verdict = RB_BALANCED;
		return RB_BALANCED;
	}
	d->src = hot->id;
	d->src_rate = hot->rate;
	if (s->hot_node != hot->id) {
		s->hot_node = hot->id;
		s->hot_since_ms = now_ms;
	}
	if (now_ms - s->hot_since_ms < o->hold_ms)
		return rb_wait(d, "hot for less than the hold time");
	if (s->last_move_ms && now_ms - s->last_move_ms < o->cooldown_ms)
		return rb_wait(d, "cool-down after the last move");
	if (hot->busy)
		return rb_wait(d, "the hot node takes part in a migration");
	dst = rb_target(nodes, nr_nodes, hot);
	if (!dst)
		return rb_wait(d, "no node up and free to take a range");
	d->dst = dst->id;
	d->dst_rate = dst->rate;
	if (!rb_pick(tablets, nr_tablets, hot, dst, d) ||
	    d->moved_rate < REBALANCE_MIN_MOVE_SHARE * d->total_rate)
		return rb_wait(d, "no range of the hot node worth moving");
	s->last_move_ms = now_ms;
	s->hot_node = 0;	/* hot again only after a new hold */
	d->verdict = RB_MOVE;
	return RB_MOVE;
}

/* ---- the coordinator's glue ---- */

/* A node's figures. */
struct rb_stat {
	uint32_t id;
	struct coord_load_info base;	/* the reading rates are taken from */
	struct rb_tablet *rates;	/* owner = id; rate < 0: none yet */
	uint32_t nr_rates;
	double rate;
	int64_t rate_ms;	/* coordinator's clock when rate was made; 0: none */
};

struct coord_rebalance {
	struct rebalance_opts o;
	struct rb_state s;
	struct rb_stat *stats;
	size_t nr_stats;
	int64_t tick_ms;
	const char *last_why;	/* the last RB_WAIT logged, not to repeat it */
	uint64_t moves[2];	/* [0] migrations started, [1] dry-run decisions */
};

int coord_rebalance_init(struct coordinator *c, const struct rebalance_opts *o)
{
	struct coord_rebalance *rb = calloc(1, sizeof(*rb));

	if (!rb)
		return -ENOMEM;
	rb->o = *o;
	if (!(rb->o.share > 0 && rb->o.share < 1))
		rb->o.share = REBALANCE_DEFAULT_SHARE;
	if (rb->o.hold_ms <= 0)
		rb->o.hold_ms = REBALANCE_DEFAULT_HOLD_MS;
	if (rb->o.cooldown_ms <= 0)
		rb->o.cooldown_ms = REBALANCE_DEFAULT_COOLDOWN_MS;
	c->rb = rb;
	return 0;
}

void coord_rebalance_free(struct coordinator *c)
{
	struct coord_rebalance *rb = c->rb;
	size_t i;

	if (!rb)
		return;
	for (i = 0; i < rb->nr_stats; i++) {
		free(rb->stats[i].base.tablets);
		free(rb->stats[i].rates);
	}
	free(rb->stats);
	free(rb);
	c->rb = NULL;
}

static struct rb_stat *rb_stat_get(struct coord_rebalance *rb, uint32_t id)
{
	struct rb_stat *v;
	size_t i;

	for (i = 0; i < rb->nr_stats; i++)
		if (rb->stats[i].id == id)
			return &rb->stats[i];
	v = ARRAY_PUSH(rb->stats, rb->nr_stats);
	if (v)
		v->id = id;
	return v;
}

static const struct coord_tablet_load *load_find(const struct coord_load_info *l,
						 const struct coord_tablet_load *t)
{
	uint32_t i;

	for (i = 0; i < l->nr_tablets; i++)
		if (l->tablets[i].table_id == t->table_id &&
		    l->tablets[i].start_hash == t->start_hash &&
		    l->tablets[i].end_hash == t->end_hash)
			return &l->tablets[i];
	return NULL;
}

/*
 * Rates of @now against st->base; @now becomes the base.  A tablet
 * without a rate (its range is new: a split, a migration) leaves the
 * node without figures until the next window: its rate would count it
 * as idle.  0 or -ENOMEM.
 */
static int rb_stat_update(struct rb_stat *st, struct coord_load_info *now)
{
	double secs = (double)(now->sampled_ms - st->base.sampled_ms) / 1000;
	struct rb_tablet *rates = realloc(st->rates, (now->nr_tablets + 1) * sizeof(*rates));
	bool complete = true;
	uint32_t i;

	if (!rates)
		return -ENOMEM;
	/* Every entry below is written whole. */
	st->rates = rates;
	st->rate = 0;
	for (i = 0; i < now->nr_tablets; i++) {
		const struct coord_tablet_load *t = &now->tablets[i];
		const struct coord_tablet_load *b = load_find(&st->base, t);

		rates[i] = (struct rb_tablet){
			.table_id = t->table_id, .start = t->start_hash,
			.end = t->end_hash, .owner = st->id, .rate = -1,
		};
		if (b && t->requests >= b->requests) {
			rates[i].rate = (double)(t->requests - b->requests) / secs;
			st->rate += rates[i].rate;
		} else {
			complete = false;
		}
	}
	st->nr_rates = now->nr_tablets;
	free(st->base.tablets);
	st->base = *now;
	now->tablets = NULL;
	st->rate_ms = complete ? coord_mono_ms() : 0;
	return 0;
}

/*
 * gcc 12's -fanalyzer reports the rates rb_stat_update() stores in *st as
 * leaked: it loses track of a pointer kept in an element of the realloc'd
 * rb->stats.  They are freed by coord_rebalance_free().
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-malloc-leak"
void coord_do_node_load(struct coordinator *c, struct conn *cn,
			const struct coord_hdr *h, const uint8_t *body)
{
	struct coord_load_info l;
	struct rb_stat *st;
	int err;

	if (!cn->node_id) {
		coord_reply_err(cn, h->opcode, h->request_id, EPERM,
				"NODE_LOAD before NODE_REGISTER");
		return;
	}
	err = coord_load_decode(body, h->body_len, &l);
	if (err) {
		coord_reply_err(cn, h->opcode, h->request_id, -err == EBADMSG ? EINVAL : -err,
				"malformed NODE_LOAD body");
		return;
	}
	st = c->rb && c->rb->o.mode != REBALANCE_OFF ? rb_stat_get(c->rb, cn->node_id) :
	     NULL;
	if (!st) {
		/* Rebalancing off: the report is only a sign of life. */
		free(l.tablets);
		coord_reply_ok(cn, h->opcode, h->request_id, NULL, 0);
		return;
	}
	if (!st->base.sampled_ms || l.sampled_ms < st->base.sampled_ms) {
		/* The first reading (or a restarted daemon's clock): the base. */
		free(st->base.tablets);
		st->base = l;
		st->rate_ms = 0;
	} else if (l.sampled_ms - st->base.sampled_ms >= REBALANCE_WINDOW_MS) {
		if (rb_stat_update(st, &l))
			coord_logmsg(c, true, "rebalance: node %u: no memory for its figures",
				     cn->node_id);
		free(l.tablets);
	} else {
		free(l.tablets);
	}
	coord_reply_ok(cn, h->opcode, h->request_id, NULL, 0);
}
#pragma GCC diagnostic pop

static bool node_busy(const struct coordinator *c, uint32_t id)
{
	size_t i;

	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *g = &c->st.migs[i];

		if (!skv_mig_state_final(g->state) && (g->src == id || g->dst == id))
			return true;
	}
	return false;
}

/* A migration could take [start, end] of the table from @owner now. */
static bool range_movable(const struct coordinator *c, const struct rb_tablet *r)
{
	const struct tmap_tablet *t = tmap_find(&c->st.map, r->table_id, r->start);
	size_t i;

	if (!t || r->end > t->end || t->owner != r->owner || t->state != TMAP_NORMAL ||
	    coord_tablet_lost(c, r->table_id, t->start, t->end) ||
	    coord_table_has_op(c, r->table_id))
		return false;
	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *g = &c->st.migs[i];

		if (g->table_id == r->table_id && !skv_mig_state_final(g->state) &&
		    g->start_hash <= r->end && r->start <= g->end_hash)
			return false;
	}
	return true;
}

static void rb_act(struct coordinator *c, const struct rb_decision *d)
{
	struct coord_rebalance *rb = c->rb;
	bool dry = rb->o.mode == REBALANCE_DRY_RUN;
	struct skv_migration req;
	char what[400], why[300];
	uint64_t id;
	int err;

	snprintf(what, sizeof(what), "node %u carries %.0f of %.0f requests/s (%.0f%%, over "
		 "%.0f%% for %d ms): %s table %llu 0x%016llx-0x%016llx (%s, ~%.0f of the "
		 "tablet's %.0f requests/s) to node %u (%.0f requests/s)", d->src,
		 d->src_rate, d->total_rate, 100 * d->src_rate / d->total_rate,
		 100 * rb->o.share, rb->o.hold_ms, dry ? "would move" : "moving",
		 (unsigned long long)d->table_id, (unsigned long long)d->start,
		 (unsigned long long)d->end, d->split ? "part of a tablet, split" :
		 "a whole tablet", d->moved_rate, d->tablet_rate, d->dst, d->dst_rate);
	if (dry) {
		rb->moves[1]++;
		coord_logmsg(c, false, "rebalance (dry run): %s", what);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.table_id = d->table_id;
	req.start_hash = d->start;
	req.end_hash = d->end;
	req.dst = d->dst;
	req.mode = STEADYKV_MIGRATION_MODE_ROCKSTEADY;
	SKV_MIG_SET(&req, STEADYKV_A_MIGRATION_MODE);
	err = coord_mig_start(c, NULL, NULL, &req, &id, why, sizeof(why));
	if (err)
		coord_logmsg(c, true, "rebalance: %s: not started: %s", what, why);
	else
		coord_logmsg(c, false, "rebalance: %s: migration %llu", what,
			     (unsigned long long)id);
	rb->moves[0] += !err;
}

uint64_t coord_rebalance_moves(const struct coordinator *c, bool dry_run)
{
	return c->rb ? c->rb->moves[dry_run] : 0;
}

void coord_rebalance_tick(struct coordinator *c)
{
	struct coord_rebalance *rb = c->rb;
	int64_t now = coord_mono_ms();
	struct rb_node *nodes = NULL;
	struct rb_tablet *tablets = NULL;
	size_t i, j, nn = 0, nt = 0, cap = 0;
	struct rb_decision d;

	if (!rb || rb->o.mode == REBALANCE_OFF || now - rb->tick_ms < REBALANCE_TICK_MS)
		return;
	rb->tick_ms = now;
	nodes = calloc(c->st.map.nr_nodes + 1, sizeof(*nodes));
	if (!nodes)
		return;
	for (i = 0; i < rb->nr_stats; i++)
		cap += rb->stats[i].nr_rates;
	tablets = calloc(cap + 1, sizeof(*tablets));
	if (!tablets)
		goto out;
	for (i = 0; i < c->st.map.nr_nodes; i++) {
		uint32_t id = c->st.map.nodes[i].id;
		const struct rb_stat *st = NULL;

		if (!coord_node_up(c, id))
			continue;
		for (j = 0; j < rb->nr_stats; j++)
			if (rb->stats[j].id == id)
				st = &rb->stats[j];
		/* Decide on the whole cluster's figures or not at all. */
		if (!st || !st->rate_ms || now - st->rate_ms > REBALANCE_STALE_MS)
			goto out;
		nodes[nn++] = (struct rb_node){ .id = id, .up = true,
						.busy = node_busy(c, id), .rate = st->rate };
		for (j = 0; j < st->nr_rates; j++) {
			tablets[nt] = st->rates[j];
			tablets[nt].movable = tablets[nt].rate >= 0 &&
					      range_movable(c, &tablets[nt]);
			nt++;
		}
	}
	switch (rebalance_decide(&rb->o, &rb->s, nodes, nn, tablets, nt, now, &d)) {
	case RB_MOVE:
		rb->last_why = NULL;
		rb_act(c, &d);
		break;
	case RB_WAIT:
		if (d.why != rb->last_why)
			coord_logmsg(c, false, "rebalance: node %u carries %.0f%% of %.0f "
				     "requests/s: waiting (%s)", d.src,
				     100 * d.src_rate / d.total_rate, d.total_rate, d.why);
		rb->last_why = d.why;
		break;
	case RB_BALANCED:
		rb->last_why = NULL;
		break;
	}
out:
	free(nodes);
	free(tablets);
}
