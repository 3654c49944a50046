-- +goose Up
-- A signed-in browser: the SSO session behind the __Host-idp_session cookie
-- (docs/auth/idp.md, "Browser sessions"). The cookie holds 256 random bits;
-- only their SHA-256 is stored.
CREATE TABLE browser_sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- When the person last proved a password here: what max_age and
    -- prompt=login compare against.
    auth_time       timestamptz NOT NULL DEFAULT now(),
    -- Absolute end: browser.session_ttl, or browser.remember_ttl with
    -- "Keep me signed in".
    expires_at      timestamptz NOT NULL,
    -- Moves forward with use (browser.idle_ttl), never past expires_at.
    idle_expires_at timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    remember        boolean NOT NULL DEFAULT false,
    revoked_at      timestamptz,
    revoked_reason  text,
    client_ip       text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT ''
);
CREATE INDEX browser_sessions_user_live_idx ON browser_sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX browser_sessions_tenant_live_idx ON browser_sessions (tenant_id) WHERE revoked_at IS NULL;
CREATE INDEX browser_sessions_expires_idx ON browser_sessions (expires_at);
CREATE INDEX browser_sessions_revoked_idx ON browser_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- API sessions a browser session started (the OpenID Connect code flow):
-- signing the browser out ends them too.
ALTER TABLE sessions ADD COLUMN browser_session_id uuid REFERENCES browser_sessions (id) ON DELETE SET NULL;
CREATE INDEX sessions_browser_idx ON sessions (browser_session_id) WHERE browser_session_id IS NOT NULL;

-- +goose Down
DROP INDEX sessions_browser_idx;
ALTER TABLE sessions DROP COLUMN browser_session_id;
DROP TABLE browser_sessions;
