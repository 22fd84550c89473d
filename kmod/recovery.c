// SPDX-License-Identifier: GPL-2.0
/* steadykv crash recovery: a tablet rebuilt from a replica (recovery.h). */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/ktime.h>
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <net/genetlink.h>

#include "node.h"
#include "netlink.h"
#include "nl-gen.h"
#include "record.h"
#include "repl_backup.h"
#include "repl_primary.h"
#include "recovery.h"
#include "mig_source.h"
#include "mig_target.h"
#include "core/log.h"
#include "core/replay.h"
#include "core/departure.h"

/* Tablets looked at per skv_tablets_list() call. */
#define SKV_RECOVER_LIST_CHUNK	8

/* A rebuild under way without node->lock, on node->recoveries. */
struct skv_recovering {
	struct list_head list;
	u64 table_id, start_hash, end_hash;
};

bool skv_recovering(struct skv_node *node, u64 table_id, u64 start_hash,
		    u64 end_hash)
{
	struct skv_recovering *r;

	lockdep_assert_held(&node->lock);
	list_for_each_entry(r, &node->recoveries, list)
		if (r->table_id == table_id && r->start_hash <= end_hash &&
		    start_hash <= r->end_hash)
			return true;
	return false;
}

/*
 * The state of the tablet of t->table_id that overlaps t's range: -ENOENT
 * if none, -EEXIST if one does without being exactly t's range.
 */
static int skv_recover_tablet_state(struct skv_store *s,
				    const struct skv_tablet_info *t)
{
	struct skv_tablet_info got[SKV_RECOVER_LIST_CHUNK];
	u32 pos = 0;
	int n, i;

	while ((n = skv_tablets_list(s, pos, got, ARRAY_SIZE(got))) > 0) {
		for (i = 0; i < n; i++) {
			if (got[i].table_id != t->table_id ||
			    got[i].end_hash < t->start_hash ||
			    got[i].start_hash > t->end_hash)
				continue;
			if (got[i].start_hash != t->start_hash ||
			    got[i].end_hash != t->end_hash)
				return -EEXIST;
			return got[i].state;
		}
		pos += n;
	}
	return -ENOENT;
}

/*
 * Note the departures (SKV_REC_DEPARTURE) of t's range in the replica
 * chunk buf[0..len), which starts at stream position at.
 */
static int skv_recover_departures(const u8 *buf, u32 len, u64 at,
				  struct skv_departures *d)
{
	struct skv_rec_view v;
	u64 start, end;
	u32 off;
	int err;

	for (off = 0; off < len; off += v.len) {
		err = skv_rec_parse(buf + off, len - off, SKV_PARSE_STREAM, &v);
		if (err)
			return err;
		if (v.type != SKV_REC_DEPARTURE)
			continue;
		skv_rec_departure_range(&v, &start, &end);
		err = skv_departures_add(d, v.table_id, start, end,
					 at + off + v.len);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Move the records of the replica chunk buf[0..len), which starts at
 * stream position at, that lie in t and are not older than a departure
 * of their range (d) to the front of buf; returns their bytes.  Counts
 * every record into st and raises *top to the newest version seen in
 * any of them.
 */
static int skv_recover_filter(u8 *buf, u32 len, u64 at,
			      const struct skv_tablet_info *t,
			      const struct skv_departures *d,
			      struct skv_recover_stats *st, u64 *top, u32 *kept)
{
	struct skv_rec_view v;
	u32 off;
	int err;

	*kept = 0;
	for (off = 0; off < len; off += v.len) {
		err = skv_rec_parse(buf + off, len - off, SKV_PARSE_STREAM, &v);
		if (err)
			return err;
		st->records++;
		*top = max(*top, v.version);
		if (v.type == SKV_REC_DEPARTURE ||
		    v.table_id != t->table_id || v.key_hash < t->start_hash ||
		    v.key_hash > t->end_hash ||
		    skv_departed(d, at + off, v.key_hash))
			continue;
		if (*kept != off)
			memmove(buf + *kept, buf + off, v.len);
		*kept += v.len;
	}
	return 0;
}

/*
 * Read the replica of primary_id through, chunk by chunk: pass 0 notes
 * the departures of t's range into d, pass 1 replays the records of t
 * that none of them left behind into sl.  *fenced: a time (jiffies)
 * after the first read fenced the replica at epoch.
 */
static int skv_recover_pass(struct skv_node *node, struct skv_store *s,
			    struct skv_sidelog *sl, u64 primary_id, u64 epoch,
			    const struct skv_tablet_info *t, int pass,
			    struct skv_departures *d, u8 *buf,
			    struct skv_recover_stats *st, u64 *top,
			    unsigned long *fenced,
			    struct netlink_ext_ack *extack)
{
	struct skv_replay_stats rs;
	u64 pos = U64_MAX;
	u32 kept;
	long got;
	int err;

	for (;;) {
		bool first = pos == U64_MAX;

		got = skv_replica_copy(node, primary_id, epoch, &pos, buf,
				       SKV_RECOVER_CHUNK);
		if (first && !pass)
			*fenced = jiffies;
		if (got <= 0)
			return got;
		if (!pass) {
			err = skv_recover_departures(buf, got, pos - got, d);
			if (err == -ENOMEM || err == -ENOSPC) {
				NL_SET_ERR_MSG_FMT_MOD(extack,
						       "no room for the range's departures in the replica (%d)",
						       err);
				return err;
			}
		} else {
			st->bytes += got;
			err = skv_recover_filter(buf, got, pos - got, t, d, st,
						 top, &kept);
		}
		if (err) {
			NL_SET_ERR_MSG_FMT_MOD(extack,
					       "a malformed record in the replica at %llu (%d)",
					       pos - got, err);
			return err;
		}
		if (pass && kept) {
			err = skv_replay_records(s, sl, buf, kept, &rs);
			st->applied += rs.applied;
			if (err) {
				NL_SET_ERR_MSG_FMT_MOD(extack,
						       "cannot replay the replica (%d)",
						       err);
				return err;
			}
		}
		cond_resched();
	}
}

/* Replay the replica of primary_id into sl (skv_recover_pass()). */
static int skv_recover_replay(struct skv_node *node, struct skv_store *s,
			      struct skv_sidelog *sl, u64 primary_id,
			      u64 epoch, const struct skv_tablet_info *t,
			      struct skv_recover_stats *st,
			      unsigned long *fenced,
			      struct netlink_ext_ack *extack)
{
	struct skv_departures d;
	u64 top = 0;
	int pass, err = 0;
	u8 *buf;

	/* A chunk, or one largest record if that is more. */
	buf = kvmalloc(max_t(u32, SKV_RECOVER_CHUNK, SKV_REC_MAX_LEN),
		       GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	skv_departures_init(&d, t->table_id, t->start_hash, t->end_hash);
	for (pass = 0; pass < 2 && !err; pass++)
		err = skv_recover_pass(node, s, sl, primary_id, epoch, t, pass,
				       &d, buf, st, &top, fenced, extack);
	skv_departures_destroy(&d);
	kvfree(buf);
	switch (err) {
	case 0:
		break;
	case -ENOENT:
		NL_SET_ERR_MSG_MOD(extack, "no replica of this primary here");
		return err;
	case -ESTALE:
		NL_SET_ERR_MSG_MOD(extack,
				   "the epoch is older than the replica's fence");
		return err;
	case -ENODATA:
		NL_SET_ERR_MSG_MOD(extack,
				   "the primary never opened its replica here");
		return err;
	case -EAGAIN:
		NL_SET_ERR_MSG_MOD(extack,
				   "the replica here is not whole: the primary's re-replication of its older records to it had not ended");
		return err;
	default:
		return err;
	}
	/* Past every version the primary handed out that we have seen. */
	err = skv_store_raise_version(s, top);
	if (err)
		NL_SET_ERR_MSG_MOD(extack, "a version in the replica is past the limit");
	return err;
}

/*
 * The primary, if only cut off, answers its clients until its lease ends
 * (repl_primary.h), at most SKV_REPL_LEASE_MS after the replica here was
 * fenced: what was rebuilt from it is served only after that.
 */
static u64 skv_recover_wait_lease(unsigned long fenced)
{
	unsigned long until = fenced +
		msecs_to_jiffies(SKV_REPL_LEASE_MS + SKV_REPL_LEASE_MARGIN_MS);
	u64 t0 = ktime_get_ns();

	while (time_before(jiffies, until))
		schedule_timeout_idle(until - jiffies);
	return ktime_get_ns() - t0;
}

/*
 * Replay primary_id's replica of rt's range into the tablet here (newer
 * versions win, tombstones shadow), through a side log no replication
 * stream carries, then hand the range to this node's backups, so that
 * it is back to R copies before it is served, and wait out the dead
 * primary's lease.  The tablet is not served meanwhile.  On error what
 * was replayed stays (every step may be repeated).
 *
 * Called with node->lock held; drops it for the replay and the hand-over,
 * which take as long as the data and the backups do: every control call
 * of the node daemon takes node->lock, and a daemon stuck behind a long
 * recovery stops its heartbeats and has the node declared dead (seen in
 * the lab: both survivors of a crash, one after the other).  Nothing else
 * takes the range meanwhile: the tablet is RECOVERING, or frozen by its
 * migration (MIGRATING_OUT, or RECOVERING at a target whose source
 * died), which migrations refuse, and the range is on node->recoveries,
 * so that a tablet or table delete refuses it (skv_recovering()).  The
 * node and its store outlive the request without the lock: the
 * requesting socket holds the namespace, and module unload waits for
 * netlink requests.
 */
static int skv_recover_rebuild(struct skv_node *node, struct skv_store *s,
			       u64 primary_id, u64 epoch,
			       const struct skv_tablet_info *rt,
			       struct skv_recover_stats *st,
			       struct netlink_ext_ack *extack)
{
	struct skv_recovering busy = {
		.table_id = rt->table_id,
		.start_hash = rt->start_hash,
		.end_hash = rt->end_hash,
	};
	unsigned long fenced = jiffies;
	struct skv_sidelog *sl;
	u64 held;
	int err;

	err = skv_sidelog_create(s, &sl);
	if (err) {
		NL_SET_ERR_MSG_MOD(extack, "no memory for a side log");
		return err;
	}
	list_add(&busy.list, &node->recoveries);
	mutex_unlock(&node->lock);
	err = skv_recover_replay(node, s, sl, primary_id, epoch, rt, st,
				 &fenced, extack);
	/* Spliced into the log either way: what was replayed stays. */
	skv_sidelog_destroy(s, sl);
	if (!err) {
		err = skv_repl_hold_range(node, s, SKV_REPL_AT_ONCE,
					  rt->table_id, rt->start_hash,
					  rt->end_hash, &held);
		if (err)
			NL_SET_ERR_MSG_FMT_MOD(extack,
					       "the backups did not take the rebuilt range (%d)",
					       err);
	}
	if (!err)
		st->lease_ns = skv_recover_wait_lease(fenced);
	mutex_lock(&node->lock);
	list_del(&busy.list);
	return err;
}

/*
 * Lineage: the range is here already, with part of its records, held by
 * a migration whose other side (primary_id) died after ownership moved.
 * Replay primary_id's replica over what is here (newer versions win,
 * tombstones shadow), hand the range to this node's backups, then serve
 * it here:
 *   - at the source (at_source, migration mig_id): the target died; the
 *     copy is frozen (MIGRATING_OUT, no END came): the migration ends as
 *     aborted;
 *   - at the target: the source died mid-pull; its migration here has
 *     ended without END (skv_tgt_source_lost()): the tablet goes NORMAL,
 *     which resolves every key.
 * A failure leaves the tablet as it was, with what was replayed (every
 * step may be repeated).
 */
static int skv_recover_over_copy(struct skv_node *node, struct skv_store *s,
				 bool at_source, u64 mig_id, u64 primary_id,
				 u64 epoch, struct skv_tablet_info *rt,
				 struct skv_recover_stats *st,
				 struct netlink_ext_ack *extack)
{
	u64 t0 = ktime_get_ns();
	int err;

	err = skv_recover_rebuild(node, s, primary_id, epoch, rt, st, extack);
	if (err)
		return err;
	if (at_source)
		err = skv_src_end_recovered(node, mig_id);
	else
		err = skv_tablet_set_state(s, rt->table_id, rt->start_hash,
					   rt->end_hash, SKV_TABLET_NORMAL);
	if (err) {
		NL_SET_ERR_MSG_FMT_MOD(extack,
				       "cannot serve the range again (%d)", err);
		return err;
	}
	rt->state = SKV_TABLET_NORMAL;
	skv_nl_notify_tablet(node, rt, true, STEADYKV_CMD_TABLET_SET);
	st->ns = ktime_get_ns() - t0 - st->lease_ns;
	if (at_source)
		pr_info("steadykv: migration %llu: its target (node %llu) died; range rebuilt over the copy here, %llu records replayed\n",
			mig_id, primary_id, st->applied);
	else
		pr_info("steadykv: the source (node %llu) of the migration here died; range completed from its replica, %llu records replayed\n",
			primary_id, st->applied);
	return 0;
}

int skv_recover_tablet(struct skv_node *node, u64 primary_id, u64 epoch,
		       const struct skv_tablet_info *t,
		       struct skv_recover_stats *st,
		       struct netlink_ext_ack *extack)
{
	struct skv_tablet_info rt = *t;
	u64 t0 = ktime_get_ns();
	bool new_table = false;
	struct skv_store *s;
	u64 mig_id;
	int err;

	lockdep_assert_held(&node->lock);
	memset(st, 0, sizeof(*st));
	if (READ_ONCE(node->dying))
		return -ESHUTDOWN;
	if (skv_recovering(node, t->table_id, t->start_hash, t->end_hash)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "a recovery of this range is under way here");
		return -EBUSY;
	}
	err = skv_node_store_get(node, extack, &s);
	if (err)
		return err;
	rt.state = SKV_TABLET_RECOVERING;
	err = skv_table_add(s, rt.table_id);
	if (!err) {
		new_table = true;
		skv_nl_notify_table(node, rt.table_id, STEADYKV_CMD_TABLE_ADD);
	} else if (err != -EEXIST) {
		NL_SET_ERR_MSG_FMT_MOD(extack, "cannot add the table (%d)", err);
		return err;
	}
	err = skv_recover_tablet_state(s, &rt);
	if (err == SKV_TABLET_NORMAL)
		return 0;	/* recovered already: a repeated command */
	if (err == SKV_TABLET_MIGRATING_OUT &&
	    !skv_src_frozen_id(node, rt.table_id, rt.start_hash, rt.end_hash,
			       &mig_id))
		return skv_recover_over_copy(node, s, true, mig_id, primary_id,
					     epoch, &rt, st, extack);
	if (err >= 0) {
		/* A migration here from primary_id, which died mid-pull? */
		err = skv_tgt_source_lost(node, rt.table_id, rt.start_hash,
					  rt.end_hash);
		if (!err)
			return skv_recover_over_copy(node, s, false, 0,
						     primary_id, epoch, &rt,
						     st, extack);
		if (err == -EAGAIN) {
			NL_SET_ERR_MSG_MOD(extack,
					   "the migration bringing the range here is stopping: try again");
			return err;
		}
		err = -EEXIST;
	}
	if (err != -ENOENT) {
		NL_SET_ERR_MSG_MOD(extack,
				   "the range overlaps a tablet of the table here");
		return -EEXIST;
	}
	err = skv_tablet_add(s, &rt);
	if (err) {
		NL_SET_ERR_MSG_FMT_MOD(extack, "cannot add the tablet (%d)",
				       err);
		goto out_table;
	}
	skv_nl_notify_tablet(node, &rt, true, STEADYKV_CMD_TABLET_ADD);
	err = skv_recover_rebuild(node, s, primary_id, epoch, &rt, st, extack);
	if (err)
		goto out_tablet;
	rt.state = SKV_TABLET_NORMAL;
	err = skv_tablet_set_state(s, rt.table_id, rt.start_hash, rt.end_hash,
				   SKV_TABLET_NORMAL);
	if (err) {
		NL_SET_ERR_MSG_FMT_MOD(extack, "cannot serve the tablet (%d)",
				       err);
		goto out_tablet;
	}
	skv_nl_notify_tablet(node, &rt, true, STEADYKV_CMD_TABLET_SET);
	st->ns = ktime_get_ns() - t0 - st->lease_ns;
	return 0;

out_tablet:
	if (!skv_repl_tablet_del(node, s, rt.table_id, rt.start_hash,
				 rt.end_hash))
		skv_nl_notify_tablet(node, &rt, false, STEADYKV_CMD_TABLET_DEL);
out_table:
	if (new_table && !skv_repl_table_del(node, s, rt.table_id))
		skv_nl_notify_table(node, rt.table_id, STEADYKV_CMD_TABLE_DEL);
	return err;
}

int steadykv_nl_repl_recover_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct skv_node *node = skv_node(genl_info_net(info));
	struct skv_recover_stats st;
	struct skv_tablet_info t = {};
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (SKV_NL_REQUIRE(info, STEADYKV_A_REPL_PRIMARY_ID,
			   "primary-id is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_REPL_EPOCH, "epoch is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_REPL_RECOVER_TABLE_ID,
			   "recover-table-id is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_REPL_RECOVER_START_HASH,
			   "recover-start-hash is required") ||
	    SKV_NL_REQUIRE(info, STEADYKV_A_REPL_RECOVER_END_HASH,
			   "recover-end-hash is required"))
		return -EINVAL;
	t.table_id = nla_get_u64(info->attrs[STEADYKV_A_REPL_RECOVER_TABLE_ID]);
	t.start_hash =
		nla_get_u64(info->attrs[STEADYKV_A_REPL_RECOVER_START_HASH]);
	t.end_hash = nla_get_u64(info->attrs[STEADYKV_A_REPL_RECOVER_END_HASH]);
	if (t.start_hash > t.end_hash) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[STEADYKV_A_REPL_RECOVER_START_HASH],
				    "start-hash is past end-hash");
		return -EINVAL;
	}
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	mutex_lock(&node->lock);
	err = skv_recover_tablet(node,
			nla_get_u64(info->attrs[STEADYKV_A_REPL_PRIMARY_ID]),
			nla_get_u64(info->attrs[STEADYKV_A_REPL_EPOCH]), &t,
			&st, info->extack);
	mutex_unlock(&node->lock);
	if (err)
		goto fail;
	hdr = genlmsg_put_reply(msg, info, &steadykv_nl_family, 0,
				STEADYKV_CMD_REPL_RECOVER);
	err = -EMSGSIZE;
	if (!hdr ||
	    skv_nl_put_u64(msg, STEADYKV_A_REPL_RECOVER_RECORDS, st.records) ||
	    skv_nl_put_u64(msg, STEADYKV_A_REPL_RECOVER_APPLIED, st.applied) ||
	    skv_nl_put_u64(msg, STEADYKV_A_REPL_RECOVER_BYTES, st.bytes) ||
	    skv_nl_put_u64(msg, STEADYKV_A_REPL_RECOVER_NS, st.ns))
		goto fail;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
fail:
	nlmsg_free(msg);
	return err;
}
