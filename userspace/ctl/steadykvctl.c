// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykvctl: the control CLI of a steadykv node, iproute2-style.
 *
 *   steadykvctl [-j|--json] [-p|--pretty] OBJECT COMMAND [ARGS]
 *
 * Control-plane objects (node, listen, table, tablet, migration, repl, monitor) talk generic
 * netlink to the module of the current network namespace; cluster talks to
 * the coordinator (steadykvd --coordinator) over TCP; get, put and del
 * talk the data-plane protocol to a node over TCP with libsteadykv.
 * Exit status: 0 ok, 1 error, 2 usage.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const struct {
	const char *object;
	const char *text;
} usage_lines[] = {
	{ "node", "node show" },
	{ "node", "node set mem-limit BYTES[K|M|G]" },
	{ "node", "node key set --current FILE [--previous FILE]   (cluster key files, mode 0600)" },
	{ "node", "node insecure on|off   (on: node-to-node ops without a key; never the default)" },
	{ "node", "node client-auth on|off   (on: data ops need a client key; off by default)" },
	{ "node", "node client-key add FILE [--read TABLES] [--write TABLES]   (key file, mode 0600)" },
	{ "node", "node client-key del KEY-ID" },
	{ "node", "node client-key list" },
	{ "listen", "listen start ADDR PORT" },
	{ "listen", "listen stop" },
	{ "table", "table add ID" },
	{ "table", "table del ID" },
	{ "table", "table list" },
	{ "tablet", "tablet add TABLE START END [state STATE]" },
	{ "tablet", "tablet del TABLE START END" },
	{ "tablet", "tablet set TABLE START END state STATE" },
	{ "tablet", "tablet list" },
	{ "migration", "migration start ID TABLE START-END --from ADDR:PORT [--mode MODE]\n"
	  "                               [--partitions N] [--inflight N] [--budget BYTES]\n"
	  "                               [--no-priority-pulls] [--wait]" },
	{ "migration", "migration cancel ID" },
	{ "migration", "migration show [ID]" },
	{ "repl", "repl set PRIMARY-ID EPOCH [ADDR:PORT...] | repl set none" },
	{ "repl", "repl show | repl replicas" },
	{ "repl", "repl fence PRIMARY-ID EPOCH" },
	{ "repl", "repl recover PRIMARY-ID EPOCH TABLE START END   (rebuild a dead primary's tablet)" },
	{ "monitor", "monitor [dump]" },
	{ "cluster", "cluster [-c HOST:PORT] [-k KEYFILE] create-table TABLE [--nodes ID,ID,...]" },
	{ "cluster", "cluster [-c HOST:PORT] [-k KEYFILE] drop-table TABLE" },
	{ "cluster", "cluster [-c HOST:PORT] map" },
	{ "cluster", "cluster [-c HOST:PORT] [-k KEYFILE] migrate TABLE START-END --to NODE [MIGOPTS]" },
	{ "cluster", "cluster [-c HOST:PORT] [-k KEYFILE] split-migrate TABLE --at HASH --to NODE\n"
	  "                               [--upper|--lower] [MIGOPTS]" },
	{ "cluster", "cluster [-c HOST:PORT] status [ID]" },
	{ "cluster", "cluster [-c HOST:PORT] [-k KEYFILE] cancel ID" },
	{ "get", "get ADDR:PORT TABLE KEY [-K KEYFILE]" },
	{ "put", "put ADDR:PORT TABLE KEY VALUE [--expect VERSION] [-K KEYFILE]" },
	{ "del", "del ADDR:PORT TABLE KEY [--expect VERSION] [-K KEYFILE]" },
	{ "hash", "hash KEY" },
};

static const char usage_notes[] =
	"where  ID, TABLE, VERSION := u64 (decimal or 0x hex)\n"
	"       START, END := u64 | min | max     (inclusive key-hash bounds)\n"
	"       STATE := normal | migrating-in | migrating-out | recovering\n"
	"       MODE := rocksteady | push | replicated   (migration: this node pulls from ADDR:PORT)\n"
	"       ADDR := IPv4 or IPv6 address; ADDR:PORT := IPV4:PORT | [IPV6]:PORT | HOST:PORT\n"
	"       MIGOPTS := [--mode MODE] [--partitions N] [--inflight N] [--budget BYTES]\n"
	"                  [--no-priority-pulls] [--wait]\n"
	"       TABLES := all | TABLE[,TABLE...]  (a client key's tables)\n"
	"get, put, del: authenticate with the client key -K KEYFILE (--client-key),\n"
	"       else $STEADYKV_CLIENT_KEY if set, else none (hex, mode 0600).\n"
	"cluster: through the coordinator at -c HOST:PORT, else $STEADYKV_COORD, else\n"
	"       127.0.0.1:7100.  create-table without --nodes: over every connected node.\n"
	"       split-migrate moves the part of HASH's tablet from HASH on (--upper, the\n"
	"       default) or before HASH (--lower).  --wait draws progress until the\n"
	"       migration ends, exit 0 only if it is done.  status: every migration\n"
	"       the coordinator keeps (the newest 64) or one.  Changes authenticate as\n"
	"       ADMIN with the admin key -k KEYFILE, else $STEADYKV_ADMIN_KEY, else\n"
	"       /etc/steadykv/admin.key if it exists (hex, mode 0600; map and status\n"
	"       need no key).\n"
	"options: -j, --json    JSON output (one object or array per command;\n"
	"                       JSON lines for monitor)\n"
	"         -p, --pretty  indented JSON (implies -j)\n"
	"         -h, --help    this text; 'steadykvctl OBJECT help' for one object\n";

void usage(FILE *f, const char *object)
{
	bool first = true;

	for (size_t i = 0; i < sizeof(usage_lines) / sizeof(usage_lines[0]); i++) {
		if (object && strcmp(object, usage_lines[i].object))
			continue;
		fprintf(f, "%s steadykvctl [OPTIONS] %s\n", first ? "usage:" : "      ",
			usage_lines[i].text);
		first = false;
	}
	if (first)
		fprintf(f, "usage: steadykvctl [OPTIONS] OBJECT COMMAND [ARGS]\n");
	if (!object)
		fputs(usage_notes, f);
}

int usage_error(const char *object, const char *fmt, ...)
{
	va_list ap;

	fputs("steadykvctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr, object);
	return EXIT_USAGE;
}

bool wants_help(int argc, char **argv)
{
	return argc > 0 && (!strcmp(argv[0], "help") || !strcmp(argv[0], "-h") ||
			    !strcmp(argv[0], "--help"));
}

static const struct {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	bool whole_argv;	/* the command receives the object word too */
} objects[] = {
	{ "node", cmd_node, false },
	{ "listen", cmd_listen, false },
	{ "table", cmd_table, false },
	{ "tablet", cmd_tablet, false },
	{ "migration", cmd_migration, false },
	{ "repl", cmd_repl, false },
	{ "monitor", cmd_monitor, false },
	{ "cluster", cmd_cluster, false },
	{ "get", cmd_data, true },
	{ "put", cmd_data, true },
	{ "del", cmd_data, true },
	{ "hash", cmd_data, true },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c = { 0 };
	int opt;

	/* '+': options end at the object, so "put ... --expect N" stays ours. */
	while ((opt = getopt_long(argc, argv, "+jph", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			c.json = true;
			break;
		case 'p':
			c.json = c.pretty = true;
			break;
		case 'h':
			usage(stdout, NULL);
			return EXIT_OK;
		default:
			usage(stderr, NULL);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage_error(NULL, "missing OBJECT");
	json_init(&c.j, stdout, c.pretty);

	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		if (strcmp(argv[0], objects[i].name))
			continue;
		if (wants_help(argc - 1, argv + 1)) {
			usage(stdout, objects[i].name);
			return EXIT_OK;
		}
		if (objects[i].whole_argv)
			return objects[i].fn(&c, argc, argv);
		return objects[i].fn(&c, argc - 1, argv + 1);
	}
	if (!strcmp(argv[0], "help")) {
		usage(stdout, argc > 1 ? argv[1] : NULL);
		return EXIT_OK;
	}
	return usage_error(NULL, "unknown object \"%s\"", argv[0]);
}
