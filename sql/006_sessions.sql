-- 006_sessions.sql — sessions that can be ended (issue 16).
--
-- users.token_epoch: every token carries the epoch its user had when it was
-- issued (claim "epoch"); a request whose token has another epoch is refused.
-- A password change (API or kartograf-admin passwd) bumps the epoch, which
-- ends every session of the user at once — without a list of their tokens.
--
-- revoked_tokens: single tokens ended before their exp (POST
-- /api/auth/logout), by their "jti" claim.  A row is only needed until the
-- token would have expired anyway; expired rows are deleted whenever a token
-- is revoked.  The check is part of the query that re-reads the user on every
-- authenticated request (kg_auth), so it costs no extra round trip.
ALTER TABLE users ADD COLUMN token_epoch bigint NOT NULL DEFAULT 0;

CREATE TABLE revoked_tokens (
    jti        text        PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    CONSTRAINT revoked_tokens_jti_check CHECK (jti ~ '^[0-9a-f]{32}$')
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);
