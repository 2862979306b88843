#!/usr/bin/env bash
# Measures declarations per second: a release pompier on a fresh database, loaded by
# pompier-load over loopback, first as fast as it goes, then at a fixed 1,000 requests/s.
# Usage: tools/bench-declare.sh [postgres|sqlite] [CONCURRENCY] [REQUESTS]
set -euo pipefail
backend=${1:-postgres}
concurrency=${2:-32}
requests=${3:-20000}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin pompier --bin pompier-load
port=$((20000 + RANDOM % 20000))
export SLACK_SIGNING_SECRET=bench-secret POMPIER_LISTEN=127.0.0.1:$port RUST_LOG=error
case $backend in
  postgres)
    db=pompier_bench_$$
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db"
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db
    cleanup_db() { psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; }
    ;;
  sqlite)
    file=$(mktemp -d)/bench.db
    export DATABASE_URL=sqlite://$file
    cleanup_db() { rm -rf "$(dirname "$file")"; }
    ;;
  *) echo "backend: postgres or sqlite" >&2; exit 2 ;;
esac
./target/release/pompier serve & server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; cleanup_db' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
echo "backend=$backend machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
load() { ./target/release/pompier-load --url "http://127.0.0.1:$port" --concurrency "$concurrency" "$@"; }
load --requests "$requests"
load --requests "$requests" --rate 1000
