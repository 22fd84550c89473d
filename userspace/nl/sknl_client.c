// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libskvnl's calls for client keys and client-auth-required (see sknl.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sknl.h"
#include "sknl_int.h"

static int fill_required(struct nl_msg *msg, const void *a)
{
	return nla_put_u8(msg, STEADYKV_A_NODE_CLIENT_AUTH_REQUIRED, *(const uint8_t *)a);
}

int sknl_client_auth_required(struct sknl *nl, int on, struct sknl_err *err)
{
	uint8_t v = on ? 1 : 0;

	return sknl_do(nl, STEADYKV_CMD_AUTH_SET, 0, fill_required, &v, NULL, err);
}

struct key_args {
	const uint8_t *secret;
	size_t len;
	const struct sknl_client_key *rights;
};

static int fill_key(struct nl_msg *msg, const void *a)
{
	const struct key_args *k = a;
	const struct sknl_client_key *r = k->rights;

	if (nla_put(msg, STEADYKV_A_CLIENT_KEY_SECRET, (int)k->len, k->secret))
		return -1;
	if (r->read_all && nla_put_flag(msg, STEADYKV_A_CLIENT_KEY_READ_ALL))
		return -1;
	if (r->write_all && nla_put_flag(msg, STEADYKV_A_CLIENT_KEY_WRITE_ALL))
		return -1;
	for (size_t i = 0; i < r->nread; i++)
		if (nla_put_u64(msg, STEADYKV_A_CLIENT_KEY_READ_TABLE, r->read[i]))
			return -1;
	for (size_t i = 0; i < r->nwrite; i++)
		if (nla_put_u64(msg, STEADYKV_A_CLIENT_KEY_WRITE_TABLE, r->write[i]))
			return -1;
	return 0;
}

int sknl_client_key_add(struct sknl *nl, const uint8_t *secret, size_t len,
			const struct sknl_client_key *rights, struct sknl_err *err)
{
	struct key_args k = { secret, len, rights };

	if (rights->nread > STEADYKV_CLIENT_KEY_TABLES_MAX ||
	    rights->nwrite > STEADYKV_CLIENT_KEY_TABLES_MAX)
		return sknl_err_local(err, EINVAL, "a client key names at most %d tables each way",
				      STEADYKV_CLIENT_KEY_TABLES_MAX);
	return sknl_do(nl, STEADYKV_CMD_CLIENT_KEY_ADD, 0, fill_key, &k, NULL, err);
}

static int fill_id(struct nl_msg *msg, const void *a)
{
	return nla_put_u32(msg, STEADYKV_A_CLIENT_KEY_ID, *(const uint32_t *)a);
}

int sknl_client_key_del(struct sknl *nl, uint32_t id, struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_CLIENT_KEY_DEL, 0, fill_id, &id, NULL, err);
}

/* The attributes repeat (read-table, write-table): walk them all. */
static int parse_key(struct nl_msg *msg, void *obj)
{
	struct genlmsghdr *g = sknl_genlhdr(msg);
	struct sknl_client_key *k = obj;
	struct nlattr *a;
	bool have_id = false;
	int rem;

	memset(k, 0, sizeof(*k));
	nla_for_each_attr(a, genlmsg_attrdata(g, 0), genlmsg_attrlen(g, 0), rem) {
		switch (nla_type(a)) {
		case STEADYKV_A_CLIENT_KEY_ID:
			if (nla_len(a) != 4)
				return -1;
			k->id = nla_get_u32(a);
			have_id = true;
			break;
		case STEADYKV_A_CLIENT_KEY_READ_ALL:
			k->read_all = true;
			break;
		case STEADYKV_A_CLIENT_KEY_WRITE_ALL:
			k->write_all = true;
			break;
		case STEADYKV_A_CLIENT_KEY_READ_TABLE:
			if (nla_len(a) != 8 || k->nread == STEADYKV_CLIENT_KEY_TABLES_MAX)
				return -1;
			k->read[k->nread++] = nla_get_u64(a);
			break;
		case STEADYKV_A_CLIENT_KEY_WRITE_TABLE:
			if (nla_len(a) != 8 || k->nwrite == STEADYKV_CLIENT_KEY_TABLES_MAX)
				return -1;
			k->write[k->nwrite++] = nla_get_u64(a);
			break;
		default:
			break;
		}
	}
	return have_id ? 0 : -1;
}

int sknl_client_key_dump(struct sknl *nl, struct sknl_client_key **out, size_t *count,
			 struct sknl_err *err)
{
	return sknl_dump(nl, STEADYKV_CMD_CLIENT_KEY_GET, sizeof(**out), parse_key, (void **)out,
			 count, err);
}
