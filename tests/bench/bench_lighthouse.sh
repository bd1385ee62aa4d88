#!/usr/bin/env bash
# bench_lighthouse.sh — Lighthouse scores of the batches list and the card
# editor (issue 20), run by `make bench`; printed, not asserted (performance
# depends on how loaded the machine is: the report's CPU benchmark index says).
#
# A temporary stack (PostgreSQL, Redis, the FastCGI programs, the worker with
# the offline provider, lighttpd) on loopback; a user with 25 batches (the list
# pages) and one generated card; then tests/bench/lighthouse/run.mjs: npm
# lighthouse 12.2.3 (13 needs Node 22) through puppeteer-core against Debian's
# /usr/bin/chromium — no browser is downloaded. Targets: accessibility ≥ 95,
# best practices ≥ 90, performance ≥ 90.
#
# Env: BUILD (default build), LH_FORM (desktop | mobile | both; default both),
#      LH_OUT (JSON reports; default: kept in the temporary stack, removed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tests/bench/lighthouse"

[[ -x /usr/bin/chromium ]] || { echo "bench_lighthouse: /usr/bin/chromium missing (apt-get install chromium)" >&2; exit 1; }
command -v node >/dev/null || { echo "bench_lighthouse: node missing (apt-get install nodejs npm)" >&2; exit 1; }
if [[ ! -d "$HERE/node_modules/lighthouse" ]]; then
    echo "# installing lighthouse into tests/bench/lighthouse/node_modules"
    (cd "$HERE" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts --silent) ||
        { echo "bench_lighthouse: npm ci failed" >&2; exit 1; }
fi

STACK_COMPONENTS="pg redis migrate fcgi worker lighttpd"
# shellcheck source=tests/bench/stack.sh
source "$ROOT/tests/bench/stack.sh"
BASE="http://127.0.0.1:$LIGHTTPD_PORT"

email="lighthouse-$$@test.local"
bench_user "$email" --name "Lighthouse"
token=$TOKEN
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
upload() { # name csv-body -> batch id
    printf '%s' "$2" | curl -sf -H "Authorization: Bearer $token" -F "name=$1" \
        -F "file=@-;filename=$1.csv;type=text/csv" "$BASE/api/batches" | json_field 'd["id"]'
}
for i in $(seq 1 24); do
    upload "Zestaw $i" $'Nazwa projektu,Opis,Wnioskodawca\nProjekt '"$i"$',Warsztaty dla mieszkańców,Fundacja Sąsiedzi\n' >/dev/null
done
batch=$(upload "Karty do przeglądu" $'Nazwa projektu,Opis,Wnioskodawca,Budżet (PLN),Data rozpoczęcia,Data zakończenia,Grupa docelowa\nZielone podwórka,"Warsztaty, spotkania i działania lokalne dla mieszkańców",Fundacja Sąsiedzi,50000,01.03.2026,31.10.2026,mieszkańcy osiedla i seniorzy\n')
curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{}' \
    "$BASE/api/batches/$batch/generate" >/dev/null
project=""
for _ in $(seq 1 120); do
    project=$(curl -sf -H "Authorization: Bearer $token" "$BASE/api/batches/$batch" |
        json_field '"".join(p["id"] for p in d["projects"] if p["status"] == "COMPLETED")')
    [[ -n "$project" ]] && break
    sleep 0.5
done
[[ -n "$project" ]] || { echo "bench_lighthouse: the card was not generated in 60 s" >&2; exit 1; }

OUT="${LH_OUT:-$STATE/lighthouse}"
mkdir -p "$OUT"
echo "Lighthouse 12.2.3 on Debian's Chromium ($(/usr/bin/chromium --version 2>/dev/null | head -n1)), targets: accessibility 95, best practices 90, performance 90"
(cd "$HERE" && LH_BASE="$BASE" LH_EMAIL="$email" LH_PASSWORD="$BENCH_PASSWORD" LH_PROJECT="$project" \
    LH_OUT="$OUT" LH_FORM="${LH_FORM:-both}" timeout 900 node run.mjs)
