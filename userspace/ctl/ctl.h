/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* steadykvctl: what its command files share. */
#ifndef SKV_CTL_H
#define SKV_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include "json.h"

/* Exit codes. */
#define EXIT_OK		0
#define EXIT_ERR	1
#define EXIT_USAGE	2

struct ctl {
	bool json;
	bool pretty;
	struct json j;		/* stdout, when json */
};

struct nlattr;

/* steadykvctl.c: usage of one object (NULL: all) and usage errors. */
void usage(FILE *f, const char *object);
int usage_error(const char *object, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "help", "-h" or "--help" as the command word: print usage, exit 0. */
bool wants_help(int argc, char **argv);

/* Command families: argv[0] is the command after the object. */
int cmd_node(struct ctl *c, int argc, char **argv);
int cmd_listen(struct ctl *c, int argc, char **argv);
int cmd_table(struct ctl *c, int argc, char **argv);
int cmd_tablet(struct ctl *c, int argc, char **argv);
int cmd_monitor(struct ctl *c, int argc, char **argv);
int cmd_migration(struct ctl *c, int argc, char **argv);
/* cmd_cluster.c: the cluster through the coordinator (steadykvd). */
int cmd_cluster(struct ctl *c, int argc, char **argv);
/* Data plane: argv[0] is the object itself (get, put, del, hash). */
int cmd_data(struct ctl *c, int argc, char **argv);

/* show.c: one object from its attributes, as text or into c->j. */
void show_node(struct ctl *c, struct nlattr **tb, bool one_line);
void show_table(struct ctl *c, struct nlattr **tb);
void show_tablet(struct ctl *c, struct nlattr **tb);
/* cmd_migration.c: every attribute present in m, on one line or one per line. */
struct sknl_migration;
void show_migration(struct ctl *c, const struct sknl_migration *m, bool one_line);
/* Attribute policies for parsing replies and events. */
extern const struct nla_policy *const node_policy;
extern const struct nla_policy *const table_policy;
extern const struct nla_policy *const tablet_policy;

/* cmd_migration.c's parsers (host-tested). */
#include <stdint.h>
#include "sknl.h"

struct migration_start {
	struct sknl_migration m;	/* the request's attributes but the source */
	char from_host[256];
	uint16_t from_port;
	bool has_from;
	bool wait;
};

/* argv: the words after "start"; 0 or EXIT_USAGE (after usage_error). */
int migration_parse_start(int argc, char **argv, struct migration_start *a);
/* "START-END" (u64 | min | max each, START <= END): 0 or -1. */
int migration_parse_range(const char *s, uint64_t *start, uint64_t *end);
/* Resolve host into m's source-addr and set source-port: 0 or -1. */
int migration_resolve(const char *host, uint16_t port, struct sknl_migration *m);

#endif
