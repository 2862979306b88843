#!/usr/bin/env bash
# Declaration → pinned summary with a Slack that answers at once: COUNT incidents
# declared one after another, each timed from its request to the `pins.add` that ends
# its Slack work (channel, invitation, topic, summary, pin: the jobs its declaration
# queued, run by the workers it woke). Prints p50, p90, p99 and the slowest. On
# PostgreSQL, again with two instances: declarations reach one without workers, and
# the other's workers run the jobs (woken by pg_notify, not their poll).
# Usage: tools/bench-summary.sh [postgres|sqlite] [COUNT]
set -euo pipefail
backend=${1:-postgres}
count=${2:-200}
cd "$(dirname "$0")/.."
. tools/bench-env.sh
server= other=
trap 'kill $server $other 2>/dev/null; wait 2>/dev/null; cleanup_db' EXIT
$bin/pompier serve & server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
echo "backend=$backend machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
out=$($bin/pompier-load --url "http://127.0.0.1:$port" --fake-slack "127.0.0.1:$slack_port" --time-to-summary "$count")
echo "$out"
p50=$(echo "$out" | sed -n 's/.* p50=\([0-9.]*\)ms.*/\1/p')
figure "declaration → pinned summary, instant Slack ($backend), median" "≤ 50 ms" "-" "$p50 ms (p99 $(echo "$out" | sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p') ms)" "$(verdict "$p50" '<=' 50)"
if [ "$backend" = postgres ]; then
  kill $server; wait $server 2>/dev/null || true
  POMPIER_JOBS__ENABLED=false $bin/pompier serve & server=$!
  POMPIER_LISTEN=127.0.0.1:$((port + 2)) $bin/pompier serve & other=$!
  for p in $port $((port + 2)); do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
  done
  sleep 1
  out=$($bin/pompier-load --url "http://127.0.0.1:$port" --fake-slack "127.0.0.1:$slack_port" --time-to-summary "$count")
  echo "two instances: $out"
  p50=$(echo "$out" | sed -n 's/.* p50=\([0-9.]*\)ms.*/\1/p')
  figure "the same, declared on an instance without workers (poll 500 ms)" "≤ 50 ms" "-" "$p50 ms (p99 $(echo "$out" | sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p') ms)" "$(verdict "$p50" '<=' 50)"
fi
