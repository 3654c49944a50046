package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/verify"
)

// Client credentials with characters RFC 6749 section 2.3.1 makes the client
// form-encode before Basic authentication.
const (
	introClient = "reports:api"
	introSecret = "s3cr3t %&+/=é"
)

// introspection is an RFC 7662 endpoint: it authenticates the client with
// client_secret_basic and says whether a token is active.
type introspection struct {
	mu      sync.Mutex
	revoked map[string]bool
	calls   int
	mode    string // "", "down", "garbage", "other-sub"
}

func (in *introspection) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls++
	id, secret, ok := r.BasicAuth()
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	switch {
	case in.mode == "down":
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	case !ok || err1 != nil || err2 != nil || id != introClient || secret != introSecret:
		w.Header().Set("WWW-Authenticate", "Basic")
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	case in.mode == "garbage":
		_, _ = w.Write([]byte(`{"active":"yes"}`))
		return
	}
	tok := r.PostFormValue("token")
	if r.PostFormValue("token_type_hint") != "access_token" || tok == "" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	resp := map[string]any{"active": !in.revoked[tok]}
	if !in.revoked[tok] {
		resp["token_type"] = "Bearer"
		if in.mode == "other-sub" {
			resp["sub"] = "someone-else"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (in *introspection) set(f func(*introspection)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f(in)
}

func (in *introspection) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls
}

func introspected(t *testing.T, clk *clock) (*introspection, func(...verify.Option) *verify.Verifier, func(verify.Claims) string) {
	t.Helper()
	iss := newIssuer(t, clk)
	in := &introspection{revoked: map[string]bool{}}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	newV := func(opts ...verify.Option) *verify.Verifier {
		return newVerifier(t, iss, clk, append(opts, verify.WithIntrospection(srv.URL+"/oauth2/introspect", introClient, introSecret))...)
	}
	return in, newV, func(c verify.Claims) string { return mint(t, iss, c) }
}

// TestIntrospectionRevocation: a revoked token is refused once the cached
// answer (10 s at most) runs out, long before the token expires.
func TestIntrospectionRevocation(t *testing.T) {
	clk := newClock()
	in, newV, mintC := introspected(t, clk)
	v := newV()
	tok := mintC(verify.Claims{ExpiresAt: clk.Now().Add(15 * time.Minute)})

	mustVerify(t, v, tok)
	mustVerify(t, v, tok)
	if n := in.count(); n != 1 {
		t.Fatalf("%d introspection calls, want 1 (then cached)", n)
	}
	in.set(func(in *introspection) { in.revoked[tok] = true })
	clk.Advance(9 * time.Second)
	mustVerify(t, v, tok) // the cached answer, within the documented bound
	clk.Advance(time.Second)
	wantInvalid(t, v, tok, "token is not active")
	wantInvalid(t, v, tok, "token is not active") // cached too
	if n := in.count(); n != 2 {
		t.Fatalf("%d introspection calls, want 2", n)
	}
}

// TestIntrospectionCacheEndsAtExpiry: an answer is never kept past the
// token's exp.
func TestIntrospectionCacheEndsAtExpiry(t *testing.T) {
	clk := newClock()
	in, newV, mintC := introspected(t, clk)
	v := newV()
	tok := mintC(verify.Claims{IssuedAt: clk.Now().Add(-time.Minute), ExpiresAt: clk.Now().Add(3 * time.Second)})
	mustVerify(t, v, tok)
	in.set(func(in *introspection) { in.revoked[tok] = true })
	clk.Advance(3 * time.Second) // expired, but within the 60 s leeway
	wantInvalid(t, v, tok, "token is not active")
}

// TestIntrospectionOnlyAfterLocalChecks: forged tokens never reach idp.
func TestIntrospectionOnlyAfterLocalChecks(t *testing.T) {
	iss := newIssuer(t, nil)
	in := &introspection{revoked: map[string]bool{}}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	v := newVerifier(t, iss, nil, verify.WithIntrospection(srv.URL, introClient, introSecret))
	list, err := iss.Forgeries()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range list {
		wantInvalid(t, v, f.Token, f.Reason)
	}
	if n := in.count(); n != 0 {
		t.Fatalf("%d forged tokens were sent to introspection", n)
	}
}

func TestIntrospectionFailures(t *testing.T) {
	tests := []struct {
		name        string
		mode        string
		secret      string
		unavailable bool
	}{
		{name: "endpoint down", mode: "down", unavailable: true},
		{name: "wrong client secret", secret: "wrong", unavailable: true},
		{name: "not an RFC 7662 answer", mode: "garbage", unavailable: true},
		{name: "active, but about another subject", mode: "other-sub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t, nil)
			in := &introspection{revoked: map[string]bool{}, mode: tt.mode}
			srv := httptest.NewServer(in)
			t.Cleanup(srv.Close)
			secret := introSecret
			if tt.secret != "" {
				secret = tt.secret
			}
			v := newVerifier(t, iss, nil, verify.WithIntrospection(srv.URL, introClient, secret))
			tok := mint(t, iss, verify.Claims{})
			_, err := v.Verify(context.Background(), tok)
			if errors.Is(err, verify.ErrUnavailable) != tt.unavailable || errors.Is(err, verify.ErrInvalidToken) == tt.unavailable {
				t.Fatalf("Verify: %v", err)
			}
			if tt.secret != "" && errors.Is(err, verify.ErrUnavailable) && !strings.Contains(err.Error(), "client credentials") {
				t.Fatalf("error %q does not say the credentials were refused", err)
			}
		})
	}
}
