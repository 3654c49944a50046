-- +goose Up
-- The audit log becomes a table partitioned by month (UTC), so retention
-- drops whole partitions instead of deleting rows: no row is ever updated or
-- deleted, and no table is rewritten (docs/operations.md, "The audit log").
-- The existing rows, the id sequence, the index names and the append-only
-- triggers carry over; ids keep counting where they were.
ALTER TABLE user_login_events RENAME TO user_login_events_unpartitioned;
ALTER INDEX user_login_events_pkey RENAME TO user_login_events_unpartitioned_pkey;
ALTER INDEX user_login_events_time_idx RENAME TO user_login_events_unpartitioned_time_idx;
ALTER INDEX user_login_events_email_idx RENAME TO user_login_events_unpartitioned_email_idx;
ALTER INDEX user_login_events_tenant_idx RENAME TO user_login_events_unpartitioned_tenant_idx;

CREATE TABLE user_login_events (
    id            bigint NOT NULL DEFAULT nextval('user_login_events_id_seq'),
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    request_id    text NOT NULL DEFAULT '',
    event         text NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason        text NOT NULL DEFAULT '',
    actor         text NOT NULL DEFAULT '',
    subject_id    uuid,
    subject_email text NOT NULL DEFAULT '',
    tenant_id     uuid,
    tenant_slug   text NOT NULL DEFAULT '',
    session_id    uuid,
    client_ip     text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    client_id     text NOT NULL DEFAULT '',
    request_id_from_client boolean NOT NULL DEFAULT false,
    client_id_verified     boolean NOT NULL DEFAULT false,
    suppressed             integer NOT NULL DEFAULT 0 CHECK (suppressed >= 0)
) PARTITION BY RANGE (occurred_at);
ALTER SEQUENCE user_login_events_id_seq OWNED BY user_login_events.id;

-- A safety net for rows outside every month partition (a clock years off).
-- The janitor creates months ahead so it stays empty; when it does hold rows
-- of a month that gets its partition, user_login_events_ensure_partition
-- moves them there (creating the partition would fail otherwise).
CREATE TABLE user_login_events_default PARTITION OF user_login_events DEFAULT;

-- Row triggers on the parent are cloned onto every partition; a statement
-- trigger is not, so each partition gets its own TRUNCATE guard.
-- +goose StatementBegin
CREATE FUNCTION user_login_events_ensure_partition(month_start timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    lo_ts  timestamp := date_trunc('month', month_start AT TIME ZONE 'UTC');
    hi_ts  timestamp := lo_ts + interval '1 month';
    lo     timestamptz := lo_ts AT TIME ZONE 'UTC';
    hi     timestamptz := hi_ts AT TIME ZONE 'UTC';
    part   text := 'user_login_events_' || to_char(lo_ts, '"y"YYYY"m"MM');
    strays boolean;
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    strays := EXISTS (SELECT 1 FROM user_login_events_default WHERE occurred_at >= lo AND occurred_at < hi);
    IF strays THEN
        -- Detached, the default partition loses the cloned append-only
        -- triggers, so its rows of this month can move; it is attached again
        -- before the transaction ends, so no other session sees the gap.
        ALTER TABLE user_login_events DETACH PARTITION user_login_events_default;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF user_login_events FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
    EXECUTE format('CREATE TRIGGER user_login_events_no_truncate BEFORE TRUNCATE ON %I
        FOR EACH STATEMENT EXECUTE FUNCTION user_login_events_append_only()', part);
    IF strays THEN
        INSERT INTO user_login_events
            SELECT * FROM user_login_events_default WHERE occurred_at >= lo AND occurred_at < hi;
        DELETE FROM user_login_events_default WHERE occurred_at >= lo AND occurred_at < hi;
        ALTER TABLE user_login_events ATTACH PARTITION user_login_events_default DEFAULT;
    END IF;
    RETURN true;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    first timestamptz := COALESCE((SELECT min(occurred_at) FROM user_login_events_unpartitioned), now());
    m     timestamptz;
BEGIN
    -- Every month that holds rows, and three ahead (the janitor keeps
    -- creating them ahead from here on).
    m := date_trunc('month', first AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    WHILE m < now() + interval '4 months' LOOP
        PERFORM user_login_events_ensure_partition(m);
        m := (date_trunc('month', m AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
    END LOOP;
END;
$$;
-- +goose StatementEnd

INSERT INTO user_login_events SELECT * FROM user_login_events_unpartitioned;
DROP TABLE user_login_events_unpartitioned;

-- Indexes are built after the copy (faster), under their old names. The
-- primary key of a partitioned table must hold the partition key.
ALTER TABLE user_login_events ADD CONSTRAINT user_login_events_pkey PRIMARY KEY (id, occurred_at);
CREATE INDEX user_login_events_time_idx ON user_login_events (occurred_at DESC);
CREATE INDEX user_login_events_email_idx ON user_login_events (lower(subject_email), occurred_at DESC);
CREATE INDEX user_login_events_tenant_idx ON user_login_events (tenant_id, occurred_at DESC);

CREATE TRIGGER user_login_events_no_update
    BEFORE UPDATE OR DELETE ON user_login_events
    FOR EACH ROW EXECUTE FUNCTION user_login_events_append_only();
CREATE TRIGGER user_login_events_no_truncate
    BEFORE TRUNCATE ON user_login_events
    FOR EACH STATEMENT EXECUTE FUNCTION user_login_events_append_only();
CREATE TRIGGER user_login_events_no_truncate
    BEFORE TRUNCATE ON user_login_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION user_login_events_append_only();

-- +goose Down
CREATE TABLE user_login_events_unpartitioned (
    id            bigint PRIMARY KEY DEFAULT nextval('user_login_events_id_seq'),
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    request_id    text NOT NULL DEFAULT '',
    event         text NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason        text NOT NULL DEFAULT '',
    actor         text NOT NULL DEFAULT '',
    subject_id    uuid,
    subject_email text NOT NULL DEFAULT '',
    tenant_id     uuid,
    tenant_slug   text NOT NULL DEFAULT '',
    session_id    uuid,
    client_ip     text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    client_id     text NOT NULL DEFAULT '',
    request_id_from_client boolean NOT NULL DEFAULT false,
    client_id_verified     boolean NOT NULL DEFAULT false,
    suppressed             integer NOT NULL DEFAULT 0 CHECK (suppressed >= 0)
);
INSERT INTO user_login_events_unpartitioned SELECT * FROM user_login_events;
ALTER SEQUENCE user_login_events_id_seq OWNED BY user_login_events_unpartitioned.id;
DROP TABLE user_login_events;
DROP FUNCTION user_login_events_ensure_partition(timestamptz);
ALTER TABLE user_login_events_unpartitioned RENAME TO user_login_events;
ALTER INDEX user_login_events_unpartitioned_pkey RENAME TO user_login_events_pkey;
CREATE INDEX user_login_events_time_idx ON user_login_events (occurred_at DESC);
CREATE INDEX user_login_events_email_idx ON user_login_events (lower(subject_email), occurred_at DESC);
CREATE INDEX user_login_events_tenant_idx ON user_login_events (tenant_id, occurred_at DESC);
CREATE TRIGGER user_login_events_no_update
    BEFORE UPDATE OR DELETE ON user_login_events
    FOR EACH ROW EXECUTE FUNCTION user_login_events_append_only();
CREATE TRIGGER user_login_events_no_truncate
    BEFORE TRUNCATE ON user_login_events
    FOR EACH STATEMENT EXECUTE FUNCTION user_login_events_append_only();
