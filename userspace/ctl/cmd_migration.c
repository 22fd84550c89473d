// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * migration start|cancel|show: node-local migrations (this node is the
 * target and drives the pull), and how a migration prints in "monitor".
 *
 * show without an ID prints one table row per migration; with an ID, every
 * attribute migrate-get returned, one per line; -j always prints every
 * attribute (keys are the attribute names with '_', hash bounds as 0x%016
 * strings, mode and state as names, the source as "ADDR:PORT").
 *
 * start --wait joins the events group BEFORE it sends migrate-start and
 * reads the state with migrate-get after, so no phase change is missed; it
 * then prints every phase change and progress at most once a second, and
 * exits 0 only if the migration ends done.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "nl.h"
#include "parse.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A waiting start falls behind a burst of progress events: room for it. */
#define WAIT_RCVBUF	(1024 * 1024)
/* Progress lines of --wait at most this often (phase changes always). */
#define WAIT_PROGRESS_MS	1000

/* ---- printing ---- */

enum mkind { K_U64, K_U32, K_U16, K_U8, K_HASH, K_MODE, K_STATE, K_BOOL, K_ERRNO };

/* Every attribute of migrate-get, in display order, except source and error-msg. */
static const struct {
	int attr;
	enum mkind kind;
	size_t off;
} mig_fields[] = {
#define F(a, k, f) { STEADYKV_A_MIGRATION_##a, k, offsetof(struct sknl_migration, f) }
	F(ID, K_U64, id),
	F(TABLE_ID, K_U64, table_id),
	F(START_HASH, K_HASH, start_hash),
	F(END_HASH, K_HASH, end_hash),
	F(MODE, K_MODE, mode),
	F(STATE, K_STATE, state),
	F(PROGRESS_PERMILLE, K_U32, progress_permille),
	F(ERROR, K_ERRNO, error),
	F(PARTITIONS, K_U32, partitions),
	F(PULLS_IN_FLIGHT, K_U32, pulls_in_flight),
	F(PULL_BUDGET, K_U32, pull_budget),
	F(PRIORITY_PULLS, K_BOOL, priority_pulls),
	F(SAFE_VERSION, K_U64, safe_version),
	F(ELAPSED_US, K_U64, elapsed_us),
	F(OWNED_US, K_U64, owned_us),
	F(BYTES_PULLED, K_U64, bytes_pulled),
	F(RECORDS_PULLED, K_U64, records_pulled),
	F(RECORDS_REPLAYED, K_U64, records_replayed),
	F(RECORDS_SKIPPED, K_U64, records_skipped),
	F(PULLS, K_U64, pulls),
	F(PRIORITY_PULLS_SENT, K_U64, priority_pulls_sent),
	F(PRIORITY_KEYS, K_U64, priority_keys),
	F(PARTITIONS_DONE, K_U32, partitions_done),
	F(SOURCE_PORT, K_U16, source_port),	/* only without source-addr */
#undef F
};

static uint64_t field_value(const struct sknl_migration *m, size_t i)
{
	const char *p = (const char *)m + mig_fields[i].off;

	switch (mig_fields[i].kind) {
	case K_U8:
	case K_BOOL: return *(const uint8_t *)p;
	case K_U16: return *(const uint16_t *)p;
	case K_U32:
	case K_MODE:
	case K_STATE:
	case K_ERRNO: return *(const uint32_t *)p;
	default: return *(const uint64_t *)p;
	}
}

static void json_key_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
}

/* Every attribute present in m: "name value" separated by sep, or JSON keys. */
void show_migration(struct ctl *c, const struct sknl_migration *m, bool one_line)
{
	bool has_src = SKNL_HAS(m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
	const char *sep = one_line ? " " : "\n";
	FILE *f = c->j.f;
	char src[INET6_ADDRSTRLEN + 10];
	bool first = true;

	sknl_migration_source(m, src, sizeof(src));
	for (size_t i = 0; i < ARRAY_SIZE(mig_fields); i++) {
		int attr = mig_fields[i].attr;
		const char *name = sknl_mig_attr_name(attr);
		uint64_t v = field_value(m, i);

		if (!SKNL_HAS(m, attr) || (attr == STEADYKV_A_MIGRATION_SOURCE_PORT && has_src))
			continue;
		if (c->json) {
			char key[48];

			json_key_of(key, sizeof(key), name);
			switch (mig_fields[i].kind) {
			case K_HASH: json_kv_hex64(&c->j, key, v); break;
			case K_MODE: json_kv_str(&c->j, key, sknl_mig_mode_name((uint32_t)v)); break;
			case K_STATE: json_kv_str(&c->j, key, sknl_mig_state_name((uint32_t)v)); break;
			case K_BOOL: json_kv_bool(&c->j, key, v != 0); break;
			default: json_kv_u64(&c->j, key, v); break;
			}
			/* The source right after the range, as the request named it. */
			if (attr == STEADYKV_A_MIGRATION_END_HASH && src[0])
				json_kv_str(&c->j, "source", src);
			continue;
		}
		fprintf(f, "%s%s ", first ? "" : sep, name);
		first = false;
		switch (mig_fields[i].kind) {
		case K_HASH: fprintf(f, "0x%016" PRIx64, v); break;
		case K_MODE: fputs(sknl_mig_mode_name((uint32_t)v), f); break;
		case K_STATE: fputs(sknl_mig_state_name((uint32_t)v), f); break;
		case K_BOOL: fputs(v ? "on" : "off", f); break;
		case K_ERRNO:
			fprintf(f, "%" PRIu64, v);
			if (v)
				fprintf(f, " (%s)", strerror((int)v));
			break;
		default: fprintf(f, "%" PRIu64, v); break;
		}
		if (attr == STEADYKV_A_MIGRATION_END_HASH && src[0])
			fprintf(f, "%ssource %s", sep, src);
	}
	if (SKNL_HAS(m, STEADYKV_A_MIGRATION_ERROR_MSG)) {
		if (c->json)
			json_kv_str(&c->j, "error_msg", m->error_msg);
		else
			fprintf(f, "%serror-msg \"%s\"", first ? "" : sep, m->error_msg);
		first = false;
	}
	if (!c->json && !first)
		fputc('\n', f);
}

static void table_header(FILE *f)
{
	fprintf(f, "%-6s %-6s %-37s %-22s %-10s %-12s %6s %10s %12s\n", "ID", "TABLE", "RANGE",
		"SOURCE", "MODE", "STATE", "DONE", "ELAPSED", "PULLED");
}

/* One table row: the attributes that say where a migration stands. */
static void table_row(FILE *f, const struct sknl_migration *m)
{
	char range[40], src[INET6_ADDRSTRLEN + 10], pct[24], secs[32], bytes[24];

	snprintf(range, sizeof(range), "%016" PRIx64 "-%016" PRIx64, m->start_hash, m->end_hash);
	sknl_migration_source(m, src, sizeof(src));
	snprintf(pct, sizeof(pct), "%u.%u%%", m->progress_permille / 10,
		 m->progress_permille % 10);
	snprintf(secs, sizeof(secs), "%" PRIu64 ".%03" PRIu64 "s", m->elapsed_us / 1000000,
		 m->elapsed_us / 1000 % 1000);
	snprintf(bytes, sizeof(bytes), "%" PRIu64, m->bytes_pulled);
	fprintf(f, "%-6" PRIu64 " %-6" PRIu64 " %-37s %-22s %-10s %-12s %6s %10s %12s\n", m->id,
		m->table_id, range, src[0] ? src : "-", sknl_mig_mode_name(m->mode),
		sknl_mig_state_name(m->state), pct, secs, bytes);
	if (m->error || m->error_msg[0])
		fprintf(f, "       error %u (%s)%s%s\n", m->error, strerror((int)m->error),
			m->error_msg[0] ? ": " : "", m->error_msg);
}

/* ---- parsing ---- */

/* "START-END", each u64 | min | max, START <= END. */
int migration_parse_range(const char *s, uint64_t *start, uint64_t *end)
{
	const char *dash = strchr(s, '-');
	char a[32];
	size_t n;

	if (!dash || strchr(dash + 1, '-'))
		return -1;
	n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(a))
		return -1;
	memcpy(a, s, n);
	a[n] = 0;
	if (parse_hash(a, start) || parse_hash(dash + 1, end) || *start > *end)
		return -1;
	return 0;
}

/* A u32 option value, 1..UINT32_MAX (0 would mean "default": leave it out). */
static int parse_pos_u32(const char *s, uint32_t *v)
{
	return parse_u32(s, v) || *v == 0 ? -1 : 0;
}

int migration_parse_start(int argc, char **argv, struct migration_start *a)
{
	struct sknl_migration *m = &a->m;
	const char *pos[3] = { NULL, NULL, NULL };
	int npos = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t size;
		uint32_t u;

		if (w[0] != '-' || w[1] != '-') {
			if (npos == 3)
				return usage_error("migration", "migration start: unexpected \"%s\"",
						   w);
			pos[npos++] = w;
			continue;
		}
		if (!strcmp(w, "--wait")) {
			a->wait = true;
			continue;
		}
		if (!strcmp(w, "--no-priority-pulls")) {
			m->priority_pulls = 0;
			SKNL_SET(m, STEADYKV_A_MIGRATION_PRIORITY_PULLS);
			continue;
		}
		if (strcmp(w, "--from") && strcmp(w, "--mode") && strcmp(w, "--partitions") &&
		    strcmp(w, "--inflight") && strcmp(w, "--budget"))
			return usage_error("migration", "migration start: unknown option \"%s\"", w);
		if (!v)
			return usage_error("migration", "migration start: %s needs a value", w);
		i++;
		if (!strcmp(w, "--from")) {
			if (parse_hostport(v, a->from_host, sizeof(a->from_host), &a->from_port) ||
			    a->from_port == 0)
				return usage_error("migration", "migration start: invalid source "
						   "\"%s\" (ADDR:PORT)", v);
			a->has_from = true;
		} else if (!strcmp(w, "--mode")) {
			if (sknl_mig_mode_parse(v, &m->mode))
				return usage_error("migration", "migration start: invalid mode "
						   "\"%s\"", v);
		} else if (!strcmp(w, "--partitions") || !strcmp(w, "--inflight")) {
			if (parse_pos_u32(v, &u))
				return usage_error("migration", "migration start: invalid %s "
						   "\"%s\"", w, v);
			if (!strcmp(w, "--partitions")) {
				m->partitions = u;
				SKNL_SET(m, STEADYKV_A_MIGRATION_PARTITIONS);
			} else {
				m->pulls_in_flight = u;
				SKNL_SET(m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT);
			}
		} else {
			if (parse_size(v, &size) || size == 0 || size > UINT32_MAX)
				return usage_error("migration", "migration start: invalid budget "
						   "\"%s\"", v);
			m->pull_budget = (uint32_t)size;
			SKNL_SET(m, STEADYKV_A_MIGRATION_PULL_BUDGET);
		}
	}
	if (npos != 3)
		return usage_error("migration", "migration start: expected ID TABLE START-END");
	if (parse_u64(pos[0], &m->id) || m->id == 0)
		return usage_error("migration", "migration start: invalid migration id \"%s\"",
				   pos[0]);
	if (parse_u64(pos[1], &m->table_id))
		return usage_error("migration", "migration start: invalid table id \"%s\"", pos[1]);
	if (migration_parse_range(pos[2], &m->start_hash, &m->end_hash))
		return usage_error("migration", "migration start: invalid hash range \"%s\" "
				   "(START-END, START <= END)", pos[2]);
	if (!a->has_from)
		return usage_error("migration", "migration start: missing --from ADDR:PORT");
	SKNL_SET(m, STEADYKV_A_MIGRATION_ID);
	SKNL_SET(m, STEADYKV_A_MIGRATION_TABLE_ID);
	SKNL_SET(m, STEADYKV_A_MIGRATION_START_HASH);
	SKNL_SET(m, STEADYKV_A_MIGRATION_END_HASH);
	SKNL_SET(m, STEADYKV_A_MIGRATION_MODE);
	return 0;
}

int migration_resolve(const char *host, uint16_t port, struct sknl_migration *m)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int rc;

	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		/* Without an address configured, AI_ADDRCONFIG hides even literals. */
		hints.ai_flags = 0;
		rc = getaddrinfo(host, NULL, &hints, &res);
	}
	if (rc || !res)
		return -1;
	if (res->ai_family == AF_INET &&
	    res->ai_addrlen >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(m->source_addr, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
		m->source_addr_len = 4;
	} else if (res->ai_family == AF_INET6 &&
		   res->ai_addrlen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(m->source_addr, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
		m->source_addr_len = 16;
	} else {
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	m->source_port = port;
	SKNL_SET(m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
	SKNL_SET(m, STEADYKV_A_MIGRATION_SOURCE_PORT);
	return 0;
}

/* ---- running ---- */

/* migrate-get of one id (0: dump all) into a malloc'd array. */
static int get_migrations(struct sknl *nl, uint64_t id, const char *op,
			  struct sknl_migration **out, size_t *count)
{
	struct sknl_replies r = { 0 };
	struct nl_msg *msg = sknl_request(nl, STEADYKV_CMD_MIGRATE_GET, id ? 0 : NLM_F_DUMP);
	struct sknl_migration *v = NULL;
	size_t n = 0;

	*out = NULL;
	*count = 0;
	if (!msg || (id && nla_put_u64(msg, STEADYKV_A_MIGRATION_ID, id))) {
		fprintf(stderr, "steadykvctl: %s: cannot build the request\n", op);
		nlmsg_free(msg);
		return -1;
	}
	if (sknl_transact(nl, msg, op, &r))
		return -1;
	if (r.count) {
		v = calloc(r.count, sizeof(*v));
		if (!v) {
			fprintf(stderr, "steadykvctl: %s: out of memory\n", op);
			sknl_replies_free(&r);
			return -1;
		}
	}
	for (size_t i = 0; i < r.count; i++) {
		if (sknl_migration_parse(r.msgs[i], &v[n])) {
			fprintf(stderr, "steadykvctl: %s: skipping a malformed entry\n", op);
			continue;
		}
		n++;
	}
	sknl_replies_free(&r);
	*out = v;
	*count = n;
	return 0;
}

static int migration_show(struct ctl *c, int argc, char **argv)
{
	struct sknl_migration *v;
	uint64_t id = 0;
	struct sknl nl;
	size_t n;
	int rc;

	if (argc > 2)
		return usage_error("migration", "migration show: unexpected \"%s\"", argv[2]);
	if (argc == 2 && (parse_u64(argv[1], &id) || id == 0))
		return usage_error("migration", "migration show: invalid migration id \"%s\"",
				   argv[1]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = get_migrations(&nl, id, "migration show", &v, &n);
	sknl_close(&nl);
	if (rc)
		return EXIT_ERR;
	if (id) {
		if (n != 1) {
			fprintf(stderr, "steadykvctl: migration show: malformed reply from the "
				"kernel\n");
			free(v);
			return EXIT_ERR;
		}
		if (c->json)
			json_obj_begin(&c->j);
		show_migration(c, &v[0], false);
		if (c->json)
			json_obj_end(&c->j);
	} else if (c->json) {
		json_arr_begin(&c->j);
		for (size_t i = 0; i < n; i++) {
			json_obj_begin(&c->j);
			show_migration(c, &v[i], false);
			json_obj_end(&c->j);
		}
		json_arr_end(&c->j);
	} else if (n) {
		table_header(c->j.f);
		for (size_t i = 0; i < n; i++)
			table_row(c->j.f, &v[i]);
	}
	free(v);
	return EXIT_OK;
}

static int migration_cancel(int argc, char **argv)
{
	struct nl_msg *msg;
	struct sknl nl;
	uint64_t id;
	int rc;

	if (argc != 2)
		return usage_error("migration", "migration cancel: expected ID");
	if (parse_u64(argv[1], &id) || id == 0)
		return usage_error("migration", "migration cancel: invalid migration id \"%s\"",
				   argv[1]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	msg = sknl_request(&nl, STEADYKV_CMD_MIGRATE_CANCEL, 0);
	if (!msg || nla_put_u64(msg, STEADYKV_A_MIGRATION_ID, id)) {
		fprintf(stderr, "steadykvctl: migration cancel: cannot build the request\n");
		nlmsg_free(msg);
		sknl_close(&nl);
		return EXIT_ERR;
	}
	rc = sknl_transact(&nl, msg, "migration cancel", NULL);
	sknl_close(&nl);
	return rc ? EXIT_ERR : EXIT_OK;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct waiter {
	struct ctl *c;
	uint64_t id;
	bool have;		/* last holds a state */
	bool printed;
	struct sknl_migration last;
	uint64_t last_print_ms;
	uint32_t last_state;
	bool malformed;
};

/* A new view of our migration: print phase changes, and progress now and then. */
static void wait_update(struct waiter *w, const struct sknl_migration *m)
{
	struct ctl *c = w->c;
	bool phase = !w->printed || m->state != w->last_state;
	uint64_t now = now_ms();

	w->last = *m;
	w->have = true;
	if (!phase && now - w->last_print_ms < WAIT_PROGRESS_MS && !sknl_mig_state_final(m->state))
		return;
	w->printed = true;
	w->last_state = m->state;
	w->last_print_ms = now;
	if (c->json) {
		json_obj_begin(&c->j);
		show_migration(c, m, true);
		json_obj_end(&c->j);
	} else {
		fprintf(c->j.f, "migration %" PRIu64 ": %s %u.%u%% elapsed %" PRIu64 ".%03" PRIu64
			"s pulled %" PRIu64 " bytes %" PRIu64 " records, replayed %" PRIu64,
			m->id, sknl_mig_state_name(m->state), m->progress_permille / 10,
			m->progress_permille % 10, m->elapsed_us / 1000000,
			m->elapsed_us / 1000 % 1000, m->bytes_pulled, m->records_pulled,
			m->records_replayed);
		if (m->error)
			fprintf(c->j.f, ", error %s%s%s", strerror((int)m->error),
				m->error_msg[0] ? ": " : "", m->error_msg);
		fputc('\n', c->j.f);
	}
	fflush(c->j.f);
}

static int wait_event(struct nl_msg *msg, void *arg)
{
	struct waiter *w = arg;
	struct sknl_migration m;

	if (sknl_genlhdr(msg)->cmd != STEADYKV_CMD_MIGRATE_NTF)
		return NL_OK;
	if (sknl_migration_parse(msg, &m)) {
		w->malformed = true;
		return NL_OK;
	}
	if (m.id == w->id && SKNL_HAS(&m, STEADYKV_A_MIGRATION_STATE))
		wait_update(w, &m);
	return NL_OK;
}

/* Read our migration's state with migrate-get; 0 or -1. */
static int wait_refresh(struct waiter *w, struct sknl *nl)
{
	struct sknl_migration *v;
	size_t n;

	if (get_migrations(nl, w->id, "migration start", &v, &n))
		return -1;
	if (n == 1)
		wait_update(w, &v[0]);
	free(v);
	return n == 1 ? 0 : -1;
}

static int wait_done(struct waiter *w, struct sknl *nl, struct sknl *ev)
{
	if (wait_refresh(w, nl))
		return EXIT_ERR;
	while (!sknl_mig_state_final(w->last.state)) {
		int rc = sknl_events_recv(ev, wait_event, w);

		if (w->malformed) {
			fprintf(stderr, "steadykvctl: migration start: skipping a malformed "
				"event\n");
			w->malformed = false;
		}
		if (rc == -ENOBUFS) {
			/* Events were lost: ask for the state again. */
			if (wait_refresh(w, nl))
				return EXIT_ERR;
			continue;
		}
		if (rc && rc != -EAGAIN) {
			fprintf(stderr, "steadykvctl: migration start: events: %s\n",
				strerror(-rc));
			return EXIT_ERR;
		}
	}
	if (w->last.state == STEADYKV_MIGRATION_STATE_DONE)
		return EXIT_OK;
	fprintf(stderr, "steadykvctl: migration %" PRIu64 " %s", w->id,
		sknl_mig_state_name(w->last.state));
	if (w->last.error)
		fprintf(stderr, ": %s", strerror((int)w->last.error));
	if (w->last.error_msg[0])
		fprintf(stderr, ": %s", w->last.error_msg);
	fputc('\n', stderr);
	return EXIT_ERR;
}

static int migration_start(struct ctl *c, int argc, char **argv)
{
	struct migration_start a;
	struct sknl nl, ev = { 0 };
	struct nl_msg *msg;
	int rc;

	rc = migration_parse_start(argc - 1, argv + 1, &a);
	if (rc)
		return rc;
	if (migration_resolve(a.from_host, a.from_port, &a.m)) {
		fprintf(stderr, "steadykvctl: migration start: cannot resolve \"%s\"\n",
			a.from_host);
		return EXIT_ERR;
	}
	if (sknl_open(&nl))
		return EXIT_ERR;
	/* Subscribe first: every phase change after migrate-start reaches us. */
	if (a.wait && sknl_events_open(&ev, WAIT_RCVBUF, false)) {
		sknl_close(&nl);
		return EXIT_ERR;
	}
	msg = sknl_request(&nl, STEADYKV_CMD_MIGRATE_START, 0);
	if (!msg || sknl_migration_put(msg, &a.m)) {
		fprintf(stderr, "steadykvctl: migration start: cannot build the request\n");
		nlmsg_free(msg);
		rc = EXIT_ERR;
	} else if (sknl_transact(&nl, msg, "migration start", NULL)) {
		rc = EXIT_ERR;
	} else if (a.wait) {
		struct waiter w = { .c = c, .id = a.m.id };

		rc = wait_done(&w, &nl, &ev);
	} else {
		rc = EXIT_OK;
	}
	sknl_close(&ev);
	sknl_close(&nl);
	return rc;
}

int cmd_migration(struct ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return usage_error("migration", "migration: missing command");
	if (!strcmp(argv[0], "start"))
		return migration_start(c, argc, argv);
	if (!strcmp(argv[0], "cancel"))
		return migration_cancel(argc, argv);
	if (!strcmp(argv[0], "show") || !strcmp(argv[0], "list"))
		return migration_show(c, argc, argv);
	return usage_error("migration", "migration: unknown command \"%s\"", argv[0]);
}
