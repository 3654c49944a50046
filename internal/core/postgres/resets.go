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
	Kind      string       `db:"kind"`
	Hash      []byte       `db:"token_hash"`
	CreatedAt time.Time    `db:"created_at"`
	ExpiresAt time.Time    `db:"expires_at"`
	UsedAt    sql.NullTime `db:"used_at"`
}

const resetCols = `id, user_id, kind, token_hash, created_at, expires_at, used_at`

func (r resetRow) token() core.ResetToken {
	return core.ResetToken{
		ID:        r.ID,
		UserID:    r.UserID,
		Kind:      r.Kind,
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
		INSERT INTO password_reset_tokens (id, user_id, kind, token_hash, created_at, expires_at, used_at)
		VALUES ($1, $2, COALESCE(NULLIF($3, ''), 'reset'), $4, COALESCE($5, now()), $6, $7)
		RETURNING `+resetCols,
		t.ID, t.UserID, t.Kind, t.Hash, nullTime(t.CreatedAt), t.ExpiresAt, t.UsedAt)
	if err != nil {
		return err
	}
	*t = r.token()
	return nil
}

func (q queries) VoidResetTokens(ctx context.Context, userID uuid.UUID, kind string, at time.Time) error {
	_, err := q.exec(ctx, "reset token", `
		UPDATE password_reset_tokens SET voided_at = $2
		WHERE user_id = $1 AND used_at IS NULL AND voided_at IS NULL AND ($3 = '' OR kind = $3)`, userID, at, kind)
	return err
}

// RecordResetRequest runs as one statement for every request, whether or
// not it names an account: the token and the mail are only written when
// UserID is set, the audit row always.
func (q queries) RecordResetRequest(ctx context.Context, r core.ResetRequest) error {
	t, m := r.Token, r.Mail
	args := append([]any{r.UserID, r.VoidKind, t.ID, t.Kind, t.Hash, nullTime(t.CreatedAt), t.ExpiresAt,
		m.Kind, m.Payload, nullTime(m.CreatedAt)}, auditArgs(r.Event)...)
	_, err := q.exec(ctx, "reset request", `
		WITH target AS (
			SELECT $1::uuid AS user_id WHERE $1::uuid IS NOT NULL
		), voided AS (
			UPDATE password_reset_tokens p SET voided_at = COALESCE($6::timestamptz, now())
			FROM target
			WHERE p.user_id = target.user_id AND $2::text <> '' AND p.kind = $2::text
				AND p.used_at IS NULL AND p.voided_at IS NULL
		), tok AS (
			INSERT INTO password_reset_tokens (id, user_id, kind, token_hash, created_at, expires_at)
			SELECT $3::uuid, target.user_id, $4::text, $5::bytea, COALESCE($6::timestamptz, now()), $7::timestamptz
			FROM target
		), mail AS (
			INSERT INTO mail_outbox (kind, payload, created_at, next_attempt_at)
			SELECT $8::text, $9::bytea, COALESCE($10::timestamptz, now()), COALESCE($10::timestamptz, now()) FROM target
		)
		INSERT INTO user_login_events (`+auditInsertCols+`)
		VALUES (`+auditValues(11)+`)`, args...)
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
