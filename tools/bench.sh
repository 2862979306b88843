#!/usr/bin/env bash
# Every benchmark, or those named, in one run, and one table of their figures at the end:
# figure, goal, the anchor measured beside it in the same run, what pompier did, and
# pass or short. `--small` runs each on a small load with the debug binaries: the smoke
# run CI makes so no benchmark rots (its verdicts mean nothing; a script that fails or
# prints no figure fails the run).
# Usage: tools/bench.sh [--small] [NAME ...]   (NAME: see the list below; none: all)
set -euo pipefail
cd "$(dirname "$0")/.."
small=false
if [ "${1:-}" = --small ]; then small=true; shift; fi
# name | script | full-size arguments | small arguments
benches=(
  "declare|bench-declare.sh|postgres 32 20000 500|postgres 4 300 100"
  "declare-sqlite|bench-declare.sh|sqlite 32 20000 500|sqlite 4 300 100"
  "summary|bench-summary.sh|postgres 200|postgres 20"
  "summary-sqlite|bench-summary.sh|sqlite 200|sqlite 20"
  "mix-sqlite|bench-mix.sh|sqlite 32 20000 300|sqlite 4 300 100"
  "stats|bench-stats.sh|postgres 1000000 11|postgres 2000 3"
  "stats-sqlite|bench-stats.sh|sqlite 1000000 11|sqlite 2000 3"
  "boards|bench-boards.sh|postgres 1000 10000 32|postgres 20 300 4"
  "alerts|bench-alerts.sh|32 20000 200|4 300 20"
  "jobs|bench-jobs.sh|postgres 2000 8|postgres 100 2"
  "storm|bench-storm.sh|50 60|6 6"
  "shutdown|bench-shutdown.sh|100000 60000 10|200 0 2"
)
wanted=("$@")
table=$(mktemp)
trap 'rm -f "$table"' EXIT
export BENCH_TABLE=$table
if $small; then export BENCH_PROFILE=debug; fi
failed=()
for entry in "${benches[@]}"; do
  IFS='|' read -r name script full tiny <<<"$entry"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then continue; fi
  args=$full; $small && args=$tiny
  echo "=== $name: tools/$script $args"
  before=$(wc -l <"$table")
  # shellcheck disable=SC2086
  if ! BENCH_NAME=$name "tools/$script" $args; then failed+=("$name (exit)"); continue; fi
  [ "$(wc -l <"$table")" -gt "$before" ] || failed+=("$name (no figure)")
done
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%Y-%m-%d)$($small && echo '; small smoke run: verdicts mean nothing')"
echo
echo "| bench | figure | goal | anchor (same run) | measured | verdict |"
echo "| --- | --- | --- | --- | --- | --- |"
awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$table"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
