#!/bin/bash
# steadykv vm-test stage 2: runs as PID 1 inside the guest, on an overlay of
# the host root (see mkinitramfs.sh). Prepares a minimal system, runs the job
# that run.sh wrote into the run directory, reports the result through the
# writable 9p share "results" and powers the guest off.
#
# Only short markers go to the console: run.sh scans it for kernel problems,
# so the command's own output must not end up there.
set -eEuo pipefail

readonly RESULTS=/run/steadykv
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf 'steadykv-guest: %s\n' "$*"; }

# shellcheck disable=SC2317 # called from the EXIT trap
power_off() {
	sync
	# PID 1 must never exit (the kernel would panic), so wait for the end.
	echo o >/proc/sysrq-trigger 2>/dev/null || busybox poweroff -f
	while :; do sleep 60; done
}

# Any unexpected failure: say where, and power off without a status file,
# which run.sh reports as a failed run.
trap 'log "stage 2 failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'power_off' EXIT

# Record a setup problem for run.sh and give up.
die() {
	log "$*"
	if mountpoint -q "$RESULTS"; then
		printf '%s\n' "$*" >"$RESULTS/error"
	fi
	exit 1
}

set_sysctl() {
	local file=/proc/sys/${1//.//}
	if [[ -e $file ]]; then
		echo "$2" >"$file"
	fi
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p "$RESULTS"
# Default cache mode (none): every write reaches the host at once, so run.sh
# can stream output.log while the command runs.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results "$RESULTS"

# Detect hung tasks well within run.sh's timeout; keep the log on lockups and
# oopses rather than panicking.
set_sysctl kernel.hung_task_timeout_secs 30
set_sysctl kernel.softlockup_panic 0
set_sysctl kernel.panic_on_oops 0

# Written by run.sh: WORKDIR, VM_HOSTNAME, NICS and the CMD array.
# shellcheck source=/dev/null
source "$RESULTS/job.env"

hostname "$VM_HOSTNAME"
ip link set lo up

if ((NICS > 0)); then
	modprobe virtio_net # pulls in failover and net_failover
	last=/sys/class/net/eth$((NICS - 1))
	for ((i = 0; i < 100; i++)); do
		[[ -e $last ]] && break
		sleep 0.1
	done
	[[ -e $last ]] || die "expected $NICS NIC(s) but ${last##*/} did not appear"
fi

if [[ ${WORKDIR_SHARE:-0} == 1 ]]; then
	# The working directory lies under the guest's own /tmp or /run: mount
	# the host's copy back at its path, writable through an overlay as the
	# root is.
	share=/run/steadykv-work
	mkdir -p "$share/lower" "$share/upper" "$share/work" "$WORKDIR"
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro workdir "$share/lower" ||
		die "cannot mount the working directory share"
	mount -t overlay overlay \
		-o "lowerdir=$share/lower,upperdir=$share/upper,workdir=$share/work" "$WORKDIR" ||
		die "cannot mount the working directory overlay"
fi

cd "$WORKDIR" 2>/dev/null || die "working directory $WORKDIR does not exist in the guest"

read -r uptime _ </proc/uptime
log "running the command (guest uptime $uptime s)"
# Files the command writes under $STEADYKV_RESULTS appear in the run directory.
: >"$RESULTS/started"
status=0
env -i PATH="$PATH" HOME=/root TERM=dumb STEADYKV_RESULTS="$RESULTS" "${CMD[@]}" \
	</dev/null >"$RESULTS/output.log" 2>&1 || status=$?
log "command exited with status $status"

dmesg >"$RESULTS/dmesg.log" || true
echo "$status" >"$RESULTS/status.tmp"
mv "$RESULTS/status.tmp" "$RESULTS/status"
exit 0 # powers off through the EXIT trap
