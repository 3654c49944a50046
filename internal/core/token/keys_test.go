package token

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
)

func TestKeyIDRFC8037Vector(t *testing.T) {
	// RFC 8037 Appendix A.3.
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := KeyID(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
}

func TestGenerateKey(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Private) != ed25519.PrivateKeySize || len(k.Public) != ed25519.PublicKeySize {
		t.Fatalf("key sizes %d/%d", len(k.Private), len(k.Public))
	}
	if !bytes.Equal(k.Private.Public().(ed25519.PublicKey), k.Public) {
		t.Error("Public does not belong to Private")
	}
	if k.ID != KeyID(k.Public) || len(k.ID) != 43 || !validKID(k.ID) {
		t.Errorf("ID = %q, want 43-char thumbprint %q", k.ID, KeyID(k.Public))
	}
	k2, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if k2.ID == k.ID || bytes.Equal(k2.Public, k.Public) {
		t.Error("two generated keys are equal")
	}
}

func TestRenderJWKS(t *testing.T) {
	k2, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keys []ed25519.PublicKey
	}{
		{"none", nil},
		{"one", []ed25519.PublicKey{testKey.Public}},
		{"order preserved", []ed25519.PublicKey{k2.Public, testKey.Public}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pubs := make([]crypto.PublicKey, len(tt.keys))
			for i, k := range tt.keys {
				pubs[i] = k
			}
			raw, err := RenderJWKS(pubs)
			if err != nil {
				t.Fatal(err)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(raw, &top); err != nil {
				t.Fatal(err)
			}
			if len(top) != 1 || top["keys"] == nil {
				t.Fatalf("top level = %s, want only \"keys\"", raw)
			}
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(raw, &set); err != nil {
				t.Fatal(err)
			}
			if set.Keys == nil || len(set.Keys) != len(tt.keys) {
				t.Fatalf("keys = %s, want %d keys as an array", raw, len(tt.keys))
			}
			for i, got := range set.Keys {
				x := b64(tt.keys[i])
				want := map[string]any{
					"kty": "OKP", "crv": "Ed25519", "x": x,
					"kid": KeyID(tt.keys[i]), "use": "sig", "alg": "EdDSA",
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("key %d = %v, want %v", i, got, want)
				}
				if len(x) != 43 {
					t.Errorf("x has %d chars, want 43", len(x))
				}
				if _, ok := got["d"]; ok {
					t.Error("private member d present")
				}
			}
		})
	}

	t.Run("rejects wrong-size keys", func(t *testing.T) {
		for _, bad := range []ed25519.PublicKey{nil, make([]byte, 31), ed25519.PublicKey(testKey.Private)} {
			if _, err := RenderJWKS([]crypto.PublicKey{testKey.Public, bad}); err == nil {
				t.Errorf("accepted %d-byte key", len(bad))
			}
		}
	})
}
