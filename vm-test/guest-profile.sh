#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run COMMAND inside a guest under perf (every CPU, 49 samples a second),
# then print where the guest's CPU went: by program, and the top symbols.
# Under TCG a guest's CPU is what a suite costs, so this says what to make
# cheaper.  Usage, from the repo top:
#   vm-test/run.sh --name prof -- vm-test/guest-profile.sh selftests/run.sh selftests/mig_faults.sh
# COMMAND's exit status is kept.
data=${TMPDIR:-/tmp}/guest-profile.data
perf record -q -a -F 49 -e cpu-clock -o "$data" -- "$@"
rc=$?
echo "# ==== guest CPU by program"
perf report -i "$data" --sort comm --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' |
	head -n 30 | sed 's/^/# /'
echo "# ==== guest CPU by program and symbol"
perf report -i "$data" --sort comm,dso,sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' |
	head -n 40 | sed 's/^/# /'
exit $rc
