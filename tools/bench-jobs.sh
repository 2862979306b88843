#!/usr/bin/env bash
# Measures how fast the job queue drains against a Slack that answers at once.
# Usage: tools/bench-jobs.sh [postgres|sqlite] [INCIDENTS] [CONCURRENCY]
set -euo pipefail
backend=${1:-postgres}
incidents=${2:-2000}
concurrency=${3:-8}
cd "$(dirname "$0")/.."
cargo build --release --quiet --workspace --bin pompier-bench-jobs
export RUST_LOG=error
. tools/bench-db.sh
trap cleanup_db EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
./target/release/pompier-bench-jobs --database-url "$DATABASE_URL" --incidents "$incidents" --concurrency "$concurrency"
