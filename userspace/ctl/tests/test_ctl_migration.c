// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Host tests of steadykvctl's migration commands: argument parsing and how
 * a migration prints (text and JSON), without a module.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uapi/linux/steadykv.h>

#include "kselftest_harness.h"
#include "ctl.h"

/* steadykvctl.c's usage helpers, captured. */
static char last_usage[512];

int usage_error(const char *object, const char *fmt, ...)
{
	va_list ap;

	(void)object;
	va_start(ap, fmt);
	vsnprintf(last_usage, sizeof(last_usage), fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

void usage(FILE *f, const char *object)
{
	(void)f;
	(void)object;
}

bool wants_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return false;
}

/* Parse a command line given as one string (words split on spaces). */
static int parse(const char *line, struct migration_start *a)
{
	static char buf[512];
	char *argv[32];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok(buf, " "); w && argc < 32; w = strtok(NULL, " "))
		argv[argc++] = w;
	last_usage[0] = 0;
	return migration_parse_start(argc, argv, a);
}

TEST(start_minimal)
{
	struct migration_start a;

	ASSERT_EQ(0, parse("5 1 min-max --from 10.0.0.2:7000", &a));
	EXPECT_EQ(5u, a.m.id);
	EXPECT_EQ(1u, a.m.table_id);
	EXPECT_EQ(0u, a.m.start_hash);
	EXPECT_EQ(UINT64_MAX, a.m.end_hash);
	EXPECT_STREQ("10.0.0.2:7000", a.m.source);
	EXPECT_TRUE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_SOURCE_ADDR));
	EXPECT_TRUE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_SOURCE_PORT));
	EXPECT_FALSE(a.wait);
	/* Defaults are left to the kernel: the attributes are absent. */
	EXPECT_FALSE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_PARTITIONS));
	EXPECT_FALSE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT));
	EXPECT_FALSE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_PULL_BUDGET));
	EXPECT_FALSE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_PRIORITY_PULLS));
	/* The mode too: the module's default is rocksteady. */
	EXPECT_FALSE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_MODE));
}

TEST(start_every_option)
{
	struct migration_start a;

	ASSERT_EQ(0, parse("--wait 0x10 2 0x0-0x7fffffffffffffff --mode push --partitions 16 "
			   "--inflight 4 --budget 64K --no-priority-pulls --from [::1]:7001", &a))
		TH_LOG("%s", last_usage);
	EXPECT_TRUE(a.wait);
	EXPECT_EQ(16u, a.m.id);
	EXPECT_EQ(2u, a.m.table_id);
	EXPECT_EQ((uint64_t)INT64_MAX, a.m.end_hash);
	EXPECT_EQ(STEADYKV_MIGRATION_MODE_PUSH, a.m.mode);
	EXPECT_EQ(16u, a.m.partitions);
	EXPECT_EQ(4u, a.m.pulls_in_flight);
	EXPECT_EQ(65536u, a.m.pull_budget);
	EXPECT_TRUE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_PRIORITY_PULLS));
	EXPECT_EQ(0, a.m.priority_pulls);
	EXPECT_STREQ("[::1]:7001", a.m.source);
	EXPECT_TRUE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_MODE));
	EXPECT_TRUE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_PARTITIONS));
	EXPECT_TRUE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT));
	EXPECT_TRUE(SKV_MIG_HAS(&a.m, STEADYKV_A_MIGRATION_PULL_BUDGET));
}

TEST(start_rejects)
{
	static const struct {
		const char *line;
		const char *why;
	} bad[] = {
		{ "5 1 min-max", "missing --from" },
		{ "0 1 min-max --from a:1", "invalid migration id" },
		{ "5 x min-max --from a:1", "invalid table id" },
		{ "5 1 max-min --from a:1", "invalid hash range" },
		{ "5 1 min --from a:1", "invalid hash range" },
		{ "5 1 1-2-3 --from a:1", "invalid hash range" },
		{ "5 1 min-max --from a", "invalid source" },
		{ "5 1 min-max --from a:0", "invalid source" },
		{ "5 1 min-max --from a:1 --mode pull", "invalid mode" },
		{ "5 1 min-max --from a:1 --partitions 0", "invalid --partitions" },
		{ "5 1 min-max --from a:1 --inflight -1", "invalid --inflight" },
		{ "5 1 min-max --from a:1 --budget 8G", "invalid budget" },
		{ "5 1 min-max --from a:1 --budget 1000", "invalid budget" },
		{ "5 1 min-max --from a:1 --partitions 65", "partitions must be 1 to 64" },
		{ "5 1 min-max --from a:1 --inflight 65", "pulls in flight must be 1 to 64" },
		{ "5 1 min-max --from a:1 --budget", "needs a value" },
		{ "5 1 min-max --from a:1 --fast", "unknown option" },
		{ "5 1 min-max extra --from a:1", "unexpected" },
		{ "5 1", "expected ID TABLE START-END" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct migration_start a;

		EXPECT_EQ(EXIT_USAGE, parse(bad[i].line, &a)) {
			TH_LOG("accepted \"%s\"", bad[i].line);
		}
		EXPECT_NE(NULL, strstr(last_usage, bad[i].why)) {
			TH_LOG("\"%s\": said \"%s\"", bad[i].line, last_usage);
		}
	}
}

TEST(range_parser)
{
	uint64_t s, e;

	ASSERT_EQ(0, migration_parse_range("min-max", &s, &e));
	EXPECT_EQ(0u, s);
	EXPECT_EQ(UINT64_MAX, e);
	ASSERT_EQ(0, migration_parse_range("5-5", &s, &e));
	EXPECT_EQ(5u, s);
	EXPECT_EQ(5u, e);
	EXPECT_EQ(-1, migration_parse_range("-5", &s, &e));
	EXPECT_EQ(-1, migration_parse_range("5-", &s, &e));
	EXPECT_EQ(-1, migration_parse_range("6-5", &s, &e));
	EXPECT_EQ(-1, migration_parse_range("0x1-0x", &s, &e));
}

TEST(resolve_literals)
{
	uint8_t addr[16];
	int alen = 0;

	ASSERT_EQ(0, sknl_addr_resolve("192.0.2.7", addr, &alen));
	EXPECT_EQ(4, alen);
	EXPECT_EQ(0, memcmp(addr, "\xc0\x00\x02\x07", 4));
	ASSERT_EQ(0, sknl_addr_resolve("::1", addr, &alen));
	EXPECT_EQ(16, alen);
	EXPECT_EQ(1, addr[15]);
	ASSERT_EQ(0, sknl_addr_parse("[::1]", addr, &alen));
	EXPECT_EQ(16, alen);
	EXPECT_EQ(-1, sknl_addr_parse("host", addr, &alen));
}

static struct skv_migration sample(void)
{
	struct skv_migration m = { 0 };

	m.id = 3;
	m.table_id = 1;
	m.end_hash = 0xff;
	snprintf(m.source, sizeof(m.source), "10.0.0.2:7000");
	m.state = STEADYKV_MIGRATION_STATE_FAILED;
	m.error = 110;
	snprintf(m.error_msg, sizeof(m.error_msg), "source \"gone\"");
	m.progress_permille = 505;
	m.priority_pulls = 1;
	for (int a = STEADYKV_A_MIGRATION_ID; a <= STEADYKV_A_MIGRATION_OWNED_US; a++)
		SKV_MIG_SET(&m, a);
	return m;
}

TEST(show_text_and_json)
{
	struct skv_migration m = sample();
	struct ctl c = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ASSERT_NE(NULL, f);
	json_init(&c.j, f, false);
	show_migration(&c, &m, true);
	c.json = true;
	json_obj_begin(&c.j);
	show_migration(&c, &m, false);
	json_obj_end(&c.j);
	fclose(f);
	EXPECT_NE(NULL, strstr(buf, "id 3 table-id 1 start-hash 0x0000000000000000 "
			       "end-hash 0x00000000000000ff source 10.0.0.2:7000 mode rocksteady "
			       "state failed progress-permille 505 error 110 ("));
	EXPECT_NE(NULL, strstr(buf, "priority-pulls on"));
	EXPECT_NE(NULL, strstr(buf, "partitions-done 0 error-msg \"source \"gone\"\"\n"));
	/* Source port is folded into source. */
	EXPECT_EQ(NULL, strstr(buf, "source-port"));
	EXPECT_NE(NULL, strstr(buf, "{\"id\":3,\"table_id\":1,\"start_hash\":\"0x0000000000000000\","
			       "\"end_hash\":\"0x00000000000000ff\",\"source\":\"10.0.0.2:7000\","
			       "\"mode\":\"rocksteady\",\"state\":\"failed\""));
	EXPECT_NE(NULL, strstr(buf, "\"priority_pulls\":true"));
	EXPECT_NE(NULL, strstr(buf, "\"partitions_done\":0,\"error_msg\":\"source \\\"gone\\\"\"}"));
	free(buf);
}

TEST(state_names)
{
	uint32_t v;

	EXPECT_STREQ("catching-up", skv_mig_state_str(STEADYKV_MIGRATION_STATE_CATCHING_UP));
	EXPECT_STREQ("unknown", skv_mig_state_str(99));
	EXPECT_STREQ("re-replicating", skv_mig_state_str(STEADYKV_MIGRATION_STATE_RE_REPLICATING));
	/* After the last pull; the range is kept whatever happens then. */
	EXPECT_TRUE(skv_mig_state_later(STEADYKV_MIGRATION_STATE_PULLING,
					STEADYKV_MIGRATION_STATE_RE_REPLICATING));
	EXPECT_TRUE(skv_mig_state_later(STEADYKV_MIGRATION_STATE_RE_REPLICATING,
					STEADYKV_MIGRATION_STATE_DONE));
	EXPECT_FALSE(skv_mig_state_later(STEADYKV_MIGRATION_STATE_RE_REPLICATING,
					 STEADYKV_MIGRATION_STATE_ROLLING_BACK));
	EXPECT_FALSE(skv_mig_state_later(STEADYKV_MIGRATION_STATE_DONE,
					 STEADYKV_MIGRATION_STATE_RE_REPLICATING));
	EXPECT_TRUE(skv_mig_state_final(STEADYKV_MIGRATION_STATE_CANCELLED));
	EXPECT_FALSE(skv_mig_state_final(STEADYKV_MIGRATION_STATE_ROLLING_BACK));
	ASSERT_EQ(0, sknl_mig_mode_parse("push", &v));
	EXPECT_EQ(STEADYKV_MIGRATION_MODE_PUSH, v);
	ASSERT_EQ(0, sknl_mig_mode_parse("replicated", &v));
	EXPECT_EQ(STEADYKV_MIGRATION_MODE_REPLICATED, v);
	EXPECT_EQ(-1, sknl_mig_mode_parse("lineage", &v));
	EXPECT_STREQ("pulls-in-flight", sknl_mig_attr_name(STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT));
	EXPECT_EQ(NULL, sknl_mig_attr_name(0));
}

TEST_HARNESS_MAIN
