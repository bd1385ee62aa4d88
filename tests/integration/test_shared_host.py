"""Shared hosting end to end (issue 13), through the shared-host Apache of
`kgstack start shared`: the bundle of `make bundle`, unpacked and installed by
kartograf-install-shared as the account (www-data) into its public_html, once in
--mode cgi (mod_cgid) and once in --mode fcgid (mod_fcgid), with nothing about
Kartograf in the server's configuration.  The worker runs the way cron runs it.
"""
import contextlib
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import xlsxgen  # noqa: E402
from test_hosting import log_text, spawn_logged  # noqa: E402

ADMIN, ADMIN_PASSWORD = "admin@shared.test", "shared admin pass"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["Nazwa projektu", "Opis", "Wnioskodawca", "Budżet (PLN)", "Data rozpoczęcia",
          "Data zakończenia", "Grupa docelowa"]


def _sites(ctx):
    assert "SHARED_CGI_PORT" in ctx.env, \
        "the shared host is not running: make bundle, then kgstack start STATE shared"
    return {"cgi": f"http://127.0.0.1:{ctx.env['SHARED_CGI_PORT']}",
            "fcgid": f"http://127.0.0.1:{ctx.env['SHARED_FCGID_PORT']}"}


def _home(ctx, mode):
    return os.path.join(ctx.state, "shared", f"home-{mode}")


def _as_account(args, env=None, **kw):
    """Run a command as the hosting account (www-data when we are root)."""
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    pre = ["setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups", "--reset-env",
           "--"] if os.getuid() == 0 else []
    return pre + ["env", "-i"] + [f"{k}={v}" for k, v in e.items()] + list(args)


def _cron_worker(ctx, mode, idle_exit):
    """kartograf-worker --cron exactly as the crontab line starts it: no
    KARTOGRAF_CONFIG (the config pointer beside the program finds it)."""
    home = _home(ctx, mode)
    return spawn_logged(ctx, _as_account([f"{home}/kartograf/app/bin/kartograf-worker", "--cron"],
                                         {"KARTOGRAF_WORKER_IDLE_EXIT": str(idle_exit),
                                          "KARTOGRAF_AI_OFFLINE_DELAY_MS": "150"}), tag=f"cron-{mode}")


def _rows(n):
    rows = [HEADER]
    for i in range(n):
        rows.append([f"Projekt współdzielony {i + 1}", f"Opis projektu {i + 1} dla mieszkańców.",
                     "Fundacja Łąka", 125000 + i, "01.03.2026", "31.12.2026", "seniorzy"])
    return rows


def _upload(ctx, base, auth, data):
    body, ct = xlsxgen.multipart([("file", "projekty.xlsx", XLSX, data)])
    return ctx.request(base, "POST", "/api/batches", body, dict(auth, **{"Content-Type": ct}), timeout=30)


def _read_events(base, path, seconds, want):
    """Read an SSE stream for up to `seconds`; returns (text, seconds until every
    string of `want` was seen, or None)."""
    host, port = base.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=seconds)
    t0 = time.monotonic()
    seen_at = None
    buf = b""
    try:
        conn.request("GET", path)
        try:
            r = conn.getresponse()
        except (socket.timeout, TimeoutError):
            return "", None   # not even the headers came through
        assert r.status == 200, (r.status, r.read()[:300])
        while time.monotonic() - t0 < seconds:
            try:
                chunk = r.read1(4096)
            except (socket.timeout, TimeoutError):
                break
            if not chunk:
                break
            buf += chunk
            if seen_at is None and all(w.encode() in buf for w in want):
                seen_at = time.monotonic() - t0
                break
    finally:
        conn.close()
    return buf.decode("utf-8", "replace"), seen_at


def _raw_headers(base, path):
    """Every header line of GET path, repeated ones kept: [(name, value)]."""
    host, port = base.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.getheaders()
    finally:
        conn.close()


def _smoke(ctx, mode, base):
    tok = ctx.request(base, "POST", "/api/auth/login",
                      {"email": ADMIN, "password": ADMIN_PASSWORD}).json()["token"]
    auth = {"Authorization": "Bearer " + tok}
    r = ctx.request(base, "GET", "/api/auth/me", headers=auth)
    assert r.status == 200 and r.json()["email"] == ADMIN, r
    assert ctx.request(base, "GET", "/api/auth/me").status == 401

    # validation errors, all at once, nothing created
    bad = [HEADER, ["", "Brak nazwy", "Org", "dużo", "31.02.2026", "", ""]]
    r = _upload(ctx, base, auth, xlsxgen.build(bad))
    assert r.status == 400 and r.json()["error"] == "validation_failed", r
    assert {e["column"] for e in r.json()["errors"]} >= {"A", "D", "E"}, r.json()

    r = _upload(ctx, base, auth, xlsxgen.build(_rows(3)))
    assert r.status == 201, r
    batch = r.json()["id"]
    r = ctx.request(base, "POST", f"/api/batches/{batch}/generate", {}, auth)
    assert r.status == 202, r
    b = ctx.request(base, "GET", f"/api/batches/{batch}", headers=auth).json()
    assert b["queue"]["workers"] == 0, b   # cron has not started one yet

    worker, wlog = _cron_worker(ctx, mode, idle_exit=40)
    try:

        def events():
            # like the browser: a single-use ticket (issue 16), fetched just
            # before the stream opens (valid 60 s)
            r = ctx.request(base, "POST", f"/api/events/{batch}/ticket", {}, auth)
            assert r.status == 201, r
            return r.json()["url"]
        if mode == "cgi":
            # plain CGI streams: events arrive while the batch is generating
            text, at = _read_events(base, events(), 40, ["event: snapshot", "event: batch.completed"])
            assert at is not None, text[-500:]
        else:
            # mod_fcgid buffers the stream (FcgidOutputBufferSize): the UI polls
            # GET /api/batches/{id}; every project reaches COMPLETED there
            seen = set()

            def done():
                bb = ctx.request(base, "GET", f"/api/batches/{batch}", headers=auth).json()
                seen.update(p["status"] for p in bb["projects"])
                return all(p["status"] == "COMPLETED" for p in bb["projects"])
            ctx.wait_until(done, timeout=60, interval=0.3, what=f"{mode}: batch completed")
            assert "COMPLETED" in seen, seen
            # and the stream is held back: nothing within a few seconds
            text, at = _read_events(base, events(), 4, ["event: snapshot"])
            assert at is None, f"mod_fcgid delivered the stream unbuffered? {text[:200]}"
        ctx.wait_until(lambda: all(p["status"] == "COMPLETED" for p in ctx.request(
            base, "GET", f"/api/batches/{batch}", headers=auth).json()["projects"]),
            timeout=60, what=f"{mode}: all projects completed")
        pid = ctx.request(base, "GET", f"/api/batches/{batch}", headers=auth).json()["projects"][0]["id"]

        # edit with a stale version: 409; with the right one: 200
        p = ctx.request(base, "GET", f"/api/projects/{pid}", headers=auth).json()
        edit = {"sections": {"summary": {"body": "Streszczenie poprawione na hostingu."}}}
        r = ctx.request(base, "PATCH", f"/api/projects/{pid}", dict(edit, version=p["version"] + 5), auth)
        assert r.status == 409 and r.json()["error"] == "version_conflict", r
        r = ctx.request(base, "PATCH", f"/api/projects/{pid}", dict(edit, version=p["version"]), auth)
        assert r.status == 200, r

        # exports, built by the cron worker
        r = ctx.request(base, "GET", f"/api/export/project/{pid}", headers=auth, timeout=90)
        assert r.status == 200 and r.body[:2] == b"PK", r
        assert "wordprocessingml" in r.header("content-type", ""), r.headers
        r = ctx.request(base, "GET", f"/api/export/batch/{batch}", headers=auth, timeout=90)
        assert r.status == 200 and r.body[:2] == b"PK", r
    finally:
        if worker.poll() is None:
            worker.terminate()
        assert worker.wait(timeout=60) == 0, log_text(wlog)
    assert "(--cron)" in log_text(wlog), log_text(wlog)
    return batch


def test_shared_host_smoke(ctx):
    errors = []
    for mode, base in _sites(ctx).items():
        try:
            _smoke(ctx, mode, base)
        except Exception as e:  # noqa: BLE001
            errors.append(f"[{mode}] {type(e).__name__}: {e}")
    assert not errors, "; ".join(errors)


def test_shared_host_serves_no_secrets(ctx):
    """Nothing under the document root serves the config, its pointer, the SQL,
    a log, the libraries or the .htaccess; the programs only through routes."""
    for mode, base in _sites(ctx).items():
        ext = "cgi" if mode == "cgi" else "fcgi"
        home = _home(ctx, mode)
        for path in ["/.kartograf-config", "/.htaccess", "/lib/libpq.so.5", "/lib/",
                     f"/health.{ext}", f"/project.{ext}", "/../kartograf/kartograf.conf",
                     "/kartograf/kartograf.conf", "/sql/001_init.sql", "/kartograf.conf",
                     "/kartograf.conf.example", "/log/worker.log", "/errors/"]:
            r = ctx.request(base, "GET", path)
            # (400: Apache refuses a path climbing out of the root outright)
            assert r.status in (403, 404) or (r.status == 400 and "/.." in path), (mode, path, r)
            assert b"jwt_key" not in r.body and b"conninfo" not in r.body, (mode, path)
        conf = os.path.join(home, "kartograf", "kartograf.conf")
        assert oct(os.stat(conf).st_mode & 0o777) == "0o600", oct(os.stat(conf).st_mode)
        assert oct(os.stat(os.path.dirname(conf)).st_mode & 0o777) == "0o700"
        for d in ("files", "log"):   # stored files and logs: the account's alone
            st = os.stat(os.path.join(home, "kartograf", d))
            assert oct(st.st_mode & 0o777) == "0o700", (mode, d, oct(st.st_mode))
        assert not os.path.realpath(conf).startswith(os.path.realpath(home + "/public_html"))
        # unknown API paths: JSON 404 from the program, not an HTML page
        r = ctx.request(base, "GET", "/api/nope")
        assert r.status == 404 and r.json()["error"] == "not_found", (mode, r)
        # the security headers of the .htaccess (mod_headers), each exactly once,
        # on the UI, on program answers and on the server's own errors
        for path in ["/", "/app/main.js", "/api/health", "/api/nope", "/.htaccess"]:
            hs = _raw_headers(base, path)
            for name, want in [("content-security-policy", "script-src 'self'"),
                               ("x-content-type-options", "nosniff"),
                               ("referrer-policy", "no-referrer")]:
                got = [v for k, v in hs if k.lower() == name]
                assert len(got) == 1 and want in got[0], (mode, path, name, got)
        assert not [d for d in os.listdir(os.path.join(home, "public_html"))
                    if d.startswith("kartograf-probe")], "the installer's probe was left behind"


def test_shared_host_upload_limit(ctx):
    """mod_fcgid refuses a body above FcgidMaxRequestLen (128 KiB) itself: the
    answer is still JSON (the .htaccess ErrorDocument) and has no request_id,
    which is how the UI tells it from Kartograf's own errors; plain CGI has no
    such limit."""
    sites = _sites(ctx)
    tok = {m: ctx.request(b, "POST", "/api/auth/login",
                          {"email": ADMIN, "password": ADMIN_PASSWORD}).json()["token"]
           for m, b in sites.items()}
    big = b"x" * (300 * 1024)
    body, ct = xlsxgen.multipart([("file", "duzy.csv", "text/csv", big)])
    r = ctx.request(sites["fcgid"], "POST", "/api/batches", body,
                    {"Authorization": "Bearer " + tok["fcgid"], "Content-Type": ct})
    assert r.status == 500 and "request_id" not in r.json(), r
    r = ctx.request(sites["cgi"], "POST", "/api/batches", body,
                    {"Authorization": "Bearer " + tok["cgi"], "Content-Type": ct})
    assert r.status == 400 and "request_id" in r.json(), r   # Kartograf read it: not a sheet


def _installer(ctx):
    sh = os.path.join(ctx.state, "shared")
    inst = [d for d in os.listdir(os.path.join(sh, "unpacked-cgi")) if d.startswith("kartograf-")]
    return os.path.join(sh, "unpacked-cgi", inst[0], "kartograf-install-shared")


def _run_installer(ctx, *args, stdin=""):
    p = subprocess.run(_as_account([_installer(ctx), *args]), input=stdin, capture_output=True,
                       text=True, timeout=180)
    return p.returncode, p.stdout + p.stderr


def _tree(top):
    """{relative path: sha256 or 'dir'} of everything under top (None if absent)."""
    if not os.path.exists(top):
        return None
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs:
            out[os.path.relpath(os.path.join(d, n), top)] = "dir"
        for n in files:
            with open(os.path.join(d, n), "rb") as f:
                out[os.path.relpath(os.path.join(d, n), top)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _scratch(ctx, tag):
    d = os.path.join(ctx.state, "shared", f"{tag}-{uuid.uuid4().hex[:6]}")
    os.makedirs(d)
    os.chmod(d, 0o755)
    subprocess.run(["chown", "www-data:www-data", d], check=False)
    return d


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MODDIR = "/usr/lib/apache2/modules"


@contextlib.contextmanager
def _throwaway_apache(ctx, modules, override="All"):
    """A second, throwaway shared-host Apache on a free loopback port with only
    the given optional modules loaded (of rewrite, cgid, fcgid, headers):
    AllowOverride `override` on <root>/public_html, the account's (www-data)
    document root.  Yields (base URL, root)."""
    root = _scratch(ctx, "apache-" + "-".join(modules))
    www, run = os.path.join(root, "public_html"), os.path.join(root, "run")
    os.makedirs(www)
    os.makedirs(os.path.join(run, "fcgid"))
    port = _free_port()
    lines = [f'ServerRoot "{root}"', "ServerName 127.0.0.1", f"Listen 127.0.0.1:{port}",
             f'PidFile "{run}/httpd.pid"', f'DefaultRuntimeDir "{run}"',
             f'ErrorLog "{root}/error.log"', "LogLevel warn"]
    if os.getuid() == 0:
        lines += ["User www-data", "Group www-data"]
    for m in ["mpm_event", "authz_core", "mime", "dir"] + list(modules):
        lines.append(f"LoadModule {m}_module {MODDIR}/mod_{m}.so")
    if "cgid" in modules:
        lines.append(f'ScriptSock "{run}/cgid.sock"')
    if "fcgid" in modules:
        lines += [f'FcgidIPCDir "{run}/fcgid"', f'FcgidProcessTableFile "{run}/fcgid_shm"']
    lines += ["StartServers 1", "ServerLimit 2", "ThreadsPerChild 16", "MaxRequestWorkers 32",
              "TypesConfig /etc/mime.types",
              "<Directory />", "    AllowOverride None", "    Require all denied", "</Directory>",
              f'<Directory "{www}">', f"    AllowOverride {override}", "    Options SymLinksIfOwnerMatch",
              "    Require all granted", "</Directory>",
              '<Files ".ht*">', "    Require all denied", "</Files>",
              f'DocumentRoot "{www}"']
    conf = os.path.join(root, "httpd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["chown", "-R", "www-data:www-data", www, run], check=False)
    bin_ = shutil.which("apache2") or "/usr/sbin/apache2"
    proc = subprocess.Popen([bin_, "-f", conf, "-DFOREGROUND"], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(root, "apache.log"), "w"))
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            assert proc.poll() is None, open(os.path.join(root, "apache.log")).read()
            try:
                return ctx.request(base, "GET", "/nothing-here", timeout=2).status == 404
            except OSError:
                return False
        ctx.wait_until(up, timeout=30, what=f"throwaway Apache ({' '.join(modules)})")
        yield base, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _install_args(ctx, root, mode, base):
    db = f"host=127.0.0.1 port={ctx.env['PG_PORT']} dbname=kg_shared_cgi user=kartograf"
    return ["--dest", f"{root}/public_html", "--config-dir", f"{root}/kartograf", "--mode", mode,
            "--db", db, "--redis-host", "127.0.0.1", "--redis-port", ctx.env["REDIS_PORT"],
            "--redis-db", "1", "--url", base, "--admin-email", ADMIN]


def _refused_untouched(ctx, root, mode, base, want):
    """The installer refuses with `want` in its message and exit status 1, and
    leaves nothing behind: the document root exactly as it was (the account's
    own files and .htaccess included), no config directory."""
    www = os.path.join(root, "public_html")
    before = _tree(www)
    rc, out = _run_installer(ctx, *_install_args(ctx, root, mode, base), stdin=ADMIN_PASSWORD + "\n")
    assert rc == 1 and want in out, (rc, out)
    assert "Kartograf is installed" not in out, out
    assert _tree(www) == before, (sorted(set(_tree(www)) ^ set(before)), out)
    assert not os.path.exists(os.path.join(root, "kartograf")), os.listdir(root)


def test_installer_refuses_apache_without_mod_rewrite(ctx):
    """A real second Apache without mod_rewrite (mod_cgid, mod_fcgid and
    mod_headers loaded, AllowOverride All): the installer says mod_rewrite is
    missing, exits 1, and nothing is half-installed."""
    with _throwaway_apache(ctx, ["cgid", "fcgid", "headers"]) as (base, root):
        www = os.path.join(root, "public_html")
        # the account's own site, which must survive the refusal untouched
        with open(os.path.join(www, "mine.html"), "w") as f:
            f.write("<p>moja strona</p>\n")
        with open(os.path.join(www, ".htaccess"), "w") as f:
            f.write("# my own settings\nDirectoryIndex mine.html\n")
        subprocess.run(["chown", "-R", "www-data:www-data", www], check=False)
        assert ctx.request(base, "GET", "/").body == b"<p>moja strona</p>\n"
        for mode in ("cgi", "fcgid"):
            _refused_untouched(ctx, root, mode, base, "mod_rewrite is not loaded on this server")
        assert ctx.request(base, "GET", "/").body == b"<p>moja strona</p>\n"


def test_installer_without_mod_fcgid_or_mod_headers(ctx):
    """A second Apache with mod_rewrite and mod_cgid only: --mode fcgid is
    refused (the programs would otherwise be handed out as files) and leaves
    nothing; --mode cgi installs and works without mod_headers (its headers
    are "where available"), Authorization reaching the programs."""
    with _throwaway_apache(ctx, ["rewrite", "cgid"]) as (base, root):
        www = os.path.join(root, "public_html")
        # the account's own page and .htaccess, there before Kartograf
        with open(os.path.join(www, "mine.html"), "w") as f:
            f.write("<p>moja strona</p>\n")
        with open(os.path.join(www, ".htaccess"), "w") as f:
            f.write("# my own settings\n")
        subprocess.run(["chown", "-R", "www-data:www-data", www], check=False)
        own = _tree(www)
        _refused_untouched(ctx, root, "fcgid", base, "mod_fcgid is not loaded on this server")
        rc, out = _run_installer(ctx, *_install_args(ctx, root, "cgi", base), stdin=ADMIN_PASSWORD + "\n")
        assert rc == 0 and "checked: " in out, out
        r = ctx.request(base, "GET", "/")
        assert r.status == 200 and b"<script" in r.body, r
        assert "content-security-policy" not in {k.lower() for k in r.headers}, r.headers
        tok = ctx.request(base, "POST", "/api/auth/login",
                          {"email": ADMIN, "password": ADMIN_PASSWORD}).json()["token"]
        r = ctx.request(base, "GET", "/api/auth/me", headers={"Authorization": "Bearer " + tok})
        assert r.status == 200 and r.json()["email"] == ADMIN, r
        # a program by its file name: refused by the rewrite guard, not run or served
        r = ctx.request(base, "GET", "/health.cgi")
        assert r.status == 403 and b"ELF" not in r.body, r
        assert not [d for d in os.listdir(www) if d.startswith("kartograf-probe")]
        assert "kept your previous .htaccess" in out, out
        # README's uninstall block (the crontab line aside) leaves the account's
        # own files exactly as they were before the install
        _readme_uninstall(root)
        assert _tree(www) == own, sorted(set(_tree(www)) ^ set(own))
        assert not os.path.exists(os.path.join(root, "kartograf"))


def test_installer_refuses_narrow_allowoverride(ctx):
    """Throwaway Apaches with every module but a document root whose
    AllowOverride ignores the .htaccess (None: 404) or refuses it (no Options:
    500): refused with the reason, nothing left behind."""
    mods = ["rewrite", "cgid", "headers"]
    with _throwaway_apache(ctx, mods, override="None") as (base, root):
        _refused_untouched(ctx, root, "cgi", base, "AllowOverride None ignores the .htaccess")
    with _throwaway_apache(ctx, mods, override="FileInfo AuthConfig Limit") as (base, root):
        _refused_untouched(ctx, root, "cgi", base, "500 - the server refused the .htaccess")


def _readme_uninstall(home):
    """Run the README's "Uninstalling" shell block as the account with HOME=home."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")) as f:
        text = f.read()
    block = text.split("**Uninstalling**", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    script = "set -e\n" + "\n".join(line for line in block.splitlines()
                                     if not line.startswith("crontab"))
    p = subprocess.run(_as_account(["sh", "-c", script], {"HOME": home}), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, (script, p.stdout, p.stderr)


def test_installer_refusals(ctx):
    scratch = _scratch(ctx, "scratch")

    def run(*args, stdin=""):
        return _run_installer(ctx, *args, stdin=stdin)

    db = f"host=127.0.0.1 port={ctx.env['PG_PORT']} dbname=kg_shared_cgi user=kartograf"
    rc, out = run("--dest", "/proc/kg-nope", "--config-dir", f"{scratch}/c", "--db", db)
    assert rc == 1 and "destination" in out, out
    assert not os.path.exists(f"{scratch}/c")
    # an existing document root the account cannot write to
    ro = os.path.join(scratch, "ro")
    os.makedirs(ro)
    os.chmod(ro, 0o755)   # root's, not the account's
    if os.getuid() == 0:
        rc, out = run("--dest", ro, "--config-dir", f"{scratch}/c", "--db", db)
        assert rc == 1 and f"the destination {ro} is not writable" in out, out
        assert os.listdir(ro) == [] and not os.path.exists(f"{scratch}/c"), out
    rc, out = run("--dest", f"{scratch}/www", "--config-dir", f"{scratch}/www/conf", "--db", db)
    assert rc == 1 and "inside the document root" in out, out
    assert not os.path.exists(f"{scratch}/www"), os.listdir(scratch)
    rc, out = run("--dest", f"{scratch}/www", "--config-dir", f"{scratch}/c",
                  "--db", "host=127.0.0.1 port=1 dbname=x user=kartograf connect_timeout=2")
    assert rc == 1 and "database unreachable" in out, out
    assert not os.path.exists(f"{scratch}/www") and not os.path.exists(f"{scratch}/c"), \
        os.listdir(scratch)
    # no web server answers at --url
    rc, out = run("--dest", f"{scratch}/www2", "--config-dir", f"{scratch}/c2", "--db", db,
                  "--url", f"http://127.0.0.1:{_free_port()}")
    assert rc == 1 and "no answer from" in out, out
    assert not os.path.exists(f"{scratch}/www2") and not os.path.exists(f"{scratch}/c2")
    # a site below the domain's root: the UI calls /api/... there
    rc, out = run("--dest", f"{scratch}/www3", "--config-dir", f"{scratch}/c3", "--db", db,
                  "--url", "http://127.0.0.1:1/kartograf/")
    assert rc == 1 and "root of a (sub)domain" in out, out
    assert not os.path.exists(f"{scratch}/www3") and not os.path.exists(f"{scratch}/c3")
    rc, out = run("--bogus")
    assert rc == 2, out


def test_shared_host_upgrade_in_place(ctx):
    """The installer run again over the cgi site (after the smoke: sorted
    after it) keeps the config, stored files, users, batches, cards and stored
    exports, and prints the crontab line."""
    def run(*args, stdin=""):
        return _run_installer(ctx, *args, stdin=stdin)
    home = _home(ctx, "cgi")
    conf = os.path.join(home, "kartograf", "kartograf.conf")
    before = open(conf).read()
    base = _sites(ctx)["cgi"]
    tok = ctx.request(base, "POST", "/api/auth/login",
                      {"email": ADMIN, "password": ADMIN_PASSWORD}).json()["token"]
    auth = {"Authorization": "Bearer " + tok}
    # data of its own as well, whatever ran before
    assert _upload(ctx, base, auth, xlsxgen.build(_rows(2))).status == 201
    batches = ctx.request(base, "GET", "/api/batches", headers=auth).json()["batches"]
    files_before = _tree(os.path.join(home, "kartograf", "files"))
    cards = {}
    for b in batches:
        for p in ctx.request(base, "GET", f"/api/batches/{b['id']}", headers=auth).json()["projects"]:
            cards[p["id"]] = ctx.request(base, "GET", f"/api/projects/{p['id']}", headers=auth).json()
    rc, out = run("--dest", f"{home}/public_html", "--config-dir", f"{home}/kartograf",
                  "--mode", "cgi", "--url", base, "--admin-email", ADMIN, stdin=ADMIN_PASSWORD + "\n")
    assert rc == 0 and "keeping" in out and "exists, kept" in out, out
    # the crontab line, with this install's worker
    cron = f"* * * * * {home}/kartograf/app/bin/kartograf-worker --cron >>{home}/kartograf/log/worker.log 2>&1"
    assert cron in out and f"site:     {base}/" in out, out
    assert open(conf).read() == before
    assert _tree(os.path.join(home, "kartograf", "files")) == files_before
    r = ctx.request(base, "GET", "/api/batches", headers=auth)   # same jwt_key: still logged in
    assert r.status == 200 and [b["id"] for b in r.json()["batches"]] == [b["id"] for b in batches], r
    for pid, card in cards.items():
        assert ctx.request(base, "GET", f"/api/projects/{pid}", headers=auth).json() == card, pid
    assert len(cards) >= 2, cards
    done = [b for b in batches if all(p["status"] == "COMPLETED" for p in ctx.request(
        base, "GET", f"/api/batches/{b['id']}", headers=auth).json()["projects"])]
    if done:   # the smoke's stored .zip is still served after the upgrade
        r = ctx.request(base, "GET", f"/api/export/batch/{done[0]['id']}", headers=auth, timeout=90)
        assert r.status == 200 and r.body[:2] == b"PK", r
    assert not [d for d in os.listdir(f"{home}/public_html") if d.startswith("kartograf-probe")]


GLIBC = ("libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "libresolv.so",
         "libutil.so", "libanl.so", "libnsl.so", "libmvec.so", "ld-linux", "linux-vdso")


def test_bundle_is_self_contained(ctx):
    """Every library a bundled program loads, glibc and the vDSO aside, comes
    from inside the bundle (RPATH=$ORIGIN/...), wherever the bundle is copied,
    and the programs run from there with an empty environment."""
    import tarfile
    bundle = ctx.env.get("SHARED_BUNDLE")
    assert bundle and os.path.isfile(bundle), "no bundle: make bundle, kgstack start shared"
    fresh = os.path.join(ctx.tmpdir, "fresh-" + uuid.uuid4().hex[:6])
    with tarfile.open(bundle) as t:
        t.extractall(fresh)
    top = os.path.join(fresh, os.listdir(fresh)[0])
    progs = [os.path.join(top, d, f) for d in ("bin", "cgi-bin")
             for f in sorted(os.listdir(os.path.join(top, d))) if not f.startswith(".")]
    assert len(progs) >= 12, progs
    for prog in progs:
        out = subprocess.run(["ldd", prog], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": ""}).stdout
        for line in out.splitlines():
            name = line.split()[0]
            assert "not found" not in line, (prog, line)
            if name.startswith(GLIBC) or "=>" not in line:
                continue
            path = os.path.realpath(line.split("=>")[1].split("(")[0].strip())
            assert path.startswith(top + "/lib/"), (prog, line)
    # run from the fresh copy: a CGI request, and the admin tool
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "", "KARTOGRAF_CONFIG": ctx.config_path,
           "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/api/health"}
    p = subprocess.run([os.path.join(top, "cgi-bin", "health.fcgi")], capture_output=True,
                       env=env, timeout=30, stdin=subprocess.DEVNULL)
    assert p.stdout.startswith(b"Status: 200"), (p.stdout[:300], p.stderr[-300:])
    p = subprocess.run([os.path.join(top, "bin", "kartograf-admin"), "config-check"],
                       capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": "",
                            "KARTOGRAF_CONFIG": ctx.config_path})
    assert p.returncode == 0, p.stderr
    assert os.path.getsize(bundle) < 40 * 1024 * 1024, os.path.getsize(bundle)
