/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Small arrays grown one element at a time (the coordinator's tables). */
#ifndef SKV_ARRAY_H
#define SKV_ARRAY_H

#include <stdlib.h>
#include <string.h>

/*
 * ARRAY_PUSH(arr, nr): append one zeroed element to the array arr of nr
 * elements (both lvalues, updated): a pointer to the new element, or NULL
 * when out of memory (the array unchanged).  A macro so that the typed
 * pointer is assigned where the compiler (and its analyzer) sees it.
 */
#define ARRAY_PUSH(arr, nr) ({						\
	__typeof__(arr) ap_v = realloc((arr), ((nr) + 1) * sizeof(*(arr)));	\
									\
	if (ap_v) {							\
		(arr) = ap_v;						\
		ap_v = &ap_v[(nr)++];					\
		memset(ap_v, 0, sizeof(*ap_v));				\
	}								\
	ap_v;								\
})

#endif
