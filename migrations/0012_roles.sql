-- +goose NO TRANSACTION
-- +goose Up
-- The role catalogue of each tenant (docs/auth/idp.md, "Roles"): a user
-- holds only roles of its tenant's catalogue, and `admin` is in every one.
-- users.roles stays the array the hot paths (login, refresh, /me) already
-- read; core keeps it inside the catalogue (granting locks the role rows,
-- deleting a role in use is refused).
--
-- Without a transaction, because of the CONCURRENTLY index at the end (a
-- big users table is not blocked for writes while it builds); every step is
-- idempotent, so a run that stopped half-way can simply be run again.
CREATE TABLE IF NOT EXISTS roles (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    name        text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_:.-]{0,63}$'),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

INSERT INTO roles (tenant_id, name, description)
SELECT id, 'admin', 'Administers the tenant: users, roles and the audit log.' FROM tenants
ON CONFLICT DO NOTHING;

-- Existing users' roles join their tenant's catalogue.
INSERT INTO roles (tenant_id, name)
SELECT DISTINCT u.tenant_id, r.name FROM users u CROSS JOIN LATERAL unnest(u.roles) AS r (name)
ON CONFLICT DO NOTHING;

-- Who holds a role: the admin list's role filter, and the check that a
-- role is unused before it is deleted. Logins and refreshes don't change
-- roles, so their updates of users stay heap-only.
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_roles_idx ON users USING gin (roles);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS users_roles_idx;
DROP TABLE IF EXISTS roles;
