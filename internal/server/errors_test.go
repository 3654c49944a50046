package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/httperr"
)

// newBareServer is a Server without services, for what needs no core:
// error rendering, decoding, routing, middleware.
func newBareServer(t *testing.T, opts Options) (*Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	}
	return New(opts), &logs
}

// errCause is what a store might wrap: it must reach the log, never the body.
var errCause = errors.New(`pq: relation "users" does not exist SELECT password_hash FROM users`)

func TestErrorMap(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		desc       string
		wwwAuth    bool
		retryAfter string
		logged     bool
	}{
		{"invalid", core.Errorf(core.EINVALID, "email is required"), 400, "invalid_request", "email is required", false, "", false},
		{"denied", &core.Error{Code: core.EDENIED, Message: "invalid email or password", Reason: core.ReasonUnknownEmail}, 400, "invalid_grant", "invalid email or password", false, "", false},
		{"unauthorized", core.Errorf(core.EUNAUTHORIZED, "bad token"), 401, "invalid_token", "bad token", true, "", false},
		{"forbidden", core.Errorf(core.EFORBIDDEN, "no"), 403, "forbidden", "no", false, "", false},
		{"weak", core.Errorf(core.EWEAKPASSWORD, "Use at least 12 characters."), 400, "weak_password", "Use at least 12 characters.", false, "", false},
		{"throttled", &core.Error{Code: core.ETHROTTLED, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429, "too_many_attempts", "slow down", false, "2", false},
		{"throttled sub-second", &core.Error{Code: core.ETHROTTLED, Message: "slow down", RetryAfter: 10 * time.Millisecond}, 429, "too_many_attempts", "slow down", false, "1", false},
		{"throttled no hint", &core.Error{Code: core.ETHROTTLED, Message: "slow down"}, 429, "too_many_attempts", "slow down", false, "1", false},
		{"throttled minutes", &core.Error{Code: core.ETHROTTLED, Message: "locked", RetryAfter: 15 * time.Minute}, 429, "too_many_attempts", "locked", false, "900", false},
		{"not found", core.Errorf(core.ENOTFOUND, "no user"), 404, "not_found", "no user", false, "", false},
		{"conflict", core.Errorf(core.ECONFLICT, "exists"), 409, "conflict", "exists", false, "", false},
		{"unavailable", &core.Error{Code: core.EUNAVAILABLE, Message: "database is temporarily unavailable", RetryAfter: 2 * time.Second, Err: errCause}, 503, "temporarily_unavailable", "database is temporarily unavailable", false, "2", true},
		{"internal", &core.Error{Code: core.EINTERNAL, Message: "could not hash password", Err: errCause}, 500, "server_error", "internal error", false, "", true},
		{"unknown code", &core.Error{Code: "bogus", Message: "secret detail", Err: errCause}, 500, "server_error", "internal error", false, "", true},
		{"plain error", errCause, 500, "server_error", "internal error", false, "", true},
		{"wrapped core error", fmt.Errorf("login: %w", core.Errorf(core.EDENIED, "nope")), 400, "invalid_grant", "nope", false, "", false},
		{"too large", errBodyTooLarge, 413, "invalid_request", errBodyTooLarge.Message, false, "", false},
		{"content type", errContentType, 415, "invalid_request", errContentType.Message, false, "", false},
		{"no route", errNotFound, 404, "not_found", errNotFound.Message, false, "", false},
		{"method", errMethod, 405, "method_not_allowed", errMethod.Message, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newBareServer(t, Options{})
			w := httptest.NewRecorder()
			s.writeError(w, httptest.NewRequest("GET", "/", nil), tt.err)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if len(body) != 2 || body["error"] != tt.code || body["error_description"] != tt.desc {
				t.Fatalf("body %v, want error %q description %q", body, tt.code, tt.desc)
			}
			if strings.Contains(w.Body.String(), "pq:") || strings.Contains(w.Body.String(), "SELECT") {
				t.Fatalf("body leaks the errCause: %s", w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); (got == `Bearer error="invalid_token"`) != tt.wwwAuth || (got != "") != tt.wwwAuth {
				t.Fatalf("WWW-Authenticate %q", got)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if got := strings.Contains(logs.String(), "pq: relation"); got != tt.logged {
				t.Fatalf("errCause logged = %v, want %v; logs %s", got, tt.logged, logs)
			}
		})
	}
}

// Every core code is in the map, so a new code can't silently become 500.
func TestErrorMapCoversEveryCode(t *testing.T) {
	for _, c := range []core.Code{core.EINVALID, core.EDENIED, core.EUNAUTHORIZED, core.EFORBIDDEN, core.EWEAKPASSWORD,
		core.ETHROTTLED, core.ENOTFOUND, core.ECONFLICT, core.EUNAVAILABLE} {
		if _, ok := httperr.Codes()[c]; !ok {
			t.Errorf("code %q is not mapped", c)
		}
	}
	if _, ok := httperr.Codes()[core.EINTERNAL]; ok {
		t.Error("EINTERNAL must fall through to server_error")
	}
}

// A failure after the handler has started its response can't change the
// status; it is logged and nothing more is written.
func TestErrorAfterPartialWrite(t *testing.T) {
	s, logs := newBareServer(t, Options{})
	w := httptest.NewRecorder()
	rec := &statusRecorder{ResponseWriter: w}
	rec.WriteHeader(http.StatusOK)
	_, _ = rec.Write([]byte("{}"))
	s.writeError(rec, httptest.NewRequest("GET", "/", nil), errCause)
	if w.Body.String() != "{}" {
		t.Fatalf("body %q", w.Body)
	}
	if !strings.Contains(logs.String(), "pq: relation") {
		t.Fatal("not logged")
	}
}
