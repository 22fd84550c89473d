// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Data-plane debugging over TCP with libsteadykv: get, put, del, and hash
 * (where a key lands).  Values are printed as text with non-printable
 * bytes escaped (\xNN), or as JSON strings.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "parse.h"
#include "steadykv.h"

struct data_args {
	const char *op;
	char host[256];
	uint16_t port;
	uint64_t table;
	const char *key;
	const char *value;
	uint64_t expect;
	const char *client_key;	/* -K FILE, else $STEADYKV_CLIENT_KEY; NULL: none */
};

static void print_escaped(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\\')
			fputs("\\\\", stdout);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
}

/* A node's answer or a local failure, as one line on stderr. */
static int report(const struct data_args *a, struct skv_conn *conn, int rc, uint64_t version)
{
	fprintf(stderr, "steadykvctl: %s: %s", a->op, skv_strerror(rc));
	if ((rc == SKV_E_NOT_FOUND && version) || rc == SKV_E_VERSION_MISMATCH)
		fprintf(stderr, " (%s version %" PRIu64 ")",
			rc == SKV_E_NOT_FOUND ? "tombstone" : "current", version);
	else if (rc == SKV_E_RETRY)
		fprintf(stderr, " (retry in %" PRIu32 " us)", skv_conn_retry_us(conn));
	else if (rc <= SKV_E_IO && skv_conn_errmsg(conn)[0])
		fprintf(stderr, ": %s", skv_conn_errmsg(conn));
	fputc('\n', stderr);
	return EXIT_ERR;
}

static void print_result(struct ctl *c, const struct data_args *a, uint64_t version,
			 const void *value, size_t value_len)
{
	if (c->json) {
		json_obj_begin(&c->j);
		json_kv_u64(&c->j, "table", a->table);
		json_kv_str(&c->j, "key", a->key);
		json_kv_u64(&c->j, "version", version);
		if (value)
			json_kv_strn(&c->j, "value", value, value_len);
		json_obj_end(&c->j);
		return;
	}
	printf("key ");
	print_escaped((const uint8_t *)a->key, strlen(a->key));
	printf(" version %" PRIu64, version);
	if (value) {
		printf(" value ");
		print_escaped(value, value_len);
	}
	putchar('\n');
}

static int cmd_hash(struct ctl *c, int argc, char **argv)
{
	uint64_t h;

	if (argc != 2)
		return usage_error("hash", "hash: expected KEY");
	h = skv_key_hash(argv[1], strlen(argv[1]));
	if (c->json) {
		json_obj_begin(&c->j);
		json_kv_str(&c->j, "key", argv[1]);
		json_kv_hex64(&c->j, "hash", h);
		json_obj_end(&c->j);
	} else {
		printf("0x%016" PRIx64 "\n", h);
	}
	return EXIT_OK;
}

/* argv: OP ADDR:PORT TABLE KEY [VALUE] with "--expect N" and "-K FILE" anywhere after OP. */
static int parse_args(int argc, char **argv, struct data_args *a)
{
	const char *pos[4];
	int npos = 0, want = strcmp(a->op, "put") ? 3 : 4;
	bool expect_ok = strcmp(a->op, "get");

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-K") || !strcmp(argv[i], "--client-key")) {
			if (i + 1 >= argc)
				return usage_error(a->op, "%s: %s needs a KEYFILE", a->op, argv[i]);
			a->client_key = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "--expect")) {
			if (!expect_ok)
				return usage_error(a->op, "%s: --expect is for put and del", a->op);
			if (i + 1 >= argc || parse_u64(argv[i + 1], &a->expect))
				return usage_error(a->op, "%s: --expect needs a VERSION", a->op);
			i++;
			continue;
		}
		if (npos == want)
			return usage_error(a->op, "%s: unexpected \"%s\"", a->op, argv[i]);
		pos[npos++] = argv[i];
	}
	if (npos != want)
		return usage_error(a->op, "%s: wrong number of arguments", a->op);
	if (parse_hostport(pos[0], a->host, sizeof(a->host), &a->port))
		return usage_error(a->op, "%s: \"%s\" is not ADDR:PORT or [IPV6]:PORT",
				   a->op, pos[0]);
	if (parse_u64(pos[1], &a->table))
		return usage_error(a->op, "%s: invalid table id \"%s\"", a->op, pos[1]);
	a->key = pos[2];
	a->value = want == 4 ? pos[3] : NULL;
	return 0;
}

/* Connect, and prove the client key if there is one: 0 or the code (said). */
static int connect_node(const struct data_args *a, const struct skv_client_key *key,
			struct skv_conn **conn)
{
	int rc = skv_connect(a->host, a->port, conn);

	if (rc) {
		int e = errno;

		fprintf(stderr, "steadykvctl: %s: connect %s port %u: %s", a->op, a->host, a->port,
			skv_strerror(rc));
		if (rc == SKV_E_CONNECT)
			fprintf(stderr, ": %s", strerror(e));
		fputc('\n', stderr);
		return rc;
	}
	if (!key)
		return 0;
	rc = skv_authenticate(*conn, key);
	if (rc) {
		fprintf(stderr, "steadykvctl: %s: %s (%s)\n", a->op, skv_strerror(rc),
			skv_conn_errmsg(*conn));
		skv_close(*conn);
		*conn = NULL;
	}
	return rc;
}

int cmd_data(struct ctl *c, int argc, char **argv)
{
	struct data_args a = { .op = argv[0] };
	struct skv_client_key *key = NULL;
	struct skv_conn *conn;
	uint64_t version = 0;
	int rc;

	if (!strcmp(argv[0], "hash"))
		return cmd_hash(c, argc, argv);
	rc = parse_args(argc, argv, &a);
	if (rc)
		return rc;
	if (!a.client_key && getenv("STEADYKV_CLIENT_KEY") && *getenv("STEADYKV_CLIENT_KEY"))
		a.client_key = getenv("STEADYKV_CLIENT_KEY");
	if (a.client_key) {
		char why[512];

		key = skv_client_key_load(a.client_key, why, sizeof(why));
		if (!key) {
			fprintf(stderr, "steadykvctl: %s: client key: %s\n", a.op, why);
			return EXIT_ERR;
		}
	}

	rc = connect_node(&a, key, &conn);
	skv_client_key_free(key);
	if (rc)
		return EXIT_ERR;
	if (!strcmp(a.op, "get")) {
		void *value;
		size_t len;

		rc = skv_get(conn, a.table, a.key, strlen(a.key), &value, &len, &version);
		if (!rc) {
			print_result(c, &a, version, value, len);
			free(value);
		}
	} else if (!strcmp(a.op, "put")) {
		rc = skv_put(conn, a.table, a.key, strlen(a.key), a.value, strlen(a.value),
			     a.expect, &version);
		if (!rc)
			print_result(c, &a, version, NULL, 0);
	} else {
		rc = skv_delete(conn, a.table, a.key, strlen(a.key), a.expect, &version);
		if (!rc)
			print_result(c, &a, version, NULL, 0);
	}
	if (rc)
		report(&a, conn, rc, version);
	skv_close(conn);
	return rc ? EXIT_ERR : EXIT_OK;
}
