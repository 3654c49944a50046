package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/idp-dev/idp/internal/core"
)

// mountAdmin registers the admin pages (docs/pages.md, "Administration").
// Who may use them is core's to decide (core.Admin refuses everyone but
// an admin of the tenant, and the refusal is the 403 page); the handlers
// only show what core returns and post what the forms say.
func (f *Face) mountAdmin(mux *http.ServeMux) {
	mux.Handle("GET /admin", f.handle(func(w http.ResponseWriter, r *http.Request) error {
		redirect(w, r, "/admin/users")
		return nil
	}))
	mux.Handle("GET /admin/users", f.handle(f.adminUsers))
	mux.Handle("GET /admin/users/new", f.handle(f.adminUserNew))
	mux.Handle("POST /admin/users", f.post(f.adminCreateUser))
	mux.Handle("GET /admin/users/{id}", f.handle(f.adminUser))
	mux.Handle("POST /admin/users/{id}/update", f.post(f.adminUpdateUser))
	mux.Handle("POST /admin/users/{id}/disable", f.post(f.adminUserAction(f.opts.Admin.Disable, "disabled")))
	mux.Handle("POST /admin/users/{id}/enable", f.post(f.adminUserAction(f.opts.Admin.Enable, "enabled")))
	mux.Handle("POST /admin/users/{id}/unlock", f.post(f.adminUserAction(f.opts.Admin.Unlock, "unlocked")))
	mux.Handle("POST /admin/users/{id}/invite", f.post(f.adminUserAction(f.opts.Admin.ResendInvite, "invited")))
	mux.Handle("POST /admin/users/{id}/sessions/revoke", f.post(f.adminRevoke(false)))
	mux.Handle("POST /admin/users/{id}/sessions/revoke-all", f.post(f.adminRevoke(true)))
	mux.Handle("GET /admin/roles", f.handle(f.adminRoles))
	mux.Handle("POST /admin/roles", f.post(f.adminCreateRole))
	mux.Handle("POST /admin/roles/delete", f.post(f.adminDeleteRole))
	mux.Handle("GET /admin/audit", f.handle(f.adminAudit))
}

// adminSignIn is requireSignIn for the admin pages: a pending password
// change comes first, as everywhere.
func (f *Face) adminSignIn(w http.ResponseWriter, r *http.Request) (*core.BrowserPrincipal, error) {
	p, err := f.requireSignIn(w, r)
	if p == nil {
		return nil, err
	}
	if p.User.MustChangePassword {
		redirect(w, r, "/password/change?"+url.Values{"return_to": {r.URL.Path}}.Encode())
		return nil, nil
	}
	return p, nil
}

// adminPost checks an admin form: signed in, and a form token bound to
// this browser and session.
func (f *Face) adminPost(w http.ResponseWriter, r *http.Request) (*core.BrowserPrincipal, url.Values, error) {
	p, err := f.requireSignIn(w, r)
	if p == nil {
		return nil, nil, err
	}
	form, err := readForm(r)
	if err != nil {
		return nil, nil, err
	}
	if !f.opts.Browser.CheckFormToken(form.Get(FieldCSRF), cookie(r, cookieCSRF), p.Session.ID.String()) {
		return nil, nil, &pageError{http.StatusBadRequest, msgTitleBadRequest, msgFormExpired}
	}
	return p, form, nil
}

func actor(p *core.BrowserPrincipal) core.Actor { return core.TenantAdmin(p.Principal()) }

// adminView starts the View of an admin page.
func (f *Face) adminView(w http.ResponseWriter, r *http.Request, p *core.BrowserPrincipal, title string) View {
	return View{TitleID: title, User: badge(p), CSRF: f.opts.Browser.FormToken(binding(w, r), p.Session.ID.String())}
}

func nav(p *core.BrowserPrincipal, current string) AdminNav {
	return AdminNav{Current: current, Tenant: p.User.TenantSlug}
}

// reason is the Reason of a core error ("" for others).
func reason(err error) string {
	var e *core.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// adminNotices are the ?notice= values of the admin pages and their
// messages.
var adminNotices = map[string]string{
	"invited": msgAdminInvited, "saved": msgAdminSaved, "disabled": msgAdminDisabled, "enabled": msgAdminEnabled,
	"unlocked": msgAdminUnlocked, "revoked": msgAdminRevoked, "role_created": msgAdminRoleCreated, "role_deleted": msgAdminRoleDeleted,
}

func notice(r *http.Request) *Message {
	if id, ok := adminNotices[r.URL.Query().Get("notice")]; ok {
		return &Message{ID: id, Kind: "success"}
	}
	return nil
}

var userStatuses = []string{string(core.UserActive), string(core.UserPending), string(core.UserDisabled), string(core.UserLocked)}

func (f *Face) adminUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := f.adminSignIn(w, r)
	if p == nil {
		return err
	}
	q := r.URL.Query()
	search, status := strings.TrimSpace(q.Get("q")), q.Get("status")
	page, err := f.opts.Admin.Users(r.Context(), actor(p), core.UserQuery{EmailPrefix: search, Status: status,
		Role: q.Get("role"), Cursor: q.Get("cursor")}, f.opts.Meta(r))
	if err != nil {
		return err
	}
	data := AdminUsersPage{Nav: nav(p, "users"), Query: search, Status: status, Statuses: userStatuses,
		Users: make([]AdminUserRow, 0, len(page.Users))}
	for _, u := range page.Users {
		data.Users = append(data.Users, AdminUserRow{URL: "/admin/users/" + u.ID, Email: u.Email, DisplayName: u.DisplayName,
			Status: string(u.Status), Locked: u.LockedUntil != nil, Roles: u.Roles, LastLogin: u.LastLoginAt})
	}
	filters := url.Values{}
	for k, v := range map[string]string{"q": search, "status": status, "role": q.Get("role")} {
		if v != "" {
			filters.Set(k, v)
		}
	}
	data.NextURL, data.FirstURL = pagerURLs("/admin/users", filters, page.Next, q.Get("cursor") != "")
	v := f.adminView(w, r, p, msgTitleAdminUsers)
	v.Alert = notice(r)
	v.Data = data
	return f.render(w, r, http.StatusOK, PageAdminUsers, v)
}

// roleChoices are the catalogue as checkboxes, checked for held; an
// admin's own admin role is locked (it can't take it from itself).
func roleChoices(catalogue []core.RoleView, held []string, self bool) []RoleChoice {
	out := make([]RoleChoice, 0, len(catalogue))
	for _, r := range catalogue {
		checked := slices.Contains(held, r.Name)
		out = append(out, RoleChoice{Name: r.Name, Description: r.Description, Checked: checked,
			Locked: self && checked && r.Name == core.RoleAdmin})
	}
	return out
}

// formRoles reads the role checkboxes ("role:NAME" = "on").
func formRoles(form url.Values) []string {
	roles := []string{}
	for k := range form {
		if name, ok := strings.CutPrefix(k, FieldRole+":"); ok {
			roles = append(roles, name)
		}
	}
	slices.Sort(roles)
	return roles
}

func (f *Face) adminUserNew(w http.ResponseWriter, r *http.Request) error {
	p, err := f.adminSignIn(w, r)
	if p == nil {
		return err
	}
	return f.renderUserNew(w, r, http.StatusOK, p, View{}, nil)
}

func (f *Face) renderUserNew(w http.ResponseWriter, r *http.Request, status int, p *core.BrowserPrincipal, v View, held []string) error {
	catalogue, err := f.opts.Roles.List(r.Context(), actor(p), f.opts.Meta(r))
	if err != nil {
		return err
	}
	base := f.adminView(w, r, p, msgTitleAdminUserNew)
	v.TitleID, v.User, v.CSRF = base.TitleID, base.User, base.CSRF
	v.Data = AdminUserNewPage{Nav: nav(p, "users"), Roles: roleChoices(catalogue, held, false)}
	return f.render(w, r, status, PageAdminUserNew, v)
}

// adminCreateUser creates a pending user and mails the invite; the pages
// never set another person's password.
func (f *Face) adminCreateUser(w http.ResponseWriter, r *http.Request) error {
	p, form, err := f.adminPost(w, r)
	if p == nil {
		return err
	}
	email, name, roles := strings.TrimSpace(form.Get(FieldEmail)), form.Get(FieldDisplayName), formRoles(form)
	v := View{Form: map[string]string{FieldEmail: email, FieldDisplayName: name}}
	if email == "" {
		v.Fields = map[string]Message{FieldEmail: fieldError(msgRequired)}
		return f.renderUserNew(w, r, http.StatusBadRequest, p, v, roles)
	}
	u, err := f.opts.Admin.CreateUser(r.Context(), actor(p), core.CreateInput{Email: email, DisplayName: name, Roles: roles}, f.opts.Meta(r))
	switch {
	case err == nil:
		redirect(w, r, "/admin/users/"+u.ID+"?notice=invited")
		return nil
	case core.ErrorCode(err) == core.ECONFLICT:
		v.Fields = map[string]Message{FieldEmail: fieldError(msgAdminEmailTaken)}
		return f.renderUserNew(w, r, http.StatusConflict, p, v, roles)
	case reason(err) == core.ReasonNotInCatalogue:
		v.Alert = &Message{ID: msgAdminRoleGone, Kind: "error"}
		return f.renderUserNew(w, r, http.StatusBadRequest, p, v, roles)
	case reason(err) == FieldDisplayName:
		v.Fields = map[string]Message{FieldDisplayName: fieldError(msgAdminNameInvalid)}
		return f.renderUserNew(w, r, http.StatusBadRequest, p, v, roles)
	case core.ErrorCode(err) == core.EINVALID:
		v.Fields = map[string]Message{FieldEmail: fieldError(msgEmailInvalid)}
		return f.renderUserNew(w, r, http.StatusBadRequest, p, v, roles)
	}
	return err
}

func (f *Face) adminUser(w http.ResponseWriter, r *http.Request) error {
	p, err := f.adminSignIn(w, r)
	if p == nil {
		return err
	}
	return f.renderAdminUser(w, r, http.StatusOK, p, View{Alert: notice(r)}, nil)
}

// renderAdminUser shows one user; held, when not nil, are the roles a
// failed form asked for (shown checked again).
func (f *Face) renderAdminUser(w http.ResponseWriter, r *http.Request, status int, p *core.BrowserPrincipal, v View, held []string) error {
	id := r.PathValue("id")
	d, err := f.opts.Admin.UserDetail(r.Context(), actor(p), core.ByID(id), f.opts.Meta(r))
	if err != nil {
		return err
	}
	u := d.User
	self := u.ID == p.User.ID.String()
	if held == nil {
		held = u.Roles
	}
	data := AdminUserPage{Nav: nav(p, "users"), Base: "/admin/users/" + u.ID, Email: u.Email, DisplayName: u.DisplayName,
		Status: string(u.Status), LockedUntil: u.LockedUntil, LastLogin: u.LastLoginAt, Created: u.CreatedAt,
		EmailVerified: u.EmailVerifiedAt != nil, MustChange: u.PasswordChangeRequired, Self: self,
		Roles: roleChoices(d.Catalogue, held, self), AuditURL: "/admin/audit?" + url.Values{"user": {u.ID}}.Encode()}
	for _, s := range d.Sessions {
		kind := "app"
		if s.Browser {
			kind = "browser"
		}
		data.Sessions = append(data.Sessions, SessionRow{ID: s.ID.String(), Kind: kind, Device: deviceName(s.UserAgent),
			ClientID: s.ClientID, IP: s.ClientIP, Created: s.CreatedAt, LastUsed: s.LastUsed, Current: s.ID == p.Session.ID})
	}
	data.Events = auditRows(d.Events, d.Actors)
	base := f.adminView(w, r, p, msgTitleAdminUser)
	v.TitleID, v.User, v.CSRF = base.TitleID, base.User, base.CSRF
	if v.Form == nil {
		v.Form = map[string]string{FieldDisplayName: u.DisplayName}
	}
	v.Data = data
	return f.render(w, r, status, PageAdminUser, v)
}

// adminUpdateUser saves the display name and roles of the user page.
func (f *Face) adminUpdateUser(w http.ResponseWriter, r *http.Request) error {
	p, form, err := f.adminPost(w, r)
	if p == nil {
		return err
	}
	name, roles := form.Get(FieldDisplayName), formRoles(form)
	_, err = f.opts.Admin.UpdateUser(r.Context(), actor(p), core.ByID(r.PathValue("id")),
		core.UserInput{DisplayName: &name, Roles: &roles}, f.opts.Meta(r))
	if err == nil {
		redirect(w, r, "/admin/users/"+r.PathValue("id")+"?notice=saved")
		return nil
	}
	v := View{Form: map[string]string{FieldDisplayName: name}}
	switch {
	case reason(err) == core.ReasonSelfDemote:
		v.Alert = &Message{ID: msgAdminSelfDemote, Kind: "error"}
	case reason(err) == core.ReasonNotInCatalogue:
		v.Alert = &Message{ID: msgAdminRoleGone, Kind: "error"}
	case reason(err) == FieldDisplayName:
		v.Fields = map[string]Message{FieldDisplayName: fieldError(msgAdminNameInvalid)}
	default:
		return err
	}
	return f.renderAdminUser(w, r, http.StatusBadRequest, p, v, roles)
}

type userActionFunc = func(ctx context.Context, act core.Actor, ref core.UserRef, meta core.Meta) (core.AdminUser, error)

// adminUserAction serves the user page's one-button forms.
func (f *Face) adminUserAction(action userActionFunc, done string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, _, err := f.adminPost(w, r)
		if p == nil {
			return err
		}
		_, err = action(r.Context(), actor(p), core.ByID(r.PathValue("id")), f.opts.Meta(r))
		if err == nil {
			redirect(w, r, "/admin/users/"+r.PathValue("id")+"?notice="+done)
			return nil
		}
		return f.adminUserFailed(w, r, p, err)
	}
}

// adminUserFailed shows a refused action on the user page, or the error
// page when it isn't one the page explains.
func (f *Face) adminUserFailed(w http.ResponseWriter, r *http.Request, p *core.BrowserPrincipal, err error) error {
	var msg string
	switch {
	case reason(err) == core.ReasonSelfDisable:
		msg = msgAdminSelfDisable
	case core.ErrorCode(err) == core.ECONFLICT:
		msg = msgAdminNotNow
	case core.ErrorCode(err) == core.ENOTFOUND && r.PathValue("id") != "" && strings.Contains(r.URL.Path, "/sessions/"):
		msg = msgAdminSessionGone
	default:
		return err
	}
	status := http.StatusConflict
	if core.ErrorCode(err) == core.EFORBIDDEN {
		status = http.StatusForbidden
	}
	return f.renderAdminUser(w, r, status, p, View{Alert: &Message{ID: msg, Kind: "error"}}, nil)
}

// adminRevoke ends one session of the user (all of them with all).
func (f *Face) adminRevoke(all bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, form, err := f.adminPost(w, r)
		if p == nil {
			return err
		}
		sid := form.Get(FieldSession)
		if all {
			sid = ""
		} else if sid == "" {
			return errBadForm
		}
		if _, err := f.opts.Admin.RevokeSessions(r.Context(), actor(p), core.ByID(r.PathValue("id")), sid, f.opts.Meta(r)); err != nil {
			return f.adminUserFailed(w, r, p, err)
		}
		redirect(w, r, "/admin/users/"+r.PathValue("id")+"?notice=revoked")
		return nil
	}
}

// pagerURLs are the Next and First links of a keyset-paged list at path
// with its filters: Next when there is a next cursor, First when this page
// isn't the first.
func pagerURLs(path string, filters url.Values, next string, paged bool) (nextURL, firstURL string) {
	if next != "" {
		q := url.Values{"cursor": {next}}
		for k, v := range filters {
			q[k] = v
		}
		nextURL = path + "?" + q.Encode()
	}
	if paged {
		firstURL = path
		if len(filters) > 0 {
			firstURL += "?" + filters.Encode()
		}
	}
	return nextURL, firstURL
}
