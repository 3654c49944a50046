package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
)

// Session and refresh token columns carry s_ and rt_ prefixes so one row
// struct can hold them beside a user's.
type sessionRow struct {
	ID            uuid.UUID     `db:"s_id"`
	UserID        uuid.UUID     `db:"s_user_id"`
	TenantID      uuid.UUID     `db:"s_tenant_id"`
	CreatedAt     time.Time     `db:"s_created_at"`
	ExpiresAt     time.Time     `db:"s_expires_at"`
	IdleExpiresAt time.Time     `db:"s_idle_expires_at"`
	LastUsedAt    time.Time     `db:"s_last_used_at"`
	RevokedAt     sql.NullTime  `db:"s_revoked_at"`
	RevokedReason string        `db:"s_revoked_reason"`
	ClientIP      string        `db:"s_client_ip"`
	UserAgent     string        `db:"s_user_agent"`
	ClientID      string        `db:"s_client_id"`
	BrowserID     uuid.NullUUID `db:"s_browser_session_id"`
	ClientBound   bool          `db:"s_client_bound"`
	Scope         string        `db:"s_scope"`
	AuthTime      sql.NullTime  `db:"s_auth_time"`
}

const sessionCols = `s.id AS s_id, s.user_id AS s_user_id, s.tenant_id AS s_tenant_id,
	s.created_at AS s_created_at, s.expires_at AS s_expires_at,
	s.idle_expires_at AS s_idle_expires_at, s.last_used_at AS s_last_used_at,
	s.revoked_at AS s_revoked_at, COALESCE(s.revoked_reason, '') AS s_revoked_reason,
	s.client_ip AS s_client_ip, s.user_agent AS s_user_agent, s.client_id AS s_client_id,
	s.browser_session_id AS s_browser_session_id, s.client_bound AS s_client_bound, s.scope AS s_scope,
	s.auth_time AS s_auth_time`

func (r sessionRow) session() core.Session {
	return core.Session{
		ID:            r.ID,
		UserID:        r.UserID,
		TenantID:      r.TenantID,
		CreatedAt:     r.CreatedAt.UTC(),
		ExpiresAt:     r.ExpiresAt.UTC(),
		IdleExpiresAt: r.IdleExpiresAt.UTC(),
		LastUsedAt:    r.LastUsedAt.UTC(),
		RevokedAt:     timePtr(r.RevokedAt),
		RevokedReason: r.RevokedReason,
		ClientIP:      r.ClientIP,
		UserAgent:     r.UserAgent,
		ClientID:      r.ClientID,

		BrowserSessionID: uuidPtr(r.BrowserID),
		ClientBound:      r.ClientBound,
		Scope:            r.Scope,
		AuthTime:         timePtr(r.AuthTime),
	}
}

type refreshRow struct {
	ID        uuid.UUID     `db:"rt_id"`
	SessionID uuid.UUID     `db:"rt_session_id"`
	ParentID  uuid.NullUUID `db:"rt_parent_id"`
	Hash      []byte        `db:"rt_token_hash"`
	CreatedAt time.Time     `db:"rt_created_at"`
	ExpiresAt time.Time     `db:"rt_expires_at"`
	SpentAt   sql.NullTime  `db:"rt_spent_at"`
	Replay    []byte        `db:"rt_replay"`
}

const refreshCols = `rt.id AS rt_id, rt.session_id AS rt_session_id, rt.parent_id AS rt_parent_id,
	rt.token_hash AS rt_token_hash, rt.created_at AS rt_created_at,
	rt.expires_at AS rt_expires_at, rt.spent_at AS rt_spent_at, rt.replay AS rt_replay`

func (r refreshRow) token() core.RefreshToken {
	return core.RefreshToken{
		ID:        r.ID,
		SessionID: r.SessionID,
		ParentID:  uuidPtr(r.ParentID),
		Hash:      r.Hash,
		CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(),
		SpentAt:   timePtr(r.SpentAt),
		Replay:    r.Replay,
	}
}

// CreateSession inserts s, filling ID and, when zero, CreatedAt (database
// clock) and LastUsedAt (= CreatedAt).
func (q queries) CreateSession(ctx context.Context, s *core.Session) error {
	fillID(&s.ID)
	var r sessionRow
	err := q.get(ctx, "session", &r, `
		INSERT INTO sessions AS s (id, user_id, tenant_id, created_at, expires_at,
			idle_expires_at, last_used_at, revoked_at, revoked_reason,
			client_ip, user_agent, client_id, browser_session_id, client_bound, scope, auth_time)
		VALUES ($1, $2, $3, COALESCE($4, now()), $5, $6, COALESCE($7, $4, now()),
			$8, NULLIF($9, ''), $10, $11, $12, $13, $14, $15, $16)
		RETURNING `+sessionCols,
		s.ID, s.UserID, s.TenantID, nullTime(s.CreatedAt), s.ExpiresAt,
		s.IdleExpiresAt, nullTime(s.LastUsedAt), s.RevokedAt, s.RevokedReason,
		s.ClientIP, s.UserAgent, s.ClientID, s.BrowserSessionID, s.ClientBound, s.Scope, s.AuthTime)
	if err != nil {
		return err
	}
	*s = r.session()
	return nil
}

// SetSessionExpiry moves the ends of a live session.
func (q queries) SetSessionExpiry(ctx context.Context, id uuid.UUID, expiresAt, idleExpiresAt time.Time) error {
	return q.execOne(ctx, "session", `
		UPDATE sessions SET expires_at = $2, idle_expires_at = $3
		WHERE id = $1 AND revoked_at IS NULL`, id, expiresAt, idleExpiresAt)
}

func (q queries) SessionByID(ctx context.Context, id uuid.UUID) (core.Session, error) {
	var r sessionRow
	if err := q.get(ctx, "session", &r, `SELECT `+sessionCols+` FROM sessions s WHERE s.id = $1`, id); err != nil {
		return core.Session{}, err
	}
	return r.session(), nil
}

// CreateRefreshToken inserts t, filling ID and, when zero, CreatedAt.
func (q queries) CreateRefreshToken(ctx context.Context, t *core.RefreshToken) error {
	fillID(&t.ID)
	var r refreshRow
	err := q.get(ctx, "refresh token", &r, `
		INSERT INTO refresh_tokens AS rt (id, session_id, parent_id, token_hash,
			created_at, expires_at, spent_at, replay)
		VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6, $7, $8)
		RETURNING `+refreshCols,
		t.ID, t.SessionID, t.ParentID, t.Hash, nullTime(t.CreatedAt), t.ExpiresAt, t.SpentAt, t.Replay)
	if err != nil {
		return err
	}
	*t = r.token()
	return nil
}

// SpendRefreshToken is the refresh hot path: one UPDATE marks the token spent
// and returns it with its session and user. Under concurrency the row lock
// makes every spender but the first see spent_at set, and so no row.
func (q queries) SpendRefreshToken(ctx context.Context, hash []byte, now time.Time) (core.RefreshToken, core.Session, core.User, error) {
	var r struct {
		refreshRow
		sessionRow
		userRow
	}
	err := q.get(ctx, "refresh token", &r, `
		UPDATE refresh_tokens rt SET spent_at = $2
		FROM sessions s
		JOIN users u ON u.id = s.user_id
		JOIN tenants t ON t.id = u.tenant_id
		WHERE rt.token_hash = $1 AND rt.spent_at IS NULL AND s.id = rt.session_id
		RETURNING `+refreshCols+`, `+sessionCols+`, `+userColsBase+`,
			COALESCE((SELECT p.display_name FROM user_profiles p WHERE p.user_id = u.id), '') AS display_name`,
		hash, now)
	if err != nil {
		return core.RefreshToken{}, core.Session{}, core.User{}, err
	}
	return r.token(), r.session(), r.user(), nil
}

// RefreshTokenByHash finds a token in any state (spent, expired, of a
// revoked session), for reuse detection and the replay grace window.
func (q queries) RefreshTokenByHash(ctx context.Context, hash []byte) (core.RefreshToken, core.Session, error) {
	var r struct {
		refreshRow
		sessionRow
	}
	err := q.get(ctx, "refresh token", &r, `
		SELECT `+refreshCols+`, `+sessionCols+`
		FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
		WHERE rt.token_hash = $1`, hash)
	if err != nil {
		return core.RefreshToken{}, core.Session{}, err
	}
	return r.token(), r.session(), nil
}

// StoreRotation writes a rotation in one statement: the child token, the
// replay record on its parent, the session's new last use and idle expiry,
// and the audit row. A second child for one parent violates
// refresh_tokens_parent_key: ECONFLICT, so of two racing rotations only one
// commits, and its audit row with it.
func (q queries) StoreRotation(ctx context.Context, child *core.RefreshToken, replay []byte, usedAt, idleExpiresAt time.Time, e *core.AuditEvent) error {
	fillID(&child.ID)
	var r struct {
		CreatedAt time.Time `db:"created_at"`
		EventID   int64     `db:"event_id"`
		EventTime time.Time `db:"occurred_at"`
	}
	// The session is updated first and only while live: a revocation
	// holding its row makes this wait, then see revoked_at and match no
	// row, so the whole statement returns none (ENOTFOUND).
	args := append([]any{child.SessionID, usedAt, idleExpiresAt, child.ID, child.ParentID, child.Hash,
		nullTime(child.CreatedAt), child.ExpiresAt, replay}, auditArgs(e)...)
	err := q.get(ctx, "session", &r, `
		WITH sess AS (
			UPDATE sessions SET last_used_at = $2, idle_expires_at = $3
			WHERE id = $1 AND revoked_at IS NULL
			RETURNING id
		), child AS (
			INSERT INTO refresh_tokens (id, session_id, parent_id, token_hash, created_at, expires_at)
			SELECT $4::uuid, sess.id, $5::uuid, $6::bytea, COALESCE($7::timestamptz, now()), $8::timestamptz FROM sess
			RETURNING created_at
		), parent AS (
			UPDATE refresh_tokens SET replay = $9 WHERE id = $5::uuid AND EXISTS (SELECT 1 FROM sess)
		), audit AS (
			INSERT INTO user_login_events (`+auditInsertCols+`)
			SELECT `+auditValues(10)+` WHERE EXISTS (SELECT 1 FROM sess)
			RETURNING id, occurred_at
		)
		SELECT child.created_at, audit.id AS event_id, audit.occurred_at FROM child, audit`, args...)
	if err != nil {
		return err
	}
	child.CreatedAt = r.CreatedAt.UTC()
	e.ID, e.Time = r.EventID, r.EventTime.UTC()
	return nil
}

// The Revoke* statements skip revoked sessions so the first reason stays,
// and cover browser sessions in the same statement. Refresh tokens are
// left alone: core refuses any token of a revoked session.

func (q queries) RevokeSession(ctx context.Context, id uuid.UUID, reason string, at time.Time) (int, error) {
	return q.count(ctx, "session", `
		WITH b AS (
			UPDATE browser_sessions SET revoked_at = $2, revoked_reason = $3
			WHERE id = $1 AND revoked_at IS NULL
			RETURNING id
		), s AS (
			UPDATE sessions SET revoked_at = $2, revoked_reason = $3
			WHERE (id = $1 OR browser_session_id = $1) AND revoked_at IS NULL
			RETURNING id
		)
		SELECT (SELECT count(*) FROM b) + (SELECT count(*) FROM s)`, id, at, reason)
}

func (q queries) RevokeUserSessions(ctx context.Context, userID uuid.UUID, except *uuid.UUID, reason string, at time.Time) (int, error) {
	return q.count(ctx, "session", `
		WITH b AS (
			UPDATE browser_sessions SET revoked_at = $3, revoked_reason = $4
			WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)
			RETURNING id
		), s AS (
			UPDATE sessions SET revoked_at = $3, revoked_reason = $4
			WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)
			RETURNING id
		)
		SELECT (SELECT count(*) FROM b) + (SELECT count(*) FROM s)`,
		userID, except, at, reason)
}

func (q queries) RevokeTenantSessions(ctx context.Context, tenantID uuid.UUID, reason string, at time.Time) (int, error) {
	return q.count(ctx, "session", `
		WITH b AS (
			UPDATE browser_sessions SET revoked_at = $2, revoked_reason = $3
			WHERE tenant_id = $1 AND revoked_at IS NULL
			RETURNING id
		), s AS (
			UPDATE sessions SET revoked_at = $2, revoked_reason = $3
			WHERE tenant_id = $1 AND revoked_at IS NULL
			RETURNING id
		)
		SELECT (SELECT count(*) FROM b) + (SELECT count(*) FROM s)`, tenantID, at, reason)
}
