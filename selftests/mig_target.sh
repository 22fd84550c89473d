#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Migration, driven at the target (kmod/mig_target.c) against a real source
# (kmod/mig_source.c): two nodes in two namespaces joined by a veth pair.
# Whole table there and back, an empty tablet, half a table (a split), an
# unreachable source, a cancel mid-way (writes made at the target come
# back to the source), priority pulls of keys asked for early, a GET
# parked until its key lands (mig_park_ms) or answered RETRY, the bulk
# pulls paced by client latency (mig_latency_goal_us), the push
# baseline, priority-pulls=0, partitions=1, netlink refusals, the target's
# memory limit reached mid-way (each mode), the largest keys and values
# there and back and rolled back, two migrations at once (disjoint ranges;
# A to B while B to A), the source lost, a namespace deleted and rmmod
# mid-migration.  skv_tool drives netlink (migrate-*).
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
SA=10.98.0.1
TA=10.98.0.2
MAX=18446744073709551615
HALF=9223372036854775808
N=${SKV_MIG_KEYS:-2000}
SIZE=100
# Slow migrations (cancel, priority pulls, ...): one partition, one pull of
# 1 KiB in flight, and the source's answers delayed by SLOW_DELAY (netem),
# so one takes at least SLOW_N * 130 B / 1 KiB * SLOW_DELAY (25 s) however
# fast the host is; each test checks it is mid-way before it acts.
SLOW_N=${SKV_MIG_SLOW_KEYS:-20000}
SLOW=(0 1 1 1024)
SLOW_DELAY=10ms
PACE_DELAY=60ms
# The cancel test needs a migration that outlasts a few commands.
CANCEL_N=${SKV_MIG_CANCEL_KEYS:-20000}
# The target's memory limit test: 16 MB at the source, 6 MiB of room.
FULL_N=500
FULL_SIZE=32000
FULL_ROOM=$((6 << 20))
# The largest records (SKV_MAX_KEY_LEN-byte keys, SKV_MAX_VALUE_LEN-byte
# values).  Their cancel test pulls one record per call (each is above the
# budget) with the source's answers BIG_DELAY late: at least
# BIG_N * BIG_DELAY (9.6 s) on any host.
BIG_N=32
BIG_KEY=1024
BIG_SIZE=$((256 << 10))
BIG_DELAY=300ms
# Keys read back after a slow migration (GETs are slow under TCG).
SAMPLE=3000
WAIT=300
PARAMS=/sys/module/steadykv/parameters

setup() {
	setup_ns S T || { skv_fail "setup_ns"; return 1; }
	skv_veth "$S" eth0 "$SA/24" "$T" eth0 "$TA/24" || { skv_fail "veth"; return 1; }
	skv_node_start "$S" "$SA" $PORT 1 || return 1
	skv_node_key "$T" || return 1
	skv_ctl "$T" listen start "$TA" $PORT || { skv_fail "target: listen"; return 1; }
	tool "$T" ping "$TA:$PORT" $((SKV_WAIT * 1000)) || { skv_fail "target does not answer"; return 1; }
}

# midway NS ID: wait until migration ID (in NS's node) pulls, and check that
# it is mid-way (pulling, permille below 1000) before the test acts on it.
midway() {
	local out
	out=$(tool "$1" migrate-wait "$2" $WAIT pulling "done" cancelled failed) ||
		{ skv_fail "migration $2 never pulling: $out"; return 1; }
	skv_info "migration $2 before the test acts: $out"
	if [[ ! $out =~ ^pulling\ .*permille=([0-9]+) ]] || ((BASH_REMATCH[1] >= 1000)); then
		skv_fail "migration $2 not mid-way when the test would act: $out"
		return 1
	fi
}

# slow_mid_way ID TABLE COUNT PREFIX: TABLE at the source with COUNT keys,
# the link slowed, migration ID of the whole table (one partition, one
# small pull in flight) started at the target and checked mid-way.
slow_mid_way() {
	src_table "$2" || return 1
	tool "$S" fill "$SA:$PORT" "$2" "$3" $SIZE "$4" || { skv_fail "fill"; return 1; }
	skv_slow_link "$S" eth0 $SLOW_DELAY || return 1
	tool "$T" migrate-start "$1" "$2" 0 $MAX "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start $1 refused"; return 1; }
	midway "$T" "$1"
}

# src_table TABLE: a table on the source with one tablet over the whole space.
src_table() {
	if ! skv_ctl "$S" table add "$1" || ! skv_ctl "$S" tablet add "$1" min max; then
		skv_fail "source: table $1"
		return 1
	fi
}

# mig NS WANT ID TABLE START END SRCADDR [MODE PARTS INFLIGHT BUDGET PRIO]:
# start a migration into NS's node, wait for its end, expect state WANT.
mig() {
	local ns=$1 want=$2 id=$3
	shift 3
	local extra=("${@:5}")
	((${#extra[@]})) && while ((${#extra[@]} < 5)); do extra+=(-1); done
	tool "$ns" migrate-start "$id" "${@:1:4}" $PORT "${extra[@]}" ||
		{ skv_fail "migrate-start $id refused"; return 1; }
	MIG_OUT=$(tool "$ns" migrate-wait "$id" $WAIT)
	skv_info "migration $id: $MIG_OUT"
	[[ $MIG_OUT == "$want "* ]] || { skv_fail "migration $id: want $want, got: $MIG_OUT"; return 1; }
}

# The whole table to the target, every key there and none at the source;
# then back again.
t_whole() {
	tool "$S" fill "$SA:$PORT" 1 "$N" $SIZE k || { skv_fail "fill"; return 1; }
	mig "$T" "done" 1 1 0 $MAX "$SA" || return 1
	[[ $MIG_OUT == *" records=$N "* ]] || { skv_fail "pulled other than $N records"; return 1; }
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 1 "$N" $SIZE k 0 ||
		{ skv_fail "not every key moved intact"; return 1; }
	mig "$S" "done" 2 1 0 $MAX "$TA" || return 1
	tool "$T" check-split "$TA:$PORT" "$SA:$PORT" 1 "$N" $SIZE k 0 ||
		{ skv_fail "not every key came back intact"; return 1; }
}

# An empty tablet moves, and the key space is then served at the target.
t_empty() {
	local out
	src_table 2 || return 1
	mig "$T" "done" 3 2 0 $MAX "$SA" || return 1
	out=$(tool "$T" get "$TA:$PORT" 2 nothing)
	[[ $out == "NOT_FOUND "* ]] || { skv_fail "target answers '$out'"; return 1; }
	out=$(tool "$T" get "$SA:$PORT" 2 nothing)
	[[ $out == "NOT_OWNER "* ]] || { skv_fail "source answers '$out'"; return 1; }
}

# The upper half of a table: the source splits its tablet.  The phases
# are announced on the events group.
t_split() {
	local ev=$SKV_TMP/ev4 events
	src_table 3 || return 1
	tool "$S" fill "$SA:$PORT" 3 "$N" $SIZE h || { skv_fail "fill"; return 1; }
	skv_bg tool "$T" migrate-events 4 $WAIT "$ev.ready" >"$ev.out"
	skv_wait_file "$ev.ready" || { skv_fail "event monitor not ready"; return 1; }
	mig "$T" "done" 4 3 $HALF $MAX "$SA" || return 1
	skv_wait_exit "$SKV_LAST_PID" 30 || { skv_fail "no final event"; return 1; }
	events=$(awk '{ printf "%s ", $2 }' "$ev.out")
	skv_info "events: $events"
	[[ $events == "preparing "*"pulling "*"re-replicating "*"done " ]] ||
		{ skv_fail "phases announced: $events"; return 1; }
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 3 "$N" $SIZE h $HALF ||
		{ skv_fail "keys not where the split puts them"; return 1; }
}

# A source that does not answer: failed, nothing changed, the source serves.
t_unreachable() {
	local out
	src_table 4 || return 1
	tool "$S" fill "$SA:$PORT" 4 200 $SIZE u || { skv_fail "fill"; return 1; }
	tool "$T" migrate-start 5 4 0 $MAX "$SA" 7999 || { skv_fail "migrate-start refused"; return 1; }
	out=$(tool "$T" migrate-wait 5 $WAIT)
	skv_info "migration 5: $out"
	[[ $out == "failed "* && $out != *"error=0 "* ]] ||
		{ skv_fail "want failed with an error, got: $out"; return 1; }
	tool "$T" check-split "$TA:$PORT" "$SA:$PORT" 4 200 $SIZE u 0 ||
		{ skv_fail "the source does not serve its keys any more"; return 1; }
	# And the same range can then be migrated for real.
	mig "$T" "done" 6 4 0 $MAX "$SA" || return 1
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 4 200 $SIZE u 0 ||
		{ skv_fail "keys not moved after the retry"; return 1; }
}

# Cancel mid-way: the range goes back, with the writes made at the target.
t_cancel() {
	local out
	slow_mid_way 7 5 "$CANCEL_N" c || return 1
	tool "$T" fill "$TA:$PORT" 5 50 $SIZE w || { skv_fail "writes at the target failed"; return 1; }
	tool "$T" migrate-cancel 7 || { skv_fail "cancel refused (migration over already?)"; return 1; }
	out=$(tool "$T" migrate-wait 7 $WAIT)
	skv_fast_link "$S" eth0
	skv_info "migration 7: $out"
	[[ $out == "cancelled "* ]] || { skv_fail "want cancelled, got: $out"; return 1; }
	tool "$T" check-split "$TA:$PORT" "$SA:$PORT" 5 50 $SIZE w 0 ||
		{ skv_fail "writes made at the target are not at the source"; return 1; }
	tool "$T" check-split "$TA:$PORT" "$SA:$PORT" 5 $SAMPLE $SIZE c 0 ||
		{ skv_fail "the source lost keys"; return 1; }
	out=$(tool "$T" migrate-cancel 7 2>&1)
	[[ $out == "ERR -114 "* ]] || { skv_fail "cancel of an ended migration: $out"; return 1; }
}

# Keys read at the target before the bulk pull reaches them arrive by
# priority pulls; a key the source does not have is NOT_FOUND at once.
t_priority() {
	local out
	slow_mid_way 8 9 "$SLOW_N" p || return 1
	tool "$T" absent "$TA:$PORT" 9 20 nosuch || { skv_fail "absent keys not NOT_FOUND"; return 1; }
	# The last keys written are spread over the whole range.
	tool "$T" check "$TA:$PORT" 9 300 $SIZE p || { skv_fail "keys unreadable at the target"; return 1; }
	out=$(tool "$T" migrate-get 8)
	skv_fast_link "$S" eth0
	skv_info "migration 8 mid-way: $out"
	[[ $out == "pulling "* ]] || { skv_fail "migration over before the reads: not a test"; return 1; }
	out=$(tool "$T" migrate-wait 8 $WAIT)
	skv_info "migration 8: $out"
	[[ $out == "done "* ]] || { skv_fail "want done, got: $out"; return 1; }
	[[ $out != *" prio-keys=0 "* ]] || { skv_fail "no key came by priority pull"; return 1; }
	[[ $out == *" replayed=$SLOW_N "* ]] || { skv_fail "not every record replayed"; return 1; }
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 9 $SAMPLE $SIZE p 0 ||
		{ skv_fail "keys not moved intact"; return 1; }
}

# A GET for a key the bulk pull has not reached: with mig_park_ms=0 it
# is answered RETRY; with parking it waits for the key's priority pull and
# gets the value.  The keys read are all past the cursor, which is still
# short of them afterwards: they came by priority pulls, not the bulk one.
t_park() {
	local out park i cur min=1000 keys=() kps=()
	slow_mid_way 60 60 "$SLOW_N" q || return 1
	out=$(tool "$T" migrate-get 60)
	[[ $out =~ permille=([0-9]+) ]] || { skv_fail "no permille: $out"; return 1; }
	cur=${BASH_REMATCH[1]}
	# Keys far past the cursor: the reads take seconds in a guest.
	mapfile -t kps < <(tool "$T" key-permille q-{1..400})
	for ((i = 0; ${#keys[@]} < 12 && i < ${#kps[@]}; i++)); do
		((kps[i] > cur + 500)) || continue
		keys+=("q-$((i + 1))")
		((kps[i] < min)) && min=${kps[i]}
	done
	((${#keys[@]} == 12)) || { skv_fail "no 12 keys 500 permille past $cur"; return 1; }
	park=$(<"$PARAMS/mig_park_ms") || return 1
	echo 0 >"$PARAMS/mig_park_ms" || return 1
	for i in 0 1 2 3; do
		out=$(tool "$T" get "$TA:$PORT" 60 "${keys[i]}")
		[[ $out == "RETRY "* ]] || { echo "$park" >"$PARAMS/mig_park_ms"; \
			skv_fail "${keys[i]} without parking: want RETRY, got: $out"; return 1; }
	done
	# Far above a priority pull's time, even on a debug kernel.
	echo 20000 >"$PARAMS/mig_park_ms" || return 1
	for i in 4 5 6 7 8 9 10 11; do
		out=$(tool "$T" get "$TA:$PORT" 60 "${keys[i]}")
		[[ $out =~ ^OK\ [1-9] ]] || { echo "$park" >"$PARAMS/mig_park_ms"; \
			skv_fail "${keys[i]} parked: want OK, got: ${out:0:60}"; return 1; }
	done
	echo "$park" >"$PARAMS/mig_park_ms"
	out=$(tool "$T" migrate-get 60)
	skv_fast_link "$S" eth0
	skv_info "migration 60 after the reads: $out (keys from permille $min)"
	if [[ ! $out =~ ^pulling\ .*permille=([0-9]+) ]] || ((BASH_REMATCH[1] >= min)); then
		skv_fail "the bulk pull reached the keys read: not a test"
		return 1
	fi
	out=$(tool "$T" migrate-wait 60 $WAIT)
	[[ $out == "done "* ]] || { skv_fail "want done, got: $out"; return 1; }
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 60 $SAMPLE $SIZE q 0 ||
		{ skv_fail "keys not moved intact"; return 1; }
}

# pace_at ID DEPTH P999: migration ID at the target is pulling with DEPTH
# bulk pulls allowed in flight, and paced by a client p99.9 (us) that
# matches the regex P999 (prints its status line).
pace_at() {
	local out
	out=$(tool "$T" migrate-get "$1") || return 1
	echo "$out"
	[[ $out =~ ^pulling\ .*\ pace-depth=$2\ pace-p999-us=($3)\  ]]
}

# Pacing (kmod/mig_target_pace.c): with no client load the bulk pulls go
# up to all in flight; clients over the latency goal (1 us: any load)
# bring them down to one; they go up again once the load stops.  The
# source's answers come PACE_DELAY late, so the migration takes at least
# SLOW_N * 130 B / 1 KiB * PACE_DELAY / 8 (19 s) at full depth.  Beside
# them run mig_prio_pullers priority pullers.
t_pace() {
	local out goal pid ready=$SKV_TMP/pace.ready
	src_table 62 || return 1
	tool "$S" fill "$SA:$PORT" 62 "$SLOW_N" $SIZE r || { skv_fail "fill"; return 1; }
	skv_slow_link "$S" eth0 $PACE_DELAY || return 1
	tool "$T" migrate-start 62 62 0 $MAX "$SA" $PORT 0 8 8 1024 1 ||
		{ skv_fail "migrate-start 62 refused"; return 1; }
	out=$(skv_poll $((WAIT * 1000)) pace_at 62 8 0) ||
		{ skv_fail "no load, yet never 8 pulls in flight: $out"; return 1; }
	skv_info "no client load: $out"
	# mig_idle_pull_kb is 0 here (selftests/lib.sh): the budget, idle or not.
	[[ $out == *" pace-pull-bytes=1024 "* ]] ||
		{ skv_fail "no load, mig_idle_pull_kb 0, yet pulls not of the 1 KiB budget: $out"; return 1; }
	local pullers want
	want=$(<"$PARAMS/mig_prio_pullers") || return 1
	pullers=$(pgrep -c '^skv-prio62\.')
	[[ $pullers == "$want" ]] ||
		{ skv_fail "mig_prio_pullers $want, yet $pullers priority pullers"; return 1; }

	goal=$(<"$PARAMS/mig_latency_goal_us") || return 1
	echo 1 >"$PARAMS/mig_latency_goal_us" || return 1
	# nsenter execs the tool: the pid is the clients' own.
	skv_bg nsenter --net="/run/netns/$T" skv_tool hold "$TA:$PORT" --busy 4 --ready "$ready"
	pid=$SKV_LAST_PID
	if ! skv_wait_file "$ready"; then
		echo "$goal" >"$PARAMS/mig_latency_goal_us"
		skv_fail "the clients never got ready"
		return 1
	fi
	out=$(skv_poll $((WAIT * 1000)) pace_at 62 1 '[1-9][0-9]*')
	local rc=$?
	kill "$pid" && wait "$pid"
	echo "$goal" >"$PARAMS/mig_latency_goal_us"
	((rc == 0)) ||
		{ skv_fail "clients over the goal, yet not down to 1 pull: $out"; return 1; }
	skv_info "clients over the goal: $out"

	out=$(skv_poll $((WAIT * 1000)) pace_at 62 8 0) ||
		{ skv_fail "the load stopped, yet never 8 pulls in flight again: $out"; return 1; }
	skv_info "load stopped: $out"
	skv_fast_link "$S" eth0
	out=$(tool "$T" migrate-wait 62 $WAIT)
	[[ $out == "done "* ]] || { skv_fail "want done, got: $out"; return 1; }
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 62 $SAMPLE $SIZE r 0 ||
		{ skv_fail "keys not moved intact"; return 1; }
}

# With no client load a paced migration's bulk pulls ask for
# mig_idle_pull_kb rather than its budget of 1 KiB: over a link slow enough
# that the pace's first steps pass in a pull or two, the pulls average many
# times what 1 KiB holds (with 1 KiB pulls: 8 records each).
t_idle_pulls() {
	local out idle pulls records
	idle=$(<"$PARAMS/mig_idle_pull_kb") || return 1
	src_table 63 || return 1
	tool "$S" fill "$SA:$PORT" 63 "$SLOW_N" $SIZE i || { skv_fail "fill"; return 1; }
	echo 256 >"$PARAMS/mig_idle_pull_kb" || return 1
	skv_slow_link "$S" eth0 $PACE_DELAY || return 1
	mig "$T" "done" 63 63 0 $MAX "$SA" 0 8 8 1024 1
	local rc=$?
	skv_fast_link "$S" eth0
	echo "$idle" >"$PARAMS/mig_idle_pull_kb"
	((rc == 0)) || return 1
	out=$MIG_OUT
	[[ $out =~ \ records=([0-9]+)\ .*\ pulls=([0-9]+)\  ]] ||
		{ skv_fail "no records or pulls in: $out"; return 1; }
	records=${BASH_REMATCH[1]}
	pulls=${BASH_REMATCH[2]}
	skv_info "no client load, 1 KiB budget, mig_idle_pull_kb 256: $records records in $pulls pulls"
	((records == SLOW_N && records >= 100 * pulls)) ||
		{ skv_fail "$records records in $pulls pulls: not the idle pull size"; return 1; }
	[[ $out == *" pace-pull-bytes=262144 "* ]] ||
		{ skv_fail "the status does not show pulls of 256 KiB: $out"; return 1; }
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 63 $SAMPLE $SIZE i 0 ||
		{ skv_fail "keys not moved intact"; return 1; }
}

# The baselines: push mode, no priority pulls, one partition one pull.
t_baselines() {
	local t id=10 args
	for args in "1 -1 -1 -1 -1" "0 -1 -1 -1 0" "0 1 1 -1 1"; do
		t=$((id + 10))
		src_table $t || return 1
		tool "$S" fill "$SA:$PORT" $t "$N" $SIZE b || { skv_fail "fill"; return 1; }
		# shellcheck disable=SC2086 # args is a list of words
		mig "$T" "done" $id $t 0 $MAX "$SA" $args || return 1
		tool "$T" check-split "$SA:$PORT" "$TA:$PORT" $t "$N" $SIZE b 0 ||
			{ skv_fail "mode/params '$args': keys not moved intact"; return 1; }
		id=$((id + 1))
	done
}

# Refusals with their errno: duplicate id, overlap, unknown id, bad range.
t_refusals() {
	local out
	out=$(tool "$T" migrate-start 1 99 0 $MAX "$SA" $PORT 2>&1)
	[[ $out == "ERR -17 "* ]] || { skv_fail "duplicate id: $out"; return 1; }
	out=$(tool "$T" migrate-start 100 3 $HALF $MAX "$SA" $PORT 2>&1)
	[[ $out == "ERR -16 "* ]] || { skv_fail "overlapping a tablet here: $out"; return 1; }
	out=$(tool "$T" migrate-start 101 3 5 4 "$SA" $PORT 2>&1)
	[[ $out == "ERR -22 "* ]] || { skv_fail "end below start: $out"; return 1; }
	out=$(tool "$T" migrate-cancel 12345 2>&1)
	[[ $out == "ERR -2 "* ]] || { skv_fail "cancel of an unknown id: $out"; return 1; }
}

# node_field NS FIELD: one counter of NS's node (steadykvctl -j node show).
node_field() {
	skv_in "$1" steadykvctl -j node show | jq -r ".$2"
}

# The target runs out of memory mid-migration, in MODE (0 rocksteady, 1
# the push baseline): a fresh target F (its own namespace, on S's DEV,
# NET.2) whose limit leaves FULL_ROOM, less than TABLE's FULL_N records
# need.  The migration fails with ENOSPC after some records arrived; the
# source serves every key intact; F holds no live record; once F's
# namespace is gone, memory is back where it was before F (nothing of the
# migration leaked, at either end).  Then the range moves to T, whose
# limit is the default, in the same mode.  A fresh F, because its
# mem_used also counts dead segments, which the cleaner may free meanwhile.
target_mem_limit() {
	local mode=$1 net=$2 dev=$3 t=$4 id=$5 f used
	src_table "$t" || return 1
	tool "$S" fill "$SA:$PORT" "$t" $FULL_N $FULL_SIZE m || { skv_fail "fill"; return 1; }
	skv_mem_snapshot "full$t"
	setup_ns F || { skv_fail "setup_ns"; return 1; }
	f=$F
	skv_veth "$S" "$dev" "$net.1/24" "$f" eth0 "$net.2/24" || { skv_fail "veth"; return 1; }
	ip -n "$f" route add 10.98.0.0/24 dev eth0 || { skv_fail "route"; return 1; }
	skv_node_key "$f" || return 1
	skv_ctl "$f" listen start "$net.2" $PORT || { skv_fail "F: listen"; return 1; }
	used=$(node_field "$f" mem_used)
	skv_ctl "$f" node set mem-limit $((used + FULL_ROOM)) >/dev/null ||
		{ skv_fail "F: mem-limit"; return 1; }
	mig "$f" "failed" "$id" "$t" 0 $MAX "$SA" "$mode" || return 1
	[[ $MIG_OUT == *"error=28 "* ]] || { skv_fail "want ENOSPC: $MIG_OUT"; return 1; }
	if [[ ! $MIG_OUT =~ \ records=([0-9]+)\  ]] || ((BASH_REMATCH[1] == 0)); then
		skv_fail "the limit was not reached mid-way: $MIG_OUT"
		return 1
	fi
	slowwait "$SKV_WAIT" until_counter_is "== 0" node_field "$f" live_bytes >/dev/null ||
		{ skv_fail "F keeps $(node_field "$f" live_bytes) live bytes after the failure"; return 1; }
	tool "$f" check-split "$net.2:$PORT" "$SA:$PORT" "$t" $FULL_N $FULL_SIZE m 0 ||
		{ skv_fail "the source does not serve every key after the failure"; return 1; }
	ip netns del "$f"
	skv_ns_gone "$f" "$dev" "$S" || { skv_fail "F's namespace not destroyed"; return 1; }
	skv_mem_compare "full$t" || return 1
	mig "$T" "done" $((id + 1)) "$t" 0 $MAX "$SA" "$mode" || return 1
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" "$t" $FULL_N $FULL_SIZE m 0 ||
		{ skv_fail "keys not moved after the limit was lifted"; return 1; }
}

# The largest keys and values move to the target (rocksteady: sent from
# the source's log pages, pull_splice_min set) and back (push), every byte
# intact each way.
big_both_ways() {
	local spliced
	src_table 90 || return 1
	tool "$S" fill "$SA:$PORT" 90 $BIG_N $BIG_SIZE big $BIG_KEY || { skv_fail "fill"; return 1; }
	spliced=$(node_field "$S" pull_bytes_spliced) || return 1
	echo 1024 >/sys/module/steadykv/parameters/pull_splice_min || return 1
	mig "$T" "done" 90 90 0 $MAX "$SA" || return 1
	[[ $MIG_OUT == *" records=$BIG_N "* ]] || { skv_fail "pulled other than $BIG_N records"; return 1; }
	(($(node_field "$S" pull_bytes_spliced) - spliced >= BIG_N * BIG_SIZE)) ||
		{ skv_fail "the records were not sent from the source's log pages"; return 1; }
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 90 $BIG_N $BIG_SIZE big 0 $BIG_KEY ||
		{ skv_fail "not every record moved intact"; return 1; }
	mig "$S" "done" 91 90 0 $MAX "$TA" 1 || return 1
	tool "$T" check-split "$TA:$PORT" "$SA:$PORT" 90 $BIG_N $BIG_SIZE big 0 $BIG_KEY ||
		{ skv_fail "not every record came back intact"; return 1; }
}

t_big_both_ways() {
	local param=/sys/module/steadykv/parameters/pull_splice_min min rc
	min=$(<"$param") || return 1
	big_both_ways
	rc=$?
	echo "$min" >"$param"
	return $rc
}

# A migration of the largest records cancelled mid-way, after records of
# the same size were written at the target: they go back by PUSH_BACK, and
# every record reads back intact at the source.
big_rollback() {
	local out
	src_table 92 || return 1
	tool "$S" fill "$SA:$PORT" 92 $BIG_N $BIG_SIZE bigc $BIG_KEY || { skv_fail "fill"; return 1; }
	skv_slow_link "$S" eth0 $BIG_DELAY || return 1
	tool "$T" migrate-start 92 92 0 $MAX "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start refused"; return 1; }
	midway "$T" 92 || return 1
	tool "$T" fill "$TA:$PORT" 92 4 $BIG_SIZE bigw $BIG_KEY ||
		{ skv_fail "writes at the target failed"; return 1; }
	tool "$T" migrate-cancel 92 || { skv_fail "cancel refused (migration over already?)"; return 1; }
	out=$(tool "$T" migrate-wait 92 $WAIT)
	skv_info "migration 92: $out"
	[[ $out == "cancelled "* ]] || { skv_fail "want cancelled, got: $out"; return 1; }
	skv_fast_link "$S" eth0
	tool "$T" check-split "$TA:$PORT" "$SA:$PORT" 92 4 $BIG_SIZE bigw 0 $BIG_KEY ||
		{ skv_fail "records written at the target are not intact at the source"; return 1; }
	tool "$T" check-split "$TA:$PORT" "$SA:$PORT" 92 $BIG_N $BIG_SIZE bigc 0 $BIG_KEY ||
		{ skv_fail "the source lost records"; return 1; }
}

t_big_rollback() {
	local rc
	big_rollback
	rc=$?
	skv_fast_link "$S" eth0
	return $rc
}

# both_midway NS1 ID1 NS2 ID2: both migrations mid-way, then the first
# still pulling: the two ran at once.
both_midway() {
	local out
	midway "$1" "$2" || return 1
	midway "$3" "$4" || return 1
	out=$(tool "$1" migrate-get "$2")
	[[ $out == "pulling "* ]] || { skv_fail "migration $2 over before $4 was mid-way: $out"; return 1; }
}

# Two migrations at once between the same nodes over disjoint ranges: the
# two halves of one table (the source splits its tablet for each).
t_two_disjoint() {
	src_table 80 || return 1
	tool "$S" fill "$SA:$PORT" 80 "$SLOW_N" $SIZE d || { skv_fail "fill"; return 1; }
	skv_slow_link "$S" eth0 $SLOW_DELAY || return 1
	tool "$T" migrate-start 80 80 0 $((HALF - 1)) "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start 80 refused"; return 1; }
	tool "$T" migrate-start 81 80 $HALF $MAX "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start 81 refused"; return 1; }
	both_midway "$T" 80 "$T" 81 || return 1
	skv_fast_link "$S" eth0
	two_done "$T" 80 "$T" 81 || return 1
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 80 $SAMPLE $SIZE d 0 ||
		{ skv_fail "keys not all moved intact"; return 1; }
}

# two_done NS1 ID1 NS2 ID2: both migrations end done.
two_done() {
	local out
	out=$(tool "$1" migrate-wait "$2" $WAIT)
	skv_info "migration $2: $out"
	[[ $out == "done "* ]] || { skv_fail "migration $2: want done, got: $out"; return 1; }
	out=$(tool "$3" migrate-wait "$4" $WAIT)
	skv_info "migration $4: $out"
	[[ $out == "done "* ]] || { skv_fail "migration $4: want done, got: $out"; return 1; }
}

# A to B while B to A: one table moves to the target while another moves
# from it to the source.
t_two_crossing() {
	src_table 82 || return 1
	tool "$S" fill "$SA:$PORT" 82 "$SLOW_N" $SIZE ab || { skv_fail "fill"; return 1; }
	if ! skv_ctl "$T" table add 83 || ! skv_ctl "$T" tablet add 83 min max; then
		skv_fail "target: table 83"
		return 1
	fi
	tool "$T" fill "$TA:$PORT" 83 "$SLOW_N" $SIZE ba || { skv_fail "fill"; return 1; }
	skv_slow_link "$S" eth0 $SLOW_DELAY || return 1
	skv_slow_link "$T" eth0 $SLOW_DELAY || return 1
	tool "$T" migrate-start 82 82 0 $MAX "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start 82 refused"; return 1; }
	tool "$S" migrate-start 83 83 0 $MAX "$TA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start 83 refused"; return 1; }
	both_midway "$T" 82 "$S" 83 || return 1
	skv_fast_link "$S" eth0
	skv_fast_link "$T" eth0
	two_done "$T" 82 "$S" 83 || return 1
	tool "$T" check-split "$SA:$PORT" "$TA:$PORT" 82 $SAMPLE $SIZE ab 0 ||
		{ skv_fail "A to B: keys not all moved intact"; return 1; }
	tool "$T" check-split "$TA:$PORT" "$SA:$PORT" 83 $SAMPLE $SIZE ba 0 ||
		{ skv_fail "B to A: keys not all moved intact"; return 1; }
}

# The source vanishes after ownership moved: the target cannot hand the
# range back; it retries for mig_retry_ms (shortened here), then says the
# tablet needs recovery and keeps the range frozen: nothing is served from
# a partial copy (a key never pulled must not read NOT_FOUND, nor a write
# taken here be read while the source may hold an older one).
t_source_lost() {
	local out y k retry_ms call_s
	setup_ns Y || { skv_fail "setup_ns"; return 1; }
	skv_veth "$T" eth1 "10.98.2.2/24" "$Y" eth0 "10.98.2.1/24" || { skv_fail "veth"; return 1; }
	skv_node_start "$Y" 10.98.2.1 $PORT 40 || return 1
	tool "$Y" fill "10.98.2.1:$PORT" 40 "$SLOW_N" $SIZE y || { skv_fail "fill"; return 1; }
	skv_slow_link "$Y" eth0 $SLOW_DELAY || return 1
	tool "$T" migrate-start 40 40 0 $MAX 10.98.2.1 $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start refused"; return 1; }
	midway "$T" 40 || return 1
	tool "$T" fill "$TA:$PORT" 40 20 $SIZE lw || { skv_fail "writes at the target failed"; return 1; }
	retry_ms=$(<"$PARAMS/mig_retry_ms") || return 1
	call_s=$(<"$PARAMS/peer_call_timeout_s") || return 1
	echo 3000 >"$PARAMS/mig_retry_ms" || return 1
	# The pull in flight when Y goes is lost with it: the target learns
	# so when the call's deadline (read as each call starts) passes, 30 s
	# by default.  5 s is still far above a pull's 10 ms delay.
	echo 5 >"$PARAMS/peer_call_timeout_s" || return 1
	y=$Y
	ip netns del "$y"
	out=$(tool "$T" migrate-wait 40 $WAIT)
	echo "$retry_ms" >"$PARAMS/mig_retry_ms"
	echo "$call_s" >"$PARAMS/peer_call_timeout_s"
	skv_info "migration 40: $out"
	[[ $out == "failed "* && $out == *"did not answer the push-back"* &&
	   $out == *"tablet needs recovery"* ]] ||
		{ skv_fail "want failed, no answer to the push-back, tablet needs recovery; got: $out"; return 1; }
	for k in lw-0 lw-19 y-0 y-1 y-$((SLOW_N - 1)); do
		out=$(tool "$T" get "$TA:$PORT" 40 "$k") || { skv_fail "get $k"; return 1; }
		[[ $out == "NOT_OWNER "* ]] ||
			{ skv_fail "key $k read at the frozen target: $out (want NOT_OWNER)"; return 1; }
	done
}

# A namespace deleted mid-migration stops it (no hang, no warning).
t_netns_exit() {
	local x
	setup_ns X || { skv_fail "setup_ns"; return 1; }
	skv_node_key "$X" || return 1
	skv_veth "$S" eth1 "10.98.1.1/24" "$X" eth0 "10.98.1.2/24" || { skv_fail "veth"; return 1; }
	# The source's listen address is reached over eth1 too.
	ip -n "$X" route add 10.98.0.0/24 dev eth0 || { skv_fail "route"; return 1; }
	src_table 30 || return 1
	tool "$S" fill "$SA:$PORT" 30 "$SLOW_N" $SIZE x || { skv_fail "fill"; return 1; }
	skv_slow_link "$S" eth1 $SLOW_DELAY || return 1
	tool "$X" migrate-start 30 30 0 $MAX "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start refused"; return 1; }
	midway "$X" 30 || return 1
	x=$X
	ip netns del "$x"
	skv_ns_gone "$x" eth1 "$S" || { skv_fail "namespace not destroyed"; return 1; }
}

# rmmod while a migration runs (and ended ones are kept): bounded, clean.
# Last: the module is gone afterwards (run.sh's own unload is then a no-op).
t_rmmod() {
	src_table 50 || return 1
	tool "$S" fill "$SA:$PORT" 50 "$SLOW_N" $SIZE r || { skv_fail "fill"; return 1; }
	skv_slow_link "$S" eth0 $SLOW_DELAY || return 1
	tool "$T" migrate-start 50 50 0 $MAX "$SA" $PORT "${SLOW[@]}" 1 ||
		{ skv_fail "migrate-start refused"; return 1; }
	midway "$T" 50 || return 1
	skv_unload_module 60
}

skv_test "setup: two nodes" setup || skv_finish
skv_test "whole table to the target and back" t_whole
skv_test "empty tablet" t_empty
skv_test "half a table (source splits)" t_split
skv_test "unreachable source fails cleanly" t_unreachable
skv_test "cancel mid-way rolls back with target writes" t_cancel
skv_test "priority pulls for keys read early" t_priority
skv_test "a GET for a key not pulled yet: RETRY, or parked until it lands" t_park
skv_test "pacing: all pulls with no load, one with clients over the goal" t_pace
skv_test "pacing: no client load, pulls of mig_idle_pull_kb" t_idle_pulls
skv_test "push mode, priority-pulls=0, partitions=1" t_baselines
skv_test "netlink refusals" t_refusals
skv_test "target reaches its memory limit mid-migration (rocksteady)" \
	target_mem_limit 0 10.98.3 eth3 70 70
skv_test "target reaches its memory limit mid-migration (push)" \
	target_mem_limit 1 10.98.4 eth4 72 72
skv_test "max-size keys and values to the target and back" t_big_both_ways
skv_test "max-size keys and values: cancel mid-way rolls back" t_big_rollback
skv_test "two migrations at once over disjoint ranges" t_two_disjoint
skv_test "two migrations at once, A to B while B to A" t_two_crossing
skv_test "source lost after ownership moved" t_source_lost
skv_test "namespace deleted mid-migration" t_netns_exit
skv_test "rmmod mid-migration" t_rmmod
skv_finish
