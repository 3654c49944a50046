package core_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/token"
)

// activeRSAKey opens the active RS256 key from the database, as an attacker
// holding the database and keys.encryption_key could.
func activeRSAKey(t *testing.T, h *harness) token.RSAKey {
	t.Helper()
	var row struct {
		KID    string `db:"kid"`
		Sealed []byte `db:"private_key_sealed"`
	}
	if err := h.db.Get(&row, `SELECT kid, private_key_sealed FROM rsa_signing_keys WHERE state = 'active'`); err != nil {
		t.Fatal(err)
	}
	der, err := h.deps.Sealer.Open(row.Sealed, []byte(row.KID))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := token.ParseRSAPrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return token.RSAKey{ID: row.KID, Private: priv}
}

// keysByAlg lists the kids of each state of alg, as `idp keys list` does.
func keysByAlg(t *testing.T, svcs *core.Services, alg string) map[core.KeyState][]string {
	t.Helper()
	infos, err := svcs.Keys.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[core.KeyState][]string{}
	for _, k := range infos {
		if k.Alg == alg {
			out[k.State] = append(out[k.State], k.KID)
		}
	}
	return out
}

func jwksMembers(t *testing.T, svcs *core.Services) []map[string]any {
	t.Helper()
	raw, _, err := svcs.Keys.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	return set.Keys
}

func TestKeysOfEachAlgorithm(t *testing.T) {
	h := newHarness(t)
	ed := keysByAlg(t, h.svcs, core.AlgEdDSA)
	rs := keysByAlg(t, h.svcs, core.AlgRS256)
	for alg, ks := range map[string]map[core.KeyState][]string{"EdDSA": ed, "RS256": rs} {
		if len(ks[core.KeyActive]) != 1 || len(ks[core.KeyNext]) != 1 || len(ks) != 2 {
			t.Fatalf("%s keys after Ensure: %v", alg, ks)
		}
	}
	if got := h.svcs.Keys.ActiveKID(); got != ed[core.KeyActive][0] {
		t.Errorf("ActiveKID = %s, want the active EdDSA key %s", got, ed[core.KeyActive][0])
	}

	// The JWKS: EdDSA active, next, then RS256 active, next; exactly the
	// public members.
	members := jwksMembers(t, h.svcs)
	wantKIDs := []string{ed[core.KeyActive][0], ed[core.KeyNext][0], rs[core.KeyActive][0], rs[core.KeyNext][0]}
	var kids []string
	for i, m := range members {
		kids = append(kids, m["kid"].(string))
		var names []string
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		want := []string{"alg", "crv", "kid", "kty", "use", "x"}
		if i >= 2 {
			want = []string{"alg", "e", "kid", "kty", "n", "use"}
			if m["kty"] != "RSA" || m["alg"] != "RS256" || m["e"] != "AQAB" || len(m["n"].(string)) != 512 {
				t.Errorf("RSA JWK %v", m)
			}
		} else if m["kty"] != "OKP" || m["crv"] != "Ed25519" || m["alg"] != "EdDSA" || len(m["x"].(string)) != 43 {
			t.Errorf("EdDSA JWK %v", m)
		}
		if !slices.Equal(names, want) || m["use"] != "sig" {
			t.Errorf("JWK %d has members %v, want %v", i, names, want)
		}
	}
	if !slices.Equal(kids, wantKIDs) {
		t.Errorf("JWKS kids %v, want %v", kids, wantKIDs)
	}

	// Access-token key lookup knows the EdDSA keys only.
	for _, kid := range ed[core.KeyActive][:1] {
		if _, ok := h.svcs.Keys.Lookup(kid); !ok {
			t.Errorf("Lookup(%s) of the active EdDSA key failed", kid)
		}
	}
	for _, kid := range append(rs[core.KeyActive], rs[core.KeyNext]...) {
		if pub, ok := h.svcs.Keys.Lookup(kid); ok || pub != nil {
			t.Errorf("Lookup(%s) resolved an RS256 key for access tokens", kid)
		}
	}
}

// TestAccessTokensNeverUseRSAKeys: nothing signed with the RS256 key is an
// access token, not even a token shaped exactly like one by an attacker who
// holds that key, nor an ID token of either algorithm.
func TestAccessTokensNeverUseRSAKeys(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("ada@example.com")
	good := h.mustLogin("ada@example.com")
	if _, err := h.svcs.Auth.Authenticate(ctx, good.AccessToken); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good.AccessToken, ".")
	rsaKey := activeRSAKey(t, h)

	// The real access token's payload under an RS256 header with the RSA
	// key's kid, signed by that key.
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"at+jwt","kid":"` + rsaKey.ID + `"}`))
	in := hdr + "." + parts[1]
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey.Private, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	forged := in + "." + base64.RawURLEncoding.EncodeToString(sig)
	// The same, claiming EdDSA with the RSA kid.
	hdr2 := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"at+jwt","kid":"` + rsaKey.ID + `"}`))
	_, stranger, _ := ed25519.GenerateKey(nil)
	forged2 := hdr2 + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(stranger, []byte(hdr2+"."+parts[1])))

	id := idClaims(h, time.Hour)
	id.Audience = h.cfg.Audience // even with the access tokens' audience
	for name, tok := range map[string]string{
		"RS256 access token by the RSA key": forged,
		"EdDSA header, RSA kid":             forged2,
		"RS256 ID token":                    mustSignID(t, h, core.AlgRS256, id),
		"EdDSA ID token":                    mustSignID(t, h, core.AlgEdDSA, id),
	} {
		_, err := h.svcs.Auth.Authenticate(ctx, tok)
		if core.ErrorCode(err) != core.EUNAUTHORIZED {
			t.Errorf("%s: Authenticate = %v, want EUNAUTHORIZED", name, err)
		}
	}
}

func idClaims(h *harness, ttl time.Duration) token.IDClaims {
	now := h.clock.Now()
	return token.IDClaims{
		Issuer: h.cfg.Issuer, Subject: "2b7d6c1e-5a39-4b8e-9d0e-6b7a2a1f0c11", Audience: "client-1",
		SessionID: "browser-1", Nonce: "n1", IssuedAt: now, ExpiresAt: now.Add(ttl), AuthTime: now,
	}
}

func mustSignID(t *testing.T, h *harness, alg string, c token.IDClaims) string {
	t.Helper()
	tok, err := h.svcs.Keys.SignIDToken(alg, c)
	if err != nil {
		t.Fatalf("SignIDToken(%s): %v", alg, err)
	}
	return tok
}

func headerKID(t *testing.T, tok string) (alg, kid string) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Alg, Kid, Typ string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.Typ != "JWT" {
		t.Errorf("typ %q", h.Typ)
	}
	return h.Alg, h.Kid
}

func TestIDTokensAndHints(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.BrowserRememberTTL = 48 * time.Hour })
	ctx := context.Background()
	c := idClaims(h, time.Hour)
	hints := map[string]string{}
	for _, alg := range []string{core.AlgEdDSA, core.AlgRS256} {
		tok := mustSignID(t, h, alg, c)
		gotAlg, kid := headerKID(t, tok)
		if gotAlg != alg || kid != keysByAlg(t, h.svcs, alg)[core.KeyActive][0] {
			t.Errorf("%s ID token signed with %s/%s, want the active %s key", alg, gotAlg, kid, alg)
		}
		got, err := h.svcs.Keys.VerifyIDTokenHint(tok)
		if err != nil {
			t.Fatalf("VerifyIDTokenHint(%s): %v", alg, err)
		}
		if got.Subject != c.Subject || got.Audience != c.Audience || got.SessionID != c.SessionID || !got.ExpiresAt.Equal(c.ExpiresAt.Truncate(time.Second)) {
			t.Errorf("hint claims %+v", got)
		}
		hints[alg] = tok
	}
	if _, err := h.svcs.Keys.SignIDToken("HS256", c); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("SignIDToken(HS256) = %v, want EINVALID", err)
	}
	bad := c
	bad.Issuer = "https://evil.example.com"
	for _, alg := range []string{core.AlgEdDSA, core.AlgRS256} {
		if _, err := h.svcs.Keys.VerifyIDTokenHint(mustSignID(t, h, alg, bad)); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("%s hint from another issuer: %v", alg, err)
		}
	}
	if _, err := h.svcs.Keys.VerifyIDTokenHint("not a token"); core.ErrorCode(err) != core.EINVALID || !strings.Contains(core.ErrorMessage(err), "id_token_hint") {
		t.Errorf("garbage hint: %v", err)
	}

	// Expired hints are accepted, up to browser.remember_ttl.
	h.clock.Advance(2 * time.Hour)
	for alg, tok := range hints {
		if _, err := h.svcs.Keys.VerifyIDTokenHint(tok); err != nil {
			t.Errorf("%s hint expired an hour ago: %v", alg, err)
		}
	}
	// A staged rotation keeps the old keys' hints valid while they are
	// published; an emergency one ends them.
	if _, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{Force: true}, meta()); err != nil {
		t.Fatal(err)
	}
	for alg, tok := range hints {
		if _, err := h.svcs.Keys.VerifyIDTokenHint(tok); err != nil {
			t.Errorf("%s hint by a just-retired key: %v", alg, err)
		}
		if gotAlg, kid := headerKID(t, mustSignID(t, h, alg, idClaims(h, time.Hour))); gotAlg != alg || kid != keysByAlg(t, h.svcs, alg)[core.KeyActive][0] {
			t.Errorf("after the rotation %s ID tokens are signed by %s", alg, kid)
		}
	}
	fresh := map[string]string{}
	for _, alg := range []string{core.AlgEdDSA, core.AlgRS256} {
		fresh[alg] = mustSignID(t, h, alg, idClaims(h, time.Hour))
	}
	if _, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{Emergency: true}, meta()); err != nil {
		t.Fatal(err)
	}
	for alg, tok := range fresh {
		if _, err := h.svcs.Keys.VerifyIDTokenHint(tok); core.ErrorCode(err) != core.EINVALID {
			t.Errorf("%s hint by an emergency-retired key: %v", alg, err)
		}
	}
	h.clock.Advance(h.cfg.BrowserRememberTTL)
	c = idClaims(h, time.Hour)
	c.IssuedAt, c.ExpiresAt = c.IssuedAt.Add(-h.cfg.BrowserRememberTTL-2*time.Hour), c.IssuedAt.Add(-h.cfg.BrowserRememberTTL-time.Hour)
	c.AuthTime = c.IssuedAt
	if _, err := h.svcs.Keys.VerifyIDTokenHint(mustSignID(t, h, core.AlgRS256, c)); core.ErrorCode(err) != core.EINVALID {
		t.Errorf("a hint expired longer ago than browser.remember_ttl: %v", err)
	}
}

func TestRotateRotatesEveryAlgorithm(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	before := map[string]map[core.KeyState][]string{}
	for _, alg := range []string{core.AlgEdDSA, core.AlgRS256} {
		before[alg] = keysByAlg(t, h.svcs, alg)
	}
	res, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{}, meta())
	if err != nil {
		t.Fatalf("the first pair rotates at once: %v", err)
	}
	if len(res.Keys) != 2 || res.Keys[0].Alg != core.AlgEdDSA || res.Keys[1].Alg != core.AlgRS256 {
		t.Fatalf("result %+v", res)
	}
	if res.Retired != res.Keys[0].Retired || res.Active != res.Keys[0].Active || res.Next != res.Keys[0].Next {
		t.Errorf("top-level fields %+v are not the EdDSA rotation %+v", res, res.Keys[0])
	}
	for _, r := range res.Keys {
		after := keysByAlg(t, h.svcs, r.Alg)
		b := before[r.Alg]
		if r.Retired != b[core.KeyActive][0] || r.Active != b[core.KeyNext][0] ||
			!slices.Equal(after[core.KeyRetired], []string{r.Retired}) || !slices.Equal(after[core.KeyActive], []string{r.Active}) ||
			!slices.Equal(after[core.KeyNext], []string{r.Next}) || r.Next == r.Active {
			t.Errorf("%s: rotation %+v, keys before %v, after %v", r.Alg, r, b, after)
		}
	}
	kids := jwksKIDs(t, h.svcs)
	for _, r := range res.Keys {
		for _, kid := range []string{r.Retired, r.Active, r.Next} {
			if !contains(kids, kid) {
				t.Errorf("%s key %s not in the JWKS after a staged rotation", r.Alg, kid)
			}
		}
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'key_rotate'`); n != 1 {
		t.Errorf("key_rotate events = %d, want one for the rotation", n)
	}

	// An emergency rotation unpublishes both old active keys.
	res, err = h.svcs.Keys.Rotate(ctx, core.RotateOptions{Emergency: true}, meta())
	if err != nil {
		t.Fatal(err)
	}
	kids = jwksKIDs(t, h.svcs)
	for _, r := range res.Keys {
		if contains(kids, r.Retired) || !contains(kids, r.Active) || !contains(kids, r.Next) {
			t.Errorf("%s after an emergency rotation %+v: JWKS %v", r.Alg, r, kids)
		}
	}
}

// TestRotateTooSoonPerAlgorithm: the staging rule holds for each
// algorithm, and a refused rotation changes nothing for either.
func TestRotateTooSoonPerAlgorithm(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.JWKSMaxAge = 5 * time.Minute })
	ctx := context.Background()
	h.clock.Advance(time.Second) // the new next keys are younger than the first pair
	if _, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{}, meta()); err != nil {
		t.Fatal(err)
	}
	list := func() []core.KeyInfo {
		infos, err := h.svcs.Keys.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return infos
	}
	// Both next keys are brand new.
	_, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{}, meta())
	wantCode(t, err, core.ECONFLICT)
	if msg := core.ErrorMessage(err); !strings.Contains(msg, "next EdDSA key") || !strings.Contains(msg, "next RS256 key") || !strings.Contains(msg, "--force") {
		t.Errorf("refusal: %s", msg)
	}
	// Only the RS256 next key is new: still refused, naming it alone.
	h.clock.Advance(h.cfg.JWKSMaxAge)
	if _, err := h.db.Exec(`UPDATE rsa_signing_keys SET created_at = $1 WHERE state = 'next'`, h.clock.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	before := list()
	_, err = h.svcs.Keys.Rotate(ctx, core.RotateOptions{}, meta())
	wantCode(t, err, core.ECONFLICT)
	if msg := core.ErrorMessage(err); strings.Contains(msg, "EdDSA") || !strings.Contains(msg, "next RS256 key was published 1s ago") {
		t.Errorf("refusal: %s", msg)
	}
	if after := list(); len(after) != len(before) {
		t.Errorf("a refused rotation changed the keys: %v -> %v", before, after)
	}
	if _, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{Force: true}, meta()); err != nil {
		t.Errorf("--force: %v", err)
	}
	if _, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{Emergency: true}, meta()); err != nil {
		t.Errorf("--emergency: %v", err)
	}
}

// TestEnsureAddsRSAKeys: a database keyed before RS256 existed (the state
// after migrations/0010 on an existing install) gets its RSA pair and keeps
// its Ed25519 keys, and the new pair can rotate at once.
func TestEnsureAddsRSAKeys(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ed := keysByAlg(t, h.svcs, core.AlgEdDSA)
	if _, err := h.db.Exec(`DELETE FROM rsa_signing_keys`); err != nil {
		t.Fatal(err)
	}
	events := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'key_create'`)
	if err := h.svcs.Keys.Ensure(ctx, meta()); err != nil {
		t.Fatal(err)
	}
	if got := keysByAlg(t, h.svcs, core.AlgEdDSA); !slices.Equal(got[core.KeyActive], ed[core.KeyActive]) || !slices.Equal(got[core.KeyNext], ed[core.KeyNext]) {
		t.Errorf("EdDSA keys changed: %v -> %v", ed, got)
	}
	if rs := keysByAlg(t, h.svcs, core.AlgRS256); len(rs[core.KeyActive]) != 1 || len(rs[core.KeyNext]) != 1 {
		t.Fatalf("RS256 keys %v", rs)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'key_create'`); n != events+2 {
		t.Errorf("key_create events %d -> %d, want two more", events, n)
	}
	if err := h.svcs.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{}, meta()); err != nil {
		t.Errorf("rotation after the RSA pair was added: %v", err)
	}
}

// TestEnsureOnAKeyedDatabase: an `idp serve` start with every key there
// writes nothing and doesn't wait for the key lock, even while a rotation
// holds it.
func TestEnsureOnAKeyedDatabase(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	count := func() int {
		return h.count(`SELECT (SELECT count(*) FROM signing_keys) + (SELECT count(*) FROM rsa_signing_keys) + (SELECT count(*) FROM user_login_events)`)
	}
	before := count()
	tx, err := h.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// The key lock, as a running rotation holds it (postgres.signingKeysLock).
	if _, err := tx.Exec(`SELECT pg_advisory_xact_lock($1)`, int64(0x6964705f6b657973)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := h.svcs.Keys.Ensure(ctx, meta()); err != nil {
		t.Fatalf("Ensure while the key lock is held: %v", err)
	}
	// The lock_timeout would be 3 s; a waiting Ensure could not be this fast.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Ensure took %v: it waited for the lock", d)
	}
	if after := count(); after != before {
		t.Errorf("Ensure on a keyed database wrote %d rows", after-before)
	}
}

// TestLoadRefusesInconsistentKeys: a stored public key that isn't the one
// its kid names, or doesn't belong to its sealed private key, stops the
// load instead of publishing keys that our tokens don't verify with.
func TestLoadRefusesInconsistentKeys(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	other, err := token.GenerateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	otherDER := token.MarshalRSAPublicKey(&other.Private.PublicKey)
	active := activeRSAKey(t, h)
	// The active key's private part, sealed for the other key's kid: it
	// opens, but is not the private half of the public key beside it.
	mismatched, err := h.deps.Sealer.Seal(token.MarshalRSAPrivateKey(active.Private), []byte(other.ID))
	if err != nil {
		t.Fatal(err)
	}
	_, edOther, _ := ed25519.GenerateKey(nil)
	for _, tt := range []struct {
		name, table, state, set string
		args                    []any
		want                    string
	}{
		{"RS256 next key's public part swapped", "rsa_signing_keys", "next", "public_key = $1", []any{otherDER}, "thumbprint"},
		{"EdDSA next key's public part swapped", "signing_keys", "next", "public_key = $1", []any{[]byte(edOther.Public().(ed25519.PublicKey))}, "thumbprint"},
		{"RS256 active key's public part not its private key's", "rsa_signing_keys", "active",
			"public_key = $1, kid = $2, private_key_sealed = $3", []any{otherDER, other.ID, mismatched}, "does not match"},
		{"RS256 active key's sealed part moved to another kid", "rsa_signing_keys", "active",
			"public_key = $1, kid = $2", []any{otherDER, other.ID}, "keys.encryption_key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var saved struct {
				KID    string `db:"kid"`
				Public []byte `db:"public_key"`
				Sealed []byte `db:"private_key_sealed"`
			}
			if err := h.db.Get(&saved, `SELECT kid, public_key, private_key_sealed FROM `+tt.table+` WHERE state = $1`, tt.state); err != nil {
				t.Fatal(err)
			}
			if _, err := h.db.Exec(`UPDATE `+tt.table+` SET `+tt.set+` WHERE kid = '`+saved.KID+`'`, tt.args...); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if _, err := h.db.Exec(`UPDATE `+tt.table+` SET kid = $1, public_key = $2, private_key_sealed = $3 WHERE state = $4`,
					saved.KID, saved.Public, saved.Sealed, tt.state); err != nil {
					t.Fatal(err)
				}
			})
			svcs, err := core.New(h.cfg, h.deps)
			if err != nil {
				t.Fatal(err)
			}
			err = svcs.Keys.Load(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error about %q", err, tt.want)
			}
		})
	}
	// Restored, the keys load again.
	svcs, err := core.New(h.cfg, h.deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := svcs.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
}
