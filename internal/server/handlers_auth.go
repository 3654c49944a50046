package server

import (
	"net/http"

	"github.com/idp-dev/idp/internal/core"
)

// noStore marks a response that carries or concerns tokens as never to be
// cached (RFC 6749 section 5.1), on success and on error alike.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

type loginRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	Tenant      string `json:"tenant"`
	ClientID    string `json:"client_id"`
	DeviceToken string `json:"device_token"`
}

// handleToken is the token endpoint: JSON password login, or the RFC 6749
// form with the password and refresh_token grants.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	if mediaType(r) == mediaForm {
		return s.tokenForm(w, r)
	}
	var req loginRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	meta := s.meta(r)
	meta.ClientID = req.ClientID
	resp, err := s.svc.Auth.Login(r.Context(), core.LoginInput{Email: req.Email, Password: req.Password,
		Tenant: req.Tenant, DeviceToken: req.DeviceToken}, meta)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) tokenForm(w http.ResponseWriter, r *http.Request) error {
	form, err := readForm(r)
	if err != nil {
		return err
	}
	// A public client's client_id is recorded (core bounds it), never
	// trusted.
	meta := s.meta(r)
	meta.ClientID = form["client_id"]
	var resp core.TokenResponse
	switch gt := form["grant_type"]; gt {
	case "password":
		resp, err = s.svc.Auth.Login(r.Context(), core.LoginInput{Email: form["username"], Password: form["password"],
			Tenant: form["tenant"], DeviceToken: form["device_token"]}, meta)
	case "refresh_token":
		resp, err = s.svc.Sessions.Refresh(r.Context(), form["refresh_token"], meta)
	case "":
		return core.Errorf(core.EINVALID, "grant_type is required")
	default:
		return &apiError{http.StatusBadRequest, "unsupported_grant_type",
			"grant_type " + quote(gt) + " is not supported (use password or refresh_token)"}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// quote shows caller input in a message: escaped and bounded.
func quote(s string) string {
	return `"` + core.Escape(truncate(s, 64)) + `"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	var req refreshRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	resp, err := s.svc.Sessions.Refresh(r.Context(), req.RefreshToken, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type logoutRequest struct {
	RefreshToken string `json:"refresh_token"`
	All          bool   `json:"all"`
}

// handleLogout revokes the session of a refresh token or, with "all" and a
// valid bearer token, every session of the caller.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	var req logoutRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	meta := s.meta(r)
	if req.All {
		p, err := s.principal(r)
		if err != nil {
			return err
		}
		if err := s.svc.Sessions.LogoutAll(r.Context(), p, meta); err != nil {
			return err
		}
		loggedOut(w)
		return nil
	}
	if err := s.svc.Sessions.Logout(r.Context(), req.RefreshToken, meta); err != nil {
		return err
	}
	loggedOut(w)
	return nil
}

// loggedOut answers a logout. Clear-Site-Data tells a browser that called
// it to drop what it cached and stored for idp's origin; not its cookies,
// which the API never reads: "cookies" would also drop the hosted pages'
// device cookie and with it that browser's own lockout budget (as the
// pages' sign-out keeps it, docs/pages.md).
func loggedOut(w http.ResponseWriter) {
	w.Header().Set("Clear-Site-Data", `"cache", "storage"`)
	w.WriteHeader(http.StatusNoContent)
}

// handleMe doubles as the OIDC UserInfo endpoint. A seeded admin who must
// still change the password may call it: it reveals nothing the token
// holder can't already do.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, p core.Principal) error {
	noStore(w)
	writeJSON(w, http.StatusOK, p.User.View())
	return nil
}

type registerRequest struct {
	Email       string   `json:"email"`
	Password    string   `json:"password"`
	Roles       []string `json:"roles"`
	DisplayName string   `json:"display_name"`
	Tenant      string   `json:"tenant"`
}

// handleRegister leaves the role and tenant checks to Users.Register, which
// audits every denial; the server only authenticates.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request, p core.Principal) error {
	var req registerRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	view, err := s.svc.Users.Register(r.Context(), p, core.RegisterInput{
		Tenant: req.Tenant, Email: req.Email, Password: req.Password, Roles: req.Roles, DisplayName: req.DisplayName,
	}, s.meta(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handlePasswordChange works while the password must be changed: it is the
// way out of that state.
func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request, p core.Principal) error {
	noStore(w)
	var req passwordChangeRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.svc.Users.ChangePassword(r.Context(), p, req.CurrentPassword, req.NewPassword, s.meta(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
