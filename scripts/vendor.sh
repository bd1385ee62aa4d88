#!/usr/bin/env bash
# scripts/vendor.sh — refresh the vendored browser libraries in htdocs/vendor/.
#
#   scripts/vendor.sh            (needs npm; writes htdocs/vendor/, nothing else)
#
# htdocs/ is served as static files with no build step on the host (DESIGN.md), so
# the one third-party browser library, SheetJS (npm package "xlsx", used by the
# upload page to preview and pre-check a spreadsheet), is COMMITTED in
# htdocs/vendor/. This script is only for a developer who wants to update it:
# it installs the pinned version into a temporary directory and copies the
# standalone build (global XLSX, no eval, works under script-src 'self') and its
# licence. Commit the result.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${XLSX_VERSION:-0.18.5}"
command -v npm >/dev/null || { echo "vendor.sh: npm not found (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kg-vendor.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null &&
    npm install --silent --no-audit --no-fund --ignore-scripts "xlsx@$VERSION" >/dev/null)
src="$tmp/node_modules/xlsx"
dst="$ROOT/htdocs/vendor"
mkdir -p "$dst"
cp "$src/dist/xlsx.full.min.js" "$dst/xlsx.full.min.js"
cp "$src/LICENSE" "$dst/xlsx.LICENSE.txt"
# the UI must not need 'unsafe-eval'
if grep -qE 'new Function|[^a-zA-Z_.]eval\(' "$dst/xlsx.full.min.js"; then
    echo "vendor.sh: warning: xlsx.full.min.js uses eval/new Function (blocked by the CSP)" >&2
fi
echo "vendor.sh: htdocs/vendor/xlsx.full.min.js = xlsx@$VERSION ($(wc -c <"$dst/xlsx.full.min.js") bytes)"
