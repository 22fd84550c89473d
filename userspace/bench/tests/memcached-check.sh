#!/usr/bin/env bash
# steadykv-bench's memcached driver end to end on the host (TAP), against
# a real memcached: reads before the load are all misses, the load stores
# every record, then reads (meta mg and the classic get) all hit and
# writes all store, with no error.  Parses every reply form the driver
# knows: VA/EN (mg), VALUE/END (get), STORED (set).
# shellcheck source=fake-lib.sh disable=SC2154 # bin, tmp, n, fail: set by fake-lib.sh
source "$(dirname "$0")/fake-lib.sh"
echo "TAP version 13"
port=$((12000 + ($$ % 1000) * 8))
# -u is needed (and only allowed) as root
user=()
((EUID == 0)) && user=(-u root)
memcached "${user[@]}" -l 127.0.0.1 -p "$port" -t 1 -m 64 >"$tmp/mc.out" 2>&1 &
# shellcheck disable=SC2034 # fake-lib.sh's cleanup stops it
fake_pid=$!
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
mc=(--memcached "127.0.0.1:$port" --records 2000 --quiet)

# result FILE FIELD: the run's FIELD (ops, errors, misses)
result() {
	python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run']['result'][sys.argv[2]])" "$@"
}

# run NAME OPTIONS...: a 1 s run at 2000 ops/s (2000 requests)
run() {
	local name=$1
	shift
	"$bin/steadykv-bench" "${mc[@]}" --rate 2000 --duration 1 --json "$tmp/$name.json" \
		"$@" >"$tmp/$name.out" 2>&1
}

for get in mg classic; do
	run "miss-$get" --read-pct 100 --memcached-get "$get"
	t "$get before the load: runs" test $? -eq 0
	t "$get before the load: 2000 reads, all misses, no error" test \
		"$(result "$tmp/miss-$get.json" ops)/$(result "$tmp/miss-$get.json" misses)/$(result "$tmp/miss-$get.json" errors)" \
		= 2000/2000/0
done
"$bin/steadykv-bench" "${mc[@]}" --load --no-run >"$tmp/load.out" 2>&1
t "load: every record stored, no error" grep -Eq '^load +2000 ops .* err 0$' "$tmp/load.out"
for get in mg classic; do
	run "hit-$get" --read-pct 100 --memcached-get "$get"
	t "$get after the load: 2000 reads, all hits, no error" test \
		"$(result "$tmp/hit-$get.json" ops)/$(result "$tmp/hit-$get.json" misses)/$(result "$tmp/hit-$get.json" errors)" \
		= 2000/0/0
done
run put --read-pct 0
t "set: 2000 writes, no error" test \
	"$(result "$tmp/put.json" ops)/$(result "$tmp/put.json" errors)" = 2000/0
"$bin/steadykv-bench" "${mc[@]}" --memcached-get other --rate 1 >/dev/null 2>&1
t "--memcached-get takes mg or classic only" test $? -eq 2
echo "1..$n"
exit $((fail > 0))
