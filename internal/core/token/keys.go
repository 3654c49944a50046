package token

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// Key is an Ed25519 signing key together with its key ID.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// GenerateKey creates a new signing key whose ID is the RFC 7638 thumbprint
// of its public key, so the kid is derivable from the key material alone and
// identical across restarts, replicas and JWKS consumers.
func GenerateKey() (Key, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return Key{}, fmt.Errorf("token: generate ed25519 key: %w", err)
	}
	return Key{ID: KeyID(pub), Private: priv, Public: pub}, nil
}

// KeyID returns the RFC 7638 JWK thumbprint (SHA-256, base64url without
// padding) of an Ed25519 public key, as defined for OKP keys by RFC 8037.
func KeyID(pub ed25519.PublicKey) string {
	// RFC 7638 fixes the member set and lexicographic order (crv, kty, x) and
	// forbids whitespace, so the JSON is assembled by hand rather than trusting
	// a marshaller's field order. x is base64url, which needs no JSON escaping.
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + b64(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:])
}

// jwk lists only public members: keeping the private scalar out of the type
// makes it impossible to leak "d" into the JWKS by accident.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

// RenderJWKS serialises the public keys as a JWK Set in the given order, so
// the caller controls which key relying parties see first (typically the
// active one, followed by keys still valid for verification).
func RenderJWKS(keys []ed25519.PublicKey) ([]byte, error) {
	set := jwks{Keys: make([]jwk, 0, len(keys))}
	for i, pub := range keys {
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("token: jwks key %d: want %d-byte ed25519 public key, got %d bytes", i, ed25519.PublicKeySize, len(pub))
		}
		set.Keys = append(set.Keys, jwk{
			Kty: "OKP",
			Crv: "Ed25519",
			X:   b64(pub),
			Kid: KeyID(pub),
			Use: "sig",
			Alg: algEdDSA,
		})
	}
	return json.Marshal(set)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
