#!/usr/bin/env bash
# A realistic mix of signed requests, from outside, over loopback, with the job workers
# on against a fake Slack that answers at once (pompier-load --mix: of every 20 requests
# 4 declarations, 3 status changes, 4 notes, 3 `status`, 2 `list`, 2 summary button
# clicks, 2 member-joined events, over 200 incidents declared first):
#  0. resident memory idle, after start-up;
#  1. a fixed RATE requests/s (open loop): latency from each request's scheduled start,
#     and the server's resident memory sampled every 0.2 s;
#  2. saturation with CONCURRENCY in flight; on PostgreSQL, pgbench then sends the same
#     statements (written out below, weighted as the mix) at the same concurrency, and
#     the two are printed side by side.
# Usage: tools/bench-mix.sh [postgres|sqlite] [CONCURRENCY] [REQUESTS] [RATE]
set -euo pipefail
backend=${1:-postgres}
concurrency=${2:-32}
requests=${3:-20000}
rate=${4:-500}
cd "$(dirname "$0")/.."
. tools/bench-env.sh
export POMPIER_API_TOKEN=bench-api-token
$bin/pompier-load --fake-slack "127.0.0.1:$slack_port" >/dev/null & fake=$!
$bin/pompier serve & server=$!
trap 'kill $server $fake 2>/dev/null; wait $server 2>/dev/null; cleanup_db' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
load() {
  $bin/pompier-load --url "http://127.0.0.1:$port" --mix \
    --response-url "http://127.0.0.1:$slack_port/api/response" "$@"
}
echo "backend=$backend machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

sleep 3
echo "== 0. idle: resident memory $(( $(rss) / 1024 )).$(( $(rss) % 1024 * 10 / 1024 )) MiB"

write_scripts() {
  # Their jobs name a service of their own, so pompier's workers leave them alone.
  dir=$(mktemp -d)
  lo=$(psql -qAt -h 127.0.0.1 -U postgres -d "$db" -c "SELECT GREATEST(MAX(id) - 199, 1) FROM incidents")
  hi=$(psql -qAt -h 127.0.0.1 -U postgres -d "$db" -c "SELECT MAX(id) FROM incidents")
  cols="id, title, severity, status, channel_id, declared_by, opened_at, investigating_at, mitigated_at, resolved_at, postmortem_at, closed_at, postmortem_url, summary_ts, version"
  job() { # incident, kind
    echo "INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, created_at) VALUES ($1, 'bench', '$2', '{\"kind\":\"$2\"}', CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE incident_id = $1 AND service = 'bench' AND (state IN ('pending', 'queued') OR (state = 'dead' AND kind = 'create_channel'))) THEN 'queued' ELSE 'pending' END, now(), now());"
  }
  pick='\set id random(:lo, :hi)'
  read_incident="SELECT $cols FROM incidents WHERE id = :id;
SELECT incident_id, role, user_id FROM incident_roles WHERE incident_id = :id ORDER BY role;"
  by_channel="SELECT id FROM incidents WHERE channel_id = (SELECT channel_id FROM incidents WHERE id = :id);"
  change() { # kind
    cat <<SQL
$read_incident
BEGIN;
UPDATE incidents SET status = status, version = version + 1 WHERE id = :id AND version = version;
INSERT INTO events (incident_id, at, kind, actor, to_value) VALUES (:id, now(), '$1', 'U0PGBENCH', 'x');
$(job :id post_event)
SQL
    if [ "$1" != note ]; then
      echo "UPDATE jobs SET state = 'done', finished_at = now() WHERE incident_id = :id AND service = 'bench' AND kind = 'update_summary' AND state = 'queued';"
      job :id update_summary
    fi
    echo "COMMIT;"
  }
  jobs_declare() { for k in create_channel invite set_topic post_summary; do echo "((SELECT id FROM incident), 'bench', '$k', '{\"kind\":\"$k\"}', '$([ $k = create_channel ] && echo pending || echo queued)', now(), now())"; done | paste -sd, -; }
  cat > "$dir/declare.sql" <<SQL
\set n random(1, 1000000000)
WITH incident AS (INSERT INTO incidents (title, severity, status, declared_by, opened_at) VALUES ('pgbench incident ' || :n, 'SEV2', 'open', 'U0PGBENCH', now()) RETURNING $cols), event AS (INSERT INTO events (incident_id, at, kind, actor, to_value) SELECT id, now(), 'declared', 'U0PGBENCH', 'open' FROM incident), sig AS (INSERT INTO slack_deliveries (key, at) VALUES ('sig-pgbench' || random(), now())), jobs AS (INSERT INTO jobs (incident_id, service, kind, payload, state, next_attempt_at, created_at) VALUES $(jobs_declare)) SELECT * FROM incident;
SQL
  { echo "$pick"; change status; } > "$dir/move.sql"
  { echo "$pick"; echo "$by_channel"; echo "INSERT INTO slack_deliveries (key, at) VALUES ('sig-pgbench' || random(), now()) ON CONFLICT (key) DO NOTHING;"; change note; } > "$dir/note.sql"
  { echo "$pick"; echo "$by_channel"; echo "$read_incident"; } > "$dir/status.sql"
  cat > "$dir/list.sql" <<SQL
SELECT $cols FROM incidents WHERE 1 = 1 AND status IN ('open', 'investigating', 'mitigated') ORDER BY opened_at DESC, id DESC LIMIT 21;
SELECT incident_id, role, user_id FROM incident_roles WHERE incident_id IN (SELECT id FROM incidents WHERE status IN ('open', 'investigating', 'mitigated') ORDER BY opened_at DESC, id DESC LIMIT 21) ORDER BY role;
SQL
  { echo "$pick"; echo "$by_channel"; echo "INSERT INTO incident_participants (incident_id, user_id, joined_at) VALUES (:id, 'U0J' || (random() * 500)::int, now()) ON CONFLICT (incident_id, user_id) DO NOTHING;"; } > "$dir/event.sql"
}
mix_files() { echo "-f $dir/declare.sql@4 -f $dir/move.sql@5 -f $dir/note.sql@4 -f $dir/status.sql@3 -f $dir/list.sql@2 -f $dir/event.sql@2"; }
# pgbench's latencies from its per-transaction log (microseconds, third column).
pgbench_latency() {
  sort -n -k3 "$1"/pgbench_log.* | awk '{ l[NR] = $3 } END { printf "p50=%.2fms p99=%.2fms max=%.2fms (%d transactions)", l[int(NR * 0.5)] / 1000, l[int(NR * 0.99)] / 1000, l[NR] / 1000, NR }'
}

echo "== 1. mix at $rate/s =="
( peak=0; while kill -0 $server 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" > /tmp/pompier-mix-peak.$$; sleep 0.2; done ) & sampler=$!
load --concurrency "$concurrency" --requests $((rate * 30)) --rate "$rate"
kill $sampler 2>/dev/null || true
peak=$(cat /tmp/pompier-mix-peak.$$); rm -f /tmp/pompier-mix-peak.$$
echo "resident memory under load: peak $((peak / 1024)).$((peak % 1024 * 10 / 1024)) MiB (sampled every 0.2 s)"
if [ "$backend" = postgres ]; then
  # The database alone, the same statements at the same rate and concurrency, while
  # pompier idles: what latency the database itself gives on this machine.
  write_scripts
  logs=$(mktemp -d)
  (cd "$logs" && pgbench -n -h 127.0.0.1 -U postgres -M simple -c "$concurrency" -j 2 -D lo="$lo" -D hi="$hi" \
     -R "$rate" -T 30 -l $(mix_files) "$db" >/dev/null 2>&1)
  echo "pgbench -M simple at $rate/s, the same statements weighted as the mix: $(pgbench_latency "$logs")"
  rm -rf "$logs"
fi

echo "== 2. mix at saturation, $concurrency in flight =="
load --concurrency "$concurrency" --requests "$requests" | tee /tmp/pompier-mix-sat.$$
if [ "$backend" = postgres ]; then
  # What the mix did: real changes, not "already so" answers.
  echo "pompier's timeline events by kind: $(psql -qAt -h 127.0.0.1 -U postgres -d "$db" -F= -R' ' \
    -c "SELECT kind, COUNT(*) FROM events WHERE incident_id IN (SELECT id FROM incidents WHERE declared_by = 'U0LOAD') AND actor <> 'U0PGBENCH' GROUP BY kind ORDER BY kind")"
fi
if [ "$backend" = postgres ]; then
  ours=$(sed -n 's/.*throughput=\([0-9.]*\)\/s.*/\1/p' /tmp/pompier-mix-sat.$$)
  for mode in simple extended; do
    tps=$(pgbench -n -h 127.0.0.1 -U postgres -M $mode -c "$concurrency" -j 2 -D lo="$lo" -D hi="$hi" \
          -t $((requests / concurrency)) $(mix_files) "$db" | awk '/^tps/ {print $3; exit}')
    echo "pgbench -M $mode, the same statements weighted as the mix, $concurrency clients: ${tps%.*}/s; pompier: ${ours}/s = $(awk "BEGIN {printf \"%.0f\", 100 * $ours / $tps}")% of it"
  done
  rm -rf "$dir"
fi
rm -f /tmp/pompier-mix-sat.$$
hwm=$(awk '/^VmHWM/ {print $2}' /proc/$server/status)
echo "resident memory after the run: $(( $(rss) / 1024 )) MiB; peak over the whole run (VmHWM): $(( hwm / 1024 )) MiB"
# What that memory is: pompier's own (heap, stacks, SQLite's caches), and the pages of
# its executable it has run, mapped from the file (shared with the page cache).
split=$(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {printf "%.1f MiB its own, %.1f MiB the executable'"'"'s pages", a / 1024, f / 1024}' /proc/$server/status)
echo "after the run: $split"
mib=$(awk "BEGIN {printf \"%.1f\", $hwm / 1024}")
if [ "$backend" = sqlite ]; then
  figure "peak resident memory under the mix (sqlite)" "≤ 20 MB" "-" "$mib MiB (after: $split)" "$(verdict "$mib" '<=' 20)"
else
  figure "peak resident memory under the mix ($backend)" "-" "-" "$mib MiB" "-"
fi
