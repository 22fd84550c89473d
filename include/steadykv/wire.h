/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * steadykv wire protocol: the data plane between clients and nodes, and
 * (later) between nodes for migration pulls.
 *
 * Every message, request or reply, is a fixed 24-byte little-endian header
 * followed by body_len bytes of body.  Requests are pipelined: a client may
 * send many before reading any reply; replies come back in request order
 * and echo the request id.  All integers are little-endian.  This header is
 * shared verbatim by the kernel module and userspace.
 */
#ifndef STEADYKV_WIRE_H
#define STEADYKV_WIRE_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#include <linux/types.h>
#endif

#define SKV_WIRE_MAGIC		0x564b	/* "KV" little-endian */
#define SKV_WIRE_VERSION	1

/* Limits, enforced by the node; a request over a limit gets SKV_S_TOO_BIG. */
#define SKV_MAX_KEY_LEN		1024u
#define SKV_MAX_VALUE_LEN	(256u * 1024u)
#define SKV_MAX_MULTI_KEYS	256u
/*
 * Largest body a node accepts or sends; a larger body_len closes the
 * connection.  The 128 bytes over a largest key and value hold the
 * fixed part of any op carrying them, including a pull reply or a
 * PUSH_BACK with one largest record (record.h: a 40-byte header and
 * padding, a batch header), so any record a node stores can migrate.
 */
#define SKV_MAX_BODY_LEN	(SKV_MAX_VALUE_LEN + SKV_MAX_KEY_LEN + 128u)

enum skv_opcode {
	SKV_OP_PING	= 1,	/* body: empty; reply body: empty */
	SKV_OP_GET	= 2,	/* body: skv_key_req; reply: skv_val_reply */
	SKV_OP_PUT	= 3,	/* body: skv_put_req; reply: skv_ver_reply */
	SKV_OP_DELETE	= 4,	/* body: skv_key_req; reply: skv_ver_reply */
	SKV_OP_MULTI_GET = 5,	/* body: skv_multi_req; reply: skv_multi_reply */
	/*
	 * Node-to-node migration ops, sent by the target of a migration to
	 * its source on connections of their own (see "Migration" below).
	 */
	SKV_OP_MIG_PREPARE = 6,	/* body: skv_mig_range_req; reply: skv_mig_prepare_reply */
	SKV_OP_MIG_PULL = 7,	/* body: skv_pull_req; reply: skv_pull_reply + batch */
	SKV_OP_MIG_PRIORITY_PULL = 8, /* body: skv_prio_pull_req + hashes; reply: skv_pull_reply + batch */
	SKV_OP_MIG_END = 9,	/* body: skv_mig_range_req; reply: empty */
	SKV_OP_MIG_PUSH_BACK = 10, /* body: skv_push_back_req + batch; reply: empty */
	/* Authentication of a connection (steadykv/auth.h). */
	SKV_OP_AUTH_HELLO = 11,	/* body: skv_auth_hello; reply: skv_auth_challenge */
	SKV_OP_AUTH_PROOF = 12,	/* body: skv_auth_proof; reply: empty */
	/* Migration: where one stands at the source (see "Migration"). */
	SKV_OP_MIG_STATUS = 13,	/* body: skv_mig_range_req; reply: skv_mig_status_reply */
	/*
	 * Node-to-node replication ops, sent by a primary to its backups on
	 * connections of their own (see "Replication" below).
	 */
	SKV_OP_REPL_WRITE = 14,	/* body: skv_repl_write_req + records; reply: skv_repl_pos_reply */
	SKV_OP_REPL_READ = 15,	/* body: skv_repl_read_req; reply: skv_repl_read_reply + records */
	SKV_OP_REPL_OPEN = 16,	/* body: skv_repl_open_req; reply: skv_repl_pos_reply */
	SKV_OP_MAX,
};

/*
 * Status codes a client can act on.  A reply with status != SKV_S_OK
 * carries the body documented per status (usually empty).
 */
enum skv_status {
	SKV_S_OK		= 0,
	SKV_S_NOT_FOUND		= 1,	/* no such key (reply: skv_ver_reply, version of tombstone or 0) */
	/* Or cannot vouch that it still does: its read lease lapsed (repl_primary.h). */
	SKV_S_NOT_OWNER		= 2,	/* node does not own the key's tablet: refresh the map */
	SKV_S_RETRY		= 3,	/* try again after skv_retry_reply.retry_us */
	SKV_S_NO_SPACE		= 4,	/* memory limit reached */
	SKV_S_BAD_REQUEST	= 5,	/* malformed body */
	SKV_S_VERSION_MISMATCH	= 6,	/* conditional write failed (reply: skv_ver_reply, current version) */
	SKV_S_TOO_BIG		= 7,	/* key or value over the limit */
	SKV_S_UNKNOWN_OP	= 8,	/* opcode not known */
	SKV_S_UNKNOWN_TABLE	= 9,	/* no such table on this node */
	SKV_S_INTERNAL		= 10,	/* unexpected node error */
	SKV_S_BUSY		= 11,	/* migration: the range is already migrating, or spans tablets */
	SKV_S_NO_MIGRATION	= 12,	/* migration: no such migration at this source */
	SKV_S_AUTH_REQUIRED	= 13,	/* op needs an authenticated connection: it closes */
	SKV_S_AUTH_FAILED	= 14,	/* wrong key, unknown key_id or replayed proof: it closes */
	SKV_S_VERSION_LIMIT	= 15,	/* the node's version counter is at its ceiling: no more writes */
	SKV_S_STALE_EPOCH	= 16,	/* the request's epoch is older than the node's: refresh the map */
	SKV_S_ACCESS_DENIED	= 17,	/* the connection's client key may not read (GET, MULTI_GET) or write (PUT, DELETE) the table */
	SKV_S_NOT_BACKUP	= 18,	/* replication: no replica of that primary here */
	SKV_S_BACKUP_FULL	= 19,	/* replication: the replica is at its bound or memory is out */
	SKV_S_MAX,
};

/* A status's name (as in this enum) and what it tells a client. */
struct skv_status_info {
	const char *name;
	const char *msg;
};

/*
 * The one table of status names and messages (the module's log, the
 * library's skv_code_name() and skv_strerror(), the metrics' labels):
 * NULL for a number that is not a status.
 */
static inline const struct skv_status_info *skv_status_info(unsigned int st)
{
	static const struct skv_status_info info[SKV_S_MAX] = {
		[SKV_S_OK] = { "OK", "success" },
		[SKV_S_NOT_FOUND] = { "NOT_FOUND", "key not found" },
		[SKV_S_NOT_OWNER] = { "NOT_OWNER", "node does not own the key's tablet" },
		[SKV_S_RETRY] = { "RETRY", "node asks to retry later" },
		[SKV_S_NO_SPACE] = { "NO_SPACE", "node memory limit reached" },
		[SKV_S_BAD_REQUEST] = { "BAD_REQUEST", "node rejected a malformed request" },
		[SKV_S_VERSION_MISMATCH] = { "VERSION_MISMATCH", "version mismatch" },
		[SKV_S_TOO_BIG] = { "TOO_BIG", "key or value too big" },
		[SKV_S_UNKNOWN_OP] = { "UNKNOWN_OP", "operation not known to the node" },
		[SKV_S_UNKNOWN_TABLE] = { "UNKNOWN_TABLE", "no such table on this node" },
		[SKV_S_INTERNAL] = { "INTERNAL", "internal node error" },
		[SKV_S_BUSY] = { "BUSY",
			"node busy: the range is already migrating or spans tablets, or no connection slot is free" },
		[SKV_S_NO_MIGRATION] = { "NO_MIGRATION", "no such migration at this source" },
		[SKV_S_AUTH_REQUIRED] = { "AUTH_REQUIRED",
			"operation needs an authenticated connection (the node requires a client key, or the key was removed): the node closed it" },
		[SKV_S_AUTH_FAILED] = { "AUTH_FAILED",
			"authentication failed: the node does not hold this key (wrong or removed key), or the handshake was replayed" },
		[SKV_S_VERSION_LIMIT] = { "VERSION_LIMIT",
			"the node's version counter is at its ceiling" },
		[SKV_S_STALE_EPOCH] = { "STALE_EPOCH",
			"the map is older than the node's epoch: refresh it" },
		[SKV_S_ACCESS_DENIED] = { "ACCESS_DENIED",
			"the client key may not read (GET, MULTI-GET) or write (PUT, DELETE) this table" },
		[SKV_S_NOT_BACKUP] = { "NOT_BACKUP", "no replica of that primary here" },
		[SKV_S_BACKUP_FULL] = { "BACKUP_FULL", "the replica is at its bound" },
	};

	return st < SKV_S_MAX && info[st].name ? &info[st] : NULL;
}

/*
 * An error reply (metrics, tracepoints): any status but the answers a
 * request asks for (found, not found, conditional write refused).
 */
#define SKV_STATUS_IS_ERROR(st)						\
	((st) != SKV_S_OK && (st) != SKV_S_NOT_FOUND &&			\
	 (st) != SKV_S_VERSION_MISMATCH)

/*
 * The highest version a node hands out or takes from another node.  The
 * 2^32 versions above it are never used, so a node's version counter
 * cannot wrap: a write that would need a version past it gets
 * SKV_S_VERSION_LIMIT, and a version from another node above it (a safe
 * version, a pulled or pushed-back record) is refused.
 */
#define SKV_VERSION_MAX		(~0ull - (1ull << 32))

/* Header flags. */
#define SKV_F_REPLY		0x01	/* set on every reply */

/*
 * Epochs.  Every change of a range's owner happens at a version of the
 * coordinator's map; that version is the change's epoch.  A node learns
 * epochs from its node daemon (with each tablet and migration command)
 * and from migration ops, and keeps the highest (its epoch).  A client
 * stamps each request with the version of the map it routed by; a node
 * whose epoch is newer answers SKV_S_STALE_EPOCH (nothing done): the
 * client's map predates an ownership change this node took part in, so
 * it refreshes the map and retries.  epoch 0 means "no epoch" and is
 * never refused (clients without a map, tools, and every client of
 * wire version 1 before epochs: the field was reserved, zero).  Replies
 * carry 0 there.  Epochs are 32-bit on the wire: the map's version stays
 * below 2^32 (a node compares the low 32 bits of its own).
 */
struct skv_hdr {
	__le16 magic;		/* SKV_WIRE_MAGIC */
	__u8 version;		/* SKV_WIRE_VERSION */
	__u8 opcode;		/* enum skv_opcode */
	__u8 flags;		/* SKV_F_* */
	__u8 status;		/* enum skv_status; 0 in requests */
	__le16 reserved;	/* must be zero */
	__le64 request_id;	/* chosen by the client, echoed back */
	__le32 body_len;	/* bytes following this header */
	__le32 epoch;		/* requests: the client's map version, 0 = none */
};

/* GET, DELETE: key follows. */
struct skv_key_req {
	__le64 table_id;
	__le64 expect_version;	/* DELETE only: 0 = unconditional */
	__le16 key_len;
	__le16 reserved[3];
	/* __u8 key[key_len]; */
};

/* PUT: key then value follow. */
struct skv_put_req {
	__le64 table_id;
	__le64 expect_version;	/* 0 = unconditional; else the current version must match */
	__le16 key_len;
	__le16 reserved;
	__le32 value_len;
	/* __u8 key[key_len]; __u8 value[value_len]; */
};

/* Reply to GET (OK): version then value. */
struct skv_val_reply {
	__le64 version;
	__le32 value_len;
	__le32 reserved;
	/* __u8 value[value_len]; */
};

/* Reply to PUT/DELETE, and to GET with NOT_FOUND or VERSION_MISMATCH. */
struct skv_ver_reply {
	__le64 version;
};

/* Body of a RETRY reply. */
struct skv_retry_reply {
	__le32 retry_us;
	__le32 reserved;
};

/* MULTI-GET: count entries of { __le16 key_len; __u8 key[] } follow. */
struct skv_multi_req {
	__le64 table_id;
	__le16 count;
	__le16 reserved[3];
};

/*
 * Reply to MULTI-GET (header status OK): count entries, each
 * struct skv_multi_item followed by value_len bytes of value.  The reply
 * body is capped at SKV_MAX_BODY_LEN like a request's: an item whose value
 * no longer fits gets status SKV_S_TOO_BIG and no value (fetch it with GET).
 */
struct skv_multi_reply {
	__le16 count;
	__le16 reserved[3];
};

struct skv_multi_item {
	__u8 status;		/* per-key enum skv_status */
	__u8 reserved[3];
	__le32 value_len;	/* 0 unless status is OK */
	__le64 version;
};

/*
 * Migration (Rocksteady).  The target drives; the source answers.
 *
 * PREPARE names the migration (a random 64-bit id the coordinator chose,
 * never 0) and the range, which must lie inside one NORMAL tablet of the source (the
 * source splits that tablet so the range becomes a tablet of its own).
 * Without SKV_MIG_F_KEEP_OWNER the source stops serving the range at once
 * (MIGRATING_OUT: clients get NOT_OWNER), waits for the writes in flight
 * and answers with its safe version: every version it ever handed out is
 * <= safe_version, so the target raises its own counter above it.  With
 * SKV_MIG_F_KEEP_OWNER (the push baseline: ownership moves at the end) the
 * source keeps serving; a second PREPARE of the same migration without the
 * flag then freezes the range and gives the safe version for the
 * catch-up pulls (min_version = the first safe version).
 *
 * PULL walks a part of the range from a hash cursor (scan.h) and returns
 * at most about budget bytes of records (objects and tombstones) newer
 * than min_version, with the next cursor; resolved is 1 once the part is
 * finished.  PRIORITY_PULL returns every record of the given key hashes;
 * resolved is how many of the hashes, from the first, are complete in the
 * batch (the reply is capped at SKV_MAX_BODY_LEN; ask again for the rest).
 * A hash with no record is resolved with nothing in the batch: the key
 * does not exist at the source.
 *
 * END with no flag commits: the source drops its copy of the range.  END
 * with SKV_MIG_F_ABORT hands the range back: the source serves it again
 * (NORMAL).  Before an abort the target sends the writes it accepted
 * (records newer than the safe version) with PUSH_BACK, which the source
 * replays, so no acknowledged write is lost.
 *
 * Every step may be repeated (a reply may be lost with its connection):
 * a PREPARE of a migration the source holds gets the same answer; an END
 * of a migration that already ended the same way gets OK (the source
 * remembers at least its last 64 ended migrations and their
 * outcome); an END or a PREPARE of a migration that ended otherwise gets
 * STALE_EPOCH (its outcome was decided: the asker must not act on it);
 * a PUSH_BACK replayed twice changes nothing (replay keeps the newest
 * version).  MIG_STATUS asks where a migration stands at the source
 * (skv_mig_status_reply); its body's range fields are not used.
 *
 * The reserved field of skv_mig_range_req carries the migration's epoch
 * (wire.h "Epochs", 0 = none): a PREPARE older than the source's epoch is
 * refused with STALE_EPOCH and nothing changes (an ownership change the
 * migration was not planned with happened since); a newer one raises the
 * source's epoch.
 *
 * A migration is the peer's that prepared it: PULL, PRIORITY_PULL,
 * PUSH_BACK and END from another peer get NO_MIGRATION, as an unknown id
 * does.  A node takes part in a bounded number of migrations at once; a
 * PREPARE past that gets BUSY.  A BUSY reply to PREPARE carries the reason
 * as text (printable ASCII, no NUL) for the target's log.
 */
#define SKV_MIG_F_KEEP_OWNER	0x1	/* PREPARE: keep serving until a second PREPARE */
#define SKV_MIG_F_ABORT		0x2	/* END: hand the range back to the source */

#define SKV_MAX_PRIO_HASHES	64u	/* hashes per PRIORITY_PULL */
#define SKV_MIN_PULL_BUDGET	1024u	/* a source raises budget to this */
#define SKV_MAX_PULL_BUDGET	(1024u * 1024u)	/* a source caps budget at this */

/* PREPARE, END, and the start of a PUSH_BACK body. */
struct skv_mig_range_req {
	__le64 migration_id;
	__le64 table_id;
	__le64 start_hash;	/* inclusive */
	__le64 end_hash;	/* inclusive */
	__le32 flags;		/* SKV_MIG_F_* */
	__le32 epoch;		/* the migration's epoch, 0 = none */
};

/*
 * The head of a PUSH_BACK body (a batch follows).  max_version is the
 * target's version counter when it scanned the range: no record it sends
 * back is newer.  The source takes a record only if its version is above
 * the migration's safe version and at most max_version (and its own
 * version ceiling); otherwise the whole batch gets BAD_REQUEST.
 */
struct skv_push_back_req {
	struct skv_mig_range_req range;
	__le64 max_version;
};

struct skv_mig_prepare_reply {
	__le64 safe_version;
	__le32 index_buckets;	/* the source's index size, for the record */
	__le32 reserved;
	__le64 objects;		/* live objects in the source's store (a hint) */
};

/* Where a migration stands at its source (reply to MIG_STATUS). */
enum skv_mig_where {
	SKV_MIG_UNKNOWN		= 0,	/* never prepared, or ended and forgotten */
	SKV_MIG_PREPARED	= 1,	/* keep-owner: the source still serves the range */
	SKV_MIG_FROZEN		= 2,	/* MIGRATING_OUT at the source */
	SKV_MIG_ENDED_COMMIT	= 3,	/* the source dropped its copy */
	SKV_MIG_ENDED_ABORT	= 4,	/* the source serves the range again */
};

struct skv_mig_status_reply {
	__le64 safe_version;	/* of the last PREPARE answered; 0 if unknown */
	__le32 where;		/* enum skv_mig_where */
	__le32 reserved;
};

struct skv_pull_req {
	__le64 migration_id;
	__le64 table_id;
	__le64 start_hash;	/* the part of the range to walk, inclusive */
	__le64 end_hash;
	__le64 cursor;		/* first hash still wanted */
	__le64 min_version;	/* only records with a newer version; 0 = all */
	__le32 budget;		/* bytes of records wanted */
	__le32 reserved;
};

/* Reply to PULL and PRIORITY_PULL: then a batch (steadykv/record.h). */
struct skv_pull_reply {
	__le64 next_cursor;	/* PULL: where to resume */
	__le32 resolved;	/* PULL: 1 when done; PRIORITY_PULL: hashes complete */
	/*
	 * The source's client p99.9 in us now (its last window, at least
	 * 100 ms; 0: too few requests to tell, or none at all yet in a first
	 * window 25 ms old; SKV_P999_UNKNOWN: no window closed yet), so the
	 * target paces its pulls by the latency of the source's clients as
	 * well as its own.
	 */
	__le32 client_p999_us;
};

/* client_p999_us before a window has closed: no figure, not "idle". */
#define SKV_P999_UNKNOWN	0xffffffffu

/* PRIORITY_PULL: count __le64 key hashes follow. */
struct skv_prio_pull_req {
	__le64 migration_id;
	__le64 table_id;
	__le16 count;		/* 1..SKV_MAX_PRIO_HASHES */
	__le16 reserved[3];
};

/*
 * Replication.  A primary sends its replication stream (the records it
 * appended for its own client writes, record.h, numbered by byte position
 * from 0) to each of its backups.  Every op names the primary (the id the
 * control plane gave it) and its epoch; a backup refuses (STALE_EPOCH) an
 * epoch older than the newest it has been told for that primary, by an
 * OPEN or by a fence from the control plane, and (NOT_BACKUP) any op of a
 * primary it holds no replica of.
 *
 * OPEN starts (SKV_REPL_F_CREATE: the first OPEN after the primary was
 * given this backup; the replica starts empty at start) or resumes the
 * replica after a reconnect or a new assignment that kept this backup
 * (without the flag: NOT_BACKUP if the backup
 * holds no replica of the primary, so a backup that lost its state is
 * never taken for one that holds the records).  The reply says what the
 * replica holds: the primary resumes at end.
 *
 * WRITE carries whole records from position offset (at most the replica's
 * end: bytes it already holds are skipped, so a resend is harmless).  The
 * replica takes them all or none: BAD_REQUEST for a malformed record or a
 * gap, BACKUP_FULL past its bound or the node's memory limit.  The reply
 * gives the new end: every record before it is held.  It also carries the
 * primary's newest whole mark: its stream from whole_from on holds every
 * record live at the primary once held up to whole_to (the primary
 * re-replicated its whole store there, for backups that do not hold its
 * older records); U64_MAX: none yet.  A replica that holds such a span is
 * whole, and only a whole replica is used for recovery.
 *
 * READ returns whole records from offset (a record boundary: start at
 * base, go on at next), up to about budget bytes but at least one, for
 * recovery, which replays them (newest version wins).
 */
#define SKV_REPL_F_CREATE	0x1	/* OPEN: a new assignment of this backup */

struct skv_repl_open_req {
	__le64 primary_id;
	__le64 epoch;
	__le64 start;		/* CREATE: the stream position it starts at */
	__le32 flags;		/* SKV_REPL_F_* */
	__le32 reserved;
};

/* WRITE: records follow. */
struct skv_repl_write_req {
	__le64 primary_id;
	__le64 epoch;
	__le64 offset;		/* stream position of the first record */
	__le64 whole_from;	/* the whole mark (see above) */
	__le64 whole_to;
};

/* Reply to OPEN and WRITE: the replica holds [base, end). */
struct skv_repl_pos_reply {
	__le64 base;
	__le64 end;
};

struct skv_repl_read_req {
	__le64 primary_id;
	__le64 epoch;
	__le64 offset;		/* a record boundary in [base, end] */
	__le32 budget;		/* bytes of records wanted */
	__le32 reserved;
};

/* Reply to READ: then next - offset bytes of records. */
struct skv_repl_read_reply {
	__le64 base;
	__le64 end;
	__le64 next;		/* where the next READ starts; end: nothing left */
};

/* Key hashing: tablets are ranges of this hash (xxh64, seed 0, over the key bytes). */
#define SKV_KEY_HASH_SEED	0

#endif /* STEADYKV_WIRE_H */
