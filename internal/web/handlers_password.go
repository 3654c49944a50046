package web

import (
	"net/http"

	"github.com/idp-dev/idp/internal/core"
)

// requireSignIn resolves the signed-in browser, or sends it to sign in and
// come back; nil means the caller is done (it redirected).
func (f *Face) requireSignIn(w http.ResponseWriter, r *http.Request) (*core.BrowserPrincipal, error) {
	p, err := f.signedIn(r)
	if err != nil || p != nil {
		return p, err
	}
	target := r.URL.Path
	if r.Method != http.MethodGet {
		target = "/account"
	} else if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	redirect(w, r, loginURL(target))
	return nil, nil
}

// changePage shows the password change; after a one-time or expired
// password it is the only page that works until it is done.
func (f *Face) changePage(w http.ResponseWriter, r *http.Request) error {
	p, err := f.requireSignIn(w, r)
	if p == nil {
		return err
	}
	target, err := core.CheckReturnTo(r.URL.Query().Get("return_to"))
	if err != nil {
		return errReturnTo
	}
	return f.renderChange(w, r, http.StatusOK, p, target, View{})
}

func (f *Face) renderChange(w http.ResponseWriter, r *http.Request, status int, p *core.BrowserPrincipal, target string, v View) error {
	b := binding(w, r)
	v.TitleID, v.User = msgTitleChange, badge(p)
	v.CSRF = f.opts.Browser.FormToken(b, p.Session.ID.String())
	if p.User.MustChangePassword && v.Alert == nil {
		v.Alert = &Message{ID: msgMustChange, Kind: "info"}
	}
	flow, err := f.opts.Browser.SessionFlow(*p, target)
	if err != nil {
		return errReturnTo
	}
	v.Data = PasswordChangePage{Flow: f.opts.Browser.EncodeFlow(flow, b), Forced: p.User.MustChangePassword,
		MinLength: f.opts.PasswordMinLength}
	return f.render(w, r, status, PagePasswordChange, v)
}

func (f *Face) changeSubmit(w http.ResponseWriter, r *http.Request) error {
	p, err := f.requireSignIn(w, r)
	if p == nil {
		return err
	}
	form, err := readForm(r)
	if err != nil {
		return err
	}
	b := binding(w, r)
	flow, ferr := f.opts.Browser.DecodeFlow(form.Get(FieldFlow), b)
	if ferr != nil || !f.opts.Browser.CheckFormToken(form.Get(FieldCSRF), b, p.Session.ID.String()) {
		return f.renderChange(w, r, http.StatusBadRequest, p, flow.ReturnTo, View{Alert: &Message{ID: msgFormExpired, Kind: "error"}})
	}
	current, next := form.Get(FieldCurrentPassword), form.Get(FieldNewPassword)
	if fields := passwordFields(current, next, form.Get(FieldConfirmPassword), true); fields != nil {
		return f.renderChange(w, r, http.StatusBadRequest, p, flow.ReturnTo, View{Fields: fields})
	}
	err = f.opts.Users.ChangePassword(r.Context(), p.Principal(), current, next, f.opts.Meta(r))
	switch core.ErrorCode(err) {
	case "":
		target := flow.ReturnTo
		if target == "" {
			target = "/account?notice=password_changed"
		}
		redirect(w, r, target)
		return nil
	case core.EDENIED:
		return f.renderChange(w, r, http.StatusBadRequest, p, flow.ReturnTo, View{Fields: map[string]Message{FieldCurrentPassword: fieldError(msgCurrentWrong)}})
	case core.EWEAKPASSWORD:
		return f.renderChange(w, r, http.StatusBadRequest, p, flow.ReturnTo, View{Fields: map[string]Message{FieldNewPassword: weakMessage(err, f.opts.PasswordMinLength)}})
	case core.ETHROTTLED:
		return f.renderChange(w, r, http.StatusTooManyRequests, p, flow.ReturnTo, View{Alert: &Message{ID: msgTooManyAttempts, Kind: "error"}})
	case core.EINVALID:
		return f.renderChange(w, r, http.StatusBadRequest, p, flow.ReturnTo, View{Fields: map[string]Message{FieldNewPassword: fieldError(msgPasswordTooLong)}})
	default:
		return err
	}
}

// passwordFields checks what a form can check itself: required fields, the
// 1024-byte bound, and that the new password was typed twice the same.
func passwordFields(current, next, confirm string, needCurrent bool) map[string]Message {
	fields := map[string]Message{}
	if needCurrent && current == "" {
		fields[FieldCurrentPassword] = fieldError(msgRequired)
	}
	switch {
	case next == "":
		fields[FieldNewPassword] = fieldError(msgRequired)
	case len(next) > 1024:
		fields[FieldNewPassword] = fieldError(msgPasswordTooLong)
	case next != confirm:
		fields[FieldConfirmPassword] = fieldError(msgPasswordsDiffer)
	}
	if len(fields) == 0 {
		return nil
	}
	return fields
}

// forgotPage asks for the email to send a reset link to.
func (f *Face) forgotPage(w http.ResponseWriter, r *http.Request) error {
	flow, tenant, err := f.opts.Browser.Flow(r.Context(), r.URL.Query().Get("tenant"), "", r.URL.Query().Get("login_hint"))
	if err != nil {
		return err
	}
	return f.renderForgot(w, r, http.StatusOK, flow, tenant, View{Form: map[string]string{FieldEmail: flow.LoginHint}}, false)
}

func (f *Face) renderForgot(w http.ResponseWriter, r *http.Request, status int, flow core.LoginFlow, tenant core.Tenant, v View, sent bool) error {
	b := binding(w, r)
	v.TitleID = msgTitleForgot
	v.CSRF = f.opts.Browser.FormToken(b, "")
	v.Tenant = &TenantView{Slug: tenant.Slug, Name: tenant.Name}
	login := "/login"
	if flow.Tenant != "" {
		login += "?tenant=" + flow.Tenant
	}
	if sent {
		v.Alert = &Message{ID: msgResetSent, Kind: "success"}
	}
	v.Data = ForgotPage{Flow: f.opts.Browser.EncodeFlow(flow, b), Sent: sent, LoginURL: login}
	return f.render(w, r, status, PageForgot, v)
}

// forgotSubmit gives one answer for every email: the link is mailed when
// the account exists and may reset, and the page never says which.
func (f *Face) forgotSubmit(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(r)
	if err != nil {
		return err
	}
	b := binding(w, r)
	email := form.Get(FieldEmail)
	flow, ferr := f.opts.Browser.DecodeFlow(form.Get(FieldFlow), b)
	if ferr != nil || !f.opts.Browser.CheckFormToken(form.Get(FieldCSRF), b, "") {
		fresh, tenant, err := f.opts.Browser.Flow(r.Context(), flow.Tenant, "", "")
		if err != nil {
			return err
		}
		return f.renderForgot(w, r, http.StatusBadRequest, fresh, tenant, View{Form: map[string]string{FieldEmail: email},
			Alert: &Message{ID: msgFormExpired, Kind: "error"}}, false)
	}
	_, tenant, err := f.opts.Browser.Flow(r.Context(), flow.Tenant, "", "")
	if err != nil {
		return err
	}
	v := View{Form: map[string]string{FieldEmail: email}}
	if email == "" {
		v.Fields = map[string]Message{FieldEmail: fieldError(msgRequired)}
		return f.renderForgot(w, r, http.StatusBadRequest, flow, tenant, v, false)
	}
	err = f.opts.Resets.Initiate(r.Context(), flow.Tenant, email, f.opts.Meta(r))
	switch core.ErrorCode(err) {
	case "":
		return f.renderForgot(w, r, http.StatusOK, flow, tenant, View{}, true)
	case core.EINVALID:
		v.Fields = map[string]Message{FieldEmail: fieldError(msgEmailInvalid)}
		return f.renderForgot(w, r, http.StatusBadRequest, flow, tenant, v, false)
	case core.ETHROTTLED:
		v.Alert = &Message{ID: msgTooManyAttempts, Kind: "error"}
		return f.renderForgot(w, r, http.StatusTooManyRequests, flow, tenant, v, false)
	default:
		return err
	}
}

// resetPage is the page behind the link of reset and invite mails. The
// token goes into a hidden field only; the page sends no referrer.
func (f *Face) resetPage(w http.ResponseWriter, r *http.Request) error {
	tok := r.URL.Query().Get("token")
	return f.renderReset(w, r, http.StatusOK, ResetPage{Token: tok, Missing: tok == ""}, View{})
}

func (f *Face) renderReset(w http.ResponseWriter, r *http.Request, status int, page ResetPage, v View) error {
	b := binding(w, r)
	v.TitleID = msgTitleReset
	v.CSRF = f.opts.Browser.FormToken(b, "reset")
	page.MinLength = f.opts.PasswordMinLength
	page.LoginURL = "/login"
	switch {
	case page.Done:
		v.Alert = &Message{ID: msgResetDone, Kind: "success"}
	case page.Missing:
		v.Alert = &Message{ID: msgResetMissing, Kind: "error"}
	}
	v.Data = page
	return f.render(w, r, status, PageReset, v)
}

func (f *Face) resetSubmit(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(r)
	if err != nil {
		return err
	}
	b := binding(w, r)
	page := ResetPage{Token: form.Get(FieldToken)}
	if page.Token == "" {
		page.Missing = true
		return f.renderReset(w, r, http.StatusBadRequest, page, View{})
	}
	if !f.opts.Browser.CheckFormToken(form.Get(FieldCSRF), b, "reset") {
		return f.renderReset(w, r, http.StatusBadRequest, page, View{Alert: &Message{ID: msgFormExpired, Kind: "error"}})
	}
	next := form.Get(FieldNewPassword)
	if fields := passwordFields("", next, form.Get(FieldConfirmPassword), false); fields != nil {
		return f.renderReset(w, r, http.StatusBadRequest, page, View{Fields: fields})
	}
	err = f.opts.Resets.Complete(r.Context(), page.Token, next, f.opts.Meta(r))
	switch core.ErrorCode(err) {
	case "":
		return f.renderReset(w, r, http.StatusOK, ResetPage{Done: true}, View{})
	case core.EWEAKPASSWORD:
		return f.renderReset(w, r, http.StatusBadRequest, page, View{Fields: map[string]Message{FieldNewPassword: weakMessage(err, f.opts.PasswordMinLength)}})
	case core.EINVALID:
		return f.renderReset(w, r, http.StatusBadRequest, page, View{Fields: map[string]Message{FieldNewPassword: fieldError(msgPasswordTooLong)}})
	case core.EDENIED:
		return f.renderReset(w, r, http.StatusBadRequest, ResetPage{Token: page.Token}, View{Alert: &Message{ID: msgResetBadLink, Kind: "error"}})
	case core.ETHROTTLED:
		return f.renderReset(w, r, http.StatusTooManyRequests, page, View{Alert: &Message{ID: msgTooManyAttempts, Kind: "error"}})
	default:
		return err
	}
}
