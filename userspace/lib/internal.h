/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* libsteadykv internals: the connection and what its files share. */
#ifndef SKV_LIB_INTERNAL_H
#define SKV_LIB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "steadykv.h"

#define SKV_HDR_LEN		24u
#define SKV_DEFAULT_TIMEOUT_MS	5000
#define SKV_DEFAULT_MAX_PENDING	1024u
#define SKV_DEFAULT_MAX_QUEUED	(1u << 20)
/* Receive buffer to start with; it grows to fit the largest reply read. */
#define SKV_RBUF_MIN		(64u * 1024u)

/* A byte buffer with a consumed prefix: live bytes are data[off, len). */
struct skv_buf {
	uint8_t *data;
	size_t off;
	size_t len;
	size_t cap;
};

/* A request whose reply has not been collected. */
struct skv_pending {
	uint64_t request_id;
	uint64_t cookie;
	uint8_t opcode;
	uint16_t key_count;	/* MULTI-GET: keys asked for */
};

struct skv_conn {
	int fd;
	int err;		/* sticky connection error, 0 while healthy */
	bool eof;		/* peer closed its side */
	int timeout_ms;
	unsigned int max_pending;
	size_t max_queued;
	uint64_t next_id;

	/* Ring of pending requests, oldest at head. */
	struct skv_pending *pending;
	unsigned int head;
	unsigned int count;

	struct skv_buf out;	/* encoded requests not yet written */
	struct skv_buf in;	/* bytes read, not yet parsed */
	size_t consume;		/* bytes of the last delivered reply, dropped on the next call */

	struct skv_item *items;	/* MULTI-GET items of the last result */
	unsigned int items_cap;
	uint32_t retry_us;
	uint32_t epoch;		/* stamped on each request (wire.h), 0 = none */

	char errmsg[192];
};

/*
 * request.c: queue an op whose body is body_len bytes of body as given
 * (authentication); 0 or the code can_queue() gives.
 */
int skv_queue_body(struct skv_conn *c, uint8_t op, const void *body, size_t body_len);

/* conn.c: errors and the I/O engine. */
int skv_fail(struct skv_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void skv_set_msg(struct skv_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int skv_pump(struct skv_conn *c, size_t need);
bool skv_buf_reserve(struct skv_buf *b, size_t extra);
void skv_drop_consumed(struct skv_conn *c);

/* Little-endian access to unaligned bytes: never cast wire buffers to structs. */
static inline void skv_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void skv_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void skv_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t skv_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t skv_get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t skv_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#endif /* SKV_LIB_INTERNAL_H */
