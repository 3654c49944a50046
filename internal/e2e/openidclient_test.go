package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

// TestOpenIDClientNode runs tests/oidc-node: openid-client v6 (npm)
// signing in through the hosted pages of a running `idp serve` with
// confidential clients registered for EdDSA and RS256 ID tokens and a
// public one (docs/integrate.md).
func TestOpenIDClientNode(t *testing.T) {
	suite := filepath.Join(testenv.RepoRoot(t), "tests", "oidc-node")
	requireNode(t, suite, "openid-client")
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	port := testenv.FreePort(t)
	idp := e.serveOn(port, false, nil, map[string]string{"IDP_ISSUER": fmt.Sprintf("http://127.0.0.1:%d", port)})
	const email, name = "node@example.com", "Node Person"
	e.mustRun(userPassword+"\n", "users", "create", "--email", email, "--display-name", name, "--password-stdin")

	// A confidential client per ID token algorithm, and a public one
	// (PKCE, token_endpoint_auth_method none) as a SPA or CLI would be.
	var clients []map[string]any
	for _, c := range []struct {
		name, alg string
		public    bool
	}{{"EdDSA", "EdDSA", false}, {"RS256", "RS256", false}, {"public", "EdDSA", true}} {
		// Nothing listens on these: the test stops at the redirect.
		app := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
		args := []string{"clients", "create", "--name", "Node app " + c.name, "--first-party",
			"--redirect-uri", app + "/cb", "--post-logout-redirect-uri", app + "/signed-out", "--id-token-alg", c.alg}
		if c.public {
			args = append(args, "--public")
		}
		reg := e.createClient(t, args...)
		clients = append(clients, map[string]any{"name": c.name, "clientId": reg.ClientID, "clientSecret": reg.ClientSecret,
			"public": c.public, "alg": c.alg, "redirectUri": app + "/cb", "postLogoutUri": app + "/signed-out"})
	}
	fixture, _ := json.Marshal(map[string]any{"issuer": idp.URL, "email": email, "name": name, "password": userPassword, "clients": clients})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", "openid-client.test.js")
	cmd.Dir = suite
	cmd.Env = append(os.Environ(), "IDP_OIDC_FIXTURE="+string(fixture))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("openid-client suite:\n%s", tail(out.String(), 20000))
	if err != nil {
		t.Fatalf("openid-client suite failed: %v\nserver log:\n%s", err, tail(idp.stderr.String(), 4000))
	}
}
