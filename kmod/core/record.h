/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Record format of the log, of pull replies and of replay input.
 *
 * A record is a 40-byte little-endian header, the key, the value and zero
 * padding up to a multiple of 8 bytes.  The crc32c covers the key, the
 * value and then the header bytes after the crc field, in that order, so a
 * writer can checksum the payload before it takes any lock and finish with
 * the header once the version is known.  Parsing is safe on arbitrary bytes.
 */
#ifndef SKV_CORE_RECORD_H
#define SKV_CORE_RECORD_H

#include "skv_shim.h"
#include "../../include/steadykv/wire.h"

#define SKV_REC_OBJECT		1
#define SKV_REC_TOMBSTONE	2

struct skv_rec_hdr {
	__le32 crc;
	u8 type;		/* SKV_REC_* */
	u8 flags;		/* zero */
	__le16 key_len;
	__le32 value_len;	/* zero for tombstones */
	__le32 reserved;	/* zero */
	__le64 table_id;
	__le64 key_hash;	/* skv_key_hash(key) */
	__le64 version;
};

#define SKV_REC_HDR_LEN		40u
#define SKV_REC_ALIGN		8u

static inline u32 skv_rec_len(u32 key_len, u32 value_len)
{
	return ALIGN(SKV_REC_HDR_LEN + key_len + value_len, SKV_REC_ALIGN);
}

/* Largest record: the biggest key and value the wire allows. */
#define SKV_REC_MAX_LEN \
	ALIGN(SKV_REC_HDR_LEN + SKV_MAX_KEY_LEN + SKV_MAX_VALUE_LEN, SKV_REC_ALIGN)

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

/*
 * Parse and verify the record at buf, which has avail readable bytes.
 * Returns 0, -EINVAL if truncated (the record runs past avail) or
 * -EBADMSG if malformed or its crc does not match.
 */
int skv_rec_parse(const void *buf, size_t avail, unsigned int flags,
		  struct skv_rec_view *v);

/* Parse a record already known good (it is in our own log). */
void skv_rec_view_trusted(const void *buf, struct skv_rec_view *v);

/*
 * A batch of records, as a pull reply carries them: this header, then len
 * bytes holding count records.  crc is skv_crc32c_std() over the records.
 */
struct skv_batch_hdr {
	__le32 magic;		/* SKV_BATCH_MAGIC */
	__le32 count;
	__le32 len;
	__le32 crc;
};

#define SKV_BATCH_MAGIC		0x424b5653u	/* "SVKB" */

/*
 * Verify a batch (header, length, crc, every record) without applying it.
 * On success *records and *len give the record bytes and *count their
 * number.  -EINVAL if truncated, -EBADMSG if corrupt.
 */
int skv_batch_verify(const void *buf, size_t len, unsigned int parse_flags,
		     const u8 **records, u32 *rec_len, u32 *count);

#endif /* SKV_CORE_RECORD_H */
