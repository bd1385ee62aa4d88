#!/usr/bin/env bash
# Export benchmark (issue 9): one card and a batch .zip of 100 cards, built
# by Kartograf (kg_export_card / kg_export_zip: PostgreSQL read + kg_docx +
# libzip + libxlsxwriter, tests/bench/export_build.c) and by python-docx +
# openpyxl building the same documents in the same run
# (tests/bench/export_python.py; its data is loaded before the clock starts).
# Then the same exports end to end through lighttpd: the first download of a
# card (queue -> worker -> local storage -> export_history -> stream), a
# re-download (reused from storage), and the batch zip.
# Runs against its own temporary stack (scripts/kgstack), torn down at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N="${BENCH_CARDS:-100}"
CARD_RUNS="${BENCH_CARD_RUNS:-50}"
ZIP_RUNS="${BENCH_ZIP_RUNS:-3}"
HELPER="${BUILD:-build}/tests/bench/export_build"
[[ "$HELPER" = /* ]] || HELPER="$ROOT/$HELPER"
# rebuilt through make when older than the library (a no-op when up to date)
make -C "$ROOT" --no-print-directory B="${BUILD:-build}" "${BUILD:-build}/tests/bench/export_build" >/dev/null
[[ -x "$HELPER" ]] || { echo "$HELPER not built (make bench builds it)"; exit 1; }

export KARTOGRAF_LOG_LEVEL=warn
STACK_COMPONENTS="pg redis migrate fcgi worker lighttpd"
# shellcheck source=tests/bench/stack.sh
source "$ROOT/tests/bench/stack.sh"
bench_user bench@bench.local

# N completed cards, each section 3 paragraphs of about 50 words
BATCH=$(psql_ "INSERT INTO batches (owner_id, name, row_count) VALUES ('$OWNER', 'Nabór benchmarkowy', $N) RETURNING id" | head -n1)
psql_ "INSERT INTO projects (batch_id, row_number, name, input, status, progress, quality_score, quality,
        provider, started_at, finished_at)
    SELECT '$BATCH', g + 1, 'Świetlica środowiskowa nr ' || g,
        jsonb_build_object('name', 'Świetlica środowiskowa nr ' || g, 'organization', 'Fundacja Łąka',
        'budget', 125000 + g, 'start_date', '2026-03-01', 'end_date', '2026-12-31', 'location', 'Łódź'),
        'COMPLETED', 100, 80, '{}'::jsonb, 'offline', now(), now()
    FROM generate_series(1, $N) g" >/dev/null
psql_ "INSERT INTO sections (project_id, key, body, origin, reviewed, provider)
    SELECT p.id, d.key, rtrim(repeat(repeat('Projekt realizuje Fundacja Łąka w gminie, a uczestnicy w wieku 10-15 lat '
        || 'zyskają nowe umiejętności i „wsparcie” zespołu. ', 4) || E'\n\n', 3)), 'ai', false, 'offline'
    FROM projects p CROSS JOIN section_defs d WHERE p.batch_id = '$BATCH'" >/dev/null
CARD=$(psql_ "SELECT id FROM projects WHERE batch_id = '$BATCH' ORDER BY row_number LIMIT 1")
psql_ "SELECT json_agg(c ORDER BY c.row) FROM (
    SELECT p.row_number AS row, p.name, p.input->>'organization' AS org, p.input->>'budget' AS budget,
        p.input->>'start_date' AS start, p.input->>'end_date' AS end, p.input->>'location' AS location,
        to_char(p.finished_at, 'DD.MM.YYYY') AS finished, p.quality_score AS score,
        (SELECT json_agg(json_build_object('title', d.title, 'body', s.body) ORDER BY d.position)
         FROM section_defs d JOIN sections s ON s.key = d.key AND s.project_id = p.id) AS sections
    FROM projects p WHERE p.batch_id = '$BATCH') c" >"$STATE/cards.json"

# warm up both (page cache, first connection, imports)
"$HELPER" card "$CARD" 3 >/dev/null
/usr/bin/python3 "$ROOT/tests/bench/export_python.py" card "$STATE/cards.json" 2 >/dev/null

read -r c_card c_card_bytes < <("$HELPER" card "$CARD" "$CARD_RUNS")
read -r p_card p_card_bytes < <(/usr/bin/python3 "$ROOT/tests/bench/export_python.py" card "$STATE/cards.json" "$((CARD_RUNS / 5 + 1))")
read -r c_zip c_zip_bytes < <("$HELPER" zip "$BATCH" "$ZIP_RUNS")
read -r p_zip p_zip_bytes < <(/usr/bin/python3 "$ROOT/tests/bench/export_python.py" zip "$STATE/cards.json" 1)

http_ms() { # path -> ms of one authenticated GET (body discarded), status must be 200
    local out
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$LIGHTTPD_PORT$1")
    [[ "${out%% *}" == 200 ]] || { echo "GET $1 answered ${out%% *}" >&2; exit 1; }
    python3 -c "print(f'{float(\"${out#* }\") * 1000:.1f}')"
}
# First downloads of FIRST_RUNS cards never exported before (the card the
# builds above used is not among them): the median, and what it adds to the
# in-memory build (the POST's queue push, the worker's wake-up on
# kg:wake:export, storage, export_history, the answer to the waiting
# endpoint) - issue 18's goal: at most 30 ms.
# Each first download is followed by a re-download of the same card (the
# stored file streamed, no worker): their difference, paired a moment apart,
# is what the worker's round trip adds on a machine whose load moves both.
FIRST_RUNS="${BENCH_FIRST_RUNS:-10}"
firsts=()
pairs=()
while read -r id; do
    f=$(http_ms "/api/export/project/$id")
    a=$(http_ms "/api/export/project/$id")
    firsts+=("$f")
    pairs+=("$f $a")
done < <(psql_ "SELECT id FROM projects WHERE batch_id = '$BATCH' AND id <> '$CARD' ORDER BY row_number LIMIT $FIRST_RUNS")
h_first=$(printf '%s\n' "${firsts[@]}" | python3 -c 'import statistics, sys; xs = [float(x) for x in sys.stdin]; print(f"{statistics.median(xs):.1f} {max(xs):.1f}")')
h_pair=$(printf '%s\n' "${pairs[@]}" | python3 -c 'import statistics, sys; ps = [tuple(map(float, l.split())) for l in sys.stdin]; print(f"{statistics.median(f - a for f, a in ps):.1f} {statistics.median(a for f, a in ps):.1f}")')
h_again=$(http_ms "/api/export/project/$CARD")
h_zip=$(http_ms "/api/export/batch/$BATCH")

python3 - "$N" "$c_card" "$c_card_bytes" "$p_card" "$p_card_bytes" "$c_zip" "$c_zip_bytes" \
    "$p_zip" "$p_zip_bytes" "$h_first" "$h_again" "$h_zip" "$h_pair" <<'PY'
import sys
n = sys.argv[1]
c_card, c_cb, p_card, p_cb, c_zip, c_zb, p_zip, p_zb = map(float, sys.argv[2:10])
h_first, h_again, h_zip, h_pair = sys.argv[10:14]
print(f"{'build (in memory)':<28} {'Kartograf ms':>13} {'python-docx ms':>15} {'ratio':>7} {'KB ours/py':>14}")
print(f"{'one card (.docx)':<28} {c_card:>13.2f} {p_card:>15.2f} {p_card / c_card:>6.1f}x "
      f"{c_cb / 1024:>6.1f}/{p_cb / 1024:<6.1f}")
print(f"{'batch of ' + n + ' cards (.zip)':<28} {c_zip:>13.1f} {p_zip:>15.1f} {p_zip / c_zip:>6.1f}x "
      f"{c_zb / 1024:>6.0f}/{p_zb / 1024:<6.0f}")
first_med, first_max = map(float, h_first.split())
print(f"end to end through lighttpd: first card download median {first_med:.1f} ms (max {first_max:.1f}; "
      f"queue, worker, storage, history), re-download {h_again} ms (reused), batch zip of {n} cards {h_zip} ms")
print(f"first card download over the build: {first_med - c_card:.1f} ms (median first download "
      f"{first_med:.1f} - build {c_card:.2f}; goal <= 30 ms)")
over, again_med = map(float, h_pair.split())
print(f"first download over a re-download of the same card: median {over:.1f} ms (the worker's round trip: "
      f"push, wake-up, build, store, history, answer; re-downloads {again_med:.1f} ms) = build {c_card:.2f} "
      f"+ {over - c_card:.1f} ms")
PY
