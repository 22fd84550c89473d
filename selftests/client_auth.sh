#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Client keys from the operator's side (issue 11, item 6): steadykvctl node
# client-key add|list|del and node client-auth on|off, node show; the data
# commands with -K KEYFILE and $STEADYKV_CLIENT_KEY, and the message each
# refusal prints; no secret printed or logged; steadykv-bench --client-key;
# steadykvd --client-key and --client-auth, and a key file rewritten then
# SIGHUP.
# (build/selftests/client_auth_test checks each status on the wire.)
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
ADDR=127.0.0.1
KA=$SKV_TMP/all.key	# reads and writes every table
KR=$SKV_TMP/read1.key	# reads table 1, writes table 2
KX=$SKV_TMP/stranger.key	# never given to the node
skv_key "$KA"
skv_key "$KR"
skv_key "$KX"

setup() {
	setup_ns N || { skv_fail "setup_ns"; return 1; }
	skv_node_start "$N" "$ADDR" $PORT 1 2 || return 1
	skv_ctl "$N" put "$ADDR:$PORT" 1 control before >/dev/null || { skv_fail "put"; return 1; }
}

# data WANT_RC ARGS...: steadykvctl ARGS in the namespace; its stderr in ERR.
data() {
	local want=$1 rc
	shift
	ERR=$(skv_ctl "$N" "$@" 2>&1 >/dev/null)
	rc=$?
	((rc == want)) || { skv_fail "steadykvctl $*: exit $rc, want $want ($ERR)"; return 1; }
}

# key_id FILE: the id "node client-key add" printed for FILE.
declare -A KEY_ID

t_add_list_show() {
	local out k
	out=$(skv_ctl "$N" node client-key add "$KA" --read all --write all) ||
		{ skv_fail "add all: $out"; return 1; }
	[[ $out =~ ^client\ key\ (0x[0-9a-f]{8})$ ]] || { skv_fail "add printed: $out"; return 1; }
	KEY_ID[$KA]=${BASH_REMATCH[1]}
	out=$(skv_ctl "$N" node client-key add "$KR" --read 1 --write 2) ||
		{ skv_fail "add read1: $out"; return 1; }
	KEY_ID[$KR]=${out#client key }
	out=$(skv_ctl "$N" node client-key list)
	grep -qx "client-key ${KEY_ID[$KA]} read all write all" <<<"$out" &&
		grep -qx "client-key ${KEY_ID[$KR]} read 1 write 2" <<<"$out" ||
		{ skv_fail "list: $out"; return 1; }
	out=$(skv_ctl "$N" -j node client-key list)
	[[ $out == *"\"read\":\"all\""* && $out == *"\"read\":[1]"* ]] ||
		{ skv_fail "list -j: $out"; return 1; }
	out=$(skv_ctl "$N" node show)
	[[ $out == *"client-auth-required no client-keys 2"* ]] || { skv_fail "node show: $out"; return 1; }
	# Bad input: no right, a bad table list, a missing file.
	data 2 node client-key add "$KX" || return 1
	data 2 node client-key add "$KX" --read 1,,2 || return 1
	data 1 node client-key add "$SKV_TMP/none.key" --read all || return 1
	# Secrets are never printed nor logged.
	out=$(skv_ctl "$N" node show; skv_ctl "$N" -j node show; skv_ctl "$N" node client-key list
	      skv_ctl "$N" -j node client-key list; dmesg)
	for k in "$KA" "$KR"; do
		if grep -qi "$(cut -c1-16 "$k")" <<<"$out"; then
			skv_fail "a secret of $(basename "$k") was printed or logged"
			return 1
		fi
	done
}

# Off by default: no key needed; a key, if given, still applies.
t_off_served() {
	data 0 get "$ADDR:$PORT" 1 control || return 1
	data 0 put "$ADDR:$PORT" 1 free x || return 1
	data 1 put "$ADDR:$PORT" 1 free y -K "$KR" || return 1
	[[ $ERR == *"may not read (GET, MULTI-GET) or write (PUT, DELETE) this table"* ]] ||
		{ skv_fail "put with read-only key: $ERR"; return 1; }
}

t_required() {
	local out
	skv_ctl "$N" node client-auth on || { skv_fail "client-auth on"; return 1; }
	out=$(skv_ctl "$N" node show)
	[[ $out == *"client-auth-required yes"* ]] || { skv_fail "node show: $out"; return 1; }
	data 1 get "$ADDR:$PORT" 1 control || return 1
	[[ $ERR == *"needs an authenticated connection"* ]] || { skv_fail "no key: $ERR"; return 1; }
	data 1 get "$ADDR:$PORT" 1 control -K "$KX" || return 1
	[[ $ERR == *"authentication failed"* ]] || { skv_fail "wrong key: $ERR"; return 1; }
	data 0 put "$ADDR:$PORT" 1 k1 v1 -K "$KA" || return 1
	data 0 get "$ADDR:$PORT" 1 k1 --client-key "$KA" || return 1
	STEADYKV_CLIENT_KEY=$KR data 0 get "$ADDR:$PORT" 1 k1 || return 1
	STEADYKV_CLIENT_KEY=$KR data 1 del "$ADDR:$PORT" 1 k1 || return 1
	[[ $ERR == *"may not read"* ]] || { skv_fail "del with read-only key: $ERR"; return 1; }
	# -K wins over the variable.
	STEADYKV_CLIENT_KEY=$KR data 0 del "$ADDR:$PORT" 1 k1 -K "$KA" || return 1
	STEADYKV_CLIENT_KEY=$KR data 0 put "$ADDR:$PORT" 2 k2 v2 || return 1
}

t_bench() {
	local out objs
	out=$(ip netns exec "$N" steadykv-bench --node "$ADDR:$PORT" --client-key "$KA" \
		--table 2 --load --records 200 --threads 1 --conns 2 --quiet 2>&1) ||
		{ skv_fail "steadykv-bench --client-key: $out"; return 1; }
	objs=$(skv_ctl "$N" -j node show | grep -o '"objects":[0-9]*' | cut -d: -f2)
	((objs >= 200)) || { skv_fail "bench loaded $objs objects: $out"; return 1; }
	# A key the node does not hold: every connection refused, and said so.
	out=$(ip netns exec "$N" steadykv-bench --node "$ADDR:$PORT" --client-key "$KX" \
		--table 2 --load --records 10 --threads 1 --conns 1 --quiet 2>&1)
	[[ $out == *"authentication failed"* ]] || { skv_fail "bench with a stranger key: $out"; return 1; }
}

t_del() {
	local out
	skv_ctl "$N" node client-key del "${KEY_ID[$KR]}" || { skv_fail "del"; return 1; }
	out=$(skv_ctl "$N" node client-key list)
	[[ $out != *"${KEY_ID[$KR]}"* && $out == *"${KEY_ID[$KA]}"* ]] || { skv_fail "list: $out"; return 1; }
	data 1 get "$ADDR:$PORT" 1 control -K "$KR" || return 1
	[[ $ERR == *"authentication failed"* ]] || { skv_fail "removed key: $ERR"; return 1; }
	data 1 node client-key del "${KEY_ID[$KR]}" || return 1
	[[ $ERR == *"no client key"* ]] || { skv_fail "del twice: $ERR"; return 1; }
	skv_ctl "$N" node client-auth off || { skv_fail "client-auth off"; return 1; }
	data 0 get "$ADDR:$PORT" 1 control || return 1
}

# The node daemon's options: every key pushed at start, client keys required.
daemon_pushed() {
	local out
	out=$(skv_ctl "$M" node client-key list) || return 1
	grep -qx "client-key ${KEY_ID[$KA]} read all write none" <<<"$out" &&
		grep -qx "client-key ${KEY_ID[$KR]} read 1 write 2" <<<"$out" &&
		[[ $(skv_ctl "$M" node show) == *"client-auth-required yes client-keys 2"* ]]
}

t_daemon() {
	setup_ns M || { skv_fail "setup_ns"; return 1; }
	# No coordinator at the other end: the agent keeps trying, not fatal.
	skv_bg ip netns exec "$M" steadykvd --node 1 --data "$ADDR:$PORT" --coord "$ADDR:9" \
		--client-key "$KA:all:-" --client-key "$KR:1:2" --client-auth
	DAEMON_PID=$SKV_LAST_PID
	slowwait "$SKV_WAIT" daemon_pushed ||
		{ skv_fail "steadykvd did not push the client keys: $(skv_ctl "$M" node client-key list)"
		  return 1; }
	# A bad spec is a usage error.
	ip netns exec "$M" steadykvd --node 2 --data "$ADDR:$PORT" --client-key "$KA:all" \
		2>/dev/null
	(($? == 2)) || { skv_fail "steadykvd took --client-key FILE:all"; return 1; }
}

# A key file rewritten, then SIGHUP: the daemon pushes the new key and
# removes the one it had pushed from that file, so the old secret no
# longer authenticates and the new one does.
daemon_rotated() {
	local out
	out=$(skv_ctl "$M" node client-key list) || return 1
	[[ $out != *"${KEY_ID[$KR]}"* && $out == *"${KEY_ID[$KA]}"* ]] &&
		[[ $(grep -c '^client-key ' <<<"$out") == 2 ]]
}

# cluster_key_id: M's cluster key id, as node show prints it.
cluster_key_id() { skv_ctl "$M" -j node show | jq -r .auth_key_id; }

t_daemon_sighup() {
	local old_cluster
	old_cluster=$(cluster_key_id)
	[[ $old_cluster =~ ^[0-9]+$ ]] || { skv_fail "M's cluster key id: $old_cluster"; return 1; }
	cp "$KR" "$SKV_TMP/read1.old" || return 1
	skv_key "$KR"
	# The cluster key file ($STEADYKV_CLUSTER_KEY) is rewritten too: last
	# test of this guest, nothing else uses it after.
	skv_key "$STEADYKV_CLUSTER_KEY"
	kill -HUP "$DAEMON_PID" || { skv_fail "SIGHUP"; return 1; }
	slowwait "$SKV_WAIT" daemon_rotated ||
		{ skv_fail "keys after SIGHUP: $(skv_ctl "$M" node client-key list)"; return 1; }
	slowwait "$SKV_WAIT" bash -c "[[ \$(ip netns exec $M steadykvctl -j node show |
		jq -r .auth_key_id) != $old_cluster ]]" ||
		{ skv_fail "cluster key id still $old_cluster after SIGHUP"; return 1; }
	ERR=$(skv_ctl "$M" get "$ADDR:$PORT" 1 x -K "$SKV_TMP/read1.old" 2>&1 >/dev/null)
	[[ $ERR == *"authentication failed"* ]] || { skv_fail "old secret after SIGHUP: $ERR"; return 1; }
	# Authenticated with the new secret: the node has no table 1.
	ERR=$(skv_ctl "$M" get "$ADDR:$PORT" 1 x -K "$KR" 2>&1 >/dev/null)
	[[ $ERR != *"authentication"* && $ERR == *"table"* ]] ||
		{ skv_fail "new secret after SIGHUP: $ERR"; return 1; }
}

skv_test "setup: a node with tables 1 and 2" setup || skv_finish
skv_test "client-key add, list, node show; no secret printed" t_add_list_show
skv_test "client keys off: clients served, a key given still applies" t_off_served
skv_test "client keys on: no key, wrong key, rights, -K and \$STEADYKV_CLIENT_KEY" t_required
skv_test "steadykv-bench --client-key" t_bench
skv_test "steadykvd --client-key FILE:READ:WRITE --client-auth" t_daemon
skv_test "client-key del: the key no longer authenticates; client-auth off" t_del
skv_test "steadykvd: key files rewritten and SIGHUP replace the client and cluster keys" t_daemon_sighup
skv_finish
