#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Migration through the whole system: a coordinator and three node daemons
# (steadykvd), nodes in namespaces on a bridge, steadykvctl cluster
# commands, and clients (skv-history) whose every operation is recorded and
# checked (no acknowledged write lost, no stale read, deletes stay deleted,
# conditional writes decided on the current version) while tablets move,
# also while the coordinator or a node daemon is killed and restarted.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

# shellcheck source=mig_cluster.sh
source selftests/mig_cluster.sh

t_create() {
	ctl create-table 1 --nodes 1 || { skv_fail "create-table"; return 1; }
	[[ $(owner 1 $ZERO) == 1 && $(owner 1 $HALF) == 1 ]] ||
		{ skv_fail "table 1 not on node 1: $(ctlj map)"; return 1; }
}

# Half of table 1 moves to B, the other half to C, and back, while
# recorded clients run; the checker must find nothing.
t_history_under_migration() {
	local out=$SKV_TMP/hist1
	history 1 5 "$out" --seed 1 --min-ops 500
	clients_running "$HIST_BASE" || return 1
	migrate_wait 1 "0-$HALF" 2 || return 1
	[[ $(owner 1 $ZERO) == 2 ]] || { skv_fail "map owner of hash 0 is $(owner 1 $ZERO), not 2"; return 1; }
	migrate_wait 1 "0x8000000000000000-max" 3 || return 1
	migrate_wait 1 "0-$HALF" 1 || return 1
	history_ok "$out"
}

t_back_and_forth() {
	local out=$SKV_TMP/hist2 i to
	history 1 5 "$out" --seed 2 --min-ops 500
	clients_running "$HIST_BASE" || return 1
	for i in 1 2 3 4 5 6; do
		to=$((i % 2 + 1))
		migrate_wait 1 "0-$HALF" "$to" || return 1
	done
	history_ok "$out"
}

t_empty_tablet() {
	ctl create-table 2 --nodes 2 || return 1
	migrate_wait 2 "0-max" 3 || return 1
	[[ $(owner 2 $ZERO) == 3 ]] || { skv_fail "empty table 2 not at node 3"; return 1; }
	[[ $(last_mig | jq -r .records_pulled) == 0 ]] ||
		{ skv_fail "records pulled for an empty tablet: $(last_mig)"; return 1; }
}

t_large_tablet() {
	ctl create-table 3 --nodes 1 || return 1
	ip netns exec "$SW" skv_tool fill "${IP[A]}:$PORT" 3 20000 200 big ||
		{ skv_fail "fill"; return 1; }
	migrate_wait 3 "0-max" 2 || return 1
	ip netns exec "$SW" skv_tool check "${IP[B]}:$PORT" 3 20000 200 big ||
		{ skv_fail "records missing at the target"; return 1; }
	[[ $(last_mig | jq -r .records_pulled) -ge 20000 ]] ||
		{ skv_fail "pulled fewer records than stored: $(last_mig)"; return 1; }
	# The source freed its copy.
	local objs
	objs=$(ip netns exec "$A" steadykvctl -j node show | jq -r .objects)
	ip netns exec "$A" steadykvctl -j tablet list | jq -e '[.[] | select(.table_id == 3)] | length == 0' >/dev/null ||
		{ skv_fail "source still has table 3's tablet (objects $objs)"; return 1; }
}

# A split half: the tablet holding 0x4000.. is split there and the upper
# part moves.
t_split_half() {
	ctl split-migrate 3 --at 0x4000000000000000 --to 3 --wait >"$SKV_TMP/split.out" 2>&1 ||
		{ skv_fail "split-migrate: $(tail -n 3 "$SKV_TMP/split.out")"; return 1; }
	[[ $(owner 3 0x3fffffffffffffff) == 2 && $(owner 3 0x4000000000000000) == 3 ]] ||
		{ skv_fail "split map wrong: $(ctlj map | jq -c '[.tablets[] | select(.table == 3)]')"; return 1; }
	ip netns exec "$SW" skv_tool check-split "${IP[B]}:$PORT" "${IP[C]}:$PORT" 3 20000 200 big 0x4000000000000000 ||
		{ skv_fail "records not where the split says"; return 1; }
}

SPLICE_PARAM=/sys/module/steadykv/parameters/pull_splice_min
SPLICE_MIN=1024

pull_bytes() {	# NS copied|spliced: the node's bytes served to pulls that way
	skv_in "$1" steadykvctl -j node show | jq -r ".pull_bytes_$2"
}

# The source cleans its log while the tablet moves: a small memory limit
# and clients overwriting big values keep the cleaner busy.

t_source_cleaning() {
	local out=$SKV_TMP/hist3 before after spliced
	ctl create-table 4 --nodes 3 || return 1
	ip netns exec "$C" steadykvctl node set mem-limit 24M >/dev/null ||
		{ skv_fail "mem-limit"; return 1; }
	before=$(cleaner_passes "$C")
	history 4 5 "$out" --seed 3 --value-size 4000 --min-ops 200 --rate 0
	# The clients have filled the source's memory: its cleaner runs.
	slowwait "$SKV_WAIT" until_counter_is "> $before" cleaner_passes "$C" >/dev/null ||
		{ skv_fail "the source's cleaner never ran under the clients"; return 1; }
	spliced=$(pull_bytes "$C" spliced) || return 1
	migrate_wait 4 "0-max" 1 || return 1
	history_ok "$out" || return 1
	after=$(cleaner_passes "$C")
	skv_info "source cleaner passes: $before -> $after"
	((after > before)) || { skv_fail "the source's cleaner never ran"; return 1; }
	# The 4000-byte values went from log pages the cleaner was freeing.
	(($(pull_bytes "$C" spliced) > spliced)) ||
		{ skv_fail "no record sent from the source's log pages"; return 1; }
}

# Records of pull_splice_min bytes or more leave the source from its log
# pages (MSG_SPLICE_PAGES), smaller ones are copied into the reply (this
# suite runs with it at SPLICE_MIN, the others at the default 0: all
# copied): a table of both sizes moves and every record arrives intact,
# the source's counters showing each way taken; with pull_splice_min 0 it
# moves back, all copied.
t_spliced_pulls() {
	local s0 c0 s1 c1 rc
	ctl create-table 20 --nodes 1 || return 1
	ip netns exec "$SW" skv_tool fill "${IP[A]}:$PORT" 20 3000 3000 zc ||
		{ skv_fail "fill"; return 1; }
	ip netns exec "$SW" skv_tool fill "${IP[A]}:$PORT" 20 3000 100 zs ||
		{ skv_fail "fill"; return 1; }
	s0=$(pull_bytes "$A" spliced) && c0=$(pull_bytes "$A" copied) || return 1
	migrate_wait 20 "0-max" 2 || return 1
	s1=$(pull_bytes "$A" spliced) && c1=$(pull_bytes "$A" copied) || return 1
	skv_info "source: spliced $((s1 - s0)) bytes, copied $((c1 - c0))"
	# 3000 records of 3000-byte values are more than 9 MB; 3000 small ones
	# less than 1 MB.
	((s1 - s0 >= 9000000 && c1 - c0 >= 300000 && c1 - c0 < 1000000)) ||
		{ skv_fail "not each way as its size says: spliced $((s1 - s0)), copied $((c1 - c0))"; return 1; }
	ip netns exec "$SW" skv_tool check "${IP[B]}:$PORT" 20 3000 3000 zc &&
		ip netns exec "$SW" skv_tool check "${IP[B]}:$PORT" 20 3000 100 zs ||
		{ skv_fail "records wrong or missing at the target"; return 1; }
	echo 0 >"$SPLICE_PARAM" || return 1
	s0=$(pull_bytes "$B" spliced) || return 1
	migrate_wait 20 "0-max" 1
	rc=$?
	echo "$SPLICE_MIN" >"$SPLICE_PARAM"
	((rc == 0)) || return 1
	[[ $(pull_bytes "$B" spliced) == "$s0" ]] ||
		{ skv_fail "spliced with pull_splice_min 0"; return 1; }
	ip netns exec "$SW" skv_tool check "${IP[A]}:$PORT" 20 3000 3000 zc &&
		ip netns exec "$SW" skv_tool check "${IP[A]}:$PORT" 20 3000 100 zs ||
		{ skv_fail "records wrong or missing back at the source"; return 1; }
}

# Cancel while the migration pulls (slowed, and checked mid-way): the range
# goes back to the source, and the recorded clients see no anomaly.
cancel_mid_way() {
	local out=$SKV_TMP/hist4 id st
	[[ $(owner 3 $ZERO) == 2 ]] || { skv_fail "expected node 2 to own hash 0 of table 3"; return 1; }
	history 3 5 "$out" --seed 4 --min-ops 200
	clients_running "$HIST_BASE" || return 1
	skv_slow_link "$B" eth0 $SLOW_DELAY || return 1
	ctl migrate 3 "0-0x3fffffffffffffff" --to 1 "${SLOW_OPTS[@]}" >/dev/null ||
		{ skv_fail "migrate"; return 1; }
	id=$(last_mig_id)
	mid_way "$id" || return 1
	ctl cancel "$id" || { skv_fail "cancel $id"; return 1; }
	slowwait "$SKV_WAIT" bash -c "ip netns exec $SW steadykvctl -j cluster -c $COORD status $id |
		jq -e '.state == \"cancelled\" or .state == \"done\" or .state == \"failed\"'" >/dev/null
	st=$(ctlj status "$id" | jq -r .state)
	skv_info "migration $id ended $st"
	[[ $st == cancelled ]] || { skv_fail "migration $id ended $st, not cancelled"; return 1; }
	[[ $(owner 3 $ZERO) == 2 ]] || { skv_fail "after cancel the owner is $(owner 3 $ZERO), not 2"; return 1; }
	history_ok "$out"
}

t_cancel_rolls_back() {
	local rc
	cancel_mid_way
	rc=$?
	skv_fast_link "$B" eth0
	return $rc
}

expect_refused() {	# DESC CMD...: the coordinator must refuse, with a message (EXPECT_OUT)
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		skv_fail "$desc: accepted"
		return 1
	fi
	[[ -n $out ]] || { skv_fail "$desc: refused without a message"; return 1; }
	EXPECT_OUT=$out
	skv_info "$desc: $out"
}

overlap_refused() {
	skv_slow_link "$C" eth0 $SLOW_DELAY || return 1
	ctl migrate 3 "0x4000000000000000-max" --to 1 "${SLOW_OPTS[@]}" >/dev/null ||
		{ skv_fail "slow migrate"; return 1; }
	mid_way "$(last_mig_id)" || return 1
	expect_refused "overlapping migration" \
		ctl migrate 3 "0x5000000000000000-0x6000000000000000" --to 2 || return 1
	[[ $EXPECT_OUT == *"is migrating"* || $EXPECT_OUT == *overlaps* ]] ||
		{ skv_fail "overlapping migration refused for another reason"; return 1; }
}

t_bad_requests() {
	local v0 v1 rc
	v0=$(ctlj map | jq -r .version)
	expect_refused "unknown table" ctl migrate 99 "0-max" --to 2 || return 1
	expect_refused "range across tablets" ctl migrate 1 "0x7000000000000000-0x9000000000000000" --to 2 || return 1
	expect_refused "to the owner itself" ctl migrate 1 "0-$HALF" --to 1 || return 1
	expect_refused "unknown target node" ctl migrate 1 "0-$HALF" --to 9 || return 1
	expect_refused "reversed range" ctl migrate 1 "0x10-0x1" --to 2 || return 1
	# Overlapping migrations: a slow one, mid-way, then another over the
	# same range.
	overlap_refused
	rc=$?
	skv_fast_link "$C" eth0
	((rc == 0)) || return 1
	slowwait $((SKV_WAIT * 2)) bash -c "ip netns exec $SW steadykvctl -j cluster -c $COORD status |
		jq -e '.[-1].state == \"done\"'" >/dev/null || { skv_fail "slow migration did not finish"; return 1; }
	v1=$(ctlj map | jq -r .version)
	((v1 > v0)) || { skv_fail "map version did not move"; return 1; }
}

# The target cannot reach the source (a blackhole route at the target):
# the migration fails, the map keeps the source as owner, and recorded
# clients over the whole table see no anomaly afterwards.
t_unreachable_source() {
	local st out=$SKV_TMP/hist5
	[[ $(owner 1 $ZERO) == 1 ]] || { skv_fail "expected node 1 to own hash 0"; return 1; }
	ip -n "$C" route add blackhole "${IP[A]}/32"
	ctl migrate 1 "0-$HALF" --to 3 --wait >"$SKV_TMP/unreach.out" 2>&1
	ip -n "$C" route del blackhole "${IP[A]}/32"
	st=$(last_mig | jq -r .state)
	[[ $st == failed ]] || { skv_fail "migration from an unreachable source ended '$st'"; return 1; }
	skv_info "failure: $(last_mig | jq -r .msg)"
	[[ $(owner 1 $ZERO) == 1 ]] || { skv_fail "owner moved to $(owner 1 $ZERO)"; return 1; }
	history 1 4 "$out" --seed 5 --min-ops 50
	history_ok "$out"
}

# High contention: 16 clients on 16 keys of table 1, a tenth of their
# operations MULTI-GETs, while its lower half moves; the clients run from
# before the migration starts until it is over, the checker decides
# linearizability of every key's history, and the run fails unless enough
# operations were decided and some of them overlapped the migration (its
# window written to a mark file).
t_history_high_contention() {
	local out=$SKV_TMP/hist6 marks=$SKV_TMP/marks6 ready=$SKV_TMP/ready6 over=$SKV_TMP/over6
	local to=2 rc
	: >"$marks"
	history 1 10 "$out" --seed 6 --keys 16 --clients 16 --mget-pct 10 --min-ops 1000 --rate 0 \
		--mark-file "$marks" --min-overlap 20 --ready-file "$ready" --run-until "$over"
	skv_wait_file "$ready" || { skv_fail "skv-history did not start"; return 1; }
	[[ $(owner 1 $ZERO) == 2 ]] && to=1
	echo "$(date +%s%N) migration-start" >>"$marks"
	migrate_wait 1 "0-$HALF" "$to"
	rc=$?
	echo "$(date +%s%N) migration-end" >>"$marks"
	touch "$over"
	((rc == 0)) || return 1
	[[ $(owner 1 $ZERO) == "$to" ]] || { skv_fail "owner of hash 0 is $(owner 1 $ZERO), not $to"; return 1; }
	history_ok "$out"
}

# Authentication (lib.sh made the keys): without the admin key, with a
# wrong one or with the cluster key, every change is refused and the map
# stays; a node daemon with a wrong cluster key is refused and not listed.
t_keys_required() {
	local v0 bad=$SKV_TMP/wrong.key log=$SKV_TMP/badnode.log
	skv_key "$bad"
	v0=$(ctlj map | jq -r .version)
	expect_refused "no admin key" env -u STEADYKV_ADMIN_KEY \
		ip netns exec "$SW" steadykvctl cluster -c "$COORD" create-table 9 --nodes 1 || return 1
	[[ $EXPECT_OUT == *"authentication required"* ]] || { skv_fail "no key: wrong reason"; return 1; }
	expect_refused "wrong admin key" ctl -k "$bad" create-table 9 --nodes 1 || return 1
	expect_refused "cluster key as admin" ctl -k "$STEADYKV_CLUSTER_KEY" migrate 1 "0-$HALF" --to 3 ||
		return 1
	skv_bg ip netns exec "$SW" steadykvd --node 9 --data "$NET.254:$PORT" --coord "$COORD" \
		--cluster-key "$bad" 2>"$log"
	slowwait "$SKV_WAIT" grep -q "refused our cluster key" "$log" ||
		{ skv_fail "a wrong cluster key was not refused: $(cat "$log")"; return 1; }
	kill "$SKV_LAST_PID"
	ctlj map | jq -e '.nodes | length == 3' >/dev/null || { skv_fail "node 9 got in"; return 1; }
	[[ $(ctlj map | jq -r .version) == "$v0" ]] || { skv_fail "the map changed"; return 1; }
}

# merge_ranges: "START END" lines (0x and 16 hex digits, sorted) with
# adjacent ranges merged into one.
# kill_restart WHO [ARGS]: SIGKILL the coordinator, or node A's or node B's
# daemon, and start it again (the coordinator with ARGS).
kill_restart() {
	local pid
	case $1 in
	coord) pid=$COORD_PID ;;
	*) pid=${NODE_PID[$1]} ;;
	esac
	kill -9 "$pid" || { skv_fail "no $1 process to kill"; return 1; }
	wait "$pid" 2>/dev/null
	skv_info "$1 killed (SIGKILL)"
	case $1 in
	coord) start_coord "${@:2}" ;;
	*) start_node "$1" ;;
	esac
}

# killed_mid_way WHO WANT TABLE SEED: table TABLE on node 1 (A), filled,
# moves whole to node 2 (B), slowed, while recorded clients run; mid-way,
# WHO (coord, A: the source's daemon, B: the target's) is killed with
# SIGKILL and started again; once the coordinator hears of its progress
# again, the migration is checked mid-way again (the restarted one took it
# over in progress); WANT cancelled: it is then cancelled.  It must end
# WANT; the checker passes (no acknowledged write lost, nothing stale);
# the map is consistent with what the nodes serve; the filler records are
# at the owner; and the restarted daemon serves the coordinator's commands
# again (a new table is created on it).
killed_mid_way() {
	local who=$1 want=$2 t=$3 seed=$4 id owner=2 node=B
	slow_mig_start "$t" "$seed" || return 1
	id=$SLOW_MIG_ID
	kill_restart "$who" || return 1
	slowwait "$SKV_WAIT" reported_since "$id" "$MID_PM" ||
		{ skv_fail "the coordinator hears no progress of $id after the restart"; return 1; }
	mid_way "$id" || return 1
	if [[ $want == cancelled ]]; then
		ctl cancel "$id" || { skv_fail "cancel $id"; return 1; }
		owner=1
		node=A
	fi
	slow_mig_finish "$t" "$want" "$owner" "$node" || return 1
	if [[ $who != coord ]]; then
		slowwait "$SKV_WAIT" ctl create-table $((t + 50)) --nodes "${ID[$who]}" >/dev/null ||
			{ skv_fail "restarted daemon of $who does not serve the coordinator"; return 1; }
		map_consistent $((t + 50)) || return 1
	fi
}

t_killed_mid_way() {
	local rc
	killed_mid_way "$@"
	rc=$?
	skv_fast_link "$A" eth0
	touch "$SKV_TMP/over$3"
	return $rc
}

# preparing_on TABLE: the newest migration is of TABLE and preparing.
preparing_on() {
	last_mig | jq -e --argjson t "$1" '.table == $t and .state == "preparing"' >/dev/null
}

# The coordinator dies after it saved a migration (preparing) and sent its
# start, and the target's daemon dies before it read the start (it is
# stopped meanwhile): the start is lost.  When the target registers with
# the restarted coordinator, the migration must end cancelled (not stay
# preparing for ever, blocking its range), the map stay consistent, and
# the range then move.  The first coordinator waits for the target's
# answer longer than the test needs (--node-timeout).
start_lost() {
	local t=9 id mpid st
	kill_restart coord --node-timeout 600000 || return 1
	# Both daemons are back: a table created on each.
	slowwait "$SKV_WAIT" ctl create-table $t --nodes 1 >/dev/null ||
		{ skv_fail "create-table $t"; return 1; }
	slowwait "$SKV_WAIT" ctl create-table $((t + 50)) --nodes 2 >/dev/null ||
		{ skv_fail "create-table $((t + 50))"; return 1; }
	kill -STOP "${NODE_PID[B]}"
	ctl migrate $t "0-max" --to 2 >"$SKV_TMP/lost.out" 2>&1 &
	mpid=$!
	slowwait "$SKV_WAIT" preparing_on $t || { skv_fail "no migration of $t preparing"; return 1; }
	id=$(last_mig_id)
	kill -9 "$COORD_PID" "${NODE_PID[B]}"
	wait "$COORD_PID" "${NODE_PID[B]}" 2>/dev/null
	skv_wait_exit "$mpid" "$SKV_WAIT" && { skv_fail "migrate answered: $(cat "$SKV_TMP/lost.out")"; return 1; }
	start_coord || return 1
	[[ $(mig_state "$id") == "preparing "* ]] ||
		{ skv_fail "migration $id saved as $(mig_state "$id"), not preparing"; return 1; }
	start_node B
	slowwait "$SKV_WAIT" mig_final "$id" ||
		{ skv_fail "migration $id still $(mig_state "$id") after its target registered again"; return 1; }
	st=$(ctlj status "$id" | jq -r .state)
	skv_info "migration $id ended $st: $(ctlj status "$id" | jq -r .msg)"
	[[ $st == cancelled ]] || { skv_fail "migration $id ended $st, not cancelled"; return 1; }
	[[ $(owner $t $ZERO) == 1 ]] || { skv_fail "owner of table $t is $(owner $t $ZERO), not 1"; return 1; }
	map_consistent $t || return 1
	migrate_wait $t "0-max" 2 || return 1
	[[ $(owner $t $ZERO) == 2 ]] || { skv_fail "owner of table $t is $(owner $t $ZERO), not 2"; return 1; }
	map_consistent $t
}

t_start_lost() {
	local rc
	start_lost
	rc=$?
	kill -CONT "${NODE_PID[B]}" 2>/dev/null
	return $rc
}

ktap_print_header
splice_saved=$(<"$SPLICE_PARAM")
echo "$SPLICE_MIN" >"$SPLICE_PARAM"
setup || { skv_dmesg_clean; ktap_test_fail "setup"; skv_finish; }
skv_test "create a table on one node" t_create
skv_test "recorded clients see no anomaly while halves move" t_history_under_migration
skv_test "back and forth six times under load" t_back_and_forth
skv_test "empty tablet" t_empty_tablet
skv_test "large tablet (20000 records)" t_large_tablet
skv_test "split a tablet and move one half" t_split_half
skv_test "source cleaning during migration" t_source_cleaning
skv_test "large records sent from the source's log pages, small ones copied" t_spliced_pulls
skv_test "cancel mid-way rolls back" t_cancel_rolls_back
skv_test "bad requests are refused and change nothing" t_bad_requests
skv_test "changes need the admin key, nodes the cluster key" t_keys_required
skv_test "unreachable source: fails cleanly, source keeps serving" t_unreachable_source
skv_test "16 clients on 16 keys while a half moves: linearizable" t_history_high_contention
skv_test "coordinator killed mid-migration and restarted: completes" \
	t_killed_mid_way coord "done" 5 7
skv_test "coordinator killed mid-migration and restarted: cancelled" \
	t_killed_mid_way coord cancelled 6 8
skv_test "target's daemon killed mid-migration and restarted: completes" \
	t_killed_mid_way B "done" 7 9
skv_test "source's daemon killed mid-migration and restarted: rolled back" \
	t_killed_mid_way A cancelled 8 10
skv_test "start lost with the coordinator and the target's daemon: cancelled" t_start_lost
echo "$splice_saved" >"$SPLICE_PARAM"
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
