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
# SKV_PROG_TIMEOUT (seconds, default 600) bounds each program.

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

: "${SKV_PROG_TIMEOUT:=600}"

# run_prog PROG: run it, renumber its TAP into ours, count its results.
run_prog() {
	local prog=$1 rc state
	state=$SKV_TMP/prog.state
	echo "# ==== $prog"
	if [[ ! -x $prog ]]; then
		ktap_test_fail "$prog: not built or not executable"
		return
	fi
	skv_dmesg_mark # problems are attributed per program
	# Line-buffered so harness output (stdout) and TH_LOG (stderr) interleave in order.
	timeout -k 10 "$SKV_PROG_TIMEOUT" stdbuf -oL -eL "./$prog" 2>&1 </dev/null |
		awk -v n=$((KTAP_TESTNO - 1)) -v state="$state" '
			/^(TAP|KTAP) version/ { print "# " $0; next }
			/^ *[0-9]+\.\.[0-9]+/ { print "# plan: " $0; next }
			/^ *not ok [0-9]+/ { n++; f++; sub(/not ok [0-9]+/, "not ok " n); print; fflush(); next }
			/^ *ok [0-9]+/ {
				n++
				if ($0 ~ /# *(SKIP|skip)/) s++; else p++
				sub(/ok [0-9]+/, "ok " n); print; fflush(); next
			}
			{ print; fflush() }
			END { print n, p + 0, f + 0, s + 0 > state }'
	rc=${PIPESTATUS[0]}
	local n p f s
	read -r n p f s <"$state"
	KTAP_TESTNO=$((n + 1))
	KTAP_CNT_PASS=$((KTAP_CNT_PASS + p))
	KTAP_CNT_FAIL=$((KTAP_CNT_FAIL + f))
	KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + s))
	if ((rc == 124 || rc == 137)); then
		ktap_test_fail "$prog: killed after ${SKV_PROG_TIMEOUT} s (hang?)"
	elif ((rc != 0 && f == 0)); then
		ktap_test_fail "$prog: exited with status $rc without a failing test"
	elif ((p + f + s == 0)); then
		ktap_test_fail "$prog: ran no test"
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
