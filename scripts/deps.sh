#!/usr/bin/env bash
# scripts/deps.sh [--test] — install the Debian 12 packages Kartograf needs to build
# and run (and, with --test, what only the test suite needs: openpyxl, python-docx,
# LibreOffice + poppler for the export checks, Chromium for the browser tests).
#
# A fast no-op when everything is installed. Otherwise it runs apt-get (update once,
# then install), which needs root: run it as root, or as a user with sudo rights (it
# calls sudo itself). Services that the packages would start (PostgreSQL, Redis,
# lighttpd, Apache) are kept from starting during the install: Kartograf runs its own
# instances on free loopback ports (scripts/kgstack), the system ones are not used.
set -euo pipefail

PACKAGES=(
    build-essential pkg-config clang
    libfcgi-dev libpq-dev libhiredis-dev libcurl4-openssl-dev libcjson-dev libzip-dev
    libjwt-dev libssl-dev libexpat1-dev libxlsxwriter-dev libinih-dev libargon2-dev
    libcmocka-dev
    postgresql postgresql-client redis-server redis-tools lighttpd apache2 spawn-fcgi
    curl python3 openssl util-linux procps ca-certificates
)
if [[ "${1:-}" == "--test" ]]; then
    # python3-openpyxl/python3-docx read what we write; LibreOffice opens every
    # exported card (docx -> PDF, poppler renders page 1) and Calc writes one of
    # the real-world .xlsx fixtures; Chromium runs the browser tests (tests/e2e,
    # driven by npm playwright-core)
    # debhelper + lintian build and check the .deb (make deb), logrotate runs the
    # shipped rotation snippet (tests/integration/test_install.py); wrk drives the
    # API benchmark (tests/bench/bench_api.sh, next to pgbench from postgresql-client)
    # libapache2-mod-fcgid: the shared-hosting Apache of the tests (mod_fcgid
    # variant, README "Shared hosting")
    PACKAGES+=(libapache2-mod-fcgid)
    PACKAGES+=(python3-openpyxl python3-docx libreoffice-writer-nogui
               libreoffice-calc-nogui poppler-utils
               chromium debhelper lintian logrotate wrk)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "deps.sh: installing missing packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || { command -v sudo >/dev/null 2>&1 && [[ -t 0 ]]; }; then
    SUDO=(sudo)
else
    echo "deps.sh: installing packages needs root. Run as root, or as a user with sudo rights:" >&2
    echo "    sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
command -v apt-get >/dev/null || { echo "deps.sh: apt-get not found (Debian 12 expected)" >&2; exit 1; }

# keep the packages' own services from starting (they would occupy default ports)
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, by kartograf scripts/deps.sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    created_policy=1
fi
cleanup() { if ((created_policy)); then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
echo "deps.sh: done"
