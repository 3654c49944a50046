package server

import (
	"net/http"
)

// handlerFunc is what every endpoint is written as: an error it returns is
// written and logged in one place, writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// routes registers every endpoint of CONTRACT section 3.
func (s *Server) routes() {
	m := s.mux
	m.Handle("POST /api/v1/auth/token", s.handle(s.handleToken))
	m.Handle("POST /api/v1/auth/refresh", s.handle(s.handleRefresh))
	m.Handle("POST /api/v1/auth/logout", s.handle(s.handleLogout))
	m.Handle("GET /api/v1/auth/me", s.handle(s.authenticated(s.handleMe)))
	m.Handle("POST /api/v1/auth/register", s.handle(s.authenticated(s.handleRegister)))
	m.Handle("POST /api/v1/auth/password/change", s.handle(s.authenticated(s.handlePasswordChange)))
	m.Handle("POST /api/v1/auth/password/reset/initiate", s.handle(s.handleResetInitiate))
	m.Handle("POST /api/v1/auth/password/reset/complete", s.handle(s.handleResetComplete))
	s.adminRoutes()

	m.Handle("GET /.well-known/jwks.json", s.cors(s.handle(s.handleJWKS)))
	m.Handle("OPTIONS /.well-known/jwks.json", s.cors(nil))
	m.Handle("GET /.well-known/openid-configuration", s.cors(s.handle(s.handleDiscovery)))
	m.Handle("OPTIONS /.well-known/openid-configuration", s.cors(nil))
	s.oauthRoutes()
	m.Handle("GET /healthz", s.handle(s.handleHealthz))
	m.Handle("GET /readyz", s.handle(s.handleReadyz))
}

// handle adapts a handlerFunc to http.Handler.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// dispatch routes through the mux, answering unknown paths and wrong
// methods with the JSON error body instead of the mux's plain text.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		if info := requestInfoFrom(r.Context()); info != nil {
			info.route = pattern
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	// The mux's own 404/405 handler knows the Allow header; let it run
	// into a throwaway writer and keep only that.
	dw := &discardWriter{header: http.Header{}}
	h.ServeHTTP(dw, r)
	if dw.status == http.StatusMethodNotAllowed {
		if allow := dw.header.Values("Allow"); len(allow) > 0 {
			w.Header()["Allow"] = allow
		}
		s.writeError(w, r, errMethod)
		return
	}
	s.writeError(w, r, errNotFound)
}

type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

func (d *discardWriter) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(b), nil
}
