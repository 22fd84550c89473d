/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The responder side of authentication on a node's data port: the
 * AUTH_HELLO and AUTH_PROOF ops, and what a connection has proven.
 */
#ifndef SKV_AUTH_REQUEST_H
#define SKV_AUTH_REQUEST_H

#include <linux/types.h>

struct skv_conn;
struct skv_hdr;

/*
 * AUTH_HELLO or AUTH_PROOF.  A malformed or refused step is answered
 * AUTH_FAILED and the connection closes after the reply; so are a second
 * HELLO and a PROOF without a HELLO.  0, or a negative errno (no memory).
 */
int skv_auth_request(struct skv_conn *c, const struct skv_hdr *h,
		     const u8 *body, u32 len);

/*
 * May this connection send node-to-node ops?  Only if it authenticated as
 * a peer, or the node is in insecure mode.  Otherwise the caller answers
 * skv_auth_refuse().
 */
bool skv_conn_is_peer(const struct skv_conn *c);

/* Answer AUTH_REQUIRED and close the connection after the reply. */
int skv_auth_refuse(struct skv_conn *c, const struct skv_hdr *h);

/* Free the handshake under way and the client key proven (connection teardown). */
void skv_auth_conn_release(struct skv_conn *c);

#endif /* SKV_AUTH_REQUEST_H */
