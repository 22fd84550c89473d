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
 * Handle one SKV_OP_MIG_* request on a connection thread and append its
 * reply, as skv_request_handle() does.  Returns 0 or a negative errno
 * that closes the connection.
 */
int skv_src_handle(struct skv_conn *c, const struct skv_hdr *h,
			  const u8 *body, u32 len);

#endif /* SKV_MIG_SOURCE_H */
