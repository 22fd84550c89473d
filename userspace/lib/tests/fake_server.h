/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The fake steadykv node of every host test: a thread on one end of a
 * socketpair (or of an accepted loopback TCP connection) that reads wire.h
 * requests (or coord.h ones, for a fake coordinator) and answers through a
 * handler, which may answer correctly (fake_store) or with whatever broken
 * bytes a test wants.  fake_listen() serves every connection to a port,
 * thread per connection (skv-fake-node's nodes and coordinator, and
 * test-cluster's, which fake_listen_stop() stops between tests).
 */
#ifndef SKV_TEST_FAKE_SERVER_H
#define SKV_TEST_FAKE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "internal.h"

struct fake_req {
	uint8_t opcode;
	uint8_t flags;
	uint8_t status;
	uint16_t reserved;
	uint32_t epoch;		/* the client's map version (wire.h), 0 = none */
	uint64_t id;
	uint32_t body_len;
	uint8_t *body;
};

struct fake_server;
/* Return 0 to keep serving, 1 to close the connection. */
typedef int (*fake_handler_t)(struct fake_server *s, const struct fake_req *req);

struct fake_server {
	int fd;			/* server end of the connection */
	int listen_fd;		/* TCP mode: accept one connection first */
	pthread_t thread;
	fake_handler_t handler;
	void *arg;
	int tag;		/* fake_listen(): the listener's, for its handler */
	bool coord;		/* coord.h framing (magic, 16-bit status) */
	/* fake_listen(): the owner that joins and frees it, and its list link. */
	struct fake_listener *listener;
	struct fake_server *next;
	unsigned int served;	/* requests handled */
	unsigned int bad;	/* requests that broke the wire format */
};

/*
 * Every connection to one loopback port, each served by its own thread.
 * The listener owns the connections' fake_servers: a connection's thread
 * closes its fd (under lock) when it ends but never frees its state; the
 * acceptor joins and frees the ended ones before each accept, and
 * fake_listen_stop() the rest.
 */
struct fake_listener {
	int fd;
	uint16_t port;			/* the one bound, when 0 was asked */
	pthread_t thread;
	pthread_mutex_t lock;		/* conns, and each conn's fd */
	struct fake_server *conns;
	fake_handler_t handler;
	void *arg;
	int tag;
	bool coord;
};

/* Socketpair mode: *client_fd is the client's end. */
void fake_start_pair(struct fake_server *s, fake_handler_t h, void *arg, int *client_fd);
/* TCP mode on the loopback of family; returns -1 if the family is unusable. */
int fake_start_tcp(struct fake_server *s, fake_handler_t h, void *arg, int family,
		   uint16_t *port);
/* Shut the connection down and join the thread. */
void fake_stop(struct fake_server *s);
/*
 * Listen on 127.0.0.1:port (0: an ephemeral one, in l->port) and serve each
 * connection with h (arg, tag and coord given to its fake_server).  Returns
 * -1 if it cannot listen.  The listener lives until fake_listen_stop().
 */
int fake_listen(struct fake_listener *l, uint16_t port, fake_handler_t h, void *arg,
		int tag, bool coord);
/* Shut the listener and every connection down, join their threads, free them. */
void fake_listen_stop(struct fake_listener *l);

void fake_hdr(uint8_t *h, uint8_t opcode, uint8_t flags, uint8_t status,
	      uint64_t id, uint32_t body_len);
void fake_send(struct fake_server *s, const void *buf, size_t len);
/* Read exactly len bytes from fd; -1 on EOF or error. */
int fake_read_full(int fd, void *buf, size_t len);
/* A well-formed reply to req with this status and body. */
void fake_reply(struct fake_server *s, const struct fake_req *req, uint8_t status,
		const void *body, uint32_t len);

/*
 * An in-memory node: table 1 exists, versions count up from 1, DELETE
 * leaves a tombstone, conditional writes as the node decides them.  Safe
 * for many connections at once.  A dishonest store (for the tests that
 * the linearizability checker fails): every stale_every-th GET of a key
 * written at least twice answers the value before the last write, and
 * every lose_every-th PUT is acknowledged with a new version and dropped.
 */
struct fake_store;
struct fake_store *fake_store_new(void);
void fake_store_set_faults(struct fake_store *st, unsigned int stale_every,
			   unsigned int lose_every);
void fake_store_free(struct fake_store *st);
int fake_store_handler(struct fake_server *s, const struct fake_req *req);

#endif
