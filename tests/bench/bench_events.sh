#!/usr/bin/env bash
# bench_events.sh — SSE relay benchmark (issue 7), run by `make bench`.
#
# A temporary stack (PostgreSQL, Redis, the FastCGI programs, lighttpd and
# Apache; no worker) on loopback; build/tests/bench/sse_load opens many event
# streams of one batch through a web server, publishes events exactly as the
# worker does and prints publish->receipt latency (p50/p99), the relay's RSS and
# how many subscribers held with no error.
#
# Env: BUILD (default build), LIGHTTPD_CLIENTS (1000), APACHE_CLIENTS (200),
#      EVENTS (100 per run), INTERVAL_MS (20), MAX_STREAMS per relay process (700;
#      apache/routes runs 2 processes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOAD="${BUILD:-build}/tests/bench/sse_load"
[[ "$LOAD" = /* ]] || LOAD="$ROOT/$LOAD"
LIGHTTPD_CLIENTS="${LIGHTTPD_CLIENTS:-1000}"
APACHE_CLIENTS="${APACHE_CLIENTS:-200}"
EVENTS="${EVENTS:-100}"
INTERVAL_MS="${INTERVAL_MS:-20}"
export KARTOGRAF_EVENTS_MAX_STREAMS="${MAX_STREAMS:-700}"

make -C "$ROOT" --no-print-directory B="${BUILD:-build}" "${BUILD:-build}/tests/bench/sse_load" >/dev/null
[[ -x "$LOAD" ]] || { echo "bench_events: $LOAD missing (make bench builds it)" >&2; exit 1; }
# every stream is a socket here, two at the web server and one in the relay
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -n) < 4 * LIGHTTPD_CLIENTS )); then
    ulimit -n $((4 * LIGHTTPD_CLIENTS + 1024)) 2>/dev/null ||
        echo "bench_events: warning: open files limit $(ulimit -n) may be too low" >&2
fi

STACK_COMPONENTS="pg redis migrate fcgi lighttpd apache"
# shellcheck source=tests/bench/stack.sh
source "$ROOT/tests/bench/stack.sh"
email="bench-$$@test.local"
bench_user "$email"
token=$TOKEN
# only the relay processes of this stack (children of its fcgi-multi)
top=$(head -n1 "$STATE/run/fcgi-events.pid")
pids=$(pgrep -d, -P "$top" || echo "$top")

new_batch() {
    psql_ "
        WITH b AS (INSERT INTO batches (owner_id, name, row_count, status)
                   SELECT id, 'bench', 5, 'GENERATING' FROM users WHERE email = '$email' RETURNING id),
             p AS (INSERT INTO projects (batch_id, row_number, name, input)
                   SELECT b.id, g + 1, 'Projekt ' || g, '{}'::jsonb FROM b, generate_series(1, 5) g)
        SELECT id FROM b" | head -n1
}

rc=0
echo "SSE relay benchmark: $EVENTS events every ${INTERVAL_MS} ms, relay = 2 processes x $KARTOGRAF_EVENTS_MAX_STREAMS threads"
echo "lighttpd, $LIGHTTPD_CLIENTS subscribers:"
"$LOAD" "$LIGHTTPD_PORT" "$(new_batch)" "$token" "$LIGHTTPD_CLIENTS" "$EVENTS" "$INTERVAL_MS" "$pids" || rc=1
echo "apache, $APACHE_CLIENTS subscribers:"
"$LOAD" "$APACHE_PORT" "$(new_batch)" "$token" "$APACHE_CLIENTS" "$EVENTS" "$INTERVAL_MS" "$pids" || rc=1
exit "$rc"
