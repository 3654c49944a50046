package postgres

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/testenv"
)

// A PostgreSQL that stops answering (SIGSTOP: sockets stay open, the
// kernel still accepts connections) must not hang its callers: every round
// trip gives up after statement_timeout plus a margin, or when its context
// ends, the stuck connections leave the pool, and the pool recovers by
// itself when the server continues.
func TestHungServer(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ctx := context.Background()
	const answerWithin = 2 * time.Second // StatementTimeout + the 1 s margin
	url := strings.Replace(pg.URL(), "connect_timeout=2", "connect_timeout=1", 1)
	db, err := Open(ctx, url, Options{MaxOpenConns: 5, MaxIdleConns: 5, StatementTimeout: time.Second, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := NewStore(db)

	// Fill the pool, prepare a statement on it, and leave a transaction
	// open: all of them meet the stopped server.
	warm := make([]*sql.Conn, 4)
	for i := range warm {
		if warm[i], err = db.Conn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range warm {
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	st, err := db.PrepareContext(ctx, "SELECT $1::int")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	pg.Freeze()
	// within runs op and fails the test if it has not returned after
	// limit; a hung call is left behind (Thaw releases it at the end).
	within := func(what string, limit time.Duration, op func() error) error {
		t.Helper()
		start := time.Now()
		errc := make(chan error, 1)
		go func() { errc <- op() }()
		select {
		case err := <-errc:
			if err == nil {
				t.Fatalf("%s succeeded against a stopped server", what)
			}
			t.Logf("%s: %v after %v", what, err, time.Since(start).Round(time.Millisecond))
			return err
		case <-time.After(limit):
			t.Fatalf("%s: no answer after %v from a stopped server", what, limit)
			return nil
		}
	}
	slack := 2 * time.Second

	// A pooled connection cut off by its context (the /readyz case): well
	// before the statement timeout would.
	within("ping with a 300 ms context", 300*time.Millisecond+time.Second, func() error {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		return store.Ping(pctx)
	})
	// A pooled connection with no deadline at all: statement_timeout plus
	// the margin.
	err = within("prepared query", answerWithin+slack, func() error {
		var n int
		return st.QueryRowContext(ctx, 1).Scan(&n)
	})
	if core.ErrorCode(classify(err, "test")) != core.EUNAVAILABLE {
		t.Fatalf("query error %v is not unavailable", err)
	}
	// COMMIT, which database/sql sends without a context.
	err = within("commit", answerWithin+slack, tx.Commit)
	if core.ErrorCode(classify(err, "test")) != core.EUNAVAILABLE {
		t.Fatalf("commit error %v is not unavailable", err)
	}
	// The connections idle since before the hang are dropped unused: the
	// next call opens a new one and fails at the connect timeout, not
	// after a further statement timeout per stale connection.
	for i := 0; i < 3; i++ {
		err = within("query after the hang was seen", 1700*time.Millisecond, func() error {
			_, err := db.ExecContext(ctx, "SELECT 1")
			return err
		})
		if core.ErrorCode(classify(err, "test")) != core.EUNAVAILABLE {
			t.Fatalf("query error %v is not unavailable", err)
		}
	}
	// A new connection is cut off by its context too, not only by
	// connect_timeout (1 s here).
	within("connect with a 300 ms context", 800*time.Millisecond, func() error {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		return store.Ping(pctx)
	})
	err = store.Ping(ctx)
	if code := core.ErrorCode(err); code != core.EUNAVAILABLE {
		t.Fatalf("Ping with the server stopped = %v (%s), want unavailable", err, code)
	}
	if n := db.Stats().InUse; n != 0 {
		t.Fatalf("%d connections still in use with the server stopped", n)
	}

	pg.Thaw()
	deadline := time.Now().Add(10 * time.Second)
	for store.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no recovery 10 s after the server continued")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var n int
	if err := st.QueryRowContext(ctx, 7).Scan(&n); err != nil || n != 7 {
		t.Fatalf("prepared query after recovery = %d, %v", n, err)
	}
}

// lib/pq's cancel requests dial outside the pool and read until the server
// hangs up, which a stopped server never does: the dialer's deadline ends
// them.
func TestDialerBoundsCancelRequests(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, never answer
		}
	}()
	d := &dialer{timeout: 100 * time.Millisecond}
	for name, dial := range map[string]func() (net.Conn, error){
		"Dial":        func() (net.Conn, error) { return d.Dial("tcp", l.Addr().String()) },
		"DialTimeout": func() (net.Conn, error) { return d.DialTimeout("tcp", l.Addr().String(), time.Second) },
	} {
		c, err := dial()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		start := time.Now()
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("%s: read from a silent server = %v after %v, want the dialer's deadline", name, err, time.Since(start))
		}
	}
	if _, err := d.Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
}
