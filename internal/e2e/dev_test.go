package e2e

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idp-dev/idp/internal/testenv"
)

// TestMakeDev is a newcomer's first minutes: `make dev` (scripts/dev.sh)
// starts the services, migrates, seeds an admin whose one-time password
// it prints once, serves, and names the sign-in page; a browser signs in
// there with that password and is sent to choose its own. Ctrl-C stops
// everything, the services too.
func TestMakeDev(t *testing.T) {
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user keeps its data inside
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(filepath.Join(root, "scripts", "dev.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "IDP_DEV_VAR="+dir, "IDP_DEV_BIN="+binary, "IDP_HTTP_ADDR="+addr,
		"IDP_SECURITY_BCRYPT_COST=4")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				t.Error("make dev did not stop within 30 s of Ctrl-C")
			}
		})
	}

	// Read what it prints until it names the sign-in page.
	var printed strings.Builder
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	deadline := time.After(90 * time.Second)
	signIn := ""
	for signIn == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("make dev ended early:\n%s", printed.String())
			}
			printed.WriteString(line + "\n")
			if rest, found := strings.CutPrefix(line, "Sign in:"); found {
				signIn = strings.Fields(rest)[0]
			}
		case <-deadline:
			stop()
			t.Fatalf("make dev printed no sign-in URL within 90 s:\n%s", printed.String())
		}
	}
	go func() { // keep the pipe drained
		for range lines {
		}
	}()
	defer stop()
	if signIn != "http://"+addr+"/login" {
		t.Errorf("sign-in URL %q, want http://%s/login", signIn, addr)
	}
	m := regexp.MustCompile(`Password\W+([A-Za-z0-9_-]{24})\b`).FindStringSubmatch(printed.String())
	if m == nil {
		t.Fatalf("no one-time password printed:\n%s", printed.String())
	}

	// The browser's first stop.
	waitReady(t, "http://"+addr)
	jar := map[string]string{}
	page := devRequest(t, jar, "GET", signIn, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Sign in") {
		t.Fatalf("GET /login: %d\n%s", page.status, page.body)
	}
	form := url.Values{"email": {"admin@example.com"}, "password": {m[1]}}
	for _, in := range regexp.MustCompile(`<input[^>]*type="hidden"[^>]*>`).FindAllString(page.body, -1) {
		n := regexp.MustCompile(`\bname="([^"]*)"`).FindStringSubmatch(in)
		v := regexp.MustCompile(`\bvalue="([^"]*)"`).FindStringSubmatch(in)
		if n != nil && v != nil {
			form.Set(n[1], html.UnescapeString(v[1]))
		}
	}
	res := devRequest(t, jar, "POST", signIn, form)
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/password/change") {
		t.Fatalf("sign-in with the one-time password: %d to %q\n%s", res.status, res.location, res.body)
	}

	// Ctrl-C stops serve and the services.
	pgPort := regexp.MustCompile(`Postgres: postgres://[^@]*@127\.0\.0\.1:(\d+)/`).FindStringSubmatch(printed.String())
	stop()
	if pgPort != nil {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+pgPort[1], time.Second); err == nil {
			c.Close()
			t.Errorf("PostgreSQL of make dev still listens on %s after Ctrl-C", pgPort[1])
		}
	} else {
		t.Errorf("make dev doesn't print its PostgreSQL URL:\n%s", printed.String())
	}
}

type devPage struct {
	status   int
	location string
	body     string
}

// devRequest is one browser request: cookies kept by hand (Secure ones
// too, as browsers do for 127.0.0.1), redirects not followed.
func devRequest(t *testing.T, jar map[string]string, method, target string, form url.Values) devPage {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		u, _ := url.Parse(target)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", u.Scheme+"://"+u.Host)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range jar {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, ck := range resp.Cookies() {
		jar[ck.Name] = ck.Value
	}
	return devPage{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(raw)}
}

// waitReady polls base/readyz until it answers 200 (at most 30 s).
func waitReady(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not 200 after 30 s", base)
		}
	}
}
