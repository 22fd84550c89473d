/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the steadykv selftests: a raw wire-protocol client
 * (include/steadykv/wire.h, spoken byte by byte so the tests see exactly what
 * the node sends, independent of libsteadykv), a raw generic netlink client
 * (libnl builds and resolves; replies, acks and extack are parsed by hand)
 * and a private-namespace node fixture.
 *
 * Names start with st_ so they never collide with libsteadykv's.
 */
#ifndef SKV_SELFTEST_UTIL_H
#define SKV_SELFTEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <netlink/msg.h>
#include <netlink/attr.h>

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

/* ---- generic netlink ---------------------------------------------------- */

struct st_nl {
	struct nl_sock *sk;
	int fd;
	int family;
};

struct st_nl_res {
	int err;		/* 0 or negative errno from the kernel */
	char msg[512];		/* NLMSGERR_ATTR_MSG, "" if none */
	int miss_type;		/* NLMSGERR_ATTR_MISS_TYPE, -1 if none */
	int has_offs;		/* NLMSGERR_ATTR_OFFS present */
	int nmsgs;		/* data messages seen (dumps and do replies) */
};

/* Called for each data message of a reply; nlh points at the message. */
typedef void (*st_nl_cb)(struct nlmsghdr *nlh, void *arg);

/* Socket with NETLINK_EXT_ACK and strict checking, family resolved. */
int st_nl_open(struct st_nl *nl);
void st_nl_close(struct st_nl *nl);
/* A request for cmd with NLM_F_REQUEST|NLM_F_ACK|extra_flags. */
struct nl_msg *st_nl_msg(struct st_nl *nl, uint8_t cmd, int extra_flags);
/*
 * Send m (freed here) and read until its ack / NLMSG_DONE.  Returns the
 * kernel's error (0 or -errno) or a local -errno; res (optional) gets the
 * details.
 */
int st_nl_xfer(struct st_nl *nl, struct nl_msg *m, st_nl_cb cb, void *arg,
	       struct st_nl_res *res);

/* Convenience control operations; return 0 or -errno. */
int st_nl_listen(struct st_nl *nl, const char *ip, uint16_t port, struct st_nl_res *res);
int st_nl_listen_stop(struct st_nl *nl, struct st_nl_res *res);
int st_nl_table_add(struct st_nl *nl, uint64_t id, struct st_nl_res *res);
int st_nl_table_del(struct st_nl *nl, uint64_t id, struct st_nl_res *res);
/* state < 0: no state attribute. */
int st_nl_tablet_add(struct st_nl *nl, uint64_t table, uint64_t start, uint64_t end,
		     int state, struct st_nl_res *res);
int st_nl_tablet_del(struct st_nl *nl, uint64_t table, uint64_t start, uint64_t end,
		     struct st_nl_res *res);
int st_nl_tablet_set(struct st_nl *nl, uint64_t table, uint64_t start, uint64_t end,
		     int state, struct st_nl_res *res);
int st_nl_mem_limit(struct st_nl *nl, uint64_t bytes, struct st_nl_res *res);

/* node-get: the attributes of the reply (tb[STEADYKV_A_NODE_*], NULL if absent). */
struct st_node_info {
	int have[STEADYKV_A_NODE_MAX + 1];
	uint64_t val[STEADYKV_A_NODE_MAX + 1];	/* integers widened to u64 */
	uint8_t addr[16];
	int addr_len;
};
int st_nl_node_get(struct st_nl *nl, struct st_node_info *ni, struct st_nl_res *res);

#define ST_MAX_DUMP 64
struct st_tablet {
	uint64_t table, start, end;
	uint32_t state;
	int has_state;
};
/* Dumps; return number of entries (<= max) or -errno. */
int st_nl_tables(struct st_nl *nl, uint64_t *ids, int max);
int st_nl_tablets(struct st_nl *nl, struct st_tablet *t, int max);

/* ---- migrations (migrate-start, -cancel, -get) --------------------------- */

struct st_mig_req {
	uint64_t id, table, start, end;
	char addr[64];		/* IPv4 or IPv6 text */
	uint16_t port;
	/* < 0: attribute left out (the node's default). */
	int mode, partitions, inflight, budget, prio;
};

struct st_mig {
	int have[STEADYKV_A_MIGRATION_MAX + 1];
	uint64_t val[STEADYKV_A_MIGRATION_MAX + 1];	/* integers widened */
	char msg[256];					/* error-msg */
};

int st_nl_migrate_start(struct st_nl *nl, const struct st_mig_req *r,
			struct st_nl_res *res);
int st_nl_migrate_cancel(struct st_nl *nl, uint64_t id, struct st_nl_res *res);
/* migrate-get of one id. */
int st_nl_migrate_get(struct st_nl *nl, uint64_t id, struct st_mig *out,
		      struct st_nl_res *res);
/* Parse a migrate-get reply or migrate-ntf message into mi (zeroed first by the caller). */
void st_mig_parse(struct nlmsghdr *nlh, struct st_mig *mi);
/* "preparing", "pulling", ... ("?" if unknown). */
const char *st_mig_state_name(uint64_t state);

/* ---- namespaces and the node fixture ------------------------------------ */

/* unshare(CLONE_NEWNET) and set lo up: 0 or -errno. */
int st_new_netns(void);
/*
 * In the current namespace: listen on ST_ADDR:port, add table ST_TABLE
 * with one tablet over the whole hash space, wait until a connection
 * works.  0 or -1 (reason in st_last_error).
 */
int st_node_start(struct st_nl *nl, uint16_t port);

/* Drop to uid/gid 65534 with no capabilities at all; 0 or -errno. */
int st_drop_privileges(void);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t st_now_ms(void);

#endif /* SKV_SELFTEST_UTIL_H */
