// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* steadykvd's Prometheus endpoint on libmicrohttpd (metrics_http.h). */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "metrics_http.h"
#include "parse.h"

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	struct MHD_Daemon *d;
	metrics_render_fn render;
	void *arg;
};

void mt_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	size_t need;
	char *nb;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL,
			      t->buf ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if (t->buf && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		need = t->len + (size_t)n + 1;
		need = need < 2 * t->cap ? 2 * t->cap : need;
		nb = realloc(t->buf, need < 4096 ? 4096 : need);
		if (!nb) {
			t->failed = true;
			return;
		}
		t->buf = nb;
		t->cap = need < 4096 ? 4096 : need;
	}
}

void mt_family(struct metrics_text *t, const char *name, const char *type,
	       const char *help)
{
	mt_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned int code,
			      const char *text, char *owned, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (owned)
		r = MHD_create_response_from_buffer(len, owned,
						    MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(strlen(text), (void *)text,
						    MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(owned);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				owned ? METRICS_CONTENT_TYPE : "text/plain");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct metrics_http *h = cls;
	struct metrics_text t = { 0 };

	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			      "only GET /metrics\n", NULL, 0);
	if (*upload_data_size)
		return MHD_NO;	/* a GET with a body: drop the connection */
	if (strcmp(url, "/metrics"))
		return answer(conn, MHD_HTTP_NOT_FOUND, "see /metrics\n",
			      NULL, 0);
	if (h->render(h->arg, &t) || t.failed) {
		free(t.buf);
		return answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			      "cannot read the metrics\n", NULL, 0);
	}
	if (!t.buf)
		mt_printf(&t, "%s", "");
	if (t.failed) {
		free(t.buf);
		return MHD_NO;
	}
	return answer(conn, MHD_HTTP_OK, NULL, t.buf, t.len);
}

int metrics_http_start(const char *addr, metrics_render_fn render, void *arg,
		       struct metrics_http **out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST |
					      AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	struct metrics_http *h;
	char host[256], port[8];
	sigset_t all, old;
	unsigned int flags;
	uint16_t p;
	int ret;

	if (parse_listen_addr(addr, host, sizeof(host), &p) || !p) {
		snprintf(err, errlen, "bad metrics address '%s' (ADDR:PORT)",
			 addr);
		return -1;
	}
	snprintf(port, sizeof(port), "%u", p);
	ret = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "metrics address %s: %s", addr,
			 gai_strerror(ret));
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		freeaddrinfo(res);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->render = render;
	h->arg = arg;
	flags = MHD_USE_INTERNAL_POLLING_THREAD;
	if (res->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/*
	 * One thread serves every scrape in turn: render needs no locks of
	 * its own.  It blocks every signal, so that SIGTERM and SIGHUP reach
	 * the daemon's own loop.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	h->d = MHD_start_daemon(flags, p, NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, res->ai_addr,
				MHD_OPTION_CONNECTION_LIMIT, 16u,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	freeaddrinfo(res);
	if (!h->d) {
		snprintf(err, errlen, "cannot serve metrics on %s", addr);
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
