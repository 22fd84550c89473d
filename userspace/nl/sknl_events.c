// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libskvnl's events (see sknl.h): a socket of its own in the "events"
 * group, and each event parsed into the object its command carries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>

#include "sknl.h"
#include "sknl_int.h"

static int events_group(struct sknl *nl)
{
	int grp = genl_ctrl_resolve_grp(nl->sk, STEADYKV_FAMILY_NAME, STEADYKV_MCGRP_EVENTS);

	if (grp < 0)
		sknl_log("monitor: no \"%s\" multicast group: %s", STEADYKV_MCGRP_EVENTS,
			 nl_geterror(grp));
	return grp;
}

int sknl_events_open(struct sknl *ev, int rcvbuf, bool nonblock)
{
	int grp;

	if (sknl_open_socket(ev, rcvbuf, NULL))
		return -1;
	grp = events_group(ev);
	if (grp < 0)
		goto fail;
	/* Events are unsolicited: no sequence numbers to match. */
	nl_socket_disable_seq_check(ev->sk);
	if (nl_socket_add_membership(ev->sk, grp)) {
		sknl_log("cannot join the \"%s\" group", STEADYKV_MCGRP_EVENTS);
		goto fail;
	}
	if (nonblock && nl_socket_set_nonblocking(ev->sk)) {
		sknl_log("cannot make the events socket non-blocking");
		goto fail;
	}
	return 0;
fail:
	sknl_close(ev);
	return -1;
}

struct events_ctx {
	int family;
	void (*fn)(const struct sknl_event *ev, void *arg);
	void *arg;
	struct sknl_event ev;	/* big: not on the stack of each callback */
};

static int on_event(struct nl_msg *msg, void *arg)
{
	struct events_ctx *e = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	/* Only the kernel's messages of our family. */
	if (nlmsg_get_src(msg)->nl_pid != 0 || nlh->nlmsg_type != e->family ||
	    !genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	if (e->fn) {
		sknl_event_parse(msg, &e->ev);
		e->fn(&e->ev, e->arg);
	}
	return NL_OK;
}

static int accept_any_seq(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

int sknl_events_recv(struct sknl *ev, void (*fn)(const struct sknl_event *ev, void *arg),
		     void *arg)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	struct events_ctx *e = malloc(sizeof(*e));
	int rc;

	if (!cb || !e) {
		nl_cb_put(cb);
		free(e);
		return -ENOMEM;
	}
	e->family = ev->family;
	e->fn = fn;
	e->arg = arg;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, e);
	/*
	 * The sequence check belongs to the callback set nl_recvmsgs() runs,
	 * not the socket's.
	 */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, accept_any_seq, NULL);
	rc = nl_recvmsgs_report(ev->sk, cb);
	nl_cb_put(cb);
	free(e);
	if (rc > 0)
		return 0;
	/* libnl reports recvmsg()'s ENOBUFS as NLE_NOMEM, EAGAIN as 0 or NLE_AGAIN. */
	if (rc == 0 || rc == -NLE_AGAIN)
		return -EAGAIN;
	if (rc == -NLE_NOMEM)
		return -ENOBUFS;
	return -sknl_nle_to_errno(rc);
}


int sknl_events_fd(const struct sknl *ev)
{
	return nl_socket_get_fd(ev->sk);
}

void sknl_event_parse(struct nl_msg *msg, struct sknl_event *ev)
{
	int bad = -1;

	memset(ev, 0, sizeof(*ev));
	ev->cmd = sknl_genlhdr(msg)->cmd;
	ev->kind = sknl_cmd_kind(ev->cmd);
	switch (ev->kind) {
	case SKNL_OBJ_NODE: bad = sknl_node_parse(msg, &ev->node); break;
	case SKNL_OBJ_TABLE: bad = sknl_table_parse(msg, &ev->table); break;
	case SKNL_OBJ_TABLET: bad = sknl_tablet_parse(msg, &ev->tablet); break;
	case SKNL_OBJ_MIGRATION: bad = sknl_migration_parse(msg, &ev->mig); break;
	}
	ev->malformed = bad != 0;
}

void sknl_events_drain(struct sknl *ev)
{
	while (sknl_events_recv(ev, NULL, NULL) == 0)
		;
}
