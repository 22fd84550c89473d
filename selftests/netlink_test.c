// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "steadykv" under bad input: missing and
 * malformed attributes, unknown attributes, bad ranges, overlaps and
 * duplicates must each fail with an errno AND an extack message, and leave
 * the node unchanged.  Also: dumps, listen stop/start, an unprivileged
 * caller (EPERM on every change, reads allowed), namespaces as tenants (a
 * user namespace's root runs its own node and cannot change another) and
 * the "events" group.
 * Messages are built by hand (libnl) so any byte can be wrong.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "st_harness.h"

#define T 10	/* a scratch table with tablet [100, 200] */

static int count_tablets(struct sknl *nl, uint64_t table)
{
	struct sknl_tablet t[ST_MAX_DUMP];
	int n = st_nl_tablets(nl, t, ST_MAX_DUMP), i, c = 0;

	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		c += t[i].table_id == table;
	return c;
}

static int count_tables(struct sknl *nl)
{
	uint64_t ids[ST_MAX_DUMP];

	return st_nl_tables(nl, ids, ST_MAX_DUMP);
}

TEST_F(node, missing_required_attributes)
{
	struct sknl_err res;
	struct nl_msg *m;

	/* table-add with no id. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLE_ADD, 0);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	if (res.missing_type)
		EXPECT_EQ(STEADYKV_A_TABLE_ID, res.missing_type);

	/* table-del with no id. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLE_DEL, 0);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);

	/* tablet-add with no end. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLET_ADD, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_TABLE_ID, ST_TABLE);
	nla_put_u64(m, STEADYKV_A_TABLET_START_HASH, 0);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	if (res.missing_type)
		EXPECT_EQ(STEADYKV_A_TABLET_END_HASH, res.missing_type);

	/* tablet-add with no start. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLET_ADD, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_TABLE_ID, ST_TABLE);
	nla_put_u64(m, STEADYKV_A_TABLET_END_HASH, 5);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);

	/* tablet-add with no table. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLET_ADD, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_START_HASH, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_END_HASH, 5);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);

	/* tablet-set with no state. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLET_SET, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_TABLE_ID, ST_TABLE);
	nla_put_u64(m, STEADYKV_A_TABLET_START_HASH, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_END_HASH, UINT64_MAX);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);

	/* tablet-del with no end. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLET_DEL, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_TABLE_ID, ST_TABLE);
	nla_put_u64(m, STEADYKV_A_TABLET_START_HASH, 0);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);

	/* listen-start with no port; with no address. */
	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	m = sknl_request(&self->nl, STEADYKV_CMD_LISTEN_START, 0);
	nla_put(m, STEADYKV_A_NODE_LISTEN_ADDR, 4, "\x7f\0\0\x01");
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	m = sknl_request(&self->nl, STEADYKV_CMD_LISTEN_START, 0);
	nla_put_u16(m, STEADYKV_A_NODE_LISTEN_PORT, ST_PORT);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);

	/* Nothing changed. */
	EXPECT_EQ(1, count_tables(&self->nl));
	EXPECT_EQ(1, count_tablets(&self->nl, ST_TABLE));
}

TEST_F(node, wrong_attribute_lengths)
{
	struct sknl_err res;
	struct sknl_node ni;
	struct nl_msg *m;
	uint64_t limit;

	/* u32 where u64 is expected: table id. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLE_ADD, 0);
	nla_put_u32(m, STEADYKV_A_TABLE_ID, 77);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	/* 12 bytes for a u64. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLE_ADD, 0);
	nla_put(m, STEADYKV_A_TABLE_ID, 12, "\x4d\0\0\0\0\0\0\0\0\0\0\0");
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	/* u32 start hash. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLET_ADD, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_TABLE_ID, ST_TABLE);
	nla_put_u32(m, STEADYKV_A_TABLET_START_HASH, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_END_HASH, 5);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	/* u64 state where u32 is expected. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLET_SET, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_TABLE_ID, ST_TABLE);
	nla_put_u64(m, STEADYKV_A_TABLET_START_HASH, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_END_HASH, UINT64_MAX);
	nla_put_u64(m, STEADYKV_A_TABLET_STATE, STEADYKV_TABLET_STATE_RECOVERING);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	/* u32 mem limit. */
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	limit = ni.val[STEADYKV_A_NODE_MEM_LIMIT];
	m = sknl_request(&self->nl, STEADYKV_CMD_NODE_SET, 0);
	nla_put_u32(m, STEADYKV_A_NODE_MEM_LIMIT, 64 << 20);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	/* u32 port where u16 is expected. */
	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	m = sknl_request(&self->nl, STEADYKV_CMD_LISTEN_START, 0);
	nla_put(m, STEADYKV_A_NODE_LISTEN_ADDR, 4, "\x7f\0\0\x01");
	nla_put_u32(m, STEADYKV_A_NODE_LISTEN_PORT, ST_PORT);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);

	/* Nothing changed. */
	EXPECT_EQ(1, count_tables(&self->nl));
	EXPECT_EQ(1, count_tablets(&self->nl, ST_TABLE));
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(limit, ni.val[STEADYKV_A_NODE_MEM_LIMIT]);
	EXPECT_EQ(0, ni.val[STEADYKV_A_NODE_LISTENING]);
}

TEST_F(node, listen_address_lengths)
{
	static const int lens[] = { 0, 3, 5, 15, 17 };
	char ctx[64];
	struct sknl_err res;
	struct sknl_node ni;
	unsigned int i;

	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct nl_msg *m = sknl_request(&self->nl, STEADYKV_CMD_LISTEN_START, 0);

		nla_put(m, STEADYKV_A_NODE_LISTEN_ADDR, lens[i],
			"\x7f\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
		nla_put_u16(m, STEADYKV_A_NODE_LISTEN_PORT, ST_PORT + 1);
		snprintf(ctx, sizeof(ctx), "address of %d bytes", lens[i]);
		st_ctx = ctx;
		ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	}
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(0, ni.val[STEADYKV_A_NODE_LISTENING]);
	/* 4 bytes works. */
	ASSERT_NL_OK(st_nl_listen(&self->nl, ST_ADDR, ST_PORT + 1, &res), &res);
	ASSERT_EQ(0, st_node_serves(ST_ADDR, ST_PORT + 1, ST_TABLE)) TH_LOG("%s", st_last_error);
}

/* IPv6 (16 bytes) is a valid listen address. */
TEST_F(node, listen_ipv6)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(ST_PORT + 2),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sknl_err res;
	int fd;

	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	ASSERT_NL_OK(sknl_listen_start(&self->nl, sa.sin6_addr.s6_addr, 16, ST_PORT + 2, &res),
		     &res);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, connect(fd, (struct sockaddr *)&sa, sizeof(sa))) TH_LOG("%s", strerror(errno));
	ASSERT_ST(SKV_S_OK, st_ping(fd));
	close(fd);
}

TEST_F(node, unknown_attribute_rejected)
{
	struct sknl_err res;
	struct nl_msg *m;

	/* Type above the set's maximum. */
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLE_ADD, 0);
	nla_put_u64(m, STEADYKV_A_TABLE_ID, 55);
	nla_put_u32(m, STEADYKV_A_TABLE_MAX + 1, 1);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	m = sknl_request(&self->nl, STEADYKV_CMD_TABLET_ADD, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_TABLE_ID, ST_TABLE);
	nla_put_u64(m, STEADYKV_A_TABLET_START_HASH, 0);
	nla_put_u64(m, STEADYKV_A_TABLET_END_HASH, 5);
	nla_put_u32(m, 200, 1);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	/* A node attribute that is output-only (statistics) is not an input. */
	m = sknl_request(&self->nl, STEADYKV_CMD_NODE_SET, 0);
	nla_put_u64(m, STEADYKV_A_NODE_MEM_LIMIT, 64ull << 20);
	nla_put_u64(m, STEADYKV_A_NODE_OBJECTS, 1);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_transact_err(&self->nl, m, NULL, &res), &res);
	/* Table 55 was not created. */
	EXPECT_EQ(1, count_tables(&self->nl));
}

TEST_F(node, tablet_start_after_end)
{
	struct sknl_err res;

	ASSERT_NL_OK(sknl_table_add(&self->nl, T, &res), &res);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_tablet_add(&self->nl, T, 201, 200, -1, &res), &res);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_tablet_add(&self->nl, T, UINT64_MAX, 0, -1, &res), &res);
	EXPECT_EQ(0, count_tablets(&self->nl, T));
	/* start == end is a one-hash tablet and fine. */
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, T, 200, 200, -1, &res), &res);
	EXPECT_EQ(1, count_tablets(&self->nl, T));
}

TEST_F(node, overlapping_tablets)
{
	static const uint64_t bad[][2] = {
		{ 100, 200 }, { 50, 100 }, { 200, 300 }, { 150, 160 },
		{ 0, UINT64_MAX }, { 50, 250 }, { 199, 201 },
	};
	struct sknl_tablet t[ST_MAX_DUMP];
	struct sknl_err res;
	unsigned int i;
	int n, found = 0;
	char ctx[80];

	ASSERT_NL_OK(sknl_table_add(&self->nl, T, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, T, 100, 200, -1, &res), &res);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(ctx, sizeof(ctx), "[%llu, %llu] overlaps [100, 200]",
			 (unsigned long long)bad[i][0], (unsigned long long)bad[i][1]);
		st_ctx = ctx;
		ASSERT_NL_ERR_MSG(-EEXIST, sknl_tablet_add(&self->nl, T, bad[i][0], bad[i][1],
							     -1, &res), &res);
	}
	st_ctx = "";
	/* Adjacent tablets do not overlap. */
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, T, 0, 99, -1, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, T, 201, UINT64_MAX, -1, &res), &res);
	/* Now the table is full: anything overlaps. */
	ASSERT_NL_ERR_MSG(-EEXIST, sknl_tablet_add(&self->nl, T, UINT64_MAX, UINT64_MAX, -1, &res),
			  &res);
	n = st_nl_tablets(&self->nl, t, ST_MAX_DUMP);
	ASSERT_EQ(4, n);	/* table 1's and these three */
	for (i = 0; i < (unsigned int)n; i++) {
		if (t[i].table_id != T)
			continue;
		found++;
		EXPECT_TRUE((t[i].start_hash == 0 && t[i].end_hash == 99) ||
			    (t[i].start_hash == 100 && t[i].end_hash == 200) ||
			    (t[i].start_hash == 201 && t[i].end_hash == UINT64_MAX));
	}
	EXPECT_EQ(3, found);
}

TEST_F(node, duplicate_table)
{
	struct sknl_err res;
	uint64_t ids[ST_MAX_DUMP];
	int n, i, c = 0;

	ASSERT_NL_ERR_MSG(-EEXIST, sknl_table_add(&self->nl, ST_TABLE, &res), &res);
	ASSERT_NL_OK(sknl_table_add(&self->nl, UINT64_MAX, &res), &res);
	ASSERT_NL_ERR_MSG(-EEXIST, sknl_table_add(&self->nl, UINT64_MAX, &res), &res);
	n = st_nl_tables(&self->nl, ids, ST_MAX_DUMP);
	ASSERT_EQ(2, n);
	for (i = 0; i < n; i++)
		c += ids[i] == ST_TABLE;
	EXPECT_EQ(1, c);
	/* The duplicate did not drop the existing table's data or tablets. */
	EXPECT_EQ(1, count_tablets(&self->nl, ST_TABLE));
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, unknown_objects)
{
	struct sknl_err res;

	/* A tablet for a table that does not exist. */
	ASSERT_NL_ERR_MSG(-ENOENT, sknl_tablet_add(&self->nl, 404, 0, 10, -1, &res), &res);
	ASSERT_NL_ERR_MSG(-ENOENT, sknl_table_del(&self->nl, 404, &res), &res);
	/* Tablet del/set must name an existing tablet exactly. */
	ASSERT_NL_ERR_MSG(-ENOENT, sknl_tablet_del(&self->nl, ST_TABLE, 0, 100, &res), &res);
	ASSERT_NL_ERR_MSG(-ENOENT, sknl_tablet_set(&self->nl, ST_TABLE, 1, UINT64_MAX,
						    STEADYKV_TABLET_STATE_RECOVERING, &res), &res);
	ASSERT_NL_ERR_MSG(-ENOENT, sknl_tablet_del(&self->nl, 404, 0, 100, &res), &res);
	EXPECT_EQ(1, count_tablets(&self->nl, ST_TABLE));
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, bad_tablet_state)
{
	struct sknl_tablet t[ST_MAX_DUMP];
	struct sknl_err res;

	ASSERT_NL_OK(sknl_table_add(&self->nl, T, &res), &res);
	ASSERT_NL_RANGE_MSG(sknl_tablet_add(&self->nl, T, 0, 10, 99, &res), &res);
	ASSERT_NL_RANGE_MSG(sknl_tablet_add(&self->nl, T, 0, 10,
					     STEADYKV_TABLET_STATE_RECOVERING + 1, &res), &res);
	EXPECT_EQ(0, count_tablets(&self->nl, T));
	ASSERT_NL_RANGE_MSG(sknl_tablet_set(&self->nl, ST_TABLE, 0, UINT64_MAX,
					     -2 & 0x7fffffff, &res), &res);
	ASSERT_EQ(1, st_nl_tablets(&self->nl, t, ST_MAX_DUMP));
	EXPECT_EQ(STEADYKV_TABLET_STATE_NORMAL, t[0].state);
	ASSERT_SERVES(ST_PORT);
}

TEST_F(node, mem_limit_too_small)
{
	struct sknl_node a, b;
	struct sknl_err res;

	ASSERT_EQ(0, sknl_node_get(&self->nl, &a, NULL));
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_node_set_mem_limit(&self->nl, 4096, &res), &res);
	ASSERT_NL_ERR_MSG(-EINVAL, sknl_node_set_mem_limit(&self->nl, 1, &res), &res);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &b, NULL));
	EXPECT_EQ(a.val[STEADYKV_A_NODE_MEM_LIMIT], b.val[STEADYKV_A_NODE_MEM_LIMIT]);
}

/* Dumps list exactly what was configured, with states. */
TEST_F(node, dumps)
{
	struct sknl_tablet t[ST_MAX_DUMP];
	uint64_t ids[ST_MAX_DUMP], seen = 0;
	struct sknl_err res;
	int n, i;

	ASSERT_NL_OK(sknl_table_add(&self->nl, 20, &res), &res);
	ASSERT_NL_OK(sknl_table_add(&self->nl, 30, &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 20, 0, 1000, STEADYKV_TABLET_STATE_MIGRATING_IN,
				      &res), &res);
	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 20, 1001, 2000, -1, &res), &res);
	ASSERT_NL_OK(sknl_tablet_set(&self->nl, 20, 1001, 2000,
				      STEADYKV_TABLET_STATE_MIGRATING_OUT, &res), &res);
	n = st_nl_tables(&self->nl, ids, ST_MAX_DUMP);
	ASSERT_EQ(3, n);
	for (i = 0; i < n; i++)
		seen |= ids[i] == 1 ? 1 : ids[i] == 20 ? 2 : ids[i] == 30 ? 4 : 8;
	EXPECT_EQ(7, seen);
	n = st_nl_tablets(&self->nl, t, ST_MAX_DUMP);
	ASSERT_EQ(3, n);
	seen = 0;
	for (i = 0; i < n; i++) {
		ASSERT_TRUE(SKNL_TABLET_HAS(&t[i], STEADYKV_A_TABLET_STATE));
		if (t[i].table_id == 1 && t[i].start_hash == 0 && t[i].end_hash == UINT64_MAX &&
		    t[i].state == STEADYKV_TABLET_STATE_NORMAL)
			seen |= 1;
		if (t[i].table_id == 20 && t[i].start_hash == 0 && t[i].end_hash == 1000 &&
		    t[i].state == STEADYKV_TABLET_STATE_MIGRATING_IN)
			seen |= 2;
		if (t[i].table_id == 20 && t[i].start_hash == 1001 && t[i].end_hash == 2000 &&
		    t[i].state == STEADYKV_TABLET_STATE_MIGRATING_OUT)
			seen |= 4;
	}
	EXPECT_EQ(7, seen);
	/* Table delete takes its tablets along. */
	ASSERT_NL_OK(sknl_table_del(&self->nl, 20, &res), &res);
	EXPECT_EQ(2, count_tables(&self->nl));
	EXPECT_EQ(0, count_tablets(&self->nl, 20));
	EXPECT_EQ(1, count_tablets(&self->nl, ST_TABLE));
}

/* Dumps larger than one netlink message (many tables, many tablets). */
TEST_F_TIMEOUT(node, large_dumps, 180)
{
	static uint64_t ids[1200];
	static struct sknl_tablet t[1200];
	struct sknl_err res;
	int i, n;

	ASSERT_NL_OK(sknl_table_add(&self->nl, T, &res), &res);
	for (i = 0; i < 600; i++) {
		ASSERT_NL_OK(sknl_table_add(&self->nl, 1000 + i, &res), &res);
		ASSERT_NL_OK(sknl_tablet_add(&self->nl, T, i * 10, i * 10 + 9, -1, &res), &res);
	}
	n = st_nl_tables(&self->nl, ids, 1200);
	ASSERT_EQ(602, n);
	n = st_nl_tablets(&self->nl, t, 1200);
	ASSERT_EQ(601, n);
	for (i = 0; i < n; i++) {
		if (t[i].table_id == T) {
			ASSERT_EQ(0, t[i].start_hash % 10);
			ASSERT_EQ(t[i].start_hash + 9, t[i].end_hash);
		}
	}
}

TEST_F(node, listen_stop_and_restart)
{
	struct sknl_node ni;
	struct sknl_err res;
	int fd;

	/* The fixture's connection is accepted and served before the stop. */
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(0, ni.val[STEADYKV_A_NODE_LISTENING]);
	fd = st_connect(ST_ADDR, ST_PORT);
	EXPECT_GT(0, fd) TH_LOG("connected to a node that stopped listening");
	if (fd >= 0)
		close(fd);
	/* Open connections are not closed by listen-stop. */
	ASSERT_ST(SKV_S_OK, st_ping(self->fd));
	ASSERT_ST(SKV_S_OK, st_puts(self->fd, ST_TABLE, "after-stop", "v", 0, NULL));
	/* Stopping twice: ENOENT, with a message. */
	ASSERT_NL_ERR_MSG(-ENOENT, sknl_listen_stop(&self->nl, &res), &res);
	/* Start again on another port. */
	ASSERT_NL_OK(st_nl_listen(&self->nl, ST_ADDR, ST_PORT + 5, &res), &res);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(1, ni.val[STEADYKV_A_NODE_LISTENING]);
	EXPECT_EQ(ST_PORT + 5, ni.val[STEADYKV_A_NODE_LISTEN_PORT]);
	ASSERT_EQ(0, st_node_serves(ST_ADDR, ST_PORT + 5, ST_TABLE)) TH_LOG("%s", st_last_error);
	/* And stop/start on the same port, many times. */
	for (int i = 0; i < 10; i++) {
		ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
		ASSERT_NL_OK(st_nl_listen(&self->nl, ST_ADDR, ST_PORT + 5, &res), &res);
	}
	ASSERT_EQ(0, st_node_serves(ST_ADDR, ST_PORT + 5, ST_TABLE)) TH_LOG("%s", st_last_error);
}

/*
 * listen-stop leaves open connections open, including ones whose handshake
 * completed just before (connect() returned) but that the node had not
 * accepted yet.
 */
TEST_F(node, listen_stop_keeps_just_connected_clients)
{
	struct sknl_err res;
	int fds[16], i, reset = 0;

	for (i = 0; i < 16; i++) {
		fds[i] = st_connect(ST_ADDR, ST_PORT);
		ASSERT_LE(0, fds[i]);
	}
	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	for (i = 0; i < 16; i++) {
		if (st_ping(fds[i]) != SKV_S_OK)
			reset++;
		close(fds[i]);
	}
	EXPECT_EQ(0, reset) TH_LOG("%d of 16 connected clients were reset by listen-stop", reset);
}

/* Starting a listening node again: EBUSY; port 0: EINVAL; both with messages. */
TEST_F(node, listen_busy_and_bad_port)
{
	struct sknl_node ni;
	struct sknl_err res;

	ASSERT_NL_ERR_MSG(-EBUSY, st_nl_listen(&self->nl, ST_ADDR, ST_PORT + 4, &res), &res);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(ST_PORT, ni.val[STEADYKV_A_NODE_LISTEN_PORT]);
	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	ASSERT_NL_RANGE_MSG(st_nl_listen(&self->nl, ST_ADDR, 0, &res), &res);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(0, ni.val[STEADYKV_A_NODE_LISTENING]);
}

/* A port already taken: an error with a message, not a half-started node. */
TEST_F(node, listen_port_in_use)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ST_PORT + 9),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sknl_node ni;
	struct sknl_err res;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(0, listen(fd, 1));
	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	ASSERT_NL_ERR_MSG(-EADDRINUSE, st_nl_listen(&self->nl, ST_ADDR, ST_PORT + 9, &res), &res);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &ni, NULL));
	EXPECT_EQ(0, ni.val[STEADYKV_A_NODE_LISTENING]);
	close(fd);
	ASSERT_NL_OK(st_nl_listen(&self->nl, ST_ADDR, ST_PORT + 9, &res), &res);
	ASSERT_EQ(0, st_node_serves(ST_ADDR, ST_PORT + 9, ST_TABLE)) TH_LOG("%s", st_last_error);
}

/* ---- unprivileged caller ---- */

struct change {
	const char *name;
	uint8_t cmd;
};

/* A change cmd that would succeed for an admin. */
static int valid_change(struct sknl *nl, uint8_t cmd, struct sknl_err *err)
{
	static const uint8_t lo[4] = { 127, 0, 0, 1 };

	switch (cmd) {
	case STEADYKV_CMD_NODE_SET:
		return sknl_node_set_mem_limit(nl, 128ull << 20, err);
	case STEADYKV_CMD_LISTEN_START:
		return sknl_listen_start(nl, lo, 4, ST_PORT + 3, err);
	case STEADYKV_CMD_LISTEN_STOP:
		return sknl_listen_stop(nl, err);
	case STEADYKV_CMD_TABLE_ADD:
		return sknl_table_add(nl, 66, err);
	case STEADYKV_CMD_TABLE_DEL:
		return sknl_table_del(nl, ST_TABLE, err);
	case STEADYKV_CMD_TABLET_ADD:
		return sknl_tablet_add(nl, T, 0, 10, -1, err);
	case STEADYKV_CMD_TABLET_DEL:
		return sknl_tablet_del(nl, ST_TABLE, 0, UINT64_MAX, err);
	case STEADYKV_CMD_TABLET_SET:
		return sknl_tablet_set(nl, ST_TABLE, 0, UINT64_MAX,
				       STEADYKV_TABLET_STATE_RECOVERING, err);
	}
	return -EINVAL;
}

static const struct change changes[] = {
	{ "node-set", STEADYKV_CMD_NODE_SET },
	{ "listen-start", STEADYKV_CMD_LISTEN_START },
	{ "table-add", STEADYKV_CMD_TABLE_ADD },
	{ "table-del", STEADYKV_CMD_TABLE_DEL },
	{ "tablet-add", STEADYKV_CMD_TABLET_ADD },
	{ "tablet-del", STEADYKV_CMD_TABLET_DEL },
	{ "tablet-set", STEADYKV_CMD_TABLET_SET },
	{ "listen-stop", STEADYKV_CMD_LISTEN_STOP },	/* last: it would stop the node */
};

/* In the child, as uid 65534 without capabilities: number of failures. */
static int unprivileged_checks(void)
{
	struct sknl_tablet t[ST_MAX_DUMP];
	uint64_t ids[ST_MAX_DUMP];
	struct sknl_node ni;
	struct sknl_err res;
	struct sknl nl;
	unsigned int i;
	int err, fails = 0, n;

	err = st_drop_privileges();
	if (err) {
		printf("# drop privileges: %s\n", strerror(-err));
		return 100;
	}
	if (getuid() != 65534 || geteuid() != 65534) {
		printf("# still uid %d/%d\n", getuid(), geteuid());
		return 100;
	}
	err = st_nl_open(&nl);
	if (err) {
		printf("# unprivileged netlink socket: %s\n", strerror(-err));
		return 100;
	}
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		err = valid_change(&nl, changes[i].cmd, &res);
		if (err != -EPERM) {
			printf("# unprivileged %s: got %d (%s), want EPERM\n", changes[i].name,
			       err, strerror(-err));
			fails++;
		}
	}
	/* Reads are not admin-only. */
	err = sknl_node_get(&nl, &ni, &res);
	if (err) {
		printf("# unprivileged node-get: %s (%s)\n", strerror(-err), res.msg);
		fails++;
	} else if (ni.val[STEADYKV_A_NODE_LISTENING] != 1 ||
		   ni.val[STEADYKV_A_NODE_LISTEN_PORT] != ST_PORT) {
		printf("# unprivileged node-get: wrong content\n");
		fails++;
	}
	n = st_nl_tables(&nl, ids, ST_MAX_DUMP);
	if (n != 2) {
		printf("# unprivileged table dump: %d (want 2 tables)\n", n);
		fails++;
	}
	n = st_nl_tablets(&nl, t, ST_MAX_DUMP);
	if (n != 1) {
		printf("# unprivileged tablet dump: %d (want 1 tablet)\n", n);
		fails++;
	}
	/* The data plane does not care who you are. */
	if (st_node_serves(ST_ADDR, ST_PORT, ST_TABLE)) {
		printf("# unprivileged client not served: %s\n", st_last_error);
		fails++;
	}
	sknl_close(&nl);
	return fails;
}

TEST_F(node, unprivileged_changes_get_eperm)
{
	struct sknl_tablet t[ST_MAX_DUMP];
	struct sknl_node a, b;
	struct sknl_err res;
	int status, n;
	pid_t pid;

	ASSERT_NL_OK(sknl_table_add(&self->nl, T, &res), &res);
	ASSERT_EQ(0, sknl_node_get(&self->nl, &a, NULL));
	fflush(stdout);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(unprivileged_checks());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("%d unprivileged checks failed",
						 WEXITSTATUS(status));
	/* Nothing changed. */
	ASSERT_EQ(0, sknl_node_get(&self->nl, &b, NULL));
	EXPECT_EQ(a.val[STEADYKV_A_NODE_MEM_LIMIT], b.val[STEADYKV_A_NODE_MEM_LIMIT]);
	EXPECT_EQ(1, b.val[STEADYKV_A_NODE_LISTENING]);
	EXPECT_EQ(ST_PORT, b.val[STEADYKV_A_NODE_LISTEN_PORT]);
	EXPECT_EQ(2, count_tables(&self->nl));
	n = st_nl_tablets(&self->nl, t, ST_MAX_DUMP);
	ASSERT_EQ(1, n);
	EXPECT_EQ(STEADYKV_TABLET_STATE_NORMAL, t[0].state);
	ASSERT_SERVES(ST_PORT);
}

/* ---- events ---- */

/* The events of one receive, handed out one by one. */
struct ev_queue {
	struct sknl_event ev[32];
	int n, next;
};

static void ev_push(const struct sknl_event *ev, void *arg)
{
	struct ev_queue *q = arg;

	if (q->n < (int)(sizeof(q->ev) / sizeof(q->ev[0])))
		q->ev[q->n++] = *ev;
}

/* The next event (bounded by the socket's receive timeout): 0, or -1. */
static int read_event(struct sknl *ev, struct ev_queue *q, struct sknl_event *e)
{
	while (q->next == q->n) {
		q->n = q->next = 0;
		if (sknl_events_recv(ev, ev_push, q))
			return -1;
	}
	*e = q->ev[q->next++];
	return e->malformed ? -1 : 0;
}

TEST_F(node, events_group)
{
	static struct ev_queue q;
	static struct sknl_event e;
	struct sknl_err res;
	struct sknl ev;

	ASSERT_EQ(0, st_nl_events_open(&ev, 10000))
		TH_LOG("no \"%s\" multicast group", STEADYKV_MCGRP_EVENTS);

	ASSERT_NL_OK(sknl_table_add(&self->nl, 4242, &res), &res);
	ASSERT_EQ(0, read_event(&ev, &q, &e)) TH_LOG("no event for table-add");
	EXPECT_EQ(STEADYKV_CMD_TABLE_ADD, e.cmd);
	EXPECT_EQ(4242, e.table.id);

	ASSERT_NL_OK(sknl_tablet_add(&self->nl, 4242, 10, 20, -1, &res), &res);
	ASSERT_EQ(0, read_event(&ev, &q, &e)) TH_LOG("no event for tablet-add");
	EXPECT_EQ(STEADYKV_CMD_TABLET_ADD, e.cmd);
	EXPECT_EQ(4242, e.tablet.table_id);
	EXPECT_EQ(10, e.tablet.start_hash);
	EXPECT_EQ(20, e.tablet.end_hash);

	ASSERT_NL_OK(sknl_tablet_set(&self->nl, 4242, 10, 20,
				      STEADYKV_TABLET_STATE_MIGRATING_OUT, &res), &res);
	ASSERT_EQ(0, read_event(&ev, &q, &e)) TH_LOG("no event for tablet-set");
	EXPECT_EQ(STEADYKV_CMD_TABLET_SET, e.cmd);
	EXPECT_EQ(STEADYKV_TABLET_STATE_MIGRATING_OUT, e.tablet.state);

	/* A failed change announces nothing; the next event is table-del. */
	ASSERT_NL_ERR_MSG(-EEXIST, sknl_table_add(&self->nl, 4242, &res), &res);
	ASSERT_NL_OK(sknl_table_del(&self->nl, 4242, &res), &res);
	ASSERT_EQ(0, read_event(&ev, &q, &e)) TH_LOG("no event for table-del");
	EXPECT_EQ(STEADYKV_CMD_TABLE_DEL, e.cmd);
	EXPECT_EQ(4242, e.table.id);

	ASSERT_NL_OK(sknl_listen_stop(&self->nl, &res), &res);
	ASSERT_EQ(0, read_event(&ev, &q, &e)) TH_LOG("no event for listen-stop");
	EXPECT_EQ(STEADYKV_CMD_LISTEN_STOP, e.cmd);
	sknl_close(&ev);
}

/* ---- namespaces as tenants ---- */

static int write_proc(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		ret = -EIO;
	if (fclose(f))
		ret = -errno;
	return ret;
}

/*
 * Become what `unshare --user --map-root-user --net` makes: root of a new
 * user namespace (mapped to our uid and gid) in a new network namespace
 * that this user namespace owns, with lo up.
 */
static int enter_tenant(void)
{
	unsigned int uid = geteuid(), gid = getegid();
	char map[64];
	int err;

	/* Dropping root cleared it, and /proc/self/uid_map went to root. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		return -errno;
	if (unshare(CLONE_NEWUSER))
		return -errno;
	snprintf(map, sizeof(map), "0 %u 1", uid);
	err = write_proc("/proc/self/uid_map", map);
	if (!err)
		err = write_proc("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", gid);
	if (!err)
		err = write_proc("/proc/self/gid_map", map);
	return err ? err : st_new_netns();
}

/* Each change command through @nl must be EPERM: failures counted. */
static int changes_refused(struct sknl *nl, const char *who)
{
	struct sknl_err res;
	unsigned int i;
	int err, fails = 0;

	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		err = valid_change(nl, changes[i].cmd, &res);
		if (err != -EPERM) {
			printf("# %s %s: got %d (%s), want EPERM\n", who, changes[i].name,
			       err, strerror(-err));
			fails++;
		}
	}
	err = sknl_migrate_cancel(nl, 1, &res);
	if (err != -EPERM) {
		printf("# %s migrate-cancel: got %d, want EPERM\n", who, err);
		fails++;
	}
	return fails;
}

/* A tenant sets up its own node: listen, table, tablet, served. */
static int tenant_runs_own_node(struct sknl *own)
{
	struct sknl_err res;
	int err, fails = 0;

	err = sknl_node_set_mem_limit(own, 64ull << 20, &res);
	if (err) {
		printf("# tenant node-set: %s (%s)\n", strerror(-err), res.msg);
		fails++;
	}
	if (st_node_start(own, ST_PORT)) {
		printf("# tenant node start: %s\n", st_last_error);
		return fails + 1;
	}
	if (st_node_serves(ST_ADDR, ST_PORT, ST_TABLE)) {
		printf("# tenant's node does not serve: %s\n", st_last_error);
		fails++;
	}
	err = sknl_table_add(own, 77, &res);
	if (!err)
		err = sknl_table_del(own, 77, &res);
	if (err) {
		printf("# tenant table add/del: %s (%s)\n", strerror(-err), res.msg);
		fails++;
	}
	return fails;
}

/*
 * In a child, as uid 65534 without capabilities: @rootsock is a socket
 * the test (root) opened on this node before the fork.  The number of
 * failed checks (100: setup).
 */
static int tenant_checks(struct sknl *rootsock)
{
	struct sknl outer, own;
	int err, fails = 0;

	err = st_drop_privileges();
	if (!err)
		err = st_nl_open(&outer);	/* this node's namespace, as nobody */
	if (err) {
		printf("# setup: %s\n", strerror(-err));
		return 100;
	}
	err = enter_tenant();
	if (err) {
		printf("# unshare --user --map-root-user --net: %s\n", strerror(-err));
		return 100;
	}
	err = st_nl_open(&own);
	if (err) {
		printf("# tenant netlink socket: %s\n", strerror(-err));
		return 100;
	}
	fails += tenant_runs_own_node(&own);
	/* The other node, reachable only through sockets opened outside. */
	fails += changes_refused(&outer, "tenant via a socket opened as nobody");
	fails += changes_refused(rootsock, "tenant via root's socket");
	/*
	 * A tenant nested in this one, holding this tenant's socket (as a
	 * sibling handed the fd would): its root is not this one's admin.
	 */
	err = enter_tenant();
	if (err) {
		printf("# nested tenant: %s\n", strerror(-err));
		return fails + 1;
	}
	fails += changes_refused(&own, "another tenant via the first tenant's socket");
	sknl_close(&own);
	sknl_close(&outer);
	return fails;
}

TEST_F(node, userns_root_administers_only_its_own_node)
{
	struct sknl_tablet t[ST_MAX_DUMP];
	struct sknl_node a, b;
	uint64_t ids[ST_MAX_DUMP];
	int status, n;
	pid_t pid;

	ASSERT_EQ(0, sknl_node_get(&self->nl, &a, NULL));
	fflush(stdout);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(tenant_checks(&self->nl));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("%d tenant checks failed",
						 WEXITSTATUS(status));
	/* This node is as it was. */
	ASSERT_EQ(0, sknl_node_get(&self->nl, &b, NULL));
	EXPECT_EQ(a.val[STEADYKV_A_NODE_MEM_LIMIT], b.val[STEADYKV_A_NODE_MEM_LIMIT]);
	EXPECT_EQ(1, b.val[STEADYKV_A_NODE_LISTENING]);
	EXPECT_EQ(ST_PORT, b.val[STEADYKV_A_NODE_LISTEN_PORT]);
	n = st_nl_tables(&self->nl, ids, ST_MAX_DUMP);
	ASSERT_EQ(1, n);
	EXPECT_EQ(ST_TABLE, ids[0]);
	n = st_nl_tablets(&self->nl, t, ST_MAX_DUMP);
	ASSERT_EQ(1, n);
	EXPECT_EQ(0u, t[0].start_hash);
	EXPECT_EQ(UINT64_MAX, t[0].end_hash);
	EXPECT_EQ(STEADYKV_TABLET_STATE_NORMAL, t[0].state);
	ASSERT_SERVES(ST_PORT);
}

/* Events stay in their namespace: a listener elsewhere sees nothing. */
TEST_F(node, events_are_per_namespace)
{
	static struct ev_queue q;
	static struct sknl_event e;
	struct sknl_err res;
	struct sknl ev;
	int sv[2], status;
	pid_t pid;
	char c;

	/* A child in a fresh namespace subscribes, then we change this node. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int got;

		if (st_new_netns())
			_exit(2);
		if (st_nl_events_open(&ev, 2000))
			_exit(2);
		if (write(sv[1], "r", 1) != 1)
			_exit(2);
		got = read_event(&ev, &q, &e);
		_exit(got == 0 ? 1 : 0);	/* an event leaked in: fail */
	}
	ASSERT_EQ(1, read(sv[0], &c, 1));
	ASSERT_NL_OK(sknl_table_add(&self->nl, 4343, &res), &res);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", WEXITSTATUS(status) == 1 ?
			"another namespace saw this node's event" : "child setup failed");
}

TEST_HARNESS_MAIN
