/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest harness plus the steadykv fixture every data-plane test
 * uses: a private network namespace (the harness forks every test, so the
 * namespace and its node die with the test), lo up, a node listening on
 * 127.0.0.1:7000 with table 1 covering the whole hash space, and one open
 * client connection.
 */
#ifndef SKV_ST_HARNESS_H
#define SKV_ST_HARNESS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "skv_util.h"

/*
 * A slow guest kernel (the debug kernel: KASAN, lockdep, under TCG) runs
 * every test several times slower: vm-test/run.sh passes its time-limit
 * factor, STEADYKV_VM_TIMEOUT_SCALE, into the guest, and each test's
 * timeout is multiplied by it.  Runs after every test has registered
 * (their constructors have priority KSELFTEST_PRIO_TEST and _XFAIL).
 * selftests/run.sh still bounds the whole program below the guest's limit.
 */
static void __attribute__((constructor(KSELFTEST_PRIO_XFAIL + 1)))
st_scale_test_timeouts(void)
{
	const char *env = getenv("STEADYKV_VM_TIMEOUT_SCALE");
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	long scale;
	char *end;

	if (!env || !*env)
		return;
	scale = strtol(env, &end, 10);
	if (*end || scale < 1 || scale > 100) {
		fprintf(stderr, "# STEADYKV_VM_TIMEOUT_SCALE=%s: not 1 to 100\n", env);
		exit(KSFT_FAIL);
	}
	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout *= scale;
}

/* What the test is doing, printed by the assertions below when they fail. */
static const char *st_ctx = "";

/* Assert a wire status, logging the call and the helper's last error. */
#define ASSERT_ST(want, call) do {						\
	int __st;								\
	st_last_error[0] = 0;							\
	__st = (call);								\
	ASSERT_EQ((int)(want), __st)						\
		TH_LOG("%s%s%s: got %s, want %s (%s)", st_ctx, *st_ctx ? ": " : "", \
		       #call, st_status_name(__st), st_status_name(want),	\
		       st_last_error);						\
} while (0)

/* Assert a netlink call fails with err and carries an extack message. */
#define ASSERT_NL_ERR_MSG(want_err, call, res) do {				\
	int __e = (call);							\
	ASSERT_EQ((int)(want_err), __e)						\
		TH_LOG("%s%s%s: got %d (%s), want %d (%s); extack \"%s\"",	\
		       st_ctx, *st_ctx ? ": " : "", #call, __e, strerror(-__e),	\
		       (int)(want_err), strerror(-(int)(want_err)), (res)->msg);	\
	ASSERT_NE(0, (res)->msg[0])						\
		TH_LOG("%s%s%s: error %s without an extack message", st_ctx,	\
		       *st_ctx ? ": " : "", #call, strerror(-__e));		\
	TH_LOG("%s -> %s: \"%s\"", #call, strerror(-__e), (res)->msg);		\
} while (0)

/*
 * A value out of a policy's range: the kernel's policy check answers
 * ERANGE, a handler's own check EINVAL; either, with a message.
 */
#define ASSERT_NL_RANGE_MSG(call, res) do {					\
	int __e = (call);							\
	ASSERT_TRUE(__e == -EINVAL || __e == -ERANGE)				\
		TH_LOG("%s%s%s: got %d (%s), want EINVAL or ERANGE; extack \"%s\"", \
		       st_ctx, *st_ctx ? ": " : "", #call, __e, strerror(-__e),	\
		       (res)->msg);						\
	ASSERT_NE(0, (res)->msg[0])						\
		TH_LOG("%s: error %s without an extack message", #call,	\
		       strerror(-__e));						\
	TH_LOG("%s -> %s: \"%s\"", #call, strerror(-__e), (res)->msg);		\
} while (0)

#define ASSERT_NL_OK(call, res) do {						\
	int __e = (call);							\
	ASSERT_EQ(0, __e) TH_LOG("%s: %s; extack \"%s\"", #call,		\
				 strerror(-__e), (res)->msg);			\
} while (0)

/* The node must still serve a fresh client. */
#define ASSERT_SERVES(port)							\
	ASSERT_EQ(0, st_node_serves(ST_ADDR, (port), ST_TABLE))		\
		TH_LOG("node no longer serves: %s", st_last_error)

FIXTURE(node) {
	struct sknl nl;
	int fd;
};

FIXTURE_SETUP(node)
{
	int err;

	self->fd = -1;
	ASSERT_EQ(0, st_new_netns()) TH_LOG("unshare(CLONE_NEWNET): %s", strerror(errno));
	err = st_nl_open(&self->nl);
	ASSERT_EQ(0, err) TH_LOG("generic netlink family \"%s\": %s (is steadykv.ko loaded?)",
				 STEADYKV_FAMILY_NAME, strerror(-err));
	ASSERT_EQ(0, st_node_start(&self->nl, ST_PORT)) TH_LOG("%s", st_last_error);
	self->fd = st_connect(ST_ADDR, ST_PORT);
	ASSERT_LE(0, self->fd) TH_LOG("%s", st_last_error);
}

FIXTURE_TEARDOWN(node)
{
	if (self->fd >= 0)
		close(self->fd);
	sknl_close(&self->nl);
}

#endif /* SKV_ST_HARNESS_H */
