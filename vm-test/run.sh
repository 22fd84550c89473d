#!/usr/bin/env bash
# Run a command inside a fresh QEMU guest booted on Debian's 6.12 kernel (or
# the debug kernel, see lib.sh), with the host root shared read-only (writes
# land in a throw-away overlay) and KFENCE sampling. The run fails if the
# command fails, if the guest never reports back, or if the guest kernel log
# shows a problem (oops, WARNING, KFENCE or KASAN report, hung task, kmemleak
# report, ...). See README.md.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

# KFENCE samples one allocation in each interval (ms). Debian builds it in but
# boots with 0 (off); 10 ms catches far more under TCG at no cost worth noting.
readonly KFENCE_SAMPLE_MS=10
readonly MCAST_GROUP=230.0.0.1

usage() {
	cat <<EOF
usage: ${0##*/} [options] [--] COMMAND [ARG...]

Runs COMMAND in a fresh QEMU guest on Debian's 6.12 kernel. The guest sees the
host's files read-only beneath a throw-away overlay; files it writes under
\$STEADYKV_RESULTS land in the run directory.

options:
  --timeout SECONDS   hard limit for the whole VM, host side (default 600)
  --mem MB            guest memory (default 2048)
  --smp N             guest CPUs (default 2)
  --name NAME         run name; logs go to BUILD/vm/NAME/ (default: unique)
  --mcast-port PORT   add a NIC (eth0, eth1, ...) on the QEMU socket segment
                      $MCAST_GROUP:PORT; may be repeated
  --mac-index N       0-65535, makes MACs unique across VMs (default: from pid)
  --workdir DIR       directory to run COMMAND in (default: current directory)
  --kvm               use KVM instead of TCG emulation
  --kernel-arg ARG    add ARG to the guest kernel's command line; may be
                      repeated
  -h, --help          this text

environment:
  STEADYKV_VM_KERNEL, STEADYKV_VM_MODROOT
                      boot this kernel image, its modules installed under
                      MODROOT/lib/modules/KVER (default: Debian's 6.12)
  STEADYKV_GUEST_ENV  "VAR=VALUE ..." added to COMMAND's environment
  STEADYKV_VM_TIMEOUT_SCALE
                      multiply --timeout by this (slow debug kernels); the
                      command sees it in its environment too
  STEADYKV_BUILD      where logs go (default: the repo's build/)

exit status: COMMAND's; 1 if it passed but the kernel log shows a problem;
124 on timeout; 125 if the guest never reported a status or could not be
started; 2 on bad usage.
EOF
}

usage_error() {
	printf '%s: %s (see --help)\n' "${0##*/}" "$*" >&2
	exit 2
}

# need_num OPTION VALUE MIN MAX: VALUE must be a decimal number in [MIN, MAX].
need_num() {
	if ! [[ $2 =~ ^(0|[1-9][0-9]{0,8})$ ]] || (($2 < $3 || $2 > $4)); then
		usage_error "$1 needs a number from $3 to $4"
	fi
}

# Messages of this script go to stderr; stdout carries only COMMAND's output.
say() { printf '==> vm-test %s: %s\n' "$name" "$*" >&2; }

timeout_s=600 mem_mb=2048 smp=2 name='' mac_index=$(($$ % 65536)) use_kvm=0
workdir=$PWD
mcast_ports=()
kernel_args=()

while (($# > 0)); do
	case $1 in
	--timeout) need_num "$1" "${2-}" 1 999999 && timeout_s=$2 && shift 2 ;;
	--mem) need_num "$1" "${2-}" 256 999999 && mem_mb=$2 && shift 2 ;;
	--smp) need_num "$1" "${2-}" 1 64 && smp=$2 && shift 2 ;;
	--mcast-port) need_num "$1" "${2-}" 1 65535 && mcast_ports+=("$2") && shift 2 ;;
	--mac-index) need_num "$1" "${2-}" 0 65535 && mac_index=$2 && shift 2 ;;
	--name)
		[[ $# -ge 2 && $2 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] ||
			usage_error "--name needs a name of letters, digits, '.', '_', '-'"
		name=$2
		shift 2
		;;
	--workdir)
		[[ $# -ge 2 ]] || usage_error "--workdir needs a directory"
		workdir=$2
		shift 2
		;;
	--kvm) use_kvm=1 && shift ;;
	--kernel-arg)
		[[ $# -ge 2 && $2 =~ ^[A-Za-z0-9_.=,-]+$ ]] ||
			usage_error "--kernel-arg needs one word of letters, digits, '_.=,-'"
		kernel_args+=("$2")
		shift 2
		;;
	-h | --help) usage && exit 0 ;;
	--) shift && break ;;
	-*) usage_error "unknown option $1" ;;
	*) break ;;
	esac
done
(($# > 0)) || usage_error "no command given"
[[ -n $name ]] || name=run-$(date +%Y%m%d-%H%M%S)-$$
timeout_scale=${STEADYKV_VM_TIMEOUT_SCALE:-1}
need_num STEADYKV_VM_TIMEOUT_SCALE "$timeout_scale" 1 100
timeout_s=$((timeout_s * timeout_scale))
# The kernel's default stall timeout, stretched, within its maximum (300 s).
rcu_stall_s=$((21 * timeout_scale > 300 ? 300 : 21 * timeout_scale))
# The soft-lockup watchdog fires at twice watchdog_thresh (default 10 s):
# a TCG guest whose vCPU threads the host starves sees 20 s pass while no
# guest code ran (seen in the idle loop, under host load 17).  30 s, or
# more when stretched, within the kernel's maximum (60 s): a real lockup
# of a minute or more is still reported.
watchdog_s=$((30 * timeout_scale > 60 ? 60 : 30 * timeout_scale))
read -r -a guest_env <<<"${STEADYKV_GUEST_ENV:-}"
for var in "${guest_env[@]}"; do
	[[ $var =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || usage_error "STEADYKV_GUEST_ENV: $var is not VAR=VALUE"
done
# The command learns the factor too, so it can stretch its own bounds
# (selftests/run.sh, the kselftest harness's per-test timeouts).
guest_env+=("STEADYKV_VM_TIMEOUT_SCALE=$timeout_scale")

command -v qemu-system-x86_64 >/dev/null || vm_die "qemu-system-x86_64 not found (install qemu-system-x86)"
vm_find_kernel
if ((use_kvm)) && [[ ! -w /dev/kvm ]]; then
	vm_die "--kvm given but /dev/kvm is not usable"
fi

workdir=$(cd "$workdir" 2>/dev/null && pwd -P) || vm_die "no such directory: $workdir"
# The guest mounts fresh file systems on /tmp and /run, hiding the host's
# content there: a working directory under them (a clone in /tmp, say) is
# shared on its own and mounted back at the same path in the guest.
workdir_share=0
case $workdir/ in
/proc/* | /sys/* | /dev/*)
	vm_die "working directory $workdir is not visible in the guest (it has its own /proc, /sys, /dev)"
	;;
/tmp/* | /run/*)
	workdir_share=1
	;;
esac
# The stage-2 path travels on the kernel command line, split at whitespace.
[[ $script_dir != *[[:space:]]* ]] || vm_die "the vm-test path must not contain whitespace: $script_dir"

build_dir=${STEADYKV_BUILD:-$script_dir/../build}
mkdir -p "$build_dir/vm"
build_dir=$(cd "$build_dir" && pwd -P)
# One image per kernel, so runs on different kernels do not rebuild in turn.
"$script_dir/mkinitramfs.sh" "$build_dir/vm/.initramfs-$VM_KVER"
initramfs=$build_dir/vm/.initramfs-$VM_KVER/initramfs.cpio.gz

# The run directory doubles as the guest's writable "results" share.
run_dir=$build_dir/vm/$name
mkdir -p "$run_dir"
exec {lock_fd}>"$run_dir/.lock"
flock -n "$lock_fd" || vm_die "a run named $name is already in progress"
find "$run_dir" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf -- {} +

{
	printf 'WORKDIR=%q\n' "$workdir"
	printf 'WORKDIR_SHARE=%q\n' "$workdir_share"
	printf 'VM_HOSTNAME=%q\n' "$name"
	printf 'NICS=%q\n' "${#mcast_ports[@]}"
	printf 'VM_MODDIR=%q\n' "$VM_MODDIR"
	printf 'TIME_SCALE=%q\n' "$timeout_scale"
	printf 'GUEST_ENV=('
	for var in "${guest_env[@]}"; do
		printf ' %q' "$var"
	done
	printf ' )\n'
	printf 'CMD=('
	printf ' %q' "$@"
	printf ' )\n'
} >"$run_dir/job.env"

if ((use_kvm)); then
	accel=(-accel kvm -cpu host)
else
	# No 5-level paging: the debug kernel's KASAN twice reported a wild
	# access (in the 5-level direct map) by an interrupt taken during
	# identify_cpu() at boot, before any test ran.  Nothing here needs
	# 57-bit addresses; 4-level paging is what the kernel runs most.
	# shellcheck disable=SC2054 # a QEMU option value, comma-separated
	accel=(-accel tcg -cpu max,la57=off)
fi
# shellcheck disable=SC2054 # QEMU option values are comma-separated
qemu_args=(
	-name "steadykv-$name" -machine q35 "${accel[@]}" -smp "$smp" -m "$mem_mb"
	-nodefaults -no-user-config -display none -no-reboot -nic none
	-chardev "file,id=console,path=$run_dir/console.log" -serial chardev:console
	# The lab (vm-test/lab.sh) crashes a guest by killing this pid.
	-pidfile "$run_dir/qemu.pid"
	-kernel "$VM_KERNEL" -initrd "$initramfs"
	# panic=-1 with -no-reboot: a panicking guest ends QEMU at once.
	# no_timer_check: on a loaded host the emulated timer can miss the boot
	# check ("IO-APIC + timer doesn't work!" panic). The RCU stall timeout
	# (21 s) is stretched like the other bounds on slow kernels: a TCG vCPU
	# starved by the host for a while is not a stall of the guest's.
	# tsc=unstable: HPET keeps time. A guest starved while it calibrates
	# its TSC gets it wrong (550 MHz for 2.6 GHz, seen) and time jumps when
	# it switches to it; and a stable TSC has the kernel patch the
	# sched_clock static key at boot while the other vCPU runs through it,
	# which TCG got wrong twice ("Oops: int3" in sched_clock_cpu, a panic
	# before the command ran).
	-append "console=ttyS0,115200 loglevel=7 panic=-1 no_timer_check tsc=unstable kfence.sample_interval=$KFENCE_SAMPLE_MS rcupdate.rcu_cpu_stall_timeout=$rcu_stall_s watchdog_thresh=$watchdog_s ${kernel_args[*]} steadykv.init=$script_dir/guest-init.sh"
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
	-fsdev "local,id=results,path=$run_dir,security_model=none"
	-device virtio-9p-pci,fsdev=results,mount_tag=results
)
if ((workdir_share)); then
	qemu_args+=(
		-fsdev "local,id=workdir,path=$workdir,security_model=none,readonly=on,multidevs=remap"
		-device "virtio-9p-pci,fsdev=workdir,mount_tag=workdir"
	)
fi
for i in "${!mcast_ports[@]}"; do
	mac=$(printf '52:54:00:%02x:%02x:%02x' $((mac_index >> 8)) $((mac_index & 255)) "$i")
	qemu_args+=(
		-netdev "socket,id=net$i,mcast=$MCAST_GROUP:${mcast_ports[i]},localaddr=127.0.0.1"
		-device "virtio-net-pci,netdev=net$i,mac=$mac"
	)
done

qemu_pid='' tail_pid=''
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	# timeout(1) passes the signal on to QEMU and waits for it.
	if [[ -n $qemu_pid ]]; then
		kill -TERM "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	if [[ -n $tail_pid ]]; then
		kill "$tail_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

accel_name=tcg
((use_kvm)) && accel_name=kvm
say "kernel $VM_KVER, $accel_name, $smp CPUs, $mem_mb MiB, timeout $timeout_s s, ${#mcast_ports[@]} NIC(s)"
# boot_qemu: run the guest to its end; qemu_rc, start and end are set.
boot_qemu() {
	start=$(date +%s.%N)
	timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 "${qemu_args[@]}" \
		</dev/null >"$run_dir/qemu.log" 2>&1 &
	qemu_pid=$!
	# Stream the command's output as the guest writes it through 9p.
	tail -n +1 -F -s 0.2 --pid="$qemu_pid" "$run_dir/output.log" 2>/dev/null &
	tail_pid=$!

	qemu_rc=0
	wait "$qemu_pid" || qemu_rc=$?
	qemu_pid=''
	wait "$tail_pid" || true
	tail_pid=''
	end=$(date +%s.%N)
}

boot_qemu
# A kernel that died while it booted, before the command started (so
# before any of our code ran), is booted once more: TCG sometimes runs a
# patched static-key site's int3 after the kernel's patching ended
# ("Oops: int3", then a panic; vm-test/README.md).  A report once the
# command started always fails the run.
if [[ ! -e $run_dir/started && ! -f $run_dir/status ]] &&
	vm_kernel_problems "$run_dir/console.log"; then
	mv "$run_dir/console.log" "$run_dir/console-boot1.log"
	say "the guest kernel failed while booting, before the command started; booting again (once):"
	vm_kernel_problems_show "$run_dir/console-boot1.log" | head -n 3 >&2
	boot_qemu
fi

output=$run_dir/output.log
if [[ -s $output && -n $(tail -c 1 "$output") ]]; then
	echo # the output lacked a final newline
fi

timing="total $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
if [[ -e $run_dir/started ]]; then
	boot=$(awk -v a="$start" -v b="$(stat -c %.3Y "$run_dir/started")" 'BEGIN { printf "%.1f", b - a }')
	timing="boot to command $boot s, $timing"
fi

status=''
if [[ -f $run_dir/status ]]; then
	status=$(<"$run_dir/status")
	[[ $status =~ ^[0-9]+$ ]] || status=''
fi

if [[ -n $status ]]; then
	rc=$status
	say "command exited with status $status ($timing)"
elif ((qemu_rc == 124 || qemu_rc == 137)); then
	rc=124
	say "TIMEOUT: the guest was killed after $timeout_s s ($timing)"
else
	rc=125
	say "the guest never reported an exit status (QEMU status $qemu_rc; $timing)"
	if [[ -s $run_dir/error ]]; then
		say "guest setup error: $(<"$run_dir/error")"
	fi
	if [[ -s $run_dir/qemu.log ]]; then
		say "QEMU said:"
		cat "$run_dir/qemu.log" >&2
	fi
fi

if [[ -s $run_dir/kmemleak.log ]]; then
	say "FAIL: kmemleak reports leaks ($run_dir/kmemleak.log):"
	head -n 100 "$run_dir/kmemleak.log" >&2
	((rc != 0)) || rc=1
fi
if vm_kernel_problems "$run_dir/console.log"; then
	say "FAIL: the guest kernel log reports problems ($run_dir/console.log):"
	vm_kernel_problems_show "$run_dir/console.log" >&2
	((rc != 0)) || rc=1
elif [[ -z $status && -s $run_dir/console.log ]]; then
	say "last console lines ($run_dir/console.log):"
	tail -n 25 "$run_dir/console.log" >&2
fi

if ((rc == 0)); then
	say "PASS (logs in $run_dir/)"
else
	say "FAIL with exit status $rc (logs in $run_dir/)"
fi
exit "$rc"
