#!/usr/bin/env bash
# Fair scheduling benchmark (issue 21): two users, batches of 300, 300 and 20
# projects submitted in that order, [worker] concurrency 5 and global_limit
# 20, every call answered after a fixed 200 ms by the fake LLM server through
# the real bedrock client (BENCH_PROVIDER=offline: the offline provider).
#
# Runs: the 20-project batch alone (its reference time), then the three
# batches with one worker, then with two worker processes.  Prints per run
# each batch's time from its generate request to batch.completed, the small
# batch's slowdown against running alone (goal <= 1.2), and slot
# utilisation: slot-seconds in use / slot-seconds that could have been in
# use, where at each moment the usable slots are
#   min(workers x global_limit, sum over batches of min(concurrency, the
#       batch's projects queued and not yet finished))
# from the projects' queued_at / started_at / finished_at (goal >= 0.95).
# Sizes: BENCH_BIG (300), BENCH_SMALL (20).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIG="${BENCH_BIG:-300}"
SMALL="${BENCH_SMALL:-20}"
DELAY_MS=200
export BENCH_PROVIDER="${BENCH_PROVIDER:-fake-bedrock}"
# shellcheck source=tests/bench/stack.sh
source "$ROOT/tests/bench/stack.sh"
bench_user anna@bench.local
TOKEN_A=$TOKEN OWNER_A=$OWNER
bench_user bartek@bench.local
TOKEN_B=$TOKEN OWNER_B=$OWNER
WORKER_ENV=(KARTOGRAF_WORKER_CONCURRENCY=5 KARTOGRAF_WORKER_GLOBAL_LIMIT=20)

wait_batches() {
    local b i
    for b in "$@"; do
        for ((i = 0; i < 6000; i++)); do
            [[ "$(psql_ "SELECT completed_at IS NOT NULL FROM batches WHERE id = '$b'")" == t ]] && break
            sleep 0.1
        done
    done
}

# report LABEL WORKERS ALONE_SECONDS BATCH...: figures of one run
report() {
    local label=$1 workers=$2 alone=$3
    shift 3
    psql_ "SELECT batch_id, extract(epoch FROM queued_at), extract(epoch FROM started_at),
           extract(epoch FROM finished_at), status FROM projects
           WHERE batch_id IN ($(printf "'%s'," "$@" | sed 's/,$//'))" >"$STATE/rows"
    python3 - "$label" "$workers" "$alone" "$STATE/rows" "$@" <<'PY'
import sys
label, workers, alone, path, *batches = sys.argv[1:]
G, C = 20 * int(workers), 5
rows = [l.strip().split("|") for l in open(path) if l.strip()]
p = [(b, float(q), float(s), float(f)) for b, q, s, f, st in rows if st == "COMPLETED"]
if len(p) != len(rows):
    sys.exit(f"{label}: {len(rows) - len(p)} projects did not complete")
t0, t1 = min(x[1] for x in p), max(x[3] for x in p)
used = usable = 0.0
step, t = 0.05, t0
while t < t1:
    used += sum(1 for x in p if x[2] <= t < x[3]) * step
    usable += min(G, sum(min(C, sum(1 for x in p if x[0] == b and x[1] <= t < x[3])) for b in batches)) * step
    t += step
print(f"{label}: {len(p)} projects, slot utilisation {used / usable:.3f} "
      f"({used:.0f} of {usable:.0f} usable slot-s)")
for i, b in enumerate(batches):
    mine = [x for x in p if x[0] == b]
    took = max(x[3] for x in mine) - min(x[1] for x in mine)
    # the last batch is the small one, also run alone before
    extra = f", {took / float(alone):.2f}x its time alone" if i == len(batches) - 1 else ""
    print(f"  batch {i + 1} ({len(mine)} projects): {took:.1f} s{extra}")
PY
}

start_worker alone "${WORKER_ENV[@]}"
sleep 1
S0=$(make_batch "$OWNER_B" "$SMALL")
generate "$S0" "$TOKEN_B"
wait_batches "$S0"
ALONE=$(psql_ "SELECT extract(epoch FROM b.completed_at - min(p.queued_at)) FROM batches b
    JOIN projects p ON p.batch_id = b.id WHERE b.id = '$S0' GROUP BY b.completed_at")
stop_workers
printf 'small batch alone: %.1f s\n' "$ALONE"

for workers in 1 2; do
    for ((i = 0; i < workers; i++)); do start_worker "fair-$workers-$i" "${WORKER_ENV[@]}"; done
    sleep 1
    B1=$(make_batch "$OWNER_A" "$BIG")
    B2=$(make_batch "$OWNER_B" "$BIG")
    B3=$(make_batch "$OWNER_A" "$SMALL")
    for b in "$B1:$TOKEN_A" "$B2:$TOKEN_B" "$B3:$TOKEN_A"; do generate "${b%%:*}" "${b#*:}"; done
    wait_batches "$B1" "$B2" "$B3"
    stop_workers
    report "$workers worker(s)" "$workers" "$ALONE" "$B1" "$B2" "$B3"
done
