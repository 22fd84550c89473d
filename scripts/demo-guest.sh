#!/usr/bin/env bash
# The main job, inside the guest: the migration experiment (see
# scripts/demo.sh).  Raw results go to $OUT; scripts/demo_report.py turns
# them into the report on the host.
#
#   n1 (10.77.0.1)  source node: steadykv node 1, later redis master A
#   n2 (10.77.0.2)  target node: steadykv node 2, later redis master B
#   root namespace  coordinator (10.77.0.254:7100) and the load generator
#
# Every figure is measured here, in the same guest, beside its peer: the
# guest runs under TCG, so only ratios mean anything.  Figures move by
# about 30% from run to run, so each measurement is repeated DEMO_REPEATS
# times (3); repeat R writes into $OUT/run-R/ (the layout of one run), and
# the report gives the median and the spread.  The repeats interleave:
# each runs every mode once, so that a slow spell of the host lands on all
# modes alike instead of on one mode's runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$top/build/bin:/usr/sbin:/sbin:$PATH

OUT=${OUT:-${STEADYKV_RESULTS:-/tmp}/demo}
RECORDS=${RECORDS:-200000}
IDLE_S=${IDLE_S:-4}		# load before the migration starts
AFTER_S=${AFTER_S:-4}		# load after it ends
RUN_S=${RUN_S:-22}		# steadykv runs (idle + migration + after)
HOT_RECORDS=${HOT_RECORDS:-100000}
REPEATS=${DEMO_REPEATS:-3}
COORD=10.77.0.254:7100
HALF_END=0x7fffffffffffffff	# migrate hashes 0..HALF_END: half the table
SLOT_TAG=t10790			# CRC16("t10790") % 16384 == 0: the slot redis-cli moves first

# DEMO_PARTS: which experiments to run (a quicker look at one of them).
PARTS=,${DEMO_PARTS:-steadykv,baselines,redis,hotpath,rebalance},
want() { [[ $PARTS == *",$1,"* ]]; }

rm -rf "$OUT"
mkdir -p "$OUT"
log() { printf '\n== %s\n' "$*"; }
now_ns() { date +%s%N; }
mark() { echo "$(now_ns) $2" >>"$1"; }

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for i in 1 2 3; do ip netns del "n$i" 2>/dev/null || true; done
	ip link del skvbr0 2>/dev/null || true
	rmmod steadykv 2>/dev/null || true
}
trap cleanup EXIT

bg() {
	"$@" &
	PIDS+=("$!")
}

wait_for() {	# SECONDS CMD...: poll until CMD succeeds
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "demo: timed out waiting for: $*" >&2
	return 1
}

log "network: two namespaces on a bridge"
modprobe libcrc32c
insmod build/steadykv.ko
ip link add skvbr0 type bridge
ip addr add 10.77.0.254/24 dev skvbr0
ip link set skvbr0 up
for i in 1 2; do
	ip netns add "n$i"
	ip link add "veth$i" type veth peer name eth0 netns "n$i"
	ip link set "veth$i" master skvbr0 up
	ip -n "n$i" addr add "10.77.0.$i/24" dev eth0
	ip -n "n$i" link set eth0 up
	ip -n "n$i" link set lo up
done

# iperf3 RUN_DIR: the link's limit, from n1 to n2 (the direction data moves).
iperf_run() {
	log "the link's limit: iperf3 from n1 to n2"
	bg ip netns exec n2 iperf3 -s -1 -B 10.77.0.2
	# A probe connection would use up the one-shot server: look for the socket.
	wait_for 10 bash -c "ip netns exec n2 ss -ltn | grep -q ':5201 '"
	ip netns exec n1 iperf3 -c 10.77.0.2 -t 5 -J >"$1/iperf3.json"
	jq -r '"iperf3: \(.end.sum_received.bits_per_second / 8e6 | floor) MB/s"' "$1/iperf3.json"
}
for ((r = 1; r <= REPEATS; r++)); do mkdir -p "$OUT/run-$r"; done

log "steadykv: coordinator, two node daemons, table 1 on node 1"
# The cluster key (node daemons) and the admin key (steadykvctl), mode
# 0600; steadykvd and steadykvctl take them from these variables.
keys=$(mktemp -d /tmp/demo-keys.XXXXXX)
for k in cluster admin; do
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$keys/$k.key")
done
export STEADYKV_CLUSTER_KEY=$keys/cluster.key STEADYKV_ADMIN_KEY=$keys/admin.key
bg steadykvd --coordinator --listen "$COORD" --state /tmp/demo-coord.state -q
wait_for 10 steadykvctl cluster -c "$COORD" map
# The nodes authenticate each other and to the coordinator with the
# cluster key.
for i in 1 2; do
	bg ip netns exec "n$i" steadykvd --node "$i" --data "10.77.0.$i:7000" \
		--coord "$COORD" --cluster-key "$STEADYKV_CLUSTER_KEY" \
		--metrics-listen "10.77.0.$i:9100"
done
wait_for 20 bash -c "steadykvctl -j cluster -c $COORD map | jq -e '.nodes | length == 2'"
steadykvctl cluster -c "$COORD" create-table 1 --nodes 1

# node_hist FILE: both nodes' service-time histograms of client requests
# now (Prometheus text), so the report can set the nodes' own p99.9 over a
# migration beside the clients' (what the pacing sees against what they
# see).  The ops are the module's client ops, skv_client_ops in
# kmod/metrics.c: keep the two lists alike.
node_hist() {
	local i
	for i in 1 2; do
		curl -sf "http://10.77.0.$i:9100/metrics" |
			grep -E '^steadykv_request_duration_seconds_bucket\{op="(ping|get|put|delete|multi_get)"' |
			sed "s/^/n$i /" || true	# a node with no client reply yet has none
	done >"$1"
}
steadykvctl cluster -c "$COORD" map

log "steadykv: load $RECORDS records, then measure capacity (YCSB-B)"
steadykv-bench --coord "$COORD" --load --records "$RECORDS" --capacity \
	--no-run --json "$OUT/skv-capacity.json" --quiet
cap=$(jq -r '.capacity.ops_per_s' "$OUT/skv-capacity.json")
rate=$(jq -rn "$cap / 2 | floor")
echo "capacity $cap ops/s; runs at $rate ops/s"

# migrate_run RUN_DIR NAME MIGRATE-OPTIONS...: YCSB-B at half capacity;
# after IDLE_S seconds, move half of table 1 from node 1 to node 2.
migrate_run() {
	local dir=$1/skv-$2 name=$2 bench_pid
	shift 2
	mkdir -p "$dir"
	log "steadykv ($name, ${dir#"$OUT"/}): YCSB-B at $rate ops/s, migrate half of the table at ${IDLE_S}s"
	steadykv-bench --coord "$COORD" --records "$RECORDS" --rate "$rate" \
		--duration "$RUN_S" --timeline "$dir/timeline.csv" \
		--json "$dir/run.json" --mark-file "$dir/marks" --quiet &
	bench_pid=$!
	sleep "$IDLE_S"
	node_hist "$dir/node-hist-start"
	mark "$dir/marks" migration-start
	steadykvctl cluster -c "$COORD" migrate 1 "0-$HALF_END" --to 2 "$@" --wait
	mark "$dir/marks" migration-end
	node_hist "$dir/node-hist-end"
	steadykvctl -j cluster -c "$COORD" status | jq '.[-1]' >"$dir/migration.json"
	wait "$bench_pid"
	jq -c '{state, elapsed_us, bytes_pulled, records_pulled, priority_keys}' \
		"$dir/migration.json"
	jq -c '.phases' "$dir/run.json"
}

# move_back RUN_DIR: put the half back on node 1 between runs, with no
# load: its speed is the migration's own, beside iperf3's (also measured
# with no load).
MOVES=0
move_back() {
	MOVES=$((MOVES + 1))
	steadykvctl cluster -c "$COORD" migrate 1 "0-$HALF_END" --to 1 --wait >/dev/null
	steadykvctl -j cluster -c "$COORD" status | jq '.[-1]' >"$1/skv-unloaded-$MOVES.json"
	jq -c '{unloaded: true, state, elapsed_us, bytes_pulled}' "$1/skv-unloaded-$MOVES.json"
}

PARK_PARAM=/sys/module/steadykv/parameters/mig_park_ms
PACE_PARAM=/sys/module/steadykv/parameters/mig_pace
PRIO_PARAM=/sys/module/steadykv/parameters/mig_prio_pullers
park_ms=$(<"$PARK_PARAM")
prio_pullers=$(<"$PRIO_PARAM")
for ((r = 1; r <= REPEATS; r++)); do
	run=$OUT/run-$r
	iperf_run "$run"
	migrate_run "$run" rocksteady --mode rocksteady
	move_back "$run"
	if want baselines; then
		# Every bulk pull in flight from the start, not paced by the
		# clients' latency (kmod/mig_target_pace.c).
		echo 0 >"$PACE_PARAM"
		migrate_run "$run" unpaced --mode rocksteady
		echo 1 >"$PACE_PARAM"
		move_back "$run"
		# A GET for a key not pulled yet answered RETRY at once rather
		# than parked until its priority pull lands (kmod/mig_target_park.c).
		echo 0 >"$PARK_PARAM"
		migrate_run "$run" retry --mode rocksteady
		echo "$park_ms" >"$PARK_PARAM"
		move_back "$run"
		# One priority pull in flight instead of mig_prio_pullers.
		echo 1 >"$PRIO_PARAM"
		migrate_run "$run" one-prio-puller --mode rocksteady
		echo "$prio_pullers" >"$PRIO_PARAM"
		move_back "$run"
		migrate_run "$run" push --mode push
		move_back "$run"
		migrate_run "$run" no-priority-pulls --mode rocksteady --no-priority-pulls
		move_back "$run"
		migrate_run "$run" one-partition --mode rocksteady --partitions 1 --inflight 1
		move_back "$run"
	fi
done

log "steadykv: stop the cluster"
kill "${PIDS[@]:1}" 2>/dev/null || true
for p in "${PIDS[@]:1}"; do wait "$p" 2>/dev/null || true; done
PIDS=()

# redis_part RUN_DIR: a fresh two-master cluster, loaded; the single-slot
# best case; the reshard under load.
redis_part() {
	local run=$1 srv=()
	log "redis cluster 7.0 (${run#"$OUT"/}): two masters, every slot on A (n1)"
	for i in 1 2; do
		rm -rf "/tmp/redis-n$i"
		mkdir -p "/tmp/redis-n$i"
		bg ip netns exec "n$i" redis-server --bind "10.77.0.$i" --port 6379 \
			--cluster-enabled yes --cluster-config-file "/tmp/redis-n$i/nodes.conf" \
			--dir "/tmp/redis-n$i" --save '' --appendonly no --protected-mode no \
			--loglevel warning
		srv+=("$!")
	done
	for i in 1 2; do wait_for 20 redis-cli -h "10.77.0.$i" ping; done
	redis-cli -h 10.77.0.1 cluster addslotsrange 0 16383 >/dev/null
	redis-cli -h 10.77.0.1 cluster meet 10.77.0.2 6379 >/dev/null
	wait_for 30 bash -c "redis-cli -h 10.77.0.2 cluster info | grep -q cluster_state:ok"
	wait_for 30 bash -c "redis-cli -h 10.77.0.1 cluster nodes | grep -c master | grep -q 2"
	A=$(redis-cli -h 10.77.0.1 cluster myid)
	B=$(redis-cli -h 10.77.0.2 cluster myid)

	log "redis: load $RECORDS records, then measure capacity (YCSB-B)"
	steadykv-bench --redis 10.77.0.1:6379 --load --records "$RECORDS" --capacity \
		--no-run --json "$run/redis-capacity.json" --quiet
	rcap=$(jq -r '.capacity.ops_per_s' "$run/redis-capacity.json")
	rrate=$(jq -rn "$rcap / 2 | floor")
	echo "capacity $rcap ops/s; runs at $rrate ops/s"

	log "redis: best case first, one slot holding $((RECORDS / 2)) records, no load"
	# Keys "{t10790}..." all hash to slot 0, the first of A's slots, which is
	# the one `reshard --cluster-slots 1` moves; the reshard below then takes
	# 8192 of A's other slots.
	python3 - "$RECORDS" "$SLOT_TAG" <<-'EOF' | redis-cli -h 10.77.0.1 --pipe >/dev/null
	import sys
	n, tag = int(sys.argv[1]) // 2, sys.argv[2]
	out = sys.stdout.buffer
	val = b"v" * 100
	for i in range(n):
	    key = ("{%s}user%0*d" % (tag, 30 - len(tag) - 2 - 4, i)).encode()
	    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))
	EOF
	slot_keys=$(redis-cli -h 10.77.0.1 cluster countkeysinslot 0)
	t0=$(now_ns)
	redis-cli --cluster reshard 10.77.0.1:6379 --cluster-from "$A" --cluster-to "$B" \
		--cluster-slots 1 --cluster-yes --cluster-pipeline 1000 >"$run/redis-slot.log" 2>&1
	t1=$(now_ns)
	moved=$(redis-cli -h 10.77.0.2 cluster countkeysinslot 0)
	jq -n --argjson ns "$((t1 - t0))" --argjson keys "$slot_keys" --argjson moved "$moved" \
		'{seconds: ($ns / 1e9), keys: $keys, keys_at_target: $moved}' >"$run/redis-single-slot.json"
	cat "$run/redis-single-slot.json"
	# Those keys are not part of the workload: drop them again, in one
	# pipe (a redis-cli per 500 keys took minutes on a busy host, per repeat).
	redis-cli -h 10.77.0.2 --scan --pattern "{$SLOT_TAG}*" |
		awk '{ printf "*2\r\n$3\r\nDEL\r\n$%d\r\n%s\r\n", length($0), $0 }' |
		redis-cli -h 10.77.0.2 --pipe >/dev/null

	log "redis: YCSB-B at $rrate ops/s; reshard half the slots (8192) A -> B at ${IDLE_S}s"
	# redis-cli moves slot by slot with a fixed cost each (about 0.1 s here
	# under load): the whole reshard takes longer than the demo may.  It is
	# cut at RESHARD_CAP_S (120 s: over 1000 slots, enough for the pace, and
	# three repeats stay within the demo's time); the report then gives the
	# slots moved in that time and the time all 8192 take at that pace,
	# marked as extrapolated.
	dir=$run/redis
	mkdir -p "$dir"
	steadykv-bench --redis 10.77.0.1:6379 --records "$RECORDS" --rate "$rrate" \
		--duration 3600 --timeline "$dir/timeline.csv" --json "$dir/run.json" \
		--mark-file "$dir/marks" --quiet &
	bench_pid=$!
	sleep "$IDLE_S"
	mark "$dir/marks" migration-start
	t0=$(now_ns)
	rc=0
	timeout --signal=INT "${RESHARD_CAP_S:-120}" redis-cli --cluster reshard 10.77.0.1:6379 \
		--cluster-from "$A" --cluster-to "$B" --cluster-slots 8192 --cluster-yes \
		--cluster-pipeline 1000 >"$dir/reshard.log" 2>&1 || rc=$?
	t1=$(now_ns)
	mark "$dir/marks" migration-end
	sleep "$AFTER_S"
	kill -INT "$bench_pid"
	wait "$bench_pid" || true
	# Slots B serves now, less the one moved before.
	slots_b=$(redis-cli -h 10.77.0.2 cluster nodes | awk '/myself/ {
		n = 0
		for (i = 9; i <= NF; i++) {
			if (substr($i, 1, 1) == "[") continue
			k = split($i, r, "-"); n += (k == 2 ? r[2] - r[1] + 1 : 1)
		}
		print n - 1 }')
	keys_b=$(redis-cli -h 10.77.0.2 dbsize)
	complete=false
	((rc == 0)) && complete=true
	jq -n --argjson ns "$((t1 - t0))" --argjson keys "$keys_b" --argjson slots "$slots_b" \
		--argjson complete "$complete" \
		'{seconds: ($ns / 1e9), slots: $slots, slots_wanted: 8192, complete: $complete,
		  keys_moved: $keys,
		  seconds_all_slots: (if $slots > 0 then ($ns / 1e9) * 8192 / $slots else null end)}' \
		>"$dir/reshard.json"
	cat "$dir/reshard.json"
	redis-cli -h 10.77.0.1 shutdown nosave >/dev/null 2>&1 || true
	redis-cli -h 10.77.0.2 shutdown nosave >/dev/null 2>&1 || true
	# Gone before the next repeat binds the same ports.
	for i in "${srv[@]}"; do wait "$i" 2>/dev/null || true; done
}

# hot_target SYS: the steadykv-bench target options of SYS's one node.
hot_target() {
	case $1 in
	steadykv) tgt=(--node 10.77.0.1:7000 --table 9) ;;
	redis) tgt=(--redis 10.77.0.1:6380) ;;
	memcached) tgt=(--memcached 10.77.0.1:11211) ;;
	esac
}

# One node of each, loaded once; then each repeat measures GET and PUT
# capacity and the latency at one common rate into run-R/hot-*.json.
# memcached's GETs are meta gets (mg); the classic get is measured beside
# them (hot-memcached-get-classic.json): memcached flushes its replies
# after every classic get, one send per request (userspace/bench/bench_drv_mc.c).
hotpath_part() {
	local r run sys wl pct
	log "hot path: one node of each, the same client machinery"
	# Node 1 still listens on 10.77.0.1:7000; table 9 is its alone.
	ip netns exec n1 steadykvctl table add 9
	ip netns exec n1 steadykvctl tablet add 9 min max
	bg ip netns exec n1 redis-server --bind 10.77.0.1 --port 6380 --save '' \
		--appendonly no --protected-mode no --loglevel warning
	bg ip netns exec n1 memcached -u root -l 10.77.0.1 -p 11211 -t 1 -m 512
	wait_for 20 redis-cli -h 10.77.0.1 -p 6380 ping
	wait_for 20 bash -c 'exec 3<>/dev/tcp/10.77.0.1/11211'
	for sys in steadykv redis memcached; do
		hot_target "$sys"
		steadykv-bench "${tgt[@]}" --load --records "$HOT_RECORDS" --no-run \
			--json "$OUT/hot-$sys-load.json" --quiet
	done
	for ((r = 1; r <= REPEATS; r++)); do
		run=$OUT/run-$r
		for sys in steadykv redis memcached; do
			hot_target "$sys"
			for wl in get put; do
				pct=100
				[[ $wl == put ]] && pct=0
				steadykv-bench "${tgt[@]}" --records "$HOT_RECORDS" --read-pct "$pct" \
					--capacity --no-run --json "$run/hot-$sys-$wl.json" --quiet
			done
			printf '%-10s GET %s ops/s, PUT %s ops/s\n' "$sys" \
				"$(jq -r .capacity.ops_per_s "$run/hot-$sys-get.json")" \
				"$(jq -r .capacity.ops_per_s "$run/hot-$sys-put.json")"
		done
		hot_target memcached
		steadykv-bench "${tgt[@]}" --records "$HOT_RECORDS" --read-pct 100 \
			--memcached-get classic --capacity --no-run \
			--json "$run/hot-memcached-get-classic.json" --quiet
		printf 'memcached  GET with the classic get: %s ops/s\n' \
			"$(jq -r .capacity.ops_per_s "$run/hot-memcached-get-classic.json")"
		# Latency at one common rate: half of the slowest system's GET
		# capacity in the first repeat, the same in every repeat (at
		# least 1: a busy host can stall a capacity run to 0).
		if ((r == 1)); then
			hrate=$(jq -s 'map(.capacity.ops_per_s) | min / 2 | floor | [., 1] | max' \
				"$run"/hot-{steadykv,redis,memcached}-get.json)
		fi
		for sys in steadykv redis memcached; do
			hot_target "$sys"
			steadykv-bench "${tgt[@]}" --records "$HOT_RECORDS" --rate "$hrate" \
				--duration 5 --json "$run/hot-$sys-latency.json" --quiet
			printf '%-10s at %s ops/s: %s\n' "$sys" "$hrate" \
				"$(jq -c .run.result.latency_us "$run/hot-$sys-latency.json")"
		done
	done
}

# A hot spot moved away by itself: a fresh coordinator with --rebalance on,
# three node daemons (n3 joins the bridge), table 2 on node 1 alone under a
# zipfian load; the coordinator splits and moves node 1's load until no
# node carries more than REB_SHARE of it.  The timeline's per-node rates
# and the migrations go to $OUT/rebalance; demo.sh plots them.
rebalance_part() {
	local dir=$OUT/rebalance i t0
	mkdir -p "$dir"
	log "rebalance: three nodes, table 2 on node 1, the coordinator rebalancing"
	if ! ip netns list | grep -q '^n3'; then
		ip netns add n3
		ip link add veth3 type veth peer name eth0 netns n3
		ip link set veth3 master skvbr0 up
		ip -n n3 addr add 10.77.0.3/24 dev eth0
		ip -n n3 link set eth0 up
		ip -n n3 link set lo up
	fi
	bg steadykvd --coordinator --listen "$COORD" --state /tmp/demo-rebal.state \
		--rebalance on --rebalance-share "${REB_SHARE:-0.4}" --rebalance-hold-ms 5000 \
		--rebalance-cooldown-ms 5000 2>"$dir/coordinator.log"
	wait_for 10 steadykvctl cluster -c "$COORD" map
	for i in 1 2 3; do
		bg ip netns exec "n$i" steadykvd --node "$i" --data "10.77.0.$i:7000" \
			--coord "$COORD" --cluster-key "$STEADYKV_CLUSTER_KEY"
	done
	wait_for 20 bash -c "steadykvctl -j cluster -c $COORD map | jq -e '.nodes | length == 3'"
	steadykvctl cluster -c "$COORD" create-table 2 --nodes 1
	steadykv-bench --coord "$COORD" --table 2 --load --records "${REB_RECORDS:-20000}" \
		--no-run --quiet
	# Idle for a few of the coordinator's 1 s windows: the load phase's
	# heat is forgotten, so the run shows node 1 hot for the whole hold.
	sleep 3
	t0=$(date +%s%3N)
	steadykv-bench --coord "$COORD" --table 2 --records "${REB_RECORDS:-20000}" \
		--rate "${REB_RATE:-1500}" --zipf 0.99 --duration "${REB_S:-45}" \
		--timeline "$dir/timeline.csv" --json "$dir/run.json" --quiet
	steadykvctl -j cluster -c "$COORD" status >"$dir/migrations.json"
	steadykvctl -j cluster -c "$COORD" map >"$dir/map.json"
	jq -n --argjson t0 "$t0" '{run_start_unix_ms: $t0}' >"$dir/meta.json"
	grep 'rebalance' "$dir/coordinator.log" || true
	jq -c '.[] | {src, dst, start, "end": .["end"], state, elapsed_us}' "$dir/migrations.json"
}

rrate=null
hrate=null
if want redis; then
	for ((r = 1; r <= REPEATS; r++)); do redis_part "$OUT/run-$r"; done
fi
if want hotpath; then hotpath_part; fi
if want rebalance; then rebalance_part; fi

jq -n --argjson records "$RECORDS" --argjson hot_records "$HOT_RECORDS" \
	--argjson repeats "$REPEATS" \
	--argjson rate "$rate" --argjson rrate "$rrate" --argjson hrate "$hrate" \
	--arg kernel "$(uname -r)" --argjson cpus "$(nproc)" \
	'{records: $records, key_size: 30, value_size: 100, skv_rate: $rate,
	  redis_rate: $rrate, hot_records: $hot_records, hot_rate: $hrate, repeats: $repeats,
	  kernel: $kernel, cpus: $cpus}' >"$OUT/meta.json"
log "demo: raw results in $OUT"
