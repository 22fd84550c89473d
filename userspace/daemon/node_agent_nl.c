// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The node agent's module: node_agent_nl_ops on libskvnl's typed calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "auth_key.h"
#include "node_agent_int.h"

/* Events socket: room for a burst while the agent waits on the coordinator. */
#define EVENTS_RCVBUF		(4 * 1024 * 1024)

static int real_open(void *arg, struct sknl_err *err)
{
	struct agent_real_nl *r = arg;

	memset(r, 0, sizeof(*r));
	/* Events first: whatever is read from the module after is covered. */
	if (sknl_events_open(&r->ev, EVENTS_RCVBUF, true))
		return sknl_err_local(err, ENOENT, "cannot subscribe to the steadykv events");
	if (sknl_open_err(&r->req, err)) {
		sknl_close(&r->ev);
		return -err->error;
	}
	if (sknl_open_err(&r->recover, err)) {
		sknl_close(&r->req);
		sknl_close(&r->ev);
		return -err->error;
	}
	return 0;
}

static void real_close(void *arg)
{
	struct agent_real_nl *r = arg;

	sknl_close(&r->recover);
	sknl_close(&r->req);
	sknl_close(&r->ev);
}

static int real_event_fd(void *arg)
{
	return sknl_events_fd(&((struct agent_real_nl *)arg)->ev);
}

struct ev_ctx {
	void (*fn)(void *ctx, const struct skv_migration *m);
	void *ctx;
};

static void real_on_event(const struct sknl_event *ev, void *arg)
{
	struct ev_ctx *e = arg;

	/* Tables and tablets change by the coordinator's own commands. */
	if (ev->cmd != STEADYKV_CMD_MIGRATE_NTF)
		return;
	if (ev->malformed || !SKV_MIG_HAS(&ev->mig, STEADYKV_A_MIGRATION_ID)) {
		agent_log("skipping a malformed migrate-ntf");
		return;
	}
	e->fn(e->ctx, &ev->mig);
}

static int real_read_events(void *arg, void (*fn)(void *ctx, const struct skv_migration *m),
			    void *ctx)
{
	struct agent_real_nl *r = arg;
	struct ev_ctx e = { fn, ctx };

	for (;;) {
		int rc = sknl_events_recv(&r->ev, real_on_event, &e);

		if (rc == -EAGAIN)
			return 0;
		if (rc == -ENOBUFS) {
			/* Drop what is queued: the caller's dump comes after it. */
			sknl_events_drain(&r->ev);
			return -ENOBUFS;
		}
		if (rc)
			return rc;
	}
}

static int real_listen_start(void *arg, const uint8_t *addr, int alen, uint16_t port,
			     struct sknl_err *err)
{
	return sknl_listen_start(&((struct agent_real_nl *)arg)->req, addr, alen, port, err);
}

static int real_incarnation(void *arg, uint64_t *incarnation, struct sknl_err *err)
{
	struct sknl_node node;
	int rc = sknl_node_get(&((struct agent_real_nl *)arg)->req, &node, err);

	*incarnation = rc ? 0 : node.val[STEADYKV_A_NODE_INCARNATION];
	return rc;
}

static int real_listen_get(void *arg, uint8_t *addr, int *alen, uint16_t *port,
			   struct sknl_err *err)
{
	struct sknl_node node;
	int rc = sknl_node_get(&((struct agent_real_nl *)arg)->req, &node, err);

	*alen = 0;
	*port = 0;
	if (rc)
		return rc;
	if (node.listen_addr_len && node.val[STEADYKV_A_NODE_LISTENING]) {
		memcpy(addr, node.listen_addr, (size_t)node.listen_addr_len);
		*alen = node.listen_addr_len;
		*port = (uint16_t)node.val[STEADYKV_A_NODE_LISTEN_PORT];
	}
	return 0;
}

static int real_table_add(void *arg, uint64_t table, struct sknl_err *err)
{
	return sknl_table_add(&((struct agent_real_nl *)arg)->req, table, err);
}

static int real_table_del(void *arg, uint64_t table, struct sknl_err *err)
{
	return sknl_table_del(&((struct agent_real_nl *)arg)->req, table, err);
}

static int real_tablet_add(void *arg, uint64_t table, uint64_t start, uint64_t end,
			   struct sknl_err *err)
{
	return sknl_tablet_add(&((struct agent_real_nl *)arg)->req, table, start, end, -1, err);
}

static int real_tablet_del(void *arg, uint64_t table, uint64_t start, uint64_t end,
			   struct sknl_err *err)
{
	return sknl_tablet_del(&((struct agent_real_nl *)arg)->req, table, start, end, err);
}

static int real_migrate_start(void *arg, const struct skv_migration *m, struct sknl_err *err)
{
	return sknl_migrate_start(&((struct agent_real_nl *)arg)->req, m, err);
}

static int real_migrate_cancel(void *arg, uint64_t id, struct sknl_err *err)
{
	return sknl_migrate_cancel(&((struct agent_real_nl *)arg)->req, id, err);
}

static int real_migrate_dump(void *arg, void (*fn)(void *ctx, const struct skv_migration *m),
			     void *ctx, struct sknl_err *err)
{
	struct skv_migration *v;
	size_t n;
	int rc = sknl_migrate_dump(&((struct agent_real_nl *)arg)->req, &v, &n, err);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (!SKV_MIG_HAS(&v[i], STEADYKV_A_MIGRATION_ID))
			agent_log("skipping a migrate-get entry without an id");
		else
			fn(ctx, &v[i]);
	}
	free(v);
	return 0;
}

static int real_migrate_decide(void *arg, uint64_t id, bool abort, struct sknl_err *err)
{
	return sknl_migrate_decide(&((struct agent_real_nl *)arg)->req, id, abort, err);
}

static int real_learn_epoch(void *arg, uint64_t epoch, struct sknl_err *err)
{
	return sknl_node_learn_epoch(&((struct agent_real_nl *)arg)->req, epoch, err);
}

static int real_repl_set(void *arg, uint64_t primary_id, uint64_t epoch,
			 const struct sknl_repl_backup *backups, int n, struct sknl_err *err)
{
	return sknl_repl_set(&((struct agent_real_nl *)arg)->req, primary_id, epoch,
			     backups, n, err);
}

static int real_repl_fence(void *arg, uint64_t primary_id, uint64_t epoch,
			   struct sknl_err *err)
{
	return sknl_repl_fence(&((struct agent_real_nl *)arg)->req, primary_id, epoch, err);
}

static int real_repl_recover(void *arg, uint64_t primary_id, uint64_t epoch,
			     uint64_t table_id, uint64_t start_hash, uint64_t end_hash,
			     struct sknl_repl *out, struct sknl_err *err)
{
	return sknl_repl_recover(&((struct agent_real_nl *)arg)->recover, primary_id, epoch,
				 table_id, start_hash, end_hash, out, err);
}

static int real_auth_set(void *arg, const struct sknl_auth *auth, struct sknl_err *err)
{
	return sknl_auth_set(&((struct agent_real_nl *)arg)->req, auth, err);
}

int agent_push_keys(struct agent *a)
{
	struct skv_auth_key cur = { 0 }, prev = { 0 };
	struct sknl_auth auth = { .insecure = a->o->insecure_peers };
	const char *cur_path = a->o->cluster_key_path;
	const char *prev_path = a->o->previous_key_path;
	struct sknl_err err;
	char why[512];
	int rc = -1;

	if (!cur_path && !a->o->insecure_peers) {
		agent_log("no --cluster-key: this node refuses node-to-node ops and migrations");
		return 0;
	}
	if (!a->nl->auth_set) {
		agent_log("cluster keys: not supported by this module interface");
		return -1;
	}
	if (cur_path && skv_auth_key_load(&cur, cur_path, why, sizeof(why))) {
		agent_log("cluster key: %s", why);
		goto out;
	}
	if (prev_path && skv_auth_key_load(&prev, prev_path, why, sizeof(why))) {
		agent_log("previous cluster key: %s", why);
		goto out;
	}
	auth.cur = cur.secret;
	auth.cur_len = cur.len;
	auth.prev = prev.secret;
	auth.prev_len = prev.len;
	rc = a->nl->auth_set(a->nl_arg, &auth, &err);
	if (rc) {
		sknl_err_format(&err, why, sizeof(why));
		agent_log("auth-set: %s", why);
		goto out;
	}
	if (cur_path && prev_path)
		agent_log("cluster keys set: key id 0x%08x, previous key id 0x%08x%s", cur.id,
			  prev.id, a->o->insecure_peers ? " (insecure mode)" : "");
	else if (cur_path)
		agent_log("cluster key set: key id 0x%08x%s", cur.id,
			  a->o->insecure_peers ? " (insecure mode)" : "");
	else
		agent_log("insecure mode: node-to-node ops are taken without authentication");
out:
	skv_auth_key_clear(&cur);
	skv_auth_key_clear(&prev);
	return rc ? -1 : 0;
}

static int real_client_auth(void *arg, int on, struct sknl_err *err)
{
	return sknl_client_auth_required(&((struct agent_real_nl *)arg)->req, on, err);
}

static int real_client_key_add(void *arg, const uint8_t *secret, size_t len,
			       const struct sknl_client_key *rights, struct sknl_err *err)
{
	return sknl_client_key_add(&((struct agent_real_nl *)arg)->req, secret, len, rights, err);
}

static int real_client_key_del(void *arg, uint32_t id, struct sknl_err *err)
{
	return sknl_client_key_del(&((struct agent_real_nl *)arg)->req, id, err);
}

static int real_tablet_dump(void *arg, struct sknl_tablet **out, size_t *count,
			    struct sknl_err *err)
{
	return sknl_tablet_dump(&((struct agent_real_nl *)arg)->req, out, count, err);
}

const struct node_agent_nl_ops agent_real_nl_ops = {
	.open = real_open,
	.close = real_close,
	.event_fd = real_event_fd,
	.read_events = real_read_events,
	.listen_start = real_listen_start,
	.incarnation = real_incarnation,
	.listen_get = real_listen_get,
	.table_add = real_table_add,
	.table_del = real_table_del,
	.tablet_add = real_tablet_add,
	.tablet_del = real_tablet_del,
	.migrate_start = real_migrate_start,
	.migrate_cancel = real_migrate_cancel,
	.migrate_dump = real_migrate_dump,
	.learn_epoch = real_learn_epoch,
	.migrate_decide = real_migrate_decide,
	.auth_set = real_auth_set,
	.client_auth = real_client_auth,
	.client_key_add = real_client_key_add,
	.client_key_del = real_client_key_del,
	.repl_set = real_repl_set,
	.repl_fence = real_repl_fence,
	.repl_recover = real_repl_recover,
	.tablet_dump = real_tablet_dump,
};
