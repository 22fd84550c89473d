// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The coordinator's tablet map: a GET_MAP client and the map as the cluster
 * client uses it, decoded by the coordinator protocol's one decoder
 * (common/coord_codec.c), which trusts nothing.  A bad map is an error
 * (SKV_E_PROTO), never a crash.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_codec.h"
#include "coord_map.h"
#include "internal.h"
#include "parse.h"

_Static_assert(COORD_HDR_LEN == SKV_HDR_LEN, "coord header is 24 bytes");

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

void skv_map_free(struct skv_map *m)
{
	free(m->nodes);
	free(m->tablets);
	m->nodes = NULL;
	m->tablets = NULL;
	m->nr_nodes = 0;
	m->nr_tablets = 0;
}

static uint32_t node_index(const struct coord_map_info *mi, uint32_t id)
{
	uint32_t i = 0;

	/* The decoder checked that every owner is listed. */
	while (mi->nodes[i].id != id)
		i++;
	return i;
}

int skv_map_decode(const void *body, size_t len, struct skv_map *m,
		   char *err, size_t err_len)
{
	struct skv_map_node *nodes = NULL;
	struct skv_map_tablet *tablets = NULL;
	struct coord_map_info mi;
	char why[128];
	int rc;

	rc = coord_map_decode_why(body, len, &mi, why, sizeof(why));
	if (rc == -ENOMEM)
		return SKV_E_NOMEM;
	if (rc)
		return map_err(err, err_len, "%s", why);
	rc = SKV_E_NOMEM;
	nodes = calloc(mi.nr_nodes ? mi.nr_nodes : 1, sizeof(*nodes));
	tablets = calloc(mi.nr_tablets ? mi.nr_tablets : 1, sizeof(*tablets));
	if (!nodes || !tablets)
		goto fail;
	for (uint32_t i = 0; i < mi.nr_nodes; i++) {
		struct skv_map_node *n = &nodes[i];

		n->id = mi.nodes[i].id;
		memcpy(n->addr, mi.nodes[i].addr, sizeof(n->addr));
		if (parse_hostport(n->addr, n->host, sizeof(n->host), &n->port)) {
			rc = map_err(err, err_len, "node %u: bad address \"%s\"", n->id, n->addr);
			goto fail;
		}
	}
	for (uint32_t i = 0; i < mi.nr_tablets; i++) {
		const struct coord_tablet_info *ti = &mi.tablets[i];
		struct skv_map_tablet *t = &tablets[i];

		t->table_id = ti->table_id;
		t->start = ti->start_hash;
		t->end = ti->end_hash;
		t->owner = ti->owner;
		t->state = ti->state;
		t->src = ti->src;
		t->node = node_index(&mi, ti->owner);
	}
	m->version = mi.version;
	m->nr_nodes = mi.nr_nodes;
	m->nr_tablets = mi.nr_tablets;
	m->nodes = nodes;
	m->tablets = tablets;
	coord_map_info_free(&mi);
	return 0;
fail:
	free(nodes);
	free(tablets);
	coord_map_info_free(&mi);
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
	uint8_t h[COORD_HDR_LEN];
	struct coord_hdr rh;
	uint8_t *body;
	uint32_t body_len;
	uint16_t status;
	int rc;

	coord_hdr_encode(h, &(struct coord_hdr){ .opcode = SKV_COORD_OP_GET_MAP,
						 .request_id = request_id });
	rc = skv_send_raw(coord, h, sizeof(h));
	if (!rc)
		rc = skv_recv_raw(coord, h, sizeof(h));
	if (rc) {
		if (err && err_len)
			snprintf(err, err_len, "coordinator: %s", skv_strerror(rc));
		return rc;
	}
	if (coord_hdr_decode(h, &rh))
		return map_err(err, err_len, "coordinator reply: bad header");
	if (rh.opcode != SKV_COORD_OP_GET_MAP || !(rh.flags & SKV_COORD_F_REPLY) ||
	    rh.request_id != request_id)
		return map_err(err, err_len,
			       "coordinator sent op %u flags %#x id %llu, expected GET_MAP reply %llu",
			       rh.opcode, rh.flags, (unsigned long long)rh.request_id,
			       (unsigned long long)request_id);
	status = rh.status;
	body_len = rh.body_len;
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
