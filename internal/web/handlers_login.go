package web

import (
	"net/http"
	"net/url"

	"github.com/idp-dev/idp/internal/core"
)

// signedIn resolves the browser's session cookie; nil, nil when signed out.
func (f *Face) signedIn(r *http.Request) (*core.BrowserPrincipal, error) {
	c := cookie(r, cookieSession)
	if c == "" {
		return nil, nil
	}
	p, err := f.opts.Browser.Resolve(r.Context(), c)
	if core.ErrorCode(err) == core.EUNAUTHORIZED {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func badge(p *core.BrowserPrincipal) *UserBadge {
	if p == nil {
		return nil
	}
	return &UserBadge{Email: p.User.Email, DisplayName: p.User.DisplayName}
}

// afterSignIn is where a signed-in browser goes: the forced password
// change first, then the flow's target, else the account page.
func afterSignIn(p *core.BrowserPrincipal, returnTo string) string {
	if p.User.MustChangePassword {
		if returnTo == "" {
			return "/password/change"
		}
		return "/password/change?" + url.Values{"return_to": {returnTo}}.Encode()
	}
	if returnTo == "" {
		return "/account"
	}
	return returnTo
}

// loginPage shows the sign-in form of a flow for the query's tenant and
// return target. A browser already signed in goes on at once.
func (f *Face) loginPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	flow, tenant, err := f.opts.Browser.Flow(r.Context(), q.Get("tenant"), q.Get("return_to"), q.Get("login_hint"))
	if err != nil {
		if core.ErrorCode(err) == core.EINVALID && q.Get("return_to") != "" {
			return errReturnTo
		}
		return err
	}
	p, err := f.signedIn(r)
	if err != nil {
		return err
	}
	// prompt=login (an app asking for fresh credentials) shows the form
	// to a signed-in browser too.
	if p != nil && p.User.TenantSlug == flow.Tenant && q.Get("prompt") != "login" {
		redirect(w, r, afterSignIn(p, flow.ReturnTo))
		return nil
	}
	v := View{Form: map[string]string{FieldEmail: flow.LoginHint}}
	if q.Get("signed_out") != "" {
		v.Alert = &Message{ID: msgSignedOut, Kind: "info"}
	}
	return f.renderLogin(w, r, http.StatusOK, flow, tenant, v)
}

func (f *Face) renderLogin(w http.ResponseWriter, r *http.Request, status int, flow core.LoginFlow, tenant core.Tenant, v View) error {
	b := binding(w, r)
	v.TitleID = msgTitleLogin
	v.CSRF = f.opts.Browser.FormToken(b, "")
	if tenant.Slug != f.defaultTenant() || tenant.Name != tenant.Slug {
		v.Tenant = &TenantView{Slug: tenant.Slug, Name: tenant.Name}
	}
	forgot := url.Values{}
	if flow.Tenant != "" {
		forgot.Set("tenant", flow.Tenant)
	}
	v.Data = LoginPage{Flow: f.opts.Browser.EncodeFlow(flow, b), ForgotURL: "/password/forgot?" + forgot.Encode(),
		SignedOut: v.Alert != nil && v.Alert.ID == msgSignedOut}
	return f.render(w, r, status, PageLogin, v)
}

// loginSubmit signs the browser in. Every failure re-renders the form with
// the email kept, never the password: wrong credentials in one message for
// every cause, a lock or rate limit as "try later" without its end.
func (f *Face) loginSubmit(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(r)
	if err != nil {
		return err
	}
	b := binding(w, r)
	email := form.Get(FieldEmail)
	v := View{Form: map[string]string{FieldEmail: email}}
	flow, ferr := f.opts.Browser.DecodeFlow(form.Get(FieldFlow), b)
	if ferr != nil || !f.opts.Browser.CheckFormToken(form.Get(FieldCSRF), b, "") {
		return f.expiredLogin(w, r, flow, v)
	}
	_, tenant, err := f.opts.Browser.Flow(r.Context(), flow.Tenant, flow.ReturnTo, "")
	if err != nil {
		return err
	}
	in := core.BrowserSignInInput{
		LoginInput: core.LoginInput{Email: email, Password: form.Get(FieldPassword), Tenant: flow.Tenant,
			DeviceToken: cookie(r, cookieDevice)},
		Remember: form.Get(FieldRemember) != "",
		Current:  cookie(r, cookieSession),
	}
	res, err := f.opts.Browser.SignIn(r.Context(), in, f.opts.Meta(r))
	if err != nil {
		status, alert, fields := loginFailure(err)
		if alert == nil && fields == nil {
			return err
		}
		v.Alert, v.Fields = alert, fields
		return f.renderLogin(w, r, status, flow, tenant, v)
	}
	setCookie(w, cookieSession, res.Cookie, res.CookieMaxAge)
	setCookie(w, cookieDevice, res.DeviceToken, f.opts.DeviceTokenTTL)
	redirect(w, r, afterSignIn(&res.Principal, flow.ReturnTo))
	return nil
}

// expiredLogin re-renders the sign-in form with a fresh flow after an old,
// altered or foreign one (or a missing CSRF cookie), keeping the input.
func (f *Face) expiredLogin(w http.ResponseWriter, r *http.Request, old core.LoginFlow, v View) error {
	flow, tenant, err := f.opts.Browser.Flow(r.Context(), old.Tenant, old.ReturnTo, "")
	if err != nil {
		flow, tenant, err = f.opts.Browser.Flow(r.Context(), "", "", "")
		if err != nil {
			return err
		}
	}
	v.Alert = &Message{ID: msgFormExpired, Kind: "error"}
	return f.renderLogin(w, r, http.StatusBadRequest, flow, tenant, v)
}

// loginFailure says how a failed sign-in shows: status, alert and field
// errors; both nil for errors the error page shows (an outage).
func loginFailure(err error) (int, *Message, map[string]Message) {
	switch core.ErrorCode(err) {
	case core.EDENIED:
		return http.StatusBadRequest, &Message{ID: msgBadCredentials, Kind: "error"}, nil
	case core.ETHROTTLED:
		return http.StatusTooManyRequests, &Message{ID: msgTooManyAttempts, Kind: "error"}, nil
	case core.EINVALID:
		// A malformed email, or a password over 1024 bytes.
		return http.StatusBadRequest, &Message{ID: msgBadCredentials, Kind: "error"}, nil
	}
	return 0, nil, nil
}

func (f *Face) defaultTenant() string {
	if f.opts.DefaultTenant == "" {
		return "default"
	}
	return f.opts.DefaultTenant
}
