// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * steadykv-bench driver for Redis Cluster (and a lone redis-server).
 *
 * The slot map comes from CLUSTER SLOTS on the seed node (masters only);
 * a server not in cluster mode gets every slot.  A key's slot is CRC16
 * (XMODEM) of the key, or of its {hash tag}, mod 16384.  MOVED updates the
 * slot's owner (shared by all threads) and resends there; ASK sends ASKING
 * then the command to the node named, once, without touching the map.
 * TRYAGAIN (multi-key commands during a reshard) is retried after 1 ms.
 * hiredis encodes (redisFormatCommand) and parses (one redisReader per
 * connection).
 */
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steadykv_bench.h"

#define NSLOTS 16384

static atomic_int slot_node[NSLOTS];
static char seed_host[BENCH_ADDR_MAX];

static const uint16_t crc16tab[256] = {
	0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
	0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
	0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
	0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de,
	0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485,
	0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
	0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4,
	0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc,
	0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
	0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b,
	0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12,
	0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
	0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41,
	0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
	0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
	0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78,
	0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f,
	0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
	0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e,
	0x02b1, 0x1290, 0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256,
	0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
	0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
	0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e, 0xc71d, 0xd73c,
	0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
	0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab,
	0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
	0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
	0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
	0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9,
	0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
	0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8,
	0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

uint16_t bench_crc16(const char *buf, size_t len);

uint16_t bench_crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		crc = (uint16_t)(crc << 8) ^ crc16tab[((crc >> 8) ^ (uint8_t)buf[i]) & 0xff];
	return crc;
}

/* Redis keyHashSlot(): the {tag} if there is a non-empty one. */
unsigned int bench_key_slot(const char *key, size_t klen);

unsigned int bench_key_slot(const char *key, size_t klen)
{
	size_t s, e;

	for (s = 0; s < klen; s++)
		if (key[s] == '{')
			break;
	if (s == klen)
		return bench_crc16(key, klen) & (NSLOTS - 1);
	for (e = s + 1; e < klen; e++)
		if (key[e] == '}')
			break;
	if (e == klen || e == s + 1)
		return bench_crc16(key, klen) & (NSLOTS - 1);
	return bench_crc16(key + s + 1, e - s - 1) & (NSLOTS - 1);
}

/* "host:port" of a node in a CLUSTER SLOTS entry or a redirect; empty host: the seed's. */
static int node_of(const char *host, long long port)
{
	char addr[BENCH_ADDR_MAX];

	if (!host[0])
		host = seed_host;
	if (port <= 0 || port > 65535 || strlen(host) > 48)
		return -1;
	if (strchr(host, ':'))
		snprintf(addr, sizeof(addr), "[%.48s]:%d", host, (int)port);
	else
		snprintf(addr, sizeof(addr), "%.48s:%d", host, (int)port);
	return bench_node_add(addr, 0, false);
}

/* --redis-wait, for the parser (which gets no cfg). */
static uint32_t wait_want;

static int redis_setup(struct bench_cfg *cfg)
{
	redisContext *rc;
	redisReply *rep;
	uint16_t port;
	size_t i;
	int s, all;

	if (parse_hostport(cfg->seeds[0], seed_host, sizeof(seed_host), &port))
		return -1;
	wait_want = cfg->redis_wait;
	rc = redisConnect(seed_host, port);
	if (!rc || rc->err) {
		fprintf(stderr, "steadykv-bench: redis %s: %s\n", cfg->seeds[0],
			rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return -1;
	}
	rep = redisCommand(rc, "CLUSTER SLOTS");
	if (!rep) {
		fprintf(stderr, "steadykv-bench: CLUSTER SLOTS: %s\n", rc->errstr);
		redisFree(rc);
		return -1;
	}
	if (rep->type != REDIS_REPLY_ARRAY) {
		/* not a cluster: one node has everything */
		all = bench_node_add(cfg->seeds[0], 0, false);
		for (s = 0; s < NSLOTS; s++)
			atomic_store(&slot_node[s], all);
		fprintf(stderr, "steadykv-bench: %s is not a cluster node, using it alone\n",
			cfg->seeds[0]);
		goto out;
	}
	for (s = 0; s < NSLOTS; s++)
		atomic_store(&slot_node[s], -1);
	for (i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i], *m;
		long long a, b;
		int n;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3)
			continue;
		m = e->element[2];
		if (e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER ||
		    m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
		    m->element[0]->type != REDIS_REPLY_STRING ||
		    m->element[1]->type != REDIS_REPLY_INTEGER)
			continue;
		a = e->element[0]->integer;
		b = e->element[1]->integer;
		n = node_of(m->element[0]->str, m->element[1]->integer);
		for (; a <= b && a < NSLOTS; a++)
			if (a >= 0)
				atomic_store(&slot_node[a], n);
	}
out:
	freeReplyObject(rep);
	redisFree(rc);
	return 0;
}

static int redis_route(void *ts, const char *key, size_t klen, uint64_t khash)
{
	(void)ts;
	(void)khash;
	return atomic_load_explicit(&slot_node[bench_key_slot(key, klen)],
				    memory_order_relaxed);
}

static const char asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";

static int redis_encode(struct bench_cfg *cfg, struct buf *out, enum bench_op op,
			const char *key, size_t klen, uint64_t id, bool asking)
{
	char *cmd = NULL;
	int len, ret;

	(void)id;
	if (asking && buf_append(out, asking_cmd, sizeof(asking_cmd) - 1))
		return -1;
	if (op == BOP_READ)
		len = redisFormatCommand(&cmd, "GET %b", key, klen);
	else
		len = redisFormatCommand(&cmd, "SET %b %b", key, klen, cfg->value,
					 cfg->value_size);
	if (len < 0)
		return -1;
	ret = buf_append(out, cmd, (size_t)len);
	redisFreeCommand(cmd);
	if (ret)
		return -1;
	/*
	 * --redis-wait: the write counts once WAIT says the replicas hold it;
	 * the SET's own +OK is the reply discarded (two replies, as with
	 * ASKING, which a lone server with replicas never sends).
	 */
	if (op != BOP_READ && cfg->redis_wait && !asking) {
		len = redisFormatCommand(&cmd, "WAIT %u 0", cfg->redis_wait);
		if (len < 0)
			return -1;
		ret = buf_append(out, cmd, (size_t)len);
		redisFreeCommand(cmd);
		return ret ? -1 : 2;
	}
	return asking ? 2 : 1;
}

static void *redis_conn_init(void)
{
	return redisReaderCreate();
}

static void redis_conn_fini(void *cs)
{
	redisReaderFree(cs);
}

/* "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" */
static int parse_redirect(const char *s, struct bench_reply *r)
{
	const char *sp = strchr(s, ' ');
	char host[BENCH_ADDR_MAX];
	uint16_t port;
	char *end;
	int n;

	if (!sp)
		return -1;
	r->slot = strtol(sp + 1, &end, 10);
	if (*end != ' ' || r->slot < 0 || r->slot >= NSLOTS)
		return -1;
	if (parse_hostport(end + 1, host, sizeof(host), &port))
		return -1;
	n = node_of(host, port);
	if (n < 0)
		return -1;
	snprintf(r->addr, sizeof(r->addr), "%s", bench_node_get(n)->addr);
	return 0;
}

static int redis_parse(void *cs, struct buf *in, const struct pend *head,
		       struct bench_reply *r)
{
	redisReader *rd = cs;
	void *obj = NULL;
	const redisReply *rep;

	if (in->len > in->off) {
		if (redisReaderFeed(rd, in->p + in->off, in->len - in->off) != REDIS_OK) {
			snprintf(r->msg, sizeof(r->msg), "hiredis: %.80s", rd->errstr);
			return -1;
		}
		buf_consume(in, in->len - in->off);
	}
	if (redisReaderGetReply(rd, &obj) != REDIS_OK) {
		snprintf(r->msg, sizeof(r->msg), "hiredis: %.80s", rd->errstr);
		return -1;
	}
	if (!obj)
		return 0;
	rep = obj;
	if (head->slot == UINT32_MAX) {
		r->kind = RK_DISCARD;	/* +OK to ASKING, or the SET before a WAIT */
	} else if (rep->type == REDIS_REPLY_INTEGER && wait_want &&
		   rep->integer < (long long)wait_want) {
		r->kind = RK_ERROR;	/* WAIT: fewer replicas than asked */
		snprintf(r->msg, sizeof(r->msg), "WAIT: %lld replicas", rep->integer);
	} else if (rep->type == REDIS_REPLY_NIL) {
		r->kind = RK_MISS;
	} else if (rep->type == REDIS_REPLY_ERROR) {
		r->kind = RK_ERROR;
		snprintf(r->msg, sizeof(r->msg), "%s", rep->str);
		if (!strncmp(rep->str, "MOVED ", 6) && !parse_redirect(rep->str, r))
			r->kind = RK_REDIRECT;
		else if (!strncmp(rep->str, "ASK ", 4) && !parse_redirect(rep->str, r))
			r->kind = RK_ASK;
		else if (!strncmp(rep->str, "TRYAGAIN", 8)) {
			r->kind = RK_RETRY;
			r->retry_us = 1000;
		}
	} else {
		r->kind = RK_OK;
	}
	freeReplyObject(obj);
	return 1;
}

static int redis_redirect(void *ts, const struct bench_reply *r, const char *key,
			  size_t klen, uint64_t khash)
{
	int n = bench_node_add(r->addr, 0, false);

	(void)ts;
	(void)key;
	(void)klen;
	(void)khash;
	if (n >= 0 && r->kind == RK_REDIRECT)
		atomic_store_explicit(&slot_node[r->slot], n, memory_order_relaxed);
	return n;
}

const struct bench_driver bench_drv_redis = {
	.name = "redis",
	.setup = redis_setup,
	.route = redis_route,
	.conn_init = redis_conn_init,
	.conn_fini = redis_conn_fini,
	.encode = redis_encode,
	.parse = redis_parse,
	.redirect = redis_redirect,
};
