#!/usr/bin/python3
"""Kartograf integration test runner (stdlib only).

Usage:
    run.py --state STATE [--build BUILD] [--result FILE] [-k SUBSTRING]

scripts/test.sh starts a whole stack with `scripts/kgstack init/start all` in a
temporary STATE and then runs this. To run it against your own stack:
    BUILD=build scripts/kgstack init /tmp/kg && BUILD=build scripts/kgstack start /tmp/kg all
    tests/integration/run.py --state /tmp/kg -k health

Writing a test
--------------
Put a module `tests/integration/test_<topic>.py` next to this file and define
functions `test_<what>(ctx)`. They run in sorted order (module, then function name);
a test passes when it returns, fails when it raises (use plain `assert cond, "why"`).
HTTP tests should cover BOTH web servers: loop over `ctx.servers.items()` and put the
server name into the assertion messages (`ctx.check_servers(fn)` does that for you and
reports every failing server at once).

`ctx` offers:
    ctx.servers            {'lighttpd': 'http://127.0.0.1:P1', 'apache': 'http://127.0.0.1:P2'}
    ctx.request(base, method, path, body=None, headers=None, timeout=10)
                           -> Response(.status, .headers (lowercase keys), .body bytes,
                              .text, .json()); never raises on 4xx/5xx
    ctx.psql(sql)          -> stdout of psql -At -X -v ON_ERROR_STOP=1 on the stack's DB
                              (raises on error)
    ctx.redis(*args)       -> redis-cli output (stripped)
    ctx.stack(cmd, *comps) -> runs `scripts/kgstack cmd STATE comps...` (e.g.
                              ctx.stack('stop', 'pg')); raises on failure
    ctx.state, ctx.config_path, ctx.build, ctx.root
    ctx.run_program(path, args=(), env=None, stdin=None, timeout=60)
                           (60 s: a password hash under ASan on a loaded machine took over 20)
                           -> (rc, stdout, stderr) as text; env is added to os.environ
                              (KARTOGRAF_CONFIG defaults to the stack's config)
    ctx.wait_until(fn, timeout=10, interval=0.2, what="...")
                           -> polls fn() until truthy, returns its value or raises
    ctx.tmpdir             a scratch directory for this run

A test that changes the stack (stops a service) must put it back, in a `finally:`.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import http.client
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in tests/integration

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # shared helpers: kgtest.py, xlsxgen.py
ROOT = os.path.dirname(os.path.dirname(HERE))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise AssertionError(
                f"response is not JSON ({e}): status {self.status}, "
                f"content-type {self.headers.get('content-type')!r}, body {self.body[:200]!r}")

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:120]!r}>"


class Context:
    def __init__(self, state, build):
        self.root = ROOT
        self.state = os.path.abspath(state)
        self.build = build if os.path.isabs(build) else os.path.join(ROOT, build)
        self.config_path = os.path.join(self.state, "kartograf.conf")
        self.env = self._read_env(os.path.join(self.state, "stack.env"))
        self.servers = {
            "lighttpd": f"http://127.0.0.1:{self.env['LIGHTTPD_PORT']}",
            "apache": f"http://127.0.0.1:{self.env['APACHE_PORT']}",
        }
        self.tmpdir = tempfile.mkdtemp(prefix="kg-it-", dir=os.path.join(self.state, "tmp"))

    @staticmethod
    def _read_env(path):
        env = {}
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    env[k] = v
        return env

    # --- HTTP
    def request(self, base, method, path, body=None, headers=None, timeout=10, record=True):
        """record=False: an answer that is not the API's (e.g. a web server's
        http -> https redirect in front of it) is left out of the API check."""
        headers = dict(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        u = urllib.parse.urlsplit(base)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                # the server answered (e.g. 413) and closed before reading the whole
                # body: its answer may still be readable
                pass
            r = conn.getresponse()
            data = r.read()
            resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
            if record:
                self._record(method, path, resp)
            return resp
        finally:
            conn.close()

    def _record(self, method, path, resp):
        """Every answer, one JSON line in STATE/responses.jsonl: test.sh checks
        them all against the API document (tests/openapi/check.mjs)."""
        ctype = resp.header("content-type", "")
        body = None
        if ctype.startswith("application/json"):
            try:
                body = json.loads(resp.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                body = "<not JSON>"
        line = json.dumps({"method": method, "path": path, "status": resp.status,
                           "type": ctype, "body": body})
        with open(os.path.join(self.state, "responses.jsonl"), "a") as f:
            f.write(line + "\n")

    def check_servers(self, fn):
        """Run fn(name, base) for every web server; report all failures together."""
        errors = []
        for name, base in self.servers.items():
            try:
                fn(name, base)
            except Exception as e:  # noqa: BLE001
                errors.append(f"[{name}] {type(e).__name__}: {e}")
        if errors:
            raise AssertionError("; ".join(errors))

    # --- services
    def psql(self, sql):
        p = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", self.env["PG_PORT"], "-U", "kartograf", "-d", "kartograf",
             "-At", "-X", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"psql failed ({p.returncode}): {p.stderr.strip()}")
        return p.stdout

    def redis(self, *args):
        p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", self.env["REDIS_PORT"], *map(str, args)],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"redis-cli failed ({p.returncode}): {p.stderr.strip()}")
        return p.stdout.strip()

    def stack(self, cmd, *components):
        env = dict(os.environ, BUILD=self.build)
        p = subprocess.run([os.path.join(ROOT, "scripts", "kgstack"), cmd, self.state, *components],
                           capture_output=True, text=True, timeout=120, env=env)
        if p.returncode != 0:
            raise AssertionError(f"kgstack {cmd} {' '.join(components)} failed: {p.stderr.strip()[-1500:]}")
        return p.stdout

    def run_program(self, path, args=(), env=None, stdin=None, timeout=60):
        e = dict(os.environ)
        e.setdefault("KARTOGRAF_CONFIG", self.config_path)
        e.update(env or {})
        if not os.path.isabs(path):
            path = os.path.join(self.build, path)
        if isinstance(stdin, str):
            stdin = stdin.encode()
        p = subprocess.run([path, *args], input=stdin if stdin is not None else b"",
                           capture_output=True, env=e, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    @staticmethod
    def wait_until(fn, timeout=10, interval=0.2, what="condition"):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                v = fn()
                if v:
                    return v
                last = v
            except Exception as e:  # noqa: BLE001
                last = e
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
            time.sleep(interval)


def discover(pattern):
    tests = []
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        modname = fn[:-3]
        spec = importlib.util.spec_from_file_location(modname, os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception as e:  # noqa: BLE001
            tests.append((f"{modname}.<import>", None, e))
            continue
        for name in sorted(dir(mod)):
            obj = getattr(mod, name)
            if name.startswith("test_") and callable(obj):
                full = f"{modname}.{name}"
                if pattern and not any(p in full for p in pattern.split(",")):
                    continue
                tests.append((full, obj, None))
    return tests


def _where(e):
    """The test's own line that raised (file:line: source), so that a bare
    `assert x` in a CI log still says which assert it was."""
    tb = traceback.extract_tb(e.__traceback__)
    frames = [f for f in tb if os.path.basename(f.filename).startswith("test_")]
    f = (frames or tb)[-1]
    return f"{os.path.basename(f.filename)}:{f.lineno}: {(f.line or '').strip()}"


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="Kartograf integration tests")
    ap.add_argument("--state", required=True, help="kgstack state directory of a running stack")
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--result", help="file to write 'passed failed' into")
    ap.add_argument("-k", dest="pattern", help="run only tests whose name contains this (or one of these, comma-separated)")
    a = ap.parse_args(argv)

    ctx = Context(a.state, a.build)
    passed = failed = 0
    for full, fn, import_error in discover(a.pattern):
        if import_error is not None:
            failed += 1
            print(f"not ok - {full}: {type(import_error).__name__}: {import_error}", flush=True)
            continue
        t0 = time.monotonic()
        try:
            fn(ctx)
        except Exception as e:  # noqa: BLE001
            failed += 1
            msg = str(e).replace("\n", " ")[:2000] or type(e).__name__
            print(f"not ok - {full}: {msg}", flush=True)
            print(f"#   at {_where(e)}", flush=True)
            if not isinstance(e, AssertionError):
                traceback.print_exc(limit=4, file=sys.stdout)
        else:
            passed += 1
            print(f"ok - {full} ({time.monotonic() - t0:.1f}s)", flush=True)
    print(f"integration: {passed} passed, {failed} failed", flush=True)
    if a.result:
        with open(a.result, "w") as f:
            f.write(f"{passed} {failed}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
