/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Codec of the coordinator protocol (include/steadykv/coord.h), the one
 * encoder and decoder of its frames and bodies: the coordinator, the node
 * daemon, steadykvctl (through coord_proto.h) and libsteadykv's cluster
 * client all link this file.
 *
 * The wire structs are little-endian; callers work on the host-order
 * mirrors below (a migration is userspace's one record, struct
 * skv_migration).  Every decoder checks the body length against the exact
 * size the message needs (no trailing bytes) and returns 0 or -EBADMSG
 * (-ENOMEM when it allocates).  Encoders append to a growable buffer and
 * return 0 or -ENOMEM (-EINVAL for values that cannot be sent, e.g. an
 * address that does not fit).
 */
#ifndef SKV_COMMON_COORD_CODEC_H
#define SKV_COMMON_COORD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <steadykv/auth.h>
#include <steadykv/coord.h>

#include "mig_record.h"

#define COORD_HDR_LEN	24u

/* ---- buffers ---- */

struct coord_buf {
	uint8_t *p;
	size_t len, cap;
};

void coord_buf_init(struct coord_buf *b);
void coord_buf_free(struct coord_buf *b);
int coord_buf_reserve(struct coord_buf *b, size_t more);
int coord_buf_append(struct coord_buf *b, const void *data, size_t len);
/* Drop the first @n bytes (consumed input). */
void coord_buf_consume(struct coord_buf *b, size_t n);

/* ---- header and frames ---- */

struct coord_hdr {
	uint8_t opcode;
	uint8_t flags;
	uint16_t status;
	uint64_t request_id;
	uint32_t body_len;
	uint32_t epoch;		/* NODE_* commands: the map version (coord.h) */
};

void coord_hdr_encode(uint8_t out[COORD_HDR_LEN], const struct coord_hdr *h);
/*
 * -EBADMSG for a wrong magic or version, unknown flags, non-zero reserved
 * fields, body_len over SKV_COORD_MAX_BODY: the connection must be closed.
 */
int coord_hdr_decode(const uint8_t *in, struct coord_hdr *h);

/*
 * Look for one frame at the start of @data: 1 and *frame_len (header +
 * body) when a whole frame is there, 0 when more bytes are needed,
 * -EBADMSG for a bad header.
 */
int coord_frame_peek(const uint8_t *data, size_t avail, struct coord_hdr *h,
		     size_t *frame_len);

/* Append a header (body_len = @len) and @body to @out. */
int coord_frame_append(struct coord_buf *out, uint8_t opcode, uint8_t flags,
		       uint16_t status, uint64_t request_id,
		       const void *body, size_t len);
/* The same with an epoch in the header (NODE_* commands, coord.h). */
int coord_frame_append_epoch(struct coord_buf *out, uint8_t opcode, uint8_t flags,
			     uint16_t status, uint64_t request_id, uint32_t epoch,
			     const void *body, size_t len);
/* A reply with status @err (positive errno) and the message as its body. */
int coord_frame_append_error(struct coord_buf *out, uint8_t opcode,
			     uint64_t request_id, int err, const char *msg);

/*
 * The message of an error reply: the body if it is NUL-terminated and
 * non-empty, else strerror(status).  Never NULL.
 */
const char *coord_error_msg(uint16_t status, const void *body, size_t len);

/* ---- messages ---- */

struct coord_table_req {
	uint64_t table_id;
	uint32_t nr_nodes;
	uint32_t *nodes;	/* decode: malloc'd, free() it; NULL if none */
};

struct coord_node_info {
	uint32_t id;
	uint32_t flags;		/* SKV_COORD_NODE_F_* */
	char addr[SKV_COORD_ADDR_MAX];	/* NUL-terminated */
	uint64_t incarnation;	/* NODE_REGISTER only; 0: not given */
};

struct coord_tablet_info {
	uint64_t table_id;
	uint64_t start_hash, end_hash;
	uint32_t owner;
	uint32_t state;		/* 0 normal, 1 migrating */
	uint32_t src;
	uint32_t flags;		/* SKV_COORD_TABLET_F_* */
};

struct coord_map_info {
	uint64_t version;
	uint32_t nr_nodes, nr_tablets;
	struct coord_node_info *nodes;		/* decode: malloc'd */
	struct coord_tablet_info *tablets;	/* decode: malloc'd */
};

/* Table: header + nr_nodes __le32. */
int coord_table_encode(struct coord_buf *b, uint64_t table_id,
		       const uint32_t *nodes, uint32_t nr_nodes);
int coord_table_decode(const void *body, size_t len, struct coord_table_req *t);

/*
 * A node record, exactly sizeof(struct skv_coord_node).  The decoder
 * refuses an address that fills its field without a NUL.
 */
int coord_node_encode(struct coord_buf *b, const struct coord_node_info *n);
int coord_node_decode(const void *body, size_t len, struct coord_node_info *n);
/*
 * NODE_REGISTER: the node record and its incarnation (coord.h); the
 * decoder also takes the record alone (incarnation 0).
 */
int coord_register_encode(struct coord_buf *b, const struct coord_node_info *n);
int coord_register_decode(const void *body, size_t len, struct coord_node_info *n);

/* NODE_REPL_SET: a node's primary id, epoch and backups. */
struct coord_repl_info {
	uint64_t primary_id;
	uint64_t epoch;
	uint32_t nr_backups;
	struct coord_node_info backups[SKV_COORD_REPL_MAX];
};

int coord_repl_encode(struct coord_buf *b, const struct coord_repl_info *r);
int coord_repl_decode(const void *body, size_t len, struct coord_repl_info *r);

/* A tablet record, exactly sizeof(struct skv_coord_tablet); start <= end. */
int coord_tablet_encode(struct coord_buf *b, const struct coord_tablet_info *t);
int coord_tablet_decode(const void *body, size_t len,
			struct coord_tablet_info *t);

/*
 * A migration record, exactly sizeof(struct skv_coord_migration): the
 * record's present bits and fields as they are, an absent tuning field
 * as 0 (coord.h).  Strings that fill their field come back cut and
 * NUL-terminated.
 */
int coord_mig_encode(struct coord_buf *b, const struct skv_migration *m);
int coord_mig_decode(const void *body, size_t len, struct skv_migration *m);

/* A __le64 id (MIG_STATUS, MIG_CANCEL, NODE_MIGRATE_CANCEL). */
int coord_id_encode(struct coord_buf *b, uint64_t id);
int coord_id_decode(const void *body, size_t len, uint64_t *id);
/* NODE_MIGRATE_DECIDE's body (struct skv_coord_decision). */
int coord_decision_encode(struct coord_buf *b, uint64_t id, bool abort);
int coord_decision_decode(const void *body, size_t len, uint64_t *id, bool *abort);

/* NODE_LOAD: a node's tablets' request counters at one reading. */
struct coord_tablet_load {
	uint64_t table_id;
	uint64_t start_hash, end_hash;
	uint64_t requests;
};

struct coord_load_info {
	uint64_t sampled_ms;	/* the node's monotonic ms */
	uint32_t nr_tablets;
	struct coord_tablet_load *tablets;	/* decode: malloc'd, free() it */
};

/* Every tablet start <= end; the count exactly fills the body. */
int coord_load_encode(struct coord_buf *b, const struct coord_load_info *l);
int coord_load_decode(const void *body, size_t len, struct coord_load_info *l);

/* GET_MAP reply: map header, nodes, tablets. */
int coord_map_encode(struct coord_buf *b, const struct coord_map_info *m);
/*
 * Everything is checked: the counts against len (exactly header + nodes
 * + tablets), addresses NUL-terminated, node ids unique, every tablet's
 * owner a listed node, the tablets sorted by (table_id, start_hash) and
 * covering each table's 0..UINT64_MAX without gap or overlap.  On
 * failure *m is empty and, if @why is not NULL, it says what was wrong.
 */
int coord_map_decode_why(const void *body, size_t len,
			 struct coord_map_info *m, char *why, size_t why_len);
static inline int coord_map_decode(const void *body, size_t len,
				   struct coord_map_info *m)
{
	return coord_map_decode_why(body, len, m, NULL, 0);
}
void coord_map_info_free(struct coord_map_info *m);

/* MIG_STATUS reply: __le32 count, __le32 0, count migration records. */
int coord_mig_list_encode(struct coord_buf *b, const struct skv_migration *v,
			  uint32_t count);
/* *v is malloc'd (NULL when count is 0). */
int coord_mig_list_decode(const void *body, size_t len,
			  struct skv_migration **v, uint32_t *count);

/*
 * Authentication bodies (AUTH_HELLO, its reply, AUTH_PROOF), in their
 * wire form (steadykv/auth.h), exactly their size.  A HELLO's role must
 * be one of enum skv_auth_role and its reserved bytes zero.
 */
int coord_auth_hello_encode(struct coord_buf *b, const struct skv_auth_hello *h);
int coord_auth_hello_decode(const void *body, size_t len, struct skv_auth_hello *h);
int coord_auth_challenge_encode(struct coord_buf *b,
				const struct skv_auth_challenge *ch);
int coord_auth_challenge_decode(const void *body, size_t len,
				struct skv_auth_challenge *ch);
int coord_auth_proof_encode(struct coord_buf *b, const struct skv_auth_proof *p);
int coord_auth_proof_decode(const void *body, size_t len, struct skv_auth_proof *p);

/* Copy @s into a fixed field; -EINVAL if it does not fit with its NUL. */
int coord_strlcpy(char *dst, size_t size, const char *s);

#endif /* SKV_COMMON_COORD_CODEC_H */
