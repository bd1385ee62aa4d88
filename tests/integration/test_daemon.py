"""The worker daemon's frame and the migration runner (issue 2)."""
import os
import signal
import subprocess
import time


def _start_worker(ctx, log_path, extra_env=None):
    env = dict(os.environ, KARTOGRAF_CONFIG=ctx.config_path)
    env.update(extra_env or {})
    log = open(log_path, "wb")
    p = subprocess.Popen([os.path.join(ctx.build, "worker", "kartograf-worker")],
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
    log.close()
    return p


def _log(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def test_worker_connects_and_stops_on_sigterm(ctx):
    path = os.path.join(ctx.tmpdir, "worker-sigterm.log")
    p = _start_worker(ctx, path)
    try:
        ctx.wait_until(lambda: "database connected" in _log(path) and "redis connected" in _log(path),
                       timeout=15, what="worker connected")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
        text = _log(path)
        assert "stopping" in text, text
        for line in text.splitlines():
            # one event per line: timestamp, level, program[pid]
            assert " kartograf-worker[" in line, line
        assert "jwt_key" not in text and ctx.env.get("JWT_KEY", "zzz") not in text
    finally:
        if p.poll() is None:
            p.kill()


def test_worker_sighup_keeps_config_on_error(ctx):
    path = os.path.join(ctx.tmpdir, "worker-hup.log")
    conf = os.path.join(ctx.tmpdir, "worker-hup.conf")
    with open(ctx.config_path) as f:
        original = f.read()
    with open(conf, "w") as f:
        f.write(original)
    p = _start_worker(ctx, path, {"KARTOGRAF_CONFIG": conf})
    try:
        ctx.wait_until(lambda: "started" in _log(path), timeout=15, what="worker started")
        with open(conf, "a") as f:
            f.write("\n[worker]\nconcurrency = lots\n")
        p.send_signal(signal.SIGHUP)
        ctx.wait_until(lambda: "reload failed" in _log(path), timeout=10, what="reload refused")
        assert "concurrency" in _log(path)
        assert p.poll() is None, "worker died on a bad reload"
        with open(conf, "w") as f:
            f.write(original)
        p.send_signal(signal.SIGHUP)
        ctx.wait_until(lambda: "configuration reloaded" in _log(path), timeout=10, what="reload ok")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()


def test_worker_survives_outage(ctx):
    path = os.path.join(ctx.tmpdir, "worker-outage.log")
    p = _start_worker(ctx, path)
    try:
        ctx.wait_until(lambda: "redis connected" in _log(path), timeout=15, what="worker connected")
        ctx.stack("stop", "redis")
        try:
            ctx.wait_until(lambda: "redis unavailable" in _log(path), timeout=15, what="outage noticed")
            assert p.poll() is None
        finally:
            ctx.stack("start", "redis")
        ctx.wait_until(lambda: _log(path).count("redis connected") >= 2, timeout=15, what="reconnect")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()


def test_worker_refuses_bad_config(ctx):
    rc, out, err = ctx.run_program("worker/kartograf-worker", env={"KARTOGRAF_WORKER_CONCURRENCY": "0"})
    assert rc != 0 and "concurrency" in err, (rc, err)


def test_unknown_provider_in_chain_is_refused(ctx):
    env = {"KARTOGRAF_AI_PROVIDERS": "bedrock, azur"}
    rc, out, err = ctx.run_program("worker/kartograf-worker", env=env)
    assert rc != 0 and 'unknown provider "azur"' in err, (rc, err)
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"], env=env)
    assert rc != 0 and "azur" in err, (rc, err)


def test_migrate_is_idempotent(ctx):
    rc, out, err = ctx.run_program("worker/kartograf-admin",
                                   ["migrate", "--sql-dir", os.path.join(ctx.root, "sql")])
    assert rc == 0, err
    assert out.strip() == "0 migration(s) applied", out
    versions = ctx.psql("SELECT version FROM schema_migrations ORDER BY version").split()
    files = sorted(f[:-4] for f in os.listdir(os.path.join(ctx.root, "sql")) if f.endswith(".sql"))
    assert versions == files, (versions, files)


def test_migrate_failure_leaves_nothing(ctx):
    d = os.path.join(ctx.tmpdir, "badsql")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(os.path.join(ctx.root, "sql")):
        if f.endswith(".sql"):
            os.symlink(os.path.join(ctx.root, "sql", f), os.path.join(d, f))
    with open(os.path.join(d, "999_broken.sql"), "w") as f:
        f.write("CREATE TABLE kg_half_done (x int);\nSELECT no_such_function();\n")
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["migrate", "--sql-dir", d])
    assert rc != 0 and "999_broken" in err, (rc, err)
    assert ctx.psql("SELECT to_regclass('kg_half_done') IS NULL").strip() == "t"
    assert ctx.psql("SELECT count(*) FROM schema_migrations WHERE version = '999_broken'").strip() == "0"


def test_every_config_key_is_documented(ctx):
    """Each key of the config table (as config-check prints it) appears in
    the example config, under its section, and in the README."""
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"])
    assert rc == 0, err
    keys = []
    for line in out.splitlines()[1:]:
        if line.startswith("["):
            section, rest = line[1:].split("] ", 1)
            keys.append((section, rest.split(" = ", 1)[0]))
    assert len(keys) > 30, out
    example = open(os.path.join(ctx.root, "worker", "kartograf.conf.example"), encoding="utf-8").read()
    readme = open(os.path.join(ctx.root, "README.md"), encoding="utf-8").read()
    sections = {}
    current = None
    for line in example.splitlines():
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            current = s[1:-1]
        elif current and "=" in s:
            name = s.lstrip("; ").split("=", 1)[0].strip()
            sections.setdefault(current, set()).add(name)
    missing = [f"[{s}] {k}" for s, k in keys if k not in sections.get(s, set())]
    assert not missing, f"not in worker/kartograf.conf.example: {missing}"
    undocumented = [f"[{s}] {k}" for s, k in keys if k not in readme]
    assert not undocumented, f"not in README.md: {undocumented}"
