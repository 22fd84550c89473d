// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Synchronous calls: queue one request on the pipeline and collect its
 * reply, so both APIs share one encoder and one validator.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Run the request queued last, alone on the pipeline, and fetch its reply. */
static int roundtrip(struct skv_conn *c, struct skv_result *r)
{
	int rc = skv_pipe_next(c, r);

	return rc ? rc : r->status;
}

/* Sync calls refuse to run behind pipelined requests: replies would mix. */
static int idle(struct skv_conn *c)
{
	if (c->err)
		return c->err;
	return c->count ? SKV_E_BUSY : 0;
}

int skv_ping(struct skv_conn *c)
{
	struct skv_result r = { 0 };
	int rc = idle(c);

	if (!rc)
		rc = skv_pipe_ping(c, 0);
	return rc ? rc : roundtrip(c, &r);
}

int skv_get(struct skv_conn *c, uint64_t table, const void *key, size_t key_len,
	    void **value, size_t *value_len, uint64_t *version)
{
	struct skv_result r = { 0 };
	uint8_t *copy;
	int rc;

	*value = NULL;
	if (value_len)
		*value_len = 0;
	if (version)
		*version = 0;
	rc = idle(c);
	if (!rc)
		rc = skv_pipe_get(c, table, key, key_len, 0);
	if (!rc)
		rc = roundtrip(c, &r);
	if (rc == SKV_E_NOT_FOUND && version)
		*version = r.version;
	if (rc)
		return rc;
	copy = malloc((size_t)r.value_len + 1);
	if (!copy)
		return SKV_E_NOMEM;
	memcpy(copy, r.value, r.value_len);
	copy[r.value_len] = 0;
	*value = copy;
	if (value_len)
		*value_len = r.value_len;
	if (version)
		*version = r.version;
	return 0;
}

int skv_put(struct skv_conn *c, uint64_t table, const void *key, size_t key_len,
	    const void *value, size_t value_len, uint64_t expect_version,
	    uint64_t *version)
{
	struct skv_result r = { 0 };
	int rc = idle(c);

	if (version)
		*version = 0;
	if (!rc)
		rc = skv_pipe_put(c, table, key, key_len, value, value_len, expect_version, 0);
	if (!rc)
		rc = roundtrip(c, &r);
	/* Success and VERSION_MISMATCH both carry a version worth returning. */
	if ((rc == 0 || rc == SKV_E_VERSION_MISMATCH) && version)
		*version = r.version;
	return rc;
}

int skv_delete(struct skv_conn *c, uint64_t table, const void *key, size_t key_len,
	       uint64_t expect_version, uint64_t *version)
{
	struct skv_result r = { 0 };
	int rc = idle(c);

	if (version)
		*version = 0;
	if (!rc)
		rc = skv_pipe_delete(c, table, key, key_len, expect_version, 0);
	if (!rc)
		rc = roundtrip(c, &r);
	if ((rc == 0 || rc == SKV_E_VERSION_MISMATCH || rc == SKV_E_NOT_FOUND) && version)
		*version = r.version;
	return rc;
}

int skv_multi_get(struct skv_conn *c, uint64_t table, unsigned int count,
		  const void *const *keys, const size_t *key_lens,
		  struct skv_item **items)
{
	struct skv_result r = { 0 };
	struct skv_item *out;
	size_t total;
	uint8_t *data;
	int rc;

	*items = NULL;
	rc = idle(c);
	if (!rc)
		rc = skv_pipe_multi_get(c, table, count, keys, key_lens, 0);
	if (!rc)
		rc = roundtrip(c, &r);
	if (rc)
		return rc;

	/* One block: the items, then every value, so one free() releases all. */
	total = (size_t)r.item_count * sizeof(*out);
	for (unsigned int i = 0; i < r.item_count; i++)
		total += r.items[i].value_len + 1;
	out = malloc(total ? total : 1);
	if (!out)
		return SKV_E_NOMEM;
	data = (uint8_t *)(out + r.item_count);
	for (unsigned int i = 0; i < r.item_count; i++) {
		out[i] = r.items[i];
		memcpy(data, r.items[i].value, r.items[i].value_len);
		data[r.items[i].value_len] = 0;
		out[i].value = data;
		data += r.items[i].value_len + 1;
	}
	*items = out;
	return 0;
}
