-- 008_revision_log_per_statement.sql — one revision-log insert per
-- statement, not one PL/pgSQL call and one insert per section
-- (issue 18 item 4).
--
-- A generation's completion writes its 8 sections in one statement
-- (kg_gen_step()); the row-level triggers of 001 then ran 8 PL/pgSQL calls,
-- each inserting one section_revisions row.  Measured with
-- pg_stat_statements during bench_worker (100 projects, concurrency 50):
-- that INSERT into sections took 1.26 ms of the completion's ~1.9 ms, 0.6 ms
-- of it in the trigger.  The statement-level triggers below write the same
-- rows (same columns, same values, same conditions) with one INSERT ...
-- SELECT over the statement's transition tables.  The rule of 001 stands:
-- every INSERT into sections and every UPDATE that changes body, origin or
-- reviewed records one revision, by trigger, whatever code path wrote it.
--
-- An UPDATE's old and new rows are paired by the primary key (project_id,
-- key), which cannot change: every section has a revision from its insert,
-- and section_revisions_section_fkey refuses to leave it behind.

DROP TRIGGER sections_revision_log_insert ON sections;
DROP TRIGGER sections_revision_log_update ON sections;
DROP FUNCTION kg_log_section_revision();

CREATE FUNCTION kg_log_section_inserts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO section_revisions
        (project_id, key, old_body, new_body, origin, reviewed, provider,
         user_id, note)
    SELECT n.project_id, n.key, NULL, n.body, n.origin, n.reviewed,
        n.provider, n.updated_by,
        NULLIF(current_setting('kartograf.revision_note', true), '')
    FROM kg_new_sections n;
    RETURN NULL;
END
$$;

CREATE FUNCTION kg_log_section_updates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- An INSERT ... ON CONFLICT DO UPDATE fires this trigger too, with
    -- empty tables when every row was new.
    IF NOT EXISTS (SELECT FROM kg_new_sections) THEN
        RETURN NULL;
    END IF;
    INSERT INTO section_revisions
        (project_id, key, old_body, new_body, origin, reviewed, provider,
         user_id, note)
    SELECT n.project_id, n.key, o.body, n.body, n.origin, n.reviewed,
        n.provider, n.updated_by,
        NULLIF(current_setting('kartograf.revision_note', true), '')
    FROM kg_new_sections n JOIN kg_old_sections o USING (project_id, key)
    WHERE o.body IS DISTINCT FROM n.body
       OR o.origin IS DISTINCT FROM n.origin
       OR o.reviewed IS DISTINCT FROM n.reviewed;
    RETURN NULL;
END
$$;

CREATE TRIGGER sections_revision_log_insert AFTER INSERT ON sections
    REFERENCING NEW TABLE AS kg_new_sections
    FOR EACH STATEMENT EXECUTE FUNCTION kg_log_section_inserts();
CREATE TRIGGER sections_revision_log_update AFTER UPDATE ON sections
    REFERENCING OLD TABLE AS kg_old_sections NEW TABLE AS kg_new_sections
    FOR EACH STATEMENT EXECUTE FUNCTION kg_log_section_updates();
