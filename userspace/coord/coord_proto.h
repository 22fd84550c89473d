/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The coordinator protocol (include/steadykv/coord.h) for the coordinator,
 * the node daemon and steadykvctl: its codec (common/coord_codec.h, which
 * libsteadykv links too) and a small blocking client.
 */
#ifndef SKV_COORD_PROTO_H
#define SKV_COORD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/coord_codec.h"

/* ---- blocking I/O ---- */

/*
 * Write all of @len bytes to a (blocking or non-blocking) socket within
 * @timeout_ms (<0: no limit).  0 or -errno (-ETIMEDOUT).
 */
/*
 * getaddrinfo() for a TCP stream to or on @host (NULL: any) : @port;
 * @passive for a listening socket. Returns 0 or a getaddrinfo() error code.
 */
struct addrinfo;
int coord_resolve_tcp(const char *host, uint16_t port, bool passive,
		      struct addrinfo **res);

int coord_write_all(int fd, const void *data, size_t len, int timeout_ms);
/*
 * Read one whole frame: the header into *h and a malloc'd body (NULL when
 * empty) into *body.  -EBADMSG (bad header: close), -ECONNRESET (peer
 * closed), -ETIMEDOUT or -errno.
 */
int coord_read_frame(int fd, int timeout_ms, struct coord_hdr *h,
		     uint8_t **body);

struct coord_client {
	int fd;
	uint64_t next_id;
	int timeout_ms;		/* per call; default 5000 */
	char err[256];		/* the last failure, "" if none */
};

struct coord_reply {
	uint16_t status;	/* 0 or positive errno from the peer */
	uint8_t *body;		/* malloc'd, NULL when empty */
	size_t len;
};

/* Connect to "host:port" within @timeout_ms.  0 or -errno, c->err set. */
int coord_client_connect(struct coord_client *c, const char *hostport,
			 int timeout_ms);
void coord_client_close(struct coord_client *c);

/*
 * Send a request and wait for its reply.  Requests the peer sends in the
 * meantime (only node daemons receive any) are discarded.  Returns 0 when
 * a reply arrived (check r->status: on non-zero, c->err holds the peer's
 * message), or -errno for a transport failure (c->err set; the connection
 * is closed).  Free the reply with coord_reply_free().
 */
int coord_client_call(struct coord_client *c, uint8_t opcode,
		      const void *body, size_t len, struct coord_reply *r);
void coord_reply_free(struct coord_reply *r);

/*
 * Authenticate the connection as @role with key @k (AUTH_HELLO, check the
 * coordinator's MAC, AUTH_PROOF).  0, or -errno with c->err set:
 * -EKEYREJECTED when the coordinator did not prove the key (the
 * connection is closed before any proof is sent) or refused ours, or the
 * coordinator's status.
 */
struct skv_auth_key;
int coord_client_auth(struct coord_client *c, const struct skv_auth_key *k,
		      int role);
/*
 * Where steadykvctl and the tests take the admin key from when no
 * --admin-key is given.
 */
#define COORD_DEFAULT_ADMIN_KEY	"/etc/steadykv/admin.key"

#endif /* SKV_COORD_PROTO_H */
