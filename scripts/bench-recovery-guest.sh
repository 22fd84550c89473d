#!/usr/bin/env bash
# Inside the guest, for each size in SIZES_MB: three namespaces on a
# bridge.  Node A (primary 1) replicates to B; B (primary 2) replicates to
# C.  A client fills A with SIZE MB of 1000-byte values; A's namespace is
# deleted (A dies; B's replica of it stays); B rebuilds A's tablet with
# `repl recover` (the module fences the replica, replays it, serves the
# tablet, and first hands the rebuilt records to its backup C, as a
# recovery in the cluster does).  Reported: the module's time and MB/s,
# beside iperf3 from C to B measured in the same guest.  Figures are only
# meaningful as ratios: the guest runs under TCG, 10-50x slower than native.
# Not measured here: detecting the death (bounded by the coordinator's
# --dead-after-ms; selftests/recovery.sh reports it) and reading a replica
# from another node (recovery replays the replica it holds).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sizes=${SIZES_MB:-8 32 96}
vsize=1000
ctl=build/bin/steadykvctl
bench=build/bin/steadykv-bench
tmp=$(mktemp -d)
# shellcheck source=bench-nodes.sh
source scripts/bench-nodes.sh

teardown() { bench_teardown skvv A B C; }
cleanup() {
	teardown
	rm -rf "$tmp"
}
trap cleanup EXIT

# The replica must hold the largest size (and its records' framing).
max=0
for s in $sizes; do
	((s > max)) && max=$s
done
replica_mb=$((max * 2 + 16))

setup() {
	insmod build/steadykv.ko replica_max_mb="$replica_mb"
	bench_nodes skvv 10.97.0 "$tmp/key" A B C
	ip netns exec skvvA "$ctl" table add 1
	ip netns exec skvvA "$ctl" tablet add 1 min max
	ip netns exec skvvA "$ctl" repl set 1 1 "${IP[B]}:7000"
	ip netns exec skvvB "$ctl" repl set 2 1 "${IP[C]}:7000"
	bench_healthy skvvA
	bench_healthy skvvB
}

(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/key")
modprobe libcrc32c

# iperf3 from C to B: the link a recovery's re-replication crosses.
setup
ip netns exec skvvB iperf3 -s -1 -B "${IP[B]}" >/dev/null 2>&1 &
for _ in $(seq 100); do
	ip netns exec skvvC iperf3 -c "${IP[B]}" -t 5 -J >"$tmp/iperf.json" 2>/dev/null && break
	sleep 0.1
done
link_mbs=$(jq '.end.sum_received.bits_per_second / 8 / 1e6' "$tmp/iperf.json")
teardown

printf '%s\n' "size_mb records recovered_bytes ms mb_per_s x_link" >"$tmp/rows"
for s in $sizes; do
	records=$((s * 1024 * 1024 / vsize))
	setup
	echo "== $s MB: $records records of $vsize B into A (R = 1, backup B)"
	ip netns exec skvvSW "$bench" --node "${IP[A]}:7000" --records "$records" \
		--value-size "$vsize" --load --no-run --conns 8 --depth 8 --quiet \
		>"$tmp/load-$s.out" 2>&1 || { cat "$tmp/load-$s.out"; exit 1; }
	bench_healthy skvvA
	ip netns exec skvvB "$ctl" -j repl replicas
	ip netns del skvvA	# A dies; B holds its replica
	ip netns exec skvvB "$ctl" -j repl recover 1 2 1 min max | tee "$tmp/rec-$s.json"
	jq -r --arg s "$s" --arg link "$link_mbs" '
		[$s, .records, .bytes, (.ns / 1e6), (.bytes / (.ns / 1e9) / 1e6)] as $r |
		"\($r[0]) \($r[1]) \($r[2]) \($r[3] | floor) \($r[4] * 10 | floor / 10) \($r[4] / ($link | tonumber) * 100 | floor / 100)"' \
		"$tmp/rec-$s.json" >>"$tmp/rows"
	ip netns exec skvvB "$ctl" -j repl show
	teardown
done

echo
echo "recovery of one tablet on one node (replay + re-replication to its backup); iperf3 C->B: $link_mbs MB/s (TCG guest: ratios only)"
column -t "$tmp/rows"
