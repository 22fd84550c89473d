/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Client keys (issue 11, item 6): when the operator asks, a data client
 * proves a client key with the challenge-response of steadykv/auth.h
 * (role client) once per connection, and each key carries the tables it
 * may read and the tables it may write.
 *
 * A node holds up to STEADYKV_CLIENT_KEYS_MAX keys.  A key is immutable
 * once made: adding, replacing or removing one builds a new set under
 * node->lock and publishes it with RCU.  Each key is referenced by the
 * set, by a handshake under way and by every connection that proved it;
 * a key taken out of the set is marked revoked, so those connections are
 * refused their next data op (AUTH_REQUIRED, and they close).  The last
 * reference frees the transform, which wipes the key material.
 *
 * The rights are resolved at PROOF time into the connection
 * (skv_client_proven()): "every table" rights as a bit mask, and the
 * rights on the last table asked for, so a request costs a bit test (a
 * new table, a binary search of the key's sorted table list).
 */
#ifndef SKV_AUTH_CLIENT_H
#define SKV_AUTH_CLIENT_H

#include <linux/types.h>
#include <linux/kref.h>
#include <linux/rcupdate.h>
#include <linux/unaligned.h>
#include <steadykv/auth.h>
#include <steadykv/wire.h>

#include "conn.h"
#include "node.h"

struct crypto_shash;
struct netlink_ext_ack;

#define SKV_CLIENT_READ		0x1
#define SKV_CLIENT_WRITE	0x2

struct skv_client_right {
	u64 table_id;
	u8 rights;			/* SKV_CLIENT_* */
};

struct skv_client_key {
	struct kref ref;
	struct rcu_head rcu;
	struct crypto_shash *tfm;	/* keyed hmac(sha256) */
	u32 id;
	bool revoked;			/* out of the set: set once */
	u8 all;				/* SKV_CLIENT_* on every table */
	u32 ntables;
	struct skv_client_right tables[];	/* sorted by table_id, unique */
};

/* The node's client keys: RCU, replaced whole under node->lock. */
struct skv_client_keys {
	struct rcu_head rcu;
	unsigned int n;
	struct skv_client_key *key[];	/* each referenced by the set */
};

/*
 * A key for secret (skv_auth_key_len_ok()) with its rights; tables is
 * sorted by table_id and unique.  An ERR_PTR on failure.
 */
struct skv_client_key *skv_client_key_new(const u8 *secret, u32 len, u8 all,
					  const struct skv_client_right *tables,
					  u32 ntables);
void skv_client_key_put(struct skv_client_key *key);

/*
 * Add key to the node's set (it takes the caller's reference), replacing
 * and revoking a key with the same id.  Caller holds node->lock.  0, or
 * -E2BIG (the set is full; extack says so).
 */
int skv_client_key_add(struct skv_node *node, struct skv_client_key *key,
		       struct netlink_ext_ack *extack);
/* Remove and revoke the key id.  Caller holds node->lock.  0 or -ENOENT. */
int skv_client_key_del(struct skv_node *node, u32 id);
/* Namespace exit: drop every client key.  Caller holds node->lock. */
void skv_client_keys_exit(struct skv_node *node);

/* The node's key id with a reference (put it), or NULL. */
struct skv_client_key *skv_client_key_find(struct skv_node *node, u32 id);
/* How many client keys the node holds. */
u32 skv_client_keys_count(struct skv_node *node);

/* c proved key: resolve its rights into c (c takes the reference). */
void skv_client_proven(struct skv_conn *c, struct skv_client_key *key);
/* Rights of the connection's key on a table not in its memo. */
void skv_client_memo(struct skv_conn *c, u64 table_id);
/* Connection teardown: drop the key it proved, if any. */
void skv_client_release(struct skv_conn *c);

/*
 * May connection c run a data op on the table its body names?  SKV_S_OK,
 * SKV_S_AUTH_REQUIRED (client keys are required and c proved none, or
 * its key was removed: the connection closes) or SKV_S_ACCESS_DENIED.
 * Node-to-node peers keep every right; a body too short to name a table
 * is left to the op, which answers BAD_REQUEST.
 */
static inline u8 skv_client_access(struct skv_conn *c, u8 opcode,
				   const u8 *body, u32 len)
{
	u64 table_id;
	u8 need;

	switch (opcode) {
	case SKV_OP_GET:
	case SKV_OP_MULTI_GET:
		need = SKV_CLIENT_READ;
		break;
	case SKV_OP_PUT:
	case SKV_OP_DELETE:
		need = SKV_CLIENT_WRITE;
		break;
	default:
		return SKV_S_OK;
	}
	if (c->auth_role != SKV_AUTH_ROLE_CLIENT) {
		if (c->auth_role || !READ_ONCE(c->node->client_auth_required))
			return SKV_S_OK;
		return SKV_S_AUTH_REQUIRED;
	}
	if (READ_ONCE(c->client_key->revoked))
		return SKV_S_AUTH_REQUIRED;
	if (c->client_all & need)
		return SKV_S_OK;
	/* Every data op's body opens with its table id. */
	if (len < sizeof(__le64))
		return SKV_S_OK;
	table_id = get_unaligned_le64(body);
	if (table_id != c->client_memo_table)
		skv_client_memo(c, table_id);
	return c->client_memo_rights & need ? SKV_S_OK : SKV_S_ACCESS_DENIED;
}

/* Answer a refused data op: AUTH_REQUIRED closes, ACCESS_DENIED does not. */
int skv_client_deny(struct skv_conn *c, const struct skv_hdr *h, u8 status);

#endif /* SKV_AUTH_CLIENT_H */
