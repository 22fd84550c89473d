#!/usr/bin/env bash
# make bench-repl: PUT throughput and p99.9 of one steadykv node with R = 0
# and R = 2 backups, beside Redis with WAIT 2 0 after each write (two
# replicas), in one guest.  No figure is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
exec vm-test/run.sh --name bench-repl --timeout 900 -- scripts/bench-repl-guest.sh
