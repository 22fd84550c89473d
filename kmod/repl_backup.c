// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv backups: the replicas of other nodes' logs (repl_backup.h).  The
 * wire ops are decoded here; what a replica takes or refuses is decided
 * by the portable core (core/replica.c), under node->replica_lock.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <net/genetlink.h>

#include "node.h"
#include "conn.h"
#include "reply.h"
#include "repl_backup.h"
#include "netlink.h"
#include "nl-gen.h"
#include "record.h"
#include "core/replica.h"

static_assert(sizeof(struct skv_repl_open_req) == 32);
static_assert(sizeof(struct skv_repl_write_req) == 40);
static_assert(sizeof(struct skv_repl_pos_reply) == 16);
static_assert(sizeof(struct skv_repl_read_req) == 32);
static_assert(sizeof(struct skv_repl_read_reply) == 24);
/* A READ reply holds at least one largest record. */
static_assert(SKV_REC_MAX_LEN + sizeof(struct skv_repl_read_reply) <=
	      SKV_MAX_BODY_LEN);

struct skv_node_replica {
	struct list_head list;		/* node->replicas */
	struct skv_replica r;
};

/*
 * Primaries one node may hold replicas of: a ring gives each node R of
 * them, plus those it backed up before a reassignment.  A peer naming
 * new primary ids without end is refused (BACKUP_FULL) past it.
 */
#define SKV_MAX_REPLICAS	256

void skv_replicas_init(struct skv_node *node)
{
	mutex_init(&node->replica_lock);
	INIT_LIST_HEAD(&node->replicas);
}

void skv_replicas_exit(struct skv_node *node)
{
	struct skv_node_replica *nr, *tmp;

	list_for_each_entry_safe(nr, tmp, &node->replicas, list) {
		list_del(&nr->list);
		skv_replica_destroy(&nr->r);
		kfree(nr);
	}
	mutex_destroy(&node->replica_lock);
}

/* Under replica_lock. */
static struct skv_replica *skv_replica_find(struct skv_node *node, u64 id)
{
	struct skv_node_replica *nr;

	list_for_each_entry(nr, &node->replicas, list)
		if (nr->r.primary_id == id)
			return &nr->r;
	return NULL;
}

/*
 * The replica of id, made if missing (with a struct allocated before the
 * lock was taken: *spare, used up if it is); NULL without a spare,
 * ERR_PTR(-ENOSPC) past SKV_MAX_REPLICAS.  Under replica_lock.
 */
static struct skv_replica *skv_replica_make(struct skv_node *node,
					    struct skv_store *s, u64 id,
					    struct skv_node_replica **spare)
{
	struct skv_replica *r = skv_replica_find(node, id);
	struct skv_node_replica *nr = *spare;
	u32 n = 0;

	if (r || !nr)
		return r;
	list_for_each_entry(nr, &node->replicas, list)
		if (++n >= SKV_MAX_REPLICAS)
			return ERR_PTR(-ENOSPC);
	nr = *spare;
	*spare = NULL;
	skv_replica_init(&nr->r, s, id);
	list_add_tail(&nr->list, &node->replicas);
	return &nr->r;
}

static int skv_replica_reply_pos(struct skv_conn *c, const struct skv_hdr *h,
				 u8 st, const struct skv_replica *r)
{
	struct skv_repl_pos_reply pr;

	if (st != SKV_S_OK)
		return skv_reply(c, h, st, NULL, 0);
	pr.base = cpu_to_le64(r->st.base);
	pr.end = cpu_to_le64(r->st.end);
	return skv_reply(c, h, st, &pr, sizeof(pr));
}

static int skv_replica_open_op(struct skv_conn *c, const struct skv_hdr *h,
			       const u8 *body, u32 len)
{
	struct skv_node *node = c->node;
	struct skv_store *s = skv_node_store(node);
	struct skv_node_replica *spare = NULL;
	struct skv_replica *r;
	u64 id, epoch, start, base, end;
	u32 flags;
	int err;
	u8 st;

	if (len != sizeof(struct skv_repl_open_req) ||
	    SKV_LE32(body, struct skv_repl_open_req, reserved))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	flags = SKV_LE32(body, struct skv_repl_open_req, flags);
	if (flags & ~SKV_REPL_F_CREATE)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	if (!s)
		return skv_reply(c, h, SKV_S_INTERNAL, NULL, 0);
	id = SKV_LE64(body, struct skv_repl_open_req, primary_id);
	epoch = SKV_LE64(body, struct skv_repl_open_req, epoch);
	start = SKV_LE64(body, struct skv_repl_open_req, start);
	if (flags & SKV_REPL_F_CREATE) {
		spare = kzalloc(sizeof(*spare), GFP_KERNEL);
		if (!spare)
			return skv_reply(c, h, SKV_S_BACKUP_FULL, NULL, 0);
	}
	mutex_lock(&node->replica_lock);
	r = skv_replica_make(node, s, id, &spare);
	if (IS_ERR(r)) {
		st = SKV_S_BACKUP_FULL;
		r = NULL;
	} else {
		st = r ? skv_replica_open(r, epoch, start, flags, &base,
					  &end) :
			 SKV_S_NOT_BACKUP;
	}
	err = skv_replica_reply_pos(c, h, st, r);
	mutex_unlock(&node->replica_lock);
	kfree(spare);
	return err;
}

static int skv_replica_write_op(struct skv_conn *c, const struct skv_hdr *h,
				const u8 *body, u32 len)
{
	const u32 fixed = sizeof(struct skv_repl_write_req);
	struct skv_node *node = c->node;
	struct skv_replica *r;
	u64 end;
	int err;
	u8 st;

	if (len < fixed)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	mutex_lock(&node->replica_lock);
	r = skv_replica_find(node, SKV_LE64(body, struct skv_repl_write_req,
					    primary_id));
	st = r ? skv_replica_write(r, SKV_LE64(body, struct skv_repl_write_req,
					       epoch),
				   SKV_LE64(body, struct skv_repl_write_req,
					    offset),
				   body + fixed, len - fixed,
				   (u64)READ_ONCE(skv_replica_max_mb) << 20,
				   &end) :
		 SKV_S_NOT_BACKUP;
	if (st == SKV_S_OK)
		skv_replica_mark(r, SKV_LE64(body, struct skv_repl_write_req,
					     whole_from),
				 SKV_LE64(body, struct skv_repl_write_req,
					  whole_to));
	err = skv_replica_reply_pos(c, h, st, r);
	mutex_unlock(&node->replica_lock);
	return err;
}

static int skv_replica_read_op(struct skv_conn *c, const struct skv_hdr *h,
			       const u8 *body, u32 len)
{
	const u32 head = sizeof(struct skv_repl_read_reply);
	struct skv_node *node = c->node;
	struct skv_repl_read_reply rr;
	struct skv_replica *r;
	u32 budget;
	u64 offset, next;
	long got;
	int err;

	if (len != sizeof(struct skv_repl_read_req) ||
	    SKV_LE32(body, struct skv_repl_read_req, reserved))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	budget = clamp(SKV_LE32(body, struct skv_repl_read_req, budget),
		       SKV_MIN_PULL_BUDGET, SKV_MAX_PULL_BUDGET / 4);
	offset = SKV_LE64(body, struct skv_repl_read_req, offset);
	/* Room for the budget or one largest record, whichever is more. */
	err = skv_out_reserve(c, SKV_HDR_LEN + head +
			      max_t(u32, budget, SKV_REC_MAX_LEN));
	if (err)
		return err;
	mutex_lock(&node->replica_lock);
	r = skv_replica_find(node, SKV_LE64(body, struct skv_repl_read_req,
					    primary_id));
	got = r ? skv_replica_read(r, SKV_LE64(body, struct skv_repl_read_req,
					       epoch),
				   offset, skv_reply_tail(c, head), budget,
				   &next) :
		  -SKV_S_NOT_BACKUP;
	if (got >= 0) {
		rr.base = cpu_to_le64(r->st.base);
		rr.end = cpu_to_le64(r->st.end);
		rr.next = cpu_to_le64(next);
	}
	mutex_unlock(&node->replica_lock);
	if (got < 0)
		return skv_reply(c, h, -got, NULL, 0);
	skv_reply_finish(c, h, SKV_S_OK, &rr, head, got);
	return 0;
}

int skv_replica_request(struct skv_conn *c, const struct skv_hdr *h,
			const u8 *body, u32 len)
{
	switch (h->opcode) {
	case SKV_OP_REPL_OPEN:
		return skv_replica_open_op(c, h, body, len);
	case SKV_OP_REPL_WRITE:
		return skv_replica_write_op(c, h, body, len);
	default:
		return skv_replica_read_op(c, h, body, len);
	}
}

long skv_replica_copy(struct skv_node *node, u64 primary_id, u64 epoch,
		      u64 *pos, u8 *dst, u32 cap)
{
	struct skv_replica *r;
	long got;
	u64 next;

	mutex_lock(&node->replica_lock);
	r = skv_replica_find(node, primary_id);
	if (!r) {
		got = -ENOENT;
	} else {
		got = 0;
		if (*pos == U64_MAX) {
			skv_replica_fence(r, epoch);
			*pos = r->st.base;
			/* Fenced first: a primary cut off appends no more. */
			if (r->epoch == epoch && r->opened &&
			    !skv_replica_whole(r))
				got = -EAGAIN;
		}
		if (!got)
			got = skv_replica_read(r, epoch, *pos, dst, cap, &next);
	}
	mutex_unlock(&node->replica_lock);
	switch (got) {
	case -SKV_S_STALE_EPOCH:
		return -ESTALE;
	case -SKV_S_NOT_BACKUP:
		return -ENODATA;
	case -SKV_S_BAD_REQUEST:
		return -EINVAL;
	}
	if (got > 0)
		*pos = next;
	return got;
}

int skv_replica_fence_primary(struct skv_node *node, u64 primary_id,
			      u64 epoch)
{
	struct skv_node_replica *spare;
	struct skv_replica *r;
	struct skv_store *s;
	int err;

	lockdep_assert_held(&node->lock);
	err = skv_node_store_get(node, NULL, &s);
	if (err)
		return err;
	spare = kzalloc(sizeof(*spare), GFP_KERNEL);
	if (!spare)
		return -ENOMEM;
	mutex_lock(&node->replica_lock);
	r = skv_replica_make(node, s, primary_id, &spare);
	err = PTR_ERR_OR_ZERO(r);
	if (!err)
		skv_replica_fence(r, epoch);
	mutex_unlock(&node->replica_lock);
	kfree(spare);
	return err;
}

static int skv_replica_put(struct sk_buff *skb, const struct skv_replica *r)
{
	if (skv_nl_put_u64(skb, STEADYKV_A_REPL_PRIMARY_ID, r->primary_id) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_EPOCH, r->epoch) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_REPLICA_BASE, r->st.base) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_REPLICA_END, r->st.end) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_REPLICA_RECORDS, r->records) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_REPLICA_MEM,
			   skv_rstream_mem(&r->st)) ||
	    nla_put_u8(skb, STEADYKV_A_REPL_REPLICA_WHOLE,
		       skv_replica_whole(r)))
		return -EMSGSIZE;
	return 0;
}

/* cb->args[0]: replicas already sent. */
int skv_replica_dump(struct skv_node *node, struct sk_buff *skb,
		     struct netlink_callback *cb)
{
	struct skv_node_replica *nr;
	long i = 0, from = cb->args[0];
	void *hdr;
	int err = 0;

	mutex_lock(&node->replica_lock);
	list_for_each_entry(nr, &node->replicas, list) {
		if (i++ < from)
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &steadykv_nl_family,
				  NLM_F_MULTI, STEADYKV_CMD_REPLICA_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		if (skv_replica_put(skb, &nr->r)) {
			genlmsg_cancel(skb, hdr);
			err = -EMSGSIZE;
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0] = i;
	}
	mutex_unlock(&node->replica_lock);
	if (err && cb->args[0] == from)
		return err;	/* not even one fits: a real error */
	return skb->len;
}
