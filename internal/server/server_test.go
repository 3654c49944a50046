package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/server"
)

// wantTokenResponse checks a 200 token response: every field of CONTRACT 3
// and the no-store headers.
func wantTokenResponse(t *testing.T, r response) core.TokenResponse {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	wantNoStore(t, r)
	m := r.JSON(t)
	for _, k := range []string{"access_token", "token_type", "expires_in", "issued_at", "kid", "refresh_token", "refresh_expires_in"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("token response lacks %q: %s", k, r.Body)
		}
	}
	var tr core.TokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil {
		t.Fatal(err)
	}
	if tr.TokenType != "Bearer" || tr.ExpiresIn != int64(testAccessTTL/time.Second) || tr.AccessToken == "" || tr.RefreshToken == "" || tr.KID == "" {
		t.Fatalf("token response %+v", tr)
	}
	if _, err := time.Parse(time.RFC3339, tr.IssuedAt); err != nil || !strings.HasSuffix(tr.IssuedAt, "Z") {
		t.Fatalf("issued_at %q is not RFC 3339 UTC", tr.IssuedAt)
	}
	return tr
}

func wantNoStore(t *testing.T, r response) {
	t.Helper()
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	if p := r.Header.Get("Pragma"); p != "no-cache" {
		t.Fatalf("Pragma %q, want no-cache", p)
	}
}

func TestSmoke(t *testing.T) {
	env := newTestEnv(t, nil)
	ts := env.TS

	t.Run("login json", func(t *testing.T) {
		r := do(t, ts, "POST", "/api/v1/auth/token", map[string]string{"email": testUser, "password": testPassword})
		tr := wantTokenResponse(t, r)
		if tr.KID != env.Services.Keys.ActiveKID() {
			t.Fatalf("kid %q, active %q", tr.KID, env.Services.Keys.ActiveKID())
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", r.Header)
		}
	})

	t.Run("login form", func(t *testing.T) {
		form := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}, "client_id": {"cli-app"}}
		r := do(t, ts, "POST", "/api/v1/auth/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
		tr := wantTokenResponse(t, r)

		form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}
		r = do(t, ts, "POST", "/api/v1/auth/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
		wantTokenResponse(t, r)
	})

	t.Run("form errors", func(t *testing.T) {
		form := func(s string) response {
			return do(t, ts, "POST", "/api/v1/auth/token", s, "Content-Type", "application/x-www-form-urlencoded")
		}
		r := form("grant_type=client_credentials")
		wantError(t, r, http.StatusBadRequest, "unsupported_grant_type")
		wantNoStore(t, r)
		wantError(t, form("username=a&password=b"), http.StatusBadRequest, "invalid_request")
		wantError(t, form("grant_type=password&username="+testUser+"&username=x@example.com&password=x"), http.StatusBadRequest, "invalid_request")
		wantError(t, form("grant_type=password&username=%zz"), http.StatusBadRequest, "invalid_request")
		wantError(t, form("grant_type=password&username=a@example.com&password=x&client_id=%0Abad"), http.StatusBadRequest, "invalid_request")
	})

	t.Run("bad credentials", func(t *testing.T) {
		wrong := do(t, ts, "POST", "/api/v1/auth/token", map[string]string{"email": testUser, "password": "wrong password here"})
		unknown := do(t, ts, "POST", "/api/v1/auth/token", map[string]string{"email": "nobody@example.com", "password": "wrong password here"})
		wantError(t, wrong, http.StatusBadRequest, "invalid_grant")
		wantError(t, unknown, http.StatusBadRequest, "invalid_grant")
		wantNoStore(t, wrong)
		if string(wrong.Body) != string(unknown.Body) {
			t.Fatalf("bodies differ: %s vs %s", wrong.Body, unknown.Body)
		}
	})

	t.Run("me", func(t *testing.T) {
		tr := login(t, ts, testUser)
		r := do(t, ts, "GET", "/api/v1/auth/me", nil, "Authorization", bearer(tr.AccessToken))
		wantStatus(t, r, http.StatusOK)
		m := r.JSON(t)
		for _, k := range []string{"sub", "id", "email", "tenant_id", "tenant", "roles", "status", "display_name", "created_at", "last_login_at"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("/me lacks %q: %s", k, r.Body)
			}
		}
		if m["sub"] != m["id"] || m["email"] != testUser || m["tenant"] != testTenant {
			t.Fatalf("/me = %s", r.Body)
		}
		// The scheme is case-insensitive (RFC 7235 section 2.1).
		wantStatus(t, do(t, ts, "GET", "/api/v1/auth/me", nil, "Authorization", "bEaReR "+tr.AccessToken), http.StatusOK)
	})

	t.Run("me unauthorized", func(t *testing.T) {
		for name, h := range map[string][]string{
			"missing":      nil,
			"garbage":      {"Authorization", "Bearer not.a.jwt"},
			"basic":        {"Authorization", "Basic dXNlcjpwYXNz"},
			"empty":        {"Authorization", "Bearer "},
			"bad chars":    {"Authorization", "Bearer a b"},
			"refresh used": {"Authorization", bearer(login(t, ts, testUser).RefreshToken)},
		} {
			r := do(t, ts, "GET", "/api/v1/auth/me", nil, h...)
			wantError(t, r, http.StatusUnauthorized, "invalid_token")
			if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Fatalf("%s: WWW-Authenticate %q", name, got)
			}
		}
	})

	t.Run("huge bearer", func(t *testing.T) {
		// Under the 64 KiB header limit: the verifier's quick refusal;
		// over it: net/http's 431 (SECURITY 18).
		for size, want := range map[int]int{60 << 10: http.StatusUnauthorized, 1 << 20: http.StatusRequestHeaderFieldsTooLarge} {
			start := time.Now()
			r := do(t, ts, "GET", "/api/v1/auth/me", nil, "Authorization", "Bearer "+strings.Repeat("a", size))
			if want == http.StatusUnauthorized {
				wantError(t, r, want, "invalid_token")
			} else if r.StatusCode != want {
				t.Fatalf("%d KiB bearer = %d, want %d", size>>10, r.StatusCode, want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("%d KiB bearer took %s", size>>10, d)
			}
		}
	})

	t.Run("refresh and logout", func(t *testing.T) {
		tr := login(t, ts, testUser)
		r := do(t, ts, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": tr.RefreshToken})
		child := wantTokenResponse(t, r)

		r = do(t, ts, "POST", "/api/v1/auth/logout", map[string]string{"refresh_token": child.RefreshToken})
		wantStatus(t, r, http.StatusNoContent)
		if got := r.Header.Get("Clear-Site-Data"); got != `"cache", "storage"` {
			t.Errorf("logout Clear-Site-Data = %q", got)
		}
		r = do(t, ts, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": child.RefreshToken})
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
		wantNoStore(t, r)
		r = do(t, ts, "GET", "/api/v1/auth/me", nil, "Authorization", bearer(child.AccessToken))
		wantError(t, r, http.StatusUnauthorized, "invalid_token")
	})

	t.Run("logout all", func(t *testing.T) {
		a, b := login(t, ts, testUser), login(t, ts, testUser)
		r := do(t, ts, "POST", "/api/v1/auth/logout", map[string]any{"all": true})
		wantError(t, r, http.StatusUnauthorized, "invalid_token")
		r = do(t, ts, "POST", "/api/v1/auth/logout", map[string]any{"all": true}, "Authorization", bearer(a.AccessToken))
		wantStatus(t, r, http.StatusNoContent)
		if got := r.Header.Get("Clear-Site-Data"); got != `"cache", "storage"` {
			t.Errorf("logout all Clear-Site-Data = %q", got)
		}
		for _, tr := range []core.TokenResponse{a, b} {
			r = do(t, ts, "POST", "/api/v1/auth/refresh", map[string]string{"refresh_token": tr.RefreshToken})
			wantError(t, r, http.StatusBadRequest, "invalid_grant")
		}
	})

	t.Run("register", func(t *testing.T) {
		admin := login(t, ts, testAdmin)
		body := map[string]any{"email": "new@example.com", "password": "another long passphrase", "display_name": "New"}
		r := do(t, ts, "POST", "/api/v1/auth/register", body, "Authorization", bearer(admin.AccessToken))
		wantStatus(t, r, http.StatusCreated)
		if m := r.JSON(t); m["email"] != "new@example.com" || m["sub"] != m["id"] || m["status"] != "active" {
			t.Fatalf("register = %s", r.Body)
		}
		r = do(t, ts, "POST", "/api/v1/auth/register", body, "Authorization", bearer(admin.AccessToken))
		wantError(t, r, http.StatusConflict, "conflict")

		user := login(t, ts, testUser)
		body["email"] = "other@example.com"
		r = do(t, ts, "POST", "/api/v1/auth/register", body, "Authorization", bearer(user.AccessToken))
		wantError(t, r, http.StatusForbidden, "forbidden")
		r = do(t, ts, "POST", "/api/v1/auth/register", body)
		wantError(t, r, http.StatusUnauthorized, "invalid_token")

		body["password"] = "short"
		r = do(t, ts, "POST", "/api/v1/auth/register", body, "Authorization", bearer(admin.AccessToken))
		wantError(t, r, http.StatusBadRequest, "weak_password")
	})

	t.Run("password change", func(t *testing.T) {
		r := do(t, ts, "POST", "/api/v1/auth/register", map[string]any{"email": "changer@example.com", "password": testPassword},
			"Authorization", bearer(login(t, ts, testAdmin).AccessToken))
		wantStatus(t, r, http.StatusCreated)
		tr := login(t, ts, "changer@example.com")
		auth := []string{"Authorization", bearer(tr.AccessToken)}
		r = do(t, ts, "POST", "/api/v1/auth/password/change", map[string]string{"current_password": "wrong one entirely", "new_password": "a brand new passphrase"}, auth...)
		wantError(t, r, http.StatusBadRequest, "invalid_grant")
		r = do(t, ts, "POST", "/api/v1/auth/password/change", map[string]string{"current_password": testPassword, "new_password": "a brand new passphrase"}, auth...)
		wantStatus(t, r, http.StatusNoContent)
	})

	t.Run("seeded admin must change", func(t *testing.T) {
		seed, err := env.Services.Users.Seed(context.Background(), core.SeedInput{Tenant: "acme", Email: "root@example.com", Rotate: false}, core.Meta{Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		r := do(t, ts, "POST", "/api/v1/auth/token", map[string]string{"email": seed.Email, "password": seed.Password, "tenant": "acme"})
		tr := wantTokenResponse(t, r)
		if !tr.PasswordChangeRequired {
			t.Fatalf("password_change_required missing: %s", r.Body)
		}
		auth := []string{"Authorization", bearer(tr.AccessToken)}
		wantStatus(t, do(t, ts, "GET", "/api/v1/auth/me", nil, auth...), http.StatusOK)
		r = do(t, ts, "POST", "/api/v1/auth/register", map[string]any{"email": "x@example.com"}, auth...)
		wantError(t, r, http.StatusForbidden, "forbidden")
		r = do(t, ts, "POST", "/api/v1/auth/password/change", map[string]string{"current_password": seed.Password, "new_password": "my own long passphrase"}, auth...)
		wantStatus(t, r, http.StatusNoContent)
	})

	t.Run("reset", func(t *testing.T) {
		const resetter = "resetter@example.com"
		if _, err := env.Services.Users.Create(context.Background(), core.CreateInput{Email: resetter, Password: testPassword}, core.Meta{}); err != nil {
			t.Fatal(err)
		}
		known := do(t, ts, "POST", "/api/v1/auth/password/reset/initiate", map[string]string{"email": resetter})
		unknown := do(t, ts, "POST", "/api/v1/auth/password/reset/initiate", map[string]string{"email": "ghost@example.com"})
		for _, r := range []response{known, unknown} {
			wantStatus(t, r, http.StatusAccepted)
			if strings.TrimSpace(string(r.Body)) != `{"status":"accepted"}` {
				t.Fatalf("body %s", r.Body)
			}
		}
		m, ok := env.Mail.Last(resetter, core.MailPasswordReset)
		if !ok {
			t.Fatal("no reset mail")
		}
		u, err := url.Parse(m.URL)
		if err != nil {
			t.Fatal(err)
		}
		tok := u.Query().Get("token")
		r := do(t, ts, "POST", "/api/v1/auth/password/reset/complete", map[string]string{"token": tok, "new_password": "x"})
		wantError(t, r, http.StatusBadRequest, "weak_password")
		r = do(t, ts, "POST", "/api/v1/auth/password/reset/complete", map[string]string{"token": tok, "new_password": testPassword + " again"})
		wantStatus(t, r, http.StatusNoContent)
		r = do(t, ts, "POST", "/api/v1/auth/password/reset/complete", map[string]string{"token": tok, "new_password": testPassword + " again"})
		wantError(t, r, http.StatusBadRequest, "invalid_grant")

		r = do(t, ts, "POST", "/api/v1/auth/password/reset/initiate", `{"email":"`+testAdmin+`","email":"attacker@example.com"}`)
		wantError(t, r, http.StatusBadRequest, "invalid_request")
		r = do(t, ts, "POST", "/api/v1/auth/password/reset/initiate", `{"email":["`+testAdmin+`","attacker@example.com"]}`)
		wantError(t, r, http.StatusBadRequest, "invalid_request")
		if _, ok := env.Mail.Last("attacker@example.com", core.MailPasswordReset); ok {
			t.Fatal("a reset mail went to the attacker")
		}
	})

	t.Run("jwks", func(t *testing.T) {
		r := do(t, ts, "GET", "/.well-known/jwks.json", nil)
		wantStatus(t, r, http.StatusOK)
		etag := r.Header.Get("ETag")
		if etag == "" || r.Header.Get("Cache-Control") != "public, max-age=300" || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("headers %v", r.Header)
		}
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		// EdDSA active and next, RS256 (ID tokens) active and next.
		if err := json.Unmarshal(r.Body, &set); err != nil || len(set.Keys) != 4 {
			t.Fatalf("jwks %s (%v)", r.Body, err)
		}
		r = do(t, ts, "GET", "/.well-known/jwks.json", nil, "If-None-Match", etag)
		wantStatus(t, r, http.StatusNotModified)
		if len(r.Body) != 0 || r.Header.Get("ETag") != etag {
			t.Fatalf("304 with body %q, etag %q", r.Body, r.Header.Get("ETag"))
		}
		r = do(t, ts, "GET", "/.well-known/jwks.json", nil, "If-None-Match", `"other"`)
		wantStatus(t, r, http.StatusOK)
	})

	t.Run("discovery", func(t *testing.T) {
		r := do(t, ts, "GET", "/.well-known/openid-configuration", nil)
		wantStatus(t, r, http.StatusOK)
		m := r.JSON(t)
		if m["issuer"] != ts.URL || m["jwks_uri"] != ts.URL+"/.well-known/jwks.json" ||
			m["token_endpoint"] != ts.URL+"/oauth2/token" || m["userinfo_endpoint"] != ts.URL+"/oauth2/userinfo" {
			t.Fatalf("discovery %s", r.Body)
		}
		// The issuer of the tokens is the issuer of the document.
		if m["issuer"] != issuerOf(t, login(t, ts, testUser).AccessToken) {
			t.Fatal("discovery issuer differs from the iss claim")
		}
		r = do(t, ts, "GET", "/.well-known/openid-configuration", nil, "If-None-Match", r.Header.Get("ETag"))
		wantStatus(t, r, http.StatusNotModified)
	})

	t.Run("health", func(t *testing.T) {
		r := do(t, ts, "GET", "/healthz", nil)
		wantStatus(t, r, http.StatusOK)
		if strings.TrimSpace(string(r.Body)) != `{"status":"ok"}` {
			t.Fatalf("healthz %s", r.Body)
		}
		r = do(t, ts, "GET", "/readyz", nil)
		wantStatus(t, r, http.StatusOK)
		if strings.TrimSpace(string(r.Body)) != `{"status":"ready"}` {
			t.Fatalf("readyz %s", r.Body)
		}
	})

	t.Run("body limits", func(t *testing.T) {
		big := `{"email":"` + strings.Repeat("a", 65<<10) + `"}`
		wantError(t, do(t, ts, "POST", "/api/v1/auth/token", big), http.StatusRequestEntityTooLarge, "invalid_request")
		r := do(t, ts, "POST", "/api/v1/auth/token", `{"email":"a","password":"b"}`, "Content-Type", "text/plain")
		wantError(t, r, http.StatusUnsupportedMediaType, "invalid_request")
		wantNoStore(t, r)
	})

	t.Run("routing", func(t *testing.T) {
		wantError(t, do(t, ts, "GET", "/nope", nil), http.StatusNotFound, "not_found")
		r := do(t, ts, "GET", "/api/v1/auth/token", nil)
		wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
		if r.Header.Get("Allow") != "POST" {
			t.Fatalf("Allow %q", r.Header.Get("Allow"))
		}
	})

	t.Run("no secrets in logs", func(t *testing.T) {
		logs := env.Logs.String()
		for _, secret := range []string{testPassword, "Bearer ", "access_token", "refresh_token\":\""} {
			if strings.Contains(logs, secret) {
				t.Fatalf("logs contain %q", secret)
			}
		}
		var requests int
		for _, l := range env.Logs.Lines(t) {
			if l["msg"] != "http request" {
				continue
			}
			requests++
			for _, k := range []string{"method", "path", "status", "duration", "request_id", "client_ip"} {
				if _, ok := l[k]; !ok {
					t.Fatalf("access log line lacks %q: %v", k, l)
				}
			}
		}
		if requests == 0 {
			t.Fatal("no access log lines")
		}
	})
}

// issuerOf reads the iss claim without verifying (the server did).
func issuerOf(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Iss
}

func TestReadyzUnavailable(t *testing.T) {
	env := newTestEnv(t, func(_ *core.Config, o *server.Options) {
		o.Ready = func(context.Context) error { return errors.New("dial tcp 127.0.0.1:5432: connection refused") }
	})
	r := do(t, env.TS, "GET", "/readyz", nil)
	wantStatus(t, r, http.StatusServiceUnavailable)
	if strings.TrimSpace(string(r.Body)) != `{"status":"unavailable"}` || r.Header.Get("Retry-After") == "" {
		t.Fatalf("readyz %s %v", r.Body, r.Header)
	}
	if !strings.Contains(env.Logs.String(), "connection refused") {
		t.Fatal("the cause of unreadiness is not logged")
	}
}

// TestRedisDown: with the limiter gone logins fail closed with 503, never
// 500, and /me (no Redis on its path) keeps working.
func TestRedisDown(t *testing.T) {
	env := newTestEnv(t, nil)
	tr := login(t, env.TS, testUser)
	env.Redis.Stop()
	r := do(t, env.TS, "POST", "/api/v1/auth/token", map[string]string{"email": testUser, "password": testPassword})
	wantError(t, r, http.StatusServiceUnavailable, "temporarily_unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	for _, leak := range []string{"redis", "dial", "127.0.0.1", "refused"} {
		if strings.Contains(strings.ToLower(string(r.Body)), leak) {
			t.Fatalf("error body leaks %q: %s", leak, r.Body)
		}
	}
	wantStatus(t, do(t, env.TS, "GET", "/api/v1/auth/me", nil, "Authorization", bearer(tr.AccessToken)), http.StatusOK)
	wantStatus(t, do(t, env.TS, "GET", "/readyz", nil), http.StatusServiceUnavailable)
}
