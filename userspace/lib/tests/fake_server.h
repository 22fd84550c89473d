/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A fake steadykv node for host tests: a thread on one end of a socketpair
 * (or of an accepted loopback TCP connection) that reads wire.h requests
 * and answers through a handler, which may answer correctly (fake_store)
 * or with whatever broken bytes a test wants.
 */
#ifndef SKV_TEST_FAKE_SERVER_H
#define SKV_TEST_FAKE_SERVER_H

#include <pthread.h>
#include <stdint.h>

#include "internal.h"

struct fake_req {
	uint8_t opcode;
	uint8_t flags;
	uint8_t status;
	uint16_t reserved;
	uint32_t reserved2;
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
	unsigned int served;	/* requests handled */
	unsigned int bad;	/* requests that broke the wire format */
};

/* Socketpair mode: *client_fd is the client's end. */
void fake_start_pair(struct fake_server *s, fake_handler_t h, void *arg, int *client_fd);
/* TCP mode on the loopback of family; returns -1 if the family is unusable. */
int fake_start_tcp(struct fake_server *s, fake_handler_t h, void *arg, int family,
		   uint16_t *port);
/* Shut the connection down and join the thread. */
void fake_stop(struct fake_server *s);

void fake_hdr(uint8_t *h, uint8_t opcode, uint8_t flags, uint8_t status,
	      uint64_t id, uint32_t body_len);
void fake_send(struct fake_server *s, const void *buf, size_t len);
/* A well-formed reply to req with this status and body. */
void fake_reply(struct fake_server *s, const struct fake_req *req, uint8_t status,
		const void *body, uint32_t len);

/* A tiny in-memory node: table 1 exists, versions count up from 1. */
struct fake_store;
struct fake_store *fake_store_new(void);
void fake_store_free(struct fake_store *st);
int fake_store_handler(struct fake_server *s, const struct fake_req *req);

#endif
