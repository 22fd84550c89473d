# shellcheck shell=bash
# Helpers shared by the host-side vm-test scripts. Sourced, not executed.

# Print an error prefixed with the calling script's name and exit with 125,
# run.sh's status for "the guest could not run the command".
vm_die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 125
}

# Set VM_KVER, VM_KERNEL, VM_MODROOT and VM_MODDIR for the guest kernel.
# Default: STEADYKV_KVER if set, else the newest installed Debian 6.12 kernel
# that has both an image and a module tree (a half-installed kernel must not
# be picked), with its modules in /lib/modules. Another kernel (the debug
# kernel of `make check-debug`): STEADYKV_VM_KERNEL=IMAGE and
# STEADYKV_VM_MODROOT=DIR, its modules installed in DIR/lib/modules/KVER
# (make modules_install INSTALL_MOD_PATH=DIR).
# shellcheck disable=SC2034 # the VM_* variables are used by the sourcing scripts
vm_find_kernel() {
	local kver=${STEADYKV_KVER:-} dir trees
	VM_MODROOT=${STEADYKV_VM_MODROOT:-}
	if [[ -n ${STEADYKV_VM_KERNEL:-} ]]; then
		[[ -n $VM_MODROOT ]] || vm_die "STEADYKV_VM_KERNEL needs STEADYKV_VM_MODROOT (its modules_install directory)"
		trees=("$VM_MODROOT"/lib/modules/*/)
		[[ ${#trees[@]} -eq 1 && -d ${trees[0]} ]] ||
			vm_die "want exactly one module tree in $VM_MODROOT/lib/modules"
		dir=${trees[0]%/}
		VM_KVER=${dir##*/}
		VM_KERNEL=$STEADYKV_VM_KERNEL
		VM_MODDIR=$dir
	else
		if [[ -z $kver ]]; then
			kver=$(
				for dir in /lib/modules/6.12*-amd64; do
					[[ -d $dir && -e /boot/vmlinuz-${dir##*/} ]] && printf '%s\n' "${dir##*/}"
				done | sort -V | tail -n 1
			)
			[[ -n $kver ]] || vm_die "no 6.12 kernel found (want /boot/vmlinuz-6.12*-amd64 and /lib/modules/6.12*-amd64; install linux-image-amd64 6.12 or set STEADYKV_KVER)"
		fi
		VM_KVER=$kver
		VM_KERNEL=/boot/vmlinuz-$kver
		VM_MODDIR=/lib/modules/$kver
	fi
	[[ -r $VM_KERNEL ]] || vm_die "kernel image $VM_KERNEL missing or unreadable"
	[[ -d $VM_MODDIR ]] || vm_die "module tree $VM_MODDIR missing"
}

# Console-log strings that mean the guest kernel is unhappy (the one list:
# run.sh checks each guest with it, the lab every guest it ran or crashed).
# shellcheck disable=SC2034 # used by the sourcing scripts
readonly KERNEL_PROBLEMS=(
	'Oops' 'BUG:' 'WARNING:' 'KFENCE:' 'hung_task' 'blocked for more than'
	'rcu_sched self-detected stall' 'rcu: INFO:' 'RCU stall' 'Kernel panic'
	'general protection fault' 'UBSAN:' 'KASAN:' 'refcount_t:'
	'list_add corruption' 'list_del corruption' 'slab-out-of-bounds'
	'suspected memory leak' 'leak detector disabled'
	'INFO: trying to register non-static key'
)

# vm_kernel_problems LOG: true if the console log shows a kernel problem.
vm_kernel_problems() {
	local pattern args=()
	for pattern in "${KERNEL_PROBLEMS[@]}"; do
		args+=(-e "$pattern")
	done
	grep -q -F "${args[@]}" "$1" 2>/dev/null
}

# vm_kernel_problems_show LOG: the matching lines with some context.
vm_kernel_problems_show() {
	local pattern args=()
	for pattern in "${KERNEL_PROBLEMS[@]}"; do
		args+=(-e "$pattern")
	done
	{ grep -n -F -B 3 -A 12 "${args[@]}" "$1" || true; } | head -n 200
}
