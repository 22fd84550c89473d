// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv generic netlink: the control plane of a node.
 *
 * The family, its split ops and strict per-op policies are generated from
 * Documentation/netlink/specs/steadykv.yaml into nl-gen.c.  The family is
 * netnsok: a request acts on the node of the requesting socket's
 * namespace, which that socket keeps alive for the whole request.  Every
 * change op is GENL_UNS_ADMIN_PERM: the socket's opener and the caller
 * both need CAP_NET_ADMIN in the user namespace that owns that network
 * namespace, so a container's root administers its own node and no other
 * (a socket opened elsewhere or passed in does not carry the right).  Ops run in parallel (parallel_ops); each node
 * serialises its changes with node->lock, and every successful change is
 * multicast on the "events" group, with the change's own command and the
 * object's attributes, while the lock is still held so events come in the
 * order of the changes.  Every rejection carries an extack message.
 */
#include <linux/kernel.h>
#include <linux/build_bug.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "node.h"
#include "netlink.h"
#include "transport.h"
#include "nl-gen.h"
#include "recovery.h"
#include "repl_primary.h"

/* Tables or tablets copied from the store per lock hold during a dump. */
#define SKV_NL_DUMP_CHUNK	32

static_assert((int)STEADYKV_TABLET_STATE_NORMAL == (int)SKV_TABLET_NORMAL);
static_assert((int)STEADYKV_TABLET_STATE_MIGRATING_IN ==
	      (int)SKV_TABLET_MIGRATING_IN);
static_assert((int)STEADYKV_TABLET_STATE_MIGRATING_OUT ==
	      (int)SKV_TABLET_MIGRATING_OUT);
static_assert((int)STEADYKV_TABLET_STATE_RECOVERING ==
	      (int)SKV_TABLET_RECOVERING);

static struct skv_node *skv_nl_node(struct genl_info *info)
{
	return skv_node(genl_info_net(info));
}

static int skv_nl_put_conn_stats(struct sk_buff *skb,
				 const struct skv_conn_stats *cs)
{
	if (skv_nl_put_u64(skb, STEADYKV_A_NODE_CONNS_ACCEPTED,
			   atomic64_read(&cs->accepted)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CONNS_REFUSED_FULL,
			   atomic64_read(&cs->refused_full)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CONNS_REFUSED_ADDR,
			   atomic64_read(&cs->refused_addr)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CONNS_REFUSED_SHARE,
			   atomic64_read(&cs->refused_share)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CONNS_CLOSED_IDLE,
			   atomic64_read(&cs->closed_idle)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CONNS_CLOSED_FRAME,
			   atomic64_read(&cs->closed_frame)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CONNS_CLOSED_REPLY,
			   atomic64_read(&cs->closed_reply)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CONNS_CLOSED_BUFFERS,
			   atomic64_read(&cs->closed_buffers)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CONN_BUFFERS,
			   atomic64_read(&cs->buffers)))
		return -EMSGSIZE;
	return 0;
}

/* The node's attributes.  Caller holds node->lock. */
static int skv_nl_put_node(struct sk_buff *skb, struct skv_node *node)
{
	struct skv_store_stats st = {};
	bool listening = node->listener;

	if (node->store) {
		skv_store_get_stats(node->store, &st);
	} else {
		st.mem_limit = (u64)skv_mem_limit_mb << 20;
		st.max_tablets = READ_ONCE(skv_max_tablets);
	}

	if (listening &&
	    (nla_put(skb, STEADYKV_A_NODE_LISTEN_ADDR, node->listen_addr_len,
		     node->listen_addr) ||
	     nla_put_u16(skb, STEADYKV_A_NODE_LISTEN_PORT, node->listen_port)))
		return -EMSGSIZE;
	if (nla_put_u8(skb, STEADYKV_A_NODE_LISTENING, listening) ||
	    nla_put_u32(skb, STEADYKV_A_NODE_CONNECTIONS,
			atomic_read(&node->nconns)) ||
	    nla_put_u32(skb, STEADYKV_A_NODE_MAX_CONNECTIONS,
			READ_ONCE(skv_max_connections)) ||
	    nla_put_u32(skb, STEADYKV_A_NODE_SEGMENT_SIZE, skv_segment_size) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_REQUESTS,
			   atomic64_read(&node->requests)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_BAD_REQUESTS,
			   atomic64_read(&node->bad_requests)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_PULL_BYTES_COPIED,
			   atomic64_read(&node->pull_bytes_copied)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_PULL_BYTES_SPLICED,
			   atomic64_read(&node->pull_bytes_spliced)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_MEM_LIMIT, st.mem_limit) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_MEM_USED, st.mem_used) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_LIVE_BYTES, st.live_bytes) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_SEGMENTS, st.segments) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_OBJECTS, st.objects) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_TOMBSTONES, st.tombstones) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_VERSION, st.version) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CLEANER_PASSES,
			   st.cleaner_passes) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CLEANER_SEGMENTS_FREED,
			   st.cleaner_segments_freed) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_CLEANER_BYTES_RELOCATED,
			   st.cleaner_bytes_relocated) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_TOMBSTONES_DROPPED,
			   st.tombstones_dropped) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_NO_SPACE_ERRORS,
			   st.no_space_errors) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_MEM_LOG, st.mem_log) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_MEM_SIDE_LOGS,
			   st.mem_side_logs) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_MEM_INDEX, st.mem_index) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_MEM_TABLETS, st.mem_tablets) ||
	    nla_put_u32(skb, STEADYKV_A_NODE_MAX_TABLETS, st.max_tablets) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_EPOCH, skv_node_epoch(node)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_INCARNATION,
			   node->incarnation) ||
	    skv_nl_put_u64(skb, STEADYKV_A_NODE_MEM_REPLICAS, st.mem_replicas))
		return -EMSGSIZE;
	if (skv_auth_nl_put(skb, node))
		return -EMSGSIZE;
	return skv_nl_put_conn_stats(skb, &node->conn_stats);
}

static int skv_nl_put_table(struct sk_buff *skb, u64 id)
{
	return skv_nl_put_u64(skb, STEADYKV_A_TABLE_ID, id);
}

static int skv_nl_put_tablet(struct sk_buff *skb,
			     const struct skv_tablet_info *t, bool state)
{
	if (skv_nl_put_u64(skb, STEADYKV_A_TABLET_TABLE_ID, t->table_id) ||
	    skv_nl_put_u64(skb, STEADYKV_A_TABLET_START_HASH, t->start_hash) ||
	    skv_nl_put_u64(skb, STEADYKV_A_TABLET_END_HASH, t->end_hash) ||
	    (state && nla_put_u32(skb, STEADYKV_A_TABLET_STATE, t->state)))
		return -EMSGSIZE;
	return 0;
}

/* What an event or reply message describes. */
struct skv_nl_obj {
	struct skv_node *node;		/* node attributes, or */
	const u64 *table_id;		/* a table, or */
	const struct skv_tablet_info *tablet;	/* a tablet */
	bool tablet_state;		/* with its state */
};

static struct sk_buff *skv_nl_msg(const struct skv_nl_obj *obj, u32 portid,
				  u32 seq, u8 cmd)
{
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	hdr = genlmsg_put(msg, portid, seq, &steadykv_nl_family, 0, cmd);
	if (!hdr)
		goto err;
	if (obj->node)
		err = skv_nl_put_node(msg, obj->node);
	else if (obj->table_id)
		err = skv_nl_put_table(msg, *obj->table_id);
	else
		err = skv_nl_put_tablet(msg, obj->tablet, obj->tablet_state);
	if (err)
		goto err;
	genlmsg_end(msg, hdr);
	return msg;
err:
	nlmsg_free(msg);
	return NULL;
}

/*
 * Announce a change on the "events" group of the node's namespace.
 * Best effort: a listener that misses one (ENOBUFS) re-dumps.
 */
static void skv_nl_notify(struct skv_node *node, const struct skv_nl_obj *obj,
			  u8 cmd)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&steadykv_nl_family, node->net,
				STEADYKV_NLGRP_EVENTS))
		return;
	msg = skv_nl_msg(obj, 0, 0, cmd);
	if (msg)
		genlmsg_multicast_netns(&steadykv_nl_family, node->net, msg, 0,
					STEADYKV_NLGRP_EVENTS, GFP_KERNEL);
}

void skv_nl_notify_node(struct skv_node *node, u8 cmd)
{
	struct skv_nl_obj obj = { .node = node };

	skv_nl_notify(node, &obj, cmd);
}

int steadykv_nl_node_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct skv_nl_obj obj = { .node = node };
	struct sk_buff *msg;

	mutex_lock(&node->lock);
	msg = skv_nl_msg(&obj, info->snd_portid, info->snd_seq,
			 STEADYKV_CMD_NODE_GET);
	mutex_unlock(&node->lock);
	if (!msg) {
		NL_SET_ERR_MSG_MOD(info->extack, "cannot build the reply");
		return -ENOMEM;
	}
	return genlmsg_reply(msg, info);
}

int steadykv_nl_node_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct nlattr *attr = info->attrs[STEADYKV_A_NODE_MEM_LIMIT];
	struct nlattr *epoch = info->attrs[STEADYKV_A_NODE_EPOCH];
	struct skv_store *s;
	int err;

	if (!attr && !epoch && !info->attrs[STEADYKV_A_NODE_MIG_FAULT_MODE]) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "mem-limit, epoch or mig-fault-mode is required");
		return -EINVAL;
	}
	err = skv_src_set_fault(node, info);
	if (err)
		return err;
	if (epoch)
		skv_node_learn_epoch(node, nla_get_u64(epoch));
	if (!attr)
		return 0;

	mutex_lock(&node->lock);
	err = skv_node_store_get(node, info->extack, &s);
	if (err)
		goto out;
	err = skv_store_set_mem_limit(s, nla_get_u64(attr));
	if (err == -EINVAL) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "mem-limit must be at least 4 segments");
		goto out;
	} else if (err) {
		NL_SET_ERR_MSG_FMT_MOD(info->extack,
				       "cannot set mem-limit (%d)", err);
		NL_SET_BAD_ATTR(info->extack, attr);
		goto out;
	}
	skv_nl_notify_node(node, STEADYKV_CMD_NODE_SET);
	/* A lower limit may make the cleaner's work urgent. */
	skv_node_kick_cleaner(node);
out:
	mutex_unlock(&node->lock);
	return err;
}

int steadykv_nl_listen_start_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct skv_listener *l;
	struct nlattr *addr;
	struct skv_store *s;
	u32 addr_len;
	u16 port;
	int err;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_NODE_LISTEN_ADDR,
			   "listen-addr is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_NODE_LISTEN_PORT,
			   "listen-port is required"))
		return -EINVAL;
	addr = info->attrs[STEADYKV_A_NODE_LISTEN_ADDR];
	addr_len = nla_len(addr);
	if (addr_len != 4 && addr_len != 16) {
		NL_SET_ERR_MSG_ATTR(info->extack, addr,
				    "listen-addr must be 4 (IPv4) or 16 (IPv6) bytes");
		return -EINVAL;
	}
	port = nla_get_u16(info->attrs[STEADYKV_A_NODE_LISTEN_PORT]);

	mutex_lock(&node->lock);
	if (node->listener) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "the node is already listening (listen-stop first)");
		err = -EBUSY;
		goto out;
	}
	/* Connections use the store from their first request. */
	err = skv_node_store_get(node, info->extack, &s);
	if (err)
		goto out;
	err = skv_tcp_listen(node, nla_data(addr), addr_len, port,
			     info->extack, &l);
	if (err) {
		NL_SET_BAD_ATTR(info->extack, addr);
		goto out;
	}
	node->listener = l;
	memcpy(node->listen_addr, nla_data(addr), addr_len);
	node->listen_addr_len = addr_len;
	node->listen_port = port;
	skv_nl_notify_node(node, STEADYKV_CMD_LISTEN_START);
out:
	mutex_unlock(&node->lock);
	return err;
}

int steadykv_nl_listen_stop_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct skv_listener *l;
	int err = 0;

	mutex_lock(&node->lock);
	l = node->listener;
	if (!l) {
		NL_SET_ERR_MSG_MOD(info->extack, "the node is not listening");
		err = -ENOENT;
		goto out;
	}
	node->listener = NULL;
	/* Open connections stay; only accepting stops. */
	skv_tcp_listen_stop(l);
	skv_nl_notify_node(node, STEADYKV_CMD_LISTEN_STOP);
	node->listen_addr_len = 0;
	node->listen_port = 0;
out:
	mutex_unlock(&node->lock);
	return err;
}

void skv_nl_notify_table(struct skv_node *node, u64 id, u8 cmd)
{
	struct skv_nl_obj obj = { .table_id = &id };

	node->map_gen++;
	skv_nl_notify(node, &obj, cmd);
}

int steadykv_nl_table_add_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct nlattr *attr;
	struct skv_store *s;
	u64 id;
	int err;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_TABLE_ID, "table id is required"))
		return -EINVAL;
	attr = info->attrs[STEADYKV_A_TABLE_ID];
	id = nla_get_u64(attr);

	mutex_lock(&node->lock);
	err = skv_node_store_get(node, info->extack, &s);
	if (err)
		goto out;
	err = skv_table_add(s, id);
	if (err == -EEXIST) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "table already exists");
	} else if (err) {
		NL_SET_ERR_MSG_FMT_MOD(info->extack,
				       "cannot add the table (%d)", err);
		NL_SET_BAD_ATTR(info->extack, attr);
	} else {
		skv_nl_notify_table(node, id, STEADYKV_CMD_TABLE_ADD);
	}
out:
	mutex_unlock(&node->lock);
	return err;
}

int steadykv_nl_table_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct nlattr *attr;
	u64 id;
	int err;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_TABLE_ID, "table id is required"))
		return -EINVAL;
	attr = info->attrs[STEADYKV_A_TABLE_ID];
	id = nla_get_u64(attr);

	mutex_lock(&node->lock);
	if (skv_recovering(node, id, 0, U64_MAX)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "a recovery is rebuilding a tablet of the table: try again");
		err = -EBUSY;
		goto out;
	}
	err = node->store ? skv_repl_table_del(node, node->store, id) :
			    -ENOENT;
	if (err == -ENOENT) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "no such table");
	} else if (err) {
		NL_SET_ERR_MSG_FMT_MOD(info->extack,
				       "cannot delete the table (%d)", err);
		NL_SET_BAD_ATTR(info->extack, attr);
	} else {
		skv_nl_notify_table(node, id, STEADYKV_CMD_TABLE_DEL);
	}
out:
	mutex_unlock(&node->lock);
	return err;
}

/*
 * Dumps are restartable: cb->args[0] is the position of the next entry.
 * The store is read a chunk at a time under node->lock, released before
 * any message is built; a change between chunks or between calls marks
 * the dump NLM_F_DUMP_INTR (cb->seq is the node's map generation).
 */
int steadykv_nl_table_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	struct skv_node *node = skv_node(sock_net(skb->sk));
	u64 ids[SKV_NL_DUMP_CHUNK];
	u32 pos = cb->args[0];
	int n, i, err = 0;
	void *hdr;

	for (;;) {
		mutex_lock(&node->lock);
		cb->seq = node->map_gen;
		n = node->store ? skv_tables_list(node->store, pos, ids,
						  ARRAY_SIZE(ids)) : 0;
		mutex_unlock(&node->lock);
		if (n <= 0) {
			err = n;
			break;
		}
		for (i = 0; i < n; i++) {
			hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
					  cb->nlh->nlmsg_seq,
					  &steadykv_nl_family, NLM_F_MULTI,
					  STEADYKV_CMD_TABLE_GET);
			if (!hdr)
				goto full;
			genl_dump_check_consistent(cb, hdr);
			if (skv_nl_put_table(skb, ids[i])) {
				genlmsg_cancel(skb, hdr);
				goto full;
			}
			genlmsg_end(skb, hdr);
			pos++;
		}
	}
full:
	cb->args[0] = pos;
	if (err && !skb->len) {
		NL_SET_ERR_MSG_FMT_MOD(cb->extack, "cannot list (%d)", err);
		return err;
	}
	return skb->len;
}

void skv_nl_notify_tablet(struct skv_node *node,
			  const struct skv_tablet_info *t, bool state, u8 cmd)
{
	struct skv_nl_obj obj = { .tablet = t, .tablet_state = state };

	node->map_gen++;
	skv_nl_notify(node, &obj, cmd);
}

/* table-id, start-hash and end-hash, all required; start <= end. */
static int skv_nl_get_range(struct genl_info *info, struct skv_tablet_info *t)
{
	if (SKV_NL_REQUIRE(info, STEADYKV_A_TABLET_TABLE_ID,
			   "table-id is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_TABLET_START_HASH,
			   "start-hash is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_TABLET_END_HASH,
			   "end-hash is required"))
		return -EINVAL;
	t->table_id = nla_get_u64(info->attrs[STEADYKV_A_TABLET_TABLE_ID]);
	t->start_hash = nla_get_u64(info->attrs[STEADYKV_A_TABLET_START_HASH]);
	t->end_hash = nla_get_u64(info->attrs[STEADYKV_A_TABLET_END_HASH]);
	t->state = SKV_TABLET_NORMAL;
	if (t->start_hash > t->end_hash) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[STEADYKV_A_TABLET_END_HASH],
				    "end-hash is below start-hash");
		return -EINVAL;
	}
	return 0;
}

/* Explain a store error about a tablet. */
static void skv_nl_tablet_err(struct genl_info *info, int err,
			      const char *what)
{
	struct netlink_ext_ack *extack = info->extack;

	switch (err) {
	case -ENOENT:
		NL_SET_ERR_MSG_MOD(extack,
				   "no such table, or no tablet with exactly this range");
		NL_SET_BAD_ATTR(extack, info->attrs[STEADYKV_A_TABLET_TABLE_ID]);
		break;
	case -EEXIST:
		NL_SET_ERR_MSG_MOD(extack,
				   "the range overlaps a tablet of the table");
		NL_SET_BAD_ATTR(extack,
				info->attrs[STEADYKV_A_TABLET_START_HASH]);
		break;
	case -ENOSPC:
		NL_SET_ERR_MSG_MOD(extack,
				   "the node holds max-tablets tablets already");
		break;
	default:
		NL_SET_ERR_MSG_FMT_MOD(extack, "cannot %s the tablet (%d)",
				       what, err);
		break;
	}
}

int steadykv_nl_tablet_add_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct skv_tablet_info t;
	struct skv_store *s;
	int err;

	err = skv_nl_get_range(info, &t);
	if (err)
		return err;
	if (info->attrs[STEADYKV_A_TABLET_STATE])
		t.state = nla_get_u32(info->attrs[STEADYKV_A_TABLET_STATE]);

	mutex_lock(&node->lock);
	err = skv_node_store_get(node, info->extack, &s);
	if (err)
		goto out;
	err = skv_tablet_add(s, &t);
	if (err == -ENOENT) {
		/* Adding, -ENOENT can only mean the table. */
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[STEADYKV_A_TABLET_TABLE_ID],
				    "no such table");
	} else if (err) {
		skv_nl_tablet_err(info, err, "add");
	} else {
		skv_nl_notify_tablet(node, &t, true, STEADYKV_CMD_TABLET_ADD);
	}
out:
	mutex_unlock(&node->lock);
	return err;
}

int steadykv_nl_tablet_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct skv_tablet_info t;
	int err;

	err = skv_nl_get_range(info, &t);
	if (err)
		return err;

	mutex_lock(&node->lock);
	if (skv_recovering(node, t.table_id, t.start_hash, t.end_hash)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "a recovery is rebuilding this range: try again");
		mutex_unlock(&node->lock);
		return -EBUSY;
	}
	err = node->store ? skv_repl_tablet_del(node, node->store, t.table_id,
						t.start_hash, t.end_hash) :
			    -ENOENT;
	if (err)
		skv_nl_tablet_err(info, err, "delete");
	else
		skv_nl_notify_tablet(node, &t, false, STEADYKV_CMD_TABLET_DEL);
	mutex_unlock(&node->lock);
	return err;
}

int steadykv_nl_tablet_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_nl_node(info);
	struct skv_tablet_info t;
	int err;

	err = skv_nl_get_range(info, &t);
	if (err)
		return err;
	if (SKV_NL_REQUIRE(info, STEADYKV_A_TABLET_STATE,
			   "state is required"))
		return -EINVAL;
	t.state = nla_get_u32(info->attrs[STEADYKV_A_TABLET_STATE]);

	mutex_lock(&node->lock);
	err = node->store ? skv_tablet_set_state(node->store, t.table_id,
						 t.start_hash, t.end_hash,
						 t.state) : -ENOENT;
	if (err)
		skv_nl_tablet_err(info, err, "change");
	else
		skv_nl_notify_tablet(node, &t, true, STEADYKV_CMD_TABLET_SET);
	mutex_unlock(&node->lock);
	return err;
}

int steadykv_nl_tablet_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	struct skv_node *node = skv_node(sock_net(skb->sk));
	struct skv_tablet_info *ts;
	u32 pos = cb->args[0];
	int n, i, err = 0;
	void *hdr;

	ts = kmalloc_array(SKV_NL_DUMP_CHUNK, sizeof(*ts), GFP_KERNEL);
	if (!ts) {
		NL_SET_ERR_MSG_MOD(cb->extack, "out of memory");
		return -ENOMEM;
	}
	for (;;) {
		mutex_lock(&node->lock);
		cb->seq = node->map_gen;
		n = node->store ? skv_tablets_list(node->store, pos, ts,
						   SKV_NL_DUMP_CHUNK) : 0;
		mutex_unlock(&node->lock);
		if (n <= 0) {
			err = n;
			break;
		}
		for (i = 0; i < n; i++) {
			hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
					  cb->nlh->nlmsg_seq,
					  &steadykv_nl_family, NLM_F_MULTI,
					  STEADYKV_CMD_TABLET_GET);
			if (!hdr)
				goto full;
			genl_dump_check_consistent(cb, hdr);
			if (skv_nl_put_tablet(skb, &ts[i], true) ||
			    skv_nl_put_u64(skb, STEADYKV_A_TABLET_METRICS_REQUESTS,
					   atomic64_read(&ts[i].requests))) {
				genlmsg_cancel(skb, hdr);
				goto full;
			}
			genlmsg_end(skb, hdr);
			pos++;
		}
	}
full:
	kfree(ts);
	cb->args[0] = pos;
	if (err && !skb->len) {
		NL_SET_ERR_MSG_FMT_MOD(cb->extack, "cannot list (%d)", err);
		return err;
	}
	return skb->len;
}

int skv_netlink_init(void)
{
	return genl_register_family(&steadykv_nl_family);
}

void skv_netlink_exit(void)
{
	genl_unregister_family(&steadykv_nl_family);
}
