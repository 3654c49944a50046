-- +goose Up
CREATE TABLE user_login_events (
    id            bigserial PRIMARY KEY,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    request_id    text NOT NULL DEFAULT '',
    event         text NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('success', 'failure')),
    -- Internal reason code (unknown_email, bad_password, ...): only the audit
    -- log sees it, responses never do.
    reason        text NOT NULL DEFAULT '',
    actor         text NOT NULL DEFAULT '',
    subject_id    uuid,
    subject_email text NOT NULL DEFAULT '',
    tenant_id     uuid,
    tenant_slug   text NOT NULL DEFAULT '',
    session_id    uuid,
    client_ip     text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    client_id     text NOT NULL DEFAULT ''
);

CREATE INDEX user_login_events_time_idx ON user_login_events (occurred_at DESC);
CREATE INDEX user_login_events_email_idx ON user_login_events (lower(subject_email), occurred_at DESC);
CREATE INDEX user_login_events_tenant_idx ON user_login_events (tenant_id, occurred_at DESC);

-- The audit log is append-only for every role, the application's included:
-- UPDATE, DELETE and TRUNCATE raise. Pruning old rows is a deliberate DBA act
-- (ALTER TABLE ... DISABLE TRIGGER, see docs/operations.md).
-- +goose StatementBegin
CREATE FUNCTION user_login_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'user_login_events is append-only';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER user_login_events_no_update
    BEFORE UPDATE OR DELETE ON user_login_events
    FOR EACH ROW EXECUTE FUNCTION user_login_events_append_only();
CREATE TRIGGER user_login_events_no_truncate
    BEFORE TRUNCATE ON user_login_events
    FOR EACH STATEMENT EXECUTE FUNCTION user_login_events_append_only();

-- +goose Down
DROP TABLE user_login_events;
DROP FUNCTION user_login_events_append_only();
