#!/usr/bin/env bash
# make bench-recovery: how fast one node rebuilds a dead primary's tablet
# from the replica it holds (replay, then re-replication to its own
# backup), for several data sizes, beside iperf3 between the same
# namespaces, in one guest.  No figure is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
exec vm-test/run.sh --name bench-recovery --timeout 1500 -- scripts/bench-recovery-guest.sh
