package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/idp-dev/idp/internal/core"
)

func TestClassify(t *testing.T) {
	pqErr := func(code string) error {
		return fmt.Errorf("wrapped: %w", &pq.Error{Code: pqerror.Code(code), Message: "secret SQL detail"})
	}
	for _, tc := range []struct {
		name string
		err  error
		code core.Code
		msg  string
	}{
		{"nil", nil, "", ""},
		{"no rows", sql.ErrNoRows, core.ENOTFOUND, "user not found"},
		{"wrapped no rows", fmt.Errorf("x: %w", sql.ErrNoRows), core.ENOTFOUND, "user not found"},
		{"unique", pqErr("23505"), core.ECONFLICT, "user already exists"},
		{"check", pqErr("23514"), core.EINVALID, "invalid user"},
		{"foreign key", pqErr("23503"), core.EINVALID, "invalid user"},
		{"not null", pqErr("23502"), core.EINVALID, "invalid user"},
		{"bad utf8", pqErr("22021"), core.EINVALID, "invalid user"},
		{"connection failure", pqErr("08006"), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"admin shutdown", pqErr("57P01"), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"statement timeout", pqErr("57014"), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"too many connections", pqErr("53300"), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"deadlock", pqErr("40P01"), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"lock timeout", pqErr("55P03"), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"other object state", pqErr("55000"), core.EINTERNAL, "internal error"},
		{"no answer", fmt.Errorf("x: %w", errNoAnswer), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"canceled", fmt.Errorf("postgres: %w", context.Canceled), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"syntax", pqErr("42601"), core.EINTERNAL, "internal error"},
		{"net", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}, core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"deadline", context.DeadlineExceeded, core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"bad conn", driver.ErrBadConn, core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"conn done", sql.ErrConnDone, core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"eof", io.EOF, core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"unexpected eof", io.ErrUnexpectedEOF, core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"refused text", errors.New("dial: connection refused"), core.EUNAVAILABLE, "database is temporarily unavailable"},
		{"other", errors.New("something odd"), core.EINTERNAL, "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.err, "user")
			if got := core.ErrorCode(err); got != tc.code {
				t.Fatalf("code = %q (%v), want %q", got, err, tc.code)
			}
			if err == nil {
				return
			}
			if got := core.ErrorMessage(err); got != tc.msg {
				t.Fatalf("message = %q, want %q", got, tc.msg)
			}
			if tc.code != core.ENOTFOUND && !errors.Is(err, tc.err) && !strings.Contains(tc.name, "refused") {
				t.Fatalf("%v does not wrap its cause", err)
			}
			if tc.code == core.EUNAVAILABLE && core.RetryAfter(err) <= 0 {
				t.Fatal("unavailable without RetryAfter")
			}
		})
	}
	// An unclassified error keeps its cause for the log but names what failed.
	if err := classify(errors.New("odd"), "session"); !strings.Contains(err.Error(), "session") {
		t.Fatalf("unclassified error %q lacks context", err)
	}
	if err := classify(errors.New("dial postgres://u:pw@h/db failed"), "session"); strings.Contains(err.Error(), "pw") {
		t.Fatalf("unclassified error %q leaks the URL", err)
	}
}

func TestRedact(t *testing.T) {
	pqe := &pq.Error{Code: "28P01", Message: "password authentication failed for user \"x\""}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("dial tcp: refused"), "dial tcp: refused"},
		{errors.New("cannot parse postgres://u:pw@h/db"), "database connection failed"},
		{errors.New("bad password for u"), "database connection failed"},
		{pqe, pqe.Error()},
	} {
		if got := redact(tc.err).Error(); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if redact(nil) != nil {
		t.Error("redact(nil) != nil")
	}
}

// TestConfigure pins the timeouts every connection gets, and that the
// URL's own settings win.
func TestConfigure(t *testing.T) {
	for _, tc := range []struct {
		url     string
		opts    Options
		connect time.Duration
		stmt    string
		lock    string
		answer  time.Duration
		bad     bool
	}{
		{url: "postgres://h/db", connect: 5 * time.Second, stmt: "5000", lock: "3000", answer: 6 * time.Second},
		{url: "postgres://h/db", opts: Options{ConnectTimeout: 2 * time.Second, StatementTimeout: 2 * time.Second, LockTimeout: time.Second},
			connect: 2 * time.Second, stmt: "2000", lock: "1000", answer: 3 * time.Second},
		{url: "postgres://h/db", opts: Options{StatementTimeout: -1, LockTimeout: -1}, connect: 5 * time.Second},
		{url: "postgres://h/db?connect_timeout=9&statement_timeout=1min&lock_timeout=0", connect: 9 * time.Second,
			stmt: "1min", lock: "0", answer: time.Minute + time.Second},
		{url: "postgres://h/db?connect_timeout=0", opts: Options{ConnectTimeout: time.Second}, connect: time.Second, stmt: "5000", lock: "3000", answer: 6 * time.Second},
		{url: "postgres://h/db?statement_timeout=0", connect: 5 * time.Second, stmt: "0", lock: "3000"},
		{url: "postgres://h/db?statement_timeout=250ms", connect: 5 * time.Second, stmt: "250ms", lock: "3000", answer: 1250 * time.Millisecond},
		{url: "host=h dbname=db statement_timeout=1500", connect: 5 * time.Second, stmt: "1500", lock: "3000", answer: 2500 * time.Millisecond},
		{url: "postgres://h/db?statement_timeout=soon", bad: true},
		{url: "postgres://h/db?statement_timeout=5parsecs", bad: true},
		{url: "postgres://h/db?options=-c%20statement_timeout%3D0", bad: true},
	} {
		t.Run(tc.url, func(t *testing.T) {
			cfg, err := pq.NewConfig(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			answer, err := configure(&cfg, tc.opts)
			if tc.bad {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ConnectTimeout != tc.connect || cfg.Runtime["statement_timeout"] != tc.stmt ||
				cfg.Runtime["lock_timeout"] != tc.lock || answer != tc.answer {
				t.Fatalf("connect %v, statement_timeout %q, lock_timeout %q, answer within %v; want %v %q %q %v",
					cfg.ConnectTimeout, cfg.Runtime["statement_timeout"], cfg.Runtime["lock_timeout"], answer,
					tc.connect, tc.stmt, tc.lock, tc.answer)
			}
		})
	}
}

func TestNewMigratorErrors(t *testing.T) {
	fsys := fstest.MapFS{
		"0001_a.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")},
		"0001_b.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")},
	}
	db, err := sql.Open("postgres", "postgres://127.0.0.1:1/x")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := newMigrator(db, fsys); err == nil {
		t.Fatal("duplicate versions accepted")
	}
}

func TestRowConversions(t *testing.T) {
	// A NULL roles array (impossible under the schema) still yields no nil slice.
	if u := (userRow{}).user(); u.Roles == nil {
		t.Fatal("nil Roles")
	}
}
