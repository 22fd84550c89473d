// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libskvnl's migrations (see sknl.h): struct skv_migration (mig_record.h)
 * to and from the migration attribute set, and the migrate-* calls.  The
 * record is passed as it is: absent fields stay absent, so the module
 * decides every default.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "parse.h"

#include "sknl.h"
#include "sknl_int.h"

static const struct nla_policy mig_policy[STEADYKV_A_MIGRATION_MAX + 1] = {
	[STEADYKV_A_MIGRATION_ID] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_TABLE_ID] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_START_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_END_HASH] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_SOURCE_ADDR] = { .type = NLA_UNSPEC, .minlen = 4, .maxlen = 16 },
	[STEADYKV_A_MIGRATION_SOURCE_PORT] = { .type = NLA_U16 },
	[STEADYKV_A_MIGRATION_MODE] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PARTITIONS] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PULL_BUDGET] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PRIORITY_PULLS] = { .type = NLA_U8 },
	[STEADYKV_A_MIGRATION_STATE] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_ERROR] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_ERROR_MSG] = { .type = NLA_STRING },
	[STEADYKV_A_MIGRATION_SAFE_VERSION] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_ELAPSED_US] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PROGRESS_PERMILLE] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_BYTES_PULLED] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_RECORDS_PULLED] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_RECORDS_REPLAYED] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_RECORDS_SKIPPED] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PULLS] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PRIORITY_PULLS_SENT] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PRIORITY_KEYS] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PARTITIONS_DONE] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_OWNED_US] = { .type = NLA_U64 },
	[STEADYKV_A_MIGRATION_PACE_DEPTH] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PACE_CLIENT_P999_US] = { .type = NLA_U32 },
	[STEADYKV_A_MIGRATION_PACE_PULL_BYTES] = { .type = NLA_U32 },
};

enum fkind { F_U8, F_U16, F_U32, F_U64 };

/* The integer attributes and where they live in struct skv_migration. */
static const struct {
	int attr;
	enum fkind kind;
	size_t off;
} mig_ints[] = {
#define F(a, k, f) { STEADYKV_A_MIGRATION_##a, k, offsetof(struct skv_migration, f) }
	F(ID, F_U64, id),
	F(TABLE_ID, F_U64, table_id),
	F(START_HASH, F_U64, start_hash),
	F(END_HASH, F_U64, end_hash),
	F(MODE, F_U32, mode),
	F(PARTITIONS, F_U32, partitions),
	F(PULLS_IN_FLIGHT, F_U32, pulls_in_flight),
	F(PULL_BUDGET, F_U32, pull_budget),
	F(PRIORITY_PULLS, F_U8, priority_pulls),
	F(STATE, F_U32, state),
	F(ERROR, F_U32, error),
	F(SAFE_VERSION, F_U64, safe_version),
	F(ELAPSED_US, F_U64, elapsed_us),
	F(PROGRESS_PERMILLE, F_U32, progress_permille),
	F(BYTES_PULLED, F_U64, bytes_pulled),
	F(RECORDS_PULLED, F_U64, records_pulled),
	F(RECORDS_REPLAYED, F_U64, records_replayed),
	F(RECORDS_SKIPPED, F_U64, records_skipped),
	F(PULLS, F_U64, pulls),
	F(PRIORITY_PULLS_SENT, F_U64, priority_pulls_sent),
	F(PRIORITY_KEYS, F_U64, priority_keys),
	F(PARTITIONS_DONE, F_U32, partitions_done),
	F(OWNED_US, F_U64, owned_us),
	F(PACE_DEPTH, F_U32, pace_depth),
	F(PACE_CLIENT_P999_US, F_U32, pace_client_p999_us),
	F(PACE_PULL_BYTES, F_U32, pace_pull_bytes),
#undef F
};

bool sknl_mig_value(const struct skv_migration *m, int attr, uint64_t *v)
{
	for (size_t i = 0; i < ARRAY_SIZE(mig_ints); i++) {
		const char *p = (const char *)m + mig_ints[i].off;

		if (mig_ints[i].attr != attr)
			continue;
		switch (mig_ints[i].kind) {
		case F_U8: *v = *(const uint8_t *)p; break;
		case F_U16: *v = *(const uint16_t *)p; break;
		case F_U32: *v = *(const uint32_t *)p; break;
		case F_U64: *v = *(const uint64_t *)p; break;
		}
		return true;
	}
	return false;
}

/*
 * source-addr and source-port as "ADDR:PORT" or "[ADDR6]:PORT"; the
 * present bits follow the attributes received.
 */
static int source_parse(struct nlattr **tb, struct skv_migration *m)
{
	struct nlattr *a = tb[STEADYKV_A_MIGRATION_SOURCE_ADDR];
	struct nlattr *p = tb[STEADYKV_A_MIGRATION_SOURCE_PORT];
	char text[INET6_ADDRSTRLEN];
	unsigned int port = 0;

	if (p) {
		port = nla_get_u16(p);
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_SOURCE_PORT);
	}
	if (!a)
		return 0;
	if ((nla_len(a) != 4 && nla_len(a) != 16) ||
	    !inet_ntop(nla_len(a) == 4 ? AF_INET : AF_INET6, nla_data(a), text, sizeof(text)))
		return -1;
	snprintf(m->source, sizeof(m->source), nla_len(a) == 4 ? "%s:%u" : "[%s]:%u", text,
		 port);
	SKV_MIG_SET(m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
	return 0;
}

/* m->source, resolved, as source-addr and source-port (those present). */
static int source_put(struct nl_msg *msg, const struct skv_migration *m)
{
	bool addr = SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_SOURCE_ADDR);
	bool port = SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_SOURCE_PORT);
	uint8_t bytes[16];
	char host[SKV_MIG_ADDR_MAX];
	uint16_t p;
	int alen;

	if (!addr && !port)
		return 0;
	if (parse_hostport(m->source, host, sizeof(host), &p) ||
	    sknl_addr_resolve(host, bytes, &alen))
		return -EHOSTUNREACH;
	if ((addr && nla_put(msg, STEADYKV_A_MIGRATION_SOURCE_ADDR, alen, bytes)) ||
	    (port && nla_put_u16(msg, STEADYKV_A_MIGRATION_SOURCE_PORT, p)))
		return -EMSGSIZE;
	return 0;
}

int sknl_migration_parse(struct nl_msg *msg, struct skv_migration *m)
{
	struct nlattr *tb[STEADYKV_A_MIGRATION_MAX + 1];
	struct nlattr *a;

	memset(m, 0, sizeof(*m));
	if (sknl_parse(msg, tb, STEADYKV_A_MIGRATION_MAX, mig_policy))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(mig_ints); i++) {
		char *p = (char *)m + mig_ints[i].off;

		a = tb[mig_ints[i].attr];
		if (!a)
			continue;
		switch (mig_ints[i].kind) {
		case F_U8: *(uint8_t *)p = nla_get_u8(a); break;
		case F_U16: *(uint16_t *)p = nla_get_u16(a); break;
		case F_U32: *(uint32_t *)p = nla_get_u32(a); break;
		case F_U64: *(uint64_t *)p = nla_get_u64(a); break;
		}
		SKV_MIG_SET(m, mig_ints[i].attr);
	}
	if (source_parse(tb, m))
		return -1;
	a = tb[STEADYKV_A_MIGRATION_ERROR_MSG];
	if (a) {
		/* NLA_STRING: the length may or may not count a NUL. */
		snprintf(m->error_msg, sizeof(m->error_msg), "%.*s", nla_len(a),
			 (const char *)nla_data(a));
		SKV_MIG_SET(m, STEADYKV_A_MIGRATION_ERROR_MSG);
	}
	return 0;
}

int sknl_migration_put(struct nl_msg *msg, const struct skv_migration *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(mig_ints); i++) {
		const char *p = (const char *)m + mig_ints[i].off;
		int attr = mig_ints[i].attr;
		int rc = 0;

		if (!SKV_MIG_HAS(m, attr))
			continue;
		switch (mig_ints[i].kind) {
		case F_U8: rc = nla_put_u8(msg, attr, *(const uint8_t *)p); break;
		case F_U16: rc = nla_put_u16(msg, attr, *(const uint16_t *)p); break;
		case F_U32: rc = nla_put_u32(msg, attr, *(const uint32_t *)p); break;
		/* libnl's 64-bit puts do not pad; the kernel accepts unaligned u64s. */
		case F_U64: rc = nla_put_u64(msg, attr, *(const uint64_t *)p); break;
		}
		if (rc)
			return -EMSGSIZE;
	}
	if (SKV_MIG_HAS(m, STEADYKV_A_MIGRATION_ERROR_MSG) &&
	    nla_put_string(msg, STEADYKV_A_MIGRATION_ERROR_MSG, m->error_msg))
		return -EMSGSIZE;
	return source_put(msg, m);
}

/* What migrate-start takes: the range, the source and the tuning. */
#define START_ATTRS							\
	(1ull << STEADYKV_A_MIGRATION_ID | 1ull << STEADYKV_A_MIGRATION_TABLE_ID |	\
	 1ull << STEADYKV_A_MIGRATION_START_HASH | 1ull << STEADYKV_A_MIGRATION_END_HASH |	\
	 1ull << STEADYKV_A_MIGRATION_SOURCE_ADDR | 1ull << STEADYKV_A_MIGRATION_SOURCE_PORT |	\
	 1ull << STEADYKV_A_MIGRATION_MODE | 1ull << STEADYKV_A_MIGRATION_PARTITIONS |	\
	 1ull << STEADYKV_A_MIGRATION_PULLS_IN_FLIGHT |				\
	 1ull << STEADYKV_A_MIGRATION_PULL_BUDGET |					\
	 1ull << STEADYKV_A_MIGRATION_PRIORITY_PULLS)

int sknl_migrate_start(struct sknl *nl, const struct skv_migration *m, struct sknl_err *err)
{
	struct nl_msg *msg = sknl_request(nl, STEADYKV_CMD_MIGRATE_START, 0);
	struct skv_migration req = *m;
	int rc;

	if (!msg)
		return sknl_err_local(err, ENOMEM, "out of memory");
	/* A record that went through the coordinator also says where it stands. */
	req.present &= START_ATTRS;
	rc = sknl_migration_put(msg, &req);
	if (rc) {
		nlmsg_free(msg);
		if (rc == -EHOSTUNREACH)
			return sknl_err_local(err, EHOSTUNREACH,
					      "cannot resolve the source address \"%s\"",
					      m->source);
		return sknl_err_local(err, -rc, "cannot build the migrate-start request");
	}
	return sknl_transact_err(nl, msg, NULL, err);
}

static int fill_mig_id(struct nl_msg *msg, const void *a)
{
	return nla_put_u64(msg, STEADYKV_A_MIGRATION_ID, *(const uint64_t *)a);
}

int sknl_migrate_cancel(struct sknl *nl, uint64_t id, struct sknl_err *err)
{
	return sknl_do(nl, STEADYKV_CMD_MIGRATE_CANCEL, 0, fill_mig_id, &id, NULL, err);
}

struct mig_decision {
	uint64_t id;
	bool abort;
};

static int fill_decision(struct nl_msg *msg, const void *a)
{
	const struct mig_decision *d = a;

	return nla_put_u64(msg, STEADYKV_A_MIGRATION_ID, d->id) ||
	       nla_put_u8(msg, STEADYKV_A_MIGRATION_DECISION_ABORT, d->abort);
}

int sknl_migrate_decide(struct sknl *nl, uint64_t id, bool abort, struct sknl_err *err)
{
	const struct mig_decision d = { .id = id, .abort = abort };

	return sknl_do(nl, STEADYKV_CMD_MIGRATE_DECIDE, 0, fill_decision, &d, NULL, err);
}

int sknl_migrate_get(struct sknl *nl, uint64_t id, struct skv_migration *m,
		     struct sknl_err *err)
{
	struct sknl_replies r = { 0 };
	int rc = sknl_do(nl, STEADYKV_CMD_MIGRATE_GET, 0, fill_mig_id, &id, &r, err);

	memset(m, 0, sizeof(*m));
	if (!rc)
		rc = sknl_one_reply(&r, "migrate-get", err);
	if (!rc && sknl_migration_parse(r.msgs[0], m))
		rc = sknl_err_local(err, EPROTO, "malformed migrate-get reply");
	sknl_replies_free(&r);
	return rc;
}

static int parse_migration(struct nl_msg *msg, void *obj)
{
	return sknl_migration_parse(msg, obj);
}

int sknl_migrate_dump(struct sknl *nl, struct skv_migration **out, size_t *count,
		      struct sknl_err *err)
{
	return sknl_dump(nl, STEADYKV_CMD_MIGRATE_GET, sizeof(**out), parse_migration,
			 (void **)out, count, err);
}
