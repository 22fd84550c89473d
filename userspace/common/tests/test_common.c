// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Host tests of the shared helpers: strict parsers and the JSON writer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "json.h"
#include "parse.h"
#include "table_list.h"

TEST(table_list_parse_all_ids_and_errors)
{
	uint64_t ids[3];
	size_t n;
	bool all;

	ASSERT_EQ(0, table_list_parse("all", &all, ids, 3, &n));
	ASSERT_TRUE(all);
	ASSERT_EQ(0u, n);
	ASSERT_EQ(0, table_list_parse("7", &all, ids, 3, &n));
	ASSERT_FALSE(all);
	ASSERT_EQ(1u, n);
	ASSERT_EQ(7u, ids[0]);
	ASSERT_EQ(0, table_list_parse("1,0x10,18446744073709551615", &all, ids, 3, &n));
	ASSERT_EQ(3u, n);
	ASSERT_EQ(1u, ids[0]);
	ASSERT_EQ(16u, ids[1]);
	ASSERT_EQ(UINT64_MAX, ids[2]);
	/* A repeated id is kept once, and does not count against max. */
	ASSERT_EQ(0, table_list_parse("5,5,6,5", &all, ids, 2, &n));
	ASSERT_EQ(2u, n);
	ASSERT_EQ(5u, ids[0]);
	ASSERT_EQ(6u, ids[1]);
	ASSERT_EQ(-1, table_list_parse("1,2,3", &all, ids, 2, &n));
	ASSERT_EQ(-1, table_list_parse("", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse("1,", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse(",1", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse("1,,2", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse("x", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse("-1", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse("ALL", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse("all,1", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse("1 ", &all, ids, 3, &n));
	ASSERT_EQ(-1, table_list_parse("123456789012345678901234567890123", &all, ids, 3, &n));
}

TEST(parse_u64_is_strict)
{
	uint64_t v;

	ASSERT_EQ(0, parse_u64("0", &v));
	ASSERT_EQ(0u, v);
	ASSERT_EQ(0, parse_u64("18446744073709551615", &v));
	ASSERT_EQ(UINT64_MAX, v);
	ASSERT_EQ(0, parse_u64("0xFFFFFFFFFFFFFFFF", &v));
	ASSERT_EQ(UINT64_MAX, v);
	ASSERT_EQ(0, parse_u64("0x10", &v));
	ASSERT_EQ(16u, v);
	ASSERT_EQ(0, parse_u64("010", &v));	/* decimal, not octal */
	ASSERT_EQ(10u, v);
	ASSERT_EQ(-1, parse_u64("18446744073709551616", &v));
	ASSERT_EQ(-1, parse_u64("", &v));
	ASSERT_EQ(-1, parse_u64("-1", &v));
	ASSERT_EQ(-1, parse_u64("+1", &v));
	ASSERT_EQ(-1, parse_u64(" 1", &v));
	ASSERT_EQ(-1, parse_u64("1 ", &v));
	ASSERT_EQ(-1, parse_u64("0x", &v));
	ASSERT_EQ(-1, parse_u64("12ab", &v));
}

TEST(parse_hash_and_size)
{
	uint64_t v;
	uint16_t p;

	ASSERT_EQ(0, parse_hash("min", &v));
	ASSERT_EQ(0u, v);
	ASSERT_EQ(0, parse_hash("max", &v));
	ASSERT_EQ(UINT64_MAX, v);
	ASSERT_EQ(0, parse_hash("0x7fffffffffffffff", &v));
	ASSERT_EQ(INT64_MAX, (int64_t)v);
	ASSERT_EQ(-1, parse_hash("maximum", &v));

	ASSERT_EQ(0, parse_size("4096", &v));
	ASSERT_EQ(4096u, v);
	ASSERT_EQ(0, parse_size("64M", &v));
	ASSERT_EQ(64ull << 20, v);
	ASSERT_EQ(0, parse_size("2g", &v));
	ASSERT_EQ(2ull << 30, v);
	ASSERT_EQ(0, parse_size("1KiB", &v));
	ASSERT_EQ(1024u, v);
	ASSERT_EQ(0, parse_size("3KB", &v));
	ASSERT_EQ(3072u, v);
	ASSERT_EQ(-1, parse_size("1X", &v));
	ASSERT_EQ(-1, parse_size("1Mx", &v));
	ASSERT_EQ(-1, parse_size("M", &v));
	ASSERT_EQ(-1, parse_size("17179869184G", &v));	/* 2^64: overflows */

	ASSERT_EQ(0, parse_u16("65535", &p));
	ASSERT_EQ(-1, parse_u16("65536", &p));
}

TEST(parse_hostport_forms)
{
	char host[64];
	uint16_t port;

	ASSERT_EQ(0, parse_hostport("127.0.0.1:7000", host, sizeof(host), &port));
	ASSERT_STREQ("127.0.0.1", host);
	ASSERT_EQ(7000, port);
	ASSERT_EQ(0, parse_hostport("[::1]:8000", host, sizeof(host), &port));
	ASSERT_STREQ("::1", host);
	ASSERT_EQ(8000, port);
	ASSERT_EQ(0, parse_hostport("[fe80::1%eth0]:1", host, sizeof(host), &port));
	ASSERT_STREQ("fe80::1%eth0", host);
	ASSERT_EQ(0, parse_hostport("localhost:9", host, sizeof(host), &port));
	ASSERT_STREQ("localhost", host);
	ASSERT_EQ(-1, parse_hostport("::1:5", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("[::1]", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("[::1]5", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("host", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport(":80", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("h:0", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("h:65536", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("averyveryverylonghostname:1", host, 8, &port));
	ASSERT_EQ(-1, parse_hostport("h:+1", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("h:0x10", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("[]:7", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_hostport("a]b:7", host, sizeof(host), &port));
}

TEST(addr_list_items)
{
	char item[16];

	ASSERT_EQ(0, addr_list_item("a:1,[::1]:2,c:3", 0, item, sizeof(item)));
	EXPECT_STREQ("a:1", item);
	ASSERT_EQ(0, addr_list_item("a:1,[::1]:2,c:3", 1, item, sizeof(item)));
	EXPECT_STREQ("[::1]:2", item);
	ASSERT_EQ(0, addr_list_item("a:1,[::1]:2,c:3", 2, item, sizeof(item)));
	EXPECT_STREQ("c:3", item);
	EXPECT_EQ(-1, addr_list_item("a:1,[::1]:2,c:3", 3, item, sizeof(item)));
	ASSERT_EQ(0, addr_list_item("solo:7100", 0, item, sizeof(item)));
	EXPECT_STREQ("solo:7100", item);
	EXPECT_EQ(-1, addr_list_item("solo:7100", 1, item, sizeof(item)));
	EXPECT_EQ(-1, addr_list_item("a:1,,c:3", 1, item, sizeof(item)));
	EXPECT_EQ(-1, addr_list_item("", 0, item, sizeof(item)));
	EXPECT_EQ(-1, addr_list_item("a-very-long-host:1", 0, item, sizeof(item)));
	EXPECT_EQ(3u, addr_list_count("a:1,,c:3"));
	EXPECT_EQ(1u, addr_list_count("a:1"));
}

/* Listeners (the coordinator): any address, any port. */
TEST(parse_listen_addr_forms)
{
	char host[64];
	uint16_t port;

	ASSERT_EQ(0, parse_listen_addr(":80", host, sizeof(host), &port));
	ASSERT_STREQ("", host);
	ASSERT_EQ(80, port);
	ASSERT_EQ(0, parse_listen_addr("[::]:0", host, sizeof(host), &port));
	ASSERT_STREQ("::", host);
	ASSERT_EQ(0, port);
	ASSERT_EQ(0, parse_listen_addr("127.0.0.1:7100", host, sizeof(host), &port));
	ASSERT_STREQ("127.0.0.1", host);
	ASSERT_EQ(7100, port);
	ASSERT_EQ(-1, parse_listen_addr("::1:80", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_listen_addr("h:65536", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_listen_addr("h", host, sizeof(host), &port));
	ASSERT_EQ(-1, parse_listen_addr("hostname:1", host, 4, &port));
}

/* Run fn against a writer on a memory stream; returns the text (free it). */
static char *capture(bool pretty, void (*fn)(struct json *j))
{
	struct json j;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	json_init(&j, f, pretty);
	fn(&j);
	fclose(f);
	return buf;
}

static void emit_nested(struct json *j)
{
	json_obj_begin(j);
	json_kv_u64(j, "n", 18446744073709551615ull);
	json_kv_i64(j, "neg", -5);
	json_kv_bool(j, "t", true);
	json_key(j, "empty");
	json_arr_begin(j);
	json_arr_end(j);
	json_key(j, "list");
	json_arr_begin(j);
	json_obj_begin(j);
	json_kv_hex64(j, "h", 0x10);
	json_obj_end(j);
	json_null(j);
	json_str(j, NULL);
	json_arr_end(j);
	json_obj_end(j);
}

static void emit_escapes(struct json *j)
{
	static const char raw[] = "q\"b\\n\n t\t c\x01 del\x7f \xc3\xa9 bad\xff\xc3 end";

	json_obj_begin(j);
	json_kv_strn(j, "s", raw, sizeof(raw) - 1);
	json_kv_strn(j, "nul", "a\0b", 3);
	json_obj_end(j);
}

static void emit_lines(struct json *j)
{
	for (int i = 0; i < 2; i++) {
		json_obj_begin(j);
		json_kv_i64(j, "i", i);
		json_obj_end(j);
	}
}

TEST(json_compact)
{
	char *s = capture(false, emit_nested);

	ASSERT_STREQ("{\"n\":18446744073709551615,\"neg\":-5,\"t\":true,\"empty\":[],"
		     "\"list\":[{\"h\":\"0x0000000000000010\"},null,null]}\n", s);
	free(s);
}

TEST(json_pretty)
{
	char *s = capture(true, emit_nested);

	ASSERT_STREQ("{\n  \"n\": 18446744073709551615,\n  \"neg\": -5,\n  \"t\": true,\n"
		     "  \"empty\": [],\n  \"list\": [\n    {\n      \"h\": \"0x0000000000000010\"\n"
		     "    },\n    null,\n    null\n  ]\n}\n", s);
	free(s);
}

TEST(json_escapes_any_bytes)
{
	char *s = capture(false, emit_escapes);

	/* Valid UTF-8 passes through; stray bytes become \u00XX. */
	ASSERT_STREQ("{\"s\":\"q\\\"b\\\\n\\n t\\t c\\u0001 del\\u007f \xc3\xa9 bad\\u00ff\\u00c3 end\","
		     "\"nul\":\"a\\u0000b\"}\n", s);
	free(s);
}

TEST(json_lines)
{
	char *s = capture(false, emit_lines);

	ASSERT_STREQ("{\"i\":0}\n{\"i\":1}\n", s);
	free(s);
}

TEST_HARNESS_MAIN
