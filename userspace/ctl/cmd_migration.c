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
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "parse.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A waiting start falls behind a burst of progress events: room for it. */
#define WAIT_RCVBUF	(1024 * 1024)
/* Progress lines of --wait at most this often (phase changes always). */
#define WAIT_PROGRESS_MS	1000

/* ---- printing ---- */

enum mkind { K_U64, K_HASH, K_MODE, K_STATE, K_BOOL, K_ERRNO };

/* Every attribute of migrate-get, in display order, except source and error-msg. */
static const struct {
	int attr;
	enum mkind kind;
} mig_fields[] = {
#define F(a, k) { STEADYKV_A_MIGRATION_##a, k }
	F(ID, K_U64),
	F(TABLE_ID, K_U64),
	F(START_HASH, K_HASH),
	F(END_HASH, K_HASH),
	F(MODE, K_MODE),
	F(STATE, K_STATE),
	F(PROGRESS_PERMILLE, K_U64),
	F(ERROR, K_ERRNO),
	F(PARTITIONS, K_U64),
	F(PULLS_IN_FLIGHT, K_U64),
	F(PULL_BUDGET, K_U64),
	F(PRIORITY_PULLS, K_BOOL),
	F(SAFE_VERSION, K_U64),
	F(ELAPSED_US, K_U64),
	F(OWNED_US, K_U64),
	F(BYTES_PULLED, K_U64),
	F(RECORDS_PULLED, K_U64),
	F(RECORDS_REPLAYED, K_U64),
	F(RECORDS_SKIPPED, K_U64),
	F(PULLS, K_U64),
	F(PRIORITY_PULLS_SENT, K_U64),
	F(PRIORITY_KEYS, K_U64),
	F(PARTITIONS_DONE, K_U64),
	F(PACE_DEPTH, K_U64),
	F(PACE_CLIENT_P999_US, K_U64),
#undef F
};

static void json_key_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
}

/* Every attribute present in m: "name value" separated by sep, or JSON keys. */
void show_migration(struct ctl *c, const struct skv_migration *m, bool one_line)
{
	const char *src = SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_SOURCE_ADDR) ? m->source : "";
	const char *sep = one_line ? " " : "\n";
	FILE *f = c->j.f;
	bool first = true;

	for (size_t i = 0; i < ARRAY_SIZE(mig_fields); i++) {
		int attr = mig_fields[i].attr;
		const char *name = sknl_mig_attr_name(attr);
		uint64_t v;

		if (!SKV_MIG_HAS(m, attr) || !sknl_mig_value(m, attr, &v))
			continue;
		if (c->json) {
			char key[48];

			json_key_of(key, sizeof(key), name);
			switch (mig_fields[i].kind) {
			case K_HASH: json_kv_hex64(&c->j, key, v); break;
			case K_MODE: json_kv_str(&c->j, key, skv_mig_mode_str((uint32_t)v)); break;
			case K_STATE: json_kv_str(&c->j, key, skv_mig_state_str((uint32_t)v)); break;
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
		case K_MODE: fputs(skv_mig_mode_str((uint32_t)v), f); break;
		case K_STATE: fputs(skv_mig_state_str((uint32_t)v), f); break;
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
	if (SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_ERROR_MSG)) {
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
static void table_row(FILE *f, const struct skv_migration *m)
{
	const char *src = SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_SOURCE_ADDR) ? m->source : "";
	char range[40], pct[24], secs[32], bytes[24];

	snprintf(range, sizeof(range), "%016" PRIx64 "-%016" PRIx64, m->start_hash, m->end_hash);
	snprintf(pct, sizeof(pct), "%u.%u%%", m->progress_permille / 10,
		 m->progress_permille % 10);
	snprintf(secs, sizeof(secs), "%" PRIu64 ".%03" PRIu64 "s", m->elapsed_us / 1000000,
		 m->elapsed_us / 1000 % 1000);
	snprintf(bytes, sizeof(bytes), "%" PRIu64, m->bytes_pulled);
	fprintf(f, "%-6" PRIu64 " %-6" PRIu64 " %-37s %-22s %-10s %-12s %6s %10s %12s\n", m->id,
		m->table_id, range, src[0] ? src : "-", skv_mig_mode_str(m->mode),
		skv_mig_state_str(m->state), pct, secs, bytes);
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

/*
 * The tuning option w with value v (parsed by the caller, ok) into m's
 * field of attribute attr, present and in range; 0 or EXIT_USAGE.
 */
static int set_tuning(struct skv_migration *m, int attr, const char *w, const char *v, bool ok,
		      uint64_t value)
{
	const char *why = ok ? skv_mig_tuning_invalid(attr, value) : "not a number";

	if (why)
		return usage_error("migration", "migration start: invalid %s \"%s\": %s", w, v,
				   why);
	switch (attr) {
	case STEADYKV_A_MIGRATION_MODE: m->mode = (uint32_t)value; break;
	case STEADYKV_A_MIGRATION_PARTITIONS: m->partitions = (uint32_t)value; break;
	case STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT: m->pulls_in_flight = (uint32_t)value; break;
	case STEADYKV_A_MIGRATION_PULL_BUDGET: m->pull_budget = (uint32_t)value; break;
	case STEADYKV_A_MIGRATION_PRIORITY_PULLS: m->priority_pulls = (uint8_t)value; break;
	}
	SKV_MIG_SET(m, attr);
	return 0;
}

int migration_parse_start(int argc, char **argv, struct migration_start *a)
{
	struct skv_migration *m = &a->m;
	const char *pos[3] = { NULL, NULL, NULL };
	int npos = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t size = 0;
		uint32_t u = 0;
		int rc;

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
			set_tuning(m, STEADYKV_A_MIGRATION_PRIORITY_PULLS, w, "", true, 0);
			continue;
		}
		if (strcmp(w, "--from") && strcmp(w, "--mode") && strcmp(w, "--partitions") &&
		    strcmp(w, "--inflight") && strcmp(w, "--budget"))
			return usage_error("migration", "migration start: unknown option \"%s\"", w);
		if (!v)
			return usage_error("migration", "migration start: %s needs a value", w);
		i++;
		if (!strcmp(w, "--from")) {
			char host[SKV_MIG_ADDR_MAX];
			uint16_t port;

			if (parse_hostport(v, host, sizeof(host), &port) || port == 0 ||
			    strlen(v) >= sizeof(m->source))
				return usage_error("migration", "migration start: invalid source "
						   "\"%s\" (ADDR:PORT)", v);
			snprintf(m->source, sizeof(m->source), "%s", v);
			SKV_MIG_SET(m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
			SKV_MIG_SET(m, STEADYKV_A_MIGRATION_SOURCE_PORT);
			continue;
		}
		if (!strcmp(w, "--mode")) {
			if (sknl_mig_mode_parse(v, &u))
				return usage_error("migration", "migration start: invalid mode "
						   "\"%s\"", v);
			rc = set_tuning(m, STEADYKV_A_MIGRATION_MODE, w, v, true, u);
		} else if (!strcmp(w, "--partitions")) {
			bool ok = !parse_u32(v, &u);

			rc = set_tuning(m, STEADYKV_A_MIGRATION_PARTITIONS, w, v, ok, u);
		} else if (!strcmp(w, "--inflight")) {
			bool ok = !parse_u32(v, &u);

			rc = set_tuning(m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT, w, v, ok, u);
		} else {
			bool ok = !parse_size(v, &size);

			/* The message names the budget the way the tests and users know it. */
			rc = set_tuning(m, STEADYKV_A_MIGRATION_PULL_BUDGET, "budget", v, ok, size);
		}
		if (rc)
			return rc;
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
	if (!SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_SOURCE_ADDR))
		return usage_error("migration", "migration start: missing --from ADDR:PORT");
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_ID);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_TABLE_ID);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_START_HASH);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_END_HASH);
	return 0;
}

/* ---- running ---- */

/* migrate-get of one id (0: dump all) into a malloc'd array; 0 or -1 (logged). */
static int get_migrations(struct sknl *nl, uint64_t id, const char *op,
			  struct skv_migration **out, size_t *count)
{
	struct sknl_err err;
	int rc;

	if (!id) {
		rc = sknl_migrate_dump(nl, out, count, &err);
	} else {
		*count = 0;
		*out = malloc(sizeof(**out));
		rc = *out ? sknl_migrate_get(nl, id, *out, &err)
			  : sknl_err_local(&err, ENOMEM, "out of memory");
		if (rc) {
			free(*out);
			*out = NULL;
		} else {
			*count = 1;
		}
	}
	if (rc)
		sknl_err_log(op, &err);
	return rc ? -1 : 0;
}

static int migration_show(struct ctl *c, int argc, char **argv)
{
	struct skv_migration *v;
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
	struct sknl_err err;
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
	rc = ctl_nl_status(sknl_migrate_cancel(&nl, id, &err), "migration cancel", &err);
	sknl_close(&nl);
	return rc;
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
	struct skv_migration last;
	uint64_t last_print_ms;
	uint32_t last_state;
	bool malformed;
};

/* A new view of our migration: print phase changes, and progress now and then. */
static void wait_update(struct waiter *w, const struct skv_migration *m)
{
	struct ctl *c = w->c;
	bool phase = !w->printed || m->state != w->last_state;
	uint64_t now = now_ms();

	w->last = *m;
	w->have = true;
	if (!phase && now - w->last_print_ms < WAIT_PROGRESS_MS && !skv_mig_state_final(m->state))
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
			m->id, skv_mig_state_str(m->state), m->progress_permille / 10,
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

static void wait_event(const struct sknl_event *ev, void *arg)
{
	struct waiter *w = arg;

	if (ev->cmd != STEADYKV_CMD_MIGRATE_NTF)
		return;
	if (ev->malformed) {
		w->malformed = true;
		return;
	}
	if (ev->mig.id == w->id && SKV_MIG_HAS(&ev->mig, STEADYKV_A_MIGRATION_STATE))
		wait_update(w, &ev->mig);
}

/* Read our migration's state with migrate-get; 0 or -1. */
static int wait_refresh(struct waiter *w, struct sknl *nl)
{
	struct skv_migration *v;
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
	while (!skv_mig_state_final(w->last.state)) {
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
		skv_mig_state_str(w->last.state));
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
	struct sknl_err err;
	int rc;

	rc = migration_parse_start(argc - 1, argv + 1, &a);
	if (rc)
		return rc;
	if (sknl_open(&nl))
		return EXIT_ERR;
	/* Subscribe first: every phase change after migrate-start reaches us. */
	if (a.wait && sknl_events_open(&ev, WAIT_RCVBUF, false)) {
		sknl_close(&nl);
		return EXIT_ERR;
	}
	rc = ctl_nl_status(sknl_migrate_start(&nl, &a.m, &err), "migration start", &err);
	if (!rc && a.wait) {
		struct waiter w = { .c = c, .id = a.m.id };

		rc = wait_done(&w, &nl, &ev);
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
