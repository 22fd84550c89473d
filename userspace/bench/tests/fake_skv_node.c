// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * skv-fake-node: stand-in steadykv nodes and coordinator for the host
 * tests of steadykv-bench and skv-history (the module needs the QEMU
 * guest), built on the host tests' fake node (lib/tests/fake_server.h).
 *
 *   skv-fake-node --base-port P [--nodes N] [--coord-port C]
 *                 [--move-at S --move-for S] [--retry-pct N] [--mark-file F]
 *                 [--move-when FILE] [--stale-every N] [--lose-every N] [--lifetime S]
 *
 * N nodes (ids 1..N) listen on 127.0.0.1:P.. and split table 1's hash
 * space evenly; they share one store (fake_store: GET, PUT, DELETE,
 * conditional writes, MULTI-GET), thread per connection.  With
 * --coord-port the coordinator answers GET_MAP (coord.h).  --move-at S: S
 * seconds in, the upper half of node 1's tablet moves to node 2 as a
 * Rocksteady migration would look to a client: node 1 answers NOT_OWNER
 * for it, the map names node 2, and for --move-for seconds node 2 answers
 * RETRY (retry_us 100) to --retry-pct percent of the reads in it (keys not
 * pulled yet).  --move-when FILE: the move starts once FILE exists (then
 * --move-at counts from there).  The marks "migration-start" /
 * "migration-end" go to --mark-file.  --stale-every / --lose-every make the store lie (see
 * fake_store_set_faults()).
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <steadykv/coord.h>
#include <steadykv/wire.h>

#include "fake_server.h"

#define MAX_NODES 8

static int nnodes = 2;
static int base_port;
static double move_at = -1, move_for = 1;
static int retry_pct;
static const char *mark_file, *move_when;
static atomic_int phase;	/* 0 before, 1 migrating, 2 moved */
static atomic_ullong map_version = 1;
static uint64_t moved_lo, moved_hi;

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

/* The coordinator (tag 0): GET_MAP only. */
static int coord_handler(struct fake_server *s, const struct fake_req *req)
{
	size_t len = sizeof(struct skv_coord_map) +
		     (size_t)nnodes * (sizeof(struct skv_coord_node) + sizeof(struct skv_coord_tablet)) +
		     sizeof(struct skv_coord_tablet);
	uint8_t *out = calloc(1, len), *p;
	struct skv_coord_map m = { 0 };
	int i, ntab = 0;

	if (!out)
		return 1;
	if (req->opcode != SKV_COORD_OP_GET_MAP) {
		static const char msg[] = "fake coordinator: GET_MAP only";

		fake_reply(s, req, EINVAL, msg, sizeof(msg));
		free(out);
		return 0;
	}
	p = out + sizeof(m);
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
	memcpy(out, &m, sizeof(m));
	fake_reply(s, req, 0, out, (uint32_t)(p - out));
	free(out);
	return 0;
}

/* The key hash of a data request (a MULTI-GET's first key), or -1 if it has none. */
static int request_hash(const struct fake_req *req, uint64_t *hash)
{
	/* The first key's length is at 16 in both bodies; its bytes follow the fixed part. */
	size_t key_at = req->opcode == SKV_OP_MULTI_GET ? 18 : 24;
	uint16_t kl;

	if (req->opcode != SKV_OP_GET && req->opcode != SKV_OP_PUT &&
	    req->opcode != SKV_OP_DELETE && req->opcode != SKV_OP_MULTI_GET)
		return -1;
	if (req->body_len < key_at)
		return -1;
	memcpy(&kl, req->body + 16, 2);
	kl = le16toh(kl);
	if ((size_t)kl + key_at > req->body_len)
		return -1;
	*hash = XXH64(req->body + key_at, kl, SKV_KEY_HASH_SEED);
	return 0;
}

/* A node (tag: its id): ownership and the migration's RETRYs, then the shared store. */
static int node_handler(struct fake_server *s, const struct fake_req *req)
{
	static __thread unsigned int rnd;
	int node = s->tag;
	uint64_t hash;

	if (!rnd)
		rnd = (unsigned int)(uintptr_t)&rnd | 1;
	if (request_hash(req, &hash) == 0) {
		if (owner_of(hash) != node) {
			fake_reply(s, req, SKV_S_NOT_OWNER, NULL, 0);
			return 0;
		}
		if (atomic_load(&phase) == 1 && node == 2 && hash >= moved_lo &&
		    hash <= moved_hi && req->opcode == SKV_OP_GET &&
		    (int)(rand_r(&rnd) % 100) < retry_pct) {
			struct skv_retry_reply rr = { .retry_us = htole32(100) };

			fake_reply(s, req, SKV_S_RETRY, &rr, sizeof(rr));
			return 0;
		}
	}
	return fake_store_handler(s, req);
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
	static struct fake_listener lis[MAX_NODES + 1];
	int base = 0, cport = 0, i, stale_every = 0, lose_every = 0;
	double lifetime = 3600;
	struct fake_store *st;

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
		else if (!strcmp(argv[i], "--move-when"))
			move_when = argv[i + 1];
		else if (!strcmp(argv[i], "--lifetime"))
			lifetime = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--stale-every"))
			stale_every = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--lose-every"))
			lose_every = atoi(argv[i + 1]);
		else
			break;
	}
	if (i != argc || base <= 0 || base + nnodes > 65536 || cport < 0 || cport > 65535 ||
	    nnodes < 1 || nnodes > MAX_NODES || (move_at >= 0 && nnodes < 2) ||
	    (move_when && move_at < 0) ||
	    stale_every < 0 || lose_every < 0) {
		fprintf(stderr, "usage: skv-fake-node --base-port P [--nodes N] [--coord-port C] "
			"[--move-at S --move-for S] [--retry-pct N] [--mark-file F]\n"
			"                     [--move-when FILE] [--stale-every N] [--lose-every N]\n"
			"                     [--lifetime S]\n");
		return 2;
	}
	st = fake_store_new();
	fake_store_set_faults(st, (unsigned int)stale_every, (unsigned int)lose_every);
	base_port = base;
	moved_lo = tablet_lo(1) + (tablet_hi(1) - tablet_lo(1)) / 2 + 1;
	moved_hi = tablet_hi(1);
	for (i = cport ? 0 : 1; i <= nnodes; i++) {
		if (fake_listen(&lis[i], (uint16_t)(i ? base + i - 1 : cport),
				i ? node_handler : coord_handler, st, i, !i)) {
			perror("skv-fake-node: listen");
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	if (move_at >= 0) {
		/* A condition, not a time: wait for the file (as long as the fake lives). */
		while (move_when && access(move_when, F_OK) && lifetime > 0) {
			sleep_s(0.01);
			lifetime -= 0.01;
		}
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
