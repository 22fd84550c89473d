#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The Debian packages in a guest (issue 14 items 1 and 2): install
# steadykv-dkms and steadykv from build/deb (make deb) with dpkg -i (the
# guest's root is an overlay, so dpkg writes there); DKMS builds the module
# for the running kernel and modprobe loads it; the shipped units pass
# systemd-analyze verify and security; a coordinator and a node run under
# systemd from the installed units, with the units' sandbox in force; a
# put and a get through steadykvctl and through libsteadykv found by
# pkg-config; reload and stop by systemctl; dpkg --purge leaves no file
# behind.
#
# DKMS: by default the package's postinst loads the module that DKMS built
# from steadykv-dkms on the host for this kernel (dist/deb-check.sh, a host
# test: build/deb/steadykv-VERSION-KVER.dkms.tar.gz), from where Debian's
# DKMS postinst takes prebuilt modules (/usr/share/steadykv-dkms/
# steadykv-VERSION.dkms.tar.gz), and installs it; compiling it in a TCG
# guest took more than 14 minutes at host load 9.  SKV_PKG_DKMS_BUILD=1
# (through STEADYKV_GUEST_ENV, with a longer --timeout) has the postinst
# compile it here.
#
# systemd: the guest's PID 1 is vm-test/guest-init.sh, so Debian's
# systemd runs as PID 1 of a PID and mount namespace of its own, in
# container mode (container=), with a target that starts nothing else; it
# reads the units dpkg installed.  systemctl and journalctl run inside
# those namespaces (systemd refuses a client whose PID it cannot see).
# The nodes' namespaces are made before systemd starts, since mounts made
# afterwards (ip netns add) do not reach its copy of the mount table.
# README "A three-node cluster" is followed line by line: three nodes
# with R = 2 and metrics, a table migrated from n1 to n2.
# Loads and unloads the module itself: run it alone (vm-tests.list), not
# under selftests/run.sh.

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

# What the packages install, never the build tree: lib.sh put build/bin
# first in PATH and set key variables that would hide the packages' defaults.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset STEADYKV_CLUSTER_KEY STEADYKV_ADMIN_KEY
DEBS=(build/deb/steadykv-dkms_*_all.deb build/deb/steadykv_*_amd64.deb)
KVER=$(uname -r)
NODE=n1		# the first node's instance name and network namespace
NODES=(n1 n2 n3)	# README "A three-node cluster": node i is n<i>, NET.i
NET=10.0.0	# as in the shipped node-n1.conf example and README
PORT=7000
METRICS=9100
LOGS=${STEADYKV_RESULTS:-$SKV_TMP}

pkg_cleanup() {
	local n
	for n in "${NODES[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
	ip link del skvbr 2>/dev/null
	skv_cleanup
}
trap pkg_cleanup EXIT

t_install() {
	local d version rc prebuilt=/usr/share/steadykv-dkms tarball
	for d in "${DEBS[@]}"; do
		[[ -r $d ]] || { skv_fail "$d missing (make deb)"; return 1; }
	done
	version=$(dpkg-deb -f "${DEBS[0]}" Version)
	tarball=build/deb/steadykv-$version-$KVER.dkms.tar.gz
	# man-db's trigger would rebuild the index under TCG for minutes.
	rm -f /var/lib/man-db/auto-update
	export DEBIAN_FRONTEND=noninteractive
	if [[ ${SKV_PKG_DKMS_BUILD:-0} == 1 ]]; then
		skv_info "DKMS compiles the module in the guest"
		dpkg -i "${DEBS[@]}" >"$LOGS/dpkg-install.log" 2>&1
	else
		[[ -r $tarball ]] || { skv_fail "$tarball missing (dist/deb-check.sh)"; return 1; }
		skv_info "DKMS installs the module it built on the host: $tarball"
		dpkg --unpack "${DEBS[@]}" >"$LOGS/dpkg-install.log" 2>&1 &&
			mkdir "$prebuilt" && cp "$tarball" "$prebuilt/steadykv-$version.dkms.tar.gz" &&
			dpkg --configure steadykv-dkms steadykv >>"$LOGS/dpkg-install.log" 2>&1
	fi
	rc=$?
	rm -rf "$prebuilt"
	if ((rc)); then
		skv_fail "dpkg -i failed"
		sed 's/^/# /' "$LOGS/dpkg-install.log" | tail -n 40
		cat /var/lib/dkms/steadykv/*/build/make.log 2>/dev/null | tail -n 20 | sed 's/^/# make.log: /'
		return 1
	fi
	sed 's/^/# dpkg: /' "$LOGS/dpkg-install.log"
	if [[ ${SKV_PKG_DKMS_BUILD:-0} != 1 ]] && ! grep -q "Loading tarball for steadykv-$version" \
		"$LOGS/dpkg-install.log"; then
		skv_fail "the postinst did not load the prebuilt module"
		return 1
	fi
	dpkg-query -W -f='${Package} ${Status}\n' steadykv steadykv-dkms | sed 's/^/# /'
	[[ $(dpkg-query -W -f='${Status}\n' steadykv steadykv-dkms | sort -u) == "install ok installed" ]] ||
		{ skv_fail "packages not installed"; return 1; }
	[[ $(command -v steadykvd) == /usr/sbin/steadykvd && $(command -v steadykvctl) == /usr/bin/steadykvctl ]] ||
		{ skv_fail "steadykvd or steadykvctl not where the package puts them"; return 1; }
}

t_dkms_built() {
	local status file
	status=$(dkms status steadykv)
	skv_info "dkms status: $status"
	[[ $status == *"$KVER"*": installed"* ]] ||
		{ skv_fail "DKMS did not build and install steadykv for $KVER"; return 1; }
	file=$(modinfo -k "$KVER" -n steadykv) || { skv_fail "modinfo finds no steadykv"; return 1; }
	skv_info "module: $file"
	[[ $file == /lib/modules/$KVER/updates/dkms/steadykv.ko* ]] ||
		{ skv_fail "steadykv resolves to $file, not DKMS's"; return 1; }
}

t_modprobe() {
	modprobe steadykv || { skv_fail "modprobe steadykv"; return 1; }
	skv_module_loaded || { skv_fail "steadykv not in /proc/modules"; return 1; }
	# The loaded module is the one DKMS installed (not build/steadykv.ko):
	# the same GNU build ID (the note's last 20 bytes) in the kernel and the file.
	local loaded file
	loaded=$(tail -c 20 /sys/module/steadykv/notes/.note.gnu.build-id | od -An -tx1 | tr -d ' \n')
	file=$(modinfo -n steadykv)
	xz -dcf "$file" >"$SKV_TMP/steadykv.ko" || { skv_fail "cannot read $file"; return 1; }
	file=$(readelf -n "$SKV_TMP/steadykv.ko" | sed -n 's/^ *Build ID: //p')
	skv_info "build ID loaded $loaded, DKMS's $file"
	[[ ${#loaded} -eq 40 && $loaded == "$file" ]] ||
		{ skv_fail "the loaded module is not DKMS's"; return 1; }
}

t_units_verify() {
	local out
	(cd /tmp && systemd-analyze verify steadykv-coordinator.service "steadykv-node@$NODE.service") \
		>"$SKV_TMP/verify" 2>&1 || {
		skv_fail "systemd-analyze verify"
		sed 's/^/# /' "$SKV_TMP/verify"
		return 1
	}
	sed 's/^/# verify: /' "$SKV_TMP/verify"
	! grep -q steadykv "$SKV_TMP/verify" || { skv_fail "systemd-analyze verify warns of our units"; return 1; }
	# Exposure on systemd's 0-10 scale (shown x10 to --threshold): below
	# 3.0, "OK" and near "SAFE", for both units.
	for u in steadykv-coordinator.service "steadykv-node@$NODE.service"; do
		out=$(systemd-analyze security --offline=yes --threshold=30 "$u" 2>&1) ||
			{ skv_fail "$u: exposure above 3.0"; echo "$out" | tail -n 25 | sed 's/^/# /'; return 1; }
		echo "$out" | grep 'Overall exposure' | sed 's/^/# /'
	done
}

SYSTEMD_PID=''

# sd CMD ARGS...: CMD (systemctl, journalctl) in systemd's namespaces.
sd() {
	nsenter -t "$SYSTEMD_PID" -p -m "$@"
}

# sd_running: systemd has finished starting up.
sd_running() {
	[[ $(sd systemctl is-system-running 2>/dev/null) == @(running|degraded) ]]
}

# unit_status UNIT: what systemd says of UNIT, and its journal, as comments.
unit_status() {
	sd systemctl status --no-pager "$1" 2>&1 | sed 's/^/# /'
	sd journalctl --no-pager -n 20 -u "$1" 2>&1 | sed 's/^/# /'
}

# proc_status UNIT FIELD: FIELD of /proc/PID/status of UNIT's main process.
proc_status() {
	local pid
	pid=$(sd systemctl show -p MainPID --value "$1") || return 1
	# shellcheck disable=SC2016 # awk's $1 and $2
	sd awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status"
}

# sandboxed UNIT CAPBND: UNIT's main process runs with the bounding set
# CAPBND (hex), no new privileges, a seccomp filter (SystemCallFilter) and
# a mount namespace of its own (ProtectSystem and the rest).
sandboxed() {
	local unit=$1 want=$2 capbnd nnp seccomp pid
	capbnd=$(proc_status "$unit" CapBnd)
	nnp=$(proc_status "$unit" NoNewPrivs)
	seccomp=$(proc_status "$unit" Seccomp)
	pid=$(sd systemctl show -p MainPID --value "$unit")
	skv_info "$unit: CapBnd $capbnd, NoNewPrivs $nnp, Seccomp $seccomp"
	[[ $capbnd == "$want" && $nnp == 1 && $seccomp == 2 ]] ||
		{ skv_fail "$unit's sandbox: CapBnd $capbnd (want $want), NoNewPrivs $nnp, Seccomp $seccomp"; return 1; }
	[[ $(sd readlink "/proc/$pid/ns/mnt") != "$(sd readlink /proc/1/ns/mnt)" ]] ||
		{ skv_fail "$unit shares systemd's mount namespace"; return 1; }
	# ProtectSystem=strict: /usr is read-only in the unit's namespace.
	sd nsenter -t "$pid" -m sh -c '! touch /usr/.skv-write 2>/dev/null' ||
		{ skv_fail "$unit can write /usr"; return 1; }
}

t_systemd() {
	mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup ||
		{ skv_fail "cannot mount cgroup2"; return 1; }
	mkdir -p /run/systemd/system
	# The units' default dependencies pull in sysinit.target, whose
	# systemd-tmpfiles-setup empties /tmp (tmp.conf's "D /tmp"): this
	# test's own files are there.  Masked for this run (/run).
	ln -sf /dev/null /run/systemd/system/systemd-tmpfiles-setup.service
	ln -sf /dev/null /run/systemd/system/systemd-tmpfiles-clean.timer
	cat >/run/systemd/system/skv-test.target <<'U'
[Unit]
Description=steadykv packaging test: nothing else started
DefaultDependencies=no
U
	skv_bg unshare --pid --fork --mount-proc --mount --kill-child \
		env -i container=steadykv-test PATH="$PATH" \
		/lib/systemd/systemd --unit=skv-test.target --log-target=null
	# unshare's child, PID 1 of the new namespace.
	slowwait "$SKV_WAIT" pgrep -P "$SKV_LAST_PID" -x systemd >/dev/null ||
		{ skv_fail "systemd did not start"; return 1; }
	SYSTEMD_PID=$(pgrep -P "$SKV_LAST_PID" -x systemd)
	slowwait $((SKV_WAIT * 2)) sd_running ||
		{ skv_fail "systemd not running: $(sd systemctl is-system-running 2>&1)"; return 1; }
	sd systemctl start systemd-journald.service || { skv_fail "journald"; return 1; }
	skv_info "$(sd systemctl --version | head -n 1), PID $SYSTEMD_PID in the guest"
}

# README "A three-node cluster": keys; a bridge and, for node i, a
# namespace n<i> at NET.i with its configuration (the shipped example's
# options for that node, and metrics); the coordinator with R = 2 and
# metrics.  Each line as the README gives it.
t_configure() {
	local i
	(umask 077; for k in cluster admin; do od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >/etc/steadykv/$k.key; done)
	[[ -r /usr/share/doc/steadykv/examples/node-n1.conf ]] || { skv_fail "no example node-n1.conf"; return 1; }
	if ! { ip link add skvbr type bridge && ip addr add 10.0.0.254/24 dev skvbr && ip link set skvbr up; }; then
		skv_fail "bridge"
		return 1
	fi
	for i in 1 2 3; do
		if ! { ip netns add n$i &&
			ip link add skv$i type veth peer name eth0 netns n$i &&
			ip link set skv$i master skvbr up &&
			ip -n n$i addr add 10.0.0.$i/24 dev eth0 && ip -n n$i link set eth0 up &&
			ip -n n$i link set lo up; }; then
			skv_fail "namespace n$i"
			return 1
		fi
		sed -e "s/--node 1 --data 10.0.0.1:/--node $i --data 10.0.0.$i:/" \
		    -e "s/\"\$/ --metrics-listen 10.0.0.$i:9100\"/" \
		    /usr/share/doc/steadykv/examples/node-n1.conf >/etc/steadykv/node-n$i.conf
	done
	sed -i 's/^STEADYKVD_OPTS="/&--replicas 2 --metrics-listen 10.0.0.254:9100 /' /etc/steadykv/coordinator.conf
	grep -h '^STEADYKVD_OPTS' /etc/steadykv/coordinator.conf /etc/steadykv/node-n*.conf | sed 's/^/# /'
	grep -q -- '--node 3 --data 10.0.0.3:7000 .*--metrics-listen 10.0.0.3:9100"$' /etc/steadykv/node-n3.conf ||
		{ skv_fail "node-n3.conf: $(cat /etc/steadykv/node-n3.conf)"; return 1; }
}

# cluster_up: the coordinator lists three nodes, each up.
cluster_up() {
	steadykvctl -j cluster map | jq -e '[.nodes[] | select(.health == "up")] | length == 3' >/dev/null
}

# repl_healthy NODE: NODE replicates to two backups, caught up.
repl_healthy() {
	ip netns exec "$1" steadykvctl -j repl show | jq -e '.healthy == 1 and .backups == 2' >/dev/null
}

t_run_node() {
	local n
	[[ ! -e /var/lib/steadykv ]] || { skv_fail "/var/lib/steadykv exists before the coordinator ran"; return 1; }
	sd systemctl enable --now steadykv-coordinator steadykv-node@n1 steadykv-node@n2 steadykv-node@n3 ||
		{ skv_fail "systemctl enable --now"; unit_status steadykv-coordinator
		  unit_status steadykv-node@n1; return 1; }
	slowwait "$SKV_WAIT" cluster_up ||
		{ skv_fail "not three nodes up: $(steadykvctl -j cluster map 2>&1)"
		  unit_status steadykv-coordinator; unit_status steadykv-node@n1; return 1; }
	# StateDirectory=steadykv: made by systemd, 0700.
	[[ $(stat -c %a /var/lib/steadykv) == 700 ]] ||
		{ skv_fail "/var/lib/steadykv: $(stat -c %a /var/lib/steadykv 2>&1)"; return 1; }
	# Coordinator: no capability; node: CAP_NET_ADMIN (bit 12) alone.
	sandboxed steadykv-coordinator.service 0000000000000000 || return 1
	sandboxed "steadykv-node@$NODE.service" 0000000000001000 || return 1
	# The admin key is found at /etc/steadykv/admin.key, steadykvctl's default.
	steadykvctl cluster create-table 1 --nodes 1 || { skv_fail "create-table"; return 1; }
	[[ -s /var/lib/steadykv/coord.state ]] || { skv_fail "no coordinator state file"; return 1; }
	for n in "${NODES[@]}"; do
		slowwait "$SKV_WAIT" repl_healthy "$n" ||
			{ skv_fail "$n: replication $(ip netns exec "$n" steadykvctl -j repl show)"; return 1; }
	done
}

t_put_get() {
	local v
	slowwait "$SKV_WAIT" steadykvctl put "$NET.1:$PORT" 1 pkg-key pkg-value >/dev/null ||
		{ skv_fail "put"; return 1; }
	v=$(steadykvctl get "$NET.1:$PORT" 1 pkg-key) || { skv_fail "get"; return 1; }
	skv_info "get: $v"
	[[ $v == *pkg-value* ]] || { skv_fail "get returned '$v'"; return 1; }
}

# A program built against the installed library with pkg-config.
t_libsteadykv() {
	cat >"$SKV_TMP/client.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <steadykv/steadykv.h>

int main(int argc, char **argv)
{
	struct skv_conn *c;
	uint64_t ver;
	void *val;
	size_t len;
	int rc;

	if (argc != 3 || skv_connect(argv[1], (uint16_t)atoi(argv[2]), &c))
		return 1;
	rc = skv_put(c, 1, "lib-key", 7, "lib-value", 9, 0, &ver);
	if (!rc)
		rc = skv_get(c, 1, "lib-key", 7, &val, &len, &ver);
	if (!rc) {
		rc = len == 9 && !memcmp(val, "lib-value", 9) ? 0 : 1;
		free(val);
	}
	skv_close(c);
	printf("libsteadykv: %s\n", rc ? "FAIL" : "put and get ok");
	return rc != 0;
}
C
	# shellcheck disable=SC2046 # pkg-config's words
	cc -o "$SKV_TMP/client" "$SKV_TMP/client.c" $(pkg-config --cflags --libs steadykv) ||
		{ skv_fail "cannot build against libsteadykv"; return 1; }
	"$SKV_TMP/client" "$NET.1" "$PORT" || { skv_fail "libsteadykv client"; return 1; }
	[[ $(steadykvctl get "$NET.1:$PORT" 1 lib-key) == *lib-value* ]] ||
		{ skv_fail "steadykvctl does not see lib-key"; return 1; }
}

# Every daemon's metrics pass promtool, and say what they should.
t_metrics() {
	local a out
	for a in 10.0.0.254 10.0.0.1 10.0.0.2 10.0.0.3; do
		out=$(curl -sf "http://$a:$METRICS/metrics") || { skv_fail "no metrics at $a:$METRICS"; return 1; }
		promtool check metrics <<<"$out" >"$SKV_TMP/promtool" 2>&1 ||
			{ skv_fail "promtool on $a's metrics"; sed 's/^/# /' "$SKV_TMP/promtool"; return 1; }
		skv_info "$a:$METRICS: $(grep -c '^steadykv_' <<<"$out") samples"
	done
	# A node counts the PUTs it answered; the coordinator its nodes.
	curl -sf "http://10.0.0.1:$METRICS/metrics" |
		grep -Eq '^steadykv_requests_total\{op="put",status="ok"\} [1-9]' ||
		{ skv_fail "n1 counts no PUT"; return 1; }
	curl -sf "http://10.0.0.254:$METRICS/metrics" | grep -q '^steadykv_coordinator_nodes{status="alive"} 3$' ||
		{ skv_fail "the coordinator does not count 3 nodes alive"; return 1; }
}

# The table moves from n1 to n2 by a migration; its keys read there.
t_migrate() {
	steadykvctl cluster migrate 1 0-max --to 2 --wait >"$SKV_TMP/migrate" 2>&1 ||
		{ skv_fail "migrate"; tail -n 5 "$SKV_TMP/migrate" | sed 's/^/# /'; return 1; }
	[[ $(steadykvctl get "$NET.2:$PORT" 1 pkg-key) == *pkg-value* ]] ||
		{ skv_fail "pkg-key not at n2 after the migration"; return 1; }
}

# systemctl reload (SIGHUP: key files read again) keeps both serving.
t_reload() {
	local u pid
	for u in steadykv-coordinator.service "steadykv-node@$NODE.service"; do
		pid=$(sd systemctl show -p MainPID --value "$u")
		sd systemctl reload "$u" || { skv_fail "systemctl reload $u"; unit_status "$u"; return 1; }
		[[ $(sd systemctl is-active "$u") == active &&
		   $(sd systemctl show -p MainPID --value "$u") == "$pid" ]] ||
			{ skv_fail "$u after reload"; unit_status "$u"; return 1; }
	done
	[[ $(steadykvctl get "$NET.2:$PORT" 1 pkg-key) == *pkg-value* ]] ||
		{ skv_fail "get after reload"; return 1; }
}

t_stop() {
	local u st n
	for u in steadykv-node@n1.service steadykv-node@n2.service steadykv-node@n3.service \
		steadykv-coordinator.service; do
		sd systemctl disable --now "$u" || { skv_fail "systemctl disable --now $u"; unit_status "$u"; return 1; }
		# inactive, not failed: the daemon exited 0 on SIGTERM.
		st=$(sd systemctl is-active "$u")
		[[ $st == inactive ]] || { skv_fail "$u: $st after stop"; unit_status "$u"; return 1; }
	done
	sd systemctl exit 2>/dev/null
	slowwait "$SKV_WAIT" bash -c "! kill -0 $SYSTEMD_PID 2>/dev/null" ||
		{ skv_fail "systemd did not exit"; return 1; }
	# What tells dpkg's maintainer scripts that systemd runs.
	rm -rf /run/systemd
	for n in "${NODES[@]}"; do
		ip netns del "$n"
	done
	ip link del skvbr
	# The namespace's node goes in the kernel's netns cleanup, after ip returns.
	slowwait "$SKV_WAIT" modprobe -r steadykv || { skv_fail "modprobe -r steadykv"; return 1; }
}

t_purge() {
	local files left
	files=$(dpkg -L steadykv steadykv-dkms)
	# The operator's own files (README): keys and the node's configuration.
	rm -f /etc/steadykv/*.key /etc/steadykv/node-n*.conf
	if ! dpkg --purge steadykv steadykv-dkms >"$LOGS/dpkg-purge.log" 2>&1; then
		skv_fail "dpkg --purge failed"
		sed 's/^/# /' "$LOGS/dpkg-purge.log" | tail -n 30
		return 1
	fi
	# Every file, and every directory of steadykv's own, is gone.
	left=$(while read -r f; do
		if [[ -e $f && (! -d $f || $f == *steadykv*) ]]; then echo "$f"; fi
	done <<<"$files")
	left+=$'\n'$(ls -d /etc/steadykv /var/lib/steadykv /var/lib/dkms/steadykv \
		/lib/modules/"$KVER"/updates/dkms/steadykv.ko* 2>/dev/null)
	left=$(grep -v '^$' <<<"$left" | tr '\n' ' ')
	[[ -z $left ]] || { skv_fail "left after purge: $left"; return 1; }
	! modinfo -n steadykv >/dev/null 2>&1 || { skv_fail "modinfo still finds steadykv"; return 1; }
	local p st
	for p in steadykv steadykv-dkms; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || st=not-installed
		[[ $st == not-installed ]] || { skv_fail "dpkg says $p is $st"; return 1; }
	done
}

ktap_print_header
skv_dmesg_mark
skv_test "dpkg -i steadykv-dkms steadykv" t_install
if ((KTAP_CNT_FAIL)); then
	echo "Bail out! the packages do not install"
	skv_finish
fi
skv_test "DKMS built steadykv.ko for $KVER" t_dkms_built
skv_test "modprobe steadykv loads DKMS's module" t_modprobe
skv_test "systemd-analyze verify and security pass on the units" t_units_verify
skv_test "keys, network namespace, node configuration" t_configure
skv_test "systemd runs (PID 1 of its own namespaces)" t_systemd
skv_test "systemctl enable --now: coordinator and nodes n1-n3, sandboxed as the units say; R = 2" t_run_node
skv_test "steadykvctl put and get at node $NODE" t_put_get
skv_test "a pkg-config build against libsteadykv puts and gets" t_libsteadykv
skv_test "every daemon's metrics pass promtool check metrics" t_metrics
skv_test "the table migrates from n1 to n2" t_migrate
skv_test "systemctl reload: both keep serving" t_reload
skv_test "systemctl stop: both inactive, systemd exits, module unloads" t_stop
skv_test "dpkg --purge leaves no file behind" t_purge
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
