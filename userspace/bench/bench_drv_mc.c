// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykv-bench driver for memcached's text protocol, for the hot-path
 * comparison.  Several --memcached servers split the keys by skv_key_hash
 * mod their count (no redirects).
 *
 * Reads are meta gets ("mg KEY v", reply "VA LEN" + value, or "EN"), not
 * the classic "get": memcached (1.6, proto_text.c) ends every classic get
 * by flushing its replies (conn_mwrite), one sendmsg() per get however
 * many are pipelined, while mg and set replies are gathered into one send
 * per batch read; with the classic get, memcached's GETs ran at half its
 * SETs (the measurement is in README.md, "Two commands").
 * --memcached-get classic sends the classic get, to show that.
 */
#include <stdio.h>
#include <string.h>

#include "steadykv_bench.h"

static int nservers;
static bool classic_get;	/* --memcached-get classic */

static int mc_setup(struct bench_cfg *cfg)
{
	int i;

	for (i = 0; i < cfg->nseeds; i++)
		if (bench_node_add(cfg->seeds[i], 0, false) != i) {
			fprintf(stderr, "steadykv-bench: duplicate --memcached %s\n",
				cfg->seeds[i]);
			return -1;
		}
	nservers = cfg->nseeds;
	classic_get = cfg->mc_classic_get;
	return 0;
}

static int mc_route(void *ts, const char *key, size_t klen, uint64_t khash)
{
	(void)ts;
	(void)key;
	(void)klen;
	return (int)(khash % (uint64_t)nservers);
}

static int mc_encode(struct bench_cfg *cfg, struct buf *out, enum bench_op op,
		     const char *key, size_t klen, uint64_t id, bool asking)
{
	char line[64];
	int n;

	(void)id;
	(void)asking;
	if (op == BOP_READ) {
		const char *cmd = classic_get ? "get " : "mg ";
		const char *end = classic_get ? "\r\n" : " v\r\n";

		if (buf_append(out, cmd, strlen(cmd)) || buf_append(out, key, klen) ||
		    buf_append(out, end, strlen(end)))
			return -1;
		return 1;
	}
	n = snprintf(line, sizeof(line), " 0 0 %zu\r\n", cfg->value_size);
	if (buf_append(out, "set ", 4) || buf_append(out, key, klen) ||
	    buf_append(out, line, (size_t)n) ||
	    buf_append(out, cfg->value, cfg->value_size) ||
	    buf_append(out, "\r\n", 2))
		return -1;
	return 1;
}

/* Length of the line at p (with its \r\n), or 0 if incomplete. */
static size_t line_len(const char *p, size_t avail)
{
	const char *nl = memchr(p, '\n', avail);

	return nl ? (size_t)(nl - p) + 1 : 0;
}

/*
 * The value length in a reply line: the decimal number at p, ended by a
 * space or "\r\n" (meta flags may follow it); -1 if there is none.
 */
static long long value_len(const char *p, const char *end)
{
	long long v = 0;
	const char *start = p;

	while (p < end && *p >= '0' && *p <= '9' && v <= (1ll << 30))
		v = v * 10 + (*p++ - '0');
	if (p == start || p >= end || (*p != ' ' && *p != '\r') || v > (1ll << 30))
		return -1;
	return v;
}

/*
 * A hit's header line at p (l bytes with its \r\n): the value's length,
 * or -1.  Meta: "VA LEN [FLAGS]"; classic: "VALUE KEY FLAGS LEN".
 */
static long long hit_len(const char *p, size_t l, bool classic)
{
	const char *end = p + l, *sp;
	int skip;

	if (!classic)
		return l >= 5 && !memcmp(p, "VA ", 3) ? value_len(p + 3, end) : -1;
	if (l < 6 || memcmp(p, "VALUE ", 6))
		return -1;
	p += 6;
	for (skip = 0; skip < 2; skip++) {	/* the key and the flags */
		sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp)
			return -1;
		p = sp + 1;
	}
	return value_len(p, end);
}

/*
 * A read's reply at p: 1 (consumed), 0 if it is no read reply (an error
 * line), -2 if incomplete, -1 if broken.
 */
static int mc_parse_read(struct buf *in, const char *p, size_t avail, size_t l,
			 struct bench_reply *r)
{
	bool classic = classic_get;
	long long bytes = hit_len(p, l, classic);
	size_t need, l2 = 0;

	if (bytes < 0) {
		if ((classic && l == 5 && !memcmp(p, "END\r\n", 5)) ||
		    (!classic && l == 4 && !memcmp(p, "EN\r\n", 4))) {
			r->kind = RK_MISS;
			buf_consume(in, l);
			return 1;
		}
		return 0;	/* not a read's reply: an error line, or broken */
	}
	need = l + (size_t)bytes + 2;
	if (avail < need)
		return -2;
	if (memcmp(p + need - 2, "\r\n", 2)) {
		snprintf(r->msg, sizeof(r->msg), "no \\r\\n after the value");
		return -1;
	}
	if (classic) {	/* a classic get ends with END */
		l2 = line_len(p + need, avail - need);
		if (!l2)
			return -2;
		if (l2 != 5 || memcmp(p + need, "END\r\n", 5)) {
			snprintf(r->msg, sizeof(r->msg), "no END after the value");
			return -1;
		}
	}
	r->kind = RK_OK;
	buf_consume(in, need + l2);
	return 1;
}

static int mc_parse(void *cs, struct buf *in, const struct pend *head,
		    struct bench_reply *r)
{
	const char *p = in->p + in->off;
	size_t avail = in->len - in->off, l = line_len(p, avail);

	(void)cs;
	if (!l)
		return avail > 4096 ? (snprintf(r->msg, sizeof(r->msg), "line too long"), -1) : 0;
	if (head->op == BOP_READ) {
		int ret = mc_parse_read(in, p, avail, l, r);

		if (ret == -2)
			return 0;	/* the value is not all in yet */
		if (ret)
			return ret;
	} else if (l == 8 && !memcmp(p, "STORED\r\n", 8)) {
		r->kind = RK_OK;
		buf_consume(in, l);
		return 1;
	}
	if ((l >= 5 && !memcmp(p, "ERROR", 5)) ||
	    (l >= 12 && !memcmp(p, "SERVER_ERROR", 12)) ||
	    (l >= 12 && !memcmp(p, "CLIENT_ERROR", 12)) ||
	    (l >= 10 && !memcmp(p, "NOT_STORED", 10))) {
		r->kind = RK_ERROR;
		snprintf(r->msg, sizeof(r->msg), "%.*s", (int)(l > 2 ? l - 2 : 0), p);
		buf_consume(in, l);
		return 1;
	}
	snprintf(r->msg, sizeof(r->msg), "unexpected reply '%.*s'",
		 (int)(l > 40 ? 40 : l - 1), p);
	return -1;
}

const struct bench_driver bench_drv_mc = {
	.name = "memcached",
	.setup = mc_setup,
	.route = mc_route,
	.encode = mc_encode,
	.parse = mc_parse,
};
