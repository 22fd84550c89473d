// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input on the data-plane socket: truncated and oversized frames, bad
 * headers, unknown opcodes, limits, bodies that contradict their lengths,
 * random bytes, idle and vanishing clients.  After each, the connection
 * that was open before still works and a fresh client is served; the
 * guest kernel log is checked by vm-test/run.sh.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "st_harness.h"

#define HDR sizeof(struct skv_hdr)

static void le16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void le32(uint8_t *p, uint32_t v) { le16(p, v); le16(p + 2, v >> 16); }
static void le64(uint8_t *p, uint64_t v) { le32(p, v); le32(p + 4, v >> 32); }

/*
 * Send a raw frame on fd and read one reply: its status, or -1 (transport
 * error / closed).  The reply must echo the request id.
 */
static int raw_status(int fd, const void *frame, size_t len)
{
	uint64_t id = 0;
	struct st_reply r;
	int i;

	for (i = 7; i >= 0; i--)
		id = id << 8 | ((const uint8_t *)frame)[8 + i];
	if (st_send_all(fd, frame, len) || st_recv_reply(fd, &r))
		return -1;
	st_reply_free(&r);
	if (r.h.request_id != id) {
		snprintf(st_last_error, sizeof(st_last_error), "reply id %llx, want %llx",
			 (unsigned long long)r.h.request_id, (unsigned long long)id);
		return -1;
	}
	return r.h.status;
}

/* Connection closes after a frame: 1 if the node closed it in time. */
static int closes_after(const void *frame, size_t len)
{
	int fd = st_connect(ST_ADDR, ST_PORT), closed;

	if (fd < 0)
		return -1;
	if (st_send_all(fd, frame, len)) {
		close(fd);
		return 1;	/* already reset */
	}
	closed = st_wait_closed(fd, 10000);
	close(fd);
	return closed;
}

TEST_F(node, truncated_header_then_close)
{
	uint8_t f[HDR];
	size_t cut;

	st_build_ping(f, 1);
	for (cut = 1; cut < HDR; cut += 7) {
		int fd = st_connect(ST_ADDR, ST_PORT);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, st_send_all(fd, f, cut));
		close(fd);
	}
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 10000))
		TH_LOG("the node kept connections its clients closed");
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, truncated_body_then_close)
{
	uint8_t f[ST_FRAME_MAX(8, 200)];
	size_t len = st_build_put(f, 2, ST_TABLE, "truncated", 9,
				  "0123456789012345678901234567890123456789", 40, 0);
	size_t cut;
	uint64_t v;
	char *val;

	for (cut = HDR; cut < len; cut += 9) {
		int fd = st_connect(ST_ADDR, ST_PORT);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, st_send_all(fd, f, cut));
		close(fd);
	}
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 10000));
	/* None of the partial puts took effect. */
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "truncated", &val, &v));
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, body_len_over_max_closes)
{
	static const uint32_t lens[] = { SKV_MAX_BODY_LEN + 1, 16u << 20, UINT32_MAX };
	uint8_t f[HDR];
	unsigned int i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		st_hdr(f, SKV_OP_PUT, 3, lens[i]);
		ASSERT_EQ(1, closes_after(f, sizeof(f)))
			TH_LOG("body_len %u: connection not closed", lens[i]);
	}
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_SERVES(ST_PORT);
}

/* body_len == SKV_MAX_BODY_LEN is still a frame: read, answered, connection kept. */
TEST_F(node, body_len_at_max_is_read)
{
	const uint32_t klen = SKV_MAX_BODY_LEN - sizeof(struct skv_put_req) - SKV_MAX_VALUE_LEN;
	uint8_t *f = calloc(1, HDR + SKV_MAX_BODY_LEN);
	uint8_t *zeros = calloc(1, SKV_MAX_VALUE_LEN);
	size_t len;

	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, zeros);
	ASSERT_LT(SKV_MAX_KEY_LEN, klen);
	len = st_build_put(f, 4, ST_TABLE, zeros, klen, zeros, SKV_MAX_VALUE_LEN, 0);
	free(zeros);
	ASSERT_EQ(HDR + SKV_MAX_BODY_LEN, len);
	/* The key is over its limit, so TOO_BIG; the framing stays intact. */
	ASSERT_ST(SKV_S_TOO_BIG, raw_status(self->fd, f, len));
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	free(f);
}

TEST_F(node, bad_header_closes)
{
	uint8_t f[HDR];

	st_build_ping(f, 5);
	f[0] ^= 0xff;					/* magic */
	EXPECT_EQ(1, closes_after(f, sizeof(f))) TH_LOG("bad magic");
	st_build_ping(f, 5);
	le16(f, 0x4b56);				/* magic byte-swapped */
	EXPECT_EQ(1, closes_after(f, sizeof(f))) TH_LOG("big-endian magic");
	st_build_ping(f, 5);
	f[2] = SKV_WIRE_VERSION + 1;			/* version */
	EXPECT_EQ(1, closes_after(f, sizeof(f))) TH_LOG("version 2");
	st_build_ping(f, 5);
	f[2] = 0;
	EXPECT_EQ(1, closes_after(f, sizeof(f))) TH_LOG("version 0");
	st_build_ping(f, 5);
	le16(f + 6, 1);					/* reserved */
	EXPECT_EQ(1, closes_after(f, sizeof(f))) TH_LOG("reserved != 0");
	/* The last field is the client's epoch (wire.h): not a bad header. */
	{
		struct st_reply r;

		st_build_ping(f, 5);
		le32(f + 20, 0x80000000u);		/* epoch */
		ASSERT_EQ(0, st_send_all(self->fd, f, sizeof(f)));
		ASSERT_EQ(0, st_recv_reply(self->fd, &r));
		EXPECT_EQ(SKV_S_OK, r.h.status) TH_LOG("a ping with an epoch");
		st_reply_free(&r);
	}

	/* A bad header after good frames on the same connection closes it too. */
	{
		int fd = st_connect(ST_ADDR, ST_PORT);

		ASSERT_LE(0, fd);
		ASSERT_ST(SKV_S_OK, st_ping(fd));
		st_build_ping(f, 6);
		f[1] = 0;
		ASSERT_EQ(0, st_send_all(fd, f, sizeof(f)));
		EXPECT_EQ(1, st_wait_closed(fd, 10000));
		close(fd);
	}
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, unknown_opcode_keeps_connection)
{
	static const uint8_t ops[] = { 0, SKV_OP_MAX, 0x42, 0x7f, 0xff };
	uint8_t f[HDR + 37];
	struct st_reply r;
	unsigned int i;
	int body;

	for (i = 0; i < sizeof(ops); i++) {
		for (body = 0; body <= 37; body += 37) {
			uint64_t id = 0xabcdef0000000000ull | i << 8 | body;

			st_hdr(f, ops[i], id, body);
			memset(f + HDR, 0x5a, body);
			ASSERT_EQ(0, st_send_all(self->fd, f, HDR + body));
			ASSERT_EQ(0, st_recv_reply(self->fd, &r))
				TH_LOG("opcode %u body %d: %s", ops[i], body, st_last_error);
			EXPECT_EQ(id, r.h.request_id);
			EXPECT_EQ(SKV_S_UNKNOWN_OP, r.h.status)
				TH_LOG("opcode %u: status %s", ops[i], st_status_name(r.h.status));
			EXPECT_EQ(ops[i], r.h.opcode);
			st_reply_free(&r);
			/* Still in step: the body was skipped, not parsed as a header. */
			ASSERT_ST(SKV_S_OK, st_ping(self->fd));
		}
	}
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, key_or_value_too_big)
{
	static uint8_t key[SKV_MAX_KEY_LEN + 1];
	uint8_t *f = malloc(ST_FRAME_MAX(SKV_MAX_KEY_LEN + 1, SKV_MAX_VALUE_LEN + 1));
	uint64_t v;
	uint8_t *val;
	uint32_t vlen;
	size_t len;

	ASSERT_NE(NULL, f);
	memset(key, 'k', sizeof(key));
	len = st_build_put(f, 10, ST_TABLE, key, SKV_MAX_KEY_LEN + 1, "v", 1, 0);
	ASSERT_ST(SKV_S_TOO_BIG, raw_status(self->fd, f, len));
	len = st_build_key(f, SKV_OP_GET, 11, ST_TABLE, key, SKV_MAX_KEY_LEN + 1, 0);
	ASSERT_ST(SKV_S_TOO_BIG, raw_status(self->fd, f, len));
	len = st_build_key(f, SKV_OP_DELETE, 12, ST_TABLE, key, SKV_MAX_KEY_LEN + 1, 0);
	ASSERT_ST(SKV_S_TOO_BIG, raw_status(self->fd, f, len));

	{
		uint8_t *big = malloc(SKV_MAX_VALUE_LEN + 1);

		ASSERT_NE(NULL, big);
		memset(big, 'v', SKV_MAX_VALUE_LEN + 1);
		len = st_build_put(f, 13, ST_TABLE, "tb", 2, big, SKV_MAX_VALUE_LEN + 1, 0);
		free(big);
	}
	ASSERT_ST(SKV_S_TOO_BIG, raw_status(self->fd, f, len));
	/* Nothing was stored, and the connection is in step. */
	ASSERT_ST(SKV_S_NOT_FOUND, st_get(self->fd, ST_TABLE, "tb", 2, &val, &vlen, &v));
	ASSERT_ST(SKV_S_NOT_FOUND, st_get(self->fd, ST_TABLE, key, SKV_MAX_KEY_LEN, &val, &vlen, &v));
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	free(f);
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, multi_get_too_many_keys)
{
	static char names[SKV_MAX_MULTI_KEYS + 1][8];
	const char *keys[SKV_MAX_MULTI_KEYS + 1];
	uint8_t f[HDR + 16 + (SKV_MAX_MULTI_KEYS + 1) * 10];
	unsigned int i;
	size_t len;

	for (i = 0; i <= SKV_MAX_MULTI_KEYS; i++) {
		snprintf(names[i], sizeof(names[i]), "m%u", i);
		keys[i] = names[i];
	}
	len = st_build_mget(f, 20, ST_TABLE, keys, SKV_MAX_MULTI_KEYS + 1);
	ASSERT_ST(SKV_S_TOO_BIG, raw_status(self->fd, f, len));
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
}

TEST_F(node, empty_key_bad_request)
{
	uint8_t f[HDR + 64];
	size_t len;

	len = st_build_put(f, 30, ST_TABLE, "", 0, "v", 1, 0);
	ASSERT_ST(SKV_S_BAD_REQUEST, raw_status(self->fd, f, len));
	len = st_build_key(f, SKV_OP_GET, 31, ST_TABLE, "", 0, 0);
	ASSERT_ST(SKV_S_BAD_REQUEST, raw_status(self->fd, f, len));
	len = st_build_key(f, SKV_OP_DELETE, 32, ST_TABLE, "", 0, 0);
	ASSERT_ST(SKV_S_BAD_REQUEST, raw_status(self->fd, f, len));
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
}

/* Bodies whose inner lengths disagree with body_len: BAD_REQUEST, connection kept. */
TEST_F(node, inconsistent_lengths_bad_request)
{
	uint8_t f[HDR + 512];
	const char *keys2[] = { "aa", "bbb" };
	struct sknl_node before, after;
	size_t len, n = 0;
	uint64_t v;
	char *val;

	ASSERT_EQ(0, sknl_node_get(&self->nl, &before, NULL));

#define CASE(what, frame_len) do {							\
	st_ctx = what;									\
	ASSERT_ST(SKV_S_BAD_REQUEST, raw_status(self->fd, f, (frame_len)));		\
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));						\
	n++;										\
} while (0)

	/* PUT declaring one value byte more than the body holds. */
	len = st_build_put(f, 40, ST_TABLE, "key", 3, "value", 5, 0);
	le32(f + HDR + 20, 6);
	CASE("PUT value_len past the body", len);
	/* PUT with one trailing byte after the value. */
	len = st_build_put(f, 41, ST_TABLE, "key", 3, "value", 5, 0);
	le32(f + HDR + 20, 4);
	CASE("PUT value_len short of the body", len);
	/* PUT key_len past the body. */
	len = st_build_put(f, 42, ST_TABLE, "key", 3, "value", 5, 0);
	le16(f + HDR + 16, 200);
	CASE("PUT key_len past the body", len);
	/* PUT body shorter than struct skv_put_req. */
	st_build_put(f, 43, ST_TABLE, "key", 3, "value", 5, 0);
	le32(f + 16, 10);
	CASE("PUT body shorter than its fixed part", HDR + 10);
	/* GET key_len past the body. */
	len = st_build_key(f, SKV_OP_GET, 44, ST_TABLE, "key", 3, 0);
	le16(f + HDR + 16, 4);
	CASE("GET key_len past the body", len);
	/* GET with trailing bytes. */
	len = st_build_key(f, SKV_OP_GET, 45, ST_TABLE, "key", 3, 0);
	le16(f + HDR + 16, 2);
	CASE("GET trailing bytes", len);
	/* GET body shorter than struct skv_key_req. */
	st_build_key(f, SKV_OP_GET, 46, ST_TABLE, "key", 3, 0);
	le32(f + 16, 8);
	CASE("GET body shorter than its fixed part", HDR + 8);
	/* DELETE with an empty body. */
	st_hdr(f, SKV_OP_DELETE, 47, 0);
	CASE("DELETE empty body", HDR);
	/* MULTI-GET: count says 3, two entries. */
	len = st_build_mget(f, 48, ST_TABLE, keys2, 2);
	le16(f + HDR + 8, 3);
	CASE("MULTI-GET count above entries", len);
	/* MULTI-GET: count 1, two entries (trailing bytes). */
	len = st_build_mget(f, 49, ST_TABLE, keys2, 2);
	le16(f + HDR + 8, 1);
	CASE("MULTI-GET trailing entries", len);
	/* MULTI-GET: an entry's key_len past the body. */
	len = st_build_mget(f, 50, ST_TABLE, keys2, 2);
	le16(f + HDR + sizeof(struct skv_multi_req) + 4, 40);
	CASE("MULTI-GET key_len past the body", len);
	/* MULTI-GET body shorter than struct skv_multi_req. */
	st_hdr(f, SKV_OP_MULTI_GET, 51, 4);
	memset(f + HDR, 0, 4);
	le16(f + HDR, 1);
	CASE("MULTI-GET body shorter than its fixed part", HDR + 4);
	/* PING with a body. */
	st_hdr(f, SKV_OP_PING, 52, 5);
	memcpy(f + HDR, "hello", 5);
	CASE("PING with a body", HDR + 5);
#undef CASE
	st_ctx = "";

	/* Nothing was written by any of them. */
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "key", &val, &v));
	ASSERT_ST(SKV_S_NOT_FOUND, st_gets(self->fd, ST_TABLE, "ke", &val, &v));
	/* And each was counted as a bad request. */
	ASSERT_EQ(0, sknl_node_get(&self->nl, &after, NULL));
	EXPECT_EQ(before.val[STEADYKV_A_NODE_BAD_REQUESTS] + n,
		  after.val[STEADYKV_A_NODE_BAD_REQUESTS]);
	EXPECT_EQ(before.val[STEADYKV_A_NODE_OBJECTS], after.val[STEADYKV_A_NODE_OBJECTS]);
	(void)v;
}

/* Random bytes: the node closes or answers with error frames, never crashes. */
TEST_F(node, random_bytes)
{
	uint8_t buf[8192];
	unsigned int c, i;

	for (c = 0; c < 16; c++) {
		int fd = st_connect(ST_ADDR, ST_PORT);

		ASSERT_LE(0, fd);
		srandom(100 + c);
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = random();
		if (c % 2) {	/* some start with a plausible magic/version */
			le16(buf, SKV_WIRE_MAGIC);
			buf[2] = SKV_WIRE_VERSION;
		}
		st_send_all(fd, buf, sizeof(buf));	/* may fail: reset */
		ASSERT_EQ(1, st_wait_closed(fd, 10000))
			TH_LOG("connection %u still open after 8 KiB of random bytes", c);
		close(fd);
	}
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 10000));
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_SERVES(ST_PORT);
}

/*
 * Valid headers with random bodies for every opcode but the two of the
 * handshake (any misstep there closes the connection by design: see
 * auth_test.c), on a connection authenticated as a peer so that the
 * migration ops reach their handlers: each gets a well-formed reply with
 * its id and a known status (or the connection is closed); nothing
 * crashes.
 */
TEST_F_TIMEOUT(node, fuzz_bodies, 180)
{
	uint8_t f[HDR + 400];
	struct st_reply r;
	int fd = st_connect(ST_ADDR, ST_PORT), i, closed = 0, answered = 0;

	ASSERT_LE(0, fd);
	ASSERT_EQ(SKV_S_OK, st_auth(fd, st_cluster_key()));
	srandom(4242);
	for (i = 0; i < 2000; i++) {
		uint32_t blen = random() % 120;
		uint8_t op = 1 + random() % (SKV_OP_AUTH_HELLO - 1);
		uint32_t j;

		st_hdr(f, op, i, blen);
		for (j = 0; j < blen; j++)
			f[HDR + j] = random();
		if (blen >= 8 && random() % 2)
			le64(f + HDR, random() % 3);	/* table 0, 1 or 2 */
		if (blen >= 18 && random() % 2)		/* plausible key_len */
			le16(f + HDR + 16, random() % 64);
		if (blen >= 24 && op == SKV_OP_PUT && random() % 2)
			le32(f + HDR + 20, random() % 64);
		if (st_send_all(fd, f, HDR + blen) || st_recv_reply(fd, &r)) {
			/* Closed: allowed, then go on with a new connection. */
			closed++;
			close(fd);
			fd = st_connect(ST_ADDR, ST_PORT);
			ASSERT_LE(0, fd);
			ASSERT_EQ(SKV_S_OK, st_auth(fd, st_cluster_key()));
			continue;
		}
		ASSERT_EQ((uint64_t)i, r.h.request_id);
		ASSERT_GT(SKV_S_MAX, r.h.status);
		st_reply_free(&r);
		answered++;
	}
	/* A valid header is a frame: bad bodies are answered, never closed. */
	EXPECT_EQ(0, closed) TH_LOG("%d answered, %d closed", answered, closed);
	close(fd);
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_SERVES(ST_PORT);
}

/* Clients that connect and send nothing, or half a frame, block nobody. */
TEST_F_TIMEOUT(node, idle_clients_do_not_block_others, 120)
{
	int idle[8], i;
	uint8_t f[HDR + 64];
	uint64_t start, v;
	char key[32], *val;

	for (i = 0; i < 8; i++) {
		idle[i] = st_connect(ST_ADDR, ST_PORT);
		ASSERT_LE(0, idle[i]);
		if (i % 4 == 1) {	/* half a header */
			st_build_ping(f, 1);
			ASSERT_EQ(0, st_send_all(idle[i], f, 11));
		} else if (i % 4 == 2) {	/* header, half a body */
			size_t len = st_build_put(f, 2, ST_TABLE, "stall", 5, "0123456789", 10, 0);

			ASSERT_EQ(0, st_send_all(idle[i], f, len - 6));
		}
	}
	start = st_now_ms();
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "busy-%d", i);
		ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, key, key, 0, &v));
		ASSERT_ST(SKV_S_OK, st_gets(self->fd, ST_TABLE, key, &val, &v));
		free(val);
	}
	TH_LOG("400 requests beside 8 stalled clients in %llu ms",
	       (unsigned long long)(st_now_ms() - start));
	ASSERT_SERVES(ST_PORT);
	/* A stalled client that finishes its frame gets its answer. */
	{
		size_t len = st_build_put(f, 2, ST_TABLE, "stall", 5, "0123456789", 10, 0);
		struct st_reply r;

		if (st_is_open_quiet(idle[2], 0)) {
			ASSERT_EQ(0, st_send_all(idle[2], f + len - 6, 6));
			ASSERT_EQ(0, st_recv_reply(idle[2], &r)) TH_LOG("%s", st_last_error);
			EXPECT_EQ(2, r.h.request_id);
			EXPECT_EQ(SKV_S_OK, r.h.status);
			st_reply_free(&r);
		}
	}
	for (i = 0; i < 8; i++)
		close(idle[i]);
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 10000));
}

/* Clients that vanish mid-frame (FIN or RST) leave nothing behind. */
TEST_F_TIMEOUT(node, clients_vanish_mid_frame, 120)
{
	uint8_t f[ST_FRAME_MAX(16, 4096)];
	static uint8_t val[4096];
	size_t len = st_build_put(f, 9, ST_TABLE, "vanish", 6, val, sizeof(val), 0);
	uint64_t v;
	char *got;
	int i;

	for (i = 0; i < 40; i++) {
		int fd = st_connect(ST_ADDR, ST_PORT);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, st_send_all(fd, f, 5 + (len - 10) * i / 40));
		if (i % 2)
			st_close_rst(fd);
		else
			close(fd);
	}
	/* And some that vanish with replies still unread. */
	for (i = 0; i < 8; i++) {
		int fd = st_connect(ST_ADDR, ST_PORT), j;

		ASSERT_LE(0, fd);
		for (j = 0; j < 20; j++)
			ASSERT_EQ(0, st_send_all(fd, f, len));
		st_close_rst(fd);
	}
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 20000))
		TH_LOG("connections of vanished clients were not reaped");
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_SERVES(ST_PORT);
	(void)got;
	(void)v;
}

/* Many clients at once, each served. */
TEST_F_TIMEOUT(node, many_connections, 120)
{
	struct sknl_node ni;
	int fds[64], i, n = 64;
	uint64_t v;

	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	if (SKNL_NODE_HAS(&ni, STEADYKV_A_NODE_MAX_CONNECTIONS) &&
	    ni.val[STEADYKV_A_NODE_MAX_CONNECTIONS] < (uint64_t)n + 1)
		n = ni.val[STEADYKV_A_NODE_MAX_CONNECTIONS] - 1;
	for (i = 0; i < n; i++) {
		fds[i] = st_connect(ST_ADDR, ST_PORT);
		ASSERT_LE(0, fds[i]);
	}
	for (i = 0; i < n; i++) {
		char key[16];

		snprintf(key, sizeof(key), "conn-%d", i);
		ASSERT_ST(SKV_S_OK, st_puts(fds[i], ST_TABLE, key, key, 0, &v));
	}
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, n + 1, 10000));
	for (i = 0; i < n; i++)
		close(fds[i]);
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 20000));
}

/* Set module parameter name to value; its old value in old.  0 or -1. */
static int param_swap(const char *name, unsigned int value, unsigned int *old)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/module/steadykv/parameters/%s", name);
	f = fopen(path, "r+");
	if (!f)
		return -1;
	ok = fscanf(f, "%u", old) == 1 && !fseek(f, 0, SEEK_SET) &&
	     fprintf(f, "%u\n", value) > 0;
	return fclose(f) || !ok ? -1 : 0;
}

/*
 * Connections over max-connections are closed; the ones inside are served.
 * All come from one address and none is a peer: the per-address cap and
 * the peer slots (conn_flood.sh tests them) are off for this one.
 */
TEST_F_TIMEOUT(node, max_connections_enforced, 240)
{
	struct sknl_node ni;
	int *fds, n, i, closed = 0, served = 0;
	unsigned int per_addr, peers, saved_max, dummy;
	uint64_t max;

	/* A cap small enough to fill quickly; node show reports it. */
	ASSERT_EQ(0, param_swap("max_connections", 64, &saved_max));
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	ASSERT_TRUE(SKNL_NODE_HAS(&ni, STEADYKV_A_NODE_MAX_CONNECTIONS));
	max = ni.val[STEADYKV_A_NODE_MAX_CONNECTIONS];
	ASSERT_EQ(64, max);
	ASSERT_EQ(0, param_swap("max_connections_per_addr", 0, &per_addr));
	ASSERT_EQ(0, param_swap("peer_connections", 0, &peers));
	n = max + 3;	/* with the fixture's: 4 too many */
	fds = calloc(n, sizeof(int));
	for (i = 0; i < n; i++) {
		fds[i] = st_connect(ST_ADDR, ST_PORT);
		/*
		 * One past the cap may be closed before connect returns (a
		 * slow kernel): a refusal, but never one inside the cap.
		 */
		if (fds[i] < 0 && (uint64_t)i >= max - 1)
			continue;
		ASSERT_LE(0, fds[i]) TH_LOG("connection %d: %s", i, st_last_error);
	}
	/* Give the node time to accept them all, then see who was turned away. */
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, max, 60000))
		TH_LOG("connections never reached max-connections %llu", (unsigned long long)max);
	for (i = 0; i < n; i++) {
		if (fds[i] >= 0 && st_ping(fds[i]) == SKV_S_OK)
			served++;
		else
			closed++;
	}
	TH_LOG("max %llu: %d served, %d closed", (unsigned long long)max, served, closed);
	EXPECT_EQ(4, closed);
	EXPECT_EQ(max - 1, (uint64_t)served);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(max, ni.val[STEADYKV_A_NODE_CONNECTIONS]);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 60000));
	ASSERT_SERVES(ST_PORT);
	free(fds);
	ASSERT_EQ(0, param_swap("max_connections_per_addr", per_addr, &dummy));
	ASSERT_EQ(0, param_swap("peer_connections", peers, &dummy));
	ASSERT_EQ(0, param_swap("max_connections", saved_max, &dummy));
}

/* A peer that never reads its replies does not wedge the node for others. */
TEST_F_TIMEOUT(node, client_never_reads, 120)
{
	uint8_t f[ST_FRAME_MAX(8, 0)];
	size_t len;
	int fd, i, sent = 0, flags;
	static uint8_t big[65536];

	/* A 64 KiB value, read back again and again without reading replies. */
	ASSERT_ST(SKV_S_OK, st_put(self->fd, ST_TABLE, "bigv", 4, big, sizeof(big), 0, NULL));
	fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, fd);
	len = st_build_key(f, SKV_OP_GET, 1, ST_TABLE, "bigv", 4, 0);
	flags = MSG_DONTWAIT | MSG_NOSIGNAL;
	for (i = 0; i < 4000; i++) {
		if (send(fd, f, len, flags) != (ssize_t)len)
			break;
		sent++;
	}
	TH_LOG("%d GETs of 64 KiB queued before the socket filled", sent);
	/* The node is blocked writing to fd; everyone else is still served. */
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_SERVES(ST_PORT);
	st_close_rst(fd);
	ASSERT_EQ(0, st_nl_wait_connections(&self->nl, 1, 20000))
		TH_LOG("a connection blocked on a dead reader was not reaped");
}

TEST_HARNESS_MAIN
