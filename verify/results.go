package verify

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
)

// maxResults bounds the cache of verified tokens (a few MB at most).
const maxResults = 10000

// results remembers tokens that passed verification, keyed by their
// SHA-256, so a client's repeated requests with one token cost a hash and
// a key lookup instead of a signature check. A hit stands only while the
// token is unexpired and its kid still resolves, through the key cache, to
// the same key: an emergency rotation or the stale bound ends it exactly as
// for an unseen token.
type results struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]result
}

type result struct {
	claims token.Claims
	kid    string
	pub    ed25519.PublicKey
}

func newResults() *results { return &results{m: map[[sha256.Size]byte]result{}} }

func (rs *results) get(key [sha256.Size]byte) (result, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.m[key]
	return r, ok
}

func (rs *results) drop(key [sha256.Size]byte) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.m, key)
}

// put stores r; when full it drops what has expired, and if that frees
// nothing it starts over (a flood of valid tokens costs re-verification,
// never memory).
func (rs *results) put(key [sha256.Size]byte, r result, now time.Time, leeway time.Duration) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.m) >= maxResults {
		for k, old := range rs.m {
			if !now.Before(old.claims.ExpiresAt.Add(leeway)) {
				delete(rs.m, k)
			}
		}
		if len(rs.m) >= maxResults {
			clear(rs.m)
		}
	}
	rs.m[key] = r
}
