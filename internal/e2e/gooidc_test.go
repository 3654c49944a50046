package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

// TestGoOIDCApp signs in to examples/go-oidc-app, a relying party on
// github.com/coreos/go-oidc/v3 and golang.org/x/oauth2 (docs/integrate.md),
// through idp's hosted sign-in page: discovery, the code flow with PKCE,
// state and nonce, the ID token verified by go-oidc against the JWKS
// (EdDSA, and RS256 for a client registered so, each verifier accepting
// that one algorithm only), UserInfo, a refresh through oauth2's token
// source, and RP-initiated logout back to the app.
func TestGoOIDCApp(t *testing.T) {
	app := buildExample(t, "go-oidc-app")
	e := newEnv(t)
	e.mustRun("", "migrate", "up")
	port := testenv.FreePort(t)
	idp := e.serveOn(port, false, nil, map[string]string{"IDP_ISSUER": fmt.Sprintf("http://127.0.0.1:%d", port)})
	e.mustRun(userPassword+"\n", "users", "create", "--email", "pat@example.com", "--display-name", "Pat Person", "--password-stdin")

	for _, alg := range []string{"EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			appURL := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
			client := e.createClient(t, "clients", "create", "--name", "Go app "+alg, "--first-party",
				"--redirect-uri", appURL+"/callback", "--post-logout-redirect-uri", appURL+"/signed-out",
				"--id-token-alg", alg)
			startApp(t, app, appURL, map[string]string{"IDP_ISSUER": idp.URL, "CLIENT_ID": client.ClientID,
				"CLIENT_SECRET": client.ClientSecret, "APP_URL": appURL, "ID_TOKEN_ALG": alg})
			goOIDCFlow(t, idp.URL, appURL, alg)
		})
	}
}

func goOIDCFlow(t *testing.T, idpURL, appURL, alg string) {
	b := newWebBrowser(t)
	if p := b.get(appURL + "/"); !strings.Contains(p.body, "Signed out.") {
		t.Fatalf("app home before sign-in: %d %s", p.status, p.body)
	}
	// /login sends the browser to idp's sign-in page; signing in there
	// lands back in the app, signed in.
	p := b.get(appURL + "/login")
	if !strings.HasPrefix(p.url.String(), idpURL+"/login?") {
		t.Fatalf("/login led to %s, want idp's sign-in page", p.url)
	}
	p = b.signIn(p, "pat@example.com", userPassword)
	if p.url.String() != appURL+"/" || !strings.Contains(p.body, "Signed in as pat@example.com") {
		t.Fatalf("after sign-in: %d %s\n%s", p.status, p.url, p.body)
	}
	me := appSession(t, b, appURL)
	if me.Sub == "" || me.Email != "pat@example.com" || me.Name != "Pat Person" || me.EmailVerified || me.SID == "" ||
		me.AuthTime == 0 || me.IDTokenAlg != alg || me.UserInfoEmail != "pat@example.com" {
		t.Fatalf("the app's session: %+v", me)
	}

	// A refresh: new tokens, a rotated refresh token, a new ID token about
	// the same sign-in (the app checks sub, sid and auth_time).
	time.Sleep(1100 * time.Millisecond) // a new iat
	if p := b.post(appURL+"/refresh", nil); p.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", p.status, p.body)
	}
	after := appSession(t, b, appURL)
	if after.Refreshes != 1 || !after.RefreshTokenRotated || after.IDTokenIAT <= me.IDTokenIAT || after.SID != me.SID ||
		after.Sub != me.Sub || after.IDTokenAlg != alg {
		t.Fatalf("after refresh: %+v (before %+v)", after, me)
	}

	// A callback the app didn't start (another browser, or a forged
	// state) is refused.
	other := newWebBrowser(t)
	if p := other.get(appURL + "/callback?" + url.Values{"code": {"x"}, "state": {"forged"}}.Encode()); p.status != http.StatusBadRequest {
		t.Errorf("forged callback: %d %s", p.status, p.body)
	}

	// Sign-out: through idp's end_session_endpoint with id_token_hint,
	// back to the app's post-logout page with its state; idp's browser
	// session is over, so the next sign-in asks for the password again.
	p = b.post(appURL+"/logout", nil)
	if p.status != http.StatusOK || p.url.Path != "/signed-out" || !strings.Contains(p.body, "Signed out.") {
		t.Fatalf("sign-out: %d %s\n%s", p.status, p.url, p.body)
	}
	if p := b.get(appURL + "/me"); p.status != http.StatusUnauthorized {
		t.Errorf("the app's /me after sign-out: %d", p.status)
	}
	if p := b.get(idpURL + "/account"); p.url.Path != "/login" {
		t.Errorf("idp's /account after sign-out: %d %s", p.status, p.url)
	}
	if p := b.get(appURL + "/login"); p.url.Path != "/login" || !strings.HasPrefix(p.url.String(), idpURL) {
		t.Errorf("signing in again: %s, want idp's sign-in page", p.url)
	}
}

// appSessionView is the app's /me.
type appSessionView struct {
	Sub                 string `json:"sub"`
	Email               string `json:"email"`
	EmailVerified       bool   `json:"email_verified"`
	Name                string `json:"name"`
	SID                 string `json:"sid"`
	AuthTime            int64  `json:"auth_time"`
	IDTokenAlg          string `json:"id_token_alg"`
	IDTokenIAT          int64  `json:"id_token_iat"`
	UserInfoEmail       string `json:"userinfo_email"`
	Refreshes           int    `json:"refreshes"`
	RefreshTokenRotated bool   `json:"refresh_token_rotated"`
}

func appSession(t *testing.T, b *webBrowser, appURL string) appSessionView {
	t.Helper()
	p := b.get(appURL + "/me")
	var v appSessionView
	if p.status != http.StatusOK || json.Unmarshal([]byte(p.body), &v) != nil {
		t.Fatalf("app /me: %d %s", p.status, p.body)
	}
	return v
}

// registeredClient is `idp clients create --output json`.
type registeredClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	IDTokenAlg   string `json:"id_token_alg"`
}

func (e *env) createClient(t *testing.T, args ...string) registeredClient {
	t.Helper()
	var c registeredClient
	out := e.mustRun("", append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ClientID == "" {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return c
}

var exampleBuilds sync.Map // example name -> *exampleBuild

type exampleBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildExample builds examples/NAME once per test binary, next to idp.
func buildExample(t *testing.T, name string) string {
	t.Helper()
	v, _ := exampleBuilds.LoadOrStore(name, &exampleBuild{})
	b := v.(*exampleBuild)
	b.once.Do(func() {
		b.path = filepath.Join(filepath.Dir(binary), name)
		cmd := exec.Command("go", "build", "-o", b.path, "github.com/idp-dev/idp/examples/"+name)
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("build examples/%s: %v\n%s", name, b.err, b.out)
	}
	return b.path
}

// startApp runs an example app until the test ends and waits for its
// "listening on" line.
func startApp(t *testing.T, bin, appURL string, vars map[string]string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr := &syncWriter{buf: &bytes.Buffer{}}
	cmd.Stderr = stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(bin), tail(stderr.String(), 4000))
		}
	})
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "listening on ") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("%s exited: %s", filepath.Base(bin), stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s not listening on %s after 15s: %s", filepath.Base(bin), appURL, stderr.String())
	}
}
