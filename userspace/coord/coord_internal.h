/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The coordinator's insides, shared by its files (coordinator.h is the
 * outside):
 *
 *   coordinator.c        the connection loop: accept, read, dispatch,
 *                        write; durable state (persist, reload); lifecycle
 *   coord_ops.c          op machinery: ops waiting for node daemons, the
 *                        commands (cmds) sent to them and their replies
 *   coord_tables.c       handlers: GET_MAP, NODE_REGISTER, TABLE_CREATE,
 *                        TABLE_DROP
 *   coord_migrations.c   handlers: MIGRATE, MIG_STATUS, MIG_CANCEL,
 *                        MIG_REPORT; the migration records and lineage
 *   coord_auth.c         keys, AUTH_HELLO, AUTH_PROOF, who may do what
 *   coord_liveness.c     failure detection: heartbeats, suspicions, nodes
 *                        declared dead, lost tablets, the fence hook
 *   coord_recovery.c     crash recovery: lost tablets rebuilt on backups
 *   coord_rebalance.c    automatic rebalancing: NODE_LOAD, the policy
 */
#ifndef SKV_COORD_INTERNAL_H
#define SKV_COORD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uapi/linux/steadykv.h>

#include "coord_proto.h"
#include "coordinator.h"
#include "../common/array.h"
#include "../common/auth_key.h"
#include "state_store.h"
#include "tablet_map.h"

#define MAX_CONNS		1024
#define MAX_TABLE_NODES		4096	/* tablets of one TABLE_CREATE */
#define OUT_LIMIT		(64u << 20)	/* unread replies: close */
#define READ_CHUNK		65536u
/*
 * Largest request body from a connection not authenticated (unless
 * --insecure): reads and the AUTH_* bodies are far smaller, and 1024 such
 * connections then hold at most about a read chunk each, not a 4 MiB frame.
 */
#define COORD_UNAUTH_MAX_BODY	4096u
#define DEFAULT_LISTEN		"0.0.0.0:7100"
#define DEFAULT_STATE		"./steadykv-coord.state"
#define DEFAULT_NODE_TIMEOUT	10000
/* Failure detection (coord_liveness.c has the bound they make). */
#define COORD_DEFAULT_DEAD_AFTER_MS	5000
#define COORD_SUSPECT_DIV	4	/* P = D / 4 after a peer's report */
#define COORD_LIVE_TICK_MS	100	/* T: how often the check runs */
#define COORD_START_GRACE_MS	10000	/* a daemon's time to reconnect */

/* The progress counters a MIG_REPORT brings (kept in memory only). */
#define REPORT_COUNTER_BITS					\
	((1ull << STEADYKV_A_MIGRATION_PROGRESS_PERMILLE) |	\
	 (1ull << STEADYKV_A_MIGRATION_ELAPSED_US) |		\
	 (1ull << STEADYKV_A_MIGRATION_OWNED_US) |		\
	 (1ull << STEADYKV_A_MIGRATION_BYTES_PULLED) |		\
	 (1ull << STEADYKV_A_MIGRATION_RECORDS_PULLED) |	\
	 (1ull << STEADYKV_A_MIGRATION_RECORDS_REPLAYED) |	\
	 (1ull << STEADYKV_A_MIGRATION_RECORDS_SKIPPED) |	\
	 (1ull << STEADYKV_A_MIGRATION_PULLS) |			\
	 (1ull << STEADYKV_A_MIGRATION_PRIORITY_PULLS_SENT) |	\
	 (1ull << STEADYKV_A_MIGRATION_PRIORITY_KEYS) |		\
	 (1ull << STEADYKV_A_MIGRATION_PARTITIONS_DONE))

struct conn {
	int fd;
	bool dead;
	bool busy;		/* one of its requests waits for nodes */
	uint32_t node_id;	/* registered node daemon, 0 otherwise */
	struct coord_buf in, out;
	bool closing;		/* close once out is sent; read nothing more */
	uint8_t role;		/* authenticated enum skv_auth_role, 0: none */
	/* Between AUTH_HELLO and AUTH_PROOF: */
	bool auth_pending;
	struct skv_auth_hello auth_hello;
	struct skv_auth_challenge auth_challenge;
	struct skv_auth_key auth_key;	/* the key the HELLO named */
};

/* A role's keys: the current one first, the previous one (rotation). */
struct coord_keyset {
	struct skv_auth_key k[2];
	int n;
};

enum op_kind { OP_CREATE, OP_DROP, OP_MIGRATE, OP_CANCEL, OP_RECOVER };

struct op {
	struct op *next;
	struct conn *client;	/* NULL once the client left */
	uint8_t opcode;
	uint64_t req_id;
	enum op_kind kind;
	uint64_t table_id;
	uint64_t mig_id;
	int pending;		/* cmds without a reply yet */
	int err;		/* first failure, positive errno */
	char msg[256];
	bool unanswered;	/* a command sent got no reply (daemon lost, timeout) */
	/* OP_CREATE: the tablets to add, which node acked. */
	struct tmap_tablet *tablets;
	uint32_t *owners;
	bool *acked;
	size_t nr;
};

struct cmd {
	struct cmd *next;
	struct conn *node;
	uint64_t req_id;
	uint8_t opcode;
	struct op *op;		/* NULL: nobody waits for the reply */
	size_t idx;
	int64_t deadline;	/* monotonic ms */
};

/* A lost tablet's recovery (coord_recovery.c; memory only). */
struct coord_recovery {
	uint64_t table_id;
	uint64_t start, end;
	uint32_t dead;		/* the node it was lost with */
	uint32_t target;	/* the node recovering it (last tried) */
	uint32_t in_doubt;	/* lost its daemon mid-recovery: only it may go on */
	bool running;		/* NODE_REPL_RECOVER sent, no answer yet */
	bool done;		/* recovered on target: for the dead node's return */
	bool waiting;		/* no candidate (logged once) */
	uint32_t attempts;	/* failed so far */
	uint32_t refusals;	/* of them, not for a busy range (EAGAIN, EBUSY) */
	int64_t retry_ms;	/* monotonic: not tried again before */
	int64_t started_ms;	/* monotonic: the last attempt's start */
};

/*
 * A migration that ended with its range frozen at both nodes, both up:
 * the coordinator's decision (abort) to its target, resent with backoff
 * until the target reports the range handed back (memory only: the
 * frozen migrations are found again in the state file).
 */
struct coord_release {
	uint64_t mig_id;
	uint32_t attempts;	/* decisions sent */
	int64_t first_ms;	/* monotonic: the first one */
	int64_t next_ms;	/* monotonic: not sent again before */
};

/* What the coordinator knows of a node's life (memory only). */
struct coord_live {
	uint32_t id;
	bool dead;		/* declared dead, not registered since */
	uint32_t comebacks;	/* registrations after being declared dead */
	int64_t heard_ms;	/* monotonic: last frame (or grace end) */
	int64_t suspect_ms;	/* a peer's report, 0: none since heard */
};

struct coordinator {
	int lfd;
	uint16_t port;
	struct coord_store *store;
	struct coord_state st;
	struct conn **conns;
	size_t nr_conns;
	struct op *ops;
	struct cmd *cmds;
	uint64_t next_cmd_id;
	int node_timeout_ms;
	int verbose, quiet;
	/* [0] PEER (cluster keys), [1] ADMIN: the files, and their keys. */
	char *key_paths[2][2];
	struct coord_keyset keys[2];
	bool insecure;
	/*
	 * Ended migrations whose decision their source's daemon has not
	 * been sent (it was not connected): sent when it registers.  Not
	 * durable: a coordinator restarted has none.
	 */
	uint64_t *undecided;
	size_t nr_undecided;
	struct coord_release *rel;	/* coord_migrations.c */
	size_t nr_rel;
	/* Replication (coord_repl.c; the assignments are in st): R, the last epoch given. */
	unsigned int replicas;
	uint64_t repl_epoch;
	int dead_after_ms;	/* D: a node silent this long is dead */
	int64_t evict_after_ms;	/* a range frozen this long evicts its source */
	int64_t live_tick_ms;	/* last liveness check */
	int64_t start_grace_end_ms;	/* the daemons' time to reconnect after our start */
	struct coord_live *live;
	size_t nr_live;
	struct coord_recovery *recov;	/* coord_recovery.c */
	size_t nr_recov;
	struct coord_rebalance *rb;	/* coord_rebalance.c */
};

/* coordinator.c: helpers, replies, durable state */
int64_t coord_mono_ms(void);
/* A retry's wait: min_ms doubled per earlier attempt, at most max_ms. */
int64_t coord_backoff_ms(uint32_t attempts, int64_t min_ms, int64_t max_ms);
uint64_t coord_unix_ms(void);
void coord_logmsg(const struct coordinator *c, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct conn *coord_node_conn(const struct coordinator *c, uint32_t id);
/* A frame to cn (a request or an OK reply); epoch: coord.h, 0 = none. */
void coord_conn_frame(struct conn *cn, uint8_t opcode, uint8_t flags,
		      uint32_t epoch, uint64_t id, const void *body, size_t len);
void coord_reply_ok(struct conn *cn, uint8_t opcode, uint64_t id,
		    const void *body, size_t len);
void coord_reply_err(struct conn *cn, uint8_t opcode, uint64_t id, int err,
		     const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void coord_reload(struct coordinator *c);
int coord_persist(struct coordinator *c, char *msg, size_t n);

/* coord_auth.c */
/* (Re)load every key file; on failure the keys stay as they were. */
int coord_keys_load(struct coordinator *c, char *err, size_t errlen);
void coord_keys_clear(struct coordinator *c);
void coord_do_auth_hello(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body);
void coord_do_auth_proof(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body);
/*
 * Whether @cn may run an op that needs @role (enum skv_auth_role); if
 * not, the refusal is answered.
 */
bool coord_allowed(struct coordinator *c, struct conn *cn,
		   const struct coord_hdr *h, int role);

/* coord_ops.c */
void coord_op_fail(struct op *op, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A command that ends only with its node's reply or death. */
#define COORD_NO_DEADLINE INT64_MAX
/* coord_send_cmd with its own deadline (monotonic ms); the other fails at
 * the node timeout.
 */
int coord_send_cmd_until(struct coordinator *c, uint32_t node, uint8_t opcode,
			 const struct coord_buf *body, struct op *op, size_t idx,
			 int64_t deadline);
int coord_send_cmd(struct coordinator *c, uint32_t node, uint8_t opcode,
		   const struct coord_buf *body, struct op *op, size_t idx);
void coord_handle_reply(struct coordinator *c, struct conn *cn,
			const struct coord_hdr *h, const uint8_t *body);
void coord_fail_cmds(struct coordinator *c, const struct conn *gone,
		     int64_t now);
/* client and h are NULL for an op of the coordinator's own. */
struct op *coord_op_new(struct coordinator *c, struct conn *client,
			const struct coord_hdr *h, enum op_kind kind);
void coord_op_start_done(struct coordinator *c, struct op *op);
bool coord_table_has_op(const struct coordinator *c, uint64_t table_id);
void coord_op_free(struct coordinator *c, struct op *op);

/* coord_tables.c */
void coord_finish_create(struct coordinator *c, struct op *op);
void coord_do_get_map(struct coordinator *c, struct conn *cn,
		      const struct coord_hdr *h);
void coord_do_register(struct coordinator *c, struct conn *cn,
		       const struct coord_hdr *h, const uint8_t *body);
void coord_do_table_create(struct coordinator *c, struct conn *cn,
			   const struct coord_hdr *h, const uint8_t *body);
void coord_do_table_drop(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body);

/* coord_repl.c */
/* Give every connected node its backups (after a node registers). */
void coord_repl_assign(struct coordinator *c);
/* After loading the state: epochs go on above the saved bound and the clock. */
void coord_repl_start(struct coordinator *c, uint64_t clock_ms);
/* A new epoch, its bound saved first; 0 if the state could not be saved. */
uint64_t coord_repl_next_epoch(struct coordinator *c);
/* @node's last assignment (its backups, also once fenced), or NULL. */
const struct coord_repl_info *coord_repl_find(const struct coordinator *c, uint32_t node);
void coord_repl_fence(struct coordinator *c, uint32_t node);
/* Is @backup one of @primary's backups (as last assigned)? */
bool coord_repl_backs_up(const struct coordinator *c, uint32_t backup, uint32_t primary);

/* coord_migrations.c */
struct skv_migration *coord_mig_find(struct coordinator *c, uint64_t id);
void coord_lineage_drop(struct coordinator *c, uint64_t mig_id,
			uint64_t table_id);
void coord_finish_migrate(struct coordinator *c, struct op *op);
void coord_finish_cancel(struct coordinator *c, struct op *op);
void coord_cancel_in_doubt(struct coordinator *c, uint32_t node);
/*
 * node's daemon registered: its migrations in doubt are cancelled
 * (coord_cancel_in_doubt) and the decisions it missed are sent.
 */
void coord_migs_node_registered(struct coordinator *c, uint32_t node);
void coord_do_migrate(struct coordinator *c, struct conn *cn,
		      const struct coord_hdr *h, const uint8_t *body);
/*
 * Start migration @req (range, dst, tuning: MIGRATE's checks): 0 and its
 * *id, or a positive errno and why in @reason.  With @cn and @h, the op
 * answers that request once the target did; NULL: the coordinator's own.
 */
int coord_mig_start(struct coordinator *c, struct conn *cn,
		    const struct coord_hdr *h, const struct skv_migration *req,
		    uint64_t *id, char *reason, size_t reason_len);
void coord_do_mig_status(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body);
void coord_do_mig_cancel(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body);
void coord_do_mig_report(struct coordinator *c, struct conn *cn,
			 const struct coord_hdr *h, const uint8_t *body);
/*
 * Send the decision to abort to the target of each migration that ended
 * with its range frozen at both nodes (SKV_COORD_ERR_NEEDS_RECOVERY, its
 * lineage record kept, both nodes up, the range not lost): the target
 * hands the range back and reports SKV_COORD_ERR_HANDED_BACK.  Past
 * --evict-after-ms without it, the source is evicted (coord_live_evict).
 */
void coord_release_tick(struct coordinator *c);
/*
 * @g ended with its range frozen at both nodes, the target its owner in
 * the map, its lineage record kept and the range not lost.
 */
bool coord_mig_frozen(struct coordinator *c, const struct skv_migration *g);
/*
 * @g's range was completed at its target from its source's replica
 * (SKV_COORD_ERR_COMPLETED_AT_TARGET): say so with @msg and send the
 * source the decision to commit.
 */
void coord_mig_completed_at_target(struct coordinator *c, struct skv_migration *g,
				   const char *msg);
/* End @g in @state with @error and @msg (map and lineage follow). */
void coord_mig_end(struct coordinator *c, struct skv_migration *g,
		   uint32_t state, uint32_t error, const char *msg);

/* coord_liveness.c (its top comment has the bound and what follows) */
int coord_live_init(struct coordinator *c, int dead_after_ms);
void coord_live_free(struct coordinator *c);
/* A frame came from registered node @node. */
void coord_live_heard(struct coordinator *c, uint32_t node);
/*
 * Dead @node is about to be told it registered: mark its lost tablets as
 * out of recovery's reach (its new incarnation opens its replicas afresh)
 * and persist that first, or fail (the saved state back).  0 if it is not
 * dead.
 */
int coord_live_coming_back(struct coordinator *c, uint32_t node, char *msg, size_t n);
/* @node registered: a dead node comes back as a new incarnation. */
void coord_live_registered(struct coordinator *c, uint32_t node);
/* A peer reports a request to @node failed. */
void coord_live_suspect(struct coordinator *c, uint32_t node, uint32_t reporter,
			const char *why);
/* Declare @node dead now for @why (a live node the cluster must do without). */
void coord_live_evict(struct coordinator *c, uint32_t node, const char *why);
/* Declare dead the nodes past their bound (runs each COORD_LIVE_TICK_MS). */
void coord_live_tick(struct coordinator *c);
/* Where the fence of a node declared dead is to be sent. */
void coord_fence_dead_node(struct coordinator *c, uint32_t node);
bool coord_node_dead(const struct coordinator *c, uint32_t node);
bool coord_node_up(const struct coordinator *c, uint32_t node);
uint32_t coord_node_flags(const struct coordinator *c, uint32_t node);
/* Some of [start, end] of the table is lost with a dead node. */
bool coord_tablet_lost(const struct coordinator *c, uint64_t table_id,
		       uint64_t start, uint64_t end);
/* NODE_HEARTBEAT: the frame itself was the sign of life. */
void coord_do_heartbeat(struct conn *cn, const struct coord_hdr *h);

/* coord_recovery.c (its top comment says what recovery does) */
/* Start the recoveries due (runs after each liveness check). */
void coord_recovery_tick(struct coordinator *c);
/* An OP_RECOVER's answer is in. */
void coord_finish_recover(struct coordinator *c, struct op *op);
/*
 * How many lost tablets of dead @node are being rebuilt, or may still be:
 * it may not register again before that is 0.
 */
size_t coord_recovery_pending(struct coordinator *c, uint32_t node);
/* Dead @node registered again: it drops the tablets recovered elsewhere. */
void coord_recovery_node_back(struct coordinator *c, uint32_t node);
void coord_recovery_free(struct coordinator *c);
/* coord_rebalance.c (its top comment has the policy) */
int coord_rebalance_init(struct coordinator *c, const struct rebalance_opts *o);
void coord_rebalance_free(struct coordinator *c);
/* NODE_LOAD: a node's tablets' request counters. */
void coord_do_node_load(struct coordinator *c, struct conn *cn,
			const struct coord_hdr *h, const uint8_t *body);
/* Decide, and move a range if the policy says so (each 500 ms at most). */
void coord_rebalance_tick(struct coordinator *c);
/* Migrations the rebalancer started (or, @dry_run, would have). */
uint64_t coord_rebalance_moves(const struct coordinator *c, bool dry_run);

#endif /* SKV_COORD_INTERNAL_H */
