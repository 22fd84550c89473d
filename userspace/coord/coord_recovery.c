// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Crash recovery (issue 12 item 4): the lost tablets of a dead node
 * (coord_liveness.c) are rebuilt on its backups, from the replicas of its
 * log they hold (coord_repl.c).
 *
 * Each liveness tick, with --replicas R > 0, every lost tablet of a node
 * still dead that has no recovery running is given to one of the dead
 * node's backups that is up (the assignment it had when it died), the
 * dead node's tablets dealt round-robin over them so that they recover
 * in parallel.  That node is sent NODE_REPL_RECOVER with the dead node's
 * id, a fresh epoch (above any given, so the module fences the replica at
 * it before it reads) and the tablet; its daemon runs netlink
 * repl-recover, which answers once the tablet is served there.  On
 * success the map makes that node the owner (a normal tablet, a new map
 * version) and the lost record is dropped, both in the state file.  On a
 * failure (refused, timed out, daemon gone) the tablet stays lost, the
 * error is logged, and it is tried again after a backoff (1 s doubling to
 * 30 s), at the next backup in turn; after its daemon went away, at the
 * same node (in_doubt) unless it is declared dead: it may have finished.
 *
 * Lineage: a lost tablet that a migration's target died with, before
 * the source freed its copy (a lineage record: the migration did not end
 * done), is recovered AT THE SOURCE if the source is up and one of the
 * dead target's backups (always so with three nodes and R = 2): the
 * module sees the range frozen there by the migration, replays the
 * target's replica over the copy and serves the range again (recovery.c
 * skv_recover_over_copy); on success the lineage record goes too.
 * Otherwise the tablet is rebuilt from the target's replica alone, and
 * the migrated records the target did not rewrite may be lost (logged).
 * The mirror image: a lost tablet whose migration's SOURCE died after
 * ownership moved (the records not pulled yet died with it) is recovered
 * AT THE TARGET, its owner in the map, if the target is up and one of the
 * dead source's backups: the module stops the migration there without
 * END (asking again until it has: EAGAIN), replays the source's replica
 * over what was pulled and written there and serves the range; the
 * lineage record goes and the migration, failed when the source was
 * declared dead, says the range was completed at the target.  Otherwise
 * the tablet is rebuilt from the source's replica alone on another
 * backup, and the writes accepted at the target may be lost (logged).
 *
 * Without replication (R = 0) nothing is done: lost tablets stay lost.  A
 * dead node may not register again while its lost tablets are being
 * rebuilt, or may still be (coord_recovery_pending): its new incarnation
 * would open its replicas afresh (the old contents go, under a recovery
 * reading them) and, no longer dead, its tablets would never be rebuilt:
 * a crashed node that rebooted faster than its tablets recovered lost
 * them.  Once they are, or once nothing can rebuild them (no node that
 * may hold its replica is up, or RECOVERY_HOLD_ATTEMPTS were refused),
 * it registers; its tablets still lost then stay lost; and it is told to
 * delete the tablets recovered elsewhere (NODE_TABLET_DEL), so that a node
 * only cut off does not serve them again.
 *
 * Across a coordinator restart: the lost records are in the state file,
 * and their owner is dead from the start until it registers (a record's
 * owner_back says it has since, and that its replicas are gone); recovery
 * resumes once one of its backups (the assignment is durable) is back, and
 * the dead node's registration is refused meanwhile, also during the
 * start grace (the daemons' time to reconnect) while none is.  The tablets
 * recovered before the restart are no longer remembered for a cut-off
 * node's return.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"

#define RECOVERY_RETRY_MIN_MS	1000
#define RECOVERY_RETRY_MAX_MS	30000
/*
 * Attempts refused (not EAGAIN or EBUSY: recovery_failed) after which the
 * dead node may return: about a minute, or more when each takes long.
 */
#define RECOVERY_HOLD_ATTEMPTS	6

static bool same_range(const struct coord_recovery *r, uint64_t table_id,
		       uint64_t start, uint64_t end)
{
	return r->table_id == table_id && r->start == start && r->end == end;
}

static struct coord_recovery *recovery_find(struct coordinator *c, uint64_t table_id,
					    uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < c->nr_recov; i++)
		if (same_range(&c->recov[i], table_id, start, end))
			return &c->recov[i];
	return NULL;
}

static void recovery_drop(struct coordinator *c, struct coord_recovery *r)
{
	size_t i = (size_t)(r - c->recov);

	memmove(r, r + 1, (c->nr_recov - i - 1) * sizeof(*r));
	c->nr_recov--;
}

static struct coord_recovery *recovery_get(struct coordinator *c, const struct coord_lost *l)
{
	struct coord_recovery *r = recovery_find(c, l->table_id, l->start, l->end);

	if (r)
		return r;
	r = ARRAY_PUSH(c->recov, c->nr_recov);
	if (!r)
		return NULL;
	r->table_id = l->table_id;
	r->start = l->start;
	r->end = l->end;
	r->dead = l->node;
	return r;
}

/*
 * The nodes that may recover @dead's tablets: its backups that are up,
 * else (its assignment unknown: a coordinator restarted) every node up.
 */
static size_t recovery_candidates(const struct coordinator *c, uint32_t dead, uint32_t *out,
				  size_t max)
{
	const struct coord_repl_info *ri = coord_repl_find(c, dead);
	const struct tablet_map *m = &c->st.map;
	size_t n = 0;

	if (ri && ri->nr_backups) {
		for (uint32_t k = 0; k < ri->nr_backups && n < max; k++)
			if (coord_node_up(c, ri->backups[k].id))
				out[n++] = ri->backups[k].id;
		return n;
	}
	for (size_t i = 0; i < m->nr_nodes && n < max; i++)
		if (m->nodes[i].id != dead && coord_node_up(c, m->nodes[i].id))
			out[n++] = m->nodes[i].id;
	return n;
}

/*
 * Are @dead's candidates still to come?  While the daemons may still be
 * reconnecting after our start: none of its backups is up yet, or they
 * are unknown (a state saved before assignments were: every node up is
 * a candidate, so all should be).
 */
static bool recovery_too_early(const struct coordinator *c, uint32_t dead)
{
	const struct coord_repl_info *ri = coord_repl_find(c, dead);
	uint32_t cand[SKV_COORD_REPL_MAX];

	if (coord_mono_ms() >= c->start_grace_end_ms)
		return false;
	return !ri || !ri->nr_backups ||
	       !recovery_candidates(c, dead, cand, SKV_COORD_REPL_MAX);
}

/* The lineage record of @r's range with @r->dead at either end, or NULL. */
static const struct coord_lineage *recovery_lineage(const struct coordinator *c,
						    const struct coord_recovery *r)
{
	for (size_t i = 0; i < c->st.nr_lineage; i++) {
		const struct coord_lineage *l = &c->st.lineage[i];

		if ((l->dst == r->dead || l->src == r->dead) &&
		    same_range(r, l->table_id, l->start, l->end))
			return l;
	}
	return NULL;
}

/* The live end of lineage record @l: the one that is not @r->dead. */
static uint32_t lineage_peer(const struct coord_lineage *l, const struct coord_recovery *r)
{
	return l->src == r->dead ? l->dst : l->src;
}

/*
 * Where to recover @r among the @n candidates: the live end of its
 * lineage if it is one of them (the source's copy plus the dead target's
 * replica, or the target's tablet plus the dead source's replica, hold
 * every record), else in turn from @turn.
 */
static uint32_t recovery_pick(struct coordinator *c, const struct coord_recovery *r,
			      const uint32_t *cand, size_t n, size_t turn)
{
	const struct coord_lineage *l = recovery_lineage(c, r);
	uint32_t peer;

	if (!l)
		return cand[turn % n];
	peer = lineage_peer(l, r);
	for (size_t k = 0; k < n; k++)
		if (cand[k] == peer)
			return peer;
	if (!r->attempts)
		coord_logmsg(c, true, "recovery of table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64
			     " of node %u: its migration's %s, node %u, is down or not its"
			     " backup: rebuilt from the replica alone, %s may be lost",
			     r->table_id, r->start, r->end, r->dead,
			     l->src == r->dead ? "target" : "source", peer,
			     l->src == r->dead ? "the target's writes" : "migrated data");
	return cand[turn % n];
}

static int recovery_send(struct coordinator *c, struct coord_recovery *r, uint32_t to)
{
	struct coord_repl_info ri = { .primary_id = r->dead };
	struct coord_tablet_info ti = {
		.table_id = r->table_id, .start_hash = r->start, .end_hash = r->end, .owner = to,
	};
	struct coord_buf b;
	struct op *op;
	int err;

	ri.epoch = coord_repl_next_epoch(c);
	if (!ri.epoch)
		return -EIO;	/* the state could not be saved */
	op = coord_op_new(c, NULL, NULL, OP_RECOVER);
	if (!op)
		return -ENOMEM;
	op->table_id = r->table_id;
	op->tablets = calloc(1, sizeof(*op->tablets));
	if (!op->tablets) {
		coord_op_free(c, op);
		return -ENOMEM;
	}
	op->tablets[0] = (struct tmap_tablet){ .table_id = r->table_id, .start = r->start,
					       .end = r->end, .owner = to };
	op->nr = 1;
	coord_buf_init(&b);
	err = coord_repl_encode(&b, &ri);
	if (!err)
		err = coord_tablet_encode(&b, &ti);
	if (!err)
		/*
		 * A recovery takes as long as its data and the node's backups
		 * do (minutes for a large tablet): it ends with the node's
		 * reply or its death (heartbeats), never with a timeout, which
		 * would start a second recovery of the tablet elsewhere while
		 * the first goes on (seen in the lab: two nodes rebuilding one
		 * tablet).
		 */
		err = coord_send_cmd_until(c, to, SKV_COORD_OP_NODE_REPL_RECOVER, &b, op, 0,
					   COORD_NO_DEADLINE);
	coord_buf_free(&b);
	if (err) {
		coord_op_free(c, op);
		return err;
	}
	r->running = true;
	r->target = to;
	r->started_ms = coord_mono_ms();
	coord_logmsg(c, false, "recovery of table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64
		     " of node %u: on node %u (epoch %" PRIu64 ", attempt %u)", r->table_id,
		     r->start, r->end, r->dead, to, ri.epoch, r->attempts + 1);
	coord_op_start_done(c, op);
	return 0;
}

/*
 * @err: the node's answer (0 if it gave none).  EAGAIN and EBUSY say the
 * range is busy there for a while (a migration's hand-back stopping, a
 * recovery of it under way): they do not count towards
 * RECOVERY_HOLD_ATTEMPTS.
 */
static void recovery_failed(struct coordinator *c, struct coord_recovery *r, int err,
			    const char *why)
{
	int64_t wait = coord_backoff_ms(r->attempts, RECOVERY_RETRY_MIN_MS,
					RECOVERY_RETRY_MAX_MS);

	r->running = false;
	r->attempts++;
	/*
	 * Its daemon went away, not its node: the module may go on and
	 * serve the tablet.  Recovered elsewhere too, the copy left there
	 * would be taken as "recovered already" by a later recovery of the
	 * same range from another node's replica: only this node may go on.
	 */
	if (err == EHOSTUNREACH && !coord_node_dead(c, r->target)) {
		r->in_doubt = r->target;
	} else if (err != EAGAIN && err != EBUSY) {	/* busy: still at it */
		r->in_doubt = 0;
		r->refusals++;
	}
	r->retry_ms = coord_mono_ms() + wait;
	coord_logmsg(c, true, "recovery of table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64
		     " of node %u on node %u failed: %s; the tablet stays lost, tried again"
		     " in %lld ms", r->table_id, r->start, r->end, r->dead, r->target, why,
		     (long long)wait);
}

void coord_recovery_tick(struct coordinator *c)
{
	int64_t now = coord_mono_ms();
	size_t dealt = 0;

	if (!c->replicas)
		return;
	/* Forget recoveries whose tablet is no longer lost (dropped, pruned). */
	for (size_t i = 0; i < c->nr_recov;) {
		struct coord_recovery *r = &c->recov[i];

		if (!r->done && !r->running &&
		    !coord_tablet_lost(c, r->table_id, r->start, r->end)) {
			recovery_drop(c, r);
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < c->st.nr_lost; i++) {
		const struct coord_lost *l = &c->st.lost[i];
		uint32_t cand[SKV_COORD_REPL_MAX + 64];
		struct coord_recovery *r;
		size_t n;
		int err;

		if (!coord_node_dead(c, l->node) || l->owner_back ||
		    recovery_too_early(c, l->node))
			continue;
		r = recovery_get(c, l);
		if (!r) {
			coord_logmsg(c, true, "recovery: out of memory");
			return;
		}
		/* The position among the dead node's tablets deals them out. */
		dealt++;
		if (r->running || now < r->retry_ms)
			continue;
		if (r->in_doubt && !coord_node_dead(c, r->in_doubt)) {
			if (coord_node_up(c, r->in_doubt)) {
				err = recovery_send(c, r, r->in_doubt);
				if (err)
					recovery_failed(c, r, 0, strerror(-err));
			}
			continue;
		}
		r->in_doubt = 0;	/* it died: its copy with it */
		n = recovery_candidates(c, l->node, cand, sizeof(cand) / sizeof(cand[0]));
		if (!n) {
			if (!r->waiting)
				coord_logmsg(c, true, "recovery of table %" PRIu64 " 0x%016" PRIx64
					     " of node %u: no live node holds its replica",
					     l->table_id, l->start, l->node);
			r->waiting = true;
			continue;
		}
		r->waiting = false;
		err = recovery_send(c, r, recovery_pick(c, r, cand, n, dealt - 1 + r->attempts));
		if (err)
			recovery_failed(c, r, 0, strerror(-err));
	}
}

/*
 * The range of lineage record @l was rebuilt at its live end: the record
 * goes.  Its migration failed when @r->dead was declared dead; if that
 * was the source, the target now holds every record (its pulls plus the
 * source's replica): the migration's message says so.
 */
static void recovery_lineage_done(struct coordinator *c, const struct coord_lineage *l,
				  const struct coord_recovery *r)
{
	if (l->src == r->dead) {
		struct skv_migration *g = coord_mig_find(c, l->mig_id);
		char msg[200];

		snprintf(msg, sizeof(msg), "node %u (the source) declared dead after ownership moved;"
			 " the range was completed at the target, node %u, from the source's"
			 " replica: nothing lost", l->src, l->dst);
		if (g)
			coord_mig_completed_at_target(c, g, msg);
		coord_logmsg(c, false, "migration %" PRIu64 ": %s", l->mig_id, msg);
	} else {
		coord_logmsg(c, false, "migration %" PRIu64 ": range rebuilt at its source, node %u,"
			     " from its copy and the dead target's replica", l->mig_id, l->src);
	}
	coord_lineage_drop(c, l->mig_id, 0);
}

void coord_finish_recover(struct coordinator *c, struct op *op)
{
	const struct tmap_tablet *t = &op->tablets[0];
	struct coord_recovery *r = recovery_find(c, t->table_id, t->start, t->end);
	const struct coord_lineage *l;
	const struct tmap_tablet *mt;
	char msg[300];
	size_t i;

	if (!r)
		return;
	if (op->err) {
		recovery_failed(c, r, op->err, op->msg);
		return;
	}
	r->running = false;
	mt = tmap_find(&c->st.map, t->table_id, t->start);
	for (i = 0; i < c->st.nr_lost; i++)
		if (c->st.lost[i].table_id == t->table_id && c->st.lost[i].start == t->start &&
		    c->st.lost[i].end == t->end)
			break;
	if (!mt || mt->start != t->start || mt->end != t->end || i == c->st.nr_lost) {
		coord_logmsg(c, true, "recovery of table %" PRIu64 " 0x%016" PRIx64 " on node %u:"
			     " the tablet is no longer lost here (dropped?)", t->table_id,
			     t->start, t->owner);
		recovery_drop(c, r);
		return;
	}
	if (tmap_set_owner(&c->st.map, t->table_id, t->start, t->owner)) {
		recovery_failed(c, r, 0, "its node left the map");
		return;
	}
	memmove(&c->st.lost[i], &c->st.lost[i + 1], (c->st.nr_lost - i - 1) * sizeof(c->st.lost[0]));
	c->st.nr_lost--;
	r->done = true;
	l = recovery_lineage(c, r);
	if (l && lineage_peer(l, r) == t->owner)
		recovery_lineage_done(c, l, r);
	coord_logmsg(c, false, "recovered table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64
		     " of node %u on node %u in %lld ms (map version %" PRIu64 ")", t->table_id,
		     t->start, t->end, r->dead, t->owner,
		     (long long)(coord_mono_ms() - r->started_ms), c->st.map.version);
	if (coord_persist(c, msg, sizeof(msg)))
		coord_logmsg(c, true, "recovery: %s", msg);
}

size_t coord_recovery_pending(struct coordinator *c, uint32_t node)
{
	uint32_t cand[SKV_COORD_REPL_MAX + 64];
	size_t n = 0;

	if (!c->replicas || !coord_node_dead(c, node))
		return 0;
	for (size_t i = 0; i < c->st.nr_lost; i++) {
		const struct coord_lost *l = &c->st.lost[i];
		const struct coord_recovery *r;

		if (l->node != node || l->owner_back)
			continue;
		r = recovery_find(c, l->table_id, l->start, l->end);
		if ((r && (r->running || r->in_doubt)) || recovery_too_early(c, node))
			n++;
		else if ((!r || r->refusals < RECOVERY_HOLD_ATTEMPTS) &&
			 recovery_candidates(c, node, cand, sizeof(cand) / sizeof(cand[0])))
			n++;
	}
	return n;
}

void coord_recovery_node_back(struct coordinator *c, uint32_t node)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nr_recov;) {
		struct coord_recovery *r = &c->recov[i];
		struct coord_tablet_info ti = {
			.table_id = r->table_id, .start_hash = r->start, .end_hash = r->end,
			.owner = node,
		};
		struct coord_buf b;

		if (r->dead != node || !r->done) {
			i++;
			continue;
		}
		coord_buf_init(&b);
		if (!coord_tablet_encode(&b, &ti) &&
		    !coord_send_cmd(c, node, SKV_COORD_OP_NODE_TABLET_DEL, &b, NULL, 0))
			n++;
		coord_buf_free(&b);
		recovery_drop(c, r);
	}
	if (n)
		coord_logmsg(c, false, "node %u: told to delete %zu tablet(s) recovered elsewhere",
			     node, n);
}

void coord_recovery_free(struct coordinator *c)
{
	free(c->recov);
	c->recov = NULL;
	c->nr_recov = 0;
}
