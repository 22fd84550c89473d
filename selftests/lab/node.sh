#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A node guest of the multi-VM lab (vm-test/lab.sh): loads steadykv.ko,
# joins the lab segment as 10.77.0.$LAB_INDEX, runs the node daemon
# (steadykvd --node) against the coordinator in the control guest, then
# runs the scripts the control guest sends through the host (cmd.N in the
# results directory: out.N and rc.N back) until the host asks it to stop
# (the file "stop"), and unloads the module.  Unless the host crashed it
# first: then nothing after the crash runs, which is the point.

cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=../lib.sh
source selftests/lib.sh
# shellcheck source=lib.sh
source selftests/lab/lib.sh

R=$STEADYKV_RESULTS
me=$LAB_NET.$LAB_INDEX

# shellcheck disable=SC2154 # retmsg: lib.sh's skv_fail sets it
skv_load_module || { echo "# $retmsg"; exit 1; }
lab_link_up "$me" || exit 1
steadykvd --node "$LAB_INDEX" --data "$me:$LAB_PORT" --coord "$LAB_COORD" \
	>"$R/daemon.log" 2>&1 &
daemon=$!
touch "$R/ready"
echo "# node $LAB_INDEX up at $me, daemon pid $daemon"

# Commands in the order the control guest numbered them.
while [[ ! -e $R/stop ]]; do
	ran=0
	for cmd in "$R"/cmd.*; do
		[[ -e $cmd && $cmd != *.tmp ]] || continue
		n=${cmd##*.}
		[[ -e $R/rc.$n ]] && continue
		rc=0
		bash "$cmd" >"$R/out.$n.tmp" 2>&1 || rc=$?
		mv "$R/out.$n.tmp" "$R/out.$n"
		echo "$rc" >"$R/rc.$n.tmp"
		mv "$R/rc.$n.tmp" "$R/rc.$n"
		ran=1
	done
	((ran)) || sleep 0.2	# the host's next command, or the stop
done

kill "$daemon"
wait "$daemon"
rc=0
skv_unload_module || { echo "# $retmsg"; rc=1; }
skv_dmesg_clean || { echo "# $retmsg"; rc=1; }
exit "$rc"
