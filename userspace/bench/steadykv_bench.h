/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * steadykv-bench: shared types between the load generator's core
 * (steadykv_bench.c) and its protocol drivers (bench_drv_*.c).
 *
 * A driver knows one protocol: it finds the nodes at start, routes a key
 * to a node, encodes a request into a connection's output buffer, parses
 * replies incrementally from its input buffer, and turns a redirect into a
 * new node.  Everything else (schedule, connections, epoll, histograms,
 * timeline) is shared.
 */
#ifndef STEADYKV_BENCH_H
#define STEADYKV_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

#define BENCH_MAX_NODES 32
#define BENCH_ADDR_MAX 64

enum bench_op { BOP_READ, BOP_UPDATE };	/* inserts are updates */

/* A growable byte buffer: [off, len) is live. */
struct buf {
	char *p;
	size_t off, len, cap;
};

int buf_reserve(struct buf *b, size_t more);	/* 0 or -1 (ENOMEM) */
int buf_append(struct buf *b, const void *d, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

enum reply_kind {
	RK_OK,		/* value read or write done */
	RK_MISS,	/* read of a key that does not exist (counted, not an error) */
	RK_ERROR,	/* the node refused the request: counted as an error */
	RK_REDIRECT,	/* NOT_OWNER / MOVED: route again, resend */
	RK_ASK,		/* Redis ASK: ASKING + the command at node */
	RK_RETRY,	/* RETRY: resend after retry_us */
	RK_DISCARD,	/* the reply to an ASKING we sent: no request of ours */
};

struct bench_reply {
	enum reply_kind kind;
	uint32_t retry_us;
	long slot;			/* MOVED/ASK: the slot */
	char addr[BENCH_ADDR_MAX];	/* MOVED/ASK: "host:port" */
	char msg[96];			/* RK_ERROR: what, for the first few */
	int from;			/* set by the core: the node that answered */
};

/* One thing in a connection's reply queue. */
struct pend {
	uint32_t slot;		/* request slot in the thread, UINT32_MAX: ASKING */
	uint64_t id;		/* steadykv request id */
	uint8_t op;
};

struct bench_cfg;
struct skv_client_key;

struct bench_driver {
	const char *name;
	/* Find the nodes (bench_node_add); 0 or -1 with a message on stderr. */
	int (*setup)(struct bench_cfg *cfg);
	/* Per-thread state (may be NULL); freed by thread_fini. */
	void *(*thread_init)(struct bench_cfg *cfg, int tid);
	void (*thread_fini)(void *ts);
	/* The node index for a key, or -1 (no owner known). */
	int (*route)(void *ts, const char *key, size_t klen, uint64_t khash);
	/* Per-connection parse state. */
	void *(*conn_init)(void);
	void (*conn_fini)(void *cs);
	/*
	 * Append the request (with ASKING first if asking) to out; set
	 * p->id.  Returns the number of replies it will produce (1 or 2), or
	 * -1 on ENOMEM.
	 */
	int (*encode)(struct bench_cfg *cfg, struct buf *out, enum bench_op op,
		      const char *key, size_t klen, uint64_t id, bool asking);
	/*
	 * Parse the next reply from in, whose request is head: 1 with *r
	 * filled and the bytes consumed, 0 if incomplete, -1 if the stream is
	 * broken (r->msg says why).
	 */
	int (*parse)(void *cs, struct buf *in, const struct pend *head,
		     struct bench_reply *r);
	/*
	 * After RK_REDIRECT / RK_ASK: the node to send the request to now, or
	 * -1.  For steadykv: refresh the map and route again.
	 */
	int (*redirect)(void *ts, const struct bench_reply *r, const char *key,
			size_t klen, uint64_t khash);
	/* A new connection's handshake (may be NULL): 0, or -1 to drop it. */
	int (*conn_auth)(struct bench_cfg *cfg, int fd);
};

extern const struct bench_driver bench_drv_skv, bench_drv_redis, bench_drv_mc;

struct bench_cfg {
	const struct bench_driver *drv;
	/* targets */
	char coord[BENCH_ADDR_MAX];		/* steadykv: coordinator, or "" */
	char seeds[BENCH_MAX_NODES][BENCH_ADDR_MAX];	/* --node/--redis/--memcached */
	int nseeds;
	uint64_t table;
	/* workload */
	uint64_t records;
	size_t key_size, value_size;
	double zipf;
	int read_pct;
	char *value;			/* value_size bytes */
	/* steadykv: wait for the next map fetch at most this often (us) */
	uint32_t refresh_min_us;
	/* steadykv: authenticate every connection with it (--client-key), or NULL */
	struct skv_client_key *client_key;
	/* redis: WAIT for this many replicas after each write (0: no WAIT) */
	uint32_t redis_wait;
	/* memcached: read with the classic "get" instead of "mg" (bench_drv_mc.c) */
	bool mc_classic_get;
};

/* The node table, shared by all threads; append-only. */
struct bench_node {
	char addr[BENCH_ADDR_MAX];	/* "host:port" */
	char label[BENCH_ADDR_MAX + 16];	/* CSV column: "n<id>@host:port" or the address */
	uint32_t node_id;		/* steadykv id, else the index */
};

/* The index of the node with this address, adding it if new; -1 if full. */
int bench_node_add(const char *addr, uint32_t node_id, bool has_id);
int bench_node_count(void);
const struct bench_node *bench_node_get(int idx);

#endif
