#!/usr/bin/env bash
# Prints the manifest of the built pages: one hash over the sources that
# dashboard/dist is built from, then the hash of each built file. Written
# by build-ui.sh to dashboard/dist.sha256, compared by check-ui.sh.
set -euo pipefail
cd "$(dirname "$0")/../dashboard"

sources=(package.json package-lock.json tsconfig.json vite.config.ts ./*.html src)
echo "$(find "${sources[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)  sources"
find dist -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
