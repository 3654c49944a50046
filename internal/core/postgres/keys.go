package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// signingKeysLock is the advisory lock id that serializes key rotation
// across every server sharing the database ("idp_keys" in ASCII). It covers
// the keys of every algorithm.
const signingKeysLock int64 = 0x6964705f6b657973

// keyTables maps an algorithm to the table of its keys: Ed25519 keys stay
// in signing_keys, which the previous release reads (migrations/0010).
var keyTables = map[string]string{
	core.AlgEdDSA: "signing_keys",
	core.AlgRS256: "rsa_signing_keys",
}

type keyRow struct {
	Alg           string       `db:"alg"`
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
		Alg:           r.Alg,
		KID:           r.KID,
		State:         core.KeyState(r.State),
		Public:        r.Public,
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

// ListSigningKeys returns every key of every algorithm, oldest first.
func (q queries) ListSigningKeys(ctx context.Context) ([]core.SigningKey, error) {
	var rows []keyRow
	if err := q.sel(ctx, "signing key", &rows, `
		SELECT 'EdDSA' AS alg, `+keyCols+` FROM signing_keys
		UNION ALL
		SELECT 'RS256' AS alg, `+keyCols+` FROM rsa_signing_keys
		ORDER BY created_at, alg, kid`); err != nil {
		return nil, err
	}
	out := make([]core.SigningKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.key())
	}
	return out, nil
}

func keyTable(alg string) (string, error) {
	table, ok := keyTables[alg]
	if !ok {
		return "", &core.Error{Code: core.EINVALID, Message: "invalid signing key: unknown algorithm"}
	}
	return table, nil
}

// InsertSigningKey inserts k, filling CreatedAt when zero. A duplicate kid,
// or a second active or next key of its algorithm (signing_keys_one_active,
// rsa_signing_keys_one_active), is ECONFLICT; an unknown Alg is EINVALID.
func (q queries) InsertSigningKey(ctx context.Context, k *core.SigningKey) error {
	table, err := keyTable(k.Alg)
	if err != nil {
		return err
	}
	var createdAt time.Time
	err = q.get(ctx, "signing key", &createdAt, `
		INSERT INTO `+table+` (kid, state, public_key, private_key_sealed,
			created_at, activated_at, retired_at, expires_at)
		VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6, $7, $8)
		RETURNING created_at`,
		k.KID, string(k.State), k.Public, k.PrivateSealed, nullTime(k.CreatedAt),
		k.ActivatedAt, k.RetiredAt, k.ExpiresAt)
	if err != nil {
		return err
	}
	k.CreatedAt = createdAt.UTC()
	return nil
}

// UpdateSigningKey stores k's state and dates (its key material and
// algorithm never change).
func (q queries) UpdateSigningKey(ctx context.Context, k *core.SigningKey) error {
	table, err := keyTable(k.Alg)
	if err != nil {
		return err
	}
	return q.execOne(ctx, "signing key", `
		UPDATE `+table+` SET state = $2, activated_at = $3, retired_at = $4, expires_at = $5
		WHERE kid = $1`, k.KID, string(k.State), k.ActivatedAt, k.RetiredAt, k.ExpiresAt)
}
