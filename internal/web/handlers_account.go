package web

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/idp-dev/idp/internal/core"
)

// accountPage shows who is signed in, the password change, and every live
// session with a way to end it.
func (f *Face) accountPage(w http.ResponseWriter, r *http.Request) error {
	p, err := f.requireSignIn(w, r)
	if p == nil {
		return err
	}
	if p.User.MustChangePassword {
		redirect(w, r, "/password/change")
		return nil
	}
	var alert *Message
	switch r.URL.Query().Get("notice") {
	case "password_changed":
		alert = &Message{ID: msgPasswordChanged, Kind: "success"}
	case "session_revoked":
		alert = &Message{ID: msgSessionRevoked, Kind: "success"}
	case "app_revoked":
		alert = &Message{ID: msgAppRevoked, Kind: "success"}
	}
	return f.renderAccount(w, r, http.StatusOK, p, alert)
}

func (f *Face) renderAccount(w http.ResponseWriter, r *http.Request, status int, p *core.BrowserPrincipal, alert *Message) error {
	sessions, err := f.opts.Browser.Sessions(r.Context(), *p)
	if err != nil {
		return err
	}
	rows := make([]SessionRow, 0, len(sessions))
	for _, s := range sessions {
		kind := "app"
		if s.Browser {
			kind = "browser"
		}
		app := s.ClientID
		if s.ClientName != "" {
			app = s.ClientName
		}
		rows = append(rows, SessionRow{ID: s.ID.String(), Kind: kind, Device: deviceName(s.UserAgent), ClientID: app,
			IP: s.ClientIP, Created: s.CreatedAt, LastUsed: s.LastUsed, Current: s.Current})
	}
	// This browser first, then by last use.
	slices.SortStableFunc(rows, func(a, b SessionRow) int {
		switch {
		case a.Current != b.Current:
			if a.Current {
				return -1
			}
			return 1
		case a.LastUsed.After(b.LastUsed):
			return -1
		case a.LastUsed.Before(b.LastUsed):
			return 1
		}
		return 0
	})
	roles := p.User.Roles
	if roles == nil {
		roles = []string{}
	}
	var apps []AppRow
	if f.opts.OAuth != nil {
		consents, err := f.opts.OAuth.Consents(r.Context(), *p)
		if err != nil {
			return err
		}
		for _, c := range consents {
			apps = append(apps, AppRow{ClientID: c.ClientID, Name: c.ClientName, Scopes: c.Scopes, Granted: c.GrantedAt})
		}
	}
	v := View{TitleID: msgTitleAccount, User: badge(p), Alert: alert,
		CSRF: f.opts.Browser.FormToken(binding(w, r), p.Session.ID.String()),
		Data: AccountPage{Email: p.User.Email, DisplayName: p.User.DisplayName, TenantName: p.User.TenantSlug,
			Roles: roles, EmailVerified: p.User.EmailVerifiedAt != nil, CreatedAt: p.User.CreatedAt, Sessions: rows, Apps: apps}}
	if f.opts.Admin != nil && core.CanAdminister(p.User) {
		data := v.Data.(AccountPage)
		data.AdminURL = "/admin"
		v.Data = data
	}
	return f.render(w, r, status, PageAccount, v)
}

// signedInPost checks a signed-in page's form: a session, and a form token
// bound to this browser and session. nil means the caller is done.
func (f *Face) signedInPost(w http.ResponseWriter, r *http.Request) (*core.BrowserPrincipal, url.Values, error) {
	p, err := f.requireSignIn(w, r)
	if p == nil {
		return nil, nil, err
	}
	form, err := readForm(r)
	if err != nil {
		return nil, nil, err
	}
	if !f.opts.Browser.CheckFormToken(form.Get(FieldCSRF), cookie(r, cookieCSRF), p.Session.ID.String()) {
		return nil, nil, f.renderAccount(w, r, http.StatusBadRequest, p, &Message{ID: msgFormExpired, Kind: "error"})
	}
	return p, form, nil
}

// revokeSession ends one of the user's other sessions.
func (f *Face) revokeSession(w http.ResponseWriter, r *http.Request) error {
	p, form, err := f.signedInPost(w, r)
	if p == nil {
		return err
	}
	if id := first(form[FieldSession]); id == p.Session.ID.String() {
		// This browser: that is what Sign out is for.
		return f.logoutSubmit(w, r)
	}
	if err := f.opts.Browser.RevokeOwn(r.Context(), *p, first(form[FieldSession]), f.opts.Meta(r)); err != nil {
		return err
	}
	redirect(w, r, "/account?notice=session_revoked")
	return nil
}

// signOutEverywhere ends every session of the user, this one included.
func (f *Face) signOutEverywhere(w http.ResponseWriter, r *http.Request) error {
	p, _, err := f.signedInPost(w, r)
	if p == nil {
		return err
	}
	if _, err := f.opts.Browser.SignOutEverywhere(r.Context(), *p, f.opts.Meta(r)); err != nil {
		return err
	}
	signedOut(w)
	redirect(w, r, "/login?signed_out=everywhere")
	return nil
}

// logoutPage asks before signing out: a GET must not change state (a link
// or an image could trigger it).
func (f *Face) logoutPage(w http.ResponseWriter, r *http.Request) error {
	p, err := f.signedIn(r)
	if err != nil {
		return err
	}
	if p == nil {
		return f.render(w, r, http.StatusOK, PageMessage, View{TitleID: msgTitleSignedOut,
			Data: MessagePage{BodyID: msgSignedOut, LinkURL: "/login", LinkLabel: msgLinkSignIn}})
	}
	v := View{TitleID: msgTitleLogout, User: badge(p), CSRF: f.opts.Browser.FormToken(binding(w, r), p.Session.ID.String()),
		Data: LogoutPage{Action: "/logout"}}
	return f.render(w, r, http.StatusOK, PageLogout, v)
}

// logoutSubmit ends this browser's session and every app session it
// started, and tells the browser to drop this site's cookies.
func (f *Face) logoutSubmit(w http.ResponseWriter, r *http.Request) error {
	p, err := f.signedIn(r)
	if err != nil {
		return err
	}
	if p != nil {
		form, err := readForm(r)
		if err != nil {
			return err
		}
		if !f.opts.Browser.CheckFormToken(form.Get(FieldCSRF), cookie(r, cookieCSRF), p.Session.ID.String()) {
			return &pageError{http.StatusBadRequest, msgTitleBadRequest, msgFormExpired}
		}
		if err := f.opts.Browser.SignOut(r.Context(), *p, f.opts.Meta(r)); err != nil {
			return err
		}
	}
	signedOut(w)
	redirect(w, r, "/login?signed_out=1")
	return nil
}

// signedOut drops the session cookie and asks the browser to clear every
// cookie of this site (the device cookie too: after a sign-out this
// browser proves no earlier success any more).
// signedOut ends the session cookie and tells the browser to drop cached
// pages. Not "cookies": that would also remove the device cookie, and with
// it this browser's own lockout budget (docs/auth/idp.md, "Lockout"), so
// an owner who signs out would share the budget an attacker exhausts.
func signedOut(w http.ResponseWriter) {
	clearCookie(w, cookieSession)
	w.Header().Set("Clear-Site-Data", `"cache", "storage"`)
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
