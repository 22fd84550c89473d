/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Strict parsers for command-line words: the whole word must be consumed,
 * no sign, no surrounding space.  Each returns 0 or -1.
 */
#ifndef SKV_COMMON_PARSE_H
#define SKV_COMMON_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Decimal, or hexadecimal with 0x/0X. */
int parse_u64(const char *s, uint64_t *v);
int parse_u32(const char *s, uint32_t *v);
int parse_u16(const char *s, uint16_t *v);
/* parse_u64, or "min" (0) / "max" (UINT64_MAX): key-hash bounds. */
int parse_hash(const char *s, uint64_t *v);
/* A byte count with an optional K, M, G or T suffix (powers of 1024). */
int parse_size(const char *s, uint64_t *v);
/*
 * "HOST:PORT" or "[IPV6]:PORT", the one host:port parser of the project:
 * a bare IPv6 literal needs its brackets, the port is decimal 1..65535,
 * the host is not empty and has no brackets.  host gets the address text
 * (brackets removed); -1 too if it does not fit in host_len.
 */
int parse_hostport(const char *s, char *host, size_t host_len, uint16_t *port);
/*
 * The same for an address to listen on: the host may be empty (any
 * address) and the port 0 (any port).
 */
int parse_listen_addr(const char *s, char *host, size_t host_len, uint16_t *port);
/*
 * Item @i (from 0) of a comma-separated list "A[,B...]" (a coordinator and
 * its standbys) into @item: 0, or -1 past the end, for an empty item or
 * one that does not fit in @item_len.
 */
int addr_list_item(const char *list, size_t i, char *item, size_t item_len);
/* How many items the list has, empty ones included (commas + 1). */
size_t addr_list_count(const char *list);

#endif
