/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * steadykv authentication: one HMAC-SHA256 challenge-response, both ways,
 * over fresh nonces (DRBD's cram-hmac-alg is the model).  The same
 * exchange and the same bytes under the MAC serve every kind of
 * connection: node to node on the data port (wire.h opcodes AUTH_HELLO and
 * AUTH_PROOF), node daemon / coordinator / steadykvctl on the coordinator
 * protocol (coord.h), and clients when the cluster requires client keys.
 * Shared verbatim by the kernel module and userspace.
 *
 *   initiator -> responder  AUTH_HELLO  { key_id, role, nonce_i }
 *   responder -> initiator  reply OK    { nonce_r, mac_r = HMAC(K, T("R")) }
 *   initiator -> responder  AUTH_PROOF  { mac_i = HMAC(K, T("I")) }
 *   responder -> initiator  reply OK (authenticated) or AUTH_FAILED, close
 *
 * T(label) is struct skv_auth_transcript: the label, the whole HELLO and
 * the responder's nonce.  Each side proves the key over a nonce the other
 * side chose fresh for this connection, so a recorded exchange cannot be
 * replayed; the labels differ, so one side's MAC cannot be reflected back
 * as the other's.  The initiator checks mac_r before it sends mac_i, so a
 * responder without the key learns nothing it could use.
 *
 * key_id names the key without revealing it (the first four bytes, little
 * endian, of HMAC(K, SKV_AUTH_KEY_ID_LABEL)): during a key rotation a node
 * holds two keys and answers with the one the initiator names; a key_id
 * it does not hold is AUTH_FAILED.
 */
#ifndef STEADYKV_AUTH_H
#define STEADYKV_AUTH_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/string.h>
#else
#include <stdint.h>
#include <string.h>
#include <linux/types.h>
#endif

#define SKV_AUTH_NONCE_LEN	32u
#define SKV_AUTH_MAC_LEN	32u	/* HMAC-SHA256 */
#define SKV_AUTH_KEY_MIN_LEN	32u	/* bytes of secret */
#define SKV_AUTH_KEY_MAX_LEN	64u
#define SKV_AUTH_HMAC_ALG	"hmac(sha256)"	/* the kernel crypto API's name */
#define SKV_AUTH_KEY_ID_LABEL	"steadykv key id"

/* What the key authenticates the initiator as. */
enum skv_auth_role {
	SKV_AUTH_ROLE_PEER	= 1,	/* another node: the cluster key */
	SKV_AUTH_ROLE_ADMIN	= 2,	/* steadykvctl, coordinator, node daemon: the admin key */
	SKV_AUTH_ROLE_CLIENT	= 3,	/* a data client: a client key */
};

/* AUTH_HELLO request body. */
struct skv_auth_hello {
	__le32 key_id;
	__u8 role;			/* enum skv_auth_role */
	__u8 reserved[3];		/* must be zero */
	__u8 nonce[SKV_AUTH_NONCE_LEN];	/* the initiator's, fresh */
};

/* Reply to AUTH_HELLO (status OK). */
struct skv_auth_challenge {
	__u8 nonce[SKV_AUTH_NONCE_LEN];	/* the responder's, fresh */
	__u8 mac[SKV_AUTH_MAC_LEN];	/* HMAC(K, T("R")) */
};

/* AUTH_PROOF request body; its reply is empty. */
struct skv_auth_proof {
	__u8 mac[SKV_AUTH_MAC_LEN];	/* HMAC(K, T("I")) */
};

/* The bytes under each MAC. */
struct skv_auth_transcript {
	char label[16];
	struct skv_auth_hello hello;
	__u8 responder_nonce[SKV_AUTH_NONCE_LEN];
};

#define SKV_AUTH_LABEL_RESPONDER	"steadykv auth R"
#define SKV_AUTH_LABEL_INITIATOR	"steadykv auth I"

/* Fill *t for one side's MAC: label is one of SKV_AUTH_LABEL_*. */
static inline void skv_auth_transcript_fill(struct skv_auth_transcript *t,
					    const char *label,
					    const struct skv_auth_hello *hello,
					    const __u8 *responder_nonce)
{
	size_t n = strlen(label);

	memset(t, 0, sizeof(*t));
	/* The labels are shorter than the field: it stays NUL-terminated. */
	memcpy(t->label, label, n < sizeof(t->label) ? n : sizeof(t->label) - 1);
	t->hello = *hello;
	memcpy(t->responder_nonce, responder_nonce, SKV_AUTH_NONCE_LEN);
}

#endif /* STEADYKV_AUTH_H */
