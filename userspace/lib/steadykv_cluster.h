/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libsteadykv cluster client: routes each request to the node that owns
 * its key's tablet, by the tablet map fetched from the coordinator
 * (include/steadykv/coord.h, GET_MAP) and cached.
 *
 * Transparently to the caller:
 *  - NOT_OWNER: the map is fetched again (at most once per
 *    SKV_CLUSTER_REFRESH_MIN_US unless its version changed) and the
 *    request goes to the new owner;
 *  - RETRY: the request is sent again after the retry_us the node gave
 *    (bounded backoff);
 * until the deadline (opts.timeout_ms, default 5000 ms) passes, when the
 * last code is returned.  One connection per node, opened on first use.
 * Not thread safe: one struct skv_cluster per thread.
 */
#ifndef STEADYKV_CLUSTER_H
#define STEADYKV_CLUSTER_H

#include "steadykv.h"

#ifdef __cplusplus
extern "C" {
#endif

struct skv_cluster;

/* NOT_OWNER refreshes of an unchanged map are at least this far apart. */
#define SKV_CLUSTER_REFRESH_MIN_US	1000u

struct skv_cluster_stats {
	uint64_t map_version;		/* of the cached map */
	uint64_t map_fetches;
	uint64_t not_owner;		/* NOT_OWNER replies followed */
	uint64_t retries;		/* RETRY replies waited out */
	uint64_t reconnects;		/* node connections dropped after an error;
					   the request was then sent again, so a
					   write may have been applied twice */
};

/*
 * Connect to the coordinator at coord_host:coord_port and fetch the map.
 * opts may be NULL (defaults); its timeout_ms is also the per-request
 * deadline.  On failure *out is NULL.
 */
int skv_cluster_open(const char *coord_host, uint16_t coord_port,
		     const struct skv_opts *opts, struct skv_cluster **out);
/*
 * The same with "HOST:PORT[,HOST:PORT...]": a coordinator and its
 * standbys (at most SKV_CLUSTER_MAX_COORDS), tried in turn whenever the
 * one in use fails.  SKV_E_INVAL if any address does not parse.
 */
#define SKV_CLUSTER_MAX_COORDS	8
int skv_cluster_open_list(const char *coords, const struct skv_opts *opts,
			  struct skv_cluster **out);
void skv_cluster_close(struct skv_cluster *c);

/* Fetch the map now. */
int skv_cluster_refresh(struct skv_cluster *c);
void skv_cluster_get_stats(const struct skv_cluster *c,
			   struct skv_cluster_stats *st);
/* Detail of the last coordinator or connect failure ("" if none). */
const char *skv_cluster_errmsg(const struct skv_cluster *c);

/*
 * As skv_get/skv_put/skv_delete (steadykv.h), routed and retried.  A table
 * missing from the map is looked up once more at the coordinator, then
 * SKV_E_UNKNOWN_TABLE.
 */
int skv_cluster_get(struct skv_cluster *c, uint64_t table, const void *key,
		    size_t key_len, void **value, size_t *value_len,
		    uint64_t *version);
int skv_cluster_put(struct skv_cluster *c, uint64_t table, const void *key,
		    size_t key_len, const void *value, size_t value_len,
		    uint64_t expect_version, uint64_t *version);
int skv_cluster_delete(struct skv_cluster *c, uint64_t table, const void *key,
		       size_t key_len, uint64_t expect_version,
		       uint64_t *version);

/*
 * The owner of (table, key_hash) by the cached map: its node id and its
 * data address "host:port" (copied into addr, addr_len bytes at most).
 * SKV_E_NOT_FOUND-style negative code if the table is not in the map.
 * For callers with their own sockets (the benchmark's event loop).
 */
int skv_cluster_owner(const struct skv_cluster *c, uint64_t table,
		      uint64_t key_hash, uint32_t *node_id, char *addr,
		      size_t addr_len);

/*
 * For pipelining callers (the benchmark): the connection to the owner of
 * (table, key_hash) by the cached map, connecting if needed, and the
 * owner's node id.  The caller handles NOT_OWNER (skv_cluster_refresh)
 * and RETRY itself.  NULL with *err set on failure.  The connection
 * stays valid until skv_cluster_close, until a refresh finds the node gone
 * or at another address, or until a call here finds it broken (sticky
 * error) and replaces it.
 */
struct skv_conn *skv_cluster_conn_for(struct skv_cluster *c, uint64_t table,
				      uint64_t key_hash, uint32_t *node_id,
				      int *err);

#ifdef __cplusplus
}
#endif

#endif /* STEADYKV_CLUSTER_H */
