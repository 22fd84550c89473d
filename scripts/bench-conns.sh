#!/usr/bin/env bash
# make bench-conns: 10,000 client connections to one node in a guest, beside
# redis-server and memcached: throughput and memory per connection.
set -euo pipefail
cd "$(dirname "$0")/.."
# 3 GiB: a connection costs the module tens of KiB (thread per connection)
exec vm-test/run.sh --name benchconns --timeout 900 --mem 3072 -- scripts/bench-conns-guest.sh
