// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host tests of steadykvd's node agent: the agent runs in a thread against
 * a fake coordinator (a TCP listener in the test, speaking coord_proto)
 * and a fake module behind node_agent_nl_ops.  Run under ASan+UBSan.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uapi/linux/steadykv.h>

#include "kselftest_harness.h"
#include "auth_key.h"
#include "coord_proto.h"
#include "node_agent.h"

/* ---- the fake module ---- */

struct fake {
	pthread_mutex_t mu;
	int evpipe[2];
	struct skv_migration queue[64];
	size_t nq;
	bool overrun;
	struct skv_migration dump[8];
	size_t ndump;
	bool dump_unsupported;
	/* auth-set: how often, and the length of the last current key */
	int n_auth_set;
	size_t auth_cur_len;
	/* client keys: each added (its id and rights), client-auth-required */
	int n_client_add, n_client_del, n_client_auth, client_auth_on;
	uint32_t client_ids[4];
	struct sknl_client_key client_rights[4];
	/* the node's incarnation (node-get) */
	uint64_t incarnation;
	/* listen */
	int listen_rc;
	uint8_t laddr[16];
	int lalen;
	uint16_t lport;
	/* answers */
	int table_add_rc, tablet_add_rc, start_rc;
	char start_msg[64];
	/* what was asked */
	int n_table_add, n_tablet_add, n_tablet_del, n_table_del, n_start, n_cancel, n_dump;
	int n_listen, n_decide;
	uint64_t table, start, end, cancel_id, decide_id;
	bool decide_abort;
	uint64_t epoch;			/* learned; and when the last command came */
	uint64_t epoch_at_command;
	struct skv_migration mig;
	uint64_t tablet_requests;	/* the one tablet of tablet_dump */
	/* repl-recover: each waits until released; the tables, in order */
	pthread_cond_t recover_cv;
	bool recover_released;
	int n_recover_started, n_recover;
	uint64_t recover_tables[4];
};

static int f_open(void *arg, struct sknl_err *err)
{
	(void)arg;
	(void)err;
	return 0;
}

static void f_close(void *arg)
{
	(void)arg;
}

static int f_event_fd(void *arg)
{
	return ((struct fake *)arg)->evpipe[0];
}

static int f_read_events(void *arg, void (*fn)(void *ctx, const struct skv_migration *m),
			 void *ctx)
{
	struct fake *f = arg;
	struct skv_migration q[64];
	char buf[64];
	size_t n;
	bool overrun;

	while (read(f->evpipe[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		;
	pthread_mutex_lock(&f->mu);
	n = f->nq;
	memcpy(q, f->queue, n * sizeof(q[0]));
	f->nq = 0;
	overrun = f->overrun;
	f->overrun = false;
	pthread_mutex_unlock(&f->mu);
	if (overrun)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++)
		fn(ctx, &q[i]);
	return 0;
}

static void set_err(struct sknl_err *err, int rc, const char *msg)
{
	memset(err, 0, sizeof(*err));
	err->error = -rc;
	snprintf(err->msg, sizeof(err->msg), "%s", msg ? msg : "");
}

static int f_listen_start(void *arg, const uint8_t *addr, int alen, uint16_t port,
			  struct sknl_err *err)
{
	struct fake *f = arg;

	pthread_mutex_lock(&f->mu);
	f->n_listen++;
	pthread_mutex_unlock(&f->mu);
	if (f->listen_rc) {
		set_err(err, f->listen_rc, "already listening");
		return f->listen_rc;
	}
	memcpy(f->laddr, addr, (size_t)alen);
	f->lalen = alen;
	f->lport = port;
	return 0;
}

static int f_incarnation(void *arg, uint64_t *incarnation, struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	pthread_mutex_lock(&f->mu);
	*incarnation = f->incarnation;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_listen_get(void *arg, uint8_t *addr, int *alen, uint16_t *port,
			struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	memcpy(addr, f->laddr, 16);
	*alen = f->lalen;
	*port = f->lport;
	return 0;
}

static int f_table_add(void *arg, uint64_t table, struct sknl_err *err)
{
	struct fake *f = arg;
	int rc;

	pthread_mutex_lock(&f->mu);
	f->n_table_add++;
	f->table = table;
	rc = f->table_add_rc;
	pthread_mutex_unlock(&f->mu);
	if (rc)
		set_err(err, rc, "table exists");
	return rc;
}

static int f_table_del(void *arg, uint64_t table, struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	pthread_mutex_lock(&f->mu);
	f->n_table_del++;
	f->table = table;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_tablet_add(void *arg, uint64_t table, uint64_t start, uint64_t end,
			struct sknl_err *err)
{
	struct fake *f = arg;
	int rc;

	pthread_mutex_lock(&f->mu);
	f->n_tablet_add++;
	f->table = table;
	f->start = start;
	f->end = end;
	rc = f->tablet_add_rc;
	pthread_mutex_unlock(&f->mu);
	if (rc)
		set_err(err, rc, "overlaps a tablet");
	return rc;
}

static int f_tablet_del(void *arg, uint64_t table, uint64_t start, uint64_t end,
			struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	pthread_mutex_lock(&f->mu);
	f->n_tablet_del++;
	f->table = table;
	f->start = start;
	f->end = end;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_migrate_start(void *arg, const struct skv_migration *m, struct sknl_err *err)
{
	struct fake *f = arg;
	int rc;

	pthread_mutex_lock(&f->mu);
	f->n_start++;
	f->mig = *m;
	rc = f->start_rc;
	pthread_mutex_unlock(&f->mu);
	if (rc)
		set_err(err, rc, f->start_msg);
	return rc;
}

static int f_learn_epoch(void *arg, uint64_t epoch, struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	pthread_mutex_lock(&f->mu);
	if (epoch > f->epoch)
		f->epoch = epoch;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_migrate_decide(void *arg, uint64_t id, bool abort, struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	pthread_mutex_lock(&f->mu);
	f->n_decide++;
	f->decide_id = id;
	f->decide_abort = abort;
	f->epoch_at_command = f->epoch;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_migrate_cancel(void *arg, uint64_t id, struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	pthread_mutex_lock(&f->mu);
	f->n_cancel++;
	f->cancel_id = id;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_migrate_dump(void *arg, void (*fn)(void *ctx, const struct skv_migration *m),
			  void *ctx, struct sknl_err *err)
{
	struct fake *f = arg;
	struct skv_migration d[8];
	size_t n;

	pthread_mutex_lock(&f->mu);
	f->n_dump++;
	n = f->ndump;
	memcpy(d, f->dump, n * sizeof(d[0]));
	pthread_mutex_unlock(&f->mu);
	if (f->dump_unsupported) {
		set_err(err, -EOPNOTSUPP, "migration not built yet");
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < n; i++)
		fn(ctx, &d[i]);
	return 0;
}

static int f_auth_set(void *arg, const struct sknl_auth *auth, struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	pthread_mutex_lock(&f->mu);
	f->n_auth_set++;
	f->auth_cur_len = auth->cur_len;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_client_auth(void *arg, int on, struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	pthread_mutex_lock(&f->mu);
	f->n_client_auth++;
	f->client_auth_on = on;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_client_key_add(void *arg, const uint8_t *secret, size_t len,
			    const struct sknl_client_key *rights, struct sknl_err *err)
{
	struct fake *f = arg;
	struct skv_auth_key k;

	(void)err;
	skv_auth_key_set(&k, secret, len);
	pthread_mutex_lock(&f->mu);
	if (f->n_client_add < 4) {
		f->client_ids[f->n_client_add] = k.id;
		f->client_rights[f->n_client_add] = *rights;
	}
	f->n_client_add++;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int f_client_key_del(void *arg, uint32_t id, struct sknl_err *err)
{
	struct fake *f = arg;

	(void)id;
	(void)err;
	pthread_mutex_lock(&f->mu);
	f->n_client_del++;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static const struct node_agent_nl_ops fake_ops = {
	.open = f_open,
	.close = f_close,
	.event_fd = f_event_fd,
	.read_events = f_read_events,
	.listen_start = f_listen_start,
	.incarnation = f_incarnation,
	.listen_get = f_listen_get,
	.table_add = f_table_add,
	.table_del = f_table_del,
	.tablet_add = f_tablet_add,
	.tablet_del = f_tablet_del,
	.migrate_start = f_migrate_start,
	.migrate_cancel = f_migrate_cancel,
	.migrate_dump = f_migrate_dump,
	.migrate_decide = f_migrate_decide,
	.learn_epoch = f_learn_epoch,
	.auth_set = f_auth_set,
	.client_auth = f_client_auth,
	.client_key_add = f_client_key_add,
	.client_key_del = f_client_key_del,
};

/*
 * A recovery that lasts until the test releases it; table 13 has no
 * replica here.  Called on the agent's recovery thread.
 */
static int f_repl_recover(void *arg, uint64_t primary_id, uint64_t epoch, uint64_t table,
			  uint64_t start, uint64_t end, struct sknl_repl *out,
			  struct sknl_err *err)
{
	struct fake *f = arg;

	(void)primary_id;
	(void)epoch;
	(void)start;
	(void)end;
	pthread_mutex_lock(&f->mu);
	f->n_recover_started++;
	pthread_cond_broadcast(&f->recover_cv);
	while (!f->recover_released)
		pthread_cond_wait(&f->recover_cv, &f->mu);
	f->recover_tables[f->n_recover++ % 4] = table;
	pthread_mutex_unlock(&f->mu);
	if (table == 13) {
		set_err(err, -ENOENT, "no replica of node 7");
		return -ENOENT;
	}
	memset(out, 0, sizeof(*out));
	out->val[STEADYKV_A_REPL_RECOVER_RECORDS] = 10;
	return 0;
}

static void release_recoveries(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->recover_released = true;
	pthread_cond_broadcast(&f->recover_cv);
	pthread_mutex_unlock(&f->mu);
}

/* A module with one tablet, table 5, whose counter the test sets. */
static int f_tablet_dump(void *arg, struct sknl_tablet **out, size_t *count,
			 struct sknl_err *err)
{
	struct fake *f = arg;

	(void)err;
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	pthread_mutex_lock(&f->mu);
	**out = (struct sknl_tablet){ .table_id = 5, .start_hash = 0, .end_hash = UINT64_MAX,
				      .requests = f->tablet_requests };
	pthread_mutex_unlock(&f->mu);
	*count = 1;
	return 0;
}

static struct skv_migration mig(uint64_t id, uint32_t state, uint64_t elapsed, uint32_t pm)
{
	struct skv_migration m = { 0 };

	m.id = id;
	m.table_id = 1;
	m.start_hash = 0;
	m.end_hash = UINT64_MAX / 2;
	snprintf(m.source, sizeof(m.source), "10.0.0.9:7001");
	m.state = state;
	m.elapsed_us = elapsed;
	m.progress_permille = pm;
	m.bytes_pulled = pm * 1000ull;
	for (int a = STEADYKV_A_MIGRATION_ID; a <= STEADYKV_A_MIGRATION_OWNED_US; a++)
		if (a != STEADYKV_A_MIGRATION_ERROR_MSG)
			SKV_MIG_SET(&m, a);
	return m;
}

static void push_event(struct fake *f, const struct skv_migration *m, bool overrun)
{
	pthread_mutex_lock(&f->mu);
	if (m)
		f->queue[f->nq++] = *m;
	if (overrun)
		f->overrun = true;
	pthread_mutex_unlock(&f->mu);
	if (write(f->evpipe[1], "e", 1) != 1)
		abort();
}

/* ---- the fake coordinator ---- */

static int listen_any(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t l = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&sin, &l))
		return -1;
	*port = ntohs(sin.sin_port);
	return fd;
}

static int accept_within(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return -1;
	return accept(lfd, NULL, NULL);
}

static int send_frame_epoch(int fd, uint8_t op, uint8_t flags, uint16_t status,
			    uint64_t id, uint32_t epoch, const void *body, size_t len)
{
	struct coord_buf b;
	int rc;

	coord_buf_init(&b);
	rc = coord_frame_append_epoch(&b, op, flags, status, id, epoch, body, len);
	if (!rc)
		rc = coord_write_all(fd, b.p, b.len, 2000);
	coord_buf_free(&b);
	return rc;
}

static int send_frame(int fd, uint8_t op, uint8_t flags, uint16_t status, uint64_t id,
		      const void *body, size_t len)
{
	return send_frame_epoch(fd, op, flags, status, id, 0, body, len);
}

/* Is a frame coming within ms? */
static bool quiet_for(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

struct coord_side {
	int fd;
	uint64_t next_id;
	uint32_t epoch;			/* in the header of each command */
	int reports;			/* MIG_REPORTs seen */
	struct skv_migration last;	/* the last one */
	uint64_t incarnation;		/* in the last NODE_REGISTER */
};

/* Read the next MIG_REPORT (answering it); 0 or -1 (timeout, other frame). */
static int next_report(struct coord_side *c, int ms)
{
	struct coord_hdr h;
	uint8_t *body = NULL;
	int rc = coord_read_frame(c->fd, ms, &h, &body);

	if (rc || h.opcode != SKV_COORD_OP_MIG_REPORT || (h.flags & SKV_COORD_F_REPLY) ||
	    coord_mig_decode(body, h.body_len, &c->last)) {
		free(body);
		return -1;
	}
	free(body);
	c->reports++;
	return send_frame(c->fd, h.opcode, SKV_COORD_F_REPLY, 0, h.request_id, NULL, 0);
}

/* Send a command, answer reports meanwhile, return the reply's status. */
static int call(struct coord_side *c, uint8_t op, const void *body, size_t len, char *msg,
		size_t msglen)
{
	uint64_t id = c->next_id++;

	if (msg && msglen)
		msg[0] = 0;
	if (send_frame_epoch(c->fd, op, 0, 0, id, c->epoch, body, len))
		return -1;
	for (;;) {
		struct coord_hdr h;
		uint8_t *b = NULL;
		int rc = coord_read_frame(c->fd, 3000, &h, &b);

		if (rc)
			return -1;
		if (!(h.flags & SKV_COORD_F_REPLY) && h.opcode == SKV_COORD_OP_MIG_REPORT) {
			coord_mig_decode(b, h.body_len, &c->last);
			c->reports++;
			free(b);
			send_frame(c->fd, h.opcode, SKV_COORD_F_REPLY, 0, h.request_id, NULL, 0);
			continue;
		}
		if (!(h.flags & SKV_COORD_F_REPLY) || h.request_id != id || h.opcode != op) {
			free(b);
			return -1;
		}
		if (h.status && msg)
			snprintf(msg, msglen, "%s", coord_error_msg(h.status, b, h.body_len));
		free(b);
		return h.status;
	}
}

/* Accept the agent and answer its NODE_REGISTER; 0 or -1. */
static int accept_register(struct coord_side *c, int lfd, uint32_t *node, char *addr,
			   size_t addrlen)
{
	struct coord_node_info n;
	struct coord_hdr h;
	uint8_t *body = NULL;

	c->fd = accept_within(lfd, 3000);
	if (c->fd < 0)
		return -1;
	if (coord_read_frame(c->fd, 3000, &h, &body) || h.opcode != SKV_COORD_OP_NODE_REGISTER ||
	    coord_register_decode(body, h.body_len, &n)) {
		free(body);
		return -1;
	}
	free(body);
	*node = n.id;
	c->incarnation = n.incarnation;
	snprintf(addr, addrlen, "%s", n.addr);
	return send_frame(c->fd, h.opcode, SKV_COORD_F_REPLY, 0, h.request_id, NULL, 0);
}

/* ---- the fixture: agent thread + fake module + fake coordinator ---- */

struct agent_thread {
	struct node_agent_opts o;
	pthread_t t;
	int rc;
};

static void *agent_main(void *arg)
{
	struct agent_thread *a = arg;

	a->rc = node_agent_run(&a->o);
	return NULL;
}

FIXTURE(agent) {
	struct fake f;
	int lfd;
	uint16_t port;
	char coord_addr[32];
	int stop[2];
	struct agent_thread a;
	bool running;
	struct coord_side c;
};

FIXTURE_SETUP(agent)
{
	memset(&self->f, 0, sizeof(self->f));
	pthread_mutex_init(&self->f.mu, NULL);
	pthread_cond_init(&self->f.recover_cv, NULL);
	ASSERT_EQ(0, pipe2(self->f.evpipe, O_NONBLOCK | O_CLOEXEC));
	ASSERT_EQ(0, pipe2(self->stop, O_CLOEXEC));
	self->lfd = listen_any(&self->port);
	ASSERT_LE(0, self->lfd);
	snprintf(self->coord_addr, sizeof(self->coord_addr), "127.0.0.1:%u", self->port);
	memset(&self->a, 0, sizeof(self->a));
	self->a.o = (struct node_agent_opts){
		.node_id = 3,
		.data_addr = "127.0.0.1:7000",
		.coord_addr = self->coord_addr,
		.reconnect_min_ms = 20,
		.reconnect_max_ms = 100,
		.progress_interval_ms = 200,
		/* Out of the way of the frames a test counts (own test below). */
		.heartbeat_ms = 3600000,
		.stop_fd = self->stop[0],
		.stop_fd_set = true,
		.no_signals = true,
		.nl = &fake_ops,
		.nl_arg = &self->f,
	};
	self->running = false;
	self->c = (struct coord_side){ .fd = -1, .next_id = 1 };
}

FIXTURE_TEARDOWN(agent)
{
	release_recoveries(&self->f);	/* the agent waits for the one under way */
	if (self->running) {
		ASSERT_EQ(1, write(self->stop[1], "x", 1));
		pthread_join(self->a.t, NULL);
		EXPECT_EQ(0, self->a.rc);
	}
	if (self->c.fd >= 0)
		close(self->c.fd);
	close(self->lfd);
	close(self->stop[0]);
	close(self->stop[1]);
	close(self->f.evpipe[0]);
	close(self->f.evpipe[1]);
	pthread_cond_destroy(&self->f.recover_cv);
}

static void start_agent(struct __test_metadata *_metadata, FIXTURE_DATA(agent) *self)
{
	ASSERT_EQ(0, pthread_create(&self->a.t, NULL, agent_main, &self->a));
	self->running = true;
}

static void up(struct __test_metadata *_metadata, FIXTURE_DATA(agent) *self)
{
	uint32_t node = 0;
	char addr[SKV_COORD_ADDR_MAX];

	start_agent(_metadata, self);
	ASSERT_EQ(0, accept_register(&self->c, self->lfd, &node, addr, sizeof(addr)));
	ASSERT_EQ(3u, node);
	ASSERT_STREQ("127.0.0.1:7000", addr);
}

TEST_F(agent, registers_listens_and_reports_the_dump)
{
	self->f.dump[0] = mig(7, STEADYKV_MIGRATION_STATE_PULLING, 1000, 250);
	self->f.ndump = 1;
	up(_metadata, self);
	ASSERT_EQ(0, next_report(&self->c, 2000));
	EXPECT_EQ(7u, self->c.last.id);
	EXPECT_EQ(STEADYKV_MIGRATION_STATE_PULLING, self->c.last.state);
	EXPECT_EQ(3u, self->c.last.dst);
	EXPECT_EQ(250u, self->c.last.progress_permille);
	EXPECT_STREQ("10.0.0.9:7001", self->c.last.source);
	EXPECT_EQ(1, self->f.n_listen);
	EXPECT_EQ(4, self->f.lalen);
	EXPECT_EQ(7000, self->f.lport);
	EXPECT_EQ(0, memcmp(self->f.laddr, "\x7f\0\0\x01", 4));
	EXPECT_TRUE(quiet_for(self->c.fd, 300));
}

TEST_F(agent, serves_tablet_and_table_commands)
{
	struct coord_tablet_info t = { .table_id = 5, .start_hash = 16, .end_hash = 31 };
	struct coord_buf b;
	char msg[256];

	self->f.dump_unsupported = true;	/* today's module: no migrations */
	up(_metadata, self);
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_tablet_encode(&b, &t));

	/* The table exists already: fine, the tablet is added. */
	self->f.table_add_rc = -EEXIST;
	ASSERT_EQ(0, call(&self->c, SKV_COORD_OP_NODE_TABLET_ADD, b.p, b.len, msg, sizeof(msg)));
	EXPECT_EQ(1, self->f.n_table_add);
	EXPECT_EQ(1, self->f.n_tablet_add);
	EXPECT_EQ(5u, self->f.table);
	EXPECT_EQ(16u, self->f.start);
	EXPECT_EQ(31u, self->f.end);

	/* The kernel's errno and extack come back. */
	self->f.tablet_add_rc = -EBUSY;
	ASSERT_EQ(EBUSY, call(&self->c, SKV_COORD_OP_NODE_TABLET_ADD, b.p, b.len, msg,
			      sizeof(msg)));
	EXPECT_STREQ("overlaps a tablet", msg);

	ASSERT_EQ(0, call(&self->c, SKV_COORD_OP_NODE_TABLET_DEL, b.p, b.len, msg, sizeof(msg)));
	EXPECT_EQ(1, self->f.n_tablet_del);

	/* A body of the wrong size is refused before netlink. */
	ASSERT_EQ(EINVAL, call(&self->c, SKV_COORD_OP_NODE_TABLET_DEL, b.p, b.len - 1, msg,
			       sizeof(msg)));
	EXPECT_EQ(1, self->f.n_tablet_del);

	coord_buf_free(&b);
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_table_encode(&b, 9, NULL, 0));
	ASSERT_EQ(0, call(&self->c, SKV_COORD_OP_NODE_TABLE_DEL, b.p, b.len, msg, sizeof(msg)));
	EXPECT_EQ(1, self->f.n_table_del);
	EXPECT_EQ(9u, self->f.table);

	/* Not a node command. */
	ASSERT_EQ(EOPNOTSUPP, call(&self->c, SKV_COORD_OP_GET_MAP, NULL, 0, msg, sizeof(msg)));
	coord_buf_free(&b);
	EXPECT_EQ(0, self->c.reports);
}

/*
 * The coordinator's decision reaches the module (migrate-decide), and the
 * epoch in a command's header is learned before the command runs.
 */
TEST_F(agent, decisions_and_epochs)
{
	struct coord_buf b;
	char msg[256];

	self->f.dump_unsupported = true;
	up(_metadata, self);
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_decision_encode(&b, 77, true));
	self->c.epoch = 12;
	ASSERT_EQ(0, call(&self->c, SKV_COORD_OP_NODE_MIGRATE_DECIDE, b.p, b.len, msg,
			  sizeof(msg)));
	EXPECT_EQ(1, self->f.n_decide);
	EXPECT_EQ(77u, self->f.decide_id);
	EXPECT_TRUE(self->f.decide_abort);
	EXPECT_EQ(12u, self->f.epoch_at_command);
	/* An older epoch does not move the node's back. */
	coord_buf_free(&b);
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_decision_encode(&b, 78, false));
	self->c.epoch = 3;
	ASSERT_EQ(0, call(&self->c, SKV_COORD_OP_NODE_MIGRATE_DECIDE, b.p, b.len, msg,
			  sizeof(msg)));
	EXPECT_EQ(78u, self->f.decide_id);
	EXPECT_FALSE(self->f.decide_abort);
	EXPECT_EQ(12u, self->f.epoch_at_command);
	/* A malformed decision is refused before netlink. */
	ASSERT_EQ(EINVAL, call(&self->c, SKV_COORD_OP_NODE_MIGRATE_DECIDE, b.p, b.len - 1,
			       msg, sizeof(msg)));
	EXPECT_EQ(2, self->f.n_decide);
	coord_buf_free(&b);
}

TEST_F(agent, migrate_start_sends_every_field)
{
	struct skv_migration m = {
		.id = 11, .table_id = 2, .start_hash = 0x100, .end_hash = 0x1ff,
		.mode = STEADYKV_MIGRATION_MODE_PUSH, .partitions = 4, .pull_budget = 65536,
		.priority_pulls = 0,
	};
	static const int present[] = {
		STEADYKV_A_MIGRATION_ID, STEADYKV_A_MIGRATION_TABLE_ID,
		STEADYKV_A_MIGRATION_START_HASH, STEADYKV_A_MIGRATION_END_HASH,
		STEADYKV_A_MIGRATION_SOURCE_ADDR, STEADYKV_A_MIGRATION_SOURCE_PORT,
		STEADYKV_A_MIGRATION_MODE, STEADYKV_A_MIGRATION_PARTITIONS,
		STEADYKV_A_MIGRATION_PULL_BUDGET, STEADYKV_A_MIGRATION_PRIORITY_PULLS,
	};
	struct coord_buf b;
	char msg[256];

	up(_metadata, self);
	for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++)
		SKV_MIG_SET(&m, present[i]);
	snprintf(m.source, sizeof(m.source), "127.0.0.1:7001");
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_mig_encode(&b, &m));
	ASSERT_EQ(0, call(&self->c, SKV_COORD_OP_NODE_MIGRATE_START, b.p, b.len, msg,
			  sizeof(msg)));
	ASSERT_EQ(1, self->f.n_start);
	EXPECT_EQ(11u, self->f.mig.id);
	EXPECT_EQ(2u, self->f.mig.table_id);
	EXPECT_EQ(0x100u, self->f.mig.start_hash);
	EXPECT_EQ(0x1ffu, self->f.mig.end_hash);
	/* The source as the coordinator named it: the module side resolves it. */
	EXPECT_STREQ("127.0.0.1:7001", self->f.mig.source);
	EXPECT_TRUE(SKV_MIG_HAS(&self->f.mig, STEADYKV_A_MIGRATION_SOURCE_ADDR));
	EXPECT_TRUE(SKV_MIG_HAS(&self->f.mig, STEADYKV_A_MIGRATION_SOURCE_PORT));
	EXPECT_EQ(STEADYKV_MIGRATION_MODE_PUSH, self->f.mig.mode);
	EXPECT_TRUE(SKV_MIG_HAS(&self->f.mig, STEADYKV_A_MIGRATION_PARTITIONS));
	EXPECT_EQ(4u, self->f.mig.partitions);
	/* 0: left to the kernel's default. */
	EXPECT_FALSE(SKV_MIG_HAS(&self->f.mig, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT));
	EXPECT_TRUE(SKV_MIG_HAS(&self->f.mig, STEADYKV_A_MIGRATION_PULL_BUDGET));
	EXPECT_TRUE(SKV_MIG_HAS(&self->f.mig, STEADYKV_A_MIGRATION_PRIORITY_PULLS));
	EXPECT_EQ(0, self->f.mig.priority_pulls);

	/* Priority pulls absent (the default): the attribute is left out. */
	m.present &= ~(1ull << STEADYKV_A_MIGRATION_PRIORITY_PULLS);
	coord_buf_free(&b);
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_mig_encode(&b, &m));
	self->f.start_rc = -EBUSY;
	snprintf(self->f.start_msg, sizeof(self->f.start_msg), "range overlaps a migration");
	ASSERT_EQ(EBUSY, call(&self->c, SKV_COORD_OP_NODE_MIGRATE_START, b.p, b.len, msg,
			      sizeof(msg)));
	EXPECT_STREQ("range overlaps a migration", msg);
	EXPECT_FALSE(SKV_MIG_HAS(&self->f.mig, STEADYKV_A_MIGRATION_PRIORITY_PULLS));

	/* A source that does not resolve never reaches the module. */
	snprintf(m.source, sizeof(m.source), "no-port");
	coord_buf_free(&b);
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_mig_encode(&b, &m));
	ASSERT_EQ(EHOSTUNREACH, call(&self->c, SKV_COORD_OP_NODE_MIGRATE_START, b.p, b.len, msg,
				     sizeof(msg)));
	EXPECT_EQ(2, self->f.n_start);

	coord_buf_free(&b);
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_id_encode(&b, 11));
	ASSERT_EQ(0, call(&self->c, SKV_COORD_OP_NODE_MIGRATE_CANCEL, b.p, b.len, msg,
			  sizeof(msg)));
	EXPECT_EQ(11u, self->f.cancel_id);
	coord_buf_free(&b);
}

TEST_F(agent, forwards_events_with_progress_rate_limited)
{
	struct skv_migration m;

	up(_metadata, self);
	ASSERT_TRUE(quiet_for(self->c.fd, 100));
	m = mig(21, STEADYKV_MIGRATION_STATE_PREPARING, 10, 0);
	push_event(&self->f, &m, false);
	ASSERT_EQ(0, next_report(&self->c, 2000));
	EXPECT_EQ(STEADYKV_MIGRATION_STATE_PREPARING, self->c.last.state);

	/* A phase change goes out at once. */
	m = mig(21, STEADYKV_MIGRATION_STATE_PULLING, 20, 10);
	push_event(&self->f, &m, false);
	ASSERT_EQ(0, next_report(&self->c, 2000));
	EXPECT_EQ(STEADYKV_MIGRATION_STATE_PULLING, self->c.last.state);

	/* Progress: held back, then the latest goes out when the interval ends. */
	for (int i = 1; i <= 20; i++) {
		m = mig(21, STEADYKV_MIGRATION_STATE_PULLING, 20 + (uint64_t)i, 10 + (uint32_t)i);
		push_event(&self->f, &m, false);
	}
	ASSERT_EQ(0, next_report(&self->c, 2000));
	EXPECT_EQ(30u, self->c.last.progress_permille);
	EXPECT_TRUE(quiet_for(self->c.fd, 300));
	EXPECT_EQ(3, self->c.reports);

	/* An older event (a dump already told more) is dropped. */
	m = mig(21, STEADYKV_MIGRATION_STATE_PREPARING, 5, 0);
	push_event(&self->f, &m, false);
	EXPECT_TRUE(quiet_for(self->c.fd, 300));

	/* The end at once, with its error. */
	m = mig(21, STEADYKV_MIGRATION_STATE_FAILED, 40, 500);
	m.error = ECONNRESET;
	snprintf(m.error_msg, sizeof(m.error_msg), "source went away");
	SKV_MIG_SET(&m, STEADYKV_A_MIGRATION_ERROR_MSG);
	push_event(&self->f, &m, false);
	ASSERT_EQ(0, next_report(&self->c, 2000));
	EXPECT_EQ(STEADYKV_MIGRATION_STATE_FAILED, self->c.last.state);
	EXPECT_EQ((uint32_t)ECONNRESET, self->c.last.error);
	EXPECT_STREQ("source went away", self->c.last.error_msg);

	/* After the end: the same event again says nothing new ... */
	push_event(&self->f, &m, false);
	EXPECT_TRUE(quiet_for(self->c.fd, 300));
	/* ... but a new error (a frozen range handed back) goes out. */
	m.error = EREMOTE;
	snprintf(m.error_msg, sizeof(m.error_msg), "handed back to the source");
	push_event(&self->f, &m, false);
	ASSERT_EQ(0, next_report(&self->c, 2000));
	EXPECT_EQ(STEADYKV_MIGRATION_STATE_FAILED, self->c.last.state);
	EXPECT_EQ((uint32_t)EREMOTE, self->c.last.error);
	EXPECT_STREQ("handed back to the source", self->c.last.error_msg);
}

/* Registered and silent: a NODE_HEARTBEAT each interval, answered or not. */
TEST_F(agent, heartbeats_while_silent)
{
	struct coord_hdr h;
	uint8_t *body = NULL;
	struct timespec t0, t1;
	int i;

	self->a.o.heartbeat_ms = 100;
	up(_metadata, self);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, coord_read_frame(self->c.fd, 2000, &h, &body));
		free(body);
		EXPECT_EQ(SKV_COORD_OP_NODE_HEARTBEAT, h.opcode);
		EXPECT_EQ(0u, h.body_len);
		EXPECT_EQ(0, h.flags & SKV_COORD_F_REPLY);
		if (i == 0)
			ASSERT_EQ(0, send_frame(self->c.fd, h.opcode, SKV_COORD_F_REPLY,
						0, h.request_id, NULL, 0));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Three intervals, less the part of the first before t0. */
	EXPECT_LE(200, (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
}

/*
 * A recovery runs off the agent's loop: heartbeats go on while the module
 * replays (a node must not be declared dead for recovering), and each
 * recovery is answered when it ends, in the order they came, with the
 * module's error.
 */
TEST_F(agent, heartbeats_while_a_recovery_runs)
{
	static struct node_agent_nl_ops ops;
	struct coord_repl_info r = { .primary_id = 7, .epoch = 40 };
	struct coord_tablet_info t = { .table_id = 5, .start_hash = 0, .end_hash = 99 };
	struct coord_buf b[2];
	struct coord_hdr h;
	uint8_t *body = NULL;
	int heartbeats = 0, replies = 0, started;

	ops = fake_ops;
	ops.repl_recover = f_repl_recover;
	self->a.o.nl = &ops;
	self->a.o.heartbeat_ms = 100;
	up(_metadata, self);
	for (int i = 0; i < 2; i++) {
		t.table_id = i ? 13 : 5;
		coord_buf_init(&b[i]);
		ASSERT_EQ(0, coord_repl_encode(&b[i], &r));
		ASSERT_EQ(0, coord_tablet_encode(&b[i], &t));
		ASSERT_EQ(0, send_frame(self->c.fd, SKV_COORD_OP_NODE_REPL_RECOVER, 0, 0, 100 + i,
					b[i].p, b[i].len));
		coord_buf_free(&b[i]);
	}
	/* The first is in the module: three heartbeats, and no reply. */
	while (heartbeats < 3) {
		ASSERT_EQ(0, coord_read_frame(self->c.fd, 2000, &h, &body));
		free(body);
		ASSERT_EQ(SKV_COORD_OP_NODE_HEARTBEAT, h.opcode);
		ASSERT_EQ(0, h.flags & SKV_COORD_F_REPLY);
		heartbeats++;
	}
	pthread_mutex_lock(&self->f.mu);
	started = self->f.n_recover_started;
	pthread_mutex_unlock(&self->f.mu);
	EXPECT_EQ(1, started);

	release_recoveries(&self->f);
	while (replies < 2) {
		ASSERT_EQ(0, coord_read_frame(self->c.fd, 3000, &h, &body));
		if (h.opcode == SKV_COORD_OP_NODE_HEARTBEAT) {
			free(body);
			continue;
		}
		EXPECT_EQ(SKV_COORD_OP_NODE_REPL_RECOVER, h.opcode);
		EXPECT_TRUE(h.flags & SKV_COORD_F_REPLY);
		EXPECT_EQ(100u + replies, h.request_id);
		if (replies == 0) {
			EXPECT_EQ(0, h.status);
		} else {
			EXPECT_EQ(ENOENT, h.status);
			EXPECT_STREQ("no replica of node 7",
				     coord_error_msg(h.status, body, h.body_len));
		}
		free(body);
		replies++;
	}
	EXPECT_EQ(2, self->f.n_recover);
	EXPECT_EQ(5u, self->f.recover_tables[0]);
	EXPECT_EQ(13u, self->f.recover_tables[1]);
}

/*
 * With request counters: a NODE_LOAD each interval with the module's
 * tablets; a coordinator that does not take it (EOPNOTSUPP) gets
 * heartbeats instead.
 */
TEST_F(agent, load_reports_then_heartbeats_for_an_older_coordinator)
{
	/* The agent runs until the teardown: not on this test's stack. */
	static struct node_agent_nl_ops ops;
	struct coord_load_info l;
	struct coord_hdr h;
	uint8_t *body = NULL;
	int i;

	ops = fake_ops;
	ops.tablet_dump = f_tablet_dump;
	self->a.o.nl = &ops;
	self->a.o.heartbeat_ms = 100;
	self->f.tablet_requests = 42;
	up(_metadata, self);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, coord_read_frame(self->c.fd, 2000, &h, &body));
		ASSERT_EQ(SKV_COORD_OP_NODE_LOAD, h.opcode);
		ASSERT_EQ(0, coord_load_decode(body, h.body_len, &l));
		free(body);
		ASSERT_EQ(1u, l.nr_tablets);
		EXPECT_EQ(5u, l.tablets[0].table_id);
		EXPECT_EQ(UINT64_MAX, l.tablets[0].end_hash);
		EXPECT_EQ(42u + i, l.tablets[0].requests);
		EXPECT_NE(0u, l.sampled_ms);
		free(l.tablets);
		pthread_mutex_lock(&self->f.mu);
		self->f.tablet_requests++;
		pthread_mutex_unlock(&self->f.mu);
	}
	ASSERT_EQ(0, send_frame(self->c.fd, h.opcode, SKV_COORD_F_REPLY, EOPNOTSUPP,
				h.request_id, NULL, 0));
	/* A load report may have left before the refusal arrived. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, coord_read_frame(self->c.fd, 2000, &h, &body));
		free(body);
		if (h.opcode != SKV_COORD_OP_NODE_LOAD)
			break;
	}
	EXPECT_EQ(SKV_COORD_OP_NODE_HEARTBEAT, h.opcode);
	ASSERT_EQ(0, coord_read_frame(self->c.fd, 2000, &h, &body));
	free(body);
	EXPECT_EQ(SKV_COORD_OP_NODE_HEARTBEAT, h.opcode);
}

TEST_F(agent, overrun_reads_the_state_again)
{
	up(_metadata, self);
	pthread_mutex_lock(&self->f.mu);
	self->f.dump[0] = mig(8, STEADYKV_MIGRATION_STATE_DONE, 99, 1000);
	self->f.ndump = 1;
	pthread_mutex_unlock(&self->f.mu);
	push_event(&self->f, NULL, true);
	ASSERT_EQ(0, next_report(&self->c, 2000));
	EXPECT_EQ(8u, self->c.last.id);
	EXPECT_EQ(STEADYKV_MIGRATION_STATE_DONE, self->c.last.state);
}

TEST_F(agent, reconnects_registers_and_reports_again)
{
	uint32_t node;
	char addr[SKV_COORD_ADDR_MAX];

	self->f.dump[0] = mig(7, STEADYKV_MIGRATION_STATE_PULLING, 1000, 250);
	self->f.ndump = 1;
	up(_metadata, self);
	ASSERT_EQ(0, next_report(&self->c, 2000));
	close(self->c.fd);
	self->c.fd = -1;
	ASSERT_EQ(0, accept_register(&self->c, self->lfd, &node, addr, sizeof(addr)));
	EXPECT_EQ(3u, node);
	ASSERT_EQ(0, next_report(&self->c, 2000));
	EXPECT_EQ(7u, self->c.last.id);
	EXPECT_EQ(2, self->c.reports);
}

TEST_F(agent, refused_registration_retries)
{
	struct coord_hdr h;
	uint8_t *body = NULL;
	uint32_t node;
	char addr[SKV_COORD_ADDR_MAX];

	start_agent(_metadata, self);
	self->c.fd = accept_within(self->lfd, 3000);
	ASSERT_LE(0, self->c.fd);
	ASSERT_EQ(0, coord_read_frame(self->c.fd, 3000, &h, &body));
	free(body);
	{
		struct coord_buf b;

		coord_buf_init(&b);
		ASSERT_EQ(0, coord_frame_append_error(&b, h.opcode, h.request_id, EEXIST,
						      "node 3 is connected"));
		ASSERT_EQ(0, coord_write_all(self->c.fd, b.p, b.len, 1000));
		coord_buf_free(&b);
	}
	close(self->c.fd);
	self->c.fd = -1;
	ASSERT_EQ(0, accept_register(&self->c, self->lfd, &node, addr, sizeof(addr)));
}

/* ---- client keys (--client-key, --client-auth) ---- */

TEST(client_key_spec_parse)
{
	struct sknl_client_key r;
	char path[64], why[256];

	ASSERT_EQ(0, node_agent_client_spec_parse("/k/a.key:all:-", path, sizeof(path), &r, why,
						  sizeof(why)));
	EXPECT_STREQ("/k/a.key", path);
	EXPECT_TRUE(r.read_all);
	EXPECT_FALSE(r.write_all);
	EXPECT_EQ(0u, r.nread + r.nwrite);
	/* FILE is what comes before the last two colons. */
	ASSERT_EQ(0, node_agent_client_spec_parse("a:b.key:1,2:2", path, sizeof(path), &r, why,
						  sizeof(why)));
	EXPECT_STREQ("a:b.key", path);
	ASSERT_EQ(2u, r.nread);
	EXPECT_EQ(1u, r.read[0]);
	EXPECT_EQ(2u, r.read[1]);
	ASSERT_EQ(1u, r.nwrite);
	EXPECT_EQ(2u, r.write[0]);
	ASSERT_EQ(0, node_agent_client_spec_parse("k:-:all", path, sizeof(path), &r, why,
						  sizeof(why)));
	EXPECT_TRUE(r.write_all);
	EXPECT_EQ(-1, node_agent_client_spec_parse("k:-:-", path, sizeof(path), &r, why,
						   sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "needs a right"));
	EXPECT_EQ(-1, node_agent_client_spec_parse("k:all", path, sizeof(path), &r, why,
						   sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "FILE:READ:WRITE"));
	EXPECT_EQ(-1, node_agent_client_spec_parse(":all:all", path, sizeof(path), &r, why,
						   sizeof(why)));
	EXPECT_EQ(-1, node_agent_client_spec_parse("k:1,,2:-", path, sizeof(path), &r, why,
						   sizeof(why)));
	EXPECT_EQ(-1, node_agent_client_spec_parse("k::all", path, sizeof(path), &r, why,
						   sizeof(why)));
	EXPECT_EQ(-1, node_agent_client_spec_parse("a-very-long-path-name-that-does-not-fit:all:-",
						   path, 16, &r, why, sizeof(why)));
	EXPECT_NE(NULL, strstr(why, "too long"));
}

static int write_key_file(const char *path, const struct skv_auth_key *k);

TEST_F(agent, pushes_client_keys_before_registering)
{
	char p1[] = "/tmp/skv-agent-ck1-XXXXXX", p2[] = "/tmp/skv-agent-ck2-XXXXXX";
	char s1[64], s2[64];
	const char *specs[2] = { s1, s2 };
	struct skv_auth_key k1, k2;
	uint8_t raw[32];
	int fd;

	for (int i = 0; i < 32; i++)
		raw[i] = (uint8_t)(7 * i + 1);
	skv_auth_key_set(&k1, raw, 32);
	raw[0] ^= 1;
	skv_auth_key_set(&k2, raw, 32);
	fd = mkstemp(p1);
	ASSERT_LE(0, fd);
	close(fd);
	fd = mkstemp(p2);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, write_key_file(p1, &k1));
	ASSERT_EQ(0, write_key_file(p2, &k2));
	snprintf(s1, sizeof(s1), "%s:all:-", p1);
	snprintf(s2, sizeof(s2), "%s:1,2:2", p2);
	self->a.o.client_keys = specs;
	self->a.o.nclient_keys = 2;
	self->a.o.client_auth = true;
	up(_metadata, self);

	pthread_mutex_lock(&self->f.mu);
	EXPECT_EQ(2, self->f.n_client_add);
	EXPECT_EQ(0, self->f.n_client_del);
	EXPECT_EQ(1, self->f.n_client_auth);
	EXPECT_EQ(1, self->f.client_auth_on);
	EXPECT_EQ(k1.id, self->f.client_ids[0]);
	EXPECT_TRUE(self->f.client_rights[0].read_all);
	EXPECT_EQ(0u, self->f.client_rights[0].nwrite);
	EXPECT_EQ(k2.id, self->f.client_ids[1]);
	EXPECT_EQ(2u, self->f.client_rights[1].nread);
	EXPECT_EQ(1u, self->f.client_rights[1].nwrite);
	pthread_mutex_unlock(&self->f.mu);
	unlink(p1);
	unlink(p2);
}

/* ---- authentication to the coordinator ---- */

/* Two keys: the cluster's, and one with another secret. */
static void two_keys(struct skv_auth_key *k, struct skv_auth_key *other)
{
	uint8_t raw[32];
	int i;

	for (i = 0; i < 32; i++)
		raw[i] = (uint8_t)(3 * i + 5);
	skv_auth_key_set(k, raw, 32);
	raw[7] ^= 0x40;
	skv_auth_key_set(other, raw, 32);
}

static int write_key_file(const char *path, const struct skv_auth_key *k)
{
	char hex[2 * SKV_AUTH_KEY_MAX_LEN + 2];
	size_t i;
	int fd, ok;

	for (i = 0; i < k->len; i++)
		snprintf(hex + 2 * i, 3, "%02x", k->secret[i]);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, hex, 2 * k->len) == (ssize_t)(2 * k->len);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * Accept the agent and answer its AUTH_HELLO as a coordinator holding
 * @k.  0 with the HELLO and challenge, or -1.
 */
static int accept_hello(struct coord_side *c, int lfd, const struct skv_auth_key *k,
			struct skv_auth_hello *hello, struct skv_auth_challenge *ch)
{
	struct coord_hdr h;
	uint8_t *body = NULL;
	int rc;

	c->fd = accept_within(lfd, 3000);
	if (c->fd < 0)
		return -1;
	rc = coord_read_frame(c->fd, 3000, &h, &body);
	if (!rc && (h.opcode != SKV_COORD_OP_AUTH_HELLO ||
		    coord_auth_hello_decode(body, h.body_len, hello) ||
		    hello->role != SKV_AUTH_ROLE_PEER ||
		    skv_auth_responder_challenge(k, 1, hello, ch) != 0))
		rc = -1;
	free(body);
	if (rc)
		return -1;
	return send_frame(c->fd, h.opcode, SKV_COORD_F_REPLY, 0, h.request_id, ch,
			  sizeof(*ch));
}

/*
 * Accept the agent and refuse its AUTH_HELLO as a coordinator that does
 * not know the key (the connection stays open).  0, or -1.
 */
static int refuse_hello(struct coord_side *c, int lfd)
{
	struct coord_hdr h;
	struct coord_buf b;
	uint8_t *body = NULL;
	int rc;

	c->fd = accept_within(lfd, 5000);
	if (c->fd < 0)
		return -1;
	rc = coord_read_frame(c->fd, 3000, &h, &body);
	free(body);
	if (rc || h.opcode != SKV_COORD_OP_AUTH_HELLO)
		return -1;
	coord_buf_init(&b);
	rc = coord_frame_append_error(&b, h.opcode, h.request_id, SKV_COORD_ERR_AUTH_FAILED,
				      "authentication failed: unknown key id");
	if (!rc)
		rc = coord_write_all(c->fd, b.p, b.len, 1000);
	coord_buf_free(&b);
	return rc ? -1 : 0;
}

TEST_F(agent, authenticates_with_the_cluster_key_before_registering)
{
	char path[] = "/tmp/skv-agent-key-XXXXXX";
	struct skv_auth_key k, other, impostor;
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof;
	struct coord_hdr h;
	uint8_t *body = NULL;
	int fd = mkstemp(path);

	ASSERT_LE(0, fd);
	close(fd);
	two_keys(&k, &other);
	ASSERT_EQ(0, write_key_file(path, &k));
	self->a.o.cluster_key_path = path;
	start_agent(_metadata, self);

	/* An impostor: the key's id, another secret.  The agent checks our
	 * MAC first: it sends no proof and hangs up. */
	impostor = other;
	impostor.id = k.id;
	ASSERT_EQ(0, accept_hello(&self->c, self->lfd, &impostor, &hello, &ch));
	ASSERT_EQ(-ECONNRESET, coord_read_frame(self->c.fd, 3000, &h, &body));
	close(self->c.fd);

	/* The same key file gave the module its cluster key at start. */
	pthread_mutex_lock(&self->f.mu);
	ASSERT_EQ(1, self->f.n_auth_set);
	ASSERT_EQ(k.len, self->f.auth_cur_len);
	pthread_mutex_unlock(&self->f.mu);

	/* The coordinator with the key: HELLO, PROOF, then NODE_REGISTER. */
	ASSERT_EQ(0, accept_hello(&self->c, self->lfd, &k, &hello, &ch));
	ASSERT_EQ(0, coord_read_frame(self->c.fd, 3000, &h, &body));
	ASSERT_EQ(SKV_COORD_OP_AUTH_PROOF, h.opcode);
	ASSERT_EQ(0, coord_auth_proof_decode(body, h.body_len, &proof));
	free(body);
	ASSERT_EQ(1, skv_auth_responder_check(&k, &hello, &ch, &proof));
	ASSERT_EQ(0, send_frame(self->c.fd, h.opcode, SKV_COORD_F_REPLY, 0, h.request_id,
				NULL, 0));
	ASSERT_EQ(0, coord_read_frame(self->c.fd, 3000, &h, &body));
	ASSERT_EQ(SKV_COORD_OP_NODE_REGISTER, h.opcode);
	free(body);
	ASSERT_EQ(0, send_frame(self->c.fd, h.opcode, SKV_COORD_F_REPLY, 0, h.request_id,
				NULL, 0));

	/* Refused (a rotated key): it hangs up and tries again, with a HELLO. */
	close(self->c.fd);
	ASSERT_EQ(0, refuse_hello(&self->c, self->lfd));
	ASSERT_EQ(-ECONNRESET, coord_read_frame(self->c.fd, 3000, &h, &body));
	close(self->c.fd);
	/* With the key file gone it sends nothing, not even a HELLO. */
	ASSERT_EQ(0, unlink(path));
	self->c.fd = accept_within(self->lfd, 3000);
	ASSERT_LE(0, self->c.fd);
	ASSERT_EQ(-ECONNRESET, coord_read_frame(self->c.fd, 3000, &h, &body));
}

/*
 * A coordinator refuses the key with a reply and closes at once, as
 * coord_auth.c does: the agent may read both in one go, and must still
 * see the refusal (it once logged only "connection closed", and the
 * migration suite's wrong-key check failed).  Its log goes to a file.
 */
TEST_F(agent, sees_a_refusal_that_comes_with_the_close)
{
	char path[] = "/tmp/skv-agent-key-XXXXXX", log[] = "/tmp/skv-agent-log-XXXXXX";
	char text[4096] = "";
	struct skv_auth_key k, other;
	int fd = mkstemp(path), lfd = mkstemp(log), saved = dup(2), round;
	ssize_t n;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, lfd);
	ASSERT_LE(0, saved);
	close(fd);
	two_keys(&k, &other);
	ASSERT_EQ(0, write_key_file(path, &k));
	self->a.o.cluster_key_path = path;
	ASSERT_LE(0, dup2(lfd, 2));
	start_agent(_metadata, self);
	for (round = 0; round < 3; round++) {
		ASSERT_EQ(0, refuse_hello(&self->c, self->lfd));
		close(self->c.fd);
		self->c.fd = -1;
	}
	/* The fourth connection: the third refusal has been handled. */
	self->c.fd = accept_within(self->lfd, 5000);
	ASSERT_LE(0, dup2(saved, 2));
	close(saved);
	ASSERT_LE(0, self->c.fd);
	n = pread(lfd, text, sizeof(text) - 1, 0);
	close(lfd);
	unlink(log);
	unlink(path);
	ASSERT_LT(0, n);
	text[n] = 0;
	TH_LOG("agent log: %s", text);
	ASSERT_EQ(NULL, strstr(text, "connection closed"));
	ASSERT_NE(NULL, strstr(text, "refused our cluster key: authentication failed: unknown key id"));
}

TEST_F(agent, listening_on_the_same_address_is_fine)
{
	self->f.listen_rc = -EBUSY;
	memcpy(self->f.laddr, "\x7f\0\0\x01", 4);
	self->f.lalen = 4;
	self->f.lport = 7000;
	up(_metadata, self);
}

TEST_F(agent, listening_elsewhere_is_fatal)
{
	self->f.listen_rc = -EBUSY;
	memcpy(self->f.laddr, "\x7f\0\0\x01", 4);
	self->f.lalen = 4;
	self->f.lport = 7999;
	ASSERT_EQ(1, node_agent_run(&self->a.o));
}

/*
 * The agent registers with the node's incarnation, and stops when the
 * node began again under it (a module reload: data, listener, keys gone),
 * so that a new start registers the new one.
 */
TEST_F(agent, a_node_that_began_again_stops_the_agent)
{
	self->f.incarnation = 0x77;
	self->a.o.heartbeat_ms = 50;
	up(_metadata, self);
	ASSERT_EQ(0x77u, self->c.incarnation);
	pthread_mutex_lock(&self->f.mu);
	self->f.incarnation = 0x78;
	pthread_mutex_unlock(&self->f.mu);
	pthread_join(self->a.t, NULL);
	self->running = false;
	ASSERT_EQ(1, self->a.rc);
}

/*
 * A command that comes once the node began again is not run (a
 * NODE_REPL_SET there would open the fresh node's backups afresh, wiping
 * the replicas its tablets are to be rebuilt from): the agent stops
 * without answering.  Heartbeats far apart: the check before the command
 * sees it.
 */
TEST_F(agent, a_command_for_a_node_that_began_again_is_not_run)
{
	struct coord_tablet_info t = { .table_id = 5, .start_hash = 16, .end_hash = 31 };
	struct coord_buf b;
	char msg[256];

	self->f.incarnation = 0x77;
	up(_metadata, self);
	pthread_mutex_lock(&self->f.mu);
	self->f.incarnation = 0x78;
	pthread_mutex_unlock(&self->f.mu);
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_tablet_encode(&b, &t));
	ASSERT_NE(0, call(&self->c, SKV_COORD_OP_NODE_TABLET_ADD, b.p, b.len, msg, sizeof(msg)));
	coord_buf_free(&b);
	pthread_join(self->a.t, NULL);
	self->running = false;
	ASSERT_EQ(1, self->a.rc);
	ASSERT_EQ(0, self->f.n_tablet_add);
}

/* --coord A,B: A does not listen (a standby), the agent registers at B. */
TEST_F(agent, tries_each_coordinator_in_turn)
{
	char list[64], addr[SKV_COORD_ADDR_MAX];
	uint32_t node = 0;
	uint16_t dead;
	int fd = listen_any(&dead);

	ASSERT_LE(0, fd);
	close(fd);
	snprintf(list, sizeof(list), "127.0.0.1:%u,%s", dead, self->coord_addr);
	self->a.o.coord_addr = list;
	up(_metadata, self);
	/* Lost: it comes back, through the dead one again. */
	close(self->c.fd);
	self->c.fd = -1;
	ASSERT_EQ(0, accept_register(&self->c, self->lfd, &node, addr, sizeof(addr)));
	ASSERT_EQ(3u, node);
}

TEST_F(agent, bad_options)
{
	self->a.o.coord_addr = "nowhere";
	ASSERT_EQ(1, node_agent_run(&self->a.o));
	self->a.o.coord_addr = "127.0.0.1:1,,127.0.0.1:2";
	ASSERT_EQ(1, node_agent_run(&self->a.o));
	self->a.o.coord_addr = "127.0.0.1:1,nowhere";
	ASSERT_EQ(1, node_agent_run(&self->a.o));
	self->a.o.coord_addr = self->coord_addr;
	self->a.o.node_id = 0;
	ASSERT_EQ(1, node_agent_run(&self->a.o));
}

TEST_HARNESS_MAIN
