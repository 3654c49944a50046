package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/lib/pq"

	"github.com/idp-dev/idp/internal/core"
)

var _ core.MaintenanceStore = (*Store)(nil)

// maintenanceLockKey is the advisory lock the janitor holds while it works
// ("idp-jani" in ASCII), so one process of a deployment prunes at a time.
const maintenanceLockKey int64 = 0x6964702d6a616e69

// lockTimeout bounds how long a partition change waits for the audit table's
// lock: logins write audit rows, and a queued ACCESS EXCLUSIVE request would
// stall them all behind it. The janitor retries at its next run.
const lockTimeout = "SET LOCAL lock_timeout = '3s'"

// pruneQuery is how one prunable kind is counted and deleted. Both take the
// cutoff as $1; remove also takes the batch size as $2. Each returns one row
// of counts, in the order of tables.
type pruneQuery struct {
	tables []string
	count  string
	remove string
}

// The sessions kind: ended by absolute expiry or by revocation before the
// cutoff. Each index (sessions_expires_idx, sessions_revoked_idx) answers
// one arm, oldest first: with ORDER BY and LIMIT in each arm the index scan
// stops after one batch, and batch after batch starts where the last
// ended, instead of a sequential scan rereading the dead rows it left.
// IN removes the duplicates of a session that is both. A batch deletes its sessions' refresh tokens in the
// same statement, so none is left pointing at a deleted session and the
// counts are exact (the ON DELETE CASCADE then finds nothing left).
const doomedSessions = `(SELECT id FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)
	UNION ALL (SELECT id FROM sessions WHERE revoked_at < $1 ORDER BY revoked_at LIMIT $2)`

var pruneQueries = map[string]pruneQuery{
	core.PruneSessions: {
		tables: []string{"sessions", "refresh_tokens"},
		count: `WITH doomed AS (SELECT id FROM sessions WHERE expires_at < $1
				UNION SELECT id FROM sessions WHERE revoked_at < $1)
			SELECT (SELECT count(*) FROM doomed),
				(SELECT count(*) FROM refresh_tokens WHERE session_id IN (SELECT id FROM doomed))`,
		remove: `WITH doomed AS (` + doomedSessions + `),
			tokens AS (DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM doomed) RETURNING 1),
			gone AS (DELETE FROM sessions WHERE id IN (SELECT id FROM doomed) RETURNING 1)
			SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM tokens)`,
	},
	core.PruneResetTokens: {
		tables: []string{"reset_tokens"},
		count:  `SELECT count(*) FROM password_reset_tokens WHERE expires_at < $1`,
		remove: `WITH gone AS (DELETE FROM password_reset_tokens WHERE id IN (
				SELECT id FROM password_reset_tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2) RETURNING 1)
			SELECT count(*) FROM gone`,
	},
	// Mail ids grow with time: the primary key, oldest first, finds the
	// delivered rows without an index that each claim would have to update.
	core.PruneMailOutbox: {
		tables: []string{"mail_outbox"},
		count:  `SELECT count(*) FROM mail_outbox WHERE sent_at < $1 OR failed_at < $1`,
		remove: `WITH gone AS (DELETE FROM mail_outbox WHERE id IN (
				SELECT id FROM mail_outbox WHERE sent_at < $1 OR failed_at < $1 ORDER BY id LIMIT $2) RETURNING 1)
			SELECT count(*) FROM gone`,
	},
	// Browser sessions, like sessions: ended by absolute expiry or
	// revocation before the cutoff. API sessions they started keep their
	// own life (browser_session_id is set to NULL).
	core.PruneBrowserSessions: {
		tables: []string{"browser_sessions"},
		count:  `SELECT count(*) FROM browser_sessions WHERE expires_at < $1 OR revoked_at < $1`,
		remove: `WITH doomed AS ((SELECT id FROM browser_sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)
				UNION ALL (SELECT id FROM browser_sessions WHERE revoked_at < $1 ORDER BY revoked_at LIMIT $2)),
			gone AS (DELETE FROM browser_sessions WHERE id IN (SELECT id FROM doomed) RETURNING 1)
			SELECT count(*) FROM gone`,
	},
	core.PruneOAuthCodes: {
		tables: []string{"oauth_codes"},
		count:  `SELECT count(*) FROM oauth_codes WHERE expires_at < $1`,
		remove: `WITH gone AS (DELETE FROM oauth_codes WHERE hash IN (
				SELECT hash FROM oauth_codes WHERE expires_at < $1 ORDER BY expires_at LIMIT $2) RETURNING 1)
			SELECT count(*) FROM gone`,
	},
	core.PruneSourceLocks: {
		tables: []string{"source_locks"},
		count:  `SELECT count(*) FROM login_source_locks WHERE locked_until < $1`,
		remove: `WITH gone AS (DELETE FROM login_source_locks WHERE (user_id, source) IN (
				SELECT user_id, source FROM login_source_locks WHERE locked_until < $1 ORDER BY locked_until LIMIT $2) RETURNING 1)
			SELECT count(*) FROM gone`,
	},
}

// WithMaintenanceLock holds a session-level advisory lock on one pooled
// connection while fn runs; fn's own queries use other connections. If the
// connection dies the server releases the lock, and at worst two janitors
// overlap, which their idempotent deletes tolerate.
func (s *Store) WithMaintenanceLock(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, classify(err, "maintenance lock")
	}
	defer conn.Close()
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, maintenanceLockKey).Scan(&got); err != nil {
		return false, classify(err, "maintenance lock")
	}
	if !got {
		return false, nil
	}
	defer func() {
		// Also when ctx is done: the connection goes back to the pool, and
		// it must not keep the lock there.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, maintenanceLockKey); err != nil {
			// Discard the connection (and with it the lock) rather than
			// pool it still locked.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return true, fn(ctx)
}

func (s *Store) PruneBatch(ctx context.Context, kind string, cutoff time.Time, limit int) ([]core.PruneCount, error) {
	q, ok := pruneQueries[kind]
	if !ok {
		return nil, fmt.Errorf("prune: unknown kind %q", kind)
	}
	return s.pruneCounts(ctx, q.tables, q.remove, cutoff, limit)
}

func (s *Store) CountPrunable(ctx context.Context, kind string, cutoff time.Time) ([]core.PruneCount, error) {
	q, ok := pruneQueries[kind]
	if !ok {
		return nil, fmt.Errorf("prune: unknown kind %q", kind)
	}
	return s.pruneCounts(ctx, q.tables, q.count, cutoff)
}

func (s *Store) pruneCounts(ctx context.Context, tables []string, query string, args ...any) ([]core.PruneCount, error) {
	n := make([]int64, len(tables))
	dest := make([]any, len(tables))
	for i := range n {
		dest[i] = &n[i]
	}
	if err := s.db.QueryRowContext(ctx, query, args...).Scan(dest...); err != nil {
		return nil, classify(err, "prune "+tables[0])
	}
	out := make([]core.PruneCount, len(tables))
	for i, t := range tables {
		out[i] = core.PruneCount{Table: t, Rows: n[i]}
	}
	return out, nil
}

// partitionName matches the month partitions of user_login_events; the
// default partition and anything an operator attached by hand don't match
// and are never dropped.
var partitionName = regexp.MustCompile(`^user_login_events_y(\d{4})m(\d{2})$`)

func (s *Store) AuditPartitions(ctx context.Context) ([]core.AuditPartition, error) {
	var names []string
	err := s.db.SelectContext(ctx, &names, `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'user_login_events'::regclass ORDER BY c.relname`)
	if err != nil {
		return nil, classify(err, "audit partitions")
	}
	var out []core.AuditPartition
	for _, name := range names {
		m := partitionName.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		from := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
		if core.AuditPartitionName(from) != name {
			continue // month 13 and the like
		}
		out = append(out, core.AuditPartition{Name: name, From: from, To: from.AddDate(0, 1, 0)})
	}
	return out, nil
}

func (s *Store) CountAuditPartition(ctx context.Context, name string) (int64, error) {
	if !partitionName.MatchString(name) {
		return 0, fmt.Errorf("count audit partition: %q is not a month partition", name)
	}
	var n int64
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM `+pq.QuoteIdentifier(name))
	return n, classify(err, "audit partition")
}

func (s *Store) EnsureAuditPartition(ctx context.Context, from time.Time) (bool, error) {
	var created bool
	err := s.inTxRaw(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, lockTimeout); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT user_login_events_ensure_partition($1)`, from.UTC()).Scan(&created)
	})
	return created, classify(err, "audit partition")
}

// DropAuditPartition detaches the partition first: a plain DROP of a
// partition would also work, but DETACH names the intent, and the count
// taken inside the same transaction is exactly what was dropped.
func (s *Store) DropAuditPartition(ctx context.Context, name string) (int64, error) {
	if !partitionName.MatchString(name) {
		return 0, fmt.Errorf("drop audit partition: %q is not a month partition", name)
	}
	ident := pq.QuoteIdentifier(name)
	var rows int64
	err := s.inTxRaw(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, lockTimeout); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `ALTER TABLE user_login_events DETACH PARTITION `+ident); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+ident).Scan(&rows); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DROP TABLE `+ident)
		return err
	})
	return rows, classify(err, "audit partition")
}

func (s *Store) inTxRaw(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
