#!/usr/bin/env bash
# The multi-VM lab: one steadykv node per QEMU guest, plus one control
# guest for the coordinator and the recorded clients, joined by a QEMU
# socket network of their own (no NIC to the outside), so that a crash is
# real: the lab kills a guest's QEMU when the control guest asks.  See
# README.md ("The multi-VM lab").
#
# Usage: vm-test/lab.sh [--nodes N] [--name NAME] [--timeout S] [--mem MB]
#                       -- COMMAND [ARG...]
# COMMAND runs in the control guest (10.77.0.254); node I (1..N) runs
# selftests/lab/node.sh at 10.77.0.I.  Exit status: COMMAND's; 1 also when
# a node guest failed or any guest's console (a crashed one's up to its
# crash) shows a kernel problem; 125 when the lab could not start.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
top=$(cd "$script_dir/.." && pwd -P)
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

nodes=3 name=lab timeout_s=3600 mem_mb=640
while (($# > 0)); do
	case $1 in
	--nodes) nodes=$2 && shift 2 ;;
	--name) name=$2 && shift 2 ;;
	--timeout) timeout_s=$2 && shift 2 ;;
	--mem) mem_mb=$2 && shift 2 ;;
	--) shift && break ;;
	*) break ;;
	esac
done
(($# > 0)) || vm_die "usage: ${0##*/} [--nodes N] [--name NAME] [--timeout S] [--mem MB] -- COMMAND..."
[[ $nodes =~ ^[1-9]$ ]] || vm_die "--nodes takes 1 to 9"
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$ ]] || vm_die "bad --name $name"
scale=${STEADYKV_VM_TIMEOUT_SCALE:-1}

build_dir=${STEADYKV_BUILD:-$top/build}
vm_dir=$build_dir/vm
lab_dir=$build_dir/lab/$name
mkdir -p "$lab_dir"
lab_dir=$(cd "$lab_dir" && pwd -P)
exec {lock_fd}>"$lab_dir/.lock"
flock -n "$lock_fd" || vm_die "a lab named $name is already running"
find "$lab_dir" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf -- {} +

# The cluster and admin keys every guest reads (through the host root).
for key in cluster admin; do
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$lab_dir/$key.key")
done
# A segment of its own: another lab on this host uses another port.
mcast_port=$((20000 + $$ % 20000))
mac_base=$((($$ % 200) * 16))

say() { printf '==> lab %s: %s\n' "$name" "$*" >&2; }

declare -A runsh_pid=() incarnation=() killed_logs=()
guests=(ctl)
for ((i = 1; i <= nodes; i++)); do
	guests+=("n$i")
done

guest_dir() { echo "$vm_dir/$name-$1"; }

# start_guest KEY: boot guest KEY (ctl or nI) through run.sh, one vCPU.
start_guest() {
	local key=$1 idx env_list cmd
	if [[ $key == ctl ]]; then
		idx=0
		cmd=("${control_cmd[@]}")
	else
		idx=${key#n}
		cmd=(bash selftests/lab/node.sh)
	fi
	env_list="LAB_INDEX=$idx LAB_NODES=$nodes LAB_KEYS=$lab_dir ${STEADYKV_GUEST_ENV:-}"
	incarnation[$key]=$((${incarnation[$key]:--1} + 1))
	local run=("$script_dir/run.sh" --name "$name-$key" --mem "$mem_mb" --smp 1
		--timeout "$timeout_s" --mcast-port "$mcast_port" --mac-index $((mac_base + idx))
		--workdir "$top" -- "${cmd[@]}")
	local err=$lab_dir/$key.${incarnation[$key]}.err
	# The control guest's output (TAP) is the lab's (inherited, not
	# reopened: that would truncate a file and write over lab.sh's own
	# lines); the nodes' go to files.
	# The control guest runs no steadykv kernel code, so it boots the
	# stock kernel even when the nodes boot another (make check-debug):
	# on the debug kernel it took up to 38 s to relay one kill.
	if [[ $key == ctl ]]; then
		STEADYKV_GUEST_ENV=$env_list env -u STEADYKV_VM_KERNEL -u STEADYKV_VM_MODROOT \
			nice -n 19 "${run[@]}" 2>"$err" &
	else
		STEADYKV_GUEST_ENV=$env_list nice -n 19 "${run[@]}" \
			>"$lab_dir/$key.${incarnation[$key]}.out" 2>"$err" &
	fi
	runsh_pid[$key]=$!
}

# kill_guest KEY N: SIGKILL its QEMU (a crash: no shutdown of any kind),
# answer request N once the process is gone, then wait for its run.sh and
# keep its console up to the crash.
kill_guest() {
	local key=$1 n=$2 dir pid i
	dir=$(guest_dir "$key")
	for ((i = 0; i < 100; i++)); do
		[[ ! -s $dir/qemu.pid ]] || break
		sleep 0.1
	done
	pid=$(<"$dir/qemu.pid")
	kill -KILL "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	ack "$(guest_dir ctl)" "$n" 0
	wait "${runsh_pid[$key]}" 2>/dev/null || true
	unset 'runsh_pid[$key]'
	cp "$dir/console.log" "$lab_dir/$key.${incarnation[$key]}.console.log"
	killed_logs[$key.${incarnation[$key]}]=$lab_dir/$key.${incarnation[$key]}.console.log
	say "killed $key (QEMU pid $pid)"
}

# ack DIR N RC: answer request N of the control guest.
ack() {
	printf '%s\n' "$3" >"$1/ack.$2.tmp"
	mv "$1/ack.$2.tmp" "$1/ack.$2"
}

# exec_on KEY N SCRIPT_FILE: run the script in node KEY, copy its output
# and status back to the control guest as out.N and ack.N.
exec_on() {
	local key=$1 n=$2 script=$3 dir ctl_dir bound i
	dir=$(guest_dir "$key")
	ctl_dir=$(guest_dir ctl)
	if [[ -z ${runsh_pid[$key]:-} ]]; then
		echo "lab: $key is not running" >"$ctl_dir/out.$n"
		ack "$ctl_dir" "$n" 255
		return
	fi
	cp "$script" "$dir/cmd.$n.tmp"
	mv "$dir/cmd.$n.tmp" "$dir/cmd.$n"
	bound=$((600 * scale * 10))
	for ((i = 0; i < bound; i++)); do
		[[ ! -e $dir/rc.$n ]] || break
		kill -0 "${runsh_pid[$key]}" 2>/dev/null || break
		sleep 0.1
	done
	cp "$dir/out.$n" "$ctl_dir/out.$n" 2>/dev/null || echo "lab: no output from $key" >"$ctl_dir/out.$n"
	ack "$ctl_dir" "$n" "$(cat "$dir/rc.$n" 2>/dev/null || echo 255)"
}

# serve N: one request of the control guest, req.N: "kill KEY",
# "boot KEY" or "exec KEY" followed by the script's lines.
serve() {
	local n=$1 ctl_dir req kind key
	ctl_dir=$(guest_dir ctl)
	req=$ctl_dir/req.$n
	read -r kind key <"$req"
	[[ $key =~ ^n[1-9]$ && ${key#n} -le $nodes ]] || {
		echo "lab: bad request '$kind $key'" >"$ctl_dir/out.$n"
		ack "$ctl_dir" "$n" 255
		return
	}
	case $kind in
	kill)
		if [[ -n ${runsh_pid[$key]:-} ]]; then
			kill_guest "$key" "$n"
		else
			ack "$ctl_dir" "$n" 255
		fi
		;;
	boot)
		if [[ -z ${runsh_pid[$key]:-} ]]; then
			start_guest "$key"
			say "booting $key again (incarnation ${incarnation[$key]})"
			ack "$ctl_dir" "$n" 0
		else
			ack "$ctl_dir" "$n" 255
		fi
		;;
	exec)
		tail -n +2 "$req" >"$lab_dir/req.$n.sh"
		exec_on "$key" "$n" "$lab_dir/req.$n.sh"
		;;
	*)
		echo "lab: bad request '$kind'" >"$ctl_dir/out.$n"
		ack "$ctl_dir" "$n" 255
		;;
	esac
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local key
	for key in "${!runsh_pid[@]}"; do
		kill -TERM "${runsh_pid[$key]}" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

control_cmd=("$@")
start=$(date +%s)
say "$nodes node guests and a control guest, $mem_mb MiB each, segment 230.0.0.1:$mcast_port; logs in $lab_dir/ and $vm_dir/$name-*/"
# Stale requests of an earlier lab of this name must not be served.
for key in "${guests[@]}"; do
	rm -rf "$(guest_dir "$key")"
	start_guest "$key"
done

# Relay the control guest's requests until it ends.
next=1
ctl_dir=$(guest_dir ctl)
while kill -0 "${runsh_pid[ctl]}" 2>/dev/null; do
	if [[ -e $ctl_dir/req.$next ]]; then
		serve "$next"
		next=$((next + 1))
		continue
	fi
	sleep 0.2
done
ctl_rc=0
wait "${runsh_pid[ctl]}" || ctl_rc=$?
unset 'runsh_pid[ctl]'
say "control guest exited with status $ctl_rc after $(($(date +%s) - start)) s"

# The node guests stop (node.sh unloads the module) and report.
rc=$ctl_rc
for key in "${!runsh_pid[@]}"; do
	touch "$(guest_dir "$key")/stop"
done
for key in "${!runsh_pid[@]}"; do
	node_rc=0
	wait "${runsh_pid[$key]}" || node_rc=$?
	unset 'runsh_pid[$key]'
	if ((node_rc != 0)); then
		say "FAIL: node guest $key exited $node_rc ($(guest_dir "$key")/, $lab_dir/$key.*.err)"
		tail -n 5 "$lab_dir/$key.${incarnation[$key]}.err" >&2 || true
		((rc != 0)) || rc=1
	fi
done
# run.sh checked the consoles of the guests that ran to the end; the
# crashed ones are checked here, up to their crash.
for log in "${killed_logs[@]}"; do
	if vm_kernel_problems "$log"; then
		say "FAIL: the kernel log of a crashed guest reports problems ($log):"
		vm_kernel_problems_show "$log" >&2
		((rc != 0)) || rc=1
	fi
done
say "$( ((rc == 0)) && echo PASS || echo "FAIL with exit status $rc") after $(($(date +%s) - start)) s"
exit "$rc"
