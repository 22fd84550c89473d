// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * skv-history: concurrent clients read, write, delete, conditionally
 * write and multi-get N keys of a table through the cluster client (so
 * across a migration), record every operation with its answer, read every
 * key once more at the end, and check that the history is linearizable
 * (history_check.h).  See usage() for the options.
 *
 * Values are "c<client>.<seq>" (client 0: the preload) padded with '.' to
 * --value-size, so every PUT writes a value of its own.  Exit 0: no
 * violation and every requirement met; 1: violations, or fewer decided
 * operations than --min-ops, or fewer overlapping a migration than
 * --min-overlap; 2: could not run.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "history_check.h"
#include "parse.h"
#include "steadykv_cluster.h"

#define CODE_SLOTS	128	/* codes 0..-127 counted by -code; local ones beyond */
#define MGET_KEYS	4	/* keys asked for by one MULTI-GET, at most */
#define UNTIL_MAX_S	600	/* --run-until waits this long past --seconds at most */

struct cfg {
	const char *coord;	/* HOST:PORT[,HOST:PORT...] */
	uint64_t table;
	uint32_t keys;
	unsigned int clients;
	unsigned int seconds;
	uint64_t seed;
	const char *log;
	bool tap;
	bool preload;
	int timeout_ms;
	size_t value_size;
	unsigned int mget_pct;		/* percent of operations that are MULTI-GETs */
	uint64_t min_ops;		/* decided operations required */
	const char *mark_file;		/* "NS migration-start|end" lines, CLOCK_REALTIME */
	uint64_t min_overlap;		/* decided operations overlapping a migration required */
	const char *ready_file;		/* created once the clients run */
	const char *until_file;		/* run on past --seconds until it exists */
	unsigned int rate;		/* operations a second per client; 0: no limit */
};

struct log {
	struct hc_event *ev;
	size_t n, cap;
};

struct client {
	const struct cfg *cfg;
	unsigned int id;		/* 1..clients */
	pthread_t thread;
	struct skv_cluster *cl;
	struct log log;
	struct skv_cluster_stats st;
	int err;			/* could not open */
};

static atomic_bool stop;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static struct hc_event *log_add(struct log *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		struct hc_event *ev = realloc(l->ev, cap * sizeof(*ev));

		if (!ev)
			return NULL;
		l->ev = ev;
		l->cap = cap;
	}
	memset(&l->ev[l->n], 0, sizeof(l->ev[0]));
	return &l->ev[l->n++];
}

static int key_name(char *buf, size_t len, uint32_t k)
{
	return snprintf(buf, len, "hist-%08" PRIu32, k);
}

/* Value id: client in the top 24 bits, sequence below (never 0: seq from 1). */
static uint64_t value_id(unsigned int client, uint64_t seq)
{
	return ((uint64_t)client << 40) | seq;
}

static size_t value_text(char *buf, size_t size, unsigned int client, uint64_t seq)
{
	int n = snprintf(buf, size, "c%u.%" PRIu64, client, seq);
	size_t len = n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;

	while (len < size - 1)
		buf[len++] = '.';
	buf[len] = 0;
	return len;
}

/* The id of a value this tool wrote, or 0 for anything else. */
static uint64_t value_parse(const char *v, size_t len)
{
	unsigned long long c = 0, s = 0;
	size_t i = 1;

	if (len < 4 || v[0] != 'c')
		return 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		c = c * 10 + (unsigned long long)(v[i] - '0');
	if (i == 1 || i >= len || v[i] != '.' || c >= (1u << 24))
		return 0;
	if (++i >= len || v[i] < '0' || v[i] > '9')
		return 0;
	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		s = s * 10 + (unsigned long long)(v[i] - '0');
		if (s >= (1ull << 40))
			return 0;
	}
	for (; i < len; i++)
		if (v[i] != '.')
			return 0;
	return s ? value_id((unsigned int)c, s) : 0;
}

/* One operation, recorded.  known[] is the client's last seen version per key. */
static int do_op(struct skv_cluster *cl, const struct cfg *cfg, struct log *lg,
		 unsigned int client, uint64_t *seq, uint32_t key, int kind,
		 uint64_t *known, char *vbuf, bool final)
{
	struct skv_cluster_stats before, after;
	struct hc_event *e = log_add(lg);
	char kb[32];
	size_t kl = (size_t)key_name(kb, sizeof(kb), key);
	uint64_t expect = 0, ver = 0;
	size_t vlen;
	void *val = NULL;
	int rc;

	if (!e)
		return SKV_E_NOMEM;
	skv_cluster_get_stats(cl, &before);
	e->client = client;
	e->key = key;
	e->final = final;
	/* kinds: 0 GET, 1 PUT, 2 DELETE, 3 conditional PUT, 4 conditional DELETE */
	if (kind >= 3)
		expect = known[key];
	e->expect = expect;
	e->invoke_ns = now_ns();
	switch (kind) {
	case 0:
		e->op = HC_GET;
		rc = skv_cluster_get(cl, cfg->table, kb, kl, &val, &vlen, &ver);
		if (rc == SKV_OK)
			e->value = value_parse(val, vlen);
		free(val);
		break;
	case 1:
	case 3:
		e->op = HC_PUT;
		++*seq;
		vlen = value_text(vbuf, cfg->value_size + 1, client, *seq);
		e->value = value_id(client, *seq);
		rc = skv_cluster_put(cl, cfg->table, kb, kl, vbuf, vlen, expect, &ver);
		break;
	default:
		e->op = HC_DELETE;
		rc = skv_cluster_delete(cl, cfg->table, kb, kl, expect, &ver);
		break;
	}
	e->complete_ns = now_ns();
	e->status = rc;
	e->version = ver;
	skv_cluster_get_stats(cl, &after);
	e->ambiguous = after.reconnects != before.reconnects;
	/* What a conditional write will expect next: the version last seen. */
	if (rc == SKV_OK || rc == SKV_E_VERSION_MISMATCH ||
	    (rc == SKV_E_NOT_FOUND && e->op == HC_GET))
		known[key] = rc == SKV_E_NOT_FOUND ? 0 : ver;
	return rc;
}

/* A node's answer: the store decided (as opposed to a refusal to serve or no answer). */
static bool decided(int status)
{
	return status == SKV_OK || status == SKV_E_NOT_FOUND || status == SKV_E_VERSION_MISMATCH;
}

/*
 * One MULTI-GET of up to MGET_KEYS keys owned (by the cached map) by the
 * owner of `first`, each key's item recorded as a read of its own.
 */
static int do_mget(struct skv_cluster *cl, const struct cfg *cfg, struct log *lg,
		   unsigned int client, uint32_t first, uint64_t *rs, uint64_t *known)
{
	char names[MGET_KEYS][32], addr[64];
	const void *keys[MGET_KEYS];
	size_t lens[MGET_KEYS];
	uint32_t ids[MGET_KEYS] = { 0 }, node, n0 = 0;
	struct skv_item *items = NULL;
	struct skv_conn *conn;
	uint64_t inv, done;
	unsigned int n = 0;
	int rc;

	for (unsigned int tries = 0; tries < 2 * MGET_KEYS && n < MGET_KEYS; tries++) {
		uint32_t k = tries ? (uint32_t)(rnd(rs) % cfg->keys) : first;
		bool dup = false;

		for (unsigned int i = 0; i < n; i++)
			dup |= ids[i] == k;
		if (dup)
			continue;
		lens[n] = (size_t)key_name(names[n], sizeof(names[n]), k);
		if (skv_cluster_owner(cl, cfg->table, skv_key_hash(names[n], lens[n]), &node,
				      addr, sizeof(addr)))
			break;
		if (n && node != n0)
			continue;
		n0 = node;
		keys[n] = names[n];
		ids[n++] = k;
	}
	if (!n)
		return SKV_OK;	/* no map yet: a plain operation will fetch it */
	inv = now_ns();
	conn = skv_cluster_conn_for(cl, cfg->table, skv_key_hash(keys[0], lens[0]), &node, &rc);
	if (conn)
		rc = skv_multi_get(conn, cfg->table, n, keys, lens, &items);
	done = now_ns();
	for (unsigned int i = 0; i < n; i++) {
		struct hc_event *e = log_add(lg);
		int st = rc ? rc : items[i].status;

		if (!e) {
			free(items);
			return SKV_E_NOMEM;
		}
		e->client = client;
		e->key = ids[i];
		e->op = HC_MGET;
		e->invoke_ns = inv;
		e->complete_ns = done;
		e->status = st;
		if (!rc) {
			e->version = items[i].version;
			if (st == SKV_OK)
				e->value = value_parse(items[i].value, items[i].value_len);
		}
		if (st == SKV_OK || st == SKV_E_NOT_FOUND)
			known[ids[i]] = st == SKV_OK ? e->version : 0;
		if (st == SKV_E_NOT_OWNER)
			rc = rc ? rc : SKV_E_NOT_OWNER;
	}
	free(items);
	/* The map moved under us: fetch it before the next MULTI-GET picks its keys. */
	if (rc == SKV_E_NOT_OWNER || rc == SKV_E_STALE_EPOCH)
		skv_cluster_refresh(cl);
	return SKV_OK;
}

/*
 * pace: with a rate, wait for the client's next slot (*next, on the
 * monotonic clock).  A client that fell behind starts again from now
 * rather than catching up in a burst.  Unpaced clients keep a guest's
 * CPUs busy, and the test's own steps beside them crawl.
 */
static void pace(unsigned int rate, uint64_t *next)
{
	uint64_t now = now_ns(), period = 1000000000u / rate;

	if (*next > now) {
		struct timespec ts = { .tv_sec = (time_t)(*next / 1000000000u),
				       .tv_nsec = (long)(*next % 1000000000u) };

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	} else if (now - *next > period) {
		*next = now;
	}
	*next += period;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	const struct cfg *cfg = c->cfg;
	uint64_t rs = cfg->seed * 0x9e3779b97f4a7c15ull + c->id, seq = 0, next = now_ns();
	uint64_t *known = calloc(cfg->keys, sizeof(*known));
	char *vbuf = malloc(cfg->value_size + 1);

	if (!known || !vbuf) {
		c->err = SKV_E_NOMEM;
		goto out;
	}
	while (!atomic_load(&stop)) {
		uint32_t key = (uint32_t)(rnd(&rs) % cfg->keys);
		unsigned int p = (unsigned int)(rnd(&rs) % 100);
		/* 40% GET, 30% PUT, 10% DELETE, 15% conditional PUT, 5% conditional DELETE */
		int kind = p < 40 ? 0 : p < 70 ? 1 : p < 80 ? 2 : p < 95 ? 3 : 4;
		int rc;

		if (kind >= 3 && !known[key])
			kind = kind == 3 ? 1 : 2;
		if (cfg->rate)
			pace(cfg->rate, &next);
		if (rnd(&rs) % 100 < cfg->mget_pct)
			rc = do_mget(c->cl, cfg, &c->log, c->id, key, &rs, known);
		else
			rc = do_op(c->cl, cfg, &c->log, c->id, &seq, key, kind, known, vbuf,
				   false);
		if (rc == SKV_E_NOMEM) {
			c->err = SKV_E_NOMEM;
			break;
		}
	}
out:
	free(known);
	free(vbuf);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: skv-history --coord HOST:PORT[,...] --table T --keys N --clients C --seconds S\n"
		"                   [--seed X] [--log FILE] [--tap] [--preload|--no-preload]\n"
		"                   [--timeout-ms MS] [--value-size B] [--mget-pct P]\n"
		"                   [--min-ops N] [--mark-file F --min-overlap N]\n"
		"                   [--ready-file F] [--run-until F] [--rate OPS]\n"
		"  --keys N, --clients C  N keys (default 100), C client threads (default 4);\n"
		"                  few keys and many clients (--keys 16 --clients 16) make\n"
		"                  operations on one key overlap\n"
		"  --mget-pct P    P%% of the operations are MULTI-GETs of up to %d keys of one\n"
		"                  node (default 0), each key's item checked as a read\n"
		"  --log FILE      write every operation, one a line\n"
		"  --tap           TAP lines: one per anomaly kind and requirement\n"
		"  --min-ops N     fail unless at least N operations were decided by the\n"
		"                  store (OK, NOT_FOUND, VERSION_MISMATCH)\n"
		"  --mark-file F   lines \"NS LABEL\" (CLOCK_REALTIME ns, as date +%%s%%N):\n"
		"                  each migration-start .. migration-end (or the end of\n"
		"                  the run) is a migration's window\n"
		"  --min-overlap N fail unless at least N decided operations overlapped a\n"
		"                  window of --mark-file\n"
		"  --ready-file F  create F once the clients run (after the preload)\n"
		"  --run-until F   after --seconds, run on until F exists (%d s more at most):\n"
		"                  a test creates F once its migration is over\n"
		"  --rate OPS      each client starts at most OPS operations a second\n"
		"                  (default 0: as fast as answers come)\n", MGET_KEYS,
		UNTIL_MAX_S);
	exit(2);
}

static unsigned long long num(const char *s, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || *s == '-') {
		fprintf(stderr, "skv-history: bad number \"%s\"\n", s);
		exit(2);
	}
	return v;
}

static void parse(int argc, char **argv, struct cfg *cfg)
{
	const char *coord = NULL;

	*cfg = (struct cfg){ .keys = 100, .clients = 4, .seconds = 10, .seed = 1,
			     .preload = true, .timeout_ms = 5000, .value_size = 32,
			     .mget_pct = 0 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--tap")) {
			cfg->tap = true;
			continue;
		}
		if (!strcmp(a, "--preload") || !strcmp(a, "--no-preload")) {
			cfg->preload = !strcmp(a, "--preload");
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--coord"))
			coord = v;
		else if (!strcmp(a, "--table"))
			cfg->table = num(v, UINT64_MAX);
		else if (!strcmp(a, "--keys"))
			cfg->keys = (uint32_t)num(v, 1u << 24);
		else if (!strcmp(a, "--clients"))
			cfg->clients = (unsigned int)num(v, 1024);
		else if (!strcmp(a, "--seconds"))
			cfg->seconds = (unsigned int)num(v, 86400);
		else if (!strcmp(a, "--seed"))
			cfg->seed = num(v, UINT64_MAX);
		else if (!strcmp(a, "--log"))
			cfg->log = v;
		else if (!strcmp(a, "--timeout-ms"))
			cfg->timeout_ms = (int)num(v, 3600000);
		else if (!strcmp(a, "--value-size"))
			cfg->value_size = (size_t)num(v, SKV_MAX_VALUE_LEN);
		else if (!strcmp(a, "--mget-pct"))
			cfg->mget_pct = (unsigned int)num(v, 100);
		else if (!strcmp(a, "--min-ops"))
			cfg->min_ops = num(v, UINT64_MAX);
		else if (!strcmp(a, "--mark-file"))
			cfg->mark_file = v;
		else if (!strcmp(a, "--min-overlap"))
			cfg->min_overlap = num(v, UINT64_MAX);
		else if (!strcmp(a, "--ready-file"))
			cfg->ready_file = v;
		else if (!strcmp(a, "--run-until"))
			cfg->until_file = v;
		else if (!strcmp(a, "--rate"))
			cfg->rate = (unsigned int)num(v, 1000000);
		else
			usage();
	}
	if (!coord || !cfg->keys || !cfg->clients || cfg->value_size < 32 ||
	    (cfg->min_overlap && !cfg->mark_file))
		usage();
	cfg->coord = coord;
}

static int open_cluster(const struct cfg *cfg, struct skv_cluster **cl)
{
	struct skv_opts o = { .timeout_ms = cfg->timeout_ms };
	int rc = skv_cluster_open_list(cfg->coord, &o, cl);

	if (rc)
		fprintf(stderr, "skv-history: coordinator %s: %s\n", cfg->coord,
			skv_strerror(rc));
	return rc;
}

static const char *op_text(const struct hc_event *e)
{
	static const char *const names[HC_NR_OPS] = { "get", "put", "delete", "mget" };

	return e->op < HC_NR_OPS ? names[e->op] : "?";
}

static int write_log(const char *path, const struct hc_event *ev, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "skv-history: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "# client op key invoke_ns complete_ns expect status version value final ambiguous\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%u %s %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %" PRIu64
			" %#" PRIx64 " %d %d\n", ev[i].client, op_text(&ev[i]), ev[i].key,
			ev[i].invoke_ns, ev[i].complete_ns, ev[i].expect,
			skv_code_name(ev[i].status), ev[i].version, ev[i].value,
			ev[i].final, ev[i].ambiguous);
	if (fclose(f)) {
		fprintf(stderr, "skv-history: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* CLOCK_REALTIME minus CLOCK_MONOTONIC, to put the marks on the history's clock. */
static int64_t real_minus_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) -
	       (int64_t)now_ns();
}

/*
 * Decided operations (not the final reads) whose [invoke, complete]
 * overlaps a migration's window in the mark file; -1 if it cannot be read.
 * A window without its end lasts to end_ns.
 */
static long long overlapping_ops(const char *path, const struct log *all, int64_t offset,
				 uint64_t end_ns, size_t *windows)
{
	uint64_t start = 0;
	bool open_win = false;
	long long count = 0;
	char line[128];
	FILE *f = fopen(path, "r");
	struct { uint64_t lo, hi; } win[64];
	size_t nw = 0;

	if (!f) {
		fprintf(stderr, "skv-history: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long real;
		char label[48];

		if (sscanf(line, "%llu %47s", &real, label) != 2)
			continue;
		if (!strcmp(label, "migration-start") && !open_win) {
			start = (uint64_t)((int64_t)real - offset);
			open_win = true;
		} else if (!strcmp(label, "migration-end") && open_win && nw < 64) {
			win[nw].lo = start;
			win[nw++].hi = (uint64_t)((int64_t)real - offset);
			open_win = false;
		}
	}
	fclose(f);
	if (open_win && nw < 64) {
		win[nw].lo = start;
		win[nw++].hi = end_ns;
	}
	for (size_t i = 0; i < all->n; i++) {
		const struct hc_event *e = &all->ev[i];

		if (e->final || !decided(e->status))
			continue;
		for (size_t w = 0; w < nw; w++)
			if (e->invoke_ns <= win[w].hi && e->complete_ns >= win[w].lo) {
				count++;
				break;
			}
	}
	*windows = nw;
	return count;
}

/* What the run counted, beside the checker's report. */
struct tally {
	struct skv_cluster_stats cluster;
	size_t codes[CODE_SLOTS], other_codes, ops[HC_NR_OPS], windows;
	uint64_t decided;
	long long overlap;
	bool few_ops, few_overlap;
	/* Keys whose final read failed at first; the longest it took. */
	size_t final_retried;
	uint64_t final_longest_ns;
};

/* Start the clients, let them run --seconds, stop them: 0, or 2 if they could not run. */
static int run_clients(const struct cfg *cfg, struct client *cs, uint64_t *run_end)
{
	uint64_t start;
	int rc = 0;

	for (unsigned int i = 0; i < cfg->clients; i++) {
		cs[i].cfg = cfg;
		cs[i].id = i + 1;
		if (open_cluster(cfg, &cs[i].cl))
			return 2;
	}
	start = now_ns();
	for (unsigned int i = 0; i < cfg->clients; i++)
		if (pthread_create(&cs[i].thread, NULL, client_main, &cs[i])) {
			fprintf(stderr, "skv-history: pthread_create failed\n");
			return 2;
		}
	if (cfg->ready_file) {
		FILE *f = fopen(cfg->ready_file, "w");

		if (!f || fclose(f)) {
			fprintf(stderr, "skv-history: %s: %s\n", cfg->ready_file, strerror(errno));
			return 2;
		}
	}
	while (now_ns() - start < (uint64_t)cfg->seconds * 1000000000u ||
	       (cfg->until_file && access(cfg->until_file, F_OK) &&
		now_ns() - start < (uint64_t)(cfg->seconds + UNTIL_MAX_S) * 1000000000u)) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	atomic_store(&stop, true);
	*run_end = now_ns();
	for (unsigned int i = 0; i < cfg->clients; i++) {
		pthread_join(cs[i].thread, NULL);
		skv_cluster_get_stats(cs[i].cl, &cs[i].st);
		if (cs[i].err)
			rc = 2;
	}
	if (rc)
		fprintf(stderr, "skv-history: a client ran out of memory\n");
	return rc;
}

/*
 * How long the final read of one key is retried past errors: a node may
 * refuse reads for seconds after a crash, while a backup that just joined
 * catches up (reads wait for writes to be held), and a read is decided
 * only by an answer.
 */
#define FINAL_READ_WINDOW_NS (30ull * 1000000000ull)
/* The pause between two failed final reads of a key. */
#define FINAL_READ_PAUSE_US 100000

/* The final state: every key once more, retried past transient errors. */
static void final_reads(struct skv_cluster *cl, const struct cfg *cfg, struct log *all,
			uint64_t *seq, uint64_t *known, char *vbuf, struct tally *t)
{
	for (uint32_t k = 0; k < cfg->keys; k++) {
		uint64_t start = now_ns(), took;

		for (bool first = true;; first = false) {
			int r = do_op(cl, cfg, all, cfg->clients + 1, seq, k, 0, known, vbuf, true);

			took = now_ns() - start;
			if (r == SKV_OK || r == SKV_E_NOT_FOUND || r == SKV_E_NOMEM ||
			    took >= FINAL_READ_WINDOW_NS)
				break;
			/* A failed final read says nothing: drop it, try again. */
			all->n--;
			if (first)
				t->final_retried++;
			usleep(FINAL_READ_PAUSE_US);
		}
		if (took > t->final_longest_ns)
			t->final_longest_ns = took;
	}
}

/* One history from the clients' logs, and their cluster stats summed: 0 or -1 (memory). */
static int merge_logs(const struct cfg *cfg, const struct client *cs, struct log *all,
		      struct skv_cluster_stats *tot)
{
	for (unsigned int i = 0; i < cfg->clients; i++) {
		for (size_t j = 0; j < cs[i].log.n; j++) {
			struct hc_event *e = log_add(all);

			if (!e)
				return -1;
			*e = cs[i].log.ev[j];
		}
		tot->map_fetches += cs[i].st.map_fetches;
		tot->not_owner += cs[i].st.not_owner;
		tot->retries += cs[i].st.retries;
		tot->reconnects += cs[i].st.reconnects;
		if (cs[i].st.map_version > tot->map_version)
			tot->map_version = cs[i].st.map_version;
	}
	return 0;
}

static void count_ops(const struct log *all, struct tally *t)
{
	for (size_t i = 0; i < all->n; i++) {
		int c = -all->ev[i].status;

		if (all->ev[i].op < HC_NR_OPS)
			t->ops[all->ev[i].op]++;
		if (!all->ev[i].final && decided(all->ev[i].status))
			t->decided++;
		if (c >= 0 && c < CODE_SLOTS)
			t->codes[c]++;
		else
			t->other_codes++;
	}
}

static void report(const struct cfg *cfg, size_t nops, const struct tally *t,
		   const struct hc_report *rep)
{
	const struct skv_cluster_stats *cs = &t->cluster;

	printf("# skv-history: table %" PRIu64 ", %u keys, %u clients, %u s, seed %" PRIu64 "\n",
	       cfg->table, cfg->keys, cfg->clients, cfg->seconds, cfg->seed);
	printf("# ops: %zu (get %zu, put %zu, delete %zu, multi-get items %zu), decided %" PRIu64
	       " (required %" PRIu64 ")\n", nops, t->ops[HC_GET], t->ops[HC_PUT],
	       t->ops[HC_DELETE], t->ops[HC_MGET], t->decided, cfg->min_ops);
	if (cfg->mark_file)
		printf("# migration windows: %zu, decided ops overlapping them: %lld (required %"
		       PRIu64 ")\n", t->windows, t->overlap, cfg->min_overlap);
	printf("# results:");
	for (int c = 0; c < CODE_SLOTS; c++)
		if (t->codes[c])
			printf(" %s %zu", skv_code_name(-c), t->codes[c]);
	if (t->other_codes)
		printf(" other %zu", t->other_codes);
	printf("\n# cluster: map version %" PRIu64 ", map fetches %" PRIu64 ", not-owner %" PRIu64
	       ", retries %" PRIu64 ", reconnects %" PRIu64 "\n", cs->map_version,
	       cs->map_fetches, cs->not_owner, cs->retries, cs->reconnects);
	printf("# final reads: %u keys, %zu retried, the longest took %" PRIu64 " ms\n",
	       cfg->keys, t->final_retried, t->final_longest_ns / 1000000);
	printf("# violations: %zu on %zu keys:", rep->violations, rep->bad_keys);
	for (int k = 0; k < HC_NR_KINDS; k++)
		printf(" %s %zu", hc_kind_name((enum hc_kind)k), rep->by_kind[k]);
	printf("\n");
	for (size_t i = 0; i < rep->nr_details; i++)
		printf("#   %s: %s\n", hc_kind_name(rep->details[i].kind), rep->details[i].msg);
	if (rep->violations > rep->nr_details)
		printf("#   ... and %zu more\n", rep->violations - rep->nr_details);
	if (cfg->tap) {
		printf("TAP version 13\n1..%d\n", HC_NR_KINDS + 2);
		for (int k = 0; k < HC_NR_KINDS; k++)
			printf("%sok %d - %s (%zu violations)\n", rep->by_kind[k] ? "not " : "",
			       k + 1, hc_kind_what((enum hc_kind)k), rep->by_kind[k]);
		printf("%sok %d - at least %" PRIu64 " operations decided (%" PRIu64 ")\n",
		       t->few_ops ? "not " : "", HC_NR_KINDS + 1, cfg->min_ops, t->decided);
		printf("%sok %d - at least %" PRIu64 " operations overlapped a migration (%lld)\n",
		       t->few_overlap ? "not " : "", HC_NR_KINDS + 2, cfg->min_overlap,
		       t->overlap);
	}
	if (t->few_ops)
		printf("# too few decided operations: %" PRIu64 " < %" PRIu64 "\n", t->decided,
		       cfg->min_ops);
	if (t->few_overlap)
		printf("# too few operations overlapped a migration: %lld < %" PRIu64 "\n",
		       t->overlap, cfg->min_overlap);
	printf("%s: %zu violations in %zu ops\n",
	       rep->violations || t->few_ops || t->few_overlap ? "FAIL" : "PASS",
	       rep->violations, nops);
}

/* The run, the check and the report: the exit status. */
static int run(const struct cfg *cfg, struct client *cs, struct skv_cluster *main_cl,
	       struct log *all, struct tally *t, uint64_t *known, char *vbuf)
{
	int64_t offset = real_minus_mono();
	uint64_t seq = 0, run_end = 0;
	struct hc_report rep;
	int rc;

	/* Preload: client 0 writes every key once; these are history too. */
	if (cfg->preload) {
		for (uint32_t k = 0; k < cfg->keys; k++) {
			int r = do_op(main_cl, cfg, all, 0, &seq, k, 1, known, vbuf, false);

			if (r) {
				fprintf(stderr, "skv-history: preload of key %u: %s\n", k,
					skv_strerror(r));
				return 2;
			}
		}
	}
	rc = run_clients(cfg, cs, &run_end);
	if (rc)
		return rc;
	final_reads(main_cl, cfg, all, &seq, known, vbuf, t);
	skv_cluster_get_stats(main_cl, &t->cluster);
	if (merge_logs(cfg, cs, all, &t->cluster))
		return 2;
	count_ops(all, t);
	if (cfg->log && write_log(cfg->log, all->ev, all->n))
		rc = 2;
	if (cfg->mark_file) {
		t->overlap = overlapping_ops(cfg->mark_file, all, offset, run_end, &t->windows);
		if (t->overlap < 0)
			return 2;
	}
	t->few_ops = t->decided < cfg->min_ops;
	t->few_overlap = (uint64_t)t->overlap < cfg->min_overlap;
	if (hc_check(all->ev, all->n, cfg->keys, &rep)) {
		fprintf(stderr, "skv-history: cannot check the history (out of memory?)\n");
		return 2;
	}
	report(cfg, all->n, t, &rep);
	if (rep.violations || t->few_ops || t->few_overlap)
		rc = 1;
	return rc;
}

int main(int argc, char **argv)
{
	struct cfg cfg;
	struct client *cs;
	struct skv_cluster *main_cl = NULL;
	struct tally *t = calloc(1, sizeof(*t));
	struct log all = { 0 };
	uint64_t *known;
	char *vbuf;
	int rc = 2;

	parse(argc, argv, &cfg);
	cs = calloc(cfg.clients, sizeof(*cs));
	known = calloc(cfg.keys, sizeof(*known));
	vbuf = malloc(cfg.value_size + 1);
	if (t && cs && known && vbuf && !open_cluster(&cfg, &main_cl))
		rc = run(&cfg, cs, main_cl, &all, t, known, vbuf);
	/* Clients still running (a failed start) keep their connections. */
	if (rc != 2 || atomic_load(&stop)) {
		for (unsigned int i = 0; cs && i < cfg.clients; i++) {
			skv_cluster_close(cs[i].cl);
			free(cs[i].log.ev);
		}
	}
	skv_cluster_close(main_cl);
	free(all.ev);
	free(cs);
	free(known);
	free(vbuf);
	free(t);
	return rc;
}
