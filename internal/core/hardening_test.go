package core_test

// Core-level tests for findings of the independent review
// (docs/security/auth-threat-model.md, "Review findings").

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/coretest"
	"github.com/idp-dev/idp/internal/core/password"
)

// blockingMailer blocks every Send until release is closed.
type blockingMailer struct {
	release chan struct{}
	mu      sync.Mutex
	sent    []core.Mail
}

func (m *blockingMailer) Send(ctx context.Context, msg core.Mail) error {
	select {
	case <-m.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

// TestResetInitiateDoesNotWaitForMail: a reset request answers while the
// mail server hangs, and the mail still goes out afterwards (finding 6).
func TestResetInitiateDoesNotWaitForMail(t *testing.T) {
	mailer := &blockingMailer{release: make(chan struct{})}
	env := coretest.New(t, coretest.Options{Mailer: mailer})
	ctx := context.Background()
	if _, err := env.Services.Users.Create(ctx, core.CreateInput{Email: "slow@example.com", Password: testPassword}, meta()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- env.Services.Resets.Initiate(ctx, "", "slow@example.com", meta()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(mailer.release)
		t.Fatal("reset initiate waited for the mail server")
	}
	close(mailer.release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mailer.mu.Lock()
		n := len(mailer.sent)
		mailer.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails delivered, want 1", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countingHasher counts the padding a login asks for.
type countingHasher struct {
	core.Credentials
	pads atomic.Int32
}

func (c *countingHasher) Pad(encoded, pw string) {
	c.pads.Add(1)
	c.Credentials.Pad(encoded, pw)
}

// TestWrongPasswordOnCheaperHashIsPadded: a wrong password for an account
// hashed at a lower cost than configured costs one configured-cost
// comparison too, like an unknown email (finding 8).
func TestWrongPasswordOnCheaperHashIsPadded(t *testing.T) {
	h := newHarness(t)
	h.user("cheap@example.com") // hashed at cost 4
	strong, err := password.NewHasher(h.pepper, 6)
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingHasher{Credentials: strong}
	deps := h.deps
	deps.Hasher = counting
	svcs, err := core.New(h.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := svcs.Keys.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = svcs.Auth.Login(context.Background(), core.LoginInput{Email: "cheap@example.com", Password: "wrong password, quite long"}, meta())
	wantCode(t, err, core.EDENIED)
	if n := counting.pads.Load(); n != 1 {
		t.Errorf("the failed comparison with a cheaper hash was padded %d times, want once", n)
	}
}

// TestRefreshRacingRevocation: a refresh that runs while a revocation's
// transaction is open must not mint a token once the revocation commits
// (finding 9).
func TestRefreshRacingRevocation(t *testing.T) {
	h := newHarness(t)
	h.user("racer@example.com")
	tr := h.mustLogin("racer@example.com")
	ctx := context.Background()

	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = now(), revoked_reason = 'test'
		WHERE user_id = (SELECT id FROM users WHERE email = 'racer@example.com')`); err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() {
		_, err := h.svcs.Sessions.Refresh(ctx, tr.RefreshToken, meta())
		result <- err
	}()
	// Wait until the refresh is blocked on the revocation's row lock (or
	// has already finished, which the assertion below then judges).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if h.count(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`) > 0 {
			break
		}
		select {
		case err := <-result:
			result <- err
			deadline = time.Now()
		default:
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	err = <-result
	if err == nil {
		t.Fatal("a refresh racing a committed revocation minted a token")
	}
	wantCode(t, err, core.EDENIED)
	if _, err := h.svcs.Sessions.Refresh(ctx, tr.RefreshToken, meta()); !errors.Is(err, err) || core.ErrorCode(err) != core.EDENIED {
		t.Errorf("retry: %v, want invalid_grant", err)
	}
}
