// SPDX-License-Identifier: GPL-2.0
/*
 * repl_tool: the replication ops (wire.h "Replication") spoken raw, as a
 * peer, for selftests/replication.sh.
 *
 *   repl_tool read ADDR:PORT KEYFILE PRIMARY EPOCH START
 *       authenticates with the key in KEYFILE, then READs the replica of
 *       PRIMARY from START to its end and prints one line per record:
 *       "object|tombstone TABLE VERSION KEY" (each record's key hash is
 *       checked); on a refusal prints the status name, exit 1
 *   repl_tool op ADDR:PORT KEYFILE|- open|write|read PRIMARY EPOCH
 *       sends one op (open: CREATE at 0; write: no records at 0; read:
 *       from 0), authenticated unless KEYFILE is "-", and prints the
 *       reply's status name (exit 0)
 *
 * Exit status: 0 success, 1 refused or a check failed, 2 usage or
 * connection error.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <steadykv/record.h>

#include "parse.h"
#include "skv_util.h"

static void usage(void)
{
	fprintf(stderr, "usage: see the comment at the top of selftests/repl_tool.c\n");
	exit(2);
}

static int connect_as(const char *addr, const char *keyfile)
{
	static struct skv_auth_key k;
	char ip[64], why[512];
	uint16_t port;
	int fd, st;

	if (parse_hostport(addr, ip, sizeof(ip), &port))
		usage();
	fd = st_connect(ip, port);
	if (fd < 0) {
		fprintf(stderr, "repl_tool: %s\n", st_last_error);
		exit(2);
	}
	if (!strcmp(keyfile, "-"))
		return fd;
	if (skv_auth_key_load(&k, keyfile, why, sizeof(why))) {
		fprintf(stderr, "repl_tool: %s\n", why);
		exit(2);
	}
	st = st_auth(fd, &k);
	if (st != SKV_S_OK) {
		fprintf(stderr, "repl_tool: authentication: %s\n", st_status_name(st));
		exit(2);
	}
	return fd;
}

/* Send one request (header + body), read its reply. */
static int call(int fd, uint8_t op, const void *body, uint32_t len, struct st_reply *r)
{
	uint8_t buf[sizeof(struct skv_hdr) + 64];
	size_t n = st_hdr(buf, op, 1, len);

	memcpy(buf + n, body, len);
	if (st_send_all(fd, buf, n + len) || st_recv_reply(fd, r)) {
		fprintf(stderr, "repl_tool: %s\n", st_last_error);
		exit(2);
	}
	return r->h.status;
}

static int read_all(int fd, uint64_t primary, uint64_t epoch, uint64_t start)
{
	struct skv_repl_read_req req = {
		.primary_id = htole64(primary),
		.epoch = htole64(epoch),
		.budget = htole32(64 * 1024),
	};
	uint64_t off = start, next, end;
	struct skv_repl_read_reply rr;
	struct st_reply r;
	int st;

	for (;;) {
		req.offset = htole64(off);
		st = call(fd, SKV_OP_REPL_READ, &req, sizeof(req), &r);
		if (st != SKV_S_OK) {
			printf("%s\n", st_status_name(st));
			st_reply_free(&r);
			return 1;
		}
		if (r.len < sizeof(rr))
			goto bad;
		memcpy(&rr, r.body, sizeof(rr));
		next = le64toh(rr.next);
		end = le64toh(rr.end);
		if (next - off != r.len - sizeof(rr))
			goto bad;
		for (uint32_t p = sizeof(rr); p < r.len;) {
			struct skv_rec_hdr h;
			uint32_t klen, vlen, len;

			if (r.len - p < sizeof(h))
				goto bad;
			memcpy(&h, r.body + p, sizeof(h));
			klen = le16toh(h.key_len);
			vlen = le32toh(h.value_len);
			len = SKV_REC_LEN(klen, vlen);
			if (r.len - p < len ||
			    st_xxh64(r.body + p + SKV_REC_HDR_LEN, klen) != le64toh(h.key_hash))
				goto bad;
			printf("%s %llu %llu %.*s\n",
			       h.type == SKV_REC_OBJECT ? "object" : "tombstone",
			       (unsigned long long)le64toh(h.table_id),
			       (unsigned long long)le64toh(h.version), (int)klen,
			       (const char *)r.body + p + SKV_REC_HDR_LEN);
			p += len;
		}
		st_reply_free(&r);
		if (next == end)
			return 0;
		if (next == off) {
			fprintf(stderr, "repl_tool: READ made no progress at %llu\n",
				(unsigned long long)off);
			return 1;
		}
		off = next;
	}
bad:
	fprintf(stderr, "repl_tool: malformed READ reply at %llu\n", (unsigned long long)off);
	st_reply_free(&r);
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t primary, epoch, start;
	struct st_reply r;
	int fd, st;

	if (argc == 7 && !strcmp(argv[1], "read")) {
		if (parse_u64(argv[4], &primary) || parse_u64(argv[5], &epoch) ||
		    parse_u64(argv[6], &start))
			usage();
		fd = connect_as(argv[2], argv[3]);
		st = read_all(fd, primary, epoch, start);
		close(fd);
		return st;
	}
	if (argc == 7 && !strcmp(argv[1], "op")) {
		struct skv_repl_open_req open = { .flags = htole32(SKV_REPL_F_CREATE) };
		/* No whole mark: a peer's write says nothing of the store. */
		struct skv_repl_write_req write = {
			.whole_from = htole64(UINT64_MAX),
		};
		struct skv_repl_read_req read = { .budget = htole32(4096) };

		if (parse_u64(argv[5], &primary) || parse_u64(argv[6], &epoch))
			usage();
		open.primary_id = write.primary_id = read.primary_id = htole64(primary);
		open.epoch = write.epoch = read.epoch = htole64(epoch);
		fd = connect_as(argv[2], argv[3]);
		if (!strcmp(argv[4], "open"))
			st = call(fd, SKV_OP_REPL_OPEN, &open, sizeof(open), &r);
		else if (!strcmp(argv[4], "write"))
			st = call(fd, SKV_OP_REPL_WRITE, &write, sizeof(write), &r);
		else if (!strcmp(argv[4], "read"))
			st = call(fd, SKV_OP_REPL_READ, &read, sizeof(read), &r);
		else
			usage();
		printf("%s\n", st_status_name(st));
		st_reply_free(&r);
		close(fd);
		return 0;
	}
	usage();
	return 2;
}
