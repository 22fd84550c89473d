// SPDX-License-Identifier: GPL-2.0
/*
 * steadykv peer connections: a blocking kernel TCP client for the
 * migration ops (see peer.h).
 *
 * The socket lives in the node's namespace (sock_create_kern) and, like
 * every kernel socket, does not pin it: its owner closes it before the
 * namespace's exit returns (mig_target.c stops every migration there).
 * Every reply header is checked before its body is read: magic, version,
 * the REPLY flag, reserved fields, the opcode and request id echoed, and
 * a body length within the caller's bound.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tcp.h>
#include <linux/uio.h>
#include <linux/kthread.h>
#include <net/sock.h>

#include "peer.h"
#include "auth.h"

void skv_peer_init(struct skv_peer *p, struct net *net, const u8 *addr,
		   u32 addr_len, u16 port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&p->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->addr;

	memset(p, 0, sizeof(*p));
	p->net = net;
	mutex_init(&p->sock_lock);
	p->next_id = 1;
	if (addr_len == sizeof(struct in_addr)) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, addr_len);
		p->addr_len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, addr_len);
		p->addr_len = sizeof(*sin6);
	}
}

static int __skv_peer_call(struct skv_peer *p, u8 opcode, const void *head,
			   u32 head_len, const void *tail, u32 tail_len,
			   u32 max_body);

/* Say once per peer why it refused us: the operator must fix the keys. */
static int skv_peer_auth_refused(struct skv_peer *p, int err,
				 const char *why)
{
	if (!p->auth_warned) {
		p->auth_warned = true;
		pr_warn("steadykv: peer %pISpc: authentication failed: %s\n",
			&p->addr, why);
	}
	return err;
}

/*
 * The initiator's side of the handshake (steadykv/auth.h), on a fresh
 * connection, before any other call: with the node's current key, or
 * none in insecure mode without a key.
 */
static int skv_peer_authenticate(struct skv_peer *p)
{
	struct skv_node *node = skv_node(p->net);
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	struct skv_auth_keys *keys;
	int ret;

	keys = skv_auth_keys_get(node);
	if (!keys) {
		if (skv_auth_insecure(node))
			return 0;
		return skv_peer_auth_refused(p, -ENOKEY,
					     "this node has no cluster key");
	}
	skv_auth_hello_init(keys, &hello);
	ret = __skv_peer_call(p, SKV_OP_AUTH_HELLO, &hello, sizeof(hello),
			      NULL, 0, sizeof(ch));
	if (ret < 0)
		goto out;
	if (ret != SKV_S_OK || p->len != sizeof(ch)) {
		ret = skv_peer_auth_refused(p, -EKEYREJECTED,
					    "it does not hold our current key");
		goto out;
	}
	memcpy(&ch, p->buf, sizeof(ch));
	if (!skv_auth_initiator_prove(keys, &hello, &ch, &proof)) {
		ret = skv_peer_auth_refused(p, -EKEYREJECTED,
					    "it did not prove our key");
		goto out;
	}
	ret = __skv_peer_call(p, SKV_OP_AUTH_PROOF, &proof, sizeof(proof),
			      NULL, 0, 0);
	if (ret > 0)
		ret = skv_peer_auth_refused(p, -EKEYREJECTED,
					    "it refused our proof");
out:
	memzero_explicit(&proof, sizeof(proof));
	skv_auth_keys_put(keys);
	return ret;
}

int skv_peer_connect(struct skv_peer *p)
{
	struct socket *sock;
	struct sock *sk;
	int err;

	if (p->sock)
		return 0;
	if (READ_ONCE(p->shut))
		return -ESHUTDOWN;
	err = sock_create_kern(p->net, p->addr.ss_family, SOCK_STREAM,
			       IPPROTO_TCP, &sock);
	if (err)
		return err;
	sk = sock->sk;
	tcp_sock_set_nodelay(sk);
	/* A blocking connect waits at most sk_sndtimeo. */
	WRITE_ONCE(sk->sk_sndtimeo, SKV_PEER_CONNECT_TIMEOUT);

	/* Published first, so skv_peer_shutdown() can wake the connect. */
	mutex_lock(&p->sock_lock);
	if (p->shut) {
		mutex_unlock(&p->sock_lock);
		sock_release(sock);
		return -ESHUTDOWN;
	}
	p->sock = sock;
	mutex_unlock(&p->sock_lock);

	err = kernel_connect(sock, (struct sockaddr *)&p->addr, p->addr_len, 0);
	if (err) {
		skv_peer_close(p);
		return err == -EINPROGRESS || err == -EALREADY ? -ETIMEDOUT :
		       err;
	}
	/* Each call sets its own send and receive timeouts from here. */
	err = skv_peer_authenticate(p);
	if (err)
		skv_peer_close(p);
	return err;
}

void skv_peer_close(struct skv_peer *p)
{
	struct socket *sock;

	mutex_lock(&p->sock_lock);
	sock = p->sock;
	p->sock = NULL;
	mutex_unlock(&p->sock_lock);
	if (!sock)
		return;
	/*
	 * Reset, not FIN: a peer op is closed only with no request left to
	 * deliver, and an orphan with a FIN to a peer that is gone outlives
	 * its namespace, retried for ever once the namespace has no route.
	 */
	sock_no_linger(sock->sk);
	sock_release(sock);
}

void skv_peer_shutdown(struct skv_peer *p)
{
	mutex_lock(&p->sock_lock);
	WRITE_ONCE(p->shut, true);
	if (p->sock)
		kernel_sock_shutdown(p->sock, SHUT_RDWR);
	mutex_unlock(&p->sock_lock);
}

void skv_peer_destroy(struct skv_peer *p)
{
	skv_peer_close(p);
	kvfree(p->buf);
	p->buf = NULL;
	p->cap = 0;
	mutex_destroy(&p->sock_lock);
}

/*
 * Jiffies left before deadline, 0 once it passed.  Each send and receive
 * waits at most that long, so a peer that trickles a byte at a time
 * cannot stretch a call past peer_call_timeout_s.
 */
static long skv_peer_left(unsigned long deadline)
{
	long left = (long)(deadline - jiffies);

	return left > 0 ? left : 0;
}

static int skv_peer_send(struct skv_peer *p, struct kvec *iov,
			 unsigned int nr, size_t len, unsigned long deadline)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	long left;
	int ret;

	iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, iov, nr, len);
	while (msg_data_left(&msg)) {
		left = skv_peer_left(deadline);
		if (!left)
			return -ETIMEDOUT;
		WRITE_ONCE(p->sock->sk->sk_sndtimeo, left);
		ret = sock_sendmsg(p->sock, &msg);
		if (ret == -EAGAIN)
			return -ETIMEDOUT;
		if (ret == -EINTR || ret == -ERESTARTSYS) {
			if (READ_ONCE(p->shut) || kthread_should_stop())
				return -ESHUTDOWN;
			continue;
		}
		if (ret <= 0)
			return ret ? ret : -EPIPE;
	}
	return 0;
}

static int skv_peer_recv(struct skv_peer *p, void *buf, size_t len,
			 unsigned long deadline)
{
	struct kvec iov;
	struct msghdr msg = {};
	size_t got = 0;
	long left;
	int ret;

	while (got < len) {
		left = skv_peer_left(deadline);
		if (!left)
			return -ETIMEDOUT;
		WRITE_ONCE(p->sock->sk->sk_rcvtimeo, left);
		iov.iov_base = buf + got;
		iov.iov_len = len - got;
		ret = kernel_recvmsg(p->sock, &msg, &iov, 1, len - got, 0);
		if (ret == -EAGAIN)
			return -ETIMEDOUT;
		if (ret == -EINTR || ret == -ERESTARTSYS) {
			if (READ_ONCE(p->shut) || kthread_should_stop())
				return -ESHUTDOWN;
			continue;
		}
		if (ret < 0)
			return ret;
		if (ret == 0)
			return READ_ONCE(p->shut) ? -ESHUTDOWN : -ECONNRESET;
		got += ret;
	}
	return 0;
}

static int skv_peer_reserve(struct skv_peer *p, u32 n)
{
	u8 *nb;
	u32 cap;

	if (n <= p->cap)
		return 0;
	cap = max(n, 16u * 1024);
	nb = kvmalloc(cap, GFP_KERNEL);
	if (!nb)
		return -ENOMEM;
	kvfree(p->buf);
	p->buf = nb;
	p->cap = cap;
	return 0;
}

static int __skv_peer_call(struct skv_peer *p, u8 opcode, const void *head,
			   u32 head_len, const void *tail, u32 tail_len,
			   u32 max_body)
{
	struct skv_hdr h = {
		.magic = cpu_to_le16(SKV_WIRE_MAGIC),
		.version = SKV_WIRE_VERSION,
		.opcode = opcode,
		.body_len = cpu_to_le32(head_len + tail_len),
	};
	unsigned long deadline;
	struct kvec iov[3];
	unsigned int nr = 0;
	struct skv_hdr r;
	u32 len;
	int err;

	/* A fresh connection authenticates first, with ids of its own. */
	err = skv_peer_connect(p);
	if (err)
		return err;
	h.request_id = cpu_to_le64(p->next_id);

	iov[nr].iov_base = &h;
	iov[nr++].iov_len = sizeof(h);
	if (head_len) {
		iov[nr].iov_base = (void *)head;
		iov[nr++].iov_len = head_len;
	}
	if (tail_len) {
		iov[nr].iov_base = (void *)tail;
		iov[nr++].iov_len = tail_len;
	}
	/* The whole call, request and reply, within one deadline. */
	deadline = jiffies + max(1u, READ_ONCE(skv_peer_call_timeout_s)) * HZ;
	err = skv_peer_send(p, iov, nr, sizeof(h) + head_len + tail_len,
			    deadline);
	if (err)
		return err;

	err = skv_peer_recv(p, &r, sizeof(r), deadline);
	if (err)
		return err;
	len = le32_to_cpu(r.body_len);
	if (le16_to_cpu(r.magic) != SKV_WIRE_MAGIC ||
	    r.version != SKV_WIRE_VERSION || r.flags != SKV_F_REPLY ||
	    r.reserved || r.epoch || r.opcode != opcode ||
	    le64_to_cpu(r.request_id) != p->next_id ||
	    r.status >= SKV_S_MAX || len > max_body)
		return -EPROTO;
	p->next_id++;
	err = skv_peer_reserve(p, len);
	if (err)
		return err;
	err = skv_peer_recv(p, p->buf, len, deadline);
	if (err)
		return err;
	p->status = r.status;
	p->len = len;
	return r.status;
}

int skv_peer_call(struct skv_peer *p, u8 opcode, const void *head,
		  u32 head_len, const void *tail, u32 tail_len, u32 max_body)
{
	int ret;

	p->len = 0;
	ret = __skv_peer_call(p, opcode, head, head_len, tail, tail_len,
			      max_body);
	/* The stream is out of step after any failure: start afresh. */
	if (ret < 0)
		skv_peer_close(p);
	return ret;
}
