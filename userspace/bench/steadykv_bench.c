// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykv-bench: an open-loop load generator for steadykv, Redis Cluster
 * and memcached (the same workload, schedule and histogram for each).
 *
 * Each request has an intended send time from a fixed-rate schedule
 * (uniform or Poisson); its latency runs from that time to its reply, so a
 * stalled server or a slow client shows up as latency, never as requests
 * quietly not sent (no coordinated omission).  Threads each run a
 * non-blocking epoll loop over their share of the connections (default 8
 * per node over 2 threads), send what is due, and pipeline.  Requests go to
 * the owner of their key; redirects (steadykv NOT_OWNER, Redis MOVED/ASK)
 * and RETRY are followed and counted, and their time is in the latency.
 *
 * Phases: --load inserts every record (closed loop, pipelined);
 * --capacity measures the closed-loop maximum; then the open-loop run at
 * --rate (or --rate-frac of the capacity) writes the timeline and summary.
 * See usage() for the options.  This file: buffers, the node table, the
 * options and main; bench_core.h names the others.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "bench_core.h"

struct opts O;
volatile sig_atomic_t stop_flag;
const struct zipf *g_zipf;

/* ---- buffers ---- */

int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + more <= b->cap)
		return 0;
	if (b->off) {	/* compact first */
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + more <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *d, size_t n)
{
	if (buf_reserve(b, n))
		return -1;
	memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- node table ---- */

static struct bench_node nodes[BENCH_MAX_NODES];
static atomic_int nnodes;
static pthread_mutex_t nodes_lock = PTHREAD_MUTEX_INITIALIZER;

int bench_node_add(const char *addr, uint32_t node_id, bool has_id)
{
	int i, n, ret = -1;

	pthread_mutex_lock(&nodes_lock);
	n = atomic_load(&nnodes);
	for (i = 0; i < n; i++) {
		if (has_id ? nodes[i].node_id == node_id
			   : !strcmp(nodes[i].addr, addr)) {
			ret = i;
			goto out;
		}
	}
	if (n < BENCH_MAX_NODES) {
		snprintf(nodes[n].addr, sizeof(nodes[n].addr), "%s", addr);
		nodes[n].node_id = has_id ? node_id : (uint32_t)n;
		if (has_id)
			snprintf(nodes[n].label, sizeof(nodes[n].label), "n%u@%s",
				 node_id, addr);
		else
			snprintf(nodes[n].label, sizeof(nodes[n].label), "%s", addr);
		atomic_store(&nnodes, n + 1);	/* publish after the entry */
		ret = n;
	}
out:
	pthread_mutex_unlock(&nodes_lock);
	return ret;
}

int bench_node_count(void)
{
	return atomic_load(&nnodes);
}

const struct bench_node *bench_node_get(int idx)
{
	return &nodes[idx];
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: steadykv-bench TARGET [options]\n"
"targets (one kind):\n"
"  --coord HOST:PORT     steadykv cluster through its coordinator\n"
"  --node HOST:PORT      one steadykv node (no coordinator)\n"
"  --client-key FILE     steadykv: authenticate every connection with this client\n"
"                        key (hex key file, mode 0600)\n"
"  --redis HOST:PORT     Redis Cluster (any node; CLUSTER SLOTS) or one redis-server\n"
"  --redis-wait N        after each write, WAIT N 0: acknowledged once N replicas hold it\n"
"  --memcached HOST:PORT memcached (repeatable: keys spread by hash)\n"
"  --memcached-get mg|classic  memcached reads: meta get (default) or the classic\n"
"                        get, which memcached answers with one send per request\n"
"phases:\n"
"  --load                insert all records first (pipelined, closed loop)\n"
"  --no-run              stop after the load / capacity phases\n"
"  --capacity            measure closed-loop capacity (--capacity-s, --depth)\n"
"  --rate OPS            open-loop target rate (ops/s)\n"
"  --rate-frac F         with --capacity: run at F x the capacity measured\n"
"  --duration S          run seconds (10)\n"
"workload:\n"
"  --workload b|c|a      YCSB-B 95%% reads (default), C 100%%, A 50%%\n"
"  --read-pct N          override the read share\n"
"  --records N (100000)  --key-size N (30)  --value-size N (100)\n"
"  --zipf THETA (0.99; 0 = uniform)  --table ID (1)  --seed N  --poisson\n"
"engine:\n"
"  --threads N (2)  --conns N per node (8; up to 100000, the open-file limit\n"
"                        raised to fit)  --depth N closed-loop per conn (16)\n"
"  --max-outstanding N per thread (100000)  --drain-s S (5)  --capacity-s S (3)\n"
"output:\n"
"  --interval-ms N (100)  --timeline FILE.csv  --json FILE\n"
"  --mark-file FILE      lines \"REALTIME_NS LABEL\": idle / during (migration-start\n"
"                        .. migration-end) / after phases\n"
"  --phases START,END    the same, in seconds from the start of the run\n"
"  --hold-s S            once the first phase's connections are open, hold them\n"
"                        idle S s before it starts (\"holding N connections\" on\n"
"                        stdout: time to sample memory)\n"
"  --quiet\n");
}

static int add_seed(const char *addr)
{
	char host[BENCH_ADDR_MAX];
	uint16_t port;

	if (parse_hostport(addr, host, sizeof(host), &port)) {
		fprintf(stderr, "steadykv-bench: bad address '%s' (HOST:PORT)\n", addr);
		return -1;
	}
	if (O.cfg.nseeds == BENCH_MAX_NODES)
		return -1;
	snprintf(O.cfg.seeds[O.cfg.nseeds++], BENCH_ADDR_MAX, "%s", addr);
	return 0;
}

static int set_drv(const struct bench_driver *d)
{
	if (O.cfg.drv && O.cfg.drv != d) {
		fprintf(stderr, "steadykv-bench: one kind of target at a time\n");
		return -1;
	}
	O.cfg.drv = d;
	return 0;
}

static double num_arg(const char *name, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "steadykv-bench: bad %s '%s' (%g..%g)\n", name, s, lo, hi);
		exit(2);
	}
	return v;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/*
 * The command line into O: -1 to go on, else main's exit status (0 after
 * --help, 2 on a bad option).
 */
static int parse_args(int argc, char **argv, int *read_pct)
{
	enum { O_COORD = 256, O_NODE, O_REDIS, O_MC, O_LOAD, O_NORUN, O_CAP, O_RATE,
	       O_FRAC, O_DUR, O_WL, O_READ, O_REC, O_KS, O_VS, O_ZIPF, O_TABLE, O_SEED,
	       O_POIS, O_THR, O_CONNS, O_DEPTH, O_MAXO, O_DRAIN, O_CAPS, O_IVAL, O_TL,
	       O_JSON, O_MARK, O_PHASES, O_QUIET, O_HELP, O_CKEY,
	       O_RWAIT, O_MCGET, O_HOLD };
	static const struct option lopts[] = {
		{ "coord", 1, NULL, O_COORD }, { "node", 1, NULL, O_NODE },
		{ "redis", 1, NULL, O_REDIS }, { "memcached", 1, NULL, O_MC },
		{ "load", 0, NULL, O_LOAD }, { "no-run", 0, NULL, O_NORUN },
		{ "capacity", 0, NULL, O_CAP }, { "rate", 1, NULL, O_RATE },
		{ "rate-frac", 1, NULL, O_FRAC }, { "duration", 1, NULL, O_DUR },
		{ "workload", 1, NULL, O_WL }, { "read-pct", 1, NULL, O_READ },
		{ "records", 1, NULL, O_REC }, { "key-size", 1, NULL, O_KS },
		{ "value-size", 1, NULL, O_VS }, { "zipf", 1, NULL, O_ZIPF },
		{ "table", 1, NULL, O_TABLE }, { "seed", 1, NULL, O_SEED },
		{ "poisson", 0, NULL, O_POIS }, { "threads", 1, NULL, O_THR },
		{ "conns", 1, NULL, O_CONNS }, { "depth", 1, NULL, O_DEPTH },
		{ "max-outstanding", 1, NULL, O_MAXO }, { "drain-s", 1, NULL, O_DRAIN },
		{ "capacity-s", 1, NULL, O_CAPS }, { "interval-ms", 1, NULL, O_IVAL },
		{ "timeline", 1, NULL, O_TL }, { "json", 1, NULL, O_JSON },
		{ "mark-file", 1, NULL, O_MARK }, { "phases", 1, NULL, O_PHASES },
		{ "quiet", 0, NULL, O_QUIET }, { "help", 0, NULL, O_HELP },
		{ "client-key", 1, NULL, O_CKEY },
		{ "redis-wait", 1, NULL, O_RWAIT },
		{ "memcached-get", 1, NULL, O_MCGET },
		{ "hold-s", 1, NULL, O_HOLD },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	O.threads = 2;
	O.conns = 8;
	O.duration_s = 10;
	O.capacity_s = 3;
	O.drain_s = 5;
	O.depth = 16;
	O.interval_ms = 100;
	O.max_outstanding = 100000;
	O.seed = 1;
	O.run = 1;
	O.phase_start_s = O.phase_end_s = -1;
	O.workload = "b";
	O.cfg.table = 1;
	O.cfg.records = 100000;
	O.cfg.key_size = 30;
	O.cfg.value_size = 100;
	O.cfg.zipf = 0.99;
	O.cfg.refresh_min_us = 1000;

	while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (opt) {
		case O_COORD:
			if (set_drv(&bench_drv_skv))
				return 2;
			snprintf(O.cfg.coord, sizeof(O.cfg.coord), "%s", optarg);
			break;
		case O_NODE:
			if (set_drv(&bench_drv_skv) || add_seed(optarg))
				return 2;
			break;
		case O_REDIS:
			if (set_drv(&bench_drv_redis) || add_seed(optarg))
				return 2;
			break;
		case O_MC:
			if (set_drv(&bench_drv_mc) || add_seed(optarg))
				return 2;
			break;
		case O_RWAIT: O.cfg.redis_wait = (uint32_t)num_arg("redis-wait", optarg, 1, 64); break;
		case O_MCGET:
			if (strcmp(optarg, "mg") && strcmp(optarg, "classic")) {
				fprintf(stderr, "steadykv-bench: --memcached-get mg or classic\n");
				return 2;
			}
			O.cfg.mc_classic_get = !strcmp(optarg, "classic");
			break;
		case O_LOAD: O.load = 1; break;
		case O_NORUN: O.run = 0; break;
		case O_CAP: O.capacity = 1; break;
		case O_RATE: O.rate = num_arg("rate", optarg, 1, 1e9); break;
		case O_FRAC: O.rate_frac = num_arg("rate-frac", optarg, 0.001, 10); break;
		case O_DUR: O.duration_s = num_arg("duration", optarg, 0.1, 1e6); break;
		case O_WL:
			O.workload = optarg;
			if (strcasecmp(optarg, "a") && strcasecmp(optarg, "b") &&
			    strcasecmp(optarg, "c")) {
				fprintf(stderr, "steadykv-bench: workload a, b or c\n");
				return 2;
			}
			break;
		case O_READ: *read_pct = (int)num_arg("read-pct", optarg, 0, 100); break;
		case O_REC: O.cfg.records = (uint64_t)num_arg("records", optarg, 1, 1e12); break;
		case O_KS: O.cfg.key_size = (size_t)num_arg("key-size", optarg, 5, SKV_MAX_KEY_LEN); break;
		case O_VS: O.cfg.value_size = (size_t)num_arg("value-size", optarg, 0, SKV_MAX_VALUE_LEN); break;
		case O_ZIPF: O.cfg.zipf = num_arg("zipf", optarg, 0, 0.9999); break;
		case O_TABLE: O.cfg.table = (uint64_t)num_arg("table", optarg, 0, 1.8e19); break;
		case O_SEED: O.seed = (uint64_t)num_arg("seed", optarg, 0, 1e18); break;
		case O_POIS: O.poisson = 1; break;
		case O_THR: O.threads = (int)num_arg("threads", optarg, 1, 64); break;
		case O_CONNS: O.conns = (int)num_arg("conns", optarg, 1, 100000); break;
		case O_HOLD: O.hold_s = num_arg("hold-s", optarg, 0, 3600); break;
		case O_DEPTH: O.depth = (unsigned int)num_arg("depth", optarg, 1, 4096); break;
		case O_MAXO: O.max_outstanding = (uint32_t)num_arg("max-outstanding", optarg, 16, 1e7); break;
		case O_DRAIN: O.drain_s = num_arg("drain-s", optarg, 0, 600); break;
		case O_CAPS: O.capacity_s = num_arg("capacity-s", optarg, 0.5, 600); break;
		case O_IVAL: O.interval_ms = (unsigned int)num_arg("interval-ms", optarg, 10, 60000); break;
		case O_TL: O.timeline = optarg; break;
		case O_JSON: O.json = optarg; break;
		case O_MARK: O.mark_file = optarg; break;
		case O_PHASES:
			if (sscanf(optarg, "%lf,%lf", &O.phase_start_s, &O.phase_end_s) != 2 ||
			    O.phase_start_s < 0 || O.phase_end_s < O.phase_start_s) {
				fprintf(stderr, "steadykv-bench: --phases START_S,END_S\n");
				return 2;
			}
			break;
		case O_QUIET: O.quiet = 1; break;
		case O_CKEY: {
			char why[512];

			skv_client_key_free(O.cfg.client_key);
			O.cfg.client_key = skv_client_key_load(optarg, why, sizeof(why));
			if (!O.cfg.client_key) {
				fprintf(stderr, "steadykv-bench: --client-key: %s\n", why);
				return 2;
			}
			break;
		}
		case O_HELP:
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	return -1;
}

/* Check the options together and prepare the workload: 0, or main's exit status. */
static int prepare(int argc, int read_pct)
{
	static struct zipf zipf;

	if (optind != argc || !O.cfg.drv) {
		usage(stderr);
		return 2;
	}
	if (O.cfg.client_key && O.cfg.drv != &bench_drv_skv) {
		fprintf(stderr, "steadykv-bench: --client-key is for steadykv targets\n");
		return 2;
	}
	if (O.cfg.drv == &bench_drv_skv && !O.cfg.coord[0] && O.cfg.nseeds != 1) {
		fprintf(stderr, "steadykv-bench: --coord, or exactly one --node\n");
		return 2;
	}
	if (O.run && !O.rate && !(O.capacity && O.rate_frac)) {
		if (O.load || O.capacity) {
			O.run = 0;
		} else {
			fprintf(stderr, "steadykv-bench: --rate (or --capacity --rate-frac F)\n");
			return 2;
		}
	}
	O.cfg.read_pct = read_pct >= 0 ? read_pct
		       : !strcasecmp(O.workload, "c") ? 100
		       : !strcasecmp(O.workload, "a") ? 50 : 95;
	if (O.threads > O.conns)
		O.threads = O.conns;	/* each thread needs a connection per node */
	{
		char probe[SKV_MAX_KEY_LEN + 1];

		if (make_key(probe, O.cfg.key_size, O.cfg.records - 1)) {
			fprintf(stderr, "steadykv-bench: --key-size %zu too small for %llu records\n",
				O.cfg.key_size, (unsigned long long)O.cfg.records);
			return 2;
		}
	}
	O.cfg.value = malloc(O.cfg.value_size + 1);
	if (!O.cfg.value)
		return 1;
	{
		struct rng r;
		size_t i;

		rng_seed(&r, 42);
		for (i = 0; i < O.cfg.value_size; i++)
			O.cfg.value[i] = (char)('a' + rng_next(&r) % 26);
	}
	if (zipf_init(&zipf, O.cfg.records, O.cfg.zipf)) {
		fprintf(stderr, "steadykv-bench: bad --zipf/--records\n");
		return 2;
	}
	g_zipf = &zipf;
	return 0;
}

/*
 * Room for every connection to every node, plus a few for the rest: the
 * soft open-file limit raised (and the hard one, if it is too low and we
 * may); -1 with a message if it cannot be.
 */
static int raise_nofile(void)
{
	rlim_t need = (rlim_t)O.conns * (rlim_t)bench_node_count() + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;	/* let connect say it */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rl.rlim_cur = need;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			rl.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			fprintf(stderr, "steadykv-bench: --conns %d x %d node(s) needs %llu open files; cannot raise the limit to that: %s (ulimit -n, or run as root)\n",
				O.conns, bench_node_count(), (unsigned long long)need,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* --capacity: the closed-loop maximum over whole intervals; -1 if it could not run. */
static int capacity_phase(struct summary *sm)
{
	size_t i, warm = (size_t)(500 / O.interval_ms);
	uint64_t ops = 0;

	if (bench_run_phase(MODE_CLOSED, O.capacity_s, 0, &sm->cap))
		return -1;
	sm->have_cap = true;
	/* skip the first 0.5 s; count whole intervals until issuing stopped */
	for (i = warm; i < sm->cap.nrows &&
	     sm->cap.rows[i].t_s <= O.capacity_s + 1e-9; i++)
		ops += sm->cap.rows[i].ops;
	if (i > warm)
		sm->cap_ops = (double)ops / ((double)(i - warm) * O.interval_ms / 1000.0);
	bench_print_lat(stdout, "capacity", &sm->cap.total, sm->cap.secs);
	printf("capacity %.0f ops/s (closed loop, depth %u per connection)\n",
	       sm->cap_ops, O.depth);
	if (O.rate_frac)
		O.rate = sm->cap_ops * O.rate_frac;
	return 0;
}

/* The open-loop run at O.rate: -1 if it could not run, else 1 if its output failed. */
static int open_phase(struct summary *sm)
{
	int ph;

	sm->rate = O.rate;
	printf("run: %.0f ops/s target, %s schedule, %.1f s\n", O.rate,
	       O.poisson ? "Poisson" : "uniform", O.duration_s);
	fflush(stdout);
	if (bench_run_phase(MODE_OPEN, O.duration_s, O.rate, &sm->run))
		return -1;
	sm->have_run = true;
	bench_print_lat(stdout, "run", &sm->run.total, sm->run.secs);
	printf("         misses %llu  redirects %llu  retries %llu  unsent %llu\n",
	       (unsigned long long)sm->run.total.misses,
	       (unsigned long long)sm->run.total.redirects,
	       (unsigned long long)sm->run.total.retries,
	       (unsigned long long)sm->run.total.unsent);
	if (sm->run.nmarks)
		for (ph = 0; ph < PH_N; ph++)
			bench_print_lat(stdout, bench_phase_names[ph], &sm->run.phase[ph],
				  sm->run.phase_secs[ph]);
	for (ph = 0; ph < bench_node_count(); ph++)
		printf("  node %-28s %llu ops\n", bench_node_get(ph)->label,
		       (unsigned long long)sm->run.total.node_ops[ph]);
	if (sm->run.total.unsent)
		printf("warning: the generator fell behind (%llu requests never sent: raise --max-outstanding)\n",
		       (unsigned long long)sm->run.total.unsent);
	if (O.timeline && bench_write_timeline(O.timeline, &sm->run))
		return 1;
	return 0;
}

/* The phases asked for, then the JSON: main's exit status. */
static int run_phases(struct summary *sm)
{
	int rc = 0;

	if (O.load && !stop_flag) {
		if (bench_run_phase(MODE_LOAD, 0, 0, &sm->load))
			return 1;
		sm->have_load = true;
		bench_print_lat(stdout, "load", &sm->load.total, sm->load.secs);
		if (sm->load.total.errors)
			rc = 1;
	}
	if (O.capacity && !stop_flag && capacity_phase(sm))
		return 1;
	if (O.run && O.rate > 0 && !stop_flag) {
		int r = open_phase(sm);

		if (r < 0)
			return 1;
		if (r)
			rc = 1;
	} else if (O.timeline && sm->have_cap && bench_write_timeline(O.timeline, &sm->cap)) {
		rc = 1;
	}
	if (O.json && bench_write_json(O.json, sm))
		rc = 1;
	return rc;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct summary *sm;
	int read_pct = -1, rc;

	rc = parse_args(argc, argv, &read_pct);
	if (rc >= 0)
		return rc;
	rc = prepare(argc, read_pct);
	if (rc)
		return rc;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (O.cfg.drv->setup(&O.cfg))
		return 1;
	if (!bench_node_count()) {
		fprintf(stderr, "steadykv-bench: no nodes found\n");
		return 1;
	}
	if (raise_nofile())
		return 2;
	printf("steadykv-bench: %s, %d node(s), %d thread(s), %d conn(s)/node, workload %s (%d%% reads), %llu records, zipf %.2f, %zu B keys, %zu B values\n",
	       O.cfg.drv->name, bench_node_count(), O.threads, O.conns, O.workload,
	       O.cfg.read_pct, (unsigned long long)O.cfg.records, O.cfg.zipf,
	       O.cfg.key_size, O.cfg.value_size);
	sm = calloc(1, sizeof(*sm));
	if (!sm)
		return 1;
	rc = run_phases(sm);
	free(sm->load.rows);
	free(sm->cap.rows);
	free(sm->run.rows);
	free(sm->run.marks);
	free(sm);
	free(O.cfg.value);
	return rc;
}
