#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Automatic rebalancing (README "Automatic rebalancing"): a coordinator and
# three node daemons in namespaces A B C on a bridge (mig_cluster.sh), table
# 1 on node A alone, and steadykv-bench's zipfian load on it, so that A
# serves all of it.
#   - --rebalance dry-run: the coordinator logs the move it would make
#     (half of A's tablet, split at its median hash, to B, the least
#     loaded) and starts nothing;
#   - --rebalance on (the coordinator restarted on the same state): it
#     starts that migration by itself, which ends done, the nodes serve
#     what the map says, and A's share of the requests drops.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh
# shellcheck source=mig_cluster.sh
source selftests/mig_cluster.sh

RECORDS=5000
RATE=400		# ops/s: well over REBALANCE_MIN_RATE, light for TCG
SHARE=0.6		# A at ~100% is hot; A and B at ~50% each are not
WINDOW=1000		# requests over which a share is measured
COORD_LOG=$SKV_TMP/coord.log
MPORT=9100

# start_rebalancer MODE: the coordinator with --rebalance MODE, logging its
# decisions (not -q) to COORD_LOG; its pid in COORD_PID.
start_rebalancer() {
	skv_bg bash -c "exec ip netns exec $SW steadykvd --coordinator --listen $COORD \
		--state $SKV_TMP/coord.state --dead-after-ms 3600000 --rebalance $1 \
		--rebalance-share $SHARE --rebalance-hold-ms 2000 \
		--rebalance-cooldown-ms 600000 --metrics-listen $NET.254:$MPORT 2>>$COORD_LOG"
	COORD_PID=$SKV_LAST_PID
	slowwait "$SKV_WAIT" ctl map >/dev/null 2>&1 ||
		{ skv_fail "coordinator ($1) does not answer"; return 1; }
}

# moves MODE: the coordinator's steadykv_coordinator_rebalance_moves_total
# for MODE (on, dry_run).
moves() {
	ip netns exec "$SW" curl -sSf --max-time 30 "http://$NET.254:$MPORT/metrics" |
		awk -v s="steadykv_coordinator_rebalance_moves_total{mode=\"$1\"}" '$1 == s { print $2 }'
}

node_requests() {	# NAME: the data requests node NAME has answered
	ip netns exec "${!1}" steadykvctl -j node show | jq -r .requests
}

total_requests() {
	echo $(($(node_requests A) + $(node_requests B) + $(node_requests C)))
}

# a_share_pct: A's share (percent) of the next WINDOW requests the nodes
# answer; the bench must be running.  Each end is one reading of each node.
a_share_pct() {
	local a0 b0 c0 a1 b1 c1
	read -r a0 b0 c0 <<<"$(node_requests A) $(node_requests B) $(node_requests C)"
	slowwait "$SKV_WAIT" until_counter_is ">= $((a0 + b0 + c0 + WINDOW))" total_requests \
		>/dev/null || { skv_fail "the nodes did not answer $WINDOW requests"; return 1; }
	read -r a1 b1 c1 <<<"$(node_requests A) $(node_requests B) $(node_requests C)"
	echo $(((a1 - a0) * 100 / (a1 + b1 + c1 - a0 - b0 - c0)))
}

# mig_cluster.sh's setup (namespaces, bridge, node daemons) with this
# coordinator, rebalancing in dry-run first.
start_coord() { start_rebalancer dry-run; }

# Table 1 on node A alone, and the bench's load on it under way.
setup_load() {
	ctl create-table 1 --nodes "${ID[A]}" >/dev/null || { skv_fail "create-table"; return 1; }
	skv_bg ip netns exec "$SW" steadykv-bench --coord "$COORD" --table 1 --load \
		--records $RECORDS --rate $RATE --zipf 0.99 --duration 3600 --quiet
	BENCH_PID=$SKV_LAST_PID
	# The bench's load phase, then its run under way.
	slowwait "$SKV_WAIT" until_counter_is ">= $((RECORDS + WINDOW))" node_requests A \
		>/dev/null || { skv_fail "no load on node A: $(node_requests A) requests"; return 1; }
}

t_dry_run() {
	local line pct
	pct=$(a_share_pct) || return 1
	skv_info "node A serves $pct% of the requests"
	((pct >= 95)) || { skv_fail "A serves $pct%, not the whole load"; return 1; }
	slowwait "$SKV_WAIT" grep -q "rebalance (dry run): node ${ID[A]} .*would move" "$COORD_LOG" ||
		{ skv_fail "no dry-run decision logged: $(tail -n 5 "$COORD_LOG")"; return 1; }
	line=$(grep "rebalance (dry run)" "$COORD_LOG" | head -n 1)
	skv_info "$line"
	[[ $line == *"table 1 0x8000000000000000-0xffffffffffffffff (part of a tablet, split"* &&
	   $line == *"to node ${ID[B]} "* ]] ||
		{ skv_fail "not the upper half to B: $line"; return 1; }
	[[ $(ctlj status | jq length) == 0 ]] ||
		{ skv_fail "dry run started a migration: $(ctlj status)"; return 1; }
	[[ $(moves dry_run) -ge 1 && $(moves on) == 0 ]] ||
		{ skv_fail "moves: dry_run $(moves dry_run), on $(moves on)"; return 1; }
	[[ $(ctlj map | jq '[.tablets[] | select(.table == 1)] | length') == 1 ]] ||
		{ skv_fail "dry run changed the map: $(ctlj map)"; return 1; }
}

t_on() {
	local id st pct mig
	kill "$COORD_PID"
	skv_wait_exit "$COORD_PID" "$SKV_WAIT" || { skv_fail "coordinator did not stop"; return 1; }
	start_rebalancer on || return 1
	slowwait $((SKV_WAIT * 2)) grep -qE "^steadykvd: rebalance: node ${ID[A]} .*moving .*: migration [0-9]+$" \
		"$COORD_LOG" || { skv_fail "the rebalancer started nothing: $(tail -n 5 "$COORD_LOG")"; return 1; }
	grep "^steadykvd: rebalance: " "$COORD_LOG" | sed 's/^/# /'
	id=$(grep -oE "^steadykvd: rebalance: node .*: migration [0-9]+$" "$COORD_LOG" |
		grep -oE '[0-9]+$')
	[[ $(wc -w <<<"$id") == 1 ]] || { skv_fail "not one migration started: $id"; return 1; }
	slowwait "$SKV_WAIT" bash -c "[[ \$(ip netns exec $SW steadykvctl -j cluster -c $COORD \
		status $id | jq -r .state) =~ ^(done|failed|cancelled)$ ]]" ||
		{ skv_fail "migration $id did not end: $(mig_state "$id")"; return 1; }
	mig=$(ctlj status "$id")
	st=$(jq -r .state <<<"$mig")
	[[ $st == "done" ]] || { skv_fail "migration $id ended $st: $(jq -r .msg <<<"$mig")"; return 1; }
	[[ $(jq -r '"\(.src) \(.dst) \(.start) \(.end) \(.mode)"' <<<"$mig") == \
	   "${ID[A]} ${ID[B]} 0x8000000000000000 0xffffffffffffffff rocksteady" ]] ||
		{ skv_fail "not the upper half A -> B in rocksteady mode: $mig"; return 1; }
	map_consistent 1 || return 1
	pct=$(a_share_pct) || return 1
	skv_info "after the move node A serves $pct% of the requests"
	((pct <= 75)) || { skv_fail "A still serves $pct%"; return 1; }
	# The cool-down holds: nothing more moved.
	[[ $(ctlj status | jq length) == 1 && $(moves on) == 1 && $(moves dry_run) == 0 ]] ||
		{ skv_fail "not one move: $(ctlj status), moves on $(moves on)"; return 1; }
}

ktap_print_header
{ setup && setup_load; } || { skv_dmesg_clean; ktap_test_fail "setup"; skv_finish; }
skv_test "dry run: the decision is logged, nothing moves" t_dry_run
skv_test "on: the coordinator moves half of the hot node's load by itself" t_on
kill "$BENCH_PID" 2>/dev/null
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
