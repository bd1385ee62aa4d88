#!/usr/bin/python3
"""tests/bench/pg_replay.py - PostgreSQL's own cost of generating a batch,
without the worker, Redis or the provider: the statements the worker sends
for N projects at concurrency C (kg_gen_claim, two progress steps with
their ai_calls rows, the completion with 8 sections, quality and the batch's
end), each its own transaction, in the order a worker at concurrency C sends
them (a wave of C claims, their plan steps, their draft steps, their
completions, then the next wave), replayed by one psql session as prepared
statements, as the worker's libpq sends them.

Prints the replaying backend's CPU time per project (/proc/PID/schedstat,
ns), the whole server's (postmaster and every child: autovacuum, WAL writer
... , /proc ticks), the wall time and the HOT share of the UPDATEs of
projects, per run. Against a running scratch stack (its batches stay),
e.g. `kgstack start STATE pg migrate`:

  tests/bench/pg_replay.py --port PORT [--projects 100] [--concurrency 50]
      [--runs 3] [--history 0] [--analyze]

--history H first adds H completed batches of 100 projects with their
sections (a database with a past; --analyze then ANALYZEs as autovacuum
would have). Section bodies, quality and inputs are shaped like the offline
provider's (tests/bench/bench_worker.sh).
"""

import argparse
import glob
import json
import os
import random
import subprocess
import sys
import time

KEYS = ["summary", "objectives", "target_group", "activities", "schedule",
        "budget", "outcomes", "risks"]
WORDS = ("projekt realizacja uczestnicy działania gminy mieszkańców warsztaty "
         "fundacja rezultaty budżet harmonogram ryzyka odbiorcy wsparcie "
         "współpraca partnerzy lokalnej społeczności zajęcia spotkania "
         "koordynator dokumentacja ocena efekty trwałość rekrutacja").split()
INPUT = {"name": "Projekt", "budget": 50000, "end_date": "2025-06-30",
         "start_date": "2025-01-01", "description": "Warsztaty dla mieszkańców",
         "organization": "Fundacja Testowa", "target_group": "mieszkańcy gminy"}
QUALITY = {"score": 90, "criteria": {
    k: {"max": 20, "score": 20, "detail": "sekcje w limicie słów: 8 z 8"}
    for k in ("length", "review", "coverage", "language", "consistency",
              "completeness")},
    "sections": {k: [] for k in KEYS}, "missing_facts": []}
CALL = {"provider": "offline", "model": "offline", "attempt": 1,
        "tokens_in": 900, "tokens_out": 700, "cost": 0, "latency_ms": 200,
        "outcome": "ok", "error": None, "fallback": False}

PREPARE = """
PREPARE claim(uuid, uuid, int, int, smallint) AS
  SELECT o_outcome, o_attempts, o_input, o_seq, o_cap
  FROM kg_gen_claim($1, $2, $3, $4, $5);
PREPARE step(uuid, uuid, int, text, smallint, boolean, text, jsonb, smallint,
             text, jsonb, jsonb, jsonb, boolean) AS
  SELECT o_lost, o_seq, o_batch_status, o_batch_seq, o_cap
  FROM kg_gen_step($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14);
"""


def lit(s):
    return "NULL" if s is None else "'" + s.replace("'", "''") + "'"


class Psql:
    """One psql session fed on stdin; sync() waits until it has run all."""

    def __init__(self, port, user="kartograf"):
        env = dict(os.environ, PGAPPNAME="pg_replay")
        self.p = subprocess.Popen(
            ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user,
             "-d", "kartograf", "-AtqX", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.n = 0

    def send(self, sql):
        self.p.stdin.write(sql + "\n")

    def query(self, sql):
        """Run sql, return its output lines (after everything sent)."""
        self.n += 1
        mark = f"--sync {self.n}--"
        self.p.stdin.write(f"{sql};\n\\o\nSELECT '{mark}';\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line == mark:
                return out
            out.append(line)
        raise SystemExit("psql ended: " + "\n".join(out))

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def body(rng):
    n = rng.randint(70, 110)
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def tree_ticks(root):
    total = 0
    for f in glob.glob("/proc/[0-9]*/stat"):
        try:
            pid = f.split("/")[2]
            rest = open(f).read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if pid == root or rest[1] == root:
            total += sum(int(x) for x in rest[11:15])
    return total


def setup_history(db, h):
    if h <= 0:
        return
    db.query(f"""
    INSERT INTO batches (owner_id, name, row_count, status, completed_at)
      SELECT (SELECT id FROM users WHERE email = 'replay@bench.local'),
             'history ' || g, 100, 'COMPLETED', now()
      FROM generate_series(1, {h}) g;
    INSERT INTO projects (batch_id, row_number, name, input, status, progress,
        quality_score, quality, attempts, queued_at, started_at, finished_at,
        provider, version)
      SELECT b.id, g, 'P' || g, {lit(json.dumps(INPUT))}::jsonb, 'COMPLETED',
        100, 90, {lit(json.dumps(QUALITY))}::jsonb, 1, now(), now(), now(),
        'offline', 2
      FROM batches b, generate_series(1, 100) g WHERE b.name LIKE 'history %';
    INSERT INTO sections (project_id, key, body, origin, provider)
      SELECT p.id, k, repeat('Tekst sekcji historycznej. ', 22), 'ai',
        'offline'
      FROM projects p JOIN batches b ON b.id = p.batch_id,
        unnest(ARRAY{KEYS!r}) k WHERE b.name LIKE 'history %';
    INSERT INTO ai_calls (batch_id, project_id, provider, model, stage,
        outcome, latency_ms)
      SELECT p.batch_id, p.id, 'offline', 'offline', s, 'ok', 200
      FROM projects p JOIN batches b ON b.id = p.batch_id,
        unnest(ARRAY['plan', 'draft', 'polish']) s
      WHERE b.name LIKE 'history %'""")


def run(args, db, pg_root, rng):
    n, c = args.projects, args.concurrency
    batch = db.query(f"""
      INSERT INTO batches (owner_id, name, row_count)
        SELECT id, 'replay', {n} FROM users WHERE email = 'replay@bench.local'
        RETURNING id""")[0]
    db.query(f"""
      INSERT INTO projects (batch_id, row_number, name, input)
        SELECT {lit(batch)}, g, 'P' || g,
          {lit(json.dumps(INPUT))}::jsonb || jsonb_build_object('name',
            'Projekt ' || g)
        FROM generate_series(1, {n}) g""")
    if args.analyze:
        db.query("SET client_min_messages = error; ANALYZE; RESET client_min_messages")
    # What POST /api/batches/{id}/generate does (lib/kg_batch_gen.c).
    db.query(f"""
      UPDATE projects SET status = 'QUEUED', queued_at = now(),
        finished_at = NULL, progress = 0
        WHERE batch_id = {lit(batch)} AND status IN ('PENDING', 'FAILED');
      UPDATE batches SET status = 'GENERATING', completed_at = NULL,
        event_seq = event_seq + {n} WHERE id = {lit(batch)}""")
    ids = db.query(f"SELECT id FROM projects WHERE batch_id = {lit(batch)} "
                   f"ORDER BY row_number")
    pid = db.query("SELECT pg_backend_pid()")[0]
    sql = []
    b = lit(batch)
    for w in range(0, n, c):
        wave = ids[w:w + c]
        for p in wave:
            sql.append(f"EXECUTE claim({lit(p)}, {b}, {c}, 0, 5);")
        for stage, prog in (("plan", 33), ("draft", 66)):
            call = lit(json.dumps(dict(CALL, stage=stage)))
            for p in wave:
                sql.append(f"EXECUTE step({lit(p)}, {b}, 1, 'GENERATING', "
                           f"{prog}, false, NULL, NULL, NULL, NULL, NULL, "
                           f"NULL, {call}, true);")
        call = lit(json.dumps(dict(CALL, stage="polish")))
        q = lit(json.dumps(QUALITY))
        for p in wave:
            keys = lit(json.dumps(KEYS))
            bodies = lit(json.dumps([body(rng) for _ in KEYS],
                                    ensure_ascii=False))
            sql.append(f"EXECUTE step({lit(p)}, {b}, 1, 'COMPLETED', 100, "
                       f"false, NULL, {q}, 90, 'offline', {keys}, {bodies}, "
                       f"{call}, false);")
    upd = ("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
           "WHERE relname = 'projects'")
    db.query("SELECT pg_stat_force_next_flush()")
    upd0 = [int(x) for x in db.query(upd)[0].split("|")]
    sched0 = int(open(f"/proc/{pid}/schedstat").read().split()[0])
    tree0, t0 = tree_ticks(pg_root), time.monotonic()
    db.query("\\o /dev/null\n" + "\n".join(sql))
    t1 = time.monotonic()
    sched1 = int(open(f"/proc/{pid}/schedstat").read().split()[0])
    time.sleep(args.settle)
    tree1 = tree_ticks(pg_root)
    db.query("SELECT pg_stat_force_next_flush()")
    upd1 = [int(x) for x in db.query(upd)[0].split("|")]
    done = db.query(f"SELECT count(*) FILTER (WHERE status = 'COMPLETED') "
                    f"|| ' ' || (SELECT status FROM batches WHERE id = {b}) "
                    f"FROM projects WHERE batch_id = {b}")[0]
    if done != f"{n} COMPLETED":
        raise SystemExit(f"replay did not complete the batch: {done}")
    hz = os.sysconf("SC_CLK_TCK")
    return ((sched1 - sched0) / 1e6 / n, (tree1 - tree0) * 1000 / hz / n,
            (t1 - t0) * 1000 / n, upd1[0] - upd0[0], upd1[1] - upd0[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--projects", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--history", type=int, default=0)
    ap.add_argument("--analyze", action="store_true")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="s to wait before reading the server's ticks")
    args = ap.parse_args()
    rng = random.Random(7)
    db = Psql(args.port)
    db.query("""INSERT INTO users (email, display_name, password_hash)
      VALUES ('replay@bench.local', 'Replay',
              '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA')
      ON CONFLICT DO NOTHING""")
    setup_history(db, args.history)
    db.query(PREPARE)
    # the postmaster: our backend's parent
    pg_root = open(f"/proc/{db.query('SELECT pg_backend_pid()')[0]}/stat"
                   ).read().rsplit(")", 1)[1].split()[1]
    print(f"{args.projects} projects, concurrency {args.concurrency}, "
          f"history {args.history} batches{', ANALYZE' if args.analyze else ''}")
    print(f"{'run':<4} {'backend CPU ms/project':>24} {'server CPU ms/project':>22}"
          f" {'wall ms/project':>16} {'projects: updates (HOT)':>24}")
    for r in range(args.runs):
        be, tree, wall, upd, hot = run(args, db, pg_root, rng)
        print(f"{r + 1:<4} {be:>24.3f} {tree:>22.2f} {wall:>16.3f}"
              f" {upd:>16} ({hot})")
        sys.stdout.flush()
    db.close()


if __name__ == "__main__":
    main()
