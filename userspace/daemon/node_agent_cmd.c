// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator's NODE_* commands to the node agent (see node_agent_int.h),
 * carried out on the module; each gets a reply with the module's errno and
 * extack message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#include "node_agent_int.h"

/* The reply message for a netlink failure: extack, else strerror. */
static void err_text(const struct sknl_err *err, char *buf, size_t len)
{
	if (!err->msg[0])
		snprintf(buf, len, "%s", strerror(err->error));
	else if (err->bad_attr)
		snprintf(buf, len, "%s (attribute %s)", err->msg, err->bad_attr);
	else if (err->missing_attr)
		snprintf(buf, len, "%s (missing attribute %s)", err->msg, err->missing_attr);
	else
		snprintf(buf, len, "%s", err->msg);
}

/* Logs a tablet change the module made (@rc == 0); returns @rc. */
static int log_tablet(int rc, const char *what, const struct coord_tablet_info *t)
{
	if (!rc)
		agent_log("tablet %s: table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64,
			  what, t->table_id, t->start_hash, t->end_hash);
	return rc;
}

static int cmd_tablet_add(struct agent *a, const void *body, size_t len, struct sknl_err *err)
{
	struct coord_tablet_info t;
	int rc;

	if (coord_tablet_decode(body, len, &t))
		return sknl_err_local(err, EINVAL, "malformed tablet (%zu bytes)", len);
	rc = a->nl->table_add(a->nl_arg, t.table_id, err);
	if (rc && rc != -EEXIST)
		return rc;
	rc = a->nl->tablet_add(a->nl_arg, t.table_id, t.start_hash, t.end_hash, err);
	return log_tablet(rc, "added", &t);
}

static int cmd_tablet_del(struct agent *a, const void *body, size_t len, struct sknl_err *err)
{
	struct coord_tablet_info t;
	int rc;

	if (coord_tablet_decode(body, len, &t))
		return sknl_err_local(err, EINVAL, "malformed tablet (%zu bytes)", len);
	rc = a->nl->tablet_del(a->nl_arg, t.table_id, t.start_hash, t.end_hash, err);
	return log_tablet(rc, "deleted", &t);
}

static int cmd_table_del(struct agent *a, const void *body, size_t len, struct sknl_err *err)
{
	struct coord_table_req t;
	int rc;

	if (coord_table_decode(body, len, &t))
		return sknl_err_local(err, EINVAL, "malformed table (%zu bytes)", len);
	free(t.nodes);
	rc = a->nl->table_del(a->nl_arg, t.table_id, err);
	if (!rc)
		agent_log("table deleted: %" PRIu64, t.table_id);
	return rc;
}

/* The record goes to the module as the coordinator sent it. */
static int cmd_migrate_start(struct agent *a, const void *body, size_t len,
			     struct sknl_err *err)
{
	struct skv_migration m;
	char host[SKV_MIG_ADDR_MAX];
	uint16_t port;
	int rc;

	if (coord_mig_decode(body, len, &m))
		return sknl_err_local(err, EINVAL, "malformed migration (%zu bytes)", len);
	if (m.id == 0)
		return sknl_err_local(err, EINVAL, "migration id 0");
	if (parse_hostport(m.source, host, sizeof(host), &port))
		return sknl_err_local(err, EHOSTUNREACH,
				      "cannot resolve the source address \"%s\"", m.source);
	rc = a->nl->migrate_start(a->nl_arg, &m, err);
	if (!rc)
		agent_log("migration %" PRIu64 ": started, table %" PRIu64 " 0x%016" PRIx64
			  "-0x%016" PRIx64 " from %s (%s)", m.id, m.table_id, m.start_hash,
			  m.end_hash, m.source, skv_mig_mode_str(m.mode));
	return rc;
}

static int cmd_migrate_cancel(struct agent *a, const void *body, size_t len,
			      struct sknl_err *err)
{
	uint64_t id;
	int rc;

	if (coord_id_decode(body, len, &id))
		return sknl_err_local(err, EINVAL, "malformed migration id (%zu bytes)", len);
	rc = a->nl->migrate_cancel(a->nl_arg, id, err);
	if (!rc)
		agent_log("migration %" PRIu64 ": cancel requested", id);
	return rc;
}

static int cmd_migrate_decide(struct agent *a, const void *body, size_t len,
			      struct sknl_err *err)
{
	uint64_t id;
	bool abort;
	int rc;

	if (coord_decision_decode(body, len, &id, &abort))
		return sknl_err_local(err, EINVAL, "malformed decision (%zu bytes)", len);
	if (!a->nl->migrate_decide)
		return sknl_err_local(err, EOPNOTSUPP, "no migrate-decide in this module interface");
	rc = a->nl->migrate_decide(a->nl_arg, id, abort, err);
	if (!rc)
		agent_log("migration %" PRIu64 ": %s, as the coordinator decided", id,
			  abort ? "aborted (its range served again at its source)" :
			  "committed (the source's copy dropped)");
	return rc;
}

/* The backups the coordinator gave this node, by address, to the module. */
static int cmd_repl_set(struct agent *a, const void *body, size_t len, struct sknl_err *err)
{
	struct sknl_repl_backup b[SKV_COORD_REPL_MAX];
	struct coord_repl_info r;
	char host[SKV_COORD_ADDR_MAX];
	int rc;

	if (coord_repl_decode(body, len, &r))
		return sknl_err_local(err, EINVAL, "malformed replication (%zu bytes)", len);
	if (!a->nl->repl_set)
		return sknl_err_local(err, EOPNOTSUPP, "replication not supported");
	for (uint32_t i = 0; i < r.nr_backups; i++) {
		if (parse_hostport(r.backups[i].addr, host, sizeof(host), &b[i].port) ||
		    sknl_addr_resolve(host, b[i].addr, &b[i].alen))
			return sknl_err_local(err, EHOSTUNREACH,
					      "cannot resolve the backup address \"%s\"",
					      r.backups[i].addr);
	}
	rc = a->nl->repl_set(a->nl_arg, r.primary_id, r.epoch, b, (int)r.nr_backups, err);
	if (!rc)
		agent_log("replication: %u backups, epoch %" PRIu64, r.nr_backups, r.epoch);
	return rc;
}

/* Fence a dead primary here: its old epoch is refused from now on. */
static int cmd_repl_fence(struct agent *a, const void *body, size_t len, struct sknl_err *err)
{
	struct coord_repl_info r;
	int rc;

	if (coord_repl_decode(body, len, &r) || r.nr_backups)
		return sknl_err_local(err, EINVAL, "malformed fence (%zu bytes)", len);
	if (!a->nl->repl_fence)
		return sknl_err_local(err, EOPNOTSUPP, "replication not supported");
	rc = a->nl->repl_fence(a->nl_arg, r.primary_id, r.epoch, err);
	if (!rc)
		agent_log("replication: node %" PRIu64 " fenced here, epoch %" PRIu64,
			  r.primary_id, r.epoch);
	return rc;
}

/*
 * Rebuild a lost tablet of a dead primary from the replica held here
 * (skv_coord_repl then skv_coord_tablet), on the recovery thread
 * (node_agent_recover.c): heartbeats go on meanwhile.
 */
static int cmd_repl_recover(struct agent *a, const void *body, size_t len,
			    struct sknl_err *err)
{
	const size_t head = sizeof(struct skv_coord_repl);
	struct coord_tablet_info t;
	struct coord_repl_info r;
	int rc;

	if (len < head || coord_repl_decode(body, head, &r) || r.nr_backups ||
	    coord_tablet_decode((const uint8_t *)body + head, len - head, &t))
		return sknl_err_local(err, EINVAL, "malformed recovery (%zu bytes)", len);
	if (!a->nl->repl_recover)
		return sknl_err_local(err, EOPNOTSUPP, "recovery not supported");
	rc = recover_submit(a, a->cmd_request_id, &r, &t, err);
	return rc ? rc : AGENT_REPLY_LATER;
}

static const struct {
	uint8_t op;
	const char *name;
	int (*fn)(struct agent *a, const void *body, size_t len, struct sknl_err *err);
} commands[] = {
	{ SKV_COORD_OP_NODE_TABLET_ADD, "tablet-add", cmd_tablet_add },
	{ SKV_COORD_OP_NODE_TABLET_DEL, "tablet-del", cmd_tablet_del },
	{ SKV_COORD_OP_NODE_TABLE_DEL, "table-del", cmd_table_del },
	{ SKV_COORD_OP_NODE_MIGRATE_START, "migrate-start", cmd_migrate_start },
	{ SKV_COORD_OP_NODE_REPL_SET, "repl-set", cmd_repl_set },
	{ SKV_COORD_OP_NODE_REPL_FENCE, "repl-fence", cmd_repl_fence },
	{ SKV_COORD_OP_NODE_REPL_RECOVER, "repl-recover", cmd_repl_recover },
	{ SKV_COORD_OP_NODE_MIGRATE_CANCEL, "migrate-cancel", cmd_migrate_cancel },
	{ SKV_COORD_OP_NODE_MIGRATE_DECIDE, "migrate-decide", cmd_migrate_decide },
};

void agent_reply(struct agent *a, uint8_t op, const char *name, uint64_t request_id,
		 int rc, struct sknl_err *err)
{
	if (!rc) {
		rc = coord_frame_append(&a->out, op, SKV_COORD_F_REPLY, 0, request_id, NULL, 0);
	} else {
		char msg[512];

		if (!err->error)
			err->error = -rc;
		err_text(err, msg, sizeof(msg));
		agent_log("%s (request %" PRIu64 "): %s: %s", name ? name : "command",
			  request_id, strerror(err->error), msg);
		rc = coord_frame_append_error(&a->out, op, request_id, err->error, msg);
	}
	if (rc)
		agent_log("cannot queue a reply: %s", strerror(-rc));
}

void handle_request(struct agent *a, const struct coord_hdr *h, const uint8_t *body)
{
	struct sknl_err err = { 0 };
	const char *name = NULL;
	int rc = -EOPNOTSUPP;

	/* Not for another node than the one registered: no answer, it stops. */
	if (node_began_again(a, true))
		return;
	/*
	 * The node learns the epoch the command comes with before it acts
	 * (wire.h "Epochs").  Without it the node keeps an older epoch: it
	 * refuses less, never more, so the command still runs.
	 */
	if (h->epoch && a->nl->learn_epoch &&
	    a->nl->learn_epoch(a->nl_arg, h->epoch, &err)) {
		char msg[512];

		err_text(&err, msg, sizeof(msg));
		agent_log("epoch %" PRIu32 ": %s", h->epoch, msg);
		memset(&err, 0, sizeof(err));
	}
	a->cmd_request_id = h->request_id;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (commands[i].op == h->opcode) {
			name = commands[i].name;
			rc = commands[i].fn(a, body, h->body_len, &err);
			break;
		}
	}
	if (!name) {
		sknl_err_local(&err, EOPNOTSUPP, "opcode %u is not a node command", h->opcode);
		rc = -EOPNOTSUPP;
	}
	if (rc != AGENT_REPLY_LATER)
		agent_reply(a, h->opcode, name, h->request_id, rc, &err);
}

void handle_reply(struct agent *a, const struct coord_hdr *h, const uint8_t *body)
{
	if (a->cs == C_AUTH_HELLO || a->cs == C_AUTH_PROOF) {
		conn_auth_reply(a, h, body);
		return;
	}
	if (a->cs == C_REGISTERING && h->request_id == a->register_id) {
		if (h->opcode != SKV_COORD_OP_NODE_REGISTER || h->status) {
			agent_log("coordinator refused the registration: %s",
			      coord_error_msg(h->status, body, h->body_len));
			conn_close(a, NULL);
			return;
		}
		a->cs = C_READY;
		a->backoff = a->backoff_min;
		a->coords_tried = 0;
		a->announced_down = false;
		agent_log("registered with the coordinator %s:%u as node %" PRIu32 " (data %s)",
		      a->coord_host, a->coord_port, a->o->node_id, a->data_addr);
		mig_report_all(a);
		return;
	}
	if (h->opcode == SKV_COORD_OP_NODE_LOAD && h->status == EOPNOTSUPP) {
		/* An older coordinator: heartbeats alone, until it reconnects. */
		agent_log("the coordinator takes no load reports (NODE_LOAD)");
		a->load_refused = true;
		return;
	}
	if (h->status)
		agent_log("coordinator: reply to request %" PRIu64 " (opcode %u): %s", h->request_id,
		      h->opcode, coord_error_msg(h->status, body, h->body_len));
}

