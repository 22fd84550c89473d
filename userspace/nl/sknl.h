/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libskvnl: the one client of the steadykv generic netlink family, on
 * libnl-genl-3, used by steadykvctl, steadykvd's node agent and the
 * selftests.
 *
 *   sknl.c         sockets with extended ACKs, requests that wait for their
 *                  ACK, dumps that restart when interrupted, errors that
 *                  carry the kernel's extack message (the low-level API:
 *                  sknl_request / sknl_transact*, also how tests send
 *                  deliberately malformed requests)
 *   sknl_obj.c     names; node, listen, tables and tablets as typed calls
 *   sknl_mig.c     migrations: struct skv_migration to and from attributes
 *   sknl_events.c  the "events" socket and events as typed structs
 *
 * Typed calls return 0 or a negative errno and fill err (may be NULL)
 * without logging; sknl_err_log() prints an error the way steadykvctl
 * always did.  Messages go through a log hook (sknl_set_log): by default
 * one line "steadykvctl: TEXT" on stderr.
 */
#ifndef SKV_NL_SKNL_H
#define SKV_NL_SKNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <uapi/linux/steadykv.h>

#include "mig_names.h"
#include "mig_record.h"

/* A failed request: what the kernel said. */
struct sknl_err {
	int error;		/* positive errno; 0 if none */
	char msg[256];		/* extack message, "" if none */
	const char *bad_attr;	/* name of the attribute it pointed at, or NULL */
	const char *missing_attr;	/* name of a missing attribute, or NULL */
	int bad_type;		/* type of the attribute it pointed at, 0 if none */
	int missing_type;	/* type of a missing attribute, 0 if none */
	bool local;		/* not the kernel's answer: msg is libnl's reason */
};

struct sknl {
	struct nl_sock *sk;
	int family;
};

/* Replies collected by a request or a dump, processed after it completes. */
struct sknl_replies {
	struct nl_msg **msgs;
	size_t count;
};

/* Where messages go: fn gets one line without the newline; NULL: default. */
void sknl_set_log(void (*fn)(const char *line));
/* Log one line through the hook. */
void sknl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Open a socket and resolve the steadykv family.  On failure log why
 * (with the module hint if the family is missing) and return -1; err (may
 * be NULL) gets ENOENT if the family is missing, else the errno.
 */
int sknl_open(struct sknl *nl);
int sknl_open_err(struct sknl *nl, struct sknl_err *err);
void sknl_close(struct sknl *nl);

/* ---- low level: build a request, send it, collect the replies ---- */

/* A request for cmd (NLM_F_REQUEST | NLM_F_ACK, plus flags); NULL on ENOMEM. */
struct nl_msg *sknl_request(const struct sknl *nl, uint8_t cmd, int flags);

/*
 * Send msg (consumed), collect every reply message into out (may be NULL),
 * and wait for the ACK or, for a dump, NLMSG_DONE; a dump interrupted by a
 * concurrent change (NLM_F_DUMP_INTR) is run again from the start.
 * 0 or a negative errno, err (may be NULL) filled; logs nothing.
 */
int sknl_transact_err(struct sknl *nl, struct nl_msg *msg, struct sknl_replies *out,
		      struct sknl_err *err);
/* The same, logging "OP: STRERROR: EXTACK" on error and returning -1. */
int sknl_transact(struct sknl *nl, struct nl_msg *msg, const char *op, struct sknl_replies *out);
void sknl_replies_free(struct sknl_replies *r);
/* err as "STRERROR: EXTACK (attribute X)" into buf. */
void sknl_err_format(const struct sknl_err *err, char *buf, size_t len);
/* Log "OP: " and err: the kernel's as sknl_err_format, a local one as its msg. */
void sknl_err_log(const char *op, const struct sknl_err *err);
/* Fill err for a failure of the caller's own (bad input, malformed reply): -e. */
int sknl_err_local(struct sknl_err *err, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The generic netlink header and attributes of a reply. */
struct genlmsghdr *sknl_genlhdr(struct nl_msg *msg);
int sknl_parse(struct nl_msg *msg, struct nlattr **tb, int maxtype,
	       const struct nla_policy *policy);

/* ---- names ---- */

/* "tablet-set"; "unknown" for a command the family does not have. */
const char *sknl_cmd_name(uint8_t cmd);
/* Tablet states ("migrating-in"): name ("unknown") and parse (0 or -1). */
const char *sknl_state_name(uint32_t state);
int sknl_state_parse(const char *s, uint32_t *state);
int sknl_mig_mode_parse(const char *s, uint32_t *mode);
/* The name of attribute type of the migration set ("pulls-in-flight"). */
const char *sknl_mig_attr_name(int type);

/* ---- addresses ---- */

/* An IPv4 or IPv6 literal ("[...]" allowed) into network-order bytes: 0 or -1. */
int sknl_addr_parse(const char *s, uint8_t addr[16], int *alen);
/* A host name or literal, resolved (first address): 0 or -1. */
int sknl_addr_resolve(const char *host, uint8_t addr[16], int *alen);

/* ---- node and listener ---- */

/* node-get: every attribute received; integers widened to u64. */
struct sknl_node {
	uint64_t present;			/* 1 << STEADYKV_A_NODE_* */
	uint64_t val[STEADYKV_A_NODE_MAX + 1];
	uint8_t listen_addr[16];		/* network order */
	int listen_addr_len;			/* 4 or 16; 0 if absent */
};

#define SKNL_NODE_HAS(n, attr)	(((n)->present >> (attr)) & 1)

int sknl_node_get(struct sknl *nl, struct sknl_node *node, struct sknl_err *err);
int sknl_node_set_mem_limit(struct sknl *nl, uint64_t bytes, struct sknl_err *err);
/* node-set epoch: the node learns it (its epoch never goes back). */
int sknl_node_learn_epoch(struct sknl *nl, uint64_t epoch, struct sknl_err *err);
/* node-set mig-fault-*: the test knob (kmod/mig_source.h). */
struct sknl_mig_fault {
	uint32_t op;		/* wire opcode */
	uint32_t mode;		/* enum steadykv_mig_fault_mode */
	uint32_t status;	/* mode refuse: the wire status */
	uint32_t count;		/* requests picked */
};
int sknl_node_set_mig_fault(struct sknl *nl, const struct sknl_mig_fault *f,
			    struct sknl_err *err);
/*
 * auth-set: the cluster keys (cur, and prev during a rotation; a length
 * of 0 leaves it out) and/or insecure mode (0 or 1; -1 leaves it as is).
 * The secret goes into the request only (the request's buffer is freed
 * by libnl: callers wipe their own copies).
 */
struct sknl_auth {
	const uint8_t *cur;
	size_t cur_len;
	const uint8_t *prev;
	size_t prev_len;
	int insecure;
};

int sknl_auth_set(struct sknl *nl, const struct sknl_auth *auth, struct sknl_err *err);

/*
 * Client keys (sknl_client.c).  A key's rights: every table (read_all,
 * write_all) and/or up to STEADYKV_CLIENT_KEY_TABLES_MAX tables each.
 */
struct sknl_client_key {
	uint32_t id;		/* dumps only: the module's id of the key */
	bool read_all;
	bool write_all;
	size_t nread;
	size_t nwrite;
	uint64_t read[STEADYKV_CLIENT_KEY_TABLES_MAX];
	uint64_t write[STEADYKV_CLIENT_KEY_TABLES_MAX];
};

/* auth-set client-auth-required: 1 to require client keys, 0 not to. */
int sknl_client_auth_required(struct sknl *nl, int on, struct sknl_err *err);
/* client-key-add: the secret goes into the request only (wipe yours). */
int sknl_client_key_add(struct sknl *nl, const uint8_t *secret, size_t len,
			const struct sknl_client_key *rights, struct sknl_err *err);
int sknl_client_key_del(struct sknl *nl, uint32_t id, struct sknl_err *err);
/* Every client key (ids and rights); *out is malloc'd (NULL when *count is 0). */
int sknl_client_key_dump(struct sknl *nl, struct sknl_client_key **out, size_t *count,
			 struct sknl_err *err);

/* addr: 4 or 16 bytes, network order. */
int sknl_listen_start(struct sknl *nl, const uint8_t *addr, int alen, uint16_t port,
		      struct sknl_err *err);
int sknl_listen_stop(struct sknl *nl, struct sknl_err *err);

/* ---- tables and tablets ---- */

struct sknl_table {
	uint64_t present;	/* 1 << STEADYKV_A_TABLE_* */
	uint64_t id;
};

struct sknl_tablet {
	uint64_t present;	/* 1 << STEADYKV_A_TABLET_* */
	uint64_t table_id;
	uint64_t start_hash;	/* inclusive */
	uint64_t end_hash;	/* inclusive */
	uint32_t state;		/* enum steadykv_tablet_state */
	uint64_t requests;	/* metrics-requests (dumps) */
};

#define SKNL_TABLET_HAS(t, attr)	(((t)->present >> (attr)) & 1)

int sknl_table_add(struct sknl *nl, uint64_t id, struct sknl_err *err);
int sknl_table_del(struct sknl *nl, uint64_t id, struct sknl_err *err);
/* Every table; *out is malloc'd (NULL when *count is 0). */
int sknl_table_dump(struct sknl *nl, struct sknl_table **out, size_t *count,
		    struct sknl_err *err);
/* state < 0: no state attribute (the module's default, normal). */
int sknl_tablet_add(struct sknl *nl, uint64_t table, uint64_t start, uint64_t end,
		    int state, struct sknl_err *err);
int sknl_tablet_del(struct sknl *nl, uint64_t table, uint64_t start, uint64_t end,
		    struct sknl_err *err);
int sknl_tablet_set(struct sknl *nl, uint64_t table, uint64_t start, uint64_t end,
		    uint32_t state, struct sknl_err *err);
int sknl_tablet_dump(struct sknl *nl, struct sknl_tablet **out, size_t *count,
		     struct sknl_err *err);

/* ---- migrations (struct skv_migration, mig_record.h) ---- */

/*
 * migrate-start with the request attributes present in m (range, source,
 * tuning; the rest of the record is not sent).  m->source ("HOST:PORT", a
 * name is resolved) becomes source-addr and source-port.  A tuning field
 * that is absent is left out: the module applies its default.
 */
int sknl_migrate_start(struct sknl *nl, const struct skv_migration *m, struct sknl_err *err);
int sknl_migrate_cancel(struct sknl *nl, uint64_t id, struct sknl_err *err);
/* migrate-decide at a source: commit or abort its outgoing migration id. */
int sknl_migrate_decide(struct sknl *nl, uint64_t id, bool abort, struct sknl_err *err);
int sknl_migrate_get(struct sknl *nl, uint64_t id, struct skv_migration *m,
		     struct sknl_err *err);
/* Every migration the module holds; *out is malloc'd (NULL when *count is 0). */
int sknl_migrate_dump(struct sknl *nl, struct skv_migration **out, size_t *count,
		      struct sknl_err *err);

/* The integer attribute attr of m (present or not) into v: false if attr is not one. */
bool sknl_mig_value(const struct skv_migration *m, int attr, uint64_t *v);
/* A migrate-get reply or migrate-ntf into m: 0, or -1 if malformed. */
int sknl_migration_parse(struct nl_msg *msg, struct skv_migration *m);
/* The present attributes of m into msg (source resolved): 0 or a negative errno. */
int sknl_migration_put(struct nl_msg *msg, const struct skv_migration *m);

/* ---- metrics (sknl_metrics.c) ---- */

#define SKNL_METRICS_STATUSES	64	/* most statuses a reply may carry */
#define SKNL_METRICS_BUCKETS	64	/* most latency buckets */

/* metrics-get: one opcode's replies by status and service-time histogram. */
struct sknl_metrics_op {
	uint32_t op;
	uint64_t status[SKNL_METRICS_STATUSES];
	size_t nstatus;			/* entries the module sent */
	uint64_t bucket[SKNL_METRICS_BUCKETS];	/* bucket i: < 2^i ns */
	size_t nbucket;
	uint64_t sum_ns;
};

/* Every opcode that replied; *out is malloc'd (NULL when *count is 0). */
int sknl_metrics_dump(struct sknl *nl, struct sknl_metrics_op **out, size_t *count,
		      struct sknl_err *err);

/* A migration with its metrics-client-retries. */
struct sknl_mig_metrics {
	struct skv_migration mig;
	uint64_t client_retries;
};

/* Every migration the module holds, as sknl_migrate_dump, with retries. */
int sknl_migrate_dump_metrics(struct sknl *nl, struct sknl_mig_metrics **out, size_t *count,
			      struct sknl_err *err);

/* ---- events ---- */

/*
 * An events socket: its own socket (no reply traffic mixes in), joined to
 * the "events" group before the caller reads any state, with rcvbuf bytes
 * of receive buffer; non-blocking if asked (for a poll loop).  0 or -1
 * (logged).
 */
int sknl_events_open(struct sknl *ev, int rcvbuf, bool nonblock);
/* The fd that becomes readable when events wait. */
int sknl_events_fd(const struct sknl *ev);

enum sknl_obj_kind { SKNL_OBJ_NODE, SKNL_OBJ_TABLE, SKNL_OBJ_TABLET, SKNL_OBJ_MIGRATION };

/* One event (or dumped object): the object of the set its command uses. */
struct sknl_event {
	uint8_t cmd;			/* STEADYKV_CMD_* */
	enum sknl_obj_kind kind;
	bool malformed;			/* the attributes did not parse */
	union {
		struct sknl_node node;
		struct sknl_table table;
		struct sknl_tablet tablet;
		struct skv_migration mig;
	};
};

/* Which attribute set cmd's messages carry. */
enum sknl_obj_kind sknl_cmd_kind(uint8_t cmd);
/* Parse msg into ev (by its command's set); ev->malformed on failure. */
void sknl_event_parse(struct nl_msg *msg, struct sknl_event *ev);

/*
 * Receive what waits on an events socket, calling fn for each event of
 * the steadykv family sent by the kernel.  A blocking socket waits for at
 * least one batch.  Returns 0, -EAGAIN (non-blocking, nothing left),
 * -ENOBUFS (the buffer overran: events were lost; re-read the state), or
 * another negative errno.
 */
int sknl_events_recv(struct sknl *ev, void (*fn)(const struct sknl_event *ev, void *arg),
		     void *arg);
/* Drop every event queued (after an overrun, before re-reading the state). */
void sknl_events_drain(struct sknl *ev);

/* ---- replication (sknl_repl.c) ---- */

#define SKNL_REPL_MAX_BACKUPS	8

struct sknl_repl_backup {
	uint8_t addr[16];	/* network order */
	int alen;		/* 4 or 16 */
	uint16_t port;
};

/* A repl-get reply (this node as a primary) or one replica-get entry. */
struct sknl_repl {
	uint64_t present;			/* 1 << STEADYKV_A_REPL_* */
	uint64_t val[STEADYKV_A_REPL_MAX + 1];
	struct sknl_repl_backup backups[SKNL_REPL_MAX_BACKUPS];
	int nbackups;
};

#define SKNL_REPL_HAS(r, attr)	(((r)->present >> (attr)) & 1)

/* n = 0: no replication (primary_id and epoch are not sent). */
int sknl_repl_set(struct sknl *nl, uint64_t primary_id, uint64_t epoch,
		  const struct sknl_repl_backup *backups, int n, struct sknl_err *err);
int sknl_repl_get(struct sknl *nl, struct sknl_repl *out, struct sknl_err *err);
int sknl_replica_dump(struct sknl *nl, struct sknl_repl **out, size_t *count,
		      struct sknl_err *err);
int sknl_repl_fence(struct sknl *nl, uint64_t primary_id, uint64_t epoch,
		    struct sknl_err *err);
/*
 * Rebuild a tablet of a dead primary from this node's replica of it
 * (crash recovery); out gets the recover-* figures of the reply.
 */
int sknl_repl_recover(struct sknl *nl, uint64_t primary_id, uint64_t epoch,
		      uint64_t table_id, uint64_t start_hash, uint64_t end_hash,
		      struct sknl_repl *out, struct sknl_err *err);

#endif
