"""Sessions that end, tickets instead of tokens in URLs, throttling that cannot
be turned against users, stream limits (issue 16), through both web servers."""
import base64
import concurrent.futures
import configparser
import contextlib
import hashlib
import hmac
import json
import os
import re
import select
import stat
import subprocess
import time
import urllib.parse
import uuid

import test_events as _te
from kgtest import PASSWORD, add_user, clear_throttle, drop_users

NEW_PASSWORD = "a much better passphrase 7"


# ---------------------------------------------------------------- helpers

def _auth(token):
    return {"Authorization": "Bearer " + token}


def _claims(token):
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def _me(ctx, base, token):
    return ctx.request(base, "GET", "/api/auth/me", headers=_auth(token))


def _login_raw(ctx, base, email, password, xff=None):
    headers = {"X-Forwarded-For": xff} if xff else {}
    return ctx.request(base, "POST", "/api/auth/login", {"email": email, "password": password},
                       headers=headers)


def _token(ctx, base, email, password=PASSWORD):
    clear_throttle(ctx)
    r = _login_raw(ctx, base, email, password)
    assert r.status == 200, r
    return r.json()["token"]


def _batch(ctx, email):
    out = ctx.psql("INSERT INTO batches (owner_id, name, row_count, status) "
                   f"SELECT id, 'session test', 1, 'GENERATING' FROM users WHERE email = '{email}' "
                   "RETURNING id")
    return out.split()[0]


def _ticket(ctx, base, batch, token):
    return ctx.request(base, "POST", f"/api/events/{batch}/ticket", body={}, headers=_auth(token))


def _stream(ctx, base, batch, token, timeout=10):
    """Open the event stream like the browser: ticket first."""
    r = _ticket(ctx, base, batch, token)
    assert r.status == 201, r
    return _te.SSE(base, r.json()["url"], {}, timeout=timeout)


def _streams_closed(ctx, *emails):
    """Wait until the relay has let go of every stream of these users: it
    frees the user's slot (kg:streams:<id>) and its process's slot together,
    when it notices a closed client (at its next heartbeat, 1 s here), so
    the next check finds the processes' slots free."""
    ids = ctx.psql("SELECT id FROM users WHERE email IN (%s)" %
                   ", ".join(f"'{e}'" for e in emails)).split()
    ctx.wait_until(lambda: all(ctx.redis("ZCARD", f"kg:streams:{i}") == "0" for i in ids),
                   timeout=10, what="the relay letting go of the closed streams")


def _ends_with(s, reason, timeout=8):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = s.next_event(max(deadline - time.monotonic(), 0.1))
        assert ev is not None, f"stream closed without event: end ({reason} expected)"
        if ev["event"] == "end":
            got = json.loads(ev["data"])["reason"]
            assert got == reason, f"end reason {got}, expected {reason}"
            assert s.next(5) is None, "stream not closed after end"
            return
    raise AssertionError(f"no end event within {timeout}s")


def _stop_program(ctx, name):
    pf = os.path.join(ctx.state, "run", f"fcgi-{name}.pid")
    with open(pf) as f:
        pid = int(f.read().split()[0])
    os.kill(pid, 15)
    ctx.wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                   open(f"/proc/{pid}/stat").read().split(")")[1].split()[0] == "Z",
                   timeout=20, what=f"{name} program to stop")


def _restart(ctx, programs, env, web=False):
    """Restart some FastCGI programs (kgstack starts only the stopped ones)
    and, with web=True, both web servers with regenerated configs, with
    `env` (None values: removed) in the environment."""
    old = {k: os.environ.get(k) for k in env}
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        for name in programs:
            _stop_program(ctx, name)
        if web:
            ctx.stack("stop", "lighttpd", "apache")
            ctx.stack("init")
        ctx.stack("start", "fcgi", *(["lighttpd", "apache"] if web else []))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    for base in ctx.servers.values():
        ctx.wait_until(lambda b=base: ctx.request(b, "GET", "/api/health").status == 200,
                       timeout=20, what="programs back")


@contextlib.contextmanager
def _configured(ctx, programs, env, web=False):
    _restart(ctx, programs, env, web)
    try:
        yield
    finally:
        _restart(ctx, programs, {k: None for k in env}, web)


# ---------------------------------------------------------------- sessions

def test_session_logout_ends_only_this_token(ctx):
    email = add_user(ctx, "lo")
    try:
        def check(name, base):
            t1, t2 = _token(ctx, base, email), _token(ctx, base, email)
            c = _claims(t1)
            assert re.fullmatch(r"[0-9a-f]{32}", c["jti"]) and isinstance(c["epoch"], int), c
            assert c["jti"] != _claims(t2)["jti"]
            r = ctx.request(base, "POST", "/api/auth/logout", body={}, headers=_auth(t1))
            assert r.status == 200 and r.json() == {"ended": True}, r
            r = _me(ctx, base, t1)
            assert r.status == 401 and r.json()["error"] == "session_ended", r
            assert _me(ctx, base, t2).status == 200, "logout ended another session"
            r = ctx.request(base, "POST", "/api/auth/logout", body={}, headers=_auth(t1))
            assert r.status == 401, r
            assert ctx.request(base, "POST", "/api/auth/logout", body={}).status == 401
            assert ctx.psql(f"SELECT count(*) FROM revoked_tokens WHERE jti = '{c['jti']}'").strip() == "1"
        ctx.check_servers(check)
    finally:
        drop_users(ctx, email)


def test_session_password_change(ctx):
    email = add_user(ctx, "pw")
    try:
        def check(name, base):
            password = PASSWORD if name == "lighttpd" else NEW_PASSWORD
            new = NEW_PASSWORD if name == "lighttpd" else PASSWORD + " again"
            t1, t2 = _token(ctx, base, email, password), _token(ctx, base, email, password)

            def change(cur, nw, token=t1):
                return ctx.request(base, "POST", "/api/auth/password",
                                   {"current_password": cur, "new_password": nw}, headers=_auth(token))
            for weak in ("short1", "password1234", "123456789012", "aaaaaaaaaaaaaa", email):
                r = change(password, weak)
                assert r.status == 422 and r.json()["error"] == "weak_password", (weak, r)
            r = change("not my password", new)
            assert r.status == 403 and r.json()["error"] == "wrong_password", r
            assert _me(ctx, base, t1).status == 200, "a wrong current password must not end the session"
            assert ctx.request(base, "POST", "/api/auth/password", {"new_password": new},
                               headers=_auth(t1)).status == 400
            assert ctx.request(base, "POST", "/api/auth/password", b"x",
                               {"Content-Type": "text/plain", **_auth(t1)}).status == 415
            assert ctx.request(base, "POST", "/api/auth/password",
                               {"current_password": password, "new_password": new}).status == 401
            r = change(password, new)
            assert r.status == 200, r
            t3 = r.json()["token"]
            assert _claims(t3)["epoch"] == _claims(t1)["epoch"] + 1
            for old in (t1, t2):
                r = _me(ctx, base, old)
                assert r.status == 401 and r.json()["error"] == "session_ended", r
            assert _me(ctx, base, t3).status == 200
            clear_throttle(ctx)
            assert _login_raw(ctx, base, email, password).status == 401
            assert _login_raw(ctx, base, email, new).status == 200
        ctx.check_servers(check)
    finally:
        clear_throttle(ctx)
        drop_users(ctx, email)


def test_session_admin_passwd_and_deluser_end_sessions(ctx):
    email = add_user(ctx, "ad")
    base = ctx.servers["apache"]
    t = _token(ctx, base, email)
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["passwd", email], stdin="short\n")
    assert rc != 0 and "12 characters" in err, (rc, err)
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["passwd", email], stdin=NEW_PASSWORD + "\n")
    assert rc == 0 and "sessions ended" in out, (rc, out, err)
    for name, b in ctx.servers.items():
        r = _me(ctx, b, t)
        assert r.status == 401 and r.json()["error"] == "session_ended", (name, r)
    t = _token(ctx, base, email, NEW_PASSWORD)
    assert _me(ctx, base, t).status == 200
    drop_users(ctx, email)
    for name, b in ctx.servers.items():
        assert _me(ctx, b, t).status == 401, name


def test_session_role_change_next_request(ctx):
    admin, owner = add_user(ctx, "ra", admin=True), add_user(ctx, "ro")
    try:
        batch = _batch(ctx, owner)
        t = _token(ctx, ctx.servers["lighttpd"], admin)

        def get(name, base):
            return ctx.request(base, "GET", f"/api/batches/{batch}", headers=_auth(t)).status
        for name, base in ctx.servers.items():
            assert get(name, base) == 200, name
        rc, out, err = ctx.run_program("worker/kartograf-admin", ["setrole", admin, "user"])
        assert rc == 0, err
        for name, base in ctx.servers.items():
            assert get(name, base) == 404, f"{name}: demoted admin still sees another user's batch"
            assert _me(ctx, base, t).json()["role"] == "user", name
        rc, _, err = ctx.run_program("worker/kartograf-admin", ["setrole", admin, "admin"])
        assert rc == 0, err
        for name, base in ctx.servers.items():
            assert get(name, base) == 200, name
        rc, _, err = ctx.run_program("worker/kartograf-admin", ["setrole", admin, "root"])
        assert rc == 2, (rc, err)
        rc, _, err = ctx.run_program("worker/kartograf-admin", ["setrole", "nobody@test.local", "user"])
        assert rc == 3, (rc, err)
    finally:
        drop_users(ctx, admin, owner)


def test_session_old_tokens_without_jti_refused(ctx):
    """A token from before sessions could end (no jti/epoch) is refused."""
    email = add_user(ctx, "oj")
    try:
        cp = configparser.ConfigParser(interpolation=None)
        cp.read(ctx.config_path)
        key = cp["auth"]["jwt_key"]
        uid = ctx.psql(f"SELECT id FROM users WHERE email = '{email}'").strip()
        now = int(time.time())
        b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731

        def mint(claims):
            head = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
            return head + "." + b64(hmac.new(key.encode(), head.encode(), hashlib.sha256).digest())
        base_claims = {"sub": uid, "role": "user", "iat": now, "exp": now + 600, "iss": "kartograf"}
        good = dict(base_claims, jti=uuid.uuid4().hex, epoch=0)
        assert _me(ctx, ctx.servers["lighttpd"], mint(good)).status == 200
        for what, claims in (("no jti", dict(base_claims, epoch=0)),
                             ("no epoch", dict(base_claims, jti=uuid.uuid4().hex)),
                             ("bad jti", dict(good, jti="x' OR 1=1 --")),
                             ("other epoch", dict(good, epoch=7))):
            for name, base in ctx.servers.items():
                r = _me(ctx, base, mint(claims))
                assert r.status == 401, (what, name, r)
    finally:
        drop_users(ctx, email)


# ---------------------------------------------------------------- tickets

def test_session_tickets_single_use_and_scoped(ctx):
    owner, other = add_user(ctx, "tk"), add_user(ctx, "tx")
    try:
        batch, batch2, foreign = _batch(ctx, owner), _batch(ctx, owner), _batch(ctx, other)

        def check(name, base):
            t = _token(ctx, base, owner)
            r = _ticket(ctx, base, batch, t)
            assert r.status == 201, r
            body = r.json()
            ticket = body["ticket"]
            assert re.fullmatch(r"[0-9a-f]{64}", ticket) and body["expires_in"] == 60, body
            assert body["url"] == f"/api/events/{batch}?ticket={ticket}", body
            # Redis holds the ticket's hash, never the ticket, for at most 60 s
            key = "kg:ticket:" + hashlib.sha256(ticket.encode()).hexdigest()
            assert 0 < int(ctx.redis("TTL", key)) <= 60
            assert ticket not in ctx.redis("GET", key)
            s = _te.SSE(base, body["url"], {})
            try:
                assert s.status == 200, s.json_body()
                assert s.next_event(5)["event"] == "snapshot"
            finally:
                s.close()
            # replay: the same URL again (what an access log would hold)
            r = ctx.request(base, "GET", body["url"])
            assert r.status == 401 and r.json()["error"] == "invalid_ticket", r
            # bound to its batch
            r2 = _ticket(ctx, base, batch, t).json()["ticket"]
            r = ctx.request(base, "GET", f"/api/events/{batch2}?ticket={r2}")
            assert r.status == 401, r
            # expired
            r3 = _ticket(ctx, base, batch, t).json()["ticket"]
            ctx.redis("PEXPIRE", "kg:ticket:" + hashlib.sha256(r3.encode()).hexdigest(), 1)
            time.sleep(0.05)
            r = ctx.request(base, "GET", f"/api/events/{batch}?ticket={r3}")
            assert r.status == 401 and r.json()["error"] == "invalid_ticket", r
            # dies with its session
            r4 = _ticket(ctx, base, batch, t).json()["ticket"]
            assert ctx.request(base, "POST", "/api/auth/logout", body={}, headers=_auth(t)).status == 200
            r = ctx.request(base, "GET", f"/api/events/{batch}?ticket={r4}")
            assert r.status == 401 and r.json()["error"] == "session_ended", r
            t = _token(ctx, base, owner)
            for bad in ("x" * 64, "0" * 63, "' OR 1=1", ""):
                r = ctx.request(base, "GET", f"/api/events/{batch}?ticket={urllib.parse.quote(bad)}")
                assert r.status == 401, (bad, r)
            assert _ticket(ctx, base, foreign, t).status == 404
            assert _ticket(ctx, base, str(uuid.uuid4()), t).status == 404
            assert ctx.request(base, "POST", f"/api/events/{batch}/ticket", body={}).status == 401
            # the long-lived token is not accepted in the URL (query_token off)
            r = ctx.request(base, "GET", f"/api/events/{batch}?token=not.a.token")
            assert r.status == 401 and r.json()["error"] == "unauthorized", r
        ctx.check_servers(check)
    finally:
        drop_users(ctx, owner, other)


# ---------------------------------------------------------------- open streams and limits

STREAM_ENV = {"KARTOGRAF_EVENTS_HEARTBEAT": "1", "KARTOGRAF_EVENTS_MAX_STREAMS": "3",
              "KARTOGRAF_EVENTS_MAX_STREAMS_PER_USER": "2", "KARTOGRAF_AUTH_QUERY_TOKEN": "true"}


def _short_token(ctx, email, seconds):
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(ctx.config_path)
    key = cp["auth"]["jwt_key"]
    row = ctx.psql(f"SELECT id, token_epoch FROM users WHERE email = '{email}'").strip().split("|")
    now = int(time.time())
    claims = {"sub": row[0], "role": "user", "iat": now, "exp": now + seconds, "iss": "kartograf",
              "jti": uuid.uuid4().hex, "epoch": int(row[1])}
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    head = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(claims).encode())
    return head + "." + b64(hmac.new(key.encode(), head.encode(), hashlib.sha256).digest())


def _streams_end_when_sessions_end(ctx):
    owner, admin = add_user(ctx, "se"), add_user(ctx, "sa", admin=True)
    try:
        batch = _batch(ctx, owner)

        def check(name, base):
            # logout of the stream's own session ends it; another session's does not
            t, t_other = _token(ctx, base, owner), _token(ctx, base, owner)
            s = _stream(ctx, base, batch, t)
            try:
                assert s.next_event(5)["event"] == "snapshot"
                ctx.request(base, "POST", "/api/auth/logout", body={}, headers=_auth(t_other))
                for _ in range(2):  # two heartbeats (1 s) later it still streams
                    assert s.next(3) == {"comment": "ping"}, "another session's logout ended the stream"
                ctx.request(base, "POST", "/api/auth/logout", body={}, headers=_auth(t))
                _ends_with(s, "session_ended")
            finally:
                s.close()
            # a password change ends the streams of every other session
            t = _token(ctx, base, owner)
            s = _stream(ctx, base, batch, t)
            try:
                assert s.next_event(5)["event"] == "snapshot"
                t2 = _token(ctx, base, owner)
                r = ctx.request(base, "POST", "/api/auth/password",
                                {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=_auth(t2))
                assert r.status == 200, r
                _ends_with(s, "session_ended")
                r = ctx.request(base, "POST", "/api/auth/password",
                                {"current_password": NEW_PASSWORD, "new_password": PASSWORD},
                                headers=_auth(r.json()["token"]))
                assert r.status == 200, r
            finally:
                s.close()
            # a demoted admin stops watching another user's batch
            ctx.run_program("worker/kartograf-admin", ["setrole", admin, "admin"])
            ta = _token(ctx, base, admin)
            s = _stream(ctx, base, batch, ta)
            try:
                assert s.next_event(5)["event"] == "snapshot"
                assert s.next(3) == {"comment": "ping"}, "the admin's stream did not start"
                rc, _, err = ctx.run_program("worker/kartograf-admin", ["setrole", admin, "user"])
                assert rc == 0, err
                _ends_with(s, "session_ended")
            finally:
                s.close()
        ctx.check_servers(check)
        # deleting the user ends their streams
        base = ctx.servers["apache"]
        s = _stream(ctx, base, batch, _token(ctx, base, owner))
        try:
            assert s.next_event(5)["event"] == "snapshot"
            drop_users(ctx, owner)
            _ends_with(s, "session_ended")
        finally:
            s.close()
    finally:
        drop_users(ctx, owner, admin)


def _legacy_query_token(ctx):
    """[auth] query_token = true: ?token= works again (old clients). The
    token is minted to expire in 20 s, so the access logs keep no live one."""
    email = add_user(ctx, "qt")
    try:
        batch = _batch(ctx, email)

        def check(name, base):
            token = _short_token(ctx, email, 20)
            s = _te.SSE(base, f"/api/events/{batch}?token={token}", {})
            try:
                assert s.status == 200, s.json_body()
                assert s.next_event(5)["event"] == "snapshot"
            finally:
                s.close()
            _streams_closed(ctx, email)
        ctx.check_servers(check)
    finally:
        drop_users(ctx, email)


def _user_stream_cap(ctx):
    email = add_user(ctx, "cap")
    try:
        batch = _batch(ctx, email)

        def check(name, base):
            t = _token(ctx, base, email)
            ctx.wait_until(lambda: _ticket(ctx, base, batch, t).status == 201, timeout=10,
                           what="slots of earlier streams freed")
            held = [_stream(ctx, base, batch, t) for _ in range(2)]
            try:
                for s in held:
                    assert s.status == 200 and s.next_event(5)["event"] == "snapshot"
                r = _ticket(ctx, base, batch, t)
                assert r.status == 429 and r.json()["error"] == "too_many_streams", r
                assert int(r.header("retry-after")) > 0
                # straight to the stream (Bearer): the relay refuses too, as JSON
                r = ctx.request(base, "GET", f"/api/events/{batch}", headers=_auth(t))
                assert r.status == 429 and r.json()["error"] == "too_many_streams", r
                assert r.header("retry-after"), r.headers
                # other users are not affected
                other = add_user(ctx, "cap2")
                try:
                    ob = _batch(ctx, other)
                    s = _stream(ctx, base, ob, _token(ctx, base, other))
                    assert s.status == 200, (s.status, s.json_body())
                    s.close()
                    _streams_closed(ctx, other)
                finally:
                    drop_users(ctx, other)
            finally:
                held[0].close()
            # a closed stream gives its slot back
            ctx.wait_until(lambda: _ticket(ctx, base, batch, t).status == 201, timeout=10,
                           what="slot given back")
            held[1].close()
            _streams_closed(ctx, email)
        ctx.check_servers(check)
    finally:
        drop_users(ctx, email)


def _relay_full_503(ctx):
    """2 relay processes x max_streams 3 = 6 streams; then every further
    stream gets 503 JSON with Retry-After at once (not a wait in the backlog)."""
    users = [add_user(ctx, f"full{i}") for i in range(4)]
    try:
        batches = [_batch(ctx, u) for u in users]

        def check(name, base):
            tokens = [_token(ctx, base, u) for u in users]
            held, refused = [], 0
            try:
                deadline = time.monotonic() + 30
                i = 0
                while len(held) < 6 and time.monotonic() < deadline:
                    k = i % 4
                    i += 1
                    r = _ticket(ctx, base, batches[k], tokens[k])
                    if r.status == 429:
                        continue
                    assert r.status == 201, r
                    t0 = time.monotonic()
                    s = _te.SSE(base, r.json()["url"], {}, timeout=10)
                    if s.status == 503:
                        # one process is full (the kernel chose it): only
                        # allowed once at least one process holds 3
                        assert len(held) >= 3, f"503 with only {len(held)} streams open"
                        assert time.monotonic() - t0 < 3
                        s.close()
                        refused += 1
                        continue
                    assert s.status == 200, (s.status, s.json_body())
                    assert s.next_event(5)["event"] == "snapshot"
                    held.append(s)
                assert len(held) == 6, f"only {len(held)} streams opened"
                for k in range(3):
                    t0 = time.monotonic()
                    r = ctx.request(base, "GET", f"/api/events/{batches[3]}", headers=_auth(tokens[3]), timeout=5)
                    assert time.monotonic() - t0 < 3, "503 must come at once"
                    assert r.status == 503 and r.json()["error"] == "relay_busy", r
                    assert int(r.header("retry-after")) > 0, r.headers
                    assert r.header("content-type", "").startswith("application/json"), r.headers
            finally:
                for s in held:
                    s.close()
            time.sleep(2.5)  # Apache notices closed clients at the next heartbeat
        ctx.check_servers(check)
    finally:
        drop_users(ctx, *users)


def test_session_open_streams(ctx):
    """One restart of the relay with a 1 s heartbeat, small limits and
    ?token= allowed; restored afterwards."""
    t0 = time.monotonic()
    with _configured(ctx, ["events"], STREAM_ENV):
        for part in (_streams_end_when_sessions_end, _legacy_query_token, _user_stream_cap, _relay_full_503):
            print(f"# {part.__name__} from {time.monotonic() - t0:.1f}s", flush=True)
            part(ctx)


# ---------------------------------------------------------------- throttling

def test_session_throttle_cannot_lock_out_others(ctx):
    """Untrusted peer (no trusted_proxies): X-Forwarded-For is ignored.
    Failures for a made-up email lock that (email, address) only."""
    victim = add_user(ctx, "vi")
    try:
        def check(name, base):
            clear_throttle(ctx)
            fake = f"nobody-{uuid.uuid4().hex[:8]}@test.local"
            for i in range(5):
                # rotating X-Forwarded-For must not buy more guesses
                r = _login_raw(ctx, base, fake, "wrong password!", xff=f"198.51.100.{i + 1}")
                assert r.status == 401, r
            r = _login_raw(ctx, base, fake, "wrong password!", xff="198.51.100.99")
            assert r.status == 429 and r.json()["error"] == "too_many_attempts", r
            assert 0 < int(r.header("retry-after")) <= 900
            # ... while everyone else behind the same address signs in
            assert _login_raw(ctx, base, victim, PASSWORD).status == 200, "A's failures locked B out"
            # the owner's own five failures lock the pair, not the account
            for _ in range(5):
                assert _login_raw(ctx, base, victim, "wrong password!").status == 401
            r = _login_raw(ctx, base, victim, PASSWORD)
            assert r.status == 429, r
            keys = ctx.redis("--scan", "--pattern", "kg:login:*").split()
            assert f"kg:login:pair:{victim}|127.0.0.1" in keys and "kg:login:addr:127.0.0.1" in keys, keys
            assert not any("198.51.100" in k for k in keys), keys
            for k in keys:
                assert int(ctx.redis("TTL", k)) > 0, k
            clear_throttle(ctx)
        ctx.check_servers(check)
    finally:
        drop_users(ctx, victim)


def test_session_throttle_behind_trusted_proxy(ctx):
    """[http] trusted_proxies = 127.0.0.1/32 (programs and both web servers):
    the right-most X-Forwarded-For entry is the client."""
    owner = add_user(ctx, "tp")
    env = {"KARTOGRAF_HTTP_TRUSTED_PROXIES": "127.0.0.1/32",
           "KARTOGRAF_AUTH_LOGIN_EMAIL_MAX_FAILURES": "8",
           "KARTOGRAF_AUTH_LOGIN_ADDR_MAX_FAILURES": "6"}
    try:
        with _configured(ctx, ["login"], env, web=True):
            def check(name, base):
                clear_throttle(ctx)
                net = "198.51.100" if name == "lighttpd" else "203.0.113"
                for _ in range(5):
                    assert _login_raw(ctx, base, owner, "wrong password!", xff=f"{net}.10").status == 401
                r = _login_raw(ctx, base, owner, PASSWORD, xff=f"{net}.10")
                assert r.status == 429, r
                # the owner, from another address, is not locked out
                r = _login_raw(ctx, base, owner, PASSWORD, xff=f"{net}.11")
                assert r.status == 200, r
                # a client-written entry on the left does not count, the proxy's does
                r = _login_raw(ctx, base, owner, "wrong password!", xff=f"6.6.6.6, {net}.12")
                assert r.status == 401
                keys = ctx.redis("--scan", "--pattern", "kg:login:*").split()
                assert f"kg:login:addr:{net}.12" in keys and not any("6.6.6.6" in k for k in keys), keys
                # per email, across addresses: 5 + 1 failures so far, 2 more lock it
                for a in (20, 21):
                    assert _login_raw(ctx, base, owner, "wrong password!", xff=f"{net}.{a}").status == 401
                r = _login_raw(ctx, base, owner, PASSWORD, xff=f"{net}.22")
                assert r.status == 429 and "this account" in r.json()["message"], r
                # per address, across emails (credential stuffing)
                for i in range(6):
                    fake = f"stuff-{i}-{uuid.uuid4().hex[:6]}@test.local"
                    assert _login_raw(ctx, base, fake, "wrong password!", xff=f"{net}.30").status == 401
                r = _login_raw(ctx, base, "anyone@test.local", "wrong password!", xff=f"{net}.30")
                assert r.status == 429 and "this address" in r.json()["message"], r
                clear_throttle(ctx)
                # the web server logged the client, not the proxy (lighttpd
                # buffers its access log and writes it out every 4 seconds)
                log = "apache-access.log" if name == "apache" else "lighttpd-access.log"

                def logged():
                    with open(os.path.join(ctx.state, "log", log), encoding="utf-8", errors="replace") as f:
                        return f"{net}.11" in f.read()
                ctx.wait_until(logged, timeout=10, what=f"{log} to show the forwarded client")
            ctx.check_servers(check)
    finally:
        clear_throttle(ctx)
        drop_users(ctx, owner)


def test_session_throttle_script_is_atomic(ctx):
    """Counter updates are ONE script: MONITOR sees INCR and EXPIRE only from
    Lua, parallel failures count exactly and leave no counter without TTL, and
    a counter found without TTL (older version, crash) gets one."""
    base = ctx.servers["lighttpd"]
    clear_throttle(ctx)
    mon = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", ctx.env["REDIS_PORT"], "MONITOR"],
                           stdout=subprocess.PIPE)
    seen = [""]

    def monitor_until(text, timeout=30):
        """MONITOR's output up to text (not fixed sleeps: a loaded machine
        starts redis-cli late and hands its output on late)."""
        deadline = time.monotonic() + timeout
        while text not in seen[0]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"MONITOR never showed {text!r}: {seen[0][-2000:]}")
            if select.select([mon.stdout], [], [], left)[0]:
                data = os.read(mon.stdout.fileno(), 65536)
                if not data:
                    raise AssertionError(f"MONITOR ended: {seen[0][-2000:]}")
                seen[0] += data.decode("utf-8", "replace")
    try:
        monitor_until("OK")  # MONITOR is on
        fake = f"atomic-{uuid.uuid4().hex[:8]}@test.local"
        assert _login_raw(ctx, base, fake, "wrong password!").status == 401
        marker = f"monitor-end-{uuid.uuid4().hex}"
        ctx.redis("ECHO", marker)  # Redis runs commands in order: the login's came before
        monitor_until(marker)
    finally:
        mon.terminate()
        mon.communicate(timeout=5)
    lines = [ln for ln in seen[0].splitlines() if "kg:login:" in ln]
    incr = [ln for ln in lines if '"INCR"' in ln or '"EXPIRE"' in ln]
    assert incr and all("lua]" in ln for ln in incr), "\n".join(lines)
    evals = [ln for ln in lines if '"EVAL"' in ln and "INCR" in ln]
    assert len(evals) == 1, "\n".join(lines)
    # parallel failures: exact count, TTL on every key
    clear_throttle(ctx)
    fake = f"par-{uuid.uuid4().hex[:8]}@test.local"
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(lambda i: _login_raw(ctx, base, fake, "wrong password!").status, range(16)))
    n401 = res.count(401)
    assert n401 >= 5, res
    assert int(ctx.redis("GET", f"kg:login:email:{fake}")) == n401, res
    for k in ctx.redis("--scan", "--pattern", "kg:login:*").split():
        assert int(ctx.redis("TTL", k)) > 0, k
    # repair: a full counter without expiry (left by INCR without EXPIRE)
    clear_throttle(ctx)
    key = f"kg:login:email:{fake}"
    ctx.redis("SET", key, "999")
    assert ctx.redis("TTL", key) == "-1"
    r = _login_raw(ctx, base, fake, "wrong password!")
    assert r.status == 429, r
    assert 0 < int(ctx.redis("TTL", key)) <= 900, "counter without TTL not repaired"
    clear_throttle(ctx)


# ---------------------------------------------------------------- config and local stack

def test_session_config_check_and_sockets(ctx):
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"],
                                   env={"KARTOGRAF_METRICS_TOKEN": "", "KARTOGRAF_AUTH_QUERY_TOKEN": "on"})
    assert rc == 0, err
    assert "[metrics] token is empty" in err and "query_token is on" in err, err
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"])
    assert rc == 0 and "[metrics] token is empty" not in err, err
    rc, out, err = ctx.run_program("worker/kartograf-admin", ["config-check"],
                                   env={"KARTOGRAF_HTTP_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example.org"})
    assert rc != 0 and "proxy.example.org" in err, (rc, err)
    rc, out, err = ctx.run_program("cgi-bin/login.fcgi",
                                   env={"KARTOGRAF_HTTP_TRUSTED_PROXIES": "10.0.0.0/33"})
    assert rc != 0 and "trusted_proxies" in err, (rc, err)
    # the local stack's FastCGI sockets: only the web server may connect
    want = 0o660 if os.geteuid() == 0 else 0o600
    socks = [f for f in os.listdir(os.path.join(ctx.state, "run")) if f.endswith(".sock")]
    assert socks
    for f in socks:
        mode = stat.S_IMODE(os.stat(os.path.join(ctx.state, "run", f)).st_mode)
        assert mode == want, f"{f}: {oct(mode)}"
