// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv cluster keys and the HMAC challenge-response (see auth.h and
 * steadykv/auth.h), with the kernel's crypto API.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/random.h>
#include <linux/build_bug.h>
#include <linux/unaligned.h>
#include <crypto/hash.h>
#include <crypto/utils.h>
#include <net/netlink.h>

#include "auth.h"
#include "auth_client.h"

static_assert(sizeof(struct skv_auth_hello) == 40);
static_assert(sizeof(struct skv_auth_challenge) == 64);
static_assert(sizeof(struct skv_auth_proof) == 32);
static_assert(sizeof(struct skv_auth_transcript) == 88);

static int skv_auth_hmac(struct crypto_shash *tfm, const void *data,
			 unsigned int len, u8 *out)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	int err;

	desc->tfm = tfm;
	err = crypto_shash_digest(desc, data, len, out);
	shash_desc_zero(desc);
	return err;
}

static void skv_auth_keys_free(struct skv_auth_keys *keys)
{
	unsigned int i;

	/* Freeing a transform wipes its key material (kfree_sensitive). */
	for (i = 0; i < SKV_AUTH_NKEYS; i++)
		if (keys->key[i].tfm)
			crypto_free_shash(keys->key[i].tfm);
	kfree_rcu(keys, rcu);
}

static void skv_auth_keys_release(struct kref *ref)
{
	skv_auth_keys_free(container_of(ref, struct skv_auth_keys, ref));
}

void skv_auth_keys_put(struct skv_auth_keys *keys)
{
	if (keys)
		kref_put(&keys->ref, skv_auth_keys_release);
}

struct skv_auth_keys *skv_auth_keys_get(struct skv_node *node)
{
	struct skv_auth_keys *keys;

	rcu_read_lock();
	keys = rcu_dereference(node->auth_keys);
	if (keys && !kref_get_unless_zero(&keys->ref))
		keys = NULL;
	rcu_read_unlock();
	return keys;
}

bool skv_auth_may_initiate(struct skv_node *node)
{
	return skv_auth_insecure(node) ||
	       rcu_access_pointer(node->auth_keys);
}

struct crypto_shash *skv_auth_tfm_new(const u8 *secret, u32 len, u32 *id)
{
	u8 mac[SKV_AUTH_MAC_LEN];
	struct crypto_shash *tfm;
	int err;

	tfm = crypto_alloc_shash(SKV_AUTH_HMAC_ALG, 0, 0);
	if (IS_ERR(tfm))
		return tfm;
	err = crypto_shash_setkey(tfm, secret, len);
	if (!err)
		err = skv_auth_hmac(tfm, SKV_AUTH_KEY_ID_LABEL,
				    strlen(SKV_AUTH_KEY_ID_LABEL), mac);
	if (err) {
		crypto_free_shash(tfm);
		return ERR_PTR(err);
	}
	*id = get_unaligned_le32(mac);
	memzero_explicit(mac, sizeof(mac));
	return tfm;
}

/* Key keys->key[i] with secret. */
static int skv_auth_key_init(struct skv_auth_keys *keys, unsigned int i,
			     const u8 *secret, u32 len)
{
	struct crypto_shash *tfm = skv_auth_tfm_new(secret, len,
						    &keys->key[i].id);

	if (IS_ERR(tfm))
		return PTR_ERR(tfm);
	keys->key[i].tfm = tfm;
	return 0;
}

int skv_auth_set_keys(struct skv_node *node, const u8 *cur, u32 cur_len,
		      const u8 *prev, u32 prev_len,
		      struct netlink_ext_ack *extack)
{
	struct skv_auth_keys *keys, *old;
	int err;

	lockdep_assert_held(&node->lock);
	if (WARN_ON_ONCE(!skv_auth_key_len_ok(cur_len) ||
			 (prev && !skv_auth_key_len_ok(prev_len))))
		return -EINVAL;
	keys = kzalloc(sizeof(*keys), GFP_KERNEL);
	if (!keys)
		return -ENOMEM;
	kref_init(&keys->ref);
	keys->n = prev ? 2 : 1;
	err = skv_auth_key_init(keys, 0, cur, cur_len);
	if (!err && prev)
		err = skv_auth_key_init(keys, 1, prev, prev_len);
	if (err) {
		NL_SET_ERR_MSG_FMT_MOD(extack, "cannot key %s (%d)",
				       SKV_AUTH_HMAC_ALG, err);
		skv_auth_keys_free(keys);
		return err;
	}
	if (prev && keys->key[0].id == keys->key[1].id) {
		NL_SET_ERR_MSG_MOD(extack,
				   "the previous key is the current key");
		skv_auth_keys_free(keys);
		return -EINVAL;
	}
	old = rcu_replace_pointer(node->auth_keys, keys,
				  lockdep_is_held(&node->lock));
	skv_auth_keys_put(old);
	return 0;
}

void skv_auth_node_exit(struct skv_node *node)
{
	skv_auth_keys_put(rcu_replace_pointer(node->auth_keys, NULL,
					      lockdep_is_held(&node->lock)));
	skv_client_keys_exit(node);
}

/* HMAC(K, T(label)) with the keyed transform tfm. */
static int skv_auth_mac(struct crypto_shash *tfm, const char *label,
			const struct skv_auth_hello *hello,
			const u8 *responder_nonce, u8 *mac)
{
	struct skv_auth_transcript t;
	int err;

	skv_auth_transcript_fill(&t, label, hello, responder_nonce);
	err = skv_auth_hmac(tfm, &t, sizeof(t), mac);
	memzero_explicit(&t, sizeof(t));
	return err;
}

void skv_auth_hello_init(const struct skv_auth_keys *keys,
			 struct skv_auth_hello *hello)
{
	memset(hello, 0, sizeof(*hello));
	hello->key_id = cpu_to_le32(keys->key[0].id);
	hello->role = SKV_AUTH_ROLE_PEER;
	get_random_bytes(hello->nonce, sizeof(hello->nonce));
}

/* Is mac HMAC(K, T(label)) of tfm's key?  In constant time. */
static bool skv_auth_mac_ok(struct crypto_shash *tfm, const char *label,
			    const struct skv_auth_hello *hello,
			    const u8 *responder_nonce, const u8 *mac)
{
	u8 want[SKV_AUTH_MAC_LEN];
	bool ok;

	ok = !skv_auth_mac(tfm, label, hello, responder_nonce, want) &&
	     !crypto_memneq(want, mac, SKV_AUTH_MAC_LEN);
	memzero_explicit(want, sizeof(want));
	return ok;
}

bool skv_auth_initiator_prove(const struct skv_auth_keys *keys,
			      const struct skv_auth_hello *hello,
			      const struct skv_auth_challenge *ch,
			      struct skv_auth_proof *proof)
{
	struct crypto_shash *tfm = keys->key[0].tfm;

	if (!skv_auth_mac_ok(tfm, SKV_AUTH_LABEL_RESPONDER, hello, ch->nonce,
			     ch->mac))
		return false;
	return !skv_auth_mac(tfm, SKV_AUTH_LABEL_INITIATOR, hello, ch->nonce,
			     proof->mac);
}

int skv_auth_tfm_challenge(struct crypto_shash *tfm,
			   const struct skv_auth_hello *hello,
			   struct skv_auth_challenge *ch)
{
	if (hello->reserved[0] || hello->reserved[1] || hello->reserved[2])
		return -ENOKEY;
	get_random_bytes(ch->nonce, sizeof(ch->nonce));
	return skv_auth_mac(tfm, SKV_AUTH_LABEL_RESPONDER, hello, ch->nonce,
			    ch->mac);
}

bool skv_auth_tfm_check(struct crypto_shash *tfm,
			const struct skv_auth_hello *hello,
			const struct skv_auth_challenge *ch,
			const struct skv_auth_proof *proof)
{
	return skv_auth_mac_ok(tfm, SKV_AUTH_LABEL_INITIATOR, hello, ch->nonce,
			       proof->mac);
}

int skv_auth_responder_challenge(const struct skv_auth_keys *keys,
				 const struct skv_auth_hello *hello,
				 struct skv_auth_challenge *ch)
{
	u32 id = le32_to_cpu(hello->key_id);
	unsigned int i;
	int err;

	for (i = 0; i < keys->n; i++) {
		if (keys->key[i].id != id)
			continue;
		err = skv_auth_tfm_challenge(keys->key[i].tfm, hello, ch);
		return err ? err : i;
	}
	return -ENOKEY;
}

bool skv_auth_responder_check(const struct skv_auth_keys *keys,
			      unsigned int index,
			      const struct skv_auth_hello *hello,
			      const struct skv_auth_challenge *ch,
			      const struct skv_auth_proof *proof)
{
	return index < keys->n &&
	       skv_auth_tfm_check(keys->key[index].tfm, hello, ch, proof);
}
