/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libsteadykv: a C client for the steadykv data plane (include/steadykv/wire.h).
 *
 * Link with:  -lsteadykv -lxxhash   (build/lib/libsteadykv.a)
 *
 * Return values: every function returning int returns SKV_OK (0) or a
 * negative enum skv_code.  Codes -1..-(SKV_S_MAX - 1) are the node's wire statuses
 * (code == -status); codes <= -100 are local errors.
 *
 * Connection errors (SKV_E_IO, SKV_E_PROTO, SKV_E_CLOSED, SKV_E_TIMEOUT,
 * SKV_E_NOMEM while receiving) are sticky: the byte stream can no longer be
 * trusted, so every later call on that connection returns the same code.
 * Close it and connect again.  skv_conn_errmsg() says what went wrong.
 * Status codes from the node (NOT_FOUND, RETRY, ...) leave the connection
 * usable.
 *
 * A connection is not thread-safe: use one per thread, or lock around it.
 */
#ifndef STEADYKV_CLIENT_H
#define STEADYKV_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <steadykv/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

enum skv_code {
	SKV_OK = 0,

	/* Statuses returned by the node: code == -(enum skv_status). */
	SKV_E_NOT_FOUND		= -SKV_S_NOT_FOUND,
	SKV_E_NOT_OWNER		= -SKV_S_NOT_OWNER,
	SKV_E_RETRY		= -SKV_S_RETRY,
	SKV_E_NO_SPACE		= -SKV_S_NO_SPACE,
	SKV_E_BAD_REQUEST	= -SKV_S_BAD_REQUEST,
	SKV_E_VERSION_MISMATCH	= -SKV_S_VERSION_MISMATCH,
	SKV_E_TOO_BIG		= -SKV_S_TOO_BIG,
	SKV_E_UNKNOWN_OP	= -SKV_S_UNKNOWN_OP,
	SKV_E_UNKNOWN_TABLE	= -SKV_S_UNKNOWN_TABLE,
	SKV_E_INTERNAL		= -SKV_S_INTERNAL,
	/*
	 * Migration statuses (node-to-node ops).  Not SKV_E_BUSY: that name
	 * was taken by the local "pipelined requests pending" error below.
	 */
	SKV_E_MIG_BUSY		= -SKV_S_BUSY,
	SKV_E_NO_MIGRATION	= -SKV_S_NO_MIGRATION,
	SKV_E_AUTH_REQUIRED	= -SKV_S_AUTH_REQUIRED,
	SKV_E_AUTH_FAILED	= -SKV_S_AUTH_FAILED,
	SKV_E_VERSION_LIMIT	= -SKV_S_VERSION_LIMIT,
	/* Client keys: the connection's key may not read or write the table. */
	SKV_E_ACCESS_DENIED	= -SKV_S_ACCESS_DENIED,
	/* The map the request was routed by predates the node's epoch (wire.h). */
	SKV_E_STALE_EPOCH	= -SKV_S_STALE_EPOCH,
	/* Replication statuses (node-to-node ops). */
	SKV_E_NOT_BACKUP	= -SKV_S_NOT_BACKUP,
	SKV_E_BACKUP_FULL	= -SKV_S_BACKUP_FULL,

	/* Local errors. */
	SKV_E_IO		= -100,	/* socket error; errno kept in skv_conn_errmsg() */
	SKV_E_PROTO		= -101,	/* malformed or unexpected reply */
	SKV_E_CLOSED		= -102,	/* peer closed the connection */
	SKV_E_TIMEOUT		= -103,	/* no progress within the timeout */
	SKV_E_NOMEM		= -104,
	SKV_E_INVAL		= -105,	/* bad argument */
	SKV_E_RESOLVE		= -106,	/* host name or address not resolvable */
	SKV_E_CONNECT		= -107,	/* connect failed; errno is set */
	SKV_E_FULL		= -108,	/* pipeline full: collect replies first */
	SKV_E_BUSY		= -109,	/* synchronous call while pipelined requests are pending */
	SKV_E_EMPTY		= -110,	/* skv_pipe_next with nothing pending */
};

/* A short English message for any code (never NULL; "unknown error N" otherwise). */
const char *skv_strerror(int code);
/* The code's name without prefix: "NOT_FOUND", "PROTO", ... ("UNKNOWN" otherwise). */
const char *skv_code_name(int code);

/* xxh64 of the key, seed 0: the hash that places a key in a tablet. */
uint64_t skv_key_hash(const void *key, size_t len);

struct skv_conn;
struct skv_client_key;

struct skv_opts {
	int timeout_ms;			/* connect, and each wait for the socket; 0: 5000; <0: never */
	unsigned int max_pending;	/* requests queued or awaiting a reply; 0: 1024 */
	size_t max_queued_bytes;	/* encoded requests not yet sent; 0: 1 MiB */
	/* Authenticate every connection with this client key; NULL: none. */
	const struct skv_client_key *client_key;
};

/*
 * Client keys.  A node may require them (steadykvctl node client-auth on):
 * then a connection must prove one (skv_authenticate(), once per
 * connection, or opts.client_key) before GET, MULTI-GET, PUT or DELETE,
 * or it gets SKV_E_AUTH_REQUIRED and the node closes it.  A key carries
 * the tables it may read and write: other ops get SKV_E_ACCESS_DENIED
 * and the connection stays usable.
 *
 * skv_client_key_load() reads a key file (hex, one line, mode 0600 or
 * tighter, owned by the caller or root: the cluster key files' format).
 * NULL on failure, with the reason in err (never the secret).
 * skv_client_key_free() wipes the secret; NULL is fine.
 */
struct skv_client_key *skv_client_key_load(const char *path, char *err, size_t err_len);
void skv_client_key_free(struct skv_client_key *key);
/* The key's id, as steadykvctl node client-key list shows it. */
uint32_t skv_client_key_id(const struct skv_client_key *key);
/*
 * The challenge-response on an idle connection: SKV_OK, or an error that
 * sticks (the node closes the connection): SKV_E_AUTH_FAILED (the node
 * does not hold the key, or could not prove it holds it), SKV_E_BUSY
 * (requests pending), a connection error.
 */
int skv_authenticate(struct skv_conn *conn, const struct skv_client_key *key);

/*
 * Connect over TCP to host (name, IPv4 or IPv6 literal) and port; sets
 * TCP_NODELAY.  opts may be NULL for the defaults.  On failure *conn is NULL
 * and the code is SKV_E_RESOLVE, SKV_E_CONNECT (errno set), SKV_E_TIMEOUT,
 * SKV_E_NOMEM, or (opts.client_key) what skv_authenticate() returned.
 */
int skv_connect(const char *host, uint16_t port, struct skv_conn **conn);
int skv_connect_opts(const char *host, uint16_t port, const struct skv_opts *opts,
		     struct skv_conn **conn);
/* Wrap an already connected stream socket (tests use a socketpair); takes fd (and
 * authenticates like skv_connect_opts() with opts.client_key). */
int skv_conn_from_fd(int fd, const struct skv_opts *opts, struct skv_conn **conn);
/* Close the socket and free everything, including pending requests. NULL is fine. */
void skv_close(struct skv_conn *conn);

void skv_set_timeout(struct skv_conn *conn, int timeout_ms);
int skv_conn_fd(const struct skv_conn *conn);
/* Detail of the last local error on this connection ("" if none). */
const char *skv_conn_errmsg(const struct skv_conn *conn);
/* retry_us of the last RETRY reply collected on this connection (0 if none). */
uint32_t skv_conn_retry_us(const struct skv_conn *conn);
/*
 * Stamp every request queued from now on with epoch: the version of the
 * map they are routed by (wire.h "Epochs"; 0, the default, is none).  A
 * node whose epoch is newer answers SKV_E_STALE_EPOCH.  skv_cluster
 * stamps its connections itself.
 */
void skv_conn_set_epoch(struct skv_conn *conn, uint64_t epoch);

/*
 * Limits checked locally.  The node's key and value limits (SKV_MAX_KEY_LEN,
 * SKV_MAX_VALUE_LEN, SKV_MAX_MULTI_KEYS) are NOT checked here, so that the
 * node stays the one authority (and tests can provoke TOO_BIG).  What the
 * library refuses, with SKV_E_TOO_BIG and without sending, is what cannot be
 * encoded or what the node would answer by closing the connection: a key
 * over 65535 bytes, more than 65535 multi-get keys, a body over
 * SKV_MAX_BODY_LEN.
 */

/* One value in a reply: a GET, or one key of a MULTI-GET. */
struct skv_item {
	int status;		/* SKV_OK or a negative node code for this key */
	uint32_t value_len;
	uint64_t version;	/* OK: value's version; NOT_FOUND: tombstone version or 0 */
	const void *value;	/* value_len bytes (see each call for who owns them) */
};

/* ---- Synchronous calls: one request, wait for its reply.  ----
 * They return SKV_E_BUSY if pipelined requests are pending.
 */

int skv_ping(struct skv_conn *conn);

/*
 * GET.  On SKV_OK, *value is a malloc()ed copy the caller free()s (never
 * NULL, even for an empty value, and NUL-terminated past *value_len for
 * convenience).  On SKV_E_NOT_FOUND, *value is NULL and *version is the
 * tombstone's version (or 0).  value_len and version may be NULL.
 */
int skv_get(struct skv_conn *conn, uint64_t table, const void *key, size_t key_len,
	    void **value, size_t *value_len, uint64_t *version);

/*
 * PUT.  expect_version 0 writes unconditionally; otherwise the key's current
 * version must equal it (SKV_E_VERSION_MISMATCH, and *version = current).
 * *version (may be NULL) receives the new version on success.
 */
int skv_put(struct skv_conn *conn, uint64_t table, const void *key, size_t key_len,
	    const void *value, size_t value_len, uint64_t expect_version,
	    uint64_t *version);

/* DELETE, conditional like PUT.  *version: the tombstone's version. */
int skv_delete(struct skv_conn *conn, uint64_t table, const void *key, size_t key_len,
	       uint64_t expect_version, uint64_t *version);

/*
 * MULTI-GET of count keys in one table.  On SKV_OK, *items is one malloc()ed
 * block of count items (values inside the same block): free(*items) once.
 * Each item has its own status.  On error *items is NULL.
 */
int skv_multi_get(struct skv_conn *conn, uint64_t table, unsigned int count,
		  const void *const *keys, const size_t *key_lens,
		  struct skv_item **items);

/* ---- Pipelined calls. ----
 *
 * skv_pipe_*() encode a request into the connection's send buffer and
 * remember (request id, opcode, cookie); nothing is sent yet.  They return
 * SKV_E_FULL when max_pending requests await replies, or when the queued
 * bytes would pass max_queued_bytes (a single request into an empty queue is
 * always accepted): flush and collect replies, then queue again.
 *
 * skv_pipe_flush() sends the queued requests.  While the socket cannot take
 * more it reads replies into the receive buffer so the node never stalls on
 * us; if that buffer is full too, it returns SKV_OK early and the rest goes
 * out from skv_pipe_next().  Calling skv_pipe_next() without a flush is
 * fine: it sends as needed.
 *
 * skv_pipe_next() returns the reply to the oldest pending request, so
 * replies come back in exactly the order the requests were queued; every
 * reply's request id and opcode are checked against it.  The return value
 * is about the connection: SKV_OK (a result was filled in), SKV_E_EMPTY
 * (nothing pending), or a sticky connection error.  The request's own
 * outcome is result->status.
 *
 * Pointers in a result (value, items and their values) point into the
 * connection's buffers and stay valid until the next call on the connection.
 */
struct skv_result {
	uint64_t cookie;	/* as given when queued */
	uint64_t request_id;
	uint8_t opcode;		/* enum skv_opcode */
	int status;		/* SKV_OK or a negative node code */
	uint64_t version;	/* GET/PUT/DELETE; NOT_FOUND, VERSION_MISMATCH too */
	uint32_t value_len;	/* GET */
	const void *value;	/* GET */
	uint32_t retry_us;	/* RETRY */
	unsigned int item_count;		/* MULTI-GET (status OK) */
	const struct skv_item *items;
};

int skv_pipe_ping(struct skv_conn *conn, uint64_t cookie);
int skv_pipe_get(struct skv_conn *conn, uint64_t table, const void *key, size_t key_len,
		 uint64_t cookie);
int skv_pipe_put(struct skv_conn *conn, uint64_t table, const void *key, size_t key_len,
		 const void *value, size_t value_len, uint64_t expect_version,
		 uint64_t cookie);
int skv_pipe_delete(struct skv_conn *conn, uint64_t table, const void *key,
		    size_t key_len, uint64_t expect_version, uint64_t cookie);
int skv_pipe_multi_get(struct skv_conn *conn, uint64_t table, unsigned int count,
		       const void *const *keys, const size_t *key_lens, uint64_t cookie);
int skv_pipe_flush(struct skv_conn *conn);
int skv_pipe_next(struct skv_conn *conn, struct skv_result *result);
/* Requests queued or sent whose reply has not been collected yet. */
unsigned int skv_pipe_pending(const struct skv_conn *conn);

/* ---- Raw access, for tests. ----
 * Both need an idle pipeline (SKV_E_BUSY otherwise).  skv_send_raw() writes
 * len arbitrary bytes; skv_recv_raw() reads exactly len bytes (SKV_E_CLOSED
 * if the peer closes first, SKV_E_TIMEOUT).  Neither makes errors sticky:
 * the caller owns the stream's framing from then on.
 */
int skv_send_raw(struct skv_conn *conn, const void *buf, size_t len);
int skv_recv_raw(struct skv_conn *conn, void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* STEADYKV_CLIENT_H */
