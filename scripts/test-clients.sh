#!/usr/bin/env bash
# The client suite (tests/clients): installs its npm packages from the
# lockfile, builds the server, starts it on a free loopback port with a
# temporary SQLite database, and runs the Node tests against it. When
# TEST_DATABASE_URL names a PostgreSQL database (and psql is installed),
# the suite runs a second time against a schema of its own there.
#
# Needs Rust, Node (20 or newer) and npm. Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
clients="$root/tests/clients"

for tool in cargo node npm; do
  command -v "$tool" >/dev/null || { echo "test-clients: $tool is not installed" >&2; exit 1; }
done

# npm ci again only when the lockfile changed since the last install.
stamp="$clients/node_modules/.installed-lock"
lock_sum=$(node -e 'const c=require("crypto"),f=require("fs");console.log(c.createHash("sha256").update(f.readFileSync(process.argv[1])).digest("hex"))' "$clients/package-lock.json")
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
  (cd "$clients" && npm ci --no-audit --no-fund)
  echo "$lock_sum" > "$stamp"
fi

cargo build --locked
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
bin="$target_dir/debug/chronicle"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chronicle-clients.XXXXXX")
server_pid=""
pg_schema=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # Graceful shutdown takes at most --shutdown-timeout-ms (10 s).
    for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  stop_server
  if [ -n "$pg_schema" ]; then
    psql "$TEST_DATABASE_URL" -qX -c "DROP SCHEMA IF EXISTS $pg_schema CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts the server on the database URL given and sets CHRONICLE_URL. The
# server binds port 0 and logs the address it got, so no port is guessed.
start_server() {
  local database_url=$1 log="$tmp/server.log"
  : > "$log"
  env -u CHRONICLE_ADMIN_SECRET -u CHRONICLE_JWT_SECRET -u CHRONICLE_JWT_PUBLIC_KEY \
      -u CHRONICLE_ANONYMOUS_ROLE -u CHRONICLE_LISTEN -u DATABASE_URL \
      RUST_LOG="${RUST_LOG:-warn,chronicle=info}" NO_COLOR=1 \
      "$bin" serve --listen 127.0.0.1:0 --database-url "$database_url" >"$log" 2>&1 &
  server_pid=$!
  local url=""
  for _ in $(seq 1 600); do
    kill -0 "$server_pid" 2>/dev/null || { echo "test-clients: the server exited:" >&2; cat "$log" >&2; return 1; }
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1 || true)
    if [ -n "$url" ] && node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$url/health"; then
      export CHRONICLE_URL="$url"
      echo "test-clients: server at $CHRONICLE_URL ($database_url)"
      return 0
    fi
    sleep 0.1
  done
  echo "test-clients: the server did not answer /health within 60 s:" >&2
  cat "$log" >&2
  return 1
}

# Runs the test files against the server: all of them, or with `server`
# only those that talk to it (the codegen run does not: once is enough).
run_suite() {
  local status=0
  (
    cd "$clients"
    files=()
    for file in test/*.test.js; do
      if [ "${1:-}" = server ] && [ "$file" = test/codegen.test.js ]; then continue; fi
      files+=("$file")
    done
    node --test "${files[@]}"
  ) || status=$?
  if [ "$status" -ne 0 ]; then
    echo "test-clients: failures; the server's log:" >&2
    tail -n 50 "$tmp/server.log" >&2
  fi
  return "$status"
}

failed=0
echo "== client suite on SQLite"
start_server "sqlite://$tmp/chronicle.db"
run_suite || failed=1
stop_server

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  if command -v psql >/dev/null; then
    echo "== client suite on PostgreSQL"
    pg_schema="t_clients_$(node -e 'console.log(require("crypto").randomBytes(8).toString("hex"))')"
    psql "$TEST_DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $pg_schema" >/dev/null
    sep='?'; case "$TEST_DATABASE_URL" in *\?*) sep='&' ;; esac
    start_server "$TEST_DATABASE_URL${sep}options[search_path]=$pg_schema"
    run_suite server || failed=1
    stop_server
  else
    echo "test-clients: TEST_DATABASE_URL is set but psql is not installed: PostgreSQL SKIPPED" >&2
  fi
fi

exit "$failed"
