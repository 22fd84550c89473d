#!/usr/bin/env bash
# Run steadykv's tests and print one closing line "N passed, N failed".
#
# Host tests: every executable named in userspace/host-tests.list (relative
# to the repo, one per line) runs on the host, one after the other, beside
# the first guests; VM tests: every line of
# selftests/vm-tests.list ("NAME TIMEOUT COMMAND...") runs in its own fresh
# guest under vm-test/run.sh, which also fails the run on any kernel
# warning; then the multi-VM lab (scripts/crash-test.sh --check: several
# guests, real crashes, each crash point once).  Every test prints TAP; results are counted from "ok"/"not ok"
# lines, and a run that fails without a failing TAP line counts as one
# failure, so a crash, a timeout or a kernel warning is never lost.  So does
# a run whose plan lines ("1..N", one per TAP stream; selftests/run.sh
# renumbers a guest's programs into one stream with one plan) are missing
# or do not add up to its results.
#
# SKV_SUITES="NAME..." runs only those VM suites (vm-tests.list names, and
# "lab"), e.g. for check-debug on the suites a change touches; a run of a
# subset says so on its last line.  SKV_VM_JOBS (1-9, default 1) guests
# run at a time.
#
# Bounds: each host test runs under timeout(1), HOST_TEST_TIMEOUT seconds
# (default 300; all of them together take about 235 s on a 2-core host,
# beside the first guests); each guest has the timeout its vm-tests.list line gives,
# passed into the guest as SKV_GUEST_TIMEOUT so that selftests/run.sh stops
# a hung program, and names it, before the guest is killed.
set -uo pipefail
# The tests run as from a shell, not under the jobserver of the make that
# built them in parallel (make check).
unset MAKEFLAGS MFLAGS

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
out=${STEADYKV_CHECK_OUT:-build/check} # check-debug.sh keeps its own
mode=all
case "${1:-}" in
--host-only) mode=host ;;
--vm-only) mode=vm ;;
--count) mode=count ;; # --count FILE [STATUS]: count one TAP file as below
esac
: "${HOST_TEST_TIMEOUT:=300}"
: "${SKV_VM_JOBS:=1}"
[[ $SKV_VM_JOBS =~ ^[1-9]$ ]] || { echo "SKV_VM_JOBS must be 1 to 9" >&2; exit 2; }

# tap_plan_error FILE: why FILE's plan lines and its results disagree
# (nothing if they agree).
tap_plan_error() {
	awk '
		/^ *[0-9]+\.\.[0-9]+/ { split($1, r, /\.\./); planned += r[2] - r[1] + 1; plans++; next }
		/^ *(not )?ok [0-9]+/ { results++ }
		END {
			if (!plans) print "no TAP plan"
			else if (planned != results)
				printf "TAP plan of %d tests, %d results\n", planned, results
		}' "$1"
}

passed=0
failed=0
skipped=0
failures=()

# count_tap NAME FILE EXIT_STATUS [SECONDS [CPU]]: SECONDS, how long it ran,
# and CPU, the CPU seconds its guest used, are printed with its counts (what
# to shorten when the check is slow; a guest that mostly waits can share a
# core with more).
count_tap() {
	local name=$1 file=$2 rc=$3 secs=${4:-} cpu=${5:-} p f s plan_err
	plan_err=$(tap_plan_error "$file")
	p=$(grep -cE '^ *ok [0-9]+' "$file" | head -n 1)
	s=$(grep -cE '^ *ok [0-9]+.*# *(SKIP|skip)' "$file" | head -n 1)
	f=$(grep -cE '^ *not ok [0-9]+' "$file" | head -n 1)
	p=$((p - s))
	# A failing run with no failing TAP line (crash, timeout, kernel
	# warning, setup error) is a failure of its own; so is a run whose plan
	# disagrees with its results (a test lost without a trace).
	if ((rc != 0 && f == 0)); then
		f=1
		echo "not ok - $name: exited $rc${plan_err:+, $plan_err} (see $file)" >>"$file"
	elif ((rc == 0 && p == 0 && f == 0 && s == 0)); then
		f=1
		echo "not ok - $name: ran no test (see $file)" >>"$file"
	elif [[ -n $plan_err ]]; then
		f=$((f + 1))
		echo "not ok - $name: $plan_err (see $file)" >>"$file"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if ((f > 0)); then
		failures+=("$name")
	fi
	printf '%-32s %3d passed, %d failed%s%s%s\n' "$name" "$p" "$f" \
		"$( ((s > 0)) && echo ", $s skipped")" "${secs:+ ($secs s}" \
		"${secs:+${cpu:+, $cpu s of CPU})}"
}

# run_host_tests: each test of userspace/host-tests.list; its TAP in
# $out/host-NAME.tap and "NAME STATUS SECONDS" in $out/.host-results, which
# count_host_tests counts (in this shell: the tests may run in the
# background, beside the guests).
run_host_tests() {
	local t name rc t0
	: >"$out/.host-results"
	while read -r t; do
		[[ -z "$t" || "$t" == \#* ]] && continue
		name=host-$(basename "$t")
		t0=$SECONDS
		timeout -k 10 "$HOST_TEST_TIMEOUT" "$top/$t" >"$out/$name.tap" 2>&1 </dev/null
		rc=$?
		if ((rc == 124 || rc == 137)); then
			echo "# $name: killed after $HOST_TEST_TIMEOUT s (hang?)" >>"$out/$name.tap"
		fi
		echo "$name $rc $((SECONDS - t0))" >>"$out/.host-results"
	done <userspace/host-tests.list
}

count_host_tests() {
	local name rc secs
	while read -r name rc secs; do
		count_tap "$name" "$out/$name.tap" "$rc" "$secs"
	done <"$out/.host-results"
	rm -f "$out/.host-results"
}

# suite_wanted NAME: NAME is in $SKV_SUITES (space-separated), or it is unset.
suite_wanted() {
	[[ -z ${SKV_SUITES:-} || " $SKV_SUITES " == *" $1 "* ]]
}

# run_vm_suite NAME TIMEOUT CMD...: one vm-tests.list line in its own guest;
# its TAP in $out/vm-NAME.tap, and its exit status.
run_vm_suite() {
	local name=$1 timeout=$2
	shift 2
	vm-test/run.sh --name "check-$name" --timeout "$timeout" -- \
		env SKV_GUEST_TIMEOUT="$timeout" "$@" >"$out/vm-$name.tap" 2>&1 </dev/null
}

# The suites run SKV_VM_JOBS guests at a time (default 1), in the list's
# order.  One at a time is the fastest on 2 cores: a guest has 2 vCPUs, and
# two guests (4 vCPU threads on 2 cores) used 2.7 times the CPU for the
# same suites (teardown and trace: 343 CPU seconds in 178 s two at a
# time, 129 in 104 s one after the other), a vCPU spinning in the guest
# (IPIs, locks) while the host runs the other guest's.  Each suite is
# counted as it ends: it writes "NAME STATUS SECONDS CPU" into a FIFO,
# which the loop reads.  With WITH_HOST set, the host tests (mostly one
# core's work) run beside the guests, outside the slots, and are counted
# when they end.
run_vm_tests() {
	local name timeout cmd running=0 host=0 done_fd t0 rc user sys
	rm -f "$out/.vm-done"
	mkfifo "$out/.vm-done" || return 1
	exec {done_fd}<>"$out/.vm-done"
	if [[ -n ${WITH_HOST:-} ]]; then
		{ run_host_tests; echo "host 0 0 0" >&"$done_fd"; } &
		host=1
	fi
	while read -r name timeout cmd; do
		[[ -z "$name" || "$name" == \#* ]] && continue
		suite_wanted "$name" || continue
		while ((running >= SKV_VM_JOBS)); do
			count_next "$done_fd"
		done
		{
			t0=$SECONDS
			# The guest's CPU time: bash's time counts the children
			# run.sh waited for, QEMU among them.
			TIMEFORMAT='%U %S'
			# shellcheck disable=SC2086 # CMD is words
			{ time run_vm_suite "$name" "$timeout" $cmd; } 2>"$out/.cpu-$name"
			rc=$?
			read -r user sys <"$out/.cpu-$name"
			rm -f "$out/.cpu-$name"
			echo "$name $rc $((SECONDS - t0)) $(awk -v u="$user" -v s="$sys" \
				'BEGIN { printf "%d", u + s }')" >&"$done_fd"
		} &
		running=$((running + 1))
	done <selftests/vm-tests.list
	while ((running + host > 0)); do
		count_next "$done_fd"
	done
	wait
	exec {done_fd}>&-
	rm -f "$out/.vm-done"
}

# count_next FD: wait for the next suite (or the host tests) to end, count
# it, and take it off run_vm_tests' running (or host).
count_next() {
	local name rc secs cpu
	read -r -u "$1" name rc secs cpu
	if [[ $name == host ]]; then
		count_host_tests
		host=0
		return
	fi
	count_tap "vm-$name" "$out/vm-$name.tap" "$rc" "$secs" "$cpu"
	running=$((running - 1))
}

# The multi-VM lab: one node per guest, crashes by killing QEMU.
run_lab() {
	local rc t0=$SECONDS
	scripts/crash-test.sh --check >"$out/vm-lab.tap" 2>&1 </dev/null
	rc=$?
	count_tap vm-lab "$out/vm-lab.tap" "$rc" $((SECONDS - t0))
}

if [[ $mode == count ]]; then
	count_tap "$(basename "${2:?--count FILE [STATUS]}")" "$2" "${3:-0}"
	((failed == 0 && passed > 0))
	exit
fi

# cpu_ticks: "BUSY TOTAL", the host's CPU time since boot (/proc/stat:
# user to steal; guest time is in user already).
cpu_ticks() {
	awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i
		print t - $5 - $6, t }' /proc/stat
}

rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
read -r busy0 total0 <<<"$(cpu_ticks)"
case $mode in
host) run_host_tests; count_host_tests ;;
vm) run_vm_tests ;;
*) WITH_HOST=1 run_vm_tests ;;
esac
[[ $mode != host ]] && suite_wanted lab && run_lab
elapsed=$(($(date +%s) - start))
read -r busy1 total1 <<<"$(cpu_ticks)"
# How much of the machine the run used: whether more suites can run at once.
cpu_busy=$((100 * (busy1 - busy0) / (total1 - total0 > 0 ? total1 - total0 : 1)))

echo
# failure_lines FILE: each failing TAP line, after the reasons printed
# before it (skv_fail's "# FAIL:", the harness's "Expected", the history
# checker's offending operations and shortfalls), at most four each, cut
# to 300 characters: the end of the run says why, not only what (CI shows
# its last lines).
failure_lines() {
	awk '
		/# FAIL:|Expected |kernel report|# history: #   |# too few/ {
			why[n++ % 4] = substr($0, 1, 300); next
		}
		/^ *not ok/ {
			for (i = (n > 4 ? n - 4 : 0); i < n; i++) print "      " why[i % 4]
			print "    " $0
			n = 0
		}' "$1" | head -n 40
}

for f in "${failures[@]}"; do
	echo "FAILED: $f (log: $out/$f.tap)"
	failure_lines "$out/$f.tap"
done
echo "check took ${elapsed}s, the host's CPUs ${cpu_busy}% busy; logs in $out/"
[[ -n ${SKV_SUITES:-} ]] && echo "VM suites run: only $SKV_SUITES (SKV_SUITES)"
if ((skipped > 0)); then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
((failed == 0 && passed > 0))
