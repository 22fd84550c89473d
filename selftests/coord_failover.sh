#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A coordinator that survives its machine (issue 14 item 5): etcd in the
# switch namespace SW, two coordinators keeping their state in it (--etcd),
# the leader in SW and a standby in its own namespace K, and three node
# daemons and the clients given both (--coord LEADER,STANDBY).  The standby
# does not listen until elected.  A slowed migration runs under recorded
# clients; mid-way the leader is killed (SIGKILL); once its lease ends the
# standby is elected, loads the state from etcd, the daemons register with
# it, and it completes the migration; the clients pass the checker, the map
# agrees with the nodes, the moved records are at the target.  The old
# leader, started again, stands by.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh
# shellcheck source=mig_cluster.sh
source selftests/mig_cluster.sh

# slow_mig_start's migration (mig_cluster.sh) lasts long enough for the
# lease's end (5 s), the election, the daemons' reconnection and a second
# check that it is mid-way.
ETCD_URL=http://$NET.254:2379
ETCD_PEER=http://$NET.254:2380
PREFIX=/skv-failover
# The leader in SW, the standby in K (IP[K] once skv_bridge ran).
COORD1=$NET.254:7100

etcdctl_sw() {
	ip netns exec "$SW" env ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" "$@"
}

# start_coordinator NS ADDR LOG: steadykvd --coordinator on etcd (its pid
# in SKV_LAST_PID).
start_coordinator() {
	skv_bg ip netns exec "$1" steadykvd --coordinator --listen "$2" \
		--etcd "$ETCD_URL" --etcd-prefix "$PREFIX" --dead-after-ms 3600000 2>"$3"
}

# answers ADDR: a coordinator serves the map at ADDR (and only ADDR).
answers() {
	ip netns exec "$SW" steadykvctl cluster -c "$1" map >/dev/null 2>&1
}

setup_failover() {
	local n
	setup_ns SW A B C K || { skv_fail "setup_ns"; return 1; }
	skv_bridge "$SW" "$NET" A B C K || return 1
	COORD2=${IP[K]}:7100
	COORD=$COORD1,$COORD2
	skv_bg ip netns exec "$SW" etcd --name skv --data-dir "$SKV_TMP/etcd" \
		--listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
		--listen-peer-urls "$ETCD_PEER" --initial-advertise-peer-urls "$ETCD_PEER" \
		--initial-cluster "skv=$ETCD_PEER" 2>"$SKV_TMP/etcd.log"
	slowwait "$SKV_WAIT" etcdctl_sw endpoint health >/dev/null 2>&1 ||
		{ skv_fail "etcd does not answer: $(tail -n 5 "$SKV_TMP/etcd.log")"; return 1; }
	start_coordinator "$SW" "$COORD1" "$SKV_TMP/coord1.log"
	COORD1_PID=$SKV_LAST_PID
	slowwait "$SKV_WAIT" answers "$COORD1" ||
		{ skv_fail "the first coordinator does not answer: $(cat "$SKV_TMP/coord1.log")"; return 1; }
	start_coordinator "$K" "$COORD2" "$SKV_TMP/coord2.log"
	slowwait "$SKV_WAIT" grep -q "standby: the leader is" "$SKV_TMP/coord2.log" ||
		{ skv_fail "the second coordinator is no standby: $(cat "$SKV_TMP/coord2.log")"; return 1; }
	answers "$COORD2" && { skv_fail "the standby answers before it is elected"; return 1; }
	for n in A B C; do
		start_node $n
	done
	skv_cluster_ready "$SW" "$COORD" "$PORT" A B C
}

# The state is in etcd, in the state file's format, and follows the map.
t_state_in_etcd() {
	local v
	ctl create-table 1 || { skv_fail "create-table 1"; return 1; }
	v=$(ctlj map | jq -r .version)
	etcdctl_sw get "$PREFIX/state" --print-value-only >"$SKV_TMP/state" ||
		{ skv_fail "etcdctl get $PREFIX/state"; return 1; }
	[[ $(head -n 1 "$SKV_TMP/state") == "steadykv-map 5" ]] ||
		{ skv_fail "state in etcd: $(head -n 3 "$SKV_TMP/state")"; return 1; }
	# Each node registered with its module's incarnation, kept there too.
	grep -qE '^node [0-9]+ [^ ]+ [^ ]+ 0x[0-9a-f]{16}$' "$SKV_TMP/state" ||
		{ skv_fail "no node incarnation in etcd: $(grep '^node' "$SKV_TMP/state")"; return 1; }
	grep -qx "version $v" "$SKV_TMP/state" ||
		{ skv_fail "state in etcd is not map version $v: $(head -n 2 "$SKV_TMP/state")"; return 1; }
	[[ $(etcdctl_sw get "$PREFIX/leader" --print-value-only) == *"listen $COORD1" ]] ||
		{ skv_fail "leader key: $(etcdctl_sw get "$PREFIX/leader" --print-value-only)"; return 1; }
}

# elected ADDR: the coordinator at ADDR leads (it listens only then).
elected() {
	answers "$1" && [[ $(etcdctl_sw get "$PREFIX/leader" --print-value-only) == *"listen $1" ]]
}

# The leader killed mid-way through slow_mig_start's migration.
failover() {
	local t=5 id t0 t1
	slow_mig_start $t 11 || return 1
	id=$SLOW_MIG_ID
	t0=$(date +%s%N)
	kill -9 "$COORD1_PID" || { skv_fail "no leader to kill"; return 1; }
	wait "$COORD1_PID" 2>/dev/null
	skv_info "leader killed (SIGKILL) mid-migration"
	slowwait "$SKV_WAIT" elected "$COORD2" ||
		{ skv_fail "the standby was not elected: $(tail -n 5 "$SKV_TMP/coord2.log")"; return 1; }
	t1=$(date +%s%N)
	echo "# standby elected and serving $(((t1 - t0) / 1000000)) ms after the kill"
	grep -q "elected leader" "$SKV_TMP/coord2.log" ||
		{ skv_fail "no election in the standby's log"; return 1; }
	# It took the migration over in progress: its target reports to it.
	slowwait "$SKV_WAIT" reported_since "$id" "$MID_PM" ||
		{ skv_fail "the new leader hears no progress of $id: $(mig_state "$id")"; return 1; }
	mid_way "$id" || return 1
	slow_mig_finish $t "done" 2 B || return 1
	# Every daemon follows the new leader: a table on each node.
	slowwait "$SKV_WAIT" ctl create-table $((t + 50)) >/dev/null ||
		{ skv_fail "the nodes do not serve the new leader"; return 1; }
	map_consistent $((t + 50))
}

t_failover() {
	local rc
	failover
	rc=$?
	skv_fast_link "$A" eth0
	touch "$SKV_TMP/over5"
	return $rc
}

# The old leader started again: a standby now, not listening; the new
# leader keeps serving and committing.
t_old_leader_stands_by() {
	local v
	start_coordinator "$SW" "$COORD1" "$SKV_TMP/coord1b.log"
	slowwait "$SKV_WAIT" grep -q "standby: the leader is" "$SKV_TMP/coord1b.log" ||
		{ skv_fail "the old leader is no standby: $(cat "$SKV_TMP/coord1b.log")"; return 1; }
	answers "$COORD1" && { skv_fail "the old leader answers as a standby"; return 1; }
	ctl create-table 7 --nodes 3 || { skv_fail "create-table 7"; return 1; }
	v=$(ctlj map | jq -r .version)
	etcdctl_sw get "$PREFIX/state" --print-value-only | grep -qx "version $v" ||
		{ skv_fail "the new leader's change is not in etcd"; return 1; }
}

ktap_print_header
setup_failover || { skv_dmesg_clean; ktap_test_fail "setup"; skv_finish; }
skv_test "the state is in etcd, the standby does not listen" t_state_in_etcd
skv_test "leader killed mid-migration: the standby completes it, clients see no anomaly" \
	t_failover
skv_test "the old leader, restarted, stands by" t_old_leader_stands_by
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
