package server_test

// The OpenAPI document (docs/openapi.yaml) must be valid and describe what
// the server really answers: real requests to a running test server are
// checked against it with kin-openapi.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/server"
	"github.com/idp-dev/idp/internal/testenv"
)

// registerHTML lets the validator read the hosted pages' HTML answers as
// strings (kin-openapi decodes only the media types registered).
var registerHTML sync.Once

// loadOpenAPI loads and validates docs/openapi.yaml.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	registerHTML.Do(func() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) })
	path := filepath.Join(testenv.RepoRoot(t), "docs", "openapi.yaml")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPIDocument: the document validates and names every endpoint of
// CONTRACT 3 and every error code of its table.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	for _, ep := range []struct{ method, path string }{
		{"POST", tokenURL}, {"POST", refreshURL}, {"POST", logoutURL}, {"GET", meURL},
		{"POST", registerURL}, {"POST", changeURL}, {"POST", initiateURL}, {"POST", completeURL},
		{"GET", jwksURL}, {"GET", discoURL}, {"GET", "/healthz"}, {"GET", "/readyz"},
		// CONTRACT 7: the OpenID Connect provider, browser and back channel.
		{"GET", authorizeURL}, {"POST", authorizeURL}, {"GET", authorizeURL + "/resume"}, {"POST", consentURL},
		{"POST", oauthTokenURL}, {"GET", userinfoURL}, {"POST", userinfoURL}, {"POST", revokeURL},
		{"POST", introspectURL}, {"GET", endSessionURL}, {"POST", endSessionURL}, {"POST", "/account/apps/revoke"},
		// CORS preflights of the endpoints browsers may call.
		{"OPTIONS", oauthTokenURL}, {"OPTIONS", userinfoURL}, {"OPTIONS", revokeURL}, {"OPTIONS", jwksURL},
		{"OPTIONS", discoURL},
	} {
		item := doc.Paths.Find(ep.path)
		if item == nil || item.GetOperation(ep.method) == nil {
			t.Errorf("%s %s is not documented", ep.method, ep.path)
		}
	}
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"invalid_request", "invalid_grant", "invalid_token", "forbidden", "weak_password",
		"too_many_attempts", "temporarily_unavailable", "conflict", "unsupported_grant_type", "server_error",
		"invalid_client", "unauthorized_client", "invalid_scope", "unsupported_response_type", "login_required",
		"consent_required", "access_denied", "request_not_supported", "request_uri_not_supported"} {
		if !bytes.Contains(raw, []byte(code)) {
			t.Errorf("error code %q is not in the document", code)
		}
	}
}

// exchange is one real request and the status it is expected to get.
type exchange struct {
	name   string
	method string
	path   string
	body   string
	ctype  string
	header []string
	status int
	// validRequest marks requests the document must accept as well.
	validRequest bool
}

// TestOpenAPIResponses sends real requests and validates each response
// (status, headers, body) against the document.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	env := newContractEnv(t, func(c *core.Config, o *server.Options) {
		c.IPPerMinute = 40
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ts, ctx := env.TS, context.Background()
	doc.Servers = openapi3.Servers{{URL: ts.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}

	user := loginOK(t, ts, "", testUser, testPassword)
	admin := loginOK(t, ts, "", testAdmin, testPassword)
	spare := loginOK(t, ts, "", testUser, testPassword)
	createUser(t, env, "", "locked@example.com")
	for range 6 {
		loginAs(t, ts, "", "locked@example.com", "wrong wrong wrong")
	}
	reset := resetToken(t, env, testAdmin)
	etagJWKS := do(t, ts, "GET", jwksURL, nil).Header.Get("ETag")
	etagDisco := do(t, ts, "GET", discoURL, nil).Header.Get("ETag")
	authUser := []string{"Authorization", bearer(user.AccessToken)}
	authAdmin := []string{"Authorization", bearer(admin.AccessToken)}
	form := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}, "client_id": {"docs"}}.Encode()

	exchanges := []exchange{
		{name: "login", method: "POST", path: tokenURL, body: `{"email":"` + testUser + `","password":"` + testPassword + `"}`, status: 200, validRequest: true},
		{name: "login form", method: "POST", path: tokenURL, body: form, ctype: "application/x-www-form-urlencoded", status: 200, validRequest: true},
		{name: "login wrong password", method: "POST", path: tokenURL, body: `{"email":"` + testUser + `","password":"not it at all"}`, status: 400, validRequest: true},
		{name: "login bad JSON", method: "POST", path: tokenURL, body: `{"email":`, status: 400},
		{name: "login unsupported grant", method: "POST", path: tokenURL, body: "grant_type=client_credentials", ctype: "application/x-www-form-urlencoded", status: 400},
		{name: "login too large", method: "POST", path: tokenURL, body: `{"email":"` + strings.Repeat("a", 65<<10) + `"}`, status: 413},
		{name: "login wrong type", method: "POST", path: tokenURL, body: `{}`, ctype: "text/plain", status: 415},
		{name: "login locked", method: "POST", path: tokenURL, body: `{"email":"locked@example.com","password":"` + testPassword + `"}`, status: 429, validRequest: true},
		{name: "refresh", method: "POST", path: refreshURL, body: `{"refresh_token":"` + user.RefreshToken + `"}`, status: 200, validRequest: true},
		{name: "refresh bad", method: "POST", path: refreshURL, body: `{"refresh_token":"nope"}`, status: 400, validRequest: true},
		{name: "me", method: "GET", path: meURL, header: authAdmin, status: 200, validRequest: true},
		{name: "me no token", method: "GET", path: meURL, status: 401},
		{name: "me bad token", method: "GET", path: meURL, header: []string{"Authorization", "Bearer x.y.z"}, status: 401},
		{name: "register", method: "POST", path: registerURL, header: authAdmin, body: `{"email":"doc@example.com","password":"` + testPassword + `","roles":["admin"],"display_name":"Doc"}`, status: 201, validRequest: true},
		{name: "register pending", method: "POST", path: registerURL, header: authAdmin, body: `{"email":"doc2@example.com"}`, status: 201, validRequest: true},
		{name: "register conflict", method: "POST", path: registerURL, header: authAdmin, body: `{"email":"doc@example.com","password":"` + testPassword + `"}`, status: 409, validRequest: true},
		{name: "register weak", method: "POST", path: registerURL, header: authAdmin, body: `{"email":"doc3@example.com","password":"short"}`, status: 400},
		{name: "register forbidden", method: "POST", path: registerURL, header: authUser, body: `{"email":"doc4@example.com","password":"` + testPassword + `"}`, status: 403, validRequest: true},
		{name: "register no token", method: "POST", path: registerURL, body: `{"email":"doc4@example.com"}`, status: 401},
		{name: "change wrong current", method: "POST", path: changeURL, header: authUser, body: `{"current_password":"not the one at all","new_password":"a brand new passphrase"}`, status: 400, validRequest: true},
		{name: "change", method: "POST", path: changeURL, header: authUser, body: `{"current_password":"` + testPassword + `","new_password":"a brand new passphrase"}`, status: 204, validRequest: true},
		{name: "initiate", method: "POST", path: initiateURL, body: `{"email":"nobody@example.com"}`, status: 202, validRequest: true},
		{name: "initiate ambiguous", method: "POST", path: initiateURL, body: `{"email":"a@example.com","email":"b@example.com"}`, status: 400},
		{name: "complete weak", method: "POST", path: completeURL, body: `{"token":"` + reset + `","new_password":"short"}`, status: 400},
		{name: "complete", method: "POST", path: completeURL, body: `{"token":"` + reset + `","new_password":"a renewed passphrase for me"}`, status: 204, validRequest: true},
		{name: "complete used", method: "POST", path: completeURL, body: `{"token":"` + reset + `","new_password":"a renewed passphrase for me"}`, status: 400, validRequest: true},
		{name: "logout", method: "POST", path: logoutURL, body: `{"refresh_token":"` + spare.RefreshToken + `"}`, status: 204, validRequest: true},
		{name: "logout missing", method: "POST", path: logoutURL, body: `{}`, status: 400},
		{name: "logout all no token", method: "POST", path: logoutURL, body: `{"all":true}`, status: 401},
		{name: "jwks", method: "GET", path: jwksURL, status: 200, validRequest: true},
		{name: "jwks 304", method: "GET", path: jwksURL, header: []string{"If-None-Match", etagJWKS}, status: 304, validRequest: true},
		{name: "discovery", method: "GET", path: discoURL, status: 200, validRequest: true},
		{name: "discovery 304", method: "GET", path: discoURL, header: []string{"If-None-Match", etagDisco}, status: 304, validRequest: true},
		{name: "healthz", method: "GET", path: "/healthz", status: 200, validRequest: true},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, validRequest: true},
	}
	// Per-IP limits: a client behind the trusted proxy runs out.
	for i := range 41 {
		status := 202
		if i == 40 {
			status = 429
		}
		exchanges = append(exchanges, exchange{name: fmt.Sprintf("initiate limited %d", i), method: "POST", path: initiateURL,
			body: fmt.Sprintf(`{"email":"n%d@example.com"}`, i), header: []string{"X-Forwarded-For", "203.0.113.5"}, status: status})
	}

	chk := newOpenAPIChecker(t, doc, ts)
	for _, e := range exchanges {
		chk.check(t, e)
	}

	// Controls: the validator does reject responses the document doesn't
	// describe, so the passes above mean something.
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+tokenURL, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		status int
		body   string
	}{
		{200, `{"access_token":1}`},
		{200, `{}`},
		{400, `{"error":"invalid_grant"}`},
		{400, `{"message":"bad"}`},
		{418, `{"error":"teapot","error_description":"short and stout"}`},
	} {
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: bad.status,
			Header: http.Header{"Content-Type": {"application/json"}}, Options: opts}
		out.SetBodyBytes([]byte(bad.body))
		if err := openapi3filter.ValidateResponse(ctx, out); err == nil {
			t.Errorf("control: %d %s passes validation; the document or the validator checks nothing", bad.status, bad.body)
		}
	}
	{
		// A 429 without Retry-After is not what the document promises.
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: 429,
			Header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "X-Request-Id": {"abc"}}, Options: opts}
		out.SetBodyBytes([]byte(`{"error":"too_many_attempts","error_description":"slow down"}`))
		if err := openapi3filter.ValidateResponse(ctx, out); err == nil {
			t.Errorf("control: a 429 without Retry-After passes validation")
		}
	}

	// Unavailable: Redis down gives 503 on login and readyz.
	env.Redis.Stop()
	chk.check(t, exchange{name: "login unavailable", method: "POST", path: tokenURL, body: `{"email":"` + testUser + `","password":"x"}`, status: 503, validRequest: true})
	chk.check(t, exchange{name: "readyz unavailable", method: "GET", path: "/readyz", status: 503, validRequest: true})
}

func truncateForLog(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// openAPIChecker sends real requests to a test server and validates each
// request and response against the document.
type openAPIChecker struct {
	doc    *openapi3.T
	router routers.Router
	ts     *httptest.Server
	// client doesn't follow redirects: the browser endpoints' answers are
	// redirects, and they are what the document describes.
	client *http.Client
}

func newOpenAPIChecker(t *testing.T, doc *openapi3.T, ts *httptest.Server) *openAPIChecker {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	client := &http.Client{Transport: ts.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &openAPIChecker{doc: doc, router: router, ts: ts, client: client}
}

// check sends e, wants its status, and validates the response (and, for
// e.validRequest, the request) against the document.
func (c *openAPIChecker) check(t *testing.T, e exchange) response {
	t.Helper()
	ctx := context.Background()
	ctype := e.ctype
	if ctype == "" && e.body != "" {
		ctype = "application/json"
	}
	newReq := func() *http.Request {
		var body io.Reader
		if e.body != "" {
			body = strings.NewReader(e.body)
		}
		req, err := http.NewRequestWithContext(ctx, e.method, c.ts.URL+e.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(e.header); i += 2 {
			req.Header.Set(e.header[i], e.header[i+1])
		}
		return req
	}
	resp, err := c.client.Do(newReq())
	if err != nil {
		t.Fatalf("%s: %v", e.name, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: read body: %v", e.name, err)
	}
	r := response{Response: resp, Body: body}
	if r.StatusCode != e.status {
		t.Errorf("%s: %s %s answered %d, want %d: %s", e.name, e.method, e.path, r.StatusCode, e.status, truncateForLog(r.Body))
		return r
	}
	req := newReq()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: %s %s is not in the document: %v", e.name, e.method, e.path, err)
		return r
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if e.validRequest {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s: the document refuses a request the server accepts:\n%s\n%v", e.name, e.body, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: r.StatusCode, Header: r.Header, Options: opts}
	out.SetBodyBytes(r.Body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("%s: %s %s -> %d does not match the document:\nbody %s\n%v", e.name, e.method, e.path, r.StatusCode, truncateForLog(r.Body), err)
	}
	return r
}
