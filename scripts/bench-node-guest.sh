#!/usr/bin/env bash
# Inside the guest: GET/PUT throughput of one steadykv node through
# libsteadykv (build/bin/kv_rate), and of redis-server through
# redis-benchmark in the same guest as the peer (one connection each,
# 100-byte values, the same pipeline depth).  Figures are only meaningful
# as ratios: the guest runs under TCG, 10-50x slower than native.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
count=${COUNT:-100000}
depth=${DEPTH:-64}
ctl=build/bin/steadykvctl

cleanup() {
	ip netns del skvbench 2>/dev/null || true
	rmmod steadykv 2>/dev/null || true
	[[ -n "${redis_pid:-}" ]] && kill "$redis_pid" 2>/dev/null || true
}
trap cleanup EXIT

modprobe libcrc32c
insmod build/steadykv.ko
ip netns add skvbench
ip -n skvbench link set lo up
ip netns exec skvbench "$ctl" listen start 127.0.0.1 7000
ip netns exec skvbench "$ctl" table add 1
ip netns exec skvbench "$ctl" tablet add 1 min max

echo "== steadykv, one node, libsteadykv, $count keys (30 B keys, 100 B values)"
ip netns exec skvbench build/bin/kv_rate 127.0.0.1 7000 1 "$count" "$depth"

echo "== redis-server 7.0, redis-benchmark, 1 connection, -d 100"
ip netns exec skvbench redis-server --port 6379 --save '' --appendonly no \
	--daemonize no >/dev/null &
redis_pid=$!
for _ in $(seq 50); do
	ip netns exec skvbench redis-cli -p 6379 ping >/dev/null 2>&1 && break
	sleep 0.1
done
# The same request counts as kv_rate: a tenth of them unpipelined.
for p in 1 "$depth"; do
	n=$count
	((p == 1)) && n=$((count / 10))
	echo "pipeline $p, $n requests (requests per second):"
	ip netns exec skvbench redis-benchmark -p 6379 -c 1 -n "$n" -d 100 \
		-r 1000000 -P "$p" -t set,get --csv
done
