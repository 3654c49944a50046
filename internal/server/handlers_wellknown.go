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

// discovery is the OpenID Provider metadata (CONTRACT 4.2). Only what we
// implement is advertised: there is no authorization endpoint, so no
// response type beyond what the token endpoint hands out.
type discovery struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

func discoveryDocument(issuer string) discovery {
	return discovery{
		Issuer:                            issuer,
		JWKSURI:                           issuer + "/.well-known/jwks.json",
		TokenEndpoint:                     issuer + "/api/v1/auth/token",
		UserinfoEndpoint:                  issuer + "/api/v1/auth/me",
		GrantTypesSupported:               []string{"password", "refresh_token"},
		ResponseTypesSupported:            []string{"token"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"EdDSA"},
		TokenEndpointAuthMethodsSupported: []string{"none"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid",
			"tenant_id", "roles", "email"},
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
