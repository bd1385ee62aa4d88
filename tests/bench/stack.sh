# tests/bench/stack.sh - sourced by the worker benchmarks: a temporary stack
# (scripts/kgstack) torn down on exit, the provider chosen by BENCH_PROVIDER
# (offline: the offline provider with [ai] offline_delay_ms = DELAY_MS;
# fake-bedrock: the real bedrock client, SigV4 and all, against the fake LLM
# server answering after DELAY_MS), and small helpers.
#
# Before sourcing: ROOT, DELAY_MS.  After: STATE, PG_PORT, LIGHTTPD_PORT, ...
# (stack.env), PROVIDER_ENV (env assignments for a worker), psql_, cpu_ticks,
# bench_user EMAIL (sets TOKEN and OWNER), make_batch OWNER N (prints the id),
# generate BATCH TOKEN, start_worker LOG ENV... (sets WPIDS).
BUILD="${BUILD:-build}"
export BUILD
PROVIDER="${BENCH_PROVIDER:-offline}"
case "$PROVIDER" in offline|fake-bedrock) ;; *) echo "BENCH_PROVIDER: offline or fake-bedrock" >&2; exit 2 ;; esac
STATE=$(mktemp -d "${TMPDIR:-/tmp}/kartograf-bench.XXXXXX")
WPIDS=()

stack_cleanup() {
    local p pgdata
    for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    "$ROOT/scripts/kgstack" stop "$STATE" all >/dev/null 2>&1 || true
    pgdata=$(sed -n 's/^PGDATA=//p' "$STATE/stack.env" 2>/dev/null || true)
    [[ -n "$pgdata" && "$pgdata" == /var/tmp/kartograf-pg-* ]] && rm -rf "$pgdata"
    rm -rf "$STATE"
}
trap stack_cleanup EXIT

KGSTACK_FAST=1 "$ROOT/scripts/kgstack" init "$STATE" >/dev/null
"$ROOT/scripts/kgstack" start "$STATE" pg redis migrate fcgi lighttpd >/dev/null
PROVIDER_ENV=(KARTOGRAF_AI_PROVIDER=offline KARTOGRAF_AI_OFFLINE_DELAY_MS="$DELAY_MS")
if [[ "$PROVIDER" == fake-bedrock ]]; then
    KGSTACK_FAKE_LATENCY_MS="$DELAY_MS" "$ROOT/scripts/kgstack" start "$STATE" fake >/dev/null
fi
# shellcheck disable=SC1091
source "$STATE/stack.env"
if [[ "$PROVIDER" == fake-bedrock ]]; then
    # the fake's fixed test credentials (tests/fake/fake_llm.py)
    PROVIDER_ENV=(KARTOGRAF_AI_PROVIDER=bedrock KARTOGRAF_AI_PROVIDERS=bedrock
        KARTOGRAF_BEDROCK_ENDPOINT="$FAKE_LLM_URL"
        KARTOGRAF_BEDROCK_ACCESS_KEY_ID=AKIDKARTOGRAFTEST
        KARTOGRAF_BEDROCK_SECRET_ACCESS_KEY='kartograf/fake+secret/EXAMPLEKEY0123456789')
fi
echo "provider: $PROVIDER ($DELAY_MS ms per call)"
export KARTOGRAF_CONFIG="$STATE/kartograf.conf"

psql_() { psql -h 127.0.0.1 -p "$PG_PORT" -U kartograf -d kartograf -AtqX -v ON_ERROR_STOP=1 -c "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

bench_user() {
    printf 'bench-password-2026\n' | "$ROOT/$BUILD/worker/kartograf-admin" adduser "$1" >/dev/null
    TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"bench-password-2026\"}" \
        "http://127.0.0.1:$LIGHTTPD_PORT/api/auth/login" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    OWNER=$(psql_ "SELECT id FROM users WHERE email = '$1'")
}

make_batch() {
    local batch
    batch=$(psql_ "INSERT INTO batches (owner_id, name, row_count) VALUES ('$1', 'bench', $2) RETURNING id" | head -n1)
    psql_ "INSERT INTO projects (batch_id, row_number, name, input) SELECT '$batch', g + 1, 'P' || g,
        jsonb_build_object('name', 'Projekt ' || g, 'organization', 'Fundacja Testowa',
        'description', 'Warsztaty dla mieszkańców', 'target_group', 'mieszkańcy gminy',
        'budget', 50000, 'start_date', '2025-01-01', 'end_date', '2025-06-30')
        FROM generate_series(1, $2) g" >/dev/null
    echo "$batch"
}

generate() {
    local code
    code=$(curl -s -o "$STATE/gen.out" -w "%{http_code}" -X POST -H "Authorization: Bearer $2" --data "" \
        "http://127.0.0.1:$LIGHTTPD_PORT/api/batches/$1/generate")
    [[ "$code" == 202 ]] || { echo "generate answered $code: $(cat "$STATE/gen.out")" >&2; exit 1; }
}

# start_worker LOGNAME [VAR=value ...]: a worker with the provider settings
start_worker() {
    local log="$STATE/log/$1.log"
    shift
    env KARTOGRAF_LOG_LEVEL=warn "${PROVIDER_ENV[@]}" "$@" \
        "$ROOT/$BUILD/worker/kartograf-worker" >>"$log" 2>&1 &
    WPIDS+=($!)
}

stop_workers() {
    local p
    for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    WPIDS=()
}
