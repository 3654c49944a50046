package core

// Interim: ID tokens signed with the Ed25519 keys only, until the RS256
// keys (branch rsa-keys) land.

import (
	"github.com/idp-dev/idp/internal/core/token"
)

// SignIDToken signs an ID token with the active key.
func (k *Keys) SignIDToken(alg string, c token.IDClaims) (string, error) {
	set, err := k.current()
	if err != nil {
		return "", err
	}
	return token.SignIDToken(set.active, c)
}

// VerifyIDTokenHint is not available before the ID-token functions land.
func (k *Keys) VerifyIDTokenHint(raw string) (token.IDClaims, error) {
	return token.IDClaims{}, Errorf(EINVALID, "id_token_hint is not supported yet")
}
