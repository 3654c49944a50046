package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// replayKeyLabel domain-separates the holder key from any other use of an
// HMAC keyed by a refresh token. Changing it invalidates stored replay records.
const replayKeyLabel = "idp refresh replay v1"

var errOpen = errors.New("token: sealed data is corrupt, or the key or aad is wrong")

// Sealer encrypts secrets at rest with AES-256-GCM. The output is
// nonce(12) || ciphertext || tag(16); random nonces mean the same plaintext
// never seals to the same bytes twice.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer requires a 32-byte key: shorter AES keys are accepted by crypto/aes
// and would silently downgrade to AES-128/192.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("token: sealer key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("token: sealer: %w", err)
	}
	// Random 96-bit nonces allow ~2^32 seals per key, far beyond the number
	// of signing keys or replay records one key will ever protect.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("token: sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext. aad is authenticated but not stored: binding the
// ciphertext to e.g. the kid stops a database attacker from swapping sealed
// blobs between rows.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	return s.aead.Seal(nil, nil, plaintext, aad), nil
}

// Open reverses Seal. It fails on any modification, a different key or a
// different aad, without saying which, since the distinction only helps
// an attacker.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < s.aead.Overhead() {
		return nil, errOpen
	}
	pt, err := s.aead.Open(nil, nil, sealed, aad)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}

// holderSealer derives the sealer for a replay record. The key comes from the
// parent token itself, which the server stores only as a hash, so a database
// dump does not reveal the child tokens a replay record holds.
func holderSealer(parentToken string) (*Sealer, error) {
	if parentToken == "" {
		return nil, errors.New("token: parent token is empty")
	}
	mac := hmac.New(sha256.New, []byte(parentToken))
	mac.Write([]byte(replayKeyLabel))
	return NewSealer(mac.Sum(nil))
}

// SealForHolder seals plaintext (the child token pair) so that only a holder
// of parentToken can open it. The aad binds the record to the parent's stored
// hash as well.
func SealForHolder(parentToken string, plaintext []byte) ([]byte, error) {
	s, err := holderSealer(parentToken)
	if err != nil {
		return nil, err
	}
	return s.Seal(plaintext, HashOpaque(parentToken))
}

// OpenForHolder opens a record made by SealForHolder with the same parent token.
func OpenForHolder(parentToken string, sealed []byte) ([]byte, error) {
	s, err := holderSealer(parentToken)
	if err != nil {
		return nil, err
	}
	return s.Open(sealed, HashOpaque(parentToken))
}
