#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Crash recovery (issue 12 item 4).  By hand: a node rebuilds a tablet of a
# primary it backs up from its replica (steadykvctl repl recover): every
# acknowledged write is read back at its version, a delete stays deleted,
# the version counter is raised past the replayed versions, a stale epoch,
# an unknown primary and an overlapping range are refused with an extack
# message, and repeating it is harmless; a range that left the primary
# (tablet or table deleted) and came back does not bring back its keys
# from before.
# Under the coordinator (--replicas 2): a node killed for real (its daemon
# killed, its namespace deleted) is declared dead, its three tablets are
# recovered on its two backups, and every write it acknowledged is read
# back from the survivors through the coordinator's map (also when it
# comes back faster than its silence is noticed); recorded clients
# before the crash pass the checker; the survivors, whose other backup C
# was, still hold each other's older records, and the tablets each
# recovered (re-replicated before they are served).  Prints the recovery
# time and rate.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
NET=10.99.0
COORD=$NET.254:7100
# Keys per C-only table and their value size (a replica of about 4 MB).
FILL_KEYS=2000
FILL_SIZE=1000
# Keys of table 1 written one by one through the map.
MAP_KEYS=30
declare -A IP ID NODE_PID

ctl() { skv_in "$SW" steadykvctl cluster -c "$COORD" "$@"; }
ctlj() { skv_in "$SW" steadykvctl -j cluster -c "$COORD" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# addrs_of TABLE MAP HASH...: for each hash, the ADDR:PORT of the node
# owning it in MAP (the coordinator's map, JSON), a line each.
addrs_of() {
	local t=$1 map=$2
	shift 2
	jq -r --argjson t "$t" '. as $m | $ARGS.positional[] as $h |
		[$m.tablets[] | select(.table == $t and .start <= $h and $h <= .end)][0].owner as $o |
		$m.nodes[] | select(.id == $o) | .addr' --args "$@" <<<"$map"
}

# pair_by_hand NET: P (primary id 1, NET.1) replicates to Q (NET.2; R = 1,
# by hand); table 5 is on P, table 6 on Q.
pair_by_hand() {
	setup_ns P Q || { skv_fail "setup_ns"; return 1; }
	IP[P]=$1.1
	IP[Q]=$1.2
	skv_veth "$P" eth0 "${IP[P]}/24" "$Q" eth0 "${IP[Q]}/24" || { skv_fail "veth"; return 1; }
	skv_node_start "$P" "${IP[P]}" $PORT 5 || return 1
	skv_node_start "$Q" "${IP[Q]}" $PORT 6 || return 1
	skv_ctl "$P" repl set 1 1 "${IP[Q]}:$PORT" || { skv_fail "repl set at P"; return 1; }
	slowwait "$SKV_WAIT" bash -c "ip netns exec $P steadykvctl -j repl show | jq -e '.healthy == 1'" \
		>/dev/null || { skv_fail "P's replication not healthy"; return 1; }
}

# P replicates to Q by hand (pair_by_hand).
t_by_hand() {
	local i out top ver
	declare -A want
	pair_by_hand 10.98.0 || return 1
	for i in $(seq 1 20); do
		out=$(tool "$P" put "${IP[P]}:$PORT" 5 "k-$i" "v-$i") || { skv_fail "put k-$i"; return 1; }
		[[ $out == "OK "* ]] || { skv_fail "put k-$i: $out"; return 1; }
		want[k-$i]="OK ${out#OK } v-$i"
	done
	out=$(tool "$P" put "${IP[P]}:$PORT" 5 k-5 v-5b)
	[[ $out == "OK "* ]] || { skv_fail "overwrite k-5: $out"; return 1; }
	want[k-5]="OK ${out#OK } v-5b"
	out=$(skv_ctl "$P" -j del "${IP[P]}:$PORT" 5 k-7) || { skv_fail "del k-7"; return 1; }
	want[k-7]=NOT_FOUND
	top=$(skv_ctl "$P" -j node show | jq -r .version)

	# The primary is fenced at its backup first, as the coordinator does.
	skv_ctl "$Q" repl fence 1 2 || { skv_fail "repl fence"; return 1; }
	cli_error_is "$Q" "Stale file handle" repl recover 1 1 5 min max || return 1
	cli_error_is "$Q" "No such file or directory" repl recover 9 2 5 min max || return 1
	cli_error_is "$Q" "File exists" repl recover 1 2 6 0 0x10 || return 1
	# A failed recovery leaves nothing behind: no table 5 at Q.
	skv_ctl "$Q" -j table list | jq -e 'map(select(.id == 5)) == []' >/dev/null ||
		{ skv_fail "table 5 at Q after failed recoveries: $(skv_ctl "$Q" -j table list)"; return 1; }

	out=$(skv_ctl "$Q" -j repl recover 1 2 5 min max) || { skv_fail "repl recover"; return 1; }
	skv_info "recovered: $out"
	jq -e '.records == 22 and .applied == 22 and .bytes > 0' <<<"$out" >/dev/null ||
		{ skv_fail "recover figures: $out"; return 1; }
	skv_ctl "$Q" -j tablet list | jq -e '[.[] | select(.table_id == 5)] |
		length == 1 and .[0].state == "normal"' >/dev/null ||
		{ skv_fail "Q's tablets: $(skv_ctl "$Q" -j tablet list)"; return 1; }
	for i in "${!want[@]}"; do
		out=$(tool "$Q" get "${IP[Q]}:$PORT" 5 "$i")
		[[ $out == "${want[$i]}" || ($i == k-7 && $out == "NOT_FOUND "*) ]] || { skv_fail "get $i at Q: '$out', want '${want[$i]}'"; return 1; }
	done
	# New writes at Q get versions past every replayed one.
	out=$(tool "$Q" put "${IP[Q]}:$PORT" 5 k-1 after)
	ver=${out#OK }
	if [[ $out != "OK "* ]] || ((ver <= top)); then
		skv_fail "put at Q after recovery: '$out', want a version past $top"
		return 1
	fi
	# Repeating it changes nothing.
	out=$(skv_ctl "$Q" -j repl recover 1 2 5 min max) || { skv_fail "repeated repl recover"; return 1; }
	out=$(tool "$Q" get "${IP[Q]}:$PORT" 5 k-1)
	[[ $out == "OK $ver after" ]] || { skv_fail "k-1 after a repeated recover: '$out'"; return 1; }
	# Another range of the table overlapping it: refused.
	cli_error_is "$Q" "File exists" repl recover 1 2 5 0 0x10 || return 1
}

# A range that left the primary (its tablet deleted, then its table) and
# came back: its keys from before are gone at the primary, and the
# recovery from its replica leaves them gone (the departure records in
# the stream); what the range holds since is rebuilt.
t_departed() {
	local out k
	pair_by_hand 10.97.0 || return 1
	for k in a b; do
		out=$(tool "$P" put "${IP[P]}:$PORT" 5 "$k" "$k-1")
		[[ $out == "OK "* ]] || { skv_fail "put $k: $out"; return 1; }
	done
	skv_ctl "$P" tablet del 5 min max || { skv_fail "tablet del at P"; return 1; }
	skv_ctl "$P" tablet add 5 min max || { skv_fail "tablet add at P"; return 1; }
	out=$(tool "$P" put "${IP[P]}:$PORT" 5 b b-2)
	[[ $out == "OK "* ]] || { skv_fail "put b again: $out"; return 1; }
	skv_ctl "$P" table del 5 || { skv_fail "table del at P"; return 1; }
	skv_ctl "$P" table add 5 || { skv_fail "table add at P"; return 1; }
	skv_ctl "$P" tablet add 5 min max || { skv_fail "tablet add at P, again"; return 1; }
	out=$(tool "$P" put "${IP[P]}:$PORT" 5 c c-1)
	[[ $out == "OK "* ]] || { skv_fail "put c: $out"; return 1; }
	local want_c="OK ${out#OK } c-1"
	for k in a b; do
		out=$(tool "$P" get "${IP[P]}:$PORT" 5 "$k")
		[[ $out == NOT_FOUND* ]] || { skv_fail "$k at P after the deletes: '$out'"; return 1; }
	done

	skv_ctl "$Q" repl fence 1 2 || { skv_fail "repl fence"; return 1; }
	out=$(skv_ctl "$Q" -j repl recover 1 2 5 min max) || { skv_fail "repl recover"; return 1; }
	skv_info "recovered: $out"
	jq -e '.applied == 1' <<<"$out" >/dev/null ||
		{ skv_fail "recover replayed other than c alone: $out"; return 1; }
	for k in a b; do
		out=$(tool "$Q" get "${IP[Q]}:$PORT" 5 "$k")
		[[ $out == NOT_FOUND* ]] || { skv_fail "$k came back at Q: '$out'"; return 1; }
	done
	out=$(tool "$Q" get "${IP[Q]}:$PORT" 5 c)
	[[ $out == "$want_c" ]] || { skv_fail "c at Q: '$out', want '$want_c'"; return 1; }
}

# repl_whole NS PRIMARY: NS's replica of PRIMARY (id) is whole.
repl_whole() {
	skv_ctl "$1" -j repl replicas |
		jq -e --argjson p "$2" '.[] | select(.primary_id == $p) | .replica_whole == 1' >/dev/null
}

# replica_made_after NS PRIMARY POS: NS holds a replica of PRIMARY (id)
# that starts past POS.
replica_made_after() {
	skv_ctl "$1" -j repl replicas |
		jq -e --argjson p "$2" --argjson pos "$3" \
			'.[] | select(.primary_id == $p) | .replica_base > $pos' >/dev/null
}

# A backup given to a primary after its older writes gets them too: the
# primary re-replicates its store to it, and the replica says when it is
# whole; recovery there rebuilds every key.  A new backup that cannot have
# them (its stream's other backup never opens, so the copy is never held)
# is refused for recovery, with the reason.
t_new_backup() {
	local out ver
	setup_ns BR P Q S || { skv_fail "setup_ns"; return 1; }
	skv_bridge "$BR" 10.95.0 P Q S || return 1
	skv_node_start "$P" "${IP[P]}" $PORT 5 || return 1
	skv_node_start "$Q" "${IP[Q]}" $PORT 6 || return 1
	skv_node_start "$S" "${IP[S]}" $PORT 7 || return 1
	skv_ctl "$P" repl set 1 1 "${IP[Q]}:$PORT" || { skv_fail "repl set P -> Q"; return 1; }
	slowwait "$SKV_WAIT" repl_whole "$Q" 1 ||
		{ skv_fail "Q's replica of P not whole: $(skv_ctl "$Q" -j repl replicas)"; return 1; }
	tool "$P" fill "${IP[P]}:$PORT" 5 300 100 old ||
		{ skv_fail "fill at P"; return 1; }
	# S replaces Q: it holds none of P's older records until P copies them.
	skv_ctl "$P" repl set 1 2 "${IP[S]}:$PORT" || { skv_fail "repl set P -> S"; return 1; }
	slowwait "$SKV_WAIT" repl_whole "$S" 1 ||
		{ skv_fail "S's replica of P not whole: $(skv_ctl "$S" -j repl replicas)"; return 1; }
	skv_ctl "$P" -j repl show | jq -e '.whole == 1 and .resync_bytes > 30000' >/dev/null ||
		{ skv_fail "P's re-replication: $(skv_ctl "$P" -j repl show)"; return 1; }
	out=$(tool "$P" put "${IP[P]}:$PORT" 5 late v-late)
	[[ $out == "OK "* ]] || { skv_fail "put at P after the set change: $out"; return 1; }
	ver=${out#OK }
	skv_ctl "$S" repl fence 1 3 || { skv_fail "repl fence at S"; return 1; }
	out=$(skv_ctl "$S" -j repl recover 1 3 5 min max) || { skv_fail "repl recover at S"; return 1; }
	skv_info "recovered at S: $out"
	tool "$S" check "${IP[S]}:$PORT" 5 300 100 old ||
		{ skv_fail "P's older keys not all rebuilt at S"; return 1; }
	out=$(tool "$S" get "${IP[S]}:$PORT" 5 late)
	[[ $out == "OK $ver v-late" ]] || { skv_fail "late at S: '$out', want 'OK $ver v-late'"; return 1; }

	# Q again, beside a backup that never answers: Q's replica is made
	# afresh and the copy is never held by both, so Q is never whole.
	skv_ctl "$P" repl set 1 4 "${IP[Q]}:$PORT" "10.95.0.9:$PORT" ||
		{ skv_fail "repl set P -> Q, nobody"; return 1; }
	slowwait "$SKV_WAIT" replica_made_after "$Q" 1 0 ||
		{ skv_fail "P did not open a new replica at Q: $(skv_ctl "$Q" -j repl replicas)"; return 1; }
	if repl_whole "$Q" 1; then
		skv_fail "Q's new replica whole without P's older records: $(skv_ctl "$Q" -j repl replicas)"
		return 1
	fi
	skv_ctl "$Q" repl fence 1 5 || { skv_fail "repl fence at Q"; return 1; }
	cli_error_is "$Q" "Resource temporarily unavailable" repl recover 1 5 5 min max || return 1
	skv_ctl "$Q" -j table list | jq -e 'map(select(.id == 5)) == []' >/dev/null ||
		{ skv_fail "table 5 at Q after a refused recovery: $(skv_ctl "$Q" -j table list)"; return 1; }
}

# Three nodes on a bridge under a coordinator that declares a node dead
# after 3 s of silence (times the debug kernel's slowness: a starved
# survivor declared dead is not what this tests); table 1 over every
# node, tables 2 and 3 on C alone.
setup_cluster() {
	local n
	setup_ns SW A B C || { skv_fail "setup_ns"; return 1; }
	skv_bridge "$SW" "$NET" A B C || return 1
	skv_bg ip netns exec "$SW" steadykvd --coordinator --listen "$COORD" \
		--state "$SKV_TMP/coord.state" --replicas 2 \
		--dead-after-ms $((${DEAD_AFTER_MS:-3000} * SKV_TIME_SCALE)) \
		2>"$SKV_TMP/coord.log"
	slowwait "$SKV_WAIT" ctl map >/dev/null 2>&1 ||
		{ skv_fail "coordinator does not answer"; return 1; }
	for n in A B C; do
		skv_bg ip netns exec "${!n}" steadykvd --node "${ID[$n]}" \
			--data "${IP[$n]}:$PORT" --coord "$COORD" 2>"$SKV_TMP/node-$n.log"
		NODE_PID[$n]=$SKV_LAST_PID
	done
	skv_cluster_ready "$SW" "$COORD" $PORT A B C || return 1
	ctl create-table 1 || { skv_fail "create-table 1"; return 1; }
	ctl create-table 2 --nodes "${ID[C]}" || { skv_fail "create-table 2"; return 1; }
	ctl create-table 3 --nodes "${ID[C]}" || { skv_fail "create-table 3"; return 1; }
	skv_repl_ready 2 A B C
}

# recovered: C is dead, owns nothing, and nothing is lost.
recovered() {
	recovered_node C
}

# owns_none NAME HEALTH: node NAME is HEALTH (dead, up) by the map, owns
# nothing, and nothing is lost.
owns_none() {
	ctlj map | jq -e --argjson c "${ID[$1]}" --arg h "$2" '
		(.nodes[] | select(.id == $c) | .health == $h) and
		([.tablets[] | select(.owner == $c or .lost)] | length == 0)' >/dev/null
}

# recovered_node NAME: node NAME is dead, owns nothing, and nothing is lost.
recovered_node() { owns_none "$1" dead; }

# crash NAME: node NAME's daemon killed and its namespace (node, module
# state) deleted; wait until its tablets are recovered.
crash() {
	kill "${NODE_PID[$1]}" && wait "${NODE_PID[$1]}" 2>/dev/null
	ip netns del "${!1}" || { skv_fail "ip netns del $1"; return 1; }
	slowwait "$SKV_WAIT" recovered_node "$1" ||
		{ skv_fail "$1's tablets not recovered: $(ctlj map | jq -c .tablets)"
		  sed 's/^/# coord: /' "$SKV_TMP/coord.log"; return 1; }
}

# restart NAME: node NAME comes back empty, in a new namespace on the
# bridge at its old address and MAC (the others' ARP caches stay right),
# under the same id.
restart() {
	local n=$1 mac
	mac=$(<"$SKV_TMP/mac-$n")
	setup_ns "$n" || { skv_fail "setup_ns $n"; return 1; }
	skv_veth "${!n}" eth0 "${IP[$n]}/24" "$SW" "sw2-$n" "" || { skv_fail "veth for $n"; return 1; }
	ip -n "${!n}" link set eth0 down
	ip -n "${!n}" link set eth0 address "$mac"
	ip -n "${!n}" link set eth0 up
	ip -n "$SW" link set "sw2-$n" master br0
	skv_bg ip netns exec "${!n}" steadykvd --node "${ID[$n]}" \
		--data "${IP[$n]}:$PORT" --coord "$COORD" 2>"$SKV_TMP/node-$n-2.log"
	NODE_PID[$n]=$SKV_LAST_PID
}

# replica_whole_of NS NAME: NS holds a whole replica of node NAME.
replica_whole_of() {
	skv_ctl "$1" -j repl replicas | jq -e --argjson p "${ID[$2]}" \
		'.[] | select(.primary_id == $p) | .replica_whole == 1' >/dev/null
}

# Two crashes one after the other: C dies and is recovered, comes back
# empty and is A's backup again, then A dies.  C's new replica of A holds
# A's older records only because A re-replicated its store to it; every
# acknowledged write of table 4 (on A alone) reads back after both.
t_two_crashes() {
	local out addr
	skv_teardown_cluster
	setup_cluster || return 1
	ctl create-table 4 --nodes "${ID[A]}" || { skv_fail "create-table 4"; return 1; }
	tool "$SW" fill "${IP[A]}:$PORT" 4 $FILL_KEYS $FILL_SIZE fill4 ||
		{ skv_fail "fill table 4 at A"; return 1; }
	ip -n "$C" -br link show eth0 | awk '{ print $3 }' >"$SKV_TMP/mac-C"
	crash C || return 1
	restart C || return 1
	slowwait "$SKV_WAIT" replica_whole_of "$C" A ||
		{ skv_fail "C's new replica of A never whole: $(skv_ctl "$C" -j repl replicas)," \
			"A: $(skv_ctl "$A" -j repl show)"; return 1; }
	out=$(skv_ctl "$A" -j repl show)
	skv_info "A after C came back: $out"
	jq -e --argjson min $((FILL_KEYS * FILL_SIZE)) '.whole == 1 and .resync_bytes >= $min' \
		<<<"$out" >/dev/null || { skv_fail "A's re-replication: $out"; return 1; }
	crash A || return 1
	addr=$(addrs_of 4 "$(ctlj map)" 0x0000000000000000)
	skv_info "table 4 recovered at $addr"
	tool "$SW" check "$addr" 4 $FILL_KEYS $FILL_SIZE fill4 ||
		{ skv_fail "table 4 at $addr after A's crash"; return 1; }
}

# c_tables_intact WHEN: tables 2 and 3 (filled at C) read back whole at
# their owners by the map.
c_tables_intact() {
	local t addr map
	map=$(ctlj map)
	for t in 2 3; do
		addr=$(addrs_of $t "$map" 0x0000000000000000)
		tool "$SW" check "$addr" $t $FILL_KEYS $FILL_SIZE "fill$t" ||
			{ skv_fail "table $t at $addr $1"; return 1; }
	done
}

# node_back_up NAME: node NAME is up again, owns nothing, nothing is lost.
node_back_up() { owns_none "$1" up; }

# A crashed node that reboots before its tablets are rebuilt: C dies while
# A and B cannot reach each other (netem), so neither can hand the range
# it rebuilt to its one backup, the other, and the recoveries wait.  C,
# back (empty) meanwhile, is refused by the coordinator and stays dead:
# registered, it would make its replicas afresh under the recoveries and,
# no longer dead, never have its tablets rebuilt.  Healed, the recoveries
# end, C registers, and every write C acknowledged reads back.
t_back_during_recovery() {
	local t
	skv_teardown_cluster
	setup_cluster || return 1
	for t in 2 3; do
		tool "$SW" fill "${IP[C]}:$PORT" $t $FILL_KEYS $FILL_SIZE "fill$t" ||
			{ skv_fail "fill table $t at C"; return 1; }
	done
	ip -n "$C" -br link show eth0 | awk '{ print $3 }' >"$SKV_TMP/mac-C"
	skv_cut_link "$A" eth0 "${IP[B]}" || return 1
	skv_cut_link "$B" eth0 "${IP[A]}" || return 1
	kill "${NODE_PID[C]}" && wait "${NODE_PID[C]}" 2>/dev/null
	ip netns del "$C" || { skv_fail "ip netns del C"; return 1; }
	slowwait "$SKV_WAIT" grep -q "recovery of table 2 .* of node ${ID[C]}: on node" \
		"$SKV_TMP/coord.log" || { skv_fail "no recovery of C's table 2 started"; return 1; }
	restart C || return 1
	slowwait "$SKV_WAIT" grep -q "coordinator refused the registration: .*being rebuilt" \
		"$SKV_TMP/node-C-2.log" ||
		{ skv_fail "C registered during the recoveries: $(tail -n 5 "$SKV_TMP/node-C-2.log")"
		  return 1; }
	ctlj map | jq -e --argjson c "${ID[C]}" '
		(.nodes[] | select(.id == $c) | .health == "dead") and
		([.tablets[] | select(.lost)] | length > 0)' >/dev/null ||
		{ skv_fail "C refused but not dead with tablets lost: $(ctlj map | jq -c .)"; return 1; }
	skv_fast_link "$A" eth0
	skv_fast_link "$B" eth0
	slowwait "$SKV_WAIT" node_back_up C ||
		{ skv_fail "C not back, or tablets lost: $(ctlj map | jq -c .)"
		  sed 's/^/# coord: /' "$SKV_TMP/coord.log"; return 1; }
	grep -h "refused\|recovered table" "$SKV_TMP/coord.log" | sed 's/^/# /'
	c_tables_intact "after C came back"
}

# A node whose module begins again faster than the coordinator would
# notice its silence (dead-after 10 minutes here): C's namespace deleted
# and made again at once, its daemon started.  C registers with another
# incarnation, so the coordinator takes it for dead at once and rebuilds
# its tablets on its backups before it takes it back, empty: every write
# C acknowledged reads back.
t_fast_restart() {
	local t
	skv_teardown_cluster
	DEAD_AFTER_MS=600000 setup_cluster || return 1
	for t in 2 3; do
		tool "$SW" fill "${IP[C]}:$PORT" $t $FILL_KEYS $FILL_SIZE "fill$t" ||
			{ skv_fail "fill table $t at C"; return 1; }
	done
	ip -n "$C" -br link show eth0 | awk '{ print $3 }' >"$SKV_TMP/mac-C"
	kill "${NODE_PID[C]}" && wait "${NODE_PID[C]}" 2>/dev/null
	ip netns del "$C" || { skv_fail "ip netns del C"; return 1; }
	restart C || return 1
	slowwait "$SKV_WAIT" node_back_up C ||
		{ skv_fail "C not back, or tablets lost: $(ctlj map | jq -c .)"
		  sed 's/^/# coord: /' "$SKV_TMP/coord.log"; return 1; }
	grep -q "node ${ID[C]} declared dead: back as a new incarnation" "$SKV_TMP/coord.log" ||
		{ skv_fail "C not declared dead for its new incarnation"
		  sed 's/^/# coord: /' "$SKV_TMP/coord.log"; return 1; }
	grep -h "declared dead\|refused\|recovered table" "$SKV_TMP/coord.log" | sed 's/^/# /'
	c_tables_intact "after C began again"
}

# replica_span NS NAME: "BASE END" of the replica of node NAME held in NS.
replica_span() {
	skv_ctl "$1" -j repl replicas | jq -r --argjson p "${ID[$2]}" \
		'.[] | select(.primary_id == $p) | "\(.replica_base) \(.replica_end)"'
}

t_crash() {
	local t out addr map t0 t1 t2 bytes rc
	local before_ab before_ba pair holder primary base end nbase nend
	setup_cluster || return 1
	# Recorded clients over table 1 (routed by the map) pass the checker.
	ip netns exec "$SW" skv-history --coord "$COORD" --table 1 --keys 100 \
		--clients 4 --seconds 8 --min-ops 200 >"$SKV_TMP/history" 2>&1
	rc=$?
	skv_history_report "$SKV_TMP/history"
	((rc == 0)) || { skv_fail "skv-history exited $rc"; return 1; }
	# Acknowledged writes: tables 2 and 3 in bulk at C, table 1 key by key
	# over every node.
	for t in 2 3; do
		tool "$SW" fill "${IP[C]}:$PORT" $t $FILL_KEYS $FILL_SIZE "fill$t" ||
			{ skv_fail "fill table $t at C"; return 1; }
	done
	# Routed by the map, one process: "crash-i OK VERSION" for each key.
	tool "$SW" cluster-put "$COORD" 1 crash $MAP_KEYS >"$SKV_TMP/acked" || {
		skv_fail "routed PUTs to table 1 not all acknowledged:" \
			"$(grep -v ' OK ' "$SKV_TMP/acked" | head -n 3 | tr '\n' ' ')"
		return 1
	}
	out=$(skv_ctl "$A" -j repl replicas | jq --argjson p "${ID[C]}" '.[] | select(.primary_id == $p)')
	bytes=$(jq -r '.replica_end - .replica_base' <<<"$out")
	skv_info "A's replica of C: $out"
	before_ab=$(replica_span "$A" B)
	before_ba=$(replica_span "$B" A)

	# C crashes: its daemon killed, its namespace (node, module state) deleted.
	t0=$(now_ms)
	kill "${NODE_PID[C]}" && wait "${NODE_PID[C]}" 2>/dev/null
	ip netns del "$C" || { skv_fail "ip netns del C"; return 1; }
	slowwait "$SKV_WAIT" bash -c "ip netns exec $SW steadykvctl -j cluster -c $COORD map |
		jq -e '.nodes[] | select(.id == ${ID[C]}) | .health == \"dead\"'" >/dev/null ||
		{ skv_fail "C never declared dead"; return 1; }
	t1=$(now_ms)
	slowwait "$SKV_WAIT" recovered ||
		{ skv_fail "C's tablets not recovered: $(ctlj map | jq -c .tablets)"
		  sed 's/^/# coord: /' "$SKV_TMP/coord.log"
		  tail -n 40 "$SKV_TMP"/node-[AB].log | sed 's/^/# /'; return 1; }
	t2=$(now_ms)
	ctlj map | jq -c '[.tablets[] | {table, start, owner}]' | sed 's/^/# map: /'
	grep -h "recovered table" "$SKV_TMP"/node-[AB].log | sed 's/^/# /'
	echo "# recovery: ${bytes} bytes of replica; declared dead $((t1 - t0)) ms after the kill," \
	     "tablets served $((t2 - t1)) ms later" \
	     "($(awk -v b="$bytes" -v ms=$((t2 - t1)) 'BEGIN { printf "%.1f", ms ? b / ms / 1000 : 0 }') MB/s" \
	     "of replica over the map's poll)"
	# The two C-only tables went to different backups (in parallel).
	[[ $(ctlj map | jq '[.tablets[] | select(.table == 2 or .table == 3) | .owner] | unique | length') == 2 ]] ||
		{ skv_fail "tables 2 and 3 not split over both backups"; return 1; }
	# A and B lost their other backup (C): each keeps the other's older
	# records, its replica going on from where it was; and each holds
	# the C-only table the other recovered (re-replicated: back to two
	# copies), a FILL_KEYS x FILL_SIZE of values at least.
	for pair in "A B $before_ab" "B A $before_ba"; do
		read -r holder primary base end <<<"$pair"
		read -r nbase nend <<<"$(replica_span "${!holder}" "$primary")"
		skv_info "$holder's replica of $primary: [$base, $end) before, [$nbase, $nend) after"
		((nbase == base && nend >= end)) || { skv_fail "$holder's replica of" \
			"$primary: [$nbase, $nend) after C died, [$base, $end) before"; return 1; }
		((nend - end >= FILL_KEYS * FILL_SIZE)) || { skv_fail "$holder's replica of" \
			"$primary grew by $((nend - end)) bytes: the recovered table is not in it"; return 1; }
	done

	# Every acknowledged write, read back from the survivors by the map.
	c_tables_intact "after recovery" || return 1
	# Each routed key reads back at the version and value acknowledged.
	tool "$SW" cluster-get "$COORD" 1 crash $MAP_KEYS >"$SKV_TMP/read" ||
		{ skv_fail "routed GETs of table 1 after recovery: $(head -n 3 "$SKV_TMP/read")"; return 1; }
	out=$(awk '{ i = $1; sub(/^crash-/, "", i); print $0, "value-" i }' "$SKV_TMP/acked" |
		diff - "$SKV_TMP/read") ||
		{ skv_fail "table 1 after recovery (acknowledged < > read): $(head -n 6 <<<"$out" | tr '\n' ' ')"; return 1; }
}

ktap_print_header
skv_test "repl recover by hand: a tablet rebuilt from a replica" t_by_hand
skv_test "a new backup gets the older records; one without them is refused" t_new_backup
skv_test "a range that left and came back: its older keys stay deleted" t_departed
skv_test "a node killed: its tablets recovered on its backups, nothing acknowledged lost" t_crash
skv_test "two crashes in turn: the first node back, then its primary: nothing lost" t_two_crashes
skv_test "a node back before its tablets are rebuilt waits for them: nothing lost" t_back_during_recovery
skv_test "a node that began again before it was missed: its tablets rebuilt, nothing lost" t_fast_restart
skv_finish
