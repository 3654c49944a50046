//go:build examples

// Package fastapi holds the FastAPI example (app.py) and its test, which
// runs it with Debian's /usr/bin/python3 against a real idp.
package fastapi

import (
	"fmt"
	"os/exec"
	"strconv"
	"testing"

	"github.com/idp-dev/idp/examples/harness"
)

// python is Debian's interpreter, which has python3-fastapi, -uvicorn,
// -jwt and -httpx (make test-examples installs them when missing).
const python = "/usr/bin/python3"

func TestFastAPI(t *testing.T) {
	probe := exec.Command(python, "-c", "import fastapi, uvicorn, jwt, httpx, cryptography")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Fatalf("%s lacks the example's packages (apt-get install python3-fastapi python3-uvicorn python3-jwt python3-httpx): %v\n%s", python, err, out)
	}
	idp := harness.Start(t)
	port := harness.FreePort(t)
	cmd := exec.Command(python, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--log-level", "warning")
	cmd.Env = []string{
		"IDP_ISSUER=" + idp.URL,
		"IDP_AUDIENCE=" + harness.Audience,
		"JWKS_MAX_AGE=" + strconv.Itoa(int(harness.JWKSMaxAge.Seconds())),
		"PYTHONDONTWRITEBYTECODE=1",
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	harness.StartService(t, cmd, base)
	harness.Check(t, idp, base)
}
