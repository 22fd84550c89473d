#!/usr/bin/env bash
# Inside the guest: three namespaces on a bridge (A, B, C) and a client
# namespace on it.  steadykv: node A serves, B and C are its backups for
# R = 2 (steadykvctl repl set); redis-server 7: the master in A, replicas
# in B and C, every SET followed by WAIT 2 0.  The same client
# (steadykv-bench, PUTs only, the same connections, pipeline depth and
# schedule) and
# the same values for each.  Figures are only meaningful as ratios: the
# guest runs under TCG, 10-50x slower than native.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
dur=${DURATION:-10}
records=${RECORDS:-10000}
conns=${CONNS:-8}
# One request in flight per connection: Redis answers a WAIT pipelined
# behind another late (it asks its replicas for acknowledgements only
# once per event loop pass, so a WAIT queued behind one waits for their
# once-a-second report: p99 of seconds on any host).  Writes from many
# connections still go out to the backups together (steadykv batches
# them per backup).
depth=${DEPTH:-1}
vsize=${VALUE_SIZE:-100}
ctl=build/bin/steadykvctl
bench=build/bin/steadykv-bench
tmp=$(mktemp -d)
# shellcheck source=bench-nodes.sh
source scripts/bench-nodes.sh

cleanup() {
	bench_teardown skvr A B C
	rm -rf "$tmp"
}
trap cleanup EXIT

modprobe libcrc32c
insmod build/steadykv.ko
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/key")
bench_nodes skvr 10.96.0 "$tmp/key" A B C
for n in A B C; do
	ip netns exec "skvr$n" "$ctl" table add 1
	ip netns exec "skvr$n" "$ctl" tablet add 1 min max
done

# run NAME BENCH-TARGET-ARGS...: from the client namespace, PUTs only: the
# closed-loop capacity, then an open-loop run at 80% of it for $dur s
# (latency from each request's intended send time).
run() {
	local name=$1
	shift
	ip netns exec skvrSW "$bench" "$@" --read-pct 0 --zipf 0 --records "$records" \
		--value-size "$vsize" --threads 1 --conns "$conns" --depth "$depth" \
		--capacity --capacity-s 3 --rate-frac 0.8 --duration "$dur" --drain-s 5 \
		--quiet --json "$tmp/$name.json" >"$tmp/$name.out" 2>&1 ||
		{ cat "$tmp/$name.out"; return 1; }
}


echo "== steadykv, node A, R = 0"
run skv-r0 --node "${IP[A]}:7000"
echo "== steadykv, node A, R = 2 (backups B, C)"
ip netns exec skvrA "$ctl" repl set 1 1 "${IP[B]}:7000" "${IP[C]}:7000"
bench_healthy skvrA
run skv-r2 --node "${IP[A]}:7000"
ip netns exec skvrA "$ctl" -j repl show
ip netns exec skvrA "$ctl" repl set none

echo "== redis-server $(redis-server --version | grep -o 'v=[0-9.]*'), master A, replicas B and C, WAIT 2 0"
# Full syncs over the socket, files in $tmp: the working directory may be
# the host's tree over 9p, where an RDB file for the sync cannot be written.
# Protected mode off: with no password Redis refuses its own replicas,
# which reach it from other addresses (closed test network).
for n in A B C; do
	mkdir -p "$tmp/redis-$n"
done
ip netns exec skvrA redis-server --bind "${IP[A]}" --port 6379 --save '' \
	--protected-mode no --appendonly no --dir "$tmp/redis-A" --repl-diskless-sync yes \
	--repl-diskless-sync-delay 0 --daemonize no >"$tmp/redis-A.log" 2>&1 &
for n in B C; do
	ip netns exec "skvr$n" redis-server --bind "${IP[$n]}" --port 6379 --save '' \
		--protected-mode no --appendonly no --dir "$tmp/redis-$n" --repl-diskless-load on-empty-db \
		--replicaof "${IP[A]}" 6379 --daemonize no >"$tmp/redis-$n.log" 2>&1 &
done
for _ in $(seq 1200); do
	ip netns exec skvrSW redis-cli -h "${IP[A]}" info replication 2>/dev/null |
		grep -q '^connected_slaves:2' && break
	sleep 0.1
done
if ip netns exec skvrSW redis-cli -h "${IP[A]}" info replication | grep -q '^connected_slaves:2'; then
	run redis-wait2 --redis "${IP[A]}:6379" --redis-wait 2
else
	echo "redis replicas did not connect within 120 s: no Redis figures" >&2
	tail -n 5 "$tmp"/redis-*.log >&2
fi

echo
echo "PUTs at 80% of capacity for ${dur} s, ${vsize} B values, $conns connections x depth $depth (TCG guest: ratios only)"
printf '%-28s %12s %10s %10s %10s\n' system ops/s p50_us p99_us p99.9_us
for name in skv-r0 skv-r2 redis-wait2; do
	case $name in
	skv-r0) label="steadykv R=0" ;;
	skv-r2) label="steadykv R=2" ;;
	redis-wait2) label="redis 7 + WAIT 2 0" ;;
	esac
	[[ -s $tmp/$name.json ]] || continue
	jq -r --arg l "$label" '.run.result as $r |
		[$l, ($r.ops_per_s | floor), $r.latency_us.p50, $r.latency_us.p99, $r.latency_us.p999, $r.errors] |
		"\(.[0])|\(.[1])|\(.[2])|\(.[3])|\(.[4])|\(.[5])"' "$tmp/$name.json" |
		awk -F'|' '{ printf "%-28s %12s %10s %10s %10s%s\n", $1, $2, $3, $4, $5, ($6 > 0 ? "  errors " $6 : "") }'
done
