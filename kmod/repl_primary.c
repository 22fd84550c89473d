// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv replication, the primary side (see repl_primary.h).
 *
 * Lifetime: node->repl is published with RCU; a connection takes a
 * reference (kref) under RCU while it has a write admitted or waiting.
 * repl-set and the namespace exit unpublish it, wait for a grace period
 * (no new reference), stop it (senders end, waiters are woken and fail)
 * and drop the node's reference; the last one frees it.
 *
 * r->lock (mutex) guards the queue, the reservations and every backup's
 * acked/ok; acked_all (the position every backup holds) is also read
 * without it by waiters.  r->pending_lock (a spinlock: readers test the
 * list inside a wait condition) guards the pending list and head_floor.
 *
 * Reads see only held writes.  A write is applied to the store before
 * its record is queued, and acknowledged only once its backups hold it;
 * a read on another connection in between must not answer with it (the
 * node may die, and recovery from its backups bring back the older
 * version: a vanished write, seen in the lab).  Each admitted write is on
 * r->pending, in admission order, with the store's version at its
 * admission (its floor: the version it gets is above it), until its
 * connection settles.  A read that found version v waits, before its
 * reply is sent, until every pending write with a floor below v is held
 * (skv_repl_seen_held()); writes admitted later get versions above v and
 * cannot be the one it saw.  Floors grow along the list, so the head's
 * (head_floor, read without a lock) answers at once for keys no pending
 * write can have touched.
 *
 * A write given up before its backups held it (its wait timed out, its
 * connection closed, its record found no memory) stays applied: it goes
 * off the list into the limbo, the lowest such floor and the position
 * that holds them all.  Reads of anything newer than that floor wait
 * until the backups catch up to the position (a lagging backup resends
 * from acked_all), so no read returns a write the node's backups may not
 * have.  One whose record found no memory is in no queue: it asks for a
 * copy of the store (below), and the limbo is held once a copy begun
 * after it is (limbo_copy).
 *
 * A new set of backups (repl-set) is a new stream that goes on from the
 * old one: the old one is sealed (no more writes; those it admitted
 * commit), the new one starts with the old queue's records (those not
 * yet held by every old backup, at the same positions), and the old
 * one's pending and given-up writes become its limbo (one with no record
 * asks the new stream for a copy).  A backup of both resumes where its
 * replica ends, and no unheld write turns readable.
 *
 * Re-replication.  A backup whose replica starts after records this node
 * wrote earlier (a new one, or one that lost its replica) lacks those the
 * other backups hold.  The stream's resync thread then copies the whole
 * store into the stream (skv_repl_resync()): from the position it starts
 * at (whole_from), every tablet in hash order, one scan chunk at a time
 * like a migration's hand-over (skv_repl_hold_range()), behind client
 * writes (SKV_REPL_BEHIND_WRITES), one chunk in flight.  Every record live
 * here is then in the stream from whole_from on: written before it, it was
 * copied; after it, it is a client write there.  Once every backup holds
 * the last chunk (whole_to) and all of them hold whole_from, the mark is
 * set and sent with the next WRITE, and a replica holding [whole_from,
 * whole_to) is whole: only such a replica is used for recovery
 * (repl_backup.h).  A new stream inherits its predecessor's mark
 * (positions go on) and copies again only if a backup's replica begins
 * after it.  A backup that held the old records gets them twice: the
 * cost of one stream for all backups.
 *
 * Leases.  A node declared dead may only be cut off, and its clients
 * with an older map still reach it: its writes are fenced (its backups
 * refuse its epoch), but a read it answered after another node had
 * rebuilt and written its tablet would be stale.  So each backup's sender
 * notes when it sent the last op the backup acknowledged (renewed: an
 * OPEN or a WRITE, empty if nothing else is due every quarter lease),
 * and the node answers client requests only while that is less than
 * SKV_REPL_LEASE_MS ago for every backup (skv_repl_leased()).  A backup
 * fenced acknowledges nothing more, so the lease ends at most
 * SKV_REPL_LEASE_MS after its fence, which recovery waits out
 * (recovery.c).  The cost: a backup lost stops reads here, as it stops
 * writes, until it is back or the coordinator gives other backups.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/kref.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/wait.h>
#include <linux/rcupdate.h>
#include <net/sock.h>
#include <net/genetlink.h>

#include "node.h"
#include "faults.h"
#include "conn.h"
#include "peer.h"
#include "reply.h"
#include "netlink.h"
#include "repl_primary.h"
#include "record.h"
#include "core/replica.h"
#include "core/scan.h"

/* Records queued but not yet held by every backup, at most. */
#define SKV_REPL_QUEUE_MAX	(8u << 20)
/* Records per REPL_WRITE, at most (one largest record always fits). */
#define SKV_REPL_BATCH_MAX	(SKV_MAX_BODY_LEN - \
				 (u32)sizeof(struct skv_repl_write_req))
/* A sender's pause after a failed connect or open. */
#define SKV_REPL_BACKOFF	(HZ / 10)
/* The resync thread's pause after a chunk its backups did not take. */
#define SKV_REPL_RESYNC_BACKOFF	(HZ / 2)
/* Departures kept for the writes that straddle one (struct skv_repl). */
#define SKV_REPL_DEPART_RING	16
/* A scan chunk: one group of the largest record always fits. */
#define SKV_REPL_SCAN_BUF	(sizeof(struct skv_batch_hdr) + SKV_REC_MAX_LEN)
/*
 * A copy behind client writes (SKV_REPL_BEHIND_WRITES) goes in chunks of
 * this much (a larger first group goes alone), each appended once the
 * writes queued ahead of it are under a chunk, or after
 * SKV_REPL_YIELD_MAX of waiting for that: a steady write load slows the
 * copy but does not stall it, and a write waits behind one chunk at most.
 */
#define SKV_REPL_COPY_CHUNK	(64u << 10)
#define SKV_REPL_YIELD_MAX	(HZ / 50)
/* Tablets looked at per skv_tablets_list() call. */
#define SKV_REPL_LIST_CHUNK	8
/* Writes one connection batch can hold: one reply each, or more. */
#define SKV_REPL_CONN_WRITES	(SKV_OBUF_BATCH / \
				 (SKV_HDR_LEN + sizeof(struct skv_ver_reply)) + 1)

static_assert(SKV_REC_MAX_LEN <= SKV_REPL_BATCH_MAX);

struct skv_repl;

struct skv_repl_backup {
	struct skv_repl *r;
	struct skv_repl_addr addr;
	struct skv_peer peer;
	struct task_struct *task;
	bool created;		/* opened with SKV_REPL_F_CREATE */
	bool continues;		/* it backed up the stream before this one */
	bool opened;		/* on this connection */
	u64 sent;		/* sender's: the backup holds up to here */
	/* Sender's, read by skv_repl_leased(): see "Leases" (jiffies). */
	unsigned long renewed;
	u8 *sbuf;		/* sender's: the batch in flight */
	/* Under r->lock. */
	u64 acked;
	bool ok;		/* opened and caught up since its last failure */
	bool fatal;		/* it refused us (fenced, full): until repl-set */
	u64 base;		/* where its replica starts (OPEN's reply) */
	/* Sender's: the whole mark of the batch in flight, and the last sent. */
	u64 mark_from, mark_to, mark_sent;
};

struct skv_repl {
	struct kref ref;
	struct skv_node *node;
	u64 primary_id;
	u64 epoch;
	u32 nbackups;
	struct mutex lock;
	struct skv_rstream q;	/* records from the slowest backup's position */
	u32 reserved;		/* admitted, not yet committed */
	u8 *scratch;		/* a record that would cross a chunk of q */
	atomic64_t acked_all;
	bool stopping;
	wait_queue_head_t send_wq;	/* senders: records queued, stop */
	wait_queue_head_t ack_wq;	/* writers: acked_all moved, a backup failed */
	atomic64_t refused;
	spinlock_t pending_lock;
	struct list_head pending;	/* admitted writes, oldest first */
	u64 head_floor;		/* min(first one's floor, limbo_floor) */
	u64 limbo_floor;	/* given-up writes' lowest; U64_MAX: none */
	u64 limbo_pos;		/* held once acked_all >= it; U64_MAX: never */
	bool limbo_copy;	/* and a copy of the store begun after it is */
	u64 uncopied;		/* writes given up with no record, a count */
	/* Re-replication of the store (see the top); under lock. */
	struct task_struct *resync_task;
	wait_queue_head_t resync_wq;
	bool resync_wanted;
	bool resyncing;
	u64 whole_from, whole_to;	/* the mark; U64_MAX: none */
	atomic64_t resync_bytes;
	/*
	 * Departures queued (skv_repl_tablet_del()), counted twice each: odd
	 * while one's range is being dropped.  A copy's chunk scanned across
	 * one is scanned again, and a client write applied before one and
	 * committed after it is not queued (its data went with the range),
	 * so that a departed range's records never follow its departure.
	 * The last few are kept for the writes.  Under lock.
	 */
	u64 departures;
	struct skv_repl_depart_entry {
		u64 seq;	/* departures when it was queued (odd) */
		u64 table_id, start_hash, end_hash;
	} depart_ring[SKV_REPL_DEPART_RING];
	struct skv_repl_backup b[SKV_REPL_MAX_BACKUPS];
};

/* A write from its admission until its connection settles. */
struct skv_repl_write {
	struct list_head link;	/* on r->pending; empty when off it */
	u64 floor;		/* the store's version at its admission */
	u64 departures;		/* r->departures at its admission */
	bool queued;		/* its record is in r->q, ending at pos */
	u32 off;		/* its reply in c->obuf */
	u64 pos;		/* held by every backup once acked_all >= pos */
};

/* What a connection has admitted and what waits for its backups. */
struct skv_repl_conn {
	struct skv_repl *r;	/* referenced while res_len or n */
	u32 res_len;		/* the admitted write's record: w[n] */
	u32 n;
	bool failed;		/* a write applied but not queued: cut at fail_off */
	u32 fail_off;
	/* Reads of this batch that wait for writes (skv_repl_observe()). */
	struct skv_repl *read_r;	/* referenced while set */
	u64 read_v;		/* the newest version they saw */
	u32 read_off;		/* the first one's reply in c->obuf */
	/*
	 * Settling without sleeping (skv_repl_settle()): while the batch
	 * waits, an entry on the ack_wq of each stream it waits for queues
	 * the connection's work at every ack, and its timer at the deadline.
	 */
	struct skv_conn *c;
	bool settling;
	unsigned long deadline;	/* jiffies, while settling */
	struct wait_queue_entry wait_w, wait_r;	/* on r's, read_r's ack_wq */
	struct skv_repl *wait_w_on, *wait_r_on;	/* or NULL */
	struct skv_repl_write w[SKV_REPL_CONN_WRITES];
};

static void skv_repl_free(struct kref *ref)
{
	struct skv_repl *r = container_of(ref, struct skv_repl, ref);
	u32 i;

	for (i = 0; i < r->nbackups; i++)
		kvfree(r->b[i].sbuf);
	skv_rstream_destroy(&r->q);
	kvfree(r->scratch);
	mutex_destroy(&r->lock);
	kfree(r);
}

static void skv_repl_put(struct skv_repl *r)
{
	kref_put(&r->ref, skv_repl_free);
}

/* Does any backup stop writes from being taken?  Lockless. */
static bool skv_repl_broken(struct skv_repl *r)
{
	u32 i;

	if (READ_ONCE(r->stopping))
		return true;
	for (i = 0; i < r->nbackups; i++)
		if (!READ_ONCE(r->b[i].ok))
			return true;
	return false;
}

/* A backup's position moved: the slowest one's is acked_all.  Under lock. */
static void skv_repl_acked_locked(struct skv_repl *r)
{
	u64 min = U64_MAX;
	u32 i;

	for (i = 0; i < r->nbackups; i++)
		min = min(min, r->b[i].acked);
	if (min > (u64)atomic64_read(&r->acked_all)) {
		atomic64_set(&r->acked_all, min);
		skv_rstream_trim(&r->q, min);
	}
}

static void skv_repl_backup_down(struct skv_repl_backup *b, bool fatal)
{
	struct skv_repl *r = b->r;

	mutex_lock(&r->lock);
	WRITE_ONCE(b->ok, false);
	if (fatal)
		b->fatal = true;
	mutex_unlock(&r->lock);
	wake_up_all(&r->ack_wq);
}

static unsigned long skv_repl_lease(void)
{
	return msecs_to_jiffies(SKV_REPL_LEASE_MS);
}

/* An op sent at jiffies sent was acknowledged: the lease runs from then. */
static void skv_repl_renewed(struct skv_repl_backup *b, unsigned long sent)
{
	if (time_after(sent, b->renewed))
		WRITE_ONCE(b->renewed, sent);
}

/* A quarter of the lease since the last renewal: send an op, if empty. */
static bool skv_repl_renew_due(const struct skv_repl_backup *b)
{
	return time_after_eq(jiffies, b->renewed + skv_repl_lease() / 4);
}

bool skv_repl_leased(struct skv_node *node)
{
	unsigned long now = jiffies, lease = skv_repl_lease();
	struct skv_repl *r;
	bool ok = true;
	u32 i;

	rcu_read_lock();
	r = rcu_dereference(node->repl);
	for (i = 0; r && ok && i < r->nbackups; i++)
		ok = time_before(now, READ_ONCE(r->b[i].renewed) + lease);
	rcu_read_unlock();
	return ok;
}

/* Sleep up to timeo unless stopped; true if the thread should stop. */
static bool skv_repl_pause(struct skv_repl *r, long timeo)
{
	wait_event_interruptible_timeout(r->send_wq, kthread_should_stop(),
					 timeo);
	return kthread_should_stop();
}

/*
 * How long a write or a hold waits for the backups' acknowledgements.
 * Those waits are idle sleeps (TASK_IDLE): repl_timeout_ms may be set past
 * the hung-task bound, and a writer waiting on a slow backup is not hung.
 */
static long skv_repl_timeo(void)
{
	return max_t(long, 1L, msecs_to_jiffies(READ_ONCE(skv_repl_timeout_ms)));
}

/*
 * Does a record of the queue start at pos (or is it the queue's end)?
 * Walks the queue's own headers from @from, where one starts, so a
 * backup's word for where its replica ends is never taken as a place
 * to cut batches at.  Under r->lock.
 */
static bool skv_repl_boundary_locked(struct skv_repl *r, u64 from, u64 pos)
{
	struct skv_rec_hdr h;

	from = max(from, r->q.base);
	if (pos < from || pos > r->q.end)
		return false;
	while (from < pos) {
		skv_rstream_read(&r->q, from, &h, sizeof(h));
		from += skv_rec_len(le16_to_cpu(h.key_len),
				    le32_to_cpu(h.value_len));
	}
	return from == pos;
}

/*
 * Connect, authenticate and OPEN the replica: from the queue's start on
 * the first time (CREATE), else resume where the backup is; a backup of
 * the stream before this one (a changed set of backups) resumes too, so
 * that it keeps the primary's older records.  0, or a negative errno
 * (-EPERM: the backup refused us for good).
 */
static int skv_repl_open(struct skv_repl_backup *b)
{
	struct skv_repl *r = b->r;
	struct skv_repl_open_req req = {};
	struct skv_repl_pos_reply pr;
	u64 base = 0, end = 0, qbase, qend;
	long timeo = skv_repl_timeo();
	unsigned long sent_at;
	bool boundary;
	int ret;

	ret = skv_peer_connect(&b->peer);
	if (ret)
		return ret;
	/* A backup must answer within the time a write waits for it. */
	WRITE_ONCE(b->peer.sock->sk->sk_rcvtimeo, timeo);
	WRITE_ONCE(b->peer.sock->sk->sk_sndtimeo, timeo);
	mutex_lock(&r->lock);
	qbase = r->q.base;
	qend = r->q.end;
	mutex_unlock(&r->lock);
	req.primary_id = cpu_to_le64(r->primary_id);
	req.epoch = cpu_to_le64(r->epoch);
	req.start = cpu_to_le64(qbase);
	req.flags = cpu_to_le32(b->created || b->continues ? 0 :
				SKV_REPL_F_CREATE);
	sent_at = jiffies;
	ret = skv_peer_call(&b->peer, SKV_OP_REPL_OPEN, &req, sizeof(req),
			    NULL, 0, sizeof(pr));
	if (ret < 0)
		return ret;
	if (ret == SKV_S_OK && b->peer.len == sizeof(pr)) {
		memcpy(&pr, b->peer.buf, sizeof(pr));
		base = le64_to_cpu(pr.base);
		end = le64_to_cpu(pr.end);
	}
	/*
	 * A backup of the last stream keeps what it holds if it ends within
	 * this stream's queue (which starts with the last one's); else (it
	 * lost its replica) the replica starts again here, as for a new one.
	 */
	if (b->continues && !b->created &&
	    (ret != SKV_S_OK || b->peer.len != sizeof(pr) || end < qbase ||
	     end > qend)) {
		b->continues = false;
		skv_peer_close(&b->peer);
		return -EAGAIN;
	}
	if (ret != SKV_S_OK || b->peer.len != sizeof(pr)) {
		pr_warn_ratelimited("steadykv: backup %pISpc refused to open the replica of primary %llu (status %d)\n",
				    &b->peer.addr, r->primary_id, ret);
		skv_peer_close(&b->peer);
		return -EPERM;
	}
	/* It holds what it acknowledged, and nothing we did not send. */
	mutex_lock(&r->lock);
	boundary = skv_repl_boundary_locked(r, b->sent, end);
	mutex_unlock(&r->lock);
	if (end < b->sent || end > qend || base > qbase || !boundary) {
		pr_warn_ratelimited("steadykv: backup %pISpc holds [%llu, %llu) of primary %llu, we need from %llu\n",
				    &b->peer.addr, base, end, r->primary_id,
				    b->sent);
		skv_peer_close(&b->peer);
		return -EPERM;
	}
	b->created = true;
	b->opened = true;
	skv_repl_renewed(b, sent_at);
	b->sent = end;
	b->mark_sent = U64_MAX;
	mutex_lock(&r->lock);
	b->base = base;
	if (end > b->acked) {	/* it holds what it holds */
		b->acked = end;
		skv_repl_acked_locked(r);
	}
	/* It lacks records older than its replica: copy the store again. */
	if (r->whole_from != U64_MAX && base > r->whole_from)
		r->resync_wanted = true;
	mutex_unlock(&r->lock);
	wake_up_all(&r->ack_wq);
	wake_up_all(&r->resync_wq);
	return 0;
}

/*
 * Copy whole records from b->sent into b->sbuf, up to the batch bound:
 * their length, 0 if there is nothing to send.  Marks the backup ok when
 * it holds everything queued.  Under r->lock.
 */
static u32 skv_repl_batch_locked(struct skv_repl_backup *b)
{
	struct skv_repl *r = b->r;
	struct skv_rec_hdr h;
	u64 pos = b->sent;
	u32 len;

	if (b->acked == r->q.end && !b->fatal && !b->ok) {
		WRITE_ONCE(b->ok, true);
		wake_up_all(&r->ack_wq);
	}
	while (pos + SKV_REC_HDR_LEN <= r->q.end) {
		skv_rstream_read(&r->q, pos, &h, sizeof(h));
		len = skv_rec_len(le16_to_cpu(h.key_len),
				  le32_to_cpu(h.value_len));
		if (pos - b->sent + len > SKV_REPL_BATCH_MAX)
			break;
		pos += len;
	}
	len = pos - b->sent;
	if (len)
		skv_rstream_read(&r->q, b->sent, b->sbuf, len);
	b->mark_from = r->whole_from;
	b->mark_to = r->whole_to;
	return len;
}

/* Send one batch; 0, or a negative errno (-EPERM: refused for good). */
static int skv_repl_send(struct skv_repl_backup *b, u32 len)
{
	struct skv_repl *r = b->r;
	struct skv_repl_write_req req;
	struct skv_repl_pos_reply pr;
	unsigned long sent_at = jiffies;
	u64 end;
	int ret;

	req.primary_id = cpu_to_le64(r->primary_id);
	req.epoch = cpu_to_le64(r->epoch);
	req.offset = cpu_to_le64(b->sent);
	req.whole_from = cpu_to_le64(b->mark_from);
	req.whole_to = cpu_to_le64(b->mark_to);
	ret = skv_peer_call(&b->peer, SKV_OP_REPL_WRITE, &req, sizeof(req),
			    b->sbuf, len, sizeof(pr));
	if (ret < 0)
		return ret;
	if (ret != SKV_S_OK || b->peer.len != sizeof(pr)) {
		pr_warn_ratelimited("steadykv: backup %pISpc refused a write of primary %llu (status %d)\n",
				    &b->peer.addr, r->primary_id, ret);
		skv_peer_close(&b->peer);
		return ret == SKV_S_NOT_BACKUP || ret == SKV_S_BACKUP_FULL ||
		       ret == SKV_S_STALE_EPOCH ?
		       -EPERM : -EPROTO;
	}
	memcpy(&pr, b->peer.buf, sizeof(pr));
	end = le64_to_cpu(pr.end);
	if (end != b->sent + len) {
		skv_peer_close(&b->peer);
		return -EPROTO;
	}
	b->sent = end;
	b->mark_sent = b->mark_from;
	skv_repl_renewed(b, sent_at);
	mutex_lock(&r->lock);
	b->acked = end;
	skv_repl_acked_locked(r);
	mutex_unlock(&r->lock);
	wake_up_all(&r->ack_wq);
	return 0;
}

static bool skv_repl_has_work(struct skv_repl_backup *b)
{
	struct skv_repl *r = b->r;

	return kthread_should_stop() || READ_ONCE(r->q.end) != b->sent ||
	       !READ_ONCE(b->ok) || READ_ONCE(r->whole_from) != b->mark_sent ||
	       skv_repl_renew_due(b);
}

static int skv_repl_sender(void *arg)
{
	struct skv_repl_backup *b = arg;
	struct skv_repl *r = b->r;
	u32 len;
	int err;

	while (!kthread_should_stop()) {
		if (READ_ONCE(b->fatal)) {
			skv_repl_pause(r, MAX_SCHEDULE_TIMEOUT);
			continue;
		}
		if (!b->opened) {
			err = skv_repl_open(b);
			if (err) {
				skv_repl_backup_down(b, err == -EPERM);
				skv_repl_pause(r, SKV_REPL_BACKOFF);
				continue;
			}
		}
		mutex_lock(&r->lock);
		len = skv_repl_batch_locked(b);
		mutex_unlock(&r->lock);
		/* Nothing to send, not even a new whole mark or a renewal. */
		if (!len && b->mark_from == b->mark_sent &&
		    !skv_repl_renew_due(b)) {
			wait_event_interruptible_timeout(r->send_wq,
							 skv_repl_has_work(b),
							 skv_repl_lease() / 4);
			continue;
		}
		err = skv_repl_send(b, len);
		if (err) {
			b->opened = false;
			skv_repl_backup_down(b, err == -EPERM);
		}
	}
	return 0;
}

static void skv_repl_stop(struct skv_repl *r)
{
	u32 i;

	WRITE_ONCE(r->stopping, true);
	wake_up_all(&r->ack_wq);
	if (r->resync_task) {
		kthread_stop(r->resync_task);
		put_task_struct(r->resync_task);
	}
	for (i = 0; i < r->nbackups; i++)
		skv_peer_shutdown(&r->b[i].peer);
	for (i = 0; i < r->nbackups; i++) {
		if (r->b[i].task) {
			kthread_stop(r->b[i].task);
			put_task_struct(r->b[i].task);
		}
		skv_peer_destroy(&r->b[i].peer);
	}
	skv_repl_put(r);
}

/* Was addr a backup of old (the stream this one follows)?  */
static bool skv_repl_had_backup(const struct skv_repl *old, u64 primary_id,
				const struct skv_repl_addr *addr)
{
	u32 i;

	if (!old || old->primary_id != primary_id)
		return false;
	for (i = 0; i < old->nbackups; i++)
		if (!memcmp(&old->b[i].addr, addr, sizeof(*addr)))
			return true;
	return false;
}

/*
 * Stop r taking writes and wait until those it admitted have committed
 * (or failed), so that its queue holds the record of every write applied
 * under it: false if they did not within the write timeout.
 */
static bool skv_repl_seal(struct skv_repl *r)
{
	mutex_lock(&r->lock);
	WRITE_ONCE(r->stopping, true);
	mutex_unlock(&r->lock);
	wake_up_all(&r->ack_wq);
	return wait_event_idle_timeout(r->ack_wq, !READ_ONCE(r->reserved),
				       skv_repl_timeo());
}

/*
 * r, new, goes on from old, sealed (sealed: its admitted writes are all
 * queued): old's queue becomes the start of r's, at the same positions,
 * and every write old did not have held (pending or in its limbo) is in
 * r's limbo, held once r's backups hold that queue (never if old was not
 * sealed in time, or its limbo was never to be held) and, if one of them
 * has no record (limbo_copy), once a copy of the store by r is.
 */
static int skv_repl_inherit(struct skv_repl *r, struct skv_repl *old,
			    bool sealed)
{
	bool never;
	u64 pos, end;
	u32 i, k;
	int ret;

	mutex_lock(&old->lock);
	pos = old->q.base;
	end = old->q.end;
	skv_rstream_reset(&r->q, pos);
	atomic64_set(&r->acked_all, pos);
	for (i = 0; i < r->nbackups; i++) {
		r->b[i].sent = pos;
		r->b[i].acked = pos;
	}
	ret = skv_rstream_reserve(&r->q, end - pos);
	for (; !ret && pos < end; pos += k) {
		k = min_t(u64, end - pos, SKV_REC_MAX_LEN);
		skv_rstream_read(&old->q, pos, r->scratch, k);
		skv_rstream_append(&r->q, r->scratch, k);
	}
	r->whole_from = old->whole_from;
	r->whole_to = old->whole_to;
	mutex_unlock(&old->lock);
	if (ret)
		return ret;
	spin_lock(&old->pending_lock);
	r->limbo_floor = READ_ONCE(old->head_floor);
	/* Never held: old was not sealed in time, or its limbo never was. */
	never = !sealed || (old->limbo_floor != U64_MAX &&
			    old->limbo_pos == U64_MAX);
	r->limbo_pos = never ? U64_MAX : end;
	/* A write old has no record of is held by r's copy of the store. */
	r->limbo_copy = old->limbo_copy;
	r->uncopied = old->limbo_copy;
	r->head_floor = r->limbo_floor;
	spin_unlock(&old->pending_lock);
	return 0;
}

static int skv_repl_resyncer(void *arg);

static struct skv_repl *skv_repl_create(struct skv_node *node, u64 primary_id,
					u64 epoch,
					const struct skv_repl_addr *backups,
					u32 n, struct skv_repl *old,
					bool sealed, u64 start)
{
	struct skv_repl *r = kzalloc(sizeof(*r), GFP_KERNEL);
	struct task_struct *task;
	u32 i;

	if (!r)
		return ERR_PTR(-ENOMEM);
	kref_init(&r->ref);
	r->node = node;
	r->primary_id = primary_id;
	r->epoch = epoch;
	mutex_init(&r->lock);
	skv_rstream_init(&r->q, NULL, start);
	atomic64_set(&r->acked_all, start);
	init_waitqueue_head(&r->send_wq);
	init_waitqueue_head(&r->ack_wq);
	init_waitqueue_head(&r->resync_wq);
	r->whole_from = U64_MAX;
	spin_lock_init(&r->pending_lock);
	INIT_LIST_HEAD(&r->pending);
	r->head_floor = U64_MAX;
	r->limbo_floor = U64_MAX;
	r->scratch = kvmalloc(SKV_REC_MAX_LEN, GFP_KERNEL);
	if (!r->scratch)
		goto err;
	for (i = 0; i < n; i++) {
		struct skv_repl_backup *b = &r->b[i];

		b->r = r;
		b->addr = backups[i];
		b->continues = skv_repl_had_backup(old, primary_id, &backups[i]);
		b->sent = start;
		b->acked = start;
		/* No lease until it acknowledges an op. */
		b->renewed = jiffies - skv_repl_lease() - 1;
		skv_peer_init(&b->peer, node->net, b->addr.addr,
			      b->addr.addr_len, b->addr.port);
		r->nbackups++;
		b->sbuf = kvmalloc(SKV_REPL_BATCH_MAX, GFP_KERNEL);
		if (!b->sbuf)
			goto err;
	}
	/* Before the senders open the backups: they resume within it. */
	if (old && skv_repl_inherit(r, old, sealed))
		goto err;
	/* No mark to go on from, a backup that did not hold it, or a write
	 * with no record in the limbo.
	 */
	r->resync_wanted = r->whole_from == U64_MAX || r->limbo_copy;
	for (i = 0; i < n; i++)
		if (!r->b[i].continues)
			r->resync_wanted = true;
	task = kthread_run(skv_repl_resyncer, r, "skv-resync");
	if (IS_ERR(task))
		goto err;
	r->resync_task = get_task_struct(task);
	for (i = 0; i < n; i++) {
		task = kthread_run(skv_repl_sender, &r->b[i], "skv-repl/%u", i);
		if (IS_ERR(task))
			goto err;
		r->b[i].task = get_task_struct(task);
	}
	return r;
err:
	skv_repl_stop(r);
	return ERR_PTR(-ENOMEM);
}

void skv_repl_node_init(struct skv_node *node)
{
	RCU_INIT_POINTER(node->repl, NULL);
}

static bool skv_repl_same(const struct skv_repl *r, u64 primary_id, u64 epoch,
			  const struct skv_repl_addr *backups, u32 n)
{
	u32 i;

	if (!r)
		return !n;
	if (r->primary_id != primary_id || r->epoch != epoch ||
	    r->nbackups != n)
		return false;
	for (i = 0; i < n; i++)
		if (memcmp(&r->b[i].addr, &backups[i], sizeof(backups[i])))
			return false;
	return true;
}

int skv_repl_set(struct skv_node *node, u64 primary_id, u64 epoch,
		 const struct skv_repl_addr *backups, u32 n)
{
	struct skv_repl *old, *r = NULL;
	bool sealed = false;

	lockdep_assert_held(&node->lock);
	old = rcu_dereference_protected(node->repl,
					lockdep_is_held(&node->lock));
	if (skv_repl_same(old, primary_id, epoch, backups, n))
		return 0;
	if (old)
		sealed = skv_repl_seal(old);
	if (n) {
		/* Positions go on from the old stream's (see the top). */
		r = skv_repl_create(node, primary_id, epoch, backups, n,
				    old && old->primary_id == primary_id ?
				    old : NULL, sealed,
				    old ? READ_ONCE(old->q.end) :
					  node->repl_pos);
		if (IS_ERR(r)) {
			if (old)	/* it goes on */
				WRITE_ONCE(old->stopping, false);
			return PTR_ERR(r);
		}
	}
	rcu_assign_pointer(node->repl, r);
	if (old) {
		synchronize_rcu();
		node->repl_pos = READ_ONCE(old->q.end);
		skv_repl_stop(old);
	}
	return 0;
}

void skv_repl_node_exit(struct skv_node *node)
{
	mutex_lock(&node->lock);
	skv_repl_set(node, 0, 0, NULL, 0);
	mutex_unlock(&node->lock);
}

int skv_repl_nl_put(struct sk_buff *skb, struct skv_node *node)
{
	struct skv_repl *r = rcu_dereference_protected(node->repl,
					lockdep_is_held(&node->lock));
	u32 i, ok = 0;
	bool whole;
	u8 a[18];
	u64 pos;

	if (!r)
		return nla_put_u32(skb, STEADYKV_A_REPL_BACKUPS, 0) ? -EMSGSIZE : 0;
	mutex_lock(&r->lock);
	pos = r->q.end;
	whole = r->whole_from != U64_MAX && !r->resync_wanted &&
		!r->resyncing;
	mutex_unlock(&r->lock);
	for (i = 0; i < r->nbackups; i++)
		if (READ_ONCE(r->b[i].ok))
			ok |= BIT(i);
	if (skv_nl_put_u64(skb, STEADYKV_A_REPL_PRIMARY_ID, r->primary_id) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_EPOCH, r->epoch) ||
	    nla_put_u32(skb, STEADYKV_A_REPL_BACKUPS, r->nbackups) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_POSITION, pos) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_ACKED,
			   atomic64_read(&r->acked_all)) ||
	    nla_put_u8(skb, STEADYKV_A_REPL_HEALTHY, !skv_repl_broken(r)) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_WRITES_REFUSED,
			   atomic64_read(&r->refused)) ||
	    nla_put_u8(skb, STEADYKV_A_REPL_WHOLE, whole) ||
	    skv_nl_put_u64(skb, STEADYKV_A_REPL_RESYNC_BYTES,
			   atomic64_read(&r->resync_bytes)) ||
	    nla_put_u32(skb, STEADYKV_A_REPL_BACKUPS_OK, ok))
		return -EMSGSIZE;
	for (i = 0; i < r->nbackups; i++) {
		const struct skv_repl_addr *ba = &r->b[i].addr;

		memcpy(a, ba->addr, ba->addr_len);
		put_unaligned_be16(ba->port, a + ba->addr_len);
		if (nla_put(skb, STEADYKV_A_REPL_BACKUP, ba->addr_len + 2, a))
			return -EMSGSIZE;
	}
	return 0;
}

/* head_floor from the list's head and the limbo.  Under pending_lock. */
static void skv_repl_head_locked(struct skv_repl *r)
{
	struct skv_repl_write *head;
	u64 floor;

	head = list_first_entry_or_null(&r->pending, struct skv_repl_write,
					link);
	floor = head ? head->floor : U64_MAX;
	WRITE_ONCE(r->head_floor, min(floor, r->limbo_floor));
}

/*
 * Take w off r->pending (if on it); wake readers if the head moved.  An
 * applied write its backups do not hold yet goes to the limbo (see the top).
 */
static void skv_repl_unlist(struct skv_repl *r, struct skv_repl_write *w,
			    bool applied)
{
	u64 acked = atomic64_read(&r->acked_all);
	bool moved = false;
	u64 pos;

	spin_lock(&r->pending_lock);
	if (!list_empty(&w->link)) {
		moved = r->pending.next == &w->link;
		list_del_init(&w->link);
		if (applied && (!w->queued || w->pos > acked)) {
			pos = w->queued ? w->pos : 0;
			if (r->limbo_floor == U64_MAX) {
				r->limbo_pos = pos;
				r->limbo_copy = false;
			} else {
				r->limbo_pos = max(r->limbo_pos, pos);
			}
			if (!w->queued) {
				r->limbo_copy = true;
				r->uncopied++;
			}
			r->limbo_floor = min(r->limbo_floor, w->floor);
		}
		skv_repl_head_locked(r);
	}
	spin_unlock(&r->pending_lock);
	if (moved && wq_has_sleeper(&r->ack_wq))
		wake_up_all(&r->ack_wq);
}

/*
 * Is every write that can have version v held by every backup: the limbo,
 * if its floor is below v, and each pending write with a floor below v
 * queued and acknowledged?
 */
static bool skv_repl_seen_held(struct skv_repl *r, u64 v)
{
	u64 acked = atomic64_read(&r->acked_all);
	struct skv_repl_write *w;
	bool held = true;

	if (READ_ONCE(r->head_floor) >= v)
		return true;
	spin_lock(&r->pending_lock);
	if (r->limbo_floor < v) {
		if (r->limbo_copy || acked < r->limbo_pos) {
			spin_unlock(&r->pending_lock);
			return false;
		}
		r->limbo_floor = U64_MAX;	/* all held now */
		skv_repl_head_locked(r);
	}
	list_for_each_entry(w, &r->pending, link) {
		if (w->floor >= v)
			break;
		if (!w->queued || w->pos > acked) {
			held = false;
			break;
		}
	}
	spin_unlock(&r->pending_lock);
	return held;
}

/* Drop c's reference once it has nothing admitted or waiting. */
static void skv_repl_conn_idle(struct skv_repl_conn *rc)
{
	if (rc->r && !rc->res_len && !rc->n && !rc->failed) {
		skv_repl_put(rc->r);
		rc->r = NULL;
	}
}

/*
 * Would len more bytes fit in r's queue, beside what writes reserved?
 * Also called without r->lock, to wait for room; then checked again locked.
 */
static bool skv_repl_has_room(struct skv_repl *r, u32 len)
{
	return READ_ONCE(r->q.end) - READ_ONCE(r->q.base) +
	       READ_ONCE(r->reserved) + len <= SKV_REPL_QUEUE_MAX;
}

/* An ack (or a backup lost) on a stream rc waits for: run its connection. */
static int skv_repl_conn_woken(struct wait_queue_entry *wait,
			       unsigned int mode, int sync, void *key)
{
	struct skv_repl_conn *rc = wait->private;

	skv_conn_kick(rc->c);
	return 0;
}

static struct skv_repl_conn *skv_repl_conn_alloc(struct skv_conn *c)
{
	struct skv_repl_conn *rc = kvzalloc(sizeof(*rc), GFP_KERNEL);
	u32 i;

	if (!rc)
		return NULL;
	for (i = 0; i < SKV_REPL_CONN_WRITES; i++)
		INIT_LIST_HEAD(&rc->w[i].link);
	rc->c = c;
	init_waitqueue_func_entry(&rc->wait_w, skv_repl_conn_woken);
	init_waitqueue_func_entry(&rc->wait_r, skv_repl_conn_woken);
	rc->wait_w.private = rc;
	rc->wait_r.private = rc;
	c->repl = rc;
	return rc;
}

/*
 * Bind c's writes (or reads) to r, found under rcu_read_lock(), which this
 * drops: those of one batch wait on one stream, so another one already
 * bound gives NULL (RETRY), as does no memory.  Takes c's reference.
 */
static struct skv_repl_conn *skv_repl_conn_bind(struct skv_conn *c,
						struct skv_repl *r, bool read)
	__releases(RCU)
{
	struct skv_repl_conn *rc = c->repl;
	struct skv_repl *bound = rc ? (read ? rc->read_r : rc->r) : NULL;

	if (bound && bound != r) {
		rcu_read_unlock();
		return NULL;
	}
	if (!bound)
		kref_get(&r->ref);
	rcu_read_unlock();
	if (!rc) {
		rc = skv_repl_conn_alloc(c);
		if (!rc) {
			skv_repl_put(r);
			return NULL;
		}
	}
	if (!read) {
		rc->r = r;
	} else if (!rc->read_r) {
		rc->read_r = r;
		rc->read_off = c->olen;
	}
	return rc;
}

u8 skv_repl_admit(struct skv_conn *c, u32 rec_len)
{
	struct skv_repl_conn *rc;
	struct skv_repl *r;
	bool room;

	rcu_read_lock();
	r = rcu_dereference(c->node->repl);
	if (!r) {
		rcu_read_unlock();
		return SKV_S_OK;
	}
	rc = skv_repl_conn_bind(c, r, false);
	if (!rc)
		return SKV_S_RETRY;
	mutex_lock(&r->lock);
	room = !skv_repl_broken(r) && rc->n < SKV_REPL_CONN_WRITES &&
	       skv_repl_has_room(r, rec_len);
	if (room) {
		struct skv_repl_write *w = &rc->w[rc->n];

		r->reserved += rec_len;
		w->departures = r->departures;
		/* Listed before the store applies it: see the top. */
		spin_lock(&r->pending_lock);
		w->floor = skv_store_version(skv_node_store(c->node));
		w->queued = false;
		list_add_tail(&w->link, &r->pending);
		skv_repl_head_locked(r);
		spin_unlock(&r->pending_lock);
	}
	mutex_unlock(&r->lock);
	if (!room) {
		atomic64_inc(&r->refused);
		skv_repl_conn_idle(rc);
		return SKV_S_RETRY;
	}
	rc->res_len = rec_len;
	return SKV_S_OK;
}

/*
 * Was a write, admitted when r->departures was @seen and applied as
 * @version, dropped with its range since?  So if a departure begun since
 * covers its key and the key no longer holds that version (its tablet is
 * gone, or was made again without it).  One older than the ring is taken
 * for no (a write commits right after it applies: 16 deletes in between
 * do not happen).  Under r->lock.
 */
static bool skv_repl_write_departed(const struct skv_repl *r,
				    struct skv_store *s, u64 seen,
				    u64 table_id, const void *key, u32 key_len,
				    u64 hash, u64 version)
{
	const struct skv_repl_depart_entry *e;
	u64 seq, cur = 0;
	u32 vlen;
	int st;

	for (seq = (seen & ~1ULL) + 1; seq <= r->departures; seq += 2) {
		e = &r->depart_ring[(seq / 2) % SKV_REPL_DEPART_RING];
		if (e->seq == seq && e->table_id == table_id &&
		    e->start_hash <= hash && hash <= e->end_hash)
			break;
	}
	if (seq > r->departures)
		return false;
	st = skv_store_get(s, table_id, key, key_len, hash, NULL, 0, &vlen,
			   &cur);
	return !((st == SKV_S_OK || st == SKV_S_TOO_BIG ||
		  st == SKV_S_NOT_FOUND) && cur == version);
}

/* Room in r's queue for a client write's record (skv_repl_commit()). */
static int skv_repl_queue_room(struct skv_repl *r, u32 len)
{
	if (should_fail(&skv_fail_repl_queue, len))
		return -ENOMEM;
	return skv_rstream_reserve(&r->q, len);
}

void skv_repl_commit(struct skv_conn *c, u8 status, u8 type, u64 table_id,
		     u64 key_hash, u64 version, const void *key, u32 key_len,
		     const void *value, u32 value_len)
{
	struct skv_repl_conn *rc = c->repl;
	struct skv_repl *r;
	u32 len, crc = 0;
	u8 *dst;
	u64 pos;

	if (!rc || !rc->res_len)
		return;
	r = rc->r;
	len = rc->res_len;
	rc->res_len = 0;
	if (status == SKV_S_OK)
		crc = skv_rec_payload_crc(key, key_len, value, value_len);
	mutex_lock(&r->lock);
	r->reserved -= len;
	if (!r->reserved && r->stopping)
		wake_up_all(&r->ack_wq);	/* skv_repl_seal() waits */
	if (status != SKV_S_OK) {
		mutex_unlock(&r->lock);
		skv_repl_unlist(r, &rc->w[rc->n], false);
		skv_repl_conn_idle(rc);
		return;
	}
	if (skv_repl_write_departed(r, skv_node_store(c->node),
				    rc->w[rc->n].departures, table_id, key,
				    key_len, key_hash, version)) {
		/* Dropped with its range: nothing to hold past its departure. */
		pos = r->q.end;
		goto queued;
	}
	if (skv_repl_queue_room(r, len)) {
		/*
		 * Applied with no record (out of memory only): its outcome
		 * stays unknown, and the limbo keeps reads from it until a
		 * copy of the store holds it.
		 */
		r->resync_wanted = true;
		/*
		 * In the same section as reserved and resync_wanted: a copy
		 * ending, or a new stream inheriting (both under lock), sees
		 * it in the limbo.
		 */
		skv_repl_unlist(r, &rc->w[rc->n], true);
		mutex_unlock(&r->lock);
		wake_up(&r->resync_wq);
		if (!rc->failed) {
			rc->failed = true;
			rc->fail_off = c->olen;
		}
		return;
	}
	dst = skv_rstream_tail(&r->q, len) ?: r->scratch;
	skv_rec_write(dst, type, table_id, key_hash, version, key, key_len,
		      value, value_len, crc);
	skv_rstream_append(&r->q, dst, len);
	pos = r->q.end;
queued:
	spin_lock(&r->pending_lock);
	rc->w[rc->n].pos = pos;
	rc->w[rc->n].queued = true;
	spin_unlock(&r->pending_lock);
	mutex_unlock(&r->lock);
	wake_up_all(&r->send_wq);
	rc->w[rc->n].off = c->olen;
	rc->n++;
}

/* A write waited too long: the backups behind it are down.  */
static void skv_repl_timed_out(struct skv_repl *r, u64 pos)
{
	u32 i;

	mutex_lock(&r->lock);
	for (i = 0; i < r->nbackups; i++)
		if (r->b[i].acked < pos)
			WRITE_ONCE(r->b[i].ok, false);
	mutex_unlock(&r->lock);
	wake_up_all(&r->ack_wq);
}

/*
 * Append recs to r's queue and wait until every backup holds them (*held:
 * the position that takes).  0, -EAGAIN (backups down or behind, r
 * stopped), -ETIMEDOUT, -ENOMEM.
 */
static int skv_repl_hold_in(struct skv_repl *r, const void *recs, u32 len,
			    u64 departures, u64 *held)
{
	long timeo = skv_repl_timeo();
	int ret = 0;
	u64 end;

	/* A new stream's backups open first; a full queue drains. */
	wait_event_idle_timeout(r->ack_wq, READ_ONCE(r->stopping) ||
				(!skv_repl_broken(r) &&
				 skv_repl_has_room(r, len)),
				timeo);
	mutex_lock(&r->lock);
	if (skv_repl_broken(r) || !skv_repl_has_room(r, len)) {
		mutex_unlock(&r->lock);
		return -EAGAIN;
	}
	if (departures != U64_MAX && departures != r->departures) {
		mutex_unlock(&r->lock);
		return -ESTALE;	/* scanned across a departure */
	}
	ret = skv_rstream_reserve(&r->q, len);
	if (ret) {
		mutex_unlock(&r->lock);
		return ret;
	}
	skv_rstream_append(&r->q, recs, len);
	end = r->q.end;
	mutex_unlock(&r->lock);
	wake_up_all(&r->send_wq);
	if (!wait_event_idle_timeout(r->ack_wq,
				     (u64)atomic64_read(&r->acked_all) >= end ||
				     skv_repl_broken(r), timeo)) {
		skv_repl_timed_out(r, end);
		ret = -ETIMEDOUT;
	} else if ((u64)atomic64_read(&r->acked_all) < end) {
		ret = -EAGAIN;
	}
	*held = end;
	return ret;
}

/* The node's stream, referenced, or NULL if it has no backups. */
static struct skv_repl *skv_repl_get(struct skv_node *node)
{
	struct skv_repl *r;

	rcu_read_lock();
	r = rcu_dereference(node->repl);
	if (r)
		kref_get(&r->ref);
	rcu_read_unlock();
	return r;
}

int skv_repl_hold(struct skv_node *node, const void *recs, u32 len)
{
	struct skv_repl *r;
	u64 held;
	int ret;

	if (len > SKV_REPL_QUEUE_MAX)
		return -EMSGSIZE;
	r = skv_repl_get(node);
	if (!r)
		return 0;
	ret = skv_repl_hold_in(r, recs, len, U64_MAX, &held);
	skv_repl_put(r);
	return ret;
}

/* The bytes queued on r that not every backup holds yet. */
static u64 skv_repl_backlog(struct skv_repl *r)
{
	u64 end = READ_ONCE(r->q.end), acked = atomic64_read(&r->acked_all);

	return end > acked ? end - acked : 0;
}

/*
 * A chunk of a copy on r, behind client writes, once those queued ahead
 * have drained to under a chunk (waiting at most SKV_REPL_YIELD_MAX).
 */
static int skv_repl_copy_chunk(struct skv_repl *r, enum skv_repl_pace pace,
			       const void *recs, u32 len, u64 departures,
			       u64 *held)
{
	if (should_fail(&skv_fail_repl_copy, len))
		return -ENOMEM;
	if (pace == SKV_REPL_BEHIND_WRITES)
		wait_event_idle_timeout(r->ack_wq, READ_ONCE(r->stopping) ||
					skv_repl_backlog(r) <
					SKV_REPL_COPY_CHUNK,
					SKV_REPL_YIELD_MAX);
	return skv_repl_hold_in(r, recs, len, departures, held);
}

/*
 * r's departures count before a scan, once no departure is under way (its
 * range may be half dropped): a chunk appended with it is scanned again
 * if one began meanwhile (skv_repl_hold_in()).
 */
static u64 skv_repl_scan_departures(struct skv_repl *r)
{
	u64 n;

	for (;;) {
		mutex_lock(&r->lock);
		n = r->departures;
		mutex_unlock(&r->lock);
		if (!(n & 1) || READ_ONCE(r->stopping))
			return n;
		schedule_timeout_idle(1);
	}
}

/*
 * Hand the records of s's range [start_hash, end_hash] of table_id, from
 * *cursor on, to the backups, one scan chunk per append at pace
 * (skv_repl_copy_chunk(); buf: SKV_REPL_SCAN_BUF bytes): to r's if r is
 * given, else to the node's stream (looked up for each chunk; none: the
 * chunk is skipped).  *cursor moves past each chunk held; *bytes counts
 * them and *held is raised to where every backup holds them.  0 once the
 * range is done, or the first error.
 */
static int skv_repl_hold_scan(struct skv_node *node, struct skv_repl *r,
			      enum skv_repl_pace pace, struct skv_store *s,
			      u64 table_id, u64 start_hash, u64 end_hash,
			      u64 *cursor, u8 *buf, u64 *bytes, u64 *held)
{
	const u32 hl = sizeof(struct skv_batch_hdr);
	u32 chunk = pace == SKV_REPL_BEHIND_WRITES ?
		    hl + SKV_REPL_COPY_CHUNK : SKV_REPL_SCAN_BUF;
	struct skv_repl *cur;
	bool done = false;
	u64 next, deps, at = 0;
	long n;
	int err;

	/* One chunk per append: client writes go between them. */
	while (!done) {
		cur = r ?: skv_repl_get(node);
		deps = cur ? skv_repl_scan_departures(cur) : 0;
		n = skv_scan_serialize(s, table_id, start_hash, end_hash,
				       *cursor, buf, chunk, &next, &done);
		if (n == -EMSGSIZE)	/* a group larger than a chunk */
			n = skv_scan_serialize(s, table_id, start_hash,
					       end_hash, *cursor, buf,
					       SKV_REPL_SCAN_BUF, &next, &done);
		err = n < 0 ? n : 0;
		if (!err && cur && n > hl)
			err = skv_repl_copy_chunk(cur, pace, buf + hl, n - hl,
						  deps, &at);
		if (cur && !r)
			skv_repl_put(cur);
		if (err == -ESTALE) {
			done = false;	/* scanned across a departure: again */
			continue;
		}
		if (err)
			return err;
		if (cur && n > hl) {
			*bytes += n - hl;
			*held = max(*held, at);
		}
		if (done)
			break;
		*cursor = next;
		cond_resched();
	}
	return 0;
}

int skv_repl_hold_range(struct skv_node *node, struct skv_store *s,
			enum skv_repl_pace pace, u64 table_id, u64 start_hash,
			u64 end_hash, u64 *bytes)
{
	u64 cursor = start_hash, held = 0;
	int err;
	u8 *buf;

	*bytes = 0;
	if (!rcu_access_pointer(node->repl))
		return 0;	/* no backups: nothing to hand them */
	buf = kvmalloc(SKV_REPL_SCAN_BUF, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	err = skv_repl_hold_scan(node, NULL, pace, s, table_id, start_hash,
				 end_hash, &cursor, buf, bytes, &held);
	kvfree(buf);
	return err;
}

/* A delete's departure (skv_repl_tablet_del()), queued by its hook. */
struct skv_repl_departure {
	struct skv_drop_hook hook;
	struct skv_node *node;
	struct skv_repl *r;	/* referenced once queued; NULL: no backups */
};

/*
 * The hook: queue the departure, the delete now sure to happen, and mark
 * one under way (odd departures) until skv_repl_departed().  Never
 * refused for room (a few bytes per delete): only memory stops the delete,
 * -ENOMEM (the queue has no store, so its -ENOSPC is a chunk not had).
 */
static int skv_repl_depart(struct skv_drop_hook *hook, u64 table_id,
			   u64 start_hash, u64 end_hash)
{
	struct skv_repl_departure *d =
		container_of(hook, struct skv_repl_departure, hook);
	struct skv_repl *r = rcu_dereference_protected(d->node->repl,
					lockdep_is_held(&d->node->lock));
	struct skv_repl_depart_entry *e;
	u8 rec[SKV_REC_DEPARTURE_LEN];
	int ret;

	if (!r)
		return 0;	/* no backups: no replica to mark */
	skv_rec_write_departure(rec, table_id, start_hash, end_hash);
	mutex_lock(&r->lock);
	ret = skv_rstream_reserve(&r->q, sizeof(rec));
	if (!ret) {
		skv_rstream_append(&r->q, rec, sizeof(rec));
		r->departures++;
		e = &r->depart_ring[(r->departures / 2) % SKV_REPL_DEPART_RING];
		*e = (struct skv_repl_depart_entry){
			.seq = r->departures, .table_id = table_id,
			.start_hash = start_hash, .end_hash = end_hash,
		};
		kref_get(&r->ref);
		d->r = r;
	}
	mutex_unlock(&r->lock);
	if (ret)
		return -ENOMEM;
	wake_up_all(&r->send_wq);
	return 0;
}

/* The departed range is dropped: no departure under way. */
static void skv_repl_departed(struct skv_repl *r)
{
	if (!r)
		return;
	mutex_lock(&r->lock);
	r->departures++;
	mutex_unlock(&r->lock);
	skv_repl_put(r);
}

int skv_repl_tablet_del(struct skv_node *node, struct skv_store *s,
			u64 table_id, u64 start_hash, u64 end_hash)
{
	struct skv_repl_departure d = {
		.hook.before = skv_repl_depart, .node = node,
	};
	int err;

	lockdep_assert_held(&node->lock);
	err = skv_tablet_del_hooked(s, table_id, start_hash, end_hash,
				    &d.hook);
	skv_repl_departed(d.r);
	return err;
}

int skv_repl_table_del(struct skv_node *node, struct skv_store *s,
		       u64 table_id)
{
	struct skv_repl_departure d = {
		.hook.before = skv_repl_depart, .node = node,
	};
	int err;

	lockdep_assert_held(&node->lock);
	err = skv_table_del_hooked(s, table_id, &d.hook);
	skv_repl_departed(d.r);
	return err;
}

/* Where a re-replication of the store stands: the next key to copy. */
struct skv_resync_pos {
	u64 table_id;
	u64 hash;
	bool done;
};

/* The first tablet of s ending at or after pos; false if none. */
static bool skv_repl_next_tablet(struct skv_store *s,
				 const struct skv_resync_pos *pos,
				 struct skv_tablet_info *t)
{
	struct skv_tablet_info got[SKV_REPL_LIST_CHUNK];
	u32 at = 0;
	int n, i;

	/* Sorted by (table, start): a map changed between calls is fine. */
	while ((n = skv_tablets_list(s, at, got, ARRAY_SIZE(got))) > 0) {
		for (i = 0; i < n; i++) {
			if (got[i].table_id < pos->table_id ||
			    (got[i].table_id == pos->table_id &&
			     got[i].end_hash < pos->hash))
				continue;
			*t = got[i];
			return true;
		}
		at += n;
	}
	return false;
}

/*
 * Copy every record of the store into r's stream from pos on (every
 * tablet, whatever its state: a range migrating in holds client writes
 * too).  0 when all are held, or the first error (pos says where to go on).
 */
static int skv_repl_resync_store(struct skv_repl *r, struct skv_store *s,
				 struct skv_resync_pos *pos, u8 *buf,
				 u64 *held)
{
	struct skv_tablet_info t;
	u64 bytes, cursor;
	int err;

	while (!pos->done && skv_repl_next_tablet(s, pos, &t)) {
		cursor = t.table_id == pos->table_id ?
			 max(t.start_hash, pos->hash) : t.start_hash;
		bytes = 0;
		err = skv_repl_hold_scan(r->node, r, SKV_REPL_BEHIND_WRITES,
					 s, t.table_id, t.start_hash,
					 t.end_hash, &cursor, buf, &bytes,
					 held);
		atomic64_add(bytes, &r->resync_bytes);
		pos->table_id = t.table_id;
		pos->hash = cursor;
		if (err)
			return err;
		if (t.end_hash < U64_MAX)
			pos->hash = t.end_hash + 1;
		else if (t.table_id < U64_MAX)
			*pos = (struct skv_resync_pos){ .table_id = t.table_id + 1 };
		else
			pos->done = true;
	}
	return 0;
}

/*
 * The resync thread: re-replicates the store when asked (see the top),
 * going on where it stopped after a failure.
 */
static int skv_repl_resyncer(void *arg)
{
	struct skv_repl *r = arg;
	struct skv_resync_pos pos = {};
	bool running = false;
	u64 from = 0, held = 0, uncopied = 0;
	struct skv_store *s;
	u8 *buf = NULL;
	u32 i;
	int err;

	while (!kthread_should_stop()) {
		wait_event_interruptible(r->resync_wq, kthread_should_stop() ||
					 READ_ONCE(r->resync_wanted) || running);
		if (kthread_should_stop())
			break;
		mutex_lock(&r->lock);
		/* A run goes on to its end: bases are checked there. */
		if (!running) {
			r->resyncing = true;
			from = r->q.end;
			held = from;
			pos = (struct skv_resync_pos){};
			running = true;
			spin_lock(&r->pending_lock);
			uncopied = r->uncopied;
			spin_unlock(&r->pending_lock);
		}
		r->resync_wanted = false;
		mutex_unlock(&r->lock);
		if (!buf)
			buf = kvmalloc(SKV_REPL_SCAN_BUF, GFP_KERNEL);
		s = skv_node_store(r->node);
		err = !buf ? -ENOMEM :
		      s ? skv_repl_resync_store(r, s, &pos, buf, &held) : 0;
		if (err) {
			skv_repl_pause(r, SKV_REPL_RESYNC_BACKOFF);
			continue;
		}
		mutex_lock(&r->lock);
		/*
		 * Asked again meanwhile by an open (one whose replica starts
		 * past from lacks the copy, any other holds it) or by a write
		 * with no record (counted in uncopied, below).  A backup that
		 * lacks the copy has no whole replica (no new mark), so a
		 * limbo it lets go is not one a recovery could read without.
		 */
		r->resync_wanted = false;
		for (i = 0; i < r->nbackups; i++)
			if (r->b[i].base > from)
				r->resync_wanted = true;
		if (!r->resync_wanted) {
			WRITE_ONCE(r->whole_from, from);
			r->whole_to = held;
		}
		/* The limbo's writes with no record, if all began before it. */
		spin_lock(&r->pending_lock);
		if (r->uncopied != uncopied) {
			r->resync_wanted = true;
		} else if (r->limbo_copy) {
			r->limbo_copy = false;
			r->limbo_pos = max(r->limbo_pos, held);
		}
		spin_unlock(&r->pending_lock);
		r->resyncing = false;
		running = false;
		mutex_unlock(&r->lock);
		wake_up_all(&r->send_wq);
		wake_up_all(&r->ack_wq);	/* reads that wait for the limbo */
	}
	kvfree(buf);
	return 0;
}

u8 skv_repl_observe(struct skv_conn *c, u64 version)
{
	struct skv_repl_conn *rc;
	struct skv_repl *r;

	if (!version)
		return SKV_S_OK;
	rcu_read_lock();
	r = rcu_dereference(c->node->repl);
	/* The record read before, the list after: see the top. */
	smp_rmb();
	if (!r || READ_ONCE(r->head_floor) >= version) {
		rcu_read_unlock();
		return SKV_S_OK;
	}
	rc = skv_repl_conn_bind(c, r, true);
	if (!rc)
		return SKV_S_RETRY;
	rc->read_v = max(rc->read_v, version);
	return SKV_S_OK;
}

/* Wait (*on: NULL or r) for r's acks with entry wait, or stop waiting. */
static void skv_repl_conn_wait_on(struct skv_repl **on,
				  struct wait_queue_entry *wait,
				  struct skv_repl *r)
{
	if (*on == r)
		return;
	if (*on)
		remove_wait_queue(&(*on)->ack_wq, wait);
	*on = r;
	if (r)
		add_wait_queue(&r->ack_wq, wait);
}

static void skv_repl_conn_unwait(struct skv_repl_conn *rc)
{
	skv_repl_conn_wait_on(&rc->wait_w_on, &rc->wait_w, NULL);
	skv_repl_conn_wait_on(&rc->wait_r_on, &rc->wait_r, NULL);
}

/* Have the batch's reads and writes got what they wait for? */
static bool skv_repl_settled(struct skv_repl_conn *rc)
{
	struct skv_repl *r = rc->read_r;

	if (r && !skv_repl_seen_held(r, rc->read_v) && !skv_repl_broken(r))
		return false;
	r = rc->r;
	return !rc->n || skv_repl_broken(r) ||
	       (u64)atomic64_read(&r->acked_all) >= rc->w[rc->n - 1].pos;
}

/*
 * Wait for the batch without sleeping: 0 when it has what it waits for or
 * its deadline passed, else -EINPROGRESS with its connection to be run
 * again at the next ack or at the deadline.
 */
static int skv_repl_settle_wait(struct skv_repl_conn *rc)
{
	if (!rc->settling) {
		rc->settling = true;
		rc->deadline = jiffies + skv_repl_timeo();
	}
	if (skv_repl_settled(rc) || !time_before(jiffies, rc->deadline))
		goto done;
	/* On the queues before the check again: no ack is missed. */
	skv_repl_conn_wait_on(&rc->wait_w_on, &rc->wait_w,
			      rc->n ? rc->r : NULL);
	skv_repl_conn_wait_on(&rc->wait_r_on, &rc->wait_r, rc->read_r);
	if (!skv_repl_settled(rc)) {
		skv_conn_kick_at(rc->c, rc->deadline);
		return -EINPROGRESS;
	}
done:
	skv_repl_conn_unwait(rc);
	rc->settling = false;
	return 0;
}

/* The batch's reads: U32_MAX, or where to cut if what they saw is not held. */
static u32 skv_repl_settle_reads(struct skv_repl_conn *rc)
{
	struct skv_repl *r = rc->read_r;
	u32 cut = U32_MAX;

	if (!r)
		return cut;
	if (!skv_repl_seen_held(r, rc->read_v))
		cut = rc->read_off;
	skv_repl_put(r);
	rc->read_r = NULL;
	rc->read_v = 0;
	return cut;
}

int skv_repl_settle(struct skv_conn *c)
{
	struct skv_repl_conn *rc = c->repl;
	struct skv_repl *r;
	u32 cut = U32_MAX, i;
	u64 last, acked;

	if (!rc)
		return 0;
	if (skv_repl_settle_wait(rc))
		return -EINPROGRESS;
	cut = skv_repl_settle_reads(rc);
	if (!rc->n && !rc->failed)
		goto out;
	r = rc->r;
	if (rc->n) {
		last = rc->w[rc->n - 1].pos;
		if ((u64)atomic64_read(&r->acked_all) < last &&
		    !skv_repl_broken(r))
			skv_repl_timed_out(r, last);
	}
	acked = atomic64_read(&r->acked_all);
	for (i = 0; i < rc->n; i++) {
		if (rc->w[i].pos > acked) {
			cut = min(cut, rc->w[i].off);
			break;
		}
	}
	/*
	 * Off the list, held or not: one not held stays applied, its reply
	 * dropped, and goes to the limbo until its backups hold it.
	 */
	for (i = 0; i < rc->n; i++)
		skv_repl_unlist(r, &rc->w[i], true);
	if (rc->failed)
		cut = min(cut, rc->fail_off);
	rc->n = 0;
	rc->failed = false;
	skv_repl_conn_idle(rc);
out:
	if (cut == U32_MAX)
		return 0;
	skv_out_cut(c, cut);
	return -EIO;
}

void skv_repl_conn_unsettle(struct skv_conn *c)
{
	if (c->repl)
		skv_repl_conn_unwait(c->repl);
}

void skv_repl_conn_release(struct skv_conn *c)
{
	struct skv_repl_conn *rc = c->repl;
	u32 i;

	if (!rc)
		return;
	skv_repl_conn_unwait(rc);
	if (rc->r) {
		/* Committed ones are applied; one admitted after is not. */
		for (i = 0; i < SKV_REPL_CONN_WRITES; i++)
			skv_repl_unlist(rc->r, &rc->w[i], i < rc->n);
		skv_repl_put(rc->r);
	}
	if (rc->read_r)
		skv_repl_put(rc->read_r);
	kvfree(rc);
	c->repl = NULL;
}
