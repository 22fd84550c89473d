#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Three nodes in one guest, one per network namespace, joined by a bridge
# (in a fourth namespace): each has its own data, tables and statistics;
# the CLI drives them (put/get/del, lists, extack messages, unprivileged
# refusal) and `steadykvctl monitor` sees the events of its own node only.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
NET=10.99.0
declare -A IP

setup() {
	local n i=1
	setup_ns SW A B C || { skv_fail "setup_ns"; return 1; }
	ip -n "$SW" link add br0 type bridge || return 1
	ip -n "$SW" link set br0 up
	for n in A B C; do
		IP[$n]=$NET.$i
		skv_veth "${!n}" eth0 "${IP[$n]}/24" "$SW" "sw-$n" "" ||
			{ skv_fail "veth for $n"; return 1; }
		ip -n "$SW" link set "sw-$n" master br0
		i=$((i + 1))
	done
	for n in A B C; do
		skv_node_start "${!n}" "${IP[$n]}" $PORT 1 || return 1
	done
}

# Each node is reachable from the others across the bridge.
t_reachable() {
	local from to
	for from in A B C; do
		for to in A B C; do
			ip netns exec "${!from}" skv_tool ping "${IP[$to]}:$PORT" 20000 ||
				{ skv_fail "$from cannot reach node $to"; return 1; }
		done
	done
}

# A key put on A is on A only.
t_data_per_node() {
	local out
	out=$(ip netns exec "$B" steadykvctl -j put "${IP[A]}:$PORT" 1 only-on-a hello-a) ||
		{ skv_fail "put on A from B failed"; return 1; }
	[[ $(jq -r .version <<<"$out") -gt 0 ]] || { skv_fail "put printed no version: $out"; return 1; }
	out=$(ip netns exec "$C" steadykvctl -j get "${IP[A]}:$PORT" 1 only-on-a) ||
		{ skv_fail "get from A failed"; return 1; }
	[[ $(jq -r .value <<<"$out") == hello-a ]] || { skv_fail "A returned $out"; return 1; }
	for n in B C; do
		out=$(ip netns exec "$A" skv_tool get "${IP[$n]}:$PORT" 1 only-on-a)
		[[ $out == "NOT_FOUND "* ]] || { skv_fail "node $n answered '$out' for A's key"; return 1; }
	done
	# The same key on B is a different object, with its own value.
	ip netns exec "$A" skv_tool put "${IP[B]}:$PORT" 1 only-on-a hello-b >/dev/null
	out=$(ip netns exec "$A" skv_tool get "${IP[A]}:$PORT" 1 only-on-a)
	[[ $out == "OK "*" hello-a" ]] || { skv_fail "A's value changed to '$out'"; return 1; }
	out=$(ip netns exec "$A" skv_tool get "${IP[B]}:$PORT" 1 only-on-a)
	[[ $out == "OK "*" hello-b" ]] || { skv_fail "B has '$out'"; return 1; }
}

tables_of() {
	skv_ctl "$1" -j table list | jq -r '.[].id' | sort -n | tr '\n' ' '
}

# Each node's table list is its own.
t_tables_per_node() {
	local n t got
	declare -A extra=([A]=10 [B]=20 [C]=30)
	for n in A B C; do
		skv_ctl "${!n}" table add "${extra[$n]}" || { skv_fail "table add on $n"; return 1; }
	done
	for n in A B C; do
		got=$(tables_of "${!n}")
		[[ $got == "1 ${extra[$n]} " ]] || { skv_fail "$n lists tables '$got'"; return 1; }
	done
	# A table of A's does not serve on B.
	t=$(ip netns exec "$A" skv_tool put "${IP[B]}:$PORT" 10 k v)
	[[ $t == UNKNOWN_TABLE* ]] || { skv_fail "B answered '$t' for A's table 10"; return 1; }
	skv_ctl "$B" tablet add 20 min 0x7fffffffffffffff || return 1
	got=$(skv_ctl "$B" -j tablet list | jq -r '.[] | "\(.table_id):\(.start_hash):\(.end_hash):\(.state)"' | sort | tr '\n' ' ')
	[[ $got == "1:0x0000000000000000:0xffffffffffffffff:normal 20:0x0000000000000000:0x7fffffffffffffff:normal " ]] ||
		{ skv_fail "B lists tablets '$got'"; return 1; }
	got=$(skv_ctl "$A" -j tablet list | jq -r 'length')
	[[ $got == 1 ]] || { skv_fail "A lists $got tablets, want 1"; return 1; }
}

# CLI data commands: versions, conditional writes, delete, errors.
t_cli_data() {
	local a="${IP[C]}:$PORT" out v1 v2 err
	out=$(skv_ctl "$C" -j put "$a" 1 cli-key first) || { skv_fail "put"; return 1; }
	v1=$(jq -r .version <<<"$out")
	out=$(skv_ctl "$C" -j put "$a" 1 cli-key second --expect "$v1") ||
		{ skv_fail "put --expect current failed"; return 1; }
	v2=$(jq -r .version <<<"$out")
	((v2 > v1)) || { skv_fail "version $v2 not above $v1"; return 1; }
	# A stale expectation: exit 1, the current version on stderr.
	if err=$(skv_ctl "$C" put "$a" 1 cli-key third --expect "$v1" 2>&1 >/dev/null); then
		skv_fail "put with a stale --expect succeeded"
		return 1
	fi
	[[ $err == *"$v2"* ]] || { skv_fail "mismatch message lacks current version $v2: $err"; return 1; }
	out=$(skv_ctl "$C" -j get "$a" 1 cli-key)
	[[ $(jq -r .value <<<"$out") == second && $(jq -r .version <<<"$out") == "$v2" ]] ||
		{ skv_fail "get returned $out"; return 1; }
	skv_ctl "$C" del "$a" 1 cli-key --expect "$v2" >/dev/null || { skv_fail "del"; return 1; }
	if err=$(skv_ctl "$C" get "$a" 1 cli-key 2>&1); then
		skv_fail "get after del succeeded: $err"
		return 1
	fi
	[[ $err == steadykvctl:* ]] || { skv_fail "get of a deleted key printed '$err'"; return 1; }
	# The CLI's hash is the node's: a key routed by it is owned.
	out=$(skv_ctl "$C" hash cli-key)
	[[ $out =~ ^0x[0-9a-f]{16}$ ]] || { skv_fail "hash printed '$out'"; return 1; }
}

t_cli_extack() {
	cli_error_is "$A" "File exists" table add 1 || return 1
	cli_error_is "$A" "Invalid argument" tablet add 10 0x200 0x100 || return 1
	skv_ctl "$A" tablet add 10 0x100 0x200 || { skv_fail "tablet add 10"; return 1; }
	cli_error_is "$A" "File exists" tablet add 10 0x150 0x300 || return 1
	cli_error_is "$A" "No such file or directory" tablet add 404 0 1 || return 1
	cli_error_is "$A" "No such file or directory" table del 404 || return 1
	cli_error_is "$A" "Device or resource busy" listen start "${IP[A]}" $((PORT + 1)) || return 1
	cli_error_is "$A" "Invalid argument" node set mem-limit 4096 || return 1
}

# An unprivileged user is refused every change, and may read.
t_cli_unprivileged() {
	local as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all
		--bounding-set=-all)
	local cmd err
	while read -r cmd; do
		# shellcheck disable=SC2086
		err=$(ip netns exec "$B" "${as_nobody[@]}" steadykvctl $cmd 2>&1 >/dev/null)
		[[ $? == 1 && $err == *"Operation not permitted"* ]] ||
			{ skv_fail "unprivileged '$cmd': '$err'"; return 1; }
	done <<-EOF
		table add 77
		table del 1
		tablet add 20 0x8000000000000000 max
		tablet set 1 min max state recovering
		tablet del 1 min max
		node set mem-limit 64M
		listen stop
		listen start ${IP[B]} 7001
	EOF
	ip netns exec "$B" "${as_nobody[@]}" steadykvctl table list >/dev/null ||
		{ skv_fail "unprivileged table list failed"; return 1; }
	ip netns exec "$B" "${as_nobody[@]}" steadykvctl -j node show >/dev/null ||
		{ skv_fail "unprivileged node show failed"; return 1; }
	[[ $(tables_of "$B") == "1 20 " ]] || { skv_fail "B's tables changed: $(tables_of "$B")"; return 1; }
	ip netns exec "$A" skv_tool ping "${IP[B]}:$PORT" || { skv_fail "B stopped serving"; return 1; }
}

node_stat() {
	skv_ctl "$1" -j node show | jq -r ".$2"
}

# node show's counters move with traffic, on that node only.
t_stats_move() {
	local ra rb oa out
	ra=$(node_stat "$A" requests)
	rb=$(node_stat "$B" requests)
	oa=$(node_stat "$A" objects)
	[[ $ra =~ ^[0-9]+$ && $oa =~ ^[0-9]+$ ]] || { skv_fail "node show: requests '$ra' objects '$oa'"; return 1; }
	ip netns exec "$C" skv_tool fill "${IP[A]}:$PORT" 1 50 100 stat || { skv_fail "fill"; return 1; }
	out=$(node_stat "$A" requests)
	((out >= ra + 50)) || { skv_fail "A's requests went $ra -> $out after 50 puts"; return 1; }
	out=$(node_stat "$A" objects)
	((out == oa + 50)) || { skv_fail "A's objects went $oa -> $out after 50 new keys"; return 1; }
	out=$(node_stat "$B" requests)
	((out == rb)) || { skv_fail "B's requests moved ($rb -> $out) with A's traffic"; return 1; }
	out=$(node_stat "$A" listen_addr)
	[[ $out == "${IP[A]}" ]] || { skv_fail "A's listen_addr is '$out'"; return 1; }
	[[ $(node_stat "$A" listening) == true ]] || { skv_fail "A not listening"; return 1; }
}

# mon_has FILE JQ-CONDITION: a JSON line of the monitor output matches.
mon_has() {
	jq -e "select($2)" "$1" 2>/dev/null | grep -q .
}

# mon_ready NS PID FILE CHECK...: the monitor subscribes asynchronously:
# announce probe tables (added and deleted again) until CHECK sees one in
# FILE, for at most 30 s, so later checks cannot race its start.  Fails at
# once if the monitor process ends.
mon_ready() {
	local ns=$1 pid=$2 file=$3 end i=0
	shift 3
	end=$(($(date +%s) + 30))
	while (($(date +%s) < end)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			skv_fail "steadykvctl monitor exited: $(cat "$file")"
			return 1
		fi
		skv_ctl "$ns" table add $((9000 + i)) && skv_ctl "$ns" table del $((9000 + i))
		i=$((i + 1))
		"$@" && return 0
		skv_sleep 0.2
	done
	skv_fail "monitor printed nothing in 30 s: $(cat "$file")"
	return 1
}

# The monitor sees this node's events (and only them).
t_monitor() {
	local ma=$SKV_TMP/monitor-a mb=$SKV_TMP/monitor-b pa pb
	skv_bg ip netns exec "$A" steadykvctl -j monitor >"$ma" 2>&1
	pa=$SKV_LAST_PID
	skv_bg ip netns exec "$B" steadykvctl -j monitor >"$mb" 2>&1
	pb=$SKV_LAST_PID
	mon_ready "$A" "$pa" "$ma" mon_has "$ma" '.event == "table-del"' || return 1
	mon_ready "$B" "$pb" "$mb" mon_has "$mb" '.event == "table-del"' || return 1
	skv_ctl "$A" table add 4242 || return 1
	skv_ctl "$A" tablet add 4242 0x10 0x20 state migrating-in || return 1
	slowwait 20 mon_has "$ma" '.event == "table-add" and .id == 4242' ||
		{ skv_fail "no table-add event for 4242: $(cat "$ma")"; return 1; }
	slowwait 20 mon_has "$ma" '.event == "tablet-add" and .table_id == 4242 and .state == "migrating-in" and .start_hash == "0x0000000000000010"' ||
		{ skv_fail "no tablet-add event for 4242: $(cat "$ma")"; return 1; }
	# B's monitor is alive and subscribed, and saw none of A's events.
	if grep -q 4242 "$mb"; then
		skv_fail "B's monitor saw A's events: $(cat "$mb")"
		return 1
	fi
	kill "$pa" "$pb" 2>/dev/null
	return 0
}

# The text form of monitor too.
t_monitor_text() {
	local m=$SKV_TMP/monitor-text p
	skv_bg ip netns exec "$C" steadykvctl monitor >"$m" 2>&1
	p=$SKV_LAST_PID
	mon_ready "$C" "$p" "$m" grep -q '^table-del: ' "$m" || return 1
	skv_ctl "$C" table add 5151 || return 1
	slowwait 20 grep -q '^table-add: table 5151$' "$m" ||
		{ skv_fail "no 'table-add: table 5151' line: $(cat "$m")"; return 1; }
	kill "$p" 2>/dev/null
	return 0
}

ktap_print_header
skv_test "three namespaces on a bridge, a node in each" setup
if ((KTAP_CNT_FAIL)); then
	echo "Bail out! setup failed"
	skv_finish
fi
skv_test "every node reachable from every namespace" t_reachable
skv_test "a key put on node A is not on B or C" t_data_per_node
skv_test "each node's table and tablet lists are its own" t_tables_per_node
skv_test "CLI put/get/del with versions and --expect" t_cli_data
skv_test "CLI prints the extack message of netlink errors" t_cli_extack
skv_test "unprivileged CLI: changes refused (EPERM), reads allowed" t_cli_unprivileged
skv_test "node show statistics move with traffic, per node" t_stats_move
skv_test "monitor (JSON) gets this node's table/tablet events only" t_monitor
skv_test "monitor (text) prints table-add" t_monitor_text
skv_finish
