package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/token"
)

func jwksKIDs(t *testing.T, svcs *core.Services) []string {
	t.Helper()
	b, etag, err := svcs.Keys.JWKS()
	if err != nil || etag == "" {
		t.Fatalf("jwks: %v %q", err, etag)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatal("private part in JWKS")
		}
		out = append(out, k.KID)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestKeyRotationBreaksNobody(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("kim@example.com")
	before := h.mustLogin("kim@example.com")
	jwksBefore := jwksKIDs(t, h.svcs)
	// EdDSA active and next, then RS256 active and next.
	if len(jwksBefore) != 4 || jwksBefore[0] != before.KID {
		t.Fatalf("jwks before %v, token kid %s", jwksBefore, before.KID)
	}
	next := jwksBefore[1]

	// A second server built on the same database sees the rotation through
	// its watcher.
	other := h.withCost(4)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go other.Keys.Watch(wctx)

	res, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{Emergency: false, Force: true}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if res.Retired != before.KID || res.Active != next {
		t.Fatalf("rotation %+v: want %s retired and %s active", res, before.KID, next)
	}
	after := jwksKIDs(t, h.svcs)
	if len(after) != 6 || !contains(after, before.KID) || !contains(after, next) || !contains(after, jwksBefore[2]) || !contains(after, jwksBefore[3]) {
		t.Fatalf("jwks after %v must share keys with %v", after, jwksBefore)
	}
	if _, err := h.svcs.Auth.Authenticate(ctx, before.AccessToken); err != nil {
		t.Fatalf("token signed before the rotation: %v", err)
	}
	if r := h.mustLogin("kim@example.com"); r.KID != next {
		t.Fatalf("new tokens signed by %s, want %s", r.KID, next)
	}
	deadline := time.Now().Add(5 * time.Second)
	for other.Keys.ActiveKID() != next {
		if time.Now().After(deadline) {
			t.Fatal("second server did not pick up the rotation within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The retired key leaves the JWKS once its tokens have expired.
	h.clock.Advance(h.cfg.AccessTTL + 2*time.Minute)
	if err := h.svcs.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if contains(jwksKIDs(t, h.svcs), before.KID) {
		t.Fatal("retired key still published after its tokens expired")
	}
	infos, err := h.svcs.Keys.List(ctx)
	if err != nil || len(infos) != 6 {
		t.Fatalf("list %v %v", infos, err)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'key_rotate'`); n != 1 {
		t.Fatalf("key_rotate events = %d", n)
	}
}

func TestEmergencyRotationKillsOldTokens(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("lee@example.com")
	before := h.mustLogin("lee@example.com")
	if _, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{Emergency: true, Force: true}, meta()); err != nil {
		t.Fatal(err)
	}
	if contains(jwksKIDs(t, h.svcs), before.KID) {
		t.Fatal("emergency-retired key still published")
	}
	_, err := h.svcs.Auth.Authenticate(ctx, before.AccessToken)
	wantCode(t, err, core.EUNAUTHORIZED)
}

func TestConcurrentEnsureMakesOnePair(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.db.Exec(`DELETE FROM signing_keys; DELETE FROM rsa_signing_keys`); err != nil {
		t.Fatal(err)
	}
	events := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'key_create'`)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svcs, err := core.New(h.cfg, h.deps)
			if err != nil {
				t.Error(err)
				return
			}
			if err := svcs.Keys.Ensure(ctx, meta()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, table := range []string{"signing_keys", "rsa_signing_keys"} {
		if n := h.count(`SELECT count(*) FROM ` + table + ` WHERE state = 'active'`); n != 1 {
			t.Fatalf("%s: active keys = %d", table, n)
		}
		if n := h.count(`SELECT count(*) FROM ` + table + ` WHERE state = 'next'`); n != 1 {
			t.Fatalf("%s: next keys = %d", table, n)
		}
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'key_create'`); n != events+4 {
		t.Fatalf("key_create events %d -> %d, want one per key", events, n)
	}
}

func TestPrivateKeysAreSealed(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	// A server with another encryption key can't open the keys.
	deps := h.deps
	wrong, err := token.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	deps.Sealer = wrong
	other, err := core.New(h.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Keys.Load(ctx); err == nil {
		t.Fatal("keys opened with the wrong encryption key")
	}
	// The sealed bytes don't hold the seed of the active key.
	var sealed []byte
	if err := h.db.Get(&sealed, `SELECT private_key_sealed FROM signing_keys WHERE state = 'active'`); err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 12+32+16 {
		t.Fatalf("sealed key is %d bytes, want nonce+seed+tag", len(sealed))
	}
	// Nor does the RSA key's hold its PKCS #1 DER, or any of its primes.
	key := activeRSAKey(t, h)
	if err := h.db.Get(&sealed, `SELECT private_key_sealed FROM rsa_signing_keys WHERE state = 'active'`); err != nil {
		t.Fatal(err)
	}
	der := token.MarshalRSAPrivateKey(key.Private)
	if len(sealed) != 12+len(der)+16 {
		t.Fatalf("sealed RSA key is %d bytes, want nonce+DER+tag", len(sealed))
	}
	for _, secret := range [][]byte{der[:64], key.Private.D.Bytes()[:32], key.Private.Primes[0].Bytes()[:32], key.Private.Primes[1].Bytes()[:32]} {
		if bytes.Contains(sealed, secret) {
			t.Fatal("sealed RSA key holds private key material in the clear")
		}
	}
}
