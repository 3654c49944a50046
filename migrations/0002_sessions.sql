-- +goose Up
-- A session is one login: the family of refresh tokens that descend from it.
CREATE TABLE sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Absolute end, fixed at login; rotation never moves it.
    expires_at      timestamptz NOT NULL,
    -- Moves forward on each use, never past expires_at.
    idle_expires_at timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    revoked_reason  text,
    client_ip       text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    client_id       text NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_tenant_live_idx ON sessions (tenant_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_id  uuid REFERENCES refresh_tokens (id) ON DELETE CASCADE,
    -- SHA-256 of the token: the token itself is never stored.
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz,
    -- The child token pair sealed under a key derived from this token, so a
    -- retried refresh inside the grace window gets the same answer, even
    -- after a crash: it commits with the rotation.
    replay     bytea
);

CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
-- At most one child per token: a family never branches.
CREATE UNIQUE INDEX refresh_tokens_parent_key ON refresh_tokens (parent_id) WHERE parent_id IS NOT NULL;

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
