// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration netlink commands (migrate-start, -cancel, -get).
 * Placeholder until the target engine lands: every command says so.
 */
#include <net/genetlink.h>

#include "nl-gen.h"

int steadykv_nl_migrate_start_doit(struct sk_buff *skb, struct genl_info *info)
{
	NL_SET_ERR_MSG(info->extack, "migration not built yet");
	return -EOPNOTSUPP;
}

int steadykv_nl_migrate_cancel_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	NL_SET_ERR_MSG(info->extack, "migration not built yet");
	return -EOPNOTSUPP;
}

int steadykv_nl_migrate_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	NL_SET_ERR_MSG(info->extack, "migration not built yet");
	return -EOPNOTSUPP;
}

int steadykv_nl_migrate_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	return 0;
}
