#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prometheus metrics (README "Metrics"): a coordinator and two node daemons
# (steadykvd --metrics-listen) in namespaces on a bridge.  Every endpoint
# is scraped with curl and checked with `promtool check metrics`; the
# counters must move by exactly the traffic the test sends (PUTs, GETs
# found and not found, an error, the requests per tablet), a migration
# shows its phase and records, the coordinator counts nodes alive, and a
# node replicating to the other shows its backup caught up and whole and
# the other its replica.
# Needs steadykv.ko loaded (selftests/run.sh does it).

cd "$(dirname "$0")/.." || exit 1
# shellcheck source=lib.sh
source selftests/lib.sh

PORT=7000
MPORT=9100
NET=10.97.0
COORD=$NET.254:7100
KEYS=500
SIZE=100
MISSING=100
declare -A IP ID NODE_PID

ctl() { skv_in "$SW" steadykvctl cluster -c "$COORD" "$@"; }
ctlj() { skv_in "$SW" steadykvctl -j cluster -c "$COORD" "$@"; }

# start_node N: node N's daemon, metrics on its data address.
start_node() {
	local name=$1
	skv_bg ip netns exec "${!name}" steadykvd --node "${ID[$name]}" \
		--data "${IP[$name]}:$PORT" --coord "$COORD" \
		--metrics-listen "${IP[$name]}:$MPORT"
	NODE_PID[$name]=$SKV_LAST_PID
}

setup() {
	local n
	command -v promtool >/dev/null || { skv_fail "promtool missing (make deps)"; return 1; }
	setup_ns SW A B || { skv_fail "setup_ns"; return 1; }
	skv_bridge "$SW" $NET A B || return 1
	skv_bg ip netns exec "$SW" steadykvd --coordinator --listen "$COORD" \
		--state "$SKV_TMP/coord.state" -q --metrics-listen "$NET.254:$MPORT"
	slowwait "$SKV_WAIT" ctl map >/dev/null 2>&1 ||
		{ skv_fail "coordinator does not answer"; return 1; }
	for n in A B; do
		start_node $n
	done
	slowwait "$SKV_WAIT" bash -c "ip netns exec $SW steadykvctl -j cluster -c $COORD map |
		jq -e '.nodes | length == 2'" >/dev/null ||
		{ skv_fail "node daemons did not register"; return 1; }
	for n in A B; do
		ip netns exec "$SW" skv_tool ping "${IP[$n]}:$PORT" $((SKV_WAIT * 1000)) ||
			{ skv_fail "node $n does not listen"; return 1; }
	done
}

# scrape WHO OUT: the metrics of node A or B, or of the coordinator (C),
# from the bridge's namespace, into OUT; promtool must accept them.
scrape() {
	local url out=$2
	case $1 in
	C) url=http://$NET.254:$MPORT/metrics ;;
	*) url=http://${IP[$1]}:$MPORT/metrics ;;
	esac
	ip netns exec "$SW" curl -sSf --max-time 30 "$url" >"$out" ||
		{ skv_fail "scrape $url failed"; return 1; }
	promtool check metrics <"$out" >"$out.lint" 2>&1 ||
		{ skv_fail "promtool on $url: $(head -n 5 "$out.lint")"; return 1; }
}

# metric FILE SERIES: the value of SERIES (name and labels exactly as the
# daemon prints them), or "none".
metric() {
	awk -v s="$2" '$1 == s { print $2; found = 1 } END { if (!found) print "none" }' "$1"
}

# delta NAME BEFORE AFTER SERIES WANT: SERIES moved by exactly WANT
# (a series absent before counts from 0).
delta() {
	local b a
	b=$(metric "$2" "$4")
	a=$(metric "$3" "$4")
	[[ $b == none ]] && b=0
	[[ $a == none ]] && { skv_fail "$1: $4 missing"; return 1; }
	skv_info "$4: $b -> $a"
	(($(awk -v a="$a" -v b="$b" 'BEGIN { printf "%d", a - b }') == $5)) ||
		{ skv_fail "$1: $4 moved by $((${a%.*} - ${b%.*})), want $5"; return 1; }
}

# table_requests FILE TABLE: the requests of TABLE's tablets, summed.
table_requests() {
	awk -v t="steadykv_tablet_requests_total{table=\"$2\"," \
		'index($1, t) == 1 { s += $2 } END { print s + 0 }' "$1"
}

t_scrape_all() {
	local w
	for w in C A B; do
		scrape $w "$SKV_TMP/m0.$w" || return 1
		skv_info "$w: $(grep -vc '^#' "$SKV_TMP/m0.$w") samples, promtool clean"
	done
	[[ $(metric "$SKV_TMP/m0.A" 'steadykv_node_info{node="1"}') == 1 ]] ||
		{ skv_fail "node A's endpoint is not node 1's"; return 1; }
	ip netns exec "$SW" curl -s -o /dev/null -w '%{http_code}' \
		"http://${IP[A]}:$MPORT/other" >"$SKV_TMP/code"
	[[ $(cat "$SKV_TMP/code") == 404 ]] ||
		{ skv_fail "/other answered $(cat "$SKV_TMP/code"), not 404"; return 1; }
}

# PUTs, GETs found and missing, a PUT to a table the node does not have:
# every counter moves by exactly that.
t_traffic_counts() {
	local b=$SKV_TMP/t0 a=$SKV_TMP/t1 out
	ctl create-table 1 --nodes 1 >/dev/null || { skv_fail "create-table"; return 1; }
	scrape A "$b" || return 1
	ip netns exec "$SW" skv_tool fill "${IP[A]}:$PORT" 1 $KEYS $SIZE k ||
		{ skv_fail "fill"; return 1; }
	ip netns exec "$SW" skv_tool check "${IP[A]}:$PORT" 1 $KEYS $SIZE k ||
		{ skv_fail "check"; return 1; }
	ip netns exec "$SW" skv_tool absent "${IP[A]}:$PORT" 1 $MISSING nosuch ||
		{ skv_fail "absent"; return 1; }
	out=$(ip netns exec "$SW" skv_tool put "${IP[A]}:$PORT" 99 key value)
	[[ $out == UNKNOWN_TABLE* ]] || { skv_fail "put to table 99: $out"; return 1; }
	scrape A "$a" || return 1
	delta traffic "$b" "$a" 'steadykv_requests_total{op="put",status="ok"}' $KEYS || return 1
	delta traffic "$b" "$a" 'steadykv_requests_total{op="get",status="ok"}' $KEYS || return 1
	delta traffic "$b" "$a" 'steadykv_requests_total{op="get",status="not_found"}' $MISSING || return 1
	delta traffic "$b" "$a" 'steadykv_requests_total{op="put",status="unknown_table"}' 1 || return 1
	delta traffic "$b" "$a" 'steadykv_request_errors_total{op="put"}' 1 || return 1
	delta traffic "$b" "$a" 'steadykv_request_errors_total{op="get"}' 0 || return 1
	delta traffic "$b" "$a" 'steadykv_request_duration_seconds_count{op="put"}' $((KEYS + 1)) || return 1
	delta traffic "$b" "$a" 'steadykv_request_duration_seconds_count{op="get"}' $((KEYS + MISSING)) || return 1
	delta traffic "$b" "$a" 'steadykv_node_requests_total' $((2 * KEYS + MISSING + 1)) || return 1
	# Table 99 has no tablet here: only table 1's count.
	(($(table_requests "$a" 1) - $(table_requests "$b" 1) == 2 * KEYS + MISSING)) ||
		{ skv_fail "table 1's tablets counted $(($(table_requests "$a" 1) - $(table_requests "$b" 1))) requests, want $((2 * KEYS + MISSING))"; return 1; }
	[[ $(metric "$a" 'steadykv_records{kind="object"}') == "$KEYS" ]] ||
		{ skv_fail "objects $(metric "$a" 'steadykv_records{kind="object"}'), want $KEYS"; return 1; }
	# The memory parts add up to the memory used.
	(($(awk '/^steadykv_memory_bytes\{/ { s += $2 } END { printf "%d", s }' "$a") ==
	  $(metric "$a" steadykv_memory_used_bytes))) ||
		{ skv_fail "memory parts do not add up to steadykv_memory_used_bytes"; return 1; }
}

# Table 1 moves to B: B shows the migration done with every record, the
# coordinator counts it and a newer map; B's tablet counts B's reads.
t_migration() {
	local c0=$SKV_TMP/c0 c1=$SKV_TMP/c1 b=$SKV_TMP/b1 b2=$SKV_TMP/b2 id v0 v1
	scrape C "$c0" || return 1
	ctl migrate 1 0-max --to 2 --wait >"$SKV_TMP/mig.out" 2>&1 ||
		{ skv_fail "migrate: $(tail -n 3 "$SKV_TMP/mig.out")"; return 1; }
	scrape B "$b" || return 1
	id=$(awk -F'"' '/^steadykv_migration_phase\{/ && / 1$/ { print $2 }' "$b" | tail -n 1)
	[[ -n $id ]] || { skv_fail "no migration at B: $(grep migration_phase "$b")"; return 1; }
	[[ $(metric "$b" "steadykv_migration_phase{migration=\"$id\",phase=\"done\"}") == 1 ]] ||
		{ skv_fail "migration $id not done at B: $(grep "migration=\"$id\"" "$b" | head -n 8)"; return 1; }
	[[ $(metric "$b" "steadykv_migration_pulled_records_total{migration=\"$id\"}") == "$KEYS" ]] ||
		{ skv_fail "migration $id pulled $(metric "$b" "steadykv_migration_pulled_records_total{migration=\"$id\"}") records, want $KEYS"; return 1; }
	[[ $(metric "$b" "steadykv_migration_replayed_records_total{migration=\"$id\"}") == "$KEYS" ]] ||
		{ skv_fail "migration $id replayed other than $KEYS records"; return 1; }
	awk -v s="steadykv_migration_duration_seconds{migration=\"$id\"}" \
		'$1 == s && $2 > 0 { ok = 1 } END { exit !ok }' "$b" ||
		{ skv_fail "migration $id has no duration"; return 1; }
	grep -q "^steadykv_migration_client_retries_total{migration=\"$id\"} " "$b" ||
		{ skv_fail "migration $id has no RETRY count"; return 1; }
	# Paced: one to all 8 bulk pulls in flight; a p99.9 of 0 or more.
	awk -v s="steadykv_migration_pace_depth{migration=\"$id\"}" \
		'$1 == s && $2 >= 1 && $2 <= 8 { ok = 1 } END { exit !ok }' "$b" ||
		{ skv_fail "migration $id: pace depth $(grep "pace_depth{migration=\"$id\"}" "$b")"; return 1; }
	grep -q "^steadykv_migration_pace_client_p999_seconds{migration=\"$id\"} [0-9]" "$b" ||
		{ skv_fail "migration $id has no pacing p99.9"; return 1; }
	awk -v s="steadykv_migration_pace_pull_bytes{migration=\"$id\"}" \
		'$1 == s && $2 >= 1024 { ok = 1 } END { exit !ok }' "$b" ||
		{ skv_fail "migration $id: pace pull bytes $(grep "pace_pull_bytes{migration=\"$id\"}" "$b")"; return 1; }
	scrape C "$c1" || return 1
	delta coordinator "$c0" "$c1" 'steadykv_coordinator_migrations{phase="done"}' 1 || return 1
	v0=$(metric "$c0" steadykv_coordinator_map_version)
	v1=$(metric "$c1" steadykv_coordinator_map_version)
	((v1 > v0)) || { skv_fail "map version $v0 -> $v1 after a migration"; return 1; }
	ip netns exec "$SW" skv_tool check "${IP[B]}:$PORT" 1 $KEYS $SIZE k ||
		{ skv_fail "keys not at B"; return 1; }
	scrape B "$b2" || return 1
	(($(table_requests "$b2" 1) - $(table_requests "$b" 1) == KEYS)) ||
		{ skv_fail "B's tablets of table 1 counted $(($(table_requests "$b2" 1) - $(table_requests "$b" 1))) reads, want $KEYS"; return 1; }
}

# alive WANT: the coordinator reports WANT of its 2 nodes alive.
alive() {
	scrape C "$SKV_TMP/alive" 2>/dev/null &&
		[[ $(metric "$SKV_TMP/alive" 'steadykv_coordinator_nodes{status="alive"}') == "$1" &&
		   $(metric "$SKV_TMP/alive" 'steadykv_coordinator_nodes{status="known"}') == 2 ]]
}

# B's daemon stops: 1 node alive of 2; it comes back: 2.
t_nodes_alive() {
	alive 2 || { skv_fail "not 2 nodes alive: $(grep nodes "$SKV_TMP/alive")"; return 1; }
	kill "${NODE_PID[B]}"
	skv_wait_exit "${NODE_PID[B]}" "$SKV_WAIT" || { skv_fail "node daemon B did not stop"; return 1; }
	slowwait "$SKV_WAIT" alive 1 || { skv_fail "B still alive: $(grep nodes "$SKV_TMP/alive")"; return 1; }
	start_node B
	slowwait "$SKV_WAIT" alive 2 || { skv_fail "B not alive again: $(grep nodes "$SKV_TMP/alive")"; return 1; }
}

# A replicates to B (by hand: the coordinator runs with R = 0): A shows its
# backup caught up and whole, every byte held (no lag); B the replica's
# records; the coordinator counts dead nodes and lost tablets as its map
# shows them, and no recovery.
t_replication() {
	local a=$SKV_TMP/r.A b=$SKV_TMP/r.B c=$SKV_TMP/r.C map
	ctl create-table 2 --nodes 1 >/dev/null || { skv_fail "create-table 2"; return 1; }
	skv_ctl "$A" repl set 1 1 "${IP[B]}:$PORT" || { skv_fail "repl set at A"; return 1; }
	slowwait "$SKV_WAIT" bash -c "ip netns exec $A steadykvctl -j repl show | jq -e '.healthy == 1 and .whole == 1'" \
		>/dev/null || { skv_fail "A's replication: $(skv_ctl "$A" -j repl show)"; return 1; }
	ip netns exec "$SW" skv_tool fill "${IP[A]}:$PORT" 2 $KEYS $SIZE r ||
		{ skv_fail "fill table 2"; return 1; }
	scrape A "$a" && scrape B "$b" && scrape C "$c" || return 1
	grep '^steadykv_replica\|^steadykv_replication' "$a" "$b" | sed 's/^/# /'
	[[ $(metric "$a" steadykv_replication_backups) == 1 && $(metric "$a" steadykv_replication_healthy) == 1 &&
	   $(metric "$a" steadykv_replication_whole) == 1 && $(metric "$a" steadykv_replication_lag_bytes) == 0 ]] ||
		{ skv_fail "A's replication metrics"; return 1; }
	(($(metric "$a" steadykv_replication_appended_bytes_total) >= KEYS * SIZE)) ||
		{ skv_fail "A appended $(metric "$a" steadykv_replication_appended_bytes_total) bytes"; return 1; }
	[[ $(metric "$b" 'steadykv_replica_records{primary="1"}') == "$KEYS" &&
	   $(metric "$b" 'steadykv_replica_whole{primary="1"}') == 1 ]] ||
		{ skv_fail "B's replica of A: $(grep 'primary="1"' "$b" | tr '\n' ' ')"; return 1; }
	# As the map says: B's restart above may have outlasted the dead-after
	# time (then B was declared dead and its table lost, with R = 0 for
	# good).  With R = 0 no recovery ever runs.
	map=$(ctlj map) || { skv_fail "map"; return 1; }
	[[ $(metric "$c" 'steadykv_coordinator_nodes{status="dead"}') == \
	   "$(jq '[.nodes[] | select(.health == "dead")] | length' <<<"$map")" &&
	   $(metric "$c" steadykv_coordinator_tablets_lost) == "$(jq '[.tablets[] | select(.lost)] | length' <<<"$map")" &&
	   $(metric "$c" 'steadykv_coordinator_recoveries{state="running"}') == 0 ]] ||
		{ skv_fail "coordinator: $(grep -E 'dead|lost|recoveries' "$c" | grep -v '^#' | tr '\n' ' '), map: $(jq -c '[.nodes[].health, [.tablets[] | select(.lost)]]' <<<"$map")"; return 1; }
}

ktap_print_header
setup || { skv_dmesg_clean; ktap_test_fail "setup"; skv_finish; }
skv_test "every endpoint scrapes and passes promtool" t_scrape_all
skv_test "counters move by exactly the traffic sent" t_traffic_counts
skv_test "a migration's metrics at its target and the coordinator" t_migration
skv_test "the coordinator counts nodes alive" t_nodes_alive
skv_test "replication: lag, whole, a backup's replica; no recovery" t_replication
skv_test "kernel log clean" skv_dmesg_clean
skv_finish
