/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Userspace half of steadykv authentication (steadykv/auth.h): key files,
 * key ids, and each step of the challenge-response, with OpenSSL's HMAC.
 * The node daemon, the coordinator, steadykvctl, libsteadykv and the tests
 * use it; the module does the same with the kernel's crypto API.
 *
 * A key file holds the secret as hex (SKV_AUTH_KEY_MIN_LEN to
 * SKV_AUTH_KEY_MAX_LEN bytes), on one line; it must be a regular file
 * owned by the caller's effective user (or root) that no one else may
 * read or write (mode 0600 or tighter).  Make one with:
 *     (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >FILE)
 * The secret is never printed or logged; skv_auth_key_clear() wipes it.
 */
#ifndef SKV_COMMON_AUTH_KEY_H
#define SKV_COMMON_AUTH_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <steadykv/auth.h>

struct skv_auth_key {
	uint8_t secret[SKV_AUTH_KEY_MAX_LEN];
	size_t len;
	uint32_t id;		/* key_id on the wire */
};

/* From raw bytes (len within the limits).  0 or -1. */
int skv_auth_key_set(struct skv_auth_key *k, const uint8_t *secret, size_t len);
/*
 * From a key file.  0, or -1 with a reason in err (never the secret):
 * missing, unsafe owner or mode, not hex, wrong length.
 */
int skv_auth_key_load(struct skv_auth_key *k, const char *path,
		      char *err, size_t err_len);
void skv_auth_key_clear(struct skv_auth_key *k);

/* HMAC(K, T(label)): label is SKV_AUTH_LABEL_INITIATOR or _RESPONDER. */
void skv_auth_mac(const struct skv_auth_key *k, const char *label,
		  const struct skv_auth_hello *hello,
		  const uint8_t *responder_nonce, uint8_t mac[SKV_AUTH_MAC_LEN]);
/* Constant-time comparison of two MACs: 1 if equal. */
int skv_auth_mac_equal(const uint8_t *a, const uint8_t *b);

/* Initiator: a HELLO with a fresh nonce.  0, or -1 if no randomness. */
int skv_auth_hello_init(struct skv_auth_hello *hello,
			const struct skv_auth_key *k, enum skv_auth_role role);
/*
 * Initiator: check the responder's MAC and, if it proves the key, make
 * the proof to send.  1 if the responder proved the key, 0 if not (send
 * nothing more: close).
 */
int skv_auth_initiator_prove(const struct skv_auth_key *k,
			     const struct skv_auth_hello *hello,
			     const struct skv_auth_challenge *ch,
			     struct skv_auth_proof *proof);

/*
 * Responder: answer a HELLO with any of nkeys keys (two during a
 * rotation).  Returns the index of the key the HELLO names, or -1
 * (unknown key_id, reserved bytes set, or no randomness): AUTH_FAILED.
 */
int skv_auth_responder_challenge(const struct skv_auth_key *keys, int nkeys,
				 const struct skv_auth_hello *hello,
				 struct skv_auth_challenge *ch);
/* Responder: 1 if the proof is right for keys[key_index], else 0. */
int skv_auth_responder_check(const struct skv_auth_key *k,
			     const struct skv_auth_hello *hello,
			     const struct skv_auth_challenge *ch,
			     const struct skv_auth_proof *proof);

#endif
