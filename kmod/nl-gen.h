/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/steadykv.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_STEADYKV_GEN_H
#define _LINUX_STEADYKV_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/steadykv.h>

int steadykv_nl_node_get_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_node_set_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_listen_start_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_listen_stop_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_table_add_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_table_del_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_table_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb);
int steadykv_nl_tablet_add_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_tablet_del_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_tablet_set_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_tablet_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb);
int steadykv_nl_migrate_start_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_migrate_cancel_doit(struct sk_buff *skb,
				    struct genl_info *info);
int steadykv_nl_migrate_get_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_migrate_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int steadykv_nl_auth_set_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_client_key_add_doit(struct sk_buff *skb,
				    struct genl_info *info);
int steadykv_nl_client_key_del_doit(struct sk_buff *skb,
				    struct genl_info *info);
int steadykv_nl_client_key_get_dumpit(struct sk_buff *skb,
				      struct netlink_callback *cb);
int steadykv_nl_metrics_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int steadykv_nl_migrate_decide_doit(struct sk_buff *skb,
				    struct genl_info *info);
int steadykv_nl_repl_set_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_repl_get_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_replica_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb);
int steadykv_nl_repl_fence_doit(struct sk_buff *skb, struct genl_info *info);
int steadykv_nl_repl_recover_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	STEADYKV_NLGRP_EVENTS,
};

extern struct genl_family steadykv_nl_family;

#endif /* _LINUX_STEADYKV_GEN_H */
