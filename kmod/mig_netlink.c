// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration netlink commands: migrate-start, migrate-cancel,
 * migrate-get (do and dump), the migrate-ntf events, and migrate-decide
 * (the coordinator's decision at a migration's source).
 *
 * Same conventions as netlink.c: the policies come from the spec
 * (nl-gen.c), changes run under node->lock, every rejection carries an
 * extack message.  A migration runs on its own once started; its
 * controller thread announces every phase change, and progress at most
 * every 100 ms, on the "events" group (skv_tgt_notify()).
 */
#include <linux/kernel.h>
#include <net/genetlink.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <steadykv/wire.h>

#include "node.h"
#include "netlink.h"
#include "auth.h"
#include "mig_target.h"
#include "nl-gen.h"

/* Every pull budget migrate-start accepts is one a source honours. */
static_assert(SKV_MIN_PULL_BUDGET <= STEADYKV_MIGRATION_PULL_BUDGET_MIN);
static_assert(STEADYKV_MIGRATION_PULL_BUDGET_MAX <= SKV_MAX_PULL_BUDGET);

/* m's attributes.  Caller holds node->lock, or is m's controller. */
static int skv_nl_mig_fill(struct sk_buff *skb, struct skv_mig *m)
{
	const struct skv_mig_params *p = &m->p;
	char msg[sizeof(m->errmsg)];
	int err;

	spin_lock(&m->lock);
	err = m->err;
	memcpy(msg, m->errmsg, sizeof(msg));
	spin_unlock(&m->lock);
	msg[sizeof(msg) - 1] = 0;

	if (skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_ID, p->id) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_TABLE_ID, p->table_id) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_START_HASH,
			    p->start_hash) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_END_HASH, p->end_hash) ||
	    nla_put(skb, STEADYKV_A_MIGRATION_SOURCE_ADDR, p->addr_len,
		    p->addr) ||
	    nla_put_u16(skb, STEADYKV_A_MIGRATION_SOURCE_PORT, p->port) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_MODE, p->mode) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_PARTITIONS, p->partitions) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT,
			p->inflight) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_PULL_BUDGET, p->budget) ||
	    nla_put_u8(skb, STEADYKV_A_MIGRATION_PRIORITY_PULLS, p->prio) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_STATE, READ_ONCE(m->state)) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_ERROR, err) ||
	    (msg[0] && nla_put_string(skb, STEADYKV_A_MIGRATION_ERROR_MSG,
				      msg)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_SAFE_VERSION,
			    READ_ONCE(m->safe_version)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_ELAPSED_US,
			    skv_tgt_elapsed_us(m)) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_PROGRESS_PERMILLE,
			skv_tgt_permille(m)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_BYTES_PULLED,
			    atomic64_read(&m->bytes_pulled)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_RECORDS_PULLED,
			    atomic64_read(&m->records_pulled)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_RECORDS_REPLAYED,
			    atomic64_read(&m->records_replayed)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_RECORDS_SKIPPED,
			    atomic64_read(&m->records_skipped)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_PULLS,
			    atomic64_read(&m->pulls)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_PRIORITY_PULLS_SENT,
			    atomic64_read(&m->prio_pulls)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_PRIORITY_KEYS,
			    atomic64_read(&m->prio_keys)) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_PARTITIONS_DONE,
			atomic_read(&m->parts_done)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_OWNED_US,
			    READ_ONCE(m->owned_us)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_MIGRATION_METRICS_CLIENT_RETRIES,
			    atomic64_read(&m->client_retries)) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_PACE_DEPTH,
			READ_ONCE(m->pace_depth)) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_PACE_CLIENT_P999_US,
			READ_ONCE(m->pace_p999_us)) ||
	    nla_put_u32(skb, STEADYKV_A_MIGRATION_PACE_PULL_BYTES,
			READ_ONCE(m->pace_budget)))
		return -EMSGSIZE;
	return 0;
}

static struct sk_buff *skv_nl_mig_msg(struct skv_mig *m, u32 portid, u32 seq,
				   u8 cmd)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	hdr = genlmsg_put(msg, portid, seq, &steadykv_nl_family, 0, cmd);
	if (!hdr || skv_nl_mig_fill(msg, m)) {
		nlmsg_free(msg);
		return NULL;
	}
	genlmsg_end(msg, hdr);
	return msg;
}

/* Best effort, as netlink.c's events: a listener that misses one re-dumps. */
void skv_tgt_notify(struct skv_mig *m)
{
	struct net *net = m->node->net;
	struct sk_buff *msg;

	if (!genl_has_listeners(&steadykv_nl_family, net,
				STEADYKV_NLGRP_EVENTS))
		return;
	msg = skv_nl_mig_msg(m, 0, 0, STEADYKV_CMD_MIGRATE_NTF);
	if (msg)
		genlmsg_multicast_netns(&steadykv_nl_family, net, msg, 0,
					STEADYKV_NLGRP_EVENTS, GFP_KERNEL);
}

static u32 skv_nl_u32(struct nlattr *attr, u32 def)
{
	return attr ? nla_get_u32(attr) : def;
}

/*
 * The tuning of migrate-start: an absent attribute means the spec's
 * default, decided here only (the policy has checked the ranges).
 */
static void skv_nl_mig_tuning(struct nlattr **a, struct skv_mig_params *p)
{
	p->mode = skv_nl_u32(a[STEADYKV_A_MIGRATION_MODE],
			     STEADYKV_MIGRATION_MODE_ROCKSTEADY);
	p->partitions = skv_nl_u32(a[STEADYKV_A_MIGRATION_PARTITIONS],
				   STEADYKV_MIGRATION_PARTITIONS_DEFAULT);
	p->inflight = skv_nl_u32(a[STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT],
				 STEADYKV_MIGRATION_PULLS_IN_FLIGHT_DEFAULT);
	p->budget = skv_nl_u32(a[STEADYKV_A_MIGRATION_PULL_BUDGET],
			       STEADYKV_MIGRATION_PULL_BUDGET_DEFAULT);
	p->prio = a[STEADYKV_A_MIGRATION_PRIORITY_PULLS] ?
		  nla_get_u8(a[STEADYKV_A_MIGRATION_PRIORITY_PULLS]) :
		  STEADYKV_MIGRATION_PRIORITY_PULLS_DEFAULT;
}

int steadykv_nl_migrate_start_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_node(genl_info_net(info));
	struct skv_mig_params p = {};
	struct nlattr **a = info->attrs;
	struct nlattr *addr;
	int err;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_ID, "id is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_TABLE_ID,
			   "table-id is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_START_HASH,
			   "start-hash is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_END_HASH,
			   "end-hash is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_SOURCE_ADDR,
			   "source-addr is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_SOURCE_PORT,
			   "source-port is required"))
		return -EINVAL;
	addr = a[STEADYKV_A_MIGRATION_SOURCE_ADDR];
	p.addr_len = nla_len(addr);
	if (p.addr_len != 4 && p.addr_len != 16) {
		NL_SET_ERR_MSG_ATTR(info->extack, addr,
				    "source-addr must be 4 (IPv4) or 16 (IPv6) bytes");
		return -EINVAL;
	}
	memcpy(p.addr, nla_data(addr), p.addr_len);
	p.id = nla_get_u64(a[STEADYKV_A_MIGRATION_ID]);
	p.table_id = nla_get_u64(a[STEADYKV_A_MIGRATION_TABLE_ID]);
	p.start_hash = nla_get_u64(a[STEADYKV_A_MIGRATION_START_HASH]);
	p.end_hash = nla_get_u64(a[STEADYKV_A_MIGRATION_END_HASH]);
	if (p.start_hash > p.end_hash) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    a[STEADYKV_A_MIGRATION_END_HASH],
				    "end-hash is below start-hash");
		return -EINVAL;
	}
	p.port = nla_get_u16(a[STEADYKV_A_MIGRATION_SOURCE_PORT]);
	skv_nl_mig_tuning(a, &p);

	if (!skv_auth_may_initiate(node)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "no cluster key on this node (auth-set a key, or insecure mode)");
		return -ENOKEY;
	}

	mutex_lock(&node->lock);
	err = skv_tgt_start(node, &p, info->extack);
	mutex_unlock(&node->lock);
	if (err == -EEXIST)
		NL_SET_BAD_ATTR(info->extack, a[STEADYKV_A_MIGRATION_ID]);
	else if (err == -EBUSY)
		NL_SET_BAD_ATTR(info->extack, a[STEADYKV_A_MIGRATION_START_HASH]);
	return err;
}

int steadykv_nl_migrate_cancel_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	struct skv_node *node = skv_node(genl_info_net(info));
	struct nlattr *attr;
	struct skv_mig *m;
	int err;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_ID, "id is required"))
		return -EINVAL;
	attr = info->attrs[STEADYKV_A_MIGRATION_ID];

	mutex_lock(&node->lock);
	m = skv_tgt_find(node, nla_get_u64(attr));
	if (!m) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "no such migration");
		err = -ENOENT;
	} else {
		err = skv_tgt_cancel(m);
		if (err)
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "the migration has ended");
	}
	mutex_unlock(&node->lock);
	return err;
}

int steadykv_nl_migrate_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_node(genl_info_net(info));
	struct sk_buff *msg = NULL;
	struct nlattr *attr;
	struct skv_mig *m;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_ID, "id is required"))
		return -EINVAL;
	attr = info->attrs[STEADYKV_A_MIGRATION_ID];

	mutex_lock(&node->lock);
	m = skv_tgt_find(node, nla_get_u64(attr));
	if (m)
		msg = skv_nl_mig_msg(m, info->snd_portid, info->snd_seq,
				  STEADYKV_CMD_MIGRATE_GET);
	mutex_unlock(&node->lock);
	if (!m) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "no such migration");
		return -ENOENT;
	}
	if (!msg) {
		NL_SET_ERR_MSG_MOD(info->extack, "cannot build the reply");
		return -ENOMEM;
	}
	return genlmsg_reply(msg, info);
}

/*
 * cb->args[0]: entries already sent.  The list is newest first, so a
 * migration started between calls shifts it: such a dump may repeat one
 * entry (ids are unique; a reader keeps the last copy).
 */
int steadykv_nl_migrate_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	struct skv_node *node = skv_node(sock_net(skb->sk));
	long pos = 0, start = cb->args[0];
	struct skv_mig *m;
	void *hdr;

	mutex_lock(&node->lock);
	list_for_each_entry(m, &node->migs, list) {
		if (pos++ < start)
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &steadykv_nl_family,
				  NLM_F_MULTI, STEADYKV_CMD_MIGRATE_GET);
		if (!hdr)
			break;
		if (skv_nl_mig_fill(skb, m)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = pos;
	}
	mutex_unlock(&node->lock);
	return skb->len;
}

int steadykv_nl_migrate_decide_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	struct skv_node *node = skv_node(genl_info_net(info));
	struct nlattr *abort = info->attrs[STEADYKV_A_MIGRATION_DECISION_ABORT];
	struct nlattr *attr;
	struct skv_mig *m;
	int err;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_ID, "id is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_MIGRATION_DECISION_ABORT,
			   "decision-abort is required"))
		return -EINVAL;
	attr = info->attrs[STEADYKV_A_MIGRATION_ID];
	/* A migration that ended here, as its target, with the range frozen. */
	mutex_lock(&node->lock);
	m = skv_tgt_find(node, nla_get_u64(attr));
	if (m)
		err = skv_tgt_release(m, nla_get_u8(abort), info->extack);
	mutex_unlock(&node->lock);
	if (m)
		return err;
	err = skv_src_decide(node, nla_get_u64(attr), nla_get_u8(abort));
	if (err == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "no such outgoing migration (the decision is remembered)");
	else if (err == -ESTALE)
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "the migration ended the other way");
	else if (err == -EBUSY)
		NL_SET_ERR_MSG_ATTR(info->extack, abort,
				    "the range was never frozen here: it cannot be dropped");
	else if (err)
		NL_SET_ERR_MSG_FMT_MOD(info->extack,
				       "cannot end the migration (%d)", err);
	return err;
}
