#!/usr/bin/env bash
# make check-debug: the VM suite on a debug kernel (KASAN, UBSAN, lockdep,
# KFENCE, kmemleak, fault injection; scripts/debug-kernel.sh builds it once
# per machine), then the data-plane and migration suites once more with
# allocation failures injected into steadykv's allocations.
#
#   pass 1  scripts/check.sh --vm-only with the debug kernel and a module
#           built against it (build/debug/steadykv.ko); each guest ends with
#           a kmemleak scan; any report fails the run (vm-test/run.sh).
#   pass 2  for each suite in INJECT_SUITES: failslab and fail_page_alloc
#           fail allocations whose call stack passes through the module's
#           text. The tests' own results are not judged (they see the
#           failures); the guest must finish, unload the module, leave a
#           clean kernel log and kmemleak nothing, and failures must have
#           been injected.
#
# Logs: build/debug/check/ (pass 1), build/debug/vm/ (every guest).
# SKV_SUITES (scripts/check.sh) limits both passes; SKV_INJECT_SUITES, if
# set, names pass 2's suites instead (of INJECT_SUITES; "" for none), so
# that the two passes can cover different suites in one run.
# SKV_FAIL_PROBABILITY (percent, default 5) sets pass 2's failure rate;
# STEADYKV_VM_TIMEOUT_SCALE (default 5) stretches the guests' time limits: at
# 3, teardown's guest ran out of time on a loaded 2-core host (each memory
# reading took 100 s there: one cross-CPU call per cache shrunk).
#
# Inside a guest (pass 2): check-debug.sh --guest-inject COMMAND... loads
# the module, turns injection on, runs COMMAND, turns it off, and fails if
# the module is still loaded or nothing was injected.
set -euo pipefail

# The vm-tests.list suites that pass 2 runs again: data plane and migration.
readonly INJECT_SUITES=(c-tests mig-target migration)
# Attributes set in each fault-injection directory of debugfs.
readonly FAULT_DIRS=(failslab fail_page_alloc)
# Enough failures for every run; what is left of it counts the injected ones.
readonly FAULT_TIMES=100000000

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

say() { printf '==> check-debug: %s\n' "$*" >&2; }

# module_text_range KO: "START END" of the loaded module's text sections,
# from their load addresses (sysfs) and sizes (the .ko's section table).
module_text_range() {
	local ko=$1 sections=/sys/module/steadykv/sections
	# Kernel addresses are negative in bash's signed arithmetic, but they
	# all are, so comparing them is sound.
	local name size addr lo='' hi=''
	while read -r name size; do
		[[ -r $sections/$name ]] || continue
		addr=$(<"$sections/$name")
		if [[ -z $lo ]] || ((addr < lo)); then
			lo=$((addr))
		fi
		if [[ -z $hi ]] || ((addr + 0x$size > hi)); then
			hi=$((addr + 0x$size))
		fi
	done < <(readelf -SW "$ko" | sed -n 's/^ *\[ *[0-9]*\] *//p' |
		awk '$1 ~ /^\.text/ { print $1, $5 }')
	[[ -n $lo ]] || return 1
	printf '0x%x 0x%x\n' "$lo" "$hi"
}

# fault_set DIR ATTR VALUE
fault_set() { echo "$3" >"/sys/kernel/debug/$1/$2"; }

guest_inject() {
	local module=${SKV_MODULE:?SKV_MODULE names the module to load}
	local probability=${SKV_FAIL_PROBABILITY:-5} range start end dir
	local status=0 left injected=0

	modprobe libcrc32c
	# As selftests/lib.sh loads it: migrations held mid-way stay so.
	insmod "$module" mig_idle_pull_kb=0
	range=$(module_text_range "$module") || {
		echo "check-debug: no text sections of steadykv in /sys/module" >&2
		return 1
	}
	read -r start end <<<"$range"
	for dir in "${FAULT_DIRS[@]}"; do
		fault_set "$dir" require-start "$start"
		fault_set "$dir" require-end "$end"
		fault_set "$dir" stacktrace-depth 32
		fault_set "$dir" ignore-gfp-wait N
		fault_set "$dir" interval 1
		fault_set "$dir" verbose 1
		fault_set "$dir" times "$FAULT_TIMES"
	done
	fault_set fail_page_alloc ignore-gfp-highmem N
	fault_set fail_page_alloc min-order 0
	echo "# check-debug: failing ${probability}% of allocations under steadykv text $start-$end"
	for dir in "${FAULT_DIRS[@]}"; do
		fault_set "$dir" probability "$probability"
	done

	"$@" || status=$?

	for dir in "${FAULT_DIRS[@]}"; do
		fault_set "$dir" probability 0
		left=$(<"/sys/kernel/debug/$dir/times")
		injected=$((injected + FAULT_TIMES - left))
		echo "# check-debug: $dir injected $((FAULT_TIMES - left)) failures"
	done
	echo "# check-debug: the command exited with status $status (not judged)"
	if grep -q '^steadykv ' /proc/modules; then
		echo "check-debug: steadykv is still loaded after the command" >&2
		return 1
	fi
	if ((injected == 0)); then
		echo "check-debug: no allocation failure was injected" >&2
		return 1
	fi
}

if [[ ${1-} == --guest-inject ]]; then
	shift
	guest_inject "$@"
	exit
fi

cd "$top"
# Not under the jobserver of the make that built the rest (make check-debug).
unset MAKEFLAGS MFLAGS
out=$top/build/debug
start=$(date +%s)

kernel_dir=$(bash scripts/debug-kernel.sh)
kernel_built=$(date +%s)

# Kbuild (6.12) writes its objects next to the sources: build a copy, so the
# normal build's objects in kmod/ are left alone.
say "building steadykv.ko against $kernel_dir"
rm -rf "$out/module"
mkdir -p "$out/module"
find Kbuild kmod include -type f \( -name Kbuild -o -name '*.[ch]' -o -name '*.mk' \) \
	-exec cp --parents -t "$out/module" {} +
make -C "$kernel_dir/src" M="$out/module" KCFLAGS=-g -j"$(nproc)" modules
cp "$out/module/steadykv.ko" "$out/steadykv.ko"

export STEADYKV_VM_KERNEL=$kernel_dir/vmlinuz
export STEADYKV_VM_MODROOT=$kernel_dir/root
export STEADYKV_BUILD=$out
export STEADYKV_CHECK_OUT=$out/check
export STEADYKV_VM_TIMEOUT_SCALE=${STEADYKV_VM_TIMEOUT_SCALE:-5}
# One guest at a time: a KASAN guest keeps both cores busy by itself.
export SKV_VM_JOBS=${SKV_VM_JOBS:-1}
# Free memory may end 8 MiB short of its snapshot here, not 4 (the
# vm-test/README.md says why); kmemleak's scan is the exact check.
guest_env="SKV_MODULE=$out/steadykv.ko SKV_FREE_TOL_KB=8192"

say "pass 1: the VM suite on the debug kernel"
pass1=0
pass1_start=$(date +%s)
STEADYKV_GUEST_ENV=$guest_env bash scripts/check.sh --vm-only | tee "$out/pass1.log" || pass1=$?

say "pass 2: allocation failures injected into steadykv (${INJECT_SUITES[*]})"
pass2_start=$(date +%s)
pass2_failed=()
pass2_run=0
injected_total=0
for suite in "${INJECT_SUITES[@]}"; do
	# SKV_INJECT_SUITES, else SKV_SUITES, limits pass 2 (see the top).
	if [[ -n ${SKV_INJECT_SUITES+set} ]]; then
		[[ " $SKV_INJECT_SUITES " == *" $suite "* ]] || continue
	else
		[[ -z ${SKV_SUITES:-} || " $SKV_SUITES " == *" $suite "* ]] || continue
	fi
	pass2_run=$((pass2_run + 1))
	read -r timeout cmd < <(awk -v s="$suite" '$1 == s { $1 = ""; print; exit }' selftests/vm-tests.list)
	[[ -n ${cmd:-} ]] || { say "no suite $suite in selftests/vm-tests.list"; exit 1; }
	rc=0
	# SKV_GUEST_TIMEOUT, as scripts/check.sh passes it: selftests/run.sh
	# keeps each program's bound below the guest's.
	# shellcheck disable=SC2086 # the list's command is split at whitespace
	STEADYKV_GUEST_ENV="$guest_env SKV_FAIL_PROBABILITY=${SKV_FAIL_PROBABILITY:-5} SKV_GUEST_TIMEOUT=$timeout" \
		vm-test/run.sh --name "inject-$suite" --timeout "$timeout" -- \
		scripts/check-debug.sh --guest-inject $cmd >"$out/inject-$suite.log" 2>&1 </dev/null ||
		rc=$?
	grep -E '^(# )?check-debug:' "$out/inject-$suite.log" || true
	injected=$(awk '/^# check-debug: .* injected [0-9]+ failures/ { n += $(NF - 1) } END { print n + 0 }' \
		"$out/inject-$suite.log")
	injected_total=$((injected_total + injected))
	if ((rc == 0)); then
		printf '%-32s ok, %d failures injected\n' "inject-$suite" "$injected"
	else
		printf '%-32s FAILED (status %d, see %s)\n' "inject-$suite" "$rc" "$out/inject-$suite.log"
		pass2_failed+=("$suite")
	fi
done

end=$(date +%s)
echo
echo "check-debug took $(((end - start) / 60)) min (debug kernel: $(((kernel_built - start) / 60)) min," \
	"pass 1: $(((pass2_start - pass1_start) / 60)) min, pass 2: $(((end - pass2_start) / 60)) min)"
echo "pass 1 (VM suite on the debug kernel): $(tail -n 1 "$out/pass1.log")"
echo "pass 2 (allocation failures): $((pass2_run - ${#pass2_failed[@]})) of $pass2_run suites clean," \
	"$injected_total failures injected"
((pass1 == 0 && ${#pass2_failed[@]} == 0))
