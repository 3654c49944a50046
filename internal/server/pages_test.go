package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/idp-dev/idp/internal/core"
)

func TestHostedResetPage(t *testing.T) {
	env := newTestEnv(t, nil)
	ts := env.TS
	wantStatus(t, do(t, ts, "POST", "/api/v1/auth/password/reset/initiate", map[string]string{"email": testUser}), 202)
	m, ok := env.Mail.Last(testUser, "password_reset")
	if !ok {
		t.Fatal("no reset mail")
	}
	link, err := url.Parse(m.URL)
	if err != nil {
		t.Fatal(err)
	}
	tok := link.Query().Get("token")

	page := do(t, ts, "GET", link.Path+"?"+link.RawQuery, nil)
	wantStatus(t, page, 200)
	for name, want := range map[string]string{
		"Referrer-Policy": "no-referrer",
		"Cache-Control":   "no-store",
		"Content-Type":    "text/html; charset=utf-8",
	} {
		if got := page.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	if !strings.Contains(string(page.Body), `name="new_password"`) {
		t.Fatalf("no form in %s", page.Body)
	}
	if missing := do(t, ts, "GET", "/password/reset", nil); !strings.Contains(string(missing.Body), "no token") {
		t.Fatalf("page without token: %s", missing.Body)
	}

	form := func(values url.Values, headers ...string) response {
		h := append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)
		return do(t, ts, "POST", "/password/reset", values.Encode(), h...)
	}
	// Cross-site posts are refused before anything happens.
	cross := form(url.Values{"token": {tok}, "new_password": {"a fresh passphrase"}, "confirm_password": {"a fresh passphrase"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	wantStatus(t, cross, 403)
	cross = form(url.Values{"token": {tok}, "new_password": {"a fresh passphrase"}, "confirm_password": {"a fresh passphrase"}},
		"Origin", "https://evil.example")
	wantStatus(t, cross, 403)

	mismatch := form(url.Values{"token": {tok}, "new_password": {"a fresh passphrase"}, "confirm_password": {"another"}})
	wantStatus(t, mismatch, 400)
	if !strings.Contains(string(mismatch.Body), "differ") {
		t.Fatalf("mismatch page: %s", mismatch.Body)
	}
	weak := form(url.Values{"token": {tok}, "new_password": {"password"}, "confirm_password": {"password"}})
	wantStatus(t, weak, 400)
	if !strings.Contains(string(weak.Body), `class="error"`) {
		t.Fatalf("weak password page: %s", weak.Body)
	}
	done := form(url.Values{"token": {tok}, "new_password": {"a fresh passphrase"}, "confirm_password": {"a fresh passphrase"}},
		"Sec-Fetch-Site", "same-origin")
	wantStatus(t, done, 200)
	if !strings.Contains(string(done.Body), "Password changed") {
		t.Fatalf("done page: %s", done.Body)
	}
	again := form(url.Values{"token": {tok}, "new_password": {"a fresh passphrase"}, "confirm_password": {"a fresh passphrase"}})
	wantStatus(t, again, 400)
	if !strings.Contains(string(again.Body), "invalid, used or expired") {
		t.Fatalf("reused token page: %s", again.Body)
	}
	if _, err := env.Services.Auth.Login(context.Background(), core.LoginInput{Email: testUser, Password: "a fresh passphrase"}, core.Meta{}); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	wantStatus(t, do(t, ts, "POST", "/password/reset", "token=x", "Content-Type", "text/plain"), 415)
	// A script-looking token is escaped, never executed.
	xss := do(t, ts, "GET", "/password/reset?token="+url.QueryEscape(`"><script>alert(1)</script>`), nil)
	if strings.Contains(string(xss.Body), "<script>") {
		t.Fatal("token reflected unescaped")
	}
}
