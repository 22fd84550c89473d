/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Names of the netlink migration enums (uapi/linux/steadykv.h), as the
 * spec spells them: one table for the CLI, the netlink library and the
 * coordinator protocol.  NULL for a value the enum does not have.
 */
#ifndef SKV_MIG_NAMES_H
#define SKV_MIG_NAMES_H

#include <stddef.h>
#include <stdint.h>
#include <uapi/linux/steadykv.h>

static inline const char *skv_mig_state_name(uint32_t state)
{
	static const char *const names[] = {
		[STEADYKV_MIGRATION_STATE_PREPARING] = "preparing",
		[STEADYKV_MIGRATION_STATE_PULLING] = "pulling",
		[STEADYKV_MIGRATION_STATE_CATCHING_UP] = "catching-up",
		[STEADYKV_MIGRATION_STATE_DONE] = "done",
		[STEADYKV_MIGRATION_STATE_ROLLING_BACK] = "rolling-back",
		[STEADYKV_MIGRATION_STATE_CANCELLED] = "cancelled",
		[STEADYKV_MIGRATION_STATE_FAILED] = "failed",
		[STEADYKV_MIGRATION_STATE_RE_REPLICATING] = "re-replicating",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : NULL;
}

static inline const char *skv_mig_mode_name(uint32_t mode)
{
	static const char *const names[] = {
		[STEADYKV_MIGRATION_MODE_ROCKSTEADY] = "rocksteady",
		[STEADYKV_MIGRATION_MODE_PUSH] = "push",
		[STEADYKV_MIGRATION_MODE_REPLICATED] = "replicated",
	};

	return mode < sizeof(names) / sizeof(names[0]) ? names[mode] : NULL;
}

/* For printing: the name, or "unknown" for a value the enum does not have. */
static inline const char *skv_mig_state_str(uint32_t state)
{
	const char *name = skv_mig_state_name(state);

	return name ? name : "unknown";
}

static inline const char *skv_mig_mode_str(uint32_t mode)
{
	const char *name = skv_mig_mode_name(mode);

	return name ? name : "unknown";
}

#endif /* SKV_MIG_NAMES_H */
