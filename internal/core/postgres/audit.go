package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/idp-dev/idp/internal/core"
)

// Audit list limits: a default page, and a cap so one request can't pull
// the whole log.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 1000
)

type auditRow struct {
	ID           int64         `db:"id"`
	Time         time.Time     `db:"occurred_at"`
	RequestID    string        `db:"request_id"`
	Event        string        `db:"event"`
	Outcome      string        `db:"outcome"`
	Reason       string        `db:"reason"`
	Actor        string        `db:"actor"`
	SubjectID    uuid.NullUUID `db:"subject_id"`
	SubjectEmail string        `db:"subject_email"`
	TenantID     uuid.NullUUID `db:"tenant_id"`
	TenantSlug   string        `db:"tenant_slug"`
	SessionID    uuid.NullUUID `db:"session_id"`
	ClientIP     string        `db:"client_ip"`
	UserAgent    string        `db:"user_agent"`
	ClientID     string        `db:"client_id"`
	RequestIDFC  bool          `db:"request_id_from_client"`
	ClientIDVer  bool          `db:"client_id_verified"`
	Suppressed   int           `db:"suppressed"`
}

const auditCols = `id, ` + auditInsertCols

// auditInsertCols and auditValues are the one spelling of an audit row's
// INSERT, shared by every statement that writes one.
const auditInsertCols = `occurred_at, request_id, event, outcome, reason, actor, subject_id,
	subject_email, tenant_id, tenant_slug, session_id, client_ip, user_agent, client_id,
	request_id_from_client, client_id_verified, suppressed`

// auditValues is the value list for auditArgs, with placeholders from
// $first on. The casts let it stand in an INSERT ... SELECT as well, where
// PostgreSQL can't infer the parameters' types from the columns.
func auditValues(first int) string {
	var b strings.Builder
	for i, typ := range auditArgTypes {
		if i > 0 {
			b.WriteString(", ")
		}
		p := "$" + strconv.Itoa(first+i) + "::" + typ
		if i == 0 {
			p = "COALESCE(" + p + ", now())"
		}
		b.WriteString(p)
	}
	return b.String()
}

var auditArgTypes = [...]string{"timestamptz", "text", "text", "text", "text", "text", "uuid", "text",
	"uuid", "text", "uuid", "text", "text", "text", "boolean", "boolean", "integer"}

func auditArgs(e *core.AuditEvent) []any {
	return []any{nullTime(e.Time), e.RequestID, e.Event, string(e.Outcome), e.Reason, e.Actor,
		e.SubjectID, e.SubjectEmail, e.TenantID, e.TenantSlug, e.SessionID,
		e.ClientIP, e.UserAgent, e.ClientID, e.RequestIDFromClient, e.ClientIDVerified, e.Suppressed}
}

func (r auditRow) event() core.AuditEvent {
	return core.AuditEvent{
		ID:           r.ID,
		Time:         r.Time.UTC(),
		RequestID:    r.RequestID,
		Event:        r.Event,
		Outcome:      core.Outcome(r.Outcome),
		Reason:       r.Reason,
		Actor:        r.Actor,
		SubjectID:    uuidPtr(r.SubjectID),
		SubjectEmail: r.SubjectEmail,
		TenantID:     uuidPtr(r.TenantID),
		TenantSlug:   r.TenantSlug,
		SessionID:    uuidPtr(r.SessionID),
		ClientIP:     r.ClientIP,
		UserAgent:    r.UserAgent,
		ClientID:     r.ClientID,

		RequestIDFromClient: r.RequestIDFC,
		ClientIDVerified:    r.ClientIDVer,
		Suppressed:          r.Suppressed,
	}
}

// InsertAuditEvent appends e, filling ID and, when zero, Time (database
// clock, UTC).
func (q queries) InsertAuditEvent(ctx context.Context, e *core.AuditEvent) error {
	var r struct {
		ID   int64     `db:"id"`
		Time time.Time `db:"occurred_at"`
	}
	err := q.get(ctx, "audit event", &r, `
		INSERT INTO user_login_events (`+auditInsertCols+`)
		VALUES (`+auditValues(1)+`)
		RETURNING id, occurred_at`, auditArgs(e)...)
	if err != nil {
		return err
	}
	e.ID, e.Time = r.ID, r.Time.UTC()
	return nil
}

// ListAuditEvents returns matching events newest first. The WHERE clause
// holds only the filters given, so each can use its index.
func (q queries) ListAuditEvents(ctx context.Context, f core.AuditFilter) ([]core.AuditEvent, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.Email != "" {
		add(`lower(subject_email) = lower($?)`, f.Email)
	}
	if f.TenantID != nil {
		add(`tenant_id = $?`, *f.TenantID)
	}
	if f.Event != "" {
		add(`event = $?`, f.Event)
	}
	if f.ExcludeEvent != "" {
		add(`event <> $?`, f.ExcludeEvent)
	}
	if !f.Since.IsZero() {
		add(`occurred_at >= $?`, f.Since)
	}
	if !f.Until.IsZero() {
		add(`occurred_at < $?`, f.Until)
	}
	if f.Before != nil {
		// Keyset paging: strictly older than the last row of the previous
		// page, in the (occurred_at, id) order of the result.
		args = append(args, f.Before.Time, f.Before.ID)
		n := len(args)
		where = append(where, `(occurred_at, id) < ($`+strconv.Itoa(n-1)+`::timestamptz, $`+strconv.Itoa(n)+`::bigint)`)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)

	query := `SELECT ` + auditCols + ` FROM user_login_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limit)
	query += ` ORDER BY occurred_at DESC, id DESC LIMIT $` + strconv.Itoa(len(args))

	var rows []auditRow
	if err := q.sel(ctx, "audit event", &rows, query, args...); err != nil {
		return nil, err
	}
	out := make([]core.AuditEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.event())
	}
	return out, nil
}
