// SPDX-License-Identifier: GPL-2.0
/*
 * conn_flood: an attacker of a node's connection slots, for conn_flood.sh.
 *
 *   conn_flood flood ADDR:PORT FROM PROBE IDLE SLOW_FRAME SLOW_READ TABLE
 *              BIGKEY READY_FILE TIMEOUT_S
 *     Opens SLOW_FRAME + SLOW_READ + IDLE connections from address FROM (in
 *     that order, in waves of WAVE): slow-frame ones send a PING one byte
 *     every SLOW_FRAME_MS, slow-read ones ask for BIGKEY (of TABLE) 16
 *     times and take the replies a byte every TICK_MS, idle ones send
 *     nothing.  After each wave a client from address PROBE must be served
 *     a PING: the node's accept queue is first in, first out, so by then
 *     every connection of the wave has been taken or refused.  Then it
 *     writes READY_FILE and keeps every connection going until the node
 *     has closed them all; exit 1 if one is still open after TIMEOUT_S.
 *
 *   conn_flood many ADDR:PORT N TABLE READY_FILE GO_FILE TIMEOUT_S
 *     Opens N connections (in waves of WAVE) and keeps them all open: a PUT
 *     of its own key on each, one after another, then a GET on every one
 *     before any reply is read, each checked.  Then it writes READY_FILE
 *     (the connections still open), waits for GO_FILE and closes them;
 *     exit 0 if every connection was served, 1 otherwise.
 *
 *   conn_flood partial ADDR:PORT N BYTES READY_FILE GO_FILE TIMEOUT_S
 *     Opens N connections, one after another, and on each sends the header
 *     of a PUT whose body is the largest a frame may have, then BYTES of
 *     that body, never the rest.  Then it writes READY_FILE, waits for
 *     GO_FILE, counts the connections the node has closed (reset, or
 *     closed while their bytes went), closes the others and prints both;
 *     exit 0 unless a connection could not be opened.
 *
 *   conn_flood prepare ADDR:PORT TABLE COUNT
 *     PREPARE of COUNT single hashes, each followed by END with ABORT;
 *     exit 0 once one is refused with NO_SPACE (max_tablets) and the
 *     connection still answers a PING, 1 otherwise.
 *
 * Prints its figures as TAP comments ("# conn_flood: ...").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "skv_util.h"

#define WAVE		100
#define TICK_MS		100
#define SLOW_FRAME_MS	500
#define SLOW_READ_GETS	16
/* A connection reset this soon after it was opened was refused at accept. */
#define REFUSED_MS	2000

enum kind { SLOW_FRAME, SLOW_READ, IDLE, NKINDS };
static const char *const kind_name[NKINDS] = { "slow-frame", "slow-read", "idle" };

struct fconn {
	int fd;			/* -1 once closed */
	enum kind kind;
	uint64_t opened_ms;
	uint64_t next_ms;	/* slow-frame, slow-read: next byte due */
	size_t sent;		/* slow-frame: bytes of the frame sent */
};

struct figures {
	unsigned long opened[NKINDS], failed[NKINDS];
	unsigned long refused[NKINDS], closed_later[NKINDS];
	uint64_t max_life_ms[NKINDS];
	unsigned long probes_served, probes_failed;
	int first_errno;	/* of the first failed connect */
};

static struct fconn *conns;
static unsigned long nconns;
static struct figures fig;
static struct sockaddr_in node_sa, from_sa;

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char ip[64];
	const char *colon = strrchr(s, ':');

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (!colon) {
		snprintf(ip, sizeof(ip), "%s", s);
	} else {
		snprintf(ip, sizeof(ip), "%.*s", (int)(colon - s), s);
		sa->sin_port = htons(atoi(colon + 1));
	}
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static int raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -1;
	if (rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

/* A non-blocking connect from FROM: the fd, or -1. */
static int open_conn(enum kind k)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int small = 4096, one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The port is picked at connect, per destination: 10,000 fit. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	/* A small window, so the node's replies back up at once. */
	if (k == SLOW_READ)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (bind(fd, (struct sockaddr *)&from_sa, sizeof(from_sa)) ||
	    (connect(fd, (struct sockaddr *)&node_sa, sizeof(node_sa)) &&
	     errno != EINPROGRESS)) {
		if (!fig.first_errno)
			fig.first_errno = errno;
		close(fd);
		return -1;
	}
	return fd;
}

static void conn_closed(struct fconn *c, uint64_t now)
{
	uint64_t life = now - c->opened_ms;

	close(c->fd);
	c->fd = -1;
	if (life < REFUSED_MS) {
		fig.refused[c->kind]++;
	} else {
		fig.closed_later[c->kind]++;
		if (life > fig.max_life_ms[c->kind])
			fig.max_life_ms[c->kind] = life;
	}
}

/* Wait until every connection of [from, to) is established or failed. */
static int wave_connected(unsigned long from, unsigned long to, int timeout_ms)
{
	struct pollfd pfd[WAVE];
	uint64_t end = st_now_ms() + timeout_ms;
	unsigned long i, n, left;

	for (;;) {
		n = 0;
		for (i = from; i < to; i++) {
			if (conns[i].fd < 0 || conns[i].opened_ms)
				continue;
			pfd[n].fd = conns[i].fd;
			pfd[n].events = POLLOUT;
			n++;
		}
		if (!n)
			return 0;
		if (st_now_ms() >= end)
			return -1;
		if (poll(pfd, n, TICK_MS) < 0 && errno != EINTR)
			return -1;
		left = 0;
		for (i = from; i < to; i++) {
			struct fconn *c = &conns[i];
			int err = 0;
			socklen_t len = sizeof(err);

			if (c->fd < 0 || c->opened_ms)
				continue;
			if (pfd[left++].revents == 0)
				continue;
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			/* Reset (after the node's FIN: EPIPE) is a refusal. */
			if (err && err != ECONNRESET && err != EPIPE) {
				if (!fig.first_errno)
					fig.first_errno = err;
				fig.failed[c->kind]++;
				close(c->fd);
				c->fd = -1;
				continue;
			}
			c->opened_ms = st_now_ms();
			fig.opened[c->kind]++;
			if (err)
				conn_closed(c, c->opened_ms);
		}
	}
}

/* The first request of a slow-read connection: GETs it will not read. */
static void slow_read_start(struct fconn *c, uint64_t table, const char *key)
{
	uint8_t f[ST_FRAME_MAX(64, 0)];
	size_t len;
	int i;

	for (i = 0; i < SLOW_READ_GETS; i++) {
		len = st_build_key(f, SKV_OP_GET, i + 1, table, key, strlen(key), 0);
		if (send(c->fd, f, len, MSG_NOSIGNAL) != (ssize_t)len)
			return;		/* reset: seen by the next poll */
	}
}

/*
 * One tick for every open connection: notice resets, send slow-frame
 * bytes, take one byte of a slow-read's replies.  A slow reader is not
 * polled for input until its byte is due: its replies are always there,
 * and a poll that returned for them would let it read a byte per loop,
 * fast enough on a quick machine to take every batch within the reply
 * deadline.
 */
static unsigned long tick(struct pollfd *pfd)
{
	uint8_t frame[sizeof(struct skv_hdr)];
	unsigned long i, n = 0, open = 0;
	uint64_t now = st_now_ms();
	char b[256];
	ssize_t r;

	st_build_ping(frame, 1);
	for (i = 0; i < nconns; i++) {
		if (conns[i].fd < 0)
			continue;
		pfd[n].fd = conns[i].fd;
		pfd[n].events = conns[i].kind == SLOW_READ &&
				now < conns[i].next_ms ? 0 : POLLIN;
		n++;
	}
	if (poll(pfd, n, TICK_MS) < 0 && errno != EINTR)
		return nconns;
	now = st_now_ms();
	for (i = 0, n = 0; i < nconns; i++) {
		struct fconn *c = &conns[i];
		short ev;

		if (c->fd < 0)
			continue;
		ev = pfd[n++].revents;
		if (ev & (POLLERR | POLLHUP)) {
			conn_closed(c, now);
			continue;
		}
		if (ev & POLLIN) {
			/* A slow reader takes a byte every TICK_MS; the others drain. */
			r = recv(c->fd, b, c->kind == SLOW_READ ? 1 : sizeof(b),
				 MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				conn_closed(c, now);
				continue;
			}
			if (c->kind == SLOW_READ)
				c->next_ms = now + TICK_MS;
		}
		if (c->kind == SLOW_FRAME && now >= c->next_ms) {
			if (send(c->fd, frame + c->sent % sizeof(frame), 1,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
			    errno != EAGAIN) {
				conn_closed(c, now);
				continue;
			}
			c->sent++;
			c->next_ms = now + SLOW_FRAME_MS;
		}
		open++;
	}
	return open;
}

static void print_figures(const char *when)
{
	int k;

	for (k = 0; k < NKINDS; k++)
		printf("# conn_flood: %s: %s opened=%lu connect_failed=%lu refused_at_once=%lu closed_later=%lu longest_ms=%llu\n",
		       when, kind_name[k], fig.opened[k], fig.failed[k],
		       fig.refused[k], fig.closed_later[k],
		       (unsigned long long)fig.max_life_ms[k]);
	printf("# conn_flood: %s: probe clients served=%lu failed=%lu\n", when,
	       fig.probes_served, fig.probes_failed);
	if (fig.first_errno)
		printf("# conn_flood: %s: first failed connect: %s\n", when,
		       strerror(fig.first_errno));
	fflush(stdout);
}

/* A client from address probe_sa is served a PING. */
static void probe(const struct sockaddr_in *probe_sa)
{
	struct timeval tv = { .tv_sec = ST_IO_TIMEOUT_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 &&
	    !setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) &&
	    !setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) &&
	    !bind(fd, (const struct sockaddr *)probe_sa, sizeof(*probe_sa)) &&
	    !connect(fd, (struct sockaddr *)&node_sa, sizeof(node_sa)) &&
	    st_ping(fd) == SKV_S_OK)
		fig.probes_served++;
	else
		fig.probes_failed++;
	if (fd >= 0)
		close(fd);
}

static int flood(char **argv)
{
	struct sockaddr_in probe_sa;
	unsigned long want[NKINDS], i, from, open;
	uint64_t table = strtoull(argv[7], NULL, 0), end;
	const char *bigkey = argv[8], *ready = argv[9];
	int timeout_s = atoi(argv[10]), k;
	struct pollfd *pfd;
	FILE *f;

	if (parse_addr(argv[1], &node_sa) || parse_addr(argv[2], &from_sa) ||
	    parse_addr(argv[3], &probe_sa)) {
		fprintf(stderr, "conn_flood: bad address\n");
		return 2;
	}
	want[IDLE] = strtoul(argv[4], NULL, 0);
	want[SLOW_FRAME] = strtoul(argv[5], NULL, 0);
	want[SLOW_READ] = strtoul(argv[6], NULL, 0);
	nconns = want[IDLE] + want[SLOW_FRAME] + want[SLOW_READ];
	if (raise_nofile(nconns + 64)) {
		fprintf(stderr, "conn_flood: RLIMIT_NOFILE %lu: %s\n",
			nconns + 64, strerror(errno));
		return 2;
	}
	conns = calloc(nconns, sizeof(*conns));
	pfd = calloc(nconns, sizeof(*pfd));
	if (!conns || !pfd)
		return 2;
	i = 0;
	for (k = 0; k < NKINDS; k++) {
		unsigned long j;

		for (j = 0; j < want[k]; j++, i++) {
			conns[i].kind = k;
			conns[i].fd = -1;
		}
	}

	end = st_now_ms() + (uint64_t)timeout_s * 1000;
	for (from = 0; from < nconns; from += WAVE) {
		unsigned long to = from + WAVE < nconns ? from + WAVE : nconns;

		for (i = from; i < to; i++) {
			conns[i].fd = open_conn(conns[i].kind);
			if (conns[i].fd < 0)
				fig.failed[conns[i].kind]++;
		}
		if (wave_connected(from, to, 60000)) {
			fprintf(stderr, "conn_flood: wave at %lu never connected\n", from);
			print_figures("stuck");
			return 1;
		}
		for (i = from; i < to; i++) {
			if (conns[i].fd >= 0 && conns[i].kind == SLOW_READ)
				slow_read_start(&conns[i], table, bigkey);
		}
		probe(&probe_sa);
		/* Take the resets of what the node refused; drives slow ones too. */
		tick(pfd);
	}
	print_figures("flood in place");
	f = fopen(ready, "w");
	if (f)
		fclose(f);

	do {
		open = tick(pfd);
	} while (open && st_now_ms() < end);
	print_figures("end");
	if (open) {
		printf("# conn_flood: %lu connections still open after %d s\n",
		       open, timeout_s);
		return 1;
	}
	return 0;
}

/* Every open connection of conns[] blocking, with the I/O timeout. */
static void conns_blocking(void)
{
	struct timeval tv = { .tv_sec = ST_IO_TIMEOUT_MS / 1000 };
	unsigned long i;

	for (i = 0; i < nconns; i++) {
		if (conns[i].fd < 0)
			continue;
		fcntl(conns[i].fd, F_SETFL, 0);
		setsockopt(conns[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(conns[i].fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
}

/* conn i's GET answered with its own key as the value. */
static int many_got(unsigned long i)
{
	char key[32];
	struct st_reply r;
	uint8_t *val;
	uint32_t vlen;
	int ok;

	snprintf(key, sizeof(key), "many-%lu", i);
	if (st_recv_reply(conns[i].fd, &r) ||
	    st_parse_get(&r, &val, &vlen, NULL) != SKV_S_OK)
		return 0;
	ok = vlen == strlen(key) && !memcmp(val, key, vlen);
	free(val);
	return ok;
}

static int many(char **argv)
{
	unsigned long i, from, put = 0, got = 0;
	uint64_t table = strtoull(argv[3], NULL, 0), end;
	const char *ready = argv[4], *go = argv[5];
	uint8_t f[ST_FRAME_MAX(32, 0)];
	char key[32];
	size_t len;
	FILE *fp;

	if (parse_addr(argv[1], &node_sa)) {
		fprintf(stderr, "conn_flood: bad address\n");
		return 2;
	}
	from_sa.sin_family = AF_INET;	/* any address, any port */
	nconns = strtoul(argv[2], NULL, 0);
	end = st_now_ms() + strtoull(argv[6], NULL, 0) * 1000;
	if (raise_nofile(nconns + 64)) {
		fprintf(stderr, "conn_flood: RLIMIT_NOFILE %lu: %s\n",
			nconns + 64, strerror(errno));
		return 2;
	}
	conns = calloc(nconns, sizeof(*conns));
	if (!conns)
		return 2;
	for (from = 0; from < nconns; from += WAVE) {
		unsigned long to = from + WAVE < nconns ? from + WAVE : nconns;

		for (i = from; i < to; i++) {
			conns[i].kind = IDLE;
			conns[i].fd = open_conn(IDLE);
			if (conns[i].fd < 0)
				fig.failed[IDLE]++;
		}
		if (wave_connected(from, to, 60000)) {
			fprintf(stderr, "conn_flood: wave at %lu never connected\n", from);
			return 1;
		}
	}
	conns_blocking();
	for (i = 0; i < nconns; i++) {
		snprintf(key, sizeof(key), "many-%lu", i);
		put += conns[i].fd >= 0 &&
		       st_puts(conns[i].fd, table, key, key, 0, NULL) == SKV_S_OK;
	}
	/* Every GET in flight at once, on its own connection. */
	for (i = 0; i < nconns; i++) {
		snprintf(key, sizeof(key), "many-%lu", i);
		len = st_build_key(f, SKV_OP_GET, i + 1, table, key, strlen(key), 0);
		if (conns[i].fd >= 0 && st_send_all(conns[i].fd, f, len)) {
			close(conns[i].fd);
			conns[i].fd = -1;
		}
	}
	for (i = 0; i < nconns; i++)
		got += conns[i].fd >= 0 && many_got(i);
	printf("# conn_flood: many: connections=%lu opened=%lu put=%lu got=%lu\n",
	       nconns, fig.opened[IDLE], put, got);
	fp = fopen(ready, "w");
	if (fp)
		fclose(fp);
	while (access(go, F_OK) && st_now_ms() < end)
		poll(NULL, 0, TICK_MS);
	for (i = 0; i < nconns; i++) {
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	}
	return put == nconns && got == nconns ? 0 : 1;
}

/* Has the node closed fd (reset, or an orderly close)? */
static int node_closed(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static int partial(char **argv)
{
	unsigned long n = strtoul(argv[2], NULL, 0), bytes = strtoul(argv[3], NULL, 0);
	const char *ready = argv[4], *go = argv[5];
	uint64_t end = st_now_ms() + strtoull(argv[6], NULL, 0) * 1000;
	unsigned long i, closed = 0;
	char ip[INET_ADDRSTRLEN];
	struct sockaddr_in sa;
	uint8_t *body;
	int *fds;
	FILE *fp;

	if (parse_addr(argv[1], &sa)) {
		fprintf(stderr, "conn_flood: bad address\n");
		return 2;
	}
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	fds = calloc(n, sizeof(*fds));
	body = calloc(1, sizeof(struct skv_hdr) + bytes);
	if (!fds || !body)
		return 2;
	st_hdr(body, SKV_OP_PUT, 1, SKV_MAX_BODY_LEN);
	for (i = 0; i < n; i++) {
		fds[i] = st_connect(ip, ntohs(sa.sin_port));
		if (fds[i] < 0) {
			fprintf(stderr, "conn_flood: connection %lu: %s\n", i, st_last_error);
			return 2;
		}
		/* Refused part-way: the node closed it (counted below). */
		st_send_all(fds[i], body, sizeof(struct skv_hdr) + bytes);
	}
	fp = fopen(ready, "w");
	if (fp)
		fclose(fp);
	while (access(go, F_OK) && st_now_ms() < end)
		poll(NULL, 0, TICK_MS);
	for (i = 0; i < n; i++) {
		closed += node_closed(fds[i]);
		close(fds[i]);
	}
	printf("# conn_flood: partial: connections=%lu bytes=%lu closed_by_node=%lu\n",
	       n, bytes, closed);
	return 0;
}

/* One migration op on a single hash; its status, or -1 (transport). */
static int mig_op(int fd, uint8_t op, uint64_t id, uint64_t table, uint64_t h,
		  uint32_t flags)
{
	uint8_t f[sizeof(struct skv_hdr) + sizeof(struct skv_mig_range_req)];
	struct skv_mig_range_req *q = (void *)(f + sizeof(struct skv_hdr));
	struct st_reply r;

	memset(q, 0, sizeof(*q));
	q->migration_id = htole64(id);
	q->table_id = htole64(table);
	q->start_hash = htole64(h);
	q->end_hash = htole64(h);
	q->flags = htole32(flags);
	st_hdr(f, op, id, sizeof(*q));
	if (st_send_all(fd, f, sizeof(f)) || st_recv_reply(fd, &r))
		return -1;
	st_reply_free(&r);
	return r.h.status;
}

static int prepare_flood(char **argv)
{
	struct sockaddr_in sa;
	char ip[INET_ADDRSTRLEN];
	uint64_t table = strtoull(argv[2], NULL, 0);
	unsigned long count = strtoul(argv[3], NULL, 0), i, ok = 0;
	const struct skv_auth_key *key;
	int fd, st = SKV_S_OK, end;

	if (parse_addr(argv[1], &sa)) {
		fprintf(stderr, "conn_flood: bad address\n");
		return 2;
	}
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	fd = st_connect(ip, ntohs(sa.sin_port));
	if (fd < 0) {
		fprintf(stderr, "conn_flood: %s\n", st_last_error);
		return 2;
	}
	/* A peer's PREPAREs: the tablet cap, not authentication, must stop them. */
	key = st_cluster_key();
	st = key ? st_auth(fd, key) : -1;
	if (st != SKV_S_OK) {
		fprintf(stderr, "conn_flood: authentication: %s\n",
			st < 0 ? st_last_error : st_status_name(st));
		return 2;
	}
	for (i = 0; i < count; i++) {
		uint64_t h = (i + 1) << 20;

		st = mig_op(fd, SKV_OP_MIG_PREPARE, i + 1, table, h, 0);
		if (st != SKV_S_OK)
			break;
		ok++;
		end = mig_op(fd, SKV_OP_MIG_END, i + 1, table, h, SKV_MIG_F_ABORT);
		if (end != SKV_S_OK) {
			fprintf(stderr, "conn_flood: END %lu: %d %s\n", i, end,
				end < 0 ? st_last_error : st_status_name(end));
			return 1;
		}
	}
	printf("# conn_flood: prepare: %lu single-hash PREPAREs accepted, then %s\n",
	       ok, st < 0 ? st_last_error : i < count ? st_status_name(st) : "none refused");
	if (st != SKV_S_NO_SPACE)
		return 1;
	/* Refused cleanly: the connection still works. */
	return st_ping(fd) == SKV_S_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 12 && !strcmp(argv[1], "flood"))
		return flood(argv + 1);
	if (argc == 8 && !strcmp(argv[1], "many"))
		return many(argv + 1);
	if (argc == 8 && !strcmp(argv[1], "partial"))
		return partial(argv + 1);
	if (argc == 5 && !strcmp(argv[1], "prepare"))
		return prepare_flood(argv + 1);
	fprintf(stderr, "usage: see the comment at the top of selftests/conn_flood.c\n");
	return 2;
}
