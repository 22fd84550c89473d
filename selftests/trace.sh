#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The module's tracepoints (kmod/trace.h, README "Tracepoints"): enabled
# through tracefs (events/steadykv/), a migration with priority pulls,
# traffic with an error and a cleaner at work must make every event fire
# with fields that agree with the migration's own counters; then
# scripts/pull-latency.bt (bpftrace) draws its histogram of a second
# migration.  Two nodes in two namespaces, driven at the target (skv_tool).
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
SA=10.96.0.1
TA=10.96.0.2
UA=10.96.1.1
MAX=18446744073709551615
# A slow migration (as mig_target.sh's priority test, but two partitions
# and up to two pulls of 1 KiB in flight, so that its pacing goes from one
# pull to two), the source's answers SLOW_DELAY late: at least
# N * 130 B / 1 KiB * SLOW_DELAY / 2 (12 s), room for reads mid-way.
N=20000
SIZE=100
SLOW=(0 2 2 1024)
SLOW_DELAY=10ms
WAIT=300
TR=/sys/kernel/tracing
EVENTS=(skv_mig_phase skv_mig_pull skv_mig_replay skv_mig_pace skv_ownership skv_cleaner_pass
	skv_request_error)

setup() {
	local e
	mountpoint -q $TR || mount -t tracefs nodev $TR ||
		{ skv_fail "cannot mount tracefs"; return 1; }
	for e in "${EVENTS[@]}"; do
		[[ -r $TR/events/steadykv/$e/format ]] ||
			{ skv_fail "no tracepoint steadykv:$e"; return 1; }
	done
	setup_ns S T U || { skv_fail "setup_ns"; return 1; }
	skv_veth "$S" eth0 "$SA/24" "$T" eth0 "$TA/24" || { skv_fail "veth"; return 1; }
	skv_node_start "$S" "$SA" $PORT 1 || return 1
	skv_node_key "$T" || return 1
	skv_ctl "$T" listen start "$TA" $PORT || { skv_fail "target: listen"; return 1; }
	tool "$T" ping "$TA:$PORT" $((SKV_WAIT * 1000)) || { skv_fail "target does not answer"; return 1; }
	ip -n "$U" addr add "$UA/32" dev lo
	skv_node_start "$U" "$UA" $PORT 1 || return 1
}

trace_on() {
	echo 0 >$TR/tracing_on
	TR_BUF_KB=$(cat $TR/buffer_size_kb)
	# Room for every event of the migration (a few thousand); given back
	# in trace_off, so that memory returns to the pre-load snapshot.
	echo 8192 >$TR/buffer_size_kb
	echo >$TR/trace
	echo 1 >$TR/events/steadykv/enable
	echo 1 >$TR/tracing_on
}

trace_off() {
	echo 0 >$TR/tracing_on
	echo 0 >$TR/events/steadykv/enable
	cat $TR/trace >"$SKV_TMP/trace"
	echo >$TR/trace
	echo "${TR_BUF_KB%% *}" >$TR/buffer_size_kb
	grep -q 'LOST' "$SKV_TMP/trace" && { skv_fail "trace buffer lost events"; return 1; }
	return 0
}

# events NAME: the fields of every NAME event in the trace, one per line.
events() {
	sed -n "s/^.* $1: //p" "$SKV_TMP/trace"
}

# field K: the value of K=... on each line of stdin.
field() {
	sed -n "s/.*\\<$1=\\([^ ]*\\).*/\\1/p"
}

# sum K: the sum of K over stdin's lines.
sum() {
	field "$1" | awk '{ s += $1 } END { printf "%d\n", s }'
}

# status_val LINE KEY: the number KEY=N of a skv_tool status line.
status_val() {
	[[ $1 =~ (^| )$2=([0-9]+) ]] && echo "${BASH_REMATCH[2]}"
}

# A slow migration with reads mid-way (priority pulls), a request error
# and a cleaner at work: every event fires, and agrees with the counters.
t_events() {
	local out pulls prio
	tool "$S" fill "$SA:$PORT" 1 $N $SIZE k || { skv_fail "fill"; return 1; }
	trace_on
	skv_slow_link "$S" eth0 $SLOW_DELAY || return 1
	tool "$T" migrate-start 1 1 0 $MAX "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start refused"; return 1; }
	out=$(tool "$T" migrate-wait 1 $WAIT pulling "done" cancelled failed)
	[[ $out == pulling\ * ]] || { skv_fail "migration not pulling: $out"; return 1; }
	tool "$T" check "$TA:$PORT" 1 200 $SIZE k || { skv_fail "keys unreadable at the target"; return 1; }
	out=$(tool "$T" get "$TA:$PORT" 77 nosuch)
	[[ $out == UNKNOWN_TABLE* ]] || { skv_fail "get from table 77: $out"; return 1; }
	skv_fast_link "$S" eth0
	out=$(tool "$T" migrate-wait 1 $WAIT)
	skv_info "migration 1: $out"
	[[ $out == "done "* ]] || { skv_fail "want done, got: $out"; return 1; }
	cleaner_run || return 1
	trace_off || return 1
	skv_info "$(wc -l <"$SKV_TMP/trace") trace lines"

	# Phases: preparing (0) -> pulling (1) -> re-replicating (7, brief
	# here: no backups) -> done (3).
	events skv_mig_phase | grep '^mig=1 ' >"$SKV_TMP/phase"
	[[ $(tr '\n' ';' <"$SKV_TMP/phase") == "mig=1 from=0 to=1;mig=1 from=1 to=7;mig=1 from=7 to=3;" ]] ||
		{ skv_fail "phases traced: $(tr '\n' ';' <"$SKV_TMP/phase")"; return 1; }
	# Pulls: as many as the migration counted, their records its records.
	events skv_mig_pull | grep '^mig=1 ' >"$SKV_TMP/pull"
	pulls=$(grep -c ' hashes=0 ' "$SKV_TMP/pull")
	prio=$(grep -vc ' hashes=0 ' "$SKV_TMP/pull")
	skv_info "pulls traced: $pulls, priority pulls: $prio"
	((pulls == $(status_val "$out" pulls))) ||
		{ skv_fail "$pulls pulls traced, the migration counted $(status_val "$out" pulls)"; return 1; }
	((prio > 0 && prio == $(status_val "$out" prio-pulls))) ||
		{ skv_fail "$prio priority pulls traced, the migration counted $(status_val "$out" prio-pulls)"; return 1; }
	(($(sum records <"$SKV_TMP/pull") == $(status_val "$out" records))) ||
		{ skv_fail "pulls traced $(sum records <"$SKV_TMP/pull") records, the migration $(status_val "$out" records)"; return 1; }
	field latency_ns <"$SKV_TMP/pull" | awk '$1 <= 0 { bad = 1 } END { exit bad }' ||
		{ skv_fail "a pull with no latency"; return 1; }
	field bytes <"$SKV_TMP/pull" | awk '$1 <= 0 { bad = 1 } END { exit bad }' ||
		{ skv_fail "a pull with no bytes"; return 1; }
	# Replays: what they applied is what the migration replayed.
	events skv_mig_replay | grep '^mig=1 ' >"$SKV_TMP/replay"
	(($(sum applied <"$SKV_TMP/replay") == $(status_val "$out" replayed))) ||
		{ skv_fail "replays traced applied $(sum applied <"$SKV_TMP/replay"), the migration replayed $(status_val "$out" replayed)"; return 1; }
	(($(sum records <"$SKV_TMP/replay") == $(sum records <"$SKV_TMP/pull"))) ||
		{ skv_fail "replayed records differ from pulled records"; return 1; }
	# Pacing: from one bulk pull in flight to both (its first step).
	events skv_mig_pace | grep '^mig=1 ' >"$SKV_TMP/pace"
	skv_info "pacing traced: $(tr '\n' ';' <"$SKV_TMP/pace")"
	grep -q ' depth=2$' "$SKV_TMP/pace" ||
		{ skv_fail "no pacing to 2 pulls traced"; return 1; }
	# Ownership: the source gives the range up (migrating-out, 2), the
	# target takes it (migrating-in, 1); at the end the target sends END,
	# so the source drops its copy (-1), then the target serves it as
	# normal (0) (mig_target.c, Rocksteady mode).
	events skv_ownership | grep '^mig=1 table=1 range=0-ffffffffffffffff ' |
		field state | tr '\n' ' ' >"$SKV_TMP/owner"
	skv_info "ownership states: $(cat "$SKV_TMP/owner")"
	[[ $(cat "$SKV_TMP/owner") == "2 1 -1 0 " ]] ||
		{ skv_fail "ownership changes traced: $(cat "$SKV_TMP/owner"), want 2 1 -1 0"; return 1; }
	# The GET from table 77: op 2 (GET), status 9 (UNKNOWN_TABLE).
	events skv_request_error | grep -q '^op=2 status=9 ' ||
		{ skv_fail "no request error traced: $(events skv_request_error | head -n 3)"; return 1; }
	events skv_cleaner_pass | grep -q '^freed=' ||
		{ skv_fail "no cleaner pass traced"; return 1; }
}

cleaner_passes() {
	skv_ctl "$U" -j node show | jq -r .cleaner_passes
}

# Overwrites in a small memory keep node U's cleaner busy (a fill may
# meet NO_SPACE while it catches up: the passes are what counts).
cleaner_run() {
	skv_ctl "$U" node set mem-limit 24M >/dev/null || { skv_fail "mem-limit"; return 1; }
	for _ in 1 2 3; do
		tool "$U" fill "$UA:$PORT" 1 3000 4000 c >/dev/null 2>&1
	done
	slowwait "$SKV_WAIT" until_counter_is "> 0" cleaner_passes >/dev/null ||
		{ skv_fail "the cleaner never ran"; return 1; }
}

# bpftrace attaches scripts/pull-latency.bt; the migration back to the
# source draws a histogram of its pulls, printed live and at exit.
t_bpftrace() {
	local bt=$SKV_TMP/bt out pid
	command -v bpftrace >/dev/null || { skv_fail "bpftrace missing (make deps)"; return 1; }
	skv_bg bash -c "exec bpftrace scripts/pull-latency.bt 1 >$bt 2>&1"
	pid=$SKV_LAST_PID
	# BEGIN prints once every probe is attached (compiling takes a while under TCG).
	slowwait $((SKV_WAIT * 3)) grep -q '^steadykv pull latency' "$bt" ||
		{ skv_fail "bpftrace did not attach: $(tail -n 5 "$bt")"; return 1; }
	tool "$S" migrate-start 2 1 0 $MAX "$TA" $PORT || { skv_fail "migrate-start refused"; return 1; }
	out=$(tool "$S" migrate-wait 2 $WAIT)
	skv_info "migration 2: $out"
	[[ $out == "done "* ]] || { skv_fail "want done, got: $out"; return 1; }
	kill -INT "$pid"
	skv_wait_exit "$pid" "$SKV_WAIT" || { skv_fail "bpftrace did not exit on SIGINT"; return 1; }
	grep -A 20 '^@pull_us:' "$bt" | tail -n 21 | sed 's/^/# /'
	grep -q '^@pull_us:' "$bt" ||
		{ skv_fail "no pull histogram: $(tail -n 5 "$bt")"; return 1; }
	# At least one bucket line: "[LO, HI)   COUNT |@@@...|".
	grep -A 40 '^@pull_us:' "$bt" | grep -Eq '^\[[0-9]+[KM]?, [0-9]+[KM]?\)[[:space:]]+[1-9][0-9]* ' ||
		{ skv_fail "the pull histogram has no bucket"; return 1; }
}

ktap_print_header
setup || { skv_dmesg_clean; ktap_test_fail "setup"; skv_finish; }
skv_test "every tracepoint fires with sane fields" t_events
skv_test "pull-latency.bt draws a histogram" t_bpftrace
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
