/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The primary side of replication: a node sends the records of its own
 * client writes (PUT, DELETE, conditional or not) to its R backups and
 * acknowledges a write only when every backup holds its record.
 *
 * Design.  Each backup has a connection of its own (a struct skv_peer,
 * authenticated with the cluster key) and a sender thread.  A write is
 * admitted before the store applies it (skv_repl_admit(): room in the
 * queue, every backup opened and caught up, else RETRY: nothing was
 * applied); once applied, its record (the same bytes the log holds, its
 * crc included) is appended to the node's replication queue
 * (skv_repl_commit()).  Each sender sends what is queued past its
 * backup's position in batches of whole records, one REPL_WRITE in
 * flight per backup, so writes arriving meanwhile go out together in the
 * next one.  A connection, when it is about to send the replies
 * of the requests it has read (skv_repl_settle(), from its flush), waits
 * once for the position of its last write (group commit), without
 * holding a worker (it is run again at each ack), and then sends them.  A read waits there too if what it saw may be a write its
 * backups do not hold yet (skv_repl_observe()): a reply never shows a
 * write that a crash of this node could take back.
 *
 * A backup lost (its connection fails, it refuses, or it does not hold a
 * write within repl_timeout_ms): the writes waiting for it are not
 * acknowledged -- the replies from the first of them on are dropped and
 * the connection is closed, so the client treats their outcome as
 * unknown (they were applied here) -- and new writes get RETRY, not
 * applied, until the backup is back and caught up, or the control plane
 * sets other backups (repl-set).  A write is never acknowledged with
 * fewer than R copies.
 *
 * A replica only grows (it is the write stream, not compacted when the
 * cleaner frees log space): at its bound the backup answers BACKUP_FULL,
 * which stops writes here (RETRY) until repl-set starts a new stream.
 * A write applied here whose backups were lost before they held it stays
 * applied, its writer's outcome unknown; reads see it once the backups
 * hold it (a copy of the store, if its record found no memory).
 *
 * Not replicated here: records a migration replays or a push-back brings
 * (migrated data is not replicated while the migration runs: the
 * source's copy and the coordinator's lineage record keep it; the
 * target hands the whole range to its backups with skv_repl_hold_range()
 * before END lets the source free its copy).  A new assignment opens a
 * new backup afresh (SKV_REPL_F_CREATE); a backup it keeps from the last
 * one resumes, so it keeps the older records, if its replica ends where
 * the new stream starts (else it too starts afresh).  A backup without
 * the older records (a new one, or one started afresh) gets them by a
 * re-replication of the whole store (repl_primary.c "Re-replication"),
 * and its replica is whole, usable for recovery, once it holds them.
 */
#ifndef SKV_REPL_PRIMARY_H
#define SKV_REPL_PRIMARY_H

#include <linux/types.h>

struct skv_node;
struct skv_store;
struct skv_conn;
struct sk_buff;
struct genl_info;

/*
 * The read lease (repl_primary.c "Leases"): a node with backups answers
 * client requests only while every backup has acknowledged, within the
 * last SKV_REPL_LEASE_MS, an op the node sent it; a fence stops those
 * acknowledgements.  A node rebuilding a tablet from a replica serves it
 * no sooner than SKV_REPL_LEASE_MS + SKV_REPL_LEASE_MARGIN_MS after it
 * fenced that replica, so the dead primary, if it was only cut off, has
 * stopped answering by then (the margin: two machines' timers).
 */
#define SKV_REPL_LEASE_MS		2000
#define SKV_REPL_LEASE_MARGIN_MS	250

/* Module parameter (main.c): how long a write waits for its backups. */
extern unsigned int skv_repl_timeout_ms;

#define SKV_REPL_MAX_BACKUPS	4

struct skv_repl_addr {
	u8 addr[16];		/* network order */
	u32 addr_len;		/* 4 or 16 */
	u16 port;
};

void skv_repl_node_init(struct skv_node *node);
/* Namespace exit, after the connections stopped: stop replicating. */
void skv_repl_node_exit(struct skv_node *node);

/*
 * Set the node's primary id, epoch and backups (n = 0: no replication).
 * Caller holds node->lock.  0 or a negative errno.
 */
int skv_repl_set(struct skv_node *node, u64 primary_id, u64 epoch,
		 const struct skv_repl_addr *backups, u32 n);
/*
 * Records in the store that no stream carried (a recovered tablet, which
 * recovery replayed from another primary's replica): append recs[0..len)
 * (whole records) to the stream and wait until every backup holds them.
 * 0, also without replication; -EAGAIN (the stream is broken or was
 * replaced), -ETIMEDOUT (the backups did not take them within
 * repl_timeout_ms), -EMSGSIZE, -ENOMEM.  Sleeps.
 */
int skv_repl_hold(struct skv_node *node, const void *recs, u32 len);
/*
 * How a copy into the stream shares it with client writes: a migration's
 * hand-over (and the store's re-replication) goes behind them, in 64 KiB
 * chunks, each once the writes queued ahead have (nearly) drained; a
 * recovery's range, unserved until its backups hold it, goes at once, in
 * the largest chunks.
 */
enum skv_repl_pace {
	SKV_REPL_BEHIND_WRITES,
	SKV_REPL_AT_ONCE,
};
/*
 * skv_repl_hold() of every live record (objects and tombstones) that s
 * holds in table_id's [start_hash, end_hash], one scan chunk per stream
 * append at pace: what recovery rebuilt or a migration brought, which no
 * stream carried.  Records newer than the scan may reach the stream
 * before it: replay keeps the newest version.  *bytes: the record bytes
 * handed over.  0 at once without replication; else as skv_repl_hold(),
 * or a scan's negative errno.  Sleeps: not under a spinlock.
 */
int skv_repl_hold_range(struct skv_node *node, struct skv_store *s,
			enum skv_repl_pace pace, u64 table_id, u64 start_hash,
			u64 end_hash, u64 *bytes);
/*
 * skv_tablet_del() and skv_table_del() for a node: the range's departure
 * (SKV_REC_DEPARTURE) is queued in the stream first, so that a recovery
 * from it skips the records the range had here before: if the range
 * comes back and its keys were deleted meanwhile, those records would
 * bring them back (core/departure.h).  Not waited for: what the range
 * brings if it comes back is queued after it, and a new stream starts
 * with the queue.  Queued only once the delete cannot fail (the store's
 * hook, skv_tablet_del_hooked()).  Caller holds node->lock.  Their errors
 * (-ENOMEM also for the departure), with nothing deleted.
 */
int skv_repl_tablet_del(struct skv_node *node, struct skv_store *s,
			u64 table_id, u64 start_hash, u64 end_hash);
int skv_repl_table_del(struct skv_node *node, struct skv_store *s,
		       u64 table_id);
/* The repl-get reply's attributes.  Caller holds node->lock. */
int skv_repl_nl_put(struct sk_buff *skb, struct skv_node *node);

/*
 * May node answer a client request: it has no backups, or its lease from
 * every one of them holds.  Lockless (RCU); any context.
 */
bool skv_repl_leased(struct skv_node *node);
/*
 * Before a write whose record is rec_len bytes: SKV_S_OK, or SKV_S_RETRY
 * (do not apply it).  Every OK must be followed by skv_repl_commit().
 */
u8 skv_repl_admit(struct skv_conn *c, u32 rec_len);
/*
 * After the store answered status: queue the record if the write was
 * applied (its reply is the next one appended to c's output).
 */
void skv_repl_commit(struct skv_conn *c, u8 status, u8 type, u64 table_id,
		     u64 key_hash, u64 version, const void *key, u32 key_len,
		     const void *value, u32 value_len);
/*
 * Before a reply that shows version (a GET's value or tombstone, a
 * write's VERSION_MISMATCH): have c's flush wait until the write that
 * made it, if still pending, is held.  SKV_S_OK, or SKV_S_RETRY (answer
 * RETRY instead: out of memory, or the stream changed in the batch).
 */
u8 skv_repl_observe(struct skv_conn *c, u64 version);
/*
 * Before c's replies are sent: have the backups got c's writes, and what
 * its reads saw?  Never sleeps: -EINPROGRESS while they have not and the
 * wait (repl_timeout_ms) is not over, with c run again (skv_conn_kick())
 * at the next ack or when it is.  Then 0, or -EIO when some are not held:
 * c->olen is cut back to the first of their replies, and the connection
 * closes after sending the rest.
 */
int skv_repl_settle(struct skv_conn *c);
/* Connection teardown, first step: nothing runs c again from here. */
void skv_repl_conn_unsettle(struct skv_conn *c);
/* Connection teardown, once c's work has stopped. */
void skv_repl_conn_release(struct skv_conn *c);

#endif /* SKV_REPL_PRIMARY_H */
