"""Fair scheduling (issue 21): batches served round robin, a per-user cap,
no idle slot while runnable work waits, and the old guarantees (kill -9,
FLUSHALL) with several batches at once.

Each test stops the stack's worker and runs its own (test_worker.own_workers),
so the slot figures are this test's alone.
"""
import json
import signal
import time

from kgtest import (batch_events, batch_status, check_completed, count_rows, db_batch,  # noqa: E402
                    drop_worker_user, own_workers, post_generate, proc_log, queued_tasks,
                    stop_proc, wait_batch_done, worker_user)
from test_metrics import _auth as metrics_auth  # noqa: E402


def _running(ctx, batch):
    return count_rows(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                       "AND status = 'GENERATING'")


def _done(ctx, batch):
    return count_rows(ctx, f"SELECT count(*) FROM projects WHERE batch_id = '{batch}' "
                       "AND status = 'COMPLETED'")


def _sample(ctx, batches, until, timeout=180):
    """GENERATING counts per batch every 50 ms until until() holds; a list of tuples."""
    samples = []
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        row = ctx.psql("SELECT " + ", ".join(
            f"count(*) FILTER (WHERE batch_id = '{b}' AND status = 'GENERATING')" for b in batches)
            + " FROM projects").strip()
        samples.append(tuple(int(x) for x in row.split("|")))
        time.sleep(0.05)
    return samples


def _times(ctx, batch):
    """(started_at, finished_at) of every project of the batch, as epoch seconds."""
    rows = ctx.psql("SELECT extract(epoch FROM started_at), extract(epoch FROM finished_at) "
                    f"FROM projects WHERE batch_id = '{batch}'").split()
    return [tuple(float(x) if x else None for x in r.split("|")) for r in rows]


def _running_at(times, t):
    """How many of these (started, finished) runs were under way at time t."""
    return sum(1 for s, f in times if s <= t < f)


def test_small_batch_runs_beside_a_big_one_queued_first(ctx):
    """A 4-project batch queued behind 60 projects of another user starts at
    once and finishes long before the big batch (FIFO made it wait for all).

    Judged from the projects' own start and finish times, not from what a
    poller saw: on a loaded machine a psql every 50 ms sees late and can
    miss a whole project run."""
    big_owner, small_owner = worker_user(ctx), worker_user(ctx)
    try:
        with own_workers(ctx) as ws:
            w = ws.start("fair-a", {"KARTOGRAF_WORKER_GLOBAL_LIMIT": "12",
                                    "KARTOGRAF_AI_OFFLINE_DELAY_MS": "150"})
            big, _ = db_batch(ctx, big_owner, 60)
            small, _ = db_batch(ctx, small_owner, 4)
            assert post_generate(ctx, ctx.servers["lighttpd"], big_owner, big).json() == {"queued": 60}
            assert post_generate(ctx, ctx.servers["apache"], small_owner, small).json() == {"queued": 4}
            samples = _sample(ctx, [big, small], lambda: batch_status(ctx, small) == "COMPLETED")
            assert batch_status(ctx, small) == "COMPLETED", batch_status(ctx, small)
            # within their per-batch limit of 5 (what the poller saw)
            assert max(b for b, _ in samples) <= 5 and max(s for _, s in samples) <= 5, samples[:40]
            wait_batch_done(ctx, big, timeout=180)
            check_completed(ctx, big, 60)
            check_completed(ctx, small, 4)
            bt, st = _times(ctx, big), _times(ctx, small)
            small_done = max(f for _, f in st)
            left = sum(1 for _, f in bt if f > small_done)
            print(f"# small batch done {small_done - min(s for s, _ in st):.2f}s after its first start, "
                  f"{left} of 60 big projects left then; {len(samples)} polls")
            assert left >= 30, f"the small batch waited for the big one ({left} of 60 left)"
            # both ran at once
            assert any(b0 < s1 and s0 < b1 for b0, b1 in bt for s0, s1 in st), (bt, st)
            assert "dropping" not in proc_log(w)
            stop_proc(w)
    finally:
        drop_worker_user(ctx, big_owner)
        drop_worker_user(ctx, small_owner)


def test_free_slots_go_to_other_batches(ctx):
    """Three batches, concurrency 5, global limit 15: the worker runs 15 at
    once (old FIFO with a 100 ms deferral pause ran one batch at a time)."""
    user = worker_user(ctx)
    try:
        with own_workers(ctx) as ws:
            w = ws.start("fair-full", {"KARTOGRAF_WORKER_GLOBAL_LIMIT": "15",
                                       "KARTOGRAF_AI_OFFLINE_DELAY_MS": "300"})
            batches = [db_batch(ctx, user, 20)[0] for _ in range(3)]
            for b in batches:
                assert post_generate(ctx, ctx.servers["lighttpd"], user, b).json() == {"queued": 20}
            samples = _sample(ctx, batches, lambda: all(
                batch_status(ctx, b) in ("COMPLETED", "PARTIAL") for b in batches))
            totals = [sum(s) for s in samples]
            assert max(totals) <= 15, f"peak {max(totals)} of 15 slots"
            # the peak from the projects' own times (a poller on a loaded
            # machine can miss it), 0.2 s into each run (a run is >= 0.3 s): a
            # claim's started_at is its transaction's start, which can precede
            # the finish that freed its slot by a lock wait
            times = [t for b in batches for t in _times(ctx, b)]
            peak = max(_running_at(times, t + 0.2) for t, _ in times)
            assert peak >= 15, f"peak {peak} of 15 slots (the poller saw {max(totals)})"
            assert all(max(s[i] for s in samples) <= 5 for i in range(3)), "per-batch limit broken"
            # while every batch still had waiting work the slots stayed
            # (nearly) full: FIFO with its deferral pause held 5 here; the
            # margin is for claims delayed on a loaded machine under ASan
            busy = [t for t in totals[len(totals) // 5: len(totals) // 2]]
            assert busy and sum(busy) / len(busy) >= 10.5, busy
            for b in batches:
                check_completed(ctx, b, 20)
            stop_proc(w)
    finally:
        drop_worker_user(ctx, user)


def test_user_cap_does_not_block_another_user(ctx):
    """[worker] user_concurrency = 4: one user's two batches (5 slots each)
    share 4 slots, and another user, queued last, still gets 4 at once."""
    heavy, light = worker_user(ctx), worker_user(ctx)
    try:
        with own_workers(ctx) as ws:
            w = ws.start("fair-user", {"KARTOGRAF_WORKER_GLOBAL_LIMIT": "20",
                                       "KARTOGRAF_WORKER_USER_CONCURRENCY": "4",
                                       # long enough calls that the light user's
                                       # projects overlap even when claims are slow
                                       "KARTOGRAF_AI_OFFLINE_DELAY_MS": "600"})
            h1, _ = db_batch(ctx, heavy, 12)
            h2, _ = db_batch(ctx, heavy, 12)
            l1, _ = db_batch(ctx, light, 10)
            for u, b in ((heavy, h1), (heavy, h2), (light, l1)):
                assert post_generate(ctx, ctx.servers["apache"], u, b).status == 202
            samples = _sample(ctx, [h1, h2, l1], lambda: batch_status(ctx, l1) == "COMPLETED")
            assert batch_status(ctx, l1) == "COMPLETED"
            assert max(a + b for a, b, _ in samples) <= 4, "user cap exceeded"
            assert max(c for _, _, c in samples) <= 4, "user cap exceeded"
            for b in (h1, h2):
                wait_batch_done(ctx, b, timeout=120)
                check_completed(ctx, b, 12)
            check_completed(ctx, l1, 10)
            # both users ran at once (3+ each at some moment), and the light
            # one was not held to the heavy one's leftovers: from the
            # projects' own times, as in the test above
            ht, lt = _times(ctx, h1) + _times(ctx, h2), _times(ctx, l1)
            assert any(_running_at(ht, t) >= 3 and _running_at(lt, t) >= 3 for t, _ in ht + lt), (ht, lt)
            light_done = max(f for _, f in lt)
            assert sum(1 for _, f in ht if f <= light_done) < 24, "the light user waited for the heavy one"
            stop_proc(w)
    finally:
        drop_worker_user(ctx, heavy)
        drop_worker_user(ctx, light)


def test_multi_batch_kill9_and_flushall_lose_nothing(ctx):
    """kill -9 of one worker, then FLUSHALL, in the middle of three batches:
    every project completes exactly once."""
    user = worker_user(ctx)
    try:
        with own_workers(ctx) as ws:
            a = ws.start("fair-kill-a", {"KARTOGRAF_AI_OFFLINE_DELAY_MS": "250"})
            batches = [db_batch(ctx, user, 10) for _ in range(3)]
            for b, _ in batches:
                assert post_generate(ctx, ctx.servers["lighttpd"], user, b).json() == {"queued": 10}
            ctx.wait_until(lambda: sum(_running(ctx, b) for b, _ in batches) >= 3, timeout=15,
                           what="several batches generating")
            a.send_signal(signal.SIGKILL)
            a.wait()
            b = ws.start("fair-kill-b", {"KARTOGRAF_AI_OFFLINE_DELAY_MS": "250"})
            ctx.wait_until(lambda: sum(_done(ctx, x) for x, _ in batches) >= 8, timeout=30,
                           what="work resumed")
            ctx.redis("FLUSHALL")
            for x, _ in batches:
                wait_batch_done(ctx, x, timeout=90)
            for x, projects in batches:
                assert batch_status(ctx, x) == "COMPLETED"
                check_completed(ctx, x, 10)
                events = batch_events(ctx, x)
                for pid in projects:
                    done = [e for e in events if e["project_id"] == pid
                            and e["type"] == "project.completed"]
                    assert len(done) <= 1, f"{pid} completed {len(done)} times"
            assert queued_tasks(ctx, "generate") == []
            stop_proc(b)
    finally:
        drop_worker_user(ctx, user)


def test_task_in_the_old_single_list_is_adopted(ctx):
    """A task an older version pushed to kg:queue:generate (rolling upgrade)
    is moved to its batch's list and generated."""
    user = worker_user(ctx)
    try:
        with own_workers(ctx) as ws:
            batch, (pid,) = db_batch(ctx, user, 1, "QUEUED", "now()")
            ctx.psql(f"UPDATE batches SET status = 'GENERATING' WHERE id = '{batch}'")
            task = {"kind": "generate", "project_id": pid, "batch_id": batch}
            ctx.redis("LPUSH", "kg:queue:generate", json.dumps(task))
            ctx.redis("SADD", "kg:queued:generate", f"generate:{pid}")
            w = ws.start("fair-legacy")
            wait_batch_done(ctx, batch, timeout=30)
            check_completed(ctx, batch, 1)
            assert ctx.redis("LLEN", "kg:queue:generate") == "0"
            stop_proc(w)
    finally:
        drop_worker_user(ctx, user)


def test_metrics_show_slots_and_queue_wait(ctx):
    user = worker_user(ctx)
    try:
        with own_workers(ctx) as ws:
            w = ws.start("fair-metrics", {"KARTOGRAF_WORKER_LEASE_MS": "900"})
            batch, _ = db_batch(ctx, user, 6)
            assert post_generate(ctx, ctx.servers["lighttpd"], user, batch).status == 202
            wait_batch_done(ctx, batch)

            def slot_figures():  # a later heartbeat publishes them
                r = ctx.request(ctx.servers["lighttpd"], "GET", "/metrics", headers=metrics_auth(ctx))
                assert r.status == 200, r
                lines = [x for x in r.text.splitlines() if x.startswith("kartograf_worker_slot_seconds_total{")]
                used = [float(x.split()[-1]) for x in lines if 'kind="used"' in x]
                offered = [float(x.split()[-1]) for x in lines if 'kind="offered"' in x]
                return used and max(used) > 0 and (r.text, lines, used, offered)
            text, lines, used, offered = ctx.wait_until(slot_figures, timeout=20, what="slot figures in /metrics")
            assert offered and max(offered) >= max(used), lines
            assert 'kartograf_queue_wait_seconds{quantile="0.5"}' in text, text[-2000:]
            stop_proc(w)
    finally:
        drop_worker_user(ctx, user)


def test_batch_answer_says_where_it_waits(ctx):
    """GET /api/batches/{id} "queue": no worker alive, then waiting behind
    another batch with batches_ahead and an estimate, then running."""
    user = worker_user(ctx)
    auth = {"Authorization": "Bearer " + user["token"]}
    try:
        with own_workers(ctx) as ws:
            first, _ = db_batch(ctx, user, 3)
            second, _ = db_batch(ctx, user, 2)
            assert post_generate(ctx, ctx.servers["lighttpd"], user, first).status == 202
            assert post_generate(ctx, ctx.servers["lighttpd"], user, second).status == 202

            def queue(base, batch):
                r = ctx.request(base, "GET", f"/api/batches/{batch}", headers=auth)
                assert r.status == 200, r
                return r.json()["queue"]
            for base in ctx.servers.values():
                q = queue(base, second)
                assert q["workers"] == 0 and q["waiting"] is True, q
                assert q["batches_ahead"] == 1 and q["eta_seconds"] > 0, q
            w = ws.start("fair-pos", {"KARTOGRAF_WORKER_GLOBAL_LIMIT": "1",
                                      "KARTOGRAF_AI_OFFLINE_DELAY_MS": "400"})
            ctx.wait_until(lambda: _running(ctx, first) == 1, timeout=15, what="first running")
            q = queue(ctx.servers["apache"], first)
            assert q["waiting"] is False and q["batches_ahead"] is None and q["workers"] == 1, q
            # one slot: the two batches take turns, so both finish
            wait_batch_done(ctx, second, timeout=60)
            wait_batch_done(ctx, first, timeout=60)
            q = queue(ctx.servers["lighttpd"], second)
            assert q["waiting"] is False, q
            stop_proc(w)
    finally:
        drop_worker_user(ctx, user)
