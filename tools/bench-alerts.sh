#!/usr/bin/env bash
# Alerts in, at saturation, on PostgreSQL, job workers off (the ingest path alone), with
# a token of scope `alerts` (read from the database once, then from the token cache, as
# in production on PostgreSQL):
#  1. repeats: Alertmanager payloads for GROUPS groups already open (the common case:
#     resends every repeat_interval and from each replica);
#  2. new groups: each post opens an incident (storm guard set out of the way);
#  3. declarations (`/incident open`) on the same server, for the ratio new groups /
#     declarations;
# then pgbench runs the same statements as each alert path at the same concurrency
# (repeat: the counting UPDATE; new: the declaring statement with its alert group, a
# group never seen being tried as new first).
# Usage: tools/bench-alerts.sh [CONCURRENCY] [REQUESTS] [GROUPS]
set -euo pipefail
backend=postgres
concurrency=${1:-32}
requests=${2:-20000}
groups=${3:-200}
cd "$(dirname "$0")/.."
. tools/bench-env.sh
server=
stop_server() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; server=; }
trap 'stop_server; cleanup_db' EXIT
export POMPIER_JOBS__ENABLED=false POMPIER_ALERTS__MAX_DECLARED_PER_MINUTE=0
token=$($bin/pompier tokens create bench --scope alerts | tail -1)
$bin/pompier serve & server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
load() { $bin/pompier-load --url "http://127.0.0.1:$port" --api-token "$token" --concurrency "$concurrency" "$@"; }
rate() { sed -n 's/.*throughput=\([0-9.]*\)\/s.*/\1/p' "$1"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
out=$(mktemp -d)
echo "== 1. repeats of $groups open groups =="
load --alert-groups "$groups" --warmup "$groups" --requests "$requests" | tee "$out/repeat"
echo "== 2. new groups =="
load --alert-groups 1 --new-groups --warmup 0 --requests "$requests" | tee "$out/new"
echo "== 3. declarations =="
load --requests "$requests" | tee "$out/declare"
stop_server
echo "new groups / declarations: $(awk "BEGIN {printf \"%.0f\", 100 * $(rate "$out/new") / $(rate "$out/declare")}")%"

key="'{}/{team=\"load\"}:{alertname=\"Load' || :g::text || '\"}'"
cat > "$out/repeat.sql" <<SQL
\set g random(0, $((groups - 1)))
UPDATE alert_groups SET last_at = now(), count = count + 1 WHERE source = 'alertmanager' AND dedup_key = $key AND active AND signature = signature AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = alert_groups.incident_id AND i.status = 'closed') RETURNING incident_id;
SQL
job() { echo "($1, 'slack', '$2', '{\"kind\":\"$2\"}', '$3')"; }
cat > "$out/new.sql" <<SQL
\set g random(1000000000, 999999999999)
WITH incident AS (INSERT INTO incidents (title, severity, status, declared_by, opened_at, last_event_at) SELECT 'Load test alert ' || :g::text, 'SEV3', 'open', 'alerts' || chr(58) || 'alertmanager', now(), now() WHERE pg_try_advisory_xact_lock(hashtextextended('alertmanager' || chr(1) || $key, 0)) AND NOT EXISTS (SELECT 1 FROM alert_groups WHERE source = 'alertmanager' AND dedup_key = $key AND active) RETURNING id), event AS (INSERT INTO events (incident_id, at, kind, actor, to_value) SELECT id, now(), 'declared', 'alerts' || chr(58) || 'alertmanager', 'open' FROM incident), jobs AS (INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, created_at) SELECT incident.id, j.service, j.kind, j.payload, j.state, now(), now() FROM incident, (VALUES $(job 0 create_channel pending), $(job 1 invite queued), $(job 2 set_topic queued), $(job 3 post_summary queued)) AS j (n, service, kind, payload, state) ORDER BY j.n), alert AS (INSERT INTO alert_groups (source, dedup_key, incident_id, declared, status, title, url, signature, severity, first_at, last_at) SELECT 'alertmanager', $key, id, TRUE, 'firing', 'Load test alert ' || :g::text, 'http' || chr(58) || '//prometheus' || chr(58) || '9090/graph?g0.expr=up', md5(:g::text), 'SEV3', now(), now() FROM incident) SELECT id FROM incident;
SQL
for phase in repeat new; do
  tps=$(pgbench -n -h 127.0.0.1 -U postgres -M prepared -c "$concurrency" -j 2 \
        -t $((requests / concurrency)) -f "$out/$phase.sql" "$db" | awk '/^tps/ {print $3; exit}')
  ours=$(rate "$out/$phase")
  pct=$(awk "BEGIN {printf \"%.0f\", 100 * $ours / $tps}")
  echo "$phase: pompier ${ours}/s; pgbench -M prepared, same statements, $concurrency clients: ${tps%.*}/s; pompier = $pct% of it"
  figure "alerts in, $phase groups, c=$concurrency" "-" "pgbench -M prepared ${tps%.*}/s" "${ours%.*}/s = $pct%" "-"
done
rm -rf "$out"
