// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Names and messages of enum skv_code: the wire statuses as wire.h names
 * them (skv_status_info), the library's own codes here.
 */
#include <stdio.h>

#include "steadykv.h"

struct code_info {
	int code;
	const char *name;
	const char *msg;
};

static const struct code_info codes[] = {
	{ SKV_E_IO, "IO", "I/O error" },
	{ SKV_E_PROTO, "PROTO", "protocol error: malformed reply" },
	{ SKV_E_CLOSED, "CLOSED", "connection closed by peer" },
	{ SKV_E_TIMEOUT, "TIMEOUT", "timed out" },
	{ SKV_E_NOMEM, "NOMEM", "out of memory" },
	{ SKV_E_INVAL, "INVAL", "invalid argument" },
	{ SKV_E_RESOLVE, "RESOLVE", "cannot resolve host" },
	{ SKV_E_CONNECT, "CONNECT", "cannot connect" },
	{ SKV_E_FULL, "FULL", "pipeline full: collect replies first" },
	{ SKV_E_BUSY, "PIPELINE_BUSY", "pipelined requests pending" },
	{ SKV_E_EMPTY, "EMPTY", "no pending request" },
};

/* A wire status s is the code -s, named and described as on the wire. */
static const struct code_info *find(int code, struct code_info *buf)
{
	const struct skv_status_info *si = code <= 0 && code > -SKV_S_MAX ?
					   skv_status_info((unsigned int)-code) : NULL;

	if (si) {
		*buf = (struct code_info){ code, si->name, si->msg };
		return buf;
	}
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return &codes[i];
	return NULL;
}

const char *skv_strerror(int code)
{
	static _Thread_local char unknown[32];
	struct code_info buf;
	const struct code_info *ci = find(code, &buf);

	if (ci)
		return ci->msg;
	snprintf(unknown, sizeof(unknown), "unknown error %d", code);
	return unknown;
}

const char *skv_code_name(int code)
{
	struct code_info buf;
	const struct code_info *ci = find(code, &buf);

	return ci ? ci->name : "UNKNOWN";
}
