#!/usr/bin/env bash
# Chronicle vs cqrs-es + postgres-es on the same PostgreSQL: the same
# deposits to 1,000 accounts, at each client count, for a few rounds.
# See benches/peers/cqrs-es/README.md for what is measured and how to read it.
#
# Environment (all optional):
#   BENCH_DATABASE_URL    base URL; each run gets a fresh database beside it
#                         (default postgres://postgres@127.0.0.1:5432/postgres)
#   ROUNDS                rounds (default 3); the system that goes first alternates
#   SECONDS_PER_RUN       length of one timed run (default 10)
#   CLIENTS               client counts (default "1 8 64 256")
#   ACCOUNTS              accounts opened before each run (default 1000)
#   PEER_POOL             cqrs-es's connection pool (default 16, as Chronicle's)
#   PEER_RETRY_CONFLICTS  times cqrs-es re-sends a deposit after a conflict
#                         (default 10: the library returns a conflict to its caller,
#                         and an application retries it, as Chronicle does inside)
#   CHRONICLE_BIN         the server (default $HOME/.cache/chronicle/target/release/chronicle;
#                         built with `cargo build --release --locked` when missing)
#   RESULTS               the JSON-lines file (default /tmp/peers-<timestamp>.jsonl)
#   CHRONICLE_URL_OPTIONS added to Chronicle's database URL (default sslmode=disable:
#                         the peer's sqlx is built without TLS, so neither side
#                         encrypts its loopback connections; "" keeps sqlx's
#                         default, sslmode=prefer, which uses TLS when the server offers it)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

BENCH_DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-10}"
CLIENTS="${CLIENTS:-1 8 64 256}"
ACCOUNTS="${ACCOUNTS:-1000}"
PEER_POOL="${PEER_POOL:-16}"
PEER_RETRY_CONFLICTS="${PEER_RETRY_CONFLICTS:-10}"
CHRONICLE_BIN="${CHRONICLE_BIN:-$HOME/.cache/chronicle/target/release/chronicle}"
stamp="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-/tmp/peers-$stamp.jsonl}"
peers_target="${PEERS_TARGET_DIR:-$HOME/.cache/chronicle/peers-target}"
peer_bin="$peers_target/release/peer-bench"

# The base URL without its query string, with a database path.
url_base="${BENCH_DATABASE_URL%%\?*}"
url_query="${BENCH_DATABASE_URL#"$url_base"}"
if [[ "${url_base#*://}" != */* ]]; then
    url_base="$url_base/postgres"
fi
url_prefix="${url_base%/*}"
db_url() { printf '%s/%s%s' "$url_prefix" "$1" "$url_query"; }
CHRONICLE_URL_OPTIONS="${CHRONICLE_URL_OPTIONS-sslmode=disable}"
chronicle_db_url() {
    local url
    url="$(db_url "$1")"
    if [[ -n "$CHRONICLE_URL_OPTIONS" ]]; then
        if [[ "$url" == *\?* ]]; then url="$url&$CHRONICLE_URL_OPTIONS"; else url="$url?$CHRONICLE_URL_OPTIONS"; fi
    fi
    printf '%s' "$url"
}

work="$(mktemp -d)"
databases=()
server_pid=""

psql_base() { psql "$BENCH_DATABASE_URL" -v ON_ERROR_STOP=1 -qAtX "$@"; }

create_db() {
    psql_base -c "CREATE DATABASE \"$1\"" >/dev/null
    databases+=("$1")
}

drop_db() {
    psql_base -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" >/dev/null || true
    local kept=() d
    for d in "${databases[@]}"; do
        [[ "$d" == "$1" ]] || kept+=("$d")
    done
    databases=("${kept[@]+"${kept[@]}"}")
}

stop_server() {
    [[ -n "$server_pid" ]] || return 0
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        local i
        for i in $(seq 1 150); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "the server did not stop in 15 s; killing it" >&2
            kill -KILL "$server_pid" 2>/dev/null || true
        fi
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

cleanup() {
    local status=$?
    stop_server
    local d
    for d in "${databases[@]+"${databases[@]}"}"; do
        psql_base -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The binaries.
if [[ ! -x "$CHRONICLE_BIN" ]]; then
    echo "== building Chronicle (release) into $HOME/.cache/chronicle/target" >&2
    (cd "$repo" && CARGO_TARGET_DIR="$HOME/.cache/chronicle/target" cargo build --release --locked)
    CHRONICLE_BIN="$HOME/.cache/chronicle/target/release/chronicle"
fi
echo "== building peer-bench (release) into $peers_target" >&2
CARGO_TARGET_DIR="$peers_target" cargo build --release --locked \
    --manifest-path "$here/cqrs-es/Cargo.toml" >&2

psql_base -c 'SELECT 1' >/dev/null

# One line of results, tagged with the round and the disk's state.
record() { # round disk json
    printf '{"round":%s,"disk":"%s",%s\n' "$1" "$2" "${3#\{}" >>"$RESULTS"
}

run_chronicle() { # round disk clients
    local db="chron_peers_${stamp//-/_}_$$_c_$1_$3"
    create_db "$db"
    local log="$work/server-$1-$3.log"
    : >"$log"
    "$CHRONICLE_BIN" serve --listen 127.0.0.1:0 --database-url "$(chronicle_db_url "$db")" \
        --log-format text >"$log" 2>&1 &
    server_pid=$!
    local addr="" i
    for i in $(seq 1 600); do
        addr="$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" | head -n1 | sed 's/^listening on //' || true)"
        [[ -n "$addr" ]] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "the server exited before listening:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    if [[ -z "$addr" ]]; then
        echo "the server did not say where it listens within 60 s:" >&2
        tail -n 20 "$log" >&2
        return 1
    fi
    for i in $(seq 1 600); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$addr/ready" || true)" == 200 ]] && break
        if [[ $i == 600 ]]; then
            echo "$addr/ready did not answer 200 within 60 s" >&2
            return 1
        fi
        sleep 0.1
    done
    local line
    line="$("$peer_bin" chronicle --url "$addr" --clients "$3" --seconds "$SECONDS_PER_RUN" \
        --accounts "$ACCOUNTS" --pid "$server_pid")"
    echo "$line" >&2
    record "$1" "$2" "$line"
    stop_server
    drop_db "$db"
}

run_peer() { # round disk clients
    local db="chron_peers_${stamp//-/_}_$$_p_$1_$3"
    create_db "$db"
    local line
    line="$("$peer_bin" peer --database-url "$(db_url "$db")" --clients "$3" \
        --seconds "$SECONDS_PER_RUN" --accounts "$ACCOUNTS" --pool "$PEER_POOL" \
        --retry-conflicts "$PEER_RETRY_CONFLICTS")"
    echo "$line" >&2
    record "$1" "$2" "$line"
    drop_db "$db"
}

probe_db="chron_peers_${stamp//-/_}_$$_probe"
create_db "$probe_db"

: >>"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
    for clients in $CLIENTS; do
        echo "== round $round, $clients clients" >&2
        probe="$("$peer_bin" probe --database-url "$(db_url "$probe_db")" --millis 500)"
        disk="$(sed -n 's/.*"disk":"\([a-z]*\)".*/\1/p' <<<"$probe")"
        echo "$probe" >&2
        printf '{"round":%s,"clients":%s,%s\n' "$round" "$clients" "${probe#\{}" >>"$RESULTS"
        if ((round % 2 == 1)); then
            run_chronicle "$round" "$disk" "$clients"
            run_peer "$round" "$disk" "$clients"
        else
            run_peer "$round" "$disk" "$clients"
            run_chronicle "$round" "$disk" "$clients"
        fi
    done
done
drop_db "$probe_db"

python3 - "$RESULTS" <<'PY'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def fmt(x, spec):
    return "-" if x is None else format(x, spec)

# CPU milliseconds per accepted command, by process (`peer-bench`'s
# cpu_ms_per_command): "server", "postgres", "bench_process", or the
# machine's "machine_busy_cores".
def cpu(rs, key):
    return med([(r.get("cpu_ms_per_command") or {}).get(key) for r in rs])

clients = sorted({r["clients"] for r in rows})
head = ("clients", "chronicle/s", "p50 ms", "p99 ms", "cpu-s/1k", "err",
        "cqrs-es/s", "p50 ms", "p99 ms", "err", "ratio", "disk f/s")
table = [head]
for c in clients:
    def of(system):
        return [r for r in rows if r["clients"] == c and r["system"] == system]
    ch, pe, pr = of("chronicle"), of("cqrs-es"), of("probe")
    ch_rate = med([r["commands_per_s"] for r in ch])
    pe_rate = med([r["commands_per_s"] for r in pe])
    ratio = ch_rate / pe_rate if ch_rate is not None and pe_rate else None
    fast = sum(1 for r in pr if r["disk"] == "fast")
    table.append((
        str(c),
        fmt(ch_rate, ".0f"),
        fmt(med([r["p50_ms"] for r in ch]), ".2f"),
        fmt(med([r["p99_ms"] for r in ch]), ".2f"),
        fmt(cpu(ch, "server"), ".3f"),
        str(sum(r["errors"] for r in ch)),
        fmt(pe_rate, ".0f"),
        fmt(med([r["p50_ms"] for r in pe]), ".2f"),
        fmt(med([r["p99_ms"] for r in pe]), ".2f"),
        str(sum(r["errors"] for r in pe)),
        fmt(ratio, ".2f"),
        f"{fast}/{len(pr) - fast}",
    ))
widths = [max(len(row[i]) for row in table) for i in range(len(head))]
print()
print("Medians across rounds; err = errors summed over rounds; ratio = Chronicle / cqrs-es")
print("commands per second; disk f/s = rounds on a fast / slow disk (probe p50 < 1 ms).")
for row in table:
    print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))

# Where the machine's CPU went, per accepted command (medians across rounds):
# the server, PostgreSQL's processes, the benchmark's own process (the
# clients; for cqrs-es the whole system), and the machine's busy cores.
head = ("clients", "chronicle: server", "postgres", "clients", "busy cores",
        "cqrs-es: its process", "postgres", "busy cores")
table = [head]
for c in clients:
    ch = [r for r in rows if r["clients"] == c and r["system"] == "chronicle"]
    pe = [r for r in rows if r["clients"] == c and r["system"] == "cqrs-es"]
    table.append((
        str(c),
        fmt(cpu(ch, "server"), ".3f"),
        fmt(cpu(ch, "postgres"), ".3f"),
        fmt(cpu(ch, "bench_process"), ".3f"),
        fmt(cpu(ch, "machine_busy_cores"), ".2f"),
        fmt(cpu(pe, "bench_process"), ".3f"),
        fmt(cpu(pe, "postgres"), ".3f"),
        fmt(cpu(pe, "machine_busy_cores"), ".2f"),
    ))
widths = [max(len(row[i]) for row in table) for i in range(len(head))]
print()
print("CPU ms per accepted command, by process; busy cores = the machine's average.")
for row in table:
    print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
PY
echo
echo "results: $RESULTS"
