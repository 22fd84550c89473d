/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libskvnl: the generic netlink plumbing of steadykvctl and steadykvd, on
 * libnl-genl-3: sockets with extended ACKs, requests that wait for their
 * ACK, dumps that restart when interrupted, errors that carry the kernel's
 * extack message, an events socket subscribed to the "events" group, and
 * the migration attribute set as a plain struct.
 *
 * Messages go through a log hook (sknl_set_log): by default one line
 * "steadykvctl: TEXT" on stderr, as steadykvctl always printed them.
 */
#ifndef SKV_NL_SKNL_H
#define SKV_NL_SKNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>

/* A failed request: what the kernel said. */
struct sknl_err {
	int error;		/* positive errno; 0 if none */
	char msg[256];		/* extack message, "" if none */
	const char *bad_attr;	/* name of the attribute it pointed at, or NULL */
	const char *missing_attr;	/* name of a missing attribute, or NULL */
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

/* A request for cmd (NLM_F_REQUEST | NLM_F_ACK, plus flags); NULL on ENOMEM. */
struct nl_msg *sknl_request(const struct sknl *nl, uint8_t cmd, int flags);

/*
 * Send msg (consumed), collect every reply message into out (may be NULL),
 * and wait for the ACK or, for a dump, NLMSG_DONE; a dump interrupted by a
 * concurrent change (NLM_F_DUMP_INTR) is run again from the start.  On error
 * log "OP: STRERROR: EXTACK" and return -1.
 */
int sknl_transact(struct sknl *nl, struct nl_msg *msg, const char *op, struct sknl_replies *out);
/* The same, logging nothing: 0 or a negative errno, and err filled. */
int sknl_transact_err(struct sknl *nl, struct nl_msg *msg, struct sknl_replies *out,
		      struct sknl_err *err);
void sknl_replies_free(struct sknl_replies *r);
/* err as "STRERROR: EXTACK (attribute X)" into buf. */
void sknl_err_format(const struct sknl_err *err, char *buf, size_t len);

/* The generic netlink header and attributes of a reply. */
struct genlmsghdr *sknl_genlhdr(struct nl_msg *msg);
int sknl_parse(struct nl_msg *msg, struct nlattr **tb, int maxtype,
	       const struct nla_policy *policy);

/* Multicast: resolve the "events" group id, or log why not and return -1. */
int sknl_events_group(struct sknl *nl);

/*
 * An events socket: its own socket (no reply traffic mixes in), joined to
 * the "events" group before the caller reads any state, with rcvbuf bytes
 * of receive buffer; non-blocking if asked (for a poll loop).  0 or -1
 * (logged).
 */
int sknl_events_open(struct sknl *ev, int rcvbuf, bool nonblock);
/*
 * Receive what waits on an events socket, calling fn for each message of
 * the steadykv family sent by the kernel.  A blocking socket waits for at
 * least one batch.  Returns 0, -EAGAIN (non-blocking, nothing left),
 * -ENOBUFS (the buffer overran: events were lost; re-read the state), or
 * another negative errno.
 */
int sknl_events_recv(struct sknl *ev, int (*fn)(struct nl_msg *msg, void *arg), void *arg);

/* Names of the family's commands ("tablet-set"), tablet states and migrations'. */
const char *sknl_cmd_name(uint8_t cmd);
const char *sknl_state_name(uint32_t state);
int sknl_state_parse(const char *s, uint32_t *state);
const char *sknl_mig_state_name(uint32_t state);
const char *sknl_mig_mode_name(uint32_t mode);
int sknl_mig_mode_parse(const char *s, uint32_t *mode);
/* done, cancelled or failed: nothing more will happen to it. */
bool sknl_mig_state_final(uint32_t state);
/* The name of attribute type of the migration set ("pulls-in-flight"). */
const char *sknl_mig_attr_name(int type);

/*
 * The migration attribute set.  present has bit (1 << attribute type) for
 * every attribute received (or, for sknl_migration_put, to send).
 */
struct sknl_migration {
	uint64_t present;
	uint64_t id;
	uint64_t table_id;
	uint64_t start_hash;
	uint64_t end_hash;
	uint8_t source_addr[16];	/* network order */
	uint8_t source_addr_len;	/* 4 or 16 */
	uint16_t source_port;
	uint32_t mode;
	uint32_t partitions;
	uint32_t pulls_in_flight;
	uint32_t pull_budget;
	uint8_t priority_pulls;
	uint32_t state;
	uint32_t error;
	char error_msg[256];
	uint64_t safe_version;
	uint64_t elapsed_us;
	uint32_t progress_permille;
	uint64_t bytes_pulled;
	uint64_t records_pulled;
	uint64_t records_replayed;
	uint64_t records_skipped;
	uint64_t pulls;
	uint64_t priority_pulls_sent;
	uint64_t priority_keys;
	uint32_t partitions_done;
	uint64_t owned_us;
};

#define SKNL_HAS(m, attr)	(((m)->present >> (attr)) & 1)
#define SKNL_SET(m, attr)	((m)->present |= 1ull << (attr))

/* Parse a migrate-get reply or migrate-ntf: 0, or -1 if malformed. */
int sknl_migration_parse(struct nl_msg *msg, struct sknl_migration *m);
/* Put the present attributes of m into msg: 0 or -1 (no room). */
int sknl_migration_put(struct nl_msg *msg, const struct sknl_migration *m);
/* The source address as "ADDR:PORT" or "[ADDR6]:PORT" ("" if absent). */
void sknl_migration_source(const struct sknl_migration *m, char *buf, size_t len);

#endif
