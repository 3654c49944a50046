package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/idp-dev/idp/internal/testenv"
	"github.com/idp-dev/idp/verify"
)

// claimsSchema compiles docs/claims.schema.json, the claims part of the
// trust contract of docs/integrate.md.
func claimsSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "claims.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("docs/claims.schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("claims.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("claims.schema.json")
	if err != nil {
		t.Fatalf("docs/claims.schema.json: %v", err)
	}
	return s
}

func tokenPart(t *testing.T, tok string, i int) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func validate(s *jsonschema.Schema, payload []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// TestClaimsMatchTheSchema validates real access tokens of a running idp
// against docs/claims.schema.json, and checks the schema refuses what idp
// must never issue (so the test can fail).
func TestClaimsMatchTheSchema(t *testing.T) {
	schema := claimsSchema(t)
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	srv := e.serve(nil)
	e.mustRun("", "roles", "create", "reports:read", "--tenant", "default")
	e.mustRun(userPassword+"\n", "users", "create", "--email", "Admin@Example.com", "--role", "admin", "--role", "reports:read", "--password-stdin")
	e.mustRun(userPassword+"\n", "users", "create", "--email", "plain@example.com", "--password-stdin")
	e.mustRun("", "tenants", "create", "acme")
	e.mustRun("", "roles", "create", "viewer", "--tenant", "acme")
	e.mustRun(userPassword+"\n", "users", "create", "--email", "acme@example.com", "--tenant", "acme", "--role", "viewer", "--password-stdin")
	var seeded struct{ Password string }
	if err := jsonUnmarshal(e.mustRun("", "users", "seed", "--email", "root@example.com", "--tenant", "seeded", "--output", "json"), &seeded); err != nil {
		t.Fatal(err)
	}

	var payloads [][]byte
	for _, l := range []struct{ email, password, tenant string }{
		{"admin@example.com", userPassword, ""},
		{"plain@example.com", userPassword, ""},
		{"acme@example.com", userPassword, "acme"},
		{"root@example.com", seeded.Password, "seeded"},
	} {
		var tok tokens
		resp := call(t, "POST", srv.URL+"/api/v1/auth/token", "", map[string]string{"email": l.email, "password": l.password, "tenant": l.tenant}, &tok)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login %s: %d %s", l.email, resp.StatusCode, tok.Error)
		}
		if h := string(tokenPart(t, tok.AccessToken, 0)); h != `{"alg":"EdDSA","typ":"at+jwt","kid":"`+tok.KID+`"}` {
			t.Errorf("header %s", h)
		}
		p := tokenPart(t, tok.AccessToken, 1)
		if err := validate(schema, p); err != nil {
			t.Errorf("token of %s does not match docs/claims.schema.json: %v\n%s", l.email, err, p)
		}
		payloads = append(payloads, p)
	}

	var claims map[string]any
	if err := json.Unmarshal(payloads[0], &claims); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(map[string]any){
		"unknown claim":        func(m map[string]any) { m["admin"] = true },
		"sub not a UUID":       func(m map[string]any) { m["sub"] = "admin" },
		"roles a string":       func(m map[string]any) { m["roles"] = "admin" },
		"exp fractional":       func(m map[string]any) { m["exp"] = 1.5 },
		"exp missing":          func(m map[string]any) { delete(m, "exp") },
		"roles during pwd_chg": func(m map[string]any) { m["pwd_change"] = true },
		"pwd_change false":     func(m map[string]any) { m["pwd_change"] = false },
		"scope with a quote":   func(m map[string]any) { m["client_id"], m["scope"] = "app", `openid "x"` },
		"issuer with a slash":  func(m map[string]any) { m["iss"] = "https://id.example.com/" },
	} {
		m := map[string]any{}
		for k, v := range claims {
			m[k] = v
		}
		edit(m)
		b, _ := json.Marshal(m)
		if err := validate(schema, b); err == nil {
			t.Errorf("schema accepts claims with %s: %s", name, b)
		}
	}
	ok := map[string]any{}
	for k, v := range claims {
		ok[k] = v
	}
	ok["client_id"], ok["scope"], ok["roles"], ok["pwd_change"] = "app", "openid roles", []string{}, true
	if b, _ := json.Marshal(ok); validate(schema, b) != nil {
		t.Errorf("schema refuses an OAuth client's token with a pending password change: %s", b)
	}
}

// TestVerifyPackageAgainstIdp: package verify accepts idp's real tokens,
// with the claims /me reports, and follows keys.jwks_max_age.
func TestVerifyPackageAgainstIdp(t *testing.T) {
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	srv := e.serve(map[string]string{"IDP_KEYS_JWKS_MAX_AGE": "7s"})
	e.createUser("ada@example.com")
	tok, code := login(t, srv.URL, "ada@example.com", userPassword)
	if code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}

	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=7" {
		t.Fatalf("JWKS Cache-Control %q, want max-age from keys.jwks_max_age", cc)
	}

	// The env's issuer is http://idp.test: send its requests to the server.
	target, _ := url.Parse(srv.URL)
	client := &http.Client{Transport: rewriteHost{to: target.Host}}
	v, err := verify.New(context.Background(), e.vars["IDP_ISSUER"], "idp", verify.WithHTTPClient(client))
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var me struct {
		Sub, TenantID string
		Roles         []string
	}
	call(t, "GET", srv.URL+"/api/v1/auth/me", tok.AccessToken, nil, &struct {
		Sub      *string   `json:"sub"`
		TenantID *string   `json:"tenant_id"`
		Roles    *[]string `json:"roles"`
	}{&me.Sub, &me.TenantID, &me.Roles})
	if c.Subject != me.Sub || c.TenantID != me.TenantID || !slices.Equal(c.Roles, me.Roles) || c.Email != "ada@example.com" {
		t.Fatalf("verify says %+v, /me says %+v", c, me)
	}
	if _, err := v.Verify(context.Background(), tok.RefreshToken); err == nil {
		t.Fatal("verify accepted a refresh token")
	}
}

type rewriteHost struct{ to string }

func (r rewriteHost) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Host = r.to
	return http.DefaultTransport.RoundTrip(req)
}
