package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
)

type browserRow struct {
	ID            uuid.UUID    `db:"b_id"`
	UserID        uuid.UUID    `db:"b_user_id"`
	TenantID      uuid.UUID    `db:"b_tenant_id"`
	Hash          []byte       `db:"b_token_hash"`
	CreatedAt     time.Time    `db:"b_created_at"`
	AuthTime      time.Time    `db:"b_auth_time"`
	ExpiresAt     time.Time    `db:"b_expires_at"`
	IdleExpiresAt time.Time    `db:"b_idle_expires_at"`
	LastUsedAt    time.Time    `db:"b_last_used_at"`
	Remember      bool         `db:"b_remember"`
	RevokedAt     sql.NullTime `db:"b_revoked_at"`
	RevokedReason string       `db:"b_revoked_reason"`
	ClientIP      string       `db:"b_client_ip"`
	UserAgent     string       `db:"b_user_agent"`
}

const browserCols = `b.id AS b_id, b.user_id AS b_user_id, b.tenant_id AS b_tenant_id,
	b.token_hash AS b_token_hash, b.created_at AS b_created_at, b.auth_time AS b_auth_time,
	b.expires_at AS b_expires_at, b.idle_expires_at AS b_idle_expires_at,
	b.last_used_at AS b_last_used_at, b.remember AS b_remember, b.revoked_at AS b_revoked_at,
	COALESCE(b.revoked_reason, '') AS b_revoked_reason, b.client_ip AS b_client_ip,
	b.user_agent AS b_user_agent`

func (r browserRow) session() core.BrowserSession {
	return core.BrowserSession{
		ID: r.ID, UserID: r.UserID, TenantID: r.TenantID, Hash: r.Hash,
		CreatedAt: r.CreatedAt.UTC(), AuthTime: r.AuthTime.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		IdleExpiresAt: r.IdleExpiresAt.UTC(), LastUsedAt: r.LastUsedAt.UTC(), Remember: r.Remember,
		RevokedAt: timePtr(r.RevokedAt), RevokedReason: r.RevokedReason,
		ClientIP: r.ClientIP, UserAgent: r.UserAgent,
	}
}

// CreateBrowserSession inserts b, filling ID and, when zero, the times.
func (q queries) CreateBrowserSession(ctx context.Context, b *core.BrowserSession) error {
	fillID(&b.ID)
	var r browserRow
	err := q.get(ctx, "browser session", &r, `
		INSERT INTO browser_sessions AS b (id, user_id, tenant_id, token_hash, created_at, auth_time,
			expires_at, idle_expires_at, last_used_at, remember, client_ip, user_agent)
		VALUES ($1, $2, $3, $4, COALESCE($5, now()), COALESCE($6, $5, now()), $7, $8,
			COALESCE($9, $5, now()), $10, $11, $12)
		RETURNING `+browserCols,
		b.ID, b.UserID, b.TenantID, b.Hash, nullTime(b.CreatedAt), nullTime(b.AuthTime),
		b.ExpiresAt, b.IdleExpiresAt, nullTime(b.LastUsedAt), b.Remember, b.ClientIP, b.UserAgent)
	if err != nil {
		return err
	}
	*b = r.session()
	return nil
}

// BrowserSessionByHash is the hot path of every signed-in page: one query
// for the session, its user and the user's tenant.
func (q queries) BrowserSessionByHash(ctx context.Context, hash []byte) (core.BrowserSession, core.User, error) {
	var r struct {
		browserRow
		userRow
	}
	err := q.get(ctx, "browser session", &r, `
		SELECT `+browserCols+`, `+userCols+`
		FROM browser_sessions b
		JOIN users u ON u.id = b.user_id
		JOIN tenants t ON t.id = u.tenant_id
		LEFT JOIN user_profiles p ON p.user_id = u.id
		WHERE b.token_hash = $1`, hash)
	if err != nil {
		return core.BrowserSession{}, core.User{}, err
	}
	return r.browserRow.session(), r.user(), nil
}

func (q queries) BrowserSessionByID(ctx context.Context, id uuid.UUID) (core.BrowserSession, error) {
	var r browserRow
	if err := q.get(ctx, "browser session", &r, `SELECT `+browserCols+` FROM browser_sessions b WHERE b.id = $1`, id); err != nil {
		return core.BrowserSession{}, err
	}
	return r.session(), nil
}

func (q queries) TouchBrowserSession(ctx context.Context, id uuid.UUID, usedAt, idleExpiresAt time.Time) error {
	return q.execOne(ctx, "browser session", `
		UPDATE browser_sessions SET last_used_at = $2, idle_expires_at = $3
		WHERE id = $1 AND revoked_at IS NULL`, id, usedAt, idleExpiresAt)
}

// ListLiveSessions serves the account page: the user's live sessions of
// both kinds.
func (q queries) ListLiveSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]core.Session, []core.BrowserSession, error) {
	var srows []sessionRow
	if err := q.sel(ctx, "session", &srows, `SELECT `+sessionCols+` FROM sessions s
		WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.idle_expires_at > $2
		ORDER BY s.last_used_at DESC, s.id`, userID, now); err != nil {
		return nil, nil, err
	}
	var brows []browserRow
	if err := q.sel(ctx, "browser session", &brows, `SELECT `+browserCols+` FROM browser_sessions b
		WHERE b.user_id = $1 AND b.revoked_at IS NULL AND b.expires_at > $2 AND b.idle_expires_at > $2
		ORDER BY b.last_used_at DESC, b.id`, userID, now); err != nil {
		return nil, nil, err
	}
	sessions := make([]core.Session, 0, len(srows))
	for _, r := range srows {
		sessions = append(sessions, r.session())
	}
	browsers := make([]core.BrowserSession, 0, len(brows))
	for _, r := range brows {
		browsers = append(browsers, r.session())
	}
	return sessions, browsers, nil
}
