package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

func (h *harness) refresh(raw string) (core.TokenResponse, error) {
	return h.svcs.Sessions.Refresh(context.Background(), raw, meta())
}

func TestRefreshRotationGraceAndReuse(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("ann@example.com")
	r0 := h.mustLogin("ann@example.com")

	chain := []core.TokenResponse{r0}
	for i := 0; i < 3; i++ {
		next, err := h.refresh(chain[len(chain)-1].RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		chain = append(chain, next)
		h.clock.Advance(time.Second)
	}
	r1, r2, r3 := chain[1], chain[2], chain[3]

	// R1 and R2 again inside the grace window (rotated 2s and 1s ago): the
	// very same pairs as the first answers.
	same1, err := h.refresh(r1.RefreshToken)
	if err != nil || same1 != r2 {
		t.Fatalf("replay of R1 inside grace: %v, same pair %v", err, same1 == r2)
	}
	same, err := h.refresh(r2.RefreshToken)
	if err != nil {
		t.Fatalf("replay inside grace: %v", err)
	}
	if same != r3 {
		t.Fatalf("replay inside grace returned %+v, want the first answer %+v", same, r3)
	}

	// R1 after the grace window is reuse: the whole family dies.
	h.clock.Advance(time.Minute)
	_, err = h.refresh(r1.RefreshToken)
	wantCode(t, err, core.EDENIED)
	_, err = h.refresh(r3.RefreshToken)
	wantCode(t, err, core.EDENIED)
	if _, err := h.svcs.Auth.Authenticate(ctx, r3.AccessToken); core.ErrorCode(err) != core.EUNAUTHORIZED {
		t.Fatalf("access token of a revoked session still works: %v", err)
	}
	if n := h.count(`SELECT count(*) FROM sessions WHERE revoked_at IS NULL`); n != 0 {
		t.Fatalf("%d live sessions after reuse", n)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'refresh_reuse_detected'`); n != 1 {
		t.Fatalf("reuse events = %d, want 1", n)
	}
	if n := h.count(`SELECT count(*) FROM refresh_tokens`); n != 4 {
		t.Fatalf("refresh tokens = %d, want 4 (one per rotation, none for replays)", n)
	}
}

func TestConcurrentRefreshYieldsOneChild(t *testing.T) {
	h := newHarness(t)
	h.user("ben@example.com")
	r0 := h.mustLogin("ben@example.com")
	const n = 50
	var wg sync.WaitGroup
	results := make([]core.TokenResponse, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i], errs[i] = h.refresh(r0.RefreshToken)
		}(i)
	}
	close(start)
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if results[i] != results[0] {
			t.Fatalf("caller %d got a different pair", i)
		}
	}
	if c := h.count(`SELECT count(*) FROM refresh_tokens WHERE parent_id IS NOT NULL`); c != 1 {
		t.Fatalf("children in database = %d, want 1", c)
	}
}

func TestSessionLifetimes(t *testing.T) {
	h := newHarness(t, func(c *core.Config) {
		c.RefreshTTL = 10 * time.Hour
		c.RefreshIdleTTL = 4 * time.Hour
	})
	h.user("cat@example.com")

	// Idle: unused for longer than the idle TTL.
	idle := h.mustLogin("cat@example.com")
	h.clock.Advance(4*time.Hour + time.Second)
	_, err := h.refresh(idle.RefreshToken)
	wantCode(t, err, core.EDENIED)

	// Absolute: used often, but rotation never moves the absolute end.
	abs := h.mustLogin("cat@example.com")
	cur := abs.RefreshToken
	for i := 0; i < 3; i++ {
		h.clock.Advance(3 * time.Hour)
		next, err := h.refresh(cur)
		if err != nil {
			t.Fatalf("refresh at %dh: %v", 3*(i+1), err)
		}
		if next.RefreshExpiresIn > int64((10*time.Hour-time.Duration(3*(i+1))*time.Hour)/time.Second) {
			t.Fatalf("refresh_expires_in %d extends past the absolute end", next.RefreshExpiresIn)
		}
		cur = next.RefreshToken
	}
	h.clock.Advance(time.Hour + time.Second) // 10h + 1s after login
	_, err = h.refresh(cur)
	wantCode(t, err, core.EDENIED)
}

func TestRefreshRereadsRolesAndStatus(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.user("dan@example.com", "reader")
	r0 := h.mustLogin("dan@example.com")
	if _, err := h.db.Exec(`UPDATE users SET roles = '{reader,writer}' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	r1, err := h.refresh(r0.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.svcs.Auth.Authenticate(ctx, r1.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Claims.Roles) != 2 {
		t.Fatalf("roles after refresh = %v", p.Claims.Roles)
	}
}

func TestRevocationsEndOnlyTheAffectedSessions(t *testing.T) {
	type setup struct {
		victim, bystander core.TokenResponse
	}
	cases := []struct {
		name   string
		revoke func(h *harness, s setup) error
	}{
		{"users disable", func(h *harness, _ setup) error {
			_, err := h.svcs.Users.Disable(context.Background(), "victims", "victim@example.com", meta())
			return err
		}},
		{"tokens revoke --email", func(h *harness, _ setup) error {
			_, err := h.svcs.Sessions.RevokeUser(context.Background(), "victims", "victim@example.com", meta())
			return err
		}},
		{"tokens revoke --session", func(h *harness, s setup) error {
			p, err := h.svcs.Auth.Authenticate(context.Background(), s.victim.AccessToken)
			if err != nil {
				return err
			}
			_, err = h.svcs.Sessions.RevokeSessionID(context.Background(), p.Session.ID.String(), meta())
			return err
		}},
		{"tokens revoke --tenant --all", func(h *harness, _ setup) error {
			_, err := h.svcs.Sessions.RevokeTenant(context.Background(), "victims", meta())
			return err
		}},
		{"tenants disable", func(h *harness, _ setup) error {
			_, err := h.svcs.Tenants.Disable(context.Background(), "victims", meta())
			return err
		}},
		{"logout", func(h *harness, s setup) error {
			return h.svcs.Sessions.Logout(context.Background(), s.victim.RefreshToken, meta())
		}},
		{"logout all", func(h *harness, s setup) error {
			p, err := h.svcs.Auth.Authenticate(context.Background(), s.victim.AccessToken)
			if err != nil {
				return err
			}
			return h.svcs.Sessions.LogoutAll(context.Background(), p, meta())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			if _, err := h.svcs.Tenants.Create(ctx, "victims", "", meta()); err != nil {
				t.Fatal(err)
			}
			for _, in := range []core.CreateInput{
				{Tenant: "victims", Email: "victim@example.com", Password: testPassword},
				{Email: "bystander@example.com", Password: testPassword},
			} {
				if _, err := h.svcs.Users.Create(ctx, in, meta()); err != nil {
					t.Fatal(err)
				}
			}
			victim, err := h.svcs.Auth.Login(ctx, core.LoginInput{Tenant: "victims", Email: "victim@example.com", Password: testPassword}, meta())
			if err != nil {
				t.Fatal(err)
			}
			s := setup{victim: victim, bystander: h.mustLogin("bystander@example.com")}
			if err := tc.revoke(h, s); err != nil {
				t.Fatal(err)
			}
			_, err = h.refresh(s.victim.RefreshToken)
			wantCode(t, err, core.EDENIED)
			_, err = h.svcs.Auth.Authenticate(ctx, s.victim.AccessToken)
			wantCode(t, err, core.EUNAUTHORIZED)
			if _, err := h.svcs.Auth.Authenticate(ctx, s.bystander.AccessToken); err != nil {
				t.Fatalf("bystander's access token: %v", err)
			}
			if _, err := h.refresh(s.bystander.RefreshToken); err != nil {
				t.Fatalf("bystander's refresh: %v", err)
			}
		})
	}
}

func TestLogoutIsIdempotent(t *testing.T) {
	h := newHarness(t)
	h.user("eve@example.com")
	r := h.mustLogin("eve@example.com")
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := h.svcs.Sessions.Logout(ctx, r.RefreshToken, meta()); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.svcs.Sessions.Logout(ctx, "unknown-token", meta()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, h.svcs.Sessions.Logout(ctx, "", meta()), core.EINVALID)
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'logout'`); n != 1 {
		t.Fatalf("logout events = %d, want 1", n)
	}
}

func TestRefreshInputErrors(t *testing.T) {
	h := newHarness(t)
	_, err := h.refresh("")
	wantCode(t, err, core.EINVALID)
	_, err = h.refresh("no-such-token")
	wantCode(t, err, core.EDENIED)
	_, err = h.svcs.Sessions.RevokeSessionID(context.Background(), "not-a-uuid", meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Sessions.RevokeSessionID(context.Background(), "6f1c1f0e-8c8e-4b4e-9a59-3f0f5b1b0a11", meta())
	wantCode(t, err, core.ENOTFOUND)
	_, err = h.svcs.Sessions.RevokeUser(context.Background(), "", "nobody@example.com", meta())
	wantCode(t, err, core.ENOTFOUND)
	_, err = h.svcs.Sessions.RevokeTenant(context.Background(), "nope", meta())
	wantCode(t, err, core.ENOTFOUND)
}
