#!/usr/bin/env bash
# A bounded run of the replay fuzzer for `make check`, reported as TAP:
# any crash, sanitizer report or leak libFuzzer finds fails it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_TIME:-20}
log=$here/../../build/host/fuzz-check.log

echo "1..1"
if make -s -C "$here" fuzz FUZZ_TIME="$seconds" >"$log" 2>&1; then
	runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
	echo "ok 1 fuzz_replay: ${runs:-?} inputs in ${seconds}s, no crash"
else
	sed 's/^/# /' "$log" | tail -n 40
	echo "not ok 1 fuzz_replay found a failure (log: $log)"
	exit 1
fi
