-- +goose Up
CREATE TABLE password_reset_tokens (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the token: the token itself is never stored.
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    voided_at  timestamptz
);

CREATE INDEX password_reset_tokens_user_live_idx ON password_reset_tokens (user_id)
    WHERE used_at IS NULL AND voided_at IS NULL;

-- +goose Down
DROP TABLE password_reset_tokens;
