#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host test of the Debian packages (userspace/host-tests.list): make deb's
# build (dist/deb.sh into build/deb, which selftests/packaging.sh, run by
# make check-packaging, then installs in a guest), what each package holds, DKMS's build of the
# module from steadykv-dkms for the guests' kernel, that the man pages name
# every option the programs' usage texts name, and lintian's findings
# (printed as information, not judged).  TAP on stdout.
#
# DKMS's build runs in private trees (--sourcetree, --dkmstree), never the
# host's; its result is the binaries-only DKMS tarball
# build/deb/steadykv-VERSION-KVER.dkms.tar.gz that selftests/packaging.sh
# gives the package's postinst (compiling in a TCG guest took more than
# 14 minutes at host load 9).  DKMS makes its signing key
# /var/lib/dkms/mok.key on a first build; one this test made is removed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$top" || exit 1
out=build/deb
n=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check DESC CMD...: one TAP line for CMD's status.
check() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
	fi
}

build() {
	bash dist/deb.sh "$top/$out" >"$tmp/deb.out" 2>&1 || { sed 's/^/# /' "$tmp/deb.out"; return 1; }
	[[ -r $out/steadykv_${version}_amd64.deb && -r $out/steadykv-dkms_${version}_all.deb ]]
}

# has DEB PATH...: DEB holds every PATH.
has() {
	local deb=$1 p rc=0
	shift
	dpkg-deb -c "$deb" | awk '{ sub(/^\./, "", $6); print $6 }' >"$tmp/list"
	for p in "$@"; do
		grep -qxF "$p" "$tmp/list" || { echo "# $deb lacks $p"; rc=1; }
	done
	return $rc
}

steadykv_files() {
	local deb=$out/steadykv_${version}_amd64.deb lib=/usr/lib/x86_64-linux-gnu
	has "$deb" /usr/sbin/steadykvd /usr/bin/steadykvctl "$lib/libsteadykv.a" \
		"$lib/pkgconfig/steadykv.pc" /usr/include/steadykv/steadykv.h \
		/usr/include/steadykv/steadykv_cluster.h /usr/include/steadykv/wire.h \
		/lib/systemd/system/steadykv-coordinator.service \
		/lib/systemd/system/steadykv-node@.service /etc/steadykv/coordinator.conf \
		/usr/share/doc/steadykv/examples/node-n1.conf \
		/usr/share/man/man8/steadykvd.8.gz /usr/share/man/man1/steadykvctl.1.gz &&
		dpkg-deb -I "$deb" conffiles | grep -qx /etc/steadykv/coordinator.conf
}

# Every object the module's Kbuild lists has its source in the DKMS tree,
# and dkms.conf carries the package's version.
dkms_files() {
	local deb=$out/steadykv-dkms_${version}_all.deb src=/usr/src/steadykv-$version o objs=()
	# shellcheck disable=SC2016 # make's $(...) in the sed expression
	for o in $(sed -n 's/^SKV_KMOD_OBJS *:= *//p; /^SKV_KMOD_OBJS/,/^$/{/:=/!p}' kmod/objs.mk |
		tr -d '\\'); do
		objs+=("$src/kmod/${o%.o}.c")
	done
	for o in $(sed -n 's/^SKV_CORE_OBJS *:= *//p; /^SKV_CORE_OBJS/,/^$/{/:=/!p}' kmod/core/objs.mk |
		tr -d '\\'); do
		objs+=("$src/kmod/core/${o%.o}.c")
	done
	((${#objs[@]} > 10)) || { echo "# objects not found in objs.mk"; return 1; }
	has "$deb" "$src/dkms.conf" "$src/Kbuild" "$src/include/uapi/linux/steadykv.h" "${objs[@]}" &&
		dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ".$src/dkms.conf" |
		grep -qx "PACKAGE_VERSION=\"$version\""
}

# man_names PAGE OPTION...: the page (as man renders it) names each option.
man_names() {
	local page=$1 o rc=0
	shift
	LC_ALL=C MANWIDTH=200 man --warnings -l "$page" 2>"$tmp/man.err" >"$tmp/man.txt" || rc=1
	[[ ! -s $tmp/man.err ]] || { sed 's/^/# man: /' "$tmp/man.err"; rc=1; }
	for o in "$@"; do
		grep -qF -- "$o" "$tmp/man.txt" || { echo "# $page does not name $o"; rc=1; }
	done
	return $rc
}

dkms_build() {
	local d=$tmp/dkms rc=0 made_key=1 opts
	[[ -e /var/lib/dkms/mok.key ]] && made_key=0
	opts=(--sourcetree "$d/root/usr/src" --dkmstree "$d/tree" --installtree "$d/installed")
	mkdir -p "$d/tree" "$d/installed"
	dpkg -x "$out/steadykv-dkms_${version}_all.deb" "$d/root" &&
		dkms add -m steadykv -v "$version" "${opts[@]}" >"$d/log" 2>&1 &&
		dkms build -m steadykv -v "$version" -k "$kver" "${opts[@]}" >>"$d/log" 2>&1 &&
		dkms mktarball -m steadykv -v "$version" -k "$kver" --binaries-only \
			--archive "$top/$dkms_tarball" "${opts[@]}" >>"$d/log" 2>&1 || rc=1
	if ((made_key)); then
		rm -f /var/lib/dkms/mok.key /var/lib/dkms/mok.pub
	fi
	if ((rc)); then
		tail -n 20 "$d/log" | sed 's/^/# /'
		find "$d/tree" -name make.log -exec tail -n 20 {} + | sed 's/^/# make.log: /'
		return 1
	fi
	ls "$d/tree/steadykv/$version/$kver/x86_64/module/"steadykv.ko* >/dev/null &&
		tar -tzf "$dkms_tarball" | grep -q "dkms_main_tree/$kver/x86_64/module/steadykv.ko"
}

steadykvd_man() {
	# shellcheck disable=SC2046 # one option a word
	man_names dist/steadykvd.8 $(build/bin/steadykvd --help | grep -o -- '--[a-z-]*' | sort -u)
}

# Every command of steadykvctl's usage, in the page's synopsis of commands.
steadykvctl_man() {
	local line rc=0
	build/bin/steadykvctl --help | sed -n 's/^.*steadykvctl \[OPTIONS\] //p' |
		sed 's/ *(.*)$//' >"$tmp/cmds"
	(($(wc -l <"$tmp/cmds") > 30)) || { echo "# steadykvctl --help names too few commands"; return 1; }
	man_names dist/steadykvctl.1 || rc=1
	while read -r line; do
		grep -qF -- "$line" "$tmp/man.txt" || { echo "# steadykvctl.1 lacks: $line"; rc=1; }
	done <"$tmp/cmds"
	return $rc
}

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
# shellcheck source=../vm-test/lib.sh
source vm-test/lib.sh
vm_find_kernel # the guests' kernel: VM_KVER
kver=$VM_KVER
dkms_tarball=$out/steadykv-$version-$kver.dkms.tar.gz
echo "TAP version 13"
check "make deb builds steadykv and steadykv-dkms $version" build
check "steadykv holds the programs, library, headers, pkg-config file, units, man pages" steadykv_files
check "steadykv-dkms holds dkms.conf, Kbuild and every source the module's Kbuild names" dkms_files
check "DKMS builds steadykv.ko from steadykv-dkms for $kver" dkms_build
check "steadykvd.8 names every option of steadykvd --help" steadykvd_man
check "steadykvctl.1 lists every command of steadykvctl --help" steadykvctl_man
if command -v lintian >/dev/null; then
	echo "# lintian (information only):"
	lintian "$out"/*.changes 2>&1 | sed 's/^/#   /'
fi
echo "1..$n"
((failed == 0))
