package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
)

type resetRow struct {
	ID        uuid.UUID    `db:"id"`
	UserID    uuid.UUID    `db:"user_id"`
	Hash      []byte       `db:"token_hash"`
	CreatedAt time.Time    `db:"created_at"`
	ExpiresAt time.Time    `db:"expires_at"`
	UsedAt    sql.NullTime `db:"used_at"`
}

const resetCols = `id, user_id, token_hash, created_at, expires_at, used_at`

func (r resetRow) token() core.ResetToken {
	return core.ResetToken{
		ID:        r.ID,
		UserID:    r.UserID,
		Hash:      r.Hash,
		CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: r.ExpiresAt.UTC(),
		UsedAt:    timePtr(r.UsedAt),
	}
}

// CreateResetToken inserts t, filling ID and, when zero, CreatedAt.
func (q queries) CreateResetToken(ctx context.Context, t *core.ResetToken) error {
	fillID(&t.ID)
	var r resetRow
	err := q.get(ctx, "reset token", &r, `
		INSERT INTO password_reset_tokens (id, user_id, token_hash, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, COALESCE($4, now()), $5, $6)
		RETURNING `+resetCols,
		t.ID, t.UserID, t.Hash, nullTime(t.CreatedAt), t.ExpiresAt, t.UsedAt)
	if err != nil {
		return err
	}
	*t = r.token()
	return nil
}

func (q queries) VoidResetTokens(ctx context.Context, userID uuid.UUID, at time.Time) error {
	_, err := q.exec(ctx, "reset token", `
		UPDATE password_reset_tokens SET voided_at = $2
		WHERE user_id = $1 AND used_at IS NULL AND voided_at IS NULL`, userID, at)
	return err
}

// UseResetToken is single-use under concurrency: the row lock makes every
// caller but the first re-check used_at, find it set and match no row.
func (q queries) UseResetToken(ctx context.Context, hash []byte, now time.Time) (core.ResetToken, error) {
	var r resetRow
	err := q.get(ctx, "reset token", &r, `
		UPDATE password_reset_tokens SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND voided_at IS NULL AND expires_at > $2
		RETURNING `+resetCols, hash, now)
	if err != nil {
		return core.ResetToken{}, err
	}
	return r.token(), nil
}
