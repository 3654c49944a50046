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
	"time"

	"github.com/lib/pq"

	"github.com/idp-dev/idp/internal/core"
)

// redact keeps the class of a driver error but drops any text that could
// hold a connection string.
func redact(err error) error {
	if err == nil {
		return nil
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return err // server messages hold no credentials
	}
	msg := err.Error()
	if strings.Contains(msg, "://") || strings.Contains(msg, "password") {
		return errors.New("database connection failed")
	}
	return err
}

// classify turns a driver error into a core.Error with the code callers act
// on. Messages name only what (a "user", a "session"): never SQL or driver
// text, which stays in Err for the logs.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &core.Error{Code: core.ENOTFOUND, Message: what + " not found"}
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code.Class() {
		case "23": // integrity constraint violation
			if pqErr.Code == "23505" {
				return &core.Error{Code: core.ECONFLICT, Message: what + " already exists", Err: err}
			}
			return &core.Error{Code: core.EINVALID, Message: "invalid " + what, Err: err}
		case "22": // data exception: a NUL byte or bad UTF-8 in input is the caller's fault, not a 500
			return &core.Error{Code: core.EINVALID, Message: "invalid " + what, Err: err}
		case "08", "57", "53", "40":
			// Connection, operator intervention (shutdown, statement
			// timeout), resources, and deadlock/serialization: all pass.
			return unavailable(err)
		}
		if pqErr.Code == "55P03" { // lock_timeout: a row stayed locked too long
			return unavailable(err)
		}
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, errNoAnswer) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection refused") {
		return unavailable(redact(err))
	}
	return fmt.Errorf("postgres: %s: %w", what, redact(err))
}

func unavailable(err error) *core.Error {
	return &core.Error{Code: core.EUNAVAILABLE, Message: "database is temporarily unavailable", RetryAfter: 2 * time.Second, Err: err}
}
