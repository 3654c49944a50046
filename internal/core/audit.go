package core

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Audit writes and reads the append-only security event log.
type Audit struct{ *env }

// AuditQuery selects events for `idp audit list`.
type AuditQuery struct {
	Email  string
	Tenant string // slug; empty means every tenant
	Since  time.Time
	Limit  int
}

// List returns events, newest first.
func (a *Audit) List(ctx context.Context, q AuditQuery) ([]AuditEvent, error) {
	f := AuditFilter{Email: NormalizeEmail(q.Email), Since: q.Since, Limit: q.Limit}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 1000 {
		return nil, Errorf(EINVALID, "limit must be at most 1000")
	}
	if q.Tenant != "" {
		t, err := a.store.TenantBySlug(ctx, q.Tenant)
		if err != nil {
			return nil, notFoundAs(err, "tenant %q not found", q.Tenant)
		}
		f.TenantID = &t.ID
	}
	return a.store.ListAuditEvents(ctx, f)
}

// event starts an audit row from request metadata.
func event(name string, outcome Outcome, reason string, meta Meta) *AuditEvent {
	return &AuditEvent{
		Event:     name,
		Outcome:   outcome,
		Reason:    reason,
		RequestID: meta.RequestID,
		Actor:     meta.Actor,
		ClientIP:  meta.ip(),
		UserAgent: meta.UserAgent,
		ClientID:  meta.ClientID,
	}
}

// forUser fills the subject and tenant of an event.
func (ev *AuditEvent) forUser(u User) *AuditEvent {
	id, tid := u.ID, u.TenantID
	ev.SubjectID, ev.SubjectEmail = &id, u.Email
	ev.TenantID, ev.TenantSlug = &tid, u.TenantSlug
	return ev
}

func (ev *AuditEvent) forSession(sid uuid.UUID) *AuditEvent {
	ev.SessionID = &sid
	return ev
}

// record writes ev through tx (or the store itself when tx is nil). Input
// that came from the network is escaped first so no row or log line can be
// forged with CR/LF or terminal control sequences.
func (a *Audit) record(ctx context.Context, tx Tx, ev *AuditEvent) error {
	if tx == nil {
		tx = a.store
	}
	return tx.InsertAuditEvent(ctx, a.prepare(ev))
}

// prepare stamps ev and escapes what came from the network, for a store
// call that writes it.
func (a *Audit) prepare(ev *AuditEvent) *AuditEvent {
	ev.Time = a.now()
	ev.SubjectEmail = Escape(ev.SubjectEmail)
	ev.UserAgent = Escape(truncate(ev.UserAgent, 512))
	ev.ClientID = Escape(truncate(ev.ClientID, 128))
	ev.RequestID = Escape(truncate(ev.RequestID, 128))
	ev.TenantSlug = Escape(ev.TenantSlug)
	ev.Actor = Escape(ev.Actor)
	return ev
}

// recordBestEffort writes an event outside any transaction; a failure is
// logged, never returned, because the caller's answer must not change.
func (a *Audit) recordBestEffort(ctx context.Context, ev *AuditEvent) {
	if err := a.record(ctx, nil, ev); err != nil {
		a.log.ErrorContext(ctx, "audit write failed", "event", ev.Event, "request_id", ev.RequestID, "err", err)
	}
}

// Escape replaces control characters (CR, LF, ESC, ...) with Go-style
// escapes, so input can't forge audit rows or log lines.
func Escape(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// notFoundAs rewrites ENOTFOUND into a message naming what was looked up.
func notFoundAs(err error, format string, args ...any) error {
	if isCode(err, ENOTFOUND) {
		e := Errorf(ENOTFOUND, format, args...)
		e.Err = err
		return e
	}
	return err
}
