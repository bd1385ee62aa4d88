"""The worker daemon's frame and the migration runner (issue 2)."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request


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


def _gone(pid):
    """The process has exited (or is a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_make_run_ctrl_c_stops_everything(ctx):
    """What `make run` runs (scripts/run.sh, after its build): a stack of its
    own in a state folder, the demo login printed and working, and Ctrl-C - a
    SIGINT to the terminal's whole process group - stopping every process it
    started, none left behind (the background sleep it waits in ignored
    SIGINT and stayed for an hour)."""
    state = os.path.join(ctx.tmpdir, "make-run-state")
    out_path = os.path.join(ctx.tmpdir, "make-run.out")
    env = dict(os.environ, BUILD=ctx.build, KARTOGRAF_STATE=state, KGSTACK_FAST="1")
    out = open(out_path, "wb")
    p = subprocess.Popen(
        [os.path.join(ctx.root, "scripts", "run.sh")], stdout=out, stderr=out,
        stdin=subprocess.DEVNULL, env=env,
        # a terminal's foreground group, Ctrl-C's SIGINT at its default
        preexec_fn=lambda: (os.setsid(), signal.signal(signal.SIGINT, signal.SIG_DFL)))
    out.close()
    try:
        ctx.wait_until(lambda: "Press Ctrl-C to stop." in _log(out_path) or p.poll() is not None,
                       timeout=180, what="make run's stack up")
        text = _log(out_path)
        assert p.poll() is None, text
        url = re.search(r"Kartograf is running:\s+(http://127\.0\.0\.1:\d+)/", text).group(1)
        email, password = re.search(r"Login:\s+(\S+) / (\S+)", text).groups()
        req = urllib.request.Request(url + "/api/auth/login",
                                     json.dumps({"email": email, "password": password}).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.load(r)["token"]
        pids = []
        for name in os.listdir(os.path.join(state, "run")):
            if name.endswith(".pid"):
                with open(os.path.join(state, "run", name)) as f:
                    first = f.readline().strip()
                if first.isdigit():
                    pids.append(int(first))
        assert len(pids) >= 5, os.listdir(os.path.join(state, "run"))
        os.killpg(p.pid, signal.SIGINT)
        p.wait(timeout=60)
        ctx.wait_until(lambda: not _group_alive(p.pid), timeout=10,
                       what="nothing of make run's process group left")
        for pid in pids:
            ctx.wait_until(lambda: _gone(pid), timeout=10,
                           what=f"stack process {pid} stopped")
        assert "run.sh: stopping..." in _log(out_path)
    finally:
        if _group_alive(p.pid):
            os.killpg(p.pid, signal.SIGKILL)
        subprocess.run([os.path.join(ctx.root, "scripts", "kgstack"), "stop", state, "all"],
                       capture_output=True, env=env)
