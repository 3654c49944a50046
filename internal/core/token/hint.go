package token

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidHint is returned (wrapped) for every id_token_hint that must
// not be trusted. The wrapped reason is a fixed string, safe to log.
var ErrInvalidHint = errors.New("invalid id_token_hint")

// defaultHintMaxAge is used when HintOptions.MaxAge is zero: the longest a
// browser session lives by default (browser.remember_ttl).
const defaultHintMaxAge = 720 * time.Hour

// HintOptions configure VerifyIDTokenHint.
type HintOptions struct {
	// Issuer is our iss; hints from anyone else are refused.
	Issuer string
	// Lookup is the only source of keys: every published key of either
	// algorithm, an ed25519.PublicKey (EdDSA) or an *rsa.PublicKey (RS256).
	// The key's type decides the alg a hint must declare.
	Lookup func(kid string) (crypto.PublicKey, bool)
	// MaxAge bounds how long ago a hint may have expired: OpenID Connect
	// accepts expired hints, but one older than the longest browser
	// session can't name a live one. Zero means 720h.
	MaxAge time.Duration
	// Leeway tolerates clock skew on iat and nbf; capped at 60 s.
	Leeway time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// hintClaims is the read side of an ID token; aud is a string because we
// only ever sign one audience (SignIDToken).
type hintClaims struct {
	Issuer          string       `json:"iss"`
	Subject         string       `json:"sub"`
	Audience        string       `json:"aud"`
	ExpiresAt       *numericDate `json:"exp"`
	IssuedAt        *numericDate `json:"iat"`
	NotBefore       *numericDate `json:"nbf"`
	AuthTime        *numericDate `json:"auth_time"`
	Nonce           string       `json:"nonce"`
	AuthorizedParty string       `json:"azp"`
	SessionID       string       `json:"sid"`
	AccessTokenHash string       `json:"at_hash"`
}

// golang-jwt wants these; claim validation is ours (see VerifyIDTokenHint).
func (c *hintClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.jwt(), nil }
func (c *hintClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.jwt(), nil }
func (c *hintClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.jwt(), nil }
func (c *hintClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *hintClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *hintClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

func invalidHint(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidHint, reason) }

// VerifyIDTokenHint checks an id_token_hint (OpenID Connect Core 1.0
// section 3.1.2.1, RP-Initiated Logout 1.0 section 2): an ID token we
// signed, with one of our published keys of either algorithm, picked
// strictly by kid, its alg the key's; typ JWT (so an access token is not a
// hint); iss ours; sub and aud present. The hint may have expired, up to
// opts.MaxAge ago, but iat and nbf may not lie in the future and its
// lifetime is at most MaxIDTokenLifetime. The caller checks aud against
// the client. Every failure wraps ErrInvalidHint.
func VerifyIDTokenHint(raw string, opts HintOptions) (IDClaims, error) {
	if len(raw) > maxTokenLen {
		return IDClaims{}, invalidHint("token too large")
	}
	if opts.Issuer == "" || opts.Lookup == nil {
		return IDClaims{}, invalidHint("verifier misconfigured")
	}
	if !isCompactJWS(raw) {
		return IDClaims{}, invalidHint("malformed")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{AlgEdDSA, AlgRS256}),
		// exp may be past: the rules below replace golang-jwt's.
		jwt.WithoutClaimsValidation(),
		jwt.WithStrictDecoding(),
	)
	var (
		hc        hintClaims
		keyReason string
	)
	tok, err := p.ParseWithClaims(raw, &hc, func(t *jwt.Token) (any, error) {
		key, reason := hintKey(t, opts.Lookup)
		if reason != "" {
			keyReason = reason
			return nil, errors.New(reason)
		}
		return key, nil
	})
	if err != nil {
		if keyReason != "" {
			return IDClaims{}, invalidHint(keyReason)
		}
		return IDClaims{}, invalidHint(hintParseReason(tok, err))
	}
	if reason := checkHintClaims(&hc, opts, now()); reason != "" {
		return IDClaims{}, invalidHint(reason)
	}
	c := IDClaims{
		Issuer: hc.Issuer, Subject: hc.Subject, Audience: hc.Audience,
		Nonce: hc.Nonce, AuthorizedParty: hc.AuthorizedParty, SessionID: hc.SessionID,
		AccessTokenHash: hc.AccessTokenHash,
		IssuedAt:        hc.IssuedAt.t, ExpiresAt: hc.ExpiresAt.t,
	}
	if hc.AuthTime != nil {
		c.AuthTime = hc.AuthTime.t
	}
	return c, nil
}

// hintKey enforces the header rules and resolves the key, whose type must
// match the declared alg: an EdDSA header naming an RSA kid (or the other
// way round) is refused before any signature check.
func hintKey(t *jwt.Token, lookup func(string) (crypto.PublicKey, bool)) (crypto.PublicKey, string) {
	typ, _ := t.Header["typ"].(string)
	// RFC 8725 section 3.11: explicit typing keeps an access token (at+jwt),
	// signed by the same EdDSA keys, from passing as an ID token.
	if !strings.EqualFold(typ, typID) && !strings.EqualFold(typ, "application/"+typID) {
		return nil, "wrong typ"
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, "unsupported crit header"
	}
	kid, _ := t.Header["kid"].(string)
	if !validKID(kid) {
		return nil, "bad kid"
	}
	key, ok := lookup(kid)
	if !ok {
		return nil, "unknown kid"
	}
	switch k := key.(type) {
	case ed25519.PublicKey:
		if t.Method.Alg() != AlgEdDSA || len(k) != ed25519.PublicKeySize {
			return nil, "alg does not match key"
		}
	case *rsa.PublicKey:
		if t.Method.Alg() != AlgRS256 || checkRSAPublic(k) != nil {
			return nil, "alg does not match key"
		}
	default:
		return nil, "unknown kid"
	}
	return key, ""
}

func checkHintClaims(c *hintClaims, opts HintOptions, now time.Time) string {
	leeway := min(max(opts.Leeway, 0), maxLeeway)
	maxAge := opts.MaxAge
	if maxAge <= 0 {
		maxAge = defaultHintMaxAge
	}
	switch {
	case c.Issuer != opts.Issuer:
		return "wrong issuer"
	case c.Subject == "":
		return "missing sub"
	case c.Audience == "":
		return "missing aud"
	case c.ExpiresAt == nil || c.IssuedAt == nil:
		return "missing exp or iat"
	case !c.ExpiresAt.t.After(c.IssuedAt.t) || c.ExpiresAt.t.Sub(c.IssuedAt.t) > MaxIDTokenLifetime:
		return "implausible lifetime"
	case c.IssuedAt.t.After(now.Add(leeway)):
		return "issued in the future"
	case c.NotBefore != nil && c.NotBefore.t.After(now.Add(leeway)):
		return "not yet valid"
	case now.Sub(c.ExpiresAt.t) > maxAge:
		return "expired too long ago"
	}
	return ""
}

// hintParseReason maps golang-jwt errors to fixed strings (its messages can
// echo the attacker's alg).
func hintParseReason(tok *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unsupported alg"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok != nil && tok.Method != nil && tok.Method.Alg() != AlgEdDSA && tok.Method.Alg() != AlgRS256 {
			return "alg not allowed"
		}
		return "bad signature"
	default:
		return "invalid claims"
	}
}
