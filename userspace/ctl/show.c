// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Printing nodes, tables and tablets from netlink attributes, shared by the
 * show/list commands and the monitor.  Text mirrors the command line; JSON
 * keys are the attribute names with '_' for '-'.  Hash bounds are printed
 * as 0x%016 strings in JSON so no reader rounds them through a double.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include <netlink/attr.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "nl.h"

static const struct nla_policy node_pol[STEADYKV_A_NODE_MAX + 1] = {
	[STEADYKV_A_NODE_LISTEN_ADDR] = { .type = NLA_UNSPEC, .minlen = 4, .maxlen = 16 },
	[STEADYKV_A_NODE_LISTEN_PORT] = { .type = NLA_U16 },
	[STEADYKV_A_NODE_LISTENING] = { .type = NLA_U8 },
	[STEADYKV_A_NODE_CONNECTIONS] = { .type = NLA_U32 },
	[STEADYKV_A_NODE_MAX_CONNECTIONS] = { .type = NLA_U32 },
	[STEADYKV_A_NODE_REQUESTS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_BAD_REQUESTS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_MEM_LIMIT] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_MEM_USED] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_LIVE_BYTES] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_SEGMENTS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_SEGMENT_SIZE] = { .type = NLA_U32 },
	[STEADYKV_A_NODE_OBJECTS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_TOMBSTONES] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_VERSION] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CLEANER_PASSES] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CLEANER_SEGMENTS_FREED] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CLEANER_BYTES_RELOCATED] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_TOMBSTONES_DROPPED] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_NO_SPACE_ERRORS] = { .type = NLA_U64 },
};

static const struct nla_policy table_pol[STEADYKV_A_TABLE_MAX + 1] = {
	[STEADYKV_A_TABLE_ID] = { .type = NLA_U64 },
};

static const struct nla_policy tablet_pol[STEADYKV_A_TABLET_MAX + 1] = {
	[STEADYKV_A_TABLET_TABLE_ID] = { .type = NLA_U64 },
	[STEADYKV_A_TABLET_START_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_TABLET_END_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_TABLET_STATE] = { .type = NLA_U32 },
};

const struct nla_policy *const node_policy = node_pol;
const struct nla_policy *const table_policy = table_pol;
const struct nla_policy *const tablet_policy = tablet_pol;

/* Node counters in display order; a group ends a text line. */
static const struct {
	int attr;
	const char *name;
	bool end_line;
} node_fields[] = {
	{ STEADYKV_A_NODE_CONNECTIONS, "connections", false },
	{ STEADYKV_A_NODE_MAX_CONNECTIONS, "max-connections", true },
	{ STEADYKV_A_NODE_REQUESTS, "requests", false },
	{ STEADYKV_A_NODE_BAD_REQUESTS, "bad-requests", true },
	{ STEADYKV_A_NODE_MEM_LIMIT, "mem-limit", false },
	{ STEADYKV_A_NODE_MEM_USED, "mem-used", false },
	{ STEADYKV_A_NODE_LIVE_BYTES, "live-bytes", true },
	{ STEADYKV_A_NODE_SEGMENTS, "segments", false },
	{ STEADYKV_A_NODE_SEGMENT_SIZE, "segment-size", true },
	{ STEADYKV_A_NODE_OBJECTS, "objects", false },
	{ STEADYKV_A_NODE_TOMBSTONES, "tombstones", false },
	{ STEADYKV_A_NODE_VERSION, "version", true },
	{ STEADYKV_A_NODE_CLEANER_PASSES, "cleaner-passes", false },
	{ STEADYKV_A_NODE_CLEANER_SEGMENTS_FREED, "cleaner-segments-freed", false },
	{ STEADYKV_A_NODE_CLEANER_BYTES_RELOCATED, "cleaner-bytes-relocated", false },
	{ STEADYKV_A_NODE_TOMBSTONES_DROPPED, "tombstones-dropped", true },
	{ STEADYKV_A_NODE_NO_SPACE_ERRORS, "no-space-errors", true },
};

/* An attribute of any integer width the policy allowed. */
static uint64_t get_uint(const struct nlattr *a)
{
	switch (nla_len(a)) {
	case 1: return nla_get_u8(a);
	case 2: return nla_get_u16(a);
	case 4: return nla_get_u32(a);
	default: return nla_get_u64(a);
	}
}

static void json_key_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
}

/* The listener address as text; "" if absent or malformed. */
static void listen_addr(struct nlattr **tb, char *buf, size_t len)
{
	struct nlattr *a = tb[STEADYKV_A_NODE_LISTEN_ADDR];

	buf[0] = 0;
	if (a && nla_len(a) == 4)
		inet_ntop(AF_INET, nla_data(a), buf, (socklen_t)len);
	else if (a && nla_len(a) == 16)
		inet_ntop(AF_INET6, nla_data(a), buf, (socklen_t)len);
}

void show_node(struct ctl *c, struct nlattr **tb, bool one_line)
{
	char addr[INET6_ADDRSTRLEN];
	const char *sep = "";

	listen_addr(tb, addr, sizeof(addr));
	if (c->json) {
		if (addr[0])
			json_kv_str(&c->j, "listen_addr", addr);
		if (tb[STEADYKV_A_NODE_LISTEN_PORT])
			json_kv_u64(&c->j, "listen_port",
				    nla_get_u16(tb[STEADYKV_A_NODE_LISTEN_PORT]));
		if (tb[STEADYKV_A_NODE_LISTENING])
			json_kv_bool(&c->j, "listening",
				     nla_get_u8(tb[STEADYKV_A_NODE_LISTENING]));
		for (size_t i = 0; i < sizeof(node_fields) / sizeof(node_fields[0]); i++) {
			char key[48];

			if (!tb[node_fields[i].attr])
				continue;
			json_key_of(key, sizeof(key), node_fields[i].name);
			json_kv_u64(&c->j, key, get_uint(tb[node_fields[i].attr]));
		}
		return;
	}

	if (addr[0]) {
		printf("listen-addr %s", addr);
		sep = " ";
	}
	if (tb[STEADYKV_A_NODE_LISTEN_PORT]) {
		printf("%slisten-port %u", sep, nla_get_u16(tb[STEADYKV_A_NODE_LISTEN_PORT]));
		sep = " ";
	}
	if (tb[STEADYKV_A_NODE_LISTENING]) {
		printf("%slistening %s", sep,
		       nla_get_u8(tb[STEADYKV_A_NODE_LISTENING]) ? "yes" : "no");
		sep = " ";
	}
	if (*sep && !one_line) {
		putchar('\n');
		sep = "";
	}
	for (size_t i = 0; i < sizeof(node_fields) / sizeof(node_fields[0]); i++) {
		if (tb[node_fields[i].attr]) {
			printf("%s%s %" PRIu64, sep, node_fields[i].name,
			       get_uint(tb[node_fields[i].attr]));
			sep = " ";
		}
		if (node_fields[i].end_line && *sep && !one_line) {
			putchar('\n');
			sep = "";
		}
	}
	if (one_line)
		putchar('\n');
}

void show_table(struct ctl *c, struct nlattr **tb)
{
	if (c->json) {
		if (tb[STEADYKV_A_TABLE_ID])
			json_kv_u64(&c->j, "id", nla_get_u64(tb[STEADYKV_A_TABLE_ID]));
		return;
	}
	if (tb[STEADYKV_A_TABLE_ID])
		printf("table %" PRIu64, nla_get_u64(tb[STEADYKV_A_TABLE_ID]));
	putchar('\n');
}

void show_tablet(struct ctl *c, struct nlattr **tb)
{
	struct nlattr *t = tb[STEADYKV_A_TABLET_TABLE_ID];
	struct nlattr *s = tb[STEADYKV_A_TABLET_START_HASH];
	struct nlattr *e = tb[STEADYKV_A_TABLET_END_HASH];
	struct nlattr *st = tb[STEADYKV_A_TABLET_STATE];

	if (c->json) {
		if (t)
			json_kv_u64(&c->j, "table_id", nla_get_u64(t));
		if (s)
			json_kv_hex64(&c->j, "start_hash", nla_get_u64(s));
		if (e)
			json_kv_hex64(&c->j, "end_hash", nla_get_u64(e));
		if (st)
			json_kv_str(&c->j, "state", sknl_state_name(nla_get_u32(st)));
		return;
	}
	if (t)
		printf("table %" PRIu64, nla_get_u64(t));
	if (s)
		printf(" start 0x%016" PRIx64, nla_get_u64(s));
	if (e)
		printf(" end 0x%016" PRIx64, nla_get_u64(e));
	if (st)
		printf(" state %s", sknl_state_name(nla_get_u32(st)));
	putchar('\n');
}
