package core_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

func TestLoginIssuesVerifiableTokens(t *testing.T) {
	h := newHarness(t)
	u := h.user("alice@example.com", "admin")
	resp, err := h.login("  Alice@Example.COM ", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if resp.TokenType != "Bearer" || resp.ExpiresIn != 900 || resp.RefreshToken == "" || resp.KID != h.svcs.Keys.ActiveKID() {
		t.Fatalf("unexpected response %+v", resp)
	}
	if resp.RefreshExpiresIn <= 0 || resp.PasswordChangeRequired {
		t.Fatalf("unexpected refresh fields %+v", resp)
	}
	if _, err := time.Parse(time.RFC3339, resp.IssuedAt); err != nil {
		t.Fatalf("issued_at %q: %v", resp.IssuedAt, err)
	}
	p, err := h.svcs.Auth.Authenticate(context.Background(), resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.User.ID.String() != u.ID || p.Claims.TenantID != u.TenantID || strings.Join(p.Claims.Roles, ",") != "admin" {
		t.Fatalf("principal %+v does not match user %+v", p.Claims, u)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'login_success' AND subject_id = $1`, u.ID); n != 1 {
		t.Fatalf("login_success rows = %d", n)
	}
	if n := h.count(`SELECT count(*) FROM users WHERE last_login_at IS NOT NULL AND id = $1`, u.ID); n != 1 {
		t.Fatal("last_login_at not recorded")
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("active@example.com")
	h.user("disabled@example.com")
	if _, err := h.svcs.Users.Disable(ctx, "", "disabled@example.com", meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svcs.Users.Create(ctx, core.CreateInput{Email: "pending@example.com"}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svcs.Tenants.Create(ctx, "other", "", meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svcs.Users.Create(ctx, core.CreateInput{Tenant: "other", Email: "t@example.com", Password: testPassword}, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svcs.Tenants.Disable(ctx, "other", meta()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, tenant, email, password, reason string
	}{
		{"wrong password", "", "active@example.com", "wrong password here", core.ReasonBadPassword},
		{"unknown email", "", "nobody@example.com", testPassword, core.ReasonUnknownEmail},
		{"disabled user", "", "disabled@example.com", testPassword, core.ReasonDisabled},
		{"pending user", "", "pending@example.com", testPassword, core.ReasonPending},
		{"disabled tenant", "other", "t@example.com", testPassword, core.ReasonTenantDisabled},
		{"unknown tenant", "nope", "t@example.com", testPassword, core.ReasonUnknownEmail},
	}
	var first string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svcs.Auth.Login(ctx, core.LoginInput{Tenant: tc.tenant, Email: tc.email, Password: tc.password}, meta())
			wantCode(t, err, core.EDENIED)
			msg := core.ErrorMessage(err)
			if first == "" {
				first = msg
			}
			if msg != first {
				t.Fatalf("message %q differs from %q", msg, first)
			}
			n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'login_failure' AND reason = $1 AND subject_email = $2`, tc.reason, tc.email)
			if n != 1 {
				t.Fatalf("audit rows with reason %s = %d", tc.reason, n)
			}
		})
	}
}

func TestLoginInputValidation(t *testing.T) {
	h := newHarness(t)
	for _, in := range []core.LoginInput{
		{Email: "", Password: "x"},
		{Email: "a@b.c", Password: ""},
		{Email: "a@b.c", Password: strings.Repeat("x", 1025)},
	} {
		_, err := h.svcs.Auth.Login(context.Background(), in, meta())
		wantCode(t, err, core.EINVALID)
	}
}

func TestLockoutEscalatesAndSurvivesRedisFlush(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.MaxAttempts = 3 })
	ctx := context.Background()
	u := h.user("bob@example.com")
	for i := 0; i < 3; i++ {
		_, err := h.login("bob@example.com", "not the password!")
		wantCode(t, err, core.EDENIED)
	}
	_, err := h.login("BOB@example.com", testPassword)
	wantCode(t, err, core.ETHROTTLED)
	if d := core.RetryAfter(err); d < 14*time.Minute || d > 15*time.Minute {
		t.Fatalf("Retry-After %v, want about 15m", d)
	}
	// The failures came from one source: that source is locked out of the
	// account (durably too), not the account itself.
	if n := h.count(`SELECT count(*) FROM login_source_locks WHERE user_id = $1 AND locked_until > $2`, u.ID, h.clock.Now()); n != 1 {
		t.Fatal("lock not persisted in postgres")
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'account_locked' AND subject_id = $1`, u.ID); n != 1 {
		t.Fatalf("account_locked rows = %d", n)
	}

	// A Redis restart loses every counter and lock; the durable copy holds.
	h.redis.Stop()
	h.redis.Start()
	_, err = h.login("bob@example.com", testPassword)
	wantCode(t, err, core.ETHROTTLED)

	// Unlock clears both copies; the second lock is longer (escalation).
	if _, err := h.svcs.Users.Unlock(ctx, "", "bob@example.com", meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.login("bob@example.com", testPassword); err != nil {
		t.Fatalf("login after unlock: %v", err)
	}
}

func TestLockoutCountsConcurrentAttemptsExactly(t *testing.T) {
	h := newHarness(t)
	h.user("carol@example.com")
	var wg sync.WaitGroup
	codes := make(chan core.Code, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.login("carol@example.com", "definitely wrong pw")
			codes <- core.ErrorCode(err)
		}()
	}
	wg.Wait()
	close(codes)
	counts := map[core.Code]int{}
	for c := range codes {
		counts[c]++
	}
	verified := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'login_failure' AND reason = 'bad_password'`)
	if verified < 1 || verified > 5 || counts[core.EDENIED] != verified || counts[core.ETHROTTLED] != 40-verified {
		t.Fatalf("%d verifications for 40 concurrent attempts, limit 5 (%v)", verified, counts)
	}
	// The right password, past the limit, doesn't get through.
	_, err := h.login("carol@example.com", testPassword)
	wantCode(t, err, core.ETHROTTLED)
}

func TestLockEscalationIsCapped(t *testing.T) {
	h := newHarness(t, func(c *core.Config) {
		c.MaxAttempts = 1
		// Long enough that a login under a loaded CI machine still lands
		// inside the lock; Redis locks run on real time.
		c.LockDuration = 600 * time.Millisecond
		c.LockMaxDuration = 1500 * time.Millisecond
	})
	u := h.user("dave@example.com")
	want := []time.Duration{600 * time.Millisecond, 1200 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond}
	for i, d := range want {
		_, err := h.login("dave@example.com", "wrong wrong wrong")
		wantCode(t, err, core.EDENIED)
		var until time.Time
		if err := h.db.Get(&until, `SELECT locked_until FROM login_source_locks WHERE user_id = $1`, u.ID); err != nil {
			t.Fatal(err)
		}
		if got := until.Sub(h.clock.Now()).Round(time.Millisecond); got != d {
			t.Fatalf("lock %d lasts %v, want %v", i+1, got, d)
		}
		_, err = h.login("dave@example.com", testPassword)
		wantCode(t, err, core.ETHROTTLED)
		// Let the lock end, in Redis (real time) and in Postgres (our clock).
		time.Sleep(d + 50*time.Millisecond)
		h.clock.Advance(d + time.Millisecond)
	}
	if _, err := h.login("dave@example.com", testPassword); err != nil {
		t.Fatalf("login after the last lock ended: %v", err)
	}
}

func TestUnknownEmailsAreThrottledLikeRealOnes(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.MaxAttempts = 2 })
	for _, email := range []string{"real@example.com", "ghost@example.com"} {
		if email == "real@example.com" {
			h.user(email)
		}
		for i := 0; i < 2; i++ {
			_, err := h.login(email, "wrong wrong wrong")
			wantCode(t, err, core.EDENIED)
		}
		_, err := h.login(email, "wrong wrong wrong")
		wantCode(t, err, core.ETHROTTLED)
	}
}

func TestRedisDownFailsClosed(t *testing.T) {
	h := newHarness(t)
	h.user("erin@example.com")
	h.redis.Stop()
	_, err := h.login("erin@example.com", testPassword)
	wantCode(t, err, core.EUNAVAILABLE)
	if n := h.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Fatalf("a session was created with Redis down")
	}
	h.redis.Start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = h.login("erin@example.com", testPassword)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no recovery after Redis restart: %v", err)
	}
}

func TestIPRateLimit(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.IPPerMinute = 3 })
	h.user("frank@example.com")
	for i := 0; i < 3; i++ {
		if _, err := h.login("frank@example.com", testPassword); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.login("frank@example.com", testPassword)
	wantCode(t, err, core.ETHROTTLED)
	if core.RetryAfter(err) <= 0 {
		t.Fatal("no Retry-After")
	}
}

// gateHasher holds the first Verify until released, so a test can fill the
// hashing slots deterministically.
type gateHasher struct {
	core.Credentials
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gateHasher) Verify(encoded, pw string) bool {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.Credentials.Verify(encoded, pw)
}

// TestHashingIsBounded: with every hashing slot taken, a login waits at
// most security.max_concurrent_hashes' queue time and gets a 503, nothing
// verified; once the slot is free logins go through again.
func TestHashingIsBounded(t *testing.T) {
	h := newHarness(t, func(c *core.Config) {
		c.MaxConcurrentHashes = 1
		c.HashQueueWait = 20 * time.Millisecond
	})
	h.user("gina@example.com")
	gate := &gateHasher{Credentials: h.deps.Hasher, entered: make(chan struct{}), release: make(chan struct{})}
	deps := h.deps
	deps.Hasher = gate
	svcs, err := core.New(h.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := svcs.Keys.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	login := func() error {
		_, err := svcs.Auth.Login(context.Background(), core.LoginInput{Email: "gina@example.com", Password: testPassword}, meta())
		return err
	}
	first := make(chan error, 1)
	go func() { first <- login() }()
	<-gate.entered // the one slot is taken
	for range 5 {
		wantCode(t, login(), core.EUNAVAILABLE)
	}
	close(gate.release)
	if err := <-first; err != nil {
		t.Fatalf("the login holding the slot: %v", err)
	}
	if err := login(); err != nil {
		t.Fatalf("login once the slot is free: %v", err)
	}
}

func TestCostUpgradeOnLogin(t *testing.T) {
	h := newHarness(t)
	u := h.user("hank@example.com")
	// The user was hashed at cost 4; a server configured with cost 5
	// upgrades the hash at the next successful login.
	upgraded := h.withCost(5)
	if _, err := upgraded.Auth.Login(context.Background(), core.LoginInput{Email: "hank@example.com", Password: testPassword}, meta()); err != nil {
		t.Fatal(err)
	}
	var hash string
	if err := h.db.Get(&hash, `SELECT password_hash FROM users WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2a$05$") && !strings.HasPrefix(hash, "$2b$05$") {
		t.Fatalf("hash not upgraded to cost 5: %s", hash[:7])
	}
}

func TestPostgresDownGives503(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("pg@example.com")
	r := h.mustLogin("pg@example.com")
	p, err := h.svcs.Auth.Authenticate(ctx, r.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	h.db.Close()
	calls := map[string]func() error{
		"login":      func() error { _, err := h.login("pg@example.com", testPassword); return err },
		"refresh":    func() error { _, err := h.refresh(r.RefreshToken); return err },
		"me":         func() error { _, err := h.svcs.Auth.Authenticate(ctx, r.AccessToken); return err },
		"logout":     func() error { return h.svcs.Sessions.Logout(ctx, r.RefreshToken, meta()) },
		"logout all": func() error { return h.svcs.Sessions.LogoutAll(ctx, p, meta()) },
		"change":     func() error { return h.svcs.Users.ChangePassword(ctx, p, testPassword, "a new passphrase!", meta()) },
		"reset":      func() error { return h.svcs.Resets.Initiate(ctx, "", "pg@example.com", meta()) },
		"complete":   func() error { return h.svcs.Resets.Complete(ctx, "tok", "a new passphrase!", meta()) },
		"register": func() error {
			_, err := h.svcs.Users.Create(ctx, core.CreateInput{Email: "n@example.com"}, meta())
			return err
		},
		"seed": func() error {
			_, err := h.svcs.Users.Seed(ctx, core.SeedInput{Tenant: "", Email: "s@example.com", Rotate: false}, meta())
			return err
		},
		"disable":    func() error { _, err := h.svcs.Users.Disable(ctx, "", "pg@example.com", meta()); return err },
		"unlock":     func() error { _, err := h.svcs.Users.Unlock(ctx, "", "pg@example.com", meta()); return err },
		"list":       func() error { _, err := h.svcs.Users.List(ctx, ""); return err },
		"tenants":    func() error { _, err := h.svcs.Tenants.List(ctx); return err },
		"tenant new": func() error { _, err := h.svcs.Tenants.Create(ctx, "x", "", meta()); return err },
		"tenant off": func() error { _, err := h.svcs.Tenants.Disable(ctx, "x", meta()); return err },
		"ensure":     func() error { _, err := h.svcs.Tenants.Ensure(ctx, "x", meta()); return err },
		"keys":       func() error { _, err := h.svcs.Keys.List(ctx); return err },
		"rotate": func() error {
			_, err := h.svcs.Keys.Rotate(ctx, core.RotateOptions{Emergency: false, Force: true}, meta())
			return err
		},
		"keys ensure": func() error { return h.svcs.Keys.Ensure(ctx, meta()) },
		"keys load":   func() error { return h.svcs.Keys.Load(ctx) },
		"audit":       func() error { _, err := h.svcs.Audit.List(ctx, core.AuditQuery{}); return err },
		"revoke user": func() error { _, err := h.svcs.Sessions.RevokeUser(ctx, "", "pg@example.com", meta()); return err },
		"revoke all":  func() error { _, err := h.svcs.Sessions.RevokeTenant(ctx, "default", meta()); return err },
		"revoke sid": func() error {
			_, err := h.svcs.Sessions.RevokeSessionID(ctx, p.Session.ID.String(), meta())
			return err
		},
		"audit tenant": func() error { _, err := h.svcs.Audit.List(ctx, core.AuditQuery{Tenant: "default"}); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if err == nil {
				t.Fatal("succeeded with the database closed")
			}
			if code := core.ErrorCode(err); code == core.EDENIED || code == core.EUNAUTHORIZED {
				t.Fatalf("database failure reported as %s: the client would be told its credentials are wrong", code)
			}
		})
	}
	// The signing keys stay in memory: JWKS still answers.
	if _, _, err := h.svcs.Keys.JWKS(); err != nil {
		t.Fatal(err)
	}
}
