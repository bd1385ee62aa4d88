"""SSE relay GET /api/events/{batchId} (issue 7), through both web servers.

Events are published the way lib/kg_event.c does it (kg_event_next_seq +
kg_event_publish): bump batches.event_seq in PostgreSQL, then run the SAME Lua
script (read from lib/kg_event.c, so the two cannot drift apart) that appends to
the history stream kg:events:<id> and PUBLISHes on kg:batch:<id>.

The module restarts the events program once with short timings through
KARTOGRAF_EVENTS_* environment overrides (heartbeat 1 s, end grace 1 s), so
heartbeats and disconnect detection fit into the test's time budget. The gap wait
stays at its default (1 s): the out-of-order test needs its second publish to
arrive within it, which a loaded machine must not break.
"""
import base64
import configparser
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import time
import urllib.parse
import uuid

from kgtest import Redis  # noqa: E402

PASSWORD = "correct horse 42"
FAST_ENV = {"KARTOGRAF_EVENTS_HEARTBEAT": "1", "KARTOGRAF_EVENTS_END_GRACE": "1",
            # test_events_vanishing_clients_leave_nothing holds 200 streams of one user
            "KARTOGRAF_EVENTS_MAX_STREAMS_PER_USER": "1000"}
_state = {}


# ---------------------------------------------------------------- SSE client

class SSE:
    """A minimal EventSource: raw socket, HTTP/1.1, chunked decoding."""

    def __init__(self, base, path, headers=None, timeout=10):
        u = urllib.parse.urlsplit(base)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        lines = [f"GET {path} HTTP/1.1", f"Host: {u.hostname}:{u.port}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.raw = b""
        self.body = b""
        self.eof = False
        while b"\r\n\r\n" not in self.raw:
            self._recv()
            if self.eof:
                raise AssertionError(f"connection closed before headers: {self.raw[:200]!r}")
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self.length = int(self.headers["content-length"]) if "content-length" in self.headers else None

    def _recv(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(max(timeout, 0.01))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, OSError):
            data = b""
        if not data:
            self.eof = True
        self.raw += data
        return True

    def _decode(self):
        if not self.chunked:
            self.body += self.raw
            self.raw = b""
            return
        while True:
            if b"\r\n" not in self.raw:
                return
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self.eof = True
                self.raw = b""
                return
            if len(rest) < size + 2:
                return
            self.body += rest[:size]
            self.raw = rest[size + 2:]

    def json_body(self, timeout=10):
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._decode()
            if self.length is not None and len(self.body) >= self.length:
                break
            self._recv(deadline - time.monotonic())
        self._decode()
        return json.loads(self.body.decode())

    def next(self, timeout=5):
        """Next event {'id','event','data'} or comment {'comment'}; None on EOF;
        raises on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode()
            if b"\n\n" in self.body:
                block, self.body = self.body.split(b"\n\n", 1)
                ev = {}
                for ln in block.decode().split("\n"):
                    k, _, v = ln.partition(":")
                    v = v[1:] if v.startswith(" ") else v
                    if k == "":
                        ev["comment"] = v
                    elif k == "data":
                        ev["data"] = ev["data"] + "\n" + v if "data" in ev else v
                    else:
                        ev[k] = v
                return ev
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no event within {timeout}s (buffered {self.body[-200:]!r})")
            self._recv(left)

    def next_event(self, timeout=5):
        """Next real event (skips comments and the retry: field)."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next(max(deadline - time.monotonic(), 0.01))
            if ev is None or "event" in ev:
                return ev

    def vanish(self):
        """Go away without a FIN: RST, like a crashed browser or a dropped network."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- fixtures

def _publish_script(ctx):
    src = open(os.path.join(ctx.root, "lib", "kg_event.c"), encoding="utf-8").read()
    m = re.search(r"publish_script\[\]\s*=\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*;", src)
    assert m, "publish_script not found in lib/kg_event.c"
    return "".join(json.loads(s) for s in re.findall(r"\"(?:[^\"\\]|\\.)*\"", m.group(1)))


def _adduser(ctx, email):
    rc, _, err = ctx.run_program("worker/kartograf-admin", ["adduser", email], stdin=PASSWORD + "\n")
    assert rc == 0, f"adduser {email}: {err}"


def _token(ctx, email):
    for key in ctx.redis("--scan", "--pattern", "kg:login:*").split():
        ctx.redis("DEL", key)
    r = ctx.request(ctx.servers["lighttpd"], "POST", "/api/auth/login", {"email": email, "password": PASSWORD})
    assert r.status == 200, r
    return r.json()["token"]


def _events_pids(ctx):
    with open(os.path.join(ctx.state, "run", "fcgi-events.pid")) as f:
        top = int(f.read().split()[0])
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        if comm.startswith("events.fcgi") and (int(d) == top or ppid == top):
            pids.append(int(d))
    return sorted(pids)


def _setup(ctx):
    """Once per run: fast timings for the events program, two users, tokens."""
    if _state:
        return _state
    env_backup = {k: os.environ.get(k) for k in FAST_ENV}
    pf = os.path.join(ctx.state, "run", "fcgi-events.pid")
    with open(pf) as f:
        pid = int(f.read().split()[0])
    os.kill(pid, 15)
    ctx.wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                   open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z",
                   timeout=60, what="events program to stop")
    os.environ.update(FAST_ENV)
    try:
        ctx.stack("start", "fcgi")
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    ctx.wait_until(lambda: len(_events_pids(ctx)) == 2, timeout=30, what="2 events processes")
    owner, other = (f"sse-{uuid.uuid4().hex[:10]}@test.local" for _ in range(2))
    _adduser(ctx, owner)
    _adduser(ctx, other)
    _state.update(owner=owner, other=other, token=_token(ctx, owner), other_token=_token(ctx, other),
                  script=_publish_script(ctx), redis=Redis(ctx))
    return _state


def _batch(ctx, email, projects=3):
    out = ctx.psql(
        "WITH b AS (INSERT INTO batches (owner_id, name, row_count, status) "
        f"SELECT id, 'SSE test', {projects}, 'GENERATING' FROM users WHERE email = '{email}' RETURNING id) "
        "INSERT INTO projects (batch_id, row_number, name, input) "
        f"SELECT b.id, g + 1, 'Projekt ' || g, '{{}}'::jsonb FROM b, generate_series(1, {projects}) g "
        "RETURNING batch_id, id")
    rows = [ln.split("|") for ln in out.split() if "|" in ln]
    return rows[0][0], [r[1] for r in rows]


def _next_seq(ctx, batch):
    return int(ctx.psql(f"UPDATE batches SET event_seq = event_seq + 1 WHERE id = '{batch}' RETURNING event_seq").split()[0])


def _send(ctx, batch, seq, etype="project.progress", project=None, status="GENERATING", progress=50):
    ev = {"type": etype, "seq": seq, "ts": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
          "batch_id": batch, "project_id": project, "status": status, "progress": progress,
          "quality_score": None}
    _state["redis"].cmd("EVAL", _state["script"], 2, f"kg:events:{batch}", f"kg:batch:{batch}",
                        json.dumps(ev, separators=(",", ":")), seq, 1000, 7 * 24 * 3600)
    return ev


def _publish(ctx, batch, etype="project.progress", **kw):
    """kg_event_next_seq + kg_event_publish."""
    return _send(ctx, batch, _next_seq(ctx, batch), etype, **kw)


def _ticket(ctx, base, batch, token=None):
    r = ctx.request(base, "POST", f"/api/events/{batch}/ticket", body={},
                    headers={"Authorization": "Bearer " + (token or _state["token"])})
    assert r.status == 201, r
    return r.json()["ticket"]


def _stream(ctx, base, batch, token=None, last_id=None, query=None, timeout=10, ticket=False):
    """ticket=True: like the browser, a single-use ticket instead of the header."""
    headers = {"Authorization": "Bearer " + (token or _state["token"])}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    path = f"/api/events/{batch}"
    if ticket:
        query = dict(query or {}, ticket=_ticket(ctx, base, batch, token))
        headers.pop("Authorization")
    if query:
        path += "?" + urllib.parse.urlencode(query)
    s = SSE(base, path, headers, timeout=timeout)
    return s


def _open(ctx, base, batch, **kw):
    s = _stream(ctx, base, batch, **kw)
    assert s.status == 200, f"status {s.status}: {s.json_body()}"
    return s


def _watch(ctx, base, batch, **kw):
    """An open stream whose first event, the snapshot, has been read."""
    s = _open(ctx, base, batch, **kw)
    ev = s.next_event(5)
    assert ev and ev["event"] == "snapshot", ev
    return s


# ---------------------------------------------------------------- tests

def test_events_auth_errors_before_stream(ctx):
    st = _setup(ctx)
    batch, _ = _batch(ctx, st["owner"])

    def check(name, base):
        cases = [
            ("no token", {}, None, 401),
            ("bad token", {"Authorization": "Bearer not.a.jwt"}, None, 401),
            ("bad query token", {}, {"token": "x.y.z"}, 401),
            ("other user's batch", {"Authorization": "Bearer " + st["other_token"]}, None, 404),
            ("unknown batch", {"Authorization": "Bearer " + st["token"]}, None, 404),
        ]
        for what, headers, query, status in cases:
            b = str(uuid.uuid4()) if what == "unknown batch" else batch
            path = f"/api/events/{b}" + ("?" + urllib.parse.urlencode(query) if query else "")
            r = ctx.request(base, "GET", path, headers=headers)
            assert r.status == status, f"{what}: {r.status} {r.body[:200]!r}"
            assert r.header("content-type", "").startswith("application/json"), f"{what}: {r.headers}"
            assert "error" in r.json(), what
        r = ctx.request(base, "GET", "/api/events/not-a-uuid", headers={"Authorization": "Bearer " + st["token"]})
        assert r.status == 404 and "error" in r.json(), r
        r = ctx.request(base, "POST", f"/api/events/{batch}", body={},
                        headers={"Authorization": "Bearer " + st["token"]})
        assert r.status == 405, r
    ctx.check_servers(check)


def test_events_snapshot_then_ordered_live(ctx):
    st = _setup(ctx)

    def check(name, base):
        batch, projects = _batch(ctx, st["owner"])
        _publish(ctx, batch, project=projects[0], etype="project.status_changed", status="QUEUED", progress=0)
        s = _open(ctx, base, batch)
        try:
            h = s.headers
            assert h.get("content-type", "").startswith("text/event-stream"), h
            assert h.get("cache-control") == "no-cache", h
            assert h.get("x-accel-buffering") == "no", h
            assert "content-encoding" not in h, h
            first = s.next(5)
            assert first.get("retry") == "3000", first
            snap = s.next_event(5)
            assert snap["event"] == "snapshot" and snap["id"] == "1", snap
            data = json.loads(snap["data"])
            assert data["status"] == "GENERATING" and data["seq"] == 1, data
            assert [p["row"] for p in data["projects"]] == [2, 3, 4], data
            p0 = data["projects"][0]
            assert set(p0) >= {"id", "name", "row", "status", "progress", "quality_score"}, p0
            sent = [_publish(ctx, batch, project=projects[i % 3], progress=10 * i) for i in range(12)]
            for ev in sent:
                got = s.next_event(5)
                assert got and got["id"] == str(ev["seq"]) and got["event"] == ev["type"], (name, got, ev)
                assert json.loads(got["data"]) == ev, (got, ev)
        finally:
            s.close()
    ctx.check_servers(check)


def test_events_out_of_order_publishers(ctx):
    """Two workers: seq 2 is published before seq 1. The stream still sends 1, 2.
    Seq 1 must come within [events] gap_wait_ms of seq 2 (else the relay rightly
    falls back to a snapshot at 2): both go out on one Redis connection, 0.1 s
    apart, not through a redis-cli started in between (seconds under load)."""
    st = _setup(ctx)

    def check(name, base):
        batch, projects = _batch(ctx, st["owner"])
        s = _watch(ctx, base, batch)
        try:
            a, b = _next_seq(ctx, batch), _next_seq(ctx, batch)
            _send(ctx, batch, b, project=projects[1])
            time.sleep(0.1)
            _send(ctx, batch, a, project=projects[0])
            ids = [s.next_event(5)["id"], s.next_event(5)["id"]]
            assert ids == [str(a), str(b)], (name, ids)
        finally:
            s.close()
    ctx.check_servers(check)


def test_events_replay_after_disconnect(ctx):
    st = _setup(ctx)

    def check(name, base):
        batch, projects = _batch(ctx, st["owner"])
        s = _watch(ctx, base, batch)
        for i in range(3):
            _publish(ctx, batch, project=projects[0], progress=i)
        got = [s.next_event(5) for _ in range(3)]
        last = got[-1]["id"]
        s.vanish()
        missed = [_publish(ctx, batch, project=projects[1], progress=i) for i in range(4)]
        # EventSource reconnect: Last-Event-ID header
        s = _open(ctx, base, batch, last_id=last)
        try:
            for ev in missed:
                g = s.next_event(5)
                assert g["event"] == ev["type"] and g["id"] == str(ev["seq"]), (name, g, ev)
            live = _publish(ctx, batch, project=projects[2])
            g = s.next_event(5)
            assert g["id"] == str(live["seq"]), (name, g)
        finally:
            s.close()
        # our UI after a reload: ?ticket=&lastEventId=
        s = _open(ctx, base, batch, query={"lastEventId": missed[1]["seq"]}, ticket=True)
        try:
            ids = [s.next_event(5)["id"] for _ in range(3)]
            assert ids == [str(missed[2]["seq"]), str(missed[3]["seq"]), str(live["seq"])], (name, ids)
            more = _publish(ctx, batch)
            assert s.next_event(5)["id"] == str(more["seq"])
        finally:
            s.close()
    ctx.check_servers(check)


def test_events_snapshot_for_stale_or_gapped_id(ctx):
    st = _setup(ctx)

    def check(name, base):
        batch, projects = _batch(ctx, st["owner"])
        for _ in range(5):
            _publish(ctx, batch)
        # history expired/trimmed: id 1 is older than what Redis holds
        ctx.redis("DEL", f"kg:events:{batch}")
        s = _open(ctx, base, batch, last_id=1)
        ev = s.next_event(5)
        assert ev["event"] == "snapshot" and ev["id"] == "5", (name, ev)
        s.close()
        # an event committed but never published (Redis was down): a gap
        _publish(ctx, batch)
        _next_seq(ctx, batch)  # seq 7: in the database only
        s = _open(ctx, base, batch, last_id=6)
        ev = s.next_event(5)
        assert ev["event"] == "snapshot" and ev["id"] == "7", (name, ev)
        nxt = _publish(ctx, batch)
        assert s.next_event(5)["id"] == str(nxt["seq"])
        s.close()
        # an id from the future (another batch's, a reset database)
        s = _open(ctx, base, batch, last_id=999)
        ev = s.next_event(5)
        assert ev["event"] == "snapshot" and ev["id"] == str(nxt["seq"]), (name, ev)
        s.close()
        # up to date: nothing to send until something happens
        s = _open(ctx, base, batch, last_id=nxt["seq"])
        ev2 = _publish(ctx, batch)
        got = s.next_event(5)
        assert got["id"] == str(ev2["seq"]) and got["event"] != "snapshot", (name, got)
        s.close()
    ctx.check_servers(check)


def test_events_heartbeat(ctx):
    st = _setup(ctx)

    def check(name, base):
        batch, _ = _batch(ctx, st["owner"])
        s = _watch(ctx, base, batch)
        try:
            t0 = time.monotonic()
            ev = s.next(5)
            assert ev == {"comment": "ping"}, (name, ev)
            assert time.monotonic() - t0 < 3, name
        finally:
            s.close()
    ctx.check_servers(check)


def _short_token(ctx, email, seconds):
    """A valid token of `email` that expires in `seconds`."""
    cp = configparser.ConfigParser()
    cp.read(ctx.config_path)
    key = cp["auth"]["jwt_key"]
    uid = ctx.psql(f"SELECT id FROM users WHERE email = '{email}'").strip()
    now = int(time.time())
    epoch = int(ctx.psql(f"SELECT token_epoch FROM users WHERE email = '{email}'").strip())
    claims = {"sub": uid, "role": "user", "iat": now, "exp": now + seconds, "iss": "kartograf",
              "jti": uuid.uuid4().hex, "epoch": epoch}
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(hmac.new(key.encode(), head.encode(), hashlib.sha256).digest())


def test_events_end_when_token_expires(ctx):
    st = _setup(ctx)
    batch, _ = _batch(ctx, st["owner"])
    token = _short_token(ctx, st["owner"], 3)
    streams = {name: _open(ctx, base, batch, token=token, ticket=True) for name, base in ctx.servers.items()}

    def check(name, base):
        s = streams[name]
        assert s.next_event(5)["event"] == "snapshot"
        end = s.next_event(6)
        assert end and end["event"] == "end" and json.loads(end["data"])["reason"] == "token_expired", (name, end)
        assert s.next(5) is None, name
        r = ctx.request(base, "GET", f"/api/events/{batch}", headers={"Authorization": "Bearer " + token})
        assert r.status == 401 and r.json()["error"] == "token_expired", (name, r)
    try:
        ctx.check_servers(check)
    finally:
        for s in streams.values():
            s.close()


def test_events_end_after_batch_completed(ctx):
    st = _setup(ctx)

    def check(name, base):
        batch, _ = _batch(ctx, st["owner"])
        s = _watch(ctx, base, batch)
        try:
            ctx.psql(f"UPDATE batches SET status = 'COMPLETED', completed_at = now() WHERE id = '{batch}'")
            done = _publish(ctx, batch, etype="batch.completed", status="COMPLETED", progress=100)
            ev = s.next_event(5)
            assert ev["event"] == "batch.completed" and ev["id"] == str(done["seq"]), ev
            end = s.next_event(5)
            assert end and end["event"] == "end" and json.loads(end["data"])["reason"] == "batch_completed", end
            assert "id" not in end, end
            assert s.next(5) is None, "stream should end after batch.completed + grace"
        finally:
            s.close()
    ctx.check_servers(check)


def _relay_state(ctx):
    """{pid: (threads, fds, local ports of its Redis connections)} of every relay
    process, and the local ports of the Redis subscriber connections (CLIENT
    LIST name=kg-events-relay). Connections are told apart by socket inode
    (/proc/PID/fd -> /proc/net/tcp), so other programs' Redis clients (the
    worker, the other FastCGI programs, redis-cli) do not count."""
    port = int(ctx.env["REDIS_PORT"])
    to_redis = {}  # socket inode -> local port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for ln in f.read().splitlines()[1:]:
                col = ln.split()
                if col[3] == "01" and int(col[2].rsplit(":", 1)[1], 16) == port:
                    to_redis[col[9]] = int(col[1].rsplit(":", 1)[1], 16)
    procs = {}
    for pid in _events_pids(ctx):
        fds = os.listdir(f"/proc/{pid}/fd")
        ports = set()
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in to_redis:
                ports.add(to_redis[link[8:-1]])
        procs[pid] = (len(os.listdir(f"/proc/{pid}/task")), len(fds), ports)
    subs = {int(m) for m in re.findall(r"addr=\S+:(\d+) .* name=kg-events-relay ",
                                       ctx.redis("CLIENT", "LIST"))}
    return procs, subs


def test_events_vanishing_clients_leave_nothing(ctx):
    """Request threads are a fixed pool and each process has one dispatcher
    thread + one Redis subscriber connection (started with its first stream):
    after 200 clients vanish, each relay process is back to its threads, file
    descriptors and Redis connections of before, plus what a process whose
    first stream came during the test opened once: the dispatcher thread, its
    eventfd and subscriber, and (first request at all) its database and Redis
    command connections (since issue 16 the per-user stream slots live in
    Redis). A leak of one thing per stream would be ~100 a process."""
    st = _setup(ctx)
    batch, _ = _batch(ctx, st["owner"])
    chan = f"kg:batch:{batch}"
    numsub = lambda: int(ctx.redis("PUBSUB", "NUMSUB", chan).split()[-1])  # noqa: E731

    def check(name, base):
        procs0, subs0 = _relay_state(ctx)
        streams = []
        try:
            for _ in range(200):
                s = _open(ctx, base, batch, timeout=20)
                streams.append(s)
            for s in streams:
                assert s.next_event(10)["event"] == "snapshot", name
            assert 1 <= numsub() <= 2, (name, numsub())
            ev = _publish(ctx, batch)
            for s in streams:
                assert s.next_event(10)["id"] == str(ev["seq"]), name
        finally:
            for s in streams:
                s.vanish()
        ctx.wait_until(lambda: numsub() == 0, timeout=30, what=f"[{name}] channel unsubscribed")
        seen = []

        def back():
            procs, subs = _relay_state(ctx)
            seen[:] = [procs, subs]
            if set(procs) != set(procs0):
                raise AssertionError(f"relay processes changed: {sorted(procs0)} -> {sorted(procs)}")
            for pid, (_, fds, ports) in procs.items():
                new = bool(ports & subs) and not (procs0[pid][2] & subs0)  # first stream now
                if fds > procs0[pid][1] + 4 * new or len(ports) > len(procs0[pid][2]) + 2 * new:
                    return False
            return True
        ctx.wait_until(back, timeout=30, what=f"[{name}] relay fds and Redis connections back to "
                       f"{ {p: v[1:] for p, v in procs0.items()} } (now {seen})")
        procs, subs = seen
        for pid, (tasks, _, ports) in procs.items():
            new = bool(ports & subs) and not (procs0[pid][2] & subs0)
            # main + (max_streams + 1 spare) request threads (+ the dispatcher)
            assert tasks == procs0[pid][0] + new <= 1 + 257 + 1, \
                f"[{name}] relay {pid}: threads {procs0[pid][0]} -> {tasks}"
        assert len(subs) <= len(procs), f"[{name}] {len(subs)} subscribers for {len(procs)} relays"
        # and the relay still serves
        s = _watch(ctx, base, batch)
        s.close()
    ctx.check_servers(check)


def test_events_redis_restart_mid_stream(ctx):
    """Redis restarts (losing the history: the test stack does not persist it) and
    an event is published while it is down (the worker's publish fails, the
    database has it). Each client ends with every seq, in order, no duplicates:
    by a catch-up snapshot on the open stream, or by reconnecting."""
    st = _setup(ctx)
    batches = {}
    streams = {}
    for name, base in ctx.servers.items():
        batches[name], _ = _batch(ctx, st["owner"])
        streams[name] = _open(ctx, base, batches[name])
        assert streams[name].next_event(5)["event"] == "snapshot"
        _publish(ctx, batches[name])
        assert streams[name].next_event(5)["id"] == "1"
    try:
        ctx.stack("stop", "redis")
        for name in ctx.servers:
            _next_seq(ctx, batches[name])  # seq 2: published while Redis is down
    finally:
        ctx.stack("start", "redis")
    # the relays resubscribe (their dispatchers reconnect)
    ctx.wait_until(lambda: all(int(ctx.redis("PUBSUB", "NUMSUB", f"kg:batch:{b}").split()[-1]) >= 1
                               for b in batches.values()), timeout=30, what="relays subscribed again")
    tail = {name: [_publish(ctx, batches[name])["seq"] for _ in range(2)] for name in ctx.servers}

    def check(name, base):
        s, seen, kinds = streams[name], [1], []
        deadline = time.monotonic() + 15
        while seen[-1] < tail[name][-1] and time.monotonic() < deadline:
            ev = s.next_event(max(deadline - time.monotonic(), 0.1))
            if ev is None:  # closed cleanly: resume like EventSource
                s.close()
                s = streams[name] = _open(ctx, base, batches[name], last_id=seen[-1])
                continue
            kinds.append(ev["event"])
            seq = int(ev["id"])
            assert seq > seen[-1], f"{name}: seq {seq} after {seen} (duplicate or out of order)"
            seen.append(seq)
        assert seen[-1] == tail[name][-1], f"{name}: got {seen}, expected up to {tail[name][-1]}"
        assert "snapshot" in kinds, f"{name}: seq 2 was never published, a snapshot must cover it: {kinds}"
    try:
        ctx.check_servers(check)
    finally:
        for s in streams.values():
            s.close()


def test_events_real_generated_batch(ctx):
    """End to end with the worker, once generation exists (issue 5)."""
    st = _setup(ctx)
    if not os.path.exists(os.path.join(ctx.build, "worker", "kartograf-worker")):
        print("# skipped: no worker built")
        return
    base = ctx.servers["lighttpd"]
    batch, _ = _batch(ctx, st["owner"])
    ctx.psql(f"UPDATE batches SET status = 'VALIDATED' WHERE id = '{batch}'")
    s = _watch(ctx, base, batch)
    try:
        r = ctx.request(base, "POST", f"/api/batches/{batch}/generate",
                        headers={"Authorization": "Bearer " + st["token"]})
        if r.status in (404, 405):
            print(f"# skipped: POST /api/batches/{{id}}/generate answers {r.status}")
            return
        assert r.status == 202, r
        last, kinds = 0, []
        while True:
            ev = s.next_event(60)
            assert ev is not None, f"stream ended before batch.completed: {kinds}"
            if ev["event"] == "end":
                break
            seq = int(ev["id"])
            assert seq == last + 1, f"seq {seq} after {last}"
            last = seq
            kinds.append(ev["event"])
        assert kinds[-1] == "batch.completed", kinds
        assert kinds.count("project.completed") + kinds.count("project.failed") == 3, kinds
    finally:
        s.close()
