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
#define SKV_COORD_VERSION	1
#define SKV_COORD_DEFAULT_PORT	7100
#define SKV_COORD_MAX_BODY	(4u << 20)	/* larger frames close the connection */
#define SKV_COORD_F_REPLY	0x01

struct skv_coord_hdr {
	__le16 magic;		/* SKV_COORD_MAGIC */
	__u8 version;		/* SKV_COORD_VERSION */
	__u8 opcode;		/* enum skv_coord_op */
	__u8 flags;		/* SKV_COORD_F_* */
	__u8 reserved;
	__le16 status;		/* replies: 0 or a positive errno */
	__le64 request_id;
	__le32 body_len;
	__le32 reserved2;
};

enum skv_coord_op {
	/* Anyone: the cluster map.  Body: empty.  Reply: skv_coord_map. */
	SKV_COORD_OP_GET_MAP = 1,
	/*
	 * Ops 2.. are defined by the coordinator's implementation
	 * (userspace/coord/): node registration, table create/drop, split,
	 * migrate, migration status and cancel, reports from node daemons,
	 * and the commands the coordinator sends to node daemons.
	 */
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

#define SKV_COORD_ADDR_MAX	128	/* "host:port", NUL-padded */

struct skv_coord_node {
	__le32 id;
	__le32 reserved;
	char addr[SKV_COORD_ADDR_MAX];	/* data-plane address "host:port" */
};

struct skv_coord_tablet {
	__le64 table_id;
	__le64 start_hash;	/* inclusive */
	__le64 end_hash;	/* inclusive */
	__le32 owner;		/* node id */
	__le32 state;		/* 0 normal, 1 migrating (owner is the target) */
	__le32 src;		/* while migrating: the source node */
	__le32 reserved;
};

#endif /* STEADYKV_COORD_H */
