package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

// The OAuth 2.0 / OpenID Connect back channel: token, userinfo, revocation
// and introspection (CONTRACT 7, docs/integrate.md). The browser-facing
// authorization and logout endpoints are the hosted pages' (internal/web):
// they need the browser's cookie.

func (s *Server) oauthRoutes() {
	m := s.mux
	m.Handle("POST /oauth2/token", s.cors(s.handle(s.handleOAuthToken)))
	m.Handle("OPTIONS /oauth2/token", s.cors(nil))
	m.Handle("GET /oauth2/userinfo", s.cors(s.handle(s.handleUserInfo)))
	m.Handle("POST /oauth2/userinfo", s.cors(s.handle(s.handleUserInfo)))
	m.Handle("OPTIONS /oauth2/userinfo", s.cors(nil))
	m.Handle("POST /oauth2/revoke", s.cors(s.handle(s.handleRevoke)))
	m.Handle("OPTIONS /oauth2/revoke", s.cors(nil))
	m.Handle("POST /oauth2/introspect", s.handle(s.handleIntrospect))
}

// errInvalidClient is RFC 6749 5.2's invalid_client: 401 with a Basic
// challenge, whatever went wrong with the credentials.
var errInvalidClient = &core.Error{Code: core.EINVALIDCLIENT, Message: "client authentication failed"}

// clientCredentials reads the client's credentials: HTTP Basic (each part
// form-urlencoded first, RFC 6749 2.3.1), client_secret_post, or a bare
// client_id for a public client. Two methods at once is refused.
func clientCredentials(r *http.Request, form map[string]string) (id, secret string, basic bool, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Basic") {
			return "", "", false, errInvalidClient
		}
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		u, p, ok := strings.Cut(string(raw), ":")
		if derr != nil || !ok {
			return "", "", true, errInvalidClient
		}
		if id, err = url.QueryUnescape(u); err != nil {
			return "", "", true, errInvalidClient
		}
		if secret, err = url.QueryUnescape(p); err != nil {
			return "", "", true, errInvalidClient
		}
		if form["client_secret"] != "" || (form["client_id"] != "" && form["client_id"] != id) {
			return "", "", true, core.Errorf(core.EINVALID, "use one client authentication method")
		}
		return id, secret, true, nil
	}
	return form["client_id"], form["client_secret"], false, nil
}

// oauthClient authenticates the client of a request; nil without any
// client_id (only the refresh of a password-API token may do that).
func (s *Server) oauthClient(r *http.Request, form map[string]string) (*core.Client, error) {
	id, secret, _, err := clientCredentials(r, form)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, nil
	}
	c, err := s.svc.Clients.Authenticate(r.Context(), id, secret, s.meta(r))
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// requireForm refuses a back-channel request that isn't a form (RFC 6749
// 3.2, RFC 7009 2.1, RFC 7662 2.1).
func requireForm(r *http.Request, what string) error {
	if mediaType(r) != mediaForm {
		return &apiError{http.StatusUnsupportedMediaType, "invalid_request", "the " + what + " request must be application/x-www-form-urlencoded"}
	}
	return nil
}

func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	form, client, err := s.clientRequest(r, "token")
	if err != nil {
		return err
	}
	meta := s.meta(r)
	var resp core.TokenResponse
	switch gt := form["grant_type"]; gt {
	case core.GrantAuthorizationCode:
		if client == nil {
			return errInvalidClient
		}
		resp, err = s.svc.OAuth.ExchangeCode(r.Context(), core.CodeExchange{Client: *client, Code: form["code"],
			RedirectURI: form["redirect_uri"], CodeVerifier: form["code_verifier"]}, meta)
	case core.GrantRefreshToken:
		if client != nil && !client.HasGrant(core.GrantRefreshToken) {
			return &apiError{http.StatusBadRequest, "unauthorized_client", "this client may not use the refresh_token grant"}
		}
		resp, err = s.svc.Sessions.RefreshFor(r.Context(), form["refresh_token"], client, meta)
	case "":
		return core.Errorf(core.EINVALID, "grant_type is required")
	default:
		return &apiError{http.StatusBadRequest, "unsupported_grant_type",
			"grant_type " + quote(gt) + " is not supported here (authorization_code, refresh_token)"}
	}
	if err != nil {
		return err
	}
	resp.DeviceToken = ""
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// handleUserInfo is OpenID Connect UserInfo: the token in the
// Authorization header, or (POST) in the form.
func (s *Server) handleUserInfo(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	raw, err := bearerToken(r)
	if err != nil && r.Method == http.MethodPost && mediaType(r) == mediaForm && r.Header.Get("Authorization") == "" {
		form, ferr := readForm(r)
		if ferr != nil {
			return ferr
		}
		if raw = form["access_token"]; raw != "" && isB64Token(raw) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	p, err := s.svc.Auth.Authenticate(r.Context(), raw)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.svc.OAuth.UserInfo(r.Context(), p))
	return nil
}

// clientRequest reads a back-channel form and authenticates its client
// (nil when it names none).
func (s *Server) clientRequest(r *http.Request, what string) (map[string]string, *core.Client, error) {
	if err := requireForm(r, what); err != nil {
		return nil, nil, err
	}
	form, err := readForm(r)
	if err != nil {
		return nil, nil, err
	}
	client, err := s.oauthClient(r, form)
	return form, client, err
}

// handleRevoke is RFC 7009: 200 whatever the token, once the client is
// authenticated (a public client names itself).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	form, client, err := s.clientRequest(r, "revocation")
	if err != nil {
		return err
	}
	if err := s.svc.OAuth.Revoke(r.Context(), client, form["token"], s.meta(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// handleIntrospect is RFC 7662, for confidential clients.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	form, client, err := s.clientRequest(r, "introspection")
	if err != nil {
		return err
	}
	if client == nil || client.Public {
		return errInvalidClient
	}
	if form["token"] == "" {
		return core.Errorf(core.EINVALID, "token is required")
	}
	res, err := s.svc.OAuth.Introspect(r.Context(), *client, form["token"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// corsOrigins caches the registered clients' origins for a few seconds:
// they are read on every cross-origin request.
type corsOrigins struct {
	mu      sync.Mutex
	list    []string
	fetched time.Time
}

const corsCacheTTL = 10 * time.Second

func (s *Server) allowedOrigin(r *http.Request, origin string) bool {
	c := &s.corsCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.fetched) > corsCacheTTL {
		list, err := s.svc.OAuth.CORSOrigins(r.Context())
		if err != nil {
			s.log.WarnContext(r.Context(), "read CORS origins failed", "err", err)
		} else {
			c.list, c.fetched = list, time.Now()
		}
	}
	return slices.Contains(c.list, strings.ToLower(origin))
}

// cors answers browsers calling from a registered client's origin (a SPA
// with PKCE), and no other origin. next nil serves only preflights.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && s.svc != nil && s.allowedOrigin(r, origin)
		if origin != "" {
			w.Header().Add("Vary", "Origin")
		}
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
		}
		if r.Method == http.MethodOptions {
			if allowed {
				h := w.Header()
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
