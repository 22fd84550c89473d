// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator: a single-threaded poll() loop serving coord.h.
 *
 * Requests that need node daemons (TABLE_CREATE, TABLE_DROP, MIGRATE,
 * MIG_CANCEL) become an "op": the coordinator sends NODE_* commands
 * ("cmds") on the daemons' connections and answers the client when the
 * last reply (or a timeout, or the daemon's disconnection) is in.  While
 * an op is pending its client's later requests wait in its input buffer,
 * so replies stay in request order; replies from peers are handled at
 * once whatever the state of the connection.
 *
 * Durability: every change of the map, of a migration's phase or of the
 * lineage is saved through the state store before it is acknowledged.
 * When a save fails the coordinator reloads the last saved state: the
 * durable state is the truth.  Migration counters are kept in memory only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* accept4, endian.h */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uapi/linux/steadykv.h>

#include "coord_proto.h"
#include "../common/mig_names.h"
#include "../common/parse.h"
#include "coordinator.h"
#include "state_store.h"
#include "tablet_map.h"

#define MAX_CONNS		1024
#define MAX_TABLE_NODES		4096	/* tablets of one TABLE_CREATE */
#define OUT_LIMIT		(64u << 20)	/* unread replies: close */
#define READ_CHUNK		65536u
#define DEFAULT_LISTEN		"0.0.0.0:7100"
#define DEFAULT_STATE		"./steadykv-coord.state"
#define DEFAULT_NODE_TIMEOUT	10000

/* The progress counters a MIG_REPORT brings (kept in memory only). */
#define REPORT_COUNTER_BITS					\
	((1ull << STEADYKV_A_MIGRATION_PROGRESS_PERMILLE) |	\
	 (1ull << STEADYKV_A_MIGRATION_ELAPSED_US) |		\
	 (1ull << STEADYKV_A_MIGRATION_OWNED_US) |		\
	 (1ull << STEADYKV_A_MIGRATION_BYTES_PULLED) |		\
	 (1ull << STEADYKV_A_MIGRATION_RECORDS_PULLED) |	\
	 (1ull << STEADYKV_A_MIGRATION_RECORDS_REPLAYED) |	\
	 (1ull << STEADYKV_A_MIGRATION_RECORDS_SKIPPED) |	\
	 (1ull << STEADYKV_A_MIGRATION_PULLS) |			\
	 (1ull << STEADYKV_A_MIGRATION_PRIORITY_PULLS_SENT) |	\
	 (1ull << STEADYKV_A_MIGRATION_PRIORITY_KEYS) |		\
	 (1ull << STEADYKV_A_MIGRATION_PARTITIONS_DONE))


struct conn {
	int fd;
	bool dead;
	bool busy;		/* one of its requests waits for nodes */
	uint32_t node_id;	/* registered node daemon, 0 otherwise */
	struct coord_buf in, out;
};

enum op_kind { OP_CREATE, OP_DROP, OP_MIGRATE, OP_CANCEL };

struct op {
	struct op *next;
	struct conn *client;	/* NULL once the client left */
	uint8_t opcode;
	uint64_t req_id;
	enum op_kind kind;
	uint64_t table_id;
	uint64_t mig_id;
	int pending;		/* cmds without a reply yet */
	int err;		/* first failure, positive errno */
	char msg[256];
	/* OP_CREATE: the tablets to add, which node acked. */
	struct tmap_tablet *tablets;
	uint32_t *owners;
	bool *acked;
	size_t nr;
};

struct cmd {
	struct cmd *next;
	struct conn *node;
	uint64_t req_id;
	uint8_t opcode;
	struct op *op;		/* NULL: nobody waits for the reply */
	size_t idx;
	int64_t deadline;	/* monotonic ms */
};

struct coordinator {
	int lfd;
	uint16_t port;
	struct coord_store *store;
	struct coord_state st;
	struct conn **conns;
	size_t nr_conns;
	struct op *ops;
	struct cmd *cmds;
	uint64_t next_cmd_id;
	int node_timeout_ms;
	int verbose, quiet;
};

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void logmsg(const struct coordinator *c, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void logmsg(const struct coordinator *c, bool error, const char *fmt, ...)
{
	va_list ap;

	if (c->quiet && !error)
		return;
	fputs("steadykvd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct conn *node_conn(const struct coordinator *c, uint32_t id)
{
	size_t i;

	if (!id)
		return NULL;
	for (i = 0; i < c->nr_conns; i++)
		if (!c->conns[i]->dead && c->conns[i]->node_id == id)
			return c->conns[i];
	return NULL;
}

static void conn_kill(struct conn *cn)
{
	cn->dead = true;
}

static void conn_frame(struct conn *cn, uint8_t opcode, uint8_t flags,
		       uint16_t status, uint64_t id, const void *body, size_t len)
{
	if (cn->dead)
		return;
	if (cn->out.len > OUT_LIMIT ||
	    coord_frame_append(&cn->out, opcode, flags, status, id, body, len))
		conn_kill(cn);
}

static void reply_ok(struct conn *cn, uint8_t opcode, uint64_t id,
		     const void *body, size_t len)
{
	conn_frame(cn, opcode, SKV_COORD_F_REPLY, 0, id, body, len);
}

static void reply_err(struct conn *cn, uint8_t opcode, uint64_t id, int err,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void reply_err(struct conn *cn, uint8_t opcode, uint64_t id, int err,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (cn->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (coord_frame_append_error(&cn->out, opcode, id, err, msg))
		conn_kill(cn);
}

static void op_fail(struct op *op, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Keep the first failure. */
static void op_fail(struct op *op, int err, const char *fmt, ...)
{
	va_list ap;

	if (op->err)
		return;
	op->err = err < 0 ? -err : err;
	va_start(ap, fmt);
	vsnprintf(op->msg, sizeof(op->msg), fmt, ap);
	va_end(ap);
}

/* ---- durable state ---- */

static void reload(struct coordinator *c)
{
	struct coord_state fresh;

	coord_state_init(&fresh);
	if (coord_store_load_state(c->store, &fresh)) {
		logmsg(c, true, "reload after failed save: %s",
		       coord_store_error(c->store));
		coord_state_free(&fresh);
		return;
	}
	coord_state_free(&c->st);
	c->st = fresh;
}

/*
 * Save the state; on failure, go back to the last saved one and put the
 * reason in @msg.  0 or -errno.
 */
static int persist(struct coordinator *c, char *msg, size_t n)
{
	int err = coord_store_save_state(c->store, &c->st);

	if (!err)
		return 0;
	snprintf(msg, n, "state not saved: %s", coord_store_error(c->store));
	logmsg(c, true, "%s", msg);
	reload(c);
	return err;
}

static struct skv_migration *mig_find(struct coordinator *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->st.nr_migs; i++)
		if (c->st.migs[i].id == id)
			return &c->st.migs[i];
	return NULL;
}

/* Append, making room by forgetting the oldest finished migration. */
static int mig_add(struct coordinator *c, const struct skv_migration *g)
{
	struct coord_state *st = &c->st;
	struct skv_migration *v;

	if (st->nr_migs >= COORD_KEEP_MIGRATIONS) {
		size_t i;

		for (i = 0; i < st->nr_migs; i++)
			if (skv_mig_state_final(st->migs[i].state))
				break;
		if (i == st->nr_migs)
			return -EBUSY;
		memmove(&st->migs[i], &st->migs[i + 1],
			(st->nr_migs - i - 1) * sizeof(*st->migs));
		st->nr_migs--;
	}
	v = realloc(st->migs, (st->nr_migs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->migs = v;
	v[st->nr_migs++] = *g;
	return 0;
}

static struct coord_lineage *lineage_find(struct coordinator *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->st.nr_lineage; i++)
		if (c->st.lineage[i].mig_id == id)
			return &c->st.lineage[i];
	return NULL;
}

static int lineage_add(struct coordinator *c, const struct coord_lineage *l)
{
	struct coord_lineage *v;

	if (c->st.nr_lineage >= COORD_MAX_LINEAGE)
		return -ENOSPC;
	v = realloc(c->st.lineage, (c->st.nr_lineage + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->st.lineage = v;
	v[c->st.nr_lineage++] = *l;
	return 0;
}

/* Drop the records matching @mig_id (or, if 0, @table_id). */
static void lineage_drop(struct coordinator *c, uint64_t mig_id,
			 uint64_t table_id)
{
	size_t i = 0;

	while (i < c->st.nr_lineage) {
		const struct coord_lineage *l = &c->st.lineage[i];

		if (mig_id ? l->mig_id == mig_id : l->table_id == table_id) {
			memmove(&c->st.lineage[i], &c->st.lineage[i + 1],
				(c->st.nr_lineage - i - 1) * sizeof(*l));
			c->st.nr_lineage--;
		} else {
			i++;
		}
	}
}

/* The tablet that is exactly the migration's range, or NULL. */
static const struct tmap_tablet *mig_tablet(const struct coordinator *c,
					    const struct skv_migration *g)
{
	const struct tmap_tablet *t = tmap_find(&c->st.map, g->table_id,
						g->start_hash);

	if (!t || t->start != g->start_hash || t->end != g->end_hash)
		return NULL;
	return t;
}

/*
 * Apply a migration's new phase to the map and lineage.  Only a phase
 * that comes after the one held (skv_mig_state_later) is applied: reports
 * may skip phases, and final phases never change again.
 */
static void mig_transition(struct coordinator *c, struct skv_migration *g,
			   uint32_t state, uint32_t error)
{
	const struct tmap_tablet *t = mig_tablet(c, g);
	struct tablet_map *m = &c->st.map;

	if (!skv_mig_state_later(g->state, state))
		return;
	switch (state) {
	case STEADYKV_MIGRATION_STATE_PULLING:
		/*
		 * Rocksteady (also when the mode was not given: the module's
		 * default, 0): the target owns the range from now on.
		 */
		if (g->mode == STEADYKV_MIGRATION_MODE_ROCKSTEADY && t &&
		    t->state == TMAP_NORMAL && t->owner == g->src)
			tmap_start_migration(m, g->table_id, t->start, g->dst);
		break;
	case STEADYKV_MIGRATION_STATE_DONE:
		if (t && t->state == TMAP_MIGRATING && t->dst == g->dst)
			tmap_finish_migration(m, g->table_id, t->start);
		else if (t && t->state == TMAP_NORMAL && t->owner == g->src)
			tmap_set_owner(m, g->table_id, t->start, g->dst);	/* push */
		/*
		 * Until re-replication of the target's side logs exists, the
		 * lineage is dropped at completion.
		 */
		lineage_drop(c, g->id, 0);
		break;
	case STEADYKV_MIGRATION_STATE_FAILED:
	case STEADYKV_MIGRATION_STATE_CANCELLED:
		if (error == SKV_COORD_ERR_NEEDS_RECOVERY) {
			/* The target keeps the range; lineage kept to rebuild it. */
			if (t && t->state == TMAP_MIGRATING && t->dst == g->dst)
				tmap_finish_migration(m, g->table_id, t->start);
			break;
		}
		if (t && t->state == TMAP_MIGRATING && t->src == g->src)
			tmap_abort_migration(m, g->table_id, t->start);
		lineage_drop(c, g->id, 0);
		break;
	default:
		break;
	}
	g->state = state;
	g->error = error;
}

static void mig_set_msg(struct skv_migration *g, const char *msg)
{
	snprintf(g->error_msg, sizeof(g->error_msg), "%s", msg);
	SKV_MIG_SET(g, STEADYKV_A_MIGRATION_ERROR_MSG);
}

/* ---- commands to node daemons ---- */

static int send_cmd(struct coordinator *c, uint32_t node, uint8_t opcode,
		    const struct coord_buf *body, struct op *op, size_t idx)
{
	struct conn *cn = node_conn(c, node);
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
	cmd->deadline = mono_ms() + c->node_timeout_ms;
	conn_frame(cn, opcode, 0, 0, cmd->req_id, body->p, body->len);
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

static void op_finish(struct coordinator *c, struct op *op);

/* A command's outcome: status 0 or a positive errno, the node's message. */
static void cmd_result(struct coordinator *c, struct cmd *cmd, int status,
		       const char *msg)
{
	struct op *op = cmd->op;

	if (!op) {
		if (status)
			logmsg(c, true, "node %u: command %u: %s",
			       cmd->node->node_id, cmd->opcode, msg);
		return;
	}
	switch (op->kind) {
	case OP_CREATE:
		if (status)
			op_fail(op, status, "node %u: %s", cmd->node->node_id,
				msg);
		else if (cmd->idx < op->nr)
			op->acked[cmd->idx] = true;
		break;
	case OP_DROP:
		/* The map no longer has the table: node errors are logged. */
		if (status && status != ENOENT)
			logmsg(c, true, "drop table %llu: node %u: %s",
			       (unsigned long long)op->table_id,
			       cmd->node->node_id, msg);
		break;
	case OP_MIGRATE:
	case OP_CANCEL:
		if (status)
			op_fail(op, status, "node %u: %s", cmd->node->node_id,
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

static void handle_reply(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body)
{
	struct cmd *cmd;

	for (cmd = c->cmds; cmd; cmd = cmd->next)
		if (cmd->node == cn && cmd->req_id == h->request_id)
			break;
	if (!cmd || cmd->opcode != h->opcode) {
		if (c->verbose)
			logmsg(c, false, "stray reply %llu from node %u",
			       (unsigned long long)h->request_id, cn->node_id);
		return;
	}
	cmd_unlink(c, cmd);
	cmd_result(c, cmd, h->status,
		   h->status ? coord_error_msg(h->status, body, h->body_len) : "");
	free(cmd);
}

/* Fail every command for which @pred holds (dead node or past deadline). */
static void fail_cmds(struct coordinator *c, const struct conn *gone,
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

static struct op *op_new(struct coordinator *c, struct conn *client,
			 const struct coord_hdr *h, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->client = client;
	op->opcode = h->opcode;
	op->req_id = h->request_id;
	op->kind = kind;
	op->pending = 1;	/* held by the starter until op_start_done */
	op->next = c->ops;
	c->ops = op;
	client->busy = true;
	return op;
}

/* The starter has sent all it will send. */
static void op_start_done(struct coordinator *c, struct op *op)
{
	if (--op->pending == 0)
		op_finish(c, op);
}

static bool table_has_op(const struct coordinator *c, uint64_t table_id)
{
	const struct op *op;

	for (op = c->ops; op; op = op->next)
		if ((op->kind == OP_CREATE || op->kind == OP_DROP) &&
		    op->table_id == table_id)
			return true;
	return false;
}

static void finish_create(struct coordinator *c, struct op *op)
{
	struct tablet_map *m = &c->st.map;
	size_t i, j;

	if (!op->err) {
		int err = tmap_create_table(m, op->table_id, op->owners, op->nr);
		if (err)
			op_fail(op, err, "create table %llu: %s",
				(unsigned long long)op->table_id,
				strerror(-err));
		else if ((err = persist(c, op->msg, sizeof(op->msg))) != 0)
			op->err = -err;
	}
	if (!op->err) {
		logmsg(c, false, "table %llu created over %zu tablets",
		       (unsigned long long)op->table_id, op->nr);
		return;
	}
	/* Roll back: the nodes that added a tablet drop the table. */
	for (i = 0; op->acked && op->owners && i < op->nr; i++) {
		struct coord_buf b;
		bool seen = false;

		if (!op->acked[i])
			continue;
		for (j = 0; j < i; j++)
			if (op->acked[j] && op->owners[j] == op->owners[i])
				seen = true;
		if (seen)
			continue;
		coord_buf_init(&b);
		if (!coord_table_encode(&b, op->table_id, NULL, 0))
			send_cmd(c, op->owners[i], SKV_COORD_OP_NODE_TABLE_DEL,
				 &b, NULL, 0);
		coord_buf_free(&b);
	}
}

static void finish_migrate(struct coordinator *c, struct op *op)
{
	struct skv_migration *g = mig_find(c, op->mig_id);
	uint32_t dst;

	if (!g) {
		op_fail(op, ENOENT, "migration %llu vanished",
			(unsigned long long)op->mig_id);
		return;
	}
	if (!op->err)
		return;
	dst = g->dst;	/* g may move: persist() reloads on failure */
	if (!skv_mig_state_final(g->state)) {
		char msg[256];

		mig_transition(c, g, STEADYKV_MIGRATION_STATE_FAILED,
			       (uint32_t)op->err);
		mig_set_msg(g, op->msg);
		if (persist(c, msg, sizeof(msg)))
			logmsg(c, true, "migration %llu: %s",
			       (unsigned long long)op->mig_id, msg);
	}
	/* The target may have started it after all: ask it to stop. */
	if (op->err == ETIMEDOUT) {
		struct coord_buf b;

		coord_buf_init(&b);
		if (!coord_id_encode(&b, op->mig_id))
			send_cmd(c, dst, SKV_COORD_OP_NODE_MIGRATE_CANCEL,
				 &b, NULL, 0);
		coord_buf_free(&b);
	}
}

static void op_free(struct coordinator *c, struct op *op)
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
		finish_create(c, op);
		break;
	case OP_MIGRATE:
		finish_migrate(c, op);
		break;
	case OP_DROP:
	case OP_CANCEL:
		break;
	}
	if (cl) {
		cl->busy = false;
		if (op->err) {
			reply_err(cl, op->opcode, op->req_id, op->err, "%s",
				  op->msg);
		} else if (op->kind == OP_MIGRATE) {
			const struct skv_migration *g = mig_find(c, op->mig_id);

			coord_buf_init(&b);
			if (g && !coord_mig_encode(&b, g))
				reply_ok(cl, op->opcode, op->req_id, b.p, b.len);
			else
				reply_err(cl, op->opcode, op->req_id, ENOMEM,
					  "out of memory");
			coord_buf_free(&b);
		} else {
			reply_ok(cl, op->opcode, op->req_id, NULL, 0);
		}
	}
	op_free(c, op);
}

/* ---- requests ---- */

static void do_get_map(struct coordinator *c, struct conn *cn,
		       const struct coord_hdr *h)
{
	const struct tablet_map *m = &c->st.map;
	struct coord_map_info mi;
	struct coord_buf b;
	size_t i;
	int err = -ENOMEM;

	memset(&mi, 0, sizeof(mi));
	coord_buf_init(&b);
	mi.version = m->version;
	if (m->nr_nodes > UINT32_MAX || m->nr_tablets > UINT32_MAX)
		goto out;
	mi.nr_nodes = (uint32_t)m->nr_nodes;
	mi.nr_tablets = (uint32_t)m->nr_tablets;
	mi.nodes = calloc(m->nr_nodes + 1, sizeof(*mi.nodes));
	mi.tablets = calloc(m->nr_tablets + 1, sizeof(*mi.tablets));
	if (!mi.nodes || !mi.tablets)
		goto out;
	for (i = 0; i < m->nr_nodes; i++) {
		mi.nodes[i].id = m->nodes[i].id;
		snprintf(mi.nodes[i].addr, sizeof(mi.nodes[i].addr), "%s",
			 m->nodes[i].addr);
	}
	for (i = 0; i < m->nr_tablets; i++) {
		const struct tmap_tablet *t = &m->tablets[i];

		mi.tablets[i].table_id = t->table_id;
		mi.tablets[i].start_hash = t->start;
		mi.tablets[i].end_hash = t->end;
		mi.tablets[i].owner = t->owner;
		mi.tablets[i].state = t->state == TMAP_MIGRATING ? 1 : 0;
		mi.tablets[i].src = t->state == TMAP_MIGRATING ? t->src : 0;
	}
	err = coord_map_encode(&b, &mi);
	if (!err && b.len > SKV_COORD_MAX_BODY)
		err = -EMSGSIZE;
out:
	if (err)
		reply_err(cn, h->opcode, h->request_id, -err, "map: %s",
			  strerror(-err));
	else
		reply_ok(cn, h->opcode, h->request_id, b.p, b.len);
	coord_buf_free(&b);
	coord_map_info_free(&mi);
}

static void do_register(struct coordinator *c, struct conn *cn,
			const struct coord_hdr *h, const uint8_t *body)
{
	struct tablet_map *m = &c->st.map;
	struct coord_node_info n;
	const struct conn *other;
	uint64_t ver = m->version;
	int err;

	if (coord_node_decode(body, h->body_len, &n)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "malformed NODE_REGISTER body");
		return;
	}
	if (!n.id || !tmap_valid_addr(n.addr)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "bad node id %u or address '%s'", n.id, n.addr);
		return;
	}
	if (cn->node_id && cn->node_id != n.id) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "connection already registered as node %u",
			  cn->node_id);
		return;
	}
	other = node_conn(c, n.id);
	if (other && other != cn) {
		reply_err(cn, h->opcode, h->request_id, EEXIST,
			  "node %u is registered by another live connection",
			  n.id);
		return;
	}
	if (tmap_find_node(m, n.id)) {
		err = tmap_set_node_addr(m, n.id, n.addr);
	} else {
		char name[32];

		snprintf(name, sizeof(name), "node-%u", n.id);
		err = tmap_add_node(m, n.id, name, n.addr);
	}
	if (err) {
		reply_err(cn, h->opcode, h->request_id, -err,
			  "register node %u: %s", n.id, strerror(-err));
		return;
	}
	if (m->version != ver) {
		char msg[300];

		err = persist(c, msg, sizeof(msg));
		if (err) {
			reply_err(cn, h->opcode, h->request_id, -err, "%s", msg);
			return;
		}
	}
	cn->node_id = n.id;
	logmsg(c, false, "node %u registered, data address %s", n.id, n.addr);
	reply_ok(cn, h->opcode, h->request_id, NULL, 0);
}

/*
 * The tablets tmap_create_table would make, without changing the map:
 * created on the live map, copied, dropped again, version restored.
 */
static int plan_table(struct coordinator *c, uint64_t table_id,
		      const uint32_t *nodes, size_t n, struct tmap_tablet **out)
{
	struct tablet_map *m = &c->st.map;
	uint64_t ver = m->version;
	struct tmap_tablet *v;
	size_t i, k = 0;
	int err;

	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = tmap_create_table(m, table_id, nodes, n);
	if (err) {
		free(v);
		return err;
	}
	for (i = 0; i < m->nr_tablets && k < n; i++)
		if (m->tablets[i].table_id == table_id)
			v[k++] = m->tablets[i];
	tmap_drop_table(m, table_id);
	m->version = ver;
	*out = v;
	return 0;
}

static void do_table_create(struct coordinator *c, struct conn *cn,
			    const struct coord_hdr *h, const uint8_t *body)
{
	const struct tablet_map *m = &c->st.map;
	struct coord_table_req t;
	struct op *op;
	uint32_t *nodes = NULL;
	size_t n = 0, i;
	int err;

	if (coord_table_decode(body, h->body_len, &t)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "malformed TABLE_CREATE body");
		return;
	}
	if (t.nr_nodes > MAX_TABLE_NODES) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "at most %u nodes per table", MAX_TABLE_NODES);
		goto out;
	}
	if (tmap_find(m, t.table_id, 0)) {
		reply_err(cn, h->opcode, h->request_id, EEXIST,
			  "table %llu exists", (unsigned long long)t.table_id);
		goto out;
	}
	if (table_has_op(c, t.table_id)) {
		reply_err(cn, h->opcode, h->request_id, EBUSY,
			  "table %llu is being created or dropped",
			  (unsigned long long)t.table_id);
		goto out;
	}
	if (t.nr_nodes) {
		nodes = t.nodes;
		t.nodes = NULL;
		n = t.nr_nodes;
	} else {
		/* Every registered node whose daemon is connected, by id. */
		nodes = calloc(m->nr_nodes + 1, sizeof(*nodes));
		if (!nodes) {
			reply_err(cn, h->opcode, h->request_id, ENOMEM,
				  "out of memory");
			goto out;
		}
		for (i = 0; i < m->nr_nodes; i++)
			if (node_conn(c, m->nodes[i].id))
				nodes[n++] = m->nodes[i].id;
		if (!n) {
			reply_err(cn, h->opcode, h->request_id, ENOENT,
				  "no node daemon is registered");
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (!tmap_find_node(m, nodes[i])) {
			reply_err(cn, h->opcode, h->request_id, ENOENT,
				  "node %u is not registered", nodes[i]);
			goto out;
		}
		if (!node_conn(c, nodes[i])) {
			reply_err(cn, h->opcode, h->request_id, EHOSTUNREACH,
				  "node %u: daemon not connected", nodes[i]);
			goto out;
		}
	}
	op = op_new(c, cn, h, OP_CREATE);
	if (!op) {
		reply_err(cn, h->opcode, h->request_id, ENOMEM, "out of memory");
		goto out;
	}
	op->table_id = t.table_id;
	op->owners = nodes;
	nodes = NULL;
	op->nr = n;
	op->acked = calloc(n, sizeof(*op->acked));
	err = op->acked ? plan_table(c, t.table_id, op->owners, n,
				     &op->tablets) : -ENOMEM;
	if (err)
		op_fail(op, err, "create table %llu: %s",
			(unsigned long long)t.table_id, strerror(-err));
	for (i = 0; !op->err && i < n; i++) {
		const struct tmap_tablet *tt = &op->tablets[i];
		struct coord_tablet_info ti = {
			.table_id = tt->table_id, .start_hash = tt->start,
			.end_hash = tt->end, .owner = tt->owner,
		};
		struct coord_buf b;

		coord_buf_init(&b);
		err = coord_tablet_encode(&b, &ti);
		if (!err)
			err = send_cmd(c, tt->owner,
				       SKV_COORD_OP_NODE_TABLET_ADD, &b, op, i);
		coord_buf_free(&b);
		if (err)
			op_fail(op, err, "node %u: %s", tt->owner,
				strerror(-err));
	}
	op_start_done(c, op);
out:
	free(t.nodes);
	free(nodes);
}

static bool table_migrating(const struct coordinator *c, uint64_t table_id,
			    uint64_t *id)
{
	size_t i;

	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *g = &c->st.migs[i];

		if (g->table_id == table_id &&
		    !skv_mig_state_final(g->state)) {
			*id = g->id;
			return true;
		}
	}
	return false;
}

static void do_table_drop(struct coordinator *c, struct conn *cn,
			  const struct coord_hdr *h, const uint8_t *body)
{
	struct coord_table_req t;
	struct coord_buf b;
	struct op *op;
	uint64_t busy_id;
	char msg[300];
	int err;

	if (coord_table_decode(body, h->body_len, &t) || t.nr_nodes) {
		free(t.nodes);
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "malformed TABLE_DROP body");
		return;
	}
	if (!tmap_find(&c->st.map, t.table_id, 0)) {
		reply_err(cn, h->opcode, h->request_id, ENOENT,
			  "no table %llu", (unsigned long long)t.table_id);
		return;
	}
	if (table_has_op(c, t.table_id)) {
		reply_err(cn, h->opcode, h->request_id, EBUSY,
			  "table %llu is being created or dropped",
			  (unsigned long long)t.table_id);
		return;
	}
	if (table_migrating(c, t.table_id, &busy_id)) {
		reply_err(cn, h->opcode, h->request_id, EBUSY,
			  "migration %llu of table %llu is in progress",
			  (unsigned long long)busy_id,
			  (unsigned long long)t.table_id);
		return;
	}
	err = tmap_drop_table(&c->st.map, t.table_id);
	if (err) {
		reply_err(cn, h->opcode, h->request_id, -err,
			  "drop table %llu: %s", (unsigned long long)t.table_id,
			  strerror(-err));
		return;
	}
	/* The data is gone with the table: so is any need to rebuild it. */
	lineage_drop(c, 0, t.table_id);
	err = persist(c, msg, sizeof(msg));
	if (err) {
		reply_err(cn, h->opcode, h->request_id, -err, "%s", msg);
		return;
	}
	logmsg(c, false, "table %llu dropped", (unsigned long long)t.table_id);
	op = op_new(c, cn, h, OP_DROP);
	if (!op) {
		reply_err(cn, h->opcode, h->request_id, ENOMEM, "out of memory");
		return;
	}
	op->table_id = t.table_id;
	/* Every live node: former sources may hold leftovers too. */
	coord_buf_init(&b);
	if (!coord_table_encode(&b, t.table_id, NULL, 0))
		for (size_t i = 0; i < c->nr_conns; i++)
			if (!c->conns[i]->dead && c->conns[i]->node_id)
				send_cmd(c, c->conns[i]->node_id,
					 SKV_COORD_OP_NODE_TABLE_DEL, &b, op, 0);
	coord_buf_free(&b);
	op_start_done(c, op);
}

static void do_migrate(struct coordinator *c, struct conn *cn,
		       const struct coord_hdr *h, const uint8_t *body)
{
	struct tablet_map *m = &c->st.map;
	const struct tmap_tablet *t, *te;
	const struct tmap_node *src;
	struct skv_migration g;
	struct coord_lineage l;
	struct coord_buf b;
	uint64_t ver = m->version, tstart;
	const char *why;
	struct op *op;
	char msg[300];
	size_t i;
	int err;

	if (coord_mig_decode(body, h->body_len, &g)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "malformed MIGRATE body");
		return;
	}
#define FAIL(e, ...) do {						\
		reply_err(cn, h->opcode, h->request_id, (e), __VA_ARGS__); \
		goto out;						\
	} while (0)
	/* The tuning is checked here, once, before anything changes. */
	why = skv_mig_check_tuning(&g);
	if (why)
		FAIL(EINVAL, "%s", why);
	if (g.start_hash > g.end_hash)
		FAIL(EINVAL, "range starts after it ends");
	t = tmap_find(m, g.table_id, g.start_hash);
	if (!t)
		FAIL(ENOENT, "no table %llu", (unsigned long long)g.table_id);
	if (!tmap_find_node(m, g.dst))
		FAIL(ENOENT, "node %u is not registered", g.dst);
	if (!node_conn(c, g.dst))
		FAIL(EHOSTUNREACH, "node %u: daemon not connected", g.dst);
	te = tmap_find(m, g.table_id, g.end_hash);
	if (!te || te->start != t->start)
		FAIL(EINVAL, "range crosses tablets (first tablet ends at 0x%016llx)",
		     (unsigned long long)t->end);
	if (t->state != TMAP_NORMAL)
		FAIL(EBUSY, "tablet is migrating");
	if (t->owner == g.dst)
		FAIL(EINVAL, "node %u already owns the range", g.dst);
	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *o = &c->st.migs[i];

		if (o->table_id == g.table_id &&
		    !skv_mig_state_final(o->state) &&
		    o->start_hash <= g.end_hash && g.start_hash <= o->end_hash)
			FAIL(EBUSY, "overlaps migration %llu in progress",
			     (unsigned long long)o->id);
	}
	if (table_has_op(c, g.table_id))
		FAIL(EBUSY, "table %llu is being created or dropped",
		     (unsigned long long)g.table_id);
	src = tmap_find_node(m, t->owner);
	if (!src)
		FAIL(EIO, "owner %u of the range is unknown", t->owner);
	tstart = t->start;
	/* The request gave the range, target and tuning; the rest is ours. */
	{
		const struct skv_migration req = g;

		memset(&g, 0, sizeof(g));
		g.present = (req.present & SKV_MIG_TUNING_BITS) |
			    COORD_MIG_STORED_BITS |
			    (1ull << STEADYKV_A_MIGRATION_SOURCE_ADDR) |
			    (1ull << STEADYKV_A_MIGRATION_SOURCE_PORT);
		g.table_id = req.table_id;
		g.start_hash = req.start_hash;
		g.end_hash = req.end_hash;
		g.dst = req.dst;
		g.mode = req.mode;
		g.partitions = req.partitions;
		g.pulls_in_flight = req.pulls_in_flight;
		g.pull_budget = req.pull_budget;
		g.priority_pulls = req.priority_pulls;
	}
	g.src = src->id;
	snprintf(g.source, sizeof(g.source), "%s", src->addr);
	g.id = c->st.next_mig_id;
	g.state = STEADYKV_MIGRATION_STATE_PREPARING;
	g.started_unix_ms = unix_ms();
	memset(&l, 0, sizeof(l));
	l.mig_id = g.id;
	l.table_id = g.table_id;
	l.start = g.start_hash;
	l.end = g.end_hash;
	l.src = g.src;
	l.dst = g.dst;
	l.unix_ms = g.started_unix_ms;
	/* Make the range a tablet of its own (t is stale after a split). */
	err = 0;
	if (g.start_hash > tstart)
		err = tmap_split(m, g.table_id, g.start_hash);
	te = tmap_find(m, g.table_id, g.end_hash);
	if (!err && te && g.end_hash < te->end)
		err = tmap_split(m, g.table_id, g.end_hash + 1);
	if (!err)
		err = mig_add(c, &g);
	if (!err) {
		c->st.next_mig_id++;
		err = lineage_add(c, &l);
	}
	if (err) {
		/* Back to the saved state: nothing of this was acknowledged. */
		if (m->version != ver || mig_find(c, g.id))
			reload(c);
		if (err == -EBUSY)
			FAIL(EBUSY, "%d migrations in progress",
			     COORD_KEEP_MIGRATIONS);
		FAIL(-err, "migrate: %s", strerror(-err));
	}
	err = persist(c, msg, sizeof(msg));
	if (err)
		FAIL(-err, "%s", msg);
	logmsg(c, false, "migration %llu: table %llu 0x%016llx-0x%016llx "
	       "node %u -> %u (%s)", (unsigned long long)g.id,
	       (unsigned long long)g.table_id,
	       (unsigned long long)g.start_hash,
	       (unsigned long long)g.end_hash, g.src, g.dst,
	       skv_mig_mode_str(g.mode));
	op = op_new(c, cn, h, OP_MIGRATE);
	if (!op)
		FAIL(ENOMEM, "out of memory");
	op->table_id = g.table_id;
	op->mig_id = g.id;
	coord_buf_init(&b);
	err = coord_mig_encode(&b, &g);
	if (!err)
		err = send_cmd(c, g.dst, SKV_COORD_OP_NODE_MIGRATE_START, &b,
			       op, 0);
	coord_buf_free(&b);
	if (err)
		op_fail(op, err, "node %u: %s", g.dst, strerror(-err));
	op_start_done(c, op);
out:
	return;
#undef FAIL
}

static void do_mig_status(struct coordinator *c, struct conn *cn,
			  const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_migration *v;
	struct coord_buf b;
	uint32_t n = 0;
	uint64_t id;
	size_t i;
	int err;

	if (coord_id_decode(body, h->body_len, &id)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "malformed MIG_STATUS body");
		return;
	}
	v = calloc(c->st.nr_migs + 1, sizeof(*v));
	if (!v) {
		reply_err(cn, h->opcode, h->request_id, ENOMEM, "out of memory");
		return;
	}
	for (i = 0; i < c->st.nr_migs; i++) {
		const struct skv_migration *g = &c->st.migs[i];

		if (id && g->id != id)
			continue;
		v[n] = *g;
		if (!skv_mig_state_final(g->state) && !node_conn(c, g->dst) &&
		    !g->error_msg[0])
			mig_set_msg(&v[n], "target daemon disconnected");
		n++;
	}
	if (id && !n) {
		free(v);
		reply_err(cn, h->opcode, h->request_id, ENOENT,
			  "no migration %llu", (unsigned long long)id);
		return;
	}
	coord_buf_init(&b);
	err = coord_mig_list_encode(&b, v, n);
	if (err)
		reply_err(cn, h->opcode, h->request_id, -err, "status: %s",
			  strerror(-err));
	else
		reply_ok(cn, h->opcode, h->request_id, b.p, b.len);
	coord_buf_free(&b);
	free(v);
}

static void do_mig_cancel(struct coordinator *c, struct conn *cn,
			  const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_migration *g;
	struct coord_buf b;
	struct op *op;
	uint64_t id;
	int err;

	if (coord_id_decode(body, h->body_len, &id)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "malformed MIG_CANCEL body");
		return;
	}
	g = mig_find(c, id);
	if (!g) {
		reply_err(cn, h->opcode, h->request_id, ENOENT,
			  "no migration %llu", (unsigned long long)id);
		return;
	}
	if (skv_mig_state_final(g->state)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "migration %llu already %s", (unsigned long long)id,
			  skv_mig_state_str(g->state));
		return;
	}
	if (!node_conn(c, g->dst)) {
		/*
		 * Nothing moved before the target got going: the coordinator
		 * can end it alone.  Later phases need the target.
		 */
		if (g->state != STEADYKV_MIGRATION_STATE_PREPARING) {
			reply_err(cn, h->opcode, h->request_id, EHOSTUNREACH,
				  "node %u: daemon not connected", g->dst);
			return;
		}
		char msg[300];

		mig_transition(c, g, STEADYKV_MIGRATION_STATE_CANCELLED,
			       ECANCELED);
		mig_set_msg(g, "cancelled by the coordinator, target not connected");
		err = persist(c, msg, sizeof(msg));
		if (err)
			reply_err(cn, h->opcode, h->request_id, -err, "%s", msg);
		else
			reply_ok(cn, h->opcode, h->request_id, NULL, 0);
		return;
	}
	op = op_new(c, cn, h, OP_CANCEL);
	if (!op) {
		reply_err(cn, h->opcode, h->request_id, ENOMEM, "out of memory");
		return;
	}
	op->mig_id = id;
	op->table_id = g->table_id;
	coord_buf_init(&b);
	err = coord_id_encode(&b, id);
	if (!err)
		err = send_cmd(c, g->dst, SKV_COORD_OP_NODE_MIGRATE_CANCEL, &b,
			       op, 0);
	coord_buf_free(&b);
	if (err)
		op_fail(op, err, "node %u: %s", g->dst, strerror(-err));
	op_start_done(c, op);
}

static void do_mig_report(struct coordinator *c, struct conn *cn,
			  const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_migration r, *g;
	bool save = false, later;

	if (!cn->node_id) {
		reply_err(cn, h->opcode, h->request_id, EPERM,
			  "MIG_REPORT before NODE_REGISTER");
		return;
	}
	if (coord_mig_decode(body, h->body_len, &r)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "malformed MIG_REPORT body");
		return;
	}
	g = mig_find(c, r.id);
	if (!g) {
		reply_err(cn, h->opcode, h->request_id, ENOENT,
			  "no migration %llu", (unsigned long long)r.id);
		return;
	}
	if (g->dst != cn->node_id) {
		reply_err(cn, h->opcode, h->request_id, EPERM,
			  "migration %llu runs on node %u, not %u",
			  (unsigned long long)r.id, g->dst, cn->node_id);
		return;
	}
	if (!skv_mig_state_valid(r.state)) {
		reply_err(cn, h->opcode, h->request_id, EINVAL,
			  "unknown migration state %u", r.state);
		return;
	}
	if (skv_mig_state_final(g->state)) {
		/* Late report of a finished migration: nothing changes. */
		reply_ok(cn, h->opcode, h->request_id, NULL, 0);
		return;
	}
	later = skv_mig_state_later(g->state, r.state);
	g->progress_permille = r.progress_permille > 1000 ? 1000 :
			       r.progress_permille;
	g->elapsed_us = r.elapsed_us;
	g->owned_us = r.owned_us;
	g->bytes_pulled = r.bytes_pulled;
	g->records_pulled = r.records_pulled;
	g->records_replayed = r.records_replayed;
	g->records_skipped = r.records_skipped;
	g->pulls = r.pulls;
	g->priority_pulls_sent = r.priority_pulls_sent;
	g->priority_keys = r.priority_keys;
	g->partitions_done = r.partitions_done;
	g->present |= r.present & REPORT_COUNTER_BITS;
	if (r.error_msg[0] || later)
		mig_set_msg(g, r.error_msg);
	if (r.safe_version && r.safe_version != g->safe_version) {
		struct coord_lineage *l = lineage_find(c, g->id);

		g->safe_version = r.safe_version;
		if (l)
			l->safe_version = r.safe_version;
		save = true;
	}
	if (later) {
		if (c->verbose || skv_mig_state_final(r.state))
			logmsg(c, false, "migration %llu: %s%s%s",
			       (unsigned long long)g->id,
			       skv_mig_state_str(r.state),
			       r.error_msg[0] ? ": " : "", r.error_msg);
		mig_transition(c, g, r.state, r.error);
		save = true;
	}
	if (save) {
		char msg[300];
		int err = persist(c, msg, sizeof(msg));

		if (err) {
			reply_err(cn, h->opcode, h->request_id, -err, "%s", msg);
			return;
		}
	}
	reply_ok(cn, h->opcode, h->request_id, NULL, 0);
}

static void handle_request(struct coordinator *c, struct conn *cn,
			   const struct coord_hdr *h, const uint8_t *body)
{
	if (c->verbose)
		logmsg(c, false, "request op %u id %llu len %u", h->opcode,
		       (unsigned long long)h->request_id, h->body_len);
	switch (h->opcode) {
	case SKV_COORD_OP_GET_MAP:
		if (h->body_len)
			reply_err(cn, h->opcode, h->request_id, EINVAL,
				  "GET_MAP takes no body");
		else
			do_get_map(c, cn, h);
		break;
	case SKV_COORD_OP_NODE_REGISTER:
		do_register(c, cn, h, body);
		break;
	case SKV_COORD_OP_TABLE_CREATE:
		do_table_create(c, cn, h, body);
		break;
	case SKV_COORD_OP_TABLE_DROP:
		do_table_drop(c, cn, h, body);
		break;
	case SKV_COORD_OP_MIGRATE:
		do_migrate(c, cn, h, body);
		break;
	case SKV_COORD_OP_MIG_STATUS:
		do_mig_status(c, cn, h, body);
		break;
	case SKV_COORD_OP_MIG_CANCEL:
		do_mig_cancel(c, cn, h, body);
		break;
	case SKV_COORD_OP_MIG_REPORT:
		do_mig_report(c, cn, h, body);
		break;
	default:
		reply_err(cn, h->opcode, h->request_id, EOPNOTSUPP,
			  "the coordinator does not serve opcode %u", h->opcode);
		break;
	}
}

/* ---- connections and the loop ---- */

/* Handle whole frames; returns true if any was handled. */
static bool process_input(struct coordinator *c, struct conn *cn)
{
	size_t off = 0;
	bool did = false;

	while (!cn->dead) {
		struct coord_hdr h;
		size_t flen;
		int r = coord_frame_peek(cn->in.p + off, cn->in.len - off, &h,
					 &flen);

		if (r < 0) {
			logmsg(c, true, "malformed frame: closing connection");
			conn_kill(cn);
			break;
		}
		if (r == 0)
			break;
		if (h.flags & SKV_COORD_F_REPLY) {
			handle_reply(c, cn, &h, cn->in.p + off + COORD_HDR_LEN);
		} else {
			if (cn->busy)
				break;	/* answered in order: wait */
			handle_request(c, cn, &h, cn->in.p + off + COORD_HDR_LEN);
		}
		off += flen;
		did = true;
	}
	coord_buf_consume(&cn->in, off);
	return did;
}

static void conn_read(struct coordinator *c, struct conn *cn)
{
	ssize_t n;

	if (coord_buf_reserve(&cn->in, READ_CHUNK) || !cn->in.p) {
		conn_kill(cn);
		return;
	}
	n = recv(cn->fd, cn->in.p + cn->in.len, READ_CHUNK, MSG_DONTWAIT);
	if (n == 0) {
		conn_kill(cn);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_kill(cn);
		return;
	}
	cn->in.len += (size_t)n;
	process_input(c, cn);
}

static void conn_write(struct conn *cn)
{
	while (cn->out.len) {
		ssize_t n = send(cn->fd, cn->out.p, cn->out.len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_kill(cn);
			return;
		}
		coord_buf_consume(&cn->out, (size_t)n);
	}
}

static void accept_conns(struct coordinator *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *cn, **v;
		int one = 1;

		if (fd < 0)
			return;
		if (c->nr_conns >= MAX_CONNS) {
			logmsg(c, true, "too many connections");
			close(fd);
			continue;
		}
		cn = calloc(1, sizeof(*cn));
		v = realloc(c->conns, (c->nr_conns + 1) * sizeof(*v));
		if (v)
			c->conns = v;
		if (!cn || !v) {
			free(cn);
			close(fd);
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		cn->fd = fd;
		coord_buf_init(&cn->in);
		coord_buf_init(&cn->out);
		c->conns[c->nr_conns++] = cn;
	}
}

static void conn_free(struct coordinator *c, struct conn *cn)
{
	struct op *op;

	for (op = c->ops; op; op = op->next)
		if (op->client == cn)
			op->client = NULL;
	close(cn->fd);
	coord_buf_free(&cn->in);
	coord_buf_free(&cn->out);
	free(cn);
}

/* Close dead connections; their commands fail, their ops lose the client. */
static void sweep(struct coordinator *c)
{
	size_t i = 0;

	while (i < c->nr_conns) {
		struct conn *cn = c->conns[i];

		if (!cn->dead) {
			i++;
			continue;
		}
		if (cn->node_id)
			logmsg(c, false, "node %u disconnected; its migrations "
			       "stay as they are", cn->node_id);
		fail_cmds(c, cn, 0);
		c->conns[i] = c->conns[--c->nr_conns];
		conn_free(c, cn);
	}
}

int coordinator_poll(struct coordinator *c, int timeout_ms)
{
	struct pollfd *pfd;
	size_t i, n;
	bool again;
	int ret;

	/* Requests that waited for an op which has finished. */
	do {
		again = false;
		for (i = 0; i < c->nr_conns; i++)
			if (!c->conns[i]->dead && !c->conns[i]->busy &&
			    c->conns[i]->in.len &&
			    process_input(c, c->conns[i]))
				again = true;
	} while (again);
	sweep(c);

	n = c->nr_conns;
	pfd = calloc(n + 1, sizeof(*pfd));
	if (!pfd)
		return -ENOMEM;
	pfd[0].fd = c->lfd;
	pfd[0].events = POLLIN;
	for (i = 0; i < n; i++) {
		const struct conn *cn = c->conns[i];

		pfd[i + 1].fd = cn->fd;
		/* A busy client's pipelined requests wait, up to a bound. */
		if (!cn->busy || cn->in.len < COORD_HDR_LEN + SKV_COORD_MAX_BODY)
			pfd[i + 1].events |= POLLIN;
		if (cn->out.len)
			pfd[i + 1].events |= POLLOUT;
	}
	if (c->cmds && timeout_ms > 100)
		timeout_ms = 100;	/* check command deadlines */
	ret = poll(pfd, n + 1, timeout_ms);
	if (ret < 0) {
		ret = errno == EINTR ? 0 : -errno;
		free(pfd);
		return ret;
	}
	/* Connections accepted below are not in pfd: only the first n. */
	for (i = 0; i < n; i++) {
		struct conn *cn = c->conns[i];

		if (pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR))
			conn_read(c, cn);
	}
	if (pfd[0].revents & POLLIN)
		accept_conns(c);
	free(pfd);
	fail_cmds(c, NULL, mono_ms());
	/* Replies made above go out now when the socket takes them. */
	for (i = 0; i < c->nr_conns; i++)
		if (!c->conns[i]->dead && c->conns[i]->out.len)
			conn_write(c->conns[i]);
	sweep(c);
	return 0;
}

int coordinator_run(struct coordinator *c, const volatile sig_atomic_t *stop)
{
	while (!*stop) {
		int ret = coordinator_poll(c, 500);

		if (ret)
			return ret;
	}
	return 0;
}

static int listen_on(const char *addr, int *fd_out, uint16_t *port_out,
		     char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port_s[8];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint16_t port;
	int fd = -1, one = 1, ret;

	/* Any address (empty host) and any port (0) are allowed here. */
	if (parse_listen_addr(addr, host, sizeof(host), &port)) {
		snprintf(err, errlen, "bad listen address '%s' (HOST:PORT)",
			 addr);
		return -EINVAL;
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	ret = getaddrinfo(host[0] ? host : NULL, port_s, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "%s: %s", addr, gai_strerror(ret));
		return -EINVAL;
	}
	ret = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 64))
			break;
		ret = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "listen on %s: %s", addr, strerror(-ret));
		return ret;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	*fd_out = fd;
	*port_out = port;
	return 0;
}

int coordinator_open(const struct coordinator_opts *o, struct coordinator **out,
		     char *err, size_t errlen)
{
	const char *path = o->state_path ? o->state_path : DEFAULT_STATE;
	struct coordinator *c;
	const char *why = NULL;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->lfd = -1;
	c->next_cmd_id = 1;
	c->node_timeout_ms = o->node_timeout_ms > 0 ? o->node_timeout_ms :
			     DEFAULT_NODE_TIMEOUT;
	c->verbose = o->verbose;
	c->quiet = o->quiet;
	coord_state_init(&c->st);
	ret = coord_store_open_file(path, &c->store);
	if (ret) {
		snprintf(err, errlen, "state file %s: %s", path, strerror(-ret));
		goto fail;
	}
	ret = coord_store_load_state(c->store, &c->st);
	if (ret) {
		snprintf(err, errlen, "%s", coord_store_error(c->store));
		goto fail;
	}
	if (tmap_check(&c->st.map, &why)) {
		snprintf(err, errlen, "%s: %s", path, why);
		ret = -EBADMSG;
		goto fail;
	}
	ret = listen_on(o->listen ? o->listen : DEFAULT_LISTEN, &c->lfd,
			&c->port, err, errlen);
	if (ret)
		goto fail;
	logmsg(c, false, "coordinator on port %u, state %s: map version %llu, "
	       "%zu nodes, %zu tables, %zu migrations, %zu lineage records",
	       c->port, path, (unsigned long long)c->st.map.version,
	       c->st.map.nr_nodes, c->st.map.nr_tables, c->st.nr_migs,
	       c->st.nr_lineage);
	*out = c;
	return 0;
fail:
	coordinator_close(c);
	return ret;
}

uint16_t coordinator_port(const struct coordinator *c)
{
	return c->port;
}

void coordinator_close(struct coordinator *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr_conns; i++)
		c->conns[i]->dead = true;
	sweep(c);	/* fails the commands, detaches the ops */
	while (c->ops)
		op_free(c, c->ops);
	while (c->cmds) {
		struct cmd *cmd = c->cmds;

		c->cmds = cmd->next;
		free(cmd);
	}
	free(c->conns);
	if (c->lfd >= 0)
		close(c->lfd);
	coord_state_free(&c->st);
	coord_store_close(c->store);
	free(c);
}
