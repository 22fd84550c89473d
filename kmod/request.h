/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The data ops of a connection (request.c); the migration ops go on to
 * the source side (mig_source.h).
 */
#ifndef SKV_REQUEST_H
#define SKV_REQUEST_H

#include <linux/types.h>
#include "store.h"

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
 * The GETs among the frames of one pass over a connection's input buffer
 * (skv_conn_process()): each one's key hashed once, as the pass nears
 * it, and its lookup prefetched in stages over the frames before it
 * (skv_store_lookahead()), so a run of pipelined GETs overlaps its cache
 * misses.  Hints only: the handling of each frame checks everything
 * again.  Zeroed at the start of a pass; c->get_ahead during it.
 */
struct skv_get_ahead {
	u64 ring[SKV_LOOKAHEAD_RING];	/* the hashes of GETs done.. */
	u32 body[SKV_LOOKAHEAD_RING];	/* and where their bodies start */
	u32 hashed;			/* GETs hashed */
	u32 done;			/* GETs before the frame at hand */
	u32 next;			/* the first frame not looked at */
};

/*
 * Before the frame at off of c->ibuf is handled: the GETs in the frames
 * after it hashed into c->get_ahead, up to SKV_LOOKAHEAD_KEYS of them,
 * and the lookups from the frame's on prefetched.
 */
void skv_request_lookahead(struct skv_conn *c, u32 off);

#endif /* SKV_REQUEST_H */
