package web_test

// The OpenID Connect provider through the hosted pages, check by check
// along the OpenID Foundation's Basic OP test plan (docs/integrate.md
// lists which check each test covers). The browser is the cookie-keeping
// client of web_test.go; the relying party is this test, talking to the
// token, userinfo, revocation and introspection endpoints and verifying
// ID tokens against the JWKS itself.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/coretest"
	"github.com/idp-dev/idp/internal/server"
	"github.com/idp-dev/idp/internal/web"
)

// opClock is core's clock in these tests: real time plus an offset.
type opClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *opClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *opClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// opEnv is idp as an OpenID provider with three registered clients.
type opEnv struct {
	*pagesEnv
	clock *opClock
	// rp is a confidential first-party web app; spa a public first-party
	// client with a loopback redirect; third a confidential third-party
	// app (it gets the consent page).
	rp, spa, third core.ClientView
}

const (
	rpCallback    = "https://rp.example/callback"
	rpLogout      = "https://rp.example/signed-out"
	spaCallback   = "http://127.0.0.1:5173/callback"
	thirdCallback = "https://third.example/cb"
)

func newOP(t *testing.T) *opEnv {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	cfg := coretest.Config()
	cfg.Issuer = issuer
	mail := &mailbox{}
	clock := &opClock{}
	env := coretest.New(t, coretest.Options{Config: cfg, Mailer: mail, Now: clock.Now})
	ctx := context.Background()
	meta := core.Meta{Actor: "test"}
	if _, err := env.Services.Roles.Create(ctx, core.Operator(""), "member", "", meta); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Services.Users.Create(ctx, core.CreateInput{Email: userEmail, Password: password,
		DisplayName: "Pat Person", Roles: []string{"member"}}, meta); err != nil {
		t.Fatal(err)
	}
	renderer, err := web.NewRenderer(web.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := web.New(web.Options{Browser: env.Services.Browser, Users: env.Services.Users, Resets: env.Services.Resets,
		OAuth: env.Services.OAuth, Renderer: renderer, Issuer: issuer, Meta: server.RequestMeta,
		PasswordMinLength: cfg.PasswordMinLength})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Services: env.Services, Issuer: issuer, Faces: []server.Face{pages},
		UILocales: pages.Languages(), Logger: slog.New(slog.DiscardHandler)})
	ts.Config = srv.HTTPServer()
	ts.Start()
	t.Cleanup(ts.Close)

	create := func(in core.ClientInput) core.ClientView {
		v, err := env.Services.Clients.Create(ctx, in, meta)
		if err != nil {
			t.Fatalf("Clients.Create(%s): %v", *in.Name, err)
		}
		return v
	}
	yes := true
	name := func(s string) *string { return &s }
	return &opEnv{
		pagesEnv: &pagesEnv{ts: ts, env: env, mail: mail},
		clock:    clock,
		rp: create(core.ClientInput{Name: name("Relying Party"), RedirectURIs: []string{rpCallback},
			PostLogoutRedirectURIs: []string{rpLogout}, FirstParty: &yes}),
		spa: create(core.ClientInput{Name: name("Single Page"), RedirectURIs: []string{spaCallback}, Public: &yes,
			FirstParty: &yes}),
		third: create(core.ClientInput{Name: name("Third Party Notes"), RedirectURIs: []string{thirdCallback},
			Scopes: []string{"openid", "profile", "email"}}),
	}
}

// authRequest is what a relying party sends and keeps: the query of the
// authorization request and the PKCE verifier.
type authRequest struct {
	client   core.ClientView
	query    url.Values
	verifier string
}

func randomString() string { return base64.RawURLEncoding.EncodeToString([]byte(rand.Text())) }

// request builds an authorization request for c with PKCE, state, nonce
// and scope "openid email profile"; edit changes the query.
func request(c core.ClientView, edit ...func(url.Values)) authRequest {
	verifier := randomString() + randomString()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {c.ClientID}, "redirect_uri": {c.RedirectURIs[0]},
		"scope": {"openid email profile"}, "state": {randomString()}, "nonce": {randomString()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	for _, e := range edit {
		e(q)
	}
	return authRequest{client: c, query: q, verifier: verifier}
}

func set(k, v string) func(url.Values) { return func(q url.Values) { q.Set(k, v) } }
func del(k string) func(url.Values)    { return func(q url.Values) { q.Del(k) } }

// callback is where the browser ended up on the relying party's side.
type callback struct {
	url   *url.URL
	query url.Values
}

func (c callback) code() string { return c.query.Get("code") }

// follow follows the browser through idp's own redirects until it either
// lands on a page of idp (returned as page) or leaves for another origin
// (returned as callback).
func (b *browser) follow(p page) (page, *callback) {
	b.t.Helper()
	for range 10 {
		if p.StatusCode < 300 || p.StatusCode >= 400 {
			return p, nil
		}
		loc, err := url.Parse(p.Header.Get("Location"))
		if err != nil {
			b.t.Fatalf("bad Location %q", p.Header.Get("Location"))
		}
		if loc.IsAbs() && !strings.HasPrefix(loc.String(), b.base+"/") {
			return p, &callback{url: loc, query: loc.Query()}
		}
		p = b.get(loc.RequestURI())
	}
	b.t.Fatal("too many redirects")
	return p, nil
}

// authorize sends req (GET) and follows it.
func (b *browser) authorize(req authRequest) (page, *callback) {
	b.t.Helper()
	return b.follow(b.get("/oauth2/authorize?" + req.query.Encode()))
}

// signInThrough fills in the sign-in page p and follows the redirects.
func (b *browser) signInThrough(p page) (page, *callback) {
	b.t.Helper()
	if !strings.Contains(p.body, `action="/login"`) {
		b.t.Fatalf("%s: not the sign-in page:\n%s", p.Request.URL, p.body)
	}
	return b.follow(b.submit(p, "/login", url.Values{"email": {userEmail}, "password": {password}}))
}

// wantCode checks a successful authorization response (RFC 6749 4.1.2,
// RFC 9207) and returns it.
func wantCode(t *testing.T, req authRequest, p page, cb *callback) callback {
	t.Helper()
	if cb == nil {
		t.Fatalf("no redirect to the client: %d %s\n%s", p.StatusCode, p.Request.URL, p.body)
	}
	if got := cb.url.Scheme + "://" + cb.url.Host + cb.url.Path; got != req.query.Get("redirect_uri") {
		t.Fatalf("redirected to %s, want %s", cb.url, req.query.Get("redirect_uri"))
	}
	if cb.query.Get("error") != "" {
		t.Fatalf("error response: %s: %s", cb.query.Get("error"), cb.query.Get("error_description"))
	}
	if len(cb.code()) < 43 {
		t.Fatalf("code %q: want 256 bits", cb.code())
	}
	if cb.query.Get("state") != req.query.Get("state") {
		t.Errorf("state %q, want %q", cb.query.Get("state"), req.query.Get("state"))
	}
	if cb.query.Get("iss") != p.Request.URL.Scheme+"://"+p.Request.URL.Host {
		t.Errorf("iss %q", cb.query.Get("iss"))
	}
	return *cb
}

// wantError checks an error response sent back to the client.
func wantError(t *testing.T, req authRequest, p page, cb *callback, code string) {
	t.Helper()
	if cb == nil {
		t.Fatalf("want error %s at the client, got %d %s\n%s", code, p.StatusCode, p.Request.URL, p.body)
	}
	if cb.query.Get("error") != code {
		t.Fatalf("error %q (%s), want %q", cb.query.Get("error"), cb.query.Get("error_description"), code)
	}
	if cb.code() != "" {
		t.Error("an error response carries a code")
	}
	if s := req.query.Get("state"); s != "" && cb.query.Get("state") != s {
		t.Errorf("state %q, want %q", cb.query.Get("state"), s)
	}
	if cb.query.Get("iss") == "" {
		t.Error("no iss in the error response (RFC 9207)")
	}
}

// tokens is a token endpoint response.
type tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
}

// rpCall is a back-channel request of the relying party.
type rpCall struct {
	status int
	header http.Header
	body   []byte
}

func (r rpCall) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%d %q is not JSON", r.status, r.body)
	}
	return m
}

// post sends a form to path, authenticating as c with client_secret_basic
// (confidential) or client_id in the form (public). c nil sends no client.
func (e *opEnv) post(t *testing.T, path string, c *core.ClientView, form url.Values, headers ...string) rpCall {
	t.Helper()
	req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		if c.Public {
			form.Set("client_id", c.ClientID)
			req, _ = http.NewRequest("POST", e.ts.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) rpCall {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rpCall{status: resp.StatusCode, header: resp.Header, body: body}
}

// exchange redeems a code as req's client.
func (e *opEnv) exchange(t *testing.T, req authRequest, code string) rpCall {
	t.Helper()
	return e.post(t, "/oauth2/token", &req.client, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {req.query.Get("redirect_uri")}, "code_verifier": {req.verifier}})
}

func (e *opEnv) wantTokens(t *testing.T, r rpCall) tokens {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token endpoint: %d %s", r.status, r.body)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response Cache-Control %q", r.header.Get("Cache-Control"))
	}
	var tk tokens
	if err := json.Unmarshal(r.body, &tk); err != nil {
		t.Fatal(err)
	}
	if tk.AccessToken == "" || !strings.EqualFold(tk.TokenType, "Bearer") || tk.ExpiresIn <= 0 {
		t.Fatalf("token response %s", r.body)
	}
	return tk
}

// wantOAuthError checks an RFC 6749 5.2 error response.
func wantOAuthError(t *testing.T, r rpCall, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d (%s), want %d %s", r.status, r.body, status, code)
	}
	if got := r.json(t)["error"]; got != code {
		t.Fatalf("error %v (%s), want %s", got, r.body, code)
	}
}

// flow runs a whole code flow for a fresh browser: sign-in on the way.
func (e *opEnv) flow(t *testing.T, req authRequest) (*browser, tokens) {
	t.Helper()
	b := e.browser(t)
	p, cb := b.authorize(req)
	if cb == nil {
		p, cb = b.signInThrough(p)
	}
	if cb == nil && strings.Contains(p.body, `value="allow"`) {
		p, cb = b.follow(b.submit(p, "/oauth2/consent", url.Values{"decision": {"allow"}}))
	}
	return b, e.wantTokens(t, e.exchange(t, req, wantCode(t, req, p, cb).code()))
}

// idToken verifies an ID token against the JWKS the way a relying party
// must (OpenID Connect Core 3.1.3.7) and returns its header and claims.
func (e *opEnv) idToken(t *testing.T, req authRequest, tk tokens) (jose.Header, map[string]any) {
	t.Helper()
	if tk.IDToken == "" {
		t.Fatal("no id_token")
	}
	jws, err := jose.ParseSignedCompact(tk.IDToken, []jose.SignatureAlgorithm{jose.EdDSA, jose.RS256})
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	hdr := jws.Signatures[0].Header
	var set jose.JSONWebKeySet
	r := send(t, mustRequest("GET", e.ts.URL+"/.well-known/jwks.json"))
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(hdr.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", hdr.KeyID, len(keys))
	}
	if keys[0].Algorithm != hdr.Algorithm {
		t.Errorf("JWK alg %q, token alg %q", keys[0].Algorithm, hdr.Algorithm)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("id_token signature: %v", err)
	}
	if typ, _ := hdr.ExtraHeaders["typ"].(string); typ != "JWT" {
		t.Errorf("typ %q, want JWT", typ)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	now := float64(time.Now().Unix())
	switch {
	case claims["iss"] != e.ts.URL:
		t.Errorf("iss %v", claims["iss"])
	case claims["aud"] != req.client.ClientID:
		t.Errorf("aud %v, want %s", claims["aud"], req.client.ClientID)
	case claims["azp"] != req.client.ClientID:
		t.Errorf("azp %v", claims["azp"])
	case claims["sub"] == nil || claims["sub"] == "":
		t.Error("no sub")
	case claims["exp"].(float64) <= now || claims["iat"].(float64) > now+5:
		t.Errorf("exp %v iat %v now %v", claims["exp"], claims["iat"], now)
	case claims["sid"] == nil:
		t.Error("no sid")
	}
	if n := req.query.Get("nonce"); claims["nonce"] != nil && claims["nonce"] != n || n != "" && claims["nonce"] != n {
		t.Errorf("nonce %v, want %q", claims["nonce"], n)
	}
	// at_hash: the left half of the access token's hash, SHA-512 for
	// EdDSA and SHA-256 for RS256 (OpenID Connect Core 3.1.3.6).
	var half []byte
	if hdr.Algorithm == "RS256" {
		sum := sha256.Sum256([]byte(tk.AccessToken))
		half = sum[:16]
	} else {
		sum := sha512.Sum512([]byte(tk.AccessToken))
		half = sum[:32]
	}
	if claims["at_hash"] != base64.RawURLEncoding.EncodeToString(half) {
		t.Errorf("at_hash %v doesn't match the access token", claims["at_hash"])
	}
	return hdr, claims
}

func mustRequest(method, target string) *http.Request {
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		panic(err)
	}
	return req
}

// Basic OP: oidcc-server, oidcc-ensure-request-without-nonce-succeeds,
// oidcc-idtoken-signature, oidcc-server-client-secret-post (below), and
// the client_secret_basic encoding of RFC 6749 2.3.1.
func TestCodeFlowSignsInThroughTheHostedPage(t *testing.T) {
	e := newOP(t)
	req := request(e.rp)
	b := e.browser(t)
	p, cb := b.authorize(req)
	if cb != nil {
		t.Fatalf("a signed-out browser went straight back to the client: %s", cb.url)
	}
	p, cb = b.signInThrough(p)
	code := wantCode(t, req, p, cb).code()
	tk := e.wantTokens(t, e.exchange(t, req, code))
	hdr, claims := e.idToken(t, req, tk)
	if hdr.Algorithm != "EdDSA" {
		t.Errorf("id_token alg %s, want EdDSA by default", hdr.Algorithm)
	}
	if claims["email"] != userEmail || claims["email_verified"] != false || claims["name"] != "Pat Person" {
		t.Errorf("claims of openid email profile: %v", claims)
	}
	if _, ok := claims["roles"]; ok {
		t.Error("roles without the roles scope")
	}
	if claims["auth_time"] == nil {
		t.Error("no auth_time")
	}
	if tk.RefreshToken == "" || tk.Scope != "openid email profile" {
		t.Errorf("refresh token %q, scope %q", tk.RefreshToken, tk.Scope)
	}
	// The access token is RFC 9068's, with client_id and scope.
	_, access := jwtClaims(t, tk.AccessToken)
	if access["client_id"] != e.rp.ClientID || access["scope"] != "openid email profile" || access["sub"] != claims["sub"] {
		t.Errorf("access token claims %v", access)
	}
	// Signed in, the next request gets a code without a page (SSO).
	req2 := request(e.rp, del("nonce"))
	p, cb = b.authorize(req2)
	tk2 := e.wantTokens(t, e.exchange(t, req2, wantCode(t, req2, p, cb).code()))
	_, claims2 := e.idToken(t, req2, tk2)
	if _, ok := claims2["nonce"]; ok {
		t.Error("nonce in an ID token of a request without one")
	}
	if claims2["sid"] != claims["sid"] {
		t.Errorf("one browser session, two sids: %v %v", claims["sid"], claims2["sid"])
	}

	// client_secret_post works as well as Basic; Basic decodes the
	// form-urlencoded parts (an escaped character in the id).
	req3 := request(e.rp)
	p, cb = b.authorize(req3)
	code = wantCode(t, req3, p, cb).code()
	r := e.post(t, "/oauth2/token", nil, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {req3.verifier},
		"client_id": {e.rp.ClientID}, "client_secret": {e.rp.ClientSecret}})
	e.wantTokens(t, r)
	req4 := request(e.rp)
	p, cb = b.authorize(req4)
	code = wantCode(t, req4, p, cb).code()
	hr, _ := http.NewRequest("POST", e.ts.URL+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {rpCallback}, "code_verifier": {req4.verifier}}.Encode()))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hr.SetBasicAuth("%"+strings.ToUpper(hexByte(e.rp.ClientID[0]))+e.rp.ClientID[1:], url.QueryEscape(e.rp.ClientSecret))
	e.wantTokens(t, send(t, hr))
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

func jwtClaims(t *testing.T, raw string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	var out [2]map[string]any
	for i := range 2 {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, &out[i]) != nil {
			t.Fatalf("JWT segment %d of %q", i, raw)
		}
	}
	return out[0], out[1]
}

// Basic OP: oidcc-ensure-registered-redirect-uri and
// oidcc-ensure-redirect-uri-in-authorization-request, and the rule that an
// unknown client is never redirected to: the error page instead.
func TestAuthorizeNeverRedirectsToAnUncheckedURI(t *testing.T) {
	e := newOP(t)
	for name, edit := range map[string]func(url.Values){
		"unknown client":            set("client_id", "no-such-client"),
		"no client":                 del("client_id"),
		"unregistered redirect_uri": set("redirect_uri", "https://evil.example/callback"),
		"redirect_uri with a path":  set("redirect_uri", rpCallback+"/more"),
		"redirect_uri with a query": set("redirect_uri", rpCallback+"?x=1"),
		"no redirect_uri":           del("redirect_uri"),
		"another client's uri":      set("redirect_uri", spaCallback),
	} {
		t.Run(name, func(t *testing.T) {
			b := e.browser(t)
			p := b.get("/oauth2/authorize?" + request(e.rp, edit).query.Encode())
			wantStatus(t, p, http.StatusBadRequest)
			if loc := p.Header.Get("Location"); loc != "" {
				t.Fatalf("redirected to %s", loc)
			}
			if strings.Contains(p.body, "evil.example") {
				t.Error("the error page links to the unregistered URI")
			}
		})
	}
}

// Basic OP: oidcc-response-type-missing, oidcc-unsigned-request-object-
// supported-correctly-or-rejected-as-unsupported, oidcc-request-uri-
// unsigned(-supported-correctly-or-rejected-as-unsupported), the openid
// scope, and PKCE: errors that go back to the client's checked
// redirect_uri with state and iss.
func TestAuthorizeErrorsGoBackToTheClient(t *testing.T) {
	e := newOP(t)
	for _, tc := range []struct {
		name   string
		client func(*opEnv) core.ClientView
		edit   []func(url.Values)
		error  string
	}{
		{"no response_type", rpClient, []func(url.Values){del("response_type")}, "unsupported_response_type"},
		{"implicit", rpClient, []func(url.Values){set("response_type", "id_token token")}, "unsupported_response_type"},
		{"request object", rpClient, []func(url.Values){set("request", "eyJhbGciOiJub25lIn0.e30.")}, "request_not_supported"},
		{"request_uri", rpClient, []func(url.Values){set("request_uri", "https://rp.example/req.jwt")}, "request_uri_not_supported"},
		{"no openid scope", rpClient, []func(url.Values){set("scope", "email profile")}, "invalid_scope"},
		{"unknown scope", rpClient, []func(url.Values){set("scope", "openid address")}, "invalid_scope"},
		{"scope the client may not ask for", thirdClient, []func(url.Values){set("scope", "openid roles")}, "invalid_scope"},
		{"public client without PKCE", spaClient, []func(url.Values){del("code_challenge"), del("code_challenge_method")}, "invalid_request"},
		{"plain PKCE", rpClient, []func(url.Values){set("code_challenge_method", "plain")}, "invalid_request"},
		{"PKCE method missing", rpClient, []func(url.Values){del("code_challenge_method")}, "invalid_request"},
		{"short challenge", rpClient, []func(url.Values){set("code_challenge", "abc")}, "invalid_request"},
		{"response_mode fragment", rpClient, []func(url.Values){set("response_mode", "fragment")}, "invalid_request"},
		{"unknown prompt", rpClient, []func(url.Values){set("prompt", "select_everything")}, "invalid_request"},
		{"prompt none with login", rpClient, []func(url.Values){set("prompt", "none login")}, "invalid_request"},
		{"negative max_age", rpClient, []func(url.Values){set("max_age", "-1")}, "invalid_request"},
		{"forged id_token_hint", rpClient, []func(url.Values){set("id_token_hint", "eyJhbGciOiJFZERTQSJ9.e30.c2ln")}, "invalid_request"},
		{"signed out with prompt=none", rpClient, []func(url.Values){set("prompt", "none")}, "login_required"},
		{"no state either", rpClient, []func(url.Values){del("state"), del("response_type")}, "unsupported_response_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(tc.client(e), tc.edit...)
			b := e.browser(t)
			p, cb := b.authorize(req)
			wantError(t, req, p, cb, tc.error)
			if got := cb.url.Scheme + "://" + cb.url.Host + cb.url.Path; got != req.query.Get("redirect_uri") {
				t.Errorf("error sent to %s", got)
			}
		})
	}
}

func rpClient(e *opEnv) core.ClientView    { return e.rp }
func spaClient(e *opEnv) core.ClientView   { return e.spa }
func thirdClient(e *opEnv) core.ClientView { return e.third }

// Basic OP: oidcc-ensure-post-request-succeeds, oidcc-ensure-request-with-
// unknown-parameter-succeeds, oidcc-ensure-other-scope-order-succeeds,
// oidcc-display-page/-popup, oidcc-claims-locales, oidcc-ensure-request-
// with-acr-values-succeeds, oidcc-claims-essential: accepted parameters
// idp ignores, and the form-encoded POST.
func TestAuthorizePOSTAndIgnoredParameters(t *testing.T) {
	e := newOP(t)
	b := e.browser(t)
	b.signIn(userEmail, password, false)
	req := request(e.rp, set("scope", "email openid profile"), set("display", "popup"), set("claims_locales", "de"),
		set("acr_values", "urn:mace:incommon:iap:silver"), set("claims", `{"id_token":{"email":{"essential":true}}}`),
		set("unknown_parameter_xyz", "whatever"))
	// A cross-site form post, as a relying party's auto-submitting form
	// sends it: the authorization endpoint takes it.
	p, cb := b.follow(b.do("POST", "/oauth2/authorize", req.query, "Sec-Fetch-Site", "cross-site", "Origin", "https://rp.example"))
	tk := e.wantTokens(t, e.exchange(t, req, wantCode(t, req, p, cb).code()))
	_, claims := e.idToken(t, req, tk)
	if claims["email"] != userEmail {
		t.Errorf("claims %v", claims)
	}
}

// Basic OP: oidcc-scope-profile, oidcc-scope-email, oidcc-scope-all and
// idp's roles scope; oidcc-userinfo-get, -post-header, -post-body.
func TestScopesDecideClaimsInIDTokenAndUserInfo(t *testing.T) {
	e := newOP(t)
	for _, tc := range []struct {
		scope      string
		want, none []string
	}{
		{"openid", nil, []string{"email", "email_verified", "name", "roles", "tenant_id"}},
		{"openid profile", []string{"name"}, []string{"email", "roles"}},
		{"openid email", []string{"email", "email_verified"}, []string{"name", "roles"}},
		{"openid roles", []string{"roles", "tenant_id"}, []string{"email", "name"}},
		{"openid profile email roles offline_access", []string{"name", "email", "email_verified", "roles", "tenant_id"}, nil},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			req := request(e.rp, set("scope", tc.scope))
			_, tk := e.flow(t, req)
			_, idc := e.idToken(t, req, tk)
			for name, info := range map[string]map[string]any{
				"GET":         e.userinfo(t, "GET", tk.AccessToken, "header").json(t),
				"POST header": e.userinfo(t, "POST", tk.AccessToken, "header").json(t),
				"POST body":   e.userinfo(t, "POST", tk.AccessToken, "body").json(t),
			} {
				if info["sub"] != idc["sub"] {
					t.Errorf("userinfo %s: sub %v, ID token %v", name, info["sub"], idc["sub"])
				}
				for _, c := range tc.want {
					if info[c] == nil || idc[c] == nil {
						t.Errorf("%s: claim %s missing (userinfo %v, ID token %v)", name, c, info[c], idc[c])
					}
				}
				for _, c := range tc.none {
					if _, ok := info[c]; ok {
						t.Errorf("%s: userinfo has %s without its scope", name, c)
					}
					if _, ok := idc[c]; ok {
						t.Errorf("ID token has %s without its scope", c)
					}
				}
			}
			if slices.Contains(tc.want, "roles") {
				if roles, _ := idc["roles"].([]any); len(roles) != 1 || roles[0] != "member" {
					t.Errorf("roles %v", idc["roles"])
				}
			}
		})
	}
}

func (e *opEnv) userinfo(t *testing.T, method, access, where string) rpCall {
	t.Helper()
	var req *http.Request
	if where == "body" {
		req, _ = http.NewRequest(method, e.ts.URL+"/oauth2/userinfo", strings.NewReader(url.Values{"access_token": {access}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, e.ts.URL+"/oauth2/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+access)
	}
	r := send(t, req)
	if r.status != http.StatusOK {
		t.Fatalf("userinfo %s (%s): %d %s", method, where, r.status, r.body)
	}
	return r
}

func TestUserInfoRefusesBadTokens(t *testing.T) {
	e := newOP(t)
	req := request(e.rp)
	b, tk := e.flow(t, req)
	for name, h := range map[string]string{
		"none":      "",
		"garbage":   "Bearer not.a.token",
		"ID token":  "Bearer " + tk.IDToken,
		"basic":     "Basic " + base64.StdEncoding.EncodeToString([]byte("a:b")),
		"malformed": "Bearer ",
	} {
		r := mustRequest("GET", e.ts.URL+"/oauth2/userinfo")
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		res := send(t, r)
		if res.status != http.StatusUnauthorized || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %q", name, res.status, res.header.Get("WWW-Authenticate"))
		}
		if h != "" && !strings.Contains(res.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: WWW-Authenticate %q", name, res.header.Get("WWW-Authenticate"))
		}
	}
	// Signed out at idp: the tokens of the sessions it started die.
	b.submit(b.get("/account"), "/logout", nil)
	r := mustRequest("GET", e.ts.URL+"/oauth2/userinfo")
	r.Header.Set("Authorization", "Bearer "+tk.AccessToken)
	if res := send(t, r); res.status != http.StatusUnauthorized {
		t.Errorf("userinfo after sign-out: %d", res.status)
	}
}

// Basic OP: oidcc-prompt-login, oidcc-prompt-none-logged-in,
// oidcc-prompt-none-not-logged-in (in the error table), oidcc-max-age-1,
// oidcc-max-age-10000.
func TestPromptAndMaxAge(t *testing.T) {
	e := newOP(t)
	b := e.browser(t)
	b.signIn(userEmail, password, false)
	first := request(e.rp)
	p, cb := b.authorize(first)
	_, claims := e.idToken(t, first, e.wantTokens(t, e.exchange(t, first, wantCode(t, first, p, cb).code())))
	firstAuth := claims["auth_time"].(float64)

	// prompt=none while signed in: a code, no page.
	none := request(e.rp, set("prompt", "none"))
	p, cb = b.authorize(none)
	wantCode(t, none, p, cb)

	// prompt=login: the sign-in page although signed in, and a later
	// auth_time.
	e.clock.Advance(2 * time.Second)
	login := request(e.rp, set("prompt", "login"))
	p, cb = b.authorize(login)
	if cb != nil {
		t.Fatal("prompt=login went back without asking for credentials")
	}
	p, cb = b.signInThrough(p)
	_, claims = e.idToken(t, login, e.wantTokens(t, e.exchange(t, login, wantCode(t, login, p, cb).code())))
	if claims["auth_time"].(float64) <= firstAuth {
		t.Errorf("auth_time %v after prompt=login, first %v", claims["auth_time"], firstAuth)
	}
	secondAuth := claims["auth_time"].(float64)

	// max_age=10000: the session is young enough.
	long := request(e.rp, set("max_age", "10000"))
	p, cb = b.authorize(long)
	_, claims = e.idToken(t, long, e.wantTokens(t, e.exchange(t, long, wantCode(t, long, p, cb).code())))
	if claims["auth_time"].(float64) != secondAuth {
		t.Errorf("max_age=10000: auth_time %v, want %v", claims["auth_time"], secondAuth)
	}

	// max_age=1, two seconds later: sign in again; auth_time moves.
	e.clock.Advance(2 * time.Second)
	short := request(e.rp, set("max_age", "1"))
	p, cb = b.authorize(short)
	if cb != nil {
		t.Fatal("max_age=1 went back without a fresh sign-in")
	}
	p, cb = b.signInThrough(p)
	_, claims = e.idToken(t, short, e.wantTokens(t, e.exchange(t, short, wantCode(t, short, p, cb).code())))
	if at := claims["auth_time"].(float64); at <= secondAuth || float64(e.clock.Now().Unix())-at > 5 {
		t.Errorf("max_age=1: auth_time %v, now %v", at, e.clock.Now().Unix())
	}
	// max_age=1 with prompt=none and an old session: login_required.
	e.clock.Advance(2 * time.Second)
	stale := request(e.rp, set("max_age", "1"), set("prompt", "none"))
	p, cb = b.authorize(stale)
	wantError(t, stale, p, cb, "login_required")
}

// Basic OP: oidcc-login-hint, oidcc-ui-locales, oidcc-id-token-hint.
func TestLoginHintUILocalesAndIDTokenHint(t *testing.T) {
	e := newOP(t)
	b := e.browser(t)
	hinted := request(e.rp, set("login_hint", userEmail), set("ui_locales", "de-CH de en"))
	p, _ := b.authorize(hinted)
	if !strings.Contains(p.body, `value="`+userEmail+`"`) {
		t.Errorf("login_hint is not in the email field:\n%s", p.body)
	}
	if !strings.Contains(p.body, `lang="de"`) {
		t.Errorf("ui_locales de: the sign-in page is not German:\n%s", p.body)
	}
	p, cb := b.signInThrough(p)
	tk := e.wantTokens(t, e.exchange(t, hinted, wantCode(t, hinted, p, cb).code()))

	// id_token_hint of the signed-in user: a code at once, even once the
	// ID token has expired (15 minutes; the browser session idles out
	// after 30).
	e.clock.Advance(20 * time.Minute)
	hint := request(e.rp, set("id_token_hint", tk.IDToken), set("prompt", "none"))
	p, cb = b.authorize(hint)
	wantCode(t, hint, p, cb)

	// A hint naming someone else than the signed-in user: sign in again
	// (prompt=none: login_required).
	other := "other@example.com"
	if _, err := e.env.Services.Users.Create(context.Background(), core.CreateInput{Email: other, Password: password},
		core.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	ob := e.browser(t)
	ob.signIn(other, password, false)
	wrong := request(e.rp, set("id_token_hint", tk.IDToken), set("prompt", "none"))
	p, cb = ob.authorize(wrong)
	wantError(t, wrong, p, cb, "login_required")
}

// Basic OP: oidcc-codereuse, oidcc-codereuse-30seconds, and the code's
// bindings (client, redirect_uri, PKCE verifier, 60 s lifetime).
func TestCodesAreSingleUseAndBound(t *testing.T) {
	e := newOP(t)
	b := e.browser(t)
	b.signIn(userEmail, password, false)
	code := func(req authRequest) string {
		t.Helper()
		p, cb := b.authorize(req)
		return wantCode(t, req, p, cb).code()
	}

	for _, wait := range []time.Duration{0, 30 * time.Second} {
		req := request(e.rp)
		c := code(req)
		tk := e.wantTokens(t, e.exchange(t, req, c))
		e.clock.Advance(wait)
		wantOAuthError(t, e.exchange(t, req, c), http.StatusBadRequest, "invalid_grant")
		// What the first use issued is revoked: the refresh token, and
		// the access token wherever it is checked against idp.
		wantOAuthError(t, e.post(t, "/oauth2/token", &e.rp, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {tk.RefreshToken}}), http.StatusBadRequest, "invalid_grant")
		if r := e.post(t, "/oauth2/introspect", &e.rp, url.Values{"token": {tk.AccessToken}}); r.json(t)["active"] != false {
			t.Errorf("after %v: access token of a reused code is still active: %s", wait, r.body)
		}
	}

	for _, tc := range []struct {
		name string
		send func(req authRequest, code string) rpCall
	}{
		{"other client", func(req authRequest, c string) rpCall {
			return e.post(t, "/oauth2/token", &e.third, url.Values{"grant_type": {"authorization_code"}, "code": {c},
				"redirect_uri": {rpCallback}, "code_verifier": {req.verifier}})
		}},
		{"other redirect_uri", func(req authRequest, c string) rpCall {
			return e.post(t, "/oauth2/token", &e.rp, url.Values{"grant_type": {"authorization_code"}, "code": {c},
				"redirect_uri": {"https://rp.example/other"}, "code_verifier": {req.verifier}})
		}},
		{"no redirect_uri", func(req authRequest, c string) rpCall {
			return e.post(t, "/oauth2/token", &e.rp, url.Values{"grant_type": {"authorization_code"}, "code": {c},
				"code_verifier": {req.verifier}})
		}},
		{"wrong verifier", func(req authRequest, c string) rpCall {
			return e.post(t, "/oauth2/token", &e.rp, url.Values{"grant_type": {"authorization_code"}, "code": {c},
				"redirect_uri": {rpCallback}, "code_verifier": {randomString() + randomString()}})
		}},
		{"no verifier", func(req authRequest, c string) rpCall {
			return e.post(t, "/oauth2/token", &e.rp, url.Values{"grant_type": {"authorization_code"}, "code": {c},
				"redirect_uri": {rpCallback}})
		}},
		{"expired", func(req authRequest, c string) rpCall {
			e.clock.Advance(61 * time.Second)
			return e.exchange(t, req, c)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request(e.rp)
			c := code(req)
			wantOAuthError(t, tc.send(req, c), http.StatusBadRequest, "invalid_grant")
			// A failed exchange spends the code: no second try.
			wantOAuthError(t, e.exchange(t, req, c), http.StatusBadRequest, "invalid_grant")
		})
	}
	// Codes are stored only hashed: no row holds a code we were given.
	req := request(e.rp)
	c := code(req)
	sum := sha256.Sum256([]byte(c))
	if n := sqlCount(t, e, `SELECT count(*) FROM oauth_codes WHERE hash = $1`, sum[:]); n != 1 {
		t.Errorf("%d codes stored under the code's SHA-256, want 1", n)
	}
	if n := sqlCount(t, e, `SELECT count(*) FROM oauth_codes o WHERE o::text LIKE '%' || $1 || '%'`, c); n != 0 {
		t.Error("a code is stored in the clear")
	}
}

func sqlCount(t *testing.T, e *opEnv, q string, args ...any) int {
	t.Helper()
	var n int
	if err := e.env.DB.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The token endpoint's client authentication and errors (RFC 6749 2.3.1,
// 5.2).
func TestTokenEndpointClientAuthentication(t *testing.T) {
	e := newOP(t)
	b := e.browser(t)
	b.signIn(userEmail, password, false)
	fresh := func() (authRequest, string) {
		req := request(e.rp)
		p, cb := b.authorize(req)
		return req, wantCode(t, req, p, cb).code()
	}
	grant := func(req authRequest, c string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {rpCallback}, "code_verifier": {req.verifier}}
	}
	for _, tc := range []struct {
		name string
		auth func(*http.Request, url.Values)
	}{
		{"no credentials", func(*http.Request, url.Values) {}},
		{"wrong secret basic", func(r *http.Request, _ url.Values) { r.SetBasicAuth(e.rp.ClientID, "wrong") }},
		{"wrong secret post", func(_ *http.Request, f url.Values) {
			f.Set("client_id", e.rp.ClientID)
			f.Set("client_secret", "wrong")
		}},
		{"confidential as public", func(_ *http.Request, f url.Values) { f.Set("client_id", e.rp.ClientID) }},
		{"unknown client", func(r *http.Request, _ url.Values) { r.SetBasicAuth("nobody", "x") }},
		{"another client's secret", func(r *http.Request, _ url.Values) { r.SetBasicAuth(e.rp.ClientID, e.third.ClientSecret) }},
		{"bearer scheme", func(r *http.Request, _ url.Values) { r.Header.Set("Authorization", "Bearer "+e.rp.ClientSecret) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, c := fresh()
			form := grant(req, c)
			hr, _ := http.NewRequest("POST", e.ts.URL+"/oauth2/token", nil)
			tc.auth(hr, form)
			hr.Body = io.NopCloser(strings.NewReader(form.Encode()))
			hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r := send(t, hr)
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
			if strings.Contains(string(r.body), e.rp.ClientSecret) {
				t.Error("the response holds the secret")
			}
		})
	}
	// Two authentication methods at once, and a disabled client.
	req, c := fresh()
	form := grant(req, c)
	form.Set("client_secret", e.rp.ClientSecret)
	wantOAuthError(t, e.post(t, "/oauth2/token", &e.rp, form), http.StatusBadRequest, "invalid_request")
	for _, tc := range []struct {
		form   url.Values
		status int
		error  string
	}{
		{url.Values{"grant_type": {"password"}, "username": {userEmail}, "password": {password}}, 400, "unsupported_grant_type"},
		{url.Values{"grant_type": {"client_credentials"}}, 400, "unsupported_grant_type"},
		{url.Values{}, 400, "invalid_request"},
		{url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {rpCallback}}, 400, "invalid_grant"},
		{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, 400, "invalid_grant"},
	} {
		wantOAuthError(t, e.post(t, "/oauth2/token", &e.rp, tc.form), tc.status, tc.error)
	}
	// JSON is not a token request.
	hr, _ := http.NewRequest("POST", e.ts.URL+"/oauth2/token", strings.NewReader(`{"grant_type":"authorization_code"}`))
	hr.Header.Set("Content-Type", "application/json")
	hr.SetBasicAuth(e.rp.ClientID, e.rp.ClientSecret)
	if r := send(t, hr); r.status != http.StatusUnsupportedMediaType && r.status != http.StatusBadRequest {
		t.Errorf("JSON token request: %d %s", r.status, r.body)
	}

	if _, err := e.env.Services.Clients.SetStatus(context.Background(), e.rp.ClientID, core.ClientDisabled, core.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, e.post(t, "/oauth2/token", &e.rp, grant(req, c)), http.StatusUnauthorized, "invalid_client")
	p := b.get("/oauth2/authorize?" + request(e.rp).query.Encode())
	wantStatus(t, p, http.StatusBadRequest)
}

// Basic OP: oidcc-refresh-token; refresh tokens are bound to their client
// and keep rotation with reuse detection.
func TestRefreshAtTheTokenEndpoint(t *testing.T) {
	e := newOP(t)
	req := request(e.rp, set("scope", "openid email offline_access"))
	_, tk := e.flow(t, req)
	refresh := func(c *core.ClientView, rt string) rpCall {
		return e.post(t, "/oauth2/token", c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}
	next := e.wantTokens(t, refresh(&e.rp, tk.RefreshToken))
	if next.RefreshToken == "" || next.RefreshToken == tk.RefreshToken {
		t.Fatal("the refresh token was not rotated")
	}
	if next.IDToken != "" {
		_, claims := e.idToken(t, authRequest{client: e.rp, query: url.Values{}}, next)
		if _, ok := claims["nonce"]; ok {
			t.Error("a refreshed ID token repeats the nonce")
		}
	}
	if _, access := jwtClaims(t, next.AccessToken); access["client_id"] != e.rp.ClientID || access["scope"] != "openid email offline_access" {
		t.Errorf("refreshed access token %v", access)
	}
	// Another client presenting it: invalid_grant, and the token stays
	// good for its own client.
	wantOAuthError(t, refresh(&e.third, next.RefreshToken), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, refresh(nil, next.RefreshToken), http.StatusBadRequest, "invalid_grant")
	next2 := e.wantTokens(t, refresh(&e.rp, next.RefreshToken))
	// Replaying a spent one past the grace window kills the chain.
	e.clock.Advance(time.Minute)
	wantOAuthError(t, refresh(&e.rp, tk.RefreshToken), http.StatusBadRequest, "invalid_grant")
	wantOAuthError(t, refresh(&e.rp, next2.RefreshToken), http.StatusBadRequest, "invalid_grant")

	// A public client gets refresh tokens too, and refreshes with its
	// client_id alone.
	spaReq := request(e.spa)
	_, st := e.flow(t, spaReq)
	e.wantTokens(t, refresh(&e.spa, st.RefreshToken))

	// The password API's refresh tokens (no client) refresh here too.
	api, err := e.env.Services.Auth.Login(context.Background(), core.LoginInput{Email: userEmail, Password: password}, core.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	e.wantTokens(t, refresh(nil, api.RefreshToken))
	// ...but not when a registered client presents one.
	api, _ = e.env.Services.Auth.Login(context.Background(), core.LoginInput{Email: userEmail, Password: password}, core.Meta{})
	wantOAuthError(t, refresh(&e.rp, api.RefreshToken), http.StatusBadRequest, "invalid_grant")
}

func TestClientsWithoutTheRefreshGrant(t *testing.T) {
	e := newOP(t)
	yes := true
	name := "No Refresh"
	c, err := e.env.Services.Clients.Create(context.Background(), core.ClientInput{Name: &name,
		RedirectURIs: []string{"https://norefresh.example/cb"}, FirstParty: &yes, GrantTypes: []string{"authorization_code"}},
		core.Meta{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	req := request(c)
	_, tk := e.flow(t, req)
	if tk.RefreshToken != "" {
		t.Error("a client without the refresh grant got a refresh token")
	}
}

// Consent for third-party clients: asked once per scope set, remembered,
// revocable from the account page.
func TestConsentForThirdPartyClients(t *testing.T) {
	e := newOP(t)
	b := e.browser(t)
	req := request(e.third, set("scope", "openid email"))
	p, cb := b.authorize(req)
	if cb != nil {
		t.Fatal("a signed-out browser went back to the client")
	}
	p, cb = b.signInThrough(p)
	if cb != nil {
		t.Fatal("a third-party client got a code without consent")
	}
	for _, want := range []string{"Third Party Notes", `value="allow"`, `value="deny"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, p.body)
		}
	}
	// Deny: access_denied at the client.
	dp, dcb := b.follow(b.submit(p, "/oauth2/consent", url.Values{"decision": {"deny"}}))
	wantError(t, req, dp, dcb, "access_denied")

	// prompt=none before consent: consent_required.
	none := request(e.third, set("scope", "openid email"), set("prompt", "none"))
	p, cb = b.authorize(none)
	wantError(t, none, p, cb, "consent_required")

	// Allow: a code; the next request with the same scopes needs no page.
	req = request(e.third, set("scope", "openid email"))
	p, _ = b.authorize(req)
	p, cb = b.follow(b.submit(p, "/oauth2/consent", url.Values{"decision": {"allow"}}))
	tk := e.wantTokens(t, e.exchange(t, req, wantCode(t, req, p, cb).code()))
	again := request(e.third, set("scope", "openid email"))
	p, cb = b.authorize(again)
	wantCode(t, again, p, cb)
	// More scopes ask again; prompt=consent always asks.
	for _, r := range []authRequest{request(e.third, set("scope", "openid email profile")),
		request(e.third, set("scope", "openid email"), set("prompt", "consent"))} {
		if p, cb = b.authorize(r); cb != nil || !strings.Contains(p.body, `value="allow"`) {
			t.Errorf("%s: no consent page", r.query.Encode())
		}
	}
	// A consent form can't be replayed by another browser.
	other := e.browser(t)
	other.signIn(userEmail, password, false)
	if res := other.do("POST", "/oauth2/consent", url.Values{"request": {hiddenFields(t, p.body, "/oauth2/consent")["request"]},
		"csrf": {hiddenFields(t, p.body, "/oauth2/consent")["csrf"]}, "decision": {"allow"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("another browser's consent form: %d", res.StatusCode)
	}

	// The account page lists the app; Revoke ends its access. Its session
	// goes by the app's name, not its client_id.
	account := b.get("/account")
	if !strings.Contains(account.body, "Third Party Notes") {
		t.Fatalf("account page doesn't list the app:\n%s", account.body)
	}
	if n := strings.Count(account.body, "Third Party Notes"); n < 2 {
		t.Errorf("the app's session isn't named after the app (%d mentions):\n%s", n, account.body)
	}
	wantRedirect(t, b.submit(account, "/account/apps/revoke", url.Values{"client": {e.third.ClientID}}), "/account?notice=app_revoked")
	wantOAuthError(t, e.post(t, "/oauth2/token", &e.third, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tk.RefreshToken}}), http.StatusBadRequest, "invalid_grant")
	p, cb = b.authorize(request(e.third, set("scope", "openid email")))
	if cb != nil || !strings.Contains(p.body, `value="allow"`) {
		t.Error("after revoking, the app got a code without asking")
	}
	if n := sqlCount(t, e, `SELECT count(*) FROM user_login_events WHERE event IN ('consent', 'consent_revoke')`); n < 3 {
		t.Errorf("%d consent events in the audit log, want deny, allow and revoke", n)
	}
}

// A client of another tenant makes the browser sign in to that tenant.
func TestClientsOfAnotherTenantNeedTheirOwnSignIn(t *testing.T) {
	e := newOP(t)
	ctx := context.Background()
	if _, err := e.env.Services.Tenants.Create(ctx, "acme", "Acme", core.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	yes := true
	name := "Acme App"
	acme, err := e.env.Services.Clients.Create(ctx, core.ClientInput{Name: &name, Tenant: "acme",
		RedirectURIs: []string{"https://acme.example/cb"}, FirstParty: &yes}, core.Meta{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	b.signIn(userEmail, password, false) // the default tenant
	req := request(acme, set("prompt", "none"))
	p, cb := b.authorize(req)
	wantError(t, req, p, cb, "login_required")
	p, cb = b.authorize(request(acme))
	if cb != nil || !strings.Contains(p.body, `action="/login"`) {
		t.Fatalf("a default-tenant session got a code for an acme client: %v", cb)
	}
	// The default tenant's user is not an acme user.
	res := b.submit(p, "/login", url.Values{"email": {userEmail}, "password": {password}})
	wantStatus(t, res, http.StatusBadRequest)
}

// RP-initiated logout 1.0.
func TestEndSession(t *testing.T) {
	e := newOP(t)
	req := request(e.rp)
	b, tk := e.flow(t, req)
	// An unregistered post_logout_redirect_uri: the error page, signed in
	// still.
	p := b.get("/oauth2/logout?" + url.Values{"id_token_hint": {tk.IDToken},
		"post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	wantStatus(t, p, http.StatusBadRequest)
	wantStatus(t, b.get("/account"), http.StatusOK)
	// A mismatched client_id: refused too.
	p = b.get("/oauth2/logout?" + url.Values{"id_token_hint": {tk.IDToken}, "client_id": {e.third.ClientID}}.Encode())
	wantStatus(t, p, http.StatusBadRequest)

	// With the hint (expired by now): signed out at once, back to the
	// app with state, and the app's sessions end.
	e.clock.Advance(20 * time.Minute)
	p = b.get("/oauth2/logout?" + url.Values{"id_token_hint": {tk.IDToken}, "post_logout_redirect_uri": {rpLogout},
		"state": {"xyz"}}.Encode())
	if p.StatusCode != http.StatusFound || p.Header.Get("Location") != rpLogout+"?state=xyz" {
		t.Fatalf("logout: %d to %q\n%s", p.StatusCode, p.Header.Get("Location"), p.body)
	}
	wantRedirect(t, b.get("/account"), "/login")
	wantOAuthError(t, e.post(t, "/oauth2/token", &e.rp, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tk.RefreshToken}}), http.StatusBadRequest, "invalid_grant")

	// Without a hint: a confirm page first; Sign out ends it.
	b2, tk2 := e.flow(t, request(e.rp))
	confirm := b2.get("/oauth2/logout?" + url.Values{"client_id": {e.rp.ClientID}, "post_logout_redirect_uri": {rpLogout}}.Encode())
	wantStatus(t, confirm, http.StatusOK)
	wantStatus(t, b2.get("/account"), http.StatusOK)
	res := b2.submit(confirm, "/oauth2/logout", nil)
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != rpLogout {
		t.Fatalf("confirmed logout: %d to %q\n%s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	wantOAuthError(t, e.post(t, "/oauth2/token", &e.rp, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tk2.RefreshToken}}), http.StatusBadRequest, "invalid_grant")
	// An app's cross-site POST (RP-Initiated Logout 1.0, 2) arrives
	// without the Lax session cookie: it comes back as a GET, a
	// top-level navigation the cookie goes with.
	b3, tk3 := e.flow(t, request(e.rp))
	post := b3.do("POST", "/oauth2/logout", url.Values{"id_token_hint": {tk3.IDToken}, "post_logout_redirect_uri": {rpLogout},
		"state": {"p"}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://rp.example")
	if post.StatusCode != http.StatusSeeOther || !strings.HasPrefix(post.Header.Get("Location"), "/oauth2/logout?") {
		t.Fatalf("cross-site POST logout: %d %q\n%s", post.StatusCode, post.Header.Get("Location"), post.body)
	}
	if p, cb := b3.follow(post); cb == nil || cb.url.String() != rpLogout+"?state=p" {
		t.Fatalf("POST logout ends at %d %v", p.StatusCode, cb)
	}
	wantRedirect(t, b3.get("/account"), "/login")
	// The confirm page's own form is refused from another site.
	b4, _ := e.flow(t, request(e.rp))
	confirm = b4.get("/oauth2/logout?" + url.Values{"client_id": {e.rp.ClientID}}.Encode())
	fields := hiddenFields(t, confirm.body, "/oauth2/logout")
	forged := url.Values{}
	for k, v := range fields {
		forged.Set(k, v)
	}
	if res := b4.do("POST", "/oauth2/logout", forged, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site confirm: %d", res.StatusCode)
	}
	wantStatus(t, b4.get("/account"), http.StatusOK)

	// The browser session idled out before the app asked to sign its user
	// out: the app's sessions of that browser end all the same.
	b5, tk5 := e.flow(t, request(e.rp))
	e.clock.Advance(31 * time.Minute)
	wantRedirect(t, b5.get("/account"), "/login")
	p = b5.get("/oauth2/logout?" + url.Values{"id_token_hint": {tk5.IDToken}, "post_logout_redirect_uri": {rpLogout}}.Encode())
	if p.StatusCode != http.StatusFound || p.Header.Get("Location") != rpLogout {
		t.Fatalf("logout after idling out: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	wantOAuthError(t, e.post(t, "/oauth2/token", &e.rp, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tk5.RefreshToken}}), http.StatusBadRequest, "invalid_grant")

	// Signed out already: straight to the app's page.
	p = b2.get("/oauth2/logout?" + url.Values{"client_id": {e.rp.ClientID}, "post_logout_redirect_uri": {rpLogout}}.Encode())
	if p.StatusCode != http.StatusFound || p.Header.Get("Location") != rpLogout {
		t.Errorf("logout while signed out: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
}

// RFC 7009 revocation and RFC 7662 introspection.
func TestRevocationAndIntrospection(t *testing.T) {
	e := newOP(t)
	req := request(e.rp)
	_, tk := e.flow(t, req)
	introspect := func(c *core.ClientView, tok string) map[string]any {
		t.Helper()
		r := e.post(t, "/oauth2/introspect", c, url.Values{"token": {tok}})
		if r.status != http.StatusOK {
			t.Fatalf("introspect: %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	at := introspect(&e.rp, tk.AccessToken)
	if at["active"] != true || at["client_id"] != e.rp.ClientID || at["scope"] != "openid email profile" || at["sub"] == nil {
		t.Errorf("introspection of a live access token: %v", at)
	}
	if rt := introspect(&e.rp, tk.RefreshToken); rt["active"] != true {
		t.Errorf("introspection of a live refresh token: %v", rt)
	}
	// A client of another tenant learns nothing about this tenant's tokens.
	ctx := context.Background()
	if _, err := e.env.Services.Tenants.Create(ctx, "acme", "Acme", core.Meta{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	name := "Acme API"
	acme, err := e.env.Services.Clients.Create(ctx, core.ClientInput{Name: &name, Tenant: "acme",
		RedirectURIs: []string{"https://acme.example/cb"}}, core.Meta{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{tk.AccessToken, tk.RefreshToken} {
		if x := introspect(&acme, tok); len(x) != 1 || x["active"] != false {
			t.Errorf("another tenant's client introspects: %v", x)
		}
	}
	if x := introspect(&e.rp, "garbage"); len(x) != 1 || x["active"] != false {
		t.Errorf("introspection of garbage: %v", x)
	}
	// Public clients and unauthenticated callers may not introspect.
	wantOAuthError(t, e.post(t, "/oauth2/introspect", &e.spa, url.Values{"token": {tk.AccessToken}}), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, e.post(t, "/oauth2/introspect", nil, url.Values{"token": {tk.AccessToken}}), http.StatusUnauthorized, "invalid_client")

	// Another client revoking it: 200 and nothing happens.
	if r := e.post(t, "/oauth2/revoke", &e.third, url.Values{"token": {tk.RefreshToken}}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if introspect(&e.rp, tk.AccessToken)["active"] != true {
		t.Fatal("another client revoked the token")
	}
	// Its own client revokes the refresh token: the session ends, the
	// access token is inactive at once.
	if r := e.post(t, "/oauth2/revoke", &e.rp, url.Values{"token": {tk.RefreshToken}, "token_type_hint": {"refresh_token"}}); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	for _, tok := range []string{tk.AccessToken, tk.RefreshToken} {
		if x := introspect(&e.rp, tok); x["active"] != false || len(x) != 1 {
			t.Errorf("after revocation: %v", x)
		}
	}
	// Revoking the access token of another session ends it as well;
	// unknown tokens are fine.
	_, tk2 := e.flow(t, request(e.rp))
	for _, tok := range []string{tk2.AccessToken, "unknown", ""} {
		if r := e.post(t, "/oauth2/revoke", &e.rp, url.Values{"token": {tok}}); r.status != http.StatusOK {
			t.Errorf("revoke %q: %d", tok, r.status)
		}
	}
	if introspect(&e.rp, tk2.RefreshToken)["active"] != false {
		t.Error("revoking the access token left its session alive")
	}
	for _, path := range []string{"/oauth2/revoke", "/oauth2/introspect"} {
		hr, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(`{"token":"x"}`))
		hr.Header.Set("Content-Type", "application/json")
		hr.SetBasicAuth(e.rp.ClientID, e.rp.ClientSecret)
		wantOAuthError(t, send(t, hr), http.StatusUnsupportedMediaType, "invalid_request")
	}
	wantOAuthError(t, e.post(t, "/oauth2/revoke", nil, url.Values{"token": {"x"}}, "Authorization", "Basic "+
		base64.StdEncoding.EncodeToString([]byte(e.rp.ClientID+":wrong"))), http.StatusUnauthorized, "invalid_client")
}

// CORS on the back channel only for registered clients' origins.
func TestCORSOnlyForRegisteredOrigins(t *testing.T) {
	e := newOP(t)
	for _, path := range []string{"/oauth2/token", "/oauth2/userinfo", "/oauth2/revoke", "/.well-known/jwks.json", "/.well-known/openid-configuration"} {
		for origin, want := range map[string]bool{"http://127.0.0.1:5173": true, "https://rp.example": true, "https://evil.example": false} {
			r := mustRequest("OPTIONS", e.ts.URL+path)
			r.Header.Set("Origin", origin)
			r.Header.Set("Access-Control-Request-Method", "POST")
			res := send(t, r)
			got := res.header.Get("Access-Control-Allow-Origin")
			if want && got != origin || !want && got != "" {
				t.Errorf("OPTIONS %s from %s: Access-Control-Allow-Origin %q", path, origin, got)
			}
		}
	}
	r := mustRequest("OPTIONS", e.ts.URL+"/oauth2/introspect")
	r.Header.Set("Origin", "https://rp.example")
	if res := send(t, r); res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("introspection answers browsers")
	}
}

// The discovery document is complete and true: every endpoint it names
// answers (docs/integrate.md).
func TestDiscoveryIsCompleteAndTrue(t *testing.T) {
	e := newOP(t)
	var d map[string]any
	if err := json.Unmarshal(send(t, mustRequest("GET", e.ts.URL+"/.well-known/openid-configuration")).body, &d); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"issuer": "", "authorization_endpoint": "/oauth2/authorize", "token_endpoint": "/oauth2/token",
		"userinfo_endpoint": "/oauth2/userinfo", "jwks_uri": "/.well-known/jwks.json", "end_session_endpoint": "/oauth2/logout",
		"revocation_endpoint": "/oauth2/revoke", "introspection_endpoint": "/oauth2/introspect",
	}
	for k, path := range want {
		if d[k] != e.ts.URL+path {
			t.Errorf("%s = %v, want %s", k, d[k], e.ts.URL+path)
		}
		if path == "" {
			continue
		}
		res := send(t, mustRequest("GET", e.ts.URL+path))
		if res.status == http.StatusNotFound {
			t.Errorf("%s %s: 404", k, path)
		}
	}
	lists := map[string][]string{
		"response_types_supported":                      {"code"},
		"code_challenge_methods_supported":              {"S256"},
		"id_token_signing_alg_values_supported":         {"EdDSA", "RS256"},
		"grant_types_supported":                         {"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                              {"openid", "profile", "email", "roles", "offline_access"},
		"subject_types_supported":                       {"public"},
		"response_modes_supported":                      {"query"},
		"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
	}
	for k, vals := range lists {
		got, _ := d[k].([]any)
		var s []string
		for _, v := range got {
			s = append(s, v.(string))
		}
		if !slices.Equal(s, vals) {
			t.Errorf("%s = %v, want %v", k, s, vals)
		}
	}
	claims, _ := d["claims_supported"].([]any)
	for _, c := range []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "sid", "at_hash",
		"email", "email_verified", "name", "tenant_id", "roles"} {
		if !slices.Contains(claims, any(c)) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
	if got, _ := d["ui_locales_supported"].([]any); len(got) != 2 || got[0] != "de" || got[1] != "en" {
		t.Errorf("ui_locales_supported = %v, want the catalogues [de en]", d["ui_locales_supported"])
	}
	for k, v := range map[string]any{"request_parameter_supported": false, "request_uri_parameter_supported": false,
		"authorization_response_iss_parameter_supported": true} {
		if d[k] != v {
			t.Errorf("%s = %v, want %v", k, d[k], v)
		}
	}
}

// A client registered for RS256 gets RS256 ID tokens (at_hash from
// SHA-256), verifiable with the RSA key of the JWKS; the access token stays
// EdDSA, and its ID tokens work as hints.
func TestRS256Client(t *testing.T) {
	e := newOP(t)
	yes, alg, name := true, "RS256", "Legacy RP"
	c, err := e.env.Services.Clients.Create(context.Background(), core.ClientInput{Name: &name, FirstParty: &yes,
		RedirectURIs: []string{"https://legacy.example/cb"}, PostLogoutRedirectURIs: []string{"https://legacy.example/"}, IDTokenAlg: &alg},
		core.Meta{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	req := request(c)
	b, tk := e.flow(t, req)
	hdr, _ := e.idToken(t, req, tk)
	if hdr.Algorithm != "RS256" {
		t.Fatalf("id_token alg %s, want RS256", hdr.Algorithm)
	}
	if ah, _ := jwtClaims(t, tk.AccessToken); ah["alg"] != "EdDSA" {
		t.Errorf("access token alg %v, want EdDSA", ah["alg"])
	}
	hint := request(c, set("id_token_hint", tk.IDToken), set("prompt", "none"))
	p, cb := b.authorize(hint)
	wantCode(t, hint, p, cb)
	p = b.get("/oauth2/logout?" + url.Values{"id_token_hint": {tk.IDToken}, "post_logout_redirect_uri": {"https://legacy.example/"}}.Encode())
	if p.StatusCode != http.StatusFound || p.Header.Get("Location") != "https://legacy.example/" {
		t.Fatalf("logout with an RS256 hint: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
}
