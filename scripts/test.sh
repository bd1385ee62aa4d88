#!/usr/bin/env bash
# scripts/test.sh — Kartograf test suite (called by `make test` after building).
#
#   BUILD=build-asan scripts/test.sh [-k SUBSTRING[,SUBSTRING...]]
#
# 1. unit tests: every $BUILD/tests/unit/test_* binary, cmocka TAP output counted
#    (a binary that crashes, times out or prints no TAP counts as a failure);
# 2. integration tests: a complete stack (PostgreSQL, Redis, FastCGI programs, worker,
#    lighttpd AND Apache httpd) on free loopback ports in a temporary directory,
#    tests/integration/run.py against it; always torn down and removed afterwards;
# 3. no-secrets check: no token or test password in any access or program log;
# 4. sanitizer check: every program log that holds an AddressSanitizer/LeakSanitizer/
#    UBSan report counts as one failed test.
# The last line is "N passed, N failed"; the exit status is non-zero if any failed.
# Env: BUILD (default build-asan), KEEP_STATE=1 keeps the temporary stack directory
# for inspection (stopped), UNIT_TIMEOUT (s, default 120), IT_TIMEOUT (s, default 2400).
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kg_build build-asan
UNIT_TIMEOUT="${UNIT_TIMEOUT:-120}"
IT_TIMEOUT="${IT_TIMEOUT:-2400}"
PATTERN=""
if [[ "${1:-}" == "-k" && -n "${2:-}" ]]; then PATTERN="$2"; fi

# ASan/UBSan: reports into the programs' logs (stderr), leak check at exit
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-print_suppressions=0}"

PASSED=0
FAILED=0
FAILED_NAMES=()
STATE=""

fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$STATE" && -d "$STATE" ]]; then
        timeout 120 "$ROOT/scripts/kgstack" stop "$STATE" all >/dev/null 2>&1 || true
        if [[ "${KEEP_STATE:-0}" == 1 ]]; then
            echo "test.sh: state kept in $STATE"
        else
            local pgdata
            pgdata=$(sed -n 's/^PGDATA=//p' "$STATE/stack.env" 2>/dev/null || true)
            [[ -n "$pgdata" && "$pgdata" != "$STATE/pg" && "$pgdata" == /var/tmp/kartograf-pg-* ]] && rm -rf "$pgdata"
            rm -rf "$STATE"
        fi
    fi
    exit "$rc"
}
CHILD=""
on_signal() {
    echo "test.sh: interrupted, tearing down" >&2
    [[ -n "$CHILD" ]] && kill -TERM "$CHILD" 2>/dev/null
    exit 130
}
trap cleanup EXIT
trap on_signal INT TERM

# run a step in the background and wait for it, so that Ctrl-C/SIGTERM is acted on
# at once (a trap only runs after a foreground command ends)
step() {
    local rc=0
    "$@" &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=""
    return "$rc"
}

# ------------------------------------------------------------------ unit tests
echo "== unit tests ($BUILD/tests/unit)"
# real-world .xlsx files from every writer this machine has (openpyxl from
# deps.sh, SheetJS from npm when the registry answers) for test_xlsx
export KG_FIXTURES="$BUILD_DIR/fixtures"
if timeout 300 "$ROOT/tests/fixtures/make_fixtures.sh" "$KG_FIXTURES"; then
    PASSED=$((PASSED + 1))
else
    echo "not ok - tests/fixtures/make_fixtures.sh: a writer that is installed failed"
    fail "fixtures"
fi
shopt -s nullglob
units=("$BUILD_DIR"/tests/unit/test_*)
if ((${#units[@]} == 0)); then
    echo "not ok - no unit test binaries in $BUILD/tests/unit"
    fail "unit: none found"
fi
for t in "${units[@]}"; do
    [[ -x "$t" && -f "$t" ]] || continue
    name=$(basename "$t")
    out=$(mktemp)
    set +e
    CMOCKA_MESSAGE_OUTPUT=TAP step timeout -k 5 "$UNIT_TIMEOUT" "$t" >"$out" 2>&1
    rc=$?
    set -e
    ok=$(grep -cE '^ok [0-9]+' "$out" || true)
    nok=$(grep -cE '^not ok [0-9]+' "$out" || true)
    PASSED=$((PASSED + ok))
    FAILED=$((FAILED + nok))
    if ((nok > 0)); then FAILED_NAMES+=("unit: $name ($nok)"); fi
    bad=""
    if ((ok + nok == 0)); then bad="printed no TAP results"; fi
    if ((rc != 0 && nok == 0)); then bad="${bad:+$bad, }exit status $rc"; fi
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$out"; then
        bad="${bad:+$bad, }sanitizer report"
    fi
    if [[ -n "$bad" ]]; then
        echo "not ok - unit $name: $bad"
        fail "unit: $name ($bad)"
    fi
    if [[ -n "$bad" || $nok -gt 0 ]]; then
        echo "---- output of $name ----"; tail -n 60 "$out"; echo "----"
    else
        echo "ok - unit $name ($ok tests)"
    fi
    rm -f "$out"
done

# ------------------------------------------------------------------ browser
# The Playwright suite (tests/e2e) drives Debian's Chromium against the
# running stack: lighttpd in full, Apache as a smoke run, the shared host's
# plain-CGI site in full and its mod_fcgid site as a smoke.  Screenshots go
# to $E2E_ARTIFACTS (default build-asan/e2e-artifacts).
run_e2e() {
    local out="$STATE/e2e-output" p f
    echo "== browser e2e tests (tests/e2e)"
    # a fresh throttle window: the integration tests made failed logins
    redis-cli -p "$(sed -n 's/^REDIS_PORT=//p' "$STATE/stack.env")" \
        --scan --pattern 'kg:login:*' 2>/dev/null |
        xargs -r redis-cli -p "$(sed -n 's/^REDIS_PORT=//p' "$STATE/stack.env")" DEL >/dev/null 2>&1 || true
    set +e
    step timeout -k 10 900 env BUILD="$BUILD" \
        E2E_ARTIFACTS="${E2E_ARTIFACTS:-$BUILD_DIR/e2e-artifacts}" \
        "$ROOT/tests/e2e/run.sh" "$STATE" 2>&1 | tee "$out"
    set -e
    if grep -q '^SHARED_CGI_PORT=' "$STATE/stack.env"; then
        echo "== browser e2e tests through the shared host's plain-CGI site"
        set +e
        step timeout -k 10 900 env BUILD="$BUILD" E2E_SHARED=1 \
            E2E_ARTIFACTS="${E2E_ARTIFACTS:-$BUILD_DIR/e2e-artifacts}/shared" \
            "$ROOT/tests/e2e/run.sh" "$STATE" 2>&1 | tee -a "$out"
        set -e
    fi
    if grep -q '^SHARED_FCGID_PORT=' "$STATE/stack.env"; then
        # a smoke only (login, upload, cron worker, polling, downloads): the
        # whole suite again would cost minutes for little more
        echo "== browser e2e smoke through the shared host's mod_fcgid site"
        set +e
        step timeout -k 10 600 env BUILD="$BUILD" E2E_SHARED=fcgid \
            E2E_ARTIFACTS="${E2E_ARTIFACTS:-$BUILD_DIR/e2e-artifacts}/shared-fcgid" \
            "$ROOT/tests/e2e/run.sh" "$STATE" 2>&1 | tee -a "$out"
        set -e
    fi
    read -r p f < <(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | awk '{p += $1; f += $2} END {if (NR) print p, f}')
    if [[ -n "${p:-}" ]]; then
        PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
        ((f > 0)) && FAILED_NAMES+=("e2e ($f)")
    else
        echo "not ok - e2e runner printed no result"; fail "e2e: runner"
    fi
    return 0
}

# ------------------------------------------------------------------ integration
echo "== integration tests (lighttpd + Apache, BUILD=$BUILD)"
STATE=$(mktemp -d "${TMPDIR:-/tmp}/kartograf-test.XXXXXX")
stack_ok=1
# The shared-host Apache (test_shared_host) installs the portable bundle: build it
# (incremental) when those tests run; otherwise leave that component out.
if [[ -z "$PATTERN" || "test_shared_host" == *"$PATTERN"* || "$PATTERN" == *shared* ]]; then
    step make -s -C "$ROOT" bundle || { echo "not ok - make bundle failed"; fail "bundle"; }
else
    export KGSTACK_NO_SHARED=1
fi
if ! step env KGSTACK_FAST=1 timeout 180 "$ROOT/scripts/kgstack" init "$STATE"; then
    echo "not ok - stack init failed"; fail "stack: init"; stack_ok=0
elif ! step timeout 300 "$ROOT/scripts/kgstack" start "$STATE" all; then
    echo "not ok - stack start failed"; fail "stack: start"; stack_ok=0
fi
if ((stack_ok)); then
    result="$STATE/it-result"
    set +e
    args=(--state "$STATE" --build "$BUILD" --result "$result")
    [[ -n "$PATTERN" ]] && args+=(-k "$PATTERN")
    step timeout -k 10 "$IT_TIMEOUT" /usr/bin/python3 "$ROOT/tests/integration/run.py" "${args[@]}"
    rc=$?
    set -e
    if [[ -s "$result" ]]; then
        read -r p f <"$result"
        PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
        ((f > 0)) && FAILED_NAMES+=("integration ($f)")
    else
        echo "not ok - integration runner ended without a result (exit status $rc)"
        fail "integration: runner (exit $rc)"
    fi
    if [[ -s "$STATE/responses.jsonl" ]]; then
        # every answer the integration tests got, against the API document
        echo "== API answers against the document (tests/openapi)"
        if step timeout -k 10 600 "$ROOT/tests/openapi/run.sh" "$BUILD_DIR/openapi.json" \
            "$STATE/responses.jsonl"; then
            PASSED=$((PASSED + 1))
        else
            fail "openapi: answers that do not match build/openapi.json"
        fi
    fi
    if [[ -z "$PATTERN" || "e2e" == *"$PATTERN"* ]]; then
        run_e2e
    fi
fi
if [[ -f "$STATE/stack.env" ]]; then
    # stop everything so that sanitizers write their exit (leak) reports
    "$ROOT/scripts/kgstack" stop "$STATE" all >/dev/null 2>&1 || {
        echo "not ok - stack stop failed"; fail "stack: stop"; }
fi

# ------------------------------------------------------------------ no secrets in logs
# Every access log of both servers and every program log (the stack's and the
# installed layout's, tests/integration/test_install.py) must hold no token (JWT)
# and no password the tests used: the event stream's ?token= must not be logged.
check_no_secrets() {
    local logs=() pwds=() f hits=0 p
    for f in "$STATE"/log/*.log "$STATE"/inst/var/log/kartograf/*.log*; do
        [[ -f "$f" ]] && logs+=("$f")
    done
    mapfile -t pwds < <(sed -n 's/^ *PASSWORD *= *"\(.*\)"$/\1/p' "$ROOT"/tests/integration/*.py | sort -u)
    if [[ ! -s "$STATE/log/apache-access.log" || ! -s "$STATE/log/lighttpd-access.log" ]] ||
        ((${#pwds[@]} == 0)); then
        echo "not ok - no-secrets check: access logs or test passwords missing"
        fail "secrets: nothing to check"; return
    fi
    if grep -HnoE 'eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|e2e-[0-9a-f]{24}' "${logs[@]}" |
        cut -c1-160 | head -n 5 | grep .; then
        hits=1
    fi
    for p in "${pwds[@]}"; do
        grep -lF -- "$p" "${logs[@]}" && hits=1
    done
    if ((hits)); then
        echo "not ok - a token or password in the logs above"; fail "secrets in logs"
    else
        echo "ok - no token or password in ${#logs[@]} logs"; PASSED=$((PASSED + 1))
    fi
}
if ((stack_ok)); then check_no_secrets; fi

# ------------------------------------------------------------------ sanitizer reports
echo "== sanitizer reports in program logs"
for logf in "$STATE"/log/*.log; do
    if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$logf"; then
        echo "not ok - sanitizer report in log/$(basename "$logf")"
        fail "sanitizer: $(basename "$logf")"
        grep -nE -A25 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$logf" | head -n 80
    else
        PASSED=$((PASSED + 1))
    fi
done

# ------------------------------------------------------------------ diagnosis
if ((FAILED > 0)) && [[ -d "$STATE/log" ]]; then
    echo "== log tails (for diagnosis)"
    for logf in "$STATE"/log/*.log; do
        [[ -s "$logf" ]] || continue
        echo "---- $(basename "$logf") (last 20 lines) ----"
        tail -n 20 "$logf"
    done
    echo "== failed: ${FAILED_NAMES[*]}"
fi

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
