#!/usr/bin/env bash
# Server binaries against each other over HTTP, interleaved: the A/B tables
# of BENCHMARKS.md. Each run starts one binary on a fresh database, drives
# it with `peer-bench chronicle` (deposits to random accounts from N
# clients, benches/peers/cqrs-es; it also reports the means of the
# server's own histograms over the timed run, the CPU per command by
# process, and on SQLite how long each holder held the write lock) and
# stops it; the binaries take turns within a round, the one
# that goes first alternating, and each round starts with a raw durable
# commit probe of the same database. This host's speed moves by a factor
# of two within an hour: compare binaries within the same rounds.
#
#   benches/ab/run.sh before=/tmp/chronicle-old after=target/release/chronicle
#   DATABASE=postgres CLIENTS=8 ROUNDS=5 benches/ab/run.sh a=... b=...
#
# Environment (all optional):
#   DATABASE            sqlite (default) or postgres
#   CLIENTS             concurrent clients (default 64)
#   SECONDS_PER_RUN     length of one timed run (default 8)
#   ROUNDS              rounds (default 3)
#   ACCOUNTS            accounts opened before each run (default 1000)
#   COMMAND_IDS         client (default: each deposit carries a fresh random
#                       commandId) or server (none: the server picks the ids)
#   SLOW_FSYNC_US       SQLite: every fsync of the server and the probe takes
#                       this many microseconds longer (benches/slow-disk)
#   BENCH_DATABASE_URL  PostgreSQL base URL; each run gets a fresh database
#                       (default postgres://postgres@127.0.0.1:5432/postgres)
#   RESULTS             the JSON-lines file (default /tmp/ab-<timestamp>.jsonl)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
DATABASE="${DATABASE:-sqlite}"
CLIENTS="${CLIENTS:-64}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-8}"
ROUNDS="${ROUNDS:-3}"
ACCOUNTS="${ACCOUNTS:-1000}"
COMMAND_IDS="${COMMAND_IDS:-client}"
id_args=()
case "$COMMAND_IDS" in
client) ;;
server) id_args=(--server-command-ids) ;;
*) echo "COMMAND_IDS is client or server, not $COMMAND_IDS" >&2; exit 2 ;;
esac
BENCH_DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
stamp="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-/tmp/ab-$stamp.jsonl}"
peers_target="${PEERS_TARGET_DIR:-$HOME/.cache/chronicle/peers-target}"
peer_bin="$peers_target/release/peer-bench"

if (($# < 2)); then
    echo "usage: $0 LABEL=BINARY LABEL=BINARY [...]" >&2
    exit 2
fi
labels=() binaries=()
for spec in "$@"; do
    label="${spec%%=*}" bin="${spec#*=}"
    if [[ "$label" == "$spec" || ! -x "$bin" ]]; then
        echo "not LABEL=EXECUTABLE: $spec" >&2
        exit 2
    fi
    labels+=("$label")
    binaries+=("$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")")
done
case "$DATABASE" in sqlite | postgres) ;; *)
    echo "DATABASE is sqlite or postgres, not $DATABASE" >&2
    exit 2
    ;;
esac

work="$(mktemp -d)"
server_pid=""
pg_db=""
db_url=""
psql_base() { psql "$BENCH_DATABASE_URL" -v ON_ERROR_STOP=1 -qAtX "$@"; }
pg_url() { printf '%s/%s?sslmode=disable' "${BENCH_DATABASE_URL%/*}" "$1"; }

stop_server() {
    [[ -n "$server_pid" ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
cleanup() {
    local status=$?
    stop_server
    [[ -z "$pg_db" ]] || psql_base -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== building peer-bench (release) into $peers_target" >&2
CARGO_TARGET_DIR="$peers_target" cargo build --release --locked \
    --manifest-path "$repo/benches/peers/cqrs-es/Cargo.toml" >&2

preload=()
if [[ -n "${SLOW_FSYNC_US:-}" ]]; then
    [[ "$DATABASE" == sqlite ]] || { echo "SLOW_FSYNC_US is for SQLite" >&2; exit 2; }
    gcc -shared -fPIC -O2 -Wall -Werror -o "$work/slow_fsync.so" "$repo/benches/slow-disk/slow_fsync.c" -ldl
    preload=(env "LD_PRELOAD=$work/slow_fsync.so" "SLOW_FSYNC_US=$SLOW_FSYNC_US")
fi

# A fresh, empty database, its URL in $db_url (not in a subshell: on
# PostgreSQL it remembers the database to drop next).
fresh_db() {
    if [[ "$DATABASE" == sqlite ]]; then
        rm -rf "$work/db" && mkdir "$work/db"
        db_url="sqlite://$work/db/chronicle.db"
    else
        [[ -z "$pg_db" ]] || psql_base -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null
        pg_db="chron_ab_${stamp//-/_}_$$"
        psql_base -c "CREATE DATABASE \"$pg_db\"" >/dev/null
        db_url="$(pg_url "$pg_db")"
    fi
}

run_one() { # round label binary
    local url log addr="" i line
    fresh_db
    url="$db_url"
    log="$work/server.log"
    "${preload[@]}" "$3" serve --listen 127.0.0.1:0 --database-url "$url" --log-format text >"$log" 2>&1 &
    server_pid=$!
    for i in $(seq 1 600); do
        addr="$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | head -n1 | sed 's/^listening on //' || true)"
        [[ -n "$addr" ]] && break
        kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$log" >&2; return 1; }
        sleep 0.1
    done
    [[ -n "$addr" ]] || { echo "$2 did not say where it listens" >&2; return 1; }
    for i in $(seq 1 600); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$addr/ready" || true)" == 200 ]] && break
        sleep 0.1
    done
    line="$("$peer_bin" chronicle --url "$addr" --clients "$CLIENTS" --seconds "$SECONDS_PER_RUN" \
        --accounts "$ACCOUNTS" --pid "$server_pid" "${id_args[@]+"${id_args[@]}"}")"
    stop_server
    line="{\"round\":$1,\"label\":\"$2\",\"probe_p50_ms\":$probe_p50,${line#\{}"
    echo "$line" >>"$RESULTS"
    echo "$line" >&2
}

: >>"$RESULTS"
n=${#labels[@]}
for round in $(seq 1 "$ROUNDS"); do
    if [[ "$DATABASE" == sqlite ]]; then
        probe_url="sqlite://$work/probe.db"
    else
        fresh_db
        probe_url="$db_url"
    fi
    probe="$("${preload[@]}" "$peer_bin" probe --database-url "$probe_url" --millis 500)"
    rm -f "$work"/probe.db*
    probe_p50="$(sed -n 's/.*"p50_ms":\([0-9.]*\).*/\1/p' <<<"$probe")"
    echo "== round $round, raw commit p50 ${probe_p50} ms" >&2
    for k in $(seq 0 $((n - 1))); do
        # Rotate who goes first from one round to the next.
        i=$(((k + round - 1) % n))
        run_one "$round" "${labels[$i]}" "${binaries[$i]}"
    done
done

node "$here/summary.mjs" "$RESULTS" "${labels[@]}"
echo "results: $RESULTS" >&2
