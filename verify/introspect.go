package verify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
)

const (
	// introspectionTTL bounds how long an answer is reused, so a revoked
	// session's tokens are refused within it.
	introspectionTTL = 10 * time.Second
	// maxIntrospected bounds the cache; past it, expired answers go, and if
	// that frees nothing the cache starts over.
	maxIntrospected = 10000
)

// introspector asks an RFC 7662 endpoint whether a token is still active.
type introspector struct {
	url, clientID, secret string
	client                *http.Client
	now                   func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]answer
}

type answer struct {
	active bool
	until  time.Time
}

func newIntrospector(u, clientID, secret string, client *http.Client, now func() time.Time) *introspector {
	return &introspector{url: u, clientID: clientID, secret: secret, client: client, now: now,
		cache: map[[sha256.Size]byte]answer{}}
}

// check runs after the local verification, so only tokens idp signed reach
// the endpoint. The cache is keyed by a hash: it never holds tokens.
func (in *introspector) check(ctx context.Context, raw string, c token.Claims) error {
	key := sha256.Sum256([]byte(raw))
	now := in.now()
	in.mu.Lock()
	a, ok := in.cache[key]
	in.mu.Unlock()
	if !ok || !now.Before(a.until) {
		active, err := in.ask(ctx, raw, c)
		if err != nil {
			return unavailable(err)
		}
		a = answer{active: active, until: now.Add(min(introspectionTTL, c.ExpiresAt.Sub(now)))}
		in.store(key, a, now)
	}
	if !a.active {
		return invalid("token is not active")
	}
	return nil
}

func (in *introspector) store(key [sha256.Size]byte, a answer, now time.Time) {
	if !now.Before(a.until) {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.cache) >= maxIntrospected {
		for k, old := range in.cache {
			if !now.Before(old.until) {
				delete(in.cache, k)
			}
		}
		if len(in.cache) >= maxIntrospected {
			clear(in.cache)
		}
	}
	in.cache[key] = a
}

// ask POSTs the token (RFC 7662 section 2.1) and reads "active". An active
// answer about another subject counts as inactive: it can't be this token.
func (in *introspector) ask(ctx context.Context, raw string, c token.Claims) (bool, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, strings.NewReader(form.Encode()))
	if err != nil {
		return false, fmt.Errorf("introspection: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 section 2.3.1: both parts are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.secret))
	resp, err := in.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("introspection: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return false, fmt.Errorf("introspection: %s refused the client credentials (status %d)", in.url, resp.StatusCode)
	default:
		return false, fmt.Errorf("introspection: POST %s: status %d", in.url, resp.StatusCode)
	}
	var doc struct {
		Active *bool  `json:"active"`
		Sub    string `json:"sub"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocument)).Decode(&doc); err != nil || doc.Active == nil {
		return false, errors.New("introspection: the answer is not an RFC 7662 response")
	}
	if *doc.Active && doc.Sub != "" && doc.Sub != c.Subject {
		return false, nil
	}
	return *doc.Active, nil
}
