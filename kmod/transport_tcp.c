// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv TCP transport: the listener of a node and its accepted
 * connections behind struct skv_transport_ops.
 *
 * Sockets are created in the node's namespace with sock_create_kern(); a
 * kernel socket does not pin its namespace, so every socket is released
 * in the namespace's pernet exit (node.c) at the latest.  Connections
 * never block: they read and send with MSG_DONTWAIT and are told of new
 * data, room to send and a close by the socket callbacks watch() installs
 * (the pattern of the kernel's sunrpc server and nvmet-tcp).  The
 * listener thread blocked in kernel_accept() does not notice
 * kthread_stop(): its socket is shut down first, which wakes it.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/net.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tcp.h>
#include <net/ipv6.h>
#include <linux/kthread.h>
#include <linux/sched/task.h>
#include <net/sock.h>
#include <net/netlink.h>

#include "node.h"
#include "conn.h"
#include "transport.h"

#define SKV_TCP_BACKLOG		1024	/* capped by net.core.somaxconn */
/* Keepalive: a vanished peer is found in about 2 minutes. */
#define SKV_TCP_KEEPIDLE_S	60
#define SKV_TCP_KEEPINTVL_S	10
#define SKV_TCP_KEEPCNT		6

struct skv_tcp {
	struct skv_transport xprt;
	struct socket *sock;
	/* watch(): under sk_callback_lock, with the callbacks it replaced. */
	void (*ready)(struct skv_transport *t);
	void (*saved_data_ready)(struct sock *sk);
	void (*saved_write_space)(struct sock *sk);
	void (*saved_state_change)(struct sock *sk);
};

struct skv_listener {
	struct skv_node *node;
	struct socket *sock;
	struct task_struct *task;
};

static inline struct skv_tcp *skv_tcp(struct skv_transport *t)
{
	return container_of(t, struct skv_tcp, xprt);
}

static int skv_tcp_recv(struct skv_transport *t, void *buf, size_t len)
{
	struct kvec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };

	return kernel_recvmsg(skv_tcp(t)->sock, &msg, &iov, 1, len,
			      MSG_DONTWAIT);
}

static int skv_tcp_send(struct skv_transport *t, const void *buf, size_t len)
{
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };
	int ret;

	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &iov, 1, len);
	ret = sock_sendmsg(skv_tcp(t)->sock, &msg);
	return ret ? ret : -EAGAIN;
}

static int skv_tcp_send_pages(struct skv_transport *t,
			      const struct bio_vec *bv, unsigned int nr,
			      size_t skip, size_t len)
{
	struct msghdr msg = {
		.msg_flags = MSG_SPLICE_PAGES | MSG_DONTWAIT | MSG_NOSIGNAL,
	};
	int ret;

	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, bv, nr, skip + len);
	iov_iter_advance(&msg.msg_iter, skip);
	ret = sock_sendmsg(skv_tcp(t)->sock, &msg);
	return ret ? ret : -EAGAIN;
}

/*
 * Socket callbacks (softirq or process context, with the socket locked):
 * run the saved one, then tell the owner.  sk_user_data is read under
 * sk_callback_lock, which watch() takes for writing to stop them.
 */
static void skv_tcp_data_ready(struct sock *sk)
{
	struct skv_tcp *tcp;

	read_lock_bh(&sk->sk_callback_lock);
	tcp = sk->sk_user_data;
	if (tcp) {
		tcp->saved_data_ready(sk);
		tcp->ready(&tcp->xprt);
	}
	read_unlock_bh(&sk->sk_callback_lock);
}

static void skv_tcp_write_space(struct sock *sk)
{
	struct skv_tcp *tcp;

	read_lock_bh(&sk->sk_callback_lock);
	tcp = sk->sk_user_data;
	if (tcp) {
		tcp->saved_write_space(sk);
		/* Only once there is room worth a send (a third of the buffer). */
		if (sk_stream_is_writeable(sk))
			tcp->ready(&tcp->xprt);
	}
	read_unlock_bh(&sk->sk_callback_lock);
}

static void skv_tcp_state_change(struct sock *sk)
{
	struct skv_tcp *tcp;

	read_lock_bh(&sk->sk_callback_lock);
	tcp = sk->sk_user_data;
	if (tcp) {
		tcp->saved_state_change(sk);
		tcp->ready(&tcp->xprt);
	}
	read_unlock_bh(&sk->sk_callback_lock);
}

static void skv_tcp_watch(struct skv_transport *t,
			  void (*ready)(struct skv_transport *t))
{
	struct skv_tcp *tcp = skv_tcp(t);
	struct sock *sk = tcp->sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	if (ready && !tcp->ready) {
		tcp->saved_data_ready = sk->sk_data_ready;
		tcp->saved_write_space = sk->sk_write_space;
		tcp->saved_state_change = sk->sk_state_change;
		sk->sk_data_ready = skv_tcp_data_ready;
		sk->sk_write_space = skv_tcp_write_space;
		sk->sk_state_change = skv_tcp_state_change;
		sk->sk_user_data = tcp;
	} else if (!ready && tcp->ready) {
		sk->sk_data_ready = tcp->saved_data_ready;
		sk->sk_write_space = tcp->saved_write_space;
		sk->sk_state_change = tcp->saved_state_change;
		sk->sk_user_data = NULL;
	}
	tcp->ready = ready;
	write_unlock_bh(&sk->sk_callback_lock);
}

static void skv_tcp_shutdown(struct skv_transport *t, bool abort)
{
	struct socket *sock = skv_tcp(t)->sock;

	/* Reset at release: nothing lingers once the namespace is gone. */
	if (abort)
		sock_no_linger(sock->sk);
	kernel_sock_shutdown(sock, SHUT_RDWR);
}

static void skv_tcp_release(struct skv_transport *t)
{
	struct skv_tcp *tcp = skv_tcp(t);

	skv_tcp_watch(t, NULL);
	sock_release(tcp->sock);
	kfree(tcp);
}

static const struct skv_transport_ops skv_tcp_ops = {
	.recv		= skv_tcp_recv,
	.send		= skv_tcp_send,
	.send_pages	= skv_tcp_send_pages,
	.watch		= skv_tcp_watch,
	.shutdown	= skv_tcp_shutdown,
	.release	= skv_tcp_release,
};

static void skv_tcp_setup(struct socket *sock)
{
	struct sock *sk = sock->sk;

	tcp_sock_set_nodelay(sk);
	sock_set_keepalive(sk);
	tcp_sock_set_keepidle(sk, SKV_TCP_KEEPIDLE_S);
	tcp_sock_set_keepintvl(sk, SKV_TCP_KEEPINTVL_S);
	tcp_sock_set_keepcnt(sk, SKV_TCP_KEEPCNT);
}

/* The peer's address, an IPv4-mapped IPv6 one as IPv4. */
static void skv_tcp_peer_addr(struct socket *sock, struct skv_addr *a)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	a->len = 0;
	if (kernel_getpeername(sock, (struct sockaddr *)&ss) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		a->len = sizeof(sin->sin_addr);
		memcpy(a->bytes, &sin->sin_addr, a->len);
	} else if (ss.ss_family == AF_INET6 &&
		   ipv6_addr_v4mapped(&sin6->sin6_addr)) {
		a->len = sizeof(struct in_addr);
		memcpy(a->bytes, &sin6->sin6_addr.s6_addr32[3], a->len);
	} else if (ss.ss_family == AF_INET6) {
		a->len = sizeof(sin6->sin6_addr);
		memcpy(a->bytes, &sin6->sin6_addr, a->len);
	}
}

/* Wrap an accepted socket and hand it to a connection. */
static void skv_tcp_new_conn(struct skv_listener *l, struct socket *sock)
{
	struct skv_tcp *tcp;

	tcp = kzalloc(sizeof(*tcp), GFP_KERNEL);
	if (!tcp) {
		sock_release(sock);
		return;
	}
	skv_tcp_setup(sock);
	tcp->xprt.ops = &skv_tcp_ops;
	tcp->sock = sock;
	skv_tcp_peer_addr(sock, &tcp->xprt.peer);
	/* Over a connection cap, this closes the socket at once. */
	skv_conn_start(l->node, &tcp->xprt);
}

static int skv_tcp_accept_thread(void *arg)
{
	struct skv_listener *l = arg;
	struct socket *sock;
	int err;

	while (!kthread_should_stop()) {
		err = kernel_accept(l->sock, &sock, 0);
		if (!err) {
			skv_tcp_new_conn(l, sock);
			continue;
		}
		if (err == -EAGAIN || err == -EINTR || err == -ERESTARTSYS ||
		    err == -ECONNABORTED)
			continue;
		/*
		 * Shut down (-EINVAL until kthread_stop() comes) or out of
		 * resources: wait a little rather than spin.
		 */
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule_timeout(HZ / 10);
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

int skv_tcp_listen(struct skv_node *node, const u8 *addr, u32 addr_len,
		   u16 port, struct netlink_ext_ack *extack,
		   struct skv_listener **out)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct task_struct *task;
	struct skv_listener *l;
	int family, salen, err;

	if (addr_len == sizeof(struct in_addr)) {
		family = AF_INET;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, addr_len);
		salen = sizeof(*sin);
	} else {
		family = AF_INET6;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, addr_len);
		salen = sizeof(*sin6);
	}

	l = kzalloc(sizeof(*l), GFP_KERNEL);
	if (!l) {
		NL_SET_ERR_MSG_MOD(extack, "out of memory");
		return -ENOMEM;
	}
	l->node = node;

	err = sock_create_kern(node->net, family, SOCK_STREAM, IPPROTO_TCP,
			       &l->sock);
	if (err) {
		NL_SET_ERR_MSG_FMT_MOD(extack,
				       "cannot create an IPv%d socket (%d)",
				       family == AF_INET ? 4 : 6, err);
		goto err_free;
	}
	sock_set_reuseaddr(l->sock->sk);

	err = kernel_bind(l->sock, (struct sockaddr *)&ss, salen);
	if (err) {
		NL_SET_ERR_MSG_FMT_MOD(extack,
				       "cannot bind the listen address and port (%d%s)",
				       err,
				       err == -EADDRINUSE ? ": address in use" :
				       err == -EADDRNOTAVAIL ?
				       ": address not available" : "");
		goto err_sock;
	}
	err = kernel_listen(l->sock, SKV_TCP_BACKLOG);
	if (err) {
		NL_SET_ERR_MSG_FMT_MOD(extack, "cannot listen (%d)", err);
		goto err_sock;
	}

	task = kthread_create(skv_tcp_accept_thread, l, "skv-listen");
	if (IS_ERR(task)) {
		err = PTR_ERR(task);
		NL_SET_ERR_MSG_MOD(extack, "cannot start the listener thread");
		goto err_sock;
	}
	l->task = get_task_struct(task);
	wake_up_process(task);
	*out = l;
	return 0;

err_sock:
	sock_release(l->sock);
err_free:
	kfree(l);
	return err;
}

void skv_tcp_listen_stop(struct skv_listener *l)
{
	struct socket *sock;

	/*
	 * Shutting a listening socket down resets every connection still in
	 * its accept queue, though the client's connect() succeeded: take
	 * those in first, so only clients that connect after the stop are
	 * refused.  (When the node is dying they are closed with the rest.)
	 */
	while (!kernel_accept(l->sock, &sock, O_NONBLOCK))
		skv_tcp_new_conn(l, sock);

	/* Wakes the thread out of kernel_accept(); then stop it. */
	kernel_sock_shutdown(l->sock, SHUT_RDWR);
	kthread_stop(l->task);
	put_task_struct(l->task);
	sock_release(l->sock);
	kfree(l);
}
