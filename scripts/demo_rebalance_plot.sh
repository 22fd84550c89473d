#!/usr/bin/env bash
# The demo's rebalancing step, on the host (scripts/demo.sh): from the
# guest's RAW_DIR (timeline.csv: per 100 ms, each node's requests; the
# migrations the coordinator started; the run's start time) write
# OUT_DIR/rebalance.csv (requests/s per node, per second),
# OUT_DIR/rebalance.md (each node's share before the first move and over
# the last 10 s, the moves) and, with gnuplot, OUT_DIR/rebalance.png
# (requests/s per node over time, a dashed line where each move started).
#
#   scripts/demo_rebalance_plot.sh RAW_DIR OUT_DIR
set -euo pipefail
raw=$1
out=$2
mkdir -p "$out"
csv=$out/rebalance.csv
t0=$(jq -r .run_start_unix_ms "$raw/meta.json")
# Seconds into the run at which each migration started (the run's start
# is taken just before the bench started: within a few ms).
mapfile -t starts < <(jq -r --argjson t0 "$t0" \
	'.[] | (.started_unix_ms - $t0) / 1000 | . * 10 | floor / 10' "$raw/migrations.json")
first=${starts[0]:-1e9}

# Columns: t_s,ops,errors,p50,p99,p999,max, ops_<node>..., redirects, retries.
awk -F, -v csv="$csv" -v first="$first" '
NR == 1 {
	n = NF - 9
	printf "t_s" > csv
	for (j = 1; j <= n; j++) {
		name[j] = substr($(7 + j), 5)	# ops_n1@10.77.0.1:7000: n1
		sub(/@.*/, "", name[j])
		printf ",%s", name[j] > csv
	}
	printf "\n" > csv
	next
}
{
	s = int($1)
	if (s > last) last = s
	for (j = 1; j <= n; j++) {
		v = $(7 + j)
		sum[s, j] += v
		if ($1 < first) { before[j] += v; tb += v }
	}
}
END {
	# The last second is cut short by the end of the run: left out.
	for (s = 0; s < last; s++) {
		printf "%d", s > csv
		for (j = 1; j <= n; j++) printf ",%d", sum[s, j] > csv
		printf "\n" > csv
		if (s >= last - 10) for (j = 1; j <= n; j++) { after[j] += sum[s, j]; ta += sum[s, j] }
	}
	print "| node | share before the first move | share over the last 10 s |"
	print "| --- | --- | --- |"
	for (j = 1; j <= n; j++)
		printf "| %s | %.0f%% | %.0f%% |\n", name[j], tb ? 100 * before[j] / tb : 0,
			ta ? 100 * after[j] / ta : 0
}' "$raw/timeline.csv" >"$out/rebalance-shares.md"

{
	echo "# Automatic rebalancing"
	echo
	echo "Table 2 on node 1 alone, zipfian load (steadykv-bench), the coordinator"
	echo "run with \`--rebalance on\`. Requests per node:"
	echo
	cat "$out/rebalance-shares.md"
	echo
	echo "Moves the coordinator started by itself (seconds into the run):"
	echo
	jq -r --argjson t0 "$t0" '.[] | "- \((.started_unix_ms - $t0) / 1000 | . * 10 | floor / 10) s: node \(.src) -> \(.dst), \(.start)-\(.end), \(.state), \(.elapsed_us / 1000 | floor) ms"' \
		"$raw/migrations.json"
	echo
	echo "The coordinator's decisions:"
	echo
	grep 'rebalance' "$raw/coordinator.log" | sed 's/^/    /' || true
} >"$out/rebalance.md"
rm -f "$out/rebalance-shares.md"

if command -v gnuplot >/dev/null; then
	n=$(head -n 1 "$csv" | awk -F, '{ print NF - 1 }')
	arrows=""
	for s in "${starts[@]}"; do
		arrows+="set arrow from $s, graph 0 to $s, graph 1 nohead dashtype 2 lc rgb 'gray';"
	done
	gnuplot <<-EOF || echo "demo_rebalance_plot: gnuplot failed" >&2
	set terminal png size 1000,500
	set output '$out/rebalance.png'
	set datafile separator ','
	set key autotitle columnhead
	set title 'Requests/s per node: a hot spot on node 1, moved away by the coordinator (dashed: moves)'
	set xlabel 'seconds'
	set ylabel 'requests/s'
	$arrows
	plot for [i=2:$((n + 1))] '$csv' using 1:i with lines lw 2
	EOF
fi
echo "demo: $out/rebalance.md${starts:+, ${#starts[@]} move(s)}"
