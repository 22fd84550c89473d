/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The coordinator role of steadykvd: one thread, one poll() loop, serving
 * the protocol of include/steadykv/coord.h over TCP.  The cluster state
 * (map, migrations, lineage) lives in a struct coord_state that is saved
 * through the state store before any change is acknowledged, and reloaded
 * at start.
 */
#ifndef SKV_COORD_COORDINATOR_H
#define SKV_COORD_COORDINATOR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "coord_rebalance.h"

/*
 * A frozen range not handed back for this many dead_after_ms (unless
 * evict_after_ms says otherwise): evict its source.
 */
#define COORD_EVICT_MUL	6

struct coordinator_opts {
	const char *listen;	/* "host:port"; NULL: "0.0.0.0:7100"; port 0: any */
	const char *state_path;	/* NULL: "./steadykv-coord.state" */
	/*
	 * Another state store (state_etcd.h) instead of the file; the
	 * coordinator closes it when closed, or when coordinator_open fails.
	 */
	struct coord_store *store;
	int node_timeout_ms;	/* wait for a node daemon's reply (but a recovery's); 0: 10000 */
	/*
	 * Declare a node dead when nothing was heard from it for this long
	 * (0: 5000); coord_liveness.c has the bound.  The source of a range
	 * frozen at two live nodes that cannot hand it back is declared
	 * dead after evict_after_ms (0: COORD_EVICT_MUL times
	 * dead_after_ms; coord_migrations.c).
	 */
	int dead_after_ms;
	int evict_after_ms;
	int verbose;		/* log requests to stderr */
	int quiet;		/* log nothing but errors */
	/*
	 * Key files (userspace/common/auth_key.h; NULL: none).  Node daemons
	 * authenticate as PEER with the cluster key, steadykvctl as ADMIN
	 * with the admin key; a previous key keeps working during a rotation.
	 */
	const char *cluster_key, *previous_cluster_key;
	const char *admin_key, *previous_admin_key;
	/* Serve a role's ops unauthenticated when it has no key (tests, labs). */
	int insecure;
	/* Backups per node (coord_repl.c); 0: no replication. */
	unsigned int replicas;
	/* Automatic rebalancing (coord_rebalance.c); zeroed: off, defaults. */
	struct rebalance_opts rebalance;
};

struct coordinator;

/* Load the state and listen.  0 or -errno, with a reason in @err. */
int coordinator_open(const struct coordinator_opts *o, struct coordinator **out,
		     char *err, size_t errlen);
/*
 * Read the key files again (SIGHUP): 0, or -errno with a reason in @err
 * and the keys as they were.  Connections keep the role they have.
 */
int coordinator_reload_keys(struct coordinator *c, char *err, size_t errlen);
/* The port the listener is bound to (useful with port 0). */
uint16_t coordinator_port(const struct coordinator *c);
/* One round of the loop: wait up to @timeout_ms, serve what is ready. */
int coordinator_poll(struct coordinator *c, int timeout_ms);
/* Loop until *stop becomes non-zero.  0 or -errno. */
int coordinator_run(struct coordinator *c, const volatile sig_atomic_t *stop);
void coordinator_close(struct coordinator *c);

#endif /* SKV_COORD_COORDINATOR_H */
