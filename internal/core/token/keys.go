package token

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// The JWS algorithms of idp's keys. Access tokens are always EdDSA; ID
// tokens are EdDSA unless a client is registered for RS256.
const (
	AlgEdDSA = "EdDSA"
	AlgRS256 = "RS256"
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

// KeyID, Alg and sign make Key a Signer.
func (k Key) KeyID() string { return k.ID }

// Alg is the JWS algorithm of the key's signatures.
func (k Key) Alg() string { return AlgEdDSA }

func (k Key) sign(signingInput []byte) ([]byte, error) {
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil, errors.New("token: sign: signing key is not an ed25519 private key")
	}
	return ed25519.Sign(k.Private, signingInput), nil
}

// okpJWK and rsaJWK list only public members: keeping the private parts
// (d, p, q, dp, dq, qi) out of the types makes it impossible to leak them
// into the JWKS by accident. Field order is the order of the output.
type okpJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

type rsaJWK struct {
	Kty string `json:"kty"`
	N   string `json:"n"`
	E   string `json:"e"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

type jwks struct {
	Keys []any `json:"keys"`
}

// RenderJWKS serialises public keys as a JWK Set in the given order, so the
// caller controls which key relying parties see first (typically the active
// one, followed by keys still valid for verification). Each key is an
// ed25519.PublicKey (published for EdDSA) or an *rsa.PublicKey (for RS256);
// the kid is the RFC 7638 thumbprint, as GenerateKey and GenerateRSAKey
// assign it.
func RenderJWKS(keys []crypto.PublicKey) ([]byte, error) {
	set := jwks{Keys: make([]any, 0, len(keys))}
	for i, k := range keys {
		switch pub := k.(type) {
		case ed25519.PublicKey:
			if len(pub) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("token: jwks key %d: want %d-byte ed25519 public key, got %d bytes", i, ed25519.PublicKeySize, len(pub))
			}
			set.Keys = append(set.Keys, okpJWK{Kty: "OKP", Crv: "Ed25519", X: b64(pub), Kid: KeyID(pub), Use: "sig", Alg: AlgEdDSA})
		case *rsa.PublicKey:
			if err := checkRSAPublic(pub); err != nil {
				return nil, fmt.Errorf("jwks key %d: %w", i, err)
			}
			set.Keys = append(set.Keys, rsaJWK{Kty: "RSA", N: b64(pub.N.Bytes()), E: b64(rsaExponent(pub)), Kid: RSAKeyID(pub), Use: "sig", Alg: AlgRS256})
		default:
			return nil, fmt.Errorf("token: jwks key %d: unsupported key type %T", i, k)
		}
	}
	return json.Marshal(set)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
