// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv authentication, responder side (auth_request.h): a connection
 * starts unauthenticated; HELLO names a key and gets a challenge that
 * proves this node holds it, over a fresh nonce; PROOF proves the
 * initiator holds it too, over that nonce, so a recorded PROOF is worth
 * nothing on another connection.  Any misstep ends the connection.  A
 * peer proves the cluster key, a data client a client key
 * (auth_client.h), which fixes the connection's rights.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "auth.h"
#include "auth_client.h"
#include "auth_request.h"
#include "conn.h"
#include "reply.h"

/* A handshake between HELLO and PROOF. */
struct skv_auth_handshake {
	struct skv_auth_keys *keys;	/* role peer: referenced, the set HELLO used */
	unsigned int index;		/* the key the HELLO named */
	struct skv_client_key *client;	/* role client: referenced */
	struct skv_auth_hello hello;
	struct skv_auth_challenge ch;
};

static void skv_auth_handshake_free(struct skv_auth_handshake *hs)
{
	if (!hs)
		return;
	skv_auth_keys_put(hs->keys);
	skv_client_key_put(hs->client);
	kfree_sensitive(hs);
}

static void skv_auth_handshake_end(struct skv_conn *c)
{
	skv_auth_handshake_free(c->auth_hs);
	c->auth_hs = NULL;
}

void skv_auth_conn_release(struct skv_conn *c)
{
	skv_auth_handshake_end(c);
	skv_client_release(c);
}

bool skv_conn_is_peer(const struct skv_conn *c)
{
	return c->auth_role == SKV_AUTH_ROLE_PEER ||
	       skv_auth_insecure(c->node);
}

/* Reply status, then close: the connection is of no further use. */
static int skv_auth_close(struct skv_conn *c, const struct skv_hdr *h,
			  u8 status)
{
	skv_auth_handshake_end(c);
	c->close_after_reply = true;
	return skv_reply(c, h, status, NULL, 0);
}

int skv_auth_refuse(struct skv_conn *c, const struct skv_hdr *h)
{
	c->nbad++;
	return skv_auth_close(c, h, SKV_S_AUTH_REQUIRED);
}

static int skv_auth_hello(struct skv_conn *c, const struct skv_hdr *h,
			  const u8 *body, u32 len)
{
	struct skv_auth_handshake *hs;
	int idx;

	/* One handshake per connection: a second HELLO is an attack. */
	if (c->auth_role || c->auth_hs || len != sizeof(hs->hello))
		return skv_auth_close(c, h, SKV_S_AUTH_FAILED);
	hs = kzalloc(sizeof(*hs), GFP_KERNEL);
	if (!hs)
		return -ENOMEM;
	memcpy(&hs->hello, body, sizeof(hs->hello));
	/* The data port holds peer and client keys (admin keys are elsewhere). */
	if (hs->hello.role == SKV_AUTH_ROLE_CLIENT) {
		hs->client = skv_client_key_find(c->node,
						 le32_to_cpu(hs->hello.key_id));
		if (!hs->client ||
		    skv_auth_tfm_challenge(hs->client->tfm, &hs->hello, &hs->ch))
			goto failed;
	} else if (hs->hello.role == SKV_AUTH_ROLE_PEER) {
		hs->keys = skv_auth_keys_get(c->node);
		if (!hs->keys)
			goto failed;
		idx = skv_auth_responder_challenge(hs->keys, &hs->hello,
						   &hs->ch);
		if (idx < 0)
			goto failed;
		hs->index = idx;
	} else {
		goto failed;
	}
	c->auth_hs = hs;
	return skv_reply(c, h, SKV_S_OK, &hs->ch, sizeof(hs->ch));

failed:
	skv_auth_handshake_free(hs);
	return skv_auth_close(c, h, SKV_S_AUTH_FAILED);
}

static int skv_auth_proof(struct skv_conn *c, const struct skv_hdr *h,
			  const u8 *body, u32 len)
{
	struct skv_auth_handshake *hs = c->auth_hs;
	struct skv_auth_proof proof;

	if (!hs || len != sizeof(proof))
		return skv_auth_close(c, h, SKV_S_AUTH_FAILED);
	memcpy(&proof, body, sizeof(proof));
	if (hs->client) {
		/* A key removed since HELLO proves nothing any more. */
		if (READ_ONCE(hs->client->revoked) ||
		    !skv_auth_tfm_check(hs->client->tfm, &hs->hello, &hs->ch,
					&proof))
			return skv_auth_close(c, h, SKV_S_AUTH_FAILED);
		skv_client_proven(c, hs->client);
		hs->client = NULL;
	} else if (!skv_auth_responder_check(hs->keys, hs->index, &hs->hello,
					     &hs->ch, &proof)) {
		return skv_auth_close(c, h, SKV_S_AUTH_FAILED);
	}
	c->auth_role = hs->hello.role;
	skv_auth_handshake_end(c);
	/* A proven peer takes a peer slot: clients cannot crowd it out. */
	if (c->auth_role == SKV_AUTH_ROLE_PEER)
		skv_conn_peer_authenticated(c);
	return skv_reply(c, h, SKV_S_OK, NULL, 0);
}

int skv_auth_request(struct skv_conn *c, const struct skv_hdr *h,
		     const u8 *body, u32 len)
{
	int err;

	if (h->opcode == SKV_OP_AUTH_HELLO)
		err = skv_auth_hello(c, h, body, len);
	else
		err = skv_auth_proof(c, h, body, len);
	if (c->close_after_reply)
		c->nbad++;
	return err;
}
