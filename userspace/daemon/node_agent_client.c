// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The node's client keys as steadykvd's --client-key and --client-auth
 * give them (node_agent_opts): pushed at start and on SIGHUP.
 */
#include <stdio.h>
#include <string.h>

#include "auth_key.h"
#include "node_agent_int.h"
#include "table_list.h"

/* One side of a spec: "-" (none), "all" or table ids. */
static int spec_tables(const char *s, bool *all, uint64_t *ids, size_t *n)
{
	*all = false;
	*n = 0;
	if (!strcmp(s, "-"))
		return 0;
	return table_list_parse(s, all, ids, STEADYKV_CLIENT_KEY_TABLES_MAX, n);
}

int node_agent_client_spec_parse(const char *spec, char *path, size_t path_len,
				 struct sknl_client_key *rights, char *err, size_t err_len)
{
	const char *w = strrchr(spec, ':'), *r = NULL;
	char read[1024];
	size_t plen;

	memset(rights, 0, sizeof(*rights));
	for (const char *p = spec; w && p < w; p++)
		if (*p == ':')
			r = p;
	if (!r || r == spec) {
		snprintf(err, err_len, "--client-key \"%s\": want FILE:READ:WRITE", spec);
		return -1;
	}
	plen = (size_t)(r - spec);
	if (plen >= path_len || (size_t)(w - r - 1) >= sizeof(read)) {
		snprintf(err, err_len, "--client-key \"%s\": too long", spec);
		return -1;
	}
	memcpy(path, spec, plen);
	path[plen] = 0;
	memcpy(read, r + 1, (size_t)(w - r - 1));
	read[w - r - 1] = 0;
	if (spec_tables(read, &rights->read_all, rights->read, &rights->nread) ||
	    spec_tables(w + 1, &rights->write_all, rights->write, &rights->nwrite)) {
		snprintf(err, err_len,
			 "--client-key \"%s\": READ and WRITE are \"all\", \"-\" or up to %d "
			 "table ids separated by commas", spec, STEADYKV_CLIENT_KEY_TABLES_MAX);
		return -1;
	}
	if (!rights->read_all && !rights->write_all && !rights->nread && !rights->nwrite) {
		snprintf(err, err_len, "--client-key \"%s\": a key needs a right", spec);
		return -1;
	}
	return 0;
}

/* Add the key of one spec: its id in *id.  0 or -1 (logged). */
static int push_one(struct agent *a, const char *spec, uint32_t *id)
{
	struct sknl_client_key rights;
	struct skv_auth_key key = { 0 };
	char path[4096], why[512];
	struct sknl_err err;
	int rc = -1;

	if (node_agent_client_spec_parse(spec, path, sizeof(path), &rights, why, sizeof(why))) {
		agent_log("%s", why);
		return -1;
	}
	if (skv_auth_key_load(&key, path, why, sizeof(why))) {
		agent_log("client key %s: %s", path, why);
		return -1;
	}
	if (a->nl->client_key_add(a->nl_arg, key.secret, key.len, &rights, &err)) {
		sknl_err_format(&err, why, sizeof(why));
		agent_log("client-key-add %s: %s", path, why);
	} else {
		*id = key.id;
		rc = 0;
	}
	skv_auth_key_clear(&key);
	return rc;
}

int agent_push_client_keys(struct agent *a)
{
	uint32_t ids[STEADYKV_CLIENT_KEYS_MAX];
	unsigned int i, j, n = 0;
	struct sknl_err err;
	char why[512];
	int rc = 0;

	if (!a->o->nclient_keys && !a->o->client_auth)
		return 0;
	if (!a->nl->client_auth || !a->nl->client_key_add || !a->nl->client_key_del) {
		agent_log("client keys: not supported by this module interface");
		return -1;
	}
	for (i = 0; i < a->o->nclient_keys && i < STEADYKV_CLIENT_KEYS_MAX; i++) {
		if (push_one(a, a->o->client_keys[i], &ids[n]))
			rc = -1;
		else
			n++;
	}
	/* Keys this agent added that no file holds any more. */
	for (i = 0; i < a->nclient_ids; i++) {
		bool kept = false;

		for (j = 0; j < n; j++)
			kept |= ids[j] == a->client_ids[i];
		if (!kept && a->nl->client_key_del(a->nl_arg, a->client_ids[i], &err)) {
			sknl_err_format(&err, why, sizeof(why));
			agent_log("client-key-del 0x%08x: %s", a->client_ids[i], why);
		}
	}
	memcpy(a->client_ids, ids, n * sizeof(ids[0]));
	a->nclient_ids = n;
	if (a->nl->client_auth(a->nl_arg, a->o->client_auth, &err)) {
		sknl_err_format(&err, why, sizeof(why));
		agent_log("client-auth-required: %s", why);
		return -1;
	}
	agent_log("client keys: %u set, %s", n,
		  a->o->client_auth ? "required" : "not required");
	return rc;
}
