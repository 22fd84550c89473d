// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Backup assignment (steadykvd --coordinator --replicas R): each node
 * replicates its log to the R nodes after it in id order (a ring), so
 * every node backs up R others.  Whenever a node registers, every
 * connected node is sent its assignment (NODE_REPL_SET); a node keeps its
 * epoch while its backups stay the same (the module takes the same
 * assignment again as a no-op), and gets a new, higher epoch when they
 * change.  Assignments are durable (struct coord_state: saved before a
 * node is told), so after a restart a dead node's tablets are rebuilt
 * from its backups, not from a node that was one once and holds an older
 * replica.  Epochs grow across restarts: the state keeps a bound above
 * every epoch given (reserved COORD_EPOCH_RESERVE at a time), and they
 * start from the clock if that is higher.  With
 * fewer than R + 1 live nodes each node gets all the others (live - 1
 * backups, logged): writes go on with the most copies there can be,
 * rather than stop.  A single live node gets none, and is told so: it
 * serves, and rebuilds the dead nodes' tablets from the replicas it
 * holds, on its own.  Kept waiting for a dead backup instead, it could
 * rebuild nothing until a node came back, and a node that comes back
 * forfeits its tablets still lost (coord_recovery.c): two nodes of three
 * dead lost one's tablets for good (seen in the lab).
 *
 * Nodes declared dead (coord_liveness.c) take no part: the ring is made
 * of the nodes alive, so a primary whose backup died is given the next
 * live node (a new epoch: a new stream, which the backups it keeps
 * resume: kmod/repl_primary.h).  A dead primary
 * is fenced first (coord_repl_fence): each of its backups is told an
 * epoch above the one it had, so a primary that was only cut off can no
 * longer have a write acknowledged; if it registers again it gets a new
 * epoch of its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"

/* Epochs reserved per save of the bound. */
#define COORD_EPOCH_RESERVE	(1ull << 20)

const struct coord_repl_info *coord_repl_find(const struct coordinator *c, uint32_t node)
{
	for (size_t i = 0; i < c->st.nr_repl; i++)
		if (c->st.repl[i].primary_id == node)
			return &c->st.repl[i];
	return NULL;
}

static struct coord_repl_info *repl_of(struct coordinator *c, uint32_t node)
{
	struct coord_repl_info *v = (struct coord_repl_info *)coord_repl_find(c, node);

	if (v)
		return v;
	v = ARRAY_PUSH(c->st.repl, c->st.nr_repl);
	if (v)
		v->primary_id = node;
	return v;
}

/*
 * Make sure @n more epochs stay below the saved bound, saving a higher
 * one if not; 0 or -errno (the state could not be saved: no epoch may be
 * given, and the state is the last saved one again).
 */
static int repl_reserve_epochs(struct coordinator *c, uint64_t n)
{
	char msg[300];

	if (c->repl_epoch + n < c->st.repl_epoch_bound)
		return 0;
	c->st.repl_epoch_bound = c->repl_epoch + n + COORD_EPOCH_RESERVE;
	return coord_persist(c, msg, sizeof(msg));
}

uint64_t coord_repl_next_epoch(struct coordinator *c)
{
	return repl_reserve_epochs(c, 1) ? 0 : ++c->repl_epoch;
}

void coord_repl_start(struct coordinator *c, uint64_t clock_ms)
{
	c->repl_epoch = clock_ms > c->st.repl_epoch_bound ? clock_ms :
			c->st.repl_epoch_bound;
}

static bool same_backups(const struct coord_repl_info *a, const struct coord_repl_info *b)
{
	if (a->nr_backups != b->nr_backups)
		return false;
	for (uint32_t i = 0; i < a->nr_backups; i++)
		if (a->backups[i].id != b->backups[i].id ||
		    strcmp(a->backups[i].addr, b->backups[i].addr))
			return false;
	return true;
}

/*
 * The assignments of the live nodes (a ring): changed ones take a new
 * epoch and are saved, then every connected node is sent its own.
 */
void coord_repl_assign(struct coordinator *c)
{
	const struct tablet_map *m = &c->st.map;
	const struct tmap_node **live;
	size_t n = 0, r = c->replicas, changed = 0;
	char msg[300];

	if (!r)
		return;
	live = calloc(m->nr_nodes ? m->nr_nodes : 1, sizeof(*live));
	if (!live) {
		coord_logmsg(c, true, "replication: out of memory");
		return;
	}
	for (size_t i = 0; i < m->nr_nodes; i++)
		if (!coord_node_dead(c, m->nodes[i].id))
			live[n++] = &m->nodes[i];
	if (n && r > n - 1)
		r = n - 1;
	if (repl_reserve_epochs(c, n)) {
		free(live);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct coord_repl_info want = { .primary_id = live[i]->id };
		struct coord_repl_info *have;

		for (size_t k = 0; k < r; k++) {
			const struct tmap_node *bn = live[(i + 1 + k) % n];

			want.backups[k].id = bn->id;
			snprintf(want.backups[k].addr, sizeof(want.backups[k].addr), "%s",
				 bn->addr);
		}
		want.nr_backups = (uint32_t)r;
		have = repl_of(c, live[i]->id);
		if (!have) {
			coord_logmsg(c, true, "replication of node %u: out of memory",
				     live[i]->id);
			continue;
		}
		if (have->epoch && same_backups(have, &want))
			continue;
		want.epoch = ++c->repl_epoch;
		coord_logmsg(c, false, "node %" PRIu64 " replicates to %u backups, epoch %"
			     PRIu64 "%s", want.primary_id, want.nr_backups, want.epoch,
			     r < c->replicas ? " (fewer than --replicas: too few live nodes)" : "");
		*have = want;
		changed++;
	}
	free(live);
	/* Saved before any node is told: a restart knows where replicas are. */
	if (changed && coord_persist(c, msg, sizeof(msg)))
		return;
	for (size_t i = 0; i < c->st.nr_repl; i++) {
		const struct coord_repl_info *ri = &c->st.repl[i];
		struct coord_buf b;
		int err;

		if (!ri->epoch || coord_node_dead(c, (uint32_t)ri->primary_id) ||
		    !coord_node_conn(c, (uint32_t)ri->primary_id))
			continue;	/* fenced, or told when it registers */
		coord_buf_init(&b);
		err = coord_repl_encode(&b, ri);
		if (!err)
			err = coord_send_cmd(c, (uint32_t)ri->primary_id,
					     SKV_COORD_OP_NODE_REPL_SET, &b, NULL, 0);
		coord_buf_free(&b);
		if (err)
			coord_logmsg(c, true, "replication of node %" PRIu64 ": %s",
				     ri->primary_id, strerror(-err));
	}
}

bool coord_repl_backs_up(const struct coordinator *c, uint32_t backup, uint32_t primary)
{
	const struct coord_repl_info *ri = coord_repl_find(c, primary);

	for (uint32_t k = 0; ri && k < ri->nr_backups; k++)
		if (ri->backups[k].id == backup)
			return true;
	return false;
}

void coord_repl_fence(struct coordinator *c, uint32_t node)
{
	struct coord_repl_info *have = (struct coord_repl_info *)coord_repl_find(c, node);
	struct coord_repl_info fence = { .primary_id = node };
	char msg[300];

	if (!have || !have->epoch) {
		coord_logmsg(c, false, "node %u: no backups to fence", node);
		return;
	}
	fence.epoch = coord_repl_next_epoch(c);
	have = (struct coord_repl_info *)coord_repl_find(c, node);	/* saved or reloaded */
	if (!fence.epoch || !have) {
		coord_logmsg(c, true, "node %u: not fenced: no epoch could be saved", node);
		return;
	}
	for (uint32_t k = 0; k < have->nr_backups; k++) {
		uint32_t to = have->backups[k].id;
		struct coord_buf b;
		int err;

		coord_buf_init(&b);
		err = coord_repl_encode(&b, &fence);
		if (!err)
			err = coord_send_cmd(c, to, SKV_COORD_OP_NODE_REPL_FENCE, &b, NULL, 0);
		coord_buf_free(&b);
		/* A backup not reached refuses the old epoch once it reopens. */
		coord_logmsg(c, err != 0, "node %u fenced at its backup node %u, epoch %" PRIu64 "%s%s",
			     node, to, fence.epoch, err ? ": " : "", err ? strerror(-err) : "");
	}
	/* A new incarnation gets an epoch above the fence. */
	have->epoch = 0;
	coord_persist(c, msg, sizeof(msg));
}
