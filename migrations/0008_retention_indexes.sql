-- +goose NO TRANSACTION
-- +goose Up
-- What the janitor (idp maintenance prune, docs/operations.md) looks ended
-- rows up by. Only columns that are written once: the refresh hot path
-- updates sessions.last_used_at and idle_expires_at on every rotation, and an
-- index on either would turn those heap-only (HOT) updates into updates of
-- every index of the table. CONCURRENTLY, so a migration on a big table does
-- not block logins while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_expires_idx ON sessions (expires_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS password_reset_tokens_expires_idx ON password_reset_tokens (expires_at);
CREATE INDEX CONCURRENTLY IF NOT EXISTS login_source_locks_until_idx ON login_source_locks (locked_until);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS login_source_locks_until_idx;
DROP INDEX CONCURRENTLY IF EXISTS password_reset_tokens_expires_idx;
DROP INDEX CONCURRENTLY IF EXISTS sessions_revoked_idx;
DROP INDEX CONCURRENTLY IF EXISTS sessions_expires_idx;
