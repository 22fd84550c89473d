/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libsteadykv internals: the coordinator's tablet map (coord.h GET_MAP),
 * decoded and validated, and the tiny client that fetches it.
 */
#ifndef SKV_LIB_COORD_MAP_H
#define SKV_LIB_COORD_MAP_H

#include <stddef.h>
#include <stdint.h>

#include <steadykv/coord.h>

#include "steadykv.h"

struct skv_map_node {
	uint32_t id;
	uint16_t port;
	char addr[SKV_COORD_ADDR_MAX];	/* "host:port" as the coordinator gave it */
	char host[SKV_COORD_ADDR_MAX];	/* host part, IPv6 brackets removed */
	struct skv_conn *conn;		/* cluster.c: opened on first use */
};

struct skv_map_tablet {
	uint64_t table_id;
	uint64_t start;		/* inclusive */
	uint64_t end;		/* inclusive */
	uint32_t owner;		/* node id */
	uint32_t state;
	uint32_t src;
	uint32_t node;		/* index of owner in skv_map.nodes */
};

struct skv_map {
	uint64_t version;
	uint32_t nr_nodes;
	uint32_t nr_tablets;
	struct skv_map_node *nodes;	/* in the coordinator's order */
	struct skv_map_tablet *tablets;	/* sorted by (table_id, start), covering */
};

/*
 * Decode a GET_MAP reply body with the coordinator protocol's decoder
 * (coord_map_decode_why, common/coord_codec.h: counts, addresses
 * NUL-terminated, ids unique, owners listed, tablets sorted and covering
 * each table) and split every address with parse_hostport.  SKV_E_PROTO
 * (err says why) or SKV_E_NOMEM; m is untouched on failure, filled
 * (caller frees with skv_map_free) on success.
 */
int skv_map_decode(const void *body, size_t len, struct skv_map *m,
		   char *err, size_t err_len);
/* Frees the arrays (not the connections: cluster.c owns those). */
void skv_map_free(struct skv_map *m);

/* The tablet holding (table, hash), or NULL if the table is not in the map. */
const struct skv_map_tablet *skv_map_find(const struct skv_map *m, uint64_t table,
					  uint64_t hash);

/*
 * One GET_MAP round trip on a connection to the coordinator (an skv_conn
 * used through skv_send_raw/skv_recv_raw: the coordinator has its own
 * magic).  Any failure but SKV_E_NOMEM leaves the connection out of step:
 * the caller closes it.  SKV_E_PROTO for a bad reply or a non-zero status
 * (err carries the coordinator's message).
 */
int skv_coord_get_map(struct skv_conn *coord, uint64_t request_id,
		      struct skv_map *m, char *err, size_t err_len);

#endif /* SKV_LIB_COORD_MAP_H */
