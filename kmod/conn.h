/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A client connection of a node: one kernel thread reading frames
 * (wire.h) from its transport, answering them in order, and sending the
 * replies of every batch of pipelined requests at once.
 *
 * Memory per connection is bounded: the input buffer holds at most one
 * largest frame (SKV_IBUF_MAX), the output buffer at most a batch of
 * replies plus one largest reply (SKV_OBUF_MAX).
 */
#ifndef SKV_CONN_H
#define SKV_CONN_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/stddef.h>
#include <linux/unaligned.h>
#include <steadykv/wire.h>

struct skv_node;
struct skv_transport;

#define SKV_HDR_LEN		((u32)sizeof(struct skv_hdr))
#define SKV_IBUF_INIT		(16u * 1024)
#define SKV_IBUF_MAX		(SKV_HDR_LEN + SKV_MAX_BODY_LEN)
#define SKV_OBUF_INIT		(16u * 1024)
/* Replies pending past this are sent before the next request is handled. */
#define SKV_OBUF_BATCH		(64u * 1024)
/* Largest reply: a header and a body of at most SKV_MAX_BODY_LEN. */
#define SKV_REPLY_MAX		(SKV_HDR_LEN + SKV_MAX_BODY_LEN)
#define SKV_OBUF_MAX		(SKV_OBUF_BATCH + SKV_REPLY_MAX)

struct skv_conn {
	struct list_head list;		/* node->conns, under node->conn_lock */
	struct skv_node *node;
	struct skv_transport *xprt;
	struct task_struct *task;	/* referenced until reaped */
	bool dead;			/* thread has ended; under conn_lock */

	u8 *ibuf;			/* received bytes, frames from offset 0 */
	u32 icap;
	u32 ilen;
	u8 *obuf;			/* replies not yet sent */
	u32 ocap;
	u32 olen;

	/* Batch-local counts, added to the node's counters per batch. */
	u32 nreq;
	u32 nbad;
	bool wrote;			/* a PUT/DELETE ran in this batch */
	u32 retry_us;			/* hint for the next RETRY reply, 0: default */
};

/*
 * Take a new connection: counts it against max_connections and starts its
 * thread, or closes it at once.  Owns t in every case.
 */
int skv_conn_start(struct skv_node *node, struct skv_transport *t);

/* Reaper work: frees connections whose thread has ended. */
void skv_conn_reap_work(struct work_struct *work);

/*
 * Namespace exit: refuse new connections, reset every connection, stop
 * their threads and free them.  The listener must already be stopped.
 */
void skv_conns_stop(struct skv_node *node);

/*
 * Make room for n more bytes past the pending replies (c->obuf + c->olen),
 * growing the buffer in place.  0, -ENOMEM, or -EMSGSIZE if the bound
 * would be exceeded (a bug: replies are never larger than SKV_REPLY_MAX).
 */
int skv_out_reserve(struct skv_conn *c, u32 n);

/*
 * Handle one complete request frame (header already checked: magic,
 * version, reserved fields, body length) and append its reply to c->obuf.
 * Returns 0, or a negative errno that closes the connection (out of
 * memory); bad input is answered, never an error.
 */
int skv_request_handle(struct skv_conn *c, const struct skv_hdr *h,
		       const u8 *body, u32 body_len);

/* Append a reply header for request h. */
void skv_put_reply_hdr(void *p, const struct skv_hdr *h, u8 status,
		       u32 body_len);

/* Append a reply with body (len bytes, may be NULL when len is 0). */
int skv_reply(struct skv_conn *c, const struct skv_hdr *h, u8 status,
	      const void *body, u32 len);
/* Answer bad input (BAD_REQUEST, TOO_BIG, UNKNOWN_OP): counted. */
int skv_reply_bad(struct skv_conn *c, const struct skv_hdr *h, u8 status);

/* Field readers for a request body at any alignment (frames are unaligned). */
#define SKV_LE16(body, type, field) \
	get_unaligned_le16((body) + offsetof(type, field))
#define SKV_LE32(body, type, field) \
	get_unaligned_le32((body) + offsetof(type, field))
#define SKV_LE64(body, type, field) \
	get_unaligned_le64((body) + offsetof(type, field))

#endif /* SKV_CONN_H */
