#!/usr/bin/env bash
# steadykv-bench's steadykv driver end to end on the host (TAP): against
# skv-fake-node's two nodes and coordinator, through a fake migration
# (NOT_OWNER from the source, RETRY at the target, the map moving), with
# marks; then one node alone (--node).  Checks the summary, the timeline
# and the JSON: every request answered, redirects and retries followed,
# the source's share of the requests falling after the move.
# shellcheck source=fake-lib.sh disable=SC2154 # bin, tmp, n, fail: set by fake-lib.sh
source "$(dirname "$0")/fake-lib.sh"
echo "TAP version 13"
# ports from the pid, so parallel runs do not collide; below the kernel's
# ephemeral range (32768 and up), so no client socket can hold one
base=$((10000 + ($$ % 1000) * 8))
"$bin/skv-fake-node" --base-port $((base + 1)) --nodes 2 --coord-port "$base" \
	--move-at 1.5 --move-for 1 --retry-pct 30 --mark-file "$tmp/marks" \
	--lifetime 30 >"$tmp/fake.out" 2>&1 &
fake_pid=$!
fake_ready
"$bin/steadykv-bench" --coord "127.0.0.1:$base" --records 20000 --rate 5000 \
	--duration 3.5 --mark-file "$tmp/marks" --timeline "$tmp/tl.csv" \
	--json "$tmp/run.json" --quiet >"$tmp/out" 2>"$tmp/err"
t "steadykv-bench --coord runs" test $? -eq 0
sed 's/^/# /' "$tmp/out"
t "every request answered, none lost" \
	grep -Eq '^run +17500 ops .* err 0$' "$tmp/out"
t "NOT_OWNER followed (redirects > 0)" \
	python3 -c "import json,sys; r=json.load(open('$tmp/run.json'))['run']['result']; sys.exit(not r['redirects'] > 0)"
# phases go by 100 ms intervals (their midpoints): the boundary ones may
# carry a few retries into idle or after
t "RETRY followed, mostly during the move" \
	python3 -c "
import json,sys
p=json.load(open('$tmp/run.json'))['phases']
d=p['during']['retries']; o=p['after']['retries']+p['idle']['retries']
print('# retries during %d, outside %d' % (d, o))
sys.exit(not (d > 0 and o <= d / 3 and p['idle']['ops'] > 0))"
t "timeline: header names both nodes" \
	grep -q '^t_s,ops,errors,p50_us,p99_us,p999_us,max_us,ops_n1@127.0.0.1:[0-9]*,ops_n2@127.0.0.1:[0-9]*,redirects,retries$' "$tmp/tl.csv"
t "timeline: node 1's share falls after the move" \
	python3 -c "
import csv,sys
rows=list(csv.reader(open('$tmp/tl.csv')))[1:]
n1=lambda rs: sum(int(r[7]) for r in rs)/max(1,sum(int(r[1]) for r in rs))
early=[r for r in rows if float(r[0]) <= 1.0]; late=[r for r in rows if 3.0 <= float(r[0]) <= 3.5]
sys.exit(not (n1(early) > 0.4 and n1(late) < 0.35))"
kill "$fake_pid" 2>/dev/null
wait "$fake_pid" 2>/dev/null
fake_pid=
"$bin/skv-fake-node" --base-port $((base + 1)) --nodes 1 --lifetime 30 >"$tmp/fake.out" 2>&1 &
fake_pid=$!
fake_ready
"$bin/steadykv-bench" --node "127.0.0.1:$((base + 1))" --records 5000 --load \
	--capacity --capacity-s 1 --rate-frac 0.5 --duration 1 --quiet >"$tmp/out" 2>"$tmp/err"
t "steadykv-bench --node: load, capacity, run at half" test $? -eq 0
sed 's/^/# /' "$tmp/out"
t "load: every record" grep -Eq '^load +5000 ops .* err 0$' "$tmp/out"
echo "1..$n"
exit $((fail > 0))
