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

struct skv_node;
struct skv_transport;
struct skv_listener;
struct netlink_ext_ack;

struct skv_transport_ops {
	/*
	 * Read up to len bytes into buf.  Returns the bytes read, 0 when the
	 * peer closed (or the transport was shut down), or a negative errno
	 * (-EAGAIN if nonblock and nothing is queued).
	 */
	int (*recv)(struct skv_transport *t, void *buf, size_t len,
		    bool nonblock);
	/* Send all len bytes of iov[0..nr); 0 or a negative errno. */
	int (*send)(struct skv_transport *t, struct kvec *iov,
		    unsigned int nr, size_t len);
	/*
	 * Wake and fail a recv or send blocked in another thread; later calls
	 * fail at once.  abort: reset the connection on release instead of
	 * closing it gracefully.  Callable from any thread, any number of times.
	 */
	void (*shutdown)(struct skv_transport *t, bool abort);
	/* The remote address (an IPv4 one v4-mapped); 0 or a negative errno. */
	int (*peer_addr)(struct skv_transport *t, struct in6_addr *addr);
	/* Close and free the transport.  No other op may run concurrently. */
	void (*release)(struct skv_transport *t);
};

struct skv_transport {
	const struct skv_transport_ops *ops;
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
