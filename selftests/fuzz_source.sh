#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A faulty source (selftests/fake_source.c) against a real target: the
# fake answers PREPARE normally, then every pull with a corrupt, truncated,
# miscounted, oversized, out-of-range or other-table batch (one mode per
# migration).  The target must refuse: the migration ends failed with an
# error, the keys of the range are refused or read the source's own
# values (never garbage), the keys the target owned before (the low half
# of the migrating table, and table 8) read back intact, and the kernel log stays clean
# (run.sh checks it after this program).  Each mode migrates a table of
# its own (21, 22, ...), whose low half the target owns beforehand.
#
# The target refuses a batch with any record outside the table, the hash
# part or the versions it asked for (kmod/mig_target_pull.c,
# skv_tgt_bounds), which the outofrange, othertable and newer (a version
# above the safe one) modes check; and a safe version past the version
# ceiling (mode ceiling) at PREPARE; and gives up on a pull whose reply
# trickles in (mode trickle) at peer_call_timeout_s for the whole call.
# Last, the fake plays a backup that lies about its replica (mode backup).
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
FPORT=7100
FA=10.97.0.1
TA=10.97.0.2
HALF=9223372036854775808
LOW_END=9223372036854775807
MAX=18446744073709551615
OTHER_TABLE=8
# hi-N names tried by check-range (about half are of the migrated half).
RANGE_NAMES=200
WAIT=120
ID=0

# The target owns all of table 8, with control keys; for each mode the
# low half of a table of its own, with control keys too, while the fake
# source offers the high half.
setup() {
	setup_ns F T || { skv_fail "setup_ns"; return 1; }
	skv_veth "$F" eth0 "$FA/24" "$T" eth0 "$TA/24" || { skv_fail "veth"; return 1; }
	skv_node_key "$T" || return 1
	skv_ctl "$T" listen start "$TA" $PORT || { skv_fail "target: listen"; return 1; }
	skv_ctl "$T" table add $OTHER_TABLE && skv_ctl "$T" tablet add $OTHER_TABLE min max ||
		{ skv_fail "target: table $OTHER_TABLE"; return 1; }
	tool "$T" ping "$TA:$PORT" $((SKV_WAIT * 1000)) || { skv_fail "target does not answer"; return 1; }
	LOW_KEYS=$(fake_source keys lo 4 low) || { skv_fail "no low-side keys"; return 1; }
	tool "$T" fill "$TA:$PORT" $OTHER_TABLE 200 16 c8 || { skv_fail "fill table $OTHER_TABLE"; return 1; }
}

# After every mode: table 8's keys intact (the othertable mode aims at
# c8-x, checked after each mode), and the target takes and serves writes.
t_table8() {
	tool "$T" check "$TA:$PORT" $OTHER_TABLE 200 16 c8 || skv_fail "table $OTHER_TABLE lost keys"
	tool "$T" fill "$TA:$PORT" $OTHER_TABLE 20 16 after || skv_fail "the target refuses writes"
	tool "$T" check "$TA:$PORT" $OTHER_TABLE 20 16 after || skv_fail "the target does not serve new writes"
	[[ $RET == 0 ]]
}

# controls TABLE: the control keys of TABLE's low half and table 8, as
# fake_source's TABLE/KEY=VALUE arguments.
controls() {
	local k
	for k in $LOW_KEYS; do
		echo "$1/$k=real-$k"
	done
	echo "$OTHER_TABLE/c8-x=real-c8-x"
}

# low_half TABLE: the target owns the low half of TABLE, with control keys.
low_half() {
	skv_ctl "$T" table add "$1" && skv_ctl "$T" tablet add "$1" 0 $LOW_END ||
		{ skv_fail "target: table $1"; return 1; }
	# shellcheck disable=SC2046 # one key a word
	ip netns exec "$T" fake_source put "$TA" $PORT $(controls "$1") ||
		{ skv_fail "control keys of table $1"; return 1; }
}

# faulty MODE: one migration from a fake source in MODE.
faulty() {
	local mode=$1 table=$((21 + ID)) ftable fkey out pid owned=refused
	ftable=$table
	fkey=${LOW_KEYS%%$'\n'*}
	if [[ $mode == othertable ]]; then
		ftable=$OTHER_TABLE
		fkey=c8-x
	fi
	ID=$((ID + 1))
	FPORT=$((FPORT + 1))
	low_half $table || return 1
	rm -f "$SKV_TMP/ready"
	# The foreign record's version beats the control key's, however far
	# an earlier mode's foreign record raised the target's counter.
	skv_bg ip netns exec "$F" fake_source serve "$FA" $FPORT "$mode" "$SKV_TMP/ready" \
		"$ftable" "$fkey" $((1 << (40 + ID)))
	pid=$SKV_LAST_PID
	skv_wait_file "$SKV_TMP/ready" || { skv_fail "fake source not listening"; return 1; }
	tool "$T" migrate-start $ID $table $HALF $MAX "$FA" $FPORT ||
		{ skv_fail "migrate-start refused"; kill "$pid"; return 1; }
	out=$(tool "$T" migrate-wait $ID $WAIT)
	skv_info "migration $ID ($mode): $out"
	[[ $out == "failed "* && $out != *"error=0 "* ]] ||
		skv_fail "want failed with an error, got: $out"
	# A migration wrongly done leaves the range to the target.
	[[ $out == "done "* ]] && owned=owned
	# shellcheck disable=SC2046 # one key a word
	ip netns exec "$T" fake_source check-range "$TA" $PORT $table $RANGE_NAMES $owned \
		$(controls $table) || skv_fail "the target serves a wrong answer"
	kill "$pid"
	wait "$pid" 2>/dev/null
	return 0
}

skv_test "setup: a target with control keys" setup || skv_finish
for mode in corrupt truncated count oversized; do
	skv_test "faulty source ($mode batch): migration fails, no wrong answer" faulty $mode
done
for mode in outofrange othertable newer; do
	skv_test "faulty source ($mode record): migration fails, no wrong answer" faulty $mode
done
skv_test "faulty source (safe version past the ceiling): migration fails, no wrong answer" \
	faulty ceiling
# trickle: the reply comes a byte every 100 ms, so only a deadline for the
# whole call (peer_call_timeout_s, 2 s here) ends it.
trickle() {
	local params=/sys/module/steadykv/parameters old rc
	old=$(cat $params/peer_call_timeout_s) || { skv_fail "no peer_call_timeout_s"; return 1; }
	echo 2 >$params/peer_call_timeout_s
	faulty trickle
	rc=$?
	echo "$old" >$params/peer_call_timeout_s
	return $rc
}

skv_test "faulty source (pull replies a byte at a time): migration fails, no wrong answer" \
	trickle
skv_test "the target's other keys intact, it takes writes" t_table8

# A backup that lies about where its replica ends (fake_source mode
# backup): past the WRITE holding lie-key's record, it claims to end where
# that record's value starts, bytes put-header made a record header of
# length 0.  The primary checks the claim against its own queue and
# refuses it (logged), and answers on; taking it, its sender read that
# header and spun under the lock every write takes.
t_lying_backup() {
	local pid out
	FPORT=$((FPORT + 1))
	rm -f "$SKV_TMP/ready"
	skv_bg ip netns exec "$F" fake_source serve "$FA" $FPORT backup "$SKV_TMP/ready" \
		$OTHER_TABLE lie-key 0
	pid=$SKV_LAST_PID
	skv_wait_file "$SKV_TMP/ready" || { skv_fail "fake backup not listening"; return 1; }
	skv_ctl "$T" repl set 1 1 "$FA:$FPORT" || { skv_fail "repl set"; kill "$pid"; return 1; }
	# Held for a backup that never holds it: the answer does not matter.
	out=$(timeout 120 ip netns exec "$T" fake_source put-header "$TA" $PORT $OTHER_TABLE lie-key)
	skv_info "the PUT behind the lying backup: $out"
	slowwait "$SKV_WAIT" bash -c "dmesg | grep -q 'backup $FA:$FPORT holds'" ||
		skv_fail "the claim was not refused: $(dmesg | grep steadykv | tail -n 3)"
	timeout 30 ip netns exec "$T" steadykvctl repl show >/dev/null ||
		skv_fail "the primary does not answer repl show"
	skv_ctl "$T" repl set none || skv_fail "repl set none"
	kill "$pid"
	wait "$pid" 2>/dev/null
	[[ $RET == 0 ]] && t_table8
}

skv_test "a backup lying about where its replica ends: refused, the primary answers on" \
	t_lying_backup
skv_finish
