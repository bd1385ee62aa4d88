"""GET /metrics (Prometheus text format) through both web servers."""
import configparser
import contextlib
import os
import re


def _auth(ctx):
    """The local stack's [metrics] token (kgstack init writes one)."""
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";",))
    cp.read(ctx.config_path)
    return {"Authorization": "Bearer " + cp["metrics"]["token"]}


def test_metrics_exposition(ctx):
    def check(name, base):
        r = ctx.request(base, "GET", "/metrics", headers=_auth(ctx))
        assert r.status == 200, r
        assert r.header("content-type", "").startswith("text/plain; version=0.0.4"), r.headers
        text = r.text
        for metric in ("kartograf_projects", "kartograf_batches", "kartograf_queue_length",
                       "kartograf_workers", "kartograf_breaker_open", "kartograf_ai_calls_total"):
            assert f"# TYPE {metric} " in text, metric
        assert 'kartograf_up{component="database"} 1' in text, text[-400:]
        assert 'kartograf_up{component="redis"} 1' in text
        assert re.search(r'^kartograf_queue_length\{queue="generate"\} \d+$', text, re.M), text
        # every sample line is "name{labels} number" or "name number"
        for line in text.splitlines():
            if line and not line.startswith("#"):
                assert re.match(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$', line), line
    ctx.check_servers(check)


def test_metrics_counts_follow_the_database(ctx):
    base = ctx.servers["lighttpd"]
    before = ctx.request(base, "GET", "/metrics", headers=_auth(ctx)).text
    n = int(ctx.psql("SELECT count(*) FROM projects WHERE status = 'PENDING'").strip())
    m = re.search(r'^kartograf_projects\{status="PENDING"\} (\d+)$', before, re.M)
    assert (int(m.group(1)) if m else 0) == n, (n, before[:500])


def test_metrics_post_is_405(ctx):
    r = ctx.request(ctx.servers["apache"], "POST", "/metrics", b"x", {"Content-Type": "text/plain", **_auth(ctx)})
    assert r.status == 405 and r.json()["error"] == "method_not_allowed", r


@contextlib.contextmanager
def _metrics_token(ctx, token):
    """The metrics program restarted with [metrics] token = `token`, and
    back to the stack's own afterwards (only that program: restarting all
    of them takes minutes on a loaded machine)."""
    def restart():
        with open(os.path.join(ctx.state, "run", "fcgi-metrics.pid")) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 15)
        ctx.wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                       open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z",
                       timeout=20, what="metrics program to stop")
        ctx.stack("start", "fcgi")  # starts only what is stopped
        for base in ctx.servers.values():
            ctx.wait_until(lambda b=base: ctx.request(b, "GET", "/metrics").status != 503,
                           timeout=15, what="metrics program back")
    os.environ["KARTOGRAF_METRICS_TOKEN"] = token
    try:
        restart()
        yield
    finally:
        del os.environ["KARTOGRAF_METRICS_TOKEN"]
        restart()


def test_metrics_token(ctx):
    """With [metrics] token set, only the scraper's bearer token is
    answered; everyone else (loopback included) gets 404."""
    token = "scrape-token-0123456789"

    def check(name, base):
        assert ctx.request(base, "GET", "/metrics").status == 404
        bad = ctx.request(base, "GET", "/metrics", headers={"Authorization": "Bearer " + token[:-1] + "x"})
        assert bad.status == 404, bad
        ok = ctx.request(base, "GET", "/metrics", headers={"Authorization": "Bearer " + token})
        assert ok.status == 200 and "kartograf_up" in ok.text, ok
    with _metrics_token(ctx, token):
        ctx.check_servers(check)


def test_metrics_closed_without_token(ctx):
    """No [metrics] token: nobody is answered, loopback included (behind a
    local reverse proxy every client is loopback)."""
    def check(name, base):
        assert ctx.request(base, "GET", "/metrics").status == 404
        assert ctx.request(base, "GET", "/metrics", headers={"Authorization": "Bearer "}).status == 404
    with _metrics_token(ctx, ""):
        ctx.check_servers(check)
        with open(os.path.join(ctx.state, "log", "metrics.log"), encoding="utf-8", errors="replace") as f:
            assert "[metrics] token is empty" in f.read()
