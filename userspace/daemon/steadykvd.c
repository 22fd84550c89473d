// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykvd: the steadykv cluster daemon, in one of two roles.
 *
 *   steadykvd --coordinator [--listen ADDR:PORT] [--state FILE]
 *             [--node-timeout MS] [-v|--verbose] [-q|--quiet]
 *       The coordinator (userspace/coord/coordinator.c): the cluster map,
 *       table creation, migrations and their lineage, durable in FILE.
 *
 *   steadykvd --node ID --data ADDR:PORT --coord HOST:PORT
 *             [--cluster-key FILE [--previous-cluster-key FILE]]
 *             [--insecure-peers]
 *       The node agent (userspace/daemon/node_agent.c) beside the module
 *       of the current network namespace.  It gives the module the
 *       cluster key (and the previous one during a rotation) at start and
 *       on SIGHUP.  A rotation: give every node --cluster-key NEW
 *       --previous-cluster-key OLD and SIGHUP them, then NEW alone.
 *
 * Exit status: 0 after SIGINT/SIGTERM, 1 on a fatal error, 2 on usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "node_agent.h"
#include "parse.h"

static const char usage_text[] =
	"usage: steadykvd --coordinator [--listen ADDR:PORT] [--state FILE]\n"
	"                 [--node-timeout MS] [-v|--verbose] [-q|--quiet]\n"
	"       steadykvd --node ID --data ADDR:PORT --coord HOST:PORT\n"
	"                 [--cluster-key FILE [--previous-cluster-key FILE]] [--insecure-peers]\n"
	"\n"
	"  --coordinator      serve the cluster map and migrations\n"
	"  --listen ADDR:PORT coordinator address (default 0.0.0.0:7100; port 0: any)\n"
	"  --state FILE       durable coordinator state (default ./steadykv-coord.state)\n"
	"  --node-timeout MS  wait for a node daemon's reply (default 10000)\n"
	"  --node ID          run the node agent for node ID (>= 1)\n"
	"  --data ADDR:PORT   the data-plane address the node listens on\n"
	"  --coord HOST:PORT  the coordinator (default 127.0.0.1:7100)\n"
	"  --cluster-key FILE the key nodes authenticate each other with (hex, mode 0600;\n"
	"                     re-read on SIGHUP); without it node-to-node ops are refused\n"
	"  --previous-cluster-key FILE  the key being rotated out, still accepted\n"
	"  --insecure-peers   take node-to-node ops without authentication (insecure:\n"
	"                     anyone reaching the data port can read or erase tablets)\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int run_coordinator(const struct coordinator_opts *o)
{
	struct coordinator *c;
	struct sigaction sa;
	char err[512];
	int ret;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll() returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = coordinator_open(o, &c, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "steadykvd: %s\n", err);
		return 1;
	}
	ret = coordinator_run(c, &stop_flag);
	coordinator_close(c);
	if (ret) {
		fprintf(stderr, "steadykvd: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_COORDINATOR = 256, O_LISTEN, O_STATE, O_NODE_TIMEOUT, O_NODE,
	       O_DATA, O_COORD, O_CLUSTER_KEY, O_PREVIOUS_KEY, O_INSECURE_PEERS };
	static const struct option opts[] = {
		{ "coordinator", no_argument, NULL, O_COORDINATOR },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "state", required_argument, NULL, O_STATE },
		{ "node-timeout", required_argument, NULL, O_NODE_TIMEOUT },
		{ "node", required_argument, NULL, O_NODE },
		{ "data", required_argument, NULL, O_DATA },
		{ "coord", required_argument, NULL, O_COORD },
		{ "cluster-key", required_argument, NULL, O_CLUSTER_KEY },
		{ "previous-cluster-key", required_argument, NULL, O_PREVIOUS_KEY },
		{ "insecure-peers", no_argument, NULL, O_INSECURE_PEERS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct coordinator_opts co = { 0 };
	struct node_agent_opts no;
	bool coordinator = false, node = false, coord_only = false;
	uint32_t v;
	int opt;

	memset(&no, 0, sizeof(no));
	no.coord_addr = "127.0.0.1:7100";
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
			no.cluster_key_path = optarg;
			break;
		case O_PREVIOUS_KEY:
			no.previous_key_path = optarg;
			break;
		case O_INSECURE_PEERS:
			no.insecure_peers = true;
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
	if (coordinator)
		return run_coordinator(&co);
	if (coord_only) {
		fprintf(stderr, "steadykvd: --listen, --state and --node-timeout "
			"are coordinator options\n");
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
	return node_agent_run(&no);
}
