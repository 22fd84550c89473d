// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykv-bench's threads (bench_core.h): each runs a non-blocking epoll
 * loop over its connections, sends what its schedule says is due, follows
 * redirects and RETRY (a timer heap), and counts into its stats.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_core.h"

#define REQ_DEADLINE_NS	10000000000ull	/* give up on a request after 10 s */
#define MAX_REDIRECTS	64
#define MAX_ERRMSGS	5

/* ---- time and stats ---- */

uint64_t bench_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bench_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
			       .tv_nsec = (long)(t % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void bench_stats_reset(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	hist_reset(&s->h);
}

void bench_stats_merge(struct stats *d, const struct stats *s)
{
	int i;

	hist_merge(&d->h, &s->h);
	d->ops += s->ops;
	d->errors += s->errors;
	d->misses += s->misses;
	d->redirects += s->redirects;
	d->retries += s->retries;
	d->unsent += s->unsent;
	for (i = 0; i < BENCH_MAX_NODES; i++)
		d->node_ops[i] += s->node_ops[i];
}

/* ---- the retry timer heap ---- */

static void heap_push(struct thr *t, uint64_t when, uint32_t slot)
{
	uint32_t i = t->nheap++;

	while (i) {
		uint32_t p = (i - 1) / 2;

		if (t->heap[p].t <= when)
			break;
		t->heap[i] = t->heap[p];
		i = p;
	}
	t->heap[i].t = when;
	t->heap[i].slot = slot;
}

static uint32_t heap_pop(struct thr *t)
{
	uint32_t slot = t->heap[0].slot, i = 0;
	struct timer last = t->heap[--t->nheap];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= t->nheap)
			break;
		if (c + 1 < t->nheap && t->heap[c + 1].t < t->heap[c].t)
			c++;
		if (last.t <= t->heap[c].t)
			break;
		t->heap[i] = t->heap[c];
		i = c;
	}
	if (t->nheap)
		t->heap[i] = last;
	return slot;
}

/* ---- connections ---- */

/*
 * A TCP socket to addr, non-blocking.  wait: connect before returning;
 * else *pending says the handshake is still under way (EINPROGRESS: the
 * socket turns writable when it ends, SO_ERROR says how).
 */
static int tcp_connect(const char *addr, bool wait, bool *pending)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[BENCH_ADDR_MAX], port_s[8];
	uint16_t port;
	int fd = -1, one = 1;

	*pending = false;
	if (parse_hostport(addr, host, sizeof(host), &port))
		return -1;
	snprintf(port_s, sizeof(port_s), "%u", port);
	if (getaddrinfo(host, port_s, &hints, &res))
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
			    (wait ? 0 : SOCK_NONBLOCK), 0);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		if (!wait && errno == EINPROGRESS) {
			*pending = true;
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (wait && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct conn *thr_conns(struct thr *t, int node)
{
	if (!t->conns[node]) {
		t->conns[node] = calloc((size_t)t->nc, sizeof(struct conn));
		if (!t->conns[node])
			return NULL;
		for (int k = 0; k < t->nc; k++) {
			t->conns[node][k].fd = -1;
			t->conns[node][k].node = node;
		}
	}
	return t->conns[node];
}

/* c->fd is connected: authenticate it if asked and watch it; -1 if it failed. */
static int conn_attach(struct thr *t, struct conn *c, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (O.cfg.drv->conn_auth && O.cfg.drv->conn_auth(&O.cfg, c->fd)) {
		close(c->fd);
		c->fd = -1;
		c->down_until = now + 100000000ull;
		return -1;
	}
	if (!c->cs && O.cfg.drv->conn_init)
		c->cs = O.cfg.drv->conn_init();
	ev.data.ptr = c;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void connect_failed(struct thr *t, struct conn *c, uint64_t now, int err)
{
	c->down_until = now + 100000000ull;
	if (t->errmsgs++ < MAX_ERRMSGS)
		fprintf(stderr, "steadykv-bench: connect %s: %s\n",
			bench_node_get(c->node)->addr, strerror(err));
}

/* Connect c now (a reconnect in the run: blocking); -1 if it is down. */
static int conn_open(struct thr *t, struct conn *c, uint64_t now)
{
	bool pending;

	if (c->fd >= 0)
		return 0;
	if (now < c->down_until)
		return -1;
	c->fd = tcp_connect(bench_node_get(c->node)->addr, true, &pending);
	if (c->fd < 0) {
		connect_failed(t, c, now, errno);
		return -1;
	}
	return conn_attach(t, c, now);
}

static int conn_push(struct conn *c, uint32_t slot, uint64_t id, uint8_t op)
{
	struct pend *p;

	if (c->qlen == c->qcap) {
		uint32_t ncap = c->qcap ? c->qcap * 2 : 256, i;
		struct pend *nq = malloc(ncap * sizeof(*nq));

		if (!nq)
			return -1;
		for (i = 0; i < c->qlen; i++)
			nq[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = nq;
		c->qcap = ncap;
		c->qhead = 0;
	}
	p = &c->q[(c->qhead + c->qlen++) % c->qcap];
	p->slot = slot;
	p->id = id;
	p->op = op;
	return 0;
}

static void record_error(struct thr *t, const char *fmt, const char *detail)
{
	t->cur.errors++;
	if (t->errmsgs++ < MAX_ERRMSGS) {
		fprintf(stderr, "steadykv-bench: ");
		fprintf(stderr, fmt, detail);
		fputc('\n', stderr);
	}
}

static void req_free(struct thr *t, uint32_t slot)
{
	t->reqs[slot].next_free = t->free_head;
	t->free_head = slot;
	t->inflight--;
}

/* The connection broke: its requests fail, it reconnects later. */
static void conn_fail(struct thr *t, struct conn *c, const char *why, uint64_t now)
{
	uint32_t i;

	record_error(t, "connection lost: %s", why);
	t->cur.errors--;	/* counted per request below */
	for (i = 0; i < c->qlen; i++) {
		uint32_t slot = c->q[(c->qhead + i) % c->qcap].slot;

		if (slot == NO_SLOT)
			continue;
		t->cur.errors++;
		req_free(t, slot);
	}
	c->qlen = c->qhead = 0;
	epoll_ctl(t->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->want_out = false;
	c->out.off = c->out.len = 0;
	c->in.off = c->in.len = 0;
	if (c->cs && O.cfg.drv->conn_fini) {
		O.cfg.drv->conn_fini(c->cs);
		c->cs = NULL;
	}
	c->down_until = now + 100000000ull;
}

static void conn_flush(struct thr *t, struct conn *c, uint64_t now)
{
	while (c->out.len > c->out.off) {
		ssize_t n = send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_fail(t, c, strerror(errno), now);
			return;
		}
		buf_consume(&c->out, (size_t)n);
	}
	if ((c->out.len > c->out.off) != c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->want_out = !c->want_out;
		if (c->want_out)
			ev.events |= EPOLLOUT;
		epoll_ctl(t->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

/* ---- requests ---- */

static void send_req(struct thr *t, uint32_t slot, uint64_t now);

static void retry_later(struct thr *t, uint32_t slot, uint64_t now, uint64_t delay)
{
	struct req *r = &t->reqs[slot];

	if (now - r->intended > REQ_DEADLINE_NS) {
		record_error(t, "%s", "request gave up after 10 s");
		req_free(t, slot);
		return;
	}
	heap_push(t, now + delay, slot);
}

static void send_req(struct thr *t, uint32_t slot, uint64_t now)
{
	const struct bench_driver *drv = O.cfg.drv;
	struct req *r = &t->reqs[slot];
	bool asking = r->ask_node >= 0;
	struct conn *c;
	int node, n, k;

	make_key(t->key, O.cfg.key_size, r->keyidx);
	node = asking ? r->ask_node : drv->route(t->ts, t->key, O.cfg.key_size, r->khash);
	r->ask_node = -1;
	if (node < 0) {		/* no owner known: the map may be changing */
		retry_later(t, slot, now, 1000000);
		return;
	}
	c = thr_conns(t, node);
	if (!c) {
		record_error(t, "%s", "out of memory");
		req_free(t, slot);
		return;
	}
	k = (int)(t->rr[node]++ % (unsigned int)t->nc);
	c += k;
	if (conn_open(t, c, now)) {
		retry_later(t, slot, now, 10000000);
		return;
	}
	n = drv->encode(&O.cfg, &c->out, (enum bench_op)r->op, t->key,
			O.cfg.key_size, ++t->next_id, asking);
	if (n < 0 || (n == 2 && conn_push(c, NO_SLOT, 0, 0)) ||
	    conn_push(c, slot, t->next_id, r->op)) {
		record_error(t, "%s", "out of memory");
		req_free(t, slot);
		return;
	}
	r->node = (uint8_t)node;
	if (!c->dirty) {
		c->dirty = true;
		t->dirty[t->ndirty++] = c;
	}
}

/* A new request with this intended time; false if no slot is free. */
static bool issue(struct thr *t, uint64_t intended, uint64_t now)
{
	struct req *r;
	uint32_t slot = t->free_head;

	if (slot == NO_SLOT)
		return false;
	r = &t->reqs[slot];
	t->free_head = r->next_free;
	t->inflight++;
	r->intended = intended;
	r->redirects = 0;
	r->ask_node = -1;
	if (t->mode == MODE_LOAD) {
		r->keyidx = t->load_next;
		t->load_next += (uint64_t)O.threads;
		r->op = BOP_UPDATE;
	} else {
		r->keyidx = zipf_next(t->zipf, &t->rng);
		r->op = (int)(rng_next(&t->rng) % 100) < O.cfg.read_pct ? BOP_READ
									: BOP_UPDATE;
	}
	make_key(t->key, O.cfg.key_size, r->keyidx);
	r->khash = skv_key_hash(t->key, O.cfg.key_size);
	send_req(t, slot, now);
	return true;
}

static void on_reply(struct thr *t, struct conn *c, const struct pend *p,
		     const struct bench_reply *rep, uint64_t now)
{
	const struct bench_driver *drv = O.cfg.drv;
	struct req *r;
	int node;

	if (p->slot == NO_SLOT)
		return;
	r = &t->reqs[p->slot];
	switch (rep->kind) {
	case RK_OK:
	case RK_MISS:
		hist_record(&t->cur.h, now - r->intended);
		t->cur.ops++;
		t->cur.misses += rep->kind == RK_MISS;
		t->cur.node_ops[c->node]++;
		req_free(t, p->slot);
		break;
	case RK_ERROR:
		record_error(t, "error reply: %s", rep->msg);
		req_free(t, p->slot);
		break;
	case RK_REDIRECT:
	case RK_ASK:
		t->cur.redirects++;
		if (++r->redirects > MAX_REDIRECTS) {
			record_error(t, "%s", "too many redirects");
			req_free(t, p->slot);
			break;
		}
		make_key(t->key, O.cfg.key_size, r->keyidx);
		node = drv->redirect ? drv->redirect(t->ts, rep, t->key,
						     O.cfg.key_size, r->khash) : -1;
		if (node < 0) {
			retry_later(t, p->slot, now, 1000000);
			break;
		}
		if (rep->kind == RK_ASK)
			r->ask_node = (int8_t)node;
		send_req(t, p->slot, now);
		break;
	case RK_RETRY:
		t->cur.retries++;
		retry_later(t, p->slot, now, (uint64_t)(rep->retry_us ? rep->retry_us : 50) * 1000);
		break;
	case RK_DISCARD:
		break;
	}
}

static void conn_read(struct thr *t, struct conn *c, uint64_t now)
{
	struct bench_reply rep;

	for (;;) {
		ssize_t n;

		if (buf_reserve(&c->in, t->read_chunk)) {
			conn_fail(t, c, "out of memory", now);
			return;
		}
		n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_fail(t, c, n ? strerror(errno) : "closed by peer", now);
			return;
		}
		c->in.len += (size_t)n;
		if ((size_t)n < c->in.cap - c->in.len + (size_t)n)
			break;	/* short read: drained */
	}
	/* a parser may hold replies of its own (hiredis): ask until it has none */
	for (;;) {
		struct pend p;
		int ret;

		if (!c->qlen) {
			if (c->in.len > c->in.off)
				conn_fail(t, c, "reply without a request", now);
			return;
		}
		memset(&rep, 0, sizeof(rep));
		rep.from = c->node;
		ret = O.cfg.drv->parse(c->cs, &c->in, &c->q[c->qhead], &rep);
		if (ret < 0) {
			conn_fail(t, c, rep.msg[0] ? rep.msg : "bad reply", now);
			return;
		}
		if (!ret)
			break;
		p = c->q[c->qhead];
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qlen--;
		on_reply(t, c, &p, &rep, now);
		if (c->fd < 0)	/* failed while resending */
			return;
	}
}

static void flush_dirty(struct thr *t, uint64_t now)
{
	int i;

	for (i = 0; i < t->ndirty; i++) {
		struct conn *c = t->dirty[i];

		c->dirty = false;
		if (c->fd >= 0)
			conn_flush(t, c, now);
	}
	t->ndirty = 0;
}

/* The thread is done: requests still out are lost, the schedule's rest unsent. */
static void thr_finish(struct thr *t)
{
	pthread_mutex_lock(&t->lock);
	t->finished = true;
	if (t->inflight)
		record_error(t, "%s", "replies missing at the end of the drain");
	t->cur.errors += t->inflight ? t->inflight - 1 : 0;
	if (t->mode == MODE_OPEN) {	/* scheduled but never sent (no free slot) */
		while (sched_peek(&t->sched) < t->end && !stop_flag) {
			t->cur.unsent++;
			sched_next(&t->sched, &t->rng);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct epoll_event evs[256];

	bench_sleep_until(t->start);
	for (;;) {
		uint64_t now = bench_mono_ns(), wake;
		struct timespec ts;

		pthread_mutex_lock(&t->lock);
		/* open loop: everything scheduled before the end is sent */
		if (t->issuing && (stop_flag ||
				   (t->mode == MODE_OPEN ? sched_peek(&t->sched) >= t->end
							 : now >= t->end)))
			t->issuing = false;
		if (t->issuing) {
			if (t->mode == MODE_OPEN) {
				while (sched_peek(&t->sched) <= now &&
				       sched_peek(&t->sched) < t->end &&
				       issue(t, sched_peek(&t->sched), now))
					sched_next(&t->sched, &t->rng);
			} else if (t->mode == MODE_CLOSED) {
				while (t->inflight < t->limit && issue(t, now, now))
					;
			} else {
				while (t->inflight < t->limit &&
				       t->load_next < O.cfg.records && issue(t, now, now))
					;
				if (t->load_next >= O.cfg.records)
					t->issuing = false;
			}
		}
		if (!t->issuing && !t->stopped)
			t->stopped = now;
		while (t->nheap && t->heap[0].t <= now)
			send_req(t, heap_pop(t), now);
		flush_dirty(t, now);
		pthread_mutex_unlock(&t->lock);

		if (!t->issuing && !t->inflight)
			break;
		if (!t->issuing && now > t->stopped + (uint64_t)(O.drain_s * 1e9))
			break;

		wake = now + 1000000;	/* look at the flags every ms */
		if (t->issuing && t->mode == MODE_OPEN && t->free_head != NO_SLOT &&
		    sched_peek(&t->sched) < wake)
			wake = sched_peek(&t->sched);
		if (t->nheap && t->heap[0].t < wake)
			wake = t->heap[0].t;
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)wake;
		int n = epoll_pwait2(t->epfd, evs, 256, &ts, NULL);
		if (n < 0 && errno != EINTR) {
			perror("steadykv-bench: epoll_pwait2");
			break;
		}
		now = bench_mono_ns();
		pthread_mutex_lock(&t->lock);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->fd < 0)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				conn_read(t, c, now);
			if (c->fd >= 0 && (evs[i].events & EPOLLOUT))
				conn_flush(t, c, now);
		}
		flush_dirty(t, now);
		pthread_mutex_unlock(&t->lock);
	}
	thr_finish(t);
	return NULL;
}


/* ---- a thread's setup and teardown ---- */

/*
 * Handshakes under way at once while a thread connects up front, and how
 * long they may take.  Non-blocking, so that a listener whose accept queue
 * is full (it drops SYNs; the client sends again after 1 s, 2 s, ...)
 * costs a few such waits over all the connections, not one for each.
 */
#define CONNECT_WINDOW		512
#define CONNECT_TIMEOUT_NS	120000000000ull

static void thr_connect_all(struct thr *t, int nodes_now)
{
	int total = nodes_now * t->nc, next = 0, pending = 0, i;
	uint64_t deadline = bench_mono_ns() + CONNECT_TIMEOUT_NS;
	struct epoll_event evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0) {
		perror("steadykv-bench: epoll_create1");
		exit(1);
	}
	while (next < total || pending) {
		uint64_t now = bench_mono_ns();
		int n;

		while (next < total && pending < CONNECT_WINDOW) {
			struct conn *c = thr_conns(t, next / t->nc);
			struct epoll_event ev = { .events = EPOLLOUT };
			bool inprog;

			if (!c) {
				fprintf(stderr, "steadykv-bench: out of memory\n");
				exit(1);
			}
			c += next++ % t->nc;
			c->fd = tcp_connect(bench_node_get(c->node)->addr, false, &inprog);
			if (c->fd < 0) {
				t->conn_failed++;
				connect_failed(t, c, now, errno);
				continue;
			}
			if (!inprog) {
				t->conn_ok += !conn_attach(t, c, now);
				continue;
			}
			ev.data.ptr = c;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)) {
				close(c->fd);
				c->fd = -1;
				t->conn_failed++;
				continue;
			}
			c->connecting = true;
			pending++;
		}
		if (!pending)
			continue;
		if (now >= deadline || stop_flag)
			break;
		n = epoll_wait(ep, evs, 256, 100);
		now = bench_mono_ns();
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			socklen_t len = sizeof(int);
			int err = 0;

			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			c->connecting = false;
			pending--;
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
				close(c->fd);
				c->fd = -1;
				t->conn_failed++;
				connect_failed(t, c, now, err ? err : errno);
				continue;
			}
			t->conn_ok += !conn_attach(t, c, now);
		}
	}
	/* out of time: those still connecting are given up (and retried in the run) */
	for (i = 0; pending && i < total; i++) {
		struct conn *c = &t->conns[i / t->nc][i % t->nc];

		if (!c->connecting)
			continue;
		c->connecting = false;
		close(c->fd);
		c->fd = -1;
		pending--;
		t->conn_failed++;
		connect_failed(t, c, bench_mono_ns(), ETIMEDOUT);
	}
	close(ep);
}

void bench_thr_setup(struct thr *t, int i, enum mode mode)
{
	int nodes_now = bench_node_count();
	uint32_t s;

	t->tid = i;
	t->mode = mode;
	t->zipf = g_zipf;
	rng_seed(&t->rng, O.seed * 1000003u + (uint64_t)i + (uint64_t)mode * 7919u);
	t->nc = O.conns / O.threads + (i < O.conns % O.threads);
	if (t->nc < 1)
		t->nc = 1;
	/* a big read per call for a few connections; a page each for thousands */
	t->read_chunk = (long)O.conns * nodes_now > 1024 ? 4096 : 65536;
	t->load_next = (uint64_t)i;
	t->issuing = true;
	t->nreqs = mode == MODE_OPEN ? O.max_outstanding
				     : O.depth * (uint32_t)t->nc * BENCH_MAX_NODES;
	t->limit = O.depth * (uint32_t)t->nc * (uint32_t)nodes_now;
	if (t->nreqs < t->limit)
		t->nreqs = t->limit;
	t->reqs = calloc(t->nreqs, sizeof(*t->reqs));
	t->heap = calloc(t->nreqs, sizeof(*t->heap));
	t->dirty = calloc((size_t)t->nc * BENCH_MAX_NODES, sizeof(*t->dirty));
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!t->reqs || !t->heap || !t->dirty || t->epfd < 0) {
		fprintf(stderr, "steadykv-bench: out of memory\n");
		exit(1);
	}
	for (s = 0; s < t->nreqs; s++)
		t->reqs[s].next_free = s + 1 < t->nreqs ? s + 1 : NO_SLOT;
	t->free_head = 0;
	pthread_mutex_init(&t->lock, NULL);
	bench_stats_reset(&t->cur);
	t->ts = O.cfg.drv->thread_init ? O.cfg.drv->thread_init(&O.cfg, i) : NULL;
	/* connect up front, so the run does not pay for it */
	thr_connect_all(t, nodes_now);
}

void bench_thr_arm(struct thr *t, uint64_t start, uint64_t end, double rate)
{
	t->start = start;
	t->end = end;
	if (t->mode == MODE_OPEN)	/* threads interleave their sends */
		sched_init(&t->sched, rate / O.threads, O.poisson,
			   start + (uint64_t)(1e9 / rate * t->tid));
}

int bench_thr_start(struct thr *t)
{
	return pthread_create(&t->th, NULL, thr_main, t);
}

void bench_thr_teardown(struct thr *t)
{
	int j, kk;

	for (j = 0; j < BENCH_MAX_NODES; j++) {
		for (kk = 0; t->conns[j] && kk < t->nc; kk++) {
			struct conn *c = &t->conns[j][kk];

			if (c->fd >= 0)
				close(c->fd);
			buf_free(&c->in);
			buf_free(&c->out);
			free(c->q);
			if (c->cs)
				O.cfg.drv->conn_fini(c->cs);
		}
		free(t->conns[j]);
	}
	if (O.cfg.drv->thread_fini)
		O.cfg.drv->thread_fini(t->ts);
	close(t->epfd);
	free(t->reqs);
	free(t->heap);
	free(t->dirty);
	pthread_mutex_destroy(&t->lock);
}
