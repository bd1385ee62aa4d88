"""Helpers the integration tests share: throwaway users, tokens, throttling.

    from kgtest import new_user, drop_users
    email, auth = new_user(ctx, "up")     # auth = {"Authorization": "Bearer ..."}
    ...
    drop_users(ctx, email)                # also removes their batches and files

and for the worker's tests (test_worker, test_fairness, test_lifecycle, ...):
    user = worker_user(ctx)               # {"email", "id", "token"}
    batch, pids = db_batch(ctx, user, 3)  # a batch made in the database
    post_generate(ctx, base, user, batch); wait_batch_done(ctx, batch)
    with own_workers(ctx) as ow: p = ow.start("w1"); ... stop_proc(p)
"""
import json
import os
import signal
import socket
import subprocess
import uuid

PASSWORD = "integration pass 42"


def clear_throttle(ctx):
    """Forget failed logins (all tests log in from 127.0.0.1)."""
    for key in ctx.redis("--scan", "--pattern", "kg:login:*").split():
        ctx.redis("DEL", key)


class Redis:
    """A Redis connection of the test's own (RESP over one socket): a command
    costs no redis-cli process, so two commands leave a known interval apart
    even on a loaded machine (a process start there can take a second).
    Reconnects once when Redis went away (a test restarted it)."""

    def __init__(self, ctx):
        self.port = int(ctx.env["REDIS_PORT"])
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""

    def cmd(self, *args):
        parts = [str(a).encode() if not isinstance(a, bytes) else a for a in args]
        req = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in parts)
        for attempt in (1, 2):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                self.sock.sendall(req)
                return self._reply()
            except (OSError, EOFError):
                self.close()
                if attempt == 2:
                    raise

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("redis closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise AssertionError(f"redis: {rest.decode()}")
        if kind == b"+":
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError("redis closed the connection")
                self.buf += data
            val, self.buf = self.buf[:n], self.buf[n + 2:]
            return val.decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise AssertionError(f"redis: unexpected reply {line[:80]!r}")


def add_user(ctx, prefix="t", admin=False, password=PASSWORD):
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@test.local"
    args = ["adduser", email] + (["--admin"] if admin else [])
    rc, _, err = ctx.run_program("worker/kartograf-admin", args, stdin=password + "\n")
    assert rc == 0, f"adduser {email}: {err}"
    return email


def login(ctx, email, password=PASSWORD):
    """POST /api/auth/login through lighttpd; the JSON answer."""
    clear_throttle(ctx)
    r = ctx.request(ctx.servers["lighttpd"], "POST", "/api/auth/login",
                    {"email": email, "password": password})
    assert r.status == 200, r
    return r.json()


def new_user(ctx, prefix="t", admin=False, password=PASSWORD):
    """A new user, signed in: (email, Authorization header dict)."""
    email = add_user(ctx, prefix, admin, password)
    return email, {"Authorization": "Bearer " + login(ctx, email, password)["token"]}


def queued_tasks(ctx, q):
    """The tasks waiting in queue q, oldest first: a fair queue keeps a list per
    batch (kg:queue:<q>:<batch>, ring kg:ready:<q>), see lib/kg_queue.h."""
    keys = [f"kg:queue:{q}"] + [f"kg:queue:{q}:{b}" for b in
                                ctx.redis("LRANGE", f"kg:ready:{q}", "0", "-1").split()]
    tasks = []
    for key in keys:
        raw = ctx.redis("--raw", "LRANGE", key, "0", "-1")
        tasks += [json.loads(t) for t in reversed(raw.splitlines()) if t.strip()]
    return tasks


def drop_queue(ctx, q):
    """Forget everything waiting in queue q."""
    keys = [f"kg:queue:{q}", f"kg:queued:{q}", f"kg:ready:{q}", f"kg:readyset:{q}"]
    keys += [f"kg:queue:{q}:{b}" for b in ctx.redis("LRANGE", f"kg:ready:{q}", "0", "-1").split()]
    ctx.redis("DEL", *keys)


def drop_users(ctx, *emails):
    for email in emails:
        ctx.run_program("worker/kartograf-admin", ["deluser", email])


# ------------------------------------------------------------------ the worker
# Batches made directly in the database, generation through the web servers,
# workers of a test's own with short lease/reconciler intervals (own_workers).

WORKER_PASSWORD = "worker test 42"
WORKER_FAST = {
    "KARTOGRAF_WORKER_LEASE_MS": "1500",
    "KARTOGRAF_WORKER_RECONCILE_INTERVAL": "1",
    "KARTOGRAF_WORKER_RECONCILE_GRACE": "1",
    "KARTOGRAF_AI_OFFLINE_DELAY_MS": "200",
}
SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def worker_user(ctx, admin=False):
    email = add_user(ctx, "wk", admin, WORKER_PASSWORD)
    body = login(ctx, email, WORKER_PASSWORD)
    return {"email": email, "id": body["user"]["id"], "token": body["token"]}


def drop_worker_user(ctx, user):
    drop_users(ctx, user["email"])


def db_batch(ctx, owner, n, status="PENDING", extra=""):
    """A batch of n projects (status PENDING unless told); returns (batch, [project ids])."""
    batch = ctx.psql(
        f"INSERT INTO batches (owner_id, name, row_count) VALUES ('{owner['id']}', 'test', {n}) "
        "RETURNING id").split()[0]
    # psql prints the command tag ("INSERT 0 n") after RETURNING rows
    rows = ctx.psql(
        "INSERT INTO projects (batch_id, row_number, name, input, status, queued_at) "
        f"SELECT '{batch}', g + 1, 'Projekt ' || g, jsonb_build_object("
        "'name', 'Centrum Aktywności Lokalnej ' || g, "
        "'description', 'Warsztaty cyfrowe i spotkania integracyjne dla mieszkańców gminy', "
        "'organization', 'Fundacja Przykładowa', "
        "'goal', 'zwiększenie kompetencji cyfrowych seniorów', "
        "'target_group', 'seniorzy z gminy Nowa Wieś', "
        "'budget', 125000.5, 'start_date', '2025-03-01', 'end_date', '2025-11-30', "
        "'location', 'Nowa Wieś'), "
        f"'{status}', {extra or 'NULL'} "
        f"FROM generate_series(1, {n}) g RETURNING id")
    return batch, [t for t in rows.split() if len(t) == 36]


def post_generate(ctx, base, user, batch, body=None, ctype="application/json"):
    headers = {"Authorization": "Bearer " + user["token"]}
    if body is not None:
        headers["Content-Type"] = ctype
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
    return ctx.request(base, "POST", f"/api/batches/{batch}/generate", body=body, headers=headers)


def batch_status(ctx, batch):
    return ctx.psql(f"SELECT status FROM batches WHERE id = '{batch}'").strip()


def wait_batch_done(ctx, batch, timeout=30):
    return ctx.wait_until(lambda: batch_status(ctx, batch) in ("COMPLETED", "PARTIAL"),
                          timeout=timeout, interval=0.2, what=f"batch {batch} finished")


def count_rows(ctx, sql):
    return int(ctx.psql(sql).strip() or 0)


def batch_events(ctx, batch):
    out = ctx.redis("--no-raw", "XRANGE", f"kg:events:{batch}", "-", "+")
    # redis-cli --raw prints fields one per line; parse the data fields instead
    raw = ctx.redis("--raw", "XRANGE", f"kg:events:{batch}", "-", "+").splitlines()
    events = []
    for i, line in enumerate(raw):
        if line == "data" and i + 1 < len(raw):
            events.append(json.loads(raw[i + 1]))
    assert out is not None
    return events


def start_worker(ctx, name, env=None):
    log_path = os.path.join(ctx.tmpdir, f"{name}.log")
    e = dict(os.environ, KARTOGRAF_CONFIG=ctx.config_path)
    e.update(WORKER_FAST)
    e.update(env or {})
    log = open(log_path, "ab")
    p = subprocess.Popen([os.path.join(ctx.build, "worker", "kartograf-worker")],
                         stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=e)
    log.close()
    p.log_path = log_path
    ctx.wait_until(lambda: "generation data loaded" in proc_log(p), timeout=15, what=f"{name} ready")
    return p


def proc_log(p):
    with open(p.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()


def stop_proc(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if sig != signal.SIGKILL:
        text = proc_log(p)
        assert not any(s in text for s in SANITIZER), f"sanitizer report in {p.log_path}"


class own_workers:
    """Stops the stack's worker for the block, restarts it afterwards."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.procs = []

    def __enter__(self):
        self.ctx.stack("stop", "worker")
        return self

    def start(self, name, env=None):
        p = start_worker(self.ctx, name, env)
        self.procs.append(p)
        return p

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.ctx.stack("start", "worker")
        return False


def check_completed(ctx, batch, n):
    got = ctx.psql(f"SELECT status, count(*) FROM projects WHERE batch_id = '{batch}' GROUP BY 1")
    assert got.split() == [f"COMPLETED|{n}"], got
    per_project = ctx.psql(
        "SELECT p.id, count(s.key), count(*) FILTER (WHERE s.origin = 'ai' AND NOT s.reviewed "
        "AND s.provider = 'offline' AND s.body <> '') "
        f"FROM projects p LEFT JOIN sections s ON s.project_id = p.id WHERE p.batch_id = '{batch}' "
        "GROUP BY p.id").split()
    assert len(per_project) == n, per_project
    for row in per_project:
        pid, nsec, nai = row.split("|")
        assert nsec == "8" and nai == "8", f"project {pid}: {nsec} sections, {nai} offline ai"
