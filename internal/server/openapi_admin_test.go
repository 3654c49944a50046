package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/idp-dev/idp/internal/core"
)

// TestOpenAPIAdmin: every admin API route is in docs/openapi.yaml, and real
// answers of each (successes and the errors of the permission matrix)
// match the document.
func TestOpenAPIAdmin(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	f := newAdminFixture(t)
	ts, ctx := f.env.TS, context.Background()
	doc.Servers = openapi3.Servers{{URL: ts.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	loginOK(t, ts, "", "member@example.com", testPassword)
	sessions, err := f.env.Services.Admin.Sessions(ctx, core.Operator(""), core.ByID(f.memberID), cliMeta)
	if err != nil || len(sessions) == 0 {
		t.Fatalf("sessions: %v", err)
	}
	pending, err := f.env.Services.Admin.CreateUser(ctx, core.Operator(""), core.CreateInput{Email: "pending@example.com"}, cliMeta)
	if err != nil {
		t.Fatal(err)
	}
	page := do(t, ts, "GET", adminURL+"/users?limit=2", nil, f.admin...).JSON(t)["next_cursor"].(string)
	auditNext := do(t, ts, "GET", adminURL+"/audit?limit=2", nil, f.admin...).JSON(t)["next_cursor"].(string)

	u := adminURL + "/users/" + f.memberID
	a, m, o, fr := f.admin, f.member, f.other, f.fresh
	exchanges := []struct {
		exchange
		auth []string
	}{
		{exchange{name: "list", method: "GET", path: adminURL + "/users?limit=2&status=active&role=member&email_prefix=m", status: 200, validRequest: true}, a},
		{exchange{name: "list next page", method: "GET", path: adminURL + "/users?limit=2&cursor=" + url.QueryEscape(page), status: 200, validRequest: true}, a},
		{exchange{name: "list bad limit", method: "GET", path: adminURL + "/users?limit=500", status: 400}, a},
		{exchange{name: "list as member", method: "GET", path: adminURL + "/users", status: 403, validRequest: true}, m},
		{exchange{name: "list must change", method: "GET", path: adminURL + "/users", status: 403, validRequest: true}, fr},
		{exchange{name: "list no token", method: "GET", path: adminURL + "/users", status: 401}, nil},
		{exchange{name: "create", method: "POST", path: adminURL + "/users", body: `{"email":"doc@example.com","password":"` + testPassword + `","display_name":"Doc","roles":["member"]}`, status: 201, validRequest: true}, a},
		{exchange{name: "create invite", method: "POST", path: adminURL + "/users", body: `{"email":"doc2@example.com"}`, status: 201, validRequest: true}, a},
		{exchange{name: "create role not in catalogue", method: "POST", path: adminURL + "/users", body: `{"email":"doc3@example.com","roles":["ghost"]}`, status: 400, validRequest: true}, a},
		{exchange{name: "create weak", method: "POST", path: adminURL + "/users", body: `{"email":"doc3@example.com","password":"short"}`, status: 400, validRequest: true}, a},
		{exchange{name: "create conflict", method: "POST", path: adminURL + "/users", body: `{"email":"doc@example.com"}`, status: 409, validRequest: true}, a},
		{exchange{name: "create too large", method: "POST", path: adminURL + "/users", body: `{"email":"` + strings.Repeat("a", 65<<10) + `"}`, status: 413}, a},
		{exchange{name: "create wrong type", method: "POST", path: adminURL + "/users", body: `{}`, ctype: "text/plain", status: 415}, a},
		{exchange{name: "create as member", method: "POST", path: adminURL + "/users", body: `{"email":"doc4@example.com"}`, status: 403, validRequest: true}, m},
		{exchange{name: "get", method: "GET", path: u, status: 200, validRequest: true}, a},
		{exchange{name: "get other tenant", method: "GET", path: u, status: 404, validRequest: true}, o},
		{exchange{name: "get bad id", method: "GET", path: adminURL + "/users/nope", status: 400, validRequest: true}, a},
		{exchange{name: "update", method: "PATCH", path: u, body: `{"display_name":"Mem Ber","roles":["member"]}`, status: 200, validRequest: true}, a},
		{exchange{name: "update role not in catalogue", method: "PATCH", path: u, body: `{"roles":["ghost"]}`, status: 400, validRequest: true}, a},
		{exchange{name: "update self-demotion", method: "PATCH", path: adminURL + "/users/" + f.adminID, body: `{"roles":[]}`, status: 403, validRequest: true}, a},
		{exchange{name: "update other tenant", method: "PATCH", path: u, body: `{"roles":[]}`, status: 404, validRequest: true}, o},
		{exchange{name: "sessions", method: "GET", path: u + "/sessions", status: 200, validRequest: true}, a},
		{exchange{name: "revoke one", method: "DELETE", path: u + "/sessions/" + sessions[0].ID.String(), status: 200, validRequest: true}, a},
		{exchange{name: "revoke one of another user", method: "DELETE", path: adminURL + "/users/" + f.adminID + "/sessions/" + sessions[0].ID.String(), status: 404, validRequest: true}, a},
		{exchange{name: "revoke all", method: "DELETE", path: u + "/sessions", status: 200, validRequest: true}, a},
		{exchange{name: "disable", method: "POST", path: u + "/disable", status: 200, validRequest: true}, a},
		{exchange{name: "disable self", method: "POST", path: adminURL + "/users/" + f.adminID + "/disable", status: 403, validRequest: true}, a},
		{exchange{name: "enable", method: "POST", path: u + "/enable", status: 200, validRequest: true}, a},
		{exchange{name: "enable pending", method: "POST", path: adminURL + "/users/" + pending.ID + "/enable", status: 409, validRequest: true}, a},
		{exchange{name: "unlock", method: "POST", path: u + "/unlock", status: 200, validRequest: true}, a},
		{exchange{name: "invite", method: "POST", path: adminURL + "/users/" + pending.ID + "/invite", status: 200, validRequest: true}, a},
		{exchange{name: "invite active", method: "POST", path: u + "/invite", status: 409, validRequest: true}, a},
		{exchange{name: "invite other tenant", method: "POST", path: adminURL + "/users/" + pending.ID + "/invite", status: 404, validRequest: true}, o},
		{exchange{name: "roles", method: "GET", path: adminURL + "/roles", status: 200, validRequest: true}, a},
		{exchange{name: "roles must change", method: "GET", path: adminURL + "/roles", status: 403, validRequest: true}, fr},
		{exchange{name: "role create", method: "POST", path: adminURL + "/roles", body: `{"name":"reports:read","description":"Reads reports"}`, status: 201, validRequest: true}, a},
		{exchange{name: "role create bad", method: "POST", path: adminURL + "/roles", body: `{"name":"Reports"}`, status: 400}, a},
		{exchange{name: "role create conflict", method: "POST", path: adminURL + "/roles", body: `{"name":"reports:read"}`, status: 409, validRequest: true}, a},
		{exchange{name: "role delete", method: "DELETE", path: adminURL + "/roles/reports:read", status: 204, validRequest: true}, a},
		{exchange{name: "role delete in use", method: "DELETE", path: adminURL + "/roles/member", status: 409, validRequest: true}, a},
		{exchange{name: "role delete unknown", method: "DELETE", path: adminURL + "/roles/ghost", status: 404, validRequest: true}, a},
		{exchange{name: "audit", method: "GET", path: adminURL + "/audit?limit=5&event=user_disable&user_id=" + f.memberID + "&since=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00Z&hide_reads=true", status: 200, validRequest: true}, a},
		{exchange{name: "audit next page", method: "GET", path: adminURL + "/audit?limit=2&cursor=" + url.QueryEscape(auditNext), status: 200, validRequest: true}, a},
		{exchange{name: "audit bad since", method: "GET", path: adminURL + "/audit?since=yesterday", status: 400}, a},
		{exchange{name: "audit other tenant's user", method: "GET", path: adminURL + "/audit?user_id=" + f.memberID, status: 404, validRequest: true}, o},
		{exchange{name: "tenant", method: "GET", path: adminURL + "/tenant", status: 200, validRequest: true}, a},
		{exchange{name: "tenant must change", method: "GET", path: adminURL + "/tenant", status: 403, validRequest: true}, fr},
	}
	for _, e := range exchanges {
		validateExchange(t, ctx, router, ts, e.exchange, e.auth)
	}
}

// validateExchange sends e and checks the answer (and, with validRequest,
// the request) against the document.
func validateExchange(t *testing.T, ctx context.Context, router routers.Router, ts *httptest.Server, e exchange, auth []string) {
	t.Helper()
	ctype := e.ctype
	if ctype == "" && e.body != "" {
		ctype = "application/json"
	}
	newReq := func() *http.Request {
		var body io.Reader
		if e.body != "" {
			body = strings.NewReader(e.body)
		}
		req, err := http.NewRequestWithContext(ctx, e.method, ts.URL+e.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(auth); i += 2 {
			req.Header.Set(auth[i], auth[i+1])
		}
		return req
	}
	r, err := sendRaw(ts, newReq())
	if err != nil {
		t.Fatalf("%s: %v", e.name, err)
	}
	if r.StatusCode != e.status {
		t.Errorf("%s: %s %s answered %d, want %d: %s", e.name, e.method, e.path, r.StatusCode, e.status, r.Body)
		return
	}
	req := newReq()
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: %s %s is not in the document: %v", e.name, e.method, e.path, err)
		return
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
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
}
