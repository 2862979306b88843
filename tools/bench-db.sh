# Sourced by the benchmark scripts: a fresh database of $backend (postgres or sqlite),
# exported as DATABASE_URL; `cleanup_db` drops it.
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
