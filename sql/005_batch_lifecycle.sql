-- 005_batch_lifecycle.sql — deleting batches and cards keeps the money trail
-- (issue 17).
--
-- ai_calls outlive what they were spent on.  DELETE /api/batches/{id} and
-- DELETE /api/projects/{id} (and kartograf-admin deluser) remove the
-- batch's projects; their ai_calls rows stay, with batch_id and
-- project_id set to NULL by the foreign key itself (ON DELETE SET NULL of
-- the composite key nulls both columns), so an admin still sees the
-- month's spend per provider and model (GET /metrics, SQL on ai_calls).
-- Only the link to the deleted card is gone: the row says what was
-- called, when, for how much, not for whom.
ALTER TABLE ai_calls ALTER COLUMN batch_id DROP NOT NULL;
ALTER TABLE ai_calls ALTER COLUMN project_id DROP NOT NULL;
ALTER TABLE ai_calls DROP CONSTRAINT ai_calls_project_fkey;
ALTER TABLE ai_calls ADD CONSTRAINT ai_calls_project_fkey
    FOREIGN KEY (batch_id, project_id)
    REFERENCES projects (batch_id, id) ON DELETE SET NULL;
-- Both or neither: a row names a project of a batch, or nothing.
ALTER TABLE ai_calls ADD CONSTRAINT ai_calls_orphan_check CHECK (
    (batch_id IS NULL) = (project_id IS NULL));
-- The month's spend: created_at ranges over every row, linked or not.
CREATE INDEX ai_calls_created_idx ON ai_calls (created_at);

-- A cost cap of 0 is meaningful: "no AI calls at all for this batch"
-- (spent >= cap holds from the start, kg_ai_cost_cap_reached), a way to
-- freeze a batch; so PATCH /api/batches/{id} accepts cost_cap >= 0
-- (NULL = no cap).  The unit is the price table's currency: USD, the
-- [ai] prices being USD per 1,000 tokens.
ALTER TABLE batches DROP CONSTRAINT batches_cost_cap_check;
ALTER TABLE batches ADD CONSTRAINT batches_cost_cap_check CHECK (
    cost_cap IS NULL OR cost_cap >= 0);
