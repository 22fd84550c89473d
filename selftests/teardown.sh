#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Teardown under load: deleting a node's namespace with clients connected
# (idle, mid-frame, busy), and unloading the module with nodes listening
# and clients connected.  Each must finish in bounded time, leave the
# module working for other namespaces, give back the memory, and log no
# kernel warning.  Loads and unloads steadykv.ko itself: run it alone
# (vm-tests.list), not under selftests/run.sh.

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
DATA_KEYS=4000
DATA_SIZE=4096	# 16 MiB of values in the node whose namespace is deleted

# hold NS ADDR:PORT READYFILE [--expect-close S]: clients that stay connected:
# idle ones, ones stopped mid-frame, busy ones pinging back to back.
hold() {
	local ns=$1 addr=$2 ready=$3
	shift 3
	skv_bg ip netns exec "$ns" skv_tool hold "$addr" --idle 4 --midframe 4 --busy 2 \
		--ready "$ready" "$@"
	skv_wait_file "$ready" || { skv_fail "clients of $addr never got ready"; return 1; }
}

t_load() {
	skv_mem_snapshot preload
	skv_load_module
}

# Namespace deletion with open connections.
t_netns_delete_with_clients() {
	local ready1=$SKV_TMP/ready1 ready2=$SKV_TMP/ready2 start end
	skv_mem_snapshot before-srv
	setup_ns SRV CLI || { skv_fail "setup_ns"; return 1; }
	skv_veth "$SRV" eth0 10.98.0.1/24 "$CLI" eth0 10.98.0.2/24 || { skv_fail "veth"; return 1; }
	skv_node_start "$SRV" 10.98.0.1 $PORT 1 2 || return 1
	ip netns exec "$CLI" skv_tool fill 10.98.0.1:$PORT 1 $DATA_KEYS $DATA_SIZE d ||
		{ skv_fail "filling the node"; return 1; }
	skv_info "node before deletion: $(skv_ctl "$SRV" node show | tr '\n' ' ')"
	# The memory check must be able to see this node's memory at all.
	if _skv_mem_within before-srv; then
		skv_fail "16 MiB stored but memory within tolerance ($SKV_MEM_DELTA): the leak check is blind"
		return 1
	fi
	skv_info "memory while the node holds its data: $SKV_MEM_DELTA"
	# Clients from another namespace, and from inside the node's own.
	hold "$CLI" 10.98.0.1:$PORT "$ready1" || return 1
	local outside=$SKV_LAST_PID
	hold "$SRV" 10.98.0.1:$PORT "$ready2" || return 1
	skv_info "connections: $(skv_ctl "$SRV" -j node show | jq .connections)"

	start=$(timestamp_ms)
	# cleanup_ns kills the processes inside SRV (they pin it), then deletes it.
	cleanup_ns "$SRV" >/dev/null
	# Destroyed, not just unnamed: CLI's end of the veth goes with it.
	if ! skv_ns_gone SRV eth0 "$CLI" "$SKV_WAIT"; then
		skv_fail "namespace not destroyed within $SKV_WAIT s of deletion (pernet exit hung?)"
		return 1
	fi
	end=$(timestamp_ms)
	skv_info "namespace destroyed $((end - start)) ms after deletion"
	# The clients outside are still running (their node vanished under them).
	kill "$outside" 2>/dev/null
	cleanup_ns "$CLI" >/dev/null
	return 0
}

# Namespace cleanup is not stuck behind it: a new namespace is created and
# destroyed in bounded time (netns cleanup runs on one ordered workqueue).
t_netns_cleanup_progresses() {
	setup_ns PROBE || return 1
	ip link add skvprobe0 type veth peer name eth0 netns "$PROBE" || return 1
	cleanup_ns "$PROBE" >/dev/null
	skv_ns_gone PROBE skvprobe0 "" "$SKV_WAIT" ||
		{ skv_fail "a later namespace was not destroyed within $SKV_WAIT s"; return 1; }
	unset PROBE
}

# The module still serves in other namespaces.
t_other_namespace_works() {
	setup_ns N2 || return 1
	skv_node_start "$N2" 127.0.0.1 $PORT 1 || return 1
	ip netns exec "$N2" skv_tool fill 127.0.0.1:$PORT 1 100 100 n2 || { skv_fail "fill"; return 1; }
	ip netns exec "$N2" skv_tool check 127.0.0.1:$PORT 1 100 100 n2 || { skv_fail "check"; return 1; }
	cleanup_ns "$N2" >/dev/null
}

# Deleting a namespace with 16 MiB of data gives the memory back.
t_netns_memory_back() {
	skv_mem_compare before-srv 30
}

# A node that only listens, deleted right away, many times over.
t_netns_churn() {
	local i
	skv_mem_snapshot before-churn
	for ((i = 0; i < 10; i++)); do
		setup_ns CH || return 1
		skv_ctl "$CH" listen start 127.0.0.1 $PORT || { skv_fail "listen in churn $i"; return 1; }
		skv_ctl "$CH" table add 1 && skv_ctl "$CH" tablet add 1 min max || return 1
		ip netns exec "$CH" skv_tool put 127.0.0.1:$PORT 1 k v >/dev/null ||
			{ skv_fail "put in churn $i"; return 1; }
		cleanup_ns "$CH" >/dev/null
		unset CH
	done
	t_netns_cleanup_progresses || return 1
	skv_mem_compare before-churn 30
}

# rmmod with nodes listening, clients connected (idle, mid-frame, busy)
# and a loader running.
t_rmmod_with_clients() {
	local r1=$SKV_TMP/r1 r2=$SKV_TMP/r2 r3=$SKV_TMP/r3 p1 p2 p3 pf rc start end wait_s
	setup_ns X Y CL || return 1
	skv_veth "$X" eth0 10.97.1.1/24 "$CL" ethx 10.97.1.2/24 || return 1
	skv_veth "$Y" eth0 10.97.2.1/24 "$CL" ethy 10.97.2.2/24 || return 1
	skv_node_start "$X" 10.97.1.1 $PORT 1 || return 1
	skv_node_start "$Y" 10.97.2.1 $PORT 1 || return 1
	ip netns exec "$CL" skv_tool fill 10.97.1.1:$PORT 1 500 $DATA_SIZE x || return 1
	# Clients that expect the module to close their connections on unload
	# (the debug kernel's unload took 35 s: the wait is stretched there).
	wait_s=$((30 * SKV_TIME_SCALE))
	hold "$CL" 10.97.1.1:$PORT "$r1" --expect-close $wait_s || return 1
	p1=$SKV_LAST_PID
	hold "$CL" 10.97.2.1:$PORT "$r2" --expect-close $wait_s || return 1
	p2=$SKV_LAST_PID
	hold "$X" 10.97.1.1:$PORT "$r3" --expect-close $wait_s || return 1
	p3=$SKV_LAST_PID
	# A loader writing all the time.
	skv_bg ip netns exec "$CL" bash -c \
		"while skv_tool fill 10.97.2.1:$PORT 1 200 2048 load >/dev/null 2>&1; do :; done"
	pf=$SKV_LAST_PID
	skv_info "X: $(skv_ctl "$X" -j node show | jq -c '{connections, requests, objects}')"
	kill -USR1 "$p1" "$p2" "$p3"
	start=$(timestamp_ms)
	skv_unload_module 60 || return 1
	end=$(timestamp_ms)
	skv_info "unloaded in $((end - start)) ms with clients connected"
	# Every client connection was closed by the unload.
	for p in $p1 $p2 $p3; do
		skv_wait_exit "$p" $((wait_s + 10))
		rc=$?
		((rc == 0)) || { skv_fail "client pid $p: connections not closed by the unload (status $rc)"; return 1; }
	done
	skv_wait_exit "$pf" 20 >/dev/null # the loader stops when its node goes
	# The namespaces outlive the module and go away cleanly.
	cleanup_ns "$X" "$Y" "$CL" >/dev/null || { skv_fail "namespaces not removed"; return 1; }
	t_netns_cleanup_progresses
}

t_module_caches_gone() {
	local left
	left=$(skv_module_caches)
	[[ -z $left ]] || { skv_fail "caches left after rmmod: $left"; return 1; }
}

t_memory_back_after_unload() {
	skv_mem_compare preload 30
}

# Reload, serve, unload again: nothing was left half torn down.
t_reload() {
	skv_load_module || return 1
	setup_ns R || return 1
	skv_node_start "$R" 127.0.0.1 $PORT 1 || return 1
	ip netns exec "$R" skv_tool fill 127.0.0.1:$PORT 1 100 1000 r || return 1
	ip netns exec "$R" skv_tool check 127.0.0.1:$PORT 1 100 1000 r || return 1
	# Unload with the namespace (and its node) still alive and idle.
	skv_unload_module 60 || return 1
	cleanup_ns "$R" >/dev/null
	skv_mem_compare preload 30
}

ktap_print_header
skv_dmesg_mark
skv_test "load steadykv.ko" t_load
if ((KTAP_CNT_FAIL)); then
	echo "Bail out! steadykv.ko does not load"
	skv_finish
fi
skv_test "namespace with data and open connections deleted: destroyed in bounded time" \
	t_netns_delete_with_clients
skv_test "namespace cleanup still progresses afterwards" t_netns_cleanup_progresses
skv_test "module still serves in another namespace" t_other_namespace_works
skv_test "memory back after deleting a namespace with 16 MiB of data" t_netns_memory_back
skv_test "10 namespaces with nodes created and deleted: no leak" t_netns_churn
skv_test "rmmod with nodes listening and clients connected: bounded, closes clients" \
	t_rmmod_with_clients
skv_test "module slab caches destroyed" t_module_caches_gone
skv_test "memory back to the pre-load snapshot after unload" t_memory_back_after_unload
skv_test "reload, serve, unload with a live node" t_reload
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
