#!/usr/bin/env bash
# skv-history end to end on the host (TAP): against skv-fake-node's two
# nodes and coordinator, whose one store is honest, through a fake
# migration (NOT_OWNER, RETRY, the map moving) with marks, the checker must
# pass at high contention and over a broad key set, and the requirements
# (decided operations, operations overlapping the migration) must hold or
# fail the run; against a store that serves stale data and loses writes,
# the run must fail and name those anomalies.
# shellcheck source=fake-lib.sh disable=SC2154 # bin, tmp, n, fail: set by fake-lib.sh
source "$(dirname "$0")/fake-lib.sh"
# ports from the pid, so parallel runs do not collide (fake-node-check.sh
# uses 10000 + ...); below the kernel's ephemeral range (32768 and up), so
# no client socket of another test can hold one
base=$((20000 + ($$ % 1000) * 8))

fake() {	# fake ARGS...: (re)start the fake cluster, wait until it listens
	[[ -n "$fake_pid" ]] && { kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; }
	rm -f "$tmp/marks" "$tmp/ready"
	"$bin/skv-fake-node" --base-port $((base + 1)) --nodes 2 --coord-port "$base" \
		--lifetime 60 "$@" >"$tmp/fake.out" 2>&1 &
	fake_pid=$!
	fake_ready
}

history() {	# history OUT ARGS...: skv-history's exit status
	local out=$1
	shift
	"$bin/skv-history" --coord "127.0.0.1:$base" --table 1 --timeout-ms 2000 "$@" \
		>"$out" 2>&1
	local rc=$?
	sed 's/^/# /' "$out" | grep -v '^# \(not \)\?ok \|^# TAP\|^# 1\.\.'
	return $rc
}

echo "TAP version 13"
# A migration of 1 s that starts once the clients run (the ready file),
# inside their 3 s.
fake --move-when "$tmp/ready" --move-at 0 --move-for 1 --retry-pct 30 --mark-file "$tmp/marks"
history "$tmp/hc" --keys 16 --clients 16 --mget-pct 10 --seconds 3 --seed 1 --tap --min-ops 1000 \
	--mark-file "$tmp/marks" --min-overlap 100 --ready-file "$tmp/ready"
t "honest store, 16 keys, 16 clients, across a migration: linearizable" test $? -eq 0
t "high contention: MULTI-GET items were checked" \
	grep -Eq '^# ops: .* multi-get items [1-9][0-9]*\)' "$tmp/hc"
t "the migration overlapped decided operations" \
	grep -Eq '^# migration windows: 1, decided ops overlapping them: [1-9][0-9]{2,}' "$tmp/hc"
fake
history "$tmp/broad" --keys 1000 --clients 4 --mget-pct 10 --seconds 2 --seed 2 --min-ops 1000
t "honest store, 1000 keys, 4 clients: linearizable" test $? -eq 0
history "$tmp/few" --keys 16 --clients 2 --seconds 1 --seed 3 --min-ops 100000000
t "fewer decided operations than --min-ops fail the run" test $? -eq 1
grep -q '^# too few decided operations' "$tmp/few" || { echo "# no reason given"; fail=$((fail + 1)); }
: >"$tmp/nomarks"
history "$tmp/nomig" --keys 16 --clients 2 --seconds 1 --seed 4 --mark-file "$tmp/nomarks" \
	--min-overlap 1
t "no operation overlapping a migration fails the run" test $? -eq 1
# --rate: 2 clients at 20 operations a second for 2 s (and the 50 ms the
# run may overshoot) start at most 44 each (one at once, one in flight at
# the stop); with the preload and the final reads of 16 keys, at most 120
# operations, where unpaced clients make thousands.
history "$tmp/paced" --keys 16 --clients 2 --seconds 2 --seed 6 --rate 20 --min-ops 40
t "paced clients (--rate) decide enough operations" test $? -eq 0
paced_ops=$(sed -n 's/^# ops: \([0-9]*\) .*/\1/p' "$tmp/paced")
echo "# paced run: ${paced_ops:-no} operations"
t "paced clients start no more than --rate allows" test "${paced_ops:-999999}" -le 120
fake --stale-every 7 --lose-every 5
history "$tmp/liar" --keys 16 --clients 16 --mget-pct 10 --seconds 2 --seed 5 --tap
t "a store serving stale data and losing writes fails the run" test $? -eq 1
t "  lost writes found" grep -Eq '^not ok [0-9]+ - no read older than an acknowledged PUT' "$tmp/liar"
t "  stale reads found" grep -Eq '^# violations: .* stale-read [1-9]' "$tmp/liar"
echo "1..$n"
exit $((fail > 0))
