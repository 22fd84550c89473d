// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench-history-check: the linearizability checker (history_check.h) on a
 * generated history, timed beside its limit (10^6 operations in under a
 * minute).  The history is linearizable by construction: clients run one
 * operation at a time, each operation takes effect at a random instant
 * inside its [invoke, complete], and a register per key with the store's
 * rules (versions, tombstones, conditional writes, VERSION_MISMATCH,
 * NOT_FOUND) answers them in that order; some writes time out and take
 * effect or not.  So the checker must find nothing: exit 1 if it does.
 *
 *   bench-history-check [--ops N] [--keys K] [--clients C] [--seed S]
 *
 * TAP on stdout; the time is printed, not asserted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history_check.h"
#include "steadykv.h"

#define LIMIT_S		60.0	/* for 10^6 operations */

struct reg {
	bool live;
	uint64_t version;	/* of the value, or of the tombstone (0: none) */
	uint64_t value;
};

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct gen_op {
	uint64_t at;	/* when it takes effect */
	uint32_t ev;
};

static int by_at(const void *a, const void *b)
{
	const struct gen_op *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return x->ev < y->ev ? -1 : x->ev > y->ev;
}

/* The register's answer to e (kind chosen), applied at its instant. */
static void apply(struct hc_event *e, struct reg *r, uint64_t *version, uint64_t *known,
		  bool takes_effect)
{
	uint64_t cur = r->live ? r->version : 0;

	if (e->op == HC_GET || e->op == HC_MGET) {
		e->status = r->live ? SKV_OK : SKV_E_NOT_FOUND;
		e->version = r->version;
		e->value = r->live ? r->value : 0;
	} else if (e->op == HC_DELETE && !r->live) {
		e->status = SKV_E_NOT_FOUND;
		e->version = r->version;
	} else if (e->expect && e->expect != cur) {
		e->status = SKV_E_VERSION_MISMATCH;
		e->version = cur;
	} else if (takes_effect) {
		r->live = e->op == HC_PUT;
		r->version = ++*version;
		r->value = e->value;
		e->version = r->version;
	}
	/* What the client saw last: what its next conditional write expects. */
	if (e->status == SKV_E_TIMEOUT)
		e->version = 0;		/* no answer */
	else if (e->status == SKV_OK)
		*known = e->op == HC_DELETE ? 0 : e->version;
	else if (e->status == SKV_E_VERSION_MISMATCH)
		*known = e->version;
	else
		*known = 0;
}

/* n operations of clients on keys, then a final read of every key. */
static struct hc_event *generate(size_t n, uint32_t keys, uint32_t clients, uint64_t seed,
				 size_t *total)
{
	struct hc_event *ev = calloc(n + keys, sizeof(*ev));
	struct gen_op *order = calloc(n, sizeof(*order));
	uint64_t *cursor = calloc(clients, sizeof(*cursor));
	uint64_t *known = calloc((size_t)clients * keys, sizeof(*known));
	struct reg *regs = calloc(keys, sizeof(*regs));
	uint8_t *lands = calloc(n, 1);
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1, version = 0, end = 0;

	if (!ev || !order || !cursor || !known || !regs || !lands) {
		free(ev);
		ev = NULL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct hc_event *e = &ev[i];
		uint32_t c = (uint32_t)(rnd(&s) % clients);
		unsigned int p = (unsigned int)(rnd(&s) % 100);
		uint64_t at;

		e->client = c + 1;
		e->key = (uint32_t)(rnd(&s) % keys);
		e->invoke_ns = cursor[c] + rnd(&s) % 1000;
		at = e->invoke_ns + 1 + rnd(&s) % 2000;
		e->complete_ns = at + 1 + rnd(&s) % 2000;
		e->op = p < 35 ? HC_GET : p < 45 ? HC_MGET : p < 85 ? HC_PUT : HC_DELETE;
		if (e->op == HC_PUT)
			e->value = i + 1;
		/* A fifth of the writes are conditional, on what the client saw last. */
		if ((e->op == HC_PUT || e->op == HC_DELETE) && p % 5 == 0)
			e->expect = UINT64_MAX;		/* filled in when it runs */
		/* 1% of writes time out, and half of those take effect anyway. */
		if ((e->op == HC_PUT || e->op == HC_DELETE) && rnd(&s) % 100 == 0) {
			e->status = SKV_E_TIMEOUT;
			e->complete_ns += 1000000;
			lands[i] = rnd(&s) % 2;
		} else {
			lands[i] = 1;
		}
		cursor[c] = e->complete_ns;
		if (e->complete_ns > end)
			end = e->complete_ns;
		order[i] = (struct gen_op){ .at = at, .ev = (uint32_t)i };
	}
	qsort(order, n, sizeof(*order), by_at);
	for (size_t i = 0; i < n; i++) {
		struct hc_event *e = &ev[order[i].ev];
		uint64_t *kn = &known[(size_t)(e->client - 1) * keys + e->key];

		if (e->expect == UINT64_MAX)
			e->expect = *kn;	/* 0: an unconditional write after all */
		apply(e, &regs[e->key], &version, kn, lands[order[i].ev]);
	}
	for (uint32_t k = 0; k < keys; k++) {
		struct hc_event *e = &ev[n + k];

		e->client = clients + 1;
		e->key = k;
		e->op = HC_GET;
		e->final = true;
		e->invoke_ns = end + 1 + 2 * k;
		e->complete_ns = end + 2 + 2 * k;
		apply(e, &regs[k], &version, &(uint64_t){ 0 }, true);
	}
	*total = n + keys;
out:
	free(order);
	free(cursor);
	free(known);
	free(regs);
	free(lands);
	return ev;
}

static unsigned long long arg(int argc, char **argv, const char *name, unsigned long long def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return strtoull(argv[i + 1], NULL, 0);
	return def;
}

int main(int argc, char **argv)
{
	size_t n = (size_t)arg(argc, argv, "--ops", 1000000), total = 0;
	uint32_t keys = (uint32_t)arg(argc, argv, "--keys", 16);
	uint32_t clients = (uint32_t)arg(argc, argv, "--clients", 16);
	uint64_t seed = arg(argc, argv, "--seed", 1);
	struct hc_report *rep = calloc(1, sizeof(*rep));
	struct hc_event *ev;
	double t0, t1, limit;
	int rc;

	if (!rep || !n || !keys || !clients || n > UINT32_MAX / 2) {
		free(rep);
		fprintf(stderr, "usage: bench-history-check [--ops N] [--keys K] [--clients C] [--seed S]\n");
		return 2;
	}
	printf("TAP version 13\n1..1\n");
	ev = generate(n, keys, clients, seed, &total);
	if (!ev) {
		printf("not ok 1 - out of memory\n");
		free(rep);
		return 1;
	}
	t0 = now_s();
	rc = hc_check(ev, total, keys, rep);
	t1 = now_s();
	limit = LIMIT_S * (double)total / 1e6;
	printf("# checked %zu operations on %u keys from %u clients in %.2f s (limit %.1f s)\n",
	       total, keys, clients, t1 - t0, limit);
	for (size_t i = 0; i < rep->nr_details; i++)
		printf("#   %s: %s\n", hc_kind_name(rep->details[i].kind), rep->details[i].msg);
	printf("%sok 1 - a generated linearizable history passes (%zu violations)\n",
	       rc || rep->violations ? "not " : "", rep->violations);
	free(ev);
	rc = rc || rep->violations;
	free(rep);
	return rc;
}
