package verify_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/verify"
	"github.com/idp-dev/idp/verify/verifytest"
)

// clock is a fake clock shared by an issuer and its verifier.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newIssuer(t *testing.T, clk *clock) *verifytest.Issuer {
	t.Helper()
	iss := verifytest.NewIssuer()
	t.Cleanup(iss.Close)
	if clk != nil {
		iss.SetClock(clk.Now)
	}
	return iss
}

func newVerifier(t *testing.T, iss *verifytest.Issuer, clk *clock, opts ...verify.Option) *verify.Verifier {
	t.Helper()
	if clk != nil {
		opts = append(opts, verify.WithClock(clk.Now))
	}
	v, err := verify.New(context.Background(), iss.URL, iss.Audience, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func mint(t *testing.T, iss *verifytest.Issuer, c verify.Claims) string {
	t.Helper()
	tok, err := iss.Token(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func mustVerify(t *testing.T, v *verify.Verifier, tok string) *verify.Claims {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

func wantInvalid(t *testing.T, v *verify.Verifier, tok, reason string) {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, verify.ErrInvalidToken) || errors.Is(err, verify.ErrUnavailable) {
		t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", c, err)
	}
	if c != nil {
		t.Fatalf("claims returned with an error: %+v", c)
	}
	if reason != "" && err.Error() != "verify: invalid token: "+reason {
		t.Fatalf("error %q, want reason %q", err, reason)
	}
}

func wantUnavailable(t *testing.T, v *verify.Verifier, tok string) {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, verify.ErrUnavailable) || errors.Is(err, verify.ErrInvalidToken) {
		t.Fatalf("Verify = %+v, %v; want ErrUnavailable", c, err)
	}
}

func TestVerifyReturnsClaims(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	v := newVerifier(t, iss, clk)
	in := verify.Claims{
		Subject: "4b0c8d0e-1111-4222-8333-944445555666", TenantID: "t-1", SessionID: "s-1",
		ClientID: "reports-app", Email: "alice@example.com", Roles: []string{"admin", "viewer"},
		Scopes: []string{"openid", "roles"}, IssuedAt: clk.Now(), ExpiresAt: clk.Now().Add(10 * time.Minute),
	}
	got := mustVerify(t, v, mint(t, iss, in))
	if got.Subject != in.Subject || got.TenantID != in.TenantID || got.SessionID != in.SessionID ||
		got.ClientID != in.ClientID || got.Email != in.Email || !slices.Equal(got.Roles, in.Roles) ||
		!slices.Equal(got.Scopes, in.Scopes) || !got.IssuedAt.Equal(in.IssuedAt) || !got.ExpiresAt.Equal(in.ExpiresAt) ||
		got.PasswordChange {
		t.Fatalf("claims = %+v\nwant     %+v", got, in)
	}
	if !got.HasRole("admin") || got.HasRole("adm") || got.HasRole("") {
		t.Fatal("HasRole")
	}

	// Without roles or scope the slices are empty, never nil for roles.
	bare := mustVerify(t, v, mint(t, iss, verify.Claims{}))
	if bare.Roles == nil || len(bare.Roles) != 0 || len(bare.Scopes) != 0 || bare.HasRole("admin") {
		t.Fatalf("bare claims %+v", bare)
	}
}

// TestVerifyRefusesForgeries runs the corpus idp's own verifier is tested
// with (internal/core/token): each token is refused with the same reason.
func TestVerifyRefusesForgeries(t *testing.T) {
	iss := newIssuer(t, nil)
	v := newVerifier(t, iss, nil)
	list, err := iss.Forgeries()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range list {
		t.Run(f.Name, func(t *testing.T) { wantInvalid(t, v, f.Token, f.Reason) })
	}
	// The corpus's unknown kids arrived within MinRefresh of the first
	// fetch: none of them made the verifier fetch again.
	if st := iss.Stats(); st.JWKS != 1 || st.Discovery != 1 {
		t.Errorf("stats %+v after the corpus, want one discovery and one JWKS fetch", st)
	}
}

func TestPasswordChangeTokens(t *testing.T) {
	iss := newIssuer(t, nil)
	tok := mint(t, iss, verify.Claims{PasswordChange: true})
	wantInvalid(t, newVerifier(t, iss, nil), tok, "password change pending")

	c := mustVerify(t, newVerifier(t, iss, nil, verify.WithPasswordChangeAllowed()), tok)
	if !c.PasswordChange || len(c.Roles) != 0 {
		t.Fatalf("claims %+v", c)
	}
}

func TestLeeway(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	expired30s := mint(t, iss, verify.Claims{IssuedAt: clk.Now().Add(-time.Hour), ExpiresAt: clk.Now().Add(-30 * time.Second)})
	mustVerify(t, newVerifier(t, iss, clk), expired30s) // default 60 s
	wantInvalid(t, newVerifier(t, iss, clk, verify.WithLeeway(10*time.Second)), expired30s, "expired")
	wantInvalid(t, newVerifier(t, iss, clk, verify.WithLeeway(0)), expired30s, "expired")
	expired90s := mint(t, iss, verify.Claims{IssuedAt: clk.Now().Add(-time.Hour), ExpiresAt: clk.Now().Add(-90 * time.Second)})
	wantInvalid(t, newVerifier(t, iss, clk, verify.WithLeeway(time.Hour)), expired90s, "expired") // capped at 60 s
}

func TestNewRefusesBadSetups(t *testing.T) {
	iss := newIssuer(t, nil)
	ctx := context.Background()
	tests := []struct {
		name        string
		issuer, aud string
		opts        []verify.Option
		unavailable bool
	}{
		{name: "empty issuer", aud: "idp"},
		{name: "empty audience", issuer: iss.URL},
		{name: "negative MinRefresh", issuer: iss.URL, aud: "idp", opts: []verify.Option{verify.WithMinRefresh(-time.Second)}},
		{name: "negative StaleFor", issuer: iss.URL, aud: "idp", opts: []verify.Option{verify.WithStaleFor(-time.Second)}},
		{name: "negative leeway", issuer: iss.URL, aud: "idp", opts: []verify.Option{verify.WithLeeway(-time.Second)}},
		{name: "nil client", issuer: iss.URL, aud: "idp", opts: []verify.Option{verify.WithHTTPClient(nil)}},
		{name: "introspection without secret", issuer: iss.URL, aud: "idp", opts: []verify.Option{verify.WithIntrospection("https://x", "c", "")}},
		{name: "issuer not matching discovery", issuer: iss.URL + "/tenant", aud: "idp"},
		{name: "nothing listening", issuer: "http://127.0.0.1:1", aud: "idp", unavailable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.New(ctx, tt.issuer, tt.aud, tt.opts...)
			if err == nil {
				t.Fatalf("New = %v, want error", v)
			}
			if errors.Is(err, verify.ErrUnavailable) != tt.unavailable {
				t.Fatalf("New: %v (unavailable: %v)", err, errors.Is(err, verify.ErrUnavailable))
			}
		})
	}

	t.Run("issuer down", func(t *testing.T) {
		down := newIssuer(t, nil)
		down.SetUnavailable(true)
		if _, err := verify.New(ctx, down.URL, "idp"); !errors.Is(err, verify.ErrUnavailable) {
			t.Fatalf("New: %v, want ErrUnavailable", err)
		}
	})
	t.Run("trailing slash ignored", func(t *testing.T) {
		v, err := verify.New(ctx, iss.URL+"/", "idp")
		if err != nil {
			t.Fatal(err)
		}
		mustVerify(t, v, mint(t, iss, verify.Claims{}))
	})
}

// docServer serves a fixed discovery document and JWKS.
func docServer(t *testing.T, discovery func(base string) string, jwks string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_, _ = w.Write([]byte(discovery(srv.URL)))
		case "/.well-known/jwks.json":
			_, _ = w.Write([]byte(jwks))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestNewRefusesBadDocuments(t *testing.T) {
	const goodJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k"}]}`
	tests := []struct {
		name      string
		discovery func(base string) string
		jwks      string
	}{
		{"discovery not JSON", func(string) string { return "<html>" }, goodJWKS},
		{"other issuer", func(string) string { return `{"issuer":"https://evil.example","jwks_uri":"https://evil.example/jwks"}` }, goodJWKS},
		{"no jwks_uri", func(b string) string { return `{"issuer":"` + b + `"}` }, goodJWKS},
		{"relative jwks_uri", func(b string) string { return `{"issuer":"` + b + `","jwks_uri":"/.well-known/jwks.json"}` }, goodJWKS},
		{"jwks_uri not http", func(b string) string { return `{"issuer":"` + b + `","jwks_uri":"file:///etc/passwd"}` }, goodJWKS},
		{"JWKS without Ed25519 keys", func(b string) string { return `{"issuer":"` + b + `","jwks_uri":"` + b + `/.well-known/jwks.json"}` }, `{"keys":[{"kty":"RSA","kid":"r"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := docServer(t, tt.discovery, tt.jwks)
			if v, err := verify.New(context.Background(), srv.URL, "idp"); err == nil {
				t.Fatalf("New = %v, want error", v)
			}
		})
	}
}

// TestCacheHonoursMaxAgeAndETag: no fetch while the set is fresh, one
// conditional fetch (304) once max-age has passed, and the max-age of the
// 304 applies next.
func TestCacheHonoursMaxAgeAndETag(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	iss.SetMaxAge(120 * time.Second)
	v := newVerifier(t, iss, clk)
	tok := mint(t, iss, verify.Claims{ExpiresAt: clk.Now().Add(time.Hour)})

	wantStats := func(jwks, notModified int) {
		t.Helper()
		if st := iss.Stats(); st.JWKS != jwks || st.NotModified != notModified {
			t.Fatalf("stats %+v, want %d JWKS requests of which %d answered 304", st, jwks, notModified)
		}
	}
	for range 10 {
		mustVerify(t, v, tok)
	}
	wantStats(1, 0)
	clk.Advance(119 * time.Second)
	mustVerify(t, v, tok)
	wantStats(1, 0)
	clk.Advance(time.Second)
	iss.SetMaxAge(30 * time.Second)
	mustVerify(t, v, tok)
	mustVerify(t, v, tok)
	wantStats(2, 1)
	clk.Advance(29 * time.Second)
	mustVerify(t, v, tok)
	wantStats(2, 1)
	clk.Advance(time.Second)
	mustVerify(t, v, tok)
	wantStats(3, 2)

	// A changed set has a new ETag: the fetch after max-age gets it in full.
	iss.Rotate()
	clk.Advance(30 * time.Second)
	mustVerify(t, v, mint(t, iss, verify.Claims{}))
	wantStats(4, 2)
}

// TestUnknownKIDFlood: a flood of tokens with unknown kids makes at most one
// JWKS fetch per MinRefresh, however many arrive at once.
func TestUnknownKIDFlood(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	v := newVerifier(t, iss, clk, verify.WithMinRefresh(30*time.Second))
	valid := mint(t, iss, verify.Claims{ExpiresAt: clk.Now().Add(time.Hour)})
	forged := unknownKIDTokens(t, iss, clk, 400)

	flood := func() {
		t.Helper()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := g; i < len(forged); i += 8 {
					if _, err := v.Verify(context.Background(), forged[i]); !errors.Is(err, verify.ErrInvalidToken) {
						t.Errorf("forged token: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	fetches := func() int { return iss.Stats().JWKS }

	flood() // within MinRefresh of the first fetch
	if n := fetches(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1 (the first)", n)
	}
	for window := 1; window <= 5; window++ {
		clk.Advance(30 * time.Second)
		flood()
		clk.Advance(15 * time.Second)
		flood()
		if n := fetches(); n != 1+window {
			t.Fatalf("after %d MinRefresh windows: %d JWKS fetches, want %d", window, n, 1+window)
		}
		clk.Advance(-15 * time.Second)
		mustVerify(t, v, valid)
	}
}

// unknownKIDTokens mints n tokens with well-formed, unpublished kids, each
// signed by its kid's own key, otherwise valid.
func unknownKIDTokens(t *testing.T, iss *verifytest.Issuer, clk *clock, n int) []string {
	t.Helper()
	out := make([]string, n)
	now := clk.Now()
	for i := range out {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		kid := base64.RawURLEncoding.EncodeToString(pub[:16])
		hdr, _ := json.Marshal(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid})
		payload, _ := json.Marshal(map[string]any{
			"iss": iss.URL, "aud": iss.Audience, "sub": "s", "jti": "j", "sid": "x", "tenant_id": "t",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
		in := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(payload)
		out[i] = in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(in)))
	}
	return out
}

// TestUnknownKIDFindsNewKey: a kid published since the last fetch is found
// by the refetch an unknown kid triggers.
func TestUnknownKIDFindsNewKey(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	v := newVerifier(t, iss, clk)
	iss.Rotate()
	iss.Rotate() // the active key is one the verifier has never seen
	tok := mint(t, iss, verify.Claims{})
	wantInvalid(t, v, tok, "unknown kid") // within MinRefresh of the first fetch
	clk.Advance(30 * time.Second)
	mustVerify(t, v, tok)
	if st := iss.Stats(); st.JWKS != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStaleKeysThenFailClosed: while the issuer is down the cached keys
// keep verifying up to StaleFor after the last fetch, with retries spaced
// by MinRefresh; then Verify fails closed, and recovers with the issuer.
func TestStaleKeysThenFailClosed(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	iss.SetMaxAge(5 * time.Minute)
	v := newVerifier(t, iss, clk, verify.WithStaleFor(time.Hour), verify.WithMinRefresh(30*time.Second))
	tok := mint(t, iss, verify.Claims{ExpiresAt: clk.Now().Add(3 * time.Hour)})

	iss.SetUnavailable(true)
	clk.Advance(5 * time.Minute)
	mustVerify(t, v, tok) // stale, one failed attempt
	mustVerify(t, v, tok) // within MinRefresh of it: no new attempt
	if st := iss.Stats(); st.Failed != 1 {
		t.Fatalf("stats %+v, want one failed attempt", st)
	}
	// An unknown kid can't be told from a new key while the issuer is down.
	wantUnavailable(t, v, unknownKIDTokens(t, iss, clk, 1)[0])
	clk.Advance(54*time.Minute + 59*time.Second)
	mustVerify(t, v, tok)
	if st := iss.Stats(); st.Failed < 2 || st.Failed > 1+int((55*time.Minute)/(30*time.Second)) {
		t.Fatalf("stats %+v", st)
	}
	clk.Advance(time.Second) // an hour since the last fetch
	wantUnavailable(t, v, tok)
	wantUnavailable(t, v, tok)

	iss.SetUnavailable(false)
	clk.Advance(30 * time.Second)
	mustVerify(t, v, tok)
}

// TestStagedRotationNoFailure verifies tokens from several goroutines while
// the issuer rotates its keys, one rotation per JWKS max-age as
// docs/operations.md asks: not one verification fails, since each new
// signing key was published (as next) before it signed.
func TestStagedRotationNoFailure(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	iss.SetMaxAge(time.Minute)
	v := newVerifier(t, iss, clk)
	old := mint(t, iss, verify.Claims{ExpiresAt: clk.Now().Add(time.Hour)})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var verified, failed int
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok, err := iss.Token(verify.Claims{})
				if err != nil {
					t.Error(err)
					return
				}
				_, err1 := v.Verify(context.Background(), tok)
				_, err2 := v.Verify(context.Background(), old)
				mu.Lock()
				verified += 2
				if err1 != nil || err2 != nil {
					failed++
					t.Errorf("during rotation: %v / %v", err1, err2)
				}
				mu.Unlock()
			}
		})
	}
	// Lets the verifying goroutines make progress between steps.
	progress := func() {
		mu.Lock()
		target := verified + 40
		mu.Unlock()
		for {
			mu.Lock()
			done := verified >= target
			mu.Unlock()
			if done {
				return
			}
			runtime.Gosched()
		}
	}
	kids := map[string]bool{}
	for range 3 {
		progress()
		iss.Rotate()
		kids[iss.ActiveKID()] = true
		progress()
		clk.Advance(time.Minute)
	}
	progress()
	close(stop)
	wg.Wait()
	if failed > 0 || verified < 100 || len(kids) != 3 {
		t.Fatalf("%d of %d verifications failed over %d rotations", failed, verified, len(kids))
	}
	// One fetch per max-age, none for unknown kids.
	if st := iss.Stats(); st.JWKS != 4 {
		t.Fatalf("stats %+v, want 4 JWKS fetches", st)
	}
}

// TestEmergencyRotationBound: tokens of a key removed from the JWKS are
// refused once the cached set expires (its max-age), not before.
func TestEmergencyRotationBound(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	iss.SetMaxAge(60 * time.Second)
	v := newVerifier(t, iss, clk)
	old := mint(t, iss, verify.Claims{ExpiresAt: clk.Now().Add(time.Hour)})
	mustVerify(t, v, old)
	iss.RotateEmergency()
	fresh := mint(t, iss, verify.Claims{ExpiresAt: clk.Now().Add(time.Hour)})
	mustVerify(t, v, fresh) // the promoted key was published before
	clk.Advance(59 * time.Second)
	mustVerify(t, v, old) // the documented bound: until max-age
	clk.Advance(time.Second)
	wantInvalid(t, v, old, "unknown kid")
	mustVerify(t, v, fresh)
}

// TestContextCancelled: a caller that gives up on a slow JWKS gets
// ErrUnavailable at once.
func TestContextCancelled(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	v := newVerifier(t, iss, clk)
	tok := mint(t, iss, verify.Claims{})
	clk.Advance(10 * time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, tok); !errors.Is(err, verify.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify: %v", err)
	}
}

func decodePart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestIssuerMintsLikeIdp pins verifytest's tokens to idp's wire format.
func TestIssuerMintsLikeIdp(t *testing.T) {
	iss := newIssuer(t, nil)
	tok := mint(t, iss, verify.Claims{Roles: []string{"admin"}, Email: "a@example.com"})
	h := decodePart(t, tok, 0)
	if h["alg"] != "EdDSA" || h["typ"] != "at+jwt" || h["kid"] != iss.ActiveKID() || len(h) != 3 {
		t.Fatalf("header %v", h)
	}
	p := decodePart(t, tok, 1)
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "tenant_id", "roles", "email"} {
		if _, ok := p[k]; !ok {
			t.Errorf("claim %s missing: %v", k, p)
		}
	}
	if p["iss"] != iss.URL || p["aud"] != "idp" {
		t.Fatalf("payload %v", p)
	}
}

func forgeryNamed(t *testing.T, list []verifytest.Forgery, name string) string {
	t.Helper()
	for _, f := range list {
		if f.Name == name {
			return f.Token
		}
	}
	t.Fatalf("no forgery %q", name)
	return ""
}

// TestRepeatedTokens: a token verified before (kept in the results cache)
// expires at the same instant as an unseen one, and a caller that edits its
// claims changes nothing for the next.
func TestRepeatedTokens(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	for _, leeway := range []time.Duration{0, 30 * time.Second, time.Minute} {
		v := newVerifier(t, iss, clk, verify.WithLeeway(leeway))
		exp := clk.Now().Add(2 * time.Minute)
		tok := mint(t, iss, verify.Claims{Roles: []string{"admin"}, ExpiresAt: exp})
		c := mustVerify(t, v, tok)
		c.Roles[0], c.Subject = "root", "someone"
		if again := mustVerify(t, v, tok); again.Roles[0] != "admin" || again.Subject == "someone" {
			t.Fatalf("a caller's edit reached the cache: %+v", again)
		}
		clk.Advance(exp.Add(leeway).Sub(clk.Now()) - time.Second)
		mustVerify(t, v, tok)
		clk.Advance(time.Second)
		wantInvalid(t, v, tok, "expired")
		wantInvalid(t, newVerifier(t, iss, clk, verify.WithLeeway(leeway)), tok, "expired")
	}
}

// TestExpiredSetRefetchedOnce: when the set expires under concurrent load,
// the callers share one fetch.
func TestExpiredSetRefetchedOnce(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	v := newVerifier(t, iss, clk)
	toks := make([]string, 50)
	for i := range toks {
		toks[i] = mint(t, iss, verify.Claims{ExpiresAt: clk.Now().Add(time.Hour)})
	}
	clk.Advance(5 * time.Minute)
	var wg sync.WaitGroup
	for _, tok := range toks {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := iss.Stats(); st.JWKS != 2 {
		t.Fatalf("stats %+v, want one refetch for 50 concurrent callers", st)
	}
}
