#!/usr/bin/env bash
# make demo: boot a guest, start three nodes (one per network namespace),
# split a table over them, and store and read keys through steadykvctl.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
exec vm-test/run.sh --name demo --timeout 300 -- scripts/demo-guest.sh
