#!/usr/bin/env bash
# Live boards for a whole company: VIEWERS people watch one game day board while
# declarations pour in. Prints, from one run:
#  - pompier's resident memory before the viewers and with them (/proc, VmRSS);
#  - how long each of 5 board changes took to reach each viewer (p50, p99, max);
#  - declarations/s at CONCURRENCY without viewers, then with them watching.
# Usage: tools/bench-boards.sh [postgres|sqlite] [VIEWERS] [REQUESTS] [CONCURRENCY]
set -euo pipefail
backend=${1:-postgres}
viewers=${2:-1000}
requests=${3:-10000}
concurrency=${4:-32}
cd "$(dirname "$0")/.."
. tools/bench-env.sh
export POMPIER_API_TOKEN=bench-operator-token POMPIER_JOBS__ENABLED=false
export POMPIER_HTTP__MAX_STREAMS=$((viewers + 100)) POMPIER_HTTP__MAX_STREAMS_PER_SESSION=$((viewers + 100))
export POMPIER_HTTP__MAX_CONNECTIONS=$((viewers + 1024))
ulimit -n $((viewers * 2 + 4096)) 2>/dev/null || true
server= watchers= log=$(mktemp)
trap '[ -n "$watchers" ] && kill $watchers 2>/dev/null; [ -n "$server" ] && kill $server 2>/dev/null; wait 2>/dev/null; rm -f "$log"; cleanup_db' EXIT
$bin/pompier serve & server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
load() { $bin/pompier-load --url "http://127.0.0.1:$port" "$@"; }
echo "backend=$backend viewers=$viewers machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
load --requests 1 --warmup 0 --concurrency 1 --text "gameday start Company-wide" >/dev/null
# A drill so the board has a team on it.
load --requests 1 --warmup 0 --concurrency 1 --text "drill sev2 team:first Warm-up" >/dev/null

echo "== declarations without viewers =="
alone=$(load --requests "$requests" --concurrency "$concurrency" | tee >(cat >&2) | sed -n 's/.*throughput=\([0-9.]*\)\/s.*/\1/p')
sleep 1
before=$(rss)

echo "== $viewers viewers =="
load --viewers "$viewers" --board 1 --changes 5 --hold 600 >"$log" & watchers=$!
for _ in $(seq 600); do grep -q '^board updates' "$log" && break; sleep 0.2; done
cat "$log"
with_rss=$(rss)
echo "== declarations with $viewers viewers watching =="
watched=$(load --requests "$requests" --concurrency "$concurrency" | tee >(cat >&2) | sed -n 's/.*throughput=\([0-9.]*\)\/s.*/\1/p')
polls=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^pompier_board_polls_total/ {print $2}')
echo
added=$(( (with_rss - before) / 1024 ))
p99=$(sed -n 's/.*p99=\([0-9]*\)ms.*/\1/p' "$log")
pct=$(awk "BEGIN {printf \"%.0f\", 100 * $watched / $alone}")
figure "memory added by $viewers board viewers ($backend)" "≤ 15 MB" "$((before / 1024)) MiB before" "+$added MiB" "$(verdict "$added" '<=' 15)"
figure "a board change reaching p99 of $viewers viewers" "≤ 1.5 s" "-" "$p99 ms" "$(verdict "$p99" '<=' 1500)"
figure "declarations/s with $viewers viewers watching" "≥ 90% of alone" "alone ${alone%.*}/s" "${watched%.*}/s = $pct%" "$(verdict "$pct" '>=' 90)"
figure "board reads, all viewers together" "one a second" "-" "$polls" "-"
