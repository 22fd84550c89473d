// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libskvnl's names and its typed calls for the node, its listener, tables
 * and tablets (see sknl.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../common/mig_names.h"

#include "sknl.h"
#include "sknl_int.h"

/* ---- names ---- */

static const char *const cmd_names[] = {
	[STEADYKV_CMD_NODE_GET] = "node-get",
	[STEADYKV_CMD_NODE_SET] = "node-set",
	[STEADYKV_CMD_LISTEN_START] = "listen-start",
	[STEADYKV_CMD_LISTEN_STOP] = "listen-stop",
	[STEADYKV_CMD_TABLE_ADD] = "table-add",
	[STEADYKV_CMD_TABLE_DEL] = "table-del",
	[STEADYKV_CMD_TABLE_GET] = "table-get",
	[STEADYKV_CMD_TABLET_ADD] = "tablet-add",
	[STEADYKV_CMD_TABLET_DEL] = "tablet-del",
	[STEADYKV_CMD_TABLET_SET] = "tablet-set",
	[STEADYKV_CMD_TABLET_GET] = "tablet-get",
	[STEADYKV_CMD_MIGRATE_START] = "migrate-start",
	[STEADYKV_CMD_MIGRATE_CANCEL] = "migrate-cancel",
	[STEADYKV_CMD_MIGRATE_GET] = "migrate-get",
	[STEADYKV_CMD_MIGRATE_NTF] = "migrate-ntf",
	[STEADYKV_CMD_AUTH_SET] = "auth-set",
	[STEADYKV_CMD_CLIENT_KEY_ADD] = "client-key-add",
	[STEADYKV_CMD_CLIENT_KEY_DEL] = "client-key-del",
	[STEADYKV_CMD_CLIENT_KEY_GET] = "client-key-get",
	[STEADYKV_CMD_METRICS_GET] = "metrics-get",
	[STEADYKV_CMD_REPL_SET] = "repl-set",
	[STEADYKV_CMD_REPL_GET] = "repl-get",
	[STEADYKV_CMD_REPLICA_GET] = "replica-get",
	[STEADYKV_CMD_REPL_FENCE] = "repl-fence",
	[STEADYKV_CMD_REPL_RECOVER] = "repl-recover",
};

static const char *const node_attr_names[] = {
	[STEADYKV_A_NODE_PAD] = "pad",
	[STEADYKV_A_NODE_LISTEN_ADDR] = "listen-addr",
	[STEADYKV_A_NODE_LISTEN_PORT] = "listen-port",
	[STEADYKV_A_NODE_LISTENING] = "listening",
	[STEADYKV_A_NODE_CONNECTIONS] = "connections",
	[STEADYKV_A_NODE_MAX_CONNECTIONS] = "max-connections",
	[STEADYKV_A_NODE_REQUESTS] = "requests",
	[STEADYKV_A_NODE_BAD_REQUESTS] = "bad-requests",
	[STEADYKV_A_NODE_MEM_LIMIT] = "mem-limit",
	[STEADYKV_A_NODE_MEM_USED] = "mem-used",
	[STEADYKV_A_NODE_LIVE_BYTES] = "live-bytes",
	[STEADYKV_A_NODE_SEGMENTS] = "segments",
	[STEADYKV_A_NODE_SEGMENT_SIZE] = "segment-size",
	[STEADYKV_A_NODE_OBJECTS] = "objects",
	[STEADYKV_A_NODE_TOMBSTONES] = "tombstones",
	[STEADYKV_A_NODE_VERSION] = "version",
	[STEADYKV_A_NODE_CLEANER_PASSES] = "cleaner-passes",
	[STEADYKV_A_NODE_CLEANER_SEGMENTS_FREED] = "cleaner-segments-freed",
	[STEADYKV_A_NODE_CLEANER_BYTES_RELOCATED] = "cleaner-bytes-relocated",
	[STEADYKV_A_NODE_TOMBSTONES_DROPPED] = "tombstones-dropped",
	[STEADYKV_A_NODE_NO_SPACE_ERRORS] = "no-space-errors",
	[STEADYKV_A_NODE_AUTH_KEY] = "auth-key",
	[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS] = "auth-key-previous",
	[STEADYKV_A_NODE_AUTH_KEY_ID] = "auth-key-id",
	[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID] = "auth-key-previous-id",
	[STEADYKV_A_NODE_AUTH_INSECURE] = "auth-insecure",
	[STEADYKV_A_NODE_CONNS_ACCEPTED] = "conns-accepted",
	[STEADYKV_A_NODE_CONNS_REFUSED_FULL] = "conns-refused-full",
	[STEADYKV_A_NODE_CONNS_REFUSED_ADDR] = "conns-refused-addr",
	[STEADYKV_A_NODE_CONNS_REFUSED_SHARE] = "conns-refused-share",
	[STEADYKV_A_NODE_CONNS_CLOSED_IDLE] = "conns-closed-idle",
	[STEADYKV_A_NODE_CONNS_CLOSED_FRAME] = "conns-closed-frame",
	[STEADYKV_A_NODE_CONNS_CLOSED_REPLY] = "conns-closed-reply",
	[STEADYKV_A_NODE_MEM_LOG] = "mem-log",
	[STEADYKV_A_NODE_MEM_SIDE_LOGS] = "mem-side-logs",
	[STEADYKV_A_NODE_MEM_INDEX] = "mem-index",
	[STEADYKV_A_NODE_MEM_TABLETS] = "mem-tablets",
	[STEADYKV_A_NODE_MAX_TABLETS] = "max-tablets",
	[STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED] = "client-auth-required",
	[STEADYKV_A_NODE_CLIENT_KEYS] = "client-keys",
	[STEADYKV_A_NODE_EPOCH] = "epoch",
	[STEADYKV_A_NODE_MIG_FAULT_OP] = "mig-fault-op",
	[STEADYKV_A_NODE_MIG_FAULT_MODE] = "mig-fault-mode",
	[STEADYKV_A_NODE_MIG_FAULT_STATUS] = "mig-fault-status",
	[STEADYKV_A_NODE_MIG_FAULT_COUNT] = "mig-fault-count",
	[STEADYKV_A_NODE_MEM_REPLICAS] = "mem-replicas",
	[STEADYKV_A_NODE_INCARNATION] = "incarnation",
	[STEADYKV_A_NODE_CONN_BUFFERS] = "conn-buffers",
	[STEADYKV_A_NODE_CONNS_CLOSED_BUFFERS] = "conns-closed-buffers",
	[STEADYKV_A_NODE_PULL_BYTES_COPIED] = "pull-bytes-copied",
	[STEADYKV_A_NODE_PULL_BYTES_SPLICED] = "pull-bytes-spliced",
};

static const char *const table_attr_names[] = {
	[STEADYKV_A_TABLE_PAD] = "pad",
	[STEADYKV_A_TABLE_ID] = "id",
};

static const char *const tablet_attr_names[] = {
	[STEADYKV_A_TABLET_PAD] = "pad",
	[STEADYKV_A_TABLET_TABLE_ID] = "table-id",
	[STEADYKV_A_TABLET_START_HASH] = "start-hash",
	[STEADYKV_A_TABLET_END_HASH] = "end-hash",
	[STEADYKV_A_TABLET_STATE] = "state",
	[STEADYKV_A_TABLET_METRICS_REQUESTS] = "metrics-requests",
};

static const char *const mig_attr_names[] = {
	[STEADYKV_A_MIGRATION_PAD] = "pad",
	[STEADYKV_A_MIGRATION_ID] = "id",
	[STEADYKV_A_MIGRATION_TABLE_ID] = "table-id",
	[STEADYKV_A_MIGRATION_START_HASH] = "start-hash",
	[STEADYKV_A_MIGRATION_END_HASH] = "end-hash",
	[STEADYKV_A_MIGRATION_SOURCE_ADDR] = "source-addr",
	[STEADYKV_A_MIGRATION_SOURCE_PORT] = "source-port",
	[STEADYKV_A_MIGRATION_MODE] = "mode",
	[STEADYKV_A_MIGRATION_PARTITIONS] = "partitions",
	[STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT] = "pulls-in-flight",
	[STEADYKV_A_MIGRATION_PULL_BUDGET] = "pull-budget",
	[STEADYKV_A_MIGRATION_PRIORITY_PULLS] = "priority-pulls",
	[STEADYKV_A_MIGRATION_STATE] = "state",
	[STEADYKV_A_MIGRATION_ERROR] = "error",
	[STEADYKV_A_MIGRATION_ERROR_MSG] = "error-msg",
	[STEADYKV_A_MIGRATION_SAFE_VERSION] = "safe-version",
	[STEADYKV_A_MIGRATION_ELAPSED_US] = "elapsed-us",
	[STEADYKV_A_MIGRATION_PROGRESS_PERMILLE] = "progress-permille",
	[STEADYKV_A_MIGRATION_BYTES_PULLED] = "bytes-pulled",
	[STEADYKV_A_MIGRATION_RECORDS_PULLED] = "records-pulled",
	[STEADYKV_A_MIGRATION_RECORDS_REPLAYED] = "records-replayed",
	[STEADYKV_A_MIGRATION_RECORDS_SKIPPED] = "records-skipped",
	[STEADYKV_A_MIGRATION_PULLS] = "pulls",
	[STEADYKV_A_MIGRATION_PRIORITY_PULLS_SENT] = "priority-pulls-sent",
	[STEADYKV_A_MIGRATION_PRIORITY_KEYS] = "priority-keys",
	[STEADYKV_A_MIGRATION_PARTITIONS_DONE] = "partitions-done",
	[STEADYKV_A_MIGRATION_OWNED_US] = "owned-us",
	[STEADYKV_A_MIGRATION_METRICS_CLIENT_RETRIES] = "metrics-client-retries",
	[STEADYKV_A_MIGRATION_PACE_DEPTH] = "pace-depth",
	[STEADYKV_A_MIGRATION_PACE_CLIENT_P999_US] = "pace-client-p999-us",
	[STEADYKV_A_MIGRATION_PACE_PULL_BYTES] = "pace-pull-bytes",
};

static const char *const state_names[] = {
	[STEADYKV_TABLET_STATE_NORMAL] = "normal",
	[STEADYKV_TABLET_STATE_MIGRATING_IN] = "migrating-in",
	[STEADYKV_TABLET_STATE_MIGRATING_OUT] = "migrating-out",
	[STEADYKV_TABLET_STATE_RECOVERING] = "recovering",
};

const char *sknl_cmd_name(uint8_t cmd)
{
	return cmd < ARRAY_SIZE(cmd_names) && cmd_names[cmd] ? cmd_names[cmd] : "unknown";
}

const char *sknl_state_name(uint32_t state)
{
	return state < ARRAY_SIZE(state_names) ? state_names[state] : "unknown";
}

int sknl_state_parse(const char *s, uint32_t *state)
{
	for (uint32_t i = 0; i < ARRAY_SIZE(state_names); i++) {
		if (!strcmp(s, state_names[i])) {
			*state = i;
			return 0;
		}
	}
	return -1;
}

int sknl_mig_mode_parse(const char *s, uint32_t *mode)
{
	const char *name;

	for (uint32_t i = 0; (name = skv_mig_mode_name(i)); i++) {
		if (!strcmp(s, name)) {
			*mode = i;
			return 0;
		}
	}
	return -1;
}

const char *sknl_mig_attr_name(int type)
{
	return type > 0 && (size_t)type < ARRAY_SIZE(mig_attr_names) ? mig_attr_names[type]
								     : NULL;
}

enum sknl_obj_kind sknl_cmd_kind(uint8_t cmd)
{
	/* Client key changes announce the node (its client-keys count). */
	if (cmd <= STEADYKV_CMD_LISTEN_STOP || cmd == STEADYKV_CMD_AUTH_SET ||
	    cmd == STEADYKV_CMD_CLIENT_KEY_ADD || cmd == STEADYKV_CMD_CLIENT_KEY_DEL)
		return SKNL_OBJ_NODE;
	if (cmd <= STEADYKV_CMD_TABLE_GET)
		return SKNL_OBJ_TABLE;
	if (cmd <= STEADYKV_CMD_TABLET_GET)
		return SKNL_OBJ_TABLET;
	return SKNL_OBJ_MIGRATION;
}

const char *sknl_attr_name(uint8_t cmd, int type)
{
	static const struct {
		const char *const *names;
		size_t n;
	} sets[] = {
		[SKNL_OBJ_NODE] = { node_attr_names, ARRAY_SIZE(node_attr_names) },
		[SKNL_OBJ_TABLE] = { table_attr_names, ARRAY_SIZE(table_attr_names) },
		[SKNL_OBJ_TABLET] = { tablet_attr_names, ARRAY_SIZE(tablet_attr_names) },
		[SKNL_OBJ_MIGRATION] = { mig_attr_names, ARRAY_SIZE(mig_attr_names) },
	};
	enum sknl_obj_kind k = sknl_cmd_kind(cmd);

	return type > 0 && (size_t)type < sets[k].n && sets[k].names[type] ?
	       sets[k].names[type] : NULL;
}


/* ---- addresses ---- */

int sknl_addr_parse(const char *s, uint8_t addr[16], int *alen)
{
	char buf[64];
	size_t n = strlen(s);

	if (inet_pton(AF_INET, s, addr) == 1) {
		*alen = 4;
		return 0;
	}
	if (n > 2 && n < sizeof(buf) && s[0] == '[' && s[n - 1] == ']') {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = 0;
		s = buf;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*alen = 16;
		return 0;
	}
	return -1;
}

int sknl_addr_resolve(const char *host, uint8_t addr[16], int *alen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc = -1;

	if (!host[0] || getaddrinfo(host, NULL, &hints, &res) || !res)
		return -1;
	if (res->ai_family == AF_INET &&
	    res->ai_addrlen >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
		*alen = 4;
		rc = 0;
	} else if (res->ai_family == AF_INET6 &&
		   res->ai_addrlen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
		*alen = 16;
		rc = 0;
	}
	freeaddrinfo(res);
	return rc;
}

/* ---- node and listener ---- */

static const struct nla_policy node_policy[STEADYKV_A_NODE_MAX + 1] = {
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
	[STEADYKV_A_NODE_AUTH_KEY_ID] = { .type = NLA_U32 },
	[STEADYKV_A_NODE_AUTH_KEY_PREVIOUS_ID] = { .type = NLA_U32 },
	[STEADYKV_A_NODE_AUTH_INSECURE] = { .type = NLA_U8 },
	[STEADYKV_A_NODE_CONNS_ACCEPTED] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CONNS_REFUSED_FULL] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CONNS_REFUSED_ADDR] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CONNS_REFUSED_SHARE] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CONNS_CLOSED_IDLE] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CONNS_CLOSED_FRAME] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CONNS_CLOSED_REPLY] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_MEM_LOG] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_MEM_SIDE_LOGS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_MEM_INDEX] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_MEM_TABLETS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_MAX_TABLETS] = { .type = NLA_U32 },
	[STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED] = { .type = NLA_U8 },
	[STEADYKV_A_NODE_CLIENT_KEYS] = { .type = NLA_U32 },
	[STEADYKV_A_NODE_EPOCH] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_MEM_REPLICAS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_INCARNATION] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CONN_BUFFERS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_CONNS_CLOSED_BUFFERS] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_PULL_BYTES_COPIED] = { .type = NLA_U64 },
	[STEADYKV_A_NODE_PULL_BYTES_SPLICED] = { .type = NLA_U64 },
};

/* An integer attribute of any width the policy allowed. */
static uint64_t get_uint(const struct nlattr *a)
{
	switch (nla_len(a)) {
	case 1: return nla_get_u8(a);
	case 2: return nla_get_u16(a);
	case 4: return nla_get_u32(a);
	default: return nla_get_u64(a);
	}
}

int sknl_node_parse(struct nl_msg *msg, struct sknl_node *node)
{
	struct nlattr *tb[STEADYKV_A_NODE_MAX + 1];

	memset(node, 0, sizeof(*node));
	if (sknl_parse(msg, tb, STEADYKV_A_NODE_MAX, node_policy))
		return -1;
	for (int i = STEADYKV_A_NODE_LISTEN_ADDR; i <= STEADYKV_A_NODE_MAX; i++) {
		if (!tb[i])
			continue;
		node->present |= 1ull << i;
		if (i != STEADYKV_A_NODE_LISTEN_ADDR)
			node->val[i] = get_uint(tb[i]);
	}
	if (tb[STEADYKV_A_NODE_LISTEN_ADDR]) {
		int len = nla_len(tb[STEADYKV_A_NODE_LISTEN_ADDR]);

		if (len != 4 && len != 16)
			return -1;
		memcpy(node->listen_addr, nla_data(tb[STEADYKV_A_NODE_LISTEN_ADDR]), (size_t)len);
		node->listen_addr_len = len;
	}
	return 0;
}

int sknl_node_get(struct sknl *nl, struct sknl_node *node, struct sknl_err *err)
{
	struct sknl_replies r = { 0 };
	int rc = sknl_do(nl, STEADYKV_CMD_NODE_GET, 0, NULL, NULL, &r, err);

	memset(node, 0, sizeof(*node));
	if (!rc)
		rc = sknl_one_reply(&r, "node-get", err);
	if (!rc && sknl_node_parse(r.msgs[0], node))
		rc = sknl_err_local(err, EPROTO, "malformed node-get reply");
	sknl_replies_free(&r);
	return rc;
}

static int fill_mem_limit(struct nl_msg *msg, const void *a)
{
	return nla_put_u64(msg, STEADYKV_A_NODE_MEM_LIMIT, *(const uint64_t *)a);
}

int sknl_node_set_mem_limit(struct sknl *nl, uint64_t bytes, struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_NODE_SET, 0, fill_mem_limit, &bytes, NULL, err);
}

static int fill_epoch(struct nl_msg *msg, const void *a)
{
	return nla_put_u64(msg, STEADYKV_A_NODE_EPOCH, *(const uint64_t *)a);
}

int sknl_node_learn_epoch(struct sknl *nl, uint64_t epoch, struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_NODE_SET, 0, fill_epoch, &epoch, NULL, err);
}

static int fill_mig_fault(struct nl_msg *msg, const void *a)
{
	const struct sknl_mig_fault *f = a;

	return nla_put_u32(msg, STEADYKV_A_NODE_MIG_FAULT_MODE, f->mode) ||
	       nla_put_u32(msg, STEADYKV_A_NODE_MIG_FAULT_OP, f->op) ||
	       nla_put_u32(msg, STEADYKV_A_NODE_MIG_FAULT_STATUS, f->status) ||
	       nla_put_u32(msg, STEADYKV_A_NODE_MIG_FAULT_COUNT, f->count);
}

int sknl_node_set_mig_fault(struct sknl *nl, const struct sknl_mig_fault *f,
			    struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_NODE_SET, 0, fill_mig_fault, f, NULL, err);
}

static int fill_auth(struct nl_msg *msg, const void *a)
{
	const struct sknl_auth *auth = a;

	if (auth->cur_len &&
	    nla_put(msg, STEADYKV_A_NODE_AUTH_KEY, (int)auth->cur_len, auth->cur))
		return -1;
	if (auth->prev_len &&
	    nla_put(msg, STEADYKV_A_NODE_AUTH_KEY_PREVIOUS, (int)auth->prev_len, auth->prev))
		return -1;
	if (auth->insecure >= 0 &&
	    nla_put_u8(msg, STEADYKV_A_NODE_AUTH_INSECURE, (uint8_t)auth->insecure))
		return -1;
	return 0;
}

int sknl_auth_set(struct sknl *nl, const struct sknl_auth *auth, struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_AUTH_SET, 0, fill_auth, auth, NULL, err);
}

struct listen_args {
	const uint8_t *addr;
	int alen;
	uint16_t port;
};

static int fill_listen(struct nl_msg *msg, const void *a)
{
	const struct listen_args *l = a;

	return nla_put(msg, STEADYKV_A_NODE_LISTEN_ADDR, l->alen, l->addr) ||
	       nla_put_u16(msg, STEADYKV_A_NODE_LISTEN_PORT, l->port);
}

int sknl_listen_start(struct sknl *nl, const uint8_t *addr, int alen, uint16_t port,
		      struct sknl_err *err)
{
	struct listen_args l = { addr, alen, port };

	return sknl_do(nl, STEADYKV_CMD_LISTEN_START, 0, fill_listen, &l, NULL, err);
}

int sknl_listen_stop(struct sknl *nl, struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_LISTEN_STOP, 0, NULL, NULL, NULL, err);
}

/* ---- tables and tablets ---- */

static const struct nla_policy table_policy[STEADYKV_A_TABLE_MAX + 1] = {
	[STEADYKV_A_TABLE_ID] = { .type = NLA_U64 },
};

static const struct nla_policy tablet_policy[STEADYKV_A_TABLET_MAX + 1] = {
	[STEADYKV_A_TABLET_TABLE_ID] = { .type = NLA_U64 },
	[STEADYKV_A_TABLET_START_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_TABLET_END_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_TABLET_STATE] = { .type = NLA_U32 },
	[STEADYKV_A_TABLET_METRICS_REQUESTS] = { .type = NLA_U64 },
};

int sknl_table_parse(struct nl_msg *msg, struct sknl_table *t)
{
	struct nlattr *tb[STEADYKV_A_TABLE_MAX + 1];

	memset(t, 0, sizeof(*t));
	if (sknl_parse(msg, tb, STEADYKV_A_TABLE_MAX, table_policy))
		return -1;
	if (tb[STEADYKV_A_TABLE_ID]) {
		t->id = nla_get_u64(tb[STEADYKV_A_TABLE_ID]);
		t->present |= 1ull << STEADYKV_A_TABLE_ID;
	}
	return 0;
}

int sknl_tablet_parse(struct nl_msg *msg, struct sknl_tablet *t)
{
	struct nlattr *tb[STEADYKV_A_TABLET_MAX + 1];
	static const struct {
		int attr;
		size_t off;
	} u64s[] = {
		{ STEADYKV_A_TABLET_TABLE_ID, offsetof(struct sknl_tablet, table_id) },
		{ STEADYKV_A_TABLET_START_HASH, offsetof(struct sknl_tablet, start_hash) },
		{ STEADYKV_A_TABLET_END_HASH, offsetof(struct sknl_tablet, end_hash) },
		{ STEADYKV_A_TABLET_METRICS_REQUESTS, offsetof(struct sknl_tablet, requests) },
	};

	memset(t, 0, sizeof(*t));
	if (sknl_parse(msg, tb, STEADYKV_A_TABLET_MAX, tablet_policy))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(u64s); i++) {
		if (!tb[u64s[i].attr])
			continue;
		*(uint64_t *)((char *)t + u64s[i].off) = nla_get_u64(tb[u64s[i].attr]);
		t->present |= 1ull << u64s[i].attr;
	}
	if (tb[STEADYKV_A_TABLET_STATE]) {
		t->state = nla_get_u32(tb[STEADYKV_A_TABLET_STATE]);
		t->present |= 1ull << STEADYKV_A_TABLET_STATE;
	}
	return 0;
}

static int fill_table(struct nl_msg *msg, const void *a)
{
	return nla_put_u64(msg, STEADYKV_A_TABLE_ID, *(const uint64_t *)a);
}

int sknl_table_add(struct sknl *nl, uint64_t id, struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_TABLE_ADD, 0, fill_table, &id, NULL, err);
}

int sknl_table_del(struct sknl *nl, uint64_t id, struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_TABLE_DEL, 0, fill_table, &id, NULL, err);
}

int sknl_dump(struct sknl *nl, uint8_t cmd, size_t size,
	      int (*parse)(struct nl_msg *msg, void *obj), void **out, size_t *count,
	      struct sknl_err *err)
{
	struct sknl_replies r = { 0 };
	char *v;
	size_t n;
	int rc;

	*out = NULL;
	*count = 0;
	rc = sknl_do(nl, cmd, NLM_F_DUMP, NULL, NULL, &r, err);
	if (rc || !r.count) {
		sknl_replies_free(&r);
		return rc;
	}
	v = calloc(r.count, size);
	if (!v) {
		sknl_replies_free(&r);
		return sknl_err_local(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < r.count; i++) {
		if (parse(r.msgs[i], v + i * size)) {
			rc = sknl_err_local(err, EPROTO, "malformed %s entry", sknl_cmd_name(cmd));
			break;
		}
	}
	n = r.count;
	sknl_replies_free(&r);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*count = n;
	return 0;
}

static int parse_table(struct nl_msg *msg, void *obj)
{
	return sknl_table_parse(msg, obj);
}

static int parse_tablet(struct nl_msg *msg, void *obj)
{
	return sknl_tablet_parse(msg, obj);
}

int sknl_table_dump(struct sknl *nl, struct sknl_table **out, size_t *count,
		    struct sknl_err *err)
{
	return sknl_dump(nl, STEADYKV_CMD_TABLE_GET, sizeof(**out), parse_table, (void **)out, count,
		    err);
}

int sknl_tablet_dump(struct sknl *nl, struct sknl_tablet **out, size_t *count,
		     struct sknl_err *err)
{
	return sknl_dump(nl, STEADYKV_CMD_TABLET_GET, sizeof(**out), parse_tablet, (void **)out,
		    count, err);
}

struct tablet_args {
	uint64_t table, start, end;
	bool has_state;
	uint32_t state;
};

static int fill_tablet(struct nl_msg *msg, const void *a)
{
	const struct tablet_args *t = a;

	return nla_put_u64(msg, STEADYKV_A_TABLET_TABLE_ID, t->table) ||
	       nla_put_u64(msg, STEADYKV_A_TABLET_START_HASH, t->start) ||
	       nla_put_u64(msg, STEADYKV_A_TABLET_END_HASH, t->end) ||
	       (t->has_state && nla_put_u32(msg, STEADYKV_A_TABLET_STATE, t->state));
}

int sknl_tablet_add(struct sknl *nl, uint64_t table, uint64_t start, uint64_t end,
		    int state, struct sknl_err *err)
{
	struct tablet_args t = { table, start, end, state >= 0, (uint32_t)state };

	return sknl_do(nl, STEADYKV_CMD_TABLET_ADD, 0, fill_tablet, &t, NULL, err);
}

int sknl_tablet_del(struct sknl *nl, uint64_t table, uint64_t start, uint64_t end,
		    struct sknl_err *err)
{
	struct tablet_args t = { table, start, end, false, 0 };

	return sknl_do(nl, STEADYKV_CMD_TABLET_DEL, 0, fill_tablet, &t, NULL, err);
}

int sknl_tablet_set(struct sknl *nl, uint64_t table, uint64_t start, uint64_t end,
		    uint32_t state, struct sknl_err *err)
{
	struct tablet_args t = { table, start, end, true, state };

	return sknl_do(nl, STEADYKV_CMD_TABLET_SET, 0, fill_tablet, &t, NULL, err);
}
