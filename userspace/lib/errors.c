// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Names and messages of enum skv_code: one table so they stay in step. */
#include <stdio.h>

#include "steadykv.h"

struct code_info {
	int code;
	const char *name;
	const char *msg;
};

static const struct code_info codes[] = {
	{ SKV_OK, "OK", "success" },
	{ SKV_E_NOT_FOUND, "NOT_FOUND", "key not found" },
	{ SKV_E_NOT_OWNER, "NOT_OWNER", "node does not own the key's tablet" },
	{ SKV_E_RETRY, "RETRY", "node asks to retry later" },
	{ SKV_E_NO_SPACE, "NO_SPACE", "node memory limit reached" },
	{ SKV_E_BAD_REQUEST, "BAD_REQUEST", "node rejected a malformed request" },
	{ SKV_E_VERSION_MISMATCH, "VERSION_MISMATCH", "version mismatch" },
	{ SKV_E_TOO_BIG, "TOO_BIG", "key or value too big" },
	{ SKV_E_UNKNOWN_OP, "UNKNOWN_OP", "operation not known to the node" },
	{ SKV_E_UNKNOWN_TABLE, "UNKNOWN_TABLE", "no such table on this node" },
	{ SKV_E_INTERNAL, "INTERNAL", "internal node error" },
	/* Named like the wire status (SKV_S_BUSY); the code is SKV_E_MIG_BUSY. */
	{ SKV_E_MIG_BUSY, "MIG_BUSY", "range already migrating or spans tablets" },
	{ SKV_E_NO_MIGRATION, "NO_MIGRATION", "no such migration at this source" },
	{ SKV_E_AUTH_REQUIRED, "AUTH_REQUIRED",
	  "operation needs an authenticated connection (the node requires a client key, or the key was removed): the node closed it" },
	{ SKV_E_AUTH_FAILED, "AUTH_FAILED",
	  "authentication failed: the node does not hold this key (wrong or removed key), or the handshake was replayed" },
	{ SKV_E_VERSION_LIMIT, "VERSION_LIMIT", "the node's version counter is at its ceiling" },
	{ SKV_E_ACCESS_DENIED, "ACCESS_DENIED",
	  "the client key may not read (GET, MULTI-GET) or write (PUT, DELETE) this table" },
	{ SKV_E_STALE_EPOCH, "STALE_EPOCH", "the map is older than the node's epoch: refresh it" },
	{ SKV_E_NOT_BACKUP, "NOT_BACKUP", "no replica of that primary here" },
	{ SKV_E_BACKUP_FULL, "BACKUP_FULL", "the replica is at its bound" },
	{ SKV_E_IO, "IO", "I/O error" },
	{ SKV_E_PROTO, "PROTO", "protocol error: malformed reply" },
	{ SKV_E_CLOSED, "CLOSED", "connection closed by peer" },
	{ SKV_E_TIMEOUT, "TIMEOUT", "timed out" },
	{ SKV_E_NOMEM, "NOMEM", "out of memory" },
	{ SKV_E_INVAL, "INVAL", "invalid argument" },
	{ SKV_E_RESOLVE, "RESOLVE", "cannot resolve host" },
	{ SKV_E_CONNECT, "CONNECT", "cannot connect" },
	{ SKV_E_FULL, "FULL", "pipeline full: collect replies first" },
	{ SKV_E_BUSY, "BUSY", "pipelined requests pending" },
	{ SKV_E_EMPTY, "EMPTY", "no pending request" },
};

static const struct code_info *find(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return &codes[i];
	return NULL;
}

const char *skv_strerror(int code)
{
	static _Thread_local char unknown[32];
	const struct code_info *ci = find(code);

	if (ci)
		return ci->msg;
	snprintf(unknown, sizeof(unknown), "unknown error %d", code);
	return unknown;
}

const char *skv_code_name(int code)
{
	const struct code_info *ci = find(code);

	return ci ? ci->name : "UNKNOWN";
}
