// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv migration, source side (wire.h "Migration").
 *
 * The target drives a migration; the source only answers.  PREPARE
 * splits the range into a tablet of its own and (unless the target asks
 * to keep the owner) freezes it (MIGRATING_OUT: clients get NOT_OWNER,
 * and the state change waits a grace period, so no write to the range is
 * in flight when the safe version is read).  PULL and PRIORITY_PULL walk
 * the store under RCU and bucket locks and write the records straight
 * from the log into the connection's output buffer.  END drops the range
 * (commit) or serves it again (abort); PUSH_BACK replays the target's
 * writes into the range before an abort.
 *
 * A migration belongs to the peer that prepared it, known by its address
 * (every connection that reaches here authenticated as a peer, or the
 * node is in insecure mode: request.c checks): another peer naming its id is told NO_MIGRATION, as for an id nobody
 * uses, so ids cannot be probed, and the try counts as a bad request.
 * Ids are the coordinator's random 64-bit values; two peers may even use
 * the same one.  A node takes part in at most SKV_MIG_MAX_ACTIVE
 * migrations at once; a PREPARE over that is BUSY, with the reason.
 *
 * Every step may be repeated (wire.h "Migration"): an ended migration
 * is remembered (node->mig_ended, a ring of the last SKV_MIG_ENDED_KEEP,
 * with its outcome), so an END whose reply was lost gets OK again and a
 * late PREPARE of it cannot freeze the range again.  MIG_STATUS tells
 * where a migration stands.  A keep-owner (push) migration marks its
 * NORMAL tablet as copied out, so the cleaner keeps its tombstones
 * (a key deleted during the copy must not come back at the target).
 *
 * Locking: node->lock serializes the control ops (PREPARE, END,
 * PUSH_BACK, MIG_STATUS) with each other and with netlink's tablet
 * changes, bumps map_gen as they do, and guards the ended ring.  node->mig_out_lock (a spinlock) guards the
 * list itself, so the data ops (PULL, PRIORITY_PULL) look a migration up
 * without waiting behind a control op's grace period.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <net/genetlink.h>
#include <uapi/linux/steadykv.h>

#include "node.h"
#include "faults.h"
#include "conn.h"
#include "transport.h"
#include "reply.h"
#include "mig_source.h"
#include "repl_primary.h"
#include "scan.h"
#include "replay.h"
#include "log.h"
#include "record.h"
#include "tablet.h"
#include "trace.h"

static_assert(sizeof(struct skv_mig_range_req) == 40);
static_assert(sizeof(struct skv_mig_prepare_reply) == 24);
static_assert(sizeof(struct skv_mig_status_reply) == 16);
static_assert(sizeof(struct skv_pull_req) == 56);
static_assert(sizeof(struct skv_pull_reply) == 16);
static_assert(sizeof(struct skv_prio_pull_req) == 24);
static_assert(sizeof(struct skv_batch_hdr) == 16);

/* One largest record fits a pull reply and a push-back. */
static_assert(sizeof(struct skv_pull_reply) + sizeof(struct skv_batch_hdr) +
	      SKV_REC_MAX_LEN <= SKV_MAX_BODY_LEN);
static_assert(sizeof(struct skv_push_back_req) == 48);
static_assert(sizeof(struct skv_push_back_req) + sizeof(struct skv_batch_hdr) +
	      SKV_REC_MAX_LEN <= SKV_MAX_BODY_LEN);

/* Room for a pull reply's batch: the body cap less the pull reply. */
#define SKV_PULL_BATCH_MAX \
	(SKV_MAX_BODY_LEN - (u32)sizeof(struct skv_pull_reply))
#define SKV_PULL_FIXED \
	(SKV_HDR_LEN + (u32)sizeof(struct skv_pull_reply))

/* An outgoing migration, on node->mig_out. */
struct skv_mig_out {
	struct list_head list;
	u64 id;
	u64 table_id;
	u64 start_hash;
	u64 end_hash;
	u64 safe_version;	/* of the last PREPARE answered */
	u32 epoch;		/* of the PREPARE that created it */
	bool keep_owner;	/* still NORMAL here (push baseline) */
	struct skv_addr owner;	/* the address of the peer that prepared it */
};

void skv_src_init(struct skv_node *node)
{
	spin_lock_init(&node->mig_out_lock);
	INIT_LIST_HEAD(&node->mig_out);
	memset(node->mig_ended, 0, sizeof(node->mig_ended));
	node->mig_ended_next = 0;
	memset(&node->mig_fault, 0, sizeof(node->mig_fault));
}

void skv_src_exit(struct skv_node *node)
{
	struct skv_mig_out *m, *tmp;

	/* Namespace exit: no connection is left to look these up. */
	list_for_each_entry_safe(m, tmp, &node->mig_out, list) {
		list_del(&m->list);
		kfree(m);
	}
}

u32 skv_mig_active(struct skv_node *node)
{
	struct skv_mig_out *m;
	u32 n = node->migs_running;

	lockdep_assert_held(&node->lock);
	list_for_each_entry(m, &node->mig_out, list)
		n++;
	return n;
}

/*
 * Migration id of peer, or NULL; *foreign says another peer has one of
 * that id.  Under mig_out_lock or node->lock.
 */
static struct skv_mig_out *skv_src_find(struct skv_node *node, u64 id,
					const struct skv_addr *peer,
					bool *foreign)
{
	struct skv_mig_out *m;

	*foreign = false;
	list_for_each_entry(m, &node->mig_out, list) {
		if (m->id != id)
			continue;
		if (skv_addr_equal(&m->owner, peer))
			return m;
		*foreign = true;
	}
	return NULL;
}

/*
 * NO_MIGRATION: the same answer whether nobody or another peer has the
 * id, but a try at another peer's migration counts as a bad request.
 */
static int skv_src_no_migration(struct skv_conn *c, const struct skv_hdr *h,
				bool foreign)
{
	if (foreign)
		return skv_reply_bad(c, h, SKV_S_NO_MIGRATION);
	return skv_reply(c, h, SKV_S_NO_MIGRATION, NULL, 0);
}

/*
 * Copy of the caller's migration id into *out.  Returns 0, 1 if there is
 * none (answered), or a negative errno.
 */
static int skv_src_get(struct skv_conn *c, const struct skv_hdr *h, u64 id,
		       struct skv_mig_out *out)
{
	struct skv_node *node = c->node;
	struct skv_mig_out *m;
	bool foreign;

	spin_lock(&node->mig_out_lock);
	m = skv_src_find(node, id, &c->xprt->peer, &foreign);
	if (m)
		*out = *m;
	spin_unlock(&node->mig_out_lock);
	if (m)
		return 0;
	return skv_src_no_migration(c, h, foreign) ?: 1;
}

struct skv_range {
	u64 id;
	u64 table_id;
	u64 start;
	u64 end;
	u32 flags;
	u32 epoch;
};

/* A skv_mig_range_req at body (len checked by the caller). */
static bool skv_src_parse_range(const u8 *body, u32 allowed, struct skv_range *r)
{
	r->id = SKV_LE64(body, struct skv_mig_range_req, migration_id);
	r->table_id = SKV_LE64(body, struct skv_mig_range_req, table_id);
	r->start = SKV_LE64(body, struct skv_mig_range_req, start_hash);
	r->end = SKV_LE64(body, struct skv_mig_range_req, end_hash);
	r->flags = SKV_LE32(body, struct skv_mig_range_req, flags);
	r->epoch = SKV_LE32(body, struct skv_mig_range_req, epoch);
	return !(r->flags & ~allowed) && r->id && r->start <= r->end;
}

static bool skv_src_same(const struct skv_mig_out *m,
			 const struct skv_range *r)
{
	return m->table_id == r->table_id && m->start_hash == r->start &&
	       m->end_hash == r->end;
}

static bool skv_src_inside(const struct skv_mig_out *m, u64 table_id,
			   u64 start, u64 end)
{
	return m->table_id == table_id && start >= m->start_hash &&
	       end <= m->end_hash;
}

/*
 * The ended migration id of peer, or NULL.  A decision for an id the
 * node never had (owner unknown) is any peer's.  Under node->lock.
 */
static struct skv_mig_ended *skv_src_ended_find(struct skv_node *node, u64 id,
						const struct skv_addr *peer)
{
	struct skv_mig_ended *e;
	u32 i;

	lockdep_assert_held(&node->lock);
	for (i = 0; i < SKV_MIG_ENDED_KEEP; i++) {
		e = &node->mig_ended[i];
		if (e->id == id &&
		    (!e->owner.len || skv_addr_equal(&e->owner, peer)))
			return e;
	}
	return NULL;
}

/* m ended with where (SKV_MIG_ENDED_*): remember it.  Under node->lock. */
static void skv_src_remember(struct skv_node *node,
			     const struct skv_mig_out *m, u8 where)
{
	struct skv_mig_ended *e = &node->mig_ended[node->mig_ended_next];

	lockdep_assert_held(&node->lock);
	node->mig_ended_next = (node->mig_ended_next + 1) % SKV_MIG_ENDED_KEEP;
	e->id = m->id;
	e->table_id = m->table_id;
	e->start_hash = m->start_hash;
	e->end_hash = m->end_hash;
	e->safe_version = m->safe_version;
	e->where = where;
	e->owner = m->owner;
}

/* Tablet changes are map changes: dumps must see a new generation. */
static void skv_src_map_changed(struct skv_node *node)
{
	lockdep_assert_held(&node->lock);
	node->map_gen++;
}

static int skv_src_prepare_reply(struct skv_conn *c, const struct skv_hdr *h,
				 struct skv_store *s, u64 safe)
{
	struct skv_mig_prepare_reply pr = {};
	struct skv_store_stats st;

	skv_store_get_stats(s, &st);
	pr.safe_version = cpu_to_le64(safe);
	pr.index_buckets = cpu_to_le32(1u << skv_index_buckets_log2);
	pr.objects = cpu_to_le64(st.objects);
	return skv_reply(c, h, SKV_S_OK, &pr, sizeof(pr));
}

/*
 * Make [start, end] a tablet of its own.  A split left behind when a
 * later step fails is harmless: two tablets serve what one did.
 */
static int skv_src_isolate(struct skv_store *s, const struct skv_range *r,
			   const struct skv_tablet_info *t)
{
	int err;

	if (r->start > t->start_hash) {
		err = skv_tablet_split(s, r->table_id, r->start);
		if (err)
			return err;
	}
	if (r->end < t->end_hash)
		return skv_tablet_split(s, r->table_id, r->end + 1);
	return 0;
}

/* Why a PREPARE is BUSY: the reply's body, for the target's log. */
static const char skv_src_busy_other_range[] = "the migration id has another range";
static const char skv_src_busy_range[] = "the range is migrating or spans tablets";
static const char skv_src_busy_full[] = "the source takes part in the most migrations it allows at once";

/* A PREPARE of a migration we know: idempotent, or the freeze. */
static u8 skv_src_prepare_again(struct skv_node *node, struct skv_store *s,
				struct skv_mig_out *m,
				const struct skv_range *r, u64 *safe,
				const char **why)
{
	bool keep = r->flags & SKV_MIG_F_KEEP_OWNER;

	if (!skv_src_same(m, r)) {
		*why = skv_src_busy_other_range;
		return SKV_S_BUSY;
	}
	if (m->keep_owner && !keep) {
		if (skv_tablet_set_state(s, m->table_id, m->start_hash,
					 m->end_hash, SKV_TABLET_MIGRATING_OUT))
			return SKV_S_INTERNAL;	/* the tablet went away */
		skv_src_map_changed(node);
		trace_skv_ownership(m->id, m->table_id, m->start_hash,
				    m->end_hash, SKV_TABLET_MIGRATING_OUT);
		spin_lock(&node->mig_out_lock);
		m->keep_owner = false;
		m->safe_version = skv_store_version(s);
		spin_unlock(&node->mig_out_lock);
	}
	*safe = m->safe_version;
	return SKV_S_OK;
}

static u8 skv_src_prepare_new(struct skv_node *node, struct skv_store *s,
			      const struct skv_range *r,
			      const struct skv_addr *owner, u64 *safe,
			      const char **why)
{
	struct skv_tablet_info t;
	struct skv_mig_out *m, *o;
	int err;

	err = skv_tablet_lookup(s, r->table_id, r->start, &t);
	if (err == -ENOENT)
		return SKV_S_UNKNOWN_TABLE;
	if (err)
		return SKV_S_NOT_OWNER;
	*why = skv_src_busy_range;
	if (t.state != SKV_TABLET_NORMAL || r->end > t.end_hash)
		return SKV_S_BUSY;
	/* A keep-owner migration leaves its range NORMAL: check overlap. */
	list_for_each_entry(o, &node->mig_out, list)
		if (o->table_id == r->table_id && o->start_hash <= r->end &&
		    r->start <= o->end_hash)
			return SKV_S_BUSY;
	if (skv_mig_active(node) >= SKV_MIG_MAX_ACTIVE) {
		*why = skv_src_busy_full;
		return SKV_S_BUSY;
	}
	*why = NULL;
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return SKV_S_INTERNAL;
	m->id = r->id;
	m->owner = *owner;
	m->table_id = r->table_id;
	m->start_hash = r->start;
	m->end_hash = r->end;
	m->keep_owner = r->flags & SKV_MIG_F_KEEP_OWNER;
	m->epoch = r->epoch;
	err = skv_src_isolate(s, r, &t);
	if (!err)
		err = m->keep_owner ?
		      skv_tablet_set_copied_out(s, r->table_id, r->start,
						r->end, true) :
		      skv_tablet_set_state(s, r->table_id, r->start, r->end,
					   SKV_TABLET_MIGRATING_OUT);
	skv_src_map_changed(node);
	if (!err && !m->keep_owner)
		trace_skv_ownership(m->id, r->table_id, r->start, r->end, SKV_TABLET_MIGRATING_OUT);
	if (err) {
		kfree(m);
		/* -ENOSPC: max_tablets reached, no room for the split. */
		return err == -ENOSPC ? SKV_S_NO_SPACE : SKV_S_INTERNAL;
	}
	/* After the grace period: every version handed out is <= this. */
	m->safe_version = skv_store_version(s);
	*safe = m->safe_version;
	spin_lock(&node->mig_out_lock);
	list_add_tail(&m->list, &node->mig_out);
	spin_unlock(&node->mig_out_lock);
	return SKV_S_OK;
}

static int skv_src_prepare(struct skv_conn *c, const struct skv_hdr *h,
			   struct skv_store *s, const u8 *body, u32 len)
{
	struct skv_node *node = c->node;
	const char *why = NULL;
	struct skv_mig_out *m;
	struct skv_range r;
	bool foreign;
	u64 safe = 0;
	u8 st;

	if (len != sizeof(struct skv_mig_range_req) ||
	    !skv_src_parse_range(body, SKV_MIG_F_KEEP_OWNER, &r))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	/* A migration nobody could name again (address unknown) is refused. */
	if (!c->xprt->peer.len)
		return -ENOTCONN;
	mutex_lock(&node->lock);
	/* Another peer's id is no business of this one: a new migration. */
	m = skv_src_find(node, r.id, &c->xprt->peer, &foreign);
	if (m && r.epoch != m->epoch)
		st = SKV_S_STALE_EPOCH;
	else if (m)
		st = skv_src_prepare_again(node, s, m, &r, &safe, &why);
	else if (skv_src_ended_find(node, r.id, &c->xprt->peer) ||
		 skv_node_epoch_stale(node, r.epoch))
		st = SKV_S_STALE_EPOCH;	/* decided already, or planned before a newer change */
	else
		st = skv_src_prepare_new(node, s, &r, &c->xprt->peer, &safe, &why);
	mutex_unlock(&node->lock);
	if (st != SKV_S_OK)
		return skv_reply(c, h, st, why, why ? strlen(why) : 0);
	skv_node_learn_epoch(node, r.epoch);
	/*
	 * Open the latency window the pull replies report from, so the
	 * first pulls can already tell the target this node is idle.
	 */
	skv_metrics_client_p999_us(node);
	return skv_src_prepare_reply(c, h, s, safe);
}

static int skv_src_first_hash(void *arg, const void *rec, u32 len)
{
	const struct skv_rec_hdr *rh = rec;

	*(u64 *)arg = le64_to_cpu(rh->key_hash);
	return -EAGAIN;		/* stop at the first record */
}

/* A pull's records left in the log: sent from its pages (reply.h). */
struct skv_src_splice {
	struct skv_conn *c;
	u32 base;		/* obuf offset of the batch's first record */
	u32 bytes;		/* taken */
};

static int skv_src_splice_take(void *arg, const void *rec, u32 len, u32 at)
{
	struct skv_src_splice *sp = arg;
	int err = skv_out_splice(sp->c, rec, len, sp->base + at);

	if (!err)
		sp->bytes += len;
	return err;
}

/*
 * Serialize [cursor, end] of the pull into the reply being built, splicing
 * as zs allows (NULL: copy all).  On an error, nothing is left taken.
 */
static long skv_src_serialize(struct skv_conn *c, struct skv_store *s,
			      u64 table_id, u64 start, u64 end, u64 cursor,
			      u64 min_version, u32 cap,
			      const struct skv_ser_splice *zs, u64 *next,
			      bool *done)
{
	struct skv_src_splice *sp = zs ? zs->arg : NULL;
	long n;

	n = skv_scan_serialize_spliced(s, table_id, start, end, cursor,
				       min_version,
				       skv_reply_tail(c, sizeof(struct skv_pull_reply)),
				       cap, zs, next, done);
	if (n < 0 && sp && sp->bytes) {
		skv_out_cut(c, c->olen);
		sp->bytes = 0;
	}
	return n;
}

/*
 * The first group from cursor is larger than the budget: send it alone,
 * in a batch as large as a reply can be.  Find its hash, then serialize
 * [cursor, that hash] (a group that appeared meanwhile below it comes
 * too if it fits: the batch is then a little over budget, nothing more).
 */
static long skv_src_pull_big_group(struct skv_conn *c, struct skv_store *s,
				   u64 table_id, u64 start, u64 end,
				   u64 cursor, u64 min_version,
				   const struct skv_ser_splice *zs, u64 *next,
				   bool *done)
{
	u64 h = 0;
	long n;

	n = skv_scan(s, table_id, start, end, cursor, 1, skv_src_first_hash, &h,
		     next, done);
	if (n >= 0)	/* the group went away: the rest fits as it is */
		return skv_src_serialize(c, s, table_id, start, end, cursor,
					 min_version, SKV_PULL_BATCH_MAX, zs,
					 next, done);
	if (n != -EAGAIN)
		return n;
	n = skv_src_serialize(c, s, table_id, start, h, cursor, min_version,
			      SKV_PULL_BATCH_MAX, zs, next, done);
	if (n >= 0 && *done) {
		*done = h == end;
		*next = *done ? h : h + 1;
	}
	return n;
}

/*
 * PULL.  The batch is written by skv_scan_serialize_spliced() straight
 * into the reply in the output buffer: each record is copied once, from
 * the log into the buffer the socket sends from, or, from pull_splice_min
 * bytes on, not at all: sent from the log's pages.
 */
static int skv_src_pull(struct skv_conn *c, const struct skv_hdr *h,
			struct skv_store *s, const u8 *body, u32 len)
{
	struct skv_pull_reply pr = {};
	struct skv_src_splice sp = { .c = c };
	struct skv_ser_splice zs = {
		.min_len = READ_ONCE(skv_pull_splice_min),
		.take = skv_src_splice_take,
		.arg = &sp,
	};
	const struct skv_ser_splice *zsp = &zs;
	struct skv_mig_out m;
	u64 id, table_id, start, end, cursor, min_version, next = 0;
	u32 budget, cap;
	bool done = false;
	int err, tries;
	long n;

	if (len != sizeof(struct skv_pull_req) ||
	    SKV_LE32(body, struct skv_pull_req, reserved))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	id = SKV_LE64(body, struct skv_pull_req, migration_id);
	table_id = SKV_LE64(body, struct skv_pull_req, table_id);
	start = SKV_LE64(body, struct skv_pull_req, start_hash);
	end = SKV_LE64(body, struct skv_pull_req, end_hash);
	cursor = SKV_LE64(body, struct skv_pull_req, cursor);
	min_version = SKV_LE64(body, struct skv_pull_req, min_version);
	budget = SKV_LE32(body, struct skv_pull_req, budget);
	if (start > end)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	err = skv_src_get(c, h, id, &m);
	if (err)
		return min(err, 0);
	if (!skv_src_inside(&m, table_id, start, end))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	budget = clamp(budget, SKV_MIN_PULL_BUDGET, SKV_MAX_PULL_BUDGET);
	/* The reply body is capped like a request's. */
	cap = min_t(u32, budget + sizeof(struct skv_batch_hdr),
		    SKV_PULL_BATCH_MAX);
	err = skv_out_reserve(c, SKV_PULL_FIXED + cap);
	if (err)
		return err;
	/* Off, or without room for pieces: every record is copied. */
	if (!zs.min_len || skv_out_pages_alloc(c))
		zsp = NULL;
	sp.base = c->olen + SKV_PULL_FIXED + sizeof(struct skv_batch_hdr);
	n = skv_src_serialize(c, s, table_id, start, end, cursor, min_version,
			      cap, zsp, &next, &done);
	for (tries = 0; n == -EMSGSIZE && tries < 3; tries++) {
		err = skv_out_reserve(c, SKV_PULL_FIXED + SKV_PULL_BATCH_MAX);
		if (err)
			return err;
		n = skv_src_pull_big_group(c, s, table_id, start, end, cursor,
					   min_version, zsp, &next, &done);
	}
	if (n < 0) {
		/* A group larger than any reply: cannot be shipped. */
		pr_warn_ratelimited("steadykv: pull of migration %llu: record group at %llx too large\n",
				    id, cursor);
		return skv_reply(c, h, SKV_S_INTERNAL, NULL, 0);
	}
	pr.next_cursor = cpu_to_le64(next);
	pr.resolved = cpu_to_le32(done);
	pr.client_p999_us = cpu_to_le32(skv_metrics_client_p999_us(c->node));
	skv_reply_finish_spliced(c, h, SKV_S_OK, &pr, sizeof(pr), n, sp.bytes);
	atomic64_add(n - sizeof(struct skv_batch_hdr) - sp.bytes,
		     &c->node->pull_bytes_copied);
	atomic64_add(sp.bytes, &c->node->pull_bytes_spliced);
	return 0;
}

static int skv_src_priority_pull(struct skv_conn *c, const struct skv_hdr *h,
				 struct skv_store *s, const u8 *body, u32 len)
{
	const u32 fixed = sizeof(struct skv_prio_pull_req);
	u64 hashes[SKV_MAX_PRIO_HASHES];
	struct skv_pull_reply pr = {};
	struct skv_mig_out m;
	u32 count, i, resolved = 0;
	u64 id, table_id;
	long n;
	int err;

	if (len < fixed ||
	    SKV_LE16(body, struct skv_prio_pull_req, reserved[0]) ||
	    SKV_LE16(body, struct skv_prio_pull_req, reserved[1]) ||
	    SKV_LE16(body, struct skv_prio_pull_req, reserved[2]))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	count = SKV_LE16(body, struct skv_prio_pull_req, count);
	if (!count || count > SKV_MAX_PRIO_HASHES ||
	    len != fixed + count * sizeof(__le64))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	id = SKV_LE64(body, struct skv_prio_pull_req, migration_id);
	table_id = SKV_LE64(body, struct skv_prio_pull_req, table_id);
	err = skv_src_get(c, h, id, &m);
	if (err)
		return min(err, 0);
	for (i = 0; i < count; i++) {
		hashes[i] = get_unaligned_le64(body + fixed + i * 8);
		if (!skv_src_inside(&m, table_id, hashes[i], hashes[i]))
			return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	}
	err = skv_out_reserve(c, SKV_PULL_FIXED + SKV_PULL_BATCH_MAX);
	if (err)
		return err;
	n = skv_collect_hashes(s, table_id, hashes, count,
			       skv_reply_tail(c, sizeof(pr)),
			       SKV_PULL_BATCH_MAX, &resolved);
	if (n < 0)
		return skv_reply(c, h, SKV_S_INTERNAL, NULL, 0);
	pr.resolved = cpu_to_le32(resolved);
	pr.client_p999_us = cpu_to_le32(skv_metrics_client_p999_us(c->node));
	skv_reply_finish(c, h, SKV_S_OK, &pr, sizeof(pr), n);
	return 0;
}

/* Forget m: under node->lock. */
static void skv_src_forget(struct skv_node *node, struct skv_mig_out *m)
{
	spin_lock(&node->mig_out_lock);
	list_del(&m->list);
	spin_unlock(&node->mig_out_lock);
	kfree(m);
}

/* An END's tablet change failed: NO_SPACE (the target tries again) if memory. */
static u8 skv_src_end_failed(int err)
{
	return err == -ENOMEM ? SKV_S_NO_SPACE : SKV_S_INTERNAL;
}

/* The status of an END for a caller on this node (netlink, recovery). */
static int skv_src_end_errno(u8 st)
{
	switch (st) {
	case SKV_S_OK:
		return 0;
	case SKV_S_BUSY:
		return -EBUSY;
	case SKV_S_NO_SPACE:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/*
 * End m as the target (or the coordinator) decided: abort serves the
 * range again, commit drops it.  The outcome is remembered.  Under
 * node->lock; returns a status.
 */
static u8 skv_src_end_one(struct skv_node *node, struct skv_store *s,
			  struct skv_mig_out *m, bool abort)
{
	int err;

	/* Every change below copies the map (and a drop queues a departure). */
	if (should_fail(&skv_fail_src_end, 1))
		return skv_src_end_failed(-ENOMEM);
	if (abort) {
		/* Serve the range again; -ENOENT: it is gone already. */
		if (m->keep_owner)
			err = skv_tablet_set_copied_out(s, m->table_id,
							m->start_hash,
							m->end_hash, false);
		else
			err = skv_tablet_set_state(s, m->table_id,
						   m->start_hash, m->end_hash,
						   SKV_TABLET_NORMAL);
		if (err && err != -ENOENT)
			return skv_src_end_failed(err);
		if (!m->keep_owner)
			trace_skv_ownership(m->id, m->table_id, m->start_hash,
					    m->end_hash, SKV_TABLET_NORMAL);
	} else {
		/*
		 * Never frozen (keep-owner): writes may have landed since the
		 * last pull, so dropping the range could lose them.  Freeze
		 * first.
		 */
		if (m->keep_owner)
			return SKV_S_BUSY;
		err = skv_repl_tablet_del(node, s, m->table_id, m->start_hash,
					  m->end_hash);
		if (err && err != -ENOENT)
			return skv_src_end_failed(err);
		trace_skv_ownership(m->id, m->table_id, m->start_hash,
				    m->end_hash, SKV_TRACE_TABLET_GONE);
	}
	skv_src_map_changed(node);
	skv_src_remember(node, m, abort ? SKV_MIG_ENDED_ABORT :
			 SKV_MIG_ENDED_COMMIT);
	skv_src_forget(node, m);
	return SKV_S_OK;
}

/*
 * An END (or, abort, a PUSH_BACK) of a migration no longer held: OK if
 * it ended that way (the reply to the first END was lost; a push-back
 * comes before its END, so its records are here already), STALE_EPOCH
 * if it ended the other way, NO_MIGRATION if it is not remembered.
 * Under node->lock.
 */
static u8 skv_src_end_again(struct skv_node *node, const struct skv_range *r,
			    const struct skv_addr *peer, bool abort)
{
	const struct skv_mig_ended *e = skv_src_ended_find(node, r->id, peer);
	u8 want = abort ? SKV_MIG_ENDED_ABORT : SKV_MIG_ENDED_COMMIT;

	if (!e)
		return SKV_S_NO_MIGRATION;
	/* A decision for an id never held here knows no range. */
	if (e->owner.len &&
	    (e->table_id != r->table_id || e->start_hash != r->start ||
	     e->end_hash != r->end))
		return SKV_S_BAD_REQUEST;
	return e->where == want ? SKV_S_OK : SKV_S_STALE_EPOCH;
}

static int skv_src_end(struct skv_conn *c, const struct skv_hdr *h,
		       struct skv_store *s, const u8 *body, u32 len)
{
	struct skv_node *node = c->node;
	struct skv_mig_out *m;
	struct skv_range r;
	u8 st;
	bool foreign;

	if (len != sizeof(struct skv_mig_range_req) ||
	    !skv_src_parse_range(body, SKV_MIG_F_ABORT, &r))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	mutex_lock(&node->lock);
	m = skv_src_find(node, r.id, &c->xprt->peer, &foreign);
	if (!m)
		st = skv_src_end_again(node, &r, &c->xprt->peer,
				       r.flags & SKV_MIG_F_ABORT);
	else if (!skv_src_same(m, &r))
		st = SKV_S_BAD_REQUEST;
	else if (r.epoch != m->epoch)
		st = SKV_S_STALE_EPOCH;
	else
		st = skv_src_end_one(node, s, m, r.flags & SKV_MIG_F_ABORT);
	mutex_unlock(&node->lock);
	if (st == SKV_S_OK)
		skv_node_kick_cleaner(node);	/* dropped data to reclaim */
	if (st == SKV_S_NO_MIGRATION)
		return skv_src_no_migration(c, h, foreign);
	if (st == SKV_S_BAD_REQUEST)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	return skv_reply(c, h, st, NULL, 0);
}

int skv_src_decide(struct skv_node *node, u64 id, bool abort)
{
	struct skv_store *s = skv_node_store(node);
	u8 want = abort ? SKV_MIG_ENDED_ABORT : SKV_MIG_ENDED_COMMIT;
	struct skv_mig_out *m, *found = NULL;
	struct skv_mig_ended *e = NULL;
	u32 i;
	u8 st;

	if (!s)
		return -ENODEV;
	mutex_lock(&node->lock);
	list_for_each_entry(m, &node->mig_out, list)
		if (m->id == id)
			found = m;
	if (found) {
		st = skv_src_end_one(node, s, found, abort);
		mutex_unlock(&node->lock);
		if (st == SKV_S_OK)
			skv_node_kick_cleaner(node);
		return skv_src_end_errno(st);
	}
	for (i = 0; i < SKV_MIG_ENDED_KEEP && !e; i++)
		if (node->mig_ended[i].id == id)
			e = &node->mig_ended[i];
	if (!e) {
		/* Never here (yet): a PREPARE of it must not freeze anything. */
		struct skv_mig_out gone = { .id = id };

		skv_src_remember(node, &gone, want);
	}
	mutex_unlock(&node->lock);
	if (!e)
		return -ENOENT;
	return e->where == want ? 0 : -ESTALE;
}

int skv_src_frozen_id(struct skv_node *node, u64 table_id, u64 start_hash,
		      u64 end_hash, u64 *id)
{
	struct skv_mig_out *m;

	lockdep_assert_held(&node->lock);
	list_for_each_entry(m, &node->mig_out, list) {
		if (m->keep_owner || m->table_id != table_id ||
		    m->start_hash != start_hash || m->end_hash != end_hash)
			continue;
		*id = m->id;
		return 0;
	}
	return -ENOENT;
}

int skv_src_end_recovered(struct skv_node *node, u64 id)
{
	struct skv_store *s = skv_node_store(node);
	struct skv_mig_out *m;

	lockdep_assert_held(&node->lock);
	list_for_each_entry(m, &node->mig_out, list)
		if (m->id == id)
			return skv_src_end_errno(skv_src_end_one(node, s, m,
								 true));
	return -ENOENT;
}

/* MIG_STATUS: where the caller's migration stands here. */
static int skv_src_status(struct skv_conn *c, const struct skv_hdr *h,
			  const u8 *body, u32 len)
{
	struct skv_node *node = c->node;
	struct skv_mig_status_reply sr = {};
	const struct skv_mig_ended *e;
	struct skv_mig_out *m;
	struct skv_range r;
	bool foreign;

	if (len != sizeof(struct skv_mig_range_req) ||
	    !skv_src_parse_range(body, SKV_MIG_F_KEEP_OWNER | SKV_MIG_F_ABORT,
				 &r))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	mutex_lock(&node->lock);
	m = skv_src_find(node, r.id, &c->xprt->peer, &foreign);
	e = m ? NULL : skv_src_ended_find(node, r.id, &c->xprt->peer);
	if (m) {
		sr.where = cpu_to_le32(m->keep_owner ? SKV_MIG_PREPARED :
				       SKV_MIG_FROZEN);
		sr.safe_version = cpu_to_le64(m->safe_version);
	} else if (e) {
		sr.where = cpu_to_le32(e->where);
		sr.safe_version = cpu_to_le64(e->safe_version);
	}
	mutex_unlock(&node->lock);
	return skv_reply(c, h, SKV_S_OK, &sr, sizeof(sr));
}

/*
 * Every record of a push-back batch must belong to the migration's range:
 * replay applies a record to whatever tablet of ours holds its key.
 */
static u8 skv_src_replay_status(int err)
{
	switch (err) {
	case 0:
		return SKV_S_OK;
	case -EINVAL:
	case -EBADMSG:
	case -ERANGE:		/* a record outside the range or versions */
		return SKV_S_BAD_REQUEST;
	case -ENOSPC:
	case -ENOMEM:
		return SKV_S_NO_SPACE;
	case -EMSGSIZE:
		return SKV_S_TOO_BIG;
	default:
		return SKV_S_INTERNAL;
	}
}

static int skv_src_push_back(struct skv_conn *c, const struct skv_hdr *h,
			     struct skv_store *s, const u8 *body, u32 len)
{
	const u32 fixed = sizeof(struct skv_push_back_req);
	struct skv_node *node = c->node;
	struct skv_replay_bounds bounds;
	struct skv_replay_stats rs;
	struct skv_sidelog *sl;
	struct skv_tablet_info t;
	struct skv_mig_out *m;
	struct skv_range r;
	u64 target_version;
	const u8 *recs;
	u32 rlen, count;
	bool foreign;
	u8 st;
	int err;

	if (len < fixed || !skv_src_parse_range(body, 0, &r))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);

	target_version = SKV_LE64(body, struct skv_push_back_req, max_version);
	/* Checked whole (lengths, crcs, key hashes) before anything else. */
	if (skv_batch_verify(body + fixed, len - fixed, SKV_PARSE_CHECK_HASH,
			     &recs, &rlen, &count))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	mutex_lock(&node->lock);
	m = skv_src_find(node, r.id, &c->xprt->peer, &foreign);
	if (!m) {
		st = skv_src_end_again(node, &r, &c->xprt->peer, true);
		goto unlock;
	}
	if (!skv_src_same(m, &r)) {
		st = SKV_S_BAD_REQUEST;
		goto unlock;
	}
	/* Only a frozen range: it is ours to write again. */
	if (m->keep_owner ||
	    skv_tablet_lookup(s, m->table_id, m->start_hash, &t) ||
	    t.state != SKV_TABLET_MIGRATING_OUT) {
		st = SKV_S_BUSY;
		goto unlock;
	}
	err = skv_sidelog_create(s, &sl);
	if (err) {
		st = SKV_S_NO_SPACE;
		goto unlock;
	}
	/*
	 * The target's writes: in the range, newer than what it pulled, no
	 * newer than its counter (nor our ceiling: replay checks that).
	 */
	bounds = (struct skv_replay_bounds) {
		.table_id = m->table_id,
		.start_hash = m->start_hash,
		.end_hash = m->end_hash,
		.min_version = m->safe_version + 1,
		.max_version = target_version,
	};
	err = skv_replay_batch(s, sl, body + fixed, len - fixed, &bounds, &rs);
	skv_sidelog_destroy(s, sl);
	st = skv_src_replay_status(err);
unlock:
	mutex_unlock(&node->lock);
	if (st == SKV_S_NO_MIGRATION)
		return skv_src_no_migration(c, h, foreign);
	if (st == SKV_S_BAD_REQUEST)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	return skv_reply(c, h, st, NULL, 0);
}

int skv_src_set_fault(struct skv_node *node, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	struct skv_mig_fault f = { .count = 1 };

	if (!a[STEADYKV_A_NODE_MIG_FAULT_MODE])
		return 0;
	f.mode = nla_get_u32(a[STEADYKV_A_NODE_MIG_FAULT_MODE]);
	if (a[STEADYKV_A_NODE_MIG_FAULT_OP])
		f.op = nla_get_u32(a[STEADYKV_A_NODE_MIG_FAULT_OP]);
	if (a[STEADYKV_A_NODE_MIG_FAULT_STATUS])
		f.status = nla_get_u32(a[STEADYKV_A_NODE_MIG_FAULT_STATUS]);
	if (a[STEADYKV_A_NODE_MIG_FAULT_COUNT])
		f.count = nla_get_u32(a[STEADYKV_A_NODE_MIG_FAULT_COUNT]);
	if (f.mode > STEADYKV_MIG_FAULT_MODE_REFUSE ||
	    (f.mode && (f.op < SKV_OP_MIG_PREPARE || f.op >= SKV_OP_MAX)) ||
	    (f.mode == STEADYKV_MIG_FAULT_MODE_REFUSE &&
	     (!f.status || f.status >= SKV_S_MAX))) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "mig-fault: unknown mode, or an opcode or status out of range");
		return -EINVAL;
	}
	if (!f.mode)
		f.count = 0;
	spin_lock(&node->mig_out_lock);
	node->mig_fault = f;
	spin_unlock(&node->mig_out_lock);
	return 0;
}

/* The fault knob's mode for this request (0: none); counts it down. */
static u32 skv_src_fault(struct skv_node *node, u8 op, u8 *status)
{
	struct skv_mig_fault *f = &node->mig_fault;
	u32 mode = 0;

	spin_lock(&node->mig_out_lock);
	if (f->count && f->op == op) {
		mode = f->mode;
		*status = f->status;
		if (!--f->count)
			f->mode = 0;
	}
	spin_unlock(&node->mig_out_lock);
	if (mode)
		pr_info("steadykv: mig-fault: opcode %u, mode %u\n", op, mode);
	return mode;
}

static int skv_src_dispatch(struct skv_conn *c, const struct skv_hdr *h,
			    struct skv_store *s, const u8 *body, u32 len)
{
	switch (h->opcode) {
	case SKV_OP_MIG_PREPARE:
		return skv_src_prepare(c, h, s, body, len);
	case SKV_OP_MIG_PULL:
		return skv_src_pull(c, h, s, body, len);
	case SKV_OP_MIG_PRIORITY_PULL:
		return skv_src_priority_pull(c, h, s, body, len);
	case SKV_OP_MIG_END:
		return skv_src_end(c, h, s, body, len);
	case SKV_OP_MIG_PUSH_BACK:
		return skv_src_push_back(c, h, s, body, len);
	case SKV_OP_MIG_STATUS:
		return skv_src_status(c, h, body, len);
	default:
		return skv_reply(c, h, SKV_S_UNKNOWN_OP, NULL, 0);
	}
}

int skv_src_handle(struct skv_conn *c, const struct skv_hdr *h,
			  const u8 *body, u32 len)
{
	struct skv_store *s = skv_node_store(c->node);
	u8 status = 0;
	u32 olen;
	int err;

	/*
	 * The source is the loaded node (that is why its data moves), so
	 * bulk pulls must not take CPU from its clients: a thread serving
	 * them runs at nice 10 from then on (the connection serves the
	 * target only).  Rocksteady runs pulls at a lower priority than
	 * client requests for the same reason.  Priority pulls are a
	 * client's read in disguise: their connection keeps its priority.
	 */
	if (h->opcode == SKV_OP_MIG_PULL)
		skv_conn_yield_to_clients(c);
	if (!s)
		return skv_reply(c, h, SKV_S_UNKNOWN_TABLE, NULL, 0);
	switch (skv_src_fault(c->node, h->opcode, &status)) {
	case STEADYKV_MIG_FAULT_MODE_DROP_REQUEST:
		return -ECONNRESET;
	case STEADYKV_MIG_FAULT_MODE_REFUSE:
		return skv_reply(c, h, status, NULL, 0);
	case STEADYKV_MIG_FAULT_MODE_DROP_REPLY:
		/* The op runs; its reply is taken back, the connection closes. */
		olen = c->olen;
		err = skv_src_dispatch(c, h, s, body, len);
		skv_out_cut(c, olen);
		return err ?: -ECONNRESET;
	default:
		return skv_src_dispatch(c, h, s, body, len);
	}
}
