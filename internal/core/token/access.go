package token

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	typAccess = "at+jwt"

	// maxTokenLen bounds the work an unauthenticated bearer can cause: base64
	// and JSON decoding happen before the signature check, so without it a
	// 1 MB header would be decoded in full on every request. Our tokens are
	// well under 2 KiB.
	maxTokenLen = 8 << 10

	maxKIDLen = 128

	// maxLeeway caps clock-skew tolerance so a misconfiguration cannot keep
	// expired tokens alive for long.
	maxLeeway = 60 * time.Second
)

// ErrInvalid is returned (wrapped) for every access token that must not be
// accepted. Callers should respond with a generic 401 and log the wrapped
// reason, which never contains attacker-supplied bytes.
var ErrInvalid = errors.New("invalid access token")

// Claims is the content of an access token.
type Claims struct {
	Issuer, Subject, Audience, ID, SessionID, TenantID, Email string
	Roles                                                     []string
	IssuedAt, NotBefore, ExpiresAt                            time.Time
	// ClientID and Scope (space-separated) are set for tokens issued to a
	// registered OAuth client (RFC 9068 section 2.2); empty otherwise.
	ClientID, Scope string
	// PasswordChange marks a token of a session whose password must be
	// changed first: it carries no roles, and downstream verifiers refuse it
	// by default (docs/api.md).
	PasswordChange bool
}

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// signedClaims is the wire form we emit. aud is a plain string because we
// only ever mint for one audience, and some relying parties mishandle arrays.
type signedClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  string   `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	ID        string   `json:"jti"`
	SessionID string   `json:"sid"`
	TenantID  string   `json:"tenant_id"`
	Roles     []string `json:"roles"`
	Email     string   `json:"email"`
	ClientID  string   `json:"client_id,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	PwdChange bool     `json:"pwd_change,omitempty"`
}

// parsedClaims is the read side. aud may be a string or an array (RFC 7519
// §4.1.3); the getters let golang-jwt's validator check the standard claims.
type parsedClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.ClaimStrings `json:"aud"`
	ExpiresAt *numericDate     `json:"exp"`
	IssuedAt  *numericDate     `json:"iat"`
	NotBefore *numericDate     `json:"nbf"`
	ID        string           `json:"jti"`
	SessionID string           `json:"sid"`
	TenantID  string           `json:"tenant_id"`
	Roles     []string         `json:"roles"`
	Email     string           `json:"email"`
	ClientID  string           `json:"client_id"`
	Scope     string           `json:"scope"`
	PwdChange bool             `json:"pwd_change"`
}

func (c *parsedClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.jwt(), nil }
func (c *parsedClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.jwt(), nil }
func (c *parsedClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.jwt(), nil }
func (c *parsedClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *parsedClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *parsedClaims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// maxNumericDate is 9999-12-31T23:59:59Z. Bounding dates keeps the float to
// int64 conversion defined; out-of-range conversions differ between CPU
// architectures (amd64 yields a date in the far past, arm64 in the far future).
const maxNumericDate = 253402300799

// numericDate is stricter than jwt.NumericDate, which also accepts quoted
// numbers: RFC 7519 §2 requires a JSON number, and other verifiers (go-jose)
// reject strings, so accepting them would make our view of a token differ
// from theirs.
type numericDate struct{ t time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return errors.New("NumericDate is not a JSON number")
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > maxNumericDate {
		return errors.New("NumericDate out of range")
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

func (d *numericDate) jwt() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &jwt.NumericDate{Time: d.t}
}

// Sign issues an access token. It refuses claims that Verify would reject,
// so a bug in the caller shows up at issuance instead of as mysterious 401s.
// A zero NotBefore defaults to IssuedAt. Times are truncated to seconds.
func Sign(key Key, c Claims) (string, error) {
	if len(key.Private) != ed25519.PrivateKeySize {
		return "", errors.New("token: sign: signing key is not an ed25519 private key")
	}
	if !validKID(key.ID) {
		return "", errors.New("token: sign: key ID is empty, too long or not base64url")
	}
	for _, f := range [...]struct{ name, v string }{
		{"iss", c.Issuer}, {"sub", c.Subject}, {"aud", c.Audience},
		{"jti", c.ID}, {"sid", c.SessionID}, {"tenant_id", c.TenantID},
	} {
		if f.v == "" {
			return "", fmt.Errorf("token: sign: %s claim is empty", f.name)
		}
	}
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
		return "", errors.New("token: sign: iat and exp are required")
	}
	if !c.ExpiresAt.After(c.IssuedAt) {
		return "", errors.New("token: sign: exp is not after iat")
	}
	nbf := c.NotBefore
	if nbf.IsZero() {
		nbf = c.IssuedAt
	}
	for _, t := range [...]time.Time{c.IssuedAt, nbf, c.ExpiresAt} {
		if t.Unix() < 0 || t.Unix() > maxNumericDate {
			return "", errors.New("token: sign: time outside 1970..9999")
		}
	}
	roles := c.Roles
	if roles == nil {
		// Consumers index into roles; null would force them to special-case it.
		roles = []string{}
	}

	// Neither value can fail to marshal: only strings, ints and []string.
	hdr, _ := json.Marshal(header{Alg: AlgEdDSA, Typ: typAccess, Kid: key.ID})
	payload, _ := json.Marshal(signedClaims{
		Issuer:    c.Issuer,
		Subject:   c.Subject,
		Audience:  c.Audience,
		ExpiresAt: c.ExpiresAt.Unix(),
		IssuedAt:  c.IssuedAt.Unix(),
		NotBefore: nbf.Unix(),
		ID:        c.ID,
		SessionID: c.SessionID,
		TenantID:  c.TenantID,
		Roles:     roles,
		Email:     c.Email,
		ClientID:  c.ClientID,
		Scope:     c.Scope,
		PwdChange: c.PasswordChange,
	})

	signingInput := b64(hdr) + "." + b64(payload)
	tok := signingInput + "." + b64(ed25519.Sign(key.Private, []byte(signingInput)))
	if len(tok) > maxTokenLen {
		return "", fmt.Errorf("token: sign: token is %d bytes, verifiers accept at most %d", len(tok), maxTokenLen)
	}
	return tok, nil
}

// Verifier checks access tokens. The zero value rejects everything: Issuer,
// Audience and Lookup are mandatory, because golang-jwt silently skips the
// iss/aud checks when they are empty.
type Verifier struct {
	Issuer, Audience string
	// Leeway tolerates clock skew on exp, nbf and iat. Negative values count
	// as 0 and values above 60s are capped at 60s.
	Leeway time.Duration
	// Lookup is the only source of verification keys. Key hints carried by the
	// token (jku, x5u, jwk, x5c) are never consulted: trusting them would let
	// anyone sign tokens with a key of their choosing.
	Lookup func(kid string) (ed25519.PublicKey, bool)
	// Now defaults to time.Now.
	Now func() time.Time
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalid, reason) }

// Verify parses and validates an access token. Every failure wraps ErrInvalid
// with a short fixed reason.
func (v Verifier) Verify(raw string) (Claims, error) {
	if len(raw) > maxTokenLen {
		return Claims{}, invalid("token too large")
	}
	if v.Issuer == "" || v.Audience == "" || v.Lookup == nil {
		return Claims{}, invalid("verifier misconfigured")
	}
	// Only the compact-serialisation alphabet is allowed. The base64 decoder
	// would otherwise skip CR/LF, making many strings decode to one token,
	// which breaks anything that keys on the raw token string.
	if !isCompactJWS(raw) {
		return Claims{}, invalid("malformed")
	}

	leeway := min(max(v.Leeway, 0), maxLeeway)
	now := v.Now
	if now == nil {
		now = time.Now
	}

	p := jwt.NewParser(
		jwt.WithValidMethods([]string{AlgEdDSA}),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		// Rejects non-zero trailing bits so a signature has one encoding only.
		jwt.WithStrictDecoding(),
	)

	var (
		pc        parsedClaims
		keyReason string
	)
	tok, err := p.ParseWithClaims(raw, &pc, func(t *jwt.Token) (any, error) {
		pub, reason := v.key(t.Header)
		if reason != "" {
			keyReason = reason
			return nil, errors.New(reason)
		}
		return pub, nil
	})
	if err != nil {
		if keyReason != "" {
			return Claims{}, invalid(keyReason)
		}
		return Claims{}, invalid(parseReason(tok, err))
	}

	switch {
	case pc.IssuedAt == nil:
		return Claims{}, invalid("missing iat")
	case pc.Subject == "":
		return Claims{}, invalid("missing sub")
	case pc.ID == "":
		return Claims{}, invalid("missing jti")
	case pc.SessionID == "":
		return Claims{}, invalid("missing sid")
	case pc.TenantID == "":
		return Claims{}, invalid("missing tenant_id")
	}

	c := Claims{
		Issuer:    pc.Issuer,
		Subject:   pc.Subject,
		Audience:  v.Audience, // the validator proved aud contains it
		ID:        pc.ID,
		SessionID: pc.SessionID,
		TenantID:  pc.TenantID,
		Email:     pc.Email,
		Roles:     pc.Roles,
		IssuedAt:  pc.IssuedAt.t,
		ExpiresAt: pc.ExpiresAt.t, // non-nil: WithExpirationRequired

		ClientID:       pc.ClientID,
		Scope:          pc.Scope,
		PasswordChange: pc.PwdChange,
	}
	if c.Roles == nil {
		c.Roles = []string{}
	}
	if pc.NotBefore != nil {
		c.NotBefore = pc.NotBefore.t
	}
	return c, nil
}

// key enforces the header rules golang-jwt does not know about and resolves
// the verification key. It returns a non-empty reason on rejection.
func (v Verifier) key(h map[string]any) (ed25519.PublicKey, string) {
	typ, _ := h["typ"].(string)
	// RFC 9068 §4: typ must be at+jwt; RFC 7515 §4.1.9 makes the
	// "application/" prefix optional and media types case-insensitive.
	if !strings.EqualFold(typ, typAccess) && !strings.EqualFold(typ, "application/"+typAccess) {
		return nil, "wrong typ"
	}
	// We implement no extensions, so RFC 7515 §4.1.11 obliges us to reject
	// any token that declares critical ones.
	if _, ok := h["crit"]; ok {
		return nil, "unsupported crit header"
	}
	kid, _ := h["kid"].(string)
	// Checked before Lookup so key stores never see oversized or odd input.
	if !validKID(kid) {
		return nil, "bad kid"
	}
	pub, ok := v.Lookup(kid)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, "unknown kid"
	}
	return pub, ""
}

// parseReason maps golang-jwt errors to fixed strings; its own messages can
// echo header values such as alg, which are attacker-controlled.
func parseReason(tok *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unsupported alg"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok != nil && tok.Method != nil && tok.Method.Alg() != AlgEdDSA {
			return "alg not allowed"
		}
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "missing required claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not yet valid"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	default:
		return "invalid claims"
	}
}

// validKID accepts what KeyID produces (base64url), with room for longer IDs.
func validKID(kid string) bool {
	if kid == "" || len(kid) > maxKIDLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if !isB64URL(kid[i]) {
			return false
		}
	}
	return true
}

func isCompactJWS(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && !isB64URL(s[i]) {
			return false
		}
	}
	return true
}

func isB64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
