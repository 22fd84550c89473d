/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * steadykv coordinator protocol: between the coordinator (steadykvd
 * --coordinator) and node daemons, steadykvctl and client libraries, over
 * TCP.  Userspace only.
 *
 * Every message is a fixed 24-byte little-endian header and body_len
 * bytes of body, like the data plane (wire.h) but with its own magic.
 * Requests on one connection are answered in order.  A reply's status is
 * 0 or a positive errno (EINVAL, ENOENT, EEXIST, EBUSY, ...); a reply with
 * a non-zero status carries a NUL-terminated message as its body.
 *
 * Either side may send requests: a node daemon connects, sends
 * NODE_REGISTER, and from then on the coordinator sends it NODE_* commands
 * on the same connection (the daemon answers them) while the daemon sends
 * MIG_REPORT requests (the coordinator answers them).  A frame is a reply
 * when SKV_COORD_F_REPLY is set, so the two streams never mix up.
 */
#ifndef STEADYKV_COORD_H
#define STEADYKV_COORD_H

#include <stdint.h>
#include <linux/types.h>

#define SKV_COORD_MAGIC		0x4353	/* "SC" little-endian */
#define SKV_COORD_VERSION	2	/* 2: skv_coord_migration with a present mask */
#define SKV_COORD_DEFAULT_PORT	7100
#define SKV_COORD_MAX_BODY	(4u << 20)	/* larger frames close the connection */
#define SKV_COORD_F_REPLY	0x01
#define SKV_COORD_ADDR_MAX	128	/* "host:port", NUL-padded */

struct skv_coord_hdr {
	__le16 magic;		/* SKV_COORD_MAGIC */
	__u8 version;		/* SKV_COORD_VERSION */
	__u8 opcode;		/* enum skv_coord_op */
	__u8 flags;		/* SKV_COORD_F_* */
	__u8 reserved;
	__le16 status;		/* replies: 0 or a positive errno */
	__le64 request_id;
	__le32 body_len;
	/*
	 * Coordinator to node daemon (NODE_* commands): the map's version
	 * when it was sent, the epoch the node learns first (wire.h
	 * "Epochs").  0 in every other frame.
	 */
	__le32 epoch;
};

enum skv_coord_op {
	/* Anyone: the cluster map.  Body: empty.  Reply: skv_coord_map. */
	SKV_COORD_OP_GET_MAP = 1,
	/*
	 * Node daemon, first on its connection: body skv_coord_node, then
	 * (optional) __le64 incarnation: the module's node-get incarnation,
	 * drawn when the node began, which its data does not outlive.  The
	 * coordinator adds the node (or updates its address) and keeps the
	 * connection to send it NODE_* commands.  Reply: empty.  EEXIST if
	 * another live connection holds that id; EAGAIN if it was declared
	 * dead and its tablets are being rebuilt from its replicas (the
	 * daemon tries again after its backoff).  A known node that comes
	 * back with another incarnation than it had came back without its
	 * data: it is declared dead first (its tablets lost, to be rebuilt).
	 */
	SKV_COORD_OP_NODE_REGISTER = 2,
	/*
	 * Create a table split evenly over nodes: body skv_coord_table +
	 * nr_nodes __le32 node ids (0 nodes: every registered node, by id).
	 * The coordinator has each node add its tablet (NODE_TABLET_ADD)
	 * before it answers.  Reply: empty.
	 */
	SKV_COORD_OP_TABLE_CREATE = 3,
	SKV_COORD_OP_TABLE_DROP = 4,	/* body skv_coord_table (nr_nodes 0); reply empty */
	/*
	 * Start a migration: body skv_coord_migration with table_id,
	 * start_hash, end_hash, dst and the tuning fields that were given
	 * (the others take the module's defaults).  The tuning is checked
	 * first (skv_mig_tuning_invalid, include/steadykv/migration.h):
	 * EINVAL with the reason before anything changes.  The range must lie
	 * inside one tablet (the coordinator splits its map to make the range
	 * a tablet).  Reply: skv_coord_migration with the id, src and source
	 * address filled in.  EINVAL (bad range, dst is the owner),
	 * ENOENT (table, node), EBUSY (overlaps a migration in progress),
	 * EHOSTUNREACH (a node daemon is not connected).
	 */
	SKV_COORD_OP_MIGRATE = 5,
	/*
	 * Migrations: body __le64 id (0: all, newest last).  Reply: __le32
	 * count, __le32 reserved, then count skv_coord_migration.
	 */
	SKV_COORD_OP_MIG_STATUS = 6,
	SKV_COORD_OP_MIG_CANCEL = 7,	/* body __le64 id; reply empty */
	/*
	 * Node daemon to coordinator: a migration it runs changed phase or
	 * made progress.  Body skv_coord_migration (id, state, error,
	 * counters, msg; the tuning as the module reports it).  Reply: empty.
	 */
	SKV_COORD_OP_MIG_REPORT = 8,
	/*
	 * Authentication (steadykv/auth.h), first on a connection: body
	 * struct skv_auth_hello; reply struct skv_auth_challenge.  Then
	 * AUTH_PROOF: body struct skv_auth_proof; reply empty, and from then
	 * on the connection acts with the HELLO's role: PEER (node daemons,
	 * the cluster key) or ADMIN (steadykvctl, the admin key).  A wrong
	 * proof, an unknown key id or a step out of order is answered
	 * SKV_COORD_ERR_AUTH_FAILED and the connection is closed.
	 */
	SKV_COORD_OP_AUTH_HELLO = 9,
	SKV_COORD_OP_AUTH_PROOF = 10,
	/*
	 * Node daemon, registered, every heartbeat interval: body and reply
	 * empty.  Any frame from a node counts as a sign of life; this one
	 * is sent when there is nothing else to say.  The coordinator
	 * declares a node dead when it heard nothing from it for
	 * --dead-after-ms (userspace/coord/coord_liveness.c has the bound).
	 */
	SKV_COORD_OP_NODE_HEARTBEAT = 11,
	/*
	 * Node daemon, registered, every heartbeat interval: its tablets'
	 * request counters (the module's tablet-get metrics-requests), for
	 * the rebalancer (userspace/coord/coord_rebalance.c makes rates of
	 * successive reports).  Body: skv_coord_load then nr_tablets
	 * skv_coord_tablet_load.  Reply: empty.  A sign of life like any
	 * frame.  The rebalancer decides only while every node that is up
	 * sends it; an older coordinator answers EOPNOTSUPP and the daemon
	 * sends heartbeats instead.
	 */
	SKV_COORD_OP_NODE_LOAD = 14,

	/* Coordinator to node daemon (replies: status and message). */
	SKV_COORD_OP_NODE_TABLET_ADD = 16,	/* body skv_coord_tablet; adds the table if needed */
	SKV_COORD_OP_NODE_TABLET_DEL = 17,	/* body skv_coord_tablet */
	SKV_COORD_OP_NODE_TABLE_DEL = 18,	/* body skv_coord_table */
	SKV_COORD_OP_NODE_MIGRATE_START = 19,	/* body skv_coord_migration, src_addr set */
	SKV_COORD_OP_NODE_MIGRATE_CANCEL = 20,	/* body __le64 id */
	/*
	 * The coordinator's decision on a migration, to its source's daemon
	 * (netlink migrate-decide): body skv_coord_decision.  Sent when the
	 * target reports the end (done: commit; cancelled or failed without
	 * SKV_COORD_ERR_NEEDS_RECOVERY: abort), and again for the ended
	 * migrations of a node daemon that registers, so a range frozen at
	 * a source whose END got lost is released.  ENOENT: the source had
	 * no such migration (it remembers the decision all the same).  Also
	 * to a target whose migration ended with the range frozen
	 * (SKV_COORD_ERR_HANDED_BACK below).
	 */
	SKV_COORD_OP_NODE_MIGRATE_DECIDE = 21,
	/*
	 * The node's replication (steadykvd --coordinator --replicas R): body
	 * skv_coord_repl then nr_backups struct skv_coord_node (its backups);
	 * the daemon sets them in its module (netlink repl-set).
	 */
	SKV_COORD_OP_NODE_REPL_SET = 22,
	/*
	 * Fence a dead primary at one of its backups (netlink repl-fence):
	 * body skv_coord_repl with nr_backups 0, the dead node's id and an
	 * epoch above any it was given, so that, if it was only cut off, its
	 * backups no longer acknowledge its writes.
	 */
	SKV_COORD_OP_NODE_REPL_FENCE = 23,
	/*
	 * Crash recovery (userspace/coord/coord_recovery.c): rebuild a lost
	 * tablet of a dead primary from the replica of its log this node
	 * holds as its backup (netlink repl-recover).  Body skv_coord_repl
	 * (nr_backups 0: the dead node's id and the epoch to fence it with
	 * and read its replica at) then skv_coord_tablet (the range; owner:
	 * this node).  The reply comes when the tablet is served here.
	 */
	SKV_COORD_OP_NODE_REPL_RECOVER = 12,
};

struct skv_coord_load {
	__le64 sampled_ms;	/* the node's monotonic clock at the reading */
	__le32 nr_tablets;
	__le32 reserved;
};

struct skv_coord_tablet_load {
	__le64 table_id;
	__le64 start_hash;	/* the module's tablet, inclusive */
	__le64 end_hash;
	__le64 requests;	/* data requests since it got its range */
};

struct skv_coord_decision {
	__le64 id;
	__le32 abort;		/* 1: hand the range back to the source; 0: commit */
	__le32 reserved;
};

/*
 * How the coordinator (userspace/coord/coordinator.c) applies these, in
 * addition to the notes above:
 *
 * - TABLE_CREATE with 0 nodes takes the registered nodes whose daemon is
 *   connected now.  The map changes only once every NODE_TABLET_ADD
 *   succeeded; on a failure the nodes that added their tablet get
 *   NODE_TABLE_DEL and the reply carries the first error.
 * - TABLE_DROP: EBUSY while a migration of the table is in progress; the
 *   table leaves the map first, then every connected node gets
 *   NODE_TABLE_DEL (their errors are only logged).
 * - MIGRATE replies after the target answered NODE_MIGRATE_START; a
 *   refusal fails the migration and its status and message are the
 *   reply's.  The map's owner changes on MIG_REPORT: PULLING of a
 *   Rocksteady migration makes the target the owner (tablet state 1, src
 *   kept); DONE makes it the owner, state 0 (push mode: only now);
 *   FAILED/CANCELLED give the range back to the source, unless the error
 *   is SKV_COORD_ERR_NEEDS_RECOVERY: then the target stays the owner and
 *   the lineage record is kept for a recovery.  Only the target may
 *   report (EPERM).  A report may skip phases; one whose phase does not
 *   come after the phase held (skv_mig_state_later: the same, an earlier
 *   one, anything after a final phase) changes no phase; reports of a
 *   finished migration are acknowledged and ignored.
 * - MIG_CANCEL forwards NODE_MIGRATE_CANCEL to the target and answers
 *   with its status; the migration ends with the target's report.  A
 *   migration still PREPARING whose target daemon is not connected is
 *   cancelled by the coordinator itself.  EINVAL if it already ended.
 * - MIG_STATUS keeps the newest 64 migrations.  A migration in progress
 *   whose target daemon is not connected shows the msg "target daemon
 *   disconnected".  Counters are not durable: after a coordinator restart
 *   they are 0 until the next report.
 */
#define SKV_COORD_ERR_NEEDS_RECOVERY	EUCLEAN	/* MIG_REPORT error; needs <errno.h> */
/*
 * A migration that ended with SKV_COORD_ERR_NEEDS_RECOVERY because its
 * range is frozen at both nodes (the target could not hand it back for
 * mig_retry_ms: a partition between the two, a source refusing the
 * push-back), both nodes up: the coordinator sends its target
 * NODE_MIGRATE_DECIDE with abort (coord_release_tick), again with backoff
 * (2 s doubling to 30 s) until the target reports the same final phase
 * with this error: the source serves the range again with every write
 * taken at the target, the map makes it the owner and the lineage record
 * goes.  Until then the range is served by neither (nothing is lost).
 * Not handed back for --evict-after-ms (6 x --dead-after-ms; a partition
 * that does not heal), with replication and the target one of the
 * source's backups, the source is declared dead (evicted) and the range
 * completed at the target (SKV_COORD_ERR_COMPLETED_AT_TARGET).
 */
#define SKV_COORD_ERR_HANDED_BACK	EREMOTE	/* MIG_REPORT error */
/*
 * A migration whose source died (or was declared dead: a frozen range
 * the two could not hand back, coord_release_tick) after ownership moved,
 * its range completed at the target from the source's replica: the
 * source is sent NODE_MIGRATE_DECIDE with commit, so that a source that
 * still lives drops its frozen copy when its daemon registers again.
 */
#define SKV_COORD_ERR_COMPLETED_AT_TARGET	EREMCHG	/* a migration's error */

/*
 * Who may do what.  GET_MAP and MIG_STATUS (reads) are open to anyone,
 * so routing clients need no key (client keys are not served here: anyone
 * who reaches the port can read the map and the migrations).
 * NODE_REGISTER and MIG_REPORT need a PEER connection (and replies to
 * NODE_* commands come only from registered ones); TABLE_CREATE,
 * TABLE_DROP, MIGRATE and MIG_CANCEL need an ADMIN connection.  Otherwise
 * the reply is SKV_COORD_ERR_AUTH_REQUIRED (not authenticated: the
 * connection stays open) or SKV_COORD_ERR_WRONG_ROLE, and nothing changes.
 * A coordinator with no key for a role refuses that role's ops unless it
 * runs --insecure.
 */
#define SKV_COORD_ERR_AUTH_REQUIRED	EACCES
#define SKV_COORD_ERR_WRONG_ROLE	EPERM
#define SKV_COORD_ERR_AUTH_FAILED	EKEYREJECTED

struct skv_coord_table {
	__le64 table_id;
	__le32 nr_nodes;
	__le32 reserved;
};

/*
 * A migration, as requested, commanded, reported and listed: the wire
 * form of userspace's one migration record, struct skv_migration
 * (userspace/common/mig_record.h), field for field.
 *
 * present has bit (1 << STEADYKV_A_MIGRATION_*) for each netlink field
 * that is set, as the record's does.  A tuning field (mode, partitions,
 * pulls_in_flight, pull_budget, priority_pulls) whose bit is clear was
 * not given: it takes the module's default (the spec's
 * STEADYKV_MIGRATION_*_DEFAULT) and is sent as 0.  Bits other than the
 * migration attributes', and a non-zero tuning field whose bit is clear,
 * make the body malformed.  mode, state and the tuning fields take the
 * values of the netlink enums and attributes (uapi/linux/steadykv.h).
 *
 * Version 1 of the protocol had no present mask: a tuning field of 0 (and
 * priority_pulls 2) meant the default.  Version 2 changed the layout; a
 * peer of the other version fails at the header (coord_hdr_decode).
 */
struct skv_coord_migration {
	__le64 present;		/* 1 << STEADYKV_A_MIGRATION_* */
	__le64 id;
	__le64 table_id;
	__le64 start_hash;
	__le64 end_hash;
	__le32 src;		/* node ids */
	__le32 dst;
	__le32 mode;
	__le32 partitions;
	__le32 pulls_in_flight;
	__le32 pull_budget;
	__u8 priority_pulls;	/* 0 or 1 */
	__u8 reserved[3];
	__le32 state;
	__le32 error;		/* positive errno, 0 if none */
	__le32 progress_permille;
	__le32 partitions_done;
	__le32 reserved2;
	__le64 safe_version;
	__le64 started_unix_ms;	/* set by the coordinator */
	__le64 elapsed_us;
	__le64 owned_us;
	__le64 bytes_pulled;
	__le64 records_pulled;
	__le64 records_replayed;
	__le64 records_skipped;
	__le64 pulls;
	__le64 priority_pulls_sent;
	__le64 priority_keys;
	char src_addr[SKV_COORD_ADDR_MAX];	/* the source "host:port" */
	char msg[256];		/* failure reason, NUL-terminated */
};

/*
 * Reply to GET_MAP: this header, nr_nodes struct skv_coord_node, then
 * nr_tablets struct skv_coord_tablet sorted by (table_id, start_hash).
 * The tablets of a table cover 0..UINT64_MAX without overlap.  owner is
 * the node that serves the tablet now: during a Rocksteady migration that
 * is already the target.
 */
struct skv_coord_map {
	__le64 version;		/* bumped by every change */
	__le32 nr_nodes;
	__le32 nr_tablets;
};

/* skv_coord_node.flags (GET_MAP; 0 in NODE_REGISTER) */
#define SKV_COORD_NODE_F_DEAD	0x1	/* declared dead, not back since */
#define SKV_COORD_NODE_F_UP	0x2	/* daemon connected and heard in time */

struct skv_coord_node {
	__le32 id;
	__le32 flags;		/* SKV_COORD_NODE_F_* */
	char addr[SKV_COORD_ADDR_MAX];	/* data-plane address "host:port" */
};

/* NODE_REPL_SET: the node replicates its log to nr_backups nodes. */
struct skv_coord_repl {
	__le64 primary_id;	/* the node's id */
	__le64 epoch;		/* its backups refuse older ones */
	__le32 nr_backups;	/* SKV_COORD_REPL_MAX at most */
	__le32 reserved;
};

#define SKV_COORD_REPL_MAX	4u

struct skv_coord_tablet {
	__le64 table_id;
	__le64 start_hash;	/* inclusive */
	__le64 end_hash;	/* inclusive */
	__le32 owner;		/* node id */
	__le32 state;		/* 0 normal, 1 migrating (owner is the target) */
	__le32 src;		/* while migrating: the source node */
	__le32 flags;		/* SKV_COORD_TABLET_F_* (GET_MAP) */
};

/*
 * The tablet's owner was declared dead while it owned it: its data is
 * lost until recovery rebuilds it; the owner (even back as a new
 * incarnation) does not serve it.
 */
#define SKV_COORD_TABLET_F_LOST	0x1

#endif /* STEADYKV_COORD_H */
