#!/usr/bin/env bash
# make bench-lineage: a migration under load with lineage (Rocksteady: no
# replication while pulling, the range handed to the backups once before
# END) against re-replicating every pulled batch as it arrives, in one
# guest, interleaved.  No figure is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
exec vm-test/run.sh --name bench-lineage --timeout 2400 --mem 6144 -- scripts/bench-lineage-guest.sh
