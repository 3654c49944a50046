package core_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// recorder is an Observer that writes down what it is told.
type recorder struct {
	mu     sync.Mutex
	events []string
	waits  []time.Duration
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) Login(outcome, reason string)   { r.add("login %s %s", outcome, reason) }
func (r *recorder) Lockout(scope string)           { r.add("lockout %s", scope) }
func (r *recorder) Refresh(outcome, reason string) { r.add("refresh %s %s", outcome, reason) }
func (r *recorder) KeysLoaded(rotated bool, err error) {
	r.add("keys rotated=%t err=%t", rotated, err != nil)
}
func (r *recorder) JanitorRun(rep core.PruneReport, err error) {
	r.add("janitor skipped=%t err=%t", rep.Skipped, err != nil)
}
func (r *recorder) HashSlot(wait time.Duration, outcome string) {
	r.mu.Lock()
	r.waits = append(r.waits, wait)
	r.mu.Unlock()
	r.add("hash %s", outcome)
}

// take returns what was recorded since the last call, leaving out the
// hashing slots unless hashes is set (every login takes one).
func (r *recorder) take(hashes bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if hashes || !slices.Contains([]string{"hash acquired"}, e) {
			out = append(out, e)
		}
	}
	r.events = nil
	return out
}

// observed builds a second core on h's store and Redis that tells rec.
func observed(t *testing.T, h *harness, rec *recorder, hasher core.Credentials) *core.Services {
	t.Helper()
	deps := h.deps
	deps.Observer = rec
	if hasher != nil {
		deps.Hasher = hasher
	}
	svcs, err := core.New(h.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := svcs.Keys.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.take(true)
	return svcs
}

// TestObserverLogins: every way a password check ends reaches the
// observer once, with its outcome and the audit log's reason, and a lock
// is told with its scope.
func TestObserverLogins(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.MaxAttempts = 3 })
	h.user("olga@example.com")
	disabled := h.user("dora@example.com")
	if _, err := h.svcs.Users.Disable(context.Background(), "", disabled.Email, meta()); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	svcs := observed(t, h, rec, nil)
	login := func(email, pw string) {
		_, _ = svcs.Auth.Login(context.Background(), core.LoginInput{Email: email, Password: pw}, meta())
	}
	steps := []struct {
		name  string
		do    func()
		wants []string
	}{
		{"success", func() { login("olga@example.com", testPassword) }, []string{"login success "}},
		{"unknown email", func() { login("nobody@example.com", testPassword) }, []string{"login failure unknown_email"}},
		{"disabled", func() { login("dora@example.com", testPassword) }, []string{"login failure disabled"}},
		{"not an email", func() { login("not an email", testPassword) }, []string{"login failure invalid_request"}},
		{"no password", func() { login("olga@example.com", "") }, []string{"login failure invalid_request"}},
		{"wrong password", func() { login("olga@example.com", "wrong") }, []string{"login failure bad_password"}},
		{"second wrong password", func() { login("olga@example.com", "wrong") }, []string{"login failure bad_password"}},
		{"third wrong password locks the source", func() { login("olga@example.com", "wrong") },
			[]string{"lockout source", "login failure bad_password"}},
		{"locked", func() { login("olga@example.com", testPassword) }, []string{"login failure locked"}},
	}
	for _, s := range steps {
		s.do()
		if got := rec.take(false); !slices.Equal(got, s.wants) {
			t.Errorf("%s: observed %q, want %q", s.name, got, s.wants)
		}
	}
}

// TestObserverRefreshes: a rotation, a replay inside the grace window, a
// reuse after it, and refusals are each told once.
func TestObserverRefreshes(t *testing.T) {
	h := newHarness(t)
	h.user("rita@example.com")
	rec := &recorder{}
	svcs := observed(t, h, rec, nil)
	ctx := context.Background()
	first, err := svcs.Auth.Login(ctx, core.LoginInput{Email: "rita@example.com", Password: testPassword}, meta())
	if err != nil {
		t.Fatal(err)
	}
	rec.take(false)
	refresh := func(raw string) func() {
		return func() { _, _ = svcs.Sessions.Refresh(ctx, raw, meta()) }
	}
	steps := []struct {
		name  string
		do    func()
		wants []string
	}{
		{"rotation", refresh(first.RefreshToken), []string{"refresh rotated "}},
		{"replay in the grace window", refresh(first.RefreshToken), []string{"refresh replayed "}},
		{"reuse after it", func() {
			h.clock.Advance(h.cfg.RefreshGrace + time.Second)
			refresh(first.RefreshToken)()
		}, []string{"refresh reuse_detected "}},
		{"the family is revoked", refresh(first.RefreshToken), []string{"refresh refused session_revoked"}},
		{"unknown token", refresh("no-such-token"), []string{"refresh refused unknown_token"}},
		{"no token", refresh(""), []string{"refresh refused invalid_request"}},
	}
	for _, s := range steps {
		s.do()
		if got := rec.take(false); !slices.Equal(got, s.wants) {
			t.Errorf("%s: observed %q, want %q", s.name, got, s.wants)
		}
	}
}

// TestObserverHashSlots: a login that finds every slot taken waits, is
// told busy with its wait, and its check is told as an error.
func TestObserverHashSlots(t *testing.T) {
	h := newHarness(t, func(c *core.Config) {
		c.MaxConcurrentHashes = 1
		c.HashQueueWait = 20 * time.Millisecond
	})
	h.user("hana@example.com")
	gate := &gateHasher{Credentials: h.deps.Hasher, entered: make(chan struct{}), release: make(chan struct{})}
	rec := &recorder{}
	svcs := observed(t, h, rec, gate)
	login := func() error {
		_, err := svcs.Auth.Login(context.Background(), core.LoginInput{Email: "hana@example.com", Password: testPassword}, meta())
		return err
	}
	first := make(chan error, 1)
	go func() { first <- login() }()
	<-gate.entered
	if inUse, size := svcs.Auth.HashSlots(); inUse != 1 || size != 1 {
		t.Errorf("HashSlots() = %d, %d; want 1, 1", inUse, size)
	}
	wantCode(t, login(), core.EUNAVAILABLE)
	close(gate.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	got := rec.take(true)
	want := []string{"hash acquired", "hash busy", "login error unavailable", "login success "}
	if !slices.Equal(got, want) {
		t.Fatalf("observed %q, want %q", got, want)
	}
	if rec.waits[0] != 0 || rec.waits[1] < 20*time.Millisecond {
		t.Fatalf("waits %v: want 0 for the free slot and at least the queue wait for the busy one", rec.waits)
	}
	if inUse, _ := svcs.Auth.HashSlots(); inUse != 0 {
		t.Fatalf("%d slots still taken", inUse)
	}
}

// TestObserverKeysAndJanitor: a load is told, a rotation as rotated, with
// the key status following; a janitor run is told, a dry run is not.
func TestObserverKeysAndJanitor(t *testing.T) {
	h := newHarness(t)
	rec := &recorder{}
	svcs := observed(t, h, rec, nil)
	ctx := context.Background()
	before := svcs.Keys.Status()
	if !before.Loaded || before.ActiveKID == "" || before.Published != 4 || before.ActiveSince.IsZero() {
		t.Fatalf("status before rotation: %+v", before)
	}
	if err := svcs.Keys.Load(ctx); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	res, err := svcs.Keys.Rotate(ctx, core.RotateOptions{Force: true}, meta())
	if err != nil {
		t.Fatal(err)
	}
	after := svcs.Keys.Status()
	if after.ActiveKID != res.Active || !after.ActiveSince.Equal(h.clock.Now().UTC().Truncate(time.Microsecond)) || after.Published != 6 {
		t.Fatalf("status after rotation: %+v (rotation %+v)", after, res)
	}
	if _, err := svcs.Maintenance.Prune(ctx, core.PruneOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Maintenance.Prune(ctx, core.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"keys rotated=false err=false", "keys rotated=true err=false", "janitor skipped=false err=false"}
	if got := rec.take(false); !slices.Equal(got, want) {
		t.Fatalf("observed %q, want %q", got, want)
	}
	var never core.Keys
	if (&never).Status().Loaded {
		t.Fatal("a key set never loaded reports loaded")
	}
}
