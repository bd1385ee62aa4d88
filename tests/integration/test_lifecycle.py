"""Batch lifecycle and money (issue 17): delete a batch or a card, stop a
batch, rename and cap it, estimate its cost, prune old exports - through
both web servers.

Generation tests run the fake LLM (tests/fake/fake_llm.py) with a latency,
so that AI calls are really in flight when the user stops the batch, and
count its requests: the proof that no stage ran after a stop is that no
request reached the fake after the stop was answered.
"""
import json
import os
import signal
import time
import uuid

import kgtest
import test_export as tx
import test_providers as tp
from kgtest import queued_tasks  # noqa: E402

AUTH = "Authorization"


def _h(user):
    return {AUTH: "Bearer " + user["token"]}


def _cancel(ctx, base, user, batch):
    return ctx.request(base, "POST", f"/api/batches/{batch}/cancel", headers=_h(user))


def _patch(ctx, base, user, batch, body, ctype="application/json"):
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    return ctx.request(base, "PATCH", f"/api/batches/{batch}", body=body,
                       headers=dict(_h(user), **{"Content-Type": ctype}))


def _delete(ctx, base, user, kind, oid):
    return ctx.request(base, "DELETE", f"/api/{kind}/{oid}", headers=_h(user), timeout=30)


def _statuses(ctx, batch):
    out = ctx.psql(f"SELECT status FROM projects WHERE batch_id = '{batch}' ORDER BY row_number")
    return out.split()


def _count(ctx, sql):
    return int(ctx.psql(sql).strip() or 0)


def _local_dir(ctx):
    import configparser
    cp = configparser.ConfigParser()
    cp.read(ctx.config_path)
    return cp["storage"]["local_dir"]


def _ai_call(ctx, batch, project, cost="0.05"):
    """An ai_calls row as the worker writes it; returns its id."""
    return ctx.psql("INSERT INTO ai_calls (batch_id, project_id, provider, model, stage, tokens_in, "
                    f"tokens_out, cost, outcome) VALUES ('{batch}', '{project}', 'bedrock', 'm', "
                    f"'plan', 100, 50, {cost}, 'ok') RETURNING id").split()[0]


def _tx_user(ctx):
    """A user in both helper shapes: (email, auth headers) and {id, token}."""
    email, auth = tx._user(ctx)
    uid = ctx.psql(f"SELECT id FROM users WHERE email = {tx._q(email)}").strip()
    return {"email": email, "id": uid, "token": auth[AUTH].split(" ", 1)[1]}, auth


# ---------------------------------------------------------------- delete

def test_lifecycle_delete_batch_and_card_local(ctx):
    user, auth = _tx_user(ctx)
    other, _ = _tx_user(ctx)
    try:
        def check(name, base):
            batch = tx._batch(ctx, user["email"], name=f"Do usunięcia {name}", rows=3)
            p1 = tx._project(ctx, user["email"], batch=batch, row=2, name="Park")
            p2 = tx._project(ctx, user["email"], batch=batch, row=3, name="Skwer")
            p3 = tx._project(ctx, user["email"], batch=batch, row=4, name="Ogród")
            for p in (p1, p2):
                assert tx._export(ctx, base, auth, "project", p).status == 200
            assert tx._export(ctx, base, auth, "batch", batch).status == 200
            keys = {r[8] for r in tx._history(ctx, f"batch_id = '{batch}' OR project_id IN "
                                                   f"('{p1}', '{p2}', '{p3}')")}
            assert len(keys) == 3, keys
            local = _local_dir(ctx)
            assert all(os.path.isfile(os.path.join(local, k)) for k in keys)
            c1 = _ai_call(ctx, batch, p1)
            c2 = _ai_call(ctx, batch, p2)
            # another user: 404 for the batch and the card, nothing happens
            assert _delete(ctx, base, other, "batches", batch).status == 404
            assert _delete(ctx, base, other, "projects", p1).status == 404
            # malformed ids match no route
            assert _delete(ctx, base, user, "batches", "not-a-uuid").status == 404
            # one card: its .docx goes, its rows go, its ai_calls stay unlinked
            p1_keys = [r[8] for r in tx._history(ctx, f"project_id = '{p1}'")]
            r = _delete(ctx, base, user, "projects", p1)
            assert r.status == 200, r
            assert r.json() == {"deleted": "project", "id": p1, "batch_deleted": False}, r.json()
            assert not any(os.path.exists(os.path.join(local, k)) for k in p1_keys)
            assert _count(ctx, f"SELECT count(*) FROM projects WHERE id = '{p1}'") == 0
            assert _count(ctx, f"SELECT count(*) FROM sections WHERE project_id = '{p1}'") == 0
            assert ctx.psql(f"SELECT row_count FROM batches WHERE id = '{batch}'").strip() == "2"
            assert ctx.psql(f"SELECT coalesce(batch_id::text, 'null'), coalesce(project_id::text, "
                            f"'null'), cost FROM ai_calls WHERE id = {c1}").strip() == \
                "null|null|0.050000"
            ev = [e for e in kgtest.batch_events(ctx, batch) if e["type"] == "project.deleted"]
            assert [e["project_id"] for e in ev] == [p1], ev
            assert _delete(ctx, base, user, "projects", p1).status == 404
            # the batch: files first (zip and the other card's docx), then every row
            r = _delete(ctx, base, user, "batches", batch)
            assert r.status == 200 and r.json()["deleted"] == "batch", r
            assert not any(os.path.exists(os.path.join(local, k)) for k in keys)
            assert _count(ctx, f"SELECT count(*) FROM batches WHERE id = '{batch}'") == 0
            assert _count(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}'") == 0
            assert not tx._history(ctx, f"batch_id = '{batch}' OR project_id IN ('{p2}', '{p3}')")
            assert _count(ctx, f"SELECT count(*) FROM ai_calls WHERE id IN ({c1}, {c2}) "
                               "AND batch_id IS NULL") == 2
            assert ctx.redis("EXISTS", f"kg:events:{batch}") == "0"
            # a replay is 404, the batch list no longer has it
            assert _delete(ctx, base, user, "batches", batch).status == 404
            r = ctx.request(base, "GET", "/api/batches", headers=auth)
            assert batch not in [b["id"] for b in r.json()["batches"]]
        ctx.check_servers(check)
    finally:
        tx._drop(ctx, user["email"], other["email"])


def test_lifecycle_delete_busy_409_and_last_card(ctx):
    user = kgtest.worker_user(ctx)
    try:
        def check(name, base):
            batch, pids = kgtest.db_batch(ctx, user, 2)
            ctx.psql(f"UPDATE projects SET status = 'QUEUED', queued_at = now() WHERE id = '{pids[0]}'")
            r = _delete(ctx, base, user, "batches", batch)
            assert r.status == 409 and r.json()["error"] == "batch_busy", r
            assert "cancel" in r.json()["message"], r
            r = _delete(ctx, base, user, "projects", pids[0])
            assert r.status == 409 and r.json()["error"] == "batch_busy", r
            ctx.psql(f"UPDATE projects SET status = 'GENERATING', started_at = now() "
                     f"WHERE id = '{pids[0]}'")
            assert _delete(ctx, base, user, "batches", batch).status == 409
            assert _statuses(ctx, batch) == ["GENERATING", "PENDING"]
            # the idle card of a busy batch may go
            assert _delete(ctx, base, user, "projects", pids[1]).status == 200
            ctx.psql(f"UPDATE projects SET status = 'PENDING' WHERE id = '{pids[0]}'")
            # the last card takes its batch with it
            r = _delete(ctx, base, user, "projects", pids[0])
            assert r.status == 200 and r.json()["batch_deleted"] is True, r
            assert _count(ctx, f"SELECT count(*) FROM batches WHERE id = '{batch}'") == 0
        ctx.check_servers(check)
    finally:
        kgtest.drop_worker_user(ctx, user)


def test_lifecycle_delete_s3_and_storage_down_503(ctx):
    port = tx._fake_s3(ctx)
    user, auth = _tx_user(ctx)
    env = dict(tx.S3_ENV, KARTOGRAF_STORAGE_S3_ENDPOINT=f"http://127.0.0.1:{port}")
    progs = ("export", "batches", "project")
    try:
        with tx.own_export_stack(ctx, env, fcgi=True, programs=progs):
            def check(name, base):
                batch = tx._batch(ctx, user["email"], rows=1)
                pid = tx._project(ctx, user["email"], batch=batch)
                assert tx._export(ctx, base, auth, "project", pid).status == 200
                assert tx._export(ctx, base, auth, "batch", batch).status == 200
                keys = [r[8] for r in tx._history(ctx, f"batch_id = '{batch}' OR "
                                                       f"project_id = '{pid}'")]
                paths = [os.path.join(ctx.state, "s3", "kartograf", *k.split("/")) for k in keys]
                assert len(paths) == 2 and all(os.path.isfile(p) for p in paths)
                r = _delete(ctx, base, user, "batches", batch)
                assert r.status == 200, r
                assert not any(os.path.exists(p) for p in paths), "S3 objects left behind"
                log = ctx.request(f"http://127.0.0.1:{port}", "GET", "/_fake/log").text
                dels = [json.loads(x) for x in log.splitlines() if '"DELETE"' in x]
                assert {d["path"].split("/kartograf/", 1)[1] for d in dels} >= set(keys)
            ctx.check_servers(check)
        # storage down: 503, and the batch, its card and its history are all still there
        env = dict(tx.S3_ENV, KARTOGRAF_STORAGE_S3_ENDPOINT=f"http://127.0.0.1:{tx._closed_port()}")
        with tx.own_export_stack(ctx, env, fcgi=True, worker=False, programs=progs):
            def down(name, base):
                batch = tx._batch(ctx, user["email"], rows=1)
                pid = tx._project(ctx, user["email"], batch=batch)
                ctx.psql("INSERT INTO export_history (user_id, project_id, format, project_version, "
                         "size_bytes, sha256, storage_backend, storage_key) VALUES "
                         f"('{user['id']}', '{pid}', 'docx', 1, 10, '{'a' * 64}', 's3', "
                         f"'exports/{pid}/v1-aaaaaaaaaaaaaaaa.docx')")
                for kind, oid in (("batches", batch), ("projects", pid)):
                    r = _delete(ctx, base, user, kind, oid)
                    assert r.status == 503 and r.json()["error"] == "storage_unavailable", r
                assert _count(ctx, f"SELECT count(*) FROM projects WHERE id = '{pid}'") == 1
                assert _count(ctx, f"SELECT count(*) FROM sections WHERE project_id = '{pid}'") == 8
                assert len(tx._history(ctx, f"project_id = '{pid}'")) == 1
            ctx.check_servers(down)
    finally:
        tx._drop(ctx, user["email"])


# ---------------------------------------------------------------- rename, cap

def test_lifecycle_patch_rename_cap_and_bad_bodies(ctx):
    user = kgtest.worker_user(ctx)
    other = kgtest.worker_user(ctx)
    try:
        def check(name, base):
            batch, pids = kgtest.db_batch(ctx, user, 2)
            r = _patch(ctx, base, user, batch, {"name": "Nabór „Zielone podwórka” 2026"})
            assert r.status == 200, r
            b = r.json()
            assert b["name"] == "Nabór „Zielone podwórka” 2026" and b["cost_cap"] is None, b
            assert b["stopped"] == 0
            r = _patch(ctx, base, user, batch, {"cost_cap": 2.5})
            assert r.status == 200 and r.json()["cost_cap"] == 2.5, r
            assert r.json()["name"] == "Nabór „Zielone podwórka” 2026", "left-out field kept"
            r = ctx.request(base, "GET", f"/api/batches/{batch}", headers=_h(user))
            assert r.json()["cost_cap"] == 2.5
            r = _patch(ctx, base, user, batch, {"cost_cap": None})
            assert r.status == 200 and r.json()["cost_cap"] is None, r
            for bad in ({"name": "   "}, {"name": 5}, {"name": "a\nb"}, {"cost_cap": -1},
                        {"cost_cap": "5"}, {"cost_cap": 1e12}, {"colour": "red"}, [1, 2]):
                r = _patch(ctx, base, user, batch, bad)
                assert r.status == 400 and r.json()["error"] == "bad_request", (bad, r)
            # lengths: the declared body's 422s
            r = _patch(ctx, base, user, batch, {"name": "x" * 301})
            assert r.status == 422 and r.json()["error"] == "too_long", r
            r = _patch(ctx, base, user, batch, {"name": ""})
            assert r.status == 422 and r.json()["error"] == "too_short", r
            assert _patch(ctx, base, user, batch, "{oops").status == 400
            assert _patch(ctx, base, user, batch, "name=x", ctype="text/plain").status == 415
            assert _patch(ctx, base, user, batch, {"name": "x" * 300}).status == 200
            assert _patch(ctx, base, other, batch, {"name": "cudze"}).status == 404
            assert _patch(ctx, base, user, str(uuid.uuid4()), {"name": "x"}).status == 404
            # a cap at or below the spend stops the batch at once
            ctx.psql(f"UPDATE projects SET status = 'QUEUED', queued_at = now() "
                     f"WHERE batch_id = '{batch}'")
            ctx.psql(f"UPDATE batches SET status = 'GENERATING' WHERE id = '{batch}'")
            _ai_call(ctx, batch, pids[0], cost="0.04")
            r = _patch(ctx, base, user, batch, {"cost_cap": 0.03})
            assert r.status == 200 and r.json()["stopped"] == 2, r
            assert r.json()["status"] == "VALIDATED" and r.json()["cost_cap"] == 0.03, r
            assert _statuses(ctx, batch) == ["PENDING", "PENDING"]
            stops = [e for e in kgtest.batch_events(ctx, batch) if e["type"] == "batch.stopped"]
            assert stops and stops[-1]["message"] == "limit kosztów osiągnięty", stops
            # Generuj with the cap reached: refused, with what to do
            r = kgtest.post_generate(ctx, base, user, batch)
            assert r.status == 409 and r.json()["error"] == "cost_cap_reached", r
            assert _patch(ctx, base, user, batch, {"cost_cap": 1}).json()["stopped"] == 0
            assert kgtest.post_generate(ctx, base, user, batch).status == 202
        ctx.check_servers(check)
    finally:
        kgtest.drop_worker_user(ctx, user)
        kgtest.drop_worker_user(ctx, other)


# ---------------------------------------------------------------- stop

def _wait_inflight(ctx, batch, n):
    ctx.wait_until(lambda: _count(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                                       "AND status = 'GENERATING'") == n,
                   timeout=20, what=f"{n} projects generating")
    time.sleep(0.5)  # their first calls are on the wire


def _slow_env(fake, **over):
    env = {"KARTOGRAF_AI_PROVIDERS": "bedrock", "KARTOGRAF_AI_TIMEOUT_MS": "15000",
           "KARTOGRAF_WORKER_CONCURRENCY": "2"}
    env.update(over)
    return tp._env(fake, **env)


def _resume(ctx, base, user, batch, n):
    """"Generuj" after a stop whose two calls in flight were logged: all n
    cards generated from their first stage (3 calls each)."""
    assert kgtest.post_generate(ctx, base, user, batch).json() == {"queued": n}
    kgtest.wait_batch_done(ctx, batch, timeout=60)
    assert _statuses(ctx, batch) == ["COMPLETED"] * n
    assert len(tp._calls(ctx, batch)) == 2 + 3 * n


def test_lifecycle_cancel_midflight_then_resume(ctx):
    user = kgtest.worker_user(ctx)
    other = kgtest.worker_user(ctx)
    tp._reset_breakers(ctx)
    try:
        with tp.Fake(ctx, "--latency-ms", "1500") as fake, kgtest.own_workers(ctx) as ws:
            w = ws.start("life-cancel", _slow_env(fake))
            batch, pids = kgtest.db_batch(ctx, user, 3)
            base = ctx.servers["apache"]
            assert kgtest.post_generate(ctx, base, user, batch).json() == {"queued": 3}
            _wait_inflight(ctx, batch, 2)
            assert _cancel(ctx, base, other, batch).status == 404
            r = _cancel(ctx, ctx.servers["lighttpd"], user, batch)
            t_stopped = time.time()
            assert r.status == 200 and r.json() == {"stopped": 3}, r
            # at once: nothing queued or generating, the batch ready to generate again
            assert _statuses(ctx, batch) == ["PENDING"] * 3
            assert kgtest.batch_status(ctx, batch) == "VALIDATED"
            r = _cancel(ctx, base, user, batch)
            assert r.status == 200 and r.json() == {"stopped": 0}, "not idempotent"
            # the two calls in flight finish and are logged; no stage runs after them
            ctx.wait_until(lambda: len(tp._calls(ctx, batch)) == 2, timeout=10,
                           what="the calls in flight logged")
            time.sleep(4)
            reqs = fake.requests("bedrock")
            assert len(reqs) == 2, reqs
            assert all(q["t_start"] < t_stopped for q in reqs), (t_stopped, reqs)
            calls = tp._calls(ctx, batch)
            assert [c["stage"] for c in calls] == ["plan", "plan"], calls
            assert _count(ctx, f"SELECT count(*) FROM sections s JOIN projects p ON "
                               f"p.id = s.project_id WHERE p.batch_id = '{batch}'") == 0
            assert _statuses(ctx, batch) == ["PENDING"] * 3
            # each job learnt it at its next step (the fenced progress write, or the
            # check before a call) and dropped its work
            ctx.wait_until(lambda: kgtest.proc_log(w).count("partial work dropped") >= 2,
                           timeout=10, what="both jobs dropping their work")
            assert kgtest.proc_log(w).count("partial work dropped") == 2, kgtest.proc_log(w)[-2000:]
            ev = kgtest.batch_events(ctx, batch)
            assert [e["type"] for e in ev].count("batch.stopped") == 1
            assert {e["project_id"] for e in ev if e["type"] == "project.status_changed"
                    and e["status"] == "PENDING"} == set(pids)
            # "Generuj" resumes: every card is generated from its first stage
            _resume(ctx, base, user, batch, 3)
            kgtest.stop_proc(w)
    finally:
        tp._reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)
        kgtest.drop_worker_user(ctx, other)


def _batch_tasks(ctx, batch):
    return [t for t in queued_tasks(ctx, "generate") if t["batch_id"] == batch]


def test_lifecycle_cancel_with_tasks_waiting_then_resume(ctx):
    """The browser's "Zatrzymaj" on a batch larger than the worker's slots:
    most of its tasks are still waiting in the queue when it stops.  The
    worker must drop every one of them (their claims find PENDING) and
    take the batch again when "Generuj" resumes it.

    The test above has one task waiting (3 cards, 2 slots), so after the
    stop no take ever finds the batch full by the worker's own count.
    Here 5 wait (7 cards, 2 slots): the take that follows the stop makes
    2 claims and finds the batch full with the third task, and both
    claims come back 'skipped'.  A worker that counts the claims being
    made as the batch's jobs (the pipelined claims) and skips the batch
    "until one of its jobs ends" then skips it for ever: no job of it is
    left to end, the stopped batch's tasks stay queued and a resume is
    never taken."""
    user = kgtest.worker_user(ctx)
    tp._reset_breakers(ctx)
    try:
        with tp.Fake(ctx, "--latency-ms", "1500") as fake, kgtest.own_workers(ctx) as ws:
            w = ws.start("life-cancel-queue", _slow_env(fake))
            batch, _ = kgtest.db_batch(ctx, user, 7)
            base = ctx.servers["lighttpd"]
            assert kgtest.post_generate(ctx, base, user, batch).json() == {"queued": 7}
            _wait_inflight(ctx, batch, 2)
            assert len(_batch_tasks(ctx, batch)) == 5
            r = _cancel(ctx, ctx.servers["apache"], user, batch)
            assert r.status == 200 and r.json() == {"stopped": 7}, r
            # the calls in flight come back, then every waiting task is taken
            # and dropped: nothing of the stopped batch stays queued or leased
            ctx.wait_until(lambda: kgtest.proc_log(w).count("partial work dropped") >= 2,
                           timeout=10, what="both jobs dropping their work")
            ctx.wait_until(lambda: _batch_tasks(ctx, batch) == [] and
                           ctx.redis("KEYS", "kg:processing:generate:*") == "",
                           timeout=10, what="the stopped batch's waiting tasks dropped")
            assert _statuses(ctx, batch) == ["PENDING"] * 7
            assert len(fake.requests("bedrock")) == 2
            # "Generuj" resumes: the worker takes the batch again
            _resume(ctx, base, user, batch, 7)
            kgtest.stop_proc(w)
    finally:
        tp._reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


def test_lifecycle_cancel_survives_worker_restart(ctx):
    user = kgtest.worker_user(ctx)
    tp._reset_breakers(ctx)
    try:
        with tp.Fake(ctx, "--latency-ms", "2500") as fake, kgtest.own_workers(ctx) as ws:
            w = ws.start("life-restart-1", _slow_env(fake))
            batch, pids = kgtest.db_batch(ctx, user, 2)
            assert kgtest.post_generate(ctx, ctx.servers["lighttpd"], user, batch).status == 202
            _wait_inflight(ctx, batch, 2)
            kgtest.stop_proc(w, signal.SIGKILL)
            assert _cancel(ctx, ctx.servers["apache"], user, batch).json() == {"stopped": 2}
            ctx.redis("DEL", f"kg:stop:{batch}")   # the hint lost too: the database decides
            t_stopped = time.time()
            w2 = ws.start("life-restart-2", _slow_env(fake))
            # the reaper hands the dead worker's tasks to w2, which must drop them
            ctx.wait_until(lambda: queued_tasks(ctx, "generate") == [] and
                           ctx.redis("KEYS", "kg:processing:generate:*") == "", timeout=15,
                           what="the dead worker's tasks reaped and dropped")
            time.sleep(2)
            assert _statuses(ctx, batch) == ["PENDING", "PENDING"]
            assert all(q["t_start"] < t_stopped for q in fake.requests("bedrock"))
            assert not any(f"project {p} GENERATING" in kgtest.proc_log(w2) for p in pids), kgtest.proc_log(w2)
            kgtest.stop_proc(w2)
    finally:
        tp._reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


def test_lifecycle_delete_right_after_stop_keeps_the_spend(ctx):
    """Stop, then delete while the stopped card's call is still in flight: the
    call's cost is still recorded, unlinked."""
    user = kgtest.worker_user(ctx)
    tp._reset_breakers(ctx)
    try:
        with tp.Fake(ctx, "--latency-ms", "2500") as fake, kgtest.own_workers(ctx) as ws:
            fake.script(bedrock={"then": {"usage": [1000, 1000]}})
            w = ws.start("life-del-stop", _slow_env(fake))
            batch, _ = kgtest.db_batch(ctx, user, 1)
            t0 = ctx.psql("SELECT now()").strip()
            assert kgtest.post_generate(ctx, ctx.servers["apache"], user, batch).status == 202
            _wait_inflight(ctx, batch, 1)
            assert _cancel(ctx, ctx.servers["apache"], user, batch).json() == {"stopped": 1}
            assert _delete(ctx, ctx.servers["lighttpd"], user, "batches", batch).status == 200
            sql = (f"SELECT count(*) FROM ai_calls WHERE created_at > '{t0}' AND batch_id IS NULL "
                   "AND cost = 0.018")
            ctx.wait_until(lambda: _count(ctx, sql) == 1, timeout=10, what="the call recorded")
            assert len(fake.requests("bedrock")) == 1
            kgtest.stop_proc(w)
    finally:
        tp._reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


def test_lifecycle_cap_lowered_by_patch_stops_generation(ctx):
    user = kgtest.worker_user(ctx)
    tp._reset_breakers(ctx)
    try:
        with tp.Fake(ctx, "--latency-ms", "1000") as fake, kgtest.own_workers(ctx) as ws:
            # every call costs 1000 x 0.003/1k + 1000 x 0.015/1k = 0.018 USD
            fake.script(bedrock={"then": {"usage": [1000, 1000]}})
            w = ws.start("life-cap", _slow_env(fake, KARTOGRAF_WORKER_CONCURRENCY="1"))
            batch, _ = kgtest.db_batch(ctx, user, 2)
            base = ctx.servers["lighttpd"]
            assert _patch(ctx, base, user, batch, {"cost_cap": 5}).status == 200
            assert kgtest.post_generate(ctx, base, user, batch).status == 202
            ctx.wait_until(lambda: len(tp._calls(ctx, batch)) >= 1, timeout=15,
                           what="the first call logged")
            r = _patch(ctx, ctx.servers["apache"], user, batch, {"cost_cap": 0.01})
            t_stopped = time.time()
            assert r.status == 200 and r.json()["stopped"] == 2, r
            time.sleep(3)
            assert _statuses(ctx, batch) == ["PENDING", "PENDING"]
            reqs = fake.requests("bedrock")
            assert all(q["t_start"] < t_stopped for q in reqs), (t_stopped, reqs)
            # every call that was made (the one in flight included) is logged
            assert len(tp._calls(ctx, batch)) == len(reqs), reqs
            b = ctx.request(base, "GET", f"/api/batches/{batch}", headers=_h(user)).json()
            assert b["cost"] >= b["cost_cap"] == 0.01, b
            kgtest.stop_proc(w)
    finally:
        tp._reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)


# ---------------------------------------------------------------- estimate

def _estimate(ctx, base, user, batch):
    return ctx.request(base, "GET", f"/api/batches/{batch}/estimate", headers=_h(user))


def _near(est, real, tol):
    return abs(est - real) <= tol * real


def test_lifecycle_estimate_vs_fake_usage(ctx):
    """The estimate is within 25 % of what the fake LLM reports (tokens in,
    tokens out, cost) for the same batch; offline costs 0."""
    user = kgtest.worker_user(ctx)
    other = kgtest.worker_user(ctx)
    tp._reset_breakers(ctx)
    try:
        batch, _ = kgtest.db_batch(ctx, user, 3)
        # the stack's configuration: the offline drafter, free
        def offline(name, base):
            r = _estimate(ctx, base, user, batch)
            assert r.status == 200, r
            e = r.json()
            assert e["currency"] == "USD" and e["rows"] == 3 and e["calls"] == 9, e
            assert [p["provider"] for p in e["providers"]] == ["offline"], e
            assert e["cost"] == 0 and e["remaining_cost"] == 0 and e["tokens_out"] > 0, e
            assert e["stages"] == ["plan", "draft", "polish"] and e["model"]["tokens_per_word"] == 2
            assert _estimate(ctx, base, other, batch).status == 404
            assert _estimate(ctx, base, user, str(uuid.uuid4())).status == 404
        ctx.check_servers(offline)
        with tp.Fake(ctx) as fake:
            env = tp._env(fake, KARTOGRAF_AI_PROVIDERS="bedrock,azure")
            with tx.own_export_stack(ctx, env, fcgi=True, programs=("generate",)):
                base = ctx.servers["apache"]
                e = _estimate(ctx, base, user, batch).json()
                assert [p["provider"] for p in e["providers"]] == ["bedrock", "azure"], e
                assert e["remaining_rows"] == 3 and e["cost"] == e["remaining_cost"] > 0, e
                bed = e["providers"][0]
                assert bed["price_in"] == 0.003 and bed["price_out"] == 0.015, bed
                assert abs(bed["cost"] - (bed["tokens_in"] * 0.003 + bed["tokens_out"] * 0.015)
                           / 1000) < 1e-6, bed
                assert e["providers"][1]["model"] == "gpt-4"
                assert e["actual"] == {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0}
                assert kgtest.post_generate(ctx, base, user, batch).status == 202
                kgtest.wait_batch_done(ctx, batch, timeout=60)
                assert _statuses(ctx, batch) == ["COMPLETED"] * 3
                reqs = [q for q in fake.requests("bedrock") if q["status"] == 200]
                real_in = sum(q["usage"][0] for q in reqs)
                real_out = sum(q["usage"][1] for q in reqs)
                after = _estimate(ctx, base, user, batch).json()
                assert after["remaining_rows"] == 0 and after["remaining_cost"] == 0, after
                act = after["actual"]
                assert act["calls"] == 9 == after["calls"] == len(reqs), (act, len(reqs))
                assert (act["tokens_in"], act["tokens_out"]) == (real_in, real_out), act
                print(f"# estimate vs fake usage: in {after['tokens_in']}/{real_in}, "
                      f"out {after['tokens_out']}/{real_out}, "
                      f"cost {after['cost']:.4f}/{act['cost']:.4f}")
                assert _near(after["tokens_in"], real_in, 0.25), (after["tokens_in"], real_in)
                assert _near(after["tokens_out"], real_out, 0.25), (after["tokens_out"], real_out)
                assert _near(after["cost"], act["cost"], 0.25), (after["cost"], act["cost"])
    finally:
        tp._reset_breakers(ctx)
        kgtest.drop_worker_user(ctx, user)
        kgtest.drop_worker_user(ctx, other)


# ---------------------------------------------------------------- retention

def test_lifecycle_zip_reuse_and_prune_exports(ctx):
    user, auth = _tx_user(ctx)
    try:
        base = ctx.servers["lighttpd"]
        local = _local_dir(ctx)
        batch = tx._batch(ctx, user["email"], rows=2)
        a = tx._project(ctx, user["email"], batch=batch, row=2, name="Park")
        tx._project(ctx, user["email"], batch=batch, row=3, name="Skwer")
        r1 = tx._export(ctx, base, auth, "batch", batch)
        assert r1.status == 200 and r1.header("x-kartograf-export") == "built", r1
        # nothing changed: the stored zip again, no new build, no new row
        r2 = tx._export(ctx, ctx.servers["apache"], auth, "batch", batch)
        assert r2.status == 200 and r2.header("x-kartograf-export") == "reused", r2.headers
        assert r2.body == r1.body and len(tx._history(ctx, f"batch_id = '{batch}'")) == 1
        # a card changed: a new zip. Its content must change too: a zip's key is
        # its second and its hash, so a rebuild of the same bytes within the same
        # second shares the older row's file (and pruning that row keeps it)
        ctx.psql(f"UPDATE projects SET name = 'Park 2', version = version + 1 WHERE id = '{a}'")
        r3 = tx._export(ctx, base, auth, "batch", batch)
        assert r3.header("x-kartograf-export") == "built", r3.headers
        zips = tx._history(ctx, f"batch_id = '{batch}'")
        assert len(zips) == 2 and zips[0][6] != zips[1][6], zips  # other bytes, other key
        assert tx._export(ctx, base, auth, "project", a).status == 200
        # everything of this batch 40 days old: the older zip goes, the newest zip
        # and the card's only .docx stay
        ctx.psql(f"UPDATE export_history SET created_at = created_at - interval '40 days' "
                 f"WHERE batch_id = '{batch}' OR project_id = '{a}'")
        for bad in (["--older-than", "30x"], ["--older-than"], ["--newer-than", "30d"], []):
            rc, out, err = ctx.run_program("worker/kartograf-admin", ["prune-exports", *bad])
            assert rc == 2, (bad, rc, out, err)
        rc, out, err = ctx.run_program("worker/kartograf-admin",
                                       ["prune-exports", "--older-than", "30d"])
        assert rc == 0 and out.startswith("1 old export(s) pruned"), (rc, out, err)
        left = tx._history(ctx, f"batch_id = '{batch}'")
        assert [r[8] for r in left] == [zips[1][8]], left
        assert not os.path.exists(os.path.join(local, zips[0][8]))
        assert os.path.isfile(os.path.join(local, zips[1][8]))
        assert len(tx._history(ctx, f"project_id = '{a}'")) == 1
        # the worker does the same once a day when [export] retention_days is set
        ctx.psql(f"UPDATE projects SET name = 'Park 3', version = version + 1 WHERE id = '{a}'")
        assert tx._export(ctx, base, auth, "batch", batch).header("x-kartograf-export") == "built"
        ctx.psql(f"UPDATE export_history SET created_at = created_at - interval '40 days' "
                 f"WHERE batch_id = '{batch}'")
        old_key = tx._history(ctx, f"batch_id = '{batch}'")[0][8]
        ctx.redis("DEL", "kg:lock:prune-exports")
        with kgtest.own_workers(ctx) as ws:
            w = ws.start("life-prune", {"KARTOGRAF_EXPORT_RETENTION_DAYS": "30"})
            # the log line is written after the last row is deleted: wait for it,
            # not for the rows
            line = "export retention: 1 export(s) older than 30 day(s) pruned"
            ctx.wait_until(lambda: line in kgtest.proc_log(w),
                           timeout=15, what="the worker's daily pruning")
            assert len(tx._history(ctx, f"batch_id = '{batch}'")) == 1
            assert not os.path.exists(os.path.join(local, old_key)), old_key
            kgtest.stop_proc(w)
        assert ctx.redis("EXISTS", "kg:lock:prune-exports") == "1", "once a day, not once a start"
    finally:
        ctx.redis("DEL", "kg:lock:prune-exports")
        tx._drop(ctx, user["email"])
