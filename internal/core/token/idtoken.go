package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

const typID = "JWT"

// MaxIDTokenLifetime bounds exp - iat of the ID tokens we sign, and of the
// hints we accept: nothing idp issues lives longer, so a hint claiming to
// is not one of ours whatever its signature says.
const MaxIDTokenLifetime = 24 * time.Hour

// Signer is a private key that signs ID tokens: a Key (EdDSA) or an RSAKey
// (RS256). The unexported method keeps the set closed, so no caller can
// hand in a symmetric or otherwise unexpected algorithm.
type Signer interface {
	KeyID() string
	Alg() string
	sign(signingInput []byte) ([]byte, error)
}

// IDClaims is the content of an OpenID Connect ID token (OpenID Connect
// Core 1.0 section 2).
type IDClaims struct {
	Issuer, Subject, Audience, Nonce, AuthorizedParty, SessionID, AccessTokenHash string
	// AuthTime zero leaves auth_time out.
	IssuedAt, ExpiresAt, AuthTime time.Time
	// Extra holds the scope-dependent claims (email, email_verified, name,
	// tenant_id, roles). It may not name a claim of idClaimNames: those
	// come from the fields above only.
	Extra map[string]any
}

// idClaimNames are the registered JWT claims (RFC 7519 section 4.1) and
// the ID token claims with protocol meaning (OpenID Connect Core 1.0
// sections 2, 3.1.3.6, 3.3.2.11; Front-Channel Logout sid). Extra may not
// set them: a relying party decides on them.
var idClaimNames = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"auth_time": true, "nonce": true, "azp": true, "sid": true, "at_hash": true, "c_hash": true,
	"s_hash": true, "acr": true, "amr": true, "cnf": true,
}

// SignIDToken signs c with s. The header is {"alg","typ":"JWT","kid"}, alg
// being s.Alg(). It refuses claims a relying party would reject (missing
// iss, sub or aud; exp not after iat; a lifetime over MaxIDTokenLifetime)
// and Extra members that would shadow a registered claim. Times are
// truncated to seconds.
func SignIDToken(s Signer, c IDClaims) (string, error) {
	if s == nil {
		return "", errors.New("token: sign id token: no key")
	}
	if !validKID(s.KeyID()) {
		return "", errors.New("token: sign id token: key ID is empty, too long or not base64url")
	}
	if err := checkIDClaims(c); err != nil {
		return "", err
	}
	// An at_hash made for the other algorithm would fail every relying
	// party's check.
	if c.AccessTokenHash != "" && len(c.AccessTokenHash) != atHashLen[s.Alg()] {
		return "", fmt.Errorf("token: sign id token: at_hash is not an %s hash (token.AtHash with the signing alg)", s.Alg())
	}
	payload := make(map[string]any, len(c.Extra)+10)
	for k, v := range c.Extra {
		if idClaimNames[k] {
			return "", fmt.Errorf("token: sign id token: extra claim %q is a registered claim", k)
		}
		payload[k] = v
	}
	payload["iss"], payload["sub"], payload["aud"] = c.Issuer, c.Subject, c.Audience
	payload["iat"], payload["exp"] = c.IssuedAt.Unix(), c.ExpiresAt.Unix()
	if !c.AuthTime.IsZero() {
		payload["auth_time"] = c.AuthTime.Unix()
	}
	for name, v := range map[string]string{
		"nonce": c.Nonce, "azp": c.AuthorizedParty, "sid": c.SessionID, "at_hash": c.AccessTokenHash,
	} {
		if v != "" {
			payload[name] = v
		}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("token: sign id token: extra claims: %w", err)
	}
	// Cannot fail: three strings.
	hdr, _ := json.Marshal(header{Alg: s.Alg(), Typ: typID, Kid: s.KeyID()})
	signingInput := b64(hdr) + "." + b64(body)
	sig, err := s.sign([]byte(signingInput))
	if err != nil {
		return "", err
	}
	tok := signingInput + "." + b64(sig)
	if len(tok) > maxTokenLen {
		return "", fmt.Errorf("token: sign id token: token is %d bytes, at most %d are accepted back as a hint", len(tok), maxTokenLen)
	}
	return tok, nil
}

func checkIDClaims(c IDClaims) error {
	for _, f := range [...]struct{ name, v string }{
		{"iss", c.Issuer}, {"sub", c.Subject}, {"aud", c.Audience},
	} {
		if f.v == "" {
			return fmt.Errorf("token: sign id token: %s claim is empty", f.name)
		}
	}
	// OpenID Connect Core 1.0 section 2: sub is at most 255 ASCII characters.
	if len(c.Subject) > 255 {
		return errors.New("token: sign id token: sub is longer than 255 characters")
	}
	if c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
		return errors.New("token: sign id token: iat and exp are required")
	}
	if !c.ExpiresAt.After(c.IssuedAt) {
		return errors.New("token: sign id token: exp is not after iat")
	}
	if c.ExpiresAt.Sub(c.IssuedAt) > MaxIDTokenLifetime {
		return fmt.Errorf("token: sign id token: lifetime is over %s", MaxIDTokenLifetime)
	}
	for _, t := range [...]time.Time{c.IssuedAt, c.ExpiresAt, c.AuthTime} {
		if !t.IsZero() && (t.Unix() < 0 || t.Unix() > maxNumericDate) {
			return errors.New("token: sign id token: time outside 1970..9999")
		}
	}
	return nil
}

// AtHash is the at_hash claim for an access token in an ID token signed
// with alg (OpenID Connect Core 1.0 section 3.1.3.6), "" for an alg without
// one: base64url of the left half of the hash of the token's ASCII octets. The hash is the one of the
// alg: SHA-256 for RS256; for EdDSA with Ed25519, SHA-512, the hash RFC 8032
// builds Ed25519 on (the OpenID Connect working group's reading, openid/connect
// issue 1125, which zitadel/oidc and openid-client follow).
func AtHash(alg, accessToken string) string {
	switch alg {
	case AlgRS256:
		sum := sha256.Sum256([]byte(accessToken))
		return b64(sum[:len(sum)/2])
	case AlgEdDSA:
		sum := sha512.Sum512([]byte(accessToken))
		return b64(sum[:len(sum)/2])
	default:
		// No hash is defined: SignIDToken refuses an at_hash that doesn't
		// fit its key's alg, so "" can't go out as a claim by mistake.
		return ""
	}
}

// atHashLen is the length of AtHash's output for alg: base64url of 16
// octets (RS256) or 32 (EdDSA).
var atHashLen = map[string]int{AlgRS256: 22, AlgEdDSA: 43}
