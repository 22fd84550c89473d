// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* table add|del|list, tablet add|del|set|list. */
#include <stdlib.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "parse.h"

/* List every table or tablet: a JSON array, or one text line each. */
static int list(struct ctl *c, bool tablets, const char *op)
{
	struct sknl_tablet *tv = NULL;
	struct sknl_table *v = NULL;
	struct sknl_err err;
	struct sknl nl;
	size_t n = 0;
	int rc;

	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = tablets ? sknl_tablet_dump(&nl, &tv, &n, &err) : sknl_table_dump(&nl, &v, &n, &err);
	sknl_close(&nl);
	if (rc)
		return ctl_nl_status(rc, op, &err);
	if (c->json)
		json_arr_begin(&c->j);
	for (size_t i = 0; i < n; i++) {
		if (c->json)
			json_obj_begin(&c->j);
		if (tablets)
			show_tablet(c, &tv[i]);
		else
			show_table(c, &v[i]);
		if (c->json)
			json_obj_end(&c->j);
	}
	if (c->json)
		json_arr_end(&c->j);
	free(tv);
	free(v);
	return EXIT_OK;
}

int cmd_table(struct ctl *c, int argc, char **argv)
{
	struct sknl_err err;
	struct sknl nl;
	uint64_t id;
	bool add;
	int rc;

	if (argc < 1)
		return usage_error("table", "table: missing command");
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "show")) {
		if (argc != 1)
			return usage_error("table", "table list: unexpected \"%s\"", argv[1]);
		return list(c, false, "table list");
	}
	if (!strcmp(argv[0], "add"))
		add = true;
	else if (!strcmp(argv[0], "del") || !strcmp(argv[0], "delete"))
		add = false;
	else
		return usage_error("table", "table: unknown command \"%s\"", argv[0]);
	if (argc != 2)
		return usage_error("table", "table %s: expected ID", argv[0]);
	if (parse_u64(argv[1], &id))
		return usage_error("table", "table %s: invalid table id \"%s\"", argv[0], argv[1]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = add ? sknl_table_add(&nl, id, &err) : sknl_table_del(&nl, id, &err);
	sknl_close(&nl);
	return ctl_nl_status(rc, add ? "table add" : "table del", &err);
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
	struct sknl_err err;
	uint32_t state = 0;
	uint8_t cmd = 0;
	struct sknl nl;
	int rc;

	if (argc < 1)
		return usage_error("tablet", "tablet: missing command");
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "show")) {
		if (argc != 1)
			return usage_error("tablet", "tablet list: unexpected \"%s\"", argv[1]);
		return list(c, true, "tablet list");
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
	if (cmd == STEADYKV_CMD_TABLET_ADD)
		rc = sknl_tablet_add(&nl, table, start, end, has_state ? (int)state : -1, &err);
	else if (cmd == STEADYKV_CMD_TABLET_DEL)
		rc = sknl_tablet_del(&nl, table, start, end, &err);
	else
		rc = sknl_tablet_set(&nl, table, start, end, state, &err);
	sknl_close(&nl);
	return ctl_nl_status(rc, op, &err);
}
