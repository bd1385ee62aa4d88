"""Schema tests: the constraints in sql/001_schema.sql really make bad states
impossible, and sql/002_section_defs.sql seeded the eight card sections.

Run by the integration harness, which passes `ctx`; `ctx.psql(sql)` runs
`psql -At -X -v ON_ERROR_STOP=1 -c sql` against the migrated database, returns
stdout and raises on an SQL error. Python 3 standard library only.

Every test that writes creates its own user with a unique e-mail and deletes
it at the end; users are hard-deleted and everything else cascades from them,
so one DELETE cleans up batches, projects, sections, revisions, ai_calls and
export_history. Statements that are expected to fail run alone (autocommit),
so a rejected statement leaves nothing behind.
"""

import os
import re
import uuid

EXPECTED_TABLES = {
    "users", "batches", "projects", "section_defs", "sections",
    "section_revisions", "ai_calls", "export_history", "schema_migrations",
}

EXPECTED_SECTIONS = [
    ("summary", "Podsumowanie projektu"),
    ("objectives", "Cel i uzasadnienie"),
    ("target_group", "Grupa docelowa"),
    ("activities", "Zakres działań"),
    ("schedule", "Harmonogram"),
    ("budget", "Budżet"),
    ("outcomes", "Rezultaty i wskaźniki"),
    ("risks", "Ryzyka i sposoby ich ograniczania"),
]

# A syntactically valid Argon2id encoded string (the schema checks the prefix).
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2NoZW1hdGVzdA$aGFzaGhhc2hoYXNoaGFzaA"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _q(ctx, sql):
    """Run SQL, return stdout stripped."""
    return _text(ctx.psql(sql)).strip()


def _rows(ctx, sql):
    out = _q(ctx, sql)
    return [line.split("|") for line in out.splitlines() if line != ""]


def _lit(s):
    """SQL string literal (for values the test itself generated)."""
    return "'" + s.replace("'", "''") + "'"


def _rejected(ctx, sql, constraint):
    """Assert that `sql` fails. When the harness exposes psql's error text,
    also assert that it was `constraint` that fired (not a typo in the test)."""
    try:
        ctx.psql(sql)
    except Exception as exc:  # CalledProcessError or the harness's own error
        detail = " ".join(_text(getattr(exc, attr, None))
                          for attr in ("stderr", "output", "stdout"))
        detail += " " + _text(exc)
        if "ERROR" in detail:
            assert constraint in detail, (
                f"expected violation of {constraint}, got: {detail.strip()}")
        return
    raise AssertionError(f"statement was accepted but must be rejected "
                         f"({constraint}): {sql}")


def _accepted_in_rollback(ctx, sql):
    """Positive control: `sql` succeeds, and nothing is kept."""
    ctx.psql(f"BEGIN; {sql}; ROLLBACK;")


def _fixture(ctx):
    """Create a user, a batch and one PENDING project. Returns dict of ids."""
    email = f"schema-{uuid.uuid4()}@t.local"
    row = _rows(ctx, f"""
        WITH u AS (
            INSERT INTO users (email, display_name, password_hash)
            VALUES ({_lit(email)}, 'Test schematu', {_lit(HASH)})
            RETURNING id),
        b AS (
            INSERT INTO batches (owner_id, name, source_filename, row_count)
            SELECT id, 'Partia testowa', 'projekty.xlsx', 1 FROM u
            RETURNING id),
        p AS (
            INSERT INTO projects (batch_id, row_number, name, input)
            SELECT id, 2, 'Projekt testowy',
                   '{{"name":"Projekt testowy","organization":"Fundacja"}}'
            FROM b
            RETURNING id, batch_id)
        SELECT u.id, p.batch_id, p.id FROM u, p""")[0]
    return {"email": email, "user": row[0], "batch": row[1], "project": row[2]}


def _cleanup(ctx, fx):
    # By id, and by e-mail in any case so that a duplicate a broken schema
    # wrongly accepted does not outlive the test either.
    ctx.psql(f"DELETE FROM users WHERE id = {_lit(fx['user'])} "
             f"OR lower(email) = lower({_lit(fx['email'])})")


def _insert_section_sql(project_id, key, body="Tekst sekcji.", origin="ai",
                        provider="offline"):
    prov = "NULL" if provider is None else _lit(provider)
    return (f"INSERT INTO sections (project_id, key, body, origin, provider) "
            f"VALUES ({_lit(project_id)}, {_lit(key)}, {_lit(body)}, "
            f"{_lit(origin)}, {prov})")


# --------------------------------------------------------------------------
# structure and seed data
# --------------------------------------------------------------------------

def test_all_tables_exist(ctx):
    names = {r[0] for r in _rows(ctx, """
        SELECT table_name FROM information_schema.tables
        WHERE table_schema = 'public' AND table_type = 'BASE TABLE'""")}
    missing = EXPECTED_TABLES - names
    assert not missing, f"missing tables: {sorted(missing)}"
    applied = int(_q(ctx, "SELECT count(*) FROM schema_migrations"))
    assert applied >= 2, f"schema_migrations records {applied} migrations"


def test_section_defs_seeded_in_order(ctx):
    rows = _rows(ctx, """
        SELECT key, title, position, min_words, max_words,
               length(btrim(guidance)) > 0
        FROM section_defs ORDER BY position""")
    assert [(r[0], r[1]) for r in rows] == EXPECTED_SECTIONS, rows
    assert [int(r[2]) for r in rows] == list(range(1, 9)), rows
    for key, _title, _pos, lo, hi, has_guidance in rows:
        assert 0 < int(lo) <= int(hi), f"{key}: bad word range {lo}..{hi}"
        assert has_guidance == "t", f"{key}: empty guidance"


def test_section_def_word_range_checked(ctx):
    # max_words < min_words is impossible.
    _rejected(ctx, "UPDATE section_defs SET max_words = min_words - 1 "
                   "WHERE key = 'summary'", "section_defs_max_words_check")
    _rejected(ctx, "UPDATE section_defs SET min_words = 0 "
                   "WHERE key = 'summary'", "section_defs_min_words_check")


# --------------------------------------------------------------------------
# users
# --------------------------------------------------------------------------

def test_duplicate_email_differing_in_case_rejected(ctx):
    fx = _fixture(ctx)
    try:
        other = fx["email"].upper()
        assert other != fx["email"]
        _rejected(ctx, f"""
            INSERT INTO users (email, display_name, password_hash)
            VALUES ({_lit(other)}, 'Duplikat', {_lit(HASH)})""",
                  "users_email_lower_key")
        # Log-in lookup is by lower(email): the original is found either way.
        found = _q(ctx, f"SELECT id FROM users "
                        f"WHERE lower(email) = lower({_lit(other)})")
        assert found == fx["user"], found
    finally:
        _cleanup(ctx, fx)


def test_bad_user_values_rejected(ctx):
    good = f"schema-{uuid.uuid4()}@t.local"
    _accepted_in_rollback(ctx, f"""
        INSERT INTO users (email, display_name, password_hash)
        VALUES ({_lit(good)}, 'Ok', {_lit(HASH)})""")
    _rejected(ctx, f"""
        INSERT INTO users (email, display_name, password_hash)
        VALUES ('no-at-sign.t.local', 'X', {_lit(HASH)})""", "users_email_check")
    long_email = "a" * 250 + "@t.local"
    _rejected(ctx, f"""
        INSERT INTO users (email, display_name, password_hash)
        VALUES ({_lit(long_email)}, 'X', {_lit(HASH)})""", "users_email_check")
    _rejected(ctx, f"""
        INSERT INTO users (email, display_name, password_hash, role)
        VALUES ({_lit(good)}, 'X', {_lit(HASH)}, 'root')""", "users_role_check")
    _rejected(ctx, f"""
        INSERT INTO users (email, display_name, password_hash)
        VALUES ({_lit(good)}, 'X', 'plaintext')""", "users_password_hash_check")


# --------------------------------------------------------------------------
# batches and projects
# --------------------------------------------------------------------------

def test_bad_status_rejected(ctx):
    fx = _fixture(ctx)
    try:
        p, b = _lit(fx["project"]), _lit(fx["batch"])
        _accepted_in_rollback(
            ctx, f"UPDATE projects SET status = 'QUEUED', queued_at = now() "
                 f"WHERE id = {p}")
        _rejected(ctx, f"UPDATE projects SET status = 'DONE' WHERE id = {p}",
                  "projects_status_check")
        _rejected(ctx, f"UPDATE projects SET status = 'queued' WHERE id = {p}",
                  "projects_status_check")
        _accepted_in_rollback(
            ctx, f"UPDATE batches SET status = 'GENERATING' WHERE id = {b}")
        _rejected(ctx, f"UPDATE batches SET status = 'RUNNING' WHERE id = {b}",
                  "batches_status_check")
        assert _q(ctx, f"SELECT status FROM projects WHERE id = {p}") == "PENDING"
        assert _q(ctx, f"SELECT status FROM batches WHERE id = {b}") == "VALIDATED"
    finally:
        _cleanup(ctx, fx)


def test_progress_out_of_range_rejected(ctx):
    fx = _fixture(ctx)
    try:
        p = _lit(fx["project"])
        _accepted_in_rollback(
            ctx, f"UPDATE projects SET status = 'GENERATING', "
                 f"started_at = now(), progress = 100 WHERE id = {p}")
        _rejected(ctx, f"UPDATE projects SET progress = 150 WHERE id = {p}",
                  "projects_progress_check")
        _rejected(ctx, f"UPDATE projects SET progress = -1 WHERE id = {p}",
                  "projects_progress_check")
        _rejected(ctx, f"UPDATE projects SET quality_score = 101 WHERE id = {p}",
                  "projects_quality_score_check")
        assert _q(ctx, f"SELECT progress FROM projects WHERE id = {p}") == "0"
    finally:
        _cleanup(ctx, fx)


def test_completed_requires_quality(ctx):
    fx = _fixture(ctx)
    try:
        p = _lit(fx["project"])
        done = ("status = 'COMPLETED', progress = 100, started_at = now(), "
                "finished_at = now()")
        # Without a score: impossible.
        _rejected(ctx, f"UPDATE projects SET {done} WHERE id = {p}",
                  "projects_completed_check")
        # Score but still at 50 %: impossible.
        _rejected(ctx, f"UPDATE projects SET status = 'COMPLETED', progress = 50, "
                       f"started_at = now(), finished_at = now(), "
                       f"quality_score = 80, quality = '{{}}' WHERE id = {p}",
                  "projects_completed_check")
        # Without a finish time: impossible.
        _rejected(ctx, f"UPDATE projects SET status = 'COMPLETED', progress = 100, "
                       f"started_at = now(), quality_score = 80, "
                       f"quality = '{{}}' WHERE id = {p}",
                  "projects_completed_check")
        # Complete state: accepted.
        _accepted_in_rollback(
            ctx, f"UPDATE projects SET {done}, quality_score = 80, "
                 f"quality = '{{\"criteria\":{{}}}}' WHERE id = {p}")
    finally:
        _cleanup(ctx, fx)


def test_failed_requires_error(ctx):
    fx = _fixture(ctx)
    try:
        p = _lit(fx["project"])
        _rejected(ctx, f"UPDATE projects SET status = 'FAILED', "
                       f"finished_at = now() WHERE id = {p}",
                  "projects_failed_check")
        _accepted_in_rollback(
            ctx, f"UPDATE projects SET status = 'FAILED', finished_at = now(), "
                 f"error = 'Wszyscy dostawcy zawiedli' WHERE id = {p}")
    finally:
        _cleanup(ctx, fx)


def test_duplicate_row_number_rejected(ctx):
    fx = _fixture(ctx)
    try:
        _rejected(ctx, f"""
            INSERT INTO projects (batch_id, row_number, name, input)
            VALUES ({_lit(fx['batch'])}, 2, 'Drugi', '{{}}')""",
                  "projects_batch_row_key")
        _rejected(ctx, f"""
            INSERT INTO projects (batch_id, row_number, name, input)
            VALUES ({_lit(fx['batch'])}, 3, '   ', '{{}}')""",
                  "projects_name_check")
    finally:
        _cleanup(ctx, fx)


# --------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------

def test_duplicate_section_key_rejected(ctx):
    fx = _fixture(ctx)
    try:
        ctx.psql(_insert_section_sql(fx["project"], "summary"))
        _rejected(ctx, _insert_section_sql(fx["project"], "summary", "Drugi"),
                  "sections_pkey")
        # The worker's idempotent write path still works and keeps one row.
        ctx.psql(_insert_section_sql(fx["project"], "summary", "Nowy tekst")
                 + " ON CONFLICT (project_id, key) DO UPDATE "
                   "SET body = EXCLUDED.body, version = sections.version + 1")
        rows = _rows(ctx, f"SELECT body, version FROM sections "
                          f"WHERE project_id = {_lit(fx['project'])}")
        assert rows == [["Nowy tekst", "2"]], rows
    finally:
        _cleanup(ctx, fx)


def test_bad_section_values_rejected(ctx):
    fx = _fixture(ctx)
    try:
        p = fx["project"]
        _rejected(ctx, _insert_section_sql(p, "no_such_key"), "sections_key_fkey")
        _rejected(ctx, _insert_section_sql(p, "budget", origin="robot"),
                  "sections_origin_check")
        # AI text must name its provider (offline drafts are labelled).
        _rejected(ctx, _insert_section_sql(p, "budget", provider=None),
                  "sections_ai_provider_check")
        _rejected(ctx, _insert_section_sql(p, "budget", "x" * 20001, "human",
                                           None),
                  "sections_body_length_check")
        _rejected(ctx, f"INSERT INTO sections (project_id, key, body, origin) "
                       f"VALUES ({_lit(p)}, 'budget', E'a\\x01b', 'human')",
                  "sections_body_chars_check")
        # 20 000 characters (multi-byte), newline, tab and markup are fine.
        _accepted_in_rollback(ctx, _insert_section_sql(
            p, "budget", "ż" * 20000, "human", None))
        _accepted_in_rollback(ctx, f"""
            INSERT INTO sections (project_id, key, body, origin)
            VALUES ({_lit(p)}, 'risks', E'<script>x</script>\\n\\tok', 'human')""")
    finally:
        _cleanup(ctx, fx)


def test_section_changes_write_revisions(ctx):
    fx = _fixture(ctx)
    try:
        p = _lit(fx["project"])
        ctx.psql(_insert_section_sql(fx["project"], "risks", "Wersja AI"))
        ctx.psql(f"SELECT set_config('kartograf.revision_note', 'poprawka', true); "
                 f"UPDATE sections SET body = 'Wersja ludzka', origin = 'human', "
                 f"reviewed = true, updated_by = {_lit(fx['user'])} "
                 f"WHERE project_id = {p} AND key = 'risks'")
        # Changing only bookkeeping columns writes no revision.
        ctx.psql(f"UPDATE sections SET version = version + 1 "
                 f"WHERE project_id = {p} AND key = 'risks'")
        rows = _rows(ctx, f"""
            SELECT coalesce(old_body, '<null>'), new_body, origin, reviewed,
                   coalesce(user_id::text, '<null>'), coalesce(note, '<null>')
            FROM section_revisions WHERE project_id = {p} AND key = 'risks'
            ORDER BY id""")
        assert rows == [
            ["<null>", "Wersja AI", "ai", "f", "<null>", "<null>"],
            ["Wersja AI", "Wersja ludzka", "human", "t", fx["user"], "poprawka"],
        ], rows
    finally:
        _cleanup(ctx, fx)


def test_multi_row_section_writes_log_each_changed_row(ctx):
    """The log runs once per statement (008): an ON CONFLICT upsert of
    several sections - the worker's completion - logs every inserted and
    every changed row with its own old body, and skips an unchanged one; a
    statement that would move a section to another key is refused whole."""
    fx = _fixture(ctx)
    try:
        p = _lit(fx["project"])
        ctx.psql(_insert_section_sql(fx["project"], "risks", "Stare ryzyka"))
        ctx.psql(_insert_section_sql(fx["project"], "budget", "Ten sam budżet"))
        ctx.psql(f"""
            INSERT INTO sections (project_id, key, body, origin, provider)
            SELECT {p}, k, b, 'ai', 'offline' FROM (VALUES
                ('risks', 'Nowe ryzyka'), ('budget', 'Ten sam budżet'),
                ('summary', 'Streszczenie')) AS v(k, b)
            ON CONFLICT (project_id, key) DO UPDATE SET body = EXCLUDED.body,
                version = sections.version + 1""")
        rows = _rows(ctx, f"""
            SELECT key, coalesce(old_body, '<null>'), new_body
            FROM section_revisions WHERE project_id = {p} ORDER BY key, id""")
        assert rows == [
            ["budget", "<null>", "Ten sam budżet"],
            ["risks", "<null>", "Stare ryzyka"],
            ["risks", "Stare ryzyka", "Nowe ryzyka"],
            ["summary", "<null>", "Streszczenie"],
        ], rows
        _rejected(ctx, f"UPDATE sections SET key = 'schedule', body = 'x' "
                       f"WHERE project_id = {p} AND key = 'risks'",
                  "section_revisions_section_fkey")
        assert _rows(ctx, f"SELECT body FROM sections WHERE project_id = {p} "
                          f"AND key = 'risks'") == [["Nowe ryzyka"]]
        assert _rows(ctx, f"SELECT count(*) FROM section_revisions "
                          f"WHERE project_id = {p}") == [["4"]]
    finally:
        _cleanup(ctx, fx)


# --------------------------------------------------------------------------
# ai_calls, export_history, event seq
# --------------------------------------------------------------------------

def test_ai_call_and_export_constraints(ctx):
    fx = _fixture(ctx)
    try:
        p, b, u = _lit(fx["project"]), _lit(fx["batch"]), _lit(fx["user"])
        call = ("INSERT INTO ai_calls (batch_id, project_id, provider, model, "
                "stage, outcome, error) VALUES ({b}, {p}, 'offline', 'offline', "
                "{stage}, {outcome}, {error})")
        _accepted_in_rollback(ctx, call.format(
            b=b, p=p, stage="'plan'", outcome="'ok'", error="NULL"))
        _rejected(ctx, call.format(b=b, p=p, stage="'review'", outcome="'ok'",
                                   error="NULL"), "ai_calls_stage_check")
        _rejected(ctx, call.format(b=b, p=p, stage="'plan'", outcome="'timeout'",
                                   error="NULL"), "ai_calls_error_check")
        # The project must belong to the named batch.
        _rejected(ctx, call.format(b="gen_random_uuid()", p=p, stage="'plan'",
                                   outcome="'ok'", error="NULL"),
                  "ai_calls_project_fkey")

        sha = "ab" * 32
        exp = ("INSERT INTO export_history (user_id, project_id, batch_id, format,"
               " project_version, size_bytes, sha256, storage_backend, storage_key)"
               " VALUES ({u}, {p}, {b}, {fmt}, {ver}, 10, {sha}, 'local', {key})")
        _accepted_in_rollback(ctx, exp.format(
            u=u, p=p, b="NULL", fmt="'docx'", ver="1", sha=_lit(sha),
            key="'u/p.docx'"))
        _accepted_in_rollback(ctx, exp.format(
            u=u, p="NULL", b=b, fmt="'zip'", ver="NULL", sha=_lit(sha),
            key="'u/b.zip'"))
        _rejected(ctx, exp.format(u=u, p=p, b=b, fmt="'docx'", ver="1",
                                  sha=_lit(sha), key="'x'"),
                  "export_history_target_check")
        _rejected(ctx, exp.format(u=u, p="NULL", b="NULL", fmt="'zip'",
                                  ver="NULL", sha=_lit(sha), key="'x'"),
                  "export_history_target_check")
        _rejected(ctx, exp.format(u=u, p=p, b="NULL", fmt="'docx'", ver="1",
                                  sha=_lit("Z" * 64), key="'x'"),
                  "export_history_sha256_check")
        _rejected(ctx, exp.format(u=u, p=p, b="NULL", fmt="'docx'", ver="1",
                                  sha=_lit(sha), key="'../../etc/passwd'"),
                  "export_history_storage_key_check")
    finally:
        _cleanup(ctx, fx)


def test_event_seq_allocation(ctx):
    fx = _fixture(ctx)
    try:
        b = _lit(fx["batch"])
        before = _q(ctx, f"SELECT updated_at FROM batches WHERE id = {b}")
        seqs = [_q(ctx, f"WITH s AS (UPDATE batches SET event_seq = event_seq + 1 "
                        f"WHERE id = {b} RETURNING event_seq) SELECT event_seq FROM s")
                for _ in range(3)]
        assert seqs == ["1", "2", "3"], seqs
        # Allocating a seq does not make the batch look modified.
        after = _q(ctx, f"SELECT updated_at FROM batches WHERE id = {b}")
        assert before == after, (before, after)
    finally:
        _cleanup(ctx, fx)


def test_updated_at_only_on_real_changes(ctx):
    """kg_touch_updated_at() (009: rows compared as rows, not as jsonb):
    a real change sets updated_at to the transaction's now(); an UPDATE that
    changes nothing, or only updated_at, or only batches.event_seq, leaves
    it as it was - on every table with the trigger."""
    fx = _fixture(ctx)
    try:
        ctx.psql(_insert_section_sql(fx["project"], "summary"))
        old = "'2001-02-03 04:05:06+00'"
        rows = {"users": fx["user"], "batches": fx["batch"],
                "projects": fx["project"]}
        where = {t: f"id = {_lit(i)}" for t, i in rows.items()}
        where["sections"] = (f"project_id = {_lit(fx['project'])} "
                             f"AND key = 'summary'")
        real = {"users": "display_name = 'Inna nazwa'",
                "batches": "name = 'Inna partia', event_seq = event_seq + 1",
                "projects": "progress = 40",
                "sections": "body = 'Nowy tekst.'"}
        same = {"users": "display_name = display_name",
                "batches": "event_seq = event_seq + 1",
                "projects": "progress = progress, input = input",
                "sections": "body = body, reviewed = reviewed"}
        for table, w in where.items():
            # A past updated_at to compare with (the trigger keeps a change
            # of updated_at alone out, so set it with the trigger off).
            ctx.psql(f"BEGIN; ALTER TABLE {table} DISABLE TRIGGER "
                     f"{table}_touch; UPDATE {table} SET updated_at = {old} "
                     f"WHERE {w}; ALTER TABLE {table} ENABLE TRIGGER "
                     f"{table}_touch; COMMIT")
            ctx.psql(f"UPDATE {table} SET {same[table]} WHERE {w}")
            ctx.psql(f"UPDATE {table} SET updated_at = now() WHERE {w}")
            got = _q(ctx, f"SELECT updated_at = {old} FROM {table} WHERE {w}")
            assert got == "t", f"{table}: no real change moved updated_at"
            got = _q(ctx, f"WITH u AS (UPDATE {table} SET {real[table]} "
                          f"WHERE {w} RETURNING updated_at = now() AS t) "
                          f"SELECT t FROM u")
            assert got == "t", f"{table}: {real[table]} did not set updated_at"
    finally:
        _cleanup(ctx, fx)


# --------------------------------------------------------------------------
# indexes of the generation's hot path (009_generation_write_cost.sql)
# --------------------------------------------------------------------------

def _lost_sql(ctx):
    """The reconciler's query for generation, as worker/wk_gen.c has it."""
    src = open(os.path.join(ctx.root, "worker", "wk_gen.c"),
               encoding="utf-8").read()
    block = src.split(".lost_sql =", 1)[1].split(".lost_noun", 1)[0]
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', block))


def test_progress_steps_can_be_hot_updates(ctx):
    # A generation's progress steps change progress (and so updated_at):
    # no index of projects may hold either, or every step writes an entry
    # into every index instead of a HOT update.
    defs = _q(ctx, "SELECT string_agg(pg_get_indexdef(indexrelid), E'\\n') "
                   "FROM pg_index WHERE indrelid = 'projects'::regclass")
    for column in ("updated_at", "progress"):
        assert column not in defs, f"an index of projects holds {column}:\n{defs}"


def test_reconciler_and_batch_checks_use_inflight_index(ctx):
    # What is in flight is found on projects_inflight_idx, not by reading
    # every project (the history) or every project of the batch. Seq scans
    # off: the test database is small enough for one to be cheaper.
    sql = _lost_sql(ctx)
    assert "status IN ('QUEUED', 'GENERATING')" in sql, sql
    plan = _q(ctx, f"SET enable_seqscan = off; PREPARE q(int) AS {sql}; "
                   f"EXPLAIN EXECUTE q(10)")
    assert "projects_inflight_idx" in plan, plan
    fx = _fixture(ctx)
    try:
        b = _lit(fx["batch"])
        plan = _q(ctx, "SET enable_seqscan = off; EXPLAIN SELECT EXISTS ("
                       "SELECT FROM projects p WHERE p.batch_id = "
                       f"{b} AND p.status IN ('QUEUED', 'GENERATING'))")
        assert "projects_inflight_idx" in plan, plan
        assert "Index Cond: (batch_id = " in plan, plan
    finally:
        _cleanup(ctx, fx)


# --------------------------------------------------------------------------
# deletion
# --------------------------------------------------------------------------

def test_delete_batch_cascades(ctx):
    fx = _fixture(ctx)
    try:
        p, b, u = _lit(fx["project"]), _lit(fx["batch"]), _lit(fx["user"])
        for key, _title in EXPECTED_SECTIONS:
            ctx.psql(_insert_section_sql(fx["project"], key, f"Treść {key}."))
        ctx.psql(f"INSERT INTO ai_calls (batch_id, project_id, provider, model, "
                 f"stage, outcome) VALUES ({b}, {p}, 'offline', 'offline', "
                 f"'draft', 'ok')")
        ctx.psql(f"INSERT INTO export_history (user_id, batch_id, format, "
                 f"size_bytes, sha256, storage_backend, storage_key) VALUES "
                 f"({u}, {b}, 'zip', 1, {_lit('0' * 64)}, 'local', 'x/y.zip')")
        counts = f"""
            SELECT (SELECT count(*) FROM projects WHERE batch_id = {b}),
                   (SELECT count(*) FROM sections WHERE project_id = {p}),
                   (SELECT count(*) FROM section_revisions WHERE project_id = {p}),
                   (SELECT count(*) FROM ai_calls WHERE batch_id = {b}),
                   (SELECT count(*) FROM export_history WHERE batch_id = {b})"""
        assert _q(ctx, counts) == "1|8|8|1|1", _q(ctx, counts)
        ctx.psql(f"DELETE FROM batches WHERE id = {b}")
        assert _q(ctx, counts) == "0|0|0|0|0", _q(ctx, counts)
        # The owner is untouched.
        assert _q(ctx, f"SELECT count(*) FROM users WHERE id = {u}") == "1"
    finally:
        _cleanup(ctx, fx)


def test_delete_user_cascades(ctx):
    fx = _fixture(ctx)
    ctx.psql(_insert_section_sql(fx["project"], "summary"))
    _cleanup(ctx, fx)
    left = _q(ctx, f"""
        SELECT (SELECT count(*) FROM batches WHERE id = {_lit(fx['batch'])}),
               (SELECT count(*) FROM projects WHERE id = {_lit(fx['project'])}),
               (SELECT count(*) FROM sections
                 WHERE project_id = {_lit(fx['project'])})""")
    assert left == "0|0|0", left
