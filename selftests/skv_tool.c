// SPDX-License-Identifier: GPL-2.0
/*
 * skv_tool: the raw wire client the shell selftests drive.
 *
 *   skv_tool fill  ADDR:PORT TABLE COUNT SIZE PREFIX [KEYLEN]
 *       pipelined puts, all must be OK (a batch is sent again under
 *       check-debug's injected failures: FILL_TRIES)
 *   skv_tool check ADDR:PORT TABLE COUNT SIZE PREFIX [KEYLEN]
 *       every key reads back intact
 *   skv_tool absent ADDR:PORT TABLE COUNT PREFIX       every key is NOT_FOUND
 *   skv_tool get   ADDR:PORT TABLE KEY                 prints "STATUS VERSION VALUE"
 *   skv_tool put   ADDR:PORT TABLE KEY VALUE           prints "STATUS VERSION"
 *   skv_tool ping  ADDR:PORT [TIMEOUT_MS]              connect (retrying) and PING
 *   skv_tool hold  ADDR:PORT [--idle N] [--midframe N] [--busy N]
 *                  [--ready FILE] [--expect-close SECS]
 *       opens connections (idle: nothing sent; midframe: half a PUT; busy:
 *       PINGs back to back), creates FILE when all are up (busy ones
 *       answered once), then holds them.  On SIGUSR1 with --expect-close,
 *       waits up to SECS for the node to close every connection: exit 0 if
 *       it did, 1 if not.  Without it, runs until SIGTERM (exit 0).
 *
 *   skv_tool key-permille KEY...
 *       where each KEY's hash lies in the hash space, in thousandths (as
 *       a one-partition migration's permille counts its cursor), a line each
 *
 *   skv_tool check-split LO:PORT HI:PORT TABLE COUNT SIZE PREFIX SPLIT [KEYLEN]
 *       keys with hash < SPLIT read back intact at LO and are refused
 *       (NOT_OWNER or UNKNOWN_TABLE) at HI; the others the other way round
 *
 * Key i is "PREFIX-i", padded to KEYLEN bytes (up to SKV_MAX_KEY_LEN) when
 * KEYLEN is given; its value is SIZE bytes (up to SKV_MAX_VALUE_LEN) that
 * depend on i, so reads are checked byte for byte.
 *
 * Authentication (steadykv/auth.h), as a peer, with the key in KEYFILE:
 *   skv_tool auth ADDR:PORT KEYFILE      prints the handshake's outcome
 *       ("OK", "AUTH_FAILED", ...): exit 0 if OK, 1 if refused
 *   skv_tool auth-bench ADDR:PORT KEYFILE N
 *       N connections each closed after a PING, then N that authenticate
 *       first: prints "connects/s N handshakes/s N"
 *
 * A RETRY answer (a key still migrating in) is retried after its retry_us,
 * for up to 30 s, by check and check-split.
 *
 * Routed through the coordinator's map (libsteadykv's cluster client,
 * which follows NOT_OWNER and retries RETRY), one process for many keys:
 *   skv_tool cluster-put COORD:PORT TABLE PREFIX COUNT
 *       PUT "PREFIX-i" = "value-i" for i = 1..COUNT; prints
 *       "KEY STATUS VERSION" for each; exit 1 unless every one is OK
 *   skv_tool cluster-get COORD:PORT TABLE PREFIX COUNT
 *       GET them; prints "KEY STATUS VERSION VALUE" for each
 *
 * Migrations, in the current namespace's node (the target):
 *   skv_tool migrate-start ID TABLE START END SRCADDR SRCPORT
 *            [MODE PARTITIONS INFLIGHT BUDGET PRIO]   (-1: the default)
 *   skv_tool migrate-cancel ID
 *   skv_tool migrate-get ID          prints one status line
 *   skv_tool migrate-wait ID TIMEOUT_S [STATE...]
 *       until the state is one of STATE (default: done, cancelled,
 *       failed); prints the status line; exit 1 on timeout
 *   skv_tool migrate-events ID TIMEOUT_S READY_FILE
 *       subscribes to the events group, creates READY_FILE, then prints
 *       the state of every migrate-ntf of ID ("ntf STATE PERMILLE") until
 *       an end state; exit 1 on timeout
 *   skv_tool mig-fault OP MODE STATUS COUNT
 *       the test knob at this node as a source (node-set mig-fault-*):
 *       the next COUNT requests of wire opcode OP get MODE (0 none,
 *       1 drop-reply, 2 drop-request, 3 refuse with STATUS)
 *   Status line: "STATE error=N permille=N records=N replayed=N pulls=N
 *   prio-pulls=N prio-keys=N owned-us=N elapsed-us=N pace-depth=N
 *   pace-p999-us=N pace-pull-bytes=N msg=TEXT"
 *   Errors print "ERR -errno extack-message" on stderr (exit 1).
 *
 * Exit status: 0 success, 1 a check failed, 2 usage or connection error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "skv_util.h"
#include "steadykv_cluster.h"

static char ip[64];
static uint16_t port;

static void usage(void)
{
	fprintf(stderr, "usage: see the comment at the top of selftests/skv_tool.c\n");
	exit(2);
}

static void parse_addr(const char *s)
{
	if (parse_hostport(s, ip, sizeof(ip), &port))
		usage();
}

static int connect_or_die(void)
{
	int fd = st_connect(ip, port);

	if (fd < 0) {
		fprintf(stderr, "skv_tool: %s\n", st_last_error);
		exit(2);
	}
	return fd;
}

/* The value of key i: deterministic bytes, so check can verify them. */
static void make_value(uint8_t *buf, size_t size, unsigned long i)
{
	size_t j;

	for (j = 0; j < size; j++)
		buf[j] = (uint8_t)(i * 131 + j * 7 + (j >> 8));
}

/* Key i into key[SKV_MAX_KEY_LEN + 1]: "PREFIX-i", padded to keylen; its length. */
static size_t make_key(char *key, const char *prefix, unsigned long i, size_t keylen)
{
	int n = snprintf(key, SKV_MAX_KEY_LEN + 1, "%s-%lu", prefix, i);
	size_t len = n < 0 ? 0 : n > (int)SKV_MAX_KEY_LEN ? SKV_MAX_KEY_LEN : (size_t)n;

	if (keylen > SKV_MAX_KEY_LEN)
		keylen = SKV_MAX_KEY_LEN;
	for (; len < keylen; len++)
		key[len] = (char)('a' + (i + len * 7) % 26);
	key[len] = 0;
	return len;
}

#define BATCH 32
/*
 * Under check-debug's injected allocation failures (SKV_FAIL_PROBABILITY
 * set), a PUT refused or a connection closed is what the node owes its
 * client, not a test failure: fill sends a batch again (on a new
 * connection) up to FILL_TRIES times, so that a suite gets past its data
 * setup to the code it tests.
 */
#define FILL_TRIES 16

/* Send a batch of n PUTs (ids from first) and check every reply is OK. */
static int fill_batch(int fd, const uint8_t *frames, size_t len, unsigned long first,
		      unsigned long n)
{
	unsigned long j;

	if (st_send_all(fd, frames, len)) {
		fprintf(stderr, "skv_tool fill: %s\n", st_last_error);
		return 1;
	}
	for (j = 0; j < n; j++) {
		struct st_reply r;

		if (st_recv_reply(fd, &r)) {
			fprintf(stderr, "skv_tool fill: key %lu: %s\n", first + j, st_last_error);
			return 1;
		}
		st_reply_free(&r);
		if (r.h.request_id != first + j || r.h.status != SKV_S_OK) {
			fprintf(stderr, "skv_tool fill: key %lu: id %llu status %s\n", first + j,
				(unsigned long long)r.h.request_id, st_status_name(r.h.status));
			return 1;
		}
	}
	return 0;
}

static int fill(uint64_t table, unsigned long count, size_t size, const char *prefix,
		size_t keylen)
{
	uint8_t *val = malloc(size),
		*frames = malloc(BATCH * ST_FRAME_MAX(SKV_MAX_KEY_LEN, size));
	int tries = getenv("SKV_FAIL_PROBABILITY") ? FILL_TRIES : 1;
	int fd = connect_or_die(), try;
	unsigned long i, j, n;
	char key[SKV_MAX_KEY_LEN + 1];
	size_t klen;

	for (i = 0; i < count; i += n) {
		uint8_t *p = frames;

		n = count - i < BATCH ? count - i : BATCH;
		for (j = 0; j < n; j++) {
			klen = make_key(key, prefix, i + j, keylen);
			make_value(val, size, i + j);
			p += st_build_put(p, i + j, table, key, klen, val, size, 0);
		}
		for (try = 1; fill_batch(fd, frames, p - frames, i, n); try++) {
			if (try == tries)
				return 1;
			close(fd);
			fd = connect_or_die();
		}
	}
	close(fd);
	free(val);
	free(frames);
	return 0;
}

/* cluster-put / cluster-get: one routed op on each of COUNT keys. */
static int cluster_ops(const char *coords, uint64_t table, const char *prefix,
		       unsigned long count, int put)
{
	struct skv_cluster *c;
	char key[SKV_MAX_KEY_LEN + 1], val[64];
	unsigned long i;
	int rc = 0, st;

	st = skv_cluster_open_list(coords, NULL, &c);
	if (st) {
		fprintf(stderr, "skv_tool cluster: %s: %s\n", coords, skv_strerror(st));
		return 2;
	}
	for (i = 1; i <= count; i++) {
		uint64_t ver = 0;
		void *got = NULL;
		size_t got_len = 0;

		snprintf(key, sizeof(key), "%s-%lu", prefix, i);
		snprintf(val, sizeof(val), "value-%lu", i);
		if (put)
			st = skv_cluster_put(c, table, key, strlen(key), val, strlen(val), 0,
					     &ver);
		else
			st = skv_cluster_get(c, table, key, strlen(key), &got, &got_len, &ver);
		printf("%s %s %llu", key, skv_code_name(st), (unsigned long long)ver);
		if (!put)
			printf(" %.*s", (int)got_len, got ? (char *)got : "");
		printf("\n");
		free(got);
		if (put && st != SKV_OK)
			rc = 1;
	}
	skv_cluster_close(c);
	return rc;
}

/*
 * Is @st an answer to ask again for: RETRY (a key migrating in), or, from
 * the key's owner by the map (@at_owner), NOT_OWNER, which it answers
 * between read leases (a backup joining it, whose OPEN it has not had
 * acknowledged yet: kmod/repl_primary.c "Leases"); a client asks the map
 * again and retries, the same node here.
 */
static bool ask_again(int st, bool at_owner)
{
	return st == SKV_S_RETRY || (st == SKV_S_NOT_OWNER && at_owner);
}

/* st_get, asked again while ask_again() says so, for up to 30 s. */
static int get_retry(int fd, uint64_t table, const char *key, size_t klen, uint8_t **val,
		     uint32_t *len, uint64_t *ver, bool at_owner)
{
	uint64_t deadline = st_now_ms() + 30000;
	int st;

	for (;;) {
		*val = NULL;
		st = st_get(fd, table, key, klen, val, len, ver);
		if (!ask_again(st, at_owner) || st_now_ms() > deadline)
			return st;
		free(*val);
		usleep(100);
	}
}

/*
 * Keys read back in batches (one send of GETs, then their replies): a
 * round trip per key made a check of 20,000 keys take minutes in a guest.
 * A batch's replies stay within about 64 KiB, so the node never waits to
 * send while we still send.
 */
struct keys_batch {
	struct st_get_item it[BATCH];
	char key[BATCH][SKV_MAX_KEY_LEN + 1];
	unsigned long index[BATCH];
	unsigned int n;
};

static unsigned int batch_size(size_t size)
{
	size_t n = (64u << 10) / (size + 64);

	return n < 1 ? 1 : n > BATCH ? BATCH : (unsigned int)n;
}

/*
 * read_batch: GET b's keys at fd (the owner's if @at_owner); an item
 * ask_again() says so for is asked again alone (get_retry).  0, or -1 on
 * a transport error.
 */
static int read_batch(int fd, uint64_t table, struct keys_batch *b, bool at_owner)
{
	unsigned int i;

	if (st_get_many(fd, table, b->it, b->n))
		return -1;
	for (i = 0; i < b->n; i++) {
		struct st_get_item *it = &b->it[i];

		if (!ask_again(it->status, at_owner))
			continue;
		free(it->val);
		it->status = get_retry(fd, table, it->key, it->klen, &it->val, &it->vlen,
				       &it->ver, at_owner);
		if (it->status < 0)
			return -1;
	}
	return 0;
}

static void free_batch(struct keys_batch *b)
{
	unsigned int i;

	for (i = 0; i < b->n; i++)
		free(b->it[i].val);
	b->n = 0;
}

/* add_key: key i (keys_batch's next slot) made as fill made it. */
static void add_key(struct keys_batch *b, const char *prefix, unsigned long i, size_t keylen)
{
	struct st_get_item *it = &b->it[b->n];

	it->klen = make_key(b->key[b->n], prefix, i, keylen);
	it->key = b->key[b->n];
	b->index[b->n++] = i;
}

static int check(uint64_t table, unsigned long count, size_t size, const char *prefix,
		 size_t keylen, int want_absent)
{
	struct keys_batch *b = calloc(1, sizeof(*b));
	uint8_t *want = malloc(size + 1);
	int fd = connect_or_die(), bad = 0;
	unsigned int per = batch_size(size), j;
	unsigned long i;

	if (!b || !want)
		return 1;
	for (i = 0; i < count; i += b->n, free_batch(b)) {
		while (b->n < per && i + b->n < count)
			add_key(b, prefix, i + b->n, keylen);
		if (read_batch(fd, table, b, !want_absent)) {
			fprintf(stderr, "skv_tool: keys %lu..: %s\n", i, st_last_error);
			return 1;
		}
		for (j = 0; j < b->n; j++) {
			const struct st_get_item *it = &b->it[j];

			if (want_absent) {
				if (it->status != SKV_S_NOT_FOUND) {
					fprintf(stderr, "skv_tool: %s: %s, want NOT_FOUND\n",
						b->key[j], st_status_name(it->status));
					bad++;
				}
				continue;
			}
			make_value(want, size, b->index[j]);
			if (it->status != SKV_S_OK || it->vlen != size ||
			    memcmp(it->val, want, size)) {
				fprintf(stderr, "skv_tool: %s: %s, len %u (want OK, %zu)\n",
					b->key[j], st_status_name(it->status), it->vlen, size);
				bad++;
			}
		}
	}
	close(fd);
	free(want);
	free(b);
	return bad ? 1 : 0;
}

static volatile sig_atomic_t got_usr1, got_term;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

enum { C_IDLE, C_MID, C_BUSY };

static int hold(int argc, char **argv)
{
	int idle = 0, mid = 0, busy = 0, expect = -1, i, n, open_count;
	const char *ready = NULL;
	struct pollfd *pfd;
	int *kind, *alive;
	uint64_t deadline = 0;
	uint8_t f[ST_FRAME_MAX(8, 64)], buf[4096];
	struct sigaction sa = { .sa_handler = on_signal };

	for (i = 0; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--idle"))
			idle = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--midframe"))
			mid = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--busy"))
			busy = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--ready"))
			ready = argv[++i];
		else if (!strcmp(argv[i], "--expect-close"))
			expect = atoi(argv[++i]);
		else
			usage();
	}
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	n = idle + mid + busy;
	pfd = calloc(n, sizeof(*pfd));
	kind = calloc(n, sizeof(*kind));
	alive = calloc(n, sizeof(*alive));
	for (i = 0; i < n; i++) {
		pfd[i].fd = connect_or_die();
		pfd[i].events = POLLIN;
		alive[i] = 1;
		kind[i] = i < idle ? C_IDLE : i < idle + mid ? C_MID : C_BUSY;
		if (kind[i] == C_MID) {
			size_t len = st_build_put(f, i, ST_TABLE, "held", 4,
						  "0123456789abcdef0123456789abcdef", 32, 0);

			/* Stop in the header for some, in the body for others. */
			st_send_all(pfd[i].fd, f, i % 2 ? 13 : len - 9);
		}
		if (kind[i] == C_BUSY) {
			if (st_ping(pfd[i].fd) != SKV_S_OK) {
				fprintf(stderr, "skv_tool hold: ping: %s\n", st_last_error);
				return 2;
			}
			st_send_all(pfd[i].fd, f, st_build_ping(f, i));
		}
	}
	if (ready) {
		int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0) {
			perror(ready);
			return 2;
		}
		dprintf(fd, "%d\n", getpid());
		close(fd);
	}
	for (;;) {
		if (got_term && !(expect >= 0 && got_usr1))
			return 0;
		if (got_usr1 && expect >= 0 && !deadline)
			deadline = st_now_ms() + expect * 1000ull;
		open_count = 0;
		for (i = 0; i < n; i++)
			open_count += alive[i];
		if (deadline && !open_count) {
			printf("skv_tool hold: all %d connections closed by the node\n", n);
			return 0;
		}
		if (deadline && st_now_ms() > deadline) {
			printf("skv_tool hold: %d of %d connections still open %d s after the signal\n",
			       open_count, n, expect);
			return 1;
		}
		if (poll(pfd, n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			ssize_t r;

			if (!alive[i] || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				alive[i] = 0;
				pfd[i].fd = -pfd[i].fd - 1;	/* poll ignores it */
				continue;
			}
			/* A busy connection: keep one ping in flight (replies are 24 bytes). */
			if (kind[i] == C_BUSY && r > 0 &&
			    send(pfd[i].fd, f, st_build_ping(f, i), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
			    errno != EAGAIN) {
				alive[i] = 0;
				pfd[i].fd = -pfd[i].fd - 1;
			}
		}
	}
}

static int connect_addr(const char *s)
{
	parse_addr(s);
	return connect_or_die();
}

/*
 * check_split: each key read at the node that owns its hash (lo below
 * split, hi from it), intact, and refused at the other (NOT_OWNER or
 * UNKNOWN_TABLE).
 */
static int check_split(char **argv, size_t keylen)
{
	int fd[2] = { connect_addr(argv[0]), connect_addr(argv[1]) };
	uint64_t table = strtoull(argv[2], NULL, 0), split = strtoull(argv[6], NULL, 0);
	unsigned long count = strtoul(argv[3], NULL, 0), i, bad = 0;
	size_t size = strtoul(argv[4], NULL, 0);
	uint8_t *want = malloc(size + 1);
	const char *prefix = argv[5];
	struct keys_batch *b[2] = { calloc(1, sizeof(*b[0])), calloc(1, sizeof(*b[1])) };
	unsigned int per = batch_size(size), j, side;

	if (!want || !b[0] || !b[1])
		return 1;
	for (i = 0; i < count;) {
		/* Up to a batch of keys, each asked at both nodes. */
		for (; b[0]->n < per && i < count; i++) {
			add_key(b[0], prefix, i, keylen);
			add_key(b[1], prefix, i, keylen);
		}
		for (side = 0; side < 2; side++)
			if (read_batch(fd[side], table, b[side], false)) {
				fprintf(stderr, "skv_tool: %s: %s\n", argv[side],
					st_last_error);
				return 1;
			}
		for (j = 0; j < b[0]->n; j++) {
			const char *key = b[0]->key[j];
			uint64_t h = st_xxh64(key, b[0]->it[j].klen);
			const struct st_get_item *own = &b[h < split ? 0 : 1]->it[j];
			const struct st_get_item *other = &b[h < split ? 1 : 0]->it[j];

			make_value(want, size, b[0]->index[j]);
			if (own->status != SKV_S_OK || own->vlen != size ||
			    memcmp(own->val, want, size)) {
				fprintf(stderr, "skv_tool: %s (hash %016llx) at its owner: %s, len %u\n",
					key, (unsigned long long)h,
					st_status_name(own->status), own->vlen);
				bad++;
			}
			if (other->status != SKV_S_NOT_OWNER &&
			    other->status != SKV_S_UNKNOWN_TABLE) {
				fprintf(stderr, "skv_tool: %s (hash %016llx) at the other node: %s\n",
					key, (unsigned long long)h,
					st_status_name(other->status));
				bad++;
			}
		}
		free_batch(b[0]);
		free_batch(b[1]);
		if (bad > 20)
			return 1;
	}
	free(want);
	free(b[0]);
	free(b[1]);
	return bad ? 1 : 0;
}

static struct sknl nl;

static void nl_open_or_die(void)
{
	if (st_nl_open(&nl)) {
		fprintf(stderr, "skv_tool: cannot open the steadykv netlink family\n");
		exit(2);
	}
}

static void print_mig(const struct skv_migration *m)
{
	printf("%s error=%llu permille=%llu records=%llu replayed=%llu pulls=%llu "
	       "prio-pulls=%llu prio-keys=%llu owned-us=%llu elapsed-us=%llu "
	       "pace-depth=%u pace-p999-us=%u pace-pull-bytes=%u msg=%s\n",
	       skv_mig_state_str(m->state), (unsigned long long)m->error,
	       (unsigned long long)m->progress_permille,
	       (unsigned long long)m->records_pulled,
	       (unsigned long long)m->records_replayed, (unsigned long long)m->pulls,
	       (unsigned long long)m->priority_pulls_sent,
	       (unsigned long long)m->priority_keys, (unsigned long long)m->owned_us,
	       (unsigned long long)m->elapsed_us, m->pace_depth,
	       m->pace_client_p999_us, m->pace_pull_bytes, m->error_msg);
	fflush(stdout);
}

static int nl_failed(const char *what, int err, const struct sknl_err *res)
{
	fprintf(stderr, "ERR %d %s: %s\n", err, what, res->msg);
	return 1;
}

struct events_wait {
	uint64_t id;
	bool ended;
};

static void migrate_event(const struct sknl_event *ev, void *arg)
{
	struct events_wait *w = arg;

	if (ev->cmd != STEADYKV_CMD_MIGRATE_NTF || ev->malformed || ev->mig.id != w->id ||
	    w->ended)
		return;
	printf("ntf %s %llu\n", skv_mig_state_str(ev->mig.state),
	       (unsigned long long)ev->mig.progress_permille);
	fflush(stdout);
	w->ended = skv_mig_state_final(ev->mig.state);
}

static int migrate_events(uint64_t id, int timeout_s, const char *ready)
{
	uint64_t deadline = st_now_ms() + timeout_s * 1000ull;
	struct events_wait w = { .id = id };
	struct sknl ev;
	int fd, rc;

	if (st_nl_events_open(&ev, 1000)) {
		fprintf(stderr, "skv_tool: cannot join the events group\n");
		return 2;
	}
	fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(ready);
		return 2;
	}
	close(fd);
	while (!w.ended && st_now_ms() < deadline) {
		rc = sknl_events_recv(&ev, migrate_event, &w);
		if (rc && rc != -EAGAIN && rc != -EINTR) {
			fprintf(stderr, "skv_tool migrate-events: %s\n", strerror(-rc));
			return 2;
		}
	}
	sknl_close(&ev);
	if (w.ended)
		return 0;
	fprintf(stderr, "skv_tool migrate-events: timeout\n");
	return 1;
}

/* A migrate-start argument: negative leaves the attribute out (the default). */
static void set_tuning(struct skv_migration *m, int attr, const char *arg, uint32_t *field)
{
	int v = atoi(arg);

	if (v < 0)
		return;
	*field = (uint32_t)v;
	SKV_MIG_SET(m, attr);
}

static int migrate(int argc, char **argv)
{
	struct sknl_err res = { 0 };
	uint64_t id = strtoull(argv[2], NULL, 0);
	struct skv_migration mi;
	int err, i;

	nl_open_or_die();
	if (!strcmp(argv[1], "migrate-start") && (argc == 8 || argc == 13)) {
		static const int always[] = {
			STEADYKV_A_MIGRATION_ID, STEADYKV_A_MIGRATION_TABLE_ID,
			STEADYKV_A_MIGRATION_START_HASH, STEADYKV_A_MIGRATION_END_HASH,
			STEADYKV_A_MIGRATION_SOURCE_ADDR, STEADYKV_A_MIGRATION_SOURCE_PORT,
		};
		struct skv_migration m = {
			.id = id, .table_id = strtoull(argv[3], NULL, 0),
			.start_hash = strtoull(argv[4], NULL, 0),
			.end_hash = strtoull(argv[5], NULL, 0),
		};
		uint32_t prio = 0;

		for (i = 0; i < (int)(sizeof(always) / sizeof(always[0])); i++)
			SKV_MIG_SET(&m, always[i]);
		snprintf(m.source, sizeof(m.source), strchr(argv[6], ':') ? "[%s]:%s" : "%s:%s",
			 argv[6], argv[7]);
		if (argc == 13) {
			set_tuning(&m, STEADYKV_A_MIGRATION_MODE, argv[8], &m.mode);
			set_tuning(&m, STEADYKV_A_MIGRATION_PARTITIONS, argv[9], &m.partitions);
			set_tuning(&m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT, argv[10],
				   &m.pulls_in_flight);
			set_tuning(&m, STEADYKV_A_MIGRATION_PULL_BUDGET, argv[11], &m.pull_budget);
			set_tuning(&m, STEADYKV_A_MIGRATION_PRIORITY_PULLS, argv[12], &prio);
			m.priority_pulls = (uint8_t)prio;
		}
		err = sknl_migrate_start(&nl, &m, &res);
		return err ? nl_failed("migrate-start", err, &res) : 0;
	}
	if (!strcmp(argv[1], "migrate-events") && argc == 5)
		return migrate_events(id, atoi(argv[3]), argv[4]);
	if (!strcmp(argv[1], "migrate-cancel") && argc == 3) {
		err = sknl_migrate_cancel(&nl, id, &res);
		return err ? nl_failed("migrate-cancel", err, &res) : 0;
	}
	if (!strcmp(argv[1], "migrate-get") && argc == 3) {
		err = sknl_migrate_get(&nl, id, &mi, &res);
		if (err)
			return nl_failed("migrate-get", err, &res);
		print_mig(&mi);
		return 0;
	}
	if (!strcmp(argv[1], "migrate-wait") && argc >= 4) {
		uint64_t deadline = st_now_ms() + strtoull(argv[3], NULL, 0) * 1000;
		const char *state;

		for (;;) {
			err = sknl_migrate_get(&nl, id, &mi, &res);
			if (err)
				return nl_failed("migrate-get", err, &res);
			state = skv_mig_state_str(mi.state);
			if (argc == 4) {
				if (!strcmp(state, "done") || !strcmp(state, "cancelled") ||
				    !strcmp(state, "failed"))
					break;
			} else {
				for (i = 4; i < argc; i++)
					if (!strcmp(state, argv[i]))
						break;
				if (i < argc)
					break;
			}
			if (st_now_ms() > deadline) {
				print_mig(&mi);
				fprintf(stderr, "skv_tool migrate-wait: timeout\n");
				return 1;
			}
			usleep(20000);
		}
		print_mig(&mi);
		return 0;
	}
	usage();
	return 2;
}

static const struct skv_auth_key *key_file(const char *path)
{
	static struct skv_auth_key k;
	char why[512];

	if (skv_auth_key_load(&k, path, why, sizeof(why))) {
		fprintf(stderr, "skv_tool: %s\n", why);
		exit(2);
	}
	return &k;
}

/* Connections per second: each connects, PINGs or authenticates, closes. */
static double conn_rate(const struct skv_auth_key *k, unsigned long n)
{
	uint64_t t0 = st_now_ms(), ms;
	unsigned long i;
	int fd, st;

	for (i = 0; i < n; i++) {
		fd = connect_or_die();
		st = k ? st_auth(fd, k) : st_ping(fd);
		if (st != SKV_S_OK) {
			fprintf(stderr, "skv_tool auth-bench: %s\n",
				st < 0 ? st_last_error : st_status_name(st));
			exit(1);
		}
		close(fd);
	}
	ms = st_now_ms() - t0;
	return ms ? n * 1000.0 / ms : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		usage();
	if (!strncmp(argv[1], "migrate-", 8))
		return migrate(argc, argv);
	if (!strcmp(argv[1], "mig-fault") && argc == 6) {
		struct sknl_mig_fault f = {
			.op = (uint32_t)strtoul(argv[2], NULL, 0),
			.mode = (uint32_t)strtoul(argv[3], NULL, 0),
			.status = (uint32_t)strtoul(argv[4], NULL, 0),
			.count = (uint32_t)strtoul(argv[5], NULL, 0),
		};
		struct sknl_err res = { 0 };
		int err;

		nl_open_or_die();
		err = sknl_node_set_mig_fault(&nl, &f, &res);
		return err ? nl_failed("mig-fault", err, &res) : 0;
	}
	if (!strcmp(argv[1], "key-permille")) {
		for (int i = 2; i < argc; i++) {
			uint64_t h = skv_key_hash(argv[i], strlen(argv[i]));

			printf("%u\n", (unsigned int)((unsigned __int128)h * 1000 >> 64));
		}
		return 0;
	}
	if (!strcmp(argv[1], "check-split") && (argc == 9 || argc == 10))
		return check_split(argv + 2, argc == 10 ? strtoul(argv[9], NULL, 0) : 0);
	if (!strncmp(argv[1], "cluster-", 8) && argc == 6)
		return cluster_ops(argv[2], strtoull(argv[3], NULL, 0), argv[4],
				   strtoul(argv[5], NULL, 0), !strcmp(argv[1], "cluster-put"));
	parse_addr(argv[2]);
	if (!strcmp(argv[1], "fill") && (argc == 7 || argc == 8))
		return fill(strtoull(argv[3], NULL, 0), strtoul(argv[4], NULL, 0),
			    strtoul(argv[5], NULL, 0), argv[6],
			    argc == 8 ? strtoul(argv[7], NULL, 0) : 0);
	if (!strcmp(argv[1], "check") && (argc == 7 || argc == 8))
		return check(strtoull(argv[3], NULL, 0), strtoul(argv[4], NULL, 0),
			     strtoul(argv[5], NULL, 0), argv[6],
			     argc == 8 ? strtoul(argv[7], NULL, 0) : 0, 0);
	if (!strcmp(argv[1], "absent") && argc == 6)
		return check(strtoull(argv[3], NULL, 0), strtoul(argv[4], NULL, 0), 0,
			     argv[5], 0, 1);
	if (!strcmp(argv[1], "get") && argc == 5) {
		int fd = connect_or_die(), st;
		uint64_t ver = 0;
		char *val = NULL;

		st = st_gets(fd, strtoull(argv[3], NULL, 0), argv[4], &val, &ver);
		if (st < 0) {
			fprintf(stderr, "skv_tool get: %s\n", st_last_error);
			return 2;
		}
		printf("%s %llu %s\n", st_status_name(st), (unsigned long long)ver, val ? val : "");
		return 0;
	}
	if (!strcmp(argv[1], "put") && argc == 6) {
		int fd = connect_or_die(), st;
		uint64_t ver = 0;

		st = st_puts(fd, strtoull(argv[3], NULL, 0), argv[4], argv[5], 0, &ver);
		if (st < 0) {
			fprintf(stderr, "skv_tool put: %s\n", st_last_error);
			return 2;
		}
		printf("%s %llu\n", st_status_name(st), (unsigned long long)ver);
		return 0;
	}
	if (!strcmp(argv[1], "ping") && (argc == 3 || argc == 4)) {
		int fd = st_connect_wait(ip, port, argc == 4 ? atoi(argv[3]) : 10000), st;

		if (fd < 0) {
			fprintf(stderr, "skv_tool ping: %s\n", st_last_error);
			return 1;
		}
		st = st_ping(fd);
		if (st != SKV_S_OK) {
			fprintf(stderr, "skv_tool ping: %s %s\n", st_status_name(st), st_last_error);
			return 1;
		}
		return 0;
	}
	if (!strcmp(argv[1], "hold"))
		return hold(argc - 3, argv + 3);
	if (!strcmp(argv[1], "auth") && argc == 4) {
		int fd = connect_or_die(), st;

		st = st_auth(fd, key_file(argv[3]));
		if (st < 0) {
			fprintf(stderr, "skv_tool auth: %s\n", st_last_error);
			return 2;
		}
		printf("%s\n", st_status_name(st));
		return st == SKV_S_OK ? 0 : 1;
	}
	if (!strcmp(argv[1], "auth-bench") && argc == 5) {
		const struct skv_auth_key *k = key_file(argv[3]);
		unsigned long n = strtoul(argv[4], NULL, 0);
		double plain = conn_rate(NULL, n), authed = conn_rate(k, n);

		printf("connects/s %.0f handshakes/s %.0f\n", plain, authed);
		return 0;
	}
	usage();
	return 2;
}
