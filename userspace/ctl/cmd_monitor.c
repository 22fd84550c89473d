// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * monitor: print every event of the "events" multicast group.  Events come
 * on a socket of their own, subscribed before anything is read, so no
 * reply traffic mixes in and "monitor dump" misses no change made between
 * its dump and the first event.  When the socket overruns (ENOBUFS), events
 * were lost: say so and dump tables and tablets again.
 */
#include <errno.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "nl.h"

/* A monitor may fall behind a burst: give the kernel room to queue it. */
#define EVENTS_RCVBUF	(4 * 1024 * 1024)

/* One event or dumped object: "NAME: fields" or {"event": NAME, ...}. */
static void print_object(struct ctl *c, struct nl_msg *msg)
{
	struct nlattr *tb[STEADYKV_A_NODE_MAX + 1];
	uint8_t cmd = sknl_genlhdr(msg)->cmd;
	struct sknl_migration mig;
	const struct nla_policy *policy = NULL;
	int maxtype = 0, bad;
	enum { NODE, TABLE, TABLET, MIGRATION } kind;

	if (cmd <= STEADYKV_CMD_LISTEN_STOP) {
		kind = NODE;
		policy = node_policy;
		maxtype = STEADYKV_A_NODE_MAX;
	} else if (cmd <= STEADYKV_CMD_TABLE_GET) {
		kind = TABLE;
		policy = table_policy;
		maxtype = STEADYKV_A_TABLE_MAX;
	} else if (cmd <= STEADYKV_CMD_TABLET_GET) {
		kind = TABLET;
		policy = tablet_policy;
		maxtype = STEADYKV_A_TABLET_MAX;
	} else {
		kind = MIGRATION;
	}
	if (kind == MIGRATION)
		bad = sknl_migration_parse(msg, &mig);
	else
		bad = sknl_parse(msg, tb, maxtype, policy);
	if (bad) {
		fprintf(stderr, "steadykvctl: monitor: malformed %s event\n", sknl_cmd_name(cmd));
		return;
	}
	if (c->json) {
		json_obj_begin(&c->j);
		json_kv_str(&c->j, "event", sknl_cmd_name(cmd));
	} else {
		printf("%s: ", sknl_cmd_name(cmd));
	}
	if (kind == NODE)
		show_node(c, tb, true);
	else if (kind == TABLE)
		show_table(c, tb);
	else if (kind == TABLET)
		show_tablet(c, tb);
	else
		show_migration(c, &mig, true);
	if (c->json)
		json_obj_end(&c->j);
	fflush(stdout);
}

static int on_event(struct nl_msg *msg, void *arg)
{
	print_object(arg, msg);
	return NL_OK;
}

/*
 * Dump tables, tablets, then migrations, printed like events.  A module
 * without migrations (EOPNOTSUPP) just has none to print.
 */
static int dump_state(struct ctl *c, struct sknl *nl)
{
	static const struct {
		uint8_t cmd;
		const char *op;
	} dumps[] = {
		{ STEADYKV_CMD_TABLE_GET, "monitor: table list" },
		{ STEADYKV_CMD_TABLET_GET, "monitor: tablet list" },
		{ STEADYKV_CMD_MIGRATE_GET, "monitor: migration list" },
	};

	for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
		struct sknl_replies r = { 0 };
		struct nl_msg *msg = sknl_request(nl, dumps[i].cmd, NLM_F_DUMP);
		struct sknl_err err;

		if (!msg)
			return -1;
		if (sknl_transact_err(nl, msg, &r, &err)) {
			char line[512];

			if (dumps[i].cmd == STEADYKV_CMD_MIGRATE_GET && err.error == EOPNOTSUPP)
				continue;
			if (err.local)
				snprintf(line, sizeof(line), "%s", err.msg);
			else
				sknl_err_format(&err, line, sizeof(line));
			fprintf(stderr, "steadykvctl: %s: %s\n", dumps[i].op, line);
			return -1;
		}
		for (size_t k = 0; k < r.count; k++)
			print_object(c, r.msgs[k]);
		sknl_replies_free(&r);
	}
	return 0;
}

static void say_overrun(struct ctl *c)
{
	fprintf(stderr, "steadykvctl: monitor: events were lost (receive buffer overrun, "
		"ENOBUFS); dumping tables, tablets and migrations again\n");
	if (c->json) {
		json_obj_begin(&c->j);
		json_kv_str(&c->j, "event", "overrun");
		json_obj_end(&c->j);
	} else {
		printf("overrun: events were lost\n");
	}
	fflush(stdout);
}

int cmd_monitor(struct ctl *c, int argc, char **argv)
{
	bool dump = false;
	struct sknl nl, ev;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "dump")))
		return usage_error("monitor", "monitor: unexpected \"%s\"", argv[argc - 1]);
	dump = argc == 1;
	if (sknl_open(&nl))
		return EXIT_ERR;
	/* Joined before the dump: nothing changed after it is missed. */
	if (sknl_events_open(&ev, EVENTS_RCVBUF, false)) {
		fprintf(stderr, "steadykvctl: monitor: cannot open the events socket\n");
		goto out;
	}
	if (dump && dump_state(c, &nl))
		goto out_ev;
	for (;;) {
		int err = sknl_events_recv(&ev, on_event, c);

		if (err == -ENOBUFS) {
			say_overrun(c);
			if (dump_state(c, &nl))
				goto out_ev;
			continue;
		}
		if (err && err != -EAGAIN && err != -EINTR) {
			fprintf(stderr, "steadykvctl: monitor: %s\n", strerror(-err));
			goto out_ev;
		}
	}
out_ev:
	sknl_close(&ev);
out:
	sknl_close(&nl);
	return EXIT_ERR;	/* only an error ends the monitor */
}
