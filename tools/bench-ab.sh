#!/usr/bin/env bash
# Two builds of pompier against each other on PostgreSQL, alternating in one run, so the
# machine's noise falls on both: declarations at saturation with the workers off, then at
# a fixed rate while the workers drain against an instant fake Slack, then at saturation
# with the workers on; each on a fresh database, with pompier's CPU per declaration
# (workers included in the last two).
# Usage: tools/bench-ab.sh BEFORE_DIR AFTER_DIR [ROUNDS] [REQUESTS] [RATE]
# where each directory holds a `pompier` binary (e.g. a release build of another commit
# copied there); the load generator and fake Slack are this checkout's.
set -euo pipefail
before=$1 after=$2 rounds=${3:-2} requests=${4:-20000} rate=${5:-500}
cd "$(dirname "$0")/.."
. tools/bench-lib.sh
build_bins pompier-load
port=$((20000 + RANDOM % 20000)) slack_port=$((port + 1))
export SLACK_SIGNING_SECRET=bench-secret RUST_LOG=error SLACK_BOT_TOKEN=xoxb-bench
export POMPIER_SLACK__PACE_PERCENT=0 POMPIER_LISTEN=127.0.0.1:$port
export SLACK_API_URL=http://127.0.0.1:$slack_port/api
$bin/pompier-load --fake-slack "127.0.0.1:$slack_port" >/dev/null & fake=$!
db=pompier_ab_$$
trap 'kill $fake 2>/dev/null; psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
# run NAME DIR sat|rate|on
run() {
  local server out c0 c1 jobs=true args=()
  psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db"
  case $3 in sat) jobs=false ;; rate) args=(--rate "$rate") ;; esac
  POMPIER_JOBS__ENABLED=$jobs "$2/pompier" serve & server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  c0=$(cpu_of "$server")
  out=$($bin/pompier-load --url "http://127.0.0.1:$port" --concurrency 32 --warmup 500 --requests "$requests" "${args[@]}" | tail -1)
  c1=$(cpu_of "$server")
  kill "$server"; wait "$server" 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE $db WITH (FORCE)"
  echo "$1 $3 cpu_per_declaration=$(awk "BEGIN {printf \"%.3f\", 1000 * ($c1 - $c0) / ($requests + 500)}")ms ${out#declarations }"
}
for _ in $(seq "$rounds"); do
  run before "$before" sat; run after "$after" sat
  run after "$after" rate; run before "$before" rate
  run before "$before" on; run after "$after" on
done
