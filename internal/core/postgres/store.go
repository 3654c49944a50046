package postgres

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/idp-dev/idp/internal/core"
)

// Store implements core.Store on PostgreSQL.
//
// The SQL lives once, on queries, which runs over any sqlx.ExtContext: the
// pool for autocommit calls on Store, or one *sqlx.Tx inside InTx.
type Store struct {
	queries
	db *sqlx.DB
}

// stmtCache prepares each distinct query once on the pool; database/sql
// then prepares it on each connection the first time it runs there and
// reuses it. Without it lib/pq sends every query unprepared, and PostgreSQL
// spends most of a /me or refresh planning and parsing (profiled with
// perf; docs/capacity.md). The set of queries is fixed by this package's
// code, so the cache stays small.
type stmtCache struct {
	db *sqlx.DB
	mu sync.Mutex
	m  map[string]*sqlx.Stmt
}

// cached returns the statement if it is prepared already.
func (c *stmtCache) cached(query string) *sqlx.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

func (c *stmtCache) get(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st := c.cached(query); st != nil {
		return st, nil
	}
	st, err := c.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if first := c.m[query]; first != nil {
		_ = st.Close()
		return first, nil
	}
	c.m[query] = st
	return st, nil
}

var (
	_ core.Store = (*Store)(nil)
	_ core.Tx    = queries{}
)

// NewStore returns a Store over db, whose migrations must be applied.
func NewStore(db *sqlx.DB) *Store {
	cache := &stmtCache{db: db, m: map[string]*sqlx.Stmt{}}
	return &Store{queries: queries{x: db, cache: cache}, db: db}
}

// InTx runs fn in one READ COMMITTED transaction. It commits when fn returns
// nil and rolls back otherwise, also when fn panics or calls runtime.Goexit
// (t.FailNow), so a connection is never left inside an open transaction.
// fn's error is returned unchanged so a *core.Error from core passes through.
//
// A statement that fails inside fn aborts the transaction in PostgreSQL:
// fn must return that error rather than carry on with tx.
func (s *Store) InTx(ctx context.Context, fn func(tx core.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return classify(err, "transaction")
	}
	finished := false
	defer func() {
		if !finished {
			_ = tx.Rollback()
		}
	}()
	if err := fn(queries{x: tx, cache: s.cache, tx: tx}); err != nil {
		finished = true
		_ = tx.Rollback()
		return err
	}
	finished = true
	return classify(tx.Commit(), "transaction")
}

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	return classify(s.db.PingContext(ctx), "database")
}

// queries implements core.Tx over a pool or a transaction.
type queries struct {
	x     sqlx.ExtContext
	cache *stmtCache
	tx    *sqlx.Tx // set inside InTx
}

// prepared returns query prepared for this pool or transaction, or nil
// when it can't be prepared (the caller then sends it unprepared, and gets
// the same error, if any, from the database).
func (q queries) prepared(ctx context.Context, query string) *sqlx.Stmt {
	if q.cache == nil {
		return nil
	}
	if q.tx != nil {
		// Preparing on the pool here would take a second connection while
		// the transaction holds one: with every connection in a
		// transaction, they would all wait for each other. Run this one
		// unprepared and prepare it on the pool in the background instead.
		st := q.cache.cached(query)
		if st == nil {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, _ = q.cache.get(ctx, query)
			}()
			return nil
		}
		return q.tx.StmtxContext(ctx, st)
	}
	st, err := q.cache.get(ctx, query)
	if err != nil {
		return nil
	}
	return st
}

func (q queries) get(ctx context.Context, what string, dest any, query string, args ...any) error {
	if st := q.prepared(ctx, query); st != nil {
		return classify(st.GetContext(ctx, dest, args...), what)
	}
	return classify(sqlx.GetContext(ctx, q.x, dest, query, args...), what)
}

func (q queries) sel(ctx context.Context, what string, dest any, query string, args ...any) error {
	if st := q.prepared(ctx, query); st != nil {
		return classify(st.SelectContext(ctx, dest, args...), what)
	}
	return classify(sqlx.SelectContext(ctx, q.x, dest, query, args...), what)
}

// exec runs a statement and returns how many rows it changed.
func (q queries) exec(ctx context.Context, what, query string, args ...any) (int, error) {
	var (
		res sql.Result
		err error
	)
	if st := q.prepared(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = q.x.ExecContext(ctx, query, args...)
	}
	if err != nil {
		return 0, classify(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, classify(err, what)
	}
	return int(n), nil
}

// count runs a statement that returns one count.
func (q queries) count(ctx context.Context, what, query string, args ...any) (int, error) {
	var n int
	if err := q.get(ctx, what, &n, query, args...); err != nil {
		return 0, err
	}
	return n, nil
}

// execOne runs a statement that must change a row: none means ENOTFOUND.
func (q queries) execOne(ctx context.Context, what, query string, args ...any) error {
	n, err := q.exec(ctx, what, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return classify(sql.ErrNoRows, what)
	}
	return nil
}

// fillID gives a new row its id in Go, so the caller has it even before the
// INSERT returns.
func fillID(id *uuid.UUID) {
	if *id == uuid.Nil {
		*id = uuid.New()
	}
}

// nullTime makes a zero time NULL, so COALESCE($n, now()) picks the
// database clock.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func uuidPtr(u uuid.NullUUID) *uuid.UUID {
	if !u.Valid {
		return nil
	}
	id := u.UUID
	return &id
}
