package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/idp-dev/idp/internal/core"
)

// The browser-facing half of the OpenID Connect provider: the
// authorization endpoint (which signs the browser in through the hosted
// pages and asks for consent) and RP-initiated logout. They live here
// because they need the browser's cookie; the back channel (token,
// userinfo, revocation, introspection) is internal/server's.

// authorizeParams reads an authorization request from the query (GET) or
// the form (POST, OpenID Connect Core 3.1.2.1).
func authorizeParams(r *http.Request) (core.AuthorizeParams, error) {
	var v url.Values
	if r.Method == http.MethodPost {
		form, err := readForm(r)
		if err != nil {
			return core.AuthorizeParams{}, err
		}
		v = form
	} else {
		v = r.URL.Query()
	}
	return core.AuthorizeParams{
		ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), ResponseType: v.Get("response_type"),
		ResponseMode: v.Get("response_mode"), Scope: v.Get("scope"), State: v.Get("state"), Nonce: v.Get("nonce"),
		CodeChallenge: v.Get("code_challenge"), CodeChallengeMethod: v.Get("code_challenge_method"),
		Prompt: v.Get("prompt"), MaxAge: v.Get("max_age"), LoginHint: v.Get("login_hint"),
		UILocales: v.Get("ui_locales"), IDTokenHint: v.Get("id_token_hint"),
		Request: v.Get("request"), RequestURI: v.Get("request_uri"),
	}, nil
}

// authorize is GET and POST /oauth2/authorize.
func (f *Face) authorize(w http.ResponseWriter, r *http.Request) error {
	params, err := authorizeParams(r)
	if err != nil {
		return err
	}
	req, _, err := f.opts.OAuth.CheckAuthorize(r.Context(), params)
	if err != nil {
		return f.authorizeError(w, r, err)
	}
	return f.decide(w, r, req)
}

// authorizeResume is where the sign-in page sends the browser back to: the
// request, checked before and signed for this browser, is decided again
// with the new session.
func (f *Face) authorizeResume(w http.ResponseWriter, r *http.Request) error {
	req, err := f.opts.OAuth.DecodeAuthRequest(r.URL.Query().Get("request"), cookie(r, cookieCSRF))
	if err != nil {
		return &pageError{http.StatusBadRequest, msgTitleBadRequest, msgFormExpired}
	}
	return f.decide(w, r, req)
}

// decide runs the request against the browser's session: sign in, consent,
// or straight back to the app with a code (SSO).
func (f *Face) decide(w http.ResponseWriter, r *http.Request, req core.AuthRequest) error {
	p, err := f.signedIn(r)
	if err != nil {
		return err
	}
	d, err := f.opts.OAuth.Authorize(r.Context(), req, p, f.opts.Meta(r))
	if err != nil {
		return f.authorizeError(w, r, err)
	}
	b := binding(w, r)
	switch {
	case d.RedirectTo != "":
		http.Redirect(w, r, d.RedirectTo, http.StatusFound)
		return nil
	case d.SignIn:
		q := url.Values{"tenant": {d.Tenant}, "prompt": {"login"},
			"return_to": {"/oauth2/authorize/resume?" + url.Values{"request": {f.opts.OAuth.EncodeAuthRequest(req, b)}}.Encode()}}
		if req.LoginHint != "" {
			q.Set("login_hint", req.LoginHint)
		}
		if req.UILocales != "" {
			q.Set("ui_locales", req.UILocales)
		}
		redirect(w, r, "/login?"+q.Encode())
		return nil
	default: // consent
		v := View{TitleID: msgTitleConsent, User: badge(p), CSRF: f.opts.Browser.FormToken(b, p.Session.ID.String()),
			Data: ConsentPage{Request: f.opts.OAuth.EncodeAuthRequest(req, b), ClientName: d.Client.Name, Scopes: req.Scopes}}
		return f.render(w, r, http.StatusOK, PageConsent, v)
	}
}

// consent is POST /oauth2/consent: Allow or Deny.
func (f *Face) consent(w http.ResponseWriter, r *http.Request) error {
	p, err := f.requireSignIn(w, r)
	if p == nil {
		return err
	}
	form, err := readForm(r)
	if err != nil {
		return err
	}
	b := cookie(r, cookieCSRF)
	req, derr := f.opts.OAuth.DecodeAuthRequest(form.Get("request"), b)
	if derr != nil || !f.opts.Browser.CheckFormToken(form.Get(FieldCSRF), b, p.Session.ID.String()) {
		return &pageError{http.StatusBadRequest, msgTitleBadRequest, msgFormExpired}
	}
	d, err := f.opts.OAuth.Consent(r.Context(), req, *p, form.Get("decision") == "allow", f.opts.Meta(r))
	if err != nil {
		return f.authorizeError(w, r, err)
	}
	http.Redirect(w, r, d.RedirectTo, http.StatusFound)
	return nil
}

// authorizeError sends an error back to the client when its redirect_uri
// was checked, and shows the error page otherwise (never a redirect to an
// unchecked URI).
func (f *Face) authorizeError(w http.ResponseWriter, r *http.Request, err error) error {
	var ae *core.AuthorizeError
	if !errors.As(err, &ae) {
		return err
	}
	if ae.Redirect {
		target := core.ErrorRedirect(ae.RedirectURI, ae.State, f.opts.Issuer, core.OAuthErrorCode(ae.Err), ae.Err.Message)
		http.Redirect(w, r, target, http.StatusFound)
		return nil
	}
	return &pageError{http.StatusBadRequest, msgTitleBadRequest, msgBadClient}
}

// endSession is GET and POST /oauth2/logout (RP-initiated logout). With an
// id_token_hint naming the signed-in user the browser is signed out at
// once; otherwise it is asked first.
func (f *Face) endSession(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	if r.Method == http.MethodPost {
		form, err := readForm(r)
		if err != nil {
			return err
		}
		if form.Get("request") == "" {
			// An app's POST (RP-Initiated Logout 1.0, 2): cross-site, so
			// the SameSite=Lax session cookie didn't come with it. The
			// same request as a GET, a top-level navigation, brings it.
			q := url.Values{}
			for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"} {
				if form.Get(k) != "" {
					q.Set(k, form.Get(k))
				}
			}
			redirect(w, r, "/oauth2/logout?"+q.Encode())
			return nil
		}
		// The confirm page's Sign out: idp's own form only.
		if err := f.cop.Check(r); err != nil {
			return errCrossSite
		}
		v = form
	}
	p, err := f.signedIn(r)
	if err != nil {
		return err
	}
	b := binding(w, r)
	// A confirmed request comes back signed.
	if r.Method == http.MethodPost {
		if p == nil || !f.opts.Browser.CheckFormToken(v.Get(FieldCSRF), b, p.Session.ID.String()) {
			return &pageError{http.StatusBadRequest, msgTitleBadRequest, msgFormExpired}
		}
		target, err := f.decodeLogoutTarget(v.Get("request"), b)
		if err != nil {
			return err
		}
		if err := f.opts.Browser.SignOut(r.Context(), *p, f.opts.Meta(r)); err != nil {
			return err
		}
		return f.afterEndSession(w, r, target)
	}
	es, err := f.opts.OAuth.CheckEndSession(r.Context(), v.Get("id_token_hint"), v.Get("client_id"),
		v.Get("post_logout_redirect_uri"), v.Get("state"))
	if err != nil {
		return &pageError{http.StatusBadRequest, msgTitleBadRequest, msgBadLogout}
	}
	if p == nil {
		if err := f.opts.OAuth.EndHintedSession(r.Context(), es, f.opts.Meta(r)); err != nil {
			return err
		}
		return f.afterEndSession(w, r, es.RedirectTo)
	}
	if es.HintSubject != "" && es.HintSubject == p.User.ID.String() {
		if err := f.opts.Browser.SignOut(r.Context(), *p, f.opts.Meta(r)); err != nil {
			return err
		}
		return f.afterEndSession(w, r, es.RedirectTo)
	}
	view := View{TitleID: msgTitleLogout, User: badge(p), CSRF: f.opts.Browser.FormToken(b, p.Session.ID.String()),
		Data: LogoutPage{Action: "/oauth2/logout", Request: f.encodeLogoutTarget(es.RedirectTo, b), ClientName: es.ClientName}}
	return f.render(w, r, http.StatusOK, PageLogout, view)
}

// encodeLogoutTarget carries a checked post-logout redirect through the
// confirm page, signed for this browser.
func (f *Face) encodeLogoutTarget(target, binding string) string {
	return f.opts.Browser.FormToken(binding, "logout:"+target) + "." + url.QueryEscape(target)
}

func (f *Face) decodeLogoutTarget(s, binding string) (string, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			target, err := url.QueryUnescape(s[i+1:])
			if err == nil && f.opts.Browser.CheckFormToken(s[:i], binding, "logout:"+target) {
				return target, nil
			}
			break
		}
	}
	return "", &pageError{http.StatusBadRequest, msgTitleBadRequest, msgFormExpired}
}

func (f *Face) afterEndSession(w http.ResponseWriter, r *http.Request, target string) error {
	signedOut(w)
	if target == "" {
		redirect(w, r, "/login?signed_out=1")
		return nil
	}
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// revokeApp is POST /account/apps/revoke: the app loses its consent and
// its sessions.
func (f *Face) revokeApp(w http.ResponseWriter, r *http.Request) error {
	p, form, err := f.signedInPost(w, r)
	if p == nil {
		return err
	}
	if err := f.opts.OAuth.RevokeConsent(r.Context(), *p, form.Get("client"), f.opts.Meta(r)); err != nil {
		return err
	}
	redirect(w, r, "/account?notice=app_revoked")
	return nil
}
