// Package postgres implements core.Store on PostgreSQL with sqlx and lib/pq,
// and runs the embedded schema migrations.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Options tune the connection pool.
type Options struct {
	MaxOpenConns int
	MaxIdleConns int
	// ConnectTimeout bounds how long a new connection may take, so an
	// unreachable database gives a quick 503 instead of a hung request.
	ConnectTimeout time.Duration
}

// Open connects to url and checks the connection. The URL may hold a
// password: it is never part of a returned error.
func Open(ctx context.Context, url string, opts Options) (*sqlx.DB, error) {
	// NewConnector parses the URL now, so a malformed one is reported at
	// startup rather than as a failing first query. Its error may quote the
	// URL, password included, hence the fixed text.
	connector, err := pq.NewConnector(withConnectTimeout(url, opts.ConnectTimeout))
	if err != nil {
		return nil, fmt.Errorf("open database: invalid database.url")
	}
	db := sqlx.NewDb(sql.OpenDB(connector), "postgres")
	if opts.MaxOpenConns > 0 {
		db.SetMaxOpenConns(opts.MaxOpenConns)
	}
	if opts.MaxIdleConns > 0 {
		db.SetMaxIdleConns(opts.MaxIdleConns)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", redact(err))
	}
	return db, nil
}
