"""Foundation: health endpoint, routing, errors, limits, static files, outages, config.

Every HTTP test runs against both web servers (lighttpd and Apache httpd).
"""
import json
import os
import re
import time

CSP_PARTS = ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]


def _nosniff(r, what):
    v = r.header("x-content-type-options")
    assert v == "nosniff", f"{what}: X-Content-Type-Options is {v!r}, expected 'nosniff'"


def _json(r, what):
    ct = r.header("content-type", "")
    assert ct.startswith("application/json"), f"{what}: Content-Type {ct!r} is not JSON (body {r.body[:160]!r})"
    return r.json()


def _error_json(r, what, status):
    assert r.status == status, f"{what}: status {r.status}, expected {status} (body {r.body[:200]!r})"
    data = _json(r, what)
    assert isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"], \
        f"{what}: no 'error' string in {data!r}"
    assert isinstance(data.get("message"), str), f"{what}: no 'message' string in {data!r}"
    _nosniff(r, what)
    return data


def _health_ok(ctx, base):
    r = ctx.request(base, "GET", "/api/health")
    return r.status == 200


# ------------------------------------------------------------------ HTTP basics

def test_health_ok(ctx):
    def check(name, base):
        r = ctx.request(base, "GET", "/api/health")
        assert r.status == 200, f"status {r.status}: {r.body[:300]!r}"
        data = _json(r, "GET /api/health")
        assert data.get("status") == "ok", f"status field: {data!r}"
        assert isinstance(data.get("database"), dict), f"'database' is not an object: {data!r}"
        assert isinstance(data.get("redis"), dict), f"'redis' is not an object: {data!r}"
        assert isinstance(data.get("version"), str) and data["version"], f"no version: {data!r}"
        _nosniff(r, "GET /api/health")
    ctx.check_servers(check)


def test_health_with_query_string(ctx):
    def check(name, base):
        r = ctx.request(base, "GET", "/api/health?x=1&y=%C5%BC")
        assert r.status == 200, f"status {r.status}: {r.body[:300]!r}"
        _json(r, "GET /api/health?...")
    ctx.check_servers(check)


def test_json_answers_are_whole(ctx):
    """A JSON answer leaves the program whole, in one write (lib/kg_fcgiw.h),
    with its Content-Length: lighttpd passes the length on; Apache may re-frame
    the body chunked, but never cuts it. 200 and error answers alike."""
    def check(name, base):
        for path, status in (("/api/health", 200), ("/api/nope", 404),
                             ("/api/auth/me", 401)):
            r = ctx.request(base, "GET", path)
            assert r.status == status, f"GET {path}: status {r.status}: {r.body[:300]!r}"
            json.loads(r.body)
            length = r.headers.get("content-length")
            if name == "lighttpd" or length is not None:
                assert length is not None and int(length) == len(r.body), \
                    f"GET {path}: Content-Length {length!r}, body {len(r.body)} bytes"
    ctx.check_servers(check)


def test_unknown_api_route_is_json_404(ctx):
    def check(name, base):
        for path in ("/api/nope", "/api/health/extra", "/api/", "/api/a/b/c?q=1"):
            r = ctx.request(base, "GET", path)
            _error_json(r, f"GET {path}", 404)
    ctx.check_servers(check)


def test_wrong_method_is_405_with_allow(ctx):
    def check(name, base):
        for method in ("POST", "DELETE", "PUT"):
            r = ctx.request(base, method, "/api/health", body=b"{}",
                            headers={"Content-Type": "application/json"})
            _error_json(r, f"{method} /api/health", 405)
            allow = r.header("allow", "")
            assert "GET" in [m.strip() for m in allow.split(",")], f"{method}: Allow header is {allow!r}"
    ctx.check_servers(check)


def test_body_over_limit_is_413(ctx):
    limit = 10 * 1024 * 1024  # [http] max_body in the generated config
    body = b"x" * (limit + 1024 * 1024)  # 11 MiB

    def check(name, base):
        r = ctx.request(base, "POST", "/api/health", body=body,
                        headers={"Content-Type": "application/octet-stream"}, timeout=60)
        _error_json(r, "POST /api/health with 11 MiB", 413)
    ctx.check_servers(check)


def test_static_index_has_csp(ctx):
    def check(name, base):
        r = ctx.request(base, "GET", "/")
        assert r.status == 200, f"GET / status {r.status}"
        ct = r.header("content-type", "")
        assert ct.startswith("text/html"), f"GET / Content-Type {ct!r}"
        assert b"Kartograf" in r.body, "GET / does not mention Kartograf"
        csp = r.header("content-security-policy", "")
        for part in CSP_PARTS:
            assert part in csp, f"CSP {csp!r} lacks {part!r}"
        _nosniff(r, "GET /")
        r = ctx.request(base, "GET", "/style.css")
        assert r.status == 200 and r.header("content-type", "").startswith("text/css"), \
            f"GET /style.css: {r.status} {r.header('content-type')!r}"
        _nosniff(r, "GET /style.css")
    ctx.check_servers(check)


def test_static_missing_file_is_404(ctx):
    def check(name, base):
        r = ctx.request(base, "GET", "/no-such-file.html")
        assert r.status == 404, f"status {r.status}"
        _nosniff(r, "GET /no-such-file.html")
    ctx.check_servers(check)


# ------------------------------------------------------------------ outages

def _outage(ctx, component, needle):
    """Stop a backing service: /api/health must say 503 naming it; after a restart it
    must recover without restarting the FastCGI programs."""
    pids_before = _fcgi_pids(ctx)
    ctx.stack("stop", component)
    try:
        def check(name, base):
            r = ctx.request(base, "GET", "/api/health", timeout=15)
            assert r.status == 503, f"with {component} stopped: status {r.status}, body {r.body[:300]!r}"
            data = _json(r, f"GET /api/health with {component} down")
            assert needle in r.text, f"503 body does not name {needle!r}: {data!r}"
            _nosniff(r, "503")
        ctx.check_servers(check)
    finally:
        ctx.stack("start", component)

    def recovered(name, base):
        ctx.wait_until(lambda: _health_ok(ctx, base), timeout=10, what=f"{name} /api/health 200 after {component} restart")
    ctx.check_servers(recovered)
    assert _fcgi_pids(ctx) == pids_before, "FastCGI programs were restarted (pids changed)"


def _fcgi_pids(ctx):
    run = os.path.join(ctx.state, "run")
    pids = {}
    for f in sorted(os.listdir(run)):
        if f.startswith("fcgi-") and f.endswith(".pid"):
            with open(os.path.join(run, f)) as fh:
                pids[f] = fh.read().strip()
    return pids


def test_postgres_down_then_recovers(ctx):
    _outage(ctx, "pg", "database")


def test_redis_down_then_recovers(ctx):
    _outage(ctx, "redis", "redis")
    # The stack's Redis keeps nothing across a restart: the worker notices the
    # lost connection and is in the registry again at once, not at its next
    # regular heartbeat a third of a lease (10 s) later.
    ctx.wait_until(lambda: int(ctx.redis("SCARD", "kg:workers") or 0) >= 1, timeout=4,
                   what="the worker back in kg:workers after the Redis restart")



def test_redis_outage_logged_not_per_attempt(ctx):
    """A worker tries Redis a few times a second while it is down: the
    outage is one warning when it starts and one line when it ends (with
    the attempts counted), not a line per attempt (it was ~60 a second),
    and the takes and the idle wait pause a second between attempts."""
    log_path = os.path.join(ctx.state, "log", "worker.log")
    start = os.path.getsize(log_path)

    def new_lines():
        with open(log_path, encoding="utf-8", errors="replace") as f:
            f.seek(start)
            return f.read()
    ctx.stack("stop", "redis")
    try:
        ctx.wait_until(lambda: "redis connection failed" in new_lines(), timeout=10,
                       what="the worker noticing Redis is down")
        time.sleep(3)   # the outage: what the worker writes meanwhile is the point
    finally:
        ctx.stack("start", "redis")
    back = ctx.wait_until(lambda: re.search(r"redis connection back after ([0-9.]+) s "
                                            r"\(([0-9]+) attempts failed\)", new_lines()),
                          timeout=10, what="the worker logging Redis back")
    seconds, attempts = float(back.group(1)), int(back.group(2))
    text = new_lines()
    assert text.count("redis connection failed") == 1, text[-3000:]
    assert seconds >= 3 and 3 <= attempts <= 10 * seconds, (seconds, attempts)
    ctx.wait_until(lambda: int(ctx.redis("SCARD", "kg:workers") or 0) >= 1, timeout=4,
                   what="the worker back in kg:workers")


# ------------------------------------------------------------------ configuration

def _bad_config(ctx):
    with open(ctx.config_path) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^\s*max_body\s*=.*$", "max_body = abc", text)
    if n == 0:
        text += "\n[http]\nmax_body = abc\n"
    path = os.path.join(ctx.tmpdir, "bad-max-body.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_config_check_accepts_stack_config(ctx):
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"],
                                   env={"KARTOGRAF_CONFIG": ctx.config_path})
    assert rc == 0, f"config-check of the generated config failed rc={rc}: {err[-800:]}"


def test_config_check_rejects_bad_max_body(ctx):
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"],
                                   env={"KARTOGRAF_CONFIG": _bad_config(ctx)})
    assert rc != 0, f"config-check accepted max_body = abc (stdout {out[-300:]!r})"
    assert "max_body" in err, f"stderr does not name max_body: {err[-800:]!r}"


def test_env_override_is_validated(ctx):
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"],
                                   env={"KARTOGRAF_CONFIG": ctx.config_path,
                                        "KARTOGRAF_HTTP_MAX_BODY": "abc"})
    assert rc != 0, "config-check accepted KARTOGRAF_HTTP_MAX_BODY=abc"
    assert "max_body" in err.lower(), f"stderr does not name max_body: {err[-800:]!r}"


def test_health_program_refuses_bad_config(ctx):
    rc, out, err = ctx.run_program("cgi-bin/health.fcgi", env={"KARTOGRAF_CONFIG": _bad_config(ctx)},
                                   stdin=b"", timeout=20)
    assert rc != 0, f"health.fcgi started with max_body = abc (rc 0, stdout {out[:300]!r})"
    assert "max_body" in err, f"stderr does not name max_body: {err[-800:]!r}"


def test_missing_config_file_is_refused(ctx):
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"],
                                   env={"KARTOGRAF_CONFIG": os.path.join(ctx.tmpdir, "does-not-exist.conf")})
    assert rc != 0, "config-check accepted a missing config file"
