package token

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzClaimsValidation signs arbitrary header and payload bytes with the test
// key, exercising everything after the signature check: whatever passes must
// satisfy every documented claim rule.
func FuzzClaimsValidation(f *testing.F) {
	f.Add(`{"alg":"EdDSA","typ":"at+jwt","kid":"`+testKey.ID+`"}`,
		`{"iss":"`+testIss+`","sub":"s","aud":"`+testAud+`","exp":1750000600,"iat":1750000000,"jti":"j","sid":"x","tenant_id":"t"}`)
	f.Add(`{"alg":"EdDSA","typ":"application/AT+JWT","kid":"`+testKey.ID+`","jku":"https://x"}`,
		`{"iss":"`+testIss+`","sub":"s","aud":["a","`+testAud+`"],"exp":1750000030.5,"iat":1750000059,"nbf":1750000059,"jti":"j","sid":"x","tenant_id":"t","roles":null}`)
	f.Add(`{"alg":"none","typ":"at+jwt","kid":"`+testKey.ID+`","crit":["b64"]}`, `{"exp":"1","aud":[1]}`)
	v := testVerifier()

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
