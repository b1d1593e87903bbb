#!/usr/bin/env bash
# SQLite's command path on a slow disk, on demand: `cargo bench --bench
# commands` (SQLite only) with every fsync and fdatasync of the bench's
# process made SLOW_FSYNC_US longer (default 4000, the ~4 ms fsync these
# machines' disks switch to for minutes at a time). The server's commits
# and the raw baseline commits pay the same delay, so the bench's ratios
# against the raw commit show what the slow state does to a command.
#
#   benches/slow-disk/run.sh            # the whole commands bench on SQLite
#   SLOW_FSYNC_US=8000 benches/slow-disk/run.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"
mkdir -p "$target"
shim="$target/slow_fsync.so"
gcc -shared -fPIC -O2 -Wall -Werror -o "$shim" "$here/slow_fsync.c" -ldl

export SLOW_FSYNC_US="${SLOW_FSYNC_US:-4000}"
echo "== every fsync and fdatasync of the bench takes $SLOW_FSYNC_US µs longer" >&2
host="$(rustc -vV | sed -n 's/^host: //p')"
runner_var="CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$host")_RUNNER"
# Only the bench process is slowed, not cargo or the compiler; and SQLite
# only, since PostgreSQL's fsyncs happen in its own processes.
cd "$repo"
env -u BENCH_DATABASE_URL -u TEST_DATABASE_URL "$runner_var=env LD_PRELOAD=$shim" \
    cargo bench --bench commands "$@"
