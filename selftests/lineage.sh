#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lineage during migration (issue 12 item 5).  Migrated records are
# replayed at the target, not replicated; before END lets the source free
# its copy, the target hands the range to its backups.  Three nodes under
# a coordinator at --replicas 2: a table filled at A (a few values larger
# than the target's 64 KiB hand-over chunks among them) migrates whole to B
# and ends done; B's replica at A has grown by the migrated records; then
# B crashes (its daemon killed, its namespace deleted), is declared dead,
# its tablets are recovered on its backups, and every migrated key, and
# every key written at B after the migration, reads back intact from the
# new owner.  Without the re-replication the migrated keys are lost.
# Then the target dies mid-migration (after ownership moved, the source's
# copy frozen): the range is rebuilt at the source from its copy and the
# target's replica, and again nothing is lost; so when it dies after its
# last pull, while it re-replicates the range.  Last the source dies
# mid-migration: the range is completed at the target from what it pulled
# and took plus the source's replica, and nothing is lost.  The first test
# runs again with the baseline without lineage (--mode replicated: every
# pulled batch handed to B's backups as it arrives, nothing to
# re-replicate before END), which must lose nothing either.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh
# shellcheck source=mig_cluster.sh
source selftests/mig_cluster.sh

TABLE=5
# The migrated records: about 2 MB of values, and a few larger than the
# 64 KiB chunks the target hands to its backups (each goes alone).
FILL_KEYS=2000
FILL_SIZE=1000
BIG_KEYS=3
BIG_SIZE=200000
# Keys written at B after (or during) the migration.
AFTER_KEYS=20
WANT=()
# The mid-migration test: A's packets this late, with one record per pull
# (SLOW_OPTS), make the migration last FILL_KEYS * MID_DELAY (100 s) at least.
MID_DELAY=50ms
PARAMS=/sys/module/steadykv/parameters

# A coordinator declaring a node dead after 3 s of silence (and the source
# of a range frozen for 6 s evicted), R = 2; table TABLE on A alone; every
# node's replication healthy.
setup_lineage() {
	local n
	setup_ns SW A B C || { skv_fail "setup_ns"; return 1; }
	skv_bridge "$SW" "$NET" A B C || return 1
	start_coord --replicas 2 --dead-after-ms 3000 --evict-after-ms 6000 || return 1
	for n in A B C; do
		start_node $n
	done
	skv_cluster_ready "$SW" "$COORD" "$PORT" A B C || return 1
	ctl create-table $TABLE --nodes "${ID[A]}" || { skv_fail "create-table $TABLE"; return 1; }
	skv_repl_ready 2 A B C
}

# replica_end NS NAME: where the replica of node NAME held in NS ends.
replica_end() {
	skv_ctl "$1" -j repl replicas | jq -r --argjson p "${ID[$2]}" \
		'.[] | select(.primary_id == $p) | .replica_end'
}

# recovered NAME: node NAME is dead, owns nothing, and nothing is lost.
recovered() {
	ctlj map | jq -e --argjson n "${ID[$1]}" '
		(.nodes[] | select(.id == $n) | .health == "dead") and
		([.tablets[] | select(.owner == $n or .lost)] | length == 0)' >/dev/null
}

# owner_addr TABLE: ADDR:PORT of the owner of hash 0 of TABLE by the map.
owner_addr() {
	local o
	o=$(owner "$1" "$ZERO")
	ctlj map | jq -r --argjson o "$o" '.nodes[] | select(.id == $o) | .addr'
}

# put_at_b PREFIX: AFTER_KEYS acknowledged writes routed by the map (B
# owns the range), keys PREFIX-i, replicated as usual; each key's version
# goes to $SKV_TMP/acked-PREFIX and PREFIX to WANT.
put_at_b() {
	tool "$SW" cluster-put "$COORD" $TABLE "$1" $AFTER_KEYS >"$SKV_TMP/acked-$1" || {
		skv_fail "writes $1-* not all acknowledged:" \
			"$(grep -v ' OK ' "$SKV_TMP/acked-$1" | head -n 3 | tr '\n' ' ')"
		return 1
	}
	WANT+=("$1")
}

# fill_at_a: table TABLE at A, the keys lin-* and big-*.
fill_at_a() {
	if ! tool "$SW" fill "${IP[A]}:$PORT" $TABLE $FILL_KEYS $FILL_SIZE lin ||
		! tool "$SW" fill "${IP[A]}:$PORT" $TABLE $BIG_KEYS $BIG_SIZE big; then
		skv_fail "fill table $TABLE at A"
		return 1
	fi
}

# all_back ADDR: every filled key reads back intact at ADDR (the lost ones
# are counted), and every key written by put_at_b at the version and
# value acknowledged.
all_back() {
	local addr=$1 p lost rc out
	tool "$SW" check "$addr" $TABLE $BIG_KEYS $BIG_SIZE big 2>"$SKV_TMP/check.err" ||
		{ skv_fail "the $BIG_SIZE-byte values not all intact at $addr:" \
			"$(head -n 3 "$SKV_TMP/check.err" | tr '\n' ' ')"; return 1; }
	tool "$SW" check "$addr" $TABLE $FILL_KEYS $FILL_SIZE lin 2>"$SKV_TMP/check.err"
	rc=$?
	lost=$(grep -c '^skv_tool: lin-' "$SKV_TMP/check.err")
	((lost == 0)) || { skv_fail "$lost of $FILL_KEYS migrated keys lost or wrong after B's" \
		"crash: $(head -n 3 "$SKV_TMP/check.err" | tr '\n' ' ')"; return 1; }
	# No key named, yet a failure: the check could not read (connection).
	((rc == 0)) || { skv_fail "check at $addr failed: $(head -n 3 "$SKV_TMP/check.err" |
		tr '\n' ' ')"; return 1; }
	for p in "${WANT[@]}"; do
		tool "$SW" cluster-get "$COORD" $TABLE "$p" $AFTER_KEYS >"$SKV_TMP/read-$p" ||
			{ skv_fail "keys $p-* not all read after the crash:" \
				"$(grep -v ' OK ' "$SKV_TMP/read-$p" | head -n 3 | tr '\n' ' ')"; return 1; }
		out=$(awk -v p="$p" '{ i = $1; sub("^" p "-", "", i); print $0, "value-" i }' \
			"$SKV_TMP/acked-$p" | diff - "$SKV_TMP/read-$p") ||
			{ skv_fail "keys $p-* after the crash (acknowledged < > read):" \
				"$(head -n 6 <<<"$out" | tr '\n' ' ')"; return 1; }
	done
}

# t_migrated_then_crash MODE: the migration in that mode.
t_migrated_then_crash() {
	local mode=$1 out id before after addr
	WANT=()
	setup_lineage || return 1
	fill_at_a || return 1
	before=$(replica_end "$A" B)

	migrate_wait $TABLE 0-max "${ID[B]}" --mode "$mode" || return 1
	id=$(last_mig_id)
	out=$(ctlj status "$id" | jq -r '"\(.state) \(.msg)"')
	skv_info "migration $id: $out"
	[[ $out == done* ]] || { skv_fail "migration $id ended $out"; return 1; }
	[[ $(owner $TABLE "$ZERO") == "${ID[B]}" ]] ||
		{ skv_fail "table $TABLE owned by $(owner $TABLE "$ZERO"), not B"; return 1; }
	after=$(replica_end "$A" B)
	skv_info "B's replica at A: ended at $before before the migration, $after after"
	put_at_b after || return 1

	# B crashes: its daemon killed, its namespace (node, module state) deleted.
	kill "${NODE_PID[B]}" && wait "${NODE_PID[B]}" 2>/dev/null
	ip netns del "$B" || { skv_fail "ip netns del B"; return 1; }
	slowwait "$SKV_WAIT" recovered B ||
		{ skv_fail "B's tablets not recovered: $(ctlj map | jq -c .tablets)"; return 1; }
	addr=$(owner_addr $TABLE)
	skv_info "table $TABLE recovered at $addr"

	all_back "$addr" || return 1
	# The target re-replicated what it received: B's stream at A grew by
	# the migrated values at least.
	((after - before >= FILL_KEYS * FILL_SIZE)) || { skv_fail "B's replica at A grew by" \
		"$((after - before)) bytes over the migration, want >= $((FILL_KEYS * FILL_SIZE))"; return 1; }
}

# mid_migration: the table filled at A starts to move to B, slowed at A
# (one record per pull, A's packets MID_DELAY late), so that it is mid-way
# when a node crashes; keys are written at B (the owner since PREPARE)
# meanwhile.  MID_ID: the migration.
mid_migration() {
	local out
	WANT=()
	setup_lineage || return 1
	fill_at_a || return 1
	skv_slow_link "$A" eth0 $MID_DELAY || return 1
	ctl migrate $TABLE 0-max --to "${ID[B]}" "${SLOW_OPTS[@]}" >/dev/null ||
		{ skv_fail "migrate"; return 1; }
	MID_ID=$(last_mig_id)
	mid_way "$MID_ID" || return 1
	# B owns the range now: writes there are acknowledged.
	put_at_b during || return 1
	read -r out _ <<<"$(mig_state "$MID_ID")"
	[[ $out == pulling ]] ||
		{ skv_fail "migration $MID_ID $out before the crash, not pulling"; return 1; }
}

# crash_recovered NAME: node NAME crashes (daemon killed, namespace
# deleted); its tablets are recovered; every key reads back at the new
# owner, which must be node AT, and serves table TABLE NORMAL.
crash_recovered() {
	local name=$1 at=$2 ns
	kill "${NODE_PID[$name]}" && wait "${NODE_PID[$name]}" 2>/dev/null
	ip netns del "${!name}" || { skv_fail "ip netns del $name"; return 1; }
	[[ $name == A ]] || skv_fast_link "$A" eth0
	slowwait "$SKV_WAIT" recovered "$name" ||
		{ skv_fail "$name's tablets not recovered: $(ctlj map | jq -c .tablets)"; return 1; }
	skv_info "migration $MID_ID: $(ctlj status "$MID_ID" | jq -r '"\(.state): \(.msg)"')"
	all_back "$(owner_addr $TABLE)" || return 1
	[[ $(owner $TABLE "$ZERO") == "${ID[$at]}" ]] ||
		{ skv_fail "table $TABLE recovered at node $(owner $TABLE "$ZERO"), not at $at"; return 1; }
	# AT serves the whole range (no migration holds it there any more).
	ns=${!at}
	skv_ctl "$ns" -j tablet list | jq -e --argjson t $TABLE '[.[] | select(.table_id == $t)] |
		length == 1 and .[0].state == "normal"' >/dev/null ||
		{ skv_fail "$at's tablets: $(skv_ctl "$ns" -j tablet list)"; return 1; }
}

# t_target_dies_mid_migration: B crashes mid-migration.  The range is
# recovered at A, the source: its copy plus B's replica.
t_target_dies_mid_migration() {
	mid_migration || return 1
	crash_recovered B A
}

# mig_re_replicating ID: migration ID is in its re-replication phase.
mig_re_replicating() { [[ $(mig_state "$1") == re-replicating* ]]; }

# t_target_dies_re_replicating: B crashes after its last pull, while it
# hands the range to its backups (A and C) before END.  B's traffic to C
# is dropped, so C never holds the phase's first append (64 KiB or one
# big record; they go one at a time) and the phase cannot end while B
# lives, however long the kill takes (a delay instead was outrun on the
# debug kernel); the pulls (B to A) are not touched.  A's replica of B must not hold the
# whole range when B dies.
# The range is rebuilt at A: its frozen copy plus B's replica.
t_target_dies_re_replicating() {
	local before after
	WANT=()
	MID_ID=
	setup_lineage || return 1
	fill_at_a || return 1
	before=$(replica_end "$A" B)
	skv_cut_link "$B" eth0 "${IP[C]}" || return 1
	ctl migrate $TABLE 0-max --to "${ID[B]}" >/dev/null || { skv_fail "migrate"; return 1; }
	MID_ID=$(last_mig_id)
	slowwait "$SKV_WAIT" mig_re_replicating "$MID_ID" ||
		{ skv_fail "migration $MID_ID never seen re-replicating: $(mig_state "$MID_ID")"; return 1; }
	kill "${NODE_PID[B]}" && wait "${NODE_PID[B]}" 2>/dev/null
	ip netns del "$B" || { skv_fail "ip netns del B"; return 1; }
	after=$(replica_end "$A" B)
	skv_info "B's replica at A when B died: $((after - before)) bytes of the range's $((FILL_KEYS * FILL_SIZE))+"
	((after - before < FILL_KEYS * FILL_SIZE)) ||
		{ skv_fail "B had re-replicated the whole range before it died: not mid-phase"; return 1; }
	slowwait "$SKV_WAIT" recovered B ||
		{ skv_fail "B's tablets not recovered: $(ctlj map | jq -c .tablets)"; return 1; }
	skv_info "migration $MID_ID: $(ctlj status "$MID_ID" | jq -r '"\(.state): \(.msg)"')"
	all_back "$(owner_addr $TABLE)" || return 1
	[[ $(owner $TABLE "$ZERO") == "${ID[A]}" ]] ||
		{ skv_fail "table $TABLE recovered at node $(owner $TABLE "$ZERO"), not at A"; return 1; }
}

# t_source_dies_mid_migration: the mirror image, A crashes mid-pull, most
# records not pulled yet.  The range is completed at B, the target: what
# it pulled and took, plus A's replica (B is A's backup).
t_source_dies_mid_migration() {
	mid_migration || return 1
	crash_recovered A B
}

# node_up NAME: the coordinator has node NAME up.
node_up() {
	ctlj map | jq -e --argjson n "${ID[$1]}" '.nodes[] | select(.id == $n) | .health == "up"' \
		>/dev/null
}

# t_partition_evicts_source: mid-migration, B's packets to A dropped for
# good, the migration cancelled: B cannot push the range back, so it ends
# frozen at both ("tablet needs recovery"), and the coordinator cannot
# have it handed back either.  After --evict-after-ms it declares A
# dead though A lives (evicted): the range, with A's unpulled records, is
# completed at B from A's replica (the path a crash of A takes too:
# test-coordinator frozen_range_source_dies), and A, back as a new
# incarnation once that is done, drops its frozen copy (the decision to
# commit).  B, A's primary again and cut off from it, serves nothing until
# the link heals; then nothing is lost.
t_partition_evicts_source() {
	local saved rc=0 out
	saved=$(<"$PARAMS/mig_retry_ms") || return 1
	mid_migration || return 1
	echo 2000 >"$PARAMS/mig_retry_ms" || { skv_fail "mig_retry_ms"; return 1; }
	skv_cut_link "$B" eth0 "${IP[A]}" || rc=1
	((rc)) || ctl cancel "$MID_ID" || { skv_fail "cancel $MID_ID"; rc=1; }
	((rc)) || ended "$MID_ID" failed || rc=1
	skv_fast_link "$A" eth0
	if ((!rc)); then
		slowwait $((SKV_WAIT * 2)) completed_at_b ||
			{ skv_fail "A not evicted and its range not completed at B:" \
				"$(ctlj status "$MID_ID" | jq -r .msg) $(ctlj map | jq -c .)"; rc=1; }
	fi
	((rc)) || skv_info "migration $MID_ID: $(ctlj status "$MID_ID" | jq -r .msg)"
	((rc)) || slowwait "$SKV_WAIT" node_up A ||
		{ skv_fail "A not back after the eviction: $(ctlj map | jq -c .nodes)"; rc=1; }
	((rc)) || slowwait "$SKV_WAIT" bash -c "ip netns exec $A steadykvctl -j tablet list |
		jq -e 'map(select(.table_id == $TABLE)) == []'" >/dev/null ||
		{ skv_fail "A kept its frozen copy: $(skv_ctl "$A" -j tablet list)"; rc=1; }
	# A back is B's backup again, and B cannot reach it: B has no read
	# lease (kmod/repl_primary.c "Leases") and answers nothing until the
	# link heals (its writes could not be held anyway).
	((rc)) || slowwait "$SKV_WAIT" bash -c "ip netns exec $SW skv_tool get $(owner_addr $TABLE) \
		$TABLE lin-0 | grep -q '^NOT_OWNER'" ||
		{ skv_fail "B answered with a backup it cannot reach: $(ip netns exec "$SW" \
			skv_tool get "$(owner_addr $TABLE)" $TABLE lin-0 2>&1)"; rc=1; }
	skv_fast_link "$B" eth0
	((rc)) || slowwait "$SKV_WAIT" bash -c "ip netns exec $SW skv_tool get $(owner_addr $TABLE) \
		$TABLE lin-0 | grep -q '^OK'" || { skv_fail "B does not serve once healed"; rc=1; }
	((rc)) || all_back "$(owner_addr $TABLE)" || rc=1
	echo "$saved" >"$PARAMS/mig_retry_ms"
	return $rc
}

# completed_at_b: the migration says its range was completed at B (A was
# declared dead), B owns table TABLE and nothing is lost.
completed_at_b() {
	[[ $(ctlj status "$MID_ID" | jq -r .msg) == *"completed at the target"* ]] &&
		ctlj map | jq -e --argjson b "${ID[B]}" --argjson t $TABLE '
			([.tablets[] | select(.lost)] | length == 0) and
			([.tablets[] | select(.table == $t) | .owner] | unique == [$b])' >/dev/null
}

ktap_print_header
skv_test "a migrated table survives a crash of its target after the migration" t_migrated_then_crash rocksteady
skv_teardown_cluster
skv_test "without lineage (every pulled batch replicated): the same crash, nothing lost" t_migrated_then_crash replicated
skv_teardown_cluster
skv_test "the target dies mid-migration: the range rebuilt at the source, nothing lost" t_target_dies_mid_migration
skv_teardown_cluster
skv_test "the target dies while it re-replicates: the range rebuilt at the source, nothing lost" t_target_dies_re_replicating
skv_teardown_cluster
skv_test "the source dies mid-migration: the range completed at the target, nothing lost" t_source_dies_mid_migration
skv_teardown_cluster
skv_test "a partition that does not heal: the source evicted, the range completed at the target" t_partition_evicts_source
skv_finish
