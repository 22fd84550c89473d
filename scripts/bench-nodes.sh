# shellcheck shell=bash
# Sourced by the benchmarks' guest scripts (bench-repl, bench-recovery,
# bench-lineage, bench-pull):
# steadykv nodes in network namespaces on one bridge.  Needs $ctl (the
# steadykvctl binary) and the module loaded.

: "${ctl:?the steadykvctl binary}"
declare -gA IP

# bench_bridge PREFIX NET NAME...: namespace PREFIX"SW" holds a bridge at
# NET.254; the i-th NAME gets namespace PREFIX"NAME" at NET.i (IP[NAME]).
bench_bridge() {
	local p=$1 net=$2 n i=0
	shift 2
	ip netns add "${p}SW"
	# A fixed MAC: a bridge that takes its ports' lowest changes it when
	# a port goes, and its neighbours' ARP entries go stale.
	ip -n "${p}SW" link add br0 address 02:5b:00:00:00:fe type bridge
	ip -n "${p}SW" addr add "$net.254/24" dev br0
	ip -n "${p}SW" link set br0 up
	ip -n "${p}SW" link set lo up
	for n in "$@"; do
		i=$((i + 1))
		IP[$n]=$net.$i
		ip netns add "$p$n"
		ip -n "$p$n" link set lo up
		ip link add "$p$n" type veth peer name eth0 netns "$p$n"
		ip link set "$p$n" netns "${p}SW"
		ip -n "${p}SW" link set "$p$n" master br0 up
		ip -n "$p$n" addr add "${IP[$n]}/24" dev eth0
		ip -n "$p$n" link set eth0 up
	done
}

# bench_nodes PREFIX NET KEYFILE NAME...: bench_bridge, then each node
# gets the cluster key KEYFILE and a listener on port 7000.
bench_nodes() {
	local p=$1 net=$2 key=$3 n
	shift 3
	bench_bridge "$p" "$net" "$@"
	for n in "$@"; do
		ip netns exec "$p$n" "$ctl" node key set --current "$key"
		ip netns exec "$p$n" "$ctl" listen start "${IP[$n]}" 7000
	done
}

# bench_teardown PREFIX NAME...: the processes in those namespaces
# stopped, the namespaces (and PREFIX"SW") deleted, the module unloaded.
bench_teardown() {
	local p=$1 n
	shift
	for n in "$@" SW; do
		ip netns pids "$p$n" 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	for n in "$@" SW; do
		ip netns del "$p$n" 2>/dev/null || true
	done
	rmmod steadykv 2>/dev/null || true
}

# wait_for SECONDS CMD...: poll until CMD succeeds (its output dropped).
wait_for() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		"${@:2}" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "timed out waiting for: ${*:2}" >&2
	return 1
}

# bench_healthy NS: the node's replication has every backup opened and
# caught up (within 30 s).
bench_healthy() {
	for _ in $(seq 300); do
		ip netns exec "$1" "$ctl" -j repl show | grep -q '"healthy": *1' && return 0
		sleep 0.1
	done
	echo "replication at $1 never became healthy" >&2
	return 1
}
