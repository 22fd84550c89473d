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
 *
 * This file is the connection loop, the durable state and the lifecycle;
 * the op machinery and the request handlers have files of their own
 * (coord_internal.h lists them).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* accept4 */
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

#include "coord_internal.h"
#include "../common/parse.h"

/* ---- small helpers ---- */

int64_t coord_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t coord_backoff_ms(uint32_t attempts, int64_t min_ms, int64_t max_ms)
{
	int64_t wait = min_ms;

	for (uint32_t i = 0; i < attempts && wait < max_ms; i++)
		wait *= 2;
	return wait < max_ms ? wait : max_ms;
}

uint64_t coord_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void coord_logmsg(const struct coordinator *c, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void coord_logmsg(const struct coordinator *c, bool error, const char *fmt, ...)
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

struct conn *coord_node_conn(const struct coordinator *c, uint32_t id)
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

void coord_conn_frame(struct conn *cn, uint8_t opcode, uint8_t flags,
		      uint32_t epoch, uint64_t id, const void *body, size_t len)
{
	if (cn->dead)
		return;
	if (cn->out.len > OUT_LIMIT ||
	    coord_frame_append_epoch(&cn->out, opcode, flags, 0, id, epoch, body, len))
		conn_kill(cn);
}

void coord_reply_ok(struct conn *cn, uint8_t opcode, uint64_t id,
		    const void *body, size_t len)
{
	coord_conn_frame(cn, opcode, SKV_COORD_F_REPLY, 0, id, body, len);
}

void coord_reply_err(struct conn *cn, uint8_t opcode, uint64_t id, int err,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void coord_reply_err(struct conn *cn, uint8_t opcode, uint64_t id, int err,
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

/* ---- durable state ---- */

void coord_reload(struct coordinator *c)
{
	struct coord_state fresh;

	coord_state_init(&fresh);
	if (coord_store_load_state(c->store, &fresh)) {
		coord_logmsg(c, true, "reload after failed save: %s",
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
int coord_persist(struct coordinator *c, char *msg, size_t n)
{
	int err = coord_store_save_state(c->store, &c->st);

	if (!err)
		return 0;
	snprintf(msg, n, "state not saved: %s", coord_store_error(c->store));
	coord_logmsg(c, true, "%s", msg);
	coord_reload(c);
	return err;
}

static void handle_request(struct coordinator *c, struct conn *cn,
			   const struct coord_hdr *h, const uint8_t *body)
{
	if (c->verbose)
		coord_logmsg(c, false, "request op %u id %llu len %u", h->opcode,
			     (unsigned long long)h->request_id, h->body_len);
	switch (h->opcode) {
	case SKV_COORD_OP_NODE_REGISTER:
	case SKV_COORD_OP_MIG_REPORT:
	case SKV_COORD_OP_NODE_HEARTBEAT:
	case SKV_COORD_OP_NODE_LOAD:
		if (!coord_allowed(c, cn, h, SKV_AUTH_ROLE_PEER))
			return;
		break;
	case SKV_COORD_OP_TABLE_CREATE:
	case SKV_COORD_OP_TABLE_DROP:
	case SKV_COORD_OP_MIGRATE:
	case SKV_COORD_OP_MIG_CANCEL:
		if (!coord_allowed(c, cn, h, SKV_AUTH_ROLE_ADMIN))
			return;
		break;
	}
	switch (h->opcode) {
	case SKV_COORD_OP_AUTH_HELLO:
		coord_do_auth_hello(c, cn, h, body);
		break;
	case SKV_COORD_OP_AUTH_PROOF:
		coord_do_auth_proof(c, cn, h, body);
		break;
	case SKV_COORD_OP_GET_MAP:
		if (h->body_len)
			coord_reply_err(cn, h->opcode, h->request_id, EINVAL,
					"GET_MAP takes no body");
		else
			coord_do_get_map(c, cn, h);
		break;
	case SKV_COORD_OP_NODE_REGISTER:
		coord_do_register(c, cn, h, body);
		break;
	case SKV_COORD_OP_TABLE_CREATE:
		coord_do_table_create(c, cn, h, body);
		break;
	case SKV_COORD_OP_TABLE_DROP:
		coord_do_table_drop(c, cn, h, body);
		break;
	case SKV_COORD_OP_MIGRATE:
		coord_do_migrate(c, cn, h, body);
		break;
	case SKV_COORD_OP_MIG_STATUS:
		coord_do_mig_status(c, cn, h, body);
		break;
	case SKV_COORD_OP_MIG_CANCEL:
		coord_do_mig_cancel(c, cn, h, body);
		break;
	case SKV_COORD_OP_MIG_REPORT:
		coord_do_mig_report(c, cn, h, body);
		break;
	case SKV_COORD_OP_NODE_HEARTBEAT:
		coord_do_heartbeat(cn, h);
		break;
	case SKV_COORD_OP_NODE_LOAD:
		coord_do_node_load(c, cn, h, body);
		break;
	default:
		coord_reply_err(cn, h->opcode, h->request_id, EOPNOTSUPP,
				"the coordinator does not serve opcode %u", h->opcode);
		break;
	}
}

/* ---- connections and the loop ---- */

/* Handle whole frames; returns true if any was handled. */
/* Does the frame starting at p (its header read) exceed what cn may send? */
static bool unauth_frame_too_big(const struct coordinator *c, const struct conn *cn,
				 const uint8_t *p, size_t avail)
{
	struct coord_hdr h;

	if (cn->role || c->insecure || avail < COORD_HDR_LEN || coord_hdr_decode(p, &h))
		return false;
	return h.body_len > COORD_UNAUTH_MAX_BODY;
}

static bool process_input(struct coordinator *c, struct conn *cn)
{
	size_t off = 0;
	bool did = false;

	while (!cn->dead && !cn->closing) {
		struct coord_hdr h;
		size_t flen;
		int r = coord_frame_peek(cn->in.p + off, cn->in.len - off, &h,
					 &flen);

		if (r < 0) {
			coord_logmsg(c, true, "malformed frame: closing connection");
			conn_kill(cn);
			break;
		}
		if (unauth_frame_too_big(c, cn, cn->in.p + off, cn->in.len - off)) {
			coord_logmsg(c, true, "a frame over %u bytes before authentication: "
				     "closing connection", COORD_UNAUTH_MAX_BODY);
			conn_kill(cn);
			break;
		}
		if (r == 0)
			break;
		if (cn->node_id)
			coord_live_heard(c, cn->node_id);
		if (h.flags & SKV_COORD_F_REPLY) {
			coord_handle_reply(c, cn, &h, cn->in.p + off + COORD_HDR_LEN);
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
			coord_logmsg(c, true, "too many connections");
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
	skv_auth_key_clear(&cn->auth_key);
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
			coord_logmsg(c, false, "node %u disconnected; its migrations "
				     "stay as they are", cn->node_id);
		coord_fail_cmds(c, cn, 0);
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
		if (!cn->closing &&
		    (!cn->busy || cn->in.len < COORD_HDR_LEN + SKV_COORD_MAX_BODY))
			pfd[i + 1].events |= POLLIN;
		if (cn->out.len)
			pfd[i + 1].events |= POLLOUT;
	}
	if ((c->cmds || c->st.map.nr_nodes) && timeout_ms > COORD_LIVE_TICK_MS)
		timeout_ms = COORD_LIVE_TICK_MS;	/* deadlines, liveness */
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
	coord_fail_cmds(c, NULL, coord_mono_ms());
	coord_live_tick(c);
	coord_recovery_tick(c);
	coord_release_tick(c);
	coord_rebalance_tick(c);
	/* Replies made above go out now when the socket takes them. */
	for (i = 0; i < c->nr_conns; i++) {
		struct conn *cn = c->conns[i];

		if (!cn->dead && cn->out.len)
			conn_write(cn);
		if (cn->closing && !cn->out.len)
			conn_kill(cn);
	}
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
	struct addrinfo *res = NULL, *ai;
	char host[256];
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
	ret = coord_resolve_tcp(host[0] ? host : NULL, port, true, &res);
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

/* Keep the key file names (for SIGHUP) and load the keys. */
static int key_paths_set(struct coordinator *c, const struct coordinator_opts *o,
			 char *err, size_t errlen)
{
	const char *const paths[2][2] = {
		{ o->cluster_key, o->previous_cluster_key },
		{ o->admin_key, o->previous_admin_key },
	};
	int i, j;

	for (i = 0; i < 2; i++) {
		if (!paths[i][0] && paths[i][1]) {
			snprintf(err, errlen, "a previous %s key needs a current one",
				 i ? "admin" : "cluster");
			return -EINVAL;
		}
		for (j = 0; j < 2; j++) {
			if (!paths[i][j])
				continue;
			c->key_paths[i][j] = strdup(paths[i][j]);
			if (!c->key_paths[i][j]) {
				snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
		}
	}
	return coord_keys_load(c, err, errlen);
}

int coordinator_reload_keys(struct coordinator *c, char *err, size_t errlen)
{
	int ret = coord_keys_load(c, err, errlen);

	if (ret)
		coord_logmsg(c, true, "keys not reloaded (the old ones stay): %s", err);
	else
		coord_logmsg(c, false, "keys reloaded: %d cluster, %d admin",
			     c->keys[0].n, c->keys[1].n);
	return ret;
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
		coord_store_close(o->store);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->store = o->store;
	if (c->store)
		path = "etcd";
	c->lfd = -1;
	c->next_cmd_id = 1;
	c->node_timeout_ms = o->node_timeout_ms > 0 ? o->node_timeout_ms :
			     DEFAULT_NODE_TIMEOUT;
	c->verbose = o->verbose;
	c->quiet = o->quiet;
	c->insecure = o->insecure;
	c->replicas = o->replicas;
	coord_state_init(&c->st);
	ret = key_paths_set(c, o, err, errlen);
	if (ret)
		goto fail;
	ret = c->store ? 0 : coord_store_open_file(path, &c->store);
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
	coord_repl_start(c, coord_unix_ms());
	ret = coord_live_init(c, o->dead_after_ms);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->evict_after_ms = o->evict_after_ms > 0 ? o->evict_after_ms :
			    (int64_t)COORD_EVICT_MUL * c->dead_after_ms;
	ret = coord_rebalance_init(c, &o->rebalance);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ret = listen_on(o->listen ? o->listen : DEFAULT_LISTEN, &c->lfd,
			&c->port, err, errlen);
	if (ret)
		goto fail;
	coord_logmsg(c, false, "coordinator on port %u, state %s: map version %llu, "
		     "%zu nodes, %zu tables, %zu migrations, %zu lineage records, "
		     "%zu lost tablets; nodes dead after %d ms; keys: %d cluster, %d admin%s",
		     c->port, path, (unsigned long long)c->st.map.version,
		     c->st.map.nr_nodes, c->st.map.nr_tables, c->st.nr_migs,
		     c->st.nr_lineage, c->st.nr_lost, c->dead_after_ms,
		     c->keys[0].n, c->keys[1].n,
		     c->insecure ? " (--insecure: a role without a key is open)" : "");
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
		coord_op_free(c, c->ops);
	while (c->cmds) {
		struct cmd *cmd = c->cmds;

		c->cmds = cmd->next;
		free(cmd);
	}
	free(c->conns);
	if (c->lfd >= 0)
		close(c->lfd);
	coord_state_free(&c->st);
	coord_live_free(c);
	coord_recovery_free(c);
	coord_rebalance_free(c);
	coord_store_close(c->store);
	coord_keys_clear(c);
	for (i = 0; i < 4; i++)
		free(c->key_paths[i / 2][i % 2]);
	free(c->undecided);
	free(c->rel);
	free(c);
}
