// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Requests: encode each one straight into the send buffer and remember it
 * in the pending ring, so its reply can be matched by id and opcode.
 */
#include <stddef.h>
#include <string.h>

#include "internal.h"

/* The offsets below are wire.h's layout; fail the build if it moves. */
_Static_assert(sizeof(struct skv_hdr) == SKV_HDR_LEN, "wire header is 24 bytes");
_Static_assert(offsetof(struct skv_hdr, request_id) == 8, "request_id at 8");
_Static_assert(offsetof(struct skv_hdr, body_len) == 16, "body_len at 16");
_Static_assert(sizeof(struct skv_key_req) == 24, "skv_key_req is 24 bytes");
_Static_assert(offsetof(struct skv_key_req, key_len) == 16, "key_req.key_len at 16");
_Static_assert(sizeof(struct skv_put_req) == 24, "skv_put_req is 24 bytes");
_Static_assert(offsetof(struct skv_put_req, value_len) == 20, "put_req.value_len at 20");
_Static_assert(offsetof(struct skv_put_req, expect_version) ==
	       offsetof(struct skv_key_req, expect_version) &&
	       offsetof(struct skv_put_req, key_len) ==
	       offsetof(struct skv_key_req, key_len),
	       "put_req opens like key_req");
_Static_assert(sizeof(struct skv_multi_req) == 16, "skv_multi_req is 16 bytes");

/* Room check before anything is written, so a refusal changes nothing. */
static int can_queue(struct skv_conn *c, size_t body_len)
{
	size_t queued = c->out.len - c->out.off;

	if (c->err)
		return c->err;
	if (body_len > SKV_MAX_BODY_LEN) {
		skv_set_msg(c, "request body of %zu bytes is over the %u byte limit",
			    body_len, SKV_MAX_BODY_LEN);
		return SKV_E_TOO_BIG;
	}
	if (c->count >= c->max_pending)
		return SKV_E_FULL;
	if (queued && queued + SKV_HDR_LEN + body_len > c->max_queued)
		return SKV_E_FULL;
	skv_drop_consumed(c);
	if (!skv_buf_reserve(&c->out, SKV_HDR_LEN + body_len)) {
		skv_set_msg(c, "no memory to queue a %zu byte request", body_len);
		return SKV_E_NOMEM;
	}
	return 0;
}

/*
 * Write the header, record the request as pending, and return where its
 * body goes.  can_queue() must have succeeded: nothing here can fail.
 */
static uint8_t *begin(struct skv_conn *c, uint8_t op, size_t body_len,
		      uint64_t cookie, uint16_t key_count)
{
	uint8_t *h = c->out.data + c->out.len;
	struct skv_pending *p;

	memset(h, 0, SKV_HDR_LEN);
	skv_put_le16(h + offsetof(struct skv_hdr, magic), SKV_WIRE_MAGIC);
	h[offsetof(struct skv_hdr, version)] = SKV_WIRE_VERSION;
	h[offsetof(struct skv_hdr, opcode)] = op;
	skv_put_le64(h + offsetof(struct skv_hdr, request_id), c->next_id);
	skv_put_le32(h + offsetof(struct skv_hdr, body_len), (uint32_t)body_len);
	skv_put_le32(h + offsetof(struct skv_hdr, epoch), c->epoch);

	p = &c->pending[(c->head + c->count) % c->max_pending];
	p->request_id = c->next_id++;
	p->cookie = cookie;
	p->opcode = op;
	p->key_count = key_count;
	c->count++;

	c->out.len += SKV_HDR_LEN + body_len;
	return h + SKV_HDR_LEN;
}

static int check_key(struct skv_conn *c, const void *key, size_t key_len)
{
	if (c->err)
		return c->err;
	if (!key && key_len)
		return SKV_E_INVAL;
	if (key_len > UINT16_MAX) {
		skv_set_msg(c, "key of %zu bytes cannot be encoded", key_len);
		return SKV_E_TOO_BIG;
	}
	return 0;
}

int skv_queue_body(struct skv_conn *c, uint8_t op, const void *body, size_t body_len)
{
	int rc = can_queue(c, body_len);

	if (rc)
		return rc;
	memcpy(begin(c, op, body_len, 0, 0), body, body_len);
	return 0;
}

int skv_pipe_ping(struct skv_conn *c, uint64_t cookie)
{
	int rc = can_queue(c, 0);

	if (rc)
		return rc;
	begin(c, SKV_OP_PING, 0, cookie, 0);
	return 0;
}

/*
 * Queues a request whose body opens as skv_key_req does (skv_put_req adds
 * only value_len after it), followed by the key; returns the body.
 */
static uint8_t *begin_keyed(struct skv_conn *c, uint8_t op, size_t body_len,
			    uint64_t cookie, uint64_t table,
			    uint64_t expect_version, const void *key,
			    size_t key_len)
{
	uint8_t *b = begin(c, op, body_len, cookie, 0);

	memset(b, 0, sizeof(struct skv_key_req));
	skv_put_le64(b + offsetof(struct skv_key_req, table_id), table);
	skv_put_le64(b + offsetof(struct skv_key_req, expect_version), expect_version);
	skv_put_le16(b + offsetof(struct skv_key_req, key_len), (uint16_t)key_len);
	if (key_len)
		memcpy(b + sizeof(struct skv_key_req), key, key_len);
	return b;
}

/* GET and DELETE share a body: skv_key_req then the key. */
static int queue_key_req(struct skv_conn *c, uint8_t op, uint64_t table,
			 const void *key, size_t key_len, uint64_t expect_version,
			 uint64_t cookie)
{
	size_t body_len = sizeof(struct skv_key_req) + key_len;
	int rc;

	rc = check_key(c, key, key_len);
	if (!rc)
		rc = can_queue(c, body_len);
	if (rc)
		return rc;
	begin_keyed(c, op, body_len, cookie, table, expect_version, key, key_len);
	return 0;
}

int skv_pipe_get(struct skv_conn *c, uint64_t table, const void *key, size_t key_len,
		 uint64_t cookie)
{
	return queue_key_req(c, SKV_OP_GET, table, key, key_len, 0, cookie);
}

int skv_pipe_delete(struct skv_conn *c, uint64_t table, const void *key,
		    size_t key_len, uint64_t expect_version, uint64_t cookie)
{
	return queue_key_req(c, SKV_OP_DELETE, table, key, key_len, expect_version, cookie);
}

int skv_pipe_put(struct skv_conn *c, uint64_t table, const void *key, size_t key_len,
		 const void *value, size_t value_len, uint64_t expect_version,
		 uint64_t cookie)
{
	size_t body_len;
	uint8_t *b;
	int rc;

	rc = check_key(c, key, key_len);
	if (rc)
		return rc;
	if (!value && value_len)
		return SKV_E_INVAL;
	if (value_len > SKV_MAX_BODY_LEN) {
		skv_set_msg(c, "value of %zu bytes is over the body limit", value_len);
		return SKV_E_TOO_BIG;
	}
	body_len = sizeof(struct skv_put_req) + key_len + value_len;
	rc = can_queue(c, body_len);
	if (rc)
		return rc;
	b = begin_keyed(c, SKV_OP_PUT, body_len, cookie, table, expect_version,
			key, key_len);
	skv_put_le32(b + offsetof(struct skv_put_req, value_len), (uint32_t)value_len);
	if (value_len)
		memcpy(b + sizeof(struct skv_put_req) + key_len, value, value_len);
	return 0;
}

int skv_pipe_multi_get(struct skv_conn *c, uint64_t table, unsigned int count,
		       const void *const *keys, const size_t *key_lens, uint64_t cookie)
{
	size_t body_len = sizeof(struct skv_multi_req);
	uint8_t *b;
	int rc;

	if (c->err)
		return c->err;
	if (count && (!keys || !key_lens))
		return SKV_E_INVAL;
	if (count > UINT16_MAX) {
		skv_set_msg(c, "%u keys cannot be encoded in one MULTI-GET", count);
		return SKV_E_TOO_BIG;
	}
	for (unsigned int i = 0; i < count; i++) {
		rc = check_key(c, keys[i], key_lens[i]);
		if (rc)
			return rc;
		body_len += 2 + key_lens[i];
		if (body_len > SKV_MAX_BODY_LEN)
			break;	/* can_queue() reports it; also stops overflow */
	}
	rc = can_queue(c, body_len);
	if (rc)
		return rc;
	b = begin(c, SKV_OP_MULTI_GET, body_len, cookie, (uint16_t)count);
	memset(b, 0, sizeof(struct skv_multi_req));
	skv_put_le64(b + offsetof(struct skv_multi_req, table_id), table);
	skv_put_le16(b + offsetof(struct skv_multi_req, count), (uint16_t)count);
	b += sizeof(struct skv_multi_req);
	for (unsigned int i = 0; i < count; i++) {
		skv_put_le16(b, (uint16_t)key_lens[i]);
		if (key_lens[i])
			memcpy(b + 2, keys[i], key_lens[i]);
		b += 2 + key_lens[i];
	}
	return 0;
}

int skv_pipe_flush(struct skv_conn *c)
{
	if (c->err)
		return c->err;
	skv_drop_consumed(c);
	return skv_pump(c, 0);
}

unsigned int skv_pipe_pending(const struct skv_conn *c)
{
	return c->count;
}
