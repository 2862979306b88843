#!/usr/bin/env bash
# How fast /api/v1/stats answers on a large database: seeds INCIDENTS realistic incidents
# and their events over 3 years (pompier-seed), starts a release pompier, and times the
# statistics of the last 30, 90 and 365 days from outside (curl over loopback, 1 warm-up
# then RUNS requests each; median and slowest).
# Usage: tools/bench-stats.sh [postgres|sqlite] [INCIDENTS] [RUNS]
set -euo pipefail
backend=${1:-postgres}
incidents=${2:-1000000}
runs=${3:-11}
cd "$(dirname "$0")/.."
. tools/bench-lib.sh
build_bins pompier pompier-seed
port=$((20000 + RANDOM % 20000))
export POMPIER_LISTEN=127.0.0.1:$port POMPIER_API_TOKEN=bench RUST_LOG=error
. tools/bench-db.sh
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; cleanup_db' EXIT
echo "backend=$backend machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
$bin/pompier-seed --database-url "$DATABASE_URL" --incidents "$incidents"
$bin/pompier serve & server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
to=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for days in 30 90 365; do
  from=$(date -u -d "$days days ago" +%Y-%m-%dT%H:%M:%SZ)
  url="http://127.0.0.1:$port/api/v1/stats?from=$from&to=$to"
  total=$(curl -sf -H "Authorization: Bearer bench" "$url" | sed -n 's/^{[^}]*"total":\([0-9]*\).*/\1/p')
  times=$(for _ in $(seq $((runs + 1))); do
    curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer bench" "$url"
  done | tail -n "$runs" | sort -n)
  median=$(echo "$times" | sed -n "$(( (runs + 1) / 2 ))p")
  slowest=$(echo "$times" | tail -1)
  ms=$(awk "BEGIN {printf \"%.1f\", $median * 1000}")
  echo "last $days days: $total incidents in range; median $ms ms, slowest $(awk "BEGIN {printf \"%.1f\", $slowest * 1000}") ms over $runs requests"
  case $days in 30) goal=20 ;; 90) goal=40 ;; *) goal=100 ;; esac
  figure "stats, last $days days, $incidents incidents ($backend)" "≤ $goal ms at 1M" "$total in range" "$ms ms median" "$(verdict "$ms" '<=' "$goal")"
done
