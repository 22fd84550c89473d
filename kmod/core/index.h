/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hash index: one list of every entry in key-hash order, with bucket
 * slots (chosen by the HIGH bits of the 64-bit key hash) as shortcuts
 * into it, so a tablet (a hash range) is one contiguous run.  Readers walk
 * it under RCU without locks; writers take the lock of the hash's stripe
 * (skv_bucket_of()).  It starts with 1 << index_buckets_log2 buckets and
 * doubles online as entries arrive (skv_index_grow()); entries never move.
 * The structures are in store_int.h; the design in README.md.
 */
#ifndef SKV_CORE_INDEX_H
#define SKV_CORE_INDEX_H

#include "store_int.h"

#endif /* SKV_CORE_INDEX_H */
