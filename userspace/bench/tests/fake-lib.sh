# shellcheck shell=bash
# Shared by the host tests that drive skv-fake-node (fake-node-check.sh,
# history-fake-check.sh): paths, a scratch directory, the fake's pid killed
# at exit, TAP counting, and the wait for the fake to listen.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this
bin=${SKV_BIN:-$top/build/bin}	# another build's binaries: SKV_BIN
tmp=$(mktemp -d)
fake_pid=
cleanup() {
	[[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
n=0
fail=0
t() {	# t DESCRIPTION COMMAND...
	local d=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d"; fail=$((fail + 1)); fi
}
# fake_ready: until the fake's output ($tmp/fake.out) is the line "ready" (5 s at
# most; "address already in use" must not count)
fake_ready() {
	for _ in $(seq 50); do grep -qx ready "$tmp/fake.out" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
