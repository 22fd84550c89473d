/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the netlink family's two files share: netlink.c (node, listen,
 * tables, tablets; the family's registration) and mig_netlink.c
 * (migrations).
 */
#ifndef SKV_NETLINK_H
#define SKV_NETLINK_H

#include <net/genetlink.h>
#include <net/netlink.h>
#include <uapi/linux/steadykv.h>

/* A required attribute: extack names the missing one and says so. */
#define SKV_NL_REQUIRE(info, attr, msg) ({				\
	struct genl_info *__skv_info = (info);				\
	bool __skv_missing = GENL_REQ_ATTR_CHECK(__skv_info, attr);	\
	if (__skv_missing)						\
		NL_SET_ERR_MSG_MOD(__skv_info->extack, msg);		\
	__skv_missing;							\
})

static_assert((int)STEADYKV_A_TABLE_PAD == (int)STEADYKV_A_NODE_PAD);
static_assert((int)STEADYKV_A_TABLET_PAD == (int)STEADYKV_A_NODE_PAD);
static_assert((int)STEADYKV_A_MIGRATION_PAD == (int)STEADYKV_A_NODE_PAD);

/* A u64 attribute of any of the family's sets: they number pad alike. */
static inline int skv_nl_put_u64(struct sk_buff *skb, int attr, u64 value)
{
	return nla_put_u64_64bit(skb, attr, value, STEADYKV_A_NODE_PAD);
}

struct skv_node;

/* Announce a change of the node's attributes (caller holds node->lock). */
void skv_nl_notify_node(struct skv_node *node, u8 cmd);
struct skv_tablet_info;

/*
 * Announce a table or tablet change (with the tablet's state if state)
 * and bump map_gen; caller holds node->lock.
 */
void skv_nl_notify_table(struct skv_node *node, u64 id, u8 cmd);
void skv_nl_notify_tablet(struct skv_node *node,
			  const struct skv_tablet_info *t, bool state, u8 cmd);
/* The node's key ids and insecure mode (auth_nl.c). */
int skv_auth_nl_put(struct sk_buff *skb, struct skv_node *node);

/* Register and unregister the family (module init and exit). */
int skv_netlink_init(void);
void skv_netlink_exit(void);

#endif /* SKV_NETLINK_H */
