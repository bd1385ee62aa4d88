#!/usr/bin/env bash
# scripts/fuzz.sh - build and run libFuzzer targets (called by `make fuzz`).
#
#   scripts/fuzz.sh [tests/fuzz/fuzz_NAME.c ...]    (default: all of them)
#
# Each target is linked with lib/ under ASan + UBSan into
# build/fuzz/NAME and run for FUZZ_SECONDS (default 60) from its committed
# seed corpus tests/fuzz/corpus/NAME/.  New inputs go to build/fuzz/corpus/
# NAME (the committed seeds are never written to), crashes to
# build/fuzz/NAME-crash-*.  Exit status is non-zero if any target found a
# crash.  A dictionary tests/fuzz/NAME.dict is passed with -dict= when it
# exists.  Needs clang with libFuzzer (Debian: clang).
#
# Targets: fuzz_xlsx (whole .xlsx files), fuzz_xlsx_sheet (one worksheet or
# shared-strings XML part wrapped into a valid workbook, so mutations
# reach the XML handlers), fuzz_xlsx_scan (such parts read by kg_xmlscan
# and by expat alone, which must agree), fuzz_csv (CSV files), fuzz_jwt
# (tokens: as sent, and signed by the target so mutations pass the HMAC),
# fuzz_multipart (upload bodies, fed in chunks of every size).  An
# executable tests/fuzz/NAME.seeds DIR adds seeds made from files kept
# elsewhere (fuzz_xlsx_scan's: the real-world corpus) to DIR.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CLANG="${CLANG:-clang}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
PKGS="libpq hiredis libcurl libcjson libzip libjwt openssl expat xlsxwriter inih libargon2"
OUT=build/fuzz
mkdir -p "$OUT"

if [ "$#" -eq 0 ]; then
    set -- tests/fuzz/fuzz_*.c
fi
command -v "$CLANG" >/dev/null || { echo "fuzz.sh: $CLANG not found (apt-get install clang)" >&2; exit 1; }

# lib/ is compiled once (instrumented, fuzzer-no-link) into an archive the
# targets link against, so a target pulls in only the modules it uses.  A
# lib file that does not compile (someone's work in progress) is skipped
# with a warning; if a target needed it, its link fails and says so.
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined
     -fno-omit-frame-pointer)
CFLAGS=(-g -O1 -std=c11 "${SAN[@]}"
        -Ilib -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -DKG_VERSION='"fuzz"')
# shellcheck disable=SC2086
PKG_CFLAGS=$(pkg-config --cflags $PKGS)
# shellcheck disable=SC2086
PKG_LIBS=$(pkg-config --libs $PKGS)

echo "== lib: build"
mkdir -p "$OUT/lib"
rm -f "$OUT/lib/"*.o "$OUT/libkartograf-fuzz.a"
for c in lib/*.c; do
    o="$OUT/lib/$(basename "$c" .c).o"
    # shellcheck disable=SC2086
    if ! "$CLANG" "${CFLAGS[@]}" -fsanitize=fuzzer-no-link $PKG_CFLAGS \
        -c "$c" -o "$o" 2> "$o.log"; then
        echo "== lib: WARNING: $c does not compile, left out (see $o.log)"
        rm -f "$o"
    fi
done
ar rcs "$OUT/libkartograf-fuzz.a" "$OUT/lib/"*.o

status=0
for src in "$@"; do
    name="$(basename "$src" .c)"
    echo "== $name: build"
    # shellcheck disable=SC2086
    "$CLANG" "${CFLAGS[@]}" -fsanitize=fuzzer $PKG_CFLAGS "$src" \
        "$OUT/libkartograf-fuzz.a" $PKG_LIBS -lfcgi -lpthread -lm -o "$OUT/$name"
    mkdir -p "$OUT/corpus/$name" "tests/fuzz/corpus/$name"
    # seeds made from files kept elsewhere (tests/fuzz/NAME.seeds DIR)
    if [ -x "tests/fuzz/$name.seeds" ]; then
        "tests/fuzz/$name.seeds" "$OUT/corpus/$name"
    fi
    dict=()
    [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
    echo "== $name: run ${SECONDS_EACH}s"
    if ! "$OUT/$name" "$OUT/corpus/$name" "tests/fuzz/corpus/$name" "${dict[@]}" \
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
