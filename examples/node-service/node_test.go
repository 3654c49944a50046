//go:build examples

// Package nodeservice holds the Node.js example (server.mjs) and its test,
// which runs it with node against a real idp.
package nodeservice

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/idp-dev/idp/examples/harness"
)

func TestNodeService(t *testing.T) {
	if _, err := os.Stat("node_modules/jose"); err != nil {
		t.Fatal("node_modules/jose is missing: run `npm ci` in examples/node-service (make test-examples does)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed (apt-get install nodejs npm)")
	}
	idp := harness.Start(t)
	port := harness.FreePort(t)
	cmd := exec.Command(node, "server.mjs")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"IDP_ISSUER=" + idp.URL,
		"IDP_AUDIENCE=" + harness.Audience,
		"PORT=" + strconv.Itoa(port),
		"JWKS_MAX_AGE=" + strconv.Itoa(int(harness.JWKSMaxAge.Seconds())),
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	harness.StartService(t, cmd, base)
	harness.Check(t, idp, base)
}
