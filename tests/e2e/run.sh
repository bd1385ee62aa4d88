#!/usr/bin/env bash
# tests/e2e/run.sh — browser end-to-end tests of the Kartograf UI.
#
#   tests/e2e/run.sh STATE
#
# STATE is a running kgstack state directory (scripts/kgstack init/start STATE all):
# the full suite runs through lighttpd (LIGHTTPD_PORT in STATE/stack.env), a smoke
# run through Apache (APACHE_PORT) when Apache answers. A fresh user is created
# with $BUILD/worker/kartograf-admin adduser (KARTOGRAF_CONFIG=STATE/kartograf.conf).
#
# Installs what is missing: Debian's chromium (apt-get) and npm playwright-core,
# xlsx and @axe-core/playwright into tests/e2e/node_modules (from package-lock.json). No browser is ever
# downloaded: playwright-core drives /usr/bin/chromium.
#
# Prints "ok - name" / "not ok - name" lines and a final "e2e: N passed, M failed".
# Screenshots of every step and the downloaded files go to $E2E_ARTIFACTS, default
# STATE/../e2e-artifacts. Env: BUILD (default build), E2E_ONLY (substring filter),
# E2E_NO_APACHE=1 (skip the Apache smoke run), E2E_TIMEOUT (s, default 600; 1200 through a shared-host site).
# E2E_SHARED=1: the whole suite through the shared host's plain-CGI site instead
# (kgstack start STATE shared, README "Shared hosting"): the user is created with
# that install's kartograf-admin and its worker runs the way cron starts it.
# E2E_SHARED=fcgid: only the smoke through the shared host's mod_fcgid site
# (login, upload, the cron worker started by the test, polling, downloads).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE="${1:-}"
[[ -n "$STATE" && -f "$STATE/stack.env" ]] || { echo "usage: tests/e2e/run.sh STATE  (a kgstack state dir with stack.env)" >&2; exit 2; }
STATE="$(cd "$STATE" && pwd)"
BUILD="${BUILD:-build}"
[[ "$BUILD" = /* ]] || BUILD="$ROOT/$BUILD"
ART="${E2E_ARTIFACTS:-$(dirname "$STATE")/e2e-artifacts}"
mkdir -p "$ART"

fail_setup() { echo "not ok - e2e setup: $*"; echo "e2e: 0 passed, 1 failed"; exit 1; }

# ---- install what is missing
if [[ ! -x /usr/bin/chromium ]]; then
    echo "# installing Debian chromium"
    SUDO=(); [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
        fail_setup "apt-get install chromium failed"
fi
command -v node >/dev/null && command -v npm >/dev/null || {
    SUDO=(); [[ $(id -u) -eq 0 ]] || SUDO=(sudo)
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null ||
        fail_setup "node/npm missing and could not be installed"
}
if [[ ! -d "$HERE/node_modules/playwright-core" || ! -d "$HERE/node_modules/xlsx" ||
      ! -d "$HERE/node_modules/@axe-core/playwright" ]]; then
    echo "# installing npm packages into tests/e2e/node_modules"
    # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing, but be explicit
    (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts --silent) ||
        fail_setup "npm ci in tests/e2e failed"
fi

# ---- the stack
env_get() { sed -n "s/^$1=//p" "$STATE/stack.env" | tail -n1; }
LPORT=$(env_get LIGHTTPD_PORT)
APORT=$(env_get APACHE_PORT)
[[ -n "$LPORT" ]] || fail_setup "no LIGHTTPD_PORT in $STATE/stack.env"
BASE="http://127.0.0.1:$LPORT"
curl -fsS -o /dev/null --max-time 5 "$BASE/" || fail_setup "lighttpd does not answer at $BASE (is the stack started?)"
APACHE=""
if [[ "${E2E_NO_APACHE:-0}" != 1 && -n "$APORT" ]] && curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$APORT/"; then
    APACHE="http://127.0.0.1:$APORT"
fi

# ---- a fresh user for this run
ADMIN="$BUILD/worker/kartograf-admin"
ADMIN_RUN=(env KARTOGRAF_CONFIG="$STATE/kartograf.conf")
CRON_PID=""
SMODE=""
# plain CGI starts a process per request (~0.4 s each on a busy 2-core machine)
DEFAULT_TIMEOUT=600
[[ -n "${E2E_SHARED:-}" ]] && DEFAULT_TIMEOUT=1200
if [[ -n "${E2E_SHARED:-}" ]]; then
    SMODE=cgi; [[ "$E2E_SHARED" == fcgid ]] && SMODE=fcgid
    SPORT=$(env_get "SHARED_${SMODE^^}_PORT")
    [[ -n "$SPORT" ]] || fail_setup "no shared host in $STATE (make bundle; kgstack start STATE shared)"
    BASE="http://127.0.0.1:$SPORT$(env_get "SHARED_${SMODE^^}_PATH")" APACHE=""   # fcgid: /kartograf
    SAPP="$STATE/shared/home-$SMODE/kartograf/app/bin"
    ADMIN="$SAPP/kartograf-admin"
    # the hosting account (www-data) runs its tools; they find the config by the pointer
    ADMIN_RUN=(env -i PATH=/usr/bin:/bin)
    [[ $(id -u) -eq 0 ]] && ADMIN_RUN=(setpriv --reuid=www-data --regid=www-data --init-groups "${ADMIN_RUN[@]}")
    if [[ $SMODE == cgi ]]; then
        "${ADMIN_RUN[@]}" KARTOGRAF_WORKER_IDLE_EXIT=900 "$SAPP/kartograf-worker" --cron >"$ART/shared-cron-worker.log" 2>&1 &
        CRON_PID=$!
        trap '[[ -n "$CRON_PID" ]] && kill "$CRON_PID" 2>/dev/null; wait 2>/dev/null' EXIT
    else
        # the smoke starts "cron" itself, after checking the page while no worker runs
        CRON_CMD="$ART/cron-worker.sh"
        printf '#!/bin/sh\nexec %s KARTOGRAF_WORKER_IDLE_EXIT=900 %q --cron >>%q 2>&1\n' \
            "$(printf '%q ' "${ADMIN_RUN[@]}")" "$SAPP/kartograf-worker" "$ART/shared-cron-worker.log" >"$CRON_CMD"
        chmod 755 "$CRON_CMD"
        export E2E_CRON_WORKER="$CRON_CMD" E2E_SHARED_MODE=fcgid
        export E2E_ONLY="${E2E_ONLY:-mod_fcgid smoke|single-use tickets|no CSP violations}"
    fi
fi
[[ -x "$ADMIN" ]] || fail_setup "$ADMIN not built"
EMAIL="e2e-$(date +%s)-$$@kartograf.test"
PASSWORD="e2e-$(openssl rand -hex 12)"
printf '%s\n' "$PASSWORD" | "${ADMIN_RUN[@]}" "$ADMIN" adduser "$EMAIL" --name "Test E2E" >/dev/null 2>&1 ||
    fail_setup "kartograf-admin adduser failed"

# The scale and typing tests confine the stack's processes to all CPUs but
# the first while they measure the page (taskset), and the scale test stops
# the worker or restarts it with test settings; run.mjs puts both back, but
# not when it is killed (E2E_TIMEOUT, Ctrl-C). Then this does, on every exit:
# every process of the stack (STATE/run/*.pid and their descendants) may use
# every CPU again, and a worker that ran before the suite runs again with the
# stack's own settings.
pid_of() { local p; p=$(head -n1 "$1" 2>/dev/null) && [[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && echo "$p"; }
WORKER_BEFORE=""; [[ -z "$SMODE" ]] && WORKER_BEFORE=$(pid_of "$STATE/run/worker.pid" || true)
E2E_RUN_ID="$$-$(date +%s%N)"
restore_stack() {
    local cpus roots="" f p left=""
    # what this run started and a killed run left behind (node, Chromium,
    # whose session runs at a raised priority while measured, psql): it
    # carries E2E_RUN_ID in its environment
    for p in $(pgrep -d ' ' -f 'chrom|psql|run\.mjs' || true); do
        tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qx "E2E_RUN_ID=$E2E_RUN_ID" && left+=" $p"
    done
    if [[ -n "$left" ]]; then
        kill $left 2>/dev/null || true; sleep 1; kill -9 $left 2>/dev/null || true
    fi
    [[ -z "$SMODE" ]] || return 0
    cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
    for f in "$STATE"/run/*.pid "$STATE"/run/*.pid.kg; do
        [[ -f "$f" ]] && p=$(pid_of "$f") && roots+=" $p"
    done
    [[ -n "$roots" && -n "$cpus" ]] || return 0
    ps -e -o pid=,ppid= | awk -v roots="$roots" '
        { kids[$2] = kids[$2] " " $1 }
        END { n = split(roots, q, " "); for (i = 1; i <= n; i++) seen[q[i]] = 1
              while (n) { p = q[n--]; print p; m = split(kids[p], k, " ")
                          for (j = 1; j <= m; j++) if (!seen[k[j]]++) q[++n] = k[j] } }' |
        while read -r p; do taskset -a -p -c "$cpus" "$p" >/dev/null 2>&1 || true; done
    if [[ -n "$WORKER_BEFORE" ]] && { (( ${1:-0} == 124 || ${1:-0} == 137 )) || ! pid_of "$STATE/run/worker.pid" >/dev/null; }; then
        echo "# restarting the stack's worker (the suite stopped it or left its test settings)"
        env $(env | sed -n 's/^\(KARTOGRAF_[A-Z0-9_]*\)=.*/-u \1/p') BUILD="$BUILD" "$ROOT/scripts/kgstack" stop "$STATE" worker >/dev/null 2>&1 || true
        env $(env | sed -n 's/^\(KARTOGRAF_[A-Z0-9_]*\)=.*/-u \1/p') BUILD="$BUILD" "$ROOT/scripts/kgstack" start "$STATE" worker >/dev/null 2>&1 ||
            echo "# could not restart the worker (scripts/kgstack start $STATE worker)"
    fi
}
trap 'restore_stack 130; exit 130' INT TERM

WHERE=lighttpd; [[ -n "$SMODE" ]] && WHERE="shared-host $SMODE site"
echo "# e2e: $WHERE $BASE${APACHE:+, apache $APACHE}; artifacts in $ART"
rc=0
(cd "$HERE" && E2E_RUN_ID="$E2E_RUN_ID" E2E_BASE="$BASE" E2E_APACHE="$APACHE" E2E_EMAIL="$EMAIL" E2E_PASSWORD="$PASSWORD" \
    E2E_ARTIFACTS="$ART" E2E_STATE="$STATE" E2E_KGSTACK="$ROOT/scripts/kgstack" BUILD="$BUILD" timeout -k 10 "${E2E_TIMEOUT:-$DEFAULT_TIMEOUT}" node run.mjs) || rc=$?
if ((rc == 124 || rc == 137)); then
    echo "not ok - e2e suite timed out"
    echo "e2e: 0 passed, 1 failed"
fi
restore_stack "$rc"
# the user's batches are removed with the user
"${ADMIN_RUN[@]}" "$ADMIN" deluser "$EMAIL" >/dev/null 2>&1 || true
exit "$rc"
