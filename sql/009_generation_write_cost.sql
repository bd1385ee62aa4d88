-- 009_generation_write_cost.sql — less PostgreSQL work per generated
-- project: progress steps become HOT updates, one index fewer on projects,
-- a cheaper updated_at trigger, the batch's end found without reading the
-- whole batch (issue 18 item 4, the PostgreSQL part).
--
-- Where the time went (tests/bench/pgstat_worker.sh: one bench_worker
-- batch, 100 projects at concurrency 50, pg_stat_statements with track =
-- all, auto_explain of every nested statement, pg_stat_user_tables): per
-- project the worker's 1 claim and 3 steps are 4 UPDATEs of its projects
-- row (claim, the plan and draft progress, COMPLETED), and none of the 400
-- was HOT: projects_inflight_idx indexed updated_at, which
-- kg_touch_updated_at() sets on every real change, so each UPDATE wrote a
-- new entry into all 5 indexes of projects (24 index entries per project
-- with the generate request's UPDATE).  kg_touch_updated_at() itself
-- turned both rows into jsonb (to_jsonb(NEW), to_jsonb(OLD)) on every
-- UPDATE of projects, batches, users and sections: 6 calls, ~0.2 ms per
-- project.  And every completion counted the statuses of the whole batch
-- to see whether it was the last one.
--
-- What changes (same rows, same answers, same locks):
--
-- * projects_inflight_idx is (batch_id, id) WHERE status IN ('QUEUED',
--   'GENERATING'), and projects_batch_status_idx (batch_id, status) goes.
--   Nothing indexes updated_at or progress any more, so an UPDATE that
--   changes neither status nor an indexed column - the progress steps, 2
--   per project - is a HOT update: no index entry at all.  Who read the
--   two indexes and what serves them now (EXPLAIN of each, on a database
--   with 10,000 completed projects and one batch in flight):
--     - the reconciler (worker/wk_gen.c lost_sql: status IN (QUEUED,
--       GENERATING), queued_at, ORDER BY queued_at): the whole in-flight
--       index, then a sort of what is in flight - as before, when it read
--       (status, updated_at) and sorted too; nobody ever asked for
--       updated_at in it;
--     - the claim's "GENERATING in this batch" count, the batch end
--       check, stopping a batch (lib/kg_batch_life.c), "is the batch
--       busy": the in-flight index by batch_id - only the batch's
--       in-flight rows, where (batch_id, status) read the same;
--     - the fenced UPDATEs of kg_gen_step() (id, now also batch_id, and
--       status = 'GENERATING', attempts): one entry of the in-flight
--       index or of projects_batch_id_id_key;
--     - the count of GENERATING projects of a user (the claim with
--       user_concurrency) and of all (lib/kg_sched.c): the in-flight index
--       (what is in flight, not the history);
--     - a batch's projects (the batch page and counts, the relay's
--       snapshot, the export, generate's PENDING/FAILED rows): a bitmap
--       scan of projects_batch_id_id_key (batch_id, id), the batch's rows
--       only, as the one of (batch_id, status) was.
-- * kg_gen_step()'s fenced UPDATEs name the project's batch too
--   (p.batch_id = p_batch: a project never changes batch, and the claim
--   fenced on it already), so an exact two-column lookup is the plan with
--   or without statistics (a fresh database's first batch planned the
--   progress UPDATE as a scan of every GENERATING project); the batch's
--   end is looked for as "anything of this batch still in flight?" on
--   the in-flight index, and only when nothing is, whether all completed:
--   the same two facts as the count over the whole batch, under the same
--   batch row lock, read in two statements instead of one.
-- * kg_touch_updated_at() compares the rows as rows (NEW IS DISTINCT FROM
--   OLD, each column with its type's equality - what the jsonb comparison
--   of 001 amounted to) with updated_at set aside, and batches get their
--   own kg_touch_batch_updated_at(), which also sets event_seq aside: the
--   rule of 001 stands (a change of updated_at or of batches.event_seq
--   alone does not count).
--
-- Measured (README.md, "One task core", "PostgreSQL per project"; main
-- 1fae601 against this, alternating, quiet machine): the backend's CPU
-- for a batch's claims and steps (tests/bench/pg_replay.py, median of 8)
-- 3.03 -> 2.57 ms per project on a fresh database, 3.31 -> 2.67 with
-- 10,000 finished projects, 3.31 -> 2.34 for one batch of 1,000; HOT
-- updates of projects 0 -> 191-200 of 400 per 100 projects (28-73 where
-- the pages were full: a HOT update needs room on the row's page); index
-- entries of projects read in a bench_worker batch ~124,000 -> ~17,000;
-- PostgreSQL's CPU in bench_worker (300 projects, c=50) 2.6-3.1 -> 2.4-2.5
-- ms.
-- Tried and left out: fillfactor 80 on projects (more HOT updates, no CPU
-- difference measured); dropping indexes of ai_calls (no difference).

-- ---------------------------------------------------------------------------
-- projects: the in-flight index
-- ---------------------------------------------------------------------------
DROP INDEX projects_inflight_idx;
DROP INDEX projects_batch_status_idx;
-- What is queued or being generated, by batch: the reconciler's scan, the
-- claim's slot count, the batch's end, stop and busy checks. No column a
-- progress step changes is in it (nor in any other index of projects), so
-- those steps are HOT updates.
CREATE INDEX projects_inflight_idx ON projects (batch_id, id)
    WHERE status IN ('QUEUED', 'GENERATING');

-- ---------------------------------------------------------------------------
-- updated_at maintenance (the rule of 001, cheaper)
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION kg_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := OLD.updated_at;
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

-- batches: event_seq is bookkeeping too (001, "updated_at maintenance").
CREATE FUNCTION kg_touch_batch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint := NEW.event_seq;
BEGIN
    NEW.updated_at := OLD.updated_at;
    NEW.event_seq := OLD.event_seq;
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    NEW.event_seq := v_seq;
    RETURN NEW;
END
$$;

DROP TRIGGER batches_touch ON batches;
CREATE TRIGGER batches_touch BEFORE UPDATE ON batches
    FOR EACH ROW EXECUTE FUNCTION kg_touch_batch_updated_at();

-- ---------------------------------------------------------------------------
-- kg_gen_step(): 007's function; the fences name the batch, the end of the
-- batch is looked for on the in-flight index
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION kg_gen_step(p_project uuid, p_batch uuid,
    p_attempts integer, p_status text, p_progress smallint, p_quiet boolean,
    p_error text, p_quality jsonb, p_score smallint, p_provider text,
    p_keys jsonb, p_bodies jsonb, p_call jsonb, p_cap boolean,
    OUT o_lost boolean, OUT o_seq bigint, OUT o_batch_status text,
    OUT o_batch_seq bigint, OUT o_cap text)
LANGUAGE plpgsql AS $$
DECLARE
    v_all_done boolean;
BEGIN
    IF p_call IS NOT NULL THEN
        PERFORM kg_ai_log(p_batch, p_project, p_call);
    END IF;
    -- The batch row first, the lock order of every writer (batch, then
    -- project).  A quiet progress write locks the project row only, so it
    -- cannot close a lock cycle with a batch-first writer.
    IF NOT p_quiet THEN
        PERFORM 1 FROM batches b WHERE b.id = p_batch FOR NO KEY UPDATE;
    END IF;
    IF p_status = 'GENERATING' THEN
        UPDATE projects p SET progress = p_progress
            WHERE p.id = p_project AND p.batch_id = p_batch
            AND p.status = 'GENERATING' AND p.attempts = p_attempts;
    ELSIF p_status = 'COMPLETED' THEN
        UPDATE projects p SET status = 'COMPLETED', progress = 100,
            finished_at = now(), error = NULL, quality = p_quality,
            quality_score = p_score, provider = p_provider,
            version = p.version + 1
            WHERE p.id = p_project AND p.batch_id = p_batch
            AND p.status = 'GENERATING' AND p.attempts = p_attempts;
    ELSIF p_status = 'FAILED' THEN
        UPDATE projects p SET status = 'FAILED', finished_at = now(),
            error = p_error
            WHERE p.id = p_project AND p.batch_id = p_batch
            AND p.status = 'GENERATING' AND p.attempts = p_attempts;
    ELSE
        UPDATE projects p SET status = 'QUEUED', progress = 0,
            queued_at = now()
            WHERE p.id = p_project AND p.batch_id = p_batch
            AND p.status = 'GENERATING' AND p.attempts = p_attempts;
    END IF;
    o_lost := NOT FOUND;
    IF o_lost THEN
        RETURN;
    END IF;
    IF p_cap THEN
        o_cap := kg_ai_cap(p_batch);
    END IF;
    IF p_quiet THEN
        RETURN;
    END IF;
    UPDATE batches b SET event_seq = b.event_seq + 1 WHERE b.id = p_batch
        RETURNING b.event_seq INTO o_seq;
    IF p_status = 'COMPLETED' THEN
        -- Idempotent: one row per (project, key) whatever runs twice.
        INSERT INTO sections (project_id, key, body, origin, reviewed,
            provider, updated_by)
        SELECT p_project, k, b, 'ai', false, p_provider, NULL
        FROM jsonb_array_elements_text(p_keys) WITH ORDINALITY AS x(k, i)
        JOIN jsonb_array_elements_text(p_bodies) WITH ORDINALITY AS y(b, i)
            USING (i)
        ON CONFLICT (project_id, key) DO UPDATE SET body = EXCLUDED.body,
            origin = 'ai', reviewed = false, provider = EXCLUDED.provider,
            version = sections.version + 1, updated_by = NULL;
    END IF;
    IF p_status NOT IN ('COMPLETED', 'FAILED') THEN
        RETURN;
    END IF;
    -- The batch ends with its last project: nothing of it queued or being
    -- generated (the in-flight index, this batch's entries only), then
    -- COMPLETED if every project completed, else PARTIAL.
    IF EXISTS (SELECT FROM projects p WHERE p.batch_id = p_batch
               AND p.status IN ('QUEUED', 'GENERATING')) THEN
        RETURN;
    END IF;
    SELECT bool_and(p.status = 'COMPLETED') INTO v_all_done
        FROM projects p WHERE p.batch_id = p_batch;
    UPDATE batches b SET status = CASE WHEN v_all_done THEN 'COMPLETED'
                                       ELSE 'PARTIAL' END,
        completed_at = now(), event_seq = b.event_seq + 1
        WHERE b.id = p_batch AND b.status = 'GENERATING'
        RETURNING b.status, b.event_seq INTO o_batch_status, o_batch_seq;
END
$$;
