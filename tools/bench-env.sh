# Sourced by the benchmark scripts: builds the binaries (tools/bench-lib.sh), picks loopback ports,
# sets the environment of a pompier under test, and makes a fresh database of $backend
# (tools/bench-db.sh). Sets port and slack_port.
. tools/bench-lib.sh
build_bins pompier pompier-load
port=$((20000 + RANDOM % 20000))
slack_port=$((port + 1))
export SLACK_SIGNING_SECRET=bench-secret POMPIER_LISTEN=127.0.0.1:$port RUST_LOG=error
export SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:$slack_port/api
# The stand-in Slack answers at once and has no tiers: no pacing, unless a benchmark
# enforces them (tools/bench-storm.sh).
export POMPIER_SLACK__PACE_PERCENT=0
. tools/bench-db.sh
