// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * monitor: print every event of the "events" multicast group.  Events come
 * on a socket of their own, subscribed before anything is read, so no
 * reply traffic mixes in and "monitor dump" misses no change made between
 * its dump and the first event.  When the socket overruns (ENOBUFS), events
 * were lost: say so and dump tables and tablets again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"

/* A monitor may fall behind a burst: give the kernel room to queue it. */
#define EVENTS_RCVBUF	(4 * 1024 * 1024)

/* One event or dumped object: "NAME: fields" or {"event": NAME, ...}. */
static void print_object(struct ctl *c, const struct sknl_event *ev)
{
	if (ev->malformed) {
		fprintf(stderr, "steadykvctl: monitor: malformed %s event\n",
			sknl_cmd_name(ev->cmd));
		return;
	}
	if (c->json) {
		json_obj_begin(&c->j);
		json_kv_str(&c->j, "event", sknl_cmd_name(ev->cmd));
	} else {
		printf("%s: ", sknl_cmd_name(ev->cmd));
	}
	switch (ev->kind) {
	case SKNL_OBJ_NODE: show_node(c, &ev->node, true); break;
	case SKNL_OBJ_TABLE: show_table(c, &ev->table); break;
	case SKNL_OBJ_TABLET: show_tablet(c, &ev->tablet); break;
	case SKNL_OBJ_MIGRATION: show_migration(c, &ev->mig, true); break;
	}
	if (c->json)
		json_obj_end(&c->j);
	fflush(stdout);
}

static void on_event(const struct sknl_event *ev, void *arg)
{
	print_object(arg, ev);
}

/*
 * Dump tables, tablets, then migrations, printed like events.  A module
 * without migrations (EOPNOTSUPP) just has none to print.
 */
static int dump_state(struct ctl *c, struct sknl *nl)
{
	static struct sknl_event ev;	/* big: not on the stack */
	struct sknl_table *tables = NULL;
	struct sknl_tablet *tablets = NULL;
	struct skv_migration *migs = NULL;
	size_t nt = 0, ntl = 0, nm = 0;
	struct sknl_err err;
	int rc = -1;

	if (sknl_table_dump(nl, &tables, &nt, &err)) {
		sknl_err_log("monitor: table list", &err);
		goto out;
	}
	if (sknl_tablet_dump(nl, &tablets, &ntl, &err)) {
		sknl_err_log("monitor: tablet list", &err);
		goto out;
	}
	if (sknl_migrate_dump(nl, &migs, &nm, &err) && err.error != EOPNOTSUPP) {
		sknl_err_log("monitor: migration list", &err);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.cmd = STEADYKV_CMD_TABLE_GET;
	ev.kind = SKNL_OBJ_TABLE;
	for (size_t i = 0; i < nt; i++) {
		ev.table = tables[i];
		print_object(c, &ev);
	}
	ev.cmd = STEADYKV_CMD_TABLET_GET;
	ev.kind = SKNL_OBJ_TABLET;
	for (size_t i = 0; i < ntl; i++) {
		ev.tablet = tablets[i];
		print_object(c, &ev);
	}
	ev.cmd = STEADYKV_CMD_MIGRATE_GET;
	ev.kind = SKNL_OBJ_MIGRATION;
	for (size_t i = 0; i < nm; i++) {
		ev.mig = migs[i];
		print_object(c, &ev);
	}
	rc = 0;
out:
	free(tables);
	free(tablets);
	free(migs);
	return rc;
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
