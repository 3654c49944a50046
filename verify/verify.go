package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
)

// Every error of Verify wraps exactly one of these.
var (
	// ErrInvalidToken: the token must not be accepted (forged, expired,
	// meant for another audience, revoked...). Answer 401.
	ErrInvalidToken = errors.New("verify: invalid token")
	// ErrUnavailable: the token could not be checked because idp (its JWKS
	// or introspection endpoint) cannot be reached and no usable keys are
	// left. Answer 503; the token may be fine.
	ErrUnavailable = errors.New("verify: token issuer unavailable")
)

const (
	defaultMinRefresh = 30 * time.Second
	defaultStaleFor   = time.Hour
	defaultLeeway     = 60 * time.Second
	defaultTimeout    = 10 * time.Second
	// maxLeeway and maxTokenLen are core/token's limits.
	maxLeeway   = 60 * time.Second
	maxTokenLen = 8 << 10
)

// Claims is what a verified access token says about its caller.
type Claims struct {
	Subject, TenantID, SessionID, ClientID, Email string
	Roles, Scopes                                 []string
	IssuedAt, ExpiresAt                           time.Time
	// PasswordChange is set on tokens of a session whose password must be
	// changed first; they carry no roles. Verify refuses them unless the
	// Verifier was built with WithPasswordChangeAllowed.
	PasswordChange bool
}

// HasRole says whether the token grants role in its tenant.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// Verifier checks access tokens of one issuer for one audience. It is safe
// for concurrent use; build one per process and share it.
type Verifier struct {
	tokens         token.Verifier // Lookup is set per call
	keys           *keyCache
	results        *results
	introspect     *introspector
	allowPwdChange bool
	now            func() time.Time
	leeway         time.Duration // as token.Verifier applies it
}

// Option configures New.
type Option func(*config)

type config struct {
	client                         *http.Client
	minRefresh, staleFor           time.Duration
	leeway                         time.Duration
	now                            func() time.Time
	introURL, introID, introSecret string
	allowPwdChange                 bool
	errs                           []string
}

// WithHTTPClient sets the client for discovery, JWKS and introspection
// requests (default: a client with a 10 s timeout).
func WithHTTPClient(c *http.Client) Option {
	return func(cfg *config) {
		if c == nil {
			cfg.errs = append(cfg.errs, "WithHTTPClient: nil client")
			return
		}
		cfg.client = c
	}
}

// WithMinRefresh sets how often, at most, a token with an unknown kid makes
// the Verifier refetch the JWKS (default 30 s). It is also the wait before
// retrying a failed fetch.
func WithMinRefresh(d time.Duration) Option {
	return func(cfg *config) {
		if d < 0 {
			cfg.errs = append(cfg.errs, "WithMinRefresh: negative duration")
		}
		cfg.minRefresh = d
	}
}

// WithStaleFor sets how long keys keep verifying after their last
// successful fetch while idp cannot be reached (default 1 h). Past it,
// Verify fails with ErrUnavailable.
func WithStaleFor(d time.Duration) Option {
	return func(cfg *config) {
		if d < 0 {
			cfg.errs = append(cfg.errs, "WithStaleFor: negative duration")
		}
		cfg.staleFor = d
	}
}

// WithLeeway sets the clock skew tolerated on exp, nbf and iat (default and
// maximum 60 s; larger values count as 60 s).
func WithLeeway(d time.Duration) Option {
	return func(cfg *config) {
		if d < 0 {
			cfg.errs = append(cfg.errs, "WithLeeway: negative duration")
		}
		cfg.leeway = d
	}
}

// WithIntrospection makes Verify also ask idp's RFC 7662 introspection
// endpoint (url, e.g. <issuer>/oauth2/introspect) whether each token is still
// active, authenticating as a confidential client with client_secret_basic.
// A revoked session's tokens are then refused within a few seconds (answers
// are cached for at most 10 s) instead of at their expiry. The endpoint comes
// with idp's OpenID Connect provider (docs/integrate.md).
func WithIntrospection(url, clientID, secret string) Option {
	return func(cfg *config) {
		if url == "" || clientID == "" || secret == "" {
			cfg.errs = append(cfg.errs, "WithIntrospection: url, client ID and secret are required")
		}
		cfg.introURL, cfg.introID, cfg.introSecret = url, clientID, secret
	}
}

// WithPasswordChangeAllowed accepts tokens of sessions whose password must be
// changed first (Claims.PasswordChange). Only the service that lets users
// change their password needs it; such tokens carry no roles.
func WithPasswordChangeAllowed() Option {
	return func(cfg *config) { cfg.allowPwdChange = true }
}

// withClock replaces time.Now, for tests (export_test.go).
func withClock(now func() time.Time) Option {
	return func(cfg *config) { cfg.now = now }
}

// New builds a Verifier for tokens that issuer issues for audience. It reads
// issuer's discovery document (/.well-known/openid-configuration) for the
// jwks_uri and fetches the JWKS once, so a wrong issuer fails here rather
// than at the first request; unreachable endpoints give an error wrapping
// ErrUnavailable. A trailing slash on issuer is ignored, as idp drops it.
func New(ctx context.Context, issuer, audience string, opts ...Option) (*Verifier, error) {
	cfg := config{minRefresh: defaultMinRefresh, staleFor: defaultStaleFor, leeway: defaultLeeway, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	issuer = strings.TrimSuffix(issuer, "/")
	if issuer == "" {
		cfg.errs = append(cfg.errs, "issuer is empty")
	}
	if audience == "" {
		cfg.errs = append(cfg.errs, "audience is empty")
	}
	if len(cfg.errs) > 0 {
		return nil, fmt.Errorf("verify: %s", strings.Join(cfg.errs, "; "))
	}
	if cfg.client == nil {
		cfg.client = &http.Client{Timeout: defaultTimeout}
	}

	jwksURI, err := discover(ctx, cfg.client, issuer)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		tokens: token.Verifier{
			Issuer:   issuer,
			Audience: audience,
			Leeway:   cfg.leeway,
			Now:      cfg.now,
		},
		keys:           newKeyCache(jwksURI, cfg.client, cfg.now, cfg.minRefresh, cfg.staleFor),
		results:        newResults(),
		allowPwdChange: cfg.allowPwdChange,
		now:            cfg.now,
		leeway:         min(cfg.leeway, maxLeeway),
	}
	if err := v.keys.load(ctx); err != nil {
		return nil, err
	}
	if cfg.introURL != "" {
		v.introspect = newIntrospector(cfg.introURL, cfg.introID, cfg.introSecret, cfg.client, cfg.now)
	}
	return v, nil
}

// Verify checks raw (the token without "Bearer ") and returns its claims.
// Errors wrap ErrInvalidToken or ErrUnavailable; their text names a fixed
// reason (never token content), fit for logs.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	tc, err := v.verifyToken(ctx, raw)
	if err != nil {
		return nil, err
	}
	if tc.PasswordChange && !v.allowPwdChange {
		return nil, invalid("password change pending")
	}
	if v.introspect != nil {
		if err := v.introspect.check(ctx, raw, tc); err != nil {
			return nil, err
		}
	}
	return &Claims{
		Subject:        tc.Subject,
		TenantID:       tc.TenantID,
		SessionID:      tc.SessionID,
		ClientID:       tc.ClientID,
		Email:          tc.Email,
		Roles:          slices.Clone(tc.Roles), // the cache keeps its own
		Scopes:         strings.Fields(tc.Scope),
		IssuedAt:       tc.IssuedAt,
		ExpiresAt:      tc.ExpiresAt,
		PasswordChange: tc.PasswordChange,
	}, nil
}

// verifyToken is core/token's verification with the key cache behind it,
// and the results cache in front.
func (v *Verifier) verifyToken(ctx context.Context, raw string) (token.Claims, error) {
	var hash [sha256.Size]byte
	if len(raw) <= maxTokenLen {
		hash = sha256.Sum256([]byte(raw))
		if r, ok := v.results.get(hash); ok {
			if v.now().Before(r.claims.ExpiresAt.Add(v.leeway)) {
				pub, err := v.keys.lookup(ctx, r.kid)
				if err == nil && pub.Equal(r.pub) {
					return r.claims, nil
				}
				if errors.Is(err, ErrUnavailable) {
					return token.Claims{}, err
				}
			}
			// Expired, or its key is gone: verify it afresh, which gives
			// the same reason an unseen token would get.
			v.results.drop(hash)
		}
	}

	var (
		unavailable error
		kid         string
		key         ed25519.PublicKey
	)
	tv := v.tokens
	// token.Verifier asks for the key only once the token's format, typ and
	// kid are sane, so malformed tokens never cause a JWKS fetch.
	tv.Lookup = func(k string) (ed25519.PublicKey, bool) {
		pub, err := v.keys.lookup(ctx, k)
		if err != nil {
			if errors.Is(err, ErrUnavailable) {
				unavailable = err
			}
			return nil, false
		}
		kid, key = k, pub
		return pub, true
	}
	tc, err := tv.Verify(raw)
	if unavailable != nil {
		return token.Claims{}, unavailable
	}
	if err != nil {
		return token.Claims{}, invalid(strings.TrimPrefix(err.Error(), token.ErrInvalid.Error()+": "))
	}
	if len(raw) <= maxTokenLen {
		v.results.put(hash, result{claims: tc, kid: kid, pub: key}, v.now(), v.leeway)
	}
	return tc, nil
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }

func unavailable(err error) error { return fmt.Errorf("%w: %w", ErrUnavailable, err) }
