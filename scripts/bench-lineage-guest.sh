#!/usr/bin/env bash
# Inside the guest: what lineage saves (issue 12 item 5).  Three nodes on a
# bridge, a coordinator with --replicas 2 (every node's log on both
# others), table 1 on node 1 with RECORDS records.  YCSB-A (half writes:
# every write waits for its two backups) runs at half the capacity
# measured first; after IDLE_S seconds half of the table moves from node 1
# to node 2, in turn:
#   rocksteady  lineage: pulls are replayed without replication; the
#               target hands the range to its backups once, after the
#               last pull and before END (the source keeps its copy and
#               the coordinator a lineage record until then);
#   replicated  no lineage: the target hands every pulled batch to its
#               backups before it asks for the next.
# The migration's time runs to END; with lineage it includes the
# re-replication (the module's log gives its length), so the time until
# the last pull is shown too.  Each mode runs REPEATS times, interleaved (a slow spell of the host lands
# on both), the half moved back with no load in between.  Reported per
# mode: the median (and range) of the migration's time (until END: the
# range at the target and its backups, the source's copy freed), its MB/s,
# the clients' p99.9 and ops/s during it, and the ratio of the medians.
# The guest runs under TCG: only ratios mean anything.  No figure is
# asserted.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$top/build/bin:/usr/sbin:/sbin:$PATH

RECORDS=${RECORDS:-100000}
IDLE_S=${IDLE_S:-3}
RUN_S=${RUN_S:-40}
REPEATS=${REPEATS:-3}
MODES=(rocksteady replicated)
COORD=10.78.0.254:7100
HALF_END=0x7fffffffffffffff
ctl=build/bin/steadykvctl
tmp=$(mktemp -d)
# shellcheck source=bench-nodes.sh
source scripts/bench-nodes.sh

cleanup() {
	bench_teardown lin 1 2 3
	rm -rf "$tmp"
}
trap cleanup EXIT

# In the bridge's namespace: the coordinator, steadykvctl and the clients.
sw() { ip netns exec linSW "$@"; }

# Every node's replication has its backups opened and caught up.
all_healthy() {
	local i
	for i in 1 2 3; do
		bench_healthy "lin$i" || return 1
	done
}

modprobe libcrc32c
# Replicas only grow (kmod/repl_primary.h) and count in a node's memory
# limit: each node backs up the other two, and on a quiet host the runs
# write so much that the default limit (256 MiB) was reached in the fifth
# (BACKUP_FULL, the migration failed); the guest has 6 GiB.
insmod build/steadykv.ko replica_max_mb=1024 mem_limit_mb=2048
bench_bridge lin 10.78.0 1 2 3
for k in cluster admin; do
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/$k.key")
done
export STEADYKV_CLUSTER_KEY=$tmp/cluster.key STEADYKV_ADMIN_KEY=$tmp/admin.key
sw steadykvd --coordinator --listen "$COORD" --state "$tmp/coord.state" --replicas 2 -q &
wait_for 10 sw "$ctl" cluster -c "$COORD" map
for i in 1 2 3; do
	ip netns exec "lin$i" steadykvd --node "$i" --data "${IP[$i]}:7000" \
		--coord "$COORD" --cluster-key "$STEADYKV_CLUSTER_KEY" -q &
done
wait_for 30 bash -c "ip netns exec linSW $ctl -j cluster -c $COORD map | jq -e '.nodes | length == 3'"
all_healthy
sw "$ctl" cluster -c "$COORD" create-table 1 --nodes 1

echo "== load $RECORDS records on node 1 (R = 2), then capacity (YCSB-A)"
sw steadykv-bench --coord "$COORD" --load --records "$RECORDS" --workload a --capacity \
	--no-run --json "$tmp/capacity.json" --quiet
cap=$(jq -r '.capacity.ops_per_s' "$tmp/capacity.json")
rate=$(jq -rn "$cap / 2 | floor")
echo "capacity $cap ops/s; the runs offer $rate ops/s"

# run MODE R: YCSB-A at $rate; after IDLE_S s, half of table 1 to node 2.
run() {
	local dir=$tmp/$1-$2 pid id rerepl_ms
	mkdir -p "$dir"
	sw steadykv-bench --coord "$COORD" --records "$RECORDS" --workload a --rate "$rate" \
		--duration "$RUN_S" --json "$dir/run.json" --mark-file "$dir/marks" --quiet &
	pid=$!
	sleep "$IDLE_S"
	echo "$(date +%s%N) migration-start" >>"$dir/marks"
	sw "$ctl" cluster -c "$COORD" migrate 1 "0-$HALF_END" --to 2 --mode "$1" --wait >/dev/null
	echo "$(date +%s%N) migration-end" >>"$dir/marks"
	sw "$ctl" -j cluster -c "$COORD" status >"$dir/status.json"
	jq '.[-1]' "$dir/status.json" >"$dir/migration.json"
	wait "$pid"
	jq -e '.state == "done"' "$dir/migration.json" >/dev/null ||
		{ echo "bench-lineage: $1 run $2 did not end done" >&2; cat "$dir/migration.json" >&2; exit 1; }
	# The load must outlast the migration, or "during" is not measured.
	jq -e '.phases.after.ops > 0' "$dir/run.json" >/dev/null ||
		{ echo "bench-lineage: the load ended before the migration (raise RUN_S)" >&2; exit 1; }
	# The module logs how long the re-replication before END took (none
	# in the replicated baseline).
	# (jq would round a 64-bit id.)
	id=$(grep -o '"id": *[0-9]*' "$dir/status.json" | tail -n 1 | grep -o '[0-9]*$')
	rerepl_ms=$(dmesg | sed -n "s/.*migration $id: re-replicated [0-9]* bytes .* in \([0-9]*\) ms$/\1/p" | tail -n 1)
	jq -n --arg mode "$1" --argjson rerepl_ms "${rerepl_ms:-0}" \
		--slurpfile m "$dir/migration.json" --slurpfile r "$dir/run.json" '
		{mode: $mode, s: ($m[0].elapsed_us / 1e6),
		 pulled_s: ($m[0].elapsed_us / 1e6 - $rerepl_ms / 1e3), rerepl_s: ($rerepl_ms / 1e3),
		 mb_per_s: ($m[0].bytes_pulled / ($m[0].elapsed_us / 1e6) / 1e6),
		 p999_us: $r[0].phases.during.latency_us.p999,
		 ops_per_s: $r[0].phases.during.ops_per_s,
		 idle_p999_us: $r[0].phases.idle.latency_us.p999}' | tee -a "$tmp/rows.json"
	sw "$ctl" cluster -c "$COORD" migrate 1 "0-$HALF_END" --to 1 --wait >/dev/null
	all_healthy
}

for ((r = 1; r <= REPEATS; r++)); do
	for mode in "${MODES[@]}"; do
		echo "== run $r: $mode"
		run "$mode" "$r"
	done
done

echo
echo "half of $RECORDS records moved from node 1 to node 2 under YCSB-A at $rate ops/s, R = 2;"
echo "median [min-max] of $REPEATS runs per mode (TCG guest: ratios only)"
jq -rs '
	def med: sort | .[length / 2 | floor];
	def fig(f): (map(f) | "\(med * 100 | round / 100) [\(min * 100 | round / 100)-\(max * 100 | round / 100)]");
	group_by(.mode) | map({mode: .[0].mode, s: fig(.s), pulled_s: fig(.pulled_s),
		rerepl_s: fig(.rerepl_s), mb_per_s: fig(.mb_per_s),
		p999_us: fig(.p999_us), ops_per_s: fig(.ops_per_s), idle_p999_us: fig(.idle_p999_us)}) |
	(["mode", "migration_s", "pulls_done_s", "re-replication_s", "MB/s", "p99.9_during_us",
	  "ops/s_during", "p99.9_idle_us"] | @tsv),
	(.[] | [.mode, .s, .pulled_s, .rerepl_s, .mb_per_s, .p999_us, .ops_per_s, .idle_p999_us] | @tsv)' \
	"$tmp/rows.json" | column -t -s $'\t'
jq -rs '
	def med: sort | .[length / 2 | floor];
	(map(select(.mode == "rocksteady")) ) as $l | (map(select(.mode == "replicated"))) as $r |
	def ratio(f): (($l | map(f) | med) / ($r | map(f) | med) * 100 | round / 100);
	"lineage / replicated (medians): migration time \(ratio(.s))x, pulls done \(ratio(.pulled_s))x, p99.9 during \(ratio(.p999_us))x"' \
	"$tmp/rows.json"
