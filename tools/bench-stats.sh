#!/usr/bin/env bash
# How fast /api/v1/stats answers on a large database: seeds INCIDENTS realistic incidents
# and their events over 3 years (pompier-seed), rebuilds the weekly rollups (`pompier
# stats rebuild`, timed), then times the statistics of the last 30, 90, 365 and 3,650
# days from outside (curl over loopback, 1 warm-up then RUNS requests each; median and
# slowest). The anchor, in the same run: the same requests answered from the incidents
# themselves (`stats.exact_up_to` past any count), as pompier did before the rollups.
# Also the peak memory the 365-day requests add to the server (VmHWM after them less
# VmRSS before).
# Usage: tools/bench-stats.sh [postgres|sqlite] [INCIDENTS] [RUNS]
# With BENCH_DATABASE_URL set, that database, seeded and rebuilt already (10,000,000
# incidents take a quarter of an hour to seed), is measured and kept; INCIDENTS is then
# only the label.
set -euo pipefail
backend=${1:-postgres}
incidents=${2:-1000000}
runs=${3:-11}
cd "$(dirname "$0")/.."
. tools/bench-lib.sh
build_bins pompier pompier-seed
port=$((20000 + RANDOM % 20000))
export POMPIER_LISTEN=127.0.0.1:$port POMPIER_API_TOKEN=bench RUST_LOG=error
if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  export DATABASE_URL=$BENCH_DATABASE_URL
  cleanup_db() { :; }
else
  . tools/bench-db.sh
fi
server=
stop_server() { if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; server=; fi; }
trap 'stop_server; cleanup_db' EXIT
echo "backend=$backend machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  $bin/pompier-seed --database-url "$DATABASE_URL" --incidents "$incidents"
  $bin/pompier stats rebuild
fi
to=$(date -u +%Y-%m-%dT%H:%M:%SZ)
declare -A median
# Times each range on a server started with stats.exact_up_to=$1; medians in median[$1-DAYS].
measure() {
  POMPIER_STATS__EXACT_UP_TO=$1 $bin/pompier serve & server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  for days in 30 90 365 3650; do
    from=$(date -u -d "$days days ago" +%Y-%m-%dT%H:%M:%SZ)
    url="http://127.0.0.1:$port/api/v1/stats?from=$from&to=$to"
    [ "$days" = 365 ] && rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
    # The anchor over ten years may take longer than the server's request timeout.
    if ! answer=$(curl -sf -H "Authorization: Bearer bench" "$url"); then
      median[$1-$days]="no answer within the request timeout"
      echo "exact_up_to=$1, last $days days: no answer within the request timeout"
      continue
    fi
    total=$(echo "$answer" | sed -n 's/^{[^}]*"total":\([0-9]*\).*/\1/p')
    kind=$(echo "$answer" | sed -n 's/.*"percentiles":"\([a-z_0-9]*\)".*/\1/p')
    times=$(for _ in $(seq "$runs"); do
      curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer bench" "$url"
    done | sort -n)
    median[$1-$days]=$(echo "$times" | sed -n "$(( (runs + 1) / 2 ))p" | awk '{printf "%.1f", $1 * 1000}')
    slowest=$(echo "$times" | tail -1 | awk '{printf "%.1f", $1 * 1000}')
    echo "exact_up_to=$1, last $days days: $total incidents, percentiles $kind; median ${median[$1-$days]} ms, slowest $slowest ms over $runs requests"
    if [ "$days" = 365 ]; then
      hwm=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
      added[$1]=$(awk "BEGIN {printf \"%.1f\", ($hwm - $rss) / 1024}")
      echo "  peak memory added by the 365-day requests: ${added[$1]} MiB"
    fi
  done
  stop_server
}
declare -A added
exact=18446744073709551615
measure 5000
measure "$exact"
for days in 30 90 365 3650; do
  case $days in 30) goal=20 ;; 90) goal=40 ;; 365) goal=100 ;; *) goal=300 ;; esac
  ms=${median[5000-$days]}
  anchor=${median[$exact-$days]}
  [[ $anchor =~ ^[0-9.]+$ ]] && anchor="$anchor ms"
  figure "stats, last $days days, $incidents incidents ($backend)" "≤ $goal ms at 1M" \
    "$anchor from the incidents" "$ms ms median" "$(verdict "$ms" '<=' "$goal")"
done
figure "stats, memory added by the 365-day request ($backend)" "≤ 20 MB" \
  "${added[$exact]} MiB from the incidents" "${added[5000]} MiB" "$(verdict "${added[5000]}" '<=' 19)"
