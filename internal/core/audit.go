package core

import (
	"context"
	"time"

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

// AuditEntry is an audit row as the CLI's JSON output and the admin API
// show it.
type AuditEntry struct {
	ID        int64      `json:"id"`
	Time      time.Time  `json:"time"`
	Event     string     `json:"event"`
	Outcome   string     `json:"outcome"`
	Reason    string     `json:"reason"`
	Actor     string     `json:"actor"`
	SubjectID *uuid.UUID `json:"subject_id"`
	Email     string     `json:"email"`
	TenantID  *uuid.UUID `json:"tenant_id"`
	Tenant    string     `json:"tenant"`
	SessionID *uuid.UUID `json:"session_id"`
	ClientIP  string     `json:"client_ip"`
	UserAgent string     `json:"user_agent"`
	ClientID  string     `json:"client_id"`
	RequestID string     `json:"request_id"`
}

// View renders e for callers.
func (e AuditEvent) View() AuditEntry {
	return AuditEntry{
		ID: e.ID, Time: e.Time.UTC(), Event: e.Event, Outcome: string(e.Outcome), Reason: e.Reason, Actor: e.Actor,
		SubjectID: e.SubjectID, Email: e.SubjectEmail, TenantID: e.TenantID, Tenant: e.TenantSlug,
		SessionID: e.SessionID, ClientIP: e.ClientIP, UserAgent: e.UserAgent, ClientID: e.ClientID, RequestID: e.RequestID,
	}
}

// Bounds of the audit row's free-text columns, in bytes after escaping:
// together with the validation of emails and slugs they bound what one
// unauthenticated request can make the log hold (docs/auth/idp.md, "Audit").
const (
	maxUserAgent = 512
	maxClientID  = 128
	maxRequestID = 64
	maxActor     = 128
	maxSlug      = 63
)

// event starts an audit row from request metadata.
func event(name string, outcome Outcome, reason string, meta Meta) *AuditEvent {
	return &AuditEvent{
		Event:               name,
		Outcome:             outcome,
		Reason:              reason,
		RequestID:           meta.RequestID,
		RequestIDFromClient: meta.RequestIDFromClient,
		Actor:               meta.Actor,
		ClientIP:            meta.ip(),
		UserAgent:           meta.UserAgent,
		ClientID:            meta.ClientID,
		ClientIDVerified:    meta.ClientIDVerified,
	}
}

// forInput names the subject of an event about input that may not be an
// account at all: an address is kept (normalized), anything else only as
// a digest, so junk is never stored verbatim.
func (ev *AuditEvent) forInput(tenant, email string) *AuditEvent {
	ev.TenantSlug = tenant
	if validSlug(tenant) != nil {
		ev.TenantSlug = "invalid:" + digestHex(tenant)
	}
	ev.SubjectEmail = NormalizeEmail(email)
	if checkEmail(email) != nil {
		ev.SubjectEmail = "invalid:" + digestHex(email)
	}
	return ev
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

// record writes ev through tx (or the store itself when tx is nil). Every
// audit write goes through prepare, here or in a store call that writes the
// row itself (StoreRotation, RecordResetRequest).
func (a *Audit) record(ctx context.Context, tx Tx, ev *AuditEvent) error {
	if tx == nil {
		tx = a.store
	}
	return tx.InsertAuditEvent(ctx, a.prepare(ev))
}

// prepare stamps ev and cleans every string of it, once: escaped (valid
// UTF-8, no control or invisible characters, so no row or log line can be
// forged) and then clipped to its column's bound. Nothing a client sends
// can make the insert fail, and so change the answer it gets.
func (a *Audit) prepare(ev *AuditEvent) *AuditEvent {
	ev.Time = a.now()
	ev.Event = Clean(ev.Event, 64)
	ev.Reason = Clean(ev.Reason, 128)
	ev.SubjectEmail = Clean(ev.SubjectEmail, maxEmailBytes)
	ev.UserAgent = Clean(ev.UserAgent, maxUserAgent)
	ev.ClientID = Clean(ev.ClientID, maxClientID)
	ev.RequestID = Clean(ev.RequestID, maxRequestID)
	ev.TenantSlug = Clean(ev.TenantSlug, maxSlug+len("invalid:")+32)
	ev.Actor = Clean(ev.Actor, maxActor)
	ev.ClientIP = Clean(ev.ClientIP, 64)
	return ev
}

// throttleWindow is the window in which throttled attempts of one IP or
// account share one audit row.
const throttleWindow = time.Minute

// recordThrottled writes a throttled attempt aggregated: the first of each
// window for key gets a row, carrying how many more the previous window
// had; the rest are only counted. One client at full speed so writes a row
// a minute per key instead of one per request.
func (a *Audit) recordThrottled(ctx context.Context, key string, ev *AuditEvent) {
	if a.limiter == nil {
		a.recordBestEffort(ctx, ev)
		return
	}
	n, prev, err := a.limiter.Tally(ctx, "audit:"+key, throttleWindow)
	if err != nil {
		a.log.WarnContext(ctx, "count throttled attempt failed", "event", ev.Event, "err", err)
		return
	}
	if n != 1 {
		return
	}
	ev.Suppressed = max(prev-1, 0)
	a.recordBestEffort(ctx, ev)
}

// recordBestEffort writes an event outside any transaction; a failure is
// logged, never returned, because the caller's answer must not change.
func (a *Audit) recordBestEffort(ctx context.Context, ev *AuditEvent) {
	if err := a.record(ctx, nil, ev); err != nil {
		a.log.ErrorContext(ctx, "audit write failed", "event", ev.Event, "request_id", ev.RequestID, "err", err)
	}
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
