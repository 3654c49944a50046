package core

import (
	"context"
	"errors"
	"time"
)

// The janitor removes what nothing needs any more: sessions that ended
// longer ago than retention.sessions with their refresh tokens, reset and
// invite tokens past their expiry, and whole months of the audit log older
// than retention.audit. It also creates audit partitions ahead, so inserts
// never land in the default partition. docs/operations.md describes it.

// Prunable kinds: each names a set of rows the store can delete in batches.
// A later table (authorization codes, browser sessions, the mail outbox) is
// one entry in pruneKinds and one in the store.
const (
	// PruneSessions deletes sessions that ended (absolute expiry or
	// revocation) before the cutoff, each with all its refresh tokens. Spent
	// tokens of live sessions stay: reuse detection needs them.
	PruneSessions = "sessions"
	// PruneResetTokens deletes password reset and invite tokens that expired
	// before the cutoff (a used or voided token is dead, but kept until its
	// expiry so the row's fate is visible for its lifetime).
	PruneResetTokens = "reset_tokens"
	// PruneMailOutbox deletes outbox rows delivered or given up on before
	// the cutoff (their payloads, and so their links, are already gone).
	PruneMailOutbox = "mail_outbox"
	// PruneSourceLocks deletes per-source lockout records that ended
	// before the cutoff: an ended lock refuses nothing.
	PruneSourceLocks = "source_locks"
	// PruneBrowserSessions deletes browser sessions that ended (absolute
	// expiry or revocation) before the cutoff.
	PruneBrowserSessions = "browser_sessions"
	// PruneOAuthCodes deletes authorization codes that expired before the
	// cutoff. A code outlives its expiry by OAuthCodeRetention so that a
	// late second use still finds it and revokes what the first one issued.
	PruneOAuthCodes = "oauth_codes"
)

// OAuthCodeRetention is how long an authorization code is kept past its
// expiry, for reuse detection (RFC 9700 4.2.4).
const OAuthCodeRetention = time.Hour

// MailOutboxRetention is how long delivered and failed mail stays in the
// outbox, for an operator asking whether a mail went out.
const MailOutboxRetention = 7 * 24 * time.Hour

// pruneKind is one entry of the janitor's table.
type pruneKind struct {
	name string
	// cutoff is the time before which a row of this kind has ended long
	// enough to go.
	cutoff func(cfg Config, now time.Time) time.Time
}

var pruneKinds = []pruneKind{
	{name: PruneSessions, cutoff: func(c Config, now time.Time) time.Time { return now.Add(-c.SessionRetention) }},
	{name: PruneResetTokens, cutoff: func(_ Config, now time.Time) time.Time { return now }},
	{name: PruneMailOutbox, cutoff: func(_ Config, now time.Time) time.Time { return now.Add(-MailOutboxRetention) }},
	{name: PruneSourceLocks, cutoff: func(_ Config, now time.Time) time.Time { return now }},
	{name: PruneBrowserSessions, cutoff: func(c Config, now time.Time) time.Time { return now.Add(-c.SessionRetention) }},
	{name: PruneOAuthCodes, cutoff: func(_ Config, now time.Time) time.Time { return now.Add(-OAuthCodeRetention) }},
}

// PruneCount is how many rows of one table a prune removed (or would).
type PruneCount struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// AuditPartition is one month of the audit log.
type AuditPartition struct {
	Name string    `json:"name"`
	From time.Time `json:"from"` // inclusive, UTC
	To   time.Time `json:"to"`   // exclusive, UTC
	Rows int64     `json:"rows"` // filled for a partition dropped (or to be)
}

// MaintenanceStore is the storage the janitor works on.
type MaintenanceStore interface {
	// WithMaintenanceLock runs fn while holding the one maintenance lock of
	// the database. It returns false without running fn when another
	// process holds it.
	WithMaintenanceLock(ctx context.Context, fn func(ctx context.Context) error) (bool, error)
	// PruneBatch deletes at most limit rows of kind (its primary table;
	// dependent rows go with them) that ended before cutoff, and returns
	// what it deleted, primary table first.
	PruneBatch(ctx context.Context, kind string, cutoff time.Time, limit int) ([]PruneCount, error)
	// CountPrunable counts what PruneBatch would delete, without a limit.
	CountPrunable(ctx context.Context, kind string, cutoff time.Time) ([]PruneCount, error)
	// AuditPartitions lists the month partitions, oldest first (Rows not
	// filled).
	AuditPartitions(ctx context.Context) ([]AuditPartition, error)
	// CountAuditPartition counts the rows of one partition.
	CountAuditPartition(ctx context.Context, name string) (int64, error)
	// EnsureAuditPartition creates the partition of the month starting at
	// from, moving any rows of that month out of the default partition;
	// false when it existed.
	EnsureAuditPartition(ctx context.Context, from time.Time) (bool, error)
	// DropAuditPartition detaches and drops one partition and returns how
	// many rows it held.
	DropAuditPartition(ctx context.Context, name string) (int64, error)
}

// Janitor defaults.
const (
	DefaultSessionRetention = 720 * time.Hour
	DefaultPruneBatch       = 500
	DefaultAuditMonthsAhead = 3
)

// PruneOptions shape one run.
type PruneOptions struct {
	DryRun bool
}

// PruneReport says what one run removed and created.
type PruneReport struct {
	DryRun bool `json:"dry_run"`
	// Skipped is set when another process held the maintenance lock.
	Skipped           bool             `json:"skipped"`
	StartedAt         time.Time        `json:"started_at"`
	FinishedAt        time.Time        `json:"finished_at"`
	Deleted           []PruneCount     `json:"deleted"`
	PartitionsDropped []AuditPartition `json:"audit_partitions_dropped"`
	PartitionsCreated []AuditPartition `json:"audit_partitions_created"`
}

// Maintenance is the janitor.
type Maintenance struct {
	*env
	store MaintenanceStore
	// rest waits d between two full batches (nil: a timer); tests count
	// the waits instead.
	rest func(ctx context.Context, d time.Duration) error
}

// maxPruneRest bounds the pause between two batches.
const maxPruneRest = time.Second

// restAfter is the pause after a full batch that took took: as long as the
// batch itself, so that catching up on a large backlog (the first run on
// a database that was never pruned deletes millions of rows) keeps one
// PostgreSQL backend busy at most half the time, leaving the rest to the
// requests it runs beside (docs/operations.md, "Janitor").
func restAfter(took time.Duration) time.Duration { return min(max(took, 0), maxPruneRest) }

var errNoMaintenanceStore = &Error{Code: EINTERNAL, Message: "maintenance is not available: no maintenance store"}

// Prune runs the janitor once: every prunable kind in bounded batches, then
// the audit partitions. Under the maintenance lock, so of several servers
// (and an operator's `idp maintenance prune`) only one works at a time; a
// dry run takes no lock and changes nothing.
func (m *Maintenance) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	rep, err := m.prune(ctx, opts)
	if !opts.DryRun {
		m.observe.JanitorRun(rep, err)
	}
	return rep, err
}

func (m *Maintenance) prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	if m.store == nil {
		return PruneReport{}, errNoMaintenanceStore
	}
	rep := PruneReport{DryRun: opts.DryRun, StartedAt: m.now(), Deleted: []PruneCount{},
		PartitionsDropped: []AuditPartition{}, PartitionsCreated: []AuditPartition{}}
	run := func(ctx context.Context) error {
		if err := m.pruneRows(ctx, opts.DryRun, &rep); err != nil {
			return err
		}
		return m.auditPartitions(ctx, opts.DryRun, &rep)
	}
	if opts.DryRun {
		if err := run(ctx); err != nil {
			return PruneReport{}, err
		}
	} else {
		ran, err := m.store.WithMaintenanceLock(ctx, run)
		if err != nil {
			return PruneReport{}, err
		}
		rep.Skipped = !ran
	}
	rep.FinishedAt = m.now()
	return rep, nil
}

func (m *Maintenance) pruneRows(ctx context.Context, dryRun bool, rep *PruneReport) error {
	now := m.now()
	for _, k := range pruneKinds {
		cutoff := k.cutoff(m.cfg, now)
		if dryRun {
			counts, err := m.store.CountPrunable(ctx, k.name, cutoff)
			if err != nil {
				return err
			}
			rep.Deleted = addCounts(rep.Deleted, counts)
			continue
		}
		for {
			start := time.Now() // the batch's own duration, not the service clock
			counts, err := m.store.PruneBatch(ctx, k.name, cutoff, m.cfg.PruneBatch)
			if err != nil {
				return err
			}
			rep.Deleted = addCounts(rep.Deleted, counts)
			if len(counts) == 0 || counts[0].Rows < int64(m.cfg.PruneBatch) {
				break
			}
			if err := m.restBetweenBatches(ctx, restAfter(time.Since(start))); err != nil {
				return &Error{Code: EUNAVAILABLE, Message: "maintenance interrupted", Err: err}
			}
		}
	}
	return nil
}

func (m *Maintenance) restBetweenBatches(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.rest != nil {
		return m.rest(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// addCounts adds counts into sum by table, keeping the order tables first
// appeared in; a table with nothing deleted still shows, with 0.
func addCounts(sum, counts []PruneCount) []PruneCount {
next:
	for _, c := range counts {
		for i := range sum {
			if sum[i].Table == c.Table {
				sum[i].Rows += c.Rows
				continue next
			}
		}
		sum = append(sum, c)
	}
	return sum
}

// auditPartitions drops every month that ended before now - retention.audit
// and creates the current month and the ones ahead.
func (m *Maintenance) auditPartitions(ctx context.Context, dryRun bool, rep *PruneReport) error {
	now := m.now()
	parts, err := m.store.AuditPartitions(ctx)
	if err != nil {
		return err
	}
	existing := map[time.Time]bool{}
	cutoff := now.Add(-m.cfg.AuditRetention)
	for _, p := range parts {
		existing[p.From] = true
		if m.cfg.AuditRetention <= 0 || p.To.After(cutoff) {
			continue
		}
		if dryRun {
			p.Rows, err = m.store.CountAuditPartition(ctx, p.Name)
		} else {
			p.Rows, err = m.store.DropAuditPartition(ctx, p.Name)
		}
		if err != nil {
			return err
		}
		rep.PartitionsDropped = append(rep.PartitionsDropped, p)
	}
	month := MonthStart(now)
	for i := 0; i <= m.cfg.AuditMonthsAhead; i++ {
		from := month.AddDate(0, i, 0)
		if existing[from] {
			continue
		}
		created := true
		if !dryRun {
			if created, err = m.store.EnsureAuditPartition(ctx, from); err != nil {
				return err
			}
		}
		if created {
			rep.PartitionsCreated = append(rep.PartitionsCreated, AuditPartition{
				Name: AuditPartitionName(from), From: from, To: from.AddDate(0, 1, 0)})
		}
	}
	return nil
}

// MonthStart is the first instant of t's month in UTC: audit partitions are
// UTC months.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// AuditPartitionName is the table name of the month starting at from, as
// migrations/0007_audit_partitions.sql names them.
func AuditPartitionName(from time.Time) string {
	return "user_login_events_" + from.UTC().Format("y2006m01")
}

// Run prunes at once and then every interval until ctx ends. Failures are
// logged and retried at the next tick: the janitor never stops a server.
func (m *Maintenance) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 || m.store == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rep, err := m.Prune(ctx, PruneOptions{})
		switch {
		case errors.Is(err, context.Canceled) || ctx.Err() != nil:
			return
		case err != nil:
			m.log.ErrorContext(ctx, "maintenance failed", "err", err)
		case rep.Skipped:
			m.log.DebugContext(ctx, "maintenance skipped: another instance holds the lock")
		default:
			m.logReport(ctx, rep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Maintenance) logReport(ctx context.Context, rep PruneReport) {
	args := []any{"duration", rep.FinishedAt.Sub(rep.StartedAt)}
	for _, c := range rep.Deleted {
		args = append(args, "deleted_"+c.Table, c.Rows)
	}
	args = append(args, "audit_partitions_dropped", len(rep.PartitionsDropped),
		"audit_partitions_created", len(rep.PartitionsCreated))
	m.log.InfoContext(ctx, "maintenance done", args...)
}
