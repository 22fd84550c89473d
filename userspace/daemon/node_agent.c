// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykvd's node role (see node_agent.h).
 *
 * One thread, one ppoll() loop over: the coordinator socket (non-blocking,
 * buffered both ways, frames by coord_proto), the netlink events socket,
 * and an optional stop fd.  Requests to the module are blocking netlink
 * calls: the module answers them at once.
 *
 * Ordering: the events socket joins the group before anything is read
 * from the module, and every read of the state (the dump at start, after
 * an overrun and after each (re)registration) comes after it, so no change
 * is missed (node_agent_mig.c drops the stale views this lets through).
 *
 * The file map is in node_agent_int.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"

#include "node_agent_int.h"

#define DEF_RECONNECT_MIN_MS	100
#define DEF_RECONNECT_MAX_MS	5000
#define DEF_PROGRESS_MS		200
#define DEF_HEARTBEAT_MS	500

/* ---- logging: "TIME steadykvd[node N]: TEXT", one line each ---- */

static uint32_t log_node;

void agent_log_line(const char *text)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ steadykvd[node %" PRIu32 "]: %s\n", when,
		ts.tv_nsec / 1000000, log_node, text);
}

void agent_log(const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	agent_log_line(text);
}

uint64_t agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- start-up ---- */

static volatile sig_atomic_t stop_signal, reload_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* SIGHUP: read the key files again (a cluster key rotation step). */
static void on_reload(int sig)
{
	reload_signal = sig;
}

/* Node-get reads that may fail in a row before the agent gives up. */
#define INCARNATION_READ_TRIES	3

bool node_began_again(struct agent *a, bool now_too)
{
	uint64_t now = agent_now_ms(), inc;
	struct sknl_err err;

	if (a->began_again)
		return true;
	if (!a->nl->incarnation ||
	    (!now_too && now < a->incarnation_checked_ms + a->heartbeat_ms))
		return false;
	a->incarnation_checked_ms = now;
	if (a->nl->incarnation(a->nl_arg, &inc, &err)) {
		char why[512];

		if (++a->incarnation_failures < INCARNATION_READ_TRIES)
			return false;
		sknl_err_format(&err, why, sizeof(why));
		agent_log("cannot read the node %u times in a row (%s): stopping",
			  INCARNATION_READ_TRIES, why);
		a->began_again = true;
		return true;
	}
	a->incarnation_failures = 0;
	if (inc == a->incarnation)
		return false;
	agent_log("the node began again (incarnation %016" PRIx64 ", was %016" PRIx64
		  "): its data is gone; stopping, to start afresh", inc, a->incarnation);
	a->began_again = true;
	return true;
}

/* Make the module listen on data_addr; an existing listener there is fine. */
static int ensure_listen(struct agent *a)
{
	char host[sizeof(a->data_addr)];
	struct sknl_err err;
	uint8_t addr[16];
	char why[512];
	uint16_t port;
	int alen, rc;

	if (parse_hostport(a->data_addr, host, sizeof(host), &port) ||
	    sknl_addr_resolve(host, addr, &alen)) {
		agent_log("cannot resolve the data address \"%s\"", a->data_addr);
		return -1;
	}
	rc = a->nl->listen_start(a->nl_arg, addr, alen, port, &err);
	if (!rc) {
		agent_log("node listening on %s", a->data_addr);
		return 0;
	}
	if (rc == -EBUSY) {
		uint8_t cur[16];
		uint16_t curport;
		int curlen;

		rc = a->nl->listen_get(a->nl_arg, cur, &curlen, &curport, &err);
		if (!rc && curlen == alen && curport == port && !memcmp(cur, addr, (size_t)alen)) {
			agent_log("node already listening on %s", a->data_addr);
			return 0;
		}
		if (!rc) {
			char text[INET6_ADDRSTRLEN] = "?";

			if (curlen)
				inet_ntop(curlen == 4 ? AF_INET : AF_INET6, cur, text, sizeof(text));
			agent_log("the node already listens on %s port %u, not on %s", text, curport,
			      a->data_addr);
			return -1;
		}
	}
	sknl_err_format(&err, why, sizeof(why));
	agent_log("listen-start %s: %s", a->data_addr, why);
	return -1;
}

static void agent_free(struct agent *a)
{
	if (a->fd >= 0)
		close(a->fd);
	coord_buf_free(&a->in);
	coord_buf_free(&a->out);
	free(a->migs);
}

static int agent_loop(struct agent *a, const sigset_t *wait_mask)
{
	while (!stop_signal) {
		struct pollfd p[4];
		int64_t wait = -1, w;
		int n = 0, ifd = -1, ifs = -1, ic = -1, ir = -1, rc;
		struct timespec ts;
		uint64_t now = agent_now_ms();

		if (a->cs == C_IDLE) {
			if (now >= a->retry_at)
				conn_start(a);
			if (a->cs == C_IDLE)
				wait = (int64_t)(a->retry_at > now ? a->retry_at - now : 0);
		}
		if (node_began_again(a, false))
			return -1;
		w = mig_pending_wait(a);
		if (w >= 0 && (wait < 0 || w < wait))
			wait = w;
		/* A load report is a sign of life: first, so no heartbeat joins it. */
		w = conn_load_report(a);
		if (w >= 0 && (wait < 0 || w < wait))
			wait = w;
		w = conn_heartbeat(a);
		if (w >= 0 && (wait < 0 || w < wait))
			wait = w;

		p[n] = (struct pollfd){ .fd = a->nl->event_fd(a->nl_arg), .events = POLLIN };
		ifd = n++;
		if (a->o->stop_fd_set && a->o->stop_fd >= 0) {
			p[n] = (struct pollfd){ .fd = a->o->stop_fd, .events = POLLIN };
			ifs = n++;
		}
		if (a->fd >= 0) {
			short ev = a->cs == C_CONNECTING ? POLLOUT : POLLIN;

			if (a->cs != C_CONNECTING && a->out.len)
				ev |= POLLOUT;
			p[n] = (struct pollfd){ .fd = a->fd, .events = ev };
			ic = n++;
		}
		if (recover_fd(a) >= 0) {
			p[n] = (struct pollfd){ .fd = recover_fd(a), .events = POLLIN };
			ir = n++;
		}
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000;
		rc = ppoll(p, (nfds_t)n, wait < 0 ? NULL : &ts, wait_mask);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			agent_log("poll: %s", strerror(errno));
			return -1;
		}
		if (ifs >= 0 && p[ifs].revents)
			break;
		if (reload_signal) {
			reload_signal = 0;
			agent_push_keys(a);
			agent_push_client_keys(a);
		}
		if (p[ifd].revents) {
			rc = a->nl->read_events(a->nl_arg, mig_update, a);
			if (rc == -ENOBUFS) {
				agent_log("events were lost (receive buffer overrun): reading every "
				      "migration again");
				mig_resync(a);
			} else if (rc) {
				agent_log("netlink events: %s", strerror(-rc));
				return -1;
			}
		}
		if (ic >= 0 && a->fd >= 0) {
			if (a->cs == C_CONNECTING) {
				if (p[ic].revents)
					conn_connected(a);
			} else {
				if (p[ic].revents & (POLLIN | POLLHUP | POLLERR))
					conn_read(a);
			}
		}
		if (ir >= 0 && p[ir].revents)
			recover_reap(a);
		mig_flush_pending(a);
		if (a->fd >= 0 && a->cs != C_CONNECTING)
			conn_write(a);
	}
	if (stop_signal)
		agent_log("stopping (signal %d)", (int)stop_signal);
	else
		agent_log("stopping");
	return 0;
}

int node_agent_run(const struct node_agent_opts *o)
{
	struct sigaction sa_int, sa_term, sa_hup, sa = { 0 }, sa_r = { 0 };
	struct agent a = { .o = o, .fd = -1 };
	sigset_t block, old;
	struct agent_real_nl real;
	struct sknl_err err;
	int rc = 1;

	log_node = o->node_id;
	if (!o->node_id || !o->data_addr || !o->coord_addr) {
		agent_log("node agent: node id, data address and coordinator address are required");
		return 1;
	}
	/* HOST:PORT[,HOST:PORT...]: each must parse; conn_start takes them in turn. */
	for (;;) {
		char item[SKV_COORD_ADDR_MAX];

		if (addr_list_item(o->coord_addr, a.nr_coords, item, sizeof(item)))
			break;
		if (parse_hostport(item, a.coord_host, sizeof(a.coord_host), &a.coord_port))
			break;
		a.nr_coords++;
	}
	if (a.nr_coords != addr_list_count(o->coord_addr)) {
		agent_log("invalid coordinator address \"%s\" (HOST:PORT[,HOST:PORT...])",
			  o->coord_addr);
		return 1;
	}
	if (coord_strlcpy(a.data_addr, sizeof(a.data_addr), o->data_addr)) {
		agent_log("data address \"%s\" is too long", o->data_addr);
		return 1;
	}
	a.nl = o->nl ? o->nl : &agent_real_nl_ops;
	a.nl_arg = o->nl ? o->nl_arg : &real;
	a.progress_ms = o->progress_interval_ms ? o->progress_interval_ms : DEF_PROGRESS_MS;
	a.heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : DEF_HEARTBEAT_MS;
	a.backoff_min = o->reconnect_min_ms ? o->reconnect_min_ms : DEF_RECONNECT_MIN_MS;
	a.backoff_max = o->reconnect_max_ms ? o->reconnect_max_ms : DEF_RECONNECT_MAX_MS;
	if (a.backoff_max < a.backoff_min)
		a.backoff_max = a.backoff_min;
	a.backoff = a.backoff_min;
	a.next_id = 1;
	coord_buf_init(&a.in);
	coord_buf_init(&a.out);
	sknl_set_log(agent_log_line);

	/*
	 * SIGINT/SIGTERM only interrupt ppoll(): blocked everywhere else, so
	 * a signal between the check and the wait is never lost.
	 */
	stop_signal = 0;
	reload_signal = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	if (!o->no_signals) {
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &sa_int);
		sigaction(SIGTERM, &sa, &sa_term);
		sa_r.sa_handler = on_reload;
		sigemptyset(&sa_r.sa_mask);
		sigaction(SIGHUP, &sa_r, &sa_hup);
		pthread_sigmask(SIG_BLOCK, &block, &old);
	} else {
		pthread_sigmask(SIG_BLOCK, NULL, &old);
	}

	if (a.nl->open(a.nl_arg, &err)) {
		char why[512];

		sknl_err_format(&err, why, sizeof(why));
		agent_log("cannot reach the steadykv module: %s", why);
		goto out;
	}
	if (a.nl->incarnation && a.nl->incarnation(a.nl_arg, &a.incarnation, &err)) {
		char why[512];

		sknl_err_format(&err, why, sizeof(why));
		agent_log("cannot read the node: %s", why);
		goto out_nl;
	}
	/* Keys before listening: no peer ever finds the node without them. */
	if (agent_push_keys(&a) || agent_push_client_keys(&a) || ensure_listen(&a) ||
	    mig_resync(&a))
		goto out_nl;
	agent_log("node agent up: node %" PRIu32 ", data %s, coordinator %s", o->node_id,
	      a.data_addr, o->coord_addr);
	rc = agent_loop(&a, &old) ? 1 : 0;
out_nl:
	recover_stop(&a);	/* before its netlink socket closes */
	a.nl->close(a.nl_arg);
out:
	agent_free(&a);
	sknl_set_log(NULL);
	if (!o->no_signals) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		sigaction(SIGINT, &sa_int, NULL);
		sigaction(SIGTERM, &sa_term, NULL);
		sigaction(SIGHUP, &sa_hup, NULL);
	}
	return rc;
}
