#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The wire fuzzer (selftests/fuzz_wire.c) against two nodes while real
# migrations run between them: FUZZ_FRAMES frames in all (default 10^5,
# half at each node), seed FUZZ_SEED (printed; the same seed sends the
# same frames).  Afterwards each node's control keys read back intact,
# each node takes and serves a fresh write, and the kernel log is clean.
# A long run (the guest sees no host environment; run.sh bounds each
# program by SKV_PROG_TIMEOUT):
#   vm-test/run.sh --name fuzz-long --timeout 7200 -- env FUZZ_FRAMES=5000000 \
#       FUZZ_SEED=7 SKV_PROG_TIMEOUT=7000 selftests/run.sh selftests/fuzz_wire.sh
#
# The migration ops need no authentication today and can legitimately
# erase or rewrite a tablet (issue 11), so the frames name only the
# sacrificial tables: 11..18 (one per migration, the only ones the
# migration ops name) and, for client ops, also 2 and 3 (3 exists
# nowhere), plus random ids >= 2^32.  The control keys live in table 100
# at the source and 101 at the target, which no frame names.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

: "${FUZZ_FRAMES:=100000}"
: "${FUZZ_SEED:=20261202}"
PORT=7000
SA=10.96.0.1
TA=10.96.0.2
MAX=18446744073709551615
CTRL_S=100
CTRL_T=101
CTRL_N=500
# Migrations while the fuzzers run: id N moves table 10+N from the source
# to the target, one after the other; slow ones (one partition, 1 KiB
# pulls, 5 ms delay) so that each lasts a while, unless fuzzed frames end it.
MAX_MIG=8
MIG_TABLES=$(seq -s, 11 $((10 + MAX_MIG)))
MIG_KEYS=${SKV_FUZZ_MIG_KEYS:-800}
SLOW=(0 1 1 1024 1)
WAIT=120

setup() {
	local t
	setup_ns S T || { skv_fail "setup_ns"; return 1; }
	skv_veth "$S" eth0 "$SA/24" "$T" eth0 "$TA/24" || { skv_fail "veth"; return 1; }
	# shellcheck disable=SC2046 # one table a word
	skv_node_start "$S" "$SA" $PORT 2 $CTRL_S $(seq 11 $((10 + MAX_MIG))) || return 1
	skv_node_start "$T" "$TA" $PORT 2 $CTRL_T || return 1
	tool "$S" fill "$SA:$PORT" $CTRL_S $CTRL_N 64 ctl || { skv_fail "fill control keys at the source"; return 1; }
	tool "$T" fill "$TA:$PORT" $CTRL_T $CTRL_N 64 ctl || { skv_fail "fill control keys at the target"; return 1; }
	for ((t = 11; t <= 10 + MAX_MIG; t++)); do
		tool "$S" fill "$SA:$PORT" $t "$MIG_KEYS" 100 m || { skv_fail "fill table $t"; return 1; }
	done
	modprobe sch_netem 2>/dev/null
	ip netns exec "$S" tc qdisc add dev eth0 root netem delay 5ms ||
		skv_info "no netem: migrations may end before the fuzzing does"
	ip netns exec "$T" tc qdisc add dev eth0 root netem delay 5ms 2>/dev/null
	return 0
}

# mig_state ID: the migration's state at the target.
mig_state() {
	local out
	out=$(tool "$T" migrate-get "$1" 2>/dev/null) || { echo none; return; }
	echo "${out%% *}"
}

# Start migration ID: table 10+ID, all of it, from the source to the target.
mig_start() {
	tool "$T" migrate-start "$1" $((10 + $1)) 0 $MAX "$SA" $PORT "${SLOW[@]}" 2>&1
}

t_fuzz() {
	local id=1 sp tp rs rt st half=$((FUZZ_FRAMES / 2)) started=1 out i
	mig_start 1 >/dev/null || { skv_fail "first migration refused"; return 1; }
	tool "$T" migrate-wait 1 $WAIT pulling >/dev/null || { skv_fail "first migration never pulling"; return 1; }
	skv_info "fuzzing with seed $FUZZ_SEED (source) and $((FUZZ_SEED + 1)) (target) while migration 1 pulls"
	skv_bg ip netns exec "$S" fuzz_wire "$SA" $PORT "$half" "$FUZZ_SEED" 2,3,"$MIG_TABLES" "$MIG_TABLES" $MAX_MIG \
		>"$SKV_TMP/fz.s"
	sp=$SKV_LAST_PID
	skv_bg ip netns exec "$T" fuzz_wire "$TA" $PORT $((FUZZ_FRAMES - half)) $((FUZZ_SEED + 1)) \
		2,3,"$MIG_TABLES" "$MIG_TABLES" $MAX_MIG >"$SKV_TMP/fz.t"
	tp=$SKV_LAST_PID
	# Keep a migration running while the fuzzers do: start the next one
	# whenever the current one has ended.
	while kill -0 "$sp" 2>/dev/null || kill -0 "$tp" 2>/dev/null; do
		st=$(mig_state $id)
		if [[ $st == "done" || $st == failed || $st == cancelled || $st == none ]] && ((id < MAX_MIG)); then
			id=$((id + 1))
			out=$(mig_start $id) && started=$((started + 1))
			skv_info "migration $id: ${out:-started}"
		fi
		skv_sleep 0.5
	done
	wait "$sp"
	rs=$?
	wait "$tp"
	rt=$?
	sed 's/^/# source: /' "$SKV_TMP/fz.s" | grep -v '^# source: \(1\.\.\|ok\|not ok\)'
	sed 's/^/# target: /' "$SKV_TMP/fz.t" | grep -v '^# target: \(1\.\.\|ok\|not ok\)'
	((rs == 0)) || skv_fail "fuzz_wire against the source failed (seed $FUZZ_SEED)"
	((rt == 0)) || skv_fail "fuzz_wire against the target failed (seed $((FUZZ_SEED + 1)))"
	skv_info "$started migrations started during the fuzzing"
	((started >= 2)) || skv_fail "fewer than 2 migrations ran during the fuzzing"
	# End what still runs, bounded: a migration that neither ends nor
	# cancels is a hang.
	for ((i = 1; i <= id; i++)); do
		tool "$T" migrate-cancel $i >/dev/null 2>&1
		out=$(tool "$T" migrate-wait $i $WAIT 2>&1)
		[[ $out == "ERR -2 "* ]] && continue
		skv_info "migration $i: $out"
		[[ $out == done* || $out == failed* || $out == cancelled* ]] ||
			skv_fail "migration $i did not end: $out"
	done
	[[ $RET == 0 ]]
}

t_after() {
	tool "$S" check "$SA:$PORT" $CTRL_S $CTRL_N 64 ctl || skv_fail "source control keys changed"
	tool "$T" check "$TA:$PORT" $CTRL_T $CTRL_N 64 ctl || skv_fail "target control keys changed"
	tool "$S" fill "$SA:$PORT" $CTRL_S 50 64 after || skv_fail "source refuses writes"
	tool "$T" fill "$TA:$PORT" $CTRL_T 50 64 after || skv_fail "target refuses writes"
	tool "$S" check "$SA:$PORT" $CTRL_S 50 64 after || skv_fail "source does not serve new writes"
	tool "$T" check "$TA:$PORT" $CTRL_T 50 64 after || skv_fail "target does not serve new writes"
	[[ $RET == 0 ]]
}

skv_dmesg_mark
skv_test "setup: two nodes, control keys, a table to migrate" setup || skv_finish
skv_test "wire fuzzing ($FUZZ_FRAMES frames, seed $FUZZ_SEED) during migrations" t_fuzz
skv_test "control keys intact, both nodes serve" t_after
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
