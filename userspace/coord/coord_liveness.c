// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Failure detection: the coordinator declares a node dead, and what
 * follows from it.
 *
 * Signs of life: every frame a registered node daemon sends (its
 * heartbeat, NODE_HEARTBEAT every --heartbeat-ms when it has nothing else
 * to say, a MIG_REPORT, a reply).  Suspicions: a peer reports a failed
 * request to the node (today a target's migration that failed on a
 * transport error names its source; replication will report its backups
 * through coord_live_suspect()).
 *
 * The bound, with D = --dead-after-ms (COORD_DEFAULT_DEAD_AFTER_MS),
 * P = D / 4 (COORD_SUSPECT_DIV) and T = COORD_LIVE_TICK_MS, the period
 * of the check: a node last heard at time h is declared dead by
 *
 *	h + D + T,
 *
 * and, when a peer reported it at time r and nothing was heard from it
 * since, by r + P + T, whichever comes first.  A node crashing at c was
 * last heard at h >= c - H - (network delay), H its heartbeat interval,
 * so it is declared dead at most D + T after the crash.  A live node is
 * never declared dead as long as its frames arrive less than D apart and
 * less than P after a suspicion (H must stay below P: H = 500 ms,
 * D = 5000 ms, P = 1250 ms by default).  Nodes in the map when the
 * coordinator starts, and every node after the coordinator itself did
 * not run for D / 2 (a stopped process, a starved VM), are counted as
 * heard at that moment plus COORD_START_GRACE_MS, the time a daemon may
 * take to reconnect (its backoff is capped at 5 s).
 *
 * A node declared dead (live_declare_dead):
 *   - is logged, marked dead (GET_MAP: SKV_COORD_NODE_F_DEAD) and its
 *     connection closed: the commands waiting for it fail;
 *   - each migration it takes part in that has not ended fails
 *     (EHOSTDOWN).  Before ownership moved (preparing) the source keeps
 *     the range, and a live target is told to cancel; after it moved the
 *     target keeps the range (SKV_COORD_ERR_NEEDS_RECOVERY: the lineage
 *     record stays, for the recovery to come: coord_recovery.c rebuilds
 *     a dead target's range at the source when it can);
 *   - every tablet it owned, and the tablet of a migration whose source
 *     died after ownership moved (the data not pulled yet died with it:
 *     coord_recovery.c completes it at the target from the source's
 *     replica when it can), also of one that had ended with its range
 *     frozen at both nodes (a hand-back not done: coord_mig_frozen), is
 *     recorded lost (struct coord_lost, durable; GET_MAP:
 *     SKV_COORD_TABLET_F_LOST).  A lost tablet cannot migrate;
 *   - coord_fence_dead_node() fences it at its backups (coord_repl.c:
 *     they refuse its old epoch, so a node only cut off can no longer
 *     have a write acknowledged) and gives the primaries it backed up
 *     another backup.
 * A dead node whose daemon registers again (refused while its lost
 * tablets are being rebuilt: coord_recovery_pending) is a new
 * incarnation (its lost records marked owner_back, durably, before it is
 * told: they say it is dead across our restarts until then): it is alive
 * for new work, but its lost tablets stay lost,
 * and it is told to delete them (NODE_TABLET_DEL), so that a node that was
 * only cut off does not serve them again; so are those recovered
 * elsewhere.  With replication, coord_recovery.c rebuilds lost tablets on
 * the dead node's backups while it is dead.  A node may also be declared
 * dead while it lives (coord_live_evict): the source of a frozen range
 * the two nodes cannot hand back (coord_release_tick).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"

static struct coord_live *live_find(const struct coordinator *c, uint32_t id)
{
	size_t i;

	for (i = 0; i < c->nr_live; i++)
		if (c->live[i].id == id)
			return &c->live[i];
	return NULL;
}

/* The entry of a node, added (heard now + @grace) if it has none. */
static struct coord_live *live_get(struct coordinator *c, uint32_t id,
				   int64_t now, int64_t grace)
{
	struct coord_live *l = live_find(c, id);

	if (l)
		return l;
	l = ARRAY_PUSH(c->live, c->nr_live);
	if (!l)
		return NULL;
	l->id = id;
	l->heard_ms = now + grace;
	return l;
}

int coord_live_init(struct coordinator *c, int dead_after_ms)
{
	int64_t now = coord_mono_ms();
	size_t i;

	c->dead_after_ms = dead_after_ms > 0 ? dead_after_ms :
			   COORD_DEFAULT_DEAD_AFTER_MS;
	c->live_tick_ms = now;
	c->start_grace_end_ms = now + COORD_START_GRACE_MS;
	for (i = 0; i < c->st.map.nr_nodes; i++)
		if (!live_get(c, c->st.map.nodes[i].id, now, COORD_START_GRACE_MS))
			return -ENOMEM;
	/*
	 * A node declared dead before we started is dead still until it
	 * registers: else, back within the grace, it would register as a
	 * live node, open its replicas afresh and its lost tablets would
	 * never be rebuilt.
	 */
	for (i = 0; i < c->st.nr_lost; i++) {
		const struct coord_lost *lt = &c->st.lost[i];
		struct coord_live *l;

		if (lt->owner_back)
			continue;
		l = live_get(c, lt->node, now, COORD_START_GRACE_MS);
		if (!l)
			return -ENOMEM;
		if (!l->dead)
			coord_logmsg(c, false, "node %u: declared dead before this start, "
				     "its lost tablets not rebuilt yet", lt->node);
		l->dead = true;
	}
	return 0;
}

void coord_live_free(struct coordinator *c)
{
	free(c->live);
	c->live = NULL;
	c->nr_live = 0;
}

void coord_live_heard(struct coordinator *c, uint32_t node)
{
	struct coord_live *l = live_find(c, node);
	int64_t now = coord_mono_ms();

	if (!l || l->dead)
		return;
	if (l->heard_ms < now)
		l->heard_ms = now;
	l->suspect_ms = 0;
}

bool coord_node_dead(const struct coordinator *c, uint32_t node)
{
	const struct coord_live *l = live_find(c, node);

	return l && l->dead;
}

bool coord_node_up(const struct coordinator *c, uint32_t node)
{
	return !coord_node_dead(c, node) && coord_node_conn(c, node);
}

bool coord_tablet_lost(const struct coordinator *c, uint64_t table_id,
		       uint64_t start, uint64_t end)
{
	size_t i;

	for (i = 0; i < c->st.nr_lost; i++) {
		const struct coord_lost *l = &c->st.lost[i];

		if (l->table_id == table_id && l->start <= end && start <= l->end)
			return true;
	}
	return false;
}

void coord_live_suspect(struct coordinator *c, uint32_t node, uint32_t reporter,
			const char *why)
{
	struct coord_live *l = live_find(c, node);

	if (!l || l->dead || l->suspect_ms)
		return;
	l->suspect_ms = coord_mono_ms();
	coord_logmsg(c, false, "node %u suspected by node %u (%s): dead unless "
		     "heard from within %d ms", node, reporter, why,
		     c->dead_after_ms / COORD_SUSPECT_DIV);
}

/*
 * Called once for each node declared dead, after its migrations ended and
 * its tablets were recorded lost: fence it, then give every primary it
 * backed up another backup (coord_repl.c).
 */
void coord_fence_dead_node(struct coordinator *c, uint32_t node)
{
	coord_repl_fence(c, node);
	coord_repl_assign(c);
}

static int lost_add(struct coordinator *c, const struct tmap_tablet *t,
		    uint32_t node)
{
	struct coord_lost *l;
	size_t i;

	for (i = 0; i < c->st.nr_lost; i++)
		if (c->st.lost[i].table_id == t->table_id &&
		    c->st.lost[i].start == t->start && c->st.lost[i].end == t->end)
			return 0;
	if (c->st.nr_lost >= COORD_MAX_LOST)
		return -ENOSPC;
	l = ARRAY_PUSH(c->st.lost, c->st.nr_lost);
	if (!l)
		return -ENOMEM;
	*l = (struct coord_lost){
		.table_id = t->table_id, .start = t->start, .end = t->end,
		.node = node, .unix_ms = coord_unix_ms(),
	};
	return 0;
}

/* Forget lost records whose tablet is gone (table dropped, range changed). */
static bool lost_prune(struct coordinator *c)
{
	bool changed = false;
	size_t i = 0;

	while (i < c->st.nr_lost) {
		const struct coord_lost *l = &c->st.lost[i];
		const struct tmap_tablet *t = tmap_find(&c->st.map, l->table_id,
							l->start);

		if (t && t->start == l->start && t->end == l->end) {
			i++;
			continue;
		}
		memmove(&c->st.lost[i], &c->st.lost[i + 1],
			(c->st.nr_lost - i - 1) * sizeof(*l));
		c->st.nr_lost--;
		changed = true;
	}
	return changed;
}

static void send_cancel(struct coordinator *c, uint32_t node, uint64_t mig_id)
{
	struct coord_buf b;

	coord_buf_init(&b);
	if (!coord_id_encode(&b, mig_id))
		coord_send_cmd(c, node, SKV_COORD_OP_NODE_MIGRATE_CANCEL, &b, NULL, 0);
	coord_buf_free(&b);
}

/* The tablet of migration @g if it is frozen and @node is its source. */
static const struct tmap_tablet *mig_frozen_tablet(struct coordinator *c,
						   const struct skv_migration *g,
						   uint32_t node)
{
	if (g->src != node || !coord_mig_frozen(c, g))
		return NULL;
	return tmap_find(&c->st.map, g->table_id, g->start_hash);
}

/* End every migration @node takes part in (see the top of the file). */
static int live_end_migrations(struct coordinator *c, uint32_t node)
{
	char msg[128];
	size_t i;
	int err;

	for (i = 0; i < c->st.nr_migs; i++) {
		struct skv_migration *g = &c->st.migs[i];
		bool preparing = g->state == STEADYKV_MIGRATION_STATE_PREPARING;
		const struct tmap_tablet *t;
		uint32_t peer;

		if (g->src != node && g->dst != node)
			continue;
		if (skv_mig_state_final(g->state)) {
			/*
			 * Its range frozen at both (coord_mig_frozen): the
			 * source's part dies with it, as mid-pull.  A dead
			 * target's part is lost with the tablets it owns.
			 */
			t = mig_frozen_tablet(c, g, node);
			if (t) {
				err = lost_add(c, t, node);
				if (err)
					return err;
			}
			continue;
		}
		peer = g->src == node ? g->dst : g->src;
		snprintf(msg, sizeof(msg), "node %u (the %s) declared dead", node,
			 g->src == node ? "source" : "target");
		coord_logmsg(c, false, "migration %llu: failed: %s",
			     (unsigned long long)g->id, msg);
		coord_mig_end(c, g, STEADYKV_MIGRATION_STATE_FAILED,
			      preparing ? EHOSTDOWN : SKV_COORD_ERR_NEEDS_RECOVERY, msg);
		if (preparing && g->dst == peer && coord_node_conn(c, peer))
			send_cancel(c, peer, g->id);
		/* The source died after ownership moved: its unpulled data too. */
		t = tmap_find(&c->st.map, g->table_id, g->start_hash);
		if (!preparing && g->src == node && t && t->start == g->start_hash &&
		    t->end == g->end_hash) {
			err = lost_add(c, t, node);
			if (err)
				return err;
		}
	}
	return 0;
}

static void live_declare_dead(struct coordinator *c, struct coord_live *l,
			      int64_t now, const char *why)
{
	uint32_t node = l->id;
	struct conn *cn = coord_node_conn(c, node);
	size_t i, before = c->st.nr_lost;
	char msg[300];
	int err;

	l->dead = true;
	l->suspect_ms = 0;
	coord_logmsg(c, true, "node %u declared dead: %s (last heard %lld ms ago, "
		     "dead after %d ms; at unix ms %llu)", node, why,
		     (long long)(now - l->heard_ms), c->dead_after_ms,
		     (unsigned long long)coord_unix_ms());
	if (cn)
		cn->dead = true;	/* its commands fail at the sweep */
	err = live_end_migrations(c, node);
	for (i = 0; !err && i < c->st.map.nr_tablets; i++)
		if (c->st.map.tablets[i].owner == node)
			err = lost_add(c, &c->st.map.tablets[i], node);
	if (err)
		coord_logmsg(c, true, "node %u: lost tablets not all recorded: %s",
			     node, strerror(-err));
	coord_logmsg(c, false, "node %u: %zu tablet(s) lost until recovery", node,
		     c->st.nr_lost - before);
	if (coord_persist(c, msg, sizeof(msg)))
		coord_logmsg(c, true, "node %u declared dead: %s", node, msg);
	coord_fence_dead_node(c, node);
}

void coord_live_evict(struct coordinator *c, uint32_t node, const char *why)
{
	struct coord_live *l = live_find(c, node);

	if (l && !l->dead)
		live_declare_dead(c, l, coord_mono_ms(), why);
}

void coord_live_tick(struct coordinator *c)
{
	int64_t now = coord_mono_ms();
	int64_t suspect_ms = c->dead_after_ms / COORD_SUSPECT_DIV;
	size_t i;

	if (now - c->live_tick_ms < COORD_LIVE_TICK_MS)
		return;
	if (now - c->live_tick_ms > c->dead_after_ms / 2) {
		/* We were not watching: nobody is to blame for the silence. */
		coord_logmsg(c, false, "the coordinator did not run for %lld ms: "
			     "every node gets %d ms more", (long long)(now - c->live_tick_ms),
			     COORD_START_GRACE_MS);
		for (i = 0; i < c->nr_live; i++) {
			c->live[i].heard_ms = now + COORD_START_GRACE_MS;
			c->live[i].suspect_ms = 0;
		}
	}
	c->live_tick_ms = now;
	for (i = 0; i < c->st.map.nr_nodes; i++)
		live_get(c, c->st.map.nodes[i].id, now, COORD_START_GRACE_MS);
	for (i = 0; i < c->nr_live; i++) {
		struct coord_live *l = &c->live[i];

		if (l->dead || !tmap_find_node(&c->st.map, l->id))
			continue;
		if (now - l->heard_ms > c->dead_after_ms)
			live_declare_dead(c, l, now, "no heartbeat");
		else if (l->suspect_ms && now - l->suspect_ms > suspect_ms)
			live_declare_dead(c, l, now, "suspected by a peer, then silent");
	}
	if (lost_prune(c)) {
		char msg[300];

		if (coord_persist(c, msg, sizeof(msg)))
			coord_logmsg(c, true, "lost records: %s", msg);
	}
}

/* Set owner_back on dead @node's lost records; how many were not. */
static size_t lost_mark_back(struct coordinator *c, uint32_t node)
{
	size_t i, n = 0;

	for (i = 0; i < c->st.nr_lost; i++) {
		struct coord_lost *lt = &c->st.lost[i];

		if (lt->node == node && !lt->owner_back) {
			lt->owner_back = true;
			n++;
		}
	}
	return n;
}

int coord_live_coming_back(struct coordinator *c, uint32_t node, char *msg, size_t n)
{
	if (!coord_node_dead(c, node) || !lost_mark_back(c, node))
		return 0;
	/* A failed save reloads the saved state: the marks go with it. */
	return coord_persist(c, msg, n);
}

void coord_live_registered(struct coordinator *c, uint32_t node)
{
	int64_t now = coord_mono_ms();
	struct coord_live *l = live_get(c, node, now, 0);
	size_t i, n = 0;

	if (!l)
		return;
	l->heard_ms = now;
	l->suspect_ms = 0;
	if (!l->dead)
		return;
	l->dead = false;
	l->comebacks++;
	/* Its lost tablets are not its to serve: the new incarnation drops them. */
	for (i = 0; i < c->st.nr_lost; i++) {
		const struct coord_lost *lt = &c->st.lost[i];
		const struct tmap_tablet *t = tmap_find(&c->st.map, lt->table_id,
							lt->start);
		struct coord_tablet_info ti = {
			.table_id = lt->table_id, .start_hash = lt->start,
			.end_hash = lt->end, .owner = node,
		};
		struct coord_buf b;

		if (!t || t->owner != node)
			continue;
		coord_buf_init(&b);
		if (!coord_tablet_encode(&b, &ti) &&
		    !coord_send_cmd(c, node, SKV_COORD_OP_NODE_TABLET_DEL, &b, NULL, 0))
			n++;
		coord_buf_free(&b);
	}
	coord_logmsg(c, false, "node %u is back (comeback %u): its %zu lost "
		     "tablet(s) stay lost (told to delete them)", node,
		     l->comebacks, n);
	coord_recovery_node_back(c, node);
}

void coord_do_heartbeat(struct conn *cn, const struct coord_hdr *h)
{
	if (!cn->node_id) {
		coord_reply_err(cn, h->opcode, h->request_id, EPERM,
				"NODE_HEARTBEAT before NODE_REGISTER");
		return;
	}
	if (h->body_len) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"NODE_HEARTBEAT takes no body");
		return;
	}
	coord_reply_ok(cn, h->opcode, h->request_id, NULL, 0);
}

uint32_t coord_node_flags(const struct coordinator *c, uint32_t node)
{
	if (coord_node_dead(c, node))
		return SKV_COORD_NODE_F_DEAD;
	return coord_node_up(c, node) ? SKV_COORD_NODE_F_UP : 0;
}
