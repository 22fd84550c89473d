#!/usr/bin/env bash
# Install every Debian package steadykv needs to build, test and run its
# demo.  Idempotent: does nothing (and needs no network) when all are there.
set -euo pipefail

packages=(
	# build: kernel module against Debian bookworm's 6.12 LTS
	build-essential linux-headers-6.12-amd64 linux-source-6.12 bc kmod
	# the kernel the VM boots, and the VM itself
	linux-image-6.12-amd64 qemu-system-x86 busybox-static cpio xz-utils
	# in-guest networking tools
	# (gojq: the tests' jq; jq 1.6 takes 50 ms to start, a second under TCG)
	iproute2 procps jq gojq
	# userspace: netlink; hashing, crc32c (ISA-L) and RCU for the host
	# build of the store core
	pkg-config libnl-3-dev libnl-genl-3-dev libxxhash-dev libisal-dev
	liburcu-dev
	libhiredis-dev libssl-dev
	# tests and lint: fuzzer and sanitizers, static analysis, ynl-gen
	clang libclang-rt-14-dev cppcheck shellcheck python3 python3-yaml
	# peers and tools for benchmarks
	redis-server redis-tools memcached iperf3 gnuplot-nox
	# metrics (steadykvd's HTTP endpoint; promtool and curl for its test)
	# and tracepoints (bpftrace for scripts/pull-latency.bt)
	libmicrohttpd-dev prometheus curl bpftrace
	# the coordinator's etcd backend (v3 JSON gateway over HTTP) and the
	# etcd its tests start
	libcurl4-openssl-dev libjson-c-dev etcd-server etcd-client
	# make deb (debhelper 13, DKMS), its packages' test, lintian's report
	debhelper dkms dh-dkms lintian
)

missing=()
for p in "${packages[@]}"; do
	# dpkg-query prints "install ok installed" for a package that is in place.
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

echo "deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	echo "deps: must run as root to install packages" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Servers are not left running: tests start redis-server and memcached as
# they need them, and only use prometheus's promtool.
systemctl disable --now redis-server memcached prometheus etcd >/dev/null 2>&1 || true
