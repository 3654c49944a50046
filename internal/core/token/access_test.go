package token

import (
	"crypto/ed25519"
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
)

func TestSignVerifyRoundTrip(t *testing.T) {
	v := testVerifier()
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
			v := testVerifier()
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
			v := testVerifier()
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
			*v = testVerifier(other, testKey)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testVerifier()
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
		v := testVerifier()
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
	v := testVerifier()
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
	v := testVerifier()
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
