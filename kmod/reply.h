/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every op handler (request.c, mig_source.c) and the connection
 * loop (conn.c) use to read a request body and to append its reply to
 * the connection's output buffer.  Nothing here calls back into them:
 * conn.c -> request.c -> mig_source.c, and all of them -> reply.c.
 */
#ifndef SKV_REPLY_H
#define SKV_REPLY_H

#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/unaligned.h>
#include <linux/bvec.h>
#include <steadykv/wire.h>

#include "conn.h"

/* Field readers for a request body at any alignment (frames are unaligned). */
#define SKV_LE16(body, type, field) \
	get_unaligned_le16((body) + offsetof(type, field))
#define SKV_LE32(body, type, field) \
	get_unaligned_le32((body) + offsetof(type, field))
#define SKV_LE64(body, type, field) \
	get_unaligned_le64((body) + offsetof(type, field))

/*
 * A connection's buffers are counted per node (the memory kvmalloc gives
 * them) and held to conn_buffers_mb in total, so that connections that
 * each stay within their own bound cannot together take the machine's
 * memory.  Count c's buffer going from `from` bytes to `to` (0: none):
 * false, counted in closed_buffers (the connection is to close), if it
 * grows past the bound, refusable, and c is not an authenticated peer.  A
 * connection's first buffers are not refusable: they are what it needs
 * to authenticate as a peer, and max_connections of them at most.
 */
bool skv_conn_buf_charge(struct skv_conn *c, u32 from, u32 to, bool refusable);
/*
 * Replace *buf (holding len bytes, cap of them allocated) by a buffer of
 * size bytes, charged to c's node.  0, -ENOBUFS past conn_buffers_mb, or
 * -ENOMEM.
 */
int skv_conn_buf_resize(struct skv_conn *c, u8 **buf, u32 *cap, u32 len,
			u32 size);

/*
 * Make room for n more bytes past the pending replies (c->obuf + c->olen),
 * growing the buffer in place.  0, -ENOBUFS, -ENOMEM, or -EMSGSIZE if the bound
 * would be exceeded (a bug: replies are never larger than SKV_REPLY_MAX).
 */
int skv_out_reserve(struct skv_conn *c, u32 n);

/* Append a reply with body (len bytes, may be NULL when len is 0). */
int skv_reply(struct skv_conn *c, const struct skv_hdr *h, u8 status,
	      const void *body, u32 len);
/* Answer bad input (BAD_REQUEST, TOO_BIG, UNKNOWN_OP): counted. */
int skv_reply_bad(struct skv_conn *c, const struct skv_hdr *h, u8 status);

/*
 * A reply built in place, so that a value or a batch is copied once:
 * reserve room, write the tail at skv_reply_tail(c, head_len), then
 * skv_reply_finish() puts the header and the head (head_len bytes) in
 * front of it and appends the whole.  With skv_reply_finish_spliced(),
 * spliced bytes of the tail are pieces sent from log pages
 * (skv_out_splice()) instead of bytes at skv_reply_tail().
 */
static inline u8 *skv_reply_tail(struct skv_conn *c, u32 head_len)
{
	return c->obuf + c->olen + SKV_HDR_LEN + head_len;
}

void skv_reply_finish_spliced(struct skv_conn *c, const struct skv_hdr *h,
			      u8 status, const void *head, u32 head_len,
			      u32 tail_len, u32 spliced);

static inline void skv_reply_finish(struct skv_conn *c,
				    const struct skv_hdr *h, u8 status,
				    const void *head, u32 head_len,
				    u32 tail_len)
{
	skv_reply_finish_spliced(c, h, status, head, head_len, tail_len, 0);
}

/*
 * Pieces of the pending replies sent from log pages instead of c->obuf:
 * bv[i] goes right before c->obuf[at[i]] (at is non-decreasing), each
 * page referenced until the transport took it (and then the socket holds
 * its own reference until the bytes are acknowledged).  A reply always
 * begins with its header in obuf, so a piece at offset at belongs to the
 * reply that holds byte at - 1.
 */
struct skv_out_pages {
	struct bio_vec bv[SKV_OUT_PAGES];
	u32 at[SKV_OUT_PAGES];
	u32 n;
	u32 sent;		/* bv[0..sent) are sent */
	u32 sent_bytes;		/* of bv[sent] */
};

/*
 * Give c room for pieces (kept until c's buffers are freed, charged to
 * conn_buffers_mb).  0, -ENOBUFS or -ENOMEM.
 */
int skv_out_pages_alloc(struct skv_conn *c);

/*
 * Send the len bytes at p (log memory, not slab: a record in a segment) from
 * their pages, before c->obuf[at].  Takes a reference on each page, so p may
 * be freed meanwhile.  Atomic-safe.  0; or, and the caller copies the
 * bytes instead, -ENOSPC when c holds SKV_OUT_PAGES pieces or has no room
 * for any (skv_out_pages_alloc()), -EINVAL for memory that cannot be sent
 * from its pages.
 */
int skv_out_splice(struct skv_conn *c, const void *p, u32 len, u32 at);

/* Drop the pending replies from c->obuf[olen] on, and their pieces. */
void skv_out_cut(struct skv_conn *c, u32 olen);

/* Let go of every piece (the replies are sent, or never will be). */
void skv_out_pages_release(struct skv_conn *c);

#endif /* SKV_REPLY_H */
