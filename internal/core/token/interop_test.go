package token

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// TestInteropGoJose proves that a relying party using an independent JOSE
// library can verify our tokens from nothing but our published JWKS bytes.
func TestInteropGoJose(t *testing.T) {
	rotated, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := RenderJWKS([]ed25519.PublicKey{rotated.Public, testKey.Public})
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("go-jose cannot parse our JWKS: %v", err)
	}
	for _, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() || k.Algorithm != string(jose.EdDSA) || k.Use != "sig" {
			t.Errorf("JWK %s: valid=%v public=%v alg=%s use=%s", k.KeyID, k.Valid(), k.IsPublic(), k.Algorithm, k.Use)
		}
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.RawURLEncoding.EncodeToString(tp); got != k.KeyID {
			t.Errorf("kid %s is not go-jose's RFC 7638 thumbprint %s", k.KeyID, got)
		}
	}

	verify := func(tok string, now time.Time) (josejwt.Claims, error) {
		parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			return josejwt.Claims{}, err
		}
		h := parsed.Headers[0]
		if typ := h.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
			t.Errorf("typ = %v", typ)
		}
		keys := set.Key(h.KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q matches %d JWKS keys", h.KeyID, len(keys))
		}
		var std josejwt.Claims
		var extra struct {
			SessionID string   `json:"sid"`
			TenantID  string   `json:"tenant_id"`
			Roles     []string `json:"roles"`
		}
		if err := parsed.Claims(keys[0].Key, &std, &extra); err != nil {
			return std, err
		}
		if extra.SessionID == "" || extra.TenantID == "" || extra.Roles == nil {
			t.Errorf("private claims = %+v", extra)
		}
		return std, std.ValidateWithLeeway(josejwt.Expected{
			Issuer:      testIss,
			AnyAudience: josejwt.Audience{testAud},
			Time:        now,
		}, 0)
	}

	for _, k := range []Key{testKey, rotated} {
		c := testClaims()
		tok := mustSign(t, k, c)
		std, err := verify(tok, testNow)
		if err != nil {
			t.Fatalf("go-jose rejects our token (kid %s): %v", k.ID, err)
		}
		if std.Subject != c.Subject || std.ID != c.ID || !std.Expiry.Time().Equal(c.ExpiresAt) {
			t.Errorf("go-jose read %+v", std)
		}
		if _, err := verify(tok, c.ExpiresAt.Add(time.Second)); err == nil {
			t.Error("go-jose accepts our token after exp")
		}
	}

	t.Run("negative", func(t *testing.T) {
		c := testClaims()
		c.Issuer = "https://evil.example.com"
		if _, err := verify(mustSign(t, testKey, c), testNow); err == nil {
			t.Error("go-jose accepts wrong iss")
		}
		c = testClaims()
		c.Audience = "https://other.example.com"
		if _, err := verify(mustSign(t, testKey, c), testNow); err == nil {
			t.Error("go-jose accepts wrong aud")
		}
		// Right kid, wrong key: the signature check must be what fails.
		wrong := rotated
		wrong.ID = testKey.ID
		if _, err := verify(mustSign(t, wrong, testClaims()), testNow); err == nil {
			t.Error("go-jose accepts a signature from another key")
		}
	})
}
