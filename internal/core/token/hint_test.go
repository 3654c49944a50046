package token

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// hintLookup knows testKey and testRSAKey, as our JWKS would, and records
// kids that KeyID could never have produced.
func hintLookup() (func(string) (crypto.PublicKey, bool), func() []string) {
	keys := map[string]crypto.PublicKey{testKey.ID: testKey.Public, testRSAKey.ID: &testRSAKey.Private.PublicKey}
	var mu sync.Mutex
	var hostile []string
	safe := regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	return func(kid string) (crypto.PublicKey, bool) {
			if !safe.MatchString(kid) {
				mu.Lock()
				hostile = append(hostile, kid)
				mu.Unlock()
			}
			k, ok := keys[kid]
			return k, ok
		}, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return hostile
		}
}

func testHintOptions() HintOptions {
	lookup, _ := hintLookup()
	return HintOptions{Issuer: testIss, Lookup: lookup, Leeway: time.Minute, Now: func() time.Time { return testNow }}
}

func hintHeader(alg, kid string) map[string]any {
	return map[string]any{"alg": alg, "typ": "JWT", "kid": kid}
}

func hintPayload() map[string]any {
	return map[string]any{
		"iss": testIss, "sub": "user-123", "aud": "client-1", "sid": "browser-session-1",
		"iat": testNow.Add(-time.Hour).Unix(), "exp": testNow.Add(-time.Minute).Unix(), // expired: hints may be
	}
}

func rsaSigned(tb testing.TB, priv *rsa.PrivateKey, hdr, payload map[string]any) string {
	tb.Helper()
	in := enc(tb, hdr) + "." + enc(tb, payload)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, sum[:])
	if err != nil {
		tb.Fatal(err)
	}
	return in + "." + b64(sig)
}

func hsSigned(tb testing.TB, key []byte, hdr, payload map[string]any) string {
	tb.Helper()
	in := enc(tb, hdr) + "." + enc(tb, payload)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

type hintForgery struct{ name, token, reason string }

// hintForgeries are id_token_hints VerifyIDTokenHint must refuse, each with
// the reason it gives. Both our keys are "published"; the attacker has
// their own keys and every public value we publish.
func hintForgeries(tb testing.TB) []hintForgery {
	rsaPub := &testRSAKey.Private.PublicKey
	pkix, err := x509.MarshalPKIXPublicKey(rsaPub)
	if err != nil {
		tb.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	_, evilEd, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	evilRSA := otherRSAKey()
	ed := func(hdr, payload map[string]any) string { return edSigned(tb, testKey.Private, hdr, payload) }
	rs := func(hdr, payload map[string]any) string { return rsaSigned(tb, testRSAKey.Private, hdr, payload) }
	rsHdr, edHdr, p := hintHeader("RS256", testRSAKey.ID), hintHeader("EdDSA", testKey.ID), hintPayload()
	valid := rs(rsHdr, p)
	parts := splitJWS(tb, valid)
	// A 3072-bit signature fills its base64url exactly; an Ed25519 one
	// leaves two unused bits to flip.
	edParts := splitJWS(tb, ed(edHdr, p))
	access := mustSign(tb, testKey, testClaims())
	withSig := func(tok string, sig []byte) string {
		pp := splitJWS(tb, tok)
		return pp[0] + "." + pp[1] + "." + b64(sig)
	}
	ps256 := func() string {
		in := enc(tb, with(rsHdr, "alg", "PS256")) + "." + enc(tb, p)
		sum := sha256.Sum256([]byte(in))
		sig, err := rsa.SignPSS(rand.Reader, testRSAKey.Private, crypto.SHA256, sum[:], nil)
		if err != nil {
			tb.Fatal(err)
		}
		return in + "." + b64(sig)
	}()
	rs512 := func() string {
		in := enc(tb, with(rsHdr, "alg", "RS512")) + "." + enc(tb, p)
		sum := sha512.Sum512([]byte(in))
		sig, err := rsa.SignPKCS1v15(rand.Reader, testRSAKey.Private, crypto.SHA512, sum[:])
		if err != nil {
			tb.Fatal(err)
		}
		return in + "." + b64(sig)
	}()

	return []hintForgery{
		// alg: none and symmetric confusion with our public values.
		{"alg none", enc(tb, with(rsHdr, "alg", "none")) + "." + enc(tb, p) + ".", "alg not allowed"},
		{"alg none with a signature", withSig(enc(tb, with(edHdr, "alg", "none"))+"."+enc(tb, p)+".x", []byte("sig")), "alg not allowed"},
		{"alg None", enc(tb, with(rsHdr, "alg", "None")) + "." + enc(tb, p) + ".", "unsupported alg"},
		{"alg NONE", enc(tb, with(rsHdr, "alg", "NONE")) + "." + enc(tb, p) + ".", "unsupported alg"},
		{"alg missing", enc(tb, with(rsHdr, "alg", nil)) + "." + enc(tb, p) + ".", "unsupported alg"},
		{"HS256 keyed with the RSA key's PKCS #1 DER", hsSigned(tb, MarshalRSAPublicKey(rsaPub), with(rsHdr, "alg", "HS256"), p), "alg not allowed"},
		{"HS256 keyed with the RSA key's PKIX DER", hsSigned(tb, pkix, with(rsHdr, "alg", "HS256"), p), "alg not allowed"},
		{"HS256 keyed with the RSA key's PEM", hsSigned(tb, pemKey, with(rsHdr, "alg", "HS256"), p), "alg not allowed"},
		{"HS256 keyed with the RSA modulus", hsSigned(tb, rsaPub.N.Bytes(), with(rsHdr, "alg", "HS256"), p), "alg not allowed"},
		{"HS256 keyed with the Ed25519 key", hsSigned(tb, testKey.Public, with(edHdr, "alg", "HS256"), p), "alg not allowed"},
		{"HS512 keyed with the Ed25519 key", hsSigned(tb, testKey.Public, with(edHdr, "alg", "HS512"), p), "alg not allowed"},
		{"PS256 by our RSA key", ps256, "alg not allowed"},
		{"RS512 by our RSA key", rs512, "alg not allowed"},
		{"ES256", enc(tb, with(rsHdr, "alg", "ES256")) + "." + enc(tb, p) + "." + b64(make([]byte, 64)), "alg not allowed"},

		// The kid of one algorithm with the other algorithm.
		{"EdDSA token claiming the RSA kid", edSigned(tb, evilEd, hintHeader("EdDSA", testRSAKey.ID), p), "alg does not match key"},
		{"EdDSA token by our Ed25519 key claiming the RSA kid", ed(hintHeader("EdDSA", testRSAKey.ID), p), "alg does not match key"},
		{"RS256 token claiming the Ed25519 kid", rsaSigned(tb, evilRSA.Private, hintHeader("RS256", testKey.ID), p), "alg does not match key"},
		{"RS256 token by our RSA key claiming the Ed25519 kid", rs(hintHeader("RS256", testKey.ID), p), "alg does not match key"},

		// Keys.
		{"unknown kid", rsaSigned(tb, evilRSA.Private, hintHeader("RS256", evilRSA.ID), p), "unknown kid"},
		{"attacker key in jwk header", rsaSigned(tb, evilRSA.Private, with(hintHeader("RS256", evilRSA.ID), "jwk",
			map[string]any{"kty": "RSA", "n": b64(evilRSA.Private.N.Bytes()), "e": "AQAB"}), p), "unknown kid"},
		{"jku header", rsaSigned(tb, evilRSA.Private, with(hintHeader("RS256", evilRSA.ID), "jku", "https://evil.example.com/jwks"), p), "unknown kid"},
		{"no kid", rs(with(rsHdr, "kid", nil), p), "bad kid"},
		{"empty kid", rs(with(rsHdr, "kid", ""), p), "bad kid"},
		{"numeric kid", rs(with(rsHdr, "kid", 7), p), "bad kid"},
		{"path kid", rs(with(rsHdr, "kid", "../../etc/passwd"), p), "bad kid"},
		{"SQL kid", rs(with(rsHdr, "kid", "x' OR '1'='1"), p), "bad kid"},
		{"long kid", rs(with(rsHdr, "kid", strings.Repeat("k", 200)), p), "bad kid"},
		{"another RSA key's signature under our kid", rsaSigned(tb, evilRSA.Private, rsHdr, p), "bad signature"},
		{"another Ed25519 key's signature under our kid", edSigned(tb, evilEd, edHdr, p), "bad signature"},
		{"tampered payload", parts[0] + "." + enc(tb, with(p, "sub", "admin")) + "." + parts[2], "bad signature"},
		{"tampered header", enc(tb, with(rsHdr, "x", 1)) + "." + parts[1] + "." + parts[2], "bad signature"},
		{"empty signature", parts[0] + "." + parts[1] + ".", "bad signature"},
		{"Ed25519 signature on an RS256 token", withSig(valid, ed25519.Sign(testKey.Private, []byte(parts[0]+"."+parts[1]))), "bad signature"},

		// Header rules.
		{"access token", access, "wrong typ"},
		{"typ at+jwt", ed(with(edHdr, "typ", "at+jwt"), p), "wrong typ"},
		{"no typ", rs(with(rsHdr, "typ", nil), p), "wrong typ"},
		{"typ JOSE", rs(with(rsHdr, "typ", "JOSE"), p), "wrong typ"},
		{"crit", rs(with(rsHdr, "crit", []string{"exp"}), p), "unsupported crit header"},

		// Claims.
		{"wrong iss", rs(rsHdr, with(p, "iss", "https://evil.example.com")), "wrong issuer"},
		{"iss with a trailing slash", rs(rsHdr, with(p, "iss", testIss+"/")), "wrong issuer"},
		{"no iss", ed(edHdr, with(p, "iss", nil)), "wrong issuer"},
		{"no sub", rs(rsHdr, with(p, "sub", nil)), "missing sub"},
		{"no aud", rs(rsHdr, with(p, "aud", nil)), "missing aud"},
		{"aud array", rs(rsHdr, with(p, "aud", []string{"client-1"})), "malformed"},
		{"no exp", rs(rsHdr, with(p, "exp", nil)), "missing exp or iat"},
		{"no iat", ed(edHdr, with(p, "iat", nil)), "missing exp or iat"},
		{"exp as a string", rs(rsHdr, with(p, "exp", "1750000000")), "malformed"},
		{"exp beyond 9999", rs(rsHdr, with(p, "exp", 1e15)), "malformed"},
		{"negative iat", rs(rsHdr, with(p, "iat", -1)), "malformed"},
		{"exp before iat", rs(rsHdr, with(p, "exp", testNow.Add(-2*time.Hour).Unix())), "implausible lifetime"},
		{"lifetime of a year", rs(rsHdr, with(p, "exp", testNow.Add(365*24*time.Hour).Unix())), "implausible lifetime"},
		{"iat in the future", rs(rsHdr, with(p, "iat", testNow.Add(2*time.Minute).Unix(), "exp", testNow.Add(time.Hour).Unix())), "issued in the future"},
		{"nbf in the future", ed(edHdr, with(p, "nbf", testNow.Add(2*time.Minute).Unix())), "not yet valid"},
		{"expired 31 days ago", rs(rsHdr, with(p, "iat", testNow.Add(-31*24*time.Hour).Unix(), "exp", testNow.Add(-31*24*time.Hour+time.Hour).Unix())), "expired too long ago"},

		// Shape.
		{"too large", rs(rsHdr, with(p, "pad", strings.Repeat("a", 8<<10))), "token too large"},
		{"empty", "", "malformed"},
		{"two segments", parts[0] + "." + parts[1], "malformed"},
		{"four segments", valid + ".x", "malformed"},
		{"newline", parts[0] + ".\n" + parts[1] + "." + parts[2], "malformed"},
		{"padding", valid + "=", "malformed"},
		{"space", " " + valid, "malformed"},
		{"header not JSON", b64([]byte("{")) + "." + parts[1] + "." + parts[2], "malformed"},
		{"payload not JSON", parts[0] + "." + b64([]byte("[]")) + "." + parts[2], "malformed"},
		{"non-canonical signature encoding", edParts[0] + "." + edParts[1] + "." + nonCanonical(edParts[2]), "malformed"},
	}
}

// nonCanonical flips the unused low bits of the last base64url character,
// which a lenient decoder maps to the same bytes.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func TestVerifyIDTokenHintRefusesForgeries(t *testing.T) {
	list := hintForgeries(t)
	for _, tt := range list {
		t.Run(tt.name, func(t *testing.T) {
			lookup, hostile := hintLookup()
			opts := testHintOptions()
			opts.Lookup = lookup
			c, err := VerifyIDTokenHint(tt.token, opts)
			if !errors.Is(err, ErrInvalidHint) {
				t.Fatalf("VerifyIDTokenHint = %+v, %v; want ErrInvalidHint", c, err)
			}
			if want := ErrInvalidHint.Error() + ": " + tt.reason; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if !reflect.DeepEqual(c, IDClaims{}) {
				t.Errorf("claims returned alongside error: %+v", c)
			}
			if h := hostile(); len(h) > 0 {
				t.Errorf("Lookup called with hostile kids %q", h)
			}
		})
	}
}

func TestVerifyIDTokenHintAccepts(t *testing.T) {
	rsHdr, edHdr, p := hintHeader("RS256", testRSAKey.ID), hintHeader("EdDSA", testKey.ID), hintPayload()
	tests := []struct {
		name, token string
	}{
		{"expired a minute ago, RS256", rsaSigned(t, testRSAKey.Private, rsHdr, p)},
		{"expired a minute ago, EdDSA", edSigned(t, testKey.Private, edHdr, p)},
		{"expired 29 days ago", rsaSigned(t, testRSAKey.Private, rsHdr, with(p, "iat", testNow.Add(-29*24*time.Hour).Unix(), "exp", testNow.Add(-29*24*time.Hour+time.Hour).Unix()))},
		{"not expired", edSigned(t, testKey.Private, edHdr, with(p, "exp", testNow.Add(time.Hour).Unix()))},
		{"iat within the leeway", edSigned(t, testKey.Private, edHdr, with(p, "iat", testNow.Add(30*time.Second).Unix(), "exp", testNow.Add(time.Hour).Unix()))},
		{"typ application/jwt", rsaSigned(t, testRSAKey.Private, with(rsHdr, "typ", "application/jwt"), p)},
		{"unknown claims and headers", rsaSigned(t, testRSAKey.Private, with(rsHdr, "x5u", "https://evil.example.com"), with(p, "roles", []string{"admin"}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyIDTokenHint(tt.token, testHintOptions())
			if err != nil {
				t.Fatal(err)
			}
			if c.Issuer != testIss || c.Subject != "user-123" || c.Audience != "client-1" || c.SessionID != "browser-session-1" || c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
				t.Errorf("claims = %+v", c)
			}
		})
	}

	t.Run("MaxAge", func(t *testing.T) {
		old := rsaSigned(t, testRSAKey.Private, rsHdr, with(p, "iat", testNow.Add(-3*time.Hour).Unix(), "exp", testNow.Add(-2*time.Hour).Unix()))
		opts := testHintOptions()
		opts.MaxAge = time.Hour
		if _, err := VerifyIDTokenHint(old, opts); err == nil || !strings.HasSuffix(err.Error(), "expired too long ago") {
			t.Errorf("a hint expired 2h ago with MaxAge 1h: %v", err)
		}
		opts.MaxAge = 3 * time.Hour
		if _, err := VerifyIDTokenHint(old, opts); err != nil {
			t.Errorf("a hint expired 2h ago with MaxAge 3h: %v", err)
		}
	})
	t.Run("misconfigured", func(t *testing.T) {
		tok := rsaSigned(t, testRSAKey.Private, rsHdr, p)
		for name, opts := range map[string]HintOptions{
			"no issuer": {Lookup: testHintOptions().Lookup},
			"no lookup": {Issuer: testIss},
		} {
			if _, err := VerifyIDTokenHint(tok, opts); !errors.Is(err, ErrInvalidHint) {
				t.Errorf("%s: %v", name, err)
			}
		}
		// A Lookup returning a key of a type we don't sign with.
		opts := testHintOptions()
		opts.Lookup = func(string) (crypto.PublicKey, bool) { return []byte("secret"), true }
		if _, err := VerifyIDTokenHint(tok, opts); err == nil || !strings.HasSuffix(err.Error(), "unknown kid") {
			t.Errorf("odd key type: %v", err)
		}
	})
}

// FuzzIDTokenHint feeds arbitrary strings to VerifyIDTokenHint, seeded with
// valid hints of both algorithms and the forgery corpus. The fuzzer can't
// forge signatures, so anything accepted must carry a valid signature by one
// of the two keys, matching its declared alg, and satisfy every claim rule.
func FuzzIDTokenHint(f *testing.F) {
	c := testIDClaims()
	f.Add(mustSignID(f, testKey, c))
	f.Add(mustSignID(f, testRSAKey, c))
	for _, fg := range hintForgeries(f) {
		f.Add(fg.token)
	}
	opts := testHintOptions()
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := VerifyIDTokenHint(raw, opts)
		if err != nil {
			if !errors.Is(err, ErrInvalidHint) {
				t.Fatalf("error does not wrap ErrInvalidHint: %v", err)
			}
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d segments: %q", len(parts), raw)
		}
		sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
		if err != nil {
			t.Fatalf("accepted a non-canonical signature: %q", raw)
		}
		in := []byte(parts[0] + "." + parts[1])
		sum := sha256.Sum256(in)
		edOK := ed25519.Verify(testKey.Public, in, sig) && strings.Contains(decode64(parts[0]), `"EdDSA"`)
		rsOK := rsa.VerifyPKCS1v15(&testRSAKey.Private.PublicKey, crypto.SHA256, sum[:], sig) == nil && strings.Contains(decode64(parts[0]), `"RS256"`)
		if !edOK && !rsOK {
			t.Fatalf("accepted a token not signed by our key of its alg: %q", raw)
		}
		now := testNow
		switch {
		case c.Issuer != testIss || c.Subject == "" || c.Audience == "":
			t.Fatalf("accepted iss/sub/aud %q/%q/%q", c.Issuer, c.Subject, c.Audience)
		case !c.ExpiresAt.After(c.IssuedAt) || c.ExpiresAt.Sub(c.IssuedAt) > MaxIDTokenLifetime:
			t.Fatalf("accepted lifetime %v..%v", c.IssuedAt, c.ExpiresAt)
		case c.IssuedAt.After(now.Add(time.Minute)) || now.Sub(c.ExpiresAt) > defaultHintMaxAge:
			t.Fatalf("accepted iat %v exp %v", c.IssuedAt, c.ExpiresAt)
		}
	})
}

func decode64(s string) string {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return string(b)
}
