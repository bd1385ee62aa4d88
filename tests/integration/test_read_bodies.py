"""The read path's answers byte for byte (issue 15).

GET /api/projects/{id}, GET /api/batches/{id}, GET /api/batches and
GET /api/auth/me for one fixed fixture (fixed ids, texts, numbers and
timestamps), compared with the bytes the JSON-in-SQL implementation sent
before the read path was rewritten in C (captured from main).  Whatever
makes these programs faster must not change a byte: key order, number
formatting (numeric costs, integers), string escaping (quotes, newlines,
tabs, U+2028, '/', Polish letters), nulls of a section not written yet,
flags from the quality JSON, timestamps with and without fractions.

Timestamps are rendered by PostgreSQL's JSON output in the server's time
zone, so the expected strings are computed with to_json() in the same
database rather than written down.
"""
import json
import os
import re
import time

from kgtest import drop_users, new_user  # noqa: E402

PASSWORD = "bodies pass 42"
B1 = "11111111-1111-4111-8111-111111111111"
B2 = "22222222-2222-4222-8222-222222222222"
P1 = "aaaaaaaa-0000-4000-8000-000000000001"
P2 = "aaaaaaaa-0000-4000-8000-000000000002"
P3 = "aaaaaaaa-0000-4000-8000-000000000003"
P4 = "aaaaaaaa-0000-4000-8000-000000000004"

# timestamp literals of the fixture -> their placeholder in the expectations
TS = {
    "T1": "2026-03-01 10:00:00+00",
    "T2": "2026-03-01 10:15:30.5+00",
    "T3": "2026-03-02 08:01:02.123456+00",
    "T4": "2026-03-03 23:59:59.000001+00",
    "T5": "2026-03-04 12:00:00+00",
}

BODY_TRICKY = ('Cytat: "Łąka" \\ ścieżka/ścieżka\n\tpunkt 1\nlinia\u2028'
               'separator 100%')


def _q(s):
    return "'" + s.replace("'", "''") + "'"


def _fixture(ctx, email):
    """Two batches (B1 with four projects, B2 empty of cards), one full card
    P1 with seven of eight sections, a pending regeneration and AI costs."""
    ctx.psql(f"DELETE FROM batches WHERE id IN ('{B1}', '{B2}')")
    inp = json.dumps({"name": "Park kieszonkowy", "budget": 125000.5,
                      "description": "Opis „z cudzysłowem”", "start_date": "2026-03-01",
                      "organization": "Fundacja Łąka", "keywords": "a/b, c\\d"},
                     ensure_ascii=False)
    quality = json.dumps({"score": 73, "criteria": {"completeness": {"score": 20, "max": 25}},
                          "sections": {"summary": [], "budget": ["unsupported_number",
                                                                  "too_short"],
                                       "risks": None}}, ensure_ascii=False)
    t = {k: _q(v) + "::timestamptz" for k, v in TS.items()}
    ctx.psql(f"""
    INSERT INTO batches (id, owner_id, name, source_filename, status, row_count,
                         event_seq, created_at, updated_at, completed_at)
    SELECT '{B1}', id, 'Nabór „wiosna” 2026', 'nabor.xlsx', 'PARTIAL', 4, 17,
           {t['T1']}, {t['T3']}, {t['T4']} FROM users WHERE email = {_q(email)};
    INSERT INTO batches (id, owner_id, name, source_filename, status, row_count,
                         created_at, updated_at)
    SELECT '{B2}', id, 'Drugi', NULL, 'VALIDATED', 1, {t['T2']}, {t['T2']}
    FROM users WHERE email = {_q(email)};
    INSERT INTO projects (id, batch_id, row_number, name, input, status, progress,
                          quality_score, quality, version, provider, error,
                          started_at, finished_at, created_at, updated_at)
    VALUES
     ('{P1}', '{B1}', 2, 'Park kieszonkowy', {_q(inp)}::jsonb, 'COMPLETED', 100, 73,
      {_q(quality)}::jsonb, 5, 'bedrock', NULL, {t['T1']}, {t['T2']}, {t['T1']},
      {t['T3']}),
     ('{P2}', '{B1}', 3, 'Zielone „podwórka”', '{{}}'::jsonb, 'FAILED', 40, NULL, NULL,
      1, NULL, 'Błąd: "timeout"\\nponowiono', {t['T1']}, {t['T2']}, {t['T1']},
      {t['T2']}),
     ('{P3}', '{B1}', 4, 'Trzeci', '{{"name": "Trzeci"}}'::jsonb, 'GENERATING', 55, NULL,
      NULL, 2, 'offline', NULL, {t['T1']}, NULL, {t['T1']}, {t['T4']}),
     ('{P4}', '{B1}', 5, 'Czwarty', '{{}}'::jsonb, 'PENDING', 0, NULL, NULL, 1, NULL, NULL,
      NULL, NULL, {t['T1']}, {t['T1']});
    INSERT INTO projects (batch_id, row_number, name, input, created_at, updated_at)
    VALUES ('{B2}', 2, 'Jedyny', '{{}}'::jsonb, {t['T2']}, {t['T2']});
    INSERT INTO sections (project_id, key, body, origin, reviewed, provider, version,
                          updated_at)
    SELECT '{P1}', d.key,
           CASE d.key WHEN 'summary' THEN {_q(BODY_TRICKY)}
                      WHEN 'budget' THEN ''
                      ELSE 'Sekcja ' || d.title || '.' END,
           CASE WHEN d.key IN ('objectives', 'budget') THEN 'human' ELSE 'ai' END,
           d.key IN ('objectives', 'schedule'),
           CASE WHEN d.key IN ('objectives', 'budget') THEN NULL
                WHEN d.key = 'activities' THEN 'offline' ELSE 'bedrock' END,
           d.position, CASE d.key WHEN 'schedule' THEN {t['T4']} ELSE {t['T2']} END
    FROM section_defs d WHERE d.key <> 'risks';
    INSERT INTO regeneration_requests (project_id, key, requested_version)
    VALUES ('{P1}', 'outcomes', 5);
    INSERT INTO ai_calls (batch_id, project_id, provider, model, stage, cost, outcome,
                          error)
    VALUES ('{B1}', '{P1}', 'bedrock', 'm', 'draft', 0.0123, 'ok', NULL),
           ('{B1}', '{P1}', 'bedrock', 'm', 'polish', 0.5, 'ok', NULL),
           ('{B1}', '{P2}', 'bedrock', 'm', 'draft', 0.000001, 'error', 'x')""")


def _expand(ctx, template, **ids):
    """Fill timestamp placeholders with PostgreSQL's own JSON rendering."""
    out = template
    for k, v in TS.items():
        js = ctx.psql(f"SELECT to_json({_q(v)}::timestamptz)").strip()
        out = out.replace("{" + k + "}", js.strip('"'))
    for k, v in ids.items():
        out = out.replace("{" + k + "}", v)
    return out


GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "read_bodies")


def _golden(name):
    """The answer main sent, with {T1}.. in place of its timestamps."""
    with open(os.path.join(GOLDEN, name + ".json"), encoding="utf-8") as f:
        return f.read().rstrip("\n")


def _get(ctx, base, path, auth, name):
    r = ctx.request(base, "GET", path, headers=auth)
    assert r.status == 200, (name, path, r)
    assert r.header("cache-control") == "no-store", (name, path, r.headers)
    return r


def _same(name, what, got, want):
    if got == want:
        return
    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
             min(len(got), len(want)))
    raise AssertionError(f"{name} {what}: differs at byte {i}:\n"
                         f"  got  ...{got[max(0, i - 60):i + 60]!r}\n"
                         f"  want ...{want[max(0, i - 60):i + 60]!r}")


def test_card_and_batch_bodies_byte_for_byte(ctx):
    email, auth = new_user(ctx, "bodies", password=PASSWORD)
    try:
        _fixture(ctx, email)
        want = {k: _expand(ctx, _golden(k)) for k in ("card", "batch", "batch_list")}
        paths = {"card": f"/api/projects/{P1}", "batch": f"/api/batches/{B1}",
                 "batch_list": "/api/batches"}

        def check(name, base):
            got = {k: _get(ctx, base, p, auth, name).body.decode("utf-8")
                   for k, p in paths.items()}
            # the batch ends with "queue" (kg_sched, issue 14: live worker count)
            m = re.fullmatch(r'(.*),"queue":(\{[^{}]*\})\}', got["batch"], re.S)
            assert m, (name, got["batch"][-200:])
            got["batch"] = m.group(1) + "}"
            assert json.loads(m.group(2))["waiting"] is False, (name, m.group(2))
            assert re.fullmatch(r'\{"waiting":false,"batches_ahead":null,'
                                r'"eta_seconds":null,"workers":\d+\}', m.group(2)), m.group(2)
            for k, text in got.items():
                _same(name, k, text, want[k])
            r = _get(ctx, base, paths["card"], auth, name)
            assert r.header("etag") == '"5"', (name, r.headers)
        ctx.check_servers(check)
    finally:
        drop_users(ctx, email)


def test_me_body_byte_for_byte(ctx):
    email, auth = new_user(ctx, "bodies", password=PASSWORD)
    try:
        uid = ctx.psql(f"SELECT id FROM users WHERE email = {_q(email)}").strip()
        ctx.psql(f"UPDATE users SET display_name = 'Zoë \"Q\" Łęcka' "
                 f"WHERE email = {_q(email)}")
        want = ('{"id":"' + uid + '","email":"' + email + '",'
                '"display_name":"Zoë \\"Q\\" Łęcka","role":"user"}')

        def check(name, base):
            r = _get(ctx, base, "/api/auth/me", auth, name)
            _same(name, "me", r.body.decode("utf-8"), want)
        ctx.check_servers(check)
    finally:
        drop_users(ctx, email)


# ---------------------------------------------------------------- SSE snapshot

B3 = "33333333-3333-4333-8333-333333333333"
B4 = "44444444-4444-4444-8444-444444444444"
TRICKY_NAMES = ['Cudzysłów "x" i \\ ukośnik', 'Tab\tnowa\nlinia\r', 'Ctrl \x01\x1f koniec',
                'Łąka\u2028„ź” / 100%', ' spacje ']


def _snapshot_fixture(ctx, email):
    """B3: projects whose names need escaping, one in each status; B4: a batch
    without projects (its only card deleted)."""
    ctx.psql(f"DELETE FROM batches WHERE id IN ('{B3}', '{B4}')")
    shape = [  # status, progress, quality_score, quality, error, started, finished
        ("COMPLETED", 100, "88", "'{}'::jsonb", "NULL", "now()", "now()"),
        ("FAILED", 35, "NULL", "NULL", "'x'", "now()", "now()"),
        ("GENERATING", 60, "NULL", "NULL", "NULL", "now()", "NULL"),
        ("QUEUED", 0, "NULL", "NULL", "NULL", "NULL", "NULL"),
        ("PENDING", 0, "NULL", "NULL", "NULL", "NULL", "NULL")]
    rows = ", ".join(
        f"('cccccccc-0000-4000-8000-00000000000{i + 1}', '{B3}', {i + 7}, {_q(n)}, '{{}}'::jsonb, '{st}', {pr}, {qs}, {q}, {er}, {t0}, {t1})"
        for i, (n, (st, pr, qs, q, er, t0, t1)) in enumerate(zip(TRICKY_NAMES, shape)))
    ctx.psql(f"""
    INSERT INTO batches (id, owner_id, name, source_filename, status, row_count, event_seq)
    SELECT '{B3}', id, 'Znaki: "cytat" \\ tab\t koniec', 'x.csv', 'GENERATING', 5,
           123456789012 FROM users WHERE email = {_q(email)};
    INSERT INTO batches (id, owner_id, name, source_filename, status, row_count, event_seq)
    SELECT '{B4}', id, 'Pusty', NULL, 'VALIDATED', 1, 0 FROM users WHERE email = {_q(email)};
    INSERT INTO projects (id, batch_id, row_number, name, input, status, progress,
                          quality_score, quality, error, started_at, finished_at)
    VALUES {rows}""")


def _snapshot(base, batch, auth):
    """The data of the stream's first event (the snapshot), its id and event name."""
    from test_events import SSE   # the test client of the relay's own tests
    s = SSE(base, f"/api/events/{batch}", auth)
    try:
        assert s.status == 200, (batch, s.status, s.json_body())
        ev = s.next_event(10)
    finally:
        s.close()
    assert ev and ev.get("event") == "snapshot", ev
    return ev["id"], ev["data"]


def test_events_snapshot_byte_for_byte(ctx):
    """The relay's snapshot event (GET /api/events/{id} without Last-Event-ID)
    for the fixed fixture, compared with what the json_build_object
    implementation sent (read_bodies/snapshot_*.json; "ts" is the time of the
    read, so it is checked for its form and then replaced by {TS})."""
    email, auth = new_user(ctx, "bodies", password=PASSWORD)
    try:
        _fixture(ctx, email)
        _snapshot_fixture(ctx, email)
        cases = {"snapshot_b1": (B1, "17"), "snapshot_b3": (B3, "123456789012"),
                 "snapshot_b4": (B4, "0")}

        def check(name, base):
            for golden, (batch, seq) in cases.items():
                before = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 5))
                sid, data = _snapshot(base, batch, auth)
                assert sid == seq, (name, golden, sid)
                m = re.search(r'"ts" : "(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"', data)
                assert m, (name, golden, data[:200])
                assert m.group(1) >= before, (name, golden, m.group(1), before)
                got = data[:m.start(1)] + "{TS}" + data[m.end(1):]
                _same(name, golden, got, _golden(golden))
                json.loads(data)
        ctx.check_servers(check)
    finally:
        drop_users(ctx, email)
