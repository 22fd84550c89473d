#!/usr/bin/env bash
# Build OUT_DIR/initramfs.cpio.gz for the vm-test guests: busybox-static, the
# modules needed to mount the host root over 9p under an overlay, and a stage-1
# /init that switch_roots into that overlay and runs vm-test/guest-init.sh.
#
# Cached: rebuilt only when missing, when the kernel version changed, or when
# this script (which embeds /init) changed. Safe to run concurrently.
#
# Usage: mkinitramfs.sh OUT_DIR      (kernel: as vm_find_kernel in lib.sh picks)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

# Modules stage 1 needs, in the order given; modprobe adds their dependencies.
readonly STAGE1_MODULES=(9pnet_virtio 9p overlay)

[[ $# -eq 1 ]] || { printf 'usage: %s OUT_DIR\n' "${0##*/}" >&2; exit 2; }
out_dir=$1

for tool in busybox cpio gzip modprobe xz flock; do
	command -v "$tool" >/dev/null || vm_die "$tool not found (see vm-test/README.md for the packages needed)"
done
busybox=$(command -v busybox)
# A dynamically linked busybox would find no libc in the initramfs.
if ldd "$busybox" >/dev/null 2>&1; then
	vm_die "$busybox is dynamically linked: install busybox-static"
fi

vm_find_kernel
mkdir -p "$out_dir"
image=$out_dir/initramfs.cpio.gz
stamp=$out_dir/initramfs.stamp
modprobe_root=()
[[ -z $VM_MODROOT ]] || modprobe_root=(--dirname "$VM_MODROOT")
want="kver=$VM_KVER modroot=$VM_MODROOT script=$(sha256sum <"${BASH_SOURCE[0]}" | cut -d' ' -f1)"

# Serialise concurrent builders; the loser then finds the image up to date.
exec {lock_fd}>"$out_dir/.lock"
flock "$lock_fd"
if [[ -s $image && -f $stamp && $(<"$stamp") == "$want" ]]; then
	exit 0
fi

work=$(mktemp -d "$out_dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,mnt/lower,mnt/rw,newroot,modules}

cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
	[[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
done

# Decompress each module and its dependencies (Debian ships them xz'd and
# busybox insmod cannot read that); modules built into the kernel (as in the
# debug kernel) are skipped.
declare -A seen=()
for module in "${STAGE1_MODULES[@]}"; do
	deps=$(modprobe "${modprobe_root[@]}" --set-version "$VM_KVER" --show-depends "$module") ||
		vm_die "module $module not found for kernel $VM_KVER"
	while read -r kind path _; do
		[[ $kind == insmod && -z ${seen[$path]:-} ]] || continue
		seen[$path]=1
		name=${path##*/}
		name=${name%%.ko*}
		case $path in
		*.ko.xz) xz -dc "$path" ;;
		*.ko.zst) zstd -dc "$path" ;;
		*.ko.gz) gzip -dc "$path" ;;
		*.ko) cat "$path" ;;
		*) vm_die "unexpected module file $path" ;;
		esac >"$root/modules/$name.ko"
		printf '%s\n' "$name" >>"$root/modules/load-order"
	done <<<"$deps"
done
touch "$root/modules/load-order"

cat >"$root/init" <<'INIT'
#!/bin/sh
# steadykv vm-test stage 1: mount the host root read-only over 9p under a
# tmpfs overlay (so the guest sees every host tool and the build tree yet
# cannot change them) and hand over to the stage-2 script named on the kernel
# command line as steadykv.init=PATH.
export PATH=/bin

fail() {
	echo "steadykv-initramfs: fatal: $*"
	# No status file will appear, so the host reports the run as failed.
	poweroff -f
}

mount -t devtmpfs devtmpfs /dev || fail "cannot mount /dev"
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc || fail "cannot mount /proc"
mount -t sysfs sysfs /sys || fail "cannot mount /sys"

while read -r module; do
	insmod "/modules/$module.ko" || fail "insmod $module failed"
done </modules/load-order

stage2=
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case $arg in steadykv.init=*) stage2=${arg#steadykv.init=} ;; esac
done
[ -n "$stage2" ] || fail "no steadykv.init= on the kernel command line"

# No 9p caching: the guest must see files the host rebuilds while it runs
# (cache=loose measured no faster under TCG).
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=512000 \
	hostroot /mnt/lower || fail "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw || fail "cannot mount tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work \
	overlay /newroot || fail "cannot mount the overlay root"
[ -r "/newroot$stage2" ] || fail "stage 2 script $stage2 not visible in the guest"

umount /proc /sys
mount --move /dev /newroot/dev || fail "cannot move /dev"
exec switch_root /newroot /bin/bash "$stage2"
INIT
chmod 0755 "$root/init"

# Owner root:root so the image does not depend on who built it.
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null --quiet -o -H newc -R 0:0 | gzip -6) >"$work/initramfs.cpio.gz"
# Rename, so a concurrent QEMU never reads a half-written image.
mv "$work/initramfs.cpio.gz" "$image"
printf '%s\n' "$want" >"$stamp"
printf '%s: built %s for %s\n' "${0##*/}" "$image" "$VM_KVER" >&2
