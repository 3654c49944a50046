package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary strings to Verify. Only tokens signed by the
// test key can be accepted; since the fuzzer cannot forge Ed25519, anything
// it gets accepted must still carry a valid signature over its exact bytes.
func FuzzVerify(f *testing.F) {
	f.Add(mustSign(f, testKey, testClaims()))
	for _, fg := range forgeries() {
		if len(fg.raw) <= 2*maxTokenLen {
			f.Add(fg.raw)
		}
	}
	v, _ := testVerifier()

	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token with %d segments: %q", len(parts), raw)
		}
		sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
		if err != nil {
			t.Fatalf("accepted a non-canonical signature encoding: %q", raw)
		}
		if !ed25519.Verify(testKey.Public, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted a token not signed by the test key: %q", raw)
		}
		checkAccepted(t, c)
	})
}

// FuzzClaimsValidation signs arbitrary header and payload bytes with the test
// key, exercising everything after the signature check: whatever passes must
// satisfy every documented claim rule.
func FuzzClaimsValidation(f *testing.F) {
	f.Add(`{"alg":"EdDSA","typ":"at+jwt","kid":"`+testKey.ID+`"}`,
		`{"iss":"`+testIss+`","sub":"s","aud":"`+testAud+`","exp":1750000600,"iat":1750000000,"jti":"j","sid":"x","tenant_id":"t"}`)
	f.Add(`{"alg":"EdDSA","typ":"application/AT+JWT","kid":"`+testKey.ID+`","jku":"https://x"}`,
		`{"iss":"`+testIss+`","sub":"s","aud":["a","`+testAud+`"],"exp":1750000030.5,"iat":1750000059,"nbf":1750000059,"jti":"j","sid":"x","tenant_id":"t","roles":null}`)
	f.Add(`{"alg":"none","typ":"at+jwt","kid":"`+testKey.ID+`","crit":["b64"]}`, `{"exp":"1","aud":[1]}`)
	v, _ := testVerifier()

	f.Fuzz(func(t *testing.T, hdr, payload string) {
		in := b64([]byte(hdr)) + "." + b64([]byte(payload))
		raw := in + "." + b64(ed25519.Sign(testKey.Private, []byte(in)))
		c, err := v.Verify(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if !strings.Contains(hdr, testKey.ID) {
			t.Fatalf("accepted header without our kid: %s", hdr)
		}
		checkAccepted(t, c)
	})
}

func checkAccepted(t *testing.T, c Claims) {
	t.Helper()
	const leeway = 60 * time.Second
	switch {
	case c.Issuer != testIss || c.Audience != testAud:
		t.Fatalf("accepted iss/aud %q/%q", c.Issuer, c.Audience)
	case c.Subject == "" || c.ID == "" || c.SessionID == "" || c.TenantID == "":
		t.Fatalf("accepted token missing required claims: %+v", c)
	case c.Roles == nil:
		t.Fatal("accepted token returned nil roles")
	case !testNow.Before(c.ExpiresAt.Add(leeway)):
		t.Fatalf("accepted expired token: exp %v", c.ExpiresAt)
	case c.IssuedAt.IsZero() || c.IssuedAt.After(testNow.Add(leeway)):
		t.Fatalf("accepted iat %v", c.IssuedAt)
	case c.NotBefore.After(testNow.Add(leeway)):
		t.Fatalf("accepted nbf %v", c.NotBefore)
	}
}
