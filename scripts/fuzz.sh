#!/usr/bin/env bash
# scripts/fuzz.sh - build and run libFuzzer targets (called by `make fuzz`).
#
#   scripts/fuzz.sh [tests/fuzz/fuzz_NAME.c ...]    (default: all of them)
#
# Each target is linked with all of lib/ under ASan + UBSan into
# build/fuzz/NAME and run for FUZZ_SECONDS (default 60) from its committed
# seed corpus tests/fuzz/corpus/NAME/.  New inputs go to build/fuzz/corpus/
# NAME (the committed seeds are never written to), crashes to
# build/fuzz/NAME-crash-*.  Exit status is non-zero if any target found a
# crash.  Needs clang with libFuzzer (Debian: clang).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLANG="${CLANG:-clang}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
PKGS="libpq hiredis libcurl libcjson libzip libjwt openssl expat xlsxwriter inih libargon2"
OUT=build/fuzz
mkdir -p "$OUT"

if [ "$#" -eq 0 ]; then
    set -- tests/fuzz/fuzz_*.c
fi
command -v "$CLANG" >/dev/null || { echo "fuzz.sh: $CLANG not found (apt-get install clang)" >&2; exit 1; }

# shellcheck disable=SC2046
CFLAGS=(-g -O1 -std=c11 -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer
        -Ilib -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -DKG_VERSION='"fuzz"')

status=0
for src in "$@"; do
    name="$(basename "$src" .c)"
    echo "== $name: build"
    # shellcheck disable=SC2046
    "$CLANG" "${CFLAGS[@]}" $(pkg-config --cflags $PKGS) lib/*.c "$src" \
        $(pkg-config --libs $PKGS) -lfcgi -lpthread -lm -o "$OUT/$name"
    mkdir -p "$OUT/corpus/$name" "tests/fuzz/corpus/$name"
    echo "== $name: run ${SECONDS_EACH}s"
    if ! "$OUT/$name" "$OUT/corpus/$name" "tests/fuzz/corpus/$name" \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/$name-" -print_final_stats=1 \
        > "$OUT/$name.log" 2>&1; then
        echo "== $name: FAILED, see $OUT/$name.log"
        tail -n 40 "$OUT/$name.log"
        status=1
    else
        grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|DONE" "$OUT/$name.log" || true
        echo "== $name: ok"
    fi
done
exit "$status"
