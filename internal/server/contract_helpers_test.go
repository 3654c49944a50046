package server_test

// Helpers shared by the contract_*_test.go files: SQL checks, token minting
// with the server's own (test) signing key, and header comparisons.

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/internal/core/token"
	"github.com/idp-dev/idp/internal/server"
)

// sqlInt runs a query that returns one integer (a count, mostly).
func sqlInt(t testing.TB, env *testEnv, query string, args ...any) int {
	t.Helper()
	var n int
	if err := env.DB.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// sqlExec runs a statement.
func sqlExec(t testing.TB, env *testEnv, query string, args ...any) {
	t.Helper()
	if _, err := env.DB.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// auditCount counts audit rows of event (and reason, unless "*") about
// email ("" means any subject).
func auditCount(t testing.TB, env *testEnv, event, reason, email string) int {
	t.Helper()
	return sqlInt(t, env, `SELECT count(*) FROM user_login_events
		WHERE event = $1 AND ($2 = '*' OR reason = $2) AND ($3 = '' OR lower(subject_email) = lower($3))`,
		event, reason, email)
}

// meta is what the tests pass when they act as the CLI would.
var cliMeta = core.Meta{Actor: "cli"}

// createUser makes an active user with the test password in tenant ("" is
// the default tenant), creating the tenant and the roles' catalogue
// entries when they are missing.
func createUser(t testing.TB, env *testEnv, tenant, email string, roles ...string) {
	t.Helper()
	ctx := context.Background()
	if tenant != "" {
		if _, err := env.Services.Tenants.Ensure(ctx, tenant, cliMeta); err != nil {
			t.Fatalf("Tenants.Ensure(%s): %v", tenant, err)
		}
	}
	for _, r := range roles {
		if _, err := env.Services.Roles.Create(ctx, core.Operator(tenant), r, "", cliMeta); err != nil && core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("Roles.Create(%s): %v", r, err)
		}
	}
	if _, err := env.Services.Users.Create(ctx, core.CreateInput{Tenant: tenant, Email: email, Password: testPassword, Roles: roles}, cliMeta); err != nil {
		t.Fatalf("Users.Create(%s): %v", email, err)
	}
}

// tokenURL and friends are the endpoints of CONTRACT 3.
const (
	tokenURL    = "/api/v1/auth/token"
	refreshURL  = "/api/v1/auth/refresh"
	logoutURL   = "/api/v1/auth/logout"
	meURL       = "/api/v1/auth/me"
	registerURL = "/api/v1/auth/register"
	changeURL   = "/api/v1/auth/password/change"
	initiateURL = "/api/v1/auth/password/reset/initiate"
	completeURL = "/api/v1/auth/password/reset/complete"
	jwksURL     = "/.well-known/jwks.json"
	discoURL    = "/.well-known/openid-configuration"
)

// loginAs posts a JSON password grant.
func loginAs(t testing.TB, ts *httptest.Server, tenant, email, password string, headers ...string) response {
	t.Helper()
	body := map[string]string{"email": email, "password": password}
	if tenant != "" {
		body["tenant"] = tenant
	}
	return do(t, ts, "POST", tokenURL, body, headers...)
}

// loginOK logs in and decodes the token response.
func loginOK(t testing.TB, ts *httptest.Server, tenant, email, password string) core.TokenResponse {
	t.Helper()
	r := loginAs(t, ts, tenant, email, password)
	wantStatus(t, r, http.StatusOK)
	return decodeTokens(t, r)
}

func decodeTokens(t testing.TB, r response) core.TokenResponse {
	t.Helper()
	var tr core.TokenResponse
	if err := json.Unmarshal(r.Body, &tr); err != nil {
		t.Fatalf("token response %q: %v", r.Body, err)
	}
	return tr
}

func refresh(t testing.TB, ts *httptest.Server, rt string) response {
	t.Helper()
	return do(t, ts, "POST", refreshURL, map[string]string{"refresh_token": rt})
}

func me(t testing.TB, ts *httptest.Server, access string) response {
	t.Helper()
	return do(t, ts, "GET", meURL, nil, "Authorization", bearer(access))
}

// wantInvalidToken checks the 401 of RFC 6750 section 3.1.
func wantInvalidToken(t testing.TB, r response) {
	t.Helper()
	wantError(t, r, http.StatusUnauthorized, "invalid_token")
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
}

// wantDead: the session of tr can neither refresh nor call /me.
func wantDead(t testing.TB, ts *httptest.Server, tr core.TokenResponse) {
	t.Helper()
	wantError(t, refresh(t, ts, tr.RefreshToken), http.StatusBadRequest, "invalid_grant")
	wantInvalidToken(t, me(t, ts, tr.AccessToken))
}

// wantAlive: /me works with the access token and the refresh token rotates;
// it returns the rotated pair.
func wantAlive(t testing.TB, ts *httptest.Server, tr core.TokenResponse) core.TokenResponse {
	t.Helper()
	wantStatus(t, me(t, ts, tr.AccessToken), http.StatusOK)
	r := refresh(t, ts, tr.RefreshToken)
	wantStatus(t, r, http.StatusOK)
	return decodeTokens(t, r)
}

// jwtSegments decodes the header and payload of a compact JWS.
func jwtSegments(t testing.TB, jwt string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", jwt)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("segment %q: %v", s, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("segment %s: %v", b, err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jsonSeg encodes v as a base64url JWS segment.
func jsonSeg(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64url(b)
}

// mint builds a compact JWS from header and claims, signed by sign (nil
// leaves the signature empty).
func mint(t testing.TB, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	input := jsonSeg(t, header) + "." + jsonSeg(t, claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64url(sig)
}

// signingKey opens the server's signing key of state from the database with
// the test encryption key: what an attacker holding the database and
// keys.encryption_key could do, and what lets the tests mint tokens the
// server trusts with any claims they like.
func signingKey(t testing.TB, env *testEnv, state core.KeyState) (kid string, priv ed25519.PrivateKey) {
	t.Helper()
	var sealed []byte
	err := env.DB.QueryRowContext(context.Background(),
		`SELECT kid, private_key_sealed FROM signing_keys WHERE state = $1`, string(state)).Scan(&kid, &sealed)
	if err != nil {
		t.Fatalf("read %s signing key: %v", state, err)
	}
	s, err := token.NewSealer(testEncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := s.Open(sealed, []byte(kid))
	if err != nil {
		t.Fatalf("open %s signing key: %v", state, err)
	}
	return kid, ed25519.NewKeyFromSeed(seed)
}

func edSigner(priv ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(priv, in) }
}

// headerSet renders every response header but the ones that differ per
// request, for comparing two responses.
func headerSet(r response) string {
	var lines []string
	for k, vs := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Date", "X-Request-Id":
			continue
		}
		lines = append(lines, k+": "+strings.Join(vs, ", "))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// parallel runs fn(i) for i in [0, n) at once, released together.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// sendRaw sends a request without the test helpers' failing on transport
// errors, for use in goroutines (t.Fatal must not be called there).
func sendRaw(ts *httptest.Server, req *http.Request) (response, error) {
	resp, err := ts.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{Response: resp, Body: b}, nil
}

// postReq builds a JSON POST for sendRaw.
func postReq(ts *httptest.Server, path string, body any, headers ...string) *http.Request {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

func getReq(ts *httptest.Server, path string, headers ...string) *http.Request {
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// opaqueLike matches a whole 43-character base64url word: the shape of our
// refresh and reset tokens (and of kids, which are public).
var opaqueLike = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])([A-Za-z0-9_-]{43})(?:[^A-Za-z0-9_-]|$)`)

// newContractEnv is newTestEnv for the contract suite: when the test ends,
// every captured log line is checked for the test password, anything
// shaped like a JWT and any opaque token that is not a public kid.
func newContractEnv(t *testing.T, adjust func(*core.Config, *server.Options)) *testEnv {
	t.Helper()
	env := newTestEnv(t, adjust)
	t.Cleanup(func() {
		logs := env.Logs.String()
		if strings.Contains(logs, testPassword) {
			t.Errorf("the logs hold the test password")
		}
		if m := jwtLike.FindString(logs); m != "" {
			t.Errorf("the logs hold a JWT: %.40s...", m)
		}
		kids := map[string]bool{}
		rows, err := env.DB.Query(`SELECT kid FROM signing_keys`)
		if err != nil {
			t.Errorf("read kids: %v", err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var kid string
			if err := rows.Scan(&kid); err == nil {
				kids[kid] = true
			}
		}
		for _, m := range opaqueLike.FindAllStringSubmatch(logs, -1) {
			if !kids[m[1]] {
				t.Errorf("the logs hold something shaped like a token: %.8s...", m[1])
				break
			}
		}
	})
	return env
}
