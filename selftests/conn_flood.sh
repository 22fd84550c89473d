#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# No lock-up by connections (issue 11, item 4).  Two nodes in two
# namespaces on a veth pair; an attacker (selftests/conn_flood.c) beside
# the target, at an address of its own, opens 10,000 connections to the
# source: idle ones, ones that send a frame a byte at a time, and ones
# that read their replies a byte at a time.  Meanwhile clients from the
# target's address are served after every wave of the flood, a migration
# from the source runs to the end, and every attacking connection is
# taken or refused (max_connections_per_addr) and then closed by its
# deadline (idle_timeout_s, frame_timeout_s, reply_timeout_s).  Then: a
# connection over the client share is refused with BUSY (peer slots); a
# PREPARE flood of single hashes is refused past max_tablets; node show's
# memory parts add up and grow with the data; 10,000 connections at once
# are each served with no thread of their own; connections that each
# hold a large partial frame are closed past the node's conn_buffers_mb,
# which it never passes.  Prints the figures.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
SA=10.97.0.1	# the source node, flooded
TA=10.97.0.2	# the target node; its address is also the other clients'
FA=10.97.0.3	# the attacker, beside the target
MAX=18446744073709551615
N=${SKV_FLOOD_MIG_KEYS:-2000}
FLOOD_IDLE=${SKV_FLOOD_IDLE:-9920}
FLOOD_SLOW_FRAME=40
FLOOD_SLOW_READ=40
CLIENT_KEYS=1000
# Deadlines short enough for a test; the idle timeout outlasts the flood's
# waves and the clients that follow them (checked), then t_flood cuts it.
IDLE_S=120
FRAME_S=8
REPLY_S=8
PER_ADDR=128
MAX_TABLETS=64
PARAMS=(idle_timeout_s frame_timeout_s reply_timeout_s max_connections
	max_connections_per_addr peer_connections max_tablets conn_buffers_mb)
declare -A SAVED

param() {
	echo "$2" >"/sys/module/steadykv/parameters/$1" ||
		{ skv_fail "cannot set module parameter $1=$2"; return 1; }
}

params_save() {
	local p
	for p in "${PARAMS[@]}"; do
		SAVED[$p]=$(<"/sys/module/steadykv/parameters/$p") || return 1
	done
}

params_restore() {
	local p
	for p in "${PARAMS[@]}"; do
		param "$p" "${SAVED[$p]}"
	done
}

# stats NS: the node's counters as JSON (steadykvctl -j node show).
stats() {
	skv_in "$1" steadykvctl -j node show
}

# no_connections NS: the node has no connection open.
no_connections() {
	(($(stats "$1" | jq .connections) == 0))
}

# delta BEFORE AFTER FIELD: how much FIELD grew between two stats.
delta() {
	echo $(($(jq -r ".$3" <<<"$2") - $(jq -r ".$3" <<<"$1")))
}

setup() {
	params_save || { skv_fail "module parameters"; return 1; }
	param idle_timeout_s $IDLE_S && param frame_timeout_s $FRAME_S &&
		param reply_timeout_s $REPLY_S &&
		param max_connections_per_addr $PER_ADDR || return 1
	setup_ns S T || { skv_fail "setup_ns"; return 1; }
	skv_veth "$S" eth0 "$SA/24" "$T" eth0 "$TA/24" || { skv_fail "veth"; return 1; }
	ip -n "$T" addr add "$FA/24" dev eth0 || { skv_fail "attacker address"; return 1; }
	skv_node_start "$S" "$SA" $PORT 1 2 || return 1
	skv_node_key "$T" || return 1
	skv_ctl "$T" listen start "$TA" $PORT || { skv_fail "target: listen"; return 1; }
	tool "$T" ping "$TA:$PORT" $((SKV_WAIT * 1000)) || { skv_fail "target does not answer"; return 1; }
}

t_flood() {
	local before after out rc conns total=$((FLOOD_IDLE + FLOOD_SLOW_FRAME + FLOOD_SLOW_READ))
	local opened refused closed accepted flood_pid
	tool "$S" fill "$SA:$PORT" 1 "$N" 100 k || { skv_fail "fill"; return 1; }
	# The value the slow readers ask for, 16 times each.
	tool "$T" fill "$SA:$PORT" 2 1 65536 big || { skv_fail "fill big"; return 1; }
	before=$(stats "$S")

	skv_bg ip netns exec "$T" conn_flood flood "$SA:$PORT" "$FA" "$TA" \
		"$FLOOD_IDLE" $FLOOD_SLOW_FRAME $FLOOD_SLOW_READ 2 big-0 \
		"$SKV_TMP/flood.ready" 900 >"$SKV_TMP/flood.out"
	flood_pid=$SKV_LAST_PID
	skv_wait_file "$SKV_TMP/flood.ready" 900 ||
		{ cat "$SKV_TMP/flood.out"; skv_fail "the flood never got in place"; return 1; }
	cat "$SKV_TMP/flood.out"

	# The flood is in place: a migration and the other clients go on.
	tool "$T" migrate-start 1 1 0 $MAX "$SA" $PORT || { skv_fail "migrate-start refused"; return 1; }
	out=$(tool "$T" migrate-wait 1 300)
	skv_info "migration under the flood: $out"
	[[ $out == "done "*" records=$N "* ]] || { skv_fail "migration under the flood: $out"; return 1; }
	tool "$T" fill "$SA:$PORT" 2 $CLIENT_KEYS 100 cl ||
		{ skv_fail "clients' writes refused under the flood"; return 1; }
	tool "$T" check "$SA:$PORT" 2 $CLIENT_KEYS 100 cl ||
		{ skv_fail "clients' reads wrong under the flood"; return 1; }
	conns=$(stats "$S" | jq -r .connections)
	skv_info "client ops served during the flood: $((2 * CLIENT_KEYS)) (plus one PING per wave), source connections open: $conns"
	if ! kill -0 "$flood_pid" 2>/dev/null || ((conns < PER_ADDR - FLOOD_SLOW_FRAME - FLOOD_SLOW_READ)); then
		skv_fail "the flood was over before the clients were (raise IDLE_S)"
		return 1
	fi

	# Every attacking connection ends, by a deadline.  The clients are
	# done: the idle ones need not outlast them any more, and the node
	# reads its idle timeout at each check, so a short one closes them
	# now rather than IDLE_S after the last wave.
	param idle_timeout_s 2 || return 1
	skv_wait_exit "$flood_pid" 900
	rc=$?
	cat "$SKV_TMP/flood.out"
	((rc == 0)) || { skv_fail "attacking connections still open (conn_flood: $rc)"; return 1; }
	grep -q "probe clients served=$((total / 100)) failed=0" "$SKV_TMP/flood.out" ||
		{ skv_fail "a client was not served during the flood"; return 1; }
	after=$(stats "$S")
	opened=$(awk '/^# conn_flood: end: / { sub("opened=", "", $5); n += $5 } END { print n }' "$SKV_TMP/flood.out")
	refused=$(delta "$before" "$after" conns_refused_addr)
	accepted=$((opened - refused))
	closed=$(($(delta "$before" "$after" conns_closed_idle) + $(delta "$before" "$after" conns_closed_frame) +
		$(delta "$before" "$after" conns_closed_reply)))
	skv_info "flood: $total connections from $FA, $opened opened, $refused refused (per address), $accepted taken;" \
		"closed: idle $(delta "$before" "$after" conns_closed_idle)," \
		"frame $(delta "$before" "$after" conns_closed_frame), reply $(delta "$before" "$after" conns_closed_reply)"
	((refused > 0 && accepted >= PER_ADDR)) || { skv_fail "the per-address cap never refused"; return 1; }
	((closed >= accepted)) || { skv_fail "$accepted taken, only $closed closed by deadlines"; return 1; }
	(($(delta "$before" "$after" conns_closed_frame) >= FLOOD_SLOW_FRAME)) ||
		{ skv_fail "byte-at-a-time senders not closed by the frame deadline"; return 1; }
	(($(delta "$before" "$after" conns_closed_reply) == FLOOD_SLOW_READ)) ||
		{ skv_fail "slow readers not closed by the reply deadline"; return 1; }
	(($(delta "$before" "$after" conns_closed_idle) >= PER_ADDR - FLOOD_SLOW_FRAME - FLOOD_SLOW_READ)) ||
		{ skv_fail "idle connections not closed by the idle timeout"; return 1; }
}

# Over the client share, a connection may only authenticate as a peer: a
# PING gets BUSY and the connection closes; the connections inside it are
# served.  (Peer authentication itself is another change's: it calls
# skv_conn_peer_authenticated().)
t_peer_slots() {
	local before after
	slowwait "$SKV_WAIT" no_connections "$S" ||
		{ skv_fail "connections of the flood not all gone"; return 1; }
	param max_connections 8 && param peer_connections 4 &&
		param max_connections_per_addr 0 && param idle_timeout_s 10 || return 1
	before=$(stats "$S")
	# 7 idle from the attacker: 4 in the client share, 3 provisional; the
	# probe client from TA takes the 8th slot, provisional: BUSY.
	ip netns exec "$T" conn_flood flood "$SA:$PORT" "$FA" "$TA" 7 0 0 2 big-0 \
		"$SKV_TMP/share.ready" 120 >"$SKV_TMP/share.out"
	cat "$SKV_TMP/share.out"
	param max_connections "${SAVED[max_connections]}" && param peer_connections "${SAVED[peer_connections]}" &&
		param max_connections_per_addr $PER_ADDR && param idle_timeout_s $IDLE_S || return 1
	after=$(stats "$S")
	grep -q "probe clients served=0 failed=1" "$SKV_TMP/share.out" ||
		{ skv_fail "a client over the client share was served"; return 1; }
	skv_info "share: refused $(delta "$before" "$after" conns_refused_share)," \
		"closed idle $(delta "$before" "$after" conns_closed_idle), frame $(delta "$before" "$after" conns_closed_frame)"
	(($(delta "$before" "$after" conns_refused_share) == 1)) || { skv_fail "no BUSY over the client share"; return 1; }
	(($(delta "$before" "$after" conns_closed_frame) == 3)) ||
		{ skv_fail "provisional connections not closed by the frame deadline"; return 1; }
	(($(delta "$before" "$after" conns_closed_idle) == 4)) || { skv_fail "clients not closed by the idle timeout"; return 1; }
	tool "$T" check "$SA:$PORT" 2 $CLIENT_KEYS 100 cl || { skv_fail "not served after"; return 1; }
}

# kmem_kib: the guest's free memory in KiB (MemFree).
kmem_kib() {
	awk '/^MemFree:/ { print $2 }' /proc/meminfo
}

# tasks: how many tasks the guest runs, kernel threads included.
tasks() {
	find /proc -maxdepth 1 -name '[0-9]*' | wc -l
}

# 10,000 connections open at once from one client, every one served (a
# PUT each, then a GET on every one before any reply is read), with no
# thread of their own and a bounded cost each: a thread per connection
# cost its stack, task and buffers (more than MANY_KIB_MAX).
MANY=10000
MANY_KIB_MAX=24
t_many() {
	local pid mem0 mem1 tasks0 tasks1 conns kib
	slowwait "$SKV_WAIT" no_connections "$S" ||
		{ skv_fail "earlier connections not all gone"; return 1; }
	param max_connections $((MANY + 300)) && param max_connections_per_addr 0 || return 1
	mem0=$(kmem_kib)
	tasks0=$(tasks)
	rm -f "$SKV_TMP/many.ready" "$SKV_TMP/many.go"
	skv_bg ip netns exec "$T" conn_flood many "$SA:$PORT" $MANY 2 \
		"$SKV_TMP/many.ready" "$SKV_TMP/many.go" 900 >"$SKV_TMP/many.out"
	pid=$SKV_LAST_PID
	skv_wait_file "$SKV_TMP/many.ready" 900 || { skv_fail "the connections never got in place"; return 1; }
	mem1=$(kmem_kib)
	tasks1=$(tasks)
	conns=$(stats "$S" | jq -r .connections)
	touch "$SKV_TMP/many.go"
	# Stretched on the debug kernel: 10,000 round trips took over 120 s there.
	skv_wait_exit "$pid" $((120 * SKV_TIME_SCALE)) ||
		{ cat "$SKV_TMP/many.out"; skv_fail "a connection was not served"; return 1; }
	cat "$SKV_TMP/many.out"
	param max_connections "${SAVED[max_connections]}" && param max_connections_per_addr $PER_ADDR || return 1
	kib=$(((mem0 - mem1) / MANY))
	skv_info "$MANY connections open: node connections $conns, memory $(((mem0 - mem1) / 1024)) MiB" \
		"($kib KiB a connection, both ends, client included), tasks $tasks0 -> $tasks1"
	((conns >= MANY)) || { skv_fail "the node holds $conns connections, want $MANY"; return 1; }
	((tasks1 - tasks0 < MANY / 10)) || { skv_fail "a task per connection ($tasks0 -> $tasks1)"; return 1; }
	((kib <= MANY_KIB_MAX)) || { skv_fail "$kib KiB a connection, more than $MANY_KIB_MAX"; return 1; }
	slowwait "$SKV_WAIT" no_connections "$S" || { skv_fail "closed connections not all gone"; return 1; }
}

# PREPARE of many single hashes: each splits the tablet twice; past
# max_tablets the source answers NO_SPACE, and still serves.
t_prepare_flood() {
	local st n
	param max_tablets $MAX_TABLETS || return 1
	setup_ns P || { skv_fail "setup_ns"; return 1; }
	skv_node_start "$P" 127.0.0.1 $PORT 1 || return 1
	param max_tablets "${SAVED[max_tablets]}" || return 1
	tool "$P" fill 127.0.0.1:$PORT 1 200 100 p || { skv_fail "fill"; return 1; }
	ip netns exec "$P" conn_flood prepare 127.0.0.1:$PORT 1 10000 ||
		{ skv_fail "the PREPARE flood was not refused at max_tablets"; return 1; }
	st=$(stats "$P")
	n=$(ip netns exec "$P" steadykvctl -j tablet list | jq length)
	skv_info "tablets $n, max_tablets $(jq -r .max_tablets <<<"$st"), map bytes $(jq -r .mem_tablets <<<"$st")"
	((n == MAX_TABLETS)) || { skv_fail "$n tablets, want $MAX_TABLETS"; return 1; }
	tool "$P" check 127.0.0.1:$PORT 1 200 100 p || { skv_fail "data lost"; return 1; }
}

# A node's connection buffers are held to conn_buffers_mb in total:
# BUDGET_N connections, each sending BUDGET_BYTES of a frame too large to
# finish, want more than that; the node closes those whose buffers would
# pass it (conns-closed-buffers: as many as the attacker saw closed), holds
# no more than it (conn-buffers) while the others wait for the rest of
# their frames, gives it all back once they close, and serves a large
# PUT afterwards.
# Each holds a 256 KiB buffer for its 200 KiB (a frame is at most
# SKV_MAX_BODY_LEN, 263 KiB) and its first 4 KiB one for replies: 32 of
# them want twice the budget.
BUDGET_MB=4
BUDGET_N=32
BUDGET_BYTES=$((200 * 1024))
BUDGET_HELD=$(((256 + 4) * 1024))

# budget_settled BEFORE: every connection of the partial flood is either
# closed for the budget (and gone) or open holding all its bytes.
budget_settled() {
	local now closed open
	now=$(stats "$S")
	closed=$(delta "$1" "$now" conns_closed_buffers)
	open=$(jq -r .connections <<<"$now")
	((closed >= 1 && closed + open == BUDGET_N &&
		$(jq -r .conn_buffers <<<"$now") == open * BUDGET_HELD))
}

t_buffer_budget() {
	local before during after pid seen closed big out
	slowwait "$SKV_WAIT" no_connections "$S" ||
		{ skv_fail "earlier connections not all gone"; return 1; }
	param conn_buffers_mb $BUDGET_MB && param frame_timeout_s 600 || return 1
	before=$(stats "$S")
	rm -f "$SKV_TMP/partial.ready" "$SKV_TMP/partial.go"
	skv_bg ip netns exec "$T" conn_flood partial "$SA:$PORT" $BUDGET_N $BUDGET_BYTES \
		"$SKV_TMP/partial.ready" "$SKV_TMP/partial.go" 600 >"$SKV_TMP/partial.out"
	pid=$SKV_LAST_PID
	skv_wait_file "$SKV_TMP/partial.ready" 600 || { skv_fail "the partial frames were never sent"; return 1; }
	slowwait "$SKV_WAIT" budget_settled "$before" ||
		{ skv_fail "not settled: closed for the budget $(delta "$before" "$(stats "$S")" conns_closed_buffers)," \
			"open $(stats "$S" | jq .connections), buffers $(stats "$S" | jq .conn_buffers)"; return 1; }
	during=$(stats "$S")
	touch "$SKV_TMP/partial.go"
	skv_wait_exit "$pid" "$SKV_WAIT" || { skv_fail "conn_flood partial did not end"; return 1; }
	cat "$SKV_TMP/partial.out"
	param frame_timeout_s $FRAME_S && param conn_buffers_mb "${SAVED[conn_buffers_mb]}" || return 1
	closed=$(delta "$before" "$during" conns_closed_buffers)
	seen=$(sed -n 's/.*closed_by_node=\([0-9]*\).*/\1/p' "$SKV_TMP/partial.out")
	skv_info "$BUDGET_N connections of $((BUDGET_BYTES / 1024)) KiB each against $BUDGET_MB MiB:" \
		"$closed closed for it ($seen seen by the client), $(jq .connections <<<"$during") held" \
		"$(($(jq .conn_buffers <<<"$during") / 1024)) KiB"
	(($(jq .conn_buffers <<<"$during") <= BUDGET_MB << 20)) ||
		{ skv_fail "buffers $(jq .conn_buffers <<<"$during") over $BUDGET_MB MiB"; return 1; }
	[[ $seen == "$closed" ]] || { skv_fail "the client saw $seen closed, the node counted $closed"; return 1; }
	slowwait "$SKV_WAIT" no_connections "$S" || { skv_fail "connections not all gone"; return 1; }
	after=$(stats "$S")
	(($(jq .conn_buffers <<<"$after") == 0)) ||
		{ skv_fail "buffers not given back: $(jq .conn_buffers <<<"$after") with no connection"; return 1; }
	big=$(head -c 100000 /dev/zero | tr '\0' b)
	out=$(tool "$T" put "$SA:$PORT" 2 budget-big "$big")
	[[ $out == "OK "* ]] || { skv_fail "a 100 KB PUT after the flood: $out"; return 1; }
}

# parts_add_up JSON: mem-used is the sum of the parts, within the limit.
parts_add_up() {
	skv_info "mem_used $(jq .mem_used <<<"$1") = log $(jq .mem_log <<<"$1") + side logs" \
		"$(jq .mem_side_logs <<<"$1") + index $(jq .mem_index <<<"$1") + tablets $(jq .mem_tablets <<<"$1")"
	(($(jq '.mem_log + .mem_side_logs + .mem_index + .mem_tablets - .mem_used' <<<"$1") == 0)) ||
		{ skv_fail "memory parts do not add up"; return 1; }
	(($(jq '.mem_limit - .mem_used' <<<"$1") >= 0)) || { skv_fail "over the limit"; return 1; }
}

# node show's memory parts add up, and grow with the data written.
t_memory_parts() {
	local a b
	a=$(stats "$S")
	parts_add_up "$a" || return 1
	tool "$T" fill "$SA:$PORT" 2 5000 1000 m || { skv_fail "fill"; return 1; }
	b=$(stats "$S")
	parts_add_up "$b" || return 1
	(($(delta "$a" "$b" mem_index) >= 5000 * 30)) || { skv_fail "index entries not counted"; return 1; }
	(($(delta "$a" "$b" mem_log) > 0)) || { skv_fail "log did not grow"; return 1; }
}

skv_test "setup: two nodes, an attacker beside the target" setup || { params_restore; skv_finish; }
skv_test "10,000 connections from one address: clients served, migration done, deadlines close them" t_flood
skv_test "over the client share: BUSY, slots kept for peers" t_peer_slots
skv_test "10,000 connections at once, each served, no thread each, bounded memory" t_many
skv_test "PREPARE flood of single hashes refused past max_tablets" t_prepare_flood
skv_test "node show: memory parts add up and grow with data" t_memory_parts
skv_test "connection buffers held to conn_buffers_mb: past it, connections closed" t_buffer_budget
params_restore
skv_finish
