// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * repl set|show|replicas|fence|recover: replication of this node's log,
 * its replicas, and a tablet of a dead primary rebuilt from one.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "parse.h"

static const struct {
	int attr;
	const char *name;
} repl_fields[] = {
	{ STEADYKV_A_REPL_PRIMARY_ID, "primary-id" },
	{ STEADYKV_A_REPL_EPOCH, "epoch" },
	{ STEADYKV_A_REPL_BACKUPS, "backups" },
	{ STEADYKV_A_REPL_POSITION, "position" },
	{ STEADYKV_A_REPL_ACKED, "acked" },
	{ STEADYKV_A_REPL_HEALTHY, "healthy" },
	{ STEADYKV_A_REPL_WRITES_REFUSED, "writes-refused" },
	{ STEADYKV_A_REPL_WHOLE, "whole" },
	{ STEADYKV_A_REPL_RESYNC_BYTES, "resync-bytes" },
	{ STEADYKV_A_REPL_BACKUPS_OK, "backups-ok" },
	{ STEADYKV_A_REPL_REPLICA_BASE, "replica-base" },
	{ STEADYKV_A_REPL_REPLICA_END, "replica-end" },
	{ STEADYKV_A_REPL_REPLICA_RECORDS, "replica-records" },
	{ STEADYKV_A_REPL_REPLICA_MEM, "replica-mem" },
	{ STEADYKV_A_REPL_REPLICA_WHOLE, "replica-whole" },
	{ STEADYKV_A_REPL_RECOVER_RECORDS, "records" },
	{ STEADYKV_A_REPL_RECOVER_APPLIED, "applied" },
	{ STEADYKV_A_REPL_RECOVER_BYTES, "bytes" },
	{ STEADYKV_A_REPL_RECOVER_NS, "ns" },
};

static void backup_text(const struct sknl_repl_backup *b, char *buf, size_t len)
{
	char a[64];

	inet_ntop(b->alen == 4 ? AF_INET : AF_INET6, b->addr, a, sizeof(a));
	snprintf(buf, len, b->alen == 4 ? "%s:%u" : "[%s]:%u", a, b->port);
}

static void show_repl(struct ctl *c, const struct sknl_repl *r)
{
	char key[32], addr[80];
	const char *sep = "";

	if (c->json)
		json_obj_begin(&c->j);
	for (size_t i = 0; i < sizeof(repl_fields) / sizeof(repl_fields[0]); i++) {
		if (!SKNL_REPL_HAS(r, repl_fields[i].attr))
			continue;
		if (c->json) {
			snprintf(key, sizeof(key), "%s", repl_fields[i].name);
			for (char *p = key; *p; p++)
				if (*p == '-')
					*p = '_';
			json_kv_u64(&c->j, key, r->val[repl_fields[i].attr]);
		} else {
			printf("%s%s %" PRIu64, sep, repl_fields[i].name,
			       r->val[repl_fields[i].attr]);
			sep = " ";
		}
	}
	if (c->json && r->nbackups) {
		json_key(&c->j, "backup");
		json_arr_begin(&c->j);
	}
	for (int i = 0; i < r->nbackups; i++) {
		backup_text(&r->backups[i], addr, sizeof(addr));
		if (c->json)
			json_str(&c->j, addr);
		else
			printf(" backup %s", addr);
	}
	if (c->json) {
		if (r->nbackups)
			json_arr_end(&c->j);
		json_obj_end(&c->j);
	} else {
		printf("\n");
	}
}

/* repl set PRIMARY-ID EPOCH [ADDR:PORT...] */
static int repl_set(int argc, char **argv)
{
	struct sknl_repl_backup b[SKNL_REPL_MAX_BACKUPS];
	uint64_t id = 0, epoch = 0;
	struct sknl_err err;
	char host[256];
	struct sknl nl;
	int n = 0, rc;

	if (argc == 1 && !strcmp(argv[0], "none"))
		argc = 0;
	else if (argc < 2 || parse_u64(argv[0], &id) || parse_u64(argv[1], &epoch))
		return usage_error("repl", "repl set: expected PRIMARY-ID EPOCH [ADDR:PORT...] or none");
	for (int i = 2; i < argc; i++) {
		if (n == SKNL_REPL_MAX_BACKUPS)
			return usage_error("repl", "repl set: at most %d backups",
					   SKNL_REPL_MAX_BACKUPS);
		if (parse_hostport(argv[i], host, sizeof(host), &b[n].port) ||
		    sknl_addr_parse(host, b[n].addr, &b[n].alen))
			return usage_error("repl", "repl set: \"%s\" is not ADDR:PORT", argv[i]);
		n++;
	}
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_repl_set(&nl, id, epoch, b, n, &err), "repl set", &err);
	sknl_close(&nl);
	return rc;
}

static int repl_show(struct ctl *c)
{
	struct sknl_repl r;
	struct sknl_err err;
	struct sknl nl;
	int rc;

	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_repl_get(&nl, &r, &err), "repl show", &err);
	sknl_close(&nl);
	if (!rc)
		show_repl(c, &r);
	return rc;
}

static int repl_replicas(struct ctl *c)
{
	struct sknl_repl *rs = NULL;
	struct sknl_err err;
	struct sknl nl;
	size_t n = 0;
	int rc;

	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_replica_dump(&nl, &rs, &n, &err), "repl replicas", &err);
	sknl_close(&nl);
	if (rc)
		return rc;
	if (c->json)
		json_arr_begin(&c->j);
	for (size_t i = 0; i < n; i++)
		show_repl(c, &rs[i]);
	if (c->json)
		json_arr_end(&c->j);
	free(rs);
	return EXIT_OK;
}

static int repl_fence(int argc, char **argv)
{
	uint64_t id, epoch;
	struct sknl_err err;
	struct sknl nl;
	int rc;

	if (argc != 2 || parse_u64(argv[0], &id) || parse_u64(argv[1], &epoch))
		return usage_error("repl", "repl fence: expected PRIMARY-ID EPOCH");
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_repl_fence(&nl, id, epoch, &err), "repl fence", &err);
	sknl_close(&nl);
	return rc;
}

/* repl recover PRIMARY-ID EPOCH TABLE-ID START-HASH END-HASH */
static int repl_recover(struct ctl *c, int argc, char **argv)
{
	uint64_t v[5];
	struct sknl_err err;
	struct sknl_repl r;
	struct sknl nl;
	int rc;

	if (argc != 5)
		return usage_error("repl", "repl recover: expected PRIMARY-ID EPOCH TABLE START END");
	for (int i = 0; i < 5; i++)
		if (i < 3 ? parse_u64(argv[i], &v[i]) : parse_hash(argv[i], &v[i]))
			return usage_error("repl", "repl recover: \"%s\" is not a number", argv[i]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_repl_recover(&nl, v[0], v[1], v[2], v[3], v[4], &r, &err),
			   "repl recover", &err);
	sknl_close(&nl);
	if (!rc)
		show_repl(c, &r);
	return rc;
}

int cmd_repl(struct ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return usage_error("repl", "repl: missing command");
	if (!strcmp(argv[0], "set"))
		return repl_set(argc - 1, argv + 1);
	if (!strcmp(argv[0], "fence"))
		return repl_fence(argc - 1, argv + 1);
	if (!strcmp(argv[0], "recover"))
		return repl_recover(c, argc - 1, argv + 1);
	if (argc != 1)
		return usage_error("repl", "repl %s: unexpected \"%s\"", argv[0], argv[1]);
	if (!strcmp(argv[0], "show"))
		return repl_show(c);
	if (!strcmp(argv[0], "replicas"))
		return repl_replicas(c);
	return usage_error("repl", "repl: unknown command \"%s\"", argv[0]);
}
