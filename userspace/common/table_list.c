// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Client key table lists (table_list.h). */
#include <string.h>

#include "parse.h"
#include "table_list.h"

int table_list_parse(const char *s, bool *all, uint64_t *ids, size_t max, size_t *n)
{
	char buf[32];

	*all = false;
	*n = 0;
	if (!strcmp(s, "all")) {
		*all = true;
		return 0;
	}
	for (;;) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		bool seen = false;
		uint64_t id;

		if (!len || len >= sizeof(buf))
			return -1;
		memcpy(buf, s, len);
		buf[len] = 0;
		if (parse_u64(buf, &id))
			return -1;
		for (size_t i = 0; i < *n; i++)
			seen |= ids[i] == id;
		if (!seen) {
			if (*n == max)
				return -1;
			ids[(*n)++] = id;
		}
		if (!end)
			return 0;
		s = end + 1;
	}
}
