package token

import (
	"crypto/rand"
	"crypto/sha256"
)

// NewOpaque returns a 256-bit random token, base64url without padding (43
// characters). 256 bits makes guessing infeasible even with unlimited online
// attempts, so refresh and reset tokens need no extra entropy or rate limit.
func NewOpaque() (string, error) {
	var b [32]byte
	// Since Go 1.24 crypto/rand.Read never returns an error (it crashes the
	// process instead), so there is nothing to handle; the error result is
	// kept so callers are not coupled to that guarantee.
	_, _ = rand.Read(b[:])
	return b64(b[:]), nil
}

// HashOpaque is what the database stores instead of the token. A plain
// SHA-256 suffices (no salt or KDF) because the input has 256 bits of
// entropy; it also makes lookup by hash a simple indexed equality.
func HashOpaque(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}
