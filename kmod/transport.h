/* SPDX-License-Identifier: GPL-2.0 */
/*
 * steadykv transports: a connection's byte stream behind a small ops table
 * (as ksmbd does), so the framing and request code never touch a socket.
 * TCP (transport_tcp.c) is the one implementation.
 */
#ifndef SKV_TRANSPORT_H
#define SKV_TRANSPORT_H

#include <linux/types.h>
#include <linux/uio.h>
#include <linux/in6.h>
#include <linux/string.h>

struct skv_node;
struct skv_transport;
struct bio_vec;
struct skv_listener;
struct netlink_ext_ack;

struct skv_transport_ops {
	/*
	 * Read up to len bytes into buf without waiting.  Returns the bytes
	 * read, 0 when the peer closed (or the transport was shut down),
	 * -EAGAIN when nothing is there, or a negative errno.
	 */
	int (*recv)(struct skv_transport *t, void *buf, size_t len);
	/*
	 * Send up to len bytes of buf without waiting.  Returns the bytes
	 * the transport took (at least 1), -EAGAIN when it has no room, or a
	 * negative errno.
	 */
	int (*send)(struct skv_transport *t, const void *buf, size_t len);
	/*
	 * The same for the bytes of bv[0..nr) from offset skip on, len of
	 * them, sent from their pages: the transport takes its own page
	 * references for as long as it needs the bytes.
	 */
	int (*send_pages)(struct skv_transport *t, const struct bio_vec *bv,
			  unsigned int nr, size_t skip, size_t len);
	/*
	 * Call ready(t) whenever t may have become readable or writable, or
	 * was closed: from any context, softirq included, so ready() only
	 * queues work.  ready NULL stops the calls: when watch returns, none
	 * is running or will run.
	 */
	void (*watch)(struct skv_transport *t,
		      void (*ready)(struct skv_transport *t));
	/*
	 * Fail later recv and send calls; abort: reset the connection on
	 * release instead of closing it gracefully.  Callable from any
	 * thread, any number of times.
	 */
	void (*shutdown)(struct skv_transport *t, bool abort);
	/* Close and free the transport.  No other op may run concurrently. */
	void (*release)(struct skv_transport *t);
};

/*
 * The source address of a connection, taken at accept: for the
 * per-address cap, and the identity a migration is bound to.
 */
struct skv_addr {
	u8 len;				/* 4 or 16; 0: unknown */
	u8 bytes[16];			/* network order */
};

/* Equal and known: an unknown address equals nothing. */
static inline bool skv_addr_equal(const struct skv_addr *a,
				  const struct skv_addr *b)
{
	return a->len && a->len == b->len && !memcmp(a->bytes, b->bytes, a->len);
}

struct skv_transport {
	const struct skv_transport_ops *ops;
	struct skv_addr peer;
	void *owner;			/* for ready(): the connection */
};

/*
 * TCP listener of a node: binds addr (4 or 16 bytes, network order):port in
 * the node's namespace and hands every accepted connection to
 * skv_conn_start().  Errors are explained in extack.
 */
int skv_tcp_listen(struct skv_node *node, const u8 *addr, u32 addr_len,
		   u16 port, struct netlink_ext_ack *extack,
		   struct skv_listener **out);
/* Stop accepting and free the listener; open connections stay open. */
void skv_tcp_listen_stop(struct skv_listener *l);

#endif /* SKV_TRANSPORT_H */
