package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	v, _ := testVerifier()
	tests := []struct {
		name string
		edit func(*Claims)
		want func(Claims) Claims
	}{
		{name: "all claims"},
		{
			name: "nil roles become empty",
			edit: func(c *Claims) { c.Roles = nil },
			want: func(c Claims) Claims { c.Roles = []string{}; return c },
		},
		{
			name: "zero nbf defaults to iat",
			edit: func(c *Claims) { c.NotBefore = time.Time{} },
			want: func(c Claims) Claims { c.NotBefore = c.IssuedAt; return c },
		},
		{
			name: "sub-second times are truncated",
			edit: func(c *Claims) { c.IssuedAt = c.IssuedAt.Add(900 * time.Millisecond) },
			want: func(c Claims) Claims { c.IssuedAt = c.IssuedAt.Truncate(time.Second); return c },
		},
		{
			name: "empty email",
			edit: func(c *Claims) { c.Email = "" },
		},
		{
			name: "client, scope and pending password change",
			edit: func(c *Claims) { c.ClientID, c.Scope, c.PasswordChange = "app-1", "openid email", true },
		},
		{
			name: "characters that need JSON escaping",
			edit: func(c *Claims) { c.Email = `"<a&b>"\` + "\u2028é@example.com"; c.Roles = []string{"a\"b", "ünï"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := testClaims()
			if tt.edit != nil {
				tt.edit(&in)
			}
			want := in
			if tt.want != nil {
				want = tt.want(in)
			}
			got, err := v.Verify(mustSign(t, testKey, in))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			assertClaimsEqual(t, got, want)
		})
	}
}

func assertClaimsEqual(t *testing.T, got, want Claims) {
	t.Helper()
	for _, ts := range []struct {
		name      string
		got, want time.Time
	}{
		{"iat", got.IssuedAt, want.IssuedAt},
		{"nbf", got.NotBefore, want.NotBefore},
		{"exp", got.ExpiresAt, want.ExpiresAt},
	} {
		if !ts.got.Equal(ts.want) {
			t.Errorf("%s = %v, want %v", ts.name, ts.got, ts.want)
		}
	}
	got.IssuedAt, got.NotBefore, got.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	want.IssuedAt, want.NotBefore, want.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	if got.Issuer != want.Issuer || got.Subject != want.Subject || got.Audience != want.Audience ||
		got.ID != want.ID || got.SessionID != want.SessionID || got.TenantID != want.TenantID ||
		got.Email != want.Email || !slices.Equal(got.Roles, want.Roles) || got.Roles == nil ||
		got.ClientID != want.ClientID || got.Scope != want.Scope || got.PasswordChange != want.PasswordChange {
		t.Errorf("claims = %#v\nwant     %#v", got, want)
	}
}

// TestWireFormat pins the exact JSON shapes relying parties depend on.
func TestWireFormat(t *testing.T) {
	for _, roles := range [][]string{nil, {}, {"admin", "viewer"}} {
		c := testClaims()
		c.Roles = roles
		parts := splitJWS(t, mustSign(t, testKey, c))

		hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"alg":"EdDSA","typ":"at+jwt","kid":"` + testKey.ID + `"}`; string(hdr) != want {
			t.Errorf("header = %s, want %s", hdr, want)
		}

		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		wantStrings := map[string]string{
			"iss": c.Issuer, "sub": c.Subject, "aud": c.Audience, "jti": c.ID,
			"sid": c.SessionID, "tenant_id": c.TenantID, "email": c.Email,
		}
		wantNums := map[string]int64{"exp": c.ExpiresAt.Unix(), "iat": c.IssuedAt.Unix(), "nbf": c.NotBefore.Unix()}
		if len(p) != len(wantStrings)+len(wantNums)+1 {
			t.Errorf("payload has %d members, want %d: %s", len(p), len(wantStrings)+len(wantNums)+1, raw)
		}
		for k, want := range wantStrings {
			if got, ok := p[k].(string); !ok || got != want {
				t.Errorf("%s = %#v, want string %q", k, p[k], want)
			}
		}
		for k, want := range wantNums {
			got, ok := p[k].(float64)
			if !ok || got != float64(want) || got != math.Trunc(got) {
				t.Errorf("%s = %#v, want integer %d", k, p[k], want)
			}
		}
		gotRoles, ok := p["roles"].([]any)
		if !ok {
			t.Fatalf("roles = %#v, want JSON array", p["roles"])
		}
		if len(gotRoles) != len(roles) {
			t.Errorf("roles = %v, want %v", gotRoles, roles)
		}
		if roles == nil && !strings.Contains(string(raw), `"roles":[]`) {
			t.Errorf("nil roles not serialised as []: %s", raw)
		}
	}
}

func TestSignRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		key  func(Key) Key
		edit func(*Claims)
	}{
		{name: "no private key", key: func(k Key) Key { k.Private = nil; return k }},
		{name: "short private key", key: func(k Key) Key { k.Private = k.Private[:32]; return k }},
		{name: "empty kid", key: func(k Key) Key { k.ID = ""; return k }},
		{name: "long kid", key: func(k Key) Key { k.ID = strings.Repeat("a", maxKIDLen+1); return k }},
		{name: "kid outside base64url", key: func(k Key) Key { k.ID = "a/b"; return k }},
		{name: "no iss", edit: func(c *Claims) { c.Issuer = "" }},
		{name: "no sub", edit: func(c *Claims) { c.Subject = "" }},
		{name: "no aud", edit: func(c *Claims) { c.Audience = "" }},
		{name: "no jti", edit: func(c *Claims) { c.ID = "" }},
		{name: "no sid", edit: func(c *Claims) { c.SessionID = "" }},
		{name: "no tenant", edit: func(c *Claims) { c.TenantID = "" }},
		{name: "no iat", edit: func(c *Claims) { c.IssuedAt = time.Time{} }},
		{name: "no exp", edit: func(c *Claims) { c.ExpiresAt = time.Time{} }},
		{name: "exp before iat", edit: func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) }},
		{name: "exp equals iat", edit: func(c *Claims) { c.ExpiresAt = c.IssuedAt }},
		{name: "iat before 1970", edit: func(c *Claims) { c.IssuedAt = time.Unix(-1, 0) }},
		{name: "nbf before 1970", edit: func(c *Claims) { c.NotBefore = time.Unix(-1, 0) }},
		{name: "exp after 9999", edit: func(c *Claims) { c.ExpiresAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{name: "too large", edit: func(c *Claims) { c.Roles = []string{strings.Repeat("r", maxTokenLen)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, c := testKey, testClaims()
			if tt.key != nil {
				k = tt.key(k)
			}
			if tt.edit != nil {
				tt.edit(&c)
			}
			if tok, err := Sign(k, c); err == nil {
				t.Fatalf("Sign succeeded: %s", tok)
			}
		})
	}
}

type forgery struct {
	name, raw, reason string
}

// forgeries is shared by the table test and the fuzz seed corpus; RSA key
// generation makes it worth building once.
var forgeries = sync.OnceValue(func() []forgery { return buildForgeries(panicTB{}) })

func buildForgeries(tb testing.TB) []forgery {
	valid := mustSign(tb, testKey, testClaims())
	vp := splitJWS(tb, valid)
	other := testClaims()
	other.Subject = "someone-else"
	op := splitJWS(tb, mustSign(tb, testKey, other))

	attacker, err := GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	// Same kid as ours: the verifier must not be fooled by a matching label.
	foreign := attacker
	foreign.ID = testKey.ID

	jwtLib := func(m jwt.SigningMethod, key any) string {
		tok := jwt.NewWithClaims(m, jwt.MapClaims(goodPayload()))
		tok.Header["typ"] = "at+jwt"
		tok.Header["kid"] = testKey.ID
		s, err := tok.SignedString(key)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}

	none := func(alg string) string {
		return enc(tb, with(goodHeader(), "alg", alg)) + "." + enc(tb, goodPayload()) + "."
	}
	signed := func(hdrEdits, payloadEdits []any) string {
		return edSigned(tb, testKey.Private, with(goodHeader(), hdrEdits...), with(goodPayload(), payloadEdits...))
	}
	claim := func(kv ...any) string { return signed(nil, kv) }
	hdr := func(kv ...any) string { return signed(kv, nil) }

	tampered := func() string {
		raw, _ := base64.RawURLEncoding.DecodeString(vp[1])
		raw = []byte(strings.Replace(string(raw), `"sub":"user-123"`, `"sub":"admin"`, 1))
		return vp[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + vp[2]
	}()
	// The last character of an 86-char Ed25519 signature carries 2 data bits
	// and 4 padding bits; flipping a padding bit keeps the decoded signature.
	trailingBits := func() string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, valid[len(valid)-1])
		return valid[:len(valid)-1] + string(alphabet[last^1])
	}()
	opaque, err := NewOpaque()
	if err != nil {
		tb.Fatal(err)
	}
	attackerJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(attacker.Public), "kid": attacker.ID}
	atk := func(hdrEdits ...any) string {
		return edSigned(tb, attacker.Private, with(goodHeader(), hdrEdits...), goodPayload())
	}

	return []forgery{
		{"alg none", none("none"), "alg not allowed"},
		{"alg None", none("None"), "unsupported alg"},
		{"alg NONE", none("NONE"), "unsupported alg"},
		{"alg missing", enc(tb, with(goodHeader(), "alg", nil)) + "." + vp[1] + "." + vp[2], "unsupported alg"},
		{"alg unknown", enc(tb, with(goodHeader(), "alg", "FOO")) + "." + vp[1] + "." + vp[2], "unsupported alg"},
		{"alg RS256 over an EdDSA signature", enc(tb, with(goodHeader(), "alg", "RS256")) + "." + vp[1] + "." + vp[2], "alg not allowed"},
		{"HS256 keyed with our public key", jwtLib(jwt.SigningMethodHS256, []byte(testKey.Public)), "alg not allowed"},
		{"HS256 keyed with our public key as base64url", jwtLib(jwt.SigningMethodHS256, []byte(b64(testKey.Public))), "alg not allowed"},
		{"RS256", jwtLib(jwt.SigningMethodRS256, rsaKey), "alg not allowed"},
		{"PS256", jwtLib(jwt.SigningMethodPS256, rsaKey), "alg not allowed"},
		{"ES256", jwtLib(jwt.SigningMethodES256, ecKey), "alg not allowed"},
		{"foreign ed25519 key with our kid", mustSign(tb, foreign, testClaims()), "bad signature"},
		{"unknown kid", mustSign(tb, attacker, testClaims()), "unknown kid"},
		{"empty signature", vp[0] + "." + vp[1] + ".", "bad signature"},
		{"signature of another token", vp[0] + "." + vp[1] + "." + op[2], "bad signature"},
		{"truncated signature", vp[0] + "." + vp[1] + "." + b64(mustB64(tb, vp[2])[:63]), "bad signature"},
		{"overlong signature", vp[0] + "." + vp[1] + "." + b64(append(mustB64(tb, vp[2]), 0)), "bad signature"},
		{"tampered claim", tampered, "bad signature"},
		{"non-canonical signature encoding", trailingBits, "malformed"},
		{"newline in signature", valid[:len(valid)-10] + "\n" + valid[len(valid)-10:], "malformed"},
		{"padded segments", valid + "==", "malformed"},
		{"wrong iss", claim("iss", "https://evil.example.com"), "wrong issuer"},
		{"missing iss", claim("iss", nil), "missing required claim"},
		{"wrong aud", claim("aud", "https://other.example.com"), "wrong audience"},
		{"wrong aud array", claim("aud", []string{"a", "b"}), "wrong audience"},
		{"missing aud", claim("aud", nil), "missing required claim"},
		{"empty aud", claim("aud", ""), "missing required claim"},
		{"empty aud array", claim("aud", []string{}), "missing required claim"},
		{"aud not a string", claim("aud", 42), "malformed"},
		{"missing exp", claim("exp", nil), "missing required claim"},
		{"exp as string", claim("exp", "9999999999"), "malformed"},
		{"iat as string", claim("iat", "1750000000"), "malformed"},
		{"nbf as bool", claim("nbf", true), "malformed"},
		{"exp beyond year 9999", claim("exp", 1e300), "malformed"},
		{"exp negative", claim("exp", -1), "malformed"},
		{"exp exponent overflow", claim("exp", json.RawMessage("1e400")), "malformed"},
		{"exp in the past beyond leeway", claim("exp", testNow.Add(-61*time.Second).Unix()), "expired"},
		{"exp long past", claim("exp", testNow.Add(-time.Hour).Unix()), "expired"},
		{"nbf 2 minutes in the future", claim("nbf", testNow.Add(2*time.Minute).Unix()), "not yet valid"},
		{"iat 2 minutes in the future", claim("iat", testNow.Add(2*time.Minute).Unix()), "issued in the future"},
		{"missing iat", claim("iat", nil), "missing iat"},
		{"missing sub", claim("sub", nil), "missing sub"},
		{"empty sub", claim("sub", ""), "missing sub"},
		{"missing jti", claim("jti", nil), "missing jti"},
		{"missing sid", claim("sid", nil), "missing sid"},
		{"missing tenant_id", claim("tenant_id", nil), "missing tenant_id"},
		{"roles not an array", claim("roles", "admin"), "malformed"},
		{"sid not a string", claim("sid", 7), "malformed"},
		{"typ JWT", hdr("typ", "JWT"), "wrong typ"},
		{"typ missing", hdr("typ", nil), "wrong typ"},
		{"typ application/jwt", hdr("typ", "application/jwt"), "wrong typ"},
		{"typ with trailing space", hdr("typ", "at+jwt "), "wrong typ"},
		{"typ not a string", hdr("typ", 1), "wrong typ"},
		{"crit header", hdr("crit", []string{"exp"}), "unsupported crit header"},
		{"kid missing", hdr("kid", nil), "bad kid"},
		{"kid empty", hdr("kid", ""), "bad kid"},
		{"kid not a string", hdr("kid", 12345), "bad kid"},
		{"kid 200 bytes", hdr("kid", strings.Repeat("k", 200)), "bad kid"},
		{"kid 10 KB", hdr("kid", strings.Repeat("k", 10<<10)), "token too large"},
		{"kid path traversal", hdr("kid", "../../etc/passwd"), "bad kid"},
		{"kid SQL injection", hdr("kid", "' OR 1=1 --"), "bad kid"},
		{"kid NUL byte", hdr("kid", testKey.ID+"\x00"), "bad kid"},
		{"jku to attacker JWKS", atk("kid", attacker.ID, "jku", "https://evil.example/jwks.json"), "unknown kid"},
		{"jku to attacker JWKS with our kid", atk("jku", "https://evil.example/jwks.json"), "bad signature"},
		{"x5u to attacker cert", atk("kid", attacker.ID, "x5u", "https://evil.example/cert.pem"), "unknown kid"},
		{"x5u to attacker cert with our kid", atk("x5u", "https://evil.example/cert.pem"), "bad signature"},
		{"embedded attacker jwk without kid", atk("kid", nil, "jwk", attackerJWK), "bad kid"},
		{"embedded attacker jwk with attacker kid", atk("kid", attacker.ID, "jwk", attackerJWK), "unknown kid"},
		{"embedded attacker jwk with our kid", atk("jwk", attackerJWK), "bad signature"},
		{"x5c with our kid", atk("x5c", []string{"MIIBfake"}), "bad signature"},
		{"1 MB string", strings.Repeat("A", 1<<20), "token too large"},
		{"1 MB dotted token", strings.Repeat("A", 1<<19) + "." + strings.Repeat("A", 1<<19) + ".A", "token too large"},
		{"opaque token", opaque, "malformed"},
		{"empty", "", "malformed"},
		{"dots only", "..", "malformed"},
		{"four segments", valid + ".x", "malformed"},
		{"two segments", vp[0] + "." + vp[1], "malformed"},
		{"garbage", "not a token at all", "malformed"},
		{"garbage base64", "Zm9v.YmFy.YmF6", "malformed"},
		{"header not an object", enc(tb, []int{1}) + "." + vp[1] + "." + vp[2], "malformed"},
		{"header null", enc(tb, nil) + "." + vp[1] + "." + vp[2], "unsupported alg"},
		{"payload not an object", vp[0] + "." + enc(tb, "x") + "." + vp[2], "malformed"},
		{"non-ASCII", "ey\u00e9.\u2603.\xff", "malformed"},
	}
}

func TestVerifyRejects(t *testing.T) {
	for _, tt := range forgeries() {
		t.Run(tt.name, func(t *testing.T) {
			v, log := testVerifier()
			c, err := v.Verify(tt.raw)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalid", c, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q, want reason %q", err, tt.reason)
			}
			// Reasons end up in logs; they must not echo attacker input.
			if len(err.Error()) > 64 {
				t.Errorf("error message too long (%d bytes): %q", len(err.Error()), err)
			}
			if !reflectZero(c) {
				t.Errorf("claims returned alongside error: %+v", c)
			}
			if hostile := log.seen(); len(hostile) > 0 {
				t.Errorf("Lookup called with hostile kids %q", hostile)
			}
		})
	}
}

func reflectZero(c Claims) bool {
	return c.Issuer == "" && c.Subject == "" && c.ID == "" && c.Roles == nil && c.ExpiresAt.IsZero()
}

// TestVerifyAccepts covers inputs that differ from what Sign emits but that
// RFC 7519/9068 allow, so interoperable issuers' quirks don't break us.
func TestVerifyAccepts(t *testing.T) {
	signed := func(hdrEdits, payloadEdits []any) string {
		return edSigned(t, testKey.Private, with(goodHeader(), hdrEdits...), with(goodPayload(), payloadEdits...))
	}
	tests := []struct {
		name string
		raw  string
		want func(*Claims)
	}{
		{name: "aud array containing ours", raw: signed(nil, []any{"aud", []string{"other", testAud}})},
		{name: "typ upper case", raw: signed([]any{"typ", "AT+JWT"}, nil)},
		{name: "typ with media type prefix", raw: signed([]any{"typ", "application/at+jwt"}, nil)},
		{name: "typ mixed case with prefix", raw: signed([]any{"typ", "Application/AT+JWT"}, nil)},
		{name: "nbf absent", raw: signed(nil, []any{"nbf", nil}), want: func(c *Claims) { c.NotBefore = time.Time{} }},
		{name: "roles null", raw: signed(nil, []any{"roles", nil}), want: func(c *Claims) { c.Roles = []string{} }},
		{name: "email absent", raw: signed(nil, []any{"email", nil}), want: func(c *Claims) { c.Email = "" }},
		{name: "unknown claims", raw: signed(nil, []any{"acr", "1", "x_custom", []int{1}})},
		{name: "client_id and scope", raw: signed(nil, []any{"scope", "openid", "client_id", "app"}),
			want: func(c *Claims) { c.ClientID, c.Scope = "app", "openid" }},
		// Key-location hints are ignored, not fatal: the key still comes from Lookup.
		{name: "jku ignored", raw: signed([]any{"jku", "https://evil.example/jwks.json"}, nil)},
		{name: "fractional times", raw: signed(nil, []any{"exp", float64(testNow.Unix()) + 60.5})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := testVerifier()
			got, err := v.Verify(tt.raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Audience != testAud || got.Subject != "user-123" || got.TenantID != "tenant-789" {
				t.Errorf("claims = %+v", got)
			}
			want := Claims{
				Issuer: testIss, Subject: "user-123", Audience: testAud, ID: "jti-abc",
				SessionID: "sess-456", TenantID: "tenant-789", Email: "alice@example.com",
				Roles: []string{"admin"}, IssuedAt: testNow, NotBefore: testNow, ExpiresAt: got.ExpiresAt,
			}
			if tt.want != nil {
				tt.want(&want)
			}
			assertClaimsEqual(t, got, want)
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	tests := []struct {
		name   string
		leeway time.Duration
		claims []any
		ok     bool
	}{
		{"exp 30s past within 60s leeway", 60 * time.Second, []any{"exp", testNow.Add(-30 * time.Second).Unix()}, true},
		{"nbf 30s future within 60s leeway", 60 * time.Second, []any{"nbf", testNow.Add(30 * time.Second).Unix()}, true},
		{"iat 30s future within 60s leeway", 60 * time.Second, []any{"iat", testNow.Add(30 * time.Second).Unix()}, true},
		{"exp 59s past within 60s leeway", 60 * time.Second, []any{"exp", testNow.Add(-59 * time.Second).Unix()}, true},
		{"exp exactly at leeway edge", 60 * time.Second, []any{"exp", testNow.Add(-60 * time.Second).Unix()}, false},
		{"exp 30s past without leeway", 0, []any{"exp", testNow.Add(-30 * time.Second).Unix()}, false},
		{"exp now without leeway", 0, []any{"exp", testNow.Unix()}, false},
		{"nbf 30s future without leeway", 0, []any{"nbf", testNow.Add(30 * time.Second).Unix()}, false},
		{"negative leeway counts as zero", -time.Hour, []any{"exp", testNow.Add(time.Second).Unix()}, true},
		{"leeway is capped at 60s", time.Hour, []any{"exp", testNow.Add(-2 * time.Minute).Unix()}, false},
		{"capped leeway still applies", time.Hour, []any{"exp", testNow.Add(-30 * time.Second).Unix()}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := testVerifier()
			v.Leeway = tt.leeway
			_, err := v.Verify(edSigned(t, testKey.Private, goodHeader(), with(goodPayload(), tt.claims...)))
			if tt.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestVerifierConfig(t *testing.T) {
	tok := mustSign(t, testKey, testClaims())
	tests := []struct {
		name string
		edit func(*Verifier)
		ok   bool
	}{
		{"no issuer", func(v *Verifier) { v.Issuer = "" }, false},
		{"no audience", func(v *Verifier) { v.Audience = "" }, false},
		{"no lookup", func(v *Verifier) { v.Lookup = nil }, false},
		{"lookup returns a short key", func(v *Verifier) {
			v.Lookup = func(string) (ed25519.PublicKey, bool) { return ed25519.PublicKey{1, 2, 3}, true }
		}, false},
		{"lookup returns nil with ok", func(v *Verifier) {
			v.Lookup = func(string) (ed25519.PublicKey, bool) { return nil, true }
		}, false},
		{"nil Now uses the wall clock", func(v *Verifier) { v.Now = nil }, false}, // testNow is in the past
		{"zero value", func(v *Verifier) { *v = Verifier{} }, false},
		{"several keys", func(v *Verifier) {
			other, _ := GenerateKey()
			*v, _ = testVerifier(other, testKey)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := testVerifier()
			tt.edit(&v)
			_, err := v.Verify(tok)
			if tt.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify = %v, want ErrInvalid", err)
			}
		})
	}

	t.Run("nil Now accepts a fresh token", func(t *testing.T) {
		v, _ := testVerifier()
		v.Now = nil
		c := testClaims()
		c.IssuedAt = time.Now()
		c.NotBefore = c.IssuedAt
		c.ExpiresAt = c.IssuedAt.Add(time.Minute)
		if _, err := v.Verify(mustSign(t, testKey, c)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

func TestVerifyConcurrent(t *testing.T) {
	v, _ := testVerifier()
	tok := mustSign(t, testKey, testClaims())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := v.Verify(tok); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestOversizedIsCheap guards the pre-parse size limit: rejecting a 1 MB
// bearer must not decode (and so allocate) anything proportional to it.
func TestOversizedIsCheap(t *testing.T) {
	v, _ := testVerifier()
	huge := strings.Repeat("eyJhbGciOiJFZERTQSJ9", 1<<20/20) + ".e30.AA"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := v.Verify(huge); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Verify = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("10 rejections of a 1 MB token allocated %d bytes", n)
	}
}

// Errors golang-jwt may add in future versions still map to a fixed reason.
func TestParseReasonFallback(t *testing.T) {
	if got := parseReason(nil, errors.New("something new")); got != "invalid claims" {
		t.Errorf("parseReason = %q", got)
	}
	if sub, err := (&parsedClaims{Subject: "s"}).GetSubject(); sub != "s" || err != nil {
		t.Errorf("GetSubject = %q, %v", sub, err)
	}
}
