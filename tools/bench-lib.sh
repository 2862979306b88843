# Sourced by every benchmark script. BENCH_PROFILE=debug runs the debug binaries
# (the small runs in CI, which need no release build); release otherwise.
profile=${BENCH_PROFILE:-release}
bin=./target/$profile
# Builds the binaries named ("pompier", "pompier-load", …) in the chosen profile.
build_bins() {
  local args=() name
  for name in "$@"; do args+=(--bin "$name"); done
  if [ "$profile" = release ]; then
    cargo build --release --quiet --workspace "${args[@]}"
  else
    cargo build --quiet --workspace "${args[@]}"
  fi
}
# One figure of the run: name, goal, anchor measured beside it, measured, verdict (pass,
# short, or - when it has no goal). Printed as a table row, and kept for tools/bench.sh.
figure() {
  printf '| %s | %s | %s | %s | %s |\n' "$@"
  if [ -n "${BENCH_TABLE:-}" ]; then printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${BENCH_NAME:-?}" "$@" >> "$BENCH_TABLE"; fi
}
# pass when "$1 $2 $3" holds (awk comparison, e.g. `verdict 4.2 '<=' 3`), else short.
verdict() { awk "BEGIN {print (($1) $2 ($3)) ? \"pass\" : \"short\"}"; }
