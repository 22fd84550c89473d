// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator's handlers of migrations: MIGRATE, MIG_STATUS,
 * MIG_CANCEL and the node daemons' MIG_REPORTs, and the migration records
 * and lineage they change (see coord.h for what each does).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "coord_internal.h"
#include "../common/mig_names.h"

struct skv_migration *coord_mig_find(struct coordinator *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->st.nr_migs; i++)
		if (c->st.migs[i].id == id)
			return &c->st.migs[i];
	return NULL;
}

/* Append, making room by forgetting the oldest finished migration. */
static int mig_add(struct coordinator *c, const struct skv_migration *g)
{
	struct coord_state *st = &c->st;
	struct skv_migration *v;

	if (st->nr_migs >= COORD_KEEP_MIGRATIONS) {
		size_t i;

		for (i = 0; i < st->nr_migs; i++)
			if (skv_mig_state_final(st->migs[i].state))
				break;
		if (i == st->nr_migs)
			return -EBUSY;
		memmove(&st->migs[i], &st->migs[i + 1],
			(st->nr_migs - i - 1) * sizeof(*st->migs));
		st->nr_migs--;
	}
	v = realloc(st->migs, (st->nr_migs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->migs = v;
	v[st->nr_migs++] = *g;
	return 0;
}

static struct coord_lineage *lineage_find(struct coordinator *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->st.nr_lineage; i++)
		if (c->st.lineage[i].mig_id == id)
			return &c->st.lineage[i];
	return NULL;
}

static int lineage_add(struct coordinator *c, const struct coord_lineage *l)
{
	struct coord_lineage *v;

	if (c->st.nr_lineage >= COORD_MAX_LINEAGE)
		return -ENOSPC;
	v = realloc(c->st.lineage, (c->st.nr_lineage + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->st.lineage = v;
	v[c->st.nr_lineage++] = *l;
	return 0;
}

/*
 * A new migration id: random 64 bits from the kernel's generator (a node
 * binds a migration to the peer that prepared it, and an id nobody can
 * guess names no live one), never 0 and never one still known here (a
 * migration or lineage record).  0, or a negative errno.
 */
static int mig_new_id(struct coordinator *c, uint64_t *id)
{
	int tries;

	for (tries = 0; tries < 64; tries++) {
		if (getrandom(id, sizeof(*id), 0) != (ssize_t)sizeof(*id)) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (*id && !coord_mig_find(c, *id) && !lineage_find(c, *id))
			return 0;
	}
	return -EAGAIN;
}

/* Drop the records matching @mig_id (or, if 0, @table_id). */
void coord_lineage_drop(struct coordinator *c, uint64_t mig_id,
			uint64_t table_id)
{
	size_t i = 0;

	while (i < c->st.nr_lineage) {
		const struct coord_lineage *l = &c->st.lineage[i];

		if (mig_id ? l->mig_id == mig_id : l->table_id == table_id) {
			memmove(&c->st.lineage[i], &c->st.lineage[i + 1],
				(c->st.nr_lineage - i - 1) * sizeof(*l));
			c->st.nr_lineage--;
		} else {
			i++;
		}
	}
}

/* The tablet that is exactly the migration's range, or NULL. */
static const struct tmap_tablet *mig_tablet(const struct coordinator *c,
					    const struct skv_migration *g)
{
	const struct tmap_tablet *t = tmap_find(&c->st.map, g->table_id,
						g->start_hash);

	if (!t || t->start != g->start_hash || t->end != g->end_hash)
		return NULL;
	return t;
}

/*
 * Send the source of an ended migration the coordinator's decision
 * (coord.h NODE_MIGRATE_DECIDE), so that a range frozen there by a
 * PREPARE or an END whose reply was lost is released: done, or completed
 * at the target from the source's replica, commits; cancelled or failed
 * aborts, unless the target keeps the range for a recovery (then the
 * source's copy stays as it is).  A source whose daemon is not connected
 * gets it when it registers.
 */
static void mig_decide(struct coordinator *c, const struct skv_migration *g)
{
	bool abort = g->state != STEADYKV_MIGRATION_STATE_DONE &&
		     g->error != SKV_COORD_ERR_COMPLETED_AT_TARGET;
	struct coord_buf b;
	uint64_t *v;
	int err;

	if (!skv_mig_state_final(g->state) || !g->src ||
	    (abort && g->error == SKV_COORD_ERR_NEEDS_RECOVERY))
		return;
	if (!coord_node_conn(c, g->src)) {
		v = realloc(c->undecided, (c->nr_undecided + 1) * sizeof(*v));
		if (!v) {
			coord_logmsg(c, true, "migration %llu: no memory to keep its decision",
				     (unsigned long long)g->id);
			return;
		}
		c->undecided = v;
		v[c->nr_undecided++] = g->id;
		return;
	}
	coord_buf_init(&b);
	err = coord_decision_encode(&b, g->id, abort);
	if (!err)
		err = coord_send_cmd(c, g->src, SKV_COORD_OP_NODE_MIGRATE_DECIDE, &b,
				     NULL, 0);
	coord_buf_free(&b);
	if (err)
		coord_logmsg(c, true, "migration %llu: decision to node %u: %s",
			     (unsigned long long)g->id, g->src, strerror(-err));
}

/*
 * Apply a migration's new phase to the map and lineage.  Only a phase
 * that comes after the one held (skv_mig_state_later) is applied: reports
 * may skip phases, and final phases never change again.
 */
static void mig_transition(struct coordinator *c, struct skv_migration *g,
			   uint32_t state, uint32_t error)
{
	const struct tmap_tablet *t = mig_tablet(c, g);
	struct tablet_map *m = &c->st.map;

	if (!skv_mig_state_later(g->state, state))
		return;
	switch (state) {
	case STEADYKV_MIGRATION_STATE_PULLING:
	case STEADYKV_MIGRATION_STATE_RE_REPLICATING:	/* pulling skipped */
		/*
		 * Rocksteady and its replicated baseline (also when the mode
		 * was not given: the module's default, 0): the target owns the
		 * range from now on.
		 */
		if (g->mode != STEADYKV_MIGRATION_MODE_PUSH && t &&
		    t->state == TMAP_NORMAL && t->owner == g->src)
			tmap_start_migration(m, g->table_id, t->start, g->dst);
		break;
	case STEADYKV_MIGRATION_STATE_DONE:
		if (t && t->state == TMAP_MIGRATING && t->dst == g->dst)
			tmap_finish_migration(m, g->table_id, t->start);
		else if (t && t->state == TMAP_NORMAL && t->owner == g->src)
			tmap_set_owner(m, g->table_id, t->start, g->dst);	/* push */
		/*
		 * The target re-replicated the range before END: its backups
		 * hold it, the lineage is no longer needed.
		 */
		coord_lineage_drop(c, g->id, 0);
		break;
	case STEADYKV_MIGRATION_STATE_FAILED:
	case STEADYKV_MIGRATION_STATE_CANCELLED:
		if (error == SKV_COORD_ERR_NEEDS_RECOVERY) {
			/* The target keeps the range; lineage kept to rebuild it. */
			if (t && t->state == TMAP_MIGRATING && t->dst == g->dst)
				tmap_finish_migration(m, g->table_id, t->start);
			break;
		}
		if (t && t->state == TMAP_MIGRATING && t->src == g->src)
			tmap_abort_migration(m, g->table_id, t->start);
		coord_lineage_drop(c, g->id, 0);
		break;
	default:
		break;
	}
	g->state = state;
	g->error = error;
	mig_decide(c, g);
}

static void mig_set_msg(struct skv_migration *g, const char *msg)
{
	snprintf(g->error_msg, sizeof(g->error_msg), "%s", msg);
	SKV_MIG_SET(g, STEADYKV_A_MIGRATION_ERROR_MSG);
}

#define RELEASE_RETRY_MIN_MS	2000
#define RELEASE_RETRY_MAX_MS	30000

/*
 * Ended with its range frozen at both nodes, the target still its owner
 * and the lineage record kept, the range not lost with a dead node (a
 * recovery decides then).
 */
bool coord_mig_frozen(struct coordinator *c, const struct skv_migration *g)
{
	const struct tmap_tablet *t;

	if (!skv_mig_state_final(g->state) ||
	    g->error != SKV_COORD_ERR_NEEDS_RECOVERY || !g->src ||
	    !lineage_find(c, g->id))
		return false;
	t = mig_tablet(c, g);
	return t && t->state == TMAP_NORMAL && t->owner == g->dst &&
	       !coord_tablet_lost(c, g->table_id, t->start, t->end);
}

static struct coord_release *release_get(struct coordinator *c, uint64_t id)
{
	struct coord_release *r;

	for (size_t i = 0; i < c->nr_rel; i++)
		if (c->rel[i].mig_id == id)
			return &c->rel[i];
	r = ARRAY_PUSH(c->rel, c->nr_rel);
	if (r)
		*r = (struct coord_release){ .mig_id = id };
	return r;
}

/*
 * Frozen migration @g has not been handed back for @frozen_ms, both nodes
 * up: a partition between the two that does not heal.  Past
 * --evict-after-ms (COORD_EVICT_MUL * D by default), with replication
 * and the target one of the source's backups, the source is declared
 * dead: the range is completed at the target from the source's replica
 * (coord_recovery.c, lineage), the source's other tablets are rebuilt on
 * its backups, and the source comes back as a new incarnation once they
 * are, told to commit (drop its copy).  A cluster cut in two this way loses one node's capacity for a
 * while rather than a range for good.  True if it evicted it.
 */
static bool release_evict(struct coordinator *c, const struct skv_migration *g,
			  int64_t frozen_ms)
{
	char why[200];

	if (!c->replicas || frozen_ms < c->evict_after_ms ||
	    !coord_repl_backs_up(c, g->dst, g->src))
		return false;
	snprintf(why, sizeof(why), "cut off from node %u, the target of migration %llu, for"
		 " %lld ms: its frozen range can be neither handed back nor completed while"
		 " it serves", g->dst, (unsigned long long)g->id, (long long)frozen_ms);
	coord_live_evict(c, g->src, why);
	return true;
}

/* Frozen at both nodes, both up: the target is to hand the range back. */
static bool release_wanted(struct coordinator *c, const struct skv_migration *g)
{
	return coord_mig_frozen(c, g) && coord_node_up(c, g->src) &&
	       coord_node_up(c, g->dst);
}

void coord_release_tick(struct coordinator *c)
{
	int64_t now = coord_mono_ms();

	/*
	 * Forget the ones no longer frozen (handed back, recovered, gone),
	 * and those with a node down: tried afresh once both are up.
	 */
	for (size_t i = 0; i < c->nr_rel;) {
		const struct skv_migration *g = coord_mig_find(c, c->rel[i].mig_id);

		if (!g || !release_wanted(c, g)) {
			c->rel[i] = c->rel[--c->nr_rel];
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *g = &c->st.migs[i];
		struct coord_release *r;
		struct coord_buf b;
		int err;

		if (!release_wanted(c, g))
			continue;
		r = release_get(c, g->id);
		if (!r) {
			coord_logmsg(c, true, "release: out of memory");
			return;
		}
		/* One at a time: an eviction changes the map and the migrations. */
		if (r->attempts && release_evict(c, g, now - r->first_ms))
			return;
		if (now < r->next_ms)
			continue;
		if (!r->attempts)
			r->first_ms = now;
		coord_buf_init(&b);
		err = coord_decision_encode(&b, g->id, true);
		if (!err)
			err = coord_send_cmd(c, g->dst, SKV_COORD_OP_NODE_MIGRATE_DECIDE, &b,
					     NULL, 0);
		coord_buf_free(&b);
		r->next_ms = now + coord_backoff_ms(r->attempts, RELEASE_RETRY_MIN_MS,
						    RELEASE_RETRY_MAX_MS);
		if (err || !r->attempts || c->verbose)
			coord_logmsg(c, err != 0, "migration %llu: the range is frozen at nodes %u"
				     " and %u, both up: node %u told to hand it back (try %u)%s%s",
				     (unsigned long long)g->id, g->src, g->dst, g->dst,
				     r->attempts + 1, err ? ": " : "", err ? strerror(-err) : "");
		r->attempts++;
	}
}

/*
 * The target of frozen migration @g reports the range handed back: the
 * source serves it again with every write taken at the target.  The
 * source becomes the owner, the lineage record goes, and the source gets
 * the decision (it ended so already: a repeat).
 */
static void mig_handed_back(struct coordinator *c, struct skv_migration *g,
			    const char *msg)
{
	const struct tmap_tablet *t = mig_tablet(c, g);

	if (!coord_mig_frozen(c, g))
		return;
	tmap_set_owner(&c->st.map, g->table_id, t->start, g->src);
	coord_lineage_drop(c, g->id, 0);
	g->error = SKV_COORD_ERR_HANDED_BACK;
	mig_set_msg(g, msg);
	coord_logmsg(c, false, "migration %llu: the frozen range was handed back to node %u,"
		     " its owner again (map version %llu)", (unsigned long long)g->id, g->src,
		     (unsigned long long)c->st.map.version);
	mig_decide(c, g);
}

void coord_mig_completed_at_target(struct coordinator *c, struct skv_migration *g,
				   const char *msg)
{
	g->error = SKV_COORD_ERR_COMPLETED_AT_TARGET;
	mig_set_msg(g, msg);
	mig_decide(c, g);
}

void coord_mig_end(struct coordinator *c, struct skv_migration *g,
		   uint32_t state, uint32_t error, const char *msg)
{
	mig_transition(c, g, state, error);
	mig_set_msg(g, msg);
}

/* A failure that says the peer could not be reached. */
static bool transport_error(uint32_t error)
{
	switch (error) {
	case ECONNREFUSED: case ECONNRESET: case ECONNABORTED: case ETIMEDOUT:
	case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case EPIPE:
		return true;
	}
	return false;
}

/*
 * Cancel migration id at its target node, with an op whose ENOENT
 * answer ends it here (coord_finish_cancel).  0, or -ENOMEM.
 */
static int mig_cancel_at(struct coordinator *c, uint64_t id, uint32_t node)
{
	const struct skv_migration *g = coord_mig_find(c, id);
	struct coord_buf b;
	struct op *op;
	int err;

	op = coord_op_new(c, NULL, NULL, OP_CANCEL);
	if (!op)
		return -ENOMEM;
	op->mig_id = id;
	op->table_id = g ? g->table_id : 0;
	coord_buf_init(&b);
	err = coord_id_encode(&b, id);
	if (!err)
		err = coord_send_cmd(c, node, SKV_COORD_OP_NODE_MIGRATE_CANCEL, &b,
				     op, 0);
	coord_buf_free(&b);
	if (err)
		coord_op_fail(op, err, "node %u: %s", node, strerror(-err));
	coord_op_start_done(c, op);
	return 0;
}

/*
 * MIGRATE's op is over: a refusal or a silent target fails the migration
 * (and a silent target is asked to cancel, in case it started after all).
 */
void coord_finish_migrate(struct coordinator *c, struct op *op)
{
	struct skv_migration *g = coord_mig_find(c, op->mig_id);
	uint32_t dst;

	if (!g) {
		coord_op_fail(op, ENOENT, "migration %llu vanished",
			      (unsigned long long)op->mig_id);
		return;
	}
	if (!op->err)
		return;
	if (!op->client)	/* the rebalancer's, or its client left: log it */
		coord_logmsg(c, true, "migration %llu: not started: %s",
			     (unsigned long long)op->mig_id, op->msg);
	dst = g->dst;	/* g may move: coord_persist() reloads on failure */
	if (op->unanswered && g->state == STEADYKV_MIGRATION_STATE_PREPARING) {
		/*
		 * The start reached the target's daemon, which went away or
		 * fell silent: its module may run the migration.  Not failed
		 * (its later reports must count): in doubt, until the daemon
		 * registers again (coord_cancel_in_doubt asks it there).
		 */
		mig_set_msg(g, "start in doubt: the target's daemon did not answer");
		coord_logmsg(c, false, "migration %llu: %s", (unsigned long long)op->mig_id,
			     op->msg);
	} else if (!skv_mig_state_final(g->state)) {
		char msg[256];

		mig_transition(c, g, STEADYKV_MIGRATION_STATE_FAILED,
			       (uint32_t)op->err);
		mig_set_msg(g, op->msg);
		if (coord_persist(c, msg, sizeof(msg)))
			coord_logmsg(c, true, "migration %llu: %s",
				     (unsigned long long)op->mig_id, msg);
	}
	/*
	 * The target may have started it after all: ask it to stop (an
	 * ENOENT answer ends it here, coord_finish_cancel).
	 */
	if (op->err == ETIMEDOUT)
		mig_cancel_at(c, op->mig_id, dst);
}

int coord_mig_start(struct coordinator *c, struct conn *cn,
		    const struct coord_hdr *h, const struct skv_migration *req_in,
		    uint64_t *id, char *reason, size_t reason_len)
{
	struct tablet_map *m = &c->st.map;
	const struct tmap_tablet *t, *te;
	const struct tmap_node *src;
	struct skv_migration g = *req_in;
	struct coord_lineage l;
	struct coord_buf b;
	uint64_t ver = m->version, tstart;
	const char *why;
	struct op *op;
	char msg[300];
	size_t i;
	int err;

#define FAIL(e, ...) do {						\
		snprintf(reason, reason_len, __VA_ARGS__);		\
		return (e);						\
	} while (0)
	/* The tuning is checked here, once, before anything changes. */
	why = skv_mig_check_tuning(&g);
	if (why)
		FAIL(EINVAL, "%s", why);
	if (g.start_hash > g.end_hash)
		FAIL(EINVAL, "range starts after it ends");
	t = tmap_find(m, g.table_id, g.start_hash);
	if (!t)
		FAIL(ENOENT, "no table %llu", (unsigned long long)g.table_id);
	if (!tmap_find_node(m, g.dst))
		FAIL(ENOENT, "node %u is not registered", g.dst);
	if (!coord_node_conn(c, g.dst))
		FAIL(EHOSTUNREACH, "node %u: daemon not connected", g.dst);
	te = tmap_find(m, g.table_id, g.end_hash);
	if (!te || te->start != t->start)
		FAIL(EINVAL, "range crosses tablets (first tablet ends at 0x%016llx)",
		     (unsigned long long)t->end);
	if (t->state != TMAP_NORMAL)
		FAIL(EBUSY, "tablet is migrating");
	if (t->owner == g.dst)
		FAIL(EINVAL, "node %u already owns the range", g.dst);
	if (coord_tablet_lost(c, g.table_id, t->start, t->end))
		FAIL(EHOSTDOWN, "the range was lost with a dead node (needs recovery)");
	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *o = &c->st.migs[i];

		if (o->table_id == g.table_id &&
		    !skv_mig_state_final(o->state) &&
		    o->start_hash <= g.end_hash && g.start_hash <= o->end_hash)
			FAIL(EBUSY, "overlaps migration %llu in progress",
			     (unsigned long long)o->id);
	}
	if (coord_table_has_op(c, g.table_id))
		FAIL(EBUSY, "table %llu is being created or dropped",
		     (unsigned long long)g.table_id);
	src = tmap_find_node(m, t->owner);
	if (!src)
		FAIL(EIO, "owner %u of the range is unknown", t->owner);
	tstart = t->start;
	/* The request gave the range, target and tuning; the rest is ours. */
	{
		const struct skv_migration req = g;

		memset(&g, 0, sizeof(g));
		g.present = (req.present & SKV_MIG_TUNING_BITS) |
			    COORD_MIG_STORED_BITS |
			    (1ull << STEADYKV_A_MIGRATION_SOURCE_ADDR) |
			    (1ull << STEADYKV_A_MIGRATION_SOURCE_PORT);
		g.table_id = req.table_id;
		g.start_hash = req.start_hash;
		g.end_hash = req.end_hash;
		g.dst = req.dst;
		g.mode = req.mode;
		g.partitions = req.partitions;
		g.pulls_in_flight = req.pulls_in_flight;
		g.pull_budget = req.pull_budget;
		g.priority_pulls = req.priority_pulls;
	}
	g.src = src->id;
	snprintf(g.source, sizeof(g.source), "%s", src->addr);
	err = mig_new_id(c, &g.id);
	if (err)
		FAIL(-err, "no migration id: %s", strerror(-err));
	g.state = STEADYKV_MIGRATION_STATE_PREPARING;
	g.started_unix_ms = coord_unix_ms();
	memset(&l, 0, sizeof(l));
	l.mig_id = g.id;
	l.table_id = g.table_id;
	l.start = g.start_hash;
	l.end = g.end_hash;
	l.src = g.src;
	l.dst = g.dst;
	l.unix_ms = g.started_unix_ms;
	/* Make the range a tablet of its own (t is stale after a split). */
	err = 0;
	if (g.start_hash > tstart)
		err = tmap_split(m, g.table_id, g.start_hash);
	te = tmap_find(m, g.table_id, g.end_hash);
	if (!err && te && g.end_hash < te->end)
		err = tmap_split(m, g.table_id, g.end_hash + 1);
	if (!err)
		err = mig_add(c, &g);
	if (!err)
		err = lineage_add(c, &l);
	if (err) {
		/* Back to the saved state: nothing of this was acknowledged. */
		if (m->version != ver || coord_mig_find(c, g.id))
			coord_reload(c);
		if (err == -EBUSY)
			FAIL(EBUSY, "%d migrations in progress",
			     COORD_KEEP_MIGRATIONS);
		FAIL(-err, "migrate: %s", strerror(-err));
	}
	err = coord_persist(c, msg, sizeof(msg));
	if (err)
		FAIL(-err, "%s", msg);
	coord_logmsg(c, false, "migration %llu: table %llu 0x%016llx-0x%016llx "
		     "node %u -> %u (%s)", (unsigned long long)g.id,
		     (unsigned long long)g.table_id,
		     (unsigned long long)g.start_hash,
		     (unsigned long long)g.end_hash, g.src, g.dst,
		     skv_mig_mode_str(g.mode));
	op = coord_op_new(c, cn, h, OP_MIGRATE);
	if (!op)
		FAIL(ENOMEM, "out of memory");
	op->table_id = g.table_id;
	op->mig_id = g.id;
	coord_buf_init(&b);
	err = coord_mig_encode(&b, &g);
	if (!err)
		err = coord_send_cmd(c, g.dst, SKV_COORD_OP_NODE_MIGRATE_START, &b,
				     op, 0);
	coord_buf_free(&b);
	if (err)
		coord_op_fail(op, err, "node %u: %s", g.dst, strerror(-err));
	*id = g.id;
	coord_op_start_done(c, op);
	return 0;
#undef FAIL
}

void coord_do_migrate(struct coordinator *c, struct conn *cn,
		      const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_migration g;
	char why[300];
	uint64_t id;
	int err;

	if (coord_mig_decode(body, h->body_len, &g)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"malformed MIGRATE body");
		return;
	}
	err = coord_mig_start(c, cn, h, &g, &id, why, sizeof(why));
	if (err)
		coord_reply_err(cn, h->opcode, h->request_id, err, "%s", why);
}

void coord_do_mig_status(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_migration *v;
	struct coord_buf b;
	uint32_t n = 0;
	uint64_t id;
	size_t i;
	int err;

	if (coord_id_decode(body, h->body_len, &id)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"malformed MIG_STATUS body");
		return;
	}
	v = calloc(c->st.nr_migs + 1, sizeof(*v));
	if (!v) {
		coord_reply_err(cn, h->opcode, h->request_id, ENOMEM, "out of memory");
		return;
	}
	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *g = &c->st.migs[i];

		if (id && g->id != id)
			continue;
		v[n] = *g;
		if (!skv_mig_state_final(g->state) && !coord_node_conn(c, g->dst) &&
		    !g->error_msg[0])
			mig_set_msg(&v[n], "target daemon disconnected");
		n++;
	}
	if (id && !n) {
		free(v);
		coord_reply_err(cn, h->opcode, h->request_id, ENOENT,
				"no migration %llu", (unsigned long long)id);
		return;
	}
	coord_buf_init(&b);
	err = coord_mig_list_encode(&b, v, n);
	if (err)
		coord_reply_err(cn, h->opcode, h->request_id, -err, "status: %s",
				strerror(-err));
	else
		coord_reply_ok(cn, h->opcode, h->request_id, b.p, b.len);
	coord_buf_free(&b);
	free(v);
}

void coord_do_mig_cancel(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_migration *g;
	struct coord_buf b;
	struct op *op;
	uint64_t id;
	int err;

	if (coord_id_decode(body, h->body_len, &id)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"malformed MIG_CANCEL body");
		return;
	}
	g = coord_mig_find(c, id);
	if (!g) {
		coord_reply_err(cn, h->opcode, h->request_id, ENOENT,
				"no migration %llu", (unsigned long long)id);
		return;
	}
	if (skv_mig_state_final(g->state)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"migration %llu already %s", (unsigned long long)id,
				skv_mig_state_str(g->state));
		return;
	}
	if (!coord_node_conn(c, g->dst)) {
		/*
		 * Only the target can say what moved: a start it was sent may
		 * have run (in doubt), and ending it here left the range owned
		 * by a source that had dropped it.  Its daemon back, a start in
		 * doubt is cancelled there (coord_cancel_in_doubt); declared
		 * dead, the migration fails.
		 */
		coord_reply_err(cn, h->opcode, h->request_id, EHOSTUNREACH,
				"node %u (the target): daemon not connected%s", g->dst,
				g->state == STEADYKV_MIGRATION_STATE_PREPARING ?
				"; its start is cancelled when it registers again" : "");
		return;
	}
	op = coord_op_new(c, cn, h, OP_CANCEL);
	if (!op) {
		coord_reply_err(cn, h->opcode, h->request_id, ENOMEM, "out of memory");
		return;
	}
	op->mig_id = id;
	op->table_id = g->table_id;
	coord_buf_init(&b);
	err = coord_id_encode(&b, id);
	if (!err)
		err = coord_send_cmd(c, g->dst, SKV_COORD_OP_NODE_MIGRATE_CANCEL, &b,
				     op, 0);
	coord_buf_free(&b);
	if (err)
		coord_op_fail(op, err, "node %u: %s", g->dst, strerror(-err));
	coord_op_start_done(c, op);
}

/*
 * The target answered a cancel with ENOENT while the migration is still
 * preparing here: its start never reached the target (the coordinator or
 * the target's daemon died first), nothing moved anywhere, so it ends here.
 */
void coord_finish_cancel(struct coordinator *c, struct op *op)
{
	struct skv_migration *g = coord_mig_find(c, op->mig_id);
	char msg[300];

	if (op->err != ENOENT || !g ||
	    g->state != STEADYKV_MIGRATION_STATE_PREPARING)
		return;
	mig_transition(c, g, STEADYKV_MIGRATION_STATE_CANCELLED, ECANCELED);
	mig_set_msg(g, "cancelled: the target never started it");
	op->err = 0;
	if (coord_persist(c, msg, sizeof(msg)))
		coord_op_fail(op, EIO, "%s", msg);
	else
		coord_logmsg(c, false, "migration %llu: cancelled, its target never started it",
			     (unsigned long long)op->mig_id);
}

static bool mig_has_op(const struct coordinator *c, uint64_t id)
{
	const struct op *op;

	for (op = c->ops; op; op = op->next)
		if (op->mig_id == id)
			return true;
	return false;
}

/*
 * @node registered: a migration to it still preparing with no op of ours
 * on it is in doubt (the coordinator restarted, or the daemon left, before
 * the target answered its start), and would block its range for ever.
 * Cancel it there: a target that started it stops or rolls back and
 * reports; one that never had it answers ENOENT (coord_finish_cancel).
 */
void coord_cancel_in_doubt(struct coordinator *c, uint32_t node)
{
	size_t i;

	/* By index: a failed save in a finishing op reloads c->st. */
	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *g = &c->st.migs[i];
		uint64_t id = g->id;

		if (g->dst != node || g->state != STEADYKV_MIGRATION_STATE_PREPARING ||
		    mig_has_op(c, id))
			continue;
		coord_logmsg(c, false, "migration %llu: start in doubt, cancelling it at node %u",
			     (unsigned long long)id, node);
		if (mig_cancel_at(c, id, node))
			return;
	}
}

void coord_migs_node_registered(struct coordinator *c, uint32_t node)
{
	size_t i = 0;

	coord_cancel_in_doubt(c, node);
	while (i < c->nr_undecided) {
		const struct skv_migration *g = coord_mig_find(c, c->undecided[i]);

		if (g && g->src != node) {
			i++;
			continue;
		}
		/* Its daemon is connected now: mig_decide sends it. */
		c->undecided[i] = c->undecided[--c->nr_undecided];
		if (g)
			mig_decide(c, g);
	}
}

void coord_do_mig_report(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_migration r, *g;
	bool save = false, later;

	if (!cn->node_id) {
		coord_reply_err(cn, h->opcode, h->request_id, EPERM,
				"MIG_REPORT before NODE_REGISTER");
		return;
	}
	if (coord_mig_decode(body, h->body_len, &r)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"malformed MIG_REPORT body");
		return;
	}
	g = coord_mig_find(c, r.id);
	if (!g) {
		coord_reply_err(cn, h->opcode, h->request_id, ENOENT,
				"no migration %llu", (unsigned long long)r.id);
		return;
	}
	if (g->dst != cn->node_id) {
		coord_reply_err(cn, h->opcode, h->request_id, EPERM,
				"migration %llu runs on node %u, not %u",
				(unsigned long long)r.id, g->dst, cn->node_id);
		return;
	}
	if (!skv_mig_state_valid(r.state)) {
		coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
				"unknown migration state %u", r.state);
		return;
	}
	if (skv_mig_state_final(g->state)) {
		/*
		 * Late report of a finished migration: nothing changes, but
		 * for the hand-back of a frozen range (coord_release_tick).
		 */
		if (r.state == g->state && r.error == SKV_COORD_ERR_HANDED_BACK &&
		    g->error == SKV_COORD_ERR_NEEDS_RECOVERY) {
			char msg[300];
			int err;

			mig_handed_back(c, g, r.error_msg);
			err = coord_persist(c, msg, sizeof(msg));
			if (err) {
				coord_reply_err(cn, h->opcode, h->request_id, -err, "%s", msg);
				return;
			}
		}
		coord_reply_ok(cn, h->opcode, h->request_id, NULL, 0);
		return;
	}
	later = skv_mig_state_later(g->state, r.state);
	g->progress_permille = r.progress_permille > 1000 ? 1000 :
			       r.progress_permille;
	g->elapsed_us = r.elapsed_us;
	g->owned_us = r.owned_us;
	g->bytes_pulled = r.bytes_pulled;
	g->records_pulled = r.records_pulled;
	g->records_replayed = r.records_replayed;
	g->records_skipped = r.records_skipped;
	g->pulls = r.pulls;
	g->priority_pulls_sent = r.priority_pulls_sent;
	g->priority_keys = r.priority_keys;
	g->partitions_done = r.partitions_done;
	g->present |= r.present & REPORT_COUNTER_BITS;
	if (r.error_msg[0] || later)
		mig_set_msg(g, r.error_msg);
	if (r.safe_version && r.safe_version != g->safe_version) {
		struct coord_lineage *l = lineage_find(c, g->id);

		g->safe_version = r.safe_version;
		if (l)
			l->safe_version = r.safe_version;
		save = true;
	}
	/* A target that could not reach its source reports it. */
	if (later && r.state == STEADYKV_MIGRATION_STATE_FAILED &&
	    transport_error(r.error))
		coord_live_suspect(c, g->src, cn->node_id, "its migration failed");
	if (later) {
		if (c->verbose || skv_mig_state_final(r.state))
			coord_logmsg(c, false, "migration %llu: %s%s%s",
				     (unsigned long long)g->id,
				     skv_mig_state_str(r.state),
				     r.error_msg[0] ? ": " : "", r.error_msg);
		mig_transition(c, g, r.state, r.error);
		save = true;
	}
	if (save) {
		char msg[300];
		int err = coord_persist(c, msg, sizeof(msg));

		if (err) {
			coord_reply_err(cn, h->opcode, h->request_id, -err, "%s", msg);
			return;
		}
	}
	coord_reply_ok(cn, h->opcode, h->request_id, NULL, 0);
}
