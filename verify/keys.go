package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxDocument bounds what we read from discovery and JWKS responses.
	maxDocument = 1 << 20
	// defaultMaxAge applies when the JWKS response has no max-age; it is
	// what idp sends by default (keys.jwks_max_age).
	defaultMaxAge = 5 * time.Minute
	// minMaxAge and maxMaxAge clamp the issuer's max-age: no-cache or 0
	// must not turn every request into a fetch, and a typo must not keep a
	// compromised key for a year.
	minMaxAge = time.Second
	maxMaxAge = 24 * time.Hour
	maxKIDLen = 128
)

// errNotDue says a refetch was skipped because one happened less than
// MinRefresh ago.
var errNotDue = errors.New("jwks refetch not due")

// keySet is an immutable snapshot of the issuer's keys.
type keySet struct {
	keys      map[string]ed25519.PublicKey
	etag      string
	fetchedAt time.Time // last 200 or 304
	expires   time.Time // fetchedAt + max-age: refetch after this
	usable    time.Time // keys verify until this while idp is unreachable
}

// keyCache holds the JWKS and decides when to fetch it again. Readers take
// the snapshot without locking; fetches run one at a time.
type keyCache struct {
	uri        string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration
	staleFor   time.Duration

	set atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *fetchCall
	lastAttempt time.Time
	lastErr     error // of the last attempt; nil after a success
}

// fetchCall is one fetch that any number of callers wait for.
type fetchCall struct {
	done chan struct{}
	err  error
}

func newKeyCache(uri string, client *http.Client, now func() time.Time, minRefresh, staleFor time.Duration) *keyCache {
	return &keyCache{uri: uri, client: client, now: now, minRefresh: minRefresh, staleFor: staleFor}
}

// load does the first fetch; without keys there is nothing to serve stale.
func (c *keyCache) load(ctx context.Context) error {
	c.lastAttempt = c.now()
	s, err := c.fetch(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	c.set.Store(s)
	return nil
}

// lookup returns the key for kid. Past max-age it revalidates the set first
// (deduplicated), serving the old keys while idp is unreachable up to the
// stale bound; an unknown kid causes at most one refetch per MinRefresh.
func (c *keyCache) lookup(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	now := c.now()
	s := c.set.Load()
	if !now.Before(s.expires) {
		fresh, err := c.refresh(ctx, now, false)
		switch {
		case err == nil:
			s = fresh
		case ctx.Err() != nil:
			return nil, unavailable(ctx.Err())
		default:
			s = c.set.Load()
			if !now.Before(s.usable) {
				return nil, unavailable(fmt.Errorf("keys fetched %s ago, past the stale bound: %w",
					now.Sub(s.fetchedAt).Round(time.Second), c.failure()))
			}
		}
	}
	if pub, ok := s.keys[kid]; ok {
		return pub, nil
	}
	fresh, err := c.refresh(ctx, now, true)
	switch {
	case errors.Is(err, errNotDue):
		if last := c.failure(); last != nil {
			// We can't tell a forged kid from a new key right now.
			return nil, unavailable(last)
		}
		return nil, errUnknownKID
	case err != nil:
		return nil, unavailable(err)
	}
	if pub, ok := fresh.keys[kid]; ok {
		return pub, nil
	}
	return nil, errUnknownKID
}

var errUnknownKID = errors.New("unknown kid")

func (c *keyCache) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// refresh fetches the set unless a fetch is running (then it waits for
// that one) or is not due: an expired set is due at once unless the last
// attempt failed, which, like an unknown kid, waits MinRefresh after the
// last attempt.
func (c *keyCache) refresh(ctx context.Context, now time.Time, unknownKID bool) (*keySet, error) {
	c.mu.Lock()
	call := c.inflight
	if call == nil {
		s := c.set.Load()
		due := now.Sub(c.lastAttempt) >= c.minRefresh
		if !unknownKID && !now.Before(s.expires) && c.lastErr == nil {
			due = true
		}
		if !due {
			c.mu.Unlock()
			return s, errNotDue
		}
		call = &fetchCall{done: make(chan struct{})}
		c.inflight, c.lastAttempt = call, now
		// The fetch outlives a caller that gives up: others wait for it.
		go c.run(context.WithoutCancel(ctx), call, s)
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return c.set.Load(), call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *keyCache) run(ctx context.Context, call *fetchCall, old *keySet) {
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	defer cancel()
	s, err := c.fetch(ctx, old)
	c.mu.Lock()
	if err == nil {
		c.set.Store(s)
	}
	c.lastErr, call.err, c.inflight = err, err, nil
	c.mu.Unlock()
	close(call.done)
}

// fetch GETs the JWKS, conditionally when old has an ETag.
func (c *keyCache) fetch(ctx context.Context, old *keySet) (*keySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.uri, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if old != nil && old.etag != "" {
		req.Header.Set("If-None-Match", old.etag)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: read %s: %w", c.uri, err)
	}
	now := c.now()
	var s keySet
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		s.keys, s.etag = old.keys, old.etag
	case resp.StatusCode == http.StatusOK:
		if len(body) > maxDocument {
			return nil, fmt.Errorf("jwks: %s is larger than %d bytes", c.uri, maxDocument)
		}
		if s.keys, err = parseJWKS(body); err != nil {
			return nil, fmt.Errorf("jwks: %s: %w", c.uri, err)
		}
		s.etag = resp.Header.Get("ETag")
	default:
		return nil, fmt.Errorf("jwks: GET %s: status %d", c.uri, resp.StatusCode)
	}
	s.fetchedAt = now
	s.expires = now.Add(maxAge(resp.Header))
	s.usable = now.Add(max(c.staleFor, s.expires.Sub(now)))
	return &s, nil
}

// maxAge is the freshness lifetime of a response (RFC 9111 section 4.2):
// max-age less Age, clamped to [minMaxAge, maxMaxAge].
func maxAge(h http.Header) time.Duration {
	d, found := defaultMaxAge, false
	for _, v := range h.Values("Cache-Control") {
		for dir := range strings.SplitSeq(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return minMaxAge
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 && !found {
					d, found = time.Duration(min(n, int64(maxMaxAge/time.Second)))*time.Second, true
				}
			}
		}
	}
	if age, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && age > 0 {
		d -= time.Duration(min(age, int64(maxMaxAge/time.Second))) * time.Second
	}
	return min(max(d, minMaxAge), maxMaxAge)
}

// jwk holds the members we read; others (x5c, key_ops...) are ignored.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// parseJWKS keeps the Ed25519 signature keys. Other keys (RSA keys for ID
// tokens, say) are skipped one by one rather than failing the set, and a
// kid that appears twice is dropped: the key it names would be ambiguous.
func parseJWKS(body []byte) (map[string]ed25519.PublicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("not a JWK set")
	}
	keys := map[string]ed25519.PublicKey{}
	dup := map[string]bool{}
	for _, raw := range doc.Keys {
		var k jwk
		if json.Unmarshal(raw, &k) != nil || k.Kty != "OKP" || k.Crv != "Ed25519" ||
			k.Use != "" && k.Use != "sig" || k.Alg != "" && k.Alg != "EdDSA" ||
			k.Kid == "" || len(k.Kid) > maxKIDLen {
			continue
		}
		x, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		if _, seen := keys[k.Kid]; seen || dup[k.Kid] {
			delete(keys, k.Kid)
			dup[k.Kid] = true
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	if len(keys) == 0 {
		return nil, errors.New("no Ed25519 signature key in the set")
	}
	return keys, nil
}

// discover reads the issuer's discovery document and returns its jwks_uri.
// The document must name the same issuer (OpenID Connect Discovery 1.0
// section 4.3), else a mistyped URL could hand us someone else's keys.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u := issuer + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("verify: discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", unavailable(fmt.Errorf("discovery: %w", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("discovery: GET %s: status %d", u, resp.StatusCode)
		if resp.StatusCode >= 500 {
			return "", unavailable(err)
		}
		return "", fmt.Errorf("verify: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocument)).Decode(&doc); err != nil {
		return "", fmt.Errorf("verify: discovery: %s is not a discovery document", u)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("verify: discovery: %s names issuer %q, not %q", u, doc.Issuer, issuer)
	}
	j, err := url.Parse(doc.JWKSURI)
	if err != nil || !j.IsAbs() || j.Host == "" || j.Scheme != "https" && j.Scheme != "http" ||
		j.Scheme == "http" && strings.HasPrefix(issuer, "https://") {
		return "", fmt.Errorf("verify: discovery: jwks_uri %q is not an absolute URL of the issuer's scheme", doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}
