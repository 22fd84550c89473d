#!/usr/bin/env bash
# Build (once per machine) the debug kernel `make check-debug` runs the VM
# suite on: Debian's linux-source-6.12 with KASAN, UBSAN, lockdep, KFENCE,
# kmemleak and fault injection, configured from x86_64_defconfig plus
# kvm_guest.config plus what the vm-test guests need, built in.
#
# The kernel lives outside the clone, in $STEADYKV_DEBUG_CACHE (default
# /var/cache/steadykv)/debug-kernel-<source version>/, and is reused while its
# stamp (source version and config fragment) matches:
#   src/              the configured and built tree (KDIR for the module)
#   vmlinuz           the kernel image
#   root/lib/modules/ its module tree (modules.builtin for modprobe)
#   build.log         the build's output
#   configured, stamp the config checked; the build finished
#
# Usage: debug-kernel.sh [--print]   --print: print DIR if it is built, else fail
# The build runs under nice -n 19: it takes long and shares the machine.
set -euo pipefail

# What the debug kernel must have, checked in the final .config: a symbol
# the kernel's Kconfig drops (an unmet dependency) fails the build here
# rather than silently leaving a detector out.
readonly CONFIG_WANTED=(
	# memory-error and locking detectors
	KASAN=y KASAN_GENERIC=y KASAN_INLINE=y KASAN_VMALLOC=y
	UBSAN=y UBSAN_BOUNDS=y UBSAN_SHIFT=y
	KFENCE=y
	PROVE_LOCKING=y DEBUG_ATOMIC_SLEEP=y DEBUG_LIST=y
	DEBUG_KMEMLEAK=y DEBUG_KMEMLEAK_AUTO_SCAN=n
	FAULT_INJECTION=y FAILSLAB=y FAIL_PAGE_ALLOC=y FAULT_INJECTION_DEBUG_FS=y
	FAULT_INJECTION_STACKTRACE_FILTER=y
	# fail_function, to fail a module function by hand (not in tests:
	# lockdep reports its kprobe context taking the random pool's lock)
	FUNCTION_ERROR_INJECTION=y FAIL_FUNCTION=y
	DEBUG_FS=y KALLSYMS_ALL=y DETECT_HUNG_TASK=y SOFTLOCKUP_DETECTOR=y
	MAGIC_SYSRQ=y
	# no DWARF for the kernel (half the build time); the module gets -g
	DEBUG_INFO_NONE=y
	# the guest: boot from the gzip initramfs, host root over 9p, overlay
	BLK_DEV_INITRD=y RD_GZIP=y DEVTMPFS=y TMPFS=y
	VIRTIO_PCI=y NET_9P=y NET_9P_VIRTIO=y 9P_FS=y 9P_FS_POSIX_ACL=y
	OVERLAY_FS=y
	# the tests: namespaces, veth, bridge, netem, NICs, tracefs, modules
	NET_NS=y USER_NS=y VETH=y BRIDGE=y VIRTIO_NET=y
	NET_SCHED=y NET_SCH_NETEM=y
	# netem toward one destination (selftests/lib.sh skv_netem_script)
	NET_SCH_PRIO=y NET_CLS_U32=y
	FTRACE=y TRACING=y
	# bpftrace on the module's tracepoints (the trace suite)
	BPF_SYSCALL=y BPF_JIT=y PERF_EVENTS=y KPROBES=y KPROBE_EVENTS=y BPF_EVENTS=y
	MODULES=y MODULE_UNLOAD=y
	# the module's checksums
	LIBCRC32C=y CRYPTO_CRC32C=y CRYPTO_CRC32C_INTEL=y
	# its own name, so its module tree never meets Debian's
	LOCALVERSION='"-steadykv-debug"' LOCALVERSION_AUTO=n
)
# Left out to keep the build short on a small machine: nothing a guest uses.
readonly CONFIG_DROPPED=(
	DRM SOUND USB_SUPPORT WLAN WIRELESS CFG80211 MAC80211 RFKILL NFS_FS
	ETHERNET AGP PCCARD HIBERNATION SECURITY_SELINUX INPUT_JOYSTICK
	INPUT_TABLET INPUT_TOUCHSCREEN INPUT_MISC HID MEDIA_SUPPORT
)
readonly BUILD_PACKAGES=(flex bison libelf-dev bc cpio)

cache=${STEADYKV_DEBUG_CACHE:-/var/cache/steadykv}

die() {
	printf 'debug-kernel: %s\n' "$*" >&2
	exit 1
}

tarball=$(find /usr/src -maxdepth 1 -name "linux-source-6.12*.tar.xz" | sort -V | tail -n 1)
[[ -n $tarball ]] || die "no /usr/src/linux-source-6.12*.tar.xz (run make deps)"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) ||
	die "package linux-source-6.12 not installed (run make deps)"
dir=$cache/debug-kernel-$srcver
# The config fragment merged over the defconfig.
fragment_text=$(
	for opt in "${CONFIG_WANTED[@]}"; do
		if [[ $opt == *=n ]]; then
			printf '# CONFIG_%s is not set\n' "${opt%=n}"
		else
			printf 'CONFIG_%s\n' "$opt"
		fi
	done
	printf '# CONFIG_%s is not set\n' "${CONFIG_DROPPED[@]}"
)
want="tarball=$tarball version=$srcver config=$(sha256sum <<<"$fragment_text" | cut -d' ' -f1)"

built() { [[ -f $dir/stamp && $(<"$dir/stamp") == "$want" && -s $dir/vmlinuz ]]; }

if [[ ${1-} == --print ]]; then
	built || die "not built yet: $dir (run scripts/debug-kernel.sh)"
	printf '%s\n' "$dir"
	exit 0
fi
[[ $# -eq 0 ]] || die "usage: ${0##*/} [--print]"

mkdir -p "$cache"
# One builder per machine; the others wait and then find it built.
exec {lock_fd}>"$cache/.debug-kernel.lock"
if ! flock -n "$lock_fd"; then
	printf 'debug-kernel: waiting for the build under way (%s)\n' "$dir/build.log" >&2
	flock "$lock_fd"
fi
if built; then
	printf '%s\n' "$dir"
	exit 0
fi

missing=()
for p in "${BUILD_PACKAGES[@]}"; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] ||
		missing+=("$p")
done
if ((${#missing[@]} > 0)); then
	[[ $(id -u) -eq 0 ]] || die "missing packages (install as root): ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

start=$(date +%s)
log=$dir/build.log
# A configured tree whose build was interrupted is resumed: make picks up
# where it stopped.
if [[ ! -f $dir/configured || $(<"$dir/configured") != "$want" ]]; then
	rm -rf "$dir"
	mkdir -p "$dir/src"
	printf 'debug-kernel: configuring %s in %s (log: %s)\n' "$srcver" "$dir" "$log" >&2
	{
		tar -xJf "$tarball" -C "$dir/src" --strip-components=1

		fragment=$dir/steadykv-debug.config
		printf '%s\n' "$fragment_text" >"$fragment"
		make -C "$dir/src" x86_64_defconfig kvm_guest.config
		(cd "$dir/src" && scripts/kconfig/merge_config.sh -m .config "$fragment")
		make -C "$dir/src" olddefconfig
	} >"$log" 2>&1 || die "configuring failed, see $log"

	bad=()
	for opt in "${CONFIG_WANTED[@]}"; do
		name=${opt%%=*} value=${opt#*=}
		if [[ $value == n ]]; then
			! grep -q "^CONFIG_$name=" "$dir/src/.config" || bad+=("$opt")
		else
			grep -qxF "CONFIG_$name=$value" "$dir/src/.config" || bad+=("$opt")
		fi
	done
	((${#bad[@]} == 0)) || die "the kernel config lacks: ${bad[*]} (see $dir/src/.config)"
	printf '%s\n' "$want" >"$dir/configured"
fi

printf 'debug-kernel: building %s in %s (log: %s)\n' "$srcver" "$dir" "$log" >&2
jobs=$(nproc)
nice -n 19 make -C "$dir/src" -j"$jobs" bzImage modules >>"$log" 2>&1 ||
	die "the build failed, see $log"
make -C "$dir/src" INSTALL_MOD_PATH="$dir/root" modules_install >>"$log" 2>&1 ||
	die "modules_install failed, see $log"
cp "$dir/src/arch/x86/boot/bzImage" "$dir/vmlinuz"
printf '%s\n' "$want" >"$dir/stamp"
printf 'debug-kernel: built %s in %d min\n' "$(make -s -C "$dir/src" kernelrelease)" \
	$((($(date +%s) - start) / 60)) | tee -a "$log" >&2
printf '%s\n' "$dir"
