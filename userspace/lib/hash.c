// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Key hashing: must match the kernel's tablet placement bit for bit. */
#include <xxhash.h>

#include "steadykv.h"

uint64_t skv_key_hash(const void *key, size_t len)
{
	return XXH64(key, len, SKV_KEY_HASH_SEED);
}
