// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/steadykv.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "nl-gen.h"

#include <uapi/linux/steadykv.h>

/* Integer value ranges */
static const struct netlink_range_validation steadykv_a_migration_pull_budget_range = {
	.min	= STEADYKV_MIGRATION_PULL_BUDGET_MIN,
	.max	= STEADYKV_MIGRATION_PULL_BUDGET_MAX,
};

/* STEADYKV_CMD_NODE_SET - do */
static const struct nla_policy steadykv_node_set_nl_policy[STEADYKV_A_NODE_MIG_FAULT_COUNT + 1] = {
	[STEADYKV_A_NODE_MEM_LIMIT] = { .type = NLA_U64, },
	[STEADYKV_A_NODE_EPOCH] = { .type = NLA_U64, },
	[STEADYKV_A_NODE_MIG_FAULT_OP] = { .type = NLA_U32, },
	[STEADYKV_A_NODE_MIG_FAULT_MODE] = NLA_POLICY_MAX(NLA_U32, 3),
	[STEADYKV_A_NODE_MIG_FAULT_STATUS] = { .type = NLA_U32, },
	[STEADYKV_A_NODE_MIG_FAULT_COUNT] = { .type = NLA_U32, },
};

/* STEADYKV_CMD_LISTEN_START - do */
static const struct nla_policy steadykv_listen_start_nl_policy[STEADYKV_A_NODE_LISTEN_PORT + 1] = {
	[STEADYKV_A_NODE_LISTEN_ADDR] = { .type = NLA_BINARY, },
	[STEADYKV_A_NODE_LISTEN_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
};

/* STEADYKV_CMD_TABLE_ADD - do */
static const struct nla_policy steadykv_table_add_nl_policy[STEADYKV_A_TABLE_ID + 1] = {
	[STEADYKV_A_TABLE_ID] = { .type = NLA_U64, },
};

/* STEADYKV_CMD_TABLE_DEL - do */
static const struct nla_policy steadykv_table_del_nl_policy[STEADYKV_A_TABLE_ID + 1] = {
	[STEADYKV_A_TABLE_ID] = { .type = NLA_U64, },
};

/* STEADYKV_CMD_TABLET_ADD - do */
static const struct nla_policy steadykv_tablet_add_nl_policy[STEADYKV_A_TABLET_STATE + 1] = {
	[STEADYKV_A_TABLET_TABLE_ID] = { .type = NLA_U64, },
	[STEADYKV_A_TABLET_START_HASH] = { .type = NLA_U64, },
	[STEADYKV_A_TABLET_END_HASH] = { .type = NLA_U64, },
	[STEADYKV_A_TABLET_STATE] = NLA_POLICY_MAX(NLA_U32, 3),
};

/* STEADYKV_CMD_TABLET_DEL - do */
static const struct nla_policy steadykv_tablet_del_nl_policy[STEADYKV_A_TABLET_END_HASH + 1] = {
	[STEADYKV_A_TABLET_TABLE_ID] = { .type = NLA_U64, },
	[STEADYKV_A_TABLET_START_HASH] = { .type = NLA_U64, },
	[STEADYKV_A_TABLET_END_HASH] = { .type = NLA_U64, },
};

/* STEADYKV_CMD_TABLET_SET - do */
static const struct nla_policy steadykv_tablet_set_nl_policy[STEADYKV_A_TABLET_STATE + 1] = {
	[STEADYKV_A_TABLET_TABLE_ID] = { .type = NLA_U64, },
	[STEADYKV_A_TABLET_START_HASH] = { .type = NLA_U64, },
	[STEADYKV_A_TABLET_END_HASH] = { .type = NLA_U64, },
	[STEADYKV_A_TABLET_STATE] = NLA_POLICY_MAX(NLA_U32, 3),
};

/* STEADYKV_CMD_MIGRATE_START - do */
static const struct nla_policy steadykv_migrate_start_nl_policy[STEADYKV_A_MIGRATION_PRIORITY_PULLS + 1] = {
	[STEADYKV_A_MIGRATION_ID] = NLA_POLICY_MIN(NLA_U64, 1),
	[STEADYKV_A_MIGRATION_TABLE_ID] = { .type = NLA_U64, },
	[STEADYKV_A_MIGRATION_START_HASH] = { .type = NLA_U64, },
	[STEADYKV_A_MIGRATION_END_HASH] = { .type = NLA_U64, },
	[STEADYKV_A_MIGRATION_SOURCE_ADDR] = { .type = NLA_BINARY, },
	[STEADYKV_A_MIGRATION_SOURCE_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[STEADYKV_A_MIGRATION_MODE] = NLA_POLICY_MAX(NLA_U32, 2),
	[STEADYKV_A_MIGRATION_PARTITIONS] = NLA_POLICY_RANGE(NLA_U32, 1, STEADYKV_MIGRATION_PARTITIONS_MAX),
	[STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT] = NLA_POLICY_RANGE(NLA_U32, 1, STEADYKV_MIGRATION_PULLS_IN_FLIGHT_MAX),
	[STEADYKV_A_MIGRATION_PULL_BUDGET] = NLA_POLICY_FULL_RANGE(NLA_U32, &steadykv_a_migration_pull_budget_range),
	[STEADYKV_A_MIGRATION_PRIORITY_PULLS] = NLA_POLICY_MAX(NLA_U8, 1),
};

/* STEADYKV_CMD_MIGRATE_CANCEL - do */
static const struct nla_policy steadykv_migrate_cancel_nl_policy[STEADYKV_A_MIGRATION_ID + 1] = {
	[STEADYKV_A_MIGRATION_ID] = NLA_POLICY_MIN(NLA_U64, 1),
};

/* STEADYKV_CMD_MIGRATE_GET - do */
static const struct nla_policy steadykv_migrate_get_nl_policy[STEADYKV_A_MIGRATION_ID + 1] = {
	[STEADYKV_A_MIGRATION_ID] = NLA_POLICY_MIN(NLA_U64, 1),
};

/* STEADYKV_CMD_AUTH_SET - do */
static const struct nla_policy steadykv_auth_set_nl_policy[STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED + 1] = {
	[STEADYKV_A_NODE_AUTH_KEY] = { .type = NLA_BINARY, },
	[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS] = { .type = NLA_BINARY, },
	[STEADYKV_A_NODE_AUTH_INSECURE] = { .type = NLA_U8, },
	[STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED] = NLA_POLICY_MAX(NLA_U8, 1),
};

/* STEADYKV_CMD_CLIENT_KEY_ADD - do */
static const struct nla_policy steadykv_client_key_add_nl_policy[STEADYKV_A_CLIENT_KEY_WRITE_TABLE + 1] = {
	[STEADYKV_A_CLIENT_KEY_SECRET] = { .type = NLA_BINARY, },
	[STEADYKV_A_CLIENT_KEY_READ_ALL] = { .type = NLA_FLAG, },
	[STEADYKV_A_CLIENT_KEY_WRITE_ALL] = { .type = NLA_FLAG, },
	[STEADYKV_A_CLIENT_KEY_READ_TABLE] = { .type = NLA_U64, },
	[STEADYKV_A_CLIENT_KEY_WRITE_TABLE] = { .type = NLA_U64, },
};

/* STEADYKV_CMD_CLIENT_KEY_DEL - do */
static const struct nla_policy steadykv_client_key_del_nl_policy[STEADYKV_A_CLIENT_KEY_ID + 1] = {
	[STEADYKV_A_CLIENT_KEY_ID] = { .type = NLA_U32, },
};

/* STEADYKV_CMD_MIGRATE_DECIDE - do */
static const struct nla_policy steadykv_migrate_decide_nl_policy[STEADYKV_A_MIGRATION_DECISION_ABORT + 1] = {
	[STEADYKV_A_MIGRATION_ID] = NLA_POLICY_MIN(NLA_U64, 1),
	[STEADYKV_A_MIGRATION_DECISION_ABORT] = { .type = NLA_U8, },
};

/* STEADYKV_CMD_REPL_SET - do */
static const struct nla_policy steadykv_repl_set_nl_policy[STEADYKV_A_REPL_BACKUP + 1] = {
	[STEADYKV_A_REPL_PRIMARY_ID] = { .type = NLA_U64, },
	[STEADYKV_A_REPL_EPOCH] = { .type = NLA_U64, },
	[STEADYKV_A_REPL_BACKUP] = { .type = NLA_BINARY, },
};

/* STEADYKV_CMD_REPL_FENCE - do */
static const struct nla_policy steadykv_repl_fence_nl_policy[STEADYKV_A_REPL_EPOCH + 1] = {
	[STEADYKV_A_REPL_PRIMARY_ID] = { .type = NLA_U64, },
	[STEADYKV_A_REPL_EPOCH] = { .type = NLA_U64, },
};

/* STEADYKV_CMD_REPL_RECOVER - do */
static const struct nla_policy steadykv_repl_recover_nl_policy[STEADYKV_A_REPL_RECOVER_END_HASH + 1] = {
	[STEADYKV_A_REPL_PRIMARY_ID] = { .type = NLA_U64, },
	[STEADYKV_A_REPL_EPOCH] = { .type = NLA_U64, },
	[STEADYKV_A_REPL_RECOVER_TABLE_ID] = { .type = NLA_U64, },
	[STEADYKV_A_REPL_RECOVER_START_HASH] = { .type = NLA_U64, },
	[STEADYKV_A_REPL_RECOVER_END_HASH] = { .type = NLA_U64, },
};

/* Ops table for steadykv */
static const struct genl_split_ops steadykv_nl_ops[] = {
	{
		.cmd	= STEADYKV_CMD_NODE_GET,
		.doit	= steadykv_nl_node_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_NODE_SET,
		.doit		= steadykv_nl_node_set_doit,
		.policy		= steadykv_node_set_nl_policy,
		.maxattr	= STEADYKV_A_NODE_MIG_FAULT_COUNT,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_LISTEN_START,
		.doit		= steadykv_nl_listen_start_doit,
		.policy		= steadykv_listen_start_nl_policy,
		.maxattr	= STEADYKV_A_NODE_LISTEN_PORT,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= STEADYKV_CMD_LISTEN_STOP,
		.doit	= steadykv_nl_listen_stop_doit,
		.flags	= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_TABLE_ADD,
		.doit		= steadykv_nl_table_add_doit,
		.policy		= steadykv_table_add_nl_policy,
		.maxattr	= STEADYKV_A_TABLE_ID,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_TABLE_DEL,
		.doit		= steadykv_nl_table_del_doit,
		.policy		= steadykv_table_del_nl_policy,
		.maxattr	= STEADYKV_A_TABLE_ID,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= STEADYKV_CMD_TABLE_GET,
		.dumpit	= steadykv_nl_table_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= STEADYKV_CMD_TABLET_ADD,
		.doit		= steadykv_nl_tablet_add_doit,
		.policy		= steadykv_tablet_add_nl_policy,
		.maxattr	= STEADYKV_A_TABLET_STATE,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_TABLET_DEL,
		.doit		= steadykv_nl_tablet_del_doit,
		.policy		= steadykv_tablet_del_nl_policy,
		.maxattr	= STEADYKV_A_TABLET_END_HASH,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_TABLET_SET,
		.doit		= steadykv_nl_tablet_set_doit,
		.policy		= steadykv_tablet_set_nl_policy,
		.maxattr	= STEADYKV_A_TABLET_STATE,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= STEADYKV_CMD_TABLET_GET,
		.dumpit	= steadykv_nl_tablet_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= STEADYKV_CMD_MIGRATE_START,
		.doit		= steadykv_nl_migrate_start_doit,
		.policy		= steadykv_migrate_start_nl_policy,
		.maxattr	= STEADYKV_A_MIGRATION_PRIORITY_PULLS,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_MIGRATE_CANCEL,
		.doit		= steadykv_nl_migrate_cancel_doit,
		.policy		= steadykv_migrate_cancel_nl_policy,
		.maxattr	= STEADYKV_A_MIGRATION_ID,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_MIGRATE_GET,
		.doit		= steadykv_nl_migrate_get_doit,
		.policy		= steadykv_migrate_get_nl_policy,
		.maxattr	= STEADYKV_A_MIGRATION_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= STEADYKV_CMD_MIGRATE_GET,
		.dumpit	= steadykv_nl_migrate_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= STEADYKV_CMD_AUTH_SET,
		.doit		= steadykv_nl_auth_set_doit,
		.policy		= steadykv_auth_set_nl_policy,
		.maxattr	= STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_CLIENT_KEY_ADD,
		.doit		= steadykv_nl_client_key_add_doit,
		.policy		= steadykv_client_key_add_nl_policy,
		.maxattr	= STEADYKV_A_CLIENT_KEY_WRITE_TABLE,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_CLIENT_KEY_DEL,
		.doit		= steadykv_nl_client_key_del_doit,
		.policy		= steadykv_client_key_del_nl_policy,
		.maxattr	= STEADYKV_A_CLIENT_KEY_ID,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= STEADYKV_CMD_CLIENT_KEY_GET,
		.dumpit	= steadykv_nl_client_key_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= STEADYKV_CMD_METRICS_GET,
		.dumpit	= steadykv_nl_metrics_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= STEADYKV_CMD_MIGRATE_DECIDE,
		.doit		= steadykv_nl_migrate_decide_doit,
		.policy		= steadykv_migrate_decide_nl_policy,
		.maxattr	= STEADYKV_A_MIGRATION_DECISION_ABORT,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_REPL_SET,
		.doit		= steadykv_nl_repl_set_doit,
		.policy		= steadykv_repl_set_nl_policy,
		.maxattr	= STEADYKV_A_REPL_BACKUP,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd	= STEADYKV_CMD_REPL_GET,
		.doit	= steadykv_nl_repl_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= STEADYKV_CMD_REPLICA_GET,
		.dumpit	= steadykv_nl_replica_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= STEADYKV_CMD_REPL_FENCE,
		.doit		= steadykv_nl_repl_fence_doit,
		.policy		= steadykv_repl_fence_nl_policy,
		.maxattr	= STEADYKV_A_REPL_EPOCH,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= STEADYKV_CMD_REPL_RECOVER,
		.doit		= steadykv_nl_repl_recover_doit,
		.policy		= steadykv_repl_recover_nl_policy,
		.maxattr	= STEADYKV_A_REPL_RECOVER_END_HASH,
		.flags		= GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group steadykv_nl_mcgrps[] = {
	[STEADYKV_NLGRP_EVENTS] = { "events", },
};

struct genl_family steadykv_nl_family __ro_after_init = {
	.name		= STEADYKV_FAMILY_NAME,
	.version	= STEADYKV_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= steadykv_nl_ops,
	.n_split_ops	= ARRAY_SIZE(steadykv_nl_ops),
	.mcgrps		= steadykv_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(steadykv_nl_mcgrps),
};
