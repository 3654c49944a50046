// Package postgres implements core.Store on PostgreSQL with sqlx and lib/pq,
// and runs the embedded schema migrations.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Options tune the connection pool. Zero values take the defaults below.
type Options struct {
	MaxOpenConns int
	MaxIdleConns int
	// ConnectTimeout bounds a new connection, handshake included, so an
	// unreachable or hung database gives a quick 503 instead of a hung
	// request. Zero means 5 s. A connect_timeout in the URL wins.
	ConnectTimeout time.Duration
	// StatementTimeout is PostgreSQL's statement_timeout on every
	// connection. Zero means 5 s; negative means none. A statement_timeout
	// in the URL wins.
	StatementTimeout time.Duration
	// LockTimeout is PostgreSQL's lock_timeout on every connection: how
	// long a statement waits for a row lock. Zero means 3 s; negative means
	// none. A lock_timeout in the URL wins.
	LockTimeout time.Duration
}

const (
	defaultConnectTimeout   = 5 * time.Second
	defaultStatementTimeout = 5 * time.Second
	defaultLockTimeout      = 3 * time.Second
	// answerMargin is how much longer than statement_timeout the client
	// waits for an answer. A server that is alive cancels the statement
	// itself and says so; one that stays silent past the margin is hung
	// (stopped, partitioned away) and the connection is given up.
	answerMargin = time.Second
)

// Open connects to url and checks the connection. The URL may hold a
// password: it is never part of a returned error.
//
// Every round trip to the server is bounded: by its context, and by
// statement_timeout plus a margin when that is set. When either ends first
// the connection's socket is closed, the call returns, and the pool drops
// the connection. lib/pq alone can't do this: on a cancelled context it
// sends PostgreSQL a cancel request and waits for the server to abort the
// query, which a stopped (SIGSTOP, hung host) server never does, so the
// request would wait forever (docs/operations.md, "Database timeouts").
func Open(ctx context.Context, url string, opts Options) (*sqlx.DB, error) {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		// The parser's error may quote the URL, password included.
		return nil, fmt.Errorf("open database: invalid database.url")
	}
	bound, err := configure(&cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("open database: database.url: %w", err)
	}
	pc, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: invalid database.url")
	}
	c := &connector{pq: pc, answerWithin: bound, connectTimeout: cfg.ConnectTimeout}
	pc.Dialer(&dialer{net: net.Dialer{KeepAlive: 30 * time.Second}, timeout: cfg.ConnectTimeout})

	db := sqlx.NewDb(sql.OpenDB(c), "postgres")
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

// configure applies the connect, statement and lock timeouts of opts to
// cfg where the URL sets none, and returns how long a round trip may go
// unanswered (zero: only its context bounds it).
func configure(cfg *pq.Config, opts Options) (time.Duration, error) {
	// lib/pq clears the handshake deadline only when connect_timeout is
	// set, and bounds its cancel requests by it: it is always set.
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = orDefault(opts.ConnectTimeout, defaultConnectTimeout)
	}
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	if strings.Contains(cfg.Options, "statement_timeout") {
		return 0, errors.New("set statement_timeout as a URL parameter, not in options")
	}
	for _, s := range []struct {
		name string
		d    time.Duration
		def  time.Duration
	}{
		{"statement_timeout", opts.StatementTimeout, defaultStatementTimeout},
		{"lock_timeout", opts.LockTimeout, defaultLockTimeout},
	} {
		if _, set := cfg.Runtime[s.name]; set {
			continue
		}
		if d := orDefault(s.d, s.def); d > 0 {
			cfg.Runtime[s.name] = strconv.FormatInt(d.Milliseconds(), 10)
		}
	}
	stmt, ok := settingDuration(cfg.Runtime["statement_timeout"])
	if !ok {
		return 0, errors.New("statement_timeout is not a PostgreSQL duration (such as 5000, 5s or 1min)")
	}
	if stmt == 0 {
		return 0, nil
	}
	return stmt + answerMargin, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return max(d, 0)
}

// settingDuration parses a PostgreSQL time setting: a number, milliseconds
// by default, with an optional unit. Empty is 0 (off).
func settingDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, "ms"
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := units[unit]
	if !ok {
		return 0, false
	}
	return time.Duration(n * float64(u)), true
}

// dialer dials PostgreSQL for lib/pq. A connection dialed for the pool is
// handed to the connector through the dial context (see socketSlot); any
// other dial is one of lib/pq's cancel requests, which reads until the
// server closes: its deadline bounds it when the server is hung.
type dialer struct {
	net     net.Dialer
	timeout time.Duration
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d *dialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nc, err := d.net.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if slot, ok := ctx.Value(socketSlotKey{}).(*socketSlot); ok {
		slot.put(nc)
		return nc, nil
	}
	if err := nc.SetDeadline(time.Now().Add(d.timeout)); err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// socketSlot receives the socket of a connection being opened, so that
// the connection can be given up later by closing it.
type socketSlot struct {
	mu     sync.Mutex
	nc     net.Conn
	closed bool
}

type socketSlotKey struct{}

func (s *socketSlot) put(nc net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close()
		return
	}
	s.nc = nc // lib/pq may dial again (sslmode prefer, several hosts): the last one is the connection
}

func (s *socketSlot) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.nc != nil {
		s.nc.Close()
	}
}

// connector opens lib/pq connections that give up on a hung server.
type connector struct {
	pq             *pq.Connector
	answerWithin   time.Duration
	connectTimeout time.Duration
	// hungAt is when a round trip last went unanswered (UnixNano). Every
	// connection idle since before then is as suspect as the one that hung,
	// so the pool drops it instead of trying each in turn.
	hungAt atomic.Int64
}

// pqConn is what lib/pq's connection implements and database/sql uses.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

func (c *connector) Driver() driver.Driver { return c.pq.Driver() }

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	// lib/pq bounds the handshake by connect_timeout but not by ctx: a
	// /readyz probe with a 1 s deadline would wait the whole timeout.
	slot := &socketSlot{}
	stop := context.AfterFunc(ctx, slot.close)
	dc, err := c.pq.Connect(context.WithValue(ctx, socketSlotKey{}, slot))
	if !stop() && err == nil {
		dc.Close()
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	pc, ok := dc.(pqConn)
	if !ok || slot.nc == nil {
		dc.Close()
		return nil, errors.New("postgres: unexpected lib/pq connection")
	}
	cn := &conn{pqConn: pc, c: c, socket: slot.nc}
	cn.answeredAt.Store(time.Now().UnixNano())
	return cn, nil
}

// conn is a lib/pq connection whose every round trip is guarded.
type conn struct {
	pqConn
	c          *connector
	socket     net.Conn
	dead       atomic.Bool
	answeredAt atomic.Int64 // UnixNano of the last round trip that ended in time
}

// errNoAnswer reports a round trip abandoned because the server stayed
// silent past statement_timeout and the margin.
var errNoAnswer = errors.New("postgres: no answer within the statement timeout; connection dropped")

// guard bounds one round trip by ctx and by the connector's answer time.
// When either ends first, the socket is closed, which makes lib/pq's
// blocked read or write return; the connection is then dead and the pool
// drops it. done reports the round trip's end and turns a call's error
// into one that says why it was cut short.
func (cn *conn) guard(ctx context.Context) (done func(error) error) {
	if ctx.Err() != nil {
		cn.abandon()
		return func(error) error { return fmt.Errorf("postgres: %w", ctx.Err()) }
	}
	var hung atomic.Bool
	stopCtx := context.AfterFunc(ctx, cn.abandon)
	var timer *time.Timer
	if cn.c.answerWithin > 0 {
		timer = time.AfterFunc(cn.c.answerWithin, func() {
			hung.Store(true)
			cn.c.hungAt.Store(time.Now().UnixNano())
			cn.abandon()
		})
	}
	return func(err error) error {
		inTime := stopCtx()
		if timer != nil && !timer.Stop() {
			inTime = false
		}
		if inTime {
			cn.answeredAt.Store(time.Now().UnixNano())
			return err
		}
		cn.dead.Store(true)
		if hung.Load() {
			return errNoAnswer
		}
		if ctx.Err() != nil {
			return fmt.Errorf("postgres: %w", ctx.Err())
		}
		return err
	}
}

func (cn *conn) abandon() {
	cn.dead.Store(true)
	cn.socket.Close()
}

// usable reports whether the pool may hand this connection out again.
func (cn *conn) usable() bool {
	return !cn.dead.Load() && cn.answeredAt.Load() > cn.c.hungAt.Load()
}

func (cn *conn) ResetSession(ctx context.Context) error {
	if !cn.usable() {
		return driver.ErrBadConn
	}
	return cn.pqConn.ResetSession(ctx)
}

func (cn *conn) IsValid() bool { return cn.usable() && cn.pqConn.IsValid() }

func (cn *conn) Close() error {
	err := cn.pqConn.Close()
	cn.socket.Close()
	return err
}

func (cn *conn) Ping(ctx context.Context) error {
	done := cn.guard(ctx)
	return done(cn.pqConn.Ping(ctx))
}

func (cn *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	done := cn.guard(ctx)
	res, err := cn.pqConn.ExecContext(ctx, query, args)
	return res, done(err)
}

func (cn *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	done := cn.guard(ctx)
	rows, err := cn.pqConn.QueryContext(ctx, query, args)
	return wrapRows(rows, err, done)
}

func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	done := cn.guard(ctx)
	st, err := cn.pqConn.PrepareContext(ctx, query)
	if err = done(err); err != nil {
		return nil, err
	}
	if _, ok := st.(pqStmt); !ok {
		return st, nil // COPY FROM STDIN, which this package doesn't use
	}
	return &stmt{Stmt: st, cn: cn}, nil
}

func (cn *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	done := cn.guard(ctx)
	tx, err := cn.pqConn.BeginTx(ctx, opts)
	if err = done(err); err != nil {
		return nil, err
	}
	return &txn{Tx: tx, cn: cn, ctx: ctx}, nil
}

// txn guards COMMIT and ROLLBACK, which database/sql calls without a
// context, by the transaction's context.
type txn struct {
	driver.Tx
	cn  *conn
	ctx context.Context
}

func (t *txn) Commit() error {
	done := t.cn.guard(t.ctx)
	return done(t.Tx.Commit())
}

func (t *txn) Rollback() error {
	done := t.cn.guard(t.ctx)
	return done(t.Tx.Rollback())
}

// pqStmt is what lib/pq's prepared statement implements.
type pqStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

type stmt struct {
	driver.Stmt
	cn *conn
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	done := s.cn.guard(ctx)
	res, err := s.Stmt.(pqStmt).ExecContext(ctx, args)
	return res, done(err)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	done := s.cn.guard(ctx)
	rows, err := s.Stmt.(pqStmt).QueryContext(ctx, args)
	return wrapRows(rows, err, done)
}

// Close deallocates the statement on the server: a round trip too.
func (s *stmt) Close() error {
	if s.cn.dead.Load() {
		return driver.ErrBadConn
	}
	done := s.cn.guard(context.Background())
	return done(s.Stmt.Close())
}

// pqRows is what lib/pq's result set implements.
type pqRows interface {
	driver.Rows
	driver.RowsNextResultSet
	driver.RowsColumnTypeScanType
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypePrecisionScale
}

// rows keeps its query's guard until it is closed: reading rows is part
// of the round trip.
type rows struct {
	pqRows
	done func(error) error
	once sync.Once
	err  error
}

func wrapRows(r driver.Rows, err error, done func(error) error) (driver.Rows, error) {
	if err != nil {
		return nil, done(err)
	}
	pr, ok := r.(pqRows)
	if !ok {
		_ = done(r.Close())
		return nil, errors.New("postgres: unexpected lib/pq rows")
	}
	return &rows{pqRows: pr, done: done}, nil
}

func (r *rows) Close() error {
	err := r.pqRows.Close()
	r.once.Do(func() { r.err = r.done(err) })
	return r.err
}
