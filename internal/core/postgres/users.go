package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/idp-dev/idp/internal/core"
)

type userRow struct {
	ID                 uuid.UUID      `db:"id"`
	TenantID           uuid.UUID      `db:"tenant_id"`
	TenantSlug         string         `db:"tenant_slug"`
	TenantStatus       string         `db:"tenant_status"`
	Email              string         `db:"email"`
	PasswordHash       string         `db:"password_hash"`
	Status             string         `db:"status"`
	Roles              pq.StringArray `db:"roles"`
	DisplayName        string         `db:"display_name"`
	MustChangePassword bool           `db:"must_change_password"`
	PasswordExpiresAt  sql.NullTime   `db:"password_expires_at"`
	Seeded             bool           `db:"seeded"`
	LockedUntil        sql.NullTime   `db:"locked_until"`
	LockLevel          int            `db:"lock_level"`
	LastLoginAt        sql.NullTime   `db:"last_login_at"`
	EmailVerifiedAt    sql.NullTime   `db:"email_verified_at"`
	CreatedAt          time.Time      `db:"created_at"`
	UpdatedAt          time.Time      `db:"updated_at"`
}

func (r userRow) user() core.User {
	roles := []string(r.Roles)
	if roles == nil {
		roles = []string{}
	}
	return core.User{
		ID:                 r.ID,
		TenantID:           r.TenantID,
		TenantSlug:         r.TenantSlug,
		TenantStatus:       core.TenantStatus(r.TenantStatus),
		Email:              r.Email,
		PasswordHash:       r.PasswordHash,
		Status:             core.UserStatus(r.Status),
		Roles:              roles,
		DisplayName:        r.DisplayName,
		MustChangePassword: r.MustChangePassword,
		PasswordExpiresAt:  timePtr(r.PasswordExpiresAt),
		Seeded:             r.Seeded,
		LockedUntil:        timePtr(r.LockedUntil),
		LockLevel:          r.LockLevel,
		LastLoginAt:        timePtr(r.LastLoginAt),
		EmailVerifiedAt:    timePtr(r.EmailVerifiedAt),
		CreatedAt:          r.CreatedAt.UTC(),
		UpdatedAt:          r.UpdatedAt.UTC(),
	}
}

// userColsBase are a user's columns over users u JOIN tenants t, all but
// display_name, which is joined differently in SpendRefreshToken.
// password_hash is NULL while a user is pending; core sees "".
const userColsBase = `u.id, u.tenant_id, t.slug AS tenant_slug, t.status AS tenant_status,
	u.email, COALESCE(u.password_hash, '') AS password_hash, u.status, u.roles,
	u.must_change_password, u.password_expires_at, u.seeded, u.locked_until,
	u.lock_level, u.last_login_at, u.email_verified_at, u.created_at, u.updated_at`

const (
	userCols = userColsBase + `, COALESCE(p.display_name, '') AS display_name`
	userFrom = `users u
	JOIN tenants t ON t.id = u.tenant_id
	LEFT JOIN user_profiles p ON p.user_id = u.id`
)

func roles(r []string) pq.StringArray {
	if r == nil {
		return pq.StringArray{} // NULL would break roles NOT NULL
	}
	return pq.StringArray(r)
}

// CreateUser inserts the user and its profile in one statement, so the pair
// is atomic even outside InTx. It fills ID, CreatedAt, UpdatedAt and the
// tenant fields; an empty Status takes the column default (active).
func (q queries) CreateUser(ctx context.Context, u *core.User) error {
	fillID(&u.ID)
	var r struct {
		CreatedAt    time.Time `db:"created_at"`
		UpdatedAt    time.Time `db:"updated_at"`
		TenantSlug   string    `db:"tenant_slug"`
		TenantStatus string    `db:"tenant_status"`
	}
	err := q.get(ctx, "user", &r, `
		WITH u AS (
			INSERT INTO users (id, tenant_id, email, password_hash, status, roles,
				must_change_password, password_expires_at, seeded, locked_until,
				lock_level, last_login_at, created_at, updated_at)
			VALUES ($1, $2, $3, NULLIF($4, ''), COALESCE(NULLIF($5, ''), 'active'), $6,
				$7, $8, $9, $10, $11, $12, COALESCE($13, now()), COALESCE($13, now()))
			RETURNING id, tenant_id, created_at, updated_at
		), p AS (
			INSERT INTO user_profiles (user_id, display_name)
			SELECT id, $14::text FROM u
		)
		SELECT u.created_at, u.updated_at, t.slug AS tenant_slug, t.status AS tenant_status
		FROM u JOIN tenants t ON t.id = u.tenant_id`,
		u.ID, u.TenantID, u.Email, u.PasswordHash, string(u.Status), roles(u.Roles),
		u.MustChangePassword, u.PasswordExpiresAt, u.Seeded, u.LockedUntil,
		u.LockLevel, u.LastLoginAt, nullTime(u.CreatedAt), u.DisplayName)
	if err != nil {
		return err
	}
	u.CreatedAt, u.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	u.TenantSlug, u.TenantStatus = r.TenantSlug, core.TenantStatus(r.TenantStatus)
	if u.Status == "" {
		u.Status = core.UserActive
	}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return nil
}

func (q queries) user(ctx context.Context, where string, args ...any) (core.User, error) {
	var r userRow
	if err := q.get(ctx, "user", &r, `SELECT `+userCols+` FROM `+userFrom+` WHERE `+where, args...); err != nil {
		return core.User{}, err
	}
	return r.user(), nil
}

// UserByEmail compares lower(email) so users_tenant_email_key serves it.
func (q queries) UserByEmail(ctx context.Context, tenantSlug, email string) (core.User, error) {
	return q.user(ctx, `t.slug = $1 AND lower(u.email) = lower($2)`, tenantSlug, email)
}

func (q queries) UserByID(ctx context.Context, id uuid.UUID) (core.User, error) {
	return q.user(ctx, `u.id = $1`, id)
}

// SeededAdmin takes the oldest seeded user should there ever be several.
func (q queries) SeededAdmin(ctx context.Context, tenantID uuid.UUID) (core.User, error) {
	return q.user(ctx, `u.tenant_id = $1 AND u.seeded ORDER BY u.created_at, u.id LIMIT 1`, tenantID)
}

func (q queries) UserBySession(ctx context.Context, sessionID uuid.UUID) (core.User, core.Session, error) {
	var r struct {
		userRow
		sessionRow
	}
	err := q.get(ctx, "session", &r, `
		SELECT `+userCols+`, `+sessionCols+`
		FROM sessions s
		JOIN users u ON u.id = s.user_id
		JOIN tenants t ON t.id = u.tenant_id
		LEFT JOIN user_profiles p ON p.user_id = u.id
		WHERE s.id = $1`, sessionID)
	if err != nil {
		return core.User{}, core.Session{}, err
	}
	return r.user(), r.session(), nil
}

// ListUsers returns every user, or those of one tenant, by tenant slug and
// email.
func (q queries) ListUsers(ctx context.Context, tenantID *uuid.UUID) ([]core.User, error) {
	var rows []userRow
	err := q.sel(ctx, "user", &rows, `SELECT `+userCols+` FROM `+userFrom+`
		WHERE $1::uuid IS NULL OR u.tenant_id = $1
		ORDER BY t.slug, u.email, u.id`, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]core.User, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.user())
	}
	return out, nil
}

func (q queries) HasAdmin(ctx context.Context, tenantID uuid.UUID) (bool, error) {
	var ok bool
	err := q.get(ctx, "user", &ok,
		`SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND $2 = ANY (roles))`,
		tenantID, core.RoleAdmin)
	return ok, err
}

func (q queries) SetUserStatus(ctx context.Context, id uuid.UUID, status core.UserStatus) error {
	return q.execOne(ctx, "user",
		`UPDATE users SET status = $2, updated_at = now() WHERE id = $1`, id, string(status))
}

// SetPassword stores hash ("" clears it, as for a pending user).
func (q queries) SetPassword(ctx context.Context, id uuid.UUID, hash string, mustChange bool, expiresAt *time.Time) error {
	return q.execOne(ctx, "user", `
		UPDATE users SET password_hash = NULLIF($2, ''), must_change_password = $3,
			password_expires_at = $4, updated_at = now()
		WHERE id = $1`, id, hash, mustChange, expiresAt)
}

// SetUserLock leaves updated_at alone: a lock is login bookkeeping, not an
// account change.
func (q queries) SetUserLock(ctx context.Context, id uuid.UUID, lockedUntil *time.Time, level int) error {
	return q.execOne(ctx, "user",
		`UPDATE users SET locked_until = $2, lock_level = $3 WHERE id = $1`, id, lockedUntil, level)
}

func (q queries) RecordLogin(ctx context.Context, id uuid.UUID, at time.Time, newHash string) error {
	return q.execOne(ctx, "user", `
		UPDATE users SET last_login_at = $2,
			password_hash = COALESCE(NULLIF($3::text, ''), password_hash)
		WHERE id = $1`, id, at, newHash)
}

func (q queries) MarkEmailVerified(ctx context.Context, id uuid.UUID, at time.Time) error {
	return q.execOne(ctx, "user",
		`UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1`, id, at)
}

func (q queries) SourceLock(ctx context.Context, userID uuid.UUID, source string) (*time.Time, error) {
	var until sql.NullTime
	err := q.get(ctx, "lock", &until,
		`SELECT locked_until FROM login_source_locks WHERE user_id = $1 AND source = $2`, userID, source)
	if err != nil {
		if core.ErrorCode(err) == core.ENOTFOUND {
			return nil, nil
		}
		return nil, err
	}
	return timePtr(until), nil
}

func (q queries) SetSourceLock(ctx context.Context, userID uuid.UUID, source string, until time.Time) error {
	_, err := q.exec(ctx, "lock", `
		INSERT INTO login_source_locks (user_id, source, locked_until) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, source) DO UPDATE SET locked_until = EXCLUDED.locked_until`, userID, source, until)
	return err
}

func (q queries) ClearSourceLocks(ctx context.Context, userID uuid.UUID) error {
	_, err := q.exec(ctx, "lock", `DELETE FROM login_source_locks WHERE user_id = $1`, userID)
	return err
}

// ListUsersPage walks users_tenant_email_key in order (tenant, then
// lower(email)); the filters are checked on the way and an empty one
// matches everything, so the statement is one prepared plan. Emails are
// stored normalized (lower case), so lower(email) orders them as email.
func (q queries) ListUsersPage(ctx context.Context, f core.UserFilter) ([]core.User, error) {
	var rows []userRow
	err := q.sel(ctx, "user", &rows, `SELECT `+userCols+` FROM `+userFrom+`
		WHERE u.tenant_id = $1
			AND ($2 = '' OR u.status = $2)
			AND ($3 = '' OR u.roles @> ARRAY[$3::text])
			AND ($4 = '' OR starts_with(lower(u.email), $4))
			AND ($5 = '' OR (lower(u.email), u.id) > ($5, $6::uuid))
		ORDER BY lower(u.email), u.id
		LIMIT $7`,
		f.TenantID, string(f.Status), f.Role, f.EmailPrefix, f.AfterEmail, f.AfterID, f.Limit)
	if err != nil {
		return nil, err
	}
	out := make([]core.User, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.user())
	}
	return out, nil
}

func (q queries) SetUserRoles(ctx context.Context, id uuid.UUID, r []string) error {
	return q.execOne(ctx, "user", `UPDATE users SET roles = $2, updated_at = now() WHERE id = $1`, id, roles(r))
}

// SetDisplayName writes the profile, creating it if a user has none.
func (q queries) SetDisplayName(ctx context.Context, id uuid.UUID, name string) error {
	_, err := q.exec(ctx, "user", `
		INSERT INTO user_profiles (user_id, display_name, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (user_id) DO UPDATE SET display_name = EXCLUDED.display_name, updated_at = now()`, id, name)
	return err
}
