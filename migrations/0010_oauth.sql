-- +goose Up
-- Registered OAuth 2.0 / OpenID Connect clients (docs/integrate.md).
CREATE TABLE oauth_clients (
    id                        text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._~-]{1,128}$'),
    tenant_id                 uuid NOT NULL REFERENCES tenants (id),
    name                      text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    redirect_uris             text[] NOT NULL,
    post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
    public                    boolean NOT NULL,
    first_party               boolean NOT NULL DEFAULT false,
    scopes                    text[] NOT NULL,
    grant_types               text[] NOT NULL,
    id_token_alg              text NOT NULL DEFAULT 'EdDSA' CHECK (id_token_alg IN ('EdDSA', 'RS256')),
    cors_origins              text[] NOT NULL DEFAULT '{}',
    -- SHA-256 of the secret of a confidential client; the secret itself is
    -- shown once and never stored.
    secret_hash               bytea CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
    secret_rotated_at         timestamptz,
    status                    text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CHECK (public = (secret_hash IS NULL))
);
CREATE INDEX oauth_clients_tenant_idx ON oauth_clients (tenant_id, name);

-- Authorization codes: 256 random bits, stored only as SHA-256, single use,
-- bound to what the authorization request said.
CREATE TABLE oauth_codes (
    hash               bytea PRIMARY KEY CHECK (length(hash) = 32),
    client_id          text NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_session_id uuid REFERENCES browser_sessions (id) ON DELETE CASCADE,
    redirect_uri       text NOT NULL,
    scopes             text[] NOT NULL,
    nonce              text NOT NULL DEFAULT '',
    code_challenge     text NOT NULL DEFAULT '',
    auth_time          timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    used_at            timestamptz,
    -- The session the exchange started: a second use of the code revokes it.
    session_id         uuid REFERENCES sessions (id) ON DELETE SET NULL
);
CREATE INDEX oauth_codes_expires_idx ON oauth_codes (expires_at);

-- Consent a user gave a third-party client, per scopes; revocable from the
-- account page.
CREATE TABLE oauth_consents (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client_id)
);

-- A session started by a registered client (the code flow) is bound to it:
-- only that client may refresh or revoke it. scope is what was granted.
-- auth_time is when the user authenticated for it (ID tokens repeat it at
-- every refresh).
ALTER TABLE sessions
    ADD COLUMN client_bound boolean NOT NULL DEFAULT false,
    ADD COLUMN scope        text NOT NULL DEFAULT '',
    ADD COLUMN auth_time    timestamptz;

-- +goose Down
ALTER TABLE sessions DROP COLUMN client_bound, DROP COLUMN scope, DROP COLUMN auth_time;
DROP TABLE oauth_consents;
DROP TABLE oauth_codes;
DROP TABLE oauth_clients;
