package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
	"github.com/idp-dev/idp/internal/web"
)

// TestBrowser drives the hosted pages in Debian's Chromium (tests/browser:
// playwright-core and axe-core, node's test runner): every page state of
// the preview, then the real flows against `idp serve` on plain http (the
// `make dev` case) and on https, then the admin pages. See
// tests/browser/README.md.
func TestBrowser(t *testing.T) {
	suite := filepath.Join(testenv.RepoRoot(t), "tests", "browser")
	requireBrowserTools(t, suite)
	start := time.Now()

	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	var seed struct{ Email, Password string }
	if err := json.Unmarshal([]byte(e.mustRun("", "users", "seed", "--email", "admin@example.com", "--output", "json")), &seed); err != nil {
		t.Fatal(err)
	}
	// The admin pages' scenario: its own tenant and seeded admin, with a
	// member role, beside the default tenant's users it must not see.
	var tenantAdmin struct{ Email, Password, Tenant string }
	if err := json.Unmarshal([]byte(e.mustRun("", "users", "seed", "--email", "admin@acme.example", "--tenant", "acme", "--output", "json")), &tenantAdmin); err != nil {
		t.Fatal(err)
	}
	e.mustRun("", "roles", "create", "member", "--tenant", "acme", "--description", "Signs in to the apps")
	// One user per scenario, so that one's lockout or sessions can't
	// change another's outcome.
	users := map[string]string{}
	for _, name := range []string{"signin", "remember", "wrong", "reset", "revoke", "signout", "csrf", "returnto", "victim", "https", "pages", "consent"} {
		users[name] = name + "@example.com"
		e.createUser(users[name])
	}

	// Low lockout limits and trusted X-Forwarded-For, for the hammering
	// scenario: per-source locks after 3 failures, the account as a whole
	// after 8, long enough to outlast the test.
	lockout := map[string]string{
		"IDP_HTTP_TRUSTED_PROXIES":         "127.0.0.1/32",
		"IDP_LOCKOUT_MAX_ATTEMPTS":         "3",
		"IDP_LOCKOUT_ACCOUNT_MAX_ATTEMPTS": "8",
		"IDP_LOCKOUT_DURATION":             "10m",
		"IDP_LOCKOUT_MAX_DURATION":         "10m",
		"IDP_MAIL_DRIVER":                  "file",
	}
	plainPort := testenv.FreePort(t)
	plain := e.serveOn(plainPort, false, nil, with(lockout, "IDP_ISSUER", fmt.Sprintf("http://127.0.0.1:%d", plainPort)))

	ca, certFile, keyFile := testCertificate(t)
	tlsPort := testenv.FreePort(t)
	secure := e.serveOn(tlsPort, true, ca, with(with(with(lockout,
		"IDP_ISSUER", fmt.Sprintf("https://127.0.0.1:%d", tlsPort)),
		"IDP_HTTP_TLS_CERT_FILE", certFile),
		"IDP_HTTP_TLS_KEY_FILE", keyFile))

	// A third-party app, for the consent page: the browser test listens on
	// its redirect URI's port.
	var client struct {
		ClientID string `json:"client_id"`
	}
	appRedirect := fmt.Sprintf("http://127.0.0.1:%d/callback", testenv.FreePort(t))
	if err := json.Unmarshal([]byte(e.mustRun("", "clients", "create", "--name", "Team Wiki", "--public",
		"--redirect-uri", appRedirect, "--output", "json")), &client); err != nil || client.ClientID == "" {
		t.Fatalf("clients create: %v", err)
	}

	renderer, err := web.NewRenderer(web.RenderOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	preview := httptest.NewServer(renderer.Preview())
	defer preview.Close()

	fixture, _ := json.Marshal(map[string]any{
		"url":         plain.URL,
		"httpsUrl":    secure.URL,
		"mailFile":    e.vars["IDP_MAIL_FILE_PATH"],
		"password":    userPassword,
		"users":       users,
		"admin":       map[string]string{"email": seed.Email, "password": seed.Password},
		"tenantAdmin": map[string]string{"email": tenantAdmin.Email, "password": tenantAdmin.Password, "tenant": tenantAdmin.Tenant},
		"lockout":     map[string]int{"maxAttempts": 3, "accountMaxAttempts": 8},
		"app":         map[string]string{"clientId": client.ClientID, "redirectUri": appRedirect},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"--test", "--test-concurrency=1", "--test-reporter=spec"}
	// IDP_BROWSER_TESTS picks scenarios by name (node --test-name-pattern),
	// for running one while working on it.
	if p := os.Getenv("IDP_BROWSER_TESTS"); p != "" {
		args = append(args, "--test-name-pattern="+p)
	}
	cmd := exec.CommandContext(ctx, "node", append(args, "gallery.test.js", "flows.test.js", "admin.test.js")...)
	cmd.Dir = suite
	cmd.Env = append(os.Environ(),
		"IDP_PREVIEW_URL="+preview.URL,
		"IDP_BROWSER_FIXTURE="+string(fixture),
		"IDP_SCREENSHOT_DIR="+filepath.Join(testenv.RepoRoot(t), "var", "screenshots"),
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("browser suite, %s:\n%s", time.Since(start).Round(100*time.Millisecond), tail(out.String(), 30000))
	if err != nil {
		t.Fatalf("browser suite failed: %v\nserver log (http):\n%s\nserver log (https):\n%s", err, tail(plain.stderr.String(), 4000), tail(secure.stderr.String(), 4000))
	}
}

// requireBrowserTools fails (under CI=true) or skips when node, Chromium or
// the suite's packages are missing; `make test` installs all three.
func requireBrowserTools(t *testing.T, suite string) {
	t.Helper()
	requireNode(t, suite, "playwright-core", "axe-core")
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	_, err := os.Stat(chromium)
	requireTool(t, err == nil, "Chromium at "+chromium+" (apt-get install -y chromium)")
}

// requireNode fails (under CI=true) or skips without Node.js 20 or the npm
// packages of the suite in dir (scripts/browser-deps.sh installs both).
func requireNode(t *testing.T, dir string, packages ...string) {
	t.Helper()
	v, err := exec.Command("node", "--version").Output()
	major := 0
	if m := regexp.MustCompile(`^v(\d+)\.`).FindSubmatch(v); err == nil && m != nil {
		major, _ = strconv.Atoi(string(m[1]))
	}
	requireTool(t, major >= 20, "Node.js 20 or newer (apt-get install -y nodejs)")
	rel, _ := filepath.Rel(testenv.RepoRoot(t), dir)
	for _, pkg := range packages {
		_, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json"))
		requireTool(t, err == nil, rel+"/node_modules/"+pkg+" (npm ci in "+rel+")")
	}
}

// requireTool fails the test under CI=true, where everything must be
// there (make test installs it), and skips it elsewhere.
func requireTool(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (make test installs it)", what)
	}
	t.Skipf("%s not available; run the tests with `make test`", what)
}

// serveOn runs `idp serve` on 127.0.0.1:port, over TLS when secure (its
// readiness checked with a client trusting ca).
func (e *env) serveOn(port int, secure bool, ca *x509.CertPool, extra map[string]string) *server {
	e.t.Helper()
	extra["IDP_HTTP_ADDR"] = fmt.Sprintf("127.0.0.1:%d", port)
	scheme, client := "http", http.DefaultClient
	if secure {
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca}}}
	}
	cmd := exec.Command(binary, "serve")
	cmd.Env = e.environ(extra)
	cmd.Dir = e.dir
	s := &server{t: e.t, cmd: cmd, URL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, port), stderr: &syncWriter{buf: &bytes.Buffer{}}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			s.code = ee.ExitCode()
		}
		close(s.done)
	}()
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := client.Get(s.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.done:
			e.t.Fatalf("idp serve exited with %d: %s", s.code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("idp serve (%s) not ready after 15s: %s", scheme, s.stderr.String())
		}
	}
}

// testCertificate makes a throwaway CA and a certificate for 127.0.0.1
// signed by it, and writes the server's PEM files.
func testCertificate(t *testing.T) (*x509.CertPool, string, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp browser test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, certFile, keyFile
}

func with(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
