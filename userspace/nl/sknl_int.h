/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* libskvnl's own: what its files share and callers never see. */
#ifndef SKV_NL_SKNL_INT_H
#define SKV_NL_SKNL_INT_H

#include "sknl.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* sknl.c: a socket with extended ACKs and rcvbuf bytes of buffer; family resolved. */
int sknl_open_socket(struct sknl *nl, int rcvbuf, struct sknl_err *err);
/* libnl's error code as an errno. */
int sknl_nle_to_errno(int nle);
/*
 * Send a request built by fill (may be NULL) and collect the replies into
 * out (may be NULL): 0 or a negative errno, err filled.
 */
int sknl_do(struct sknl *nl, uint8_t cmd, int flags, int (*fill)(struct nl_msg *msg, const void *a),
	    const void *a, struct sknl_replies *out, struct sknl_err *err);
/* Exactly one reply expected: -EPROTO (err filled) otherwise. */
int sknl_one_reply(const struct sknl_replies *r, const char *what, struct sknl_err *err);

/*
 * sknl_obj.c: dump cmd into a malloc'd array of *count elements of size
 * bytes each, parsed by parse: 0 or a negative errno (-EPROTO for a
 * malformed entry).
 */
int sknl_dump(struct sknl *nl, uint8_t cmd, size_t size,
	      int (*parse)(struct nl_msg *msg, void *obj), void **out, size_t *count,
	      struct sknl_err *err);
/* The name of attribute type in the set cmd uses, or NULL. */
const char *sknl_attr_name(uint8_t cmd, int type);
/* Parse into the typed objects: 0 or -1. */
int sknl_node_parse(struct nl_msg *msg, struct sknl_node *node);
int sknl_table_parse(struct nl_msg *msg, struct sknl_table *t);
int sknl_tablet_parse(struct nl_msg *msg, struct sknl_tablet *t);

#endif
