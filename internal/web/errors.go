package web

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/httperr"
)

// pageError is a failure the pages decide themselves (a bad form, a
// cross-site post), with the status and message to show.
type pageError struct {
	status int
	title  string
	msg    string
}

func (e *pageError) Error() string { return e.msg }

var (
	errCrossSite = &pageError{http.StatusForbidden, msgTitleCrossSite, msgCrossSite}
	errFormType  = &pageError{http.StatusUnsupportedMediaType, msgTitleBadRequest, msgBadRequest}
	errBadForm   = &pageError{http.StatusBadRequest, msgTitleBadRequest, msgBadRequest}
	errReturnTo  = &pageError{http.StatusBadRequest, msgTitleBadRequest, msgReturnTo}
)

// renderError renders err as the error page with the status of the one
// code-to-status map (internal/httperr): the same code means the same
// status on the JSON API and on the pages.
func (f *Face) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status, title, msg := http.StatusInternalServerError, msgTitleError, msgInternal
	var pe *pageError
	if errors.As(err, &pe) {
		status, title, msg = pe.status, pe.title, pe.msg
	} else {
		m, _ := httperr.For(err)
		status = m.Status
		title, msg = errorMessages(core.ErrorCode(err))
	}
	if status >= 500 {
		f.log.ErrorContext(r.Context(), "page failed", "path", core.Clean(r.URL.Path, 256), "cause", core.Clean(err.Error(), 500))
	}
	page := ErrorPage{Status: status, RequestID: f.opts.Meta(r).RequestID}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		page.RetryAfter = retryAfterSeconds(core.RetryAfter(err))
		w.Header().Set("Retry-After", strconv.Itoa(page.RetryAfter))
	}
	v := View{TitleID: title, Alert: &Message{ID: msg, Kind: "error"}, Data: page}
	if rerr := f.render(w, r, status, PageError, v); rerr != nil {
		// The renderer has answered with its plain 500 page already.
		f.log.ErrorContext(r.Context(), "render error page failed", "err", rerr)
	}
}

// errorMessages picks the title and text of an error page by core code.
func errorMessages(code core.Code) (title, msg string) {
	switch code {
	case core.ENOTFOUND:
		return msgTitleNotFound, msgNotFound
	case core.EFORBIDDEN:
		return msgTitleForbidden, msgForbidden
	case core.ETHROTTLED:
		return msgTitleTooMany, msgTooManyAttempts
	case core.EUNAVAILABLE:
		return msgTitleUnavailable, msgUnavailable
	case core.EINVALID, core.EDENIED, core.EWEAKPASSWORD:
		return msgTitleBadRequest, msgBadRequest
	default:
		return msgTitleError, msgInternal
	}
}

func retryAfterSeconds(d interface{ Seconds() float64 }) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}

// weakMessage turns a password-policy refusal into the field message of
// its rule (core puts the rule in the error's Reason).
func weakMessage(err error, minLength int) Message {
	var e *core.Error
	if errors.As(err, &e) {
		switch e.Reason {
		case core.RuleMinLength:
			return Message{ID: msgWeakMinLength, Args: []any{minLength}, Kind: "error"}
		case core.RuleCommon:
			return Message{ID: msgWeakCommon, Kind: "error"}
		case core.RuleContainsEmail:
			return Message{ID: msgWeakContainsEmail, Kind: "error"}
		case core.RuleContainsTenant:
			return Message{ID: msgWeakContainsTenant, Kind: "error"}
		}
	}
	return Message{ID: msgWeakOther, Kind: "error"}
}

func fieldError(id string, args ...any) Message { return Message{ID: id, Args: args, Kind: "error"} }
