#!/usr/bin/env bash
# bundle.sh BUILD VERSION - the portable tarball of `make bundle` (README
# "Shared hosting"): the programs built with RPATH=$ORIGIN/lib:$ORIGIN/../lib,
# every shared library they need that is not glibc itself, the web UI, the
# SQL migrations, the example config, the generated .htaccess files and the
# installer.  Prints the tarball's path.
#
#   kartograf-<v>-linux-<arch>/
#     kartograf-install-shared     the installer (POSIX sh)
#     bin/kartograf-worker, bin/kartograf-admin
#     cgi-bin/<program>.fcgi       the endpoint programs (any mode)
#     lib/                         libfcgi, libpq, hiredis, libcurl, ... and deps
#     htdocs/ sql/ share/htaccess.cgi share/htaccess.fcgid
#     kartograf.conf.example BUNDLE.txt
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
B="${1:?usage: bundle.sh BUILD VERSION}"
V="${2:?usage: bundle.sh BUILD VERSION}"
NAME="kartograf-$V-linux-$(uname -m)"
OUT="$B/$NAME"

# glibc and the dynamic loader come from the host: every Linux has them,
# and a foreign libc cannot be mixed with the host's loader.
is_glibc() {
    case "$1" in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | \
        libresolv.so.* | libutil.so.* | libanl.so.* | libnsl.so.* | \
        libmvec.so.* | libBrokenLocale.so.* | ld-linux*.so.* | linux-vdso.so.*)
        return 0 ;;
    esac
    return 1
}

rm -rf "$OUT" "$OUT.tar.gz"
mkdir -p "$OUT/bin" "$OUT/cgi-bin" "$OUT/lib" "$OUT/sql" "$OUT/share"
cp "$B"/cgi-bin/*.fcgi "$OUT/cgi-bin/"
cp "$B/worker/kartograf-worker" "$B/worker/kartograf-admin" "$OUT/bin/"
strip --strip-debug "$OUT"/bin/* "$OUT"/cgi-bin/*
cp sql/*.sql "$OUT/sql/"
cp -R htdocs "$OUT/htdocs"
cp worker/kartograf.conf.example "$OUT/"
install -m 755 scripts/kartograf-install-shared "$OUT/"
for mode in cgi fcgid; do
    /usr/bin/python3 scripts/gen-webconf.py --server htaccess --mode "$mode" \
        --routes apache/routes --out "$OUT/share/htaccess.$mode"
done

# every library the programs load, by the name they ask for (the soname)
ldd "$OUT"/bin/* "$OUT"/cgi-bin/* | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' |
    sort -u | while read -r soname path; do
    is_glibc "$soname" && continue
    cp -L "$path" "$OUT/lib/$soname"
    chmod 644 "$OUT/lib/$soname"
done
strip --strip-unneeded "$OUT"/lib/*.so* 2>/dev/null || true

glibc_min=$(objdump -T "$OUT"/bin/* "$OUT"/cgi-bin/* "$OUT"/lib/*.so* 2>/dev/null |
    grep -o 'GLIBC_[0-9.]*' | sort -t. -k1,1 -k2,2n -k3,3n -u | tail -n1)
cat >"$OUT/BUNDLE.txt" <<TXT
Kartograf $V, portable bundle for Linux $(uname -m) shared hosting.
Needs on the host: glibc ${glibc_min#GLIBC_} or newer (ldd --version), Apache 2.4.13+
with mod_rewrite and CGI or mod_fcgid, PostgreSQL, Redis, cron.
Install: ./kartograf-install-shared --help   (README chapter "Shared hosting")
TXT
tar -C "$B" -czf "$OUT.tar.gz" "$NAME"
echo "$OUT.tar.gz"
