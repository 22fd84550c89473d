/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The node daemon's Prometheus metrics: what the module of this network
 * namespace counts, read over netlink at each scrape (node-get,
 * metrics-get, tablet-get, migrate-get).  See README "Metrics".
 */
#ifndef SKV_METRICS_NODE_H
#define SKV_METRICS_NODE_H

#include <stddef.h>
#include <stdint.h>

struct metrics_http;

/* Serve node node_id's metrics on addr: 0, or -1 with a reason in err. */
int metrics_node_start(const char *addr, uint32_t node_id,
		       struct metrics_http **out, char *err, size_t errlen);

#endif
