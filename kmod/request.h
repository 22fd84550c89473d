/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The data ops of a connection (request.c); the migration ops go on to
 * the source side (mig_source.h).
 */
#ifndef SKV_REQUEST_H
#define SKV_REQUEST_H

#include <linux/types.h>

struct skv_conn;
struct skv_hdr;

/*
 * Handle one complete request frame (header already checked: magic,
 * version, reserved fields, body length) and append its reply to c->obuf.
 * Returns 0, or a negative errno that closes the connection (out of
 * memory); bad input is answered, never an error.
 */
int skv_request_handle(struct skv_conn *c, const struct skv_hdr *h,
		       const u8 *body, u32 body_len);

/*
 * Prefetch the lookups of the GETs among the complete frames at the start
 * of buf (len bytes), up to SKV_PREFETCH_MAX GETs in at most
 * SKV_PREFETCH_FRAMES frames, so a run of pipelined GETs waits for one
 * round of cache misses rather than one per GET.  Hints only: nothing is
 * trusted that the handling of each frame checks again.  Returns the
 * bytes of the frames looked at.
 */
#define SKV_PREFETCH_FRAMES	32u
u32 skv_request_prefetch(struct skv_conn *c, const u8 *buf, u32 len);

#endif /* SKV_REQUEST_H */
