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
#include "transport.h"

static void skv_conn_free(struct skv_conn *c)
{
	struct skv_node *node = c->node;

	c->xprt->ops->release(c->xprt);
	skv_auth_conn_release(c);
	kvfree(c->ibuf);
	kvfree(c->obuf);
	if (c->task)
		put_task_struct(c->task);
	kfree(c);
	atomic_dec(&node->nconns);
}

int skv_conn_peer_id(struct skv_conn *c, struct skv_peer_id *id)
{
	/* Authentication (auth.h) sets id->authenticated when it lands. */
	memset(id, 0, sizeof(*id));
	return c->xprt->ops->peer_addr(c->xprt, &id->addr);
}

/* Send every pending reply with one transport send. */
static int skv_conn_flush(struct skv_conn *c)
{
	struct kvec iov = { .iov_base = c->obuf, .iov_len = c->olen };
	int err;

	if (!c->olen)
		return 0;
	err = c->xprt->ops->send(c->xprt, &iov, 1, c->olen);
	c->olen = 0;
	return err;
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
	if (h->version != SKV_WIRE_VERSION || h->reserved || h->reserved2)
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
		err = skv_request_handle(c, &h, c->ibuf + off + SKV_HDR_LEN,
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
 * Read more input.  With replies pending, first take whatever is already
 * queued without blocking, so pipelined requests that arrived in several
 * segments are answered in one batch; only before blocking are the
 * pending replies sent.  Returns bytes read, 0 at end of stream, or a
 * negative errno.
 */
static int skv_conn_fill(struct skv_conn *c)
{
	struct skv_transport *t = c->xprt;
	int n;

	for (;;) {
		if (c->olen) {
			n = t->ops->recv(t, c->ibuf + c->ilen,
					 c->icap - c->ilen, true);
			if (n != -EAGAIN)
				return n;
			skv_conn_account(c);
			n = skv_conn_flush(c);
			if (n)
				return n;
		}
		n = t->ops->recv(t, c->ibuf + c->ilen, c->icap - c->ilen,
				 false);
		if (n == -EAGAIN || n == -EINTR || n == -ERESTARTSYS) {
			/* Receive timeout or a stop request. */
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
	int n;

	while (!kthread_should_stop()) {
		n = skv_conn_fill(c);
		if (n <= 0) {
			/* After a half-close, still answer what was asked. */
			if (!n)
				skv_conn_flush(c);
			break;
		}
		c->ilen += n;
		if (skv_conn_process(c))
			break;
	}
	skv_conn_account(c);

	spin_lock(&node->conn_lock);
	c->dead = true;
	if (!node->conns_closing)
		queue_work(skv_wq, &node->reap_work);
	spin_unlock(&node->conn_lock);
	return 0;
}

int skv_conn_start(struct skv_node *node, struct skv_transport *t)
{
	struct task_struct *task;
	struct skv_conn *c;
	int err = -ENOMEM;

	if (atomic_inc_return(&node->nconns) >
	    READ_ONCE(skv_max_connections)) {
		atomic_dec(&node->nconns);
		t->ops->release(t);
		return -EBUSY;
	}

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		goto err_release;
	c->node = node;
	c->xprt = t;
	c->ibuf = kvmalloc(SKV_IBUF_INIT, GFP_KERNEL);
	c->obuf = kvmalloc(SKV_OBUF_INIT, GFP_KERNEL);
	if (!c->ibuf || !c->obuf)
		goto err_free;
	c->icap = SKV_IBUF_INIT;
	c->ocap = SKV_OBUF_INIT;

	task = kthread_create(skv_conn_thread, c, "skv-conn/%d",
			      atomic_inc_return(&node->conn_seq));
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		goto err_free;
	}
	/* Held until reaped, so kthread_stop() works after the thread ends. */
	c->task = get_task_struct(task);

	spin_lock(&node->conn_lock);
	if (node->conns_closing) {
		spin_unlock(&node->conn_lock);
		/* Never woken: kthread_stop() ends it before it runs. */
		kthread_stop(task);
		skv_conn_free(c);
		return -ESHUTDOWN;
	}
	list_add_tail(&c->list, &node->conns);
	spin_unlock(&node->conn_lock);

	wake_up_process(task);
	return 0;

err_free:
	kvfree(c->ibuf);
	kvfree(c->obuf);
	kfree(c);
err_release:
	t->ops->release(t);
	atomic_dec(&node->nconns);
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
		kthread_stop(c->task);
		skv_conn_free(c);
	}
	/* Threads are gone, so nothing queues the reaper any more. */
	cancel_work_sync(&node->reap_work);
}
