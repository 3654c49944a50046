package password

import (
	"crypto/rand"
	"fmt"
)

// generateAlphabet has exactly 64 characters so that masking a random byte
// with 63 picks each one with equal probability. It avoids characters that
// shells or URLs would need to quote, since seed passwords get copied
// around by hand.
const generateAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// minGenerateLength keeps generated passwords at or above the strictest
// minimum length a deployment is expected to configure.
const minGenerateLength = 12

// Generate returns a random password of n characters (12 to MaxBytes),
// suitable as a one-time seed password. It passes Policy{MinLength: 12}
// with no email or tenant; use GenerateFor when those are known.
func Generate(n int) (string, error) {
	return GenerateFor(n, "", "")
}

// GenerateFor is Generate for a known account: the result also passes
// Policy{MinLength: n}.Check(result, email, tenantSlug).
func GenerateFor(n int, email, tenantSlug string) (string, error) {
	if n < minGenerateLength || n > MaxBytes {
		return "", fmt.Errorf("password: generated length must be %d..%d, got %d", minGenerateLength, MaxBytes, n)
	}
	policy := Policy{MinLength: n}
	buf := make([]byte, n)
	// Each attempt fails with probability well under 1e-3 (a short email or
	// slug appearing by chance, or a hit in the common list), so the loop
	// ends almost at once.
	for {
		// crypto/rand.Read never returns an error since Go 1.24; it
		// crashes the program instead.
		_, _ = rand.Read(buf)
		for i, b := range buf {
			buf[i] = generateAlphabet[b&63]
		}
		if policy.Check(string(buf), email, tenantSlug) == nil {
			return string(buf), nil
		}
	}
}
