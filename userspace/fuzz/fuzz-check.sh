#!/usr/bin/env bash
# The host fuzz targets of userspace/fuzz, each for FUZZ_TIME seconds
# (default 8) from the generated seeds, as TAP: a target fails on any
# crash, sanitizer report, leak or timeout libFuzzer finds, and when it
# ran fewer than FUZZ_MIN_RUNS inputs (default 5000: a target that stops
# early or runs far too slowly tests nothing).  Logs in build/fuzz/.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/../../build/fuzz
seconds=${FUZZ_TIME:-8}
min_runs=${FUZZ_MIN_RUNS:-5000}
targets=(fuzz_reply fuzz_batch fuzz_coord_proto fuzz_state_store fuzz_tablet_map)

echo "1..$((${#targets[@]} + 1))"
if ! make -s -C "$here" all seeds >"$out.build.log" 2>&1; then
	sed 's/^/# /' "$out.build.log" | tail -n 40
	echo "not ok 1 build the fuzz targets and their seeds"
	exit 1
fi
echo "ok 1 build the fuzz targets and their seeds"
rc=0
n=1
for t in "${targets[@]}"; do
	n=$((n + 1))
	log=$out/$t.log
	mkdir -p "$out/corpus/$t"
	timeout $((seconds + 60)) "$out/$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$out/$t-" "$out/corpus/$t" "$out/seeds/$t" >"$log" 2>&1
	status=$?
	runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
	runs=${runs:-0}
	if ((status != 0)); then
		sed 's/^/# /' "$log" | tail -n 40
		echo "not ok $n $t found a failure (status $status, log $log)"
		rc=1
	elif ((runs < min_runs)); then
		echo "not ok $n $t ran $runs inputs in ${seconds}s, fewer than $min_runs"
		rc=1
	else
		echo "ok $n $t: $runs inputs in ${seconds}s, no failure"
	fi
done
exit $rc
