package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// Sample is one state of one page with made-up data: what the preview
// shows and what the tests render in every language.
type Sample struct {
	Name   string // "login-error"
	Page   string
	Status int
	View   View
}

// Samples are every page in the states a person meets: empty, with errors,
// done. Times are relative to now.
func Samples(now time.Time) []Sample {
	user := &UserBadge{Email: "ada@example.com", DisplayName: "Ada Lovelace"}
	tenant := &TenantView{Slug: "acme", Name: "Acme Corporation"}
	errMsg := func(id string, args ...any) *Message { return &Message{ID: id, Args: args, Kind: "error"} }
	login := LoginPage{Flow: "f-sample", ForgotURL: "/password/forgot?tenant=acme"}
	change := PasswordChangePage{Flow: "f-sample", MinLength: 12}
	forced := change
	forced.Forced = true
	reset := ResetPage{Token: "sample-token-not-real", MinLength: 12, LoginURL: "/login"}
	account := AccountPage{
		Email: "ada@example.com", DisplayName: "Ada Lovelace", TenantName: "Acme Corporation",
		Roles: []string{"admin", "billing"}, EmailVerified: true, CreatedAt: now.AddDate(-1, -2, 0),
		Sessions: []SessionRow{
			{ID: "0b8c3c8e-1d34-4e0b-9a51-3f1f6a3c1a01", Kind: "browser", Device: "Firefox on Linux", IP: "203.0.113.24", Created: now.Add(-3 * time.Hour), LastUsed: now.Add(-20 * time.Second), Current: true},
			{ID: "5d1f2a7b-6a0e-4f55-8c0e-2b7f9e3d4c02", Kind: "browser", Device: "Safari on iOS", IP: "198.51.100.7", Created: now.Add(-50 * time.Hour), LastUsed: now.Add(-5 * time.Minute)},
			{ID: "9e4a6b1c-3f2d-4a8e-b7c6-1d0e5f4a3b03", Kind: "app", ClientID: "pUdSSWbiwpzMnQi0JWnRSg", IP: "2001:db8:85a3::8a2e:370:7334", Created: now.AddDate(0, 0, -9), LastUsed: now.Add(-26 * time.Hour)},
			{ID: "c7d8e9f0-a1b2-4c3d-8e5f-6a7b8c9d0e04", Kind: "browser", IP: "192.0.2.55", Created: now.AddDate(0, -2, 0), LastUsed: now.AddDate(0, 0, -40)},
		},
	}
	withApps := account
	withApps.Apps = []AppRow{
		{ClientID: "wiki", Name: "Team Wiki", Scopes: []string{"openid", "profile", "email"}, Granted: now.AddDate(0, -1, -3)},
		{ClientID: "ci", Name: "Build server", Scopes: []string{"openid", "roles", "offline_access", "deploy:write"}, Granted: now.AddDate(0, 0, -2)},
	}
	return append([]Sample{
		{"login", PageLogin, 200, View{Tenant: tenant, Data: login}},
		{"login-error", PageLogin, 400, View{Alert: errMsg("login.error.invalid"), Form: map[string]string{"email": "ada@example.com", "remember": "on"}, Data: login}},
		{"login-fields", PageLogin, 400, View{Fields: map[string]Message{"email": {ID: "field.required"}, "password": {ID: "field.required"}}, Data: login}},
		{"login-signed-out", PageLogin, 200, View{Alert: &Message{ID: "login.signed_out", Kind: "info"}, Data: LoginPage{Flow: "f", SignedOut: true}}},
		{"login-locked", PageLogin, 429, View{Alert: errMsg("error.too_many"), Form: map[string]string{"email": "ada@example.com"}, Data: login}},
		{"login-expired", PageLogin, 400, View{Alert: errMsg("error.form_expired"), Form: map[string]string{"email": "ada@example.com"}, Data: login}},
		{"password_change-forced", PagePasswordChange, 200, View{User: user, Alert: &Message{ID: "password_change.forced", Kind: "info"}, Data: forced}},
		{"password_change", PagePasswordChange, 200, View{User: user, Data: change}},
		{"password_change-errors", PagePasswordChange, 400, View{User: user, Fields: map[string]Message{"new_password": {ID: "field.password.common"}, "confirm_password": {ID: "field.password.mismatch"}}, Data: change}},
		{"password_forgot", PageForgot, 200, View{Data: ForgotPage{Flow: "f-sample", LoginURL: "/login"}}},
		{"password_forgot-sent", PageForgot, 200, View{Alert: &Message{ID: "password_forgot.sent", Kind: "success"}, Data: ForgotPage{Sent: true, LoginURL: "/login"}}},
		{"password_reset", PageReset, 200, View{Data: reset}},
		{"password_reset-error", PageReset, 400, View{Alert: errMsg("password_reset.bad_link"), Data: reset}},
		{"password_reset-weak", PageReset, 400, View{Fields: map[string]Message{"new_password": {ID: "field.password.min_length", Args: []any{12}}}, Data: reset}},
		{"password_reset-done", PageReset, 200, View{Alert: &Message{ID: "password_reset.done", Kind: "success"}, Data: ResetPage{Done: true}}},
		{"password_reset-missing", PageReset, 400, View{Alert: errMsg("password_reset.missing"), Data: ResetPage{Missing: true}}},
		{"account", PageAccount, 200, View{User: user, Data: account}},
		{"account-apps", PageAccount, 200, View{User: user, Alert: &Message{ID: "account.session_revoked", Kind: "success"}, Data: withApps}},
		{"logout", PageLogout, 200, View{User: user, Data: LogoutPage{Action: "/logout"}}},
		{"logout-app", PageLogout, 200, View{User: user, Data: LogoutPage{Action: "/oauth2/logout", Request: "r-sample", ClientName: "Team Wiki"}}},
		{"error-bad-client", PageError, 400, View{TitleID: "error.bad_request.title", Alert: errMsg("error.bad_client"), Data: ErrorPage{Status: 400, RequestID: "req-4e5f6a"}}},
		{"consent", PageConsent, 200, View{User: user, Data: ConsentPage{Request: "r-sample", ClientName: "Team Wiki", Scopes: []string{"openid", "profile", "email", "offline_access"}}}},
		{"message", PageMessage, 200, View{TitleID: "signed_out.title", Data: MessagePage{BodyID: "login.signed_out", LinkURL: "/login", LinkLabel: "link.sign_in"}}},
		{"error-unavailable", PageError, 503, View{TitleID: "error.unavailable.title", Alert: errMsg("error.unavailable"), Data: ErrorPage{Status: 503, RetryAfter: 5, RequestID: "req-7f3a9c", BackURL: "/login"}}},
		{"error-not-found", PageError, 404, View{TitleID: "error.not_found.title", Alert: errMsg("error.not_found"), Data: ErrorPage{Status: 404, BackURL: "/account"}}},
		{"error-cross-site", PageError, 403, View{TitleID: "error.forbidden.title", Alert: errMsg("error.cross_site"), Data: ErrorPage{Status: 403, RequestID: "req-1b2c3d"}}},
	}, adminSamples(now)...)
}

// Preview serves every Sample at /preview/NAME and an index of them at
// /preview/, with the static files under /static/: for looking at the
// pages, and at an operator's ui.templates_dir, without signing in. The
// forms post to the real paths; the preview is not for a public listener.
func (r *Renderer) Preview() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", r.Static())
	mux.HandleFunc("GET /preview/{$}", func(w http.ResponseWriter, req *http.Request) {
		var b strings.Builder
		b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Page preview</title></head><body><main><h1>Page preview</h1><ul>`)
		for _, s := range Samples(r.opts.Now()) {
			name := template.HTMLEscapeString(s.Name)
			fmt.Fprintf(&b, `<li><a href="/preview/%s">%s</a> (<a href="/preview/%s?ui_locales=de">de</a>)</li>`, name, name, name)
		}
		b.WriteString(`</ul></main></body></html>`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		setPageHeaders(w.Header())
		_, _ = w.Write([]byte(b.String()))
	})
	mux.HandleFunc("GET /preview/{name}", func(w http.ResponseWriter, req *http.Request) {
		for _, s := range Samples(r.opts.Now()) {
			if s.Name == req.PathValue("name") {
				v := s.View
				v.CSRF = "preview-csrf"
				if err := r.Render(w, req, s.Status, s.Page, v); err != nil {
					r.log.Error("web: preview", "sample", s.Name, "err", err)
				}
				return
			}
		}
		http.NotFound(w, req)
	})
	return mux
}
