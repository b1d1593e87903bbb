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
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
url="http://127.0.0.1:$port"
"$server" serve --listen "127.0.0.1:$port" --database-url "sqlite://$work/chronicle.db" \
  >"$work/server.log" 2>&1 &
server_pid=$!
stop() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT

echo "== starting the server on $url"
healthy() { node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$url/health"; }
for _ in $(seq 1 150); do
  healthy && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server exited:"; cat "$work/server.log"; exit 1
  fi
  sleep 0.2
done
healthy || { echo "the server did not answer /health in 30 s:"; cat "$work/server.log"; exit 1; }

echo "== browser tests"
status=0
CHRONICLE_URL="$url" node --test --test-concurrency=1 tests/browser/*.test.mjs || status=$?
if [ "$status" -ne 0 ]; then
  echo "== the server's log (last 50 lines)"
  tail -n 50 "$work/server.log"
fi
exit "$status"
