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
 * front of it and appends the whole.
 */
static inline u8 *skv_reply_tail(struct skv_conn *c, u32 head_len)
{
	return c->obuf + c->olen + SKV_HDR_LEN + head_len;
}

void skv_reply_finish(struct skv_conn *c, const struct skv_hdr *h, u8 status,
		      const void *head, u32 head_len, u32 tail_len);

#endif /* SKV_REPLY_H */
