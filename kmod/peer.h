/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A blocking kernel TCP client to another node, for node-to-node
 * migration traffic (wire.h, "Migration").  Each user (a migration's
 * controller, each pull worker, each priority puller) has a peer of its
 * own, on a connection of its own, apart from client connections, so a
 * large pull reply never delays anything else.
 *
 * One thread uses a peer (connect, call, close); any other thread may
 * call skv_peer_shutdown() to wake it from a blocked connect, send or
 * receive and make every later call fail with -ESHUTDOWN.
 */
#ifndef SKV_PEER_H
#define SKV_PEER_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/socket.h>
#include <linux/jiffies.h>
#include <steadykv/wire.h>

struct net;
struct socket;

/* Timeouts: connect; a whole call (request sent, reply received). */
#define SKV_PEER_CONNECT_TIMEOUT	(5 * HZ)
extern unsigned int skv_peer_call_timeout_s;	/* module parameter, >= 1 */

struct skv_peer {
	struct net *net;
	struct sockaddr_storage addr;
	int addr_len;
	struct mutex sock_lock;		/* sock pointer vs skv_peer_shutdown() */
	struct socket *sock;		/* NULL when not connected */
	bool shut;			/* skv_peer_shutdown() was called */
	bool auth_warned;		/* a refusal has been logged */
	u64 next_id;
	/* The last reply: header fields and body (buf, grown on demand). */
	u8 status;
	u32 len;
	u8 *buf;
	u32 cap;
};

/* addr: 4 or 16 bytes, network order. */
void skv_peer_init(struct skv_peer *p, struct net *net, const u8 *addr,
		   u32 addr_len, u16 port);
/*
 * Connect if not connected, and authenticate (auth.h) before anything
 * else is sent.  0 or a negative errno: -ENOKEY if this node has no key
 * (and is not in insecure mode), -EKEYREJECTED if the peer refused the
 * key or could not prove it (logged once per peer).
 */
int skv_peer_connect(struct skv_peer *p);
/* Close the connection (a later call reconnects). */
void skv_peer_close(struct skv_peer *p);
/* From any thread: wake the user and fail its calls from now on. */
void skv_peer_shutdown(struct skv_peer *p);
/* Close and free.  No call may be running. */
void skv_peer_destroy(struct skv_peer *p);

/*
 * Send a request (body: head then tail, either may be empty), read its
 * reply.  Returns the reply status (>= 0; the body is in p->buf, p->len
 * bytes, until the next call), or a negative errno if the connection
 * failed or the reply was malformed: the connection is then closed.
 * max_body bounds the reply body (SKV_MAX_BODY_LEN unless the op says
 * otherwise).
 */
int skv_peer_call(struct skv_peer *p, u8 opcode, const void *head,
		  u32 head_len, const void *tail, u32 tail_len, u32 max_body);

#endif /* SKV_PEER_H */
