package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// maxAuthorization bounds the Authorization header we look at: tokens
// over 8 KiB are refused anyway, so a longer header is refused unread.
const maxAuthorization = 8<<10 + len("Bearer ")

type claimsKey struct{}

// FromContext returns the claims Middleware stored for the request.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// Middleware serves next only to requests with a valid bearer token
// (RFC 6750), whose claims it puts in the request context (FromContext).
// Otherwise it answers as idp does: 401 with WWW-Authenticate:
// Bearer error="invalid_token" and a JSON error body, or 503 with
// Retry-After when the token can't be checked because idp is unreachable.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r)
		if !ok {
			writeUnauthorized(w)
			return
		}
		c, err := v.Verify(r.Context(), raw)
		switch {
		case errors.Is(err, ErrUnavailable):
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the access token can't be checked right now")
			return
		case err != nil:
			writeUnauthorized(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

// RequireRole serves next only when the token grants role (403 otherwise).
// It goes inside Middleware; without verified claims it answers 401.
func RequireRole(role string, next http.Handler) http.Handler {
	return require(next, func(c *Claims) bool { return c.HasRole(role) }, nil,
		"the access token does not grant the role "+role)
}

// RequireScope serves next only when the token was issued with scope
// (403 and WWW-Authenticate: Bearer error="insufficient_scope" otherwise,
// RFC 6750 section 3.1). It goes inside Middleware.
func RequireScope(scope string, next http.Handler) http.Handler {
	return require(next, func(c *Claims) bool { return slices.Contains(c.Scopes, scope) },
		func(h http.Header) {
			h.Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+quoteSafe(scope)+`"`)
		},
		"the access token lacks the scope "+scope)
}

// RequireTenant serves next only to tokens of the tenant with this ID (the
// tenant_id claim; 403 otherwise). It goes inside Middleware.
func RequireTenant(tenantID string, next http.Handler) http.Handler {
	return require(next, func(c *Claims) bool { return c.TenantID == tenantID }, nil,
		"the access token belongs to another tenant")
}

func require(next http.Handler, ok func(*Claims) bool, header func(http.Header), why string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, found := FromContext(r.Context())
		if !found {
			// Mounted without Middleware: nothing was verified.
			writeUnauthorized(w)
			return
		}
		if !ok(c) {
			if header != nil {
				header(w.Header())
			}
			writeError(w, http.StatusForbidden, "forbidden", why)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken reads an RFC 6750 section 2.1 Authorization header.
func bearerToken(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 || len(vals[0]) > maxAuthorization {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, tok != ""
}

func writeUnauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid or expired")
}

// writeError writes the error body idp itself uses (docs/api.md).
func writeError(w http.ResponseWriter, status int, code, description string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}{code, description})
}

// quoteSafe keeps a scope from breaking out of its quoted-string.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
