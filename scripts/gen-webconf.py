#!/usr/bin/python3
"""Generate lighttpd / Apache httpd configuration from apache/routes.

apache/routes is the single list of URL routes (see the comments in that file).
This script turns it into the FastCGI routing of either server and, when given a
template, substitutes @NAME@ placeholders in it.

Usage:
  gen-webconf.py --server lighttpd|apache --routes apache/routes --socket-dir DIR
                 [--trusted-proxies "CIDR, ..."]
                 [--template FILE.in] [--set NAME=VALUE ...] [--out FILE]
  gen-webconf.py --server htaccess --mode cgi|fcgid --routes apache/routes [--out FILE]

--server htaccess writes the .htaccess of a shared-hosting install (README "Shared
hosting"): the programs sit beside it as <program>.cgi (mod_cgi/mod_cgid) or
<program>.fcgi (mod_fcgid) and mod_rewrite routes to them; no server configuration
is needed beyond AllowOverride All.

Without --template only the routing block is printed (for production, include it
from apache/kartograf-site.conf or apache/lighttpd-site.conf), preceded by the
client-address lines when --trusted-proxies is given.  In a template the
placeholder @ROUTES@ receives the routing block and @TRUSTED_PROXIES@ the
client-address lines.

--trusted-proxies takes the same list as [http] trusted_proxies in
kartograf.conf: the web server then takes the client address from
X-Forwarded-For only when the peer is one of them (Apache mod_remoteip,
lighttpd mod_extforward, both reading the header from the right), so its
access log and REMOTE_ADDR agree with what the programs compute (lib/kg_net.h).
"""
import argparse
import os
import re
import sys

FALLBACK_PROGRAM = "health"   # its router answers 404 JSON for unknown /api/* paths
FALLBACK_REGEX = "^/api(/.*)?$"


def parse_routes(path):
    routes = []
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if line.startswith("#"):
                continue
            line = re.sub(r"\s+#.*$", "", line)  # trailing comment (after whitespace)
            if not line:
                continue
            parts = line.split()
            if len(parts) < 2:
                sys.exit(f"{path}:{lineno}: expected '<program> <regex> [flags]'")
            prog, regex, flags = parts[0], parts[1], parts[2:]
            if not re.fullmatch(r"[A-Za-z0-9_-]+", prog):
                sys.exit(f"{path}:{lineno}: bad program name {prog!r}")
            try:
                re.compile(regex)
            except re.error as e:
                sys.exit(f"{path}:{lineno}: bad regex {regex!r}: {e}")
            opts = {"stream": False, "procs": 1}
            for fl in flags:
                if fl == "stream":
                    opts["stream"] = True
                elif fl == "procs=auto":
                    opts["procs"] = max(2, os.cpu_count() or 1)   # a core each, at least 2
                elif re.fullmatch(r"procs=[1-9][0-9]*", fl):
                    opts["procs"] = int(fl[6:])
                else:
                    sys.exit(f"{path}:{lineno}: unknown flag {fl!r}")
            if "\\" in regex:
                sys.exit(f"{path}:{lineno}: no backslashes in route regexes (lighttpd and "
                         f"Apache unquote them differently); write [.] instead of \\.")
            routes.append((prog, regex, opts))
    return routes


def q(s):
    """Quote a string for lighttpd/Apache config (both use C-like double quotes)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lighttpd_routes(routes, sockdir):
    out = ["# --- generated from apache/routes by scripts/gen-webconf.py: do not edit ---"]
    allr = routes + [(FALLBACK_PROGRAM, FALLBACK_REGEX, {"stream": False, "fallback": True})]
    for i, (prog, regex, opts) in enumerate(allr):
        kw = "" if i == 0 else "else "
        note = "  # fallback: unknown /api/* -> 404 JSON from the health program's router" if opts.get("fallback") else ""
        out.append(f'{kw}$HTTP["url"] =~ {q(regex)} {{{note}')
        out.append(f'    fastcgi.server = ( "/" => ( ( "socket" => {q(sockdir + "/" + prog + ".sock")},')
        out.append('                                  "check-local" => "disable",')
        out.append('                                  "disable-time" => 0 ) ) )  # retry a restarted program at once')
        if opts.get("stream"):
            out.append('    # SSE stream: server.stream-response-body = 2 (global) sends it unbuffered;')
            out.append('    # no mod_deflate is loaded, so it is never compressed.')
        out.append("}")
    return "\n".join(out) + "\n"


def apache_routes(routes, sockdir):
    out = ["# --- generated from apache/routes by scripts/gen-webconf.py: do not edit ---",
           "# First matching ProxyPassMatch wins. Each program gets its own worker name",
           "# (fcgi://<program>/) so that Apache never mixes up the unix sockets.",
           "# No enablereuse=on: a program process serves one FastCGI connection at a",
           "# time and stays bound to one Apache keeps for reuse, so the connections",
           "# Apache opens beyond the processes wait unaccepted (README \"4. Apache\").",
           "# iobuffersize=65536: a program sends a whole JSON answer at once, in",
           "# FastCGI records of up to 64 KB; with Apache's default of 8 KB each card",
           "# (18.7 KB) was read, and passed to the client, in three pieces. Not on",
           "# event streams (small events, and the buffer lives as long as the stream)."]
    for prog, regex, opts in routes:
        # streams: flush every FastCGI record at once, and one backend
        # connection per stream that is closed when the stream ends (a kept-
        # alive idle connection would pin one of the relay's threads)
        params = " retry=0" + (" flushpackets=on disablereuse=on" if opts.get("stream")
                               else " iobuffersize=65536")
        out.append(f"ProxyPassMatch {q(regex)} {q('unix:' + sockdir + '/' + prog + '.sock|fcgi://' + prog + '/')}{params}")
    out.append("# fallback: unknown /api/* -> 404 JSON from the health program's router")
    out.append(f"ProxyPassMatch {q(FALLBACK_REGEX)} {q('unix:' + sockdir + '/' + FALLBACK_PROGRAM + '.sock|fcgi://' + FALLBACK_PROGRAM + '/')} retry=0 iobuffersize=65536")
    for prog, regex, opts in routes:
        if opts.get("stream"):
            out.append(f"<LocationMatch {q(regex)}>")
            out.append("    # SSE: never compress, never buffer")
            out.append("    SetEnv no-gzip 1")
            out.append("    SetEnv dont-vary 1")
            out.append("</LocationMatch>")
    return "\n".join(out) + "\n"


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
ERROR_DOCS = (400, 403, 404, 405, 408, 411, 413, 414, 500, 502, 503, 504)
BASE_PATH = "@BASE_PATH@"   # placeholder the installer fills (htaccess only)


def htaccess(routes, mode):
    ext = ".cgi" if mode == "cgi" else ".fcgi"
    out = ["# --- generated from apache/routes by scripts/gen-webconf.py --server htaccess",
           f"# --- (mode {mode}): do not edit, kartograf-install-shared rewrites it ---",
           "Options -Indexes +ExecCGI",
           "DirectoryIndex index.html"]
    if mode == "cgi":
        out.append(f"AddHandler cgi-script {ext}")
    else:
        out += ["# mod_fcgid starts the programs and keeps them running",
                f"AddHandler fcgid-script {ext}"]
    out += ['AddType "application/json; charset=utf-8" .json',
            "AddType application/vnd.openxmlformats-officedocument.spreadsheetml.sheet .xlsx",
            "# Apache hands Authorization to CGI/FastCGI programs only when told (2.4.13+)",
            "CGIPassAuth On",
            "# never served: dotfiles (.kartograf-config), libraries, logs, SQL, configs",
            '<FilesMatch "^[.]">',
            "    Require all denied",
            "</FilesMatch>",
            '<FilesMatch "[.](conf|ini|sql|log|sh|py|so([.][0-9]+)*|example)$">',
            "    Require all denied",
            "</FilesMatch>",
            "<IfModule mod_headers.c>",
            '    Header always set X-Content-Type-Options "nosniff"',
            f'    Header always set Content-Security-Policy "{CSP}"',
            '    Header always set Referrer-Policy "no-referrer"',
            "</IfModule>"]
    # A module the site needs is missing: Apache would hand the programs out as
    # plain files (an unknown handler falls back to the default one), and a
    # RewriteRule without mod_rewrite is a 500 for every page.  Refuse the
    # programs instead and say why ("kartograf: ..." is what the installer's
    # check looks for).
    handler = ("mod_cgi or mod_cgid", ["mod_cgi.c", "mod_cgid.c"]) if mode == "cgi" \
        else ("mod_fcgid", ["mod_fcgid.c"])
    # Errors the server itself produces on /api/* (e.g. mod_fcgid's refusal of a
    # body above FcgidMaxRequestLen) are JSON like the programs' own; elsewhere
    # Apache's own pages.  Only where the routes work: the refusals below say
    # which module is missing instead.  THE_REQUEST, not REQUEST_URI: after the
    # rewrite that is the program's file.  An ErrorDocument is a URL path from
    # the domain's root: kartograf-install-shared replaces BASE_PATH by the
    # site's (empty at the root, /kartograf in a subdirectory).
    api_errors = ["    <If \"%{THE_REQUEST} =~ m#^[A-Z]+ (https?://[^/]+)?" + BASE_PATH + "/api[/? ]#\">"]
    api_errors += [f"        ErrorDocument {code} {BASE_PATH}/errors/{code}.json" for code in ERROR_DOCS]
    api_errors += ["    </If>"]
    out += ["# the server's own errors on /api/* are JSON (only where the site can work)",
            "<IfModule mod_rewrite.c>"]
    for m in handler[1]:
        out += [f"<IfModule {m}>"] + api_errors + ["</IfModule>"]
    out += ["</IfModule>"]
    out += [f"# without {handler[0]} the programs are refused, never served as files"]
    out += [f"<IfModule !{m}>" for m in handler[1]]
    out += [f'    <FilesMatch "[.]{ext[1:]}$">',
            "        Require all denied",
            "    </FilesMatch>",
            f'    ErrorDocument 403 "kartograf: {handler[0]} is not loaded on this server: '
            f'the programs cannot run in --mode {mode} (README Shared hosting)"']
    out += ["</IfModule>"] * len(handler[1])
    out += ["# without mod_rewrite no route reaches a program",
            "<IfModule !mod_rewrite.c>",
            '    <FilesMatch "[.]f?cgi$">',
            "        Require all denied",
            "    </FilesMatch>",
            '    ErrorDocument 404 "kartograf: mod_rewrite is not loaded on this server: '
            'the routes of the .htaccess cannot work (README Shared hosting)"',
            "</IfModule>",
            "<IfModule mod_rewrite.c>",
            "RewriteEngine On",
            "# the site's URL path (empty at the domain's root, /kartograf or /~konto/kartograf",
            "# in a subdirectory) for the programs, which route on what follows it",
            "RewriteCond %{REQUEST_URI}::$1 ^(.*?)/(.*)::\\2$",
            "RewriteRule ^(.*)$ - [E=KARTOGRAF_BASE:%1]",
            "# the programs are reached through the routes only, never by their names",
            "RewriteCond %{ENV:REDIRECT_STATUS} ^$",
            'RewriteRule "[.]f?cgi$" - [F]']
    allr = routes + [(FALLBACK_PROGRAM, FALLBACK_REGEX, {})]
    for prog, regex, _ in allr:
        rel = regex.replace("^/", "^", 1)  # per-directory: no leading slash
        out.append(f'RewriteRule "{rel}" {prog}{ext} [L]')
    out.append("</IfModule>")
    return "\n".join(out) + "\n"


def trusted_block(server, proxies):
    """Client-address lines for the web server; empty list -> a comment only."""
    entries = [e for e in re.split(r"[,\s]+", proxies or "") if e]
    for e in entries:
        if not re.fullmatch(r"[0-9A-Fa-f:.]+(/[0-9]{1,3})?", e):
            sys.exit(f"--trusted-proxies: {e!r} is not an address or CIDR")
    head = "# --- client address: generated from [http] trusted_proxies by scripts/gen-webconf.py ---"
    if not entries:
        return head + "\n# (no trusted proxies: X-Forwarded-For is ignored)\n"
    if server == "lighttpd":
        pairs = ", ".join(f'{q(e)} => "trust"' for e in entries)
        return (head + "\n# mod_extforward (loaded in server.modules) believes X-Forwarded-For from these\n"
                f"extforward.forwarder = ( {pairs} )\n"
                'extforward.headers = ( "X-Forwarded-For" )\n')
    # InternalProxy, not TrustedProxy: like the programs, accept any address
    # (also private ones, e.g. an office LAN) that a listed proxy vouches for
    return (head + "\n# needs mod_remoteip; %a in LogFormat is then the client\n"
            "RemoteIPHeader X-Forwarded-For\n"
            f"RemoteIPInternalProxy {' '.join(entries)}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", choices=["lighttpd", "apache", "htaccess"])
    ap.add_argument("--mode", choices=["cgi", "fcgid"], default="cgi")
    ap.add_argument("--routes", required=True)
    ap.add_argument("--socket-dir")
    ap.add_argument("--template")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--out")
    ap.add_argument("--trusted-proxies", default="")
    ap.add_argument("--procs", action="store_true",
                    help="print '<program> <procs>' for programs with a procs= flag")
    a = ap.parse_args()
    routes = parse_routes(a.routes)
    if a.procs:
        seen = {}
        for prog, _, opts in routes:
            seen[prog] = max(seen.get(prog, 1), opts.get("procs", 1))
        text = "".join(f"{p} {n}\n" for p, n in seen.items())
    elif a.server == "htaccess":
        text = htaccess(routes, a.mode)
    else:
        if not a.server or not a.socket_dir:
            ap.error("--server and --socket-dir are required")
        block = (lighttpd_routes if a.server == "lighttpd" else apache_routes)(routes, a.socket_dir)
        if a.template:
            with open(a.template, encoding="utf-8") as f:
                text = f.read()
            vals = dict(kv.split("=", 1) for kv in a.set)
            vals["ROUTES"] = block
            vals["TRUSTED_PROXIES"] = trusted_block(a.server, a.trusted_proxies)
            def sub(m):
                k = m.group(1)
                if k not in vals:
                    sys.exit(f"{a.template}: no value for @{k}@")
                return vals[k]
            text = re.sub(r"@([A-Z_]+)@", sub, text)
        else:
            text = (trusted_block(a.server, a.trusted_proxies) if a.trusted_proxies else "") + block
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
