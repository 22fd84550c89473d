// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv client connections: framing, pipelining and lifetime.
 *
 * Model: one kernel thread per connection.  It blocks in the transport's
 * recv, handles every complete frame in its input buffer, gathers the
 * replies in its output buffer and sends them in one go before it blocks
 * again.  Chosen over socket callbacks + a workqueue because a blocking
 * loop has no re-entrancy and no callback teardown to get wrong, memory
 * stays bounded per connection, and connections are capped by
 * max_connections (default 256 per node), so the thread count is too.
 *
 * No lock-up by connections: every wait is bounded.  A connection with no
 * request in progress is closed after idle_timeout_s; once the first byte
 * of a frame has arrived, the whole frame must arrive within
 * frame_timeout_s; a batch of replies must be taken by the peer within
 * reply_timeout_s, however slowly it reads.  Slots: one source address
 * holds at most max_connections_per_addr of them, and the last
 * peer_connections of max_connections are kept for node-to-node peers.
 * A connection is known to be a peer only once it authenticates
 * (skv_conn_peer_authenticated()), so one accepted while the client share
 * is full is provisional: it may only authenticate, within
 * frame_timeout_s; any other request is refused with BUSY and it closes.
 *
 * Lifetime: a connection is on node->conns from start until it is reaped.
 * When its thread ends on its own (peer closed, error, bad header) it marks
 * itself dead and queues node->reap_work, which takes it off the list,
 * waits for the thread with kthread_stop() (so no thread still runs module
 * code after it is freed) and frees it.  At namespace exit (and so at
 * module unload) skv_conns_stop() closes the list to new entries, takes
 * every connection off it, shuts every transport down (which wakes a
 * thread blocked in recv or send: kthread_stop alone would not), stops the
 * threads and frees the connections.  Whoever takes a connection off the
 * list owns its teardown.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/kthread.h>
#include <linux/sched/task.h>
#include <linux/string.h>

#include "node.h"
#include "conn.h"
#include "auth_request.h"
#include "reply.h"
#include "request.h"
#include "repl_primary.h"
#include "transport.h"
#include "metrics.h"

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

static void skv_conn_free(struct skv_conn *c)
{
	struct skv_node *node = c->node;

	c->xprt->ops->release(c->xprt);
	skv_auth_conn_release(c);
	skv_repl_conn_release(c);
	kvfree(c->ibuf);
	kvfree(c->obuf);
	if (c->task)
		put_task_struct(c->task);
	spin_lock(&node->conn_lock);
	skv_conn_unslot(c);
	spin_unlock(&node->conn_lock);
	kfree(c);
}

/*
 * Send every pending reply with one transport send, by the reply deadline.
 * The writes among them are acknowledged only once their backups hold
 * them: a reply of one they do not is dropped, and so are the replies
 * after it, and the connection closes (-EIO).
 */
static int skv_conn_flush(struct skv_conn *c)
{
	struct kvec iov = { .iov_base = c->obuf };
	long timeo = skv_timeout(&skv_reply_timeout_s);
	int err, repl;

	if (!c->olen)
		return 0;
	repl = skv_repl_settle(c);
	iov.iov_len = c->olen;
	err = c->olen ? c->xprt->ops->send(c->xprt, &iov, 1, c->olen,
					   jiffies + min(timeo, LONG_MAX / 2)) :
			0;
	c->olen = 0;
	if (err == -ETIMEDOUT)
		atomic64_inc(&c->node->conn_stats.closed_reply);
	return err ?: repl;
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

/* Answer a bad header (best effort) before the connection is closed. */
static void skv_conn_reject(struct skv_conn *c, const struct skv_hdr *h,
			    int status, bool reply)
{
	/* Best effort: out of memory, the connection closes all the same. */
	if (reply)
		skv_reply_bad(c, h, status);
	else
		c->nbad++;
	/* The replies to the frames before it are owed all the same. */
	skv_conn_flush(c);
}

/*
 * Handle every complete frame in the input buffer, then keep the partial
 * one (if any) at the start of the buffer, grown to hold all of it.
 * Returns 0, or a negative errno to close the connection.
 */
static int skv_conn_process(struct skv_conn *c)
{
	struct skv_hdr h;
	u32 off = 0, flen;
	bool reply;
	int status, err = 0;

	while (c->ilen - off >= SKV_HDR_LEN) {
		memcpy(&h, c->ibuf + off, SKV_HDR_LEN);
		status = skv_check_hdr(&h, &reply);
		if (status != SKV_S_OK) {
			skv_conn_reject(c, &h, status, reply);
			return -EPROTO;
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
			skv_conn_flush(c);
			return -EBUSY;
		}
		err = skv_metrics_handle(c, &h, c->ibuf + off + SKV_HDR_LEN,
					 flen - SKV_HDR_LEN);
		if (err)
			return err;
		if (c->close_after_reply) {
			skv_conn_flush(c);
			return -ECONNRESET;
		}
		off += flen;
		if (c->olen >= SKV_OBUF_BATCH) {
			err = skv_conn_flush(c);
			if (err)
				return err;
		}
		/* A full buffer can hold thousands of small requests. */
		cond_resched();
	}

	if (off) {
		memmove(c->ibuf, c->ibuf + off, c->ilen - off);
		c->ilen -= off;
		/* The frame left over began in this read at the latest. */
		c->frame_since = jiffies;
	}
	/* A partial frame whose header is checked: make room for all of it. */
	if (c->ilen >= SKV_HDR_LEN) {
		memcpy(&h, c->ibuf, SKV_HDR_LEN);
		flen = SKV_HDR_LEN + le32_to_cpu(h.body_len);
		if (flen > c->icap) {
			err = skv_buf_resize(&c->ibuf, &c->icap, c->ilen,
					     max(flen, min(2 * c->icap,
							   SKV_IBUF_MAX)));
		}
	}
	return err;
}

/*
 * How long the next read may wait: what is left of the frame deadline
 * while a frame is partly in, else of the idle timeout (the frame
 * deadline for a provisional connection, which must only authenticate).
 * A value <= 0 means the deadline has passed; *stat is its counter.
 */
static long skv_conn_read_timeo(struct skv_conn *c, atomic64_t **stat)
{
	struct skv_conn_stats *cs = &c->node->conn_stats;
	unsigned long since;
	long timeo;

	if (c->ilen || c->slot == SKV_SLOT_PROVISIONAL) {
		timeo = skv_timeout(&skv_frame_timeout_s);
		since = c->ilen ? c->frame_since : c->idle_since;
		*stat = &cs->closed_frame;
	} else {
		timeo = skv_timeout(&skv_idle_timeout_s);
		since = c->idle_since;
		*stat = &cs->closed_idle;
	}
	if (timeo == MAX_SCHEDULE_TIMEOUT)
		return timeo;
	return timeo - (long)(jiffies - since);
}

/*
 * Read more input.  With replies pending, first take whatever is already
 * queued without blocking, so pipelined requests that arrived in several
 * segments are answered in one batch; only before blocking are the
 * pending replies sent.  Returns bytes read, 0 at end of stream, or a
 * negative errno (-ETIMEDOUT when a read deadline passed).
 */
static int skv_conn_fill(struct skv_conn *c)
{
	struct skv_transport *t = c->xprt;
	atomic64_t *stat;
	long timeo;
	int n;

	for (;;) {
		if (c->olen) {
			n = t->ops->recv(t, c->ibuf + c->ilen,
					 c->icap - c->ilen, 0);
			if (n != -EAGAIN)
				return n;
			skv_conn_account(c);
			n = skv_conn_flush(c);
			if (n)
				return n;
		}
		timeo = skv_conn_read_timeo(c, &stat);
		if (timeo <= 0) {
			atomic64_inc(stat);
			return -ETIMEDOUT;
		}
		n = t->ops->recv(t, c->ibuf + c->ilen, c->icap - c->ilen,
				 timeo);
		if (n == -EAGAIN || n == -EINTR || n == -ERESTARTSYS) {
			/* A read timeout (checked above) or a stop request. */
			if (kthread_should_stop())
				return 0;
			continue;
		}
		return n;
	}
}

static int skv_conn_thread(void *arg)
{
	struct skv_conn *c = arg;
	struct skv_node *node = c->node;
	int n = 0;

	while (!kthread_should_stop()) {
		n = skv_conn_fill(c);
		if (n <= 0) {
			/* After a half-close, still answer what was asked. */
			if (!n)
				skv_conn_flush(c);
			break;
		}
		if (!c->ilen)
			c->frame_since = jiffies;
		c->ilen += n;
		n = skv_conn_process(c);
		if (n)
			break;
		if (!c->ilen)
			c->idle_since = jiffies;
	}
	/* A deadline passed: reset, so no queued reply waits on a slow peer. */
	if (n == -ETIMEDOUT)
		c->xprt->ops->shutdown(c->xprt, true);
	skv_conn_account(c);

	spin_lock(&node->conn_lock);
	c->dead = true;
	if (!node->conns_closing)
		queue_work(skv_wq, &node->reap_work);
	spin_unlock(&node->conn_lock);
	return 0;
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
	struct task_struct *task;
	atomic64_t *refused;
	struct skv_conn *c;
	int err = -ENOMEM;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c) {
		t->ops->release(t);
		return -ENOMEM;
	}
	c->node = node;
	c->xprt = t;
	c->idle_since = jiffies;

	/* On the list from here, so the per-address count sees it. */
	spin_lock(&node->conn_lock);
	refused = node->conns_closing ? NULL : skv_conn_admit(node, c);
	if (!refused && !node->conns_closing)
		list_add_tail(&c->list, &node->conns);
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

	c->ibuf = kvmalloc(SKV_IBUF_INIT, GFP_KERNEL);
	c->obuf = kvmalloc(SKV_OBUF_INIT, GFP_KERNEL);
	if (!c->ibuf || !c->obuf)
		goto err_unlist;
	c->icap = SKV_IBUF_INIT;
	c->ocap = SKV_OBUF_INIT;

	task = kthread_create(skv_conn_thread, c, "skv-conn/%d",
			      atomic_inc_return(&node->conn_seq));
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		goto err_unlist;
	}
	/* Held until reaped, so kthread_stop() works after the thread ends. */
	c->task = get_task_struct(task);
	wake_up_process(task);
	return 0;

err_unlist:
	/* Not started: the reaper skips it, skv_conns_stop() cannot run yet. */
	spin_lock(&node->conn_lock);
	list_del(&c->list);
	spin_unlock(&node->conn_lock);
	skv_conn_free(c);
	return err;
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
		kthread_stop(c->task);
		skv_conn_free(c);
	}
}

void skv_conns_stop(struct skv_node *node)
{
	struct skv_conn *c, *tmp;
	LIST_HEAD(all);

	spin_lock(&node->conn_lock);
	node->conns_closing = true;
	list_splice_init(&node->conns, &all);
	spin_unlock(&node->conn_lock);

	/* Wake every thread first, so they all end in parallel. */
	list_for_each_entry(c, &all, list)
		c->xprt->ops->shutdown(c->xprt, true);
	list_for_each_entry_safe(c, tmp, &all, list) {
		list_del(&c->list);
		if (c->task)
			kthread_stop(c->task);
		skv_conn_free(c);
	}
	/* Threads are gone, so nothing queues the reaper any more. */
	cancel_work_sync(&node->reap_work);
}
