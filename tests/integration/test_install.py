"""Production install (issue 14): the Debian package, the host setup, kartograf-ctl
running the installed layout behind the stack's real Apache, log rotation.

The package is built from the release build tree (build/, which `make test` has
just built) by `make deb`: nothing is compiled again when it is up to date.
"""
import os
import re
import shutil
import stat
import subprocess
import time

import xlsxgen
from kgtest import new_user, drop_users

IS_ROOT = os.geteuid() == 0
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def _run(ctx, args, timeout=300, env=None, check=True):
    p = subprocess.run(args, cwd=ctx.root, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    if check:
        assert p.returncode == 0, f"{' '.join(args)}: exit {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return p


def _service_user():
    """(user, group) the installed programs run as in these tests (no user is created)."""
    if not IS_ROOT:
        import grp
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    return "nobody", "nogroup"


# ---------------------------------------------------------------- the .deb

def test_deb_contents_and_lintian(ctx):
    if not shutil.which("dh") or not shutil.which("lintian"):
        raise AssertionError("debhelper/lintian missing: run scripts/deps.sh --test")
    p = _run(ctx, ["make", "--no-print-directory", "-s", "deb", "B=build"], timeout=900)
    deb = p.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"build/kartograf_0\.1\.0\+\d+_[a-z0-9]+\.deb", deb), p.stdout
    deb = os.path.join(ctx.root, deb)
    files = _run(ctx, ["dpkg-deb", "-c", deb]).stdout
    for path in ["./usr/lib/kartograf/cgi-bin/health.fcgi", "./usr/lib/kartograf/cgi-bin/events.fcgi",
                 "./usr/sbin/kartograf-worker", "./usr/sbin/kartograf-ctl", "./usr/sbin/kartograf-setup",
                 "./usr/bin/kartograf-admin", "./usr/share/kartograf/routes",
                 "./usr/share/kartograf/kartograf-host-setup", "./usr/share/kartograf/gen-webconf.py",
                 "./usr/share/kartograf/sql/001_schema.sql", "./usr/share/kartograf/htdocs/index.html",
                 "./usr/share/kartograf/apache/kartograf-routes.conf",
                 "./etc/apache2/sites-available/kartograf.conf",
                 "./etc/apache2/sites-available/kartograf-ssl.conf",
                 "./etc/logrotate.d/kartograf", "./usr/lib/tmpfiles.d/kartograf.conf",
                 "./lib/systemd/system/kartograf.target", "./lib/systemd/system/kartograf-worker.service",
                 "./lib/systemd/system/kartograf-fcgi@.socket", "./lib/systemd/system/kartograf-fcgi@.service"]:
        assert re.search(r"\s" + re.escape(path) + r"$", files, re.M), f"{path} not in the package"
    # the config is made by the postinst (fresh jwt_key), never shipped; no tests, no docs as input
    assert "etc/kartograf/kartograf.conf" not in files
    assert "tests/unit" not in files and "/doc/kartograf/examples" not in files
    info = _run(ctx, ["dpkg-deb", "-I", deb]).stdout
    depends = re.search(r"^ Depends: (.*)$", info, re.M).group(1)
    for lib in ["libpq5", "libfcgi0ldbl", "libhiredis", "libjwt", "libxlsxwriter", "spawn-fcgi", "adduser"]:
        assert lib in depends, f"{lib} not in Depends: {depends}"
    assert "cmocka" not in depends
    for script in ["postinst", "prerm", "postrm", "conffiles"]:
        assert re.search(rf"^\s+\d+ bytes,\s+\d+ lines\s+\*?\s+{script}\b", info, re.M), f"no {script}: {info}"
    conffiles = _run(ctx, ["dpkg-deb", "-I", deb, "conffiles"]).stdout.split()
    assert "/etc/apache2/sites-available/kartograf-ssl.conf" in conffiles, conffiles
    assert "/etc/logrotate.d/kartograf" in conffiles, conffiles
    lint = _run(ctx, ["lintian", "--tag-display-limit", "0", deb], check=False, timeout=600)
    errors = [l for l in lint.stdout.splitlines() if l.startswith("E:")]
    assert not errors, "lintian errors:\n" + "\n".join(errors)
    # the maintainer scripts' host setup, against a throwaway root
    root = os.path.join(ctx.tmpdir, "debroot")
    _run(ctx, ["dpkg-deb", "-x", deb, root])
    _host_setup_checks(ctx, os.path.join(root, "usr/share/kartograf/kartograf-host-setup"),
                       ["--root", root, "--example", os.path.join(root, "usr/share/kartograf/kartograf.conf.example")],
                       os.path.join(root, "etc/kartograf/kartograf.conf"), os.path.join(root, "var"))
    postinst = _run(ctx, ["dpkg-deb", "-I", deb, "postinst"]).stdout
    assert "/usr/share/kartograf/kartograf-host-setup" in postinst and "kartograf-admin migrate" in postinst
    postrm = _run(ctx, ["dpkg-deb", "-I", deb, "postrm"]).stdout
    assert "rm -f /etc/kartograf/kartograf.conf" in postrm and "database" in postrm


def _host_setup_checks(ctx, script, args, conf, var):
    user, group = _service_user()
    args = args + ["--user", user, "--no-useradd"]
    _run(ctx, [script] + args)
    st = os.stat(conf)
    assert stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
    if IS_ROOT:
        import grp
        assert st.st_uid == 0 and grp.getgrgid(st.st_gid).gr_name == group
    text = open(conf).read()
    key = re.search(r"^jwt_key = ([0-9a-f]{64})$", text, re.M)
    assert key, "no fresh 64-hex jwt_key in the new config"
    for d in ["lib/kartograf/files", "log/kartograf"]:
        assert os.path.isdir(os.path.join(var, d)), d
    # an upgrade (a second run) never overwrites the config, even an edited one
    with open(conf, "a") as f:
        f.write("; edited by the admin\n")
    os.chmod(conf, 0o644)
    _run(ctx, [script] + args)
    again = open(conf).read()
    assert again == text + "; edited by the admin\n", "host setup rewrote an existing config"
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o640, "world-readable config left as it was"
    return key.group(1)


# ---------------------------------------------------------------- make install + kartograf-ctl

def _install(ctx):
    inst = os.path.join(ctx.state, "inst")
    shutil.rmtree(inst, ignore_errors=True)
    os.makedirs(inst)
    os.chmod(inst, 0o755)
    user, _ = _service_user()
    build = os.path.relpath(ctx.build, ctx.root) if os.path.isabs(ctx.build) else ctx.build
    _run(ctx, ["make", "--no-print-directory", "-s", "install", f"B={build}", f"PREFIX={inst}/usr",
               f"SYSCONFDIR={inst}/etc", f"LOCALSTATEDIR={inst}/var", f"RUNSTATEDIR={inst}/run",
               f"HOST_SETUP_ARGS=--user {user} --no-useradd"], timeout=600)
    return inst


def _ctl(ctx, inst, *args, check=True):
    user, _ = _service_user()
    env = {"KARTOGRAF_RUNDIR": os.path.join(ctx.state, "run"), "KARTOGRAF_USER": user,
           "KARTOGRAF_WEB_GROUP": "www-data" if IS_ROOT else _service_user()[1],
           "KARTOGRAF_CTL_FORCE": "1"}
    return _run(ctx, [os.path.join(inst, "usr/sbin/kartograf-ctl"), *args], env=env, check=check,
                timeout=120)


def _smoke_through_apache(ctx):
    """Health, login, upload, generate (the installed worker), download the card."""
    base = ctx.servers["apache"]
    r = ctx.request(base, "GET", "/api/health")
    assert r.status == 200, f"health through Apache: {r}"
    email, auth = new_user(ctx, "inst")
    try:
        rows = [["Nazwa projektu", "Opis", "Wnioskodawca", "Budżet (PLN)", "Data rozpoczęcia",
                 "Data zakończenia", "Grupa docelowa"],
                ["Park kieszonkowy", "Zieleń i ławki dla mieszkańców osiedla.", "Fundacja Łąka",
                 125000, "01.03.2026", "31.12.2026", "mieszkańcy"]]
        body, ct = xlsxgen.multipart([("file", "p.xlsx", XLSX, xlsxgen.build(rows))])
        r = ctx.request(base, "POST", "/api/batches", body, dict(auth, **{"Content-Type": ct}), timeout=30)
        assert r.status in (200, 201), f"upload through Apache: {r}"
        batch = r.json()["id"]
        r = ctx.request(base, "POST", f"/api/batches/{batch}/generate", headers=auth, timeout=30)
        assert r.status in (200, 202), f"generate through Apache: {r}"
        ctx.wait_until(lambda: ctx.psql(f"SELECT status FROM batches WHERE id = '{batch}'").strip()
                       in ("COMPLETED", "PARTIAL"), timeout=60, what="batch generated by the installed worker")
        project = ctx.psql(f"SELECT id FROM projects WHERE batch_id = '{batch}'").split()[0]
        r = ctx.request(base, "GET", f"/api/export/project/{project}", headers=auth, timeout=60)
        assert r.status == 200 and r.body[:2] == b"PK", f"card download through Apache: {r}"
    finally:
        drop_users(ctx, email)


def test_ctl_runs_installed_layout_behind_apache(ctx):
    inst = _install(ctx)
    conf = os.path.join(inst, "etc/kartograf/kartograf.conf")
    # make install did the host setup: the config exists with a fresh key, 0640
    _host_setup_checks(ctx, os.path.join(inst, "usr/share/kartograf/kartograf-host-setup"), [], conf,
                       os.path.join(inst, "var"))
    # nothing from the source tree: routes and helpers under share/kartograf, not doc/
    assert os.path.exists(os.path.join(inst, "usr/share/kartograf/routes"))
    assert not os.path.exists(os.path.join(inst, "usr/share/doc/kartograf"))
    assert not os.path.exists(os.path.join(inst, "usr/lib/kartograf/cgi-bin/test_config"))
    # point the installed config at the stack's PostgreSQL/Redis, storage in the install
    stack = open(ctx.config_path).read()
    files = os.path.join(inst, "var/lib/kartograf/files")
    stack = re.sub(r"^local_dir = .*$", f"local_dir = {files}", stack, flags=re.M)
    with open(conf, "w") as f:
        f.write(stack)
    logdir = os.path.join(inst, "var/log/kartograf")
    ctx.stack("stop", "worker", "fcgi")
    try:
        p = _ctl(ctx, inst, "status", check=False)
        assert p.returncode == 3, f"status with nothing running: exit {p.returncode}\n{p.stdout}"
        _ctl(ctx, inst, "start")
        p = _ctl(ctx, inst, "start")            # idempotent
        assert "already running" in p.stdout, p.stdout
        p = _ctl(ctx, inst, "status")
        assert "STOPPED" not in p.stdout, p.stdout
        run = os.path.join(ctx.state, "run")
        for name in ["health", "events", "kartograf-worker"]:
            raw = open(os.path.join(run, f"{name}.pid")).read()
            assert re.fullmatch(r"\d+\n", raw), f"{name}.pid: {raw!r} (one line with a newline)"
        # procs=N from the route list: events has procs=2 -> fcgi-multi + 2 programs
        pid = open(os.path.join(run, "events.pid")).read().strip()
        kids = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
        assert len(kids) == 2, f"events (procs=2) runs {len(kids)} processes under pid {pid}"
        if IS_ROOT:
            st = os.stat(os.path.join(run, "health.sock"))
            assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
            owner = subprocess.run(["ps", "-o", "user=", "-p", pid], capture_output=True, text=True).stdout.strip()
            assert owner == "nobody", f"events runs as {owner}"
        _smoke_through_apache(ctx)
        # per-program logs, never /dev/null
        health_log = os.path.join(logdir, "health.log")
        assert "GET /api/health 200" in open(health_log).read(), "health.log has no request line"
        assert os.path.getsize(os.path.join(logdir, "worker.log")) > 0
        _logrotate_copytruncate(ctx, inst, logdir)
        # one program down -> status says so and exits non-zero
        os.kill(int(open(os.path.join(run, "metrics.pid")).read()), 15)
        ctx.wait_until(lambda: _ctl(ctx, inst, "status", check=False).returncode == 3, timeout=10,
                       what="status notices a stopped program")
        assert re.search(r"^metrics\s+STOPPED", _ctl(ctx, inst, "status", check=False).stdout, re.M)
        _ctl(ctx, inst, "reload")
        assert _ctl(ctx, inst, "status", check=False).returncode == 0
    finally:
        _ctl(ctx, inst, "stop", check=False)
        p = _ctl(ctx, inst, "stop", check=False)
        ctx.stack("start", "fcgi", "worker")
    assert p.returncode == 0, p.stderr
    assert _ctl(ctx, inst, "status", check=False).returncode == 3
    assert not [f for f in os.listdir(os.path.join(ctx.state, "run"))
                if f in ("health.pid", "kartograf-worker.pid")], "pid files left after stop"
    for f in os.listdir(logdir):
        text = open(os.path.join(logdir, f), errors="replace").read()
        assert not any(s in text for s in SANITIZER), f"sanitizer report in {f}:\n{text[-3000:]}"


def _logrotate_copytruncate(ctx, inst, logdir):
    """The shipped logrotate snippet rotates a live program log; the program goes on
    writing to the emptied file (copytruncate: no signal, no lost lines)."""
    if not shutil.which("logrotate"):
        raise AssertionError("logrotate missing: run scripts/deps.sh --test")
    snippet = open(os.path.join(inst, "etc/logrotate.d/kartograf")).read()
    assert "copytruncate" in snippet
    user, group = _service_user()
    conf = os.path.join(ctx.tmpdir, "logrotate.conf")
    with open(conf, "w") as f:
        f.write(snippet.replace("su kartograf adm", f"su root {'root' if IS_ROOT else group}"))
    log = os.path.join(logdir, "health.log")
    before = os.path.getsize(log)
    _run(ctx, ["logrotate", "-f", "-s", os.path.join(ctx.tmpdir, "logrotate.state"), conf])
    assert os.path.exists(log + ".1") and os.path.getsize(log + ".1") >= before
    assert os.path.getsize(log) == 0
    r = ctx.request(ctx.servers["apache"], "GET", "/api/health")
    assert r.status == 200
    ctx.wait_until(lambda: "GET /api/health 200" in open(log).read(), timeout=5,
                   what="the program writes to the rotated log")
    assert b"\0" not in open(log, "rb").read(), "holes in the truncated log (not O_APPEND)"


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_tls_site_redirects_and_sends_hsts(ctx):
    """The shipped kartograf-ssl.conf, as installed, under a real Apache: port 80
    redirects to HTTPS, port 443 serves the site with HSTS and the access log
    holds no query string."""
    import ssl
    import http.client
    inst = os.path.join(ctx.state, "inst")
    if not os.path.exists(os.path.join(inst, "etc/apache2/sites-available/kartograf-ssl.conf")):
        inst = _install(ctx)
    d = os.path.join(ctx.tmpdir, "tls")
    os.makedirs(os.path.join(d, "log"))
    os.makedirs(os.path.join(d, "run"))
    _run(ctx, ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
               "/CN=kartograf.test", "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem"])
    site = open(os.path.join(inst, "etc/apache2/sites-available/kartograf-ssl.conf")).read()
    p80, p443 = _free_port(), _free_port()
    site = (site.replace("*:80", f"127.0.0.1:{p80}").replace("*:443", f"127.0.0.1:{p443}")
            .replace("/etc/ssl/certs/ssl-cert-snakeoil.pem", f"{d}/cert.pem")
            .replace("/etc/ssl/private/ssl-cert-snakeoil.key", f"{d}/key.pem")
            .replace("kartograf.example.org", "kartograf.test"))
    mods = "/usr/lib/apache2/modules"
    load = "\n".join(f"LoadModule {m}_module {mods}/mod_{m}.so" for m in
                     ["mpm_event", "authz_core", "mime", "dir", "headers", "env", "setenvif", "proxy",
                      "proxy_fcgi", "ssl", "alias", "log_config"]
                     if os.path.exists(f"{mods}/mod_{m}.so"))
    user = "User www-data\nGroup www-data\n" if IS_ROOT else ""
    conf = os.path.join(d, "httpd.conf")
    with open(conf, "w") as f:
        f.write(f"""ServerRoot "{d}"
Define APACHE_LOG_DIR {d}/log
Listen 127.0.0.1:{p80}
Listen 127.0.0.1:{p443}
PidFile "{d}/run/httpd.pid"
DefaultRuntimeDir "{d}/run"
ErrorLog "{d}/log/error.log"
{user}{load}
TypesConfig /etc/mime.types
{site}
""")
    os.chmod(d, 0o755)
    apache = shutil.which("apache2") or "/usr/sbin/apache2"
    _run(ctx, [apache, "-t", "-f", conf])
    proc = subprocess.Popen([apache, "-f", conf, "-DFOREGROUND"], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(d, "log", "stderr.log"), "w"))
    try:
        def redirect():
            try:
                return ctx.request(f"http://127.0.0.1:{p80}", "GET", "/api/events/x?token=abc.def.ghi",
                                   record=False)  # Apache's redirect, not the API
            except OSError:
                return None
        r = ctx.wait_until(redirect, timeout=15, what="Apache with the TLS site")
        assert r.status == 301, r
        assert r.header("location") == "https://kartograf.test/api/events/x?token=abc.def.ghi", r.headers
        c = http.client.HTTPSConnection("127.0.0.1", p443, timeout=10,
                                        context=ssl._create_unverified_context())
        c.request("GET", "/", headers={"Host": "kartograf.test"})
        resp = c.getresponse()
        body = resp.read()
        assert resp.status == 200 and b"<html" in body.lower(), (resp.status, body[:200])
        assert resp.getheader("Strict-Transport-Security") == "max-age=31536000"
        assert "default-src 'self'" in (resp.getheader("Content-Security-Policy") or "")
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    access = open(os.path.join(d, "log", "kartograf-access.log")).read()
    assert "GET /api/events/x HTTP/1.1" in access, access
    assert "token" not in access, access
