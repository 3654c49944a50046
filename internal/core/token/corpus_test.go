package token_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
	"github.com/idp-dev/idp/verify/verifytest"
)

// The forged-token corpus lives in verifytest so that this verifier and
// package verify (and downstream services' tests) refuse the same tokens.

const (
	corpusIss = "https://idp.example.com"
	corpusAud = "https://api.example.com"
)

var corpusNow = time.Unix(1_750_000_000, 0)

var corpusKey = sync.OnceValue(func() token.Key {
	k, err := token.GenerateKey()
	if err != nil {
		panic(err)
	}
	return k
})

var corpus = sync.OnceValue(func() []verifytest.Forgery {
	list, err := verifytest.Forgeries(corpusKey().Private, corpusIss, corpusAud, corpusNow)
	if err != nil {
		panic(err)
	}
	return list
})

// safeKID is written independently of the verifier's kid check so a bug
// there can't hide.
var safeKID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// corpusVerifier knows only corpusKey and records kids handed to Lookup that
// KeyID could never have produced.
func corpusVerifier() (token.Verifier, func() []string) {
	var mu sync.Mutex
	var hostile []string
	key := corpusKey()
	return token.Verifier{
			Issuer: corpusIss, Audience: corpusAud, Leeway: 60 * time.Second,
			Lookup: func(kid string) (ed25519.PublicKey, bool) {
				if !safeKID.MatchString(kid) {
					mu.Lock()
					hostile = append(hostile, kid)
					mu.Unlock()
				}
				return key.Public, kid == key.ID
			},
			Now: func() time.Time { return corpusNow },
		}, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), hostile...)
		}
}

func TestVerifyRefusesForgeries(t *testing.T) {
	list := corpus()
	if len(list) < 80 {
		t.Fatalf("corpus has %d tokens", len(list))
	}
	for _, tt := range list {
		t.Run(tt.Name, func(t *testing.T) {
			v, hostile := corpusVerifier()
			c, err := v.Verify(tt.Token)
			if !errors.Is(err, token.ErrInvalid) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalid", c, err)
			}
			if want := token.ErrInvalid.Error() + ": " + tt.Reason; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			// Reasons end up in logs; they must not echo attacker input.
			if len(err.Error()) > 64 {
				t.Errorf("error message too long (%d bytes): %q", len(err.Error()), err)
			}
			if c.Subject != "" || c.Issuer != "" || c.Roles != nil || !c.ExpiresAt.IsZero() {
				t.Errorf("claims returned alongside error: %+v", c)
			}
			if h := hostile(); len(h) > 0 {
				t.Errorf("Lookup called with hostile kids %q", h)
			}
		})
	}
}

// The corpus tokens differ from a valid one only in what makes them
// forgeries: the same builder's valid token verifies.
func TestCorpusBaseTokenVerifies(t *testing.T) {
	v, _ := corpusVerifier()
	tok, err := token.Sign(corpusKey(), token.Claims{
		Issuer: corpusIss, Subject: "s", Audience: corpusAud, ID: "j", SessionID: "x", TenantID: "t",
		IssuedAt: corpusNow, ExpiresAt: corpusNow.Add(15 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// FuzzVerify feeds arbitrary strings to Verify, seeded with the corpus.
// Only tokens signed by the corpus key can be accepted; since the fuzzer
// cannot forge Ed25519, anything it gets accepted must still carry a valid
// signature over its exact bytes.
func FuzzVerify(f *testing.F) {
	key := corpusKey()
	valid, err := token.Sign(key, token.Claims{
		Issuer: corpusIss, Subject: "s", Audience: corpusAud, ID: "j", SessionID: "x", TenantID: "t",
		IssuedAt: corpusNow, ExpiresAt: corpusNow.Add(15 * time.Minute),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, fg := range corpus() {
		if len(fg.Token) <= 16<<10 {
			f.Add(fg.Token)
		}
	}
	v, _ := corpusVerifier()

	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(raw)
		if err != nil {
			if !errors.Is(err, token.ErrInvalid) {
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
		if !ed25519.Verify(key.Public, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted a token not signed by the corpus key: %q", raw)
		}
		const leeway = 60 * time.Second
		switch {
		case c.Issuer != corpusIss || c.Audience != corpusAud:
			t.Fatalf("accepted iss/aud %q/%q", c.Issuer, c.Audience)
		case c.Subject == "" || c.ID == "" || c.SessionID == "" || c.TenantID == "" || c.Roles == nil:
			t.Fatalf("accepted token missing required claims: %+v", c)
		case !corpusNow.Before(c.ExpiresAt.Add(leeway)):
			t.Fatalf("accepted expired token: exp %v", c.ExpiresAt)
		case c.IssuedAt.IsZero() || c.IssuedAt.After(corpusNow.Add(leeway)) || c.NotBefore.After(corpusNow.Add(leeway)):
			t.Fatalf("accepted iat %v nbf %v", c.IssuedAt, c.NotBefore)
		}
	})
}
