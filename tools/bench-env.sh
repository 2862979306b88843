# Sourced by the benchmark scripts: builds the release binaries, picks loopback ports,
# sets the environment of a pompier under test, and makes a fresh database of $backend
# (`cleanup_db` drops it). Sets port, slack_port, DATABASE_URL, and db or file.
cargo build --release --quiet --bin pompier --bin pompier-load
port=$((20000 + RANDOM % 20000))
slack_port=$((port + 1))
export SLACK_SIGNING_SECRET=bench-secret POMPIER_LISTEN=127.0.0.1:$port RUST_LOG=error
export SLACK_BOT_TOKEN=xoxb-bench SLACK_API_URL=http://127.0.0.1:$slack_port/api
case $backend in
  postgres)
    db=pompier_bench_$$
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db"
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db
    cleanup_db() { psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; }
    ;;
  sqlite)
    file=$(mktemp -d)/bench.db
    export DATABASE_URL=sqlite://$file
    cleanup_db() { rm -rf "$(dirname "$file")"; }
    ;;
  *) echo "backend: postgres or sqlite" >&2; exit 2 ;;
esac
