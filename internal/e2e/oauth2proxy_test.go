package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

// oauth2ProxyVersion is the oauth2-proxy the browser suite signs in to,
// built from its Go module (never added to idp's go.mod).
const oauth2ProxyVersion = "v7.15.6"

// TestBrowserOAuth2Proxy puts oauth2-proxy (provider oidc, PKCE S256,
// nonce checked, EdDSA ID tokens only) in front of a small upstream that
// echoes the user headers it gets, and has Chromium open the proxy, sign
// in on idp's hosted page and sign out through oauth2-proxy's sign-out and
// idp's end_session_endpoint (tests/browser/oauth2-proxy.test.js,
// docs/integrate.md). It runs after the other packages, with TestBrowser.
func TestBrowserOAuth2Proxy(t *testing.T) {
	suite := filepath.Join(testenv.RepoRoot(t), "tests", "browser")
	requireBrowserTools(t, suite)
	proxyBin := oauth2ProxyBinary(t)
	start := time.Now()

	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	idpPort := testenv.FreePort(t)
	e.vars["IDP_ISSUER"] = fmt.Sprintf("http://127.0.0.1:%d", idpPort) // the invite's link too
	idp := e.serveOn(idpPort, false, nil, map[string]string{})
	// One user gets an invite (completing its link verifies the address,
	// as oauth2-proxy requires); the other has a password set by the admin
	// and an unverified address.
	const invited, unverified = "invited@example.com", "unverified@example.com"
	e.mustRun("", "users", "create", "--email", invited, "--display-name", "Ivy Invited")
	e.createUser(unverified)

	proxyURL := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	client := e.createClient(t, "clients", "create", "--name", "Team Wiki", "--first-party",
		"--redirect-uri", proxyURL+"/oauth2/callback", "--post-logout-redirect-uri", proxyURL+"/")
	// The sign-out link of the upstream's page: oauth2-proxy clears its
	// cookie, then sends the browser to idp's end_session_endpoint.
	signOut := "/oauth2/sign_out?rd=" + url.QueryEscape(idp.URL+"/oauth2/logout?"+url.Values{
		"client_id": {client.ClientID}, "post_logout_redirect_uri": {proxyURL + "/"}}.Encode())
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><title>Team Wiki</title><main><h1>Team Wiki</h1>`+
			`<p>Signed in as <span id="email">%s</span> (user <span id="user">%s</span>).</p><a href="%s">Sign out</a></main></html>`,
			html.EscapeString(r.Header.Get("X-Forwarded-Email")), html.EscapeString(r.Header.Get("X-Forwarded-User")), html.EscapeString(signOut))
	}))
	defer upstream.Close()

	proxy := startOAuth2Proxy(t, proxyBin, proxyURL, idp.URL, upstream.URL, client)

	fixture, _ := json.Marshal(map[string]any{
		"url": idp.URL, "proxyUrl": proxyURL, "mailFile": e.vars["IDP_MAIL_FILE_PATH"], "password": userPassword,
		"invited": invited, "unverified": unverified, "clientName": "Team Wiki",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-concurrency=1", "--test-reporter=spec", "oauth2-proxy.test.js")
	cmd.Dir = suite
	cmd.Env = append(os.Environ(), "IDP_OAUTH2_PROXY_FIXTURE="+string(fixture),
		"IDP_SCREENSHOT_DIR="+filepath.Join(testenv.RepoRoot(t), "var", "screenshots"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("oauth2-proxy scenario, %s:\n%s", time.Since(start).Round(100*time.Millisecond), tail(out.String(), 20000))
	if err != nil {
		t.Fatalf("oauth2-proxy scenario failed: %v\noauth2-proxy log:\n%s\nidp log:\n%s", err, tail(proxy.String(), 6000), tail(idp.stderr.String(), 4000))
	}
	if want := "email in id_token (" + unverified + ") isn't verified"; !strings.Contains(proxy.String(), want) {
		t.Errorf("oauth2-proxy's log doesn't say %q:\n%s", want, tail(proxy.String(), 6000))
	}
}

// oauth2ProxyBinary builds oauth2-proxy once per machine and version into
// a directory beside Go's build cache (IDP_OAUTH2_PROXY names another
// binary). A build that can't be done fails under CI=true.
func oauth2ProxyBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("IDP_OAUTH2_PROXY"); bin != "" {
		return bin
	}
	cache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	dir := filepath.Join(filepath.Dir(strings.TrimSpace(string(cache))), "idp-tools", "oauth2-proxy-"+oauth2ProxyVersion)
	bin := filepath.Join(dir, "oauth2-proxy")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	started := time.Now()
	cmd := exec.Command("go", "install", "github.com/oauth2-proxy/oauth2-proxy/v7@"+oauth2ProxyVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	out, err := cmd.CombinedOutput()
	requireTool(t, err == nil, fmt.Sprintf("oauth2-proxy %s (go install failed: %v: %s)", oauth2ProxyVersion, err, tail(string(out), 2000)))
	t.Logf("built oauth2-proxy %s into %s in %s", oauth2ProxyVersion, dir, time.Since(started).Round(time.Second))
	return bin
}

// startOAuth2Proxy runs oauth2-proxy for client on proxyURL until the test
// ends and waits until it answers; its log is returned.
func startOAuth2Proxy(t *testing.T, bin, proxyURL, issuer, upstream string, client registeredClient) *syncWriter {
	t.Helper()
	secret := make([]byte, 32)
	rand.Read(secret)
	idpHost := strings.TrimPrefix(issuer, "http://")
	args := []string{
		"--http-address=" + strings.TrimPrefix(proxyURL, "http://"),
		"--provider=oidc", "--provider-display-name=idp", "--oidc-issuer-url=" + issuer,
		"--client-id=" + client.ClientID, "--client-secret=" + client.ClientSecret,
		"--redirect-url=" + proxyURL + "/oauth2/callback",
		"--scope=openid email profile",
		"--code-challenge-method=S256",
		// Check the nonce (oauth2-proxy skips it by default) and accept
		// EdDSA only: go-oidc inside oauth2-proxy verifies it.
		"--insecure-oidc-skip-nonce=false", "--oidc-enabled-signing-alg=EdDSA",
		"--email-domain=*",
		"--upstream=" + upstream,
		"--cookie-secret=" + base64.RawURLEncoding.EncodeToString(secret),
		"--skip-provider-button=true",
		// The sign-out's rd goes to idp's end_session_endpoint.
		"--whitelist-domain=" + idpHost,
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	log := &syncWriter{buf: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(proxyURL + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return log
			}
		}
		select {
		case <-done:
			t.Fatalf("oauth2-proxy exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauth2-proxy not ready after 20s:\n%s", log.String())
		}
	}
}
