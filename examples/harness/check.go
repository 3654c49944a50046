package harness

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/core/token"
	"github.com/idp-dev/idp/internal/testenv"
)

// Every example serves this API over idp's tokens:
//
//	GET /api/me     any valid token: 200 {"sub","tenant_id","roles",...}
//	GET /api/admin  role admin as well, else 403 {"error":"forbidden"}
//
// and answers a refused token with 401, WWW-Authenticate:
// Bearer error="invalid_token" and {"error":"invalid_token",...}.
const (
	mePath    = "/api/me"
	adminPath = "/api/admin"
)

// StartService starts an example's server process, which must listen on
// the port given in its environment, and waits until it answers. It is
// stopped when the test ends.
func StartService(t *testing.T, cmd *exec.Cmd, base string) {
	t.Helper()
	StartProcess(t, cmd, base, func() bool { return answers401(base) })
}

// StartProcess starts cmd with its output collected and waits (30 s at
// most) until ready holds. When the test ends it is killed, with its whole
// process group if cmd asked for one (SysProcAttr.Setpgid), and its output
// is logged if the test failed. The function returned reads the output so
// far.
func StartProcess(t *testing.T, cmd *exec.Cmd, what string, ready func() bool) func() string {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", cmd.Path, out.String())
		}
	})
	WaitFor(t, 30*time.Second, what, func() bool {
		select {
		case <-done:
			t.Fatalf("%s exited: %s", cmd.Path, out.String())
		default:
		}
		return ready()
	})
	return out.String
}

// WaitForService waits until the service at base answers /api/me without a
// token with 401.
func WaitForService(t *testing.T, base string) {
	t.Helper()
	WaitFor(t, 30*time.Second, base, func() bool { return answers401(base) })
}

func answers401(base string) bool {
	resp, err := http.Get(base + mePath)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusUnauthorized
}

// FreePort is a loopback port for an example's server.
func FreePort(t *testing.T) int { return testenv.FreePort(t) }

// Check runs every check of the trust contract against the service at base
// (docs/integrate.md): claims of valid tokens, 401 for each kind of bad
// token, 403 without the role, no failed request across `idp keys rotate`,
// and tokens of an emergency-rotated key refused within the bound.
func Check(t *testing.T, p *IDP, base string) {
	c := &checker{t: t, p: p, base: base, client: &http.Client{Timeout: 10 * time.Second}}
	p.CreateUser("alice@example.com", "admin")
	p.CreateUser("bob@example.com", "viewer")
	t.Run("valid token", c.validTokens)
	t.Run("role", c.roles)
	t.Run("refused tokens", c.refused)
	t.Run("staged rotation", c.stagedRotation)
	t.Run("emergency rotation", c.emergencyRotation)
}

type checker struct {
	t      *testing.T
	p      *IDP
	base   string
	client *http.Client
}

type answer struct {
	status  int
	wwwAuth string
	body    map[string]any
}

func (c *checker) get(path, bearer string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return answer{}, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, wwwAuth: resp.Header.Get("WWW-Authenticate")}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		return a, fmt.Errorf("GET %s: %d with a body that is not a JSON object: %q", path, resp.StatusCode, raw)
	}
	return a, nil
}

func (c *checker) mustGet(t *testing.T, path, bearer string) answer {
	t.Helper()
	a, err := c.get(path, bearer)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (c *checker) validTokens(t *testing.T) {
	for _, email := range []string{"alice@example.com", "bob@example.com"} {
		tok := c.p.Login(email)
		want := c.p.Me(tok.AccessToken)
		a := c.mustGet(t, mePath, tok.AccessToken)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d %v", email, a.status, a.body)
		}
		var roles []string
		for _, r := range asSlice(a.body["roles"]) {
			s, _ := r.(string)
			roles = append(roles, s)
		}
		if a.body["sub"] != want.Sub || a.body["tenant_id"] != want.TenantID || !slices.Equal(roles, want.Roles) || len(roles) == 0 {
			t.Fatalf("%s: service says %v, idp says %+v", email, a.body, want)
		}
	}
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func (c *checker) roles(t *testing.T) {
	if a := c.mustGet(t, adminPath, c.p.Login("alice@example.com").AccessToken); a.status != http.StatusOK {
		t.Fatalf("admin: %d %v", a.status, a.body)
	}
	a := c.mustGet(t, adminPath, c.p.Login("bob@example.com").AccessToken)
	if a.status != http.StatusForbidden || a.body["error"] != "forbidden" {
		t.Fatalf("without the role: %d %v, want 403 forbidden", a.status, a.body)
	}
}

func (c *checker) refused(t *testing.T) {
	for name, tok := range c.forgeries(t) {
		t.Run(name, func(t *testing.T) {
			a := c.mustGet(t, mePath, tok)
			if a.status != http.StatusUnauthorized || a.body["error"] != "invalid_token" || a.wwwAuth != `Bearer error="invalid_token"` {
				t.Fatalf("got %d %v, WWW-Authenticate %q; want 401 invalid_token", a.status, a.body, a.wwwAuth)
			}
		})
	}
}

// forgeries are tokens the service must refuse: some signed with idp's
// real key (expired, other audience...), some forged without it.
func (c *checker) forgeries(t *testing.T) map[string]string {
	t.Helper()
	tok := c.p.Login("bob@example.com")
	key := c.p.SigningKey()
	if key.ID != tok.KID {
		t.Fatalf("active kid %s, login kid %s", key.ID, tok.KID)
	}
	parts := strings.Split(tok.AccessToken, ".")
	var claims map[string]any
	if err := json.Unmarshal(unb64(t, parts[1]), &claims); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	hdr := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": key.ID}
	real := func(h map[string]any, edits ...any) string { return sign(key.Private, h, with(claims, edits...)) }

	tampered := with(claims, "roles", []string{"viewer", "admin"})
	_, attacker, _ := ed25519.GenerateKey(nil)
	pubX := b64(key.Public)
	hs := func(secret []byte) string {
		in := enc(with(hdr, "alg", "HS256")) + "." + enc(claims)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(in))
		return in + "." + b64(mac.Sum(nil))
	}
	return map[string]string{
		"no token":                        "",
		"expired":                         real(hdr, "iat", now.Add(-20*time.Minute).Unix(), "nbf", now.Add(-20*time.Minute).Unix(), "exp", now.Add(-5*time.Minute).Unix()),
		"wrong aud":                       real(hdr, "aud", "another-service"),
		"wrong iss":                       real(hdr, "iss", "https://evil.example"),
		"not yet valid":                   real(hdr, "nbf", now.Add(5*time.Minute).Unix()),
		"typ JWT":                         real(with(hdr, "typ", "JWT")),
		"tampered claim":                  parts[0] + "." + enc(tampered) + "." + parts[2],
		"foreign key under idp's kid":     sign(attacker, hdr, tampered),
		"alg none":                        enc(with(hdr, "alg", "none")) + "." + enc(tampered) + ".",
		"HS256 keyed with the public key": hs(key.Public),
		"HS256 keyed with the JWK x":      hs([]byte(pubX)),
		"unknown kid":                     sign(attacker, with(hdr, "kid", token.KeyID(attacker.Public().(ed25519.PublicKey))), claims),
		"refresh token":                   tok.RefreshToken,
		"garbage":                         "not-a-token",
	}
}

// stagedRotation runs a steady request loop across `idp keys rotate`:
// tokens of the old key and of the new one must all be accepted.
func (c *checker) stagedRotation(t *testing.T) {
	old := c.p.Login("alice@example.com")
	var current atomic.Pointer[Tokens]
	current.Store(&old)
	var (
		mu       sync.Mutex
		failures []string
		requests int
		newKID   atomic.Pointer[string]
		onNewKey atomic.Int64
	)
	fail := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, s)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // fresh tokens, as clients refresh them
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			tok, err := c.p.TryLogin("alice@example.com")
			if err != nil {
				fail(err.Error())
				continue
			}
			current.Store(&tok)
		}
	})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				cur := current.Load()
				for _, tok := range []*Tokens{cur, &old} {
					a, err := c.get(mePath, tok.AccessToken)
					mu.Lock()
					requests++
					mu.Unlock()
					if err != nil || a.status != http.StatusOK {
						fail(fmt.Sprintf("kid %s: %d %v %v", tok.KID, a.status, a.body, err))
					} else if k := newKID.Load(); k != nil && tok.KID == *k {
						onNewKey.Add(1)
					}
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	rot := c.p.Rotate(false)
	if rot.Retired != old.KID {
		t.Errorf("rotation retired %s, the loop's old token has kid %s", rot.Retired, old.KID)
	}
	newKID.Store(&rot.Active)
	rotated := time.Now()
	// Run on past the JWKS max-age, so every cache has also seen the new
	// next key before the emergency check.
	WaitFor(t, 20*time.Second, "requests with the new key", func() bool {
		return onNewKey.Load() >= 20 && time.Since(rotated) > JWKSMaxAge+PollInterval+time.Second
	})
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed across the rotation, first: %s", len(failures), requests, failures[0])
	}
	t.Logf("staged rotation: %d requests, none failed; %d with tokens of the new key %s", requests, onNewKey.Load(), rot.Active)
}

// emergencyRotation: after `idp keys rotate --emergency` the old key's
// tokens are refused within the JWKS max-age plus idp's reload, while new
// tokens are accepted throughout.
func (c *checker) emergencyRotation(t *testing.T) {
	old := c.p.Login("alice@example.com")
	if a := c.mustGet(t, mePath, old.AccessToken); a.status != http.StatusOK {
		t.Fatalf("before the rotation: %d %v", a.status, a.body)
	}
	rot := c.p.Rotate(true)
	start := time.Now()
	bound := JWKSMaxAge + PollInterval + 2*time.Second // slack for the loaded CI machine
	var fresh Tokens
	WaitFor(t, 5*time.Second, "a token of the promoted key", func() bool {
		fresh = c.p.Login("alice@example.com")
		return fresh.KID == rot.Active
	})
	var refusedAfter time.Duration
	for refusedAfter == 0 {
		if a := c.mustGet(t, mePath, fresh.AccessToken); a.status != http.StatusOK {
			t.Fatalf("token of the promoted key after %v: %d %v", time.Since(start), a.status, a.body)
		}
		a := c.mustGet(t, mePath, old.AccessToken)
		switch {
		case a.status == http.StatusUnauthorized:
			refusedAfter = time.Since(start)
		case a.status != http.StatusOK:
			t.Fatalf("old token: %d %v", a.status, a.body)
		case time.Since(start) > bound:
			t.Fatalf("a token of the emergency-rotated key is still accepted after %v (bound %v)", time.Since(start), bound)
		default:
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("emergency rotation: the old key's token was refused %v after `idp keys rotate --emergency` (bound %v)",
		refusedAfter.Round(10*time.Millisecond), bound)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func enc(v any) string {
	b, _ := json.Marshal(v)
	return b64(b)
}

func sign(priv ed25519.PrivateKey, hdr, claims map[string]any) string {
	in := enc(hdr) + "." + enc(claims)
	return in + "." + b64(ed25519.Sign(priv, []byte(in)))
}

// with returns a copy of m with the given edits.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}
