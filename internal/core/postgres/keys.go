package postgres

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// signingKeysLock is the advisory lock id that serializes key rotation
// across every server sharing the database ("idp_keys" in ASCII).
const signingKeysLock int64 = 0x6964705f6b657973

type keyRow struct {
	KID           string       `db:"kid"`
	State         string       `db:"state"`
	Public        []byte       `db:"public_key"`
	PrivateSealed []byte       `db:"private_key_sealed"`
	CreatedAt     time.Time    `db:"created_at"`
	ActivatedAt   sql.NullTime `db:"activated_at"`
	RetiredAt     sql.NullTime `db:"retired_at"`
	ExpiresAt     sql.NullTime `db:"expires_at"`
}

const keyCols = `kid, state, public_key, private_key_sealed, created_at, activated_at, retired_at, expires_at`

func (r keyRow) key() core.SigningKey {
	return core.SigningKey{
		KID:           r.KID,
		State:         core.KeyState(r.State),
		Public:        ed25519.PublicKey(r.Public),
		PrivateSealed: r.PrivateSealed,
		CreatedAt:     r.CreatedAt.UTC(),
		ActivatedAt:   timePtr(r.ActivatedAt),
		RetiredAt:     timePtr(r.RetiredAt),
		ExpiresAt:     timePtr(r.ExpiresAt),
	}
}

// LockSigningKeys takes a transaction-scoped advisory lock, so a second
// caller waits until the first commits or rolls back, then reads every key.
// It only serializes anything inside InTx: called on the Store directly, the
// lock ends with its own autocommit statement.
func (q queries) LockSigningKeys(ctx context.Context) ([]core.SigningKey, error) {
	if _, err := q.x.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, signingKeysLock); err != nil {
		return nil, classify(err, "signing key lock")
	}
	return q.ListSigningKeys(ctx)
}

// ListSigningKeys returns every key, oldest first.
func (q queries) ListSigningKeys(ctx context.Context) ([]core.SigningKey, error) {
	var rows []keyRow
	if err := q.sel(ctx, "signing key", &rows, `SELECT `+keyCols+` FROM signing_keys ORDER BY created_at, kid`); err != nil {
		return nil, err
	}
	out := make([]core.SigningKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.key())
	}
	return out, nil
}

// InsertSigningKey inserts k, filling CreatedAt when zero. A duplicate kid,
// or a second active or next key (signing_keys_one_active), is ECONFLICT.
func (q queries) InsertSigningKey(ctx context.Context, k *core.SigningKey) error {
	var createdAt time.Time
	err := q.get(ctx, "signing key", &createdAt, `
		INSERT INTO signing_keys (kid, state, public_key, private_key_sealed,
			created_at, activated_at, retired_at, expires_at)
		VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6, $7, $8)
		RETURNING created_at`,
		k.KID, string(k.State), []byte(k.Public), k.PrivateSealed, nullTime(k.CreatedAt),
		k.ActivatedAt, k.RetiredAt, k.ExpiresAt)
	if err != nil {
		return err
	}
	k.CreatedAt = createdAt.UTC()
	return nil
}

// UpdateSigningKey stores k's state and dates (its key material never
// changes).
func (q queries) UpdateSigningKey(ctx context.Context, k *core.SigningKey) error {
	return q.execOne(ctx, "signing key", `
		UPDATE signing_keys SET state = $2, activated_at = $3, retired_at = $4, expires_at = $5
		WHERE kid = $1`, k.KID, string(k.State), k.ActivatedAt, k.RetiredAt, k.ExpiresAt)
}
