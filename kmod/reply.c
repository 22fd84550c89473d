// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv replies: the connection's output buffer and the replies
 * appended to it (wire.h framing).  See reply.h.
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/net.h>

#include "node.h"
#include "reply.h"

/* The memory a buffer of size bytes takes (kvmalloc rounds it up). */
static s64 skv_conn_buf_cost(u32 size)
{
	return size ? kmalloc_size_roundup(size) : 0;
}

bool skv_conn_buf_charge(struct skv_conn *c, u32 from, u32 to, bool refusable)
{
	struct skv_conn_stats *cs = &c->node->conn_stats;
	s64 limit = (s64)READ_ONCE(skv_conn_buffers_mb) << 20;
	s64 n = skv_conn_buf_cost(to) - skv_conn_buf_cost(from);
	s64 old = atomic64_read(&cs->buffers);

	refusable = refusable && n > 0 && limit && c->slot != SKV_SLOT_PEER;
	do {
		if (refusable && old + n > limit) {
			atomic64_inc(&cs->closed_buffers);
			return false;
		}
	} while (!atomic64_try_cmpxchg(&cs->buffers, &old, old + n));
	return true;
}

int skv_conn_buf_resize(struct skv_conn *c, u8 **buf, u32 *cap, u32 len,
			u32 size)
{
	u8 *nbuf;

	if (!skv_conn_buf_charge(c, *cap, size, true))
		return -ENOBUFS;
	nbuf = kvmalloc(size, GFP_KERNEL);
	if (!nbuf) {
		skv_conn_buf_charge(c, size, *cap, false);
		return -ENOMEM;
	}
	memcpy(nbuf, *buf, len);
	kvfree(*buf);
	*buf = nbuf;
	*cap = size;
	return 0;
}

int skv_out_reserve(struct skv_conn *c, u32 n)
{
	u32 need;

	if (c->ocap - c->olen >= n)
		return 0;
	need = c->olen + n;
	if (WARN_ON_ONCE(n > SKV_REPLY_MAX || need > SKV_OBUF_MAX))
		return -EMSGSIZE;
	/* Grow by at least half again, so a run of replies grows it rarely. */
	need = clamp_t(u32, max(need, c->ocap + c->ocap / 2), need,
		       SKV_OBUF_MAX);
	/* The reply under construction lies past olen: keep it too. */
	return skv_conn_buf_resize(c, &c->obuf, &c->ocap, c->ocap, need);
}

void skv_reply_finish_spliced(struct skv_conn *c, const struct skv_hdr *h,
			      u8 status, const void *head, u32 head_len,
			      u32 tail_len, u32 spliced)
{
	u32 body_len = head_len + tail_len;
	struct skv_hdr r = {
		.magic = cpu_to_le16(SKV_WIRE_MAGIC),
		.version = SKV_WIRE_VERSION,
		.opcode = h->opcode,
		.flags = SKV_F_REPLY,
		.status = status,
		.request_id = h->request_id,
		.body_len = cpu_to_le32(body_len),
	};

	memcpy(c->obuf + c->olen, &r, sizeof(r));
	if (head_len)
		memcpy(c->obuf + c->olen + SKV_HDR_LEN, head, head_len);
	c->olen += SKV_HDR_LEN + body_len - spliced;
	c->reply_status = status;
}

int skv_reply(struct skv_conn *c, const struct skv_hdr *h, u8 status,
	      const void *body, u32 len)
{
	int err;

	err = skv_out_reserve(c, SKV_HDR_LEN + len);
	if (err)
		return err;
	skv_reply_finish(c, h, status, body, len, 0);
	return 0;
}

int skv_reply_bad(struct skv_conn *c, const struct skv_hdr *h, u8 status)
{
	c->nbad++;
	return skv_reply(c, h, status, NULL, 0);
}

int skv_out_pages_alloc(struct skv_conn *c)
{
	if (c->opages)
		return 0;
	if (!skv_conn_buf_charge(c, 0, sizeof(*c->opages), true))
		return -ENOBUFS;
	c->opages = kzalloc(sizeof(*c->opages), GFP_KERNEL);
	if (c->opages)
		return 0;
	skv_conn_buf_charge(c, sizeof(*c->opages), 0, false);
	return -ENOMEM;
}

static struct page *skv_out_page_of(const void *p)
{
	return is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p);
}

int skv_out_splice(struct skv_conn *c, const void *p, u32 len, u32 at)
{
	struct skv_out_pages *op = c->opages;
	u32 off = offset_in_page(p), i, n, piece;
	const u8 *q = p;

	n = DIV_ROUND_UP(off + len, PAGE_SIZE);
	if (!op || n > SKV_OUT_PAGES - op->n)
		return -ENOSPC;
	for (i = 0; i < n; i++, q += piece, len -= piece, off = 0) {
		struct page *page = skv_out_page_of(q);

		/* A slab object has no pages of its own to share. */
		if (!sendpage_ok(page)) {
			while (i--)
				put_page(op->bv[--op->n].bv_page);
			return -EINVAL;
		}
		piece = min_t(u32, len, PAGE_SIZE - off);
		get_page(page);
		bvec_set_page(&op->bv[op->n], page, piece, off);
		op->at[op->n++] = at;
	}
	return 0;
}

void skv_out_cut(struct skv_conn *c, u32 olen)
{
	struct skv_out_pages *op = c->opages;

	c->olen = olen;
	while (op && op->n > op->sent && op->at[op->n - 1] > olen)
		put_page(op->bv[--op->n].bv_page);
}

void skv_out_pages_release(struct skv_conn *c)
{
	struct skv_out_pages *op = c->opages;

	if (!op)
		return;
	while (op->n)
		put_page(op->bv[--op->n].bv_page);
	op->sent = 0;
	op->sent_bytes = 0;
}
