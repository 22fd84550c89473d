// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_netlink: random requests to the steadykv generic netlink family, in
 * a private network namespace with a node running.
 *
 *   fuzz_netlink [MESSAGES [SEED]]     (defaults: $FUZZ_NL_MSGS or 20000,
 *                                       $FUZZ_SEED or 20261202)
 *
 * Every command of the family (and unknown ones), as a do and as a dump,
 * with each of its attributes left out, well-typed with a boundary or
 * random value, wrongly sized, oversized, duplicated, flagged nested or
 * malformed (an nla_len that overruns the message), plus attributes of
 * unknown types and, now and then, a genl header cut short.  The first
 * pass runs as root, the second (a third of the messages) as uid 65534
 * with no capabilities.
 *
 * Checked: every request is answered (an ack with 0 or an errno, or a
 * dump's end) within the socket timeout; unprivileged, every command that
 * changes the node is refused with EPERM; afterwards the node still serves
 * (listening again on its port, a write reads back), and the control keys
 * written before the fuzzing (table 1, which no request names) read back
 * intact.  selftests/run.sh checks the kernel log after this program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlink/genl/genl.h>

#include "skv_util.h"
#include "fuzz_util.h"

#define CTRL_KEYS	64
#define DEFAULT_MSGS	20000
#define DEFAULT_SEED	20261202ull
/* Migration ids the fuzzing uses (cancelled at the end). */
#define MAX_MIG_ID	16

/* The attributes a command takes and their sizes (0: binary, any size). */
struct attr_spec {
	int type;
	int size;
};

struct cmd_spec {
	int cmd;
	bool admin;		/* GENL_ADMIN_PERM */
	struct attr_spec attrs[12];
};

#define A(t, s) { STEADYKV_A_##t, s }
static const struct cmd_spec cmds[] = {
	{ STEADYKV_CMD_NODE_GET, false, { { 0 } } },
	{ STEADYKV_CMD_NODE_SET, true, { A(NODE_MEM_LIMIT, 8), A(NODE_EPOCH, 8) } },
	{ STEADYKV_CMD_LISTEN_START, true, { A(NODE_LISTEN_ADDR, 0), A(NODE_LISTEN_PORT, 2) } },
	{ STEADYKV_CMD_LISTEN_STOP, true, { { 0 } } },
	{ STEADYKV_CMD_TABLE_ADD, true, { A(TABLE_ID, 8) } },
	{ STEADYKV_CMD_TABLE_DEL, true, { A(TABLE_ID, 8) } },
	{ STEADYKV_CMD_TABLE_GET, false, { { 0 } } },
	{ STEADYKV_CMD_TABLET_ADD, true, { A(TABLET_TABLE_ID, 8), A(TABLET_START_HASH, 8),
					   A(TABLET_END_HASH, 8), A(TABLET_STATE, 4) } },
	{ STEADYKV_CMD_TABLET_DEL, true, { A(TABLET_TABLE_ID, 8), A(TABLET_START_HASH, 8),
					   A(TABLET_END_HASH, 8) } },
	{ STEADYKV_CMD_TABLET_SET, true, { A(TABLET_TABLE_ID, 8), A(TABLET_START_HASH, 8),
					   A(TABLET_END_HASH, 8), A(TABLET_STATE, 4) } },
	{ STEADYKV_CMD_TABLET_GET, false, { { 0 } } },
	{ STEADYKV_CMD_MIGRATE_START, true, {
		A(MIGRATION_ID, 8), A(MIGRATION_TABLE_ID, 8), A(MIGRATION_START_HASH, 8),
		A(MIGRATION_END_HASH, 8), A(MIGRATION_SOURCE_ADDR, 0),
		A(MIGRATION_SOURCE_PORT, 2), A(MIGRATION_MODE, 4), A(MIGRATION_PARTITIONS, 4),
		A(MIGRATION_PULLS_IN_FLIGHT, 4), A(MIGRATION_PULL_BUDGET, 4),
		A(MIGRATION_PRIORITY_PULLS, 1) } },
	{ STEADYKV_CMD_MIGRATE_CANCEL, true, { A(MIGRATION_ID, 8) } },
	{ STEADYKV_CMD_MIGRATE_GET, false, { A(MIGRATION_ID, 8) } },
	{ STEADYKV_CMD_MIGRATE_NTF, false, { A(MIGRATION_ID, 8) } },
	{ STEADYKV_CMD_AUTH_SET, true, { A(NODE_AUTH_KEY, 0), A(NODE_AUTH_KEY_PREVIOUS, 0),
					 A(NODE_AUTH_INSECURE, 1) } },
	{ STEADYKV_CMD_MIGRATE_DECIDE, true, { A(MIGRATION_ID, 8),
					       A(MIGRATION_DECISION_ABORT, 1) } },
	/* Unknown commands. */
	{ 0, false, { { 0 } } },
	{ STEADYKV_CMD_MAX + 1, false, { { 0 } } },
	{ 200, false, { { 0 } } },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static bool is_table_attr(int cmd, int type)
{
	switch (cmd) {
	case STEADYKV_CMD_TABLE_ADD:
	case STEADYKV_CMD_TABLE_DEL:
		return type == STEADYKV_A_TABLE_ID;
	case STEADYKV_CMD_TABLET_ADD:
	case STEADYKV_CMD_TABLET_DEL:
	case STEADYKV_CMD_TABLET_SET:
		return type == STEADYKV_A_TABLET_TABLE_ID;
	case STEADYKV_CMD_MIGRATE_START:
		return type == STEADYKV_A_MIGRATION_TABLE_ID;
	}
	return false;
}

/*
 * A well-typed value of size bytes.  Table ids never name table 1 (the
 * control keys' table); migration ids stay small so cancels find them.
 */
static void good_value(int cmd, int type, uint8_t *v, int size)
{
	static const uint64_t edges[] = { 0, 1, 2, 0x7fffffffffffffffull, 1ull << 63,
					  UINT64_MAX, 1024, 65535, 7000 };
	uint64_t x = below(2) ? rnd() : edges[below(sizeof(edges) / sizeof(edges[0]))];

	if (is_table_attr(cmd, type))
		x = below(3) ? 2 + below(3) : (1ull << 32) + below(100);
	else if (type == STEADYKV_A_MIGRATION_ID && cmd >= STEADYKV_CMD_MIGRATE_START)
		x = below(8) ? 1 + below(MAX_MIG_ID) : x;
	else if (cmd == STEADYKV_CMD_NODE_SET)
		x = below(2) ? 0 : below(1ull << 34);
	memcpy(v, &x, size);
}

/* An address attribute: IPv4, IPv6, or a wrong length. */
static int addr_value(uint8_t *v)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 1 };
	int len;

	switch (below(4)) {
	case 0:
		memcpy(v, lo4, 4);
		v[3] = 1 + below(3);
		return 4;
	case 1:
		memset(v, 0, 16);
		v[15] = 1;
		return 16;
	default:
		len = below(40);
		for (int i = 0; i < len; i++)
			v[i] = rnd();
		return len;
	}
}

static unsigned long n_msgs, n_answered, n_ok, n_eperm;

/* Append one attribute of the command in a random shape. */
static void put_attr(struct nl_msg *m, int cmd, const struct attr_spec *a)
{
	static uint8_t big[4096];
	uint8_t v[64];
	int len, i, type = a->type;

	switch (below(10)) {
	case 0:
		return;			/* missing */
	case 1:			/* wrongly sized */
		len = below(17);
		for (i = 0; i < len; i++)
			v[i] = rnd();
		nla_put(m, type, len, v);
		return;
	case 2:			/* oversized */
		len = 64 + below(sizeof(big) - 64);
		for (i = 0; i < 64; i++)
			big[below(sizeof(big))] = rnd();
		nla_put(m, type, len, big);
		return;
	case 3:			/* flagged nested */
		len = a->size ? a->size : 4;
		good_value(cmd, type, v, len);
		nla_put(m, type | NLA_F_NESTED, len, v);
		return;
	default:
		break;
	}
	if (a->size) {
		good_value(cmd, type, v, a->size);
		len = a->size;
	} else {
		len = addr_value(v);
	}
	nla_put(m, type, len, v);
	if (below(10) == 0)		/* duplicated */
		nla_put(m, type, len, v);
}

/* A raw attribute whose nla_len overruns what follows. */
static void put_malformed(struct nl_msg *m)
{
	struct nlattr a = { .nla_len = 8 + below(2000), .nla_type = below(40) };
	uint32_t pad = rnd();

	nlmsg_append(m, &a, sizeof(a), 0);
	nlmsg_append(m, &pad, below(2) ? 4 : 0, 0);
}

/* Build, send and check one random request.  Returns 0 or -1 (a failure). */
static int one_request(struct sknl *nl, bool unpriv)
{
	const struct cmd_spec *c = &cmds[below(NCMDS)];
	struct sknl_err res;
	struct nl_msg *m;
	int flags = below(4) == 0 ? NLM_F_DUMP : 0, i, ret;
	bool cut = below(100) == 0;
	uint8_t junk[8];

	m = nlmsg_alloc();
	if (!m)
		return -1;
	if (cut) {
		/* A genl header cut short: only part of it, or none. */
		struct nlmsghdr *h = nlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
					       NLM_F_REQUEST | NLM_F_ACK | flags);

		if (!h) {
			nlmsg_free(m);
			return -1;
		}
		junk[0] = c->cmd;
		junk[1] = STEADYKV_FAMILY_VERSION;
		nlmsg_append(m, junk, below(4), 0);
	} else {
		if (!genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
				 NLM_F_REQUEST | NLM_F_ACK | flags, c->cmd,
				 below(20) ? STEADYKV_FAMILY_VERSION : below(256))) {
			nlmsg_free(m);
			return -1;
		}
		for (i = 0; i < 12 && c->attrs[i].type; i++)
			put_attr(m, c->cmd, &c->attrs[i]);
		/* Attributes of other or unknown types. */
		for (i = below(3); i > 0; i--) {
			uint64_t x = rnd();

			nla_put(m, below(2) ? below(40) : below(65536) & NLA_TYPE_MASK,
				below(9), &x);
		}
		if (below(30) == 0)
			put_malformed(m);
	}
	n_msgs++;
	ret = sknl_transact_err(nl, m, NULL, &res);
	/* A failure of our own (res.local: send, receive) is no answer. */
	if ((ret && res.local) || ret > 0) {
		printf("# FAIL: cmd %d flags 0x%x: no answer (%d %s)\n", c->cmd, flags, ret,
		       strerror(-ret));
		return -1;
	}
	n_answered++;
	if (!ret)
		n_ok++;
	if (ret == -EPERM)
		n_eperm++;
	/*
	 * genetlink checks the header and looks the op up (a dump of a
	 * do-only command is EOPNOTSUPP) before the permission.
	 */
	if (unpriv && c->admin && (ret == 0 || (!cut && !flags && ret != -EPERM))) {
		printf("# FAIL: unprivileged cmd %d flags 0x%x answered %d (%s), want EPERM\n",
		       c->cmd, flags, ret, res.msg);
		return -1;
	}
	return 0;
}

static int fuzz_pass(unsigned long msgs, uint64_t seed, bool unpriv)
{
	struct sknl nl;
	unsigned long i;
	int fails = 0;

	fz_seed(seed);
	if (sknl_open(&nl)) {
		printf("# FAIL: netlink socket\n");
		return 1;
	}
	for (i = 0; i < msgs && fails < 10; i++)
		if (one_request(&nl, unpriv))
			fails++;
	sknl_close(&nl);
	printf("# %s pass, seed %llu: %lu requests, %lu answered (%lu OK, %lu EPERM)\n",
	       unpriv ? "unprivileged" : "root", (unsigned long long)seed, n_msgs, n_answered,
	       n_ok, n_eperm);
	return fails || n_answered != msgs;
}

static int write_controls(bool check)
{
	int fd = st_connect(ST_ADDR, ST_PORT), i, st;
	char key[32], want[32], *val;
	uint64_t ver;

	if (fd < 0) {
		printf("# FAIL: connect: %s\n", st_last_error);
		return 1;
	}
	for (i = 0; i < CTRL_KEYS; i++) {
		snprintf(key, sizeof(key), "ctl-%d", i);
		snprintf(want, sizeof(want), "value-%d", i);
		if (!check) {
			st = st_puts(fd, ST_TABLE, key, want, 0, &ver);
			if (st != SKV_S_OK)
				break;
			continue;
		}
		val = NULL;
		st = st_gets(fd, ST_TABLE, key, &val, &ver);
		if (st != SKV_S_OK || !val || strcmp(val, want)) {
			printf("# FAIL: control key %s reads %s \"%s\"\n", key,
			       st < 0 ? st_last_error : st_status_name(st), val ? val : "");
			free(val);
			break;
		}
		free(val);
	}
	close(fd);
	return i == CTRL_KEYS ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *e = getenv("FUZZ_NL_MSGS");
	unsigned long msgs = argc > 1 ? strtoul(argv[1], NULL, 0) : e ? strtoul(e, NULL, 0) :
			     DEFAULT_MSGS;
	uint64_t seed = DEFAULT_SEED, limit;
	struct sknl_node ni;
	struct sknl_err res;
	struct sknl nl;
	int status, ok, i;
	pid_t pid;

	e = getenv("FUZZ_SEED");
	if (argc > 2)
		seed = strtoull(argv[2], NULL, 0);
	else if (e)
		seed = strtoull(e, NULL, 0);
	printf("TAP version 13\n1..4\n# fuzz_netlink: %lu messages, seed %llu\n", msgs,
	       (unsigned long long)seed);
	fflush(stdout);

	ok = !st_new_netns() && !sknl_open(&nl) && !st_node_start(&nl, ST_PORT) &&
	     !write_controls(false) && !sknl_node_get(&nl, &ni, &res);
	printf("%s 1 setup: a node with control keys %s\n", ok ? "ok" : "not ok", st_last_error);
	if (!ok)
		return 1;
	limit = ni.val[STEADYKV_A_NODE_MEM_LIMIT];

	fflush(stdout);
	status = fuzz_pass(msgs - msgs / 3, seed, false);
	printf("%s 2 root: every request answered\n", status ? "not ok" : "ok");
	fflush(stdout);

	pid = fork();
	if (pid == 0) {
		n_msgs = n_answered = n_ok = n_eperm = 0;
		if (st_drop_privileges()) {
			printf("# FAIL: cannot drop privileges\n");
			_exit(1);
		}
		_exit(fuzz_pass(msgs / 3, seed + 1, true));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = 1;
	printf("%s 3 unprivileged: every request answered, every change refused\n",
	       status ? "not ok" : "ok");

	/* Back to a working node: end fuzzed migrations, our port, our limit. */
	for (i = 1; i <= MAX_MIG_ID; i++)
		sknl_migrate_cancel(&nl, i, &res);
	sknl_listen_stop(&nl, &res);
	ok = !st_nl_listen(&nl, ST_ADDR, ST_PORT, &res) &&
	     !sknl_node_set_mem_limit(&nl, limit, &res) &&
	     !write_controls(true) && !st_node_serves(ST_ADDR, ST_PORT, ST_TABLE) &&
	     !sknl_node_get(&nl, &ni, &res);
	printf("%s 4 afterwards the node serves and the control keys are intact %s\n",
	       ok ? "ok" : "not ok", ok ? "" : st_last_error);
	sknl_close(&nl);
	return status || !ok;
}
