/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* steadykvctl: what its command files share. */
#ifndef SKV_CTL_H
#define SKV_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include "json.h"
#include "sknl.h"

/* Exit codes. */
#define EXIT_OK		0
#define EXIT_ERR	1
#define EXIT_USAGE	2

struct ctl {
	bool json;
	bool pretty;
	struct json j;		/* stdout, when json */
};

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
int cmd_repl(struct ctl *c, int argc, char **argv);
/* cmd_cluster.c: the cluster through the coordinator (steadykvd). */
int cmd_cluster(struct ctl *c, int argc, char **argv);
/* Data plane: argv[0] is the object itself (get, put, del, hash). */
int cmd_data(struct ctl *c, int argc, char **argv);

/* show.c: one object as libskvnl parsed it, as text or into c->j. */
void show_node(struct ctl *c, const struct sknl_node *n, bool one_line);
void show_table(struct ctl *c, const struct sknl_table *t);
void show_tablet(struct ctl *c, const struct sknl_tablet *t);
/* cmd_migration.c: every attribute present in m, on one line or one per line. */
void show_migration(struct ctl *c, const struct skv_migration *m, bool one_line);
/* A typed netlink call's rc as an exit status; an error logged as "OP: ERROR". */
static inline int ctl_nl_status(int rc, const char *op, const struct sknl_err *err)
{
	if (!rc)
		return EXIT_OK;
	sknl_err_log(op, err);
	return EXIT_ERR;
}

struct migration_start {
	struct skv_migration m;	/* the request: present fields only, source included */
	bool wait;
};

/* argv: the words after "start"; 0 or EXIT_USAGE (after usage_error). */
int migration_parse_start(int argc, char **argv, struct migration_start *a);
/* "START-END" (u64 | min | max each, START <= END): 0 or -1. */
int migration_parse_range(const char *s, uint64_t *start, uint64_t *end);

#endif
