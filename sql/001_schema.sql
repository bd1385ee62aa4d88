-- 001_schema.sql — the whole Kartograf data model (PostgreSQL 15).
--
-- Applied by the migration runner inside ONE transaction and recorded in
-- schema_migrations (the runner owns that table; it is not created here).
-- No extensions: gen_random_uuid() is built in since PostgreSQL 13.
--
-- Conventions
--   * UUID primary keys (gen_random_uuid()) for everything a URL can name;
--     bigint identity for append-only logs (section_revisions, ai_calls) where
--     the id is never exposed as a resource id and ordering by id is useful.
--   * Enumerations are text + CHECK, not CREATE TYPE ... AS ENUM: adding a value
--     later is a plain constraint swap inside a transaction, and libpq returns
--     the values as ordinary text.
--   * Every table with updated_at has it maintained by kg_touch_updated_at();
--     the C code never has to set it.
--   * Constraint names are explicit so the C code (and the tests) can map a
--     violation (SQLSTATE 23514 check_violation / 23505 unique_violation /
--     23503 foreign_key_violation, PQresultErrorField(PG_DIAG_CONSTRAINT_NAME))
--     to an API error.

-- Text must be valid UTF-8 end to end (Polish text, libpq client_encoding UTF8);
-- refuse to build the schema in a SQL_ASCII/LATIN2 database instead of silently
-- storing mojibake.
DO $$
BEGIN
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'Kartograf needs a UTF8 database, this one is %',
            current_setting('server_encoding');
    END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- updated_at maintenance
-- ---------------------------------------------------------------------------
-- Sets updated_at = now() whenever a row really changes. Changes that touch only
-- bookkeeping columns (updated_at itself, batches.event_seq) do not count: the
-- worker bumps event_seq for every published event and that must not make the
-- batch look "modified" to the API (ETags / If-Modified-Since stay stable).
CREATE FUNCTION kg_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - 'updated_at' - 'event_seq')
       IS DISTINCT FROM (to_jsonb(OLD) - 'updated_at' - 'event_seq') THEN
        NEW.updated_at := now();
    ELSE
        NEW.updated_at := OLD.updated_at;
    END IF;
    RETURN NEW;
END
$$;

-- ---------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------
-- Deletion policy: HARD delete. `kartograf-admin deluser` runs
-- DELETE FROM users WHERE id = $1, which cascades to the user's batches (and so
-- their projects, sections, revisions, ai_calls) and export_history rows.
-- Reasons: "tokens of a deleted user stop working" falls out for free (the auth
-- step looks the user up by the JWT's sub and finds nothing → 401); no query
-- anywhere needs a "AND deleted_at IS NULL" that someone will forget; and the
-- e-mail address becomes reusable. Where a user is only *referenced* (edits on
-- another user's project by an admin: sections.updated_by,
-- section_revisions.user_id) the reference is SET NULL so history survives.
-- Stored export files are NOT removed by the database: deluser should delete
-- the objects named by export_history.storage_key before deleting the user.
CREATE TABLE users (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email          text        NOT NULL,
    display_name   text        NOT NULL,
    role           text        NOT NULL DEFAULT 'user',
    -- Argon2 encoded string ("$argon2id$v=19$m=…,t=…,p=…$salt$hash"): it carries
    -- its own parameters so old hashes can be recognised and upgraded on login.
    -- The prefix check stops a plaintext or empty password ever being stored.
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT users_role_check CHECK (role IN ('user', 'admin')),
    -- 254 = the longest address SMTP can carry (RFC 5321 path limit minus <>).
    -- One '@' with something on both sides, no whitespace; full RFC 5322
    -- validation is not the database's job, the API normalises (trim) first.
    CONSTRAINT users_email_check CHECK (
        char_length(email) <= 254
        AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT users_display_name_check CHECK (
        btrim(display_name) <> '' AND char_length(display_name) <= 200),
    CONSTRAINT users_password_hash_check CHECK (
        password_hash ~ '^\$argon2(id|i|d)\$')
);
-- Case-insensitive uniqueness without the citext extension. Log-in must look
-- the user up with "WHERE lower(email) = lower($1)" so this index is used.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION kg_touch_updated_at();

-- ---------------------------------------------------------------------------
-- batches: one uploaded spreadsheet
-- ---------------------------------------------------------------------------
CREATE TABLE batches (
    id               uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id         uuid          NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             text          NOT NULL,
    -- NULL when the xlsx came as a raw request body (no multipart filename).
    source_filename  text,
    status           text          NOT NULL DEFAULT 'VALIDATED',
    -- Number of data rows = number of projects created with the batch, in the
    -- same transaction. A spreadsheet without rows fails validation, so 0 is
    -- not a valid batch.
    row_count        integer       NOT NULL,
    -- Optional spending limit for LLM calls of this batch (same unit as
    -- ai_calls.cost). NULL = no cap. When sum(ai_calls.cost) reaches it the
    -- worker makes no further calls and fails the remaining projects with a
    -- clear error.
    cost_cap         numeric(12,6),
    -- Event sequence counter for the live stream (DESIGN.md: every event has a
    -- monotonically increasing seq, SSE "id:"). Allocated per batch with
    --   UPDATE batches SET event_seq = event_seq + 1 WHERE id = $1
    --   RETURNING event_seq;
    -- in the SAME transaction that writes the state change the event describes,
    -- then PUBLISH after COMMIT. The row lock serialises allocators of one batch
    -- across all workers/hosts, so seq order equals commit order for a batch and
    -- the relay can trust "Last-Event-ID < event_seq" to mean "you missed
    -- something, here is a snapshot". No separate sequence object per batch;
    -- a global SEQUENCE would also be monotonic but not gap-free per batch.
    event_seq        bigint        NOT NULL DEFAULT 0,
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    completed_at     timestamptz,

    CONSTRAINT batches_status_check CHECK (
        status IN ('VALIDATED', 'GENERATING', 'COMPLETED', 'PARTIAL')),
    CONSTRAINT batches_name_check CHECK (
        btrim(name) <> '' AND char_length(name) <= 300),
    CONSTRAINT batches_source_filename_check CHECK (
        source_filename IS NULL
        OR (source_filename <> '' AND char_length(source_filename) <= 255)),
    CONSTRAINT batches_row_count_check CHECK (row_count >= 1),
    CONSTRAINT batches_cost_cap_check CHECK (cost_cap IS NULL OR cost_cap > 0),
    CONSTRAINT batches_event_seq_check CHECK (event_seq >= 0),
    -- completed_at is set exactly when the batch is in a final state. Retrying
    -- failed projects of a PARTIAL batch moves it back to GENERATING and must
    -- clear completed_at in the same UPDATE.
    CONSTRAINT batches_completed_at_check CHECK (
        (status IN ('COMPLETED', 'PARTIAL')) = (completed_at IS NOT NULL))
);
-- GET /api/batches: a user's batches, newest first.
CREATE INDEX batches_owner_created_idx ON batches (owner_id, created_at DESC);

CREATE TRIGGER batches_touch BEFORE UPDATE ON batches
    FOR EACH ROW EXECUTE FUNCTION kg_touch_updated_at();

-- ---------------------------------------------------------------------------
-- projects: one spreadsheet row → one card
-- ---------------------------------------------------------------------------
CREATE TABLE projects (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    batch_id       uuid        NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    -- 1-based row number as the user sees it in the spreadsheet (with one
    -- header row the first project is row 2), so errors and UI can point at it.
    row_number     integer     NOT NULL,
    name           text        NOT NULL,
    -- The normalised row: canonical English keys (name, description,
    -- organization, goal, target_group, budget, start_date, end_date, location,
    -- keywords, notes), budget as a number, dates as ISO 'YYYY-MM-DD'.
    input          jsonb       NOT NULL,
    status         text        NOT NULL DEFAULT 'PENDING',
    progress       smallint    NOT NULL DEFAULT 0,
    quality_score  smallint,
    -- Quality breakdown and per-section flags as returned by the API, e.g.
    -- {"criteria":{"completeness":{"score":25,"max":25},…},
    --  "sections":{"budget":["unsupported_number"],…}}
    quality        jsonb,
    -- Optimistic concurrency for PATCH /api/projects/{id}:
    --   UPDATE projects SET …, version = version + 1
    --   WHERE id = $1 AND version = $2 RETURNING version;
    -- zero rows → 409. The worker bumps it too whenever it rewrites sections,
    -- so an editor holding an old version cannot overwrite regenerated text.
    version        integer     NOT NULL DEFAULT 1,
    -- Provider that produced the current AI text ('offline', 'bedrock',
    -- 'azure', 'openai'); the UI labels offline drafts as such.
    provider       text,
    -- Last failure reason (human readable). Kept while a FAILED project is
    -- re-queued so the UI can still say why the previous run failed.
    error          text,
    -- Generation attempts started for this project (all runs, incremented
    -- when the worker moves it to GENERATING).
    attempts       integer     NOT NULL DEFAULT 0,
    -- When the project was last put on the queue. The reconciler leaves
    -- recently queued projects alone (the Redis LPUSH happens after COMMIT).
    queued_at      timestamptz,
    started_at     timestamptz,
    finished_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT projects_batch_row_key UNIQUE (batch_id, row_number),
    -- Target for composite foreign keys (ai_calls) that must name a project
    -- AND the batch it really belongs to.
    CONSTRAINT projects_batch_id_id_key UNIQUE (batch_id, id),
    CONSTRAINT projects_row_number_check CHECK (row_number >= 1),
    CONSTRAINT projects_name_check CHECK (
        btrim(name) <> '' AND char_length(name) <= 500),
    CONSTRAINT projects_input_check CHECK (jsonb_typeof(input) = 'object'),
    CONSTRAINT projects_status_check CHECK (
        status IN ('PENDING', 'QUEUED', 'GENERATING', 'COMPLETED', 'FAILED')),
    CONSTRAINT projects_progress_check CHECK (progress BETWEEN 0 AND 100),
    CONSTRAINT projects_quality_score_check CHECK (
        quality_score IS NULL OR quality_score BETWEEN 0 AND 100),
    CONSTRAINT projects_quality_check CHECK (
        quality IS NULL OR jsonb_typeof(quality) = 'object'),
    CONSTRAINT projects_version_check CHECK (version >= 1),
    CONSTRAINT projects_attempts_check CHECK (attempts >= 0),
    CONSTRAINT projects_provider_check CHECK (provider IS NULL OR provider <> ''),
    -- A finished card always has its score (the editor and the export show it)
    -- and a finish time, is 100 % done, and carries no error.
    CONSTRAINT projects_completed_check CHECK (
        status <> 'COMPLETED'
        OR (quality_score IS NOT NULL AND quality IS NOT NULL
            AND finished_at IS NOT NULL AND progress = 100 AND error IS NULL)),
    -- A failure must say why ("the error recorded", DESIGN.md) and when.
    CONSTRAINT projects_failed_check CHECK (
        status <> 'FAILED'
        OR (error IS NOT NULL AND btrim(error) <> '' AND finished_at IS NOT NULL)),
    -- A project being generated has a start time; one that is not finished
    -- has no finish time (re-queueing must clear finished_at).
    CONSTRAINT projects_generating_check CHECK (
        status <> 'GENERATING' OR started_at IS NOT NULL),
    CONSTRAINT projects_finished_at_check CHECK (
        (status IN ('COMPLETED', 'FAILED')) = (finished_at IS NOT NULL)),
    CONSTRAINT projects_times_order_check CHECK (
        finished_at IS NULL OR started_at IS NULL OR finished_at >= started_at)
);
-- Batch page: a batch's projects in row order, status counts.
CREATE INDEX projects_batch_status_idx ON projects (batch_id, status);
-- The worker's reconciler scans projects that should be on the queue or in a
-- worker (QUEUED/GENERATING) across all batches; a partial index keeps that
-- scan proportional to the work in flight, not to the history.
CREATE INDEX projects_inflight_idx ON projects (status, updated_at)
    WHERE status IN ('QUEUED', 'GENERATING');

CREATE TRIGGER projects_touch BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION kg_touch_updated_at();

-- ---------------------------------------------------------------------------
-- section_defs: the 8 card sections, as data (seeded by 002)
-- ---------------------------------------------------------------------------
CREATE TABLE section_defs (
    key        text     PRIMARY KEY,
    -- Card order (1..8). Unique so the order is total.
    position   smallint NOT NULL,
    title      text     NOT NULL,
    -- Instruction for the LLM prompt and the offline drafter (Polish).
    guidance   text     NOT NULL,
    min_words  integer  NOT NULL,
    max_words  integer  NOT NULL,

    CONSTRAINT section_defs_position_key UNIQUE (position),
    -- Keys appear in JSON from the LLM, URLs and file names: keep them tame.
    CONSTRAINT section_defs_key_check CHECK (key ~ '^[a-z][a-z_]{0,39}$'),
    CONSTRAINT section_defs_position_check CHECK (position >= 1),
    CONSTRAINT section_defs_title_check CHECK (btrim(title) <> ''),
    CONSTRAINT section_defs_guidance_check CHECK (btrim(guidance) <> ''),
    CONSTRAINT section_defs_min_words_check CHECK (min_words > 0),
    CONSTRAINT section_defs_max_words_check CHECK (max_words >= min_words)
);

-- ---------------------------------------------------------------------------
-- sections: the current text of each section of a card
-- ---------------------------------------------------------------------------
CREATE TABLE sections (
    project_id  uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- RESTRICT: a section definition still in use cannot be dropped.
    key         text        NOT NULL REFERENCES section_defs (key)
                                ON UPDATE CASCADE ON DELETE RESTRICT,
    -- Plain text, never HTML. May be empty (a user can clear a section; the
    -- completeness criterion scores that), never NULL.
    body        text        NOT NULL,
    origin      text        NOT NULL,
    reviewed    boolean     NOT NULL DEFAULT false,
    -- Provider of the AI text ('offline', 'bedrock', …); NULL for human text.
    provider    text,
    version     integer     NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- Who last changed it; NULL when the worker did.
    updated_by  uuid        REFERENCES users (id) ON DELETE SET NULL,

    -- One section per key per project: the worker's idempotent write is
    -- INSERT … ON CONFLICT (project_id, key) DO UPDATE, so a project processed
    -- twice still has exactly one set of sections.
    PRIMARY KEY (project_id, key),
    -- Issue 8 limit: 20 000 characters (characters, not bytes).
    CONSTRAINT sections_body_length_check CHECK (char_length(body) <= 20000),
    -- The API strips control characters except newline and tab; the database
    -- makes sure nothing else (worker, admin SQL) slips one in either — they
    -- are invalid in the .docx XML. (NUL cannot be stored in text at all.)
    CONSTRAINT sections_body_chars_check CHECK (
        body !~ '[\x01-\x08\x0b-\x1f\x7f]'),
    CONSTRAINT sections_origin_check CHECK (origin IN ('ai', 'human')),
    -- AI text must say which provider wrote it, so offline drafts are never
    -- mistaken for LLM output.
    CONSTRAINT sections_ai_provider_check CHECK (
        origin <> 'ai' OR (provider IS NOT NULL AND provider <> '')),
    CONSTRAINT sections_version_check CHECK (version >= 1)
);

CREATE TRIGGER sections_touch BEFORE UPDATE ON sections
    FOR EACH ROW EXECUTE FUNCTION kg_touch_updated_at();

-- ---------------------------------------------------------------------------
-- section_revisions: history of every change to a section
-- ---------------------------------------------------------------------------
-- Rows are written BY TRIGGER (sections_revision_log below), not by the C code:
-- every INSERT into sections and every UPDATE that changes body, origin or
-- reviewed records one revision, so no code path can change text without
-- history. user_id is taken from sections.updated_by (set it in the same
-- statement; leave it NULL for worker writes). An optional note (regeneration
-- instruction, "revert to #123") is read from the transaction-local setting
-- kartograf.revision_note:
--   SELECT set_config('kartograf.revision_note', $1, true);
-- Do NOT insert into section_revisions by hand.
CREATE TABLE section_revisions (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  uuid        NOT NULL,
    key         text        NOT NULL,
    -- NULL for the revision that created the section.
    old_body    text,
    new_body    text        NOT NULL,
    origin      text        NOT NULL,
    reviewed    boolean     NOT NULL,
    provider    text,
    -- NULL for AI/worker changes (and after the editing user is deleted).
    user_id     uuid        REFERENCES users (id) ON DELETE SET NULL,
    note        text,
    created_at  timestamptz NOT NULL DEFAULT now(),

    -- History lives and dies with the section (and so with the project).
    CONSTRAINT section_revisions_section_fkey FOREIGN KEY (project_id, key)
        REFERENCES sections (project_id, key) ON DELETE CASCADE,
    CONSTRAINT section_revisions_origin_check CHECK (origin IN ('ai', 'human')),
    CONSTRAINT section_revisions_note_check CHECK (
        note IS NULL OR char_length(note) <= 2000)
);
-- GET …/sections/{key}/revisions: newest first.
CREATE INDEX section_revisions_section_idx
    ON section_revisions (project_id, key, id DESC);
CREATE INDEX section_revisions_user_idx ON section_revisions (user_id)
    WHERE user_id IS NOT NULL;   -- for ON DELETE SET NULL on users

CREATE FUNCTION kg_log_section_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO section_revisions
        (project_id, key, old_body, new_body, origin, reviewed, provider,
         user_id, note)
    VALUES
        (NEW.project_id, NEW.key,
         CASE WHEN TG_OP = 'UPDATE' THEN OLD.body END,
         NEW.body, NEW.origin, NEW.reviewed, NEW.provider, NEW.updated_by,
         NULLIF(current_setting('kartograf.revision_note', true), ''));
    RETURN NULL;
END
$$;

CREATE TRIGGER sections_revision_log_insert AFTER INSERT ON sections
    FOR EACH ROW EXECUTE FUNCTION kg_log_section_revision();
CREATE TRIGGER sections_revision_log_update AFTER UPDATE ON sections
    FOR EACH ROW
    WHEN (OLD.body IS DISTINCT FROM NEW.body
          OR OLD.origin IS DISTINCT FROM NEW.origin
          OR OLD.reviewed IS DISTINCT FROM NEW.reviewed)
    EXECUTE FUNCTION kg_log_section_revision();

-- ---------------------------------------------------------------------------
-- ai_calls: one row per provider call (cost log)
-- ---------------------------------------------------------------------------
CREATE TABLE ai_calls (
    id          bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id    uuid          NOT NULL,
    project_id  uuid          NOT NULL,
    provider    text          NOT NULL,
    model       text          NOT NULL,
    stage       text          NOT NULL,
    -- 1-based attempt number within this provider for this stage.
    attempt     smallint      NOT NULL DEFAULT 1,
    tokens_in   integer       NOT NULL DEFAULT 0,
    tokens_out  integer       NOT NULL DEFAULT 0,
    -- Cost from the configured price table (config currency, e.g. USD).
    cost        numeric(12,6) NOT NULL DEFAULT 0,
    latency_ms  integer       NOT NULL DEFAULT 0,
    outcome     text          NOT NULL,
    -- True when this call went to a provider other than the first configured
    -- one (breaker open / primary exhausted).
    fallback    boolean       NOT NULL DEFAULT false,
    error       text,
    created_at  timestamptz   NOT NULL DEFAULT now(),

    -- Composite FK: the (batch, project) pair must be real, so per-batch cost
    -- totals can be summed by batch_id alone without a join and still be right.
    CONSTRAINT ai_calls_project_fkey FOREIGN KEY (batch_id, project_id)
        REFERENCES projects (batch_id, id) ON DELETE CASCADE,
    CONSTRAINT ai_calls_provider_check CHECK (provider <> ''),
    CONSTRAINT ai_calls_model_check CHECK (model <> ''),
    CONSTRAINT ai_calls_stage_check CHECK (
        stage IN ('plan', 'draft', 'polish', 'regenerate')),
    CONSTRAINT ai_calls_attempt_check CHECK (attempt >= 1),
    CONSTRAINT ai_calls_tokens_check CHECK (tokens_in >= 0 AND tokens_out >= 0),
    CONSTRAINT ai_calls_cost_check CHECK (cost >= 0),
    CONSTRAINT ai_calls_latency_check CHECK (latency_ms >= 0),
    CONSTRAINT ai_calls_outcome_check CHECK (
        outcome IN ('ok', 'error', 'timeout', 'rate_limited', 'invalid_output')),
    -- Every unsuccessful call says what went wrong.
    CONSTRAINT ai_calls_error_check CHECK (
        outcome = 'ok' OR (error IS NOT NULL AND error <> ''))
);
-- Batch cost totals (GET /api/batches/{id}, cost cap check).
CREATE INDEX ai_calls_batch_idx ON ai_calls (batch_id);
CREATE INDEX ai_calls_project_idx ON ai_calls (project_id, created_at);

-- ---------------------------------------------------------------------------
-- export_history: every produced .docx / .zip
-- ---------------------------------------------------------------------------
-- A row is inserted only AFTER the file is stored (storage unreachable → no row).
CREATE TABLE export_history (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id       uuid        REFERENCES projects (id) ON DELETE CASCADE,
    batch_id         uuid        REFERENCES batches (id) ON DELETE CASCADE,
    format           text        NOT NULL,
    -- projects.version the .docx was built from: a re-export of an unchanged
    -- project may reuse the stored file when this still equals the project's
    -- version. NULL for batch zips.
    project_version  integer,
    size_bytes       bigint      NOT NULL,
    sha256           char(64)    NOT NULL,
    storage_backend  text        NOT NULL,
    storage_key      text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT export_history_format_check CHECK (format IN ('docx', 'zip')),
    -- A .docx is one project's card, a .zip is one batch: exactly one target,
    -- and the right one for the format.
    CONSTRAINT export_history_target_check CHECK (
        (format = 'docx' AND project_id IS NOT NULL AND batch_id IS NULL)
        OR (format = 'zip' AND batch_id IS NOT NULL AND project_id IS NULL)),
    CONSTRAINT export_history_project_version_check CHECK (
        (format = 'docx') = (project_version IS NOT NULL)
        AND (project_version IS NULL OR project_version >= 1)),
    CONSTRAINT export_history_size_check CHECK (size_bytes >= 0),
    -- Lower-case hex, as printed by sha256sum / OpenSSL hex encoding.
    CONSTRAINT export_history_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT export_history_backend_check CHECK (
        storage_backend IN ('local', 's3')),
    -- Storage keys are relative and never climb out of the storage root /
    -- bucket prefix (defence in depth; the key is built from ids, not names).
    CONSTRAINT export_history_storage_key_check CHECK (
        storage_key <> '' AND char_length(storage_key) <= 1024
        AND storage_key !~ '(^/|\\|(^|/)\.\.(/|$)|[\x01-\x1f\x7f])')
);
CREATE INDEX export_history_project_idx ON export_history (project_id, created_at DESC)
    WHERE project_id IS NOT NULL;
CREATE INDEX export_history_batch_idx ON export_history (batch_id, created_at DESC)
    WHERE batch_id IS NOT NULL;
CREATE INDEX export_history_user_idx ON export_history (user_id, created_at DESC);

-- Indexes supporting ON DELETE on referencing columns not covered above.
CREATE INDEX sections_updated_by_idx ON sections (updated_by)
    WHERE updated_by IS NOT NULL;
