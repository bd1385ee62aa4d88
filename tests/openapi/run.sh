#!/usr/bin/env bash
# tests/openapi/run.sh — the API document checks (tests/openapi/check.mjs).
#
#   tests/openapi/run.sh DOC [RESPONSES [--require OP,...]]
#
# Installs what is missing: npm @apidevtools/swagger-parser (the OpenAPI 3.1
# validator) and ajv into tests/openapi/node_modules, from package-lock.json.
# Everything runs offline once installed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v node >/dev/null && command -v npm >/dev/null || {
    SUDO=(); [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null ||
        { echo "not ok - openapi setup: node/npm missing and could not be installed"; exit 1; }
}
if [[ ! -d "$HERE/node_modules/@apidevtools/swagger-parser" || ! -d "$HERE/node_modules/ajv-formats" ]]; then
    echo "# installing npm packages into tests/openapi/node_modules"
    (cd "$HERE" && npm ci --no-audit --no-fund --ignore-scripts --silent) ||
        { echo "not ok - openapi setup: npm ci in tests/openapi failed"; exit 1; }
fi
exec node "$HERE/check.mjs" "$@"
