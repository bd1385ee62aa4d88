"""Generation worker and POST /api/batches/{id}/generate (issue 5).

Batches are created directly in the database (the upload endpoint is tested
elsewhere); generation goes through the real web servers, Redis and workers.
Crash tests stop the stack's own worker, start workers of their own with short
lease/reconciler intervals (KARTOGRAF_WORKER_* overrides) and restart the
stack's worker in `finally`.
"""
import datetime
import signal
import time
import uuid
from kgtest import queued_tasks  # noqa: E402
# the shared worker helpers (tests/integration/kgtest.py), by the names these
# tests (and test_hosting) use
from kgtest import (batch_events as _events, batch_status as _batch_status,  # noqa: E402
                    check_completed as _check_completed, count_rows as _count, db_batch as _batch,
                    drop_worker_user as _deluser, own_workers, post_generate as _generate,
                    proc_log as _log, stop_proc as _stop, wait_batch_done as _wait_done,
                    worker_user as _user)

SECTION_KEYS = {"summary", "objectives", "target_group", "activities", "schedule", "budget",
                "outcomes", "risks"}


# ------------------------------------------------------------------ helpers

def _ms(ts):
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000


def _assert_progress_spaced(mine, interval_ms):
    """A project's progress events come at least interval_ms after its
    previous GENERATING or progress event (minus scheduling jitter)."""
    live = [e for e in mine if e["type"] == "project.progress" or
            (e["type"] == "project.status_changed" and e["status"] == "GENERATING")]
    ts = [_ms(e["ts"]) for e in live]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert all(g >= interval_ms - 150 for g in gaps), (interval_ms, gaps, live)


# ------------------------------------------------------------------ tests

def test_db_pipe(ctx):
    """kg_db_pipe (several prepared calls, one round trip, one Sync each)
    against this stack's PostgreSQL: the unit binary test_db_pipe skips
    without a stack, so it runs here with the stack's config - a call
    failing in the middle, a serialization failure retried alone, the
    connection terminated in the middle of a pipeline, kg_db_pipe_each
    telling each answer before the later ones are read."""
    rc, out, err = ctx.run_program("tests/unit/test_db_pipe", timeout=120)
    assert rc == 0, out + err
    assert "PASSED  ] 4 test(s)" in out + err, out + err


def test_generate_flow_and_events(ctx):
    user = _user(ctx)
    try:
        batch, projects = _batch(ctx, user, 3)
        r = _generate(ctx, ctx.servers["lighttpd"], user, batch)
        assert r.status == 202 and r.json() == {"queued": 3}, r
        # again, while it generates: nothing is queued twice
        r = _generate(ctx, ctx.servers["apache"], user, batch, {})
        assert r.status == 202 and r.json() == {"queued": 0}, r
        _wait_done(ctx, batch)
        assert _batch_status(ctx, batch) == "COMPLETED"
        assert ctx.psql(f"SELECT completed_at IS NOT NULL FROM batches WHERE id = '{batch}'").strip() == "t"
        _check_completed(ctx, batch, 3)
        rows = ctx.psql(
            "SELECT quality_score IS NOT NULL AND quality ? 'criteria', progress, provider, attempts, "
            f"error IS NULL FROM projects WHERE batch_id = '{batch}'").split()
        assert rows == ["t|100|offline|1|t"] * 3, rows
        keys = set(ctx.psql(f"SELECT DISTINCT key FROM sections s JOIN projects p ON p.id = s.project_id "
                            f"WHERE p.batch_id = '{batch}'").split())
        assert keys == SECTION_KEYS, keys
        calls = ctx.psql(f"SELECT stage, outcome, count(*) FROM ai_calls WHERE batch_id = '{batch}' "
                         "GROUP BY 1, 2 ORDER BY 1").split()
        assert calls == ["draft|ok|3", "plan|ok|3", "polish|ok|3"], calls
        # events: history in order, strictly increasing seq, the right types
        events = _events(ctx, batch)
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)) and seqs[0] >= 1, seqs
        assert seqs[-1] == int(ctx.psql(f"SELECT event_seq FROM batches WHERE id = '{batch}'"))
        types = [e["type"] for e in events]
        assert types[-1] == "batch.completed" and events[-1]["status"] == "COMPLETED", types
        for pid in projects:
            mine = [e for e in events if e["project_id"] == pid]
            statuses = [e["status"] for e in mine if e["type"] == "project.status_changed"]
            assert statuses[:2] == ["QUEUED", "GENERATING"], (pid, statuses)
            # progress goes out at most once per [worker] progress_interval_ms
            # (2 s here): the 200-300 ms stage ends of the offline provider are
            # written to the database but not published one by one
            _assert_progress_spaced(mine, 2000)
            done = [e for e in mine if e["type"] == "project.completed"]
            assert len(done) == 1 and done[0]["progress"] == 100 and done[0]["quality_score"] is not None
            progress = [e["progress"] for e in mine]
            assert progress[1:] == sorted(progress[1:]), progress
            for e in mine:
                assert e["batch_id"] == batch and "ts" in e
    finally:
        _deluser(ctx, user)


def test_generate_retry_failed_projects(ctx):
    user = _user(ctx)
    try:
        batch, projects = _batch(ctx, user, 3)
        assert _generate(ctx, ctx.servers["lighttpd"], user, batch).status == 202
        _wait_done(ctx, batch)
        failed = projects[1]
        ctx.psql(f"UPDATE projects SET status = 'FAILED', error = 'test failure', quality = NULL, "
                 f"quality_score = NULL WHERE id = '{failed}'")
        ctx.psql(f"UPDATE batches SET status = 'PARTIAL' WHERE id = '{batch}'")
        # only the listed FAILED project moves; a COMPLETED one listed is left alone
        r = _generate(ctx, ctx.servers["apache"], user, batch,
                      {"project_ids": [failed.upper(), projects[0]]})
        assert r.status == 202 and r.json() == {"queued": 1}, r
        assert _batch_status(ctx, batch) in ("GENERATING", "COMPLETED")
        _wait_done(ctx, batch)
        assert _batch_status(ctx, batch) == "COMPLETED"
        _check_completed(ctx, batch, 3)
        assert ctx.psql(f"SELECT attempts FROM projects WHERE id = '{failed}'").strip() == "2"
        assert ctx.psql(f"SELECT attempts FROM projects WHERE id = '{projects[0]}'").strip() == "1"
    finally:
        _deluser(ctx, user)


def test_generate_other_users_batch_404(ctx):
    owner, other, admin = _user(ctx), _user(ctx), _user(ctx, admin=True)
    try:
        # QUEUED in the future: nothing for the workers to do
        batch, _ = _batch(ctx, owner, 1, "QUEUED", "now() + interval '1 hour'")

        def check(name, base):
            r = _generate(ctx, base, other, batch)
            assert r.status == 404 and r.json()["error"] == "not_found", r
            r = _generate(ctx, base, owner, str(uuid.uuid4()))
            assert r.status == 404, r
            r = ctx.request(base, "POST", "/api/batches/not-a-uuid/generate",
                            headers={"Authorization": "Bearer " + owner["token"]})
            assert r.status == 404 and r.json()["error"] == "not_found", r
            r = ctx.request(base, "POST", f"/api/batches/{batch}/generate")
            assert r.status == 401, r
            r = ctx.request(base, "GET", f"/api/batches/{batch}/generate",
                            headers={"Authorization": "Bearer " + owner["token"]})
            assert r.status == 405, r
            # the owner and an admin may
            assert _generate(ctx, base, owner, batch).json() == {"queued": 0}
            assert _generate(ctx, base, admin, batch).json() == {"queued": 0}
        ctx.check_servers(check)
    finally:
        for u in (owner, other, admin):
            _deluser(ctx, u)


def test_generate_bad_bodies(ctx):
    user = _user(ctx)
    try:
        batch, _ = _batch(ctx, user, 1, "QUEUED", "now() + interval '1 hour'")

        def check(name, base):
            cases = [
                ("project_ids=1", "application/x-www-form-urlencoded", 415),
                ("{not json", "application/json", 400),
                ("[1, 2]", "application/json", 400),
                ({"project_ids": "x"}, "application/json", 400),
                ({"project_ids": []}, "application/json", 400),
                ({"project_ids": ["nope"]}, "application/json", 400),
                ({"project_ids": [1]}, "application/json", 400),
                ({"project_ids": [str(uuid.uuid4())] * 1001}, "application/json", 400),
                ({"foo": 1}, "application/json", 400),
                ({}, "application/json", 202),
                ("", "application/json", 202),
                ({"project_ids": [str(uuid.uuid4())]}, "application/json", 202),
            ]
            for body, ctype, want in cases:
                r = _generate(ctx, base, user, batch, body, ctype)
                assert r.status == want, f"{str(body)[:60]!r}: {r}"
                r.json()
            assert _generate(ctx, base, user, batch).status == 202
        ctx.check_servers(check)
    finally:
        _deluser(ctx, user)


def test_worker_kill9_loses_nothing(ctx):
    user = _user(ctx)
    try:
        with own_workers(ctx) as ws:
            a = ws.start("kill-a")
            batch, projects = _batch(ctx, user, 12)
            assert _generate(ctx, ctx.servers["lighttpd"], user, batch).json() == {"queued": 12}
            # a's jobs must be mid-generation when it dies; b takes over
            ctx.wait_until(lambda: "GENERATING" in _log(a), timeout=15, what="worker a busy")
            a.send_signal(signal.SIGKILL)
            a.wait()
            b = ws.start("kill-b")
            _wait_done(ctx, batch, timeout=60)
            assert _batch_status(ctx, batch) == "COMPLETED"
            _check_completed(ctx, batch, 12)
            events = _events(ctx, batch)
            for pid in projects:
                done = [e for e in events if e["project_id"] == pid and e["type"] == "project.completed"]
                assert len(done) == 1, f"{pid} completed {len(done)} times"
            assert _count(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                               "AND attempts > 1") >= 1, "the killed worker had nothing in flight"
            _stop(b)
    finally:
        _deluser(ctx, user)


def _done_by_reconciler(ctx, w, batch, n, timeout):
    """The batch's n projects all COMPLETED, after worker w's reconciler
    put lost tasks back into the queue."""
    _wait_done(ctx, batch, timeout=timeout)
    assert _batch_status(ctx, batch) == "COMPLETED", _batch_status(ctx, batch)
    _check_completed(ctx, batch, n)
    assert "reconciler: re-enqueued" in _log(w), _log(w)[-3000:]


def test_worker_flushall_reconciler_recovers(ctx):
    user = _user(ctx)
    try:
        with own_workers(ctx) as ws:
            w = ws.start("flush", {"KARTOGRAF_AI_OFFLINE_DELAY_MS": "300"})
            # 20 projects at 5 at a time: when the first ends, most still wait in Redis
            batch, _ = _batch(ctx, user, 20)
            assert _generate(ctx, ctx.servers["lighttpd"], user, batch).json() == {"queued": 20}
            ctx.wait_until(lambda: _count(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                                               "AND status = 'COMPLETED'") >= 1,
                           timeout=20, what="first project done")
            ctx.redis("FLUSHALL")
            assert queued_tasks(ctx, "generate") == []
            _done_by_reconciler(ctx, w, batch, 20, timeout=40)
            _stop(w)
    finally:
        _deluser(ctx, user)


def test_generate_with_redis_down_reconciler_enqueues(ctx):
    """Redis down after the COMMIT (the request's pipeline of pushes and
    events fails): still 202, the projects are QUEUED in PostgreSQL, and the
    reconciler enqueues them once Redis is back."""
    user = _user(ctx)
    try:
        with own_workers(ctx) as ws:
            w = ws.start("redisdown")
            batch, _ = _batch(ctx, user, 3)
            try:
                ctx.stack("stop", "redis")
                r = _generate(ctx, ctx.servers["lighttpd"], user, batch)
                assert r.status == 202 and r.json() == {"queued": 3}, r
                assert ctx.psql(f"SELECT status, count(*) FROM projects WHERE batch_id = '{batch}' "
                                "GROUP BY 1").split() == ["QUEUED|3"]
            finally:
                ctx.stack("start", "redis")
            _done_by_reconciler(ctx, w, batch, 3, timeout=60)
            _stop(w)
    finally:
        _deluser(ctx, user)


def test_two_workers_share_queue_without_overlap(ctx):
    user = _user(ctx)
    try:
        with own_workers(ctx) as ws:
            # 3 each: neither can fill the batch's 5 slots alone, together
            # they could reach 6 if the per-batch limit did not hold
            a = ws.start("share-a", {"KARTOGRAF_WORKER_GLOBAL_LIMIT": "3"})
            b = ws.start("share-b", {"KARTOGRAF_WORKER_GLOBAL_LIMIT": "3"})
            batch, projects = _batch(ctx, user, 20)
            assert _generate(ctx, ctx.servers["apache"], user, batch).json() == {"queued": 20}
            peak = 0
            deadline = time.monotonic() + 60
            while _batch_status(ctx, batch) == "GENERATING" and time.monotonic() < deadline:
                peak = max(peak, _count(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                                             "AND status = 'GENERATING'"))
                time.sleep(0.05)
            assert _batch_status(ctx, batch) == "COMPLETED"
            assert 1 <= peak <= 5, f"per-batch concurrency exceeded: {peak} at once"
            _check_completed(ctx, batch, 20)
            # nobody generated a project twice: one claim and one call per stage each
            rows = ctx.psql(f"SELECT p.attempts, count(c.id) FROM projects p LEFT JOIN ai_calls c "
                            f"ON c.project_id = p.id WHERE p.batch_id = '{batch}' GROUP BY p.id").split()
            assert rows == ["1|3"] * 20, rows
            assert "GENERATING" in _log(a) and "GENERATING" in _log(b), "one worker did everything"
            _stop(a)
            _stop(b)
    finally:
        _deluser(ctx, user)


def test_worker_sigterm_hands_back_work(ctx):
    user = _user(ctx)
    try:
        with own_workers(ctx) as ws:
            w = ws.start("term", {"KARTOGRAF_AI_OFFLINE_DELAY_MS": "1000",
                                  "KARTOGRAF_WORKER_SHUTDOWN_GRACE": "0"})
            batch, _ = _batch(ctx, user, 8)
            assert _generate(ctx, ctx.servers["lighttpd"], user, batch).json() == {"queued": 8}
            ctx.wait_until(lambda: _count(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                                               "AND status = 'GENERATING'") >= 1,
                           timeout=15, what="generation started")
            t0 = time.monotonic()
            w.send_signal(signal.SIGTERM)
            assert w.wait(timeout=15) == 0
            assert time.monotonic() - t0 < 10
            assert "handed back to the queue" in _log(w), _log(w)[-2000:]
            assert _count(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                               "AND status = 'GENERATING'") == 0
            _stop(w)
            w2 = ws.start("term-2")
            _wait_done(ctx, batch, timeout=40)
            assert _batch_status(ctx, batch) == "COMPLETED"
            _check_completed(ctx, batch, 8)
            _stop(w2)
    finally:
        _deluser(ctx, user)


def test_progress_events_coalesced_per_interval(ctx):
    """Stage ends closer together than [worker] progress_interval_ms are
    written at once but published once per interval (the held-back value by
    the tick); nothing the browser shows is lost: every project still sends
    progress while it runs, in order, and ends with its completed event."""
    user = _user(ctx)
    try:
        with own_workers(ctx) as ws:
            w = ws.start("coalesce", {"KARTOGRAF_AI_OFFLINE_DELAY_MS": "700",
                                      "KARTOGRAF_WORKER_PROGRESS_INTERVAL_MS": "1000"})
            batch, projects = _batch(ctx, user, 3)
            assert _generate(ctx, ctx.servers["lighttpd"], user, batch).json() == {"queued": 3}
            _wait_done(ctx, batch, timeout=40)
            _check_completed(ctx, batch, 3)
            events = _events(ctx, batch)
            seqs = [e["seq"] for e in events]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # no holes
            for pid in projects:
                mine = [e for e in events if e["project_id"] == pid]
                _assert_progress_spaced(mine, 1000)
                prog = [e for e in mine if e["type"] == "project.progress"]
                # 3 stages of 700 ms: 2 stage ends, each published by a tick
                assert 1 <= len(prog) <= 3, (pid, mine)
                values = [e["progress"] for e in mine][1:]
                assert values == sorted(values) and values[-1] == 100, (pid, values)
                assert mine[-1]["type"] == "project.completed", mine[-1]
            _stop(w)
    finally:
        _deluser(ctx, user)
