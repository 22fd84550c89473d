#!/usr/bin/env bash
# Inside the guest: many client connections (10,000) to one steadykv node,
# to redis-server 7 and to memcached, one after the other in the same
# namespace, through steadykv-bench (closed loop, depth 1 per connection,
# YCSB-B, 2 threads); and the same with 8 connections, the usual count.
# For each: ops/s with both counts, and what holding the connections open
# costs, sampled while steadykv-bench holds them idle (--hold-s):
# MemAvailable, Slab and KernelStack from /proc/meminfo, the server's RSS
# (redis, memcached: steadykv has no process) and the client's.  The
# per-connection figures are those deltas over the connections.  Figures
# are only meaningful as ratios: the guest runs under TCG, 10-50x slower
# than native.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
conns=${CONNS:-10000}
few=${FEW_CONNS:-8}
records=${RECORDS:-10000}
hold=${HOLD_S:-40}
cap_s=${CAPACITY_S:-5}
ns=skvconns
# SKV_KO: another build of the module (STEADYKV_GUEST_ENV="SKV_KO=...")
ko=${SKV_KO:-build/steadykv.ko}
ctl=build/bin/steadykvctl
bench=build/bin/steadykv-bench
tmp=$(mktemp -d)
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	ip netns del "$ns" 2>/dev/null || true
	rmmod steadykv 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# Room for the connections of both ends, redis's and memcached's included.
if ! ulimit -n 65536 2>/dev/null; then
	ulimit -n "$(ulimit -Hn)"
	echo "warning: ulimit -n 65536 refused, $(ulimit -n) it is" >&2
fi
echo "module $ko ($(modinfo -F srcversion "$ko")); guest: $(nproc) CPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB," \
	"kernel $(uname -r), threads-max $(cat /proc/sys/kernel/threads-max), pid_max $(cat /proc/sys/kernel/pid_max)"

modprobe libcrc32c
# per_addr 0: no cap per source address (every client is 127.0.0.1)
insmod "$ko" max_connections=$((conns + 300)) max_connections_per_addr=0
ip netns add "$ns"
ip -n "$ns" link set lo up
# One client address: ephemeral ports for 10,000 connections (the default
# range has 28,000, and the connections of earlier runs wait in TIME_WAIT).
ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
	net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
ip netns exec "$ns" "$ctl" listen start 127.0.0.1 7000
ip netns exec "$ns" "$ctl" table add 1
ip netns exec "$ns" "$ctl" tablet add 1 min max

# meminfo FIELD...: their values in kB, on a line
meminfo() {
	local f out=()
	for f in "$@"; do
		out+=("$(awk -v f="$f:" '$1 == f { print $2 }' /proc/meminfo)")
	done
	echo "${out[*]}"
}

# rss PID: its VmRSS in kB (0 if gone)
rss() {
	awk '$1 == "VmRSS:" { print $2; found = 1 } END { if (!found) print 0 }' \
		"/proc/$1/status" 2>/dev/null || echo 0
}

# listen_stats: the namespace's listen-queue overflows and drops, SYN cookies sent
listen_stats() {
	ip netns exec "$ns" awk '
		$1 == "TcpExt:" && !hdr { for (i = 2; i <= NF; i++) k[i] = $i; hdr = 1; next }
		$1 == "TcpExt:" { for (i = 2; i <= NF; i++) v[k[i]] = $i }
		END { printf "%d %d %d\n", v["ListenOverflows"], v["ListenDrops"], v["SyncookiesSent"] }
	' /proc/net/netstat
}

# server_conns TARGET: connections the server says it has open
server_conns() {
	case $1 in
	steadykv) ip netns exec "$ns" "$ctl" -j node show |
		jq -r '[.. | objects | .connections? // empty][0] // 0' ;;
	redis) ip netns exec "$ns" redis-cli -p 6379 info clients |
		awk -F: '$1 == "connected_clients" { print $2 + 0 }' ;;
	memcached) ip netns exec "$ns" timeout 5 bash -c \
		'exec 3<>/dev/tcp/127.0.0.1/11211; printf "stats\r\nquit\r\n" >&3; cat <&3' |
		awk '$2 == "curr_connections" { print $3 + 0 }' ;;
	esac
}

# drop: reclaimable caches away, so the samples differ by the connections
drop() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

declare -A target=([steadykv]="--node 127.0.0.1:7000" [redis]="--redis 127.0.0.1:6379"
	[memcached]="--memcached 127.0.0.1:11211")
declare -A spid few_ops many_ops many_err conn_s conn_line srv_seen lq
declare -A d_avail d_slab d_kstack d_srv d_cli after_avail

# measure NAME: load, the capacity with $few connections, then with $conns
# held open $hold s first and sampled while they are.
measure() {
	local name=$1 f=$tmp/$1 tgt t0 p bpid cpid i seen before during lq0 lq1 s rc
	local a0 sl0 k0 a1 sl1 k1 last=
	# shellcheck disable=SC2206 # two words, split on purpose
	tgt=(${target[$name]})
	s=${spid[$name]:-}
	echo "== $name: load $records records, then $few connections, then $conns"
	ip netns exec "$ns" timeout 300 "$bench" "${tgt[@]}" --records "$records" --load \
		--no-run --quiet >"$f.load" 2>&1 || { cat "$f.load"; return 1; }
	ip netns exec "$ns" timeout 300 "$bench" "${tgt[@]}" --records "$records" \
		--threads 2 --conns "$few" --depth 1 --capacity --capacity-s "$cap_s" --no-run \
		--quiet --json "$f.few.json" >"$f.few" 2>&1 || { cat "$f.few"; return 1; }
	few_ops[$name]=$(jq -r '.capacity.ops_per_s | floor' "$f.few.json")
	echo "$few connections: ${few_ops[$name]} ops/s"

	drop
	before=$(meminfo MemAvailable Slab KernelStack)
	local srv0=0 srv1=0 cli0 cli1 base
	base=$(server_conns "$name")
	[[ -n $s ]] && srv0=$(rss "$s")
	lq0=$(listen_stats)
	t0=$(date +%s.%N)
	# timeout runs the bench as its child: its pid is timeout's child
	ip netns exec "$ns" timeout 600 "$bench" "${tgt[@]}" --records "$records" \
		--threads 2 --conns "$conns" --depth 1 --capacity --capacity-s "$cap_s" --no-run \
		--hold-s "$hold" --json "$f.many.json" >"$f.many" 2>&1 &
	p=$!
	pids+=("$p")
	bpid=
	for _ in $(seq 50); do
		cpid=$(cat "/proc/$p/task/$p/children" 2>/dev/null || true)
		[[ -n $cpid ]] && { bpid=${cpid%% *}; break; }
		sleep 0.1
	done
	cli0=0
	# the bench before it connects: its RSS then is its base
	[[ -n $bpid ]] && cli0=$(rss "$bpid")
	for _ in $(seq 3000); do
		grep -q '^holding' "$f.many" 2>/dev/null && break
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	conn_line[$name]=$(grep -m1 '^connected' "$f.many" || echo "never connected")
	conn_s[$name]=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }')
	echo "${conn_line[$name]} (${conn_s[$name]} s from the start of steadykv-bench)"
	if grep -q '^holding' "$f.many"; then
		# the client's handshake may end before the server took the
		# connection in: wait (half the hold at most) until it has them
		# (most of the hold at most; what it has every 5 s, for the rate)
		seen=0
		t0=$SECONDS
		i=$((SECONDS + hold - 8))
		while ((SECONDS < i)); do
			seen=$(server_conns "$name" 2>/dev/null || echo 0)
			((seen >= conns)) && break
			(((SECONDS - t0) % 5 == 0)) && [[ $((SECONDS - t0)) != "${last:-}" ]] &&
				last=$((SECONDS - t0)) && echo "  server: $seen open, $last s into the hold"
			sleep 0.2
		done
		srv_seen[$name]=$seen
		drop
		during=$(meminfo MemAvailable Slab KernelStack)
		[[ -n $s ]] && srv1=$(rss "$s")
		cli1=0
		[[ -n $bpid ]] && cli1=$(rss "$bpid")
		read -r a0 sl0 k0 <<<"$before"
		read -r a1 sl1 k1 <<<"$during"
		d_avail[$name]=$((a0 - a1))
		d_slab[$name]=$((sl1 - sl0))
		d_kstack[$name]=$((k1 - k0))
		d_srv[$name]=$((srv1 - srv0))
		d_cli[$name]=$((cli1 - cli0))
		echo "server reports $seen connections open; meminfo before: $before, while held: $during (MemAvailable Slab KernelStack, kB)"
	else
		echo "steadykv-bench did not get to hold its connections:"
		tail -n 20 "$f.many"
	fi
	wait "$p" && rc=0 || rc=$?
	lq1=$(listen_stats)
	lq[$name]=$(awk -v a="$lq0" -v b="$lq1" 'BEGIN { split(a, x); split(b, y);
		printf "listen overflows %d, drops %d, SYN cookies %d", y[1] - x[1], y[2] - x[2], y[3] - x[3] }')
	echo "${lq[$name]}"
	grep -E '^(capacity|steadykv-bench:)' "$f.many" | grep -v '^steadykv-bench: [a-z]*, ' | head -n 8 || true
	if [[ -s $f.many.json ]]; then
		many_ops[$name]=$(jq -r '.capacity.ops_per_s | floor' "$f.many.json")
		many_err[$name]=$(jq -r '.capacity.result | "\(.errors), p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us"' \
			"$f.many.json")
	fi
	((rc == 0)) || echo "steadykv-bench with $conns connections: exit status $rc"
	# the connections closed (the server says so, 30 s at most): is the
	# memory back?
	for ((i = 0; i < 300; i++)); do
		(($(server_conns "$name" || echo 0) <= base)) && break
		sleep 0.1
	done
	drop
	after_avail[$name]=$(meminfo MemAvailable)
	echo "MemAvailable after they closed: ${after_avail[$name]} kB"
}

# kib DELTA_KB: per connection, in KiB
kib() {
	[[ -n ${1:-} ]] || { echo -; return; }
	awk -v d="$1" -v n="$conns" 'BEGIN { printf "%.1f", d / n }'
}

measure steadykv || echo "steadykv: measurement failed"
echo "steadykv node after: $(ip netns exec "$ns" "$ctl" -j node show |
	jq -c '.. | objects | select(has("connections")) |
		with_entries(select(.key | test("^conn")))' 2>/dev/null || true)"

echo "== redis-server $(redis-server --version | grep -o 'v=[0-9.]*')"
ip netns exec "$ns" redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
	--maxclients $((conns + 300)) --daemonize no >"$tmp/redis.log" 2>&1 &
spid[redis]=$!
pids+=("${spid[redis]}")
for _ in $(seq 100); do
	ip netns exec "$ns" redis-cli -p 6379 ping >/dev/null 2>&1 && break
	sleep 0.1
done
measure redis || echo "redis: measurement failed"
kill "${spid[redis]}" 2>/dev/null || true
wait "${spid[redis]}" 2>/dev/null || true

echo "== memcached $(memcached -V | awk '{ print $2 }')"
ip netns exec "$ns" memcached -u root -l 127.0.0.1 -p 11211 -t 2 -m 256 \
	-c $((conns + 300)) >"$tmp/memcached.log" 2>&1 &
spid[memcached]=$!
pids+=("${spid[memcached]}")
for _ in $(seq 100); do
	[[ -n $(server_conns memcached 2>/dev/null) ]] && break
	sleep 0.1
done
measure memcached || echo "memcached: measurement failed"
kill "${spid[memcached]}" 2>/dev/null || true
wait "${spid[memcached]}" 2>/dev/null || true

echo
echo "YCSB-B, $records records, closed loop, depth 1 per connection, 2 client threads, ${cap_s} s (TCG guest: ratios only)"
echo "memory: deltas while $conns connections were held open, per connection in KiB (MemAvailable: all of it, both ends)"
printf '%-10s %10s %10s %9s %9s %9s %8s %8s %8s %8s %8s\n' target "ops/s@$conns" "ops/s@$few" \
	"op/s/c@N" "op/s/c@$few" MemAvail Slab KStack srvRSS cliRSS open
for name in steadykv redis memcached; do
	srv=-
	[[ $name != steadykv && -n ${d_srv[$name]:-} ]] && srv=$(kib "${d_srv[$name]}")
	printf '%-10s %10s %10s %9s %9s %9s %8s %8s %8s %8s %8s\n' "$name" \
		"${many_ops[$name]:--}" "${few_ops[$name]:--}" \
		"$(awk -v o="${many_ops[$name]:-}" -v n="$conns" 'BEGIN { if (o == "") print "-"; else printf "%.2f", o / n }')" \
		"$(awk -v o="${few_ops[$name]:-}" -v n="$few" 'BEGIN { if (o == "") print "-"; else printf "%.0f", o / n }')" \
		"$(kib "${d_avail[$name]:-}")" "$(kib "${d_slab[$name]:-}")" "$(kib "${d_kstack[$name]:-}")" \
		"$srv" "$(kib "${d_cli[$name]:-}")" "${srv_seen[$name]:--}"
done
for peer in redis memcached; do
	awk -v s="${many_ops[steadykv]:-}" -v p="${many_ops[$peer]:-}" \
		-v sf="${few_ops[steadykv]:-}" -v pf="${few_ops[$peer]:-}" -v n="$conns" -v f="$few" -v peer="$peer" '
		BEGIN {
			printf "steadykv/%s ops/s: ", peer
			if (s != "" && p > 0) printf "%.2f at %d connections", s / p, n; else printf "- at %d", n
			if (sf != "" && pf > 0) printf ", %.2f at %d\n", sf / pf, f; else printf ", - at %d\n", f
		}'
done
for name in steadykv redis memcached; do
	echo "$name: ${conn_line[$name]:-not run}; ${lq[$name]:-}; errors ${many_err[$name]:--}"
done
# Fewer open at the server than the client thinks: the rest waited in (or
# overflowed) the listen queue.  Then per server-side connection as well.
for name in steadykv redis memcached; do
	n=${srv_seen[$name]:-0}
	((n > 0 && n < conns * 99 / 100)) || continue
	awk -v n="$n" -v c="$conns" -v name="$name" -v a="${d_avail[$name]}" \
		-v sl="${d_slab[$name]}" -v k="${d_kstack[$name]}" 'BEGIN {
		printf "%s: only %d of %d open at the server when sampled; per connection open there (the %d client sockets included): MemAvailable %.1f KiB, Slab %.1f KiB, KernelStack %.1f KiB\n",
			name, n, c, c, a / n, sl / n, k / n }'
done
