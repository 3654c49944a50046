package pgscale_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core/postgres"
	"github.com/idp-dev/idp/internal/pgscale"
	"github.com/idp-dev/idp/internal/testenv"
)

// smallSet is realistic in shape, small in size: enough rows that a
// sequential scan costs the planner more than an index lookup once
// ANALYZE has counted them (the test below proves it by dropping indexes).
var smallSet = pgscale.Sizes{
	Tenants: 20, Users: 4000, Sessions: 12000, Tokens: 40000, AuditRows: 20000, ResetTokens: 20000,
	PasswordHash: "$2a$04$abcdefghijklmnopqrstuu0123456789012345678901234567890", Replay: make([]byte, 600), Seed: 1,
}

func setup(t *testing.T) (*sqlx.DB, *pgscale.Recorder, pgscale.Probe) {
	t.Helper()
	ctx := context.Background()
	// Generating and ANALYZEing the set is bulk work: on a loaded CI
	// machine it can take longer than the store's 5 s statement timeout,
	// which guards requests, not fixtures.
	url := testenv.Postgres(t) + "&statement_timeout=0&lock_timeout=0"
	db, err := postgres.Open(ctx, url, postgres.Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := postgres.NewMigrator(db.DB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pgscale.Generate(ctx, db, smallSet, nil); err != nil {
		t.Fatal(err)
	}
	probe, err := pgscale.PickProbe(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cap, rec, err := pgscale.OpenCapture(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cap.Close() })
	return cap, rec, probe
}

// TestHotQueryPlans: every hot query of the store (login, /me, refresh,
// revocation, reset, audit listing, the janitor) runs as an index scan on
// ANALYZEd data, using the index it was written for. Only tenants, 20 rows
// on one page here, may be read sequentially.
func TestHotQueryPlans(t *testing.T) {
	t.Parallel()
	db, rec, probe := setup(t)
	checks, err := pgscale.RunChecks(context.Background(), db, rec, probe)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if len(c.Problems) > 0 {
			t.Errorf("%s: %s", c.Name, strings.Join(c.Problems, "; "))
		}
	}
}

// TestHotQueryPlansCatchAMissingIndex makes sure the data set is big
// enough for the check to mean something: without its index, a hot query
// falls back to a sequential scan and the check reports it.
func TestHotQueryPlansCatchAMissingIndex(t *testing.T) {
	t.Parallel()
	db, rec, probe := setup(t)
	ctx := context.Background()
	for _, stmt := range []string{
		`DROP INDEX users_tenant_email_key`,
		`DROP INDEX sessions_user_live_idx`,
		`ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_token_hash_key`,
		`ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	checks, err := pgscale.RunChecks(ctx, db, rec, probe)
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, c := range checks {
		failed[c.Name] = strings.Join(c.Problems, "; ")
	}
	// Without users_tenant_email_key the planner still has an index on
	// the tenant; the check then reports that the wanted index went unused.
	for name, want := range map[string]string{
		"login: user by email":      "no index matching ^users_tenant_email_key$",
		"revoke: user's sessions":   "sequential scan of sessions",
		"refresh: spend and rotate": "sequential scan of refresh_tokens",
		"refresh: replay lookup":    "sequential scan of refresh_tokens",
	} {
		if !strings.Contains(failed[name], want) {
			t.Errorf("%s without its index: problems %q, want %q", name, failed[name], want)
		}
	}
}
