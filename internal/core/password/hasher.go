package password

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"

	"golang.org/x/crypto/bcrypt"
)

// MinPepperBytes is the shortest pepper NewHasher accepts: the HMAC-SHA256
// key should carry at least as much entropy as the hash output.
const MinPepperBytes = 32

// Hasher hashes passwords as bcrypt(base64(HMAC-SHA256(pepper, password))).
//
// The pre-hash exists because bcrypt ignores everything after 72 bytes, so
// long passwords sharing a prefix would be equal; the HMAC makes every byte
// count. It is base64-encoded because many bcrypt implementations (though
// not Go's) stop at the first NUL byte, so a raw digest with an early 0x00
// would collapse to a few significant bytes if these hashes were ever
// checked elsewhere. The 44-character encoding fits well within 72. Keying the HMAC with a pepper kept outside
// the database means a leaked table alone cannot be brute-forced.
//
// A Hasher is immutable and safe for concurrent use.
type Hasher struct {
	// A closure rather than the pepper itself, so that printing a Hasher
	// with %v (for instance in a logged config struct) cannot leak it.
	newMAC func() hash.Hash
	cost   int
	dummy  []byte
}

// NewHasher returns a Hasher using pepper as the HMAC key and cost as the
// bcrypt work factor for new hashes. The pepper is copied.
func NewHasher(pepper []byte, cost int) (*Hasher, error) {
	if len(pepper) < MinPepperBytes {
		return nil, fmt.Errorf("password: pepper must be at least %d bytes, got %d", MinPepperBytes, len(pepper))
	}
	// bcrypt silently replaces a cost below its minimum with its default,
	// which would hide a configuration mistake, so reject it here. A cost
	// above the maximum is rejected by bcrypt itself, before any work, when
	// the dummy hash is computed below.
	if cost < bcrypt.MinCost {
		return nil, fmt.Errorf("password: bcrypt cost %d is outside %d..%d", cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	key := append([]byte(nil), pepper...)
	h := &Hasher{
		newMAC: func() hash.Hash { return hmac.New(sha256.New, key) },
		cost:   cost,
	}
	// The dummy's plaintext is random and discarded: nobody can ever log in
	// against it, even if it were mistakenly stored for a real account.
	dummy, err := bcrypt.GenerateFromPassword(h.prehash(rand.Text()), cost)
	if err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	h.dummy = dummy
	return h, nil
}

func (h *Hasher) prehash(password string) []byte {
	mac := h.newMAC()
	mac.Write([]byte(password))
	sum := mac.Sum(nil)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum)
	return out
}

// Hash returns the encoded bcrypt hash of password, in the "$2a$" format
// produced by golang.org/x/crypto/bcrypt.
func (h *Hasher) Hash(password string) (string, error) {
	// GenerateFromPassword fails only for inputs over 72 bytes or a bad
	// cost, both excluded by construction; the error is still passed on.
	encoded, err := bcrypt.GenerateFromPassword(h.prehash(password), h.cost)
	return string(encoded), err
}

// Verify reports whether password matches encoded. The comparison is
// constant-time; a malformed encoded hash never matches.
func (h *Hasher) Verify(encoded, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(encoded), h.prehash(password)) == nil
}

// NeedsRehash reports whether encoded should be replaced by a fresh Hash
// after a successful Verify: its cost is below the configured one, or it
// cannot be parsed at all.
func (h *Hasher) NeedsRehash(encoded string) bool {
	cost, err := bcrypt.Cost([]byte(encoded))
	return err != nil || cost < h.cost
}

// VerifyDummy does the same work as a failing Verify at the configured cost
// and discards the result. Call it when there is no hash to check (unknown
// email, disabled account) so that response time does not reveal which
// accounts exist.
func (h *Hasher) VerifyDummy(password string) {
	_ = bcrypt.CompareHashAndPassword(h.dummy, h.prehash(password))
}

// Cost returns the bcrypt cost used for new hashes.
func (h *Hasher) Cost() int { return h.cost }

// Pad does the work that, added to one Verify against encoded, makes one
// Verify at the configured cost: nothing when encoded is at that cost, and
// for a cheaper hash (made before security.bcrypt_cost was raised) bcrypt
// runs at each cost from encoded's up to the configured one, which add up to
// exactly the missing work (2^c + 2^c + 2^(c+1) + ... + 2^(n-1) = 2^n).
// A failed login against an old hash so takes as long as one against a
// current hash or an unknown email.
func (h *Hasher) Pad(encoded, password string) {
	costs, ok := h.padCosts(encoded)
	if !ok {
		h.VerifyDummy(password)
		return
	}
	for _, c := range costs {
		// Deriving a hash at cost c costs what comparing with one does.
		_, _ = bcrypt.GenerateFromPassword(h.prehash(password), c)
	}
}

// padCosts lists the bcrypt costs Pad runs for encoded; ok is false when
// encoded is no bcrypt hash at all.
func (h *Hasher) padCosts(encoded string) (costs []int, ok bool) {
	c, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return nil, false
	}
	for c = max(c, bcrypt.MinCost); c < h.cost; c++ {
		costs = append(costs, c)
	}
	return costs, true
}
