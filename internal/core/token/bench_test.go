package token

import "testing"

func BenchmarkSign(b *testing.B) {
	c := testClaims()
	for b.Loop() {
		if _, err := Sign(testKey, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	v := testVerifier()
	tok := mustSign(b, testKey, testClaims())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyOversized shows that a hostile 1 MB bearer costs nothing.
func BenchmarkVerifyOversized(b *testing.B) {
	v := testVerifier()
	tok := string(make([]byte, 1<<20))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkGenerateRSAKey is the cost of one RS256 key (`idp migrate up`
// makes two, `idp keys rotate` one): docs/operations.md, "Signing keys".
func BenchmarkGenerateRSAKey(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateRSAKey(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignIDToken(b *testing.B) {
	for _, s := range []Signer{testKey, testRSAKey} {
		b.Run(s.Alg(), func(b *testing.B) {
			c := testIDClaims()
			for b.Loop() {
				if _, err := SignIDToken(s, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyIDTokenHint(b *testing.B) {
	opts := testHintOptions()
	for _, s := range []Signer{testKey, testRSAKey} {
		b.Run(s.Alg(), func(b *testing.B) {
			tok := mustSignID(b, s, testIDClaims())
			for b.Loop() {
				if _, err := VerifyIDTokenHint(tok, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
