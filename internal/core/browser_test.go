package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
)

func (h *harness) signIn(email string, remember bool, current string) core.BrowserSignIn {
	h.t.Helper()
	res, err := h.svcs.Browser.SignIn(context.Background(), core.BrowserSignInInput{
		LoginInput: core.LoginInput{Email: email, Password: testPassword}, Remember: remember, Current: current}, meta())
	if err != nil {
		h.t.Fatalf("browser sign-in %s: %v", email, err)
	}
	return res
}

func TestBrowserSessionLifetimes(t *testing.T) {
	h := newHarness(t, func(c *core.Config) {
		c.BrowserSessionTTL, c.BrowserIdleTTL, c.BrowserRememberTTL = 12*time.Hour, 30*time.Minute, 720*time.Hour
	})
	ctx := context.Background()
	h.user("browse@example.com")

	res := h.signIn("browse@example.com", false, "")
	if res.CookieMaxAge != 0 || len(res.Cookie) < 43 || res.DeviceToken == "" {
		t.Fatalf("sign-in: %+v", res)
	}
	if n := h.count(`SELECT count(*) FROM browser_sessions WHERE token_hash = sha256($1::bytea)`, []byte(res.Cookie)); n != 1 {
		t.Fatal("the session is not stored by the cookie's SHA-256")
	}
	if n := h.count(`SELECT count(*) FROM browser_sessions WHERE position($1::bytea in token_hash) > 0`, []byte(res.Cookie)); n != 0 {
		t.Fatal("the cookie itself is stored")
	}
	// Use moves the idle end; half an hour without use ends the session.
	h.clock.Advance(20 * time.Minute)
	if _, err := h.svcs.Browser.Resolve(ctx, res.Cookie); err != nil {
		t.Fatalf("resolve after 20 min: %v", err)
	}
	h.clock.Advance(20 * time.Minute)
	if _, err := h.svcs.Browser.Resolve(ctx, res.Cookie); err != nil {
		t.Fatalf("resolve 20 min after the last use: %v", err)
	}
	h.clock.Advance(31 * time.Minute)
	_, err := h.svcs.Browser.Resolve(ctx, res.Cookie)
	wantCode(t, err, core.EUNAUTHORIZED)

	// The absolute end holds whatever the use.
	res = h.signIn("browse@example.com", false, "")
	for range 25 {
		h.clock.Advance(29 * time.Minute)
		if _, err := h.svcs.Browser.Resolve(ctx, res.Cookie); err != nil {
			break
		}
	}
	_, err = h.svcs.Browser.Resolve(ctx, res.Cookie)
	wantCode(t, err, core.EUNAUTHORIZED)

	// Keep me signed in: a persistent cookie, days away are fine.
	kept := h.signIn("browse@example.com", true, "")
	if kept.CookieMaxAge != 720*time.Hour {
		t.Fatalf("remembered cookie lasts %s", kept.CookieMaxAge)
	}
	h.clock.Advance(7 * 24 * time.Hour)
	if _, err := h.svcs.Browser.Resolve(ctx, kept.Cookie); err != nil {
		t.Fatalf("remembered session after a week: %v", err)
	}

	// A new sign-in replaces the browser's session (no fixation).
	again := h.signIn("browse@example.com", true, kept.Cookie)
	if again.Cookie == kept.Cookie {
		t.Fatal("the cookie value survived a sign-in")
	}
	_, err = h.svcs.Browser.Resolve(ctx, kept.Cookie)
	wantCode(t, err, core.EUNAUTHORIZED)

	// Malformed cookies are just "signed out".
	for _, c := range []string{"", "x", strings.Repeat("a", 500)} {
		_, err := h.svcs.Browser.Resolve(ctx, c)
		wantCode(t, err, core.EUNAUTHORIZED)
	}
}

func TestBrowserSessionsAreRevokedWithTheRest(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.user("many@example.com")
	other := h.user("other@example.com")
	resolve := func(c string) error { _, err := h.svcs.Browser.Resolve(ctx, c); return err }

	// Disable, enable.
	b := h.signIn("many@example.com", false, "")
	if _, err := h.svcs.Users.Disable(ctx, "", "many@example.com", meta()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, resolve(b.Cookie), core.EUNAUTHORIZED)
	if _, err := h.svcs.Users.Enable(ctx, "", "many@example.com", meta()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, resolve(b.Cookie), core.EUNAUTHORIZED) // revoked, not merely hidden

	// idp tokens revoke --email and --session (a browser session's id).
	b = h.signIn("many@example.com", false, "")
	if res, err := h.svcs.Sessions.RevokeUser(ctx, "", "many@example.com", meta()); err != nil || res.Revoked != 1 {
		t.Fatalf("revoke by email: %+v %v", res, err)
	}
	wantCode(t, resolve(b.Cookie), core.EUNAUTHORIZED)
	b = h.signIn("many@example.com", false, "")
	p, err := h.svcs.Browser.Resolve(ctx, b.Cookie)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.svcs.Sessions.RevokeSessionID(ctx, p.Session.ID.String(), meta()); err != nil || res.Revoked != 1 {
		t.Fatalf("revoke by browser session id: %+v %v", res, err)
	}
	wantCode(t, resolve(b.Cookie), core.EUNAUTHORIZED)

	// A password change from the browser keeps that browser and ends the
	// rest; the API session goes too.
	b = h.signIn("many@example.com", false, "")
	b2 := h.signIn("many@example.com", false, "")
	api := h.mustLogin("many@example.com")
	p, err = h.svcs.Browser.Resolve(ctx, b.Cookie)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svcs.Users.ChangePassword(ctx, p.Principal(), testPassword, "a changed passphrase", meta()); err != nil {
		t.Fatal(err)
	}
	if err := resolve(b.Cookie); err != nil {
		t.Fatalf("the browser that changed the password was signed out: %v", err)
	}
	wantCode(t, resolve(b2.Cookie), core.EUNAUTHORIZED)
	_, err = h.refresh(api.RefreshToken)
	wantCode(t, err, core.EDENIED)

	// Tenant disable ends every browser of the tenant.
	o := h.signIn("other@example.com", false, "")
	if _, err := h.svcs.Tenants.Disable(ctx, "default", meta()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, resolve(o.Cookie), core.EUNAUTHORIZED)
	_, _ = u, other
}

func TestBrowserSignOutAndOwnSessions(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("owner@example.com")
	h.user("stranger@example.com")
	b := h.signIn("owner@example.com", false, "")
	p, err := h.svcs.Browser.Resolve(ctx, b.Cookie)
	if err != nil {
		t.Fatal(err)
	}
	// An app session started from this browser (as the code flow will).
	api := h.mustLogin("owner@example.com")
	if _, err := h.db.Exec(`UPDATE sessions SET browser_session_id = $1 WHERE user_id = $2`, p.Session.ID, p.User.ID); err != nil {
		t.Fatal(err)
	}
	list, err := h.svcs.Browser.Sessions(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var current, apps int
	for _, s := range list {
		if s.Current {
			current++
		}
		if !s.Browser {
			apps++
		}
	}
	if len(list) != 2 || current != 1 || apps != 1 {
		t.Fatalf("sessions %+v", list)
	}

	// Someone else's session is "not found", a malformed id invalid.
	s := h.signIn("stranger@example.com", false, "")
	sp, _ := h.svcs.Browser.Resolve(ctx, s.Cookie)
	wantCode(t, h.svcs.Browser.RevokeOwn(ctx, p, sp.Session.ID.String(), meta()), core.ENOTFOUND)
	wantCode(t, h.svcs.Browser.RevokeOwn(ctx, p, uuid.NewString(), meta()), core.ENOTFOUND)
	wantCode(t, h.svcs.Browser.RevokeOwn(ctx, p, "nope", meta()), core.EINVALID)
	if _, err := h.svcs.Browser.Resolve(ctx, s.Cookie); err != nil {
		t.Fatalf("the stranger's session was touched: %v", err)
	}

	// Sign-out ends the browser and the app session it started.
	if err := h.svcs.Browser.SignOut(ctx, p, meta()); err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Browser.Resolve(ctx, b.Cookie)
	wantCode(t, err, core.EUNAUTHORIZED)
	_, err = h.refresh(api.RefreshToken)
	wantCode(t, err, core.EDENIED)

	// Sign out everywhere ends every session of the user, this one too.
	b1, b2 := h.signIn("owner@example.com", false, ""), h.signIn("owner@example.com", true, "")
	api = h.mustLogin("owner@example.com")
	p1, _ := h.svcs.Browser.Resolve(ctx, b1.Cookie)
	if res, err := h.svcs.Browser.SignOutEverywhere(ctx, p1, meta()); err != nil || res.Revoked != 3 {
		t.Fatalf("sign out everywhere: %+v %v", res, err)
	}
	for _, c := range []string{b1.Cookie, b2.Cookie} {
		_, err := h.svcs.Browser.Resolve(ctx, c)
		wantCode(t, err, core.EUNAUTHORIZED)
	}
	_, err = h.refresh(api.RefreshToken)
	wantCode(t, err, core.EDENIED)
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'logout' AND reason IN ('browser', 'all')`); n != 2 {
		t.Errorf("%d logout rows, want 2", n)
	}
}

func TestCheckReturnTo(t *testing.T) {
	for _, tc := range []struct {
		target string
		ok     bool
	}{
		{"", true}, {"/account", true}, {"/oauth2/authorize?client_id=a&state=b", true}, {"/a/b?c=%2F%2Fx", true},
		{"https://evil.example", false}, {"//evil.example", false}, {"/\\evil.example", false}, {"\\\\evil", false},
		{"javascript:alert(1)", false}, {"evil", false}, {"/a\r\nLocation: x", false}, {"/a\x00", false},
		{"/a\u202e", false}, {"http:/evil", false}, {"/" + strings.Repeat("a", 9000), false},
	} {
		_, err := core.CheckReturnTo(tc.target)
		if (err == nil) != tc.ok {
			t.Errorf("CheckReturnTo(%q) = %v, want ok=%v", tc.target, err, tc.ok)
		}
	}
}

func TestLoginFlows(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	b := h.svcs.Browser
	if _, err := h.svcs.Tenants.Create(ctx, "acme", "Acme Corp", meta()); err != nil {
		t.Fatal(err)
	}
	flow, tenant, err := b.Flow(ctx, "acme", "/account", "Alice@Example.com")
	if err != nil || tenant.Name != "Acme Corp" || flow.LoginHint != "alice@example.com" {
		t.Fatalf("flow %+v %+v %v", flow, tenant, err)
	}
	if f, _, _ := b.Flow(ctx, "", "", "not an email"); f.LoginHint != "" || f.Tenant != "default" {
		t.Fatalf("a bad hint is dropped and the default tenant used: %+v", f)
	}
	_, _, err = b.Flow(ctx, "nowhere", "", "")
	wantCode(t, err, core.ENOTFOUND)
	_, _, err = b.Flow(ctx, "Bad Slug", "", "")
	wantCode(t, err, core.EINVALID)
	_, _, err = b.Flow(ctx, "acme", "https://evil.example", "")
	wantCode(t, err, core.EINVALID)
	if _, err := h.svcs.Tenants.Disable(ctx, "acme", meta()); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Flow(ctx, "acme", "", "")
	wantCode(t, err, core.EFORBIDDEN)

	const binding = "binding-of-this-browser"
	enc := b.EncodeFlow(flow, binding)
	got, err := b.DecodeFlow(enc, binding)
	if err != nil || got.Tenant != "acme" || got.ReturnTo != "/account" {
		t.Fatalf("decode: %+v %v", got, err)
	}
	for name, s := range map[string]string{
		"another browser": enc, "altered": strings.Replace(enc, enc[:4], "AAAA", 1), "no signature": enc[:strings.IndexByte(enc, '.')],
		"empty": "",
	} {
		bind := binding
		if name == "another browser" {
			bind = "someone else"
		}
		if _, err := b.DecodeFlow(s, bind); err != core.ErrFlowExpired {
			t.Errorf("%s: %v, want ErrFlowExpired", name, err)
		}
	}
	h.clock.Advance(61 * time.Minute)
	if _, err := b.DecodeFlow(enc, binding); err != core.ErrFlowExpired {
		t.Errorf("an hour-old flow: %v", err)
	}
	tok := b.FormToken(binding, "session-1")
	if !b.CheckFormToken(tok, binding, "session-1") || b.CheckFormToken(tok, binding, "session-2") ||
		b.CheckFormToken(tok, "", "session-1") || b.CheckFormToken(tok, "other", "session-1") {
		t.Error("form tokens are not bound to browser and session")
	}
}
