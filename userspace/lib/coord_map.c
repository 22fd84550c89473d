// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator's tablet map: a GET_MAP client and a decoder that trusts
 * nothing.  A bad map is an error (SKV_E_PROTO), never a crash.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_map.h"
#include "internal.h"

#define MAP_HDR_LEN	sizeof(struct skv_coord_map)
#define MAP_NODE_LEN	sizeof(struct skv_coord_node)
#define MAP_TABLET_LEN	sizeof(struct skv_coord_tablet)

_Static_assert(sizeof(struct skv_coord_hdr) == SKV_HDR_LEN, "coord header is 24 bytes");
_Static_assert(sizeof(struct skv_coord_map) == 16, "map header is 16 bytes");
_Static_assert(sizeof(struct skv_coord_node) == 136, "map node is 136 bytes");
_Static_assert(sizeof(struct skv_coord_tablet) == 40, "map tablet is 40 bytes");

static int map_err(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int map_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (err && err_len) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return SKV_E_PROTO;
}

int skv_split_addr(const char *addr, char *host, size_t host_len, uint16_t *port)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hl;
	unsigned long p = 0;

	if (!colon || !colon[1])
		return -1;
	hl = (size_t)(colon - addr);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	} else if (memchr(h, ':', hl)) {
		return -1;	/* a bare IPv6 literal needs brackets */
	}
	if (!hl || hl >= host_len || memchr(h, '[', hl) || memchr(h, ']', hl))
		return -1;
	for (const char *d = colon + 1; *d; d++) {
		if (*d < '0' || *d > '9')
			return -1;
		p = p * 10 + (unsigned long)(*d - '0');
		if (p > 65535)
			return -1;
	}
	if (!p)
		return -1;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (uint16_t)p;
	return 0;
}

void skv_map_free(struct skv_map *m)
{
	free(m->nodes);
	free(m->tablets);
	m->nodes = NULL;
	m->tablets = NULL;
	m->nr_nodes = 0;
	m->nr_tablets = 0;
}

static int node_index(const struct skv_map_node *nodes, uint32_t n, uint32_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (nodes[i].id == id)
			return (int)i;
	return -1;
}

int skv_map_decode(const void *body, size_t len, struct skv_map *m,
		   char *err, size_t err_len)
{
	const uint8_t *b = body;
	struct skv_map_node *nodes = NULL;
	struct skv_map_tablet *tablets = NULL;
	uint64_t version, want;
	uint32_t nn, nt;
	int rc = SKV_E_NOMEM;

	if (len < MAP_HDR_LEN)
		return map_err(err, err_len, "map of %zu bytes, header needs %zu", len,
			       MAP_HDR_LEN);
	version = skv_get_le64(b);
	nn = skv_get_le32(b + 8);
	nt = skv_get_le32(b + 12);
	/* 64-bit arithmetic: 2^32 * 136 cannot overflow it. */
	want = MAP_HDR_LEN + (uint64_t)nn * MAP_NODE_LEN + (uint64_t)nt * MAP_TABLET_LEN;
	if (want != len)
		return map_err(err, err_len,
			       "map says %u nodes and %u tablets (%llu bytes) in %zu bytes",
			       nn, nt, (unsigned long long)want, len);
	nodes = calloc(nn ? nn : 1, sizeof(*nodes));
	tablets = calloc(nt ? nt : 1, sizeof(*tablets));
	if (!nodes || !tablets)
		goto fail;

	b += MAP_HDR_LEN;
	for (uint32_t i = 0; i < nn; i++, b += MAP_NODE_LEN) {
		struct skv_map_node *n = &nodes[i];
		const uint8_t *a = b + offsetof(struct skv_coord_node, addr);

		n->id = skv_get_le32(b);
		if (!memchr(a, 0, SKV_COORD_ADDR_MAX)) {
			rc = map_err(err, err_len, "node %u: address not NUL-terminated", n->id);
			goto fail;
		}
		memcpy(n->addr, a, SKV_COORD_ADDR_MAX);
		if (skv_split_addr(n->addr, n->host, sizeof(n->host), &n->port)) {
			rc = map_err(err, err_len, "node %u: bad address \"%s\"", n->id, n->addr);
			goto fail;
		}
		if (node_index(nodes, i, n->id) >= 0) {
			rc = map_err(err, err_len, "node %u listed twice", n->id);
			goto fail;
		}
	}
	for (uint32_t i = 0; i < nt; i++, b += MAP_TABLET_LEN) {
		struct skv_map_tablet *t = &tablets[i];
		const struct skv_map_tablet *p = i ? &tablets[i - 1] : NULL;
		int ni;

		t->table_id = skv_get_le64(b);
		t->start = skv_get_le64(b + 8);
		t->end = skv_get_le64(b + 16);
		t->owner = skv_get_le32(b + 24);
		t->state = skv_get_le32(b + 28);
		t->src = skv_get_le32(b + 32);
		ni = node_index(nodes, nn, t->owner);
		if (ni < 0) {
			rc = map_err(err, err_len, "tablet %u: owner %u is not a listed node",
				     i, t->owner);
			goto fail;
		}
		t->node = (uint32_t)ni;
		if (t->start > t->end) {
			rc = map_err(err, err_len, "tablet %u: start after end", i);
			goto fail;
		}
		if (p && p->table_id > t->table_id) {
			rc = map_err(err, err_len, "tablet %u: tables not sorted", i);
			goto fail;
		}
		if (!p || p->table_id != t->table_id) {
			/* A new table: the previous one must have reached the top. */
			if (p && p->end != UINT64_MAX) {
				rc = map_err(err, err_len, "table %llu does not cover the hash space",
					     (unsigned long long)p->table_id);
				goto fail;
			}
			if (t->start != 0) {
				rc = map_err(err, err_len, "table %llu does not start at hash 0",
					     (unsigned long long)t->table_id);
				goto fail;
			}
		} else if (p->end == UINT64_MAX || t->start != p->end + 1) {
			rc = map_err(err, err_len, "tablet %u: %s the previous one", i,
				     p->end == UINT64_MAX || t->start <= p->end ?
				     "overlaps" : "leaves a gap after");
			goto fail;
		}
	}
	if (nt && tablets[nt - 1].end != UINT64_MAX) {
		rc = map_err(err, err_len, "table %llu does not cover the hash space",
			     (unsigned long long)tablets[nt - 1].table_id);
		goto fail;
	}
	m->version = version;
	m->nr_nodes = nn;
	m->nr_tablets = nt;
	m->nodes = nodes;
	m->tablets = tablets;
	return 0;
fail:
	free(nodes);
	free(tablets);
	return rc;
}

const struct skv_map_tablet *skv_map_find(const struct skv_map *m, uint64_t table,
					  uint64_t hash)
{
	uint32_t lo = 0, hi = m->nr_tablets;

	/* The last tablet whose (table_id, start) <= (table, hash). */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct skv_map_tablet *t = &m->tablets[mid];

		if (t->table_id < table || (t->table_id == table && t->start <= hash))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || m->tablets[lo - 1].table_id != table)
		return NULL;
	/* Coverage was checked when decoding, so this tablet holds hash. */
	return &m->tablets[lo - 1];
}

int skv_coord_get_map(struct skv_conn *coord, uint64_t request_id,
		      struct skv_map *m, char *err, size_t err_len)
{
	uint8_t h[SKV_HDR_LEN];
	uint8_t *body;
	uint32_t body_len;
	uint16_t status;
	int rc;

	memset(h, 0, sizeof(h));
	skv_put_le16(h, SKV_COORD_MAGIC);
	h[2] = SKV_COORD_VERSION;
	h[3] = SKV_COORD_OP_GET_MAP;
	skv_put_le64(h + 8, request_id);
	rc = skv_send_raw(coord, h, sizeof(h));
	if (!rc)
		rc = skv_recv_raw(coord, h, sizeof(h));
	if (rc) {
		if (err && err_len)
			snprintf(err, err_len, "coordinator: %s", skv_strerror(rc));
		return rc;
	}
	if (skv_get_le16(h) != SKV_COORD_MAGIC || h[2] != SKV_COORD_VERSION)
		return map_err(err, err_len, "coordinator reply: bad magic or version");
	if (h[3] != SKV_COORD_OP_GET_MAP || !(h[4] & SKV_COORD_F_REPLY) ||
	    skv_get_le64(h + 8) != request_id)
		return map_err(err, err_len,
			       "coordinator sent op %u flags %#x id %llu, expected GET_MAP reply %llu",
			       h[3], h[4], (unsigned long long)skv_get_le64(h + 8),
			       (unsigned long long)request_id);
	status = skv_get_le16(h + 6);
	body_len = skv_get_le32(h + 16);
	if (body_len > SKV_COORD_MAX_BODY)
		return map_err(err, err_len, "coordinator reply body of %u bytes", body_len);
	body = malloc(body_len + 1);
	if (!body)
		return SKV_E_NOMEM;
	rc = skv_recv_raw(coord, body, body_len);
	if (rc) {
		free(body);
		if (err && err_len)
			snprintf(err, err_len, "coordinator: %s", skv_strerror(rc));
		return rc;
	}
	if (status) {
		body[body_len] = 0;	/* the message should be NUL-terminated; make sure */
		rc = map_err(err, err_len, "coordinator: GET_MAP failed: %s (%s)",
			     strerror(status), (const char *)body);
	} else {
		rc = skv_map_decode(body, body_len, m, err, err_len);
	}
	free(body);
	return rc;
}
