#!/usr/bin/env bash
# Measures how fast the job queue drains against a Slack that answers at once.
# Usage: tools/bench-jobs.sh [postgres|sqlite] [INCIDENTS] [CONCURRENCY]
set -euo pipefail
backend=${1:-postgres}
incidents=${2:-2000}
concurrency=${3:-8}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin pompier-bench-jobs
export RUST_LOG=error
case $backend in
  postgres)
    db=pompier_bench_jobs_$$
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db"
    trap 'psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
    url=postgres://postgres@127.0.0.1:5432/$db
    ;;
  sqlite)
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    url=sqlite://$dir/bench.db
    ;;
  *) echo "backend: postgres or sqlite" >&2; exit 2 ;;
esac
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
./target/release/pompier-bench-jobs --database-url "$url" --incidents "$incidents" --concurrency "$concurrency"
