/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the three parts of the migration target share (mig_target.c: the
 * controller, mig_target_resolve.c: partitions and the resolver,
 * mig_target_pull.c: the pulls); not for the rest of the module.
 */
#ifndef SKV_MIG_TARGET_INT_H
#define SKV_MIG_TARGET_INT_H

#include <linux/types.h>
#include <linux/compiler.h>

struct skv_mig;
struct skv_peer;

/* ---- mig_target.c ---- */

/* A reply status's name, for error messages. */
const char *skv_tgt_status_name(int st);
/* A worker's failure: record it (the first one) and wake the controller. */
__printf(3, 4)
void skv_tgt_fail(struct skv_mig *m, int err, const char *fmt, ...);
/* Should the calling migration thread stop what it does? */
bool skv_tgt_stopping(struct skv_mig *m);
/*
 * A call to the source with reconnects.  Returns the reply status, or a
 * negative errno (-ESHUTDOWN: told to stop).
 */
int skv_tgt_call(struct skv_mig *m, struct skv_peer *peer, u8 op,
		 const void *head, u32 head_len, const void *tail,
		 u32 tail_len, u32 max_body);
/* Tell the events group where m is. */
void skv_tgt_announce(struct skv_mig *m);

/* ---- mig_target_resolve.c ---- */

/* Split the range into equal partitions, none pulled yet. */
void skv_tgt_parts_reset(struct skv_mig *m);
/* Has every record of hash been replayed here?  Atomic-safe. */
bool skv_tgt_hash_resolved(struct skv_mig *m, u64 hash);
/* Under m->lock.  False if the set is full (the bulk pull will come). */
bool skv_tgt_add_resolved(struct skv_mig *m, u64 hash);
/* The store's resolver (store.h); arg is the node. */
bool skv_tgt_resolved(void *arg, u64 table_id, u64 key_hash);
/* The resolver consults m (on) or no longer does (off: waits for RCU). */
void skv_tgt_set_active(struct skv_mig *m, bool on);

/* ---- mig_target_pull.c ---- */

/* Outcome of a pass of pulls. */
/*
 * Pacing (mig_target_pace.c): pace_start at the start of a pass, pace
 * every SKV_MIG_PACE_EVERY from the pass loop (every SKV_MIG_PACE_FIRST
 * until it has a figure from both ends: an idle node tells so within
 * SKV_LAT_WINDOW_IDLE_NS), pace_source with every pull reply (its head
 * checked).  skv_tgt_pace() returns whether it had both figures.
 */
#define SKV_MIG_PACE_EVERY	(HZ / 10)
#define SKV_MIG_PACE_FIRST	max(HZ / 100, 1)
void skv_tgt_pace_start(struct skv_mig *m);
bool skv_tgt_pace(struct skv_mig *m);
void skv_tgt_pace_source(struct skv_mig *m, const u8 *reply);

enum { SKV_PASS_DONE, SKV_PASS_FAILED, SKV_PASS_CANCELLED, SKV_PASS_STOPPED };

/*
 * Pull the whole range once (every partition from its start), with
 * priority pulls if asked; returns a SKV_PASS_*.
 */
int skv_tgt_pass(struct skv_mig *m, bool prio);
/* Stop every pull thread of m and free what they had. */
void skv_tgt_workers_stop(struct skv_mig *m);

#endif /* SKV_MIG_TARGET_INT_H */
