/* SPDX-License-Identifier: GPL-2.0 */
/*
 * steadykv tracepoints (tracefs: events/steadykv/, perf and bpftrace:
 * steadykv:skv_*).  Defined in metrics.c (CREATE_TRACE_POINTS); each call
 * site is one line.  Migration ids, tables and hash ranges are the
 * netlink ones; states are the spec's enums (migration-state,
 * tablet-state); op and status are wire.h's.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM steadykv

#if !defined(SKV_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define SKV_TRACE_H

#include <linux/tracepoint.h>

/* A migration at its target changed phase (one legal step). */
TRACE_EVENT(skv_mig_phase,
	TP_PROTO(u64 mig_id, u32 from, u32 to),
	TP_ARGS(mig_id, from, to),
	TP_STRUCT__entry(
		__field(u64, mig_id)
		__field(u32, from)
		__field(u32, to)
	),
	TP_fast_assign(
		__entry->mig_id = mig_id;
		__entry->from = from;
		__entry->to = to;
	),
	TP_printk("mig=%llu from=%u to=%u", __entry->mig_id, __entry->from,
		  __entry->to)
);

/*
 * A pull (hashes 0) or priority pull (hashes: the key hashes it asked
 * for) answered and replayed: reply bytes, records, and the time from
 * sending it to its reply (latency_ns, replay excluded).
 */
/* The pacing of a migration's bulk pulls changed its depth. */
TRACE_EVENT(skv_mig_pace,
	TP_PROTO(u64 mig_id, u32 target_p999_us, u32 source_p999_us,
		 u32 depth),
	TP_ARGS(mig_id, target_p999_us, source_p999_us, depth),
	TP_STRUCT__entry(
		__field(u64, mig_id)
		__field(u32, target_p999_us)
		__field(u32, source_p999_us)
		__field(u32, depth)
	),
	TP_fast_assign(
		__entry->mig_id = mig_id;
		__entry->target_p999_us = target_p999_us;
		__entry->source_p999_us = source_p999_us;
		__entry->depth = depth;
	),
	TP_printk("mig=%llu target_p999_us=%u source_p999_us=%u depth=%u",
		  __entry->mig_id, __entry->target_p999_us,
		  __entry->source_p999_us, __entry->depth)
);

TRACE_EVENT(skv_mig_pull,
	TP_PROTO(u64 mig_id, u32 hashes, u32 bytes, u32 records,
		 u64 latency_ns),
	TP_ARGS(mig_id, hashes, bytes, records, latency_ns),
	TP_STRUCT__entry(
		__field(u64, mig_id)
		__field(u32, hashes)
		__field(u32, bytes)
		__field(u32, records)
		__field(u64, latency_ns)
	),
	TP_fast_assign(
		__entry->mig_id = mig_id;
		__entry->hashes = hashes;
		__entry->bytes = bytes;
		__entry->records = records;
		__entry->latency_ns = latency_ns;
	),
	TP_printk("mig=%llu priority=%d hashes=%u bytes=%u records=%u latency_ns=%llu",
		  __entry->mig_id, __entry->hashes > 0, __entry->hashes,
		  __entry->bytes, __entry->records, __entry->latency_ns)
);

/* A pulled batch replayed at the target: what it applied and skipped. */
TRACE_EVENT(skv_mig_replay,
	TP_PROTO(u64 mig_id, u32 records, u32 applied, u32 skipped),
	TP_ARGS(mig_id, records, applied, skipped),
	TP_STRUCT__entry(
		__field(u64, mig_id)
		__field(u32, records)
		__field(u32, applied)
		__field(u32, skipped)
	),
	TP_fast_assign(
		__entry->mig_id = mig_id;
		__entry->records = records;
		__entry->applied = applied;
		__entry->skipped = skipped;
	),
	TP_printk("mig=%llu records=%u applied=%u skipped=%u",
		  __entry->mig_id, __entry->records, __entry->applied,
		  __entry->skipped)
);

/*
 * Ownership of a migrating range changed here (target or source): the
 * tablet's new state, or SKV_TRACE_TABLET_GONE when it left the node.
 */
#define SKV_TRACE_TABLET_GONE	(-1)
TRACE_EVENT(skv_ownership,
	TP_PROTO(u64 mig_id, u64 table_id, u64 start_hash, u64 end_hash,
		 s32 state),
	TP_ARGS(mig_id, table_id, start_hash, end_hash, state),
	TP_STRUCT__entry(
		__field(u64, mig_id)
		__field(u64, table_id)
		__field(u64, start_hash)
		__field(u64, end_hash)
		__field(s32, state)
	),
	TP_fast_assign(
		__entry->mig_id = mig_id;
		__entry->table_id = table_id;
		__entry->start_hash = start_hash;
		__entry->end_hash = end_hash;
		__entry->state = state;
	),
	TP_printk("mig=%llu table=%llu range=%llx-%llx state=%d",
		  __entry->mig_id, __entry->table_id, __entry->start_hash,
		  __entry->end_hash, __entry->state)
);

/*
 * A cleaner pass over at most max_segments victims: segments freed, 0 if
 * none, or a negative errno.
 */
TRACE_EVENT(skv_cleaner_pass,
	TP_PROTO(long freed, u32 max_segments),
	TP_ARGS(freed, max_segments),
	TP_STRUCT__entry(
		__field(long, freed)
		__field(u32, max_segments)
	),
	TP_fast_assign(
		__entry->freed = freed;
		__entry->max_segments = max_segments;
	),
	TP_printk("freed=%ld max_segments=%u", __entry->freed,
		  __entry->max_segments)
);

/* A request answered with an error status (SKV_STATUS_IS_ERROR). */
TRACE_EVENT(skv_request_error,
	TP_PROTO(u8 op, u8 status, u64 request_id),
	TP_ARGS(op, status, request_id),
	TP_STRUCT__entry(
		__field(u8, op)
		__field(u8, status)
		__field(u64, request_id)
	),
	TP_fast_assign(
		__entry->op = op;
		__entry->status = status;
		__entry->request_id = request_id;
	),
	TP_printk("op=%u status=%u request_id=%llu", __entry->op,
		  __entry->status, __entry->request_id)
);

#endif /* SKV_TRACE_H */

/* The module is built out of tree: trace.h is found through -I kmod. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
