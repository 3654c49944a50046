package server

import (
	"net/http"
)

type resetInitiateRequest struct {
	Email  string `json:"email"`
	Tenant string `json:"tenant"`
}

// acceptedBody is the one answer to every reset request, so it can't tell
// whether an account exists.
var acceptedBody = []byte(`{"status":"accepted"}`)

func (s *Server) handleResetInitiate(w http.ResponseWriter, r *http.Request) error {
	var req resetInitiateRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.svc.Resets.Initiate(r.Context(), req.Tenant, req.Email, s.meta(r)); err != nil {
		return err
	}
	writeRawJSON(w, http.StatusAccepted, acceptedBody)
	return nil
}

type resetCompleteRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (s *Server) handleResetComplete(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	var req resetCompleteRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.svc.Resets.Complete(r.Context(), req.Token, req.NewPassword, s.meta(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
