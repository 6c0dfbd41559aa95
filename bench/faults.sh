#!/usr/bin/env bash
# Fault scenarios against real processes (see bench/faults.py for what each one shows):
#   bench/faults.sh [--scale 0.3] [--only kill,outage,nodes,sigterm,slow]
# Needs PostgreSQL's server binaries (it starts an instance of its own on port 55432), psql,
# and Redis on 127.0.0.1:6379 (its database 15 is emptied). Prints one line per scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin haresign
exec python3 bench/faults.py "$@"
