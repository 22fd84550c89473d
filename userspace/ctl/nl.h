/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Generic netlink plumbing for steadykvctl, on libnl-genl-3: sockets with
 * extended ACKs, requests that wait for their ACK, dumps that restart when
 * interrupted, and errors that carry the kernel's extack message.
 */
#ifndef SKV_CTL_NL_H
#define SKV_CTL_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>

struct sknl {
	struct nl_sock *sk;
	int family;
};

/* Replies collected by a request or a dump, processed after it completes. */
struct sknl_replies {
	struct nl_msg **msgs;
	size_t count;
};

/*
 * Open a socket and resolve the steadykv family.  On failure print why
 * (with the module hint if the family is missing) and return -1.
 */
int sknl_open(struct sknl *nl);
void sknl_close(struct sknl *nl);

/* A request for cmd (NLM_F_REQUEST | NLM_F_ACK, plus flags); NULL on ENOMEM. */
struct nl_msg *sknl_request(const struct sknl *nl, uint8_t cmd, int flags);

/*
 * Send msg (consumed), collect every reply message into out (may be NULL),
 * and wait for the ACK or, for a dump, NLMSG_DONE; a dump interrupted by a
 * concurrent change (NLM_F_DUMP_INTR) is run again from the start.  On error
 * print "steadykvctl: OP: STRERROR: EXTACK" and return -1.
 */
int sknl_transact(struct sknl *nl, struct nl_msg *msg, const char *op, struct sknl_replies *out);
void sknl_replies_free(struct sknl_replies *r);

/* The generic netlink header and attributes of a reply. */
struct genlmsghdr *sknl_genlhdr(struct nl_msg *msg);
int sknl_parse(struct nl_msg *msg, struct nlattr **tb, int maxtype,
	     const struct nla_policy *policy);

/* Multicast: resolve the "events" group id, or print why not and return -1. */
int sknl_events_group(struct sknl *nl);

/* Names of the family's commands ("tablet-set") and tablet states. */
const char *sknl_cmd_name(uint8_t cmd);
const char *sknl_state_name(uint32_t state);
int sknl_state_parse(const char *s, uint32_t *state);

#endif
