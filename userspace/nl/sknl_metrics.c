// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libskvnl: the module's metrics for steadykvd's Prometheus endpoint:
 * metrics-get (replies by opcode and status, service-time histograms)
 * and migrations with their client RETRY count.
 */
#include <errno.h>
#include <string.h>

#include "sknl.h"
#include "sknl_int.h"

static const struct nla_policy metrics_policy[STEADYKV_A_METRICS_MAX + 1] = {
	[STEADYKV_A_METRICS_OP] = { .type = NLA_U32 },
	[STEADYKV_A_METRICS_STATUS_COUNTS] = { .type = NLA_UNSPEC },
	[STEADYKV_A_METRICS_LATENCY_BUCKETS] = { .type = NLA_UNSPEC },
	[STEADYKV_A_METRICS_LATENCY_SUM_NS] = { .type = NLA_U64 },
};

/* A u64 array attribute into v (at most max entries): its count, or -1. */
static int u64_array(const struct nlattr *a, uint64_t *v, size_t max, size_t *n)
{
	size_t len = (size_t)nla_len(a);

	if (len % sizeof(uint64_t) || len / sizeof(uint64_t) > max)
		return -1;
	memcpy(v, nla_data(a), len);
	*n = len / sizeof(uint64_t);
	return 0;
}

static int parse_metrics_op(struct nl_msg *msg, void *obj)
{
	struct nlattr *tb[STEADYKV_A_METRICS_MAX + 1];
	struct sknl_metrics_op *o = obj;

	memset(o, 0, sizeof(*o));
	if (sknl_parse(msg, tb, STEADYKV_A_METRICS_MAX, metrics_policy) ||
	    !tb[STEADYKV_A_METRICS_OP] || !tb[STEADYKV_A_METRICS_STATUS_COUNTS] ||
	    !tb[STEADYKV_A_METRICS_LATENCY_BUCKETS] || !tb[STEADYKV_A_METRICS_LATENCY_SUM_NS])
		return -1;
	o->op = nla_get_u32(tb[STEADYKV_A_METRICS_OP]);
	o->sum_ns = nla_get_u64(tb[STEADYKV_A_METRICS_LATENCY_SUM_NS]);
	if (u64_array(tb[STEADYKV_A_METRICS_STATUS_COUNTS], o->status, SKNL_METRICS_STATUSES,
		      &o->nstatus) ||
	    u64_array(tb[STEADYKV_A_METRICS_LATENCY_BUCKETS], o->bucket, SKNL_METRICS_BUCKETS,
		      &o->nbucket) || !o->nbucket)
		return -1;
	return 0;
}

int sknl_metrics_dump(struct sknl *nl, struct sknl_metrics_op **out, size_t *count,
		      struct sknl_err *err)
{
	return sknl_dump(nl, STEADYKV_CMD_METRICS_GET, sizeof(**out), parse_metrics_op,
			 (void **)out, count, err);
}

static int parse_mig_metrics(struct nl_msg *msg, void *obj)
{
	struct sknl_mig_metrics *mm = obj;
	struct nlattr *a;

	memset(mm, 0, sizeof(*mm));
	if (sknl_migration_parse(msg, &mm->mig))
		return -1;
	a = nlmsg_find_attr(nlmsg_hdr(msg), GENL_HDRLEN,
			    STEADYKV_A_MIGRATION_METRICS_CLIENT_RETRIES);
	if (a) {
		if (nla_len(a) != sizeof(uint64_t))
			return -1;
		mm->client_retries = nla_get_u64(a);
	}
	return 0;
}

int sknl_migrate_dump_metrics(struct sknl *nl, struct sknl_mig_metrics **out, size_t *count,
			      struct sknl_err *err)
{
	return sknl_dump(nl, STEADYKV_CMD_MIGRATE_GET, sizeof(**out), parse_mig_metrics,
			 (void **)out, count, err);
}
