// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykvd: the steadykv cluster daemon, in one of two roles.
 *
 *   steadykvd --coordinator [--listen ADDR:PORT] [--state FILE]
 *             [--node-timeout MS] [--replicas R] [--dead-after-ms MS]
 *             [--evict-after-ms MS] [-v|--verbose] [-q|--quiet]
 *             [--cluster-key FILE [--previous-cluster-key FILE]]
 *             [--admin-key FILE [--previous-admin-key FILE]] [--insecure]
 *             [--rebalance off|dry-run|on] [--rebalance-share F]
 *             [--rebalance-hold-ms MS] [--rebalance-cooldown-ms MS]
 *             [--etcd URL[,URL...] [--etcd-prefix PREFIX] [--etcd-ttl S]]
 *       The coordinator (userspace/coord/coordinator.c): the cluster map,
 *       table creation, migrations and their lineage, durable in FILE;
 *       automatic rebalancing (userspace/coord/coord_rebalance.c).
 *       SIGHUP reads the key files again.  With --etcd the state is kept
 *       in etcd instead (userspace/coord/state_etcd.c) and only the
 *       elected leader listens: the others stand by, not listening, until
 *       the leader's lease ends; a leader that loses its lease closes its
 *       listener and stands by again.
 *
 *   steadykvd --node ID --data ADDR:PORT --coord HOST:PORT[,HOST:PORT...]
 *             [--heartbeat-ms MS]
 *             [--cluster-key FILE [--previous-cluster-key FILE]]
 *             [--insecure-peers] [--client-key FILE:READ:WRITE]... [--client-auth]
 *       The node agent (userspace/daemon/node_agent.c) beside the module
 *       of the current network namespace.  It gives the module the
 *       cluster key (and the previous one during a rotation) at start and
 *       on SIGHUP, and authenticates to the coordinator as PEER with it.
 *       A rotation: give every node --cluster-key NEW
 *       --previous-cluster-key OLD and SIGHUP them, then NEW alone.
 *       With --client-key or --client-auth it also manages the node's
 *       client keys (node_agent.h: node_agent_opts).
 *
 * Either role: --metrics-listen ADDR:PORT serves Prometheus metrics at
 * http://ADDR:PORT/metrics (off by default; README "Metrics").
 *
 * Key options not given default to the files $STEADYKV_CLUSTER_KEY and
 * $STEADYKV_ADMIN_KEY name (the selftests' lib.sh sets them).
 *
 * Exit status: 0 after SIGINT/SIGTERM, 1 on a fatal error, 2 on usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <steadykv/coord.h>

#include "coordinator.h"
#include "coord_metrics.h"
#include "state_etcd.h"
#include "metrics_http.h"
#include "metrics_node.h"
#include "node_agent.h"
#include "parse.h"

static const char usage_text[] =
	"usage: steadykvd --coordinator [--listen ADDR:PORT] [--state FILE]\n"
	"                 [--node-timeout MS] [--replicas R] [--dead-after-ms MS]\n"
	"                 [--evict-after-ms MS] [-v|--verbose] [-q|--quiet]\n"
	"                 [--rebalance off|dry-run|on] [--rebalance-share F]\n"
	"                 [--rebalance-hold-ms MS] [--rebalance-cooldown-ms MS]\n"
	"                 [--etcd URL[,URL...] [--etcd-prefix PREFIX] [--etcd-ttl S]]\n"
	"       steadykvd --node ID --data ADDR:PORT --coord HOST:PORT[,HOST:PORT...]\n"
	"                 [--heartbeat-ms MS]\n"
	"                 [--cluster-key FILE [--previous-cluster-key FILE]] [--insecure-peers]\n"
	"                 [--client-key FILE:READ:WRITE]... [--client-auth]\n"
	"       either role: [--metrics-listen ADDR:PORT]\n"
	"\n"
	"  --coordinator      serve the cluster map and migrations\n"
	"  --listen ADDR:PORT coordinator address (default 0.0.0.0:7100; port 0: any)\n"
	"  --state FILE       durable coordinator state (default ./steadykv-coord.state)\n"
	"  --etcd URL[,URL...]  keep the state in etcd (http://HOST:PORT, v3 API) instead\n"
	"                     of FILE, and serve only while elected leader there: run\n"
	"                     two or more with the same --etcd, one serves, the others\n"
	"                     wait (not listening) and take over when its lease ends\n"
	"  --etcd-prefix P    etcd key prefix (default /steadykv): P/leader, P/state\n"
	"  --etcd-ttl S       the leader's lease, seconds (default 5; 2 to 60)\n"
	"  --node-timeout MS  wait for a node daemon's reply (default 10000;\n"
	"                     a recovery waits for its node's reply or death)\n"
	"  --dead-after-ms MS declare a node dead after MS without a frame from its\n"
	"                     daemon (default 5000; a peer's report: MS/4)\n"
	"  --evict-after-ms MS declare the source of a range frozen at two live nodes\n"
	"                     that cannot hand it back dead after MS (with replicas;\n"
	"                     default 6 x dead-after-ms)\n"
	"  --heartbeat-ms MS  node: heartbeat to the coordinator (default 500; keep it\n"
	"                     below the coordinator's dead-after-ms / 4)\n"
	"  --node ID          run the node agent for node ID (>= 1)\n"
	"  --data ADDR:PORT   the data-plane address the node listens on\n"
	"  --coord HOST:PORT[,HOST:PORT...]  the coordinator (default 127.0.0.1:7100);\n"
	"                     with several (a leader and its standbys), each in turn\n"
	"  --cluster-key FILE the cluster key (hex, mode 0600): nodes authenticate each\n"
	"                     other and to the coordinator with it; re-read on SIGHUP;\n"
	"                     without it a node refuses node-to-node ops\n"
	"  --previous-cluster-key FILE, --previous-admin-key FILE\n"
	"                     the key being rotated out, still accepted\n"
	"  --admin-key FILE   the coordinator's admin key (steadykvctl)\n"
	"  --insecure         coordinator: a role without a key needs no\n"
	"                     authentication (labs only: anyone who reaches the\n"
	"                     port may then change the cluster)\n"
	"  --replicas R       coordinator: each node replicates its log to R others\n"
	"                     (the next R by id); 0 (default): no replication\n"
	"  --rebalance MODE   coordinator: move load off a node that carries more than\n"
	"                     the share for the hold time: on, dry-run (only log what\n"
	"                     it would do) or off (default)\n"
	"  --rebalance-share F       0 < F < 1 (default 0.5)\n"
	"  --rebalance-hold-ms MS    (default 5000)\n"
	"  --rebalance-cooldown-ms MS  between two moves (default 30000)\n"
	"  --insecure-peers   node: take node-to-node ops without authentication\n"
	"                     (anyone reaching the data port can read or erase tablets)\n"
	"  --client-key FILE:READ:WRITE  node: a client key (repeatable) and the tables\n"
	"                     it may read and write: \"all\", \"-\" (none) or ids\n"
	"                     separated by commas; pushed at start and on SIGHUP\n"
	"                     (keys it pushed before that no file holds are removed)\n"
	"  --client-auth      node: require a client key for GET, MULTI-GET, PUT and\n"
	"                     DELETE (without it: client-auth-required off)\n"
	"  --metrics-listen ADDR:PORT\n"
	"                     serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	"                     (off by default; no authentication: bind it to a\n"
	"                     private address)\n"
	"Key files: hex, 32 to 64 bytes, mode 0600; without the options, the files\n"
	"$STEADYKV_CLUSTER_KEY and $STEADYKV_ADMIN_KEY name, if set.  SIGHUP makes\n"
	"steadykvd read them again.\n";

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_hangup(int sig)
{
	(void)sig;
	reload_flag = 1;
	stop_flag = 1;	/* leaves coordinator_run, which main restarts */
}

/* $NAME if it is set and not empty, else NULL. */
static const char *env_path(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* --etcd and its companions. */
struct etcd_opts {
	const char *endpoints;	/* NULL: the state file */
	const char *prefix;
	int ttl_s;
};

/*
 * Serve one term: open the coordinator (on @o->store if set), loop until
 * a signal, an error or, with @leader, the end of its lease (*lost).
 */
static int serve(const struct coordinator_opts *o, const char *metrics_listen,
		 struct etcd_leader *leader, bool *lost)
{
	struct coord_metrics *metrics = NULL;
	struct coordinator *c;
	char err[512];
	int ret;

	*lost = false;
	ret = coordinator_open(o, &c, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "steadykvd: %s\n", err);
		return ret;
	}
	if (metrics_listen &&
	    coord_metrics_start(metrics_listen, &metrics, err, sizeof(err))) {
		fprintf(stderr, "steadykvd: %s\n", err);
		coordinator_close(c);
		return -EINVAL;
	}
	for (;;) {
		/* coordinator_run's loop, with a metrics snapshot per round. */
		ret = 0;
		coord_metrics_update(metrics, c);
		while (!ret && !stop_flag) {
			ret = coordinator_poll(c, 500);
			coord_metrics_update(metrics, c);
			if (leader && !etcd_leader_tick(leader)) {
				*lost = true;
				break;
			}
		}
		if (ret || *lost || !reload_flag)
			break;
		/* SIGHUP: new keys (the old stay on failure), then serve on. */
		reload_flag = 0;
		stop_flag = 0;
		coordinator_reload_keys(c, err, sizeof(err));
	}
	coord_metrics_stop(metrics);
	coordinator_close(c);
	if (ret)
		fprintf(stderr, "steadykvd: %s\n", strerror(-ret));
	return ret;
}

/*
 * With etcd: stand by until elected, serve while the lease lives, stand
 * by again when it ends; on SIGINT/SIGTERM resign, so that a standby
 * takes over without waiting for the TTL.
 */
static int run_elected(const struct coordinator_opts *o, const struct etcd_opts *e,
		       const char *metrics_listen)
{
	struct coordinator_opts term = *o;
	struct etcd_leader *leader;
	char name[512], host[256], err[512];
	int ret = 0;

	if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(name, sizeof(name), "%s pid %d listen %s", host, (int)getpid(),
		 o->listen ? o->listen : "0.0.0.0:7100");
	if (etcd_leader_open(e->endpoints, e->prefix, name, e->ttl_s, &leader, err,
			     sizeof(err))) {
		fprintf(stderr, "steadykvd: %s\n", err);
		return 1;
	}
	for (;;) {
		bool lost;

		if (etcd_leader_campaign(leader, &stop_flag)) {
			if (!reload_flag)
				break;
			reload_flag = 0;	/* keys are read when elected */
			stop_flag = 0;
			continue;
		}
		ret = coord_store_open_etcd(leader, &term.store);
		if (ret) {
			fprintf(stderr, "steadykvd: %s\n", strerror(-ret));
			break;
		}
		ret = serve(&term, metrics_listen, leader, &lost);
		if (!lost)
			break;
		fprintf(stderr, "steadykvd: lost the leadership (lease ended): "
			"listener closed, standing by\n");
	}
	etcd_leader_resign(leader);
	etcd_leader_close(leader);
	return ret ? 1 : 0;
}

static int run_coordinator(const struct coordinator_opts *o, const struct etcd_opts *e,
			   const char *metrics_listen)
{
	struct sigaction sa;
	bool lost;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll() returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hangup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (e->endpoints)
		return run_elected(o, e, metrics_listen);
	return serve(o, metrics_listen, NULL, &lost) ? 1 : 0;
}

int main(int argc, char **argv)
{
	enum { O_COORDINATOR = 256, O_LISTEN, O_STATE, O_NODE_TIMEOUT, O_NODE,
	       O_DATA, O_COORD, O_CLUSTER_KEY, O_PREV_CLUSTER_KEY, O_ADMIN_KEY,
	       O_PREV_ADMIN_KEY, O_INSECURE, O_INSECURE_PEERS, O_CLIENT_KEY, O_CLIENT_AUTH,
	       O_METRICS_LISTEN, O_REPLICAS, O_DEAD_AFTER, O_EVICT_AFTER, O_HEARTBEAT,
	       O_REBALANCE, O_REBALANCE_SHARE, O_REBALANCE_HOLD, O_REBALANCE_COOLDOWN,
	       O_ETCD, O_ETCD_PREFIX, O_ETCD_TTL };
	static const struct option opts[] = {
		{ "coordinator", no_argument, NULL, O_COORDINATOR },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "state", required_argument, NULL, O_STATE },
		{ "node-timeout", required_argument, NULL, O_NODE_TIMEOUT },
		{ "node", required_argument, NULL, O_NODE },
		{ "data", required_argument, NULL, O_DATA },
		{ "coord", required_argument, NULL, O_COORD },
		{ "cluster-key", required_argument, NULL, O_CLUSTER_KEY },
		{ "previous-cluster-key", required_argument, NULL, O_PREV_CLUSTER_KEY },
		{ "admin-key", required_argument, NULL, O_ADMIN_KEY },
		{ "previous-admin-key", required_argument, NULL, O_PREV_ADMIN_KEY },
		{ "insecure", no_argument, NULL, O_INSECURE },
		{ "insecure-peers", no_argument, NULL, O_INSECURE_PEERS },
		{ "client-key", required_argument, NULL, O_CLIENT_KEY },
		{ "client-auth", no_argument, NULL, O_CLIENT_AUTH },
		{ "metrics-listen", required_argument, NULL, O_METRICS_LISTEN },
		{ "replicas", required_argument, NULL, O_REPLICAS },
		{ "dead-after-ms", required_argument, NULL, O_DEAD_AFTER },
		{ "evict-after-ms", required_argument, NULL, O_EVICT_AFTER },
		{ "heartbeat-ms", required_argument, NULL, O_HEARTBEAT },
		{ "rebalance", required_argument, NULL, O_REBALANCE },
		{ "rebalance-share", required_argument, NULL, O_REBALANCE_SHARE },
		{ "rebalance-hold-ms", required_argument, NULL, O_REBALANCE_HOLD },
		{ "rebalance-cooldown-ms", required_argument, NULL, O_REBALANCE_COOLDOWN },
		{ "etcd", required_argument, NULL, O_ETCD },
		{ "etcd-prefix", required_argument, NULL, O_ETCD_PREFIX },
		{ "etcd-ttl", required_argument, NULL, O_ETCD_TTL },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *client_keys[STEADYKV_CLIENT_KEYS_MAX];
	struct coordinator_opts co = { 0 };
	struct etcd_opts eo = { 0 };
	struct node_agent_opts no;
	bool coordinator = false, node = false, coord_only = false;
	const char *metrics_listen = NULL;
	struct metrics_http *metrics = NULL;
	char err[256], *end;
	uint32_t v;
	int opt, ret;

	memset(&no, 0, sizeof(no));
	no.coord_addr = "127.0.0.1:7100";
	no.client_keys = client_keys;
	while ((opt = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (opt) {
		case O_COORDINATOR:
			coordinator = true;
			break;
		case O_LISTEN:
			co.listen = optarg;
			coord_only = true;
			break;
		case O_STATE:
			co.state_path = optarg;
			coord_only = true;
			break;
		case O_NODE_TIMEOUT:
			if (parse_u32(optarg, &v) || !v || v > 3600000) {
				fprintf(stderr, "steadykvd: bad --node-timeout '%s'\n",
					optarg);
				return 2;
			}
			co.node_timeout_ms = (int)v;
			coord_only = true;
			break;
		case O_DEAD_AFTER:
			if (parse_u32(optarg, &v) || v < 4 * 10 || v > 86400000) {
				fprintf(stderr, "steadykvd: bad --dead-after-ms '%s' "
					"(40 to 86400000)\n", optarg);
				return 2;
			}
			co.dead_after_ms = (int)v;
			coord_only = true;
			break;
		case O_EVICT_AFTER:
			if (parse_u32(optarg, &v) || v < 1000 || v > 86400000) {
				fprintf(stderr, "steadykvd: bad --evict-after-ms '%s' "
					"(1000 to 86400000)\n", optarg);
				return 2;
			}
			co.evict_after_ms = (int)v;
			coord_only = true;
			break;
		case O_REBALANCE:
			if (rebalance_mode_parse(optarg, &co.rebalance.mode)) {
				fprintf(stderr, "steadykvd: bad --rebalance '%s' "
					"(off, dry-run, on)\n", optarg);
				return 2;
			}
			coord_only = true;
			break;
		case O_REBALANCE_SHARE:
			co.rebalance.share = strtod(optarg, &end);
			if (end == optarg || *end || !(co.rebalance.share > 0 &&
						       co.rebalance.share < 1)) {
				fprintf(stderr, "steadykvd: bad --rebalance-share '%s' "
					"(0 < F < 1)\n", optarg);
				return 2;
			}
			coord_only = true;
			break;
		case O_REBALANCE_HOLD:
		case O_REBALANCE_COOLDOWN:
			if (parse_u32(optarg, &v) || !v || v > 86400000) {
				fprintf(stderr, "steadykvd: bad --%s '%s' (1 to 86400000)\n",
					opt == O_REBALANCE_HOLD ? "rebalance-hold-ms" :
					"rebalance-cooldown-ms", optarg);
				return 2;
			}
			if (opt == O_REBALANCE_HOLD)
				co.rebalance.hold_ms = (int)v;
			else
				co.rebalance.cooldown_ms = (int)v;
			coord_only = true;
			break;
		case O_ETCD:
			eo.endpoints = optarg;
			coord_only = true;
			break;
		case O_ETCD_PREFIX:
			eo.prefix = optarg;
			coord_only = true;
			break;
		case O_ETCD_TTL:
			if (parse_u32(optarg, &v) || v < 2 || v > 60) {
				fprintf(stderr, "steadykvd: bad --etcd-ttl '%s' (2 to 60)\n",
					optarg);
				return 2;
			}
			eo.ttl_s = (int)v;
			coord_only = true;
			break;
		case O_HEARTBEAT:
			if (parse_u32(optarg, &v) || !v || v > 3600000) {
				fprintf(stderr, "steadykvd: bad --heartbeat-ms '%s'\n",
					optarg);
				return 2;
			}
			no.heartbeat_ms = v;
			break;
		case O_NODE:
			if (parse_u32(optarg, &no.node_id) || !no.node_id) {
				fprintf(stderr, "steadykvd: bad node id '%s'\n",
					optarg);
				return 2;
			}
			node = true;
			break;
		case O_DATA:
			no.data_addr = optarg;
			break;
		case O_COORD:
			no.coord_addr = optarg;
			break;
		case O_CLUSTER_KEY:
			co.cluster_key = optarg;
			no.cluster_key_path = optarg;
			break;
		case O_PREV_CLUSTER_KEY:
			co.previous_cluster_key = optarg;
			no.previous_key_path = optarg;
			break;
		case O_ADMIN_KEY:
			co.admin_key = optarg;
			coord_only = true;
			break;
		case O_PREV_ADMIN_KEY:
			co.previous_admin_key = optarg;
			coord_only = true;
			break;
		case O_INSECURE:
			co.insecure = 1;
			coord_only = true;
			break;
		case O_REPLICAS:
			if (parse_u32(optarg, &v) || v > SKV_COORD_REPL_MAX) {
				fprintf(stderr, "steadykvd: bad --replicas '%s' (0..%u)\n",
					optarg, SKV_COORD_REPL_MAX);
				return 2;
			}
			co.replicas = v;
			coord_only = true;
			break;
		case O_INSECURE_PEERS:
			no.insecure_peers = true;
			break;
		case O_CLIENT_KEY: {
			struct sknl_client_key rights;
			char path[4096], why[512];

			if (no.nclient_keys == STEADYKV_CLIENT_KEYS_MAX) {
				fprintf(stderr, "steadykvd: at most %d --client-key\n",
					STEADYKV_CLIENT_KEYS_MAX);
				return 2;
			}
			if (node_agent_client_spec_parse(optarg, path, sizeof(path), &rights, why,
							 sizeof(why))) {
				fprintf(stderr, "steadykvd: %s\n", why);
				return 2;
			}
			client_keys[no.nclient_keys++] = optarg;
			break;
		}
		case O_CLIENT_AUTH:
			no.client_auth = true;
			break;
		case O_METRICS_LISTEN:
			metrics_listen = optarg;
			break;
		case 'v':
			co.verbose = 1;
			break;
		case 'q':
			co.quiet = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "steadykvd: unexpected argument '%s'\n",
			argv[optind]);
		fputs(usage_text, stderr);
		return 2;
	}
	if (coordinator == node) {
		fprintf(stderr, "steadykvd: give exactly one of --coordinator "
			"and --node ID\n");
		fputs(usage_text, stderr);
		return 2;
	}
	/* Key files not given: the environment's (tests, scripts). */
	if (!co.cluster_key)
		co.cluster_key = no.cluster_key_path = env_path("STEADYKV_CLUSTER_KEY");
	if (!co.admin_key && coordinator)
		co.admin_key = env_path("STEADYKV_ADMIN_KEY");
	if (coordinator && (no.nclient_keys || no.client_auth)) {
		fprintf(stderr, "steadykvd: --client-key and --client-auth are node options\n");
		return 2;
	}
	if (coordinator && !eo.endpoints && (eo.prefix || eo.ttl_s)) {
		fprintf(stderr, "steadykvd: --etcd-prefix and --etcd-ttl need --etcd\n");
		return 2;
	}
	if (coordinator && eo.endpoints && co.state_path) {
		fprintf(stderr, "steadykvd: --state and --etcd: the state is in one or the other\n");
		return 2;
	}
	if (coordinator)
		return run_coordinator(&co, &eo, metrics_listen);
	if (coord_only) {
		fprintf(stderr, "steadykvd: --listen, --state, --node-timeout, "
			"--replicas, --dead-after-ms, --evict-after-ms, --admin-key, --previous-admin-key, "
			"--insecure and --etcd* are coordinator options\n");
		return 2;
	}
	if (no.previous_key_path && !no.cluster_key_path) {
		fprintf(stderr, "steadykvd: --previous-cluster-key needs --cluster-key\n");
		return 2;
	}
	if (!no.data_addr) {
		fprintf(stderr, "steadykvd: --node needs --data ADDR:PORT\n");
		return 2;
	}
	no.stop_fd = -1;
	if (metrics_listen &&
	    metrics_node_start(metrics_listen, no.node_id, &metrics, err, sizeof(err))) {
		fprintf(stderr, "steadykvd: %s\n", err);
		return 1;
	}
	ret = node_agent_run(&no);
	metrics_http_stop(metrics);
	return ret;
}
