#!/usr/bin/env bash
# Usage: tools/bench-alerts-token.sh (PostgreSQL, workers off; two rounds)
# New alert groups with a scoped token (looked up on every request) against with the
# operator's token (no lookup), and declarations: what the lookup costs. Each run on a
# fresh server, its earlier groups closed, so every post opens a group.
set -euo pipefail
backend=postgres
cd "$(dirname "$0")/.."
. tools/bench-env.sh
server=
stop() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=; }
trap 'stop; cleanup_db' EXIT
export POMPIER_JOBS__ENABLED=false POMPIER_ALERTS__MAX_DECLARED_PER_MINUTE=0 POMPIER_API_TOKEN=operator-bench-token
token=$($bin/pompier tokens create bench --scope alerts | tail -1)
start() {
  psql -q -h 127.0.0.1 -U postgres -d "$db" -c "UPDATE alert_groups SET active = FALSE" >/dev/null
  $bin/pompier serve & server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
}
load() { $bin/pompier-load --url "http://127.0.0.1:$port" --concurrency 32 --requests 20000 "$@"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for round in 1 2; do
  start; load --api-token "$token" --alert-groups 1 --new-groups --warmup 0 | sed "s/^/scoped $round: /"; stop
  start; load --api-token operator-bench-token --alert-groups 1 --new-groups --warmup 0 | sed "s/^/operator $round: /"; stop
  start; load --api-token "$token" | sed "s/^/declare $round: /"; stop
done
