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

#include <netlink/genl/ctrl.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "nl.h"

/* A monitor may fall behind a burst: give the kernel room to queue it. */
#define EVENTS_RCVBUF	(4 * 1024 * 1024)

struct monitor {
	struct ctl *c;
	int family;
};

/* One event or dumped object: "NAME: fields" or {"event": NAME, ...}. */
static void print_object(struct ctl *c, struct nl_msg *msg)
{
	struct nlattr *tb[STEADYKV_A_NODE_MAX + 1];
	uint8_t cmd = sknl_genlhdr(msg)->cmd;
	const struct nla_policy *policy;
	int maxtype;
	enum { NODE, TABLE, TABLET } kind;

	if (cmd <= STEADYKV_CMD_LISTEN_STOP) {
		kind = NODE;
		policy = node_policy;
		maxtype = STEADYKV_A_NODE_MAX;
	} else if (cmd <= STEADYKV_CMD_TABLE_GET) {
		kind = TABLE;
		policy = table_policy;
		maxtype = STEADYKV_A_TABLE_MAX;
	} else {
		kind = TABLET;
		policy = tablet_policy;
		maxtype = STEADYKV_A_TABLET_MAX;
	}
	if (sknl_parse(msg, tb, maxtype, policy)) {
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
	else
		show_tablet(c, tb);
	if (c->json)
		json_obj_end(&c->j);
	fflush(stdout);
}

static int on_event(struct nl_msg *msg, void *arg)
{
	struct monitor *m = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	/* Only the kernel's messages of our family. */
	if (nlmsg_get_src(msg)->nl_pid != 0 || nlh->nlmsg_type != m->family ||
	    !genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	print_object(m->c, msg);
	return NL_OK;
}

/* Dump tables then tablets, printed like events. */
static int dump_state(struct ctl *c, struct sknl *nl)
{
	static const struct {
		uint8_t cmd;
		const char *op;
	} dumps[] = {
		{ STEADYKV_CMD_TABLE_GET, "monitor: table list" },
		{ STEADYKV_CMD_TABLET_GET, "monitor: tablet list" },
	};

	for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
		struct sknl_replies r = { 0 };
		struct nl_msg *msg = sknl_request(nl, dumps[i].cmd, NLM_F_DUMP);

		if (!msg || sknl_transact(nl, msg, dumps[i].op, &r))
			return -1;
		for (size_t k = 0; k < r.count; k++)
			print_object(c, r.msgs[k]);
		sknl_replies_free(&r);
	}
	return 0;
}

static void say_overrun(struct ctl *c)
{
	fprintf(stderr, "steadykvctl: monitor: events were lost (receive buffer overrun, "
		"ENOBUFS); dumping tables and tablets again\n");
	if (c->json) {
		json_obj_begin(&c->j);
		json_kv_str(&c->j, "event", "overrun");
		json_obj_end(&c->j);
	} else {
		printf("overrun: events were lost\n");
	}
	fflush(stdout);
}

static int accept_any_seq(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

int cmd_monitor(struct ctl *c, int argc, char **argv)
{
	struct monitor m = { .c = c };
	struct nl_sock *ev = NULL;
	struct nl_cb *cb = NULL;
	bool dump = false;
	struct sknl nl;
	int grp;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "dump")))
		return usage_error("monitor", "monitor: unexpected \"%s\"", argv[argc - 1]);
	dump = argc == 1;
	if (sknl_open(&nl))
		return EXIT_ERR;
	m.family = nl.family;
	grp = sknl_events_group(&nl);
	if (grp < 0)
		goto out;

	ev = nl_socket_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!ev || !cb || genl_connect(ev)) {
		fprintf(stderr, "steadykvctl: monitor: cannot open the events socket\n");
		goto out;
	}
	nl_socket_set_buffer_size(ev, EVENTS_RCVBUF, 0);
	nl_socket_enable_msg_peek(ev);
	nl_socket_set_msg_buf_size(ev, 32 * 1024);
	if (nl_socket_add_membership(ev, grp)) {
		fprintf(stderr, "steadykvctl: monitor: cannot join the \"%s\" group\n",
			STEADYKV_MCGRP_EVENTS);
		goto out;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, &m);
	/*
	 * Events are unsolicited: no sequence numbers to match.  The check
	 * belongs to the callback set nl_recvmsgs() runs, not the socket's.
	 */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, accept_any_seq, NULL);

	if (dump && dump_state(c, &nl))
		goto out;
	for (;;) {
		int err = nl_recvmsgs(ev, cb);

		/* libnl reports recvmsg()'s ENOBUFS as NLE_NOMEM. */
		if (err == -NLE_NOMEM) {
			say_overrun(c);
			if (dump_state(c, &nl))
				goto out;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, "steadykvctl: monitor: %s\n", nl_geterror(err));
			goto out;
		}
	}
out:
	if (cb)
		nl_cb_put(cb);
	if (ev)
		nl_socket_free(ev);
	sknl_close(&nl);
	return EXIT_ERR;	/* only an error ends the monitor */
}
