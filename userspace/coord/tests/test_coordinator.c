// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator protocol codec (round trips, malformed frames and
 * bodies) and the coordinator end to end, in process over loopback: the
 * coordinator's loop runs in a thread, fake node daemons in others, and
 * the test talks to it like steadykvctl does.  Built with ASan+UBSan.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uapi/linux/steadykv.h>

#include "kselftest_harness.h"
#include "../common/auth_key.h"
#include "coord_proto.h"
#include "coordinator.h"
#include "state_store.h"

/* ---- codec ---- */

static struct skv_migration sample_mig(void)
{
	struct skv_migration m;

	memset(&m, 0, sizeof(m));
	m.id = 7;
	m.table_id = 0x1122334455667788ull;
	m.start_hash = 0x10;
	m.end_hash = UINT64_MAX;
	m.src = 1;
	m.dst = 0xfffffffe;
	m.present = SKV_MIG_TUNING_BITS | (1ull << STEADYKV_A_MIGRATION_ID) |
		    (1ull << STEADYKV_A_MIGRATION_STATE) |
		    (1ull << STEADYKV_A_MIGRATION_RECORDS_SKIPPED);
	m.mode = STEADYKV_MIGRATION_MODE_PUSH;
	m.partitions = 8;
	m.pulls_in_flight = 4;
	m.pull_budget = 20000;
	m.priority_pulls = 1;
	m.state = STEADYKV_MIGRATION_STATE_PULLING;
	m.error = EIO;
	m.progress_permille = 500;
	m.safe_version = 1ull << 40;
	m.started_unix_ms = 123456789;
	m.elapsed_us = 1;
	m.owned_us = 2;
	m.bytes_pulled = 3;
	m.records_pulled = 4;
	m.records_replayed = 5;
	m.priority_keys = 6;
	m.records_skipped = 7;
	m.pulls = 8;
	m.priority_pulls_sent = 9;
	m.partitions_done = 3;
	strcpy(m.source, "10.0.0.1:7001");
	strcpy(m.error_msg, "hello");
	return m;
}

TEST(codec_header)
{
	struct coord_hdr h = { .opcode = 5, .flags = SKV_COORD_F_REPLY,
			       .status = EBUSY, .request_id = UINT64_MAX,
			       .body_len = 42 }, g;
	uint8_t raw[COORD_HDR_LEN], bad[COORD_HDR_LEN], fr[COORD_HDR_LEN + 3];
	size_t flen;
	size_t i;

	coord_hdr_encode(raw, &h);
	ASSERT_EQ(0x53, raw[0]);	/* "SC" little-endian */
	ASSERT_EQ(0x43, raw[1]);
	ASSERT_EQ(0, coord_hdr_decode(raw, &g));
	ASSERT_EQ(h.opcode, g.opcode);
	ASSERT_EQ(h.flags, g.flags);
	ASSERT_EQ(h.status, g.status);
	ASSERT_EQ(h.request_id, g.request_id);
	ASSERT_EQ(h.body_len, g.body_len);
	ASSERT_EQ(0u, g.epoch);
	/* The last field is the epoch of a NODE_* command (coord.h). */
	h.epoch = 0x80000001u;
	coord_hdr_encode(raw, &h);
	ASSERT_EQ(0, coord_hdr_decode(raw, &g));
	ASSERT_EQ(h.epoch, g.epoch);
	h.epoch = 0;
	coord_hdr_encode(raw, &h);
	/* Any change to magic, version, flags or reserved bytes is refused. */
	for (i = 0; i < COORD_HDR_LEN; i++) {
		bool must_fail = i <= 2 || i == 4 || i == 5;

		memcpy(bad, raw, sizeof(bad));
		bad[i] ^= 0x80;
		if (must_fail) {
			ASSERT_EQ(-EBADMSG, coord_hdr_decode(bad, &g))
				TH_LOG("byte %zu", i);
		}
	}
	h.body_len = SKV_COORD_MAX_BODY + 1;
	coord_hdr_encode(raw, &h);
	ASSERT_EQ(-EBADMSG, coord_hdr_decode(raw, &g));
	h.body_len = 3;
	coord_hdr_encode(raw, &h);
	ASSERT_EQ(0, coord_frame_peek(raw, 10, &g, &flen));
	ASSERT_EQ(0, coord_frame_peek(raw, COORD_HDR_LEN + 2, &g, &flen));
	memcpy(fr, raw, COORD_HDR_LEN);
	ASSERT_EQ(1, coord_frame_peek(fr, sizeof(fr), &g, &flen));
	ASSERT_EQ(sizeof(fr), flen);
}

/* NODE_LOAD: round trip; every truncation, a trailing byte, a bad range refused. */
TEST(codec_load)
{
	struct coord_tablet_load t[2] = {
		{ 7, 0, 0x7fffffffffffffffull, 12345 },
		{ 7, 0x8000000000000000ull, UINT64_MAX, 0 },
	};
	struct coord_load_info l = { .sampled_ms = 987654321, .nr_tablets = 2, .tablets = t }, o;
	struct coord_buf b;
	size_t i;

	coord_buf_init(&b);
	ASSERT_EQ(0, coord_load_encode(&b, &l));
	ASSERT_EQ(sizeof(struct skv_coord_load) + 2 * sizeof(struct skv_coord_tablet_load),
		  b.len);
	ASSERT_EQ(0, coord_load_decode(b.p, b.len, &o));
	ASSERT_EQ(l.sampled_ms, o.sampled_ms);
	ASSERT_EQ(2u, o.nr_tablets);
	ASSERT_EQ(0, memcmp(t, o.tablets, sizeof(t)));
	free(o.tablets);
	for (i = 0; i < b.len; i++)
		ASSERT_EQ(-EBADMSG, coord_load_decode(b.p, i, &o));
	ASSERT_EQ(0, coord_buf_append(&b, "", 1));
	ASSERT_EQ(-EBADMSG, coord_load_decode(b.p, b.len, &o));
	b.len--;
	/* A tablet that ends before it starts. */
	b.p[sizeof(struct skv_coord_load) + offsetof(struct skv_coord_tablet_load, start_hash)] = 1;
	b.p[sizeof(struct skv_coord_load) + offsetof(struct skv_coord_tablet_load, end_hash)] = 0;
	memset(b.p + sizeof(struct skv_coord_load) +
	       offsetof(struct skv_coord_tablet_load, end_hash) + 1, 0, 7);
	ASSERT_EQ(-EBADMSG, coord_load_decode(b.p, b.len, &o));
	coord_buf_free(&b);
	/* No tablets: the header alone. */
	l.nr_tablets = 0;
	ASSERT_EQ(0, coord_load_encode(&b, &l));
	ASSERT_EQ(sizeof(struct skv_coord_load), b.len);
	ASSERT_EQ(0, coord_load_decode(b.p, b.len, &o));
	ASSERT_EQ(0u, o.nr_tablets);
	ASSERT_EQ(NULL, o.tablets);
	coord_buf_free(&b);
	t[0].start_hash = 5;
	t[0].end_hash = 4;
	l.nr_tablets = 1;
	ASSERT_EQ(-EINVAL, coord_load_encode(&b, &l));
	coord_buf_free(&b);
}

TEST(codec_messages)
{
	struct skv_migration m = sample_mig(), m2, *list;
	const uint32_t nodes[] = { 3, 1, 2 };
	struct coord_node_info nodes_in[2] = {
		{ .id = 1, .addr = "a:1" }, { .id = 2, .addr = "[::1]:7002" },
	};
	struct coord_tablet_info tabs[3] = {
		{ 9, 0, 99, 1, 0, 0, 0 }, { 9, 100, 199, 2, 1, 1, 0 },
		{ 9, 200, UINT64_MAX, 1, 0, 0, SKV_COORD_TABLET_F_LOST },
	};
	struct coord_map_info mi = { .version = 77, .nr_nodes = 2,
				     .nr_tablets = 3, .nodes = nodes_in,
				     .tablets = tabs }, mo;
	struct coord_table_req t;
	struct coord_buf b;
	uint32_t count;
	uint64_t id;
	size_t i;

	/* NODE_REPL_SET: round trip; every truncation refused. */
	{
		struct coord_repl_info r = { .primary_id = 3, .epoch = 99, .nr_backups = 2,
					     .backups = { { 1, 0, "a:1" }, { 2, 0, "[::1]:7002" } } }, r2;

		coord_buf_init(&b);
		ASSERT_EQ(0, coord_repl_encode(&b, &r));
		ASSERT_EQ(0, coord_repl_decode(b.p, b.len, &r2));
		ASSERT_EQ(0, memcmp(&r, &r2, sizeof(r)));
		for (i = 0; i < b.len; i++)
			ASSERT_EQ(-EBADMSG, coord_repl_decode(b.p, i, &r2));
		coord_buf_free(&b);
		r.nr_backups = SKV_COORD_REPL_MAX + 1;
		coord_buf_init(&b);
		ASSERT_EQ(-EINVAL, coord_repl_encode(&b, &r));
		coord_buf_free(&b);
	}
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_mig_encode(&b, &m));
	ASSERT_EQ(sizeof(struct skv_coord_migration), b.len);
	ASSERT_EQ(0, coord_mig_decode(b.p, b.len, &m2));
	ASSERT_EQ(0, memcmp(&m, &m2, sizeof(m)));
	for (i = 0; i < b.len; i++)
		ASSERT_EQ(-EBADMSG, coord_mig_decode(b.p, i, &m2));
	/* Unterminated strings come back terminated. */
	memset(b.p + b.len - SKV_MIG_MSG_MAX, 'x', SKV_MIG_MSG_MAX);
	ASSERT_EQ(0, coord_mig_decode(b.p, b.len, &m2));
	ASSERT_EQ((size_t)SKV_MIG_MSG_MAX - 1, strlen(m2.error_msg));
	coord_buf_free(&b);

	/* An absent tuning field is sent as 0, and only 0 is accepted. */
	m2 = m;
	m2.present &= ~(1ull << STEADYKV_A_MIGRATION_PARTITIONS);
	ASSERT_EQ(0, coord_mig_encode(&b, &m2));
	ASSERT_EQ(0, coord_mig_decode(b.p, b.len, &m2));
	ASSERT_FALSE(SKV_MIG_HAS(&m2, STEADYKV_A_MIGRATION_PARTITIONS));
	ASSERT_EQ(0u, m2.partitions);
	ASSERT_EQ(m.pull_budget, m2.pull_budget);
	b.p[offsetof(struct skv_coord_migration, partitions)] = 8;
	ASSERT_EQ(-EBADMSG, coord_mig_decode(b.p, b.len, &m2));
	b.p[offsetof(struct skv_coord_migration, partitions)] = 0;
	/* No present bit beyond the migration attributes. */
	b.p[offsetof(struct skv_coord_migration, present) + 7] = 0x80;
	ASSERT_EQ(-EBADMSG, coord_mig_decode(b.p, b.len, &m2));
	coord_buf_free(&b);
	m2.present = 1;		/* the attribute numbers start at 1 (pad) + 1 */
	ASSERT_EQ(-EINVAL, coord_mig_encode(&b, &m2));
	coord_buf_free(&b);

	ASSERT_EQ(0, coord_table_encode(&b, 42, nodes, 3));
	ASSERT_EQ(16u + 12u, b.len);
	ASSERT_EQ(0, coord_table_decode(b.p, b.len, &t));
	ASSERT_EQ(42u, t.table_id);
	ASSERT_EQ(3u, t.nr_nodes);
	ASSERT_EQ(1u, t.nodes[1]);
	free(t.nodes);
	for (i = 0; i < b.len; i++)
		ASSERT_EQ(-EBADMSG, coord_table_decode(b.p, i, &t));
	b.p[8] = 200;	/* nr_nodes larger than the body */
	ASSERT_EQ(-EBADMSG, coord_table_decode(b.p, b.len, &t));
	coord_buf_free(&b);

	ASSERT_EQ(0, coord_id_encode(&b, 99));
	ASSERT_EQ(0, coord_id_decode(b.p, b.len, &id));
	ASSERT_EQ(99u, id);
	ASSERT_EQ(-EBADMSG, coord_id_decode(b.p, 7, &id));
	coord_buf_free(&b);

	ASSERT_EQ(0, coord_map_encode(&b, &mi));
	ASSERT_EQ(16u + 2 * 136u + 3 * 40u, b.len);
	ASSERT_EQ(0, coord_map_decode(b.p, b.len, &mo));
	ASSERT_EQ(77u, mo.version);
	ASSERT_EQ(2u, mo.nr_nodes);
	ASSERT_EQ(3u, mo.nr_tablets);
	ASSERT_STREQ("[::1]:7002", mo.nodes[1].addr);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(tabs[i].table_id, mo.tablets[i].table_id);
		ASSERT_EQ(tabs[i].start_hash, mo.tablets[i].start_hash);
		ASSERT_EQ(tabs[i].end_hash, mo.tablets[i].end_hash);
		ASSERT_EQ(tabs[i].owner, mo.tablets[i].owner);
		ASSERT_EQ(tabs[i].state, mo.tablets[i].state);
		ASSERT_EQ(tabs[i].src, mo.tablets[i].src);
	}
	coord_map_info_free(&mo);
	for (i = 0; i < b.len; i++)
		ASSERT_EQ(-EBADMSG, coord_map_decode(b.p, i, &mo));
	b.p[12] = 0xff;	/* nr_tablets way off */
	ASSERT_EQ(-EBADMSG, coord_map_decode(b.p, b.len, &mo));
	coord_buf_free(&b);

	/* A tablet that ends before it starts. */
	tabs[0].start_hash = 500;
	ASSERT_EQ(0, coord_tablet_encode(&b, &tabs[0]));
	ASSERT_EQ(-EBADMSG, coord_tablet_decode(b.p, b.len, &tabs[1]));
	coord_buf_free(&b);

	m2 = m;
	m2.id = 8;
	{
		struct skv_migration two[2] = { m, m2 };

		ASSERT_EQ(0, coord_mig_list_encode(&b, two, 2));
	}
	ASSERT_EQ(0, coord_mig_list_decode(b.p, b.len, &list, &count));
	ASSERT_EQ(2u, count);
	ASSERT_EQ(8u, list[1].id);
	free(list);
	ASSERT_EQ(-EBADMSG, coord_mig_list_decode(b.p, b.len - 1, &list, &count));
	b.p[0] = 3;
	ASSERT_EQ(-EBADMSG, coord_mig_list_decode(b.p, b.len, &list, &count));
	coord_buf_free(&b);

	/* Error replies carry their message; a bad one falls back. */
	ASSERT_EQ(0, coord_frame_append_error(&b, 5, 1, EBUSY, "busy here"));
	ASSERT_STREQ("busy here", coord_error_msg(EBUSY, b.p + COORD_HDR_LEN,
						  b.len - COORD_HDR_LEN));
	ASSERT_STREQ(strerror(EBUSY), coord_error_msg(EBUSY, "ab", 2));
	coord_buf_free(&b);
}

/* ---- end to end ---- */

struct server {
	struct coordinator *c;
	pthread_t th;
	atomic_int stop;
	char addr[64];
	/* Key files beside the state: cluster, admin, and a third key. */
	char cluster_key[128], admin_key[128], other_key[128];
};

/* The keys the test servers hold (set_keys) and the clients use. */
static struct skv_auth_key cluster_key, admin_key, other_key;

/* Write @k's secret as hex into @path, mode 0600. */
static int write_key(const char *path, const struct skv_auth_key *k)
{
	FILE *f;
	size_t i;
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -EIO;
	}
	for (i = 0; i < k->len; i++)
		fprintf(f, "%02x", k->secret[i]);
	fputc('\n', f);
	return fclose(f) ? -EIO : 0;
}

/* Three distinct keys, and their files in @dir. */
static int set_keys(struct server *s, const char *dir)
{
	uint8_t raw[32];
	int i, ret = 0;

	for (i = 0; i < 32; i++)
		raw[i] = (uint8_t)(i * 7 + 1);
	ret |= skv_auth_key_set(&cluster_key, raw, 32);
	raw[0] ^= 0xff;
	ret |= skv_auth_key_set(&admin_key, raw, 32);
	raw[1] ^= 0xff;
	ret |= skv_auth_key_set(&other_key, raw, 32);
	snprintf(s->cluster_key, sizeof(s->cluster_key), "%s/cluster.key", dir);
	snprintf(s->admin_key, sizeof(s->admin_key), "%s/admin.key", dir);
	snprintf(s->other_key, sizeof(s->other_key), "%s/other.key", dir);
	if (!ret)
		ret = write_key(s->cluster_key, &cluster_key);
	if (!ret)
		ret = write_key(s->admin_key, &admin_key);
	if (!ret)
		ret = write_key(s->other_key, &other_key);
	return ret;
}

static void unlink_keys(const struct server *s)
{
	unlink(s->cluster_key);
	unlink(s->admin_key);
	unlink(s->other_key);
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop))
		if (coordinator_poll(s->c, 20))
			break;
	return NULL;
}

/*
 * Start a coordinator on @state, the key files written beside it; with
 * @keys it holds the cluster and admin keys (else @o says which).
 */
static int server_start_opts(struct server *s, const char *state,
			     struct coordinator_opts *o, bool keys)
{
	char dir[128], err[256];
	char *slash;
	int ret;

	memset(s, 0, sizeof(*s));
	snprintf(dir, sizeof(dir), "%s", state);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	ret = set_keys(s, dir);
	if (ret)
		return ret;
	o->listen = "127.0.0.1:0";
	o->state_path = state;
	o->node_timeout_ms = 2000;
	o->quiet = 1;
	if (keys) {
		o->cluster_key = s->cluster_key;
		o->admin_key = s->admin_key;
	}
	ret = coordinator_open(o, &s->c, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "coordinator_open: %s\n", err);
		return ret;
	}
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%u",
		 coordinator_port(s->c));
	return pthread_create(&s->th, NULL, server_main, s) ? -EAGAIN : 0;
}

static int server_start(struct server *s, const char *state)
{
	struct coordinator_opts o = { 0 };

	return server_start_opts(s, state, &o, true);
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	coordinator_close(s->c);
	unlink_keys(s);
}

/* Connect and authenticate as @role with @k (NULL: not at all). */
static int connect_as(struct coord_client *cl, const struct server *s,
		      const struct skv_auth_key *k, int role)
{
	int ret = coord_client_connect(cl, s->addr, 2000);

	if (!ret && k) {
		ret = coord_client_auth(cl, k, role);
		if (ret)
			coord_client_close(cl);
	}
	return ret;
}

#define MAX_SEEN 64

struct fake_node {
	uint32_t id;
	char addr[64];
	struct coord_client cl;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int stop;
	atomic_int silent;	/* a crashed node: no heartbeat, no answer */
	int fail_op, fail_errno;	/* answer this opcode with an error */
	int die_op;			/* on this opcode: no answer, disconnect */
	int hold_op;			/* on this opcode: no answer until node_release() */
	uint64_t held_req;		/* the request held, 0: none */
	int nseen;
	uint8_t seen_op[MAX_SEEN];
	struct skv_migration seen_mig[MAX_SEEN];	/* MIGRATE_START bodies */
	struct coord_tablet_info seen_tab[MAX_SEEN];	/* TABLET_ADD bodies */
	struct coord_repl_info repl;	/* the last REPL_SET body */
	int nrepl;			/* REPL_SET commands seen */
	struct coord_repl_info fence;	/* the last REPL_FENCE body */
	int nfence;			/* REPL_FENCE commands seen */
	struct coord_repl_info recover;	/* the last REPL_RECOVER body: dead node, epoch */
	struct coord_tablet_info recover_tab;	/* and its tablet */
	int nrecover;			/* REPL_RECOVER commands seen */
	uint64_t decide_id;		/* the last MIGRATE_DECIDE body */
	bool decide_abort;
	int ndecide;			/* MIGRATE_DECIDE commands seen */
	int replies, last_status;
	/*
	 * NODE_LOAD with each heartbeat (load_on): load_nr tablets (0 or 1),
	 * the counter growing by load_step each time.
	 */
	atomic_int load_on;
	uint32_t load_nr;
	struct coord_tablet_load load;
	uint64_t load_step;
};

static uint64_t fake_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Queue a NODE_LOAD of @n's figures (its mutex held). */
static int node_load_frame(struct fake_node *n, struct coord_buf *b)
{
	struct coord_load_info l = { .sampled_ms = fake_mono_ms(),
				     .nr_tablets = n->load_nr, .tablets = &n->load };
	struct coord_buf body;
	int ret;

	n->load.requests += n->load_step;
	coord_buf_init(&body);
	ret = coord_load_encode(&body, &l);
	if (!ret)
		ret = coord_frame_append(b, SKV_COORD_OP_NODE_LOAD, 0, 0, 2, body.p, body.len);
	coord_buf_free(&body);
	return ret;
}

static void *node_main(void *arg)
{
	struct fake_node *n = arg;

	while (!atomic_load(&n->stop)) {
		struct coord_hdr h;
		uint8_t *body;
		int ret = coord_read_frame(n->cl.fd, 50, &h, &body);

		if (ret == -ETIMEDOUT) {
			/* Like a daemon: a heartbeat every 50 ms of silence. */
			struct coord_buf hb;

			if (atomic_load(&n->silent))
				continue;
			coord_buf_init(&hb);
			pthread_mutex_lock(&n->mu);
			if (atomic_load(&n->load_on) ? !node_load_frame(n, &hb) :
			    !coord_frame_append(&hb, SKV_COORD_OP_NODE_HEARTBEAT, 0, 0,
						1, NULL, 0))
				coord_write_all(n->cl.fd, hb.p, hb.len, 1000);
			pthread_mutex_unlock(&n->mu);
			coord_buf_free(&hb);
			continue;
		}
		if (ret)
			break;
		if (atomic_load(&n->silent)) {
			/* Frames reach a crashed node's socket; nothing answers. */
			free(body);
			continue;
		}
		pthread_mutex_lock(&n->mu);
		if (h.flags & SKV_COORD_F_REPLY &&
		    (h.opcode == SKV_COORD_OP_NODE_HEARTBEAT ||
		     h.opcode == SKV_COORD_OP_NODE_LOAD)) {
			/* Not a reply node_report() waits for. */
		} else if (h.flags & SKV_COORD_F_REPLY) {
			n->replies++;
			n->last_status = h.status;
		} else {
			struct coord_buf b;
			int i = n->nseen < MAX_SEEN ? n->nseen++ : MAX_SEEN - 1;

			n->seen_op[i] = h.opcode;
			if (h.opcode == SKV_COORD_OP_NODE_MIGRATE_START)
				coord_mig_decode(body, h.body_len, &n->seen_mig[i]);
			if (h.opcode && h.opcode == n->die_op) {
				/* The daemon dies with the command applied. */
				shutdown(n->cl.fd, SHUT_RDWR);
				pthread_cond_broadcast(&n->cv);
				pthread_mutex_unlock(&n->mu);
				free(body);
				break;
			}
			if (h.opcode == SKV_COORD_OP_NODE_TABLET_ADD)
				coord_tablet_decode(body, h.body_len, &n->seen_tab[i]);
			if (h.opcode == SKV_COORD_OP_NODE_REPL_SET &&
			    !coord_repl_decode(body, h.body_len, &n->repl))
				n->nrepl++;
			if (h.opcode == SKV_COORD_OP_NODE_MIGRATE_DECIDE &&
			    !coord_decision_decode(body, h.body_len, &n->decide_id,
						   &n->decide_abort))
				n->ndecide++;
			if (h.opcode == SKV_COORD_OP_NODE_REPL_FENCE &&
			    !coord_repl_decode(body, h.body_len, &n->fence))
				n->nfence++;
			if (h.opcode == SKV_COORD_OP_NODE_REPL_RECOVER &&
			    h.body_len > sizeof(struct skv_coord_repl) &&
			    !coord_repl_decode(body, sizeof(struct skv_coord_repl), &n->recover) &&
			    !coord_tablet_decode(body + sizeof(struct skv_coord_repl),
						 h.body_len - sizeof(struct skv_coord_repl),
						 &n->recover_tab))
				n->nrecover++;
			if (h.opcode && h.opcode == n->hold_op) {
				/* Busy with it: heartbeats go on, the answer waits. */
				n->held_req = h.request_id;
				pthread_cond_broadcast(&n->cv);
				pthread_mutex_unlock(&n->mu);
				free(body);
				continue;
			}
			coord_buf_init(&b);
			if (h.opcode == n->fail_op)
				coord_frame_append_error(&b, h.opcode, h.request_id,
							 n->fail_errno, "fake failure");
			else
				coord_frame_append(&b, h.opcode, SKV_COORD_F_REPLY,
						   0, h.request_id, NULL, 0);
			coord_write_all(n->cl.fd, b.p, b.len, 1000);
			coord_buf_free(&b);
		}
		pthread_cond_broadcast(&n->cv);
		pthread_mutex_unlock(&n->mu);
		free(body);
	}
	return NULL;
}

/*
 * A fake node registering with @incarnation (0: none, as an older daemon
 * does), answering @fail_op (0: none) with @fail_errno from the start.
 */
static int node_register(struct fake_node *n, const struct server *s, uint32_t id,
			 uint64_t incarnation, int fail_op, int fail_errno)
{
	struct coord_node_info ni = { .id = id, .incarnation = incarnation };
	struct coord_reply r;
	struct coord_buf b;
	int ret;

	memset(n, 0, sizeof(*n));
	n->id = id;
	n->fail_op = fail_op;
	n->fail_errno = fail_errno;
	snprintf(n->addr, sizeof(n->addr), "127.0.0.%u:%u", id, 7000 + id);
	strcpy(ni.addr, n->addr);
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	ret = connect_as(&n->cl, s, &cluster_key, SKV_AUTH_ROLE_PEER);
	if (ret)
		return ret;
	coord_buf_init(&b);
	if (incarnation)
		coord_register_encode(&b, &ni);
	else
		coord_node_encode(&b, &ni);
	ret = coord_client_call(&n->cl, SKV_COORD_OP_NODE_REGISTER, b.p, b.len, &r);
	coord_buf_free(&b);
	if (!ret) {
		ret = -(int)r.status;
		coord_reply_free(&r);
	}
	if (!ret && pthread_create(&n->th, NULL, node_main, n))
		ret = -EAGAIN;
	if (ret) {
		/* Refused: as a daemon does, it goes (and may try again). */
		coord_client_close(&n->cl);
		pthread_mutex_destroy(&n->mu);
		pthread_cond_destroy(&n->cv);
	}
	return ret;
}

static int node_start_failing(struct fake_node *n, const struct server *s, uint32_t id,
			      int fail_op, int fail_errno)
{
	return node_register(n, s, id, 0, fail_op, fail_errno);
}

static int node_start(struct fake_node *n, const struct server *s, uint32_t id)
{
	return node_start_failing(n, s, id, 0, 0);
}

/* Answer the command node_main() held (hold_op), OK; 0 or -errno. */
static int node_release(struct fake_node *n)
{
	struct coord_buf b;
	int ret;

	pthread_mutex_lock(&n->mu);
	coord_buf_init(&b);
	ret = n->held_req ? coord_frame_append(&b, (uint8_t)n->hold_op, SKV_COORD_F_REPLY,
					       0, n->held_req, NULL, 0) : -ENOENT;
	if (!ret)
		ret = coord_write_all(n->cl.fd, b.p, b.len, 1000);
	n->held_req = 0;
	n->hold_op = 0;
	pthread_mutex_unlock(&n->mu);
	coord_buf_free(&b);
	return ret;
}

static void node_stop(struct fake_node *n)
{
	atomic_store(&n->stop, 1);
	pthread_join(n->th, NULL);
	coord_client_close(&n->cl);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cv);
}

/* Wait until the node saw @count commands; the index of the last. */
static int node_wait(struct fake_node *n, int count)
{
	struct timespec ts;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	pthread_mutex_lock(&n->mu);
	while (n->nseen < count && !ret)
		ret = pthread_cond_timedwait(&n->cv, &n->mu, &ts);
	pthread_mutex_unlock(&n->mu);
	return ret ? -1 : count - 1;
}

/* Poll (up to 3 s) until @n saw @want commands @op: how many it saw. */
static int node_op_count_wait(struct fake_node *n, uint8_t op, int want)
{
	int seen = 0;

	for (int k = 0; k < 300; k++) {
		seen = 0;
		pthread_mutex_lock(&n->mu);
		for (int i = 0; i < n->nseen; i++)
			seen += n->seen_op[i] == op;
		pthread_mutex_unlock(&n->mu);
		if (seen >= want)
			break;
		usleep(10000);
	}
	return seen;
}

/* Send MIG_REPORT; the coordinator's status. */
static int node_report(struct fake_node *n, uint64_t id, uint32_t state,
		       uint32_t error, uint64_t safe_version)
{
	struct skv_migration m;
	struct timespec ts;
	struct coord_buf b;
	int before, ret = 0, status;

	memset(&m, 0, sizeof(m));
	m.id = id;
	m.state = state;
	m.error = error;
	m.safe_version = safe_version;
	m.bytes_pulled = 1000 * id;
	m.progress_permille = state == STEADYKV_MIGRATION_STATE_DONE ? 1000 : 300;
	coord_buf_init(&b);
	coord_mig_encode(&b, &m);
	pthread_mutex_lock(&n->mu);
	before = n->replies;
	{
		struct coord_buf f;

		coord_buf_init(&f);
		coord_frame_append(&f, SKV_COORD_OP_MIG_REPORT, 0, 0, 1000 + id,
				   b.p, b.len);
		coord_write_all(n->cl.fd, f.p, f.len, 1000);
		coord_buf_free(&f);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	while (n->replies == before && !ret)
		ret = pthread_cond_timedwait(&n->cv, &n->mu, &ts);
	status = ret ? -1 : n->last_status;
	pthread_mutex_unlock(&n->mu);
	coord_buf_free(&b);
	return status;
}

/* A request through a fresh client; the status, the reply body in *r. */
static int call(const struct server *s, uint8_t op, const struct coord_buf *b,
		struct coord_reply *r, char *msg, size_t msglen)
{
	struct coord_client cl;
	int ret;

	ret = connect_as(&cl, s, &admin_key, SKV_AUTH_ROLE_ADMIN);
	if (ret)
		return -1000;
	ret = coord_client_call(&cl, op, b ? b->p : NULL, b ? b->len : 0, r);
	if (msg)
		snprintf(msg, msglen, "%s", cl.err);
	coord_client_close(&cl);
	if (ret)
		return -1000;
	return r->status;
}

static int create_table(const struct server *s, uint64_t table,
			const uint32_t *nodes, uint32_t n, char *msg, size_t ml)
{
	struct coord_reply r;
	struct coord_buf b;
	int ret;

	coord_buf_init(&b);
	coord_table_encode(&b, table, nodes, n);
	ret = call(s, SKV_COORD_OP_TABLE_CREATE, &b, &r, msg, ml);
	coord_reply_free(&r);
	coord_buf_free(&b);
	return ret;
}

static int get_map(const struct server *s, struct coord_map_info *mi)
{
	struct coord_reply r;
	int ret = call(s, SKV_COORD_OP_GET_MAP, NULL, &r, NULL, 0);

	if (!ret)
		ret = coord_map_decode(r.body, r.len, mi);
	coord_reply_free(&r);
	return ret;
}

/* MIGRATE of @m; the status, the reply in *out, the message in @msg. */
static int migrate_req(const struct server *s, const struct skv_migration *m,
		       struct skv_migration *out, char *msg, size_t ml)
{
	struct coord_reply r;
	struct coord_buf b;
	int ret;

	coord_buf_init(&b);
	coord_mig_encode(&b, m);
	ret = call(s, SKV_COORD_OP_MIGRATE, &b, &r, msg, ml);
	if (!ret && out && coord_mig_decode(r.body, r.len, out))
		ret = -2000;
	coord_reply_free(&r);
	coord_buf_free(&b);
	return ret;
}

static int migrate(const struct server *s, uint64_t table, uint64_t start,
		   uint64_t end, uint32_t dst, uint32_t mode,
		   struct skv_migration *out)
{
	struct skv_migration m;

	memset(&m, 0, sizeof(m));
	m.table_id = table;
	m.start_hash = start;
	m.end_hash = end;
	m.dst = dst;
	m.mode = mode;
	SKV_MIG_SET(&m, STEADYKV_A_MIGRATION_MODE);
	return migrate_req(s, &m, out, NULL, 0);
}

static int mig_status(const struct server *s, uint64_t id,
		      struct skv_migration **v, uint32_t *n)
{
	struct coord_reply r;
	struct coord_buf b;
	int ret;

	coord_buf_init(&b);
	coord_id_encode(&b, id);
	ret = call(s, SKV_COORD_OP_MIG_STATUS, &b, &r, NULL, 0);
	if (!ret)
		ret = coord_mig_list_decode(r.body, r.len, v, n);
	coord_reply_free(&r);
	coord_buf_free(&b);
	return ret;
}

/* The tablet of @table holding @hash in a fresh map. */
static int owner_of(const struct server *s, uint64_t table, uint64_t hash,
		    struct coord_tablet_info *out)
{
	struct coord_map_info mi;
	uint32_t i;
	int ret = get_map(s, &mi);

	if (ret)
		return ret;
	ret = -ENOENT;
	for (i = 0; i < mi.nr_tablets; i++) {
		const struct coord_tablet_info *t = &mi.tablets[i];

		if (t->table_id == table && t->start_hash <= hash &&
		    hash <= t->end_hash) {
			*out = *t;
			ret = 0;
		}
	}
	coord_map_info_free(&mi);
	return ret;
}

/* Replace @path's contents with @text; 0 or -errno. */
static int file_put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return -errno;
	err = fputs(text, f) < 0 ? -EIO : 0;
	if (fclose(f))
		err = -EIO;
	return err;
}

static bool file_has(const char *path, const char *needle)
{
	char buf[16384];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

FIXTURE(cluster) {
	char dir[64];
	char state[96];
	struct server srv;
	struct fake_node nodes[3];
};

FIXTURE_SETUP(cluster)
{
	uint32_t i;

	strcpy(self->dir, "/tmp/skv-coord-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->state, sizeof(self->state), "%s/state", self->dir);
	ASSERT_EQ(0, server_start(&self->srv, self->state));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, node_start(&self->nodes[i], &self->srv, i + 1));
}

FIXTURE_TEARDOWN(cluster)
{
	char tmp[128];
	int i;

	for (i = 0; i < 3; i++)
		if (self->nodes[i].cl.fd >= 0)
			node_stop(&self->nodes[i]);
	server_stop(&self->srv);
	unlink(self->state);
	snprintf(tmp, sizeof(tmp), "%s.tmp", self->state);
	unlink(tmp);
	rmdir(self->dir);
}

TEST_F(cluster, register_and_tables)
{
	struct fake_node *n1 = &self->nodes[0], *n3 = &self->nodes[2];
	const uint32_t two[] = { 1, 2 }, bad[] = { 1, 9 }, n13[] = { 1, 3 };
	struct coord_map_info mi;
	struct fake_node dup;
	char msg[256];
	int k;

	/* A second live connection cannot take node 1. */
	ASSERT_EQ(-EEXIST, node_start(&dup, &self->srv, 1));
	coord_client_close(&dup.cl);

	ASSERT_EQ(0, get_map(&self->srv, &mi));
	ASSERT_EQ(3u, mi.nr_nodes);
	ASSERT_EQ(0u, mi.nr_tablets);
	ASSERT_STREQ("127.0.0.2:7002", mi.nodes[1].addr);
	coord_map_info_free(&mi);

	ASSERT_EQ(0, create_table(&self->srv, 5, two, 2, msg, sizeof(msg)));
	k = node_wait(n1, 1);
	ASSERT_EQ(0, k);
	ASSERT_EQ(SKV_COORD_OP_NODE_TABLET_ADD, n1->seen_op[k]);
	ASSERT_EQ(5u, n1->seen_tab[k].table_id);
	ASSERT_EQ(0u, n1->seen_tab[k].start_hash);
	ASSERT_EQ(UINT64_MAX / 2, n1->seen_tab[k].end_hash);
	ASSERT_EQ(EEXIST, create_table(&self->srv, 5, two, 2, msg, sizeof(msg)));
	ASSERT_EQ(ENOENT, create_table(&self->srv, 6, bad, 2, msg, sizeof(msg)));
	ASSERT_NE(NULL, strstr(msg, "node 9"));

	/* A node refusing its tablet: error, and the others roll back. */
	n3->fail_op = SKV_COORD_OP_NODE_TABLET_ADD;
	n3->fail_errno = ENOSPC;
	ASSERT_EQ(ENOSPC, create_table(&self->srv, 6, n13, 2, msg, sizeof(msg)));
	ASSERT_NE(NULL, strstr(msg, "fake failure")) TH_LOG("%s", msg);
	k = node_wait(n1, 3);
	ASSERT_EQ(2, k);
	ASSERT_EQ(SKV_COORD_OP_NODE_TABLET_ADD, n1->seen_op[1]);
	ASSERT_EQ(SKV_COORD_OP_NODE_TABLE_DEL, n1->seen_op[2]);
	n3->fail_op = 0;

	/* Default: every connected node. */
	ASSERT_EQ(0, create_table(&self->srv, 8, NULL, 0, msg, sizeof(msg)));
	ASSERT_EQ(0, get_map(&self->srv, &mi));
	ASSERT_EQ(2u + 3u, mi.nr_tablets);
	ASSERT_EQ(5u, mi.tablets[0].table_id);
	ASSERT_EQ(8u, mi.tablets[4].table_id);
	ASSERT_EQ(3u, mi.tablets[4].owner);
	coord_map_info_free(&mi);

	/* Drop: every node is told. */
	{
		struct coord_reply r;
		struct coord_buf b;

		coord_buf_init(&b);
		coord_table_encode(&b, 8, NULL, 0);
		ASSERT_EQ(0, call(&self->srv, SKV_COORD_OP_TABLE_DROP, &b, &r,
				  msg, sizeof(msg)));
		coord_reply_free(&r);
		ASSERT_EQ(ENOENT, call(&self->srv, SKV_COORD_OP_TABLE_DROP, &b,
				       &r, msg, sizeof(msg)));
		coord_reply_free(&r);
		coord_buf_free(&b);
	}
	ASSERT_EQ(SKV_COORD_OP_NODE_TABLE_DEL, n3->seen_op[node_wait(n3, 3)]);
	ASSERT_EQ(0, get_map(&self->srv, &mi));
	ASSERT_EQ(2u, mi.nr_tablets);
	coord_map_info_free(&mi);
	ASSERT_TRUE(file_has(self->state, "table 5\n"));
	ASSERT_FALSE(file_has(self->state, "table 8\n"));
}

TEST_F(cluster, migrations_and_restart)
{
	struct fake_node *n2 = &self->nodes[1], *n3 = &self->nodes[2];
	const uint32_t two[] = { 1, 2 };
	const uint64_t a = 0x1000, z = 0x1fff;
	struct skv_migration g, bad, *v;
	struct coord_tablet_info t;
	struct coord_map_info mi;
	struct coord_reply r;
	struct coord_buf b;
	uint64_t ver, id[9] = { 0 };
	char msg[256], line[96];
	uint32_t n, i, j;
	int k;

	ASSERT_EQ(0, create_table(&self->srv, 5, two, 2, msg, sizeof(msg)));

	/* Rocksteady: a sub-range of node 1's tablet moves to node 2. */
	ASSERT_EQ(0, migrate(&self->srv, 5, a, z, 2,
			     STEADYKV_MIGRATION_MODE_ROCKSTEADY, &g));
	id[1] = g.id;
	ASSERT_EQ(1u, g.src);
	/* Tuning not given stays absent: the module decides it. */
	ASSERT_FALSE(SKV_MIG_HAS(&g, STEADYKV_A_MIGRATION_PRIORITY_PULLS));
	ASSERT_EQ(0u, g.priority_pulls);
	k = node_wait(n2, 2);
	ASSERT_EQ(SKV_COORD_OP_NODE_MIGRATE_START, n2->seen_op[k]);
	ASSERT_EQ(id[1], n2->seen_mig[k].id);
	ASSERT_STREQ("127.0.0.1:7001", n2->seen_mig[k].source);
	ASSERT_TRUE(SKV_MIG_HAS(&n2->seen_mig[k], STEADYKV_A_MIGRATION_MODE));
	ASSERT_FALSE(SKV_MIG_HAS(&n2->seen_mig[k], STEADYKV_A_MIGRATION_PARTITIONS));
	ASSERT_EQ(0, get_map(&self->srv, &mi));
	ASSERT_EQ(4u, mi.nr_tablets);	/* split around the range */
	ASSERT_EQ(a, mi.tablets[1].start_hash);
	ASSERT_EQ(z, mi.tablets[1].end_hash);
	ASSERT_EQ(1u, mi.tablets[1].owner);	/* preparing: source serves */
	ver = mi.version;
	coord_map_info_free(&mi);
	snprintf(line, sizeof(line), "lineage %llu 5 0x0000000000001000 "
		 "0x0000000000001fff 1 2 0 ", (unsigned long long)id[1]);
	ASSERT_TRUE(file_has(self->state, line));

	/* Refusals. */
	ASSERT_EQ(EBUSY, migrate(&self->srv, 5, a + 1, a + 2, 3, 0, NULL));
	ASSERT_EQ(EINVAL, migrate(&self->srv, 5, 0, 0x10, 1, 0, NULL));
	ASSERT_EQ(EINVAL, migrate(&self->srv, 5, 0, UINT64_MAX, 3, 0, NULL));
	ASSERT_EQ(ENOENT, migrate(&self->srv, 6, 0, 1, 3, 0, NULL));
	ASSERT_EQ(ENOENT, migrate(&self->srv, 5, 0, 1, 9, 0, NULL));
	ASSERT_EQ(EINVAL, migrate(&self->srv, 5, 5, 1, 3, 0, NULL));
	/* Tuning out of range: refused with the reason, before the map changes. */
	memset(&bad, 0, sizeof(bad));
	bad.table_id = 5;
	bad.start_hash = 0x3000;
	bad.end_hash = 0x3fff;
	bad.dst = 2;
	bad.partitions = 65;
	SKV_MIG_SET(&bad, STEADYKV_A_MIGRATION_PARTITIONS);
	ASSERT_EQ(EINVAL, migrate_req(&self->srv, &bad, NULL, msg, sizeof(msg)));
	ASSERT_STREQ("partitions must be 1 to 64", msg);
	bad.partitions = 8;
	bad.priority_pulls = 2;
	SKV_MIG_SET(&bad, STEADYKV_A_MIGRATION_PRIORITY_PULLS);
	ASSERT_EQ(EINVAL, migrate_req(&self->srv, &bad, NULL, msg, sizeof(msg)));
	ASSERT_STREQ("priority pulls must be 0 or 1", msg);
	ASSERT_EQ(0, get_map(&self->srv, &mi));
	ASSERT_EQ(ver, mi.version);
	ASSERT_EQ(4u, mi.nr_tablets);
	coord_map_info_free(&mi);

	/* Pulling: ownership moves to the target at once. */
	ASSERT_EQ(0, node_report(n2, id[1], STEADYKV_MIGRATION_STATE_PULLING, 0, 42));
	ASSERT_EQ(0, owner_of(&self->srv, 5, a, &t));
	ASSERT_EQ(2u, t.owner);
	ASSERT_EQ(1u, t.state);
	ASSERT_EQ(1u, t.src);
	snprintf(line, sizeof(line), "lineage %llu 5 0x0000000000001000 "
		 "0x0000000000001fff 1 2 42 ", (unsigned long long)id[1]);
	ASSERT_TRUE(file_has(self->state, line));
	ASSERT_EQ(0, get_map(&self->srv, &mi));
	ASSERT_LT(ver, mi.version);
	coord_map_info_free(&mi);
	/* Only the target reports. */
	ASSERT_EQ(EPERM, node_report(n3, id[1], STEADYKV_MIGRATION_STATE_DONE, 0, 0));
	ASSERT_EQ(ENOENT, node_report(n2, id[1] ^ 1, STEADYKV_MIGRATION_STATE_DONE, 0, 0));
	/* An earlier phase than the one held changes nothing (state below). */
	ASSERT_EQ(0, node_report(n2, id[1], STEADYKV_MIGRATION_STATE_PREPARING, 0, 42));

	ASSERT_EQ(0, mig_status(&self->srv, id[1], &v, &n));
	ASSERT_EQ(1u, n);
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_PULLING, v[0].state);
	ASSERT_EQ(1000u * id[1], v[0].bytes_pulled);	/* node_report()'s */
	ASSERT_EQ(42u, v[0].safe_version);
	free(v);

	/* Done: normal at the target, lineage dropped. */
	ASSERT_EQ(0, node_report(n2, id[1], STEADYKV_MIGRATION_STATE_DONE, 0, 42));
	ASSERT_EQ(0, owner_of(&self->srv, 5, a, &t));
	ASSERT_EQ(2u, t.owner);
	ASSERT_EQ(0u, t.state);
	snprintf(line, sizeof(line), "lineage %llu ", (unsigned long long)id[1]);
	ASSERT_FALSE(file_has(self->state, line));
	/* Late reports of a finished migration change nothing. */
	ASSERT_EQ(0, node_report(n2, id[1], STEADYKV_MIGRATION_STATE_FAILED, EIO, 0));
	ASSERT_EQ(0, owner_of(&self->srv, 5, a, &t));
	ASSERT_EQ(2u, t.owner);

	/* Failed after ownership moved: back to the source. */
	ASSERT_EQ(0, migrate(&self->srv, 5, a, z, 3, 0, &g));
	id[2] = g.id;
	ASSERT_EQ(2u, g.src);
	ASSERT_EQ(0, node_report(n3, id[2], STEADYKV_MIGRATION_STATE_PULLING, 0, 7));
	ASSERT_EQ(0, owner_of(&self->srv, 5, a, &t));
	ASSERT_EQ(3u, t.owner);
	ASSERT_EQ(0, node_report(n3, id[2], STEADYKV_MIGRATION_STATE_FAILED, EIO, 7));
	ASSERT_EQ(0, owner_of(&self->srv, 5, a, &t));
	ASSERT_EQ(2u, t.owner);
	ASSERT_EQ(0u, t.state);
	snprintf(line, sizeof(line), "lineage %llu ", (unsigned long long)id[2]);
	ASSERT_FALSE(file_has(self->state, line));

	/* Failed needing recovery: the target keeps it, lineage kept. */
	ASSERT_EQ(0, migrate(&self->srv, 5, a, z, 3, 0, &g));
	id[3] = g.id;
	ASSERT_EQ(0, node_report(n3, id[3], STEADYKV_MIGRATION_STATE_PULLING, 0, 9));
	ASSERT_EQ(0, node_report(n3, id[3], STEADYKV_MIGRATION_STATE_FAILED, EUCLEAN, 9));
	ASSERT_EQ(0, owner_of(&self->srv, 5, a, &t));
	ASSERT_EQ(3u, t.owner);
	ASSERT_EQ(0u, t.state);
	snprintf(line, sizeof(line), "lineage %llu 5 0x0000000000001000 "
		 "0x0000000000001fff 2 3 9 ", (unsigned long long)id[3]);
	ASSERT_TRUE(file_has(self->state, line));

	/* Push: the source serves until done. */
	ASSERT_EQ(0, migrate(&self->srv, 5, 0x2000, UINT64_MAX / 2, 2,
			     STEADYKV_MIGRATION_MODE_PUSH, &g));
	id[4] = g.id;
	ASSERT_EQ(0, node_report(n2, id[4], STEADYKV_MIGRATION_STATE_PULLING, 0, 0));
	ASSERT_EQ(0, node_report(n2, id[4], STEADYKV_MIGRATION_STATE_CATCHING_UP, 0, 0));
	ASSERT_EQ(0, owner_of(&self->srv, 5, 0x2000, &t));
	ASSERT_EQ(1u, t.owner);
	ASSERT_EQ(0, node_report(n2, id[4], STEADYKV_MIGRATION_STATE_DONE, 0, 0));
	ASSERT_EQ(0, owner_of(&self->srv, 5, 0x2000, &t));
	ASSERT_EQ(2u, t.owner);

	/* Cancel goes to the target; its report ends the migration. */
	ASSERT_EQ(0, migrate(&self->srv, 5, 0, 0xfff, 3, 0, &g));
	id[5] = g.id;
	coord_buf_init(&b);
	coord_id_encode(&b, id[5]);
	ASSERT_EQ(0, call(&self->srv, SKV_COORD_OP_MIG_CANCEL, &b, &r,
			  msg, sizeof(msg)));
	coord_reply_free(&r);
	/*
	 * Answered after the target answered: it saw the command (the last
	 * but for the decisions on id[3], frozen there, which may come).
	 */
	for (i = n3->nseen - 1; i > 0 && n3->seen_op[i] == SKV_COORD_OP_NODE_MIGRATE_DECIDE; i--)
		;
	ASSERT_EQ(SKV_COORD_OP_NODE_MIGRATE_CANCEL, n3->seen_op[i]);
	ASSERT_EQ(0, node_report(n3, id[5], STEADYKV_MIGRATION_STATE_CANCELLED,
				 ECANCELED, 0));
	ASSERT_EQ(EINVAL, call(&self->srv, SKV_COORD_OP_MIG_CANCEL, &b,
			       &r, msg, sizeof(msg)));
	coord_reply_free(&r);
	coord_buf_free(&b);

	/* A target refusing to start: the migration fails at once. */
	n2->fail_op = SKV_COORD_OP_NODE_MIGRATE_START;
	n2->fail_errno = EOPNOTSUPP;
	ASSERT_EQ(EOPNOTSUPP, migrate(&self->srv, 5, 0, 0xfff, 2, 0, NULL));
	n2->fail_op = 0;
	ASSERT_EQ(0, mig_status(&self->srv, 0, &v, &n));
	ASSERT_EQ(6u, n);
	id[6] = v[5].id;
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_FAILED, v[5].state);
	free(v);
	snprintf(line, sizeof(line), "lineage %llu ", (unsigned long long)id[6]);
	ASSERT_FALSE(file_has(self->state, line));

	/* A daemon leaving leaves its migrations as they are. */
	ASSERT_EQ(0, migrate(&self->srv, 5, 0, 0xfff, 2, 0, &g));
	id[7] = g.id;
	node_stop(n2);
	n2->cl.fd = -1;
	usleep(100 * 1000);
	ASSERT_EQ(0, mig_status(&self->srv, 0, &v, &n));
	ASSERT_EQ(7u, n);
	ASSERT_EQ(id[7], v[6].id);
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_PREPARING, v[6].state);
	ASSERT_STREQ("target daemon disconnected", v[6].error_msg);
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_DONE, v[0].state);
	free(v);
	ASSERT_EQ(EHOSTUNREACH, migrate(&self->srv, 5, 0x2000, 0x2fff, 2, 0, NULL));

	/* Restart: the map, migrations, lineage and ids come back. */
	ASSERT_EQ(0, get_map(&self->srv, &mi));
	ver = mi.version;
	coord_map_info_free(&mi);
	node_stop(&self->nodes[0]);
	node_stop(n3);
	self->nodes[0].cl.fd = -1;
	n3->cl.fd = -1;
	server_stop(&self->srv);
	ASSERT_EQ(0, server_start(&self->srv, self->state));
	ASSERT_EQ(0, get_map(&self->srv, &mi));
	ASSERT_EQ(ver, mi.version);
	ASSERT_EQ(3u, mi.nr_nodes);
	coord_map_info_free(&mi);
	ASSERT_EQ(0, owner_of(&self->srv, 5, a, &t));
	ASSERT_EQ(3u, t.owner);
	ASSERT_EQ(0, mig_status(&self->srv, 0, &v, &n));
	ASSERT_EQ(7u, n);
	ASSERT_EQ(42u, v[0].safe_version);
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_PREPARING, v[6].state);
	for (i = 0; i < 7; i++)
		ASSERT_EQ(id[i + 1], v[i].id);
	free(v);
	snprintf(line, sizeof(line), "lineage %llu ", (unsigned long long)id[3]);
	ASSERT_TRUE(file_has(self->state, line));
	/*
	 * Cancel of a preparing migration whose target is away: refused,
	 * its start is in doubt (the target may have run it); cancelled at
	 * the target when it registers, ended by its report.
	 */
	coord_buf_init(&b);
	coord_id_encode(&b, id[7]);
	ASSERT_EQ(EHOSTUNREACH, call(&self->srv, SKV_COORD_OP_MIG_CANCEL, &b, &r,
				     msg, sizeof(msg)));
	coord_reply_free(&r);
	coord_buf_free(&b);
	ASSERT_EQ(0, node_start(n2, &self->srv, 2));
	k = node_wait(n2, 1);
	ASSERT_LE(0, k);
	ASSERT_EQ(SKV_COORD_OP_NODE_MIGRATE_CANCEL, n2->seen_op[k]);
	ASSERT_EQ(0, node_report(n2, id[7], STEADYKV_MIGRATION_STATE_CANCELLED, ECANCELED, 0));
	ASSERT_EQ(0, migrate(&self->srv, 5, 0, 0xfff, 2, 0, &g));
	id[8] = g.id;
	/*
	 * Ids are random 64-bit values, never 0, never one still known: a
	 * guessed id names no live migration.  Eight ids all below 2^32
	 * would happen once in 2^256 runs.
	 */
	for (i = 1, k = 0; i <= 8; i++) {
		ASSERT_NE(0u, id[i]);
		k += id[i] >> 32 != 0;
		for (j = 1; j < i; j++)
			ASSERT_NE(id[j], id[i]);
	}
	ASSERT_LT(0, k);
}

/*
 * A start in doubt: the coordinator restarts with a migration preparing
 * (its target acknowledged the start, then the coordinator went).  When
 * the target registers again it is cancelled there; a target that never
 * had it answers ENOENT, and it ends cancelled here, its range free again.
 */
TEST_F(cluster, start_in_doubt_cancelled_on_register)
{
	struct fake_node *n2 = &self->nodes[1];
	const uint32_t one[] = { 1 };
	struct skv_migration g, *v;
	struct coord_reply r;
	uint32_t state = 0, n;
	struct coord_buf b;
	char msg[256];
	int i, k;

	ASSERT_EQ(0, create_table(&self->srv, 5, one, 1, msg, sizeof(msg)));
	ASSERT_EQ(0, migrate(&self->srv, 5, 0, UINT64_MAX, 2, 0, &g));
	for (i = 0; i < 3; i++) {
		node_stop(&self->nodes[i]);
		self->nodes[i].cl.fd = -1;
	}
	server_stop(&self->srv);
	ASSERT_EQ(0, server_start(&self->srv, self->state));
	/*
	 * Before the target is back no one can tell whether it ran: a
	 * cancel is refused (ended here, the map kept the source, which may
	 * have dropped the range at its END), the migration stays in doubt.
	 */
	coord_buf_init(&b);
	coord_id_encode(&b, g.id);
	ASSERT_EQ(EHOSTUNREACH, call(&self->srv, SKV_COORD_OP_MIG_CANCEL, &b, &r,
				     msg, sizeof(msg)));
	coord_reply_free(&r);
	coord_buf_free(&b);
	ASSERT_EQ(0, mig_status(&self->srv, g.id, &v, &n));
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_PREPARING, v[0].state);
	free(v);
	ASSERT_EQ(0, node_start_failing(n2, &self->srv, 2, SKV_COORD_OP_NODE_MIGRATE_CANCEL,
					ENOENT));
	k = node_wait(n2, 1);
	ASSERT_LE(0, k);
	ASSERT_EQ(SKV_COORD_OP_NODE_MIGRATE_CANCEL, n2->seen_op[k]);
	for (i = 0; i < 500; i++) {	/* up to 15 s: a poll, not a wait */
		ASSERT_EQ(0, mig_status(&self->srv, g.id, &v, &n));
		state = v[0].state;
		free(v);
		if (state != STEADYKV_MIGRATION_STATE_PREPARING)
			break;
		usleep(30 * 1000);
	}
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_CANCELLED, state);
	ASSERT_EQ(0, node_start(&self->nodes[0], &self->srv, 1));
	ASSERT_EQ(0, migrate(&self->srv, 5, 0, UINT64_MAX, 2, 0, NULL));
}

/*
 * The target's daemon dies after its module started the migration, before
 * it answered: the migration is in doubt, not failed, and the reports of
 * the daemon started again count (its module went on).  At the end the
 * source's daemon gets the coordinator's decision.
 */
TEST_F(cluster, daemon_lost_after_start_reports_later)
{
	struct fake_node *n1 = &self->nodes[0], *n2 = &self->nodes[1];
	const uint32_t one[] = { 1 };
	struct skv_migration g, *v;
	struct coord_tablet_info t;
	uint32_t owner = 0, n;
	char msg[256];
	int i, k;

	ASSERT_EQ(0, create_table(&self->srv, 6, one, 1, msg, sizeof(msg)));
	n2->die_op = SKV_COORD_OP_NODE_MIGRATE_START;
	ASSERT_NE(0, migrate(&self->srv, 6, 0, UINT64_MAX, 2, 0, &g));
	ASSERT_EQ(0, node_wait(n2, 1) < 0);
	k = n2->nseen - 1;
	ASSERT_EQ(SKV_COORD_OP_NODE_MIGRATE_START, n2->seen_op[k]);
	g.id = n2->seen_mig[k].id;
	ASSERT_EQ(0, mig_status(&self->srv, g.id, &v, &n));
	EXPECT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_PREPARING, v[0].state);
	free(v);
	node_stop(n2);
	ASSERT_EQ(0, node_start(n2, &self->srv, 2));
	ASSERT_EQ(0, node_report(n2, g.id, STEADYKV_MIGRATION_STATE_PULLING, 0, 9));
	ASSERT_EQ(0, node_report(n2, g.id, STEADYKV_MIGRATION_STATE_DONE, 0, 9));
	ASSERT_EQ(0, mig_status(&self->srv, g.id, &v, &n));
	EXPECT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_DONE, v[0].state);
	free(v);
	ASSERT_EQ(0, owner_of(&self->srv, 6, 0, &t));
	EXPECT_EQ(2u, t.owner);
	/* The source hears the decision (commit). */
	for (i = 0; i < 100 && owner != SKV_COORD_OP_NODE_MIGRATE_DECIDE; i++) {
		pthread_mutex_lock(&n1->mu);
		owner = n1->nseen ? n1->seen_op[n1->nseen - 1] : 0;
		pthread_mutex_unlock(&n1->mu);
		usleep(30 * 1000);
	}
	EXPECT_EQ((uint32_t)SKV_COORD_OP_NODE_MIGRATE_DECIDE, owner);
}

/* Wait until @n saw @count MIGRATE_DECIDE commands: 0, or -1. */
static int node_wait_decide(struct fake_node *n, int count)
{
	struct timespec ts;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&n->mu);
	while (n->ndecide < count && !ret)
		ret = pthread_cond_timedwait(&n->cv, &n->mu, &ts);
	pthread_mutex_unlock(&n->mu);
	return ret ? -1 : 0;
}

/*
 * A migration that ended with its range frozen at both nodes (EUCLEAN),
 * both up: its target is told to abort (hand the range back), again
 * until it reports that it did (EREMOTE); then the source owns the range,
 * the lineage record goes and the source hears the decision too.  Another
 * report of the ended migration changes nothing.
 */
TEST_F(cluster, frozen_range_handed_back)
{
	struct fake_node *n1 = &self->nodes[0], *n2 = &self->nodes[1];
	const uint32_t one[] = { 1 };
	struct coord_tablet_info t;
	struct skv_migration g, *v;
	char msg[256], line[128];
	uint32_t n;

	ASSERT_EQ(0, create_table(&self->srv, 7, one, 1, msg, sizeof(msg)));
	ASSERT_EQ(0, migrate(&self->srv, 7, 0, UINT64_MAX, 2, 0, &g));
	ASSERT_EQ(0, node_report(n2, g.id, STEADYKV_MIGRATION_STATE_PULLING, 0, 5));
	ASSERT_EQ(0, node_report(n2, g.id, STEADYKV_MIGRATION_STATE_FAILED, EUCLEAN, 5));
	ASSERT_EQ(0, node_wait_decide(n2, 1));
	EXPECT_EQ(g.id, n2->decide_id);
	EXPECT_TRUE(n2->decide_abort);
	ASSERT_EQ(0, owner_of(&self->srv, 7, 0, &t));
	EXPECT_EQ(2u, t.owner);

	/* Still frozen (another try failed): sent again, after a backoff. */
	ASSERT_EQ(0, node_report(n2, g.id, STEADYKV_MIGRATION_STATE_FAILED, EIO, 5));
	ASSERT_EQ(0, owner_of(&self->srv, 7, 0, &t));
	EXPECT_EQ(2u, t.owner);
	ASSERT_EQ(0, node_wait_decide(n2, 2));
	snprintf(line, sizeof(line), "lineage %llu ", (unsigned long long)g.id);
	ASSERT_TRUE(file_has(self->state, line));

	ASSERT_EQ(0, node_report(n2, g.id, STEADYKV_MIGRATION_STATE_FAILED, EREMOTE, 5));
	ASSERT_EQ(0, owner_of(&self->srv, 7, 0, &t));
	EXPECT_EQ(1u, t.owner);
	EXPECT_FALSE(file_has(self->state, line));
	ASSERT_EQ(0, mig_status(&self->srv, g.id, &v, &n));
	ASSERT_EQ(1u, n);
	EXPECT_EQ((uint32_t)EREMOTE, v[0].error);
	EXPECT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_FAILED, v[0].state);
	free(v);
	ASSERT_EQ(0, node_wait_decide(n1, 1));
	EXPECT_EQ(g.id, n1->decide_id);
	EXPECT_TRUE(n1->decide_abort);
}

/* The tuning a MIGRATE gives reaches the target as given, nothing more. */
TEST_F(cluster, migrate_passes_given_tuning)
{
	struct fake_node *n2 = &self->nodes[1];
	const uint32_t one[] = { 1 };
	struct skv_migration m, g;
	const struct skv_migration *seen;
	char msg[256];
	int k;

	ASSERT_EQ(0, create_table(&self->srv, 8, one, 1, msg, sizeof(msg)));
	memset(&m, 0, sizeof(m));
	m.table_id = 8;
	m.end_hash = UINT64_MAX;
	m.dst = 2;
	skv_mig_set_tuning(&m, STEADYKV_A_MIGRATION_PARTITIONS, 1);
	skv_mig_set_tuning(&m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT, 1);
	skv_mig_set_tuning(&m, STEADYKV_A_MIGRATION_PULL_BUDGET, 1024);
	ASSERT_EQ(0, migrate_req(&self->srv, &m, &g, msg, sizeof(msg))) TH_LOG("%s", msg);
	k = node_wait(n2, 1);
	ASSERT_LE(0, k);
	seen = &n2->seen_mig[k];
	ASSERT_EQ(SKV_COORD_OP_NODE_MIGRATE_START, n2->seen_op[k]);
	ASSERT_EQ(m.present & SKV_MIG_TUNING_BITS, seen->present & SKV_MIG_TUNING_BITS);
	ASSERT_EQ(1u, seen->partitions);
	ASSERT_EQ(1u, seen->pulls_in_flight);
	ASSERT_EQ(1024u, seen->pull_budget);
	ASSERT_EQ(m.present & SKV_MIG_TUNING_BITS, g.present & SKV_MIG_TUNING_BITS);
}

TEST_F(cluster, bad_requests)
{
	struct coord_client cl;
	struct coord_reply r;
	uint8_t junk[COORD_HDR_LEN];
	struct coord_hdr h;
	uint8_t *body;

	ASSERT_EQ(0, connect_as(&cl, &self->srv, &admin_key, SKV_AUTH_ROLE_ADMIN));
	/* A malformed body: an errno and a message, the connection lives. */
	ASSERT_EQ(0, coord_client_call(&cl, SKV_COORD_OP_MIGRATE, "abc", 3, &r));
	ASSERT_EQ(EINVAL, r.status);
	ASSERT_NE(NULL, strstr(cl.err, "malformed"));
	coord_reply_free(&r);
	ASSERT_EQ(0, coord_client_call(&cl, 99, NULL, 0, &r));
	ASSERT_EQ(EOPNOTSUPP, r.status);
	coord_reply_free(&r);
	ASSERT_EQ(0, coord_client_call(&cl, SKV_COORD_OP_MIG_REPORT, NULL, 0, &r));
	ASSERT_EQ(EPERM, r.status);
	coord_reply_free(&r);
	ASSERT_EQ(0, coord_client_call(&cl, SKV_COORD_OP_GET_MAP, NULL, 0, &r));
	ASSERT_EQ(0, r.status);
	coord_reply_free(&r);
	/* A malformed header closes the connection. */
	memset(junk, 0xab, sizeof(junk));
	ASSERT_EQ(0, coord_write_all(cl.fd, junk, sizeof(junk), 1000));
	ASSERT_EQ(-ECONNRESET, coord_read_frame(cl.fd, 2000, &h, &body));
	coord_client_close(&cl);
	/* An oversized one too. */
	ASSERT_EQ(0, coord_client_connect(&cl, self->srv.addr, 2000));
	h.opcode = SKV_COORD_OP_GET_MAP;
	h.flags = 0;
	h.status = 0;
	h.request_id = 1;
	h.body_len = SKV_COORD_MAX_BODY + 1;
	coord_hdr_encode(junk, &h);
	ASSERT_EQ(0, coord_write_all(cl.fd, junk, sizeof(junk), 1000));
	ASSERT_EQ(-ECONNRESET, coord_read_frame(cl.fd, 2000, &h, &body));
	coord_client_close(&cl);
}

/* Random bodies of every request: an answer each, the loop survives. */
TEST_F(cluster, random_requests)
{
	static const size_t lens[] = { 0, 8, 16, 20, 136, 560, 559, 561 };
	struct coord_client cl;
	struct coord_reply r;
	uint8_t body[600];
	unsigned int seed = 1;
	int i;

	ASSERT_EQ(0, connect_as(&cl, &self->srv, &admin_key, SKV_AUTH_ROLE_ADMIN));
	for (i = 0; i < 2000; i++) {
		uint8_t op = (uint8_t)(rand_r(&seed) % 22);
		size_t len = lens[rand_r(&seed) % 8], k;

		if (op == SKV_COORD_OP_TABLE_DROP || op == SKV_COORD_OP_MIG_CANCEL)
			continue;	/* would undo the fixture; covered above */
		if (op == SKV_COORD_OP_AUTH_HELLO || op == SKV_COORD_OP_AUTH_PROOF)
			continue;	/* a bad one closes: auth_* tests */
		for (k = 0; k < len; k++)
			body[k] = (uint8_t)rand_r(&seed);
		/* Small ids and hashes now and then, so some requests get far. */
		if (len >= 16 && (i & 1)) {
			memset(body, 0, 8);
			body[0] = (uint8_t)(rand_r(&seed) % 4);
		}
		ASSERT_EQ(0, coord_client_call(&cl, op, body, len, &r))
			TH_LOG("op %u len %zu: %s", op, len, cl.err);
		coord_reply_free(&r);
	}
	ASSERT_EQ(0, coord_client_call(&cl, SKV_COORD_OP_GET_MAP, NULL, 0, &r));
	ASSERT_EQ(0, r.status);
	coord_reply_free(&r);
	coord_client_close(&cl);
}

/* ---- authentication ---- */

/* One request on @cl; its status, or -1000 if the connection failed. */
static int call_on(struct coord_client *cl, uint8_t op, const struct coord_buf *b)
{
	struct coord_reply r;
	int ret = coord_client_call(cl, op, b ? b->p : NULL, b ? b->len : 0, &r);

	if (ret)
		return -1000;
	ret = r.status;
	coord_reply_free(&r);
	return ret;
}

/* Every changing op through @cl: each must get @want; failures counted. */
static int changes_refused(struct coord_client *cl, int want, const char *needle)
{
	struct coord_node_info ni = { .id = 9, .addr = "127.0.0.9:7009" };
	const uint32_t two[] = { 1, 2 };
	struct skv_migration m;
	struct coord_buf b[6];
	const uint8_t ops[6] = {
		SKV_COORD_OP_TABLE_CREATE, SKV_COORD_OP_TABLE_DROP, SKV_COORD_OP_MIGRATE,
		SKV_COORD_OP_MIG_CANCEL, SKV_COORD_OP_NODE_REGISTER, SKV_COORD_OP_MIG_REPORT,
	};
	int i, fails = 0;

	memset(&m, 0, sizeof(m));
	m.id = 1;
	m.table_id = 5;
	m.end_hash = UINT64_MAX / 2;
	m.dst = 2;
	for (i = 0; i < 6; i++)
		coord_buf_init(&b[i]);
	coord_table_encode(&b[0], 50, two, 2);
	coord_table_encode(&b[1], 5, NULL, 0);
	coord_mig_encode(&b[2], &m);
	coord_id_encode(&b[3], 1);
	coord_node_encode(&b[4], &ni);
	coord_mig_encode(&b[5], &m);
	for (i = 0; i < 6; i++) {
		int st = call_on(cl, ops[i], &b[i]);

		if (st != want || (needle && !strstr(cl->err, needle))) {
			fprintf(stderr, "# op %u: status %d (%s), want %d\n", ops[i], st,
				cl->err, want);
			fails++;
		}
		coord_buf_free(&b[i]);
	}
	return fails;
}

/* The map's version (through an ADMIN connection); 0 on failure. */
static uint64_t map_version(const struct server *s)
{
	struct coord_map_info mi;
	uint64_t v;

	if (get_map(s, &mi))
		return 0;
	v = mi.version;
	coord_map_info_free(&mi);
	return v;
}

/* The connection was closed by the coordinator. */
static bool closed_by_peer(struct coord_client *cl)
{
	struct coord_hdr h;
	uint8_t *body = NULL;
	int ret = coord_read_frame(cl->fd, 2000, &h, &body);

	free(body);
	return ret == -ECONNRESET;
}

TEST_F(cluster, auth_no_key_wrong_key_replay_wrong_role)
{
	struct coord_node_info ni = { .id = 9, .addr = "127.0.0.9:7009" };
	const uint32_t two[] = { 1, 2 };
	struct coord_buf b, pb;
	struct skv_auth_challenge ch;
	struct skv_auth_hello hello;
	struct skv_auth_proof proof, bad;
	struct skv_auth_key forged;
	struct coord_client cl;
	struct coord_reply r;
	uint64_t v;

	ASSERT_EQ(0, create_table(&self->srv, 5, two, 2, NULL, 0));
	v = map_version(&self->srv);
	ASSERT_NE(0u, v);

	/* No key: reads are served, every change is refused, it stays open. */
	ASSERT_EQ(0, connect_as(&cl, &self->srv, NULL, 0));
	ASSERT_EQ(0, call_on(&cl, SKV_COORD_OP_GET_MAP, NULL));
	ASSERT_EQ(0, changes_refused(&cl, SKV_COORD_ERR_AUTH_REQUIRED,
				     "authentication required"));
	ASSERT_EQ(0, call_on(&cl, SKV_COORD_OP_GET_MAP, NULL));
	coord_client_close(&cl);

	/*
	 * No key, a frame larger than any read or AUTH_* body: closed at
	 * its header, not buffered (1024 such connections, 4 MiB each).
	 */
	ASSERT_EQ(0, connect_as(&cl, &self->srv, NULL, 0));
	coord_buf_init(&b);
	ASSERT_EQ(0, coord_frame_append(&b, SKV_COORD_OP_TABLE_CREATE, 0, 0, 1, NULL, 0));
	b.p[16] = 1;	/* body_len: 4 KiB + 1, the body never sent */
	b.p[17] = 0x10;
	b.p[18] = 0;
	b.p[19] = 0;
	ASSERT_EQ(0, coord_write_all(cl.fd, b.p, b.len, 1000));
	coord_buf_free(&b);
	ASSERT_TRUE(closed_by_peer(&cl));
	coord_client_close(&cl);

	/* A key the coordinator does not hold: refused at HELLO, closed. */
	ASSERT_EQ(-EKEYREJECTED, connect_as(&cl, &self->srv, &other_key,
					    SKV_AUTH_ROLE_ADMIN));
	/* The admin key's id (it is on the wire) with another secret: the
	 * coordinator's MAC does not check out, the client stops there. */
	forged = other_key;
	forged.id = admin_key.id;
	ASSERT_EQ(0, coord_client_connect(&cl, self->srv.addr, 2000));
	ASSERT_EQ(-EKEYREJECTED, coord_client_auth(&cl, &forged, SKV_AUTH_ROLE_ADMIN));
	ASSERT_NE(NULL, strstr(cl.err, "did not prove"));
	/* ...and a proof made with it is refused, and the connection closed. */
	ASSERT_EQ(0, coord_client_connect(&cl, self->srv.addr, 2000));
	ASSERT_EQ(0, skv_auth_hello_init(&hello, &forged, SKV_AUTH_ROLE_ADMIN));
	coord_buf_init(&b);
	coord_auth_hello_encode(&b, &hello);
	ASSERT_EQ(0, coord_client_call(&cl, SKV_COORD_OP_AUTH_HELLO, b.p, b.len, &r));
	coord_buf_free(&b);
	ASSERT_EQ(0, r.status);
	ASSERT_EQ(0, coord_auth_challenge_decode(r.body, r.len, &ch));
	coord_reply_free(&r);
	skv_auth_mac(&forged, SKV_AUTH_LABEL_INITIATOR, &hello, ch.nonce, bad.mac);
	coord_auth_proof_encode(&b, &bad);
	ASSERT_EQ(SKV_COORD_ERR_AUTH_FAILED, call_on(&cl, SKV_COORD_OP_AUTH_PROOF, &b));
	ASSERT_NE(NULL, strstr(cl.err, "wrong proof"));
	coord_buf_free(&b);
	ASSERT_TRUE(closed_by_peer(&cl));
	coord_client_close(&cl);

	/* A PROOF with no HELLO: refused, closed. */
	ASSERT_EQ(0, coord_client_connect(&cl, self->srv.addr, 2000));
	memset(&bad, 0, sizeof(bad));
	coord_auth_proof_encode(&b, &bad);
	ASSERT_EQ(SKV_COORD_ERR_AUTH_FAILED, call_on(&cl, SKV_COORD_OP_AUTH_PROOF, &b));
	coord_buf_free(&b);
	ASSERT_TRUE(closed_by_peer(&cl));
	coord_client_close(&cl);

	/* Replay: record a good handshake, play it again on a new connection. */
	ASSERT_EQ(0, coord_client_connect(&cl, self->srv.addr, 2000));
	ASSERT_EQ(0, skv_auth_hello_init(&hello, &admin_key, SKV_AUTH_ROLE_ADMIN));
	coord_auth_hello_encode(&b, &hello);
	ASSERT_EQ(0, coord_client_call(&cl, SKV_COORD_OP_AUTH_HELLO, b.p, b.len, &r));
	ASSERT_EQ(0, r.status);
	ASSERT_EQ(0, coord_auth_challenge_decode(r.body, r.len, &ch));
	coord_reply_free(&r);
	ASSERT_EQ(1, skv_auth_initiator_prove(&admin_key, &hello, &ch, &proof));
	coord_buf_init(&pb);
	coord_auth_proof_encode(&pb, &proof);
	ASSERT_EQ(0, call_on(&cl, SKV_COORD_OP_AUTH_PROOF, &pb));
	coord_client_close(&cl);
	ASSERT_EQ(0, coord_client_connect(&cl, self->srv.addr, 2000));
	ASSERT_EQ(0, call_on(&cl, SKV_COORD_OP_AUTH_HELLO, &b));
	ASSERT_EQ(SKV_COORD_ERR_AUTH_FAILED, call_on(&cl, SKV_COORD_OP_AUTH_PROOF, &pb));
	coord_buf_free(&pb);
	coord_buf_free(&b);
	ASSERT_TRUE(closed_by_peer(&cl));
	coord_client_close(&cl);

	/* The cluster key is PEER's: no ADMIN op through it... */
	ASSERT_EQ(0, connect_as(&cl, &self->srv, &cluster_key, SKV_AUTH_ROLE_PEER));
	coord_table_encode(&b, 51, two, 2);
	ASSERT_EQ(SKV_COORD_ERR_WRONG_ROLE, call_on(&cl, SKV_COORD_OP_TABLE_CREATE, &b));
	ASSERT_NE(NULL, strstr(cl.err, "authenticated as ADMIN; this one is PEER"));
	coord_buf_free(&b);
	coord_id_encode(&b, 1);
	ASSERT_EQ(SKV_COORD_ERR_WRONG_ROLE, call_on(&cl, SKV_COORD_OP_MIG_CANCEL, &b));
	coord_buf_free(&b);
	coord_client_close(&cl);
	/* ...and it does not pass for the admin key, nor the admin key for it. */
	ASSERT_EQ(-EKEYREJECTED, connect_as(&cl, &self->srv, &cluster_key,
					    SKV_AUTH_ROLE_ADMIN));
	ASSERT_EQ(-EKEYREJECTED, connect_as(&cl, &self->srv, &admin_key,
					    SKV_AUTH_ROLE_PEER));
	/* An ADMIN connection cannot register as a node. */
	ASSERT_EQ(0, connect_as(&cl, &self->srv, &admin_key, SKV_AUTH_ROLE_ADMIN));
	coord_node_encode(&b, &ni);
	ASSERT_EQ(SKV_COORD_ERR_WRONG_ROLE, call_on(&cl, SKV_COORD_OP_NODE_REGISTER, &b));
	coord_buf_free(&b);
	/* A second HELLO on an authenticated connection changes nothing. */
	ASSERT_EQ(0, skv_auth_hello_init(&hello, &cluster_key, SKV_AUTH_ROLE_PEER));
	coord_auth_hello_encode(&b, &hello);
	ASSERT_EQ(EALREADY, call_on(&cl, SKV_COORD_OP_AUTH_HELLO, &b));
	coord_buf_free(&b);
	coord_node_encode(&b, &ni);
	ASSERT_EQ(SKV_COORD_ERR_WRONG_ROLE, call_on(&cl, SKV_COORD_OP_NODE_REGISTER, &b));
	coord_buf_free(&b);
	coord_client_close(&cl);

	/* Nothing changed, and the fake nodes still serve. */
	ASSERT_EQ(v, map_version(&self->srv));
	ASSERT_EQ(0, create_table(&self->srv, 52, two, 2, NULL, 0));
}

/* Stop the loop, reload the keys, run it again; the reload's result. */
static int server_reload(struct server *s)
{
	char err[256];
	int ret;

	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	ret = coordinator_reload_keys(s->c, err, sizeof(err));
	atomic_store(&s->stop, 0);
	if (pthread_create(&s->th, NULL, server_main, s))
		return -EAGAIN;
	return ret;
}

TEST(auth_key_rotation)
{
	char dir[] = "/tmp/skv-rot-XXXXXX", state[96], cur[96], prev[96];
	struct coordinator_opts o = { 0 };
	struct coord_client held, cl;
	struct skv_auth_key k1, k2;
	struct server srv = { 0 };

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(cur, sizeof(cur), "%s/admin.cur", dir);
	snprintf(prev, sizeof(prev), "%s/admin.prev", dir);
	/* Before: current and previous are both K1 (the admin key). */
	ASSERT_EQ(0, set_keys(&srv, dir));
	k1 = admin_key;
	k2 = other_key;
	ASSERT_EQ(0, write_key(cur, &k1));
	ASSERT_EQ(0, write_key(prev, &k1));
	o.admin_key = cur;
	o.previous_admin_key = prev;
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, false));
	ASSERT_EQ(0, connect_as(&held, &srv, &k1, SKV_AUTH_ROLE_ADMIN));
	ASSERT_EQ(-EKEYREJECTED, connect_as(&cl, &srv, &k2, SKV_AUTH_ROLE_ADMIN));
	ASSERT_EQ(EINVAL, call_on(&held, SKV_COORD_OP_MIG_CANCEL, NULL));
	/* Rotation: K2 current, K1 previous: both work, held stays ADMIN. */
	ASSERT_EQ(0, write_key(cur, &k2));
	ASSERT_EQ(0, server_reload(&srv));
	ASSERT_EQ(0, connect_as(&cl, &srv, &k2, SKV_AUTH_ROLE_ADMIN));
	coord_client_close(&cl);
	ASSERT_EQ(0, connect_as(&cl, &srv, &k1, SKV_AUTH_ROLE_ADMIN));
	coord_client_close(&cl);
	/* (an ADMIN op gets as far as its body check) */
	ASSERT_EQ(EINVAL, call_on(&held, SKV_COORD_OP_MIG_CANCEL, NULL));
	ASSERT_NE(NULL, strstr(held.err, "malformed MIG_CANCEL"));
	/* A key file that is not safe is not taken; the keys stay. */
	ASSERT_EQ(0, chmod(cur, 0644));
	ASSERT_EQ(-EINVAL, server_reload(&srv));
	ASSERT_EQ(0, connect_as(&cl, &srv, &k2, SKV_AUTH_ROLE_ADMIN));
	coord_client_close(&cl);
	ASSERT_EQ(0, chmod(cur, 0600));
	/* After: K2 alone; K1 is refused. */
	ASSERT_EQ(0, write_key(prev, &k2));
	ASSERT_EQ(0, server_reload(&srv));
	ASSERT_EQ(-EKEYREJECTED, connect_as(&cl, &srv, &k1, SKV_AUTH_ROLE_ADMIN));
	ASSERT_EQ(0, connect_as(&cl, &srv, &k2, SKV_AUTH_ROLE_ADMIN));
	coord_client_close(&cl);
	coord_client_close(&held);
	server_stop(&srv);
	unlink(cur);
	unlink(prev);
	unlink(state);
	rmdir(dir);
}

/* With no key for a role, its ops are refused unless --insecure. */
TEST(auth_no_keys_configured)
{
	char dir[] = "/tmp/skv-nokey-XXXXXX", state[96];
	struct coord_node_info ni = { .id = 1, .addr = "127.0.0.1:7001" };
	struct coordinator_opts o = { 0 };
	struct coord_client cl;
	struct coord_buf b;
	struct server srv;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, false));
	ASSERT_EQ(0, connect_as(&cl, &srv, NULL, 0));
	ASSERT_EQ(0, changes_refused(&cl, SKV_COORD_ERR_AUTH_REQUIRED,
				     "does not run --insecure"));
	ASSERT_EQ(0, call_on(&cl, SKV_COORD_OP_GET_MAP, NULL));
	coord_client_close(&cl);
	/* No key to authenticate with either. */
	ASSERT_EQ(-EKEYREJECTED, connect_as(&cl, &srv, &admin_key, SKV_AUTH_ROLE_ADMIN));
	server_stop(&srv);

	/* --insecure: the same requests are served without a key. */
	memset(&o, 0, sizeof(o));
	o.insecure = 1;
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, false));
	ASSERT_EQ(0, connect_as(&cl, &srv, NULL, 0));
	coord_buf_init(&b);
	coord_node_encode(&b, &ni);
	ASSERT_EQ(0, call_on(&cl, SKV_COORD_OP_NODE_REGISTER, &b));
	coord_buf_free(&b);
	coord_client_close(&cl);
	server_stop(&srv);
	unlink(state);
	rmdir(dir);
}

/* --replicas 2: each node is told the next two by id as its backups. */
/* Wait (up to 3 s) until *counter (under n->mu) reaches want. */
static bool node_count_wait(struct fake_node *n, const int *counter, int want)
{
	for (int k = 0; k < 300; k++) {
		bool ok;

		pthread_mutex_lock(&n->mu);
		ok = *counter >= want;
		pthread_mutex_unlock(&n->mu);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

/* Poll (up to 3 s) until @n's first backup is @addr: its settled assignment. */
static bool first_backup_wait(struct fake_node *n, const char *addr)
{
	for (int k = 0; k < 300; k++) {
		bool ok;

		pthread_mutex_lock(&n->mu);
		ok = n->repl.nr_backups && !strcmp(n->repl.backups[0].addr, addr);
		pthread_mutex_unlock(&n->mu);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

TEST(replicas_assigned)
{
	struct coordinator_opts o = { .replicas = 2 };
	char dir[] = "/tmp/skv-coord-XXXXXX", state[128];
	struct fake_node n[3];
	struct server s;
	uint64_t epoch;
	int i, k;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	ASSERT_EQ(0, server_start_opts(&s, state, &o, true));
	ASSERT_EQ(0, node_start(&n[0], &s, 1));
	/* Alone: no backup, and told so. */
	ASSERT_TRUE(node_count_wait(&n[0], &n[0].nrepl, 1));
	pthread_mutex_lock(&n[0].mu);
	ASSERT_EQ(0u, n[0].repl.nr_backups);
	pthread_mutex_unlock(&n[0].mu);
	ASSERT_EQ(0, node_start(&n[1], &s, 2));
	/* Two nodes cannot hold two backups each: each gets the other. */
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nrepl, 2 - i));
		pthread_mutex_lock(&n[i].mu);
		ASSERT_EQ(1u, n[i].repl.nr_backups);
		ASSERT_STREQ(n[1 - i].addr, n[i].repl.backups[0].addr);
		pthread_mutex_unlock(&n[i].mu);
	}
	ASSERT_EQ(0, node_start(&n[2], &s, 3));
	for (i = 0; i < 3; i++) {
		/* Each told again (two backups), node 3 once. */
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nrepl, 3 - i));
		pthread_mutex_lock(&n[i].mu);
		ASSERT_EQ((uint64_t)i + 1, n[i].repl.primary_id);
		ASSERT_EQ(2u, n[i].repl.nr_backups);
		for (k = 0; k < 2; k++)
			ASSERT_STREQ(n[(i + 1 + k) % 3].addr, n[i].repl.backups[k].addr);
		pthread_mutex_unlock(&n[i].mu);
	}
	/* A node registering again keeps its backups and its epoch. */
	epoch = n[0].repl.epoch;
	node_stop(&n[0]);
	ASSERT_EQ(0, node_start(&n[0], &s, 1));
	ASSERT_LE(0, node_wait(&n[0], 1));
	pthread_mutex_lock(&n[0].mu);
	ASSERT_EQ(epoch, n[0].repl.epoch);
	pthread_mutex_unlock(&n[0].mu);
	for (i = 0; i < 3; i++)
		node_stop(&n[i]);
	server_stop(&s);
	unlink(state);
	rmdir(dir);
}

TEST(state_round_trip)
{
	char path[] = "/tmp/skv-state-XXXXXX";
	const uint32_t one[] = { 1 };
	struct coord_state st, back;
	struct skv_migration g = sample_mig();
	struct coord_lineage l = { 3, 4, 5, 6, 1, 2, 7, 8 };
	struct coord_store *s;
	int fd = mkstemp(path);

	ASSERT_LE(0, fd);
	close(fd);
	unlink(path);
	coord_state_init(&st);
	coord_state_init(&back);
	ASSERT_EQ(0, tmap_add_node(&st.map, 1, "a", "h:1"));
	ASSERT_EQ(0, tmap_create_table(&st.map, 4, one, 1));
	st.migs = calloc(2, sizeof(g));
	ASSERT_NE(NULL, st.migs);
	st.migs[0] = g;
	st.nr_migs = 1;
	st.lineage = calloc(1, sizeof(l));
	ASSERT_NE(NULL, st.lineage);
	st.lineage[0] = l;
	st.nr_lineage = 1;
	st.lost = calloc(1, sizeof(*st.lost));
	ASSERT_NE(NULL, st.lost);
	st.lost[0] = (struct coord_lost){ 4, 0, ~0ull, 1, 99, true };
	st.nr_lost = 1;
	st.repl = calloc(2, sizeof(*st.repl));
	ASSERT_NE(NULL, st.repl);
	st.repl[0] = (struct coord_repl_info){ .primary_id = 1, .epoch = 12, .nr_backups = 2,
		.backups = { { .id = 2, .addr = "h:2" }, { .id = 3, .addr = "h:3" } } };
	st.repl[1] = (struct coord_repl_info){ .primary_id = 2, .epoch = 0 };
	st.nr_repl = 2;
	st.repl_epoch_bound = 1ull << 60;
	ASSERT_EQ(0, coord_store_open_file(path, &s));
	ASSERT_EQ(0, coord_store_save_state(s, &st));
	ASSERT_EQ(0, coord_store_load_state(s, &back));
	ASSERT_EQ(1u, back.nr_lost);
	ASSERT_EQ(0, memcmp(&st.lost[0], &back.lost[0], sizeof(st.lost[0])));
	ASSERT_EQ(2u, back.nr_repl);
	ASSERT_EQ(0, memcmp(st.repl, back.repl, 2 * sizeof(*st.repl)));
	ASSERT_EQ(st.repl_epoch_bound, back.repl_epoch_bound);
	ASSERT_EQ(1u, back.nr_migs);
	ASSERT_EQ(g.id, back.migs[0].id);
	ASSERT_EQ(g.end_hash, back.migs[0].end_hash);
	ASSERT_EQ(g.dst, back.migs[0].dst);
	ASSERT_EQ(g.state, back.migs[0].state);
	ASSERT_EQ(g.safe_version, back.migs[0].safe_version);
	/* The tuning that was given comes back, and only that. */
	ASSERT_EQ(g.present & SKV_MIG_TUNING_BITS,
		  back.migs[0].present & SKV_MIG_TUNING_BITS);
	ASSERT_EQ(g.mode, back.migs[0].mode);
	ASSERT_EQ(g.partitions, back.migs[0].partitions);
	ASSERT_EQ(g.pulls_in_flight, back.migs[0].pulls_in_flight);
	ASSERT_EQ(g.pull_budget, back.migs[0].pull_budget);
	ASSERT_EQ(g.priority_pulls, back.migs[0].priority_pulls);
	/* Tuning the loader would refuse is not written. */
	st.migs[0].pull_budget = 1;
	ASSERT_EQ(-EINVAL, coord_store_save_state(s, &st));
	st.migs[0].pull_budget = g.pull_budget;
	ASSERT_EQ(1u, back.nr_lineage);
	ASSERT_EQ(0, memcmp(&l, &back.lineage[0], sizeof(l)));
	/* An id twice, or an id 0, is not written; another one is. */
	st.migs[1] = g;
	st.nr_migs = 2;
	ASSERT_EQ(-EINVAL, coord_store_save_state(s, &st));
	st.migs[1].id = 0;
	ASSERT_EQ(-EINVAL, coord_store_save_state(s, &st));
	st.migs[1].id = g.id ^ (1ull << 63);
	ASSERT_EQ(0, coord_store_save_state(s, &st));
	coord_state_free(&back);
	ASSERT_EQ(0, coord_store_load_state(s, &back));
	ASSERT_EQ(2u, back.nr_migs);
	ASSERT_EQ(g.id ^ (1ull << 63), back.migs[1].id);
	coord_store_close(s);
	coord_state_free(&st);
	coord_state_free(&back);
	unlink(path);
}

/* The node's flags and the tablet at @hash of @table, by a fresh map. */
static int node_and_tablet(const struct server *s, uint32_t node, uint64_t table,
			   uint64_t hash, uint32_t *flags, struct coord_tablet_info *t)
{
	struct coord_map_info mi;
	uint32_t i;
	int ret = get_map(s, &mi);

	if (ret)
		return ret;
	for (i = 0; i < mi.nr_nodes; i++)
		if (mi.nodes[i].id == node)
			*flags = mi.nodes[i].flags;
	for (i = 0; i < mi.nr_tablets; i++)
		if (mi.tablets[i].table_id == table && mi.tablets[i].start_hash <= hash &&
		    hash <= mi.tablets[i].end_hash)
			*t = mi.tablets[i];
	coord_map_info_free(&mi);
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define LIVE_DEAD_AFTER_MS	800

/*
 * A coordinator declaring nodes dead after @dead_after_ms, its state in a
 * fresh directory @dir, and fake nodes 1, 2 and 3 sharing table @table.
 * 0 or -1.
 */
/* A coordinator with options @o, its state in a fresh directory @dir. */
static int live_server_start(struct server *srv, char *dir, char *state, size_t len,
			     struct coordinator_opts *o)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(state, len, "%s/state", dir);
	return server_start_opts(srv, state, o, true) ? -1 : 0;
}

/* live_server_start(), then fake nodes 1, 2 and 3. */
static int live_cluster_start(struct server *srv, char *dir, char *state, size_t len,
			      struct coordinator_opts *o, struct fake_node n[3])
{
	if (live_server_start(srv, dir, state, len, o))
		return -1;
	for (int i = 0; i < 3; i++)
		if (node_start(&n[i], srv, i + 1))
			return -1;
	return 0;
}

static int live_start(struct server *srv, char *dir, char *state, size_t len,
		      int dead_after_ms, struct fake_node n[3], uint64_t table)
{
	const uint32_t nodes[] = { 1, 2, 3 };
	struct coordinator_opts o = { .dead_after_ms = dead_after_ms };

	if (live_cluster_start(srv, dir, state, len, &o, n))
		return -1;
	return create_table(srv, table, nodes, 3, NULL, 0) ? -1 : 0;
}

static void live_stop(struct server *srv, const char *dir, const char *state,
		      struct fake_node *n, int nr)
{
	char tmp[128];
	int i;

	for (i = 0; i < nr; i++)
		node_stop(&n[i]);
	server_stop(srv);
	unlink(state);
	snprintf(tmp, sizeof(tmp), "%s.tmp", state);
	unlink(tmp);
	rmdir(dir);
}

/*
 * Poll the map until node @node is declared dead (up to 3 s): when (ms),
 * or 0; *t gets the tablet holding @hash of @table then.
 */
static int64_t live_wait_dead(const struct server *s, uint32_t node, uint64_t table,
			      uint64_t hash, struct coord_tablet_info *t)
{
	uint32_t flags = 0;
	int k;

	for (k = 0; k < 300; k++) {
		if (node_and_tablet(s, node, table, hash, &flags, t))
			return 0;
		if (flags & SKV_COORD_NODE_F_DEAD)
			return mono_ms();
		usleep(10000);
	}
	return 0;
}

/*
 * Failure detection: a node that stops sending is declared dead within
 * D + T of its last frame (coord_liveness.c), not before D; its tablets
 * are lost, a migration it is the target of fails and gives the range
 * back to the source, the live nodes stay up; a lost range cannot move;
 * back, the node is a new incarnation, told to delete its lost tablets,
 * which stay lost.
 */
TEST(liveness_dead_node)
{
	struct fake_node n[3], back;
	struct coord_tablet_info t;
	struct skv_migration g, *v;
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	struct server srv;
	uint32_t flags = 0, count;
	int64_t silent_at, dead_at;
	int i, k;

	ASSERT_EQ(0, live_start(&srv, dir, state, sizeof(state), LIVE_DEAD_AFTER_MS, n, 5));
	/* Node 3 is the target of a migration of node 1's first tablet. */
	ASSERT_EQ(0, migrate(&srv, 5, 0, 99, 3, STEADYKV_MIGRATION_MODE_ROCKSTEADY, &g));
	/* Alive through three bounds while heartbeats flow. */
	usleep(3 * LIVE_DEAD_AFTER_MS * 1000);
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(0, node_and_tablet(&srv, i, 5, 0, &flags, &t));
		ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_UP, flags);
	}
	silent_at = mono_ms();
	atomic_store(&n[2].silent, 1);
	dead_at = live_wait_dead(&srv, 3, 5, UINT64_MAX, &t);
	ASSERT_NE(0, dead_at);
	fprintf(stderr, "# node 3 declared dead %lld ms after its last heartbeat "
		"(D = %d ms)\n", (long long)(dead_at - silent_at), LIVE_DEAD_AFTER_MS);
	/* Not before D less one heartbeat interval; by D + T (+ test slack). */
	ASSERT_GE(dead_at - silent_at, LIVE_DEAD_AFTER_MS - 60);
	ASSERT_LE(dead_at - silent_at, LIVE_DEAD_AFTER_MS + 100 + 1000);
	ASSERT_EQ(3u, t.owner);
	ASSERT_EQ((uint32_t)SKV_COORD_TABLET_F_LOST, t.flags);
	for (i = 1; i <= 2; i++) {
		ASSERT_EQ(0, node_and_tablet(&srv, i, 5, 0, &flags, &t));
		ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_UP, flags);
	}
	/* The migration to the dead node failed; node 1 owns its range. */
	ASSERT_EQ(0, mig_status(&srv, g.id, &v, &count));
	ASSERT_EQ(1u, count);
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_STATE_FAILED, v[0].state);
	ASSERT_EQ(EHOSTDOWN, (int)v[0].error);
	free(v);
	ASSERT_EQ(0, node_and_tablet(&srv, 1, 5, 0, &flags, &t));
	ASSERT_EQ(1u, t.owner);
	ASSERT_EQ(0u, t.flags);
	/* A lost range does not move. */
	ASSERT_EQ(EHOSTDOWN, migrate(&srv, 5, UINT64_MAX - 10, UINT64_MAX, 2,
				     STEADYKV_MIGRATION_MODE_ROCKSTEADY, NULL));
	/* Back: up again, told to delete its lost tablet, which stays lost. */
	node_stop(&n[2]);
	ASSERT_EQ(0, node_start(&back, &srv, 3));
	k = node_wait(&back, 1);
	ASSERT_EQ(0, k);
	ASSERT_EQ(SKV_COORD_OP_NODE_TABLET_DEL, back.seen_op[0]);
	ASSERT_EQ(0, node_and_tablet(&srv, 3, 5, UINT64_MAX, &flags, &t));
	ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_UP, flags);
	ASSERT_EQ((uint32_t)SKV_COORD_TABLET_F_LOST, t.flags);
	/* The lost record is durable. */
	ASSERT_TRUE(file_has(state, "\nlost 5 "));
	node_stop(&back);
	live_stop(&srv, dir, state, n, 2);
}

/*
 * A peer's report (a target's migration failed on a transport error)
 * makes the coordinator suspect the source: a source that still sends
 * stays up; a silent one is declared dead within D/4 + T, well before D.
 */
TEST(liveness_suspected_by_a_peer)
{
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	struct skv_migration g1, g3;
	struct coord_tablet_info t;
	struct fake_node n[3];
	struct server srv;
	uint32_t flags = 0;
	int64_t silent_at, t0, dead_at;

	ASSERT_EQ(0, live_start(&srv, dir, state, sizeof(state), 2000, n, 6));
	/* Node 1's and node 3's first hashes move to node 2. */
	ASSERT_EQ(0, migrate(&srv, 6, 0, 99, 2, STEADYKV_MIGRATION_MODE_ROCKSTEADY, &g1));
	ASSERT_EQ(0, migrate(&srv, 6, UINT64_MAX - 99, UINT64_MAX, 2,
			     STEADYKV_MIGRATION_MODE_ROCKSTEADY, &g3));
	/* Node 1 is suspected but keeps sending: it stays up. */
	ASSERT_EQ(0, node_report(&n[1], g1.id, STEADYKV_MIGRATION_STATE_FAILED,
				 ECONNREFUSED, 0));
	usleep(3 * 500 * 1000);
	ASSERT_EQ(0, node_and_tablet(&srv, 1, 6, 0, &flags, &t));
	ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_UP, flags);
	/*
	 * Node 3 goes silent, then is suspected: dead in D/4 + T.  Silence
	 * alone cannot get it declared dead before D: dead sooner than D
	 * after it went silent is the suspicion's doing, however fast or
	 * slow this machine is.
	 */
	silent_at = mono_ms();
	atomic_store(&n[2].silent, 1);
	usleep(100 * 1000);
	t0 = mono_ms();
	ASSERT_EQ(0, node_report(&n[1], g3.id, STEADYKV_MIGRATION_STATE_FAILED,
				 ECONNRESET, 0));
	dead_at = live_wait_dead(&srv, 3, 6, UINT64_MAX, &t);
	ASSERT_NE(0, dead_at);
	fprintf(stderr, "# node 3 declared dead %lld ms after the report (D/4 = 500 ms)\n",
		(long long)(dead_at - t0));
	ASSERT_LT(dead_at - silent_at, 2000);
	live_stop(&srv, dir, state, n, 3);
}

/*
 * A primary declared dead is fenced at its backup (an epoch above its
 * own, so a node only cut off cannot have writes acknowledged), and the
 * primary it backed up is given the next live node, with a new epoch.
 * R = 1 on three nodes: 1 -> 2, 2 -> 3, 3 -> 1; node 3 crashes.
 */
TEST(dead_primary_fenced_and_backups_reassigned)
{
	struct coordinator_opts o = { .dead_after_ms = LIVE_DEAD_AFTER_MS, .replicas = 1 };
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	struct coord_tablet_info t;
	uint64_t epoch3, epoch2;
	struct fake_node n[3];
	struct server srv;
	int i, repl2;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, node_start(&n[i], &srv, i + 1));
	/*
	 * Node 2 is first given node 1 (before node 3 registered), then
	 * node 3: wait for the assignment of all three.
	 */
	ASSERT_TRUE(first_backup_wait(&n[2], n[0].addr));
	ASSERT_TRUE(first_backup_wait(&n[1], n[2].addr));
	pthread_mutex_lock(&n[2].mu);
	epoch3 = n[2].repl.epoch;
	pthread_mutex_unlock(&n[2].mu);
	pthread_mutex_lock(&n[1].mu);
	epoch2 = n[1].repl.epoch;
	repl2 = n[1].nrepl;
	pthread_mutex_unlock(&n[1].mu);

	atomic_store(&n[2].silent, 1);
	ASSERT_NE(0, live_wait_dead(&srv, 3, 0, 0, &t));
	/* Node 1, node 3's backup, is told to refuse node 3's epoch. */
	ASSERT_TRUE(node_count_wait(&n[0], &n[0].nfence, 1));
	pthread_mutex_lock(&n[0].mu);
	ASSERT_EQ(3u, n[0].fence.primary_id);
	ASSERT_LT(epoch3, n[0].fence.epoch);
	ASSERT_EQ(0u, n[0].fence.nr_backups);
	pthread_mutex_unlock(&n[0].mu);
	/* Node 2, backed up by node 3, now replicates to node 1. */
	ASSERT_TRUE(node_count_wait(&n[1], &n[1].nrepl, repl2 + 1));
	pthread_mutex_lock(&n[1].mu);
	ASSERT_EQ(1u, n[1].repl.nr_backups);
	ASSERT_STREQ(n[0].addr, n[1].repl.backups[0].addr);
	ASSERT_LT(epoch2, n[1].repl.epoch);
	pthread_mutex_unlock(&n[1].mu);
	/* Nobody else is fenced. */
	pthread_mutex_lock(&n[1].mu);
	ASSERT_EQ(0, n[1].nfence);
	pthread_mutex_unlock(&n[1].mu);
	live_stop(&srv, dir, state, n, 3);
}

/* The tablets of @table owned by @node, and whether any of them is lost. */
static int owned_by(const struct server *s, uint64_t table, uint32_t node, bool *lost)
{
	struct coord_map_info mi;
	int count = 0;

	*lost = false;
	if (get_map(s, &mi))
		return -1;
	for (uint32_t i = 0; i < mi.nr_tablets; i++) {
		if (mi.tablets[i].table_id != table)
			continue;
		if (mi.tablets[i].owner == node)
			count++;
		if (mi.tablets[i].flags & SKV_COORD_TABLET_F_LOST)
			*lost = true;
	}
	coord_map_info_free(&mi);
	return count;
}

/* Poll (up to 3 s) until @node owns none of @table and nothing of it is lost. */
static bool recovered_wait(const struct server *s, uint64_t table, uint32_t node)
{
	bool lost = true;

	for (int k = 0; k < 300; k++) {
		if (owned_by(s, table, node, &lost) == 0 && !lost)
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * Crash recovery, R = 2 on three nodes: node 3 (backed up by 1 and 2)
 * owns a tablet of table 5 and all of table 6; declared dead and fenced,
 * its two tablets are recovered one on each backup (in parallel), each
 * told node 3's id, an epoch above the fence and its tablet; the map then
 * names that backup as the owner, nothing lost.  Back, node 3 is told to
 * delete them.  A restarted coordinator has the same map (state file).
 */
TEST(dead_node_tablets_recovered_on_backups)
{
	struct coordinator_opts o = { .dead_after_ms = LIVE_DEAD_AFTER_MS, .replicas = 2 };
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	const uint32_t all[] = { 1, 2, 3 }, three[] = { 3 };
	struct coord_tablet_info t, mt;
	struct fake_node n[4];
	struct server srv;
	uint32_t flags;
	bool lost;
	int i;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, node_start(&n[i], &srv, i + 1));
	ASSERT_EQ(0, create_table(&srv, 5, all, 3, NULL, 0));
	ASSERT_EQ(0, create_table(&srv, 6, three, 1, NULL, 0));
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nrepl, 1));

	atomic_store(&n[2].silent, 1);
	ASSERT_NE(0, live_wait_dead(&srv, 3, 0, 0, &t));
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nfence, 1));
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nrecover, 1));
	}
	ASSERT_TRUE(recovered_wait(&srv, 5, 3));
	ASSERT_TRUE(recovered_wait(&srv, 6, 3));
	for (i = 0; i < 2; i++) {
		pthread_mutex_lock(&n[i].mu);
		ASSERT_EQ(1, n[i].nrecover);
		ASSERT_EQ(3u, n[i].recover.primary_id);
		ASSERT_EQ(0u, n[i].recover.nr_backups);
		ASSERT_LT(n[i].fence.epoch, n[i].recover.epoch);
		ASSERT_EQ((uint32_t)i + 1, n[i].recover_tab.owner);
		t = n[i].recover_tab;
		pthread_mutex_unlock(&n[i].mu);
		ASSERT_EQ(0, node_and_tablet(&srv, 3, t.table_id, t.start_hash, &flags, &mt));
		ASSERT_EQ(t.start_hash, mt.start_hash);
		ASSERT_EQ(t.end_hash, mt.end_hash);
		ASSERT_EQ((uint32_t)i + 1, mt.owner);
		ASSERT_EQ(0u, mt.flags & SKV_COORD_TABLET_F_LOST);
	}

	/* Node 3's daemon back: it deletes both tablets recovered elsewhere. */
	node_stop(&n[2]);
	ASSERT_EQ(0, node_start(&n[3], &srv, 3));
	ASSERT_LE(0, node_wait(&n[3], 1));
	ASSERT_EQ(2, node_op_count_wait(&n[3], SKV_COORD_OP_NODE_TABLET_DEL, 2));

	/* Durable: a restarted coordinator has the same owners, nothing lost. */
	node_stop(&n[3]);
	for (i = 0; i < 2; i++)
		node_stop(&n[i]);
	server_stop(&srv);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	ASSERT_EQ(0, owned_by(&srv, 6, 3, &lost));
	ASSERT_FALSE(lost);
	ASSERT_EQ(0, owned_by(&srv, 5, 3, &lost));
	ASSERT_FALSE(lost);
	live_stop(&srv, dir, state, n, 0);
}

/*
 * A recovery refused by the backup leaves the tablet lost (GET_MAP flag)
 * and is tried again later; without replication nothing is sent.
 */
TEST(recovery_failure_keeps_tablet_lost)
{
	struct coordinator_opts o = { .dead_after_ms = LIVE_DEAD_AFTER_MS, .replicas = 1 };
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	const uint32_t all[] = { 1, 2, 3 };
	struct coord_tablet_info t;
	struct fake_node n[3];
	struct server srv;
	bool lost;
	int i;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	/* R = 1: node 3's backup is node 1, which refuses to recover. */
	ASSERT_EQ(0, node_start_failing(&n[0], &srv, 1, SKV_COORD_OP_NODE_REPL_RECOVER, ENOENT));
	for (i = 1; i < 3; i++)
		ASSERT_EQ(0, node_start(&n[i], &srv, i + 1));
	ASSERT_EQ(0, create_table(&srv, 5, all, 3, NULL, 0));
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nrepl, 1));
	atomic_store(&n[2].silent, 1);
	ASSERT_NE(0, live_wait_dead(&srv, 3, 0, 0, &t));
	/* Refused, then tried again after the backoff (1 s). */
	ASSERT_TRUE(node_count_wait(&n[0], &n[0].nrecover, 1));
	ASSERT_EQ(1, owned_by(&srv, 5, 3, &lost));
	ASSERT_TRUE(lost);
	ASSERT_TRUE(node_count_wait(&n[0], &n[0].nrecover, 2));
	ASSERT_EQ(1, owned_by(&srv, 5, 3, &lost));
	ASSERT_TRUE(lost);
	/* Only node 3's backup is asked. */
	pthread_mutex_lock(&n[1].mu);
	ASSERT_EQ(0, n[1].nrecover);
	pthread_mutex_unlock(&n[1].mu);
	live_stop(&srv, dir, state, n, 3);
}

/*
 * A recovery that takes longer than the coordinator's node timeout (2 s
 * here; a large tablet, slow backups) is waited for: the tablet stays
 * lost, no second recovery of it starts (on the other backup, or again
 * here), and when the node answers the tablet is recovered there.  With
 * a timeout, the coordinator started another while the first went on
 * (the lab's crash during a recovery).
 */
/*
 * R = 2 on fake nodes 1-3 that hold every NODE_REPL_RECOVER, table 6 on
 * node 3 alone, its state in a fresh directory @dir; node 3 goes silent
 * and is declared dead.  The index of the backup given the recovery of
 * its tablet, or -1.
 */
static int held_recovery_start(struct server *srv, char *dir, char *state, size_t len,
			       struct fake_node n[3])
{
	struct coordinator_opts o = { .dead_after_ms = LIVE_DEAD_AFTER_MS, .replicas = 2 };
	const uint32_t three[] = { 3 };
	struct coord_tablet_info t;
	int i;

	if (live_cluster_start(srv, dir, state, len, &o, n))
		return -1;
	for (i = 0; i < 3; i++) {
		pthread_mutex_lock(&n[i].mu);
		n[i].hold_op = SKV_COORD_OP_NODE_REPL_RECOVER;
		pthread_mutex_unlock(&n[i].mu);
	}
	if (create_table(srv, 6, three, 1, NULL, 0))
		return -1;
	for (i = 0; i < 3; i++)
		if (!node_count_wait(&n[i], &n[i].nrepl, 1))
			return -1;
	atomic_store(&n[2].silent, 1);
	if (!live_wait_dead(srv, 3, 0, 0, &t))
		return -1;
	/* One of node 3's backups is given the recovery (each waits up to 3 s). */
	for (int k = 0; k < 4; k++)
		for (i = 0; i < 2; i++)
			if (node_count_wait(&n[i], &n[i].nrecover, 1))
				return i;
	return -1;
}

TEST(slow_recovery_waited_for)
{
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	struct fake_node n[3];
	struct server srv;
	int i, busy, seen;
	bool lost;

	busy = held_recovery_start(&srv, dir, state, sizeof(state), n);
	ASSERT_LE(0, busy);
	/* Three node timeouts: a timed-out recovery is tried again after 1 s. */
	usleep(3 * 2000 * 1000);
	seen = 0;
	for (i = 0; i < 2; i++) {
		pthread_mutex_lock(&n[i].mu);
		seen += n[i].nrecover;
		pthread_mutex_unlock(&n[i].mu);
	}
	ASSERT_EQ(1, seen);
	ASSERT_EQ(1, owned_by(&srv, 6, 3, &lost));
	ASSERT_TRUE(lost);
	ASSERT_EQ(0, node_release(&n[busy]));
	ASSERT_TRUE(recovered_wait(&srv, 6, 3));
	ASSERT_EQ(1, owned_by(&srv, 6, (uint32_t)busy + 1, &lost));
	ASSERT_FALSE(lost);
	live_stop(&srv, dir, state, n, 3);
}

/*
 * R = 2 on fake nodes 1-3, table 7 on node 1 alone, its state in a fresh
 * directory @dir; all of it migrates to node 2, which reports it pulling,
 * then failed with the range frozen at both (EUCLEAN).  evict_after_ms:
 * the coordinator's option (0: its default).  0 or -1.
 */
static int frozen_start(struct server *srv, char *dir, char *state, size_t len,
			struct fake_node n[3], struct skv_migration *g,
			int evict_after_ms)
{
	struct coordinator_opts o = {
		.dead_after_ms = LIVE_DEAD_AFTER_MS, .evict_after_ms = evict_after_ms,
		.replicas = 2,
	};
	const uint32_t one[] = { 1 };
	int i;

	if (live_cluster_start(srv, dir, state, len, &o, n))
		return -1;
	if (create_table(srv, 7, one, 1, NULL, 0))
		return -1;
	for (i = 0; i < 3; i++)
		if (!node_count_wait(&n[i], &n[i].nrepl, 1))
			return -1;
	if (migrate(srv, 7, 0, UINT64_MAX, 2, 0, g) ||
	    node_report(&n[1], g->id, STEADYKV_MIGRATION_STATE_PULLING, 0, 5) ||
	    node_report(&n[1], g->id, STEADYKV_MIGRATION_STATE_FAILED, EUCLEAN, 5))
		return -1;
	return 0;
}

/*
 * A migration ended with its range frozen at both nodes (the target's
 * hand-back not done), then its source dies: the range is recorded lost
 * and completed at the target, one of the source's backups, from the
 * source's replica (the lineage path); the lineage record goes and the
 * migration says so.  Before, nothing was lost in the map, so nothing was
 * recovered: the range stayed frozen at the target for good.
 */
TEST(frozen_range_source_dies)
{
	char dir[] = "/tmp/skv-live-XXXXXX", state[96], line[128];
	struct coord_tablet_info t;
	struct skv_migration g, *v;
	struct fake_node n[3];
	struct server srv;
	uint32_t count;

	ASSERT_EQ(0, frozen_start(&srv, dir, state, sizeof(state), n, &g, 0));
	ASSERT_EQ(0, node_wait_decide(&n[1], 1));
	snprintf(line, sizeof(line), "lineage %llu ", (unsigned long long)g.id);
	ASSERT_TRUE(file_has(state, line));

	atomic_store(&n[0].silent, 1);
	ASSERT_NE(0, live_wait_dead(&srv, 1, 7, 0, &t));
	ASSERT_TRUE(node_count_wait(&n[1], &n[1].nrecover, 1));
	pthread_mutex_lock(&n[1].mu);
	EXPECT_EQ(1u, n[1].recover.primary_id);
	EXPECT_EQ(7u, n[1].recover_tab.table_id);
	EXPECT_EQ(0u, n[1].recover_tab.start_hash);
	EXPECT_EQ(UINT64_MAX, n[1].recover_tab.end_hash);
	EXPECT_EQ(2u, n[1].recover_tab.owner);
	pthread_mutex_unlock(&n[1].mu);
	ASSERT_TRUE(recovered_wait(&srv, 7, 1));
	ASSERT_EQ(0, owner_of(&srv, 7, 0, &t));
	EXPECT_EQ(2u, t.owner);
	EXPECT_FALSE(file_has(state, line));
	ASSERT_EQ(0, mig_status(&srv, g.id, &v, &count));
	ASSERT_EQ(1u, count);
	EXPECT_NE(NULL, strstr(v[0].error_msg, "completed at the target"));
	free(v);
	live_stop(&srv, dir, state, n, 3);
}

/*
 * A partition between a frozen range's source and target that does not
 * heal (the target never reports the range handed back), both up, R = 2:
 * after --evict-after-ms (EVICT_AFTER_MS here, less than the default
 * COORD_EVICT_MUL * D) the source is declared dead though it still
 * sends, the range is completed at the target from the source's replica
 * (the migration says so), and the source's daemon, back once that is
 * done, is told to commit (drop its frozen copy) and to delete the range.
 */
#define EVICT_AFTER_MS	(3 * LIVE_DEAD_AFTER_MS)

TEST(frozen_range_partition_evicts_source)
{
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	struct fake_node n[3], back;
	struct server srv;
	struct coord_tablet_info t;
	struct skv_migration g, *v;
	int64_t frozen_at, dead_at;
	int i, k;
	uint32_t count;

	ASSERT_EQ(0, frozen_start(&srv, dir, state, sizeof(state), n, &g, EVICT_AFTER_MS));
	frozen_at = mono_ms();
	ASSERT_EQ(0, node_wait_decide(&n[1], 1));

	/* Node 1 keeps sending: declared dead only past the bound. */
	for (k = 0; k < 1000; k++) {
		uint32_t flags = 0;

		ASSERT_EQ(0, node_and_tablet(&srv, 1, 7, 0, &flags, &t));
		if (flags & SKV_COORD_NODE_F_DEAD)
			break;
		usleep(10000);
	}
	ASSERT_LT(k, 1000);
	dead_at = mono_ms();
	fprintf(stderr, "# node 1 evicted %lld ms after the range froze (bound %d ms)\n",
		(long long)(dead_at - frozen_at), EVICT_AFTER_MS);
	ASSERT_GE(dead_at - frozen_at, EVICT_AFTER_MS - 100);
	/* The option, not the default, decided. */
	ASSERT_LT(dead_at - frozen_at, COORD_EVICT_MUL * LIVE_DEAD_AFTER_MS);
	ASSERT_TRUE(node_count_wait(&n[1], &n[1].nrecover, 1));
	pthread_mutex_lock(&n[1].mu);
	EXPECT_EQ(1u, n[1].recover.primary_id);
	EXPECT_EQ(7u, n[1].recover_tab.table_id);
	pthread_mutex_unlock(&n[1].mu);
	ASSERT_TRUE(recovered_wait(&srv, 7, 1));
	ASSERT_EQ(0, mig_status(&srv, g.id, &v, &count));
	ASSERT_EQ(1u, count);
	EXPECT_EQ((uint32_t)SKV_COORD_ERR_COMPLETED_AT_TARGET, v[0].error);
	EXPECT_NE(NULL, strstr(v[0].error_msg, "completed at the target"));
	free(v);

	/* Node 1's daemon back: commit, and the range deleted there. */
	node_stop(&n[0]);
	ASSERT_EQ(0, node_start(&back, &srv, 1));
	ASSERT_EQ(0, node_wait_decide(&back, 1));
	EXPECT_EQ(g.id, back.decide_id);
	EXPECT_FALSE(back.decide_abort);
	EXPECT_EQ(1, node_op_count_wait(&back, SKV_COORD_OP_NODE_TABLET_DEL, 1));
	node_stop(&back);
	for (i = 1; i < 3; i++)
		node_stop(&n[i]);
	live_stop(&srv, dir, state, n, 0);
}

/*
 * A dead node may not come back while its tablets are being rebuilt: a
 * crashed node that rebooted before its recovery ended would open its
 * replicas afresh under the recovery and, no longer dead, never have its
 * tablets rebuilt.  Node 3 (R = 2) dies, a backup's recovery of its
 * tablet is held; node 3's daemon is refused (EAGAIN) and stays dead;
 * once the tablet is recovered it registers and is told to delete it.
 */
TEST(dead_node_waits_for_its_recovery)
{
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	struct coord_tablet_info t;
	struct fake_node n[3], back;
	struct server srv;
	int busy;
	uint32_t flags;
	bool lost;

	busy = held_recovery_start(&srv, dir, state, sizeof(state), n);
	ASSERT_LE(0, busy);

	/* Rebooted while the recovery runs: refused, still dead, still lost. */
	node_stop(&n[2]);
	ASSERT_EQ(-EAGAIN, node_start(&back, &srv, 3));
	ASSERT_EQ(-EAGAIN, node_start(&back, &srv, 3));
	ASSERT_EQ(0, node_and_tablet(&srv, 3, 6, 0, &flags, &t));
	ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_DEAD, flags);
	ASSERT_EQ(1, owned_by(&srv, 6, 3, &lost));
	ASSERT_TRUE(lost);

	/* Recovered: node 3 comes back and deletes what it held. */
	ASSERT_EQ(0, node_release(&n[busy]));
	ASSERT_TRUE(recovered_wait(&srv, 6, 3));
	ASSERT_EQ(0, node_start(&back, &srv, 3));
	ASSERT_EQ(1, node_op_count_wait(&back, SKV_COORD_OP_NODE_TABLET_DEL, 1));
	ASSERT_EQ(0, node_and_tablet(&srv, 3, 6, 0, &flags, &t));
	ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_UP, flags);
	ASSERT_EQ((uint32_t)busy + 1, t.owner);
	ASSERT_EQ(0u, t.flags);
	node_stop(&back);
	live_stop(&srv, dir, state, n, 2);
}

/*
 * A node whose module began again (a reload, or a reboot faster than
 * dead-after) registers with another incarnation, its data gone: it is
 * declared dead at once, its tablets rebuilt on its backups before it is
 * taken back.  Its daemon alone coming back (same incarnation) is not a
 * death, also after a coordinator restart (the incarnation is saved).
 */
TEST(new_incarnation_is_a_death)
{
	struct coordinator_opts o = { .dead_after_ms = 60000, .replicas = 2 };
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	const uint32_t all[] = { 1, 2, 3 }, three[] = { 3 };
	struct coord_tablet_info t;
	struct fake_node n[3], back;
	struct server srv;
	int i, recovers;
	uint32_t flags;
	bool lost;

	ASSERT_EQ(0, live_server_start(&srv, dir, state, sizeof(state), &o));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, node_register(&n[i], &srv, i + 1, 0x100 + i, 0, 0));
	ASSERT_EQ(0, create_table(&srv, 5, all, 3, NULL, 0));
	ASSERT_EQ(0, create_table(&srv, 6, three, 1, NULL, 0));
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nrepl, 1));

	/* The daemon alone restarts: the same node, nothing lost. */
	node_stop(&n[2]);
	ASSERT_EQ(0, node_register(&n[2], &srv, 3, 0x102, 0, 0));
	ASSERT_EQ(0, node_and_tablet(&srv, 3, 6, 0, &flags, &t));
	ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_UP, flags);
	ASSERT_EQ(1, owned_by(&srv, 6, 3, &lost));
	ASSERT_FALSE(lost);

	/* Its module began again, well within dead-after: refused, dead. */
	node_stop(&n[2]);
	ASSERT_EQ(-EAGAIN, node_register(&back, &srv, 3, 0x103, 0, 0));
	ASSERT_EQ(0, node_and_tablet(&srv, 3, 6, 0, &flags, &t));
	ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_DEAD, flags & SKV_COORD_NODE_F_DEAD);
	ASSERT_TRUE(recovered_wait(&srv, 5, 3));
	ASSERT_TRUE(recovered_wait(&srv, 6, 3));
	for (i = 0, recovers = 0; i < 2; i++) {
		pthread_mutex_lock(&n[i].mu);
		recovers += n[i].nrecover;
		pthread_mutex_unlock(&n[i].mu);
	}
	ASSERT_EQ(2, recovers);	/* its two tablets, nothing else */

	/* Rebuilt: taken back, told to delete what it no longer holds. */
	ASSERT_EQ(0, node_register(&back, &srv, 3, 0x103, 0, 0));
	ASSERT_EQ(2, node_op_count_wait(&back, SKV_COORD_OP_NODE_TABLET_DEL, 2));
	ASSERT_TRUE(file_has(state, "node 3 node-3 127.0.0.3:7003 0x0000000000000103\n"));

	/* A restarted coordinator knows that incarnation: no death. */
	node_stop(&back);
	server_stop(&srv);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	ASSERT_EQ(0, node_register(&back, &srv, 3, 0x103, 0, 0));
	ASSERT_EQ(0, node_and_tablet(&srv, 3, 5, 0, &flags, &t));
	ASSERT_EQ(0u, flags & SKV_COORD_NODE_F_DEAD);
	node_stop(&back);
	live_stop(&srv, dir, state, n, 2);
}

/*
 * The daemon of the node rebuilding node 3's tablet disconnects and
 * comes back (the node never stopped): its module may have finished and
 * serve the tablet, so the recovery is asked of it again, not of the
 * other backup (which left a second copy behind, taken later for
 * "recovered already" by a recovery of the range from another replica).
 */
TEST(recovery_in_doubt_asked_again_where_it_ran)
{
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	struct fake_node n[3], again;
	struct server srv;
	int busy, other;
	bool lost;

	busy = held_recovery_start(&srv, dir, state, sizeof(state), n);
	ASSERT_LE(0, busy);
	other = 1 - busy;
	/* Within D (0.8 s): the node is not declared dead. */
	node_stop(&n[busy]);
	ASSERT_EQ(0, node_start(&again, &srv, (uint32_t)busy + 1));
	ASSERT_TRUE(node_count_wait(&again, &again.nrecover, 1));
	ASSERT_TRUE(recovered_wait(&srv, 6, 3));
	ASSERT_EQ(1, owned_by(&srv, 6, (uint32_t)busy + 1, &lost));
	ASSERT_FALSE(lost);
	pthread_mutex_lock(&n[other].mu);
	ASSERT_EQ(0, n[other].nrecover);
	pthread_mutex_unlock(&n[other].mu);
	node_stop(&again);
	node_stop(&n[other]);
	node_stop(&n[2]);
	live_stop(&srv, dir, state, n, 0);
}

/*
 * A coordinator restarted while dead node 3's tablet is being rebuilt:
 * node 3 is dead from the start (its lost record says so), so back at
 * once it is refused, not taken for a live node whose new incarnation
 * would reset the replicas its tablet is rebuilt from and never be
 * declared dead again.  After the start grace the tablet is rebuilt on a
 * node that reconnected; then node 3 registers and is told to delete it.
 */
TEST(dead_node_stays_dead_across_a_restart)
{
	struct coordinator_opts o = { .dead_after_ms = LIVE_DEAD_AFTER_MS, .replicas = 2 };
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	struct fake_node n[3], back[3];
	struct coord_tablet_info t;
	struct server srv;
	uint32_t flags;
	bool lost;
	int i, k;

	ASSERT_LE(0, held_recovery_start(&srv, dir, state, sizeof(state), n));
	for (i = 0; i < 3; i++)
		node_stop(&n[i]);
	server_stop(&srv);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));

	ASSERT_EQ(-EAGAIN, node_start(&back[2], &srv, 3));
	ASSERT_EQ(0, node_and_tablet(&srv, 3, 6, 0, &flags, &t));
	ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_DEAD, flags);
	ASSERT_EQ(1, owned_by(&srv, 6, 3, &lost));
	ASSERT_TRUE(lost);

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, node_start(&back[i], &srv, i + 1));
	/* The grace (10 s), then the recovery: each wait is 3 s. */
	for (k = 0; k < 6 && !recovered_wait(&srv, 6, 3); k++)
		;
	ASSERT_LT(k, 6);
	ASSERT_EQ(0, node_start(&back[2], &srv, 3));
	ASSERT_EQ(1, node_op_count_wait(&back[2], SKV_COORD_OP_NODE_TABLET_DEL, 1));
	ASSERT_EQ(0, node_and_tablet(&srv, 3, 6, 0, &flags, &t));
	ASSERT_EQ((uint32_t)SKV_COORD_NODE_F_UP, flags);
	live_stop(&srv, dir, state, back, 3);
}

/*
 * The backup assignment is durable: node 3 (R = 1: backed up by node 4
 * alone) dies while the coordinator is down.  Restarted, with nodes 1
 * and 2 back but not 4, it rebuilds node 3's tablet nowhere (1 and 2
 * hold no replica of it, or an older one); once node 4 is back, there.
 * Not knowing the assignment, it tried every node up.
 */
TEST(recovery_after_a_restart_at_the_saved_backup)
{
	struct coordinator_opts o = { .dead_after_ms = LIVE_DEAD_AFTER_MS, .replicas = 1 };
	char dir[] = "/tmp/skv-live-XXXXXX", state[96];
	const uint32_t three[] = { 3 };
	struct fake_node n[4], back[4];
	struct coord_tablet_info t;
	struct server srv;
	bool lost;
	int i, k;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, node_start(&n[i], &srv, i + 1));
	ASSERT_EQ(0, create_table(&srv, 6, three, 1, NULL, 0));
	for (i = 0; i < 4; i++)
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nrepl, 1));
	for (i = 0; i < 4; i++)
		node_stop(&n[i]);
	server_stop(&srv);

	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, node_start(&back[i], &srv, i + 1));
	/* Declared dead after the start grace (10 s), then 1 s more. */
	for (k = 0; k < 6 && !live_wait_dead(&srv, 3, 0, 0, &t); k++)
		;
	ASSERT_LT(k, 6);
	usleep(1000 * 1000);
	for (i = 0; i < 2; i++) {
		pthread_mutex_lock(&back[i].mu);
		ASSERT_EQ(0, back[i].nrecover);
		pthread_mutex_unlock(&back[i].mu);
	}
	ASSERT_EQ(1, owned_by(&srv, 6, 3, &lost));
	ASSERT_TRUE(lost);

	ASSERT_EQ(0, node_start(&back[3], &srv, 4));
	ASSERT_TRUE(recovered_wait(&srv, 6, 3));
	ASSERT_EQ(1, owned_by(&srv, 6, 4, &lost));
	ASSERT_FALSE(lost);
	node_stop(&back[3]);
	live_stop(&srv, dir, state, back, 2);
}

/*
 * Epochs grow across restarts whatever the clock says: a coordinator
 * starting on a state whose epoch bound is far ahead of the clock (one
 * that ran with its clock ahead, then restarted with it right) gives
 * epochs above the bound, and saves a higher bound before it does.
 */
TEST(epochs_above_the_saved_bound)
{
	struct coordinator_opts o = { .dead_after_ms = LIVE_DEAD_AFTER_MS, .replicas = 1 };
	const uint64_t bound = 1ull << 62;
	char dir[] = "/tmp/skv-live-XXXXXX", state[96], text[128];
	struct coord_state st;
	struct coord_store *cs;
	struct fake_node n[2];
	struct server srv;
	int i;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(text, sizeof(text), "steadykv-map 4\nversion 1\nrepl-epoch-bound %llu\nend 1\n",
		 (unsigned long long)bound);
	ASSERT_EQ(0, file_put(state, text));
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, node_start(&n[i], &srv, i + 1));
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(node_count_wait(&n[i], &n[i].nrepl, 1));
		pthread_mutex_lock(&n[i].mu);
		ASSERT_LE(bound, n[i].repl.epoch);
		pthread_mutex_unlock(&n[i].mu);
	}
	coord_state_init(&st);
	ASSERT_EQ(0, coord_store_open_file(state, &cs));
	ASSERT_EQ(0, coord_store_load_state(cs, &st));
	for (i = 0; i < 2; i++) {
		pthread_mutex_lock(&n[i].mu);
		ASSERT_LT(n[i].repl.epoch, st.repl_epoch_bound);
		pthread_mutex_unlock(&n[i].mu);
	}
	coord_store_close(cs);
	coord_state_free(&st);
	live_stop(&srv, dir, state, n, 2);
}

/*
 * Whether a lost tablet's owner is dead, for a coordinator starting on
 * a state file: it is, unless the record says it registered since
 * (owner-back: its tablet stays lost, nothing can rebuild it).
 */
TEST(lost_record_owner_back_on_start)
{
	/* Marked in the file; replicas; registration accepted; marked after. */
	static const struct { bool back; unsigned int r; int reg; } cases[] = {
		{ false, 2, -EAGAIN }, { true, 2, 0 }, { false, 0, 0 },
	};
	char dir[] = "/tmp/skv-live-XXXXXX", state[96], text[1024];
	struct coord_tablet_info t;
	struct fake_node three;
	struct server srv;
	uint32_t flags;
	bool lost;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct coordinator_opts o = { .dead_after_ms = LIVE_DEAD_AFTER_MS,
					      .replicas = cases[k].r };

		snprintf(text, sizeof(text), "steadykv-map 4\nversion 5\n"
			 "node 1 node-1 127.0.0.1:7001\nnode 2 node-2 127.0.0.1:7002\n"
			 "node 3 node-3 127.0.0.1:7003\ntable 6\n"
			 "tablet 6 0x0000000000000000 0xffffffffffffffff 3 normal\n"
			 "lost 6 0x0000000000000000 0xffffffffffffffff 3 1796583664103%s\n"
			 "end 6\n", cases[k].back ? " owner-back" : "");
		ASSERT_EQ(0, file_put(state, text));
		ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
		ASSERT_EQ(cases[k].reg, node_start(&three, &srv, 3)) TH_LOG("case %zu", k);
		ASSERT_EQ(0, node_and_tablet(&srv, 3, 6, 0, &flags, &t));
		ASSERT_EQ(cases[k].reg ? (uint32_t)SKV_COORD_NODE_F_DEAD :
			  (uint32_t)SKV_COORD_NODE_F_UP, flags);
		ASSERT_EQ(1, owned_by(&srv, 6, 3, &lost));
		ASSERT_TRUE(lost);
		/* Marked on disk before it was told it registered. */
		ASSERT_EQ(!cases[k].reg, file_has(state, " owner-back\n"));
		if (!cases[k].reg)
			node_stop(&three);
		server_stop(&srv);
	}
	unlink(state);
	rmdir(dir);
}

/*
 * The rebalancer end to end: node 1 alone serves table 8 and reports a
 * rising counter; nodes 2 and 3 report nothing served.  The coordinator
 * starts, by itself, a Rocksteady migration of the tablet's upper half
 * (the split at the median hash) to node 2, the least-loaded (lowest id
 * on a tie), and only one, within the cool-down.
 */
TEST(rebalance_moves_a_hot_range)
{
	char dir[] = "/tmp/skv-rebal-XXXXXX", state[96], tmp[128];
	struct coordinator_opts o = {
		.rebalance = { .mode = REBALANCE_ON, .share = 0.6, .hold_ms = 1,
			       .cooldown_ms = 3600000 },
	};
	const uint32_t one[] = { 1 };
	struct skv_migration *v;
	struct fake_node n[3];
	struct server srv;
	uint32_t count;
	int i, k, at = -1;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/state", dir);
	ASSERT_EQ(0, server_start_opts(&srv, state, &o, true));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, node_start(&n[i], &srv, i + 1));
	ASSERT_EQ(0, create_table(&srv, 8, one, 1, NULL, 0));
	ASSERT_EQ(0, node_wait(&n[0], 1));
	for (i = 0; i < 3; i++) {
		pthread_mutex_lock(&n[i].mu);
		if (i == 0) {
			n[i].load_nr = 1;
			n[i].load = (struct coord_tablet_load){ 8, 0, UINT64_MAX, 0 };
			n[i].load_step = 100;	/* every 50 ms: ~2000 requests/s */
		}
		atomic_store(&n[i].load_on, 1);
		pthread_mutex_unlock(&n[i].mu);
	}
	/* Rates need two readings a window apart: up to 10 s on a busy host. */
	for (k = 0; k < 1000 && at < 0; k++) {
		pthread_mutex_lock(&n[1].mu);
		for (i = 0; i < n[1].nseen; i++)
			if (n[1].seen_op[i] == SKV_COORD_OP_NODE_MIGRATE_START)
				at = i;
		pthread_mutex_unlock(&n[1].mu);
		if (at < 0)
			usleep(10000);
	}
	ASSERT_LE(0, at);
	ASSERT_EQ(8u, n[1].seen_mig[at].table_id);
	ASSERT_EQ(0x8000000000000000ull, n[1].seen_mig[at].start_hash);
	ASSERT_EQ(UINT64_MAX, n[1].seen_mig[at].end_hash);
	ASSERT_EQ(1u, n[1].seen_mig[at].src);
	ASSERT_EQ(2u, n[1].seen_mig[at].dst);
	ASSERT_EQ((uint32_t)STEADYKV_MIGRATION_MODE_ROCKSTEADY, n[1].seen_mig[at].mode);
	/* The coordinator lists it, and no other: the cool-down holds. */
	ASSERT_EQ(0, mig_status(&srv, 0, &v, &count));
	ASSERT_EQ(1u, count);
	ASSERT_EQ(n[1].seen_mig[at].id, v[0].id);
	free(v);
	for (i = 0; i < 3; i++)
		node_stop(&n[i]);
	server_stop(&srv);
	unlink(state);
	snprintf(tmp, sizeof(tmp), "%s.tmp", state);
	unlink(tmp);
	rmdir(dir);
}

TEST_HARNESS_MAIN
