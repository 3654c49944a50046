package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

func TestNewOpaque(t *testing.T) {
	const n = 100_000
	seen := make(map[string]struct{}, n)
	for range n {
		tok, err := NewOpaque()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 43 {
			t.Fatalf("len(%q) = %d, want 43", tok, len(tok))
		}
		if _, dup := seen[tok]; dup {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = struct{}{}
	}
	tok, _ := NewOpaque()
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not base64url of 32 bytes: %v", tok, err)
	}
}

func TestHashOpaque(t *testing.T) {
	tests := []struct{ in, wantHex string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		got := HashOpaque(tt.in)
		if hex.EncodeToString(got) != tt.wantHex {
			t.Errorf("HashOpaque(%q) = %x, want %s", tt.in, got, tt.wantHex)
		}
	}
	tok, _ := NewOpaque()
	a, b := HashOpaque(tok), HashOpaque(tok)
	sum := sha256.Sum256([]byte(tok))
	if len(a) != 32 || !bytes.Equal(a, b) || !bytes.Equal(a, sum[:]) {
		t.Errorf("HashOpaque not a deterministic 32-byte SHA-256: %x %x", a, b)
	}
	a[0] ^= 0xff
	if bytes.Equal(a, HashOpaque(tok)) {
		t.Error("HashOpaque returns shared memory")
	}
}
