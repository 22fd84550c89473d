#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A faulty source (selftests/fake_source.c) against a real target: the
# fake answers PREPARE normally, then every pull with a corrupt, truncated,
# miscounted, oversized, out-of-range or other-table batch (one mode per
# migration).  The target must refuse: the migration ends failed with an
# error, the keys of the range are refused or read the source's own
# values (never garbage), the keys the target owned before (the low half
# of table 7, table 8) read back intact, and the kernel log stays clean
# (run.sh checks it after this program).  Each mode migrates a table of
# its own (21, 22, ...), whose low half the target owns beforehand.
#
# The target does not check today that pulled records lie in the range
# (issue 11, kmod/mig_target.c skv_mig_pull_part() replays the batch with
# skv_replay_batch() and never compares the records' table and hash with
# the part it asked for): the outofrange and othertable cases catch it and
# are marked TODO until that is fixed.
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

tool() {
	local ns=$1
	shift
	ip netns exec "$ns" skv_tool "$@"
}

# The target owns all of table 8, with control keys; for each mode the
# low half of a table of its own, with control keys too, while the fake
# source offers the high half.
setup() {
	setup_ns F T || { skv_fail "setup_ns"; return 1; }
	skv_veth "$F" eth0 "$FA/24" "$T" eth0 "$TA/24" || { skv_fail "veth"; return 1; }
	skv_ctl "$T" listen start "$TA" $PORT || { skv_fail "target: listen"; return 1; }
	skv_ctl "$T" table add $OTHER_TABLE && skv_ctl "$T" tablet add $OTHER_TABLE min max ||
		{ skv_fail "target: table $OTHER_TABLE"; return 1; }
	tool "$T" ping "$TA:$PORT" $((SKV_WAIT * 1000)) || { skv_fail "target does not answer"; return 1; }
	LOW_KEYS=$(fake_source keys lo 4 low) || { skv_fail "no low-side keys"; return 1; }
	tool "$T" fill "$TA:$PORT" $OTHER_TABLE 200 16 c8 || { skv_fail "fill table $OTHER_TABLE"; return 1; }
	[[ $(tool "$T" put "$TA:$PORT" $OTHER_TABLE c8-x real-c8-x) == "OK "* ]] ||
		{ skv_fail "put c8-x"; return 1; }
}

# low_half TABLE: the target owns the low half of TABLE, with control keys.
low_half() {
	local k
	skv_ctl "$T" table add "$1" && skv_ctl "$T" tablet add "$1" 0 $LOW_END ||
		{ skv_fail "target: table $1"; return 1; }
	for k in $LOW_KEYS; do
		[[ $(tool "$T" put "$TA:$PORT" "$1" "$k" "real-$k") == "OK "* ]] ||
			{ skv_fail "put $k"; return 1; }
	done
}

# controls_intact TABLE: the control keys read back as written.
controls_intact() {
	local k out
	for k in $LOW_KEYS; do
		out=$(tool "$T" get "$TA:$PORT" "$1" "$k")
		[[ $out == "OK "*" real-$k" ]] || { skv_fail "table $1 key $k now reads: $out"; return 1; }
	done
	out=$(tool "$T" get "$TA:$PORT" $OTHER_TABLE c8-x)
	[[ $out == "OK "*" real-c8-x" ]] || { skv_fail "table $OTHER_TABLE key c8-x now reads: $out"; return 1; }
	tool "$T" check "$TA:$PORT" $OTHER_TABLE 200 16 c8 ||
		{ skv_fail "table $OTHER_TABLE lost keys"; return 1; }
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
	skv_bg ip netns exec "$F" fake_source serve "$FA" $FPORT "$mode" "$SKV_TMP/ready" "$ftable" "$fkey"
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
	ip netns exec "$T" fake_source check-range "$TA" $PORT $table $RANGE_NAMES $owned ||
		skv_fail "the target serves a wrong answer in the migrated range"
	controls_intact $table
	kill "$pid"
	wait "$pid" 2>/dev/null
	# The node still serves a fresh write.
	[[ $(tool "$T" put "$TA:$PORT" $OTHER_TABLE "after-$mode" v) == "OK "* ]] ||
		skv_fail "the target no longer takes writes"
	return 0
}

# todo_test DESC REASON FUNC ARGS...: a known bug; reported as TAP TODO,
# which does not count as a failure of this program.
todo_test() {
	local desc=$1 reason=$2
	shift 2
	RET=0
	"$@"
	if ((RET == 0)); then
		__ktap_test "ok" "$desc" "TODO $reason (passes now: drop the TODO)"
		KTAP_CNT_PASS=$((KTAP_CNT_PASS + 1))
	else
		__ktap_test "not ok" "$desc" "TODO $reason"
	fi
}

skv_test "setup: a target with control keys" setup || skv_finish
for mode in corrupt truncated count oversized; do
	skv_test "faulty source ($mode batch): migration fails, no wrong answer" faulty $mode
done
for mode in outofrange othertable; do
	todo_test "faulty source ($mode record): migration fails, no wrong answer" \
		"issue 11: target does not check ranges (kmod/mig_target.c skv_mig_pull_part)" \
		faulty $mode
done
skv_finish
