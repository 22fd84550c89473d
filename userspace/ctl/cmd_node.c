// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * node show|set|key set|insecure|client-key add|del|list|client-auth,
 * listen start|stop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "auth_key.h"
#include "ctl.h"
#include "parse.h"
#include "table_list.h"

static int node_show(struct ctl *c)
{
	struct sknl_node node;
	struct sknl_err err;
	struct sknl nl;
	int rc;

	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_node_get(&nl, &node, &err), "node show", &err);
	sknl_close(&nl);
	if (rc)
		return rc;
	if (c->json)
		json_obj_begin(&c->j);
	show_node(c, &node, false);
	if (c->json)
		json_obj_end(&c->j);
	return EXIT_OK;
}

static int node_set(int argc, char **argv)
{
	struct sknl_err err;
	uint64_t limit;
	struct sknl nl;
	int rc;

	if (argc != 2 || strcmp(argv[0], "mem-limit"))
		return usage_error("node", "node set: expected \"mem-limit BYTES\"");
	if (parse_size(argv[1], &limit))
		return usage_error("node", "node set: invalid size \"%s\"", argv[1]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_node_set_mem_limit(&nl, limit, &err), "node set", &err);
	sknl_close(&nl);
	return rc;
}

/* node key set --current FILE [--previous FILE]: the secrets never print. */
static int node_key_set(int argc, char **argv)
{
	struct skv_auth_key cur = { 0 }, prev = { 0 };
	const char *cur_path = NULL, *prev_path = NULL;
	struct sknl_auth auth = { .insecure = -1 };
	struct sknl_err err;
	char why[512];
	struct sknl nl;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--current") && i + 1 < argc)
			cur_path = argv[++i];
		else if (!strcmp(argv[i], "--previous") && i + 1 < argc)
			prev_path = argv[++i];
		else
			return usage_error("node", "node key set: unexpected \"%s\"", argv[i]);
	}
	if (!cur_path)
		return usage_error("node", "node key set: --current FILE is required");
	if (skv_auth_key_load(&cur, cur_path, why, sizeof(why)) ||
	    (prev_path && skv_auth_key_load(&prev, prev_path, why, sizeof(why)))) {
		fprintf(stderr, "steadykvctl: node key set: %s\n", why);
		skv_auth_key_clear(&cur);
		return EXIT_ERR;
	}
	auth.cur = cur.secret;
	auth.cur_len = cur.len;
	auth.prev = prev.secret;
	auth.prev_len = prev.len;
	rc = sknl_open(&nl) ? EXIT_ERR : 0;
	if (!rc) {
		rc = ctl_nl_status(sknl_auth_set(&nl, &auth, &err), "node key set", &err);
		sknl_close(&nl);
	}
	skv_auth_key_clear(&cur);
	skv_auth_key_clear(&prev);
	return rc;
}

/* The one word "on" (1) or "off" (0); -1 otherwise. */
static int on_off_arg(int argc, char **argv)
{
	if (argc == 1 && !strcmp(argv[0], "on"))
		return 1;
	if (argc == 1 && !strcmp(argv[0], "off"))
		return 0;
	return -1;
}

/* node insecure on|off */
static int node_insecure(int argc, char **argv)
{
	struct sknl_auth auth = { .insecure = on_off_arg(argc, argv) };
	struct sknl_err err;
	struct sknl nl;
	int rc;

	if (auth.insecure < 0)
		return usage_error("node", "node insecure: expected on or off");
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_auth_set(&nl, &auth, &err), "node insecure", &err);
	sknl_close(&nl);
	return rc;
}

/* node client-auth on|off: require client keys for data ops, or not. */
static int node_client_auth(int argc, char **argv)
{
	int on = on_off_arg(argc, argv), rc;
	struct sknl_err err;
	struct sknl nl;

	if (on < 0)
		return usage_error("node", "node client-auth: expected on or off");
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_client_auth_required(&nl, on, &err), "node client-auth", &err);
	sknl_close(&nl);
	return rc;
}

/* --read/--write TABLES into the rights. */
static int client_rights_arg(const char *opt, const char *s, bool *all, uint64_t *ids,
			     size_t *n)
{
	if (table_list_parse(s, all, ids, STEADYKV_CLIENT_KEY_TABLES_MAX, n))
		return usage_error("node",
				   "node client-key add: %s wants \"all\" or up to %d table ids "
				   "separated by commas, not \"%s\"",
				   opt, STEADYKV_CLIENT_KEY_TABLES_MAX, s);
	return 0;
}

/* node client-key add FILE [--read TABLES] [--write TABLES]: the secret never prints. */
static int client_key_add(int argc, char **argv)
{
	struct sknl_client_key *rights = calloc(1, sizeof(*rights));
	struct skv_auth_key key = { 0 };
	const char *path = NULL;
	struct sknl_err err;
	char why[512];
	struct sknl nl;
	int rc = 0;

	if (!rights)
		return EXIT_ERR;
	for (int i = 0; i < argc && !rc; i++) {
		if (!strcmp(argv[i], "--read") && i + 1 < argc)
			rc = client_rights_arg("--read", argv[++i], &rights->read_all, rights->read,
					       &rights->nread);
		else if (!strcmp(argv[i], "--write") && i + 1 < argc)
			rc = client_rights_arg("--write", argv[++i], &rights->write_all,
					       rights->write, &rights->nwrite);
		else if (!path && argv[i][0] != '-')
			path = argv[i];
		else
			rc = usage_error("node", "node client-key add: unexpected \"%s\"", argv[i]);
	}
	if (!rc && !path)
		rc = usage_error("node", "node client-key add: the key FILE is required");
	if (!rc && !rights->read_all && !rights->write_all && !rights->nread && !rights->nwrite)
		rc = usage_error("node", "node client-key add: give --read and/or --write");
	if (!rc && skv_auth_key_load(&key, path, why, sizeof(why))) {
		fprintf(stderr, "steadykvctl: node client-key add: %s\n", why);
		rc = EXIT_ERR;
	}
	if (!rc) {
		rc = sknl_open(&nl) ? EXIT_ERR : 0;
		if (!rc) {
			rc = ctl_nl_status(sknl_client_key_add(&nl, key.secret, key.len, rights, &err),
					   "node client-key add", &err);
			sknl_close(&nl);
		}
		if (!rc)
			printf("client key 0x%08" PRIx32 "\n", key.id);
	}
	skv_auth_key_clear(&key);
	free(rights);
	return rc;
}

/* node client-key del KEY-ID (as list shows it) */
static int client_key_del(int argc, char **argv)
{
	struct sknl_err err;
	struct sknl nl;
	uint32_t id;
	int rc;

	if (argc != 1 || parse_u32(argv[0], &id))
		return usage_error("node", "node client-key del: expected a KEY-ID (0x... as list shows)");
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_client_key_del(&nl, id, &err), "node client-key del", &err);
	sknl_close(&nl);
	return rc;
}

static void print_tables(bool all, const uint64_t *ids, size_t n)
{
	if (all) {
		fputs("all", stdout);
		return;
	}
	if (!n)
		fputs("none", stdout);
	for (size_t i = 0; i < n; i++)
		printf("%s%" PRIu64, i ? "," : "", ids[i]);
}

static void json_tables(struct json *j, const char *name, bool all, const uint64_t *ids,
			size_t n)
{
	if (all) {
		json_kv_str(j, name, "all");
		return;
	}
	json_key(j, name);
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++)
		json_u64(j, ids[i]);
	json_arr_end(j);
}

/* node client-key list: ids and rights, never a secret. */
static int client_key_list(struct ctl *c, int argc, char **argv)
{
	struct sknl_client_key *keys;
	struct sknl_err err;
	struct sknl nl;
	size_t n;
	int rc;

	if (argc)
		return usage_error("node", "node client-key list: unexpected \"%s\"", argv[0]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_client_key_dump(&nl, &keys, &n, &err), "node client-key list",
			   &err);
	sknl_close(&nl);
	if (rc)
		return rc;
	if (c->json)
		json_arr_begin(&c->j);
	for (size_t i = 0; i < n; i++) {
		const struct sknl_client_key *k = &keys[i];

		if (c->json) {
			json_obj_begin(&c->j);
			json_kv_u64(&c->j, "id", k->id);
			json_tables(&c->j, "read", k->read_all, k->read, k->nread);
			json_tables(&c->j, "write", k->write_all, k->write, k->nwrite);
			json_obj_end(&c->j);
			continue;
		}
		printf("client-key 0x%08" PRIx32 " read ", k->id);
		print_tables(k->read_all, k->read, k->nread);
		fputs(" write ", stdout);
		print_tables(k->write_all, k->write, k->nwrite);
		putchar('\n');
	}
	if (c->json)
		json_arr_end(&c->j);
	free(keys);
	return EXIT_OK;
}

static int node_client_key(struct ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return usage_error("node", "node client-key: expected add, del or list");
	if (!strcmp(argv[0], "add"))
		return client_key_add(argc - 1, argv + 1);
	if (!strcmp(argv[0], "del"))
		return client_key_del(argc - 1, argv + 1);
	if (!strcmp(argv[0], "list"))
		return client_key_list(c, argc - 1, argv + 1);
	return usage_error("node", "node client-key: unknown command \"%s\"", argv[0]);
}

int cmd_node(struct ctl *c, int argc, char **argv)
{
	if (argc < 1)
		return usage_error("node", "node: missing command");
	if (!strcmp(argv[0], "show") || !strcmp(argv[0], "get")) {
		if (argc != 1)
			return usage_error("node", "node show: unexpected \"%s\"", argv[1]);
		return node_show(c);
	}
	if (!strcmp(argv[0], "set"))
		return node_set(argc - 1, argv + 1);
	if (!strcmp(argv[0], "key") && argc >= 2 && !strcmp(argv[1], "set"))
		return node_key_set(argc - 2, argv + 2);
	if (!strcmp(argv[0], "insecure"))
		return node_insecure(argc - 1, argv + 1);
	if (!strcmp(argv[0], "client-key"))
		return node_client_key(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "client-auth"))
		return node_client_auth(argc - 1, argv + 1);
	return usage_error("node", "node: unknown command \"%s\"", argv[0]);
}

int cmd_listen(struct ctl *c, int argc, char **argv)
{
	struct sknl_err err;
	uint8_t addr[16];
	uint16_t port;
	struct sknl nl;
	int alen, rc;

	(void)c;
	if (argc < 1)
		return usage_error("listen", "listen: missing command");
	if (!strcmp(argv[0], "stop")) {
		if (argc != 1)
			return usage_error("listen", "listen stop: unexpected \"%s\"", argv[1]);
		if (sknl_open(&nl))
			return EXIT_ERR;
		rc = ctl_nl_status(sknl_listen_stop(&nl, &err), "listen stop", &err);
		sknl_close(&nl);
		return rc;
	}
	if (strcmp(argv[0], "start"))
		return usage_error("listen", "listen: unknown command \"%s\"", argv[0]);
	if (argc != 3)
		return usage_error("listen", "listen start: expected ADDR PORT");
	if (sknl_addr_parse(argv[1], addr, &alen))
		return usage_error("listen", "listen start: \"%s\" is not an IPv4 or IPv6 address",
				   argv[1]);
	if (parse_u16(argv[2], &port))
		return usage_error("listen", "listen start: invalid port \"%s\"", argv[2]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_listen_start(&nl, addr, alen, port, &err), "listen start", &err);
	sknl_close(&nl);
	return rc;
}
