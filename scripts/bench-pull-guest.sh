#!/usr/bin/env bash
# Inside the guest: what a pull costs the nodes' CPU, with records copied
# into the source's reply against sent from its log pages (issue 13 item 3).
# Two nodes on a bridge and a coordinator; one table per value size on
# node 1, each about TABLE_MB of records.  Half of a table moves to node 2
# and back, no client load, with the module parameter pull_splice_min at 0
# (the default: every record copied into the reply) and at SPLICE_MIN
# (records of that many bytes or more sent from the log's pages with
# MSG_SPLICE_PAGES), interleaved, each move a sample.  Reported per value
# size and mode: the medians of MB/s and of the guest's CPU time per MB
# pulled (/proc/stat, both vCPUs, both nodes: the target does the same work
# in both modes, so the difference is the source's), and the ratios
# splice / copy.  The guest runs under TCG: only ratios mean anything.  No
# figure is asserted.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$top/build/bin:/usr/sbin:/sbin:$PATH

read -ra SIZES <<<"${SIZES:-100 1000 4000 16000}"
TABLE_MB=${TABLE_MB:-32}
REPEATS=${REPEATS:-3}
SPLICE_MIN=${SPLICE_MIN:-1024}
COORD=10.79.0.254:7100
HALF_END=0x7fffffffffffffff
ctl=build/bin/steadykvctl
param=/sys/module/steadykv/parameters/pull_splice_min
tmp=$(mktemp -d)
# shellcheck source=bench-nodes.sh
source scripts/bench-nodes.sh

cleanup() {
	bench_teardown pul 1 2
	rm -rf "$tmp"
}
trap cleanup EXIT

sw() { ip netns exec pulSW "$@"; }

# Busy clock ticks of the whole guest (user, nice, system, irq, softirq).
cpu_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

modprobe libcrc32c
insmod build/steadykv.ko mem_limit_mb=1024
bench_bridge pul 10.79.0 1 2
for k in cluster admin; do
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/$k.key")
done
export STEADYKV_CLUSTER_KEY=$tmp/cluster.key STEADYKV_ADMIN_KEY=$tmp/admin.key
sw steadykvd --coordinator --listen "$COORD" --state "$tmp/coord.state" -q &
wait_for 10 sw "$ctl" cluster -c "$COORD" map
for i in 1 2; do
	ip netns exec "pul$i" steadykvd --node "$i" --data "${IP[$i]}:7000" \
		--coord "$COORD" --cluster-key "$STEADYKV_CLUSTER_KEY" -q 2>>"$tmp/nodes.log" &
done
wait_for 30 bash -c "ip netns exec pulSW $ctl -j cluster -c $COORD map | jq -e '.nodes | length == 2'"

t=0
for v in "${SIZES[@]}"; do
	t=$((t + 1))
	n=$((TABLE_MB * 1000000 / (v + 76)))
	sw "$ctl" cluster -c "$COORD" create-table "$t" --nodes 1
	sw steadykv-bench --coord "$COORD" --table "$t" --load --records "$n" \
		--value-size "$v" --no-run --quiet
	echo "table $t: $n records of a $v-byte value on node 1"
done

# move TABLE VALUE_SIZE MODE TO: half of the table to node TO, one sample.
move() {
	local busy0 busy1
	if [ "$3" = copy ]; then echo 0 >"$param"; else echo "$SPLICE_MIN" >"$param"; fi
	busy0=$(cpu_ticks)
	sw "$ctl" cluster -c "$COORD" migrate "$1" "0-$HALF_END" --to "$4" --wait >/dev/null
	busy1=$(cpu_ticks)
	sw "$ctl" -j cluster -c "$COORD" status | jq '.[-1]' >"$tmp/m.json"
	jq -e '.state == "done"' "$tmp/m.json" >/dev/null ||
		{ echo "bench-pull: a migration did not end done" >&2; cat "$tmp/m.json" >&2; exit 1; }
	jq -c --arg v "$2" --arg mode "$3" --argjson hz "$(getconf CLK_TCK)" \
		--argjson busy $((busy1 - busy0)) '
		(.bytes_pulled / 1e6) as $mb |
		{v: ($v | tonumber), mode: $mode, mb: $mb,
		 mb_per_s: ($mb / (.elapsed_us / 1e6)),
		 cpu_ms_per_mb: ($busy * 1000 / $hz / $mb)}' "$tmp/m.json" |
		tee -a "$tmp/rows.json"
}

t=0
for v in "${SIZES[@]}"; do
	t=$((t + 1))
	for ((r = 1; r <= REPEATS; r++)); do
		for mode in copy splice; do
			move "$t" "$v" "$mode" 2
			move "$t" "$v" "$mode" 1
		done
	done
done
echo 0 >"$param"

echo
echo "half of a ${TABLE_MB} MB table moved, no load; splice: pull_splice_min = $SPLICE_MIN;"
echo "median [min-max] of $((2 * REPEATS)) moves per value size and mode (TCG guest: ratios only)"
jq -rs '
	def med: sort | .[length / 2 | floor];
	def fig(f): (map(f) | "\(med * 10 | round / 10) [\(min * 10 | round / 10)-\(max * 10 | round / 10)]");
	group_by([.v, .mode]) | map({v: .[0].v, mode: .[0].mode, mb: fig(.mb), mbps: fig(.mb_per_s),
		cpu: fig(.cpu_ms_per_mb)}) |
	(["value_B", "mode", "MB_moved", "MB/s", "cpu_ms_per_MB"] | @tsv),
	(.[] | [.v, .mode, .mb, .mbps, .cpu] | @tsv)' "$tmp/rows.json" | column -t -s $'\t'
echo
jq -rs '
	def med: sort | .[length / 2 | floor];
	group_by(.v) | .[] | . as $g |
	def m(mode; f): ($g | map(select(.mode == mode) | f) | med);
	def ratio(f): (m("splice"; f) / m("copy"; f) * 100 | round / 100);
	"value \($g[0].v) B: splice / copy: MB/s \(ratio(.mb_per_s))x, CPU per MB \(ratio(.cpu_ms_per_mb))x"' \
	"$tmp/rows.json"
