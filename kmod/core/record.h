/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Records and batches (their layout, shared with userspace, is in
 * include/steadykv/record.h): writing, parsing and verifying them.
 * Parsing is safe on arbitrary bytes.
 */
#ifndef SKV_CORE_RECORD_H
#define SKV_CORE_RECORD_H

#include "skv_shim.h"
#include "../../include/steadykv/record.h"

static inline u32 skv_rec_len(u32 key_len, u32 value_len)
{
	return SKV_REC_LEN(key_len, value_len);
}

/* A parsed record: fields in CPU order, pointers into the record bytes. */
struct skv_rec_view {
	u8 type;
	u32 key_len;
	u32 value_len;
	u32 len;		/* whole record, padded */
	u64 table_id;
	u64 key_hash;
	u64 version;
	const u8 *key;
	const u8 *value;
};

/* Raw crc32c of key then value, the first part of a record's crc. */
u32 skv_rec_payload_crc(const void *key, u32 key_len, const void *value,
			u32 value_len);

/*
 * Write a record at dst (skv_rec_len() bytes).  payload_crc is
 * skv_rec_payload_crc() of the same key and value.
 */
void skv_rec_write(void *dst, u8 type, u64 table_id, u64 key_hash, u64 version,
		   const void *key, u32 key_len, const void *value,
		   u32 value_len, u32 payload_crc);

/* Flags for skv_rec_parse(). */
#define SKV_PARSE_CHECK_HASH	0x1	/* also check key_hash == xxh64(key) */
#define SKV_PARSE_STREAM	0x2	/* a replication stream: departures too */

/*
 * Parse and verify the record at buf, which has avail readable bytes.
 * Returns 0, -EINVAL if truncated (the record runs past avail) or
 * -EBADMSG if malformed or its crc does not match.
 */
int skv_rec_parse(const void *buf, size_t avail, unsigned int flags,
		  struct skv_rec_view *v);

/*
 * Bring the first 256 bytes of a record into cache (a hint: its length
 * is not known before its header arrives).
 */
static inline void skv_rec_prefetch(const void *rec)
{
	u32 off;

	for (off = 0; off < 256; off += 64)
		__builtin_prefetch((const u8 *)rec + off);
}

/* Bytes of a departure record (SKV_REC_DEPARTURE). */
#define SKV_REC_DEPARTURE_LEN \
	SKV_REC_LEN(sizeof(struct skv_rec_departure), 0)

/* Write the departure of table_id's [start_hash, end_hash] at dst. */
void skv_rec_write_departure(void *dst, u64 table_id, u64 start_hash,
			     u64 end_hash);
/* The range of a parsed departure record. */
void skv_rec_departure_range(const struct skv_rec_view *v, u64 *start_hash,
			     u64 *end_hash);

/* Parse a record already known good (it is in our own log). */
void skv_rec_view_trusted(const void *buf, struct skv_rec_view *v);

/*
 * Verify a batch (header, length, every record with its crc) without
 * applying it.
 * On success *records and *len give the record bytes and *count their
 * number.  -EINVAL if truncated, -EBADMSG if corrupt.
 */
int skv_batch_verify(const void *buf, size_t len, unsigned int parse_flags,
		     const u8 **records, u32 *rec_len, u32 *count);

#endif /* SKV_CORE_RECORD_H */
