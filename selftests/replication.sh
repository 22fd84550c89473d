#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replication (issue 12 item 2, and fencing at backups): three nodes in
# namespaces on a bridge under a coordinator and node daemons, each node
# replicating its log to the other two (steadykvd --coordinator
# --replicas 2 assigns the backups, the node daemons set them).  Acknowledged writes are in both backups' replicas (read back with
# REPL_READ); a read does not show a write before its backups hold it,
# nor one given up unheld (it stays applied) until they catch up, also
# across a change of the set of backups, which keeps a lagging backup's
# replica, nor one whose record found no memory until a copy of the store
# holds it (the module's fault points: debug kernels only); an
# unauthenticated connection gets AUTH_REQUIRED for every
# replication op; recorded clients (skv-history) pass the checker; a fence
# makes a backup refuse the old epoch, so the primary's writes fail and
# none is acknowledged; replicas are bounded (BACKUP_FULL) and a write past
# the bound is never acknowledged; a node cut off from the coordinator is
# declared dead and fenced at its backups by the coordinator; a backup
# whose namespace is deleted stops its primaries' writes until it is
# declared dead, and then they go on with the live node.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
NET=10.97.0
COORD=$NET.254:7100
PARAMS=/sys/module/steadykv/parameters
declare -A IP ID EPOCH NODE_PID

ctl() { skv_in "$SW" steadykvctl cluster -c "$COORD" "$@"; }
ctlj() { skv_in "$SW" steadykvctl -j cluster -c "$COORD" "$@"; }
# repl_json NODE: NODE's replication state as a primary.
repl_json() { skv_ctl "${!1}" -j repl show; }
# replica_json NODE PRIMARY: NODE's replica of PRIMARY (node name).
replica_json() {
	skv_ctl "${!1}" -j repl replicas | jq --argjson p "${ID[$2]}" '.[] | select(.primary_id == $p)'
}

# backups_of NODE: the other two nodes, in a fixed order.
backups_of() {
	case $1 in
	A) echo B C ;;
	B) echo C A ;;
	C) echo A B ;;
	esac
}

# healthy NODE: NODE replicates to its two backups, every one caught up.
healthy() {
	local n=$1 addrs=() b
	for b in $(backups_of "$n"); do
		addrs+=("\"${IP[$b]}:$PORT\"")
	done
	slowwait "$SKV_WAIT" bash -c "ip netns exec ${!n} steadykvctl -j repl show |
		jq -e '.healthy == 1 and .backups == 2 and .backup == [$(IFS=,; echo "${addrs[*]}")]'" \
		>/dev/null || { skv_fail "$n's replication not healthy: $(repl_json "$n")"; return 1; }
}

# repl_set NODE: R = 2 at NODE by hand, with EPOCH[NODE].
repl_set() {
	local n=$1 b args=()
	for b in $(backups_of "$n"); do
		args+=("${IP[$b]}:$PORT")
	done
	skv_ctl "${!n}" repl set "${ID[$n]}" "${EPOCH[$n]}" "${args[@]}" ||
		{ skv_fail "repl set at $n"; return 1; }
	healthy "$n"
}

setup() {
	local n
	setup_ns SW A B C || { skv_fail "setup_ns"; return 1; }
	skv_bridge "$SW" $NET A B C || return 1
	skv_bg ip netns exec "$SW" steadykvd --coordinator --listen "$COORD" \
		--state "$SKV_TMP/coord.state" --replicas 2 -q
	slowwait "$SKV_WAIT" ctl map >/dev/null 2>&1 ||
		{ skv_fail "coordinator does not answer"; return 1; }
	for n in A B C; do
		skv_bg ip netns exec "${!n}" steadykvd --node "${ID[$n]}" \
			--data "${IP[$n]}:$PORT" --coord "$COORD"
		NODE_PID[$n]=$SKV_LAST_PID
	done
	skv_cluster_ready "$SW" "$COORD" $PORT A B C || return 1
	# Table 1 over every node (recorded clients); table 2 on A alone,
	# table 3 on C alone.
	ctl create-table 1 || { skv_fail "create-table 1"; return 1; }
	ctl create-table 2 --nodes "${ID[A]}" || { skv_fail "create-table 2"; return 1; }
	ctl create-table 3 --nodes "${ID[C]}" || { skv_fail "create-table 3"; return 1; }
	# The coordinator gave each node the next two by id as backups.
	for n in A B C; do
		healthy $n || return 1
		EPOCH[$n]=$(repl_json $n | jq -r .epoch)
		[[ $(repl_json $n | jq -r .primary_id) == "${ID[$n]}" ]] ||
			{ skv_fail "$n's primary id: $(repl_json $n)"; return 1; }
	done
}

# put NODE KEY VALUE [TABLE]: skv_tool's "STATUS VERSION", or "ERR" if the
# connection failed or closed before the reply.  TABLE: 2 (on A).
put() {
	skv_in "$SW" skv_tool put "${IP[$1]}:$PORT" "${4:-2}" "$2" "$3" 2>/dev/null ||
		echo ERR
}

# replica_records BACKUP PRIMARY: the records BACKUP holds of PRIMARY, read
# back with REPL_READ as a peer ("object|tombstone TABLE VERSION KEY").
replica_records() {
	local base
	base=$(replica_json "$1" "$2" | jq -r .replica_base) || return 1
	ip netns exec "$SW" repl_tool read "${IP[$1]}:$PORT" "$STEADYKV_CLUSTER_KEY" \
		"${ID[$2]}" "${EPOCH[$2]}" "$base"
}

# Every write A acknowledged is in B's and C's replicas, at its version.
t_acked_in_backups() {
	local i out b recs del
	declare -A want
	for i in $(seq 1 20); do
		out=$(put A "acked-$i" "value-$i")
		[[ $out == "OK "* ]] || { skv_fail "put acked-$i: $out"; return 1; }
		want[acked-$i]="object 2 ${out#OK }"
	done
	del=$(ip netns exec "$SW" steadykvctl -j del "${IP[A]}:$PORT" 2 acked-7) ||
		{ skv_fail "del acked-7"; return 1; }
	want[acked-7]="tombstone 2 $(jq -r .version <<<"$del")"
	for b in B C; do
		recs=$(replica_records "$b" A) || { skv_fail "REPL_READ at $b: $recs"; return 1; }
		for i in "${!want[@]}"; do
			grep -qx "${want[$i]} $i" <<<"$recs" ||
				{ skv_fail "$b's replica of A lacks '${want[$i]} $i'"; return 1; }
		done
		# node show counts the replicas in the memory limit.
		out=$(skv_ctl "${!b}" -j node show)
		jq -e '.mem_replicas > 0 and .mem_used >= .mem_replicas' <<<"$out" >/dev/null ||
			{ skv_fail "$b's node show: no replicas part: $out"; return 1; }
	done
	out=$(repl_json A)
	jq -e '.acked == .position and .position > 0' <<<"$out" >/dev/null ||
		{ skv_fail "A's acked position is not its position: $out"; return 1; }
}

# Replication ops need an authenticated peer: AUTH_REQUIRED otherwise.
t_unauthenticated() {
	local op out
	for op in open write read; do
		out=$(ip netns exec "$SW" repl_tool op "${IP[B]}:$PORT" - $op "${ID[A]}" 1)
		[[ $out == AUTH_REQUIRED ]] ||
			{ skv_fail "unauthenticated REPL $op answered '$out'"; return 1; }
	done
	# Authenticated, for a primary it does not back up: NOT_BACKUP.
	out=$(ip netns exec "$SW" repl_tool op "${IP[B]}:$PORT" "$STEADYKV_CLUSTER_KEY" write 99 1)
	[[ $out == NOT_BACKUP ]] || { skv_fail "write for primary 99 answered '$out'"; return 1; }
}

# Recorded clients over every node, R = 2: the history is linearizable.
t_history() {
	local out=$SKV_TMP/history rc
	ip netns exec "$SW" skv-history --coord "$COORD" --table 1 --keys 200 \
		--clients 4 --seconds 15 --min-ops 500 >"$out" 2>&1
	rc=$?
	skv_history_report "$out"
	((rc == 0)) || { skv_fail "skv-history exited $rc"; return 1; }
	jq -e '.healthy == 1' <<<"$(repl_json B)" >/dev/null ||
		{ skv_fail "B's replication is not healthy after the clients"; return 1; }
}

# A read never shows a write its backups do not hold yet (a crash of its
# node would take it back: the lab saw such a vanished write).  B's packets
# to A dropped: a PUT at A is applied, not acknowledged; a GET of its key on
# another connection does not answer with it while B's are dropped (the
# GET waits; the client gives up after 3 s); healed, both have it.
read_waits() {
	local out pid
	out=$(put A seen v1)
	[[ $out == "OK "* ]] || { skv_fail "put seen v1: $out"; return 1; }
	modprobe sch_netem 2>/dev/null
	ip netns exec "$B" bash -c "$(skv_netem_script eth0 "${IP[A]}" loss 100%)" ||
		{ skv_fail "netem at B"; return 1; }
	put A seen v2 >"$SKV_TMP/put-seen" &
	pid=$!
	# Applied and queued at A, not held: its position past the backups'.
	slowwait "$SKV_WAIT" bash -c "ip netns exec $A steadykvctl -j repl show |
		jq -e '.position > .acked'" >/dev/null ||
		{ skv_fail "the put never queued at A: $(repl_json A)"; return 1; }
	out=$(ip netns exec "$SW" timeout 3 skv_tool get "${IP[A]}:$PORT" 2 seen 2>&1)
	skv_info "GET while B's acknowledgements are dropped: '$out'"
	[[ $out == *" v2" ]] && { skv_fail "a GET showed a write no backup acknowledged: $out"; return 1; }
	ip netns exec "$B" bash -c "$(skv_netem_script eth0 heal)"
	wait "$pid"
	out=$(<"$SKV_TMP/put-seen")
	[[ $out == "OK "* ]] || { skv_fail "put seen v2 once healed: $out"; return 1; }
	out=$(ip netns exec "$SW" skv_tool get "${IP[A]}:$PORT" 2 seen)
	[[ $out == "OK "*" v2" ]] || { skv_fail "GET once healed: $out"; return 1; }
}

# read_waits with repl_timeout_ms at 60 s meanwhile (the PUT must wait).
t_read_waits_for_backups() {
	local old rc
	old=$(cat $PARAMS/repl_timeout_ms)
	echo 60000 >$PARAMS/repl_timeout_ms
	read_waits
	rc=$?
	ip netns exec "$B" bash -c "$(skv_netem_script eth0 heal)"
	echo "$old" >$PARAMS/repl_timeout_ms
	((rc)) && return $rc
	healthy A
}

# given_up_not_read KEY NS DST [STEP...]: KEY at v1 on A; with
# repl_timeout_ms at 1 s and NS's packets to DST dropped, a PUT of v2 at A
# is given up (its connection closes); STEP, if given, runs; a GET of KEY
# on another connection does not answer with v2 (the client gives up
# after 3 s); healed, the backups catch up and the GET shows it; A is
# healthy again.
given_up_not_read() {
	local key=$1 ns=$2 dst=$3 old out rc=0
	shift 3
	out=$(put A "$key" v1)
	[[ $out == "OK "* ]] || { skv_fail "put $key v1: $out"; return 1; }
	old=$(cat $PARAMS/repl_timeout_ms)
	echo 1000 >$PARAMS/repl_timeout_ms
	modprobe sch_netem 2>/dev/null
	ip netns exec "$ns" bash -c "$(skv_netem_script eth0 "$dst" loss 100%)" ||
		{ skv_fail "netem at $ns"; rc=1; }
	if ((!rc)); then
		out=$(put A "$key" v2)
		skv_info "PUT while $ns's packets to $dst are dropped: '$out'"
		[[ $out == "OK "* ]] && { skv_fail "a PUT no backup held was acknowledged: $out"; rc=1; }
	fi
	if ((!rc && $#)); then
		"$@" || rc=1
	fi
	if ((!rc)); then
		out=$(ip netns exec "$SW" timeout 3 skv_tool get "${IP[A]}:$PORT" 2 "$key" 2>&1)
		skv_info "GET after the PUT was given up${1:+ and $1}: '$out'"
		[[ $out == *" v2" ]] && { skv_fail "GET after the PUT was given up: '$out'"; rc=1; }
	fi
	ip netns exec "$ns" bash -c "$(skv_netem_script eth0 heal)"
	if ((!rc)); then
		slowwait "$SKV_WAIT" bash -c "ip netns exec $SW skv_tool get ${IP[A]}:$PORT 2 $key 2>/dev/null |
			grep -q ' v2\$'" ||
			{ skv_fail "GET once healed: $(ip netns exec "$SW" skv_tool get "${IP[A]}:$PORT" 2 "$key" 2>&1)"; rc=1; }
	fi
	echo "$old" >$PARAMS/repl_timeout_ms
	((rc)) && return $rc
	healthy A
}

# A write given up before its backups held it stays applied at its node;
# no read returns it until they do (the lab saw a read return one, and
# then recovery from the backups bring back the older version): B's
# packets to A (its acknowledgements) dropped.
t_read_waits_after_give_up() {
	given_up_not_read limbo "$B" "${IP[A]}"
}

# new_epoch_at_A: repl set at A with a new epoch and the same backups.
new_epoch_at_A() {
	EPOCH[A]=$((EPOCH[A] + 1))
	skv_ctl "$A" repl set "${ID[A]}" "${EPOCH[A]}" "${IP[B]}:$PORT" "${IP[C]}:$PORT" ||
		{ skv_fail "repl set at A"; return 1; }
}

# A new set of backups goes on from the old stream: a write given up
# unheld under the old set is not read until the new set holds it, and a
# backup of both that lagged keeps its replica (the lab saw a vanished
# write after a lagging backup's replica started again at a set change).
# A's packets to B dropped, so B lags; after the given-up PUT, repl set
# at A (a new epoch, the same backups); once healed B's replica holds the
# PUT beside a record acknowledged long before.
t_set_change_goes_on() {
	local out
	given_up_not_read setc "$A" "${IP[B]}" new_epoch_at_A || return 1
	out=$(replica_records B A) || { skv_fail "REPL_READ at B: $out"; return 1; }
	grep -q " acked-1\$" <<<"$out" ||
		{ skv_fail "B's replica of A lost acked-1 at the set change"; return 1; }
	[[ $(grep -c "^object 2 [0-9]* setc\$" <<<"$out") == 2 ]] ||
		{ skv_fail "B's replica of A: setc's records: $(grep ' setc$' <<<"$out" | tr '\n' ';')"; return 1; }
}

# A write whose record found no memory at A is applied but in no queue:
# its connection closes, and no read returns it before a copy of A's store
# (which that failure asks for) is held by both backups; then reads do.
# The module's fault points (debugfs steadykv_fail_repl_queue and _copy)
# fail the PUT's record, and every chunk of a copy until the test lets the
# copy go: debug kernels only (make check-debug), skipped elsewhere.
FAULTS=/sys/kernel/debug/steadykv_fail_repl

# fault_on POINT...: fail every call at each (queue, copy) until fault_off.
fault_on() {
	local p
	for p in "$@"; do
		echo -1 >"${FAULTS}_$p/times" && echo 1 >"${FAULTS}_$p/interval" &&
			echo 1 >"${FAULTS}_$p/verbose" && echo 100 >"${FAULTS}_$p/probability" ||
			{ skv_fail "fault point $p"; return 1; }
	done
}
fault_off() {
	local p
	for p in "$@"; do
		echo 0 >"${FAULTS}_$p/probability"
	done
}

# no_room_read KEY [STEP]: KEY at v1 on A; copies of A's store held back,
# a PUT of v2 finds no room in A's queue; STEP, if given, runs; a GET of
# KEY does not show v2 (the client gives up after 3 s); the copies let
# go, a GET shows v2 within the wait bound, and B's and C's replicas of A
# hold v2's version.
no_room_read() {
	local key=$1 out ver b
	out=$(put A "$key" v1)
	[[ $out == "OK "* ]] || { skv_fail "put $key v1: $out"; return 1; }
	fault_on copy queue || return 1
	out=$(put A "$key" v2)
	fault_off queue
	skv_info "PUT with no room in A's queue: '$out'"
	[[ $out == "OK "* ]] && { skv_fail "a PUT with no record was acknowledged: $out"; return 1; }
	if (($# > 1)); then
		"${@:2}" || return 1
	fi
	out=$(ip netns exec "$SW" timeout 3 skv_tool get "${IP[A]}:$PORT" 2 "$key" 2>&1)
	skv_info "GET while no copy of A's store can be held${2:+, after $2}: '$out'"
	[[ $out == *" v2" ]] && { skv_fail "a GET showed a write no backup holds: $out"; return 1; }
	fault_off copy
	slowwait "$SKV_WAIT" bash -c "ip netns exec $SW skv_tool get ${IP[A]}:$PORT 2 $key 2>/dev/null |
		grep -q ' v2\$'" ||
		{ skv_fail "no GET showed v2 once the copy could go: $(ip netns exec "$SW" skv_tool get "${IP[A]}:$PORT" 2 "$key" 2>&1)"; return 1; }
	out=$(ip netns exec "$SW" skv_tool get "${IP[A]}:$PORT" 2 "$key")
	ver=$(awk '{ print $2 }' <<<"$out")
	for b in B C; do
		out=$(replica_records $b A) || { skv_fail "REPL_READ at $b: $out"; return 1; }
		grep -q "^object 2 $ver $key\$" <<<"$out" ||
			{ skv_fail "a GET showed $key at $ver, which $b's replica of A lacks: $(grep " $key\$" <<<"$out" | tr '\n' ';')"; return 1; }
	done
}

t_no_room_held_by_copy() {
	local rc
	[[ -d ${FAULTS}_queue ]] || { skv_info "no ${FAULTS}_queue (CONFIG_FAULT_INJECTION_DEBUG_FS)"; return "${ksft_skip:?}"; }
	no_room_read noroom
	rc=$?
	fault_off copy queue
	((rc)) && return $rc
	healthy A
}

# The same, with a new set of the same backups before the read (review:
# the new stream let reads see such a write at once, held by no backup).
t_no_room_set_change() {
	local rc
	[[ -d ${FAULTS}_queue ]] || { skv_info "no ${FAULTS}_queue (CONFIG_FAULT_INJECTION_DEBUG_FS)"; return "${ksft_skip:?}"; }
	no_room_read noroom-setc new_epoch_at_A
	rc=$?
	fault_off copy queue
	((rc)) && return $rc
	healthy A
}

# puts_fail NODE PREFIX [TABLE]: put keys until one is refused (RETRY, or
# NOT_OWNER once the node's lease ended; within the wait bound); none may
# be acknowledged.  A put in flight when the backup
# went may see its connection closed (outcome unknown), never OK.
puts_fail() {
	local n=$1 p=$2 i out deadline=$((SECONDS + SKV_WAIT))
	for ((i = 0; SECONDS < deadline; i++)); do
		out=$(put "$n" "$p-$i" v "${3:-2}")
		skv_info "put $p-$i at $n: $out"
		[[ $out == "OK "* ]] && { skv_fail "put $p-$i acknowledged: $out"; return 1; }
		# Refused: no backup to hold it, or no lease from them.
		[[ $out == "RETRY "* || $out == NOT_OWNER* ]] && return 0
	done
	skv_fail "no put at $n got RETRY or NOT_OWNER within ${SKV_WAIT}s"
	return 1
}

# A fence at B raises A's epoch: B refuses A's old epoch (OPEN, WRITE),
# so A cannot have a write acknowledged; a new epoch at A serves again.
# First, a repl set naming one backup twice is refused.
t_fence() {
	local out fence=$((EPOCH[A] + 1))
	# One backup named twice would be one replica counted as two.
	out=$(skv_ctl "$A" repl set "${ID[A]}" $fence "${IP[B]}:$PORT" "${IP[B]}:$PORT" 2>&1) &&
		{ skv_fail "repl set with B twice was taken"; return 1; }
	[[ $out == *"listed twice"* ]] || { skv_fail "repl set with B twice: $out"; return 1; }
	skv_ctl "$B" repl fence "${ID[A]}" $fence || { skv_fail "repl fence"; return 1; }
	out=$(ip netns exec "$SW" repl_tool op "${IP[B]}:$PORT" "$STEADYKV_CLUSTER_KEY" open \
		"${ID[A]}" "${EPOCH[A]}")
	[[ $out == STALE_EPOCH ]] || { skv_fail "OPEN with the fenced epoch answered '$out'"; return 1; }
	out=$(replica_json B A)
	jq -e --argjson e $fence '.epoch == $e' <<<"$out" >/dev/null ||
		{ skv_fail "B's replica of A: $out"; return 1; }
	puts_fail A fenced || return 1
	EPOCH[A]=$fence
	repl_set A || return 1
	out=$(put A after-fence v)
	[[ $out == "OK "* ]] || { skv_fail "put after the new epoch: $out"; return 1; }
}

# A replica is bounded (replica_max_mb): the backup answers BACKUP_FULL
# and A acknowledges no write past it; every write it acknowledged is held.
t_bounded() {
	local old i out big acked=() recs b k
	old=$(cat $PARAMS/replica_max_mb)
	echo 1 >$PARAMS/replica_max_mb
	big=$(head -c 60000 /dev/zero | tr '\0' x)
	skv_dmesg_mark
	for ((i = 0; i < 40; i++)); do
		out=$(put A "big-$i" "$big")
		[[ $out == "OK "* ]] && acked+=("big-$i")
		[[ $out == "RETRY "* || $out == NOT_OWNER* ]] && break
	done
	echo "$old" >$PARAMS/replica_max_mb
	skv_info "${#acked[@]} big writes acknowledged, then: $out"
	[[ $out == "RETRY "* || $out == NOT_OWNER* ]] ||
		{ skv_fail "40 writes of 60 KB past a 1 MiB replica: last '$out'"; return 1; }
	((${#acked[@]} > 0 && ${#acked[@]} < 18)) ||
		{ skv_fail "${#acked[@]} writes of 60 KB acknowledged with a 1 MiB bound"; return 1; }
	dmesg | tail -n +$((SKV_DMESG_MARK + 1)) | grep -q "refused a write of primary ${ID[A]} (status 19)" ||
		{ skv_fail "no BACKUP_FULL (19) from a backup in the kernel log"; return 1; }
	for b in B C; do
		recs=$(replica_records "$b" A) || { skv_fail "REPL_READ at $b: $recs"; return 1; }
		for k in "${acked[@]}"; do
			grep -q " $k\$" <<<"$recs" || { skv_fail "$b lacks acknowledged $k"; return 1; }
		done
	done
	EPOCH[A]=$((EPOCH[A] + 1))
	repl_set A || return 1
}

# name_of ID: the node (A, B or C) with id ID.
name_of() {
	local n
	for n in A B C; do
		[[ ${ID[$n]} == "$1" ]] && echo "$n"
	done
}

# rebuilt_away TABLE NODE: TABLE is served by a node other than NODE (by
# the map), nothing of it lost.
rebuilt_away() {
	ctlj map | jq -e --argjson t "$1" --argjson n "${ID[$2]}" '
		[.tablets[] | select(.table == $t)] |
		length > 0 and all(.owner != $n and (.lost | not))' >/dev/null
}

# C cut off from the coordinator (its daemon stopped; its module still
# serves): the coordinator declares C dead and fences it at its backups, A
# and B, with an epoch above C's, so C can no longer have a write
# acknowledged; C's lease from them ends, so it answers no client either:
# once its table 3 is rebuilt on a backup and written there, a read at C
# (a client with the old map) would be stale.  Its daemon back, C is a new
# incarnation with a new epoch.
t_cut_off_fenced() {
	local b out owner
	out=$(put C before-cut v 3)
	[[ $out == "OK "* ]] || { skv_fail "put at C before the cut: $out"; return 1; }
	kill -STOP "${NODE_PID[C]}" || { skv_fail "cannot stop C's daemon"; return 1; }
	slowwait "$SKV_WAIT" bash -c "ip netns exec $SW steadykvctl -j cluster -c $COORD map |
		jq -e '.nodes[] | select(.id == ${ID[C]}) | .health == \"dead\"'" >/dev/null ||
		{ kill -CONT "${NODE_PID[C]}"; skv_fail "C never declared dead"; return 1; }
	for b in A B; do
		slowwait "$SKV_WAIT" bash -c "ip netns exec ${!b} steadykvctl -j repl replicas |
			jq -e '.[] | select(.primary_id == ${ID[C]}) | .epoch > ${EPOCH[C]}'" \
			>/dev/null || { kill -CONT "${NODE_PID[C]}"
				skv_fail "$b's replica of C not fenced: $(replica_json "$b" C)"; return 1; }
	done
	out=$(ip netns exec "$SW" repl_tool op "${IP[A]}:$PORT" "$STEADYKV_CLUSTER_KEY" open \
		"${ID[C]}" "${EPOCH[C]}")
	[[ $out == STALE_EPOCH ]] || { kill -CONT "${NODE_PID[C]}"
		skv_fail "A took C's old epoch after the fence: '$out'"; return 1; }
	puts_fail C cut 3 || { kill -CONT "${NODE_PID[C]}"; return 1; }
	slowwait "$SKV_WAIT" rebuilt_away 3 C ||
		{ kill -CONT "${NODE_PID[C]}"; skv_fail "table 3 not rebuilt: $(ctlj map | jq -c .tablets)"
			return 1; }
	owner=$(name_of "$(ctlj map | jq '[.tablets[] | select(.table == 3)][0].owner')")
	out=$(put "$owner" before-cut v2 3)
	[[ $out == "OK "* ]] || { kill -CONT "${NODE_PID[C]}"
		skv_fail "put at $owner, where table 3 was rebuilt: $out"; return 1; }
	out=$(ip netns exec "$SW" skv_tool get "${IP[C]}:$PORT" 3 before-cut 2>&1)
	skv_info "GET at C once table 3 is written at $owner: '$out'"
	[[ $out == NOT_OWNER* ]] || { kill -CONT "${NODE_PID[C]}"
		skv_fail "C, fenced, answered a read of table 3: '$out'"; return 1; }
	kill -CONT "${NODE_PID[C]}"
	slowwait "$SKV_WAIT" bash -c "ip netns exec ${C} steadykvctl -j repl show |
		jq -e '.epoch > ${EPOCH[C]}'" >/dev/null ||
		{ skv_fail "C back without a new epoch: $(repl_json C)"; return 1; }
}

# C's namespace deleted (its node and replicas gone): A, whose backup it
# was, acknowledges nothing while its stream needs C; once the coordinator
# declares C dead, A replicates to B alone (fewer than R live nodes: all
# there is), which resumes its replica of A (the older records stay), and
# A's writes are acknowledged again.
t_backup_killed() {
	local out base end
	read -r base end <<<"$(replica_json B A | jq -r '"\(.replica_base) \(.replica_end)"')"
	# Its daemon holds the namespace: it goes first.
	kill "${NODE_PID[C]}" && wait "${NODE_PID[C]}" 2>/dev/null
	ip netns del "$C" || { skv_fail "ip netns del C"; return 1; }
	out=$(put A killed-0 v)
	[[ $out != "OK "* ]] || { skv_fail "put at A acknowledged without C: $out"; return 1; }
	slowwait "$SKV_WAIT" bash -c "ip netns exec $A steadykvctl -j repl show |
		jq -e '.backups == 1 and .healthy == 1'" >/dev/null ||
		{ skv_fail "A not given B alone: $(repl_json A)"; return 1; }
	out=$(put A killed-after v)
	[[ $out == "OK "* ]] || { skv_fail "put at A replicating to B alone: $out"; return 1; }
	replica_json B A | jq -e --argjson b "$base" --argjson e "$end" \
		'.replica_base == $b and .replica_end > $e' >/dev/null ||
		{ skv_fail "B's replica of A: $(replica_json B A), [$base, $end) before"; return 1; }
}

ktap_print_header
skv_test "coordinator --replicas 2: each node replicates to the next two" setup
if ((KTAP_CNT_FAIL)); then
	echo "Bail out! setup failed"
	skv_finish
fi
skv_test "acknowledged writes are in both backups' replicas (REPL_READ)" t_acked_in_backups
skv_test "replication ops without authentication: AUTH_REQUIRED" t_unauthenticated
skv_test "recorded clients with R = 2 pass the checker" t_history
skv_test "a read waits until the backups hold the write it saw" t_read_waits_for_backups
skv_test "a write given up unheld is not read until held" t_read_waits_after_give_up
skv_test "a new set of backups goes on from the old stream" t_set_change_goes_on
skv_test "a write with no room in the queue is read once a copy holds it" t_no_room_held_by_copy
skv_test "a write with no room in the queue, then a new set of backups: read once a copy holds it" t_no_room_set_change
skv_test "a fence at a backup: the old epoch is refused, no write acknowledged" t_fence
skv_test "a replica is bounded: BACKUP_FULL, no write acknowledged past it" t_bounded
skv_test "a node cut off is declared dead and fenced at its backups" t_cut_off_fenced
skv_test "a backup's namespace deleted: no write acknowledged, then its primary replicates to the live node" t_backup_killed
skv_finish
