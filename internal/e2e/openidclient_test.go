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
// clients registered for EdDSA and RS256 ID tokens (docs/integrate.md).
func TestOpenIDClientNode(t *testing.T) {
	suite := filepath.Join(testenv.RepoRoot(t), "tests", "oidc-node")
	requireNode(t, suite, "openid-client")
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	port := testenv.FreePort(t)
	idp := e.serveOn(port, false, nil, map[string]string{"IDP_ISSUER": fmt.Sprintf("http://127.0.0.1:%d", port)})
	const email, name = "node@example.com", "Node Person"
	e.mustRun(userPassword+"\n", "users", "create", "--email", email, "--display-name", name, "--password-stdin")

	clients := map[string]map[string]string{}
	for _, alg := range []string{"EdDSA", "RS256"} {
		// Nothing listens on these: the test stops at the redirect.
		app := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
		c := e.createClient(t, "clients", "create", "--name", "Node app "+alg, "--first-party",
			"--redirect-uri", app+"/cb", "--post-logout-redirect-uri", app+"/signed-out", "--id-token-alg", alg)
		clients[alg] = map[string]string{"clientId": c.ClientID, "clientSecret": c.ClientSecret, "alg": alg,
			"redirectUri": app + "/cb", "postLogoutUri": app + "/signed-out"}
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
