package verify_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/verify"
)

type reply struct {
	status int
	header http.Header
	body   map[string]string
}

func serve(t *testing.T, h http.Handler, authorization ...string) reply {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	out := reply{status: w.Code, header: w.Header()}
	if w.Code != http.StatusOK {
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("status %d with Content-Type %q", w.Code, ct)
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out.body); err != nil {
			t.Fatalf("error body %q: %v", w.Body, err)
		}
		if out.body["error_description"] == "" || len(out.body) != 2 {
			t.Fatalf("error body %v", out.body)
		}
	}
	return out
}

// whoami answers with the claims Middleware stored.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := verify.FromContext(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write([]byte(c.Subject))
})

func TestMiddleware(t *testing.T) {
	iss := newIssuer(t, nil)
	v := newVerifier(t, iss, nil)
	h := v.Middleware(whoami)
	tok := mint(t, iss, verify.Claims{Subject: "user-1"})

	for _, a := range []string{"Bearer " + tok, "bearer " + tok, "BEARER  " + tok} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", a)
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK || w.Body.String() != "user-1" {
			t.Fatalf("%q: %d %q", a[:8], w.Code, w.Body)
		}
	}

	forged, err := iss.Forgeries()
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string][]string{
		"no header":              nil,
		"empty":                  {""},
		"scheme only":            {"Bearer"},
		"scheme and space":       {"Bearer "},
		"Basic":                  {"Basic dXNlcjpwYXNz"},
		"token without scheme":   {tok},
		"two headers":            {"Bearer " + tok, "Bearer " + tok},
		"oversized":              {"Bearer " + strings.Repeat("a", 9<<10)},
		"expired":                {"Bearer " + forgeryNamed(t, forged, "exp long past")},
		"alg none":               {"Bearer " + forgeryNamed(t, forged, "alg none")},
		"refresh token":          {"Bearer " + forgeryNamed(t, forged, "refresh token (opaque)")},
		"password change":        {"Bearer " + mint(t, iss, verify.Claims{PasswordChange: true})},
		"HS256 with public key":  {"Bearer " + forgeryNamed(t, forged, "HS256 keyed with the public key")},
		"foreign key, our kid":   {"Bearer " + forgeryNamed(t, forged, "foreign Ed25519 key with our kid")},
		"wrong audience":         {"Bearer " + forgeryNamed(t, forged, "wrong aud")},
		"tampered claim":         {"Bearer " + forgeryNamed(t, forged, "tampered claim")},
		"kid with SQL":           {"Bearer " + forgeryNamed(t, forged, "kid SQL injection")},
		"control character junk": {"Bearer \x00\x01"},
	}
	for name, hdrs := range refused {
		t.Run(name, func(t *testing.T) {
			r := serve(t, h, hdrs...)
			if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" ||
				r.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
				t.Fatalf("got %d %v %q", r.status, r.body, r.header.Get("WWW-Authenticate"))
			}
			if strings.Contains(r.body["error_description"], "kid") {
				t.Fatalf("description leaks the reason: %q", r.body["error_description"])
			}
		})
	}
}

func TestMiddlewareUnavailable(t *testing.T) {
	clk := newClock()
	iss := newIssuer(t, clk)
	v := newVerifier(t, iss, clk, verify.WithStaleFor(0))
	tok := mint(t, iss, verify.Claims{})
	iss.SetUnavailable(true)
	clk.Advance(time.Hour) // past the issuer's max-age
	r := serve(t, v.Middleware(whoami), "Bearer "+tok)
	if r.status != http.StatusServiceUnavailable || r.body["error"] != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
		t.Fatalf("got %d %v", r.status, r.body)
	}
}

func TestRequire(t *testing.T) {
	iss := newIssuer(t, nil)
	v := newVerifier(t, iss, nil)
	admin := mint(t, iss, verify.Claims{TenantID: "t-1", Roles: []string{"admin"}, Scopes: []string{"openid", "reports:read"}})
	user := mint(t, iss, verify.Claims{TenantID: "t-2", Roles: []string{"viewer"}})

	tests := []struct {
		name    string
		h       http.Handler
		tok     string
		status  int
		wwwAuth string
	}{
		{"role granted", verify.RequireRole("admin", whoami), admin, 200, ""},
		{"role missing", verify.RequireRole("admin", whoami), user, 403, ""},
		{"role prefix is not the role", verify.RequireRole("adm", whoami), admin, 403, ""},
		{"scope granted", verify.RequireScope("reports:read", whoami), admin, 200, ""},
		{"scope missing", verify.RequireScope("reports:read", whoami), user, 403, `Bearer error="insufficient_scope", scope="reports:read"`},
		{"tenant matches", verify.RequireTenant("t-1", whoami), admin, 200, ""},
		{"other tenant", verify.RequireTenant("t-1", whoami), user, 403, ""},
		{"nested", verify.RequireTenant("t-1", verify.RequireRole("admin", whoami)), admin, 200, ""},
		{"nested, inner refuses", verify.RequireTenant("t-2", verify.RequireRole("admin", whoami)), user, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := serve(t, v.Middleware(tt.h), "Bearer "+tt.tok)
			if r.status != tt.status || r.header.Get("WWW-Authenticate") != tt.wwwAuth {
				t.Fatalf("got %d %v, WWW-Authenticate %q", r.status, r.body, r.header.Get("WWW-Authenticate"))
			}
			if tt.status == 403 && r.body["error"] != "forbidden" {
				t.Fatalf("body %v", r.body)
			}
		})
	}

	// Mounted without Middleware, nothing was verified: 401, never a pass.
	for _, h := range []http.Handler{verify.RequireRole("admin", whoami), verify.RequireScope("s", whoami), verify.RequireTenant("t-1", whoami)} {
		if r := serve(t, h, "Bearer "+admin); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
			t.Fatalf("without Middleware: %d %v", r.status, r.body)
		}
	}

	// A scope can't break out of the WWW-Authenticate quoted-string.
	r := serve(t, v.Middleware(verify.RequireScope("a\" b\\\r\nX: y", whoami)), "Bearer "+admin)
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope", scope="a bX: y"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
}
