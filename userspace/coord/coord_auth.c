// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator's side of authentication (steadykv/auth.h carried by
 * coord.h's AUTH_HELLO and AUTH_PROOF): its keys, the responder's two
 * steps, and the check every changing op makes first (coord_allowed).
 *
 * Node daemons authenticate as PEER with the cluster key, steadykvctl as
 * ADMIN with the admin key; each role has a current and, during a
 * rotation, a previous key, read from files at start and on SIGHUP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"
#include "../common/auth_key.h"

static const char *const role_name[] = {
	[SKV_AUTH_ROLE_PEER] = "PEER", [SKV_AUTH_ROLE_ADMIN] = "ADMIN",
	[SKV_AUTH_ROLE_CLIENT] = "CLIENT",
};

static const char *const role_key_option[] = {
	[SKV_AUTH_ROLE_PEER] = "--cluster-key", [SKV_AUTH_ROLE_ADMIN] = "--admin-key",
};

/* The key set of @role; NULL for a role the coordinator does not serve. */
static struct coord_keyset *keyset(struct coordinator *c, int role)
{
	if (role == SKV_AUTH_ROLE_PEER)
		return &c->keys[0];
	if (role == SKV_AUTH_ROLE_ADMIN)
		return &c->keys[1];
	return NULL;
}

static void keyset_clear(struct coord_keyset *ks)
{
	int i;

	for (i = 0; i < 2; i++)
		skv_auth_key_clear(&ks->k[i]);
	ks->n = 0;
}

/* Load current and previous key files of one role into @ks. */
static int keyset_load(struct coord_keyset *ks, char *const paths[2],
		       char *err, size_t errlen)
{
	int i;

	ks->n = 0;
	for (i = 0; i < 2; i++) {
		char why[256];

		if (!paths[i])
			continue;
		if (skv_auth_key_load(&ks->k[ks->n], paths[i], why, sizeof(why))) {
			snprintf(err, errlen, "%s", why);
			keyset_clear(ks);
			return -EINVAL;
		}
		ks->n++;
	}
	return 0;
}

int coord_keys_load(struct coordinator *c, char *err, size_t errlen)
{
	struct coord_keyset fresh[2];
	int i;

	memset(fresh, 0, sizeof(fresh));
	for (i = 0; i < 2; i++) {
		int ret = keyset_load(&fresh[i], c->key_paths[i], err, errlen);
		if (ret) {
			keyset_clear(&fresh[0]);
			return ret;
		}
	}
	for (i = 0; i < 2; i++) {
		keyset_clear(&c->keys[i]);
		c->keys[i] = fresh[i];
		keyset_clear(&fresh[i]);
	}
	return 0;
}

void coord_keys_clear(struct coordinator *c)
{
	keyset_clear(&c->keys[0]);
	keyset_clear(&c->keys[1]);
}

/* Refuse the handshake: say why, and close once the reply is out. */
static void auth_fail(struct coordinator *c, struct conn *cn,
		      const struct coord_hdr *h, const char *why)
{
	coord_logmsg(c, true, "authentication failed: %s", why);
	coord_reply_err(cn, h->opcode, h->request_id, SKV_COORD_ERR_AUTH_FAILED,
			"authentication failed: %s", why);
	skv_auth_key_clear(&cn->auth_key);
	cn->auth_pending = false;
	cn->closing = true;
}

void coord_do_auth_hello(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body)
{
	struct coord_keyset *ks;
	struct coord_buf b;
	int idx;

	if (cn->role) {
		coord_reply_err(cn, h->opcode, h->request_id, EALREADY,
				"already authenticated as %s", role_name[cn->role]);
		return;
	}
	if (cn->auth_pending) {
		auth_fail(c, cn, h, "AUTH_HELLO while a proof is awaited");
		return;
	}
	if (coord_auth_hello_decode(body, h->body_len, &cn->auth_hello)) {
		auth_fail(c, cn, h, "malformed AUTH_HELLO");
		return;
	}
	ks = keyset(c, cn->auth_hello.role);
	if (!ks || !ks->n) {
		auth_fail(c, cn, h, ks ? "the coordinator has no key for that role" :
			  "the coordinator serves PEER and ADMIN only");
		return;
	}
	idx = skv_auth_responder_challenge(ks->k, ks->n, &cn->auth_hello,
					   &cn->auth_challenge);
	if (idx < 0) {
		auth_fail(c, cn, h, "unknown key id");
		return;
	}
	/* The key as it is now: a reload before the proof does not matter. */
	cn->auth_key = ks->k[idx];
	cn->auth_pending = true;
	coord_buf_init(&b);
	if (coord_auth_challenge_encode(&b, &cn->auth_challenge))
		cn->dead = true;
	else
		coord_reply_ok(cn, h->opcode, h->request_id, b.p, b.len);
	coord_buf_free(&b);
}

void coord_do_auth_proof(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_auth_proof proof;

	if (!cn->auth_pending) {
		auth_fail(c, cn, h, "AUTH_PROOF without AUTH_HELLO");
		return;
	}
	if (coord_auth_proof_decode(body, h->body_len, &proof)) {
		auth_fail(c, cn, h, "malformed AUTH_PROOF");
		return;
	}
	if (!skv_auth_responder_check(&cn->auth_key, &cn->auth_hello,
				      &cn->auth_challenge, &proof)) {
		auth_fail(c, cn, h, "wrong proof");
		return;
	}
	skv_auth_key_clear(&cn->auth_key);
	cn->auth_pending = false;
	cn->role = cn->auth_hello.role;
	if (c->verbose)
		coord_logmsg(c, false, "connection authenticated as %s",
			     role_name[cn->role]);
	coord_reply_ok(cn, h->opcode, h->request_id, NULL, 0);
}

bool coord_allowed(struct coordinator *c, struct conn *cn,
		   const struct coord_hdr *h, int role)
{
	const struct coord_keyset *ks = keyset(c, role);

	if (cn->role == role)
		return true;
	if (!ks) {	/* no op needs CLIENT here */
		coord_reply_err(cn, h->opcode, h->request_id, EOPNOTSUPP,
				"the coordinator serves no %s op", role_name[role]);
		return false;
	}
	if (!ks->n && c->insecure)
		return true;
	if (!ks->n)
		coord_reply_err(cn, h->opcode, h->request_id,
				SKV_COORD_ERR_AUTH_REQUIRED,
				"the coordinator has no %s key (%s FILE) and does "
				"not run --insecure: it refuses this op",
				role_name[role], role_key_option[role]);
	else if (cn->role)
		coord_reply_err(cn, h->opcode, h->request_id,
				SKV_COORD_ERR_WRONG_ROLE,
				"this op needs a connection authenticated as %s; "
				"this one is %s",
				role_name[role], role_name[cn->role]);
	else
		coord_reply_err(cn, h->opcode, h->request_id,
				SKV_COORD_ERR_AUTH_REQUIRED,
				"authentication required: this op needs a "
				"connection authenticated as %s (the %s key)",
				role_name[role],
				role == SKV_AUTH_ROLE_ADMIN ? "admin" : "cluster");
	return false;
}
