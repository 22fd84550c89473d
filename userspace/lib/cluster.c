// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The cluster client (steadykv_cluster.h): route by the coordinator's map,
 * follow NOT_OWNER and STALE_EPOCH, wait out RETRY, reconnect, all within one deadline.
 *
 * Resending is safe for NOT_OWNER, STALE_EPOCH, UNKNOWN_TABLE and RETRY (the node did
 * not apply the request).  After a connection error the request may or may
 * not have been applied before it broke; it is sent again anyway (stats
 * .reconnects grows), so a caller that must know (the history checker)
 * compares reconnects before and after the call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord_map.h"
#include "internal.h"
#include "parse.h"
#include "steadykv_cluster.h"

#define NOT_OWNER_BACKOFF_MIN_US	100u
#define NOT_OWNER_BACKOFF_MAX_US	10000u
#define RETRY_MIN_US			50u
#define RETRY_MAX_US			10000u

struct coord_addr {
	char host[SKV_COORD_ADDR_MAX];
	uint16_t port;
};

struct skv_cluster {
	/* A leader and its standbys, tried in turn from the last that answered. */
	struct coord_addr coord_addrs[SKV_CLUSTER_MAX_COORDS];
	size_t nr_coord_addrs, coord_cur;
	struct skv_opts opts;
	int timeout_ms;			/* per call; <0: no deadline */
	struct skv_conn *coord;		/* NULL until needed again after an error */
	uint64_t coord_req_id;
	struct skv_map map;
	uint64_t last_fetch_us;		/* monotonic, of the last successful fetch */
	bool last_fetch_changed;	/* it brought a new map version */
	struct skv_cluster_stats st;
	char errmsg[256];
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Deadline in monotonic us; UINT64_MAX: none. */
static uint64_t deadline_of(const struct skv_cluster *c)
{
	return c->timeout_ms < 0 ? UINT64_MAX : now_us() + (uint64_t)c->timeout_ms * 1000u;
}

/* Milliseconds left for one socket wait (at least 1), or -1 for no limit. */
static int left_ms(uint64_t deadline)
{
	uint64_t now = now_us();

	if (deadline == UINT64_MAX)
		return -1;
	if (now >= deadline)
		return 1;
	return (int)((deadline - now + 999) / 1000 > 0x7fffffff ? 0x7fffffff :
		     (deadline - now + 999) / 1000);
}

/* Sleep us microseconds, but never past the deadline. */
static void sleep_until(uint64_t us, uint64_t deadline)
{
	uint64_t now = now_us();
	struct timespec ts;

	if (deadline != UINT64_MAX) {
		if (now >= deadline)
			return;
		if (us > deadline - now)
			us = deadline - now;
	}
	ts.tv_sec = (time_t)(us / 1000000u);
	ts.tv_nsec = (long)(us % 1000000u) * 1000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Close every node connection of m, then free m. */
static void map_release(struct skv_map *m)
{
	for (uint32_t i = 0; i < m->nr_nodes; i++)
		skv_close(m->nodes[i].conn);
	skv_map_free(m);
}

/* Take over the old map's connections to nodes that kept id and address. */
static void move_conns(struct skv_map *old, struct skv_map *new)
{
	for (uint32_t i = 0; i < new->nr_nodes; i++) {
		for (uint32_t j = 0; j < old->nr_nodes; j++) {
			if (old->nodes[j].id != new->nodes[i].id || !old->nodes[j].conn)
				continue;
			if (!strcmp(old->nodes[j].addr, new->nodes[i].addr)) {
				new->nodes[i].conn = old->nodes[j].conn;
				old->nodes[j].conn = NULL;
			}
			break;
		}
	}
}

static int fetch(struct skv_cluster *c, uint64_t deadline)
{
	struct skv_map m = { 0 };
	struct skv_opts o = c->opts;
	int rc;

	o.timeout_ms = left_ms(deadline);
	/* The coordinator speaks its own protocol: client keys are the nodes'. */
	o.client_key = NULL;
	if (!c->coord) {
		size_t i;

		for (i = 0, rc = SKV_E_INVAL; i < c->nr_coord_addrs; i++) {
			const struct coord_addr *a = &c->coord_addrs[c->coord_cur];

			o.timeout_ms = left_ms(deadline);
			rc = skv_connect_opts(a->host, a->port, &o, &c->coord);
			if (!rc)
				break;
			snprintf(c->errmsg, sizeof(c->errmsg), "coordinator %s:%u: %s",
				 a->host, a->port, skv_strerror(rc));
			c->coord_cur = (c->coord_cur + 1) % c->nr_coord_addrs;
		}
		if (rc)
			return rc;
	} else {
		skv_set_timeout(c->coord, o.timeout_ms);
	}
	rc = skv_coord_get_map(c->coord, ++c->coord_req_id, &m, c->errmsg,
			       sizeof(c->errmsg));
	if (rc) {
		/* Out of step (or told off): start afresh next time, at the next. */
		skv_close(c->coord);
		c->coord = NULL;
		c->coord_cur = (c->coord_cur + 1) % c->nr_coord_addrs;
		return rc;
	}
	c->st.map_fetches++;
	c->last_fetch_us = now_us();
	c->last_fetch_changed = m.version != c->map.version || !c->map.nodes;
	move_conns(&c->map, &m);
	map_release(&c->map);
	c->map = m;
	c->st.map_version = m.version;
	return 0;
}

int skv_cluster_refresh(struct skv_cluster *c)
{
	return fetch(c, deadline_of(c));
}

/*
 * Refresh after NOT_OWNER or a broken connection: at most once per
 * SKV_CLUSTER_REFRESH_MIN_US, unless the last fetch brought a new version
 * (the map is moving: keep up with it).
 */
static void refresh_limited(struct skv_cluster *c, uint64_t deadline)
{
	if (!c->last_fetch_changed &&
	    now_us() - c->last_fetch_us < SKV_CLUSTER_REFRESH_MIN_US)
		return;
	fetch(c, deadline);	/* on failure keep the old map and try it again */
}

static int cluster_open(const struct coord_addr *addrs, size_t n,
			const struct skv_opts *opts, struct skv_cluster **out)
{
	struct skv_cluster *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return SKV_E_NOMEM;
	memcpy(c->coord_addrs, addrs, n * sizeof(*addrs));
	c->nr_coord_addrs = n;
	if (opts)
		c->opts = *opts;
	c->timeout_ms = c->opts.timeout_ms ? c->opts.timeout_ms : SKV_DEFAULT_TIMEOUT_MS;
	if (c->timeout_ms < 0)
		c->timeout_ms = -1;
	rc = skv_cluster_refresh(c);
	if (rc) {
		skv_cluster_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

int skv_cluster_open(const char *coord_host, uint16_t coord_port,
		     const struct skv_opts *opts, struct skv_cluster **out)
{
	struct coord_addr a = { .port = coord_port };

	if (!out)
		return SKV_E_INVAL;
	*out = NULL;
	if (!coord_host || !*coord_host || !coord_port ||
	    strlen(coord_host) >= SKV_COORD_ADDR_MAX)
		return SKV_E_INVAL;
	strcpy(a.host, coord_host);
	return cluster_open(&a, 1, opts, out);
}

int skv_cluster_open_list(const char *coords, const struct skv_opts *opts,
			  struct skv_cluster **out)
{
	struct coord_addr a[SKV_CLUSTER_MAX_COORDS];
	char item[SKV_COORD_ADDR_MAX + 8];
	size_t n = 0;

	if (!out)
		return SKV_E_INVAL;
	*out = NULL;
	if (!coords)
		return SKV_E_INVAL;
	while (!addr_list_item(coords, n, item, sizeof(item))) {
		if (n == SKV_CLUSTER_MAX_COORDS ||
		    parse_hostport(item, a[n].host, sizeof(a[n].host), &a[n].port))
			return SKV_E_INVAL;
		n++;
	}
	/* An empty or oversized item stopped the loop early. */
	if (n != addr_list_count(coords))
		return SKV_E_INVAL;
	return cluster_open(a, n, opts, out);
}

void skv_cluster_close(struct skv_cluster *c)
{
	if (!c)
		return;
	skv_close(c->coord);
	map_release(&c->map);
	free(c);
}

void skv_cluster_get_stats(const struct skv_cluster *c, struct skv_cluster_stats *st)
{
	*st = c->st;
}

const char *skv_cluster_errmsg(const struct skv_cluster *c)
{
	return c->errmsg;
}

static void drop_conn(struct skv_cluster *c, struct skv_map_node *n)
{
	skv_close(n->conn);
	n->conn = NULL;
	c->st.reconnects++;
}

/* The node's connection, opened if needed; a broken one is replaced. */
static int node_conn(struct skv_cluster *c, struct skv_map_node *n, uint64_t deadline)
{
	struct skv_opts o = c->opts;

	if (n->conn && n->conn->err)
		drop_conn(c, n);
	o.timeout_ms = left_ms(deadline);
	if (!n->conn) {
		int rc = skv_connect_opts(n->host, n->port, &o, &n->conn);
		if (rc) {
			snprintf(c->errmsg, sizeof(c->errmsg), "node %u at %s: %s", n->id,
				 n->addr, skv_strerror(rc));
			return rc;
		}
	}
	skv_set_timeout(n->conn, o.timeout_ms);
	/* Requests say which map routed them (wire.h "Epochs"). */
	skv_conn_set_epoch(n->conn, c->map.version);
	return 0;
}

int skv_cluster_owner(const struct skv_cluster *c, uint64_t table, uint64_t key_hash,
		      uint32_t *node_id, char *addr, size_t addr_len)
{
	const struct skv_map_tablet *t = skv_map_find(&c->map, table, key_hash);
	const struct skv_map_node *n;

	if (!t)
		return SKV_E_UNKNOWN_TABLE;
	n = &c->map.nodes[t->node];
	if (node_id)
		*node_id = n->id;
	if (addr) {
		if (strlen(n->addr) >= addr_len)
			return SKV_E_INVAL;
		strcpy(addr, n->addr);
	}
	return 0;
}

struct skv_conn *skv_cluster_conn_for(struct skv_cluster *c, uint64_t table,
				      uint64_t key_hash, uint32_t *node_id, int *err)
{
	const struct skv_map_tablet *t = skv_map_find(&c->map, table, key_hash);
	struct skv_map_node *n;
	int rc;

	if (!t) {
		*err = SKV_E_UNKNOWN_TABLE;
		return NULL;
	}
	n = &c->map.nodes[t->node];
	if (node_id)
		*node_id = n->id;
	rc = node_conn(c, n, deadline_of(c));
	if (rc) {
		*err = rc;
		return NULL;
	}
	/* Pipelining callers want their own per-wait timeout back. */
	skv_set_timeout(n->conn, c->timeout_ms);
	*err = 0;
	return n->conn;
}

/* ---- routed, retried calls ---- */

enum op { OP_GET, OP_PUT, OP_DELETE };

struct call {
	enum op op;
	uint64_t table;
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	uint64_t expect;
	void **out_value;
	size_t *out_len;
	uint64_t *out_version;
};

static bool conn_error(int rc)
{
	switch (rc) {
	case SKV_E_IO:
	case SKV_E_PROTO:
	case SKV_E_CLOSED:
	case SKV_E_TIMEOUT:
	case SKV_E_CONNECT:
	case SKV_E_RESOLVE:
		return true;
	default:
		return false;
	}
}

static int send_once(struct skv_conn *conn, const struct call *k)
{
	switch (k->op) {
	case OP_GET:
		return skv_get(conn, k->table, k->key, k->key_len, k->out_value,
			       k->out_len, k->out_version);
	case OP_PUT:
		return skv_put(conn, k->table, k->key, k->key_len, k->value, k->value_len,
			       k->expect, k->out_version);
	default:
		return skv_delete(conn, k->table, k->key, k->key_len, k->expect,
				  k->out_version);
	}
}

static int run(struct skv_cluster *c, const struct call *k)
{
	uint64_t deadline = deadline_of(c);
	uint64_t hash = skv_key_hash(k->key, k->key_len);
	uint32_t backoff = NOT_OWNER_BACKOFF_MIN_US;
	bool refreshed_for_table = false;
	int rc;

	if (k->out_value)
		*k->out_value = NULL;
	for (;;) {
		const struct skv_map_tablet *t = skv_map_find(&c->map, k->table, hash);
		struct skv_map_node *n;
		uint32_t owner;

		if (!t) {
			/* Perhaps the table is newer than our map: look once. */
			if (refreshed_for_table || fetch(c, deadline))
				return SKV_E_UNKNOWN_TABLE;
			refreshed_for_table = true;
			continue;
		}
		n = &c->map.nodes[t->node];
		owner = n->id;
		rc = node_conn(c, n, deadline);
		if (!rc)
			rc = send_once(n->conn, k);
		if (!rc || now_us() >= deadline)
			return rc;
		if (rc == SKV_E_RETRY) {
			uint32_t us = skv_conn_retry_us(n->conn);

			c->st.retries++;
			us = us < RETRY_MIN_US ? RETRY_MIN_US : us > RETRY_MAX_US ? RETRY_MAX_US : us;
			sleep_until(us, deadline);
		} else if (rc == SKV_E_NOT_OWNER || rc == SKV_E_UNKNOWN_TABLE ||
			   rc == SKV_E_STALE_EPOCH) {
			/* The map is stale, or the node has not caught up with it. */
			if (rc == SKV_E_NOT_OWNER)
				c->st.not_owner++;
			refresh_limited(c, deadline);
			t = skv_map_find(&c->map, k->table, hash);
			if (t && c->map.nodes[t->node].id == owner) {
				sleep_until(backoff, deadline);
				backoff = backoff * 2 > NOT_OWNER_BACKOFF_MAX_US ?
					  NOT_OWNER_BACKOFF_MAX_US : backoff * 2;
			} else {
				backoff = NOT_OWNER_BACKOFF_MIN_US;
			}
		} else if (conn_error(rc)) {
			if (n->conn)
				drop_conn(c, n);
			refresh_limited(c, deadline);
			/* Do not spin on a node that refuses connections. */
			sleep_until(backoff, deadline);
			backoff = backoff * 2 > NOT_OWNER_BACKOFF_MAX_US ?
				  NOT_OWNER_BACKOFF_MAX_US : backoff * 2;
		} else {
			return rc;	/* the node's answer (NOT_FOUND, VERSION_MISMATCH, ...) */
		}
		if (now_us() >= deadline)
			return rc;
	}
}

int skv_cluster_get(struct skv_cluster *c, uint64_t table, const void *key,
		    size_t key_len, void **value, size_t *value_len, uint64_t *version)
{
	const struct call k = {
		.op = OP_GET, .table = table, .key = key, .key_len = key_len,
		.out_value = value, .out_len = value_len, .out_version = version,
	};

	if (!value)
		return SKV_E_INVAL;	/* as skv_get: the value is the point */
	return run(c, &k);
}

int skv_cluster_put(struct skv_cluster *c, uint64_t table, const void *key,
		    size_t key_len, const void *value, size_t value_len,
		    uint64_t expect_version, uint64_t *version)
{
	const struct call k = {
		.op = OP_PUT, .table = table, .key = key, .key_len = key_len,
		.value = value, .value_len = value_len, .expect = expect_version,
		.out_version = version,
	};

	return run(c, &k);
}

int skv_cluster_delete(struct skv_cluster *c, uint64_t table, const void *key,
		       size_t key_len, uint64_t expect_version, uint64_t *version)
{
	const struct call k = {
		.op = OP_DELETE, .table = table, .key = key, .key_len = key_len,
		.expect = expect_version, .out_version = version,
	};

	return run(c, &k);
}
