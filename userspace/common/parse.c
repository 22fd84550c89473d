// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Strict number, size and address parsing for the command line. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

/* strtoull alone accepts "-1", " 1" and "": refuse them first. */
static int parse_u64_end(const char *s, uint64_t *v, char **end)
{
	unsigned long long x;
	int base = 10;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2]))
			return -1;
		base = 16;
	}
	errno = 0;
	x = strtoull(s, end, base);
	if (errno)
		return -1;
	*v = x;
	return 0;
}

int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	uint64_t x;

	if (parse_u64_end(s, &x, &end) || *end)
		return -1;
	*v = x;
	return 0;
}

int parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (parse_u64(s, &x) || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int parse_u16(const char *s, uint16_t *v)
{
	uint64_t x;

	if (parse_u64(s, &x) || x > UINT16_MAX)
		return -1;
	*v = (uint16_t)x;
	return 0;
}

int parse_hash(const char *s, uint64_t *v)
{
	if (s && !strcmp(s, "min")) {
		*v = 0;
		return 0;
	}
	if (s && !strcmp(s, "max")) {
		*v = UINT64_MAX;
		return 0;
	}
	return parse_u64(s, v);
}

int parse_size(const char *s, uint64_t *v)
{
	static const char units[] = "KMGT";
	const char *u;
	char *end;
	uint64_t x;
	int shift;

	if (parse_u64_end(s, &x, &end))
		return -1;
	if (!*end) {
		*v = x;
		return 0;
	}
	/* Accept K, KB, KiB (any case) the way people write them. */
	u = strchr(units, toupper((unsigned char)*end));
	if (!u || !*u)
		return -1;
	if (end[1] && strcasecmp(end + 1, "b") && strcasecmp(end + 1, "ib"))
		return -1;
	shift = 10 * (int)(u - units + 1);
	if (x > (UINT64_MAX >> shift))
		return -1;
	*v = x << shift;
	return 0;
}

/*
 * The one host:port parser.  @listen: an empty host (any address) and
 * port 0 (any port) are allowed.
 */
static int split_hostport(const char *s, char *host, size_t host_len,
			  uint16_t *port, bool listen)
{
	const char *colon, *hbeg = s, *d;
	unsigned long v = 0;
	size_t hlen;

	if (!s || !*s || !host_len)
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		hbeg = s + 1;
		hlen = (size_t)(close - hbeg);
		colon = close + 1;
		if (!hlen)
			return -1;	/* "[]" is no address */
	} else {
		colon = strrchr(s, ':');
		/* A bare IPv6 literal has several colons: brackets are required. */
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -1;
		hlen = (size_t)(colon - s);
	}
	if ((!hlen && !listen) || hlen >= host_len ||
	    memchr(hbeg, '[', hlen) || memchr(hbeg, ']', hlen))
		return -1;
	/* Decimal digits only: no sign, no space, no 0x. */
	if (!colon[1])
		return -1;
	for (d = colon + 1; *d; d++) {
		if (!isdigit((unsigned char)*d))
			return -1;
		v = v * 10 + (unsigned long)(*d - '0');
		if (v > UINT16_MAX)
			return -1;
	}
	if (!v && !listen)
		return -1;
	memcpy(host, hbeg, hlen);
	host[hlen] = 0;
	*port = (uint16_t)v;
	return 0;
}

int parse_hostport(const char *s, char *host, size_t host_len, uint16_t *port)
{
	return split_hostport(s, host, host_len, port, false);
}

int parse_listen_addr(const char *s, char *host, size_t host_len, uint16_t *port)
{
	return split_hostport(s, host, host_len, port, true);
}

int addr_list_item(const char *list, size_t i, char *item, size_t item_len)
{
	const char *p = list;
	size_t n;

	for (; i; i--) {
		p = strchr(p, ',');
		if (!p)
			return -1;
		p++;
	}
	n = strcspn(p, ",");
	if (!n || n >= item_len)
		return -1;
	memcpy(item, p, n);
	item[n] = '\0';
	return 0;
}

size_t addr_list_count(const char *list)
{
	size_t n = 1;

	for (; *list; list++)
		n += *list == ',';
	return n;
}
