package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// adminRoutes are the admin API of docs/api.md ("Admin API"): tenant
// administration for holders of admin in their own tenant. The handlers
// only translate; who may do what is core.Admin's and core.Roles' to say.
func (s *Server) adminRoutes() {
	m := s.mux
	m.Handle("GET /api/v1/admin/users", s.admin(s.handleAdminUsers))
	m.Handle("POST /api/v1/admin/users", s.admin(s.handleAdminCreateUser))
	m.Handle("GET /api/v1/admin/users/{id}", s.admin(s.handleAdminUser))
	m.Handle("PATCH /api/v1/admin/users/{id}", s.admin(s.handleAdminUpdateUser))
	m.Handle("POST /api/v1/admin/users/{id}/disable", s.admin(s.userAction((*core.Admin).Disable)))
	m.Handle("POST /api/v1/admin/users/{id}/enable", s.admin(s.userAction((*core.Admin).Enable)))
	m.Handle("POST /api/v1/admin/users/{id}/unlock", s.admin(s.userAction((*core.Admin).Unlock)))
	m.Handle("POST /api/v1/admin/users/{id}/invite", s.admin(s.userAction((*core.Admin).ResendInvite)))
	m.Handle("GET /api/v1/admin/users/{id}/sessions", s.admin(s.handleAdminSessions))
	m.Handle("DELETE /api/v1/admin/users/{id}/sessions", s.admin(s.handleAdminRevoke))
	m.Handle("DELETE /api/v1/admin/users/{id}/sessions/{sid}", s.admin(s.handleAdminRevoke))
	m.Handle("GET /api/v1/admin/roles", s.admin(s.handleAdminRoles))
	m.Handle("POST /api/v1/admin/roles", s.admin(s.handleAdminCreateRole))
	m.Handle("DELETE /api/v1/admin/roles/{name}", s.admin(s.handleAdminDeleteRole))
	m.Handle("GET /api/v1/admin/audit", s.admin(s.handleAdminAudit))
	m.Handle("GET /api/v1/admin/tenant", s.admin(s.handleAdminTenant))
}

// adminHandler is an admin endpoint: the caller as a core.Actor.
type adminHandler func(w http.ResponseWriter, r *http.Request, act core.Actor) error

// admin authenticates the bearer token; the rest of the authorization is
// core's (core.CanAdminister, re-read from the database on every call).
func (s *Server) admin(h adminHandler) http.Handler {
	return s.handle(s.authenticated(func(w http.ResponseWriter, r *http.Request, p core.Principal) error {
		return h(w, r, core.TenantAdmin(p))
	}))
}

// query reads a query string in which each parameter appears at most once
// (as in forms: a repeated one is ambiguous).
func query(r *http.Request) (map[string]string, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, core.Errorf(core.EINVALID, "the query string is malformed")
	}
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) > 1 {
			return nil, core.Errorf(core.EINVALID, "parameter %s appears more than once", quote(k))
		}
		out[k] = vs[0]
	}
	return out, nil
}

func intParam(q map[string]string, name string) (int, error) {
	v, ok := q[name]
	if !ok || v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, core.Errorf(core.EINVALID, "%s must be a whole number", name)
	}
	return n, nil
}

func timeParam(q map[string]string, name string) (time.Time, error) {
	v := q[name]
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, core.Errorf(core.EINVALID, "%s must be an RFC 3339 time such as 2026-12-01T09:30:00Z", name)
	}
	return t, nil
}

func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit")
	if err != nil {
		return err
	}
	page, err := s.svc.Admin.Users(r.Context(), act, core.UserQuery{Status: q["status"], Role: q["role"],
		EmailPrefix: q["email_prefix"], Cursor: q["cursor"], Limit: limit}, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

type adminCreateRequest struct {
	Email       string   `json:"email"`
	Password    string   `json:"password"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
}

func (s *Server) handleAdminCreateUser(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	var req adminCreateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	u, err := s.svc.Admin.CreateUser(r.Context(), act, core.CreateInput{Email: req.Email, Password: req.Password,
		DisplayName: req.DisplayName, Roles: req.Roles}, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) handleAdminUser(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	u, err := s.svc.Admin.User(r.Context(), act, core.ByID(r.PathValue("id")), s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// adminUpdateRequest: a field left out stays as it is; "roles": [] takes
// every role away.
type adminUpdateRequest struct {
	DisplayName *string   `json:"display_name"`
	Roles       *[]string `json:"roles"`
}

func (s *Server) handleAdminUpdateUser(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	var req adminUpdateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Roles != nil && *req.Roles == nil {
		return core.Errorf(core.EINVALID, "roles must be an array (an empty one takes every role away)")
	}
	u, err := s.svc.Admin.UpdateUser(r.Context(), act, core.ByID(r.PathValue("id")),
		core.UserInput{DisplayName: req.DisplayName, Roles: req.Roles}, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// userAction serves the POSTs that take no body and answer the user.
func (s *Server) userAction(action func(*core.Admin, context.Context, core.Actor, core.UserRef, core.Meta) (core.AdminUser, error)) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, act core.Actor) error {
		u, err := action(s.svc.Admin, r.Context(), act, core.ByID(r.PathValue("id")), s.meta(r))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	}
}

func (s *Server) handleAdminSessions(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	sessions, err := s.svc.Admin.Sessions(r.Context(), act, core.ByID(r.PathValue("id")), s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": sessions})
	return nil
}

// handleAdminRevoke ends one session ({sid}) or every session of the user.
func (s *Server) handleAdminRevoke(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	res, err := s.svc.Admin.RevokeSessions(r.Context(), act, core.ByID(r.PathValue("id")), r.PathValue("sid"), s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) handleAdminRoles(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	roles, err := s.svc.Roles.List(r.Context(), act, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": roles})
	return nil
}

type roleRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (s *Server) handleAdminCreateRole(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	var req roleRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	role, err := s.svc.Roles.Create(r.Context(), act, req.Name, req.Description, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, role)
	return nil
}

func (s *Server) handleAdminDeleteRole(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	if err := s.svc.Roles.Delete(r.Context(), act, r.PathValue("name"), s.meta(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// auditPage is core.AuditPage on the wire.
type auditPage struct {
	Events []core.AuditEntry `json:"events"`
	Next   string            `json:"next_cursor"`
}

func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	q, err := query(r)
	if err != nil {
		return err
	}
	in := core.AuditPageQuery{Event: q["event"], UserID: q["user_id"], Cursor: q["cursor"]}
	if in.Limit, err = intParam(q, "limit"); err != nil {
		return err
	}
	if in.Since, err = timeParam(q, "since"); err != nil {
		return err
	}
	if in.Until, err = timeParam(q, "until"); err != nil {
		return err
	}
	switch q["hide_reads"] {
	case "", "false":
	case "true":
		in.HideReads = true
	default:
		return core.Errorf(core.EINVALID, "hide_reads must be true or false")
	}
	page, err := s.svc.Admin.Audit(r.Context(), act, in, s.meta(r))
	if err != nil {
		return err
	}
	out := auditPage{Events: make([]core.AuditEntry, 0, len(page.Events)), Next: page.Next}
	for _, e := range page.Events {
		out.Events = append(out.Events, e.View())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleAdminTenant(w http.ResponseWriter, r *http.Request, act core.Actor) error {
	t, err := s.svc.Admin.Tenant(r.Context(), act, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}
