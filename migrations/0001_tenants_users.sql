-- +goose Up
CREATE TABLE tenants (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9-]{1,63}$'),
    name       text NOT NULL DEFAULT '',
    status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id            uuid NOT NULL REFERENCES tenants (id),
    email                text NOT NULL CHECK (email <> '' AND length(email) <= 320),
    -- NULL while the user is pending (invited, no password yet).
    password_hash        text,
    status               text NOT NULL DEFAULT 'active'
                         CHECK (status IN ('pending', 'active', 'disabled', 'locked')),
    roles                text[] NOT NULL DEFAULT '{}',
    must_change_password boolean NOT NULL DEFAULT false,
    -- Set for one-time (seeded) passwords: they stop working after this.
    password_expires_at  timestamptz,
    seeded               boolean NOT NULL DEFAULT false,
    -- Temporary lockout after failed attempts; also kept in Redis, but this
    -- copy is the one a Redis restart or FLUSHALL can't erase.
    locked_until         timestamptz,
    lock_level           integer NOT NULL DEFAULT 0,
    last_login_at        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One account per email per tenant, whatever the case.
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));
CREATE INDEX users_tenant_idx ON users (tenant_id, created_at);

CREATE TABLE user_profiles (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE user_profiles;
DROP TABLE users;
DROP TABLE tenants;
