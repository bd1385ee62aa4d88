#!/usr/bin/env bash
# bench_jwt.sh — CPU per token check (issue 15), run by `make bench`: libjwt's
# jwt_decode plus the claim reads kg_auth used to do, against kg_jwt_verify,
# on one token issued by libjwt (tests/bench/bench_jwt.c), with their ratio.
# Env: BUILD (default build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD:-build}"
[[ "$BUILD" = /* ]] && BIN="$BUILD/tests/bench/bench_jwt" || BIN="$ROOT/$BUILD/tests/bench/bench_jwt"
make -C "$ROOT" --no-print-directory B="$BUILD" "$BUILD/tests/bench/bench_jwt" >/dev/null
out="$("$BIN")"
echo "$out"
awk '/libjwt/ {a = $(NF - 3)} /kg_jwt_verify/ {b = $(NF - 3)}
     END {if (a && b) printf "  ratio libjwt / kg_jwt_verify = %.1f×\n", a / b}' <<<"$out"
