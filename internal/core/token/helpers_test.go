package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testIss = "https://idp.example.com"
	testAud = "https://api.example.com"
)

// testNow is fixed so table entries and fuzz seeds never expire.
var testNow = time.Unix(1_750_000_000, 0)

// testKey is shared by all tests, fuzz targets and benchmarks so that fuzz
// seeds built once stay verifiable.
var testKey = func() Key {
	k, err := GenerateKey()
	if err != nil {
		panic(err)
	}
	return k
}()

// testRSAKey is made once: a 3072-bit key takes a few hundred milliseconds.
var testRSAKey = func() RSAKey {
	k, err := GenerateRSAKey()
	if err != nil {
		panic(err)
	}
	return k
}()

// otherRSAKey is a second RSA key, for the tests that need a stranger's.
var otherRSAKey = sync.OnceValue(func() RSAKey {
	k, err := GenerateRSAKey()
	if err != nil {
		panic(err)
	}
	return k
})

func testClaims() Claims {
	return Claims{
		Issuer:    testIss,
		Subject:   "user-123",
		Audience:  testAud,
		ID:        "jti-abc",
		SessionID: "sess-456",
		TenantID:  "tenant-789",
		Email:     "alice@example.com",
		Roles:     []string{"admin", "viewer"},
		IssuedAt:  testNow,
		NotBefore: testNow,
		ExpiresAt: testNow.Add(15 * time.Minute),
	}
}

func testVerifier(keys ...Key) Verifier {
	if len(keys) == 0 {
		keys = []Key{testKey}
	}
	byKID := map[string]ed25519.PublicKey{}
	for _, k := range keys {
		byKID[k.ID] = k.Public
	}
	return Verifier{
		Issuer:   testIss,
		Audience: testAud,
		Leeway:   60 * time.Second,
		Lookup: func(kid string) (ed25519.PublicKey, bool) {
			pub, ok := byKID[kid]
			return pub, ok
		},
		Now: func() time.Time { return testNow },
	}
}

func mustSign(tb testing.TB, k Key, c Claims) string {
	tb.Helper()
	tok, err := Sign(k, c)
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return tok
}

func enc(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func goodHeader() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": testKey.ID}
}

func goodPayload() map[string]any {
	return map[string]any{
		"iss":       testIss,
		"sub":       "user-123",
		"aud":       testAud,
		"exp":       testNow.Add(15 * time.Minute).Unix(),
		"iat":       testNow.Unix(),
		"nbf":       testNow.Unix(),
		"jti":       "jti-abc",
		"sid":       "sess-456",
		"tenant_id": "tenant-789",
		"roles":     []string{"admin"},
		"email":     "alice@example.com",
	}
}

// with returns a copy of m with the given edits; a nil value deletes the key.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// edSigned builds a compact JWS by hand, so header and payload can hold
// anything, signed with priv.
func edSigned(tb testing.TB, priv ed25519.PrivateKey, hdr, payload map[string]any) string {
	tb.Helper()
	in := enc(tb, hdr) + "." + enc(tb, payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(in)))
}

func splitJWS(tb testing.TB, tok string) [3]string {
	tb.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		tb.Fatalf("token has %d parts", len(p))
	}
	return [3]string{p[0], p[1], p[2]}
}
