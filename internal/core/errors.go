package core

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies a failure independently of any transport. The HTTP layer and
// the CLI each translate codes with one map, so a rule never knows about
// status codes or exit codes.
type Code string

const (
	EINVALID      Code = "invalid"       // malformed input
	EDENIED       Code = "denied"        // bad credentials or grant; one shape for every cause
	EUNAUTHORIZED Code = "unauthorized"  // missing or bad access token
	EFORBIDDEN    Code = "forbidden"     // authenticated but not allowed
	EWEAKPASSWORD Code = "weak_password" // password policy
	ETHROTTLED    Code = "throttled"     // lockout or rate limit
	ENOTFOUND     Code = "not_found"
	ECONFLICT     Code = "conflict"
	EUNAVAILABLE  Code = "unavailable" // a dependency is down or a queue is full
	EINTERNAL     Code = "internal"

	// OAuth 2.0 / OpenID Connect outcomes that have no equivalent above.
	// Reason may name the detail a face needs (which parameter is not
	// supported).
	EINVALIDCLIENT Code = "invalid_client" // client authentication failed
	EUNSUPPORTED   Code = "unsupported"    // a grant, response type or request object idp doesn't do
	EINVALIDSCOPE  Code = "invalid_scope"  // a scope the client may not ask for
	ELOGINREQUIRED Code = "login_required" // prompt=none, but the user must sign in
	ECONSENT       Code = "consent_needed" // prompt=none, but the user must consent
	EACCESSDENIED  Code = "access_denied"  // the user said no
)

// Error is the error type every core service returns for expected failures.
// Message is safe to show to the caller; Reason is for the audit log only
// (it may reveal, for example, that an email is unknown). Err is the wrapped
// cause and is never shown to a caller.
type Error struct {
	Code       Code
	Message    string
	Reason     string
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted, caller-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err. Errors that are not
// *Error never leak their text: their causes may hold SQL or driver details.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "internal error"
}

// RetryAfter returns how long the caller should wait, if err says so.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
