#!/usr/bin/env bash
# Generation worker benchmark (issue 5): 100 projects through a provider that
# answers after a fixed 200 ms (the offline provider with
# [ai] offline_delay_ms = 200), at per-batch concurrency 5 and 50, one worker.
#
# Prints, per concurrency c: wall time from the generate request's COMMIT
# (projects.queued_at) to the batch's completed_at, the ideal
# ceil(100/c) x 3 calls x 0.2 s, their ratio, and the worker's CPU time
# (utime+stime from /proc) per project.
# Runs against its own temporary stack (scripts/kgstack), torn down at the end.
#
# BENCH_PROVIDER=fake-bedrock runs the same batches through the real bedrock
# provider (SigV4-signed HTTP on the curl multi loop, circuit breaker and cost
# bookkeeping included) against the fake LLM server (tests/fake/fake_llm.py,
# `kgstack start STATE fake`) answering after 200 ms; default: offline.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD:-build}"
export BUILD
N="${BENCH_PROJECTS:-100}"
CONCURRENCY="${BENCH_CONCURRENCY:-5 50}"
DELAY_MS=200
PROVIDER="${BENCH_PROVIDER:-offline}"
case "$PROVIDER" in offline|fake-bedrock) ;; *) echo "BENCH_PROVIDER: offline or fake-bedrock" >&2; exit 2 ;; esac
STATE=$(mktemp -d "${TMPDIR:-/tmp}/kartograf-bench.XXXXXX")
WPID=""

cleanup() {
    [[ -n "$WPID" ]] && kill "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null
    "$ROOT/scripts/kgstack" stop "$STATE" all >/dev/null 2>&1 || true
    local pgdata
    pgdata=$(sed -n 's/^PGDATA=//p' "$STATE/stack.env" 2>/dev/null || true)
    [[ -n "$pgdata" && "$pgdata" == /var/tmp/kartograf-pg-* ]] && rm -rf "$pgdata"
    rm -rf "$STATE"
}
trap cleanup EXIT

KGSTACK_FAST=1 "$ROOT/scripts/kgstack" init "$STATE" >/dev/null
"$ROOT/scripts/kgstack" start "$STATE" pg redis migrate fcgi lighttpd >/dev/null
PROVIDER_ENV=(KARTOGRAF_AI_PROVIDER=offline)
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
psql_() { psql -h 127.0.0.1 -p "$PG_PORT" -U kartograf -d kartograf -AtqX -v ON_ERROR_STOP=1 -c "$1"; }
export KARTOGRAF_CONFIG="$STATE/kartograf.conf"

printf 'bench1234\n' | "$ROOT/$BUILD/worker/kartograf-admin" adduser bench@bench.local >/dev/null
TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' \
    -d '{"email":"bench@bench.local","password":"bench1234"}' \
    "http://127.0.0.1:$LIGHTTPD_PORT/api/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
OWNER=$(psql_ "SELECT id FROM users WHERE email = 'bench@bench.local'")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

printf '%-12s %10s %10s %8s %14s\n' concurrency "wall (s)" "ideal (s)" ratio "CPU ms/project"
for c in $CONCURRENCY; do
    env KARTOGRAF_WORKER_CONCURRENCY="$c" KARTOGRAF_WORKER_GLOBAL_LIMIT="$((c > 20 ? c : 20))" \
        KARTOGRAF_AI_OFFLINE_DELAY_MS="$DELAY_MS" KARTOGRAF_LOG_LEVEL=warn "${PROVIDER_ENV[@]}" \
        "$ROOT/$BUILD/worker/kartograf-worker" >>"$STATE/log/bench-worker.log" 2>&1 &
    WPID=$!
    sleep 1
    BATCH=$(psql_ "INSERT INTO batches (owner_id, name, row_count) VALUES ('$OWNER', 'bench', $N) RETURNING id" | head -n1)
    psql_ "INSERT INTO projects (batch_id, row_number, name, input) SELECT '$BATCH', g + 1, 'P' || g,
        jsonb_build_object('name', 'Projekt ' || g, 'organization', 'Fundacja Testowa',
        'description', 'Warsztaty dla mieszkańców', 'target_group', 'mieszkańcy gminy',
        'budget', 50000, 'start_date', '2025-01-01', 'end_date', '2025-06-30')
        FROM generate_series(1, $N) g" >/dev/null
    cpu0=$(cpu_ticks "$WPID")
    code=$(curl -s -o "$STATE/gen.out" -w "%{http_code}" -X POST -H "Authorization: Bearer $TOKEN" --data "" \
        "http://127.0.0.1:$LIGHTTPD_PORT/api/batches/$BATCH/generate")
    [[ "$code" == 202 ]] || { echo "generate answered $code: $(cat "$STATE/gen.out")"; exit 1; }
    for ((i = 0; i < 1200; i++)); do
        [[ "$(psql_ "SELECT completed_at IS NOT NULL FROM batches WHERE id = '$BATCH'")" == t ]] && break
        sleep 0.1
    done
    cpu1=$(cpu_ticks "$WPID")
    kill "$WPID"; wait "$WPID" || true; WPID=""
    read -r wall done_ok <<<"$(psql_ "SELECT round(extract(epoch FROM b.completed_at - min(p.queued_at))::numeric, 2),
        count(*) FILTER (WHERE p.status = 'COMPLETED') FROM batches b JOIN projects p ON p.batch_id = b.id
        WHERE b.id = '$BATCH' GROUP BY b.completed_at" | tr '|' ' ')"
    [[ "$done_ok" == "$N" ]] || { echo "only ${done_ok:-0} of $N projects completed"; tail -n 20 "$STATE/log/bench-worker.log"; exit 1; }
    python3 - "$c" "$N" "$wall" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" "$DELAY_MS" <<'PY'
import math, sys
c, n, wall, cpu0, cpu1, hz, delay = sys.argv[1:]
c, n, wall, hz = int(c), int(n), float(wall), int(hz)
ideal = math.ceil(n / c) * 3 * int(delay) / 1000
cpu_ms = (int(cpu1) - int(cpu0)) * 1000 / hz / n
print(f"{c:<12} {wall:>10.2f} {ideal:>10.2f} {wall / ideal:>8.2f} {cpu_ms:>14.1f}")
PY
done
