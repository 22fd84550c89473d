// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libskvnl's core (see sknl.h): sockets, requests and their errors.
 * libnl 3.7 drops the extended ACK of an error, so a custom error callback
 * finds it in the NLMSG_ERROR message itself and keeps the message, the
 * offending attribute and any missing attribute for the error line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>

#include <uapi/linux/steadykv.h>

#include "sknl.h"
#include "sknl_int.h"

/* libnl's own receive buffer and the socket's: big enough for any reply. */
#define NL_MSG_BUF	(32 * 1024)
#define NL_SOCK_RCVBUF	(1024 * 1024)
/* How often a dump interrupted by concurrent changes is tried again. */
#define DUMP_RETRIES	8

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

int sknl_err_local(struct sknl_err *err, int e, const char *fmt, ...)
{
	set_err(err, e, NULL);
	if (err) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -e;
}

void sknl_err_log(const char *op, const struct sknl_err *err)
{
	char line[512];

	/*
	 * The kernel's errors read "OP: STRERROR: EXTACK"; libnl's and the
	 * retry limit "OP: REASON", as steadykvctl always printed them.
	 */
	if (err->local)
		snprintf(line, sizeof(line), "%s", err->msg);
	else
		sknl_err_format(err, line, sizeof(line));
	sknl_log("%s: %s", op, line);
}

/* libnl's error codes as errnos, for the failures that are not the kernel's. */
int sknl_nle_to_errno(int nle)
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
			err->bad_type = ctx->bad_attr;
			err->missing_type = ctx->missing_attr;
			err->bad_attr = sknl_attr_name(cmd, ctx->bad_attr);
			err->missing_attr = sknl_attr_name(cmd, ctx->missing_attr);
		}
		return ctx->error;
	}
	if (rc < 0) {
		/* Not the kernel's word: the libnl reason stands in for extack. */
		set_err(err, sknl_nle_to_errno(rc), nl_geterror(rc));
		return -sknl_nle_to_errno(rc);
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

	if (!sknl_transact_err(nl, msg, out, &err))
		return 0;
	sknl_err_log(op, &err);
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

int sknl_do(struct sknl *nl, uint8_t cmd, int flags, int (*fill)(struct nl_msg *msg, const void *a),
	    const void *a, struct sknl_replies *out, struct sknl_err *err)
{
	struct nl_msg *msg = sknl_request(nl, cmd, flags);

	if (!msg || (fill && fill(msg, a))) {
		nlmsg_free(msg);
		return sknl_err_local(err, ENOMEM, "cannot build the %s request",
				      sknl_cmd_name(cmd));
	}
	return sknl_transact_err(nl, msg, out, err);
}

int sknl_one_reply(const struct sknl_replies *r, const char *what, struct sknl_err *err)
{
	if (r->count == 1)
		return 0;
	return sknl_err_local(err, EPROTO, "%s: %zu replies, expected one", what, r->count);
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
int sknl_open_socket(struct sknl *nl, int rcvbuf, struct sknl_err *err)
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
			set_err(err, sknl_nle_to_errno(nl->family), nl_geterror(nl->family));
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
	return sknl_open_socket(nl, NL_SOCK_RCVBUF, err);
}

int sknl_open(struct sknl *nl)
{
	return sknl_open_socket(nl, NL_SOCK_RCVBUF, NULL);
}

void sknl_close(struct sknl *nl)
{
	if (nl->sk)
		nl_socket_free(nl->sk);
	nl->sk = NULL;
}

