#!/usr/bin/env bash
# Rebuilds dashboard/dist (GraphiQL and the dashboard, embedded in the
# server binary by src/http/ui.rs) from dashboard/'s sources, with the
# exact dependency versions of its package-lock.json, and records what it
# was built from in dashboard/dist.sha256. Commit dist/ and the manifest
# with the sources: building the server never needs npm.
set -euo pipefail
cd "$(dirname "$0")/.."

(
  cd dashboard
  npm ci --no-audit --no-fund
  npm run build
)
scripts/ui-manifest.sh > dashboard/dist.sha256
echo "== built dashboard/dist (gzip sizes):"
for file in dashboard/dist/assets/*; do
  printf '%8s KB  %8s KB gzip  %s\n' "$(( $(wc -c < "$file") / 1024 ))" "$(( $(gzip -9c "$file" | wc -c) / 1024 ))" "${file#dashboard/dist/}"
done | sort -n -k3 | tail -n 8
