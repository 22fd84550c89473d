// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Lost backups (coord.h NODE_BACKUPS_LOST).  A link cut between this node
 * and one of its backups, both up for the coordinator, stops this node's
 * writes (they cannot be held) and its reads (no read lease) until the
 * coordinator gives it backups without that one.  Every heartbeat interval
 * the agent reads which backups the module holds not ok (repl-get
 * backups-ok); one not ok in LOST_READINGS readings in a row whose data
 * port does not take a TCP connection within PROBE_MS is reported lost.
 * A reported backup is tried again, one a reading, and reported back once
 * it takes a connection.  The set is sent when it changes, again every
 * RESEND_READINGS readings while it is not empty (a coordinator that
 * restarted or took over forgets it), and after each registration.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node_agent_int.h"
#include "parse.h"

#define LOST_READINGS	2
#define RESEND_READINGS	4
#define PROBE_MS	300

/* Does @addr ("host:port") take a TCP connection within PROBE_MS? */
static bool reachable(const char *addr)
{
	struct sockaddr_storage ss = { 0 };
	char host[SKV_COORD_ADDR_MAX];
	struct pollfd p = { .events = POLLOUT };
	uint8_t a[16];
	uint16_t port;
	socklen_t sl;
	int alen, soerr = 0, fd;
	bool ok = false;

	if (parse_hostport(addr, host, sizeof(host), &port) ||
	    sknl_addr_resolve(host, a, &alen))
		return false;
	if (alen == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a, 16);
		sl = sizeof(*s6);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	p.fd = fd;
	if (!connect(fd, (struct sockaddr *)&ss, sl)) {
		ok = true;
	} else if (errno == EINPROGRESS && poll(&p, 1, PROBE_MS) == 1) {
		sl = sizeof(soerr);
		ok = !getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) && !soerr;
	}
	close(fd);
	return ok;
}

static int unreach_pos(const struct agent *a, uint32_t id)
{
	for (uint32_t k = 0; k < a->nr_unreach; k++)
		if (a->unreach[k].id == id)
			return (int)k;
	return -1;
}

/* Count not-ok readings of the current backups; report those unreachable. */
static void backups_read(struct agent *a)
{
	struct sknl_repl r;
	struct sknl_err err;
	uint32_t ok;

	if (!a->repl.nr_backups || a->nl->repl_get(a->nl_arg, &r, &err) ||
	    !SKNL_REPL_HAS(&r, STEADYKV_A_REPL_BACKUPS_OK) ||
	    r.val[STEADYKV_A_REPL_EPOCH] != a->repl.epoch ||
	    r.nbackups != (int)a->repl.nr_backups)
		return;	/* none, or a change of backups under way */
	ok = (uint32_t)r.val[STEADYKV_A_REPL_BACKUPS_OK];
	for (uint32_t i = 0; i < a->repl.nr_backups; i++) {
		const struct coord_node_info *b = &a->repl.backups[i];

		if (ok & (1u << i)) {
			a->not_ok[i] = 0;
			continue;
		}
		if (a->not_ok[i] < LOST_READINGS)
			a->not_ok[i]++;
		if (a->not_ok[i] < LOST_READINGS || unreach_pos(a, b->id) >= 0 ||
		    a->nr_unreach == SKV_COORD_REPL_MAX || reachable(b->addr))
			continue;
		a->unreach[a->nr_unreach++] = *b;
		a->unreach_dirty = true;
		agent_log("replication: backup node %" PRIu32 " (%s) lost and unreachable",
			  b->id, b->addr);
	}
}

/* Try one reported backup again; report it back if it takes a connection. */
static void backups_probe(struct agent *a)
{
	uint32_t k;

	if (!a->nr_unreach)
		return;
	k = a->probe_next++ % a->nr_unreach;
	if (!reachable(a->unreach[k].addr))
		return;
	agent_log("replication: backup node %" PRIu32 " (%s) reachable again",
		  a->unreach[k].id, a->unreach[k].addr);
	a->unreach[k] = a->unreach[--a->nr_unreach];
	memset(a->not_ok, 0, sizeof(a->not_ok));
	a->unreach_dirty = true;
}

static void backups_send(struct agent *a, uint64_t now)
{
	uint32_t ids[SKV_COORD_REPL_MAX];
	struct coord_buf body;
	int rc;

	for (uint32_t k = 0; k < a->nr_unreach; k++)
		ids[k] = (uint32_t)a->unreach[k].id;
	coord_buf_init(&body);
	rc = coord_lost_encode(&body, ids, a->nr_unreach);
	if (!rc)
		rc = coord_frame_append(&a->out, SKV_COORD_OP_NODE_BACKUPS_LOST, 0, 0,
					a->next_id++, body.p, body.len);
	coord_buf_free(&body);
	if (rc) {
		agent_log("cannot build NODE_BACKUPS_LOST: %s", strerror(-rc));
		return;
	}
	a->unreach_dirty = false;
	a->last_unreach_sent_ms = now;
	a->last_sent_ms = now;
}

int64_t backups_check(struct agent *a)
{
	uint64_t now = agent_now_ms(), due;

	if (a->fd < 0 || a->cs != C_READY || !a->nl->repl_get || a->unreach_refused)
		return -1;
	due = a->last_backups_ms + a->heartbeat_ms;
	if (now < due)
		return (int64_t)(due - now);
	a->last_backups_ms = now;
	backups_read(a);
	backups_probe(a);
	if (a->unreach_dirty ||
	    (a->nr_unreach &&
	     now - a->last_unreach_sent_ms >= RESEND_READINGS * (uint64_t)a->heartbeat_ms))
		backups_send(a, now);
	return a->heartbeat_ms;
}

void backups_set(struct agent *a, const struct coord_repl_info *r)
{
	a->repl = *r;
	memset(a->not_ok, 0, sizeof(a->not_ok));
}

void backups_registered(struct agent *a)
{
	a->unreach_dirty = a->nr_unreach > 0;
	a->unreach_refused = false;
}
