// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The node daemon's Prometheus metrics (metrics_node.h): each scrape opens
 * a netlink socket in the daemon's namespace and reads the module's
 * counters; nothing is cached, so a scrape shows the module as it is.
 * Names: steadykv_ prefix, base units (bytes, seconds), _total counters.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <steadykv/wire.h>

#include "metrics_http.h"
#include "metrics_node.h"
#include "sknl.h"

struct node_metrics {
	uint32_t node_id;
};

/*
 * Label values of the wire opcodes and statuses (wire.h), as Prometheus
 * spells them: lower case, underscores.  Index 0 of the opcodes is where
 * the module counts opcodes it does not know.
 */
static const char *const op_labels[] = {
	[0] = "unknown", [SKV_OP_PING] = "ping", [SKV_OP_GET] = "get",
	[SKV_OP_PUT] = "put", [SKV_OP_DELETE] = "delete",
	[SKV_OP_MULTI_GET] = "multi_get", [SKV_OP_MIG_PREPARE] = "mig_prepare",
	[SKV_OP_MIG_PULL] = "mig_pull", [SKV_OP_MIG_PRIORITY_PULL] = "mig_priority_pull",
	[SKV_OP_MIG_END] = "mig_end", [SKV_OP_MIG_PUSH_BACK] = "mig_push_back",
	[SKV_OP_AUTH_HELLO] = "auth_hello", [SKV_OP_AUTH_PROOF] = "auth_proof",
	[SKV_OP_MIG_STATUS] = "mig_status", [SKV_OP_REPL_WRITE] = "repl_write",
	[SKV_OP_REPL_READ] = "repl_read", [SKV_OP_REPL_OPEN] = "repl_open",
};


#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A label value for a number the tables do not name ("op_17"). */
static const char *label(const char *const *names, size_t n, const char *kind,
			 uint32_t v, char *buf, size_t len)
{
	if (v < n && names[v])
		return names[v];
	snprintf(buf, len, "%s_%u", kind, v);
	return buf;
}

/* A status's label value: its wire name in lower case ("not_owner"). */
static const char *status_label(uint32_t st, char *buf, size_t len)
{
	const struct skv_status_info *si = skv_status_info(st);
	const char *name = si ? si->name : buf;
	size_t i;

	if (!si)
		snprintf(buf, len, "status_%u", st);
	for (i = 0; name[i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
	return buf;
}

/* One value of a node attribute under a label (the kind of memory...). */
struct node_label {
	int attr;
	const char *value;
};

/* A family NAME whose samples are node attributes, one per LABEL value. */
static void node_labelled(struct metrics_text *t, const struct sknl_node *n, const char *name,
			  const char *help, const char *label, const struct node_label *v, size_t nv)
{
	mt_family(t, name, strstr(name, "_total") ? "counter" : "gauge", help);
	for (size_t i = 0; i < nv; i++)
		if (SKNL_NODE_HAS(n, v[i].attr))
			mt_printf(t, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, v[i].value,
				  n->val[v[i].attr]);
}

static void node_part(struct metrics_text *t, const struct sknl_node *n)
{
	static const struct {
		int attr;
		const char *name, *type, *help;
	} plain[] = {
		{ STEADYKV_A_NODE_REQUESTS, "steadykv_node_requests_total", "counter",
		  "Requests the node served." },
		{ STEADYKV_A_NODE_BAD_REQUESTS, "steadykv_node_bad_requests_total", "counter",
		  "Requests answered with an error for bad input." },
		{ STEADYKV_A_NODE_CONNECTIONS, "steadykv_connections", "gauge",
		  "Open connections, clients and peers." },
		{ STEADYKV_A_NODE_MAX_CONNECTIONS, "steadykv_connections_max", "gauge",
		  "Most connections the node holds." },
		{ STEADYKV_A_NODE_MEM_LIMIT, "steadykv_memory_limit_bytes", "gauge",
		  "Bytes of memory the store may use." },
		{ STEADYKV_A_NODE_MEM_USED, "steadykv_memory_used_bytes", "gauge",
		  "Bytes the store has allocated (the sum of steadykv_memory_bytes)." },
		{ STEADYKV_A_NODE_LIVE_BYTES, "steadykv_live_bytes", "gauge",
		  "Bytes of live records." },
		{ STEADYKV_A_NODE_SEGMENTS, "steadykv_segments", "gauge",
		  "Log segments allocated." },
		{ STEADYKV_A_NODE_CLEANER_PASSES, "steadykv_cleaner_passes_total", "counter",
		  "Passes of the log cleaner." },
		{ STEADYKV_A_NODE_CLEANER_SEGMENTS_FREED, "steadykv_cleaner_segments_freed_total",
		  "counter", "Segments the cleaner freed." },
		{ STEADYKV_A_NODE_CLEANER_BYTES_RELOCATED, "steadykv_cleaner_relocated_bytes_total",
		  "counter", "Bytes of live records the cleaner moved." },
		{ STEADYKV_A_NODE_TOMBSTONES_DROPPED, "steadykv_tombstones_dropped_total", "counter",
		  "Tombstones the cleaner dropped." },
		{ STEADYKV_A_NODE_NO_SPACE_ERRORS, "steadykv_no_space_errors_total", "counter",
		  "Writes refused for lack of memory." },
		{ STEADYKV_A_NODE_CONN_BUFFERS, "steadykv_connection_buffer_bytes", "gauge",
		  "Bytes of the connections' buffers (held to conn_buffers_mb)." },
		{ STEADYKV_A_NODE_PULL_BYTES_COPIED, "steadykv_pull_copied_bytes_total", "counter",
		  "Bytes of records served to migration pulls, copied into replies." },
		{ STEADYKV_A_NODE_PULL_BYTES_SPLICED, "steadykv_pull_spliced_bytes_total", "counter",
		  "Bytes of records served to migration pulls from log pages (pull_splice_min)." },
	};
	static const struct node_label mem[] = {
		{ STEADYKV_A_NODE_MEM_LOG, "log" },
		{ STEADYKV_A_NODE_MEM_SIDE_LOGS, "side_logs" },
		{ STEADYKV_A_NODE_MEM_INDEX, "index" },
		{ STEADYKV_A_NODE_MEM_TABLETS, "tablets" },
	}, records[] = {
		{ STEADYKV_A_NODE_OBJECTS, "object" },
		{ STEADYKV_A_NODE_TOMBSTONES, "tombstone" },
	}, conns[] = {
		{ STEADYKV_A_NODE_CONNS_ACCEPTED, "accepted" },
		{ STEADYKV_A_NODE_CONNS_REFUSED_FULL, "refused_full" },
		{ STEADYKV_A_NODE_CONNS_REFUSED_ADDR, "refused_addr" },
		{ STEADYKV_A_NODE_CONNS_REFUSED_SHARE, "refused_share" },
		{ STEADYKV_A_NODE_CONNS_CLOSED_IDLE, "closed_idle" },
		{ STEADYKV_A_NODE_CONNS_CLOSED_FRAME, "closed_frame" },
		{ STEADYKV_A_NODE_CONNS_CLOSED_REPLY, "closed_reply" },
		{ STEADYKV_A_NODE_CONNS_CLOSED_BUFFERS, "closed_buffers" },
	};

	for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
		if (!SKNL_NODE_HAS(n, plain[i].attr))
			continue;
		mt_family(t, plain[i].name, plain[i].type, plain[i].help);
		mt_printf(t, "%s %" PRIu64 "\n", plain[i].name, n->val[plain[i].attr]);
	}
	node_labelled(t, n, "steadykv_memory_bytes", "Bytes the store has allocated, by kind.",
		      "kind", mem, ARRAY_LEN(mem));
	node_labelled(t, n, "steadykv_records", "Records in memory, by kind.", "kind", records,
		      ARRAY_LEN(records));
	node_labelled(t, n, "steadykv_connection_events_total",
		      "Connections accepted, refused by a cap, closed by a deadline.", "event", conns,
		      ARRAY_LEN(conns));
}

static void requests_part(struct metrics_text *t, const struct sknl_metrics_op *ops, size_t n)
{
	char obuf[16], sbuf[24];
	uint64_t errors, cum;
	const char *op;
	size_t i, s, b;

	mt_family(t, "steadykv_requests_total", "counter",
		  "Requests answered, by opcode and reply status.");
	for (i = 0; i < n; i++) {
		op = label(op_labels, ARRAY_LEN(op_labels), "op", ops[i].op, obuf, sizeof(obuf));
		for (s = 0; s < ops[i].nstatus; s++)
			if (ops[i].status[s])
				mt_printf(t, "steadykv_requests_total{op=\"%s\",status=\"%s\"} %" PRIu64 "\n",
					  op, status_label((uint32_t)s, sbuf, sizeof(sbuf)),
					  ops[i].status[s]);
	}
	mt_family(t, "steadykv_request_errors_total", "counter",
		  "Requests answered with an error status (not ok, not_found or version_mismatch), by opcode.");
	for (i = 0; i < n; i++) {
		errors = 0;
		for (s = 0; s < ops[i].nstatus; s++)
			if (SKV_STATUS_IS_ERROR(s))
				errors += ops[i].status[s];
		mt_printf(t, "steadykv_request_errors_total{op=\"%s\"} %" PRIu64 "\n",
			  label(op_labels, ARRAY_LEN(op_labels), "op", ops[i].op, obuf, sizeof(obuf)),
			  errors);
	}
	mt_family(t, "steadykv_request_duration_seconds", "histogram",
		  "Service time in the module, from the start of a request's handling to its reply being queued.");
	for (i = 0; i < n; i++) {
		op = label(op_labels, ARRAY_LEN(op_labels), "op", ops[i].op, obuf, sizeof(obuf));
		cum = 0;
		/* Bucket b holds times below 2^b ns; the last one is +Inf. */
		for (b = 0; b + 1 < ops[i].nbucket; b++) {
			cum += ops[i].bucket[b];
			mt_printf(t, "steadykv_request_duration_seconds_bucket{op=\"%s\",le=\"%.9g\"} %" PRIu64 "\n",
				  op, (double)(1ull << b) / 1e9, cum);
		}
		cum += ops[i].bucket[b];
		mt_printf(t, "steadykv_request_duration_seconds_bucket{op=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
			  op, cum);
		mt_printf(t, "steadykv_request_duration_seconds_sum{op=\"%s\"} %.9f\n", op,
			  (double)ops[i].sum_ns / 1e9);
		mt_printf(t, "steadykv_request_duration_seconds_count{op=\"%s\"} %" PRIu64 "\n", op, cum);
	}
}

static void tablets_part(struct metrics_text *t, const struct sknl_tablet *ts, size_t n)
{
	size_t i;

	mt_family(t, "steadykv_tablet_requests_total", "counter",
		  "Data requests (each key of a MULTI-GET) that found the tablet, since it got its range here.");
	for (i = 0; i < n; i++)
		mt_printf(t, "steadykv_tablet_requests_total{table=\"%" PRIu64 "\",start=\"0x%016" PRIx64
			  "\",end=\"0x%016" PRIx64 "\"} %" PRIu64 "\n",
			  ts[i].table_id, ts[i].start_hash, ts[i].end_hash, ts[i].requests);
}

static void migrations_part(struct metrics_text *t, const struct sknl_mig_metrics *ms, size_t n)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
#define C(name, field, help) { "steadykv_migration_" name, help, offsetof(struct skv_migration, field) }
		C("pulled_bytes_total", bytes_pulled, "Bytes of pull replies received."),
		C("pulled_records_total", records_pulled, "Records pulled from the source."),
		C("replayed_records_total", records_replayed, "Records applied here."),
		C("skipped_records_total", records_skipped, "Records pulled that were older than ours."),
		C("pulls_total", pulls, "Pulls of partitions answered."),
		C("priority_pulls_total", priority_pulls_sent, "Priority pulls answered."),
		C("priority_keys_total", priority_keys, "Key hashes resolved by priority pulls."),
#undef C
	};
	const struct skv_migration *m;
	const char *name;
	size_t i, c;
	uint32_t s;

	mt_family(t, "steadykv_migration_phase", "gauge",
		  "Phase of each migration into this node: 1 for its phase, 0 for the others.");
	for (i = 0; i < n; i++)
		for (s = 0; (name = skv_mig_state_name(s)); s++)
			mt_printf(t, "steadykv_migration_phase{migration=\"%" PRIu64 "\",phase=\"%s\"} %d\n",
				  ms[i].mig.id, name, ms[i].mig.state == s);
	for (c = 0; c < ARRAY_LEN(counters); c++) {
		mt_family(t, counters[c].name, "counter", counters[c].help);
		for (i = 0; i < n; i++)
			mt_printf(t, "%s{migration=\"%" PRIu64 "\"} %" PRIu64 "\n", counters[c].name,
				  ms[i].mig.id,
				  *(const uint64_t *)((const char *)&ms[i].mig + counters[c].off));
	}
	mt_family(t, "steadykv_migration_client_retries_total", "counter",
		  "Client requests answered RETRY because their key was still at the source.");
	for (i = 0; i < n; i++)
		mt_printf(t, "steadykv_migration_client_retries_total{migration=\"%" PRIu64 "\"} %" PRIu64 "\n",
			  ms[i].mig.id, ms[i].client_retries);
	mt_family(t, "steadykv_migration_duration_seconds", "gauge",
		  "Time since the migration started, or its whole duration once ended.");
	for (i = 0; i < n; i++) {
		m = &ms[i].mig;
		mt_printf(t, "steadykv_migration_duration_seconds{migration=\"%" PRIu64 "\"} %.6f\n",
			  m->id, (double)m->elapsed_us / 1e6);
	}
	mt_family(t, "steadykv_migration_progress_ratio", "gauge",
		  "Share of the hash range pulled and replayed, 0 to 1.");
	for (i = 0; i < n; i++)
		mt_printf(t, "steadykv_migration_progress_ratio{migration=\"%" PRIu64 "\"} %.3f\n",
			  ms[i].mig.id, ms[i].mig.progress_permille / 1000.0);
	mt_family(t, "steadykv_migration_pace_depth", "gauge",
		  "Bulk pulls the pacing lets run at once (its last step).");
	for (i = 0; i < n; i++)
		mt_printf(t, "steadykv_migration_pace_depth{migration=\"%" PRIu64 "\"} %" PRIu32 "\n",
			  ms[i].mig.id, ms[i].mig.pace_depth);
	mt_family(t, "steadykv_migration_pace_client_p999_seconds", "gauge",
		  "Client p99.9 the pacing went by in its last step, the higher of this node's "
		  "and the source's; 0: too few requests to tell.");
	for (i = 0; i < n; i++)
		mt_printf(t, "steadykv_migration_pace_client_p999_seconds{migration=\"%" PRIu64 "\"} %.6f\n",
			  ms[i].mig.id, ms[i].mig.pace_client_p999_us / 1e6);
	mt_family(t, "steadykv_migration_pace_pull_bytes", "gauge",
		  "Bytes each bulk pull asks for (its last step): the migration's pull budget, "
		  "or mig_idle_pull_kb while neither end has client load.");
	for (i = 0; i < n; i++)
		mt_printf(t, "steadykv_migration_pace_pull_bytes{migration=\"%" PRIu64 "\"} %" PRIu32 "\n",
			  ms[i].mig.id, ms[i].mig.pace_pull_bytes);
}

/* Replication: this node as a primary (r), and the replicas it holds (rs). */
static void repl_part(struct metrics_text *t, const struct sknl_repl *r,
		      const struct sknl_repl *rs, size_t n)
{
	static const struct {
		int attr;
		const char *name, *type, *help;
	} primary[] = {
		{ STEADYKV_A_REPL_BACKUPS, "steadykv_replication_backups", "gauge",
		  "Backups (R) this node replicates its log to." },
		{ STEADYKV_A_REPL_POSITION, "steadykv_replication_appended_bytes_total", "counter",
		  "Bytes of records appended to the replication stream." },
		{ STEADYKV_A_REPL_ACKED, "steadykv_replication_acked_bytes_total", "counter",
		  "Bytes of the stream every backup holds." },
		{ STEADYKV_A_REPL_HEALTHY, "steadykv_replication_healthy", "gauge",
		  "1 when every backup is open and caught up (writes are taken)." },
		{ STEADYKV_A_REPL_WRITES_REFUSED, "steadykv_replication_writes_refused_total",
		  "counter", "Writes refused (RETRY) because a backup was missing or behind." },
		{ STEADYKV_A_REPL_WHOLE, "steadykv_replication_whole", "gauge",
		  "1 when every backup holds every record live here (no re-replication due)." },
		{ STEADYKV_A_REPL_RESYNC_BYTES, "steadykv_replication_resync_bytes_total", "counter",
		  "Bytes re-replicated from the store to backups without the older records." },
	};
	static const struct {
		int attr;
		const char *name, *help;
	} held[] = {
		{ STEADYKV_A_REPL_REPLICA_RECORDS, "steadykv_replica_records",
		  "Records held of each primary's stream." },
		{ STEADYKV_A_REPL_REPLICA_MEM, "steadykv_replica_memory_bytes",
		  "Bytes of memory each replica holds." },
		{ STEADYKV_A_REPL_REPLICA_WHOLE, "steadykv_replica_whole",
		  "1 when the replica holds every record live at its primary (usable for recovery)." },
	};
	size_t i, k;

	for (i = 0; i < ARRAY_LEN(primary); i++) {
		if (!SKNL_REPL_HAS(r, primary[i].attr))
			continue;
		mt_family(t, primary[i].name, primary[i].type, primary[i].help);
		mt_printf(t, "%s %" PRIu64 "\n", primary[i].name, r->val[primary[i].attr]);
	}
	if (SKNL_REPL_HAS(r, STEADYKV_A_REPL_POSITION) && SKNL_REPL_HAS(r, STEADYKV_A_REPL_ACKED)) {
		mt_family(t, "steadykv_replication_lag_bytes", "gauge",
			  "Bytes appended that not every backup holds yet.");
		mt_printf(t, "steadykv_replication_lag_bytes %" PRIu64 "\n",
			  r->val[STEADYKV_A_REPL_POSITION] - r->val[STEADYKV_A_REPL_ACKED]);
	}
	mt_family(t, "steadykv_replica_bytes", "gauge",
		  "Bytes of each primary's stream held here (its end minus its base).");
	for (k = 0; k < n; k++)
		mt_printf(t, "steadykv_replica_bytes{primary=\"%" PRIu64 "\"} %" PRIu64 "\n",
			  rs[k].val[STEADYKV_A_REPL_PRIMARY_ID],
			  rs[k].val[STEADYKV_A_REPL_REPLICA_END] - rs[k].val[STEADYKV_A_REPL_REPLICA_BASE]);
	for (i = 0; i < ARRAY_LEN(held); i++) {
		mt_family(t, held[i].name, "gauge", held[i].help);
		for (k = 0; k < n; k++)
			mt_printf(t, "%s{primary=\"%" PRIu64 "\"} %" PRIu64 "\n", held[i].name,
				  rs[k].val[STEADYKV_A_REPL_PRIMARY_ID], rs[k].val[held[i].attr]);
	}
}

static int node_render(void *arg, struct metrics_text *t)
{
	const struct node_metrics *nm = arg;
	struct sknl_metrics_op *ops = NULL;
	struct sknl_mig_metrics *migs = NULL;
	struct sknl_tablet *tablets = NULL;
	struct sknl_repl *replicas = NULL;
	size_t nops = 0, nmigs = 0, ntablets = 0, nreplicas = 0;
	struct sknl_repl repl;
	struct sknl_node node;
	struct sknl_err err;
	struct sknl nl;
	int rc;

	if (sknl_open_err(&nl, &err))
		return -1;
	rc = sknl_node_get(&nl, &node, &err);
	if (!rc)
		rc = sknl_metrics_dump(&nl, &ops, &nops, &err);
	if (!rc)
		rc = sknl_tablet_dump(&nl, &tablets, &ntablets, &err);
	if (!rc)
		rc = sknl_migrate_dump_metrics(&nl, &migs, &nmigs, &err);
	if (!rc)
		rc = sknl_repl_get(&nl, &repl, &err);
	if (!rc)
		rc = sknl_replica_dump(&nl, &replicas, &nreplicas, &err);
	sknl_close(&nl);
	if (rc) {
		sknl_err_log("metrics", &err);
	} else {
		mt_family(t, "steadykv_node_info", "gauge", "The node this daemon runs (always 1).");
		mt_printf(t, "steadykv_node_info{node=\"%u\"} 1\n", nm->node_id);
		node_part(t, &node);
		requests_part(t, ops, nops);
		tablets_part(t, tablets, ntablets);
		migrations_part(t, migs, nmigs);
		repl_part(t, &repl, replicas, nreplicas);
	}
	free(replicas);
	free(ops);
	free(tablets);
	free(migs);
	return rc ? -1 : 0;
}

int metrics_node_start(const char *addr, uint32_t node_id,
		       struct metrics_http **out, char *err, size_t errlen)
{
	static struct node_metrics nm;

	nm.node_id = node_id;
	return metrics_http_start(addr, node_render, &nm, out, err, errlen);
}
