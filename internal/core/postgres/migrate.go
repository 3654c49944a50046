package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"

	"github.com/idp-dev/idp/migrations"
)

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version int64  `json:"version"`
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
}

// Migrator applies the embedded migrations with goose.
type Migrator struct {
	provider *goose.Provider
}

// NewMigrator prepares the embedded migrations for db.
func NewMigrator(db *sql.DB) (*Migrator, error) {
	return newMigrator(db, migrations.FS)
}

func newMigrator(db *sql.DB, fsys fs.FS) (*Migrator, error) {
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSlog(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{provider: p}, nil
}

// Up applies every pending migration and returns the versions applied.
func (m *Migrator) Up(ctx context.Context) ([]MigrationStatus, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", redact(err))
	}
	return results(res), nil
}

// Down rolls back the newest steps migrations (all of them when steps <= 0
// is not allowed: callers pass at least 1).
func (m *Migrator) Down(ctx context.Context, steps int) ([]MigrationStatus, error) {
	if steps < 1 {
		return nil, errors.New("steps must be at least 1")
	}
	var done []MigrationStatus
	for i := 0; i < steps; i++ {
		res, err := m.provider.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			break
		}
		if err != nil {
			return done, fmt.Errorf("roll back migration: %w", redact(err))
		}
		done = append(done, results([]*goose.MigrationResult{res})...)
	}
	return done, nil
}

// Status lists every known migration with whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("read migration status: %w", redact(err))
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStatus{
			Version: s.Source.Version,
			Name:    s.Source.Path,
			Applied: s.State == goose.StateApplied,
		})
	}
	return out, nil
}

// Pending returns how many migrations are not applied yet.
func (m *Migrator) Pending(ctx context.Context) (int, error) {
	st, err := m.Status(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range st {
		if !s.Applied {
			n++
		}
	}
	return n, nil
}

func results(res []*goose.MigrationResult) []MigrationStatus {
	out := make([]MigrationStatus, 0, len(res))
	for _, r := range res {
		out = append(out, MigrationStatus{Version: r.Source.Version, Name: r.Source.Path, Applied: r.Direction == "up"})
	}
	return out
}
