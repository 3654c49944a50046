package token

import (
	"bytes"
	"crypto/rand"
	"testing"
)

func testSealer(t *testing.T) *Sealer {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSealerKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer accepted a %d-byte key", n)
		}
	}
	if _, err := NewSealer(make([]byte, 32)); err != nil {
		t.Errorf("NewSealer(32 bytes): %v", err)
	}
}

func TestSealer(t *testing.T) {
	s := testSealer(t)
	pt := []byte("-----BEGIN PRIVATE KEY----- secret")
	aad := []byte(testKey.ID)
	sealed, err := s.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != 12+len(pt)+16 {
		t.Errorf("sealed length %d, want nonce+plaintext+tag = %d", len(sealed), 12+len(pt)+16)
	}
	if bytes.Contains(sealed, pt[:16]) {
		t.Error("plaintext visible in sealed output")
	}
	again, _ := s.Seal(pt, aad)
	if bytes.Equal(again, sealed) || bytes.Equal(again[:12], sealed[:12]) {
		t.Error("two seals of the same plaintext share bytes or nonce")
	}

	tamper := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		s      *Sealer
		sealed []byte
		aad    []byte
		ok     bool
	}{
		{"round trip", s, sealed, aad, true},
		{"second seal", s, again, aad, true},
		{"tampered nonce", s, tamper(0), aad, false},
		{"tampered ciphertext", s, tamper(12), aad, false},
		{"tampered tag", s, tamper(len(sealed) - 1), aad, false},
		{"truncated", s, sealed[:len(sealed)-1], aad, false},
		{"shorter than overhead", s, sealed[:27], aad, false},
		{"empty", s, nil, aad, false},
		{"appended byte", s, append(bytes.Clone(sealed), 0), aad, false},
		{"wrong aad", s, sealed, []byte("other-kid"), false},
		{"missing aad", s, sealed, nil, false},
		{"wrong key", testSealer(t), sealed, aad, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Open(tt.sealed, tt.aad)
			if tt.ok {
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("Open = %q, %v; want %q", got, err, pt)
				}
				return
			}
			if err == nil || got != nil {
				t.Fatalf("Open = %q, %v; want error", got, err)
			}
		})
	}

	t.Run("empty plaintext and aad", func(t *testing.T) {
		sealed, err := s.Seal(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Open(sealed, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
}

func TestSealForHolder(t *testing.T) {
	parent, _ := NewOpaque()
	other, _ := NewOpaque()
	pt := []byte(`{"access_token":"eyJ...","refresh_token":"child"}`)
	sealed, err := SealForHolder(parent, pt)
	if err != nil {
		t.Fatal(err)
	}

	// A Sealer keyed by the stored hash must not open it: the database holds
	// HashOpaque(parent), and that must not be enough.
	hashSealer, err := NewSealer(HashOpaque(parent))
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)/2] ^= 0x80

	tests := []struct {
		name   string
		parent string
		sealed []byte
		ok     bool
	}{
		{"holder opens", parent, sealed, true},
		{"different parent", other, sealed, false},
		{"parent with one char changed", parent[:42] + string(parent[42]^1), sealed, false},
		{"empty parent", "", sealed, false},
		{"tampered", parent, tampered, false},
		{"truncated", parent, sealed[:10], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OpenForHolder(tt.parent, tt.sealed)
			if tt.ok {
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("OpenForHolder = %q, %v", got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("OpenForHolder = %q, want error", got)
			}
		})
	}

	if _, err := hashSealer.Open(sealed, HashOpaque(parent)); err == nil {
		t.Error("record opens with a key equal to the stored hash")
	}
	if _, err := SealForHolder("", pt); err == nil {
		t.Error("SealForHolder accepted an empty parent token")
	}

	// Pins the derivation so a refactor cannot silently orphan stored records.
	s, err := holderSealer(parent)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Open(sealed, HashOpaque(parent)); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("derived sealer: %q, %v", got, err)
	}
}
