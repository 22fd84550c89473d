/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * steadykv records and batches as they cross the wire: a PULL or
 * PRIORITY_PULL reply and a PUSH_BACK body carry a batch of records
 * (wire.h "Migration"); the log stores the same records.  Shared by the
 * kernel module and userspace.  All integers are little-endian.
 *
 * A record is a 40-byte header, the key, the value and zero padding up to
 * a multiple of 8 bytes.  The crc32c covers the key, the value and then
 * the header bytes after the crc field, in that order, so a writer can
 * checksum the payload before it takes any lock and finish with the
 * header once the version is known.
 */
#ifndef STEADYKV_RECORD_H
#define STEADYKV_RECORD_H

#include "wire.h"

#define SKV_REC_OBJECT		1
#define SKV_REC_TOMBSTONE	2
/*
 * Only in a replication stream (repl_primary.h), never in a log, a batch
 * or a store: the range [start, end] of table_id left the primary (its
 * tablet or table was deleted, or migrated away), so a recovery from the
 * stream skips the range's records before it.  Key: struct
 * skv_rec_departure; no value; version 0.
 */
#define SKV_REC_DEPARTURE	3

struct skv_rec_departure {
	__le64 start_hash;
	__le64 end_hash;
};

struct skv_rec_hdr {
	__le32 crc;
	__u8 type;		/* SKV_REC_* */
	__u8 flags;		/* zero */
	__le16 key_len;
	__le32 value_len;	/* zero for tombstones */
	__le32 reserved;	/* zero */
	__le64 table_id;
	__le64 key_hash;	/* xxh64 of the key, SKV_KEY_HASH_SEED */
	__le64 version;
};

#define SKV_REC_HDR_LEN		40u
#define SKV_REC_ALIGN		8u

/* Bytes of a record with these lengths, padding included. */
#define SKV_REC_LEN(key_len, value_len) \
	(((SKV_REC_HDR_LEN + (key_len) + (value_len)) + SKV_REC_ALIGN - 1) & \
	 ~(SKV_REC_ALIGN - 1))

/* Largest record: the biggest key and value the wire allows. */
#define SKV_REC_MAX_LEN		SKV_REC_LEN(SKV_MAX_KEY_LEN, SKV_MAX_VALUE_LEN)

/*
 * A batch of records: this header, then len bytes holding count records.
 * The batch has no checksum of its own: each record carries its crc32c,
 * taken by the writer, which the receiver checks (end to end, where a
 * batch checksum covered only the transfer, in a second pass over the
 * same bytes at each end).
 */
struct skv_batch_hdr {
	__le32 magic;		/* SKV_BATCH_MAGIC */
	__le32 count;
	__le32 len;
	__le32 reserved;	/* 0 */
};

#define SKV_BATCH_MAGIC		0x424b5653u	/* "SVKB" */

#endif /* STEADYKV_RECORD_H */
