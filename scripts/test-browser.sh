#!/usr/bin/env bash
# GraphiQL and the dashboard in headless Chromium (Debian's package, never
# a downloaded browser) against a freshly started server on an empty
# SQLite database: tests/browser/*.test.mjs. The tests fail on any request
# to a host other than 127.0.0.1. Screenshots land in
# tests/browser/screenshots/ (ignored by git).
#
# Needs Rust, Node and npm; installs chromium with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "== installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }
fi
export CHROMIUM="$chromium"

echo "== npm ci (tests/browser)"
(cd tests/browser && npm ci --no-audit --no-fund)

echo "== cargo build"
cargo build --locked --bin chronicle
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
server="$target_dir/debug/chronicle"

work="$(mktemp -d)"
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
healthy() { node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$1/health"; }
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT

# start NAME [FLAG...]: a server on a free port with its own empty
# database; sets $url.
start() {
  local name="$1"; shift
  local port; port="$(free_port)"
  url="http://127.0.0.1:$port"
  "$server" serve --listen "127.0.0.1:$port" --database-url "sqlite://$work/$name.db" "$@" \
    >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  echo "== starting the $name server on $url"
  for _ in $(seq 1 150); do
    healthy "$url" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the $name server exited:"; cat "$work/$name.log"; exit 1
    fi
    sleep 0.2
  done
  echo "the $name server did not answer /health in 30 s:"; cat "$work/$name.log"; exit 1
}

start open
open_url="$url"
admin_secret="browser-test-$RANDOM$RANDOM"
jwt_secret="browser-test-jwt-$RANDOM$RANDOM"
start auth --admin-secret "$admin_secret" --jwt-secret "$jwt_secret"
auth_url="$url"

echo "== browser tests"
status=0
CHRONICLE_URL="$open_url" CHRONICLE_AUTH_URL="$auth_url" \
  CHRONICLE_AUTH_ADMIN_SECRET="$admin_secret" CHRONICLE_AUTH_JWT_SECRET="$jwt_secret" \
  node --test --test-concurrency=1 tests/browser/*.test.mjs || status=$?
if [ "$status" -ne 0 ]; then
  for log in "$work"/*.log; do
    echo "== $(basename "$log") (last 40 lines)"
    tail -n 40 "$log"
  done
fi
exit "$status"
