package server

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/httperr"
)

// errorMapping is how one core code looks on the wire; the map itself is
// internal/httperr's, shared with the hosted pages.
type errorMapping = httperr.Mapping

// apiError is a failure decided by the transport itself (body too large,
// wrong content type, unknown route), which has no core code.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// Transport-level failures; 413 and 415 use invalid_request as CONTRACT 3 asks.
var (
	errBodyTooLarge = &apiError{http.StatusRequestEntityTooLarge, "invalid_request", "the request body is larger than 64 KiB"}
	errContentType  = &apiError{http.StatusUnsupportedMediaType, "invalid_request", "the request body must be application/json"}
	errNotFound     = &apiError{http.StatusNotFound, "not_found", "no such endpoint"}
	errMethod       = &apiError{http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed for this endpoint"}
)

// errorBody is the RFC 6749 section 5.2 error response.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// describe turns err into status, error code and caller-safe description.
// Causes wrapped in a core.Error never reach the description: core
// messages are written to be shown, causes may hold SQL or driver text.
func describe(err error) (errorMapping, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return errorMapping{Status: ae.Status, Error: ae.Code}, ae.Message
	}
	m, ok := httperr.For(err)
	if !ok {
		return m, "internal error"
	}
	return m, core.ErrorMessage(err)
}

// retryAfterSeconds rounds up, because a client told 0 would retry at once.
func retryAfterSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 1
	}
	return max(1, int64(math.Ceil(d.Seconds())))
}

// writeError writes err as the JSON error body with the headers its code
// requires, and logs failures that are the server's and not the caller's.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	m, desc := describe(err)
	ctx := r.Context()
	if info := requestInfoFrom(ctx); info != nil {
		info.errCode = m.Error
	}
	if m.Status >= 500 {
		level := slog.LevelError
		if m.Status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "request failed", "error", m.Error, "cause", core.Escape(err.Error()))
	}
	if rec, ok := w.(*statusRecorder); ok && rec.wroteHeader {
		// A handler wrote part of a response and then failed: the status
		// is gone, so logging above is all that is left to do.
		return
	}
	h := w.Header()
	switch {
	case m.Error == "invalid_client":
		// RFC 6749 5.2: a client that failed to authenticate is told how.
		h.Set("WWW-Authenticate", `Basic realm="idp", charset="UTF-8"`)
	case m.Status == http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case m.Status == http.StatusTooManyRequests || m.Status == http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(core.RetryAfter(err)), 10))
	}
	writeJSON(w, m.Status, errorBody{Error: m.Error, ErrorDescription: desc})
}
