#!/usr/bin/env bash
# Generation worker benchmark (issue 5): 100 projects through a provider that
# answers after a fixed 200 ms (the offline provider with
# [ai] offline_delay_ms = 200), at per-batch concurrency 5 and 50, one worker.
#
# Prints, per concurrency c: wall time from the generate request's COMMIT
# (projects.queued_at) to the batch's completed_at, the ideal
# ceil(100/c) x 3 calls x 0.2 s, their ratio, and CPU time per project
# (utime+stime from /proc) of the worker, of PostgreSQL (the postmaster and
# its backends, the bench's one polling session included) and of Redis.
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

printf '%-12s %10s %10s %8s %14s %14s\n' concurrency "wall (s)" "ideal (s)" ratio "CPU ms/project" "PG / Redis ms"
for c in $CONCURRENCY; do
    start_worker bench-worker KARTOGRAF_WORKER_CONCURRENCY="$c" \
        KARTOGRAF_WORKER_GLOBAL_LIMIT="$((c > 20 ? c : 20))"
    WPID=${WPIDS[0]}
    sleep 1
    BATCH=$(make_batch "$OWNER" "$N")
    cpu0=$(cpu_ticks "$WPID") pg0=$(tree_ticks "$(pg_pid)") rd0=$(tree_ticks "$(redis_pid)")
    generate "$BATCH" "$TOKEN"
    # One session polls (up to 120 s): a new psql every 0.1 s cost PostgreSQL
    # ~25 ms of CPU each, more than the worker's whole batch at c=5.
    psql_ "DO \$\$ BEGIN FOR i IN 1..1200 LOOP
        EXIT WHEN (SELECT completed_at IS NOT NULL FROM batches WHERE id = '$BATCH');
        COMMIT; PERFORM pg_sleep(0.1); END LOOP; END \$\$"
    cpu1=$(cpu_ticks "$WPID") pg1=$(tree_ticks "$(pg_pid)") rd1=$(tree_ticks "$(redis_pid)")
    # Where the time over the ideal goes, from the projects' own timestamps and
    # each ai_calls row (written by the step that handled the answer; the call
    # was sent latency_ms before): printed below the table's line.
    psql_ "COPY (SELECT p.id, extract(epoch FROM p.queued_at), extract(epoch FROM p.started_at),
        extract(epoch FROM p.finished_at), a.stage, extract(epoch FROM a.created_at), a.latency_ms
        FROM projects p JOIN ai_calls a ON a.project_id = p.id WHERE p.batch_id = '$BATCH'
        ORDER BY p.id, a.created_at) TO STDOUT" > "$STATE/timeline-$c.tsv"
    stop_workers
    read -r wall done_ok <<<"$(psql_ "SELECT round(extract(epoch FROM b.completed_at - min(p.queued_at))::numeric, 2),
        count(*) FILTER (WHERE p.status = 'COMPLETED') FROM batches b JOIN projects p ON p.batch_id = b.id
        WHERE b.id = '$BATCH' GROUP BY b.completed_at" | tr '|' ' ')"
    [[ "$done_ok" == "$N" ]] || { echo "only ${done_ok:-0} of $N projects completed"; tail -n 20 "$STATE/log/bench-worker.log"; exit 1; }
    python3 - "$c" "$N" "$wall" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" "$DELAY_MS" \
        $((pg1 - pg0)) $((rd1 - rd0)) <<'PY'
import math, sys
c, n, wall, cpu0, cpu1, hz, delay, pg, rd = sys.argv[1:]
c, n, wall, hz = int(c), int(n), float(wall), int(hz)
ideal = math.ceil(n / c) * 3 * int(delay) / 1000
cpu_ms = (int(cpu1) - int(cpu0)) * 1000 / hz / n
pg_ms, rd_ms = int(pg) * 1000 / hz / n, int(rd) * 1000 / hz / n
print(f"{c:<12} {wall:>10.2f} {ideal:>10.2f} {wall / ideal:>8.2f} {cpu_ms:>14.1f} {pg_ms:>8.1f} / {rd_ms:.1f}")
PY
    python3 - "$c" "$STATE/timeline-$c.tsv" <<'PY'
import csv, statistics, sys
c, path = int(sys.argv[1]), sys.argv[2]
projects = {}
for pid, q, s, f, stage, at, lat in csv.reader(open(path), delimiter="\t"):
    p = projects.setdefault(pid, {"q": float(q), "s": float(s), "f": float(f), "calls": []})
    p["calls"].append((float(at), int(lat) / 1000))
q0 = min(p["q"] for p in projects.values())
ps = sorted(projects.values(), key=lambda p: p["s"])
def line(name, xs):
    xs = sorted(x * 1000 for x in xs)
    print(f"    {name:<44} min {xs[0]:5.0f}  median {statistics.median(xs):5.0f}  max {xs[-1]:5.0f} ms")
# the first round only: later rounds start when earlier projects finish
first = ps[:c]
print(f"  first round of {len(first)} (times after the generate request's COMMIT):")
line("claimed (started_at)", [p["s"] - q0 for p in first])
for i, stage in enumerate(("plan", "draft", "polish")):
    line(f"{stage}: sent -> answer handled", [p["calls"][i][1] for p in first if len(p["calls"]) > i])
    prev = [p["s"] if i == 0 else p["calls"][i - 1][0] for p in first if len(p["calls"]) > i]
    sent = [p["calls"][i][0] - p["calls"][i][1] for p in first if len(p["calls"]) > i]
    line(f"{stage}: previous step -> sent", [b - a for a, b in zip(prev, sent)])
line("finished", [p["f"] - q0 for p in first])
PY
done
