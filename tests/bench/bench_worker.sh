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
N="${BENCH_PROJECTS:-100}"
CONCURRENCY="${BENCH_CONCURRENCY:-5 50}"
DELAY_MS=200
# shellcheck source=tests/bench/stack.sh
source "$ROOT/tests/bench/stack.sh"
bench_user bench@bench.local

printf '%-12s %10s %10s %8s %14s\n' concurrency "wall (s)" "ideal (s)" ratio "CPU ms/project"
for c in $CONCURRENCY; do
    start_worker bench-worker KARTOGRAF_WORKER_CONCURRENCY="$c" \
        KARTOGRAF_WORKER_GLOBAL_LIMIT="$((c > 20 ? c : 20))"
    WPID=${WPIDS[0]}
    sleep 1
    BATCH=$(make_batch "$OWNER" "$N")
    cpu0=$(cpu_ticks "$WPID")
    generate "$BATCH" "$TOKEN"
    for ((i = 0; i < 1200; i++)); do
        [[ "$(psql_ "SELECT completed_at IS NOT NULL FROM batches WHERE id = '$BATCH'")" == t ]] && break
        sleep 0.1
    done
    cpu1=$(cpu_ticks "$WPID")
    stop_workers
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
