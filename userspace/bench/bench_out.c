// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* steadykv-bench's output (bench_core.h): summary lines, the timeline CSV, the JSON. */
#include <stdio.h>

#include "bench_core.h"

void bench_print_lat(FILE *f, const char *name, const struct stats *s, double secs)
{
	fprintf(f, "%-8s %10llu ops %9.0f ops/s  p50 %8.1f  p99 %8.1f  p99.9 %9.1f  max %9.1f  mean %8.1f us  err %llu\n",
		name, (unsigned long long)s->ops, secs > 0 ? (double)s->ops / secs : 0,
		(double)hist_quantile(&s->h, 0.5) / 1e3,
		(double)hist_quantile(&s->h, 0.99) / 1e3,
		(double)hist_quantile(&s->h, 0.999) / 1e3,
		(double)(s->h.count ? s->h.max : 0) / 1e3, hist_mean(&s->h) / 1e3,
		(unsigned long long)s->errors);
}

static void json_lat(FILE *f, const struct stats *s, double secs)
{
	fprintf(f, "{\"ops\": %llu, \"ops_per_s\": %.1f, \"errors\": %llu, \"misses\": %llu, "
		"\"redirects\": %llu, \"retries\": %llu, \"unsent\": %llu, "
		"\"latency_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, "
		"\"max\": %.1f, \"mean\": %.1f}}",
		(unsigned long long)s->ops, secs > 0 ? (double)s->ops / secs : 0,
		(unsigned long long)s->errors, (unsigned long long)s->misses,
		(unsigned long long)s->redirects, (unsigned long long)s->retries,
		(unsigned long long)s->unsent,
		(double)hist_quantile(&s->h, 0.5) / 1e3,
		(double)hist_quantile(&s->h, 0.99) / 1e3,
		(double)hist_quantile(&s->h, 0.999) / 1e3,
		(double)(s->h.count ? s->h.max : 0) / 1e3, hist_mean(&s->h) / 1e3);
}

/* Columns: t_s,ops,errors,p50_us,p99_us,p999_us,max_us, one ops_<node> per node, redirects,retries. */
int bench_write_timeline(const char *path, const struct result *res)
{
	FILE *f = fopen(path, "w");
	int n = bench_node_count(), j;
	size_t i;

	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "t_s,ops,errors,p50_us,p99_us,p999_us,max_us");
	for (j = 0; j < n; j++)
		fprintf(f, ",ops_%s", bench_node_get(j)->label);
	fprintf(f, ",redirects,retries\n");
	for (i = 0; i < res->nrows; i++) {
		const struct row *r = &res->rows[i];

		fprintf(f, "%.3f,%llu,%llu,%.1f,%.1f,%.1f,%.1f", r->t_s,
			(unsigned long long)r->ops, (unsigned long long)r->errors,
			(double)r->p50 / 1e3, (double)r->p99 / 1e3,
			(double)r->p999 / 1e3, (double)r->max / 1e3);
		for (j = 0; j < n; j++)
			fprintf(f, ",%llu", (unsigned long long)r->node_ops[j]);
		fprintf(f, ",%llu,%llu\n", (unsigned long long)r->redirects,
			(unsigned long long)r->retries);
	}
	return fclose(f) ? -1 : 0;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int bench_write_json(const char *path, const struct summary *sm)
{
	FILE *f = fopen(path, "w");
	int j;

	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "{\n  \"driver\": \"%s\",\n  \"workload\": {\"name\": ", O.cfg.drv->name);
	json_string(f, O.workload);
	fprintf(f, ", \"read_pct\": %d, \"records\": %llu, \"key_size\": %zu, "
		"\"value_size\": %zu, \"zipf\": %.3f},\n",
		O.cfg.read_pct, (unsigned long long)O.cfg.records, O.cfg.key_size,
		O.cfg.value_size, O.cfg.zipf);
	fprintf(f, "  \"threads\": %d, \"conns_per_node\": %d, \"schedule\": \"%s\",\n",
		O.threads, O.conns, O.poisson ? "poisson" : "uniform");
	fprintf(f, "  \"nodes\": [");
	for (j = 0; j < bench_node_count(); j++) {
		fprintf(f, "%s", j ? ", " : "");
		json_string(f, bench_node_get(j)->label);
	}
	fprintf(f, "]");
	if (sm->have_load) {
		fprintf(f, ",\n  \"load\": {\"seconds\": %.3f, \"result\": ", sm->load.secs);
		json_lat(f, &sm->load.total, sm->load.secs);
		fprintf(f, "}");
	}
	if (sm->have_cap) {
		fprintf(f, ",\n  \"capacity\": {\"ops_per_s\": %.1f, \"seconds\": %.3f, \"result\": ",
			sm->cap_ops, sm->cap.secs);
		json_lat(f, &sm->cap.total, sm->cap.secs);
		fprintf(f, "}");
	}
	if (sm->have_run) {
		const struct result *r = &sm->run;

		fprintf(f, ",\n  \"run\": {\"rate_target\": %.1f, \"seconds\": %.3f, \"result\": ",
			sm->rate, r->secs);
		json_lat(f, &r->total, r->secs);
		fprintf(f, ",\n    \"node_ops\": {");
		for (j = 0; j < bench_node_count(); j++) {
			fprintf(f, "%s", j ? ", " : "");
			json_string(f, bench_node_get(j)->label);
			fprintf(f, ": %llu", (unsigned long long)r->total.node_ops[j]);
		}
		fprintf(f, "}}");
		if (r->nmarks) {
			fprintf(f, ",\n  \"marks\": [");
			for (size_t i = 0; i < r->nmarks; i++) {
				fprintf(f, "%s{\"label\": ", i ? ", " : "");
				json_string(f, r->marks[i].label);
				fprintf(f, ", \"t_s\": %.3f}",
					((double)r->marks[i].real - (double)r->start_real) / 1e9);
			}
			fprintf(f, "],\n  \"phases\": {");
			for (int ph = 0; ph < PH_N; ph++) {
				fprintf(f, "%s\"%s\": ", ph ? ", " : "", bench_phase_names[ph]);
				/* the phase's rate is over its own intervals */
				json_lat(f, &r->phase[ph], r->phase_secs[ph]);
			}
			fprintf(f, "}");
		}
	}
	fprintf(f, "\n}\n");
	return fclose(f) ? -1 : 0;
}

