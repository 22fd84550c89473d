// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * skv-fake-node: stand-in steadykv nodes and coordinator for testing
 * steadykv-bench on a host (the module needs the QEMU guest).
 *
 *   skv-fake-node --base-port P [--nodes N] [--coord-port C]
 *                 [--move-at S --move-for S] [--retry-pct N] [--mark-file F]
 *                 [--lifetime S]
 *
 * N nodes (ids 1..N) listen on 127.0.0.1:P.. and split table 1's hash
 * space evenly; they answer GET (OK, a 100-byte value) and PUT (OK) in
 * wire.h, thread per connection, no storage.  With --coord-port the
 * coordinator answers GET_MAP (coord.h).  --move-at S: S seconds in, the
 * upper half of node 1's tablet moves to node 2 as a Rocksteady migration
 * would look to a client: node 1 answers NOT_OWNER for it, the map names
 * node 2, and for --move-for seconds node 2 answers RETRY (retry_us 100)
 * to --retry-pct percent of the reads in it (keys not pulled yet).  The
 * marks "migration-start" / "migration-end" go to --mark-file.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <steadykv/coord.h>
#include <steadykv/wire.h>

#define MAX_NODES 8

static int nnodes = 2;
static int base_port;
static double move_at = -1, move_for = 1;
static int retry_pct;
static const char *mark_file;
static atomic_int phase;	/* 0 before, 1 migrating, 2 moved */
static atomic_ullong map_version = 1;
static uint64_t moved_lo, moved_hi;

struct srv {
	int lfd;
	int node;	/* 1..N, 0: coordinator */
};

static uint64_t tablet_lo(int node)
{
	return (uint64_t)((unsigned __int128)(node - 1) * ((unsigned __int128)1 << 64) / nnodes);
}

static uint64_t tablet_hi(int node)
{
	return node == nnodes ? UINT64_MAX : tablet_lo(node + 1) - 1;
}

/* The owner of a hash by the current map. */
static int owner_of(uint64_t h)
{
	int i;

	if (atomic_load(&phase) && h >= moved_lo && h <= moved_hi)
		return 2;
	for (i = 1; i <= nnodes; i++)
		if (h >= tablet_lo(i) && h <= tablet_hi(i))
			return i;
	return nnodes;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void put_hdr(uint8_t *h, uint16_t magic, uint8_t op, uint8_t status,
		    uint64_t id, uint32_t blen, int coord)
{
	memset(h, 0, 24);
	magic = htole16(magic);
	memcpy(h, &magic, 2);
	h[2] = coord ? SKV_COORD_VERSION : 1;
	h[3] = op;
	h[4] = 1;	/* REPLY, both protocols */
	if (coord) {
		uint16_t st = htole16(status);

		memcpy(h + 6, &st, 2);
	} else {
		h[5] = status;
	}
	id = htole64(id);
	memcpy(h + 8, &id, 8);
	blen = htole32(blen);
	memcpy(h + 16, &blen, 4);
}

static int serve_coord(int fd, const uint8_t *h, uint64_t id)
{
	size_t len = sizeof(struct skv_coord_map) +
		     (size_t)nnodes * (sizeof(struct skv_coord_node) + sizeof(struct skv_coord_tablet)) +
		     sizeof(struct skv_coord_tablet);
	uint8_t *out = calloc(1, 24 + len), *p;
	struct skv_coord_map m = { 0 };
	int i, ntab = 0, ret;

	if (!out)
		return -1;
	p = out + 24 + sizeof(m);
	for (i = 1; i <= nnodes; i++) {
		struct skv_coord_node n = { .id = htole32((uint32_t)i) };

		snprintf(n.addr, sizeof(n.addr), "127.0.0.1:%d", base_port + i - 1);
		memcpy(p, &n, sizeof(n));
		p += sizeof(n);
	}
	for (i = 1; i <= nnodes; i++) {
		struct skv_coord_tablet t = { .table_id = htole64(1) };
		uint64_t lo = tablet_lo(i), hi = tablet_hi(i);

		t.owner = htole32((uint32_t)i);
		if (i == 1 && atomic_load(&phase))
			hi = moved_lo - 1;
		t.start_hash = htole64(lo);
		t.end_hash = htole64(hi);
		memcpy(p, &t, sizeof(t));
		p += sizeof(t);
		ntab++;
		if (i == 1 && atomic_load(&phase)) {
			t.start_hash = htole64(moved_lo);
			t.end_hash = htole64(moved_hi);
			t.owner = htole32(2);
			t.state = htole32(atomic_load(&phase) == 1);
			t.src = htole32(1);
			memcpy(p, &t, sizeof(t));
			p += sizeof(t);
			ntab++;
		}
	}
	m.version = htole64(atomic_load(&map_version));
	m.nr_nodes = htole32((uint32_t)nnodes);
	m.nr_tablets = htole32((uint32_t)ntab);
	memcpy(out + 24, &m, sizeof(m));
	len = (size_t)(p - out) - 24;
	if (h[3] != SKV_COORD_OP_GET_MAP) {
		static const char msg[] = "fake coordinator: GET_MAP only";

		put_hdr(out, SKV_COORD_MAGIC, h[3], EINVAL, id, sizeof(msg), 1);
		memcpy(out + 24, msg, sizeof(msg));
		len = sizeof(msg);
	} else {
		put_hdr(out, SKV_COORD_MAGIC, h[3], 0, id, (uint32_t)len, 1);
	}
	ret = write_full(fd, out, 24 + len);
	free(out);
	return ret;
}

static unsigned int seed_of(void)
{
	static atomic_uint s = 1;

	return atomic_fetch_add(&s, 2654435761u);
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg >> 4, node = (int)(intptr_t)arg & 15;
	unsigned int rnd = seed_of();
	static const char value[100];
	uint8_t h[24], *body = NULL, out[24 + 16 + sizeof(value)];

	for (;;) {
		uint32_t blen;
		uint64_t id, hash;
		uint16_t klen;
		uint8_t status = SKV_S_OK, *rb = out + 24;
		size_t rlen = 0;

		if (read_full(fd, h, 24))
			break;
		memcpy(&blen, h + 16, 4);
		blen = le32toh(blen);
		memcpy(&id, h + 8, 8);
		id = le64toh(id);
		if (blen > SKV_MAX_BODY_LEN)
			break;
		free(body);
		body = calloc(1, blen + 1);	/* zeroed: the analyzer cannot see read() fill it */
		if (!body || read_full(fd, body, blen))
			break;
		if (!node) {
			if (serve_coord(fd, h, id))
				break;
			continue;
		}
		if ((h[3] != SKV_OP_GET && h[3] != SKV_OP_PUT) || blen < 24) {
			put_hdr(out, SKV_WIRE_MAGIC, h[3], SKV_S_BAD_REQUEST, id, 0, 0);
			if (write_full(fd, out, 24))
				break;
			continue;
		}
		memcpy(&klen, body + 16, 2);
		klen = le16toh(klen);
		if ((size_t)klen + 24 > blen)
			break;
		hash = XXH64(body + 24, klen, SKV_KEY_HASH_SEED);
		if (owner_of(hash) != node) {
			status = SKV_S_NOT_OWNER;
		} else if (atomic_load(&phase) == 1 && node == 2 && hash >= moved_lo &&
			   hash <= moved_hi && h[3] == SKV_OP_GET &&
			   (int)(rand_r(&rnd) % 100) < retry_pct) {
			struct skv_retry_reply rr = { .retry_us = htole32(100) };

			status = SKV_S_RETRY;
			memcpy(rb, &rr, sizeof(rr));
			rlen = sizeof(rr);
		} else if (h[3] == SKV_OP_GET) {
			struct skv_val_reply v = { .version = htole64(1),
						   .value_len = htole32(sizeof(value)) };

			memcpy(rb, &v, sizeof(v));
			memcpy(rb + sizeof(v), value, sizeof(value));
			rlen = sizeof(v) + sizeof(value);
		} else {
			struct skv_ver_reply v = { .version = htole64(2) };

			memcpy(rb, &v, sizeof(v));
			rlen = sizeof(v);
		}
		put_hdr(out, SKV_WIRE_MAGIC, h[3], status, id, (uint32_t)rlen, 0);
		if (write_full(fd, out, 24 + rlen))
			break;
	}
	free(body);
	close(fd);
	return NULL;
}

static void *acceptor(void *arg)
{
	const struct srv *s = arg;

	for (;;) {
		int fd = accept(s->lfd, NULL, NULL), one = 1;
		pthread_t th;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&th, NULL, serve, (void *)(intptr_t)(fd << 4 | s->node)))
			close(fd);
		else
			pthread_detach(th);
	}
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void mark(const char *label)
{
	struct timespec ts;
	FILE *f;

	if (!mark_file)
		return;
	f = fopen(mark_file, "a");
	if (!f)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "%llu %s\n", (unsigned long long)ts.tv_sec * 1000000000ull +
		(unsigned long long)ts.tv_nsec, label);
	fclose(f);
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	static struct srv srvs[MAX_NODES + 1];
	int base = 0, cport = 0, i;
	double lifetime = 3600;
	pthread_t th;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--base-port"))
			base = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--nodes"))
			nnodes = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--coord-port"))
			cport = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--move-at"))
			move_at = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--move-for"))
			move_for = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--retry-pct"))
			retry_pct = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--mark-file"))
			mark_file = argv[i + 1];
		else if (!strcmp(argv[i], "--lifetime"))
			lifetime = atof(argv[i + 1]);
		else
			break;
	}
	if (i != argc || base <= 0 || nnodes < 1 || nnodes > MAX_NODES ||
	    (move_at >= 0 && nnodes < 2)) {
		fprintf(stderr, "usage: skv-fake-node --base-port P [--nodes N] [--coord-port C] "
			"[--move-at S --move-for S] [--retry-pct N] [--mark-file F] [--lifetime S]\n");
		return 2;
	}
	base_port = base;
	moved_lo = tablet_lo(1) + (tablet_hi(1) - tablet_lo(1)) / 2 + 1;
	moved_hi = tablet_hi(1);
	for (i = cport ? 0 : 1; i <= nnodes; i++) {
		srvs[i].node = i;
		srvs[i].lfd = listen_on(i ? base + i - 1 : cport);
		if (srvs[i].lfd < 0) {
			perror("skv-fake-node: listen");
			return 1;
		}
		if (pthread_create(&th, NULL, acceptor, &srvs[i]))
			return 1;
		pthread_detach(th);
	}
	printf("ready\n");
	fflush(stdout);
	if (move_at >= 0) {
		sleep_s(move_at);
		atomic_store(&phase, 1);
		atomic_fetch_add(&map_version, 1);
		mark("migration-start");
		sleep_s(move_for);
		atomic_store(&phase, 2);
		atomic_fetch_add(&map_version, 1);
		mark("migration-end");
		lifetime -= move_at + move_for;
	}
	sleep_s(lifetime > 0 ? lifetime : 0);
	return 0;
}
