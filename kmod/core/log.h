/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The log: fixed-size segments of records.  The main log appends at its
 * head segment; side logs (one per replay worker) append to segments of
 * their own without touching the main log's lock and are spliced into the
 * main log in one step, without copying.
 *
 * A segment starts with a header (magic, size, id).  Its certificate is
 * the number of bytes appended so far and the crc32c of those bytes; a
 * copy of a segment is verified against its certificate before replay.
 */
#ifndef SKV_CORE_LOG_H
#define SKV_CORE_LOG_H

#include "store.h"

struct skv_seg_hdr {
	__le32 magic;		/* SKV_SEG_MAGIC */
	__le32 size;		/* segment capacity in bytes */
	__le64 id;
	__le64 reserved;	/* zero */
};

#define SKV_SEG_MAGIC		0x47455353u	/* "SSEG" */
#define SKV_SEG_HDR_LEN		24u

struct skv_seg_cert {
	__le32 length;		/* bytes appended, header included */
	__le32 crc;		/* skv_crc32c_std() over those bytes */
};

/*
 * Verify a copy of a segment (len bytes at buf) against its certificate:
 * length within the copy, crc, header and every record.  Returns 0 and
 * the segment id, -EINVAL (truncated) or -EBADMSG (corrupt).
 */
int skv_segment_verify(const void *buf, size_t len,
		       const struct skv_seg_cert *cert, u64 *id);

/*
 * Copy the idx-th closed segment of the main log (in log order) into buf
 * (capacity cap, at least the segment size) and give its certificate.
 * Returns the bytes copied or -ENOENT past the last segment, -ENOSPC if
 * cap is too small.  For replication and tests; may sleep.
 */
long skv_log_segment_copy(struct skv_store *s, u32 idx, void *buf, u32 cap,
			  struct skv_seg_cert *cert);

/* Side logs. */
struct skv_sidelog;
int skv_sidelog_create(struct skv_store *s, struct skv_sidelog **out);
/* Move the side log's segments into the main log; returns how many. */
int skv_sidelog_splice(struct skv_store *s, struct skv_sidelog *sl);
/* Splice whatever remains, then free the side log. */
void skv_sidelog_destroy(struct skv_store *s, struct skv_sidelog *sl);

#endif /* SKV_CORE_LOG_H */
