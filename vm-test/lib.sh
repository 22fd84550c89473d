# shellcheck shell=bash
# Helpers shared by the host-side vm-test scripts. Sourced, not executed.

# Print an error prefixed with the calling script's name and exit with 125,
# run.sh's status for "the guest could not run the command".
vm_die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 125
}

# Set VM_KVER, VM_KERNEL and VM_MODDIR for the guest kernel: STEADYKV_KVER if
# set, else the newest installed Debian 6.12 kernel that has both an image and
# a module tree (a half-installed kernel must not be picked).
vm_find_kernel() {
	local kver=${STEADYKV_KVER:-} dir
	if [[ -z $kver ]]; then
		kver=$(
			for dir in /lib/modules/6.12*-amd64; do
				[[ -d $dir && -e /boot/vmlinuz-${dir##*/} ]] && printf '%s\n' "${dir##*/}"
			done | sort -V | tail -n 1
		)
		[[ -n $kver ]] || vm_die "no 6.12 kernel found (want /boot/vmlinuz-6.12*-amd64 and /lib/modules/6.12*-amd64; install linux-image-amd64 6.12 or set STEADYKV_KVER)"
	fi
	# shellcheck disable=SC2034 # used by the sourcing scripts
	VM_KVER=$kver
	VM_KERNEL=/boot/vmlinuz-$kver
	VM_MODDIR=/lib/modules/$kver
	[[ -r $VM_KERNEL ]] || vm_die "kernel image $VM_KERNEL missing or unreadable"
	[[ -d $VM_MODDIR ]] || vm_die "module tree $VM_MODDIR missing"
}
