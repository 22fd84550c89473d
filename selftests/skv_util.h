/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the steadykv selftests: a raw wire-protocol client
 * (include/steadykv/wire.h, spoken byte by byte so the tests see exactly what
 * the node sends, independent of libsteadykv), the selftests' use of the one
 * generic netlink client, libskvnl (tests that send malformed requests build
 * them with its low-level sknl_request()), and a private-namespace node
 * fixture.
 *
 * Names start with st_ so they never collide with libsteadykv's.
 */
#ifndef SKV_SELFTEST_UTIL_H
#define SKV_SELFTEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sknl.h"
#include "auth_key.h"

#include <steadykv/wire.h>
#include <linux/steadykv.h>

#define ST_TABLE	1ull		/* table with one tablet over the whole hash space */
#define ST_PORT		7000
#define ST_ADDR		"127.0.0.1"
#define ST_IO_TIMEOUT_MS 20000		/* bound on every blocking socket call */

/* ---- wire protocol ------------------------------------------------------ */

struct st_reply {
	struct skv_hdr h;	/* converted to host order */
	uint8_t *body;		/* malloc'ed (NULL if body_len == 0) */
	uint32_t len;
};

/* One decoded item of a MULTI-GET reply. */
struct st_item {
	uint8_t status;
	uint64_t version;
	uint32_t value_len;
	const uint8_t *value;	/* points into the reply body */
};

/* TCP connection to ip:port with send/receive timeouts; -1 on error. */
int st_connect(const char *ip, uint16_t port);
/* Same, but retries for up to timeout_ms while the port refuses. */
int st_connect_wait(const char *ip, uint16_t port, int timeout_ms);
int st_send_all(int fd, const void *buf, size_t len);
/* 0 = got len bytes; -1 = error/timeout; 1 = EOF before len bytes. */
int st_recv_all(int fd, void *buf, size_t len);
void st_close_rst(int fd);	/* close with an RST (SO_LINGER 0) */

/* Frame builders: write a request into buf, return the frame length. */
size_t st_hdr(void *buf, uint8_t opcode, uint64_t id, uint32_t body_len);
size_t st_build_ping(void *buf, uint64_t id);
size_t st_build_put(void *buf, uint64_t id, uint64_t table, const void *key,
		    uint16_t klen, const void *val, uint32_t vlen, uint64_t expect);
/* GET or DELETE. */
size_t st_build_key(void *buf, uint8_t op, uint64_t id, uint64_t table,
		    const void *key, uint16_t klen, uint64_t expect);
size_t st_build_mget(void *buf, uint64_t id, uint64_t table,
		     const char *const *keys, unsigned int n);
/*
 * Node-to-node requests (wire.h, "Migration"): PREPARE, END or the head of
 * a PUSH_BACK (a skv_mig_range_req; extra: bytes of batch the caller puts
 * after it, counted in body_len), and PULL.  Return the bytes written.
 */
size_t st_build_range(void *buf, uint8_t op, uint64_t req_id, uint64_t mig_id,
		      uint64_t table, uint64_t start, uint64_t end, uint32_t flags,
		      uint32_t extra);
size_t st_build_pull(void *buf, uint64_t req_id, uint64_t mig_id, uint64_t table,
		     uint64_t start, uint64_t end, uint64_t cursor, uint64_t min_version,
		     uint32_t budget);
/* Upper bound of a frame's size, for allocating buf. */
#define ST_FRAME_MAX(klen, vlen) (sizeof(struct skv_hdr) + 32 + (klen) + (vlen))

/*
 * Read one reply frame: checks magic, version, SKV_F_REPLY and the reserved
 * fields, allocates the body.  0 on success, 1 on EOF/reset before a header,
 * -1 on error, timeout or a malformed reply (reason in st_last_error).
 */
int st_recv_reply(int fd, struct st_reply *r);
void st_reply_free(struct st_reply *r);
extern char st_last_error[256];

/*
 * Request/reply helpers.  Return the reply status (>= 0), or -1 on a
 * transport or protocol error (reason in st_last_error).  *ver gets the
 * version in the reply body when the body has one, else 0.
 */
int st_ping(int fd);
int st_put(int fd, uint64_t table, const void *key, size_t klen,
	   const void *val, size_t vlen, uint64_t expect, uint64_t *ver);
int st_puts(int fd, uint64_t table, const char *key, const char *val,
	    uint64_t expect, uint64_t *ver);
/* *val is malloc'ed (free it), NULL unless OK. */
int st_get(int fd, uint64_t table, const void *key, size_t klen,
	   uint8_t **val, uint32_t *vlen, uint64_t *ver);
int st_gets(int fd, uint64_t table, const char *key, char **val, uint64_t *ver);
/* A GET reply r (freed) as st_get() returns it: its status, or -1. */
int st_parse_get(struct st_reply *r, uint8_t **val, uint32_t *vlen, uint64_t *ver);
/*
 * GETs of it[0..n) sent at once, then their replies read in order: each
 * item's status, version and value (malloc'ed; the caller frees it).
 * 0, or -1 on a transport or protocol error (reason in st_last_error).
 */
struct st_get_item {
	const void *key;
	size_t klen;
	int status;
	uint8_t *val;
	uint32_t vlen;
	uint64_t ver;
};
int st_get_many(int fd, uint64_t table, struct st_get_item *it, unsigned int n);
int st_del(int fd, uint64_t table, const void *key, size_t klen,
	   uint64_t expect, uint64_t *ver);
int st_dels(int fd, uint64_t table, const char *key, uint64_t expect, uint64_t *ver);
/* MULTI-GET; items (n entries) point into *r, which the caller frees. */
int st_mget(int fd, uint64_t table, const char *const *keys, unsigned int n,
	    struct st_reply *r, struct st_item *items);
/* Decode a MULTI-GET reply body into items (max n); returns count or -1. */
int st_parse_mget(const struct st_reply *r, struct st_item *items, unsigned int n);

/*
 * Wait up to timeout_ms for the peer to close: reads and discards whatever
 * arrives.  1 = closed (EOF or reset), 0 = still open at the deadline.
 */
int st_wait_closed(int fd, int timeout_ms);
/* 1 if nothing is readable and the connection is open right now. */
int st_is_open_quiet(int fd, int wait_ms);

/* A fresh connection can put and get back a value: 0 if so. */
int st_node_serves(const char *ip, uint16_t port, uint64_t table);

/* xxh64 of the key, as the node computes it (libxxhash, seed 0). */
uint64_t st_xxh64(const void *key, size_t len);
/* Write into buf (cap >= 32) a key whose hash is below (want_high == 0) or at/above 2^63. */
void st_key_on_side(char *buf, size_t cap, const char *prefix, int want_high,
		    uint64_t (*hash)(const void *, size_t));

const char *st_status_name(int status);

/* ---- generic netlink: libskvnl (userspace/nl/sknl.h) ---------------- */

/*
 * libskvnl's socket with strict checking and a receive timeout of
 * ST_IO_TIMEOUT_MS; its lines go to stdout as TAP comments.  0 or -errno.
 */
int st_nl_open(struct sknl *nl);
/* An events socket whose receive gives up after timeout_ms: 0 or -errno. */
int st_nl_events_open(struct sknl *ev, int timeout_ms);
/* listen-start on an IPv4 or IPv6 literal. */
int st_nl_listen(struct sknl *nl, const char *ip, uint16_t port, struct sknl_err *err);

#define ST_MAX_DUMP 64
/* Dumps into arrays of max entries: the number of objects (may exceed max) or -errno. */
int st_nl_tables(struct sknl *nl, uint64_t *ids, int max);
int st_nl_tablets(struct sknl *nl, struct sknl_tablet *t, int max);
/*
 * Poll node-get until the node counts want connections (closing ones
 * leave on the node's own time): 0, or -1 after timeout_ms.
 */
int st_nl_wait_connections(struct sknl *nl, uint64_t want, int timeout_ms);

/* ---- authentication (steadykv/auth.h, through common/auth_key.h) ------- */

/*
 * The selftests' cluster key: loaded from the file $STEADYKV_CLUSTER_KEY names
 * (lib.sh makes it, mode 0600), else random, made once per process.
 * NULL (reason in st_last_error) if the file cannot be loaded.
 */
const struct skv_auth_key *st_cluster_key(void);
/*
 * The steps of an initiator, each one request and its reply: the reply
 * status (>= 0), or -1 on a transport or protocol error.  HELLO's
 * challenge goes to *ch when the status is OK.
 */
int st_auth_hello(int fd, const struct skv_auth_hello *hello,
		  struct skv_auth_challenge *ch);
int st_auth_proof(int fd, const struct skv_auth_proof *proof);
/*
 * The whole handshake as a peer with key k: SKV_S_OK once both sides
 * proved the key, the status the node refused a step with, or -1 on an
 * error or a node that did not prove the key (reason in st_last_error).
 */
int st_auth(int fd, const struct skv_auth_key *k);
/* auth-set: the node's current key and, if prev, its previous key. */
int st_nl_set_keys(struct sknl *nl, const struct skv_auth_key *cur,
		   const struct skv_auth_key *prev, struct sknl_err *err);

/* ---- namespaces and the node fixture ------------------------------------ */

/* unshare(CLONE_NEWNET) and set lo up: 0 or -errno. */
int st_new_netns(void);
/*
 * In the current namespace: give the node st_cluster_key(), listen on
 * ST_ADDR:port, add table ST_TABLE with one tablet over the whole hash
 * space, wait until a connection works.  0 or -1 (reason in
 * st_last_error).
 */
int st_node_start(struct sknl *nl, uint16_t port);

/* Drop to uid/gid 65534 with no capabilities at all; 0 or -errno. */
int st_drop_privileges(void);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t st_now_ms(void);

#endif /* SKV_SELFTEST_UTIL_H */
