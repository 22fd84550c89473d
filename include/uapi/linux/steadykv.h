/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * steadykv generic netlink family: the control plane of a node.
 * Described by Documentation/netlink/specs/steadykv.yaml; keep them in step
 * (`make nl-gen` regenerates this header and the kernel policies).
 */
#ifndef _UAPI_LINUX_STEADYKV_H
#define _UAPI_LINUX_STEADYKV_H

#define STEADYKV_FAMILY_NAME		"steadykv"
#define STEADYKV_FAMILY_VERSION		1

enum steadykv_tablet_state {
	STEADYKV_TABLET_STATE_NORMAL,
	STEADYKV_TABLET_STATE_MIGRATING_IN,
	STEADYKV_TABLET_STATE_MIGRATING_OUT,
	STEADYKV_TABLET_STATE_RECOVERING,
};

/* The node: listener and statistics (node-get, node-set, listen-start). */
enum {
	STEADYKV_A_NODE_PAD = 1,
	STEADYKV_A_NODE_LISTEN_ADDR,		/* binary: 4 (IPv4) or 16 (IPv6) bytes, network order */
	STEADYKV_A_NODE_LISTEN_PORT,		/* u16, host order */
	STEADYKV_A_NODE_LISTENING,		/* u8: 1 if listening */
	STEADYKV_A_NODE_CONNECTIONS,		/* u32: open client connections */
	STEADYKV_A_NODE_MAX_CONNECTIONS,	/* u32 */
	STEADYKV_A_NODE_REQUESTS,		/* u64: requests served */
	STEADYKV_A_NODE_BAD_REQUESTS,		/* u64: requests answered with an error for bad input */
	STEADYKV_A_NODE_MEM_LIMIT,		/* u64: bytes of log memory allowed */
	STEADYKV_A_NODE_MEM_USED,		/* u64 */
	STEADYKV_A_NODE_LIVE_BYTES,		/* u64 */
	STEADYKV_A_NODE_SEGMENTS,		/* u64 */
	STEADYKV_A_NODE_SEGMENT_SIZE,		/* u32 */
	STEADYKV_A_NODE_OBJECTS,		/* u64 */
	STEADYKV_A_NODE_TOMBSTONES,		/* u64 */
	STEADYKV_A_NODE_VERSION,		/* u64: last version handed out */
	STEADYKV_A_NODE_CLEANER_PASSES,		/* u64 */
	STEADYKV_A_NODE_CLEANER_SEGMENTS_FREED,	/* u64 */
	STEADYKV_A_NODE_CLEANER_BYTES_RELOCATED, /* u64 */
	STEADYKV_A_NODE_TOMBSTONES_DROPPED,	/* u64 */
	STEADYKV_A_NODE_NO_SPACE_ERRORS,	/* u64 */

	__STEADYKV_A_NODE_MAX,
	STEADYKV_A_NODE_MAX = (__STEADYKV_A_NODE_MAX - 1)
};

/* Tables (table-add, table-del, table-get). */
enum {
	STEADYKV_A_TABLE_PAD = 1,
	STEADYKV_A_TABLE_ID,			/* u64 */

	__STEADYKV_A_TABLE_MAX,
	STEADYKV_A_TABLE_MAX = (__STEADYKV_A_TABLE_MAX - 1)
};

/* Tablets (tablet-add, tablet-del, tablet-set, tablet-get). */
enum {
	STEADYKV_A_TABLET_PAD = 1,
	STEADYKV_A_TABLET_TABLE_ID,		/* u64 */
	STEADYKV_A_TABLET_START_HASH,		/* u64, inclusive */
	STEADYKV_A_TABLET_END_HASH,		/* u64, inclusive */
	STEADYKV_A_TABLET_STATE,		/* u32: enum steadykv_tablet_state */

	__STEADYKV_A_TABLET_MAX,
	STEADYKV_A_TABLET_MAX = (__STEADYKV_A_TABLET_MAX - 1)
};

enum {
	STEADYKV_CMD_NODE_GET = 1,	/* do: node attributes and statistics */
	STEADYKV_CMD_NODE_SET,		/* admin: mem-limit */
	STEADYKV_CMD_LISTEN_START,	/* admin: listen-addr, listen-port */
	STEADYKV_CMD_LISTEN_STOP,	/* admin */
	STEADYKV_CMD_TABLE_ADD,		/* admin: table id */
	STEADYKV_CMD_TABLE_DEL,		/* admin: table id */
	STEADYKV_CMD_TABLE_GET,		/* dump: every table */
	STEADYKV_CMD_TABLET_ADD,	/* admin: table-id, start, end, [state] */
	STEADYKV_CMD_TABLET_DEL,	/* admin: table-id, start, end */
	STEADYKV_CMD_TABLET_SET,	/* admin: table-id, start, end, state */
	STEADYKV_CMD_TABLET_GET,	/* dump: every tablet */

	__STEADYKV_CMD_MAX,
	STEADYKV_CMD_MAX = (__STEADYKV_CMD_MAX - 1)
};

/*
 * Every change is announced on the "events" multicast group as a message
 * whose command is the change's own (listen-start, table-del, tablet-set...)
 * and whose attributes describe the object after the change.
 */
#define STEADYKV_MCGRP_EVENTS	"events"

#endif /* _UAPI_LINUX_STEADYKV_H */
