// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* node show|set|key set|insecure, listen start|stop. */
#include <stdio.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "auth_key.h"
#include "ctl.h"
#include "parse.h"

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

/* node insecure on|off */
static int node_insecure(int argc, char **argv)
{
	struct sknl_auth auth = { .insecure = -1 };
	struct sknl_err err;
	struct sknl nl;
	int rc;

	if (argc == 1 && !strcmp(argv[0], "on"))
		auth.insecure = 1;
	else if (argc == 1 && !strcmp(argv[0], "off"))
		auth.insecure = 0;
	else
		return usage_error("node", "node insecure: expected on or off");
	if (sknl_open(&nl))
		return EXIT_ERR;
	rc = ctl_nl_status(sknl_auth_set(&nl, &auth, &err), "node insecure", &err);
	sknl_close(&nl);
	return rc;
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
