// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv netlink: the node's cluster keys and insecure mode (auth-set),
 * and what node-get says of them: key ids only, never a secret.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "auth.h"
#include "netlink.h"
#include "nl-gen.h"

int skv_auth_nl_put(struct sk_buff *skb, struct skv_node *node)
{
	struct skv_auth_keys *keys;
	int err = 0;

	if (nla_put_u8(skb, STEADYKV_A_NODE_AUTH_INSECURE,
		       skv_auth_insecure(node)))
		return -EMSGSIZE;
	keys = skv_auth_keys_get(node);
	if (!keys)
		return 0;
	if (nla_put_u32(skb, STEADYKV_A_NODE_AUTH_KEY_ID, keys->key[0].id) ||
	    (keys->n > 1 &&
	     nla_put_u32(skb, STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID,
			 keys->key[1].id)))
		err = -EMSGSIZE;
	skv_auth_keys_put(keys);
	return err;
}

/* A key attribute's secret, checked for length. */
static int skv_auth_nl_key(struct genl_info *info, int type, const u8 **key,
			   u32 *len)
{
	struct nlattr *attr = info->attrs[type];

	*key = NULL;
	*len = 0;
	if (!attr)
		return 0;
	*len = nla_len(attr);
	if (!skv_auth_key_len_ok(*len)) {
		NL_SET_ERR_MSG_ATTR_FMT(info->extack, attr,
					"a key is %u to %u bytes, not %u",
					SKV_AUTH_KEY_MIN_LEN,
					SKV_AUTH_KEY_MAX_LEN, *len);
		return -EINVAL;
	}
	*key = nla_data(attr);
	return 0;
}

/* Wipe the secrets in the request once used (an error ack echoes it). */
static void skv_auth_nl_wipe(struct genl_info *info)
{
	struct nlattr *attr;

	attr = info->attrs[STEADYKV_A_NODE_AUTH_KEY];
	if (attr)
		memzero_explicit(nla_data(attr), nla_len(attr));
	attr = info->attrs[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS];
	if (attr)
		memzero_explicit(nla_data(attr), nla_len(attr));
}

int steadykv_nl_auth_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_node(genl_info_net(info));
	struct nlattr *insecure = info->attrs[STEADYKV_A_NODE_AUTH_INSECURE];
	const u8 *cur, *prev;
	u32 cur_len, prev_len;
	int err;

	err = skv_auth_nl_key(info, STEADYKV_A_NODE_AUTH_KEY, &cur, &cur_len);
	if (!err)
		err = skv_auth_nl_key(info, STEADYKV_A_NODE_AUTH_KEY_PREVIOUS,
				      &prev, &prev_len);
	if (err)
		goto out;
	if (prev && !cur) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS],
				    "a previous key needs a current key (auth-key)");
		err = -EINVAL;
		goto out;
	}
	if (!cur && !insecure) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "auth-key or auth-insecure is required");
		err = -EINVAL;
		goto out;
	}
	if (insecure && nla_get_u8(insecure) > 1) {
		NL_SET_ERR_MSG_ATTR(info->extack, insecure,
				    "auth-insecure is 0 or 1");
		err = -EINVAL;
		goto out;
	}

	mutex_lock(&node->lock);
	if (cur)
		err = skv_auth_set_keys(node, cur, cur_len, prev, prev_len,
					info->extack);
	if (!err && insecure)
		WRITE_ONCE(node->auth_insecure, nla_get_u8(insecure));
	if (!err)
		skv_nl_notify_node(node, STEADYKV_CMD_AUTH_SET);
	mutex_unlock(&node->lock);
out:
	skv_auth_nl_wipe(info);
	return err;
}
