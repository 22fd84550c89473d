/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Codec of the coordinator protocol (include/steadykv/coord.h), shared by
 * the coordinator, the node daemon and steadykvctl, and a small blocking
 * client.
 *
 * The wire structs are little-endian; callers work on the host-order
 * mirrors below.  Every decoder checks the body length against the exact
 * size the message needs (no trailing bytes), NUL-terminates strings it
 * hands back, and returns 0 or -EBADMSG.  Encoders append to a growable
 * buffer and return 0 or -ENOMEM (-EINVAL for values that cannot be sent,
 * e.g. an address that does not fit).
 */
#ifndef SKV_COORD_PROTO_H
#define SKV_COORD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <steadykv/coord.h>

#define COORD_HDR_LEN	24u
#define COORD_MSG_MAX	128u	/* skv_coord_migration.msg */

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
	char addr[SKV_COORD_ADDR_MAX];	/* NUL-terminated */
};

struct coord_tablet_info {
	uint64_t table_id;
	uint64_t start_hash, end_hash;
	uint32_t owner;
	uint32_t state;		/* 0 normal, 1 migrating */
	uint32_t src;
};

struct coord_map_info {
	uint64_t version;
	uint32_t nr_nodes, nr_tablets;
	struct coord_node_info *nodes;		/* decode: malloc'd */
	struct coord_tablet_info *tablets;	/* decode: malloc'd */
};

struct coord_migration {
	uint64_t id;
	uint64_t table_id;
	uint64_t start_hash, end_hash;
	uint32_t src, dst;
	uint32_t mode;
	uint32_t partitions;
	uint32_t pulls_in_flight;
	uint32_t pull_budget;
	uint8_t priority_pulls;
	uint32_t state;
	uint32_t error;
	uint32_t progress_permille;
	uint64_t safe_version;
	uint64_t started_unix_ms;
	uint64_t elapsed_us;
	uint64_t owned_us;
	uint64_t bytes_pulled;
	uint64_t records_pulled;
	uint64_t records_replayed;
	uint64_t priority_keys;
	char src_addr[SKV_COORD_ADDR_MAX];	/* NUL-terminated */
	char msg[COORD_MSG_MAX];		/* NUL-terminated */
};

/* Table: header + nr_nodes __le32. */
int coord_table_encode(struct coord_buf *b, uint64_t table_id,
		       const uint32_t *nodes, uint32_t nr_nodes);
int coord_table_decode(const void *body, size_t len, struct coord_table_req *t);

/* A node record, exactly sizeof(struct skv_coord_node). */
int coord_node_encode(struct coord_buf *b, const struct coord_node_info *n);
int coord_node_decode(const void *body, size_t len, struct coord_node_info *n);

/* A tablet record, exactly sizeof(struct skv_coord_tablet). */
int coord_tablet_encode(struct coord_buf *b, const struct coord_tablet_info *t);
int coord_tablet_decode(const void *body, size_t len,
			struct coord_tablet_info *t);

/* A migration record, exactly sizeof(struct skv_coord_migration). */
int coord_mig_encode(struct coord_buf *b, const struct coord_migration *m);
int coord_mig_decode(const void *body, size_t len, struct coord_migration *m);

/* A __le64 id (MIG_STATUS, MIG_CANCEL, NODE_MIGRATE_CANCEL). */
int coord_id_encode(struct coord_buf *b, uint64_t id);
int coord_id_decode(const void *body, size_t len, uint64_t *id);

/* GET_MAP reply: map header, nodes, tablets. */
int coord_map_encode(struct coord_buf *b, const struct coord_map_info *m);
int coord_map_decode(const void *body, size_t len, struct coord_map_info *m);
void coord_map_info_free(struct coord_map_info *m);

/* MIG_STATUS reply: __le32 count, __le32 0, count migration records. */
int coord_mig_list_encode(struct coord_buf *b, const struct coord_migration *v,
			  uint32_t count);
/* *v is malloc'd (NULL when count is 0). */
int coord_mig_list_decode(const void *body, size_t len,
			  struct coord_migration **v, uint32_t *count);

/* Copy @s into a fixed field; -EINVAL if it does not fit with its NUL. */
int coord_strlcpy(char *dst, size_t size, const char *s);

/* Names of the netlink migration enums, "?" for unknown values. */
const char *coord_mig_state_name(uint32_t state);
const char *coord_mig_mode_name(uint32_t mode);
/* DONE, CANCELLED or FAILED. */
bool coord_mig_state_final(uint32_t state);

/* ---- blocking I/O ---- */

/*
 * Split "host:port" or "[v6]:port"; -EINVAL if malformed or too long.
 * An empty host is allowed (listeners: any address).
 */
int coord_split_hostport(const char *s, char *host, size_t host_len,
			 uint16_t *port);

/*
 * Write all of @len bytes to a (blocking or non-blocking) socket within
 * @timeout_ms (<0: no limit).  0 or -errno (-ETIMEDOUT).
 */
int coord_write_all(int fd, const void *data, size_t len, int timeout_ms);
/*
 * Read one whole frame: the header into *h and a malloc'd body (NULL when
 * empty) into *body.  -EBADMSG (bad header: close), -ECONNRESET (peer
 * closed), -ETIMEDOUT or -errno.
 */
int coord_read_frame(int fd, int timeout_ms, struct coord_hdr *h,
		     uint8_t **body);

struct coord_client {
	int fd;
	uint64_t next_id;
	int timeout_ms;		/* per call; default 5000 */
	char err[256];		/* the last failure, "" if none */
};

struct coord_reply {
	uint16_t status;	/* 0 or positive errno from the peer */
	uint8_t *body;		/* malloc'd, NULL when empty */
	size_t len;
};

/* Connect to "host:port" within @timeout_ms.  0 or -errno, c->err set. */
int coord_client_connect(struct coord_client *c, const char *hostport,
			 int timeout_ms);
void coord_client_close(struct coord_client *c);

/*
 * Send a request and wait for its reply.  Requests the peer sends in the
 * meantime (only node daemons receive any) are discarded.  Returns 0 when
 * a reply arrived (check r->status: on non-zero, c->err holds the peer's
 * message), or -errno for a transport failure (c->err set; the connection
 * is closed).  Free the reply with coord_reply_free().
 */
int coord_client_call(struct coord_client *c, uint8_t opcode,
		      const void *body, size_t len, struct coord_reply *r);
void coord_reply_free(struct coord_reply *r);

#endif /* SKV_COORD_PROTO_H */
