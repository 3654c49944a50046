package web_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/coretest"
	"github.com/idp-dev/idp/internal/server"
	"github.com/idp-dev/idp/internal/web"
)

const (
	userEmail = "person@example.com"
	password  = "correct horse battery staple"
)

// mailbox keeps what the outbox worker delivers.
type mailbox struct {
	mu   sync.Mutex
	sent []core.Mail
}

func (m *mailbox) Send(_ context.Context, msg core.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

func (m *mailbox) wait(t *testing.T, to, kind string) core.Mail {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m.mu.Lock()
		for i := len(m.sent) - 1; i >= 0; i-- {
			if m.sent[i].To == to && m.sent[i].Kind == kind {
				msg := m.sent[i]
				m.mu.Unlock()
				return msg
			}
		}
		m.mu.Unlock()
	}
	t.Fatalf("no %s mail to %s", kind, to)
	return core.Mail{}
}

type pagesEnv struct {
	ts   *httptest.Server
	env  *coretest.Env
	mail *mailbox
}

// newPages serves the JSON API and the hosted pages on real PostgreSQL and
// Redis, with one active user.
func newPages(t *testing.T) *pagesEnv {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	cfg := coretest.Config()
	cfg.Issuer = issuer
	mail := &mailbox{}
	env := coretest.New(t, coretest.Options{Config: cfg, Mailer: mail})
	if _, err := env.Services.Users.Create(context.Background(), core.CreateInput{Email: userEmail, Password: password}, core.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	renderer, err := web.NewRenderer(web.RenderOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := web.New(web.Options{Browser: env.Services.Browser, Users: env.Services.Users, Resets: env.Services.Resets,
		Admin: env.Services.Admin, Roles: env.Services.Roles,
		Renderer: renderer, Issuer: issuer, Meta: server.RequestMeta, PasswordMinLength: cfg.PasswordMinLength})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Services: env.Services, Issuer: issuer, Faces: []server.Face{pages},
		Logger: slog.New(slog.DiscardHandler)})
	ts.Config = srv.HTTPServer()
	ts.Start()
	t.Cleanup(ts.Close)
	return &pagesEnv{ts: ts, env: env, mail: mail}
}

// browser is a client that behaves like one: it keeps cookies (Secure ones
// too: browsers count 127.0.0.1 as a secure origin), doesn't follow
// redirects (the tests look at them), and sends Sec-Fetch-Site.
type browser struct {
	t       *testing.T
	base    string
	cookies map[string]*http.Cookie
	client  *http.Client
}

func (e *pagesEnv) browser(t *testing.T) *browser {
	return &browser{t: t, base: e.ts.URL, cookies: map[string]*http.Cookie{}, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	*http.Response
	body string
}

func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	if resp.Header.Get("Clear-Site-Data") == `"cookies"` {
		clear(b.cookies)
	}
	return page{Response: resp, body: string(raw)}
}

func (b *browser) get(path string) page { return b.do("GET", path, nil) }

// submit fills the page's first form posting to action with its hidden
// fields plus values.
func (b *browser) submit(p page, action string, values url.Values) page {
	b.t.Helper()
	form := url.Values{}
	for name, value := range hiddenFields(b.t, p.body, action) {
		form.Set(name, value)
	}
	for k, vs := range values {
		form[k] = vs
	}
	return b.do("POST", action, form)
}

var (
	formRE   = regexp.MustCompile(`(?s)<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>`)
	hiddenRE = regexp.MustCompile(`<input[^>]*type="hidden"[^>]*>`)
	nameRE   = regexp.MustCompile(`\bname="([^"]*)"`)
	valueRE  = regexp.MustCompile(`\bvalue="([^"]*)"`)
)

func hiddenFields(t *testing.T, body, action string) map[string]string {
	t.Helper()
	for _, f := range formRE.FindAllStringSubmatch(body, -1) {
		if html.UnescapeString(f[1]) != action {
			continue
		}
		out := map[string]string{}
		for _, in := range hiddenRE.FindAllString(f[2], -1) {
			n, v := nameRE.FindStringSubmatch(in), valueRE.FindStringSubmatch(in)
			if n != nil && v != nil {
				out[n[1]] = html.UnescapeString(v[1])
			}
		}
		return out
	}
	t.Fatalf("no form posting to %s in:\n%s", action, body)
	return nil
}

func wantStatus(t *testing.T, p page, status int) {
	t.Helper()
	if p.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d\n%s", p.Request.Method, p.Request.URL, p.StatusCode, status, p.body)
	}
}

func wantRedirect(t *testing.T, p page, target string) {
	t.Helper()
	if p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != target {
		t.Fatalf("%s %s: %d to %q, want 303 to %q\n%s", p.Request.Method, p.Request.URL, p.StatusCode, p.Header.Get("Location"), target, p.body)
	}
}

func (b *browser) signIn(email, pw string, remember bool) page {
	b.t.Helper()
	login := b.get("/login")
	wantStatus(b.t, login, http.StatusOK)
	form := url.Values{"email": {email}, "password": {pw}}
	if remember {
		form.Set("remember", "on")
	}
	return b.submit(login, "/login", form)
}

func TestSignInSetsSecureCookiesAndLandsOnAccount(t *testing.T) {
	e := newPages(t)
	b := e.browser(t)
	res := b.signIn(userEmail, password, false)
	wantRedirect(t, res, "/account")
	byName := map[string]*http.Cookie{}
	for _, c := range res.Cookies() {
		byName[c.Name] = c
	}
	for _, name := range []string{"__Host-idp_session", "__Host-idp_device"} {
		c := byName[name]
		if c == nil {
			t.Fatalf("no %s cookie; got %v", name, res.Header.Values("Set-Cookie"))
		}
		if !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s attributes: %+v", name, c)
		}
	}
	if byName["__Host-idp_session"].MaxAge != 0 {
		t.Errorf("without Keep me signed in the session cookie must end with the browser: Max-Age %d", byName["__Host-idp_session"].MaxAge)
	}
	account := b.get("/account")
	wantStatus(t, account, http.StatusOK)
	if !strings.Contains(account.body, userEmail) {
		t.Fatalf("account page doesn't show the user:\n%s", account.body)
	}
	for name, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := account.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	csp := account.Header.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'none'", "script-src 'nonce-", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP %q lacks %q", csp, part)
		}
	}
	if strings.Contains(csp, "form-action") {
		t.Errorf("CSP %q has form-action, which breaks redirects back to apps", csp)
	}
	// No token in the page: the session cookie's value is nowhere in it.
	if strings.Contains(account.body, b.cookies["__Host-idp_session"].Value) {
		t.Error("the session cookie's value is in the page")
	}

	// Keep me signed in: a persistent cookie for browser.remember_ttl.
	b2 := e.browser(t)
	res = b2.signIn(userEmail, password, true)
	for _, c := range res.Cookies() {
		if c.Name == "__Host-idp_session" && c.MaxAge != int((720*time.Hour)/time.Second) {
			t.Errorf("remembered session cookie Max-Age %d, want 30 days", c.MaxAge)
		}
	}
}

func TestSignInFailuresShowOneMessage(t *testing.T) {
	e := newPages(t)
	b := e.browser(t)
	var bodies []string
	for _, tc := range []struct{ email, pw string }{
		{userEmail, "wrong password, quite long"},
		{"nobody@example.com", password},
	} {
		res := b.signIn(tc.email, tc.pw, false)
		wantStatus(t, res, http.StatusBadRequest)
		if strings.Contains(res.body, tc.pw) {
			t.Error("the page shows the password")
		}
		if !strings.Contains(res.body, `value="`+tc.email+`"`) {
			t.Errorf("the email is not kept:\n%s", res.body)
		}
		msg := regexp.MustCompile(`(?s)role="(?:alert|status)"[^>]*>(.*?)</div>`).FindStringSubmatch(res.body)
		if msg == nil {
			t.Fatalf("no alert:\n%s", res.body)
		}
		bodies = append(bodies, strings.TrimSpace(msg[1]))
	}
	if bodies[0] != bodies[1] {
		t.Errorf("wrong password says %q, unknown email %q: one message for every cause", bodies[0], bodies[1])
	}
}

func TestForcedPasswordChange(t *testing.T) {
	e := newPages(t)
	seed, err := e.env.Services.Users.Seed(context.Background(), core.SeedInput{Email: "root@example.com"}, core.Meta{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	wantRedirect(t, b.signIn(seed.Email, seed.Password, false), "/password/change")
	// Nothing else works until it is done.
	wantRedirect(t, b.get("/account"), "/password/change")
	change := b.get("/password/change")
	wantStatus(t, change, http.StatusOK)
	res := b.submit(change, "/password/change", url.Values{"current_password": {seed.Password},
		"new_password": {"a new passphrase of mine"}, "confirm_password": {"a different one entirely"}})
	wantStatus(t, res, http.StatusBadRequest)
	res = b.submit(b.get("/password/change"), "/password/change", url.Values{"current_password": {seed.Password},
		"new_password": {"a new passphrase of mine"}, "confirm_password": {"a new passphrase of mine"}})
	wantRedirect(t, res, "/account?notice=password_changed")
	wantStatus(t, b.get("/account"), http.StatusOK)
}

func TestCrossSiteAndForgedPostsAreRefused(t *testing.T) {
	e := newPages(t)
	b := e.browser(t)
	login := b.get("/login")
	fields := hiddenFields(t, login.body, "/login")
	form := url.Values{"email": {userEmail}, "password": {password}, "flow": {fields["flow"]}, "csrf": {fields["csrf"]}}
	res := b.do("POST", "/login", form, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	wantStatus(t, res, http.StatusForbidden)
	if _, ok := b.cookies["__Host-idp_session"]; ok {
		t.Fatal("a cross-site post signed the browser in")
	}
	// A same-site post with another browser's form token (login CSRF) is
	// refused as an expired form.
	other := e.browser(t)
	theirs := hiddenFields(t, other.get("/login").body, "/login")
	res = b.do("POST", "/login", url.Values{"email": {userEmail}, "password": {password}, "flow": {theirs["flow"]}, "csrf": {theirs["csrf"]}})
	wantStatus(t, res, http.StatusBadRequest)
	if _, ok := b.cookies["__Host-idp_session"]; ok {
		t.Fatal("a form made for another browser signed this one in")
	}
	if !strings.Contains(res.body, `value="`+userEmail+`"`) {
		t.Error("the expired form lost the email")
	}
}

func TestReturnToStaysOnIdp(t *testing.T) {
	e := newPages(t)
	b := e.browser(t)
	for _, target := range []string{"https://evil.example", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "evil"} {
		res := b.get("/login?" + url.Values{"return_to": {target}}.Encode())
		wantStatus(t, res, http.StatusBadRequest)
		if strings.Contains(res.body, "evil.example\"") {
			t.Errorf("%s: the page links to it", target)
		}
	}
	res := b.get("/login?return_to=%2Faccount%3Fx%3D1")
	wantStatus(t, res, http.StatusOK)
	wantRedirect(t, b.submit(res, "/login", url.Values{"email": {userEmail}, "password": {password}}), "/account?x=1")
}

func TestAccountRevokeAndSignOut(t *testing.T) {
	e := newPages(t)
	ctx := context.Background()
	api, err := e.env.Services.Auth.Login(ctx, core.LoginInput{Email: userEmail, Password: password}, core.Meta{UserAgent: "curl/8.0"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signIn(userEmail, password, false)
	account := b.get("/account")
	// Revoke the API session from the account page; its refresh fails.
	sid := regexp.MustCompile(`name="session" value="([^"]+)"`).FindStringSubmatch(account.body)
	if sid == nil {
		t.Fatalf("no session to revoke:\n%s", account.body)
	}
	wantRedirect(t, b.submit(account, "/account/sessions/revoke", url.Values{"session": {sid[1]}}), "/account?notice=session_revoked")
	if _, err := e.env.Services.Sessions.Refresh(ctx, api.RefreshToken, core.Meta{}); core.ErrorCode(err) != core.EDENIED {
		t.Fatalf("refresh of the revoked session: %v, want invalid_grant", err)
	}
	// Sign out: the session cookie is gone, the browser is told to drop
	// cached pages, and the account page sends it to sign in again. The
	// device cookie stays: it is the browser's own lockout budget.
	res := b.submit(b.get("/account"), "/logout", nil)
	wantRedirect(t, res, "/login?signed_out=1")
	if got := res.Header.Get("Clear-Site-Data"); got != `"cache", "storage"` {
		t.Errorf("Clear-Site-Data %q", got)
	}
	for _, c := range res.Cookies() {
		if c.Name == "__Host-idp_device" {
			t.Errorf("sign-out touches the device cookie: %v", c)
		}
	}
	if _, ok := b.cookies["__Host-idp_session"]; ok {
		t.Error("the session cookie survived sign-out")
	}
	if _, ok := b.cookies["__Host-idp_device"]; !ok {
		t.Error("the device cookie is gone after sign-out")
	}
	wantRedirect(t, b.get("/account"), "/login")
	// GET /logout only asks.
	b.signIn(userEmail, password, false)
	confirm := b.get("/logout")
	wantStatus(t, confirm, http.StatusOK)
	wantStatus(t, b.get("/account"), http.StatusOK)
}

func TestForgotAndResetThroughTheMail(t *testing.T) {
	e := newPages(t)
	b := e.browser(t)
	forgot := b.get("/password/forgot")
	sentKnown := b.submit(forgot, "/password/forgot", url.Values{"email": {userEmail}})
	sentUnknown := b.submit(b.get("/password/forgot"), "/password/forgot", url.Values{"email": {"nobody@example.com"}})
	wantStatus(t, sentKnown, http.StatusOK)
	wantStatus(t, sentUnknown, http.StatusOK)
	alert := regexp.MustCompile(`(?s)role="(?:alert|status)"[^>]*>(.*?)</div>`)
	if a, u := alert.FindString(sentKnown.body), alert.FindString(sentUnknown.body); a == "" || a != u {
		t.Errorf("known email: %q, unknown: %q: one answer for every email", a, u)
	}
	link, _ := url.Parse(e.mail.wait(t, userEmail, core.MailPasswordReset).URL)
	reset := b.get(link.Path + "?" + link.RawQuery)
	wantStatus(t, reset, http.StatusOK)
	if strings.Contains(reset.Header.Get("Referrer-Policy"), "no-referrer") == false {
		t.Error("the reset page sends a referrer")
	}
	done := b.submit(reset, "/password/reset", url.Values{"new_password": {"my fresh passphrase"}, "confirm_password": {"my fresh passphrase"}})
	wantStatus(t, done, http.StatusOK)
	wantRedirect(t, b.signIn(userEmail, "my fresh passphrase", false), "/account")
	// The link is single use.
	again := b.submit(reset, "/password/reset", url.Values{"new_password": {"another passphrase"}, "confirm_password": {"another passphrase"}})
	wantStatus(t, again, http.StatusBadRequest)
}

// The default tenant, unnamed, goes without a subtitle; any other tenant,
// or a default tenant with a name of its own, is named on the sign-in page.
func TestSignInNamesOnlyRealTenants(t *testing.T) {
	e := newPages(t)
	b := e.browser(t)
	if p := b.get("/login"); strings.Contains(p.body, `class="subtitle"`) {
		t.Errorf("the unnamed default tenant is named:\n%s", p.body)
	}
	if _, err := e.env.Services.Tenants.Create(context.Background(), "acme", "Acme Inc.", core.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/login?tenant=acme"); !strings.Contains(p.body, "Acme Inc.") {
		t.Errorf("acme's sign-in page doesn't name it:\n%s", p.body)
	}
}
