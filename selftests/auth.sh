#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Authenticated peers between real nodes (issue 11, item 1): two nodes
# (S, T) in two namespaces on a veth pair, both with the cluster key K1.
# A rotation of the cluster key while a slowed migration runs (K2+K1 on
# both, then K2 alone) loses nothing, and migrations started during and
# after it authenticate with the new key; a node with another key is
# refused, the migration fails with the reason, the kernel log names the
# peer once and no secret is ever printed or logged; insecure mode is
# visible in node show.  Then the benchmark: connection set-up with and
# without the handshake, and one migration with keys beside the same one
# between two insecure-mode nodes, in the same run.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
SA=10.96.0.1
TA=10.96.0.2
MAX=18446744073709551615
SIZE=100
# The rotation's migration: one partition, one pull of 1 KiB in flight,
# the source's answers delayed by netem, so that it lasts well past the
# two rotation steps (each test checks it is mid-way before it acts).
SLOW_N=${SKV_AUTH_SLOW_KEYS:-20000}
SLOW=(0 1 1 1024)
SLOW_DELAY=10ms
SAMPLE=3000
SMALL_N=300
BENCH_N=${SKV_AUTH_BENCH_KEYS:-20000}
BENCH_CONNS=${SKV_AUTH_BENCH_CONNS:-300}
WAIT=300

K1=$STEADYKV_CLUSTER_KEY
K2=$SKV_TMP/k2.key
K3=$SKV_TMP/k3.key
(umask 077
 od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$K2"
 od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$K3")

setup() {
	setup_ns S T || { skv_fail "setup_ns"; return 1; }
	skv_veth "$S" eth0 "$SA/24" "$T" eth0 "$TA/24" || { skv_fail "veth"; return 1; }
	skv_node_start "$S" "$SA" $PORT 1 2 3 || return 1
	skv_node_key "$T" || return 1
	skv_ctl "$T" listen start "$TA" $PORT || { skv_fail "target: listen"; return 1; }
	tool "$T" ping "$TA:$PORT" $((SKV_WAIT * 1000)) || { skv_fail "target does not answer"; return 1; }
	skv_dmesg_mark
}

# keys NS CUR [PREV]: the node's keys.
keys() {
	local prev=()
	[[ -n ${3:-} ]] && prev=(--previous "$3")
	skv_ctl "$1" node key set --current "$2" "${prev[@]}" ||
		{ skv_fail "$1: node key set"; return 1; }
}

# auth_is ADDR WANT KEYFILE: a handshake with KEYFILE at ADDR ends WANT.
auth_is() {
	local out
	out=$(tool "$T" auth "$1:$PORT" "$3" 2>&1)
	[[ $out == "$2" ]] || { skv_fail "auth at $1 with $(basename "$3"): want $2, got $out"; return 1; }
}

# mig_done ID TABLE: a migration of TABLE from S into T ends done.
mig_done() {
	local out
	tool "$T" migrate-start "$1" "$2" 0 $MAX "$SA" $PORT ||
		{ skv_fail "migrate-start $1 refused"; return 1; }
	out=$(tool "$T" migrate-wait "$1" $WAIT)
	skv_info "migration $1: $out"
	[[ $out == "done "* ]] || { skv_fail "migration $1: want done, got: $out"; return 1; }
}

t_rotation() {
	local out
	tool "$S" fill "$SA:$PORT" 1 "$SLOW_N" $SIZE r || { skv_fail "fill"; return 1; }
	tool "$S" fill "$SA:$PORT" 2 $SMALL_N $SIZE a || { skv_fail "fill"; return 1; }
	tool "$S" fill "$SA:$PORT" 3 $SMALL_N $SIZE b || { skv_fail "fill"; return 1; }
	skv_slow_link "$S" eth0 $SLOW_DELAY || return 1
	tool "$T" migrate-start 1 1 0 $MAX "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start refused"; return 1; }
	out=$(tool "$T" migrate-wait 1 $WAIT pulling "done" cancelled failed)
	[[ $out =~ ^pulling\ .*permille=([0-9]+) ]] && ((BASH_REMATCH[1] < 1000)) ||
		{ skv_fail "migration 1 not mid-way before the rotation: $out"; return 1; }

	# Step 1: new and old on every node; either key authenticates.
	keys "$S" "$K2" "$K1" && keys "$T" "$K2" "$K1" || return 1
	auth_is "$SA" OK "$K1" && auth_is "$SA" OK "$K2" || return 1
	# A migration started now authenticates with the new key (its few
	# pulls are quick even on the slow link, which stays slow for 1).
	mig_done 2 2 || return 1
	# Step 2: the new key alone; the old one is refused from now on.
	keys "$S" "$K2" && keys "$T" "$K2" || return 1
	auth_is "$SA" AUTH_FAILED "$K1" && auth_is "$SA" OK "$K2" || return 1
	out=$(tool "$T" migrate-get 1)
	[[ $out =~ ^pulling\ .*permille=([0-9]+) ]] && ((BASH_REMATCH[1] < 1000)) ||
		{ skv_fail "migration 1 no longer mid-way after the rotation: $out"; return 1; }
	skv_info "migration 1 after the rotation: $out"
	skv_fast_link "$S" eth0
	mig_done 3 3 || return 1

	out=$(tool "$T" migrate-wait 1 $WAIT)
	skv_info "migration 1: $out"
	[[ $out == "done "* && $out == *" records=$SLOW_N "* ]] ||
		{ skv_fail "migration 1 across the rotation: $out"; return 1; }
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 1 $SAMPLE $SIZE r 0 &&
		tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 2 $SMALL_N $SIZE a 0 &&
		tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 3 $SMALL_N $SIZE b 0 ||
		{ skv_fail "keys lost across the rotation"; return 1; }
}

# A target with another key: refused, with the reason, logged once.
t_wrong_key() {
	local out
	setup_ns W || { skv_fail "setup_ns"; return 1; }
	skv_veth "$S" eth1 "10.96.1.1/24" "$W" eth0 "10.96.1.2/24" || { skv_fail "veth"; return 1; }
	ip -n "$W" route add 10.96.0.0/24 dev eth0 || { skv_fail "route"; return 1; }
	keys "$W" "$K3" || return 1
	skv_ctl "$S" table add 4 && skv_ctl "$S" tablet add 4 min max || { skv_fail "table 4"; return 1; }
	tool "$S" fill "$SA:$PORT" 4 50 $SIZE w || { skv_fail "fill"; return 1; }
	tool "$W" migrate-start 4 4 0 $MAX "$SA" $PORT || { skv_fail "migrate-start refused"; return 1; }
	out=$(tool "$W" migrate-wait 4 $WAIT)
	skv_info "migration 4: $out"
	[[ $out == "failed "* && $out == *"refused authentication"* ]] ||
		{ skv_fail "want failed (authentication), got: $out"; return 1; }
	out=$(dmesg | tail -n +$((SKV_DMESG_MARK + 1)) | grep -c "peer $SA:$PORT: authentication failed")
	((out == 1)) || { skv_fail "want one kernel log line naming the peer, got $out"; return 1; }
	# The source still serves the range, untouched.
	tool "$S" check "$SA:$PORT" 4 50 $SIZE w || { skv_fail "source lost keys"; return 1; }
}

# No secret anywhere: node show prints ids, the kernel log has none.
t_no_secret_printed() {
	local k out
	out=$(skv_ctl "$S" node show; skv_ctl "$S" -j node show; dmesg)
	for k in "$K1" "$K2" "$K3"; do
		if grep -qi "$(cut -c1-16 "$k")" <<<"$out"; then
			skv_fail "a secret of $(basename "$k") was printed or logged"
			return 1
		fi
	done
	grep -q "auth-insecure no auth-key-id 0x" <<<"$out" ||
		{ skv_fail "node show does not report the key id: $out"; return 1; }
}

# Insecure mode is set on purpose and visible.
t_insecure_visible() {
	local out
	skv_ctl "$T" node insecure on || { skv_fail "insecure on"; return 1; }
	out=$(skv_ctl "$T" node show)
	[[ $out == *"auth-insecure yes"* ]] || { skv_fail "node show: $out"; return 1; }
	skv_ctl "$T" node insecure off || { skv_fail "insecure off"; return 1; }
	out=$(skv_ctl "$T" node show)
	[[ $out == *"auth-insecure no"* ]] || { skv_fail "node show: $out"; return 1; }
}

# The cost of authentication: connection set-up, and a migration with keys
# beside the same migration between two nodes in insecure mode.
t_bench() {
	local out keyed insecure
	out=$(tool "$T" auth-bench "$SA:$PORT" "$K2" "$BENCH_CONNS") ||
		{ skv_fail "auth-bench: $out"; return 1; }
	skv_info "bench: $BENCH_CONNS connections: $out"

	setup_ns IS IT || { skv_fail "setup_ns"; return 1; }
	skv_veth "$IS" eth0 "10.96.2.1/24" "$IT" eth0 "10.96.2.2/24" || { skv_fail "veth"; return 1; }
	skv_ctl "$IS" node insecure on && skv_ctl "$IT" node insecure on ||
		{ skv_fail "insecure on"; return 1; }
	skv_ctl "$IS" listen start 10.96.2.1 $PORT && skv_ctl "$IS" table add 9 &&
		skv_ctl "$IS" tablet add 9 min max && skv_ctl "$IT" listen start 10.96.2.2 $PORT ||
		{ skv_fail "insecure nodes"; return 1; }
	skv_ctl "$S" table add 9 && skv_ctl "$S" tablet add 9 min max || { skv_fail "table 9"; return 1; }
	tool "$S" fill "$SA:$PORT" 9 "$BENCH_N" $SIZE m || { skv_fail "fill"; return 1; }
	tool "$IS" fill "10.96.2.1:$PORT" 9 "$BENCH_N" $SIZE m || { skv_fail "fill"; return 1; }
	tool "$T" migrate-start 9 9 0 $MAX "$SA" $PORT || { skv_fail "migrate-start keyed"; return 1; }
	keyed=$(tool "$T" migrate-wait 9 $WAIT)
	tool "$IT" migrate-start 9 9 0 $MAX 10.96.2.1 $PORT || { skv_fail "migrate-start insecure"; return 1; }
	insecure=$(tool "$IT" migrate-wait 9 $WAIT)
	[[ $keyed == "done "* && $insecure == "done "* ]] ||
		{ skv_fail "bench migrations: $keyed / $insecure"; return 1; }
	[[ $keyed =~ elapsed-us=([0-9]+) ]] && keyed=${BASH_REMATCH[1]}
	[[ $insecure =~ elapsed-us=([0-9]+) ]] && insecure=${BASH_REMATCH[1]}
	skv_info "bench: migration of $BENCH_N x $SIZE B: with keys $((keyed / 1000)) ms," \
		"insecure mode $((insecure / 1000)) ms"
}

skv_test "setup: two nodes with the cluster key" setup || skv_finish
skv_test "key rotation during a slowed migration loses nothing" t_rotation
skv_test "a target with another key is refused, logged once" t_wrong_key
skv_test "no secret printed or logged; node show gives key ids" t_no_secret_printed
skv_test "insecure mode is visible in node show" t_insecure_visible
skv_test "benchmark: handshakes and migration rate, with and without keys" t_bench
skv_finish
