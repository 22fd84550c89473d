// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Client keys: a data connection proves one with the challenge-response
 * of steadykv/auth.h (role client, auth_key.c's HMAC), once, before its
 * first request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_key.h"
#include "internal.h"

struct skv_client_key {
	struct skv_auth_key k;
};

struct skv_client_key *skv_client_key_load(const char *path, char *err, size_t err_len)
{
	struct skv_client_key *key = calloc(1, sizeof(*key));

	if (!key) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (skv_auth_key_load(&key->k, path, err, err_len)) {
		skv_client_key_free(key);
		return NULL;
	}
	return key;
}

void skv_client_key_free(struct skv_client_key *key)
{
	if (!key)
		return;
	skv_auth_key_clear(&key->k);
	free(key);
}

uint32_t skv_client_key_id(const struct skv_client_key *key)
{
	return key->k.id;
}

/* One step of the exchange: queue it alone and take its reply. */
static int auth_step(struct skv_conn *c, uint8_t op, const void *body, size_t len,
		     struct skv_result *r)
{
	int rc = skv_queue_body(c, op, body, len);

	if (!rc)
		rc = skv_pipe_next(c, r);
	return rc ? rc : r->status;
}

int skv_authenticate(struct skv_conn *c, const struct skv_client_key *key)
{
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	struct skv_result r;
	int rc;

	if (c->err)
		return c->err;
	if (c->count)
		return SKV_E_BUSY;
	if (skv_auth_hello_init(&hello, &key->k, SKV_AUTH_ROLE_CLIENT))
		return skv_fail(c, SKV_E_IO, "no randomness for the client key's nonce");
	rc = auth_step(c, SKV_OP_AUTH_HELLO, &hello, sizeof(hello), &r);
	/* The node closes the connection after a refusal: it sticks. */
	if (rc)
		return skv_fail(c, rc, "AUTH_HELLO with client key 0x%08x: %s", key->k.id,
				skv_strerror(rc));
	memcpy(&ch, r.value, sizeof(ch));
	if (!skv_auth_initiator_prove(&key->k, &hello, &ch, &proof))
		return skv_fail(c, SKV_E_AUTH_FAILED,
				"the node did not prove client key 0x%08x: not sending ours",
				key->k.id);
	rc = auth_step(c, SKV_OP_AUTH_PROOF, &proof, sizeof(proof), &r);
	memset(&proof, 0, sizeof(proof));
	if (rc)
		return skv_fail(c, rc, "AUTH_PROOF with client key 0x%08x: %s", key->k.id,
				skv_strerror(rc));
	return SKV_OK;
}
