/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A client key's tables as the command line gives them: "all", or table
 * ids separated by commas ("1,2,0x10"), each parse_u64()'s strict form.
 */
#ifndef SKV_COMMON_TABLE_LIST_H
#define SKV_COMMON_TABLE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse s: *all for "all", else at most max ids into ids (*n of them, a
 * repeated id kept once).  0, or -1 (empty, an empty or invalid id, more
 * than max ids).
 */
int table_list_parse(const char *s, bool *all, uint64_t *ids, size_t max, size_t *n);

#endif
