/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A migration as userspace passes it around, defined once: the netlink
 * library parses migrate-get replies and migrate-ntf events into it and
 * builds migrate-start from it; the coordinator protocol carries it
 * (coord.h's skv_coord_migration is its wire form); the coordinator keeps
 * it; the node agent and steadykvctl read it.
 *
 * Every field but the ones marked "coordinator" is an attribute of the
 * netlink migration set.  present has bit (1 << STEADYKV_A_MIGRATION_*)
 * for each such field that is set.  A tuning field (mode, partitions,
 * pulls_in_flight, pull_budget, priority_pulls) that is absent takes the
 * module's default (the spec's STEADYKV_MIGRATION_*_DEFAULT): userspace
 * never fills one in.  The rules (ranges, phases, legal changes) are in
 * include/steadykv/migration.h.
 */
#ifndef SKV_COMMON_MIG_RECORD_H
#define SKV_COMMON_MIG_RECORD_H

#include <stdint.h>
#include <steadykv/migration.h>

#define SKV_MIG_ADDR_MAX	128	/* "host:port" and NUL, as coord.h's */
#define SKV_MIG_MSG_MAX		256

struct skv_migration {
	uint64_t present;	/* 1 << STEADYKV_A_MIGRATION_* */
	uint64_t id;
	uint64_t table_id;
	uint64_t start_hash;	/* inclusive */
	uint64_t end_hash;	/* inclusive */
	/* source-addr and source-port, as "ADDR:PORT" or "[ADDR6]:PORT" */
	char source[SKV_MIG_ADDR_MAX];
	uint32_t mode;		/* enum steadykv_migration_mode */
	uint32_t partitions;
	uint32_t pulls_in_flight;
	uint32_t pull_budget;
	uint8_t priority_pulls;	/* 0 or 1 */
	uint32_t state;		/* enum steadykv_migration_state */
	uint32_t error;		/* positive errno, 0 if none */
	char error_msg[SKV_MIG_MSG_MAX];
	uint64_t safe_version;
	uint64_t elapsed_us;
	uint32_t progress_permille;
	uint64_t bytes_pulled;
	uint64_t records_pulled;
	uint64_t records_replayed;
	uint64_t records_skipped;
	uint64_t pulls;
	uint64_t priority_pulls_sent;
	uint64_t priority_keys;
	uint32_t partitions_done;
	uint64_t owned_us;
	uint32_t pace_depth;
	uint32_t pace_client_p999_us;
	uint32_t pace_pull_bytes;

	/* coordinator: the nodes and when it started the migration */
	uint32_t src;
	uint32_t dst;
	uint64_t started_unix_ms;
};

#define SKV_MIG_HAS(m, attr)	((int)(((m)->present >> (attr)) & 1))
#define SKV_MIG_SET(m, attr)	((m)->present |= 1ull << (attr))

/* present bits of the tuning fields, and of every migration attribute. */
#define SKV_MIG_TUNING_BITS						\
	((1ull << STEADYKV_A_MIGRATION_MODE) |				\
	 (1ull << STEADYKV_A_MIGRATION_PARTITIONS) |			\
	 (1ull << STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT) |		\
	 (1ull << STEADYKV_A_MIGRATION_PULL_BUDGET) |			\
	 (1ull << STEADYKV_A_MIGRATION_PRIORITY_PULLS))
#define SKV_MIG_ATTR_BITS						\
	(((1ull << (STEADYKV_A_MIGRATION_MAX + 1)) - 1) &		\
	 ~((1ull << STEADYKV_A_MIGRATION_ID) - 1))

_Static_assert(STEADYKV_A_MIGRATION_PRIORITY_PULLS - STEADYKV_A_MIGRATION_MODE == 4,
	       "the tuning attributes are contiguous, mode first");

/* attr (an int) through the tuning attributes, mode first. */
#define SKV_MIG_FOR_EACH_TUNING(attr)					\
	for ((attr) = STEADYKV_A_MIGRATION_MODE;			\
	     (attr) <= STEADYKV_A_MIGRATION_PRIORITY_PULLS; (attr)++)

/* The value of a tuning field, whether present or not. */
static inline unsigned long long skv_mig_tuning_value(const struct skv_migration *m,
						      int attr)
{
	switch (attr) {
	case STEADYKV_A_MIGRATION_MODE:
		return m->mode;
	case STEADYKV_A_MIGRATION_PARTITIONS:
		return m->partitions;
	case STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT:
		return m->pulls_in_flight;
	case STEADYKV_A_MIGRATION_PULL_BUDGET:
		return m->pull_budget;
	case STEADYKV_A_MIGRATION_PRIORITY_PULLS:
		return m->priority_pulls;
	default:
		return 0;
	}
}

/* Give the tuning field attr the value v. */
static inline void skv_mig_set_tuning(struct skv_migration *m, int attr, uint32_t v)
{
	switch (attr) {
	case STEADYKV_A_MIGRATION_MODE:
		m->mode = v;
		break;
	case STEADYKV_A_MIGRATION_PARTITIONS:
		m->partitions = v;
		break;
	case STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT:
		m->pulls_in_flight = v;
		break;
	case STEADYKV_A_MIGRATION_PULL_BUDGET:
		m->pull_budget = v;
		break;
	case STEADYKV_A_MIGRATION_PRIORITY_PULLS:
		m->priority_pulls = (uint8_t)v;
		break;
	default:
		return;
	}
	SKV_MIG_SET(m, attr);
}

/*
 * The tuning fields present in m, checked with skv_mig_tuning_invalid():
 * NULL if all are in range, else the first one's reason.
 */
static inline const char *skv_mig_check_tuning(const struct skv_migration *m)
{
	int attr;

	SKV_MIG_FOR_EACH_TUNING(attr) {
		const char *why;

		if (!SKV_MIG_HAS(m, attr))
			continue;
		why = skv_mig_tuning_invalid(attr, skv_mig_tuning_value(m, attr));
		if (why)
			return why;
	}
	return NULL;
}

#endif /* SKV_COMMON_MIG_RECORD_H */
