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
