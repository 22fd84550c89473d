#!/usr/bin/env bash
# make tour, inside the guest: three nodes in namespaces n1..n3 on a bridge,
# table 1 split into three tablets (a third of the key-hash space each),
# keys stored on whichever node owns them, read back, and each node's view.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
ctl=$top/build/bin/steadykvctl
port=7000

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
	for i in 1 2 3; do ip netns del "n$i" 2>/dev/null || true; done
	ip link del skvbr0 2>/dev/null || true
	rmmod steadykv 2>/dev/null || true
}
trap cleanup EXIT

step "load the module"
modprobe libcrc32c
run insmod build/steadykv.ko

step "three nodes, one per network namespace, on a bridge"
ip link add skvbr0 type bridge
ip addr add 10.77.0.254/24 dev skvbr0
ip link set skvbr0 up
for i in 1 2 3; do
	ip netns add "n$i"
	ip link add "veth$i" type veth peer name eth0 netns "n$i"
	ip link set "veth$i" master skvbr0 up
	ip -n "n$i" addr add "10.77.0.$i/24" dev eth0
	ip -n "n$i" link set eth0 up
	ip -n "n$i" link set lo up
	run ip netns exec "n$i" "$ctl" listen start "10.77.0.$i" "$port"
done

step "table 1, split into three tablets, one per node"
starts=(0x0000000000000000 0x5555555555555556 0xaaaaaaaaaaaaaaac)
ends=(0x5555555555555555 0xaaaaaaaaaaaaaaab max)
for i in 1 2 3; do
	ip netns exec "n$i" "$ctl" table add 1
	run ip netns exec "n$i" "$ctl" tablet add 1 "${starts[i - 1]}" "${ends[i - 1]}"
done

step "store keys: each goes to the node that owns its hash; the others say NOT_OWNER"
declare -A owner
for key in alice bob carol dave erin frank; do
	for i in 1 2 3; do
		if "$ctl" put "10.77.0.$i:$port" 1 "$key" "hello $key" >/dev/null 2>&1; then
			owner[$key]=$i
			printf '%-6s -> node n%d\n' "$key" "$i"
			break
		fi
	done
	[[ -n "${owner[$key]:-}" ]] || { echo "no node accepted $key" >&2; exit 1; }
done

step "read them back from their owners"
for key in alice bob carol dave erin frank; do
	run "$ctl" get "10.77.0.${owner[$key]}:$port" 1 "$key"
done

step "a read at a node that does not own the key"
other=$(( owner[alice] % 3 + 1 ))
run "$ctl" get "10.77.0.$other:$port" 1 alice || true

step "overwrite and delete: versions move forward"
run "$ctl" put "10.77.0.${owner[bob]}:$port" 1 bob "bob v2"
run "$ctl" get "10.77.0.${owner[bob]}:$port" 1 bob
run "$ctl" del "10.77.0.${owner[carol]}:$port" 1 carol
run "$ctl" get "10.77.0.${owner[carol]}:$port" 1 carol || true

step "each node's tablets and statistics"
for i in 1 2 3; do
	run ip netns exec "n$i" "$ctl" tablet list
	run ip netns exec "n$i" "$ctl" -j node show
done

step "tear down: namespaces deleted, module unloaded"
cleanup
trap - EXIT
echo "demo: done"
