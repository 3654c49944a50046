package verify_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/verify"
)

// TestJWKSWithRSAKeys: idp's JWKS also holds the RSA keys of RS256 ID
// tokens (verifytest publishes one, as idp does). Access tokens keep
// verifying, and a token naming the RSA kid is refused, whatever alg it
// claims, without extra JWKS fetches.
func TestJWKSWithRSAKeys(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	v := newVerifier(t, iss, clk)

	resp, err := http.Get(iss.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var rsaKID string
	for i, k := range set.Keys {
		if k["kty"] == "RSA" && k["alg"] == "RS256" && k["n"] != "" && k["e"] == "AQAB" {
			rsaKID = k["kid"]
		} else if k["kty"] != "OKP" || i >= 2 && rsaKID != "" {
			t.Errorf("JWKS key %d: %v (want the Ed25519 keys, then RSA)", i, k)
		}
	}
	if rsaKID == "" {
		t.Fatalf("the issuer publishes no RSA key: %v", set.Keys)
	}

	good := mint(t, iss, verify.Claims{Subject: "u1"})
	if c := mustVerify(t, v, good); c.Subject != "u1" {
		t.Errorf("claims %+v", c)
	}

	payload := strings.Split(good, ".")[1]
	hdr := func(alg string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","typ":"at+jwt","kid":"` + rsaKID + `"}`))
	}
	_, stranger, _ := ed25519.GenerateKey(nil)
	in := hdr("EdDSA") + "." + payload
	edWithRSAKID := in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(stranger, []byte(in)))

	strangerRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	in = hdr("RS256") + "." + payload
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, strangerRSA, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	rs256 := in + "." + base64.RawURLEncoding.EncodeToString(sig)

	fetches := iss.Stats().JWKS // the verifier's first fetch and ours
	wantInvalid(t, v, rs256, "alg not allowed")
	wantInvalid(t, v, edWithRSAKID, "unknown kid")
	// Past MinRefresh an unknown kid refetches once; the RSA key is there
	// again, and still not an access-token key.
	clk.Advance(31 * time.Second)
	wantInvalid(t, v, edWithRSAKID, "unknown kid")
	wantInvalid(t, v, edWithRSAKID, "unknown kid")
	if st := iss.Stats(); st.JWKS != fetches+1 {
		t.Errorf("JWKS fetches %d -> %d, want one refetch", fetches, st.JWKS)
	}
	mustVerify(t, v, good)
}
