# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of the multi-VM lab (vm-test/lab.sh): what the node guests and
# the control guest share.  Sourced after selftests/lib.sh.
#
# Addresses: node I at 10.77.0.I (data port LAB_PORT), the control guest
# (coordinator, recorded clients) at 10.77.0.254.  The keys come from the
# lab directory on the host (LAB_KEYS), so every guest has the same ones.
#
# The control guest acts on the other guests through the host (lab.sh
# relays): it writes req.N into its results directory, lab.sh answers with
# ack.N (the status) and out.N (the output):
#   lab_kill NODE          SIGKILL node NODE's QEMU (a real crash)
#   lab_boot NODE          boot it again (a new incarnation)
#   lab_exec NODE SCRIPT   run SCRIPT (bash) in node NODE's guest
# and changes the network with
#   lab_netem NODE|ctl DST|all NETEM-ARGS...   loss, delay, reorder,
#                          duplicate on what NODE sends (to DST only, or all)
#   lab_cut NODE|ctl DST   one direction: what NODE sends to DST is dropped
#   lab_heal NODE|ctl      no netem on NODE's link

LAB_NET=10.77.0
# shellcheck disable=SC2034 # used by the sourcing scripts
LAB_PORT=7000
# shellcheck disable=SC2034
LAB_COORD=$LAB_NET.254:7100
LAB_DEV=eth0
export STEADYKV_CLUSTER_KEY=$LAB_KEYS/cluster.key
export STEADYKV_ADMIN_KEY=$LAB_KEYS/admin.key

lab_ip() {
	if [[ $1 == ctl ]]; then
		echo "$LAB_NET.254"
	else
		echo "$LAB_NET.${1#n}"
	fi
}

# lab_link_up IP: the guest's NIC on the lab segment.
lab_link_up() {
	ip addr add "$1/24" dev "$LAB_DEV" && ip link set "$LAB_DEV" up
}

# The tc commands of lab_netem, lab_cut and lab_heal, for the guest that
# runs them.
lab_tc_script() { skv_netem_script "$LAB_DEV" "$@"; }	# DST|all NETEM-ARGS... | heal

# ---- the control guest's side of the relay -----------------------------

# lab_req KIND NODE [SCRIPT]: one request; its output on stdout, its status.
# Requests are numbered 1, 2, ... in a file, not a variable: a request made
# in a command substitution (a subshell) must count too.
lab_req() {
	local n r=$STEADYKV_RESULTS
	n=$(($(cat "$r/req.last" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$r/req.last"
	{
		echo "$1 $2"
		[[ -z ${3:-} ]] || printf '%s\n' "$3"
	} >"$r/req.$n.tmp"
	mv "$r/req.$n.tmp" "$r/req.$n"
	# The host answers within the node's command time or a boot.
	slowwait $((SKV_WAIT * 10)) test -e "$r/ack.$n" ||
		{ skv_fail "the lab did not answer request $n ($1 $2)"; return 1; }
	[[ -e $r/out.$n ]] && cat "$r/out.$n"
	return "$(<"$r/ack.$n")"
}

lab_kill() { lab_req kill "$1"; }
lab_boot() { lab_req boot "$1"; }
lab_exec() { lab_req exec "$1" "$2"; }

# lab_on NODE|ctl SCRIPT: SCRIPT here (ctl) or in node NODE.
lab_on() {
	if [[ $1 == ctl ]]; then
		bash -c "$2"
	else
		lab_exec "$1" "$2"
	fi
}

lab_netem() { lab_on "$1" "$(lab_tc_script "${@:2}")"; }
lab_cut() { lab_netem "$1" "$2" loss 100%; }
lab_heal() { lab_on "$1" "$(lab_tc_script heal)"; }
