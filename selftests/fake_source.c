// SPDX-License-Identifier: GPL-2.0
/*
 * fake_source: a faulty migration source for selftests/fuzz_source.sh.
 *
 * It speaks the node-to-node ops of include/steadykv/wire.h as a source:
 * PREPARE is answered normally (a safe version, the range handed over),
 * END and PUSH_BACK with OK, and every PULL and PRIORITY_PULL with a batch
 * that is wrong in one way, chosen by MODE:
 *
 *   corrupt     a record's value has a flipped byte (its crc fails: a
 *               batch has no checksum of its own, the record's is the check)
 *   truncated   the last record is cut in half (batch len agrees)
 *   count       the batch header counts one record more than it holds
 *   oversized   the reply announces a body far over what a pull may return
 *   outofrange  well-formed records of the range plus one of the same
 *               table whose hash lies outside the range (in a tablet the
 *               target owns and serves)
 *   othertable  well-formed records of the range plus one of another
 *               table the target owns
 *   newer       well-formed records of the range, newer than the safe
 *               version this source gave (a forged version)
 *   ceiling     PREPARE gives a safe version past the version ceiling
 *               (wire.h SKV_VERSION_MAX), 2^64 - 2
 *   trickle     a well-formed pull reply, sent a byte every 100 ms: the
 *               target must give up at its peer_call_timeout_s for the
 *               whole call, however steadily the bytes come
 *   backup      not a source: a backup that lies (REPL_OPEN, REPL_WRITE).
 *               It takes WRITEs (holding nothing) until one carries the
 *               record of FOREIGN_KEY, which it answers by closing the
 *               connection; every OPEN after that claims the replica ends
 *               where that record's value starts, whose bytes put-header
 *               wrote as a record header of length 0: a primary taking
 *               the claim for a record boundary reads that header and
 *               never moves on
 *
 * Like a real node it is a responder of the peer handshake (steadykv/
 * auth.h) with the cluster key st_cluster_key() loads ($STEADYKV_CLUSTER_KEY),
 * and refuses the migration ops with AUTH_REQUIRED until the target has
 * proven it: a target that reaches the faulty batches has authenticated.
 *
 * Records of the range are keys "hi-N" (hash in the pulled part) with value
 * "ok-hi-N"; the foreign records carry the value "GARBAGE".  A correct
 * target fails the migration on every mode and never serves a garbage
 * value.
 *
 *   fake_source serve ADDR PORT MODE READY_FILE FOREIGN_TABLE FOREIGN_KEY FOREIGN_VERSION
 *       listen, create READY_FILE, serve until SIGTERM; FOREIGN_TABLE and
 *       FOREIGN_KEY name the foreign record (outofrange: the migration's
 *       table and a key of the low side; othertable: another table), at
 *       FOREIGN_VERSION (above the target's counter, so that it wins)
 *   fake_source keys PREFIX COUNT low|high
 *       print COUNT key names PREFIX-N whose hash is below 2^63 (low) or
 *       at/above it (high), one a line
 *   fake_source put IP PORT TABLE/KEY=VALUE...
 *       write each key (all must be OK)
 *   fake_source put-header IP PORT TABLE KEY
 *       write KEY with a value that is a record header whose lengths
 *       wrap its record length to 0 (prints the status; exit 0)
 *   fake_source check-range IP PORT TABLE COUNT owned|refused [TABLE/KEY=VALUE...]
 *       GET hi-0 .. hi-COUNT-1 (those of the high side, the migrated
 *       range) at a node: each must read the value this source sent for
 *       it, or be refused (NOT_OWNER, RETRY, UNKNOWN_TABLE), or, if the
 *       node owns the range now ("owned": the migration is done), be
 *       NOT_FOUND (this source has no such key); then each KEY of TABLE
 *       must read VALUE.  Exit 1 on any other answer
 *
 * Exit status: 0, 2 on usage or socket errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "skv_util.h"
#include "record.h"
#include "fuzz_util.h"

#define HIGH_SIDE	(1ull << 63)
/* Keys of the range put into one batch (fewer if the part is narrow). */
#define RANGE_KEYS	4
/* Names tried when looking for keys whose hash falls in a part. */
#define NAME_TRIES	100000
#define SAFE_VERSION	1000

static const char *mode;
/* Mode backup: where FOREIGN_KEY's value lies in the stream, 0 until seen. */
static uint64_t lie_at;
static uint64_t foreign_table;
static const char *foreign_key;
static uint64_t foreign_version;
/* The range the last PREPARE named (pulls come on other connections). */
static pthread_mutex_t prep_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t prep_table, prep_start, prep_end;

/* Append one record of key (value val, or a tombstone if val is NULL). */
static size_t add_record(uint8_t *dst, uint64_t table, const char *key,
			 const char *val, uint64_t version)
{
	uint32_t kl = strlen(key), vl = val ? strlen(val) : 0;

	skv_rec_write(dst, SKV_REC_OBJECT, table, st_xxh64(key, kl), version,
		      key, kl, val, vl, skv_rec_payload_crc(key, kl, val, vl));
	return skv_rec_len(kl, vl);
}

/*
 * The records of a reply to a pull of [start, end] of table: up to
 * RANGE_KEYS keys of the part, then the foreign record in the modes that
 * send one.  Returns the bytes written at recs (cap is ample: small keys).
 */
static size_t make_records(uint8_t *recs, uint64_t table, uint64_t start,
			   uint64_t end, uint32_t *count)
{
	size_t len = 0;
	char key[64], val[80];
	int i, n = 0;

	for (i = 0; i < NAME_TRIES && n < RANGE_KEYS; i++) {
		uint64_t h;

		snprintf(key, sizeof(key), "hi-%d", i);
		h = st_xxh64(key, strlen(key));
		if (h < start || h > end)
			continue;
		snprintf(val, sizeof(val), "ok-%s", key);
		len += add_record(recs + len, table, key, val,
				  !strcmp(mode, "newer") ? SAFE_VERSION + 1 + n :
				  SAFE_VERSION - 10 + n);
		n++;
	}
	if (!strcmp(mode, "outofrange") || !strcmp(mode, "othertable")) {
		len += add_record(recs + len, foreign_table, foreign_key, "GARBAGE", foreign_version);
		n++;
	}
	*count = n;
	return len;
}

/*
 * Reply body of a PULL or PRIORITY_PULL: skv_pull_reply + the batch of
 * this mode.  Returns its length; *announce is the body_len to put in the
 * header (larger than the body in the oversized mode).
 */
static size_t make_pull_reply(uint8_t *body, uint64_t table, uint64_t start,
			      uint64_t end, uint64_t next, uint32_t resolved,
			      uint32_t *announce)
{
	uint8_t *bh = body + sizeof(struct skv_pull_reply);
	uint8_t *recs = bh + sizeof(struct skv_batch_hdr);
	uint32_t count, len;
	size_t total;

	memset(body, 0, sizeof(struct skv_pull_reply) + sizeof(struct skv_batch_hdr));
	put64(body, next);
	put32(body + 8, resolved);
	len = make_records(recs, table, start, end, &count);
	if (!strcmp(mode, "corrupt") && len) {
		/* The last byte of the first record's value (before padding). */
		struct skv_rec_view v;

		skv_rec_view_trusted(recs, &v);
		recs[SKV_REC_HDR_LEN + v.key_len + v.value_len - 1] ^= 0x20;
	} else if (!strcmp(mode, "truncated") && len) {
		struct skv_rec_view v;
		uint32_t off = 0;

		/* Find the last record and keep half of it. */
		for (;;) {
			skv_rec_view_trusted(recs + off, &v);
			if (off + v.len >= len)
				break;
			off += v.len;
		}
		len = off + v.len / 2;
	} else if (!strcmp(mode, "count")) {
		count++;
	}
	put32(bh, SKV_BATCH_MAGIC);
	put32(bh + 4, count);
	put32(bh + 8, len);
	put32(bh + 12, 0);	/* reserved */
	total = sizeof(struct skv_pull_reply) + sizeof(struct skv_batch_hdr) + len;
	/* Over any pull budget plus the largest record, yet a valid body_len. */
	*announce = !strcmp(mode, "oversized") ? 2 * SKV_MAX_PULL_BUDGET + SKV_MAX_BODY_LEN :
		    (uint32_t)total;
	return total;
}

/*
 * Mode backup: a WRITE's records (trusted: the primary's own); true if
 * FOREIGN_KEY's record is among them, its value's position noted.
 */
static bool backup_write(const uint8_t *req, uint32_t blen)
{
	const uint8_t *recs = req + sizeof(struct skv_repl_write_req);
	uint32_t len = blen - sizeof(struct skv_repl_write_req), off = 0;
	size_t kl = strlen(foreign_key);

	while (off + SKV_REC_HDR_LEN <= len) {
		uint16_t key_len = recs[off + 6] | recs[off + 7] << 8;
		uint32_t value_len = get32(recs + off + 8);

		if (key_len == kl && off + SKV_REC_HDR_LEN + kl <= len &&
		    !memcmp(recs + off + SKV_REC_HDR_LEN, foreign_key, kl)) {
			pthread_mutex_lock(&prep_lock);
			lie_at = get64(req + 16) + off + SKV_REC_HDR_LEN + kl;
			pthread_mutex_unlock(&prep_lock);
			return true;
		}
		off += SKV_REC_LEN(key_len, value_len);
	}
	return false;
}

static void make_reply_hdr(uint8_t *h, uint8_t op, uint64_t id, uint32_t body_len)
{
	st_hdr(h, op, id, body_len);
	h[4] = SKV_F_REPLY;
}

/* Send buf a byte every 100 ms; -1 once the target hangs up. */
static int trickle(int fd, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (st_send_all(fd, buf + i, 1))
			return -1;
		usleep(100 * 1000);
	}
	return 0;
}

static void *serve_conn(void *arg)
{
	int fd = (int)(long)arg;
	/* Replies stay small: a few short records. */
	static __thread uint8_t body[8192], out[8192 + 24];
	uint8_t hdr[sizeof(struct skv_hdr)], *req = NULL;
	const struct skv_auth_key *key = st_cluster_key();
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	bool hello_seen = false, authed = false;
	uint64_t table, start, end;
	uint8_t status;

	for (;;) {
		uint32_t blen, announce = 0;
		size_t n = 0;
		uint64_t id;
		uint8_t op;

		if (st_recv_all(fd, hdr, sizeof(hdr)))
			break;
		op = hdr[3];
		id = get64(hdr + 8);
		blen = hdr[16] | hdr[17] << 8 | hdr[18] << 16 | (uint32_t)hdr[19] << 24;
		if (blen > SKV_MAX_BODY_LEN)
			break;
		free(req);
		req = malloc(blen ? blen : 1);
		if (!req || (blen && st_recv_all(fd, req, blen)))
			break;
		status = SKV_S_OK;
		if (op != SKV_OP_AUTH_HELLO && op != SKV_OP_AUTH_PROOF && !authed) {
			status = SKV_S_AUTH_REQUIRED;
			op = SKV_OP_MAX;	/* answered below, then closed */
		}
		switch (op) {
		case SKV_OP_AUTH_HELLO:
			if (hello_seen || blen != sizeof(hello) || !key) {
				status = SKV_S_AUTH_FAILED;
				break;
			}
			memcpy(&hello, req, sizeof(hello));
			hello_seen = true;
			if (skv_auth_responder_challenge(key, 1, &hello, &ch) < 0) {
				status = SKV_S_AUTH_FAILED;
				break;
			}
			memcpy(body, &ch, sizeof(ch));
			n = announce = sizeof(ch);
			break;
		case SKV_OP_AUTH_PROOF:
			if (!hello_seen || authed || blen != sizeof(struct skv_auth_proof) ||
			    !skv_auth_responder_check(key, &hello, &ch,
						      (const struct skv_auth_proof *)req))
				status = SKV_S_AUTH_FAILED;
			else
				authed = true;
			break;
		case SKV_OP_MAX:
			break;
		case SKV_OP_MIG_PREPARE:
			if (blen < sizeof(struct skv_mig_range_req))
				goto out;
			pthread_mutex_lock(&prep_lock);
			prep_table = get64(req + 8);
			prep_start = get64(req + 16);
			prep_end = get64(req + 24);
			pthread_mutex_unlock(&prep_lock);
			memset(body, 0, sizeof(struct skv_mig_prepare_reply));
			put64(body, !strcmp(mode, "ceiling") ? UINT64_MAX - 1 :
				    SAFE_VERSION);
			n = announce = sizeof(struct skv_mig_prepare_reply);
			break;
		case SKV_OP_MIG_PULL:
			if (blen < sizeof(struct skv_pull_req))
				goto out;
			/* The part asked for: [start_hash, end_hash] from cursor. */
			n = make_pull_reply(body, get64(req + 8), get64(req + 32),
					    get64(req + 24), get64(req + 24), 1, &announce);
			break;
		case SKV_OP_MIG_PRIORITY_PULL:
			pthread_mutex_lock(&prep_lock);
			table = prep_table;
			start = prep_start;
			end = prep_end;
			pthread_mutex_unlock(&prep_lock);
			n = make_pull_reply(body, table, start, end, 0, 0, &announce);
			break;
		case SKV_OP_MIG_END:
		case SKV_OP_MIG_PUSH_BACK:
			break;
		case SKV_OP_REPL_OPEN:
			if (strcmp(mode, "backup") || blen != sizeof(struct skv_repl_open_req))
				goto out;
			put64(body, get64(req + 16));	/* base: where the queue starts */
			pthread_mutex_lock(&prep_lock);
			put64(body + 8, lie_at ? lie_at : get64(req + 16));
			pthread_mutex_unlock(&prep_lock);
			n = announce = sizeof(struct skv_repl_pos_reply);
			break;
		case SKV_OP_REPL_WRITE:
			if (strcmp(mode, "backup") || blen < sizeof(struct skv_repl_write_req))
				goto out;
			if (backup_write(req, blen))
				goto out;	/* the primary reconnects and OPENs again */
			put64(body, get64(req + 16));
			put64(body + 8, get64(req + 16) + blen - sizeof(struct skv_repl_write_req));
			n = announce = sizeof(struct skv_repl_pos_reply);
			break;
		default:
			goto out;
		}
		make_reply_hdr(out, hdr[3], id, announce);
		out[5] = status;
		memcpy(out + sizeof(struct skv_hdr), body, n);
		if (!strcmp(mode, "trickle") &&
		    (op == SKV_OP_MIG_PULL || op == SKV_OP_MIG_PRIORITY_PULL)) {
			if (trickle(fd, out, sizeof(struct skv_hdr) + n))
				break;
			continue;
		}
		if (st_send_all(fd, out, sizeof(struct skv_hdr) + n) || status != SKV_S_OK)
			break;
	}
out:
	free(req);
	close(fd);
	return NULL;
}

static int serve(const char *addr, uint16_t port, const char *ready)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int lfd, one = 1;
	FILE *f;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return 2;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64)) {
		perror("fake_source: bind/listen");
		return 2;
	}
	f = fopen(ready, "w");
	if (!f)
		return 2;
	fclose(f);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return 2;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, NULL, serve_conn, (void *)(long)fd)) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

/* Split "TABLE/KEY=VALUE" in place; 0 or -1. */
static int split_kv(char *arg, uint64_t *table, char **key, char **val)
{
	char *slash = strchr(arg, '/'), *eq = slash ? strchr(slash, '=') : NULL;

	if (!eq)
		return -1;
	*slash = *eq = '\0';
	*table = strtoull(arg, NULL, 0);
	*key = slash + 1;
	*val = eq + 1;
	return 0;
}

/* put (expect == false) or check each TABLE/KEY=VALUE; the failures. */
static int key_values(int fd, char **args, int n, bool expect)
{
	char *key, *want, *val;
	uint64_t table, ver;
	int i, st, bad = 0;

	for (i = 0; i < n; i++) {
		if (split_kv(args[i], &table, &key, &want)) {
			fprintf(stderr, "fake_source: not TABLE/KEY=VALUE: %s\n", args[i]);
			return n;
		}
		if (!expect) {
			st = st_puts(fd, table, key, want, 0, &ver);
			if (st != SKV_S_OK) {
				printf("# put %s: %s\n", key, st < 0 ? st_last_error : st_status_name(st));
				bad++;
			}
			continue;
		}
		val = NULL;
		st = st_gets(fd, table, key, &val, &ver);
		if (st != SKV_S_OK || !val || strcmp(val, want)) {
			printf("# FAIL: table %llu key %s now reads %s \"%s\" (want \"%s\")\n",
			       (unsigned long long)table, key,
			       st < 0 ? st_last_error : st_status_name(st), val ? val : "", want);
			bad++;
		}
		free(val);
	}
	return bad;
}

static int check_range(const char *ip, uint16_t port, uint64_t table, int count, bool owned,
		       char **controls, int ncontrols)
{
	int fd = st_connect(ip, port), i, st = 0, bad = 0, served = 0, refused = 0, absent = 0;
	char key[64], want[80], *val;
	uint64_t ver;

	if (fd < 0) {
		fprintf(stderr, "fake_source: %s\n", st_last_error);
		return 2;
	}
	for (i = 0; i < count; i++) {
		snprintf(key, sizeof(key), "hi-%d", i);
		if (st_xxh64(key, strlen(key)) < HIGH_SIDE)
			continue;
		snprintf(want, sizeof(want), "ok-%s", key);
		val = NULL;
		st = st_gets(fd, table, key, &val, &ver);
		if (st == SKV_S_NOT_OWNER || st == SKV_S_RETRY || st == SKV_S_UNKNOWN_TABLE) {
			refused++;
		} else if (st == SKV_S_OK && val && !strcmp(val, want)) {
			served++;
		} else if (st == SKV_S_NOT_FOUND && owned) {
			absent++;
		} else {
			printf("# %s: %s \"%s\" (want a refusal or \"%s\") %s\n", key,
			       st < 0 ? "error" : st_status_name(st), val ? val : "", want,
			       st < 0 ? st_last_error : "");
			bad++;
		}
		free(val);
		if (st < 0)
			break;
	}
	printf("# range keys: %d served with the source's value, %d refused, %d not found, %d wrong\n",
	       served, refused, absent, bad);
	if (st >= 0)
		bad += key_values(fd, controls, ncontrols, true);
	close(fd);
	return bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: fake_source serve ADDR PORT MODE READY_FILE FOREIGN_TABLE FOREIGN_KEY FOREIGN_VERSION\n"
			"       fake_source keys PREFIX COUNT low|high\n"
			"       fake_source put IP PORT TABLE/KEY=VALUE...\n"
			"       fake_source put-header IP PORT TABLE KEY\n"
			"       fake_source check-range IP PORT TABLE COUNT owned|refused [TABLE/KEY=VALUE...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "keys")) {
		int want_high = !strcmp(argv[4], "high"), n = atoi(argv[3]), i, found = 0;
		char key[64];

		for (i = 0; found < n && i < NAME_TRIES; i++) {
			snprintf(key, sizeof(key), "%s-%d", argv[2], i);
			if ((st_xxh64(key, strlen(key)) >= HIGH_SIDE) == want_high) {
				printf("%s\n", key);
				found++;
			}
		}
		return found == n ? 0 : 2;
	}
	if (argc >= 7 && !strcmp(argv[1], "check-range"))
		return check_range(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 0),
				   atoi(argv[5]), !strcmp(argv[6], "owned"), argv + 7, argc - 7);
	if (argc >= 4 && !strcmp(argv[1], "put")) {
		int fd = st_connect(argv[2], atoi(argv[3]));

		if (fd < 0) {
			fprintf(stderr, "fake_source: %s\n", st_last_error);
			return 2;
		}
		return key_values(fd, argv + 4, argc - 4, false) ? 1 : 0;
	}
	if (argc == 6 && !strcmp(argv[1], "put-header")) {
		/* Lengths whose record length wraps to 0 (record.h SKV_REC_LEN). */
		struct skv_rec_hdr h = { .type = SKV_REC_OBJECT,
					 .value_len = htole32(0xffffffd8u) };
		int fd = st_connect(argv[2], atoi(argv[3])), st;
		uint64_t ver;

		if (fd < 0)
			return 2;
		st = st_put(fd, strtoull(argv[4], NULL, 0), argv[5], strlen(argv[5]),
			    &h, sizeof(h), 0, &ver);
		printf("%s\n", st < 0 ? st_last_error : st_status_name(st));
		close(fd);
		return 0;
	}
	if (argc != 9 || strcmp(argv[1], "serve"))
		usage();
	mode = argv[4];
	if (strcmp(mode, "corrupt") && strcmp(mode, "truncated") && strcmp(mode, "count") &&
	    strcmp(mode, "oversized") && strcmp(mode, "outofrange") &&
	    strcmp(mode, "othertable") && strcmp(mode, "newer") &&
	    strcmp(mode, "ceiling") && strcmp(mode, "trickle") && strcmp(mode, "backup"))
		usage();
	foreign_table = strtoull(argv[6], NULL, 0);
	foreign_key = argv[7];
	foreign_version = strtoull(argv[8], NULL, 0);
	signal(SIGPIPE, SIG_IGN);
	return serve(argv[2], atoi(argv[3]), argv[5]);
}
