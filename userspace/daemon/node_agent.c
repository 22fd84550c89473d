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
 * is missed.  Events queued before a dump may be handled after it: a
 * cached migration therefore never moves back to an earlier phase, nor to
 * an older elapsed time within a phase.
 *
 * Reports to the coordinator: a phase change (or the first sight of a
 * migration) at once, progress at most every progress_interval_ms per
 * migration (the last one held back is sent when the interval ends).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uapi/linux/steadykv.h>

#include "coord_proto.h"
#include "node_agent.h"
#include "parse.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define DEF_RECONNECT_MIN_MS	100
#define DEF_RECONNECT_MAX_MS	5000
#define DEF_PROGRESS_MS		200
/* Events socket: room for a burst while the agent waits on the coordinator. */
#define EVENTS_RCVBUF		(4 * 1024 * 1024)
/* A coordinator that stops reading is dropped when this much waits for it. */
#define OUT_MAX			(8u << 20)
#define READ_CHUNK		65536

/* ---- logging: "TIME steadykvd[node N]: TEXT", one line each ---- */

static uint32_t log_node;

static void log_line(const char *text)
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

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_line(text);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the real module: libskvnl ---- */

struct real_nl {
	struct sknl req;
	struct sknl ev;
};

static int real_open(void *arg, struct sknl_err *err)
{
	struct real_nl *r = arg;

	memset(r, 0, sizeof(*r));
	/* Events first: whatever is read from the module after is covered. */
	if (sknl_events_open(&r->ev, EVENTS_RCVBUF, true)) {
		memset(err, 0, sizeof(*err));
		err->error = ENOENT;
		snprintf(err->msg, sizeof(err->msg), "cannot subscribe to the steadykv events");
		return -ENOENT;
	}
	if (sknl_open_err(&r->req, err)) {
		sknl_close(&r->ev);
		return -err->error;
	}
	return 0;
}

static void real_close(void *arg)
{
	struct real_nl *r = arg;

	sknl_close(&r->req);
	sknl_close(&r->ev);
}

static int real_event_fd(void *arg)
{
	struct real_nl *r = arg;

	return nl_socket_get_fd(r->ev.sk);
}

struct ev_ctx {
	void (*fn)(void *ctx, const struct sknl_migration *m);
	void *ctx;
};

static int real_on_event(struct nl_msg *msg, void *arg)
{
	struct ev_ctx *e = arg;
	struct sknl_migration m;

	/* Tables and tablets change by the coordinator's own commands. */
	if (sknl_genlhdr(msg)->cmd != STEADYKV_CMD_MIGRATE_NTF)
		return NL_OK;
	if (sknl_migration_parse(msg, &m) || !SKNL_HAS(&m, STEADYKV_A_MIGRATION_ID)) {
		logf_("skipping a malformed migrate-ntf");
		return NL_OK;
	}
	e->fn(e->ctx, &m);
	return NL_OK;
}

static int drop_event(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

static int real_read_events(void *arg, void (*fn)(void *ctx, const struct sknl_migration *m),
			    void *ctx)
{
	struct real_nl *r = arg;
	struct ev_ctx e = { fn, ctx };

	for (;;) {
		int rc = sknl_events_recv(&r->ev, real_on_event, &e);

		if (rc == -EAGAIN)
			return 0;
		if (rc == -ENOBUFS) {
			/* Drop what is queued: the caller's dump comes after it. */
			while (sknl_events_recv(&r->ev, drop_event, NULL) == 0)
				;
			return -ENOBUFS;
		}
		if (rc)
			return rc;
	}
}

/* Send a request built by fill (may be NULL); 0 or -errno, err filled. */
static int real_do(struct real_nl *r, uint8_t cmd, int flags, struct sknl_replies *out,
		   int (*fill)(struct nl_msg *msg, const void *a), const void *a,
		   struct sknl_err *err)
{
	struct nl_msg *msg = sknl_request(&r->req, cmd, flags);

	if (!msg || (fill && fill(msg, a))) {
		nlmsg_free(msg);
		memset(err, 0, sizeof(*err));
		err->error = ENOMEM;
		err->local = true;
		snprintf(err->msg, sizeof(err->msg), "cannot build the %s request",
			 sknl_cmd_name(cmd));
		return -ENOMEM;
	}
	return sknl_transact_err(&r->req, msg, out, err);
}

struct listen_args {
	const uint8_t *addr;
	int alen;
	uint16_t port;
};

static int fill_listen(struct nl_msg *msg, const void *a)
{
	const struct listen_args *l = a;

	return nla_put(msg, STEADYKV_A_NODE_LISTEN_ADDR, l->alen, l->addr) ||
	       nla_put_u16(msg, STEADYKV_A_NODE_LISTEN_PORT, l->port);
}

static int real_listen_start(void *arg, const uint8_t *addr, int alen, uint16_t port,
			     struct sknl_err *err)
{
	struct listen_args l = { addr, alen, port };

	return real_do(arg, STEADYKV_CMD_LISTEN_START, 0, NULL, fill_listen, &l, err);
}

static int real_listen_get(void *arg, uint8_t *addr, int *alen, uint16_t *port,
			   struct sknl_err *err)
{
	static const struct nla_policy pol[STEADYKV_A_NODE_MAX + 1] = {
		[STEADYKV_A_NODE_LISTEN_ADDR] = { .type = NLA_UNSPEC, .minlen = 4, .maxlen = 16 },
		[STEADYKV_A_NODE_LISTEN_PORT] = { .type = NLA_U16 },
		[STEADYKV_A_NODE_LISTENING] = { .type = NLA_U8 },
	};
	struct nlattr *tb[STEADYKV_A_NODE_MAX + 1];
	struct sknl_replies r = { 0 };
	struct nlattr *a;
	int rc;

	*alen = 0;
	*port = 0;
	rc = real_do(arg, STEADYKV_CMD_NODE_GET, 0, &r, NULL, NULL, err);
	if (rc)
		return rc;
	if (r.count != 1 || sknl_parse(r.msgs[0], tb, STEADYKV_A_NODE_MAX, pol)) {
		sknl_replies_free(&r);
		memset(err, 0, sizeof(*err));
		err->error = EPROTO;
		err->local = true;
		snprintf(err->msg, sizeof(err->msg), "malformed node-get reply");
		return -EPROTO;
	}
	a = tb[STEADYKV_A_NODE_LISTEN_ADDR];
	if (a && tb[STEADYKV_A_NODE_LISTENING] && nla_get_u8(tb[STEADYKV_A_NODE_LISTENING]) &&
	    (nla_len(a) == 4 || nla_len(a) == 16)) {
		memcpy(addr, nla_data(a), (size_t)nla_len(a));
		*alen = nla_len(a);
		if (tb[STEADYKV_A_NODE_LISTEN_PORT])
			*port = nla_get_u16(tb[STEADYKV_A_NODE_LISTEN_PORT]);
	}
	sknl_replies_free(&r);
	return 0;
}

struct tablet_args {
	uint64_t table, start, end;
};

static int fill_table(struct nl_msg *msg, const void *a)
{
	return nla_put_u64(msg, STEADYKV_A_TABLE_ID, *(const uint64_t *)a);
}

static int fill_tablet(struct nl_msg *msg, const void *a)
{
	const struct tablet_args *t = a;

	return nla_put_u64(msg, STEADYKV_A_TABLET_TABLE_ID, t->table) ||
	       nla_put_u64(msg, STEADYKV_A_TABLET_START_HASH, t->start) ||
	       nla_put_u64(msg, STEADYKV_A_TABLET_END_HASH, t->end);
}

static int real_table_add(void *arg, uint64_t table, struct sknl_err *err)
{
	return real_do(arg, STEADYKV_CMD_TABLE_ADD, 0, NULL, fill_table, &table, err);
}

static int real_table_del(void *arg, uint64_t table, struct sknl_err *err)
{
	return real_do(arg, STEADYKV_CMD_TABLE_DEL, 0, NULL, fill_table, &table, err);
}

static int real_tablet_add(void *arg, uint64_t table, uint64_t start, uint64_t end,
			   struct sknl_err *err)
{
	struct tablet_args t = { table, start, end };

	return real_do(arg, STEADYKV_CMD_TABLET_ADD, 0, NULL, fill_tablet, &t, err);
}

static int real_tablet_del(void *arg, uint64_t table, uint64_t start, uint64_t end,
			   struct sknl_err *err)
{
	struct tablet_args t = { table, start, end };

	return real_do(arg, STEADYKV_CMD_TABLET_DEL, 0, NULL, fill_tablet, &t, err);
}

static int fill_migration(struct nl_msg *msg, const void *a)
{
	return sknl_migration_put(msg, a);
}

static int real_migrate_start(void *arg, const struct sknl_migration *m, struct sknl_err *err)
{
	return real_do(arg, STEADYKV_CMD_MIGRATE_START, 0, NULL, fill_migration, m, err);
}

static int fill_mig_id(struct nl_msg *msg, const void *a)
{
	return nla_put_u64(msg, STEADYKV_A_MIGRATION_ID, *(const uint64_t *)a);
}

static int real_migrate_cancel(void *arg, uint64_t id, struct sknl_err *err)
{
	return real_do(arg, STEADYKV_CMD_MIGRATE_CANCEL, 0, NULL, fill_mig_id, &id, err);
}

static int real_migrate_dump(void *arg, void (*fn)(void *ctx, const struct sknl_migration *m),
			     void *ctx, struct sknl_err *err)
{
	struct sknl_replies r = { 0 };
	int rc = real_do(arg, STEADYKV_CMD_MIGRATE_GET, NLM_F_DUMP, &r, NULL, NULL, err);

	if (rc)
		return rc;
	for (size_t i = 0; i < r.count; i++) {
		struct sknl_migration m;

		if (sknl_migration_parse(r.msgs[i], &m) || !SKNL_HAS(&m, STEADYKV_A_MIGRATION_ID))
			logf_("skipping a malformed migrate-get entry");
		else
			fn(ctx, &m);
	}
	sknl_replies_free(&r);
	return 0;
}

static const struct node_agent_nl_ops real_ops = {
	.open = real_open,
	.close = real_close,
	.event_fd = real_event_fd,
	.read_events = real_read_events,
	.listen_start = real_listen_start,
	.listen_get = real_listen_get,
	.table_add = real_table_add,
	.table_del = real_table_del,
	.tablet_add = real_tablet_add,
	.tablet_del = real_tablet_del,
	.migrate_start = real_migrate_start,
	.migrate_cancel = real_migrate_cancel,
	.migrate_dump = real_migrate_dump,
};

/* ---- the agent ---- */

struct mig_entry {
	struct sknl_migration m;
	bool reported;		/* m's state has been sent on this connection */
	uint32_t reported_state;
	uint64_t last_report_ms;
	bool pending;		/* progress held back by the rate limit */
};

enum conn_state { C_IDLE, C_CONNECTING, C_REGISTERING, C_READY };

struct agent {
	const struct node_agent_opts *o;
	const struct node_agent_nl_ops *nl;
	void *nl_arg;
	unsigned int progress_ms, backoff_min, backoff_max, backoff;

	char data_addr[SKV_COORD_ADDR_MAX];
	char coord_host[256];
	uint16_t coord_port;

	int fd;
	enum conn_state cs;
	struct coord_buf in, out;
	uint64_t next_id;
	uint64_t register_id;
	uint64_t retry_at;
	bool announced_down;	/* "coordinator unreachable" logged once per outage */

	struct mig_entry *migs;
	size_t nmigs, cap;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Phases in the order a migration goes through them. */
static int phase_rank(uint32_t state)
{
	switch (state) {
	case STEADYKV_MIGRATION_STATE_PREPARING: return 0;
	case STEADYKV_MIGRATION_STATE_PULLING: return 1;
	case STEADYKV_MIGRATION_STATE_CATCHING_UP: return 2;
	case STEADYKV_MIGRATION_STATE_ROLLING_BACK: return 3;
	default: return 4;	/* done, cancelled, failed, unknown */
	}
}

static struct mig_entry *mig_find(struct agent *a, uint64_t id)
{
	for (size_t i = 0; i < a->nmigs; i++)
		if (a->migs[i].m.id == id)
			return &a->migs[i];
	return NULL;
}

static void mig_to_coord(const struct agent *a, const struct sknl_migration *m,
			 struct skv_migration *c)
{
	memset(c, 0, sizeof(*c));
	/* The same attributes, the same present bits. */
	c->present = m->present & SKV_MIG_ATTR_BITS;
	c->id = m->id;
	c->table_id = m->table_id;
	c->start_hash = m->start_hash;
	c->end_hash = m->end_hash;
	c->src = 0;		/* the coordinator knows which node that is */
	c->dst = a->o->node_id;
	c->mode = m->mode;
	c->partitions = m->partitions;
	c->pulls_in_flight = m->pulls_in_flight;
	c->pull_budget = m->pull_budget;
	c->priority_pulls = m->priority_pulls;
	c->state = m->state;
	c->error = m->error;
	c->progress_permille = m->progress_permille;
	c->safe_version = m->safe_version;
	c->elapsed_us = m->elapsed_us;
	c->owned_us = m->owned_us;
	c->bytes_pulled = m->bytes_pulled;
	c->records_pulled = m->records_pulled;
	c->records_replayed = m->records_replayed;
	c->priority_keys = m->priority_keys;
	c->records_skipped = m->records_skipped;
	c->pulls = m->pulls;
	c->priority_pulls_sent = m->priority_pulls_sent;
	c->partitions_done = m->partitions_done;
	sknl_migration_source(m, c->source, sizeof(c->source));
	snprintf(c->error_msg, sizeof(c->error_msg), "%s", m->error_msg);
}

static void conn_close(struct agent *a, const char *why);

/* Queue a MIG_REPORT of e (READY only). */
static void mig_report(struct agent *a, struct mig_entry *e)
{
	struct skv_migration c;
	struct coord_buf body;
	int rc;

	if (a->cs != C_READY)
		return;
	mig_to_coord(a, &e->m, &c);
	coord_buf_init(&body);
	rc = coord_mig_encode(&body, &c);
	if (!rc)
		rc = coord_frame_append(&a->out, SKV_COORD_OP_MIG_REPORT, 0, 0, a->next_id++,
					body.p, body.len);
	coord_buf_free(&body);
	if (rc) {
		logf_("migration %" PRIu64 ": cannot queue a report: %s", e->m.id, strerror(-rc));
		return;
	}
	if (!e->reported || e->reported_state != e->m.state)
		logf_("migration %" PRIu64 ": reported %s (%u.%u%%)", e->m.id,
		      sknl_mig_state_name(e->m.state), e->m.progress_permille / 10,
		      e->m.progress_permille % 10);
	e->reported = true;
	e->reported_state = e->m.state;
	e->last_report_ms = now_ms();
	e->pending = false;
}

/* Report e now if its phase changed, else when the rate limit allows. */
static void mig_maybe_report(struct agent *a, struct mig_entry *e)
{
	uint64_t now = now_ms();

	if (a->cs != C_READY)
		return;
	if (!e->reported || e->reported_state != e->m.state ||
	    now - e->last_report_ms >= a->progress_ms)
		mig_report(a, e);
	else
		e->pending = true;
}

/* A view of a migration from an event or a dump; stale views are dropped. */
static void mig_update(void *ctx, const struct sknl_migration *m)
{
	struct agent *a = ctx;
	struct mig_entry *e = mig_find(a, m->id);

	if (!SKNL_HAS(m, STEADYKV_A_MIGRATION_STATE))
		return;
	if (!e) {
		if (a->nmigs == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 16;
			struct mig_entry *v = realloc(a->migs, cap * sizeof(*v));

			if (!v) {
				logf_("migration %" PRIu64 ": out of memory", m->id);
				return;
			}
			a->migs = v;
			a->cap = cap;
		}
		e = &a->migs[a->nmigs++];
		memset(e, 0, sizeof(*e));
		e->m = *m;
		logf_("migration %" PRIu64 ": %s (table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64
		      ")", m->id, sknl_mig_state_name(m->state), m->table_id, m->start_hash,
		      m->end_hash);
		mig_maybe_report(a, e);
		return;
	}
	if (phase_rank(m->state) < phase_rank(e->m.state) ||
	    (m->state == e->m.state && m->elapsed_us < e->m.elapsed_us))
		return;	/* an event older than what a dump already told */
	if (m->state == e->m.state && sknl_mig_state_final(m->state))
		return;	/* nothing new after the end */
	if (m->state != e->m.state) {
		if (m->error)
			logf_("migration %" PRIu64 ": %s -> %s: %s%s%s", m->id,
			      sknl_mig_state_name(e->m.state), sknl_mig_state_name(m->state),
			      strerror((int)m->error), m->error_msg[0] ? ": " : "", m->error_msg);
		else
			logf_("migration %" PRIu64 ": %s -> %s", m->id,
			      sknl_mig_state_name(e->m.state), sknl_mig_state_name(m->state));
	}
	e->m = *m;
	mig_maybe_report(a, e);
}

/* Read every migration again (start, overrun, registration); 0 or -1. */
static int mig_resync(struct agent *a)
{
	struct sknl_err err;
	int rc = a->nl->migrate_dump(a->nl_arg, mig_update, a, &err);

	if (rc == -EOPNOTSUPP) {
		/* A module without migrations: nothing to report. */
		return 0;
	}
	if (rc) {
		char why[512];

		sknl_err_format(&err, why, sizeof(why));
		logf_("migrate-get dump: %s", why);
		return -1;
	}
	return 0;
}

/* After (re)registration: the coordinator hears about every migration again. */
static void mig_report_all(struct agent *a)
{
	for (size_t i = 0; i < a->nmigs; i++)
		a->migs[i].reported = false;
	mig_resync(a);
	for (size_t i = 0; i < a->nmigs; i++)
		if (!a->migs[i].reported)
			mig_report(a, &a->migs[i]);
}

static void flush_pending(struct agent *a)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < a->nmigs; i++) {
		struct mig_entry *e = &a->migs[i];

		if (e->pending && now - e->last_report_ms >= a->progress_ms)
			mig_report(a, e);
	}
}

/* Milliseconds until the next held-back report is due; -1 if none. */
static int64_t pending_wait(const struct agent *a)
{
	uint64_t now = now_ms();
	int64_t best = -1;

	if (a->cs != C_READY)
		return -1;
	for (size_t i = 0; i < a->nmigs; i++) {
		const struct mig_entry *e = &a->migs[i];
		uint64_t due = e->last_report_ms + a->progress_ms;
		int64_t w = due > now ? (int64_t)(due - now) : 0;

		if (e->pending && (best < 0 || w < best))
			best = w;
	}
	return best;
}

/* ---- coordinator commands ---- */

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

/* Fill err for a failure of ours (bad body, unresolvable address). */
static int fail(struct sknl_err *err, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct sknl_err *err, int e, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->error = e;
	err->local = true;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -e;
}

/* "host:port" to network-order bytes; 0 or -1. */
static int resolve(const char *hostport, uint8_t *addr, int *alen, uint16_t *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char host[256];

	if (parse_hostport(hostport, host, sizeof(host), port))
		return -1;
	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return -1;
	if (res->ai_family == AF_INET &&
	    res->ai_addrlen >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
		*alen = 4;
	} else if (res->ai_family == AF_INET6 &&
		   res->ai_addrlen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
		*alen = 16;
	} else {
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

static int cmd_tablet_add(struct agent *a, const void *body, size_t len, struct sknl_err *err)
{
	struct coord_tablet_info t;
	int rc;

	if (coord_tablet_decode(body, len, &t))
		return fail(err, EINVAL, "malformed tablet (%zu bytes)", len);
	rc = a->nl->table_add(a->nl_arg, t.table_id, err);
	if (rc && rc != -EEXIST)
		return rc;
	rc = a->nl->tablet_add(a->nl_arg, t.table_id, t.start_hash, t.end_hash, err);
	if (!rc)
		logf_("tablet added: table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64,
		      t.table_id, t.start_hash, t.end_hash);
	return rc;
}

static int cmd_tablet_del(struct agent *a, const void *body, size_t len, struct sknl_err *err)
{
	struct coord_tablet_info t;
	int rc;

	if (coord_tablet_decode(body, len, &t))
		return fail(err, EINVAL, "malformed tablet (%zu bytes)", len);
	rc = a->nl->tablet_del(a->nl_arg, t.table_id, t.start_hash, t.end_hash, err);
	if (!rc)
		logf_("tablet deleted: table %" PRIu64 " 0x%016" PRIx64 "-0x%016" PRIx64,
		      t.table_id, t.start_hash, t.end_hash);
	return rc;
}

static int cmd_table_del(struct agent *a, const void *body, size_t len, struct sknl_err *err)
{
	struct coord_table_req t;
	int rc;

	if (coord_table_decode(body, len, &t))
		return fail(err, EINVAL, "malformed table (%zu bytes)", len);
	free(t.nodes);
	rc = a->nl->table_del(a->nl_arg, t.table_id, err);
	if (!rc)
		logf_("table deleted: %" PRIu64, t.table_id);
	return rc;
}

static int cmd_migrate_start(struct agent *a, const void *body, size_t len,
			     struct sknl_err *err)
{
	struct sknl_migration m = { 0 };
	struct skv_migration c;
	int alen = 0, rc;

	if (coord_mig_decode(body, len, &c))
		return fail(err, EINVAL, "malformed migration (%zu bytes)", len);
	if (c.id == 0)
		return fail(err, EINVAL, "migration id 0");
	if (resolve(c.source, m.source_addr, &alen, &m.source_port))
		return fail(err, EHOSTUNREACH, "cannot resolve the source address \"%s\"",
			    c.source);
	m.source_addr_len = (uint8_t)alen;
	m.id = c.id;
	m.table_id = c.table_id;
	m.start_hash = c.start_hash;
	m.end_hash = c.end_hash;
	SKNL_SET(&m, STEADYKV_A_MIGRATION_ID);
	SKNL_SET(&m, STEADYKV_A_MIGRATION_TABLE_ID);
	SKNL_SET(&m, STEADYKV_A_MIGRATION_START_HASH);
	SKNL_SET(&m, STEADYKV_A_MIGRATION_END_HASH);
	SKNL_SET(&m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
	SKNL_SET(&m, STEADYKV_A_MIGRATION_SOURCE_PORT);
	/* Tuning: only what was given; the kernel decides the rest. */
	m.present |= c.present & SKV_MIG_TUNING_BITS;
	m.mode = c.mode;
	m.partitions = c.partitions;
	m.pulls_in_flight = c.pulls_in_flight;
	m.pull_budget = c.pull_budget;
	m.priority_pulls = c.priority_pulls;
	rc = a->nl->migrate_start(a->nl_arg, &m, err);
	if (!rc)
		logf_("migration %" PRIu64 ": started, table %" PRIu64 " 0x%016" PRIx64
		      "-0x%016" PRIx64 " from %s (%s)", c.id, c.table_id, c.start_hash,
		      c.end_hash, c.source, sknl_mig_mode_name(c.mode));
	return rc;
}

static int cmd_migrate_cancel(struct agent *a, const void *body, size_t len,
			      struct sknl_err *err)
{
	uint64_t id;
	int rc;

	if (coord_id_decode(body, len, &id))
		return fail(err, EINVAL, "malformed migration id (%zu bytes)", len);
	rc = a->nl->migrate_cancel(a->nl_arg, id, err);
	if (!rc)
		logf_("migration %" PRIu64 ": cancel requested", id);
	return rc;
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
	{ SKV_COORD_OP_NODE_MIGRATE_CANCEL, "migrate-cancel", cmd_migrate_cancel },
};

static void handle_request(struct agent *a, const struct coord_hdr *h, const uint8_t *body)
{
	struct sknl_err err = { 0 };
	const char *name = NULL;
	int rc = -EOPNOTSUPP;

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (commands[i].op == h->opcode) {
			name = commands[i].name;
			rc = commands[i].fn(a, body, h->body_len, &err);
			break;
		}
	}
	if (!name) {
		fail(&err, EOPNOTSUPP, "opcode %u is not a node command", h->opcode);
		rc = -EOPNOTSUPP;
	}
	if (!rc) {
		rc = coord_frame_append(&a->out, h->opcode, SKV_COORD_F_REPLY, 0, h->request_id,
					NULL, 0);
	} else {
		char msg[512];

		if (!err.error)
			err.error = -rc;
		err_text(&err, msg, sizeof(msg));
		logf_("%s (request %" PRIu64 "): %s: %s", name ? name : "command",
		      h->request_id, strerror(err.error), msg);
		rc = coord_frame_append_error(&a->out, h->opcode, h->request_id, err.error, msg);
	}
	if (rc)
		logf_("cannot queue a reply: %s", strerror(-rc));
}

static void handle_reply(struct agent *a, const struct coord_hdr *h, const uint8_t *body)
{
	if (a->cs == C_REGISTERING && h->request_id == a->register_id) {
		if (h->opcode != SKV_COORD_OP_NODE_REGISTER || h->status) {
			logf_("coordinator refused the registration: %s",
			      coord_error_msg(h->status, body, h->body_len));
			conn_close(a, NULL);
			return;
		}
		a->cs = C_READY;
		a->backoff = a->backoff_min;
		a->announced_down = false;
		logf_("registered with the coordinator %s:%u as node %" PRIu32 " (data %s)",
		      a->coord_host, a->coord_port, a->o->node_id, a->data_addr);
		mig_report_all(a);
		return;
	}
	if (h->status)
		logf_("coordinator: reply to request %" PRIu64 " (opcode %u): %s", h->request_id,
		      h->opcode, coord_error_msg(h->status, body, h->body_len));
}

/* ---- coordinator connection ---- */

static void conn_close(struct agent *a, const char *why)
{
	if (a->fd >= 0) {
		if (why && (a->cs == C_READY || a->cs == C_REGISTERING))
			logf_("lost the coordinator: %s", why);
		close(a->fd);
	}
	a->fd = -1;
	a->cs = C_IDLE;
	a->in.len = 0;
	a->out.len = 0;
	a->retry_at = now_ms() + a->backoff;
	a->backoff = a->backoff * 2 > a->backoff_max ? a->backoff_max : a->backoff * 2;
}

static void conn_register(struct agent *a)
{
	struct coord_node_info n = { .id = a->o->node_id };
	struct coord_buf body;
	int rc;

	coord_buf_init(&body);
	snprintf(n.addr, sizeof(n.addr), "%s", a->data_addr);
	rc = coord_node_encode(&body, &n);
	a->register_id = a->next_id++;
	if (!rc)
		rc = coord_frame_append(&a->out, SKV_COORD_OP_NODE_REGISTER, 0, 0,
					a->register_id, body.p, body.len);
	coord_buf_free(&body);
	if (rc) {
		logf_("cannot build NODE_REGISTER: %s", strerror(-rc));
		conn_close(a, NULL);
		return;
	}
	a->cs = C_REGISTERING;
}

static void conn_start(struct agent *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char port[8];
	int fd, one = 1, rc;

	snprintf(port, sizeof(port), "%u", a->coord_port);
	rc = getaddrinfo(a->coord_host, port, &hints, &res);
	if (rc || !res) {
		if (!a->announced_down)
			logf_("cannot resolve the coordinator %s: %s", a->coord_host,
			      rc ? gai_strerror(rc) : "no address");
		a->announced_down = true;
		conn_close(a, NULL);
		return;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		logf_("socket: %s", strerror(errno));
		freeaddrinfo(res);
		conn_close(a, NULL);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = connect(fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	a->fd = fd;
	if (rc == 0) {
		conn_register(a);
	} else if (errno == EINPROGRESS) {
		a->cs = C_CONNECTING;
	} else {
		if (!a->announced_down)
			logf_("cannot connect to the coordinator %s:%u: %s (retrying)",
			      a->coord_host, a->coord_port, strerror(errno));
		a->announced_down = true;
		conn_close(a, NULL);
	}
}

static void conn_connected(struct agent *a)
{
	int e = 0;
	socklen_t l = sizeof(e);

	if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &l) || e) {
		if (!a->announced_down)
			logf_("cannot connect to the coordinator %s:%u: %s (retrying)",
			      a->coord_host, a->coord_port, strerror(e ? e : errno));
		a->announced_down = true;
		conn_close(a, NULL);
		return;
	}
	conn_register(a);
}

static void conn_write(struct agent *a)
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
		coord_buf_consume(&a->out, (size_t)n);
	}
}

static void conn_read(struct agent *a)
{
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
			conn_close(a, n ? strerror(errno) : "connection closed");
			return;
		}
		a->in.len += (size_t)n;
	}
	/* Whole frames, in order; a request's reply is queued before the next. */
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
		else
			handle_request(a, &h, a->in.p + COORD_HDR_LEN);
		if (a->fd < 0)
			return;
		coord_buf_consume(&a->in, flen);
	}
	if (a->out.len > OUT_MAX)
		conn_close(a, "the coordinator does not read its replies");
}

/* ---- start-up ---- */

/* Make the module listen on data_addr; an existing listener there is fine. */
static int ensure_listen(struct agent *a)
{
	uint8_t addr[16];
	uint16_t port;
	int alen;
	struct sknl_err err;
	char why[512];
	int rc;

	if (resolve(a->data_addr, addr, &alen, &port)) {
		logf_("cannot resolve the data address \"%s\"", a->data_addr);
		return -1;
	}
	rc = a->nl->listen_start(a->nl_arg, addr, alen, port, &err);
	if (!rc) {
		logf_("node listening on %s", a->data_addr);
		return 0;
	}
	if (rc == -EBUSY) {
		uint8_t cur[16];
		uint16_t curport;
		int curlen;

		rc = a->nl->listen_get(a->nl_arg, cur, &curlen, &curport, &err);
		if (!rc && curlen == alen && curport == port && !memcmp(cur, addr, (size_t)alen)) {
			logf_("node already listening on %s", a->data_addr);
			return 0;
		}
		if (!rc) {
			char text[INET6_ADDRSTRLEN] = "?";

			if (curlen)
				inet_ntop(curlen == 4 ? AF_INET : AF_INET6, cur, text, sizeof(text));
			logf_("the node already listens on %s port %u, not on %s", text, curport,
			      a->data_addr);
			return -1;
		}
	}
	sknl_err_format(&err, why, sizeof(why));
	logf_("listen-start %s: %s", a->data_addr, why);
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
		struct pollfd p[3];
		int64_t wait = -1, w;
		int n = 0, ifd = -1, ifs = -1, ic = -1, rc;
		struct timespec ts;
		uint64_t now = now_ms();

		if (a->cs == C_IDLE) {
			if (now >= a->retry_at)
				conn_start(a);
			if (a->cs == C_IDLE)
				wait = (int64_t)(a->retry_at > now ? a->retry_at - now : 0);
		}
		w = pending_wait(a);
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
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000;
		rc = ppoll(p, (nfds_t)n, wait < 0 ? NULL : &ts, wait_mask);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			logf_("poll: %s", strerror(errno));
			return -1;
		}
		if (ifs >= 0 && p[ifs].revents)
			break;
		if (p[ifd].revents) {
			rc = a->nl->read_events(a->nl_arg, mig_update, a);
			if (rc == -ENOBUFS) {
				logf_("events were lost (receive buffer overrun): reading every "
				      "migration again");
				mig_resync(a);
			} else if (rc) {
				logf_("netlink events: %s", strerror(-rc));
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
		flush_pending(a);
		if (a->fd >= 0 && a->cs != C_CONNECTING)
			conn_write(a);
	}
	if (stop_signal)
		logf_("stopping (signal %d)", (int)stop_signal);
	else
		logf_("stopping");
	return 0;
}

int node_agent_run(const struct node_agent_opts *o)
{
	struct sigaction sa_int, sa_term, sa = { 0 };
	struct agent a = { .o = o, .fd = -1 };
	sigset_t block, old;
	struct real_nl real;
	struct sknl_err err;
	int rc = 1;

	log_node = o->node_id;
	if (!o->node_id || !o->data_addr || !o->coord_addr) {
		logf_("node agent: node id, data address and coordinator address are required");
		return 1;
	}
	if (parse_hostport(o->coord_addr, a.coord_host, sizeof(a.coord_host),
			   &a.coord_port)) {
		logf_("invalid coordinator address \"%s\" (HOST:PORT)", o->coord_addr);
		return 1;
	}
	if (coord_strlcpy(a.data_addr, sizeof(a.data_addr), o->data_addr)) {
		logf_("data address \"%s\" is too long", o->data_addr);
		return 1;
	}
	a.nl = o->nl ? o->nl : &real_ops;
	a.nl_arg = o->nl ? o->nl_arg : &real;
	a.progress_ms = o->progress_interval_ms ? o->progress_interval_ms : DEF_PROGRESS_MS;
	a.backoff_min = o->reconnect_min_ms ? o->reconnect_min_ms : DEF_RECONNECT_MIN_MS;
	a.backoff_max = o->reconnect_max_ms ? o->reconnect_max_ms : DEF_RECONNECT_MAX_MS;
	if (a.backoff_max < a.backoff_min)
		a.backoff_max = a.backoff_min;
	a.backoff = a.backoff_min;
	a.next_id = 1;
	coord_buf_init(&a.in);
	coord_buf_init(&a.out);
	sknl_set_log(log_line);

	/*
	 * SIGINT/SIGTERM only interrupt ppoll(): blocked everywhere else, so
	 * a signal between the check and the wait is never lost.
	 */
	stop_signal = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (!o->no_signals) {
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &sa_int);
		sigaction(SIGTERM, &sa, &sa_term);
		pthread_sigmask(SIG_BLOCK, &block, &old);
	} else {
		pthread_sigmask(SIG_BLOCK, NULL, &old);
	}

	if (a.nl->open(a.nl_arg, &err)) {
		char why[512];

		sknl_err_format(&err, why, sizeof(why));
		logf_("cannot reach the steadykv module: %s", why);
		goto out;
	}
	if (ensure_listen(&a) || mig_resync(&a))
		goto out_nl;
	logf_("node agent up: node %" PRIu32 ", data %s, coordinator %s", o->node_id,
	      a.data_addr, o->coord_addr);
	rc = agent_loop(&a, &old) ? 1 : 0;
out_nl:
	a.nl->close(a.nl_arg);
out:
	agent_free(&a);
	sknl_set_log(NULL);
	if (!o->no_signals) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		sigaction(SIGINT, &sa_int, NULL);
		sigaction(SIGTERM, &sa_term, NULL);
	}
	return rc;
}
