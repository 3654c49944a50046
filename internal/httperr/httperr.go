// Package httperr is the one map from core error codes to HTTP: the JSON
// API writes it as an RFC 6749 error body, the hosted pages render it as an
// error page, so a code means the same status on every face.
package httperr

import (
	"net/http"

	"github.com/idp-dev/idp/internal/core"
)

// Mapping is how one core code looks on the wire.
type Mapping struct {
	Status int
	Error  string // RFC 6749 section 5.2 style error code
}

// codes is the only place a core.Code becomes an HTTP status. Codes that
// are missing (EINTERNAL, anything unknown) are answered as Internal.
var codes = map[core.Code]Mapping{
	core.EINVALID:      {http.StatusBadRequest, "invalid_request"},
	core.EDENIED:       {http.StatusBadRequest, "invalid_grant"},
	core.EUNAUTHORIZED: {http.StatusUnauthorized, "invalid_token"},
	core.EFORBIDDEN:    {http.StatusForbidden, "forbidden"},
	core.EWEAKPASSWORD: {http.StatusBadRequest, "weak_password"},
	core.ETHROTTLED:    {http.StatusTooManyRequests, "too_many_attempts"},
	core.ENOTFOUND:     {http.StatusNotFound, "not_found"},
	core.ECONFLICT:     {http.StatusConflict, "conflict"},
	core.EUNAVAILABLE:  {http.StatusServiceUnavailable, "temporarily_unavailable"},

	core.EINVALIDCLIENT: {http.StatusUnauthorized, "invalid_client"},
	core.EUNSUPPORTED:   {http.StatusBadRequest, "invalid_request"},
	core.EINVALIDSCOPE:  {http.StatusBadRequest, "invalid_scope"},
	core.ELOGINREQUIRED: {http.StatusBadRequest, "login_required"},
	core.ECONSENT:       {http.StatusBadRequest, "consent_required"},
	core.EACCESSDENIED:  {http.StatusForbidden, "access_denied"},
}

// Internal is what every other error becomes.
var Internal = Mapping{http.StatusInternalServerError, "server_error"}

// For maps the code of err (core.ErrorCode), and whether it was one of
// ours.
func For(err error) (Mapping, bool) {
	m, ok := codes[core.ErrorCode(err)]
	if !ok {
		return Internal, false
	}
	return m, true
}

// Codes lists every mapped code, for tests that check every code has a
// mapping.
func Codes() map[core.Code]Mapping {
	out := make(map[core.Code]Mapping, len(codes))
	for k, v := range codes {
		out[k] = v
	}
	return out
}
