// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv replication over netlink: repl-set and repl-get (this node as
 * a primary), replica-get and repl-fence (this node as a backup).
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "node.h"
#include "netlink.h"
#include "nl-gen.h"
#include "repl_primary.h"
#include "repl_backup.h"

static struct skv_node *skv_repl_nl_node(struct genl_info *info)
{
	return skv_node(genl_info_net(info));
}

/* The backup attributes of a repl-set: 0 or -EINVAL with extack. */
static int skv_repl_nl_backups(struct genl_info *info,
			       struct skv_repl_addr *out, u32 *n)
{
	const struct nlattr *a;
	int rem;
	u32 len, i;

	*n = 0;
	nlmsg_for_each_attr(a, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(a) != STEADYKV_A_REPL_BACKUP)
			continue;
		len = nla_len(a);
		if (len != 6 && len != 18) {
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "backup must be a 4 or 16 byte address and a 2 byte port");
			return -EINVAL;
		}
		if (*n == SKV_REPL_MAX_BACKUPS) {
			NL_SET_ERR_MSG_ATTR_FMT(info->extack, a,
						"at most %u backups",
						SKV_REPL_MAX_BACKUPS);
			return -EINVAL;
		}
		memset(&out[*n], 0, sizeof(out[*n]));
		out[*n].addr_len = len - 2;
		memcpy(out[*n].addr, nla_data(a), len - 2);
		out[*n].port = get_unaligned_be16((u8 *)nla_data(a) + len - 2);
		if (!out[*n].port) {
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "a backup's port must not be 0");
			return -EINVAL;
		}
		/* One replica counted twice would not be two copies. */
		for (i = 0; i < *n; i++)
			if (out[i].addr_len == out[*n].addr_len &&
			    out[i].port == out[*n].port &&
			    !memcmp(out[i].addr, out[*n].addr, out[i].addr_len)) {
				NL_SET_ERR_MSG_ATTR(info->extack, a,
						    "a backup listed twice");
				return -EINVAL;
			}
		(*n)++;
	}
	return 0;
}

int steadykv_nl_repl_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_repl_addr backups[SKV_REPL_MAX_BACKUPS];
	struct skv_node *node = skv_repl_nl_node(info);
	u64 id = 0, epoch = 0;
	u32 n;
	int err;

	err = skv_repl_nl_backups(info, backups, &n);
	if (err)
		return err;
	if (n && (SKV_NL_REQUIRE(info, STEADYKV_A_REPL_PRIMARY_ID,
				 "primary-id is required with backups") ||
		  SKV_NL_REQUIRE(info, STEADYKV_A_REPL_EPOCH,
				 "epoch is required with backups")))
		return -EINVAL;
	if (n) {
		id = nla_get_u64(info->attrs[STEADYKV_A_REPL_PRIMARY_ID]);
		epoch = nla_get_u64(info->attrs[STEADYKV_A_REPL_EPOCH]);
	}
	mutex_lock(&node->lock);
	if (READ_ONCE(node->dying))
		err = -ESHUTDOWN;
	else
		err = skv_repl_set(node, id, epoch, backups, n);
	mutex_unlock(&node->lock);
	if (err)
		NL_SET_ERR_MSG_FMT_MOD(info->extack,
				       "cannot start replication (%d)", err);
	return err;
}

int steadykv_nl_repl_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_repl_nl_node(info);
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &steadykv_nl_family, 0,
				STEADYKV_CMD_REPL_GET);
	if (!hdr) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	mutex_lock(&node->lock);
	err = skv_repl_nl_put(msg, node);
	mutex_unlock(&node->lock);
	if (err) {
		nlmsg_free(msg);
		NL_SET_ERR_MSG_MOD(info->extack, "cannot build the reply");
		return err;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

int steadykv_nl_replica_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	return skv_replica_dump(skv_node(sock_net(skb->sk)), skb, cb);
}

int steadykv_nl_repl_fence_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_repl_nl_node(info);
	int err;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_REPL_PRIMARY_ID,
			   "primary-id is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_REPL_EPOCH, "epoch is required"))
		return -EINVAL;
	mutex_lock(&node->lock);
	err = skv_replica_fence_primary(node,
			nla_get_u64(info->attrs[STEADYKV_A_REPL_PRIMARY_ID]),
			nla_get_u64(info->attrs[STEADYKV_A_REPL_EPOCH]));
	mutex_unlock(&node->lock);
	if (err)
		NL_SET_ERR_MSG_FMT_MOD(info->extack, "cannot fence (%d)", err);
	return err;
}
