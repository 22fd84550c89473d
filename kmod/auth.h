/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A node's cluster keys and the steps of the challenge-response of
 * steadykv/auth.h, with the kernel's crypto API.
 *
 * The node holds the current key and, during a rotation, the previous
 * one: a responder accepts either (the initiator names one by key_id),
 * an initiator uses the current one.  Each key lives only inside a keyed
 * hmac(sha256) transform (the secret itself is not kept); a key set is
 * replaced whole, under node->lock, and published with RCU; a handshake
 * holds a reference on the set it started with, so a rotation never
 * changes a key under it.  The last reference frees the transforms,
 * which wipe their key material.
 *
 * Every function here may sleep: process context only.
 */
#ifndef SKV_AUTH_H
#define SKV_AUTH_H

#include <linux/types.h>
#include <linux/kref.h>
#include <linux/rcupdate.h>
#include <steadykv/auth.h>

#include "node.h"

struct crypto_shash;
struct netlink_ext_ack;

#define SKV_AUTH_NKEYS	2	/* current, previous */

struct skv_auth_keys {
	struct kref ref;
	struct rcu_head rcu;
	unsigned int n;			/* keys held: 1 or 2 */
	struct {
		struct crypto_shash *tfm;	/* keyed hmac(sha256) */
		u32 id;
	} key[SKV_AUTH_NKEYS];		/* [0] current, [1] previous */
};

/* A secret's length is SKV_AUTH_KEY_MIN_LEN to SKV_AUTH_KEY_MAX_LEN bytes. */
static inline bool skv_auth_key_len_ok(u32 len)
{
	return len >= SKV_AUTH_KEY_MIN_LEN && len <= SKV_AUTH_KEY_MAX_LEN;
}

/*
 * Replace the node's keys: current (required) and previous (may be NULL).
 * Each secret's length is skv_auth_key_len_ok() (the caller checked).
 * Caller holds node->lock.  0 or a negative errno (extack says why).
 */
int skv_auth_set_keys(struct skv_node *node, const u8 *cur, u32 cur_len,
		      const u8 *prev, u32 prev_len,
		      struct netlink_ext_ack *extack);
/* Namespace exit: drop the node's keys, client keys too.  Caller holds node->lock. */
void skv_auth_node_exit(struct skv_node *node);

/* The node's keys with a reference (put it), or NULL if it has none. */
struct skv_auth_keys *skv_auth_keys_get(struct skv_node *node);
void skv_auth_keys_put(struct skv_auth_keys *keys);

/*
 * Insecure mode (set only on purpose, never the default): node-to-node
 * ops are taken on connections that did not authenticate, and a node
 * with no key may start migrations.
 */
static inline bool skv_auth_insecure(const struct skv_node *node)
{
	return READ_ONCE(node->auth_insecure);
}

/* May this node start node-to-node connections (a key, or insecure)? */
bool skv_auth_may_initiate(struct skv_node *node);

/* Initiator: a HELLO naming the current key, with a fresh nonce. */
void skv_auth_hello_init(const struct skv_auth_keys *keys,
			 struct skv_auth_hello *hello);
/*
 * Initiator: true if the challenge proves the current key; then *proof
 * is the proof to send.  false: send nothing more.
 */
bool skv_auth_initiator_prove(const struct skv_auth_keys *keys,
			      const struct skv_auth_hello *hello,
			      const struct skv_auth_challenge *ch,
			      struct skv_auth_proof *proof);
/*
 * Responder: answer a HELLO with the key it names.  Returns that key's
 * index, or -ENOKEY (no such key_id, reserved bytes set) or another
 * negative errno.
 */
int skv_auth_responder_challenge(const struct skv_auth_keys *keys,
				 const struct skv_auth_hello *hello,
				 struct skv_auth_challenge *ch);
/*
 * The same two responder steps with one keyed transform (a client key's).
 * skv_auth_tfm_challenge: 0, -ENOKEY (reserved bytes set) or another
 * negative errno.
 */
int skv_auth_tfm_challenge(struct crypto_shash *tfm,
			   const struct skv_auth_hello *hello,
			   struct skv_auth_challenge *ch);
bool skv_auth_tfm_check(struct crypto_shash *tfm,
			const struct skv_auth_hello *hello,
			const struct skv_auth_challenge *ch,
			const struct skv_auth_proof *proof);
/*
 * A keyed hmac(sha256) transform for secret (skv_auth_key_len_ok()) and
 * the key's id, or an ERR_PTR.  crypto_free_shash() wipes it.
 */
struct crypto_shash *skv_auth_tfm_new(const u8 *secret, u32 len, u32 *id);

/* Responder: is the proof right for keys->key[index]? */
bool skv_auth_responder_check(const struct skv_auth_keys *keys,
			      unsigned int index,
			      const struct skv_auth_hello *hello,
			      const struct skv_auth_challenge *ch,
			      const struct skv_auth_proof *proof);

#endif /* SKV_AUTH_H */
