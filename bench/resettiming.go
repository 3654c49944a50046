package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/postgres"
)

// Reset-timing accounts: each class gets enough that 300 requests stay
// under the 5-per-account-per-hour reset limit.
const (
	resetUsers   = 60
	smtpDelay    = 50 * time.Millisecond // what the review's SMTP server took
	resetClasses = 4
)

func resetEmail(class string, i int) string {
	return fmt.Sprintf("reset-%s-%02d@bench.example", class, i)
}

// seedResetUsers adds the active, disabled and pending accounts the
// reset-timing scenario asks for.
func seedResetUsers(ctx context.Context, store *postgres.Store, tenant core.Tenant, hash string) error {
	for _, class := range []struct {
		name   string
		status core.UserStatus
		hash   string
	}{{"active", core.UserActive, hash}, {"disabled", core.UserDisabled, hash}, {"pending", core.UserPending, ""}} {
		for i := range resetUsers {
			u := &core.User{TenantID: tenant.ID, Email: resetEmail(class.name, i), PasswordHash: class.hash, Status: class.status}
			if err := store.CreateUser(ctx, u); err != nil {
				return fmt.Errorf("create user %s: %w", u.Email, err)
			}
		}
	}
	return nil
}

// resetTiming checks that reset-initiate reveals no account by its timing
// (issue 9, finding 6): with the SMTP driver against a sink that takes 50
// ms per mail, the medians of interleaved requests for existing, unknown,
// disabled and pending emails must lie within 1 ms.
func (b *bench) resetTiming(logPath string) error {
	sink, err := startSMTPSink(smtpDelay)
	if err != nil {
		return err
	}
	defer sink.close()
	s, err := startServer(b.ctx, b.env, map[string]string{
		"IDP_MAIL_DRIVER":        "smtp",
		"IDP_MAIL_SMTP_HOST":     "127.0.0.1",
		"IDP_MAIL_SMTP_PORT":     strconv.Itoa(sink.port()),
		"IDP_MAIL_SMTP_FROM":     "idp@bench.example",
		"IDP_MAIL_SMTP_STARTTLS": "false",
	}, logPath)
	if err != nil {
		return err
	}
	defer s.stop()
	b.srv = s
	c := newClient(1)
	defer c.CloseIdleConnections()
	url := b.url("/api/v1/auth/password/reset/initiate")
	classes := []struct {
		name  string
		email func(i int) string
	}{
		{"existing", func(i int) string { return resetEmail("active", i%resetUsers) }},
		{"unknown", func(i int) string { return "nobody-reset-" + strconv.Itoa(i) + "@bench.example" }},
		{"disabled", func(i int) string { return resetEmail("disabled", i%resetUsers) }},
		{"pending", func(i int) string { return resetEmail("pending", i%resetUsers) }},
	}
	perClass := b.plan.resetPerClass
	lat := make([][]time.Duration, len(classes))
	unexpected := 0
	r := rand.New(rand.NewPCG(9, 9))
	const warmup = 10
	for i := range warmup + perClass {
		for _, k := range r.Perm(len(classes)) {
			body := []byte(`{"email":"` + classes[k].email(i) + `"}`)
			t0 := time.Now()
			st, err := call(b.ctx, c, http.MethodPost, url, body, nil, nil)
			d := time.Since(t0)
			if i < warmup {
				continue
			}
			if err != nil || st != http.StatusAccepted {
				unexpected++
			}
			lat[k] = append(lat[k], d)
		}
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
	}
	sc := "reset-initiate timing (SMTP, 50 ms per mail)"
	var medians []float64
	for k, cl := range classes {
		m := msOf(percentile(lat[k], 0.5))
		medians = append(medians, m)
		b.add(figure{Scenario: sc, Name: fmt.Sprintf("median reset request, %s email (n=%d)", cl.name, len(lat[k])), Unit: "ms", Value: newStat([]float64{m})})
	}
	diff := slices.Max(medians) - slices.Min(medians)
	// Give the outbox worker time to deliver what the requests queued.
	time.Sleep(2 * time.Second)
	b.logf("reset timing: medians %v ms, largest difference %.3f ms, %d mails reached the sink, %d unexpected answers", medians, diff, sink.mails.Load(), unexpected)
	b.add(figure{Scenario: sc, Name: "largest difference between class medians", Unit: "ms", Value: newStat([]float64{diff}), Target: valueBelow(1)})
	b.add(figure{Scenario: sc, Name: "mails delivered by the outbox worker", Unit: "", Value: newStat([]float64{float64(sink.mails.Load())}),
		Note: "existing accounts get a reset link, pending ones their invite at most once an hour"})
	b.add(figure{Scenario: sc, Name: "answers other than 202", Unit: "", Value: newStat([]float64{float64(unexpected)}), Target: valueIs(0)})
	return nil
}
