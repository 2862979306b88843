#!/usr/bin/env bash
# An incident storm within Slack's rate tiers: two instances on one PostgreSQL, both
# running workers, and a fake Slack that enforces the tiers (429 with Retry-After past
# them). COUNT incidents are declared through the API over SECS seconds, alternating
# between the instances, every third moved to investigating two seconds later, the last
# one a SEV1. Waits until every channel is made, every summary pinned and current, then
# prints the 429s, when the last effect landed against the tiers' theoretical minimum,
# and how long the SEV1 declared last waited for its channel.
# Usage: tools/bench-storm.sh [COUNT] [SECS]
set -euo pipefail
count=${1:-50}
secs=${2:-60}
backend=postgres
cd "$(dirname "$0")/.."
. tools/bench-env.sh
export POMPIER_API_TOKEN=bench-storm-token POMPIER_SLACK__PACE_PERCENT=90
a= b=
trap 'kill $a $b 2>/dev/null; wait 2>/dev/null; cleanup_db' EXIT
$bin/pompier serve & a=$!
POMPIER_LISTEN=127.0.0.1:$((port + 2)) $bin/pompier serve & b=$!
for p in $port $((port + 2)); do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
out=$($bin/pompier-load --fake-slack "127.0.0.1:$slack_port" --tiers --storm "$count" --storm-secs "$secs" \
  --url "http://127.0.0.1:$port" --url2 "http://127.0.0.1:$((port + 2))")
echo "$out"
val() { echo "$out" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
all=$(val channels); limited=$(val 429s); last=$(val last_effect); minimum=$(val tier_minimum); sev1=$(val sev1_channel)
figure "storm of $count in ${secs}s, 2 instances: 429s from Slack" "0" "-" "$limited (channels $all, pinned $(val pinned), current $(val current))" "$(verdict "$limited" '==' 0)"
figure "the same: the last effect landed" "-" "tiers' minimum ${minimum}" "$last" "-"
figure "the same: the SEV1 declared last has its channel" "≤ 10 s" "-" "$sev1" "$(verdict "${sev1%s}" '<=' 10)"
