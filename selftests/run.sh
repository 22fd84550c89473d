#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# selftests/run.sh PROGRAM...: the VM-side runner (see vm-tests.list).
#
# Takes a memory snapshot, loads steadykv.ko, runs each PROGRAM (a path
# from the repo top: a kselftest-harness binary or a shell test) with its
# TAP lines renumbered into this one stream, checks the kernel log after
# each, then unloads the module (bounded) and checks that its slab caches
# are gone and memory is back to the snapshot.  Exits non-zero on any
# failure.  Run as root from the repo top inside a guest.
#
# A program whose TAP plan ("1..N") is missing or disagrees with the results
# it printed fails.  Each program is bounded by what is left of the guest's
# time: SKV_GUEST_TIMEOUT (the guest's own bound, which scripts/check.sh
# passes from vm-tests.list), counted from boot (/proc/uptime), less
# SKV_RESERVE (default 150 s: the kill grace, the unload and memory checks
# that follow, power-off), so a hung program is reported by name before the
# host kills the guest.  SKV_PROG_TIMEOUT (default 600 without a guest
# bound) caps each program further.
#
# On a slow kernel (check-debug), vm-test/run.sh multiplies the guest's
# limit by STEADYKV_VM_TIMEOUT_SCALE and passes the factor in: SKV_GUEST_TIMEOUT
# (as vm-tests.list gives it) and the reserve are multiplied by it here
# (SKV_TIME_SCALE), lib.sh's bounds there, the harness's per-test timeouts
# in st_harness.h.

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

: "${SKV_RESERVE:=$((150 * SKV_TIME_SCALE))}"
if [[ -n ${SKV_GUEST_TIMEOUT:-} ]]; then
	SKV_GUEST_TIMEOUT=$((SKV_GUEST_TIMEOUT * SKV_TIME_SCALE))
elif [[ -z ${SKV_PROG_TIMEOUT:-} ]]; then
	SKV_PROG_TIMEOUT=$((600 * SKV_TIME_SCALE))
fi

# prog_timeout: seconds the next program may run (0: none left).
prog_timeout() {
	local left up
	if [[ -n ${SKV_GUEST_TIMEOUT:-} ]]; then
		up=$(cut -d. -f1 /proc/uptime)
		left=$((SKV_GUEST_TIMEOUT - up - SKV_RESERVE))
		((left > 0)) || left=0
		if [[ -z ${SKV_PROG_TIMEOUT:-} ]] || ((left < SKV_PROG_TIMEOUT)); then
			echo "$left"
			return
		fi
	fi
	echo "$SKV_PROG_TIMEOUT"
}

# run_prog PROG: run it, renumber its TAP into ours, count its results,
# check them against its plan.
run_prog() {
	local prog=$1 rc state limit
	state=$SKV_TMP/prog.state
	limit=$(prog_timeout)
	echo "# ==== $prog (at most $limit s)"
	if [[ ! -x $prog ]]; then
		ktap_test_fail "$prog: not built or not executable"
		return
	fi
	if ((limit <= 0)); then
		ktap_test_fail "$prog: not run, the guest's time is used up"
		return
	fi
	skv_dmesg_mark # problems are attributed per program
	# Line-buffered so harness output (stdout) and TH_LOG (stderr) interleave in order.
	timeout -k 10 "$limit" stdbuf -oL -eL "./$prog" 2>&1 </dev/null |
		awk -v n=$((KTAP_TESTNO - 1)) -v state="$state" '
			/^(TAP|KTAP) version/ { print "# " $0; next }
			/^ *[0-9]+\.\.[0-9]+/ {
				split($1, r, /\.\./); planned += r[2] - r[1] + 1; plans++
				print "# plan: " $0; next
			}
			/^ *not ok [0-9]+/ { n++; f++; sub(/not ok [0-9]+/, "not ok " n); print; fflush(); next }
			/^ *ok [0-9]+/ {
				n++
				if ($0 ~ /# *(SKIP|skip)/) s++; else p++
				sub(/ok [0-9]+/, "ok " n); print; fflush(); next
			}
			{ print; fflush() }
			END { print n, p + 0, f + 0, s + 0, plans + 0, planned + 0 > state }'
	rc=${PIPESTATUS[0]}
	local n p f s plans planned
	read -r n p f s plans planned <"$state"
	KTAP_TESTNO=$((n + 1))
	KTAP_CNT_PASS=$((KTAP_CNT_PASS + p))
	KTAP_CNT_FAIL=$((KTAP_CNT_FAIL + f))
	KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + s))
	if ((rc == 124 || rc == 137)); then
		ktap_test_fail "$prog: killed after $limit s (hang?)"
	elif ((rc != 0 && f == 0)); then
		ktap_test_fail "$prog: exited with status $rc without a failing test"
	elif ((p + f + s == 0)); then
		ktap_test_fail "$prog: ran no test"
	elif ((plans == 0)); then
		ktap_test_fail "$prog: printed no TAP plan"
	elif ((planned != p + f + s)); then
		ktap_test_fail "$prog: TAP plan of $planned tests, $((p + f + s)) results"
	fi
	skv_test "kernel log clean after $prog" skv_dmesg_clean
}

no_module_caches() {
	local left
	left=$(skv_module_caches)
	if [[ -n $left ]]; then
		skv_fail "slab caches left after unload: $left"
		return 1
	fi
}

ktap_print_header
skv_info "kernel $(uname -r), $(nproc) CPUs, $(skv_meminfo_kb MemTotal) KiB"
skv_mem_snapshot base
skv_test "load steadykv.ko" skv_load_module
if ((KTAP_CNT_FAIL)); then
	echo "Bail out! steadykv.ko does not load"
	skv_finish
fi
for prog in "$@"; do
	run_prog "$prog"
done
skv_test "rmmod steadykv completes in bounded time" skv_unload_module 60
skv_test "module slab caches destroyed on unload" no_module_caches
skv_test "memory back to the pre-load snapshot after unload" skv_mem_compare base 30
# shellcheck disable=SC2034 # read by skv_dmesg_clean
SKV_DMESG_MARK=0
skv_test "kernel log clean at the end (whole boot)" skv_dmesg_clean
skv_finish
