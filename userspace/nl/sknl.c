// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Generic netlink plumbing (see sknl.h).  libnl 3.7 drops the extended ACK
 * of an error, so a custom error callback finds it in the NLMSG_ERROR
 * message itself and keeps the message, the offending attribute and any
 * missing attribute for the error line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>

#include <uapi/linux/steadykv.h>

#include "../common/mig_names.h"

#include "sknl.h"

/* libnl's own receive buffer and the socket's: big enough for any reply. */
#define NL_MSG_BUF	(32 * 1024)
#define NL_SOCK_RCVBUF	(1024 * 1024)
/* How often a dump interrupted by concurrent changes is tried again. */
#define DUMP_RETRIES	8

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- logging ---- */

static void default_log(const char *line)
{
	fprintf(stderr, "steadykvctl: %s\n", line);
}

static void (*log_fn)(const char *line) = default_log;

void sknl_set_log(void (*fn)(const char *line))
{
	log_fn = fn ? fn : default_log;
}

void sknl_log(const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(line);
}

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

const char *sknl_mig_state_name(uint32_t state)
{
	const char *name = skv_mig_state_name(state);

	return name ? name : "unknown";
}

const char *sknl_mig_mode_name(uint32_t mode)
{
	const char *name = skv_mig_mode_name(mode);

	return name ? name : "unknown";
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

bool sknl_mig_state_final(uint32_t state)
{
	return state == STEADYKV_MIGRATION_STATE_DONE ||
	       state == STEADYKV_MIGRATION_STATE_CANCELLED ||
	       state == STEADYKV_MIGRATION_STATE_FAILED;
}

const char *sknl_mig_attr_name(int type)
{
	return type > 0 && (size_t)type < ARRAY_SIZE(mig_attr_names) ? mig_attr_names[type]
								     : NULL;
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
	} else if (cmd <= STEADYKV_CMD_TABLET_GET) {
		names = tablet_attr_names;
		n = ARRAY_SIZE(tablet_attr_names);
	} else {
		names = mig_attr_names;
		n = ARRAY_SIZE(mig_attr_names);
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
	size_t payload;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlh->nlmsg_len < NLMSG_HDRLEN)
		return;
	payload = nlh->nlmsg_len - NLMSG_HDRLEN;
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
		sknl_log("warning: %s", ctx->extack);
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

void sknl_err_format(const struct sknl_err *err, char *buf, size_t len)
{
	int n;

	if (!len)
		return;
	n = snprintf(buf, len, "%s", strerror(err->error));
	if (err->msg[0] && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ": %s", err->msg);
	if (err->bad_attr && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " (attribute %s)", err->bad_attr);
	if (err->missing_attr && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " (missing attribute %s)", err->missing_attr);
}

static void set_err(struct sknl_err *err, int error, const char *msg)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	err->error = error;
	err->local = error != 0;
	if (msg)
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

/* libnl's error codes as errnos, for the failures that are not the kernel's. */
static int nle_to_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_NOMEM: return ENOMEM;
	case NLE_AGAIN: return EAGAIN;
	case NLE_INTR: return EINTR;
	case NLE_OBJ_NOTFOUND: return ENOENT;
	case NLE_PERM: return EPERM;
	case NLE_NOACCESS: return EACCES;
	case NLE_BAD_SOCK: return EBADF;
	case NLE_MSGSIZE: return EMSGSIZE;
	case NLE_MSG_TRUNC: return EMSGSIZE;
	case NLE_BUSY: return EBUSY;
	default: return EIO;
	}
}

/* 0, or a negative errno with err filled (libnl failures in err->msg). */
static int transact_once(struct sknl *nl, struct nl_msg *msg, struct sknl_ctx *ctx,
			 struct sknl_err *err)
{
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	uint8_t cmd = genlmsg_hdr(nlmsg_hdr(msg))->cmd;
	int rc;

	if (!cb) {
		set_err(err, ENOMEM, "out of memory");
		return -ENOMEM;
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
		set_err(err, -ctx->error, ctx->extack);
		if (err) {
			err->local = false;
			err->bad_attr = attr_name(cmd, ctx->bad_attr);
			err->missing_attr = attr_name(cmd, ctx->missing_attr);
		}
		return ctx->error;
	}
	if (rc < 0) {
		/* Not the kernel's word: the libnl reason stands in for extack. */
		set_err(err, nle_to_errno(rc), nl_geterror(rc));
		return -nle_to_errno(rc);
	}
	return 0;
}

int sknl_transact_err(struct sknl *nl, struct nl_msg *msg, struct sknl_replies *out,
		      struct sknl_err *err)
{
	bool interrupted = false;
	int rc = -EIO;

	set_err(err, 0, NULL);
	for (int attempt = 0; attempt < DUMP_RETRIES; attempt++) {
		struct sknl_ctx ctx = { .out = out, .req = msg };

		if (out)
			sknl_replies_free(out);
		rc = transact_once(nl, msg, &ctx, err);
		/* A dump the state changed under is read again from the start. */
		interrupted = ctx.interrupted;
		if (rc || !interrupted)
			break;
	}
	if (!rc && interrupted) {
		set_err(err, EAGAIN, "dump kept being interrupted by changes, gave up");
		rc = -EAGAIN;
	}
	if (rc && out)
		sknl_replies_free(out);
	nlmsg_free(msg);
	return rc;
}

int sknl_transact(struct sknl *nl, struct nl_msg *msg, const char *op, struct sknl_replies *out)
{
	struct sknl_err err;
	char line[512];

	if (!sknl_transact_err(nl, msg, out, &err))
		return 0;
	/*
	 * The kernel's errors read "OP: STRERROR: EXTACK"; libnl's and the
	 * retry limit "OP: REASON", as steadykvctl always printed them.
	 */
	if (err.local)
		snprintf(line, sizeof(line), "%s", err.msg);
	else
		sknl_err_format(&err, line, sizeof(line));
	sknl_log("%s: %s", op, line);
	return -1;
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

/* Socket with extended ACKs and room for big replies; family resolved. */
static int open_socket(struct sknl *nl, int rcvbuf, struct sknl_err *err)
{
	int one = 1, fd;

	nl->family = -1;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		sknl_log("out of memory");
		set_err(err, ENOMEM, "out of memory");
		return -1;
	}
	if (genl_connect(nl->sk)) {
		int e = errno ? errno : EIO;

		sknl_log("cannot open a generic netlink socket: %s", strerror(e));
		set_err(err, e, "cannot open a generic netlink socket");
		goto fail;
	}
	fd = nl_socket_get_fd(nl->sk);
	/* Error messages from the kernel, without the echoed request. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	nl_socket_set_buffer_size(nl->sk, rcvbuf, 0);
	nl_socket_enable_msg_peek(nl->sk);
	nl_socket_set_msg_buf_size(nl->sk, NL_MSG_BUF);

	nl->family = genl_ctrl_resolve(nl->sk, STEADYKV_FAMILY_NAME);
	if (nl->family < 0) {
		if (nl->family == -NLE_OBJ_NOTFOUND) {
			sknl_log("steadykv: generic netlink family not found "
				 "(is the steadykv module loaded?)");
			set_err(err, ENOENT, "generic netlink family steadykv not found "
				"(is the steadykv module loaded?)");
		} else {
			sknl_log("resolving the steadykv family: %s", nl_geterror(nl->family));
			set_err(err, nle_to_errno(nl->family), nl_geterror(nl->family));
		}
		goto fail;
	}
	return 0;
fail:
	nl_socket_free(nl->sk);
	nl->sk = NULL;
	return -1;
}

int sknl_open_err(struct sknl *nl, struct sknl_err *err)
{
	return open_socket(nl, NL_SOCK_RCVBUF, err);
}

int sknl_open(struct sknl *nl)
{
	return open_socket(nl, NL_SOCK_RCVBUF, NULL);
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
		sknl_log("monitor: no \"%s\" multicast group: %s", STEADYKV_MCGRP_EVENTS,
			 nl_geterror(grp));
	return grp;
}

int sknl_events_open(struct sknl *ev, int rcvbuf, bool nonblock)
{
	int grp;

	if (open_socket(ev, rcvbuf, NULL))
		return -1;
	grp = sknl_events_group(ev);
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
	int (*fn)(struct nl_msg *msg, void *arg);
	void *arg;
};

static int on_event(struct nl_msg *msg, void *arg)
{
	struct events_ctx *e = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	/* Only the kernel's messages of our family. */
	if (nlmsg_get_src(msg)->nl_pid != 0 || nlh->nlmsg_type != e->family ||
	    !genlmsg_valid_hdr(nlh, 0))
		return NL_SKIP;
	return e->fn(msg, e->arg);
}

static int accept_any_seq(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

int sknl_events_recv(struct sknl *ev, int (*fn)(struct nl_msg *msg, void *arg), void *arg)
{
	struct events_ctx e = { .family = ev->family, .fn = fn, .arg = arg };
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int rc;

	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, &e);
	/*
	 * The sequence check belongs to the callback set nl_recvmsgs() runs,
	 * not the socket's.
	 */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, accept_any_seq, NULL);
	rc = nl_recvmsgs_report(ev->sk, cb);
	nl_cb_put(cb);
	if (rc > 0)
		return 0;
	/* libnl reports recvmsg()'s ENOBUFS as NLE_NOMEM, EAGAIN as 0 or NLE_AGAIN. */
	if (rc == 0 || rc == -NLE_AGAIN)
		return -EAGAIN;
	if (rc == -NLE_NOMEM)
		return -ENOBUFS;
	return -nle_to_errno(rc);
}

/* ---- the migration attribute set ---- */

static const struct nla_policy mig_policy[STEADYKV_A_MIGRATION_MAX + 1] = {
	[STEADYKV_A_MIGRATION_ID] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_TABLE_ID] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_START_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_END_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_SOURCE_ADDR] = { .type = NLA_UNSPEC, .minlen = 4, .maxlen = 16 },
	[STEADYKV_A_MIGRATION_SOURCE_PORT] = { .type = NLA_U16 },
	[STEADYKV_A_MIGRATION_MODE] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PARTITIONS] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PULL_BUDGET] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PRIORITY_PULLS] = { .type = NLA_U8 },
	[STEADYKV_A_MIGRATION_STATE] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_ERROR] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_ERROR_MSG] = { .type = NLA_STRING },
	[STEADYKV_A_MIGRATION_SAFE_VERSION] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_ELAPSED_US] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PROGRESS_PERMILLE] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_BYTES_PULLED] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_RECORDS_PULLED] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_RECORDS_REPLAYED] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_RECORDS_SKIPPED] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PULLS] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PRIORITY_PULLS_SENT] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PRIORITY_KEYS] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PARTITIONS_DONE] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_OWNED_US] = { .type = NLA_U64 },
};

enum fkind { F_U8, F_U16, F_U32, F_U64 };

/* The integer attributes and where they live in struct sknl_migration. */
static const struct {
	int attr;
	enum fkind kind;
	size_t off;
} mig_ints[] = {
#define F(a, k, f) { STEADYKV_A_MIGRATION_##a, k, offsetof(struct sknl_migration, f) }
	F(ID, F_U64, id),
	F(TABLE_ID, F_U64, table_id),
	F(START_HASH, F_U64, start_hash),
	F(END_HASH, F_U64, end_hash),
	F(SOURCE_PORT, F_U16, source_port),
	F(MODE, F_U32, mode),
	F(PARTITIONS, F_U32, partitions),
	F(PULLS_IN_FLIGHT, F_U32, pulls_in_flight),
	F(PULL_BUDGET, F_U32, pull_budget),
	F(PRIORITY_PULLS, F_U8, priority_pulls),
	F(STATE, F_U32, state),
	F(ERROR, F_U32, error),
	F(SAFE_VERSION, F_U64, safe_version),
	F(ELAPSED_US, F_U64, elapsed_us),
	F(PROGRESS_PERMILLE, F_U32, progress_permille),
	F(BYTES_PULLED, F_U64, bytes_pulled),
	F(RECORDS_PULLED, F_U64, records_pulled),
	F(RECORDS_REPLAYED, F_U64, records_replayed),
	F(RECORDS_SKIPPED, F_U64, records_skipped),
	F(PULLS, F_U64, pulls),
	F(PRIORITY_PULLS_SENT, F_U64, priority_pulls_sent),
	F(PRIORITY_KEYS, F_U64, priority_keys),
	F(PARTITIONS_DONE, F_U32, partitions_done),
	F(OWNED_US, F_U64, owned_us),
#undef F
};

int sknl_migration_parse(struct nl_msg *msg, struct sknl_migration *m)
{
	struct nlattr *tb[STEADYKV_A_MIGRATION_MAX + 1];
	struct nlattr *a;

	memset(m, 0, sizeof(*m));
	if (sknl_parse(msg, tb, STEADYKV_A_MIGRATION_MAX, mig_policy))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(mig_ints); i++) {
		char *p = (char *)m + mig_ints[i].off;

		a = tb[mig_ints[i].attr];
		if (!a)
			continue;
		switch (mig_ints[i].kind) {
		case F_U8: *(uint8_t *)p = nla_get_u8(a); break;
		case F_U16: *(uint16_t *)p = nla_get_u16(a); break;
		case F_U32: *(uint32_t *)p = nla_get_u32(a); break;
		case F_U64: *(uint64_t *)p = nla_get_u64(a); break;
		}
		SKNL_SET(m, mig_ints[i].attr);
	}
	a = tb[STEADYKV_A_MIGRATION_SOURCE_ADDR];
	if (a) {
		if (nla_len(a) != 4 && nla_len(a) != 16)
			return -1;
		memcpy(m->source_addr, nla_data(a), (size_t)nla_len(a));
		m->source_addr_len = (uint8_t)nla_len(a);
		SKNL_SET(m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
	}
	a = tb[STEADYKV_A_MIGRATION_ERROR_MSG];
	if (a) {
		/* NLA_STRING: the length may or may not count a NUL. */
		snprintf(m->error_msg, sizeof(m->error_msg), "%.*s", nla_len(a),
			 (const char *)nla_data(a));
		SKNL_SET(m, STEADYKV_A_MIGRATION_ERROR_MSG);
	}
	return 0;
}

int sknl_migration_put(struct nl_msg *msg, const struct sknl_migration *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(mig_ints); i++) {
		const char *p = (const char *)m + mig_ints[i].off;
		int attr = mig_ints[i].attr;
		int rc = 0;

		if (!SKNL_HAS(m, attr))
			continue;
		switch (mig_ints[i].kind) {
		case F_U8: rc = nla_put_u8(msg, attr, *(const uint8_t *)p); break;
		case F_U16: rc = nla_put_u16(msg, attr, *(const uint16_t *)p); break;
		case F_U32: rc = nla_put_u32(msg, attr, *(const uint32_t *)p); break;
		/* libnl's 64-bit puts do not pad; the kernel accepts unaligned u64s. */
		case F_U64: rc = nla_put_u64(msg, attr, *(const uint64_t *)p); break;
		}
		if (rc)
			return -1;
	}
	if (SKNL_HAS(m, STEADYKV_A_MIGRATION_SOURCE_ADDR)) {
		if ((m->source_addr_len != 4 && m->source_addr_len != 16) ||
		    nla_put(msg, STEADYKV_A_MIGRATION_SOURCE_ADDR, m->source_addr_len,
			    m->source_addr))
			return -1;
	}
	if (SKNL_HAS(m, STEADYKV_A_MIGRATION_ERROR_MSG) &&
	    nla_put_string(msg, STEADYKV_A_MIGRATION_ERROR_MSG, m->error_msg))
		return -1;
	return 0;
}

void sknl_migration_source(const struct sknl_migration *m, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!len)
		return;
	buf[0] = 0;
	if (!SKNL_HAS(m, STEADYKV_A_MIGRATION_SOURCE_ADDR) ||
	    !inet_ntop(m->source_addr_len == 4 ? AF_INET : AF_INET6, m->source_addr, a,
		       sizeof(a)))
		return;
	if (m->source_addr_len == 16)
		snprintf(buf, len, "[%s]:%u", a, m->source_port);
	else
		snprintf(buf, len, "%s:%u", a, m->source_port);
}
