"""Project card editor API (issue 8): read, edit, review, history, revert,
regenerate requests - through both web servers."""
import json
import threading
import uuid
from kgtest import drop_queue, drop_users, login, new_user, queued_tasks  # noqa: E402

PASSWORD = "projects pass 42"
KEYS = ["summary", "objectives", "target_group", "activities", "schedule",
        "budget", "outcomes", "risks"]
INPUT = {"name": "Park kieszonkowy", "description": "Budowa parku kieszonkowego.",
         "organization": "Fundacja Łąka", "budget": 125000,
         "start_date": "2026-03-01", "end_date": "2026-12-31",
         "target_group": "mieszkańcy osiedla"}
JSON_CT = {"Content-Type": "application/json"}


def _user(ctx):
    return new_user(ctx, "pr", password=PASSWORD)


_drop = drop_users


def _project(ctx, email, status="COMPLETED"):
    """A batch with one project and its 8 AI sections, written directly."""
    done = status == "COMPLETED"
    progress, score = (100, "50") if done else (40, "NULL")
    quality, finished = ("'{}'::jsonb", "now()") if done else ("NULL", "NULL")
    inp = json.dumps(INPUT)
    sql = f"""
    WITH b AS (
      INSERT INTO batches (owner_id, name, row_count)
      SELECT id, 'Nabór testowy', 1 FROM users WHERE email = '{email}' RETURNING id),
    p AS (
      INSERT INTO projects (batch_id, row_number, name, input, status, progress,
                            quality_score, quality, provider, started_at, finished_at)
      SELECT b.id, 2, 'Park kieszonkowy', $j${inp}$j$::jsonb, '{status}',
             {progress}, {score}, {quality}, 'offline', now(), {finished}
      FROM b RETURNING id),
    s AS (
      INSERT INTO sections (project_id, key, body, origin, reviewed, provider)
      SELECT p.id, d.key, 'Sekcja ' || d.title || ' projektu Park kieszonkowy.',
             'ai', false, 'offline'
      FROM p CROSS JOIN section_defs d)
    SELECT id FROM p"""
    return ctx.psql(sql).splitlines()[0].strip()


def _patch(ctx, base, auth, pid, body, headers=None):
    h = dict(auth, **(headers or {}))
    return ctx.request(base, "PATCH", f"/api/projects/{pid}", body, h)


def _sections_db(ctx, pid):
    return ctx.psql(f"SELECT key, body, origin, reviewed, version, updated_at FROM sections "
                    f"WHERE project_id = '{pid}' ORDER BY key")


def _version_db(ctx, pid):
    return int(ctx.psql(f"SELECT version FROM projects WHERE id = '{pid}'").strip())


def _section(project, key):
    return next(s for s in project["sections"] if s["key"] == key)


def test_get_shape_and_order(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            r = ctx.request(base, "GET", f"/api/projects/{pid}", headers=auth)
            assert r.status == 200, r
            assert r.header("content-type", "").startswith("application/json"), r.headers
            assert r.header("etag") == '"1"', r.headers
            p = r.json()
            for k in ("id", "batch_id", "row", "name", "status", "progress", "version",
                      "provider", "offline", "error", "input", "quality_score", "quality",
                      "updated_at", "sections"):
                assert k in p, f"missing {k}: {sorted(p)}"
            assert p["id"] == pid and p["status"] == "COMPLETED" and p["version"] == 1
            assert p["provider"] == "offline" and p["offline"] is True
            assert p["input"]["organization"] == "Fundacja Łąka"
            assert [s["key"] for s in p["sections"]] == KEYS, p["sections"]
            s = p["sections"][0]
            assert s["title"] == "Podsumowanie projektu" and s["origin"] == "ai"
            assert s["reviewed"] is False and s["version"] == 1 and s["offline"] is True
            assert isinstance(s["flags"], list) and s["updated_at"]
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_edit_review_and_quality(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            text = "Nowe podsumowanie: projekt „Park kieszonkowy” realizuje Fundacja Łąka."
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {"summary": {"body": text}}})
            assert r.status == 200, r
            p = r.json()
            assert p["version"] == 2 and r.header("etag") == '"2"', (p["version"], r.headers)
            s = _section(p, "summary")
            assert s["body"] == text and s["origin"] == "human" and s["reviewed"] is True, s
            assert s["provider"] is None and s["version"] == 2
            other = _section(p, "budget")
            assert other["origin"] == "ai" and other["reviewed"] is False
            q = p["quality"]
            assert q["criteria"]["review"]["score"] == 1, q["criteria"]["review"]
            assert p["quality_score"] == q["score"] == sum(c["score"] for c in q["criteria"].values())
            assert set(q["sections"]) == set(KEYS)
            assert _section(p, "budget")["flags"] == q["sections"]["budget"]
            rev = ctx.psql(f"SELECT u.email, r.origin, r.reviewed, r.old_body, r.new_body FROM "
                           f"section_revisions r JOIN users u ON u.id = r.user_id WHERE "
                           f"r.project_id = '{pid}' AND r.key = 'summary' ORDER BY r.id DESC LIMIT 1")
            assert rev.strip() == f"{email}|human|t|Sekcja Podsumowanie projektu projektu Park kieszonkowy.|{text}", rev
            db = ctx.psql(f"SELECT version, quality_score FROM projects WHERE id = '{pid}'").strip()
            assert db == f"2|{p['quality_score']}", db
            # the live view hears about it (seq taken in the same transaction)
            ev = ctx.redis("XREVRANGE", f"kg:events:{p['batch_id']}", "+", "-", "COUNT", "1")
            ev = json.loads(ev.splitlines()[-1])
            assert ev["project_id"] == pid and ev["quality_score"] == p["quality_score"], ev
            assert ev["status"] == "COMPLETED" and ev["seq"] == int(ctx.psql(
                f"SELECT event_seq FROM batches WHERE id = '{p['batch_id']}'").strip()), ev

            # review only: the other 7, text untouched, review criterion full
            before = p["quality_score"]
            r = _patch(ctx, base, auth, pid, {"version": 2, "sections": {
                k: {"reviewed": True} for k in KEYS[1:]}})
            assert r.status == 200, r
            p = r.json()
            assert p["version"] == 3
            assert all(s["reviewed"] for s in p["sections"])
            assert _section(p, "budget")["origin"] == "ai"
            assert _section(p, "budget")["body"].startswith("Sekcja Budżet")
            assert p["quality"]["criteria"]["review"]["score"] == 10
            assert p["quality_score"] == before + 9, (before, p["quality_score"])
            n = ctx.psql(f"SELECT count(*) FROM section_revisions WHERE project_id = '{pid}' "
                         f"AND key = 'budget' AND reviewed AND user_id IS NOT NULL").strip()
            assert n == "1", n

            # the same text sent back is no edit: origin stays, no revision
            r = _patch(ctx, base, auth, pid, {"version": 3, "sections": {
                "budget": {"body": _section(p, "budget")["body"]}}})
            assert r.status == 200 and _section(r.json(), "budget")["origin"] == "ai", r
            # unmark
            r = _patch(ctx, base, auth, pid, {"version": 4, "sections": {"risks": {"reviewed": False}}})
            assert r.status == 200 and _section(r.json(), "risks")["reviewed"] is False, r
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_version_rules(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            edit = {"sections": {"summary": {"body": "Zmiana."}}}
            before = _sections_db(ctx, pid)
            r = _patch(ctx, base, auth, pid, edit)
            assert r.status == 428 and r.json()["error"] == "version_required", r
            r = _patch(ctx, base, auth, pid, dict(edit, version=7))
            assert r.status == 409, r
            body = r.json()
            assert body["error"] == "version_conflict" and body["project"]["version"] == 1, body
            assert _section(body["project"], "summary")["origin"] == "ai"
            assert _sections_db(ctx, pid) == before and _version_db(ctx, pid) == 1
            r = _patch(ctx, base, auth, pid, {"version": "1", **edit})
            assert r.status == 400, r
            # If-Match instead of version
            r = _patch(ctx, base, auth, pid, edit, {"If-Match": '"1"'})
            assert r.status == 200 and r.json()["version"] == 2, r
            r = _patch(ctx, base, auth, pid, edit, {"If-Match": '"1"'})
            assert r.status == 409 and r.json()["project"]["version"] == 2, r
            r = _patch(ctx, base, auth, pid, dict(edit, version=2), {"If-Match": '"1"'})
            assert r.status == 400, r
            r = _patch(ctx, base, auth, pid, edit, {"If-Match": "*"})
            assert r.status == 400, r
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_concurrent_patches_one_wins(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            for version in range(1, 6):
                results = []
                go = threading.Barrier(2)

                def one(i):
                    go.wait()
                    r = _patch(ctx, base, auth, pid, {"version": version, "sections": {
                        "summary": {"body": f"Wersja {version} klienta {i}."}}})
                    results.append(r.status)

                threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                assert sorted(results) == [200, 409], (version, results)
                assert _version_db(ctx, pid) == version + 1
            n = ctx.psql(f"SELECT count(*) FROM section_revisions WHERE project_id = '{pid}' "
                         f"AND key = 'summary' AND origin = 'human'").strip()
            assert n == "5", n
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_bad_requests(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            gen = _project(ctx, email, "GENERATING")
            before = _sections_db(ctx, pid)
            r = _patch(ctx, base, auth, gen, {"version": 1, "sections": {"summary": {"body": "x"}}})
            assert r.status == 409 and r.json()["error"] == "not_editable", r
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {
                "summary": {"body": "ok"}, "nope": {"body": "x"}}})
            assert r.status == 422 and r.json()["error"] == "unknown_section", r
            raw = b'{"version": 1, "sections": {"summary": {"body": "z\xff\xfe"}}}'
            r = ctx.request(base, "PATCH", f"/api/projects/{pid}", raw, dict(auth, **JSON_CT))
            assert r.status == 400 and r.json()["error"] == "invalid_utf8", r
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {"summary": {"body": "ł" * 20001}}})
            assert r.status == 422 and r.json()["error"] == "too_long", r
            r = ctx.request(base, "PATCH", f"/api/projects/{pid}", b'[1, 2]', dict(auth, **JSON_CT))
            assert r.status == 400, r
            r = ctx.request(base, "PATCH", f"/api/projects/{pid}", b'{"version": 1}',
                            dict(auth, **{"Content-Type": "text/plain"}))
            assert r.status == 415, r
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {"summary": "x"}})
            assert r.status == 400, r
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {"summary": {}}})
            assert r.status == 400, r
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {}})
            assert r.status == 400, r
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {"summary": {"body": "x"}},
                                               "extra": 1})
            assert r.status == 400, r
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {"summary": {"body": "a\u0000b"}}})
            assert r.status == 400, r
            assert _sections_db(ctx, pid) == before and _version_db(ctx, pid) == 1
            r = ctx.request(base, "GET", f"/api/projects/{uuid.uuid4()}", headers=auth)
            assert r.status == 404 and r.json()["error"] == "not_found", r
            r = ctx.request(base, "GET", f"/api/projects/{pid}")
            assert r.status == 401, r
            # exactly the limit is fine
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {"summary": {"body": "ł" * 20000}}})
            assert r.status == 200 and len(_section(r.json(), "summary")["body"]) == 20000, r
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_text_is_plain_and_cleaned(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            r = _patch(ctx, base, auth, pid, {"version": 1, "sections": {
                "summary": {"body": "a\u0001b\tc\nd\r\ne\u007f"},
                "risks": {"body": "<script>alert(1)</script> & \"ryzyko\""}}})
            assert r.status == 200, r
            assert r.header("content-type", "").startswith("application/json"), r.headers
            p = r.json()
            assert _section(p, "summary")["body"] == "ab\tc\nd\ne", _section(p, "summary")
            g = ctx.request(base, "GET", f"/api/projects/{pid}", headers=auth)
            assert g.header("content-type", "").startswith("application/json")
            assert _section(g.json(), "risks")["body"] == "<script>alert(1)</script> & \"ryzyko\""
            db = ctx.psql(f"SELECT body FROM sections WHERE project_id = '{pid}' AND key = 'risks'")
            assert db.strip() == "<script>alert(1)</script> & \"ryzyko\"", db
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_other_users_project_is_404(ctx):
    email, auth = _user(ctx)
    other, other_auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            sec = f"/api/projects/{pid}/sections/summary"
            calls = [
                ("GET", f"/api/projects/{pid}", None),
                ("PATCH", f"/api/projects/{pid}", {"version": 1, "sections": {"summary": {"body": "x"}}}),
                ("GET", sec + "/revisions", None),
                ("POST", sec + "/revert", {"version": 1, "revision_id": 1}),
                ("POST", sec + "/regenerate", {"version": 1}),
            ]
            for method, path, body in calls:
                r = ctx.request(base, method, path, body, other_auth)
                assert r.status == 404 and r.json()["error"] == "not_found", (method, path, r)
            assert _version_db(ctx, pid) == 1
        ctx.check_servers(check)
    finally:
        _drop(ctx, email, other)


def test_card_read_ends_with_the_session(ctx):
    """GET /api/projects/{id} re-reads the user in the card's own statement
    (KG_ROUTE_AUTH_INLINE): a logged-out token, a deleted user and a role
    change still take effect on the very next card request."""
    email, auth = _user(ctx)
    admin, admin_auth = new_user(ctx, "pa", admin=True, password=PASSWORD)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            r = ctx.request(base, "GET", f"/api/projects/{pid}", None, admin_auth)
            assert r.status == 200 and r.json()["id"] == pid, r
            rc, _, err = ctx.run_program("worker/kartograf-admin", ["setrole", admin, "user"])
            assert rc == 0, err
            r = ctx.request(base, "GET", f"/api/projects/{pid}", None, admin_auth)
            assert r.status == 404 and r.json()["error"] == "not_found", r
            rc, _, err = ctx.run_program("worker/kartograf-admin", ["setrole", admin, "admin"])
            assert rc == 0, err
            mine = {"Authorization": "Bearer " + login(ctx, email, PASSWORD)["token"]}
            r = ctx.request(base, "GET", f"/api/projects/{pid}", None, mine)
            assert r.status == 200 and r.header("Cache-Control") == "no-store", r
            assert ctx.request(base, "POST", "/api/auth/logout", {}, mine).status == 200
            r = ctx.request(base, "GET", f"/api/projects/{pid}", None, mine)
            assert r.status == 401 and r.json()["error"] == "session_ended", r
            assert "invalid_token" in (r.header("WWW-Authenticate") or ""), r
            # the session ended decides before ownership: 401, not 404
            other = str(uuid.uuid4())
            r = ctx.request(base, "GET", f"/api/projects/{other}", None, mine)
            assert r.status == 401 and r.json()["error"] == "session_ended", r
            r = ctx.request(base, "GET", f"/api/projects/{pid}", None, auth)
            assert r.status == 200, r
        ctx.check_servers(check)
        _drop(ctx, email)
        for name, base in ctx.servers.items():
            r = ctx.request(base, "GET", f"/api/projects/{uuid.uuid4()}", None, auth)
            assert r.status == 401 and r.json()["error"] == "session_ended", (name, r)
            assert "invalid_token" in (r.header("WWW-Authenticate") or ""), (name, r)
    finally:
        _drop(ctx, email, admin)


def test_revisions_and_revert(ctx):
    email, auth = _user(ctx)
    try:
        def check(name, base):
            pid = _project(ctx, email)
            for v, text in ((1, "Pierwsza wersja."), (2, "Druga wersja.")):
                r = _patch(ctx, base, auth, pid, {"version": v, "sections": {"budget": {"body": text}}})
                assert r.status == 200, r
            r = ctx.request(base, "GET", f"/api/projects/{pid}/sections/budget/revisions", headers=auth)
            assert r.status == 200, r
            h = r.json()
            revs = h["revisions"]
            assert h["total"] == 3 and len(revs) == 3, h
            assert [x["new_body"] for x in revs] == ["Druga wersja.", "Pierwsza wersja.",
                                                      "Sekcja Budżet projektu Park kieszonkowy."]
            assert revs[0]["id"] > revs[1]["id"] > revs[2]["id"]
            assert revs[0]["user"]["email"] == email and revs[0]["origin"] == "human"
            assert revs[0]["old_body"] == "Pierwsza wersja."
            assert revs[2]["user"] is None and revs[2]["origin"] == "ai" and revs[2]["old_body"] is None
            for k in ("id", "created_at", "user", "origin", "reviewed", "old_body", "new_body", "note"):
                assert k in revs[0], k
            r = ctx.request(base, "GET", f"/api/projects/{pid}/sections/budget/revisions?limit=1",
                            headers=auth)
            assert r.status == 200 and len(r.json()["revisions"]) == 1, r
            r = ctx.request(base, "GET", f"/api/projects/{pid}/sections/nope/revisions", headers=auth)
            assert r.status == 422, r

            first = revs[2]["id"]
            path = f"/api/projects/{pid}/sections/budget/revert"
            r = ctx.request(base, "POST", path, {"version": 1, "revision_id": first}, auth)
            assert r.status == 409 and r.json()["project"]["version"] == 3, r
            r = ctx.request(base, "POST", path, {"version": 3}, auth)
            assert r.status == 400, r
            r = ctx.request(base, "POST", path, {"revision_id": first}, auth)
            assert r.status == 428, r
            other = ctx.psql(f"SELECT min(id) FROM section_revisions WHERE project_id = '{pid}' "
                             f"AND key = 'summary'").strip()
            r = ctx.request(base, "POST", path, {"version": 3, "revision_id": int(other)}, auth)
            assert r.status == 422 and r.json()["error"] == "unknown_revision", r
            r = ctx.request(base, "POST", path, {"version": 3, "revision_id": first}, auth)
            assert r.status == 200, r
            p = r.json()
            s = _section(p, "budget")
            assert p["version"] == 4 and s["body"] == "Sekcja Budżet projektu Park kieszonkowy."
            assert s["origin"] == "human" and s["reviewed"] is True
            r = ctx.request(base, "GET", f"/api/projects/{pid}/sections/budget/revisions", headers=auth)
            top = r.json()["revisions"][0]
            assert top["note"] == f"revert to #{first}" and top["user"]["email"] == email, top
            assert top["old_body"] == "Druga wersja."
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)


def test_regenerate_requests(ctx):
    email, auth = _user(ctx)
    # the stack's worker consumes kg:queue:regenerate (worker/wk_regen.c,
    # tests/integration/test_regenerate.py); stop it to look at the raw tasks
    ctx.stack("stop", "worker")
    try:
        def check(name, base):
            pid = _project(ctx, email)
            path = f"/api/projects/{pid}/sections/budget/regenerate"
            n0 = len(queued_tasks(ctx, "regenerate"))
            r = ctx.request(base, "POST", path, {"version": 1, "instruction": "krócej"}, auth)
            assert r.status == 202 and r.json()["queued"] is True, r
            waiting = queued_tasks(ctx, "regenerate")
            assert len(waiting) == n0 + 1, waiting
            (task,) = [t for t in waiting if t["project_id"] == pid]
            assert task["kind"] == "regenerate_section" and task["project_id"] == pid, task
            assert task["section"] == "budget" and task["instruction"] == "krócej" and task["version"] == 1
            # recorded in PostgreSQL too (the reconciler's source)
            row = ctx.psql("SELECT key, instruction, requested_version FROM regeneration_requests "
                           f"WHERE id = {int(task['request_id'])} AND project_id = '{pid}'").strip()
            assert row == "budget|krócej|1", row
            # the card shows which section is waiting (the editor polls it)
            sec = {x["key"]: x for x in ctx.request(base, "GET", f"/api/projects/{pid}",
                                                     headers=auth).json()["sections"]}
            assert sec["budget"]["regenerating"] is True and sec["summary"]["regenerating"] is False
            r = ctx.request(base, "POST", path, {}, auth)
            assert r.status == 428, r
            r = ctx.request(base, "POST", path, {"version": 2}, auth)
            assert r.status == 409 and r.json()["error"] == "version_conflict", r
            r = ctx.request(base, "POST", f"/api/projects/{pid}/sections/nope/regenerate",
                            {"version": 1}, auth)
            assert r.status == 422 and r.json()["error"] == "unknown_section", r
            r = ctx.request(base, "POST", path, {"version": 1, "instruction": "x" * 501}, auth)
            assert r.status == 422 and r.json()["error"] == "too_long", r
            r = ctx.request(base, "POST", path, {"version": 1, "instruction": 5}, auth)
            assert r.status == 400, r
            r = ctx.request(base, "POST", path, {"version": 1}, auth)
            assert r.status == 202, r
            gen = _project(ctx, email, "GENERATING")
            r = ctx.request(base, "POST", f"/api/projects/{gen}/sections/budget/regenerate",
                            {"version": 1}, auth)
            assert r.status == 409 and r.json()["error"] == "not_editable", r
            assert len(queued_tasks(ctx, "regenerate")) == n0 + 2
            assert _version_db(ctx, pid) == 1
        ctx.check_servers(check)
    finally:
        _drop(ctx, email)    # the request rows go with the projects
        drop_queue(ctx, "regenerate")
        ctx.stack("start", "worker")
