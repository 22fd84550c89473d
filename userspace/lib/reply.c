// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Replies: read the next one, check it against the oldest pending request
 * and decode its body.  Every length comes from the peer, so each is checked
 * against what is actually buffered before a byte is touched; anything off
 * is SKV_E_PROTO, which is sticky because the stream has lost its framing.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <steadykv/auth.h>

#include "internal.h"

_Static_assert(sizeof(struct skv_val_reply) == 16, "skv_val_reply is 16 bytes");
_Static_assert(sizeof(struct skv_ver_reply) == 8, "skv_ver_reply is 8 bytes");
_Static_assert(sizeof(struct skv_retry_reply) == 8, "skv_retry_reply is 8 bytes");
_Static_assert(sizeof(struct skv_multi_reply) == 8, "skv_multi_reply is 8 bytes");
_Static_assert(sizeof(struct skv_multi_item) == 16, "skv_multi_item is 16 bytes");

static const char *op_name(uint8_t op)
{
	static const char *const names[] = {
		[SKV_OP_PING] = "PING", [SKV_OP_GET] = "GET", [SKV_OP_PUT] = "PUT",
		[SKV_OP_DELETE] = "DELETE", [SKV_OP_MULTI_GET] = "MULTI-GET",
		[SKV_OP_AUTH_HELLO] = "AUTH_HELLO", [SKV_OP_AUTH_PROOF] = "AUTH_PROOF",
	};

	return op < SKV_OP_MAX && names[op] ? names[op] : "?";
}

/* The largest body a reply to this request may have. */
static size_t max_reply_body(const struct skv_pending *p)
{
	size_t multi;

	if (p->opcode != SKV_OP_MULTI_GET)
		return SKV_MAX_BODY_LEN;
	multi = sizeof(struct skv_multi_reply) + (size_t)p->key_count *
		(sizeof(struct skv_multi_item) + SKV_MAX_VALUE_LEN);
	return multi > SKV_MAX_BODY_LEN ? multi : SKV_MAX_BODY_LEN;
}

static int check_header(struct skv_conn *c, const struct skv_pending *p,
			const uint8_t *h, uint8_t *status, uint32_t *body_len)
{
	uint16_t magic = skv_get_le16(h + offsetof(struct skv_hdr, magic));
	uint8_t version = h[offsetof(struct skv_hdr, version)];
	uint8_t opcode = h[offsetof(struct skv_hdr, opcode)];
	uint8_t flags = h[offsetof(struct skv_hdr, flags)];
	uint16_t rsv = skv_get_le16(h + offsetof(struct skv_hdr, reserved));
	uint64_t id = skv_get_le64(h + offsetof(struct skv_hdr, request_id));
	uint32_t len = skv_get_le32(h + offsetof(struct skv_hdr, body_len));
	uint32_t rsv2 = skv_get_le32(h + offsetof(struct skv_hdr, epoch));

	*status = h[offsetof(struct skv_hdr, status)];
	*body_len = len;
	if (magic != SKV_WIRE_MAGIC)
		return skv_fail(c, SKV_E_PROTO, "bad magic 0x%04x in reply", magic);
	if (version != SKV_WIRE_VERSION)
		return skv_fail(c, SKV_E_PROTO, "reply has wire version %u, expected %u",
				version, SKV_WIRE_VERSION);
	if (flags != SKV_F_REPLY)
		return skv_fail(c, SKV_E_PROTO, "reply has flags 0x%02x, expected 0x%02x",
				flags, SKV_F_REPLY);
	if (rsv || rsv2)
		return skv_fail(c, SKV_E_PROTO, "reply has non-zero reserved header fields");
	if (id != p->request_id)
		return skv_fail(c, SKV_E_PROTO,
				"reply for request id %" PRIu64 ", expected %" PRIu64,
				id, p->request_id);
	if (opcode != p->opcode)
		return skv_fail(c, SKV_E_PROTO, "reply has opcode %u, expected %u (%s)",
				opcode, p->opcode, op_name(p->opcode));
	if (*status >= SKV_S_MAX)
		return skv_fail(c, SKV_E_PROTO, "reply has unknown status %u", *status);
	if (len > max_reply_body(p))
		return skv_fail(c, SKV_E_PROTO, "%s reply body of %u bytes is over the limit",
				op_name(opcode), len);
	return 0;
}

static int bad_len(struct skv_conn *c, const struct skv_pending *p, uint8_t status,
		   uint32_t len, const char *want)
{
	return skv_fail(c, SKV_E_PROTO, "%s reply (%s) body is %u bytes, expected %s",
			op_name(p->opcode), skv_code_name(-(int)status), len, want);
}

static int parse_multi(struct skv_conn *c, const struct skv_pending *p,
		       const uint8_t *b, uint32_t len, struct skv_result *r)
{
	size_t off = sizeof(struct skv_multi_reply);
	unsigned int count;

	if (len < off)
		return bad_len(c, p, SKV_S_OK, len, "at least 8");
	count = skv_get_le16(b + offsetof(struct skv_multi_reply, count));
	if (count != p->key_count)
		return skv_fail(c, SKV_E_PROTO, "MULTI-GET reply has %u items for %u keys",
				count, p->key_count);
	if (count > c->items_cap) {
		struct skv_item *items = realloc(c->items, count * sizeof(*items));

		if (!items)
			return skv_fail(c, SKV_E_NOMEM, "no memory for %u items", count);
		c->items = items;
		c->items_cap = count;
	}
	for (unsigned int i = 0; i < count; i++) {
		struct skv_item *it = &c->items[i];
		const uint8_t *m = b + off;
		uint8_t st;

		if (len - off < sizeof(struct skv_multi_item))
			return skv_fail(c, SKV_E_PROTO, "MULTI-GET reply truncated at item %u", i);
		st = m[offsetof(struct skv_multi_item, status)];
		it->value_len = skv_get_le32(m + offsetof(struct skv_multi_item, value_len));
		it->version = skv_get_le64(m + offsetof(struct skv_multi_item, version));
		off += sizeof(struct skv_multi_item);
		if (st >= SKV_S_MAX)
			return skv_fail(c, SKV_E_PROTO, "MULTI-GET item %u has unknown status %u",
					i, st);
		if (st != SKV_S_OK && it->value_len)
			return skv_fail(c, SKV_E_PROTO,
					"MULTI-GET item %u has status %u and a value", i, st);
		if (it->value_len > len - off)
			return skv_fail(c, SKV_E_PROTO,
					"MULTI-GET item %u value of %u bytes overruns the body",
					i, it->value_len);
		it->status = -(int)st;
		it->value = b + off;
		off += it->value_len;
	}
	if (off != len)
		return skv_fail(c, SKV_E_PROTO, "MULTI-GET reply has %zu trailing bytes",
				len - off);
	r->item_count = count;
	r->items = c->items;
	return 0;
}

static int parse_body(struct skv_conn *c, const struct skv_pending *p, uint8_t status,
		      const uint8_t *b, uint32_t len, struct skv_result *r)
{
	r->status = -(int)status;
	switch (status) {
	case SKV_S_OK:
		break;
	case SKV_S_NOT_FOUND:
	case SKV_S_VERSION_MISMATCH:
		if (len != sizeof(struct skv_ver_reply))
			return bad_len(c, p, status, len, "8");
		r->version = skv_get_le64(b);
		return 0;
	case SKV_S_RETRY:
		if (len != sizeof(struct skv_retry_reply))
			return bad_len(c, p, status, len, "8");
		r->retry_us = skv_get_le32(b);
		c->retry_us = r->retry_us;
		return 0;
	default:
		/* Documented as empty; anything else is skipped, never read. */
		return 0;
	}

	switch (p->opcode) {
	case SKV_OP_PING:
		if (len)
			return bad_len(c, p, status, len, "0");
		return 0;
	case SKV_OP_GET: {
		uint32_t vlen;

		if (len < sizeof(struct skv_val_reply))
			return bad_len(c, p, status, len, "at least 16");
		vlen = skv_get_le32(b + offsetof(struct skv_val_reply, value_len));
		if (vlen != len - sizeof(struct skv_val_reply))
			return skv_fail(c, SKV_E_PROTO,
					"GET reply value_len %u does not match body of %u bytes",
					vlen, len);
		r->version = skv_get_le64(b + offsetof(struct skv_val_reply, version));
		r->value_len = vlen;
		r->value = b + sizeof(struct skv_val_reply);
		return 0;
	}
	case SKV_OP_PUT:
	case SKV_OP_DELETE:
		if (len != sizeof(struct skv_ver_reply))
			return bad_len(c, p, status, len, "8");
		r->version = skv_get_le64(b);
		return 0;
	case SKV_OP_MULTI_GET:
		return parse_multi(c, p, b, len, r);
	case SKV_OP_AUTH_HELLO:
		if (len != sizeof(struct skv_auth_challenge))
			return bad_len(c, p, status, len, "64");
		r->value_len = len;
		r->value = b;
		return 0;
	case SKV_OP_AUTH_PROOF:
		if (len)
			return bad_len(c, p, status, len, "0");
		return 0;
	default:
		return skv_fail(c, SKV_E_PROTO, "reply to unknown opcode %u", p->opcode);
	}
}

int skv_pipe_next(struct skv_conn *c, struct skv_result *r)
{
	const struct skv_pending *p;
	uint32_t body_len;
	uint8_t status;
	int rc;

	memset(r, 0, sizeof(*r));
	if (c->err)
		return c->err;
	skv_drop_consumed(c);
	if (!c->count)
		return SKV_E_EMPTY;
	p = &c->pending[c->head];

	rc = skv_pump(c, SKV_HDR_LEN);
	if (rc)
		return rc;
	rc = check_header(c, p, c->in.data + c->in.off, &status, &body_len);
	if (rc)
		return rc;
	rc = skv_pump(c, SKV_HDR_LEN + (size_t)body_len);
	if (rc)
		return rc;

	/* The buffer may have moved while filling: take pointers only now. */
	r->cookie = p->cookie;
	r->request_id = p->request_id;
	r->opcode = p->opcode;
	rc = parse_body(c, p, status, c->in.data + c->in.off + SKV_HDR_LEN, body_len, r);
	if (rc) {
		memset(r, 0, sizeof(*r));
		return rc;
	}
	c->consume = SKV_HDR_LEN + (size_t)body_len;
	c->head = (c->head + 1) % c->max_pending;
	c->count--;
	return 0;
}
