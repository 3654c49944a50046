package core_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core"
)

func ptr[T any](v T) *T { return &v }

func TestClientRedirectURIRules(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example/callback", true},
		{"https://app.example:8443/cb?tenant=x", true},
		{"http://127.0.0.1/callback", true},
		{"http://127.0.0.1:51234/callback", true},
		{"http://[::1]:8080/cb", true},
		{"http://localhost:3000/api/auth/callback/idp", true},
		{"com.example.app:/oauth2redirect", true},
		{"http://app.example/callback", false},    // http off loopback
		{"https://app.example/cb#frag", false},    // fragment (RFC 6749 3.1.2)
		{"https://user:pw@app.example/cb", false}, // userinfo
		{"/callback", false},                      // relative
		{"https:///cb", false},                    // no host
		{"javascript:alert(1)", false},            // not reverse-domain
		{"myapp://callback", false},               // private-use scheme without a dot
		{"https://app.example/c b", false},        // space
		{"https://app.example/\x00", false},       // control character
		{"", false},
		{"https://app.example/" + strings.Repeat("a", 2000), false},
	} {
		_, err := h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("App"), RedirectURIs: []string{tc.uri}}, meta())
		if (err == nil) != tc.ok {
			t.Errorf("redirect_uri %q: err %v, want ok=%v", tc.uri, err, tc.ok)
		}
		if err != nil {
			wantCode(t, err, core.EINVALID)
		}
	}
	_, err := h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("App")}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("App"), RedirectURIs: []string{"https://a.example/cb"},
		Scopes: []string{"openid", "address"}}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("App"), RedirectURIs: []string{"https://a.example/cb"},
		IDTokenAlg: ptr("HS256")}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("App"), RedirectURIs: []string{"https://a.example/cb"},
		CORSOrigins: []string{"https://a.example/path"}}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr(" "), RedirectURIs: []string{"https://a.example/cb"}}, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("App"), Tenant: "nope", RedirectURIs: []string{"https://a.example/cb"}}, meta())
	wantCode(t, err, core.ENOTFOUND)
}

func TestRedirectMatches(t *testing.T) {
	c := core.Client{}
	registered := []string{"https://app.example/cb", "http://127.0.0.1/native", "http://localhost:3000/cb"}
	for _, tc := range []struct {
		uri  string
		want bool
	}{
		{"https://app.example/cb", true},
		{"https://app.example/cb/", false},
		{"https://APP.example/cb", false},
		{"https://app.example/cb?x=1", false},
		{"https://app.example:443/cb", false},
		{"http://127.0.0.1:49152/native", true}, // any port on loopback (RFC 8252 7.3)
		{"http://127.0.0.1/native", true},
		{"http://127.0.0.1:49152/other", false},
		{"http://localhost:4000/cb", true},
		{"http://127.0.0.1:3000/cb", false}, // another loopback host than registered
		{"https://127.0.0.1/native", false},
	} {
		if got := c.RedirectMatches(tc.uri, registered); got != tc.want {
			t.Errorf("RedirectMatches(%q) = %v, want %v", tc.uri, got, tc.want)
		}
	}
}

func TestClientLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c, err := h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("Web App"),
		RedirectURIs: []string{"https://web.example/cb", "http://127.0.0.1:8000/cb"}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientSecret == "" || c.Public || c.FirstParty || c.IDTokenAlg != "EdDSA" {
		t.Fatalf("defaults: %+v", c)
	}
	if got := strings.Join(c.CORSOrigins, " "); got != "https://web.example http://127.0.0.1:8000" {
		t.Errorf("CORS origins derived from the redirect URIs: %q", got)
	}
	if got := strings.Join(c.GrantTypes, " "); got != "authorization_code refresh_token" {
		t.Errorf("grant types %q", got)
	}
	sum := sha256.Sum256([]byte(c.ClientSecret))
	if n := h.count(`SELECT count(*) FROM oauth_clients WHERE id = $1 AND secret_hash = $2`, c.ClientID, sum[:]); n != 1 {
		t.Fatal("the secret is not stored as its SHA-256")
	}
	if n := h.count(`SELECT count(*) FROM oauth_clients o WHERE o::text LIKE '%' || $1 || '%'`, c.ClientSecret); n != 0 {
		t.Fatal("the secret is stored in the clear")
	}
	got, err := h.svcs.Clients.Get(ctx, c.ClientID)
	if err != nil || got.ClientSecret != "" {
		t.Fatalf("Get shows the secret again: %+v, %v", got, err)
	}
	if _, err := h.svcs.Clients.Authenticate(ctx, c.ClientID, c.ClientSecret, meta()); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	for _, bad := range []struct{ id, secret string }{
		{c.ClientID, ""}, {c.ClientID, "wrong"}, {"unknown", c.ClientSecret}, {"", ""}, {c.ClientID, strings.Repeat("x", 600)},
	} {
		_, err := h.svcs.Clients.Authenticate(ctx, bad.id, bad.secret, meta())
		wantCode(t, err, core.EINVALIDCLIENT)
	}

	// Rotation: the old secret stops at once.
	rotated, err := h.svcs.Clients.RotateSecret(ctx, c.ClientID, meta())
	if err != nil || rotated.ClientSecret == "" || rotated.ClientSecret == c.ClientSecret {
		t.Fatalf("RotateSecret: %+v, %v", rotated, err)
	}
	_, err = h.svcs.Clients.Authenticate(ctx, c.ClientID, c.ClientSecret, meta())
	wantCode(t, err, core.EINVALIDCLIENT)

	// Update changes what it names only; kind and tenant are fixed.
	in := core.ClientInput{Name: ptr("Web App 2"), IDTokenAlg: ptr("RS256")}
	up, err := h.svcs.Clients.Update(ctx, c.ClientID, in, meta())
	if err != nil || up.Name != "Web App 2" || up.IDTokenAlg != "RS256" || len(up.RedirectURIs) != 2 {
		t.Fatalf("Update: %+v, %v", up, err)
	}
	clear := core.ClientInput{}
	clear.Set("post_logout_redirect_uris")
	if up, err = h.svcs.Clients.Update(ctx, c.ClientID, clear, meta()); err != nil || len(up.PostLogoutRedirectURIs) != 0 {
		t.Fatalf("clearing a list: %+v, %v", up, err)
	}
	// Derived CORS origins follow new redirect URIs; explicit ones stay.
	moved := core.ClientInput{RedirectURIs: []string{"https://moved.example/cb"}}
	if up, err = h.svcs.Clients.Update(ctx, c.ClientID, moved, meta()); err != nil || strings.Join(up.CORSOrigins, " ") != "https://moved.example" {
		t.Fatalf("derived origins after new redirect URIs: %+v, %v", up.CORSOrigins, err)
	}
	if _, err = h.svcs.Clients.Update(ctx, c.ClientID, core.ClientInput{CORSOrigins: []string{"https://spa.example"}}, meta()); err != nil {
		t.Fatal(err)
	}
	moved.RedirectURIs = []string{"https://again.example/cb", "http://127.0.0.1:8000/cb"}
	if up, err = h.svcs.Clients.Update(ctx, c.ClientID, moved, meta()); err != nil || strings.Join(up.CORSOrigins, " ") != "https://spa.example" {
		t.Fatalf("explicit origins after new redirect URIs: %+v, %v", up.CORSOrigins, err)
	}
	_, err = h.svcs.Clients.Update(ctx, c.ClientID, core.ClientInput{Public: ptr(true)}, meta())
	wantCode(t, err, core.EINVALID)
	noRedirects := core.ClientInput{}
	noRedirects.Set("redirect_uris")
	_, err = h.svcs.Clients.Update(ctx, c.ClientID, noRedirects, meta())
	wantCode(t, err, core.EINVALID)
	_, err = h.svcs.Clients.Update(ctx, "missing", in, meta())
	wantCode(t, err, core.ENOTFOUND)

	// A public client has no secret to rotate and authenticates without.
	pub, err := h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("SPA"), Public: ptr(true),
		RedirectURIs: []string{"http://127.0.0.1:5173/cb"}}, meta())
	if err != nil || pub.ClientSecret != "" {
		t.Fatalf("public client: %+v, %v", pub, err)
	}
	_, err = h.svcs.Clients.RotateSecret(ctx, pub.ClientID, meta())
	wantCode(t, err, core.ECONFLICT)
	if _, err := h.svcs.Clients.Authenticate(ctx, pub.ClientID, "", meta()); err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Clients.Authenticate(ctx, pub.ClientID, "a secret", meta())
	wantCode(t, err, core.EINVALIDCLIENT)

	list, err := h.svcs.Clients.List(ctx, "default")
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	for _, v := range list {
		if v.ClientSecret != "" {
			t.Error("List shows a secret")
		}
	}

	// Disabled: authentication fails; enabled again, it works.
	if _, err := h.svcs.Clients.SetStatus(ctx, c.ClientID, core.ClientDisabled, meta()); err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Clients.Authenticate(ctx, c.ClientID, rotated.ClientSecret, meta())
	wantCode(t, err, core.EINVALIDCLIENT)
	if _, err := h.svcs.Clients.SetStatus(ctx, c.ClientID, core.ClientActive, meta()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svcs.Clients.Authenticate(ctx, c.ClientID, rotated.ClientSecret, meta()); err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Clients.SetStatus(ctx, c.ClientID, "paused", meta())
	wantCode(t, err, core.EINVALID)

	if err := h.svcs.Clients.Delete(ctx, c.ClientID, meta()); err != nil {
		t.Fatal(err)
	}
	_, err = h.svcs.Clients.Get(ctx, c.ClientID)
	wantCode(t, err, core.ENOTFOUND)
	wantCode(t, h.svcs.Clients.Delete(ctx, c.ClientID, meta()), core.ENOTFOUND)
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event IN ('client_create', 'client_update', 'client_secret_rotate', 'client_delete')`); n < 8 {
		t.Errorf("%d client events audited", n)
	}
}

// issueCode runs an authorization request for the browser p to a code.
func (h *harness) issueCode(c core.ClientView, p core.BrowserPrincipal, verifier string) string {
	h.t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256([]byte(verifier))
	req, _, err := h.svcs.OAuth.CheckAuthorize(ctx, core.AuthorizeParams{ClientID: c.ClientID, RedirectURI: c.RedirectURIs[0],
		ResponseType: "code", Scope: "openid email", CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]),
		CodeChallengeMethod: "S256", State: "s"})
	if err != nil {
		h.t.Fatalf("CheckAuthorize: %v", err)
	}
	d, err := h.svcs.OAuth.Authorize(ctx, req, &p, meta())
	if err != nil || d.RedirectTo == "" {
		h.t.Fatalf("Authorize: %+v, %v", d, err)
	}
	code := d.RedirectTo[strings.Index(d.RedirectTo, "code=")+len("code="):]
	return code[:strings.IndexByte(code, '&')]
}

func TestPruneOAuthCodes(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("cody@example.com")
	c, err := h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("App"), RedirectURIs: []string{"https://app.example/cb"},
		FirstParty: ptr(true)}, meta())
	if err != nil {
		t.Fatal(err)
	}
	p := h.signIn("cody@example.com", false, "").Principal
	verifier := strings.Repeat("v", 43)
	used := h.issueCode(c, p, verifier)
	if _, err := h.svcs.OAuth.ExchangeCode(ctx, core.CodeExchange{Client: core.Client{ID: c.ClientID, GrantTypes: c.GrantTypes,
		IDTokenAlg: c.IDTokenAlg}, Code: used, RedirectURI: c.RedirectURIs[0], CodeVerifier: verifier}, meta()); err != nil {
		t.Fatalf("ExchangeCode: %v", err)
	}
	h.issueCode(c, p, verifier) // never used

	// Within the retention past expiry, both stay (a late reuse still
	// revokes what the first use issued).
	h.clock.Advance(time.Minute + core.OAuthCodeRetention - time.Minute)
	if rep := h.prune(false); deleted(rep, "oauth_codes") != 0 {
		t.Fatalf("pruned codes within their retention: %+v", rep.Deleted)
	}
	h.clock.Advance(2 * time.Minute)
	p = h.signIn("cody@example.com", false, "").Principal
	h.issueCode(c, p, verifier) // live
	if rep := h.prune(true); deleted(rep, "oauth_codes") != 2 {
		t.Fatalf("dry run counts %+v, want 2 codes", rep.Deleted)
	}
	if rep := h.prune(false); deleted(rep, "oauth_codes") != 2 {
		t.Fatalf("deleted %+v, want 2 codes", rep.Deleted)
	}
	if n := h.count(`SELECT count(*) FROM oauth_codes`); n != 1 {
		t.Fatalf("%d codes left, want the live one", n)
	}
}

// Failed client authentications are audited and limited per IP; a
// confidential client's successes and refreshes are not limited (its
// backend speaks for all its users from one IP), a public client's are.
func TestClientAuthenticationLimits(t *testing.T) {
	h := newHarness(t, func(c *core.Config) { c.IPPerMinute = 3 })
	ctx := context.Background()
	h.user("lim@example.com")
	c, err := h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("App"), RedirectURIs: []string{"https://app.example/cb"},
		FirstParty: ptr(true)}, meta())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err := h.svcs.Clients.Authenticate(ctx, c.ClientID, "wrong", meta())
		wantCode(t, err, core.EINVALIDCLIENT)
	}
	_, err = h.svcs.Clients.Authenticate(ctx, c.ClientID, "wrong", meta())
	wantCode(t, err, core.ETHROTTLED)
	_, err = h.svcs.Clients.Authenticate(ctx, c.ClientID, "wrong", meta())
	wantCode(t, err, core.ETHROTTLED)
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'client_auth_failure' AND client_id = $1`, c.ClientID); n != 4 {
		t.Errorf("%d client_auth_failure rows, want 3 failures and one aggregated throttle row", n)
	}
	if n := h.count(`SELECT count(*) FROM user_login_events WHERE event = 'client_auth_failure' AND reason = 'bad_secret'`); n != 3 {
		t.Errorf("%d bad_secret rows, want 3", n)
	}
	// The right secret works all the same, as often as needed.
	for range 5 {
		if _, err := h.svcs.Clients.Authenticate(ctx, c.ClientID, c.ClientSecret, meta()); err != nil {
			t.Fatalf("Authenticate with the secret while throttled: %v", err)
		}
	}

	p := h.signIn("lim@example.com", false, "").Principal
	verifier := strings.Repeat("w", 43)
	client := func(v core.ClientView) core.Client {
		got, err := h.svcs.OAuth.Client(ctx, v.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	conf := client(c)
	resp, err := h.svcs.OAuth.ExchangeCode(ctx, core.CodeExchange{Client: conf, Code: h.issueCode(c, p, verifier),
		RedirectURI: c.RedirectURIs[0], CodeVerifier: verifier}, meta())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if resp, err = h.svcs.Sessions.RefreshFor(ctx, resp.RefreshToken, &conf, meta()); err != nil {
			t.Fatalf("confidential refresh %d: %v", i+1, err)
		}
	}
	pubView, err := h.svcs.Clients.Create(ctx, core.ClientInput{Name: ptr("SPA"), Public: ptr(true),
		RedirectURIs: []string{"http://127.0.0.1:5173/cb"}, FirstParty: ptr(true)}, meta())
	if err != nil {
		t.Fatal(err)
	}
	pub := client(pubView)
	resp, err = h.svcs.OAuth.ExchangeCode(ctx, core.CodeExchange{Client: pub, Code: h.issueCode(pubView, p, verifier),
		RedirectURI: pubView.RedirectURIs[0], CodeVerifier: verifier}, meta())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if resp, err = h.svcs.Sessions.RefreshFor(ctx, resp.RefreshToken, &pub, meta()); err != nil {
			t.Fatalf("public refresh %d: %v", i+1, err)
		}
	}
	_, err = h.svcs.Sessions.RefreshFor(ctx, resp.RefreshToken, &pub, meta())
	wantCode(t, err, core.ETHROTTLED)
}

func TestOAuthErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{core.Errorf(core.EINVALID, "x"), "invalid_request"},
		{core.Errorf(core.EINVALIDCLIENT, "x"), "invalid_client"},
		{core.Errorf(core.EINVALIDSCOPE, "x"), "invalid_scope"},
		{core.Errorf(core.ELOGINREQUIRED, "x"), "login_required"},
		{core.Errorf(core.ECONSENT, "x"), "consent_required"},
		{core.Errorf(core.EACCESSDENIED, "x"), "access_denied"},
		{core.Errorf(core.EDENIED, "x"), "invalid_grant"},
		{core.Errorf(core.EUNAVAILABLE, "x"), "temporarily_unavailable"},
		{core.Errorf(core.EFORBIDDEN, "x"), "unauthorized_client"},
		{&core.Error{Code: core.EUNSUPPORTED, Reason: "response_type"}, "unsupported_response_type"},
		{&core.Error{Code: core.EUNSUPPORTED, Reason: "grant_type"}, "unsupported_grant_type"},
		{&core.Error{Code: core.EUNSUPPORTED, Reason: "request"}, "request_not_supported"},
		{&core.Error{Code: core.EUNSUPPORTED, Reason: "request_uri"}, "request_uri_not_supported"},
		{&core.Error{Code: core.EUNSUPPORTED}, "invalid_request"},
		{core.Errorf(core.ECONFLICT, "x"), "server_error"},
		{context.Canceled, "server_error"},
		{&core.AuthorizeError{Err: core.Errorf(core.EINVALIDSCOPE, "no openid")}, "invalid_scope"},
	} {
		if got := core.OAuthErrorCode(tc.err); got != tc.want {
			t.Errorf("OAuthErrorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	ae := &core.AuthorizeError{Err: core.Errorf(core.EINVALID, "redirect_uri is not registered")}
	if ae.Error() == "" || !strings.Contains(ae.Error(), "redirect_uri") {
		t.Errorf("AuthorizeError.Error() = %q", ae.Error())
	}
	if core.ErrorCode(ae) != core.EINVALID {
		t.Error("AuthorizeError doesn't unwrap to its *Error")
	}
}

func TestRevokeConsentOfAnAppNeverAllowed(t *testing.T) {
	h := newHarness(t)
	h.user("rc@example.com")
	p := h.signIn("rc@example.com", false, "").Principal
	wantCode(t, h.svcs.OAuth.RevokeConsent(context.Background(), p, "no-such-client", meta()), core.ENOTFOUND)
}
