#!/usr/bin/env bash
# Run steadykv's tests and print one closing line "N passed, N failed".
#
# Host tests: every executable named in userspace/host-tests.list (relative
# to the repo, one per line) runs on the host; VM tests: every line of
# selftests/vm-tests.list ("NAME TIMEOUT COMMAND...") runs in its own fresh
# guest under vm-test/run.sh, which also fails the run on any kernel
# warning.  Every test prints TAP; results are counted from "ok"/"not ok"
# lines, and a run that fails without a failing TAP line counts as one
# failure, so a crash, a timeout or a kernel warning is never lost.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
out=${STEADYKV_CHECK_OUT:-build/check} # check-debug.sh keeps its own
mode=all
case "${1:-}" in
--host-only) mode=host ;;
--vm-only) mode=vm ;;
esac
rm -rf "$out"
mkdir -p "$out"

passed=0
failed=0
skipped=0
failures=()

# count_tap NAME FILE EXIT_STATUS
count_tap() {
	local name=$1 file=$2 rc=$3 p f s
	p=$(grep -cE '^ *ok [0-9]+' "$file" | head -n 1)
	s=$(grep -cE '^ *ok [0-9]+.*# *(SKIP|skip)' "$file" | head -n 1)
	f=$(grep -cE '^ *not ok [0-9]+' "$file" | head -n 1)
	p=$((p - s))
	# A failing run with no failing TAP line (crash, timeout, kernel
	# warning, setup error) is a failure of its own.
	if ((rc != 0 && f == 0)); then
		f=1
		echo "not ok - $name: exited $rc (see $file)" >>"$file"
	fi
	if ((rc == 0 && p == 0 && f == 0 && s == 0)); then
		f=1
		echo "not ok - $name: ran no test (see $file)" >>"$file"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if ((f > 0)); then
		failures+=("$name")
	fi
	printf '%-32s %3d passed, %d failed%s\n' "$name" "$p" "$f" \
		"$( ((s > 0)) && echo ", $s skipped")"
}

run_host_tests() {
	local t name rc
	while read -r t; do
		[[ -z "$t" || "$t" == \#* ]] && continue
		name=host-$(basename "$t")
		"$top/$t" >"$out/$name.tap" 2>&1
		rc=$?
		count_tap "$name" "$out/$name.tap" "$rc"
	done <userspace/host-tests.list
}

run_vm_tests() {
	local name timeout cmd rc
	while read -r name timeout cmd; do
		[[ -z "$name" || "$name" == \#* ]] && continue
		# shellcheck disable=SC2086
		vm-test/run.sh --name "check-$name" --timeout "$timeout" -- $cmd \
			>"$out/vm-$name.tap" 2>&1 </dev/null
		rc=$?
		count_tap "vm-$name" "$out/vm-$name.tap" "$rc"
	done <selftests/vm-tests.list
}

start=$(date +%s)
[[ $mode != vm ]] && run_host_tests
[[ $mode != host ]] && run_vm_tests
elapsed=$(($(date +%s) - start))

echo
for f in "${failures[@]}"; do
	echo "FAILED: $f (log: $out/$f.tap)"
	grep -E '^ *not ok' "$out/$f.tap" | head -n 20 | sed 's/^/    /'
done
echo "check took ${elapsed}s; logs in $out/"
if ((skipped > 0)); then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
((failed == 0 && passed > 0))
