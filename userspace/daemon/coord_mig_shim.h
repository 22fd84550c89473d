/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TEMPORARY SHIM, for the lead to delete at the merge with branch coord
 * (with its two #includes, in node_agent_int.h and tests/test_node_agent.c).
 *
 * Branch coord makes coord_mig_encode()/coord_mig_decode() carry struct
 * skv_migration itself.  Until that lands here, these stand-ins give the
 * node agent that signature over today's struct coord_migration, with
 * today's wire meaning: a tuning field is 0 (priority pulls: 2) when
 * absent.  (The module always reports priority pulls.)
 */
#ifndef SKV_DAEMON_COORD_MIG_SHIM_H
#define SKV_DAEMON_COORD_MIG_SHIM_H

#include <stdio.h>
#include <string.h>

#include "coord_proto.h"
#include "mig_record.h"

static inline int shim_coord_mig_encode(struct coord_buf *b, const struct skv_migration *m)
{
	struct coord_migration c = {
		.id = m->id, .table_id = m->table_id,
		.start_hash = m->start_hash, .end_hash = m->end_hash,
		.src = m->src, .dst = m->dst, .mode = m->mode,
		.partitions = m->partitions, .pulls_in_flight = m->pulls_in_flight,
		.pull_budget = m->pull_budget,
		.priority_pulls = SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_PRIORITY_PULLS) ?
				  m->priority_pulls : 2,
		.state = m->state, .error = m->error,
		.progress_permille = m->progress_permille, .safe_version = m->safe_version,
		.started_unix_ms = m->started_unix_ms, .elapsed_us = m->elapsed_us,
		.owned_us = m->owned_us, .bytes_pulled = m->bytes_pulled,
		.records_pulled = m->records_pulled, .records_replayed = m->records_replayed,
		.priority_keys = m->priority_keys,
	};

	snprintf(c.src_addr, sizeof(c.src_addr), "%s", m->source);
	snprintf(c.msg, sizeof(c.msg), "%.*s", (int)sizeof(c.msg) - 1, m->error_msg);
	return coord_mig_encode(b, &c);
}

static inline int shim_coord_mig_decode(const void *body, size_t len, struct skv_migration *m)
{
	static const int always[] = {
		STEADYKV_A_MIGRATION_ID, STEADYKV_A_MIGRATION_TABLE_ID,
		STEADYKV_A_MIGRATION_START_HASH, STEADYKV_A_MIGRATION_END_HASH,
		STEADYKV_A_MIGRATION_SOURCE_ADDR, STEADYKV_A_MIGRATION_SOURCE_PORT,
		STEADYKV_A_MIGRATION_MODE, STEADYKV_A_MIGRATION_STATE,
		STEADYKV_A_MIGRATION_ERROR, STEADYKV_A_MIGRATION_PROGRESS_PERMILLE,
		STEADYKV_A_MIGRATION_SAFE_VERSION, STEADYKV_A_MIGRATION_ELAPSED_US,
		STEADYKV_A_MIGRATION_OWNED_US, STEADYKV_A_MIGRATION_BYTES_PULLED,
		STEADYKV_A_MIGRATION_RECORDS_PULLED, STEADYKV_A_MIGRATION_RECORDS_REPLAYED,
		STEADYKV_A_MIGRATION_PRIORITY_KEYS,
	};
	struct coord_migration c;

	if (coord_mig_decode(body, len, &c))
		return -1;
	memset(m, 0, sizeof(*m));
	m->id = c.id;
	m->table_id = c.table_id;
	m->start_hash = c.start_hash;
	m->end_hash = c.end_hash;
	m->src = c.src;
	m->dst = c.dst;
	m->mode = c.mode;
	m->state = c.state;
	m->error = c.error;
	m->progress_permille = c.progress_permille;
	m->safe_version = c.safe_version;
	m->started_unix_ms = c.started_unix_ms;
	m->elapsed_us = c.elapsed_us;
	m->owned_us = c.owned_us;
	m->bytes_pulled = c.bytes_pulled;
	m->records_pulled = c.records_pulled;
	m->records_replayed = c.records_replayed;
	m->priority_keys = c.priority_keys;
	snprintf(m->source, sizeof(m->source), "%s", c.src_addr);
	snprintf(m->error_msg, sizeof(m->error_msg), "%s", c.msg);
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		SKV_MIG_SET(m, always[i]);
	if (c.msg[0])
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_ERROR_MSG);
	if (c.partitions) {
		m->partitions = c.partitions;
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_PARTITIONS);
	}
	if (c.pulls_in_flight) {
		m->pulls_in_flight = c.pulls_in_flight;
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT);
	}
	if (c.pull_budget) {
		m->pull_budget = c.pull_budget;
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_PULL_BUDGET);
	}
	if (c.priority_pulls <= 1) {
		m->priority_pulls = c.priority_pulls;
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_PRIORITY_PULLS);
	}
	return 0;
}

#define coord_mig_encode shim_coord_mig_encode
#define coord_mig_decode shim_coord_mig_decode

#endif /* SKV_DAEMON_COORD_MIG_SHIM_H */
