#!/usr/bin/env bash
# make demo, the main job: the migration experiment in one QEMU guest.
# steadykv moves half of a loaded table from node 1 to node 2 under YCSB-B
# load (Rocksteady, then the unpaced / retry / one-prio-puller / push /
# no-priority-pull / one-partition baselines); Redis Cluster 7.0 reshards the same share under the same
# load; iperf3 gives the link's limit; one node of steadykv, Redis and
# memcached are compared on the hot path; a hot spot on one of three nodes
# is moved away by the coordinator's rebalancer (build/demo/rebalance.*).  The report, its JSON and the
# plots go to build/demo/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/demo
rm -rf "$out"
mkdir -p "$out"
# Each migration mode and each hot-path figure is measured DEMO_REPEATS
# times (3); the report gives the median and the spread.
repeats=${DEMO_REPEATS:-3}
# The guest writes its raw results into its run directory (a writable share).
vm-test/run.sh --name demo --timeout "${DEMO_TIMEOUT:-$((600 + 700 * repeats))}" --mem 4096 -- \
	env RECORDS="${RECORDS:-200000}" DEMO_PARTS="${DEMO_PARTS:-}" DEMO_REPEATS="$repeats" \
	RESHARD_CAP_S="${RESHARD_CAP_S:-120}" scripts/demo-guest.sh
cp -r build/vm/demo/demo "$out/raw"
python3 scripts/demo_report.py "$out/raw" "$out"
# The rebalancing step (DEMO_PARTS rebalance): per-node load before and after.
if [[ -f $out/raw/rebalance/timeline.csv ]]; then
	bash scripts/demo_rebalance_plot.sh "$out/raw/rebalance" "$out"
fi
