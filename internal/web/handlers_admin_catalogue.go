package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

func (f *Face) adminRoles(w http.ResponseWriter, r *http.Request) error {
	p, err := f.adminSignIn(w, r)
	if p == nil {
		return err
	}
	return f.renderRoles(w, r, http.StatusOK, p, View{Alert: notice(r)})
}

func (f *Face) renderRoles(w http.ResponseWriter, r *http.Request, status int, p *core.BrowserPrincipal, v View) error {
	roles, err := f.opts.Roles.List(r.Context(), actor(p), f.opts.Meta(r))
	if err != nil {
		return err
	}
	data := AdminRolesPage{Nav: nav(p, "roles")}
	for _, role := range roles {
		data.Roles = append(data.Roles, RoleRow{Name: role.Name, Description: role.Description, Holders: role.Holders,
			Builtin: role.Builtin, Created: role.CreatedAt, UsersURL: "/admin/users?" + url.Values{"role": {role.Name}}.Encode()})
	}
	base := f.adminView(w, r, p, msgTitleAdminRoles)
	v.TitleID, v.User, v.CSRF = base.TitleID, base.User, base.CSRF
	v.Data = data
	return f.render(w, r, status, PageAdminRoles, v)
}

func (f *Face) adminCreateRole(w http.ResponseWriter, r *http.Request) error {
	p, form, err := f.adminPost(w, r)
	if p == nil {
		return err
	}
	name, desc := strings.TrimSpace(form.Get(FieldRoleName)), strings.TrimSpace(form.Get(FieldDescription))
	v := View{Form: map[string]string{FieldRoleName: name, FieldDescription: desc}}
	if name == "" {
		v.Fields = map[string]Message{FieldRoleName: fieldError(msgRequired)}
		return f.renderRoles(w, r, http.StatusBadRequest, p, v)
	}
	_, err = f.opts.Roles.Create(r.Context(), actor(p), name, desc, f.opts.Meta(r))
	switch {
	case err == nil:
		redirect(w, r, "/admin/roles?notice=role_created")
		return nil
	case reason(err) == core.ReasonRoleExists:
		v.Fields = map[string]Message{FieldRoleName: fieldError(msgAdminRoleExists)}
		return f.renderRoles(w, r, http.StatusConflict, p, v)
	case reason(err) == core.ReasonRolesFull:
		v.Alert = &Message{ID: msgAdminRolesFull, Kind: "error"}
		return f.renderRoles(w, r, http.StatusConflict, p, v)
	case reason(err) == FieldDescription:
		v.Fields = map[string]Message{FieldDescription: fieldError(msgAdminDescriptionInvalid)}
		return f.renderRoles(w, r, http.StatusBadRequest, p, v)
	case core.ErrorCode(err) == core.EINVALID:
		v.Fields = map[string]Message{FieldRoleName: fieldError(msgAdminRoleName)}
		return f.renderRoles(w, r, http.StatusBadRequest, p, v)
	}
	return err
}

func (f *Face) adminDeleteRole(w http.ResponseWriter, r *http.Request) error {
	p, form, err := f.adminPost(w, r)
	if p == nil {
		return err
	}
	err = f.opts.Roles.Delete(r.Context(), actor(p), form.Get(FieldRole), f.opts.Meta(r))
	switch core.ErrorCode(err) {
	case "":
		redirect(w, r, "/admin/roles?notice=role_deleted")
		return nil
	case core.ECONFLICT:
		// Somebody was given the role since the page was shown.
		return f.renderRoles(w, r, http.StatusConflict, p, View{Alert: &Message{ID: msgAdminRoleInUse, Kind: "error"}})
	}
	return err
}

// dateParam reads a date input (YYYY-MM-DD, a UTC day); until includes
// its day, so it is the next midnight.
func dateParam(v string, until bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, errBadForm
	}
	if until {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

func (f *Face) adminAudit(w http.ResponseWriter, r *http.Request) error {
	p, err := f.adminSignIn(w, r)
	if p == nil {
		return err
	}
	q := r.URL.Query()
	data := AdminAuditPage{Nav: nav(p, "audit"), Event: q.Get("event"), EventList: core.AuditEventNames, User: q.Get("user"),
		Since: q.Get("since"), Until: q.Get("until"), Reads: q.Get("reads") == "1", ClearURL: "/admin/audit"}
	in := core.AuditPageQuery{Event: data.Event, UserID: data.User, HideReads: !data.Reads, Cursor: q.Get("cursor")}
	if in.Since, err = dateParam(data.Since, false); err != nil {
		return err
	}
	if in.Until, err = dateParam(data.Until, true); err != nil {
		return err
	}
	page, err := f.opts.Admin.Audit(r.Context(), actor(p), in, f.opts.Meta(r))
	if err != nil {
		return err
	}
	data.UserEmail = page.UserEmail
	data.Events = auditRows(page.Events, page.Actors)
	filters := url.Values{}
	for k, v := range map[string]string{"event": data.Event, "user": data.User, "since": data.Since, "until": data.Until} {
		if v != "" {
			filters.Set(k, v)
		}
	}
	if data.Reads {
		filters.Set("reads", "1")
	}
	data.NextURL, data.FirstURL = pagerURLs("/admin/audit", filters, page.Next, q.Get("cursor") != "")
	v := f.adminView(w, r, p, msgTitleAdminAudit)
	v.Data = data
	return f.render(w, r, http.StatusOK, PageAdminAudit, v)
}

// auditRows shows events with people's emails for actor ids.
func auditRows(events []core.AuditEvent, actors map[string]string) []AuditRow {
	out := make([]AuditRow, 0, len(events))
	for _, e := range events {
		row := AuditRow{Time: e.Time, Event: e.Event, Failed: e.Outcome == core.OutcomeFailure, Reason: e.Reason,
			Subject: e.SubjectEmail, Actor: e.Actor, IP: e.ClientIP}
		if name, ok := actors[e.Actor]; ok {
			row.Actor = name
		}
		if e.SubjectID != nil {
			row.SubjectURL = "/admin/users/" + e.SubjectID.String()
		}
		out = append(out, row)
	}
	return out
}
