#!/usr/bin/env bash
# Declarations per second and their latency, from outside, over loopback:
#  1. saturation, job workers off (only the ingest path): pompier-load as fast as pompier
#     answers with CONCURRENCY in flight; on PostgreSQL, pgbench then runs a declaration's
#     statement (the incident, its event, its setup's job row and the command's delivery
#     key), one declaration per transaction, at the same concurrency and the two are
#     printed side by side, then a naive client's minimal durable work. (pompier writes
#     the declarations that arrive together in one statement, `store::batch`: this is
#     the database's rate for a client that does not);
#  2. a fixed RATE requests/s (open loop) while the workers drain the jobs the
#     declarations queue against a fake Slack that answers at once; on PostgreSQL, then
#     pgbench alone at the same rate on the same statement (the database's own latency);
#  3. saturation again, the workers on and draining, against FireFighter's answer rate
#     (FIREFIGHTER_RATE, 140/s: FireFighter 0.0.79 under gunicorn with 8 workers, the
#     same load generator at c=32, in issue #22's run on its machine; not measured here).
# Usage: tools/bench-declare.sh [postgres|sqlite] [CONCURRENCY] [REQUESTS] [RATE]
set -euo pipefail
backend=${1:-postgres}
concurrency=${2:-32}
requests=${3:-20000}
rate=${4:-500}
cd "$(dirname "$0")/.."
. tools/bench-env.sh
$bin/pompier-load --fake-slack "127.0.0.1:$slack_port" >/dev/null & fake=$!
server=
stop_server() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=; }
trap 'stop_server; kill $fake 2>/dev/null; cleanup_db' EXIT
start_server() {
  $bin/pompier serve & server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  echo "pompier did not start" >&2; exit 1
}
# The warm-up's requests are not timed, but their CPU is counted: CPU per declaration
# divides by both.
warmup=500
load() { $bin/pompier-load --url "http://127.0.0.1:$port" --concurrency "$concurrency" --warmup "$warmup" "$@"; }
echo "backend=$backend machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

# CPU seconds (user + system) of a process, and of every PostgreSQL process together.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }
cpu_of_postgres() {
  local total=0 p
  for p in $(pgrep -x postgres || true); do total=$(awk "BEGIN {print $total + $(cpu_of "$p" 2>/dev/null || echo 0)}"); done
  echo "$total"
}
# Empties the database between phases: each starts without the jobs the one before queued.
fresh_db() {
  if [ "$backend" = postgres ]; then
    psql -q -h 127.0.0.1 -U postgres -d "$db" -c "TRUNCATE incidents, incident_roles, incident_participants, events, jobs, slack_deliveries, followups, gamedays, stats_changes, stats_days, stats_day_classes CASCADE"
  else
    rm -f "$file" "$file-wal" "$file-shm"
  fi
}
echo "== 1. saturation, workers off =="
POMPIER_JOBS__ENABLED=false start_server
cpu0=$(cpu_of "$server"); pg0=$(cpu_of_postgres)
load --requests "$requests" | tee /tmp/pompier-bench-sat.$$
cpu1=$(cpu_of "$server"); pg1=$(cpu_of_postgres)
stop_server
ours_ms=$(awk "BEGIN {printf \"%.3f\", 1000 * ($cpu1 - $cpu0) / ($requests + $warmup)}")
db_ms=$(awk "BEGIN {printf \"%.3f\", 1000 * ($pg1 - $pg0) / ($requests + $warmup)}")
echo "CPU per declaration: pompier $ours_ms ms, the database's processes $db_ms ms"
figure "CPU per declaration, workers off ($backend)" "pompier ≤ 0.1 ms" "database $db_ms ms" "pompier $ours_ms ms" "$(verdict "$ours_ms" '<=' 0.1)"
if [ "$backend" = postgres ]; then
  statement=$(mktemp) script=$(mktemp)
  # pompier's own statement for a slash command, as it sends it: the incident, its
  # event, its setup's steps in one job row (outbox::Steps) and the command's delivery
  # key (replay protection: `sig:` and the request's signature, unique per request).
  setup='{"at":0,"steps":[{"kind":"create_channel"},{"kind":"invite","users":[]},{"kind":"set_topic"},{"kind":"post_summary"}]}'
  columns="id, title, severity, status, channel_id, declared_by, opened_at, investigating_at, mitigated_at, resolved_at, postmortem_at, closed_at, postmortem_url, summary_ts, announce_ts, version, drill, team, gameday_id, failure_class, private, last_event_at, updates, late_updates, summary, impact, public_at, components"
  cat > "$statement" <<SQL
\set n random(1, 9000000000000000000)
WITH incident AS (INSERT INTO incidents (title, severity, status, declared_by, opened_at, last_event_at) VALUES ('pgbench incident ' || :n, 'SEV2', 'open', 'U0LOAD', now(), now()) RETURNING $columns), event AS (INSERT INTO events (incident_id, at, kind, actor, to_value) SELECT id, now(), 'declared', 'U0LOAD', 'open' FROM incident), jobs AS (INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, created_at, priority) SELECT incident.id, j.service, j.kind, j.payload, j.state, now(), now(), j.priority FROM incident, (VALUES (0, 'slack', 'create_channel', '$setup', 'pending', 20)) AS j (n, service, kind, payload, state, priority) ORDER BY j.n), seen AS (INSERT INTO slack_deliveries (key, at) SELECT 'sig' || chr(58) || 'v0=' || md5(CAST(:n AS text) || 'a') || md5(CAST(:n AS text) || 'b'), now() FROM incident) SELECT $columns FROM incident;
SQL
  ours=$(sed -n 's/.*throughput=\([0-9.]*\)\/s.*/\1/p' /tmp/pompier-bench-sat.$$)
  # pgbench's default (simple) protocol, and prepared statements as sqlx sends them.
  for mode in simple prepared; do
    tps=$(pgbench -n -h 127.0.0.1 -U postgres -M $mode -c "$concurrency" -j 2 \
          -t $((requests / concurrency)) -f "$statement" "$db" | awk '/^tps/ {print $3; exit}')
    pct=$(awk "BEGIN {printf \"%.0f\", 100 * $ours / $tps}")
    echo "pgbench -M $mode, same transaction, $concurrency clients: ${tps%.*}/s; pompier: ${ours}/s = $pct% of it"
    if [ "$mode" = prepared ]; then
      figure "declarations/s, workers off, c=$concurrency" "≥ 80% of pgbench -M prepared" "pgbench -M prepared ${tps%.*}/s" "${ours%.*}/s = $pct%" "$(verdict "$pct" '>=' 80)"
    else
      figure "declarations/s against pgbench -M simple (same statement)" "-" "pgbench -M simple ${tps%.*}/s" "${ours%.*}/s = $pct%" "-"
    fi
  done
  # A naive client doing the least durable work a declaration needs: one transaction
  # of three inserts (the incident, its event, one job) on tables with only primary
  # keys, five round trips with the simple protocol.
  cat > "$script" <<'SQL'
\set n random(1, 1000000000)
BEGIN;
INSERT INTO naive.incidents (title, severity, status, declared_by, opened_at) VALUES ('naive incident ' || :n, 'SEV2', 'open', 'U0LOAD', now()) RETURNING id \gset
INSERT INTO naive.events (incident_id, at, kind, actor, to_value) VALUES (:id, now(), 'declared', 'U0LOAD', 'open');
INSERT INTO naive.jobs (incident_id, service, kind, payload, state, next_attempt_at) VALUES (:id, 'slack', 'create_channel', '{"kind":"create_channel"}', 'pending', now());
COMMIT;
SQL
  psql -q -h 127.0.0.1 -U postgres -d "$db" \
    -c "CREATE SCHEMA naive" \
    -c "CREATE TABLE naive.incidents (id BIGSERIAL PRIMARY KEY, title TEXT, severity TEXT, status TEXT, declared_by TEXT, opened_at TIMESTAMPTZ)" \
    -c "CREATE TABLE naive.events (id BIGSERIAL PRIMARY KEY, incident_id BIGINT, at TIMESTAMPTZ, kind TEXT, actor TEXT, to_value TEXT)" \
    -c "CREATE TABLE naive.jobs (id BIGSERIAL PRIMARY KEY, incident_id BIGINT, service TEXT, kind TEXT, payload TEXT, state TEXT, next_attempt_at TIMESTAMPTZ)"
  tps=$(pgbench -n -h 127.0.0.1 -U postgres -M simple -c "$concurrency" -j 2 \
        -t $((requests / concurrency)) -f "$script" "$db" | awk '/^tps/ {print $3; exit}')
  psql -q -h 127.0.0.1 -U postgres -d "$db" -c "DROP SCHEMA naive CASCADE"
  pct=$(awk "BEGIN {printf \"%.0f\", 100 * $ours / $tps}")
  echo "a naive client (3 inserts, primary keys only, -M simple), $concurrency clients: ${tps%.*}/s; pompier: ${ours}/s = $pct% of it"
  figure "declarations/s against a naive client's minimal durable work" "≥ 100%" "naive ${tps%.*}/s" "${ours%.*}/s = $pct%" "$(verdict "$pct" '>=' 100)"
  rm -f "$script"
  # What the statistics log costs a declaration: the same load with its trigger off.
  # The same requests again: Slack's deliveries seen by the first run are forgotten, or
  # a short run's repeats, in the same second, are refused as retries.
  psql -q -h 127.0.0.1 -U postgres -d "$db" -c "ALTER TABLE incidents DISABLE TRIGGER incidents_stats_added" -c "TRUNCATE slack_deliveries"
  POMPIER_JOBS__ENABLED=false start_server
  without=$(load --requests "$requests" | sed -n 's/.*throughput=\([0-9.]*\)\/s.*/\1/p')
  stop_server
  psql -q -h 127.0.0.1 -U postgres -d "$db" -c "ALTER TABLE incidents ENABLE TRIGGER incidents_stats_added"
  pct=$(awk "BEGIN {printf \"%.0f\", 100 * $ours / $without}")
  echo "without the statistics trigger: ${without}/s; with it: ${ours}/s = $pct%"
  figure "declarations/s with the statistics log, against without" "-" "trigger off ${without%.*}/s" "${ours%.*}/s = $pct%" "-"
fi
rm -f /tmp/pompier-bench-sat.$$

echo "== 2. $rate/s while the workers drain against an instant fake Slack (a fresh database) =="
fresh_db
start_server
load --requests "$requests" --rate "$rate" | tee /tmp/pompier-bench-rate.$$
p99=$(sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p' /tmp/pompier-bench-rate.$$)
rm -f /tmp/pompier-bench-rate.$$
sleep 2
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^pompier_job(s|_runs_total)' | tr '\n' ' '; echo
stop_server
if [ "$backend" = postgres ]; then
  # The database alone at the same rate, on a fresh database: pompier's statement from
  # pgbench (prepared, as sqlx sends it), latency counted from each transaction's
  # scheduled start as pompier-load counts it; the floor under pompier's latency.
  psql -q -h 127.0.0.1 -U postgres -d "$db" -c "TRUNCATE incidents, events, jobs, slack_deliveries, stats_changes CASCADE"
  logs=$(mktemp -d)
  (cd "$logs" && pgbench -n -h 127.0.0.1 -U postgres -M prepared -c "$concurrency" -j 2 -R "$rate" \
     -T $(( (requests + rate - 1) / rate )) -l -f "$statement" "$db" >/dev/null)
  at_rate=$(cat "$logs"/pgbench_log.* | awk '{print $3}' | sort -n | awk '{v[NR] = $1}
    END {i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f %.2f %d", v[int((NR + 1) / 2)] / 1000, v[i] / 1000, NR}')
  rm -rf "$logs" "$statement"
  read -r db_p50 db_p99 db_n <<<"$at_rate"
  echo "pgbench -M prepared alone at $rate/s, same statement: $db_n transactions, p50=${db_p50}ms p99=${db_p99}ms"
  figure "declaration p99 at $rate/s, workers draining (postgres)" "≤ 3 ms" "pgbench alone at $rate/s: p99 $db_p99 ms" "$p99 ms" "$(verdict "$p99" '<=' 3)"
else
  figure "declaration p99 at $rate/s, workers draining ($backend)" "-" "-" "$p99 ms" "-"
fi

echo "== 3. saturation, workers on and draining (a fresh database) =="
fresh_db
start_server
# (Not `tee /dev/stderr`: with the output sent to a file, reopening it truncates it.)
load --requests "$requests" | tee /tmp/pompier-bench-on.$$
ours=$(sed -n 's/.*throughput=\([0-9.]*\)\/s.*/\1/p' /tmp/pompier-bench-on.$$)
rm -f /tmp/pompier-bench-on.$$
stop_server
firefighter=${FIREFIGHTER_RATE:-140}
times=$(awk "BEGIN {printf \"%.1f\", $ours / $firefighter}")
echo "workers on: ${ours}/s = ${times}× FireFighter's ${firefighter}/s (issue #22's figure, not this run's)"
figure "declarations/s, workers on, c=$concurrency ($backend)" "≥ 50× FireFighter" "FireFighter ${firefighter}/s (issue #22, its machine)" "${ours%.*}/s = ${times}×" "$(verdict "$times" '>=' 50)"
