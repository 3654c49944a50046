package token

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
)

// RSABits is the size of the RSA keys idp generates: 3072 bits is NIST's
// 128-bit security level (SP 800-57), the level of Ed25519.
const RSABits = 3072

// rsaMinBits and rsaMaxBits bound the keys we parse, sign with and publish.
// Below 2048 bits is refused by every current guideline; the upper bound
// keeps a corrupted row from making verification arbitrarily slow.
const (
	rsaMinBits = 2048
	rsaMaxBits = 8192
	rsaE       = 65537
)

// RSAKey is an RS256 signing key together with its key ID. It signs ID
// tokens only, for relying parties that can't verify EdDSA; access tokens
// are always EdDSA (docs/auth/idp.md).
type RSAKey struct {
	ID      string
	Private *rsa.PrivateKey
}

// GenerateRSAKey creates a new RSABits key whose ID is the RFC 7638
// thumbprint of its public key. It takes a few hundred milliseconds
// (docs/operations.md, "Signing keys"), so callers keep it off request paths.
func GenerateRSAKey() (RSAKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, RSABits)
	if err != nil {
		return RSAKey{}, fmt.Errorf("token: generate rsa key: %w", err)
	}
	return RSAKey{ID: RSAKeyID(&priv.PublicKey), Private: priv}, nil
}

// RSAKeyID returns the RFC 7638 JWK thumbprint (SHA-256, base64url without
// padding) of an RSA public key.
func RSAKeyID(pub *rsa.PublicKey) string {
	// RFC 7638 section 3.2: the required members e, kty, n in lexicographic
	// order, no whitespace; e and n are unsigned big-endian base64url with no
	// leading zero octets (RFC 7518 section 6.3.1), as big.Int.Bytes gives.
	canonical := `{"e":"` + b64(rsaExponent(pub)) + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:])
}

func rsaExponent(pub *rsa.PublicKey) []byte {
	return big.NewInt(int64(pub.E)).Bytes()
}

// checkRSAPublic accepts the keys idp makes: 2048 to 8192 bits, e = 65537.
func checkRSAPublic(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return errors.New("token: rsa key is empty")
	}
	if bits := pub.N.BitLen(); bits < rsaMinBits || bits > rsaMaxBits {
		return fmt.Errorf("token: rsa key has %d bits, want %d to %d", bits, rsaMinBits, rsaMaxBits)
	}
	if pub.E != rsaE {
		return fmt.Errorf("token: rsa key has public exponent %d, want %d", pub.E, rsaE)
	}
	return nil
}

// MarshalRSAPublicKey encodes pub as PKCS #1 DER, the form idp stores.
func MarshalRSAPublicKey(pub *rsa.PublicKey) []byte { return x509.MarshalPKCS1PublicKey(pub) }

// ParseRSAPublicKey decodes a PKCS #1 DER public key and checks its size and
// exponent.
func ParseRSAPublicKey(der []byte) (*rsa.PublicKey, error) {
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("token: parse rsa public key: %w", err)
	}
	if err := checkRSAPublic(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// MarshalRSAPrivateKey encodes priv as PKCS #1 DER: the plaintext that gets
// sealed at rest.
func MarshalRSAPrivateKey(priv *rsa.PrivateKey) []byte { return x509.MarshalPKCS1PrivateKey(priv) }

// ParseRSAPrivateKey decodes a PKCS #1 DER private key (validated and
// precomputed by crypto/x509) and checks its public half.
func ParseRSAPrivateKey(der []byte) (*rsa.PrivateKey, error) {
	priv, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		// x509's message never holds key material, but keep it generic.
		return nil, errors.New("token: parse rsa private key: not a valid PKCS #1 key")
	}
	if err := checkRSAPublic(&priv.PublicKey); err != nil {
		return nil, err
	}
	return priv, nil
}

// KeyID, Alg and sign make RSAKey a Signer.
func (k RSAKey) KeyID() string { return k.ID }

// Alg is the JWS algorithm of the key's signatures.
func (k RSAKey) Alg() string { return AlgRS256 }

func (k RSAKey) sign(signingInput []byte) ([]byte, error) {
	if k.Private == nil {
		return nil, errors.New("token: sign: rsa key is empty")
	}
	if err := checkRSAPublic(&k.Private.PublicKey); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(signingInput)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.Private, crypto.SHA256, sum[:])
	if err != nil {
		return nil, fmt.Errorf("token: sign: %w", err)
	}
	return sig, nil
}
