// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The etcd state store and the leader election (state_etcd.c) against a
 * real etcd (Debian's etcd-server), started by each test on 127.0.0.1
 * with a data directory of its own and removed afterwards.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "state_etcd.h"
#include "state_store.h"

#define ETCD_BIN	"etcd"
#define START_TRIES	300	/* x 50 ms: etcd up within 15 s */
/*
 * The leases' TTL: short, yet three keepalives (1 s timeout each) may
 * fail on a loaded host before a leader counts its lease lost.
 */
#define TEST_TTL_S	4

/* A port nobody listens on now (the kernel's pick for an ephemeral bind). */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* A map with two nodes and one table: enough to tell states apart. */
static void sample_state(struct __test_metadata *_metadata,
			 struct coord_state *st, uint64_t version)
{
	const uint32_t owners[] = { 1, 2 };

	coord_state_init(st);
	ASSERT_EQ(0, tmap_add_node(&st->map, 1, "n1", "10.0.0.1:7001"));
	ASSERT_EQ(0, tmap_add_node(&st->map, 2, "n2", "10.0.0.2:7002"));
	ASSERT_EQ(0, tmap_create_table(&st->map, 7, owners, 2));
	st->map.version = version;
}

FIXTURE(etcd) {
	pid_t pid;
	char dir[64];
	char url[64];
	struct etcd_leader *a, *b;
	struct coord_store *sa, *sb;
};

FIXTURE_SETUP(etcd)
{
	char client[64], peer[64], cluster[80], err[256];
	int cport = free_port(), pport = free_port(), i;

	ASSERT_LT(0, cport);
	ASSERT_LT(0, pport);
	snprintf(self->dir, sizeof(self->dir), "/tmp/skv-etcd-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->url, sizeof(self->url), "http://127.0.0.1:%d", cport);
	snprintf(client, sizeof(client), "http://127.0.0.1:%d", cport);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pport);
	snprintf(cluster, sizeof(cluster), "test=%s", peer);
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		char log[96];

		/* Never outlive the test, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(log, sizeof(log), "%s/etcd.log", self->dir);
		if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
			_exit(126);
		execlp(ETCD_BIN, ETCD_BIN, "--data-dir", self->dir,
		       "--name", "test", "--listen-client-urls", client,
		       "--advertise-client-urls", client,
		       "--listen-peer-urls", peer,
		       "--initial-advertise-peer-urls", peer,
		       "--initial-cluster", cluster, NULL);
		_exit(127);
	}
	ASSERT_EQ(0, etcd_leader_open(self->url, "/t", "coord-a:7100", TEST_TTL_S,
				      &self->a, err, sizeof(err)));
	ASSERT_EQ(0, etcd_leader_open(self->url, "/t", "coord-b:7100", TEST_TTL_S,
				      &self->b, err, sizeof(err)));
	ASSERT_EQ(0, coord_store_open_etcd(self->a, &self->sa));
	ASSERT_EQ(0, coord_store_open_etcd(self->b, &self->sb));
	/* Up once a read answers; etcd exiting fails the test at once. */
	for (i = 0; i < START_TRIES; i++) {
		struct coord_state st;
		int status, r;

		ASSERT_EQ(0, waitpid(self->pid, &status, WNOHANG));
		coord_state_init(&st);
		r = coord_store_load_state(self->sa, &st);
		coord_state_free(&st);
		if (!r)
			break;
		sleep_ms(50);
	}
	ASSERT_LT(i, START_TRIES);
}

FIXTURE_TEARDOWN(etcd)
{
	char cmd[96];

	coord_store_close(self->sa);
	coord_store_close(self->sb);
	etcd_leader_close(self->a);
	etcd_leader_close(self->b);
	if (self->pid > 0) {
		kill(self->pid, SIGTERM);
		waitpid(self->pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", self->dir);
	if (system(cmd))
		TH_LOG("could not remove %s", self->dir);
}

/* 1 elected, 0 not, as etcd_leader_try says (errors fail the test). */
static int try_lead(struct __test_metadata *_metadata, struct etcd_leader *l,
		    char *holder, size_t len)
{
	char err[256];
	int r = etcd_leader_try(l, holder, len, err, sizeof(err));

	if (r < 0)
		TH_LOG("etcd_leader_try: %s", err);
	ASSERT_LE(0, r);
	return r;
}

TEST_F(etcd, fresh_cluster_loads_empty)
{
	struct coord_state st;

	sample_state(_metadata, &st, 9);
	ASSERT_EQ(0, coord_store_load_state(self->sa, &st));
	EXPECT_EQ(0u, st.map.nr_nodes);
	EXPECT_EQ(0u, st.map.version);
	coord_state_free(&st);
}

TEST_F(etcd, one_leader_at_a_time)
{
	char holder[64];

	ASSERT_EQ(1, try_lead(_metadata, self->a, holder, sizeof(holder)));
	ASSERT_EQ(0, try_lead(_metadata, self->b, holder, sizeof(holder)));
	EXPECT_STREQ("coord-a:7100", holder);
	EXPECT_TRUE(etcd_leader_held(self->a));
	EXPECT_FALSE(etcd_leader_held(self->b));
	/* Trying again changes nothing while a's lease lives. */
	ASSERT_EQ(0, try_lead(_metadata, self->b, holder, sizeof(holder)));
	EXPECT_TRUE(etcd_leader_tick(self->a));
}

TEST_F(etcd, save_then_load_elsewhere)
{
	struct coord_state st, got;
	char holder[64], *x, *y;
	size_t xl, yl;

	ASSERT_EQ(1, try_lead(_metadata, self->a, holder, sizeof(holder)));
	sample_state(_metadata, &st, 3);
	ASSERT_EQ(0, coord_store_save_state(self->sa, &st));
	coord_state_init(&got);
	ASSERT_EQ(0, coord_store_load_state(self->sb, &got));
	/* The same bytes as the file would hold. */
	ASSERT_EQ(0, coord_state_encode(self->sa, &st, &x, &xl));
	ASSERT_EQ(0, coord_state_encode(self->sb, &got, &y, &yl));
	ASSERT_EQ(xl, yl);
	EXPECT_EQ(0, memcmp(x, y, xl));
	EXPECT_EQ(3u, got.map.version);
	EXPECT_EQ(2u, got.map.nr_nodes);
	free(x);
	free(y);
	coord_state_free(&st);
	coord_state_free(&got);
}

TEST_F(etcd, a_standby_cannot_save)
{
	struct coord_state st;
	char holder[64];

	ASSERT_EQ(1, try_lead(_metadata, self->a, holder, sizeof(holder)));
	ASSERT_EQ(0, try_lead(_metadata, self->b, holder, sizeof(holder)));
	sample_state(_metadata, &st, 1);
	EXPECT_EQ(-EPERM, coord_store_save_state(self->sb, &st));
	EXPECT_EQ(0, coord_store_save_state(self->sa, &st));
	coord_state_free(&st);
}

/* A write by another store of the same leader since our read: refused. */
TEST_F(etcd, stale_revision_refused)
{
	struct coord_store *other;
	struct coord_state st;
	char holder[64];

	ASSERT_EQ(1, try_lead(_metadata, self->a, holder, sizeof(holder)));
	ASSERT_EQ(0, coord_store_open_etcd(self->a, &other));
	sample_state(_metadata, &st, 1);
	ASSERT_EQ(0, coord_store_save_state(self->sa, &st));
	st.map.version = 2;
	EXPECT_EQ(-ESTALE, coord_store_save_state(other, &st));
	/* Once it has read what is there, it may write. */
	ASSERT_EQ(0, coord_store_load_state(other, &st));
	EXPECT_EQ(1u, st.map.version);
	st.map.version = 2;
	EXPECT_EQ(0, coord_store_save_state(other, &st));
	st.map.version = 3;
	EXPECT_EQ(-ESTALE, coord_store_save_state(self->sa, &st));
	coord_store_close(other);
	coord_state_free(&st);
}

/* The old leader resigns: the standby leads, the old one commits nothing. */
TEST_F(etcd, takeover_after_resign_fences_old_leader)
{
	struct coord_state st, got;
	char holder[64];

	ASSERT_EQ(1, try_lead(_metadata, self->a, holder, sizeof(holder)));
	sample_state(_metadata, &st, 1);
	ASSERT_EQ(0, coord_store_save_state(self->sa, &st));
	etcd_leader_resign(self->a);
	ASSERT_EQ(1, try_lead(_metadata, self->b, holder, sizeof(holder)));
	coord_state_init(&got);
	ASSERT_EQ(0, coord_store_load_state(self->sb, &got));
	EXPECT_EQ(1u, got.map.version);
	got.map.version = 2;
	ASSERT_EQ(0, coord_store_save_state(self->sb, &got));
	st.map.version = 5;
	EXPECT_EQ(-EPERM, coord_store_save_state(self->sa, &st));
	ASSERT_EQ(0, coord_store_load_state(self->sa, &st));
	EXPECT_EQ(2u, st.map.version);
	coord_state_free(&st);
	coord_state_free(&got);
}

/*
 * A leader that stops renewing (a process stopped, a machine gone): its
 * key goes with its lease's TTL, the standby is elected, and the old
 * leader's own save, even with the revision it read, is refused.  The
 * old leader's tick says it lost, without a save to tell it.
 */
TEST_F(etcd, takeover_after_lease_expiry)
{
	struct coord_state st;
	char holder[64], err[256];
	int64_t elected;

	ASSERT_EQ(1, try_lead(_metadata, self->a, holder, sizeof(holder)));
	elected = now_ms();
	sample_state(_metadata, &st, 1);
	ASSERT_EQ(0, coord_store_save_state(self->sa, &st));
	ASSERT_EQ(0, coord_store_load_state(self->sb, &st));
	/*
	 * b polls as a standby does (an etcd slow to answer, on a loaded
	 * host, is tried again as etcd_leader_campaign does); a is silent.
	 * a's lease (TEST_TTL_S) must have ended within 15 s.
	 */
	for (;;) {
		int r = etcd_leader_try(self->b, holder, sizeof(holder), err, sizeof(err));

		if (r == 1)
			break;
		if (r == 0) {
			EXPECT_STREQ("coord-a:7100", holder);
		} else {
			TH_LOG("standby poll failed, tried again: %s", err);
		}
		ASSERT_LT(now_ms() - elected, 15000);
		sleep_ms(100);
	}
	/* Not before the TTL, less the time a's grant and put took. */
	EXPECT_LE(1000, now_ms() - elected);
	EXPECT_FALSE(etcd_leader_tick(self->a));
	st.map.version = 7;
	EXPECT_EQ(-EPERM, coord_store_save_state(self->sa, &st));
	EXPECT_EQ(0, coord_store_save_state(self->sb, &st));
	coord_state_free(&st);
}

/* A leader that keeps ticking keeps its key past several TTLs. */
TEST_F(etcd, keepalive_holds_leadership)
{
	char holder[64];
	int i;

	ASSERT_EQ(1, try_lead(_metadata, self->a, holder, sizeof(holder)));
	for (i = 0; i < 30 * TEST_TTL_S; i++) {	/* three TTLs */
		ASSERT_TRUE(etcd_leader_tick(self->a));
		sleep_ms(100);
	}
	ASSERT_EQ(0, try_lead(_metadata, self->b, holder, sizeof(holder)));
	EXPECT_STREQ("coord-a:7100", holder);
}

/* etcdctl put KEY VALUE against the test's etcd: 0 on success. */
static int etcdctl_put(const char *url, const char *key, const char *value)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints %s put %s '%s' >/dev/null",
		 url, key, value);
	return system(cmd);
}

/* What another writer left that is no state: refused, the old state kept. */
TEST_F(etcd, malformed_state_refused)
{
	struct coord_state st;

	sample_state(_metadata, &st, 6);
	ASSERT_EQ(0, etcdctl_put(self->url, "/t/state", "not a map"));
	EXPECT_EQ(-EBADMSG, coord_store_load_state(self->sa, &st));
	EXPECT_EQ(6u, st.map.version);
	/* An empty value: the gateway leaves the field out. */
	ASSERT_EQ(0, etcdctl_put(self->url, "/t/state", ""));
	EXPECT_EQ(-EBADMSG, coord_store_load_state(self->sa, &st));
	EXPECT_EQ(6u, st.map.version);
	coord_state_free(&st);
}

/* The endpoint list: one that does not answer, then the real one. */
TEST_F(etcd, endpoint_list_fails_over)
{
	struct etcd_leader *l;
	struct coord_store *s;
	struct coord_state st;
	char list[160], err[256], holder[64];

	snprintf(list, sizeof(list), "http://127.0.0.1:%d,%s/", free_port(),
		 self->url);
	ASSERT_EQ(0, etcd_leader_open(list, "/t", "coord-c:7100", 2, &l, err,
				      sizeof(err)));
	ASSERT_EQ(0, coord_store_open_etcd(l, &s));
	ASSERT_EQ(1, try_lead(_metadata, l, holder, sizeof(holder)));
	sample_state(_metadata, &st, 4);
	EXPECT_EQ(0, coord_store_save_state(s, &st));
	coord_state_free(&st);
	coord_store_close(s);
	etcd_leader_close(l);
	EXPECT_EQ(-EINVAL, etcd_leader_open("127.0.0.1:2379", "/t", "x", 2, &l,
					    err, sizeof(err)));
}

TEST_HARNESS_MAIN
