// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv client connections: framing, pipelining and lifetime.
 *
 * Model: a connection is a work item on skv_conn_wq, queued by its
 * transport's socket callbacks (data in, room to send, closed) as the
 * kernel's sunrpc server and nvmet-tcp do, so ten thousand connections
 * cost ten thousand small structs and sockets, not threads.  A run reads
 * whatever is queued without waiting, handles every complete frame,
 * gathers the replies in the output buffer and sends them at once when
 * the input runs dry or a batch is full (SKV_OBUF_BATCH).  What the
 * socket does not take now waits for its write-space callback, and no
 * request is read meanwhile, so memory stays bounded by the peer that
 * reads slowly.  A run reads at most SKV_CONN_RUN_BYTES, then queues
 * itself again behind the others.  A batch with writes waits for their
 * backups without holding a worker (repl_primary.c runs the connection
 * again at each ack), so ten thousand writers waiting on slow backups do
 * not fill the workqueue's max_active and hold up the replication ops
 * that would answer them.  Likewise a GET for a key a migration is still
 * bringing stops its connection at that frame until the key lands
 * (mig_target_park.c).  The per-CPU workqueue runs a connection where
 * its packets arrived.
 *
 * No lock-up by connections: every wait is bounded.  A connection with no
 * request in progress is closed after idle_timeout_s; once the first byte
 * of a frame has arrived, the whole frame must arrive within
 * frame_timeout_s; a batch of replies must be taken by the peer within
 * reply_timeout_s, however slowly it reads.  Nothing blocks on these:
 * the node's sweep work looks every second for a connection past its
 * deadline and queues it, and its run ends it.  The sweep also queues a
 * connection idle for SKV_CONN_TRIM_AFTER, whose run frees its buffers.
 * Slots: one source address holds at most max_connections_per_addr of
 * them, and the last peer_connections of max_connections are kept for
 * node-to-node peers.  A connection is known to be a peer only once it
 * authenticates (skv_conn_peer_authenticated()), so one accepted while
 * the client share is full is provisional: it may only authenticate,
 * within frame_timeout_s; any other request is refused with BUSY and it
 * closes.
 *
 * Lifetime: a connection is on node->conns from start until it is reaped.
 * When it ends on its own (peer closed, error, bad header, a deadline),
 * its run marks it dead and queues node->reap_work, which takes it off the
 * list, stops its callbacks, waits for its work (cancel_work_sync()) and
 * frees it.  At namespace exit (and so at module unload) skv_conns_stop()
 * closes the list to new entries, takes every connection off it and does
 * the same.  Whoever takes a connection off the list owns its teardown.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "node.h"
#include "conn.h"
#include "auth_request.h"
#include "reply.h"
#include "request.h"
#include "repl_primary.h"
#include "mig_target.h"
#include "transport.h"
#include "metrics.h"

/* Bytes one run reads before it lets the other connections in. */
#define SKV_CONN_RUN_BYTES	(256u * 1024)
/* An idle connection gives its buffers back after this long. */
#define SKV_CONN_TRIM_AFTER	(2 * HZ)
#define SKV_CONN_SWEEP_EVERY	HZ
#define SKV_CONN_BULK_NICE	10

static struct workqueue_struct *skv_conn_wq;

/* The worker runs a bulk-pull connection: client requests win the CPU. */
static void skv_conn_nice_bulk(void)
{
	if (task_nice(current) < SKV_CONN_BULK_NICE)
		set_user_nice(current, SKV_CONN_BULK_NICE);
}

/* A timeout module parameter in jiffies; 0 means none. */
static long skv_timeout(unsigned int *param_s)
{
	unsigned int sec = READ_ONCE(*param_s);

	return sec ? (long)min_t(u64, (u64)sec * HZ, MAX_SCHEDULE_TIMEOUT - 1) :
		     MAX_SCHEDULE_TIMEOUT;
}

/* Give back the slot c took in skv_conn_admit().  Under conn_lock. */
static void skv_conn_unslot(struct skv_conn *c)
{
	if (c->slot == SKV_SLOT_CLIENT)
		c->node->nclients--;
	c->slot = SKV_SLOT_NONE;
	atomic_dec(&c->node->nconns);
}

static void skv_conn_free_bufs(struct skv_conn *c)
{
	skv_out_pages_release(c);
	if (c->opages)
		skv_conn_buf_charge(c, sizeof(*c->opages), 0, false);
	kfree(c->opages);
	c->opages = NULL;
	skv_conn_buf_charge(c, c->icap, 0, false);
	skv_conn_buf_charge(c, c->ocap, 0, false);
	kvfree(c->ibuf);
	kvfree(c->obuf);
	c->ibuf = NULL;
	c->obuf = NULL;
	c->icap = 0;
	c->ocap = 0;
}

/*
 * Off the list: stop its callbacks (reset it first if asked) and its
 * work, and free it.  Once dead, a run does nothing, so after the first
 * cancel no run adds c to a wait queue or arms its timer; after they are
 * gone, nothing queues it.
 */
static void skv_conn_free(struct skv_conn *c, bool reset)
{
	struct skv_node *node = c->node;

	c->xprt->ops->watch(c->xprt, NULL);
	if (reset)
		c->xprt->ops->shutdown(c->xprt, true);
	WRITE_ONCE(c->dead, true);
	cancel_work_sync(&c->work);
	skv_repl_conn_unsettle(c);
	skv_tgt_unpark(c);
	timer_shutdown_sync(&c->timer);
	cancel_work_sync(&c->work);
	c->xprt->ops->release(c->xprt);
	skv_auth_conn_release(c);
	skv_repl_conn_release(c);
	skv_conn_free_bufs(c);
	spin_lock(&node->conn_lock);
	skv_conn_unslot(c);
	spin_unlock(&node->conn_lock);
	kfree(c);
}

/* Publish the batch's counts and wake the cleaner if writes may need it. */
static void skv_conn_account(struct skv_conn *c)
{
	struct skv_node *node = c->node;

	if (c->nreq) {
		atomic64_add(c->nreq, &node->requests);
		c->nreq = 0;
	}
	if (c->nbad) {
		atomic64_add(c->nbad, &node->bad_requests);
		c->nbad = 0;
	}
	if (c->wrote) {
		c->wrote = false;
		skv_node_kick_cleaner(node);
	}
}

/*
 * Give the transport the next run of pending bytes: obuf up to the next
 * piece from a log page, or the pieces that go at osent.  Returns the
 * bytes it took, 0 when nothing is left, -EAGAIN, or a negative errno.
 */
static int skv_conn_send_some(struct skv_conn *c)
{
	struct skv_out_pages *op = c->opages;
	u32 end = c->olen, i, len;
	int n;

	if (op && op->sent < op->n) {
		end = op->at[op->sent];
		if (end == c->osent) {
			len = 0;
			for (i = op->sent; i < op->n && op->at[i] == end; i++)
				len += op->bv[i].bv_len;
			n = c->xprt->ops->send_pages(c->xprt, op->bv + op->sent,
						     i - op->sent,
						     op->sent_bytes,
						     len - op->sent_bytes);
			if (n < 0)
				return n;
			op->sent_bytes += n;
			while (op->sent < op->n &&
			       op->sent_bytes >= op->bv[op->sent].bv_len) {
				op->sent_bytes -= op->bv[op->sent].bv_len;
				op->sent++;
			}
			return n;
		}
	}
	if (c->osent == end)
		return 0;
	n = c->xprt->ops->send(c->xprt, c->obuf + c->osent, end - c->osent);
	if (n > 0)
		c->osent += n;
	return n;
}

/*
 * Send the pending replies: first, have the writes among them held by
 * their backups (a reply of one that is not is dropped, and so are the
 * replies after it, and the connection ends: -EIO); then give the
 * transport what it takes.  0 when all are sent, -EAGAIN when the rest
 * waits for room, -EINPROGRESS while the backups are awaited, or a
 * negative errno.
 */
static int skv_conn_flush(struct skv_conn *c)
{
	int n;

	if (!c->olen)
		return 0;
	if (!c->settled) {
		skv_conn_account(c);
		n = skv_repl_settle(c);
		if (n == -EINPROGRESS)
			return n;
		if (n && !c->end_err)
			c->end_err = n;
		c->settled = true;
		c->send_since = jiffies;
	}
	for (;;) {
		n = skv_conn_send_some(c);
		if (n < 0)
			return n;
		if (!n)
			break;
	}
	skv_out_pages_release(c);
	c->olen = 0;
	c->osent = 0;
	c->settled = false;
	return 0;
}

/*
 * Check a request header before anything is allocated for its body.
 * Returns SKV_S_OK, or the status of the error reply to send before the
 * connection is closed; *reply is false for a bad magic (the peer does not
 * speak the protocol, so it gets no reply).
 */
static int skv_check_hdr(const struct skv_hdr *h, bool *reply)
{
	*reply = true;
	if (le16_to_cpu(h->magic) != SKV_WIRE_MAGIC) {
		*reply = false;
		return SKV_S_BAD_REQUEST;
	}
	if (h->version != SKV_WIRE_VERSION || h->reserved)
		return SKV_S_BAD_REQUEST;
	if (le32_to_cpu(h->body_len) > SKV_MAX_BODY_LEN)
		return SKV_S_TOO_BIG;
	return SKV_S_OK;
}

/*
 * Handle the complete frames in the input buffer, up to a batch of
 * replies, then keep what is left (frames not handled yet, or a partial
 * one) at the start of the buffer, grown to hold a whole frame.  A frame
 * that ends the connection sets c->end_err, its reply and the ones before
 * it still owed.  Returns 0, or a negative errno to end at once.
 */
static int skv_conn_process_frames(struct skv_conn *c)
{
	struct skv_hdr h;
	u32 off = 0, flen;
	bool reply;
	int status, err = 0;

	while (c->ilen - off >= SKV_HDR_LEN && c->olen < SKV_OBUF_BATCH) {
		memcpy(&h, c->ibuf + off, SKV_HDR_LEN);
		status = skv_check_hdr(&h, &reply);
		if (status != SKV_S_OK) {
			/* Best effort: out of memory, it ends all the same. */
			if (reply)
				skv_reply_bad(c, &h, status);
			else
				c->nbad++;
			c->end_err = -EPROTO;
			return 0;
		}
		flen = SKV_HDR_LEN + le32_to_cpu(h.body_len);
		if (c->ilen - off < flen)
			break;
		if (c->slot == SKV_SLOT_PROVISIONAL &&
		    h.opcode != SKV_OP_AUTH_HELLO &&
		    h.opcode != SKV_OP_AUTH_PROOF) {
			/* Over the client share: only a peer may stay. */
			atomic64_inc(&c->node->conn_stats.refused_share);
			skv_reply(c, &h, SKV_S_BUSY, NULL, 0);
			c->end_err = -EBUSY;
			return 0;
		}
		/* A parked GET is the first frame: it is handled again. */
		if (c->parked)
			skv_tgt_unpark(c);
		c->pipelined = c->ilen - off > flen;
		/* Pipelined GETs: hashed and prefetched ahead. */
		if (c->pipelined || c->get_ahead->next > off)
			skv_request_lookahead(c, off);
		err = skv_metrics_handle(c, &h, c->ibuf + off + SKV_HDR_LEN,
					 flen - SKV_HDR_LEN);
		if (c->parked)
			break;
		if (c->park_until)
			skv_tgt_park_answered(c);
		c->nreq++;
		if (err)
			return err;
		off += flen;
		if (c->close_after_reply) {
			c->end_err = -ECONNRESET;
			return 0;
		}
		/* A full buffer can hold thousands of small requests. */
		cond_resched();
	}

	if (off) {
		memmove(c->ibuf, c->ibuf + off, c->ilen - off);
		c->ilen -= off;
		/* The frame left over began in this run at the latest. */
		c->frame_since = jiffies;
	}
	/*
	 * A partial frame whose header is checked fills the buffer: double
	 * it, up to the frame.  It grows as bytes arrive, not as a header
	 * claims, so a connection holds at most twice what it has sent.
	 */
	if (c->ilen == c->icap && c->ilen >= SKV_HDR_LEN) {
		memcpy(&h, c->ibuf, SKV_HDR_LEN);
		flen = SKV_HDR_LEN + le32_to_cpu(h.body_len);
		if (flen > c->icap)
			err = skv_conn_buf_resize(c, &c->ibuf, &c->icap,
						  c->ilen,
						  min(flen, 2 * c->icap));
		/* Past the node's budget: end, the replies owed sent first. */
		if (err == -ENOBUFS) {
			c->end_err = err;
			err = 0;
		}
	}
	return err;
}

/* One pass, with its lookahead over pipelined GETs (request.h). */
static int skv_conn_process(struct skv_conn *c)
{
	struct skv_get_ahead ahead = {};
	int err;

	c->get_ahead = &ahead;
	err = skv_conn_process_frames(c);
	c->get_ahead = NULL;
	return err;
}

/*
 * The deadline c is past, as the counter of connections it closed, or
 * NULL.  Replies being sent: the reply deadline.  Else, while a frame is
 * partly in: the frame deadline; else the idle timeout (the frame
 * deadline for a provisional connection, which must only authenticate).
 */
static atomic64_t *skv_conn_overdue(struct skv_conn *c)
{
	struct skv_conn_stats *cs = &c->node->conn_stats;
	unsigned long since;
	atomic64_t *stat;
	long timeo;

	if (c->settled) {
		timeo = skv_timeout(&skv_reply_timeout_s);
		since = c->send_since;
		stat = &cs->closed_reply;
	} else if (c->ilen || c->slot == SKV_SLOT_PROVISIONAL) {
		timeo = skv_timeout(&skv_frame_timeout_s);
		since = c->ilen ? c->frame_since : c->idle_since;
		stat = &cs->closed_frame;
	} else {
		timeo = skv_timeout(&skv_idle_timeout_s);
		since = c->idle_since;
		stat = &cs->closed_idle;
	}
	if (timeo == MAX_SCHEDULE_TIMEOUT || (long)(jiffies - since) < timeo)
		return NULL;
	return stat;
}

/*
 * A GET is parked (mig_target_park.c): send the replies before it, then
 * read nothing until it is woken.  Returns as skv_conn_run().
 */
static int skv_conn_park_flush(struct skv_conn *c)
{
	int n = skv_conn_flush(c);

	return n == -EAGAIN || n == -EINPROGRESS ? 0 : n;
}

static bool skv_conn_trimmable(struct skv_conn *c)
{
	return c->ibuf && !c->ilen && !c->olen &&
	       time_after(jiffies, c->idle_since + SKV_CONN_TRIM_AFTER);
}

/*
 * Serve c until its input runs dry, its replies wait for room, or its
 * budget is spent.  Returns 0 to wait for the next callback, or a
 * negative errno to end it.
 */
static int skv_conn_run(struct skv_conn *c)
{
	struct skv_transport *t = c->xprt;
	u32 budget = SKV_CONN_RUN_BYTES;
	atomic64_t *stat;
	int n;

	stat = skv_conn_overdue(c);
	if (stat) {
		atomic64_inc(stat);
		return -ETIMEDOUT;
	}
	if (!c->ibuf) {
		/* Counted from here: skv_conn_free_bufs() gives it back. */
		skv_conn_buf_charge(c, 0, SKV_IBUF_INIT, false);
		skv_conn_buf_charge(c, 0, SKV_OBUF_INIT, false);
		c->icap = SKV_IBUF_INIT;
		c->ocap = SKV_OBUF_INIT;
		c->ibuf = kvmalloc(SKV_IBUF_INIT, GFP_KERNEL);
		c->obuf = kvmalloc(SKV_OBUF_INIT, GFP_KERNEL);
		if (!c->ibuf || !c->obuf)
			return -ENOMEM;
	}
	for (;;) {
		/* Replies first: no request is read while some wait. */
		n = skv_conn_flush(c);
		if (n)
			return n == -EAGAIN || n == -EINPROGRESS ? 0 : n;
		if (c->end_err)
			return c->end_err;
		n = skv_conn_process(c);
		if (n)
			return n;
		if (c->parked)
			return skv_conn_park_flush(c);
		if (c->olen >= SKV_OBUF_BATCH || c->end_err)
			continue;
		if (!budget) {
			if (c->olen)
				continue;
			queue_work(skv_conn_wq, &c->work);
			return 0;
		}
		if (WARN_ON_ONCE(c->ilen == c->icap))
			return -EPROTO;
		n = t->ops->recv(t, c->ibuf + c->ilen, c->icap - c->ilen);
		if (n == -EAGAIN) {
			/* A wake-up without bytes (room to send): forget it. */
			WRITE_ONCE(c->woken_ns, 0);
			if (c->olen)
				continue;
			if (skv_conn_trimmable(c))
				skv_conn_free_bufs(c);
			return 0;
		}
		if (n < 0)
			return n;
		if (!n) {
			/* After a half-close, still answer what was asked. */
			c->end_err = -ESHUTDOWN;
			continue;
		}
		budget -= min_t(u32, budget, n);
		c->in_ns = xchg(&c->woken_ns, 0) ?: ktime_get_ns();
		if (!c->ilen)
			c->frame_since = jiffies;
		c->ilen += n;
		n = skv_conn_process(c);
		if (n)
			return n;
		if (c->parked)
			return skv_conn_park_flush(c);
		if (!c->ilen)
			c->idle_since = jiffies;
	}
}

/* The connection has ended: hand it to the reaper. */
static void skv_conn_end(struct skv_conn *c, int err)
{
	struct skv_node *node = c->node;

	/* A deadline passed: reset, so nothing queued waits on a slow peer. */
	if (err == -ETIMEDOUT)
		c->xprt->ops->shutdown(c->xprt, true);
	skv_conn_account(c);

	spin_lock(&node->conn_lock);
	WRITE_ONCE(c->dead, true);
	if (!node->conns_closing)
		queue_work(skv_wq, &node->reap_work);
	spin_unlock(&node->conn_lock);
}

static void skv_conn_work(struct work_struct *work)
{
	struct skv_conn *c = container_of(work, struct skv_conn, work);
	int nice = task_nice(current);
	int err;

	if (READ_ONCE(c->dead))
		return;
	if (c->bulk)
		skv_conn_nice_bulk();
	err = skv_conn_run(c);
	if (err)
		skv_conn_end(c, err);
	/* The worker serves other connections next. */
	if (task_nice(current) != nice)
		set_user_nice(current, nice);
}

void skv_conn_kick(struct skv_conn *c)
{
	queue_work(skv_conn_wq, &c->work);
}

static void skv_conn_timer(struct timer_list *t)
{
	struct skv_conn *c = from_timer(c, t, timer);

	skv_conn_kick(c);
}

void skv_conn_kick_at(struct skv_conn *c, unsigned long deadline)
{
	/* Only c's run arms it, so the earliest deadline is the one set. */
	mod_timer(&c->timer, deadline);
}

/* The transport's callback: softirq or process context. */
static void skv_conn_ready(struct skv_transport *t)
{
	struct skv_conn *c = t->owner;

	if (!READ_ONCE(c->woken_ns))
		WRITE_ONCE(c->woken_ns, ktime_get_ns());
	skv_conn_kick(c);
}

void skv_conn_yield_to_clients(struct skv_conn *c)
{
	c->bulk = true;
	skv_conn_nice_bulk();
}

/*
 * Give c a slot, or say which cap refuses it.  Under conn_lock.  The scan
 * of the list is bounded by max_connections and runs once per accept.
 */
static atomic64_t *skv_conn_admit(struct skv_node *node, struct skv_conn *c)
{
	struct skv_conn_stats *cs = &node->conn_stats;
	u32 max = READ_ONCE(skv_max_connections);
	u32 per_addr = READ_ONCE(skv_max_connections_per_addr);
	u32 peers = min(READ_ONCE(skv_peer_connections), max);
	struct skv_conn *o;
	u32 same = 0;

	if ((u32)atomic_read(&node->nconns) >= max)
		return &cs->refused_full;
	if (per_addr) {
		list_for_each_entry(o, &node->conns, list)
			same += o->slot != SKV_SLOT_PEER &&
				skv_addr_equal(&o->xprt->peer, &c->xprt->peer);
		if (same >= per_addr)
			return &cs->refused_addr;
	}
	if (node->nclients < max - peers) {
		c->slot = SKV_SLOT_CLIENT;
		node->nclients++;
	} else {
		c->slot = SKV_SLOT_PROVISIONAL;
	}
	atomic_inc(&node->nconns);
	return NULL;
}

void skv_conn_peer_authenticated(struct skv_conn *c)
{
	struct skv_node *node = c->node;

	spin_lock(&node->conn_lock);
	if (c->slot == SKV_SLOT_CLIENT)
		node->nclients--;
	c->slot = SKV_SLOT_PEER;
	spin_unlock(&node->conn_lock);
}

int skv_conn_start(struct skv_node *node, struct skv_transport *t)
{
	atomic64_t *refused;
	struct skv_conn *c;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c) {
		t->ops->release(t);
		return -ENOMEM;
	}
	c->node = node;
	c->xprt = t;
	c->idle_since = jiffies;
	INIT_WORK(&c->work, skv_conn_work);
	timer_setup(&c->timer, skv_conn_timer, 0);
	skv_tgt_park_init(c);
	t->owner = c;

	/* On the list from here, so the per-address count sees it. */
	spin_lock(&node->conn_lock);
	refused = node->conns_closing ? NULL : skv_conn_admit(node, c);
	if (!refused && !node->conns_closing) {
		list_add_tail(&c->list, &node->conns);
		/* Runs while there are connections (a no-op if queued). */
		queue_delayed_work(skv_wq, &node->conn_sweep,
				   SKV_CONN_SWEEP_EVERY);
	}
	spin_unlock(&node->conn_lock);
	if (refused || c->slot == SKV_SLOT_NONE) {
		if (refused)
			atomic64_inc(refused);
		/* Reset: a refused flood leaves no sockets lingering. */
		t->ops->shutdown(t, true);
		t->ops->release(t);
		kfree(c);
		return refused ? -EBUSY : -ESHUTDOWN;
	}
	atomic64_inc(&node->conn_stats.accepted);
	t->ops->watch(t, skv_conn_ready);
	/* What arrived before the callbacks were in place. */
	queue_work(skv_conn_wq, &c->work);
	return 0;
}

void skv_conn_reap_work(struct work_struct *work)
{
	struct skv_node *node = container_of(work, struct skv_node,
					     reap_work);
	struct skv_conn *c, *tmp;
	LIST_HEAD(dead);

	spin_lock(&node->conn_lock);
	list_for_each_entry_safe(c, tmp, &node->conns, list) {
		if (c->dead)
			list_move_tail(&c->list, &dead);
	}
	spin_unlock(&node->conn_lock);

	list_for_each_entry_safe(c, tmp, &dead, list) {
		list_del(&c->list);
		skv_conn_free(c, false);
	}
}

void skv_conn_sweep_work(struct work_struct *work)
{
	struct skv_node *node = container_of(to_delayed_work(work),
					     struct skv_node, conn_sweep);
	struct skv_conn *c;

	spin_lock(&node->conn_lock);
	if (node->conns_closing) {
		spin_unlock(&node->conn_lock);
		return;
	}
	list_for_each_entry(c, &node->conns, list) {
		/* Its run's fields, read racily: the run decides again. */
		if (data_race(!c->dead && (skv_conn_overdue(c) ||
					   skv_conn_trimmable(c))))
			queue_work(skv_conn_wq, &c->work);
	}
	if (!list_empty(&node->conns))
		queue_delayed_work(skv_wq, &node->conn_sweep,
				   SKV_CONN_SWEEP_EVERY);
	spin_unlock(&node->conn_lock);
}

void skv_conns_stop(struct skv_node *node)
{
	struct skv_conn *c, *tmp;
	LIST_HEAD(all);

	spin_lock(&node->conn_lock);
	node->conns_closing = true;
	list_splice_init(&node->conns, &all);
	spin_unlock(&node->conn_lock);
	cancel_delayed_work_sync(&node->conn_sweep);

	list_for_each_entry_safe(c, tmp, &all, list) {
		list_del(&c->list);
		skv_conn_free(c, true);
	}
	/* Every connection is gone, so nothing queues the reaper any more. */
	cancel_work_sync(&node->reap_work);
}

int skv_conns_init(void)
{
	/* Per CPU: a connection runs where its packets came in. */
	skv_conn_wq = alloc_workqueue("skv-conn", 0, WQ_MAX_ACTIVE);
	return skv_conn_wq ? 0 : -ENOMEM;
}

void skv_conns_exit(void)
{
	destroy_workqueue(skv_conn_wq);
}
