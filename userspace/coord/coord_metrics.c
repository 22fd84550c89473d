// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The coordinator's Prometheus metrics (coord_metrics.h). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_internal.h"
#include "coord_metrics.h"
#include "metrics_http.h"
#include "mig_names.h"

struct coord_snapshot {
	uint64_t map_version;
	size_t nodes_known;		/* in the map */
	size_t nodes_alive;		/* with a registered node daemon connected */
	size_t nodes_dead;		/* declared dead (liveness) */
	size_t tablets_lost;		/* lost-tablet records: not served anywhere */
	size_t recoveries[3];		/* running, waiting to be tried, done */
	size_t tables, tablets;
	size_t migs[STEADYKV_MIGRATION_STATE_MAX + 1];	/* kept records, by phase */
	uint64_t rebalance_moves[2];	/* coord_rebalance_moves(): started, dry run */
};

struct coord_metrics {
	struct metrics_http *http;
	pthread_mutex_t lock;		/* snap */
	struct coord_snapshot snap;
};

void coord_metrics_update(struct coord_metrics *m, const struct coordinator *c)
{
	const struct tablet_map *map = &c->st.map;
	struct coord_snapshot s = { 0 };
	size_t i;

	if (!m)
		return;
	s.map_version = map->version;
	s.nodes_known = map->nr_nodes;
	for (i = 0; i < map->nr_nodes; i++) {
		s.nodes_alive += coord_node_conn(c, map->nodes[i].id) != NULL;
		s.nodes_dead += coord_node_dead(c, map->nodes[i].id);
	}
	s.tablets_lost = c->st.nr_lost;
	for (i = 0; i < c->nr_recov; i++)
		s.recoveries[c->recov[i].running ? 0 : c->recov[i].done ? 2 : 1]++;
	s.tables = map->nr_tables;
	s.tablets = map->nr_tablets;
	for (i = 0; i < c->st.nr_migs; i++)
		if (c->st.migs[i].state <= STEADYKV_MIGRATION_STATE_MAX)
			s.migs[c->st.migs[i].state]++;
	s.rebalance_moves[0] = coord_rebalance_moves(c, false);
	s.rebalance_moves[1] = coord_rebalance_moves(c, true);
	pthread_mutex_lock(&m->lock);
	m->snap = s;
	pthread_mutex_unlock(&m->lock);
}

static int coord_render(void *arg, struct metrics_text *t)
{
	struct coord_metrics *m = arg;
	struct coord_snapshot s;
	const char *name;
	uint32_t st;

	pthread_mutex_lock(&m->lock);
	s = m->snap;
	pthread_mutex_unlock(&m->lock);

	mt_family(t, "steadykv_coordinator_nodes", "gauge",
		  "Nodes in the cluster map (known) and with their daemon connected (alive).");
	mt_printf(t, "steadykv_coordinator_nodes{status=\"known\"} %zu\n", s.nodes_known);
	mt_printf(t, "steadykv_coordinator_nodes{status=\"alive\"} %zu\n", s.nodes_alive);
	mt_printf(t, "steadykv_coordinator_nodes{status=\"dead\"} %zu\n", s.nodes_dead);
	mt_family(t, "steadykv_coordinator_tablets_lost", "gauge",
		  "Tablets lost with a dead node and not recovered yet (served nowhere).");
	mt_printf(t, "steadykv_coordinator_tablets_lost %zu\n", s.tablets_lost);
	mt_family(t, "steadykv_coordinator_recoveries", "gauge",
		  "Recoveries of lost tablets: running, waiting (to be tried again), done.");
	mt_printf(t, "steadykv_coordinator_recoveries{state=\"running\"} %zu\n", s.recoveries[0]);
	mt_printf(t, "steadykv_coordinator_recoveries{state=\"waiting\"} %zu\n", s.recoveries[1]);
	mt_printf(t, "steadykv_coordinator_recoveries{state=\"done\"} %zu\n", s.recoveries[2]);
	mt_family(t, "steadykv_coordinator_map_version", "gauge",
		  "Version of the cluster map, bumped by every change.");
	mt_printf(t, "steadykv_coordinator_map_version %" PRIu64 "\n", s.map_version);
	mt_family(t, "steadykv_coordinator_tables", "gauge", "Tables in the map.");
	mt_printf(t, "steadykv_coordinator_tables %zu\n", s.tables);
	mt_family(t, "steadykv_coordinator_tablets", "gauge", "Tablets in the map.");
	mt_printf(t, "steadykv_coordinator_tablets %zu\n", s.tablets);
	mt_family(t, "steadykv_coordinator_migrations", "gauge",
		  "Migrations the coordinator keeps (the newest), by phase.");
	for (st = 0; (name = skv_mig_state_name(st)); st++)
		mt_printf(t, "steadykv_coordinator_migrations{phase=\"%s\"} %zu\n", name,
			  s.migs[st]);
	mt_family(t, "steadykv_coordinator_rebalance_moves_total", "counter",
		  "Migrations the rebalancer started (on), or decided and only logged (dry_run).");
	mt_printf(t, "steadykv_coordinator_rebalance_moves_total{mode=\"on\"} %" PRIu64 "\n",
		  s.rebalance_moves[0]);
	mt_printf(t, "steadykv_coordinator_rebalance_moves_total{mode=\"dry_run\"} %" PRIu64 "\n",
		  s.rebalance_moves[1]);
	return 0;
}

int coord_metrics_start(const char *addr, struct coord_metrics **out,
			char *err, size_t errlen)
{
	struct coord_metrics *m = calloc(1, sizeof(*m));

	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&m->lock, NULL);
	if (metrics_http_start(addr, coord_render, m, &m->http, err, errlen)) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void coord_metrics_stop(struct coord_metrics *m)
{
	if (!m)
		return;
	metrics_http_stop(m->http);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
