// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykv-bench driver for memcached's text protocol (get / set), for the
 * hot-path comparison.  Several --memcached servers split the keys by
 * skv_key_hash mod their count (no redirects).
 */
#include <stdio.h>
#include <string.h>

#include "steadykv_bench.h"

static int nservers;

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
	if (buf_append(out, op == BOP_READ ? "get " : "set ", 4) ||
	    buf_append(out, key, klen))
		return -1;
	if (op == BOP_READ)
		return buf_append(out, "\r\n", 2) ? -1 : 1;
	n = snprintf(line, sizeof(line), " 0 0 %zu\r\n", cfg->value_size);
	if (buf_append(out, line, (size_t)n) ||
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

static int mc_parse(void *cs, struct buf *in, const struct pend *head,
		    struct bench_reply *r)
{
	const char *p = in->p + in->off;
	size_t avail = in->len - in->off, l = line_len(p, avail);

	(void)cs;
	if (!l)
		return avail > 4096 ? (snprintf(r->msg, sizeof(r->msg), "line too long"), -1) : 0;
	if (head->op == BOP_READ && l >= 6 && !memcmp(p, "VALUE ", 6)) {
		unsigned long long bytes;
		size_t need, l2;
		char fmt_key[256], hdr[320];
		unsigned int flags;

		/*
		 * sscanf() takes strlen() of its input first: on the receive
		 * buffer that scans every pipelined reply behind this one (and
		 * needs a NUL there).  Parse a bounded copy of the line.
		 */
		if (l >= sizeof(hdr)) {
			snprintf(r->msg, sizeof(r->msg), "VALUE line too long");
			return -1;
		}
		memcpy(hdr, p, l);
		hdr[l] = '\0';
		if (sscanf(hdr, "VALUE %255s %u %llu", fmt_key, &flags, &bytes) != 3 ||
		    bytes > (1ull << 30)) {
			snprintf(r->msg, sizeof(r->msg), "bad VALUE line");
			return -1;
		}
		need = l + (size_t)bytes + 2;
		if (avail < need)
			return 0;
		l2 = line_len(p + need, avail - need);
		if (!l2)
			return 0;
		if (l2 != 5 || memcmp(p + need, "END\r\n", 5)) {
			snprintf(r->msg, sizeof(r->msg), "no END after the value");
			return -1;
		}
		r->kind = RK_OK;
		buf_consume(in, need + l2);
		return 1;
	}
	if (head->op == BOP_READ && l == 5 && !memcmp(p, "END\r\n", 5))
		r->kind = RK_MISS;
	else if (head->op == BOP_UPDATE && l == 8 && !memcmp(p, "STORED\r\n", 8))
		r->kind = RK_OK;
	else if ((l >= 5 && !memcmp(p, "ERROR", 5)) ||
		 (l >= 12 && !memcmp(p, "SERVER_ERROR", 12)) ||
		 (l >= 12 && !memcmp(p, "CLIENT_ERROR", 12)) ||
		 (l >= 10 && !memcmp(p, "NOT_STORED", 10))) {
		r->kind = RK_ERROR;
		snprintf(r->msg, sizeof(r->msg), "%.*s", (int)(l > 2 ? l - 2 : 0), p);
	} else {
		snprintf(r->msg, sizeof(r->msg), "unexpected reply '%.*s'",
			 (int)(l > 40 ? 40 : l - 1), p);
		return -1;
	}
	buf_consume(in, l);
	return 1;
}

const struct bench_driver bench_drv_mc = {
	.name = "memcached",
	.setup = mc_setup,
	.route = mc_route,
	.encode = mc_encode,
	.parse = mc_parse,
};
