#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lost migration messages (issue 12): the cluster of migration.sh, recorded
# clients (skv-history) on the table whose range moves, and the test knob
# (skv_tool mig-fault: netlink node-set mig-fault-*) at the source, which
# drops exactly one chosen message, or refuses one, during a real
# migration.  Each test checks that the migration ends as it must, that
# the checker finds nothing in the clients' history (and that enough of
# their operations overlapped the faulted migration: the clients run from
# before it starts until the test is over), that the map and the nodes
# agree afterwards (one node serves each range: map_consistent), and that
# the range then migrates again.  The last test fails tablet changes with
# the module's fault points instead (debug kernels only).
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh
# shellcheck source=mig_cluster.sh
source selftests/mig_cluster.sh

UPPER=0x8000000000000000-max
# Records under the clients' keys, so that a slowed migration is still
# pulling when the test acts (see SLOW_OPTS): FILL * 200 B / 2 in the
# upper half, pulled 1 KiB per SLOW_DELAY, at least 15 s on any host.
FILL=16000
# Wire opcodes and statuses (steadykv/wire.h) and the knob's modes
# (enum steadykv_mig_fault_mode).
OP_PREPARE=6
OP_END=9
OP_PUSH_BACK=10
S_NO_SPACE=4
DROP_REPLY=1
DROP_REQUEST=2
REFUSE=3
PARAMS=/sys/module/steadykv/parameters

# fault NODE OP MODE STATUS COUNT: the knob at NODE (A, B or C).
fault() {
	ip netns exec "${!1}" skv_tool mig-fault "$2" "$3" "$4" "$5" ||
		{ skv_fail "mig-fault at $1"; return 1; }
}

# fired OP MODE: how often the knob has acted on OP with MODE (kernel log).
fired() {
	dmesg | grep -c "steadykv: mig-fault: opcode $1, mode $2\$"
}

# table_on_a T: table T on node 1 (A), with FILL records besides the
# clients' keys.
table_on_a() {
	ctl create-table "$1" --nodes 1 || { skv_fail "create-table $1"; return 1; }
	ip netns exec "$SW" skv_tool fill "${IP[A]}:$PORT" "$1" $FILL 200 pad ||
		{ skv_fail "fill table $1"; return 1; }
}

# clients T SEED [ARGS]: recorded clients on table T, under way (past
# their preload), until clients_over; their output in HIST_OUT.  The
# checker fails unless 20 decided operations overlapped the window between
# mark migration-start and mark migration-end.
clients() {
	local ready=$SKV_TMP/ready-$1
	HIST_OUT=$SKV_TMP/hist-$1
	MARKS=$SKV_TMP/marks-$1
	OVER=$SKV_TMP/over-$1
	: >"$MARKS"
	history "$1" 5 "$HIST_OUT" --seed "$2" --min-ops 200 --mark-file "$MARKS" \
		--min-overlap 20 --ready-file "$ready" --run-until "$OVER" "${@:3}"
	skv_wait_file "$ready" || { skv_fail "skv-history did not start"; return 1; }
}

mark() { echo "$(date +%s%N) migration-$1" >>"$MARKS"; }

# clients_over: the clients stop; the checker must find nothing.
clients_over() {
	touch "$OVER"
	history_ok "$HIST_OUT"
}

# clients_and_fault T SEED OP MODE STATUS COUNT: table T on A, recorded
# clients on it (clients), and the knob set at A for OP; BEFORE: how often
# the knob had acted on OP with MODE.
clients_and_fault() {
	table_on_a "$1" || return 1
	clients "$1" "$2" || return 1
	BEFORE=$(fired "$3" "$4")
	fault A "$3" "$4" "$5" "$6"
}

# slow_cancel T RANGE ID_VAR [WRITES]: a slowed migration of RANGE of T
# from A to B, cancelled mid-way (its id in ID_VAR), after WRITES records
# were written at B (skv_tool fill: RANGE must be T's whole space).
slow_cancel() {
	local t=$1 id
	skv_slow_link "$A" eth0 $SLOW_DELAY || return 1
	mark start
	ctl migrate "$t" "$2" --to 2 "${SLOW_OPTS[@]}" >/dev/null ||
		{ skv_fail "migrate"; return 1; }
	id=$(last_mig_id)
	printf -v "$3" '%s' "$id"
	mid_way "$id" || return 1
	if (($# > 3)); then
		ip netns exec "$SW" skv_tool fill "${IP[B]}:$PORT" "$t" "$4" 200 w ||
			{ skv_fail "writes at the target"; return 1; }
	fi
	ctl cancel "$id" || { skv_fail "cancel $id"; return 1; }
	ended "$id" cancelled || return 1
	mark end
	skv_fast_link "$A" eth0
}

# after_fault T OWNER OP MODE BEFORE: the knob acted on OP once more than
# BEFORE, the map gives T's upper half to OWNER and every node serves what
# the map says; then the half moves to the other of A and B.
after_fault() {
	local t=$1 owner=$2 n
	n=$(fired "$3" "$4")
	((n > $5)) || { skv_fail "the knob never acted on opcode $3 (mode $4)"; return 1; }
	[[ $(owner "$t" 0x8000000000000000) == "$owner" ]] ||
		{ skv_fail "the upper half of $t is at $(owner "$t" 0x8000000000000000), not $owner"; return 1; }
	slowwait "$SKV_WAIT" map_consistent "$t" >/dev/null || map_consistent "$t" || return 1
	migrate_wait "$t" $UPPER $((3 - owner)) || return 1
	map_consistent "$t"
}

# (a) The reply to END with ABORT is lost: the target asks again and gets
# OK (the source remembers the outcome); the range is served by the
# source only, and moves again later.
abort_reply_lost() {
	local t=11 id
	clients_and_fault $t 11 $OP_END $DROP_REPLY 0 1 || return 1
	slow_cancel $t $UPPER id || return 1
	after_fault $t 1 $OP_END $DROP_REPLY "$BEFORE" || return 1
	clients_over
}

# (b) The replies to PREPARE are lost after the source applied it: once
# (the target's PREPARE again gets the same answer and the migration
# proceeds), then every time (the target gives up and aborts it at the
# source, which serves the range again).
prepare_replies_lost() {
	local t=12 id before
	clients_and_fault $t 12 $OP_PREPARE $DROP_REPLY 0 1 || return 1
	mark start
	migrate_wait $t $UPPER 2 || return 1
	mark end
	((BEFORE + 1 == $(fired $OP_PREPARE $DROP_REPLY))) ||
		{ skv_fail "the knob did not drop exactly one PREPARE reply"; return 1; }
	map_consistent $t || return 1
	# Back to A, every PREPARE reply from B (the source) lost.
	before=$(fired $OP_PREPARE $DROP_REPLY)
	fault B $OP_PREPARE $DROP_REPLY 0 4 || return 1
	ctl migrate $t $UPPER --to 1 >/dev/null 2>&1
	id=$(last_mig_id)
	ended "$id" failed || return 1
	after_fault $t 2 $OP_PREPARE $DROP_REPLY "$before" || return 1
	clients_over
}

# (c) The source refuses the rollback's push-back twice (NO_SPACE): the
# target keeps the range frozen and sends it again; nothing written at the
# target (by the clients, and 50 records more) is lost, no key reads as
# absent.
push_back_refused() {
	local t=13 id
	clients_and_fault $t 13 $OP_PUSH_BACK $REFUSE $S_NO_SPACE 2 || return 1
	slow_cancel $t 0-max id 50 || return 1
	((BEFORE + 2 == $(fired $OP_PUSH_BACK $REFUSE))) ||
		{ skv_fail "the knob did not refuse two push-backs"; return 1; }
	ip netns exec "$SW" skv_tool check "${IP[A]}:$PORT" $t 50 200 w ||
		{ skv_fail "writes made at the target are not at the source"; return 1; }
	after_fault $t 1 $OP_PUSH_BACK $REFUSE "$BEFORE" || return 1
	clients_over
}

# (d) The push baseline: clients delete and write while the source copies
# the range and keeps serving it, its cleaner running (a small memory
# limit); deleted keys must not come back at the target.
push_baseline_cleaning() {
	local t=14 before after
	ctl create-table $t --nodes 3 || return 1
	ip netns exec "$C" steadykvctl node set mem-limit 24M >/dev/null ||
		{ skv_fail "mem-limit"; return 1; }
	before=$(cleaner_passes "$C")
	clients $t 14 --value-size 4000 --rate 0 || return 1
	slowwait "$SKV_WAIT" until_counter_is "> $before" cleaner_passes "$C" >/dev/null ||
		{ skv_fail "the source's cleaner never ran under the clients"; return 1; }
	mark start
	migrate_wait $t "0-max" 1 --mode push || return 1
	mark end
	clients_over || return 1
	after=$(cleaner_passes "$C")
	skv_info "source cleaner passes: $before -> $after"
	map_consistent $t
}

# (e) The reply to END (commit) is lost: the target asks again and gets
# OK; then the END itself is lost every time: the target ends done all
# the same, and the coordinator's decision has the source drop its copy.
# Each time the source keeps no copy and the range migrates back.
commit_reply_lost() {
	local t=15 before
	clients_and_fault $t 15 $OP_END $DROP_REPLY 0 1 || return 1
	mark start
	migrate_wait $t $UPPER 2 || return 1
	mark end
	after_fault $t 2 $OP_END $DROP_REPLY "$BEFORE" || return 1
	# Now at A again: B's END never arrives.
	before=$(fired $OP_END $DROP_REQUEST)
	fault A $OP_END $DROP_REQUEST 0 4 || return 1
	migrate_wait $t $UPPER 2 || return 1
	after_fault $t 2 $OP_END $DROP_REQUEST "$before" || return 1
	clients_over
}

# (h) The source has no memory for its map at END and refuses it
# NO_SPACE (as it answers then): the target sends END again, on a cancel
# (abort) and on a commit; each migration ends as it would have, the nodes
# hold what the map says (the source no copy after the commit), and no
# message tells of an END not acknowledged.
end_no_space() {
	local t=18 id msg before
	clients_and_fault $t 18 $OP_END $REFUSE $S_NO_SPACE 2 || return 1
	slow_cancel $t $UPPER id || return 1
	((BEFORE + 2 == $(fired $OP_END $REFUSE))) ||
		{ skv_fail "the knob did not refuse two ENDs with abort"; return 1; }
	[[ $(owner $t 0x8000000000000000) == 1 ]] ||
		{ skv_fail "the upper half of $t is not back at A"; return 1; }
	map_consistent $t || return 1
	before=$(fired $OP_END $REFUSE)
	fault A $OP_END $REFUSE $S_NO_SPACE 2 || return 1
	migrate_wait $t $UPPER 2 || return 1
	id=$(last_mig_id)
	((before + 2 == $(fired $OP_END $REFUSE))) ||
		{ skv_fail "the knob did not refuse two ENDs"; return 1; }
	msg=$(ctlj status "$id" | jq -r .msg)
	[[ $msg != *"did not acknowledge"* ]] || { skv_fail "END not sent again: $msg"; return 1; }
	map_consistent $t || return 1
	clients_over
}

# The module's fault points (kmod/faults.h; debug kernels): a target's
# tablet changes, a source's at END.
TGT_FAULT=/sys/kernel/debug/steadykv_fail_tgt_tablet
SRC_FAULT=/sys/kernel/debug/steadykv_fail_src_end

# mod_fault DIR N: the next N passes through fault point DIR fail as if
# out of memory.
mod_fault() {
	if ! { echo 0 >"$1/verbose" && echo 1 >"$1/interval" &&
		echo "$2" >"$1/times" && echo 100 >"$1/probability"; }; then
		skv_fail "cannot set $1"
		return 1
	fi
}

# mod_fault_spent DIR WHAT: every failure set at DIR was injected; then
# none more.
mod_fault_spent() {
	local left
	left=$(<"$1/times")
	echo 0 >"$1/probability"
	[[ $left == 0 ]] || { skv_fail "$left failures at ${1##*/} not injected ($2)"; return 1; }
}

# (i) The target finds no memory to change its tablet map, three times
# each when a cancel stops it serving the range, when it deletes the range
# it handed back and when the end of a migration has it serve for good;
# the source none for its map at that END, twice: each change is tried
# again (before, the first left the range frozen at both nodes, the second
# a dead frozen entry at the target, the third the range "migrating in"
# for ever, the fourth the source's copy kept), the migrations end
# cancelled and done, and the map and the nodes agree.  mig_retry_ms is
# set past the test's length, as the rollback waits at END for it.
tgt_tablet_no_memory() {
	local t=19 id before
	[[ -d $TGT_FAULT ]] ||
		{ skv_info "no $TGT_FAULT (CONFIG_FAULT_INJECTION_DEBUG_FS)"; return "${ksft_skip:?}"; }
	echo 3600000 >"$PARAMS/mig_retry_ms" || { skv_fail "mig_retry_ms"; return 1; }
	table_on_a $t || return 1
	clients $t 19 || return 1
	skv_slow_link "$A" eth0 $SLOW_DELAY || return 1
	mark start
	ctl migrate $t $UPPER --to 2 "${SLOW_OPTS[@]}" >/dev/null || { skv_fail "migrate"; return 1; }
	id=$(last_mig_id)
	mid_way "$id" || return 1
	# Held at END (refused until the knob is cleared), past stopping to serve.
	before=$(fired $OP_END $REFUSE)
	fault A $OP_END $REFUSE $S_NO_SPACE 100000 || return 1
	mod_fault "$TGT_FAULT" 3 || return 1
	ctl cancel "$id" || { skv_fail "cancel $id"; return 1; }
	slowwait "$SKV_WAIT" until_counter_is "> $before" fired $OP_END $REFUSE >/dev/null ||
		{ skv_fail "the target never sent END"; return 1; }
	mod_fault_spent "$TGT_FAULT" "stopping to serve" || return 1
	mod_fault "$TGT_FAULT" 3 || return 1
	fault A $OP_END 0 0 0 || return 1
	ended "$id" cancelled || return 1
	mark end
	mod_fault_spent "$TGT_FAULT" "deleting the range handed back" || return 1
	skv_fast_link "$A" eth0
	[[ $(owner $t 0x8000000000000000) == 1 ]] ||
		{ skv_fail "the upper half of $t is not back at A"; return 1; }
	map_consistent $t || return 1
	# Commit: A's END fails twice, then B's change to serve it thrice.
	skv_slow_link "$A" eth0 $SLOW_DELAY || return 1
	ctl migrate $t $UPPER --to 2 "${SLOW_OPTS[@]}" >/dev/null || { skv_fail "migrate"; return 1; }
	id=$(last_mig_id)
	mid_way "$id" || return 1
	mod_fault "$SRC_FAULT" 2 || return 1
	mod_fault "$TGT_FAULT" 3 || return 1
	skv_fast_link "$A" eth0
	ended "$id" "done" || return 1
	mod_fault_spent "$SRC_FAULT" "the source's END" || return 1
	mod_fault_spent "$TGT_FAULT" "serving the range" || return 1
	[[ $(owner $t 0x8000000000000000) == 2 ]] ||
		{ skv_fail "the upper half of $t is not at B"; return 1; }
	map_consistent $t || return 1
	clients_over
}

# tgt_fault_after FN: retry_after FN, then no failure injected and no
# END knob set at A, whatever FN did.
tgt_fault_after() {
	local rc
	retry_after "$@"
	rc=$?
	[[ ! -d $TGT_FAULT ]] || echo 0 >"$TGT_FAULT/probability"
	[[ ! -d $SRC_FAULT ]] || echo 0 >"$SRC_FAULT/probability"
	fault A $OP_END 0 0 0
	return $rc
}

# freeze_by_cancel T PREFIX ID_VAR [cut]: a slowed migration of all of T to
# B (its id in ID_VAR, not named mig), 50 records written at B under PREFIX, then (with
# cut: B's packets to A dropped first) cancelled with mig_retry_ms 2 s: it
# must end failed with the range frozen, the map keeping B the owner and B
# answering NOT_OWNER.
freeze_by_cancel() {
	local t=$1 mig out
	echo 2000 >"$PARAMS/mig_retry_ms" || { skv_fail "mig_retry_ms"; return 1; }
	skv_slow_link "$A" eth0 $SLOW_DELAY || return 1
	mark start
	ctl migrate "$t" 0-max --to 2 "${SLOW_OPTS[@]}" >/dev/null || { skv_fail "migrate"; return 1; }
	mig=$(last_mig_id)
	printf -v "$3" '%s' "$mig"
	mid_way "$mig" || return 1
	ip netns exec "$SW" skv_tool fill "${IP[B]}:$PORT" "$t" 50 200 "$2" ||
		{ skv_fail "writes at the target"; return 1; }
	if (($# > 3)); then
		skv_cut_link "$B" eth0 "${IP[A]}" || return 1
	fi
	ctl cancel "$mig" || { skv_fail "cancel $mig"; return 1; }
	ended "$mig" failed || return 1
	out=$(ctlj status "$mig" | jq -r .msg)
	[[ $out == *"tablet needs recovery"* ]] || { skv_fail "want a frozen range, got: $out"; return 1; }
	[[ $(owner "$t" 0x8000000000000000) == 2 ]] ||
		{ skv_fail "the map did not keep B the owner of the frozen range"; return 1; }
	out=$(ip netns exec "$SW" skv_tool get "${IP[B]}:$PORT" "$t" "$2-0")
	[[ $out == "NOT_OWNER"* ]] || { skv_fail "$2-0 read at frozen B: $out (want NOT_OWNER)"; return 1; }
}

# back_at_a T ID PREFIX: the coordinator's decision has B hand migration
# ID's frozen range back: A owns and serves it with B's writes (PREFIX),
# the nodes agree with the map, the range migrates again and the clients'
# history passes.
back_at_a() {
	slowwait $((SKV_WAIT * 2)) handed_back "$2" ||
		{ skv_fail "not handed back: $(ctlj status "$2" | jq -r .msg)"; return 1; }
	mark end
	skv_fast_link "$A" eth0
	skv_info "migration $2: $(ctlj status "$2" | jq -r .msg)"
	ip netns exec "$SW" skv_tool check "${IP[A]}:$PORT" "$1" 50 200 "$3" ||
		{ skv_fail "writes made at the target are not at the source"; return 1; }
	[[ $(owner "$1" 0x8000000000000000) == 1 ]] ||
		{ skv_fail "the map did not give the range back to A"; return 1; }
	slowwait "$SKV_WAIT" map_consistent "$1" >/dev/null || map_consistent "$1" || return 1
	migrate_wait "$1" $UPPER 2 || return 1
	map_consistent "$1" || return 1
	clients_over
}

# (f) The source refuses the rollback's push-back for longer than
# mig_retry_ms: the range stays frozen at both nodes ("tablet needs
# recovery"); once the source takes push-backs again, B hands it back.
push_back_frozen() {
	local t=16 id
	clients_and_fault $t 16 $OP_PUSH_BACK $REFUSE $S_NO_SPACE 1000000 || return 1
	freeze_by_cancel $t w id || return 1
	fault A $OP_PUSH_BACK 0 0 0 || return 1
	back_at_a $t "$id" w
}

# (g) A partition between the source and the target only (B's packets to
# A dropped) when the migration is cancelled: the push-back is never
# answered, the range stays frozen at both, and the coordinator's
# decisions fail while the partition lasts; once it heals, B hands it back.
partition_frozen() {
	local t=17 id out
	table_on_a $t || return 1
	clients $t 17 || return 1
	freeze_by_cancel $t p id cut || return 1
	out=$(ctlj status "$id" | jq -r .msg)
	[[ $out == *"did not answer"* ]] ||
		{ skv_fail "want the source not answering; got: $out"; return 1; }
	skv_fast_link "$B" eth0
	back_at_a $t "$id" p
}

# handed_back ID: the coordinator says migration ID's frozen range went back.
handed_back() {
	[[ $(ctlj status "$1" | jq -r .msg) == *"handed back to the source"* ]]
}

# retry_after FN: FN, then mig_retry_ms, the knob and the links as they were.
retry_after() {
	local rc saved
	saved=$(<"$PARAMS/mig_retry_ms") || return 1
	"$@"
	rc=$?
	echo "$saved" >"$PARAMS/mig_retry_ms"
	fault A $OP_PUSH_BACK 0 0 0
	skv_fast_link "$A" eth0
	skv_fast_link "$B" eth0
	return $rc
}

# fast_after FN: FN, then A's link at full speed again whatever FN did.
fast_after() {
	local rc
	"$@"
	rc=$?
	skv_fast_link "$A" eth0
	return $rc
}

ktap_print_header
setup || { skv_dmesg_clean; ktap_test_fail "setup"; skv_finish; }
skv_test "(a) END abort reply lost: retried END is OK, one owner" fast_after abort_reply_lost
skv_test "(b) PREPARE replies lost: proceeds once, aborted when all are lost" prepare_replies_lost
skv_test "(c) push-back refused: range kept frozen, sent again, nothing lost" fast_after push_back_refused
skv_test "(d) push baseline with the source cleaning: deletes stay deleted" push_baseline_cleaning
skv_test "(e) END commit reply lost, then END lost: the source drops its copy" commit_reply_lost
skv_test "(f) push-back refused past mig_retry_ms: frozen, handed back on the coordinator's decision" retry_after push_back_frozen
skv_test "(g) partition between source and target: frozen, handed back once healed" retry_after partition_frozen
skv_test "(h) END refused for want of memory at the source: sent again, on abort and commit" fast_after end_no_space
skv_test "(i) target's tablet changes without memory: tried again, cancelled and done" tgt_fault_after tgt_tablet_no_memory
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
