// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* table add|del|list, tablet add|del|set|list. */
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "nl.h"
#include "parse.h"

/* Room for either attribute set. */
#define MAX_ATTR ((int)STEADYKV_A_TABLET_MAX > (int)STEADYKV_A_TABLE_MAX ? \
		  (int)STEADYKV_A_TABLET_MAX : (int)STEADYKV_A_TABLE_MAX)

/* Send a change (msg may be NULL after a failed build); exit status. */
static int change(struct sknl *nl, struct nl_msg *msg, bool built, const char *op)
{
	int rc;

	if (!built) {
		fprintf(stderr, "steadykvctl: %s: cannot build the request\n", op);
		nlmsg_free(msg);
		sknl_close(nl);
		return EXIT_ERR;
	}
	rc = sknl_transact(nl, msg, op, NULL);
	sknl_close(nl);
	return rc ? EXIT_ERR : EXIT_OK;
}

/* Dump cmd and print each object: a JSON array, or one text line each. */
static int list(struct ctl *c, uint8_t cmd, const char *op)
{
	struct sknl_replies r = { 0 };
	struct nl_msg *msg;
	struct sknl nl;
	int rc = EXIT_ERR;

	if (sknl_open(&nl))
		return EXIT_ERR;
	msg = sknl_request(&nl, cmd, NLM_F_DUMP);
	if (!msg) {
		fprintf(stderr, "steadykvctl: %s: cannot build the request\n", op);
		goto out;
	}
	if (sknl_transact(&nl, msg, op, &r))
		goto out;
	if (c->json)
		json_arr_begin(&c->j);
	for (size_t i = 0; i < r.count; i++) {
		struct nlattr *tb[MAX_ATTR + 1];
		bool tablet = cmd == STEADYKV_CMD_TABLET_GET;

		if (sknl_parse(r.msgs[i], tb, tablet ? STEADYKV_A_TABLET_MAX : STEADYKV_A_TABLE_MAX,
			     tablet ? tablet_policy : table_policy)) {
			fprintf(stderr, "steadykvctl: %s: skipping a malformed entry\n", op);
			continue;
		}
		if (c->json)
			json_obj_begin(&c->j);
		if (tablet)
			show_tablet(c, tb);
		else
			show_table(c, tb);
		if (c->json)
			json_obj_end(&c->j);
	}
	if (c->json)
		json_arr_end(&c->j);
	rc = EXIT_OK;
out:
	sknl_replies_free(&r);
	sknl_close(&nl);
	return rc;
}

int cmd_table(struct ctl *c, int argc, char **argv)
{
	struct nl_msg *msg;
	struct sknl nl;
	uint64_t id;
	uint8_t cmd;

	if (argc < 1)
		return usage_error("table", "table: missing command");
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "show")) {
		if (argc != 1)
			return usage_error("table", "table list: unexpected \"%s\"", argv[1]);
		return list(c, STEADYKV_CMD_TABLE_GET, "table list");
	}
	if (!strcmp(argv[0], "add"))
		cmd = STEADYKV_CMD_TABLE_ADD;
	else if (!strcmp(argv[0], "del") || !strcmp(argv[0], "delete"))
		cmd = STEADYKV_CMD_TABLE_DEL;
	else
		return usage_error("table", "table: unknown command \"%s\"", argv[0]);
	if (argc != 2)
		return usage_error("table", "table %s: expected ID", argv[0]);
	if (parse_u64(argv[1], &id))
		return usage_error("table", "table %s: invalid table id \"%s\"", argv[0], argv[1]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	msg = sknl_request(&nl, cmd, 0);
	return change(&nl, msg, msg && !nla_put_u64(msg, STEADYKV_A_TABLE_ID, id),
		      cmd == STEADYKV_CMD_TABLE_ADD ? "table add" : "table del");
}

int cmd_tablet(struct ctl *c, int argc, char **argv)
{
	static const struct {
		const char *word;
		uint8_t cmd;
		const char *op;
	} cmds[] = {
		{ "add", STEADYKV_CMD_TABLET_ADD, "tablet add" },
		{ "del", STEADYKV_CMD_TABLET_DEL, "tablet del" },
		{ "delete", STEADYKV_CMD_TABLET_DEL, "tablet del" },
		{ "set", STEADYKV_CMD_TABLET_SET, "tablet set" },
	};
	uint64_t table, start, end;
	bool has_state = false;
	const char *op = NULL;
	struct nl_msg *msg;
	uint32_t state = 0;
	uint8_t cmd = 0;
	struct sknl nl;
	bool built;

	if (argc < 1)
		return usage_error("tablet", "tablet: missing command");
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "show")) {
		if (argc != 1)
			return usage_error("tablet", "tablet list: unexpected \"%s\"", argv[1]);
		return list(c, STEADYKV_CMD_TABLET_GET, "tablet list");
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(argv[0], cmds[i].word)) {
			cmd = cmds[i].cmd;
			op = cmds[i].op;
		}
	}
	if (!op)
		return usage_error("tablet", "tablet: unknown command \"%s\"", argv[0]);
	if (argc != 4 && argc != 6)
		return usage_error("tablet", "%s: wrong number of arguments", op);
	if (parse_u64(argv[1], &table))
		return usage_error("tablet", "%s: invalid table id \"%s\"", op, argv[1]);
	if (parse_hash(argv[2], &start) || parse_hash(argv[3], &end))
		return usage_error("tablet", "%s: invalid hash range \"%s %s\"", op,
				   argv[2], argv[3]);
	if (argc == 6) {
		if (cmd == STEADYKV_CMD_TABLET_DEL || strcmp(argv[4], "state"))
			return usage_error("tablet", "%s: unexpected \"%s\"", op, argv[4]);
		if (sknl_state_parse(argv[5], &state))
			return usage_error("tablet", "%s: unknown state \"%s\"", op, argv[5]);
		has_state = true;
	}
	if (cmd == STEADYKV_CMD_TABLET_SET && !has_state)
		return usage_error("tablet", "%s: expected \"state STATE\"", op);

	if (sknl_open(&nl))
		return EXIT_ERR;
	msg = sknl_request(&nl, cmd, 0);
	built = msg && !nla_put_u64(msg, STEADYKV_A_TABLET_TABLE_ID, table) &&
		!nla_put_u64(msg, STEADYKV_A_TABLET_START_HASH, start) &&
		!nla_put_u64(msg, STEADYKV_A_TABLET_END_HASH, end) &&
		(!has_state || !nla_put_u32(msg, STEADYKV_A_TABLET_STATE, state));
	return change(&nl, msg, built, op);
}
