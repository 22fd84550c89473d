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
	# PID 1 must never exit (the kernel would panic), so wait for the end
	# and let nothing fail meanwhile: once the power-off has begun, a program
	# started from the 9p root may die of SIGBUS.
	set +e
	trap - ERR
	sync
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
# What udev would add: bash's process substitution needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p "$RESULTS"
# Default cache mode (none): every write reaches the host at once, so run.sh
# can stream output.log while the command runs.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results "$RESULTS"

# A memory error must be caught, not only an oops: KFENCE samples in every
# guest (run.sh sets the interval), so a kernel without it fails the run.
kfence_interval=/sys/module/kfence/parameters/sample_interval
[[ -r $kfence_interval ]] || die "KFENCE is not built into kernel $(uname -r)"
grep -qsx 'enabled: 1' /sys/kernel/debug/kfence/stats ||
	die "KFENCE is off (sample_interval $(<"$kfence_interval") ms)"

# Written by run.sh: WORKDIR, VM_HOSTNAME, NICS, VM_MODDIR, TIME_SCALE and
# the GUEST_ENV and CMD arrays.
# shellcheck source=/dev/null
source "$RESULTS/job.env"

# Detect hung tasks well within run.sh's timeout (stretched like it on slow
# kernels); keep the log on lockups and oopses rather than panicking.
set_sysctl kernel.hung_task_timeout_secs $((30 * TIME_SCALE))
set_sysctl kernel.softlockup_panic 0
set_sysctl kernel.panic_on_oops 0

# A kernel other than Debian's keeps its modules outside /lib/modules; link
# them in so modprobe finds them (and modules.builtin, for built-in ones).
kmods=/lib/modules/$(uname -r)
if [[ ! -e $kmods ]]; then
	[[ -d $VM_MODDIR ]] || die "no module tree for $(uname -r) ($VM_MODDIR)"
	ln -s "$VM_MODDIR" "$kmods"
fi

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

# A kernel with kmemleak (the debug kernel): forget what boot left behind,
# so that a leak reported at the end is one the command made.
kmemleak=/sys/kernel/debug/kmemleak
if [[ -w $kmemleak ]]; then
	echo scan >"$kmemleak"
	echo clear >"$kmemleak"
fi

# QEMU 7.2's TCG may run the int3 of a static-key site after the kernel
# patched it (README.md, "Kernel log failure patterns"): the keys a first
# TCP connection flips once (the hash and port secrets) flip here, where a
# report still means booting again, not in the first test.  Seen once in
# inet_ehashfn.  A refused connect is enough: its SYN is looked up.
{ : </dev/tcp/127.0.0.1/9; } 2>/dev/null || :
{ : </dev/tcp/::1/9; } 2>/dev/null || :

read -r uptime _ </proc/uptime
log "running the command (guest uptime $uptime s)"
# Files the command writes under $STEADYKV_RESULTS appear in the run directory.
: >"$RESULTS/started"
status=0
env -i PATH="$PATH" HOME=/root TERM=dumb STEADYKV_RESULTS="$RESULTS" "${GUEST_ENV[@]}" "${CMD[@]}" \
	</dev/null >"$RESULTS/output.log" 2>&1 || status=$?
log "command exited with status $status"

# Two scans: the second clears objects only in flight during the first;
# run.sh fails the run when kmemleak.log is not empty.
if [[ -w $kmemleak ]]; then
	log "kmemleak scan"
	echo scan >"$kmemleak"
	echo scan >"$kmemleak"
	cat "$kmemleak" >"$RESULTS/kmemleak.log"
fi

dmesg >"$RESULTS/dmesg.log" || true
echo "$status" >"$RESULTS/status.tmp"
mv "$RESULTS/status.tmp" "$RESULTS/status"
exit 0 # powers off through the EXIT trap
