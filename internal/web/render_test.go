package web

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template/parse"
	"time"

	"github.com/idp-dev/idp/internal/core"
	"github.com/idp-dev/idp/web"
)

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func newTestRenderer(t *testing.T, o RenderOptions) *Renderer {
	t.Helper()
	o.Strict = true
	o.Now = func() time.Time { return testNow }
	r, err := NewRenderer(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, r *Renderer, req *http.Request, status int, page string, v View) *httptest.ResponseRecorder {
	t.Helper()
	if req == nil {
		req = httptest.NewRequest("GET", "/x", nil)
	}
	w := httptest.NewRecorder()
	if err := r.Render(w, req, status, page, v); err != nil {
		t.Fatalf("render %s: %v", page, err)
	}
	return w
}

// TestPreviewServer serves the page preview on IDP_WEB_PREVIEW_ADDR until
// the test is killed, for a person (or the browser suite) to look at:
//
//	IDP_WEB_PREVIEW_ADDR=127.0.0.1:8090 go test -run TestPreviewServer ./internal/web/
//
// Without the variable it only checks that the preview answers.
func TestPreviewServer(t *testing.T) {
	r, err := NewRenderer(RenderOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if addr := os.Getenv("IDP_WEB_PREVIEW_ADDR"); addr != "" {
		t.Logf("preview on http://%s/preview/", addr)
		t.Fatal(http.ListenAndServe(addr, r.Preview()))
	}
	srv := httptest.NewServer(r.Preview())
	defer srv.Close()
	for _, p := range []string{"/preview/", "/preview/login", "/preview/account?ui_locales=de"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}

// Every sample of every page renders in every language without a missing
// message, with the page's headers.
func TestSamplesRenderInEveryLanguage(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	for _, lang := range []string{"en", "de"} {
		for _, s := range Samples(testNow) {
			t.Run(lang+"/"+s.Name, func(t *testing.T) {
				req := httptest.NewRequest("GET", "/x?ui_locales="+lang, nil)
				w := render(t, r, req, s.Status, s.Page, s.View)
				if w.Code != s.Status {
					t.Errorf("status %d, want %d", w.Code, s.Status)
				}
				body := w.Body.String()
				if !strings.HasPrefix(body, "<!doctype html>") || !strings.Contains(body, `<html lang="`+lang+`">`) {
					t.Errorf("not a %s page: %.200s", lang, body)
				}
				if n := strings.Count(body, "<h1"); n != 1 {
					t.Errorf("%d h1 elements, want 1", n)
				}
			})
		}
	}
}

// Every page is held in one set per language (render.go, parse): each
// page must get its own title, content and layout defaults, never those of
// a page parsed before or after it. Each page here is replaced by one that
// names itself, every other one also setting the layout's "width".
func TestPagesKeepTheirOwnDefinitions(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, page := range pageNames {
		text := `{{define "title"}}mark.T-` + page + `.{{end}}{{define "content"}}<p>mark.C-` + page + `.</p>{{end}}`
		if i%2 == 0 {
			text += `{{define "width"}} mark.W-` + page + `.{{end}}`
		}
		if err := os.WriteFile(filepath.Join(dir, "templates", page+".html"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := newTestRenderer(t, RenderOptions{TemplatesDir: dir})
	markers := regexp.MustCompile(`mark\.([TCW]-[a-z_]+)\.`)
	for i, page := range pageNames {
		for _, lang := range []string{"en", "de"} {
			req := httptest.NewRequest("GET", "/x?ui_locales="+lang, nil)
			body := render(t, r, req, 200, page, View{}).Body.String()
			// <title> and <h1> show the title, the page's class its width.
			want := []string{"T-" + page, "T-" + page, "C-" + page}
			if i%2 == 0 {
				want = []string{"T-" + page, "W-" + page, "T-" + page, "C-" + page}
			}
			var got []string
			for _, m := range markers.FindAllStringSubmatch(body, -1) {
				got = append(got, m[1])
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s (%s): the page shows %v, want %v", page, lang, got, want)
			}
		}
	}
}

func TestRenderHeaders(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	w := render(t, r, nil, 200, PageLogin, View{})
	h := w.Header()
	want := map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"Content-Language":       "en",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := h.Get("Content-Security-Policy")
	m := regexp.MustCompile(`^default-src 'none'; script-src 'nonce-([A-Za-z0-9_-]{24})'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'$`).FindStringSubmatch(csp)
	if m == nil {
		t.Fatalf("CSP %q", csp)
	}
	if strings.Contains(csp, "form-action") {
		t.Errorf("CSP has form-action, which blocks redirects back to apps: %q", csp)
	}
	body := w.Body.String()
	if !strings.Contains(body, `nonce="`+m[1]+`"`) {
		t.Errorf("the script tag doesn't carry the CSP's nonce %s", m[1])
	}
	if strings.Count(body, "<script") != 1 || strings.Contains(body, "<script>") || strings.Contains(body, "onclick=") || strings.Contains(body, "style=") {
		t.Errorf("inline script or style on the page")
	}
	again := render(t, r, nil, 200, PageLogin, View{})
	if again.Header().Get("Content-Security-Policy") == csp {
		t.Error("two responses share a nonce")
	}
}

// A template that fails while executing gives a plain 500 page, not half
// of the page it was writing.
func TestRenderFailureIsA500(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "templates"), 0o755)
	os.WriteFile(filepath.Join(dir, "templates", "message.html"),
		[]byte(`{{define "title"}}x{{end}}{{define "content"}}<p>half of the page</p>{{t "no.such.message"}}{{end}}`), 0o644)
	r := newTestRenderer(t, RenderOptions{TemplatesDir: dir})
	w := httptest.NewRecorder()
	err := r.Render(w, httptest.NewRequest("GET", "/", nil), 200, PageMessage, View{})
	if err == nil || !strings.Contains(err.Error(), "no.such.message") {
		t.Fatalf("err = %v", err)
	}
	if w.Code != 500 || strings.Contains(w.Body.String(), "half of the page") || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("status %d, body %q", w.Code, w.Body.String())
	}
	if err := r.Render(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), 200, "nope", View{}); err == nil {
		t.Error("an unknown page rendered")
	}
}

// Outside strict mode a missing message shows its ID and is logged once.
func TestMissingMessageLenient(t *testing.T) {
	var logs bytes.Buffer
	r, err := NewRenderer(RenderOptions{Logger: slogTo(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		w := httptest.NewRecorder()
		if err := r.Render(w, httptest.NewRequest("GET", "/", nil), 400, PageLogin, View{Alert: &Message{ID: "handler.typo"}}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(w.Body.String(), "handler.typo") {
			t.Error("the ID is not shown")
		}
	}
	if n := strings.Count(logs.String(), "handler.typo"); n != 1 {
		t.Errorf("logged %d times: %s", n, logs.String())
	}
}

func TestNegotiateLanguage(t *testing.T) {
	cats := map[string]*catalog{"en": {lang: "en"}, "de": {lang: "de"}, "pt-br": {lang: "pt-BR"}}
	for _, tc := range []struct {
		query, form, accept, want string
	}{
		{"", "", "", "en"},
		{"", "", "de", "de"},
		{"", "", "de-CH,de;q=0.9,en;q=0.8", "de"},
		{"", "", "fr-FR,fr;q=0.9,en;q=0.8,de;q=0.7", "en"},
		{"", "", "fr;q=0.9,de;q=0.95", "de"},
		{"", "", "en;q=0,de;q=0.1", "de"},
		{"", "", "fr, *;q=0.5", "en"},
		{"", "", "pt-BR", "pt-BR"},
		{"", "", "PT-br", "pt-BR"},
		{"", "", "de;q=bogus", "de"},
		{"", "", ";;,,;q=1", "en"},
		{"de", "", "en", "de"},
		{"fr de", "", "en", "de"},
		{"fr it", "", "de", "de"},
		{"", "de", "en", "de"},
		{"en", "de", "de", "en"},
	} {
		target := "/login"
		if tc.query != "" {
			target += "?ui_locales=" + strings.ReplaceAll(tc.query, " ", "+")
		}
		req := httptest.NewRequest("POST", target, strings.NewReader("ui_locales="+tc.form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.form != "" {
			req.ParseForm()
		}
		if tc.accept != "" {
			req.Header.Set("Accept-Language", tc.accept)
		}
		if got := negotiate(req, cats); got != tc.want {
			t.Errorf("ui_locales=%q form=%q Accept-Language=%q: %q, want %q", tc.query, tc.form, tc.accept, got, tc.want)
		}
	}
}

// Render never parses a request body itself: a handler that hasn't read
// the form keeps it.
func TestNegotiateLeavesBodyAlone(t *testing.T) {
	req := httptest.NewRequest("POST", "/login", strings.NewReader("ui_locales=de&email=a"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if got := negotiate(req, map[string]*catalog{"en": {lang: "en"}, "de": {lang: "de"}}); got != "en" {
		t.Errorf("lang %q", got)
	}
	if req.PostForm != nil {
		t.Error("negotiate parsed the form")
	}
	req.ParseForm()
	if req.PostForm.Get("email") != "a" {
		t.Error("the body was consumed")
	}
}

// The catalogues: both have the same IDs, none is empty, their fmt verbs
// agree, and every ID a template names literally exists.
func TestCatalogsComplete(t *testing.T) {
	raw := map[string]map[string]string{}
	files, _ := fs.Glob(web.FS(), "i18n/*.json")
	for _, f := range files {
		b, _ := fs.ReadFile(web.FS(), f)
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		raw[strings.TrimSuffix(filepath.Base(f), ".json")] = m
	}
	if len(raw) < 2 {
		t.Fatalf("catalogues: %v", files)
	}
	en := raw["en"]
	verbs := regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\[\d+\])?[a-zA-Z%]`)
	for lang, m := range raw {
		for id := range en {
			if _, ok := m[id]; !ok {
				t.Errorf("%s.json lacks %q", lang, id)
			}
		}
		for id, s := range m {
			if _, ok := en[id]; !ok {
				t.Errorf("%s.json has %q, which en.json lacks", lang, id)
			}
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s.json: %q is empty", lang, id)
			}
			a, b := verbs.FindAllString(s, -1), verbs.FindAllString(en[id], -1)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Errorf("%s.json %q has verbs %v, en.json %v", lang, id, a, b)
			}
		}
	}
	r := newTestRenderer(t, RenderOptions{})
	used := templateMessageIDs(t, r)
	if len(used) < 50 {
		t.Fatalf("found only %d message IDs in the templates; is the walk broken?", len(used))
	}
	for _, id := range used {
		for lang, m := range raw {
			if _, ok := m[id]; !ok {
				if _, one := m[id+".one"]; !one {
					t.Errorf("a template uses %q, which %s.json lacks", id, lang)
				}
			}
		}
	}
}

// templateMessageIDs walks every parsed template for the literal first
// arguments of t, tn and field's label.
func templateMessageIDs(t *testing.T, r *Renderer) []string {
	t.Helper()
	seen := map[string]bool{}
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			if len(n.Args) >= 2 {
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok {
					switch id.Ident {
					case "t", "tn":
						if s, ok := n.Args[1].(*parse.StringNode); ok {
							seen[s.Text] = true
						}
					case "field":
						if len(n.Args) >= 6 {
							if s, ok := n.Args[5].(*parse.StringNode); ok {
								seen[s.Text] = true
							}
						}
					}
				}
			}
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.TemplateNode:
			walk(n.Pipe)
		}
	}
	for _, set := range r.pages {
		for _, tt := range set.Templates() {
			if tt.Tree != nil {
				walk(tt.Tree.Root)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// The accessible names CONTRACT 6 fixes (the browser tests select by them).
func TestContractLabels(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	samples := map[string]Sample{}
	for _, s := range Samples(testNow) {
		samples[s.Name] = s
	}
	for name, want := range map[string][]string{
		"login":               {`<label for="email">Email</label>`, `<label for="password">Password</label>`, `<label for="remember">Keep me signed in</label>`, `>Sign in</button>`, `>Forgot password?</a>`},
		"password_change":     {`<label for="current_password">Current password</label>`, `<label for="new_password">New password</label>`, `<label for="confirm_password">Confirm new password</label>`, `>Change password</button>`},
		"password_forgot":     {`<label for="email">Email</label>`, `>Send reset link</button>`},
		"password_reset":      {`<label for="new_password">New password</label>`, `<label for="confirm_password">Confirm new password</label>`, `>Set password</button>`},
		"account":             {`>Sign out</button>`, `>Sign out everywhere</button>`, `>Revoke</button>`},
		"consent":             {`>Allow</button>`, `>Deny</button>`},
		"logout":              {`>Sign out</button>`},
		"password_reset-done": {`>Sign in</a>`},
	} {
		s := samples[name]
		body := render(t, r, nil, 200, s.Page, s.View).Body.String()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: no %s", name, w)
			}
		}
	}
}

// Forms post to the documented paths with the documented field names,
// and every form carries the CSRF token.
func TestFormsAndFields(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	forms := regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	names := regexp.MustCompile(`name="([^"]+)"`)
	want := map[string][]string{
		"/login":                      {"csrf", "flow", "email", "password", "remember"},
		"/password/change":            {"csrf", "flow", "current_password", "new_password", "confirm_password"},
		"/password/forgot":            {"csrf", "flow", "email"},
		"/password/reset":             {"csrf", "token", "new_password", "confirm_password"},
		"/account/sessions/revoke":    {"csrf", "session"},
		"/account/signout-everywhere": {"csrf"},
		"/account/apps/revoke":        {"csrf", "client"},
		"/logout":                     {"csrf"},
		"/oauth2/consent":             {"csrf", "request", "decision"},
		"/oauth2/logout":              {"csrf", "request"},
		// The admin pages (the sample user's id is 2).
		"/admin/users":                       {"csrf", "email", "display_name", "role:admin", "role:member"},
		"/admin/users/2/update":              {"csrf", "display_name", "role:member"},
		"/admin/users/2/unlock":              {"csrf"},
		"/admin/users/2/disable":             {"csrf"},
		"/admin/users/2/sessions/revoke":     {"csrf", "session"},
		"/admin/users/2/sessions/revoke-all": {"csrf"},
		"/admin/roles":                       {"csrf", "name", "description"},
		"/admin/roles/delete":                {"csrf", "role"},
		// Filters: GET, no token.
		"GET /admin/users": {"q", "status"},
		"GET /admin/audit": {"event", "since", "until", "reads"},
	}
	seen := map[string]bool{}
	for _, s := range Samples(testNow) {
		v := s.View
		v.CSRF = "the-csrf-token"
		body := render(t, r, nil, s.Status, s.Page, v).Body.String()
		for _, f := range forms.FindAllStringSubmatch(body, -1) {
			action := f[1]
			get := strings.Contains(f[0], `method="get"`)
			if get {
				action = "GET " + action
			}
			fields, ok := want[action]
			if !ok {
				t.Errorf("%s: a form posts to %s", s.Name, action)
				continue
			}
			seen[action] = true
			if !get && !strings.Contains(f[0], `method="post"`) {
				t.Errorf("%s: form %s is not a POST", s.Name, action)
			}
			if !get && !strings.Contains(f[2], `name="csrf" value="the-csrf-token"`) {
				t.Errorf("%s: form %s lacks the CSRF token", s.Name, action)
			}
			got := map[string]bool{}
			for _, n := range names.FindAllStringSubmatch(f[2], -1) {
				got[n[1]] = true
			}
			for _, n := range fields {
				if !got[n] {
					t.Errorf("%s: form %s lacks field %s", s.Name, action, n)
				}
			}
		}
	}
	for action := range want {
		if !seen[action] {
			t.Errorf("no sample has the form %s", action)
		}
	}
}

// The reset token goes into the hidden field only: no link, script or URL
// the page makes carries it, and passwords are never re-filled.
func TestNoSecretsInPage(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	const token = "tok_SECRET_9f8e7d"
	v := View{Form: map[string]string{"new_password": "pw-SECRET", "password": "pw-SECRET", "email": "a@example.com"}, Fields: map[string]Message{"new_password": {ID: "field.password.common"}}, Data: ResetPage{Token: token, MinLength: 12}}
	body := render(t, r, nil, 400, PageReset, v).Body.String()
	if strings.Count(body, token) != 1 || !strings.Contains(body, `<input type="hidden" name="token" value="`+token+`">`) {
		t.Errorf("token not exactly once in its hidden field:\n%s", body)
	}
	if strings.Contains(body, "pw-SECRET") {
		t.Error("a password was re-filled")
	}
	login := render(t, r, nil, 400, PageLogin, View{Form: map[string]string{"email": "a@example.com", "password": "pw-SECRET"}, Alert: &Message{ID: "login.error.invalid"}})
	if b := login.Body.String(); strings.Contains(b, "pw-SECRET") || !strings.Contains(b, `value="a@example.com"`) {
		t.Error("login re-fill wrong")
	}
}

// Field errors: aria-invalid, aria-describedby naming the error and the
// hint, the summary linking to the input and taking the focus.
func TestFieldErrorsAccessible(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	v := View{Fields: map[string]Message{"new_password": {ID: "field.password.min_length", Args: []any{12}}}, Data: ResetPage{Token: "x", MinLength: 12}}
	body := render(t, r, nil, 400, PageReset, v).Body.String()
	for _, want := range []string{
		`id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="12" maxlength="1024" aria-describedby="new_password-hint new_password-error" aria-invalid="true"`,
		`<p class="field-error" id="new_password-error"><span class="visually-hidden">Error: </span>Use at least 12 characters.</p>`,
		`<div id="alert" class="alert alert-error" role="alert" tabindex="-1" autofocus>`,
		`<li><a href="#new_password">New password: Use at least 12 characters.</a></li>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	if strings.Count(body, "autofocus") != 1 {
		t.Error("more than one autofocus")
	}
	// The summary lists the errors in the order of the inputs.
	v.Fields = map[string]Message{"confirm_password": {ID: "field.password.mismatch"}, "new_password": {ID: "field.required"}, "current_password": {ID: "field.current_password.wrong"}}
	v.Data = PasswordChangePage{MinLength: 12, Forced: true}
	body = render(t, r, nil, 400, PagePasswordChange, v).Body.String()
	if !regexp.MustCompile(`(?s)Current password: .*New password: .*Confirm new password: `).MatchString(body) {
		t.Errorf("summary order:\n%s", body)
	}
	// A handler's notice beside field errors: the errors take the focus.
	v.Alert = &Message{ID: "password_change.forced", Kind: "info"}
	body = render(t, r, nil, 400, PagePasswordChange, v).Body.String()
	if !strings.Contains(body, `role="alert" tabindex="-1" autofocus`) || !strings.Contains(body, `<div id="notice" class="alert alert-info" role="status">`) {
		t.Errorf("notice and errors:\n%s", body)
	}
	// Without an error the first empty input takes the focus; a notice
	// doesn't take it away.
	body = render(t, r, nil, 200, PageLogin, View{Form: map[string]string{"email": "a@example.com"}, Alert: &Message{ID: "login.signed_out", Kind: "success"}}).Body.String()
	if !regexp.MustCompile(`id="password"[^>]* autofocus`).MatchString(body) || strings.Count(body, "autofocus") != 1 {
		t.Errorf("focus not on the password:\n%s", body)
	}
	if !strings.Contains(body, `role="status"`) || strings.Contains(body, "There is a problem") {
		t.Error("a notice is shown as an error")
	}
}

func TestAutocomplete(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	for page, want := range map[string][]string{
		PageLogin:          {`name="email" type="email" autocomplete="username"`, `name="password" type="password" autocomplete="current-password"`},
		PagePasswordChange: {`name="current_password" type="password" autocomplete="current-password"`, `name="new_password" type="password" autocomplete="new-password"`, `name="confirm_password" type="password" autocomplete="new-password"`},
		PageReset:          {`name="new_password" type="password" autocomplete="new-password"`},
		PageForgot:         {`name="email" type="email" autocomplete="username"`},
	} {
		body := render(t, r, nil, 200, page, View{}).Body.String()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: no %s", page, w)
			}
		}
	}
}

func TestGermanPage(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	req := httptest.NewRequest("GET", "/login", nil)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9,en;q=0.5")
	body := render(t, r, req, 200, PageLogin, View{Tenant: &TenantView{Name: "Acme"}}).Body.String()
	for _, w := range []string{`<html lang="de">`, `>Anmelden</button>`, `>Passwort vergessen?</a>`, "bei Acme", `name="ui_locales" value="de"`} {
		if !strings.Contains(body, w) {
			t.Errorf("no %q", w)
		}
	}
	s := Samples(testNow)
	var account Sample
	for _, x := range s {
		if x.Name == "account" {
			account = x
		}
	}
	body = render(t, r, req, 200, PageAccount, account.View).Body.String()
	for _, w := range []string{"Firefox unter Linux", "vor 5 Minuten", "gerade eben", "vor 1 Tag", "Dieses Gerät", ">Widerrufen</button>", "Unbekanntes Gerät"} {
		if !strings.Contains(body, w) {
			t.Errorf("account page lacks %q", w)
		}
	}
}

func TestRelativeTimes(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	en := r.cats["en"]
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{-5 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{5*time.Minute + 30*time.Second, "5 minutes ago"},
		{time.Hour, "1 hour ago"},
		{23 * time.Hour, "23 hours ago"},
		{25 * time.Hour, "1 day ago"},
		{29 * 24 * time.Hour, "29 days ago"},
		{40 * 24 * time.Hour, "October 22, 2026"},
	} {
		if got := en.ago(testNow, testNow.Add(-tc.ago)); got != tc.want {
			t.Errorf("%v ago: %q, want %q", tc.ago, got, tc.want)
		}
	}
	if got := r.cats["de"].datetime(time.Date(2026, 3, 4, 9, 5, 0, 0, time.FixedZone("x", 3600))); got != "4. März 2026, 08:05 UTC" {
		t.Errorf("de datetime %q", got)
	}
	if got := en.datetime(time.Date(2026, 3, 4, 9, 5, 0, 0, time.UTC)); got != "March 4, 2026, 09:05 UTC" {
		t.Errorf("en datetime %q", got)
	}
}

func TestTheme(t *testing.T) {
	for _, tc := range []struct {
		in      string
		onWhite bool
	}{
		{"", true}, {DefaultAccentColor, true}, {"#000", true}, {"#ffffff", false}, {"#facc15", false},
		{"#22c55e", false}, {"#7c3aed", true}, {"#E11D48", true}, {"#0ea5e9", false}, {" #123456 ", true},
	} {
		th, err := newTheme(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		acc, _ := parseHex(th.Accent)
		on, _ := parseHex(th.OnAccent)
		link, _ := parseHex(th.Link)
		dark, _ := parseHex(th.LinkDark)
		if c := contrast(acc, on); c < minTextContrast {
			t.Errorf("%q: button text %.2f:1", tc.in, c)
		}
		if (th.OnAccent == "#ffffff") != tc.onWhite {
			t.Errorf("%q: button text %s", tc.in, th.OnAccent)
		}
		for _, s := range []rgb{lightSurface, white} {
			if c := contrast(link, s); c < minTextContrast {
				t.Errorf("%q: link %s on %s %.2f:1", tc.in, th.Link, s.hex(), c)
			}
		}
		for _, s := range []rgb{darkSurface, {0x18, 0x20, 0x2c}, {0x0e, 0x13, 0x1b}} {
			if c := contrast(dark, s); c < minTextContrast {
				t.Errorf("%q: dark link %s on %s %.2f:1", tc.in, th.LinkDark, s.hex(), c)
			}
		}
	}
	if c := contrast(white, mustHex(t, DefaultAccentColor)); c < 6 {
		t.Errorf("default accent: white text %.2f:1", c)
	}
	for _, bad := range []string{"blue", "#12", "#1234567", "#ggg", "rgb(1,2,3)", "#12345"} {
		if _, err := NewRenderer(RenderOptions{AccentColor: bad}); err == nil || !strings.Contains(err.Error(), "ui.accent_color") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func mustHex(t *testing.T, s string) rgb {
	c, err := parseHex(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStatic(t *testing.T) {
	logo := filepath.Join(t.TempDir(), "logo.svg")
	os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>`), 0o644)
	r := newTestRenderer(t, RenderOptions{AccentColor: "#7c3aed", LogoFile: logo, ProductName: "Acme Login"})
	body := render(t, r, nil, 200, PageLogin, View{}).Body.String()
	if !strings.Contains(body, `<img class="brand-logo" src="/static/logo?v=`) || !strings.Contains(body, `alt="Acme Login"`) {
		t.Errorf("no logo: %s", body)
	}
	srv := httptest.NewServer(r.Static())
	defer srv.Close()
	for _, name := range []string{"idp.css", "idp.js", "theme.css", "logo", "favicon.svg"} {
		url, err := r.staticURL(name)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(srv.URL + url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %v", url, resp.StatusCode, resp.Header)
		}
		etag := resp.Header.Get("ETag")
		req, _ := http.NewRequest("GET", srv.URL+"/static/"+name, nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 304 || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s revalidation: %d %q", name, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	ctypes := map[string]string{"idp.css": "text/css; charset=utf-8", "theme.css": "text/css; charset=utf-8", "idp.js": "text/javascript; charset=utf-8", "logo": "image/svg+xml"}
	for name, want := range ctypes {
		resp, _ := http.Get(srv.URL + "/static/" + name)
		b := new(bytes.Buffer)
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("%s: Content-Type %q, want %q", name, got, want)
		}
		if name == "theme.css" && !strings.Contains(b.String(), "--accent: #7c3aed;") {
			t.Errorf("theme.css: %s", b)
		}
	}
	for _, p := range []string{"/static/nope.css", "/static/", "/static/../web.go", "/other"} {
		resp, _ := http.Get(srv.URL + p)
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	resp, _ := http.Post(srv.URL+"/static/idp.css", "text/plain", nil)
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

// ui.templates_dir replaces templates, static files and messages file by
// file (messages ID by ID) and refuses what would be silently ignored.
func TestTemplatesDir(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "templates"), 0o755)
	os.MkdirAll(filepath.Join(dir, "static"), 0o755)
	os.MkdirAll(filepath.Join(dir, "i18n"), 0o755)
	os.WriteFile(filepath.Join(dir, "templates", "_extra.html"), []byte(`{{define "extra"}}<p class="custom">{{t "custom.hello"}}</p>{{end}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "templates", "logout.html"), []byte(`{{define "title"}}{{t "logout.title"}}{{end}}{{define "content"}}{{template "extra" .}}{{end}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "static", "idp.css"), []byte(`body{color:red}`), 0o644)
	os.WriteFile(filepath.Join(dir, "static", "extra.png"), []byte("\x89PNG\r\n\x1a\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "i18n", "en.json"), []byte(`{"custom.hello": "Hello from the operator", "login.submit": "Log in"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "i18n", "fr.json"), []byte(`{"login.submit": "Se connecter"}`), 0o644)
	r := newTestRenderer(t, RenderOptions{TemplatesDir: dir})
	if b := render(t, r, nil, 200, PageLogout, View{}).Body.String(); !strings.Contains(b, "Hello from the operator") {
		t.Errorf("overridden logout: %s", b)
	}
	// The English wording of the login page but one message stays.
	b := render(t, r, nil, 200, PageLogin, View{}).Body.String()
	if !strings.Contains(b, ">Log in</button>") || !strings.Contains(b, ">Forgot password?</a>") {
		t.Errorf("message overlay: %s", b)
	}
	req := httptest.NewRequest("GET", "/login?ui_locales=fr", nil)
	b = render(t, r, req, 200, PageLogin, View{}).Body.String()
	if !strings.Contains(b, `lang="fr"`) || !strings.Contains(b, ">Se connecter</button>") || !strings.Contains(b, ">Forgot password?</a>") {
		t.Errorf("a partial French catalogue: %s", b)
	}
	srv := httptest.NewServer(r.Static())
	defer srv.Close()
	for p, want := range map[string]string{"/static/idp.css": "body{color:red}", "/static/extra.png": "\x89PNG\r\n\x1a\n"} {
		resp, _ := http.Get(srv.URL + p)
		got := new(bytes.Buffer)
		got.ReadFrom(resp.Body)
		resp.Body.Close()
		if got.String() != want {
			t.Errorf("%s: %q", p, got)
		}
	}

	for _, tc := range []struct {
		name, file, content, wantErr string
	}{
		{"typo", "templates/lgoin.html", "x", "replaces no embedded template"},
		{"bad template", "templates/login.html", "{{define", "template login.html"},
		{"no content", "templates/login.html", `{{define "title"}}x{{end}}`, `defines no "content"`},
		{"bad layout", "templates/layout.html", "{{if}}", "layout.html"},
		{"shared calls a page's template", "templates/_mine.html", `{{define "mine"}}{{template "content" .}}{{end}}`, `calls "content"`},
		{"shared redefines the layout's", "templates/_mine.html", `{{define "page-title"}}x{{end}}`, `"page-title" is defined by layout.html too`},
		{"page takes a shared name", "templates/login.html", `{{define "content"}}x{{end}}{{define "field"}}y{{end}}`, `"field" is a shared template's name`},
		{"bad json", "i18n/de.json", "{", "i18n/de.json"},
		{"bad lang name", "i18n/not a tag.json", "{}", "language tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			p := filepath.Join(d, tc.file)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(tc.content), 0o644)
			_, err := NewRenderer(RenderOptions{TemplatesDir: d})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
	for _, d := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		if _, err := NewRenderer(RenderOptions{TemplatesDir: d}); err == nil || !strings.Contains(err.Error(), "ui.templates_dir") {
			t.Errorf("%s: %v", d, err)
		}
	}
	for _, logo := range []string{"/nonexistent/logo.png", filepath.Join(dir, "static", "idp.css")} {
		if _, err := NewRenderer(RenderOptions{LogoFile: logo}); err == nil || !strings.Contains(err.Error(), "ui.logo_file") {
			t.Errorf("logo %s: %v", logo, err)
		}
	}
	big := filepath.Join(t.TempDir(), "big.png")
	os.WriteFile(big, make([]byte, maxLogoBytes+1), 0o644)
	if _, err := NewRenderer(RenderOptions{LogoFile: big}); err == nil || !strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("big logo: %v", err)
	}
}

// Escaping: what a user or an operator typed never becomes markup.
func TestEscaping(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{ProductName: `<b>"Acme"</b>`})
	v := View{
		Tenant: &TenantView{Name: `<img src=x onerror=alert(1)>`},
		Form:   map[string]string{"email": `"><script>alert(1)</script>`},
		Alert:  &Message{ID: "consent.intro", Args: []any{"<i>x</i>"}},
	}
	body := render(t, r, nil, 400, PageLogin, v).Body.String()
	for _, bad := range []string{"<img src=x", "<script>alert", "<i>x</i>", "<b>\"Acme"} {
		if strings.Contains(body, bad) {
			t.Errorf("unescaped %q", bad)
		}
	}
}

func TestStrictRejectsUnknownHandlerMessage(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	for _, v := range []View{
		{Alert: &Message{ID: "nope"}},
		{Fields: map[string]Message{"email": {ID: "nope"}}},
		{TitleID: "nope"},
	} {
		err := r.Render(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), 400, PageLogin, v)
		if err == nil || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("%+v: %v", v, err)
		}
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// The toggle's visible word must be part of its accessible name in every
// language (WCAG 2.5.3, axe label-content-name-mismatch).
func TestRevealLabelsContainTheirText(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	for lang, c := range r.cats {
		for _, pair := range [][2]string{{"password.show", "password.show_label"}, {"password.hide", "password.hide_label"}} {
			text, label := c.msgs[pair[0]], c.msgs[pair[1]]
			if !regexp.MustCompile(`(?i)(^|\s)` + regexp.QuoteMeta(text) + `(\s|$)`).MatchString(label) {
				t.Errorf("%s: %q is not a word of %q", lang, text, label)
			}
		}
	}
}

// Every message ID the handlers put into Views (the string constants of
// messages.go) is in every catalogue.
func TestHandlerMessagesExist(t *testing.T) {
	r := newTestRenderer(t, RenderOptions{})
	n := 0
	files, _ := filepath.Glob("messages*.go")
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(node ast.Node) bool {
			lit, ok := node.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			id, _ := strconv.Unquote(lit.Value)
			n++
			for lang, c := range r.cats {
				if _, ok := c.msgs[id]; !ok {
					t.Errorf("%s names %q, which %s.json lacks", name, id, lang)
				}
			}
			return true
		})
	}
	if n < 40 {
		t.Fatalf("only %d IDs in messages.go", n)
	}
}

// When the error page itself fails to render, the answer is the renderer's
// one plain 500 page, with nothing written after it.
func TestErrorPageFailureWritesOnePage(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "templates"), 0o755)
	os.WriteFile(filepath.Join(dir, "templates", "error.html"), []byte(`{{define "title"}}x{{end}}{{define "content"}}{{t "no.such.message"}}{{end}}`), 0o644)
	r := newTestRenderer(t, RenderOptions{TemplatesDir: dir})
	f, err := New(Options{Renderer: r, Meta: func(*http.Request) core.Meta { return core.Meta{RequestID: "req-1"} }})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	f.renderError(w, httptest.NewRequest("GET", "/account", nil), errBadForm)
	if w.Code != 500 || w.Body.String() != failurePage {
		t.Errorf("status %d, body %q", w.Code, w.Body.String())
	}
}
