package postgres

import (
	"context"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// EnqueueMail queues m, due at once, filling ID and, when zero, CreatedAt.
func (q queries) EnqueueMail(ctx context.Context, m *core.OutboxMail) error {
	var r struct {
		ID        int64     `db:"id"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := q.get(ctx, "mail", &r,
		`INSERT INTO mail_outbox (kind, payload, created_at, next_attempt_at)
		VALUES ($1, $2, COALESCE($3, now()), COALESCE($3, now())) RETURNING id, created_at`,
		m.Kind, m.Payload, nullTime(m.CreatedAt)); err != nil {
		return err
	}
	m.ID, m.CreatedAt = r.ID, r.CreatedAt.UTC()
	return nil
}

// ClaimMail takes due mails in queue order. SKIP LOCKED lets several
// workers claim at once without waiting for or taking each other's rows.
func (q queries) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]core.OutboxMail, error) {
	var rows []struct {
		ID        int64     `db:"id"`
		Kind      string    `db:"kind"`
		Payload   []byte    `db:"payload"`
		Attempts  int       `db:"attempts"`
		CreatedAt time.Time `db:"created_at"`
	}
	err := q.sel(ctx, "mail", &rows, `
		UPDATE mail_outbox SET locked_until = $1::timestamptz + $2 * interval '1 millisecond'
		WHERE id IN (
			SELECT id FROM mail_outbox
			WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
				AND (locked_until IS NULL OR locked_until <= $1)
			ORDER BY id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		RETURNING id, kind, payload, attempts, created_at`, now, lease.Milliseconds(), limit)
	if err != nil {
		return nil, err
	}
	out := make([]core.OutboxMail, 0, len(rows))
	for _, r := range rows {
		out = append(out, core.OutboxMail{ID: r.ID, Kind: r.Kind, Payload: r.Payload, Attempts: r.Attempts, CreatedAt: r.CreatedAt.UTC()})
	}
	return out, nil
}

func (q queries) MailSent(ctx context.Context, id int64, at time.Time) error {
	return q.execOne(ctx, "mail", `
		UPDATE mail_outbox SET sent_at = $2, payload = NULL, locked_until = NULL, attempts = attempts + 1
		WHERE id = $1`, id, at)
}

func (q queries) MailRetry(ctx context.Context, id int64, next time.Time, lastErr string, failed bool) error {
	return q.execOne(ctx, "mail", `
		UPDATE mail_outbox SET attempts = attempts + 1, locked_until = NULL, last_error = $3::text,
			next_attempt_at = $2::timestamptz,
			failed_at = CASE WHEN $4::boolean THEN $2::timestamptz END,
			payload = CASE WHEN $4::boolean THEN NULL ELSE payload END
		WHERE id = $1`, id, next, lastErr, failed)
}
