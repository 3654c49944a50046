package token

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"reflect"
	"testing"
)

func TestRSAKeyIDRFC7638Vector(t *testing.T) {
	// RFC 7638 section 3.1.
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4" +
		"cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6C" +
		"f0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTW" +
		"hAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, want := RSAKeyID(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("RSAKeyID = %s, want %s", got, want)
	}
}

func TestGenerateRSAKey(t *testing.T) {
	k := testRSAKey
	if bits := k.Private.N.BitLen(); bits != 3072 || k.Private.E != 65537 {
		t.Fatalf("key has %d bits, e = %d", bits, k.Private.E)
	}
	if err := k.Private.Validate(); err != nil {
		t.Fatal(err)
	}
	if k.ID != RSAKeyID(&k.Private.PublicKey) || len(k.ID) != 43 || !validKID(k.ID) {
		t.Errorf("ID = %q, want 43-char thumbprint %q", k.ID, RSAKeyID(&k.Private.PublicKey))
	}
	if k.Alg() != "RS256" || k.KeyID() != k.ID {
		t.Errorf("Alg/KeyID = %s/%s", k.Alg(), k.KeyID())
	}
	if o := otherRSAKey(); o.ID == k.ID || o.Private.N.Cmp(k.Private.N) == 0 {
		t.Error("two generated keys are equal")
	}
}

func TestRSAKeyEncoding(t *testing.T) {
	k := testRSAKey.Private
	priv, err := ParseRSAPrivateKey(MarshalRSAPrivateKey(k))
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(k) {
		t.Error("private key changed in a round trip")
	}
	pubDER := MarshalRSAPublicKey(&k.PublicKey)
	pub, err := ParseRSAPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&k.PublicKey) {
		t.Error("public key changed in a round trip")
	}
	// What the database CHECK of migrations/0010 allows.
	if len(pubDER) < 256 || len(pubDER) > 1100 {
		t.Errorf("PKCS #1 public key is %d bytes", len(pubDER))
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	badE := &rsa.PublicKey{N: k.N, E: 3}
	for name, der := range map[string][]byte{
		"garbage":         []byte("not a key"),
		"empty":           nil,
		"ed25519 seed":    testKey.Private.Seed(),
		"public as priv":  pubDER,
		"1024-bit":        MarshalRSAPrivateKey(small),
		"truncated":       MarshalRSAPrivateKey(k)[:100],
		"trailing octets": append(MarshalRSAPrivateKey(k), 0),
	} {
		if _, err := ParseRSAPrivateKey(der); err == nil {
			t.Errorf("ParseRSAPrivateKey accepted %s", name)
		}
	}
	for name, der := range map[string][]byte{
		"garbage":  []byte("not a key"),
		"1024-bit": MarshalRSAPublicKey(&small.PublicKey),
		"e = 3":    MarshalRSAPublicKey(badE),
	} {
		if _, err := ParseRSAPublicKey(der); err == nil {
			t.Errorf("ParseRSAPublicKey accepted %s", name)
		}
	}
}

func TestRenderJWKSMixed(t *testing.T) {
	other := otherRSAKey()
	raw, err := RenderJWKS([]crypto.PublicKey{testKey.Public, &testRSAKey.Private.PublicKey, &other.Private.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 {
		t.Fatalf("keys = %s", raw)
	}
	if want := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(testKey.Public), "kid": testKey.ID, "use": "sig", "alg": "EdDSA"}; !reflect.DeepEqual(set.Keys[0], want) {
		t.Errorf("EdDSA key = %v, want %v", set.Keys[0], want)
	}
	for i, k := range []RSAKey{testRSAKey, other} {
		want := map[string]any{
			"kty": "RSA", "n": b64(k.Private.N.Bytes()), "e": "AQAB",
			"kid": k.ID, "use": "sig", "alg": "RS256",
		}
		if got := set.Keys[i+1]; !reflect.DeepEqual(got, want) {
			t.Errorf("RSA key %d = %v, want %v", i, got, want)
		}
		// 3072 bits are 384 octets, 512 base64url characters.
		if n := set.Keys[i+1]["n"].(string); len(n) != 512 {
			t.Errorf("n has %d characters", len(n))
		}
	}
	// The exact bytes of an EdDSA member, as before RSA keys existed.
	want := `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + b64(testKey.Public) + `","kid":"` + testKey.ID + `","use":"sig","alg":"EdDSA"},{"kty":"RSA","n":"`
	if got := string(raw[:len(want)]); got != want {
		t.Errorf("JWKS starts %s, want %s", got, want)
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]crypto.PublicKey{
		"rsa private key":     testRSAKey.Private,
		"ed25519 private key": testKey.Private,
		"rsa value":           testRSAKey.Private.PublicKey,
		"1024-bit":            &small.PublicKey,
		"e = 3":               &rsa.PublicKey{N: testRSAKey.Private.N, E: 3},
		"nil rsa":             (*rsa.PublicKey)(nil),
		"nil":                 nil,
		"bytes":               []byte(testKey.Public),
		"short ed25519":       ed25519.PublicKey(make([]byte, 31)),
	} {
		if out, err := RenderJWKS([]crypto.PublicKey{testKey.Public, bad}); err == nil {
			t.Errorf("RenderJWKS accepted %s: %s", name, out)
		}
	}
}
