#!/usr/bin/env bash
# Checks the built pages that the server embeds:
# - dashboard/dist is what build-ui.sh makes from the sources as they are
#   (their hash and every built file match dashboard/dist.sha256; with
#   --rebuild, also rebuilt from scratch in a temporary copy and compared
#   byte for byte);
# - no built file makes the browser fetch anything from another host (no
#   http(s) URL in a src=, href=, import, fetch or CSS url(); a URL in a
#   comment or a help text is fine).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

if ! diff -u dashboard/dist.sha256 <(scripts/ui-manifest.sh) >/dev/null; then
  echo "dashboard/dist is out of date with its sources (or was edited by hand): run scripts/build-ui.sh"
  diff -u dashboard/dist.sha256 <(scripts/ui-manifest.sh) | head -n 20 || true
  status=1
fi

if [ "${1:-}" = "--rebuild" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd dashboard && tar --exclude=./node_modules --exclude=./dist -cf - .) | (cd "$work" && tar -xf -)
  (cd "$work" && npm ci --no-audit --no-fund >/dev/null && npx vite build --logLevel error)
  if ! diff -r "$work/dist" dashboard/dist >/dev/null; then
    echo "a fresh build differs from dashboard/dist: run scripts/build-ui.sh"
    diff -rq "$work/dist" dashboard/dist | head -n 20 || true
    status=1
  fi
fi

# What a browser would fetch: an absolute URL as a script or style source,
# a link target that is preloaded, a module import, a fetch, a CSS url().
remote='(src|href)=\\?["'"'"']?https?://|import\(\s*["'"'"'`]https?://|from\s*["'"'"'`]https?://|import\s*["'"'"'`]https?://|fetch\(\s*["'"'"'`]https?://|url\(\s*["'"'"']?https?://|@import\s+["'"'"']https?://|new WebSocket\(\s*["'"'"'`]wss?://'
if found="$(grep -rEnoI "$remote" dashboard/dist)"; then
  echo "built files refer to other hosts:"
  echo "$found" | cut -c1-200
  status=1
fi

[ "$status" -eq 0 ] && echo "dashboard/dist is up to date and fetches nothing from other hosts"
exit "$status"
