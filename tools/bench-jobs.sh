#!/usr/bin/env bash
# Measures how fast the job queue drains against a Slack that answers at once.
# Usage: tools/bench-jobs.sh [postgres|sqlite] [INCIDENTS] [CONCURRENCY]
set -euo pipefail
backend=${1:-postgres}
incidents=${2:-2000}
concurrency=${3:-8}
cd "$(dirname "$0")/.."
. tools/bench-lib.sh
build_bins pompier-bench-jobs
export RUST_LOG=error
. tools/bench-db.sh
trap cleanup_db EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
out=$($bin/pompier-bench-jobs --database-url "$DATABASE_URL" --incidents "$incidents" --concurrency "$concurrency")
echo "$out"
figure "jobs drained against an instant Slack ($backend, $concurrency workers)" "-" "-" "$(echo "$out" | sed -n 's/.*throughput=\([0-9]*\) jobs\/s.*/\1/p') jobs/s" "-"
