// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cluster create-table|drop-table|map|migrate|split-migrate|status|cancel:
 * the cluster through its coordinator (include/steadykv/coord.h), not the
 * module of this namespace.  The coordinator is -c/--coord HOST:PORT (any
 * place after "cluster"), else $STEADYKV_COORD, else 127.0.0.1:7100; a
 * list HOST:PORT,HOST:PORT (a leader and its standbys) is tried in turn.
 *
 * The connection authenticates as ADMIN with the admin key from
 * -k/--admin-key FILE, else $STEADYKV_ADMIN_KEY, else /etc/steadykv/admin.key
 * when that file exists; without a key only map and status work (the
 * coordinator refuses changes, unless it runs --insecure).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uapi/linux/steadykv.h>

#include "auth_key.h"
#include "coord_proto.h"
#include "ctl.h"
#include "mig_names.h"
#include "parse.h"

#define DEFAULT_COORD	"127.0.0.1:7100"
#define CALL_TIMEOUT_MS	30000	/* the coordinator waits for nodes itself */
#define WAIT_POLL_MS	200
#define MAX_NODES	4096

struct cl {
	struct ctl *c;
	const char *addr;
	const char *cmd;
	const char *admin_key;	/* NULL: none */
	struct coord_client cc;
};

static int cl_err(const struct cl *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int cl_err(const struct cl *k, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "steadykvctl: cluster %s: ", k->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERR;
}

static int cl_connect(struct cl *k)
{
	struct skv_auth_key key;
	char why[256];
	int ret;
	char item[SKV_COORD_ADDR_MAX];
	size_t i;

	/* A leader and its standbys: the first that answers. */
	for (i = 0; i < addr_list_count(k->addr); i++) {
		if (addr_list_item(k->addr, i, item, sizeof(item)))
			return cl_err(k, "bad coordinator list \"%s\"", k->addr);
		if (!coord_client_connect(&k->cc, item, 5000))
			break;
	}
	if (i == addr_list_count(k->addr))
		return cl_err(k, "%s", k->cc.err);
	k->cc.timeout_ms = CALL_TIMEOUT_MS;
	if (!k->admin_key)
		return 0;
	if (skv_auth_key_load(&key, k->admin_key, why, sizeof(why)))
		return cl_err(k, "admin key: %s", why);
	ret = coord_client_auth(&k->cc, &key, SKV_AUTH_ROLE_ADMIN);
	skv_auth_key_clear(&key);
	if (ret)
		return cl_err(k, "authentication as ADMIN failed: %s", k->cc.err);
	return 0;
}

/*
 * One request; 0 with the reply in *r, or EXIT_ERR after printing the
 * coordinator's message (r freed).
 */
static int cl_call(struct cl *k, uint8_t op, const struct coord_buf *b,
		   struct coord_reply *r)
{
	if (coord_client_call(&k->cc, op, b ? b->p : NULL, b ? b->len : 0, r))
		return cl_err(k, "%s", k->cc.err);
	if (r->status) {
		cl_err(k, "%s", k->cc.err);
		coord_reply_free(r);
		return EXIT_ERR;
	}
	return 0;
}

static int get_map(struct cl *k, struct coord_map_info *mi)
{
	struct coord_reply r;
	int rc = cl_call(k, SKV_COORD_OP_GET_MAP, NULL, &r);

	if (rc)
		return rc;
	if (coord_map_decode(r.body, r.len, mi))
		rc = cl_err(k, "malformed map from the coordinator");
	coord_reply_free(&r);
	return rc;
}

/* "START-END", each u64 | min | max; 0 or -1. */
static int parse_range(const char *s, uint64_t *start, uint64_t *end)
{
	const char *dash = strchr(s, '-');
	char first[32];
	size_t n;

	if (!dash)
		return -1;
	n = (size_t)(dash - s);
	if (!n || n >= sizeof(first))
		return -1;
	memcpy(first, s, n);
	first[n] = '\0';
	if (parse_hash(first, start) || parse_hash(dash + 1, end) || *start > *end)
		return -1;
	return 0;
}

/* "1,2,3": at most MAX_NODES ids, none 0; 0 or -1. */
static int parse_nodes(const char *s, uint32_t **out, uint32_t *n)
{
	char *copy = strdup(s), *save = NULL, *tok;
	uint32_t *v = calloc(MAX_NODES, sizeof(*v)), cnt = 0;
	int ret = 0;

	if (!copy || !v) {
		ret = -1;
		goto out;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (cnt == MAX_NODES || parse_u32(tok, &v[cnt]) || !v[cnt]) {
			ret = -1;
			goto out;
		}
		cnt++;
	}
	if (!cnt || s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
		ret = -1;
out:
	free(copy);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)b);
}

static const char *errno_name(uint32_t e)
{
	switch (e) {
	case 0: return "";
	case EIO: return "EIO";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case ENOSPC: return "ENOSPC";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECANCELED: return "ECANCELED";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case EUCLEAN: return "EUCLEAN";
	case EREMOTE: return "EREMOTE";
	case EREMCHG: return "EREMCHG";
	default: return "";
	}
}

static void show_mig_json(struct json *j, const struct skv_migration *g)
{
	json_obj_begin(j);
	json_kv_u64(j, "id", g->id);
	json_kv_u64(j, "table", g->table_id);
	json_kv_hex64(j, "start", g->start_hash);
	json_kv_hex64(j, "end", g->end_hash);
	json_kv_u64(j, "src", g->src);
	json_kv_u64(j, "dst", g->dst);
	json_kv_str(j, "mode", skv_mig_mode_str(g->mode));
	json_kv_str(j, "state", skv_mig_state_str(g->state));
	json_kv_u64(j, "error", g->error);
	if (g->error)
		json_kv_str(j, "error_name", errno_name(g->error));
	json_kv_str(j, "msg", g->error_msg);
	json_kv_u64(j, "progress_permille", g->progress_permille);
	json_kv_u64(j, "safe_version", g->safe_version);
	json_kv_u64(j, "started_unix_ms", g->started_unix_ms);
	json_kv_u64(j, "elapsed_us", g->elapsed_us);
	json_kv_u64(j, "owned_us", g->owned_us);
	json_kv_u64(j, "bytes_pulled", g->bytes_pulled);
	json_kv_u64(j, "records_pulled", g->records_pulled);
	json_kv_u64(j, "records_replayed", g->records_replayed);
	json_kv_u64(j, "priority_keys", g->priority_keys);
	if (g->partitions)
		json_kv_u64(j, "partitions", g->partitions);
	if (g->pulls_in_flight)
		json_kv_u64(j, "pulls_in_flight", g->pulls_in_flight);
	if (g->pull_budget)
		json_kv_u64(j, "pull_budget", g->pull_budget);
	json_obj_end(j);
}

static void show_mig_text(const struct skv_migration *g)
{
	char bytes[32];
	double rate = 0;

	human_bytes(g->bytes_pulled, bytes, sizeof(bytes));
	if (g->elapsed_us)
		rate = (double)g->bytes_pulled / ((double)g->elapsed_us / 1e6) /
		       (1024 * 1024);
	printf("migration %llu table %llu 0x%016llx-0x%016llx node %u -> %u %s\n",
	       (unsigned long long)g->id, (unsigned long long)g->table_id,
	       (unsigned long long)g->start_hash, (unsigned long long)g->end_hash,
	       g->src, g->dst, skv_mig_mode_str(g->mode));
	printf("    state %s progress %u.%u%% elapsed %.3fs owned %.3fs "
	       "safe-version %llu\n", skv_mig_state_str(g->state),
	       g->progress_permille / 10, g->progress_permille % 10,
	       (double)g->elapsed_us / 1e6, (double)g->owned_us / 1e6,
	       (unsigned long long)g->safe_version);
	printf("    pulled %s (%.1f MiB/s) records %llu replayed %llu "
	       "priority-keys %llu\n", bytes, rate,
	       (unsigned long long)g->records_pulled,
	       (unsigned long long)g->records_replayed,
	       (unsigned long long)g->priority_keys);
	if (g->error || g->error_msg[0])
		printf("    error %u%s%s%s%s\n", g->error,
		       errno_name(g->error)[0] ? " " : "", errno_name(g->error),
		       g->error_msg[0] ? ": " : "", g->error_msg);
}

/* ---- commands ---- */

static int do_create(struct cl *k, int argc, char **argv)
{
	uint32_t *nodes = NULL, n = 0;
	struct coord_reply r;
	struct coord_buf b;
	uint64_t table;
	int i, rc;

	if (argc < 2 || parse_u64(argv[1], &table))
		return usage_error("cluster", "create-table needs a TABLE id");
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--nodes") && i + 1 < argc && !nodes) {
			if (parse_nodes(argv[++i], &nodes, &n))
				return usage_error("cluster", "bad --nodes list \"%s\"",
						   argv[i]);
		} else {
			free(nodes);
			return usage_error("cluster", "unexpected \"%s\"", argv[i]);
		}
	}
	coord_buf_init(&b);
	rc = coord_table_encode(&b, table, nodes, n) ? EXIT_ERR : 0;
	free(nodes);
	if (!rc)
		rc = cl_connect(k);
	if (!rc)
		rc = cl_call(k, SKV_COORD_OP_TABLE_CREATE, &b, &r);
	coord_buf_free(&b);
	if (rc)
		return rc;
	coord_reply_free(&r);
	if (!k->c->json)
		printf("table %llu created\n", (unsigned long long)table);
	return EXIT_OK;
}

static int do_drop(struct cl *k, int argc, char **argv)
{
	struct coord_reply r;
	struct coord_buf b;
	uint64_t table;
	int rc;

	if (argc != 2 || parse_u64(argv[1], &table))
		return usage_error("cluster", "drop-table needs a TABLE id");
	coord_buf_init(&b);
	rc = coord_table_encode(&b, table, NULL, 0) ? EXIT_ERR : 0;
	if (!rc)
		rc = cl_connect(k);
	if (!rc)
		rc = cl_call(k, SKV_COORD_OP_TABLE_DROP, &b, &r);
	coord_buf_free(&b);
	if (rc)
		return rc;
	coord_reply_free(&r);
	if (!k->c->json)
		printf("table %llu dropped\n", (unsigned long long)table);
	return EXIT_OK;
}

/* A node as the coordinator's failure detector sees it. */
static const char *node_health(uint32_t flags)
{
	if (flags & SKV_COORD_NODE_F_DEAD)
		return "dead";
	return flags & SKV_COORD_NODE_F_UP ? "up" : "disconnected";
}

static int do_map(struct cl *k, int argc, char **argv)
{
	struct coord_map_info mi;
	struct json *j = &k->c->j;
	uint32_t i;
	int rc;

	(void)argv;
	if (argc != 1)
		return usage_error("cluster", "map takes no arguments");
	rc = cl_connect(k);
	if (!rc)
		rc = get_map(k, &mi);
	if (rc)
		return rc;
	if (k->c->json) {
		json_obj_begin(j);
		json_kv_u64(j, "version", mi.version);
		json_key(j, "nodes");
		json_arr_begin(j);
		for (i = 0; i < mi.nr_nodes; i++) {
			json_obj_begin(j);
			json_kv_u64(j, "id", mi.nodes[i].id);
			json_kv_str(j, "addr", mi.nodes[i].addr);
			json_kv_str(j, "health", node_health(mi.nodes[i].flags));
			json_obj_end(j);
		}
		json_arr_end(j);
		json_key(j, "tablets");
		json_arr_begin(j);
		for (i = 0; i < mi.nr_tablets; i++) {
			const struct coord_tablet_info *t = &mi.tablets[i];

			json_obj_begin(j);
			json_kv_u64(j, "table", t->table_id);
			json_kv_hex64(j, "start", t->start_hash);
			json_kv_hex64(j, "end", t->end_hash);
			json_kv_u64(j, "owner", t->owner);
			json_kv_str(j, "state", t->state ? "migrating" : "normal");
			if (t->state)
				json_kv_u64(j, "src", t->src);
			json_kv_bool(j, "lost", t->flags & SKV_COORD_TABLET_F_LOST);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	} else {
		printf("map version %llu, %u nodes, %u tablets\n",
		       (unsigned long long)mi.version, mi.nr_nodes, mi.nr_tablets);
		for (i = 0; i < mi.nr_nodes; i++)
			printf("node %u %s %s\n", mi.nodes[i].id, mi.nodes[i].addr,
			       node_health(mi.nodes[i].flags));
		if (mi.nr_tablets)
			printf("%-20s %-18s %-18s %-6s %s\n", "TABLE", "START", "END",
			       "OWNER", "STATE");
		for (i = 0; i < mi.nr_tablets; i++) {
			const struct coord_tablet_info *t = &mi.tablets[i];

			printf("%-20llu 0x%016llx 0x%016llx %-6u ",
			       (unsigned long long)t->table_id,
			       (unsigned long long)t->start_hash,
			       (unsigned long long)t->end_hash, t->owner);
			if (t->state)
				printf("migrating from %u", t->src);
			else
				printf("normal");
			printf("%s\n", t->flags & SKV_COORD_TABLET_F_LOST ?
			       " LOST (its owner was declared dead; unavailable until recovery)" : "");
		}
	}
	coord_map_info_free(&mi);
	return EXIT_OK;
}

static int mig_status(struct cl *k, uint64_t id, struct skv_migration **v,
		      uint32_t *n)
{
	struct coord_reply r;
	struct coord_buf b;
	int rc;

	coord_buf_init(&b);
	rc = coord_id_encode(&b, id) ? EXIT_ERR : 0;
	if (!rc)
		rc = cl_call(k, SKV_COORD_OP_MIG_STATUS, &b, &r);
	coord_buf_free(&b);
	if (rc)
		return rc;
	if (coord_mig_list_decode(r.body, r.len, v, n))
		rc = cl_err(k, "malformed status from the coordinator");
	coord_reply_free(&r);
	return rc;
}

static void draw_bar(const struct skv_migration *g, bool tty, bool last)
{
	char bytes[32];
	int fill = (int)(g->progress_permille > 1000 ? 1000 : g->progress_permille) * 30 / 1000;
	char bar[31];

	human_bytes(g->bytes_pulled, bytes, sizeof(bytes));
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(30 - fill));
	bar[30] = '\0';
	if (tty)
		printf("\r\033[K");
	printf("migration %llu [%s] %3u.%u%% %-12s %s %.1fs",
	       (unsigned long long)g->id, bar, g->progress_permille / 10,
	       g->progress_permille % 10, skv_mig_state_str(g->state),
	       bytes, (double)g->elapsed_us / 1e6);
	if (!tty || last)
		putchar('\n');
	fflush(stdout);
}

/* Poll until the migration ends; EXIT_OK only if it is done. */
static int wait_mig(struct cl *k, uint64_t id)
{
	bool tty = isatty(STDOUT_FILENO) && !k->c->json;
	struct skv_migration last;
	time_t last_line = 0;
	bool first = true;

	memset(&last, 0, sizeof(last));
	for (;;) {
		struct timespec ts = { 0, WAIT_POLL_MS * 1000000L };
		struct skv_migration *v = NULL;
		uint32_t n = 0;
		bool final;
		int rc = mig_status(k, id, &v, &n);

		if (rc)
			return rc;
		if (n != 1) {
			free(v);
			return cl_err(k, "migration %llu: no status",
				      (unsigned long long)id);
		}
		final = skv_mig_state_final(v[0].state);
		if (!k->c->json) {
			time_t now = time(NULL);

			/* Plain lines: on a phase change and once a second. */
			if (tty || first || final || v[0].state != last.state ||
			    now != last_line) {
				draw_bar(&v[0], tty, final);
				last_line = now;
			}
		}
		first = false;
		last = v[0];
		free(v);
		if (final)
			break;
		nanosleep(&ts, NULL);
	}
	if (k->c->json)
		show_mig_json(&k->c->j, &last);
	else if (last.state != STEADYKV_MIGRATION_STATE_DONE)
		show_mig_text(&last);
	return last.state == STEADYKV_MIGRATION_STATE_DONE ? EXIT_OK : EXIT_ERR;
}

/* The tuning options shared by migrate and split-migrate. */
static int parse_mig_opt(int argc, char **argv, int *i, struct skv_migration *m,
			 bool *wait, bool *have_to)
{
	const char *o = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	const char *why;
	uint64_t v64;
	uint32_t v;

	if (!strcmp(o, "--no-priority-pulls")) {
		m->priority_pulls = 0;
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_PRIORITY_PULLS);
		return 0;
	}
	if (!strcmp(o, "--wait")) {
		*wait = true;
		return 0;
	}
	if (strcmp(o, "--to") && strcmp(o, "--mode") && strcmp(o, "--partitions") &&
	    strcmp(o, "--inflight") && strcmp(o, "--budget"))
		return usage_error("cluster", "unexpected \"%s\"", o);
	if (!val)
		return usage_error("cluster", "%s needs a value", o);
	(*i)++;
	if (!strcmp(o, "--to")) {
		if (parse_u32(val, &m->dst) || !m->dst)
			return usage_error("cluster", "bad node \"%s\"", val);
		*have_to = true;
	} else if (!strcmp(o, "--mode")) {
		if (sknl_mig_mode_parse(val, &m->mode))
			return usage_error("cluster", "bad mode \"%s\"", val);
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_MODE);
	} else if (!strcmp(o, "--budget")) {
		if (parse_size(val, &v64))
			return usage_error("cluster", "bad --budget \"%s\"", val);
		why = skv_mig_tuning_invalid(STEADYKV_A_MIGRATION_PULL_BUDGET, v64);
		if (why)
			return usage_error("cluster", "bad --budget \"%s\": %s", val, why);
		m->pull_budget = (uint32_t)v64;
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_PULL_BUDGET);
	} else {
		bool parts = !strcmp(o, "--partitions");

		if (parse_u32(val, &v))
			return usage_error("cluster", "bad %s \"%s\"", o, val);
		/* Checked here, before the coordinator changes anything. */
		why = skv_mig_tuning_invalid(parts ? STEADYKV_A_MIGRATION_PARTITIONS :
					     STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT, v);
		if (why)
			return usage_error("cluster", "bad %s \"%s\": %s", o, val, why);
		if (parts) {
			m->partitions = v;
			SKV_MIG_SET(m, STEADYKV_A_MIGRATION_PARTITIONS);
		} else {
			m->pulls_in_flight = v;
			SKV_MIG_SET(m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT);
		}
	}
	return 0;
}

static int start_migration(struct cl *k, struct skv_migration *m, bool wait)
{
	struct skv_migration g;
	struct coord_reply r;
	struct coord_buf b;
	int rc;

	coord_buf_init(&b);
	rc = coord_mig_encode(&b, m) ? EXIT_ERR : 0;
	if (!rc)
		rc = cl_call(k, SKV_COORD_OP_MIGRATE, &b, &r);
	coord_buf_free(&b);
	if (rc)
		return rc;
	rc = coord_mig_decode(r.body, r.len, &g);
	coord_reply_free(&r);
	if (rc)
		return cl_err(k, "malformed reply from the coordinator");
	if (!k->c->json || !wait) {
		if (k->c->json)
			show_mig_json(&k->c->j, &g);
		else
			printf("migration %llu: table %llu 0x%016llx-0x%016llx "
			       "node %u -> %u (%s)\n", (unsigned long long)g.id,
			       (unsigned long long)g.table_id,
			       (unsigned long long)g.start_hash,
			       (unsigned long long)g.end_hash, g.src, g.dst,
			       skv_mig_mode_str(g.mode));
	}
	return wait ? wait_mig(k, g.id) : EXIT_OK;
}

static void mig_defaults(struct skv_migration *m)
{
	/* Tuning not given is left out: the module's defaults apply. */
	memset(m, 0, sizeof(*m));
}

static int do_migrate(struct cl *k, int argc, char **argv)
{
	struct skv_migration m;
	bool wait = false, have_to = false;
	int i, rc;

	mig_defaults(&m);
	if (argc < 3 || parse_u64(argv[1], &m.table_id))
		return usage_error("cluster", "migrate needs TABLE START-END --to NODE");
	if (parse_range(argv[2], &m.start_hash, &m.end_hash))
		return usage_error("cluster", "bad range \"%s\" (START-END)", argv[2]);
	for (i = 3; i < argc; i++) {
		rc = parse_mig_opt(argc, argv, &i, &m, &wait, &have_to);
		if (rc)
			return rc;
	}
	if (!have_to)
		return usage_error("cluster", "migrate needs --to NODE");
	rc = cl_connect(k);
	return rc ? rc : start_migration(k, &m, wait);
}

static int do_split_migrate(struct cl *k, int argc, char **argv)
{
	struct skv_migration m;
	struct coord_map_info mi;
	bool wait = false, have_to = false, have_at = false, lower = false;
	const struct coord_tablet_info *t = NULL;
	uint64_t at = 0;
	uint32_t j;
	int i, rc;

	mig_defaults(&m);
	if (argc < 2 || parse_u64(argv[1], &m.table_id))
		return usage_error("cluster", "split-migrate needs TABLE --at HASH --to NODE");
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--upper")) {
			lower = false;
		} else if (!strcmp(argv[i], "--lower")) {
			lower = true;
		} else if (!strcmp(argv[i], "--at")) {
			if (i + 1 >= argc || parse_hash(argv[++i], &at))
				return usage_error("cluster", "--at needs a HASH");
			have_at = true;
		} else {
			rc = parse_mig_opt(argc, argv, &i, &m, &wait, &have_to);
			if (rc)
				return rc;
		}
	}
	if (!have_at || !have_to)
		return usage_error("cluster", "split-migrate needs --at HASH and --to NODE");
	rc = cl_connect(k);
	if (!rc)
		rc = get_map(k, &mi);
	if (rc)
		return rc;
	for (j = 0; j < mi.nr_tablets; j++)
		if (mi.tablets[j].table_id == m.table_id &&
		    mi.tablets[j].start_hash <= at && at <= mi.tablets[j].end_hash)
			t = &mi.tablets[j];
	if (!t) {
		coord_map_info_free(&mi);
		return cl_err(k, "no table %llu in the map",
			      (unsigned long long)m.table_id);
	}
	/* The upper half starts at HASH, the lower one ends just before. */
	if (lower) {
		if (at == t->start_hash) {
			coord_map_info_free(&mi);
			return cl_err(k, "0x%016llx starts its tablet: the lower "
				      "half would be empty", (unsigned long long)at);
		}
		m.start_hash = t->start_hash;
		m.end_hash = at - 1;
	} else {
		m.start_hash = at;
		m.end_hash = t->end_hash;
	}
	coord_map_info_free(&mi);
	return start_migration(k, &m, wait);
}

static int do_status(struct cl *k, int argc, char **argv)
{
	struct skv_migration *v = NULL;
	uint64_t id = 0;
	uint32_t n = 0, i;
	int rc;

	if (argc > 2 || (argc == 2 && (parse_u64(argv[1], &id) || !id)))
		return usage_error("cluster", "status takes an optional migration ID");
	rc = cl_connect(k);
	if (!rc)
		rc = mig_status(k, id, &v, &n);
	if (rc)
		return rc;
	if (k->c->json) {
		if (!id)
			json_arr_begin(&k->c->j);
		for (i = 0; i < n; i++)
			show_mig_json(&k->c->j, &v[i]);
		if (!id)
			json_arr_end(&k->c->j);
	} else {
		if (!n)
			printf("no migrations\n");
		for (i = 0; i < n; i++)
			show_mig_text(&v[i]);
	}
	free(v);
	return EXIT_OK;
}

static int do_cancel(struct cl *k, int argc, char **argv)
{
	struct coord_reply r;
	struct coord_buf b;
	uint64_t id;
	int rc;

	if (argc != 2 || parse_u64(argv[1], &id) || !id)
		return usage_error("cluster", "cancel needs a migration ID");
	coord_buf_init(&b);
	rc = coord_id_encode(&b, id) ? EXIT_ERR : 0;
	if (!rc)
		rc = cl_connect(k);
	if (!rc)
		rc = cl_call(k, SKV_COORD_OP_MIG_CANCEL, &b, &r);
	coord_buf_free(&b);
	if (rc)
		return rc;
	coord_reply_free(&r);
	if (!k->c->json)
		printf("migration %llu: cancel requested\n", (unsigned long long)id);
	return EXIT_OK;
}

int cmd_cluster(struct ctl *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cl *k, int argc, char **argv);
	} cmds[] = {
		{ "create-table", do_create },
		{ "drop-table", do_drop },
		{ "map", do_map },
		{ "migrate", do_migrate },
		{ "split-migrate", do_split_migrate },
		{ "status", do_status },
		{ "cancel", do_cancel },
	};
	struct cl k = { .c = c };
	const char *env = getenv("STEADYKV_COORD");
	char **args;
	int n = 0, i, rc;

	k.addr = env && *env ? env : DEFAULT_COORD;
	env = getenv("STEADYKV_ADMIN_KEY");
	if (env && *env)
		k.admin_key = env;
	else if (!access(COORD_DEFAULT_ADMIN_KEY, F_OK))
		k.admin_key = COORD_DEFAULT_ADMIN_KEY;
	k.cc.fd = -1;
	/* -c/--coord and -j/-p anywhere: pull them out of the words. */
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return EXIT_ERR;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--coord")) {
			if (i + 1 >= argc) {
				free(args);
				return usage_error("cluster", "%s needs HOST:PORT",
						   argv[i]);
			}
			k.addr = argv[++i];
		} else if (!strncmp(argv[i], "--coord=", 8)) {
			k.addr = argv[i] + 8;
		} else if (!strcmp(argv[i], "-k") || !strcmp(argv[i], "--admin-key")) {
			if (i + 1 >= argc) {
				free(args);
				return usage_error("cluster", "%s needs FILE", argv[i]);
			}
			k.admin_key = argv[++i];
		} else if (!strncmp(argv[i], "--admin-key=", 12)) {
			k.admin_key = argv[i] + 12;
		} else if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			c->json = true;
		} else if (!strcmp(argv[i], "-p") || !strcmp(argv[i], "--pretty")) {
			c->json = c->pretty = true;
			c->j.pretty = true;
		} else {
			args[n++] = argv[i];
		}
	}
	if (n < 1) {
		free(args);
		return usage_error("cluster", "missing COMMAND");
	}
	rc = -1;
	for (i = 0; i < (int)(sizeof(cmds) / sizeof(cmds[0])); i++) {
		if (strcmp(args[0], cmds[i].name))
			continue;
		k.cmd = cmds[i].name;
		rc = cmds[i].fn(&k, n, args);
		break;
	}
	if (rc < 0)
		rc = usage_error("cluster", "unknown command \"%s\"", args[0]);
	coord_client_close(&k.cc);
	free(args);
	return rc;
}
