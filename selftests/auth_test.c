// SPDX-License-Identifier: GPL-2.0
/*
 * Authenticated peers (issue 11, item 1): a node takes the node-to-node
 * ops (PREPARE, PULL, PRIORITY_PULL, PUSH_BACK, END) only on connections
 * that proved the cluster key with the challenge-response of
 * steadykv/auth.h.  Each test runs in a private namespace whose node holds
 * st_cluster_key(), live tablets, control keys, and a live migration that
 * the test prepared as an authenticated target.
 *
 * The attackers: no key, a wrong key (naming an id the node does not
 * hold, or the node's own id, which node-get shows), a recorded handshake
 * replayed on a new connection, a reflected MAC, a PROOF without a HELLO,
 * and each of those pipelined with the op.  Every op they send is
 * refused (AUTH_REQUIRED or AUTH_FAILED, then the connection closes), and
 * afterwards the control keys, their versions, the node's version counter
 * and the live migration are as they were.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

/* The store core's record writer first: the harness defines ARRAY_SIZE only if missing. */
#include "record.h"
#include "kselftest_harness.h"
#include "skv_util.h"
#include "fuzz_util.h"

#define MIG		0x5eed0001ull	/* the live migration */
#define HALF		(1ull << 63)
#define NCONTROL	40
#define FORGED_VERSION	(UINT64_MAX - 1)

/* A fresh random key (never the cluster key). */
static void random_key(struct skv_auth_key *k)
{
	uint8_t secret[SKV_AUTH_KEY_MIN_LEN];

	if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret))
		abort();
	skv_auth_key_set(k, secret, sizeof(secret));
}

/* ---- the node-to-node ops, each naming the live migration ---------------- */

static size_t build_range(uint8_t *buf, uint8_t op, uint64_t start, uint64_t end,
			  uint32_t flags, uint32_t extra)
{
	return st_build_range(buf, op, 7, MIG, ST_TABLE, start, end, flags, extra);
}

static size_t build_pull(uint8_t *buf)
{
	return st_build_pull(buf, 7, MIG, ST_TABLE, HALF, UINT64_MAX, HALF, 0, 64 * 1024);
}

static size_t build_prio(uint8_t *buf)
{
	uint8_t *p = buf + sizeof(struct skv_hdr);
	const char *key = "control-0";

	st_hdr(buf, SKV_OP_MIG_PRIORITY_PULL, 7, sizeof(struct skv_prio_pull_req) + 8);
	memset(p, 0, sizeof(struct skv_prio_pull_req));
	put64(p, MIG);
	put64(p + 8, ST_TABLE);
	put16(p + 16, 1);
	put64(p + sizeof(struct skv_prio_pull_req), st_xxh64(key, strlen(key)));
	return sizeof(struct skv_hdr) + sizeof(struct skv_prio_pull_req) + 8;
}

/* PUSH_BACK of a well-formed record at version 2^64-2 over a control key. */
static size_t build_push(uint8_t *buf)
{
	const char *key = "control-1", *val = "FORGED";
	uint32_t kl = strlen(key), vl = strlen(val), rl = skv_rec_len(kl, vl);
	size_t n = build_range(buf, SKV_OP_MIG_PUSH_BACK, 0, UINT64_MAX, 0,
			       sizeof(struct skv_batch_hdr) + rl);
	uint8_t *b = buf + n, *rec = b + sizeof(struct skv_batch_hdr);

	skv_rec_write(rec, SKV_REC_OBJECT, ST_TABLE, st_xxh64(key, kl), FORGED_VERSION,
		      key, kl, val, vl, skv_rec_payload_crc(key, kl, val, vl));
	put32(b, SKV_BATCH_MAGIC);
	put32(b + 4, 1);
	put32(b + 8, rl);
	put32(b + 12, 0);	/* reserved */
	return n + sizeof(struct skv_batch_hdr) + rl;
}

/* Build attack op number i (0..NOPS-1) into buf: its length. */
#define NOPS 6
static size_t build_op(uint8_t *buf, int i, const char **name)
{
	switch (i) {
	case 0:
		*name = "PREPARE";
		return build_range(buf, SKV_OP_MIG_PREPARE, 0, HALF - 1, 0, 0);
	case 1:
		*name = "PULL";
		return build_pull(buf);
	case 2:
		*name = "PRIORITY_PULL";
		return build_prio(buf);
	case 3:
		*name = "PUSH_BACK";
		return build_push(buf);
	case 4:
		*name = "END commit";
		return build_range(buf, SKV_OP_MIG_END, HALF, UINT64_MAX, 0, 0);
	default:
		*name = "END abort";
		return build_range(buf, SKV_OP_MIG_END, HALF, UINT64_MAX, SKV_MIG_F_ABORT, 0);
	}
}

/* ---- attackers: what each does before the op ----------------------------- */

enum attacker {
	A_NO_KEY,		/* sends the op straight away */
	A_WRONG_KEY,		/* HELLO naming a key id the node does not hold */
	A_WRONG_KEY_NODE_ID,	/* HELLO naming the node's key id, proof with its own key */
	A_REPLAY,		/* HELLO and PROOF of a recorded good exchange */
	A_REFLECT,		/* the node's own MAC sent back as the proof */
	A_PROOF_ONLY,		/* a recorded PROOF without any HELLO */
	A_PIPELINED,		/* wrong-key HELLO, PROOF and the op in one send */
	A_COUNT,
};

static const char *const attacker_names[] = {
	"no key", "wrong key", "wrong key naming the node's key id", "replayed handshake",
	"reflected MAC", "proof without hello", "pipelined wrong key",
};

/* A good exchange, recorded on a connection of its own. */
struct recording {
	struct skv_auth_hello hello;
	struct skv_auth_challenge ch;
	struct skv_auth_proof proof;
};

static int record_exchange(struct recording *r)
{
	const struct skv_auth_key *k = st_cluster_key();
	int fd = st_connect(ST_ADDR, ST_PORT), st = -1;

	if (fd < 0)
		return -1;
	skv_auth_hello_init(&r->hello, k, SKV_AUTH_ROLE_PEER);
	if (st_auth_hello(fd, &r->hello, &r->ch) == SKV_S_OK &&
	    skv_auth_initiator_prove(k, &r->hello, &r->ch, &r->proof))
		st = st_auth_proof(fd, &r->proof);
	close(fd);
	return st;
}

/*
 * Run attacker a's prelude on fd: the status the node answered its last
 * auth step with (SKV_S_OK for A_NO_KEY, which sends none), or -1.
 */
static int attack_prelude(int fd, enum attacker a, const struct recording *rec)
{
	const struct skv_auth_key *cluster = st_cluster_key();
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	struct skv_auth_key wrong;
	int st;

	random_key(&wrong);
	switch (a) {
	case A_NO_KEY:
		return SKV_S_OK;
	case A_WRONG_KEY:
		skv_auth_hello_init(&hello, &wrong, SKV_AUTH_ROLE_PEER);
		return st_auth_hello(fd, &hello, &ch);
	case A_WRONG_KEY_NODE_ID:
		skv_auth_hello_init(&hello, &wrong, SKV_AUTH_ROLE_PEER);
		hello.key_id = htole32(cluster->id);
		st = st_auth_hello(fd, &hello, &ch);
		if (st != SKV_S_OK)
			return -1;	/* the node must answer: it holds that id */
		skv_auth_mac(&wrong, SKV_AUTH_LABEL_INITIATOR, &hello, ch.nonce, proof.mac);
		return st_auth_proof(fd, &proof);
	case A_REPLAY:
		st = st_auth_hello(fd, &rec->hello, &ch);
		if (st != SKV_S_OK)
			return -1;
		/* A fresh nonce: the recorded proof covers the old one. */
		if (!memcmp(ch.nonce, rec->ch.nonce, sizeof(ch.nonce)))
			return -1;
		return st_auth_proof(fd, &rec->proof);
	case A_REFLECT:
		skv_auth_hello_init(&hello, &wrong, SKV_AUTH_ROLE_PEER);
		hello.key_id = htole32(cluster->id);
		if (st_auth_hello(fd, &hello, &ch) != SKV_S_OK)
			return -1;
		memcpy(proof.mac, ch.mac, sizeof(proof.mac));
		return st_auth_proof(fd, &proof);
	case A_PROOF_ONLY:
		return st_auth_proof(fd, &rec->proof);
	default:
		return -1;
	}
}

/* Pipelined: wrong HELLO, a PROOF and the op in one send.  0 if refused. */
static int attack_pipelined(int fd, const uint8_t *op, size_t op_len,
			    struct __test_metadata *_metadata)
{
	uint8_t buf[sizeof(struct skv_hdr) * 2 + 128 + 4096];
	struct skv_auth_hello hello;
	struct skv_auth_key wrong;
	struct st_reply r;
	size_t n = 0;

	random_key(&wrong);
	skv_auth_hello_init(&hello, &wrong, SKV_AUTH_ROLE_PEER);
	n += st_hdr(buf, SKV_OP_AUTH_HELLO, 1, sizeof(hello));
	memcpy(buf + n, &hello, sizeof(hello));
	n += sizeof(hello);
	n += st_hdr(buf + n, SKV_OP_AUTH_PROOF, 2, sizeof(struct skv_auth_proof));
	memset(buf + n, 0xa5, sizeof(struct skv_auth_proof));
	n += sizeof(struct skv_auth_proof);
	memcpy(buf + n, op, op_len);
	n += op_len;
	if (st_send_all(fd, buf, n))
		return -1;
	if (st_recv_reply(fd, &r))
		return -1;
	EXPECT_EQ(SKV_OP_AUTH_HELLO, r.h.opcode);
	EXPECT_EQ(SKV_S_AUTH_FAILED, r.h.status);
	st_reply_free(&r);
	/* Nothing after: not the PROOF, not the op. */
	return st_recv_reply(fd, &r) == 0 ? -1 : 0;
}

/* ---- the fixture ------------------------------------------------------- */

struct control {
	char key[24];
	char val[24];
	uint64_t version;
};

FIXTURE(auth) {
	struct sknl nl;
	int mfd;		/* the authenticated target of the live migration */
	struct control ctl[NCONTROL];
	uint64_t node_version;
};

static uint64_t node_version(struct sknl *nl)
{
	struct sknl_node n;

	if (sknl_node_get(nl, &n, NULL))
		return 0;
	return n.val[STEADYKV_A_NODE_VERSION];
}

FIXTURE_SETUP(auth)
{
	uint8_t buf[256];
	struct st_reply r;
	size_t n;
	int fd, i;

	ASSERT_EQ(0, st_new_netns());
	ASSERT_EQ(0, st_nl_open(&self->nl));
	ASSERT_EQ(0, st_node_start(&self->nl, ST_PORT)) TH_LOG("%s", st_last_error);
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	for (i = 0; i < NCONTROL; i++) {
		snprintf(self->ctl[i].key, sizeof(self->ctl[i].key), "control-%d", i);
		snprintf(self->ctl[i].val, sizeof(self->ctl[i].val), "value-%d", i);
		ASSERT_EQ(SKV_S_OK, st_puts(fd, ST_TABLE, self->ctl[i].key, self->ctl[i].val, 0,
					    &self->ctl[i].version));
	}
	close(fd);
	/* A live migration of the upper half, the source still serving it. */
	self->mfd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, self->mfd);
	ASSERT_EQ(SKV_S_OK, st_auth(self->mfd, st_cluster_key())) TH_LOG("%s", st_last_error);
	n = build_range(buf, SKV_OP_MIG_PREPARE, HALF, UINT64_MAX, SKV_MIG_F_KEEP_OWNER, 0);
	ASSERT_EQ(0, st_send_all(self->mfd, buf, n));
	ASSERT_EQ(0, st_recv_reply(self->mfd, &r));
	ASSERT_EQ(SKV_S_OK, r.h.status);
	st_reply_free(&r);
	self->node_version = node_version(&self->nl);
	ASSERT_NE(0, self->node_version);
}

FIXTURE_TEARDOWN(auth)
{
	if (self->mfd >= 0)
		close(self->mfd);
	sknl_close(&self->nl);
}

/* The control keys, their versions and the counter are as written. */
static void check_control(struct __test_metadata *_metadata, FIXTURE_DATA(auth) *self)
{
	uint64_t ver;
	char *val;
	int fd = st_connect(ST_ADDR, ST_PORT), i;

	ASSERT_LE(0, fd);
	for (i = 0; i < NCONTROL; i++) {
		ASSERT_EQ(SKV_S_OK, st_gets(fd, ST_TABLE, self->ctl[i].key, &val, &ver));
		EXPECT_STREQ(self->ctl[i].val, val);
		EXPECT_EQ(self->ctl[i].version, ver);
		free(val);
	}
	close(fd);
	EXPECT_EQ(self->node_version, node_version(&self->nl));
}

/* The live migration still answers its authenticated target. */
static void check_migration_live(struct __test_metadata *_metadata, FIXTURE_DATA(auth) *self)
{
	uint8_t buf[256];
	struct st_reply r;
	size_t n = build_pull(buf);

	ASSERT_EQ(0, st_send_all(self->mfd, buf, n));
	ASSERT_EQ(0, st_recv_reply(self->mfd, &r));
	EXPECT_EQ(SKV_S_OK, r.h.status);
	st_reply_free(&r);
}

TEST_F_TIMEOUT(auth, every_attacker_every_op_refused, 300)
{
	uint8_t op[4096];
	struct recording rec;
	const char *name;
	int a, i, fd, st, want;
	size_t n;

	ASSERT_EQ(SKV_S_OK, record_exchange(&rec));
	for (a = 0; a < A_COUNT; a++) {
		for (i = 0; i < NOPS; i++) {
			n = build_op(op, i, &name);
			fd = st_connect(ST_ADDR, ST_PORT);
			ASSERT_LE(0, fd);
			if (a == A_PIPELINED) {
				EXPECT_EQ(0, attack_pipelined(fd, op, n, _metadata))
					TH_LOG("%s: %s answered", attacker_names[a], name);
			} else {
				st = attack_prelude(fd, a, &rec);
				want = a == A_NO_KEY ? SKV_S_OK : SKV_S_AUTH_FAILED;
				EXPECT_EQ(want, st) TH_LOG("%s before %s: %s", attacker_names[a], name,
							   st < 0 ? st_last_error : st_status_name(st));
				if (a == A_NO_KEY) {
					st = st_send_all(fd, op, n) ? -1 : 0;
					if (!st) {
						struct st_reply r;

						st = st_recv_reply(fd, &r) ? -1 : r.h.status;
						st_reply_free(&r);
					}
					EXPECT_EQ(SKV_S_AUTH_REQUIRED, st)
						TH_LOG("%s: %s answered %s", attacker_names[a], name,
						       st < 0 ? st_last_error : st_status_name(st));
				} else {
					struct st_reply r;

					/* Closed: the op gets no answer at all. */
					st_send_all(fd, op, n);
					st = st_recv_reply(fd, &r);
					EXPECT_NE(0, st) TH_LOG("%s: %s answered %s", attacker_names[a],
								name, st_status_name(r.h.status));
					if (!st)
						st_reply_free(&r);
				}
			}
			EXPECT_EQ(1, st_wait_closed(fd, 10000))
				TH_LOG("%s: the connection stayed open after %s", attacker_names[a], name);
			close(fd);
		}
	}
	check_control(_metadata, self);
	check_migration_live(_metadata, self);
}

/* One handshake per connection; an authenticated peer still cannot redo it. */
TEST_F(auth, second_hello_refused)
{
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	int fd = st_connect(ST_ADDR, ST_PORT);

	ASSERT_LE(0, fd);
	ASSERT_EQ(SKV_S_OK, st_auth(fd, st_cluster_key()));
	skv_auth_hello_init(&hello, st_cluster_key(), SKV_AUTH_ROLE_PEER);
	EXPECT_EQ(SKV_S_AUTH_FAILED, st_auth_hello(fd, &hello, &ch));
	EXPECT_EQ(1, st_wait_closed(fd, 10000));
	close(fd);
	/* A role the data port has no keys for (admin, client) is refused. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	skv_auth_hello_init(&hello, st_cluster_key(), SKV_AUTH_ROLE_ADMIN);
	EXPECT_EQ(SKV_S_AUTH_FAILED, st_auth_hello(fd, &hello, &ch));
	EXPECT_EQ(1, st_wait_closed(fd, 10000));
	close(fd);
	check_control(_metadata, self);
	check_migration_live(_metadata, self);
}

/* Client ops need no key while client keys are not required (client_auth_test). */
TEST_F(auth, clients_unaffected)
{
	check_control(_metadata, self);
}

/* The kernel's key id is the userspace one, and the known answer. */
TEST_F(auth, key_ids)
{
	struct skv_auth_key kat;
	struct sknl_node n;
	struct sknl_err err;
	uint8_t secret[32];
	int i;

	ASSERT_EQ(0, sknl_node_get(&self->nl, &n, &err));
	ASSERT_TRUE(SKNL_NODE_HAS(&n, STEADYKV_A_NODE_AUTH_KEY_ID));
	EXPECT_EQ(st_cluster_key()->id, n.val[STEADYKV_A_NODE_AUTH_KEY_ID]);
	EXPECT_FALSE(SKNL_NODE_HAS(&n, STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID));
	/* The secret is never sent back. */
	EXPECT_FALSE(SKNL_NODE_HAS(&n, STEADYKV_A_NODE_AUTH_KEY));
	EXPECT_FALSE(SKNL_NODE_HAS(&n, STEADYKV_A_NODE_AUTH_KEY_PREVIOUS));
	EXPECT_EQ(0, n.val[STEADYKV_A_NODE_AUTH_INSECURE]);

	for (i = 0; i < 32; i++)
		secret[i] = i;
	ASSERT_EQ(0, skv_auth_key_set(&kat, secret, sizeof(secret)));
	ASSERT_EQ(0, st_nl_set_keys(&self->nl, &kat, NULL, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &n, &err));
	EXPECT_EQ(0x99b487e4u, n.val[STEADYKV_A_NODE_AUTH_KEY_ID]);
}

/* Rotation: old and new both work during the overlap, then only new. */
TEST_F(auth, rotation)
{
	const struct skv_auth_key *old = st_cluster_key();
	struct skv_auth_key new;
	struct sknl_err err;
	struct sknl_node n;
	int fd;

	random_key(&new);
	ASSERT_EQ(0, st_nl_set_keys(&self->nl, &new, old, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &n, &err));
	EXPECT_EQ(new.id, n.val[STEADYKV_A_NODE_AUTH_KEY_ID]);
	EXPECT_EQ(old->id, n.val[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID]);
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_OK, st_auth(fd, old));
	close(fd);
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_OK, st_auth(fd, &new));
	close(fd);

	ASSERT_EQ(0, st_nl_set_keys(&self->nl, &new, NULL, &err)) TH_LOG("%s", err.msg);
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_AUTH_FAILED, st_auth(fd, old));
	EXPECT_EQ(1, st_wait_closed(fd, 10000));
	close(fd);
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_OK, st_auth(fd, &new));
	close(fd);
	/* A connection authenticated before the rotation stays a peer. */
	check_migration_live(_metadata, self);
}

/* Bad lengths are refused with a reason; the keys stay. */
TEST_F(auth, bad_key_length)
{
	uint8_t secret[SKV_AUTH_KEY_MAX_LEN + 1] = { 1 };
	struct sknl_auth a = { .cur = secret, .insecure = -1 };
	struct sknl_err err;
	struct sknl_node n;

	a.cur_len = SKV_AUTH_KEY_MIN_LEN - 1;
	EXPECT_EQ(-EINVAL, sknl_auth_set(&self->nl, &a, &err));
	EXPECT_NE(NULL, strstr(err.msg, "a key is"));
	a.cur_len = SKV_AUTH_KEY_MAX_LEN + 1;
	EXPECT_EQ(-EINVAL, sknl_auth_set(&self->nl, &a, &err));
	a.cur_len = SKV_AUTH_KEY_MIN_LEN;
	a.prev = secret;
	a.prev_len = 3;
	EXPECT_EQ(-EINVAL, sknl_auth_set(&self->nl, &a, &err));
	/* A previous key alone, and nothing at all, are refused too. */
	a.cur_len = 0;
	a.prev_len = SKV_AUTH_KEY_MIN_LEN;
	EXPECT_EQ(-EINVAL, sknl_auth_set(&self->nl, &a, &err));
	a.prev_len = 0;
	EXPECT_EQ(-EINVAL, sknl_auth_set(&self->nl, &a, &err));
	ASSERT_EQ(0, sknl_node_get(&self->nl, &n, &err));
	EXPECT_EQ(st_cluster_key()->id, n.val[STEADYKV_A_NODE_AUTH_KEY_ID]);
}

/* Without CAP_NET_ADMIN neither keys nor insecure mode can be set. */
TEST_F(auth, unprivileged_refused)
{
	struct sknl_node n;
	struct sknl_err err;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct skv_auth_key k;
		struct sknl_auth a = { .insecure = 1 };
		struct sknl nl;
		int bad = 0;

		random_key(&k);
		if (st_drop_privileges() || st_nl_open(&nl))
			_exit(2);
		if (st_nl_set_keys(&nl, &k, NULL, &err) != -EPERM)
			bad++;
		if (sknl_auth_set(&nl, &a, &err) != -EPERM)
			bad++;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, sknl_node_get(&self->nl, &n, &err));
	EXPECT_EQ(st_cluster_key()->id, n.val[STEADYKV_A_NODE_AUTH_KEY_ID]);
	EXPECT_EQ(0, n.val[STEADYKV_A_NODE_AUTH_INSECURE]);
}

/* ---- a node with no key ------------------------------------------------ */

static int send_op(int fd, const uint8_t *op, size_t n)
{
	struct st_reply r;
	int st;

	if (st_send_all(fd, op, n) || st_recv_reply(fd, &r))
		return -1;
	st = r.h.status;
	st_reply_free(&r);
	return st;
}

static void migrate_to_nowhere(struct skv_migration *m, uint64_t id)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->table_id = 9;
	m->start_hash = 0;
	m->end_hash = UINT64_MAX;
	snprintf(m->source, sizeof(m->source), "127.0.0.1:1");
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_ID);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_TABLE_ID);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_START_HASH);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_END_HASH);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_SOURCE_PORT);
}

TEST(no_key_refuses_unless_insecure)
{
	struct sknl_auth on = { .insecure = 1 }, off = { .insecure = 0 };
	struct skv_migration m;
	struct sknl_err err;
	struct sknl_node n;
	struct sknl nl;
	uint8_t op[256];
	size_t len;
	int fd;

	ASSERT_EQ(0, st_new_netns());
	ASSERT_EQ(0, st_nl_open(&nl));
	ASSERT_EQ(0, st_nl_listen(&nl, ST_ADDR, ST_PORT, &err));
	ASSERT_EQ(0, sknl_table_add(&nl, ST_TABLE, &err));
	ASSERT_EQ(0, sknl_tablet_add(&nl, ST_TABLE, 0, UINT64_MAX, -1, &err));
	ASSERT_EQ(0, sknl_node_get(&nl, &n, &err));
	EXPECT_FALSE(SKNL_NODE_HAS(&n, STEADYKV_A_NODE_AUTH_KEY_ID));
	EXPECT_EQ(0, n.val[STEADYKV_A_NODE_AUTH_INSECURE]);

	len = build_range(op, SKV_OP_MIG_PREPARE, 0, HALF - 1, SKV_MIG_F_KEEP_OWNER, 0);
	fd = st_connect_wait(ST_ADDR, ST_PORT, 10000);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_AUTH_REQUIRED, send_op(fd, op, len));
	EXPECT_EQ(1, st_wait_closed(fd, 10000));
	close(fd);
	/* No key to answer a HELLO with, whatever it names. */
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_AUTH_FAILED, st_auth(fd, st_cluster_key()));
	EXPECT_EQ(1, st_wait_closed(fd, 10000));
	close(fd);
	/* Nor can it be a target: it could not authenticate to a source. */
	migrate_to_nowhere(&m, 0x77);
	EXPECT_EQ(-ENOKEY, sknl_migrate_start(&nl, &m, &err));
	EXPECT_NE(NULL, strstr(err.msg, "no cluster key"));

	/* Insecure mode, set on purpose: visible, and the ops are taken. */
	ASSERT_EQ(0, sknl_auth_set(&nl, &on, &err)) TH_LOG("%s", err.msg);
	ASSERT_EQ(0, sknl_node_get(&nl, &n, &err));
	EXPECT_EQ(1, n.val[STEADYKV_A_NODE_AUTH_INSECURE]);
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_OK, send_op(fd, op, len));
	close(fd);
	EXPECT_EQ(0, sknl_migrate_start(&nl, &m, &err)) TH_LOG("%s", err.msg);
	sknl_migrate_cancel(&nl, m.id, &err);

	/* And off again: refused again. */
	ASSERT_EQ(0, sknl_auth_set(&nl, &off, &err));
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	EXPECT_EQ(SKV_S_AUTH_REQUIRED, send_op(fd, op, len));
	EXPECT_EQ(1, st_wait_closed(fd, 10000));
	close(fd);
	migrate_to_nowhere(&m, 0x78);
	EXPECT_EQ(-ENOKEY, sknl_migrate_start(&nl, &m, &err));
	sknl_close(&nl);
}

TEST_HARNESS_MAIN
