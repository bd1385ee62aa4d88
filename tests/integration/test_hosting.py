"""Shared hosting (issue 13): the same binaries as plain CGI programs.

The programs are started the way a web server starts a CGI script: the request
in the environment, the body on stdin, the answer read from stdout.  The same
routes, JSON errors and logs as under FastCGI.
"""
import json
import os
import signal
import subprocess
import time
import uuid

from kgtest import PASSWORD, add_user, drop_users, clear_throttle


SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def cgi(ctx, program, method, uri, body=None, headers=None, env=None):
    """Run build/cgi-bin/<program>.fcgi as CGI: (status, headers, body bytes, stderr)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    e = {"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method, "REQUEST_URI": uri,
         "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
         "QUERY_STRING": uri.split("?", 1)[1] if "?" in uri else ""}
    if body is not None:
        e["CONTENT_LENGTH"] = str(len(body))
        e.setdefault("CONTENT_TYPE", "application/json")
    for k, v in (headers or {}).items():
        if k.lower() == "content-type":
            e["CONTENT_TYPE"] = v
        else:
            e["HTTP_" + k.upper().replace("-", "_")] = v
    e.update(env or {})
    path = os.path.join(ctx.build, "cgi-bin", program + ".fcgi")
    clean = {k: v for k, v in os.environ.items()
             if k not in ("GATEWAY_INTERFACE", "REQUEST_METHOD")}
    clean.setdefault("KARTOGRAF_CONFIG", ctx.config_path)
    clean.update(e)
    p = subprocess.run([path], input=body or b"", capture_output=True, env=clean, timeout=30)
    err = p.stderr.decode("utf-8", "replace")
    assert not any(s in err for s in SANITIZER), f"{program}: {err[-2000:]}"
    head, sep, data = p.stdout.partition(b"\r\n\r\n")
    assert sep, f"{program}: no header block in {p.stdout[:200]!r} (rc {p.returncode}, {p.stderr[-300:]!r})"
    hdrs = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status = int(hdrs["status"].split()[0])
    return status, hdrs, data, p.stderr.decode("utf-8", "replace")


def test_cgi_requests_like_fastcgi(ctx):
    email = add_user(ctx, "cgi")
    try:
        clear_throttle(ctx)
        st, h, body, log = cgi(ctx, "health", "GET", "/api/health")
        assert st == 200 and json.loads(body)["status"] == "ok", (st, body)
        assert h.get("x-request-id") and h.get("x-content-type-options") == "nosniff", h
        assert "GET /api/health 200" in log, log

        # body on stdin, exactly CONTENT_LENGTH bytes
        st, _, body, _ = cgi(ctx, "login", "POST", "/api/auth/login",
                             {"email": email, "password": PASSWORD})
        assert st == 200, (st, body)
        auth = {"Authorization": "Bearer " + json.loads(body)["token"]}
        st, _, body, _ = cgi(ctx, "me", "GET", "/api/auth/me", headers=auth)
        assert st == 200 and json.loads(body)["email"] == email, (st, body)

        # the same JSON errors
        st, _, body, _ = cgi(ctx, "login", "POST", "/api/auth/login",
                             {"email": email, "password": "wrong password"})
        assert st == 401 and json.loads(body)["error"], (st, body)
        st, _, body, _ = cgi(ctx, "me", "GET", "/api/auth/me")
        assert st == 401, (st, body)
        st, _, body, _ = cgi(ctx, "health", "GET", "/api/nope")
        assert st == 404 and json.loads(body)["error"] == "not_found", (st, body)
        st, h, body, _ = cgi(ctx, "health", "DELETE", "/api/health")
        assert st == 405 and "GET" in h.get("allow", ""), (st, h)
        st, _, body, _ = cgi(ctx, "login", "POST", "/api/auth/login", "{not json")
        assert st == 400, (st, body)
        st, _, body, _ = cgi(ctx, "login", "POST", "/api/auth/login", "x",
                             headers={"Content-Type": "text/plain"})
        assert st == 415, (st, body)
        st, _, body, _ = cgi(ctx, "project", "GET", f"/api/projects/{uuid.uuid4()}", headers=auth)
        assert st == 404, (st, body)
        # a body above [http] max_body: 413 before reading it
        st, _, body, _ = cgi(ctx, "login", "POST", "/api/auth/login", "{}",
                             env={"CONTENT_LENGTH": str(1 << 40)})
        assert st == 413 and json.loads(body)["error"] == "payload_too_large", (st, body)
        st, _, body, _ = cgi(ctx, "login", "POST", "/api/auth/login", "{}",
                             env={"CONTENT_LENGTH": "12x"})
        assert st == 400, (st, body)
    finally:
        drop_users(ctx, email)


def test_cgi_routes_below_a_base_path(ctx):
    """A site in a subdirectory: the .htaccess passes the directory's URL path
    as KARTOGRAF_BASE (REDIRECT_KARTOGRAF_BASE after mod_rewrite's internal
    redirect) and routes match what follows it, %XX-encoded or not; without
    one (every other server) nothing changes."""
    for env in ({"KARTOGRAF_BASE": "/~konto/kartograf"},
                {"REDIRECT_KARTOGRAF_BASE": "/~konto/kartograf"},
                {"KARTOGRAF_BASE": "/~konto/kartograf/"}):
        for uri in ("/~konto/kartograf/api/health", "/%7Ekonto/kartograf/api/health?x=1"):
            st, _, body, log = cgi(ctx, "health", "GET", uri, env=env)
            assert st == 200 and json.loads(body)["status"] == "ok", (env, uri, st, body)
            assert "GET /api/health 200" in log, log
    base = {"KARTOGRAF_BASE": "/kartograf"}
    # the base must end at a segment boundary, and only a prefix is taken off
    for uri in ("/kartografX/api/health", "/api/health/kartograf/api/health", "/other/api/health"):
        st, _, body, _ = cgi(ctx, "health", "GET", uri, env=base)
        assert st == 404 and json.loads(body)["error"] == "not_found", (uri, st, body)
    # a root site (an empty base) and a base that is not a path
    for env in ({"KARTOGRAF_BASE": ""}, {"KARTOGRAF_BASE": "kartograf"}):
        st, _, body, _ = cgi(ctx, "health", "GET", "/api/health", env=env)
        assert st == 200, (env, st, body)
    st, _, body, _ = cgi(ctx, "health", "GET", "/kartograf/api/health")
    assert st == 404, (st, body)


def test_cgi_cannot_start_answers_json(ctx):
    """A broken configuration still gets a JSON 503 (not the server's HTML 500),
    and the reason goes to the error log only."""
    st, _, body, log = cgi(ctx, "health", "GET", "/api/health",
                           env={"KARTOGRAF_CONFIG": os.path.join(ctx.tmpdir, "missing.conf")})
    err = json.loads(body)
    assert st == 503 and err["error"] == "unavailable" and "missing.conf" not in body.decode(), (st, body)
    assert "missing.conf" in log, log


def test_program_without_server_refuses(ctx):
    """Started by hand (no socket on fd 0, no CGI environment): exit 2 with a hint."""
    rc, out, err = ctx.run_program("cgi-bin/health.fcgi")
    assert rc == 2 and "not started as a FastCGI or CGI program" in err, (rc, err)
    assert out == "", out


# ------------------------------------------------------------ worker --cron

def spawn_logged(ctx, argv, env=None, tag="cron"):
    """Start argv in the background, output to a log file in ctx.tmpdir:
    (Popen, log file); read the log with log_text()."""
    log = open(os.path.join(ctx.tmpdir, f"{tag}-{uuid.uuid4().hex[:6]}.log"), "w+")
    return subprocess.Popen(argv, stdout=log, stderr=log, env=env), log


def _cron_worker(ctx, extra_env=None):
    e = dict(os.environ, KARTOGRAF_CONFIG=ctx.config_path, KARTOGRAF_AI_OFFLINE_DELAY_MS="100",
             KARTOGRAF_WORKER_IDLE_EXIT="3")
    e.update(extra_env or {})
    return spawn_logged(ctx, [os.path.join(ctx.build, "worker", "kartograf-worker"), "--cron"], e)


def log_text(log):
    log.flush()
    with open(log.name) as f:
        return f.read()


def test_worker_cron(ctx):
    from test_worker import _user, _deluser, _batch, _generate, _wait_done
    # the stack's own worker is alive in the registry: a cron run leaves at once
    ctx.wait_until(lambda: int(ctx.redis("SCARD", "kg:workers") or 0) >= 1, timeout=15,
                   what="the stack's worker in kg:workers")
    p, log = _cron_worker(ctx)
    assert p.wait(timeout=15) == 0, log_text(log)
    assert "alive in the registry" in log_text(log), log_text(log)

    user = _user(ctx)
    ctx.stack("stop", "worker")
    try:
        ctx.wait_until(lambda: ctx.redis("SCARD", "kg:workers") == "0", timeout=40,
                       what="the stack's worker gone from the registry")
        batch, projects = _batch(ctx, user, 4)
        r = _generate(ctx, ctx.servers["apache"], user, batch)
        assert r.status == 202, r
        # no worker alive: the batch says so (the UI: "Generowanie rozpocznie się w ciągu minuty")
        auth = {"Authorization": "Bearer " + user["token"]}
        for name, base in ctx.servers.items():
            b = ctx.request(base, "GET", f"/api/batches/{batch}", headers=auth).json()
            assert b["queue"]["workers"] == 0, (name, b)
        t0 = time.monotonic()
        a, alog = _cron_worker(ctx)
        time.sleep(0.5)
        # the next cron tick while the first still runs: the lock says no
        b, blog = _cron_worker(ctx)
        assert b.wait(timeout=15) == 0, log_text(blog)
        assert "started as" not in log_text(blog), log_text(blog)
        ctx.wait_until(lambda: ctx.request(ctx.servers["lighttpd"], "GET", f"/api/batches/{batch}",
                                           headers=auth).json()["queue"]["workers"] == 1,
                       timeout=20, what="queue.workers 1 while the cron worker runs")
        _wait_done(ctx, batch, timeout=60)
        # then idle: it stops by itself after idle_exit, the SIGTERM way
        assert a.wait(timeout=30) == 0, log_text(alog)
        text = log_text(alog)
        assert not any(s in text for s in SANITIZER), text[-2000:]
        assert "(--cron)" in text and "idle for 3 s, exiting" in text, text
        assert ctx.psql(f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                        "AND status = 'COMPLETED'").strip() == "4", text
        # nothing registered, leased or held after it left
        left = [ctx.redis("SMEMBERS", "kg:workers"), ctx.redis("--scan", "--pattern", "kg:processing:*"),
                ctx.redis("--scan", "--pattern", "kg:lease:*")]
        assert left == ["", "", ""], left
        assert time.monotonic() - t0 < 60

        # SIGTERM mid-run: the running projects go back to the queue; a host's
        # CPU-time limit (RLIMIT_CPU's soft limit: SIGXCPU) stops it the same way
        batch2, _ = _batch(ctx, user, 3)
        assert _generate(ctx, ctx.servers["apache"], user, batch2).status == 202
        for sig in (signal.SIGTERM, signal.SIGXCPU):
            c, clog = _cron_worker(ctx, {"KARTOGRAF_AI_OFFLINE_DELAY_MS": "3000",
                                         "KARTOGRAF_WORKER_SHUTDOWN_GRACE": "0"})
            ctx.wait_until(lambda: "GENERATING" in ctx.psql(
                f"SELECT status FROM projects WHERE batch_id = '{batch2}'"), timeout=20,
                what=f"generation started (then {sig.name})")
            c.send_signal(sig)
            assert c.wait(timeout=20) == 0, (sig.name, log_text(clog))
            left = [ctx.redis("SMEMBERS", "kg:workers"), ctx.redis("--scan", "--pattern", "kg:lease:*")]
            assert left == ["", ""], (sig.name, left)
            assert "GENERATING" not in ctx.psql(
                f"SELECT status FROM projects WHERE batch_id = '{batch2}'"), (sig.name, log_text(clog))
        # bad argument
        rc, _, err = ctx.run_program("worker/kartograf-worker", ["--bogus"])
        assert rc == 2 and "usage" in err, (rc, err)
    finally:
        ctx.stack("start", "worker")
        _deluser(ctx, user)


def test_cgi_event_stream_ends_after_max_stream_seconds(ctx):
    """The threaded relay as CGI: one stream per process, a snapshot, then plain
    EOF (no "end") after [events] max_stream_seconds, so EventSource reconnects."""
    from test_worker import _user, _deluser, _batch
    user = _user(ctx)
    try:
        batch, _ = _batch(ctx, user, 2)
        t0 = time.monotonic()
        st, h, body, log = cgi(ctx, "events", "GET", f"/api/events/{batch}",
                               headers={"Authorization": "Bearer " + user["token"]},
                               env={"KARTOGRAF_EVENTS_MAX_STREAM_SECONDS": "2",
                                    "KARTOGRAF_EVENTS_HEARTBEAT": "1"})
        took = time.monotonic() - t0
        text = body.decode()
        assert st == 200 and h["content-type"].startswith("text/event-stream"), (st, h)
        assert "event: snapshot" in text and "event: end" not in text, text
        assert ": ping" in text, text
        assert 1.8 < took < 8, took
        assert "max_stream_seconds reached" in log, log
        # someone else's batch: 404 JSON before any stream
        other = _user(ctx)
        try:
            st, _, body, _ = cgi(ctx, "events", "GET", f"/api/events/{batch}",
                                 headers={"Authorization": "Bearer " + other["token"]})
            assert st == 404 and json.loads(body)["error"] == "not_found", (st, body)
        finally:
            _deluser(ctx, other)
    finally:
        _deluser(ctx, user)
