-- 004_regenerate.sql — section regeneration (issue 8, worker side): the prompt
-- of the 'regenerate' stage and the table of pending regeneration requests.

-- ---------------------------------------------------------------------------
-- prompt_templates: the 'regenerate' stage (one section, rest of the card as
-- context, the user's optional instruction)
-- ---------------------------------------------------------------------------
-- Placeholders (filled by the worker, worker/wk_regen.c):
--   {input_json}     the project's input row (JSON)
--   {section_key}    the key of the section to rewrite
--   {section_title}  its title
--   {section_spec}   "<title>, <min>–<max> słów: <guidance>"
--   {card}           the other sections of the card as they stand now,
--                    "## <title>\n<text>" blocks in card order
--   {current}        the section's current text
--   {instruction}    the user's instruction, or a default "napisz na nowo"
--                    sentence when the request carried none
-- The answer has the shape of the draft/polish stages, restricted to the one
-- key, and is validated the same way (kg_stage.h).
INSERT INTO prompt_templates (stage, position, system, body, max_tokens) VALUES
('regenerate', 4,
 'Jesteś doświadczonym autorem wniosków projektowych w Polsce. Piszesz wyłącznie '
 'po polsku, zwykłym tekstem (bez Markdown), bez zmyślania faktów. Odpowiadasz '
 'wyłącznie poprawnym JSON.',
 'Dane projektu (JSON):
{input_json}

Pozostałe sekcje karty projektu (kontekst, nie zmieniaj ich):
{card}

Obecny tekst sekcji „{section_title}” (klucz {section_key}):
{current}

Napisz tę jedną sekcję na nowo: {section_spec}
Polecenie użytkownika: {instruction}
Zachowaj spójność z pozostałymi sekcjami. Nie dodawaj faktów, liczb, kwot ani dat,
których nie ma w danych projektu. Tekst ma mieścić się w podanym zakresie liczby słów.
Zwróć obiekt JSON {"sections": {"{section_key}": "tekst sekcji"}}.', 2048);

-- ---------------------------------------------------------------------------
-- regeneration_requests: regenerations asked for and not yet processed
-- ---------------------------------------------------------------------------
-- POST /api/projects/{id}/sections/{key}/regenerate inserts a row and pushes a
-- task {"kind": "regenerate_section", ..., "request_id": id} onto
-- kg:queue:regenerate. The worker deletes the row in the same transaction that
-- stores the regenerated text (kg_project_store_regeneration), or when it gives
-- the request up (the card was edited meanwhile, the project is no longer
-- COMPLETED, every provider failed). So the row is the source of truth, like
-- projects.status for generation: the worker's reconciler re-enqueues rows
-- whose task the queue lost (FLUSHALL), and a task whose row is gone (a
-- duplicate delivery after a crash) is acknowledged without work.
--
-- requested_version is the project version the request was based on. When a
-- regeneration of the same project is stored (version v -> v+1), the pending
-- requests at v are moved to v+1 in that transaction: the user's card only
-- changed by the text they asked for, so their other requests still hold. Any
-- other change (an edit, a revert) leaves them behind, and they are refused
-- as "edited meanwhile".
CREATE TABLE regeneration_requests (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id         uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key                text        NOT NULL REFERENCES section_defs (key)
                                       ON UPDATE CASCADE ON DELETE CASCADE,
    -- Cleaned text, '' when none (KG_INSTRUCTION_MAX_CHARS).
    instruction        text        NOT NULL DEFAULT '',
    requested_version  integer     NOT NULL,
    requested_by       uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT regeneration_requests_instruction_check CHECK (
        char_length(instruction) <= 500),
    CONSTRAINT regeneration_requests_version_check CHECK (requested_version >= 1)
);
CREATE INDEX regeneration_requests_project_idx
    ON regeneration_requests (project_id, requested_version);
-- The reconciler's scan, oldest first.
CREATE INDEX regeneration_requests_created_idx ON regeneration_requests (created_at);
CREATE INDEX regeneration_requests_user_idx ON regeneration_requests (requested_by)
    WHERE requested_by IS NOT NULL;
