// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv netlink: the node's cluster keys and insecure mode (auth-set),
 * its client keys (client-key-add, -del, -get) and whether it requires
 * them, and what node-get says of them: key ids only, never a secret.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include <linux/sort.h>

#include "auth.h"
#include "auth_client.h"
#include "netlink.h"
#include "nl-gen.h"

int skv_auth_nl_put(struct sk_buff *skb, struct skv_node *node)
{
	struct skv_auth_keys *keys;
	int err = 0;

	if (nla_put_u8(skb, STEADYKV_A_NODE_AUTH_INSECURE,
		       skv_auth_insecure(node)) ||
	    nla_put_u8(skb, STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED,
		       READ_ONCE(node->client_auth_required)) ||
	    nla_put_u32(skb, STEADYKV_A_NODE_CLIENT_KEYS,
			skv_client_keys_count(node)))
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
	struct nlattr *client = info->attrs[STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED];
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
	if (!cur && !insecure && !client) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "auth-key, auth-insecure or client-auth-required is required");
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
	if (!err && client)
		WRITE_ONCE(node->client_auth_required, nla_get_u8(client));
	if (!err)
		skv_nl_notify_node(node, STEADYKV_CMD_AUTH_SET);
	mutex_unlock(&node->lock);
out:
	skv_auth_nl_wipe(info);
	return err;
}

/* ---- client keys ---- */

static int skv_client_right_cmp(const void *a, const void *b)
{
	const struct skv_client_right *x = a, *y = b;

	return x->table_id < y->table_id ? -1 : x->table_id > y->table_id;
}

/*
 * The read-table and write-table attributes as one list sorted by table
 * id, a table named twice holding both rights.  *n entries of tables
 * (room for twice STEADYKV_CLIENT_KEY_TABLES_MAX).  0 or -EINVAL.
 */
static int skv_client_nl_tables(struct genl_info *info,
				struct skv_client_right *tables, u32 *n)
{
	u32 nread = 0, nwrite = 0, i, out;
	const struct nlattr *attr;
	int rem;

	nlmsg_for_each_attr(attr, info->nlhdr, GENL_HDRLEN, rem) {
		int type = nla_type(attr);
		u8 right;

		if (type == STEADYKV_A_CLIENT_KEY_READ_TABLE) {
			right = SKV_CLIENT_READ;
			nread++;
		} else if (type == STEADYKV_A_CLIENT_KEY_WRITE_TABLE) {
			right = SKV_CLIENT_WRITE;
			nwrite++;
		} else {
			continue;
		}
		if (nread > STEADYKV_CLIENT_KEY_TABLES_MAX ||
		    nwrite > STEADYKV_CLIENT_KEY_TABLES_MAX) {
			NL_SET_ERR_MSG_ATTR_FMT(info->extack, attr,
						"a client key names at most %d tables to read and %d to write",
						STEADYKV_CLIENT_KEY_TABLES_MAX,
						STEADYKV_CLIENT_KEY_TABLES_MAX);
			return -EINVAL;
		}
		tables[nread + nwrite - 1].table_id = nla_get_u64(attr);
		tables[nread + nwrite - 1].rights = right;
	}
	*n = nread + nwrite;
	sort(tables, *n, sizeof(*tables), skv_client_right_cmp, NULL);
	for (i = 0, out = 0; i < *n; i++) {
		if (out && tables[out - 1].table_id == tables[i].table_id)
			tables[out - 1].rights |= tables[i].rights;
		else
			tables[out++] = tables[i];
	}
	*n = out;
	return 0;
}

int steadykv_nl_client_key_add_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	struct skv_node *node = skv_node(genl_info_net(info));
	struct nlattr *secret = info->attrs[STEADYKV_A_CLIENT_KEY_SECRET];
	struct skv_client_right *tables;
	struct skv_client_key *key;
	const u8 *sec;
	u32 len, n;
	u8 all = 0;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, STEADYKV_A_CLIENT_KEY_SECRET))
		return -EINVAL;
	tables = kmalloc_array(2 * STEADYKV_CLIENT_KEY_TABLES_MAX,
			       sizeof(*tables), GFP_KERNEL);
	if (!tables) {
		err = -ENOMEM;
		goto out;
	}
	err = skv_auth_nl_key(info, STEADYKV_A_CLIENT_KEY_SECRET, &sec, &len);
	if (!err)
		err = skv_client_nl_tables(info, tables, &n);
	if (err)
		goto out;
	if (nla_get_flag(info->attrs[STEADYKV_A_CLIENT_KEY_READ_ALL]))
		all |= SKV_CLIENT_READ;
	if (nla_get_flag(info->attrs[STEADYKV_A_CLIENT_KEY_WRITE_ALL]))
		all |= SKV_CLIENT_WRITE;
	if (!all && !n) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "a client key needs a right: read-all, write-all, read-table or write-table");
		err = -EINVAL;
		goto out;
	}
	key = skv_client_key_new(sec, len, all, tables, n);
	if (IS_ERR(key)) {
		err = PTR_ERR(key);
		NL_SET_ERR_MSG_FMT_MOD(info->extack, "cannot key %s (%d)",
				       SKV_AUTH_HMAC_ALG, err);
		goto out;
	}
	mutex_lock(&node->lock);
	err = skv_client_key_add(node, key, info->extack);
	if (!err)
		skv_nl_notify_node(node, STEADYKV_CMD_CLIENT_KEY_ADD);
	mutex_unlock(&node->lock);
	if (err)
		skv_client_key_put(key);
out:
	kfree(tables);
	if (secret)
		memzero_explicit(nla_data(secret), nla_len(secret));
	return err;
}

int steadykv_nl_client_key_del_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	struct skv_node *node = skv_node(genl_info_net(info));
	u32 id;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, STEADYKV_A_CLIENT_KEY_ID))
		return -EINVAL;
	id = nla_get_u32(info->attrs[STEADYKV_A_CLIENT_KEY_ID]);
	mutex_lock(&node->lock);
	err = skv_client_key_del(node, id);
	if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR_FMT(info->extack,
					info->attrs[STEADYKV_A_CLIENT_KEY_ID],
					"no client key 0x%08x", id);
	if (!err)
		skv_nl_notify_node(node, STEADYKV_CMD_CLIENT_KEY_DEL);
	mutex_unlock(&node->lock);
	return err;
}

static int skv_client_nl_put(struct sk_buff *skb,
			     const struct skv_client_key *key)
{
	u32 i;

	if (nla_put_u32(skb, STEADYKV_A_CLIENT_KEY_ID, key->id) ||
	    ((key->all & SKV_CLIENT_READ) &&
	     nla_put_flag(skb, STEADYKV_A_CLIENT_KEY_READ_ALL)) ||
	    ((key->all & SKV_CLIENT_WRITE) &&
	     nla_put_flag(skb, STEADYKV_A_CLIENT_KEY_WRITE_ALL)))
		return -EMSGSIZE;
	for (i = 0; i < key->ntables; i++) {
		const struct skv_client_right *t = &key->tables[i];

		if (((t->rights & SKV_CLIENT_READ) &&
		     skv_nl_put_u64(skb, STEADYKV_A_CLIENT_KEY_READ_TABLE,
				    t->table_id)) ||
		    ((t->rights & SKV_CLIENT_WRITE) &&
		     skv_nl_put_u64(skb, STEADYKV_A_CLIENT_KEY_WRITE_TABLE,
				    t->table_id)))
			return -EMSGSIZE;
	}
	return 0;
}

/* One key per message; cb->args[0] is the index of the next key. */
int steadykv_nl_client_key_get_dumpit(struct sk_buff *skb,
				      struct netlink_callback *cb)
{
	struct skv_node *node = skv_node(sock_net(skb->sk));
	struct skv_client_keys *set;
	unsigned long i;
	void *hdr;
	int err = 0;

	rcu_read_lock();
	set = rcu_dereference(node->client_keys);
	for (i = cb->args[0]; set && i < set->n; i++) {
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &steadykv_nl_family,
				  NLM_F_MULTI, STEADYKV_CMD_CLIENT_KEY_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		err = skv_client_nl_put(skb, set->key[i]);
		if (err) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
	}
	rcu_read_unlock();
	cb->args[0] = i;
	/* A key too large for an empty message is an error, not the end. */
	if (err && !skb->len)
		return err;
	return skb->len;
}
