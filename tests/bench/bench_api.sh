#!/usr/bin/env bash
# bench_api.sh — the read path against PostgreSQL itself (issue 15), run by `make bench`.
#
# A temporary stack (PostgreSQL with max_connections 300, Redis, the FastCGI programs,
# lighttpd and Apache) with realistic data: a 1,000-project batch whose cards have
# ~2,000 words in 8 sections, and another user's 500 batches for the list. For each
# endpoint
#   card   GET /api/projects/{id}     list   GET /api/batches (50 newest of 500)
#   batch  GET /api/batches/{id}      me     GET /api/auth/me
# at 2/16/64/256 connections: wrk (Debian package) through lighttpd and Apache, and in
# the same run pgbench -M prepared executing exactly the SQL the endpoint executes
# (captured from PostgreSQL's log of one real request, parameters included) with the
# same number of clients. Printed per point: req/s, p50, p99, errors (non-2xx + socket
# errors), ratio to pgbench, and CPU seconds per 1,000 requests of the program, of
# PostgreSQL and of the web server (utime+stime from /proc/<pid>/stat of each process
# tree; pgbench's -T gets a second more per 16 clients, for the connecting) and the web
# server's context switches per request (all its threads, /proc/<pid>/task/*/status:
# Apache's hand-offs between threads, README "Speed of the read path"). Then: the
# SSE snapshot of the 1,000-project batch (time to the end of the snapshot event at the
# client through each web server; the relay's own read + JSON time from its log; against
# pgbench -M prepared, 1 client, of the snapshot's statement and of every statement a
# stream's start runs, both captured like the endpoints'), the re-download of a stored
# .docx, and the 1,000-row upload with its server-side split (parse, validate, insert,
# answer, from the batches program's log), with the old INSERT ... FROM
# jsonb_array_elements against the COPY the program now uses, on the same rows in psql).
#
# Env: BUILD (default build), DURATION seconds per point (3), CONNS ("2 16 64 256"),
#      ENDPOINTS ("card batch list me"), SERVERS ("lighttpd apache"), EXTRAS (1: also
#      SSE snapshot, export re-download, upload split; 0: skip), KEEP_STATE (1: leave
#      the stack running for perf / EXPLAIN, and print where it is).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD:-build}"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
for tool in wrk pgbench; do
    command -v "$tool" >/dev/null || { echo "bench_api: $tool missing (scripts/deps.sh --test installs it)" >&2; exit 1; }
done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# the SSE snapshot is timed over ~100 streams opened one after another by one user,
# faster than the relay notices each closed one (the default allows 5 at a time)
export KARTOGRAF_EVENTS_MAX_STREAMS_PER_USER=1000

STACK_COMPONENTS="pg"
# shellcheck source=tests/bench/stack.sh
source "$ROOT/tests/bench/stack.sh"
# 256 pgbench clients next to the programs' own connections; every statement logged
# until the SQL of each endpoint is captured (then reset, before anything is timed)
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -AtqX -v ON_ERROR_STOP=1 \
    -c "ALTER SYSTEM SET max_connections = 300" \
    -c "ALTER SYSTEM SET log_min_duration_statement = 0" >/dev/null
"$ROOT/scripts/kgstack" stop "$STATE" pg >/dev/null
stack_start pg redis migrate fcgi lighttpd apache
/usr/bin/python3 "$ROOT/tests/bench/bench_api.py" "$STATE"
