package e2e

import (
	"bufio"
	"encoding/json"
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
// there with that password and is sent to choose its own, then runs the
// README's admin tour (invite a member who signs in). Ctrl-C stops
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
	m := regexp.MustCompile(`Password +([A-Za-z0-9_-]{24}) `).FindStringSubmatch(printed.String())
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
	devAdminTour(t, jar, "http://"+addr, filepath.Join(dir, "mail.jsonl"), m[1], res.location)

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

// devAdminTour is the README's admin tour on the pages of make dev, form
// by form as a browser without JavaScript sends them: the seeded admin
// chooses its own password, invites alice@example.com as a `member` (the
// role make dev made), Alice sets her password from the invite in the mail
// outbox and signs in, and the admin's page of her shows her active with a
// browser session and her sign-in in the audit log.
func devAdminTour(t *testing.T, admin map[string]string, base, mailFile, oneTime, changePath string) {
	t.Helper()
	const adminPassword, memberPassword = "a long passphrase of my own", "violet harbour lanterns at dusk"
	res := devSubmit(t, admin, base, changePath, "/password/change", url.Values{
		"current_password": {oneTime}, "new_password": {adminPassword}, "confirm_password": {adminPassword}})
	if res.status != http.StatusSeeOther {
		t.Fatalf("choosing the admin's password: %d to %q\n%s", res.status, res.location, res.body)
	}
	res = devSubmit(t, admin, base, "/admin/users/new", "/admin/users", url.Values{
		"email": {"alice@example.com"}, "role:member": {"on"}})
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location, "/admin/users/") {
		t.Fatalf("inviting alice as a member: %d to %q\n%s", res.status, res.location, res.body)
	}
	userPage := strings.SplitN(res.location, "?", 2)[0]

	invite := devInvite(t, mailFile, "alice@example.com")
	alice := map[string]string{}
	u, err := url.Parse(invite)
	if err != nil {
		t.Fatalf("invite link %q: %v", invite, err)
	}
	res = devSubmit(t, alice, base, u.RequestURI(), "/password/reset", url.Values{
		"new_password": {memberPassword}, "confirm_password": {memberPassword}})
	if res.status != http.StatusOK || strings.Contains(res.body, "field-invalid") || strings.Contains(res.body, `role="alert"`) {
		t.Fatalf("alice sets her password from the invite: %d to %q\n%s", res.status, res.location, res.body)
	}
	res = devSubmit(t, alice, base, "/login", "/login", url.Values{
		"email": {"alice@example.com"}, "password": {memberPassword}})
	if res.status != http.StatusSeeOther || res.location != "/account" {
		t.Fatalf("alice signs in: %d to %q\n%s", res.status, res.location, res.body)
	}
	if page := devRequest(t, alice, "GET", base+"/admin/users", nil); page.status != http.StatusForbidden {
		t.Errorf("a member opens the admin pages: %d, want 403", page.status)
	}

	page := devRequest(t, admin, "GET", base+userPage, nil)
	if page.status != http.StatusOK {
		t.Fatalf("the admin opens alice's page: %d\n%s", page.status, page.body)
	}
	for _, want := range []string{"alice@example.com", `id="role-member" name="role:member" checked`, "Disable user",
		`action="` + userPage + `/sessions/revoke"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("alice's admin page lacks %q", want)
		}
	}
	if !regexp.MustCompile(`>\s*active\s*<`).MatchString(page.body) {
		t.Errorf("alice's admin page doesn't show her active:\n%s", page.body)
	}
	audit := devRequest(t, admin, "GET", base+"/admin/audit", nil)
	for _, want := range []string{"alice@example.com", "User created", "Password set from a link", "Signed in"} {
		if !strings.Contains(audit.body, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit.body)
		}
	}
}

// devSubmit opens pagePath and submits its form posting to action with
// fields, carrying the form's hidden inputs (form token, flow) along.
func devSubmit(t *testing.T, jar map[string]string, base, pagePath, action string, fields url.Values) devPage {
	t.Helper()
	page := devRequest(t, jar, "GET", base+pagePath, nil)
	if page.status != http.StatusOK {
		t.Fatalf("GET %s: %d to %q\n%s", pagePath, page.status, page.location, page.body)
	}
	m := regexp.MustCompile(`(?s)<form[^>]*action="` + regexp.QuoteMeta(action) + `"[^>]*>(.*?)</form>`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("GET %s: no form posting to %s\n%s", pagePath, action, page.body)
	}
	form := url.Values{}
	for _, in := range regexp.MustCompile(`<input[^>]*type="hidden"[^>]*>`).FindAllString(m[1], -1) {
		n := regexp.MustCompile(`\bname="([^"]*)"`).FindStringSubmatch(in)
		v := regexp.MustCompile(`\bvalue="([^"]*)"`).FindStringSubmatch(in)
		if n != nil && v != nil {
			form.Set(html.UnescapeString(n[1]), html.UnescapeString(v[1]))
		}
	}
	for k, v := range fields {
		form[k] = v
	}
	return devRequest(t, jar, "POST", base+action, form)
}

// devInvite waits (at most 10 s) for the invite to email in the mail
// outbox file and returns its link.
func devInvite(t *testing.T, mailFile, email string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		raw, _ := os.ReadFile(mailFile)
		for _, line := range strings.Split(string(raw), "\n") {
			var m struct{ To, Kind, URL string }
			if json.Unmarshal([]byte(line), &m) == nil && m.To == email && m.Kind == "invite" {
				return m.URL
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no invite to %s in %s after 10 s:\n%s", email, mailFile, raw)
		}
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
