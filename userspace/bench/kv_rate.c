// SPDX-License-Identifier: GPL-2.0
/*
 * kv_rate: GET/PUT throughput of one node through libsteadykv, one
 * connection, synchronous and pipelined in batches of DEPTH requests (sent
 * together, then every reply collected: what redis-benchmark -P does).
 * 30-byte keys and 100-byte values, as the benchmarks use.
 *
 *   kv_rate HOST PORT TABLE COUNT [DEPTH]
 *
 * Prints one line per phase: operations per second and MB/s of keys and
 * values moved.  Every reply must be OK; any error ends the run (exit 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "steadykv.h"

#define KEY_LEN 30
#define VALUE_LEN 100

static char value[VALUE_LEN];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void make_key(char *key, unsigned long i)
{
	snprintf(key, KEY_LEN + 1, "user%026lu", i);
}

static void die(struct skv_conn *c, const char *what, int err)
{
	fprintf(stderr, "kv_rate: %s: %s (%s)\n", what, skv_strerror(err),
		c ? skv_conn_errmsg(c) : "");
	exit(1);
}

static void report(const char *phase, unsigned long n, double secs)
{
	printf("%-22s %9.0f ops/s %8.2f MB/s  (%lu ops in %.2f s)\n", phase,
	       n / secs, n * (double)(KEY_LEN + VALUE_LEN) / secs / 1e6, n, secs);
}

/* Collect one reply; every one must be OK. */
static void collect(struct skv_conn *c)
{
	struct skv_result r;
	int err = skv_pipe_flush(c);

	if (err)
		die(c, "flush", err);
	err = skv_pipe_next(c, &r);
	if (err)
		die(c, "reply", err);
	if (r.status)
		die(c, "request", r.status);
}

static void run_pipelined(struct skv_conn *c, uint64_t table, unsigned long n,
			  unsigned int depth, int put)
{
	char key[KEY_LEN + 1];
	unsigned long i;
	int err;

	for (i = 0; i < n; i++) {
		make_key(key, i);
		if (put)
			err = skv_pipe_put(c, table, key, KEY_LEN, value,
					   VALUE_LEN, 0, i);
		else
			err = skv_pipe_get(c, table, key, KEY_LEN, i);
		if (err)
			die(c, put ? "queue put" : "queue get", err);
		if (skv_pipe_pending(c) < depth)
			continue;
		while (skv_pipe_pending(c))
			collect(c);
	}
	while (skv_pipe_pending(c))
		collect(c);
}

static void run_sync(struct skv_conn *c, uint64_t table, unsigned long n,
		     int put)
{
	char key[KEY_LEN + 1];
	unsigned long i;
	uint64_t version;
	void *v;
	size_t vlen;
	int err;

	for (i = 0; i < n; i++) {
		make_key(key, i);
		if (put) {
			err = skv_put(c, table, key, KEY_LEN, value, VALUE_LEN,
				      0, &version);
		} else {
			err = skv_get(c, table, key, KEY_LEN, &v, &vlen,
				      &version);
			if (!err)
				free(v);
		}
		if (err)
			die(c, put ? "put" : "get", err);
	}
}

int main(int argc, char **argv)
{
	struct skv_conn *c;
	unsigned long n, nsync;
	unsigned int depth = 64;
	uint64_t table;
	double t;
	int err;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: kv_rate HOST PORT TABLE COUNT [DEPTH]\n");
		return 2;
	}
	table = strtoull(argv[3], NULL, 0);
	n = strtoul(argv[4], NULL, 0);
	if (argc == 6)
		depth = strtoul(argv[5], NULL, 0);
	if (!n || !depth) {
		fprintf(stderr, "kv_rate: COUNT and DEPTH must be positive\n");
		return 2;
	}
	nsync = n / 10 ? n / 10 : 1;
	memset(value, 'v', sizeof(value));

	err = skv_connect(argv[1], (uint16_t)strtoul(argv[2], NULL, 0), &c);
	if (err)
		die(NULL, "connect", err);

	t = now_s();
	run_sync(c, table, nsync, 1);
	report("put sync", nsync, now_s() - t);
	t = now_s();
	run_pipelined(c, table, n, depth, 1);
	printf("%-22s depth %u\n", "pipeline", depth);
	report("put pipelined", n, now_s() - t);
	t = now_s();
	run_sync(c, table, nsync, 0);
	report("get sync", nsync, now_s() - t);
	t = now_s();
	run_pipelined(c, table, n, depth, 0);
	report("get pipelined", n, now_s() - t);
	skv_close(c);
	return 0;
}
