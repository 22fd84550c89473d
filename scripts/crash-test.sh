#!/usr/bin/env bash
# Real crashes and network faults in the multi-VM lab (vm-test/lab.sh,
# selftests/lab/crash.sh): prints the control guest's TAP, exits non-zero
# on any failure (or kernel report in any guest).
#
#   scripts/crash-test.sh [--repeat N]   every crash point for every role
#                                        (and a crash during a recovery),
#                                        N times (default 5; `make crash-test`),
#                                        then the network faults and the
#                                        coordinator restart
#   scripts/crash-test.sh --check        each crash point once, the roles
#                                        rotating, and the same extras
#                                        (`make check`'s lab step)
#
# One lab boot runs the whole list; a crashed node guest is booted again
# before the next item.  LAB_DEAD_AFTER_MS and LAB_REPLICAS pass on
# to the guest (selftests/lab/crash.sh).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$top"

readonly POINTS=(before-prepare after-ownership mid-pull re-replicating)
readonly ROLES=(source target third)
# A crash during a recovery (a second victim): the node rebuilding the
# first victim's tablet, or its backup.
readonly RECOVERY_ROLES=(target backup)
# The check's rotation: each point once, each role at least once.
readonly CHECK_ITEMS=(before-prepare:source after-ownership:third mid-pull:target
	re-replicating:source recovering:target)
readonly EXTRAS=(partition netem coord-restart)
# A bound per item for the control guest, TCG and a loaded host included
# (a crash item with its victim's reboot took 105 to 330 s at load 10 to
# 16 on 2 cores; see vm-test/README.md).
readonly ITEM_S=420

repeat=5 name=crash-test items=()
case "${1:-}" in
--check)
	items=("${CHECK_ITEMS[@]}")
	name=check-lab
	;;
--repeat)
	repeat=${2:?--repeat N}
	[[ $repeat =~ ^[1-9][0-9]*$ ]] || { echo "--repeat takes a count" >&2; exit 2; }
	;;
"") ;;
*)
	echo "usage: ${0##*/} [--check | --repeat N]" >&2
	exit 2
	;;
esac
if ((${#items[@]} == 0)); then
	for ((r = 0; r < repeat; r++)); do
		for p in "${POINTS[@]}"; do
			for role in "${ROLES[@]}"; do
				items+=("$p:$role")
			done
		done
		for role in "${RECOVERY_ROLES[@]}"; do
			items+=("recovering:$role")
		done
	done
fi
items+=("${EXTRAS[@]}")
env_list="LAB_DEAD_AFTER_MS=${LAB_DEAD_AFTER_MS:-8000} LAB_REPLICAS=${LAB_REPLICAS:-2}"
STEADYKV_GUEST_ENV="$env_list ${STEADYKV_GUEST_ENV:-}" \
	exec vm-test/lab.sh --name "$name" --timeout $((600 + ITEM_S * ${#items[@]})) -- \
	bash selftests/lab/crash.sh "${items[@]}"
