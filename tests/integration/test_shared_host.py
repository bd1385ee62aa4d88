"""Shared hosting end to end (issue 13), through the shared-host Apache of
`kgstack start shared`: the bundle of `make bundle`, unpacked and installed by
kartograf-install-shared as the account (www-data) into its public_html, once in
--mode cgi (mod_cgid) and once in --mode fcgid (mod_fcgid), with nothing about
Kartograf in the server's configuration.  The worker runs the way cron runs it.
"""
import http.client
import os
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
        assert not os.path.realpath(conf).startswith(os.path.realpath(home + "/public_html"))
        # unknown API paths: JSON 404 from the program, not an HTML page
        r = ctx.request(base, "GET", "/api/nope")
        assert r.status == 404 and r.json()["error"] == "not_found", (mode, r)


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


def test_installer_refusals_and_upgrade(ctx):
    sh = os.path.join(ctx.state, "shared")
    inst = [d for d in os.listdir(os.path.join(sh, "unpacked-cgi")) if d.startswith("kartograf-")]
    script = os.path.join(sh, "unpacked-cgi", inst[0], "kartograf-install-shared")
    scratch = os.path.join(sh, "scratch-" + uuid.uuid4().hex[:6])
    os.makedirs(scratch)
    subprocess.run(["chown", "www-data:www-data", scratch], check=False)

    def run(*args, stdin=""):
        p = subprocess.run(_as_account([script, *args]), input=stdin, capture_output=True,
                           text=True, timeout=120)
        return p.returncode, p.stdout + p.stderr

    db = f"host=127.0.0.1 port={ctx.env['PG_PORT']} dbname=kg_shared_cgi user=kartograf"
    rc, out = run("--dest", "/proc/kg-nope", "--config-dir", f"{scratch}/c", "--db", db)
    assert rc == 1 and "destination" in out, out
    rc, out = run("--dest", f"{scratch}/www", "--config-dir", f"{scratch}/www/conf", "--db", db)
    assert rc == 1 and "inside the document root" in out, out
    rc, out = run("--dest", f"{scratch}/www", "--config-dir", f"{scratch}/c",
                  "--db", "host=127.0.0.1 port=1 dbname=x user=kartograf connect_timeout=2")
    assert rc == 1 and "database unreachable" in out, out
    # a server without the rewrite rules in effect (python's http.server: 404)
    srv = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           cwd=scratch)
    try:
        line = srv.stdout.readline()
        port = line.split("port ")[1].split()[0]
        rc, out = run("--dest", f"{scratch}/www2", "--config-dir", f"{scratch}/c2", "--db",
                      db, "--url", f"http://127.0.0.1:{port}")
        assert rc == 1 and "mod_rewrite" in out, out
    finally:
        srv.terminate()
        srv.wait()
    rc, out = run("--bogus")
    assert rc == 2, out

    # upgrade in place: the installer again over the cgi site keeps config, data, users
    home = _home(ctx, "cgi")
    conf = os.path.join(home, "kartograf", "kartograf.conf")
    before = open(conf).read()
    base = _sites(ctx)["cgi"]
    tok = ctx.request(base, "POST", "/api/auth/login",
                      {"email": ADMIN, "password": ADMIN_PASSWORD}).json()["token"]
    nb = len(ctx.request(base, "GET", "/api/batches", headers={"Authorization": "Bearer " + tok}
                         ).json()["batches"])
    rc, out = run("--dest", f"{home}/public_html", "--config-dir", f"{home}/kartograf",
                  "--mode", "cgi", "--url", base, "--admin-email", ADMIN, stdin=ADMIN_PASSWORD + "\n")
    assert rc == 0 and "keeping" in out and "exists, kept" in out, out
    assert open(conf).read() == before
    r = ctx.request(base, "GET", "/api/batches", headers={"Authorization": "Bearer " + tok})
    assert r.status == 200 and len(r.json()["batches"]) == nb, r   # same jwt_key, same data


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
