/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The coordinator's Prometheus metrics: nodes known and alive, the map
 * version, tablets, migrations by phase, the rebalancer's moves.  The coordinator's thread copies
 * them into a snapshot after each round of its loop
 * (coord_metrics_update); the HTTP thread renders the snapshot.
 */
#ifndef SKV_COORD_METRICS_H
#define SKV_COORD_METRICS_H

#include <stddef.h>

struct coordinator;
struct coord_metrics;

/* Serve the metrics on addr: 0 with *out, or -1 with a reason in err. */
int coord_metrics_start(const char *addr, struct coord_metrics **out,
			char *err, size_t errlen);
/* Take a new snapshot of c (the coordinator's thread, between rounds). */
void coord_metrics_update(struct coord_metrics *m, const struct coordinator *c);
/* NULL is a no-op. */
void coord_metrics_stop(struct coord_metrics *m);

#endif
