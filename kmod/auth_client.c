// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv client keys and the rights they carry (see auth_client.h).
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/overflow.h>
#include <linux/stddef.h>
#include <linux/build_bug.h>
#include <crypto/hash.h>
#include <net/netlink.h>
#include <uapi/linux/steadykv.h>

#include "auth.h"
#include "auth_client.h"
#include "auth_request.h"
#include "reply.h"

/* skv_client_access() reads the table id at the start of every data op. */
static_assert(offsetof(struct skv_key_req, table_id) == 0);
static_assert(offsetof(struct skv_put_req, table_id) == 0);
static_assert(offsetof(struct skv_multi_req, table_id) == 0);

static void skv_client_key_release(struct kref *ref)
{
	struct skv_client_key *key = container_of(ref, struct skv_client_key,
						  ref);

	/* Freeing the transform wipes its key material. */
	crypto_free_shash(key->tfm);
	/* A reader of the set may still look at it: see skv_client_key_find. */
	kfree_rcu(key, rcu);
}

void skv_client_key_put(struct skv_client_key *key)
{
	if (key)
		kref_put(&key->ref, skv_client_key_release);
}

struct skv_client_key *skv_client_key_new(const u8 *secret, u32 len, u8 all,
					  const struct skv_client_right *tables,
					  u32 ntables)
{
	struct skv_client_key *key;
	struct crypto_shash *tfm;

	key = kzalloc(struct_size(key, tables, ntables), GFP_KERNEL);
	if (!key)
		return ERR_PTR(-ENOMEM);
	tfm = skv_auth_tfm_new(secret, len, &key->id);
	if (IS_ERR(tfm)) {
		kfree(key);
		return ERR_CAST(tfm);
	}
	kref_init(&key->ref);
	key->tfm = tfm;
	key->all = all;
	key->ntables = ntables;
	memcpy(key->tables, tables, flex_array_size(key, tables, ntables));
	return key;
}

static struct skv_client_keys *skv_client_set(struct skv_node *node)
{
	return rcu_dereference_protected(node->client_keys,
					 lockdep_is_held(&node->lock));
}

/*
 * Publish a new set: the old keys but the one at skip (revoked), plus add
 * (may be NULL; the set takes its reference).  The old set's references
 * can go at once: a reader takes a key only with kref_get_unless_zero(),
 * and keys are freed after a grace period (kfree_rcu).
 */
static int skv_client_publish(struct skv_node *node, int skip,
			      struct skv_client_key *add)
{
	struct skv_client_keys *old = skv_client_set(node), *set;
	unsigned int i, n = 0, nold = old ? old->n : 0;

	set = kzalloc(struct_size(set, key, nold + 1), GFP_KERNEL);
	if (!set)
		return -ENOMEM;
	for (i = 0; i < nold; i++) {
		if ((int)i == skip)
			continue;
		kref_get(&old->key[i]->ref);
		set->key[n++] = old->key[i];
	}
	if (add)
		set->key[n++] = add;
	set->n = n;
	rcu_assign_pointer(node->client_keys, set);
	if (!old)
		return 0;
	if (skip >= 0)
		WRITE_ONCE(old->key[skip]->revoked, true);
	for (i = 0; i < nold; i++)
		skv_client_key_put(old->key[i]);
	kfree_rcu(old, rcu);
	return 0;
}

static int skv_client_index(struct skv_client_keys *set, u32 id)
{
	unsigned int i;

	for (i = 0; set && i < set->n; i++)
		if (set->key[i]->id == id)
			return i;
	return -1;
}

int skv_client_key_add(struct skv_node *node, struct skv_client_key *key,
		       struct netlink_ext_ack *extack)
{
	struct skv_client_keys *set = skv_client_set(node);
	int skip = skv_client_index(set, key->id);

	lockdep_assert_held(&node->lock);
	if (skip < 0 && set && set->n >= STEADYKV_CLIENT_KEYS_MAX) {
		NL_SET_ERR_MSG_FMT_MOD(extack,
				       "the node holds %d client keys, the most it takes",
				       STEADYKV_CLIENT_KEYS_MAX);
		return -E2BIG;
	}
	return skv_client_publish(node, skip, key);
}

int skv_client_key_del(struct skv_node *node, u32 id)
{
	int skip = skv_client_index(skv_client_set(node), id);

	lockdep_assert_held(&node->lock);
	if (skip < 0)
		return -ENOENT;
	return skv_client_publish(node, skip, NULL);
}

void skv_client_keys_exit(struct skv_node *node)
{
	struct skv_client_keys *set;
	unsigned int i;

	set = rcu_replace_pointer(node->client_keys, NULL,
				  lockdep_is_held(&node->lock));
	if (!set)
		return;
	for (i = 0; i < set->n; i++) {
		WRITE_ONCE(set->key[i]->revoked, true);
		skv_client_key_put(set->key[i]);
	}
	kfree_rcu(set, rcu);
}

struct skv_client_key *skv_client_key_find(struct skv_node *node, u32 id)
{
	struct skv_client_key *key = NULL;
	struct skv_client_keys *set;
	unsigned int i;

	rcu_read_lock();
	set = rcu_dereference(node->client_keys);
	for (i = 0; set && i < set->n; i++) {
		if (set->key[i]->id != id)
			continue;
		if (kref_get_unless_zero(&set->key[i]->ref))
			key = set->key[i];
		break;
	}
	rcu_read_unlock();
	return key;
}

u32 skv_client_keys_count(struct skv_node *node)
{
	struct skv_client_keys *set;
	u32 n;

	rcu_read_lock();
	set = rcu_dereference(node->client_keys);
	n = set ? set->n : 0;
	rcu_read_unlock();
	return n;
}

/* The key's rights on one table: a binary search of its sorted list. */
static u8 skv_client_rights(const struct skv_client_key *key, u64 table_id)
{
	u32 lo = 0, hi = key->ntables;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		u64 t = key->tables[mid].table_id;

		if (t == table_id)
			return key->all | key->tables[mid].rights;
		if (t < table_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return key->all;
}

void skv_client_memo(struct skv_conn *c, u64 table_id)
{
	c->client_memo_table = table_id;
	c->client_memo_rights = skv_client_rights(c->client_key, table_id);
}

void skv_client_proven(struct skv_conn *c, struct skv_client_key *key)
{
	c->client_key = key;
	c->client_all = key->all;
	skv_client_memo(c, 0);
}

void skv_client_release(struct skv_conn *c)
{
	skv_client_key_put(c->client_key);
	c->client_key = NULL;
}

int skv_client_deny(struct skv_conn *c, const struct skv_hdr *h, u8 status)
{
	if (status == SKV_S_AUTH_REQUIRED)
		return skv_auth_refuse(c, h);
	return skv_reply(c, h, status, NULL, 0);
}
