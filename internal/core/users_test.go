package core_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

func TestSeedOneTimeAdmin(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	seed, err := h.svcs.Users.Seed(ctx, core.SeedInput{Tenant: "acme", Email: "root@acme.io", Rotate: false}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if len(seed.Password) < 12 || seed.Tenant != "acme" || seed.ExpiresAt.Sub(h.clock.Now().Add(24*time.Hour)).Abs() > time.Millisecond {
		t.Fatalf("unexpected seed result %+v", seed)
	}
	if n := h.count(`SELECT count(*) FROM users WHERE password_hash LIKE '%' || $1 || '%'`, seed.Password); n != 0 {
		t.Fatal("one-time password stored in plaintext")
	}
	_, err = h.svcs.Users.Seed(ctx, core.SeedInput{Tenant: "acme", Email: "other@acme.io", Rotate: false}, meta())
	wantCode(t, err, core.ECONFLICT)

	resp, err := h.svcs.Auth.Login(ctx, core.LoginInput{Tenant: "acme", Email: "root@acme.io", Password: seed.Password}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if !resp.PasswordChangeRequired {
		t.Fatal("password_change_required not set")
	}
	p, err := h.svcs.Auth.Authenticate(ctx, resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Users.Register(ctx, p, core.RegisterInput{Email: "new@acme.io"}, meta())
	wantCode(t, err, core.EFORBIDDEN)

	// Change makes the account normal.
	if err := h.svcs.Users.ChangePassword(ctx, p, seed.Password, "a brand new passphrase", meta()); err != nil {
		t.Fatal(err)
	}
	resp, err = h.svcs.Auth.Login(ctx, core.LoginInput{Tenant: "acme", Email: "root@acme.io", Password: "a brand new passphrase"}, meta())
	if err != nil || resp.PasswordChangeRequired {
		t.Fatalf("after change: %v %+v", err, resp)
	}

	// Rotate: new one-time password, sessions revoked; it expires.
	rot, err := h.svcs.Users.Seed(ctx, core.SeedInput{Tenant: "acme", Email: "root@acme.io", Rotate: true}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if rot.Password == seed.Password || rot.Email != "root@acme.io" {
		t.Fatalf("rotate result %+v", rot)
	}
	_, err = h.refresh(resp.RefreshToken)
	wantCode(t, err, core.EDENIED)
	h.clock.Advance(24*time.Hour + time.Second)
	_, err = h.svcs.Auth.Login(ctx, core.LoginInput{Tenant: "acme", Email: "root@acme.io", Password: rot.Password}, meta())
	wantCode(t, err, core.EDENIED)
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE reason = 'password_expired'`); n != 1 {
		t.Fatalf("password_expired events = %d", n)
	}
	_, err = h.svcs.Users.Seed(ctx, core.SeedInput{Tenant: "fresh", Email: "x@fresh.io", Rotate: true}, meta())
	wantCode(t, err, core.ENOTFOUND)
	_, err = h.svcs.Users.Seed(ctx, core.SeedInput{Tenant: "Bad Slug", Email: "x@fresh.io", Rotate: false}, meta())
	wantCode(t, err, core.EINVALID)
}

func TestRegisterRules(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.svcs.Tenants.Create(ctx, "b", "Tenant B", meta()); err != nil {
		t.Fatal(err)
	}
	h.user("admin@example.com", "admin", "billing")
	h.user("plain@example.com")
	admin, err := h.svcs.Auth.Authenticate(ctx, h.mustLogin("admin@example.com").AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := h.svcs.Auth.Authenticate(ctx, h.mustLogin("plain@example.com").AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		p      core.Principal
		in     core.RegisterInput
		code   core.Code
		reason string
	}{
		{"other tenant", admin, core.RegisterInput{Tenant: "b", Email: "x@example.com"}, core.EFORBIDDEN, "other_tenant"},
		{"role not in the catalogue", admin, core.RegisterInput{Email: "x@example.com", Roles: []string{"billing", "superuser"}}, core.EINVALID, "role_not_in_catalogue"},
		{"not admin", plain, core.RegisterInput{Email: "x@example.com"}, core.EFORBIDDEN, "not_admin"},
		{"weak password", admin, core.RegisterInput{Email: "x@example.com", Password: "password"}, core.EWEAKPASSWORD, ""},
		{"bad email", admin, core.RegisterInput{Email: "not an email"}, core.EINVALID, ""},
		{"bad role", admin, core.RegisterInput{Email: "x@example.com", Roles: []string{"Bad Role"}}, core.EINVALID, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svcs.Users.Register(ctx, tc.p, tc.in, meta())
			wantCode(t, err, tc.code)
			if tc.reason != "" {
				if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'register' AND outcome = 'failure' AND reason = $1`, tc.reason); n != 1 {
					t.Fatalf("denial %s audited %d times", tc.reason, n)
				}
			}
		})
	}
	v, err := h.svcs.Users.Register(ctx, admin, core.RegisterInput{Email: "New@Example.com", Roles: []string{"billing"}, DisplayName: "New One", Password: "another fine passphrase"}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if v.Email != "new@example.com" || v.Tenant != "default" || v.Status != core.UserActive || v.DisplayName != "New One" || v.Sub != v.ID {
		t.Fatalf("registered %+v", v)
	}
	_, err = h.svcs.Users.Register(ctx, admin, core.RegisterInput{Email: "new@example.com"}, meta())
	wantCode(t, err, core.ECONFLICT)
	// Without a password: pending, with an invite mailed.
	v, err = h.svcs.Users.Register(ctx, admin, core.RegisterInput{Email: "invitee@example.com"}, meta())
	if err != nil || v.Status != core.UserPending {
		t.Fatalf("invite: %v %+v", err, v)
	}
	mails := h.mails()
	if len(mails) != 1 || mails[0].Kind != core.MailInvite || !strings.HasPrefix(mails[0].URL, "http://idp.test/password/reset?token=") {
		t.Fatalf("mails = %+v", mails)
	}
}

func TestUserAdminCommands(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("zed@example.com")
	if _, err := h.svcs.Users.Enable(ctx, "", "zed@example.com", meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svcs.Users.Create(ctx, core.CreateInput{Email: "pend@example.com"}, meta()); err != nil {
		t.Fatal(err)
	}
	_, err := h.svcs.Users.Enable(ctx, "", "pend@example.com", meta())
	wantCode(t, err, core.ECONFLICT)
	_, err = h.svcs.Users.Disable(ctx, "", "ghost@example.com", meta())
	wantCode(t, err, core.ENOTFOUND)
	if !strings.Contains(core.ErrorMessage(err), "ghost@example.com") || !strings.Contains(core.ErrorMessage(err), "default") {
		t.Fatalf("message %q should name email and tenant", core.ErrorMessage(err))
	}
	_, err = h.svcs.Users.Disable(ctx, "nope", "zed@example.com", meta())
	wantCode(t, err, core.ENOTFOUND)
	list, err := h.svcs.Users.List(ctx, "")
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %d", err, len(list))
	}
	if _, err := h.svcs.Users.List(ctx, "nope"); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("list unknown tenant: %v", err)
	}
	_, err = h.svcs.Users.Create(ctx, core.CreateInput{Tenant: "nope", Email: "a@example.com"}, meta())
	wantCode(t, err, core.ENOTFOUND)
	_, err = h.svcs.Users.Create(ctx, core.CreateInput{Email: "a@example.com", DisplayName: strings.Repeat("x", 201)}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Users.Create(ctx, core.CreateInput{Email: strings.Repeat("a", 321) + "@example.com"}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Users.Unlock(ctx, "", "ghost@example.com", meta())
	wantCode(t, err, core.ENOTFOUND)
}

func TestPasswordChange(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("pat@example.com")
	keep := h.mustLogin("pat@example.com")
	other := h.mustLogin("pat@example.com")
	p, err := h.svcs.Auth.Authenticate(ctx, keep.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.svcs.Users.ChangePassword(ctx, p, "wrong current pw", "a new passphrase!", meta()), core.EDENIED)
	wantCode(t, h.svcs.Users.ChangePassword(ctx, p, testPassword, "pat", meta()), core.EWEAKPASSWORD)
	wantCode(t, h.svcs.Users.ChangePassword(ctx, p, testPassword, "my name is pat the great", meta()), core.EWEAKPASSWORD)
	wantCode(t, h.svcs.Users.ChangePassword(ctx, p, "", "x", meta()), core.EINVALID)
	wantCode(t, h.svcs.Users.ChangePassword(ctx, p, strings.Repeat("x", 1025), "a new passphrase!", meta()), core.EINVALID)
	if err := h.svcs.Users.ChangePassword(ctx, p, testPassword, "a new passphrase!", meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.refresh(keep.RefreshToken); err != nil {
		t.Fatalf("the caller's own session must survive: %v", err)
	}
	_, err = h.refresh(other.RefreshToken)
	wantCode(t, err, core.EDENIED)
	mails := h.mails()
	if len(mails) != 1 || mails[0].Kind != core.MailPasswordChanged {
		t.Fatalf("mails %+v", mails)
	}
}

func TestPasswordReset(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.MaxAttempts = 2 })
	ctx := context.Background()
	h.user("rita@example.com")
	h.user("dis@example.com")
	if _, err := h.svcs.Users.Disable(ctx, "", "dis@example.com", meta()); err != nil {
		t.Fatal(err)
	}
	session := h.mustLogin("rita@example.com")
	for _, email := range []string{"rita@example.com", "ghost@example.com", "dis@example.com"} {
		if err := h.svcs.Resets.Initiate(ctx, "", email, meta()); err != nil {
			t.Fatalf("initiate %s: %v", email, err)
		}
	}
	wantCode(t, h.svcs.Resets.Initiate(ctx, "", "", meta()), core.EINVALID)
	mails := h.mails()
	if len(mails) != 1 || mails[0].To != "rita@example.com" {
		t.Fatalf("mails %+v", mails)
	}
	first := strings.TrimPrefix(mails[0].URL, "http://idp.test/password/reset?token=")

	// A newer request voids the older token.
	if err := h.svcs.Resets.Initiate(ctx, "", "rita@example.com", meta()); err != nil {
		t.Fatal(err)
	}
	second := strings.TrimPrefix(h.mails()[1].URL, "http://idp.test/password/reset?token=")
	wantCode(t, h.svcs.Resets.Complete(ctx, first, "a completely new one", meta()), core.EDENIED)

	// Lock the account, then complete the reset: lock cleared, sessions gone.
	for i := 0; i < 3; i++ {
		_, _ = h.login("rita@example.com", "wrong wrong wrong")
	}
	_, err := h.login("rita@example.com", testPassword)
	wantCode(t, err, core.ETHROTTLED)
	wantCode(t, h.svcs.Resets.Complete(ctx, second, "rita", meta()), core.EWEAKPASSWORD)
	wantCode(t, h.svcs.Resets.Complete(ctx, second, strings.Repeat("x", 1025), meta()), core.EINVALID)

	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h.svcs.Resets.Complete(ctx, second, "a completely new one", meta()) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d concurrent completes succeeded, want 1", ok)
	}
	_, err = h.refresh(session.RefreshToken)
	wantCode(t, err, core.EDENIED)
	if _, err := h.login("rita@example.com", "a completely new one"); err != nil {
		t.Fatalf("login after reset: %v", err)
	}

	// Expiry.
	if err := h.svcs.Resets.Initiate(ctx, "", "rita@example.com", meta()); err != nil {
		t.Fatal(err)
	}
	ms := h.mails()
	third := strings.TrimPrefix(ms[len(ms)-1].URL, "http://idp.test/password/reset?token=")
	h.clock.Advance(31 * time.Minute)
	wantCode(t, h.svcs.Resets.Complete(ctx, third, "yet another passphrase", meta()), core.EDENIED)
	wantCode(t, h.svcs.Resets.Complete(ctx, "", "x", meta()), core.EINVALID)
}

func TestPendingUserActivatesThroughInvite(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.roles("default", "reader")
	if _, err := h.svcs.Users.Create(ctx, core.CreateInput{Email: "inv@example.com", Roles: []string{"reader"}}, meta()); err != nil {
		t.Fatal(err)
	}
	link := h.mails()[0].URL
	tok := link[strings.Index(link, "token=")+len("token="):]
	if err := h.svcs.Resets.Complete(ctx, tok, "my own passphrase", meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.login("inv@example.com", "my own passphrase"); err != nil {
		t.Fatal(err)
	}
}

func TestTenants(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, slug := range []string{"", "Bad", "a_b", strings.Repeat("a", 64)} {
		_, err := h.svcs.Tenants.Create(ctx, slug, "", meta())
		wantCode(t, err, core.EINVALID)
	}
	if _, err := h.svcs.Tenants.Create(ctx, "acme", "Acme Inc", meta()); err != nil {
		t.Fatal(err)
	}
	_, err := h.svcs.Tenants.Create(ctx, "acme", "", meta())
	wantCode(t, err, core.ECONFLICT)
	_, err = h.svcs.Tenants.Create(ctx, "long", strings.Repeat("n", 201), meta())
	wantCode(t, err, core.EINVALID)
	if _, err := h.svcs.Tenants.Ensure(ctx, "acme", meta()); err != nil {
		t.Fatal(err)
	}
	list, err := h.svcs.Tenants.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list %v %v", list, err)
	}
	_, err = h.svcs.Tenants.Disable(ctx, "nope", meta())
	wantCode(t, err, core.ENOTFOUND)
	if _, err := h.svcs.Tenants.Disable(ctx, "acme", meta()); err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Users.Create(ctx, core.CreateInput{Tenant: "acme", Email: "a@acme.io"}, meta())
	wantCode(t, err, core.ECONFLICT)
}

func TestAuditListAndEscaping(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	m := meta()
	m.UserAgent = "evil\r\nfake-line: 1\x1b[31m"
	_, _ = h.svcs.Auth.Login(ctx, core.LoginInput{Email: "x@example.com", Password: "nope nope nope"}, m)
	events, err := h.svcs.Audit.List(ctx, core.AuditQuery{Email: "X@example.com"})
	if err != nil || len(events) != 1 {
		t.Fatalf("events %v %v", events, err)
	}
	if strings.ContainsAny(events[0].UserAgent, "\r\n\x1b") {
		t.Fatalf("control characters reached the audit row: %q", events[0].UserAgent)
	}
	if _, err := h.svcs.Audit.List(ctx, core.AuditQuery{Tenant: "default", Since: time.Now().Add(-time.Hour), Limit: 10}); err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Audit.List(ctx, core.AuditQuery{Tenant: "nope"})
	wantCode(t, err, core.ENOTFOUND)
	_, err = h.svcs.Audit.List(ctx, core.AuditQuery{Limit: 5000})
	wantCode(t, err, core.EINVALID)
	if _, err := h.db.Exec(`DELETE FROM user_login_events`); err == nil {
		t.Fatal("audit rows could be deleted")
	}
}
