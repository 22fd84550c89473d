// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Generic netlink plumbing (see nl.h).  libnl 3.7 drops the extended ACK
 * of an error, so a custom error callback finds it in the NLMSG_ERROR
 * message itself and keeps the message, the offending attribute and any
 * missing attribute for the error line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "nl.h"

/* libnl's own receive buffer and the socket's: big enough for any reply. */
#define NL_MSG_BUF	(32 * 1024)
#define NL_SOCK_RCVBUF	(1024 * 1024)
/* How often a dump interrupted by concurrent changes is tried again. */
#define DUMP_RETRIES	8

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
};

static const char *const state_names[] = {
	[STEADYKV_TABLET_STATE_NORMAL] = "normal",
	[STEADYKV_TABLET_STATE_MIGRATING_IN] = "migrating-in",
	[STEADYKV_TABLET_STATE_MIGRATING_OUT] = "migrating-out",
	[STEADYKV_TABLET_STATE_RECOVERING] = "recovering",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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

/* The attribute-set name of type in the set cmd uses (for error lines). */
static const char *attr_name(uint8_t cmd, int type)
{
	const char *const *names;
	size_t n;

	if (cmd <= STEADYKV_CMD_LISTEN_STOP) {
		names = node_attr_names;
		n = ARRAY_SIZE(node_attr_names);
	} else if (cmd <= STEADYKV_CMD_TABLE_GET) {
		names = table_attr_names;
		n = ARRAY_SIZE(table_attr_names);
	} else {
		names = tablet_attr_names;
		n = ARRAY_SIZE(tablet_attr_names);
	}
	return type > 0 && (size_t)type < n && names[type] ? names[type] : NULL;
}

/* ---- one request's state while its replies come in ---- */

struct sknl_ctx {
	struct sknl_replies *out;
	bool done;
	bool interrupted;
	int error;		/* negative errno from the kernel */
	char extack[256];
	int bad_attr;		/* type of the attribute at NLMSGERR_ATTR_OFFS, or 0 */
	int missing_attr;	/* NLMSGERR_ATTR_MISS_TYPE, or 0 */
	struct nl_msg *req;
};

/* Which of our attributes sits at byte offset offs of the request? */
static int attr_at(struct nl_msg *req, uint32_t offs)
{
	struct nlmsghdr *nlh = nlmsg_hdr(req);
	struct nlattr *nla;
	int rem;

	nlmsg_for_each_attr(nla, nlh, GENL_HDRLEN, rem) {
		if ((uint32_t)((char *)nla - (char *)nlh) == offs)
			return nla_type(nla);
	}
	return 0;
}

/*
 * Extended ACK TLVs follow the error code (and, unless capped, the echoed
 * request) at attr_off bytes into the payload of nlh.
 */
static void parse_extack(struct sknl_ctx *ctx, const struct nlmsghdr *nlh, size_t attr_off)
{
	static const struct nla_policy policy[NLMSGERR_ATTR_MAX + 1] = {
		[NLMSGERR_ATTR_MSG] = { .type = NLA_STRING },
		[NLMSGERR_ATTR_OFFS] = { .type = NLA_U32 },
		[NLMSGERR_ATTR_MISS_TYPE] = { .type = NLA_U32 },
	};
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t payload = nlh->nlmsg_len - NLMSG_HDRLEN;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlh->nlmsg_len < NLMSG_HDRLEN)
		return;
	attr_off = NLMSG_ALIGN(attr_off);
	if (attr_off >= payload)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX,
		      (struct nlattr *)((char *)NLMSG_DATA(nlh) + attr_off),
		      (int)(payload - attr_off), policy) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(ctx->extack, sizeof(ctx->extack), "%.*s",
			 nla_len(tb[NLMSGERR_ATTR_MSG]), (char *)nla_data(tb[NLMSGERR_ATTR_MSG]));
	/* nla_len counts a trailing NUL the kernel includes. */
	ctx->extack[strcspn(ctx->extack, "\n")] = 0;
	if (tb[NLMSGERR_ATTR_OFFS] && ctx->req)
		ctx->bad_attr = attr_at(ctx->req, nla_get_u32(tb[NLMSGERR_ATTR_OFFS]));
	if (tb[NLMSGERR_ATTR_MISS_TYPE])
		ctx->missing_attr = (int)nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	/* libnl hands us the payload: the header sits right before it. */
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	struct sknl_ctx *ctx = arg;
	size_t off = sizeof(*e);

	(void)nla;
	ctx->error = e->error;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	parse_extack(ctx, nlh, off);
	return NL_STOP;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct sknl_ctx *ctx = arg;

	/* A successful ACK may still carry a warning. */
	parse_extack(ctx, nlmsg_hdr(msg), sizeof(struct nlmsgerr));
	if (ctx->extack[0])
		fprintf(stderr, "steadykvctl: warning: %s\n", ctx->extack);
	ctx->extack[0] = 0;
	ctx->done = true;
	return NL_STOP;
}

static int on_finish(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct sknl_ctx *ctx = arg;

	/* A dump that fails reports its error in NLMSG_DONE. */
	if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
		int err;

		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		if (err < 0) {
			ctx->error = err;
			parse_extack(ctx, nlh, sizeof(int));
		}
	}
	ctx->done = true;
	return NL_STOP;
}

static int on_dump_intr(struct nl_msg *msg, void *arg)
{
	struct sknl_ctx *ctx = arg;

	(void)msg;
	ctx->interrupted = true;
	return NL_OK;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct sknl_ctx *ctx = arg;
	struct sknl_replies *r = ctx->out;
	struct nl_msg **msgs;

	if (!r)
		return NL_OK;
	msgs = realloc(r->msgs, (r->count + 1) * sizeof(*msgs));
	if (!msgs)
		return -NLE_NOMEM;
	r->msgs = msgs;
	nlmsg_get(msg);
	r->msgs[r->count++] = msg;
	return NL_OK;
}

void sknl_replies_free(struct sknl_replies *r)
{
	for (size_t i = 0; i < r->count; i++)
		nlmsg_free(r->msgs[i]);
	free(r->msgs);
	r->msgs = NULL;
	r->count = 0;
}

static void print_error(const char *op, const struct sknl_ctx *ctx, uint8_t cmd)
{
	const char *bad = attr_name(cmd, ctx->bad_attr);
	const char *miss = attr_name(cmd, ctx->missing_attr);

	fprintf(stderr, "steadykvctl: %s: %s", op, strerror(-ctx->error));
	if (ctx->extack[0])
		fprintf(stderr, ": %s", ctx->extack);
	if (bad)
		fprintf(stderr, " (attribute %s)", bad);
	if (miss)
		fprintf(stderr, " (missing attribute %s)", miss);
	fputc('\n', stderr);
}

static int transact_once(struct sknl *nl, struct nl_msg *msg, struct sknl_ctx *ctx,
			 const char *op)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int rc;

	if (!cb) {
		fprintf(stderr, "steadykvctl: %s: out of memory\n", op);
		return -1;
	}
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, ctx);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, ctx);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, ctx);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, on_dump_intr, ctx);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, ctx);

	/* A re-sent request needs a fresh sequence number. */
	nlmsg_hdr(msg)->nlmsg_seq = NL_AUTO_SEQ;
	rc = nl_send_auto(nl->sk, msg);
	while (rc >= 0 && !ctx->done && !ctx->error)
		rc = nl_recvmsgs(nl->sk, cb);
	nl_cb_put(cb);
	if (ctx->error) {
		print_error(op, ctx, genlmsg_hdr(nlmsg_hdr(msg))->cmd);
		return -1;
	}
	if (rc < 0) {
		fprintf(stderr, "steadykvctl: %s: %s\n", op, nl_geterror(rc));
		return -1;
	}
	return 0;
}

int sknl_transact(struct sknl *nl, struct nl_msg *msg, const char *op, struct sknl_replies *out)
{
	bool interrupted = false;
	int rc = -1;

	for (int attempt = 0; attempt < DUMP_RETRIES; attempt++) {
		struct sknl_ctx ctx = { .out = out, .req = msg };

		if (out)
			sknl_replies_free(out);
		rc = transact_once(nl, msg, &ctx, op);
		/* A dump the state changed under is read again from the start. */
		interrupted = ctx.interrupted;
		if (rc || !interrupted)
			break;
	}
	if (!rc && interrupted) {
		fprintf(stderr, "steadykvctl: %s: dump kept being interrupted by changes, "
			"gave up\n", op);
		rc = -1;
	}
	if (rc && out)
		sknl_replies_free(out);
	nlmsg_free(msg);
	return rc;
}

struct nl_msg *sknl_request(const struct sknl *nl, uint8_t cmd, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0,
			 NLM_F_REQUEST | NLM_F_ACK | flags, cmd, STEADYKV_FAMILY_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct genlmsghdr *sknl_genlhdr(struct nl_msg *msg)
{
	return genlmsg_hdr(nlmsg_hdr(msg));
}

int sknl_parse(struct nl_msg *msg, struct nlattr **tb, int maxtype,
	     const struct nla_policy *policy)
{
	return genlmsg_parse(nlmsg_hdr(msg), 0, tb, maxtype, policy);
}

int sknl_open(struct sknl *nl)
{
	int one = 1, fd;

	nl->family = -1;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		fprintf(stderr, "steadykvctl: out of memory\n");
		return -1;
	}
	if (genl_connect(nl->sk)) {
		fprintf(stderr, "steadykvctl: cannot open a generic netlink socket: %s\n",
			strerror(errno));
		goto fail;
	}
	fd = nl_socket_get_fd(nl->sk);
	/* Error messages from the kernel, without the echoed request. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	nl_socket_set_buffer_size(nl->sk, NL_SOCK_RCVBUF, 0);
	nl_socket_enable_msg_peek(nl->sk);
	nl_socket_set_msg_buf_size(nl->sk, NL_MSG_BUF);

	nl->family = genl_ctrl_resolve(nl->sk, STEADYKV_FAMILY_NAME);
	if (nl->family < 0) {
		if (nl->family == -NLE_OBJ_NOTFOUND)
			fprintf(stderr, "steadykvctl: steadykv: generic netlink family not found "
				"(is the steadykv module loaded?)\n");
		else
			fprintf(stderr, "steadykvctl: resolving the steadykv family: %s\n",
				nl_geterror(nl->family));
		goto fail;
	}
	return 0;
fail:
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	return -1;
}

void sknl_close(struct sknl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

int sknl_events_group(struct sknl *nl)
{
	int grp = genl_ctrl_resolve_grp(nl->sk, STEADYKV_FAMILY_NAME, STEADYKV_MCGRP_EVENTS);

	if (grp < 0)
		fprintf(stderr, "steadykvctl: monitor: no \"%s\" multicast group: %s\n",
			STEADYKV_MCGRP_EVENTS, nl_geterror(grp));
	return grp;
}
