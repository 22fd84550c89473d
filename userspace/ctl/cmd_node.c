// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* node show|set, listen start|stop. */
#include <arpa/inet.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "ctl.h"
#include "nl.h"
#include "parse.h"

/* Send a request built by the caller; no reply body expected. */
static int run_simple(struct sknl *nl, struct nl_msg *msg, const char *op)
{
	int rc = sknl_transact(nl, msg, op, NULL);

	sknl_close(nl);
	return rc ? EXIT_ERR : EXIT_OK;
}

static int no_memory(struct sknl *nl, struct nl_msg *msg, const char *op)
{
	fprintf(stderr, "steadykvctl: %s: cannot build the request\n", op);
	nlmsg_free(msg);
	sknl_close(nl);
	return EXIT_ERR;
}

static int node_show(struct ctl *c)
{
	struct nlattr *tb[STEADYKV_A_NODE_MAX + 1];
	struct sknl_replies r = { 0 };
	struct nl_msg *msg;
	struct sknl nl;
	int rc = EXIT_ERR;

	if (sknl_open(&nl))
		return EXIT_ERR;
	msg = sknl_request(&nl, STEADYKV_CMD_NODE_GET, 0);
	if (!msg)
		return no_memory(&nl, msg, "node show");
	if (sknl_transact(&nl, msg, "node show", &r))
		goto out;
	if (r.count != 1 || sknl_parse(r.msgs[0], tb, STEADYKV_A_NODE_MAX, node_policy)) {
		fprintf(stderr, "steadykvctl: node show: malformed reply from the kernel\n");
		goto out;
	}
	if (c->json)
		json_obj_begin(&c->j);
	show_node(c, tb, false);
	if (c->json)
		json_obj_end(&c->j);
	rc = EXIT_OK;
out:
	sknl_replies_free(&r);
	sknl_close(&nl);
	return rc;
}

static int node_set(int argc, char **argv)
{
	struct nl_msg *msg;
	uint64_t limit;
	struct sknl nl;

	if (argc != 2 || strcmp(argv[0], "mem-limit"))
		return usage_error("node", "node set: expected \"mem-limit BYTES\"");
	if (parse_size(argv[1], &limit))
		return usage_error("node", "node set: invalid size \"%s\"", argv[1]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	msg = sknl_request(&nl, STEADYKV_CMD_NODE_SET, 0);
	if (!msg || nla_put_u64(msg, STEADYKV_A_NODE_MEM_LIMIT, limit))
		return no_memory(&nl, msg, "node set");
	return run_simple(&nl, msg, "node set");
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
	return usage_error("node", "node: unknown command \"%s\"", argv[0]);
}

/* An IPv4 or IPv6 literal (brackets allowed) into network-order bytes. */
static int parse_addr(const char *s, uint8_t *addr, int *len)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	if (inet_pton(AF_INET, s, addr) == 1) {
		*len = 4;
		return 0;
	}
	if (n > 2 && n < sizeof(buf) && s[0] == '[' && s[n - 1] == ']') {
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = 0;
		s = buf;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*len = 16;
		return 0;
	}
	return -1;
}

int cmd_listen(struct ctl *c, int argc, char **argv)
{
	struct nl_msg *msg;
	uint8_t addr[16];
	uint16_t port;
	struct sknl nl;
	int alen;

	(void)c;
	if (argc < 1)
		return usage_error("listen", "listen: missing command");
	if (!strcmp(argv[0], "stop")) {
		if (argc != 1)
			return usage_error("listen", "listen stop: unexpected \"%s\"", argv[1]);
		if (sknl_open(&nl))
			return EXIT_ERR;
		msg = sknl_request(&nl, STEADYKV_CMD_LISTEN_STOP, 0);
		if (!msg)
			return no_memory(&nl, msg, "listen stop");
		return run_simple(&nl, msg, "listen stop");
	}
	if (strcmp(argv[0], "start"))
		return usage_error("listen", "listen: unknown command \"%s\"", argv[0]);
	if (argc != 3)
		return usage_error("listen", "listen start: expected ADDR PORT");
	if (parse_addr(argv[1], addr, &alen))
		return usage_error("listen", "listen start: \"%s\" is not an IPv4 or IPv6 address",
				   argv[1]);
	if (parse_u16(argv[2], &port))
		return usage_error("listen", "listen start: invalid port \"%s\"", argv[2]);
	if (sknl_open(&nl))
		return EXIT_ERR;
	msg = sknl_request(&nl, STEADYKV_CMD_LISTEN_START, 0);
	if (!msg || nla_put(msg, STEADYKV_A_NODE_LISTEN_ADDR, alen, addr) ||
	    nla_put_u16(msg, STEADYKV_A_NODE_LISTEN_PORT, port))
		return no_memory(&nl, msg, "listen start");
	return run_simple(&nl, msg, "listen start");
}
