package server_test

// The OpenID Connect endpoints against docs/openapi.yaml: a browser signed
// in through core (its cookie is what the hosted pages set) authorizes
// registered clients over HTTP, and the relying party's back-channel calls
// (token, userinfo, revocation, introspection) and the logout endpoint are
// validated like every other exchange.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/idp-dev/idp/internal/core"
)

// The endpoints of CONTRACT 7.
const (
	authorizeURL  = "/oauth2/authorize"
	consentURL    = "/oauth2/consent"
	oauthTokenURL = "/oauth2/token"
	userinfoURL   = "/oauth2/userinfo"
	revokeURL     = "/oauth2/revoke"
	introspectURL = "/oauth2/introspect"
	endSessionURL = "/oauth2/logout"
)

const (
	formType    = "application/x-www-form-urlencoded"
	rpOrigin    = "https://rp.example"
	rpCallback  = rpOrigin + "/callback"
	rpSignedOut = rpOrigin + "/signed-out"
)

// oidcClients are the clients the test registers: rp is a confidential
// first-party web app, spa a public one with a loopback redirect, third a
// confidential third-party app (consent), noRefresh a client without the
// refresh grant.
type oidcClients struct {
	rp, spa, third, noRefresh core.ClientView
}

func registerClients(t *testing.T, env *testEnv) oidcClients {
	t.Helper()
	yes := true
	create := func(name string, in core.ClientInput) core.ClientView {
		t.Helper()
		in.Name = &name
		v, err := env.Services.Clients.Create(context.Background(), in, cliMeta)
		if err != nil {
			t.Fatalf("Clients.Create(%s): %v", name, err)
		}
		return v
	}
	return oidcClients{
		rp: create("Relying Party", core.ClientInput{RedirectURIs: []string{rpCallback},
			PostLogoutRedirectURIs: []string{rpSignedOut}, FirstParty: &yes}),
		spa: create("Single Page", core.ClientInput{RedirectURIs: []string{"http://127.0.0.1:5173/callback"},
			Public: &yes, FirstParty: &yes}),
		third: create("Third Party", core.ClientInput{RedirectURIs: []string{"https://third.example/cb"}}),
		noRefresh: create("No Refresh", core.ClientInput{RedirectURIs: []string{"https://norefresh.example/cb"},
			FirstParty: &yes, GrantTypes: []string{core.GrantAuthorizationCode}}),
	}
}

// browserCookie signs testUser in as the hosted sign-in page does and
// returns the Cookie header of that browser.
func browserCookie(t *testing.T, env *testEnv) string {
	t.Helper()
	in := core.BrowserSignInInput{LoginInput: core.LoginInput{Email: testUser, Password: testPassword}}
	s, err := env.Services.Browser.SignIn(context.Background(), in, core.Meta{})
	if err != nil {
		t.Fatalf("Browser.SignIn: %v", err)
	}
	return "__Host-idp_session=" + s.Cookie
}

// pkce is a verifier and its S256 challenge.
type pkce struct{ verifier, challenge string }

func newPKCE(seed string) pkce {
	v := strings.Repeat(seed, 43/len(seed)+1)[:43]
	sum := sha256.Sum256([]byte(v))
	return pkce{verifier: v, challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// authzQuery is an authorization request of c; edit changes it.
func authzQuery(c core.ClientView, p pkce, edit ...func(url.Values)) string {
	q := url.Values{"response_type": {"code"}, "client_id": {c.ClientID}, "redirect_uri": {c.RedirectURIs[0]},
		"scope": {"openid email profile"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {p.challenge}, "code_challenge_method": {"S256"}}
	for _, e := range edit {
		e(q)
	}
	return q.Encode()
}

func basicAuth(c core.ClientView) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString(
		[]byte(url.QueryEscape(c.ClientID)+":"+url.QueryEscape(c.ClientSecret)))}
}

// redirectQuery is the query of a redirect's Location, checked to go to
// want (scheme, host and path).
func redirectQuery(t *testing.T, r response, want string) url.Values {
	t.Helper()
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != want {
		t.Fatalf("redirected to %q, want %s", r.Header.Get("Location"), want)
	}
	return loc.Query()
}

// TestOpenAPIOIDCResponses: the authorization endpoint's redirects and
// pages, every back-channel endpoint's successes and RFC 6749 5.2 errors,
// logout and the CORS preflights, against the document.
func TestOpenAPIOIDCResponses(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	env := newContractEnv(t, nil)
	doc.Servers = openapi3.Servers{{URL: env.TS.URL}}
	chk := newOpenAPIChecker(t, doc, env.TS)
	cl := registerClients(t, env)
	cookie := []string{"Cookie", browserCookie(t, env)}
	p := newPKCE("verifier-")

	// The authorization endpoint: the error page, the sign-in redirect, an
	// error sent back to the client, a code (GET and POST), the consent page.
	chk.check(t, exchange{name: "authorize unknown client", method: "GET", status: 400, validRequest: true,
		path: authorizeURL + "?" + authzQuery(cl.rp, p, func(q url.Values) { q.Set("client_id", "nobody") })})
	chk.check(t, exchange{name: "authorize signed out", method: "GET", path: authorizeURL + "?" + authzQuery(cl.rp, p),
		status: 303, validRequest: true})
	r := chk.check(t, exchange{name: "authorize without openid", method: "GET", status: 302,
		path: authorizeURL + "?" + authzQuery(cl.rp, p, func(q url.Values) { q.Set("scope", "email") })})
	if q := redirectQuery(t, r, rpCallback); q.Get("error") != "invalid_scope" || q.Get("state") != "st-1" || q.Get("iss") != env.TS.URL {
		t.Errorf("error response %v", q)
	}
	code := func(name string, c core.ClientView, p pkce) string {
		t.Helper()
		r := chk.check(t, exchange{name: name, method: "GET", path: authorizeURL + "?" + authzQuery(c, p), header: cookie,
			status: 302, validRequest: true})
		q := redirectQuery(t, r, c.RedirectURIs[0])
		if q.Get("code") == "" || q.Get("state") != "st-1" || q.Get("iss") != env.TS.URL {
			t.Fatalf("%s: authorization response %v", name, q)
		}
		return q.Get("code")
	}
	rpCode := code("authorize signed in", cl.rp, p)
	r = chk.check(t, exchange{name: "authorize POST", method: "POST", path: authorizeURL, body: authzQuery(cl.rp, p),
		ctype: formType, header: cookie, status: 302, validRequest: true})
	postCode := redirectQuery(t, r, rpCallback).Get("code")
	chk.check(t, exchange{name: "authorize third party", method: "GET", path: authorizeURL + "?" + authzQuery(cl.third, p),
		header: cookie, status: 200, validRequest: true})
	r = chk.check(t, exchange{name: "authorize prompt=none without consent", method: "GET", header: cookie, status: 302,
		validRequest: true, path: authorizeURL + "?" + authzQuery(cl.third, p, func(q url.Values) { q.Set("prompt", "none") })})
	if q := redirectQuery(t, r, cl.third.RedirectURIs[0]); q.Get("error") != "consent_required" {
		t.Errorf("prompt=none: %v", q)
	}
	chk.check(t, exchange{name: "authorize resume forged", method: "GET", path: authorizeURL + "/resume?request=x.y",
		header: cookie, status: 400, validRequest: true})
	chk.check(t, exchange{name: "consent forged", method: "POST", path: consentURL, ctype: formType, header: cookie,
		body: "csrf=x&request=y&decision=allow", status: 400, validRequest: true})
	chk.check(t, exchange{name: "consent cross-site", method: "POST", path: consentURL, ctype: formType,
		header: append([]string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, cookie...),
		body:   "csrf=x&request=y&decision=allow", status: 403, validRequest: true})

	// The token endpoint: both client authentication methods, refresh, the
	// password API's refresh token, and each error of RFC 6749 5.2.
	exchangeForm := func(c string, p pkce) string {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {rpCallback},
			"code_verifier": {p.verifier}}.Encode()
	}
	r = chk.check(t, exchange{name: "token code basic", method: "POST", path: oauthTokenURL, ctype: formType,
		body: exchangeForm(rpCode, p), header: basicAuth(cl.rp), status: 200, validRequest: true})
	var tk struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if err := json.Unmarshal(r.Body, &tk); err != nil || tk.IDToken == "" || tk.RefreshToken == "" {
		t.Fatalf("code exchange: %s", r.Body)
	}
	chk.check(t, exchange{name: "token code post", method: "POST", path: oauthTokenURL, ctype: formType, status: 200,
		validRequest: true, body: exchangeForm(postCode, p) + "&" + url.Values{"client_id": {cl.rp.ClientID},
			"client_secret": {cl.rp.ClientSecret}}.Encode()})
	sp := newPKCE("spa-")
	spaCode := code("authorize public client", cl.spa, sp)
	chk.check(t, exchange{name: "token code public", method: "POST", path: oauthTokenURL, ctype: formType, status: 200,
		validRequest: true, body: url.Values{"grant_type": {"authorization_code"}, "code": {spaCode},
			"redirect_uri": {cl.spa.RedirectURIs[0]}, "code_verifier": {sp.verifier}, "client_id": {cl.spa.ClientID}}.Encode()})
	chk.check(t, exchange{name: "token code reused", method: "POST", path: oauthTokenURL, ctype: formType,
		body: exchangeForm(postCode, p), header: basicAuth(cl.rp), status: 400, validRequest: true})
	r = chk.check(t, exchange{name: "token refresh", method: "POST", path: oauthTokenURL, ctype: formType,
		body: "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tk.RefreshToken), header: basicAuth(cl.rp),
		status: 200, validRequest: true})
	var refreshed struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(r.Body, &refreshed); err != nil || refreshed.RefreshToken == "" {
		t.Fatalf("refresh: %s", r.Body)
	}
	api := loginOK(t, env.TS, "", testUser, testPassword)
	chk.check(t, exchange{name: "token refresh password API", method: "POST", path: oauthTokenURL, ctype: formType,
		body: "grant_type=refresh_token&refresh_token=" + url.QueryEscape(api.RefreshToken), status: 200, validRequest: true})
	chk.check(t, exchange{name: "token refresh other client", method: "POST", path: oauthTokenURL, ctype: formType,
		body: "grant_type=refresh_token&refresh_token=" + url.QueryEscape(refreshed.RefreshToken), header: basicAuth(cl.third),
		status: 400, validRequest: true})
	wrong := cl.rp
	wrong.ClientSecret = "not the secret"
	chk.check(t, exchange{name: "token wrong secret", method: "POST", path: oauthTokenURL, ctype: formType,
		body: exchangeForm("whatever", p), header: basicAuth(wrong), status: 401, validRequest: true})
	chk.check(t, exchange{name: "token code without client", method: "POST", path: oauthTokenURL, ctype: formType,
		body: exchangeForm("whatever", p), status: 401, validRequest: true})
	chk.check(t, exchange{name: "token password grant", method: "POST", path: oauthTokenURL, ctype: formType,
		body: "grant_type=password&username=a&password=b", header: basicAuth(cl.rp), status: 400})
	chk.check(t, exchange{name: "token no grant_type", method: "POST", path: oauthTokenURL, ctype: formType,
		body: "code=x", header: basicAuth(cl.rp), status: 400})
	chk.check(t, exchange{name: "token two methods", method: "POST", path: oauthTokenURL, ctype: formType,
		body: exchangeForm("x", p) + "&client_secret=" + url.QueryEscape(cl.rp.ClientSecret), header: basicAuth(cl.rp), status: 400})
	chk.check(t, exchange{name: "token refresh grant not allowed", method: "POST", path: oauthTokenURL, ctype: formType,
		body: "grant_type=refresh_token&refresh_token=x", header: basicAuth(cl.noRefresh), status: 400, validRequest: true})
	chk.check(t, exchange{name: "token JSON", method: "POST", path: oauthTokenURL, body: `{"grant_type":"refresh_token"}`,
		header: basicAuth(cl.rp), status: 415})

	// UserInfo.
	chk.check(t, exchange{name: "userinfo GET", method: "GET", path: userinfoURL, header: []string{"Authorization", bearer(tk.AccessToken)},
		status: 200, validRequest: true})
	chk.check(t, exchange{name: "userinfo POST body", method: "POST", path: userinfoURL, ctype: formType,
		body: "access_token=" + url.QueryEscape(api.AccessToken), status: 200, validRequest: true})
	chk.check(t, exchange{name: "userinfo no token", method: "GET", path: userinfoURL, status: 401})
	chk.check(t, exchange{name: "userinfo ID token", method: "GET", path: userinfoURL, header: []string{"Authorization", bearer(tk.IDToken)},
		status: 401})

	// Introspection and revocation.
	intro := func(name string, c core.ClientView, tok string, status int, active any) {
		t.Helper()
		r := chk.check(t, exchange{name: name, method: "POST", path: introspectURL, ctype: formType,
			body: "token=" + url.QueryEscape(tok), header: basicAuth(c), status: status, validRequest: true})
		if status == 200 && r.JSON(t)["active"] != active {
			t.Errorf("%s: %s", name, r.Body)
		}
	}
	intro("introspect access token", cl.rp, tk.AccessToken, 200, true)
	intro("introspect refresh token", cl.third, refreshed.RefreshToken, 200, true)
	intro("introspect wrong secret", wrong, tk.AccessToken, 401, nil)
	chk.check(t, exchange{name: "introspect public client", method: "POST", path: introspectURL, ctype: formType,
		body: "token=x&client_id=" + url.QueryEscape(cl.spa.ClientID), status: 401, validRequest: true})
	chk.check(t, exchange{name: "introspect no token", method: "POST", path: introspectURL, ctype: formType,
		body: "token_type_hint=access_token", header: basicAuth(cl.rp), status: 400})
	chk.check(t, exchange{name: "revoke", method: "POST", path: revokeURL, ctype: formType, header: basicAuth(cl.rp),
		body: "token_type_hint=refresh_token&token=" + url.QueryEscape(refreshed.RefreshToken), status: 200, validRequest: true})
	chk.check(t, exchange{name: "revoke wrong secret", method: "POST", path: revokeURL, ctype: formType, header: basicAuth(wrong),
		body: "token=x", status: 401, validRequest: true})
	intro("introspect revoked", cl.rp, tk.AccessToken, 200, false)
	intro("introspect garbage", cl.rp, "garbage", 200, false)

	// RP-initiated logout: errors, the confirm page, the redirects.
	logout := endSessionURL + "?" + url.Values{"client_id": {cl.rp.ClientID}, "post_logout_redirect_uri": {rpSignedOut},
		"state": {"bye"}}.Encode()
	chk.check(t, exchange{name: "logout unregistered URI", method: "GET", header: cookie, status: 400, validRequest: true,
		path: endSessionURL + "?" + url.Values{"client_id": {cl.rp.ClientID}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode()})
	chk.check(t, exchange{name: "logout confirm page", method: "GET", path: logout, header: cookie, status: 200, validRequest: true})
	r = chk.check(t, exchange{name: "logout signed out", method: "GET", path: logout, status: 302, validRequest: true})
	if loc := r.Header.Get("Location"); loc != rpSignedOut+"?state=bye" {
		t.Errorf("logout redirect %q", loc)
	}
	chk.check(t, exchange{name: "logout to idp", method: "GET", path: endSessionURL, status: 303, validRequest: true})
	chk.check(t, exchange{name: "logout cross-site post", method: "POST", path: endSessionURL, ctype: formType,
		header: []string{"Sec-Fetch-Site", "cross-site"}, body: "client_id=x", status: 303, validRequest: true})
	chk.check(t, exchange{name: "logout cross-site confirm", method: "POST", path: endSessionURL, ctype: formType,
		header: []string{"Sec-Fetch-Site", "cross-site"}, body: "csrf=x&request=y", status: 403, validRequest: true})
	chk.check(t, exchange{name: "app revoke signed out", method: "POST", path: "/account/apps/revoke", ctype: formType,
		body: "csrf=x&client=y", status: 303, validRequest: true})

	// CORS: preflights and headers for a registered origin only.
	for _, path := range []string{oauthTokenURL, userinfoURL, revokeURL, jwksURL, discoURL} {
		for origin, allowed := range map[string]bool{rpOrigin: true, "https://evil.example": false} {
			r := chk.check(t, exchange{name: "preflight " + path + " " + origin, method: "OPTIONS", path: path, status: 204,
				header: []string{"Origin", origin, "Access-Control-Request-Method", "POST"}, validRequest: true})
			if got := r.Header.Get("Access-Control-Allow-Origin"); (got == origin) != allowed || (!allowed && got != "") {
				t.Errorf("preflight %s from %s: Access-Control-Allow-Origin %q", path, origin, got)
			}
		}
	}
	chk.check(t, exchange{name: "discovery", method: "GET", path: discoURL, header: []string{"Origin", rpOrigin}, status: 200,
		validRequest: true})
	chk.check(t, exchange{name: "jwks", method: "GET", path: jwksURL, status: 200, validRequest: true})

	oidcControls(t, chk)
}

// oidcControls: answers the document must refuse, so that the passes above
// mean something.
func oidcControls(t *testing.T, chk *openAPIChecker) {
	t.Helper()
	ctx := context.Background()
	disco := func(edit func(map[string]any)) string {
		var d map[string]any
		r := do(t, chk.ts, "GET", discoURL, nil)
		if err := json.Unmarshal(r.Body, &d); err != nil {
			t.Fatal(err)
		}
		edit(d)
		b, _ := json.Marshal(d)
		return string(b)
	}
	jsonCT := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "Pragma": {"no-cache"},
		"X-Request-Id": {"abc"}}
	invalidClientCT := jsonCT.Clone()
	invalidClientCT.Set("WWW-Authenticate", `Basic realm="idp", charset="UTF-8"`)
	for _, bad := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
	}{
		{"discovery with an implicit response type", "GET", discoURL, 200, nil,
			disco(func(d map[string]any) { d["response_types_supported"] = []string{"code", "token"} })},
		{"discovery with plain PKCE", "GET", discoURL, 200, nil,
			disco(func(d map[string]any) { d["code_challenge_methods_supported"] = []string{"S256", "plain"} })},
		{"discovery without end_session_endpoint", "GET", discoURL, 200, nil,
			disco(func(d map[string]any) { delete(d, "end_session_endpoint") })},
		{"discovery claiming request objects", "GET", discoURL, 200, nil,
			disco(func(d map[string]any) { d["request_parameter_supported"] = true })},
		{"token response with a device token", "POST", oauthTokenURL, 200, jsonCT,
			`{"access_token":"a.b.c","token_type":"Bearer","expires_in":900,"issued_at":"2025-06-01T09:30:00Z","kid":"k","refresh_token":"r","refresh_expires_in":60,"device_token":"d"}`},
		{"invalid_client without its challenge", "POST", oauthTokenURL, 401, jsonCT,
			`{"error":"invalid_client","error_description":"client authentication failed"}`},
		{"invalid_client as invalid_token", "POST", oauthTokenURL, 401, invalidClientCT,
			`{"error":"invalid_token","error_description":"client authentication failed"}`},
		{"inactive introspection that says more", "POST", introspectURL, 200, jsonCT, `{"active":false,"sub":"x"}`},
		{"active introspection without sub", "POST", introspectURL, 200, jsonCT,
			`{"active":true,"token_type":"Bearer","iss":"i","sid":"s","tenant_id":"t","username":"u","exp":1,"iat":1}`},
		{"userinfo without sub", "GET", userinfoURL, 200, jsonCT, `{"email":"a@example.com"}`},
	} {
		req, _ := http.NewRequestWithContext(ctx, bad.method, chk.ts.URL+bad.path, nil)
		route, params, err := chk.router.FindRoute(req)
		if err != nil {
			t.Fatalf("control %s: %v", bad.name, err)
		}
		header := bad.header
		if header == nil {
			header = http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"public, max-age=300"},
				"Etag": {`"x"`}, "X-Request-Id": {"abc"}}
		}
		opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: bad.status, Header: header, Options: opts}
		out.SetBodyBytes([]byte(bad.body))
		if err := openapi3filter.ValidateResponse(ctx, out); err == nil {
			t.Errorf("control: %s passes validation; the document checks nothing there", bad.name)
		}
	}
}
