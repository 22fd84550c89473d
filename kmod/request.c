// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv requests: decode a request body (wire.h), call the store, and
 * append the reply to the connection's output buffer.
 *
 * Every length is checked against the frame before it is used: the fixed
 * part must fit, the key and value lengths must add up to body_len
 * exactly, reserved fields must be zero.  A malformed body is answered
 * with BAD_REQUEST, a key or value over its limit with TOO_BIG, an unknown
 * opcode with UNKNOWN_OP; the connection stays open in each case.  Bodies
 * are read with unaligned accessors: frames sit at any offset of the input
 * buffer.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/build_bug.h>
#include <linux/stddef.h>

#include "node.h"
#include "conn.h"
#include "reply.h"
#include "request.h"
#include "mig_source.h"
#include "mig_target.h"
#include "auth_request.h"
#include "auth_client.h"
#include "repl_primary.h"
#include "repl_backup.h"
#include "record.h"

/*
 * retry_us of a RETRY reply.  The store answers RETRY only for a key of a
 * MIGRATING_IN tablet that has not arrived yet: see SKV_MIG_RETRY_US.
 */
#define SKV_RETRY_US_DEFAULT	SKV_MIG_RETRY_US


static_assert(sizeof(struct skv_hdr) == 24);
static_assert(sizeof(struct skv_key_req) == 24);
static_assert(sizeof(struct skv_put_req) == 24);
static_assert(sizeof(struct skv_val_reply) == 16);
static_assert(sizeof(struct skv_ver_reply) == 8);
static_assert(sizeof(struct skv_retry_reply) == 8);
static_assert(sizeof(struct skv_multi_req) == 16);
static_assert(sizeof(struct skv_multi_reply) == 8);
static_assert(sizeof(struct skv_multi_item) == 16);

/* A store status: never trust it to be in range. */
static u8 skv_status(int ret)
{
	if (ret < 0 || ret >= SKV_S_MAX)
		return SKV_S_INTERNAL;
	return ret;
}

/*
 * A RETRY from the store: the key may still be at the source of a
 * migration into this node.  Ask for a priority pull of its hash; the
 * client is told to retry after retry_us; a GET waits for the key
 * instead (mig_target_park.c).
 */
static u8 skv_retry_pull(struct skv_conn *c, u8 st, u64 table_id, u64 hash)
{
	if (st == SKV_S_RETRY)
		c->retry_us = skv_tgt_want_key(c->node, table_id, hash, false);
	return st;
}

/*
 * Reply to a PUT or DELETE (and a GET that found no value): the body each
 * status documents.
 */
static int skv_reply_result(struct skv_conn *c, const struct skv_hdr *h,
			    u8 status, u64 version)
{
	struct skv_ver_reply ver;
	struct skv_retry_reply retry;

	switch (status) {
	case SKV_S_OK:
	case SKV_S_NOT_FOUND:
	case SKV_S_VERSION_MISMATCH:
		ver.version = cpu_to_le64(version);
		return skv_reply(c, h, status, &ver, sizeof(ver));
	case SKV_S_RETRY:
		retry.retry_us = cpu_to_le32(c->retry_us ?: SKV_RETRY_US_DEFAULT);
		c->retry_us = 0;
		retry.reserved = 0;
		return skv_reply(c, h, status, &retry, sizeof(retry));
	case SKV_S_NO_SPACE:
		/* The cleaner may be able to make room. */
		c->wrote = true;
		fallthrough;
	default:
		return skv_reply(c, h, status, NULL, 0);
	}
}

/*
 * Check a GET/DELETE body.  Returns SKV_S_OK and the key, or the status of
 * the error reply.
 */
static u8 skv_parse_key_req(const u8 *body, u32 len, u64 *table_id,
			    u64 *expect, const u8 **key, u32 *key_len)
{
	const u32 fixed = sizeof(struct skv_key_req);
	u32 klen;

	if (len < fixed)
		return SKV_S_BAD_REQUEST;
	klen = SKV_LE16(body, struct skv_key_req, key_len);
	if (SKV_LE16(body, struct skv_key_req, reserved[0]) ||
	    SKV_LE16(body, struct skv_key_req, reserved[1]) ||
	    SKV_LE16(body, struct skv_key_req, reserved[2]) ||
	    !klen || len != fixed + klen)
		return SKV_S_BAD_REQUEST;
	if (klen > SKV_MAX_KEY_LEN)
		return SKV_S_TOO_BIG;
	*table_id = SKV_LE64(body, struct skv_key_req, table_id);
	*expect = SKV_LE64(body, struct skv_key_req, expect_version);
	*key = body + fixed;
	*key_len = klen;
	return SKV_S_OK;
}

/*
 * A reply about to show version (found, deleted, or not the expected
 * one): st, or RETRY if it cannot wait for that write to be held.
 */
static u8 skv_seen(struct skv_conn *c, u8 st, u64 version)
{
	u8 seen = skv_repl_observe(c, version);

	return seen == SKV_S_OK ? st : seen;
}

/* Where the body of lookahead entry i (a GET) starts in c->ibuf. */
static u32 skv_ahead_body(const struct skv_get_ahead *a, u32 i)
{
	return a->body[i % SKV_LOOKAHEAD_RING];
}

void skv_request_lookahead(struct skv_conn *c, u32 off)
{
	struct skv_get_ahead *a = c->get_ahead;
	u64 table_id, expect;
	u32 blen, klen;
	struct skv_hdr h;
	const u8 *key;

	/* GETs of frames handled already (or refused before a lookup). */
	while (a->done < a->hashed &&
	       skv_ahead_body(a, a->done) < off + SKV_HDR_LEN)
		a->done++;
	a->next = max(a->next, off);
	/* Magic and version are not checked: a wrong hint only costs time. */
	while (a->hashed < a->done + SKV_LOOKAHEAD_KEYS &&
	       c->ilen - a->next >= SKV_HDR_LEN) {
		memcpy(&h, c->ibuf + a->next, SKV_HDR_LEN);
		blen = le32_to_cpu(h.body_len);
		if (blen > c->ilen - a->next - SKV_HDR_LEN)
			break;
		a->next += SKV_HDR_LEN;
		if (h.opcode == SKV_OP_GET &&
		    skv_parse_key_req(c->ibuf + a->next, blen, &table_id,
				      &expect, &key, &klen) == SKV_S_OK) {
			a->body[a->hashed % SKV_LOOKAHEAD_RING] = a->next;
			a->ring[a->hashed % SKV_LOOKAHEAD_RING] =
				skv_key_hash(key, klen);
			a->hashed++;
		}
		a->next += blen;
	}
	if (a->done < a->hashed &&
	    skv_ahead_body(a, a->done) == off + SKV_HDR_LEN)
		skv_store_lookahead(skv_node_store(c->node), a->ring,
				    a->hashed, a->done);
}

/*
 * The hash of a GET's key: the lookahead's when it hashed this very frame
 * (its body at the same place of c->ibuf, which does not change in a
 * pass), else taken here.
 */
static u64 skv_get_hash(struct skv_conn *c, const u8 *body, const u8 *key,
			u32 klen)
{
	const struct skv_get_ahead *a = c->get_ahead;

	if (a && a->done < a->hashed &&
	    c->ibuf + skv_ahead_body(a, a->done) == body)
		return a->ring[a->done % SKV_LOOKAHEAD_RING];
	return skv_key_hash(key, klen);
}

/*
 * GET: the value is copied by the store straight into the reply.  The
 * first try offers the room the output buffer has; if the value is
 * larger, the buffer grows to the size the store reported and the lookup
 * runs again (the value may have been replaced meanwhile: the last try
 * offers the largest value there can be, so it always fits).
 */
static int skv_do_get(struct skv_conn *c, const struct skv_hdr *h,
		      const u8 *body, u32 len)
{
	const u32 fixed = SKV_HDR_LEN + sizeof(struct skv_val_reply);
	struct skv_store *s = skv_node_store(c->node);
	struct skv_val_reply vr;
	u32 klen, vlen = 0, room;
	u64 table_id, expect, version = 0;
	const u8 *key;
	u64 hash;
	int tries, err;
	u8 st;

	st = skv_parse_key_req(body, len, &table_id, &expect, &key, &klen);
	if (st != SKV_S_OK)
		return skv_reply_bad(c, h, st);
	hash = skv_get_hash(c, body, key, klen);
	skv_tablet_count(s, table_id, hash);

	err = skv_out_reserve(c, fixed);
	for (tries = 0; !err; tries++) {
		room = min(c->ocap - c->olen - fixed, SKV_MAX_VALUE_LEN);
		st = skv_status(skv_store_get(s, table_id, key, klen, hash,
					      skv_reply_tail(c, sizeof(vr)),
					      room, &vlen, &version));
		if (st != SKV_S_TOO_BIG)
			break;
		if (vlen > SKV_MAX_VALUE_LEN || tries == 2) {
			/* The store broke its own limit. */
			st = SKV_S_INTERNAL;
			break;
		}
		err = skv_out_reserve(c, fixed + (tries ? SKV_MAX_VALUE_LEN :
						  vlen));
	}
	if (err)
		return err;
	if (st == SKV_S_OK && vlen > room)
		st = SKV_S_INTERNAL;	/* the store broke its contract */
	if (st == SKV_S_OK || st == SKV_S_NOT_FOUND)
		st = skv_seen(c, st, version);
	/* A key a migration brings: wait for it rather than RETRY. */
	if (st == SKV_S_RETRY && skv_tgt_park(c, table_id, hash))
		return 0;
	if (st != SKV_S_OK)
		return skv_reply_result(c, h,
					skv_retry_pull(c, st, table_id, hash),
					st == SKV_S_RETRY ? 0 : version);

	vr.version = cpu_to_le64(version);
	vr.value_len = cpu_to_le32(vlen);
	vr.reserved = 0;
	skv_reply_finish(c, h, SKV_S_OK, &vr, sizeof(vr), vlen);
	return 0;
}

static int skv_do_put(struct skv_conn *c, const struct skv_hdr *h,
		      const u8 *body, u32 len)
{
	const u32 fixed = sizeof(struct skv_put_req);
	struct skv_store *s = skv_node_store(c->node);
	u64 version = 0, table_id, hash;
	u32 klen, vlen;
	const u8 *key;
	u8 st;

	if (len < fixed)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	klen = SKV_LE16(body, struct skv_put_req, key_len);
	vlen = SKV_LE32(body, struct skv_put_req, value_len);
	if (SKV_LE16(body, struct skv_put_req, reserved) || !klen ||
	    (u64)len != (u64)fixed + klen + vlen)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	if (klen > SKV_MAX_KEY_LEN || vlen > SKV_MAX_VALUE_LEN)
		return skv_reply_bad(c, h, SKV_S_TOO_BIG);

	key = body + fixed;
	table_id = SKV_LE64(body, struct skv_put_req, table_id);
	hash = skv_key_hash(key, klen);
	skv_tablet_count(s, table_id, hash);
	c->wrote = true;
	st = skv_repl_admit(c, skv_rec_len(klen, vlen));
	if (st == SKV_S_OK) {
		st = skv_status(skv_store_put(s, table_id, key, klen, hash,
					      key + klen, vlen,
					      SKV_LE64(body, struct skv_put_req,
						       expect_version),
					      &version));
		skv_repl_commit(c, st, SKV_REC_OBJECT, table_id, hash, version,
				key, klen, key + klen, vlen);
		if (st == SKV_S_VERSION_MISMATCH)
			st = skv_seen(c, st, version);
	}
	return skv_reply_result(c, h, skv_retry_pull(c, st, table_id, hash),
				version);
}

static int skv_do_delete(struct skv_conn *c, const struct skv_hdr *h,
			 const u8 *body, u32 len)
{
	struct skv_store *s = skv_node_store(c->node);
	u64 table_id, expect, version = 0, hash;
	const u8 *key;
	u32 klen;
	u8 st;

	st = skv_parse_key_req(body, len, &table_id, &expect, &key, &klen);
	if (st != SKV_S_OK)
		return skv_reply_bad(c, h, st);
	c->wrote = true;
	hash = skv_key_hash(key, klen);
	skv_tablet_count(s, table_id, hash);
	st = skv_repl_admit(c, skv_rec_len(klen, 0));
	if (st == SKV_S_OK) {
		st = skv_status(skv_store_delete(s, table_id, key, klen, hash,
						 expect, &version));
		skv_repl_commit(c, st, SKV_REC_TOMBSTONE, table_id, hash,
				version, key, klen, NULL, 0);
		if (st == SKV_S_VERSION_MISMATCH || st == SKV_S_NOT_FOUND)
			st = skv_seen(c, st, version);
	}
	return skv_reply_result(c, h, skv_retry_pull(c, st, table_id, hash),
				version);
}

/* The MULTI-GET key at *off in a checked body; *off moves past it. */
static const u8 *skv_multi_key(const u8 *body, u32 *off, u32 *key_len)
{
	*key_len = get_unaligned_le16(body + *off);
	*off += sizeof(__le16) + *key_len;
	return body + *off - *key_len;
}

/*
 * The hashes of a MULTI-GET's keys up to lookup i + SKV_LOOKAHEAD_KEYS -
 * 1, hashed from *hoff (the key after the last one hashed) into ring, as
 * skv_store_lookahead() wants them before lookup i; those lookups
 * prefetched.
 */
static void skv_multi_lookahead(struct skv_store *s, const u8 *body,
				u32 *hoff, u32 *hashed, u32 i, u32 count,
				u64 *ring)
{
	const u8 *key;
	u32 klen;

	for (; *hashed < count && *hashed < i + SKV_LOOKAHEAD_KEYS;
	     (*hashed)++) {
		key = skv_multi_key(body, hoff, &klen);
		ring[*hashed % SKV_LOOKAHEAD_RING] = skv_key_hash(key, klen);
	}
	skv_store_lookahead(s, ring, count, i);
}

/*
 * MULTI-GET.  The whole body is checked before any key is looked up.  The
 * reply body is bounded like a request body (SKV_MAX_BODY_LEN): a value
 * that no longer fits gets the per-key status TOO_BIG (and no value), and
 * the client fetches it with a GET.
 */
static int skv_do_multi_get(struct skv_conn *c, const struct skv_hdr *h,
			    const u8 *body, u32 len)
{
	const u32 fixed = sizeof(struct skv_multi_req);
	const u32 isz = sizeof(struct skv_multi_item);
	struct skv_store *s = skv_node_store(c->node);
	struct skv_multi_reply mr = {};
	struct skv_multi_item it;
	u32 count, i, off, klen, used, room, vlen, hoff, hashed = 0;
	bool too_big = false;
	u64 table_id, version, hash, newest = 0;
	u64 ring[SKV_LOOKAHEAD_RING];
	const u8 *key;
	int tries, err;
	u8 st;

	if (len < fixed)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	count = SKV_LE16(body, struct skv_multi_req, count);
	if (SKV_LE16(body, struct skv_multi_req, reserved[0]) ||
	    SKV_LE16(body, struct skv_multi_req, reserved[1]) ||
	    SKV_LE16(body, struct skv_multi_req, reserved[2]))
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	if (count > SKV_MAX_MULTI_KEYS)
		return skv_reply_bad(c, h, SKV_S_TOO_BIG);
	for (i = 0, off = fixed; i < count; i++) {
		if (len - off < sizeof(__le16))
			return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
		klen = get_unaligned_le16(body + off);
		off += sizeof(__le16);
		if (!klen || len - off < klen)
			return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
		too_big |= klen > SKV_MAX_KEY_LEN;
		off += klen;
	}
	if (off != len)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	if (too_big)
		return skv_reply_bad(c, h, SKV_S_TOO_BIG);

	table_id = SKV_LE64(body, struct skv_multi_req, table_id);
	/* used: reply bytes built so far past c->olen, header included. */
	used = SKV_HDR_LEN + sizeof(mr);
	err = skv_out_reserve(c, used + count * isz);
	if (err)
		return err;
	for (i = 0, off = hoff = fixed; i < count; i++) {
		skv_multi_lookahead(s, body, &hoff, &hashed, i, count, ring);
		key = skv_multi_key(body, &off, &klen);
		hash = ring[i % SKV_LOOKAHEAD_RING];
		skv_tablet_count(s, table_id, hash);

		vlen = 0;
		version = 0;
		/* Keep room for the items still to come (values are extra). */
		err = skv_out_reserve(c, used + (count - i) * isz);
		for (tries = 0; !err; tries++) {
			room = min(c->ocap - c->olen - used - isz,
				   SKV_REPLY_MAX - used - isz -
				   (count - i - 1) * isz);
			st = skv_status(skv_store_get(s, table_id, key, klen,
						      hash,
						      c->obuf + c->olen +
						      used + isz, room,
						      &vlen, &version));
			if (st != SKV_S_TOO_BIG)
				break;
			/* Past the reply bound, or changed under us again. */
			if (used + isz + vlen + (count - i - 1) * isz >
			    SKV_REPLY_MAX || tries == 2)
				break;
			err = skv_out_reserve(c, tries ? SKV_REPLY_MAX :
					      used + isz + vlen +
					      (count - i - 1) * isz);
		}
		if (!err && st == SKV_S_OK && vlen > room)
			st = SKV_S_INTERNAL;	/* the store broke its contract */
		if (err)
			return err;
		skv_retry_pull(c, st, table_id, hash);
		if (st != SKV_S_OK) {
			vlen = 0;
			if (st != SKV_S_NOT_FOUND)
				version = 0;
		}
		newest = max(newest, version);
		memset(&it, 0, sizeof(it));
		it.status = st;
		it.value_len = cpu_to_le32(vlen);
		it.version = cpu_to_le64(version);
		memcpy(c->obuf + c->olen + used, &it, isz);
		used += isz + vlen;
	}

	/* Built in place, the reply starts at c->olen: one wait for all. */
	if (skv_seen(c, SKV_S_OK, newest) != SKV_S_OK)
		return skv_reply_result(c, h, SKV_S_RETRY, 0);
	mr.count = cpu_to_le16(count);
	skv_reply_finish(c, h, SKV_S_OK, &mr, sizeof(mr),
			 used - SKV_HDR_LEN - sizeof(mr));
	return 0;
}

int skv_request_handle(struct skv_conn *c, const struct skv_hdr *h,
		       const u8 *body, u32 body_len)
{
	u8 st;

	/* A request carries no flags and no status. */
	if (h->flags || h->status)
		return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
	/* Client keys: the connection's cached rights (a bit test). */
	st = skv_client_access(c, h->opcode, body, body_len);
	if (unlikely(st != SKV_S_OK))
		return skv_client_deny(c, h, st);
	if (h->opcode >= SKV_OP_GET && h->opcode <= SKV_OP_MULTI_GET) {
		/* Routed by a map older than an ownership change here (wire.h). */
		if (skv_node_epoch_stale(c->node, le32_to_cpu(h->epoch)))
			return skv_reply(c, h, SKV_S_STALE_EPOCH, NULL, 0);
		/* Perhaps declared dead, the tablets rebuilt elsewhere. */
		if (!skv_repl_leased(c->node))
			return skv_reply(c, h, SKV_S_NOT_OWNER, NULL, 0);
	}

	switch (h->opcode) {
	case SKV_OP_PING:
		if (body_len)
			return skv_reply_bad(c, h, SKV_S_BAD_REQUEST);
		return skv_reply(c, h, SKV_S_OK, NULL, 0);
	case SKV_OP_GET:
		return skv_do_get(c, h, body, body_len);
	case SKV_OP_PUT:
		return skv_do_put(c, h, body, body_len);
	case SKV_OP_DELETE:
		return skv_do_delete(c, h, body, body_len);
	case SKV_OP_MULTI_GET:
		return skv_do_multi_get(c, h, body, body_len);
	case SKV_OP_MIG_PREPARE:
	case SKV_OP_MIG_PULL:
	case SKV_OP_MIG_PRIORITY_PULL:
	case SKV_OP_MIG_END:
	case SKV_OP_MIG_PUSH_BACK:
	case SKV_OP_MIG_STATUS:
		/* Node-to-node ops: authenticated peers only. */
		if (!skv_conn_is_peer(c))
			return skv_auth_refuse(c, h);
		return skv_src_handle(c, h, body, body_len);
	case SKV_OP_REPL_OPEN:
	case SKV_OP_REPL_WRITE:
	case SKV_OP_REPL_READ:
		/* Node-to-node ops: authenticated peers only. */
		if (!skv_conn_is_peer(c))
			return skv_auth_refuse(c, h);
		return skv_replica_request(c, h, body, body_len);
	case SKV_OP_AUTH_HELLO:
	case SKV_OP_AUTH_PROOF:
		return skv_auth_request(c, h, body, body_len);
	default:
		return skv_reply_bad(c, h, SKV_S_UNKNOWN_OP);
	}
}
