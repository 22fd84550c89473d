#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Crash recovery (issue 12 item 4).  By hand: a node rebuilds a tablet of a
# primary it backs up from its replica (steadykvctl repl recover): every
# acknowledged write is read back at its version, a delete stays deleted,
# the version counter is raised past the replayed versions, a stale epoch,
# an unknown primary and an overlapping range are refused with an extack
# message, and repeating it is harmless.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
declare -A IP

# cli_error_is NS ERRNO-TEXT ARGS...: steadykvctl ARGS in NS fails (exit 1)
# with ERRNO-TEXT and an extack message.
cli_error_is() {
	local ns=$1 want=$2 err rc
	shift 2
	err=$(skv_ctl "$ns" "$@" 2>&1 >/dev/null)
	rc=$?
	skv_info "steadykvctl $*: exit $rc: $err"
	((rc == 1)) || { skv_fail "steadykvctl $* exited $rc, want 1"; return 1; }
	[[ $err =~ ^steadykvctl:\ [^:]+:\ ${want}:\ [^[:space:]].* ]] ||
		{ skv_fail "steadykvctl $*: no '$want: <extack message>' in '$err'"; return 1; }
}

# P (primary id 1) replicates to Q (R = 1, by hand); table 5 is on P.
t_by_hand() {
	local i out top ver
	declare -A want
	setup_ns P Q || { skv_fail "setup_ns"; return 1; }
	IP[P]=10.98.0.1
	IP[Q]=10.98.0.2
	skv_veth "$P" eth0 "${IP[P]}/24" "$Q" eth0 "${IP[Q]}/24" || { skv_fail "veth"; return 1; }
	skv_node_start "$P" "${IP[P]}" $PORT 5 || return 1
	skv_node_start "$Q" "${IP[Q]}" $PORT 6 || return 1
	skv_ctl "$P" repl set 1 1 "${IP[Q]}:$PORT" || { skv_fail "repl set at P"; return 1; }
	slowwait "$SKV_WAIT" bash -c "ip netns exec $P steadykvctl -j repl show | jq -e '.healthy == 1'" \
		>/dev/null || { skv_fail "P's replication not healthy"; return 1; }
	for i in $(seq 1 40); do
		out=$(tool "$P" put "${IP[P]}:$PORT" 5 "k-$i" "v-$i") || { skv_fail "put k-$i"; return 1; }
		[[ $out == "OK "* ]] || { skv_fail "put k-$i: $out"; return 1; }
		want[k-$i]="OK ${out#OK } v-$i"
	done
	out=$(tool "$P" put "${IP[P]}:$PORT" 5 k-5 v-5b)
	[[ $out == "OK "* ]] || { skv_fail "overwrite k-5: $out"; return 1; }
	want[k-5]="OK ${out#OK } v-5b"
	out=$(skv_ctl "$P" -j del "${IP[P]}:$PORT" 5 k-7) || { skv_fail "del k-7"; return 1; }
	want[k-7]=NOT_FOUND
	top=$(skv_ctl "$P" -j node show | jq -r .version)

	# The primary is fenced at its backup first, as the coordinator does.
	skv_ctl "$Q" repl fence 1 2 || { skv_fail "repl fence"; return 1; }
	cli_error_is "$Q" "Stale file handle" repl recover 1 1 5 min max || return 1
	cli_error_is "$Q" "No such file or directory" repl recover 9 2 5 min max || return 1
	cli_error_is "$Q" "File exists" repl recover 1 2 6 0 0x10 || return 1
	# A failed recovery leaves nothing behind: no table 5 at Q.
	skv_ctl "$Q" -j table list | jq -e 'map(select(.id == 5)) == []' >/dev/null ||
		{ skv_fail "table 5 at Q after failed recoveries: $(skv_ctl "$Q" -j table list)"; return 1; }

	out=$(skv_ctl "$Q" -j repl recover 1 2 5 min max) || { skv_fail "repl recover"; return 1; }
	skv_info "recovered: $out"
	jq -e '.records == 42 and .applied == 42 and .bytes > 0' <<<"$out" >/dev/null ||
		{ skv_fail "recover figures: $out"; return 1; }
	skv_ctl "$Q" -j tablet list | jq -e '[.[] | select(.table_id == 5)] |
		length == 1 and .[0].state == "normal"' >/dev/null ||
		{ skv_fail "Q's tablets: $(skv_ctl "$Q" -j tablet list)"; return 1; }
	for i in "${!want[@]}"; do
		out=$(tool "$Q" get "${IP[Q]}:$PORT" 5 "$i")
		[[ $out == "${want[$i]}" || ($i == k-7 && $out == "NOT_FOUND "*) ]] || { skv_fail "get $i at Q: '$out', want '${want[$i]}'"; return 1; }
	done
	# New writes at Q get versions past every replayed one.
	out=$(tool "$Q" put "${IP[Q]}:$PORT" 5 k-1 after)
	ver=${out#OK }
	if [[ $out != "OK "* ]] || ((ver <= top)); then
		skv_fail "put at Q after recovery: '$out', want a version past $top"
		return 1
	fi
	# Repeating it changes nothing.
	out=$(skv_ctl "$Q" -j repl recover 1 2 5 min max) || { skv_fail "repeated repl recover"; return 1; }
	out=$(tool "$Q" get "${IP[Q]}:$PORT" 5 k-1)
	[[ $out == "OK $ver after" ]] || { skv_fail "k-1 after a repeated recover: '$out'"; return 1; }
	# Another range of the table overlapping it: refused.
	cli_error_is "$Q" "File exists" repl recover 1 2 5 0 0x10 || return 1
}

ktap_print_header
skv_test "repl recover by hand: a tablet rebuilt from a replica" t_by_hand
skv_finish
