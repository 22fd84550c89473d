/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The node role of steadykvd: a single-threaded agent beside one node's
 * module (the network namespace it runs in).  It makes the module listen
 * on the data address, registers with the coordinator, carries out the
 * coordinator's NODE_* commands over generic netlink and reports every
 * migration the module runs (MIG_REPORT), reconnecting with backoff when
 * the coordinator goes away.  See include/steadykv/coord.h.
 */
#ifndef SKV_NODE_AGENT_H
#define SKV_NODE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sknl.h"

/*
 * The module as the agent sees it, behind a table so tests can fake it.
 * Every call returns 0 or a negative errno and, on failure, fills err
 * (errno and the kernel's extack message).  NULL: real generic netlink.
 */
struct node_agent_nl_ops {
	/* Open: subscribe to the events group FIRST, then the request socket. */
	int (*open)(void *arg, struct sknl_err *err);
	void (*close)(void *arg);
	/* The fd that becomes readable when events wait. */
	int (*event_fd)(void *arg);
	/*
	 * Read the events that wait (never blocks), calling fn for each
	 * migrate-ntf; -ENOBUFS if events were lost (the agent re-dumps).
	 */
	int (*read_events)(void *arg, void (*fn)(void *ctx, const struct skv_migration *m),
			   void *ctx);
	/* Listener: addr is 4 or 16 bytes, network order. */
	int (*listen_start)(void *arg, const uint8_t *addr, int alen, uint16_t port,
			    struct sknl_err *err);
	/*
	 * The node's incarnation (node-get; 0 from a module without one).
	 * NULL in a fake: NODE_REGISTER goes without it and is never checked.
	 */
	int (*incarnation)(void *arg, uint64_t *incarnation, struct sknl_err *err);
	/* Where the node listens now (alen 0: not listening). */
	int (*listen_get)(void *arg, uint8_t *addr, int *alen, uint16_t *port,
			  struct sknl_err *err);
	int (*table_add)(void *arg, uint64_t table, struct sknl_err *err);
	int (*table_del)(void *arg, uint64_t table, struct sknl_err *err);
	int (*tablet_add)(void *arg, uint64_t table, uint64_t start, uint64_t end,
			  struct sknl_err *err);
	int (*tablet_del)(void *arg, uint64_t table, uint64_t start, uint64_t end,
			  struct sknl_err *err);
	/* m: a migration record as the coordinator sent it (source "HOST:PORT"). */
	int (*migrate_start)(void *arg, const struct skv_migration *m, struct sknl_err *err);
	int (*migrate_cancel)(void *arg, uint64_t id, struct sknl_err *err);
	/* migrate-decide (NULL: a fake without sources). */
	int (*migrate_decide)(void *arg, uint64_t id, bool abort, struct sknl_err *err);
	/* Dump every migration, fn for each. */
	int (*migrate_dump)(void *arg, void (*fn)(void *ctx, const struct skv_migration *m),
			    void *ctx, struct sknl_err *err);
	/* node-set epoch: the node learns it (NULL: a fake without epochs). */
	int (*learn_epoch)(void *arg, uint64_t epoch, struct sknl_err *err);
	/* auth-set (NULL in a fake without keys: the key options are refused). */
	int (*auth_set)(void *arg, const struct sknl_auth *auth, struct sknl_err *err);
	/* Client keys (NULL in a fake without them: the client key options are refused). */
	int (*client_auth)(void *arg, int on, struct sknl_err *err);
	int (*client_key_add)(void *arg, const uint8_t *secret, size_t len,
			      const struct sknl_client_key *rights, struct sknl_err *err);
	int (*client_key_del)(void *arg, uint32_t id, struct sknl_err *err);
	/* repl-set, repl-fence (NULL in a fake: NODE_REPL_SET, _FENCE are refused). */
	int (*repl_set)(void *arg, uint64_t primary_id, uint64_t epoch,
			const struct sknl_repl_backup *backups, int n, struct sknl_err *err);
	int (*repl_fence)(void *arg, uint64_t primary_id, uint64_t epoch, struct sknl_err *err);
	/*
	 * repl-recover (NULL in a fake: NODE_REPL_RECOVER is refused); out may
	 * be NULL.  Called from the recovery thread, beside the other ops.
	 */
	int (*repl_recover)(void *arg, uint64_t primary_id, uint64_t epoch, uint64_t table_id,
			    uint64_t start_hash, uint64_t end_hash, struct sknl_repl *out,
			    struct sknl_err *err);
	/*
	 * Every tablet with its request counter, *out malloc'd (NULL in a
	 * fake without counters: no NODE_LOAD reports).
	 */
	int (*tablet_dump)(void *arg, struct sknl_tablet **out, size_t *count,
			   struct sknl_err *err);
};

struct node_agent_opts {
	uint32_t node_id;		/* != 0 */
	const char *data_addr;		/* host:port the module listens on */
	const char *coord_addr;		/* host:port[,host:port...]: the coordinators, tried in turn */
	/*
	 * Key files (common/auth_key.h): the cluster key, which the agent
	 * pushes to the module (node-to-node authentication) at start and on
	 * SIGHUP and authenticates to the coordinator with as PEER (read
	 * again at each connect); during a rotation the previous one, for the
	 * module only (NULL: none).  No cluster key: the node refuses
	 * node-to-node ops unless insecure_peers, and the agent logs in to
	 * the coordinator without authenticating (a coordinator run --insecure).
	 */
	const char *cluster_key_path;
	const char *previous_key_path;
	bool insecure_peers;		/* explicit insecure mode, never the default */
	/*
	 * Client keys, each "FILE:READ:WRITE" (node_agent_client_spec_parse),
	 * and whether the node requires them.  With either given, the agent
	 * manages the node's client keys: at start and on SIGHUP it sets
	 * client-auth-required to client_auth, adds (or replaces) each key
	 * from its file, and removes the keys it added before that no file
	 * holds any more (a file given a new secret: a rotation).  With
	 * neither, it leaves them to steadykvctl node client-key.
	 */
	const char *const *client_keys;
	unsigned int nclient_keys;	/* at most STEADYKV_CLIENT_KEYS_MAX */
	bool client_auth;
	/* Reconnect backoff, doubling from min to max (0: 100 ms, 5 s). */
	unsigned int reconnect_min_ms;
	unsigned int reconnect_max_ms;
	/*
	 * A NODE_HEARTBEAT when nothing else was sent for this long (0:
	 * 500 ms): the coordinator declares a node dead when it hears
	 * nothing for its --dead-after-ms.  The tablets' request counters
	 * (NODE_LOAD, for the rebalancer) go at the same interval.
	 */
	unsigned int heartbeat_ms;
	/* Progress reports of one migration at most this often (0: 200 ms). */
	unsigned int progress_interval_ms;
	/*
	 * -1 (or 0 when the struct is zeroed and stop_fd_set is false):
	 * none.  Otherwise the agent stops cleanly once the fd is readable
	 * (tests; SIGINT and SIGTERM stop it anyway).
	 */
	int stop_fd;
	bool stop_fd_set;
	/* Do not touch SIGINT/SIGTERM/SIGPIPE dispositions (tests). */
	bool no_signals;
	const struct node_agent_nl_ops *nl;	/* NULL: real netlink */
	void *nl_arg;
};

/*
 * Run until SIGINT/SIGTERM (or stop_fd): 0 on a clean stop, 1 on a fatal
 * error (the module is not loaded, the data address is taken by another
 * listener, a key file that cannot be used, bad options).  Losing the
 * coordinator is not fatal.  SIGHUP reads the key files again.
 */
int node_agent_run(const struct node_agent_opts *o);

/*
 * A --client-key spec, "FILE:READ:WRITE": the key file, then the tables the
 * key may read and those it may write, each "all", table ids separated by
 * commas, or "-" for none (at least one right).  FILE is what comes before
 * the last two colons, into path.  0, or -1 with the reason in err.
 */
int node_agent_client_spec_parse(const char *spec, char *path, size_t path_len,
				 struct sknl_client_key *rights, char *err, size_t err_len);

#endif
