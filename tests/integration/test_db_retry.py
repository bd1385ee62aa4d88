"""kg_db_tx and kg_db_call retry serialization failures (SQLSTATE 40001)
and deadlocks (40P01) - met for real, on the stack's PostgreSQL - and
nothing else, and give up after three attempts.

Each case is one run of tests/integration/db_retry.c (built with the
programs, under ASan in make test): kg_db in the stack's configuration
plus a second session (as the postgres superuser, so that it can make
sure kg_db's session is a deadlock's victim) that conflicts with it, in
a scratch schema this file makes and drops.  The two sessions are put in
order by locks, not by sleeps (see db_retry.c), so every case ends the
same way every time; the two deadlocks cost a deadlock_timeout (1 s)
each, everything else is immediate.

kg_db_tx's BEGIN takes the server's default isolation, READ COMMITTED,
where PostgreSQL does not raise 40001: the serialization cases use
REPEATABLE READ, chosen by the callback (kg_db_tx) or the session's
default (kg_db_call).
"""

import os

# t: two rows the sessions fight over.  attempts counts kg_db_call's
# attempts (a sequence: nextval survives a rollback).  bump() and
# both_rows() are kg_db_call's statements; spoil() is the other
# session's part of a serialization failure; wait_blocked() is how the
# other session waits for kg_db's session to wait for it.
SETUP = """
CREATE SCHEMA {s};
SET search_path = {s};
CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL CHECK (n >= 0));
INSERT INTO t VALUES (1, 0), (2, 0);
CREATE SEQUENCE attempts;
CREATE FUNCTION wait_blocked(kg int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    give_up timestamptz := clock_timestamp() + interval '10 s';
BEGIN
    WHILE NOT pg_backend_pid() = ANY (pg_blocking_pids(kg)) LOOP
        IF clock_timestamp() > give_up THEN
            RAISE EXCEPTION 'session % never waited for this one', kg;
        END IF;
        PERFORM pg_sleep(0.001);
    END LOOP;
END $$;
CREATE FUNCTION bump() RETURNS bigint LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    attempt bigint := nextval('attempts');
BEGIN
    PERFORM pg_advisory_xact_lock(pg_backend_pid(), attempt::int);
    UPDATE t SET n = n + 1 WHERE id = 1;
    RETURN attempt;
END $$;
CREATE FUNCTION both_rows() RETURNS bigint LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    attempt bigint := nextval('attempts');
BEGIN
    IF attempt > 1 THEN  -- after the other session's COMMIT (db_retry.c)
        PERFORM pg_advisory_xact_lock(pg_backend_pid(), 0);
    END IF;
    UPDATE t SET n = n + 1 WHERE id = 1;
    UPDATE t SET n = n + 1 WHERE id = 2;
    RETURN attempt;
END $$;
CREATE PROCEDURE spoil(kg int, times int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..times LOOP
        PERFORM wait_blocked(kg);
        UPDATE t SET n = n + 100 WHERE id = 1;
        COMMIT;
        PERFORM pg_advisory_unlock(kg, i);
    END LOOP;
END $$;
"""

_runs = [0]


def _run(ctx, case):
    """Run one case; (facts, [n of row 1, n of row 2], kg_db_call's
    attempts, the program's stderr)."""
    _runs[0] += 1
    schema = f"kg_dbretry_{os.getpid()}_{_runs[0]}"
    ctx.psql(SETUP.format(s=schema))
    dropped = False
    try:
        other = (f"host=127.0.0.1 port={ctx.env['PG_PORT']} dbname=kartograf"
                 " user=postgres application_name=db_retry")
        rc, out, err = ctx.run_program("tests/integration/db_retry", [case, schema, other],
                                       timeout=60)
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            assert bad not in err, f"{case}: sanitizer report: {err[-3000:]}"
        assert rc == 0 and out.strip(), f"{case}: db_retry exit {rc}: {out} {err[-2000:]}"
        facts = dict(kv.split("=", 1) for kv in out.split())
        assert facts["other"] == "ok", \
            f"{case}: the other session failed ({facts}): {err[-2000:]}"
        data = ctx.psql(f"SELECT (SELECT string_agg(n::text, ' ' ORDER BY id) FROM {schema}.t),"
                        " (SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                        f" FROM {schema}.attempts); DROP SCHEMA {schema} CASCADE")
        dropped = True
        rows, attempts = data.splitlines()[0].split("|")
        return facts, [int(v) for v in rows.split()], int(attempts), err
    finally:
        if not dropped:
            ctx.psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _retries(log, what, state):
    return log.count(f"{what} retry after SQLSTATE {state}")


def _retried_once(ctx, case, state, want_rows):
    """The case meets one failure with SQLSTATE state and gets through
    on attempt 2: the callback (kg_db_tx) or the function (kg_db_call,
    whose result is its attempt number) ran twice, one retry logged."""
    facts, rows, attempts, log = _run(ctx, case)
    assert facts["rc"] == "0" and facts["status"] == "0", f"{case}: failed: {facts}"
    if case.startswith("tx-"):
        what = "transaction"
        assert facts["calls"] == "2", f"{case}: callback ran {facts['calls']} times, not 2: {facts}"
    else:
        what = "statement"
        assert facts["result"] == "2" and attempts == 2, f"{case}: attempts {attempts}: {facts}"
    assert rows == want_rows, f"{case}: rows {rows}, not {want_rows}"
    assert _retries(log, what, state) == 1, f"{case}: retry not logged once: {log[-2000:]}"


def _gave_up(ctx, case):
    """Every attempt meets a serialization failure: three attempts (the
    callback's calls for kg_db_tx, the function's for kg_db_call), then
    503 'database busy', only the other session's updates committed."""
    facts, rows, attempts, log = _run(ctx, case)
    want = {"rc": "-1", "status": "503", "code": "unavailable", "sqlstate": "40001"}
    got = {k: facts[k] for k in want}
    what = "transaction" if case.startswith("tx-") else "statement"
    made = int(facts["calls"]) if what == "transaction" else attempts
    assert got == want and made == 3, f"{case}: {got}, attempts {made}: not {want}, 3"
    assert rows == [300, 0], f"{case}: rows {rows}, not [300, 0]: only the other session's updates"
    assert _retries(log, what, "40001") == 2, f"{case}: not 2 retries logged: {log[-2000:]}"
    assert f"{what} gave up after 3 attempts (SQLSTATE 40001)" in log, \
        f"{case}: giving up not logged: {log[-2000:]}"


def test_tx_retries_a_serialization_failure(ctx):
    """Attempt 1 reads row 1, the other session updates and commits it,
    attempt 1's update fails; attempt 2 commits (+100 and +1)."""
    _retried_once(ctx, "tx-serialization", "40001", [101, 0])


def test_tx_retries_a_deadlock(ctx):
    """Attempt 1 holds row 1 and waits for row 2, the other session holds
    row 2 and waits for row 1; attempt 2 commits after the other session."""
    _retried_once(ctx, "tx-deadlock", "40P01", [11, 11])


def test_tx_does_not_retry_other_errors(ctx):
    """A duplicate key, a check violation, the callback's own error: one
    attempt, its error, its update of row 1 rolled back."""
    for case, status, code, state in (("tx-unique", "409", "conflict", "23505"),
                                      ("tx-check", "500", "db_error", "23514"),
                                      ("tx-refused", "422", "refused", "-")):
        facts, rows, _, log = _run(ctx, case)
        want = {"calls": "1", "rc": "-1", "status": status, "code": code, "sqlstate": state}
        got = {k: facts[k] for k in want}
        assert got == want, f"{case}: {got}, not {want}"
        assert rows == [0, 0], f"{case}: rows {rows}: something was committed"
        assert " retry after " not in log, f"{case}: a retry was logged: {log[-2000:]}"


def test_tx_gives_up_after_three_attempts(ctx):
    """Every attempt meets a serialization failure (a fourth would get
    through): three attempts, then the last one's error."""
    _gave_up(ctx, "tx-limit")


def test_call_retries_a_serialization_failure(ctx):
    """kg_db_call's one statement, REPEATABLE READ: the other session
    commits an update of row 1 between the statement's snapshot and its
    own update of row 1; attempt 2 goes through."""
    _retried_once(ctx, "call-serialization", "40001", [101, 0])


def test_call_retries_a_deadlock(ctx):
    """A function that updates row 1 then row 2, the other session row 2
    then row 1."""
    _retried_once(ctx, "call-deadlock", "40P01", [11, 11])


def test_call_gives_up_after_three_attempts(ctx):
    _gave_up(ctx, "call-limit")


def test_call_does_not_retry_a_duplicate_key(ctx):
    facts, rows, attempts, log = _run(ctx, "call-unique")
    want = {"rc": "-1", "status": "409", "code": "conflict", "sqlstate": "23505"}
    got = {k: facts[k] for k in want}
    assert got == want and attempts == 1, f"{got}, attempts {attempts}: not {want}, 1"
    assert rows == [0, 0], f"rows {rows}"
    assert " retry after " not in log, f"a retry was logged: {log[-2000:]}"
