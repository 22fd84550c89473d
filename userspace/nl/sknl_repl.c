// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libskvnl's calls for replication: repl-set/get, replica-get, repl-fence,
 * repl-recover.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sknl.h"
#include "sknl_int.h"

static const struct nla_policy repl_policy[STEADYKV_A_REPL_MAX + 1] = {
	[STEADYKV_A_REPL_PRIMARY_ID] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_EPOCH] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_BACKUP] = { .type = NLA_UNSPEC, .minlen = 6, .maxlen = 18 },
	[STEADYKV_A_REPL_BACKUPS] = { .type = NLA_U32 },
	[STEADYKV_A_REPL_POSITION] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_ACKED] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_HEALTHY] = { .type = NLA_U8 },
	[STEADYKV_A_REPL_WRITES_REFUSED] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_REPLICA_BASE] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_REPLICA_END] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_REPLICA_RECORDS] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_REPLICA_MEM] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_RECOVER_TABLE_ID] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_RECOVER_START_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_RECOVER_END_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_RECOVER_RECORDS] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_RECOVER_APPLIED] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_RECOVER_BYTES] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_RECOVER_NS] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_WHOLE] = { .type = NLA_U8 },
	[STEADYKV_A_REPL_RESYNC_BYTES] = { .type = NLA_U64 },
	[STEADYKV_A_REPL_REPLICA_WHOLE] = { .type = NLA_U8 },
	[STEADYKV_A_REPL_BACKUPS_OK] = { .type = NLA_U32 },
};

/* Every attribute, the backups in order (sknl_parse keeps only the last). */
static int repl_parse(struct nl_msg *msg, void *obj)
{
	struct nlattr *tb[STEADYKV_A_REPL_MAX + 1];
	struct sknl_repl *r = obj;
	struct nlattr *a;
	int rem;

	memset(r, 0, sizeof(*r));
	if (sknl_parse(msg, tb, STEADYKV_A_REPL_MAX, repl_policy))
		return -1;
	for (int i = STEADYKV_A_REPL_PRIMARY_ID; i <= STEADYKV_A_REPL_MAX; i++) {
		if (!tb[i] || i == STEADYKV_A_REPL_BACKUP)
			continue;
		r->present |= 1ull << i;
		switch (nla_len(tb[i])) {
		case 1: r->val[i] = nla_get_u8(tb[i]); break;
		case 4: r->val[i] = nla_get_u32(tb[i]); break;
		default: r->val[i] = nla_get_u64(tb[i]); break;
		}
	}
	nla_for_each_attr(a, genlmsg_attrdata(sknl_genlhdr(msg), 0),
			  genlmsg_attrlen(sknl_genlhdr(msg), 0), rem) {
		struct sknl_repl_backup *b;
		int len = nla_len(a);

		if (nla_type(a) != STEADYKV_A_REPL_BACKUP)
			continue;
		if ((len != 6 && len != 18) || r->nbackups == SKNL_REPL_MAX_BACKUPS)
			return -1;
		b = &r->backups[r->nbackups++];
		b->alen = len - 2;
		memcpy(b->addr, nla_data(a), (size_t)b->alen);
		b->port = (uint16_t)(((const uint8_t *)nla_data(a))[len - 2] << 8 |
				     ((const uint8_t *)nla_data(a))[len - 1]);
	}
	return 0;
}

struct repl_set_args {
	uint64_t primary_id, epoch;
	const struct sknl_repl_backup *b;
	int n;
};

static int fill_repl_set(struct nl_msg *msg, const void *arg)
{
	const struct repl_set_args *a = arg;
	uint8_t buf[18];

	if (a->n && (nla_put_u64(msg, STEADYKV_A_REPL_PRIMARY_ID, a->primary_id) ||
		     nla_put_u64(msg, STEADYKV_A_REPL_EPOCH, a->epoch)))
		return -1;
	for (int i = 0; i < a->n; i++) {
		memcpy(buf, a->b[i].addr, (size_t)a->b[i].alen);
		buf[a->b[i].alen] = (uint8_t)(a->b[i].port >> 8);
		buf[a->b[i].alen + 1] = (uint8_t)a->b[i].port;
		if (nla_put(msg, STEADYKV_A_REPL_BACKUP, a->b[i].alen + 2, buf))
			return -1;
	}
	return 0;
}

int sknl_repl_set(struct sknl *nl, uint64_t primary_id, uint64_t epoch,
		  const struct sknl_repl_backup *backups, int n, struct sknl_err *err)
{
	struct repl_set_args a = { primary_id, epoch, backups, n };

	return sknl_do(nl, STEADYKV_CMD_REPL_SET, 0, fill_repl_set, &a, NULL, err);
}

int sknl_repl_get(struct sknl *nl, struct sknl_repl *out, struct sknl_err *err)
{
	struct sknl_replies r = { 0 };
	int rc = sknl_do(nl, STEADYKV_CMD_REPL_GET, 0, NULL, NULL, &r, err);

	memset(out, 0, sizeof(*out));
	if (!rc)
		rc = sknl_one_reply(&r, "repl-get", err);
	if (!rc && repl_parse(r.msgs[0], out))
		rc = sknl_err_local(err, EPROTO, "malformed repl-get reply");
	sknl_replies_free(&r);
	return rc;
}

int sknl_replica_dump(struct sknl *nl, struct sknl_repl **out, size_t *count,
		      struct sknl_err *err)
{
	return sknl_dump(nl, STEADYKV_CMD_REPLICA_GET, sizeof(**out), repl_parse,
			 (void **)out, count, err);
}

static int fill_fence(struct nl_msg *msg, const void *arg)
{
	const uint64_t *v = arg;

	return nla_put_u64(msg, STEADYKV_A_REPL_PRIMARY_ID, v[0]) ||
	       nla_put_u64(msg, STEADYKV_A_REPL_EPOCH, v[1]);
}

int sknl_repl_fence(struct sknl *nl, uint64_t primary_id, uint64_t epoch,
		    struct sknl_err *err)
{
	uint64_t v[2] = { primary_id, epoch };

	return sknl_do(nl, STEADYKV_CMD_REPL_FENCE, 0, fill_fence, v, NULL, err);
}

static int fill_recover(struct nl_msg *msg, const void *arg)
{
	const uint64_t *v = arg;

	return nla_put_u64(msg, STEADYKV_A_REPL_PRIMARY_ID, v[0]) ||
	       nla_put_u64(msg, STEADYKV_A_REPL_EPOCH, v[1]) ||
	       nla_put_u64(msg, STEADYKV_A_REPL_RECOVER_TABLE_ID, v[2]) ||
	       nla_put_u64(msg, STEADYKV_A_REPL_RECOVER_START_HASH, v[3]) ||
	       nla_put_u64(msg, STEADYKV_A_REPL_RECOVER_END_HASH, v[4]);
}

int sknl_repl_recover(struct sknl *nl, uint64_t primary_id, uint64_t epoch,
		      uint64_t table_id, uint64_t start_hash, uint64_t end_hash,
		      struct sknl_repl *out, struct sknl_err *err)
{
	uint64_t v[5] = { primary_id, epoch, table_id, start_hash, end_hash };
	struct sknl_replies r = { 0 };
	int rc = sknl_do(nl, STEADYKV_CMD_REPL_RECOVER, 0, fill_recover, v, &r, err);

	memset(out, 0, sizeof(*out));
	if (!rc)
		rc = sknl_one_reply(&r, "repl-recover", err);
	if (!rc && repl_parse(r.msgs[0], out))
		rc = sknl_err_local(err, EPROTO, "malformed repl-recover reply");
	sknl_replies_free(&r);
	return rc;
}
