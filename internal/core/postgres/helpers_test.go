package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/testenv"
)

// mustOpenMigrated returns a connection to a fresh database holding the
// whole schema; it is closed and dropped when the test ends.
func mustOpenMigrated(t testing.TB) *sqlx.DB {
	t.Helper()
	db, _ := mustOpenMigratedURL(t)
	return db
}

// mustOpenMigratedURL is mustOpenMigrated that also returns the database URL.
func mustOpenMigratedURL(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	url := testenv.Postgres(t)
	db := mustOpen(t, url)
	m, err := postgres.NewMigrator(db.DB)
	if err != nil {
		t.Fatalf("NewMigrator: %v", err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	return db, url
}

// mustOpen connects to url; the pool is small because many tests share one
// server.
func mustOpen(t testing.TB, url string) *sqlx.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{MaxOpenConns: 30, ConnectTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustStore(t testing.TB) (*postgres.Store, *sqlx.DB) {
	t.Helper()
	db := mustOpenMigrated(t)
	return postgres.NewStore(db), db
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantCode checks err's code, and that its caller-safe message holds no SQL
// or driver text.
func wantCode(t testing.TB, err error, code core.Code) {
	t.Helper()
	if got := core.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	msg := core.ErrorMessage(err)
	for _, bad := range []string{"pq:", "SELECT", "INSERT", "UPDATE", "violates", "constraint", "dial", "127.0.0.1"} {
		if strings.Contains(msg, bad) {
			t.Fatalf("message %q leaks %q", msg, bad)
		}
	}
}

func wantMessage(t testing.TB, err error, msg string) {
	t.Helper()
	if got := core.ErrorMessage(err); got != msg {
		t.Fatalf("message = %q, want %q", got, msg)
	}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// at is a fixed instant with whole microseconds, as PostgreSQL stores them.
func at(minutes int) time.Time {
	return time.Date(2021, 1, 2, 3, 4, 5, 6000, time.UTC).Add(time.Duration(minutes) * time.Minute)
}

func mustTenant(t testing.TB, s core.Tx, slug string) core.Tenant {
	t.Helper()
	tn := core.Tenant{Slug: slug, Name: strings.ToUpper(slug)}
	ok(t, s.CreateTenant(context.Background(), &tn))
	return tn
}

func mustUser(t testing.TB, s core.Tx, tenant uuid.UUID, email string, mod ...func(*core.User)) core.User {
	t.Helper()
	u := core.User{TenantID: tenant, Email: email, PasswordHash: "$2a$10$hash", Status: core.UserActive, Roles: []string{}}
	for _, f := range mod {
		f(&u)
	}
	ok(t, s.CreateUser(context.Background(), &u))
	return u
}

func mustSession(t testing.TB, s core.Tx, u core.User, mod ...func(*core.Session)) core.Session {
	t.Helper()
	se := core.Session{UserID: u.ID, TenantID: u.TenantID, ExpiresAt: at(600), IdleExpiresAt: at(60)}
	for _, f := range mod {
		f(&se)
	}
	ok(t, s.CreateSession(context.Background(), &se))
	return se
}

func mustRefresh(t testing.TB, s core.Tx, se core.Session, token string, parent *uuid.UUID) core.RefreshToken {
	t.Helper()
	rt := core.RefreshToken{SessionID: se.ID, ParentID: parent, Hash: hash(token), ExpiresAt: at(600)}
	ok(t, s.CreateRefreshToken(context.Background(), &rt))
	return rt
}

func ptr[T any](v T) *T { return &v }

var errBoom = errors.New("boom")
