# tests/bench/stack.sh - sourced by every benchmark that needs a stack: a
# temporary one (scripts/kgstack) torn down on exit, and small helpers.
#
# Before sourcing: ROOT; optionally
#   STACK_COMPONENTS  what to start (default "pg redis migrate fcgi lighttpd";
#                     "" starts nothing: call stack_start yourself)
#   DELAY_MS          for the worker benchmarks: the provider chosen by
#                     BENCH_PROVIDER (offline: the offline provider with
#                     [ai] offline_delay_ms = DELAY_MS; fake-bedrock: the real
#                     bedrock client, SigV4 and all, against the fake LLM
#                     server answering after DELAY_MS), in PROVIDER_ENV
#   KEEP_STATE=1      leave the stack running at exit, and say where
# After: STATE, PG_PORT, LIGHTTPD_PORT, ... (stack.env), KARTOGRAF_CONFIG,
# BUILD_DIR (absolute), stack_start COMP..., psql_, cpu_ticks,
# bench_user EMAIL [adduser options] (sets TOKEN and OWNER; the password is
# BENCH_PASSWORD), make_batch OWNER N (prints the id), generate BATCH TOKEN,
# start_worker LOG ENV... (sets WPIDS), stop_workers.
BUILD="${BUILD:-build}"
export BUILD
if [[ "$BUILD" = /* ]]; then BUILD_DIR="$BUILD"; else BUILD_DIR="$ROOT/$BUILD"; fi
BENCH_PASSWORD="bench-password-2026"
STATE=$(mktemp -d "${TMPDIR:-/tmp}/kartograf-bench.XXXXXX")
WPIDS=()
PROVIDER_ENV=()

stack_cleanup() {
    local p pgdata
    for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    if [[ "${KEEP_STATE:-0}" == 1 ]]; then echo "stack left running in $STATE"; return; fi
    "$ROOT/scripts/kgstack" stop "$STATE" all >/dev/null 2>&1 || true
    pgdata=$(sed -n 's/^PGDATA=//p' "$STATE/stack.env" 2>/dev/null || true)
    [[ -n "$pgdata" && "$pgdata" == /var/tmp/kartograf-pg-* ]] && rm -rf "$pgdata"
    rm -rf "$STATE"
}
trap stack_cleanup EXIT

# stack_start COMP...: start components, then read the ports they took
stack_start() {
    "$ROOT/scripts/kgstack" start "$STATE" "$@" >/dev/null
    # shellcheck disable=SC1091
    source "$STATE/stack.env"
}

KGSTACK_FAST=1 "$ROOT/scripts/kgstack" init "$STATE" >/dev/null
# shellcheck disable=SC2086
stack_start ${STACK_COMPONENTS-pg redis migrate fcgi lighttpd}
export KARTOGRAF_CONFIG="$STATE/kartograf.conf"
if [[ -n "${DELAY_MS:-}" ]]; then
    PROVIDER="${BENCH_PROVIDER:-offline}"
    case "$PROVIDER" in offline|fake-bedrock) ;; *) echo "BENCH_PROVIDER: offline or fake-bedrock" >&2; exit 2 ;; esac
    PROVIDER_ENV=(KARTOGRAF_AI_PROVIDER=offline KARTOGRAF_AI_OFFLINE_DELAY_MS="$DELAY_MS")
    if [[ "$PROVIDER" == fake-bedrock ]]; then
        KGSTACK_FAKE_LATENCY_MS="$DELAY_MS" stack_start fake
        # the fake's fixed test credentials (tests/fake/fake_llm.py)
        PROVIDER_ENV=(KARTOGRAF_AI_PROVIDER=bedrock KARTOGRAF_AI_PROVIDERS=bedrock
            KARTOGRAF_BEDROCK_ENDPOINT="$FAKE_LLM_URL"
            KARTOGRAF_BEDROCK_ACCESS_KEY_ID=AKIDKARTOGRAFTEST
            KARTOGRAF_BEDROCK_SECRET_ACCESS_KEY='kartograf/fake+secret/EXAMPLEKEY0123456789')
    fi
    echo "provider: $PROVIDER ($DELAY_MS ms per call)"
fi

psql_() { psql -h 127.0.0.1 -p "$PG_PORT" -U kartograf -d kartograf -AtqX -v ON_ERROR_STOP=1 -c "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# tree_ticks PID: CPU ticks of a server and its direct children (PostgreSQL's
# backends): the root's own and reaped children's time, plus every live
# child's, so a backend that exits between two samples is still counted.
tree_ticks() {
    python3 - "$1" <<'PY'
import glob, sys
root, total = sys.argv[1], 0
for f in glob.glob("/proc/[0-9]*/stat"):
    try:
        pid, rest = f.split("/")[2], open(f).read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        continue
    # rest[1] = ppid; rest[11:15] = utime stime cutime cstime
    if pid == root or rest[1] == root:
        total += sum(int(x) for x in rest[11:15])
print(total)
PY
}
pg_pid() { head -n 1 "$PGDATA/postmaster.pid"; }
redis_pid() { cat "$STATE/run/redis.pid"; }

bench_user() {
    printf '%s\n' "$BENCH_PASSWORD" | "$BUILD_DIR/worker/kartograf-admin" adduser "$@" >/dev/null
    TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$BENCH_PASSWORD\"}" \
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
        "$BUILD_DIR/worker/kartograf-worker" >>"$log" 2>&1 &
    WPIDS+=($!)
}

stop_workers() {
    local p
    for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
    WPIDS=()
}
