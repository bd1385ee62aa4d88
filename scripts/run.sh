#!/usr/bin/env bash
# scripts/run.sh — run Kartograf locally (called by `make run` after building).
#
# State lives in .state/ in the repository (PostgreSQL cluster, Redis data, config with
# its JWT key, logs in .state/log/). It is reused by the next run. Starts PostgreSQL,
# Redis, migrations, the FastCGI programs, the worker and lighttpd on free loopback
# ports, creates the demo user, prints the URL and waits. Ctrl-C stops everything.
# Env: BUILD (default build), KARTOGRAF_STATE (default .state), WITH_APACHE=1 also
# starts Apache httpd.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
kg_build build
STATE="${KARTOGRAF_STATE:-$ROOT/.state}"
KG="$ROOT/scripts/kgstack"
DEMO_EMAIL="demo@kartograf.local"
DEMO_PASSWORD="demo-kartograf-2026"

components=(pg redis migrate fcgi worker lighttpd)
[[ "${WITH_APACHE:-0}" == 1 ]] && components+=(apache)

stopping=0
sleeper=
stop_all() {
    ((stopping)) && return
    stopping=1
    # the background sleep ignores SIGINT (a non-interactive shell's
    # background job), so Ctrl-C alone would leave it behind for an hour
    [[ -n "$sleeper" ]] && kill "$sleeper" 2>/dev/null
    trap "" PIPE   # a closed terminal or pipe must not cut the shutdown short
    echo
    echo "run.sh: stopping..."
    "$KG" stop "$STATE" "${components[@]}" || true
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

"$KG" init "$STATE"
STATE="$(cd "$STATE" && pwd -P)"
"$KG" start "$STATE" "${components[@]}"

# demo user (adduser reads the password from stdin; "already exists" is fine)
out=$(printf '%s\n' "$DEMO_PASSWORD" | KARTOGRAF_CONFIG="$STATE/kartograf.conf" \
      "$BUILD_DIR/worker/kartograf-admin" adduser "$DEMO_EMAIL" --name "Demo" 2>&1) || {
    if grep -qi "exist" <<<"$out"; then
        # keep the login printed below true (an older state may hold the demo
        # user with a password from before the 12-character rule)
        printf '%s\n' "$DEMO_PASSWORD" | KARTOGRAF_CONFIG="$STATE/kartograf.conf" \
            "$BUILD_DIR/worker/kartograf-admin" passwd "$DEMO_EMAIL" >/dev/null 2>&1 || true
    else
        echo "run.sh: could not create the demo user:" >&2
        echo "$out" >&2
        exit 1
    fi
}

source "$STATE/stack.env"
echo
echo "  Kartograf is running:  http://127.0.0.1:$LIGHTTPD_PORT/"
[[ "${WITH_APACHE:-0}" == 1 ]] && echo "  (Apache httpd:         http://127.0.0.1:$APACHE_PORT/)"
echo "  Login:                 $DEMO_EMAIL / $DEMO_PASSWORD"
echo "  Health:                http://127.0.0.1:$LIGHTTPD_PORT/api/health"
echo "  Logs:                  $STATE/log/"
echo "  Press Ctrl-C to stop."
echo

# wait until interrupted (sleep in the background so that Ctrl-C is handled at once)
while :; do
    sleep 3600 &
    sleeper=$!
    wait "$sleeper" || true
done
