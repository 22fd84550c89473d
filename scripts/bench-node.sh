#!/usr/bin/env bash
# make bench-node: one node's GET/PUT throughput in a guest, beside Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
exec vm-test/run.sh --name bench-node --timeout 600 -- scripts/bench-node-guest.sh
