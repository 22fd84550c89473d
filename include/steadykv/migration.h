/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A migration's rules, defined once for the module and userspace: the
 * range of each tuning attribute (its bounds and default are the netlink
 * spec's constants, STEADYKV_MIGRATION_*, in uapi/linux/steadykv.h), the
 * phases a migration goes through and the changes between them that are
 * legal.
 *
 * The target's engine (kmod/mig_target.c) moves one phase at a time and
 * checks each step with skv_mig_state_step_ok().  Observers that learn
 * the phase from lossy events and reports (the node agent, the
 * coordinator) may miss phases: they accept a phase only if
 * skv_mig_state_later() says it comes after the one they hold.
 */
#ifndef STEADYKV_MIGRATION_H
#define STEADYKV_MIGRATION_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#endif
#include <uapi/linux/steadykv.h>

#define SKV_MIG_BIT(state)	(1u << (state))

/*
 * The most migrations a node takes part in at once, as their source and
 * their target together: a PREPARE past it gets BUSY, a migrate-start
 * EBUSY.
 */
#define SKV_MIG_MAX_ACTIVE	16

/* The phases each phase may move to in one step. */
static inline unsigned int skv_mig_state_next(unsigned int state)
{
	static const unsigned int next[STEADYKV_MIGRATION_STATE_MAX + 1] = {
		[STEADYKV_MIGRATION_STATE_PREPARING] =
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_PULLING) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_CANCELLED) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_FAILED),
		[STEADYKV_MIGRATION_STATE_PULLING] =
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_CATCHING_UP) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_RE_REPLICATING) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_DONE) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_ROLLING_BACK) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_FAILED),
		[STEADYKV_MIGRATION_STATE_CATCHING_UP] =
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_RE_REPLICATING) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_DONE) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_ROLLING_BACK) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_FAILED),
		/* Keeps the range whatever happens: no rollback. */
		[STEADYKV_MIGRATION_STATE_RE_REPLICATING] =
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_DONE) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_FAILED),
		[STEADYKV_MIGRATION_STATE_ROLLING_BACK] =
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_CANCELLED) |
			SKV_MIG_BIT(STEADYKV_MIGRATION_STATE_FAILED),
		/* done, cancelled, failed: nothing more happens. */
	};

	return state <= STEADYKV_MIGRATION_STATE_MAX ? next[state] : 0;
}

static inline bool skv_mig_state_valid(unsigned int state)
{
	return state <= STEADYKV_MIGRATION_STATE_MAX;
}

/* done, cancelled or failed: nothing more will happen to it. */
static inline bool skv_mig_state_final(unsigned int state)
{
	return skv_mig_state_valid(state) && !skv_mig_state_next(state);
}

/* May a migration in phase from move to phase to in one step? */
static inline bool skv_mig_state_step_ok(unsigned int from, unsigned int to)
{
	return skv_mig_state_valid(to) && (skv_mig_state_next(from) & SKV_MIG_BIT(to));
}

/*
 * Does phase to come after phase from, through any number of legal steps?
 * The phases form a graph without cycles, so this orders what observers
 * see.
 */
static inline bool skv_mig_state_later(unsigned int from, unsigned int to)
{
	unsigned int seen = 0, frontier = skv_mig_state_next(from);

	if (!skv_mig_state_valid(to))
		return false;
	while (frontier & ~seen) {
		unsigned int s;

		seen |= frontier;
		for (s = 0; s <= STEADYKV_MIGRATION_STATE_MAX; s++)
			if (frontier & SKV_MIG_BIT(s))
				frontier |= skv_mig_state_next(s);
	}
	return seen & SKV_MIG_BIT(to);
}

/* The reasons below spell the bounds out. */
_Static_assert(STEADYKV_MIGRATION_PARTITIONS_MAX == 64 &&
	       STEADYKV_MIGRATION_PULLS_IN_FLIGHT_MAX == 64 &&
	       STEADYKV_MIGRATION_PULL_BUDGET_MIN == 1024 &&
	       STEADYKV_MIGRATION_PULL_BUDGET_MAX == 1048576,
	       "update skv_mig_tuning_invalid()'s messages");

/*
 * Is value in range for the tuning attribute attr (a
 * STEADYKV_A_MIGRATION_* of mode, partitions, pulls-in-flight,
 * pull-budget, priority-pulls)?  NULL if so, else the reason.  The
 * module's netlink policy enforces the same bounds (generated from the
 * same constants); userspace checks with this before it changes anything.
 */
static inline const char *skv_mig_tuning_invalid(int attr, unsigned long long value)
{
	switch (attr) {
	case STEADYKV_A_MIGRATION_MODE:
		return value > STEADYKV_MIGRATION_MODE_MAX ? "unknown migration mode" : NULL;
	case STEADYKV_A_MIGRATION_PARTITIONS:
		return value < 1 || value > STEADYKV_MIGRATION_PARTITIONS_MAX ?
		       "partitions must be 1 to 64" : NULL;
	case STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT:
		return value < 1 || value > STEADYKV_MIGRATION_PULLS_IN_FLIGHT_MAX ?
		       "pulls in flight must be 1 to 64" : NULL;
	case STEADYKV_A_MIGRATION_PULL_BUDGET:
		return value < STEADYKV_MIGRATION_PULL_BUDGET_MIN ||
		       value > STEADYKV_MIGRATION_PULL_BUDGET_MAX ?
		       "pull budget must be 1024 to 1048576 bytes" : NULL;
	case STEADYKV_A_MIGRATION_PRIORITY_PULLS:
		return value > 1 ? "priority pulls must be 0 or 1" : NULL;
	default:
		return "not a tuning attribute";
	}
}

#endif /* STEADYKV_MIGRATION_H */
