package core_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/coretest"
)

// flakyMailer fails its first `fails` sends, then records.
type flakyMailer struct {
	mu    sync.Mutex
	fails int
	tries int
	sent  []core.Mail
}

func (m *flakyMailer) Send(_ context.Context, msg core.Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tries++
	if m.fails > 0 {
		m.fails--
		return errors.New("421 try again later")
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *flakyMailer) count() (tries, sent int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tries, len(m.sent)
}

// TestOutboxRetriesAndGivesUp: a failed delivery is retried later; one
// that keeps failing is given up after the last attempt and audited.
func TestOutboxRetriesAndGivesUp(t *testing.T) {
	clk := &clock{now: time.Now().UTC()}
	mailer := &flakyMailer{fails: 2}
	env := coretest.New(t, coretest.Options{Mailer: mailer, Now: clk.Now, NoMailWorker: true})
	ctx := context.Background()
	if _, err := env.Services.Users.Create(ctx, core.CreateInput{Email: "late@example.com"}, meta()); err != nil {
		t.Fatal(err)
	}
	deliver := func() {
		t.Helper()
		if _, err := env.Services.Mail.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deliver() // fails, retry in 1 s
	deliver() // not due yet
	if tries, _ := mailer.count(); tries != 1 {
		t.Fatalf("%d tries before the retry was due, want 1", tries)
	}
	clk.Advance(time.Second)
	deliver() // fails, retry in 2 s
	clk.Advance(2 * time.Second)
	deliver() // succeeds
	if tries, sent := mailer.count(); tries != 3 || sent != 1 {
		t.Fatalf("tries %d, sent %d; want 3 and 1", tries, sent)
	}
	var payloads int
	if err := env.DB.Get(&payloads, `SELECT count(*) FROM mail_outbox WHERE payload IS NOT NULL`); err != nil || payloads != 0 {
		t.Fatalf("%d payloads kept after delivery (%v)", payloads, err)
	}

	// A mail that never goes through is given up after the last attempt.
	mailer.mu.Lock()
	mailer.fails = 1000
	mailer.mu.Unlock()
	if _, err := env.Services.Users.Create(ctx, core.CreateInput{Email: "never@example.com"}, meta()); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		deliver()
		clk.Advance(16 * time.Minute)
	}
	var failed int
	if err := env.DB.Get(&failed, `SELECT count(*) FROM mail_outbox WHERE failed_at IS NOT NULL AND payload IS NULL AND attempts = 12`); err != nil || failed != 1 {
		t.Fatalf("%d mails given up after 12 attempts (%v), want 1", failed, err)
	}
	var audited int
	if err := env.DB.Get(&audited, `SELECT count(*) FROM user_login_events WHERE event = 'mail_failure' AND subject_email = 'never@example.com'`); err != nil || audited != 1 {
		t.Fatalf("%d mail_failure rows (%v), want 1", audited, err)
	}
}

// TestOutboxSurvivesRestartAndSendsOnce: mail queued by a process that
// stopped before sending is delivered by another; several workers at once
// send each mail exactly once.
func TestOutboxSurvivesRestartAndSendsOnce(t *testing.T) {
	mailer := &flakyMailer{}
	env := coretest.New(t, coretest.Options{Mailer: mailer, NoMailWorker: true})
	ctx := context.Background()
	for i := range 30 {
		if _, err := env.Services.Users.Create(ctx, core.CreateInput{Email: "queued" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"}, meta()); err != nil {
			t.Fatal(err)
		}
	}
	// Another process (a second core on the same store) picks the queue
	// up; three workers race for it.
	var wg sync.WaitGroup
	for range 3 {
		svcs, err := core.New(env.Config, env.Deps)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := svcs.Mail.Flush(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, sent := mailer.count(); sent != 30 {
		t.Fatalf("%d mails sent, want 30, each once", sent)
	}
	seen := map[string]bool{}
	for _, m := range mailer.sent {
		if seen[m.To] {
			t.Errorf("%s got two mails", m.To)
		}
		seen[m.To] = true
	}
}
