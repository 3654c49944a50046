package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/idp-dev/idp/internal/core"
)

// staticDoc is a response body computed once, with its ETag.
type staticDoc struct {
	body []byte
	etag string
}

func newStaticDoc(v any) staticDoc {
	b, err := json.Marshal(v)
	if err != nil {
		panic("server: static document does not encode: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return staticDoc{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// discovery is the OpenID Provider metadata (OpenID Connect Discovery 1.0,
// CONTRACT 7): every endpoint, and only what idp does.
type discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods  []string `json:"introspection_endpoint_auth_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	UILocalesSupported                []string `json:"ui_locales_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseISSSupported bool     `json:"authorization_response_iss_parameter_supported"`
	BackchannelLogoutSupported        bool     `json:"backchannel_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
}

func discoveryDocument(issuer string, locales []string) discovery {
	if locales == nil {
		locales = []string{}
	}
	auth := []string{"client_secret_basic", "client_secret_post", "none"}
	return discovery{
		Issuer:                            issuer,
		AuthorizationEndpoint:             issuer + "/oauth2/authorize",
		TokenEndpoint:                     issuer + "/oauth2/token",
		UserinfoEndpoint:                  issuer + "/oauth2/userinfo",
		JWKSURI:                           issuer + "/.well-known/jwks.json",
		EndSessionEndpoint:                issuer + "/oauth2/logout",
		RevocationEndpoint:                issuer + "/oauth2/revoke",
		IntrospectionEndpoint:             issuer + "/oauth2/introspect",
		ScopesSupported:                   core.SupportedScopes,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{core.GrantAuthorizationCode, core.GrantRefreshToken},
		CodeChallengeMethodsSupported:     []string{"S256"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{core.AlgEdDSA, core.AlgRS256},
		TokenEndpointAuthMethodsSupported: auth,
		RevocationEndpointAuthMethods:     auth,
		IntrospectionEndpointAuthMethods:  []string{"client_secret_basic", "client_secret_post"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "sid", "at_hash",
			"name", "email", "email_verified", "tenant_id", "roles", "client_id", "scope", "pwd_change"},
		PromptValuesSupported:             []string{"none", "login", "consent", "select_account"},
		UILocalesSupported:                locales,
		RequestParameterSupported:         false,
		RequestURIParameterSupported:      false,
		AuthorizationResponseISSSupported: true,
	}
}

// serveCached writes a public, cacheable body, or 304 when the client's
// copy is current.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, body []byte, etag string) {
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.FormatInt(int64(s.opts.JWKSMaxAge.Seconds()), 10))
	h.Set("ETag", etag)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeRawJSON(w, http.StatusOK, body)
}

// etagMatch applies the weak comparison If-None-Match asks for (RFC 9110
// section 13.1.2).
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	etag = strings.TrimPrefix(etag, "W/")
	for c := range strings.SplitSeq(header, ",") {
		c = strings.TrimSpace(c)
		if c == "*" || strings.TrimPrefix(c, "W/") == etag {
			return true
		}
	}
	return false
}

// handleJWKS serves the key set core renders on every key change.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	body, etag, err := s.svc.Keys.JWKS()
	if err != nil {
		return err
	}
	s.serveCached(w, r, body, etag)
	return nil
}

func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) error {
	s.serveCached(w, r, s.discovery.body, s.discovery.etag)
	return nil
}

// handleHealthz says the process is alive. It does no I/O, so a slow
// database never makes an orchestrator kill a healthy process.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeRawJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
	return nil
}

// handleReadyz says whether the dependencies answer, so a load balancer
// stops sending traffic while they don't.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "cause", core.Escape(err.Error()))
			w.Header().Set("Retry-After", "1")
			writeRawJSON(w, http.StatusServiceUnavailable, []byte(`{"status":"unavailable"}`))
			return nil
		}
	}
	writeRawJSON(w, http.StatusOK, []byte(`{"status":"ready"}`))
	return nil
}
