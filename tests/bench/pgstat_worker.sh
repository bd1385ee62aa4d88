#!/usr/bin/env bash
# tests/bench/pgstat_worker.sh - where PostgreSQL's time goes per generated
# project: one batch of bench_worker.sh (100 projects, the offline provider at
# 200 ms a call, one worker) with pg_stat_statements loaded (track = all, so
# the statements inside kg_gen_claim()/kg_gen_step() and their triggers are
# counted on their own) and track_functions = pl. Not run by `make bench`
# (pg_stat_statements costs CPU itself; bench_worker.sh gives the CPU figures):
#
#   BUILD=build tests/bench/pgstat_worker.sh          # concurrency 50
#   BENCH_CONCURRENCY=5 tests/bench/pgstat_worker.sh
#   PGSTAT_ANALYZE=1 ...       # ANALYZE once the batch is made (as autovacuum
#       would have on a database with history; a fresh one has no statistics)
#   PGSTAT_EXPLAIN=plans.log tests/bench/pgstat_worker.sh   # and every plan
#       (auto_explain, nested statements, ANALYZE without timing, buffers)
#
# Prints per project: the top statements by total execution time (calls, ms,
# rows; "top" = called by the client, the others run inside a function or a
# trigger), the PL/pgSQL functions' total/self time, and each table's
# inserts, updates (HOT ones apart), deletes and index scans, and each
# index's scans, during the batch only (the counters are reset after the
# worker has started and the batch is made).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${BENCH_PROJECTS:-100}"
C="${BENCH_CONCURRENCY:-50}"
DELAY_MS=200
STACK_COMPONENTS=""
# shellcheck source=tests/bench/stack.sh
source "$ROOT/tests/bench/stack.sh"
stack_start pg
pg_super() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "${2:-postgres}" -AtqX -v ON_ERROR_STOP=1 -c "$1"; }
if [[ -n "${PGSTAT_EXPLAIN:-}" ]]; then
    pg_super "ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, auto_explain"
    pg_super "ALTER SYSTEM SET log_min_messages = 'log'"
else
    pg_super "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
fi
pg_super "ALTER SYSTEM SET track_functions = 'pl'"
"$ROOT/scripts/kgstack" stop "$STATE" pg >/dev/null
stack_start pg
# the module's own settings are known once it is loaded
pg_super "ALTER SYSTEM SET pg_stat_statements.track = 'all'"
pg_super "ALTER SYSTEM SET pg_stat_statements.track_utility = off"
if [[ -n "${PGSTAT_EXPLAIN:-}" ]]; then
    pg_super "ALTER SYSTEM SET auto_explain.log_min_duration = 0"
    pg_super "ALTER SYSTEM SET auto_explain.log_nested_statements = on"
    pg_super "ALTER SYSTEM SET auto_explain.log_analyze = on"
    pg_super "ALTER SYSTEM SET auto_explain.log_timing = off"
    pg_super "ALTER SYSTEM SET auto_explain.log_buffers = on"
fi
pg_super "SELECT pg_reload_conf()" >/dev/null
stack_start redis migrate fcgi lighttpd
pg_super "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" kartograf
bench_user bench@bench.local
start_worker bench-worker KARTOGRAF_WORKER_CONCURRENCY="$C" \
    KARTOGRAF_WORKER_GLOBAL_LIMIT="$((C > 20 ? C : 20))"
sleep 1
BATCH=$(make_batch "$OWNER" "$N")
[[ -n "${PGSTAT_ANALYZE:-}" ]] && pg_super "ANALYZE" kartograf
pg_super "SELECT pg_stat_statements_reset(); SELECT pg_stat_reset()" kartograf >/dev/null
generate "$BATCH" "$TOKEN"
psql_ "DO \$\$ BEGIN FOR i IN 1..1200 LOOP
    EXIT WHEN (SELECT completed_at IS NOT NULL FROM batches WHERE id = '$BATCH');
    COMMIT; PERFORM pg_sleep(0.1); END LOOP; END \$\$"
stop_workers
if [[ -n "${PGSTAT_EXPLAIN:-}" ]]; then cp "$STATE/log/postgres.log" "$PGSTAT_EXPLAIN"; fi
sleep 1   # the statistics collector's last report (PGSTAT_MIN_INTERVAL)
done_ok=$(psql_ "SELECT count(*) FROM projects WHERE batch_id = '$BATCH' AND status = 'COMPLETED'")
[[ "$done_ok" == "$N" ]] || { echo "only $done_ok of $N projects completed" >&2; exit 1; }
echo "$N projects, concurrency $C; per project:"
pg_super "SELECT sum(total_exec_time) / $N FROM pg_stat_statements WHERE toplevel
    AND query NOT LIKE '%pg_sleep%' AND query NOT LIKE '%pg_stat%'" kartograf |
    awk '{printf "client statements: %.3f ms execution time\n", $1}'
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d kartograf -X -P pager=off -c "
SELECT CASE WHEN toplevel THEN 'top' ELSE '' END AS lvl,
    round((calls::numeric / $N), 2) AS calls,
    round((total_exec_time / $N)::numeric, 3) AS ms,
    round((total_exec_time / greatest(calls, 1))::numeric, 3) AS ms_call,
    round((rows::numeric / $N), 1) AS rows,
    left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
FROM pg_stat_statements
WHERE query NOT LIKE '%pg_sleep%' AND query NOT LIKE '%pg_stat%'
ORDER BY total_exec_time DESC LIMIT ${PGSTAT_TOP:-30}"
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d kartograf -X -P pager=off -c "
SELECT funcname, round(calls::numeric / $N, 2) AS calls,
    round((total_time / $N)::numeric, 3) AS total_ms,
    round((self_time / $N)::numeric, 3) AS self_ms
FROM pg_stat_user_functions ORDER BY total_time DESC"
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d kartograf -X -P pager=off -c "
SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot,
    n_tup_del AS del, seq_scan, idx_scan
FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del + seq_scan
    + coalesce(idx_scan, 0) > 0 ORDER BY relname"
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d kartograf -X -P pager=off -c "
SELECT relname, indexrelname, idx_scan, idx_tup_read
FROM pg_stat_user_indexes ORDER BY relname, indexrelname"
