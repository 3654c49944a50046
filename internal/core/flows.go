package core

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// LoginFlow is one sign-in in progress on the hosted pages: which tenant it
// is for, where the browser goes afterwards and, for an app's sign-in, the
// authorization request it continues. The pages carry it in the form as a
// signed value bound to the browser (its CSRF cookie), not in the database:
// showing a sign-in page writes nothing, so nobody can fill a table by
// loading it (docs/auth/idp.md, "Browser sessions").
type LoginFlow struct {
	Tenant      string    `json:"t"`
	ReturnTo    string    `json:"r,omitempty"`
	AuthRequest string    `json:"a,omitempty"`
	LoginHint   string    `json:"h,omitempty"`
	IssuedAt    time.Time `json:"i"`
}

// flowTTL is how long a form stays valid; an older one is "expired" and the
// page is shown again with the input kept (passwords excepted).
const flowTTL = time.Hour

// ErrFlowExpired answers a form whose flow is too old, altered or made for
// another browser.
var ErrFlowExpired = &Error{Code: EINVALID, Message: "the form expired; please try again", Reason: "flow_expired"}

// Flow starts a sign-in flow for tenant ("" for the default), after which
// the browser goes to returnTo (a path on idp; "" for the account page).
// An unknown or disabled tenant and a return target off idp are refused:
// nothing here may send a browser elsewhere (no open redirect).
func (b *Browser) Flow(ctx context.Context, tenant, returnTo, loginHint string) (LoginFlow, Tenant, error) {
	slug := b.tenantOrDefault(tenant)
	if err := validSlug(slug); err != nil {
		return LoginFlow{}, Tenant{}, err
	}
	t, err := b.store.TenantBySlug(ctx, slug)
	if err != nil {
		return LoginFlow{}, Tenant{}, notFoundAs(err, "tenant %q not found", slug)
	}
	if t.Status != TenantActive {
		return LoginFlow{}, Tenant{}, Errorf(EFORBIDDEN, "tenant %q is disabled", slug)
	}
	target, err := CheckReturnTo(returnTo)
	if err != nil {
		return LoginFlow{}, Tenant{}, err
	}
	if len(loginHint) > maxEmailBytes || checkEmail(loginHint) != nil {
		loginHint = "" // a hint only prefills; a bad one is dropped, not refused
	}
	return LoginFlow{Tenant: slug, ReturnTo: target, LoginHint: NormalizeEmail(loginHint), IssuedAt: b.now()}, t, nil
}

// SessionFlow is the flow of a form a signed-in browser posts (the
// password change): its own tenant, a checked return target.
func (b *Browser) SessionFlow(p BrowserPrincipal, returnTo string) (LoginFlow, error) {
	target, err := CheckReturnTo(returnTo)
	if err != nil {
		return LoginFlow{}, err
	}
	return LoginFlow{Tenant: p.User.TenantSlug, ReturnTo: target, IssuedAt: b.now()}, nil
}

// CheckReturnTo accepts a path on idp itself ("/account", "/oauth2/...")
// and nothing that could leave it: no scheme or host, no "//" or "/\"
// (which browsers read as another host), no control characters.
func CheckReturnTo(target string) (string, error) {
	if target == "" {
		return "", nil
	}
	bad := Errorf(EINVALID, "return_to must be a path on this server")
	if len(target) > 8<<10 || !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") ||
		strings.ContainsAny(target, "\\\x00\r\n\t") || strings.ContainsFunc(target, hidden) {
		return "", bad
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "", bad
	}
	return target, nil
}

// EncodeFlow signs f for the browser whose CSRF cookie is binding.
func (b *Browser) EncodeFlow(f LoginFlow, binding string) string {
	body, _ := json.Marshal(f) // only strings and a time
	enc := base64.RawURLEncoding.EncodeToString(body)
	return enc + "." + b.flows.Sign("flow", binding, enc)
}

// DecodeFlow checks a flow from a form: signed for this browser, not
// older than an hour. Anything else is ErrFlowExpired.
func (b *Browser) DecodeFlow(s, binding string) (LoginFlow, error) {
	enc, sig, ok := strings.Cut(s, ".")
	if !ok || len(s) > 32<<10 || binding == "" || !b.flows.Verify(sig, "flow", binding, enc) {
		return LoginFlow{}, ErrFlowExpired
	}
	body, err := base64.RawURLEncoding.DecodeString(enc)
	var f LoginFlow
	if err != nil || json.Unmarshal(body, &f) != nil {
		return LoginFlow{}, ErrFlowExpired
	}
	if age := b.now().Sub(f.IssuedAt); age > flowTTL || age < -time.Minute {
		return LoginFlow{}, ErrFlowExpired
	}
	return f, nil
}

// FormToken is the per-form CSRF token of a signed-in page: bound to the
// browser (its CSRF cookie) and to its session.
func (b *Browser) FormToken(binding string, sessionID string) string {
	return b.flows.Sign("form", binding, sessionID)
}

// CheckFormToken verifies a FormToken.
func (b *Browser) CheckFormToken(tok, binding, sessionID string) bool {
	return binding != "" && b.flows.Verify(tok, "form", binding, sessionID)
}
