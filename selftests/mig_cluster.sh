#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2034,SC2120 # a library: the scripts that source it use these
# The cluster of migration.sh and mig_faults.sh: a coordinator and three
# node daemons (steadykvd) in namespaces A B C on a bridge in SW,
# steadykvctl cluster commands, recorded clients (skv-history), and checks
# of the map against the nodes.  Sourced after lib.sh.

PORT=7000
NET=10.98.0
COORD=$NET.254:7100
HALF=0x7fffffffffffffff
ZERO=0x0000000000000000
HIST_KEYS=1000
# Paced clients: unpaced ones took half a guest's CPU (perf, mig_faults.sh)
# and every step of the test crawled beside them; 4 x 50 a second still
# put hundreds of operations in each migration's window.  Tests that need
# load (a cleaner to run, contention) pass --rate 0.
HIST_RATE=50
# A migration a test acts on mid-way: one partition, one pull of 1 KiB in
# flight, and the source's answers delayed by SLOW_DELAY (netem), so that it
# lasts at least (records * 200 B / 1 KiB) * SLOW_DELAY on any host.
SLOW_OPTS=(--partitions 1 --inflight 1 --budget 1024)
SLOW_DELAY=10ms
# The kill tests (migration.sh, coord_failover.sh): the migration of
# KILL_KEYS records of KILL_SIZE bytes with SLOW_OPTS (one record per pull:
# two exceed the budget) and the source's answers KILL_DELAY late lasts at
# least KILL_KEYS * KILL_DELAY (120 s) on any host: room for a kill, a
# restart or a failover, a reconnection (the daemons back off up to 5 s)
# and a second check that it is mid-way, which took up to 100 s in a guest
# on a host loaded 10 times over (40 s was too short).  Few pulls, each
# long: under TCG every pull costs CPU as well.
KILL_KEYS=600
KILL_SIZE=900
KILL_DELAY=200ms
declare -A IP ID NODE_PID

ctl() { skv_in "$SW" steadykvctl cluster -c "$COORD" "$@"; }
ctlj() { skv_in "$SW" steadykvctl -j cluster -c "$COORD" "$@"; }

# owner TABLE HASH: the node id owning HASH (0x and 16 hex digits) by the
# coordinator's map, which prints bounds the same way, so strings compare.
owner() {
	ctlj map | jq -r --argjson t "$1" --arg h "$2" '
		[.tablets[] | select(.table == $t and .start <= $h and $h <= .end)][0].owner'
}

# last_mig: the newest migration's status object.
last_mig() { ctlj status | jq '.[-1]'; }
# last_mig_id: its id, read without jq (1.6 rounds numbers past 2^53, and
# migration ids are random 64-bit values).
last_mig_id() { ctlj status | grep -o '"id": *[0-9]*' | tail -n 1 | grep -o '[0-9]*$'; }

# start_coord [ARGS]: the coordinator (again, on the same state file); its
# pid in COORD_PID.  These tests stop and kill daemons, not nodes: no node
# is declared dead here (the lab's crash tests are about that).
start_coord() {
	skv_bg ip netns exec "$SW" steadykvd --coordinator --listen "$COORD" \
		--state "$SKV_TMP/coord.state" -q --dead-after-ms 3600000 "$@"
	COORD_PID=$SKV_LAST_PID
	slowwait "$SKV_WAIT" ctl map >/dev/null 2>&1 ||
		{ skv_fail "coordinator does not answer"; return 1; }
}

# start_node N: node N's daemon; its pid in NODE_PID[N].
start_node() {
	local name=$1
	skv_bg ip netns exec "${!name}" steadykvd --node "${ID[$name]}" \
		--data "${IP[$name]}:$PORT" --coord "$COORD"
	NODE_PID[$name]=$SKV_LAST_PID
}

setup() {
	local n
	setup_ns SW A B C || { skv_fail "setup_ns"; return 1; }
	skv_bridge "$SW" $NET A B C || return 1
	start_coord || return 1
	for n in A B C; do
		start_node $n
	done
	skv_cluster_ready "$SW" "$COORD" $PORT A B C || return 1
}

# history TABLE SECONDS OUTFILE [ARGS]: recorded clients (HIST_KEYS keys,
# 4 clients, HIST_RATE operations a second each unless ARGS give --rate)
# in the background, for SECONDS at least and then until history_ok
# (OUTFILE.over) unless ARGS give --run-until; HIST_BASE: the requests
# answered before.
history() {
	local t=$1 s=$2 out=$3
	shift 3
	HIST_BASE=$(requests)
	skv_bg bash -c "ip netns exec $SW skv-history --coord $COORD --table $t \
		--keys $HIST_KEYS --clients 4 --seconds $s --rate $HIST_RATE \
		--run-until $out.over $* >$out 2>&1"
	HIST_PID=$SKV_LAST_PID
}

# requests: the requests all three nodes have answered.
requests() {
	local n sum=0 r
	for n in A B C; do
		r=$(skv_in "${!n}" steadykvctl -j node show | jq -r .requests) || return 1
		sum=$((sum + r))
	done
	echo "$sum"
}

# clients_running BASE: wait until the nodes have answered, since they had
# answered BASE, the recorded clients' preload (one PUT per key) and 400
# requests more, so that the clients are under way when the test acts.
clients_running() {
	local want=$(($1 + HIST_KEYS + 400))
	slowwait "$SKV_WAIT" until_counter_is ">= $want" requests >/dev/null || {
		skv_fail "recorded clients not under way: $(requests) requests answered, want $want"
		return 1
	}
}

# history_ok OUTFILE: the clients stop; the checker must find nothing.
history_ok() {
	local out=$1 rc
	touch "$out.over"
	skv_wait_exit "$HIST_PID" $((SKV_WAIT * 3))
	rc=$?
	skv_history_report "$out"
	((rc == 0)) || { skv_fail "skv-history exited $rc"; return 1; }
}

# mig_state ID: "STATE PERMILLE" of migration ID at the coordinator.
mig_state() {
	ctlj status "$1" | jq -r '"\(.state) \(.progress_permille)"'
}

# mig_started ID: migration ID is past preparing (pulling, or over).
mig_started() {
	[[ $(mig_state "$1") != preparing\ * ]]
}

# mid_way ID: wait until migration ID has started, and check that it is
# mid-way (pulling, progress below 1000 permille) before the test acts on it.
mid_way() {
	local st pm
	slowwait "$SKV_WAIT" mig_started "$1"
	read -r st pm <<<"$(mig_state "$1")"
	MID_PM=$pm
	skv_info "migration $1 before the test acts: $st, $pm permille"
	if [[ $st != pulling ]] || ((pm >= 1000)); then
		skv_fail "migration $1 not mid-way when the test would act: $st, $pm permille"
		return 1
	fi
}

migrate_wait() {	# TABLE RANGE NODE [OPTS]: must end done
	local t=$1 r=$2 to=$3
	shift 3
	ctl migrate "$t" "$r" --to "$to" "$@" --wait >"$SKV_TMP/mig.out" 2>&1 || {
		skv_fail "migrate $t $r to $to: $(tail -n 3 "$SKV_TMP/mig.out")"
		return 1
	}
}

cleaner_passes() {	# NS
	skv_in "$1" steadykvctl -j node show | jq -r .cleaner_passes
}

merge_ranges() {
	local s e cs="" ce=""
	while read -r s e; do
		if [[ -n $cs ]] && [[ $(printf '0x%016x' $((ce + 1))) == "$s" ]]; then
			ce=$e
			continue
		fi
		[[ -n $cs ]] && echo "$cs $ce"
		cs=$s
		ce=$e
	done
	[[ -n $cs ]] && echo "$cs $ce"
}

# map_consistent TABLE: the coordinator's map covers TABLE's whole hash
# space with normal tablets, one owner each, and every node serves (normal
# tablets) exactly the ranges the map gives it, no more.
map_consistent() {
	local t=$1 map n want have states
	map=$(ctlj map)
	want=$(jq -r --argjson t "$t" '[.tablets[] | select(.table == $t)] | sort_by(.start)[] |
		"\(.start) \(.end)"' <<<"$map" | merge_ranges)
	[[ $want == "0x0000000000000000 0xffffffffffffffff" ]] ||
		{ skv_fail "table $t: the map's tablets do not cover the space once: $want"; return 1; }
	states=$(jq -r --argjson t "$t" '[.tablets[] | select(.table == $t) | .state] | unique | join(",")' <<<"$map")
	[[ $states == normal ]] || { skv_fail "table $t: map tablets $states after the migration"; return 1; }
	for n in A B C; do
		want=$(jq -r --argjson t "$t" --argjson o "${ID[$n]}" '[.tablets[] |
			select(.table == $t and .owner == $o)] | sort_by(.start)[] | "\(.start) \(.end)"' \
			<<<"$map" | merge_ranges)
		have=$(ip netns exec "${!n}" steadykvctl -j tablet list | jq -r --argjson t "$t" '
			[.[] | select(.table_id == $t)] | sort_by(.start_hash)[] |
			"\(.start_hash) \(.end_hash) \(.state)"')
		states=$(awk '{ print $3 }' <<<"$have" | sort -u | tr '\n' ' ')
		[[ -z $have || $states == "normal " ]] ||
			{ skv_fail "table $t: node $n has tablets $states"; return 1; }
		have=$(awk '{ print $1, $2 }' <<<"$have" | merge_ranges)
		[[ $have == "$want" ]] ||
			{ skv_fail "table $t: node $n serves '$have', the map gives it '$want'"; return 1; }
	done
}

# reported_since ID PERMILLE: the coordinator has heard of migration ID's
# progress past PERMILLE (or of its end): its target reports to it.
reported_since() {
	local st pm
	read -r st pm <<<"$(mig_state "$1")"
	[[ $st != pulling && $st != preparing ]] || ((pm > $2))
}

# mig_final ID: migration ID has ended, by the coordinator.
mig_final() {
	ctlj status "$1" | jq -e '.state == "done" or .state == "cancelled" or .state == "failed"' >/dev/null
}

# ended ID WANT: wait for migration ID's end; it must be WANT.
ended() {
	local st
	slowwait "$SKV_WAIT" mig_final "$1" ||
		{ skv_fail "migration $1 still $(mig_state "$1")"; return 1; }
	st=$(ctlj status "$1" | jq -r '"\(.state): \(.msg)"')
	skv_info "migration $1 ended $st"
	[[ $st == "$2:"* ]] || { skv_fail "migration $1 ended $st, not $2"; return 1; }
}


# slow_mig_start TABLE SEED: table TABLE on node 1 (A), filled (KILL_KEYS
# records), starts to move whole to node 2 (B), slowed at A, while
# recorded clients run (their files named after TABLE); SLOW_MIG_ID: the
# migration, checked mid-way.
slow_mig_start() {
	local t=$1 seed=$2 out=$SKV_TMP/hist$1 marks=$SKV_TMP/marks$1
	local ready=$SKV_TMP/ready$1 over=$SKV_TMP/over$1
	# (node 1's daemon may still be reconnecting after the last test)
	slowwait "$SKV_WAIT" ctl create-table "$t" --nodes 1 >/dev/null ||
		{ skv_fail "create-table $t"; return 1; }
	ip netns exec "$SW" skv_tool fill "${IP[A]}:$PORT" "$t" $KILL_KEYS $KILL_SIZE kf ||
		{ skv_fail "fill"; return 1; }
	: >"$marks"
	history "$t" 10 "$out" --seed "$seed" --keys 32 --clients 4 --min-ops 300 \
		--mark-file "$marks" --min-overlap 20 --ready-file "$ready" --run-until "$over"
	skv_wait_file "$ready" || { skv_fail "skv-history did not start"; return 1; }
	skv_slow_link "$A" eth0 $KILL_DELAY || return 1
	echo "$(date +%s%N) migration-start" >>"$marks"
	ctl migrate "$t" "0-max" --to 2 "${SLOW_OPTS[@]}" >/dev/null || { skv_fail "migrate"; return 1; }
	SLOW_MIG_ID=$(last_mig_id)
	mid_way "$SLOW_MIG_ID"
}

# slow_mig_finish TABLE WANT OWNER NODE: A at full speed again, the
# migration slow_mig_start began must end WANT; the checker passes (no
# acknowledged write lost, nothing stale); hash 0 of TABLE is OWNER's by
# the map; the map is consistent with what the nodes serve; the filler
# records are at NODE.
slow_mig_finish() {
	local t=$1 want=$2 owner=$3 node=$4 id=$SLOW_MIG_ID st
	skv_fast_link "$A" eth0
	slowwait $((SKV_WAIT * 3)) mig_final "$id" || { skv_fail "migration $id did not end"; return 1; }
	echo "$(date +%s%N) migration-end" >>"$SKV_TMP/marks$t"
	touch "$SKV_TMP/over$t"
	st=$(ctlj status "$id" | jq -r .state)
	skv_info "migration $id ended $st: $(ctlj status "$id" | jq -r .msg)"
	[[ $st == "$want" ]] || { skv_fail "migration $id ended $st, not $want"; return 1; }
	history_ok "$SKV_TMP/hist$t" || return 1
	[[ $(owner "$t" $ZERO) == "$owner" ]] ||
		{ skv_fail "owner of table $t is $(owner "$t" $ZERO), not $owner"; return 1; }
	map_consistent "$t" || return 1
	ip netns exec "$SW" skv_tool check "${IP[$node]}:$PORT" "$t" $KILL_KEYS $KILL_SIZE kf ||
		{ skv_fail "filler records not intact at node $node"; return 1; }
}
