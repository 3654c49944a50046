package core_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/coretest"
)

// sid returns the session id of a token response (from its access token).
func (h *harness) sid(resp core.TokenResponse) uuid.UUID {
	h.t.Helper()
	p, err := h.svcs.Auth.Authenticate(context.Background(), resp.AccessToken)
	if err != nil {
		h.t.Fatalf("authenticate: %v", err)
	}
	return p.Session.ID
}

func (h *harness) tokensOf(sid uuid.UUID) int {
	return h.count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, sid)
}

func (h *harness) sessionExists(sid uuid.UUID) bool {
	return h.count(`SELECT count(*) FROM sessions WHERE id = $1`, sid) == 1
}

func (h *harness) mustRefresh(raw string) core.TokenResponse {
	h.t.Helper()
	resp, err := h.refresh(raw)
	if err != nil {
		h.t.Fatalf("refresh: %v", err)
	}
	return resp
}

func (h *harness) prune(dryRun bool) core.PruneReport {
	h.t.Helper()
	rep, err := h.svcs.Maintenance.Prune(context.Background(), core.PruneOptions{DryRun: dryRun})
	if err != nil {
		h.t.Fatalf("prune: %v", err)
	}
	return rep
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func deleted(rep core.PruneReport, table string) int64 {
	for _, c := range rep.Deleted {
		if c.Table == table {
			return c.Rows
		}
	}
	return -1
}

// TestPruneNeverTouchesLiveSessions builds every kind of session the janitor
// meets and checks that it deletes exactly the ended-long-ago ones, with all
// their tokens, and that every survivor still works as before.
func TestPruneNeverTouchesLiveSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *core.Config) { c.PruneBatch = 2 })
	ctx := context.Background()
	h.user("ann@example.com")
	retention := h.cfg.SessionRetention

	// Long gone: three sessions that reached their absolute end more than
	// the retention ago (more than one batch of 2), one with a refresh
	// chain, and one revoked long ago.
	var gone []uuid.UUID
	for i := range 3 {
		resp := h.mustLogin("ann@example.com")
		if i == 0 {
			resp = h.mustRefresh(h.mustRefresh(resp.RefreshToken).RefreshToken)
		}
		gone = append(gone, h.sid(resp))
	}
	revokedOld := h.mustLogin("ann@example.com")
	gone = append(gone, h.sid(revokedOld))
	ok(t, h.svcs.Sessions.Logout(ctx, revokedOld.RefreshToken, meta()))
	goneTokens := 0
	for _, s := range gone {
		goneTokens += h.tokensOf(s)
	}
	h.clock.Advance(h.cfg.RefreshTTL + retention + time.Hour)

	// Just expired: ended an hour ago, well inside the retention.
	justExpired := h.sid(h.mustLogin("ann@example.com"))
	h.clock.Advance(h.cfg.RefreshTTL + time.Hour)

	// Revoked a moment ago.
	revokedNow := h.mustLogin("ann@example.com")
	revokedNowID := h.sid(revokedNow)
	ok(t, h.svcs.Sessions.Logout(ctx, revokedNow.RefreshToken, meta()))

	// A live family with spent ancestors, used a minute ago (past the
	// grace window of its last rotation).
	r0 := h.mustLogin("ann@example.com")
	r1 := h.mustRefresh(r0.RefreshToken)
	r2 := h.mustRefresh(r1.RefreshToken)
	family := h.sid(r2)
	h.clock.Advance(time.Minute)

	// A session inside the grace window of its rotation right now.
	g0 := h.mustLogin("ann@example.com")
	g1 := h.mustRefresh(g0.RefreshToken)
	inGrace := h.sid(g1)

	kept := []uuid.UUID{justExpired, revokedNowID, family, inGrace}
	keptTokens := map[uuid.UUID]int{}
	for _, s := range kept {
		keptTokens[s] = h.tokensOf(s)
	}

	dry := h.prune(true)
	if got := deleted(dry, "sessions"); got != int64(len(gone)) {
		t.Fatalf("dry run counts %d sessions, want %d", got, len(gone))
	}
	if got := deleted(dry, "refresh_tokens"); got != int64(goneTokens) {
		t.Fatalf("dry run counts %d refresh tokens, want %d", got, goneTokens)
	}
	for _, s := range gone {
		if !h.sessionExists(s) {
			t.Fatal("a dry run deleted a session")
		}
	}

	rep := h.prune(false)
	if rep.Skipped || rep.DryRun {
		t.Fatalf("report %+v", rep)
	}
	if got := deleted(rep, "sessions"); got != int64(len(gone)) {
		t.Fatalf("deleted %d sessions, want %d", got, len(gone))
	}
	if got := deleted(rep, "refresh_tokens"); got != int64(goneTokens) {
		t.Fatalf("deleted %d refresh tokens, want %d", got, goneTokens)
	}
	for _, s := range gone {
		if h.sessionExists(s) || h.tokensOf(s) != 0 {
			t.Fatalf("session %s past retention survived", s)
		}
	}
	for s, n := range keptTokens {
		if !h.sessionExists(s) || h.tokensOf(s) != n {
			t.Fatalf("session %s: exists=%v tokens=%d, want %d", s, h.sessionExists(s), h.tokensOf(s), n)
		}
	}

	// The survivors behave as before: the grace window replays, the live
	// family rotates, and its spent ancestor is still recognized as reuse.
	if again := h.mustRefresh(g0.RefreshToken); again.RefreshToken != g1.RefreshToken {
		t.Fatal("grace-window replay after prune returned another pair")
	}
	h.mustRefresh(r2.RefreshToken)
	_, err := h.svcs.Sessions.Refresh(ctx, r0.RefreshToken, meta())
	wantCode(t, err, core.EDENIED)
	if s, err := h.deps.Store.SessionByID(ctx, family); err != nil || s.RevokedReason != core.ReasonReuse {
		t.Fatalf("reuse of a spent ancestor after prune: session %+v, %v; want revoked for reuse", s, err)
	}

	if again := h.prune(false); deleted(again, "sessions") != 0 || deleted(again, "refresh_tokens") != 0 {
		t.Fatalf("second prune deleted %+v", again.Deleted)
	}
}

func TestPruneResetTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.user("rita@example.com")
	h.user("sam@example.com")
	ok(t, h.svcs.Resets.Initiate(ctx, "", "rita@example.com", meta()))
	ok(t, h.svcs.Resets.Initiate(ctx, "", "rita@example.com", meta())) // voids the first
	h.clock.Advance(h.cfg.ResetTTL + time.Second)
	ok(t, h.svcs.Resets.Initiate(ctx, "", "sam@example.com", meta())) // live

	rep := h.prune(false)
	if got := deleted(rep, "reset_tokens"); got != 2 {
		t.Fatalf("deleted %d reset tokens, want 2", got)
	}
	if n := h.count(`SELECT count(*) FROM password_reset_tokens`); n != 1 {
		t.Fatalf("%d reset tokens left, want the live one", n)
	}
}

// TestPruneUnderLock: while another process holds the maintenance lock, a
// run is skipped and deletes nothing.
func TestPruneUnderLock(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	h.user("lee@example.com")
	h.mustLogin("lee@example.com")
	h.clock.Advance(h.cfg.RefreshTTL + h.cfg.SessionRetention + time.Hour)

	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	store := h.deps.Maintenance
	go func() {
		_, err := store.WithMaintenanceLock(ctx, func(context.Context) error {
			close(held)
			<-release
			return nil
		})
		done <- err
	}()
	<-held
	rep := h.prune(false)
	if !rep.Skipped || deleted(rep, "sessions") > 0 {
		t.Fatalf("prune beside a held lock: %+v", rep)
	}
	close(release)
	ok(t, <-done)
	if rep := h.prune(false); rep.Skipped || deleted(rep, "sessions") != 1 {
		t.Fatalf("prune after the lock was released: %+v", rep)
	}
}

// TestPruneAuditPartitions: whole months older than retention.audit go,
// months ahead are created, and rows that landed in the default partition
// move into their month when it is created.
func TestPruneAuditPartitions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	store := h.deps.Store
	start := h.clock.Now()
	old := core.AuditEvent{Time: start, Event: "old", Outcome: core.OutcomeSuccess}
	ok(t, store.InsertAuditEvent(ctx, &old))

	// Fifteen months on (past 400 days) plus a stray row written with a
	// time beyond every partition: it lands in the default partition.
	now := core.MonthStart(start).AddDate(0, 15, 10)
	h.clock.Advance(now.Sub(start))
	stray := core.AuditEvent{Time: now.AddDate(0, 2, 0), Event: "stray", Outcome: core.OutcomeSuccess}
	ok(t, store.InsertAuditEvent(ctx, &stray))
	if n := h.count(`SELECT count(*) FROM user_login_events_default`); n != 1 {
		t.Fatalf("default partition holds %d rows, want the stray one", n)
	}

	dry := h.prune(true)
	rep := h.prune(false)
	if !slices.EqualFunc(dry.PartitionsDropped, rep.PartitionsDropped, func(a, b core.AuditPartition) bool { return a.Name == b.Name && a.Rows == b.Rows }) {
		t.Fatalf("dry run would drop %+v, the run dropped %+v", dry.PartitionsDropped, rep.PartitionsDropped)
	}
	cutoff := now.Add(-h.cfg.AuditRetention)
	var dropped int64
	for _, p := range rep.PartitionsDropped {
		if p.To.After(cutoff) {
			t.Fatalf("dropped %s, which ends after the retention cutoff %s", p.Name, cutoff)
		}
		dropped += p.Rows
	}
	if len(rep.PartitionsDropped) == 0 || dropped < 1 {
		t.Fatalf("dropped %+v, want the month of the old row", rep.PartitionsDropped)
	}
	parts, err := h.deps.Maintenance.AuditPartitions(ctx)
	ok(t, err)
	have := map[string]bool{}
	for _, p := range parts {
		have[p.Name] = true
		if !p.To.After(cutoff) {
			t.Fatalf("partition %s older than the retention survived", p.Name)
		}
	}
	for i := 0; i <= core.DefaultAuditMonthsAhead; i++ {
		if name := core.AuditPartitionName(core.MonthStart(now).AddDate(0, i, 0)); !have[name] {
			t.Fatalf("partition %s (month %d ahead) missing; have %v", name, i, parts)
		}
	}
	if n := h.count(`SELECT count(*) FROM user_login_events_default`); n != 0 {
		t.Fatalf("default partition still holds %d rows", n)
	}
	events, err := store.ListAuditEvents(ctx, core.AuditFilter{Limit: 1000})
	ok(t, err)
	var names []string
	for _, e := range events {
		names = append(names, e.Event)
		if e.Event == "stray" && e.ID != stray.ID {
			t.Fatalf("the moved row changed id: %d, was %d", e.ID, stray.ID)
		}
	}
	if slices.Contains(names, "old") || !slices.Contains(names, "stray") {
		t.Fatalf("events after prune: %v; want the stray row kept and the old one gone", names)
	}
	if again := h.prune(false); len(again.PartitionsCreated) != 0 || len(again.PartitionsDropped) != 0 {
		t.Fatalf("second run changed partitions: %+v", again)
	}
}

// syncBuffer is a log sink the janitor's goroutine writes while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMaintenanceRun: the background janitor prunes at once and at every
// tick, logs what it did, logs (and survives) a failing run, and returns
// when its context ends.
func TestMaintenanceRun(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	env := coretest.New(t, coretest.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.Services.Maintenance.Run(ctx, 50*time.Millisecond)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), `"msg":"maintenance done"`) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no two maintenance runs logged: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// With the database gone a run fails, is logged, and the loop goes on.
	env.DB.Close()
	for !strings.Contains(logs.String(), `"msg":"maintenance failed"`) {
		if time.Now().After(deadline) {
			t.Fatalf("a failing run was not logged: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, want := range []string{`"deleted_sessions":0`, `"deleted_refresh_tokens":0`, `"audit_partitions_created":0`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s: %s", want, logs.String())
		}
	}
}

func TestMaintenanceWithoutStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deps := h.deps
	deps.Maintenance = nil
	svcs, err := core.New(h.cfg, deps)
	ok(t, err)
	_, err = svcs.Maintenance.Prune(context.Background(), core.PruneOptions{})
	wantCode(t, err, core.EINTERNAL)
	svcs.Maintenance.Run(context.Background(), time.Millisecond) // returns at once
}
