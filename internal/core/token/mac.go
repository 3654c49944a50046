package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// MAC signs short values the server hands out and later gets back (form
// tokens, sign-in flows) under a key derived from a secret for one purpose,
// so a value signed for one use is worthless for another.
type MAC struct{ key []byte }

// NewMAC derives the key for purpose from secret (keys.encryption_key).
func NewMAC(secret []byte, purpose string) (*MAC, error) {
	if len(secret) < 32 {
		return nil, errors.New("token: MAC secret must be at least 32 bytes")
	}
	if purpose == "" {
		return nil, errors.New("token: MAC purpose is empty")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("idp mac v1\x00" + purpose))
	return &MAC{key: m.Sum(nil)}, nil
}

// Sign returns the base64url HMAC-SHA256 of parts. Each part is length
// prefixed, so ("ab", "c") and ("a", "bc") sign differently.
func (m *MAC) Sign(parts ...string) string {
	return b64(m.sum(parts))
}

// Verify reports whether sig is Sign(parts...), in constant time.
func (m *MAC) Verify(sig string, parts ...string) bool {
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, m.sum(parts))
}

func (m *MAC) sum(parts []string) []byte {
	h := hmac.New(sha256.New, m.key)
	var n [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}
