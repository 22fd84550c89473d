#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run a shell suite in a guest under bash's xtrace with a timestamp on every
# line, then print the source lines the suite's time went to (the time from
# each traced command to the next, summed by file:line; nested calls count
# at every level they pass through, so read it as "where", not "how much").
# The trace is kept as xtrace.log in the run directory.  Usage:
#   vm-test/run.sh --name xt -- vm-test/guest-xtrace.sh selftests/lineage.sh
# The suite's exit status is kept.  Loads steadykv.ko first, as
# selftests/run.sh would (the memory checks see the trace's tmpfs grow).
cd "$(dirname "$0")/.." || exit 1
trace=/tmp/xtrace.log
bash -c 'source selftests/lib.sh && skv_load_module' >/dev/null || exit 1
# The suite is $0 of the traced shell, as when run (it cds by its path).
SKV_XTRACE=$trace bash -c 'exec 7>"$SKV_XTRACE"; BASH_XTRACEFD=7
	PS4="+\${EPOCHREALTIME} \${BASH_SOURCE##*/}:\${LINENO} "; set -x
	source "$0" "$@"' "$@"
rc=$?
[[ -n ${STEADYKV_RESULTS:-} ]] && cp "$trace" "$STEADYKV_RESULTS/xtrace.log"
echo "# ==== seconds, commands, where (the top 25)"
awk '/^\++[0-9]+\.[0-9]+ / {
	t = $1; sub(/^\++/, "", t)
	if (last != "") { s[last] += t - t0; n[last]++; if (!(last in ex)) ex[last] = cmd }
	last = $2; t0 = t; cmd = substr($0, index($0, $3), 70)
} END { for (k in s) printf "# %8.1f %6d %-26s %s\n", s[k], n[k], k, ex[k] }' "$trace" |
	sort -k2,2 -rn | head -n 25
exit $rc
