-- +goose Up
-- Audit rows say which ids the client supplied (and so prove nothing), and
-- how many throttled attempts an aggregated row stands for
-- (docs/auth/idp.md, "Audit").
ALTER TABLE user_login_events
    ADD COLUMN request_id_from_client boolean NOT NULL DEFAULT false,
    ADD COLUMN client_id_verified     boolean NOT NULL DEFAULT false,
    ADD COLUMN suppressed             integer NOT NULL DEFAULT 0 CHECK (suppressed >= 0);

-- Invites and resets are separate kinds: a reset request never voids an
-- invite. email_verified_at is set when a person completes a link mailed to
-- the address.
ALTER TABLE password_reset_tokens
    ADD COLUMN kind text NOT NULL DEFAULT 'reset' CHECK (kind IN ('reset', 'invite'));
UPDATE password_reset_tokens t SET kind = 'invite'
    FROM users u WHERE u.id = t.user_id AND u.status = 'pending';
DROP INDEX password_reset_tokens_user_live_idx;
CREATE INDEX password_reset_tokens_user_live_idx ON password_reset_tokens (user_id, kind)
    WHERE used_at IS NULL AND voided_at IS NULL;

ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- The durable copy of a per-source lock (the account-wide one lives in
-- users.locked_until): a Redis restart or FLUSHALL must not end it.
CREATE TABLE login_source_locks (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- A digest of the source (client IP bucket, device token or session):
    -- never the address itself.
    source       text NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    locked_until timestamptz NOT NULL,
    PRIMARY KEY (user_id, source)
);

-- Mail leaves the request path: requests queue it here in their own
-- transaction and a worker in `idp serve` delivers it, retrying with
-- backoff. The payload holds the link (and so a reset or invite token):
-- it is sealed with keys.encryption_key and dropped once delivered.
CREATE TABLE mail_outbox (
    id              bigserial PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    kind            text NOT NULL,
    payload         bytea,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A worker's claim; an expired claim (the worker died) is taken over.
    locked_until    timestamptz,
    sent_at         timestamptz,
    failed_at       timestamptz,
    last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE login_source_locks;
ALTER TABLE users DROP COLUMN email_verified_at;
DROP INDEX password_reset_tokens_user_live_idx;
ALTER TABLE password_reset_tokens DROP COLUMN kind;
CREATE INDEX password_reset_tokens_user_live_idx ON password_reset_tokens (user_id)
    WHERE used_at IS NULL AND voided_at IS NULL;
ALTER TABLE user_login_events
    DROP COLUMN request_id_from_client,
    DROP COLUMN client_id_verified,
    DROP COLUMN suppressed;
