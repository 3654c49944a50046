package postgres_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/testenv"
	"github.com/idp-dev/idp/migrations"
)

// TestAuditPartitionMigration converts an audit table holding rows into the
// partitioned one and back: rows, ids, the id sequence, index names and the
// append-only triggers all survive both ways.
func TestAuditPartitionMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t, testenv.Postgres(t))
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, migrations.FS)
	ok(t, err)
	_, err = p.UpTo(ctx, 6)
	ok(t, err)
	now := time.Now().UTC()
	for _, at := range []time.Time{now.AddDate(-2, 0, 0), now.AddDate(0, -1, 0), now} {
		_, err := db.ExecContext(ctx, `INSERT INTO user_login_events (occurred_at, event, outcome, subject_email)
			VALUES ($1, 'login', 'success', 'Ann@Example.com')`, at)
		ok(t, err)
	}
	type row struct {
		ID   int64     `db:"id"`
		Time time.Time `db:"occurred_at"`
	}
	rows := func() []row {
		t.Helper()
		var r []row
		ok(t, db.SelectContext(ctx, &r, `SELECT id, occurred_at FROM user_login_events ORDER BY id`))
		return r
	}
	before := rows()

	_, err = p.UpTo(ctx, 7)
	ok(t, err)
	if got := rows(); !slices.EqualFunc(got, before, func(a, b row) bool { return a.ID == b.ID && a.Time.Equal(b.Time) }) {
		t.Fatalf("rows after conversion %v, before %v", got, before)
	}
	var where []string
	ok(t, db.SelectContext(ctx, &where, `SELECT tableoid::regclass::text FROM user_login_events ORDER BY id`))
	for i, name := range where {
		if want := core.AuditPartitionName(core.MonthStart(before[i].Time)); name != want {
			t.Fatalf("row %d is in %s, want %s", before[i].ID, name, want)
		}
	}
	var next int64
	ok(t, db.GetContext(ctx, &next, `INSERT INTO user_login_events (event, outcome) VALUES ('x', 'success') RETURNING id`))
	if next != before[len(before)-1].ID+1 {
		t.Fatalf("next id %d, want %d: the sequence did not carry over", next, before[len(before)-1].ID+1)
	}
	var idx []string
	ok(t, db.SelectContext(ctx, &idx, `SELECT indexname FROM pg_indexes WHERE tablename = 'user_login_events' ORDER BY 1`))
	want := []string{"user_login_events_email_idx", "user_login_events_pkey", "user_login_events_tenant_idx", "user_login_events_time_idx"}
	if !slices.Equal(idx, want) {
		t.Fatalf("indexes %v, want %v", idx, want)
	}
	// Every month from the oldest row to three ahead has its partition.
	for m := core.MonthStart(before[0].Time); !m.After(core.MonthStart(now).AddDate(0, 3, 0)); m = m.AddDate(0, 1, 0) {
		var n int
		ok(t, db.GetContext(ctx, &n, `SELECT count(*) FROM pg_class WHERE relname = $1`, core.AuditPartitionName(m)))
		if n != 1 {
			t.Fatalf("partition of %s missing", m.Format("2006-01"))
		}
	}
	// A row beyond every partition lands in the default partition, so the
	// row triggers there have something to refuse.
	_, err = db.ExecContext(ctx, `INSERT INTO user_login_events (occurred_at, event, outcome) VALUES (now() + interval '20 years', 'x', 'success')`)
	ok(t, err)
	appendOnly(t, db.DB, []string{"user_login_events", core.AuditPartitionName(core.MonthStart(now)), "user_login_events_default"})

	_, err = p.DownTo(ctx, 6)
	ok(t, err)
	after := rows()
	if len(after) != len(before)+2 || after[0].ID != before[0].ID {
		t.Fatalf("rows after rolling back %v", after)
	}
	var kind string
	ok(t, db.GetContext(ctx, &kind, `SELECT relkind::text FROM pg_class WHERE relname = 'user_login_events'`))
	if kind != "r" {
		t.Fatalf("after Down user_login_events has relkind %q, want an ordinary table", kind)
	}
	appendOnly(t, db.DB, []string{"user_login_events"})
}

// TestAuditAppendOnlyPartitioned: no role, the owner included, can UPDATE,
// DELETE or TRUNCATE audit rows, through the parent or any partition.
func TestAuditAppendOnlyPartitioned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := mustStore(t)
	ok(t, s.InsertAuditEvent(ctx, &core.AuditEvent{Event: "login", Outcome: core.OutcomeSuccess}))
	ok(t, s.InsertAuditEvent(ctx, &core.AuditEvent{Time: time.Now().AddDate(10, 0, 0), Event: "stray", Outcome: core.OutcomeSuccess}))
	appendOnly(t, db.DB, []string{"user_login_events", core.AuditPartitionName(core.MonthStart(time.Now())), "user_login_events_default"})

	// A separate login role with only what the application needs (SELECT,
	// INSERT) is refused by privileges before the trigger even runs; one
	// granted UPDATE and DELETE still meets the trigger.
	for _, grant := range []string{"SELECT, INSERT", "SELECT, INSERT, UPDATE, DELETE, TRUNCATE"} {
		role := "app_" + strings.NewReplacer(",", "", " ", "_").Replace(strings.ToLower(grant))
		for _, stmt := range []string{
			`CREATE ROLE ` + role,
			`GRANT ` + grant + ` ON ALL TABLES IN SCHEMA public TO ` + role,
		} {
			_, err := db.ExecContext(ctx, stmt)
			ok(t, err)
		}
		t.Cleanup(func() {
			_, _ = db.ExecContext(context.Background(), `DROP OWNED BY `+role)
			_, _ = db.ExecContext(context.Background(), `DROP ROLE `+role)
		})
		conn, err := db.Conn(ctx)
		ok(t, err)
		_, err = conn.ExecContext(ctx, `SET ROLE `+role)
		ok(t, err)
		for _, stmt := range []string{
			`UPDATE user_login_events SET reason = 'x'`,
			`DELETE FROM user_login_events`,
			`TRUNCATE user_login_events`,
		} {
			if _, err := conn.ExecContext(ctx, stmt); err == nil {
				t.Errorf("as %s: %s succeeded", role, stmt)
			}
		}
		_, err = conn.ExecContext(ctx, `RESET ROLE`)
		ok(t, err)
		conn.Close()
	}
	var n int
	ok(t, db.GetContext(ctx, &n, `SELECT count(*) FROM user_login_events`))
	if n != 2 {
		t.Fatalf("%d audit rows after tampering, want 2", n)
	}
}

// appendOnly checks that UPDATE, DELETE and TRUNCATE fail on each table
// with the append-only trigger's error, and that no row changed.
func appendOnly(t *testing.T, db *sql.DB, tables []string) {
	t.Helper()
	ctx := context.Background()
	count := func() (n int) {
		ok(t, db.QueryRowContext(ctx, `SELECT count(*) FROM user_login_events`).Scan(&n))
		return n
	}
	before := count()
	for _, table := range tables {
		for _, stmt := range []string{
			`UPDATE ` + table + ` SET reason = 'x'`,
			`DELETE FROM ` + table,
			`TRUNCATE ` + table,
		} {
			if _, err := db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want append-only", stmt, err)
			}
		}
	}
	if n := count(); n != before {
		t.Fatalf("%d audit rows after tampering, want %d", n, before)
	}
}

// TestPruneMailAndSourceLocks: delivered and failed mail goes after its
// retention, pending mail never; ended per-source locks go, live ones stay.
func TestPruneMailAndSourceLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := mustStore(t)
	var uid string
	ok(t, db.GetContext(ctx, &uid, `WITH t AS (INSERT INTO tenants (slug) VALUES ('acme') RETURNING id)
		INSERT INTO users (tenant_id, email) SELECT id, 'ann@example.com' FROM t RETURNING id`))
	for _, stmt := range []string{
		`INSERT INTO mail_outbox (kind, sent_at) VALUES ('reset', now() - interval '8 days'), ('reset', now() - interval '1 day')`,
		`INSERT INTO mail_outbox (kind, failed_at) VALUES ('reset', now() - interval '9 days')`,
		`INSERT INTO mail_outbox (kind, created_at) VALUES ('reset', now() - interval '30 days')`,
		`INSERT INTO login_source_locks (user_id, source, locked_until) VALUES ($1, 'a', now() - interval '1 minute'), ($1, 'b', now() + interval '5 minutes')`,
	} {
		var err error
		if strings.Contains(stmt, "$1") {
			_, err = db.ExecContext(ctx, stmt, uid)
		} else {
			_, err = db.ExecContext(ctx, stmt)
		}
		ok(t, err)
	}
	now := time.Now()
	for _, tc := range []struct {
		kind   string
		cutoff time.Time
		want   int64
	}{
		{core.PruneMailOutbox, now.Add(-core.MailOutboxRetention), 2},
		{core.PruneSourceLocks, now, 1},
	} {
		n, err := s.CountPrunable(ctx, tc.kind, tc.cutoff)
		ok(t, err)
		got, err := s.PruneBatch(ctx, tc.kind, tc.cutoff, 1)
		ok(t, err)
		again, err := s.PruneBatch(ctx, tc.kind, tc.cutoff, 10)
		ok(t, err)
		if n[0].Rows != tc.want || got[0].Rows != 1 || got[0].Rows+again[0].Rows != tc.want {
			t.Fatalf("%s: counted %d, pruned %d then %d; want %d in all, batches of at most 1", tc.kind, n[0].Rows, got[0].Rows, again[0].Rows, tc.want)
		}
	}
	var mail, locks int
	ok(t, db.GetContext(ctx, &mail, `SELECT count(*) FROM mail_outbox`))
	ok(t, db.GetContext(ctx, &locks, `SELECT count(*) FROM login_source_locks WHERE source = 'b'`))
	if mail != 2 || locks != 1 {
		t.Fatalf("left %d mails (want the recent and the pending one) and %d live locks (want 1)", mail, locks)
	}
}

// TestMaintenanceStoreRefusesStrangers: unknown kinds and names that are not
// month partitions are refused, and a partition an operator attached by
// hand is never listed (so never dropped).
func TestMaintenanceStoreRefusesStrangers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, db := mustStore(t)
	if _, err := s.PruneBatch(ctx, "users", time.Now(), 10); err == nil {
		t.Error("PruneBatch of an unknown kind succeeded")
	}
	if _, err := s.CountPrunable(ctx, "users", time.Now()); err == nil {
		t.Error("CountPrunable of an unknown kind succeeded")
	}
	for _, name := range []string{"users", "user_login_events_default", "user_login_events_y2026m1", `user_login_events_y2026m01"; DROP TABLE users; --`} {
		if _, err := s.DropAuditPartition(ctx, name); err == nil {
			t.Errorf("DropAuditPartition(%q) succeeded", name)
		}
		if _, err := s.CountAuditPartition(ctx, name); err == nil {
			t.Errorf("CountAuditPartition(%q) succeeded", name)
		}
	}
	for _, stmt := range []string{
		`CREATE TABLE user_login_events_archive PARTITION OF user_login_events FOR VALUES FROM ('1990-01-01') TO ('1991-01-01')`,
		`CREATE TABLE user_login_events_y1999m13 PARTITION OF user_login_events FOR VALUES FROM ('1992-01-01') TO ('1992-02-01')`,
	} {
		_, err := db.ExecContext(ctx, stmt)
		ok(t, err)
	}
	parts, err := s.AuditPartitions(ctx)
	ok(t, err)
	for _, p := range parts {
		if p.Name == "user_login_events_archive" || p.Name == "user_login_events_y1999m13" {
			t.Fatalf("AuditPartitions lists %s, which is not a month partition", p.Name)
		}
	}
	if len(parts) == 0 {
		t.Fatal("AuditPartitions lists nothing")
	}
}
