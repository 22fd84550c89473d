// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host tests of libsteadykv against a fake node (fake_server.c): request
 * encoding, sync and pipelined calls, every status, and malformed replies,
 * which must end as SKV_E_PROTO and never as a crash (built with ASan and
 * UBSan).  kselftest harness: one forked process per test, TAP output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <xxhash.h>

#include "kselftest_harness.h"
#include "auth_key.h"
#include "fake_server.h"

static struct skv_conn *pair_conn(struct fake_server *s, fake_handler_t h, void *arg,
				  const struct skv_opts *opts)
{
	struct skv_conn *c = NULL;
	int fd;

	fake_start_pair(s, h, arg, &fd);
	if (skv_conn_from_fd(fd, opts, &c))
		abort();
	return c;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a working node ---- */

FIXTURE(store) {
	struct fake_server srv;
	struct fake_store *st;
	struct skv_conn *c;
};

FIXTURE_SETUP(store)
{
	self->st = fake_store_new();
	self->c = pair_conn(&self->srv, fake_store_handler, self->st, NULL);
}

FIXTURE_TEARDOWN(store)
{
	skv_close(self->c);
	fake_stop(&self->srv);
	fake_store_free(self->st);
}

TEST(key_hash_is_xxh64_seed0)
{
	/* Published xxh64 vectors, seed 0. */
	ASSERT_EQ(0xef46db3751d8e999ull, skv_key_hash("", 0));
	ASSERT_EQ(0x44bc2cf5ad770999ull, skv_key_hash("abc", 3));
	ASSERT_EQ((uint64_t)XXH64("hello", 5, 0), skv_key_hash("hello", 5));
}

TEST(every_code_has_a_name_and_message)
{
	static const int codes[] = {
		SKV_OK, SKV_E_NOT_FOUND, SKV_E_NOT_OWNER, SKV_E_RETRY, SKV_E_NO_SPACE,
		SKV_E_BAD_REQUEST, SKV_E_VERSION_MISMATCH, SKV_E_TOO_BIG,
		SKV_E_UNKNOWN_OP, SKV_E_UNKNOWN_TABLE, SKV_E_INTERNAL,
		SKV_E_MIG_BUSY, SKV_E_NO_MIGRATION, SKV_E_AUTH_REQUIRED,
		SKV_E_AUTH_FAILED, SKV_E_VERSION_LIMIT, SKV_E_STALE_EPOCH,
		SKV_E_ACCESS_DENIED, SKV_E_NOT_BACKUP, SKV_E_BACKUP_FULL, SKV_E_IO,
		SKV_E_PROTO, SKV_E_CLOSED, SKV_E_TIMEOUT, SKV_E_NOMEM, SKV_E_INVAL,
		SKV_E_RESOLVE, SKV_E_CONNECT, SKV_E_FULL, SKV_E_BUSY, SKV_E_EMPTY,
	};
	size_t n = sizeof(codes) / sizeof(codes[0]);

	/* Every wire status is -status, and has a code in the list, in order. */
	for (int s = 1, i = 1; s < SKV_S_MAX; s++) {
		ASSERT_EQ(-s, codes[i]);
		i++;
	}
	for (size_t i = 0; i < n; i++) {
		ASSERT_STRNE("UNKNOWN", skv_code_name(codes[i]));
		ASSERT_NE(0, (int)strlen(skv_strerror(codes[i])));
		ASSERT_EQ(NULL, strstr(skv_strerror(codes[i]), "unknown error"));
		for (size_t j = 0; j < i; j++) {
			ASSERT_STRNE(skv_code_name(codes[j]), skv_code_name(codes[i]));
			ASSERT_STRNE(skv_strerror(codes[j]), skv_strerror(codes[i]));
		}
	}
	ASSERT_STREQ("UNKNOWN", skv_code_name(-55));
	ASSERT_STREQ("unknown error -55", skv_strerror(-55));
}

TEST_F(store, put_get_delete)
{
	uint64_t v1, v2, ver;
	size_t len;
	void *val;

	ASSERT_EQ(SKV_OK, skv_ping(self->c));
	ASSERT_EQ(SKV_OK, skv_put(self->c, 1, "k", 1, "hello", 5, 0, &v1));
	ASSERT_EQ(1u, v1);
	ASSERT_EQ(SKV_OK, skv_get(self->c, 1, "k", 1, &val, &len, &ver));
	ASSERT_EQ(5u, len);
	ASSERT_EQ(v1, ver);
	ASSERT_EQ(0, memcmp(val, "hello", 6));	/* NUL-terminated copy */
	free(val);

	/* Conditional writes. */
	ASSERT_EQ(SKV_E_VERSION_MISMATCH, skv_put(self->c, 1, "k", 1, "x", 1, v1 + 7, &ver));
	ASSERT_EQ(v1, ver);
	ASSERT_EQ(SKV_OK, skv_put(self->c, 1, "k", 1, "", 0, v1, &v2));
	ASSERT_EQ(SKV_OK, skv_get(self->c, 1, "k", 1, &val, &len, NULL));
	ASSERT_EQ(0u, len);
	ASSERT_NE(NULL, val);
	free(val);
	ASSERT_EQ(SKV_E_VERSION_MISMATCH, skv_delete(self->c, 1, "k", 1, v1, &ver));
	ASSERT_EQ(v2, ver);
	ASSERT_EQ(SKV_OK, skv_delete(self->c, 1, "k", 1, v2, &ver));
	ASSERT_EQ(v2 + 1, ver);

	/* NOT_FOUND carries the tombstone's version. */
	ASSERT_EQ(SKV_E_NOT_FOUND, skv_get(self->c, 1, "k", 1, &val, &len, &v1));
	ASSERT_EQ(NULL, val);
	ASSERT_EQ(ver, v1);
	ASSERT_EQ(SKV_E_NOT_FOUND, skv_get(self->c, 1, "nope", 4, &val, NULL, &v1));
	ASSERT_EQ(0u, v1);
	ASSERT_EQ(SKV_E_UNKNOWN_TABLE, skv_get(self->c, 9, "k", 1, &val, NULL, NULL));
	ASSERT_EQ(0u, self->srv.bad);
}

TEST_F(store, multi_get)
{
	const void *keys[] = { "a", "missing", "bb", "" };
	const size_t lens[] = { 1, 7, 2, 0 };
	struct skv_item *items;

	ASSERT_EQ(SKV_OK, skv_put(self->c, 1, "a", 1, "1", 1, 0, NULL));
	ASSERT_EQ(SKV_OK, skv_put(self->c, 1, "bb", 2, "22", 2, 0, NULL));
	ASSERT_EQ(SKV_OK, skv_put(self->c, 1, "", 0, "empty-key", 9, 0, NULL));
	ASSERT_EQ(SKV_OK, skv_multi_get(self->c, 1, 4, keys, lens, &items));
	ASSERT_EQ(SKV_OK, items[0].status);
	ASSERT_EQ(1u, items[0].value_len);
	ASSERT_STREQ("1", (const char *)items[0].value);
	ASSERT_EQ(SKV_E_NOT_FOUND, items[1].status);
	ASSERT_EQ(0u, items[1].value_len);
	ASSERT_STREQ("22", (const char *)items[2].value);
	ASSERT_EQ(2u, items[2].version);
	ASSERT_STREQ("empty-key", (const char *)items[3].value);
	free(items);

	ASSERT_EQ(SKV_OK, skv_multi_get(self->c, 1, 0, NULL, NULL, &items));
	free(items);
	ASSERT_EQ(0u, self->srv.bad);
}

TEST_F(store, limits)
{
	static char big[SKV_MAX_BODY_LEN + 1];
	void *val;

	/* The node judges its own limits... */
	ASSERT_EQ(SKV_E_TOO_BIG, skv_put(self->c, 1, big, SKV_MAX_KEY_LEN + 1, "v", 1, 0, NULL));
	ASSERT_EQ(SKV_E_TOO_BIG, skv_put(self->c, 1, "k", 1, big, SKV_MAX_VALUE_LEN + 1, 0, NULL));
	/* ...the library only what it cannot encode or send, without sending. */
	ASSERT_EQ(SKV_E_TOO_BIG, skv_get(self->c, 1, big, 70000, &val, NULL, NULL));
	ASSERT_EQ(SKV_E_TOO_BIG, skv_put(self->c, 1, "k", 1, big, sizeof(big), 0, NULL));
	ASSERT_EQ(0u, skv_pipe_pending(self->c));
	ASSERT_EQ(SKV_E_INVAL, skv_get(self->c, 1, NULL, 3, &val, NULL, NULL));
	ASSERT_EQ(SKV_OK, skv_ping(self->c));
	ASSERT_EQ(3u, self->srv.served);
}

TEST(request_bytes_on_the_wire)
{
	/* A PUT exactly as wire.h lays it out. */
	static const uint8_t want[] = {
		0x4b, 0x56, 1, SKV_OP_PUT, 0, 0, 0, 0,		/* magic, ver, op, flags, status, rsv */
		1, 0, 0, 0, 0, 0, 0, 0,				/* request id 1 */
		24 + 2 + 3, 0, 0, 0, 0, 0, 0, 0,		/* body_len, reserved2 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,	/* table id */
		0x09, 0, 0, 0, 0, 0, 0, 0,			/* expect_version */
		2, 0, 0, 0, 3, 0, 0, 0,				/* key_len, rsv, value_len */
		'k', 'y', 'v', 'a', 'l',
	};
	uint8_t got[sizeof(want) + 1];
	struct skv_conn *c;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	ASSERT_EQ(SKV_OK, skv_conn_from_fd(sv[0], NULL, &c));
	ASSERT_EQ(SKV_OK, skv_pipe_put(c, 0x0102030405060708ull, "ky", 2, "val", 3, 9, 0));
	ASSERT_EQ(SKV_OK, skv_pipe_flush(c));
	ASSERT_EQ((ssize_t)sizeof(want), recv(sv[1], got, sizeof(want), MSG_WAITALL));
	ASSERT_EQ(0, memcmp(want, got, sizeof(want)));
	/* Nothing more than the one request. */
	ASSERT_EQ(-1, recv(sv[1], got, sizeof(got), MSG_DONTWAIT));
	skv_close(c);
	close(sv[1]);
}

/* ---- every status the node can send ---- */

/* Answers GET with the status named by the key's first byte. */
static int status_handler(struct fake_server *s, const struct fake_req *req)
{
	uint8_t b[8] = { 0 };
	uint8_t st;

	if (req->opcode != SKV_OP_GET) {
		fake_reply(s, req, SKV_S_OK, NULL, 0);
		return 0;
	}
	st = req->body[24];
	switch (st) {
	case SKV_S_NOT_FOUND:
	case SKV_S_VERSION_MISMATCH:
		skv_put_le64(b, 42);
		fake_reply(s, req, st, b, 8);
		break;
	case SKV_S_RETRY:
		skv_put_le32(b, 1234);
		fake_reply(s, req, st, b, 8);
		break;
	case SKV_S_NOT_OWNER:
		/* Documented as empty; a body must be skipped, not trusted. */
		fake_reply(s, req, st, "hint", 4);
		break;
	default:
		fake_reply(s, req, st, NULL, 0);
	}
	return 0;
}

TEST(every_status_maps_to_its_code)
{
	static const char *const names[SKV_S_MAX] = {
		"OK", "NOT_FOUND", "NOT_OWNER", "RETRY", "NO_SPACE", "BAD_REQUEST",
		"VERSION_MISMATCH", "TOO_BIG", "UNKNOWN_OP", "UNKNOWN_TABLE", "INTERNAL",
		"BUSY", "NO_MIGRATION", "AUTH_REQUIRED", "AUTH_FAILED",
		"VERSION_LIMIT", "STALE_EPOCH", "ACCESS_DENIED", "NOT_BACKUP",
		"BACKUP_FULL",
	};
	struct fake_server srv;
	struct skv_conn *c = pair_conn(&srv, status_handler, NULL, NULL);
	struct skv_result r;

	for (uint8_t s = 1; s < SKV_S_MAX; s++) {
		uint64_t ver = 0;
		void *val;
		int rc = skv_get(c, 1, &s, 1, &val, NULL, &ver);

		ASSERT_EQ(-(int)s, rc);
		ASSERT_STREQ(names[s], skv_code_name(rc));
		ASSERT_EQ(NULL, val);
		if (s == SKV_S_NOT_FOUND)
			ASSERT_EQ(42u, ver);
		if (s == SKV_S_RETRY)
			ASSERT_EQ(1234u, skv_conn_retry_us(c));
		/* A status is not a connection error: the next call works. */
		ASSERT_EQ(SKV_OK, skv_ping(c));
	}
	/* The same through the pipeline. */
	for (uint8_t s = 1; s < SKV_S_MAX; s++)
		ASSERT_EQ(SKV_OK, skv_pipe_get(c, 1, &s, 1, 100 + s));
	for (uint8_t s = 1; s < SKV_S_MAX; s++) {
		ASSERT_EQ(SKV_OK, skv_pipe_next(c, &r));
		ASSERT_EQ(100u + s, r.cookie);
		ASSERT_EQ(-(int)s, r.status);
		if (s == SKV_S_RETRY)
			ASSERT_EQ(1234u, r.retry_us);
		if (s == SKV_S_VERSION_MISMATCH)
			ASSERT_EQ(42u, r.version);
	}
	ASSERT_EQ(SKV_E_EMPTY, skv_pipe_next(c, &r));
	skv_close(c);
	fake_stop(&srv);
}

/* ---- client keys: skv_authenticate against a fake node holding one key ---- */

struct auth_fake {
	struct skv_auth_key key;	/* the node's client key */
	bool lie;			/* answer HELLO with a wrong MAC */
	bool proven;
	int proofs;			/* AUTH_PROOFs received */
	struct skv_auth_hello hello;
	struct skv_auth_challenge ch;
};

static int auth_handler(struct fake_server *s, const struct fake_req *req)
{
	struct auth_fake *a = s->arg;
	struct skv_auth_proof proof;

	switch (req->opcode) {
	case SKV_OP_AUTH_HELLO:
		if (req->body_len != sizeof(a->hello))
			break;
		memcpy(&a->hello, req->body, sizeof(a->hello));
		if (a->hello.role != SKV_AUTH_ROLE_CLIENT ||
		    skv_auth_responder_challenge(&a->key, 1, &a->hello, &a->ch) != 0)
			break;
		if (a->lie)
			a->ch.mac[0] ^= 1;
		fake_reply(s, req, SKV_S_OK, &a->ch, sizeof(a->ch));
		return 0;
	case SKV_OP_AUTH_PROOF:
		a->proofs++;
		if (req->body_len != sizeof(proof))
			break;
		memcpy(&proof, req->body, sizeof(proof));
		if (!skv_auth_responder_check(&a->key, &a->hello, &a->ch, &proof))
			break;
		a->proven = true;
		fake_reply(s, req, SKV_S_OK, NULL, 0);
		return 0;
	default:
		fake_reply(s, req, a->proven ? SKV_S_OK : SKV_S_AUTH_REQUIRED, NULL, 0);
		return !a->proven;
	}
	fake_reply(s, req, SKV_S_AUTH_FAILED, NULL, 0);
	return 1;
}

/* A key file for k; the caller unlinks path. */
static struct skv_client_key *client_key_file(const struct skv_auth_key *k, char *path)
{
	char why[256];
	FILE *f;
	int fd = mkstemp(path);

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	for (size_t i = 0; f && i < k->len; i++)
		fprintf(f, "%02x", k->secret[i]);
	if (f)
		fclose(f);
	return skv_client_key_load(path, why, sizeof(why));
}

TEST(client_key_authenticates_once_and_checks_the_node)
{
	char p1[] = "/tmp/skv-client-key-XXXXXX", p2[] = "/tmp/skv-client-key-XXXXXX";
	struct skv_client_key *key, *other;
	struct skv_opts opts = { 0 };
	struct auth_fake a = { 0 };
	struct skv_auth_key ko;
	struct fake_server srv;
	struct skv_conn *c;
	uint8_t raw[32];

	for (int i = 0; i < 32; i++)
		raw[i] = (uint8_t)(i * 11 + 3);
	ASSERT_EQ(0, skv_auth_key_set(&a.key, raw, sizeof(raw)));
	raw[5] ^= 0x10;
	ASSERT_EQ(0, skv_auth_key_set(&ko, raw, sizeof(raw)));
	key = client_key_file(&a.key, p1);
	other = client_key_file(&ko, p2);
	unlink(p1);
	unlink(p2);
	ASSERT_NE(NULL, key);
	ASSERT_NE(NULL, other);
	EXPECT_EQ(a.key.id, skv_client_key_id(key));

	/* The right key: one exchange, then requests are served. */
	opts.client_key = key;
	c = pair_conn(&srv, auth_handler, &a, &opts);
	EXPECT_TRUE(a.proven);
	EXPECT_EQ(1, a.proofs);
	EXPECT_EQ(SKV_OK, skv_ping(c));
	/* Not twice on one connection with requests pending. */
	ASSERT_EQ(SKV_OK, skv_pipe_ping(c, 1));
	EXPECT_EQ(SKV_E_BUSY, skv_authenticate(c, key));
	skv_close(c);
	fake_stop(&srv);

	/* A key the node does not hold: AUTH_FAILED, and it sticks. */
	memset(&a.hello, 0, sizeof(a.hello));
	a.proven = false;
	a.proofs = 0;
	c = pair_conn(&srv, auth_handler, &a, NULL);
	EXPECT_EQ(SKV_E_AUTH_FAILED, skv_authenticate(c, other));
	EXPECT_NE(NULL, strstr(skv_conn_errmsg(c), "AUTH_HELLO"));
	EXPECT_EQ(SKV_E_AUTH_FAILED, skv_ping(c));
	EXPECT_EQ(0, a.proofs);
	skv_close(c);
	fake_stop(&srv);

	/* A node that cannot prove the key gets no proof from us. */
	a.lie = true;
	c = pair_conn(&srv, auth_handler, &a, NULL);
	EXPECT_EQ(SKV_E_AUTH_FAILED, skv_authenticate(c, key));
	EXPECT_NE(NULL, strstr(skv_conn_errmsg(c), "did not prove"));
	skv_close(c);
	fake_stop(&srv);
	EXPECT_EQ(0, a.proofs);
	EXPECT_FALSE(a.proven);
	skv_client_key_free(key);
	skv_client_key_free(other);
}

/* ---- pipelining ---- */

TEST_F(store, pipeline_replies_in_order)
{
	struct skv_result r;
	uint64_t last_id = 0;
	char key[32], val[32];
	const unsigned int n = 200;

	/* Versions count up per write, so in-order replies carry i + 1. */
	for (unsigned int i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "key-%u", i);
		int vl = snprintf(val, sizeof(val), "value-%u", i);

		ASSERT_EQ(SKV_OK, skv_pipe_put(self->c, 1, key, (size_t)kl, val, (size_t)vl,
					       0, i));
	}
	ASSERT_EQ(n, skv_pipe_pending(self->c));
	ASSERT_EQ(SKV_E_BUSY, skv_ping(self->c));
	ASSERT_EQ(SKV_OK, skv_pipe_flush(self->c));
	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(SKV_OK, skv_pipe_next(self->c, &r));
		ASSERT_EQ(i, r.cookie);
		ASSERT_EQ(SKV_OP_PUT, r.opcode);
		ASSERT_EQ(SKV_OK, r.status);
		ASSERT_EQ(i + 1u, r.version);
		ASSERT_LT(last_id, r.request_id);
		last_id = r.request_id;
	}
	ASSERT_EQ(SKV_E_EMPTY, skv_pipe_next(self->c, &r));

	/* Mixed operations, collected without an explicit flush. */
	for (unsigned int i = 0; i < n; i++) {
		int kl = snprintf(key, sizeof(key), "key-%u", i);
		const void *keys[] = { key };
		const size_t lens[] = { (size_t)kl };

		switch (i % 5) {
		case 0:
			ASSERT_EQ(SKV_OK, skv_pipe_get(self->c, 1, key, (size_t)kl, i));
			break;
		case 1:
			ASSERT_EQ(SKV_OK, skv_pipe_delete(self->c, 1, key, (size_t)kl, i + 1, i));
			break;
		case 2:
			ASSERT_EQ(SKV_OK, skv_pipe_ping(self->c, i));
			break;
		case 3:
			ASSERT_EQ(SKV_OK, skv_pipe_multi_get(self->c, 1, 1, keys, lens, i));
			break;
		case 4:
			ASSERT_EQ(SKV_OK, skv_pipe_delete(self->c, 1, key, (size_t)kl, 999999, i));
			break;
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(SKV_OK, skv_pipe_next(self->c, &r));
		ASSERT_EQ(i, r.cookie);
		snprintf(val, sizeof(val), "value-%u", i);
		switch (i % 5) {
		case 0:
			ASSERT_EQ(SKV_OP_GET, r.opcode);
			ASSERT_EQ(SKV_OK, r.status);
			ASSERT_EQ(strlen(val), r.value_len);
			ASSERT_EQ(0, memcmp(val, r.value, r.value_len));
			ASSERT_EQ(i + 1u, r.version);
			break;
		case 1:
			ASSERT_EQ(SKV_OP_DELETE, r.opcode);
			ASSERT_EQ(SKV_OK, r.status);
			break;
		case 2:
			ASSERT_EQ(SKV_OP_PING, r.opcode);
			ASSERT_EQ(SKV_OK, r.status);
			break;
		case 3:
			ASSERT_EQ(SKV_OP_MULTI_GET, r.opcode);
			ASSERT_EQ(1u, r.item_count);
			ASSERT_EQ(SKV_OK, r.items[0].status);
			ASSERT_EQ(0, memcmp(val, r.items[0].value, r.items[0].value_len));
			break;
		case 4:
			ASSERT_EQ(SKV_E_VERSION_MISMATCH, r.status);
			ASSERT_EQ(i + 1u, r.version);
			break;
		}
	}
	ASSERT_EQ(0u, skv_pipe_pending(self->c));
	ASSERT_EQ(0u, self->srv.bad);
}

/*
 * Megabytes each way, queued before anything is read: the node blocks on
 * its replies while we still send, so this only finishes if the library
 * reads while it writes.
 */
TEST(pipeline_large_both_ways_does_not_deadlock)
{
	const struct skv_opts opts = { .max_queued_bytes = 64u << 20, .timeout_ms = 10000 };
	const size_t vlen = 200 * 1024;
	const unsigned int n = 40;
	struct fake_store *st = fake_store_new();
	struct fake_server srv;
	struct skv_conn *c = pair_conn(&srv, fake_store_handler, st, &opts);
	uint8_t *val = malloc(vlen);
	struct skv_result r;

	ASSERT_NE(NULL, val);
	for (unsigned int i = 0; i < n; i++) {
		uint8_t k = (uint8_t)i;

		memset(val, 'a' + (int)(i % 26), vlen);
		ASSERT_EQ(SKV_OK, skv_pipe_put(c, 1, &k, 1, val, vlen, 0, i));
		ASSERT_EQ(SKV_OK, skv_pipe_get(c, 1, &k, 1, 1000 + i));
	}
	ASSERT_EQ(SKV_OK, skv_pipe_flush(c));
	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(SKV_OK, skv_pipe_next(c, &r));
		ASSERT_EQ(i, r.cookie);
		ASSERT_EQ(SKV_OK, r.status);
		ASSERT_EQ(SKV_OK, skv_pipe_next(c, &r));
		ASSERT_EQ(1000u + i, r.cookie);
		ASSERT_EQ(SKV_OK, r.status);
		ASSERT_EQ(vlen, r.value_len);
		memset(val, 'a' + (int)(i % 26), vlen);
		ASSERT_EQ(0, memcmp(val, r.value, vlen));
	}
	free(val);
	skv_close(c);
	fake_stop(&srv);
	fake_store_free(st);
}

TEST(pipeline_bounds)
{
	const struct skv_opts opts = { .max_pending = 4, .max_queued_bytes = 100 };
	struct fake_store *st = fake_store_new();
	struct fake_server srv;
	struct skv_conn *c = pair_conn(&srv, fake_store_handler, st, &opts);
	static char big[1000];
	struct skv_result r;

	ASSERT_EQ(SKV_E_EMPTY, skv_pipe_next(c, &r));
	/* 4 PINGs are 96 bytes: the fifth passes both bounds. */
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(SKV_OK, skv_pipe_ping(c, (uint64_t)i));
	ASSERT_EQ(SKV_E_FULL, skv_pipe_ping(c, 4));
	ASSERT_EQ(SKV_E_BUSY, skv_send_raw(c, "x", 1));
	ASSERT_EQ(SKV_OK, skv_pipe_next(c, &r));
	ASSERT_EQ(0u, r.cookie);
	for (int i = 1; i < 4; i++) {
		ASSERT_EQ(SKV_OK, skv_pipe_next(c, &r));
		ASSERT_EQ((uint64_t)i, r.cookie);
	}
	/* Into an empty queue, one request over the byte bound is accepted. */
	ASSERT_EQ(SKV_OK, skv_pipe_put(c, 1, "k", 1, big, sizeof(big), 0, 9));
	ASSERT_EQ(SKV_E_FULL, skv_pipe_ping(c, 10));
	ASSERT_EQ(SKV_OK, skv_pipe_flush(c));
	ASSERT_EQ(SKV_OK, skv_pipe_ping(c, 10));
	ASSERT_EQ(SKV_OK, skv_pipe_next(c, &r));
	ASSERT_EQ(9u, r.cookie);
	ASSERT_EQ(SKV_OK, r.status);
	ASSERT_EQ(SKV_OK, skv_pipe_next(c, &r));
	ASSERT_EQ(10u, r.cookie);
	ASSERT_EQ(SKV_E_EMPTY, skv_pipe_next(c, &r));
	skv_close(c);
	fake_stop(&srv);
	fake_store_free(st);
}

/* ---- failures of the connection ---- */

static int silent_handler(struct fake_server *s, const struct fake_req *req)
{
	(void)s;
	(void)req;
	return 0;
}

TEST(timeout_is_reported_and_sticky)
{
	const struct skv_opts opts = { .timeout_ms = 200 };
	struct fake_server srv;
	struct skv_conn *c = pair_conn(&srv, silent_handler, NULL, &opts);
	long t0 = now_ms();

	ASSERT_EQ(SKV_E_TIMEOUT, skv_ping(c));
	ASSERT_GE(now_ms() - t0, 150);
	ASSERT_LT(now_ms() - t0, 5000);
	ASSERT_EQ(SKV_E_TIMEOUT, skv_put(c, 1, "k", 1, "v", 1, 0, NULL));
	TH_LOG("%s", skv_conn_errmsg(c));
	skv_close(c);
	fake_stop(&srv);
}

static int close_handler(struct fake_server *s, const struct fake_req *req)
{
	(void)s;
	(void)req;
	return 1;
}

TEST(peer_close_is_closed)
{
	struct fake_server srv;
	struct skv_conn *c = pair_conn(&srv, close_handler, NULL, NULL);

	ASSERT_EQ(SKV_E_CLOSED, skv_ping(c));
	ASSERT_EQ(SKV_E_CLOSED, skv_ping(c));
	skv_close(c);
	fake_stop(&srv);
}

TEST_F(store, raw_bytes)
{
	uint8_t h[SKV_HDR_LEN], reply[SKV_HDR_LEN];

	fake_hdr(h, SKV_OP_PING, 0, 0, 77, 0);
	ASSERT_EQ(SKV_OK, skv_send_raw(self->c, h, sizeof(h)));
	ASSERT_EQ(SKV_OK, skv_recv_raw(self->c, reply, sizeof(reply)));
	ASSERT_EQ(SKV_WIRE_MAGIC, skv_get_le16(reply));
	ASSERT_EQ(SKV_F_REPLY, reply[4]);
	ASSERT_EQ(77u, skv_get_le64(reply + 8));
	/* A bad header makes the node hang up. */
	h[0] = 0;
	ASSERT_EQ(SKV_OK, skv_send_raw(self->c, h, sizeof(h)));
	ASSERT_EQ(SKV_E_CLOSED, skv_recv_raw(self->c, reply, 1));
}

TEST(tcp_loopback_ipv4)
{
	struct fake_store *st = fake_store_new();
	struct fake_server srv;
	struct skv_conn *c;
	uint16_t port;
	void *val;

	ASSERT_EQ(0, fake_start_tcp(&srv, fake_store_handler, st, AF_INET, &port));
	ASSERT_EQ(SKV_OK, skv_connect("127.0.0.1", port, &c));
	ASSERT_EQ(SKV_OK, skv_put(c, 1, "k", 1, "v4", 2, 0, NULL));
	ASSERT_EQ(SKV_OK, skv_get(c, 1, "k", 1, &val, NULL, NULL));
	ASSERT_STREQ("v4", (char *)val);
	free(val);
	skv_close(c);
	fake_stop(&srv);
	fake_store_free(st);
}

TEST(tcp_loopback_ipv6)
{
	struct fake_store *st = fake_store_new();
	struct fake_server srv;
	struct skv_conn *c;
	uint16_t port;

	if (fake_start_tcp(&srv, fake_store_handler, st, AF_INET6, &port)) {
		fake_store_free(st);
		SKIP(return, "no IPv6 loopback here");
	}
	ASSERT_EQ(SKV_OK, skv_connect("::1", port, &c));
	ASSERT_EQ(SKV_OK, skv_ping(c));
	skv_close(c);
	fake_stop(&srv);
	fake_store_free(st);
}

TEST(connect_errors)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	struct skv_conn *c = (struct skv_conn *)&sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* A port that was just free: nothing listens there. */
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)&sin, &len));
	close(fd);
	ASSERT_EQ(SKV_E_CONNECT, skv_connect("127.0.0.1", ntohs(sin.sin_port), &c));
	ASSERT_EQ(ECONNREFUSED, errno);
	ASSERT_EQ(NULL, c);
	ASSERT_EQ(SKV_E_INVAL, skv_connect("", 1, &c));
	ASSERT_EQ(SKV_E_INVAL, skv_connect("127.0.0.1", 0, &c));
}

/* ---- malformed replies ---- */

enum mangle {
	M_NONE, M_SPLIT, M_MAGIC, M_VERSION, M_NO_REPLY_FLAG, M_EXTRA_FLAG, M_WRONG_ID,
	M_WRONG_OPCODE, M_STATUS, M_RESERVED, M_RESERVED2, M_BODY_HUGE, M_BODY_OVER,
	M_SHORT_BODY, M_LONG_BODY, M_VALUE_LEN_LONG, M_VALUE_LEN_SHORT,
	M_NOT_FOUND_EMPTY, M_RETRY_SHORT, M_MULTI_COUNT, M_MULTI_OVERRUN,
	M_MULTI_TRAILING, M_MULTI_ERR_VALUE, M_MULTI_STATUS, M_MULTI_SHORT,
	M_TRUNCATED_CLOSE, M_CLOSE, M_GARBAGE, M_EXTRA_REPLY,
};

FIXTURE(bad) {
	struct fake_server srv;
	struct skv_conn *c;
};

FIXTURE_VARIANT(bad) {
	uint8_t op;
	enum mangle how;
	int expect;
};

#define BAD(name, o, h, e) \
	FIXTURE_VARIANT_ADD(bad, name) { .op = (o), .how = (h), .expect = (e) }

BAD(control_get_ok, SKV_OP_GET, M_NONE, SKV_OK);
BAD(control_multi_ok, SKV_OP_MULTI_GET, M_NONE, SKV_OK);
BAD(reply_split_in_single_bytes, SKV_OP_GET, M_SPLIT, SKV_OK);
BAD(bad_magic, SKV_OP_GET, M_MAGIC, SKV_E_PROTO);
BAD(bad_version, SKV_OP_PUT, M_VERSION, SKV_E_PROTO);
BAD(missing_reply_flag, SKV_OP_PING, M_NO_REPLY_FLAG, SKV_E_PROTO);
BAD(unknown_flag, SKV_OP_PING, M_EXTRA_FLAG, SKV_E_PROTO);
BAD(wrong_request_id, SKV_OP_GET, M_WRONG_ID, SKV_E_PROTO);
BAD(wrong_opcode, SKV_OP_PUT, M_WRONG_OPCODE, SKV_E_PROTO);
BAD(unknown_status, SKV_OP_GET, M_STATUS, SKV_E_PROTO);
BAD(reserved_set, SKV_OP_PING, M_RESERVED, SKV_E_PROTO);
BAD(reserved2_set, SKV_OP_PING, M_RESERVED2, SKV_E_PROTO);
BAD(body_len_4g, SKV_OP_GET, M_BODY_HUGE, SKV_E_PROTO);
BAD(body_len_over_limit, SKV_OP_GET, M_BODY_OVER, SKV_E_PROTO);
BAD(get_body_too_short, SKV_OP_GET, M_SHORT_BODY, SKV_E_PROTO);
BAD(put_body_too_long, SKV_OP_PUT, M_LONG_BODY, SKV_E_PROTO);
BAD(ping_with_body, SKV_OP_PING, M_LONG_BODY, SKV_E_PROTO);
BAD(get_value_len_past_body, SKV_OP_GET, M_VALUE_LEN_LONG, SKV_E_PROTO);
BAD(get_value_len_short_of_body, SKV_OP_GET, M_VALUE_LEN_SHORT, SKV_E_PROTO);
BAD(not_found_without_version, SKV_OP_GET, M_NOT_FOUND_EMPTY, SKV_E_PROTO);
BAD(retry_body_truncated, SKV_OP_PUT, M_RETRY_SHORT, SKV_E_PROTO);
BAD(multi_count_mismatch, SKV_OP_MULTI_GET, M_MULTI_COUNT, SKV_E_PROTO);
BAD(multi_value_overruns_body, SKV_OP_MULTI_GET, M_MULTI_OVERRUN, SKV_E_PROTO);
BAD(multi_trailing_bytes, SKV_OP_MULTI_GET, M_MULTI_TRAILING, SKV_E_PROTO);
BAD(multi_error_item_with_value, SKV_OP_MULTI_GET, M_MULTI_ERR_VALUE, SKV_E_PROTO);
BAD(multi_item_unknown_status, SKV_OP_MULTI_GET, M_MULTI_STATUS, SKV_E_PROTO);
BAD(multi_item_truncated, SKV_OP_MULTI_GET, M_MULTI_SHORT, SKV_E_PROTO);
BAD(body_truncated_then_closed, SKV_OP_GET, M_TRUNCATED_CLOSE, SKV_E_PROTO);
BAD(closed_before_reply, SKV_OP_GET, M_CLOSE, SKV_E_CLOSED);
BAD(garbage, SKV_OP_MULTI_GET, M_GARBAGE, SKV_E_PROTO);
BAD(unsolicited_extra_reply, SKV_OP_GET, M_EXTRA_REPLY, SKV_OK);

/* A correct reply to req, for the mangler to break. */
static size_t good_reply(const struct fake_req *req, uint8_t *buf)
{
	uint8_t *b = buf + SKV_HDR_LEN;
	size_t len = 0;

	switch (req->opcode) {
	case SKV_OP_GET:
		skv_put_le64(b, 5);
		skv_put_le32(b + 8, 5);
		memcpy(b + 16, "hello", 5);
		len = 21;
		break;
	case SKV_OP_PUT:
	case SKV_OP_DELETE:
		skv_put_le64(b, 5);
		len = 8;
		break;
	case SKV_OP_MULTI_GET:
		/* Two keys: "abc" found, one not found. */
		skv_put_le16(b, 2);
		b[8] = SKV_S_OK;
		skv_put_le32(b + 12, 3);
		skv_put_le64(b + 16, 7);
		memcpy(b + 24, "abc", 3);
		b[27] = SKV_S_NOT_FOUND;
		len = 8 + 16 + 3 + 16;
		break;
	}
	fake_hdr(buf, req->opcode, SKV_F_REPLY, SKV_S_OK, req->id, (uint32_t)len);
	return SKV_HDR_LEN + len;
}

static int bad_handler(struct fake_server *s, const struct fake_req *req)
{
	const FIXTURE_VARIANT(bad) *v = s->arg;
	uint8_t buf[256] = { 0 };
	uint8_t *b = buf + SKV_HDR_LEN;
	size_t len = good_reply(req, buf);

	if (req->opcode != v->op) {	/* the sticky-error probe after the test */
		fake_reply(s, req, SKV_S_OK, NULL, 0);
		return 0;
	}
	switch (v->how) {
	case M_NONE:
		break;
	case M_SPLIT:
		for (size_t i = 0; i < len; i++) {
			fake_send(s, buf + i, 1);
			usleep(200);
		}
		return 0;
	case M_MAGIC: buf[0] ^= 0xff; break;
	case M_VERSION: buf[2] = 2; break;
	case M_NO_REPLY_FLAG: buf[4] = 0; break;
	case M_EXTRA_FLAG: buf[4] |= 0x80; break;
	case M_WRONG_ID: skv_put_le64(buf + 8, req->id + 1); break;
	case M_WRONG_OPCODE: buf[3] = SKV_OP_DELETE; break;
	case M_STATUS: buf[5] = SKV_S_MAX + 3; break;
	case M_RESERVED: buf[6] = 1; break;
	case M_RESERVED2: buf[23] = 1; break;
	case M_BODY_HUGE:
		skv_put_le32(buf + 16, 0xffffffffu);
		len = SKV_HDR_LEN;
		break;
	case M_BODY_OVER:
		skv_put_le32(buf + 16, SKV_MAX_BODY_LEN + 1);
		break;
	case M_SHORT_BODY:
		skv_put_le32(buf + 16, 10);
		len = SKV_HDR_LEN + 10;
		break;
	case M_LONG_BODY:
		len += 4;
		skv_put_le32(buf + 16, (uint32_t)(len - SKV_HDR_LEN));
		break;
	case M_VALUE_LEN_LONG: skv_put_le32(b + 8, 100); break;
	case M_VALUE_LEN_SHORT: skv_put_le32(b + 8, 1); break;
	case M_NOT_FOUND_EMPTY:
		fake_reply(s, req, SKV_S_NOT_FOUND, NULL, 0);
		return 0;
	case M_RETRY_SHORT:
		fake_reply(s, req, SKV_S_RETRY, "\1\0\0\0", 4);
		return 0;
	case M_MULTI_COUNT: skv_put_le16(b, 3); break;
	case M_MULTI_OVERRUN: skv_put_le32(b + 12, 0x7fffffff); break;
	case M_MULTI_TRAILING:
		len += 1;
		skv_put_le32(buf + 16, (uint32_t)(len - SKV_HDR_LEN));
		break;
	case M_MULTI_ERR_VALUE:
		skv_put_le32(b + 31, 2);	/* not-found item claims the last 2 bytes */
		len += 2;
		skv_put_le32(buf + 16, (uint32_t)(len - SKV_HDR_LEN));
		break;
	case M_MULTI_STATUS: b[27] = 99; break;
	case M_MULTI_SHORT:
		len -= 8;	/* second item cut in half */
		skv_put_le32(buf + 16, (uint32_t)(len - SKV_HDR_LEN));
		break;
	case M_TRUNCATED_CLOSE:
		fake_send(s, buf, len - 6);
		return 1;
	case M_CLOSE:
		return 1;
	case M_GARBAGE:
		memset(buf, 0xa5, len);
		break;
	case M_EXTRA_REPLY:
		/* Answer, then answer again to a request never made. */
		fake_send(s, buf, len);
		fake_hdr(buf, SKV_OP_PING, SKV_F_REPLY, 0, req->id + 1000, 0);
		len = SKV_HDR_LEN;
		break;
	}
	fake_send(s, buf, len);
	return 0;
}

FIXTURE_SETUP(bad)
{
	const struct skv_opts opts = { .timeout_ms = 3000 };

	self->c = pair_conn(&self->srv, bad_handler, (void *)variant, &opts);
}

FIXTURE_TEARDOWN(bad)
{
	skv_close(self->c);
	fake_stop(&self->srv);
}

static int run_op(struct skv_conn *c, uint8_t op)
{
	const void *keys[] = { "abc", "zz" };
	const size_t lens[] = { 3, 2 };
	struct skv_item *items = NULL;
	void *val = NULL;
	int rc;

	switch (op) {
	case SKV_OP_PING:
		return skv_ping(c);
	case SKV_OP_GET:
		rc = skv_get(c, 1, "k", 1, &val, NULL, NULL);
		free(val);
		return rc;
	case SKV_OP_PUT:
		return skv_put(c, 1, "k", 1, "v", 1, 0, NULL);
	case SKV_OP_DELETE:
		return skv_delete(c, 1, "k", 1, 0, NULL);
	default:
		rc = skv_multi_get(c, 1, 2, keys, lens, &items);
		free(items);
		return rc;
	}
}

TEST_F(bad, reply_is_checked)
{
	int rc = run_op(self->c, variant->op);

	ASSERT_EQ(variant->expect, rc);
	if (variant->how == M_EXTRA_REPLY) {
		/* Noticed on the next read: a reply nobody asked for. */
		ASSERT_EQ(SKV_E_PROTO, skv_ping(self->c));
		TH_LOG("%s", skv_conn_errmsg(self->c));
		return;
	}
	if (variant->expect == SKV_OK) {
		ASSERT_STREQ("", skv_conn_errmsg(self->c));
		ASSERT_EQ(SKV_OK, variant->op == SKV_OP_PING ? SKV_OK : skv_ping(self->c));
		return;
	}
	TH_LOG("%s: %s", skv_code_name(rc), skv_conn_errmsg(self->c));
	ASSERT_NE(0, (int)strlen(skv_conn_errmsg(self->c)));
	/* The stream lost its framing: the error sticks. */
	ASSERT_EQ(rc, skv_ping(self->c));
}

/* ---- random damage ---- */

struct fuzz_arg {
	uint64_t seed;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int fuzz_handler(struct fake_server *s, const struct fake_req *req)
{
	struct fuzz_arg *a = s->arg;
	uint8_t buf[512];
	size_t len = good_reply(req, buf);
	unsigned int flips = (unsigned int)(xorshift(&a->seed) % 4);

	for (unsigned int i = 0; i < flips; i++)
		buf[xorshift(&a->seed) % len] ^= (uint8_t)(1u << (xorshift(&a->seed) % 8));
	if (xorshift(&a->seed) % 4 == 0)
		len = xorshift(&a->seed) % len;
	if (xorshift(&a->seed) % 4 == 0) {
		size_t extra = xorshift(&a->seed) % 64;

		for (size_t i = 0; i < extra && len < sizeof(buf); i++)
			buf[len++] = (uint8_t)xorshift(&a->seed);
	}
	fake_send(s, buf, len);
	return 1;
}

TEST(random_damage_never_crashes)
{
	static const uint8_t ops[] = { SKV_OP_PING, SKV_OP_GET, SKV_OP_PUT, SKV_OP_MULTI_GET };
	const struct skv_opts opts = { .timeout_ms = 3000 };
	unsigned int ok = 0, proto = 0;

	for (unsigned int i = 0; i < 400; i++) {
		struct fuzz_arg a = { .seed = 0x9e3779b97f4a7c15ull * (i + 1) };
		struct fake_server srv;
		struct skv_conn *c = pair_conn(&srv, fuzz_handler, &a, &opts);
		int rc = run_op(c, ops[i % 4]);

		/* A status, a protocol error or a close; never anything else. */
		if (rc != SKV_E_PROTO && rc != SKV_E_CLOSED && (rc > 0 || rc <= -SKV_S_MAX))
			ASSERT_EQ(SKV_E_PROTO, rc);
		ok += rc == SKV_OK;
		proto += rc == SKV_E_PROTO;
		skv_close(c);
		fake_stop(&srv);
	}
	TH_LOG("%u ok, %u protocol errors of 400", ok, proto);
	ASSERT_GT(ok, 0u);
	ASSERT_GT(proto, 0u);
}

TEST_HARNESS_MAIN
