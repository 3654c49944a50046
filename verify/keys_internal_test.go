package verify

import (
	"crypto"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
)

func TestMaxAge(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"idp's header", http.Header{"Cache-Control": {"public, max-age=300"}}, 300 * time.Second},
		{"short", http.Header{"Cache-Control": {"max-age=2"}}, 2 * time.Second},
		{"missing", http.Header{}, defaultMaxAge},
		{"no max-age", http.Header{"Cache-Control": {"public"}}, defaultMaxAge},
		{"zero is floored", http.Header{"Cache-Control": {"max-age=0"}}, minMaxAge},
		{"no-cache is floored", http.Header{"Cache-Control": {"no-cache"}}, minMaxAge},
		{"no-store is floored", http.Header{"Cache-Control": {"public, no-store, max-age=60"}}, minMaxAge},
		{"a year is capped", http.Header{"Cache-Control": {"max-age=31536000"}}, maxMaxAge},
		{"huge is capped", http.Header{"Cache-Control": {"max-age=99999999999999999999"}}, defaultMaxAge},
		{"case and spaces", http.Header{"Cache-Control": {" Public ,  MAX-AGE=120 "}}, 120 * time.Second},
		{"quoted", http.Header{"Cache-Control": {`max-age="60"`}}, 60 * time.Second},
		{"negative ignored", http.Header{"Cache-Control": {"max-age=-5"}}, defaultMaxAge},
		{"first max-age wins", http.Header{"Cache-Control": {"max-age=10", "max-age=900"}}, 10 * time.Second},
		{"Age is subtracted", http.Header{"Cache-Control": {"max-age=300"}, "Age": {"100"}}, 200 * time.Second},
		{"Age past max-age is floored", http.Header{"Cache-Control": {"max-age=300"}, "Age": {"400"}}, minMaxAge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxAge(tt.header); got != tt.want {
				t.Errorf("maxAge = %v, want %v", got, tt.want)
			}
		})
	}
}

// mixedJWKS is what idp serves: an Ed25519 key, then RS256 keys of ID
// tokens, rendered by idp's own code.
func mixedJWKS(t *testing.T) string {
	t.Helper()
	rsaKey, err := token.GenerateRSAKey()
	if err != nil {
		t.Fatal(err)
	}
	body, err := token.RenderJWKS([]crypto.PublicKey{edKey.Public, &rsaKey.Private.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"kty":"RSA"`) {
		t.Fatalf("no RSA key in %s", body)
	}
	return string(body)
}

var edKey = func() token.Key {
	k, err := token.GenerateKey()
	if err != nil {
		panic(err)
	}
	return k
}()

func TestParseJWKS(t *testing.T) {
	const x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	key := func(extra string) string {
		return `{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k1","use":"sig","alg":"EdDSA"` + extra + `}`
	}
	tests := []struct {
		name  string
		body  string
		kids  []string
		fails bool
	}{
		{name: "idp's set", body: `{"keys":[` + key("") + `]}`, kids: []string{"k1"}},
		{name: "use and alg optional", body: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k2"}]}`, kids: []string{"k2"}},
		{name: "RSA key skipped", body: `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"},` + key("") + `]}`, kids: []string{"k1"}},
		{name: "encryption key skipped", body: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"e","use":"enc"},` + key("") + `]}`, kids: []string{"k1"}},
		{name: "other alg skipped", body: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"e","alg":"ES256"},` + key("") + `]}`, kids: []string{"k1"}},
		{name: "X25519 skipped", body: `{"keys":[{"kty":"OKP","crv":"X25519","x":"` + x + `","kid":"e"},` + key("") + `]}`, kids: []string{"k1"}},
		{name: "short x skipped", body: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"e"},` + key("") + `]}`, kids: []string{"k1"}},
		{name: "padded x skipped", body: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `=","kid":"e"},` + key("") + `]}`, kids: []string{"k1"}},
		{name: "key without kid skipped", body: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"},` + key("") + `]}`, kids: []string{"k1"}},
		{name: "long kid skipped", body: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"` + strings.Repeat("k", 129) + `"},` + key("") + `]}`, kids: []string{"k1"}},
		{name: "odd member types skipped", body: `{"keys":[{"kty":1},` + key(`,"x5c":["MII"]`) + `]}`, kids: []string{"k1"}},
		{name: "duplicate kid dropped", body: `{"keys":[` + key("") + `,` + key("") + `,` + key("") + `]}`, fails: true},
		{name: "idp's mixed set", body: mixedJWKS(t), kids: []string{edKey.ID}},
		{name: "no usable key", body: `{"keys":[{"kty":"RSA","kid":"r"}]}`, fails: true},
		{name: "empty set", body: `{"keys":[]}`, fails: true},
		{name: "not JSON", body: `<html>`, fails: true},
		{name: "keys not an array", body: `{"keys":{}}`, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := parseJWKS([]byte(tt.body))
			if tt.fails {
				if err == nil {
					t.Fatalf("parseJWKS = %v, want error", keys)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(tt.kids) {
				t.Fatalf("keys %v, want kids %v", keys, tt.kids)
			}
			for _, kid := range tt.kids {
				if len(keys[kid]) != 32 {
					t.Errorf("kid %s missing", kid)
				}
			}
		})
	}
}
