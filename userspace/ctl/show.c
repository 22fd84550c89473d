// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Printing nodes, tables and tablets as libskvnl parsed them, shared by the
 * show/list commands and the monitor.  Text mirrors the command line; JSON
 * keys are the attribute names with '_' for '-'.  Hash bounds are printed
 * as 0x%016 strings in JSON so no reader rounds them through a double.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"

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
	{ STEADYKV_A_NODE_MEM_LOG, "mem-log", false },
	{ STEADYKV_A_NODE_MEM_SIDE_LOGS, "mem-side-logs", false },
	{ STEADYKV_A_NODE_MEM_INDEX, "mem-index", false },
	{ STEADYKV_A_NODE_MEM_TABLETS, "mem-tablets", false },
	{ STEADYKV_A_NODE_MEM_REPLICAS, "mem-replicas", true },
	{ STEADYKV_A_NODE_MAX_TABLETS, "max-tablets", true },
	{ STEADYKV_A_NODE_CONNS_ACCEPTED, "conns-accepted", false },
	{ STEADYKV_A_NODE_CONNS_REFUSED_FULL, "conns-refused-full", false },
	{ STEADYKV_A_NODE_CONNS_REFUSED_ADDR, "conns-refused-addr", false },
	{ STEADYKV_A_NODE_CONNS_REFUSED_SHARE, "conns-refused-share", true },
	{ STEADYKV_A_NODE_CONNS_CLOSED_IDLE, "conns-closed-idle", false },
	{ STEADYKV_A_NODE_CONNS_CLOSED_FRAME, "conns-closed-frame", false },
	{ STEADYKV_A_NODE_CONNS_CLOSED_REPLY, "conns-closed-reply", true },
	{ STEADYKV_A_NODE_CONN_BUFFERS, "conn-buffers", false },
	{ STEADYKV_A_NODE_CONNS_CLOSED_BUFFERS, "conns-closed-buffers", true },
	{ STEADYKV_A_NODE_PULL_BYTES_COPIED, "pull-bytes-copied", false },
	{ STEADYKV_A_NODE_PULL_BYTES_SPLICED, "pull-bytes-spliced", true },
};

static void json_key_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
}

/* The listener address as text; "" if absent. */
static void listen_addr(const struct sknl_node *n, char *buf, size_t len)
{
	buf[0] = 0;
	if (n->listen_addr_len)
		inet_ntop(n->listen_addr_len == 4 ? AF_INET : AF_INET6, n->listen_addr, buf,
			  (socklen_t)len);
}

/* The cluster keys by id (never a secret), insecure mode and client keys, on a line. */
static void show_node_auth(const struct sknl_node *n, const char *sep, bool one_line)
{
	if (!SKNL_NODE_HAS(n, STEADYKV_A_NODE_AUTH_INSECURE))
		return;
	printf("%sauth-insecure %s", sep,
	       n->val[STEADYKV_A_NODE_AUTH_INSECURE] ? "yes" : "no");
	if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_AUTH_KEY_ID))
		printf(" auth-key-id 0x%08" PRIx64, n->val[STEADYKV_A_NODE_AUTH_KEY_ID]);
	else
		printf(" auth-key-id none");
	if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID))
		printf(" auth-key-previous-id 0x%08" PRIx64,
		       n->val[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID]);
	if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED))
		printf(" client-auth-required %s client-keys %" PRIu64,
		       n->val[STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED] ? "yes" : "no",
		       n->val[STEADYKV_A_NODE_CLIENT_KEYS]);
	if (!one_line)
		putchar('\n');
}

void show_node(struct ctl *c, const struct sknl_node *n, bool one_line)
{
	char addr[INET6_ADDRSTRLEN];
	const char *sep = "";

	listen_addr(n, addr, sizeof(addr));
	if (c->json) {
		if (addr[0])
			json_kv_str(&c->j, "listen_addr", addr);
		if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_LISTEN_PORT))
			json_kv_u64(&c->j, "listen_port", n->val[STEADYKV_A_NODE_LISTEN_PORT]);
		if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_LISTENING))
			json_kv_bool(&c->j, "listening", n->val[STEADYKV_A_NODE_LISTENING]);
		for (size_t i = 0; i < sizeof(node_fields) / sizeof(node_fields[0]); i++) {
			char key[48];

			if (!SKNL_NODE_HAS(n, node_fields[i].attr))
				continue;
			json_key_of(key, sizeof(key), node_fields[i].name);
			json_kv_u64(&c->j, key, n->val[node_fields[i].attr]);
		}
		if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_AUTH_INSECURE))
			json_kv_bool(&c->j, "auth_insecure", n->val[STEADYKV_A_NODE_AUTH_INSECURE]);
		if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_AUTH_KEY_ID))
			json_kv_u64(&c->j, "auth_key_id", n->val[STEADYKV_A_NODE_AUTH_KEY_ID]);
		if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID))
			json_kv_u64(&c->j, "auth_key_previous_id",
				    n->val[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID]);
		if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED))
			json_kv_bool(&c->j, "client_auth_required",
				     n->val[STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED]);
		if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_CLIENT_KEYS))
			json_kv_u64(&c->j, "client_keys", n->val[STEADYKV_A_NODE_CLIENT_KEYS]);
		return;
	}

	if (addr[0]) {
		printf("listen-addr %s", addr);
		sep = " ";
	}
	if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_LISTEN_PORT)) {
		printf("%slisten-port %" PRIu64, sep, n->val[STEADYKV_A_NODE_LISTEN_PORT]);
		sep = " ";
	}
	if (SKNL_NODE_HAS(n, STEADYKV_A_NODE_LISTENING)) {
		printf("%slistening %s", sep, n->val[STEADYKV_A_NODE_LISTENING] ? "yes" : "no");
		sep = " ";
	}
	if (*sep && !one_line) {
		putchar('\n');
		sep = "";
	}
	for (size_t i = 0; i < sizeof(node_fields) / sizeof(node_fields[0]); i++) {
		if (SKNL_NODE_HAS(n, node_fields[i].attr)) {
			printf("%s%s %" PRIu64, sep, node_fields[i].name, n->val[node_fields[i].attr]);
			sep = " ";
		}
		if (node_fields[i].end_line && *sep && !one_line) {
			putchar('\n');
			sep = "";
		}
	}
	show_node_auth(n, sep, one_line);
	if (one_line)
		putchar('\n');
}

void show_table(struct ctl *c, const struct sknl_table *t)
{
	bool has_id = (t->present >> STEADYKV_A_TABLE_ID) & 1;

	if (c->json) {
		if (has_id)
			json_kv_u64(&c->j, "id", t->id);
		return;
	}
	if (has_id)
		printf("table %" PRIu64, t->id);
	putchar('\n');
}

void show_tablet(struct ctl *c, const struct sknl_tablet *t)
{
	bool has_t = SKNL_TABLET_HAS(t, STEADYKV_A_TABLET_TABLE_ID);
	bool has_s = SKNL_TABLET_HAS(t, STEADYKV_A_TABLET_START_HASH);
	bool has_e = SKNL_TABLET_HAS(t, STEADYKV_A_TABLET_END_HASH);
	bool has_st = SKNL_TABLET_HAS(t, STEADYKV_A_TABLET_STATE);

	if (c->json) {
		if (has_t)
			json_kv_u64(&c->j, "table_id", t->table_id);
		if (has_s)
			json_kv_hex64(&c->j, "start_hash", t->start_hash);
		if (has_e)
			json_kv_hex64(&c->j, "end_hash", t->end_hash);
		if (has_st)
			json_kv_str(&c->j, "state", sknl_state_name(t->state));
		return;
	}
	if (has_t)
		printf("table %" PRIu64, t->table_id);
	if (has_s)
		printf(" start 0x%016" PRIx64, t->start_hash);
	if (has_e)
		printf(" end 0x%016" PRIx64, t->end_hash);
	if (has_st)
		printf(" state %s", sknl_state_name(t->state));
	putchar('\n');
}
