/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * steadykvd's Prometheus endpoint: GET /metrics over HTTP, served by
 * libmicrohttpd on its own thread, in the text exposition format 0.0.4.
 * The node agent (metrics_node.c) and the coordinator (coord_metrics.c)
 * each give it a function that writes the body.
 *
 * The writer functions append to a growing buffer; they remember the
 * first allocation failure, which fails the scrape (HTTP 500).
 */
#ifndef SKV_METRICS_HTTP_H
#define SKV_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics_text {
	char *buf;
	size_t len, cap;
	bool failed;		/* out of memory: the body is incomplete */
};

/* Append printf-style. */
void mt_printf(struct metrics_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A metric family's "# HELP" and "# TYPE" lines (type: counter, gauge...). */
void mt_family(struct metrics_text *t, const char *name, const char *type,
	       const char *help);

/* Write the body into t: 0, or -1 to answer 500 (t->failed too). */
typedef int (*metrics_render_fn)(void *arg, struct metrics_text *t);

struct metrics_http;

/*
 * Serve GET /metrics on addr ("ADDR:PORT", "[ADDR6]:PORT"; an empty host
 * listens on every address).  0 with *out, or -1 with a reason in err.
 */
int metrics_http_start(const char *addr, metrics_render_fn render, void *arg,
		       struct metrics_http **out, char *err, size_t errlen);
/* Stop serving (waits for a scrape in progress); NULL is a no-op. */
void metrics_http_stop(struct metrics_http *h);

#endif
