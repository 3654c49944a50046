package postgres_test

import (
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// TestSigningKeysPerAlgorithm: each algorithm has its own active and next
// key, the RS256 rows keep their algorithm and DER public key through a
// round trip, and the table they live in checks them.
func TestSigningKeysPerAlgorithm(t *testing.T) {
	t.Parallel()
	s, db := mustStore(t)

	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range []core.SigningKey{
		key("ed-a", core.KeyActive), key("ed-n", core.KeyNext),
		rsaKey("rs-a", core.KeyActive), rsaKey("rs-n", core.KeyNext),
	} {
		k.CreatedAt = past
		ok(t, s.InsertSigningKey(ctx, &k))
	}

	for _, tc := range []struct {
		name string
		k    core.SigningKey
		code core.Code
	}{
		{"second RS256 active", rsaKey("rs-a2", core.KeyActive), core.ECONFLICT},
		{"second RS256 next", rsaKey("rs-n2", core.KeyNext), core.ECONFLICT},
		{"duplicate RS256 kid", rsaKey("rs-a", core.KeyRetired), core.ECONFLICT},
		{"RS256 retired ok", rsaKey("rs-r", core.KeyRetired), ""},
		{"RS256 public key of Ed25519 size", func() core.SigningKey {
			k := rsaKey("rs-short", core.KeyRetired)
			k.Public = make([]byte, 32)
			return k
		}(), core.EINVALID},
		{"RS256 public key too large", func() core.SigningKey {
			k := rsaKey("rs-huge", core.KeyRetired)
			k.Public = make([]byte, 1101)
			return k
		}(), core.EINVALID},
		{"Ed25519 public key of RSA size", func() core.SigningKey {
			k := key("ed-long", core.KeyRetired)
			k.Public = make([]byte, 398)
			return k
		}(), core.EINVALID},
		{"unknown algorithm", func() core.SigningKey { k := key("x", core.KeyRetired); k.Alg = "HS256"; return k }(), core.EINVALID},
		{"no algorithm", func() core.SigningKey { k := key("y", core.KeyRetired); k.Alg = ""; return k }(), core.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.k
			wantCode(t, s.InsertSigningKey(ctx, &k), tc.code)
		})
	}

	keys, err := s.ListSigningKeys(ctx)
	ok(t, err)
	byKID := map[string]core.SigningKey{}
	for _, k := range keys {
		byKID[k.KID] = k
	}
	if len(keys) != 5 || byKID["rs-a"].Alg != core.AlgRS256 || byKID["ed-a"].Alg != core.AlgEdDSA ||
		len(byKID["rs-a"].Public) != 398 || string(byKID["rs-a"].PrivateSealed) != "sealed-rs-a" || !byKID["rs-a"].CreatedAt.Equal(past) {
		t.Fatalf("ListSigningKeys = %+v", keys)
	}
	// Oldest first; the newer retired key comes last.
	if keys[4].KID != "rs-r" {
		t.Errorf("order: %+v", keys)
	}

	// An update names the algorithm's table: the RS256 rotation leaves the
	// Ed25519 keys alone, and an Alg that doesn't match the row finds no row.
	ok(t, s.InTx(ctx, func(tx core.Tx) error {
		if _, err := tx.LockSigningKeys(ctx); err != nil {
			return err
		}
		a, n := byKID["rs-a"], byKID["rs-n"]
		a.State, a.RetiredAt, a.ExpiresAt = core.KeyRetired, ptr(at(10)), ptr(at(70))
		if err := tx.UpdateSigningKey(ctx, &a); err != nil {
			return err
		}
		n.State, n.ActivatedAt = core.KeyActive, ptr(at(10))
		return tx.UpdateSigningKey(ctx, &n)
	}))
	wrong := byKID["ed-n"]
	wrong.Alg = core.AlgRS256
	wantCode(t, s.UpdateSigningKey(ctx, &wrong), core.ENOTFOUND)
	wrong.Alg = "HS256"
	wantCode(t, s.UpdateSigningKey(ctx, &wrong), core.EINVALID)

	var states []string
	ok(t, db.SelectContext(ctx, &states, `SELECT kid || ':' || state FROM signing_keys ORDER BY kid`))
	if want := []string{"ed-a:active", "ed-n:next"}; len(states) != 2 || states[0] != want[0] || states[1] != want[1] {
		t.Errorf("Ed25519 keys after the RS256 rotation: %v", states)
	}
	ok(t, db.SelectContext(ctx, &states, `SELECT kid || ':' || state FROM rsa_signing_keys ORDER BY kid`))
	if want := "rs-a:retired rs-n:active rs-r:retired"; len(states) != 3 || states[0]+" "+states[1]+" "+states[2] != want {
		t.Errorf("RS256 keys after their rotation: %v", states)
	}
}
