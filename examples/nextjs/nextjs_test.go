//go:build examples

// Package nextjs holds the Next.js example, a backend-for-frontend that
// signs users in through idp, and its test: idp with 5-second access
// tokens, the Go example as the API /api-call calls, the app built with
// `next build` and served by `next start`, and tests/*.test.mjs driving
// Debian's Chromium through it.
package nextjs

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idp-dev/idp/examples/harness"
	"github.com/idp-dev/idp/internal/testenv"
)

const (
	userEmail = "pat@example.com"
	// accessTTL is tokens.access_ttl: short, so that 15 s of browsing
	// needs several refreshes.
	accessTTL = 5 * time.Second
)

func TestNextJS(t *testing.T) {
	chromium := requireTools(t)
	idp := harness.StartWith(t, map[string]string{"IDP_TOKENS_ACCESS_TTL": accessTTL.String()})
	idp.CreateUser(userEmail, "member")
	appURL := fmt.Sprintf("http://127.0.0.1:%d", harness.FreePort(t))
	clientID, secret := registerClient(t, idp, appURL)
	apiURL := startGoService(t, idp)

	start := time.Now()
	run(t, "npm", "run", "build")
	t.Logf("next build: %v", time.Since(start).Round(100*time.Millisecond))
	appLog := startApp(t, appURL, map[string]string{
		"IDP_ISSUER":        idp.URL,
		"IDP_CLIENT_ID":     clientID,
		"IDP_CLIENT_SECRET": secret,
		"APP_URL":           appURL,
		"SESSION_SECRET":    base64.StdEncoding.EncodeToString(random(32)),
		"API_URL":           apiURL,
	})

	// The browser test's way to have idp revoke the user's sessions, as an
	// operator would.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		idp.Run("tokens", "revoke", "--email", userEmail)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)

	cmd := exec.Command("node", "--test", "--test-concurrency=1", "--test-reporter=spec", "tests/")
	cmd.Env = append(baseEnv(),
		"APP_URL="+appURL, "IDP_URL="+idp.URL, "USER_EMAIL="+userEmail, "USER_PASSWORD="+harness.Password,
		"ACCESS_TTL_SECONDS="+fmt.Sprint(int(accessTTL.Seconds())), "CHROMIUM="+chromium, "REVOKE_HOOK="+hook.URL)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser tests (tests/): %v", err)
	}

	checkAudit(t, idp, clientID)
	if n := strings.Count(appLog(), "refreshed the session of"); n < 2 {
		t.Errorf("the app logged %d refreshes, want at least 2", n)
	}
	if strings.Contains(appLog(), "eyJ") {
		t.Error("the app's log holds something like a JWT")
	}
}

// requireTools fails (with CI=true) or skips when what the test needs is
// missing; make test-examples installs all of it. It returns Chromium's
// path.
func requireTools(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("%s is missing: apt-get install -y chromium (make test-examples does)", chromium)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node is not installed (make test-examples installs it)")
	}
	for _, pkg := range []string{"next", "openid-client", "playwright-core"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg)); err != nil {
			missing("node_modules/%s is missing: run `npm ci` in examples/nextjs (make test-examples does)", pkg)
		}
	}
	return chromium
}

// registerClient registers the app as a confidential first-party client,
// as docs/integrate.md tells an operator to.
func registerClient(t *testing.T, idp *harness.IDP, appURL string) (id, secret string) {
	t.Helper()
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	out := idp.Run("clients", "create", "--name", "Next.js example",
		"--redirect-uri", appURL+"/auth/callback", "--post-logout-redirect-uri", appURL+"/",
		"--first-party", "--output", "json")
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ClientID == "" || c.ClientSecret == "" {
		t.Fatalf("clients create: %v: %s", err, out)
	}
	return c.ClientID, c.ClientSecret
}

// startGoService builds and runs examples/go-service, the API of /api-call.
func startGoService(t *testing.T, idp *harness.IDP) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "go-service")
	build := exec.Command("go", "build", "-o", bin, "./examples/go-service")
	build.Dir = testenv.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/go-service: %v\n%s", err, out)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	cmd := exec.Command(bin)
	cmd.Env = append(baseEnv(), "IDP_ISSUER="+idp.URL, "IDP_AUDIENCE="+harness.Audience, "ADDR="+addr)
	harness.StartService(t, cmd, "http://"+addr)
	return "http://" + addr
}

// startApp runs `next start` on appURL's port until the test ends and
// returns a reader of its log.
func startApp(t *testing.T, appURL string, env map[string]string) func() string {
	t.Helper()
	port := appURL[strings.LastIndex(appURL, ":")+1:]
	cmd := exec.Command("node_modules/.bin/next", "start", "--hostname", "127.0.0.1", "--port", port)
	cmd.Env = baseEnv()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return harness.StartProcess(t, cmd, "next start", func() bool {
		resp, err := http.Get(appURL + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// checkAudit reads idp's side of the browser tests: the refreshes the app
// made, the two tabs' race settled by the grace window, no refresh token
// ever reused after it (which would have revoked the session), one refused
// refresh (after the revocation) and the sign-out.
func checkAudit(t *testing.T, idp *harness.IDP, clientID string) {
	t.Helper()
	count := map[string]int{}
	for _, e := range idp.Audit(userEmail) {
		if e.ClientID == clientID || e.ClientID == "" {
			count[e.Event]++
		}
	}
	t.Logf("idp audit of %s: %v", userEmail, count)
	if count["refresh"] < 2 {
		t.Errorf("%d refreshes in idp's audit, want at least 2", count["refresh"])
	}
	if count["refresh_replay"] < 1 {
		t.Error("no refresh_replay in idp's audit: the two tabs didn't refresh at once")
	}
	if n := count["refresh_reuse_detected"]; n != 0 {
		t.Errorf("%d refresh token reuses detected: the app sent a spent refresh token after the grace window", n)
	}
	if n := count["refresh_failure"]; n != 1 {
		t.Errorf("%d failed refreshes, want 1: the one after `idp tokens revoke`", n)
	}
	if count["logout"] < 1 {
		t.Error("no logout in idp's audit")
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = baseEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// baseEnv is what every child gets: no IDP_* or other settings of the
// test's own environment, and Next.js's telemetry off.
func baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NEXT_TELEMETRY_DISABLED=1"}
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
