// SPDX-License-Identifier: GPL-2.0
/*
 * Client keys (issue 11, item 6).  Each test runs in a private namespace
 * whose node has tables 1 and 2 (one tablet each), control keys in both,
 * and four client keys:
 *
 *   full    reads and writes tables 1 and 2 (listed)
 *   ro1     reads 1 and 2, writes only 2:   no write access to table 1
 *   wo1     writes 1 and 2, reads only 2:   no read access to table 1
 *   all     reads and writes every table
 *
 * With client keys required: no key (AUTH_REQUIRED, closed; PING still
 * answered), a key the node does not hold and a wrong proof (AUTH_FAILED,
 * closed), a recorded handshake replayed on a new connection
 * (AUTH_FAILED), PUT/DELETE with ro1 and GET/MULTI_GET with wo1 on table 1
 * (ACCESS_DENIED, the connection stays open, the data unchanged), each
 * with the exact status; a key with rights works; peers keep every right;
 * a removed or replaced key refuses new handshakes and ends the
 * connections that proved it.  Off (the default), clients are served as
 * before.  The netlink side: bad input with its extack, the caps, key ids
 * only in dumps, CAP_NET_ADMIN.  libsteadykv's opts.client_key and its
 * codes.  Last, the benchmark: connections/s with and without the
 * handshake, and GET/PUT ops/s on authenticated and unauthenticated
 * connections, in the same run (figures printed, nothing timed asserted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "skv_util.h"
#include "steadykv.h"

#define T1		1ull
#define T2		2ull
#define NCONTROL	8

enum { K_FULL, K_RO1, K_WO1, K_ALL, K_COUNT };

static void random_key(struct skv_auth_key *k)
{
	uint8_t secret[SKV_AUTH_KEY_MIN_LEN];

	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret))
		abort();
	skv_auth_key_set(k, secret, sizeof(secret));
}

/* client-key-add of k with rights given as "all" or up to 2 tables each way. */
static int add_key(struct sknl *nl, const struct skv_auth_key *k, bool read_all,
		   const uint64_t *read, size_t nread, bool write_all,
		   const uint64_t *write, size_t nwrite, struct sknl_err *err)
{
	struct sknl_client_key r = { .read_all = read_all, .write_all = write_all,
				     .nread = nread, .nwrite = nwrite };

	if (nread)
		memcpy(r.read, read, nread * sizeof(*read));
	if (nwrite)
		memcpy(r.write, write, nwrite * sizeof(*write));
	return sknl_client_key_add(nl, k->secret, k->len, &r, err);
}

static const uint64_t both[] = { T1, T2 }, only2[] = { T2 };

static int add_keys(struct sknl *nl, struct skv_auth_key *keys, struct sknl_err *err)
{
	for (int i = 0; i < K_COUNT; i++)
		random_key(&keys[i]);
	if (add_key(nl, &keys[K_FULL], false, both, 2, false, both, 2, err) ||
	    add_key(nl, &keys[K_RO1], false, both, 2, false, only2, 1, err) ||
	    add_key(nl, &keys[K_WO1], false, only2, 1, false, both, 2, err) ||
	    add_key(nl, &keys[K_ALL], true, NULL, 0, true, NULL, 0, err))
		return -1;
	return 0;
}

static int set_required(struct sknl *nl, int on)
{
	struct sknl_err err;

	return sknl_client_auth_required(nl, on, &err);
}

/* The handshake as a client with key k: as st_auth() does it as a peer. */
static int client_hello(int fd, const struct skv_auth_key *k, struct skv_auth_hello *hello,
			struct skv_auth_challenge *ch)
{
	if (skv_auth_hello_init(hello, k, SKV_AUTH_ROLE_CLIENT))
		return -1;
	return st_auth_hello(fd, hello, ch);
}

static int client_auth(int fd, const struct skv_auth_key *k)
{
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	int st = client_hello(fd, k, &hello, &ch);

	if (st != SKV_S_OK)
		return st;
	if (!skv_auth_initiator_prove(k, &hello, &ch, &proof)) {
		snprintf(st_last_error, sizeof(st_last_error), "the node did not prove the key");
		return -1;
	}
	return st_auth_proof(fd, &proof);
}

/* A connection that proved k; -1 if it did not. */
static int connect_as(const struct skv_auth_key *k)
{
	int fd = st_connect(ST_ADDR, ST_PORT);

	if (fd >= 0 && k && client_auth(fd, k) != SKV_S_OK) {
		close(fd);
		return -1;
	}
	return fd;
}

static int mget_status(int fd, uint64_t table, const char *key)
{
	struct st_item items[1];
	struct st_reply r;
	const char *keys[] = { key };
	int st = st_mget(fd, table, keys, 1, &r, items);

	if (st >= 0)
		st_reply_free(&r);
	return st;
}

static int get_status(int fd, uint64_t table, const char *key)
{
	uint64_t ver;
	char *val = NULL;
	int st = st_gets(fd, table, key, &val, &ver);

	free(val);
	return st;
}

/* ---- the fixture ------------------------------------------------------- */

FIXTURE(client) {
	struct sknl nl;
	struct skv_auth_key keys[K_COUNT];
	uint64_t version[2][NCONTROL];	/* control-N in T1 and T2 */
};

static void control_key(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "control-%d", i);
}

FIXTURE_SETUP(client)
{
	struct sknl_err err;
	char key[32];
	int fd, t, i;

	ASSERT_EQ(0, st_new_netns());
	ASSERT_EQ(0, st_nl_open(&self->nl));
	ASSERT_EQ(0, st_node_start(&self->nl, ST_PORT)) TH_LOG("%s", st_last_error);
	ASSERT_EQ(0, sknl_table_add(&self->nl, T2, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, sknl_tablet_add(&self->nl, T2, 0, UINT64_MAX, -1, &err)) TH_LOG("%s", err.msg);
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	for (t = 0; t < 2; t++) {
		for (i = 0; i < NCONTROL; i++) {
			control_key(key, sizeof(key), i);
			ASSERT_EQ(SKV_S_OK, st_puts(fd, t ? T2 : T1, key, "before", 0,
						    &self->version[t][i]));
		}
	}
	close(fd);
	ASSERT_EQ(0, add_keys(&self->nl, self->keys, &err)) TH_LOG("%s", err.msg);
}

FIXTURE_TEARDOWN(client)
{
	sknl_close(&self->nl);
}

/* Every control key reads back as written, with its version. */
static void check_control(struct __test_metadata *_metadata, FIXTURE_DATA(client) *self)
{
	int fd = connect_as(&self->keys[K_ALL]), t, i;
	char key[32], *val;
	uint64_t ver;

	ASSERT_LE(0, fd);
	for (t = 0; t < 2; t++) {
		for (i = 0; i < NCONTROL; i++) {
			control_key(key, sizeof(key), i);
			ASSERT_EQ(SKV_S_OK, st_gets(fd, t ? T2 : T1, key, &val, &ver));
			EXPECT_STREQ("before", val);
			EXPECT_EQ(self->version[t][i], ver);
			free(val);
		}
	}
	close(fd);
}

/* The connection was closed by the node (after the reply it got). */
static void expect_closed(struct __test_metadata *_metadata, int fd, const char *what)
{
	EXPECT_EQ(1, st_wait_closed(fd, 10000)) TH_LOG("%s: the connection stayed open", what);
	close(fd);
}

TEST_F(client, off_by_default_clients_served)
{
	struct sknl_node n;
	struct sknl_err err;
	uint64_t ver;
	int fd;

	ASSERT_EQ(0, sknl_node_get(&self->nl, &n, &err));
	ASSERT_TRUE(SKNL_NODE_HAS(&n, STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED));
	EXPECT_EQ(0, n.val[STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED]);
	EXPECT_EQ(K_COUNT, n.val[STEADYKV_A_NODE_CLIENT_KEYS]);
	/* Keys installed but not required: a client with no key is served. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_OK, get_status(fd, T1, "control-0"));
	EXPECT_EQ(SKV_S_OK, mget_status(fd, T1, "control-0"));
	EXPECT_EQ(SKV_S_OK, st_puts(fd, T1, "free", "x", 0, &ver));
	EXPECT_EQ(SKV_S_OK, st_dels(fd, T1, "free", 0, &ver));
	close(fd);
	/* On and off again: served again. */
	ASSERT_EQ(0, set_required(&self->nl, 1));
	ASSERT_EQ(0, set_required(&self->nl, 0));
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_OK, get_status(fd, T1, "control-0"));
	close(fd);
	check_control(_metadata, self);
}

TEST_F(client, no_key_refused_ping_open)
{
	static const char *const names[] = { "GET", "MULTI_GET", "PUT", "DELETE" };
	uint64_t ver;
	int op, fd, st;

	ASSERT_EQ(0, set_required(&self->nl, 1));
	for (op = 0; op < 4; op++) {
		fd = st_connect(ST_ADDR, ST_PORT);
		ASSERT_LE(0, fd);
		/* PING needs no key, and leaves the connection open. */
		EXPECT_EQ(SKV_S_OK, st_ping(fd));
		EXPECT_EQ(1, st_is_open_quiet(fd, 50));
		switch (op) {
		case 0: st = get_status(fd, T1, "control-0"); break;
		case 1: st = mget_status(fd, T1, "control-0"); break;
		case 2: st = st_puts(fd, T1, "control-0", "FORGED", 0, &ver); break;
		default: st = st_dels(fd, T1, "control-0", 0, &ver); break;
		}
		EXPECT_EQ(SKV_S_AUTH_REQUIRED, st)
			TH_LOG("%s without a key: %s", names[op],
			       st < 0 ? st_last_error : st_status_name(st));
		expect_closed(_metadata, fd, names[op]);
	}
	check_control(_metadata, self);
}

TEST_F(client, wrong_key_and_wrong_proof_refused)
{
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	struct skv_auth_key stranger;
	uint64_t ver;
	int fd;

	ASSERT_EQ(0, set_required(&self->nl, 1));
	/* A key the node does not hold. */
	random_key(&stranger);
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_AUTH_FAILED, client_auth(fd, &stranger));
	expect_closed(_metadata, fd, "unknown key");
	/* The cluster key is a peer's, not a client's. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_AUTH_FAILED, client_auth(fd, st_cluster_key()));
	expect_closed(_metadata, fd, "cluster key as a client key");
	/* A held key's id with a proof made without its secret. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	ASSERT_EQ(SKV_S_OK, client_hello(fd, &self->keys[K_FULL], &hello, &ch));
	ASSERT_TRUE(skv_auth_initiator_prove(&self->keys[K_FULL], &hello, &ch, &proof));
	proof.mac[0] ^= 1;
	EXPECT_EQ(SKV_S_AUTH_FAILED, st_auth_proof(fd, &proof));
	expect_closed(_metadata, fd, "wrong proof");
	/* A data op after a refused handshake gets no answer. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_AUTH_FAILED, client_auth(fd, &stranger));
	EXPECT_EQ(-1, st_puts(fd, T1, "control-0", "FORGED", 0, &ver));
	close(fd);
	check_control(_metadata, self);
}

TEST_F(client, replayed_handshake_refused)
{
	struct skv_auth_challenge ch, ch2;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	int fd;

	ASSERT_EQ(0, set_required(&self->nl, 1));
	/* Record a good exchange. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	ASSERT_EQ(SKV_S_OK, client_hello(fd, &self->keys[K_FULL], &hello, &ch));
	ASSERT_TRUE(skv_auth_initiator_prove(&self->keys[K_FULL], &hello, &ch, &proof));
	ASSERT_EQ(SKV_S_OK, st_auth_proof(fd, &proof));
	close(fd);
	/* Replay it on a new connection: a fresh nonce makes the proof stale. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	ASSERT_EQ(SKV_S_OK, st_auth_hello(fd, &hello, &ch2));
	EXPECT_NE(0, memcmp(ch.nonce, ch2.nonce, sizeof(ch.nonce)));
	EXPECT_EQ(SKV_S_AUTH_FAILED, st_auth_proof(fd, &proof));
	expect_closed(_metadata, fd, "replayed proof");
	/* A second handshake on an authenticated connection is refused too. */
	fd = connect_as(&self->keys[K_FULL]);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_AUTH_FAILED, client_hello(fd, &self->keys[K_ALL], &hello, &ch));
	expect_closed(_metadata, fd, "second HELLO");
	check_control(_metadata, self);
}

TEST_F(client, no_write_access)
{
	uint64_t ver;
	char *val;
	int fd;

	ASSERT_EQ(0, set_required(&self->nl, 1));
	fd = connect_as(&self->keys[K_RO1]);
	ASSERT_LE(0, fd) TH_LOG("%s", st_last_error);
	EXPECT_EQ(SKV_S_ACCESS_DENIED, st_puts(fd, T1, "control-0", "FORGED", 0, &ver));
	EXPECT_EQ(SKV_S_ACCESS_DENIED, st_dels(fd, T1, "control-1", 0, &ver));
	EXPECT_EQ(SKV_S_ACCESS_DENIED, st_puts(fd, T1, "new", "x", 0, &ver));
	/* The connection stays open; reads of table 1 and writes of table 2 work. */
	EXPECT_EQ(SKV_S_OK, st_gets(fd, T1, "control-0", &val, &ver));
	EXPECT_STREQ("before", val);
	EXPECT_EQ(self->version[0][0], ver);
	free(val);
	EXPECT_EQ(SKV_S_OK, mget_status(fd, T1, "control-1"));
	EXPECT_EQ(SKV_S_OK, st_puts(fd, T2, "ro1-writes-2", "x", 0, &ver));
	EXPECT_EQ(SKV_S_OK, st_dels(fd, T2, "ro1-writes-2", 0, &ver));
	/* Back and forth between the tables: the cached rights follow. */
	EXPECT_EQ(SKV_S_ACCESS_DENIED, st_dels(fd, T1, "control-1", 0, &ver));
	EXPECT_EQ(SKV_S_NOT_FOUND, get_status(fd, T1, "new"));
	close(fd);
	check_control(_metadata, self);
}

TEST_F(client, no_read_access)
{
	uint64_t ver;
	int fd;

	ASSERT_EQ(0, set_required(&self->nl, 1));
	fd = connect_as(&self->keys[K_WO1]);
	ASSERT_LE(0, fd) TH_LOG("%s", st_last_error);
	EXPECT_EQ(SKV_S_ACCESS_DENIED, get_status(fd, T1, "control-0"));
	EXPECT_EQ(SKV_S_ACCESS_DENIED, mget_status(fd, T1, "control-0"));
	/* Open still: it reads table 2 and writes table 1. */
	EXPECT_EQ(SKV_S_OK, get_status(fd, T2, "control-0"));
	EXPECT_EQ(SKV_S_OK, mget_status(fd, T2, "control-0"));
	EXPECT_EQ(SKV_S_OK, st_puts(fd, T1, "wo1-writes-1", "x", 0, &ver));
	EXPECT_EQ(SKV_S_ACCESS_DENIED, get_status(fd, T1, "wo1-writes-1"));
	EXPECT_EQ(SKV_S_OK, st_dels(fd, T1, "wo1-writes-1", 0, &ver));
	/* A table the key names nowhere: no access at all. */
	EXPECT_EQ(SKV_S_ACCESS_DENIED, get_status(fd, 3, "x"));
	EXPECT_EQ(SKV_S_ACCESS_DENIED, st_puts(fd, 3, "x", "y", 0, &ver));
	close(fd);
	check_control(_metadata, self);
}

TEST_F(client, keys_with_rights_work_peers_keep_theirs)
{
	uint64_t ver;
	int k, fd;

	ASSERT_EQ(0, set_required(&self->nl, 1));
	for (k = 0; k < K_COUNT; k += K_ALL) {
		fd = connect_as(&self->keys[k]);
		ASSERT_LE(0, fd) TH_LOG("%s", st_last_error);
		EXPECT_EQ(SKV_S_OK, st_puts(fd, T1, "rights", "x", 0, &ver));
		EXPECT_EQ(SKV_S_OK, get_status(fd, T1, "rights"));
		EXPECT_EQ(SKV_S_OK, mget_status(fd, T2, "control-0"));
		EXPECT_EQ(SKV_S_OK, st_dels(fd, T1, "rights", 0, &ver));
		/* Table 3 does not exist: the store says so, past the rights. */
		if (k == K_ALL)
			EXPECT_EQ(SKV_S_UNKNOWN_TABLE, get_status(fd, 3, "x"));
		close(fd);
	}
	/* A node-to-node peer keeps every right. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	ASSERT_EQ(SKV_S_OK, st_auth(fd, st_cluster_key())) TH_LOG("%s", st_last_error);
	EXPECT_EQ(SKV_S_OK, get_status(fd, T1, "control-0"));
	EXPECT_EQ(SKV_S_OK, st_puts(fd, T2, "peer", "x", 0, &ver));
	EXPECT_EQ(SKV_S_OK, st_dels(fd, T2, "peer", 0, &ver));
	close(fd);
	check_control(_metadata, self);
}

TEST_F(client, removed_or_replaced_key_ends_its_connections)
{
	struct skv_auth_key *full = &self->keys[K_FULL];
	struct sknl_err err;
	int fd, fd2, other;

	ASSERT_EQ(0, set_required(&self->nl, 1));
	fd = connect_as(full);
	ASSERT_LE(0, fd);
	other = connect_as(&self->keys[K_ALL]);
	ASSERT_LE(0, other);
	EXPECT_EQ(SKV_S_OK, get_status(fd, T1, "control-0"));
	/* Replaced (same secret, fewer rights): the old rights are gone. */
	ASSERT_EQ(0, add_key(&self->nl, full, false, only2, 1, false, NULL, 0, &err))
		TH_LOG("%s", err.msg);
	EXPECT_EQ(SKV_S_AUTH_REQUIRED, get_status(fd, T1, "control-0"));
	expect_closed(_metadata, fd, "replaced key");
	fd = connect_as(full);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_ACCESS_DENIED, get_status(fd, T1, "control-0"));
	EXPECT_EQ(SKV_S_OK, get_status(fd, T2, "control-0"));
	/* Removed: new handshakes fail, its connections end at their next op. */
	ASSERT_EQ(0, sknl_client_key_del(&self->nl, full->id, &err)) TH_LOG("%s", err.msg);
	fd2 = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(SKV_S_AUTH_FAILED, client_auth(fd2, full));
	expect_closed(_metadata, fd2, "removed key, new handshake");
	EXPECT_EQ(SKV_S_AUTH_REQUIRED, get_status(fd, T2, "control-0"));
	expect_closed(_metadata, fd, "removed key, old connection");
	/* Another key's connection is untouched. */
	EXPECT_EQ(SKV_S_OK, get_status(other, T1, "control-0"));
	close(other);
	EXPECT_EQ(-ENOENT, sknl_client_key_del(&self->nl, full->id, &err));
	EXPECT_NE(NULL, strstr(err.msg, "no client key"));
	check_control(_metadata, self);
}

TEST_F(client, netlink_input_checked_ids_only)
{
	uint8_t secret[SKV_AUTH_KEY_MAX_LEN + 1] = { 7 };
	struct sknl_client_key *keys, r = { .read_all = true };
	struct skv_auth_key extra;
	struct sknl_err err;
	struct sknl_node n;
	size_t count;
	int i, found = 0;

	/* No right at all, a bad secret length, too many tables. */
	random_key(&extra);
	memset(&r, 0, sizeof(r));
	EXPECT_EQ(-EINVAL, sknl_client_key_add(&self->nl, extra.secret, extra.len, &r, &err));
	EXPECT_NE(NULL, strstr(err.msg, "needs a right")) TH_LOG("%s", err.msg);
	r.read_all = true;
	EXPECT_EQ(-EINVAL, sknl_client_key_add(&self->nl, secret, SKV_AUTH_KEY_MIN_LEN - 1, &r,
					       &err));
	EXPECT_NE(NULL, strstr(err.msg, "a key is")) TH_LOG("%s", err.msg);
	EXPECT_EQ(-EINVAL, sknl_client_key_add(&self->nl, secret, SKV_AUTH_KEY_MAX_LEN + 1, &r,
					       &err));
	/* client-auth-required is 0 or 1 (the policy says why). */
	{
		struct sknl_auth none = { .insecure = -1 };

		EXPECT_EQ(-EINVAL, sknl_auth_set(&self->nl, &none, &err));
		EXPECT_NE(NULL, strstr(err.msg, "client-auth-required")) TH_LOG("%s", err.msg);
	}
	/* The dump: each key's id and rights, never a secret. */
	ASSERT_EQ(0, sknl_client_key_dump(&self->nl, &keys, &count, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ((size_t)K_COUNT, count);
	for (size_t j = 0; j < count; j++) {
		if (keys[j].id == self->keys[K_RO1].id) {
			found++;
			EXPECT_FALSE(keys[j].read_all);
			EXPECT_FALSE(keys[j].write_all);
			ASSERT_EQ(2u, keys[j].nread);
			EXPECT_EQ(T1, keys[j].read[0]);
			EXPECT_EQ(T2, keys[j].read[1]);
			ASSERT_EQ(1u, keys[j].nwrite);
			EXPECT_EQ(T2, keys[j].write[0]);
		}
		if (keys[j].id == self->keys[K_ALL].id) {
			found++;
			EXPECT_TRUE(keys[j].read_all);
			EXPECT_TRUE(keys[j].write_all);
			EXPECT_EQ(0u, keys[j].nread + keys[j].nwrite);
		}
	}
	free(keys);
	EXPECT_EQ(2, found);
	/* At most STEADYKV_CLIENT_KEYS_MAX keys. */
	for (i = K_COUNT; i < STEADYKV_CLIENT_KEYS_MAX; i++) {
		random_key(&extra);
		ASSERT_EQ(0, sknl_client_key_add(&self->nl, extra.secret, extra.len, &r, &err))
			TH_LOG("key %d: %s", i, err.msg);
	}
	random_key(&extra);
	EXPECT_EQ(-E2BIG, sknl_client_key_add(&self->nl, extra.secret, extra.len, &r, &err));
	EXPECT_NE(NULL, strstr(err.msg, "client keys")) TH_LOG("%s", err.msg);
	/* Replacing a key is not adding one. */
	EXPECT_EQ(0, sknl_client_key_add(&self->nl, self->keys[K_ALL].secret,
					 self->keys[K_ALL].len, &r, &err));
	ASSERT_EQ(0, sknl_node_get(&self->nl, &n, &err));
	EXPECT_EQ(STEADYKV_CLIENT_KEYS_MAX, n.val[STEADYKV_A_NODE_CLIENT_KEYS]);
}

TEST_F(client, too_many_tables_refused)
{
	struct sknl_client_key *r = calloc(1, sizeof(*r));
	struct skv_auth_key k;
	struct sknl_err err;
	struct nl_msg *msg;
	int i, rc;

	ASSERT_NE(NULL, r);
	random_key(&k);
	/* libskvnl refuses more than the cap itself: build the request by hand. */
	msg = sknl_request(&self->nl, STEADYKV_CMD_CLIENT_KEY_ADD, 0);
	ASSERT_NE(NULL, msg);
	ASSERT_EQ(0, nla_put(msg, STEADYKV_A_CLIENT_KEY_SECRET, (int)k.len, k.secret));
	for (i = 0; i <= STEADYKV_CLIENT_KEY_TABLES_MAX; i++)
		ASSERT_EQ(0, nla_put_u64(msg, STEADYKV_A_CLIENT_KEY_WRITE_TABLE, 100 + i));
	rc = sknl_transact_err(&self->nl, msg, NULL, &err);
	EXPECT_EQ(-EINVAL, rc);
	EXPECT_NE(NULL, strstr(err.msg, "at most")) TH_LOG("%s", err.msg);
	/* The cap itself is fine. */
	r->nwrite = STEADYKV_CLIENT_KEY_TABLES_MAX;
	for (i = 0; i < STEADYKV_CLIENT_KEY_TABLES_MAX; i++)
		r->write[i] = 100 + i;
	EXPECT_EQ(0, sknl_client_key_add(&self->nl, k.secret, k.len, r, &err)) TH_LOG("%s", err.msg);
	free(r);
}

/* Without CAP_NET_ADMIN nothing about client keys can change. */
TEST_F(client, unprivileged_refused)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct sknl_client_key r = { .read_all = true };
		struct skv_auth_key k;
		struct sknl_err err;
		struct sknl nl;

		random_key(&k);
		if (st_drop_privileges() || st_nl_open(&nl))
			_exit(10);
		if (sknl_client_key_add(&nl, k.secret, k.len, &r, &err) != -EPERM)
			_exit(1);
		if (sknl_client_key_del(&nl, self->keys[K_FULL].id, &err) != -EPERM)
			_exit(2);
		if (sknl_client_auth_required(&nl, 1, &err) != -EPERM)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* ---- libsteadykv ------------------------------------------------------- */

static void key_file(struct __test_metadata *_metadata, const struct skv_auth_key *k,
		     char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "/tmp/skv-client-key.%d.%u", getpid(), k->id);
	f = fopen(path, "w");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, fchmod(fileno(f), 0600));
	for (size_t i = 0; i < k->len; i++)
		fprintf(f, "%02x", k->secret[i]);
	fputc('\n', f);
	fclose(f);
}

TEST_F(client, library_opts_client_key)
{
	struct skv_auth_key stranger;
	char path[128], path2[128], why[256];
	struct skv_client_key *ro1, *bad;
	struct skv_opts opts = { 0 };
	struct skv_conn *c;
	uint64_t ver;
	void *val;

	ASSERT_EQ(0, set_required(&self->nl, 1));
	key_file(_metadata, &self->keys[K_RO1], path, sizeof(path));
	ro1 = skv_client_key_load(path, why, sizeof(why));
	unlink(path);
	ASSERT_NE(NULL, ro1) TH_LOG("%s", why);
	EXPECT_EQ(self->keys[K_RO1].id, skv_client_key_id(ro1));
	/* Every connection it opens proves the key. */
	opts.client_key = ro1;
	ASSERT_EQ(SKV_OK, skv_connect_opts(ST_ADDR, ST_PORT, &opts, &c));
	EXPECT_EQ(SKV_OK, skv_get(c, T1, "control-0", 9, &val, NULL, &ver));
	free(val);
	EXPECT_EQ(SKV_E_ACCESS_DENIED, skv_put(c, T1, "control-0", 9, "F", 1, 0, &ver));
	EXPECT_STREQ("ACCESS_DENIED", skv_code_name(SKV_E_ACCESS_DENIED));
	/* The connection stays usable after ACCESS_DENIED. */
	EXPECT_EQ(SKV_OK, skv_put(c, T2, "lib", 3, "x", 1, 0, &ver));
	skv_close(c);
	/* No key: AUTH_REQUIRED, then the node has closed it. */
	ASSERT_EQ(SKV_OK, skv_connect(ST_ADDR, ST_PORT, &c));
	EXPECT_EQ(SKV_E_AUTH_REQUIRED, skv_get(c, T1, "control-0", 9, &val, NULL, &ver));
	EXPECT_EQ(SKV_E_CLOSED, skv_ping(c));
	skv_close(c);
	/* A key the node does not hold: the connect fails with AUTH_FAILED. */
	random_key(&stranger);
	key_file(_metadata, &stranger, path2, sizeof(path2));
	bad = skv_client_key_load(path2, why, sizeof(why));
	unlink(path2);
	ASSERT_NE(NULL, bad) TH_LOG("%s", why);
	opts.client_key = bad;
	EXPECT_EQ(SKV_E_AUTH_FAILED, skv_connect_opts(ST_ADDR, ST_PORT, &opts, &c));
	EXPECT_EQ(NULL, c);
	skv_client_key_free(bad);
	skv_client_key_free(ro1);
	check_control(_metadata, self);
}

/* ---- the benchmark ----------------------------------------------------- */

#define BENCH_ROUNDS	30
#define BENCH_CONNS	10	/* per round and kind */
#define BENCH_BATCH	64	/* pipelined requests */
#define BENCH_BATCHES	10	/* per round and kind */

/* Connect (and authenticate with k), PING, close: n times; ms taken. */
static uint64_t bench_connects(const struct skv_auth_key *k, int n, int *failed)
{
	uint64_t t0 = st_now_ms();

	for (int i = 0; i < n; i++) {
		int fd = connect_as(k);

		if (fd < 0 || st_ping(fd) != SKV_S_OK)
			(*failed)++;
		if (fd >= 0)
			close(fd);
	}
	return st_now_ms() - t0;
}

/* BENCH_BATCHES batches of BENCH_BATCH pipelined GETs or PUTs; ms taken. */
static uint64_t bench_ops(int fd, uint8_t op, int *failed)
{
	static uint8_t buf[BENCH_BATCH * 256];
	uint64_t t0 = st_now_ms();
	char key[32];

	for (int b = 0; b < BENCH_BATCHES; b++) {
		size_t len = 0;

		for (int i = 0; i < BENCH_BATCH; i++) {
			snprintf(key, sizeof(key), "bench-%d", i);
			if (op == SKV_OP_GET)
				len += st_build_key(buf + len, SKV_OP_GET, i + 1, T1, key,
						    strlen(key), 0);
			else
				len += st_build_put(buf + len, i + 1, T1, key, strlen(key),
						    "0123456789abcdef", 16, 0);
		}
		if (st_send_all(fd, buf, len)) {
			(*failed)++;
			return 0;
		}
		for (int i = 0; i < BENCH_BATCH; i++) {
			struct st_reply r;

			if (st_recv_reply(fd, &r)) {
				(*failed)++;
				return 0;
			}
			*failed += r.h.status != SKV_S_OK;
			st_reply_free(&r);
		}
	}
	return st_now_ms() - t0;
}

static double per_s(uint64_t n, uint64_t ms)
{
	return ms ? n * 1000.0 / ms : 0;
}

TEST_F_TIMEOUT(client, benchmark, 600)
{
	const struct skv_auth_key *k = &self->keys[K_FULL];
	uint64_t ms_plain = 0, ms_auth = 0, get[2] = { 0 }, put[2] = { 0 };
	uint64_t nconn = (uint64_t)BENCH_ROUNDS * BENCH_CONNS;
	uint64_t nops = (uint64_t)BENCH_ROUNDS * BENCH_BATCHES * BENCH_BATCH;
	int failed = 0, round, i;

	/*
	 * Client keys not required, so both kinds of connection are served;
	 * the key names its tables (not "all"): each request takes the full
	 * rights check.  Each kind goes first every other round, and each
	 * round has connections of its own (their threads land on other
	 * CPUs), so neither kind is favoured by order or placement.
	 */
	for (round = 0; round < BENCH_ROUNDS; round++) {
		int fd[2], first = round % 2;

		for (i = 0; i < 2; i++) {
			if ((first + i) % 2)
				ms_auth += bench_connects(k, BENCH_CONNS, &failed);
			else
				ms_plain += bench_connects(NULL, BENCH_CONNS, &failed);
		}
		for (i = 0; i < 2; i++) {
			int kind = (first + i) % 2;

			fd[kind] = connect_as(kind ? k : NULL);
			ASSERT_LE(0, fd[kind]);
		}
		for (i = 0; i < 2; i++) {
			int kind = (first + i) % 2;

			put[kind] += bench_ops(fd[kind], SKV_OP_PUT, &failed);
		}
		for (i = 0; i < 2; i++) {
			int kind = (first + i) % 2;

			get[kind] += bench_ops(fd[kind], SKV_OP_GET, &failed);
		}
		close(fd[0]);
		close(fd[1]);
	}
	EXPECT_EQ(0, failed);
	ksft_print_msg("bench: connections/s (connect, PING, close): without client auth %.0f, "
		       "with client auth %.0f (%llu each)\n",
		       per_s(nconn, ms_plain), per_s(nconn, ms_auth), (unsigned long long)nconn);
	ksft_print_msg("bench: GET ops/s (pipelined %d): unauthenticated %.0f, "
		       "authenticated %.0f\n", BENCH_BATCH, per_s(nops, get[0]), per_s(nops, get[1]));
	ksft_print_msg("bench: PUT ops/s (pipelined %d): unauthenticated %.0f, "
		       "authenticated %.0f\n", BENCH_BATCH, per_s(nops, put[0]), per_s(nops, put[1]));
}

TEST_HARNESS_MAIN
