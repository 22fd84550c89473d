// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The migrations the node agent has seen (see node_agent_int.h) and its
 * MIG_REPORTs: a phase change (or the first sight of a migration) at once,
 * progress at most every progress_interval_ms per migration (the last one
 * held back is sent when the interval ends).
 *
 * Events queued before a dump may be handled after it: a cached migration
 * therefore only moves to a later phase (skv_mig_state_later()), and within
 * a phase never to an older elapsed time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "node_agent_int.h"

static struct mig_entry *mig_find(struct agent *a, uint64_t id)
{
	for (size_t i = 0; i < a->nmigs; i++)
		if (a->migs[i].m.id == id)
			return &a->migs[i];
	return NULL;
}

/* Queue a MIG_REPORT of e (READY only). */
static void mig_report(struct agent *a, struct mig_entry *e)
{
	struct skv_migration report = e->m;
	struct coord_buf body;
	int rc;

	if (a->cs != C_READY)
		return;
	/* The source node is the coordinator's to know; the target is this one. */
	report.src = 0;
	report.dst = a->o->node_id;
	coord_buf_init(&body);
	rc = coord_mig_encode(&body, &report);
	if (!rc)
		rc = coord_frame_append(&a->out, SKV_COORD_OP_MIG_REPORT, 0, 0, a->next_id++,
					body.p, body.len);
	coord_buf_free(&body);
	if (rc) {
		agent_log("migration %" PRIu64 ": cannot queue a report: %s", e->m.id, strerror(-rc));
		return;
	}
	if (!e->reported || e->reported_state != e->m.state)
		agent_log("migration %" PRIu64 ": reported %s (%u.%u%%)", e->m.id,
		      skv_mig_state_str(e->m.state), e->m.progress_permille / 10,
		      e->m.progress_permille % 10);
	e->reported = true;
	e->reported_state = e->m.state;
	e->last_report_ms = agent_now_ms();
	e->pending = false;
}

/* Report e now if its phase changed, else when the rate limit allows. */
static void mig_maybe_report(struct agent *a, struct mig_entry *e)
{
	uint64_t now = agent_now_ms();

	if (a->cs != C_READY)
		return;
	if (!e->reported || e->reported_state != e->m.state ||
	    now - e->last_report_ms >= a->progress_ms)
		mig_report(a, e);
	else
		e->pending = true;
}

void mig_update(void *ctx, const struct skv_migration *m)
{
	struct agent *a = ctx;
	struct mig_entry *e = mig_find(a, m->id);

	if (!SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_STATE))
		return;
	if (!e) {
		if (a->nmigs == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 16;
			struct mig_entry *v = realloc(a->migs, cap * sizeof(*v));

			if (!v) {
				agent_log("migration %" PRIu64 ": out of memory", m->id);
				return;
			}
			a->migs = v;
			a->cap = cap;
		}
		e = &a->migs[a->nmigs++];
		memset(e, 0, sizeof(*e));
		e->m = *m;
		agent_log("migration %" PRIu64 ": %s (table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64
		      ")", m->id, skv_mig_state_str(m->state), m->table_id, m->start_hash,
		      m->end_hash);
		mig_maybe_report(a, e);
		return;
	}
	if (m->state != e->m.state && !skv_mig_state_later(e->m.state, m->state))
		return;	/* an event older than what a dump already told */
	if (m->state == e->m.state &&
	    (m->elapsed_us < e->m.elapsed_us ||
	     (skv_mig_state_final(m->state) && m->error == e->m.error &&
	      !strcmp(m->error_msg, e->m.error_msg))))
		return;	/* older within the phase, or nothing new after the end */
	/* After the end only the error changes: a frozen range handed back. */
	if (m->state == e->m.state && m->error != e->m.error)
		agent_log("migration %" PRIu64 ": %s: %s%s%s", m->id, skv_mig_state_str(m->state),
			  strerror((int)m->error), m->error_msg[0] ? ": " : "", m->error_msg);
	if (m->state != e->m.state) {
		if (m->error)
			agent_log("migration %" PRIu64 ": %s -> %s: %s%s%s", m->id,
			      skv_mig_state_str(e->m.state), skv_mig_state_str(m->state),
			      strerror((int)m->error), m->error_msg[0] ? ": " : "", m->error_msg);
		else
			agent_log("migration %" PRIu64 ": %s -> %s", m->id,
			      skv_mig_state_str(e->m.state), skv_mig_state_str(m->state));
	}
	e->m = *m;
	mig_maybe_report(a, e);
}

int mig_resync(struct agent *a)
{
	struct sknl_err err;
	int rc = a->nl->migrate_dump(a->nl_arg, mig_update, a, &err);

	if (rc == -EOPNOTSUPP) {
		/* A module without migrations: nothing to report. */
		return 0;
	}
	if (rc) {
		char why[512];

		sknl_err_format(&err, why, sizeof(why));
		agent_log("migrate-get dump: %s", why);
		return -1;
	}
	return 0;
}

void mig_report_all(struct agent *a)
{
	for (size_t i = 0; i < a->nmigs; i++)
		a->migs[i].reported = false;
	mig_resync(a);
	for (size_t i = 0; i < a->nmigs; i++)
		if (!a->migs[i].reported)
			mig_report(a, &a->migs[i]);
}

void mig_flush_pending(struct agent *a)
{
	uint64_t now = agent_now_ms();

	for (size_t i = 0; i < a->nmigs; i++) {
		struct mig_entry *e = &a->migs[i];

		if (e->pending && now - e->last_report_ms >= a->progress_ms)
			mig_report(a, e);
	}
}

int64_t mig_pending_wait(const struct agent *a)
{
	uint64_t now = agent_now_ms();
	int64_t best = -1;

	if (a->cs != C_READY)
		return -1;
	for (size_t i = 0; i < a->nmigs; i++) {
		const struct mig_entry *e = &a->migs[i];
		uint64_t due = e->last_report_ms + a->progress_ms;
		int64_t w = due > now ? (int64_t)(due - now) : 0;

		if (e->pending && (best < 0 || w < best))
			best = w;
	}
	return best;
}

