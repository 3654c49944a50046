package token

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
	raw, err := RenderJWKS([]crypto.PublicKey{rotated.Public, testKey.Public})
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

// TestInteropGoJoseIDTokens verifies our ID tokens of both algorithms with
// go-jose from nothing but a JWKS holding both kinds of key, the way a
// relying party that knows only our discovery document does.
func TestInteropGoJoseIDTokens(t *testing.T) {
	raw, err := RenderJWKS([]crypto.PublicKey{testKey.Public, &testRSAKey.Private.PublicKey, &otherRSAKey().Private.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("go-jose cannot parse our JWKS: %v", err)
	}
	for _, k := range set.Keys {
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.RawURLEncoding.EncodeToString(tp); got != k.KeyID {
			t.Errorf("kid %s is not go-jose's RFC 7638 thumbprint %s", k.KeyID, got)
		}
		if !k.Valid() || !k.IsPublic() || k.Use != "sig" {
			t.Errorf("JWK %s: valid=%v public=%v use=%s", k.KeyID, k.Valid(), k.IsPublic(), k.Use)
		}
	}

	verify := func(t *testing.T, tok string, algs ...jose.SignatureAlgorithm) (josejwt.Claims, map[string]any, error) {
		t.Helper()
		parsed, err := josejwt.ParseSigned(tok, algs)
		if err != nil {
			return josejwt.Claims{}, nil, err
		}
		h := parsed.Headers[0]
		keys := set.Key(h.KeyID)
		if len(keys) != 1 {
			return josejwt.Claims{}, nil, fmt.Errorf("kid %q matches %d JWKS keys", h.KeyID, len(keys))
		}
		// A careful relying party checks that the JWK's alg is the token's.
		if keys[0].Algorithm != h.Algorithm {
			return josejwt.Claims{}, nil, fmt.Errorf("token alg %s, key alg %s", h.Algorithm, keys[0].Algorithm)
		}
		if typ := h.ExtraHeaders[jose.HeaderType]; typ != "JWT" {
			t.Errorf("typ = %v", typ)
		}
		var std josejwt.Claims
		all := map[string]any{}
		if err := parsed.Claims(keys[0].Key, &std, &all); err != nil {
			return std, nil, err
		}
		return std, all, std.ValidateWithLeeway(josejwt.Expected{
			Issuer: testIss, AnyAudience: josejwt.Audience{"client-1"}, Time: testNow,
		}, 0)
	}

	const access = "an access token"
	for _, s := range []Signer{testKey, testRSAKey} {
		t.Run(s.Alg(), func(t *testing.T) {
			c := testIDClaims()
			c.AccessTokenHash = mustAtHash(t, s.Alg(), access)
			tok := mustSignID(t, s, c)
			std, all, err := verify(t, tok, jose.EdDSA, jose.RS256)
			if err != nil {
				t.Fatalf("go-jose rejects our %s ID token: %v", s.Alg(), err)
			}
			if std.Subject != c.Subject || all["nonce"] != c.Nonce || all["sid"] != c.SessionID || all["email"] != "alice@example.com" {
				t.Errorf("go-jose read %+v %v", std, all)
			}
			// at_hash recomputed the way a relying party does, from the
			// header's alg, independently of AtHash.
			if got, want := all["at_hash"], independentAtHash(s.Alg(), access); got != want {
				t.Errorf("at_hash %v, relying party computes %s", got, want)
			}
			// A relying party configured for the other algorithm only
			// refuses the token.
			other := jose.RS256
			if s.Alg() == AlgRS256 {
				other = jose.EdDSA
			}
			if _, _, err := verify(t, tok, other); err == nil {
				t.Errorf("go-jose accepted a %s token when it allows only %s", s.Alg(), other)
			}
		})
	}
	t.Run("another key's signature under our kid", func(t *testing.T) {
		stranger := otherRSAKey()
		stranger.ID = testRSAKey.ID // our kid, the other key's signature
		if _, _, err := verify(t, mustSignID(t, stranger, testIDClaims()), jose.RS256); err == nil {
			t.Error("go-jose accepts a signature by another key under our kid")
		}
	})
}
