package verify_test

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/idp-dev/idp/verify"
	"github.com/idp-dev/idp/verify/verifytest"
)

// BenchmarkVerify is a warm-cache verification; make bench compares it
// with raw Ed25519 (target: at least 0.8 of its rate).
func BenchmarkVerify(b *testing.B) {
	iss := verifytest.NewIssuer()
	defer iss.Close()
	v, err := verify.New(context.Background(), iss.URL, iss.Audience)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := iss.Token(verify.Claims{Roles: []string{"admin"}, Email: "a@example.com"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawEd25519 is the baseline: the signature check alone.
func BenchmarkRawEd25519(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := []byte(strings.Repeat("x", 400))
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad")
		}
	}
}

// BenchmarkVerifyUnseen verifies tokens the results cache never saw.
func BenchmarkVerifyUnseen(b *testing.B) {
	iss := verifytest.NewIssuer()
	defer iss.Close()
	v, err := verify.New(context.Background(), iss.URL, iss.Audience)
	if err != nil {
		b.Fatal(err)
	}
	toks := make([]string, 30000)
	for i := range toks {
		if toks[i], err = iss.Token(verify.Claims{Roles: []string{"admin"}, Email: "a@example.com"}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
