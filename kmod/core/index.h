/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hash index.  1 << index_buckets_log2 buckets, chosen by the HIGH bits
 * of the 64-bit key hash, so buckets are ordered by hash and a tablet (a
 * hash range) is one contiguous run of buckets.  Each bucket is a singly
 * linked list sorted by key hash; readers walk it under RCU without locks,
 * writers take the bucket's lock (striped: one lock covers every
 * lock_mask+1'th bucket).  The table has a fixed size: it does not grow.
 * The structures are in store_int.h.
 */
#ifndef SKV_CORE_INDEX_H
#define SKV_CORE_INDEX_H

#include "store_int.h"

#define SKV_INDEX_MAX_LOCKS	4096u

#endif /* SKV_CORE_INDEX_H */
