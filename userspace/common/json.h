/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small streaming JSON writer: commas, nesting, escaping and optional
 * pretty-printing are handled here so commands only say what to emit.
 * Each top-level value ends with a newline, so a series of them is JSON
 * lines.  Strings may hold any bytes: invalid UTF-8 is escaped as \u00XX.
 */
#ifndef SKV_COMMON_JSON_H
#define SKV_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
	FILE *f;
	bool pretty;
	int depth;
	bool after_key;			/* a key was written, its value is next */
	bool has_items[JSON_MAX_DEPTH];	/* per open container: needs a comma */
};

void json_init(struct json *j, FILE *f, bool pretty);

void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *key);

void json_str(struct json *j, const char *s);
void json_strn(struct json *j, const void *s, size_t len);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* key + value in one call. */
void json_kv_str(struct json *j, const char *key, const char *s);
void json_kv_strn(struct json *j, const char *key, const void *s, size_t len);
void json_kv_u64(struct json *j, const char *key, uint64_t v);
void json_kv_i64(struct json *j, const char *key, int64_t v);
void json_kv_bool(struct json *j, const char *key, bool v);
/* A u64 as a "0x%016" string: exact where readers parse numbers as doubles. */
void json_kv_hex64(struct json *j, const char *key, uint64_t v);

#endif
