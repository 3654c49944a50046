// Package e2e runs the built idp binary the way an operator does: migrate,
// seed, serve (one or several instances on one PostgreSQL and Redis), and
// talks to it over HTTP.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "idp-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "idp")
	build := exec.Command("go", "build", "-o", binary, "github.com/idp-dev/idp/cmd/idp")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build idp:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one deployment: a database, a Redis and the settings every
// process of it shares.
type env struct {
	t     *testing.T
	vars  map[string]string
	redis *testenv.Redis
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pepper := make([]byte, 36)
	key := make([]byte, 32)
	rand.Read(pepper)
	rand.Read(key)
	r := testenv.StartRedis(t)
	dir := t.TempDir()
	return &env{t: t, redis: r, dir: dir, vars: map[string]string{
		"IDP_DATABASE_URL":            testenv.Postgres(t),
		"IDP_REDIS_URL":               r.URL(),
		"IDP_SECURITY_PEPPER":         base64.RawURLEncoding.EncodeToString(pepper),
		"IDP_KEYS_ENCRYPTION_KEY":     base64.StdEncoding.EncodeToString(key),
		"IDP_SECURITY_BCRYPT_COST":    "4",
		"IDP_MAIL_FILE_PATH":          filepath.Join(dir, "mail.jsonl"),
		"IDP_KEYS_POLL_INTERVAL":      "500ms",
		"IDP_HTTP_SHUTDOWN_GRACE":     "10s",
		"IDP_RATELIMIT_IP_PER_MINUTE": "0",
		"IDP_ISSUER":                  "http://idp.test",
	}}
}

func (e *env) environ(extra map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir}
	for k, v := range e.vars {
		if _, over := extra[k]; !over {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

// run runs one idp command to completion.
func (e *env) run(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	return e.runWith(nil, stdin, args...)
}

func (e *env) runWith(extra map[string]string, stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = e.environ(extra)
	cmd.Dir = e.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run idp %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (e *env) mustRun(stdin string, args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(stdin, args...)
	if code != 0 {
		e.t.Fatalf("idp %v: exit %d: %s", args, code, errs)
	}
	return out
}

// server is one running `idp serve`.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	URL    string
	stderr *syncWriter
	done   chan struct{}
	code   int
}

func (e *env) serve(extra map[string]string) *server {
	e.t.Helper()
	port := testenv.FreePort(e.t)
	if extra == nil {
		extra = map[string]string{}
	}
	extra["IDP_HTTP_ADDR"] = fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(binary, "serve")
	cmd.Env = e.environ(extra)
	cmd.Dir = e.dir
	s := &server{t: e.t, cmd: cmd, URL: fmt.Sprintf("http://127.0.0.1:%d", port), stderr: &syncWriter{buf: &bytes.Buffer{}}, done: make(chan struct{})}
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
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
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
			e.t.Fatalf("idp serve not ready after 15s: %s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) signal(sig os.Signal) { _ = s.cmd.Process.Signal(sig) }

func (s *server) wait(d time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(d):
		s.t.Fatalf("idp serve still running after %v", d)
		return -1
	}
}

// syncWriter lets the test read a server's stderr while it writes.
type syncWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// call makes one JSON request and decodes the answer into out (if not nil).
func call(t *testing.T, method, url, bearer string, body any, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, raw, err)
		}
	}
	return resp
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	KID          string `json:"kid"`
	Error        string `json:"error"`
}

func login(t *testing.T, base, email, password string) (tokens, int) {
	t.Helper()
	var tok tokens
	resp := call(t, "POST", base+"/api/v1/auth/token", "", map[string]string{"email": email, "password": password}, &tok)
	return tok, resp.StatusCode
}

const userPassword = "correct horse battery staple"

func (e *env) createUser(email string) {
	e.t.Helper()
	e.mustRun(userPassword+"\n", "users", "create", "--email", email, "--password-stdin")
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// postJSON is call without the test's failure on transport errors, for
// clients that expect the server to die under them.
func postJSON(c *http.Client, url string, body, out any) (int, error) {
	return postJSONWith(c, url, body, out)
}

// postJSONWith is postJSON with extra headers (name, value pairs).
func postJSONWith(c *http.Client, url string, body, out any, headers ...string) (int, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode, nil
}
