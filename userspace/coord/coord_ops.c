// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator's op machinery (see coordinator.c): an op is a client's
 * request waiting for node daemons; its commands (cmds) go out on the
 * daemons' connections, and the op finishes, answering the client, when
 * the last reply, timeout or disconnection is in.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"

void coord_op_fail(struct op *op, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keep the first failure. */
void coord_op_fail(struct op *op, int err, const char *fmt, ...)
{
	va_list ap;

	if (op->err)
		return;
	op->err = err < 0 ? -err : err;
	va_start(ap, fmt);
	vsnprintf(op->msg, sizeof(op->msg), fmt, ap);
	va_end(ap);
}

/* ---- commands to node daemons ---- */

int coord_send_cmd_until(struct coordinator *c, uint32_t node, uint8_t opcode,
			 const struct coord_buf *body, struct op *op, size_t idx,
			 int64_t deadline)
{
	struct conn *cn = coord_node_conn(c, node);
	struct cmd *cmd;

	if (!cn)
		return -EHOSTUNREACH;
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return -ENOMEM;
	cmd->node = cn;
	cmd->req_id = c->next_cmd_id++;
	cmd->opcode = opcode;
	cmd->op = op;
	cmd->idx = idx;
	cmd->deadline = deadline;
	/* The map's version: the epoch the node learns with the command. */
	coord_conn_frame(cn, opcode, 0, (uint32_t)c->st.map.version, cmd->req_id,
			 body->p, body->len);
	if (cn->dead) {
		free(cmd);
		return -EHOSTUNREACH;
	}
	cmd->next = c->cmds;
	c->cmds = cmd;
	if (op)
		op->pending++;
	return 0;
}

int coord_send_cmd(struct coordinator *c, uint32_t node, uint8_t opcode,
		   const struct coord_buf *body, struct op *op, size_t idx)
{
	return coord_send_cmd_until(c, node, opcode, body, op, idx,
				    coord_mono_ms() + c->node_timeout_ms);
}


static void op_finish(struct coordinator *c, struct op *op);

/* A command's outcome: status 0 or a positive errno, the node's message. */
static void cmd_result(struct coordinator *c, struct cmd *cmd, int status,
		       const char *msg)
{
	struct op *op = cmd->op;

	if (!op) {
		if (status)
			coord_logmsg(c, true, "node %u: command %u: %s",
				     cmd->node->node_id, cmd->opcode, msg);
		return;
	}
	switch (op->kind) {
	case OP_CREATE:
		if (status)
			coord_op_fail(op, status, "node %u: %s", cmd->node->node_id,
				      msg);
		else if (cmd->idx < op->nr)
			op->acked[cmd->idx] = true;
		break;
	case OP_DROP:
		/* The map no longer has the table: node errors are logged. */
		if (status && status != ENOENT)
			coord_logmsg(c, true, "drop table %llu: node %u: %s",
				     (unsigned long long)op->table_id,
				     cmd->node->node_id, msg);
		break;
	case OP_MIGRATE:
	case OP_CANCEL:
	case OP_RECOVER:
		if (status)
			coord_op_fail(op, status, "node %u: %s", cmd->node->node_id,
				      msg);
		break;
	}
	if (--op->pending == 0)
		op_finish(c, op);
}

static void cmd_unlink(struct coordinator *c, struct cmd *cmd)
{
	struct cmd **pp;

	for (pp = &c->cmds; *pp; pp = &(*pp)->next) {
		if (*pp == cmd) {
			*pp = cmd->next;
			return;
		}
	}
}

void coord_handle_reply(struct coordinator *c, struct conn *cn,
			const struct coord_hdr *h, const uint8_t *body)
{
	struct cmd *cmd;

	for (cmd = c->cmds; cmd; cmd = cmd->next)
		if (cmd->node == cn && cmd->req_id == h->request_id)
			break;
	if (!cmd || cmd->opcode != h->opcode) {
		if (c->verbose)
			coord_logmsg(c, false, "stray reply %llu from node %u",
				     (unsigned long long)h->request_id, cn->node_id);
		return;
	}
	cmd_unlink(c, cmd);
	cmd_result(c, cmd, h->status,
		   h->status ? coord_error_msg(h->status, body, h->body_len) : "");
	free(cmd);
}

/* Fail every command for which @pred holds (dead node or past deadline). */
void coord_fail_cmds(struct coordinator *c, const struct conn *gone,
		     int64_t now)
{
	bool again = true;

	/* cmd_result may add and remove commands: restart after each. */
	while (again) {
		struct cmd *cmd;

		again = false;
		for (cmd = c->cmds; cmd; cmd = cmd->next) {
			int err;

			if (gone && cmd->node == gone)
				err = EHOSTUNREACH;
			else if (!gone && now >= cmd->deadline)
				err = ETIMEDOUT;
			else
				continue;
			cmd_unlink(c, cmd);
			if (cmd->op)
				cmd->op->unanswered = true;
			cmd_result(c, cmd, err, err == ETIMEDOUT ?
				   "no reply from the node daemon" :
				   "node daemon disconnected");
			free(cmd);
			again = true;
			break;
		}
	}
}

/* ---- ops ---- */

struct op *coord_op_new(struct coordinator *c, struct conn *client,
			const struct coord_hdr *h, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->client = client;
	if (h) {
		op->opcode = h->opcode;
		op->req_id = h->request_id;
	}
	op->kind = kind;
	op->pending = 1;	/* held by the starter until op_start_done */
	op->next = c->ops;
	c->ops = op;
	if (client)
		client->busy = true;
	return op;
}

/* The starter has sent all it will send. */
void coord_op_start_done(struct coordinator *c, struct op *op)
{
	if (--op->pending == 0)
		op_finish(c, op);
}

bool coord_table_has_op(const struct coordinator *c, uint64_t table_id)
{
	const struct op *op;

	for (op = c->ops; op; op = op->next)
		if ((op->kind == OP_CREATE || op->kind == OP_DROP) &&
		    op->table_id == table_id)
			return true;
	return false;
}

void coord_op_free(struct coordinator *c, struct op *op)
{
	struct op **pp;

	for (pp = &c->ops; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	free(op->tablets);
	free(op->owners);
	free(op->acked);
	free(op);
}

static void op_finish(struct coordinator *c, struct op *op)
{
	struct conn *cl = op->client;
	struct coord_buf b;

	switch (op->kind) {
	case OP_CREATE:
		coord_finish_create(c, op);
		break;
	case OP_MIGRATE:
		coord_finish_migrate(c, op);
		break;
	case OP_CANCEL:
		coord_finish_cancel(c, op);
		break;
	case OP_RECOVER:
		coord_finish_recover(c, op);
		break;
	case OP_DROP:
		break;
	}
	if (cl) {
		cl->busy = false;
		if (op->err) {
			coord_reply_err(cl, op->opcode, op->req_id, op->err, "%s",
					op->msg);
		} else if (op->kind == OP_MIGRATE) {
			const struct skv_migration *g = coord_mig_find(c, op->mig_id);

			coord_buf_init(&b);
			if (g && !coord_mig_encode(&b, g))
				coord_reply_ok(cl, op->opcode, op->req_id, b.p, b.len);
			else
				coord_reply_err(cl, op->opcode, op->req_id, ENOMEM,
						"out of memory");
			coord_buf_free(&b);
		} else {
			coord_reply_ok(cl, op->opcode, op->req_id, NULL, 0);
		}
	}
	coord_op_free(c, op);
}
