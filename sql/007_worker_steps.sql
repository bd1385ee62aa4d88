-- 007_worker_steps.sql — each step of a generation job in one round trip
-- (issue 18 item 4).
--
-- The worker's loop waited on PostgreSQL for ~27 round trips per project
-- (the claim's transaction of 6 statements; per stage the call's log row,
-- BEGIN, the event seq, the fenced progress update, COMMIT, the "still
-- ours?" check and the cost-cap check; the completion's transaction of 7).
-- At concurrency 50 that blocked the loop for ~75% of the batch's time.
-- These functions run the same statements in the same order with the same
-- locks (batch row first, then the owner's users row, then the project) —
-- PL/pgSQL takes a new snapshot for every statement under READ COMMITTED,
-- exactly as separate statements of one transaction did — in one call.

-- (PL/pgSQL throughout: it keeps its statements' plans for the session,
-- where an SQL-language function called like these is planned anew on
-- every call.)

-- The cost cap of a batch: NULL while calls may be made, else why not.
-- The one definition (kg_ai_cost_cap_reached() and the steps below).
CREATE FUNCTION kg_ai_cap(p_batch uuid) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT format('cost cap reached: the batch has spent %s of its '
                          'cap of %s; no further AI calls are made',
                          s.spent, b.cost_cap)
        FROM batches b, LATERAL (SELECT coalesce(sum(c.cost), 0) AS spent
                                 FROM ai_calls c WHERE c.batch_id = b.id) s
        WHERE b.id = p_batch AND b.cost_cap IS NOT NULL
        AND s.spent >= b.cost_cap);
END
$$;

-- One ai_calls row (p_call: provider, model, stage, attempt, tokens_in,
-- tokens_out, cost, latency_ms, outcome, error, fallback).  A call whose
-- card was deleted while it ran is recorded unlinked (batch and project
-- NULL, 005_batch_lifecycle.sql): the money was spent.
CREATE FUNCTION kg_ai_log(p_batch uuid, p_project uuid, p_call jsonb)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ai_calls (batch_id, project_id, provider, model, stage,
        attempt, tokens_in, tokens_out, cost, latency_ms, outcome, error,
        fallback)
    SELECT p.batch_id, p.id, c.provider, c.model, c.stage, c.attempt,
        c.tokens_in, c.tokens_out, c.cost, c.latency_ms, c.outcome, c.error,
        c.fallback
    FROM jsonb_to_record(p_call) AS c(provider text, model text, stage text,
        attempt smallint, tokens_in integer, tokens_out integer,
        cost numeric, latency_ms integer, outcome text, error text,
        fallback boolean)
    LEFT JOIN projects p ON p.id = p_project AND p.batch_id = p_batch;
END
$$;

-- The claim of a project for a generation job (worker/wk_claim.c):
-- o_outcome 'claimed' (o_attempts is the fencing token, o_seq the seq of
-- its status event, o_cap the cost cap's verdict for the first call),
-- 'deferred' (the batch's or the owner's slots are full) or 'skipped'
-- (the batch or the project is gone, or the project is no longer to do).
CREATE FUNCTION kg_gen_claim(p_project uuid, p_batch uuid, p_limit integer,
    p_user_limit integer, p_progress smallint,
    OUT o_outcome text, OUT o_attempts integer, OUT o_input text,
    OUT o_seq bigint, OUT o_cap text)
LANGUAGE plpgsql AS $$
DECLARE
    v_owner uuid;
    v_busy bigint;
BEGIN
    -- Serialises the claims of one batch.
    SELECT b.owner_id INTO v_owner FROM batches b WHERE b.id = p_batch
        FOR UPDATE;
    IF NOT FOUND THEN
        o_outcome := 'skipped';
        RETURN;
    END IF;
    SELECT count(*) INTO v_busy FROM projects p WHERE p.batch_id = p_batch
        AND p.status = 'GENERATING' AND p.id <> p_project;
    IF v_busy >= p_limit THEN
        o_outcome := 'deferred';
        RETURN;
    END IF;
    IF p_user_limit > 0 THEN
        PERFORM 1 FROM users u WHERE u.id = v_owner FOR NO KEY UPDATE;
        SELECT count(*) INTO v_busy FROM projects p
            JOIN batches b ON b.id = p.batch_id
            WHERE b.owner_id = v_owner AND p.status = 'GENERATING'
            AND p.id <> p_project;
        IF v_busy >= p_user_limit THEN
            o_outcome := 'deferred';
            RETURN;
        END IF;
    END IF;
    UPDATE projects p SET status = 'GENERATING', started_at = now(),
        attempts = p.attempts + 1, progress = p_progress, finished_at = NULL
        WHERE p.id = p_project AND p.batch_id = p_batch
        AND p.status IN ('QUEUED', 'GENERATING')
        RETURNING p.attempts, p.input::text INTO o_attempts, o_input;
    IF NOT FOUND THEN
        o_outcome := 'skipped';
        RETURN;
    END IF;
    UPDATE batches b SET event_seq = b.event_seq + 1 WHERE b.id = p_batch
        RETURNING b.event_seq INTO o_seq;
    o_cap := kg_ai_cap(p_batch);
    o_outcome := 'claimed';
END
$$;

-- One fenced state change of a generation job (worker/wk_gen.c), with the
-- ai_calls row of the call that led to it (p_call, may be NULL; written
-- even when the project is no longer ours: the call's cost is real):
--   GENERATING  progress (p_quiet: no event, so no seq and no batch lock)
--   COMPLETED   p_quality, p_score, p_provider; the sections (p_keys and
--               p_bodies, two JSON arrays of strings)
--   FAILED      p_error
--   QUEUED      handed back on shutdown
-- o_lost: the fence did not match (another worker owns the project now,
-- or it was stopped); nothing else was written.  o_seq: the event's seq.
-- After COMPLETED or FAILED the batch ends with its last project
-- (o_batch_status, o_batch_seq).  p_cap: o_cap answers the cost cap for
-- the next call.
CREATE FUNCTION kg_gen_step(p_project uuid, p_batch uuid, p_attempts integer,
    p_status text, p_progress smallint, p_quiet boolean, p_error text,
    p_quality jsonb, p_score smallint, p_provider text, p_keys jsonb,
    p_bodies jsonb, p_call jsonb, p_cap boolean,
    OUT o_lost boolean, OUT o_seq bigint, OUT o_batch_status text,
    OUT o_batch_seq bigint, OUT o_cap text)
LANGUAGE plpgsql AS $$
DECLARE
    v_inflight bigint;
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
            WHERE p.id = p_project AND p.status = 'GENERATING'
            AND p.attempts = p_attempts;
    ELSIF p_status = 'COMPLETED' THEN
        UPDATE projects p SET status = 'COMPLETED', progress = 100,
            finished_at = now(), error = NULL, quality = p_quality,
            quality_score = p_score, provider = p_provider,
            version = p.version + 1
            WHERE p.id = p_project AND p.status = 'GENERATING'
            AND p.attempts = p_attempts;
    ELSIF p_status = 'FAILED' THEN
        UPDATE projects p SET status = 'FAILED', finished_at = now(),
            error = p_error
            WHERE p.id = p_project AND p.status = 'GENERATING'
            AND p.attempts = p_attempts;
    ELSE
        UPDATE projects p SET status = 'QUEUED', progress = 0,
            queued_at = now()
            WHERE p.id = p_project AND p.status = 'GENERATING'
            AND p.attempts = p_attempts;
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
    SELECT count(*) FILTER (WHERE p.status IN ('QUEUED', 'GENERATING')),
        bool_and(p.status = 'COMPLETED')
        INTO v_inflight, v_all_done
        FROM projects p WHERE p.batch_id = p_batch;
    IF v_inflight > 0 THEN
        RETURN;
    END IF;
    UPDATE batches b SET status = CASE WHEN v_all_done THEN 'COMPLETED'
                                       ELSE 'PARTIAL' END,
        completed_at = now(), event_seq = b.event_seq + 1
        WHERE b.id = p_batch AND b.status = 'GENERATING'
        RETURNING b.status, b.event_seq INTO o_batch_status, o_batch_seq;
END
$$;
