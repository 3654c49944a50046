package token

// Interim: the EdDSA half of ID tokens, until the RS256 keys and the full
// ID-token functions (branch rsa-keys) land.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"time"
)

// IDClaims is the content of an ID token (OpenID Connect Core 2).
type IDClaims struct {
	Issuer, Subject, Audience, Nonce, AuthorizedParty, SessionID, AccessTokenHash string
	IssuedAt, ExpiresAt, AuthTime                                                 time.Time
	Extra                                                                         map[string]any
}

// AtHash is OpenID Connect Core 3.1.3.6: the base64url left half of the
// hash of the access token; SHA-512 for EdDSA, SHA-256 for RS256.
func AtHash(alg, accessToken string) string {
	if alg == "RS256" {
		sum := sha256.Sum256([]byte(accessToken))
		return b64(sum[:16])
	}
	sum := sha512.Sum512([]byte(accessToken))
	return b64(sum[:32])
}

// SignIDToken signs c with an Ed25519 key.
func SignIDToken(key Key, c IDClaims) (string, error) {
	if len(key.Private) != ed25519.PrivateKeySize {
		return "", errors.New("token: id token: not an ed25519 key")
	}
	body := map[string]any{}
	for k, v := range c.Extra {
		body[k] = v
	}
	body["iss"], body["sub"], body["aud"] = c.Issuer, c.Subject, c.Audience
	body["iat"], body["exp"] = c.IssuedAt.Unix(), c.ExpiresAt.Unix()
	if !c.AuthTime.IsZero() {
		body["auth_time"] = c.AuthTime.Unix()
	}
	for k, v := range map[string]string{"nonce": c.Nonce, "azp": c.AuthorizedParty, "sid": c.SessionID, "at_hash": c.AccessTokenHash} {
		if v != "" {
			body[k] = v
		}
	}
	hdr, _ := json.Marshal(map[string]string{"alg": algEdDSA, "typ": "JWT", "kid": key.ID})
	payload, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	input := b64(hdr) + "." + b64(payload)
	return input + "." + b64(ed25519.Sign(key.Private, []byte(input))), nil
}
