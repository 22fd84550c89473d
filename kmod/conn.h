/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A client connection of a node: a work item, queued by its transport's
 * callbacks, reading frames (wire.h), answering them in order, and
 * sending the replies of every batch of pipelined requests at once.
 *
 * Memory per connection is bounded: the input buffer holds at most one
 * largest frame (SKV_IBUF_MAX), the output buffer at most a batch of
 * replies plus one largest reply (SKV_OBUF_MAX); all of a node's, to
 * conn_buffers_mb (skv_conn_buf_charge(), reply.h).  An idle connection holds
 * neither.
 */
#ifndef SKV_CONN_H
#define SKV_CONN_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/workqueue.h>
#include <linux/timer.h>
#include <linux/wait.h>
#include <steadykv/wire.h>

struct skv_node;
struct skv_transport;
struct skv_auth_handshake;
struct skv_client_key;
struct skv_repl_conn;
struct skv_out_pages;
struct skv_get_ahead;

#define SKV_HDR_LEN		((u32)sizeof(struct skv_hdr))
#define SKV_IBUF_INIT		(4u * 1024)
#define SKV_IBUF_MAX		(SKV_HDR_LEN + SKV_MAX_BODY_LEN)
#define SKV_OBUF_INIT		(4u * 1024)
/* Replies pending past this are sent before the next request is handled. */
#define SKV_OBUF_BATCH		(64u * 1024)
/* Largest reply: a header and a body of at most SKV_MAX_BODY_LEN. */
#define SKV_REPLY_MAX		(SKV_HDR_LEN + SKV_MAX_BODY_LEN)
#define SKV_OBUF_MAX		(SKV_OBUF_BATCH + SKV_REPLY_MAX)
/* Log pages a connection may hold for replies sent from them (reply.h). */
#define SKV_OUT_PAGES		128

/* Which share of the node's connection slots a connection holds. */
enum skv_conn_slot {
	SKV_SLOT_NONE = 0,		/* none (refused, or given back) */
	SKV_SLOT_CLIENT,		/* the client share */
	SKV_SLOT_PROVISIONAL,		/* a peer slot, until it authenticates */
	SKV_SLOT_PEER,			/* an authenticated node-to-node peer */
};

struct skv_conn {
	struct list_head list;		/* node->conns, under node->conn_lock */
	struct skv_node *node;
	struct skv_transport *xprt;
	struct work_struct work;	/* skv_conn_work(): all of its I/O */
	struct timer_list timer;	/* skv_conn_kick_at() */
	bool dead;			/* has ended: its work does nothing more */
	bool bulk;			/* serves bulk pulls: runs at nice 10 */
	enum skv_conn_slot slot;	/* under conn_lock */
	unsigned long idle_since;	/* jiffies: no frame in progress since */
	unsigned long frame_since;	/* jiffies: the partial frame's first read */
	unsigned long send_since;	/* jiffies: the batch being sent was settled */
	int end_err;			/* end once the replies are sent; 0: go on */

	u8 *ibuf;			/* received bytes, frames from offset 0 */
	u32 icap;
	u32 ilen;
	u8 *obuf;			/* replies not yet sent */
	u32 ocap;
	u32 olen;
	u32 osent;			/* of olen, what the transport took */
	bool settled;			/* the batch in obuf waited for its backups */
	struct skv_out_pages *opages;	/* pieces of replies sent from log pages */

	/* Batch-local counts, added to the node's counters per batch. */
	u32 nreq;
	u32 nbad;
	bool wrote;			/* a PUT/DELETE ran in this batch */
	u32 retry_us;			/* hint for the next RETRY reply, 0: default */
	u8 reply_status;		/* of the last reply queued (metrics.c) */
	/*
	 * When the transport woke c (any context; 0: not since the last
	 * read), and when the bytes being handled came in: the wake-up that
	 * brought them, or their read.  A request's service time counts from
	 * it, so the time waiting for a worker shows (metrics.c).
	 */
	u64 woken_ns;
	u64 in_ns;

	struct skv_repl_conn *repl;	/* writes waiting for backups (repl_primary.c) */

	/* Pipelined GETs in the pass over ibuf now (request.h), or NULL */
	struct skv_get_ahead *get_ahead;

	/* A GET parked for a key migrating in (mig_target_park.c) */
	bool pipelined;			/* more bytes behind the frame handled */
	bool parked;			/* the frame at ibuf[0] waits: no reply yet */
	struct wait_queue_entry park_wait;	/* on node->mig_parked */
	u64 park_table, park_hash;	/* the key it waits for */
	unsigned long park_until;	/* jiffies: then RETRY; 0: not parked */
	u64 park_since_ns;		/* first parked: its service time counts */

	/* Authentication (auth_request.c) */
	u8 auth_role;			/* enum skv_auth_role proven, 0: none */
	struct skv_auth_handshake *auth_hs;	/* between HELLO and PROOF */
	/* Role client: the key proven (referenced), its rights (auth_client.h) */
	struct skv_client_key *client_key;
	u8 client_all;			/* SKV_CLIENT_* on every table */
	u8 client_memo_rights;		/* SKV_CLIENT_* on client_memo_table */
	u64 client_memo_table;
	bool close_after_reply;		/* a handler ended the connection */
};

/*
 * Take a new connection: gives it a slot (max_connections,
 * max_connections_per_addr, the client share) and starts serving it, or
 * resets it at once.  Owns t in every case.
 */
int skv_conn_start(struct skv_node *node, struct skv_transport *t);

/*
 * The connection has proved the cluster key: it leaves the client share
 * (or its provisional slot) for a peer slot, and no per-address cap or
 * client share applies to it any more.  Process context.
 */
void skv_conn_peer_authenticated(struct skv_conn *c);

/* Run c's work (again): from any context. */
void skv_conn_kick(struct skv_conn *c);
/* Run c's work at the jiffies deadline at the latest. */
void skv_conn_kick_at(struct skv_conn *c, unsigned long deadline);

/*
 * c serves bulk pulls from now on: its work runs at nice 10, so that
 * client requests win the CPU (mig_source.c).
 */
void skv_conn_yield_to_clients(struct skv_conn *c);

/* Reaper work: frees connections that have ended. */
void skv_conn_reap_work(struct work_struct *work);
/* Sweep work: ends connections past a deadline, trims idle ones' buffers. */
void skv_conn_sweep_work(struct work_struct *work);

/* Module load and unload: the workqueue connections run on. */
int skv_conns_init(void);
void skv_conns_exit(void);

/*
 * Namespace exit: refuse new connections, reset every connection, wait
 * for its work and free it.  The listener must already be stopped.
 */
void skv_conns_stop(struct skv_node *node);

#endif /* SKV_CONN_H */
