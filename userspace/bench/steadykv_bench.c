// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykv-bench: an open-loop load generator for steadykv, Redis Cluster
 * and memcached (the same workload, schedule and histogram for each).
 *
 * Each request has an intended send time from a fixed-rate schedule
 * (uniform or Poisson); its latency runs from that time to its reply, so a
 * stalled server or a slow client shows up as latency, never as requests
 * quietly not sent (no coordinated omission).  Threads each run a
 * non-blocking epoll loop over their share of the connections (default 8
 * per node over 2 threads), send what is due, and pipeline.  Requests go to
 * the owner of their key; redirects (steadykv NOT_OWNER, Redis MOVED/ASK)
 * and RETRY are followed and counted, and their time is in the latency.
 *
 * Phases: --load inserts every record (closed loop, pipelined);
 * --capacity measures the closed-loop maximum; then the open-loop run at
 * --rate (or --rate-frac of the capacity) writes the timeline and summary.
 * See usage() for the options.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_gen.h"
#include "bench_hist.h"
#include "steadykv.h"
#include "steadykv_bench.h"

#define NO_SLOT		UINT32_MAX
#define REQ_DEADLINE_NS	10000000000ull	/* give up on a request after 10 s */
#define MAX_REDIRECTS	64
#define MAX_ERRMSGS	5

/* ---- buffers ---- */

int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + more <= b->cap)
		return 0;
	if (b->off) {	/* compact first */
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + more <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *d, size_t n)
{
	if (buf_reserve(b, n))
		return -1;
	memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- node table ---- */

static struct bench_node nodes[BENCH_MAX_NODES];
static atomic_int nnodes;
static pthread_mutex_t nodes_lock = PTHREAD_MUTEX_INITIALIZER;

int bench_node_add(const char *addr, uint32_t node_id, bool has_id)
{
	int i, n, ret = -1;

	pthread_mutex_lock(&nodes_lock);
	n = atomic_load(&nnodes);
	for (i = 0; i < n; i++) {
		if (has_id ? nodes[i].node_id == node_id
			   : !strcmp(nodes[i].addr, addr)) {
			ret = i;
			goto out;
		}
	}
	if (n < BENCH_MAX_NODES) {
		snprintf(nodes[n].addr, sizeof(nodes[n].addr), "%s", addr);
		nodes[n].node_id = has_id ? node_id : (uint32_t)n;
		if (has_id)
			snprintf(nodes[n].label, sizeof(nodes[n].label), "n%u@%s",
				 node_id, addr);
		else
			snprintf(nodes[n].label, sizeof(nodes[n].label), "%s", addr);
		atomic_store(&nnodes, n + 1);	/* publish after the entry */
		ret = n;
	}
out:
	pthread_mutex_unlock(&nodes_lock);
	return ret;
}

int bench_node_count(void)
{
	return atomic_load(&nnodes);
}

const struct bench_node *bench_node_get(int idx)
{
	return &nodes[idx];
}

int bench_split_addr(const char *addr, char *host, size_t hlen, uint16_t *port)
{
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t n;
	char *end;
	unsigned long p;

	if (!colon)
		return -1;
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (!n || n >= hlen)
		return -1;
	memcpy(host, h, n);
	host[n] = 0;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || !p || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* ---- time ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
			       .tv_nsec = (long)(t % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- options and state ---- */

enum mode { MODE_OPEN, MODE_CLOSED, MODE_LOAD };

struct opts {
	struct bench_cfg cfg;
	int threads, conns;
	double rate, rate_frac;
	int poisson;
	double duration_s, capacity_s, drain_s;
	unsigned int depth;
	unsigned int interval_ms;
	uint32_t max_outstanding;
	uint64_t seed;
	int load, run, capacity, quiet;
	const char *timeline, *json, *mark_file;
	double phase_start_s, phase_end_s;	/* --phases; <0 when unset */
	const char *workload;
};

static struct opts O;
static volatile sig_atomic_t stop_flag;

struct stats {
	struct hist h;
	uint64_t ops, errors, misses, redirects, retries, unsent;
	uint64_t node_ops[BENCH_MAX_NODES];
};

static void stats_reset(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	hist_reset(&s->h);
}

static void stats_merge(struct stats *d, const struct stats *s)
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

struct req {
	uint64_t intended;	/* ns, monotonic */
	uint64_t keyidx, khash;
	uint32_t next_free;
	uint16_t redirects;
	int8_t ask_node;	/* >= 0: send ASKING + the request there once */
	uint8_t op;
	uint8_t node;		/* where it was last sent */
};

struct conn {
	int fd;			/* -1: not connected */
	int node;
	bool dirty, want_out;
	uint64_t down_until;	/* ns: do not reconnect before */
	struct buf out, in;
	struct pend *q;		/* ring of replies awaited */
	uint32_t qhead, qlen, qcap;
	void *cs;
};

struct timer {
	uint64_t t;
	uint32_t slot;
};

struct thr {
	int tid;
	pthread_t th;
	enum mode mode;
	struct rng rng;
	struct sched sched;
	const struct zipf *zipf;
	void *ts;
	int epfd;
	int nc;			/* connections per node in this thread */
	struct conn *conns[BENCH_MAX_NODES];
	unsigned int rr[BENCH_MAX_NODES];
	struct conn **dirty;
	int ndirty;
	struct req *reqs;
	uint32_t nreqs, free_head, inflight;
	struct timer *heap;
	uint32_t nheap;
	uint64_t next_id;
	uint64_t start, end;	/* ns: issue from start until end */
	uint64_t load_next;	/* MODE_LOAD: next record index */
	uint32_t limit;		/* closed loop: outstanding requests */
	bool issuing;
	bool finished;		/* the thread has returned (under lock) */
	uint64_t stopped;	/* ns: when issuing stopped, for the drain */
	int errmsgs;
	pthread_mutex_t lock;	/* guards cur */
	struct stats cur;
	char key[SKV_MAX_KEY_LEN + 1];
};

static const struct zipf *g_zipf;

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

static int tcp_connect(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[BENCH_ADDR_MAX], port_s[8];
	uint16_t port;
	int fd = -1, one = 1;

	if (bench_split_addr(addr, host, sizeof(host), &port))
		return -1;
	snprintf(port_s, sizeof(port_s), "%u", port);
	if (getaddrinfo(host, port_s, &hints, &res))
		return -1;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
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

static int conn_open(struct thr *t, struct conn *c, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (c->fd >= 0)
		return 0;
	if (now < c->down_until)
		return -1;
	c->fd = tcp_connect(bench_node_get(c->node)->addr);
	if (c->fd < 0) {
		c->down_until = now + 100000000ull;
		if (t->errmsgs++ < MAX_ERRMSGS)
			fprintf(stderr, "steadykv-bench: connect %s: %s\n",
				bench_node_get(c->node)->addr, strerror(errno));
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

		if (buf_reserve(&c->in, 65536)) {
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

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	struct epoll_event evs[64];

	sleep_until(t->start);
	for (;;) {
		uint64_t now = mono_ns(), wake;
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
		int n = epoll_pwait2(t->epfd, evs, 64, &ts, NULL);
		if (n < 0 && errno != EINTR) {
			perror("steadykv-bench: epoll_pwait2");
			break;
		}
		now = mono_ns();
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
	/* requests still out: lost */
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
	return NULL;
}

/* ---- phases: threads, ticks, marks ---- */

struct row {
	double t_s;
	uint64_t ops, errors, redirects, retries;
	uint64_t p50, p99, p999, max;
	uint64_t node_ops[BENCH_MAX_NODES];
};

struct mark {
	uint64_t real;
	char label[48];
};

enum { PH_IDLE, PH_DURING, PH_AFTER, PH_N };
static const char *const phase_names[PH_N] = { "idle", "during", "after" };

struct result {
	struct stats total;
	double secs;		/* of issuing */
	uint64_t start_mono, start_real;
	struct row *rows;
	size_t nrows, rows_cap;
	struct stats phase[PH_N];
	double phase_secs[PH_N];	/* whole intervals given to each phase */
	struct mark *marks;
	size_t nmarks, marks_cap;
};

struct markfile {
	FILE *f;
	char part[256];
	size_t plen;
};

static void add_mark(struct result *res, uint64_t real, const char *label)
{
	if (res->nmarks == res->marks_cap) {
		size_t cap = res->marks_cap ? res->marks_cap * 2 : 16;
		struct mark *m = realloc(res->marks, cap * sizeof(*m));

		if (!m)
			return;
		res->marks = m;
		res->marks_cap = cap;
	}
	res->marks[res->nmarks].real = real;
	snprintf(res->marks[res->nmarks].label, sizeof(res->marks[0].label), "%s", label);
	res->nmarks++;
	if (!O.quiet)
		fprintf(stderr, "steadykv-bench: mark %s at %+.3f s\n", label,
			((double)real - (double)res->start_real) / 1e9);
}

/* Read the complete lines added to the mark file since the last call. */
static void poll_marks(struct markfile *mf, struct result *res)
{
	int ch;

	if (!O.mark_file)
		return;
	if (!mf->f) {
		mf->f = fopen(O.mark_file, "r");
		if (!mf->f)
			return;
	}
	clearerr(mf->f);
	while ((ch = fgetc(mf->f)) != EOF) {
		unsigned long long ts;
		char label[48];

		if (ch != '\n') {
			if (mf->plen < sizeof(mf->part) - 1)
				mf->part[mf->plen++] = (char)ch;
			continue;
		}
		mf->part[mf->plen] = 0;
		mf->plen = 0;
		if (sscanf(mf->part, "%llu %47s", &ts, label) == 2)
			add_mark(res, ts, label);
	}
}

/* The phase of an instant (CLOCK_REALTIME ns) by the marks known. */
static int phase_of(const struct result *res, uint64_t real)
{
	uint64_t first = UINT64_MAX, start = UINT64_MAX, end = UINT64_MAX;
	size_t i;

	for (i = 0; i < res->nmarks; i++) {
		const struct mark *m = &res->marks[i];

		if (m->real < first)
			first = m->real;
		if (!strcmp(m->label, "migration-start") && start == UINT64_MAX)
			start = m->real;
		if (!strcmp(m->label, "migration-end") && start != UINT64_MAX &&
		    m->real >= start && end == UINT64_MAX)
			end = m->real;
	}
	if (real < first)
		return PH_IDLE;
	if (end != UINT64_MAX && real >= end)
		return PH_AFTER;
	if (start != UINT64_MAX && real >= start)
		return PH_DURING;
	return res->nmarks ? -1 : PH_IDLE;	/* between other marks: none */
}

/*
 * Interval statistics wait this many ticks before they are given a phase,
 * so that a mark written a little late still classifies them.  An interval
 * belongs to the phase of its midpoint.
 */
#define PHASE_LAG 16

struct pending_iv {
	struct stats s;
	uint64_t mid_real;
};

static int run_phase(enum mode mode, double secs, double rate, struct result *res)
{
	struct thr *thr = calloc((size_t)O.threads, sizeof(*thr));
	struct pending_iv *lag = calloc(PHASE_LAG, sizeof(*lag));
	struct stats *acc = malloc(sizeof(*acc));
	struct markfile mf = { 0 };
	uint64_t start, end, interval = (uint64_t)O.interval_ms * 1000000ull, tick;
	size_t nlag = 0, k;
	int i, running, ret = -1;
	bool done = false;

	if (!thr || !lag || !acc)
		goto out;
	memset(res, 0, sizeof(*res));
	stats_reset(&res->total);
	for (i = 0; i < PH_N; i++)
		stats_reset(&res->phase[i]);
	start = mono_ns() + 100000000ull;	/* 100 ms to set up */
	end = mode == MODE_LOAD ? UINT64_MAX : start + (uint64_t)(secs * 1e9);
	res->start_mono = start;
	res->start_real = real_ns() + (start - mono_ns());
	if (mode == MODE_OPEN && O.phase_start_s >= 0) {
		add_mark(res, res->start_real + (uint64_t)(O.phase_start_s * 1e9),
			 "migration-start");
		if (O.phase_end_s >= 0)
			add_mark(res, res->start_real + (uint64_t)(O.phase_end_s * 1e9),
				 "migration-end");
	}

	for (i = 0; i < O.threads; i++) {
		struct thr *t = &thr[i];
		int nodes_now = bench_node_count(), j;
		uint32_t s;

		t->tid = i;
		t->mode = mode;
		t->zipf = g_zipf;
		rng_seed(&t->rng, O.seed * 1000003u + (uint64_t)i + (uint64_t)mode * 7919u);
		t->nc = O.conns / O.threads + (i < O.conns % O.threads);
		if (t->nc < 1)
			t->nc = 1;
		t->start = start;
		t->end = end;
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
		if (mode == MODE_OPEN)	/* threads interleave their sends */
			sched_init(&t->sched, rate / O.threads, O.poisson,
				   start + (uint64_t)(1e9 / rate * i));
		pthread_mutex_init(&t->lock, NULL);
		stats_reset(&t->cur);
		t->ts = O.cfg.drv->thread_init ? O.cfg.drv->thread_init(&O.cfg, i) : NULL;
		/* connect up front, so the run does not pay for it */
		for (j = 0; j < nodes_now; j++) {
			struct conn *c = thr_conns(t, j);
			int kk;

			for (kk = 0; c && kk < t->nc; kk++)
				conn_open(t, &c[kk], 0);
		}
	}
	for (i = 0; i < O.threads; i++)
		if (pthread_create(&thr[i].th, NULL, thr_main, &thr[i])) {
			fprintf(stderr, "steadykv-bench: pthread_create failed\n");
			exit(1);
		}

	for (tick = start + interval; !done; tick += interval) {
		struct row row;
		int j;

		sleep_until(tick);
		poll_marks(&mf, res);
		stats_reset(acc);
		running = 0;
		for (i = 0; i < O.threads; i++) {
			pthread_mutex_lock(&thr[i].lock);
			stats_merge(acc, &thr[i].cur);
			stats_reset(&thr[i].cur);
			running += !thr[i].finished;
			pthread_mutex_unlock(&thr[i].lock);
		}
		done = !running;
		stats_merge(&res->total, acc);
		memset(&row, 0, sizeof(row));
		row.t_s = (double)(tick - start) / 1e9;
		row.ops = acc->ops;
		row.errors = acc->errors;
		row.redirects = acc->redirects;
		row.retries = acc->retries;
		row.p50 = hist_quantile(&acc->h, 0.5);
		row.p99 = hist_quantile(&acc->h, 0.99);
		row.p999 = hist_quantile(&acc->h, 0.999);
		row.max = acc->h.count ? acc->h.max : 0;
		for (j = 0; j < BENCH_MAX_NODES; j++)
			row.node_ops[j] = acc->node_ops[j];
		if (res->nrows == res->rows_cap) {
			size_t cap = res->rows_cap ? res->rows_cap * 2 : 256;
			struct row *nr = realloc(res->rows, cap * sizeof(*nr));

			if (nr) {
				res->rows = nr;
				res->rows_cap = cap;
			}
		}
		if (res->nrows < res->rows_cap)
			res->rows[res->nrows++] = row;
		if (!O.quiet && mode != MODE_LOAD &&
		    (res->nrows * O.interval_ms) % 1000 < O.interval_ms)
			fprintf(stderr, "  %6.1f s  %8.0f ops/s  p50 %8.1f us  p99.9 %9.1f us  err %llu\n",
				row.t_s, (double)row.ops * 1000.0 / O.interval_ms,
				(double)row.p50 / 1e3, (double)row.p999 / 1e3,
				(unsigned long long)row.errors);
		/* phases, PHASE_LAG ticks late */
		if (nlag == PHASE_LAG) {
			int ph = phase_of(res, lag[0].mid_real);

			if (ph >= 0) {
				stats_merge(&res->phase[ph], &lag[0].s);
				res->phase_secs[ph] += O.interval_ms / 1000.0;
			}
			memmove(lag, lag + 1, (PHASE_LAG - 1) * sizeof(*lag));
			nlag--;
		}
		lag[nlag].s = *acc;
		lag[nlag].mid_real = res->start_real + (tick - start) - interval / 2;
		nlag++;
	}
	poll_marks(&mf, res);
	for (k = 0; k < nlag; k++) {
		int ph = phase_of(res, lag[k].mid_real);

		if (ph >= 0) {
			stats_merge(&res->phase[ph], &lag[k].s);
			res->phase_secs[ph] += O.interval_ms / 1000.0;
		}
	}
	for (i = 0; i < O.threads; i++) {
		struct thr *t = &thr[i];
		int j, kk;

		pthread_join(t->th, NULL);
		stats_merge(&res->total, &t->cur);	/* the last words */
		if (t->end == UINT64_MAX || stop_flag)
			res->secs = (double)(mono_ns() - start) / 1e9;
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
	if (!res->secs)
		res->secs = secs;
	if (mode == MODE_LOAD)
		res->secs = (double)(mono_ns() - start) / 1e9;
	ret = 0;
out:
	if (mf.f)
		fclose(mf.f);
	free(thr);
	free(lag);
	free(acc);
	return ret;
}

/* ---- output ---- */

static void print_lat(FILE *f, const char *name, const struct stats *s, double secs)
{
	fprintf(f, "%-8s %10llu ops %9.0f ops/s  p50 %8.1f  p99 %8.1f  p99.9 %9.1f  max %9.1f  mean %8.1f us  err %llu\n",
		name, (unsigned long long)s->ops, secs > 0 ? (double)s->ops / secs : 0,
		(double)hist_quantile(&s->h, 0.5) / 1e3,
		(double)hist_quantile(&s->h, 0.99) / 1e3,
		(double)hist_quantile(&s->h, 0.999) / 1e3,
		(double)(s->h.count ? s->h.max : 0) / 1e3, hist_mean(&s->h) / 1e3,
		(unsigned long long)s->errors);
}

static void json_lat(FILE *f, const struct stats *s, double secs)
{
	fprintf(f, "{\"ops\": %llu, \"ops_per_s\": %.1f, \"errors\": %llu, \"misses\": %llu, "
		"\"redirects\": %llu, \"retries\": %llu, \"unsent\": %llu, "
		"\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, "
		"\"max\": %.1f, \"mean\": %.1f}}",
		(unsigned long long)s->ops, secs > 0 ? (double)s->ops / secs : 0,
		(unsigned long long)s->errors, (unsigned long long)s->misses,
		(unsigned long long)s->redirects, (unsigned long long)s->retries,
		(unsigned long long)s->unsent,
		(double)hist_quantile(&s->h, 0.5) / 1e3,
		(double)hist_quantile(&s->h, 0.99) / 1e3,
		(double)hist_quantile(&s->h, 0.999) / 1e3,
		(double)(s->h.count ? s->h.max : 0) / 1e3, hist_mean(&s->h) / 1e3);
}

/* Columns: t_s,ops,errors,p50_us,p99_us,p999_us,max_us, one ops_<node> per node, redirects,retries. */
static int write_timeline(const char *path, const struct result *res)
{
	FILE *f = fopen(path, "w");
	int n = bench_node_count(), j;
	size_t i;

	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "t_s,ops,errors,p50_us,p99_us,p999_us,max_us");
	for (j = 0; j < n; j++)
		fprintf(f, ",ops_%s", bench_node_get(j)->label);
	fprintf(f, ",redirects,retries\n");
	for (i = 0; i < res->nrows; i++) {
		const struct row *r = &res->rows[i];

		fprintf(f, "%.3f,%llu,%llu,%.1f,%.1f,%.1f,%.1f", r->t_s,
			(unsigned long long)r->ops, (unsigned long long)r->errors,
			(double)r->p50 / 1e3, (double)r->p99 / 1e3,
			(double)r->p999 / 1e3, (double)r->max / 1e3);
		for (j = 0; j < n; j++)
			fprintf(f, ",%llu", (unsigned long long)r->node_ops[j]);
		fprintf(f, ",%llu,%llu\n", (unsigned long long)r->redirects,
			(unsigned long long)r->retries);
	}
	return fclose(f) ? -1 : 0;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

struct summary {
	bool have_load, have_cap, have_run;
	struct result load, cap, run;
	double cap_ops, rate;
};

static int write_json(const char *path, const struct summary *sm)
{
	FILE *f = fopen(path, "w");
	int j;

	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "{\n  \"driver\": \"%s\",\n  \"workload\": {\"name\": ", O.cfg.drv->name);
	json_string(f, O.workload);
	fprintf(f, ", \"read_pct\": %d, \"records\": %llu, \"key_size\": %zu, "
		"\"value_size\": %zu, \"zipf\": %.3f},\n",
		O.cfg.read_pct, (unsigned long long)O.cfg.records, O.cfg.key_size,
		O.cfg.value_size, O.cfg.zipf);
	fprintf(f, "  \"threads\": %d, \"conns_per_node\": %d, \"schedule\": \"%s\",\n",
		O.threads, O.conns, O.poisson ? "poisson" : "uniform");
	fprintf(f, "  \"nodes\": [");
	for (j = 0; j < bench_node_count(); j++) {
		fprintf(f, "%s", j ? ", " : "");
		json_string(f, bench_node_get(j)->label);
	}
	fprintf(f, "]");
	if (sm->have_load) {
		fprintf(f, ",\n  \"load\": {\"seconds\": %.3f, \"result\": ", sm->load.secs);
		json_lat(f, &sm->load.total, sm->load.secs);
		fprintf(f, "}");
	}
	if (sm->have_cap)
		fprintf(f, ",\n  \"capacity\": {\"ops_per_s\": %.1f, \"seconds\": %.3f}",
			sm->cap_ops, sm->cap.secs);
	if (sm->have_run) {
		const struct result *r = &sm->run;

		fprintf(f, ",\n  \"run\": {\"rate_target\": %.1f, \"seconds\": %.3f, \"result\": ",
			sm->rate, r->secs);
		json_lat(f, &r->total, r->secs);
		fprintf(f, ",\n    \"node_ops\": {");
		for (j = 0; j < bench_node_count(); j++) {
			fprintf(f, "%s", j ? ", " : "");
			json_string(f, bench_node_get(j)->label);
			fprintf(f, ": %llu", (unsigned long long)r->total.node_ops[j]);
		}
		fprintf(f, "}}");
		if (r->nmarks) {
			fprintf(f, ",\n  \"marks\": [");
			for (size_t i = 0; i < r->nmarks; i++) {
				fprintf(f, "%s{\"label\": ", i ? ", " : "");
				json_string(f, r->marks[i].label);
				fprintf(f, ", \"t_s\": %.3f}",
					((double)r->marks[i].real - (double)r->start_real) / 1e9);
			}
			fprintf(f, "],\n  \"phases\": {");
			for (int ph = 0; ph < PH_N; ph++) {
				fprintf(f, "%s\"%s\": ", ph ? ", " : "", phase_names[ph]);
				/* the phase's rate is over its own intervals */
				json_lat(f, &r->phase[ph], r->phase_secs[ph]);
			}
			fprintf(f, "}");
		}
	}
	fprintf(f, "\n}\n");
	return fclose(f) ? -1 : 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: steadykv-bench TARGET [options]\n"
"targets (one kind):\n"
"  --coord HOST:PORT     steadykv cluster through its coordinator\n"
"  --node HOST:PORT      one steadykv node (no coordinator)\n"
"  --redis HOST:PORT     Redis Cluster (any node; CLUSTER SLOTS) or one redis-server\n"
"  --memcached HOST:PORT memcached (repeatable: keys spread by hash)\n"
"phases:\n"
"  --load                insert all records first (pipelined, closed loop)\n"
"  --no-run              stop after the load / capacity phases\n"
"  --capacity            measure closed-loop capacity (--capacity-s, --depth)\n"
"  --rate OPS            open-loop target rate (ops/s)\n"
"  --rate-frac F         with --capacity: run at F x the capacity measured\n"
"  --duration S          run seconds (10)\n"
"workload:\n"
"  --workload b|c|a      YCSB-B 95%% reads (default), C 100%%, A 50%%\n"
"  --read-pct N          override the read share\n"
"  --records N (100000)  --key-size N (30)  --value-size N (100)\n"
"  --zipf THETA (0.99; 0 = uniform)  --table ID (1)  --seed N  --poisson\n"
"engine:\n"
"  --threads N (2)  --conns N per node (8)  --depth N closed-loop per conn (16)\n"
"  --max-outstanding N per thread (100000)  --drain-s S (5)  --capacity-s S (3)\n"
"output:\n"
"  --interval-ms N (100)  --timeline FILE.csv  --json FILE\n"
"  --mark-file FILE      lines \"REALTIME_NS LABEL\": idle / during (migration-start\n"
"                        .. migration-end) / after phases\n"
"  --phases START,END    the same, in seconds from the start of the run\n"
"  --quiet\n");
}

static int add_seed(const char *addr)
{
	char host[BENCH_ADDR_MAX];
	uint16_t port;

	if (bench_split_addr(addr, host, sizeof(host), &port)) {
		fprintf(stderr, "steadykv-bench: bad address '%s' (HOST:PORT)\n", addr);
		return -1;
	}
	if (O.cfg.nseeds == BENCH_MAX_NODES)
		return -1;
	snprintf(O.cfg.seeds[O.cfg.nseeds++], BENCH_ADDR_MAX, "%s", addr);
	return 0;
}

static int set_drv(const struct bench_driver *d)
{
	if (O.cfg.drv && O.cfg.drv != d) {
		fprintf(stderr, "steadykv-bench: one kind of target at a time\n");
		return -1;
	}
	O.cfg.drv = d;
	return 0;
}

static double num_arg(const char *name, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "steadykv-bench: bad %s '%s' (%g..%g)\n", name, s, lo, hi);
		exit(2);
	}
	return v;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	enum { O_COORD = 256, O_NODE, O_REDIS, O_MC, O_LOAD, O_NORUN, O_CAP, O_RATE,
	       O_FRAC, O_DUR, O_WL, O_READ, O_REC, O_KS, O_VS, O_ZIPF, O_TABLE, O_SEED,
	       O_POIS, O_THR, O_CONNS, O_DEPTH, O_MAXO, O_DRAIN, O_CAPS, O_IVAL, O_TL,
	       O_JSON, O_MARK, O_PHASES, O_QUIET, O_HELP };
	static const struct option lopts[] = {
		{ "coord", 1, NULL, O_COORD }, { "node", 1, NULL, O_NODE },
		{ "redis", 1, NULL, O_REDIS }, { "memcached", 1, NULL, O_MC },
		{ "load", 0, NULL, O_LOAD }, { "no-run", 0, NULL, O_NORUN },
		{ "capacity", 0, NULL, O_CAP }, { "rate", 1, NULL, O_RATE },
		{ "rate-frac", 1, NULL, O_FRAC }, { "duration", 1, NULL, O_DUR },
		{ "workload", 1, NULL, O_WL }, { "read-pct", 1, NULL, O_READ },
		{ "records", 1, NULL, O_REC }, { "key-size", 1, NULL, O_KS },
		{ "value-size", 1, NULL, O_VS }, { "zipf", 1, NULL, O_ZIPF },
		{ "table", 1, NULL, O_TABLE }, { "seed", 1, NULL, O_SEED },
		{ "poisson", 0, NULL, O_POIS }, { "threads", 1, NULL, O_THR },
		{ "conns", 1, NULL, O_CONNS }, { "depth", 1, NULL, O_DEPTH },
		{ "max-outstanding", 1, NULL, O_MAXO }, { "drain-s", 1, NULL, O_DRAIN },
		{ "capacity-s", 1, NULL, O_CAPS }, { "interval-ms", 1, NULL, O_IVAL },
		{ "timeline", 1, NULL, O_TL }, { "json", 1, NULL, O_JSON },
		{ "mark-file", 1, NULL, O_MARK }, { "phases", 1, NULL, O_PHASES },
		{ "quiet", 0, NULL, O_QUIET }, { "help", 0, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static struct zipf zipf;
	struct summary *sm = calloc(1, sizeof(*sm));
	struct sigaction sa = { .sa_handler = on_signal };
	int opt, read_pct = -1, rc = 0;

	if (!sm)
		return 1;
	O.threads = 2;
	O.conns = 8;
	O.duration_s = 10;
	O.capacity_s = 3;
	O.drain_s = 5;
	O.depth = 16;
	O.interval_ms = 100;
	O.max_outstanding = 100000;
	O.seed = 1;
	O.run = 1;
	O.phase_start_s = O.phase_end_s = -1;
	O.workload = "b";
	O.cfg.table = 1;
	O.cfg.records = 100000;
	O.cfg.key_size = 30;
	O.cfg.value_size = 100;
	O.cfg.zipf = 0.99;
	O.cfg.refresh_min_us = 1000;

	while ((opt = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (opt) {
		case O_COORD:
			if (set_drv(&bench_drv_skv))
				return 2;
			snprintf(O.cfg.coord, sizeof(O.cfg.coord), "%s", optarg);
			break;
		case O_NODE:
			if (set_drv(&bench_drv_skv) || add_seed(optarg))
				return 2;
			break;
		case O_REDIS:
			if (set_drv(&bench_drv_redis) || add_seed(optarg))
				return 2;
			break;
		case O_MC:
			if (set_drv(&bench_drv_mc) || add_seed(optarg))
				return 2;
			break;
		case O_LOAD: O.load = 1; break;
		case O_NORUN: O.run = 0; break;
		case O_CAP: O.capacity = 1; break;
		case O_RATE: O.rate = num_arg("rate", optarg, 1, 1e9); break;
		case O_FRAC: O.rate_frac = num_arg("rate-frac", optarg, 0.001, 10); break;
		case O_DUR: O.duration_s = num_arg("duration", optarg, 0.1, 1e6); break;
		case O_WL:
			O.workload = optarg;
			if (strcasecmp(optarg, "a") && strcasecmp(optarg, "b") &&
			    strcasecmp(optarg, "c")) {
				fprintf(stderr, "steadykv-bench: workload a, b or c\n");
				return 2;
			}
			break;
		case O_READ: read_pct = (int)num_arg("read-pct", optarg, 0, 100); break;
		case O_REC: O.cfg.records = (uint64_t)num_arg("records", optarg, 1, 1e12); break;
		case O_KS: O.cfg.key_size = (size_t)num_arg("key-size", optarg, 5, SKV_MAX_KEY_LEN); break;
		case O_VS: O.cfg.value_size = (size_t)num_arg("value-size", optarg, 0, SKV_MAX_VALUE_LEN); break;
		case O_ZIPF: O.cfg.zipf = num_arg("zipf", optarg, 0, 0.9999); break;
		case O_TABLE: O.cfg.table = (uint64_t)num_arg("table", optarg, 0, 1.8e19); break;
		case O_SEED: O.seed = (uint64_t)num_arg("seed", optarg, 0, 1e18); break;
		case O_POIS: O.poisson = 1; break;
		case O_THR: O.threads = (int)num_arg("threads", optarg, 1, 64); break;
		case O_CONNS: O.conns = (int)num_arg("conns", optarg, 1, 1024); break;
		case O_DEPTH: O.depth = (unsigned int)num_arg("depth", optarg, 1, 4096); break;
		case O_MAXO: O.max_outstanding = (uint32_t)num_arg("max-outstanding", optarg, 16, 1e7); break;
		case O_DRAIN: O.drain_s = num_arg("drain-s", optarg, 0, 600); break;
		case O_CAPS: O.capacity_s = num_arg("capacity-s", optarg, 0.5, 600); break;
		case O_IVAL: O.interval_ms = (unsigned int)num_arg("interval-ms", optarg, 10, 60000); break;
		case O_TL: O.timeline = optarg; break;
		case O_JSON: O.json = optarg; break;
		case O_MARK: O.mark_file = optarg; break;
		case O_PHASES:
			if (sscanf(optarg, "%lf,%lf", &O.phase_start_s, &O.phase_end_s) != 2 ||
			    O.phase_start_s < 0 || O.phase_end_s < O.phase_start_s) {
				fprintf(stderr, "steadykv-bench: --phases START_S,END_S\n");
				return 2;
			}
			break;
		case O_QUIET: O.quiet = 1; break;
		case O_HELP:
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !O.cfg.drv) {
		usage(stderr);
		return 2;
	}
	if (O.cfg.drv == &bench_drv_skv && !O.cfg.coord[0] && O.cfg.nseeds != 1) {
		fprintf(stderr, "steadykv-bench: --coord, or exactly one --node\n");
		return 2;
	}
	if (O.run && !O.rate && !(O.capacity && O.rate_frac)) {
		if (O.load || O.capacity) {
			O.run = 0;
		} else {
			fprintf(stderr, "steadykv-bench: --rate (or --capacity --rate-frac F)\n");
			return 2;
		}
	}
	O.cfg.read_pct = read_pct >= 0 ? read_pct
		       : !strcasecmp(O.workload, "c") ? 100
		       : !strcasecmp(O.workload, "a") ? 50 : 95;
	if (O.threads > O.conns)
		O.threads = O.conns;	/* each thread needs a connection per node */
	{
		char probe[SKV_MAX_KEY_LEN + 1];

		if (make_key(probe, O.cfg.key_size, O.cfg.records - 1)) {
			fprintf(stderr, "steadykv-bench: --key-size %zu too small for %llu records\n",
				O.cfg.key_size, (unsigned long long)O.cfg.records);
			return 2;
		}
	}
	O.cfg.value = malloc(O.cfg.value_size + 1);
	if (!O.cfg.value)
		return 1;
	{
		struct rng r;
		size_t i;

		rng_seed(&r, 42);
		for (i = 0; i < O.cfg.value_size; i++)
			O.cfg.value[i] = (char)('a' + rng_next(&r) % 26);
	}
	if (zipf_init(&zipf, O.cfg.records, O.cfg.zipf)) {
		fprintf(stderr, "steadykv-bench: bad --zipf/--records\n");
		return 2;
	}
	g_zipf = &zipf;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (O.cfg.drv->setup(&O.cfg))
		return 1;
	if (!bench_node_count()) {
		fprintf(stderr, "steadykv-bench: no nodes found\n");
		return 1;
	}
	printf("steadykv-bench: %s, %d node(s), %d thread(s), %d conn(s)/node, workload %s (%d%% reads), %llu records, zipf %.2f, %zu B keys, %zu B values\n",
	       O.cfg.drv->name, bench_node_count(), O.threads, O.conns, O.workload,
	       O.cfg.read_pct, (unsigned long long)O.cfg.records, O.cfg.zipf,
	       O.cfg.key_size, O.cfg.value_size);

	if (O.load && !stop_flag) {
		if (run_phase(MODE_LOAD, 0, 0, &sm->load))
			return 1;
		sm->have_load = true;
		print_lat(stdout, "load", &sm->load.total, sm->load.secs);
		if (sm->load.total.errors)
			rc = 1;
	}
	if (O.capacity && !stop_flag) {
		size_t i, warm = (size_t)(500 / O.interval_ms);
		uint64_t ops = 0;

		if (run_phase(MODE_CLOSED, O.capacity_s, 0, &sm->cap))
			return 1;
		sm->have_cap = true;
		/* skip the first 0.5 s; count whole intervals until issuing stopped */
		for (i = warm; i < sm->cap.nrows &&
		     sm->cap.rows[i].t_s <= O.capacity_s + 1e-9; i++)
			ops += sm->cap.rows[i].ops;
		if (i > warm)
			sm->cap_ops = (double)ops / ((double)(i - warm) * O.interval_ms / 1000.0);
		print_lat(stdout, "capacity", &sm->cap.total, sm->cap.secs);
		printf("capacity %.0f ops/s (closed loop, depth %u per connection)\n",
		       sm->cap_ops, O.depth);
		if (O.rate_frac)
			O.rate = sm->cap_ops * O.rate_frac;
	}
	if (O.run && O.rate > 0 && !stop_flag) {
		int ph;

		sm->rate = O.rate;
		printf("run: %.0f ops/s target, %s schedule, %.1f s\n", O.rate,
		       O.poisson ? "Poisson" : "uniform", O.duration_s);
		fflush(stdout);
		if (run_phase(MODE_OPEN, O.duration_s, O.rate, &sm->run))
			return 1;
		sm->have_run = true;
		print_lat(stdout, "run", &sm->run.total, sm->run.secs);
		printf("         misses %llu  redirects %llu  retries %llu  unsent %llu\n",
		       (unsigned long long)sm->run.total.misses,
		       (unsigned long long)sm->run.total.redirects,
		       (unsigned long long)sm->run.total.retries,
		       (unsigned long long)sm->run.total.unsent);
		if (sm->run.nmarks)
			for (ph = 0; ph < PH_N; ph++)
				print_lat(stdout, phase_names[ph], &sm->run.phase[ph],
					  sm->run.phase_secs[ph]);
		for (ph = 0; ph < bench_node_count(); ph++)
			printf("  node %-28s %llu ops\n", bench_node_get(ph)->label,
			       (unsigned long long)sm->run.total.node_ops[ph]);
		if (sm->run.total.unsent)
			printf("warning: the generator fell behind (%llu requests never sent: raise --max-outstanding)\n",
			       (unsigned long long)sm->run.total.unsent);
		if (O.timeline && write_timeline(O.timeline, &sm->run))
			rc = 1;
	} else if (O.timeline && sm->have_cap && write_timeline(O.timeline, &sm->cap)) {
		rc = 1;
	}
	if (O.json && write_json(O.json, sm))
		rc = 1;
	free(sm->load.rows);
	free(sm->cap.rows);
	free(sm->run.rows);
	free(sm->run.marks);
	free(sm);
	free(O.cfg.value);
	return rc;
}
