# shellcheck shell=bash
# shellcheck disable=SC2154 # ksft_* and KTAP_* come from the kernel's helpers
# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the steadykv shell selftests.  Source it from a test
# running as root inside a guest (vm-test/run.sh).  It sources the kernel's
# selftests/net/lib.sh (setup_ns, cleanup_ns) and kselftest/ktap_helpers.sh
# (TAP output); busywait and slowwait (net/lib.sh's names and arguments)
# are replaced by skv_poll here.
#
#   skv_load_module / skv_unload_module     insmod/rmmod, bounded, checked
#   skv_node_start NS ADDR PORT [TABLE...]  key, listen + tables with a full tablet
#   skv_node_key NS                         give NS's node the cluster key
#   cli_error_is NS ERRNO-TEXT ARGS...      steadykvctl fails with errno and extack
#   skv_mem_snapshot / skv_mem_compare      Slab, vmalloc, free memory, caches
#   skv_test DESC FUNC [ARGS...]            run FUNC, print one TAP line
#   skv_fail MSG                            record why the current test fails
#   skv_bg CMD...                           background job, killed on exit
#   skv_poll MS CMD... / slowwait S CMD...  run CMD until it succeeds or time is up
#   skv_sleep SECONDS                       a pause without a process
#   skv_in NS CMD...                        CMD in NS's network namespace
#   skv_slow_link / skv_fast_link NS DEV    netem delay on a link, and off
#   skv_cut_link NS DEV DST                 netem drops everything to DST
#   skv_netem_script DEV DST|all ARGS       the tc commands of netem on DEV
#   skv_finish                              plan line, exit status
#
# Namespaces come from setup_ns (random suffixes) and are removed by the
# EXIT trap that sourcing this file installs.

SKV_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SKV_KSFT=$SKV_TOP/build/linux-src/tools/testing/selftests
export PATH="$SKV_TOP/build/bin:$SKV_TOP/build/selftests:/usr/sbin:/sbin:$PATH"
: "${SKV_MODULE:=$SKV_TOP/build/steadykv.ko}"

if [[ ! -r $SKV_KSFT/net/lib.sh || ! -r $SKV_KSFT/kselftest/ktap_helpers.sh ]]; then
	echo "Bail out! $SKV_KSFT missing (run: bash scripts/linux-src.sh)"
	exit 1
fi
# shellcheck source=/dev/null
source "$SKV_KSFT/net/lib.sh"
# shellcheck source=/dev/null
source "$SKV_KSFT/kselftest/ktap_helpers.sh"

# The guest's time factor (vm-test/run.sh passes it in: slow debug kernels)
# stretches every bound below: polls, unload, memory settling.
SKV_TIME_SCALE=${STEADYKV_VM_TIMEOUT_SCALE:-1}
# Bound for polls: long enough for TCG emulation, short enough to fail a hang.
: "${SKV_WAIT:=$((60 * SKV_TIME_SCALE))}"

SKV_BG_PIDS=()
SKV_TMP=$(mktemp -d /tmp/skv-selftest.XXXXXX)

# The tests' jq is gojq: jq 1.6 compiles its builtins at every start (50 ms
# on the host, about a second under TCG), and the tests call it hundreds
# of times.  gojq also keeps 64-bit integers exact.
if [[ -x /usr/bin/gojq ]]; then
	mkdir -p "$SKV_TMP/bin" && ln -sf /usr/bin/gojq "$SKV_TMP/bin/jq" &&
		export PATH="$SKV_TMP/bin:$PATH"
fi

# skv_key FILE: a fresh random key file, mode 0600 (auth_key.h's format).
skv_key() {
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$1")
}
# The cluster's keys: steadykvd (coordinator and node daemons) and
# steadykvctl take them from these variables when no option names a file;
# C programs that speak node-to-node ops load the cluster key too
# (st_cluster_key()).
skv_key "$SKV_TMP/cluster.key"
skv_key "$SKV_TMP/admin.key"
export STEADYKV_CLUSTER_KEY=$SKV_TMP/cluster.key
export STEADYKV_ADMIN_KEY=$SKV_TMP/admin.key

# skv_stop_bg: kill and reap every process skv_bg started.
skv_stop_bg() {
	local pid
	for pid in "${SKV_BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${SKV_BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	SKV_BG_PIDS=()
}

# skv_teardown_cluster: stop the last test's cluster (daemons, namespaces,
# the coordinator's state file) before the next one.
skv_teardown_cluster() {
	skv_stop_bg
	cleanup_all_ns >/dev/null 2>&1
	rm -f "$SKV_TMP/coord.state"
}

skv_cleanup() {
	skv_stop_bg
	cleanup_all_ns >/dev/null 2>&1
	rm -rf "$SKV_TMP"
}
trap skv_cleanup EXIT

# ---- TAP ----------------------------------------------------------------

RET=0
# shellcheck disable=SC2034 # read by net/lib.sh
retmsg=

skv_fail() {
	RET=$ksft_fail
	retmsg="$*"
	echo "# FAIL: $*"
}

skv_info() {
	echo "# $*"
}

# skv_history_report FILE: what skv-history's FILE says, as TAP comments:
# its counts, its verdict, the first offending operations and any error
# (its whole output is longer than a log's tail should be).
skv_history_report() {
	grep -E '^# (skv-history|ops|results|migration windows|final reads|violations|too few)|^#   |^skv-history:' "$1" |
		head -n 13 | sed 's/^/# history: /'
}

# skv_test DESC FUNC [ARGS...]: run FUNC; it fails by calling skv_fail or by
# returning non-zero; it skips by returning $ksft_skip.
skv_test() {
	local desc=$1 rc t0 f0
	shift
	RET=0
	# shellcheck disable=SC2034
	retmsg=
	t0=$(timestamp_ms)
	f0=$(skv_forks)
	"$@"
	rc=$?
	echo "# $1: $(($(timestamp_ms) - t0)) ms, $(($(skv_forks) - f0)) processes"
	if ((rc == ksft_skip && RET == 0)); then
		ktap_test_skip "$desc"
		return 0
	fi
	if ((rc != 0 && RET == 0)); then
		RET=$ksft_fail
	fi
	if ((RET == 0)); then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
	return 0
}

# skv_forks: processes started since boot (/proc/stat), read without one.
skv_forks() {
	local key n
	while read -r key n _; do
		[[ $key == processes ]] && break
	done </proc/stat
	echo "$n"
}

skv_finish() {
	echo "1..$((KTAP_TESTNO - 1))"
	ktap_print_totals
	((KTAP_CNT_FAIL == 0))
	exit $?
}

# ---- processes and waits ------------------------------------------------

# Under TCG a process costs 50 to 300 ms of a guest's CPU, and net/lib.sh's
# waits start three per round (date, the check, sleep 0.1), so a poll
# kept a CPU busy and slowed what it waited for.  These replace them with
# the same arguments and output, started processes only for the check.

# A pipe that nobody writes: reading it with a timeout is a sleep.
exec {SKV_SLEEP_FD}<> <(:)

# skv_sleep SECONDS: sleep (fractions allowed) without starting a process.
skv_sleep() {
	read -rt "$1" -u "$SKV_SLEEP_FD" _ || :
}

# skv_now_us: microseconds since the epoch, into SKV_NOW_US (no subshell).
skv_now_us() {
	SKV_NOW_US=${EPOCHREALTIME//[.,]/}
}

timestamp_ms() {
	skv_now_us
	echo $((SKV_NOW_US / 1000))
}

# skv_poll TIMEOUT_MS CMD...: run CMD until it succeeds or the time is up;
# the last output is printed, as net/lib.sh's loopy_wait does.  Between two
# checks it waits as long as the check took, from 0.1 to 0.5 s: a costly
# check in a guest is not run back to back, and a condition that holds is
# seen within half a second.
skv_poll() {
	local deadline t0 took out pause
	skv_now_us
	deadline=$((SKV_NOW_US + $1 * 1000))
	shift
	while :; do
		t0=$SKV_NOW_US
		if out=$("$@"); then
			echo -n "$out"
			return 0
		fi
		skv_now_us
		if ((SKV_NOW_US > deadline)); then
			echo -n "$out"
			return 1
		fi
		took=$((SKV_NOW_US - t0))
		((took >= 100000)) || took=100000
		((took <= 500000)) || took=500000
		printf -v pause "0.%06d" "$took"
		skv_sleep "$pause"
		skv_now_us
	done
}

busywait() {
	skv_poll "$@"
}

slowwait() {
	local t=$1
	shift
	skv_poll $((t * 1000)) "$@"
}

# skv_bg CMD...: start CMD in the background; its pid goes to SKV_LAST_PID
# and is killed at exit.
skv_bg() {
	"$@" &
	SKV_LAST_PID=$!
	SKV_BG_PIDS+=("$SKV_LAST_PID")
}

# skv_wait_file FILE [SECONDS]: until FILE exists.
skv_wait_file() {
	slowwait "${2:-$SKV_WAIT}" test -e "$1"
}

# skv_wait_exit PID SECONDS: wait for a background job, bounded; its status
# (124 if it did not end in time; it is then killed).
skv_wait_exit() {
	local pid=$1 t=$2 i
	for ((i = 0; i < t * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return $?
		fi
		skv_sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 124
}

# ---- the module ---------------------------------------------------------

skv_module_loaded() {
	grep -q '^steadykv ' /proc/modules
}

# The tests hold migrations mid-way with small pull budgets over slow
# links; with no client load a paced migration would ask for
# mig_idle_pull_kb instead and be over before they act.  So the module
# is loaded with that off; mig_target.sh's t_idle_pulls turns it on.
SKV_MODULE_PARAMS=(mig_idle_pull_kb=0)

# Load steadykv.ko (and libcrc32c, which it needs).  Fails clearly.
skv_load_module() {
	if skv_module_loaded; then
		return 0
	fi
	if [[ ! -r $SKV_MODULE ]]; then
		skv_fail "$SKV_MODULE missing (make module)"
		return 1
	fi
	modprobe libcrc32c 2>/dev/null || true
	if ! insmod "$SKV_MODULE" "${SKV_MODULE_PARAMS[@]}" 2>"$SKV_TMP/insmod.err"; then
		skv_fail "insmod $SKV_MODULE: $(cat "$SKV_TMP/insmod.err")"
		dmesg | tail -n 20 | sed 's/^/# dmesg: /'
		return 1
	fi
	skv_module_loaded || { skv_fail "steadykv not in /proc/modules after insmod"; return 1; }
}

# Unload it within SECONDS (default 60): a hang is a failure, not a stuck run.
skv_unload_module() {
	local t=$((${1:-60} * SKV_TIME_SCALE)) start end rc
	skv_module_loaded || return 0
	start=$(timestamp_ms)
	timeout "$t" rmmod steadykv 2>"$SKV_TMP/rmmod.err"
	rc=$?
	end=$(timestamp_ms)
	if ((rc == 124)); then
		skv_fail "rmmod steadykv still running after $t s (hang)"
		return 1
	elif ((rc != 0)); then
		skv_fail "rmmod steadykv failed ($rc): $(cat "$SKV_TMP/rmmod.err")"
		return 1
	fi
	skv_info "rmmod took $((end - start)) ms"
	if skv_module_loaded; then
		skv_fail "steadykv still in /proc/modules after rmmod"
		return 1
	fi
}

# Kernel log lines that mean trouble: vm-test/lib.sh's list (the one run.sh
# checks every guest's console with), as one extended regex.
# shellcheck source=../vm-test/lib.sh
source "$SKV_TOP/vm-test/lib.sh"
SKV_KERNEL_PROBLEMS=$(IFS='|' && echo "${KERNEL_PROBLEMS[*]}")
SKV_DMESG_MARK=0

# Remember where the kernel log is now; skv_dmesg_clean looks past it.
skv_dmesg_mark() {
	SKV_DMESG_MARK=$(dmesg | wc -l)
}

skv_dmesg_clean() {
	local new
	new=$(dmesg | tail -n +$((SKV_DMESG_MARK + 1)))
	if grep -qE "$SKV_KERNEL_PROBLEMS" <<<"$new"; then
		skv_fail "kernel log reports problems"
		grep -E -B 2 -A 20 "$SKV_KERNEL_PROBLEMS" <<<"$new" | head -n 60 | sed 's/^/# dmesg: /'
		return 1
	fi
}

# ---- memory -------------------------------------------------------------

# The module's own slab caches, "name active_objects" per line (none if the
# module uses plain kmalloc, or if SLUB merged them away).
skv_module_caches() {
	awk 'NR > 2 && $1 ~ /^(skv|steadykv)/ { print $1, $2 }' /proc/slabinfo 2>/dev/null
}

# Settle freed memory: RCU callbacks, deferred frees, caches, empty slabs.
# Shrinking a cache also frees its objects from KASAN's quarantine
# (kasan_cache_shrink), so on the debug kernel the quarantine is emptied
# here rather than seen as growth.
skv_settle() {
	local f
	sync
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null
	done
}

# skv_meminfo_kb FIELD: FIELD of /proc/meminfo in KiB (read by bash: the
# memory checks read it often, and a program costs a guest tens of ms).
skv_meminfo_kb() {
	local k v
	while read -r k v _; do
		[[ $k == "$1:" ]] && { echo "$v"; return 0; }
	done </proc/meminfo
}

# skv_free_kb: free memory in KiB, MemFree plus the free pages the per-CPU
# lists hold (/proc/zoneinfo's "count"), which MemFree leaves out: they are
# emptied by the settling and refill within a second, by some MiB (770
# pages, 3 MiB, were seen after a suite; its MemFree alone read -4.1 MiB
# from its snapshot, /proc/meminfo a second later -0.7 MiB).
skv_free_kb() {
	awk -v free="$(skv_meminfo_kb MemFree)" -v page_kb=$(($(getconf PAGESIZE) / 1024)) '
		$1 == "count:" { pages += $2 } END { print free + pages * page_kb }' /proc/zoneinfo
}

# KiB held by the kernel's stack depot (0 without its debugfs stats): the
# stack traces that KASAN, kmemleak and the allocators' debugging record.
# Its pools (4 pages each, DEPOT_POOL_ORDER) are never freed, by design,
# so their growth is taken out of the free memory comparison.
skv_stackdepot_kb() {
	local f=/sys/kernel/debug/stackdepot/stats
	if [[ -r $f ]]; then
		awk -v kb=$(($(getconf PAGESIZE) * 4 / 1024)) '$1 == "pools:" { print $2 * kb }' "$f"
	else
		echo 0
	fi
}

# KiB of memory that processes and threads hold, not the module: user
# memory, page and tmpfs cache, page tables, and the stacks of kernel
# threads (a load leaves idle kworkers behind for minutes, 16 KiB each).
# Free memory drops by these too; they are taken out of the comparison.
skv_others_kb() {
	local k v sum=0
	while read -r k v _; do
		case $k in
		AnonPages: | Cached: | Buffers: | PageTables: | KernelStack:)
			sum=$((sum + v)) ;;
		esac
	done </proc/meminfo
	echo "$sum"
}

# skv_mem_snapshot NAME: remember Slab, VmallocUsed, free memory and the
# module's cache counts under NAME.
skv_mem_snapshot() {
	skv_settle
	skv_others_kb >"$SKV_TMP/mem.$1.others"
	skv_meminfo_kb Slab >"$SKV_TMP/mem.$1.slab"
	skv_meminfo_kb VmallocUsed >"$SKV_TMP/mem.$1.vmalloc"
	skv_free_kb >"$SKV_TMP/mem.$1.free"
	skv_stackdepot_kb >"$SKV_TMP/mem.$1.depot"
	skv_module_caches >"$SKV_TMP/mem.$1.caches"
	awk 'NR > 2 { print $1, $3 * $4, $2 * $4 }' /proc/slabinfo >"$SKV_TMP/mem.$1.slabinfo"
	cat /proc/meminfo >"$SKV_TMP/mem.$1.meminfo"
}

# Print the /proc/meminfo fields that moved by 256 KiB or more since
# snapshot NAME, and the vmap areas freed but not yet purged (their
# KASAN shadow is freed only at the purge): what a failed comparison
# looks at first.
skv_meminfo_moved() {
	awk 'NR == FNR { b[$1] = $2; next }
		($1 in b) && ($2 - b[$1] >= 256 || b[$1] - $2 >= 256) {
			printf "#   %-20s %+d KiB\n", $1, $2 - b[$1] }' \
		"$SKV_TMP/mem.$1.meminfo" /proc/meminfo
	awk '/unpurged vm_area/ { n++; kb += $2 / 1024 }
		END { if (n) printf "#   %d vmap areas freed, not purged: %d KiB\n", n, kb }' \
		/proc/vmallocinfo 2>/dev/null
}

# KiB of slab pages that snapshot NAME did not have and that hold no more
# objects than it did: freed objects' room in slabs a few live objects
# keep (10,000 sockets opened and closed leave the TCP cache's pages so,
# some MiB with KASAN's larger objects).  Not a leak: a leak is objects.
skv_slab_frag_kb() {
	awk 'NR > 2 { print $1, $3 * $4, $2 * $4 }' /proc/slabinfo |
		awk 'NR == FNR { t[$1] = $2; a[$1] = $3; next }
			{ dt = $2 - t[$1]; da = $3 - a[$1]; if (da < 0) da = 0
			  if (dt > da) f += dt - da }
			END { print int(f / 1024) }' "$SKV_TMP/mem.$1.slabinfo" -
}

# Print the slab caches that grew most since snapshot NAME.
skv_slab_growth() {
	awk 'NR > 2 { print $1, $3 * $4 }' /proc/slabinfo |
		awk 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > 0) print d, $1 }' \
			"$SKV_TMP/mem.$1.slabinfo" - | sort -rn | head -n 8 |
		awk '{ printf "#   %-28s +%d KiB\n", $2, $1 / 1024 }'
}

# Tolerances (KiB): the noise seen in the guest after creating and deleting
# many namespaces and loading/unloading the module is about 1 MiB for each;
# the teardown test stores 16 MiB in a node, so a leaked store shows.
: "${SKV_SLAB_TOL_KB:=3072}"
: "${SKV_VMALLOC_TOL_KB:=2048}"
: "${SKV_FREE_TOL_KB:=4096}"

# One comparison against snapshot NAME; 0 if within tolerance.
_skv_mem_within() {
	local name=$1 slab vm free depot frag others
	skv_settle
	frag=$(skv_slab_frag_kb "$name")
	slab=$(($(skv_meminfo_kb Slab) - $(<"$SKV_TMP/mem.$name.slab") - frag))
	vm=$(($(skv_meminfo_kb VmallocUsed) - $(<"$SKV_TMP/mem.$name.vmalloc")))
	depot=$(($(skv_stackdepot_kb) - $(<"$SKV_TMP/mem.$name.depot")))
	others=$(($(skv_others_kb) - $(<"$SKV_TMP/mem.$name.others")))
	free=$(($(<"$SKV_TMP/mem.$name.free") - $(skv_free_kb) - depot - frag - others))
	SKV_MEM_DELTA=$(printf 'Slab %+d KiB, VmallocUsed %+d KiB, free %+d KiB (stack depot %+d KiB, slab pages of freed objects %+d KiB, processes, threads and cache %+d KiB besides)' \
		"$slab" "$vm" $((-free)) "$depot" "$frag" "$others")
	((slab <= SKV_SLAB_TOL_KB && vm <= SKV_VMALLOC_TOL_KB && free <= SKV_FREE_TOL_KB)) ||
		return 1
	# The module's caches hold no more objects than they did (if loaded).
	if skv_module_loaded; then
		local cname before now
		while read -r cname now; do
			[[ -n $cname ]] || continue
			before=$(awk -v n="$cname" '$1 == n { print $2 }' "$SKV_TMP/mem.$name.caches")
			before=${before:-0}
			if ((now > before + 16)); then
				SKV_MEM_DELTA+=", cache $cname $before -> $now objects"
				return 1
			fi
		done <<<"$(skv_module_caches)" # (no /dev/fd in the guest for <(...))
	fi
	return 0
}

# skv_mem_compare NAME [SECONDS]: memory returns to snapshot NAME (within
# tolerance) within SECONDS; freeing can lag (RCU, workqueues).  A deadline,
# not a count: one reading (the settle) takes 25 s on the debug kernel.
skv_mem_compare() {
	local name=$1 t=$((${2:-30} * SKV_TIME_SCALE))
	local deadline=$((SECONDS + t))
	while :; do
		if _skv_mem_within "$name"; then
			skv_info "memory vs '$name': $SKV_MEM_DELTA"
			return 0
		fi
		((SECONDS < deadline)) || break
		skv_sleep 1
	done
	skv_fail "memory not back to '$name' after $t s: $SKV_MEM_DELTA"
	skv_info "slab caches that grew most since '$name':"
	skv_slab_growth "$name"
	skv_info "/proc/meminfo since '$name':"
	skv_meminfo_moved "$name"
	return 1
}

# ---- nodes --------------------------------------------------------------

# skv_in NS CMD...: CMD in network namespace NS.  The tools only need the
# network namespace; "ip netns exec" also makes a mount namespace and
# remounts /sys, about 30 ms more a call in a guest (of some 130).
skv_in() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" "$@"
}

# skv_ctl NS ARGS...: steadykvctl in namespace NS.  Under check-debug's
# injected allocation failures (SKV_FAIL_PROBABILITY set, pass 2), a command
# refused for memory (ENOMEM: what the caller is owed) is tried again, up
# to SKV_CTL_TRIES times, so that a suite's setup goes through and its
# tests reach the code they cover rather than all failing at once.
SKV_CTL_TRIES=8
skv_ctl() {
	local ns=$1 try rc
	shift
	if [[ -z ${SKV_FAIL_PROBABILITY:-} ]]; then
		skv_in "$ns" steadykvctl "$@"
		return
	fi
	for ((try = 1; ; try++)); do
		skv_in "$ns" steadykvctl "$@" 2>"$SKV_TMP/ctl.$BASHPID.err"
		rc=$?
		if ((rc == 0 || try == SKV_CTL_TRIES)) ||
			! grep -q "Cannot allocate memory" "$SKV_TMP/ctl.$BASHPID.err"; then
			cat "$SKV_TMP/ctl.$BASHPID.err" >&2
			return $rc
		fi
	done
}

# cli_error_is NS ERRNO-TEXT ARGS...: steadykvctl ARGS in NS fails as
# netlink errors do: "steadykvctl: OP: STRERROR: EXTACK" and exit 1.
cli_error_is() {
	local ns=$1 want=$2 err rc
	shift 2
	err=$(skv_ctl "$ns" "$@" 2>&1 >/dev/null)
	rc=$?
	skv_info "steadykvctl $*: exit $rc: $err"
	((rc == 1)) || { skv_fail "steadykvctl $* exited $rc, want 1"; return 1; }
	[[ $err =~ ^steadykvctl:\ [^:]+:\ ${want}:\ [^[:space:]].* ]] ||
		{ skv_fail "steadykvctl $*: no '$want: <extack message>' in '$err'"; return 1; }
}

# tool NS ARGS...: selftests/skv_tool in namespace NS.
tool() {
	local ns=$1
	shift
	skv_in "$ns" skv_tool "$@"
}

# skv_node_key NS: give NS's node the cluster key (node-to-node ops and
# migrations need one).
skv_node_key() {
	skv_ctl "$1" node key set --current "$STEADYKV_CLUSTER_KEY" ||
		{ skv_fail "$1: node key set"; return 1; }
}

# skv_node_start NS ADDR PORT [TABLE...]: the cluster key, listen, add each
# table (default 1) with one tablet over the whole hash space, and wait
# until it answers.
skv_node_start() {
	local ns=$1 addr=$2 port=$3 t
	shift 3
	skv_node_key "$ns" || return 1
	skv_ctl "$ns" listen start "$addr" "$port" ||
		{ skv_fail "$ns: listen start $addr $port"; return 1; }
	for t in "${@:-1}"; do
		skv_ctl "$ns" table add "$t" || { skv_fail "$ns: table add $t"; return 1; }
		skv_ctl "$ns" tablet add "$t" min max || { skv_fail "$ns: tablet add $t"; return 1; }
	done
	ip netns exec "$ns" skv_tool ping "$addr:$port" $((SKV_WAIT * 1000)) ||
		{ skv_fail "$ns: node at $addr:$port does not answer"; return 1; }
}

# skv_veth NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces
# (an empty NS means the initial namespace), addresses with prefix length.
skv_veth() {
	local ns1=$1 if1=$2 a1=$3 ns2=$4 if2=$5 a2=$6
	local n1=() n2=()
	[[ -n $ns1 ]] && n1=(-n "$ns1")
	[[ -n $ns2 ]] && n2=(-n "$ns2")
	ip "${n1[@]}" link add "$if1" type veth peer name "$if2" ${ns2:+netns "$ns2"} || return 1
	[[ -n $a1 ]] && ip "${n1[@]}" addr add "$a1" dev "$if1"
	[[ -n $a2 ]] && ip "${n2[@]}" addr add "$a2" dev "$if2"
	ip "${n1[@]}" link set "$if1" up && ip "${n2[@]}" link set "$if2" up
}

# skv_cluster_ready SW COORD PORT NAME...: wait until the coordinator at
# COORD (reached from namespace SW) lists as many nodes as NAMEs are given
# and each node NAME (IP[NAME], as skv_bridge sets it) answers on PORT.
skv_cluster_ready() {
	local sw=$1 coord=$2 port=$3 n
	shift 3
	slowwait "$SKV_WAIT" bash -c "ip netns exec $sw steadykvctl -j cluster -c $coord map |
		jq -e '.nodes | length == $#'" >/dev/null ||
		{ skv_fail "node daemons did not register"; return 1; }
	for n in "$@"; do
		ip netns exec "$sw" skv_tool ping "${IP[$n]}:$port" $((SKV_WAIT * 1000)) ||
			{ skv_fail "node $n does not listen"; return 1; }
	done
}

# skv_repl_ready BACKUPS NAME...: wait until each node NAME (a namespace
# variable) replicates to BACKUPS backups, all caught up (healthy).
skv_repl_ready() {
	local want=$1 n
	shift
	for n in "$@"; do
		slowwait "$SKV_WAIT" bash -c "ip netns exec ${!n} steadykvctl -j repl show |
			jq -e '.healthy == 1 and .backups == $want'" >/dev/null ||
			{ skv_fail "$n's replication not healthy"; return 1; }
	done
}

# skv_bridge SW NET NAME...: a bridge br0 in namespace SW at NET.254/24 and,
# for the i-th namespace variable NAME (from 1), a veth eth0 at NET.i/24
# into it, on the bridge; sets the caller's associative arrays IP[NAME]
# (NET.i) and ID[NAME] (i).
skv_bridge() {
	local sw=$1 net=$2 n i=1
	shift 2
	# A fixed address: a bridge left to choose takes its ports' lowest
	# MAC, so deleting a node's namespace could change it under the
	# other nodes' ARP caches and cut them off from the coordinator on
	# it for seconds (they were then declared dead with the crashed one).
	ip -n "$sw" link add br0 address 02:5b:00:00:00:fe type bridge ||
		{ skv_fail "bridge in $sw"; return 1; }
	ip -n "$sw" addr add "$net.254/24" dev br0
	ip -n "$sw" link set br0 up
	for n in "$@"; do
		IP[$n]=$net.$i
		# shellcheck disable=SC2034 # the caller's array
		ID[$n]=$i
		skv_veth "${!n}" eth0 "${IP[$n]}/24" "$sw" "sw-$n" "" ||
			{ skv_fail "veth for $n"; return 1; }
		ip -n "$sw" link set "sw-$n" master br0
		i=$((i + 1))
	done
}

# skv_netem_script DEV DST|all NETEM-ARGS... | DEV heal: the tc commands
# that put netem on what leaves DEV (for DST only, or all of it), or take it
# off.  A script, so that the lab can run it in another guest.  For one DST:
# a prio qdisc with everything in band 1 and DST's packets in band 4, netem.
skv_netem_script() {
	if [[ $2 == heal ]]; then
		echo "tc qdisc del dev $1 root 2>/dev/null; true"
	elif [[ $2 == all ]]; then
		echo "tc qdisc replace dev $1 root netem ${*:3}"
	else
		echo "tc qdisc replace dev $1 root handle 1: prio bands 4 priomap 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 &&
tc qdisc add dev $1 parent 1:4 handle 40: netem ${*:3} &&
tc filter add dev $1 parent 1: protocol ip prio 1 u32 match ip dst $2/32 flowid 1:4"
	fi
}

# skv_slow_link NS DEV DELAY [DST]: delay every packet NS sends on DEV (to
# DST only, if given) with netem, so that a migration over DEV is slow by
# construction whatever the host's speed, and a test can act while it is
# mid-way.  No netem is a failure: the test would then depend on the host's
# speed.
skv_slow_link() {
	[[ -d /sys/module/sch_netem ]] || modprobe sch_netem 2>/dev/null
	skv_in "$1" bash -c "$(skv_netem_script "$2" "${4:-all}" delay "$3")" ||
		{ skv_fail "cannot add netem delay $3 on $1 $2${4:+ to $4}"; return 1; }
}

# skv_cut_link NS DEV DST: drop every packet NS sends on DEV to DST (netem
# loss 100%), so that what waits for DST's answer waits until the link is
# healed or the test moves on, whatever the host's speed.
skv_cut_link() {
	[[ -d /sys/module/sch_netem ]] || modprobe sch_netem 2>/dev/null
	skv_in "$1" bash -c "$(skv_netem_script "$2" "$3" loss 100%)" ||
		{ skv_fail "cannot cut $1 $2 to $3 with netem"; return 1; }
}

# skv_fast_link NS DEV: undo skv_slow_link or skv_cut_link (quietly if
# neither was on).
skv_fast_link() {
	skv_in "$1" bash -c "$(skv_netem_script "$2" heal)"
}

# skv_ns_gone NS PROBE_IF [PROBE_NS] [SECONDS]: after `ip netns del NS`,
# wait until the namespace is really destroyed (not just unnamed): a veth
# whose peer lived in NS disappears only when NS's cleanup runs.
skv_ns_gone() {
	local probe=$2 pns=$3 t=${4:-$SKV_WAIT}
	local n=()
	[[ -n $pns ]] && n=(-n "$pns")
	slowwait "$t" bash -c "! ip ${n[*]} link show dev $probe >/dev/null 2>&1"
}
