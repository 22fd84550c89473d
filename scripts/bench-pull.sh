#!/usr/bin/env bash
# make bench-pull: the CPU a migration's pulls cost, records copied into
# the source's replies against sent from its log pages, by value size.
# No figure is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
exec vm-test/run.sh --name bench-pull --timeout 2400 --mem 4096 -- scripts/bench-pull-guest.sh
