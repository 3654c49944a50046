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

func TestWithConnectTimeout(t *testing.T) {
	for _, tc := range []struct {
		url  string
		d    time.Duration
		want string
	}{
		{"postgres://h/db", 0, "postgres://h/db"},
		{"postgres://h/db?sslmode=disable", 3 * time.Second, "postgres://h/db?connect_timeout=3&sslmode=disable"},
		{"postgresql://h/db", 200 * time.Millisecond, "postgresql://h/db?connect_timeout=1"},
		{"postgres://h/db?connect_timeout=9", 3 * time.Second, "postgres://h/db?connect_timeout=9"},
		{"host=h dbname=db", 3 * time.Second, "host=h dbname=db"},
		{"postgres://h/%zz", 3 * time.Second, "postgres://h/%zz"},
	} {
		if got := withConnectTimeout(tc.url, tc.d); got != tc.want {
			t.Errorf("withConnectTimeout(%q, %v) = %q, want %q", tc.url, tc.d, got, tc.want)
		}
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
