#!/usr/bin/env bash
# How long pompier takes to stop at SIGTERM with a large backlog of due jobs: JOBS
# incidents, each with a due Slack job, on a fresh PostgreSQL database; the workers run
# against a fake Slack that answers after DELAY_MS (0: at once; 60000: a silent Slack, so
# every worker holds a job when the signal comes). Prints the exit code and the time.
# Usage: tools/bench-shutdown.sh [JOBS] [DELAY_MS] [GRACE_SECS]
set -euo pipefail
jobs=${1:-100000}
delay=${2:-60000}
grace=${3:-10}
cd "$(dirname "$0")/.."
. tools/bench-lib.sh
build_bins pompier pompier-load
port=$((20000 + RANDOM % 20000))
slack_port=$((port + 1))
db=pompier_bench_stop_$$
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db"
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db RUST_LOG=warn
export POMPIER_LISTEN=127.0.0.1:$port SLACK_BOT_TOKEN=xoxb-bench
export SLACK_API_URL=http://127.0.0.1:$slack_port/api POMPIER_JOBS__SHUTDOWN_GRACE_SECS=$grace
export POMPIER_SLACK__PACE_PERCENT=0  # the stand-in Slack has no tiers
$bin/pompier-load --fake-slack "127.0.0.1:$slack_port" --fake-slack-delay-ms "$delay" >/dev/null & fake=$!
trap 'kill $fake 2>/dev/null; psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
$bin/pompier migrate
psql -q -h 127.0.0.1 -U postgres -d "$db" <<SQL
INSERT INTO incidents (title, severity, status, declared_by, opened_at)
  SELECT 'Backlog ' || n, 'SEV3', 'open', 'U0BENCH', now() FROM generate_series(1, $jobs) n;
INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, created_at)
  SELECT id, 'slack', 'create_channel', '{"kind":"create_channel"}', 'pending', now(), now() FROM incidents;
ANALYZE jobs;
SQL
$bin/pompier serve & server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
sleep 3
start=$(date +%s.%N)
kill -TERM $server
set +e; wait $server; code=$?; set -e
end=$(date +%s.%N)
left=$(psql -qtA -h 127.0.0.1 -U postgres -d "$db" -c "SELECT count(*) FROM jobs WHERE state = 'pending'")
leased=$(psql -qtA -h 127.0.0.1 -U postgres -d "$db" -c "SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL")
took=$(awk "BEGIN {printf \"%.2f\", $end - $start}")
echo "jobs=$jobs slack_delay=${delay}ms grace=${grace}s: exit code $code after $took s; $left jobs still due, $leased still leased"
figure "stop at SIGTERM, $jobs jobs due, Slack ${delay} ms" "exit 0 within grace + 1 s" "grace ${grace} s" "exit $code after $took s, $leased leased" "$( [ "$code" = 0 ] && [ "$leased" = 0 ] && verdict "$took" '<=' "$grace + 1" || echo short)"
