#!/usr/bin/env bash
# scripts/bench.sh — run every benchmark (called by `make bench`).
#
# Each tests/bench/bench_*.sh is run in turn; it sets up what it needs (usually
# its own temporary stack through scripts/kgstack) and prints its figures.
# Env: BUILD (default build). Exit status: non-zero if any benchmark failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD="${BUILD:-build}"
rc=0
shopt -s nullglob
for b in "$ROOT"/tests/bench/bench_*.sh; do
    echo "== $(basename "$b")"
    if ! bash "$b"; then
        echo "benchmark $(basename "$b") FAILED"
        rc=1
    fi
done
exit "$rc"
