/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The source side of a migration (wire.h "Migration"): the node answers
 * PREPARE, PULL, PRIORITY_PULL, END and PUSH_BACK from a migration's
 * target, and keeps a per-node list of its outgoing migrations.
 */
#ifndef SKV_MIG_SOURCE_H
#define SKV_MIG_SOURCE_H

#include <linux/types.h>
#include <steadykv/migration.h>

#include "transport.h"

/*
 * Ended outgoing migrations the source remembers (a ring), so that a
 * repeated END gets the same answer (wire.h "Migration").
 */
#define SKV_MIG_ENDED_KEEP	64

struct skv_mig_ended {
	u64 id;			/* 0: empty slot */
	u64 table_id;
	u64 start_hash;
	u64 end_hash;
	u64 safe_version;
	u8 where;		/* SKV_MIG_ENDED_COMMIT or SKV_MIG_ENDED_ABORT */
	struct skv_addr owner;
};

/*
 * A test knob (netlink node-set mig-fault-*, admin only): the next count
 * migration requests with opcode op that reach this node as a source get
 * mode (enum steadykv_mig_fault_mode): their reply dropped after the op
 * ran, the request dropped unrun, or refused with status.  Dropping
 * closes the connection, as a lost message on a TCP stream does.
 */
struct skv_mig_fault {
	u32 op;
	u32 mode;
	u32 status;
	u32 count;
};

struct skv_node;
struct skv_conn;
struct skv_hdr;

/*
 * Migrations the node takes part in now, as source and target (at most
 * SKV_MIG_MAX_ACTIVE).  Caller holds node->lock.
 */
u32 skv_mig_active(struct skv_node *node);

/* Pernet init and exit (exit frees every outgoing-migration record). */
void skv_src_init(struct skv_node *node);
void skv_src_exit(struct skv_node *node);

/*
 * Handle one SKV_OP_MIG_* request of a connection and append its
 * reply, as skv_request_handle() does.  Returns 0 or a negative errno
 * that closes the connection.
 */
int skv_src_handle(struct skv_conn *c, const struct skv_hdr *h,
			  const u8 *body, u32 len);

/*
 * The coordinator's decision on outgoing migration id (netlink
 * migrate-decide): ended as an END from its target would, and
 * remembered.  0, -ENOENT (none here: the decision is remembered, so a
 * late PREPARE of it is refused), -ESTALE (it ended the other way),
 * -EBUSY (commit of a range never frozen), -ENODEV (no store), -EIO.
 */
int skv_src_decide(struct skv_node *node, u64 id, bool abort);

/*
 * Recovery at the source (recovery.c) of a range whose migration's
 * target died: the id of the outgoing migration holding exactly
 * [start_hash, end_hash] of table_id frozen here (MIGRATING_OUT), or
 * -ENOENT.  Under node->lock.
 */
int skv_src_frozen_id(struct skv_node *node, u64 table_id, u64 start_hash,
		      u64 end_hash, u64 *id);
/*
 * The range of outgoing migration id was rebuilt over the copy here: end
 * it as aborted (served again, the outcome remembered).  Under
 * node->lock.  0, -ENOENT, -EIO.
 */
int skv_src_end_recovered(struct skv_node *node, u64 id);

struct genl_info;
/* node-set's mig-fault-* attributes (the test knob), if mode is given. */
int skv_src_set_fault(struct skv_node *node, struct genl_info *info);

#endif /* SKV_MIG_SOURCE_H */
