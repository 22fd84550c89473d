// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The node agent's coordinator connection (see node_agent_int.h):
 * non-blocking, buffered both ways, frames by coord_proto; it registers the
 * node, sends heartbeats while registered, and reconnects with a doubling
 * backoff when the coordinator goes.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node_agent_int.h"
#include "parse.h"

/* A coordinator that stops reading is dropped when this much waits for it. */
#define OUT_MAX			(8u << 20)
#define READ_CHUNK		65536

void conn_close(struct agent *a, const char *why)
{
	if (a->fd >= 0) {
		if (why && a->cs >= C_AUTH_HELLO)
			agent_log("lost the coordinator: %s", why);
		close(a->fd);
	}
	skv_auth_key_clear(&a->auth_key);
	if (a->fd >= 0)
		a->conn_gen++;
	a->fd = -1;
	a->cs = C_IDLE;
	a->load_refused = false;
	a->in.len = 0;
	a->out.len = 0;
	/*
	 * Several coordinators (one leads, the others stand by and do not
	 * listen): the next one at once, the backoff once all failed.
	 */
	if (a->nr_coords > 1) {
		a->coord_cur = (a->coord_cur + 1) % a->nr_coords;
		if (++a->coords_tried < a->nr_coords) {
			a->retry_at = agent_now_ms();
			return;
		}
		a->coords_tried = 0;
	}
	a->retry_at = agent_now_ms() + a->backoff;
	a->backoff = a->backoff * 2 > a->backoff_max ? a->backoff_max : a->backoff * 2;
}

static void conn_register(struct agent *a)
{
	struct coord_node_info n = {
		.id = a->o->node_id, .incarnation = a->incarnation,
	};
	struct coord_buf body;
	int rc;

	if (node_began_again(a, true)) {
		conn_close(a, NULL);
		return;
	}
	coord_buf_init(&body);
	snprintf(n.addr, sizeof(n.addr), "%s", a->data_addr);
	rc = coord_register_encode(&body, &n);
	a->register_id = a->next_id++;
	if (!rc)
		rc = coord_frame_append(&a->out, SKV_COORD_OP_NODE_REGISTER, 0, 0,
					a->register_id, body.p, body.len);
	coord_buf_free(&body);
	if (rc) {
		agent_log("cannot build NODE_REGISTER: %s", strerror(-rc));
		conn_close(a, NULL);
		return;
	}
	a->cs = C_REGISTERING;
}

/* The cluster key and AUTH_HELLO first, when the agent has a key. */
static void conn_hello(struct agent *a)
{
	struct coord_buf body;
	char why[256];
	int rc;

	if (!a->o->cluster_key_path) {
		conn_register(a);
		return;
	}
	if (skv_auth_key_load(&a->auth_key, a->o->cluster_key_path, why, sizeof(why))) {
		agent_log("cluster key: %s (retrying)", why);
		conn_close(a, NULL);
		return;
	}
	coord_buf_init(&body);
	rc = skv_auth_hello_init(&a->auth_hello, &a->auth_key, SKV_AUTH_ROLE_PEER) ?
	     -EIO : coord_auth_hello_encode(&body, &a->auth_hello);
	a->auth_id = a->next_id++;
	if (!rc)
		rc = coord_frame_append(&a->out, SKV_COORD_OP_AUTH_HELLO, 0, 0,
					a->auth_id, body.p, body.len);
	coord_buf_free(&body);
	if (rc) {
		agent_log("cannot build AUTH_HELLO: %s", strerror(-rc));
		conn_close(a, NULL);
		return;
	}
	a->cs = C_AUTH_HELLO;
}

void conn_auth_reply(struct agent *a, const struct coord_hdr *h, const uint8_t *body)
{
	struct skv_auth_challenge ch;
	struct skv_auth_proof proof;
	struct coord_buf b;
	int rc;

	if (h->request_id != a->auth_id || h->status) {
		agent_log("the coordinator refused our cluster key: %s",
			  coord_error_msg(h->status, body, h->body_len));
		conn_close(a, NULL);
		return;
	}
	if (a->cs == C_AUTH_PROOF) {
		skv_auth_key_clear(&a->auth_key);
		conn_register(a);
		return;
	}
	if (coord_auth_challenge_decode(body, h->body_len, &ch) ||
	    !skv_auth_initiator_prove(&a->auth_key, &a->auth_hello, &ch, &proof)) {
		agent_log("the coordinator did not prove the cluster key: "
			  "a different key, or not the coordinator");
		conn_close(a, NULL);
		return;
	}
	coord_buf_init(&b);
	a->auth_id = a->next_id++;
	rc = coord_auth_proof_encode(&b, &proof);
	if (!rc)
		rc = coord_frame_append(&a->out, SKV_COORD_OP_AUTH_PROOF, 0, 0,
					a->auth_id, b.p, b.len);
	coord_buf_free(&b);
	if (rc) {
		conn_close(a, "cannot build AUTH_PROOF");
		return;
	}
	a->cs = C_AUTH_PROOF;
}

void conn_start(struct agent *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char port[8];
	char item[SKV_COORD_ADDR_MAX];
	int fd, one = 1, rc;

	/* node_agent_run checked every item of the list. */
	if (!addr_list_item(a->o->coord_addr, a->coord_cur, item, sizeof(item)))
		parse_hostport(item, a->coord_host, sizeof(a->coord_host), &a->coord_port);
	snprintf(port, sizeof(port), "%u", a->coord_port);
	rc = getaddrinfo(a->coord_host, port, &hints, &res);
	if (rc || !res) {
		if (!a->announced_down)
			agent_log("cannot resolve the coordinator %s: %s", a->coord_host,
			      rc ? gai_strerror(rc) : "no address");
		a->announced_down = true;
		conn_close(a, NULL);
		return;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		agent_log("socket: %s", strerror(errno));
		freeaddrinfo(res);
		conn_close(a, NULL);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	a->fd = fd;
	if (rc == 0) {
		conn_hello(a);
	} else if (errno == EINPROGRESS) {
		a->cs = C_CONNECTING;
	} else {
		if (!a->announced_down)
			agent_log("cannot connect to the coordinator %s:%u: %s (retrying)",
			      a->coord_host, a->coord_port, strerror(errno));
		a->announced_down = true;
		conn_close(a, NULL);
	}
}

void conn_connected(struct agent *a)
{
	int e = 0;
	socklen_t l = sizeof(e);

	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &l) || e) {
		if (!a->announced_down)
			agent_log("cannot connect to the coordinator %s:%u: %s (retrying)",
			      a->coord_host, a->coord_port, strerror(e ? e : errno));
		a->announced_down = true;
		conn_close(a, NULL);
		return;
	}
	conn_hello(a);
}

int64_t conn_heartbeat(struct agent *a)
{
	uint64_t now = agent_now_ms(), due;

	if (a->fd < 0 || a->cs != C_READY)
		return -1;
	due = a->last_sent_ms + a->heartbeat_ms;
	if (now < due)
		return (int64_t)(due - now);
	/* Any frame is a sign of life: only a silent agent needs one. */
	if (coord_frame_append(&a->out, SKV_COORD_OP_NODE_HEARTBEAT, 0, 0,
			       a->next_id++, NULL, 0)) {
		conn_close(a, "cannot queue a heartbeat");
		return -1;
	}
	a->last_sent_ms = now;
	return a->heartbeat_ms;
}

/*
 * The tablets' request counters, every heartbeat interval, for the
 * coordinator's rebalancer (coord.h NODE_LOAD).  A failed reading skips
 * one report: the next one's rates cover the gap.
 */
int64_t conn_load_report(struct agent *a)
{
	uint64_t now = agent_now_ms(), due;
	struct coord_load_info l = { .sampled_ms = now };
	struct sknl_tablet *ts = NULL;
	struct coord_buf body;
	struct sknl_err err;
	size_t n = 0, i;
	int rc;

	if (a->fd < 0 || a->cs != C_READY || !a->nl->tablet_dump || a->load_refused)
		return -1;
	due = a->last_load_ms + a->heartbeat_ms;
	if (now < due)
		return (int64_t)(due - now);
	a->last_load_ms = now;
	if (a->nl->tablet_dump(a->nl_arg, &ts, &n, &err))
		return a->heartbeat_ms;
	l.tablets = calloc(n + 1, sizeof(*l.tablets));
	if (!l.tablets) {
		free(ts);
		return a->heartbeat_ms;
	}
	for (i = 0; i < n; i++)
		l.tablets[i] = (struct coord_tablet_load){
			.table_id = ts[i].table_id, .start_hash = ts[i].start_hash,
			.end_hash = ts[i].end_hash, .requests = ts[i].requests,
		};
	l.nr_tablets = (uint32_t)n;
	coord_buf_init(&body);
	rc = coord_load_encode(&body, &l);
	if (!rc)
		rc = coord_frame_append(&a->out, SKV_COORD_OP_NODE_LOAD, 0, 0,
					a->next_id++, body.p, body.len);
	coord_buf_free(&body);
	free(l.tablets);
	free(ts);
	if (rc)
		agent_log("cannot build NODE_LOAD: %s", strerror(-rc));
	else
		a->last_sent_ms = now;
	return a->heartbeat_ms;
}

void conn_write(struct agent *a)
{
	while (a->fd >= 0 && a->out.len) {
		ssize_t n = send(a->fd, a->out.p, a->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(a, strerror(errno));
			return;
		}
		a->last_sent_ms = agent_now_ms();
		coord_buf_consume(&a->out, (size_t)n);
	}
}

void conn_read(struct agent *a)
{
	int gone = -1;	/* the connection ended: 0 at EOF, else the errno */

	for (;;) {
		ssize_t n;

		if (coord_buf_reserve(&a->in, READ_CHUNK)) {
			conn_close(a, "out of memory");
			return;
		}
		n = recv(a->fd, a->in.p + a->in.len, READ_CHUNK, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			gone = n ? errno : 0;
			break;
		}
		a->in.len += (size_t)n;
	}
	/*
	 * Whole frames, in order; a request's reply is queued before the next.
	 * Replies read before the end count: a coordinator that refuses the
	 * cluster key replies and closes at once, and both may be read
	 * together.  Requests then are not run: nobody waits for their reply.
	 */
	while (a->fd >= 0) {
		struct coord_hdr h;
		size_t flen;
		int rc = coord_frame_peek(a->in.p, a->in.len, &h, &flen);

		if (rc < 0) {
			conn_close(a, "malformed frame");
			return;
		}
		if (rc == 0)
			break;
		if (h.flags & SKV_COORD_F_REPLY)
			handle_reply(a, &h, a->in.p + COORD_HDR_LEN);
		else if (gone < 0)
			handle_request(a, &h, a->in.p + COORD_HDR_LEN);
		if (a->fd < 0)
			return;
		coord_buf_consume(&a->in, flen);
	}
	if (gone >= 0) {
		if (a->fd >= 0)
			conn_close(a, gone ? strerror(gone) : "connection closed");
		return;
	}
	if (a->out.len > OUT_MAX)
		conn_close(a, "the coordinator does not read its replies");
}

