package postgres_test

import (
	"context"
	"io/fs"
	"strconv"
	"testing"

	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/testenv"
	"github.com/idp-dev/idp/migrations"
)

var ourTables = []string{
	"tenants", "users", "user_profiles", "sessions", "refresh_tokens",
	"signing_keys", "user_login_events", "password_reset_tokens",
	"login_source_locks", "mail_outbox", "rsa_signing_keys", "roles",
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mustOpen(t, testenv.Postgres(t))
	m, err := postgres.NewMigrator(db.DB)
	ok(t, err)
	files, err := fs.Glob(migrations.FS, "*.sql")
	ok(t, err)
	total := len(files)
	// Versions by file name: a number may be missing while the branch
	// that takes it isn't merged yet.
	versions := make([]int64, total)
	for i, f := range files {
		n, err := strconv.ParseInt(f[:4], 10, 64)
		ok(t, err)
		versions[i] = n
	}

	tables := func() int {
		t.Helper()
		var n int
		ok(t, db.GetContext(ctx, &n, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = 'public' AND table_name = ANY ($1)`, ourTables))
		return n
	}
	status := func(applied bool) {
		t.Helper()
		st, err := m.Status(ctx)
		ok(t, err)
		if len(st) != total {
			t.Fatalf("Status lists %d migrations, want %d", len(st), total)
		}
		for i, s := range st {
			if s.Version != versions[i] || s.Name == "" || s.Applied != applied {
				t.Fatalf("Status[%d] = %+v, want version %d applied=%v", i, s, versions[i], applied)
			}
		}
	}
	pending := func(want int) {
		t.Helper()
		n, err := m.Pending(ctx)
		ok(t, err)
		if n != want {
			t.Fatalf("Pending = %d, want %d", n, want)
		}
	}

	status(false)
	pending(total)

	up, err := m.Up(ctx)
	ok(t, err)
	if len(up) != total {
		t.Fatalf("Up applied %d, want %d", len(up), total)
	}
	for _, s := range up {
		if !s.Applied {
			t.Fatalf("Up result %+v not applied", s)
		}
	}
	status(true)
	pending(0)
	if n := tables(); n != len(ourTables) {
		t.Fatalf("after Up %d of our tables exist, want %d", n, len(ourTables))
	}

	again, err := m.Up(ctx)
	ok(t, err)
	if len(again) != 0 {
		t.Fatalf("second Up applied %d, want 0", len(again))
	}

	if _, err := m.Down(ctx, 0); err == nil {
		t.Fatal("Down(0) succeeded, want an error")
	}
	down, err := m.Down(ctx, 2)
	ok(t, err)
	if len(down) != 2 || down[0].Version != versions[total-1] || down[1].Version != versions[total-2] || down[0].Applied {
		t.Fatalf("Down(2) = %+v, want the newest two rolled back", down)
	}
	pending(2)

	// More steps than applied migrations stops at zero.
	down, err = m.Down(ctx, 10)
	ok(t, err)
	if len(down) != total-2 {
		t.Fatalf("Down(10) rolled back %d, want %d", len(down), total-2)
	}
	pending(total)
	status(false)
	if n := tables(); n != 0 {
		t.Fatalf("after Down to zero %d of our tables remain", n)
	}
	var fns int
	ok(t, db.GetContext(ctx, &fns, `SELECT count(*) FROM pg_proc WHERE proname = 'user_login_events_append_only'`))
	if fns != 0 {
		t.Fatal("append-only trigger function survived Down")
	}

	up, err = m.Up(ctx)
	ok(t, err)
	if len(up) != total || tables() != len(ourTables) {
		t.Fatalf("Up after Down applied %d", len(up))
	}
}

func TestMigratorUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := deadDB(t)
	m, err := postgres.NewMigrator(db.DB)
	ok(t, err)
	if _, err := m.Up(ctx); err == nil {
		t.Fatal("Up on a dead database succeeded")
	}
	if _, err := m.Down(ctx, 1); err == nil {
		t.Fatal("Down on a dead database succeeded")
	}
	if _, err := m.Status(ctx); err == nil {
		t.Fatal("Status on a dead database succeeded")
	}
	if _, err := m.Pending(ctx); err == nil {
		t.Fatal("Pending on a dead database succeeded")
	}
}
