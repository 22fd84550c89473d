// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * skv-history: concurrent clients read, write, delete and conditionally
 * write N keys of a table through the cluster client (so across a
 * migration), record every operation with its answer, read every key once
 * more at the end, and check the history (history_check.h).
 *
 *   skv-history --coord HOST:PORT --table T --keys N --clients C --seconds S
 *               [--seed X] [--log FILE] [--tap] [--no-preload]
 *               [--timeout-ms MS] [--value-size B]
 *
 * Values are "c<client>.<seq>" (client 0: the preload) padded with '.' to
 * --value-size, so every PUT writes a value of its own.  Exit 0: no
 * violation; 1: violations; 2: could not run.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history_check.h"
#include "steadykv_cluster.h"

#define CODE_SLOTS	128	/* codes 0..-127 counted by -code; local ones beyond */

struct cfg {
	char host[128];
	uint16_t port;
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

static void *client_main(void *arg)
{
	struct client *c = arg;
	const struct cfg *cfg = c->cfg;
	uint64_t rs = cfg->seed * 0x9e3779b97f4a7c15ull + c->id, seq = 0;
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

		if (kind >= 3 && !known[key])
			kind = kind == 3 ? 1 : 2;
		if (do_op(c->cl, cfg, &c->log, c->id, &seq, key, kind, known, vbuf,
			  false) == SKV_E_NOMEM) {
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
		"usage: skv-history --coord HOST:PORT --table T --keys N --clients C --seconds S\n"
		"                   [--seed X] [--log FILE] [--tap] [--preload|--no-preload]\n"
		"                   [--timeout-ms MS] [--value-size B]\n");
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
			     .preload = true, .timeout_ms = 5000, .value_size = 32 };
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
		else
			usage();
	}
	if (!coord || !cfg->keys || !cfg->clients || cfg->value_size < 32)
		usage();
	{
		const char *colon = strrchr(coord, ':');
		size_t hl = colon ? (size_t)(colon - coord) : 0;

		if (!colon || !hl || hl >= sizeof(cfg->host))
			usage();
		if (coord[0] == '[' && hl > 2 && coord[hl - 1] == ']') {
			memcpy(cfg->host, coord + 1, hl - 2);
			cfg->host[hl - 2] = 0;
		} else {
			memcpy(cfg->host, coord, hl);
			cfg->host[hl] = 0;
		}
		cfg->port = (uint16_t)num(colon + 1, 65535);
	}
}

static int open_cluster(const struct cfg *cfg, struct skv_cluster **cl)
{
	struct skv_opts o = { .timeout_ms = cfg->timeout_ms };
	int rc = skv_cluster_open(cfg->host, cfg->port, &o, cl);

	if (rc)
		fprintf(stderr, "skv-history: coordinator %s:%u: %s\n", cfg->host, cfg->port,
			skv_strerror(rc));
	return rc;
}

static const char *op_text(const struct hc_event *e)
{
	static const char *const names[] = { "get", "put", "delete" };

	return e->op <= HC_DELETE ? names[e->op] : "?";
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

int main(int argc, char **argv)
{
	struct cfg cfg;
	struct client *cs;
	struct skv_cluster *main_cl = NULL;
	struct skv_cluster_stats tot = { 0 };
	struct log all = { 0 };
	struct hc_report rep;
	uint64_t *known, seq = 0, start;
	size_t codes[CODE_SLOTS] = { 0 }, other_codes = 0, ops[3] = { 0 };
	char *vbuf;
	int rc = 0;

	parse(argc, argv, &cfg);
	cs = calloc(cfg.clients, sizeof(*cs));
	known = calloc(cfg.keys, sizeof(*known));
	vbuf = malloc(cfg.value_size + 1);
	if (!cs || !known || !vbuf || open_cluster(&cfg, &main_cl))
		return 2;

	/* Preload: client 0 writes every key once; these are history too. */
	if (cfg.preload) {
		for (uint32_t k = 0; k < cfg.keys; k++) {
			int r = do_op(main_cl, &cfg, &all, 0, &seq, k, 1, known, vbuf, false);

			if (r) {
				fprintf(stderr, "skv-history: preload of key %u: %s\n", k,
					skv_strerror(r));
				return 2;
			}
		}
	}

	for (unsigned int i = 0; i < cfg.clients; i++) {
		cs[i].cfg = &cfg;
		cs[i].id = i + 1;
		if (open_cluster(&cfg, &cs[i].cl))
			return 2;
	}
	start = now_ns();
	for (unsigned int i = 0; i < cfg.clients; i++)
		if (pthread_create(&cs[i].thread, NULL, client_main, &cs[i])) {
			fprintf(stderr, "skv-history: pthread_create failed\n");
			return 2;
		}
	while (now_ns() - start < (uint64_t)cfg.seconds * 1000000000u) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	atomic_store(&stop, true);
	for (unsigned int i = 0; i < cfg.clients; i++) {
		pthread_join(cs[i].thread, NULL);
		skv_cluster_get_stats(cs[i].cl, &cs[i].st);
		if (cs[i].err)
			rc = 2;
	}
	if (rc) {
		fprintf(stderr, "skv-history: a client ran out of memory\n");
		return 2;
	}

	/* The final state: every key once more, retried past transient errors. */
	for (uint32_t k = 0; k < cfg.keys; k++) {
		for (int attempt = 0; attempt < 5; attempt++) {
			int r = do_op(main_cl, &cfg, &all, cfg.clients + 1, &seq, k, 0, known,
				      vbuf, true);

			if (r == SKV_OK || r == SKV_E_NOT_FOUND || r == SKV_E_NOMEM)
				break;
			/* A failed final read says nothing: drop it, try again. */
			if (attempt < 4)
				all.n--;
		}
	}
	skv_cluster_get_stats(main_cl, &tot);

	/* One history. */
	for (unsigned int i = 0; i < cfg.clients; i++) {
		for (size_t j = 0; j < cs[i].log.n; j++) {
			struct hc_event *e = log_add(&all);

			if (!e)
				return 2;
			*e = cs[i].log.ev[j];
		}
		tot.map_fetches += cs[i].st.map_fetches;
		tot.not_owner += cs[i].st.not_owner;
		tot.retries += cs[i].st.retries;
		tot.reconnects += cs[i].st.reconnects;
		if (cs[i].st.map_version > tot.map_version)
			tot.map_version = cs[i].st.map_version;
	}
	for (size_t i = 0; i < all.n; i++) {
		int c = -all.ev[i].status;

		if (all.ev[i].op <= HC_DELETE)
			ops[all.ev[i].op]++;
		if (c >= 0 && c < CODE_SLOTS)
			codes[c]++;
		else
			other_codes++;
	}
	if (cfg.log && write_log(cfg.log, all.ev, all.n))
		rc = 2;
	if (hc_check(all.ev, all.n, cfg.keys, &rep)) {
		fprintf(stderr, "skv-history: cannot check the history (out of memory?)\n");
		return 2;
	}

	printf("# skv-history: table %" PRIu64 ", %u keys, %u clients, %u s, seed %" PRIu64 "\n",
	       cfg.table, cfg.keys, cfg.clients, cfg.seconds, cfg.seed);
	printf("# ops: %zu (get %zu, put %zu, delete %zu)\n", all.n, ops[HC_GET], ops[HC_PUT],
	       ops[HC_DELETE]);
	printf("# results:");
	for (int c = 0; c < CODE_SLOTS; c++)
		if (codes[c])
			printf(" %s %zu", skv_code_name(-c), codes[c]);
	if (other_codes)
		printf(" other %zu", other_codes);
	printf("\n# cluster: map version %" PRIu64 ", map fetches %" PRIu64 ", not-owner %" PRIu64
	       ", retries %" PRIu64 ", reconnects %" PRIu64 "\n", tot.map_version,
	       tot.map_fetches, tot.not_owner, tot.retries, tot.reconnects);
	printf("# violations: %zu", rep.violations);
	for (int k = 0; k < HC_NR_KINDS; k++)
		printf(" %s %zu", hc_kind_name((enum hc_kind)k), rep.by_kind[k]);
	printf("\n");
	for (size_t i = 0; i < rep.nr_details; i++)
		printf("#   %s: %s\n", hc_kind_name(rep.details[i].kind), rep.details[i].msg);
	if (rep.violations > rep.nr_details)
		printf("#   ... and %zu more\n", rep.violations - rep.nr_details);
	if (cfg.tap) {
		static const char *const what[HC_NR_KINDS] = {
			"(a) no acknowledged write lost, deleted keys stay deleted",
			"(b) no read older than the newest write acknowledged before it",
			"(b) every value read was written, in its time",
			"(c) versions of acknowledged writes increase in real-time order",
			"(d) conditional writes succeed only on the current version",
		};

		printf("TAP version 13\n1..%d\n", HC_NR_KINDS);
		for (int k = 0; k < HC_NR_KINDS; k++)
			printf("%sok %d - %s (%zu violations)\n", rep.by_kind[k] ? "not " : "",
			       k + 1, what[k], rep.by_kind[k]);
	}
	printf("%s: %zu violations in %zu ops\n", rep.violations ? "FAIL" : "PASS",
	       rep.violations, all.n);

	for (unsigned int i = 0; i < cfg.clients; i++) {
		skv_cluster_close(cs[i].cl);
		free(cs[i].log.ev);
	}
	skv_cluster_close(main_cl);
	free(all.ev);
	free(cs);
	free(known);
	free(vbuf);
	if (rep.violations)
		return 1;
	return rc;
}
